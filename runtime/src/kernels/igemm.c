/*===- igemm.c - W8A8: uint8 activations times int8 weights ---------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * loomrt_igemm_f32 (loomrt/kernels.h): C = A W with A quantized to uint8
 * (per row at run time, or with one calibrated scale and zero point) and W
 * int8 per output column, multiplied in integers with int32 sums, the
 * lowering of loom.quantized_matmul with 8-bit activations:
 *
 *   C[i, j] = (sum_p qa[i, p] * w[p, j] - za[i] * colsum[j]) * (sa[i] * sw[j])
 *
 * The weights are packed in panels of 16 columns, four consecutive rows of
 * a column side by side (the operand layout of `vpdpbusd`: one 64-byte load
 * is four rows of sixteen columns); colsum[j] = sum_p w[p, j] corrects for
 * the activations' zero point. The rows of A are quantized once per call
 * into a buffer padded to whole register tiles and to a multiple of four
 * columns (the padding multiplies zero weights).
 *
 * Register tiles: AVX-512 VNNI, 8 rows x 32 columns (16 zmm sums, four rows
 * of k per instruction); AVX-VNNI (256-bit), 3 rows x 32 columns; portable
 * C otherwise. All compute the same integers, so the results do not depend
 * on the path; LOOMRT_MAX_ISA=portable|avx2 caps the choice (tests run
 * every path the CPU has).
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#include "buffer.h"
#include "isa.h"
#include "parallel.h"

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
  PANEL = 16,     /* columns per packed panel */
  UNIT_COLS = 32, /* columns per register tile: two panels */
  UNIT_ROWS = 64, /* rows per work unit (one pair of panels stays in L1/L2) */
  MAX_TILE_R = 8, /* the tallest register tile */
  ROW_ALIGN = 64, /* bytes: quantized rows start on cache lines */
  MIN_THREADED_MACS = 1 << 22, /* smaller products run on one thread */
};

/* -------------------------------------------------------------------------
 * Packing
 * ------------------------------------------------------------------------- */

int64_t loomrt_igemm_packed_bytes(int64_t k, int64_t n) {
  return (n + PANEL - 1) / PANEL * PANEL * ((k + 3) / 4 * 4);
}

int64_t loomrt_igemm_packed_sums(int64_t n) {
  return (n + PANEL - 1) / PANEL * PANEL;
}

void loomrt_igemm_pack(int64_t k, int64_t n, const int8_t *w, int8_t *dst,
                       int32_t *colsum) {
  int64_t k4 = (k + 3) / 4, panels = (n + PANEL - 1) / PANEL;
  for (int64_t t = 0; t < panels; ++t)
    for (int64_t g = 0; g < k4; ++g)
      for (int64_t c = 0; c < PANEL; ++c)
        for (int64_t r = 0; r < 4; ++r) {
          int64_t p = 4 * g + r, j = t * PANEL + c;
          dst[((t * k4 + g) * PANEL + c) * 4 + r] =
              p < k && j < n ? w[p * n + j] : 0;
        }
  for (int64_t j = 0; j < panels * PANEL; ++j) {
    int32_t sum = 0;
    for (int64_t p = 0; j < n && p < k; ++p)
      sum += w[p * n + j];
    colsum[j] = sum;
  }
}

/* -------------------------------------------------------------------------
 * Activation quantization
 * ------------------------------------------------------------------------- */

/** round(x / s) + z clamped to 0..255 (NaN gives 0). */
static inline uint8_t quantize(float x, float s, float z) {
  float v = nearbyintf(x / s) + z;
  if (!(v >= 0.0f))
    return 0;
  return v > 255.0f ? 255 : (uint8_t)v;
}

void loomrt_igemm_row_params(const float *x, int64_t k, float *scale,
                             int32_t *zero) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t p = 0; p < k; ++p) {
    lo = x[p] < lo ? x[p] : lo;
    hi = x[p] > hi ? x[p] : hi;
  }
  float s = (hi - lo) / 255.0f;
  if (!(s > 0.0f) || isinf(s))
    s = 1.0f;
  float z = nearbyintf(-lo / s);
  *scale = s;
  *zero = z < 0.0f ? 0 : z > 255.0f ? 255 : (int32_t)z;
}

/** Quantizes rows i0 .. i1 of A into qa (stride lda bytes), their scales
 *  and zero points into rs and rz. */
