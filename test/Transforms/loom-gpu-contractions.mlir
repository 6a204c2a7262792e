// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions | FileCheck %s
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=precision=bf16 | FileCheck %s --check-prefix=BF16
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=precision=fp32 | FileCheck %s --check-prefix=FP32
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=tensor-cores=false | FileCheck %s --check-prefix=FP32

// A matmul in the CPU's i-k-j order. A and B are first converted to fp16
// ([M][K] and [N][K], padded to whole tiles with zeros; one kernel each, 8
// elements per thread). Then one launch of 128 x 128 tiles (grid: N tiles,
// M tiles, 1) of 256 threads with two stages of fp16 A and B tiles in
// shared memory: the first K step's tiles copied asynchronously (cp.async,
// 2 + 2 per thread); per 32-deep K step the next step's copies into the
// other stage, a wait for this step's, then per k16 half 4 ldmatrix.x4 of
// A, 2 of B and 16 MMAs; the accumulators added to the output under a
// guard; the fp16 copies freed. fp32 (or emulated): only interchanged, the
// reduction innermost.

// CHECK-LABEL: func.func @matmul
// CHECK-SAME:    (%[[A:.*]]: memref<?x?xf32>, %[[B:.*]]: memref<?x?xf32>, %[[C:.*]]: memref<?x?xf32>)
// CHECK:         scf.if
// CHECK:           %[[ALOW:.*]] = memref.alloc(%{{.*}}) : memref<?xf16>
// CHECK:           %[[BLOW:.*]] = memref.alloc(%{{.*}}) : memref<?xf16>
// CHECK:           gpu.launch
// CHECK:             memref.load %[[A]]
// CHECK:             arith.truncf %{{.*}} : f32 to f16
// CHECK:             vector.store %{{.*}}, %[[ALOW]][%{{.*}}] {alignment = 16 : i64} : memref<?xf16>, vector<8xf16>
// CHECK:           gpu.launch
// CHECK:             memref.load %[[B]]
// CHECK:             vector.store %{{.*}}, %[[BLOW]]
// CHECK:           gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %c1{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) workgroup(%[[SA:.*]] : memref<2x128x40xf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<2x128x40xf16, #gpu.address_space<workgroup>>)
// CHECK-COUNT-4:     nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
// CHECK:             nvvm.cp.async.commit.group
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %{{.*}} step %c32{{.*}} iter_args({{.*}}) -> (f32, f32,
// CHECK:               scf.if
// CHECK-COUNT-4:         nvvm.cp.async.shared.global
// CHECK:               nvvm.cp.async.commit.group
// CHECK:               nvvm.cp.async.wait.group 1
// CHECK:               gpu.barrier
// CHECK:               memref.extract_aligned_pointer_as_index %[[SA]]
// CHECK:               nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b16>, layout = #nvvm.mma_layout<row>, num = 4 : i32, shape = #nvvm.ld_st_matrix_shape<m = 8, n = 8>} : (!llvm.ptr<3>) -> !llvm.struct<(i32, i32, i32, i32)>
// CHECK-COUNT-3:       nvvm.ldmatrix
// CHECK:               memref.extract_aligned_pointer_as_index %[[SB]]
// CHECK-COUNT-2:       nvvm.ldmatrix
// CHECK-COUNT-16:      nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32)
// CHECK-COUNT-6:       nvvm.ldmatrix
// CHECK-COUNT-16:      nvvm.mma.sync
// CHECK:               gpu.barrier
// CHECK:               scf.yield
// CHECK:             scf.if
// CHECK:               memref.load %[[C]]
// CHECK:               arith.addf
// CHECK:               memref.store %{{.*}}, %[[C]]
// CHECK:             gpu.terminator
// CHECK:           memref.dealloc %[[ALOW]]
// CHECK:           memref.dealloc %[[BLOW]]
// CHECK-NOT:   linalg.generic

// BF16-LABEL: func.func @matmul
// BF16:         memref.alloc(%{{.*}}) : memref<?xbf16>
// BF16:         arith.truncf %{{.*}} : f32 to bf16
// BF16:         workgroup(%{{.*}} : memref<2x128x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<2x128x40xbf16, #gpu.address_space<workgroup>>)
// BF16:         nvvm.ldmatrix
// BF16-NOT:     llvm.bitcast
// BF16:         nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>{{.*}} : (i32, i32, f32)

// FP32-LABEL: func.func @matmul
// FP32-NOT:     gpu.launch
// FP32:         linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]}
func.func @matmul(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %c: memref<?x?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, k, j) -> (i, k)>, affine_map<(i, k, j) -> (k, j)>, affine_map<(i, k, j) -> (i, j)>], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<?x?xf32>, memref<?x?xf32>) outs(%c : memref<?x?xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Attention's scores: batched over (b, h), B transposed (K innermost): the
// grid's z is the batch (4 x 2), and B's tile is read along K.

// CHECK-LABEL: func.func @batched_transposed
// CHECK:         %[[BATCH:.*]] = arith.muli %c4, %c2
// CHECK:         gpu.launch
// CHECK:         gpu.launch
// CHECK:         gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %[[BATCH]])
// CHECK-COUNT-32:  nvvm.mma.sync
// CHECK-NOT:   linalg.generic

// FP32-LABEL: func.func @batched_transposed
// FP32:         iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
func.func @batched_transposed(%q: memref<4x2x16x64xf32>, %k: memref<4x2x32x64xf32>, %s: memref<4x2x16x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<4x2x16x64xf32>, memref<4x2x32x64xf32>) outs(%s : memref<4x2x16x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %y, %x : f32
    %r = arith.addf %m, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Two M loops (a batch of rows times shared weights): linearized, the last
// fastest.

// CHECK-LABEL: func.func @rows_times_weights
// CHECK:         %[[M:.*]] = arith.muli %c3, %c100
// CHECK:         arith.ceildivui %[[M]], %c128
// CHECK:         gpu.launch
// CHECK:           arith.remui %{{.*}}, %c100
// CHECK:           arith.divui %{{.*}}, %c100
// CHECK:         gpu.launch
// CHECK:         gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK-COUNT-32:  nvvm.mma.sync
// CHECK:           arith.remui %{{.*}}, %c100
// CHECK:           arith.divui %{{.*}}, %c100
func.func @rows_times_weights(%x: memref<3x100x64xf32>, %w: memref<64x96xf32>, %y: memref<3x100x96xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, s, e, d) -> (b, s, d)>, affine_map<(b, s, e, d) -> (d, e)>, affine_map<(b, s, e, d) -> (b, s, e)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<3x100x64xf32>, memref<64x96xf32>) outs(%y : memref<3x100x96xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Not contractions the kernel computes: f64, a body that is not
// `acc + a * b`, tensors. Left alone.

// CHECK-LABEL: func.func @not_contractions
// CHECK-NOT:     gpu.launch
// CHECK-COUNT-3: linalg.generic
func.func @not_contractions(%a: memref<8x8xf64>, %c: memref<8x8xf64>, %x: memref<8x8xf32>, %y: memref<8x8xf32>, %t: tensor<8x8xf32>) -> tensor<8x8xf32> {
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %a : memref<8x8xf64>, memref<8x8xf64>) outs(%c : memref<8x8xf64>) {
  ^bb0(%p: f64, %q: f64, %acc: f64):
    %m = arith.mulf %p, %q : f64
    %r = arith.addf %acc, %m : f64
    linalg.yield %r : f64
  }
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %x : memref<8x8xf32>, memref<8x8xf32>) outs(%y : memref<8x8xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.maximumf %p, %q : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  %r = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%t, %t : tensor<8x8xf32>, tensor<8x8xf32>) outs(%t : tensor<8x8xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x8xf32>
  return %r : tensor<8x8xf32>
}

// -----

// A batch beyond the grid's z limit (65535): interchanged, not a kernel.

// CHECK-LABEL: func.func @huge_batch
// CHECK-NOT:     gpu.launch
// CHECK:         iterator_types = ["parallel", "parallel", "parallel", "reduction"]
func.func @huge_batch(%a: memref<70000x4x8xf32>, %b: memref<70000x8x4xf32>, %c: memref<70000x4x4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, i, k, j) -> (n, i, k)>, affine_map<(n, i, k, j) -> (n, k, j)>, affine_map<(n, i, k, j) -> (n, i, j)>], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<70000x4x8xf32>, memref<70000x8x4xf32>) outs(%c : memref<70000x4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}
