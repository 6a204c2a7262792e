// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions | FileCheck %s
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=precision=bf16 | FileCheck %s --check-prefix=BF16
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=precision=fp32 | FileCheck %s --check-prefix=FP32
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=tensor-cores=false | FileCheck %s --check-prefix=FP32
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=wgmma=true | FileCheck %s --check-prefix=WGMMA
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions="wgmma=true precision=bf16" | FileCheck %s --check-prefix=WGMMABF16

// A matmul in the CPU's i-k-j order. A and B are first converted to fp16
// ([M][K] and [N][K], padded to whole tiles with zeros; one kernel each, 8
// elements per thread). Split-K: with fewer output tiles than 256, the K
// steps are shared among up to 16 blocks per tile (ceil(256 / tiles), at
// least 4 steps each). Then one launch of 128 x 128 tiles (grid: N tiles x
// splits, M tiles, 1) of 256 threads with two stages of fp16 A and B tiles
// in shared memory: the first K step's tiles of the block's K range copied
// asynchronously (cp.async, 2 + 2 per thread); per 32-deep K step the next
// step's copies into the other stage, a wait for this step's, then per k16
// half 4 ldmatrix.x4 of A, 2 of B and 16 MMAs; split, the accumulators
// stored as partial sums, whole, added to the output, under guards; the
// fp16 copies freed; when split, a second kernel adds the partial sums to
// the output. fp32 (or emulated): only interchanged, the reduction
// innermost.

// CHECK-LABEL: func.func @matmul
// CHECK-SAME:    (%[[A:.*]]: memref<?x?xf32>, %[[B:.*]]: memref<?x?xf32>, %[[C:.*]]: memref<?x?xf32>)
// CHECK:         scf.if
// CHECK:           %[[ALOW:.*]] = memref.alloc(%{{.*}}) : memref<?xf16>
// CHECK:           gpu.launch
// CHECK:             memref.load %[[A]]
// CHECK:             arith.truncf %{{.*}} : f32 to f16
// CHECK:             vector.store %{{.*}}, %[[ALOW]][%{{.*}}] {alignment = 16 : i64} : memref<?xf16>, vector<8xf16>
// CHECK:           %[[BLOW:.*]] = memref.alloc(%{{.*}}) : memref<?xf16>
// CHECK:           gpu.launch
// CHECK:             memref.load %[[B]]
// CHECK:             vector.store %{{.*}}, %[[BLOW]]
// CHECK:           %[[WANTED:.*]] = arith.ceildivui %c256{{.*}}, %{{.*}} : index
// CHECK:           %[[PER:.*]] = arith.ceildivui %{{.*}}, %{{.*}} : index
// CHECK:           %[[SPLITS:.*]] = arith.ceildivui %{{.*}}, %[[PER]] : index
// CHECK:           %[[SPLIT:.*]] = arith.cmpi ult, %c1{{.*}}, %[[SPLITS]] : index
// CHECK:           %[[PART:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK:           %[[GX:.*]] = arith.muli %{{.*}}, %[[SPLITS]] : index
// CHECK:           gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GX]], %{{.*}} = %{{.*}}, %{{.*}} = %c1{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) workgroup(%[[SA:.*]] : memref<2x128x40xf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<2x128x40xf16, #gpu.address_space<workgroup>>)
// CHECK-COUNT-4:     nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
// CHECK:             nvvm.cp.async.commit.group
// CHECK:             scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32{{.*}} iter_args({{.*}}) -> (f32, f32,
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
// CHECK:             scf.if %[[SPLIT]] {
// CHECK-COUNT-64:      memref.store %{{.*}}, %[[PART]][
// CHECK:             } else {
// CHECK:               scf.if
// CHECK:                 memref.load %[[C]]
// CHECK:                 arith.addf
// CHECK:                 memref.store %{{.*}}, %[[C]]
// CHECK:             gpu.terminator
// CHECK:           memref.dealloc %[[ALOW]]
// CHECK:           memref.dealloc %[[BLOW]]
// CHECK:           scf.if %[[SPLIT]] {
// CHECK:             gpu.launch
// CHECK:               scf.for
// CHECK:                 memref.load %[[PART]][
// CHECK:               memref.load %[[C]]
// CHECK:               arith.addf
// CHECK:               memref.store %{{.*}}, %[[C]]
// CHECK:           memref.dealloc %[[PART]]
// CHECK-NOT:   linalg.generic

