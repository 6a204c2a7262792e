/*===- isa.h - The instruction-set cap of the kernels -------------*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * The kernels that choose an instruction set (sgemm.c, igemm.c) read the
 * same cap: LOOMRT_MAX_ISA or their *_set_max_isa argument.
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_KERNELS_ISA_H
#define LOOMRT_KERNELS_ISA_H

#include <string.h>

/** Vector widths a cap allows. */
enum { LOOMRT_ISA_PORTABLE = 0, LOOMRT_ISA_256 = 1, LOOMRT_ISA_512 = 2 };

/** The widest vectors `cap` allows: NULL or "avx512" any, "avx2" 256-bit,
 *  anything else portable code only. */
static inline int loomrtIsaCap(const char *cap) {
  if (!cap || !strcmp(cap, "avx512"))
    return LOOMRT_ISA_512;
  return !strcmp(cap, "avx2") ? LOOMRT_ISA_256 : LOOMRT_ISA_PORTABLE;
}

#endif /* LOOMRT_KERNELS_ISA_H */
