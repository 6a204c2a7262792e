// RUN: loom-opt %s -split-input-file --loom-quantize-weights | FileCheck %s
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="mode=int4-weight group-size=2" | FileCheck %s --check-prefix=INT4
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="mode=int4-weight group-size=2 symmetric=true" | FileCheck %s --check-prefix=SYM
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="mode=int4-weight group-size=4 symmetric=true" | FileCheck %s --check-prefix=MINMAX
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="mode=int4-weight group-size=4 symmetric=true scales=mse" | FileCheck %s --check-prefix=MSE
// RUN: not loom-opt %s -split-input-file --loom-quantize-weights="scales=l1" 2>&1 | FileCheck %s --check-prefix=BADS
// BADS: error: unknown scale choice 'l1' (supported: minmax, mse)
// RUN: not loom-opt %s -split-input-file --loom-quantize-weights="mode=int3" 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: unknown quantization mode 'int3' (supported: int8-weight, int4-weight, w8a8, w4a8)
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="mode=w8a8" | FileCheck %s --check-prefix=W8A8
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="mode=w4a8 group-size=8" | FileCheck %s --check-prefix=W4A8
// RUN: not loom-opt %s -split-input-file --loom-quantize-weights="mode=w4a8 group-size=4" 2>&1 | FileCheck %s --check-prefix=BADW4
// BADW4: error: w4a8 needs a group size that is a multiple of 8, not 4
// RUN: not loom-opt %s -split-input-file --loom-quantize-weights="mode=int4-weight group-size=3" 2>&1 | FileCheck %s --check-prefix=BADG
// BADG: error: int4 group size must be even and at least 2, not 3

// A MatMul by constant weights [K=2, N=3]: per column, scale = max |w| / 127
// and q = round(w / scale). Column 0: peak 2.54, scale 0.02, q = [127, -50];
// column 1: peak 1.27, scale 0.01, q = [-127, 25] (0.25 / 0.01);
// column 2: all zero, scale 1, q = [0, 0]. The blob (after its 4-byte
// alignment header) is row-major: 7F 81 00, CE 19 00.
// CHECK-LABEL: func @matmul
//   CHECK-DAG:   %[[Q:.+]] = arith.constant dense_resource<int8_weight> : tensor<2x3xi8>
//   CHECK-DAG:   %[[S:.+]] = arith.constant dense<[2.000000e-02, 0.00999999977, 1.000000e+00]> : tensor<3xf32>
//       CHECK:   %[[Y:.+]] = loom.quantized_matmul %arg0, %[[Q]], %[[S]] : (tensor<?x4x2xf32>, tensor<2x3xi8>, tensor<3xf32>) -> tensor<?x4x3xf32>
//       CHECK:   return %[[Y]]
// CHECK: int8_weight: "0x010000007F8100CE1900"
#map = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#map1 = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
#map2 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @matmul(%x: tensor<?x4x2xf32>) -> tensor<?x4x3xf32> {
  %w = arith.constant dense<[[2.54, -1.27, 0.0], [-1.0, 0.25, 0.0]]> : tensor<2x3xf32>
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %x, %c0 : tensor<?x4x2xf32>
  %e = tensor.empty(%b) : tensor<?x4x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4x3xf32>) -> tensor<?x4x3xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : tensor<?x4x2xf32>, tensor<2x3xf32>) outs(%init : tensor<?x4x3xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x4x3xf32>
  return %y : tensor<?x4x3xf32>
}

// -----

// Weights read transposed (Gemm's transB, W [N, K]) are quantized per
// output column all the same and stored as [K, N]: columns [1, 2], [3, 4],
// [5, 6] with scales 2/127, 4/127, 6/127 give rows [64, 95, 106] (63.5
// rounds to even), [127, 127, 127].
// CHECK-LABEL: func @transposed
//       CHECK:   arith.constant dense<[0.0157480314, 0.0314960629, 0.0472440943]> : tensor<3xf32>
//       CHECK:   loom.quantized_matmul %arg0, %{{.+}}, %{{.+}} : (tensor<5x2xf32>, tensor<2x3xi8>, tensor<3xf32>) -> tensor<5x3xf32>
// CHECK: int8_weight: "0x01000000405F6A7F7F7F"
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d1, d2)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @transposed(%x: tensor<5x2xf32>) -> tensor<5x3xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<5x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<5x3xf32>) -> tensor<5x3xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<5x2xf32>, tensor<3x2xf32>) outs(%init : tensor<5x3xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  } -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

