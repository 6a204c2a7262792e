/*===- qgemm.c - fp32 x int8-weight matrix multiply -----------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * loomrt_qgemm_w8_f32 (loomrt/kernels.h): C = A (W diag(scale)) with A fp32
 * and W int8, the lowering of loom.quantized_matmul (int8 weight-only
 * quantization). The weights are dequantized in registers, 16 columns at a
 * time (sign-extend 8 bytes to int32, convert to float), and the per-column
 * scale is applied once to the finished sums: W is never expanded to fp32
 * in memory, so a decoding step (one row) streams a quarter of the bytes
 * of an fp32 layer.
 *
 * Blocking: 16 columns (two AVX2 vectors) by up to 6 rows (12 accumulators).
 * The outer loop runs over column strips (k x 16 int8, kept in L1 while the
 * strip's rows go by) and is split over threads. A single row (a decoding
 * step, bound by memory bandwidth) splits the rows of W instead: each
 * thread streams its own contiguous block of whole rows into partial sums
 * (kept in L1, 2048 columns at a time), which are then added and scaled.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#ifdef LOOMRT_KERNELS_OPENMP
#include <omp.h>
#endif
#include <stddef.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOOMRT_HAVE_X86 1
#endif

enum {
  NR = 16,           /* columns per strip */
  MR = 6,            /* rows per register tile */
  GEMV_CHUNK = 2048, /* columns of sums kept in L1 by a single row */
  GEMV_MAX_THREADS = 64,
};

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

static int haveAvx2(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return cached;
}
#endif

/** Columns [j0, j0 + nr) of C, every row. */
static void strip(int64_t m, int64_t nr, int64_t k, const float *a,
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
  if (m == 1 && n >= 8 && k > 0 && haveAvx2()) {
    int64_t vec = n / 8 * 8;
    int threads = 1;
#ifdef LOOMRT_KERNELS_OPENMP
    if (!omp_in_parallel())
      threads = omp_get_max_threads();
#endif
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
    for (int64_t j = 0; j < vec; ++j)
      c[j] = 0.0f;
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
    return;
  }
#endif
  int64_t strips = (n + NR - 1) / NR;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && strips > 1)
#endif
  for (int64_t s = 0; s < strips; ++s) {
    int64_t j0 = s * NR;
    int64_t nr = n - j0 < NR ? n - j0 : NR;
    strip(m, nr, k, a, w, n, scale, c, j0);
  }
}
