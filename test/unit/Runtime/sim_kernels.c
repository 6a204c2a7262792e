/*===- sim_kernels.c - Kernels for SimDriverTest --------------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * Hand-written kernels in the form loomc gives a loomsim image: an entry
 * <name>__sim(void **params) per kernel, NVVM intrinsics as calls of
 * loomsim's __loomsim_* functions (resolved when loomsim loads the image).
 * Built as a shared object that SimDriverTest wraps into an image.
 *
 *===----------------------------------------------------------------------===*/

#include <stdint.h>

uint32_t __loomsim_read_ptx_sreg_tid_x(void);
uint32_t __loomsim_read_ptx_sreg_tid_y(void);
uint32_t __loomsim_read_ptx_sreg_ntid_x(void);
uint32_t __loomsim_read_ptx_sreg_ntid_y(void);
uint32_t __loomsim_read_ptx_sreg_ctaid_x(void);
uint32_t __loomsim_read_ptx_sreg_ctaid_y(void);
uint32_t __loomsim_read_ptx_sreg_nctaid_x(void);
uint32_t __loomsim_read_ptx_sreg_laneid(void);
void __loomsim_barrier_cta_sync_aligned_all(int32_t id);
uint32_t __loomsim_shfl_sync_up_i32(uint32_t, uint32_t, uint32_t, uint32_t);
uint32_t __loomsim_shfl_sync_down_i32(uint32_t, uint32_t, uint32_t, uint32_t);
uint32_t __loomsim_shfl_sync_bfly_i32(uint32_t, uint32_t, uint32_t, uint32_t);
uint32_t __loomsim_shfl_sync_idx_i32(uint32_t, uint32_t, uint32_t, uint32_t);
float __loomsim_shfl_sync_bfly_f32(uint32_t, float, uint32_t, uint32_t);
typedef struct {
  const void *row;
} LdMatrixArgs;
void __loomsim_ldmatrix_sync_aligned_m8n8_x4_b16(uint32_t *,
                                                 const LdMatrixArgs *);
void __loomsim_ldmatrix_sync_aligned_m8n8_x2_trans_b16(uint32_t *,
                                                       const LdMatrixArgs *);
uint32_t __loomsim_ldmatrix_sync_aligned_m8n8_x1_b16(const void *);
void __loomsim_cp_async_cg_shared_global_16(void *, const void *);
void __loomsim_cp_async_ca_shared_global_4(void *, const void *);
void __loomsim_cp_async_commit_group(void);
void __loomsim_cp_async_wait_group(int32_t);

/* ids: out[6 * (block linear * threads + thread linear) + 0..5] = tid.x,
 * tid.y, ctaid.x, ctaid.y, ntid.x * ntid.y, nctaid.x. */
void ids__sim(void **params) {
  uint32_t *out = *(uint32_t **)params[0];
  uint32_t threads =
      __loomsim_read_ptx_sreg_ntid_x() * __loomsim_read_ptx_sreg_ntid_y();
  uint32_t block =
      __loomsim_read_ptx_sreg_ctaid_y() * __loomsim_read_ptx_sreg_nctaid_x() +
      __loomsim_read_ptx_sreg_ctaid_x();
  uint32_t t =
      __loomsim_read_ptx_sreg_tid_y() * __loomsim_read_ptx_sreg_ntid_x() +
      __loomsim_read_ptx_sreg_tid_x();
  uint32_t *o = out + 6 * (block * threads + t);
  o[0] = __loomsim_read_ptx_sreg_tid_x();
  o[1] = __loomsim_read_ptx_sreg_tid_y();
  o[2] = __loomsim_read_ptx_sreg_ctaid_x();
  o[3] = __loomsim_read_ptx_sreg_ctaid_y();
  o[4] = threads;
  o[5] = __loomsim_read_ptx_sreg_nctaid_x();
}

/* shuffles: value 10 * t + 1 per thread t; out[k * n + t] for k = up 1
 * (width 32), down 3, bfly 5, idx 7, down 3 in 16-lane segments, bfly 1.5
 * as f32. */