static void quantizeRows(const float *a, int64_t k, int64_t i0, int64_t i1,
                         float a_scale, int32_t a_zero, uint8_t *qa,
                         int64_t lda, float *rs, int32_t *rz) {
  for (int64_t i = i0; i < i1; ++i) {
    const float *x = a + i * k;
    float s = a_scale;
    int32_t z = a_zero;
    if (!(a_scale > 0.0f))
      loomrt_igemm_row_params(x, k, &s, &z);
    rs[i] = s;
    rz[i] = z;
    uint8_t *q = qa + i * lda;
    float zf = (float)z;
    for (int64_t p = 0; p < k; ++p)
      q[p] = quantize(x[p], s, zf);
    for (int64_t p = k; p < lda; ++p)
      q[p] = 0;
  }
}

/* -------------------------------------------------------------------------
 * Register tiles: sums[r][0..31] = sum_p qa[r, p] * w[p, 32 columns]
 * ------------------------------------------------------------------------- */

/** A register tile of `rows` rows: k4 groups of four rows of k, the rows of
 *  qa (stride lda), panels b0 and b1, int32 sums into out[rows][32]. */
typedef void (*Tile)(int64_t k4, const uint8_t *qa, int64_t lda,
                     const int8_t *b0, const int8_t *b1, int32_t *out);

static inline int32_t load4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

#define LOOMRT_PORTABLE_TILE(NAME, R)                                          \
  static void NAME(int64_t k4, const uint8_t *qa, int64_t lda,                 \
                   const int8_t *b0, const int8_t *b1, int32_t *out) {         \
    for (int r = 0; r < (R); ++r) {                                            \
      int32_t acc[UNIT_COLS] = {0};                                            \
      const uint8_t *a = qa + r * lda;                                         \
      for (int64_t g = 0; g < k4; ++g) {                                       \
        const int8_t *w0 = b0 + g * 64, *w1 = b1 + g * 64;                     \
        const uint8_t *x = a + 4 * g;                                          \
        for (int c = 0; c < PANEL; ++c) {                                      \
          int32_t s0 = 0, s1 = 0;                                              \
          for (int q = 0; q < 4; ++q) {                                        \
            s0 += (int32_t)x[q] * w0[c * 4 + q];                               \
            s1 += (int32_t)x[q] * w1[c * 4 + q];                               \
          }                                                                    \
          acc[c] += s0;                                                        \
          acc[PANEL + c] += s1;                                                \
        }                                                                      \
      }                                                                        \
      memcpy(out + r * UNIT_COLS, acc, sizeof(acc));                           \
    }                                                                          \
  }

LOOMRT_PORTABLE_TILE(tilePortable4, 4)
LOOMRT_PORTABLE_TILE(tilePortable1, 1)

#ifdef LOOMRT_HAVE_X86
#define LOOMRT_AVX512_TILE(NAME, R)                                            \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) static void  \
  NAME(int64_t k4, const uint8_t *qa, int64_t lda, const int8_t *b0,           \
       const int8_t *b1, int32_t *out) {                                       \
    __m512i acc[(R)][2];                                                       \
    for (int r = 0; r < (R); ++r)                                              \
      acc[r][0] = acc[r][1] = _mm512_setzero_si512();                          \
    for (int64_t g = 0; g < k4; ++g) {                                         \
      __m512i w0 = _mm512_loadu_si512((const void *)(b0 + g * 64));            \
      __m512i w1 = _mm512_loadu_si512((const void *)(b1 + g * 64));            \
      for (int r = 0; r < (R); ++r) {                                          \
        __m512i x = _mm512_set1_epi32(load4(qa + r * lda + 4 * g));            \
        acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x, w0);                     \
        acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x, w1);                     \
      }                                                                        \
    }                                                                          \
    for (int r = 0; r < (R); ++r) {                                            \
      _mm512_storeu_si512((void *)(out + r * UNIT_COLS), acc[r][0]);           \
      _mm512_storeu_si512((void *)(out + r * UNIT_COLS + PANEL), acc[r][1]);   \
    }                                                                          \
  }

LOOMRT_AVX512_TILE(tileAvx512x8, 8)
LOOMRT_AVX512_TILE(tileAvx512x1, 1)

