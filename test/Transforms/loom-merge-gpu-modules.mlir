// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-merge-gpu-modules | FileCheck %s

// Two outlined kernels (one name in both modules) end up in the first
// module; the clashing one is renamed and its launch follows it.
// CHECK-LABEL: module attributes {gpu.container_module}
//       CHECK:   gpu.module @first {
//       CHECK:     gpu.func @k() kernel
//       CHECK:     gpu.func @[[RENAMED:k_[0-9]+]]() kernel
//   CHECK-NOT:   gpu.module
//       CHECK:   func.func @main
//       CHECK:     gpu.launch_func @first::@k
//       CHECK:     gpu.launch_func @first::@[[RENAMED]]
module attributes {gpu.container_module} {
  gpu.module @first {
    gpu.func @k() kernel {
      gpu.return
    }
  }
  gpu.module @second {
    gpu.func @k() kernel {
      gpu.return
    }
  }
  func.func @main() {
    %c1 = arith.constant 1 : index
    gpu.launch_func @first::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    gpu.launch_func @second::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    return
  }
}

// -----

// Modules for different targets stay apart.
module attributes {gpu.container_module} {
  gpu.module @a [#nvvm.target<chip = "sm_80">] {
    gpu.func @k() kernel {
      gpu.return
    }
  }
  // expected-error @below {{cannot merge GPU modules with different targets}}
  gpu.module @b [#nvvm.target<chip = "sm_90a">] {
    gpu.func @k() kernel {
      gpu.return
    }
  }
}

// -----

// Shared-memory buffers get 16-byte alignment (one module: nothing to
// merge); an alignment already given is kept.
// CHECK-LABEL: gpu.module @only
//       CHECK:   gpu.func @k() workgroup(%{{.*}} : memref<8xf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<4xf32, #gpu.address_space<workgroup>> {llvm.align = 64 : i64}) kernel
module attributes {gpu.container_module} {
  gpu.module @only {
    gpu.func @k() workgroup(%a : memref<8xf16, #gpu.address_space<workgroup>>, %b : memref<4xf32, #gpu.address_space<workgroup>> {llvm.align = 64 : i64}) kernel {
      gpu.return
    }
  }
}