// -----

// int4 in groups of 2 rows, W [K=4, N=2]; scales in half precision (2/15
// rounds to 0.1333, 0.2 to 0.19995), quantized with the rounded scale.
// Asymmetric (INT4): column 0, rows 0-1 [1.5, -0.5]: scale 2/15, zero
// round(3.75) = 4, q = [15, 0]; rows 2-3 [3, 0]: scale 0.2, zero 0,
// q = [15, 0]. Column 1, rows 0-1 all zero: scale 1, zero 0; rows 2-3
// [-1.5, 1.5]: scale 0.2, zero round(7.502) = 8, q = [0, 16 -> 15]. Two rows per byte, the even row low: bytes
// [0F 00; 0F F0]. Symmetric (SYM): scale max|w| / 7, zero point 8: column
// 0 q = [15, 6], [15, 8]; column 1 q = [8, 8], [1, 15]: [6F 88; 8F F1].
// INT4-LABEL: func @int4
//   INT4-DAG:   %[[Q:.+]] = arith.constant dense_resource<int4_weight> : tensor<2x2xi8>
//   INT4-DAG:   %[[S:.+]] = arith.constant dense<{{\[}}[1.333010e-01, 1.000000e+00], [1.999510e-01, 1.999510e-01]]> : tensor<2x2xf16>
//   INT4-DAG:   %[[Z:.+]] = arith.constant dense_resource<int4_zero> : tensor<2x2xi8>
//       INT4:   loom.quantized_matmul %arg0, %[[Q]], %[[S]] zero_point %[[Z]] {bits = 4 : i64, group_size = 2 : i64} : (tensor<5x4xf32>, tensor<2x2xi8>, tensor<2x2xf16>, tensor<2x2xi8>) -> tensor<5x2xf32>
//       INT4: int4_weight: "0x010000000F000FF0"
//       INT4: int4_zero: "0x0100000004000008"
// SYM-LABEL: func @int4
//   SYM-NOT:   zero_point
//       SYM:   loom.quantized_matmul %arg0, %{{.+}}, %{{.+}} {bits = 4 : i64, group_size = 2 : i64}
//       SYM: int4_weight: "0x010000006F888FF1"
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @int4(%x: tensor<5x4xf32>) -> tensor<5x2xf32> {
  %w = arith.constant dense<[[1.5, 0.0], [-0.5, 0.0], [3.0, -1.5], [0.0, 1.5]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<5x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<5x2xf32>) -> tensor<5x2xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<5x4xf32>, tensor<4x2xf32>) outs(%init : tensor<5x2xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<5x2xf32>
  return %y : tensor<5x2xf32>
}

// -----

