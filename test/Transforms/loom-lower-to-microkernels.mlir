// RUN: loom-opt %s -split-input-file --loom-lower-to-microkernels | FileCheck %s

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// C = A·B after a zero fill: one call that overwrites (flags 0); the fill
// is gone. Arguments: batch, m, n, k, then address and batch/row/column
// strides of A, B and C, then the flags.
// CHECK: func.func private @loomrt_sgemm_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
// CHECK-LABEL: func @matmul
//   CHECK-NOT:   linalg.fill
//   CHECK-DAG:   %[[A:.*]] = memref.extract_aligned_pointer_as_index %arg0
//   CHECK-DAG:   %[[B:.*]] = memref.extract_aligned_pointer_as_index %arg1
//   CHECK-DAG:   %[[C:.*]] = memref.extract_aligned_pointer_as_index %arg2
//       CHECK:   %[[AI:.*]] = arith.index_cast %[[A]] : index to i64
//       CHECK:   %[[BI:.*]] = arith.index_cast %[[B]] : index to i64
//       CHECK:   %[[CI:.*]] = arith.index_cast %[[C]] : index to i64
//       CHECK:   call @loomrt_sgemm_f32(%c1_i64, %c4_i64, %c16_i64, %c8_i64, %[[AI]], %c0_i64, %c8_i64{{.*}}, %c1_i64{{.*}}, %[[BI]], %c0_i64{{.*}}, %c16_i64{{.*}}, %c1_i64{{.*}}, %[[CI]], %c0_i64{{.*}}, %c16_i64{{.*}}, %c1_i64{{.*}}, %c0_i64{{.*}})
//   CHECK-NOT:   linalg.generic
func.func @matmul(%x: memref<4x8xf32>, %w: memref<8x16xf32>, %out: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%out : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#a = affine_map<(b, m, n, k) -> (b, m, k)>
#bt = affine_map<(b, m, n, k) -> (b, n, k)>
#c = affine_map<(b, m, n, k) -> (b, m, n)>

// Q·Kᵀ over 12 heads, without a fill: the heads are the call's batch, Kᵀ is
// strides (row stride 1, column stride 64), and C accumulates (flags 1).
// CHECK-LABEL: func @batched_transposed
//       CHECK:   call @loomrt_sgemm_f32(%c12_i64, %c128_i64, %c128_i64{{.*}}, %c64_i64, %{{.*}}, %c8192_i64, %c64_i64{{.*}}, %c1_i64, %{{.*}}, %c8192_i64{{.*}}, %c1_i64{{.*}}, %c64_i64{{.*}}, %{{.*}}, %c16384_i64, %c128_i64{{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}})
func.func @batched_transposed(%q: memref<12x128x64xf32>, %k: memref<12x128x64xf32>, %out: memref<12x128x128xf32>) {
  linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<12x128x64xf32>, memref<12x128x64xf32>) outs(%out : memref<12x128x128xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#a = affine_map<(b, s, n, k) -> (b, s, k)>
#b = affine_map<(b, s, n, k) -> (k, n)>
#c = affine_map<(b, s, n, k) -> (b, s, n)>

// [4, 128, 768] x [768, 256]: batch and sequence rows are contiguous in A
// and C, so they merge into 512 rows; no loop, batch 1.
// CHECK-LABEL: func @merged_rows
//   CHECK-NOT:   scf.for
//       CHECK:   call @loomrt_sgemm_f32(%c1_i64, %c512_i64, %c256_i64, %c768_i64, %{{.*}}, %c0_i64, %c768_i64{{.*}}, %c1_i64
func.func @merged_rows(%x: memref<4x128x768xf32>, %w: memref<768x256xf32>, %out: memref<4x128x256xf32>) {
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x128x768xf32>, memref<768x256xf32>) outs(%out : memref<4x128x256xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#a = affine_map<(b, h, m, n, k) -> (b, h, m, k)>
#b = affine_map<(b, h, m, n, k) -> (b, h, k, n)>
#c = affine_map<(b, h, m, n, k) -> (b, h, m, n)>

// Two batch loops: the longer (heads) is the call's batch, the other an
// scf.for around the call; dynamic rows come from the memref.
// CHECK-LABEL: func @two_batch_loops
//       CHECK:   %{{.*}}, %{{.*}}, %[[SIZES:.*]]:4, %{{.*}}:4 = memref.extract_strided_metadata %arg0
//       CHECK:   scf.for %[[IV:.*]] = %c0 to %c2 step %c1
//       CHECK:     %[[M:.*]] = arith.index_cast %[[SIZES]]#2 : index to i64
//       CHECK:     %[[BOFF:.*]] = arith.muli %[[IV]], %c24576 : index
//       CHECK:     func.call @loomrt_sgemm_f32(%c12_i64, %[[M]], %c32_i64, %c16_i64,
func.func @two_batch_loops(%x: memref<2x12x?x16xf32>, %w: memref<2x12x16x32xf32>, %out: memref<2x12x?x32xf32>) {
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<2x12x?x16xf32>, memref<2x12x16x32xf32>) outs(%out : memref<2x12x?x32xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
#v = affine_map<(m, k) -> (m, k)>
#vb = affine_map<(m, k) -> (k)>
#vc = affine_map<(m, k) -> (m)>

// Not for the microkernel: f64, a body that does more than multiply-add,
// and a matrix-vector product (no column loop).
// CHECK-LABEL: func @not_matmuls
//   CHECK-NOT:   call
//       CHECK:   linalg.generic
//       CHECK:   linalg.generic
//       CHECK:   linalg.generic
//   CHECK-NOT:   call
func.func @not_matmuls(%x: memref<4x8xf64>, %w: memref<8x16xf64>, %out: memref<4x16xf64>,
                       %xf: memref<4x8xf32>, %wf: memref<8x16xf32>, %outf: memref<4x16xf32>,
                       %vec: memref<8xf32>, %outv: memref<4xf32>) {
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x8xf64>, memref<8x16xf64>) outs(%out : memref<4x16xf64>) {
  ^bb0(%v: f64, %u: f64, %o: f64):
    %p = arith.mulf %v, %u : f64
    %s = arith.addf %o, %p : f64
    linalg.yield %s : f64
  }
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xf, %wf : memref<4x8xf32>, memref<8x16xf32>) outs(%outf : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %e = math.exp %p : f32
    %s = arith.addf %o, %e : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#v, #vb, #vc], iterator_types = ["parallel", "reduction"]}
      ins(%xf, %vec : memref<4x8xf32>, memref<8xf32>) outs(%outv : memref<4xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// A constant weight is packed at compile time into 16-column panels over
// all of k (2 x 17 -> 2 panels of 2 x 16 = 64 floats, zero-padded), read
// with flags 2 (LOOMRT_GEMM_PACKED_B) and no strides; the unpacked original
// is gone. The blob (after its alignment word): rows 0 and 1 of columns
// 0-15 (1..16, 18..33), then of column 16 and 15 zero columns (17, 34).
//     CHECK: memref.global "private" constant @w_packed : memref<64xf32> = dense_resource<w_packed> {alignment = 64 : i64}
// CHECK-NOT: memref.global "private" constant @w :
// CHECK-LABEL: func @packed_weight
//       CHECK:   %[[W:.*]] = memref.get_global @w_packed : memref<64xf32>
//       CHECK:   %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[W]]
//       CHECK:   %[[PI:.*]] = arith.index_cast %[[P]] : index to i64
//       CHECK:   call @loomrt_sgemm_f32(%c1_i64, %c3_i64, %c17_i64, %c2_i64, %{{.*}}, %c0_i64, %c2_i64{{.*}}, %c1_i64{{.*}}, %[[PI]], %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %{{.*}}, %c0_i64{{.*}}, %c17_i64{{.*}}, %c1_i64{{.*}}, %c2_i64{{.*}})
memref.global "private" constant @w : memref<2x17xf32> = dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0], [18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0]]> {alignment = 64 : i64}
func.func @packed_weight(%x: memref<3x2xf32>, %out: memref<3x17xf32>) {
  %zero = arith.constant 0.0 : f32
  %w = memref.get_global @w : memref<2x17xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<3x17xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<3x2xf32>, memref<2x17xf32>) outs(%out : memref<3x17xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}
// CHECK: w_packed: "0x040000000000803F0000004000004040000080400000A0400000C0400000E04000000041000010410000204100003041000040410000504100006041000070410000804100009041000098410000A0410000A8410000B0410000B8410000C0410000C8410000D0410000D8410000E0410000E8410000F0410000F84100000042000004420000884100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000842000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

// -----

// A 2x2-patch convolution after im2col: cols[n, oh, ow, c, kh, kw] times
// w[oc, c, kh, kw] into out[n, oc, oh, ow]. The reductions (c, kh, kw) are
// contiguous in both operands and merge (k = 3*2*2 = 12); out's contiguous
// loop (ow) is a row loop of cols, so the call computes outᵀ: A is the
// weight (rows oc), B is cols read column-major (row stride 1, column
// stride 12), and oh merges into ow (n = 4*4 = 16).
// CHECK-LABEL: func @im2col_conv
//       CHECK:   call @loomrt_sgemm_f32(%c2_i64, %c8_i64, %c16_i64, %c12_i64, %{{.*}}, %c0_i64, %c12_i64{{.*}}, %c1_i64, %{{.*}}, %c192_i64, %c1_i64{{.*}}, %c12_i64{{.*}}, %{{.*}}, %c128_i64, %c16_i64{{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}})
func.func @im2col_conv(%cols: memref<2x4x4x3x2x2xf32>, %w: memref<8x3x2x2xf32>, %out: memref<2x8x4x4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, oc, oh, ow, c, kh, kw) -> (n, oh, ow, c, kh, kw)>,
                                   affine_map<(n, oc, oh, ow, c, kh, kw) -> (oc, c, kh, kw)>,
                                   affine_map<(n, oc, oh, ow, c, kh, kw) -> (n, oc, oh, ow)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%cols, %w : memref<2x4x4x3x2x2xf32>, memref<8x3x2x2xf32>) outs(%out : memref<2x8x4x4xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The same convolution with its output in [n, oh, ow, oc] (a ViT's patch
// embedding, transposed to tokens x channels by its bias add): out's
// contiguous loop is oc, a column loop of the weight, so A is cols read in
// place (n, oh and ow merge into 32 rows of 12) and B the weight, packed at
// compile time though its k is three merged loops; the zero fill is found
// across the im2col copy and an alloca, and the bias add is the epilogue.
// CHECK: memref.global "private" constant @pw_packed : memref<192xf32>
// CHECK-LABEL: func @im2col_channels_last
//   CHECK-NOT:   linalg.fill
//       CHECK:   linalg.generic
//   CHECK-NOT:   linalg.fill
//       CHECK:   memref.get_global @pw_packed
//       CHECK:   call @loomrt_sgemm_epilogue_f32(%c1_i64, %c32_i64, %c4_i64, %c12_i64, %{{.*}}, %c0_i64, %c12_i64{{.*}}, %c1_i64{{.*}}, %{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %{{.*}}, %c0_i64{{.*}}, %c4_i64{{.*}}, %c1_i64{{.*}}, %c2_i64, %{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c1_i64
//   CHECK-NOT:   linalg.generic
memref.global "private" constant @pw : memref<4x3x2x2xf32> = dense<0.5> {alignment = 64 : i64}
func.func @im2col_channels_last(%img: memref<2x3x8x8xf32>, %bias: memref<4xf32>) -> memref<2x4x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %w = memref.get_global @pw : memref<4x3x2x2xf32>
  %acc = memref.alloc() : memref<2x4x4x4xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<2x4x4x4xf32>)
  %cols = memref.alloc() : memref<2x4x4x3x2x2xf32>
  linalg.generic {indexing_maps = [affine_map<(n, oh, ow, c, kh, kw) -> (n, c, oh * 2 + kh, ow * 2 + kw)>,
                                   affine_map<(n, oh, ow, c, kh, kw) -> (n, oh, ow, c, kh, kw)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%img : memref<2x3x8x8xf32>) outs(%cols : memref<2x4x4x3x2x2xf32>) {
  ^bb0(%v: f32, %o: f32):
    linalg.yield %v : f32
  }
  %shape = memref.alloca() : memref<3xi64>
  linalg.generic {indexing_maps = [affine_map<(n, oc, oh, ow, c, kh, kw) -> (n, oh, ow, c, kh, kw)>,
                                   affine_map<(n, oc, oh, ow, c, kh, kw) -> (oc, c, kh, kw)>,
                                   affine_map<(n, oc, oh, ow, c, kh, kw) -> (n, oc, oh, ow)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%cols, %w : memref<2x4x4x3x2x2xf32>, memref<4x3x2x2xf32>) outs(%acc : memref<2x4x4x4xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  %out = memref.alloc() : memref<2x4x4x4xf32>
  linalg.generic {indexing_maps = [affine_map<(n, oh, ow, oc) -> (n, oc, oh, ow)>,
                                   affine_map<(n, oh, ow, oc) -> (oc)>,
                                   affine_map<(n, oh, ow, oc) -> (n, oh, ow, oc)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%acc, %bias : memref<2x4x4x4xf32>, memref<4xf32>) outs(%out : memref<2x4x4x4xf32>) {
  ^bb0(%v: f32, %b: f32, %o: f32):
    %r = arith.addf %v, %b : f32
    linalg.yield %r : f32
  }
  memref.dealloc %cols : memref<2x4x4x3x2x2xf32>
  memref.dealloc %acc : memref<2x4x4x4xf32>
  return %out : memref<2x4x4x4xf32>
}

// -----

// A zero fill that something reads before the product (here a copy out of
// the filled buffer) is not dropped: the product accumulates (flags 1).
// CHECK-LABEL: func @fill_read_before
//       CHECK:   linalg.fill
//       CHECK:   linalg.generic
//       CHECK:   call @loomrt_sgemm_f32({{.*}}, %c1_i64{{.*}})
func.func @fill_read_before(%x: memref<3x2xf32>, %w: memref<2x17xf32>, %copy: memref<3x17xf32>) -> memref<3x17xf32> {
  %zero = arith.constant 0.0 : f32
  %out = memref.alloc() : memref<3x17xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<3x17xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%out : memref<3x17xf32>) outs(%copy : memref<3x17xf32>) {
  ^bb0(%v: f32, %o: f32):
    linalg.yield %v : f32
  }
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<3x2xf32>, memref<2x17xf32>) outs(%out : memref<3x17xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return %out : memref<3x17xf32>
}

// -----

// Two reductions that are not contiguous in B (its k loops are apart):
// left to the loops.
// CHECK-LABEL: func @split_reduction
//   CHECK-NOT:   call @loomrt_sgemm_f32
//       CHECK:   linalg.generic
func.func @split_reduction(%x: memref<4x3x5xf32>, %w: memref<3x16x5xf32>, %out: memref<4x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k1, k2) -> (m, k1, k2)>,
                                   affine_map<(m, n, k1, k2) -> (k1, n, k2)>,
                                   affine_map<(m, n, k1, k2) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %w : memref<4x3x5xf32>, memref<3x16x5xf32>) outs(%out : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A copy that changes the contiguous dimension ([b, t, c] -> [b, c, t], read
// from a strided slice) becomes one call to the blocked transpose: batch b,
// rows c (the source's contiguous loop), columns t (the destination's);
// then address and batch/row/column strides of the source and the
// destination.
// CHECK: func.func private @loomrt_transpose_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
// CHECK-LABEL: func @transpose
//       CHECK:   call @loomrt_transpose_f32(%c2_i64, %c48_i64, %c16_i64, %{{.+}}, %c1536_i64, %c1_i64{{.*}}, %c96_i64, %{{.+}}, %c768_i64, %c16_i64{{.*}}, %c1_i64{{.*}})
//   CHECK-NOT:   linalg.generic
func.func @transpose(%x: memref<2x16x96xf32>, %out: memref<2x48x16xf32>) {
  %half = memref.subview %x[0, 0, 0] [2, 16, 48] [1, 1, 1] : memref<2x16x96xf32> to memref<2x16x48xf32, strided<[1536, 96, 1]>>
  linalg.generic {indexing_maps = [affine_map<(b, c, t) -> (b, t, c)>, affine_map<(b, c, t) -> (b, c, t)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%half : memref<2x16x48xf32, strided<[1536, 96, 1]>>) outs(%out : memref<2x48x16xf32>) {
  ^bb0(%v: f32, %o: f32):
    linalg.yield %v : f32
  }
  return
}

// -----

// The attention heads' split [b, s, h, d] -> [b, h, s, d] keeps d
// contiguous: not a transpose call (the loops copy whole rows).
// CHECK-LABEL: func @heads
//   CHECK-NOT:   call
//       CHECK:   linalg.generic
func.func @heads(%x: memref<1x8x2x4xf32>, %out: memref<1x2x8x4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, h, s, d) -> (b, s, h, d)>, affine_map<(b, h, s, d) -> (b, h, s, d)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x8x2x4xf32>) outs(%out : memref<1x2x8x4xf32>) {
  ^bb0(%v: f32, %o: f32):
    linalg.yield %v : f32
  }
  return
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>

// A dense layer's bias and GELU (erf form, as loom.gelu lowers) become the
// call's epilogue: the call writes the consumer's output (allocated after
// the contraction: it moves before the call), the bias is strided (0, 0, 1)
// (batch, row, column), no residual (null, 0, 0, 0), activation 2
// (LOOMRT_ACT_GELU); the consumer and the contraction's own buffer are gone.
// CHECK: func.func private @loomrt_sgemm_epilogue_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
// CHECK-NOT: func.func private @loomrt_sgemm_f32(
// CHECK-LABEL: func @bias_gelu
//       CHECK:   %[[Y:.*]] = memref.alloc() : memref<4x16xf32>
//   CHECK-DAG:   %[[YP:.*]] = memref.extract_aligned_pointer_as_index %[[Y]]
//   CHECK-DAG:   %[[BP:.*]] = memref.extract_aligned_pointer_as_index %arg2
//   CHECK-DAG:   %[[YI:.*]] = arith.index_cast %[[YP]] : index to i64
//   CHECK-DAG:   %[[BI:.*]] = arith.index_cast %[[BP]] : index to i64
//       CHECK:   call @loomrt_sgemm_epilogue_f32(%c1_i64, %c4_i64, %c16_i64, %c8_i64, %{{.*}}, %c0_i64, %c8_i64{{.*}}, %c1_i64{{.*}}, %{{.*}}, %c0_i64{{.*}}, %c16_i64{{.*}}, %c1_i64{{.*}}, %[[YI]], %c0_i64{{.*}}, %c16_i64{{.*}}, %c1_i64{{.*}}, %c0_i64{{.*}}, %[[BI]], %c0_i64{{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c2_i64{{.*}})
//   CHECK-NOT:   linalg.generic
//   CHECK-NOT:   memref.alloc
//       CHECK:   return %[[Y]]
func.func @bias_gelu(%x: memref<4x8xf32>, %w: memref<8x16xf32>, %bias: memref<16xf32>) -> memref<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %mm = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%mm : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%mm : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc() : memref<4x16xf32>
  linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%bias, %mm : memref<16xf32>, memref<4x16xf32>) outs(%y : memref<4x16xf32>) {
  ^bb0(%bv: f32, %g: f32, %o: f32):
    %h = arith.constant 0.5 : f32
    %one = arith.constant 1.0 : f32
    %r = arith.constant 0.70710678118654757 : f32
    %s = arith.addf %bv, %g : f32
    %t = arith.mulf %s, %r : f32
    %e = math.erf %t : f32
    %p = arith.addf %e, %one : f32
    %q = arith.mulf %s, %h : f32
    %z = arith.mulf %q, %p : f32
    linalg.yield %z : f32
  }
  memref.dealloc %mm : memref<4x16xf32>
  return %y : memref<4x16xf32>
}

// -----

#a = affine_map<(b, s, n, k) -> (b, s, k)>
#b = affine_map<(b, s, n, k) -> (k, n)>
#c = affine_map<(b, s, n, k) -> (b, s, n)>
#id = affine_map<(b, s, n) -> (b, s, n)>
#col = affine_map<(b, s, n) -> (n)>

// Residual + (bias + product) into another buffer, no activation, with
// batch and sequence rows merged (the bias and residual continue them
// too): two addends, strided (0, 16, 1) and (0, 0, 1) (the order of the
// additions), activation 0. The
// tanh-form GELU of the gpt2 MLP is the second case: activation 3.
// CHECK-LABEL: func @bias_residual
//       CHECK:   call @loomrt_sgemm_epilogue_f32(%c1_i64, %c6_i64, %c16_i64, %c8_i64, {{.*}}, %c0_i64{{.*}}, %c16_i64{{.*}}, %c1_i64{{.*}}, %{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %c0_i64{{.*}})
//   CHECK-NOT:   linalg.generic
// CHECK-LABEL: func @bias_gelu_tanh
//       CHECK:   call @loomrt_sgemm_epilogue_f32({{.*}}, %c3_i64{{.*}})
//   CHECK-NOT:   linalg.generic
func.func @bias_residual(%x: memref<2x3x8xf32>, %w: memref<8x16xf32>, %bias: memref<16xf32>, %res: memref<2x3x16xf32>) -> memref<2x3x16xf32> {
  %zero = arith.constant 0.0 : f32
  %y = memref.alloc() : memref<2x3x16xf32>
  %mm = memref.alloc() : memref<2x3x16xf32>
  linalg.fill ins(%zero : f32) outs(%mm : memref<2x3x16xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<2x3x8xf32>, memref<8x16xf32>) outs(%mm : memref<2x3x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id, #col, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%res, %bias, %mm : memref<2x3x16xf32>, memref<16xf32>, memref<2x3x16xf32>) outs(%y : memref<2x3x16xf32>) {
  ^bb0(%rv: f32, %bv: f32, %g: f32, %o: f32):
    %s = arith.addf %g, %bv : f32
    %t = arith.addf %rv, %s : f32
    linalg.yield %t : f32
  }
  memref.dealloc %mm : memref<2x3x16xf32>
  return %y : memref<2x3x16xf32>
}

func.func @bias_gelu_tanh(%x: memref<4x8xf32>, %w: memref<8x16xf32>, %bias: memref<16xf32>) -> memref<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %y = memref.alloc() : memref<4x16xf32>
  %mm = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%mm : memref<4x16xf32>)
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%mm : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(m, n) -> (m, n)>, affine_map<(m, n) -> (n)>, affine_map<(m, n) -> (m, n)>], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %bias : memref<4x16xf32>, memref<16xf32>) outs(%y : memref<4x16xf32>) {
  ^bb0(%g: f32, %bv: f32, %o: f32):
    %h = arith.constant 0.5 : f32
    %one = arith.constant 1.0 : f32
    %k0 = arith.constant 0.79788456080286541 : f32
    %k1 = arith.constant 0.044715 : f32
    %s = arith.addf %g, %bv : f32
    %sq = arith.mulf %s, %s : f32
    %cube = arith.mulf %s, %sq : f32
    %c3 = arith.mulf %cube, %k1 : f32
    %in = arith.addf %s, %c3 : f32
    %sc = arith.mulf %in, %k0 : f32
    %th = math.tanh %sc : f32
    %p = arith.addf %th, %one : f32
    %q = arith.mulf %s, %h : f32
    %z = arith.mulf %q, %p : f32
    linalg.yield %z : f32
  }
  memref.dealloc %mm : memref<4x16xf32>
  return %y : memref<4x16xf32>
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// A residual add in place (the output is the residual): the call
// accumulates into it (flags 1) with no residual operand and no activation.
// CHECK-LABEL: func @residual_in_place
//       CHECK:   call @loomrt_sgemm_epilogue_f32(%c1_i64, %c4_i64, %c16_i64, %c8_i64, {{.*}}, %c1_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}})
//   CHECK-NOT:   linalg.generic
func.func @residual_in_place(%x: memref<4x8xf32>, %w: memref<8x16xf32>, %r: memref<4x16xf32>) -> memref<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %res = memref.alloc() : memref<4x16xf32>
  memref.copy %r, %res : memref<4x16xf32> to memref<4x16xf32>
  %mm = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%mm : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%mm : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %res : memref<4x16xf32>, memref<4x16xf32>) outs(%res : memref<4x16xf32>) {
  ^bb0(%g: f32, %rv: f32, %o: f32):
    %s = arith.addf %g, %rv : f32
    linalg.yield %s : f32
  }
  memref.dealloc %mm : memref<4x16xf32>
  return %res : memref<4x16xf32>
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>

