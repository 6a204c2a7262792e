/*===- spgemm.c - Block-sparse and 2:4-sparse fp32 matrix multiply --------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * C = A W with W sparse and constant (the lowering of loom.sparse_matmul):
 *
 * - Block sparsity: W is stored as panels of 16 columns (the fp32
 *   microkernel's width), each a list of its non-zero blocks of bk rows;
 *   the kernel visits only those, so its work is proportional to the
 *   density. The loops are the dense GEMM's, with the reduction running
 *   over a panel's blocks: for a chunk of KC rows of W (in L2) and a
 *   6-row tile of A (in L1), a 6 x 16 register tile accumulates every
 *   block of the panel in the chunk, reading A where each block starts.
 * - 2:4 sparsity: every group of 4 rows keeps at most 2 values per column;
 *   the packed panel holds the 2 values and their two 2-bit positions. The
 *   AVX2 kernel broadcasts A's 4 elements of a group to a vector and picks
 *   each column's two with vpermps (no gather): half the weight bytes, half
 *   the multiply-adds. x86 has no 2:4 instructions, so this is a memory
 *   saving first and a compute saving only where permutes are cheaper than
 *   the multiply-adds they replace.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#include "parallel.h"

#ifdef LOOMRT_KERNELS_OPENMP
#include <omp.h>
#endif
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define LOOMRT_HAVE_X86 1
#endif

enum {
  NR = LOOMRT_GEMM_PANEL, /* columns per packed panel */
  MR = 6,                 /* rows of a block-sparse register tile */
  MR24 = 4,               /* rows of a 2:4 register tile */
  KC = 256,               /* rows of W per chunk (kept in L2) */
  CHUNK_PANELS = 16,      /* panels per unit of work (256 columns) */
  ROW_BLOCK = 96,         /* rows of A per unit of work */
};

#ifdef LOOMRT_HAVE_X86
static int haveAvx2(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return cached;
}
#endif

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/** A unit of work of the sparse kernels: rows [i0, i1) of C (at most
 *  ROW_BLOCK) and its panels [q0, q1) (at most CHUNK_PANELS). */
typedef struct {
  int64_t i0, i1, q0, q1;
} Unit;

/** Units of work for C [m x n]. */
static int64_t unitCount(int64_t m, int64_t n) {
  return ceilDiv(m, ROW_BLOCK) * ceilDiv(ceilDiv(n, NR), CHUNK_PANELS);
}

/** Unit u of C [m x n], units numbered row block by row block. */
static Unit unitAt(int64_t u, int64_t m, int64_t n) {
  int64_t panels = ceilDiv(n, NR), colUnits = ceilDiv(panels, CHUNK_PANELS);
  Unit w;
  w.i0 = u / colUnits * ROW_BLOCK;
  w.i1 = w.i0 + ROW_BLOCK < m ? w.i0 + ROW_BLOCK : m;
  w.q0 = u % colUnits * CHUNK_PANELS;
  w.q1 = w.q0 + CHUNK_PANELS < panels ? w.q0 + CHUNK_PANELS : panels;
  return w;
}

/* -------------------------------------------------------------------------
 * Block sparsity
 * ------------------------------------------------------------------------- */

/** Whether block (kb, panel q) of W[k x n] holds a non-zero. */
static int blockNonZero(int64_t k, int64_t n, int64_t bk, const float *w,
                        int64_t rs, int64_t cs, int64_t kb, int64_t q) {
  int64_t p1 = (kb + 1) * bk < k ? (kb + 1) * bk : k;
  int64_t j1 = (q + 1) * NR < n ? (q + 1) * NR : n;
  for (int64_t p = kb * bk; p < p1; ++p)
    for (int64_t j = q * NR; j < j1; ++j)
      if (w[p * rs + j * cs] != 0.0f)
        return 1;
  return 0;
}

int64_t loomrt_bsgemm_pack_count(int64_t k, int64_t n, int64_t bk,
                                 const float *w, int64_t rs, int64_t cs) {
  int64_t count = 0;
  for (int64_t q = 0; q < ceilDiv(n, NR); ++q)
    for (int64_t kb = 0; kb < ceilDiv(k, bk); ++kb)
      count += blockNonZero(k, n, bk, w, rs, cs, kb, q);
  return count;
}

