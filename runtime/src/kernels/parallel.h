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

#endif /* LOOMRT_KERNELS_PARALLEL_H */
