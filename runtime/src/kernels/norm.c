/*===- norm.c - Row-wise layer norm, RMS norm and softmax -----------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * loomrt_norm_f32: each row of a row-major [rows, cols] input normalized over
 * its columns. A layer norm's mean and variance take two passes over the row
 * (the variance from the centred values, as the reference computes it), then
 * a third writes the scaled and shifted row; the row, a few KiB, stays in L1
 * between them. Rows are shared by the OpenMP threads in blocks.
 * loomrtNormRows is the same on a range of rows, for sgemm.c, which
 * normalizes a GEMM's row blocks as they complete.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#include "isa.h"
#include "norm.h"
#include "parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef LOOMRT_KERNELS_OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define LOOMRT_HAVE_AVX512_NORM 1
#endif

/** One row: y = norm(x) over n columns (kind LOOMRT_NORM_*). */
static void normRowGeneric(int64_t n, const float *x, float *y,
                           const float *scale, const float *bias, float eps,
                           int kind) {
  if (kind == LOOMRT_NORM_SOFTMAX) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; ++j)
      mx = x[j] > mx ? x[j] : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      y[j] = expf(x[j] - mx);
      sum += y[j];
    }
    float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; ++j)
      y[j] *= inv;
    return;
  }
  float mean = 0.0f;
  if (kind == LOOMRT_NORM_LAYER) {
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j)
      sum += x[j];
    mean = sum / (float)n;
  }
  float sq = 0.0f;
  for (int64_t j = 0; j < n; ++j)
    sq += (x[j] - mean) * (x[j] - mean);
  float rstd = 1.0f / sqrtf(sq / (float)n + eps);
  for (int64_t j = 0; j < n; ++j) {
    float v = (x[j] - mean) * rstd;
    if (scale)
      v *= scale[j];
    if (bias)
      v += bias[j];
    y[j] = v;
  }
}

#ifdef LOOMRT_HAVE_AVX512_NORM
/** The first `n` (0 to 16) lanes. */
static inline __attribute__((always_inline, target("avx512f"))) __mmask16
lanes(int64_t n) {
  return (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
}

/** normRowGeneric's layer and RMS norms with 16-float vectors (softmax
 *  stays generic: no model's hot path runs it here). */
__attribute__((target("avx512f"))) static void
normRowAvx512(int64_t n, const float *x, float *y, const float *scale,
              const float *bias, float eps, int kind) {
  if (kind == LOOMRT_NORM_SOFTMAX) {
    normRowGeneric(n, x, y, scale, bias, eps, kind);
    return;
  }
  float mean = 0.0f;
  if (kind == LOOMRT_NORM_LAYER) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t j = 0;
    for (; j + 64 <= n; j += 64) {
      s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + j));
      s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + j + 16));
      s2 = _mm512_add_ps(s2, _mm512_loadu_ps(x + j + 32));
      s3 = _mm512_add_ps(s3, _mm512_loadu_ps(x + j + 48));
    }
    for (; j < n; j += 16)
      s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(lanes(n - j), x + j));
    mean = _mm512_reduce_add_ps(
               _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))) /
           (float)n;
  }
  __m512 vm = _mm512_set1_ps(mean);
  __m512 q0 = _mm512_setzero_ps(), q1 = q0, q2 = q0, q3 = q0;
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + j), vm);
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + j + 16), vm);
    __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(x + j + 32), vm);
    __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(x + j + 48), vm);
    q0 = _mm512_fmadd_ps(d0, d0, q0);
    q1 = _mm512_fmadd_ps(d1, d1, q1);
    q2 = _mm512_fmadd_ps(d2, d2, q2);
    q3 = _mm512_fmadd_ps(d3, d3, q3);
  }
  for (; j < n; j += 16) {
    __mmask16 k = lanes(n - j);
    __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + j), vm);
    q0 = _mm512_fmadd_ps(d, d, q0);
  }
  float sq = _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(q0, q1), _mm512_add_ps(q2, q3)));
  __m512 vr = _mm512_set1_ps(1.0f / sqrtf(sq / (float)n + eps));
  for (j = 0; j < n; j += 16) {
    __mmask16 k = lanes(n - j);
    __m512 v =
        _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm), vr);
    if (scale)
      v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, scale + j));
    if (bias)
      v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + j));
    _mm512_mask_storeu_ps(y + j, k, v);
  }
}
#endif

typedef void (*NormRow)(int64_t n, const float *x, float *y, const float *scale,
                        const float *bias, float eps, int kind);

static NormRow normRow(void) {
#ifdef LOOMRT_HAVE_AVX512_NORM
  static NormRow chosen;
  if (!chosen) {
    chosen = loomrtUseAvx512Rows() ? normRowAvx512 : normRowGeneric;
  }
  return chosen;
#else
  return normRowGeneric;
#endif
}

void loomrtNormRows(const LoomrtNorm *nm, int64_t r0, int64_t r1) {
  NormRow row = normRow();
  for (int64_t r = r0; r < r1; ++r)
    row(nm->cols, nm->x + r * nm->x_rs, nm->y + r * nm->cols, nm->scale,
        nm->bias, nm->eps, nm->kind);
}

void loomrt_norm_f32(int64_t rows, int64_t cols, const float *input,
                     float *output, const float *scale, const float *bias,
                     int64_t epsilon_bits, int64_t kind) {
  if (rows <= 0 || cols <= 0)
    return;
  LoomrtNorm nm = {rows,     cols,  input, cols,
                   output,   scale, bias,  loomrtFloatFromBits(epsilon_bits),
                   (int)kind};
  /* Blocks of about 16 KiB of input per item, in one contiguous part of
   * the rows per thread (as a statically scheduled loop that wrote the
   * input splits them), each thread taking its own part's blocks first. A
   * shared counter over all blocks had each thread read about half of its
   * rows from the other core's cache (BERT's embedding norm). */
  int64_t block = (4096 + cols - 1) / cols;
  enum { MAX_PARTS = 64 };
  int64_t threads = 1;
#ifdef LOOMRT_KERNELS_OPENMP
  if (!omp_in_parallel() && rows * cols >= 16384)
    threads = omp_get_max_threads();
#endif
  int64_t parts = threads < MAX_PARTS ? threads : MAX_PARTS;
  if (parts > rows)
    parts = rows;
  /* Part t: rows [first[t], first[t + 1]), the first rows % parts parts
   * one row longer (libomp's static split). */
  int64_t first[MAX_PARTS + 1];
  uint64_t ranges[MAX_PARTS];
  for (int64_t t = 0; t <= parts; ++t)
    first[t] = t * (rows / parts) + (t < rows % parts ? t : rows % parts);
  for (int64_t t = 0; t < parts; ++t)
    ranges[t] = (uint64_t)((first[t + 1] - first[t] + block - 1) / block) << 32;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel num_threads(parts) if (parts > 1)
#endif
  {
    int64_t me = 0;
#ifdef LOOMRT_KERNELS_OPENMP
    me = omp_get_thread_num() % parts;
#endif
    int64_t owner, item;
    while ((item = loomrtTakeOwnFirst(ranges, parts, me, &owner)) >= 0) {
      int64_t end = first[owner + 1];
      int64_t r0 = first[owner] + item * block;
      loomrtNormRows(&nm, r0, r0 + block < end ? r0 + block : end);
    }
  }
}
