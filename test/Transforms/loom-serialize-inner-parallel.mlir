// RUN: loom-opt %s -split-input-file --loom-serialize-inner-parallel | FileCheck %s

// The outer scf.parallel stays; the nested one becomes scf.for loops.
// CHECK-LABEL: func @nest
//       CHECK:   scf.parallel (%{{.+}}) =
//       CHECK:     scf.for %{{.+}} =
//       CHECK:       scf.for %{{.+}} =
//   CHECK-NOT:   scf.parallel
func.func @nest(%m: memref<4x8x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.parallel (%j, %k) = (%c0, %c0) to (%c8, %c16) step (%c1, %c1) {
      memref.store %f, %m[%i, %j, %k] : memref<4x8x16xf32>
    }
  }
  return
}

// -----

// A multi-dimensional scf.parallel keeps its last (contiguous) dimension
// sequential, so that OpenMP's collapsed iteration space does not hide it
// from the vectorizer.
// CHECK-LABEL: func @split_last
//       CHECK:   scf.parallel (%[[I:.+]], %[[J:.+]]) = (%c0, %c0) to (%{{.+}}, %c8) step (%c1, %c1)
//       CHECK:     scf.for %[[K:.+]] = %c0 to %c16 step %c1
//       CHECK:       memref.store %{{.+}}, %{{.+}}[%[[I]], %[[J]], %[[K]]]
func.func @split_last(%m: memref<?x8x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%n, %c8, %c16) step (%c1, %c1, %c1) {
    memref.store %f, %m[%i, %j, %k] : memref<?x8x16xf32>
  }
  return
}

// -----

// Statically too few outer iterations (2 x 2) to share: unchanged.
// CHECK-LABEL: func @few_outer
//       CHECK:   scf.parallel (%{{.+}}, %{{.+}}, %{{.+}}) =
//   CHECK-NOT:   scf.for
func.func @few_outer(%m: memref<2x2x1024xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c1024 = arith.constant 1024 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c2, %c2, %c1024) step (%c1, %c1, %c1) {
    memref.store %f, %m[%i, %j, %k] : memref<2x2x1024xf32>
  }
  return
}

// -----

// An iteration that calls a function (an attention head's GEMMs) is large:
// every dimension stays parallel, since the outer ones may be few at run
// time (a batch of one).
// CHECK-LABEL: func @calls_stay_parallel
//       CHECK:   scf.parallel (%{{.+}}, %{{.+}}) = (%c0, %c0) to (%{{.+}}, %c6)
//   CHECK-NOT:   scf.for
//       CHECK:     func.call @work
func.func private @work(index, index)
func.func @calls_stay_parallel(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c6 = arith.constant 6 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c6) step (%c1, %c1) {
    func.call @work(%i, %j) : (index, index) -> ()
  }
  return
}

// -----

// An iteration that loops (a scan's time steps over a block of channels)
// is large too: both dimensions stay parallel.
// CHECK-LABEL: func @loops_stay_parallel
//       CHECK:   scf.parallel (%[[B:.+]], %[[C:.+]]) = (%c0, %c0) to (%{{.+}}, %c24)
//       CHECK:     scf.for %[[T:.+]] = %c0 to %c16
//       CHECK:       memref.store %{{.+}}, %{{.+}}[%[[B]], %[[T]], %[[C]]]
func.func @loops_stay_parallel(%m: memref<?x16x24xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c24 = arith.constant 24 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%b, %c) = (%c0, %c0) to (%n, %c24) step (%c1, %c1) {
    scf.for %t = %c0 to %c16 step %c1 {
      memref.store %f, %m[%b, %t, %c] : memref<?x16x24xf32>
    }
  }
  return
}
