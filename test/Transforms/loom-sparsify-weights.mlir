// RUN: loom-opt %s -split-input-file --loom-sparsify-weights="mode=2:4" | FileCheck %s --check-prefix=TWOFOUR
// RUN: loom-opt %s -split-input-file --loom-sparsify-weights="mode=block block-rows=2 block-cols=2 ratio=0.5" | FileCheck %s --check-prefix=BLOCK
// RUN: loom-opt %s -split-input-file --loom-sparsify-weights="mode=block block-rows=2 block-cols=2" | FileCheck %s --check-prefix=DETECT
// RUN: loom-opt %s -split-input-file --loom-sparsify-weights="mode=2:4 report=%t.json" > /dev/null && FileCheck %s --check-prefix=REPORT < %t.json
// RUN: not loom-opt %s -split-input-file --loom-sparsify-weights="mode=1:4" 2>&1 | FileCheck %s --check-prefix=BADMODE
// BADMODE: error: unknown sparsity pattern '1:4' (supported: 2:4, block)
// RUN: not loom-opt %s -split-input-file --loom-sparsify-weights="ratio=1" 2>&1 | FileCheck %s --check-prefix=BADRATIO
// BADRATIO: error: the block pruning ratio must be in [0, 1), not 1
// RUN: not loom-opt %s -split-input-file --loom-sparsify-weights="block-rows=0" 2>&1 | FileCheck %s --check-prefix=BADBLOCK
// BADBLOCK: error: sparsity blocks must have at least one row and column, not 0x32

// W [K=4, N=2]. 2:4: column 0's magnitudes [1, 3, 2, 0.1] keep rows 1 and 2
// (values -3, 2; indices 1 | 2 << 2 = 9), column 1's [5, 0.5, 4, 0.2] rows
// 0 and 2 (-5, 4; 8). values [2, 2] row-major: -3, -5, 2, 4.
// Blocks of 2 x 2 (the whole column is one block column; norms 35.25 and
// 20.05 of the two block rows): at ratio 0.5 the lower one goes.
// TWOFOUR-LABEL: func @matmul
//   TWOFOUR-DAG:   %[[V:.+]] = arith.constant dense_resource<sparse_2_4_values> : tensor<2x2xf32>
//   TWOFOUR-DAG:   %[[I:.+]] = arith.constant dense_resource<sparse_2_4_indices> : tensor<1x2xi8>
//       TWOFOUR:   %[[Y:.+]] = loom.sparse_matmul %arg0, %[[V]], %[[I]] {columns = 2 : i64, format = "2:4"} : (tensor<?x4xf32>, tensor<2x2xf32>, tensor<1x2xi8>) -> tensor<?x2xf32>
//       TWOFOUR:   return %[[Y]]
//       TWOFOUR: sparse_2_4_values: "0x04000000000040C00000A0C00000004000008040"
//       TWOFOUR: sparse_2_4_indices: "0x010000000908"
// BLOCK-LABEL: func @matmul
//       BLOCK:   loom.sparse_matmul %arg0, %{{.+}}, %{{.+}} offsets %{{.+}} {block = array<i64: 2, 2>, columns = 2 : i64, format = "block"} : (tensor<?x4xf32>, tensor<1x2x2xf32>, tensor<1xi32>, tensor<2xi32>) -> tensor<?x2xf32>
//       BLOCK: sparse_block_values: "0x040000000000803F0000A0C0000040C00000003F"
//       BLOCK: sparse_block_rows: "0x0400000000000000"
//       BLOCK: sparse_block_offsets: "0x040000000000000001000000"
// No zero block: stays dense.
// DETECT-LABEL: func @matmul
//   DETECT-NOT:   loom.sparse_matmul
//       DETECT:   linalg.generic
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @matmul(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<[[1.0, -5.0], [-3.0, 0.5], [2.0, 4.0], [0.1, -0.2]]> : tensor<4x2xf32>
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %x, %c0 : tensor<?x4xf32>
  %e = tensor.empty(%b) : tensor<?x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x2xf32>) -> tensor<?x2xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<?x4xf32>, tensor<4x2xf32>) outs(%init : tensor<?x2xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// W [N=4, K=4] read transposed (Gemm's transB), as [K, N]:
//   [[1, 1, 0.1, 0.1], [1, 1, 0.1, 0.1], [0.2, 0.2, 3, 3], [0.2, 0.2, 3, 3]]
// 2 x 2 blocks, norms (block row, block column): (0, 0) 4, (1, 0) 0.16,
// (0, 1) 0.04, (1, 1) 36: at ratio 0.5, (0, 1) and (1, 0) go; block column
// 0 keeps block row 0, block column 1 block row 1.
// BLOCK-LABEL: func @transposed
//       BLOCK:   loom.sparse_matmul %arg0, %{{.+}}, %{{.+}} offsets %{{.+}} {block = array<i64: 2, 2>, columns = 4 : i64, format = "block"} : (tensor<3x4xf32>, tensor<2x2x2xf32>, tensor<2xi32>, tensor<3xi32>) -> tensor<3x4xf32>
//       BLOCK: sparse_block_values: "0x040000000000803F0000803F0000803F0000803F00004040000040400000404000004040"
//       BLOCK: sparse_block_rows: "0x040000000000000001000000"
//       BLOCK: sparse_block_offsets: "0x04000000000000000100000002000000"
// 2:4 on the same weights: every column of K = 4 keeps its two largest.
// TWOFOUR-LABEL: func @transposed
//       TWOFOUR:   loom.sparse_matmul {{.*}} : (tensor<3x4xf32>, tensor<2x4xf32>, tensor<1x4xi8>) -> tensor<3x4xf32>
// DETECT-LABEL: func @transposed
//   DETECT-NOT:   loom.sparse_matmul
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d1, d2)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @transposed(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %w = arith.constant dense<[[1.0, 1.0, 0.2, 0.2], [1.0, 1.0, 0.2, 0.2], [0.1, 0.1, 3.0, 3.0], [0.1, 0.1, 3.0, 3.0]]> : tensor<4x4xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x4xf32>) -> tensor<3x4xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<3x4xf32>, tensor<4x4xf32>) outs(%init : tensor<3x4xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// Zero blocks already there are found without a ratio (and dropped first
// with one): of the 2 x 2 blocks of W [4, 2], block row 1 is all zeros.
// DETECT-LABEL: func @zero_block
//       DETECT:   loom.sparse_matmul {{.*}} : (tensor<1x4xf32>, tensor<1x2x2xf32>, tensor<1xi32>, tensor<2xi32>) -> tensor<1x2xf32>
// K = 2 is not a multiple of 4: 2:4 leaves the layer dense.
// TWOFOUR-LABEL: func @k_not_multiple_of_four
//   TWOFOUR-NOT:   loom.sparse_matmul
//       TWOFOUR:   linalg.generic
// REPORT: "mode": "2:4",
// REPORT: "layer": "zero_block"
// REPORT: "sparse": true,
// REPORT: "density": 0.5,
// REPORT: "nonzeros_before": 4,
// REPORT: "nonzeros_after": 4,
// REPORT: "layer": "k_not_multiple_of_four"
// REPORT: "sparse": false,
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @zero_block(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [0.0, 0.0], [0.0, 0.0]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%init : tensor<1x2xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x2xf32> loc("zero_block")
  return %y : tensor<1x2xf32>
}

func.func @k_not_multiple_of_four(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x2xf32> loc("k_not_multiple_of_four")
  return %y : tensor<1x2xf32>
}
