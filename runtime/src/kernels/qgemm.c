/*===- qgemm.c - fp32 x quantized-weight matrix multiplies ----------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * loomrt_qgemm_w8_f32 and loomrt_qgemm_w4_f32 (loomrt/kernels.h): C = A W
 * with A fp32 and W quantized, the lowerings of loom.quantized_matmul
 * (weight-only quantization). W is never expanded to fp32 in memory as a
 * whole:
 *
 * - A single row (a decoding step, bound by memory bandwidth) dequantizes
 *   the weights in registers as they stream by. int8: each thread streams
 *   a contiguous block of W's rows into partial sums kept in L1 (2048
 *   columns at a time), which are then added and scaled. int4: each thread
 *   owns blocks of 32 columns over all of k, one group at a time: the
 *   group's sums stay in registers, then are scaled into the result.
 * - Several rows dequantize a block of columns at a time into the fp32
 *   microkernel's panel layout (loomrt_sgemm_pack_b's; at most 192 KiB per
 *   thread, so it stays in L2) and run loomrt_sgemm_f32 over all the rows:
 *   each weight is converted once per call however many rows there are.
 *   int8 with fewer than 8 rows uses 6 x 16 register tiles that convert
 *   the weights in registers instead.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#include "half.h"
#include "parallel.h"

#ifdef LOOMRT_KERNELS_OPENMP
#include <omp.h>
#endif
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOOMRT_HAVE_X86 1
#endif

enum {
  NR = LOOMRT_GEMM_PANEL, /* columns per strip (and per packed panel) */
  MR = 6,                 /* rows per int8 register tile */
  GEMV_CHUNK = 2048,      /* columns of int8 sums kept in L1 by one row */
  GEMV_MAX_THREADS = 64,
  W4_PANEL = 32,            /* columns per packed int4 panel */
  PANEL_BYTES = 192 * 1024, /* dequantized panels per thread */
  DEQUANT_MIN_ROWS = 8,     /* int8: from this many rows, dequantize */
};

static int maxThreads(void) {
#ifdef LOOMRT_KERNELS_OPENMP
  if (!omp_in_parallel())
    return omp_get_max_threads();
#endif
  return 1;
}

#ifdef LOOMRT_HAVE_X86
static int haveAvx2(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    /* Every AVX2 CPU has F16C too; the int4 scales need it. */
    cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
  }
  return cached;
}
#endif

#ifdef LOOMRT_HAVE_X86
/** 8 scales from element i on as floats. */
static inline __attribute__((always_inline, target("avx2,f16c"))) __m256
scales8(const void *scale, int f32, int64_t i) {
  return f32 ? _mm256_loadu_ps((const float *)scale + i)
             : _mm256_cvtph_ps(_mm_loadu_si128(
                   (const __m128i *)((const uint16_t *)scale + i)));
}
#endif

/* -------------------------------------------------------------------------
 * Dequantized panels (several rows)
 * ------------------------------------------------------------------------- */

/** Writes columns [j0, j0 + nc) of the dequantized W into `dst` in the
 *  packed-panel layout: panel q holds columns j0 + 16q .. j0 + 16q + 15,
 *  row p at dst[q*k*16 + p*16 + j], zero past column n. */
typedef void (*DequantFn)(const void *ctx, int64_t j0, int64_t nc, float *dst);

/** The int8 weights and their per-column scales. */
typedef struct {
  int64_t n, k;
  const int8_t *w;
  const float *scale;
} W8;

/** int4 weights, group scales and zero points in the packed layout
 *  (loomrt_qgemm_w4_pack): panels of 32 columns, each holding its k rows
 *  contiguously. */
typedef struct {
  int64_t n, k, group;
  const uint8_t *w;
  const void *scale;   /* IEEE half precision, or fp32 with scaleF32 */
  const uint8_t *zero; /* NULL: every zero point is 8 */
  int scaleF32;
} W4;

