// RUN: loom-opt %s --loom-serialize-inner-parallel | FileCheck %s

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
