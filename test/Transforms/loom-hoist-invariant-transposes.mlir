// RUN: loom-opt %s -split-input-file --loom-hoist-invariant-transposes | FileCheck %s

// A slice of a tensor defined outside the loop, read with the innermost loop
// walking its first dimension: sliced and transposed once before the loop,
// then read with the permuted map.
#id = affine_map<(d0, d1) -> (d0, d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-DAG: #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func @invariant_slice
//       CHECK:   %[[S:.+]] = tensor.extract_slice %arg0[%arg2, 0] [%arg3, 16] [1, 1] : tensor<64x16xf32> to tensor<?x16xf32>
//       CHECK:   %[[E:.+]] = tensor.empty(%{{.+}}) : tensor<16x?xf32>
//       CHECK:   %[[T:.+]] = linalg.transpose ins(%[[S]] : tensor<?x16xf32>) outs(%[[E]] : tensor<16x?xf32>) permutation = [1, 0]
//       CHECK:   scf.for
//       CHECK:     linalg.generic {indexing_maps = [#[[ID]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[T]] : tensor<16x?xf32>)
func.func @invariant_slice(%a: tensor<64x16xf32>, %h0: tensor<16x?xf32>, %off: index, %n: index, %steps: index) -> tensor<16x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %t = %c0 to %steps step %c1 iter_args(%h = %h0) -> tensor<16x?xf32> {
    %s = tensor.extract_slice %a[%off, 0] [%n, 16] [1, 1] : tensor<64x16xf32> to tensor<?x16xf32>
    %g = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]} ins(%s : tensor<?x16xf32>) outs(%h : tensor<16x?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %m = arith.mulf %in, %out : f32
      linalg.yield %m : f32
    } -> tensor<16x?xf32>
    scf.yield %g : tensor<16x?xf32>
  }
  return %r : tensor<16x?xf32>
}

// -----

// A loop-invariant operand of a higher rank, read with a dropped dimension:
// the dimension the innermost loop walks goes last.
#in = affine_map<(d0, d1) -> (d1, d0, 0)>
#out = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[IN:.+]] = affine_map<(d0, d1) -> (d0, 0, d1)>
// CHECK-LABEL: func @invariant_rank3
//       CHECK:   %[[T:.+]] = linalg.transpose ins(%arg0 : tensor<8x4x1xf32>) outs(%{{.+}} : tensor<4x1x8xf32>) permutation = [1, 2, 0]
//       CHECK:   scf.for
//       CHECK:     linalg.generic {indexing_maps = [#[[IN]], #{{.+}}]{{.*}} ins(%[[T]] : tensor<4x1x8xf32>)
func.func @invariant_rank3(%a: tensor<8x4x1xf32>, %h0: tensor<4x8xf32>, %steps: index) -> tensor<4x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %t = %c0 to %steps step %c1 iter_args(%h = %h0) -> tensor<4x8xf32> {
    %g = linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<8x4x1xf32>) outs(%h : tensor<4x8xf32>) {
    ^bb0(%in: f32, %out: f32):
      %m = arith.addf %in, %out : f32
      linalg.yield %m : f32
    } -> tensor<4x8xf32>
    scf.yield %g : tensor<4x8xf32>
  }
  return %r : tensor<4x8xf32>
}

// -----

// Near misses: an operand that changes with the loop (a slice at the
// induction variable), one already read contiguously, and a transposed read
// outside any scf.for stay as they are.
#id = affine_map<(d0, d1) -> (d0, d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-LABEL: func @near_misses
//   CHECK-NOT:   linalg.transpose
//       CHECK:   scf.for
//   CHECK-NOT:   linalg.transpose
//       CHECK:   return
func.func @near_misses(%a: tensor<64x16xf32>, %b: tensor<16x16xf32>, %h0: tensor<16x16xf32>, %steps: index) -> (tensor<16x16xf32>, tensor<16x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %t = %c0 to %steps step %c1 iter_args(%h = %h0) -> tensor<16x16xf32> {
    %s = tensor.extract_slice %a[%t, 0] [16, 16] [1, 1] : tensor<64x16xf32> to tensor<16x16xf32>
    %g = linalg.generic {indexing_maps = [#tr, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%s, %b : tensor<16x16xf32>, tensor<16x16xf32>) outs(%h : tensor<16x16xf32>) {
    ^bb0(%in: f32, %in2: f32, %out: f32):
      %m = arith.mulf %in, %in2 : f32
      %n = arith.addf %m, %out : f32
      linalg.yield %n : f32
    } -> tensor<16x16xf32>
    scf.yield %g : tensor<16x16xf32>
  }
  %o = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<16x16xf32>) outs(%h0 : tensor<16x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<16x16xf32>
  return %r, %o : tensor<16x16xf32>, tensor<16x16xf32>
}