// wgmma (sm_90a): the same launches; the shared tiles unpadded, as 8 x 8
// core matrices (chunk c of row r at element ((r / 8) 4 + c) 64 + (r % 8)
// 8); per K step the copies fenced for the async proxy, then, after a
// wgmma fence, two m64n128k16 wgmma.mma_async on the 64 accumulators (an
// LLVM struct) from matrix descriptors: bits 4-17 of the shared address,
// then the leading byte offset 128 (the next core matrix along K) in bits
// 16-29 and the stride byte offset 512 (the next 8 rows) in bits 32-45:
// 8 << 16 | 32 << 32 = 137439477760. Committed and waited for before the
// stage is released.

// WGMMA-LABEL: func.func @matmul
// WGMMA:         gpu.launch
// WGMMA:         gpu.launch
// WGMMA:         gpu.launch {{.*}} workgroup(%[[SA:.*]] : memref<2x4096xf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<2x4096xf16, #gpu.address_space<workgroup>>)
// WGMMA-COUNT-4:   nvvm.cp.async.shared.global
// WGMMA:           scf.for {{.*}} -> (f32, f32,
// WGMMA-COUNT-4:     nvvm.cp.async.shared.global
// WGMMA:             nvvm.cp.async.wait.group 1
// WGMMA-NEXT:        nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// WGMMA-NEXT:        gpu.barrier
// WGMMA-COUNT-64:    llvm.insertvalue
// WGMMA:             nvvm.wgmma.fence.aligned
// WGMMA:             %[[AAND:.*]] = arith.andi %{{.*}}, %c262143_i64 : i64
// WGMMA:             %[[AFIELD:.*]] = arith.shrui %[[AAND]], %c4_i64 : i64
// WGMMA:             %[[ADESC:.*]] = arith.ori %[[AFIELD]], %c137439477760_i64 : i64
// WGMMA:             %[[BDESC:.*]] = arith.ori %{{.*}}, %c137439477760_i64{{.*}} : i64
// WGMMA:             %[[D0:.*]] = nvvm.wgmma.mma_async %[[ADESC]], %[[BDESC]], %{{.*}}, <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>]
// WGMMA:             nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[D0]], <m = 64, n = 128, k = 16>
// WGMMA-NEXT:        nvvm.wgmma.commit.group.sync.aligned
// WGMMA-NEXT:        nvvm.wgmma.wait.group.sync.aligned 0
// WGMMA-COUNT-64:    llvm.extractvalue
// WGMMA:             gpu.barrier
// WGMMA:             scf.yield
// WGMMA-NOT:     nvvm.mma.sync
// WGMMA-NOT:     nvvm.ldmatrix
// WGMMA:         gpu.terminator

// WGMMABF16-LABEL: func.func @matmul
// WGMMABF16:       workgroup({{.*}} : memref<2x4096xbf16, #gpu.address_space<workgroup>>
// WGMMABF16:       nvvm.wgmma.mma_async {{.*}} A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]

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

// -----

// Fused epilogue: a zero-filled product followed by `relu(g + bias)` into
// another buffer. The kernel evaluates the consumer's body on each result
// (the bias loaded through its broadcast map) and stores the consumer's
// output; the product's buffer is neither filled nor read nor stored (only
// deallocated). An empty product runs the fill and the consumer as before.

