/*===- norm.h - Row-wise norms for other kernels ------------------*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * norm.c's rows, for sgemm.c's loomrt_sgemm_norm_f32, which normalizes a
 * product's row blocks as they complete.
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_KERNELS_NORM_H
#define LOOMRT_KERNELS_NORM_H

#include <stdint.h>

/** A row-wise norm: row r of x (at x + r * x_rs, cols floats) normalized
 *  into row r of the row-major [rows, cols] y. */
typedef struct {
  int64_t rows, cols;
  const float *x;
  int64_t x_rs;
  float *y;
  const float *scale, *bias; /* NULL: none */
  float eps;
  int kind; /* LOOMRT_NORM_* */
} LoomrtNorm;

/** Rows [r0, r1) of `nm`, on the calling thread. */
void loomrtNormRows(const LoomrtNorm *nm, int64_t r0, int64_t r1);

#endif /* LOOMRT_KERNELS_NORM_H */
