/*===- parallel.h - Loops shared by the threads through a counter -*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * The kernels share their loops over units of work (tiles, heads, column
 * blocks) dynamically: the two vCPUs of the development VM are not always
 * equally fast. They do it with one atomic counter per loop instead of
 * `omp for schedule(dynamic)`: Debian's libomp formats a debug message with
 * snprintf in every __kmp_dispatch_init and __kmp_dispatch_next call (5
 * messages per unit, ~1,300 per BERT call at sequence length 1), whether or
 * not tracing is on.
 *
 *   int64_t next = 0;
 *   #pragma omp parallel num_threads(threads) if (threads > 1 && items > 1)
 *   for (int64_t item; (item = loomrtTakeItem(&next)) < items;)
 *     work(item);
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_KERNELS_PARALLEL_H
#define LOOMRT_KERNELS_PARALLEL_H

#include <stdint.h>

/** The next unclaimed item of a loop whose counter, shared by the team, is
 *  *next (0 before the loop): each item goes to exactly one thread; a
 *  result at or past the item count means the loop is done. */
static inline int64_t loomrtTakeItem(int64_t *next) {
  return __atomic_fetch_add(next, 1, __ATOMIC_RELAXED);
}

/** Claims an item of a loop split into `parts` contiguous ranges, one per
 *  thread of the team, as OpenMP's static schedule splits a loop:
 *  ranges[t] holds thread t's unclaimed items [front, back) as
 *  front | back << 32. Thread `me` takes the front of its own range, and
 *  once that is empty the back of another's, so that each thread works on
 *  the part of the data a statically scheduled producer left in its cache,
 *  while a faster thread still finishes a slower one's part. Returns the
 *  item (an index within range *owner), or -1 when every range is empty. */
static inline int64_t loomrtTakeOwnFirst(uint64_t *ranges, int64_t parts,
                                         int64_t me, int64_t *owner) {
  for (int64_t i = 0; i < parts; ++i) {
    int64_t t = (me + i) % parts;
    uint64_t cur = __atomic_load_n(&ranges[t], __ATOMIC_RELAXED);
    for (;;) {
      uint64_t front = cur & 0xffffffffu, back = cur >> 32;
      if (front >= back)
        break;
      uint64_t taken =
          t == me ? (back << 32) | (front + 1) : ((back - 1) << 32) | front;
      if (__atomic_compare_exchange_n(&ranges[t], &cur, taken, 0,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        *owner = t;
        return (int64_t)(t == me ? front : back - 1);
      }
    }
  }
  return -1;
}

#endif /* LOOMRT_KERNELS_PARALLEL_H */