#define LOOMRT_AVXVNNI_TILE(NAME, R)                                           \
  __attribute__((target("avx2,avxvnni"))) static void NAME(                    \
      int64_t k4, const uint8_t *qa, int64_t lda, const int8_t *b0,            \
      const int8_t *b1, int32_t *out) {                                        \
    __m256i acc[(R)][4];                                                       \
    for (int r = 0; r < (R); ++r)                                              \
      for (int h = 0; h < 4; ++h)                                              \
        acc[r][h] = _mm256_setzero_si256();                                    \
    for (int64_t g = 0; g < k4; ++g) {                                         \
      const int8_t *w0 = b0 + g * 64, *w1 = b1 + g * 64;                       \
      __m256i w[4] = {_mm256_loadu_si256((const __m256i *)w0),                 \
                      _mm256_loadu_si256((const __m256i *)(w0 + 32)),          \
                      _mm256_loadu_si256((const __m256i *)w1),                 \
                      _mm256_loadu_si256((const __m256i *)(w1 + 32))};         \
      for (int r = 0; r < (R); ++r) {                                          \
        __m256i x = _mm256_set1_epi32(load4(qa + r * lda + 4 * g));            \
        for (int h = 0; h < 4; ++h)                                            \
          acc[r][h] = _mm256_dpbusd_avx_epi32(acc[r][h], x, w[h]);             \
      }                                                                        \
    }                                                                          \
    for (int r = 0; r < (R); ++r)                                              \
      for (int h = 0; h < 4; ++h)                                              \
        _mm256_storeu_si256((__m256i *)(out + r * UNIT_COLS + 8 * h),          \
                            acc[r][h]);                                        \
  }

LOOMRT_AVXVNNI_TILE(tileAvxVnni3, 3)
LOOMRT_AVXVNNI_TILE(tileAvxVnni1, 1)
#endif

/** The register tiles of one instruction set: `rows` rows, and one row. */
typedef struct Kernel {
  const char *name;
  int rows;
  Tile tile, tile1;
} Kernel;

/** The best kernel for this CPU allowed by `cap` (NULL or "avx512": any;
 *  "avx2": 256-bit at most; anything else: portable). */
static Kernel selectKernel(const char *cap) {
  Kernel portable = {"portable-4x32", 4, tilePortable4, tilePortable1};
#ifdef LOOMRT_HAVE_X86
  int allow512 = loomrtIsaCap(cap) >= LOOMRT_ISA_512;
  int allow256 = loomrtIsaCap(cap) >= LOOMRT_ISA_256;
  __builtin_cpu_init();
  if (allow512 && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512vnni")) {
    Kernel k = {"avx512-vnni-8x32", 8, tileAvx512x8, tileAvx512x1};
    return k;
  }
  if (allow256 && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("avxvnni")) {
    Kernel k = {"avx-vnni-3x32", 3, tileAvxVnni3, tileAvxVnni1};
    return k;
  }
#else
  (void)cap;
#endif
  return portable;
}

/* Chosen once per process (LOOMRT_MAX_ISA is read then). Benign race:
 * every thread computes the same answer. */
static Kernel kernel;

static const Kernel *getKernel(void) {
  if (!kernel.tile)
    kernel = selectKernel(getenv("LOOMRT_MAX_ISA"));
  return &kernel;
}

const char *loomrt_igemm_set_max_isa(const char *isa) {
  kernel = selectKernel(isa);
  return kernel.name;
}

const char *loomrt_igemm_kernel_name(void) { return getKernel()->name; }

/* -------------------------------------------------------------------------
 * The product
 * ------------------------------------------------------------------------- */

/* The quantized rows of A, kept by the calling thread (buffer.h: 64-byte
 * aligned, ROW_ALIGN). */
static _Thread_local void *rowBuffer;
static _Thread_local size_t rowCapacity;