/** Groups of W4 (rows of scales per panel). */
static inline int64_t groupsOf(const W4 *q) {
  return (q->k + q->group - 1) / q->group;
}

/** W4's weight (p, j) as stored, 0..15. */
static inline int nibble(const W4 *q, int64_t p, int64_t j) {
  uint8_t byte = q->w[((j / W4_PANEL) * ((q->k + 1) / 2) + p / 2) * W4_PANEL +
                      j % W4_PANEL];
  return p % 2 ? byte >> 4 : byte & 15;
}

/** Offset of (group g, column j) in the packed scales and zero points. */
static inline int64_t groupIndex(const W4 *q, int64_t g, int64_t j) {
  return ((j / W4_PANEL) * groupsOf(q) + g) * W4_PANEL + j % W4_PANEL;
}

/** Byte of the packed zero points of (group g, column j): a panel's 32
 *  zero points of a group take 16 bytes, column c in the low nibble of
 *  byte c and column c + 16 in the high one. */
static inline int64_t zeroByte(const W4 *q, int64_t g, int64_t j) {
  return ((j / W4_PANEL) * groupsOf(q) + g) * (W4_PANEL / 2) +
         j % (W4_PANEL / 2);
}

/** W4's zero point for (group g, column j). */
static inline int zeroOf(const W4 *q, int64_t g, int64_t j) {
  if (!q->zero)
    return 8;
  uint8_t byte = q->zero[zeroByte(q, g, j)];
  return j % W4_PANEL < W4_PANEL / 2 ? byte & 15 : byte >> 4;
}

#ifdef LOOMRT_HAVE_X86
/** The zero points of columns [c, c + 8) of a panel (c a multiple of 8) in
 *  group row `zrow` (16 bytes), as int32. */
static inline __attribute__((always_inline, target("avx2"))) __m256i
zeros8(const uint8_t *zrow, int c) {
  __m256i b = _mm256_cvtepu8_epi32(
      _mm_loadl_epi64((const __m128i *)(zrow + c % (W4_PANEL / 2))));
  return c < W4_PANEL / 2 ? _mm256_and_si256(b, _mm256_set1_epi32(15))
                          : _mm256_srli_epi32(b, 4);
}
#endif

#ifdef LOOMRT_HAVE_X86
/** A full 16-column int8 panel. */
__attribute__((target("avx2,fma"))) static void
panel8Avx2(const W8 *q, int64_t j, float *dst) {
  __m256 s0 = _mm256_loadu_ps(q->scale + j),
         s1 = _mm256_loadu_ps(q->scale + j + 8);
  const int8_t *src = q->w + j;
  for (int64_t p = 0; p < q->k; ++p, src += q->n, dst += NR) {
    __m128i bytes = _mm_loadu_si128((const __m128i *)src);
    __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
    __m256 hi =
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(bytes, 8)));
    _mm256_store_ps(dst, _mm256_mul_ps(lo, s0));
    _mm256_store_ps(dst + 8, _mm256_mul_ps(hi, s1));
  }
}

/** A full 16-column int4 panel: columns [j, j + 16) within one packed
 *  panel. */
