// RUN: loom-opt %s -split-input-file --loom-cpu-pipeline | FileCheck %s
// From imported ONNX IR to the LLVM dialect in one pipeline.

// The matmul is a call to the GEMM microkernel (overwriting: its zero fill
// is gone); the softmax's exp is an inline polynomial (no libm call); buffers
// come from loomrt's caching allocator, declared noalias like malloc.
//   CHECK-DAG: llvm.func @_mlir_memref_to_llvm_aligned_alloc(i64, i64) -> (!llvm.ptr {llvm.noalias})
//   CHECK-DAG: llvm.func @loomrt_sgemm_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
// CHECK-LABEL: llvm.func @loom_main
//       CHECK:   %[[ZERO:.*]] = llvm.mlir.constant(0 : i64) : i64
//       CHECK:   llvm.call @_mlir_memref_to_llvm_aligned_alloc
//       CHECK:   llvm.call @loomrt_sgemm_f32({{.*}}, %[[ZERO]]) :
//   CHECK-NOT:   llvm.call @expf
//       CHECK:   llvm.call @_mlir_memref_to_llvm_free
// CHECK-LABEL: llvm.func @_mlir_ciface_loom_main
//   CHECK-NOT: onnx.node
//   CHECK-NOT: linalg.
func.func @main(%x: tensor<?x16xf32> {onnx.name = "x"}, %w: tensor<16x8xf32>) -> (tensor<?x8xf32> {onnx.name = "y"}) {
  %h = onnx.node "MatMul"(%x, %w) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %y = onnx.node "Softmax"(%h) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A row-wise layer norm is one call of the runtime's row kernel (kind 0,
// no bias: a null address) writing the result: the only allocation is the
// result's, no copy, no loop of its own.
// CHECK-LABEL: llvm.func @loom_main
//       CHECK:   %[[ZERO:.*]] = llvm.mlir.constant(0 : i64) : i64
//       CHECK:   llvm.call @_mlir_memref_to_llvm_aligned_alloc
//   CHECK-NOT:   llvm.call @_mlir_memref_to_llvm_aligned_alloc
//   CHECK-NOT:   "llvm.intr.memcpy"
//   CHECK-NOT:   omp.parallel
//       CHECK:   llvm.call @loomrt_norm_f32({{.*}}, %[[ZERO]], %{{.*}}, %[[ZERO]]) :
//   CHECK-NOT:   omp.parallel
//       CHECK: llvm.func @_mlir_ciface_loom_main
func.func @main(%x: tensor<?x64xf32> {onnx.name = "x"}, %g: tensor<64xf32>) -> (tensor<?x64xf32> {onnx.name = "y"}) {
  %y = loom.layer_norm %x, %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// A residual add after a product and the layer norm of its result: one call
// that computes the product with the add as its epilogue and normalizes the
// rows as they complete.
// CHECK-LABEL: llvm.func @loom_main
//   CHECK-NOT:   llvm.call @loomrt_sgemm_f32
//   CHECK-NOT:   llvm.call @loomrt_norm_f32
//       CHECK:   llvm.call @loomrt_sgemm_norm_f32(
//   CHECK-NOT:   llvm.call @loomrt_norm_f32
//   CHECK-NOT:   omp.parallel
//       CHECK: llvm.func @_mlir_ciface_loom_main
func.func @main(%x: tensor<?x64xf32> {onnx.name = "x"}, %w: tensor<64x64xf32>, %g: tensor<64xf32>) -> (tensor<?x64xf32> {onnx.name = "y"}) {
  %h = onnx.node "MatMul"(%x, %w) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %r = onnx.node "Add"(%h, %x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  %y = loom.layer_norm %r, %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