void loomrt_bsgemm_pack(int64_t k, int64_t n, int64_t bk, const float *w,
                        int64_t rs, int64_t cs, int32_t *index, float *data) {
  int64_t panels = ceilDiv(n, NR), blocks = 0;
  int32_t *rows = index + panels + 1;
  for (int64_t q = 0; q < panels; ++q) {
    index[q] = (int32_t)blocks;
    for (int64_t kb = 0; kb < ceilDiv(k, bk); ++kb) {
      if (!blockNonZero(k, n, bk, w, rs, cs, kb, q))
        continue;
      rows[blocks] = (int32_t)kb;
      float *dst = data + blocks * bk * NR;
      for (int64_t p = 0; p < bk; ++p)
        for (int64_t j = 0; j < NR; ++j) {
          int64_t row = kb * bk + p, col = q * NR + j;
          dst[p * NR + j] = row < k && col < n ? w[row * rs + col * cs] : 0.0f;
        }
      ++blocks;
    }
  }
  index[panels] = (int32_t)blocks;
}

/** C[0:ROWS, 0:16] += A[0:ROWS, :] times the blocks [b0, b1) of a panel;
 *  A has row stride lda, C ldc. Portable. */
static inline __attribute__((always_inline)) void
bsTileGeneric(int ROWS, int64_t k, int64_t bk, const float *a, int64_t lda,
              const int32_t *rows, const float *data, int64_t b0, int64_t b1,
              float *c, int64_t ldc) {
  float acc[MR][NR];
  memset(acc, 0, sizeof(acc));
  for (int64_t b = b0; b < b1; ++b) {
    int64_t off = (int64_t)rows[b] * bk, kc = k - off < bk ? k - off : bk;
    const float *w = data + b * bk * NR;
    for (int64_t p = 0; p < kc; ++p)
      for (int i = 0; i < ROWS; ++i) {
        float ai = a[i * lda + off + p];
        for (int j = 0; j < NR; ++j)
          acc[i][j] += ai * w[p * NR + j];
      }
  }
  for (int i = 0; i < ROWS; ++i)
    for (int j = 0; j < NR; ++j)
      c[i * ldc + j] += acc[i][j];
}

#ifdef LOOMRT_HAVE_X86
/** bsTileGeneric with AVX2 + FMA: ROWS x 2 accumulators. */
static inline __attribute__((always_inline, target("avx2,fma"))) void
bsTileAvx2(int ROWS, int64_t k, int64_t bk, const float *a, int64_t lda,
           const int32_t *rows, const float *data, int64_t b0, int64_t b1,
           float *c, int64_t ldc) {
  __m256 acc[MR][2];
  for (int i = 0; i < ROWS; ++i)
    acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t b = b0; b < b1; ++b) {
    int64_t off = (int64_t)rows[b] * bk, kc = k - off < bk ? k - off : bk;
    const float *w = data + b * bk * NR, *ap = a + off;
    _mm_prefetch((const char *)(w + bk * NR), _MM_HINT_T0);
#pragma clang loop unroll_count(4)
    for (int64_t p = 0; p < kc; ++p) {
      __m256 w0 = _mm256_loadu_ps(w + p * NR),
             w1 = _mm256_loadu_ps(w + p * NR + 8);
      for (int i = 0; i < ROWS; ++i) {
        __m256 ai = _mm256_broadcast_ss(ap + i * lda + p);
        acc[i][0] = _mm256_fmadd_ps(ai, w0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(ai, w1, acc[i][1]);
      }
    }
  }
  for (int i = 0; i < ROWS; ++i) {
    float *ci = c + i * ldc;
    _mm256_storeu_ps(ci, _mm256_add_ps(acc[i][0], _mm256_loadu_ps(ci)));
    _mm256_storeu_ps(ci + 8, _mm256_add_ps(acc[i][1], _mm256_loadu_ps(ci + 8)));
  }
}

#endif

/* One function per tile body, dispatching on the row count: the body is
 * always inlined with a constant ROWS, so each case gets its own registers. */
