/*===- sgemm.c - Packed, register-blocked fp32 matrix multiply ------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * The GotoBLAS/BLIS algorithm: C is computed in MR x NR register tiles by a
 * microkernel that streams a packed MR-row panel of A and a packed NR-column
 * panel of B (both zero-padded to full tiles). Around it, the loops over
 * NC columns (the packed B block, kept in L3), KC of the reduction (one
 * packed B panel of KC x NR floats stays in L1) and MC rows (the packed A
 * block, kept in L2). Threads split the batch, then the longer of M and N,
 * and each packs what its part needs.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#include "buffer.h"
#include "isa.h"
#include "norm.h"
#include "parallel.h"
#include "tiles.h"
#include "transpose8x8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef LOOMRT_KERNELS_OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define LOOMRT_HAVE_AVX2_KERNEL 1
#endif

enum {
  MR = 6,        /* rows of a register tile */
  NR = 16,       /* columns of a register tile (two 8-float vectors) */
  KC_MAX = 768,  /* reduction depth of one packed block */
  MC = 96,       /* rows of a packed A block (a multiple of MR) */
  NC = 2048,     /* columns of a packed B block (a multiple of NR) */
  SMALL_N = 128, /* at most this many columns: A is not packed */
};

_Static_assert(NR == LOOMRT_GEMM_PANEL, "prepacked panels are NR wide");
_Static_assert(2 * MR == LOOMRT_TILE_ROWS && 2 * NR == LOOMRT_TILE_COLS,
               "tiles.h describes the AVX-512 tiles");

/** C[0:MR, 0:NR] (+)= Apanel · Bpanel over kc; C has row stride ldc. */
typedef void (*MicroKernel)(int64_t kc, const float *a, const float *b,
                            float *c, int64_t ldc, int accumulate);

/** The same on an unpacked, row-major A: row i of the tile at rows[i]
 *  (element p at rows[i][p]). For small blocks, where packing A would cost
 *  more than it saves. */
typedef void (*RowsMicroKernel)(int64_t kc, const float *const *rows,
                                const float *b, float *c, int64_t ldc,
                                int accumulate);

/* -------------------------------------------------------------------------
 * Microkernels
 * ------------------------------------------------------------------------- */

/* Every 6 x 16 microkernel reads element (i, p) of its A tile at
 * rows[i][p * STEP] (the AVX-512 tiles address rows in groups: tileAvx512):
 * a packed panel is rows[i] = a + i with STEP = MR, an unpacked row-major A
 * is six row pointers with STEP = 1. One always-inlined body per ISA serves
 * both, specialized on the constant STEP. */

/** Portable tile body (the compiler vectorizes the j loops). */
static inline __attribute__((always_inline)) void
tileGeneric(int64_t kc, const float *const *rows, int64_t step,
            const float *restrict b, float *restrict c, int64_t ldc,
            int accumulate) {
  float acc[MR][NR];
  memset(acc, 0, sizeof(acc));
  for (int64_t p = 0; p < kc; ++p)
    for (int i = 0; i < MR; ++i) {
      float ai = rows[i][p * step];
      for (int j = 0; j < NR; ++j)
        acc[i][j] += ai * b[p * NR + j];
    }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

static void microKernelGeneric(int64_t kc, const float *restrict a,
                               const float *restrict b, float *restrict c,
                               int64_t ldc, int accumulate) {
  const float *rows[MR] = {a, a + 1, a + 2, a + 3, a + 4, a + 5};
  tileGeneric(kc, rows, MR, b, c, ldc, accumulate);
}

static void rowsMicroKernelGeneric(int64_t kc, const float *const *rows,
                                   const float *restrict b, float *restrict c,
                                   int64_t ldc, int accumulate) {
  tileGeneric(kc, rows, 1, b, c, ldc, accumulate);
}

#ifdef LOOMRT_HAVE_AVX2_KERNEL
/** 6x16 AVX2 + FMA tile body: 12 accumulators, 2 B vectors, 1 broadcast. */
static inline __attribute__((always_inline, target("avx2,fma"))) void
tileAvx2(int64_t kc, const float *const *rows, int64_t step,
         const float *restrict b, float *restrict c, int64_t ldc,
         int accumulate) {
  const float *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3],
              *a4 = rows[4], *a5 = rows[5];
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int i = 0; i < MR; ++i)
    _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#define LOOMRT_STEP(row, r0, r1)                                               \
  do {                                                                         \
    __m256 ai = _mm256_broadcast_ss(row + p * step);                           \
    r0 = _mm256_fmadd_ps(ai, b0, r0);                                          \
    r1 = _mm256_fmadd_ps(ai, b1, r1);                                          \
  } while (0)
#pragma clang loop unroll_count(4)
  for (int64_t p = 0; p < kc; ++p) {
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
    LOOMRT_STEP(a0, c00, c01);
    LOOMRT_STEP(a1, c10, c11);
    LOOMRT_STEP(a2, c20, c21);
    LOOMRT_STEP(a3, c30, c31);
    LOOMRT_STEP(a4, c40, c41);
    LOOMRT_STEP(a5, c50, c51);
    b += NR;
  }
#undef LOOMRT_STEP
#define LOOMRT_STORE(i, r0, r1)                                                \
  do {                                                                         \
    float *ci = c + (i)*ldc;                                                   \
    if (accumulate) {                                                          \
      r0 = _mm256_add_ps(r0, _mm256_loadu_ps(ci));                             \
      r1 = _mm256_add_ps(r1, _mm256_loadu_ps(ci + 8));                         \
    }                                                                          \
    _mm256_storeu_ps(ci, r0);                                                  \
    _mm256_storeu_ps(ci + 8, r1);                                              \
  } while (0)
  LOOMRT_STORE(0, c00, c01);
  LOOMRT_STORE(1, c10, c11);
  LOOMRT_STORE(2, c20, c21);
  LOOMRT_STORE(3, c30, c31);
  LOOMRT_STORE(4, c40, c41);
  LOOMRT_STORE(5, c50, c51);
#undef LOOMRT_STORE
}

__attribute__((target("avx2,fma"))) static void
microKernelAvx2(int64_t kc, const float *restrict a, const float *restrict b,
                float *restrict c, int64_t ldc, int accumulate) {
  const float *rows[MR] = {a, a + 1, a + 2, a + 3, a + 4, a + 5};
  tileAvx2(kc, rows, MR, b, c, ldc, accumulate);
}

__attribute__((target("avx2,fma"))) static void
rowsMicroKernelAvx2(int64_t kc, const float *const *rows,
                    const float *restrict b, float *restrict c, int64_t ldc,
                    int accumulate) {
  tileAvx2(kc, rows, 1, b, c, ldc, accumulate);
}
#endif

/** A GEMM epilogue as the AVX-512 tiles apply it as they store:
 *  C = act(S + bias) + res for the tile's rows i and columns j
 *  (bias at bias[i * bias_rs + j] when bias_vec, else one value per row at
 *  bias[i * bias_rs]; res at res[i * res_rs + j]; NULL when absent). */
typedef struct {
  const float *bias;
  int64_t bias_rs;
  int bias_vec;
  const float *res;
  int64_t res_rs;
  int act; /* LOOMRT_ACT_NONE, _RELU, _GELU or _GELU_TANH */
} TileEpilogue;

/* erf and tanh as odd-over-even rational functions of x (Eigen's and
 * XLA's approximations; erf on [-4, 4], tanh on [-7.905, 7.905], +-1
 * beyond; ~4e-7 absolute error in fp32): coefficients of x, x^3, ...
 * (numerators) and of 1, x^2, ... (denominators), lowest first, shared by
 * the scalar and the AVX-512 epilogues. */
static const float kErfP[7] = {-1.60960333262415e-02f, -2.95459980854025e-03f,
                               -7.34990630326855e-04f, -5.69250639462346e-05f,
                               -2.10102402082508e-06f, 2.77068142495902e-08f,
                               -2.72614225801306e-10f};
static const float kErfQ[5] = {-1.42647390514189e-02f, -7.37332916720468e-03f,
                               -1.68282697438203e-03f, -2.13374055278905e-04f,
                               -1.45660718464996e-05f};
static const float kTanhP[7] = {4.89352455891786e-03f,  6.37261928875436e-04f,
                                1.48572235717979e-05f,  5.12229709037114e-08f,
                                -8.60467152213735e-11f, 2.00018790482477e-13f,
                                -2.76076847742355e-16f};
static const float kTanhQ[4] = {4.89352518554385e-03f, 2.26843463243900e-03f,
                                1.18534705686654e-04f, 1.19825839466702e-06f};

#ifdef LOOMRT_HAVE_AVX2_KERNEL
/** p(x) / q(x) for the odd/even rational approximations below: p has
 *  coefficients a[0..6] (of x, x^3, ..., x^13), q b[0..nb-1]. */
static inline __attribute__((always_inline, target("avx512f"))) __m512
rational512(__m512 x, const float *a, const float *b, int nb) {
  __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(a[6]);
  for (int i = 5; i >= 0; --i)
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(a[i]));
  __m512 q = _mm512_set1_ps(b[nb - 1]);
  for (int i = nb - 2; i >= 0; --i)
    q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(b[i]));
  /* 1 / q by vrcp14ps and one Newton step (relative error ~2^-27): a
   * division costs more than the rest of the GELU on a zmm. */
  __m512 r = _mm512_rcp14_ps(q);
  r = _mm512_fmadd_ps(_mm512_fnmadd_ps(q, r, _mm512_set1_ps(1.0f)), r, r);
  return _mm512_mul_ps(_mm512_mul_ps(x, p), r);
}

/** The tile epilogue (activation `act`) on one 16-column vector of row i
 *  (half h). */
static inline __attribute__((always_inline, target("avx512f"))) __m512
epilogue512(const TileEpilogue *te, int act, int i, int h, __m512 v) {
  if (te->bias)
    v = _mm512_add_ps(
        v, te->bias_vec ? _mm512_loadu_ps(te->bias + i * te->bias_rs + h * NR)
                        : _mm512_set1_ps(te->bias[i * te->bias_rs]));
  __m512 half = _mm512_mul_ps(v, _mm512_set1_ps(0.5f));
  switch (act) {
  case LOOMRT_ACT_RELU:
    v = _mm512_max_ps(v, _mm512_setzero_ps());
    break;
  case LOOMRT_ACT_GELU: {
    __m512 t = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f));
    t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-4.0f)),
                      _mm512_set1_ps(4.0f));
    v = _mm512_fmadd_ps(half, rational512(t, kErfP, kErfQ, 5), half);
    break;
  }
  case LOOMRT_ACT_GELU_TANH: {
    __m512 cube = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
    __m512 t =
        _mm512_mul_ps(_mm512_fmadd_ps(cube, _mm512_set1_ps(0.044715f), v),
                      _mm512_set1_ps(0.79788456080286536f));
    t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-7.90531110763549805f)),
                      _mm512_set1_ps(7.90531110763549805f));
    v = _mm512_fmadd_ps(half, rational512(t, kTanhP, kTanhQ, 4), half);
    break;
  }
  default:
    break;
  }
  if (te->res)
    v = _mm512_add_ps(v, _mm512_loadu_ps(te->res + i * te->res_rs + h * NR));
  return v;
}