__attribute__((target("avx2,fma,f16c"))) static void
panel4Avx2(const W4 *q, int64_t j, float *dst) {
  const __m256i low = _mm256_set1_epi32(15);
  const uint8_t *w =
      q->w + (j / W4_PANEL) * ((q->k + 1) / 2) * W4_PANEL + j % W4_PANEL;
  for (int64_t g0 = 0; g0 < q->k; g0 += q->group) {
    int64_t g = g0 / q->group, at = groupIndex(q, g, j);
    int64_t end = q->k - g0 < q->group ? q->k : g0 + q->group;
    __m256 s0 = scales8(q->scale, q->scaleF32, at),
           s1 = scales8(q->scale, q->scaleF32, at + 8);
    __m256i z0 = _mm256_set1_epi32(8), z1 = z0;
    if (q->zero) {
      const uint8_t *zrow = q->zero + zeroByte(q, g, j - j % W4_PANEL);
      z0 = zeros8(zrow, (int)(j % W4_PANEL));
      z1 = zeros8(zrow, (int)(j % W4_PANEL) + 8);
    }
    for (int64_t p = g0; p < end; p += 2) {
      const uint8_t *src = w + p / 2 * W4_PANEL;
      __m256i b0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)src));
      __m256i b1 =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(src + 8)));
      float *row = dst + p * NR;
      _mm256_store_ps(row, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(
                                             _mm256_and_si256(b0, low), z0)),
                                         s0));
      _mm256_store_ps(row + 8,
                      _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(
                                        _mm256_and_si256(b1, low), z1)),
                                    s1));
      if (p + 1 < end) {
        _mm256_store_ps(row + NR,
                        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(
                                          _mm256_srli_epi32(b0, 4), z0)),
                                      s0));
        _mm256_store_ps(row + NR + 8,
                        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(
                                          _mm256_srli_epi32(b1, 4), z1)),
                                      s1));
      }
    }
  }
}
#endif

static void dequant8(const void *ctx, int64_t j0, int64_t nc, float *dst) {
  const W8 *q = ctx;
  for (int64_t jq = 0; jq < nc; jq += NR, dst += q->k * NR) {
    int64_t j = j0 + jq, cols = q->n - j < NR ? q->n - j : NR;
#ifdef LOOMRT_HAVE_X86
    if (cols == NR && haveAvx2()) {
      panel8Avx2(q, j, dst);
      continue;
    }
#endif
    for (int64_t p = 0; p < q->k; ++p)
      for (int64_t c = 0; c < NR; ++c)
        dst[p * NR + c] =
            c < cols ? (float)q->w[p * q->n + j + c] * q->scale[j + c] : 0.0f;
  }
}

static void dequant4(const void *ctx, int64_t j0, int64_t nc, float *dst) {
  const W4 *q = ctx;
  for (int64_t jq = 0; jq < nc; jq += NR, dst += q->k * NR) {
    int64_t j = j0 + jq, cols = q->n - j < NR ? q->n - j : NR;
#ifdef LOOMRT_HAVE_X86
    if (cols == NR && haveAvx2()) {
      panel4Avx2(q, j, dst);
      continue;
    }
#endif
    for (int64_t p = 0; p < q->k; ++p) {
      int64_t g = p / q->group;
      for (int64_t c = 0; c < NR; ++c)
        dst[p * NR + c] =
            c < cols ? (float)(nibble(q, p, j + c) - zeroOf(q, g, j + c)) *
                           loomrtScaleAt(q->scale, q->scaleF32,
                                         groupIndex(q, g, j + c))
                     : 0.0f;
    }
  }
}

/** C = A W for m rows through dequantized panels. Returns 0, or -1 when
 *  no thread could allocate its panels (nothing computed). */
static int gemmDequantized(int64_t m, int64_t n, int64_t k, const float *a,
                           DequantFn dequant, const void *ctx, float *c) {
  int threads = maxThreads();
  int64_t strips = (n + NR - 1) / NR;
  /* Columns per block: the panels fit PANEL_BYTES, and every thread gets
   * a couple of blocks. */
  int64_t perBlock = PANEL_BYTES / ((int64_t)sizeof(float) * NR * k);
  int64_t fair = (strips + 2 * threads - 1) / (2 * threads);
  if (perBlock > fair)
    perBlock = fair;
  if (perBlock < 1)
    perBlock = 1;
  int64_t blocks = (strips + perBlock - 1) / perBlock;
  int failed = 0;
  int64_t next = 0;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1 && blocks > 1)
