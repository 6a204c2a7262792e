// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-attention | FileCheck %s
// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-attention=precision=bf16 | FileCheck %s --check-prefix=BF16

// Causal attention, head dims 64, contiguous rows (column stride 1). K and
// V are first converted to fp16 (one kernel each, 8 elements per thread,
// keys padded to a multiple of 64 with zeros). Then one launch of
// 128-query blocks (grid: query tiles, heads, batch) of 256 threads (8
// warps of 16 rows) with two fp16 tiles in shared memory ([row][d] for the
// queries, then the keys; [key][dv] for the values). The queries are staged
// in two parts of 64 rows (16-byte loads where the rows are aligned, scalar
// loads otherwise); each warp keeps the fragments of its part. The first
// keys and values are copied asynchronously (cp.async, a group each); per
// 64 keys: wait for the keys, 4 x 4 ldmatrix.x4 and 4 x 8 score MMAs (head
// dim 64 = 4 k16 steps, 8 key tiles), the next keys' copies, the causal
// mask, the row maximum over the quad (two xor shuffles), base-2
// exponentials, wait for the values, 4 x 4 ldmatrix.x4.trans and 4 x 8
// output MMAs, the next values' copies; at the end the row sums over the
// quad and guarded stores of the normalized rows; the fp16 copies freed.

// CHECK-LABEL: func.func @causal
// CHECK:         scf.if
// CHECK:           %[[KLOW:.*]] = memref.alloc(%{{.*}}) : memref<?xf16>
// CHECK:           %[[VLOW:.*]] = memref.alloc(%{{.*}}) : memref<?xf16>
// CHECK:           gpu.launch
// CHECK:             vector.store %{{.*}}, %[[KLOW]][%{{.*}}] {alignment = 16 : i64} : memref<?xf16>, vector<8xf16>
// CHECK:           gpu.launch
// CHECK:             vector.store %{{.*}}, %[[VLOW]][%{{.*}}] {alignment = 16 : i64} : memref<?xf16>, vector<8xf16>
// CHECK:           %[[GX:.*]] = arith.ceildivui %{{.*}}, %c128
// CHECK:           gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GX]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) workgroup(%[[ROWS:.*]] : memref<64x72xf16, #gpu.address_space<workgroup>>, %[[VALUES:.*]] : memref<64x72xf16, #gpu.address_space<workgroup>>)
// CHECK:             llvm.inttoptr
// CHECK:             scf.if
// CHECK:               llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xf32>
// CHECK:               arith.truncf %{{.*}} : vector<4xf32> to vector<4xf16>
// CHECK:               vector.store %{{.*}}, %[[ROWS]]
// CHECK:             } else {
// CHECK:               llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr -> f32
// CHECK:             gpu.barrier
// CHECK-COUNT-16:    vector.load %[[ROWS]]{{.*}} {alignment = 4 : i64} : memref<64x72xf16, #gpu.address_space<workgroup>>, vector<2xf16>
// CHECK:             gpu.barrier
// CHECK:             scf.if
// CHECK:               llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xf32>
// CHECK:             gpu.barrier
// CHECK:             arith.cmpi eq
// CHECK-COUNT-16:    vector.load %[[ROWS]]
// CHECK:             arith.select
// CHECK:             gpu.barrier
// CHECK:             scf.if
// CHECK-COUNT-2:       nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
// CHECK:               nvvm.cp.async.commit.group
// CHECK-COUNT-2:       nvvm.cp.async.shared.global
// CHECK:             nvvm.cp.async.commit.group
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %{{.*}} step %c64{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32
// CHECK:               nvvm.cp.async.wait.group 1
// CHECK:               gpu.barrier
// CHECK:               nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b16>, layout = #nvvm.mma_layout<row>, num = 4 : i32, shape = #nvvm.ld_st_matrix_shape<m = 8, n = 8>} : (!llvm.ptr<3>) -> !llvm.struct<(i32, i32, i32, i32)>
// CHECK:               llvm.bitcast %{{.*}} : i32 to vector<2xf16>
// CHECK-COUNT-2:       nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32)
// CHECK-COUNT-30:      nvvm.mma.sync
// CHECK:               gpu.barrier
// CHECK:               scf.if
// CHECK-COUNT-2:         nvvm.cp.async.shared.global
// CHECK:               nvvm.cp.async.commit.group
// CHECK:               arith.cmpi sle
// CHECK:               gpu.shuffle  xor
// CHECK:               gpu.shuffle  xor
// CHECK:               math.exp2
// CHECK:               nvvm.cp.async.wait.group 1
// CHECK:               gpu.barrier
// CHECK:               vector.from_elements
// CHECK:               nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b16>, layout = #nvvm.mma_layout<col>
// CHECK-COUNT-32:      nvvm.mma.sync
// CHECK:               gpu.barrier
// CHECK:               scf.if
// CHECK-COUNT-2:         nvvm.cp.async.shared.global
// CHECK:               nvvm.cp.async.commit.group
// CHECK:               scf.yield
// CHECK:             gpu.shuffle  xor
// CHECK:             arith.divf
// CHECK:             scf.if
// CHECK-COUNT-16:      llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr
// CHECK:             gpu.terminator
// CHECK:           memref.dealloc %[[KLOW]]
// CHECK:           memref.dealloc %[[VLOW]]

// BF16-LABEL: func.func @causal
// BF16:         memref.alloc(%{{.*}}) : memref<?xbf16>
// BF16:         workgroup(%{{.*}} : memref<64x72xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<64x72xbf16, #gpu.address_space<workgroup>>)
// BF16:         vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
// BF16:         nvvm.ldmatrix
// BF16-NOT:     llvm.bitcast
// BF16:         nvvm.mma.sync {{.*}} : (i32, i32, f32)

func.func private @loomrt_attention_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)