static inline __attribute__((always_inline, target("avx512f"))) void
epilogueStoreBody(int nrows, int npanels, const float *tile, float *c,
                  int64_t ldc, int accumulate, const TileEpilogue *te,
                  int act) {
  for (int i = 0; i < nrows; ++i)
    for (int h = 0; h < npanels; ++h) {
      float *ci = c + i * ldc + h * NR;
      __m512 v = _mm512_load_ps(tile + (i * npanels + h) * NR);
      if (accumulate)
        v = _mm512_add_ps(v, _mm512_loadu_ps(ci));
      _mm512_storeu_ps(ci, epilogue512(te, act, i, h, v));
    }
}

/** Stores the nrows x (16 npanels) accumulators of an AVX-512 tile (in
 *  `tile`, row stride 16 npanels, on the stack) to C through `te`. Out of
 *  line: inside the tile bodies, whose 24 accumulators need every
 *  register, the epilogue's constants made the compiler spill accumulators
 *  in the k loop. */
__attribute__((target("avx512f"), noinline)) static void
epilogueStoreAvx512(int nrows, int npanels, const float *tile, float *c,
                    int64_t ldc, int accumulate, const TileEpilogue *te) {
  switch (te->act) {
  case LOOMRT_ACT_RELU:
    epilogueStoreBody(nrows, npanels, tile, c, ldc, accumulate, te,
                      LOOMRT_ACT_RELU);
    break;
  case LOOMRT_ACT_GELU:
    epilogueStoreBody(nrows, npanels, tile, c, ldc, accumulate, te,
                      LOOMRT_ACT_GELU);
    break;
  case LOOMRT_ACT_GELU_TANH:
    epilogueStoreBody(nrows, npanels, tile, c, ldc, accumulate, te,
                      LOOMRT_ACT_GELU_TANH);
    break;
  default:
    epilogueStoreBody(nrows, npanels, tile, c, ldc, accumulate, te,
                      LOOMRT_ACT_NONE);
    break;
  }
}
#endif

/** The next B panel pair's lines that a tile prefetches into L2 as it runs:
 *  at step p, p0 + p * step and p1 + p * step (bytes). The tiles after a
 *  pair's first thus bring the next pair in from memory while they compute
 *  from cache, instead of its first tile waiting for it line by line. */
typedef struct {
  const char *p0, *p1, *p2; /* p2: NULL for a pair of panels */
  int64_t step;
} NextPanels;

/** The part of the next pair or triple of panels (`next0`, `next1`,
 *  `next2`: its panels at this reduction step, kc rows each; NULL: none;
 *  next2 NULL for a pair) for tile t of the `tiles` over the current
 *  panels: none for the first, an equal share for each later one. */
static const NextPanels *nextPanels(NextPanels *np, const float *next0,
                                    const float *next1, const float *next2,
                                    int64_t kc, int64_t t, int64_t tiles) {
  if (!next0 || t == 0 || tiles < 2)
    return NULL;
  int64_t share = (kc * NR * (int64_t)sizeof(float) + tiles - 2) / (tiles - 1);
  np->step = (share + kc - 1) / kc;
  np->p0 = (const char *)next0 + (t - 1) * kc * np->step;
  np->p1 = (const char *)next1 + (t - 1) * kc * np->step;
  np->p2 = next2 ? (const char *)next2 + (t - 1) * kc * np->step : NULL;
  return np;
}

#ifdef LOOMRT_HAVE_AVX2_KERNEL
/** Rows of A per group of tileAvx512: one pointer per group, its rows at
 *  0, ld and 2 ld from it (x86 addressing scales an index by 1 or 2). */
enum { TILE_GROUP = 3 };

/** Steps [p, end) of tileAvx512's k loop (its operands as it names them),
 *  with `prefetchB` also prefetching B 64 steps ahead; returns end. A
 *  constant prefetchB gives each loop its own copy: with the test inside,
 *  the loop ran it at every step. */
static inline __attribute__((always_inline, target("avx512f"))) int64_t
tileSteps(int nrows, int npanels, int prefetchB, int64_t p, int64_t end,
          const char **g, int64_t ldBytes, int64_t stepBytes, int opaque,
          const float *restrict const *bp, __m512 acc[][3]) {
  const int ngroups = (nrows + TILE_GROUP - 1) / TILE_GROUP;
#pragma clang loop unroll(disable)
  for (; p < end; ++p) {
    __m512 v[3];
    for (int h = 0; h < npanels; ++h)
      v[h] = _mm512_loadu_ps(bp[h] + p * NR);
    /* B 64 steps (4 KiB per panel) ahead: the first tile over a panel
     * reads constant weights from memory, and the hardware prefetchers
     * alone left it latency-bound (+5-8% on M = 128 GEMMs with cold
     * weights; prefetches past the end are harmless). Not in the tiles
     * after it (with a next pair to fetch), which find the panels in L2,
     * where the hardware's sequential streams keep up: a BERT-512 layer's
     * products ran ~1.5% faster without those two instructions per step
     * (10 alternating runs, 0.96-1.03 per run). */
    if (prefetchB)
      for (int h = 0; h < npanels; ++h)
        _mm_prefetch((const char *)(bp[h] + (p + 64) * NR), _MM_HINT_T0);
    for (int i = 0; i < nrows; ++i) {
      __m512 x = _mm512_set1_ps(
          *(const float *)(g[i / TILE_GROUP] + i % TILE_GROUP * ldBytes));
      for (int h = 0; h < npanels; ++h)
        acc[i][h] = _mm512_fmadd_ps(x, v[h], acc[i][h]);
    }
    for (int j = 0; j < ngroups; ++j) {
      g[j] += stepBytes;
      if (opaque)
        __asm__("" : "+r"(g[j]));
    }
  }
  return p;
}

/** Up-to-12x32 (npanels 2) or up-to-8x48 (npanels 3) AVX-512 tile body:
 *  A's rows in groups of TILE_GROUP, row i < nrows at groups[i / 3] +
 *  (i % 3) * ld and its element p at + p * step (a row-major A: groups
 *  a + 3 j lda, ld = lda, step 1; two packed 6-row panels: ld 1, step MR),
 *  by npanels packed 16-column panels of B (b[h]): npanels * nrows zmm
 *  accumulators, npanels B vectors and a broadcast per row and step (14
 *  loads per 24 FMAs at 12 x 32, 11 at 8 x 48). With `opaque` (ld known
 *  only at run time), each group's pointer is advanced as a value the
 *  compiler cannot see through, so that it addresses a row as
 *  [group + ld * {0, 1, 2}]: with a pointer per row (twelve, plus B's, the
 *  prefetches' and the counter: more than the 15 general registers) four
 *  of them were reloaded from the stack every step, and a BERT-512 layer's
 *  products ran ~2.5% slower (medians of 10 alternating runs, 0.93-1.00
 *  per run). With `rowMax` (and no `te`), also folds each row's result
 *  vectors into rowMax[16 i, 16 i + 16) by an elementwise max. Callers pass
 *  constant nrows, npanels, ld (where packed), step and opaque, and a
 *  constant NULL rowMax where they do not want it. */
static inline __attribute__((always_inline, target("avx512f"))) void
tileAvx512(int nrows, int npanels, int64_t kc, const float *const *groups,
           int64_t ld, int64_t step, int opaque, const float *const *b,
           float *restrict c, int64_t ldc, int accumulate,
           const TileEpilogue *te, const NextPanels *np,
           float *restrict rowMax) {
  const char *pf[3] = {NULL, NULL, NULL};
  for (int h = 0; np && h < npanels; ++h)
    pf[h] = h == 0 ? np->p0 : h == 1 ? np->p1 : np->p2;
  const float *restrict bp[3];
  for (int h = 0; h < npanels; ++h)
    bp[h] = b[h];
  const int ngroups = (nrows + TILE_GROUP - 1) / TILE_GROUP;
  const char *g[(2 * MR + TILE_GROUP - 1) / TILE_GROUP];
  for (int j = 0; j < ngroups; ++j)
    g[j] = (const char *)groups[j];
  int64_t ldBytes = ld * (int64_t)sizeof(float);
  int64_t stepBytes = step * (int64_t)sizeof(float);
  __m512 acc[2 * MR][3];
  for (int i = 0; i < nrows; ++i)
    for (int h = 0; h < npanels; ++h)
      acc[i][h] = _mm512_setzero_ps();
  for (int i = 0; i < nrows; ++i)
    for (int h = 0; h < npanels; ++h)
      _mm_prefetch((const char *)(c + i * ldc + h * NR), _MM_HINT_T0);
  if (!np) {
    tileSteps(nrows, npanels, 1, 0, kc, g, ldBytes, stepBytes, opaque, bp, acc);
  } else {
    /* The next pair's share, one prefetch per line of it: every `chunk`
     * steps, not every step (pfStep <= 64 bytes; at BERT's 22 tiles per
     * pair it is 4, and 15 of 16 prefetches hit a line already asked
     * for). */
    int64_t pfStep = np->step;
    int64_t chunk = pfStep <= 0 ? kc : pfStep < 64 ? 64 / pfStep : 1;
    for (int64_t p = 0; p < kc;) {
      for (int h = 0; h < npanels; ++h)
        _mm_prefetch(pf[h] + p * pfStep, _MM_HINT_T1);
      p = tileSteps(nrows, npanels, 0, p, p + chunk < kc ? p + chunk : kc, g,
                    ldBytes, stepBytes, opaque, bp, acc);
    }
  }
  if (te) {
    /* nrows * npanels accumulators: at most 24 (12 x 2 or 8 x 3). */
    float tile[2 * MR * 2 * NR] __attribute__((aligned(64)));
    for (int i = 0; i < nrows; ++i)
      for (int h = 0; h < npanels; ++h)
        _mm512_store_ps(tile + (i * npanels + h) * NR, acc[i][h]);
    epilogueStoreAvx512(nrows, npanels, tile, c, ldc, accumulate, te);
    return;
  }
  for (int i = 0; i < nrows; ++i)
    for (int h = 0; h < npanels; ++h) {
      float *ci = c + i * ldc + h * NR;
      __m512 v = acc[i][h];
      if (accumulate)
        v = _mm512_add_ps(v, _mm512_loadu_ps(ci));
      _mm512_storeu_ps(ci, v);
    }
  if (rowMax)
    for (int i = 0; i < nrows; ++i) {
      __m512 mx = _mm512_load_ps(rowMax + i * NR);
      for (int h = 0; h < npanels; ++h)
        mx = _mm512_max_ps(mx, acc[i][h]);
      _mm512_store_ps(rowMax + i * NR, mx);
    }
}

/** Two consecutive packed 6-row panels of A (a0: rows 0-5, a1: rows 6-11,
 *  each kc x MR) by two packed 16-column panels of B. */
__attribute__((target("avx512f"))) static void microKernelAvx512(
    int64_t kc, const float *restrict a0, const float *restrict a1,
    const float *restrict b0, const float *restrict b1, float *restrict c,
    int64_t ldc, int accumulate, const TileEpilogue *te, const NextPanels *np) {
  const float *groups[4] = {a0, a0 + TILE_GROUP, a1, a1 + TILE_GROUP};
  const float *b[2] = {b0, b1};
  tileAvx512(2 * MR, 2, kc, groups, 1, MR, 0, b, c, ldc, accumulate, te, np,
             NULL);
}

/** tileAvx512's four row groups of a row-major A (row i at a + i * lda),
 *  or with `packed` of A's 6-row panels from `a` on (each kc x MR). */
