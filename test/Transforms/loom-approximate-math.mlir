// RUN: loom-opt %s --loom-approximate-math | FileCheck %s

// CHECK-LABEL: func @exp_erf
//   CHECK-NOT:   math.exp
//   CHECK-NOT:   math.erf
//       CHECK:   arith.mulf
func.func @exp_erf(%x: f32) -> (f32, f32) {
  %e = math.exp %x : f32
  %r = math.erf %x : f32
  return %e, %r : f32, f32
}