// Near misses keep the plain call and the consumer: a consumer computing
// other math (exp); a copy between the contraction and its consumer; no
// zero fill (the contraction accumulates into its output); an output that
// may overlap A (both function arguments, the residual in place with a
// GELU).
// CHECK-LABEL: func @not_epilogues
//   CHECK-NOT:   loomrt_sgemm_epilogue_f32
//       CHECK:   call @loomrt_sgemm_f32
//       CHECK:   linalg.generic
//       CHECK:   call @loomrt_sgemm_f32
//       CHECK:   memref.copy
//       CHECK:   linalg.generic
//       CHECK:   call @loomrt_sgemm_f32
//       CHECK:   linalg.generic
//       CHECK:   call @loomrt_sgemm_f32
//       CHECK:   linalg.generic
//       CHECK:   return
func.func @not_epilogues(%x: memref<4x8xf32>, %w: memref<8x16xf32>, %bias: memref<16xf32>, %y: memref<4x16xf32>, %z: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %mm = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%mm : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%mm : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm : memref<4x16xf32>) outs(%y : memref<4x16xf32>) {
  ^bb0(%g: f32, %o: f32):
    %e = math.exp %g : f32
    linalg.yield %e : f32
  }
  linalg.fill ins(%zero : f32) outs(%mm : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%mm : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  memref.copy %y, %z : memref<4x16xf32> to memref<4x16xf32>
  linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%bias, %mm : memref<16xf32>, memref<4x16xf32>) outs(%y : memref<4x16xf32>) {
  ^bb0(%bv: f32, %g: f32, %o: f32):
    %s = arith.addf %bv, %g : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%mm : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%bias, %mm : memref<16xf32>, memref<4x16xf32>) outs(%y : memref<4x16xf32>) {
  ^bb0(%bv: f32, %g: f32, %o: f32):
    %s = arith.addf %bv, %g : f32
    linalg.yield %s : f32
  }
  %x16 = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%mm : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%mm : memref<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %y : memref<4x16xf32>, memref<4x16xf32>) outs(%y : memref<4x16xf32>) {
  ^bb0(%g: f32, %rv: f32, %o: f32):
    %m = arith.constant 0.0 : f32
    %r = arith.maximumf %g, %m : f32
    %s = arith.addf %r, %rv : f32
    linalg.yield %s : f32
  }
  memref.dealloc %mm : memref<4x16xf32>
  memref.dealloc %x16 : memref<4x16xf32>
  return
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// A hidden layer padded by loom-pad-row-strides: the products write and
// read it through its view's row stride (1552), not its width (1536).
// CHECK-LABEL: func @padded_rows
//       CHECK:   call @loomrt_sgemm_f32(%c1_i64, %c128_i64, %c1536_i64, %c384_i64, %{{[0-9]+}}, %c0_i64, %c384_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %{{[0-9]+}}, %c0_i64{{[_0-9]*}}, %c1536_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %{{[0-9]+}}, %c0_i64{{[_0-9]*}}, %c1552_i64, %c1_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}})
//       CHECK:   call @loomrt_sgemm_f32(%c1_i64{{[_0-9]*}}, %c128_i64{{[_0-9]*}}, %c384_i64{{[_0-9]*}}, %c1536_i64{{[_0-9]*}}, %{{[0-9]+}}, %c0_i64{{[_0-9]*}}, %c1552_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %{{[0-9]+}}, %c0_i64{{[_0-9]*}}, %c384_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %{{[0-9]+}}, %c0_i64{{[_0-9]*}}, %c384_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}})
func.func @padded_rows(%x: memref<128x384xf32>, %w1: memref<384x1536xf32>, %w2: memref<1536x384xf32>, %out: memref<128x384xf32>) {
  %wide = memref.alloc() : memref<128x1552xf32>
  %h = memref.subview %wide[0, 0] [128, 1536] [1, 1] : memref<128x1552xf32> to memref<128x1536xf32, strided<[1552, 1]>>
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w1 : memref<128x384xf32>, memref<384x1536xf32>) outs(%h : memref<128x1536xf32, strided<[1552, 1]>>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%h, %w2 : memref<128x1536xf32, strided<[1552, 1]>>, memref<1536x384xf32>) outs(%out : memref<128x384xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %wide : memref<128x1552xf32>
  return
}