#define LOOMRT_BS_ROWS(NAME, BODY, ATTR)                                       \
  ATTR static void NAME(int r, int64_t k, int64_t bk, const float *a,          \
                        int64_t lda, const int32_t *rows, const float *data,   \
                        int64_t b0, int64_t b1, float *c, int64_t ldc) {       \
    switch (r) {                                                               \
    case 1:                                                                    \
      BODY(1, k, bk, a, lda, rows, data, b0, b1, c, ldc);                      \
      return;                                                                  \
    case 2:                                                                    \
      BODY(2, k, bk, a, lda, rows, data, b0, b1, c, ldc);                      \
      return;                                                                  \
    case 3:                                                                    \
      BODY(3, k, bk, a, lda, rows, data, b0, b1, c, ldc);                      \
      return;                                                                  \
    case 4:                                                                    \
      BODY(4, k, bk, a, lda, rows, data, b0, b1, c, ldc);                      \
      return;                                                                  \
    case 5:                                                                    \
      BODY(5, k, bk, a, lda, rows, data, b0, b1, c, ldc);                      \
      return;                                                                  \
    default:                                                                   \
      BODY(6, k, bk, a, lda, rows, data, b0, b1, c, ldc);                      \
      return;                                                                  \
    }                                                                          \
  }
LOOMRT_BS_ROWS(bsTileGenericRows, bsTileGeneric, )
#ifdef LOOMRT_HAVE_X86
LOOMRT_BS_ROWS(bsTileAvx2Rows, bsTileAvx2, __attribute__((target("avx2,fma"))))
#endif
#undef LOOMRT_BS_ROWS

typedef void (*BsTile)(int, int64_t, int64_t, const float *, int64_t,
                       const int32_t *, const float *, int64_t, int64_t,
                       float *, int64_t);

/** One unit of work: rows [i0, i1) and panels [q0, q1) of C. */
static void bsgemmBlock(int64_t n, int64_t k, int64_t bk, const float *a,
                        const int32_t *index, const float *data, float *c,
                        int64_t i0, int64_t i1, int64_t q0, int64_t q1,
                        BsTile tile) {
  const int32_t *rows = index + ceilDiv(n, NR) + 1;
  int64_t j0 = q0 * NR, j1 = q1 * NR < n ? q1 * NR : n;
  for (int64_t i = i0; i < i1; ++i)
    memset(c + i * n + j0, 0, (size_t)(j1 - j0) * sizeof(float));
  /* The first block of each panel in the current chunk of rows of W. */
  int64_t start[CHUNK_PANELS], end[CHUNK_PANELS];
  for (int64_t q = q0; q < q1; ++q)
    start[q - q0] = index[q];
  int64_t chunkBlocks = KC / bk > 0 ? KC / bk : 1;
  for (int64_t kb0 = 0; kb0 < ceilDiv(k, bk); kb0 += chunkBlocks) {
    int any = 0;
    for (int64_t q = q0; q < q1; ++q) {
      int64_t e = start[q - q0];
      while (e < index[q + 1] && rows[e] < kb0 + chunkBlocks)
        ++e;
      end[q - q0] = e;
      any |= e > start[q - q0];
    }
    for (int64_t i = i0; any && i < i1; i += MR) {
      int r = (int)(i1 - i < MR ? i1 - i : MR);
      for (int64_t q = q0; q < q1; ++q) {
        int64_t b0 = start[q - q0], b1 = end[q - q0];
        if (b0 == b1)
          continue;
        if ((q + 1) * NR <= n) {
          tile(r, k, bk, a + i * k, k, rows, data, b0, b1, c + i * n + q * NR,
               n);
        } else {
          /* The last, partial panel: through a full-width tile. */
          float tmp[MR * NR];
          int64_t cols = n - q * NR;
          for (int t = 0; t < r; ++t) {
            memcpy(tmp + t * NR, c + (i + t) * n + q * NR,
                   (size_t)cols * sizeof(float));
            memset(tmp + t * NR + cols, 0, (size_t)(NR - cols) * sizeof(float));
          }
          tile(r, k, bk, a + i * k, k, rows, data, b0, b1, tmp, NR);
          for (int t = 0; t < r; ++t)
            memcpy(c + (i + t) * n + q * NR, tmp + t * NR,
                   (size_t)cols * sizeof(float));
        }
      }
    }
    for (int64_t q = q0; q < q1; ++q)
      start[q - q0] = end[q - q0];
  }
}

void loomrt_bsgemm_f32(int64_t m, int64_t n, int64_t k, int64_t bk,
                       const float *a, const int32_t *index, const float *data,
                       float *c) {
  if (m <= 0 || n <= 0)
    return;
  BsTile tile = bsTileGenericRows;
#ifdef LOOMRT_HAVE_X86
  if (haveAvx2())
    tile = bsTileAvx2Rows;
#endif
  int64_t units = unitCount(m, n);
  int64_t next = 0;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel if (!omp_in_parallel() && units > 1)
#endif
  for (int64_t u; (u = loomrtTakeItem(&next)) < units;) {
    Unit w = unitAt(u, m, n);
    bsgemmBlock(n, k, bk, a, index, data, c, w.i0, w.i1, w.q0, w.q1, tile);
  }
}