static inline void tileGroups(const float *a, int64_t lda, int packed,
                              int64_t kc, const float *groups[4]) {
  _Static_assert(MR % TILE_GROUP == 0, "a group of rows is in one panel");
  for (int j = 0; j < 4; ++j)
    groups[j] = packed ? a + j * TILE_GROUP / MR * MR * kc + j * TILE_GROUP % MR
                       : a + j * TILE_GROUP * lda;
}

/** The same on twelve rows of an unpacked, row-major A (row i at
 *  a + i * lda). */
__attribute__((target("avx512f"))) static void
rowsMicroKernelAvx512(int64_t kc, const float *a, int64_t lda,
                      const float *restrict b0, const float *restrict b1,
                      float *restrict c, int64_t ldc, int accumulate,
                      const TileEpilogue *te, const NextPanels *np) {
  const float *groups[4];
  tileGroups(a, lda, 0, kc, groups);
  const float *b[2] = {b0, b1};
  tileAvx512(2 * MR, 2, kc, groups, lda, 1, 1, b, c, ldc, accumulate, te, np,
             NULL);
}

/** rowsMicroKernelAvx512 without accumulation or epilogue that also folds
 *  the rows' results into rowMax (loomrtTileMax). */
__attribute__((target("avx512f"))) static void
rowsMaxKernelAvx512(int64_t kc, const float *a, int64_t lda,
                    const float *restrict b0, const float *restrict b1,
                    float *restrict c, int64_t ldc, float *restrict rowMax) {
  const float *groups[4];
  tileGroups(a, lda, 0, kc, groups);
  const float *b[2] = {b0, b1};
  tileAvx512(2 * MR, 2, kc, groups, lda, 1, 1, b, c, ldc, 0, NULL, NULL,
             rowMax);
}

/** X(1) ... X(8): the row counts that both AVX-512 tile kernels below have
 *  a body for (one switch case each). */
#define LOOMRT_ROWS_1_TO_8(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8)

/** 1 to 11 rows (a tile's row tail) by two 16-column panels of B, one body
 *  per row count, so that row tails run at the full tile's speed instead
 *  of on 6x16 AVX2 tiles: `packed`, A's 6-row panels from `a` on (each
 *  kc x MR; row i at a + i / MR * MR * kc + i % MR, element p at + p MR),
 *  or a row-major A (row i at a + i * lda). Writes only the nrows rows of
 *  C. */
__attribute__((target("avx512f"))) static void tailMicroKernelAvx512(
    int nrows, int packed, int64_t kc, const float *a, int64_t lda,
    const float *restrict b0, const float *restrict b1, float *restrict c,
    int64_t ldc, int accumulate, const TileEpilogue *te, const NextPanels *np) {
  const float *groups[4];
  tileGroups(a, lda, packed, kc, groups);
  const float *b[2] = {b0, b1};
#define LOOMRT_TAIL_CASE(R)                                                    \
  case R:                                                                      \
    if (packed)                                                                \
      tileAvx512(R, 2, kc, groups, 1, MR, 0, b, c, ldc, accumulate, te, np,    \
                 NULL);                                                        \
    else                                                                       \
      tileAvx512(R, 2, kc, groups, lda, 1, 1, b, c, ldc, accumulate, te, np,   \
                 NULL);                                                        \
    break;
  switch (nrows) {
    LOOMRT_ROWS_1_TO_8(LOOMRT_TAIL_CASE)
    LOOMRT_TAIL_CASE(9)
    LOOMRT_TAIL_CASE(10)
    LOOMRT_TAIL_CASE(11)
  default:
    break;
  }
#undef LOOMRT_TAIL_CASE
}

/** 1 to 8 rows of a row-major A (row i at a + i * lda) by three
 *  consecutive 16-column panels of B (from b0 on, bStride floats apart):
 *  the 8 x 48 tile, whose step loads three B vectors and eight broadcasts
 *  for 24 FMAs where the 12 x 32 tile loads 14. Writes only the nrows rows
 *  of C. */
__attribute__((target("avx512f"))) static void
wideMicroKernelAvx512(int nrows, int64_t kc, const float *a, int64_t lda,
                      const float *b0, int64_t bStride, float *restrict c,
                      int64_t ldc, int accumulate, const TileEpilogue *te,
                      const NextPanels *np) {
  const float *groups[4];
  tileGroups(a, lda, 0, kc, groups);
  const float *b[3] = {b0, b0 + bStride, b0 + 2 * bStride};
#define LOOMRT_WIDE_CASE(R)                                                    \
  case R:                                                                      \
    tileAvx512(R, 3, kc, groups, lda, 1, 1, b, c, ldc, accumulate, te, np,     \
               NULL);                                                          \
    break;
  switch (nrows) {
    LOOMRT_ROWS_1_TO_8(LOOMRT_WIDE_CASE)
  default:
    break;
  }
#undef LOOMRT_WIDE_CASE
}
#undef LOOMRT_ROWS_1_TO_8
#endif

/** Two 6-row panels of A by two 16-column panels of B at once (12 x 32),
 *  or NULL when the CPU has no such kernel; prefetches `np` (or nothing:
 *  NULL) on the way. */
typedef void (*MicroKernel2)(int64_t kc, const float *a0, const float *a1,
                             const float *b0, const float *b1, float *c,
                             int64_t ldc, int accumulate,
                             const TileEpilogue *te, const NextPanels *np);

/** The same on twelve rows of an unpacked, row-major A (row i at
 *  a + i * lda). */
typedef void (*RowsMicroKernel2)(int64_t kc, const float *a, int64_t lda,
                                 const float *b0, const float *b1, float *c,
                                 int64_t ldc, int accumulate,
                                 const TileEpilogue *te, const NextPanels *np);

/** The same on 1 to 11 rows: `packed`, A's 6-row panels from `a` on (row i
 *  at a + i / MR * MR * kc + i % MR, element p at + p * MR), else a
 *  row-major A (row i at a + i * lda); writes only those rows of C. */
typedef void (*TailMicroKernel2)(int nrows, int packed, int64_t kc,
                                 const float *a, int64_t lda, const float *b0,
                                 const float *b1, float *c, int64_t ldc,
                                 int accumulate, const TileEpilogue *te,
                                 const NextPanels *np);

/** 1 to 8 rows of a row-major A by three consecutive 16-column panels of
 *  B (bStride floats apart): the 8 x 48 tile; writes only those rows of C. */
typedef void (*WideMicroKernel)(int nrows, int64_t kc, const float *a,
                                int64_t lda, const float *b0, int64_t bStride,
                                float *c, int64_t ldc, int accumulate,
                                const TileEpilogue *te, const NextPanels *np);

static const char *kernelName;
static MicroKernel microKernel;
static WideMicroKernel wideMicroKernel;
static MicroKernel2 microKernel2;
static RowsMicroKernel2 rowsMicroKernel2;
static TailMicroKernel2 tailMicroKernel2;

/** Installs the best microkernels for this CPU allowed by `cap` (as
 *  LOOMRT_MAX_ISA: NULL or "avx512": any; "avx2": 256-bit; otherwise
 *  portable); microKernel last, as it marks the choice made. */
static void installKernels(const char *cap) {
  const char *name = "generic-6x16";
  MicroKernel one = microKernelGeneric;
  MicroKernel2 two = NULL;
  RowsMicroKernel2 rows2 = NULL;
  TailMicroKernel2 tail2 = NULL;
  WideMicroKernel wide = NULL;
#ifdef LOOMRT_HAVE_AVX2_KERNEL
  __builtin_cpu_init();
  if (loomrtIsaCap(cap) >= LOOMRT_ISA_256 && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma")) {
    name = "avx2-fma-6x16";
    one = microKernelAvx2;
    if (loomrtIsaCap(cap) >= LOOMRT_ISA_512 &&
        __builtin_cpu_supports("avx512f")) {
      name = "avx512-12x32";
      two = microKernelAvx512;
      rows2 = rowsMicroKernelAvx512;
      tail2 = tailMicroKernelAvx512;
      wide = wideMicroKernelAvx512;
    }
  }
#else
  (void)cap;
#endif
  kernelName = name;
  microKernel2 = two;
  rowsMicroKernel2 = rows2;
  tailMicroKernel2 = tail2;
  wideMicroKernel = wide;
  microKernel = one;
}

static MicroKernel getMicroKernel(void) {
  /* Benign race: every thread computes the same answer. */
  if (!microKernel)
    installKernels(getenv("LOOMRT_MAX_ISA"));
  return microKernel;
}

const char *loomrt_sgemm_set_max_isa(const char *isa) {
  installKernels(isa);
  return kernelName;
}

/** The unpacked-A microkernel matching getMicroKernel()'s choice. */
static RowsMicroKernel getRowsMicroKernel(void) {
#ifdef LOOMRT_HAVE_AVX2_KERNEL
  if (getMicroKernel() == microKernelAvx2)
    return rowsMicroKernelAvx2;
#endif
  return rowsMicroKernelGeneric;
}

/** Whether the AVX2 microkernel (and so AVX2 packing) is in use. */
static int haveAvx2(void) {
#ifdef LOOMRT_HAVE_AVX2_KERNEL
  return getMicroKernel() == microKernelAvx2;
#else
  return 0;
#endif
}

int loomrtHaveTiles(void) {
  getMicroKernel();
  return rowsMicroKernel2 && tailMicroKernel2;
}

void loomrtTile(int nrows, int64_t kc, const float *a, int64_t lda,
                const float *b0, const float *b1, float *c, int64_t ldc,
                int accumulate) {
  if (nrows == 2 * MR)
    rowsMicroKernel2(kc, a, lda, b0, b1, c, ldc, accumulate, NULL, NULL);
  else
    tailMicroKernel2(nrows, 0, kc, a, lda, b0, b1, c, ldc, accumulate, NULL,
                     NULL);
}

void loomrtTileMax(int64_t kc, const float *a, int64_t lda, const float *b0,
                   const float *b1, float *c, int64_t ldc, float *rowMax) {
#ifdef LOOMRT_HAVE_AVX2_KERNEL
  rowsMaxKernelAvx512(kc, a, lda, b0, b1, c, ldc, rowMax);
#else
  (void)kc, (void)a, (void)lda, (void)b0, (void)b1, (void)c, (void)ldc,
      (void)rowMax;
#endif
}

const char *loomrt_sgemm_kernel_name(void) {
  getMicroKernel();
  return kernelName;
}

/* -------------------------------------------------------------------------
 * Packing
 * ------------------------------------------------------------------------- */

/** Packs A[0:mc, 0:kc] (strides rs, cs) into MR-row panels, each kc x MR
 *  (row index fastest), zero-padding the last panel. */
static void packA(int64_t mc, int64_t kc, const float *a, int64_t rs,
                  int64_t cs, float *restrict dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    int64_t rows = mc - i0 < MR ? mc - i0 : MR;
    if (cs == 1) {
      for (int64_t i = 0; i < rows; ++i) {
        const float *src = a + (i0 + i) * rs;
        for (int64_t p = 0; p < kc; ++p)
          dst[p * MR + i] = src[p];
      }
    } else {
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t i = 0; i < rows; ++i)
          dst[p * MR + i] = a[(i0 + i) * rs + p * cs];
    }
    for (int64_t i = rows; i < MR; ++i)
      for (int64_t p = 0; p < kc; ++p)
        dst[p * MR + i] = 0.0f;
    dst += kc * MR;
  }
}

#ifdef LOOMRT_HAVE_AVX2_KERNEL
/** Packs one full NR-column panel of a column-major B (B[p, j] at
 *  b[p + j*cs]) with 8x8 register transposes: rows p0..p0+7 of columns
 *  j..j+7 become rows of the panel. Returns the rows packed (a multiple of
 *  8); the caller packs the rest. */
