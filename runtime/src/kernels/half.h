/*===- half.h - IEEE half-precision values as floats --------------*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * The kernels whose scales may be fp16 (qgemm.c, i4gemm.c) read them with
 * the same conversion on their portable paths.
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_KERNELS_HALF_H
#define LOOMRT_KERNELS_HALF_H

#include <stdint.h>
#include <string.h>

/** An IEEE half-precision value (its bits) as a float (exact). */
static inline float loomrtHalfToFloat(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31,
           mant = h & 1023, bits;
  if (exp == 31) { /* inf, nan */
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp) { /* normal */
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant) { /* subnormal: normalize */
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while (!(mant & 1024));
    bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 1023) << 13);
  } else {
    bits = sign;
  }
  float f;
  memcpy(&f, &bits, sizeof(f));
  return f;
}

/** Element i of scales stored as fp32 (f32) or IEEE half precision. */
static inline float loomrtScaleAt(const void *scale, int f32, int64_t i) {
  return f32 ? ((const float *)scale)[i]
             : loomrtHalfToFloat(((const uint16_t *)scale)[i]);
}

/** Copies scale `from` of `src` (fp32 when f32, else fp16 bits) to entry
 *  `to` of `dst`, or a zero scale when !valid (padding past column n). */
static inline void loomrtCopyScale(void *dst, int64_t to, const void *src,
                                   int64_t from, int f32, int valid) {
  if (f32)
    ((float *)dst)[to] = valid ? ((const float *)src)[from] : 0.0f;
  else
    ((uint16_t *)dst)[to] = valid ? ((const uint16_t *)src)[from] : 0;
}

#endif /* LOOMRT_KERNELS_HALF_H */
