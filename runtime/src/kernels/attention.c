/*===- attention.c - Flash attention on the GEMM microkernel --------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * softmax(scale Q K^T (+ causal mask)) V for every (batch, head), in the
 * online-softmax (flash) form: per head, K^T and V are packed once for the
 * GEMM microkernel. With one block of keys (at most KB) and row-major Q and
 * O, per 12 query rows the GEMM's register tiles compute S into a buffer
 * that stays in L1, the row step runs there and P V goes straight into the
 * output rows (attendTiles). Otherwise, per block of QB query rows and
 * block of KB keys,
 * S = Q K^T (Q read in place) goes into a buffer that stays in L2 (its rows
 * KB + 16 floats apart, so that the P V product reads twelve rows of it
 * without L1 set conflicts), each row's running max, exp(scale (s - max))
 * and sum are one pass over it with P written in place, and
 * acc = alpha acc + P V. Work is shared by
 * (batch, head, query chunk) on the OpenMP threads; the GEMMs inside run on
 * the calling thread.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#include "buffer.h"
#include "isa.h"
#include "parallel.h"
#include "tiles.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef LOOMRT_KERNELS_OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define LOOMRT_HAVE_AVX512_ROWS 1
#endif

enum {
  QB = 96,  /* query rows per block (eight 12-row tiles) */
  KB = 512, /* keys per block (a multiple of the 16-key panels) */
};

/* Per-thread scratch: packed K^T and V of one head, a block of scaled Q,
 * of scores and of the output accumulator, and the rows' max and sum. */
static _Thread_local void *bufK, *bufV, *bufQ, *bufS, *bufAcc, *bufRow;
static _Thread_local size_t capK, capV, capQ, capS, capAcc, capRow;

/* -------------------------------------------------------------------------
 * Row step of the online softmax
 * ------------------------------------------------------------------------- */

/** One row of unscaled scores s[0, n) (Q K^T), of which the first `valid`
 *  are visible (the rest masked), and the softmax scale (> 0): updates the
 *  row's max *m (of the unscaled scores) and sum *l, overwrites s with
 *  P = exp(scale (s - max)) (0 where masked) and returns
 *  alpha = exp(scale (m_old - m_new)), the factor for what the row
 *  accumulated before. */
static float rowStepGeneric(int64_t n, int64_t valid, float *s, float *m,
                            float *l, float scale) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < valid; ++j)
    mx = s[j] > mx ? s[j] : mx;
  float mNew = mx > *m ? mx : *m;
  float base = mNew == -INFINITY ? 0.0f : mNew * scale;
  float alpha = expf(*m * scale - base);
  float sum = 0.0f;
  for (int64_t j = 0; j < valid; ++j) {
    /* In double: one rounding, as the vector code's fused multiply-add. */
    float p = expf((float)((double)s[j] * scale - base));
    s[j] = p;
    sum += p;
  }
  for (int64_t j = valid; j < n; ++j)
    s[j] = 0.0f;
  *l = alpha * *l + sum;
  *m = mNew;
  return alpha;
}

#ifdef LOOMRT_HAVE_AVX512_ROWS
/** 2^u for u <= 0: n = round(u) (vrndscaleps, to nearest), f = u - n
 *  (exact; |f| <= 1/2), 2^f by a degree-5 polynomial fitted for relative
 *  error (1.8e-7 in float), times 2^n by vscalefps, which also gives the
 *  denormals and 0 far below (no clamp). Three operations per vector fewer
 *  than n read off u + 1.5 * 2^23 and added to the exponent field (with
 *  u clamped at -126): with S in L1 the row step is bound by its
 *  operations, and its exp pass went from 3.6 to 3.0 TSC cycles per 16
 *  floats (12 rows of 512 scores, one thread). */