__attribute__((target("avx2"))) static int64_t
packPanelTransposedAvx2(int64_t kc, const float *b, int64_t cs,
                        float *restrict dst) {
  int64_t p0 = 0;
  for (; p0 + 8 <= kc; p0 += 8) {
    for (int half = 0; half < NR; half += 8)
      loomrtTranspose8x8Avx2(b + p0 + half * cs, cs, dst + p0 * NR + half, NR);
  }
  return p0;
}
#endif

/** Packs B[0:kc, 0:nc] (strides rs, cs) into NR-column panels, each kc x NR
 *  (column index fastest), zero-padding the last panel. */
static void packB(int64_t kc, int64_t nc, const float *b, int64_t rs,
                  int64_t cs, float *restrict dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    int64_t cols = nc - j0 < NR ? nc - j0 : NR;
    if (cs == 1 && cols == NR) {
      for (int64_t p = 0; p < kc; ++p)
        memcpy(dst + p * NR, b + p * rs + j0, NR * sizeof(float));
    } else if (cs == 1) {
      for (int64_t p = 0; p < kc; ++p) {
        int64_t j = 0;
        for (; j < cols; ++j)
          dst[p * NR + j] = b[p * rs + j0 + j];
        for (; j < NR; ++j)
          dst[p * NR + j] = 0.0f;
      }
    } else {
      /* Column-major (transposed) B reads each column contiguously. */
      int64_t done = 0;
#ifdef LOOMRT_HAVE_AVX2_KERNEL
      if (rs == 1 && cols == NR && haveAvx2())
        done = packPanelTransposedAvx2(kc, b + j0 * cs, cs, dst);
#endif
      for (int64_t j = 0; j < cols; ++j) {
        const float *src = b + (j0 + j) * cs;
        for (int64_t p = done; p < kc; ++p)
          dst[p * NR + j] = src[p * rs];
      }
      for (int64_t j = cols; j < NR; ++j)
        for (int64_t p = 0; p < kc; ++p)
          dst[p * NR + j] = 0.0f;
    }
    dst += kc * NR;
  }
}

int64_t loomrt_sgemm_packed_b_size(int64_t k, int64_t n) {
  return (n + NR - 1) / NR * NR * k;
}

void loomrt_sgemm_pack_b(int64_t k, int64_t n, const float *b, int64_t rs,
                         int64_t cs, float *dst) {
  packB(k, n, b, rs, cs, dst);
}

/* -------------------------------------------------------------------------
 * Per-thread packing buffers (grow-only, reused across calls)
 * ------------------------------------------------------------------------- */

static _Thread_local void *bufferA, *bufferB; /* buffer.h */
static _Thread_local size_t capacityA, capacityB;
/* -------------------------------------------------------------------------
 * Epilogues: C = act(A·B + bias) + residual, applied to each block of C
 * right after its last reduction step, while it is in L1
 * ------------------------------------------------------------------------- */

typedef struct {
  const float *bias; /* NULL: none */
  int64_t bias_bs, bias_rs, bias_cs;
  const float *res; /* NULL: none */
  int64_t res_bs, res_rs, res_cs;
  int act; /* LOOMRT_ACT_* */
} Epilogue;

typedef struct {
  int packedB; /* b is prepacked into full-k panels (LOOMRT_GEMM_PACKED_B) */
  int64_t m, n, k;
  const float *a;
  int64_t a_bs, a_rs, a_cs;
  const float *b;
  int64_t b_bs, b_rs, b_cs;
  float *c;
  int64_t c_bs, c_rs, c_cs;
  int accumulate;
  const Epilogue *ep; /* applied to C as its blocks complete, or NULL */
  /* Row blocks of C to normalize as they complete (m rows of n floats,
   * row-major: nm->x is c), or NULL. */
  const LoomrtNorm *nm;
} Problem;

/** x p(x^2) / q(x^2) with p = a[0..6], q = b[0..nb-1] (the scalar twin of
 *  rational512); branch-free, so that the row loops vectorize. */
static inline __attribute__((always_inline)) float
rational(float x, const float *a, const float *b, int nb) {
  float x2 = x * x;
  float p = a[6];
  for (int i = 5; i >= 0; --i)
    p = x2 * p + a[i];
  float q = b[nb - 1];
  for (int i = nb - 2; i >= 0; --i)
    q = x2 * q + b[i];
  return x * p / q;
}

static inline __attribute__((always_inline)) float erfApprox(float x) {
  x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
  return rational(x, kErfP, kErfQ, 5);
}

static inline __attribute__((always_inline)) float tanhApprox(float x) {
  x = x < -7.90531110763549805f
          ? -7.90531110763549805f
          : (x > 7.90531110763549805f ? 7.90531110763549805f : x);
  return rational(x, kTanhP, kTanhQ, 4);
}

static inline __attribute__((always_inline)) float activate(int act, float x) {
  switch (act) {
  case LOOMRT_ACT_GELU:
    return 0.5f * x * (1.0f + erfApprox(x * 0.70710678118654752f));
  case LOOMRT_ACT_GELU_TANH:
    return 0.5f * x *
           (1.0f +
            tanhApprox(0.79788456080286536f * (x + 0.044715f * x * x * x)));
  case LOOMRT_ACT_RELU:
    return x > 0.0f ? x : 0.0f;
  case LOOMRT_ACT_SILU:
    return x / (1.0f + expf(-x));
  default:
    return x;
  }
}

/** One contiguous row of C: c[j] = act(c[j] + bias[j * biasStep]) + res[j]
 *  (biasStep 1 or 0: one value for the row; bias and res may be NULL).
 *  One loop per step, each vectorizable. */
static inline __attribute__((always_inline)) void
epilogueRowBody(int64_t n, float *restrict c, const float *restrict bias,
                int biasStep, const float *restrict res, int act) {
  if (bias && biasStep)
    for (int64_t j = 0; j < n; ++j)
      c[j] += bias[j];
  else if (bias)
    for (int64_t j = 0; j < n; ++j)
      c[j] += *bias;
  if (act == LOOMRT_ACT_GELU)
    for (int64_t j = 0; j < n; ++j)
      c[j] = activate(LOOMRT_ACT_GELU, c[j]);
  else if (act == LOOMRT_ACT_GELU_TANH)
    for (int64_t j = 0; j < n; ++j)
      c[j] = activate(LOOMRT_ACT_GELU_TANH, c[j]);
  else if (act == LOOMRT_ACT_RELU)
    for (int64_t j = 0; j < n; ++j)
      c[j] = activate(LOOMRT_ACT_RELU, c[j]);
  else if (act != LOOMRT_ACT_NONE)
    for (int64_t j = 0; j < n; ++j)
      c[j] = activate(act, c[j]);
  if (res)
    for (int64_t j = 0; j < n; ++j)
      c[j] += res[j];
}

typedef void (*EpilogueRow)(int64_t n, float *c, const float *bias,
                            int biasStep, const float *res, int act);

static void epilogueRowGeneric(int64_t n, float *restrict c,
                               const float *restrict bias, int biasStep,
                               const float *restrict res, int act) {
  epilogueRowBody(n, c, bias, biasStep, res, act);
}

#ifdef LOOMRT_HAVE_AVX2_KERNEL
__attribute__((target("avx2,fma"))) static void
epilogueRowAvx2(int64_t n, float *restrict c, const float *restrict bias,
                int biasStep, const float *restrict res, int act) {
  epilogueRowBody(n, c, bias, biasStep, res, act);
}

__attribute__((target("avx512f"))) static void
epilogueRowAvx512(int64_t n, float *restrict c, const float *restrict bias,
                  int biasStep, const float *restrict res, int act) {
  epilogueRowBody(n, c, bias, biasStep, res, act);
}
#endif

/** The row epilogue for the microkernels in use. */
static EpilogueRow getEpilogueRow(void) {
#ifdef LOOMRT_HAVE_AVX2_KERNEL
  if (getMicroKernel() == microKernelAvx2)
    return microKernel2 ? epilogueRowAvx512 : epilogueRowAvx2;
#endif
  return epilogueRowGeneric;
}

/** Applies pr's epilogue to C[bi][m0:m1, n0:n1]. */
static void applyEpilogue(const Problem *pr, int64_t bi, int64_t m0, int64_t m1,
                          int64_t n0, int64_t n1) {
  const Epilogue *ep = pr->ep;
  if (!ep || m0 >= m1 || n0 >= n1)
    return;
  float *c = pr->c + bi * pr->c_bs;
  const float *bias = ep->bias ? ep->bias + bi * ep->bias_bs : NULL;
  const float *res = ep->res ? ep->res + bi * ep->res_bs : NULL;
  int rows = pr->c_cs == 1 && (!bias || ep->bias_cs == 1 || ep->bias_cs == 0) &&
             (!res || ep->res_cs == 1);
  EpilogueRow row = rows ? getEpilogueRow() : NULL;
  for (int64_t i = m0; i < m1; ++i) {
    const float *bi_ = bias ? bias + i * ep->bias_rs : NULL;
    const float *ri = res ? res + i * ep->res_rs : NULL;
    float *ci = c + i * pr->c_rs;
    if (row) {
      row(n1 - n0, ci + n0, bi_ ? bi_ + n0 * ep->bias_cs : NULL,
          (int)ep->bias_cs, ri ? ri + n0 : NULL, ep->act);
      continue;
    }
    for (int64_t j = n0; j < n1; ++j) {
      float x = ci[j * pr->c_cs];
      if (bi_)
        x += bi_[j * ep->bias_cs];
      x = activate(ep->act, x);
      if (ri)
        x += ri[j * ep->res_cs];
      ci[j * pr->c_cs] = x;
    }
  }
}

/* -------------------------------------------------------------------------
 * The blocked algorithm on one part of C
 * ------------------------------------------------------------------------- */

/** Writes (or adds) a computed MR x NR tile into the rows x cols corner of
 *  C at `c` (strides rs, cs). */
static void storeTile(const float *tile, int64_t rows, int64_t cols, float *c,
                      int64_t rs, int64_t cs, int accumulate) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      float *dst = c + i * rs + j * cs;
      *dst = accumulate ? *dst + tile[i * NR + j] : tile[i * NR + j];
    }
}

/** The reduction depth of the packed blocks: K split into near-equal parts
 *  of at most KC_MAX. */
static int64_t chooseKC(int64_t k) {
  int64_t parts = (k + KC_MAX - 1) / KC_MAX;
  return (k + parts - 1) / parts;
}

/** Computes C[batch bi][m0:m1, n0:n1] without packing: the fallback when
 *  the packing buffers cannot be allocated. */
static void computePartUnpacked(const Problem *pr, int64_t bi, int64_t m0,
                                int64_t m1, int64_t n0, int64_t n1) {
  const float *a = pr->a + bi * pr->a_bs;
  const float *b = pr->b + bi * pr->b_bs;
  float *c = pr->c + bi * pr->c_bs;
  for (int64_t i = m0; i < m1; ++i)
    for (int64_t j = n0; j < n1; ++j) {
      float sum = 0.0f;
      for (int64_t p = 0; p < pr->k; ++p)
        sum += a[i * pr->a_rs + p * pr->a_cs] *
               (pr->packedB ? b[j / NR * pr->k * NR + p * NR + j % NR]
                            : b[p * pr->b_rs + j * pr->b_cs]);
      float *dst = c + i * pr->c_rs + j * pr->c_cs;
      *dst = pr->accumulate ? *dst + sum : sum;
    }
  applyEpilogue(pr, bi, m0, m1, n0, n1);
}

