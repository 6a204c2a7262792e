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

#include <stdint.h>
#include <stdlib.h>
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

/** Whether the AVX-512 row code may run: the CPU has AVX-512F and
 *  LOOMRT_MAX_ISA allows it. */
static inline int loomrtUseAvx512Rows(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
  __builtin_cpu_init();
  return loomrtIsaCap(getenv("LOOMRT_MAX_ISA")) >= LOOMRT_ISA_512 &&
         __builtin_cpu_supports("avx512f");
#else
  return 0;
#endif
}

/** The float whose bit pattern is the low 32 bits of `bits` (how loomc
 *  passes float arguments: epsilons, scales). */
static inline float loomrtFloatFromBits(int64_t bits) {
  uint32_t u = (uint32_t)bits;
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

#endif /* LOOMRT_KERNELS_ISA_H */
