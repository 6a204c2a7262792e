/*===- transpose8x8.h - An 8 x 8 fp32 transpose in AVX2 registers -*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * Shared by the blocked transpose (transpose.c) and the packing of a
 * column-major B into GEMM panels (sgemm.c).
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_KERNELS_TRANSPOSE8X8_H
#define LOOMRT_KERNELS_TRANSPOSE8X8_H

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <stdint.h>

/** dst[i * dstStride + j] = src[j * srcStride + i] for i, j < 8: eight
 *  8-float loads, 24 shuffles, eight 8-float stores. Callers are AVX2
 *  functions (it is inlined into them). */
static inline __attribute__((always_inline, target("avx2"))) void
loomrtTranspose8x8Avx2(const float *src, int64_t srcStride, float *dst,
                       int64_t dstStride) {
  __m256 x0 = _mm256_loadu_ps(src), x1 = _mm256_loadu_ps(src + srcStride);
  __m256 x2 = _mm256_loadu_ps(src + 2 * srcStride);
  __m256 x3 = _mm256_loadu_ps(src + 3 * srcStride);
  __m256 x4 = _mm256_loadu_ps(src + 4 * srcStride);
  __m256 x5 = _mm256_loadu_ps(src + 5 * srcStride);
  __m256 x6 = _mm256_loadu_ps(src + 6 * srcStride);
  __m256 x7 = _mm256_loadu_ps(src + 7 * srcStride);
  __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1);
  __m256 t2 = _mm256_unpacklo_ps(x2, x3), t3 = _mm256_unpackhi_ps(x2, x3);
  __m256 t4 = _mm256_unpacklo_ps(x4, x5), t5 = _mm256_unpackhi_ps(x4, x5);
  __m256 t6 = _mm256_unpacklo_ps(x6, x7), t7 = _mm256_unpackhi_ps(x6, x7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + dstStride, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * dstStride, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * dstStride, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * dstStride, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * dstStride, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * dstStride, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * dstStride, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

#endif /* LOOMRT_KERNELS_TRANSPOSE8X8_H */