// CHECK-LABEL: func.func @bias_relu_epilogue
// CHECK-SAME:    (%[[X:.*]]: memref<256x64xf32>, %[[W:.*]]: memref<64x96xf32>, %[[BIAS:.*]]: memref<96xf32>, %[[Y:.*]]: memref<256x96xf32>)
// CHECK:         %[[G:.*]] = memref.alloc() : memref<256x96xf32>
// CHECK-NOT:     linalg.generic
// CHECK:         scf.if
// CHECK:           gpu.launch
// CHECK:           gpu.launch
// CHECK:           gpu.launch
// CHECK-COUNT-32:    nvvm.mma.sync
// CHECK-NOT:         memref.load %[[G]][
// CHECK-NOT:         memref.store %{{.*}}, %[[G]][
// CHECK:             %[[B:.*]] = memref.load %[[BIAS]][%{{.*}}] : memref<96xf32>
// CHECK:             %[[S:.*]] = arith.addf %{{.*}}, %[[B]] : f32
// CHECK:             %[[R:.*]] = arith.maximumf %[[S]], %{{.*}} : f32
// CHECK:             memref.store %[[R]], %[[Y]][%{{.*}}, %{{.*}}] : memref<256x96xf32>
// CHECK-NOT:         memref.store %{{.*}}, %[[G]][
// CHECK:         } else {
// CHECK:           linalg.generic {{.*}} outs(%[[G]] : memref<256x96xf32>)
// CHECK:           linalg.generic {{.*}} ins(%[[G]], %[[BIAS]] : memref<256x96xf32>, memref<96xf32>) outs(%[[Y]] : memref<256x96xf32>)
// CHECK:         memref.dealloc %[[G]]
func.func @bias_relu_epilogue(%x: memref<256x64xf32>, %w: memref<64x96xf32>, %bias: memref<96xf32>, %y: memref<256x96xf32>) {
  %zero = arith.constant 0.0 : f32
  %g = memref.alloc() : memref<256x96xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> ()>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%zero : f32) outs(%g : memref<256x96xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<256x64xf32>, memref<64x96xf32>) outs(%g : memref<256x96xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%g, %bias : memref<256x96xf32>, memref<96xf32>) outs(%y : memref<256x96xf32>) {
  ^bb0(%v: f32, %c: f32, %out: f32):
    %s = arith.addf %v, %c : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  }
  memref.dealloc %g : memref<256x96xf32>
  return
}

// -----

// A residual added in place (the consumer writes its residual input, as a
// transformer's `x += proj(h) + bias` bufferizes), the fill a nonzero
// scalar: the kernel adds the scalar to its accumulators, reads the
// residual and stores into it.

