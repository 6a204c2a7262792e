// RUN: loom-opt %s -split-input-file --loom-tile-attention="tile-q=32 tile-kv=16 kv-splits=1" | FileCheck %s
// RUN: loom-opt %s -split-input-file --loom-tile-attention="tile-q=32 causal-tile-q=8 tile-kv=16 kv-splits=1" | FileCheck %s --check-prefix=CTILE
// RUN: loom-opt %s -split-input-file --loom-tile-attention="kv-splits=4" | FileCheck %s --check-prefix=SPLIT
// RUN: loom-opt %s -split-input-file --loom-tile-attention="only-routed=true" | FileCheck %s --check-prefix=ONLY
// RUN: loom-opt %s -split-input-file --loom-tile-attention="runtime-kernel=true" | FileCheck %s --check-prefix=KERNEL
// RUN: loom-opt %s -split-input-file --loom-tile-attention="only-routed=true gpu-kernel=true" | FileCheck %s --check-prefix=GPU
// RUN: not loom-opt %s -split-input-file --loom-tile-attention="tile-q=0" 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: tile-q, tile-kv and kv-splits must be positive, causal-tile-q not negative

// Causal self-attention: a forall over (batch, head, query tile); the key
// loop of a tile ends at the last key its rows see (fully masked tiles are
// skipped), and carries the online-softmax state (max, sum, output).
// CHECK-LABEL: func @causal
//       CHECK:   %[[SQ:.+]] = tensor.dim %arg0, %c2
//       CHECK:   %[[SKV:.+]] = tensor.dim %arg1, %c2
//       CHECK:   %[[NT:.+]] = arith.ceildivui %[[SQ]], %c32
//       CHECK:   %[[OFF:.+]] = arith.subi %[[SKV]], %[[SQ]]
//       CHECK:   scf.forall (%[[B:.+]], %[[H:.+]], %[[T:.+]]) in (1, 4, %[[NT]])
//       CHECK:     %[[Q0:.+]] = arith.muli %[[T]], %c32
//       CHECK:     %[[ROWS:.+]] = arith.minui {{.*}}, %c32
//       CHECK:     %[[QT:.+]] = tensor.extract_slice %arg0[%[[B]], %[[H]], %[[Q0]], 0] [1, 1, %[[ROWS]], 64]
// The scale multiplies the query tile once, not every tile of scores.
//       CHECK:     linalg.generic {{.*}} ins(%[[QT]] : tensor<?x64xf32>)
//       CHECK:       arith.mulf %{{.+}}, %cst
//       CHECK:     %[[END0:.+]] = arith.addi %[[Q0]], %[[ROWS]]
//       CHECK:     %[[END1:.+]] = arith.addi %[[END0]], %[[OFF]]
//       CHECK:     %[[END2:.+]] = arith.maxsi %[[END1]], %c0
//       CHECK:     %[[END:.+]] = arith.minsi %[[SKV]], %[[END2]]
//       CHECK:     scf.for %{{.+}} = %c0 to %[[END]] step %c16 iter_args({{.*}}) -> (tensor<?xf32>, tensor<?xf32>, tensor<?x64xf32>)
//       CHECK:       linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
//       CHECK:       arith.cmpi sgt
//       CHECK:       arith.maximumf
//       CHECK:       math.exp
//       CHECK:       math.exp
//       CHECK:       scf.yield
//       CHECK:     arith.divf
//       CHECK:     scf.forall.in_parallel
//       CHECK:       tensor.parallel_insert_slice
//   CHECK-NOT:   loom.attention
// causal-tile-q: causal tiles of 8 query rows, other ops keep tile-q.
// CTILE-LABEL: func @causal
//       CTILE:   arith.ceildivui %{{.+}}, %c8
//       CTILE:   scf.forall
//       CTILE:     arith.muli %{{.+}}, %c8
// CTILE-LABEL: func @gqa
//       CTILE:   scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (2, 8, 4)
func.func @causal(%q: tensor<1x4x?x64xf32>, %k: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x64xf32>) -> tensor<1x4x?x64xf32> {
  %o = loom.attention %q, %k, %v {causal} : (tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>) -> tensor<1x4x?x64xf32>
  return %o : tensor<1x4x?x64xf32>
}