void shuffles__sim(void **params) {
  uint32_t *out = *(uint32_t **)params[0];
  uint32_t n = __loomsim_read_ptx_sreg_ntid_x();
  uint32_t t = __loomsim_read_ptx_sreg_tid_x();
  uint32_t v = 10 * t + 1;
  out[0 * n + t] = __loomsim_shfl_sync_up_i32(~0u, v, 1, 0);
  out[1 * n + t] = __loomsim_shfl_sync_down_i32(~0u, v, 3, 0x1f);
  out[2 * n + t] = __loomsim_shfl_sync_bfly_i32(~0u, v, 5, 0x1f);
  out[3 * n + t] = __loomsim_shfl_sync_idx_i32(~0u, v, 7, 0x1f);
  out[4 * n + t] = __loomsim_shfl_sync_down_i32(~0u, v, 3, (16 << 8) | 0x1f);
  float f = __loomsim_shfl_sync_bfly_f32(~0u, (float)v + 0.5f, 1, 0x1f);
  out[5 * n + t] = (uint32_t)(f * 2.0f);
}

/* barriers: three rounds of: write shared[t], barrier, read the
 * neighbour's, barrier. out[t] = the sum read. */
static uint32_t shared[1024];
void barriers__sim(void **params) {
  uint32_t *out = *(uint32_t **)params[0];
  uint32_t n = __loomsim_read_ptx_sreg_ntid_x();
  uint32_t t = __loomsim_read_ptx_sreg_tid_x();
  uint32_t sum = 0;
  for (uint32_t round = 0; round < 3; ++round) {
    shared[t] = 100 * round + t;
    __loomsim_barrier_cta_sync_aligned_all(0);
    sum += shared[(t + 1) % n];
    __loomsim_barrier_cta_sync_aligned_all(0);
  }
  out[t] = sum;
}

/* deadlock: the first half of warp 0 shuffles, everyone else waits at a
 * barrier. */
void deadlock__sim(void **params) {
  (void)params;
  uint32_t t = __loomsim_read_ptx_sreg_tid_x();
  if (t < 16)
    (void)__loomsim_shfl_sync_bfly_i32(~0u, t, 1, 0x1f);
  else
    __loomsim_barrier_cta_sync_aligned_all(0);
}

/* divergent: the lanes of a warp run different shuffles. */
void divergent__sim(void **params) {
  (void)params;
  uint32_t t = __loomsim_read_ptx_sreg_laneid();
  if (t < 16)
    (void)__loomsim_shfl_sync_bfly_i32(~0u, t, 1, 0x1f);
  else
    (void)__loomsim_shfl_sync_down_i32(~0u, t, 1, 0x1f);
}

/* ldmatrix: a 32 x 8 matrix of 16-bit values m[r][c] = 100 r + c in
 * shared memory (rows padded to 12 elements). One warp: x4 with lane l
 * pointing at row l (matrices = rows 0-7, 8-15, 16-23, 24-31); x2.trans
 * with lanes 0-15 pointing at rows 16 + l; x1 with lanes 0-7 at rows
 * 8 + l. out[7 * l + i]: x4's registers, x2.trans's, x1's. */
static uint16_t matrix[32][12];
void ldmatrix__sim(void **params) {
  uint32_t *out = *(uint32_t **)params[0];
  uint32_t l = __loomsim_read_ptx_sreg_tid_x();
  for (int c = 0; c < 8; ++c)
    matrix[l][c] = (uint16_t)(100 * l + c);
  __loomsim_barrier_cta_sync_aligned_all(0);
  LdMatrixArgs args = {matrix[l]};
  __loomsim_ldmatrix_sync_aligned_m8n8_x4_b16(&out[7 * l], &args);
  args.row = l < 16 ? matrix[16 + l] : 0;
  __loomsim_ldmatrix_sync_aligned_m8n8_x2_trans_b16(&out[7 * l + 4], &args);
  out[7 * l + 6] =
      __loomsim_ldmatrix_sync_aligned_m8n8_x1_b16(l < 8 ? matrix[8 + l] : 0);
}