// CHECK-LABEL: func.func @residual_in_place
// CHECK-SAME:    (%[[H:.*]]: memref<2x40x64xf32>, %[[W:.*]]: memref<64x64xf32>, %[[RES:.*]]: memref<2x40x64xf32>)
// CHECK-DAG:     %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK:         %[[G:.*]] = memref.alloc() : memref<2x40x64xf32>
// CHECK:         scf.if
// CHECK-COUNT-32:    nvvm.mma.sync
// CHECK:             %[[INIT:.*]] = arith.addf %[[HALF]], %{{.*}} : f32
// CHECK:             %[[OLD:.*]] = memref.load %[[RES]][%{{.*}}, %{{.*}}, %{{.*}}] : memref<2x40x64xf32>
// CHECK:             %[[SUM:.*]] = arith.addf %[[OLD]], %[[INIT]] : f32
// CHECK:             memref.store %[[SUM]], %[[RES]][%{{.*}}, %{{.*}}, %{{.*}}] : memref<2x40x64xf32>
// CHECK:         } else {
func.func @residual_in_place(%h: memref<2x40x64xf32>, %w: memref<64x64xf32>, %res: memref<2x40x64xf32>) {
  %half = arith.constant 0.5 : f32
  %g = memref.alloc() : memref<2x40x64xf32>
  linalg.fill ins(%half : f32) outs(%g : memref<2x40x64xf32>)
  linalg.generic {indexing_maps = [affine_map<(b, s, e, d) -> (b, s, d)>, affine_map<(b, s, e, d) -> (d, e)>, affine_map<(b, s, e, d) -> (b, s, e)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %w : memref<2x40x64xf32>, memref<64x64xf32>) outs(%g : memref<2x40x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(b, s, e) -> (b, s, e)>, affine_map<(b, s, e) -> (b, s, e)>, affine_map<(b, s, e) -> (b, s, e)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%res, %g : memref<2x40x64xf32>, memref<2x40x64xf32>) outs(%res : memref<2x40x64xf32>) {
  ^bb0(%r0: f32, %v: f32, %out: f32):
    %s = arith.addf %r0, %v : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A consumer that writes the product's buffer in place and reads its init
// (the product) through the init argument: the product is not read back
// from memory (its fill is gone); the kernel stores g + bias into it, which
// the copy after reads.

// CHECK-LABEL: func.func @in_place_reads_init
// CHECK-SAME:    (%[[X:.*]]: memref<64x32xf32>, %[[W:.*]]: memref<32x48xf32>, %[[BIAS:.*]]: memref<48xf32>, %[[Y:.*]]: memref<64x48xf32>)
// CHECK:         %[[G:.*]] = memref.alloc() : memref<64x48xf32>
// CHECK-NOT:     linalg.fill
// CHECK:         scf.if
// CHECK-COUNT-32:    nvvm.mma.sync
// CHECK-NOT:         memref.load %[[G]][
// CHECK:             %[[B:.*]] = memref.load %[[BIAS]]
// CHECK:             %[[S:.*]] = arith.addf %{{.*}}, %[[B]] : f32
// CHECK:             memref.store %[[S]], %[[G]][
// CHECK:         } else {
// CHECK:           linalg.fill
// CHECK:         memref.copy %[[G]], %[[Y]]
func.func @in_place_reads_init(%x: memref<64x32xf32>, %w: memref<32x48xf32>, %bias: memref<48xf32>, %y: memref<64x48xf32>) {
  %zero = arith.constant 0.0 : f32
  %g = memref.alloc() : memref<64x48xf32>
  linalg.fill ins(%zero : f32) outs(%g : memref<64x48xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<64x32xf32>, memref<32x48xf32>) outs(%g : memref<64x48xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%g, %bias : memref<64x48xf32>, memref<48xf32>) outs(%g : memref<64x48xf32>) {
  ^bb0(%v: f32, %c: f32, %out: f32):
    %s = arith.addf %out, %c : f32
    linalg.yield %s : f32
  }
  memref.copy %g, %y : memref<64x48xf32> to memref<64x48xf32>
  memref.dealloc %g : memref<64x48xf32>
  return
}

// -----

// The product is read again after its consumer: the kernel stores both the
// product (over its init, which it reads) and the consumer's output; the
// fill stays.

// CHECK-LABEL: func.func @result_read_later
// CHECK-SAME:    (%[[X:.*]]: memref<64x32xf32>, %[[W:.*]]: memref<32x48xf32>, %[[Y:.*]]: memref<64x48xf32>, %[[Z:.*]]: memref<64x48xf32>)
// CHECK:         %[[G:.*]] = memref.alloc() : memref<64x48xf32>
// CHECK:         linalg.fill {{.*}} outs(%[[G]]
// CHECK:         scf.if
// CHECK-COUNT-32:    nvvm.mma.sync
// CHECK:             %[[OLD:.*]] = memref.load %[[G]][
// CHECK:             %[[V:.*]] = arith.addf %[[OLD]], %{{.*}} : f32
// CHECK:             memref.store %[[V]], %[[G]][
// CHECK:             %[[E:.*]] = math.exp %[[V]] : f32
// CHECK:             memref.store %[[E]], %[[Y]]
// CHECK:         } else {
// CHECK:         linalg.generic {{.*}} ins(%[[G]] : memref<64x48xf32>) outs(%[[Z]]
func.func @result_read_later(%x: memref<64x32xf32>, %w: memref<32x48xf32>, %y: memref<64x48xf32>, %z: memref<64x48xf32>) {
  %zero = arith.constant 0.0 : f32
  %g = memref.alloc() : memref<64x48xf32>
  linalg.fill ins(%zero : f32) outs(%g : memref<64x48xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<64x32xf32>, memref<32x48xf32>) outs(%g : memref<64x48xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%g : memref<64x48xf32>) outs(%y : memref<64x48xf32>) {
  ^bb0(%v: f32, %out: f32):
    %e = math.exp %v : f32
    linalg.yield %e : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%g : memref<64x48xf32>) outs(%z : memref<64x48xf32>) {
  ^bb0(%v: f32, %out: f32):
    %n = arith.negf %v : f32
    linalg.yield %n : f32
  }
  memref.dealloc %g : memref<64x48xf32>
  return
}

// -----

// Not fused: a consumer that is a reduction (a row sum), one that writes
// the product's buffer through another map (a transpose in place), one
// after a copy that touches memory, and one of a product into a function
// argument (which may alias anything). Each product keeps the plain
// epilogue (its init read, the sum stored) and each consumer stays.

// CHECK-LABEL: func.func @not_fused
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     } else {
func.func @not_fused(%x: memref<32x32xf32>, %w: memref<32x32xf32>, %s: memref<32xf32>, %y: memref<32x32xf32>, %arg: memref<32x32xf32>) {
  %g0 = memref.alloc() : memref<32x32xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x32xf32>, memref<32x32xf32>) outs(%g0 : memref<32x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%g0 : memref<32x32xf32>) outs(%s : memref<32xf32>) {
  ^bb0(%v: f32, %out: f32):
    %r = arith.addf %out, %v : f32
    linalg.yield %r : f32
  }
  %g1 = memref.alloc() : memref<32x32xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x32xf32>, memref<32x32xf32>) outs(%g1 : memref<32x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j, i)>], iterator_types = ["parallel", "parallel"]}
      ins(%g1 : memref<32x32xf32>) outs(%g1 : memref<32x32xf32>) {
  ^bb0(%v: f32, %out: f32):
    linalg.yield %v : f32
  }
  %g2 = memref.alloc() : memref<32x32xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x32xf32>, memref<32x32xf32>) outs(%g2 : memref<32x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  memref.copy %x, %y : memref<32x32xf32> to memref<32x32xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%g2 : memref<32x32xf32>) outs(%y : memref<32x32xf32>) {
  ^bb0(%v: f32, %out: f32):
    %n = arith.negf %v : f32
    linalg.yield %n : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x32xf32>, memref<32x32xf32>) outs(%arg : memref<32x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%arg : memref<32x32xf32>) outs(%y : memref<32x32xf32>) {
  ^bb0(%v: f32, %out: f32):
    %n = arith.negf %v : f32
    linalg.yield %n : f32
  }
  return
}