// -----

// Grouped-query heads read key/value head h / 4; no causal bound: the key
// loop runs over all keys, and with no mask the scores go straight from the
// product into the row max (no elementwise pass over them).
// CHECK-LABEL: func @gqa
//       CHECK:   scf.forall (%[[B:.+]], %[[H:.+]], %{{.+}}) in (2, 8, 4)
//       CHECK:     %[[KVH:.+]] = arith.divui %[[H]], %c4
//       CHECK:     scf.for %{{.+}} = %c0 to %c128 step %c16
//       CHECK:       tensor.extract_slice %arg1[%[[B]], %[[KVH]],
//       CHECK:       tensor.extract_slice %arg2[%[[B]], %[[KVH]],
//       CHECK:       linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
//  CHECK-NEXT:         ^bb0
//  CHECK-NEXT:           arith.mulf
//  CHECK-NEXT:           arith.addf
//  CHECK-NEXT:           linalg.yield
//  CHECK-NEXT:       } -> tensor<?x?xf32>
//  CHECK-NEXT:       linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
//  CHECK-NEXT:         ^bb0
//  CHECK-NEXT:           arith.maximumf
//   CHECK-NOT:       arith.cmpi sgt
//       CHECK:       scf.yield
func.func @gqa(%q: tensor<2x8x128x16xf32>, %k: tensor<2x2x128x16xf32>, %v: tensor<2x2x128x16xf32>) -> tensor<2x8x128x16xf32> {
  %o = loom.attention %q, %k, %v {num_kv_heads = 2 : i64} : (tensor<2x8x128x16xf32>, tensor<2x2x128x16xf32>, tensor<2x2x128x16xf32>) -> tensor<2x8x128x16xf32>
  return %o : tensor<2x8x128x16xf32>
}

// -----

// A mask broadcast over heads and query rows: its tile is the key range of
// the step in the batch's row, read with a broadcasting map.
// CHECK-DAG:   #[[MASKMAP:.+]] = affine_map<(d0, d1) -> (0, 0, d1)>
// CHECK-LABEL: func @mask_rank3
//       CHECK:   scf.forall (%[[B:.+]], %{{.+}}) in (3, 1)
//       CHECK:     scf.for %[[K0:.+]] = %c0 to %c40 step %c16
//       CHECK:       %[[COLS:.+]] = arith.minui {{.*}}, %c16
//       CHECK:       %[[M:.+]] = tensor.extract_slice %arg3[%[[B]], 0, %[[K0]]] [1, 1, %[[COLS]]]
//       CHECK:       linalg.generic {indexing_maps = [#{{.+}}, #[[MASKMAP]], #{{.+}}]{{.*}} ins(%{{.+}}, %[[M]] :
func.func @mask_rank3(%q: tensor<3x20x8xf32>, %k: tensor<3x40x8xf32>, %v: tensor<3x40x8xf32>, %m: tensor<3x1x40xf32>) -> tensor<3x20x8xf32> {
  %o = loom.attention %q, %k, %v mask %m {scale = 5.000000e-01 : f32} : (tensor<3x20x8xf32>, tensor<3x40x8xf32>, tensor<3x40x8xf32>, tensor<3x1x40xf32>) -> tensor<3x20x8xf32>
  return %o : tensor<3x20x8xf32>
}

// -----