/* asyncCopies: each thread copies in[4t .. 4t + 4) (16 bytes) into
 * shared memory as group 0 and in[256 + t] (4 bytes) as group 1, then
 * reads both before any wait (out[3t], out[3t + 1]: stale zeros), waits
 * for all but the newest group (out[3t + 2] = the first copy's first word,
 * and the second copy still pending: out[512 + t]), then for all (out[768
 * + t] = the second). */
static uint32_t staged[64 * 4 + 64];
void asyncCopies__sim(void **params) {
  uint32_t *out = *(uint32_t **)params[0];
  const uint32_t *in = *(const uint32_t **)params[1];
  uint32_t t = __loomsim_read_ptx_sreg_tid_x();
  staged[4 * t] = 0;
  staged[256 + t] = 0;
  __loomsim_cp_async_cg_shared_global_16(&staged[4 * t], &in[4 * t]);
  __loomsim_cp_async_commit_group();
  __loomsim_cp_async_ca_shared_global_4(&staged[256 + t], &in[256 + t]);
  __loomsim_cp_async_commit_group();
  out[3 * t] = staged[4 * t];
  out[3 * t + 1] = staged[256 + t];
  __loomsim_cp_async_wait_group(1);
  out[3 * t + 2] = staged[4 * t + 3];
  out[512 + t] = staged[256 + t];
  __loomsim_cp_async_wait_group(0);
  out[768 + t] = staged[256 + t];
}

/* wgmma: the image's shared memory (loomc's images name it so). */
void __loomsim_fence_proxy_async_shared_cta(void);
void __loomsim_wgmma_fence_sync_aligned(void);
void __loomsim_wgmma_commit_group_sync_aligned(void);
void __loomsim_wgmma_wait_group_sync_aligned(int64_t);
void __loomsim_wgmma_mma_async(float *, const float *, uint64_t, uint64_t,
                               int32_t, int32_t, int32_t, int32_t, int32_t,
                               int32_t, int32_t);
_Alignas(128) unsigned char __loomsim_shared[16384];
const uint64_t __loomsim_shared_size = sizeof __loomsim_shared;

/* fp16 bits of small integers (|v| < 2048). */
static uint16_t halfOf(int v) {
  if (v == 0)
    return 0;
  uint16_t sign = v < 0 ? 0x8000 : 0;
  unsigned a = (unsigned)(v < 0 ? -v : v);
  int e = 0;
  while ((a >> e) > 1)
    ++e;
  return (uint16_t)(sign | (uint16_t)((e + 15) << 10) |
                    (uint16_t)(((a << 10) >> e) & 0x3ff));
}

/* The descriptor of K-major operand tiles from byte `offset` of the window:
 * core matrices next along K `lead` bytes apart, the next 8 rows `stride`
 * bytes; `swizzle` in bits 62-63. */
static uint64_t descriptor(uint64_t offset, uint64_t lead, uint64_t stride,
                           uint64_t swizzle) {
  uint64_t address = (uint64_t)(uintptr_t)(__loomsim_shared + offset);
  return ((address & 0x3FFFF) >> 4) | (lead >> 4) << 16 | (stride >> 4) << 32 |
         swizzle << 62;
}

/* wgmma: one warpgroup, m64n8k16 in fp16: A[r][k] = (3r + 5k) % 7 - 3 with
 * its core matrices next along K 1024 bytes apart and the next 8 rows 128
 * (at byte 0); B[n][k] = (2n + k) % 5 - 2, 256 and 128 apart (at byte
 * 4096). Thread t's accumulators start at 0.5 i + t and it stores the
 * results of D = acc - A B^T (imm-scale-b -1) at out[4t + i]. Thread 0
 * writes A and B with plain stores, as the generic proxy, then fences
 * them for the async proxy. */