func.func @causal(%b: i64, %h: i64, %sq: i64, %skv: i64, %q: i64, %k: i64, %v: i64, %o: i64, %s0: i64, %s1: i64, %s2: i64) {
  %c1 = arith.constant 1 : i64
  %c64 = arith.constant 64 : i64
  // 0.125
  %scale = arith.constant 1040187392 : i64
  func.call @loomrt_attention_f32(%b, %h, %h, %sq, %skv, %c64, %c64, %q, %s0, %s1, %s2, %c1, %k, %s0, %s1, %s2, %c1, %v, %s0, %s1, %s2, %c1, %o, %s0, %s1, %s2, %c1, %scale, %c1) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

// Head dims 128 (scores) and 32 (values), grouped-query heads, column
// strides known only at run time: scalar loads only, no causal mask; the
// key/value head is the query head divided by the group size.

// CHECK-LABEL: func.func @strided
// CHECK:         %[[GROUP:.*]] = arith.divui %{{.*}}, %{{.*}} : index
// CHECK:         gpu.launch {{.*}} workgroup(%[[ROWS:.*]] : memref<64x136xf16, #gpu.address_space<workgroup>>, %[[VALUES:.*]] : memref<64x40xf16, #gpu.address_space<workgroup>>)
// CHECK:           arith.divui %{{.*}}, %[[GROUP]] : index
// CHECK-NOT:       vector<4xf32>
// CHECK:           scf.for
// CHECK-NOT:         arith.cmpi sle
// CHECK-COUNT-64:    nvvm.mma.sync
// CHECK-NOT:         nvvm.mma.sync
// CHECK:             math.exp2
// CHECK-COUNT-16:    nvvm.mma.sync
// CHECK-NOT:         nvvm.mma.sync
// CHECK:             scf.yield

func.func private @loomrt_attention_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)

func.func @strided(%b: i64, %h: i64, %hkv: i64, %sq: i64, %skv: i64, %q: i64, %k: i64, %v: i64, %o: i64, %s: i64) {
  %c0 = arith.constant 0 : i64
  %c32 = arith.constant 32 : i64
  %c128 = arith.constant 128 : i64
  // 0.088388
  %scale = arith.constant 1035098336 : i64
  func.call @loomrt_attention_f32(%b, %h, %hkv, %sq, %skv, %c128, %c32, %q, %s, %s, %s, %s, %k, %s, %s, %s, %s, %v, %s, %s, %s, %s, %o, %s, %s, %s, %s, %scale, %c0) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

// An additive mask (loomrt_attention_mask_f32: its address and broadcast
// strides last): each score adds mask[row][key] times log2(e), read at
// clamped indices from the (batch, query head) matrix of the mask.

// CHECK-LABEL: func.func @masked
// CHECK:         gpu.launch {{.*}} workgroup(
// CHECK:           scf.for
// CHECK:             arith.minui
// CHECK:             llvm.getelementptr
// CHECK:             %[[M:.*]] = llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr -> f32
// CHECK:             math.fma %[[M]], %{{.*}}, %{{.*}} : f32
// CHECK:             math.exp2

func.func private @loomrt_attention_mask_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)

func.func @masked(%b: i64, %h: i64, %sq: i64, %skv: i64, %q: i64, %k: i64, %v: i64, %o: i64, %m: i64, %s0: i64, %s1: i64, %s2: i64) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  %c32 = arith.constant 32 : i64
  // 0.125
  %scale = arith.constant 1040187392 : i64
  func.call @loomrt_attention_mask_f32(%b, %h, %h, %sq, %skv, %c32, %c32, %q, %s0, %s1, %s2, %c1, %k, %s0, %s1, %s2, %c1, %v, %s0, %s1, %s2, %c1, %o, %s0, %s1, %s2, %c1, %scale, %c0, %m, %c0, %c0, %skv, %c1) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

func.func private @loomrt_attention_mask_f32(i64)

func.func @masked_arity(%x: i64) {
  // expected-error @below {{loom-gpu-attention: loomrt_attention_mask_f32 takes 34 arguments, not 1}}
  func.call @loomrt_attention_mask_f32(%x) : (i64) -> ()
  return
}

// -----

func.func private @loomrt_attention_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)

func.func @dynamic_dim(%x: i64) {
  %c1 = arith.constant 1 : i64
  // expected-error @below {{loom-gpu-attention: the kernel needs constant head dims that are multiples of 16 up to 128, a constant scale and flags (causal only)}}
  func.call @loomrt_attention_f32(%c1, %c1, %c1, %c1, %c1, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %c1, %c1) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

func.func private @loomrt_attention_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)

func.func @too_wide(%x: i64) {
  %c1 = arith.constant 1 : i64
  %c256 = arith.constant 256 : i64
  // expected-error @below {{loom-gpu-attention: the kernel needs constant head dims}}
  func.call @loomrt_attention_f32(%c1, %c1, %c1, %c1, %c1, %c256, %c256, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %c1, %c1) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

func.func private @loomrt_attention_f32(i64, i64)

func.func @arity(%x: i64) {
  // expected-error @below {{loom-gpu-attention: loomrt_attention_f32 takes 29 arguments, not 2}}
  func.call @loomrt_attention_f32(%x, %x) : (i64, i64) -> ()
  return
}