static inline __attribute__((always_inline, target("avx512f"))) __m512
exp2Avx512(__m512 u) {
  __m512 n =
      _mm512_roundscale_ps(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 f = _mm512_sub_ps(u, n);
  __m512 p = _mm512_set1_ps(1.3264727e-3f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6715129e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5507337e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022242e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314698e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

/** exp(c1 s + c0) in place for r[j, valid), 0 on to `end`; returns the
 *  vector sum of those exps added to `sum` (a row's tail after its
 *  unrolled loop). */
static inline __attribute__((always_inline, target("avx512f"))) __m512
rowTailExpAvx512(float *r, int64_t j, int64_t valid, int64_t end, __m512 c1,
                 __m512 c0, __m512 sum) {
  for (; j + 16 <= valid; j += 16) {
    __m512 p = exp2Avx512(_mm512_fmadd_ps(_mm512_loadu_ps(r + j), c1, c0));
    _mm512_storeu_ps(r + j, p);
    sum = _mm512_add_ps(sum, p);
  }
  if (j < valid) {
    __mmask16 k = (__mmask16)((1u << (valid - j)) - 1);
    __m512 p = _mm512_maskz_mov_ps(
        k,
        exp2Avx512(_mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, r + j), c1, c0)));
    _mm512_storeu_ps(r + j, p); /* zeros past `valid`: masked keys */
    sum = _mm512_add_ps(sum, p);
    j += 16;
  }
  for (; j < end; j += 16) {
    if (j + 16 <= end) {
      _mm512_storeu_ps(r + j, _mm512_setzero_ps());
    } else {
      __mmask16 k = (__mmask16)((1u << (end - j)) - 1);
      _mm512_mask_storeu_ps(r + j, k, _mm512_setzero_ps());
    }
  }
  return sum;
}

/** rowStepGeneric with 16-float vectors. */
__attribute__((target("avx512f"))) static float
rowStepAvx512(int64_t n, int64_t valid, float *s, float *m, float *l,
              float scale) {
  /* Four running maxima and two sums: the max and add latencies, not their
   * throughput, would bound one chain. */
  __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
  int64_t j = 0;
  for (; j + 64 <= valid; j += 64) {
    m0 = _mm512_max_ps(m0, _mm512_loadu_ps(s + j));
    m1 = _mm512_max_ps(m1, _mm512_loadu_ps(s + j + 16));
    m2 = _mm512_max_ps(m2, _mm512_loadu_ps(s + j + 32));
    m3 = _mm512_max_ps(m3, _mm512_loadu_ps(s + j + 48));
  }
  for (; j + 16 <= valid; j += 16)
    m0 = _mm512_max_ps(m0, _mm512_loadu_ps(s + j));
  if (j < valid) {
    __mmask16 k = (__mmask16)((1u << (valid - j)) - 1);
    m1 = _mm512_mask_max_ps(m1, k, m1, _mm512_maskz_loadu_ps(k, s + j));
  }
  float mx = _mm512_reduce_max_ps(
      _mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
  float mOld = *m;
  float mNew = mx > mOld ? mx : mOld;
  float base = mNew == -INFINITY ? 0.0f : mNew * scale;
  float alpha = mOld == -INFINITY ? 0.0f
                : mOld == mNew    ? 1.0f
                                  : expf(mOld * scale - base);
  /* exp(scale s - base) = 2^u with u = s (scale log2 e) - base log2 e: one
   * multiply-add, then the reduction by adds (the add ports, not the FMA
   * ports that the polynomial needs). */
  __m512 vc1 = _mm512_set1_ps(scale * 1.44269504088896341f);
  __m512 vc0 = _mm512_set1_ps(-base * 1.44269504088896341f);
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  for (j = 0; j + 32 <= valid; j += 32) {
    __m512 p0 = exp2Avx512(_mm512_fmadd_ps(_mm512_loadu_ps(s + j), vc1, vc0));
    __m512 p1 =
        exp2Avx512(_mm512_fmadd_ps(_mm512_loadu_ps(s + j + 16), vc1, vc0));
    _mm512_storeu_ps(s + j, p0);
    _mm512_storeu_ps(s + j + 16, p1);
    s0 = _mm512_add_ps(s0, p0);
    s1 = _mm512_add_ps(s1, p1);
  }
  s1 = rowTailExpAvx512(s, j, valid, n, vc1, vc0, s1);
  *l = alpha * *l + _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  *m = mNew;
  return alpha;
}

/** The row step of a 12-row tile of S (row stride ldS, `end` keys
 *  computed, row i's first valid[i] visible) whose score tiles kept the
 *  rows' maxima over keys [0, from) (rowMax, 16 per row; `from` a multiple
 *  of 16 at most every valid[i]): the rest of each row's max is searched
 *  in S, then s[i, j] becomes exp(scale (s - max_i)) for j < valid[i] and 0
 *  up to `end`, and l[i] the row's sum (the first key block: the max and
 *  sum start from nothing). Two rows at a time, after all twelve maxima:
 *  one row per call of rowStepAvx512 spent ~20% more per vector on its
 *  reductions and on the wait for its max than on the exp itself. */
__attribute__((target("avx512f"))) static void
tileRowsExpAvx512(int64_t end, const int64_t *valid, int64_t from, float *s,
                  int64_t ldS, const float *rowMax, float *l, float scale) {
  enum { ROWS = 12 };
  const float log2e = 1.44269504088896341f;
  float c0[ROWS];
  for (int i = 0; i < ROWS; ++i) {
    const float *r = s + i * ldS;
    __m512 mv =
        from > 0 ? _mm512_load_ps(rowMax + 16 * i) : _mm512_set1_ps(-INFINITY);
    int64_t j = from;
    for (; j + 16 <= valid[i]; j += 16)
      mv = _mm512_max_ps(mv, _mm512_loadu_ps(r + j));
    if (j < valid[i]) {
      __mmask16 k = (__mmask16)((1u << (valid[i] - j)) - 1);
      mv = _mm512_mask_max_ps(mv, k, mv, _mm512_maskz_loadu_ps(k, r + j));
    }
    float mx = _mm512_reduce_max_ps(mv);
    c0[i] = mx == -INFINITY ? 0.0f : -(mx * scale) * log2e;
  }
  __m512 c1 = _mm512_set1_ps(scale * log2e);
  for (int i = 0; i < ROWS; i += 2) {
    float *r0 = s + i * ldS, *r1 = r0 + ldS;
    __m512 a0 = _mm512_set1_ps(c0[i]), a1 = _mm512_set1_ps(c0[i + 1]);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t both = (valid[i] < valid[i + 1] ? valid[i] : valid[i + 1]) & ~15;
    int64_t j = 0;
    for (; j < both; j += 16) {
      __m512 p0 = exp2Avx512(_mm512_fmadd_ps(_mm512_loadu_ps(r0 + j), c1, a0));
      __m512 p1 = exp2Avx512(_mm512_fmadd_ps(_mm512_loadu_ps(r1 + j), c1, a1));
      _mm512_storeu_ps(r0 + j, p0);
      _mm512_storeu_ps(r1 + j, p1);
      s0 = _mm512_add_ps(s0, p0);
      s1 = _mm512_add_ps(s1, p1);
    }
    l[i] = _mm512_reduce_add_ps(
        rowTailExpAvx512(r0, j, valid[i], end, c1, a0, s0));
    l[i + 1] = _mm512_reduce_add_ps(
        rowTailExpAvx512(r1, j, valid[i + 1], end, c1, a1, s1));
  }
}
#endif

typedef float (*RowStep)(int64_t n, int64_t valid, float *s, float *m, float *l,
                         float scale);

static RowStep rowStep(void) {
#ifdef LOOMRT_HAVE_AVX512_ROWS
  static RowStep chosen;
  if (!chosen) {
    chosen = loomrtUseAvx512Rows() ? rowStepAvx512 : rowStepGeneric;
  }
  return chosen;
#else
  return rowStepGeneric;
#endif
}

/* -------------------------------------------------------------------------
 * One (batch, head, query range)
 * ------------------------------------------------------------------------- */

typedef struct {
  int64_t batch, heads, kvHeads, sq, skv, d, dv;
  const float *q, *k, *v;
  float *o;
  int64_t qs[4], ks[4], vs[4], os[4]; /* batch, head, row, column strides */
  float scale;
  int causal;
} Attention;

/** The key/value head of query head h: h / (heads / kv_heads), within
 *  range whatever the counts. */
static int64_t kvHead(const Attention *a, int64_t h) {
  int64_t group = a->heads / a->kvHeads;
  int64_t kvh = h / (group > 0 ? group : 1);
  return kvh < a->kvHeads ? kvh : a->kvHeads - 1;
}

/** One head's operands for the query rows before q1. */
typedef struct {
  const float *q, *k, *v;
  float *o;
  int64_t offset; /* skv - sq: the causal mask is bottom-right aligned */
  int64_t kvEnd;  /* the keys any of those rows sees */
} Head;

static Head headOf(const Attention *a, int64_t b, int64_t h, int64_t q1) {
  int64_t kvh = kvHead(a, h);
  Head hd = {a->q + b * a->qs[0] + h * a->qs[1],
             a->k + b * a->ks[0] + kvh * a->ks[1],
             a->v + b * a->vs[0] + kvh * a->vs[1],
             a->o + b * a->os[0] + h * a->os[1],
             a->skv - a->sq,
             a->skv};
  if (a->causal) {
    hd.kvEnd = q1 + hd.offset < hd.kvEnd ? q1 + hd.offset : hd.kvEnd;
    hd.kvEnd = hd.kvEnd < 0 ? 0 : hd.kvEnd;
  }
  return hd;
}

/** attendRange on the GEMM's register tiles directly, for one block of
 *  keys (skv <= KB), Q read in place (a positive scale, contiguous rows), a
 *  row-major output and dv a multiple of 32: per 12 query rows, S (12 rows
 *  of up to KB scores, 24 KiB) is computed into a buffer that stays in L1,
 *  the row step runs on it there, and P V goes straight into the output
 *  rows. loomrt_sgemm_f32 on blocks of QB rows went through its blocking
 *  and dispatch for every product and kept S in L2: BERT's 12 heads at
 *  S = 512 took 4.45-4.52 instead of 4.68-4.71 ms on one thread. The
 *  numbers are the same: the same tiles sum the same terms in the same
 *  order. Returns 0, or -1 when the scratch buffers cannot be allocated
 *  (nothing written). */
static int attendTiles(const Attention *a, int64_t b, int64_t h, int64_t q0,
                       int64_t q1) {
  enum { TR = LOOMRT_TILE_ROWS, TC = LOOMRT_TILE_COLS, PANEL = 16 };
  Head hd = headOf(a, b, h, q1);
  const float *q = hd.q, *k = hd.k, *v = hd.v;
  float *o = hd.o;
  int64_t offset = hd.offset, kvEnd = hd.kvEnd, d = a->d, dv = a->dv;
  /* K^T in 16-key panels, one more zero panel where the keys end inside a
   * 32-key pair of panels (the tiles compute whole pairs). */
  int64_t kvPairs = (kvEnd + TC - 1) / TC;
  int64_t ldS = kvPairs * TC > 0 ? kvPairs * TC : TC;
  if ((ldS * 4) % 2048 == 0)
    ldS += PANEL; /* rows a multiple of 2 KiB apart collide in L1 */
  float *pk = loomrtReserve(&bufK, &capK,
                            sizeof(float) * (size_t)(kvPairs ? kvPairs : 1) *
                                TC * (size_t)(d ? d : 1));
  float *pv = loomrtReserve(
      &bufV, &capV, sizeof(float) * (size_t)(kvEnd ? kvEnd : 1) * (size_t)dv);
  float *s = loomrtReserve(&bufS, &capS, sizeof(float) * TR * (size_t)ldS);
  if (!pk || !pv || !s)
    return -1;
  RowStep step = rowStep();
  if (kvEnd > 0) {
    loomrt_sgemm_pack_b(d, kvEnd, k, a->ks[3], a->ks[2], pk);
    int64_t panels = (kvEnd + PANEL - 1) / PANEL;
    if (panels % 2)
      memset(pk + panels * d * PANEL, 0, sizeof(float) * (size_t)(d * PANEL));
    loomrt_sgemm_pack_b(kvEnd, dv, v, a->vs[2], a->vs[3], pv);
  }
  for (int64_t i0 = q0; i0 < q1; i0 += TR) {
    int rows = q1 - i0 < TR ? (int)(q1 - i0) : TR;
    int64_t end = kvEnd;
    if (a->causal) {
      end = i0 + rows + offset < end ? i0 + rows + offset : end;
      end = end < 0 ? 0 : end;
    }
    float *out = o + i0 * a->os[2];
    if (end == 0) {
      /* No key visible: 0 / 0, as the blocked path computes it. */
      for (int i = 0; i < rows; ++i)
        for (int64_t c = 0; c < dv; ++c)
          out[i * a->os[2] + c] = 0.0f * (1.0f / 0.0f);
      continue;
    }
    const float *qr = q + i0 * a->qs[2];
    /* Visible keys per row. */
    int64_t valid[TR];
    for (int i = 0; i < rows; ++i) {
      valid[i] = end;
      if (a->causal) {
        int64_t seen = i0 + i + offset + 1;
        valid[i] = seen < 0 ? 0 : seen < end ? seen : end;
      }
    }
    /* S = Q K^T (the scale goes into the exponent). On a full tile of rows
     * the 32-key pairs that all of them see in full also keep each row's
     * max (rowMax), so that the row step searches only the rest of S. */
    int64_t from = 0;
#ifdef LOOMRT_HAVE_AVX512_ROWS
    if (rows == TR)
      from = valid[0] / TC * TC; /* valid[] does not decrease */
#endif
    float rowMax[TR * PANEL] __attribute__((aligned(64)));
    for (int i = 0; from > 0 && i < TR * PANEL; ++i)
      rowMax[i] = -INFINITY;
    for (int64_t j = 0; j < end; j += TC) {
      const float *b0 = pk + j * d;
      if (j < from)
        loomrtTileMax(d, qr, a->qs[2], b0, b0 + d * PANEL, s + j, ldS, rowMax);
      else
        loomrtTile(rows, d, qr, a->qs[2], b0, b0 + d * PANEL, s + j, ldS, 0);
    }
    float m[TR], l[TR];
#ifdef LOOMRT_HAVE_AVX512_ROWS
    if (rows == TR)
      tileRowsExpAvx512(end, valid, from, s, ldS, rowMax, l, a->scale);
    else
#endif
      for (int i = 0; i < rows; ++i) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
        (void)step(end, valid[i], s + i * ldS, m + i, l + i, a->scale);
      }
    /* O = P V over the visible keys, then each row divided by its sum. */
    for (int64_t c = 0; c < dv; c += TC) {
      const float *b0 = pv + c * kvEnd;
      loomrtTile(rows, end, s, ldS, b0, b0 + PANEL * kvEnd, out + c, a->os[2],
                 0);
    }
    for (int i = 0; i < rows; ++i) {
      float inv = 1.0f / l[i];
      for (int64_t c = 0; c < dv; ++c)
        out[i * a->os[2] + c] *= inv;
    }
  }
  return 0;
}

/** Output rows [q0, q1) of head h of batch b. Returns 0, or -1 when the
 *  scratch buffers cannot be allocated (nothing written). */
static int attendRange(const Attention *a, int64_t b, int64_t h, int64_t q0,
                       int64_t q1) {
  Head hd = headOf(a, b, h, q1);
  const float *q = hd.q, *k = hd.k, *v = hd.v;
  float *o = hd.o;
  int64_t offset = hd.offset, kvEnd = hd.kvEnd, d = a->d, dv = a->dv;
  int64_t kbMax = kvEnd < KB ? (kvEnd + 15) / 16 * 16 : KB;
  if (kbMax == 0)
    kbMax = 16;
  int64_t ldS = kbMax + ((kbMax * 4) % 2048 == 0 ? 16 : 0);
  int64_t blocks = (kvEnd + KB - 1) / KB;
  float *pk = loomrtReserve(&bufK, &capK,
                            sizeof(float) * (size_t)loomrt_sgemm_packed_b_size(
                                                d, kvEnd > 0 ? kvEnd : 1));
  float *pv = loomrtReserve(&bufV, &capV,
                            sizeof(float) * (size_t)(blocks ? blocks : 1) *
                                (size_t)loomrt_sgemm_packed_b_size(KB, dv));
  /* A positive scale goes into the exponent (P = exp(scale (S - max))), so
   * that row-major Q is read in place by the S GEMM; otherwise Q is copied
   * (scaled, where the scale is not positive) into qb. */
  float qScale = a->scale > 0.0f ? 1.0f : a->scale;
  float sScale = a->scale > 0.0f ? a->scale : 1.0f;
  int qInPlace = qScale == 1.0f && a->qs[3] == 1;
  float *qb = qInPlace
                  ? NULL
                  : loomrtReserve(&bufQ, &capQ,
                                  sizeof(float) * QB * (size_t)(d ? d : 1));
  float *s = loomrtReserve(&bufS, &capS, sizeof(float) * QB * (size_t)ldS);
  float *acc = loomrtReserve(&bufAcc, &capAcc, sizeof(float) * QB * (size_t)dv);
  float *row = loomrtReserve(&bufRow, &capRow, sizeof(float) * 2 * QB);
  if (!pk || !pv || (!qInPlace && !qb) || !s || !acc || !row)
    return -1;
  float *mrow = row, *lrow = row + QB;
  RowStep step = rowStep();

  /* K^T [d x kvEnd] in 16-key panels over all of d: the keys of block j0
   * are the panels from j0 / 16 on. V per block of KB keys. */
  if (kvEnd > 0)
    loomrt_sgemm_pack_b(d, kvEnd, k, a->ks[3], a->ks[2], pk);
  int64_t vBlock = loomrt_sgemm_packed_b_size(KB, dv);
  for (int64_t j0 = 0, blk = 0; j0 < kvEnd; j0 += KB, ++blk) {
    int64_t kb = kvEnd - j0 < KB ? kvEnd - j0 : KB;
    loomrt_sgemm_pack_b(kb, dv, v + j0 * a->vs[2], a->vs[2], a->vs[3],
                        pv + blk * vBlock);
  }

  for (int64_t i0 = q0; i0 < q1; i0 += QB) {
    int64_t rows = q1 - i0 < QB ? q1 - i0 : QB;
    const float *qa = qInPlace ? q + i0 * a->qs[2] : qb;
    int64_t lda = qInPlace ? a->qs[2] : d;
    if (!qInPlace)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t c = 0; c < d; ++c)
          qb[i * d + c] = qScale * q[(i0 + i) * a->qs[2] + c * a->qs[3]];
    for (int64_t i = 0; i < rows; ++i) {
      mrow[i] = -INFINITY;
      lrow[i] = 0.0f;
    }
    int64_t end = kvEnd;
    if (a->causal) {
      end = i0 + rows + offset < end ? i0 + rows + offset : end;
      end = end < 0 ? 0 : end;
    }
    if (end == 0)
      memset(acc, 0, sizeof(float) * (size_t)rows * (size_t)dv);
    /* With one key block and row-major output rows, P V goes straight into
     * them (the GEMM's tiles fetch their rows of C while they compute, where
     * a separate pass waited for each line) and is scaled there. */
    int direct = blocks == 1 && end > 0 && a->os[3] == 1;
    for (int64_t j0 = 0, blk = 0; j0 < end; j0 += KB, ++blk) {
      /* kb keys are computed, kp were packed (more where the causal mask
       * ends this block early: P is 0 past kb). */
      int64_t kb = end - j0 < KB ? end - j0 : KB;
      int64_t kp = kvEnd - j0 < KB ? kvEnd - j0 : KB;
      /* S = Q K^T for keys [j0, j0 + kb) (scaled in the exponent). */
      loomrt_sgemm_f32(1, rows, kb, d, qa, 0, lda, 1, pk + j0 * d, 0, 0, 0, s,
                       0, ldS, 1, LOOMRT_GEMM_PACKED_B);
      for (int64_t i = 0; i < rows; ++i) {
        int64_t valid = kb;
        if (a->causal) {
          int64_t seen = i0 + i + offset + 1 - j0; /* keys j0 .. visible */
          valid = seen < 0 ? 0 : seen < kb ? seen : kb;
        }
        float alpha = step(kp, valid, s + i * ldS, mrow + i, lrow + i, sScale);
        if (j0 > 0 && alpha != 1.0f)
          for (int64_t c = 0; c < dv; ++c)
            acc[i * dv + c] *= alpha;
      }
      /* acc (or the output rows) (+)= P V for the block's packed keys. */
      loomrt_sgemm_f32(
          1, rows, dv, kp, s, 0, ldS, 1, pv + blk * vBlock, 0, 0, 0,
          direct ? o + i0 * a->os[2] : acc, 0, direct ? a->os[2] : dv, 1,
          LOOMRT_GEMM_PACKED_B | (j0 > 0 ? LOOMRT_GEMM_ACCUMULATE : 0));
    }
    for (int64_t i = 0; i < rows; ++i) {
      float inv = 1.0f / lrow[i];
      float *out = o + (i0 + i) * a->os[2];
      if (direct)
        for (int64_t c = 0; c < dv; ++c)
          out[c] *= inv;
      else
        for (int64_t c = 0; c < dv; ++c)
          out[c * a->os[3]] = acc[i * dv + c] * inv;
    }
  }
  return 0;
}