// scales=mse: one symmetric int4 group [1.0, -0.79, 0.27, -0.24]. Min-max:
// scale 1/7 (0.1428 in half precision), squared error 6.8e-3; the range
// clipped to 0.96 (scale 0.1371) rounds to the same q = [7, -6, 2, -2] (+8:
// bytes 2F 6A) with squared error 3.9e-3, the least of the 11 tried.
// MINMAX-LABEL: func @mse
//       MINMAX:   arith.constant dense<1.428220e-01> : tensor<1x1xf16>
//       MINMAX: int4_weight: "0x010000002F6A"
// MSE-LABEL: func @mse
//       MSE:   arith.constant dense<1.370850e-01> : tensor<1x1xf16>
//       MSE: int4_weight: "0x010000002F6A"
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @mse(%x: tensor<3x4xf32>) -> tensor<3x1xf32> {
  %w = arith.constant dense<[[1.0], [-0.79], [0.27], [-0.24]]> : tensor<4x1xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x1xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x1xf32>) -> tensor<3x1xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<3x4xf32>, tensor<4x1xf32>) outs(%init : tensor<3x1xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

// -----

// Left alone: weights that are not constants (activations times
// activations), a product accumulating into a non-zero tensor, batched
// weights.
// CHECK-LABEL: func @near_misses
//   CHECK-NOT:   loom.quantized_matmul
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
#bmap = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#bmap1 = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
#bmap2 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @near_misses(%x: tensor<5x2xf32>, %v: tensor<2x3xf32>, %c: tensor<5x3xf32>, %xb: tensor<2x5x2xf32>) -> (tensor<5x3xf32>, tensor<5x3xf32>, tensor<2x5x3xf32>) {
  %w = arith.constant dense<1.0> : tensor<2x3xf32>
  %wb = arith.constant dense<1.0> : tensor<2x2x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<5x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<5x3xf32>) -> tensor<5x3xf32>
  %y0 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %v : tensor<5x2xf32>, tensor<2x3xf32>) outs(%init : tensor<5x3xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<5x3xf32>
  %y1 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<5x2xf32>, tensor<2x3xf32>) outs(%c : tensor<5x3xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<5x3xf32>
  %eb = tensor.empty() : tensor<2x5x3xf32>
  %initb = linalg.fill ins(%zero : f32) outs(%eb : tensor<2x5x3xf32>) -> tensor<2x5x3xf32>
  %y2 = linalg.generic {indexing_maps = [#bmap, #bmap1, #bmap2], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%xb, %wb : tensor<2x5x2xf32>, tensor<2x2x3xf32>) outs(%initb : tensor<2x5x3xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<2x5x3xf32>
  return %y0, %y1, %y2 : tensor<5x3xf32>, tensor<5x3xf32>, tensor<2x5x3xf32>
}

// -----

// w8a8: the same int8 weights, and the input quantized too. Without a
// calibrated range, per row at run time; with loom.calibrated_range
// [-1, 3]: scale (3 - -1) / 255, zero point round(1 / scale) = 64
// (63.75); a range that excludes 0 ([0.5, 2.55]) is widened to [0, 2.55]:
// scale 0.01, zero point 0.
// W8A8-LABEL: func @w8a8
//       W8A8:   loom.quantized_matmul %arg0, %{{.+}}, %{{.+}} {input_bits = 8 : i64} : (tensor<4x2xf32>, tensor<2x3xi8>, tensor<3xf32>) -> tensor<4x3xf32>
//       W8A8:   loom.quantized_matmul %arg0, %{{.+}}, %{{.+}} {input_bits = 8 : i64, input_scale = 0.0156862754 : f32, input_zero_point = 64 : i64}
//       W8A8:   loom.quantized_matmul %arg0, %{{.+}}, %{{.+}} {input_bits = 8 : i64, input_scale = 0.00999999977 : f32, input_zero_point = 0 : i64}
// w4a8: 4-bit groups and 8-bit inputs; a calibrated range is ignored (the
// inputs are quantized per row and group at run time).
// W4A8-LABEL: func @w8a8
//   W4A8-COUNT-3:   loom.quantized_matmul %arg0, %{{.+}}, %{{.+}} zero_point %{{.+}} {bits = 4 : i64, group_size = 8 : i64, input_bits = 8 : i64} : (tensor<4x2xf32>, tensor<1x3xi8>, tensor<1x3xf16>, tensor<1x3xi8>)
// Without w8a8 the range is ignored: weight-only.
// CHECK-LABEL: func @w8a8
//   CHECK-COUNT-3:   loom.quantized_matmul %arg0, %{{[^ ]+}}, %{{[^ ]+}} : (tensor<4x2xf32>
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @w8a8(%x: tensor<4x2xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) {
  %w = arith.constant dense<[[2.54, -1.27, 0.0], [-1.0, 0.25, 0.0]]> : tensor<2x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x3xf32>) -> tensor<4x3xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<4x2xf32>, tensor<2x3xf32>) outs(%init : tensor<4x3xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x3xf32>
  %y2 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<4x2xf32>, tensor<2x3xf32>) outs(%init : tensor<4x3xf32>) attrs = {loom.calibrated_range = array<f32: -1.0, 3.0>} {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x3xf32>
  %y3 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<4x2xf32>, tensor<2x3xf32>) outs(%init : tensor<4x3xf32>) attrs = {loom.calibrated_range = array<f32: 0.5, 2.55>} {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x3xf32>
  return %y, %y2, %y3 : tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>
}

// -----

// rounding=gptq with a calibration Gram matrix whose first two inputs are
// correlated (0.99) and the third independent. Column steps are
// s = 0.5 / 127; rows are 76.45 s, 50.3 s, 127 s. Nearest gives
// [76, 50, 127]. GPTQ rounds row 0 down by 0.45 steps and passes that
// error on to row 1 through the inverse Gram matrix (0.99 / 1.01 of it
// with 1% damping): 50.3 + 0.44 = 50.74 rounds to 51; row 2 gets nothing.
// Without the attribute (or without gptq) rounding is to nearest.
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="rounding=gptq" | FileCheck %s --check-prefix=GPTQ
// RUN: not loom-opt %s -split-input-file --loom-quantize-weights="rounding=stochastic" 2>&1 | FileCheck %s --check-prefix=BADR
// BADR: error: unknown rounding 'stochastic' (supported: nearest, gptq)
// CHECK-LABEL: func @gptq
// CHECK: int8_weight: "0x010000004C327F"
// GPTQ-LABEL: func @gptq
// GPTQ: int8_weight: "0x010000004C337F"
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @gptq(%x: tensor<4x3xf32>) -> tensor<4x1xf32> {
  %w = arith.constant dense<[[0.30098425], [0.1980315], [0.5]]> : tensor<3x1xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x1xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x1xf32>) -> tensor<4x1xf32>
  %y = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<4x3xf32>, tensor<3x1xf32>) outs(%init : tensor<4x1xf32>) attrs = {loom.calibration_gram = dense<[[1.0, 0.99, 0.0], [0.99, 1.0, 0.0], [0.0, 0.0, 1.0]]> : tensor<3x3xf32>} {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x1xf32>
  return %y : tensor<4x1xf32>
}

