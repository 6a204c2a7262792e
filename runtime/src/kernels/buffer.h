/*===- buffer.h - Grow-only scratch buffers of the kernels --------*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * The kernels keep their packing and quantization buffers per thread
 * (_Thread_local) from one call to the next: a fresh block per call would
 * be mmapped and fault its pages in every time.
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_KERNELS_BUFFER_H
#define LOOMRT_KERNELS_BUFFER_H

#include <stddef.h>
#include <stdlib.h>

/** *buffer, 64-byte aligned, grown (never shrunk) to at least `bytes`
 *  bytes, with its size in *capacity; NULL when out of memory. */
static inline void *loomrtReserve(void **buffer, size_t *capacity,
                                  size_t bytes) {
  if (*capacity < bytes) {
    free(*buffer);
    size_t size = (bytes + 63) & ~(size_t)63;
    *buffer = aligned_alloc(64, size);
    *capacity = *buffer ? size : 0;
  }
  return *buffer;
}

#endif /* LOOMRT_KERNELS_BUFFER_H */
