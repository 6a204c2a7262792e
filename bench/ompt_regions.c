/*===- ompt_regions.c - Per-parallel-region times and barrier waits -------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * An OMPT tool for libomp: for every parallel region (keyed by its call
 * site) it sums the master's wall time and each thread's wait at the
 * region's implicit barriers, and prints them per model call when the
 * process exits. A thread that waits for most of a region means the work
 * was not shared (that is how a sequential head loop was found).
 *
 *   clang-22 -O2 -shared -fPIC bench/ompt_regions.c -o /tmp/ompt_regions.so
 *   RUNS=52 OMP_TOOL_LIBRARIES=/tmp/ompt_regions.so \
 *     build/bin/loom-run model.so --inputs DIR --bench 50 --threads 2
 *
 * RUNS is the number of model calls in the process (loom-run makes
 * --bench + --warmup + 1); times are printed per call, in microseconds,
 * for regions over 20 us. Each call site is printed as its module and
 * offset (`objdump -d --start-address=OFFSET module` or `addr2line -f -e
 * module OFFSET` names the function). Regions begun inside another (a
 * kernel's serialized inner region, such as the GEMMs inside attention's
 * threads) are marked "nested": their time is part of the enclosing
 * region's, and the total counts outermost regions only.
 *
 *===----------------------------------------------------------------------===*/

#define _GNU_SOURCE
#include <dlfcn.h>
#include <omp-tools.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_REGIONS = 4096, MAX_THREADS = 4, MAX_DEPTH = 16 };

static struct {
  const void *callSite;
  /* Where it is, looked up when first seen (the model may be unloaded by
   * the time the process exits). */
  char module[64], symbol[64];
  unsigned long offset;
  double total, wait[MAX_THREADS];
  long calls, nested;
} regions[MAX_REGIONS];
static int numRegions, numThreads;
static _Thread_local int threadNum;
/* The begin times of the regions this thread has begun and not ended,
 * innermost last: a region begun inside another must not overwrite the
 * enclosing one's. */
static _Thread_local double regionBegin[MAX_DEPTH], waitBegin;
static _Thread_local int depth;

static double nowUs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

/** *sum += x, atomically. */
static void addDouble(double *sum, double x) {
  double old, updated;
  __atomic_load(sum, &old, __ATOMIC_RELAXED);
  do
    updated = old + x;
  while (!__atomic_compare_exchange(sum, &old, &updated, 0, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED));
}

/** The slot of callSite among the first `count` regions, or -1. */
static int findRegion(const void *callSite, int count) {
  for (int i = 0; i < count; ++i)
    if (regions[i].callSite == callSite)
      return i;
  return -1;
}

static int regionSlot(const void *callSite) {
  /* Regions begin on several threads (nested ones): a lock-free search,
   * then a locked insertion. */
  int slot =
      findRegion(callSite, __atomic_load_n(&numRegions, __ATOMIC_ACQUIRE));
  if (slot >= 0)
    return slot;
  static int lock;
  while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
    ;
  slot = findRegion(callSite, numRegions);
  if (slot < 0 && numRegions == MAX_REGIONS)
    slot = MAX_REGIONS - 1;
  if (slot < 0) {
    slot = numRegions;
    regions[slot].callSite = callSite;
    Dl_info info;
    if (dladdr(callSite, &info) && info.dli_fname) {
      const char *name = strrchr(info.dli_fname, '/');
      snprintf(regions[slot].module, sizeof regions[slot].module, "%s",
               name ? name + 1 : info.dli_fname);
      regions[slot].offset = (unsigned long)((const char *)callSite -
                                             (const char *)info.dli_fbase);
      if (info.dli_sname)
        snprintf(regions[slot].symbol, sizeof regions[slot].symbol, " (%s)",
                 info.dli_sname);
    }
    __atomic_store_n(&numRegions, numRegions + 1, __ATOMIC_RELEASE);
  }
  __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
  return slot;
}

static void onThreadBegin(ompt_thread_t type, ompt_data_t *data) {
  (void)type;
  (void)data;
  threadNum = __atomic_fetch_add(&numThreads, 1, __ATOMIC_RELAXED);
}

