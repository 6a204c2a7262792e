/*===- tiles.h - The GEMM's register tiles for other kernels ------*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * sgemm.c's AVX-512 register tiles, for kernels that run their own loops
 * around them (attention.c): one call per 12 x 32 block of C, without the
 * blocking and dispatch of loomrt_sgemm_f32.
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_KERNELS_TILES_H
#define LOOMRT_KERNELS_TILES_H

#include <stdint.h>

/** Rows of a register tile (at most); its columns are LOOMRT_TILE_COLS. */
#define LOOMRT_TILE_ROWS 12
#define LOOMRT_TILE_COLS 32

/** Whether the AVX-512 tiles are in use on this CPU (loomrt_sgemm_f32's
 *  choice, capped by LOOMRT_MAX_ISA). Without them loomrtTile must not be
 *  called. */
int loomrtHaveTiles(void);

/** C[0:nrows, 0:32] (+ C's old value with `accumulate`) = A · [B0 B1] over
 *  kc steps, for 1 <= nrows <= 12: row i of A at a + i * lda (row-major,
 *  read in place), B0 and B1 two prepacked 16-column panels (row p of each
 *  at b[p * 16]), C with row stride ldc. Only the nrows rows of C are
 *  written. Requires loomrtHaveTiles(). */
void loomrtTile(int nrows, int64_t kc, const float *a, int64_t lda,
                const float *b0, const float *b1, float *c, int64_t ldc,
                int accumulate);

/** loomrtTile on 12 rows, without `accumulate`, that also folds each row
 *  of the result into a running maximum: rowMax[16 i, 16 i + 16) (64-byte
 *  aligned) becomes the elementwise max of itself and C[i, 0:16] and
 *  C[i, 16:32], so that a row's max over many tiles is one horizontal
 *  reduction at the end. Requires loomrtHaveTiles(). */
void loomrtTileMax(int64_t kc, const float *a, int64_t lda, const float *b0,
                   const float *b1, float *c, int64_t ldc, float *rowMax);

#endif /* LOOMRT_KERNELS_TILES_H */
