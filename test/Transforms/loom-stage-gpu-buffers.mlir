// RUN: loom-opt %s -split-input-file --loom-stage-gpu-buffers | FileCheck %s
// RUN: loom-opt %s -split-input-file --loom-stage-gpu-buffers=constants=false | FileCheck %s --check-prefix=NOCONST

// Arguments are copied into fresh buffers at entry, constants where they are
// read; the copies are freed before the block ends. The kernel reads only
// the copies.
// CHECK-LABEL: func @stage
//  CHECK-SAME:   (%[[A:.+]]: memref<?x4xf32>, %[[B:.+]]: memref<4xf32>)
//       CHECK:   %[[D:.+]] = memref.dim %[[A]], %c0
//       CHECK:   %[[CA:.+]] = memref.alloc(%[[D]]) {alignment = 64 : i64} : memref<?x4xf32>
//       CHECK:   memref.copy %[[A]], %[[CA]]
//       CHECK:   %[[CB:.+]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
//       CHECK:   memref.copy %[[B]], %[[CB]]
//       CHECK:   %[[G:.+]] = memref.get_global @w
//       CHECK:   %[[CG:.+]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
//       CHECK:   memref.copy %[[G]], %[[CG]]
//       CHECK:   gpu.launch
//       CHECK:     memref.load %[[CA]]
//       CHECK:     memref.load %[[CB]]
//       CHECK:     memref.load %[[CG]]
//       CHECK:   memref.dealloc %[[CA]]
//       CHECK:   memref.dealloc %[[CB]]
//       CHECK:   memref.dealloc %[[CG]]
//  CHECK-NEXT:   return
memref.global "private" constant @w : memref<4xf32> = dense<1.0>
func.func @stage(%a: memref<?x4xf32>, %b: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %g = memref.get_global @w : memref<4xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
    %x = memref.load %a[%c0, %tx] : memref<?x4xf32>
    %y = memref.load %b[%tx] : memref<4xf32>
    %z = memref.load %g[%tx] : memref<4xf32>
    %s = arith.addf %x, %y : f32
    %t = arith.addf %s, %z : f32
    memref.store %t, %a[%c0, %tx] : memref<?x4xf32>
    gpu.terminator
  }
  return
}

// -----

// A function without kernels is left alone.
// CHECK-LABEL: func @host_only
//   CHECK-NOT:   memref.alloc
//   CHECK-NOT:   memref.copy
memref.global "private" constant @w2 : memref<4xf32> = dense<1.0>
func.func @host_only(%a: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %g = memref.get_global @w2 : memref<4xf32>
  %v = memref.load %g[%c0] : memref<4xf32>
  return %v : f32
}

// -----

// A copy that flows out of its block (yielded) is not freed there.
// CHECK-LABEL: func @escapes
//       CHECK:   scf.if
//       CHECK:     %[[G:.+]] = memref.get_global @w3
//       CHECK:     %[[C:.+]] = memref.alloc()
//       CHECK:     memref.copy %[[G]], %[[C]]
//   CHECK-NOT:     memref.dealloc %[[C]]
//       CHECK:     scf.yield %[[C]]
memref.global "private" constant @w3 : memref<4xf32> = dense<1.0>
func.func @escapes(%p: i1, %o: memref<4xf32>) -> memref<4xf32> {
  %c1 = arith.constant 1 : index
  %r = scf.if %p -> memref<4xf32> {
    %g = memref.get_global @w3 : memref<4xf32>
    scf.yield %g : memref<4xf32>
  } else {
    scf.yield %o : memref<4xf32>
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    gpu.terminator
  }
  return %r : memref<4xf32>
}

// -----

// With constants=false (loom-cache-gpu-constants serves them), constant
// globals are read in place; mutable ones are still staged.
// NOCONST-LABEL: func @mixed
//       NOCONST:   %[[C:.+]] = memref.get_global @c
//   NOCONST-NOT:   memref.copy %[[C]]
//       NOCONST:   %[[M:.+]] = memref.get_global @m
//       NOCONST:   %[[S:.+]] = memref.alloc()
//       NOCONST:   memref.copy %[[M]], %[[S]]
//       NOCONST:   gpu.launch
//       NOCONST:     memref.load %[[C]]
//       NOCONST:     memref.load %[[S]]
memref.global "private" constant @c : memref<4xf32> = dense<1.0>
memref.global "private" @m : memref<4xf32> = dense<0.0>
func.func @mixed() {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %g = memref.get_global @c : memref<4xf32>
  %h = memref.get_global @m : memref<4xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
    %x = memref.load %g[%tx] : memref<4xf32>
    %y = memref.load %h[%tx] : memref<4xf32>
    %s = arith.addf %x, %y : f32
    memref.store %s, %h[%tx] : memref<4xf32>
    gpu.terminator
  }
  return
}
