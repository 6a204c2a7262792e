// RUN: loom-opt %s -split-input-file --loom-fold-transposed-slices | FileCheck %s

// Attention's shape: [1, 1, rows, d] tiles of [B, H, S, D] operands made by
// transposing [B, S, H, D], and a result transposed back. The tiles are
// taken from, and written into, the [B, S, H, D] layouts; no transpose is
// left.
// CHECK-LABEL: func @attention_layouts
//  CHECK-SAME:   (%[[Q:.+]]: tensor<?x?x12x64xf32>, %[[B:.+]]: index, %[[S:.+]]: index)
//       CHECK:   %[[E:.+]] = tensor.empty(%[[B]], %[[S]]) : tensor<?x?x12x64xf32>
//       CHECK:   scf.forall (%[[I:.+]], %[[H:.+]], %[[T:.+]]) in (%[[B]], 12, %{{.+}}) shared_outs(%[[O:.+]] = %[[E]]) -> (tensor<?x?x12x64xf32>)
//       CHECK:     %[[TILE:.+]] = tensor.extract_slice %[[Q]][%[[I]], %[[T]], %[[H]], 0] [1, 16, 1, 64] [1, 1, 1, 1] : tensor<?x?x12x64xf32> to tensor<16x64xf32>
//       CHECK:     %[[R:.+]] = linalg.generic {{.*}} ins(%[[TILE]] : tensor<16x64xf32>)
//       CHECK:     tensor.parallel_insert_slice %[[R]] into %[[O]][%[[I]], %[[T]], %[[H]], 0] [1, 16, 1, 64] [1, 1, 1, 1] : tensor<16x64xf32> into tensor<?x?x12x64xf32>
//   CHECK-NOT:   linalg.transpose
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @attention_layouts(%q: tensor<?x?x12x64xf32>, %b: index, %s: index) -> tensor<?x?x12x64xf32> {
  %c16 = arith.constant 16 : index
  %e = tensor.empty(%b, %s) : tensor<?x12x?x64xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x12x64xf32>) outs(%e : tensor<?x12x?x64xf32>) permutation = [0, 2, 1, 3]
  %tiles = arith.ceildivui %s, %c16 : index
  %r = scf.forall (%i, %h, %t) in (%b, 12, %tiles) shared_outs(%o = %e) -> (tensor<?x12x?x64xf32>) {
    %tile = tensor.extract_slice %qt[%i, %h, %t, 0] [1, 1, 16, 64] [1, 1, 1, 1] : tensor<?x12x?x64xf32> to tensor<16x64xf32>
    %te = tensor.empty() : tensor<16x64xf32>
    %g = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%tile : tensor<16x64xf32>) outs(%te : tensor<16x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %m = arith.mulf %in, %in : f32
      linalg.yield %m : f32
    } -> tensor<16x64xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %g into %o[%i, %h, %t, 0] [1, 1, 16, 64] [1, 1, 1, 1] : tensor<16x64xf32> into tensor<?x12x?x64xf32>
    }
  }
  %e2 = tensor.empty(%b, %s) : tensor<?x?x12x64xf32>
  %back = linalg.transpose ins(%r : tensor<?x12x?x64xf32>) outs(%e2 : tensor<?x?x12x64xf32>) permutation = [0, 2, 1, 3]
  return %back : tensor<?x?x12x64xf32>
}

// -----

// Near misses: a slice whose kept dims swap (a real transpose of the tile),
// and a forall result with another use, keep their transposes.
// CHECK-LABEL: func @near_misses
//       CHECK:   %[[T:.+]] = linalg.transpose
//       CHECK:   tensor.extract_slice %[[T]]
//       CHECK:   scf.forall
//       CHECK:   linalg.transpose
func.func @near_misses(%x: tensor<8x16xf32>) -> (tensor<4x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>) {
  %e = tensor.empty() : tensor<16x8xf32>
  %t = linalg.transpose ins(%x : tensor<8x16xf32>) outs(%e : tensor<16x8xf32>) permutation = [1, 0]
  %s = tensor.extract_slice %t[0, 0] [4, 8] [1, 1] : tensor<16x8xf32> to tensor<4x8xf32>
  %init = tensor.empty() : tensor<8x16xf32>
  %r = scf.forall (%i) in (8) shared_outs(%o = %init) -> (tensor<8x16xf32>) {
    %row = tensor.extract_slice %x[%i, 0] [1, 16] [1, 1] : tensor<8x16xf32> to tensor<16xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %row into %o[%i, 0] [1, 16] [1, 1] : tensor<16xf32> into tensor<8x16xf32>
    }
  }
  %e2 = tensor.empty() : tensor<16x8xf32>
  %back = linalg.transpose ins(%r : tensor<8x16xf32>) outs(%e2 : tensor<16x8xf32>) permutation = [1, 0]
  return %s, %back, %r : tensor<4x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>
}
