// RUN: loom-opt %s -split-input-file --loom-expand-arith | FileCheck %s

// Float min/max stay as they are (LLVM intrinsics later, whose reductions
// vectorize); ceil/floor divisions are expanded.
// CHECK-LABEL: func.func @minmax_kept
//       CHECK:   arith.maximumf
//       CHECK:   arith.minimumf
//       CHECK:   arith.maxnumf
//       CHECK:   arith.minnumf
//   CHECK-NOT:   arith.cmpf
func.func @minmax_kept(%a: f32, %b: f32) -> (f32, f32, f32, f32) {
  %0 = arith.maximumf %a, %b : f32
  %1 = arith.minimumf %a, %b : f32
  %2 = arith.maxnumf %a, %b : f32
  %3 = arith.minnumf %a, %b : f32
  return %0, %1, %2, %3 : f32, f32, f32, f32
}

// -----

// CHECK-LABEL: func.func @divisions
//   CHECK-NOT:   arith.ceildivsi
//   CHECK-NOT:   arith.floordivsi
//   CHECK-NOT:   arith.ceildivui
//       CHECK:   arith.divsi
//       CHECK:   return
func.func @divisions(%a: index, %b: index) -> (index, index, index) {
  %0 = arith.ceildivsi %a, %b : index
  %1 = arith.floordivsi %a, %b : index
  %2 = arith.ceildivui %a, %b : index
  return %0, %1, %2 : index, index, index
}

// -----

// bf16 conversions become integer arithmetic (no compiler-rt, no
// AVX512-BF16 needed).
// CHECK-LABEL: func.func @bf16
//   CHECK-NOT:   arith.extf
//   CHECK-NOT:   arith.truncf
//       CHECK:   arith.bitcast
//       CHECK:   return
func.func @bf16(%a: bf16, %b: f32) -> (f32, bf16) {
  %0 = arith.extf %a : bf16 to f32
  %1 = arith.truncf %b : f32 to bf16
  return %0, %1 : f32, bf16
}
