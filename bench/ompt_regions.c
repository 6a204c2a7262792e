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
 * for regions over 20 us. Nested (serialized) regions overwrite the
 * enclosing region's start time: read their totals with care.
 *
 *===----------------------------------------------------------------------===*/

#include <omp-tools.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { MAX_REGIONS = 4096, MAX_THREADS = 4 };

static struct {
  const void *callSite;
  double total, wait[MAX_THREADS];
  long calls;
} regions[MAX_REGIONS];
static int numRegions, numThreads;
static _Thread_local int threadNum;
static _Thread_local double regionBegin, waitBegin;

static double nowUs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static int regionSlot(const void *callSite) {
  for (int i = 0; i < numRegions; ++i)
    if (regions[i].callSite == callSite)
      return i;
  if (numRegions == MAX_REGIONS)
    return MAX_REGIONS - 1;
  regions[numRegions].callSite = callSite;
  return numRegions++;
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
  regionBegin = nowUs();
  parallel->value = (uint64_t)regionSlot(callSite);
}

static void onParallelEnd(ompt_data_t *parallel, ompt_data_t *task, int flags,
                          const void *callSite) {
  (void)task;
  (void)flags;
  (void)callSite;
  regions[parallel->value].total += nowUs() - regionBegin;
  regions[parallel->value].calls++;
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
    total += regions[i].total;
    for (int t = 0; t < MAX_THREADS; ++t)
      waits[t] += regions[i].wait[t];
  }
  fprintf(stderr, "%d regions; per call: %.1f us in regions, waits", numRegions,
          total / runs);
  for (int t = 0; t < numThreads && t < MAX_THREADS; ++t)
    fprintf(stderr, " %.1f", waits[t] / runs);
  fprintf(stderr, "\ncall site         calls     us  waits (us, per thread)\n");
  for (int i = 0; i < numRegions; ++i) {
    if (regions[i].total / runs <= 20)
      continue;
    fprintf(stderr, "%-16p %6.1f %7.1f ", regions[i].callSite,
            regions[i].calls / runs, regions[i].total / runs);
    for (int t = 0; t < numThreads && t < MAX_THREADS; ++t)
      fprintf(stderr, " %7.1f", regions[i].wait[t] / runs);
    fprintf(stderr, "\n");
  }
}

ompt_start_tool_result_t *ompt_start_tool(unsigned int version,
                                          const char *runtime) {
  (void)version;
  (void)runtime;
  static ompt_start_tool_result_t result = {initialize, finalize, {0}};
  return &result;
}
