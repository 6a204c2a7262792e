/*===- i4gemm.c - W4A8: int8 activations times 4-bit weights --------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * loomrt_i4gemm_f32 (loomrt/kernels.h): C = A W with W 4-bit group-wise
 * (loomrt_qgemm_w4_f32's operands) and A quantized at run time to int8,
 * symmetric, one scale per row and group of W (ONNX Runtime's MatMulNBits
 * with accuracy_level 4 computes this way):
 *
 *   sa[i, g]   = max_{p in g} |A[i, p]| / 127   (1 when that is 0)
 *   qa[i, p]   = clamp(round(A[i, p] / sa[i, g]), -127, 127)
 *   C[i, j]    = sum over groups g, in order, with fused multiply-adds, of
 *                (float)(sum_{p in g} qa[i, p] u[p, j] - z[g, j] asum[i, g])
 *                * (sa[i, g] * sw[g, j])
 *
 * with u the unsigned 4-bit weights, z their zero points, sw their scales
 * and asum[i, g] = sum_{p in g} qa[i, p]. The products are `vpdpbusd`'s:
 * the weights (0..15) are its unsigned operand, the activations its signed
 * one, so the nibbles need no sign handling and the zero point leaves the
 * inner loop.
 *
 * Packed layout (loomrt_i4gemm_pack): panels of 16 columns; in a panel,
 * chunks of 8 rows of k, each 64 bytes: column c's 32-bit lane holds rows
 * 8h..8h+3 in its bytes' low nibbles and rows 8h+4..8h+7 in the high ones,
 * so one load, a mask and a shift give two `vpdpbusd` operands of 16
 * columns x 4 rows. Scales and zero points are packed per panel and group,
 * 16 entries each. The group size must be a multiple of 8 (a chunk never
 * straddles two groups).
 *
 * Register tiles: AVX-512 VNNI, 1 row x 64 columns (decoding) or up to 4
 * rows x 32 columns, the low- and high-nibble sums apart (independent
 * chains); portable C otherwise. Every path computes the same integers and
 * then the same float operations in the same order, so results do not
 * depend on the path (LOOMRT_MAX_ISA=portable|avx2 caps the choice; tests
 * compare them bit for bit).
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#include "buffer.h"
#include "half.h"
#include "isa.h"

#ifdef LOOMRT_KERNELS_OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define LOOMRT_HAVE_X86 1
#endif

enum {
  PANEL = 16,                  /* columns per packed panel */
  CHUNK = 8,                   /* rows of k per 64-byte chunk */
  CHUNK_BYTES = 64,            /* one chunk of one panel */
  MAX_TILE_R = 4,              /* rows per register tile */
  MIN_THREADED_MACS = 1 << 22, /* smaller products run on one thread */
};

static int64_t panelsOf(int64_t n) { return (n + PANEL - 1) / PANEL; }
static int64_t chunksOf(int64_t k) { return (k + CHUNK - 1) / CHUNK; }
static int64_t groupsOf(int64_t k, int64_t group) {
  return (k + group - 1) / group;
}

/* -------------------------------------------------------------------------
 * Packing
 * ------------------------------------------------------------------------- */

int64_t loomrt_i4gemm_packed_bytes(int64_t k, int64_t n) {
  return panelsOf(n) * chunksOf(k) * CHUNK_BYTES;
}

int64_t loomrt_i4gemm_packed_groups(int64_t k, int64_t n, int64_t group) {
  return panelsOf(n) * groupsOf(k, group) * PANEL;
}

/** u[p, j] of row-major 4-bit weights [ceil(k/2), n]; 0 outside. */
static int nibbleAt(const uint8_t *w, int64_t k, int64_t n, int64_t p,
                    int64_t j) {
  if (p >= k || j >= n)
    return 0;
  uint8_t byte = w[p / 2 * n + j];
  return p % 2 ? byte >> 4 : byte & 15;
}