// -----

// Constant weights are packed at compile time: B (w, [K][N] = [2][2]) as
// the kernel's fp16 tiles [N padded to 128][K padded to 32] in a new
// constant global (1.0 and 3.0 in row n = 0: 0x3C00 0x4200, then 2.0 and
// 4.0: 0x4000 0x4400, little-endian after the blob's alignment word), read
// by memref.get_global instead of a conversion kernel; only A is converted
// (one conversion launch) and freed. The f32 global, read by nothing else,
// is erased. In bf16: 0x3F80 0x4040, 0x4000 0x4080.

// CHECK-NOT:     memref.global "private" constant @w :
// CHECK:         memref.global "private" constant @w_f16_tiles : memref<4096xf16> = dense_resource<w_f16_tiles> {alignment = 64 : i64}
// CHECK-NOT:     memref.global "private" constant @w :
// CHECK-LABEL: func.func @packed_weights
// CHECK:         scf.if
// CHECK:           %[[ALOW:.*]] = memref.alloc(%{{.*}}) : memref<?xf16>
// CHECK:           gpu.launch
// CHECK:             arith.truncf
// CHECK:           %[[WLOW:.*]] = memref.get_global @w_f16_tiles : memref<4096xf16>
// CHECK:           memref.extract_aligned_pointer_as_index %[[WLOW]]
// CHECK-NOT:       arith.truncf
// CHECK:           gpu.launch
// CHECK-COUNT-32:    nvvm.mma.sync
// CHECK:           memref.dealloc %[[ALOW]]
// CHECK-NOT:       memref.dealloc %[[WLOW]]
// CHECK:         w_f16_tiles: "0x02000000003C0042{{(0{120})}}00400044{{(0{120})}}0000
// BF16:          memref.global "private" constant @w_bf16_tiles : memref<4096xbf16>
// BF16:          w_bf16_tiles: "0x02000000803F4040{{(0{120})}}00408040{{(0{120})}}0000
memref.global "private" constant @w : memref<2x2xf32> = dense<[[1.0, 2.0], [3.0, 4.0]]>
func.func @packed_weights(%x: memref<?x2xf32>, %y: memref<?x2xf32>) {
  %w = memref.get_global @w : memref<2x2xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x2xf32>, memref<2x2xf32>) outs(%y : memref<?x2xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A weight that is also read elsewhere keeps its f32 global; two products
// with the same weight in the same layout share one packed global.

// CHECK:         memref.global "private" constant @v_f16_tiles : memref<4096xf16>
// CHECK-NOT:     memref.global "private" constant @v_f16_tiles
// CHECK:         memref.global "private" constant @v : memref<2x2xf32>
// CHECK-LABEL: func.func @shared_weights
// CHECK:         %[[V:.*]] = memref.get_global @v : memref<2x2xf32>
// CHECK:         memref.get_global @v_f16_tiles
// CHECK:         memref.get_global @v_f16_tiles
// CHECK:         memref.copy %[[V]]
memref.global "private" constant @v : memref<2x2xf32> = dense<[[1.0, 2.0], [3.0, 4.0]]>
func.func @shared_weights(%x: memref<?x2xf32>, %y: memref<?x2xf32>, %z: memref<?x2xf32>, %c: memref<2x2xf32>) {
  %v = memref.get_global @v : memref<2x2xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %v : memref<?x2xf32>, memref<2x2xf32>) outs(%y : memref<?x2xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %v : memref<?x2xf32>, memref<2x2xf32>) outs(%z : memref<?x2xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  memref.copy %v, %c : memref<2x2xf32> to memref<2x2xf32>
  return
}
