// RUN: loom-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(func.func(loom-emulate-gpu-launches))' | FileCheck %s

// A launch becomes a parallel loop over blocks and threads (x, y, z each);
// ids become induction variables, sizes the launch's operands; the
// thread-local alloca moves in front of the loop.
// CHECK-LABEL: func @launch
//  CHECK-SAME:   (%[[M:.+]]: memref<?xindex>, %[[N:.+]]: index)
//       CHECK:   %[[T:.+]] = memref.alloca() : memref<2xf32>
//       CHECK:   scf.parallel (%[[BX:.+]], %{{.+}}, %{{.+}}, %[[TX:.+]], %{{.+}}, %{{.+}}) = (%c0, %c0, %c0, %c0, %c0, %c0) to (%[[N]], %c1, %c1, %c2, %c1, %c1)
//       CHECK:     %[[I:.+]] = arith.muli %[[BX]], %c2
//       CHECK:     %[[J:.+]] = arith.addi %[[I]], %[[TX]]
//       CHECK:     memref.store %[[N]], %[[M]][%[[J]]]
//   CHECK-NOT:   gpu.launch
func.func @launch(%m: memref<?xindex>, %n: index) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c2, %sy = %c1, %sz = %c1) {
    %t = memref.alloca() : memref<2xf32>
    %i = arith.muli %bx, %sx : index
    %j = arith.addi %i, %tx : index
    memref.store %gx, %m[%j] : memref<?xindex>
    gpu.terminator
  }
  return
}

// -----

// Threads that synchronize cannot run one after another.
func.func @barrier() {
  %c1 = arith.constant 1 : index
  // expected-error @below {{cannot emulate this launch on the host}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    gpu.barrier
    gpu.terminator
  }
  return
}
