// RUN: loom-opt %s --loom-gpu-pipeline | FileCheck %s
// From imported ONNX IR to host code in the LLVM dialect and PTX for sm_80
// in one pipeline.

// The host function allocates through loomrt's allocator (managed memory in
// a GPU model), copies its arguments in, and launches kernels of one
// gpu.module, serialized to PTX; no loop nest is left on the host.
// CHECK-LABEL: module attributes {gpu.container_module}
//       CHECK:   llvm.func @loom_main
//       CHECK:     llvm.call @_mlir_memref_to_llvm_aligned_alloc
//       CHECK:     "llvm.intr.memcpy"
//       CHECK:     gpu.launch_func @[[MOD:[a-z_]+]]::@{{[a-z_0-9]+}} blocks in
//   CHECK-NOT:     gpu.launch_func @{{[a-z_0-9]+}}_kernel_{{[0-9]+}}::
//       CHECK:     gpu.launch_func @[[MOD]]::@{{[a-z_0-9]+}} blocks in
//       CHECK:     llvm.call @_mlir_memref_to_llvm_free
//       CHECK:   llvm.func @_mlir_ciface_loom_main
//       CHECK:   gpu.binary @[[MOD]] [#gpu.object<#nvvm.target<O = 3, chip = "sm_80">, {{.*}}assembly = "{{.*}}.target sm_80{{.*}}.visible .entry
//   CHECK-NOT:   gpu.binary
//   CHECK-NOT:   onnx.node
//   CHECK-NOT:   linalg.
//   CHECK-NOT:   scf.
func.func @main(%x: tensor<?x16xf32> {onnx.name = "x"}, %w: tensor<16x8xf32>) -> (tensor<?x8xf32> {onnx.name = "y"}) {
  %h = onnx.node "MatMul"(%x, %w) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %y = onnx.node "Softmax"(%h) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