#endif
  {
    float *panels =
        aligned_alloc(64, (size_t)perBlock * NR * (size_t)k * sizeof(float));
    for (int64_t b; (b = loomrtTakeItem(&next)) < blocks;) {
      if (!panels)
        continue;
      int64_t j0 = b * perBlock * NR;
      int64_t nc = n - j0 < perBlock * NR ? n - j0 : perBlock * NR;
      dequant(ctx, j0, nc, panels);
      loomrt_sgemm_f32(1, m, nc, k, a, 0, k, 1, panels, 0, 0, 0, c + j0, 0, n,
                       1, LOOMRT_GEMM_PACKED_B);
    }
    if (!panels) {
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp atomic write
#endif
      failed = 1;
    }
    free(panels);
  }
  return failed ? -1 : 0;
}

/* -------------------------------------------------------------------------
 * int8
 * ------------------------------------------------------------------------- */

/** The reference tile: rows [0, mr) x columns [0, nr) of C at c. */
static void tileGeneric(int64_t mr, int64_t nr, int64_t k, const float *a,
                        int64_t lda, const int8_t *w, int64_t ldw,
                        const float *scale, float *c, int64_t ldc) {
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      float sum = 0.0f;
      for (int64_t p = 0; p < k; ++p)
        sum += a[i * lda + p] * (float)w[p * ldw + j];
      c[i * ldc + j] = sum * scale[j];
    }
}

#ifdef LOOMRT_HAVE_X86
/** 16 int8 weights as two vectors of 8 floats. */
static inline __attribute__((always_inline, target("avx2,fma"))) void
load16(const int8_t *w, __m256 *lo, __m256 *hi) {
  __m128i bytes = _mm_loadu_si128((const __m128i *)w);
  *lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
  *hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(bytes, 8)));
}

/** 8 int8 weights as 8 floats. */
static inline __attribute__((always_inline, target("avx2,fma"))) __m256
widen8(const int8_t *w) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)w)));
}

/** A full-width tile of `ROWS` rows (a compile-time constant after
 *  inlining) by 16 columns. */
static inline __attribute__((always_inline, target("avx2,fma"))) void
tileAvx2(int rows, int64_t k, const float *a, int64_t lda, const int8_t *w,
         int64_t ldw, const float *scale, float *c, int64_t ldc) {
  __m256 acc[MR][2];
  for (int i = 0; i < rows; ++i)
    acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    __m256 lo, hi;
    load16(w + p * ldw, &lo, &hi);
    for (int i = 0; i < rows; ++i) {
      __m256 x = _mm256_broadcast_ss(a + i * lda + p);
      acc[i][0] = _mm256_fmadd_ps(x, lo, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(x, hi, acc[i][1]);
    }
  }
  __m256 s0 = _mm256_loadu_ps(scale), s1 = _mm256_loadu_ps(scale + 8);
  for (int i = 0; i < rows; ++i) {
    _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(acc[i][0], s0));
    _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(acc[i][1], s1));
  }
}

__attribute__((target("avx2,fma"))) static void
stripAvx2(int64_t m, int64_t k, const float *a, int64_t lda, const int8_t *w,
          int64_t ldw, const float *scale, float *c, int64_t ldc) {
  int64_t i = 0;
  for (; i + MR <= m; i += MR)
    tileAvx2(MR, k, a + i * lda, lda, w, ldw, scale, c + i * ldc, ldc);
  switch (m - i) {
  case 5:
    tileAvx2(5, k, a + i * lda, lda, w, ldw, scale, c + i * ldc, ldc);
    break;
  case 4:
    tileAvx2(4, k, a + i * lda, lda, w, ldw, scale, c + i * ldc, ldc);
    break;
  case 3:
    tileAvx2(3, k, a + i * lda, lda, w, ldw, scale, c + i * ldc, ldc);
    break;
  case 2:
    tileAvx2(2, k, a + i * lda, lda, w, ldw, scale, c + i * ldc, ldc);
    break;
  case 1:
    tileAvx2(1, k, a + i * lda, lda, w, ldw, scale, c + i * ldc, ldc);
    break;
  default:
    break;
  }
}