static void onParallelBegin(ompt_data_t *task, const ompt_frame_t *frame,
                            ompt_data_t *parallel, unsigned int size, int flags,
                            const void *callSite) {
  (void)task;
  (void)frame;
  (void)size;
  (void)flags;
  int slot = regionSlot(callSite);
  if (depth < MAX_DEPTH)
    regionBegin[depth] = nowUs();
  if (depth > 0)
    __atomic_store_n(&regions[slot].nested, 1, __ATOMIC_RELAXED);
  ++depth;
  parallel->value = (uint64_t)slot;
}

static void onParallelEnd(ompt_data_t *parallel, ompt_data_t *task, int flags,
                          const void *callSite) {
  (void)task;
  (void)flags;
  (void)callSite;
  if (depth == 0)
    return;
  --depth;
  if (depth >= MAX_DEPTH)
    return;
  /* Nested regions end on several threads at the same time. */
  addDouble(&regions[parallel->value].total, nowUs() - regionBegin[depth]);
  __atomic_fetch_add(&regions[parallel->value].calls, 1, __ATOMIC_RELAXED);
}

static void onSyncWait(ompt_sync_region_t kind, ompt_scope_endpoint_t end,
                       ompt_data_t *parallel, ompt_data_t *task,
                       const void *callSite) {
  (void)task;
  (void)callSite;
  if (kind != ompt_sync_region_barrier_implicit_parallel &&
      kind != ompt_sync_region_barrier_implicit &&
      kind != ompt_sync_region_barrier_implicit_workshare)
    return;
  if (end == ompt_scope_begin)
    waitBegin = nowUs();
  else if (parallel && threadNum < MAX_THREADS)
    regions[parallel->value].wait[threadNum] += nowUs() - waitBegin;
}

static int initialize(ompt_function_lookup_t lookup, int device,
                      ompt_data_t *data) {
  (void)device;
  (void)data;
  ompt_set_callback_t set = (ompt_set_callback_t)lookup("ompt_set_callback");
  set(ompt_callback_thread_begin, (ompt_callback_t)onThreadBegin);
  set(ompt_callback_parallel_begin, (ompt_callback_t)onParallelBegin);
  set(ompt_callback_parallel_end, (ompt_callback_t)onParallelEnd);
  set(ompt_callback_sync_region_wait, (ompt_callback_t)onSyncWait);
  return 1;
}

static void finalize(ompt_data_t *data) {
  (void)data;
  const char *env = getenv("RUNS");
  double runs = env ? atof(env) : 1.0;
  double total = 0, waits[MAX_THREADS] = {0};
  for (int i = 0; i < numRegions; ++i) {
    if (regions[i].nested)
      continue;
    total += regions[i].total;
    for (int t = 0; t < MAX_THREADS; ++t)
      waits[t] += regions[i].wait[t];
  }
  fprintf(stderr, "%d regions; per call: %.1f us in regions, waits", numRegions,
          total / runs);
  for (int t = 0; t < numThreads && t < MAX_THREADS; ++t)
    fprintf(stderr, " %.1f", waits[t] / runs);
  fprintf(stderr, "\n   calls       us  waits (us, per thread)   call site\n");
  for (int i = 0; i < numRegions; ++i) {
    if (regions[i].total / runs <= 20)
      continue;
    fprintf(stderr, "%8.1f %8.1f ", regions[i].calls / runs,
            regions[i].total / runs);
    for (int t = 0; t < numThreads && t < MAX_THREADS; ++t)
      fprintf(stderr, " %7.1f", regions[i].wait[t] / runs);
    if (regions[i].module[0])
      fprintf(stderr, "   %s+0x%lx%s", regions[i].module, regions[i].offset,
              regions[i].symbol);
    else
      fprintf(stderr, "   %p", regions[i].callSite);
    fprintf(stderr, "%s\n", regions[i].nested ? "  nested" : "");
  }
}

ompt_start_tool_result_t *ompt_start_tool(unsigned int version,
                                          const char *runtime) {
  (void)version;
  (void)runtime;
  static ompt_start_tool_result_t result = {initialize, finalize, {0}};
  return &result;
}
