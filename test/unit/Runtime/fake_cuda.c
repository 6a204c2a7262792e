/*===- fake_cuda.c - A CUDA driver stand-in for CudaBackendTest ----------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * Built as libcuda.so.1 (SONAME libcuda.so.1) for the unit test of loomrt's
 * CUDA backend: loaded by path before the backend's dlopen("libcuda.so.1"),
 * which then finds it. It implements the driver calls the backend resolves
 * on host memory, counts calls, and fails a call on request, so that the
 * backend's bookkeeping and error paths run without a GPU. It does not run
 * kernels. Also used by test/loomc/cuda-fake-driver.test (LD_LIBRARY_PATH).
 *
 *===----------------------------------------------------------------------===*/

#include <stdlib.h>
#include <string.h>

typedef int CUresult;

/* What the test sets and reads (fake_cuda_*). */
static int failLaunch, failModuleLoad;
static int launches, allocations, frees;
static unsigned lastGrid[3], lastBlock[3];
static size_t freeMemory = 64u << 20;

void fake_cuda_fail_launch(int code) { failLaunch = code; }
void fake_cuda_fail_module_load(int code) { failModuleLoad = code; }
int fake_cuda_launches(void) { return launches; }
int fake_cuda_allocations(void) { return allocations; }
int fake_cuda_frees(void) { return frees; }
unsigned fake_cuda_last_grid(int d) { return lastGrid[d]; }
unsigned fake_cuda_last_block(int d) { return lastBlock[d]; }

CUresult cuGetErrorName(CUresult r, const char **name) {
  *name = r == 719   ? "CUDA_ERROR_LAUNCH_FAILED"
          : r == 218 ? "CUDA_ERROR_INVALID_PTX"
                     : "CUDA_ERROR_UNKNOWN";
  return 0;
}
CUresult cuGetErrorString(CUresult r, const char **text) {
  *text = r == 719 ? "unspecified launch failure" : "fake error";
  return 0;
}
/* FAKE_CUDA_FAIL_LAUNCH=<code> makes every launch fail (lit tests of a
 * model's run-time errors set it). */
CUresult cuInit(unsigned flags) {
  const char *fail = getenv("FAKE_CUDA_FAIL_LAUNCH");
  if (fail)
    failLaunch = atoi(fail);
  return flags ? 1 : 0;
}
CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return 0;
}
CUresult cuDeviceGetName(char *name, int len, int device) {
  (void)device;
  strncpy(name, "Fake GPU", (size_t)len);
  return 0;
}
static int contextObject;
CUresult cuDevicePrimaryCtxRetain(void **ctx, int device) {
  (void)device;
  *ctx = &contextObject;
  return 0;
}
CUresult cuCtxSetCurrent(void *ctx) { return ctx == &contextObject ? 0 : 1; }
CUresult cuCtxSynchronize(void) { return 0; }
static int moduleObject, functionObject, streamObject;
CUresult cuModuleLoadData(void **module, const void *image) {
  if (failModuleLoad)
    return failModuleLoad;
  *module = image ? &moduleObject : NULL;
  return image ? 0 : 1;
}
CUresult cuModuleUnload(void *module) { return module == &moduleObject ? 0 : 1; }
CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
  *function = module == &moduleObject && name ? &functionObject : NULL;
  return *function ? 0 : 500;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *stream, void **params, void **extra) {
  (void)smem, (void)stream, (void)params, (void)extra;
  if (f != &functionObject)
    return 400;
  if (failLaunch)
    return failLaunch;
  ++launches;
  lastGrid[0] = gx, lastGrid[1] = gy, lastGrid[2] = gz;
  lastBlock[0] = bx, lastBlock[1] = by, lastBlock[2] = bz;
  return 0;
}
CUresult cuStreamCreate(void **stream, unsigned flags) {
  (void)flags;
  *stream = &streamObject;
  return 0;
}
CUresult cuStreamSynchronize(void *stream) {
  return stream == &streamObject ? 0 : 400;
}
CUresult cuMemAllocManaged(unsigned long long *ptr, size_t size,
                           unsigned flags) {
  (void)flags;
  void *p = malloc(size);
  *ptr = (unsigned long long)(size_t)p;
  ++allocations;
  return p ? 0 : 2;
}
CUresult cuMemFree_v2(unsigned long long ptr) {
  free((void *)(size_t)ptr);
  ++frees;
  return 0;
}
CUresult cuMemGetInfo_v2(size_t *freeBytes, size_t *total) {
  *freeBytes = freeMemory;
  *total = 2 * freeMemory;
  return 0;
}

/* Kernel timing: every timed launch takes 1.5 ms. */
static int eventObjects[2], nextEvent, prefetches;
int fake_cuda_prefetches(void) { return prefetches; }
CUresult cuEventCreate(void **event, unsigned flags) {
  (void)flags;
  *event = &eventObjects[nextEvent++ % 2];
  return 0;
}
CUresult cuEventRecord(void *event, void *stream) {
  (void)stream;
  return event ? 0 : 400;
}
CUresult cuEventSynchronize(void *event) { return event ? 0 : 400; }
CUresult cuEventElapsedTime(float *ms, void *start, void *stop) {
  *ms = start != stop ? 1.5f : 0.0f;
  return 0;
}
CUresult cuMemPrefetchAsync(unsigned long long ptr, size_t size, int device,
                            void *stream) {
  (void)ptr, (void)size, (void)device, (void)stream;
  ++prefetches;
  return 0;
}
