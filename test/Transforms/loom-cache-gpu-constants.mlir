// RUN: loom-opt %s -split-input-file --loom-cache-gpu-constants | FileCheck %s

// In a function that launches kernels, a constant's address comes from
// loomrt_cuda_constant (its size from the data layout); a mutable global, a
// declaration and a function without launches keep their addresses.
// CHECK-LABEL: llvm.func @launches
//       CHECK:   %[[A:.+]] = llvm.mlir.addressof @w : !llvm.ptr
//       CHECK:   %[[N:.+]] = llvm.mlir.constant(64 : i64) : i64
//       CHECK:   %[[P:.+]] = llvm.call @loomrt_cuda_constant(%[[A]], %[[N]]) : (!llvm.ptr, i64) -> !llvm.ptr
//       CHECK:   llvm.load %[[P]]
//       CHECK:   %[[M:.+]] = llvm.mlir.addressof @state : !llvm.ptr
//       CHECK:   llvm.load %[[M]]
//       CHECK:   gpu.launch_func
// CHECK-LABEL: llvm.func @host_only
//   CHECK-NOT:   loomrt_cuda_constant
//       CHECK: llvm.func @loomrt_cuda_constant(!llvm.ptr, i64) -> !llvm.ptr
module attributes {gpu.container_module} {
  llvm.mlir.global internal constant @w(dense<1.0> : tensor<16xf32>) {addr_space = 0 : i32} : !llvm.array<16 x f32>
  llvm.mlir.global internal @state(0.0 : f32) {addr_space = 0 : i32} : f32
  gpu.module @kernels {
    gpu.func @k() kernel {
      gpu.return
    }
  }
  llvm.func @launches() -> f32 {
    %a = llvm.mlir.addressof @w : !llvm.ptr
    %v = llvm.load %a : !llvm.ptr -> f32
    %m = llvm.mlir.addressof @state : !llvm.ptr
    %s = llvm.load %m : !llvm.ptr -> f32
    %r = llvm.fadd %v, %s : f32
    %c1 = llvm.mlir.constant(1 : i64) : i64
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) : i64
    llvm.return %r : f32
  }
  llvm.func @host_only() -> f32 {
    %a = llvm.mlir.addressof @w : !llvm.ptr
    %v = llvm.load %a : !llvm.ptr -> f32
    llvm.return %v : f32
  }
}