/** The same with plain loops, without scratch buffers (the fallback when
 *  they cannot be allocated): two passes over the keys per row. */
static void attendRangeUnbuffered(const Attention *a, int64_t b, int64_t h,
                                  int64_t q0, int64_t q1) {
  int64_t kvh = kvHead(a, h);
  int64_t offset = a->skv - a->sq;
  const float *q = a->q + b * a->qs[0] + h * a->qs[1];
  const float *k = a->k + b * a->ks[0] + kvh * a->ks[1];
  const float *v = a->v + b * a->vs[0] + kvh * a->vs[1];
  float *o = a->o + b * a->os[0] + h * a->os[1];
  for (int64_t i = q0; i < q1; ++i) {
    int64_t end = a->skv;
    if (a->causal && i + offset + 1 < end)
      end = i + offset + 1 < 0 ? 0 : i + offset + 1;
    float mx = -INFINITY;
    for (int64_t j = 0; j < end; ++j) {
      float dot = 0.0f;
      for (int64_t c = 0; c < a->d; ++c)
        dot += q[i * a->qs[2] + c * a->qs[3]] * k[j * a->ks[2] + c * a->ks[3]];
      dot *= a->scale;
      mx = dot > mx ? dot : mx;
    }
    float *out = o + i * a->os[2];
    for (int64_t c = 0; c < a->dv; ++c)
      out[c * a->os[3]] = 0.0f;
    float sum = 0.0f;
    for (int64_t j = 0; j < end; ++j) {
      float dot = 0.0f;
      for (int64_t c = 0; c < a->d; ++c)
        dot += q[i * a->qs[2] + c * a->qs[3]] * k[j * a->ks[2] + c * a->ks[3]];
      float p = expf(dot * a->scale - mx);
      sum += p;
      for (int64_t c = 0; c < a->dv; ++c)
        out[c * a->os[3]] += p * v[j * a->vs[2] + c * a->vs[3]];
    }
    for (int64_t c = 0; c < a->dv; ++c)
      out[c * a->os[3]] /= sum;
  }
}

