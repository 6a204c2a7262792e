// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions | FileCheck %s
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=precision=bf16 | FileCheck %s --check-prefix=BF16
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=precision=fp32 | FileCheck %s --check-prefix=FP32
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-contractions=tensor-cores=false | FileCheck %s --check-prefix=FP32

// A matmul in the CPU's i-k-j order: one launch of 128 x 128 tiles (grid:
// N tiles, M tiles, 1), 256 threads, fp16 tiles in shared memory, 32 MMAs
// per 32-deep K step, the accumulators added to the output under a guard.
// fp32 (or emulated): only interchanged, the reduction innermost.

// CHECK-LABEL: func.func @matmul
// CHECK-SAME:    (%[[A:.*]]: memref<?x?xf32>, %[[B:.*]]: memref<?x?xf32>, %[[C:.*]]: memref<?x?xf32>)
// CHECK:         %[[M:.*]] = memref.dim %[[A]], %c0
// CHECK:         %[[N:.*]] = memref.dim %[[B]], %c1
// CHECK:         scf.if
// CHECK:           %[[GX:.*]] = arith.ceildivui %[[N]], %c128
// CHECK:           %[[GY:.*]] = arith.ceildivui %[[M]], %c128
// CHECK:           gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GX]], %{{.*}} = %[[GY]], %{{.*}} = %c1{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) workgroup(%[[SA:.*]] : memref<128x40xf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<128x40xf16, #gpu.address_space<workgroup>>)
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %{{.*}} step %c32{{.*}} iter_args({{.*}}) -> (f32, f32,
// CHECK:               memref.load %[[A]]
// CHECK:               arith.select
// CHECK:               arith.truncf %{{.*}} : f32 to f16
// CHECK:               memref.store %{{.*}}, %[[SA]]
// CHECK:               memref.load %[[B]]
// CHECK:               memref.store %{{.*}}, %[[SB]]
// CHECK:               gpu.barrier
// CHECK:               vector.load %[[SA]]{{.*}} vector<2xf16>
// CHECK-COUNT-32:      nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32)
// CHECK:               gpu.barrier
// CHECK:               scf.yield
// CHECK:             scf.if
// CHECK:               memref.load %[[C]]
// CHECK:               arith.addf
// CHECK:               memref.store %{{.*}}, %[[C]]
// CHECK:             gpu.terminator
// CHECK-NOT:   linalg.generic

// BF16-LABEL: func.func @matmul
// BF16:         workgroup(%{{.*}} : memref<128x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<128x40xbf16, #gpu.address_space<workgroup>>)
// BF16:         arith.truncf %{{.*}} : f32 to bf16
// BF16:         vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
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
// CHECK:         %[[GX:.*]] = arith.ceildivui %c32, %c128
// CHECK:         %[[GY:.*]] = arith.ceildivui %c16, %c128
// CHECK:         gpu.launch blocks(%{{.*}}, %{{.*}}, %[[BZ:.*]]) in (%{{.*}} = %[[GX]], %{{.*}} = %[[GY]], %{{.*}} = %[[BATCH]])
// CHECK:           arith.remui %[[BZ]], %c2
// CHECK:           arith.divui %[[BZ]], %c2
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
// CHECK:         %[[GX:.*]] = arith.ceildivui %c96, %c128
// CHECK:         %[[GY:.*]] = arith.ceildivui %[[M]], %c128
// CHECK:         gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GX]], %{{.*}} = %[[GY]], %{{.*}} = %c1{{.*}})
// CHECK:           arith.remui %{{.*}}, %c100
// CHECK:           arith.divui %{{.*}}, %c100
// CHECK-COUNT-32:  nvvm.mma.sync
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