// Decoding (one static query tile): the forall's last dim is the key range;
// each range keeps its partial max, sum and output, and a merge rescales and
// sums them.
// SPLIT-LABEL: func @decode
//       SPLIT:   %[[PER:.+]] = arith.ceildivui %{{.+}}, %c4
//       SPLIT:   %[[TILES:.+]] = arith.ceildivui %[[PER]], %c16
//       SPLIT:   %[[CHUNK:.+]] = arith.muli %[[TILES]], %c16
//       SPLIT:   %[[P:.+]]:3 = scf.forall (%{{.+}}, %{{.+}}, %[[R:.+]]) in (1, 8, 4) shared_outs({{.*}}) -> (tensor<1x8x4x1xf32>, tensor<1x8x4x1xf32>, tensor<1x8x4x1x64xf32>)
//       SPLIT:     %[[BEGIN:.+]] = arith.muli %[[R]], %[[CHUNK]]
//       SPLIT:     %[[END0:.+]] = arith.addi %[[BEGIN]], %[[CHUNK]]
//       SPLIT:     %[[END:.+]] = arith.minsi %{{.+}}, %[[END0]]
//       SPLIT:     scf.for %{{.+}} = %[[BEGIN]] to %[[END]] step %c512
//       SPLIT:     scf.forall.in_parallel
//  SPLIT-COUNT-3:     tensor.parallel_insert_slice
//       SPLIT:   linalg.generic {{.*}} ins(%[[P]]#0 :
//       SPLIT:     arith.maximumf
//       SPLIT:   linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}} ins(%[[P]]#0, %[[P]]#1,
//       SPLIT:   linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]{{.*}} ins(%[[P]]#0, %{{.+}}, %[[P]]#2 :
//       SPLIT:   arith.divf
func.func @decode(%q: tensor<1x8x1x64xf32>, %k: tensor<1x8x?x64xf32>, %v: tensor<1x8x?x64xf32>) -> tensor<1x8x1x64xf32> {
  %o = loom.attention %q, %k, %v {causal} : (tensor<1x8x1x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x8x1x64xf32>
  return %o : tensor<1x8x1x64xf32>
}

// -----

// 32 static queries fit one tile but are not a decoding step: no key split.
// SPLIT-LABEL: func @prefill
//   SPLIT-NOT:   arith.ceildivui
//       SPLIT:   scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (1, 8, 1) shared_outs({{.*}}) -> (tensor<1x8x32x64xf32>)
//   SPLIT-NOT:   tensor<1x8x4x32xf32>
//       SPLIT:   return
func.func @prefill(%q: tensor<1x8x32x64xf32>, %k: tensor<1x8x?x64xf32>, %v: tensor<1x8x?x64xf32>) -> tensor<1x8x32x64xf32> {
  %o = loom.attention %q, %k, %v {causal} : (tensor<1x8x32x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x8x32x64xf32>
  return %o : tensor<1x8x32x64xf32>
}

// -----

// A sliding window of 8 (no causal mask): a query tile's key loop runs from
// its first row's position - 7 to its last row's position + 7 (clamped to
// the keys), and the score tile masks keys with j + 8 <= pos or
// j >= pos + 8.
// CHECK-LABEL: func @window
//       CHECK:   scf.forall (%{{.+}}, %{{.+}}, %[[T:.+]]) in (1, 2, 4)
//       CHECK:     %[[Q0:.+]] = arith.muli %[[T]], %c32
//       CHECK:     %[[ROWS:.+]] = arith.minui {{.*}}, %c32
//       CHECK:     %[[E0:.+]] = arith.addi %[[Q0]], %[[ROWS]]
//       CHECK:     %[[E1:.+]] = arith.addi %[[E0]], %c7
//       CHECK:     %[[E2:.+]] = arith.maxsi %[[E1]], %c0
//       CHECK:     %[[END:.+]] = arith.minsi %[[E2]], %c100
//       CHECK:     %[[F0:.+]] = arith.subi %[[Q0]], %c7
//       CHECK:     %[[F1:.+]] = arith.maxsi %[[F0]], %c0
//       CHECK:     %[[FIRST:.+]] = arith.minsi %[[F1]], %[[END]]
//       CHECK:     scf.for %{{.+}} = %[[FIRST]] to %[[END]] step %c16
//       CHECK:       arith.cmpi sle
//       CHECK:       arith.cmpi sge
//       CHECK:       arith.ori
func.func @window(%q: tensor<1x2x100x64xf32>, %k: tensor<1x2x100x64xf32>, %v: tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32> {
  %o = loom.attention %q, %k, %v {window = 8 : i64} : (tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32>
  return %o : tensor<1x2x100x64xf32>
}

// -----

// Block-sparse (blocks of 16, 1 local, 1 global): a query tile visits two
// key ranges one after the other, carrying the softmax state: the global
// keys [0, 16) (every key when the tile holds a global query block), then
// the blocks within 1 of its first and last rows' blocks; the score tile
// masks keys of blocks that are neither global nor near.
// CHECK-LABEL: func @block_sparse
//       CHECK:     %[[QBF:.+]] = arith.floordivsi %{{.+}}, %c16
//       CHECK:     %[[QBL:.+]] = arith.floordivsi %{{.+}}, %c16
//       CHECK:     %[[GLOBAL:.+]] = arith.cmpi slt, %[[QBF]], %c1
//       CHECK:     %[[AEND:.+]] = arith.select %[[GLOBAL]]
//       CHECK:     %[[A:.+]]:3 = scf.for %{{.+}} = %c0 to %[[AEND]] step %c16
//       CHECK:     scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c16 iter_args(%{{.+}} = %[[A]]#0, %{{.+}} = %[[A]]#1, %{{.+}} = %[[A]]#2)
//       CHECK:       arith.floordivsi
//       CHECK:       arith.andi
func.func @block_sparse(%q: tensor<1x2x100x64xf32>, %k: tensor<1x2x100x64xf32>, %v: tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32> {
  %o = loom.attention %q, %k, %v {block_sparse = array<i64: 16, 1, 1>} : (tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32>
  return %o : tensor<1x2x100x64xf32>
}

// -----

// Routed (blocks of 16, 2 key blocks): one query block per tile (100 rows:
// 7 tiles); the tile's query sum scores every key block's mean (keys
// padded to whole blocks, viewed as [blocks, 16]), 2 rounds of argmax pick
// the blocks (-1 when none is left), and the key loop runs over the 2
// choices, skipping a -1.
// CHECK-LABEL: func @routed
//       CHECK:   scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (1, 2, 7)
//       CHECK:     tensor.expand_shape {{.*}} : tensor<?xf32> into tensor<?x16xf32>
//       CHECK:     %[[CHOSEN:.+]]:2 = scf.for %{{.+}} = %c0 to %c2 step %c1
//       CHECK:       arith.cmpf ogt
//       CHECK:       tensor.insert
//       CHECK:     scf.for %[[T:.+]] = %c0 to %c2 step %c1
//       CHECK:       %[[KB:.+]] = tensor.extract %[[CHOSEN]]#1[%[[T]]]
//       CHECK:       %[[VALID:.+]] = arith.cmpi sge, %[[KB]], %c0
//       CHECK:       scf.if %[[VALID]]
//       CHECK:         arith.muli %[[KB]], %c16
// With only-routed, plain attention is left for the untiled lowering.
// ONLY-LABEL: func @routed
//   ONLY-NOT:   loom.attention
// ONLY-LABEL: func @plain
//       ONLY:   loom.attention
func.func @routed(%q: tensor<1x2x100x64xf32>, %k: tensor<1x2x100x64xf32>, %v: tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32> {
  %o = loom.attention %q, %k, %v {routed = array<i64: 16, 2>} : (tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32>
  return %o : tensor<1x2x100x64xf32>
}

func.func @plain(%q: tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32> {
  %o = loom.attention %q, %q, %q : (tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32>
  return %o : tensor<1x2x100x64xf32>
}

// -----

// score_quant_block = 32 with key tiles of 16: the key loop steps by 32 (a
// tile holds whole blocks), the causal end of a query tile is rounded up to
// a whole block (the block's maximum counts the keys the mask hides, as in
// the untiled form), and each tile's scores are quantized blockwise (block
// maxima indexed j floordiv 32) before the causal select. A decoding step
// is not split into key ranges (a range boundary could cut a block).
//       CHECK: #[[BLK:map[0-9]*]] = affine_map<(d0, d1) -> (d0, d1 floordiv 32)>
// CHECK-LABEL: func @score_quant
//       CHECK:   %[[END:.+]] = arith.minsi %{{.+}}, %{{.+}} : index
//       CHECK:   %[[NB:.+]] = arith.ceildivsi %[[END]], %c32
//       CHECK:   %[[UP:.+]] = arith.muli %[[NB]], %c32
//       CHECK:   %[[KVEND:.+]] = arith.minsi %{{.+}}, %[[UP]]
//       CHECK:   scf.for %{{.+}} = %c0 to %[[KVEND]] step %c32
//       CHECK:     %[[S:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %{{.+}} : tensor<?x16xf32>, tensor<16x?xf32>)
//       CHECK:     %[[M:.+]] = linalg.generic {indexing_maps = [#{{.+}}, #[[BLK]]], iterator_types = ["parallel", "reduction"]} ins(%[[S]] : tensor<?x?xf32>)
//       CHECK:     %[[Q:.+]] = linalg.generic {indexing_maps = [#{{.+}}, #[[BLK]], #{{.+}}], {{.*}} ins(%[[S]], %[[M]] : tensor<?x?xf32>, tensor<?x?xf32>)
//       CHECK:       math.roundeven
//       CHECK:     linalg.generic {{.*}} ins(%[[Q]] : tensor<?x?xf32>)
//       CHECK:       arith.cmpi sgt
// SPLIT-LABEL: func @score_quant_decode
//   SPLIT-NOT:   scf.forall ({{.*}}) in (1, 8, 4)
//       SPLIT:   return
func.func @score_quant(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32> {
  %0 = loom.attention %q, %k, %k {causal, score_quant_block = 32 : i64} : (tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32>
  return %0 : tensor<1x2x?x16xf32>
}

func.func @score_quant_decode(%q: tensor<1x8x1x64xf32>, %k: tensor<1x8x?x64xf32>) -> tensor<1x8x1x64xf32> {
  %0 = loom.attention %q, %k, %k {causal, score_quant_block = 32 : i64} : (tensor<1x8x1x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x8x1x64xf32>
  return %0 : tensor<1x8x1x64xf32>
}

// -----

// With runtime-kernel: the [B, S, H, D] projections that the model
// transposes to [B, H, S, D] are passed with permuted strides, and the
// result is written in the layout its only transpose wants; no transpose,
// no tiles are left.
// KERNEL-LABEL: func @kernel_layouts
//   KERNEL-NOT:   linalg.transpose
//       KERNEL:   %[[QB:.+]] = bufferization.to_buffer %arg0 read_only : tensor<?x?x4x16xf32> to memref<?x?x4x16xf32, strided<[?, ?, ?, ?], offset: ?>>
//       KERNEL:   %{{.+}}, %{{.+}}, %{{.+}}:4, %[[QS:.+]]:4 = memref.extract_strided_metadata %[[QB]]
//   KERNEL-DAG:   %[[QS0:.+]] = arith.index_cast %[[QS]]#0 : index to i64
//   KERNEL-DAG:   %[[QS1:.+]] = arith.index_cast %[[QS]]#1 : index to i64
//   KERNEL-DAG:   %[[QS2:.+]] = arith.index_cast %[[QS]]#2 : index to i64
//   KERNEL-DAG:   %[[QS3:.+]] = arith.index_cast %[[QS]]#3 : index to i64
//       KERNEL:   %[[OUT:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x?x4x16xf32>
//       KERNEL:   call @loomrt_attention_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[QS0]], %[[QS2]], %[[QS1]], %[[QS3]], {{.*}}, %c1048576000_i64, %c1_i64)
//       KERNEL:   %[[T:.+]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<?x?x4x16xf32> to tensor<?x?x4x16xf32>
//   KERNEL-NOT:   scf.forall
//       KERNEL:   return %[[T]]
func.func @kernel_layouts(%q: tensor<?x?x4x16xf32>, %k: tensor<?x?x4x16xf32>, %v: tensor<?x?x4x16xf32>) -> tensor<?x?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %q, %c0 : tensor<?x?x4x16xf32>
  %s = tensor.dim %q, %c1 : tensor<?x?x4x16xf32>
  %e = tensor.empty(%b, %s) : tensor<?x4x?x16xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x4x16xf32>) outs(%e : tensor<?x4x?x16xf32>) permutation = [0, 2, 1, 3]
  %kt = linalg.transpose ins(%k : tensor<?x?x4x16xf32>) outs(%e : tensor<?x4x?x16xf32>) permutation = [0, 2, 1, 3]
  %vt = linalg.transpose ins(%v : tensor<?x?x4x16xf32>) outs(%e : tensor<?x4x?x16xf32>) permutation = [0, 2, 1, 3]
  %a = loom.attention %qt, %kt, %vt {causal, scale = 2.500000e-01 : f32} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x4x16xf32>
  %r = linalg.transpose ins(%a : tensor<?x4x?x16xf32>) outs(%e2 : tensor<?x?x4x16xf32>) permutation = [0, 2, 1, 3]
  return %r : tensor<?x?x4x16xf32>
}

// -----

// The transpose's init made from the result's own sizes (as the ONNX
// importer builds it) still lets the result be written in its layout: the
// sizes are read from the operands.
// KERNEL-LABEL: func @kernel_layout_result_dims
//   KERNEL-NOT:   linalg.transpose
//       KERNEL:   %[[OUT:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x?x4x16xf32>
//       KERNEL:   call @loomrt_attention_f32(
//       KERNEL:   %[[T:.+]] = bufferization.to_tensor %[[OUT]]
//       KERNEL:   return %[[T]]
func.func @kernel_layout_result_dims(%q: tensor<?x?x4x16xf32>, %k: tensor<?x?x4x16xf32>, %v: tensor<?x?x4x16xf32>) -> tensor<?x?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x?x4x16xf32>
  %s = tensor.dim %q, %c1 : tensor<?x?x4x16xf32>
  %e = tensor.empty(%b, %s) : tensor<?x4x?x16xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x4x16xf32>) outs(%e : tensor<?x4x?x16xf32>) permutation = [0, 2, 1, 3]
  %kt = linalg.transpose ins(%k : tensor<?x?x4x16xf32>) outs(%e : tensor<?x4x?x16xf32>) permutation = [0, 2, 1, 3]
  %vt = linalg.transpose ins(%v : tensor<?x?x4x16xf32>) outs(%e : tensor<?x4x?x16xf32>) permutation = [0, 2, 1, 3]
  %a = loom.attention %qt, %kt, %vt {scale = 2.500000e-01 : f32} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %ab = tensor.dim %a, %c0 : tensor<?x4x?x16xf32>
  %as = tensor.dim %a, %c2 : tensor<?x4x?x16xf32>
  %e2 = tensor.empty(%ab, %as) : tensor<?x?x4x16xf32>
  %r = linalg.transpose ins(%a : tensor<?x4x?x16xf32>) outs(%e2 : tensor<?x?x4x16xf32>) permutation = [0, 2, 1, 3]
  return %r : tensor<?x?x4x16xf32>
}

// -----

// A result read by something besides its transpose (here: returned too)
// stays in the op's layout, and the transpose copies it.
// KERNEL-LABEL: func @kernel_layout_two_uses
//       KERNEL:   memref.alloc(%{{.+}}, %{{.+}}) : memref<?x4x?x16xf32>
//       KERNEL:   call @loomrt_attention_f32(
//       KERNEL:   linalg.transpose
func.func @kernel_layout_two_uses(%q: tensor<?x4x?x16xf32>, %e2: tensor<?x?x4x16xf32>) -> (tensor<?x4x?x16xf32>, tensor<?x?x4x16xf32>) {
  %a = loom.attention %q, %q, %q {scale = 2.500000e-01 : f32} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %r = linalg.transpose ins(%a : tensor<?x4x?x16xf32>) outs(%e2 : tensor<?x?x4x16xf32>) permutation = [0, 2, 1, 3]
  return %a, %r : tensor<?x4x?x16xf32>, tensor<?x?x4x16xf32>
}

// -----

// A masked attention and decoding (4 static queries, split keys) keep the
// flash tiles under runtime-kernel.
// KERNEL-LABEL: func @kernel_near_misses
//   KERNEL-NOT:   loomrt_attention_f32
//       KERNEL:   scf.forall
//       KERNEL:   scf.forall
func.func @kernel_near_misses(%q: tensor<1x4x64x16xf32>, %k: tensor<1x4x64x16xf32>, %v: tensor<1x4x64x16xf32>, %m: tensor<1x1x64x64xf32>, %dq: tensor<1x4x4x16xf32>) -> (tensor<1x4x64x16xf32>, tensor<1x4x4x16xf32>) {
  %a = loom.attention %q, %k, %v mask %m {scale = 2.500000e-01 : f32} : (tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x1x64x64xf32>) -> tensor<1x4x64x16xf32>
  %d = loom.attention %dq, %k, %v {scale = 2.500000e-01 : f32} : (tensor<1x4x4x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>) -> tensor<1x4x4x16xf32>
  return %a, %d : tensor<1x4x64x16xf32>, tensor<1x4x4x16xf32>
}

// -----

// gpu-kernel (the GPU pipeline): the call for loom-gpu-attention's kernel,
// decoding included, where both head dims are static multiples of 16 up to
// 128, with a mask its masked form (the mask's address and its strides as
// it broadcasts to [1, 4, 64, 64]: 0, 0, 64, 1); the rest (head dim 8,
// dynamic, 256) stays loom.attention for the reference lowering.
// GPU-LABEL: func @gpu_kernel
//       GPU:   call @loomrt_attention_f32(
//       GPU:   call @loomrt_attention_f32(
//       GPU:   call @loomrt_attention_f32(
//       GPU:   %[[MB:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<1x1x64x64xf32>
//       GPU:   memref.extract_strided_metadata %[[MB]]
//       GPU:   call @loomrt_attention_mask_f32({{.*}}, %c1065353216_i64, %c0_i64, %{{.*}}, %c0_i64, %c0_i64, %{{.*}}, %{{.*}}) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
//   GPU-NOT:   call @loomrt_attention
//   GPU-NOT:   scf.forall
//       GPU:   loom.attention {{.*}} -> tensor<1x4x64x8xf32>
//       GPU:   loom.attention {{.*}} -> tensor<1x4x64x?xf32>
//       GPU:   loom.attention {{.*}} -> tensor<1x4x64x256xf32>
func.func @gpu_kernel(%q: tensor<1x4x64x16xf32>, %k: tensor<1x4x64x16xf32>, %v: tensor<1x4x64x16xf32>, %dq: tensor<1x4x1x16xf32>, %wq: tensor<1x4x64x128xf32>, %wv: tensor<1x4x64x64xf32>, %n: tensor<1x4x64x8xf32>, %dyn: tensor<1x4x64x?xf32>, %big: tensor<1x4x64x256xf32>, %m: tensor<1x1x64x64xf32>) -> (tensor<1x4x64x16xf32>, tensor<1x4x1x16xf32>, tensor<1x4x64x64xf32>, tensor<1x4x64x8xf32>, tensor<1x4x64x?xf32>, tensor<1x4x64x256xf32>, tensor<1x4x64x16xf32>) {
  %a = loom.attention %q, %k, %v {causal} : (tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>) -> tensor<1x4x64x16xf32>
  %d = loom.attention %dq, %k, %v : (tensor<1x4x1x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>) -> tensor<1x4x1x16xf32>
  %w = loom.attention %wq, %wq, %wv : (tensor<1x4x64x128xf32>, tensor<1x4x64x128xf32>, tensor<1x4x64x64xf32>) -> tensor<1x4x64x64xf32>
  %h = loom.attention %q, %k, %v mask %m {scale = 1.0 : f32} : (tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x1x64x64xf32>) -> tensor<1x4x64x16xf32>
  %e = loom.attention %n, %n, %n : (tensor<1x4x64x8xf32>, tensor<1x4x64x8xf32>, tensor<1x4x64x8xf32>) -> tensor<1x4x64x8xf32>
  %f = loom.attention %dyn, %dyn, %dyn {scale = 1.250000e-01 : f32} : (tensor<1x4x64x?xf32>, tensor<1x4x64x?xf32>, tensor<1x4x64x?xf32>) -> tensor<1x4x64x?xf32>
  %g = loom.attention %big, %big, %big : (tensor<1x4x64x256xf32>, tensor<1x4x64x256xf32>, tensor<1x4x64x256xf32>) -> tensor<1x4x64x256xf32>
  return %a, %d, %w, %e, %f, %g, %h : tensor<1x4x64x16xf32>, tensor<1x4x1x16xf32>, tensor<1x4x64x64xf32>, tensor<1x4x64x8xf32>, tensor<1x4x64x?xf32>, tensor<1x4x64x256xf32>, tensor<1x4x64x16xf32>
}