void loomrt_i4gemm_pack(int64_t k, int64_t n, int64_t group, const uint8_t *w,
                        const void *scale, const uint8_t *zero, uint8_t *w_dst,
                        void *scale_dst, uint8_t *zero_dst, int64_t flags) {
  int f32 = (flags & LOOMRT_QGEMM_SCALE_F32) != 0;
  int64_t panels = panelsOf(n), chunks = chunksOf(k),
          groups = groupsOf(k, group);
  for (int64_t t = 0; t < panels; ++t)
    for (int64_t h = 0; h < chunks; ++h)
      for (int64_t c = 0; c < PANEL; ++c)
        for (int64_t r = 0; r < 4; ++r) {
          int64_t j = t * PANEL + c, p = h * CHUNK + r;
          w_dst[((t * chunks + h) * PANEL + c) * 4 + r] =
              (uint8_t)(nibbleAt(w, k, n, p, j) | nibbleAt(w, k, n, p + 4, j)
                                                      << 4);
        }
  for (int64_t t = 0; t < panels; ++t)
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t c = 0; c < PANEL; ++c) {
        int64_t j = t * PANEL + c, at = (t * groups + g) * PANEL + c;
        /* Past column n: scale 0, zero point 8. */
        loomrtCopyScale(scale_dst, at, scale, g * n + j, f32, j < n);
        if (zero_dst)
          zero_dst[at] = j < n && zero ? zero[g * n + j] : 8;
      }
}

/* -------------------------------------------------------------------------
 * The operands of one call
 * ------------------------------------------------------------------------- */

/** Packed weights and the quantized rows of A. */
typedef struct {
  int64_t m, n, k, group, groups, chunks;
  const uint8_t *w;    /* packed */
  const void *scale;   /* packed, fp32 or fp16 */
  int f32;             /* scales are fp32 */
  const uint8_t *zero; /* packed, or NULL: 8 */
  int8_t *qa;          /* [m, chunks * 8], zero padded */
  float *sa;           /* [m, groups] */
  int32_t *asum;       /* [m, groups] */
} Operands;

/** Row x[0..k) quantized per group: the portable definition. */
static void quantizeRowPortable(const float *x, int64_t k, int64_t group,
                                int8_t *q, float *sa, int32_t *asum) {
  for (int64_t g0 = 0, g = 0; g0 < k; g0 += group, ++g) {
    int64_t end = k - g0 < group ? k : g0 + group;
    float peak = 0.0f;
    for (int64_t p = g0; p < end; ++p)
      peak = fmaxf(peak, fabsf(x[p]));
    float s = peak / 127.0f;
    if (s == 0.0f)
      s = 1.0f;
    int32_t sum = 0;
    for (int64_t p = g0; p < end; ++p) {
      float v = nearbyintf(x[p] / s);
      v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
      q[p] = (int8_t)v;
      sum += (int32_t)v;
    }
    sa[g] = s;
    asum[g] = sum;
  }
}

/** C[i, j0 .. j1) on the packed operands: the portable kernel. */
static void rowPortable(const Operands *o, int64_t i, int64_t j0, int64_t j1,
                        float *c) {
  const int8_t *qa = o->qa + i * o->chunks * CHUNK;
  for (int64_t j = j0; j < j1; ++j) {
    int64_t t = j / PANEL, lane = j % PANEL;
    const uint8_t *panel = o->w + t * o->chunks * CHUNK_BYTES;
    float acc = 0.0f;
    for (int64_t g = 0; g < o->groups; ++g) {
      int64_t p0 = g * o->group,
              p1 = o->k - p0 < o->group ? o->k : p0 + o->group;
      int32_t dot = 0;
      for (int64_t p = p0; p < p1; ++p) {
        uint8_t byte = panel[((p / CHUNK) * PANEL + lane) * 4 + p % 4];
        dot += (int32_t)qa[p] * (p % CHUNK < 4 ? byte & 15 : byte >> 4);
      }
      int64_t at = (t * o->groups + g) * PANEL + lane;
      int32_t z = o->zero ? o->zero[at] : 8;
      float sw = loomrtScaleAt(o->scale, o->f32, at);
      float tt = (float)(dot - z * o->asum[i * o->groups + g]);
      acc = fmaf(tt, o->sa[i * o->groups + g] * sw, acc);
    }
    c[i * o->n + j] = acc;
  }
}

#ifdef LOOMRT_HAVE_X86
static int haveVnni512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
}

/** Row x[0..k) quantized per group with AVX-512: the same values as
 *  quantizeRowPortable (exact max, correctly rounded division,
 *  round-half-even conversion). */
