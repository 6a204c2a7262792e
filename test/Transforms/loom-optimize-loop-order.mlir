// RUN: loom-opt %s -split-input-file --loom-optimize-loop-order | FileCheck %s

// C[m, n] += A[m, k] * B[k, n]: n (contiguous in B and C) moves innermost.
// CHECK-DAG: #[[A:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[B:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[C:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func @matmul
//       CHECK:   linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[C]]], iterator_types = ["parallel", "reduction", "parallel"]}
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x16xf32>, %c: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<4x8xf32>, tensor<8x16xf32>) outs(%c : tensor<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// Q @ K^T reduces over the contiguous dim of both inputs: unchanged.
// CHECK-LABEL: func @dot_rows
//       CHECK:   iterator_types = ["parallel", "parallel", "reduction"]
func.func @dot_rows(%q: tensor<4x8xf32>, %k: tensor<16x8xf32>, %c: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(i, j, d) -> (i, d)>, affine_map<(i, j, d) -> (j, d)>, affine_map<(i, j, d) -> (i, j)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q, %k : tensor<4x8xf32>, tensor<16x8xf32>) outs(%c : tensor<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// LayerNorm's variance: sum_j (x[b, s, j] - mean[b, s])^2. x (rank 3) walks
// the reduction j contiguously; only the smaller mean walks s contiguously:
// unchanged (moving s innermost would read x with a stride of a row).
// CHECK-LABEL: func @row_variance
//       CHECK:   iterator_types = ["parallel", "parallel", "reduction"]
func.func @row_variance(%x: tensor<2x128x768xf32>, %mean: tensor<2x128xf32>, %acc: tensor<2x128xf32>) -> tensor<2x128xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(b, s, j) -> (b, s, j)>, affine_map<(b, s, j) -> (b, s)>, affine_map<(b, s, j) -> (b, s)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %mean : tensor<2x128x768xf32>, tensor<2x128xf32>) outs(%acc : tensor<2x128xf32>) {
  ^bb0(%v: f32, %m: f32, %a: f32):
    %d = arith.subf %v, %m : f32
    %q = arith.mulf %d, %d : f32
    %s = arith.addf %a, %q : f32
    linalg.yield %s : f32
  } -> tensor<2x128xf32>
  return %0 : tensor<2x128xf32>
}

// -----

// A depthwise causal convolution (Mamba's): y[b, c, t] += x[b, c, t + w] *
// k[c, w]. The input window x[.., t + w] walks t contiguously, as the output
// does: t moves innermost (the 4 taps w were innermost, a scalar loop).
// CHECK-LABEL: func @depthwise_conv
//       CHECK:   iterator_types = ["parallel", "parallel", "reduction", "parallel"]
func.func @depthwise_conv(%x: tensor<1x64x259xf32>, %k: tensor<64x4xf32>, %y: tensor<1x64x256xf32>) -> tensor<1x64x256xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(b, c, t, w) -> (b, c, t + w)>, affine_map<(b, c, t, w) -> (c, w)>, affine_map<(b, c, t, w) -> (b, c, t)>],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %k : tensor<1x64x259xf32>, tensor<64x4xf32>) outs(%y : tensor<1x64x256xf32>) {
  ^bb0(%v: f32, %w: f32, %a: f32):
    %p = arith.mulf %v, %w : f32
    %s = arith.addf %a, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64x256xf32>
  return %0 : tensor<1x64x256xf32>
}