// -----

// table-block=4 (tables of 16 elements and more): a constant [4, 8] table
// read element by element (a Gather of embeddings) becomes int8 with an
// fp16 scale per row and block of 4 columns (max |w| / 127); each read
// multiplies the int8 value by its block's scale. Row 0 is 0.5, 1, 1.5, 2 |
// -4, 2, 0, 1: scales 2/127 and 4/127, q = 32 (31.75), 64 (63.5 rounds to
// even), 95 (95.25), 127 | -127, 64 (63.5), 0, 32 (31.75). A table that
// something else reads too, and a small one, stay fp32.
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="table-block=4 table-min-elements=16" | FileCheck %s --check-prefix=TABLE
// TABLE-LABEL: func @tables
//   TABLE-DAG:   %[[Q:.+]] = arith.constant dense_resource<int8_table> : tensor<4x8xi8>
//   TABLE-DAG:   %[[S:.+]] = arith.constant dense<{{.+}}> : tensor<4x2xf16>
//       TABLE:   linalg.generic
//       TABLE:     %[[QV:.+]] = tensor.extract %[[Q]][%{{.+}}, %[[J:.+]]] : tensor<4x8xi8>
//       TABLE:     %[[C4:.+]] = arith.constant 4 : index
//       TABLE:     %[[B:.+]] = arith.divui %[[J]], %[[C4]]
//       TABLE:     %[[SV:.+]] = tensor.extract %[[S]][%{{.+}}, %[[B]]] : tensor<4x2xf16>
//       TABLE:     %[[F:.+]] = arith.sitofp %[[QV]] : i8 to f32
//       TABLE:     %[[E:.+]] = arith.extf %[[SV]] : f16 to f32
//       TABLE:     arith.mulf %[[F]], %[[E]]
//       TABLE:   tensor.extract %{{.+}} : tensor<4x8xf32>
//       TABLE:   tensor.extract %{{.+}} : tensor<2x4xf32>
// TABLE: int8_table: "0x0100000020405F7F81400020
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @tables(%idx: tensor<4xi64>, %t: tensor<4x8xf32>, %i: index) -> (tensor<4x8xf32>, f32, f32, tensor<4x8xf32>) {
  %table = arith.constant dense<[[0.5, 1.0, 1.5, 2.0, -4.0, 2.0, 0.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]]> : tensor<4x8xf32>
  %shared = arith.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0]]> : tensor<4x8xf32>
  %small = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %e = tensor.empty() : tensor<4x8xf32>
  %g = linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel"]} ins(%idx : tensor<4xi64>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: i64, %out: f32):
    %r = arith.index_cast %in : i64 to index
    %c = linalg.index 1 : index
    %v = tensor.extract %table[%r, %c] : tensor<4x8xf32>
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %a = tensor.extract %shared[%i, %i] : tensor<4x8xf32>
  %b = tensor.extract %small[%i, %i] : tensor<2x4xf32>
  %sum = arith.addf %shared, %t : tensor<4x8xf32>
  return %g, %a, %b, %sum : tensor<4x8xf32>, f32, f32, tensor<4x8xf32>
}