/** A tile epilogue being placed on the tiles of one part of C. */
typedef struct {
  const TileEpilogue *base; /* at row 0, column 0; NULL: none */
  const Epilogue *ep;
  TileEpilogue at; /* the last tile's */
} TileEpilogueAt;

/** The tile epilogue for the tile at row i, column j, or NULL. */
static const TileEpilogue *tileEpilogue(TileEpilogueAt *t, int64_t i,
                                        int64_t j) {
  if (!t->base)
    return NULL;
  t->at = *t->base;
  if (t->at.bias)
    t->at.bias += i * t->ep->bias_rs + j * t->ep->bias_cs;
  if (t->at.res)
    t->at.res += i * t->ep->res_rs + j;
  return &t->at;
}

/** Before the last reduction step of the nrows x cols tile at row i,
 *  column j: prefetches the residual that its epilogue reads. The tiles walk
 * the residual in short row pieces that the hardware prefetchers do not
 *  foresee; fetched on demand, they cost more than a separate pass. */
static void tilePrefetch(const TileEpilogueAt *te, int64_t i, int64_t nrows,
                         int64_t j, int64_t cols) {
  if (!te->base || !te->base->res)
    return;
  const float *res = te->base->res + i * te->base->res_rs + j;
  for (int64_t r = 0; r < nrows; ++r)
    for (int64_t h = 0; h < cols; h += NR)
      __builtin_prefetch(res + r * te->base->res_rs + h);
}

/** Fills `base` with pr's epilogue for batch bi as the AVX-512 tiles apply
 *  it as they store, and returns 1, where C (row-major), the bias and the
 *  residual are contiguous along the columns (the bias may be one value per
 *  row) and the activation is one they have; returns 0 otherwise (none, or
 *  one for applyEpilogue). */
static int tileEpilogueBase(const Problem *pr, int64_t bi, TileEpilogue *base) {
  const Epilogue *ep = pr->ep;
  *base = (TileEpilogue){0};
  if (!ep || pr->c_cs != 1 || !tailMicroKernel2 ||
      (ep->bias && ep->bias_cs != 0 && ep->bias_cs != 1) ||
      (ep->res && ep->res_cs != 1) ||
      (ep->act != LOOMRT_ACT_NONE && ep->act != LOOMRT_ACT_RELU &&
       ep->act != LOOMRT_ACT_GELU && ep->act != LOOMRT_ACT_GELU_TANH))
    return 0;
  base->bias = ep->bias ? ep->bias + bi * ep->bias_bs : NULL;
  base->bias_rs = ep->bias_rs;
  base->bias_vec = ep->bias_cs == 1;
  base->res = ep->res ? ep->res + bi * ep->res_bs : NULL;
  base->res_rs = ep->res_rs;
  base->act = ep->act;
  return 1;
}

/** Computes C[batch bi][m0:m1, n0:n1]. Returns 0, or -1 (having computed
 *  nothing) if the packing buffers cannot be allocated. */
static int computePart(const Problem *pr, MicroKernel kernel, int64_t bi,
                       int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const float *a = pr->a + bi * pr->a_bs;
  const float *b = pr->b + bi * pr->b_bs;
  float *c = pr->c + bi * pr->c_bs;
  if (pr->k == 0) {
    if (!pr->accumulate)
      for (int64_t i = m0; i < m1; ++i)
        for (int64_t j = n0; j < n1; ++j)
          c[i * pr->c_rs + j * pr->c_cs] = 0.0f;
    applyEpilogue(pr, bi, m0, m1, n0, n1);
    return 0;
  }
  int64_t kcStep = chooseKC(pr->k);
  int64_t ncMax = n1 - n0 < NC ? n1 - n0 : NC;
  int64_t mcMax = m1 - m0 < MC ? m1 - m0 : MC;
  /* A row-major A multiplied into a few column panels is read in place:
   * packing it would cost as much as the product saves. The AVX-512 tiles
   * read any row-major A in place: twelve row streams from L2 run as fast
   * as a packed panel there, and packing cost 5-10% where every thread
   * packs the same rows (M = 128-512 split by columns, K = 3072). */
  int unpackedA = pr->a_cs == 1 &&
                  (n1 - n0 <= SMALL_N || (pr->c_cs == 1 && rowsMicroKernel2));
  /* Packing buffers for what is not read in place or prepacked. */
  float *packedB = NULL, *packedA = NULL;
  if (!pr->packedB &&
      !(packedB = loomrtReserve(&bufferB, &capacityB,
                                sizeof(float) * (size_t)kcStep *
                                    ((ncMax + NR - 1) / NR) * NR)))
    return -1;
  if (!unpackedA &&
      !(packedA = loomrtReserve(&bufferA, &capacityA,
                                sizeof(float) * (size_t)kcStep *
                                    ((mcMax + MR - 1) / MR) * MR)))
    return -1;
  /* Rows of A read in place whose stride is a multiple of 2 KiB (K = 3072:
   * 12 KiB) fall into one or two sets of the 12-way, 4 KiB-per-way L1: a
   * tile's twelve row streams then evict each other and the B panel at
   * every step (FFN down-projections ran at 260-310 instead of ~365
   * GFLOP/s). Each block of rows is copied (memcpy speed, ~2% of its
   * products) into a buffer with a stride that spreads them. */
  float *copiedA = NULL;
  int64_t copyStride = kcStep + 16;
  if (unpackedA && (pr->a_rs * (int64_t)sizeof(float)) % 2048 == 0 &&
      mcMax >= 2 * MR &&
      !(copiedA = loomrtReserve(&bufferA, &capacityA,
                                sizeof(float) * (size_t)copyStride * mcMax)))
    return -1;
  float tile[MR * NR] __attribute__((aligned(64)));
  RowsMicroKernel rowsKernel = getRowsMicroKernel();
  MicroKernel2 kernel2 = pr->c_cs != 1 ? NULL : microKernel2;
  RowsMicroKernel2 rowsKernel2 = pr->c_cs != 1 ? NULL : rowsMicroKernel2;
  TailMicroKernel2 tailKernel2 = pr->c_cs != 1 ? NULL : tailMicroKernel2;
  /* The AVX-512 tiles apply the epilogue with vector code where they can. */
  TileEpilogue base;
  int inRegisters = tileEpilogueBase(pr, bi, &base);
  for (int64_t jc = n0; jc < n1; jc += NC) {
    int64_t nc = n1 - jc < NC ? n1 - jc : NC;
    for (int64_t pc = 0; pc < pr->k; pc += kcStep) {
      int64_t kc = pr->k - pc < kcStep ? pr->k - pc : kcStep;
      int accumulate = pc > 0 || pr->accumulate;
      /* The last reduction step: each tile's epilogue runs as the tile is
       * stored (AVX-512) or right after, while it is in L1. */
      int last = pc + kc >= pr->k;
      TileEpilogueAt te = {last && inRegisters ? &base : NULL, pr->ep, {0}};
      if (!pr->packedB)
        packB(kc, nc, b + pc * pr->b_rs + jc * pr->b_cs, pr->b_rs, pr->b_cs,
              packedB);
      for (int64_t ic = m0; ic < m1; ic += MC) {
        int64_t mc = m1 - ic < MC ? m1 - ic : MC;
        /* Row r of this block of A (from column pc) at aBlock + r * aStride. */
        const float *aBlock = a + ic * pr->a_rs + pc;
        int64_t aStride = pr->a_rs;
        if (copiedA) {
          for (int64_t r = 0; r < mc; ++r)
            memcpy(copiedA + r * copyStride, aBlock + r * pr->a_rs,
                   sizeof(float) * (size_t)kc);
          aBlock = copiedA;
          aStride = copyStride;
        }
        if (!unpackedA)
          packA(mc, kc, a + ic * pr->a_rs + pc * pr->a_cs, pr->a_rs, pr->a_cs,
                packedA);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          /* Prepacked panels span all of k: panel (jc + jr) / NR, row pc. */
          const float *bps[2];
          for (int h = 0; h < 2; ++h)
            bps[h] = pr->packedB
                         ? b + (jc + jr + h * NR) / NR * pr->k * NR + pc * NR
                         : packedB + (jr + h * NR) * kc;
          /* This panel and the next are full: 12 x 32 tiles where A has
           * 12 rows left. */
          int pair = (unpackedA ? rowsKernel2 != NULL : kernel2 != NULL) &&
                     nc - jr >= 2 * NR;
          /* The next pair of prepacked panels, fetched by this pair's
           * later tiles. */
          const float *next[2] = {NULL, NULL};
          if (pr->packedB && pair && jr + 2 * NR < nc) {
            next[0] = b + (jc + jr + 2 * NR) / NR * pr->k * NR + pc * NR;
            next[1] = jr + 3 * NR < nc ? next[0] + pr->k * NR : next[0];
          }
          int64_t tiles = (mc + 2 * MR - 1) / (2 * MR);
          NextPanels np;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const NextPanels *pf = nextPanels(&np, next[0], next[1], NULL, kc,
                                              ir / (2 * MR), tiles);
            if (pair && mc - ir >= 2 * MR) {
              float *ct = c + (ic + ir) * pr->c_rs + (jc + jr);
              if (last)
                tilePrefetch(&te, ic + ir, 2 * MR, jc + jr, 2 * NR);
              if (unpackedA) {
                rowsKernel2(kc, aBlock + ir * aStride, aStride, bps[0], bps[1],
                            ct, pr->c_rs, accumulate,
                            tileEpilogue(&te, ic + ir, jc + jr), pf);
              } else {
                kernel2(kc, packedA + ir * kc, packedA + (ir + MR) * kc, bps[0],
                        bps[1], ct, pr->c_rs, accumulate,
                        tileEpilogue(&te, ic + ir, jc + jr), pf);
              }
              if (last && !te.base)
                applyEpilogue(pr, bi, ic + ir, ic + ir + 2 * MR, jc + jr,
                              jc + jr + 2 * NR);
              ir += MR;
              continue;
            }
            if (pair && tailKernel2) {
              /* The last 1-11 rows: one tail tile over both panels. */
              int nrows = (int)(mc - ir);
              if (last)
                tilePrefetch(&te, ic + ir, nrows, jc + jr, 2 * NR);
              tailKernel2(nrows, !unpackedA, kc,
                          unpackedA ? aBlock + ir * aStride : packedA + ir * kc,
                          aStride, bps[0], bps[1],
                          c + (ic + ir) * pr->c_rs + (jc + jr), pr->c_rs,
                          accumulate, tileEpilogue(&te, ic + ir, jc + jr), pf);
              if (last && !te.base)
                applyEpilogue(pr, bi, ic + ir, ic + mc, jc + jr,
                              jc + jr + 2 * NR);
              break;
            }
            for (int h = 0; h <= pair; ++h) {
              int64_t j = jr + h * NR;
              int64_t cols = nc - j < NR ? nc - j : NR;
              const float *bp = bps[h];
              int64_t rows = mc - ir < MR ? mc - ir : MR;
              const float *ap = unpackedA ? NULL : packedA + ir * kc;
              const float *rowPtrs[MR];
              if (unpackedA)
                for (int i = 0; i < MR; ++i) /* Rows past m repeat the last. */
                  rowPtrs[i] =
                      aBlock + (ir + (i < rows ? i : rows - 1)) * aStride;
              float *ct = c + (ic + ir) * pr->c_rs + (jc + j) * pr->c_cs;
              int direct = rows == MR && cols == NR && pr->c_cs == 1;
              float *dst = direct ? ct : tile;
              int64_t ldc = direct ? pr->c_rs : NR;
              int acc = direct ? accumulate : 0;
              if (unpackedA)
                rowsKernel(kc, rowPtrs, bp, dst, ldc, acc);
              else
                kernel(kc, ap, bp, dst, ldc, acc);
              if (!direct)
                storeTile(tile, rows, cols, ct, pr->c_rs, pr->c_cs, accumulate);
              if (last)
                applyEpilogue(pr, bi, ic + ir, ic + ir + rows, jc + j,
                              jc + j + cols);
            }
          }
          jr += pair ? NR : 0;
        }
      }
    }
  }
  return 0;
}