/** One row, rows [p0, p1) of W over columns [0, cols) (a multiple of 8):
 *  acc[j] += sum_p a[p] W[p, j]. W's rows stream by contiguously (a thread
 *  owns a block of whole rows), the sums stay in L1. */
__attribute__((target("avx2,fma"))) static void
gemvRowsAvx2(int64_t p0, int64_t p1, int64_t cols, const float *a,
             const int8_t *w, int64_t ldw, float *acc) {
  for (int64_t j0 = 0; j0 < cols; j0 += GEMV_CHUNK) {
    int64_t end = cols - j0 < GEMV_CHUNK ? cols : j0 + GEMV_CHUNK;
    int64_t p = p0;
    /* Four rows of W per pass over the sums: a quarter of the sums' loads
     * and stores. */
    for (; p + 4 <= p1; p += 4) {
      __m256 x0 = _mm256_broadcast_ss(a + p),
             x1 = _mm256_broadcast_ss(a + p + 1),
             x2 = _mm256_broadcast_ss(a + p + 2),
             x3 = _mm256_broadcast_ss(a + p + 3);
      const int8_t *r0 = w + p * ldw, *r1 = r0 + ldw, *r2 = r1 + ldw,
                   *r3 = r2 + ldw;
      for (int64_t j = j0; j < end; j += 8) {
        __m256 sum = _mm256_loadu_ps(acc + j);
        sum = _mm256_fmadd_ps(x0, widen8(r0 + j), sum);
        sum = _mm256_fmadd_ps(x1, widen8(r1 + j), sum);
        sum = _mm256_fmadd_ps(x2, widen8(r2 + j), sum);
        sum = _mm256_fmadd_ps(x3, widen8(r3 + j), sum);
        _mm256_storeu_ps(acc + j, sum);
      }
    }
    for (; p < p1; ++p) {
      __m256 x = _mm256_broadcast_ss(a + p);
      const int8_t *row = w + p * ldw;
      for (int64_t j = j0; j < end; j += 8)
        _mm256_storeu_ps(acc + j, _mm256_fmadd_ps(x, widen8(row + j),
                                                  _mm256_loadu_ps(acc + j)));
    }
  }
}

/** One row of int8 C: 0, or -1 when this CPU has no AVX2 path for it. */
static int gemv8(int64_t n, int64_t k, const float *a, const int8_t *w,
                 const float *scale, float *c) {
  if (n < 8 || k <= 0 || !haveAvx2())
    return -1;
  int64_t vec = n / 8 * 8;
  int threads = maxThreads();
  if (threads > GEMV_MAX_THREADS)
    threads = GEMV_MAX_THREADS;
  if (threads > k)
    threads = (int)k;
  /* Partial sums per thread (the first is c itself). */
  float *partial =
      threads > 1 ? calloc((size_t)(threads - 1) * (size_t)vec, sizeof(float))
                  : NULL;
  if (!partial)
    threads = 1;
  memset(c, 0, (size_t)vec * sizeof(float));
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
#endif
  for (int t = 0; t < threads; ++t) {
    int64_t p0 = k * t / threads, p1 = k * (t + 1) / threads;
    gemvRowsAvx2(p0, p1, vec, a, w, n,
                 t == 0 ? c : partial + (size_t)(t - 1) * (size_t)vec);
  }
  for (int t = 1; t < threads; ++t)
    for (int64_t j = 0; j < vec; ++j)
      c[j] += partial[(size_t)(t - 1) * (size_t)vec + (size_t)j];
  for (int64_t j = 0; j < vec; ++j)
    c[j] *= scale[j];
  free(partial);
  if (vec < n)
    tileGeneric(1, n - vec, k, a, k, w + vec, n, scale + vec, c + vec, n);
  return 0;
}
#endif

