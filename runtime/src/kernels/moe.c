/*===- moe.c - Mixture-of-experts FFN over the routed experts ------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * loomrt_moe_ffn_f32 (loomrt/kernels.h): the lowering of loom.moe. An
 * exported mixture of experts runs every expert on every token and masks the
 * results; this computes each expert on the tokens routed to it only (top-2
 * of 8 experts: a quarter of the work), with the GEMM microkernel.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#include <math.h>
#ifdef LOOMRT_KERNELS_OPENMP
#include <omp.h>
#define LOOMRT_PARALLEL_FOR _Pragma("omp parallel for if(!omp_in_parallel())")
#else
#define LOOMRT_PARALLEL_FOR
#endif
#include <stdlib.h>
#include <string.h>

/** act(v) for the loom.moe activation `kind`. */
static float activate(float v, int64_t kind) {
  switch (kind) {
  case LOOMRT_ACT_RELU:
    return v > 0.0f ? v : 0.0f;
  case LOOMRT_ACT_GELU:
    return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  case LOOMRT_ACT_GELU_TANH:
    return 0.5f * v *
           (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
  case LOOMRT_ACT_SILU:
    return v / (1.0f + expf(-v));
  default:
    return v;
  }
}

/** B[p, j] of a [k, n] weight, row-major or prepacked (panels of
 *  LOOMRT_GEMM_PANEL columns spanning k). */
static float weightAt(const float *w, int packed, int64_t k, int64_t n,
                      int64_t p, int64_t j) {
  if (!packed)
    return w[p * n + j];
  int64_t q = j / LOOMRT_GEMM_PANEL;
  return w[(q * k + p) * LOOMRT_GEMM_PANEL + j % LOOMRT_GEMM_PANEL];
}

/** Without memory for grouping: each routed choice on its own, the hidden
 *  layer in chunks on the stack (slow, but needs no allocation). */
static void moeUnbuffered(int64_t tokens, int64_t d, int64_t hidden,
                          int64_t experts, int64_t top_k, const float *x,
                          const float *weights, const int64_t *indices,
                          const int64_t *params, int64_t activation, float *out,
                          int packed) {
  enum { kChunk = 256 };
  float h[kChunk];
  for (int64_t c = 0; c < tokens * top_k; ++c) {
    int64_t e = indices[c];
    if (e < 0 || e >= experts)
      continue;
    const float *w1 = (const float *)(intptr_t)params[4 * e];
    const float *b1 = (const float *)(intptr_t)params[4 * e + 1];
    const float *w2 = (const float *)(intptr_t)params[4 * e + 2];
    const float *b2 = (const float *)(intptr_t)params[4 * e + 3];
    const float *row = x + (c / top_k) * d;
    float *dst = out + (c / top_k) * d;
    float g = weights[c];
    for (int64_t i = 0; i < d; ++i)
      dst[i] += g * (b2 ? b2[i] : 0.0f);
    for (int64_t i0 = 0; i0 < hidden; i0 += kChunk) {
      int64_t len = hidden - i0 < kChunk ? hidden - i0 : kChunk;
      for (int64_t i = 0; i < len; ++i) {
        float acc = b1 ? b1[i0 + i] : 0.0f;
        for (int64_t p = 0; p < d; ++p)
          acc += row[p] * weightAt(w1, packed, d, hidden, p, i0 + i);
        h[i] = activate(acc, activation) * g;
      }
      for (int64_t i = 0; i < len; ++i)
        for (int64_t j = 0; j < d; ++j)
          dst[j] += h[i] * weightAt(w2, packed, hidden, d, i0 + i, j);
    }
  }
}

void loomrt_moe_ffn_f32(int64_t tokens, int64_t d, int64_t hidden,
                        int64_t experts, int64_t top_k, const float *x,
                        const float *weights, const int64_t *indices,
                        const int64_t *params, int64_t activation, float *out,
                        int64_t flags) {
  if (tokens * d > 0)
    memset(out, 0, (size_t)(tokens * d) * sizeof(float));
  int packed = (flags & LOOMRT_MOE_PACKED_WEIGHTS) != 0;
  int64_t gemmFlags = packed ? LOOMRT_GEMM_PACKED_B : 0;
  int64_t choices = tokens * top_k;
  if (choices == 0 || experts == 0)
    return;
  /* Counting sort of the (token, choice) pairs by expert. */
  int64_t *start = calloc((size_t)experts + 1, sizeof(int64_t));
  int64_t *order = malloc((size_t)choices * sizeof(int64_t));
  if (!start || !order) {
    free(start);
    free(order);
    moeUnbuffered(tokens, d, hidden, experts, top_k, x, weights, indices,
                  params, activation, out, packed);
    return;
  }
  for (int64_t c = 0; c < choices; ++c)
    if (indices[c] >= 0 && indices[c] < experts)
      ++start[indices[c] + 1];
  int64_t most = 0;
  for (int64_t e = 0; e < experts; ++e) {
    if (start[e + 1] > most)
      most = start[e + 1];
    start[e + 1] += start[e];
  }
  int64_t *fill = malloc((size_t)experts * sizeof(int64_t));
  float *rows = malloc((size_t)(most * d) * sizeof(float));
  float *mid = malloc((size_t)(most * hidden) * sizeof(float));
  float *res = malloc((size_t)(most * d) * sizeof(float));
  if (!fill || (most && (!rows || !mid || !res))) {
    moeUnbuffered(tokens, d, hidden, experts, top_k, x, weights, indices,
                  params, activation, out, packed);
    goto done;
  }
  memcpy(fill, start, (size_t)experts * sizeof(int64_t));
  for (int64_t c = 0; c < choices; ++c)
    if (indices[c] >= 0 && indices[c] < experts)
      order[fill[indices[c]]++] = c;
  for (int64_t e = 0; e < experts; ++e) {
    int64_t n = start[e + 1] - start[e];
    if (n == 0)
      continue;
    const int64_t *choice = order + start[e];
    const float *w1 = (const float *)(intptr_t)params[4 * e];
    const float *b1 = (const float *)(intptr_t)params[4 * e + 1];
    const float *w2 = (const float *)(intptr_t)params[4 * e + 2];
    const float *b2 = (const float *)(intptr_t)params[4 * e + 3];
    for (int64_t r = 0; r < n; ++r)
      memcpy(rows + r * d, x + (choice[r] / top_k) * d,
             (size_t)d * sizeof(float));
    loomrt_sgemm_f32(1, n, hidden, d, rows, 0, d, 1, w1, 0, hidden, 1, mid, 0,
                     hidden, 1, gemmFlags);
    LOOMRT_PARALLEL_FOR
    for (int64_t r = 0; r < n; ++r) {
      float *h = mid + r * hidden;
      for (int64_t i = 0; i < hidden; ++i)
        h[i] = activate(h[i] + (b1 ? b1[i] : 0.0f), activation);
    }
    loomrt_sgemm_f32(1, n, d, hidden, mid, 0, hidden, 1, w2, 0, d, 1, res, 0, d,
                     1, gemmFlags);
    for (int64_t r = 0; r < n; ++r) {
      float g = weights[choice[r]];
      float *dst = out + (choice[r] / top_k) * d;
      const float *y = res + r * d;
      for (int64_t i = 0; i < d; ++i)
        dst[i] += g * (y[i] + (b2 ? b2[i] : 0.0f));
    }
  }
done:
  free(start);
  free(order);
  free(fill);
  free(rows);
  free(mid);
  free(res);
}