/** computePart, or where its packing buffers cannot be allocated, the same
 *  block without packing. */
static void computeBlock(const Problem *pr, MicroKernel kernel, int64_t bi,
                         int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (computePart(pr, kernel, bi, m0, m1, n0, n1))
    computePartUnpacked(pr, bi, m0, m1, n0, n1);
}

/** acc[0, panels * NR) = a · B over k for `panels` consecutive prepacked
 *  panels of B (each k x NR, `stride` floats apart): four panels at a
 *  time, one vector accumulator each, B prefetched 64 steps ahead. */
typedef void (*RowPanels)(int64_t k, const float *a, int64_t a_cs,
                          const float *b, int64_t stride, int64_t panels,
                          float *acc);

#ifdef LOOMRT_HAVE_AVX2_KERNEL
/** The body of rowPanelsAvx512 and rowPanelsAvx2 on their group code GROUP:
 *  groups of four panels, then the last one to three as one group. */
#define LOOMRT_ROW_PANELS(GROUP)                                               \
  do {                                                                         \
    int64_t q = 0;                                                             \
    for (; q + 4 <= panels; q += 4)                                            \
      GROUP(4, k, a, a_cs, b + q * stride, stride, acc + q * NR);              \
    switch (panels - q) {                                                      \
    case 3:                                                                    \
      GROUP(3, k, a, a_cs, b + q * stride, stride, acc + q * NR);              \
      break;                                                                   \
    case 2:                                                                    \
      GROUP(2, k, a, a_cs, b + q * stride, stride, acc + q * NR);              \
      break;                                                                   \
    case 1:                                                                    \
      GROUP(1, k, a, a_cs, b + q * stride, stride, acc + q * NR);              \
      break;                                                                   \
    default:                                                                   \
      break;                                                                   \
    }                                                                          \
  } while (0)

/** `count` (1 to 4) panels of rowPanelsAvx512, one accumulator each. */
static inline __attribute__((always_inline, target("avx512f"))) void
rowPanelGroup(int count, int64_t k, const float *a, int64_t a_cs,
              const float *b, int64_t stride, float *acc) {
  __m512 c[4];
  for (int h = 0; h < count; ++h)
    c[h] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    __m512 x = _mm512_set1_ps(a[p * a_cs]);
    for (int h = 0; h < count; ++h) {
      _mm_prefetch((const char *)(b + h * stride + (p + 64) * NR), _MM_HINT_T0);
      c[h] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b + h * stride + p * NR), c[h]);
    }
  }
  for (int h = 0; h < count; ++h)
    _mm512_storeu_ps(acc + h * NR, c[h]);
}

/** Every column is summed over k in order, one FMA per step, as the tiles
 *  do, so the result does not depend on which group a panel falls in (the
 *  thread count). */
__attribute__((target("avx512f"))) static void
rowPanelsAvx512(int64_t k, const float *a, int64_t a_cs, const float *b,
                int64_t stride, int64_t panels, float *acc) {
  LOOMRT_ROW_PANELS(rowPanelGroup);
}

/** rowPanelGroup with 8-float vectors (two per panel). */
static inline __attribute__((always_inline, target("avx2,fma"))) void
rowPanelGroupAvx2(int count, int64_t k, const float *a, int64_t a_cs,
                  const float *b, int64_t stride, float *acc) {
  __m256 c[4][2];
  for (int h = 0; h < count; ++h)
    c[h][0] = c[h][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    __m256 x = _mm256_set1_ps(a[p * a_cs]);
    for (int h = 0; h < count; ++h) {
      const float *bp = b + h * stride + p * NR;
      _mm_prefetch((const char *)(bp + 64 * NR), _MM_HINT_T0);
      c[h][0] = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp), c[h][0]);
      c[h][1] = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 8), c[h][1]);
    }
  }
  for (int h = 0; h < count; ++h) {
    _mm256_storeu_ps(acc + h * NR, c[h][0]);
    _mm256_storeu_ps(acc + h * NR + 8, c[h][1]);
  }
}

/** rowPanelsAvx512 with AVX2 + FMA. */
__attribute__((target("avx2,fma"))) static void
rowPanelsAvx2(int64_t k, const float *a, int64_t a_cs, const float *b,
              int64_t stride, int64_t panels, float *acc) {
  LOOMRT_ROW_PANELS(rowPanelGroupAvx2);
}
#undef LOOMRT_ROW_PANELS
#endif

/** rowPanelsAvx512 or rowPanelsAvx2, matching the tiles in use; NULL with
 *  the portable ones (the caller's portable loop). */
static RowPanels getRowPanels(void) {
#ifdef LOOMRT_HAVE_AVX2_KERNEL
  if (getMicroKernel() == microKernelAvx2)
    return microKernel2 ? rowPanelsAvx512 : rowPanelsAvx2;
#endif
  return NULL;
}

/** C[bi][0, n0:n1] (+)= A[bi][0, :] · B[bi][:, n0:n1]: a single row (a
 *  decoding step's projection) needs no packing and no register tile; it
 *  streams B once, which bounds its speed. n0 is a multiple of NR. */
static void computeRow(const Problem *pr, int64_t bi, int64_t n0, int64_t n1) {
  enum { CHUNK = 256 };
  const float *a = pr->a + bi * pr->a_bs;
  const float *b = pr->b + bi * pr->b_bs;
  float *c = pr->c + bi * pr->c_bs;
  _Static_assert(CHUNK % NR == 0, "the vector code writes whole panels");
  float acc[CHUNK];
  RowPanels rowPanels = pr->packedB ? getRowPanels() : NULL;
  for (int64_t j0 = n0; j0 < n1; j0 += CHUNK) {
    int64_t w = n1 - j0 < CHUNK ? n1 - j0 : CHUNK;
    if (rowPanels) {
      /* Whole panels, each written over (the packed ones are zero-padded
       * at the end of n). */
      rowPanels(pr->k, a, pr->a_cs, b + j0 / NR * pr->k * NR, pr->k * NR,
                (w + NR - 1) / NR, acc);
    } else if (pr->packedB) {
      /* Panels of NR columns over all of k. */
      memset(acc, 0, sizeof(acc));
      for (int64_t q = 0; q < w; q += NR) {
        const float *panel = b + (j0 + q) / NR * pr->k * NR;
        float *dst = acc + q;
        for (int64_t p = 0; p < pr->k; ++p) {
          float ap = a[p * pr->a_cs];
          for (int j = 0; j < NR; ++j)
            dst[j] += ap * panel[p * NR + j];
        }
      }
    } else if (pr->b_cs == 1) {
      memset(acc, 0, sizeof(acc));
      for (int64_t p = 0; p < pr->k; ++p) {
        float ap = a[p * pr->a_cs];
        const float *row = b + p * pr->b_rs + j0;
        for (int64_t j = 0; j < w; ++j)
          acc[j] += ap * row[j];
      }
    } else {
      for (int64_t j = 0; j < w; ++j) {
        const float *col = b + (j0 + j) * pr->b_cs;
        float sum = 0.0f;
        for (int64_t p = 0; p < pr->k; ++p)
          sum += a[p * pr->a_cs] * col[p * pr->b_rs];
        acc[j] = sum;
      }
    }
    for (int64_t j = 0; j < w; ++j) {
      float *dst = c + (j0 + j) * pr->c_cs;
      *dst = pr->accumulate ? *dst + acc[j] : acc[j];
    }
    applyEpilogue(pr, bi, 0, 1, j0, j0 + w);
  }
}

/* -------------------------------------------------------------------------
 * Threads sharing a short product by column slots
 * ------------------------------------------------------------------------- */

#if defined(LOOMRT_KERNELS_OPENMP) && defined(LOOMRT_HAVE_AVX2_KERNEL)
/** The slot scheduler's done flags (the calling thread's buffer). */
static _Thread_local void *bufferSlots;
static _Thread_local size_t capacitySlots;

/** The rows of the tile at row `rest` rows before the end of a block, on
 *  tiles of `tileRows` (12 or 8) rows: tileRows, except that between one
 *  and two tiles' rows left are two tiles of about equal height (16 rows
 *  of 12-row tiles as 8 + 8, not 12 + 4): a tile of 4 or fewer rows keeps too
 * few accumulators in flight to hide the FMA latency and reloads B for little
 *  work (BERT at 64 tokens spent 9.5% of its tile time on its 4-row tails,
 *  for 6% of the rows). */
static int slotTileRows(int64_t rest, int tileRows) {
  if (rest > tileRows && rest < 2 * tileRows)
    return (int)((rest + 1) / 2);
  return rest < tileRows ? (int)rest : tileRows;
}

enum {
  WIDE_ROWS = 8,  /* rows of the 8 x 48 tile */
  WIDE_COLS = 48, /* its columns: three panels */
};

/** Whether the slot and half schedulers take C in 48-column units on
 *  8 x 48 tiles rather than 32-column units on 12 x 32 tiles: where the
 *  CPU has them and the 48-column units cover all of C. */
static int wideUnits(const Problem *pr) {
  return wideMicroKernel && pr->n % WIDE_COLS == 0;
}

/** The columns of a scheduler's unit, and the rows of its tiles: 48 and 8
 *  on 48-column units (`wide`), else 32 and 12. */
static int64_t unitCols(int wide) { return wide ? WIDE_COLS : 2 * NR; }
static int unitTileRows(int wide) { return wide ? WIDE_ROWS : 2 * MR; }

/** Whether A's rows are a multiple of 2 KiB apart, so that a tile's row
 *  streams fall into one or two sets of the 12-way, 4 KiB-per-way L1. On
 *  12-row tiles they then evict each other and the B panels at every step,
 *  and computePart copies A's blocks to a spread stride; the 8 x 48 tile's
 *  eight rows fit in a set's ways beside B's lines, and read A in place: a
 *  BERT layer's FFN down-projection (K = 3072, rows 12 KiB apart) on the
 *  schedulers' 48-column units ran 2% (M = 512) and 3.7% (M = 128) faster
 *  than on computePart's copied blocks and 12 x 32 tiles (C harness,
 *  medians of 6 and 8 alternating runs). */
static int rowsCollide(const Problem *pr) {
  return (pr->a_rs * (int64_t)sizeof(float)) % 2048 == 0;
}

/** Rows [r0, r1) of C[:, j:j+w] (+)= A[r0:r1, pc:pc+kc] ·
 *  B[pc:pc+kc, j:j+w] on 12 x 32 tiles (w = 32) or, with `wide`, 8 x 48
 *  tiles (w = 48), the last two balanced (slotTileRows); A row-major, read
 *  in place; B prepacked. `last`: the product's last reduction step, where
 *  the epilogue is applied (in registers when `base` is set). The tiles
 *  after the first prefetch `next` (the panels of the thread's next unit
 *  at its reduction step; NULL: none). */
