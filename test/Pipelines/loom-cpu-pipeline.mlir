// RUN: loom-opt %s --loom-cpu-pipeline | FileCheck %s
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