/** Columns [j0, j0 + nr) of C, every row. */
static void strip8(int64_t m, int64_t nr, int64_t k, const float *a,
                   const int8_t *w, int64_t n, const float *scale, float *c,
                   int64_t j0) {
#ifdef LOOMRT_HAVE_X86
  if (nr == NR && haveAvx2()) {
    stripAvx2(m, k, a, k, w + j0, n, scale + j0, c + j0, n);
    return;
  }
#endif
  tileGeneric(m, nr, k, a, k, w + j0, n, scale + j0, c + j0, n);
}

void loomrt_qgemm_w8_f32(int64_t m, int64_t n, int64_t k, const float *a,
                         const int8_t *w, const float *scale, float *c) {
  if (m <= 0 || n <= 0)
    return;
#ifdef LOOMRT_HAVE_X86
  if (m == 1 && !gemv8(n, k, a, w, scale, c))
    return;
#endif
  W8 q = {n, k, w, scale};
  if (m >= DEQUANT_MIN_ROWS && k > 0 &&
      !gemmDequantized(m, n, k, a, dequant8, &q, c))
    return;
  int64_t strips = (n + NR - 1) / NR;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && strips > 1)
#endif
  for (int64_t s = 0; s < strips; ++s) {
    int64_t j0 = s * NR;
    int64_t nr = n - j0 < NR ? n - j0 : NR;
    strip8(m, nr, k, a, w, n, scale, c, j0);
  }
}

/* -------------------------------------------------------------------------
 * int4
 * ------------------------------------------------------------------------- */

/** The reference: rows [0, m) x columns [j0, j1) of C. */
static void gemm4Generic(int64_t m, const W4 *q, const float *a, float *c,
                         int64_t j0, int64_t j1) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = j0; j < j1; ++j) {
      float sum = 0.0f;
      for (int64_t g0 = 0; g0 < q->k; g0 += q->group) {
        int64_t g = g0 / q->group;
        int64_t end = q->k - g0 < q->group ? q->k : g0 + q->group;
        int z = zeroOf(q, g, j);
        float part = 0.0f;
        for (int64_t p = g0; p < end; ++p)
          part += a[i * q->k + p] * (float)(nibble(q, p, j) - z);
        sum += part * loomrtScaleAt(q->scale, q->scaleF32, groupIndex(q, g, j));
      }
      c[i * q->n + j] = sum;
    }
}

#ifdef LOOMRT_HAVE_X86
/** One row times one packed panel (32 columns over all of k, streamed
 *  contiguously) into out[0, 32). Per group, sum_p a[p] q[p, j] in
 *  registers (even and odd rows apart, for independent chains), then
 *  total[j] += scale[g, j] (sum - zero[g, j] asum[g]) with asum[g] the sum
 *  of the group's a[p]: the zero points leave the inner loop, which is
 *  bound by its instruction count. */