__attribute__((target("avx512f,avx512bw"))) static void
quantizeRowAvx512(const float *x, int64_t k, int64_t group, int8_t *q,
                  float *sa, int32_t *asum) {
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int64_t g0 = 0, g = 0; g0 < k; g0 += group, ++g) {
    int64_t end = k - g0 < group ? k : g0 + group;
    __m512 peak = _mm512_setzero_ps();
    for (int64_t p = g0; p < end; p += 16) {
      __mmask16 mask =
          end - p >= 16 ? 0xFFFF : (__mmask16)((1u << (end - p)) - 1);
      __m512 v = _mm512_maskz_loadu_ps(mask, x + p);
      peak = _mm512_max_ps(peak, _mm512_abs_ps(v));
    }
    float s = _mm512_reduce_max_ps(peak) / 127.0f;
    if (s == 0.0f)
      s = 1.0f;
    __m512 sv = _mm512_set1_ps(s);
    __m512i sum = _mm512_setzero_si512();
    for (int64_t p = g0; p < end; p += 16) {
      __mmask16 mask =
          end - p >= 16 ? 0xFFFF : (__mmask16)((1u << (end - p)) - 1);
      __m512 v = _mm512_maskz_loadu_ps(mask, x + p);
      __m512i iv = _mm512_cvtps_epi32(_mm512_div_ps(v, sv));
      iv = _mm512_min_epi32(_mm512_max_epi32(iv, lo), hi);
      iv = _mm512_maskz_mov_epi32(mask, iv);
      _mm512_mask_cvtsepi32_storeu_epi8(q + p, mask, iv);
      sum = _mm512_add_epi32(sum, iv);
    }
    sa[g] = s;
    asum[g] = _mm512_reduce_add_epi32(sum);
  }
}

/** `rows` rows (at most MAX_TILE_R) x `panels` panels (at most 4) of C
 *  from panel `t0` on, `cols` of its columns valid (the rest not stored);
 *  both counts are constants after inlining. */
