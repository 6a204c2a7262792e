// RUN: loom-opt %s -split-input-file --loom-to-linalg | FileCheck %s
// RUN: not loom-opt %s -split-input-file --loom-to-linalg="scan-chunk=-1" 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: scan-chunk and scan-chunk-delta must not be negative
// RUN: loom-opt %s -split-input-file --loom-to-linalg="scan-chunk-delta=32" | FileCheck %s --check-prefix=DELTA
// RUN: loom-opt %s -split-input-file --loom-to-linalg="softmax-calls=true" | FileCheck %s --check-prefix=SOFTMAX

// One row at a time: an scf.forall over the rows whose body sums the row,
// sums its squared deviations and normalizes it (scale and bias), then
// inserts it.
// CHECK-LABEL: func @layer_norm
//       CHECK:   scf.forall (%[[I:.+]]) in (%{{.+}}) shared_outs(%[[OUT:.+]] = %{{.+}}) -> (tensor<?x16xf32>)
//       CHECK:     %[[ROW:.+]] = tensor.extract_slice %arg0[%[[I]], 0] [1, 16] [1, 1] : tensor<?x16xf32> to tensor<16xf32>
//       CHECK:     %[[SUM:.+]] = linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%[[ROW]] :
//       CHECK:     %[[SQ:.+]] = linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%[[ROW]], %[[SUM]] :
//       CHECK:     %[[Y:.+]] = linalg.generic {{.*}} iterator_types = ["parallel"]} ins(%[[ROW]], %[[SQ]], %[[SUM]], %arg1, %arg2 :
//       CHECK:       math.rsqrt
//       CHECK:     tensor.parallel_insert_slice %[[Y]] into %[[OUT]][%[[I]], 0] [1, 16] [1, 1]
//   CHECK-NOT:   loom.layer_norm
func.func @layer_norm(%x: tensor<?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<?x16xf32> {
  %y = loom.layer_norm %x, %g bias %b : (tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// CHECK-LABEL: func @rms_norm
//       CHECK:   scf.forall (%{{.+}}) in (4)
//       CHECK:     linalg.generic {{.*}} iterator_types = ["reduction"]
//       CHECK:       arith.mulf
//       CHECK:     linalg.generic {{.*}} iterator_types = ["parallel"]
//       CHECK:       math.rsqrt
func.func @rms_norm(%x: tensor<4x32xf32>, %g: tensor<32xf32>) -> tensor<4x32xf32> {
  %y = loom.rms_norm %x, %g : (tensor<4x32xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// A row with a dynamic size keeps the whole-tensor form: two reductions
// over the rows, then the normalization.
// CHECK-LABEL: func @layer_norm_dynamic_row
//   CHECK-NOT:   scf.forall
//       CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
//       CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
//       CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
//       CHECK:     math.rsqrt
func.func @layer_norm_dynamic_row(%x: tensor<8x?xf32>) -> tensor<8x?xf32> {
  %y = loom.layer_norm %x : (tensor<8x?xf32>) -> tensor<8x?xf32>
  return %y : tensor<8x?xf32>
}

// -----

// CHECK-LABEL: func @gelu
//       CHECK:   math.erf
//       CHECK:   math.tanh
func.func @gelu(%x: tensor<8xf32>) -> tensor<8xf32> {
  %a = loom.gelu %x : tensor<8xf32>
  %b = loom.gelu %a {approximate = #loom.gelu_approximation<tanh>} : tensor<8xf32>
  return %b : tensor<8xf32>
}

// -----

// x / (1 + exp(-x)), elementwise.
// CHECK-LABEL: func @silu
//       CHECK:   linalg.generic
//       CHECK:     %[[N:.+]] = arith.negf %[[X:.+]] : f32
//       CHECK:     %[[E:.+]] = math.exp %[[N]]
//       CHECK:     %[[D:.+]] = arith.addf %[[E]], %{{.+}}
//       CHECK:     arith.divf %[[X]], %[[D]]
func.func @silu(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %y = loom.silu %x : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Grouped-query heads read key/value head h floordiv 2; causal masking
// compares linalg.index values; the softmax is decomposed.
// CHECK-DAG: #[[K:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 2, d3, d4)>
// CHECK-LABEL: func @attention
//       CHECK:   linalg.generic {indexing_maps = [#{{.+}}, #[[K]], #{{.+}}]
//       CHECK:   linalg.index 2
//       CHECK:   linalg.index 3
//       CHECK:   arith.cmpi sgt
//       CHECK:   arith.select
//       CHECK:   math.exp
//   CHECK-NOT:   linalg.softmax
//   CHECK-NOT:   loom.attention
// With softmax-calls (GPU), the scores' softmax becomes the row kernel's
// call (kind 2) on the masked scores, rows = 1 * 4 * 5, cols = 7.
// SOFTMAX-LABEL: func @attention
//       SOFTMAX:   arith.cmpi sgt
//   SOFTMAX-NOT:   math.exp
//       SOFTMAX:   call @loomrt_norm_f32(%c20_i64, %c7_i64, %{{.*}}, %{{.*}}, %c0_i64, %c0_i64, %c0_i64, %c2_i64)
//   SOFTMAX-NOT:   linalg.softmax
func.func @attention(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x7x8xf32>, %v: tensor<1x2x7x8xf32>) -> tensor<1x4x5x8xf32> {
  %o = loom.attention %q, %k, %v {causal, num_kv_heads = 2 : i64} : (tensor<1x4x5x8xf32>, tensor<1x2x7x8xf32>, tensor<1x2x7x8xf32>) -> tensor<1x4x5x8xf32>
  return %o : tensor<1x4x5x8xf32>
}

// -----

// score_quant_block = 4: the scores are scaled first, quantized in blocks of
// 4 keys (7 keys: blocks of 4 and 3, maxima [1, 4, 5, 2]), then masked
// without scaling again.
// CHECK-DAG: #[[BLK:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3 floordiv 4)>
// CHECK-LABEL: func @attention_score_quant
//       CHECK:   %[[S:.+]] = linalg.generic {{.*}} outs(%{{.+}} : tensor<1x4x5x7xf32>)
//       CHECK:   %[[SC:.+]] = linalg.generic {{.*}} ins(%[[S]] : tensor<1x4x5x7xf32>)
//       CHECK:     arith.mulf %{{.+}}, %cst
//       CHECK:   %[[M:.+]] = linalg.generic {indexing_maps = [#{{.+}}, #[[BLK]]], {{.*}} ins(%[[SC]] : tensor<1x4x5x7xf32>) outs(%{{.+}} : tensor<1x4x5x2xf32>)
//       CHECK:   %[[Q:.+]] = linalg.generic {{.*}} ins(%[[SC]], %[[M]] : tensor<1x4x5x7xf32>, tensor<1x4x5x2xf32>)
//       CHECK:     math.roundeven
//       CHECK:   linalg.generic {{.*}} ins(%[[Q]] : tensor<1x4x5x7xf32>)
//   CHECK-NOT:     arith.mulf
//       CHECK:     arith.cmpi sgt
func.func @attention_score_quant(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x7x8xf32>, %v: tensor<1x2x7x8xf32>) -> tensor<1x4x5x8xf32> {
  %o = loom.attention %q, %k, %v {causal, num_kv_heads = 2 : i64, score_quant_block = 4 : i64} : (tensor<1x4x5x8xf32>, tensor<1x2x7x8xf32>, tensor<1x2x7x8xf32>) -> tensor<1x4x5x8xf32>
  return %o : tensor<1x4x5x8xf32>
}

// -----

// The sequential scan (40 steps fit one chunk): a forall over (batch, head),
// a loop over time that carries the [Dk, Dv] state and the output rows; gated
// decays the state by alpha along Dk before adding k v^T.
// CHECK-LABEL: func @scan_gated
//       CHECK:   scf.forall (%[[B:.+]], %[[H:.+]]) in (2, 3)
//       CHECK:     linalg.fill {{.*}} -> tensor<16x8xf32>
//       CHECK:     scf.for %[[T:.+]] = %c0 to %c40 step %c1 iter_args(%[[S:.+]] = %{{.+}}, %[[O:.+]] = %{{.+}}) -> (tensor<16x8xf32>, tensor<40x8xf32>)
//       CHECK:       tensor.extract_slice %arg0[%[[B]], %[[H]], %[[T]], 0] [1, 1, 1, 16]
//       CHECK:       %[[NEXT:.+]] = linalg.generic {{.*}} outs(%[[S]] : tensor<16x8xf32>)
//       CHECK:         arith.mulf
//       CHECK:         arith.mulf
//       CHECK:         arith.addf
//       CHECK:       %[[ROW:.+]] = linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]{{.*}} ins(%[[NEXT]],
//       CHECK:       tensor.insert_slice %[[ROW]] into %[[O]][%[[T]], 0] [1, 8]
//       CHECK:     scf.forall.in_parallel
//   CHECK-NOT:   loom.scan
func.func @scan_gated(%q: tensor<2x3x40x16xf32>, %v: tensor<2x3x40x8xf32>) -> tensor<2x3x40x8xf32> {
  %o = loom.scan <gated> %q, %q, %v, %q : (tensor<2x3x40x16xf32>, tensor<2x3x40x16xf32>, tensor<2x3x40x8xf32>, tensor<2x3x40x16xf32>) -> tensor<2x3x40x8xf32>
  return %o : tensor<2x3x40x8xf32>
}

// -----

// Longer than a chunk (dynamic): the chunked form. A loop over chunks of 64
// steps; per chunk Q S, A = Q K^T made causal, O = Q S + A V, S' = S + K^T V,
// all contractions.
// CHECK-DAG: #[[IP:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[PJ:.+]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[IJ:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[JP:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[PI:.+]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-LABEL: func @scan_linear_chunked
//       CHECK:   tensor.empty
//       CHECK:   %[[T:.+]] = tensor.dim %arg0, %c2
//  CHECK-NEXT:   scf.forall (%[[B:.+]], %[[H:.+]]) in (1, 2)
//       CHECK:     scf.for %[[T0:.+]] = %c0 to %[[T]] step %c64 iter_args(%[[S:.+]] = %{{.+}}, %[[O:.+]] = %{{.+}}) -> (tensor<16x8xf32>, tensor<?x8xf32>)
//       CHECK:       %[[LEFT:.+]] = arith.subi %[[T]], %[[T0]]
//       CHECK:       %[[ROWS:.+]] = arith.minui %[[LEFT]], %c64
//       CHECK:       %[[Q:.+]] = tensor.extract_slice %arg0[%[[B]], %[[H]], %[[T0]], 0] [1, 1, %[[ROWS]], 16]
//       CHECK:       %[[V:.+]] = tensor.extract_slice %arg1[%[[B]], %[[H]], %[[T0]], 0] [1, 1, %[[ROWS]], 8]
//       CHECK:       %[[QS:.+]] = linalg.generic {indexing_maps = [#[[IP]], #[[PJ]], #[[IJ]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Q]], %[[S]] :
//       CHECK:       %[[A:.+]] = linalg.generic {indexing_maps = [#[[IP]], #[[JP]], #[[IJ]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Q]], %{{.+}} :
//       CHECK:       %[[CAUSAL:.+]] = linalg.generic {{.*}} ins(%[[A]] :
//       CHECK:         arith.cmpi ugt
//       CHECK:         arith.select
//       CHECK:       %[[OUT:.+]] = linalg.generic {indexing_maps = [#[[IP]], #[[PJ]], #[[IJ]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[CAUSAL]], %[[V]] : {{.*}}) outs(%[[QS]] :
//       CHECK:       %[[NEXT:.+]] = linalg.generic {indexing_maps = [#[[PI]], #[[PJ]], #[[IJ]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.+}}, %[[V]] : {{.*}}) outs(%[[S]] :
//       CHECK:       %[[ROWSOUT:.+]] = tensor.insert_slice %[[OUT]] into %[[O]][%[[T0]], 0] [%[[ROWS]], 8]
//       CHECK:       scf.yield %[[NEXT]], %[[ROWSOUT]]
//   CHECK-NOT:   loom.scan
func.func @scan_linear_chunked(%q: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32> {
  %o = loom.scan <linear> %q, %q, %v : (tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}

// -----

// Gated, chunked: the in-chunk cumulative log decay L, the largest |L|
// deciding between the chunked products (Q e^L, K e^-L, K e^(L_last - L),
// e^L_last S) and the chunk's steps one by one.
// CHECK-LABEL: func @scan_gated_chunked
//       CHECK:   scf.for %[[T0:.+]] = %c0 to %c200 step %c64
//       CHECK:     math.log
//       CHECK:     %[[L:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
//       CHECK:       arith.cmpi ugt
//       CHECK:     %[[WORST:.+]] = linalg.generic {{.*}} ins(%[[L]] : tensor<?x16xf32>) outs(%{{.+}} : tensor<f32>)
//       CHECK:       math.absf
//       CHECK:       arith.maximumf
//       CHECK:     %[[W:.+]] = tensor.extract %[[WORST]][]
//       CHECK:     %[[SAFE:.+]] = arith.cmpf ole, %[[W]], %cst
//       CHECK:     scf.if %[[SAFE]] -> (tensor<16x8xf32>, tensor<200x8xf32>)
//       CHECK:       math.exp
//       CHECK:       linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
//       CHECK:     } else {
//       CHECK:       scf.for %{{.+}} = %[[T0]] to %{{.+}} step %c1
//   CHECK-NOT:   loom.scan
func.func @scan_gated_chunked(%q: tensor<2x3x200x16xf32>, %v: tensor<2x3x200x8xf32>) -> tensor<2x3x200x8xf32> {
  %o = loom.scan <gated> %q, %q, %v, %q : (tensor<2x3x200x16xf32>, tensor<2x3x200x16xf32>, tensor<2x3x200x8xf32>, tensor<2x3x200x16xf32>) -> tensor<2x3x200x8xf32>
  return %o : tensor<2x3x200x8xf32>
}

// -----

// Diagonal: channels in tiles of 64 per task; the state is [N, channels]
// (a and b tiles read transposed); h = a * h + b * x, then
// y = sum_n c h.
// CHECK-LABEL: func @scan_diagonal
//       CHECK:   scf.forall (%{{.+}}, %{{.+}}) in (1, 2)
//       CHECK:     scf.for {{.*}} -> (tensor<16x?xf32>, tensor<?x?xf32>)
//       CHECK:       linalg.generic {indexing_maps = [#[[TR:.+]], #[[TR]], #{{.+}}, #{{.+}}], iterator_types = ["parallel", "parallel"]
//       CHECK:       linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]
func.func @scan_diagonal(%x: tensor<1x?x100xf32>, %a: tensor<1x?x100x16xf32>, %c: tensor<1x?x16xf32>) -> tensor<1x?x100xf32> {
  %y = loom.scan <diagonal> %x, %a, %a, %c : (tensor<1x?x100xf32>, tensor<1x?x100x16xf32>, tensor<1x?x100x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x100xf32>
  return %y : tensor<1x?x100xf32>
}

// -----

// Channels that divide into tiles of 64: the tiles are static.
// CHECK-LABEL: func @scan_diagonal_static_tiles
//       CHECK:   scf.forall (%{{.+}}, %{{.+}}) in (1, 2)
//       CHECK:     scf.for {{.*}} -> (tensor<16x64xf32>, tensor<?x64xf32>)
func.func @scan_diagonal_static_tiles(%x: tensor<1x?x128xf32>, %a: tensor<1x?x128x16xf32>, %c: tensor<1x?x16xf32>) -> tensor<1x?x128xf32> {
  %y = loom.scan <diagonal> %x, %a, %a, %c : (tensor<1x?x128xf32>, tensor<1x?x128x16xf32>, tensor<1x?x128x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x128xf32>
  return %y : tensor<1x?x128xf32>
}

// -----

// The folded diagonal form: h = a * h + u, two operands per step and no x.
// CHECK-LABEL: func @scan_diagonal_folded
//       CHECK:   scf.forall (%[[B:arg[0-9]+]], %{{.+}}) in (2, 1)
//       CHECK:     scf.for %[[T:arg[0-9]+]] = {{.*}} -> (tensor<4x?xf32>, tensor<?x?xf32>)
//       CHECK:       %[[AT:.+]] = tensor.extract_slice %arg0[%[[B]], %[[T]]
//       CHECK:       %[[UT:.+]] = tensor.extract_slice %arg1[%[[B]], %[[T]]
//       CHECK:       tensor.extract_slice %arg2[%[[B]], %[[T]]
//       CHECK:       linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]{{.*}} ins(%[[AT]], %[[UT]] : tensor<?x4xf32>, tensor<?x4xf32>)
//       CHECK:         arith.mulf
//  CHECK-NEXT:         arith.addf
//       CHECK:       linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]
//   CHECK-NOT:   loom.scan
func.func @scan_diagonal_folded(%a: tensor<2x?x8x4xf32>, %u: tensor<2x?x8x4xf32>, %c: tensor<2x?x4xf32>) -> tensor<2x?x8xf32> {
  %y = loom.scan <diagonal> %a, %u, %c : (tensor<2x?x8x4xf32>, tensor<2x?x8x4xf32>, tensor<2x?x4xf32>) -> tensor<2x?x8xf32>
  return %y : tensor<2x?x8xf32>
}

// -----

// Elementwise producers of the operands move into the time loop, computed
// per step on the slice the step reads (a = exp(delta * A), u = delta * x):
// no [B, T, D, N] tensor remains. A's own producer (exp of a weight) is read
// by every step, so it stays outside and is computed once.
#d4 = affine_map<(b, t, d, n) -> (b, t, d, n)>
#bcastA = affine_map<(b, t, d, n) -> (d, n)>
#bcastD = affine_map<(b, t, d, n) -> (b, t, d)>
#id2 = affine_map<(d, n) -> (d, n)>
// CHECK-LABEL: func @scan_pulls_producers
//       CHECK:   %[[A:.+]] = linalg.generic {{.*}} ins(%arg2 : tensor<8x4xf32>)
//       CHECK:     math.exp
//       CHECK:   scf.forall
//       CHECK:     scf.for
//       CHECK:       %[[DT:.+]] = tensor.extract_slice %arg0[%{{.+}}, %{{.+}}, %{{.+}}] [1, 1, %{{.+}}] [1, 1, 1] : tensor<2x?x8xf32> to tensor<?xf32>
//       CHECK:       %[[AT:.+]] = tensor.extract_slice %[[A]][%{{.+}}, 0] [%{{.+}}, 4] [1, 1] : tensor<8x4xf32> to tensor<?x4xf32>
//       CHECK:       %[[AS:.+]] = linalg.generic {{.*}} ins(%[[DT]], %[[AT]] : tensor<?xf32>, tensor<?x4xf32>)
//       CHECK:         math.exp
//       CHECK:       %[[XT:.+]] = tensor.extract_slice %arg1
//       CHECK:       %[[US:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[XT]] : tensor<?xf32>, tensor<?xf32>)
//       CHECK:       linalg.generic {{.*}} ins(%[[AS]], %[[US]] : tensor<?x4xf32>, tensor<?x4xf32>)
//   CHECK-NOT:   linalg.generic {{.*}} -> tensor<2x?x8x4xf32>
func.func @scan_pulls_producers(%delta: tensor<2x?x8xf32>, %x: tensor<2x?x8xf32>, %alog: tensor<8x4xf32>, %c: tensor<2x?x4xf32>) -> tensor<2x?x8xf32> {
  %c1 = arith.constant 1 : index
  %t = tensor.dim %delta, %c1 : tensor<2x?x8xf32>
  %e2 = tensor.empty() : tensor<8x4xf32>
  %A = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%alog : tensor<8x4xf32>) outs(%e2 : tensor<8x4xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.exp %v : f32
    %n = arith.negf %r : f32
    linalg.yield %n : f32
  } -> tensor<8x4xf32>
  %e4 = tensor.empty(%t) : tensor<2x?x8x4xf32>
  %a = linalg.generic {indexing_maps = [#bcastD, #bcastA, #d4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%delta, %A : tensor<2x?x8xf32>, tensor<8x4xf32>) outs(%e4 : tensor<2x?x8x4xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %m = arith.mulf %v, %w : f32
    %r = math.exp %m : f32
    linalg.yield %r : f32
  } -> tensor<2x?x8x4xf32>
  %u = linalg.generic {indexing_maps = [#bcastD, #bcastD, #d4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%delta, %x : tensor<2x?x8xf32>, tensor<2x?x8xf32>) outs(%e4 : tensor<2x?x8x4xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %m = arith.mulf %v, %w : f32
    linalg.yield %m : f32
  } -> tensor<2x?x8x4xf32>
  %y = loom.scan <diagonal> %a, %u, %c : (tensor<2x?x8x4xf32>, tensor<2x?x8x4xf32>, tensor<2x?x4xf32>) -> tensor<2x?x8xf32>
  return %y : tensor<2x?x8xf32>
}

// -----

// loom.moe calls the runtime's routed kernel: the input and gates copied
// into fresh buffers (constant weights packed at compile time for the GEMM
// microkernel, flag 1; leading dims are tokens: 2 x S), the four addresses of each expert in a stack array, a new
// output buffer.
// CHECK-LABEL: func @moe
//       CHECK:   arith.constant dense_resource<moe_weight_packed{{.*}}> : tensor<512xf32>
//       CHECK:   %[[X:.+]] = linalg.copy ins(%arg0 : tensor<2x?x16xf32>)
//       CHECK:   %[[S:.+]] = tensor.dim %[[X]], %c1
//       CHECK:   %[[T:.+]] = arith.muli %[[S]], %c2 : index
//       CHECK:   %[[P:.+]] = memref.alloca() : memref<8xi64>
//       CHECK:   bufferization.to_buffer %{{.+}} read_only : tensor<512xf32> to memref<512xf32>
//       CHECK:   memref.store %{{.+}}, %[[P]][%c0]
//       CHECK:   memref.store %c0_i64, %[[P]][%c1]
//       CHECK:   memref.store %{{.+}}, %[[P]][%c7]
//       CHECK:   %[[OUT:.+]] = memref.alloc(%{{.+}}) : memref<2x?x16xf32>
//       CHECK:   call @loomrt_moe_ffn_f32(%{{.+}}, %c16_i64, %c32_i64, %c2_i64, %c2_i64, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %c4_i64, %{{.+}}, %c1_i64) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
//       CHECK:   %[[R:.+]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<2x?x16xf32> to tensor<2x?x16xf32>
//       CHECK:   return %[[R]]
func.func @moe(%x: tensor<2x?x16xf32>, %w: tensor<2x?x2xf32>, %i: tensor<2x?x2xi64>) -> tensor<2x?x16xf32> {
  %w1 = arith.constant dense<1.0> : tensor<16x32xf32>
  %w2 = arith.constant dense<2.0> : tensor<32x16xf32>
  %0 = loom.moe %x, %w, %i experts(%w1, %w2, %w1, %w2) {activation = #loom.activation<silu>, num_experts = 2 : i64} : (tensor<2x?x16xf32>, tensor<2x?x2xf32>, tensor<2x?x2xi64>, tensor<16x32xf32>, tensor<32x16xf32>, tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<2x?x16xf32>
  return %0 : tensor<2x?x16xf32>
}

// -----

// Token mixing: two contractions over the sequence axis that read the input
// and the hidden tensor transposed through their maps, each with its bias;
// the GELU lowered as loom.gelu is.
// CHECK-DAG: #[[IN:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[W:.+]] = affine_map<(d0, d1, d2, d3) -> (d3, d1)>
// CHECK-LABEL: func @token_mixing
//       CHECK:   %[[H:.+]] = linalg.generic {indexing_maps = [#[[IN]], #[[W]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %arg1 : tensor<2x8x4xf32>, tensor<8x16xf32>) outs(%{{.+}} : tensor<2x16x4xf32>)
//       CHECK:   linalg.generic {{.*}} ins(%[[H]], %arg3 : tensor<2x16x4xf32>, tensor<16xf32>)
//       CHECK:     arith.addf
//       CHECK:   math.erf
//       CHECK:   %[[O:.+]] = linalg.generic {indexing_maps = [#[[IN]], #[[W]], #{{.+}}], {{.*}} outs(%{{.+}} : tensor<2x8x4xf32>)
//       CHECK:   linalg.generic {{.*}} ins(%[[O]], %arg4 : tensor<2x8x4xf32>, tensor<8xf32>)
//   CHECK-NOT:   loom.
func.func @token_mixing(%x: tensor<2x8x4xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>, %b1: tensor<16xf32>, %b2: tensor<8xf32>) -> tensor<2x8x4xf32> {
  %0 = loom.token_mixing %x, %w1, %w2 bias(%b1, %b2) {activation = #loom.activation<gelu>} : (tensor<2x8x4xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<16xf32>, tensor<8xf32>) -> tensor<2x8x4xf32>
  return %0 : tensor<2x8x4xf32>
}

// -----

// DeltaNet is sequential by default; with scan-chunk-delta, the chunked
// form: the Gram matrix made strictly lower and scaled by beta, a forward
// substitution over the chunk's rows for U and W, the pseudo values U - W S,
// then the linear chunk.
// CHECK-LABEL: func @scan_delta
//       CHECK:   scf.for %{{.+}} = %c0 to %c200 step %c1
//   CHECK-NOT:   scf.for %
//       CHECK:   return
// DELTA-LABEL: func @scan_delta
//       DELTA:   scf.for %[[T0:.+]] = %c0 to %c200 step %c32
//       DELTA:     %[[GRAM:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
//       DELTA:     linalg.generic {{.*}} ins(%[[GRAM]], %{{.+}} :
//       DELTA:       arith.cmpi ult
//       DELTA:     %[[SOLVE:.+]]:2 = scf.for %[[I:.+]] = %c0 to %{{.+}} step %c1
//       DELTA:       linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]
//       DELTA:         arith.subf
//       DELTA:       tensor.insert_slice %{{.+}} into %{{.+}}[%[[I]], 0] [1, 8]
//       DELTA:       tensor.insert_slice %{{.+}} into %{{.+}}[%[[I]], 0] [1, 16]
//       DELTA:     %[[WS:.+]] = linalg.generic {{.*}} ins(%[[SOLVE]]#1,
//       DELTA:     linalg.generic {{.*}} ins(%[[SOLVE]]#0, %[[WS]] :
//       DELTA:       arith.subf
//       DELTA:     scf.yield
func.func @scan_delta(%q: tensor<2x3x200x16xf32>, %v: tensor<2x3x200x8xf32>, %beta: tensor<2x3x200xf32>) -> tensor<2x3x200x8xf32> {
  %o = loom.scan <delta> %q, %q, %v, %beta : (tensor<2x3x200x16xf32>, tensor<2x3x200x16xf32>, tensor<2x3x200x8xf32>, tensor<2x3x200xf32>) -> tensor<2x3x200x8xf32>
  return %o : tensor<2x3x200x8xf32>
}

// -----

// Monarch: the last dim split into K blocks of P (dynamic leading dims kept),
// a contraction batched over blocks, one batched over the other factor's
// blocks reading the first's result transposed, then the permutation and
// the merge of [S, Q] into the last dim.
// CHECK-DAG: #[[X:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-DAG: #[[W:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d2, d4, d3)>
// CHECK-DAG: #[[OUT:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[ZT:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d4, d2)>
// CHECK-LABEL: func @monarch
//       CHECK:   %[[BLOCKS:.+]] = tensor.expand_shape %arg0 {{\[}}[0], [1], [2, 3]] output_shape [%{{.+}}, %{{.+}}, 4, 8] : tensor<?x?x32xf32> into tensor<?x?x4x8xf32>
//       CHECK:   %[[Z:.+]] = linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[BLOCKS]], %arg1 :
//       CHECK:   %[[Y:.+]] = linalg.generic {indexing_maps = [#[[ZT]], #[[W]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[Z]], %arg2 : {{.*}}) outs(%{{.+}} : tensor<?x?x8x4xf32>)
//       CHECK:   %[[P:.+]] = linalg.transpose ins(%[[Y]] : tensor<?x?x8x4xf32>) outs(%{{.+}} : tensor<?x?x4x8xf32>) permutation = [0, 1, 3, 2]
//       CHECK:   tensor.collapse_shape %[[P]] {{\[}}[0], [1], [2, 3]] : tensor<?x?x4x8xf32> into tensor<?x?x32xf32>
func.func @monarch(%x: tensor<?x?x32xf32>, %w1: tensor<4x8x8xf32>, %w2: tensor<8x4x4xf32>) -> tensor<?x?x32xf32> {
  %0 = loom.monarch %x, %w1, %w2 : (tensor<?x?x32xf32>, tensor<4x8x8xf32>, tensor<8x4x4xf32>) -> tensor<?x?x32xf32>
  return %0 : tensor<?x?x32xf32>
}

// -----

// An int8-weight product is a call of the runtime's kernel on the rows (the
// leading dims' product), the int8 weights, the scales and a new buffer.
// CHECK-LABEL: func @quantized_matmul
//       CHECK:   %[[X:.+]] = linalg.copy ins(%arg0 : tensor<?x10x64xf32>)
//       CHECK:   %[[B:.+]] = tensor.dim %[[X]], %c0
//       CHECK:   %[[ROWS:.+]] = arith.muli %[[B]], %c10
//       CHECK:   %[[OUT:.+]] = memref.alloc(%{{.+}}) : memref<?x10x48xf32>
//       CHECK:   call @loomrt_qgemm_w8_f32(%{{.+}}, %c48_i64, %c64_i64, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (i64, i64, i64, i64, i64, i64, i64) -> ()
//       CHECK:   bufferization.to_tensor %[[OUT]] restrict writable
func.func @quantized_matmul(%x: tensor<?x10x64xf32>, %w: tensor<64x48xi8>, %s: tensor<48xf32>) -> tensor<?x10x48xf32> {
  %0 = loom.quantized_matmul %x, %w, %s : (tensor<?x10x64xf32>, tensor<64x48xi8>, tensor<48xf32>) -> tensor<?x10x48xf32>
  return %0 : tensor<?x10x48xf32>
}

// -----

// W8A8 with weights that are function arguments: the kernel packs them per
// call (flags 0, no column sums); no input_scale (dynamic, per row) is a
// null address, zero point 0.
// CHECK-LABEL: func @w8a8_matmul_args
//       CHECK:   %[[OUT:.+]] = memref.alloc() : memref<5x48xf32>
//       CHECK:   call @loomrt_igemm_f32(%{{.+}}, %c48_i64, %c64_i64, %{{.+}}, %{{.+}}, %{{.+}}, %c0_i64, %c0_i64, %c0_i64, %{{.+}}, %c0_i64) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
func.func @w8a8_matmul_args(%x: tensor<5x64xf32>, %w: tensor<64x48xi8>, %s: tensor<48xf32>) -> tensor<5x48xf32> {
  %0 = loom.quantized_matmul %x, %w, %s {input_bits = 8 : i64} : (tensor<5x64xf32>, tensor<64x48xi8>, tensor<48xf32>) -> tensor<5x48xf32>
  return %0 : tensor<5x48xf32>
}

// -----

// Constant W8A8 weights are packed at compile time, four rows of a column
// side by side in panels of 16 columns (K = 6 pads to 8, N = 20 to 32: 256
// bytes), with their column sums (32); a static input scale is a constant
// passed by address, the zero point by value, flags 1 (packed).
// CHECK-LABEL: func @w8a8_matmul_constants
//   CHECK-DAG:   arith.constant dense_resource<w8a8_weight_packed> : tensor<256xi8>
//   CHECK-DAG:   arith.constant dense_resource<w8a8_column_sums> : tensor<32xi32>
//   CHECK-DAG:   arith.constant dense<2.500000e-01> : tensor<1xf32>
//       CHECK:   call @loomrt_igemm_f32(%{{.+}}, %c20_i64, %c6_i64, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %c128_i64, %{{.+}}, %c1_i64)
func.func @w8a8_matmul_constants(%x: tensor<3x6xf32>) -> tensor<3x20xf32> {
  %w = arith.constant dense<-3> : tensor<6x20xi8>
  %s = arith.constant dense<0.5> : tensor<20xf32>
  %0 = loom.quantized_matmul %x, %w, %s {input_bits = 8 : i64, input_scale = 0.25 : f32, input_zero_point = 128 : i64} : (tensor<3x6xf32>, tensor<6x20xi8>, tensor<20xf32>) -> tensor<3x20xf32>
  return %0 : tensor<3x20xf32>
}

// -----

// W4A8 (4-bit weights, 8-bit inputs): constant weights, fp16 scales and
// zero points are packed at compile time in loomrt_i4gemm_pack's layout
// (K = 40 pads to 5 chunks of 8 rows, N = 20 to 2 panels of 16: 640 bytes;
// 2 groups x 32 columns of scales and zero points), flags 1 (packed, fp16
// scales); arguments go as they are (flags 0).
// CHECK-LABEL: func @w4a8_matmul_constants
//   CHECK-DAG:   arith.constant dense_resource<w4a8_weight_packed> : tensor<640xi8>
//   CHECK-DAG:   arith.constant dense_resource<w4a8_scale_packed> : tensor<64xf16>
//   CHECK-DAG:   arith.constant dense_resource<w4a8_zero_packed> : tensor<64xi8>
//       CHECK:   call @loomrt_i4gemm_f32(%{{.+}}, %c20_i64, %c40_i64, %c32_i64, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %c1_i64)
// CHECK-LABEL: func @w4a8_matmul_args
//       CHECK:   call @loomrt_i4gemm_f32(%{{.+}}, %c48_i64, %c64_i64, %c16_i64, %{{.+}}, %{{.+}}, %{{.+}}, %c0_i64, %{{.+}}, %c0_i64)
func.func @w4a8_matmul_constants(%x: tensor<3x40xf32>) -> tensor<3x20xf32> {
  %w = arith.constant dense<37> : tensor<20x20xi8>
  %s = arith.constant dense<0.5> : tensor<2x20xf16>
  %z = arith.constant dense<7> : tensor<2x20xi8>
  %0 = loom.quantized_matmul %x, %w, %s zero_point %z {bits = 4 : i64, group_size = 32 : i64, input_bits = 8 : i64} : (tensor<3x40xf32>, tensor<20x20xi8>, tensor<2x20xf16>, tensor<2x20xi8>) -> tensor<3x20xf32>
  return %0 : tensor<3x20xf32>
}

func.func @w4a8_matmul_args(%x: tensor<5x64xf32>, %w: tensor<32x48xi8>, %s: tensor<4x48xf16>) -> tensor<5x48xf32> {
  %0 = loom.quantized_matmul %x, %w, %s {bits = 4 : i64, group_size = 16 : i64, input_bits = 8 : i64} : (tensor<5x64xf32>, tensor<32x48xi8>, tensor<4x48xf16>) -> tensor<5x48xf32>
  return %0 : tensor<5x48xf32>
}

// -----

// 4-bit weights that are function arguments go to the kernel as they are
// (flags 0: it packs them per call); no zero points is a null address.
// CHECK-LABEL: func @quantized4_matmul_args
//       CHECK:   %[[OUT:.+]] = memref.alloc() : memref<6x48xf32>
//       CHECK:   call @loomrt_qgemm_w4_f32(%{{.+}}, %c48_i64, %c64_i64, %c32_i64, %{{.+}}, %{{.+}}, %{{.+}}, %c0_i64, %{{.+}}, %c0_i64) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
func.func @quantized4_matmul_args(%x: tensor<6x64xf32>, %w: tensor<32x48xi8>, %s: tensor<2x48xf16>) -> tensor<6x48xf32> {
  %0 = loom.quantized_matmul %x, %w, %s {bits = 4 : i64, group_size = 32 : i64} : (tensor<6x64xf32>, tensor<32x48xi8>, tensor<2x48xf16>) -> tensor<6x48xf32>
  return %0 : tensor<6x48xf32>
}

// -----

// Constant 4-bit weights, scales and zero points are packed at compile time
// into panels of 32 columns (N = 40 pads to 64: 2 panels x 2 byte rows x
// 32 = 128 bytes; 2 panels x 1 group x 32 = 64 scales, zero points two per
// byte: 32 bytes) and the call says so (flags 1).
// CHECK-LABEL: func @quantized4_matmul_constants
//   CHECK-DAG:   arith.constant dense_resource<int4_weight_packed> : tensor<128xi8>
//   CHECK-DAG:   arith.constant dense_resource<int4_scale_packed> : tensor<64xf16>
//   CHECK-DAG:   arith.constant dense_resource<int4_zero_packed> : tensor<32xi8>
//       CHECK:   call @loomrt_qgemm_w4_f32(%{{.+}}, %c40_i64, %c4_i64, %c4_i64, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %c1_i64)
func.func @quantized4_matmul_constants(%x: tensor<3x4xf32>) -> tensor<3x40xf32> {
  %w = arith.constant dense<17> : tensor<2x40xi8>
  %s = arith.constant dense<0.5> : tensor<1x40xf16>
  %z = arith.constant dense<3> : tensor<1x40xi8>
  %0 = loom.quantized_matmul %x, %w, %s zero_point %z {bits = 4 : i64, group_size = 4 : i64} : (tensor<3x4xf32>, tensor<2x40xi8>, tensor<1x40xf16>, tensor<1x40xi8>) -> tensor<3x40xf32>
  return %0 : tensor<3x40xf32>
}

// -----

// Block-sparse constants are packed at compile time into the kernel's
// panels of 16 columns: N = 20 is 2 panels; block column 0 (columns 0-15)
// holds block rows 0 and 1, block column 1 (columns 16-19) block row 1: 3
// blocks of 2 x 16, so the index holds 2 + 1 offsets and 3 block rows and
// the data 3 x 2 x 16 floats.
// CHECK-LABEL: func @sparse_matmul_block
//   CHECK-DAG:   arith.constant dense_resource<sparse_block_index_packed> : tensor<6xi32>
//   CHECK-DAG:   arith.constant dense_resource<sparse_block_data_packed> : tensor<96xf32>
//       CHECK:   %[[OUT:.+]] = memref.alloc() : memref<3x20xf32>
//       CHECK:   call @loomrt_bsgemm_f32(%{{.+}}, %c20_i64, %c4_i64, %c2_i64, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
//       CHECK:   bufferization.to_tensor %[[OUT]] restrict writable
func.func @sparse_matmul_block(%x: tensor<3x4xf32>) -> tensor<3x20xf32> {
  %v = arith.constant dense<1.0> : tensor<3x2x16xf32>
  %r = arith.constant dense<[0, 1, 1]> : tensor<3xi32>
  %o = arith.constant dense<[0, 2, 3]> : tensor<3xi32>
  %0 = loom.sparse_matmul %x, %v, %r offsets %o {format = "block", block = array<i64: 2, 16>, columns = 20 : i64} : (tensor<3x4xf32>, tensor<3x2x16xf32>, tensor<3xi32>, tensor<3xi32>) -> tensor<3x20xf32>
  return %0 : tensor<3x20xf32>
}

// -----

// 2:4 constants: K = 8 is 2 groups; N = 20 pads to 2 panels of 16: 2 x 2
// x 32 floats and 2 x 2 x 2 metadata words.
// CHECK-LABEL: func @sparse_matmul_2_4
//   CHECK-DAG:   arith.constant dense_resource<sparse_2_4_data_packed> : tensor<128xf32>
//   CHECK-DAG:   arith.constant dense_resource<sparse_2_4_meta_packed> : tensor<8xi32>
//       CHECK:   %[[X:.+]] = linalg.copy ins(%arg0 : tensor<?x8xf32>)
//       CHECK:   %[[ROWS:.+]] = tensor.dim %[[X]], %c0
//       CHECK:   call @loomrt_sgemm24_f32(%{{.+}}, %c20_i64, %c8_i64, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (i64, i64, i64, i64, i64, i64, i64) -> ()
func.func @sparse_matmul_2_4(%x: tensor<?x8xf32>) -> tensor<?x20xf32> {
  %v = arith.constant dense<1.0> : tensor<4x20xf32>
  %i = arith.constant dense<9> : tensor<2x20xi8>
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 20 : i64} : (tensor<?x8xf32>, tensor<4x20xf32>, tensor<2x20xi8>) -> tensor<?x20xf32>
  return %0 : tensor<?x20xf32>
}

// -----

// ONNX Softmax as imported (linalg.softmax): with softmax-calls, over the
// last axis of an f32 tensor, the row kernel's call (dynamic rows 2 * ?, 10
// columns, kind 2, into a fresh buffer); over another axis, or f16,
// decomposed as without the option.
// SOFTMAX-LABEL: func @softmax_ops
//       SOFTMAX:   tensor.empty
//       SOFTMAX:   %[[D:.*]] = tensor.dim %arg0, %c1
//       SOFTMAX:   %[[ROWS:.*]] = arith.muli %[[D]], %c2
//       SOFTMAX:   memref.alloc(%[[D]]) : memref<2x?x10xf32>
//       SOFTMAX:   %[[R64:.*]] = arith.index_cast %[[ROWS]] : index to i64
//       SOFTMAX:   call @loomrt_norm_f32(%[[R64]], %c10_i64, %{{.*}}, %{{.*}}, %c0_i64, %c0_i64, %c0_i64, %c2_i64)
//   SOFTMAX-NOT:   call @loomrt_norm_f32
//       SOFTMAX:   math.exp
//       SOFTMAX:   math.exp
//   SOFTMAX-NOT:   linalg.softmax
// CHECK-LABEL: func @softmax_ops
//   CHECK-NOT:   call
//   CHECK-NOT:   linalg.softmax
func.func @softmax_ops(%x: tensor<2x?x10xf32>, %h: tensor<4x8xf16>) -> (tensor<2x?x10xf32>, tensor<2x?x10xf32>, tensor<4x8xf16>) {
  %c1 = arith.constant 1 : index
  %d = tensor.dim %x, %c1 : tensor<2x?x10xf32>
  %e0 = tensor.empty(%d) : tensor<2x?x10xf32>
  %a = linalg.softmax dimension(2) ins(%x : tensor<2x?x10xf32>) outs(%e0 : tensor<2x?x10xf32>) -> tensor<2x?x10xf32>
  %b = linalg.softmax dimension(1) ins(%x : tensor<2x?x10xf32>) outs(%e0 : tensor<2x?x10xf32>) -> tensor<2x?x10xf32>
  %e1 = tensor.empty() : tensor<4x8xf16>
  %c = linalg.softmax dimension(1) ins(%h : tensor<4x8xf16>) outs(%e1 : tensor<4x8xf16>) -> tensor<4x8xf16>
  return %a, %b, %c : tensor<2x?x10xf32>, tensor<2x?x10xf32>, tensor<4x8xf16>
}