__attribute__((target("avx2,fma,f16c"))) static void
gemv4Panel(const W4 *q, const float *a, const float *asum, int64_t panel,
           float *out) {
  const __m256i low = _mm256_set1_epi32(15);
  const uint8_t *w = q->w + panel * ((q->k + 1) / 2) * W4_PANEL;
  __m256 total[4];
  for (int v = 0; v < 4; ++v)
    total[v] = _mm256_setzero_ps();
  for (int64_t g0 = 0; g0 < q->k; g0 += q->group) {
    int64_t g = g0 / q->group, at = (panel * groupsOf(q) + g) * W4_PANEL;
    int64_t end = q->k - g0 < q->group ? q->k : g0 + q->group;
    __m256 even[4], odd[4];
    for (int v = 0; v < 4; ++v)
      even[v] = odd[v] = _mm256_setzero_ps();
    int64_t p = g0;
    for (; p + 2 <= end; p += 2) {
      const uint8_t *src = w + p / 2 * W4_PANEL;
      __m256 x0 = _mm256_broadcast_ss(a + p),
             x1 = _mm256_broadcast_ss(a + p + 1);
      for (int v = 0; v < 4; ++v) {
        __m256i b = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64((const __m128i *)(src + 8 * v)));
        even[v] = _mm256_fmadd_ps(
            x0, _mm256_cvtepi32_ps(_mm256_and_si256(b, low)), even[v]);
        odd[v] = _mm256_fmadd_ps(
            x1, _mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4)), odd[v]);
      }
    }
    if (p < end) { /* k odd: the last row, in the low nibbles */
      const uint8_t *src = w + p / 2 * W4_PANEL;
      __m256 x0 = _mm256_broadcast_ss(a + p);
      for (int v = 0; v < 4; ++v) {
        __m256i b = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64((const __m128i *)(src + 8 * v)));
        even[v] = _mm256_fmadd_ps(
            x0, _mm256_cvtepi32_ps(_mm256_and_si256(b, low)), even[v]);
      }
    }
    __m256 sum = _mm256_set1_ps(asum[g]);
    for (int v = 0; v < 4; ++v) {
      __m256 zero =
          q->zero ? _mm256_cvtepi32_ps(zeros8(
                        q->zero + (panel * groupsOf(q) + g) * (W4_PANEL / 2),
                        8 * v))
                  : _mm256_set1_ps(8.0f);
      __m256 dot = _mm256_fnmadd_ps(zero, sum, _mm256_add_ps(even[v], odd[v]));
      total[v] = _mm256_fmadd_ps(
          dot, scales8(q->scale, q->scaleF32, at + 8 * v), total[v]);
    }
  }
  for (int v = 0; v < 4; ++v)
    _mm256_storeu_ps(out + 8 * v, total[v]);
}
#endif

int64_t loomrt_qgemm_w4_packed_bytes(int64_t k, int64_t n) {
  return (n + W4_PANEL - 1) / W4_PANEL * ((k + 1) / 2) * W4_PANEL;
}

int64_t loomrt_qgemm_w4_packed_zero_bytes(int64_t k, int64_t n, int64_t group) {
  return (n + W4_PANEL - 1) / W4_PANEL * ((k + group - 1) / group) *
         (W4_PANEL / 2);
}

int64_t loomrt_qgemm_w4_packed_groups(int64_t k, int64_t n, int64_t group) {
  return (n + W4_PANEL - 1) / W4_PANEL * ((k + group - 1) / group) * W4_PANEL;
}

void loomrt_qgemm_w4_pack(int64_t k, int64_t n, int64_t group, const uint8_t *w,
                          const void *scale, const uint8_t *zero,
                          uint8_t *w_dst, void *scale_dst, uint8_t *zero_dst,
                          int64_t flags) {
  int f32 = (flags & LOOMRT_QGEMM_SCALE_F32) != 0;
  int64_t rows = (k + 1) / 2, groups = (k + group - 1) / group;
  int64_t panels = (n + W4_PANEL - 1) / W4_PANEL;
  for (int64_t pn = 0; pn < panels; ++pn)
    for (int64_t c = 0; c < W4_PANEL; ++c) {
      int64_t j = pn * W4_PANEL + c;
      for (int64_t r = 0; r < rows; ++r)
        /* Past column n: weight 8 under zero point 8 and scale 0. */
        w_dst[(pn * rows + r) * W4_PANEL + c] = j < n ? w[r * n + j] : 0x88;
      for (int64_t g = 0; g < groups; ++g) {
        int64_t at = (pn * groups + g) * W4_PANEL + c;
        loomrtCopyScale(scale_dst, at, scale, g * n + j, f32, j < n);
        if (zero_dst) {
          uint8_t z = j < n && zero ? zero[g * n + j] : 8;
          uint8_t *byte = zero_dst + (pn * groups + g) * (W4_PANEL / 2) +
                          c % (W4_PANEL / 2);
          *byte = c < W4_PANEL / 2 ? (uint8_t)((*byte & 0xF0) | z)
                                   : (uint8_t)((*byte & 0x0F) | (z << 4));
        }
      }
    }
}