static inline
    __attribute__((always_inline, target("avx512f,avx512bw,avx512vnni"))) void
    tileVnni(const Operands *o, int rows, int panels, int64_t i0, int64_t t0,
             int64_t cols, float *c) {
  const __m512i nib = _mm512_set1_epi8(0x0F);
  int64_t ldq = o->chunks * CHUNK, panelBytes = o->chunks * CHUNK_BYTES,
          panelGroups = o->groups * PANEL, perGroup = o->group / CHUNK;
  const int8_t *qa = o->qa + i0 * ldq;
  const uint8_t *w = o->w + t0 * panelBytes;
  __m512 acc[MAX_TILE_R][4];
  for (int r = 0; r < rows; ++r)
    for (int t = 0; t < panels; ++t)
      acc[r][t] = _mm512_setzero_ps();
  for (int64_t g = 0; g < o->groups; ++g) {
    int64_t h0 = g * perGroup,
            h1 = o->chunks - h0 < perGroup ? o->chunks : h0 + perGroup;
    __m512i low[MAX_TILE_R][4], high[MAX_TILE_R][4];
    for (int r = 0; r < rows; ++r)
      for (int t = 0; t < panels; ++t)
        low[r][t] = high[r][t] = _mm512_setzero_si512();
    for (int64_t h = h0; h < h1; ++h) {
      __m512i wl[4], wh[4];
      for (int t = 0; t < panels; ++t) {
        __m512i bytes =
            _mm512_loadu_si512(w + t * panelBytes + h * CHUNK_BYTES);
        wl[t] = _mm512_and_si512(bytes, nib);
        wh[t] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), nib);
      }
      for (int r = 0; r < rows; ++r) {
        int32_t a0, a1;
        memcpy(&a0, qa + r * ldq + h * CHUNK, 4);
        memcpy(&a1, qa + r * ldq + h * CHUNK + 4, 4);
        __m512i x0 = _mm512_set1_epi32(a0), x1 = _mm512_set1_epi32(a1);
        for (int t = 0; t < panels; ++t) {
          low[r][t] = _mm512_dpbusd_epi32(low[r][t], wl[t], x0);
          high[r][t] = _mm512_dpbusd_epi32(high[r][t], wh[t], x1);
        }
      }
    }
    __m512 zf[4], sw[4];
    for (int t = 0; t < panels; ++t) {
      int64_t at = (t0 + t) * panelGroups + g * PANEL;
      zf[t] = o->zero ? _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                            _mm_loadu_si128((const __m128i *)(o->zero + at))))
                      : _mm512_set1_ps(8.0f);
      sw[t] = o->f32 ? _mm512_loadu_ps((const float *)o->scale + at)
                     : _mm512_cvtph_ps(_mm256_loadu_si256(
                           (const __m256i *)((const uint16_t *)o->scale + at)));
    }
    for (int r = 0; r < rows; ++r) {
      int64_t at = (i0 + r) * o->groups + g;
      __m512 as = _mm512_set1_ps((float)o->asum[at]);
      __m512 s = _mm512_set1_ps(o->sa[at]);
      for (int t = 0; t < panels; ++t) {
        __m512 dot =
            _mm512_cvtepi32_ps(_mm512_add_epi32(low[r][t], high[r][t]));
        __m512 tt = _mm512_fnmadd_ps(zf[t], as, dot);
        acc[r][t] = _mm512_fmadd_ps(tt, _mm512_mul_ps(s, sw[t]), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int t = 0; t < panels; ++t) {
      int64_t left = cols - t * PANEL;
      if (left <= 0)
        break;
      float *dst = c + (i0 + r) * o->n + (t0 + t) * PANEL;
      if (left >= PANEL)
        _mm512_storeu_ps(dst, acc[r][t]);
      else
        _mm512_mask_storeu_ps(dst, (__mmask16)((1u << left) - 1), acc[r][t]);
    }
}

/** Rows [i0, i0 + rows) of C over `panels` panels from t0 on: the tile
 *  shapes as constants. */
static inline
    __attribute__((always_inline, target("avx512f,avx512bw,avx512vnni"))) void
    rowsVnni(const Operands *o, int rows, int panels, int64_t i0, int64_t t0,
             int64_t cols, float *c) {
#define LOOMRT_VNNI_CASE(R, P)                                                 \
  case R * 8 + P:                                                              \
    tileVnni(o, R, P, i0, t0, cols, c);                                        \
    break;
  switch (rows * 8 + panels) {
    LOOMRT_VNNI_CASE(1, 4)
    LOOMRT_VNNI_CASE(1, 3)
    LOOMRT_VNNI_CASE(1, 2)
    LOOMRT_VNNI_CASE(1, 1)
    LOOMRT_VNNI_CASE(2, 2)
    LOOMRT_VNNI_CASE(2, 1)
    LOOMRT_VNNI_CASE(3, 2)
    LOOMRT_VNNI_CASE(3, 1)
    LOOMRT_VNNI_CASE(4, 2)
    LOOMRT_VNNI_CASE(4, 1)
  default:
    break;
  }
#undef LOOMRT_VNNI_CASE
}

/** Every row of C over the panels [t0, t0 + unit) (a unit is 4 panels for
 *  one row, 2 otherwise); the last unit may hold fewer panels, and no tile
 *  reads a panel past the last. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
unitVnni(const Operands *o, int64_t t0, int unit, float *c) {
  int64_t cols = o->n - t0 * PANEL, left = panelsOf(o->n) - t0;
  int panels = left < unit ? (int)left : unit;
  if (o->m == 1) {
    rowsVnni(o, 1, panels, 0, t0, cols, c);
    return;
  }
  int64_t i = 0;
  for (; i + MAX_TILE_R <= o->m; i += MAX_TILE_R)
    rowsVnni(o, MAX_TILE_R, panels, i, t0, cols, c);
  if (i < o->m)
    rowsVnni(o, (int)(o->m - i), panels, i, t0, cols, c);
}
#endif

/* -------------------------------------------------------------------------
 * Kernel choice and the entry point
 * ------------------------------------------------------------------------- */

/** 1 when the AVX-512 VNNI kernel runs, 0 for portable C; -1 not chosen. */
static int chosen = -1;

static int choose(const char *cap) {
#ifdef LOOMRT_HAVE_X86
  return loomrtIsaCap(cap) >= LOOMRT_ISA_512 && haveVnni512();
#else
  (void)cap;
  return 0;
#endif
}

static int useVnni(void) {
  if (chosen < 0)
    chosen = choose(getenv("LOOMRT_MAX_ISA"));
  return chosen;
}

const char *loomrt_i4gemm_kernel_name(void) {
  return useVnni() ? "avx512-vnni-4x32" : "portable";
}

const char *loomrt_i4gemm_set_max_isa(const char *isa) {
  chosen = choose(isa);
  return loomrt_i4gemm_kernel_name();
}

static int maxThreads(int64_t macs) {
#ifdef LOOMRT_KERNELS_OPENMP
  if (!omp_in_parallel() && macs >= MIN_THREADED_MACS)
    return omp_get_max_threads();
#endif
  (void)macs;
  return 1;
}

/* The quantized rows of A, kept by the calling thread (buffer.h). */
static _Thread_local void *rowBuffer;
static _Thread_local size_t rowCapacity;

/** C = A W on packed weights. Returns -1 when the quantized rows of A
 *  cannot be allocated (nothing computed). */
static int run(Operands *o, const float *a, float *c) {
  int64_t ldq = o->chunks * CHUNK;
  size_t qaBytes = (size_t)(o->m * ldq + 63) / 64 * 64,
         params = (size_t)(o->m * o->groups);
  uint8_t *buffer = loomrtReserve(&rowBuffer, &rowCapacity,
                                  qaBytes + params * 2 * sizeof(float));
  if (!buffer)
    return -1;
  o->qa = (int8_t *)buffer;
  o->sa = (float *)(buffer + qaBytes);
  o->asum = (int32_t *)(o->sa + params);
  int vnni = useVnni();
  int threads = maxThreads(o->m * o->n * o->k);
  (void)vnni;
  (void)threads;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
  {
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t i = 0; i < o->m; ++i) {
      int8_t *q = o->qa + i * ldq;
      /* The padding rows multiply zero activations. */
      memset(q + o->k, 0, (size_t)(ldq - o->k));
#ifdef LOOMRT_HAVE_X86
      if (vnni) {
        quantizeRowAvx512(a + i * o->k, o->k, o->group, q,
                          o->sa + i * o->groups, o->asum + i * o->groups);
        continue;
      }
#endif
      quantizeRowPortable(a + i * o->k, o->k, o->group, q,
                          o->sa + i * o->groups, o->asum + i * o->groups);
    }
    int64_t unitPanels = o->m == 1 ? 4 : 2;
    int64_t units = (panelsOf(o->n) + unitPanels - 1) / unitPanels;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t u = 0; u < units; ++u) {
      int64_t t0 = u * unitPanels;
#ifdef LOOMRT_HAVE_X86
      if (vnni) {
        unitVnni(o, t0, (int)unitPanels, c);
        continue;
      }
#endif
      int64_t j1 = (t0 + unitPanels) * PANEL;
      for (int64_t i = 0; i < o->m; ++i)
        rowPortable(o, i, t0 * PANEL, j1 < o->n ? j1 : o->n, c);
    }
  }
  return 0;
}