/* -------------------------------------------------------------------------
 * 2:4 sparsity
 * ------------------------------------------------------------------------- */

int64_t loomrt_sgemm24_packed_floats(int64_t k, int64_t n) {
  return ceilDiv(n, NR) * (k / 4) * 2 * NR;
}

int64_t loomrt_sgemm24_packed_meta(int64_t k, int64_t n) {
  return ceilDiv(n, NR) * (k / 4) * 2;
}

void loomrt_sgemm24_pack(int64_t k, int64_t n, const float *values,
                         const uint8_t *meta, float *data, uint32_t *meta_out) {
  int64_t groups = k / 4;
  for (int64_t q = 0; q < ceilDiv(n, NR); ++q)
    for (int64_t g = 0; g < groups; ++g) {
      float *d = data + (q * groups + g) * 2 * NR;
      uint32_t *mo = meta_out + (q * groups + g) * 2;
      mo[0] = mo[1] = 0;
      for (int64_t j = 0; j < NR; ++j) {
        int64_t col = q * NR + j;
        uint32_t idx = col < n ? meta[g * n + col] : 0;
        d[j] = col < n ? values[2 * g * n + col] : 0.0f;
        d[NR + j] = col < n ? values[(2 * g + 1) * n + col] : 0.0f;
        /* Lane l of the 8-column half: bits 2l (first value's row within
         * the group) and 16 + 2l (second's). */
        int64_t half = j / 8, lane = j % 8;
        mo[half] |= (idx & 3u) << (2 * lane);
        mo[half] |= ((idx >> 2) & 3u) << (16 + 2 * lane);
      }
    }
}

/** C[0:ROWS, 0:16] = A[0:ROWS, :] times a packed 2:4 panel. Portable. */
static inline __attribute__((always_inline)) void
s24TileGeneric(int ROWS, int64_t groups, const float *a, int64_t lda,
               const float *data, const uint32_t *meta, float *c, int64_t ldc) {
  float acc[MR24][NR];
  memset(acc, 0, sizeof(acc));
  for (int64_t g = 0; g < groups; ++g) {
    const float *d = data + g * 2 * NR;
    for (int j = 0; j < NR; ++j) {
      uint32_t word = meta[g * 2 + j / 8];
      int lane = j % 8;
      int r0 = (word >> (2 * lane)) & 3, r1 = (word >> (16 + 2 * lane)) & 3;
      for (int i = 0; i < ROWS; ++i)
        acc[i][j] += a[i * lda + 4 * g + r0] * d[j] +
                     a[i * lda + 4 * g + r1] * d[NR + j];
    }
  }
  for (int i = 0; i < ROWS; ++i)
    memcpy(c + i * ldc, acc[i], NR * sizeof(float));
}

#ifdef LOOMRT_HAVE_X86
static inline __attribute__((always_inline, target("avx2,fma"))) void
s24TileAvx2(int ROWS, int64_t groups, const float *a, int64_t lda,
            const float *data, const uint32_t *meta, float *c, int64_t ldc) {
  const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i shifts1 = _mm256_add_epi32(shifts, _mm256_set1_epi32(16));
  const __m256i three = _mm256_set1_epi32(3);
  __m256 acc[MR24][2];
  for (int i = 0; i < ROWS; ++i)
    acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma clang loop unroll_count(2)
  for (int64_t g = 0; g < groups; ++g) {
    const float *d = data + g * 2 * NR;
    __m256i m0 = _mm256_set1_epi32((int)meta[2 * g]);
    __m256i m1 = _mm256_set1_epi32((int)meta[2 * g + 1]);
    __m256i i00 = _mm256_and_si256(_mm256_srlv_epi32(m0, shifts), three);
    __m256i i01 = _mm256_and_si256(_mm256_srlv_epi32(m0, shifts1), three);
    __m256i i10 = _mm256_and_si256(_mm256_srlv_epi32(m1, shifts), three);
    __m256i i11 = _mm256_and_si256(_mm256_srlv_epi32(m1, shifts1), three);
    __m256 v00 = _mm256_loadu_ps(d), v10 = _mm256_loadu_ps(d + 8);
    __m256 v01 = _mm256_loadu_ps(d + NR), v11 = _mm256_loadu_ps(d + NR + 8);
    for (int i = 0; i < ROWS; ++i) {
      __m256 a4 = _mm256_broadcast_ps((const __m128 *)(a + i * lda + 4 * g));
      acc[i][0] =
          _mm256_fmadd_ps(_mm256_permutevar8x32_ps(a4, i00), v00, acc[i][0]);
      acc[i][0] =
          _mm256_fmadd_ps(_mm256_permutevar8x32_ps(a4, i01), v01, acc[i][0]);
      acc[i][1] =
          _mm256_fmadd_ps(_mm256_permutevar8x32_ps(a4, i10), v10, acc[i][1]);
      acc[i][1] =
          _mm256_fmadd_ps(_mm256_permutevar8x32_ps(a4, i11), v11, acc[i][1]);
    }
  }
  for (int i = 0; i < ROWS; ++i) {
    _mm256_storeu_ps(c + i * ldc, acc[i][0]);
    _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
  }
}
#endif

