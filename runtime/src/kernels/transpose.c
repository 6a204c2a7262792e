/*===- transpose.c - Blocked strided copies (transposes) ------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * loomrt_transpose_f32: dst[b][r][c] = src[b][r][c] with any element
 * strides, in BLOCK x BLOCK blocks. A transpose that the compiler's loops
 * vectorize walks one operand with a row's stride in its innermost loop:
 * each element on another cache line and often another page (LLVM gathers
 * eight of them at a time). A block's rows stay in the cache and the TLB,
 * so every line is used up before it leaves, and inside a block a true
 * transpose (source contiguous along rows, destination along columns) moves
 * 8 x 8 tiles through AVX2 registers. LOOMRT_MAX_ISA=portable keeps the
 * scalar copy.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/kernels.h"

#include "isa.h"
#include "transpose8x8.h"

#include <stdint.h>
#include <stdlib.h>

#ifdef LOOMRT_KERNELS_OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define LOOMRT_HAVE_AVX2_TRANSPOSE 1
#endif

enum {
  /* Rows and columns of a block: 32 source lines and 32 destination
   * lines, 8 KiB in all, well inside L1. */
  BLOCK = 32,
};

/** Copies the block [r0, r1) x [c0, c1) element by element. */
static void copyBlockScalar(const float *s, int64_t s_rs, int64_t s_cs,
                            float *d, int64_t d_rs, int64_t d_cs, int64_t r0,
                            int64_t r1, int64_t c0, int64_t c1) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = c0; c < c1; ++c)
      d[r * d_rs + c * d_cs] = s[r * s_rs + c * s_cs];
}

#ifdef LOOMRT_HAVE_AVX2_TRANSPOSE
/** Transposes the block [r0, r1) x [c0, c1) where the source is contiguous
 *  along r and the destination along c: 8 x 8 tiles in registers
 *  (loomrtTranspose8x8Avx2), the edges scalar.
 *  Element by element, every load and store of a transpose hits another
 *  line and the loop ran at ~4 cycles an element. */
__attribute__((target("avx2"))) static void
transposeBlockAvx2(const float *s, int64_t s_cs, float *d, int64_t d_rs,
                   int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  int64_t r8 = r0 + (r1 - r0) / 8 * 8, c8 = c0 + (c1 - c0) / 8 * 8;
  for (int64_t c = c0; c < c8; c += 8)
    for (int64_t r = r0; r < r8; r += 8) {
      /* In: row i = source column c + i, elements r .. r + 7; out: row
       * r + i, elements c .. c + 7. */
      loomrtTranspose8x8Avx2(s + c * s_cs + r, s_cs, d + r * d_rs + c, d_rs);
    }
  copyBlockScalar(s, 1, s_cs, d, d_rs, 1, r8, r1, c0, c1);
  copyBlockScalar(s, 1, s_cs, d, d_rs, 1, r0, r8, c8, c1);
}

/** Whether the AVX2 tiles may run: the CPU has AVX2 and LOOMRT_MAX_ISA
 *  allows 256-bit vectors (as for the GEMM kernels). */
static int useAvx2(void) {
  static int answer = -1; /* Benign race: every thread computes the same. */
  if (answer < 0) {
    __builtin_cpu_init();
    answer = loomrtIsaCap(getenv("LOOMRT_MAX_ISA")) >= LOOMRT_ISA_256 &&
             __builtin_cpu_supports("avx2");
  }
  return answer;
}
#endif

void loomrt_transpose_f32(int64_t batch, int64_t rows, int64_t cols,
                          const float *src, int64_t s_bs, int64_t s_rs,
                          int64_t s_cs, float *dst, int64_t d_bs, int64_t d_rs,
                          int64_t d_cs) {
  if (batch <= 0 || rows <= 0 || cols <= 0)
    return;
  int64_t rowBlocks = (rows + BLOCK - 1) / BLOCK;
  int64_t colBlocks = (cols + BLOCK - 1) / BLOCK;
  int64_t blocks = batch * rowBlocks * colBlocks;
  /* Source contiguous along rows, destination along columns: a transpose
   * the AVX2 tiles take. */
  int transposed = s_rs == 1 && d_cs == 1;
#ifdef LOOMRT_HAVE_AVX2_TRANSPOSE
  transposed = transposed && useAvx2();
#endif
  int threads = 1;
#ifdef LOOMRT_KERNELS_OPENMP
  /* Below ~16K elements the fork costs more than the copy saves. */
  if (!omp_in_parallel() && (double)batch * rows * cols >= 16384.0)
    threads = omp_get_max_threads();
#pragma omp parallel for schedule(static)                                      \
    num_threads(threads) if (threads > 1 && blocks > 1)
#endif
  for (int64_t block = 0; block < blocks; ++block) {
    int64_t b = block / (rowBlocks * colBlocks);
    int64_t rest = block % (rowBlocks * colBlocks);
    int64_t r0 = rest / colBlocks * BLOCK, c0 = rest % colBlocks * BLOCK;
    int64_t r1 = r0 + BLOCK < rows ? r0 + BLOCK : rows;
    int64_t c1 = c0 + BLOCK < cols ? c0 + BLOCK : cols;
    const float *s = src + b * s_bs;
    float *d = dst + b * d_bs;
#ifdef LOOMRT_HAVE_AVX2_TRANSPOSE
    if (transposed) {
      transposeBlockAvx2(s, s_cs, d, d_rs, r0, r1, c0, c1);
      continue;
    }
#endif
    copyBlockScalar(s, s_rs, s_cs, d, d_rs, d_cs, r0, r1, c0, c1);
  }
  (void)threads;
  (void)transposed;
}