static void computeSlot(const Problem *pr, int64_t r0, int64_t r1, int64_t j,
                        int64_t pc, int64_t kc, int accumulate, int last,
                        const TileEpilogue *base, const float *next, int wide) {
  int64_t bStride = pr->k * NR;
  const float *b0 = pr->b + j / NR * bStride + pc * NR;
  const float *b1 = b0 + bStride;
  int tileRows = unitTileRows(wide);
  int64_t cols = unitCols(wide);
  TileEpilogueAt te = {last ? base : NULL, pr->ep, {0}};
  /* Balancing the last two tiles does not change their count. */
  int64_t tiles = (r1 - r0 + tileRows - 1) / tileRows;
  NextPanels np;
  int nrows;
  for (int64_t ir = r0, t = 0; ir < r1; ir += nrows, ++t) {
    nrows = slotTileRows(r1 - ir, tileRows);
    const float *at = pr->a + ir * pr->a_rs + pc;
    const NextPanels *pf =
        nextPanels(&np, next, next ? next + bStride : NULL,
                   next && wide ? next + 2 * bStride : NULL, kc, t, tiles);
    float *ct = pr->c + ir * pr->c_rs + j;
    if (last)
      tilePrefetch(&te, ir, nrows, j, cols);
    if (wide)
      wideMicroKernel(nrows, kc, at, pr->a_rs, b0, bStride, ct, pr->c_rs,
                      accumulate, tileEpilogue(&te, ir, j), pf);
    else if (nrows == 2 * MR)
      rowsMicroKernel2(kc, at, pr->a_rs, b0, b1, ct, pr->c_rs, accumulate,
                       tileEpilogue(&te, ir, j), pf);
    else
      tailMicroKernel2(nrows, 0, kc, at, pr->a_rs, b0, b1, ct, pr->c_rs,
                       accumulate, tileEpilogue(&te, ir, j), pf);
    if (last && !te.base)
      applyEpilogue(pr, 0, ir, ir + nrows, j, j + cols);
  }
}

/** Computes an unbatched product of at most SLOT_ROWS rows by weights on
 *  `threads` threads that take it in units of (reduction step, 32- or
 *  48-column slot: wideUnits), in that order, from a shared counter,
 *  rather than one fixed half each: on the 2-vCPU VM one thread at times
 *  runs 10-17% slower than the other for seconds on end (the host's other
 *  load), and with fixed halves the faster one then waited at every
 *  product's end. A unit after the first reduction step waits (rarely,
 *  briefly) for its slot's previous step. Each thread keeps all of A (at
 *  most SLOT_ROWS x KC_MAX floats, 384 KiB) in its L2 across its slots, as
 *  the fixed halves did. Returns 0, having done nothing, where it does not
 *  apply: prepacked B, row-major A (whose rows may collide in L1 only on
 *  48-column slots: rowsCollide), row-major C, the AVX-512 tiles, 12 to
 *  SLOT_ROWS rows, at least 4 slots per thread. */
static int sgemmSlots(const Problem *pr, MicroKernel kernel, int64_t threads) {
  enum { SLOT_ROWS = 192 };
  int64_t m = pr->m, n = pr->n, k = pr->k;
  int wide = wideUnits(pr) && n / WIDE_COLS >= 4 * threads;
  if (threads < 2 || !pr->packedB || pr->a_cs != 1 || pr->c_cs != 1 ||
      (rowsCollide(pr) && !wide) || !rowsMicroKernel2 || !tailMicroKernel2 ||
      m < 2 * MR || m > SLOT_ROWS || k == 0 || n / (2 * NR) < 4 * threads)
    return 0;
  int64_t width = unitCols(wide);
  int64_t kcStep = chooseKC(k);
  int64_t steps = (k + kcStep - 1) / kcStep;
  int64_t slots = (n + width - 1) / width, fullSlots = n / width;
  int64_t units = steps * slots;
  int *done =
      loomrtReserve(&bufferSlots, &capacitySlots, (size_t)units * sizeof(int));
  if (!done)
    return 0;
  memset(done, 0, (size_t)units * sizeof(int));

  TileEpilogue base;
  int inRegisters = tileEpilogueBase(pr, 0, &base);

  int64_t counter = 0;
#pragma omp parallel num_threads(threads)
  {
    /* Each thread reserves its next unit as it starts one, so that the
     * current unit's tiles can prefetch the next one's panels. */
    int64_t u = loomrtTakeItem(&counter);
    while (u < units) {
      int64_t after = loomrtTakeItem(&counter);
      int64_t step = u / slots, slot = u % slots, j = slot * width;
      int64_t pc = step * kcStep;
      int64_t kc = k - pc < kcStep ? k - pc : kcStep;
      if (slot >= fullSlots) {
        /* The last, partial slot: all of k at once, at the first step. */
        if (step == 0)
          computeBlock(pr, kernel, 0, 0, m, j, n);
      } else {
        if (step > 0)
          while (!__atomic_load_n(&done[u - slots], __ATOMIC_ACQUIRE))
            _mm_pause();
        const float *next = NULL;
        if (after < units && after % slots < fullSlots)
          next = pr->b + after % slots * width * pr->k +
                 after / slots * kcStep * NR;
        computeSlot(pr, 0, m, j, pc, kc, pc > 0 || pr->accumulate, pc + kc >= k,
                    inRegisters ? &base : NULL, next, wide);
      }
      __atomic_store_n(&done[u], 1, __ATOMIC_RELEASE);
      u = after;
    }
  }
  return 1;
}
#endif

/* -------------------------------------------------------------------------
 * Two threads on row halves, stealing from each other's end
 * ------------------------------------------------------------------------- */

#if defined(LOOMRT_KERNELS_OPENMP) && defined(LOOMRT_HAVE_AVX2_KERNEL)
/** Counts one completed unit of the row block [r0, r1) of C (its `done`
 *  counter, out of `units`): the thread that completes the block
 *  normalizes its rows (pr->nm), having acquired the other thread's writes
 *  to them. */
static void completeNormUnit(const Problem *pr, int *done, int64_t units,
                             int64_t r0, int64_t r1) {
  if (__atomic_add_fetch(done, 1, __ATOMIC_ACQ_REL) == units)
    loomrtNormRows(pr->nm, r0, r1);
}

/** Computes an unbatched product of more than 192 rows by prepacked weights
 *  on two threads, each on its half of the rows as the fixed parts do (both
 *  sweep the same weight panels at the same time, so one fetch from memory
 *  serves both), in units of (block of MC rows, or all of a half of up to
 *  144 rows, or 288 in wide products, and a 32-column pair) taken from the
 *  front of its own half; a thread that runs out takes units from the back
 *  of the other half. With a 20% load on one core, BERT-512's layer
 *  products ran in 22.4 instead of 24.1 ms, unloaded in 19.7 instead of
 *  20.35. A deeper k (an FFN's
 *  down-projection, K = 3072) is taken in reduction steps of at most
 *  KC_MAX, each step's units shared in the same way and the two threads
 *  meeting at a barrier between steps (a unit accumulates onto the previous
 *  step's result); the fixed halves of computePart left the faster thread
 *  waiting for the slower one's whole half. Columns past the last full
 *  pair (an LM head's vocabulary) are computed by computePart, each thread
 *  for its half, before the first step. Returns 0, having done nothing,
 *  where it does not apply: two threads, prepacked B, row-major A (whose
 *  rows may collide in L1 only on 48-column units: rowsCollide) and C, the
 *  AVX-512 tiles, n at least 32. */
static int sgemmHalves(const Problem *pr, MicroKernel kernel, int64_t threads) {
  int64_t m = pr->m, n = pr->n, k = pr->k;
  if (threads != 2 || !pr->packedB || pr->a_cs != 1 || pr->c_cs != 1 ||
      (rowsCollide(pr) && !wideUnits(pr)) || !rowsMicroKernel2 ||
      !tailMicroKernel2 || m <= 192 || k == 0 || n < 2 * NR ||
      m > INT32_MAX / MR)
    return 0;
  enum { MAX_STEPS = 16 };
  int64_t kcStep = chooseKC(k);
  int64_t steps = (k + kcStep - 1) / kcStep;
  if (steps > MAX_STEPS)
    return 0;
  /* Units 48 columns wide on 8 x 48 tiles where they cover all of C, else
   * 32 on 12 x 32 tiles. */
  int wide = wideUnits(pr);
  int64_t width = unitCols(wide);
  int64_t tileRows = unitTileRows(wide);
  int64_t half = ((m + 1) / 2 + tileRows - 1) / tileRows * tileRows;
  /* Full units of columns (`pairs`, of 32 or 48); the columns past them (an
   * LM head's vocabulary) are computed by computePart, each thread for its
   * half. */
  int64_t pairs = n / width, rest = pairs * width;
  int64_t first[2] = {0, half}, end[2] = {half, m};
  /* A half of at most 144 rows is one block (its A, up to 144 x 768 floats
   * or 432 KiB, stays in L2), so that B is swept once, not for a block of
   * 96 rows and again for the rest: with weights cold in cache, M = 256
   * products by weights ran 1-4% faster, GPT-2's LM head 3-5%. So is a
   * half of up to 288 rows of a wide product (at least WIDE_PAIRS pairs,
   * N >= 2048: attention's fused QKV, an FFN's up-projection), whose B is
   * otherwise swept three times (BERT-512: blocks of 96, 96 and 72 rows):
   * the products of a BERT layer at M = 384, 512 and 576 ran 1.2-1.9%
   * faster (its FFN up-projection 2.3%), and with 64 units or more per half
   * the threads still end within a unit of each other. Other halves keep
   * blocks of MC rows: one block was 2.7% slower where N = 768 (24 larger
   * units per half to share at the end), as 132-row blocks were 1-2%. */
  enum { BLOCK_ROWS = 144, WIDE_N = 2048 };
  /* The last SPLIT_PAIRS pairs of a half's last block are two units each
   * (the block's rows in two), so that the threads, which take these last
   * and steal from each other's back, end within half a unit of each
   * other: a whole unit of a wide half is 264 rows x 32 columns (~65 us at
   * K = 768). */
  enum { SPLIT_PAIRS = 4 };
  int64_t blockRows[2], blocks[2], split[2];
  /* Each step's and half's units, front (low 32 bits) to back (high 32
   * bits). */
  uint64_t range[MAX_STEPS][2];
  for (int t = 0; t < 2; ++t) {
    int64_t rows = end[t] - first[t];
    int oneBlock =
        rows <= BLOCK_ROWS || (rest >= WIDE_N && rows <= 2 * BLOCK_ROWS);
    blockRows[t] = oneBlock ? rows : MC;
    blocks[t] = rows > 0 ? (rows + blockRows[t] - 1) / blockRows[t] : 0;
    int64_t lastRows = rows - (blocks[t] - 1) * blockRows[t];
    /* Where the last block has two tiles of rows to share. */
    split[t] = blocks[t] > 0 && lastRows >= 2 * tileRows
                   ? (pairs < SPLIT_PAIRS ? pairs : SPLIT_PAIRS)
                   : 0;
    uint64_t units = (uint64_t)(blocks[t] * pairs + split[t]);
    if (units > UINT32_MAX)
      return 0;
    for (int64_t step = 0; step < steps; ++step)
      range[step][t] = units << 32;
  }
  /* With a norm: each block's completed units at the last step (plus its
   * columns past the last pair, counted as one unit); the thread that
   * completes a block normalizes its rows while they are in its cache. A
   * last block's count starts below 0 by its split pairs, each of which is
   * two units. */
  enum { MAX_NORM_BLOCKS = 64 };
  int doneUnits[2][MAX_NORM_BLOCKS];
  int64_t blockUnits = pairs + (rest < n ? 1 : 0);
  if (pr->nm) {
    for (int t = 0; t < 2; ++t)
      if (blocks[t] > MAX_NORM_BLOCKS)
        return 0;
    memset(doneUnits, 0, sizeof(doneUnits));
    for (int t = 0; t < 2; ++t)
      if (blocks[t] > 0)
        doneUnits[t][blocks[t] - 1] = -(int)split[t];
  }
  TileEpilogue base;
  int inRegisters = tileEpilogueBase(pr, 0, &base);
#pragma omp parallel num_threads(2)
  {
    int me = omp_get_thread_num() & 1;
    /* All of k at once, before the first barrier: nothing else writes these
     * columns. */
    if (rest < n && first[me] < end[me]) {
      computeBlock(pr, kernel, 0, first[me], end[me], rest, n);
      if (pr->nm)
        for (int64_t r0 = first[me]; r0 < end[me]; r0 += blockRows[me])
          completeNormUnit(
              pr, &doneUnits[me][(r0 - first[me]) / blockRows[me]], blockUnits,
              r0, r0 + blockRows[me] < end[me] ? r0 + blockRows[me] : end[me]);
    }
    for (int64_t step = 0; step < steps; ++step) {
      int64_t pc = step * kcStep;
      int64_t kc = k - pc < kcStep ? k - pc : kcStep;
      /* Every unit of the previous step is done (a unit here adds to it). */
      if (step > 0) {
#pragma omp barrier
      }
      for (;;) {
        int64_t owner;
        int64_t u = loomrtTakeOwnFirst(range[step], 2, me, &owner);
        if (u < 0)
          break;
        /* Whole units first, then the last block's split pairs in halves. */
        int64_t whole = blocks[owner] * pairs - split[owner];
        int64_t blk = u < whole ? u / pairs : blocks[owner] - 1;
        int64_t pair = u < whole ? u % pairs : whole % pairs + (u - whole) / 2;
        int64_t b0 = first[owner] + blk * blockRows[owner];
        int64_t b1 = b0 + blockRows[owner] < end[owner] ? b0 + blockRows[owner]
                                                        : end[owner];
        int64_t r0 = b0, r1 = b1;
        if (u >= whole) {
          /* Halves of whole tiles. */
          int64_t mid =
              b0 + ((b1 - b0) / 2 + tileRows / 2) / tileRows * tileRows;
          if ((u - whole) % 2)
            r0 = mid;
          else
            r1 = mid;
        }
        const float *next =
            pair + 1 < pairs ? pr->b + (pair + 1) * width * k + pc * NR : NULL;
        computeSlot(pr, r0, r1, pair * width, pc, kc, pc > 0 || pr->accumulate,
                    pc + kc >= k, inRegisters ? &base : NULL, next, wide);
        if (pr->nm && pc + kc >= k)
          completeNormUnit(pr, &doneUnits[owner][blk], blockUnits, b0, b1);
      }
    }
  }
  return 1;
}
#endif