typedef void (*s24Tile)(int, int64_t, const float *, int64_t, const float *,
                        const uint32_t *, float *, int64_t);

#define LOOMRT_S24_ROWS(NAME, BODY, ATTR)                                      \
  ATTR static void NAME(int r, int64_t groups, const float *a, int64_t lda,    \
                        const float *d, const uint32_t *mt, float *c,          \
                        int64_t ldc) {                                         \
    switch (r) {                                                               \
    case 1:                                                                    \
      BODY(1, groups, a, lda, d, mt, c, ldc);                                  \
      return;                                                                  \
    case 2:                                                                    \
      BODY(2, groups, a, lda, d, mt, c, ldc);                                  \
      return;                                                                  \
    case 3:                                                                    \
      BODY(3, groups, a, lda, d, mt, c, ldc);                                  \
      return;                                                                  \
    default:                                                                   \
      BODY(4, groups, a, lda, d, mt, c, ldc);                                  \
      return;                                                                  \
    }                                                                          \
  }
LOOMRT_S24_ROWS(s24TileGenericRows, s24TileGeneric, )
#ifdef LOOMRT_HAVE_X86
LOOMRT_S24_ROWS(s24TileAvx2Rows, s24TileAvx2,
                __attribute__((target("avx2,fma"))))
#endif
#undef LOOMRT_S24_ROWS

/** Rows [i0, i1) of C over panels [q0, q1). */
static void s24Block(int64_t n, int64_t k, const float *a, const float *data,
                     const uint32_t *meta, float *c, int64_t i0, int64_t i1,
                     int64_t q0, int64_t q1, s24Tile tile) {
  int64_t groups = k / 4;
  for (int64_t i = i0; i < i1; i += MR24) {
    int r = (int)(i1 - i < MR24 ? i1 - i : MR24);
    for (int64_t q = q0; q < q1; ++q) {
      const float *d = data + q * groups * 2 * NR;
      const uint32_t *mt = meta + q * groups * 2;
      int full = (q + 1) * NR <= n;
      float tmp[MR24 * NR];
      float *dst = full ? c + i * n + q * NR : tmp;
      int64_t ldc = full ? n : NR;
      tile(r, groups, a + i * k, k, d, mt, dst, ldc);
      if (!full)
        for (int t = 0; t < r; ++t)
          memcpy(c + (i + t) * n + q * NR, tmp + t * NR,
                 (size_t)(n - q * NR) * sizeof(float));
    }
  }
}

void loomrt_sgemm24_f32(int64_t m, int64_t n, int64_t k, const float *a,
                        const float *data, const uint32_t *meta, float *c) {
  if (m <= 0 || n <= 0)
    return;
  s24Tile tile = s24TileGenericRows;
#ifdef LOOMRT_HAVE_X86
  if (haveAvx2())
    tile = s24TileAvx2Rows;
#endif
  int64_t units = unitCount(m, n);
  int64_t next = 0;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel if (!omp_in_parallel() && units > 1)
#endif
  for (int64_t u; (u = loomrtTakeItem(&next)) < units;) {
    Unit w = unitAt(u, m, n);
    s24Block(n, k, a, data, meta, c, w.i0, w.i1, w.q0, w.q1, tile);
  }
}