void loomrt_i4gemm_f32(int64_t m, int64_t n, int64_t k, int64_t group,
                       const float *a, const uint8_t *w, const void *scale,
                       const uint8_t *zero, float *c, int64_t flags) {
  if (m <= 0 || n <= 0)
    return;
  if (group <= 0 || group % CHUNK) { /* The op's verifier excludes this. */
    for (int64_t i = 0; i < m * n; ++i)
      c[i] = NAN;
    return;
  }
  if (k <= 0) {
    memset(c, 0, (size_t)(m * n) * sizeof(float));
    return;
  }
  int f32 = (flags & LOOMRT_QGEMM_SCALE_F32) != 0;
  Operands o = {m,           n,    k,     group, groupsOf(k, group),
                chunksOf(k), w,    scale, f32,   zero,
                NULL,        NULL, NULL};
  if (flags & LOOMRT_QGEMM_PACKED) {
    run(&o, a, c);
    return;
  }
  /* Pack into temporaries first. */
  size_t entries = (size_t)loomrt_i4gemm_packed_groups(k, n, group);
  uint8_t *wp = malloc((size_t)loomrt_i4gemm_packed_bytes(k, n));
  void *sp = malloc(entries * (f32 ? sizeof(float) : sizeof(uint16_t)));
  uint8_t *zp = zero ? malloc(entries) : NULL;
  if (wp && sp && (zp || !zero)) {
    loomrt_i4gemm_pack(k, n, group, w, scale, zero, wp, sp, zp, flags);
    o.w = wp;
    o.scale = sp;
    o.zero = zp;
    run(&o, a, c);
  }
  free(wp);
  free(sp);
  free(zp);
}