/* -------------------------------------------------------------------------
 * Entry point
 * ------------------------------------------------------------------------- */

/** loomrt_sgemm_f32 with an optional epilogue. With `nm` (a norm of C's
 *  rows: nm->x is c, nm->x_rs is c_rs), normalizes C's row blocks as they
 *  complete where it can and returns 1; returns 0 where it has not (the
 *  caller then normalizes C). */
static int sgemm(int64_t batch, int64_t m, int64_t n, int64_t k, const float *a,
                 int64_t a_bs, int64_t a_rs, int64_t a_cs, const float *b,
                 int64_t b_bs, int64_t b_rs, int64_t b_cs, float *c,
                 int64_t c_bs, int64_t c_rs, int64_t c_cs, int64_t flags,
                 const Epilogue *ep, const LoomrtNorm *nm) {
  if (batch <= 0 || m <= 0 || n <= 0)
    return 0;
  /* A batch over which B is shared and A and C rows continue is more rows:
   * B is then packed once. */
  if (batch > 1 && b_bs == 0 && a_bs == m * a_rs && c_bs == m * c_rs &&
      (!ep || ((!ep->bias || ep->bias_bs == m * ep->bias_rs) &&
               (!ep->res || ep->res_bs == m * ep->res_rs)))) {
    m *= batch;
    batch = 1;
  }
  Problem pr = {(flags & LOOMRT_GEMM_PACKED_B) != 0,
                m,
                n,
                k,
                a,
                a_bs,
                a_rs,
                a_cs,
                b,
                b_bs,
                b_rs,
                b_cs,
                c,
                c_bs,
                c_rs,
                c_cs,
                (flags & LOOMRT_GEMM_ACCUMULATE) != 0,
                ep,
                nm && batch == 1 && c_cs == 1 && m == nm->rows && n == nm->cols
                    ? nm
                    : NULL};
  MicroKernel kernel = getMicroKernel();

  /* Parts per matrix: enough for every thread when the batch is small;
   * split the longer of M (in MR rows) and N (in NR columns). */
  int64_t threads = 1;
#ifdef LOOMRT_KERNELS_OPENMP
  double flops = 2.0 * (double)batch * (double)m * (double)n * (double)k;
  if (!omp_in_parallel() && flops >= 1e6)
    threads = omp_get_max_threads();
#endif
  int64_t parts = batch >= threads ? 1 : (threads + batch - 1) / batch;
  int splitM = (m + MR - 1) / MR >= (n + NR - 1) / NR;
  int64_t units = splitM ? (m + MR - 1) / MR : (n + NR - 1) / NR;
  if (parts > units)
    parts = units;
  int64_t unitsPerPart = (units + parts - 1) / parts;
  int64_t items = batch * parts;
#if defined(LOOMRT_KERNELS_OPENMP) && defined(LOOMRT_HAVE_AVX2_KERNEL)
  if (batch == 1 && sgemmSlots(&pr, kernel, threads))
    return 0;
  if (batch == 1 && sgemmHalves(&pr, kernel, threads))
    return pr.nm != NULL;
#endif

  int64_t next = 0;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1 && items > 1)
#endif
  for (int64_t item; (item = loomrtTakeItem(&next)) < items;) {
    int64_t bi = item / parts, part = item % parts;
    int64_t lo = part * unitsPerPart, hi = lo + unitsPerPart;
    int64_t m0 = 0, m1 = m, n0 = 0, n1 = n;
    if (splitM) {
      m0 = lo * MR;
      m1 = hi * MR < m ? hi * MR : m;
    } else {
      n0 = lo * NR;
      n1 = hi * NR < n ? hi * NR : n;
    }
    if (m0 >= m1 || n0 >= n1)
      continue;
    if (m == 1)
      computeRow(&pr, bi, n0, n1);
    else
      computeBlock(&pr, kernel, bi, m0, m1, n0, n1);
  }
  return 0;
}

void loomrt_sgemm_f32(int64_t batch, int64_t m, int64_t n, int64_t k,
                      const float *a, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                      const float *b, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                      float *c, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                      int64_t flags) {
  sgemm(batch, m, n, k, a, a_bs, a_rs, a_cs, b, b_bs, b_rs, b_cs, c, c_bs, c_rs,
        c_cs, flags, NULL, NULL);
}

/** loomrt_sgemm_epilogue_f32 with an optional norm of C's rows (sgemm). */
static int sgemmEpilogue(int64_t batch, int64_t m, int64_t n, int64_t k,
                         const float *a, int64_t a_bs, int64_t a_rs,
                         int64_t a_cs, const float *b, int64_t b_bs,
                         int64_t b_rs, int64_t b_cs, float *c, int64_t c_bs,
                         int64_t c_rs, int64_t c_cs, int64_t flags,
                         const float *bias, int64_t bias_bs, int64_t bias_rs,
                         int64_t bias_cs, const float *res, int64_t res_bs,
                         int64_t res_rs, int64_t res_cs, int64_t act,
                         const LoomrtNorm *nm) {
  /* Without an activation the two addends commute: a residual that is not
   * contiguous along the columns (a Mixer's per-row bias, res_cs = 0) and a
   * bias that is change places, so that the tiles add both as they store
   * instead of a scalar pass over C afterwards (Mixer's token-mixing
   * product ran 1.7x slower). */
  int swap =
      act == LOOMRT_ACT_NONE && res && res_cs != 1 && (!bias || bias_cs == 1);
  Epilogue ep = swap ? (Epilogue){res,     res_bs,  res_rs,  res_cs,  bias,
                                  bias_bs, bias_rs, bias_cs, (int)act}
                     : (Epilogue){bias,   bias_bs, bias_rs, bias_cs, res,
                                  res_bs, res_rs,  res_cs,  (int)act};
  int none = !bias && !res && act == LOOMRT_ACT_NONE;
  return sgemm(batch, m, n, k, a, a_bs, a_rs, a_cs, b, b_bs, b_rs, b_cs, c,
               c_bs, c_rs, c_cs, flags, none ? NULL : &ep, nm);
}

void loomrt_sgemm_epilogue_f32(
    int64_t batch, int64_t m, int64_t n, int64_t k, const float *a,
    int64_t a_bs, int64_t a_rs, int64_t a_cs, const float *b, int64_t b_bs,
    int64_t b_rs, int64_t b_cs, float *c, int64_t c_bs, int64_t c_rs,
    int64_t c_cs, int64_t flags, const float *bias, int64_t bias_bs,
    int64_t bias_rs, int64_t bias_cs, const float *res, int64_t res_bs,
    int64_t res_rs, int64_t res_cs, int64_t act) {
  (void)sgemmEpilogue(batch, m, n, k, a, a_bs, a_rs, a_cs, b, b_bs, b_rs, b_cs,
                      c, c_bs, c_rs, c_cs, flags, bias, bias_bs, bias_rs,
                      bias_cs, res, res_bs, res_rs, res_cs, act, NULL);
}

void loomrt_sgemm_norm_f32(
    int64_t batch, int64_t m, int64_t n, int64_t k, const float *a,
    int64_t a_bs, int64_t a_rs, int64_t a_cs, const float *b, int64_t b_bs,
    int64_t b_rs, int64_t b_cs, float *c, int64_t c_bs, int64_t c_rs,
    int64_t c_cs, int64_t flags, const float *bias, int64_t bias_bs,
    int64_t bias_rs, int64_t bias_cs, const float *res, int64_t res_bs,
    int64_t res_rs, int64_t res_cs, int64_t act, int64_t rows, int64_t cols,
    const float *input, float *output, const float *scale,
    const float *norm_bias, int64_t epsilon_bits, int64_t kind) {
  LoomrtNorm nm = {
      rows,     cols,  c,         c_rs,
      output,   scale, norm_bias, loomrtFloatFromBits(epsilon_bits),
      (int)kind};
  if (!sgemmEpilogue(batch, m, n, k, a, a_bs, a_rs, a_cs, b, b_bs, b_rs, b_cs,
                     c, c_bs, c_rs, c_cs, flags, bias, bias_bs, bias_rs,
                     bias_cs, res, res_bs, res_rs, res_cs, act,
                     input == c && rows > 0 && cols > 0 ? &nm : NULL))
    loomrt_norm_f32(rows, cols, input, output, scale, norm_bias, epsilon_bits,
                    kind);
}