/** C = A W for W4 in the packed layout. */
static void gemm4Packed(int64_t m, const W4 *q, const float *a, float *c) {
  int64_t n = q->n;
  /* Groups must cover whole bytes for the vector paths. */
  int aligned = q->group % 2 == 0;
#ifdef LOOMRT_HAVE_X86
  float *asum = m == 1 && aligned && haveAvx2()
                    ? malloc((size_t)groupsOf(q) * sizeof(float))
                    : NULL;
  if (asum) {
    for (int64_t g = 0; g < groupsOf(q); ++g) {
      int64_t end = q->k - g * q->group < q->group ? q->k : (g + 1) * q->group;
      float sum = 0.0f;
      for (int64_t p = g * q->group; p < end; ++p)
        sum += a[p];
      asum[g] = sum;
    }
    int64_t panels = (n + W4_PANEL - 1) / W4_PANEL;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && panels > 1)
#endif
    for (int64_t pn = 0; pn < panels; ++pn) {
      int64_t j0 = pn * W4_PANEL;
      if (n - j0 >= W4_PANEL) {
        gemv4Panel(q, a, asum, pn, c + j0);
      } else {
        float out[W4_PANEL];
        gemv4Panel(q, a, asum, pn, out);
        memcpy(c + j0, out, (size_t)(n - j0) * sizeof(float));
      }
    }
    free(asum);
    return;
  }
#endif
  if (m > 1 && aligned && !gemmDequantized(m, n, q->k, a, dequant4, q, c))
    return;
  int64_t strips = (n + NR - 1) / NR;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && strips > 1)
#endif
  for (int64_t s = 0; s < strips; ++s)
    gemm4Generic(m, q, a, c, s * NR, n - s * NR < NR ? n : (s + 1) * NR);
}

void loomrt_qgemm_w4_f32(int64_t m, int64_t n, int64_t k, int64_t group,
                         const float *a, const uint8_t *w, const void *scale,
                         const uint8_t *zero, float *c, int64_t flags) {
  int f32 = (flags & LOOMRT_QGEMM_SCALE_F32) != 0;
  if (m <= 0 || n <= 0)
    return;
  if (k <= 0 || group <= 0) {
    memset(c, 0, (size_t)m * (size_t)n * sizeof(float));
    return;
  }
  if (flags & LOOMRT_QGEMM_PACKED) {
    W4 q = {n, k, group, w, scale, zero, f32};
    gemm4Packed(m, &q, a, c);
    return;
  }
  /* Pack into a temporary first. */
  size_t wBytes = (size_t)loomrt_qgemm_w4_packed_bytes(k, n);
  size_t groups = (size_t)loomrt_qgemm_w4_packed_groups(k, n, group);
  uint8_t *wp = malloc(wBytes),
          *zp = zero ? malloc((size_t)loomrt_qgemm_w4_packed_zero_bytes(k, n,
                                                                        group))
                     : NULL;
  void *sp = malloc(groups * (f32 ? sizeof(float) : sizeof(uint16_t)));
  if (wp && sp && (zp || !zero)) {
    loomrt_qgemm_w4_pack(k, n, group, w, scale, zero, wp, sp, zp, flags);
    W4 q = {n, k, group, wp, sp, zp, f32};
    gemm4Packed(m, &q, a, c);
  } else {
    /* No memory for the packed copy: the reference over the row-major
     * layout, one element at a time. */
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float sum = 0.0f;
        for (int64_t p0 = 0; p0 < k; p0 += group) {
          int64_t g = p0 / group, end = k - p0 < group ? k : p0 + group;
          int z = zero ? zero[g * n + j] : 8;
          float part = 0.0f;
          for (int64_t p = p0; p < end; ++p) {
            uint8_t byte = w[p / 2 * n + j];
            part += a[i * k + p] * (float)((p % 2 ? byte >> 4 : byte & 15) - z);
          }
          sum += part * loomrtScaleAt(scale, f32, g * n + j);
        }
        c[i * n + j] = sum;
      }
  }
  free(wp);
  free(sp);
  free(zp);
}