void loomrt_attention_f32(int64_t batch, int64_t heads, int64_t kv_heads,
                          int64_t sq, int64_t skv, int64_t d, int64_t dv,
                          const float *q, int64_t q_bs, int64_t q_hs,
                          int64_t q_rs, int64_t q_cs, const float *k,
                          int64_t k_bs, int64_t k_hs, int64_t k_rs,
                          int64_t k_cs, const float *v, int64_t v_bs,
                          int64_t v_hs, int64_t v_rs, int64_t v_cs, float *o,
                          int64_t o_bs, int64_t o_hs, int64_t o_rs,
                          int64_t o_cs, int64_t scale_bits, int64_t flags) {
  if (batch <= 0 || heads <= 0 || sq <= 0 || dv <= 0)
    return;
  Attention a = {batch,
                 heads,
                 kv_heads > 0 ? kv_heads : heads,
                 sq,
                 skv,
                 d,
                 dv,
                 q,
                 k,
                 v,
                 o,
                 {q_bs, q_hs, q_rs, q_cs},
                 {k_bs, k_hs, k_rs, k_cs},
                 {v_bs, v_hs, v_rs, v_cs},
                 {o_bs, o_hs, o_rs, o_cs},
                 loomrtFloatFromBits(scale_bits),
                 (flags & LOOMRT_ATTENTION_CAUSAL) != 0};
  /* Query chunks per head: enough for two items per thread when there are
   * few heads (each chunk packs its head's K and V again). */
  int64_t threads = 1;
#ifdef LOOMRT_KERNELS_OPENMP
  if (!omp_in_parallel())
    threads = omp_get_max_threads();
#endif
  int64_t heads2 = batch * heads;
  int64_t chunks =
      heads2 >= 2 * threads ? 1 : (2 * threads + heads2 - 1) / heads2;
  int64_t maxChunks = (sq + QB - 1) / QB;
  if (chunks > maxChunks)
    chunks = maxChunks;
  int64_t perChunk = (sq + chunks - 1) / chunks;
  perChunk = (perChunk + QB - 1) / QB * QB;
  /* Where the items are whole heads, the last `threads` heads are two items
   * each (query halves): the threads finish within half a head of each
   * other instead of one. With one vCPU 20% loaded, BERT's 12 heads at
   * S = 512 took 2.64 instead of 3.05 ms (unloaded -1.5%, for two more
   * packings of K and V); every head in halves was slower (2.92: twelve
   * more packings). */
  int64_t tail = threads > 1 && chunks == 1 && heads2 > threads && sq >= 2 * QB
                     ? threads
                     : 0;
  int64_t whole = heads2 - tail;
  int64_t halfChunk = ((sq + 1) / 2 + QB - 1) / QB * QB;
  int64_t items = heads2 * chunks + tail;
  int64_t next = 0;
  /* One key block, Q in place, row-major output: the direct tile path. */
  int tiles = skv <= KB && a.scale > 0.0f && q_cs == 1 && o_cs == 1 &&
              dv % LOOMRT_TILE_COLS == 0 && loomrtHaveTiles();
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1 && items > 1)
#endif
  for (int64_t item; (item = loomrtTakeItem(&next)) < items;) {
    int64_t bh = item / chunks, c = item % chunks;
    int64_t q0 = c * perChunk, q1 = q0 + perChunk < sq ? q0 + perChunk : sq;
    if (item >= whole && tail) {
      bh = whole + (item - whole) / 2;
      q0 = (item - whole) % 2 * halfChunk;
      q1 = q0 + halfChunk < sq ? q0 + halfChunk : sq;
    }
    if (q0 >= q1)
      continue;
    if (tiles ? attendTiles(&a, bh / heads, bh % heads, q0, q1)
              : attendRange(&a, bh / heads, bh % heads, q0, q1))
      attendRangeUnbuffered(&a, bh / heads, bh % heads, q0, q1);
  }
}
