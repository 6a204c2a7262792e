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