// -----

// activation-block=32: the input of loom.gelu (last dim 64) is quantized to
// int8 and back in blocks of 32 (per block max |x| / 127): the block maxima
// are indexed (i, j floordiv 32); a last dim that blocks do not divide (30
// in blocks of 32 or of 16) ends in a shorter block. The
// input of a softmax over the last dim is quantized the same way, one over
// another dim is not; attention gets score_quant_block, except windowed
// attention.
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="activation-block=32" | FileCheck %s --check-prefix=ACT
// RUN: loom-opt %s -split-input-file --loom-quantize-weights="activation-block=16" | FileCheck %s --check-prefix=ACT16
// RUN: not loom-opt %s -split-input-file --loom-quantize-weights="activation-block=-1" 2>&1 | FileCheck %s --check-prefix=BADA
// BADA: error: activation-block must not be negative, not -1
//       ACT: #[[BLK:map[0-9]*]] = affine_map<(d0, d1) -> (d0, d1 floordiv 32)>
// ACT-LABEL: func @activations
//       ACT:   %[[I:.+]] = linalg.fill {{.*}} -> tensor<?x2xf32>
//       ACT:   %[[M:.+]] = linalg.generic {indexing_maps = [#{{.+}}, #[[BLK]]], iterator_types = ["parallel", "reduction"]} ins(%arg0 : tensor<?x64xf32>) outs(%[[I]] : tensor<?x2xf32>)
//       ACT:     math.absf
//       ACT:     arith.maximumf
//       ACT:   %[[Q:.+]] = linalg.generic {indexing_maps = [#{{.+}}, #[[BLK]], #{{.+}}], {{.*}} ins(%arg0, %[[M]] : tensor<?x64xf32>, tensor<?x2xf32>)
//       ACT:     math.roundeven
//       ACT:   loom.gelu %[[Q]]
//       ACT:   -> tensor<4x1xf32>
//       ACT:   loom.gelu
// ACT16-LABEL: func @activations
//       ACT16:   -> tensor<4x2xf32>
//       ACT16:   ins(%arg1, %{{.+}} : tensor<4x30xf32>, tensor<4x2xf32>)
func.func @activations(%x: tensor<?x64xf32>, %y: tensor<4x30xf32>) -> (tensor<?x64xf32>, tensor<4x30xf32>) {
  %0 = loom.gelu %x : tensor<?x64xf32>
  %1 = loom.gelu %y : tensor<4x30xf32>
  return %0, %1 : tensor<?x64xf32>, tensor<4x30xf32>
}

// -----

// ACT-LABEL: func @softmax_and_attention
//       ACT:   %[[Q:.+]] = linalg.generic {{.*}} ins(%arg0, %{{.+}} : tensor<2x64xf32>, tensor<2x2xf32>)
//       ACT:   linalg.softmax dimension(1) ins(%[[Q]] : tensor<2x64xf32>)
//       ACT:   linalg.softmax dimension(0) ins(%arg0 : tensor<2x64xf32>)
//       ACT:   loom.attention %arg1, %arg1, %arg1 {score_quant_block = 32 : i64}
//       ACT:   loom.attention %arg1, %arg1, %arg1 {window = 4 : i64}
func.func @softmax_and_attention(%x: tensor<2x64xf32>, %q: tensor<1x8x16xf32>) -> (tensor<2x64xf32>, tensor<2x64xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) {
  %e = tensor.empty() : tensor<2x64xf32>
  %0 = linalg.softmax dimension(1) ins(%x : tensor<2x64xf32>) outs(%e : tensor<2x64xf32>) -> tensor<2x64xf32>
  %1 = linalg.softmax dimension(0) ins(%x : tensor<2x64xf32>) outs(%e : tensor<2x64xf32>) -> tensor<2x64xf32>
  %2 = loom.attention %q, %q, %q : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  %3 = loom.attention %q, %q, %q {window = 4 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return %0, %1, %2, %3 : tensor<2x64xf32>, tensor<2x64xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>
}