/** Rows i0 .. i1 (i1 - i0 <= UNIT_ROWS) times column block q (32 columns). */
static void igemmUnit(const Kernel *kern, int64_t n, int64_t k4,
                      const uint8_t *qa, int64_t lda, const float *rs,
                      const int32_t *rz, const int8_t *w, const float *scale,
                      const int32_t *colsum, float *c, int64_t i0, int64_t i1,
                      int64_t q) {
  int64_t panels = (n + PANEL - 1) / PANEL, t0 = 2 * q;
  int64_t t1 = t0 + 1 < panels ? t0 + 1 : t0; /* a lone last panel twice */
  const int8_t *b0 = w + t0 * k4 * 64, *b1 = w + t1 * k4 * 64;
  int64_t j0 = q * UNIT_COLS, cols = n - j0 < UNIT_COLS ? n - j0 : UNIT_COLS;
  int32_t sums[MAX_TILE_R * UNIT_COLS];
  for (int64_t i = i0; i < i1;) {
    int rows = i1 - i >= kern->rows ? kern->rows : 1;
    (rows > 1 ? kern->tile : kern->tile1)(k4, qa + i * lda, lda, b0, b1, sums);
    for (int r = 0; r < rows; ++r) {
      float sa = rs[i + r];
      int32_t za = rz[i + r];
      float *out = c + (i + r) * n + j0;
      const int32_t *row = sums + r * UNIT_COLS;
      for (int64_t j = 0; j < cols; ++j)
        out[j] = (float)(row[j] - za * colsum[j0 + j]) * (sa * scale[j0 + j]);
    }
    i += rows;
  }
}

void loomrt_igemm_f32(int64_t m, int64_t n, int64_t k, const float *a,
                      const int8_t *w, const float *scale,
                      const int32_t *colsum, const float *a_scale,
                      int64_t a_zero, float *c, int64_t flags) {
  if (m <= 0 || n <= 0)
    return;
  const Kernel *kern = getKernel();
  /* At least one cache line per row: k = 0 allocates too (sums of 0). */
  int64_t k4 = (k + 3) / 4, lda = (k4 * 4 + ROW_ALIGN) / ROW_ALIGN * ROW_ALIGN;
  /* Unpacked weights are packed for this call. */
  int8_t *packed = NULL;
  int32_t *sums = NULL;
  if (!(flags & LOOMRT_IGEMM_PACKED)) {
    packed = malloc((size_t)loomrt_igemm_packed_bytes(k, n) + 1);
    sums = malloc(sizeof(int32_t) * (size_t)loomrt_igemm_packed_sums(n));
    if (!packed || !sums) {
      free(packed);
      free(sums);
      return;
    }
    loomrt_igemm_pack(k, n, w, packed, sums);
    w = packed;
    colsum = sums;
  }
  /* The quantized rows and their parameters, in one grow-only buffer of
   * the calling thread: a fresh (mmapped) block per call would fault its
   * pages in on every call. */
  size_t rowBytes = (size_t)(m * lda);
  size_t paramBytes = (size_t)m * (sizeof(float) + sizeof(int32_t));
  uint8_t *qa = loomrtReserve(&rowBuffer, &rowCapacity, rowBytes + paramBytes);
  float *rs = qa ? (float *)(qa + rowBytes) : NULL;
  int32_t *rz = qa ? (int32_t *)(rs + m) : NULL;
  if (qa) {
    int64_t rowUnits = (m + UNIT_ROWS - 1) / UNIT_ROWS;
    int64_t colUnits = (n + UNIT_COLS - 1) / UNIT_COLS;
    int64_t units = rowUnits * colUnits;
    /* Small products (a decoding step's 768 x 3072) ran faster on one
     * thread than on two: waking the team costs more than it saves. */
    int threaded = units > 1 && (double)m * n * k >= (double)MIN_THREADED_MACS;
    (void)threaded;
    int64_t next = 0;
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp parallel if (!omp_in_parallel() && threaded)
#endif
    {
#ifdef LOOMRT_KERNELS_OPENMP
#pragma omp for schedule(static)
#endif
      for (int64_t u = 0; u < rowUnits; ++u) {
        int64_t i0 = u * UNIT_ROWS,
                i1 = i0 + UNIT_ROWS < m ? i0 + UNIT_ROWS : m;
        quantizeRows(a, k, i0, i1, a_scale ? *a_scale : 0.0f, (int32_t)a_zero,
                     qa, lda, rs, rz);
      }
      for (int64_t u; (u = loomrtTakeItem(&next)) < units;) {
        /* Column blocks outermost within a row block: neighbouring units
         * share the quantized rows. */
        int64_t rb = u / colUnits, q = u % colUnits;
        int64_t i0 = rb * UNIT_ROWS,
                i1 = i0 + UNIT_ROWS < m ? i0 + UNIT_ROWS : m;
        igemmUnit(kern, n, k4, qa, lda, rs, rz, w, scale, colsum, c, i0, i1, q);
      }
    }
  }
  free(packed);
  free(sums);
}