static void writeOperands(int shift) {
  for (int r = 0; r < 64; ++r)
    for (int k = 0; k < 16; ++k) {
      uint16_t *at = (uint16_t *)(__loomsim_shared + r / 8 * 128 + r % 8 * 16 +
                                  k / 8 * 1024 + k % 8 * 2);
      *at = halfOf((3 * r + 5 * k + shift) % 7 - 3);
    }
  for (int n = 0; n < 8; ++n)
    for (int k = 0; k < 16; ++k) {
      uint16_t *at = (uint16_t *)(__loomsim_shared + 4096 + n * 16 +
                                  k / 8 * 256 + k % 8 * 2);
      *at = halfOf((2 * n + k) % 5 - 2);
    }
}
void wgmma__sim(void **params) {
  float *out = *(float **)params[0];
  uint32_t t = __loomsim_read_ptx_sreg_tid_x();
  if (t == 0)
    writeOperands(0);
  __loomsim_fence_proxy_async_shared_cta();
  __loomsim_barrier_cta_sync_aligned_all(0);
  float acc[4], d[4];
  for (int i = 0; i < 4; ++i)
    acc[i] = 0.5f * (float)i + (float)t;
  __loomsim_wgmma_fence_sync_aligned();
  __loomsim_wgmma_mma_async(d, acc, descriptor(0, 1024, 128, 0),
                            descriptor(4096, 256, 128, 0), 1, 1, -1, 0, 0, 8,
                            0);
  __loomsim_wgmma_commit_group_sync_aligned();
  __loomsim_wgmma_wait_group_sync_aligned(0);
  for (int i = 0; i < 4; ++i)
    out[4 * t + i] = d[i];
}

/* wgmmaUnfenced: A and B arrive by cp.async, waited for but not fenced
 * for the async proxy (a race on a GPU). */
void wgmmaUnfenced__sim(void **params) {
  const unsigned char *in = *(const unsigned char **)params[0];
  uint32_t t = __loomsim_read_ptx_sreg_tid_x();
  __loomsim_cp_async_cg_shared_global_16(__loomsim_shared + 16 * t,
                                         in + 16 * t);
  __loomsim_cp_async_commit_group();
  __loomsim_cp_async_wait_group(0);
  __loomsim_barrier_cta_sync_aligned_all(0);
  float acc[4] = {0}, d[4];
  __loomsim_wgmma_fence_sync_aligned();
  __loomsim_wgmma_mma_async(d, acc, descriptor(0, 128, 256, 0),
                            descriptor(0, 128, 256, 0), 1, 1, 1, 0, 0, 8, 0);
}

/* wgmmaSwizzled: a 128-byte swizzled descriptor (not simulated). */
void wgmmaSwizzled__sim(void **params) {
  (void)params;
  float acc[4] = {0}, d[4];
  __loomsim_wgmma_fence_sync_aligned();
  __loomsim_wgmma_mma_async(d, acc, descriptor(0, 16, 1024, 1),
                            descriptor(0, 16, 1024, 1), 1, 1, 1, 0, 0, 8, 0);
}

/* wgmmaRace: A is overwritten (by thread 0, after a barrier) while the
 * MMAs that read it are in flight, before their wait_group (a race on a
 * GPU). wgmmaNoWait: the threads exit without waiting for theirs. */
static void issueOne(void) {
  float acc[4] = {0}, d[4];
  __loomsim_wgmma_fence_sync_aligned();
  __loomsim_wgmma_mma_async(d, acc, descriptor(0, 1024, 128, 0),
                            descriptor(4096, 256, 128, 0), 1, 1, 1, 0, 0, 8, 0);
  __loomsim_wgmma_commit_group_sync_aligned();
}
void wgmmaRace__sim(void **params) {
  (void)params;
  uint32_t t = __loomsim_read_ptx_sreg_tid_x();
  if (t == 0)
    writeOperands(0);
  __loomsim_fence_proxy_async_shared_cta();
  __loomsim_barrier_cta_sync_aligned_all(0);
  issueOne();
  __loomsim_barrier_cta_sync_aligned_all(0);
  if (t == 0)
    writeOperands(1);
  __loomsim_barrier_cta_sync_aligned_all(0);
  __loomsim_wgmma_wait_group_sync_aligned(0);
}
void wgmmaNoWait__sim(void **params) {
  (void)params;
  if (__loomsim_read_ptx_sreg_tid_x() == 0)
    writeOperands(0);
  __loomsim_fence_proxy_async_shared_cta();
  __loomsim_barrier_cta_sync_aligned_all(0);
  issueOne();
}
