/*===- cuda.c - The CUDA device backend of GPU models ---------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * Linked into every model `loomc --target=cuda` builds (libloomrt_cuda.a).
 * It provides what the generated host code calls: the mgpu* functions of
 * MLIR's GPU-to-LLVM lowering (module load, kernel launch, streams) and the
 * memref allocation functions, which hand out CUDA managed memory so that
 * both the host code and the kernels address every buffer.
 *
 * The CUDA driver is loaded with dlopen("libcuda.so.1") on first use: no
 * link-time CUDA dependency, so CPU-only machines build and load GPU models.
 * The generated code cannot take errors, so every failure is recorded
 * (the first one wins), kernels are no longer launched after one, and
 * allocations fall back to host memory so that the host code completes;
 * loomrt reads the error with loom_cuda_take_error() after each run and
 * returns LOOMRT_DEVICE_ERROR (docs/Runtime.md).
 *
 *===----------------------------------------------------------------------===*/

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOM_CUDA_EXPORT __attribute__((visibility("default")))

/* The driver API's types, as cuda.h declares them (no header needed). */
typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef void *CUevent;
typedef unsigned long long CUdeviceptr;
enum { CUDA_SUCCESS = 0, CU_MEM_ATTACH_GLOBAL = 1 };

/* The driver functions Loom calls, resolved from libcuda.so.1. */
static struct {
  CUresult (*init)(unsigned);
  CUresult (*deviceGet)(CUdevice *, int);
  CUresult (*deviceGetName)(char *, int, CUdevice);
  CUresult (*primaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*ctxSetCurrent)(CUcontext);
  CUresult (*ctxSynchronize)(void);
  CUresult (*moduleLoadData)(CUmodule *, const void *);
  CUresult (*moduleUnload)(CUmodule);
  CUresult (*moduleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*launchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, CUstream, void **,
                           void **);
  CUresult (*streamCreate)(CUstream *, unsigned);
  CUresult (*streamSynchronize)(CUstream);
  CUresult (*memAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*memGetInfo)(size_t *, size_t *);
  CUresult (*memFree)(CUdeviceptr);
  CUresult (*getErrorName)(CUresult, const char **);
  CUresult (*getErrorString)(CUresult, const char **);
  /* Optional: kernel timing (loom_cuda_profile) needs them. */
  CUresult (*eventCreate)(CUevent *, unsigned);
  CUresult (*eventRecord)(CUevent, CUstream);
  CUresult (*eventSynchronize)(CUevent);
  CUresult (*eventElapsedTime)(float *, CUevent, CUevent);
  /* Optional: moving managed memory to the device before launches. */
  CUresult (*memPrefetchAsync)(CUdeviceptr, size_t, CUdevice, CUstream);
} cu;

static pthread_once_t initOnce = PTHREAD_ONCE_INIT;
static bool ready; /* the driver, a device and its context are up */
static CUcontext context;
static CUdevice theDevice;
static char deviceName[128];
/* Managed bytes allocated and not freed (kept blocks included), and the
 * most the model may hold: 90% of the device memory free at start. */
static size_t managedBytes, managedLimit;
/* One stream per host thread: launches on it are synchronous. */
static __thread CUstream threadStream;

/* The first error since the last loom_cuda_take_error(). */
static pthread_mutex_t errorLock = PTHREAD_MUTEX_INITIALIZER;
static int errorCode;
static char errorMessage[512];

/* Records an error (CUDA's result code, or -1 for Loom's own) unless one is
 * already recorded. */
static void recordError(int code, const char *format, ...) {
  pthread_mutex_lock(&errorLock);
  if (!errorCode) {
    errorCode = code ? code : -1;
    va_list args;
    va_start(args, format);
    vsnprintf(errorMessage, sizeof errorMessage, format, args);
    va_end(args);
  }
  pthread_mutex_unlock(&errorLock);
}

static bool hasError(void) {
  pthread_mutex_lock(&errorLock);
  bool has = errorCode != 0;
  pthread_mutex_unlock(&errorLock);
  return has;
}

/* Records a failed driver call: "<what>: CUDA_ERROR_X (description)". */
static bool check(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return true;
  const char *name = "unknown CUDA error", *text = "";
  if (cu.getErrorName)
    cu.getErrorName(result, &name);
  if (cu.getErrorString)
    cu.getErrorString(result, &text);
  recordError(result, "%s: %s (%s)", what, name, text ? text : "");
  return false;
}

static void initialize(void) {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    recordError(-1, "cannot load the CUDA driver (libcuda.so.1): %s",
                dlerror());
    return;
  }
#define RESOLVE(field, symbol)                                                 \
  do {                                                                         \
    void *p = dlsym(lib, symbol);                                              \
    if (!p) {                                                                  \
      recordError(-1, "the CUDA driver lacks %s", symbol);                     \
      return;                                                                  \
    }                                                                          \
    memcpy(&cu.field, &p, sizeof p);                                           \
  } while (0)
  RESOLVE(getErrorName, "cuGetErrorName");
  RESOLVE(getErrorString, "cuGetErrorString");
  RESOLVE(init, "cuInit");
  RESOLVE(deviceGet, "cuDeviceGet");
  RESOLVE(deviceGetName, "cuDeviceGetName");
  RESOLVE(primaryCtxRetain, "cuDevicePrimaryCtxRetain");
  RESOLVE(ctxSetCurrent, "cuCtxSetCurrent");
  RESOLVE(ctxSynchronize, "cuCtxSynchronize");
  RESOLVE(moduleLoadData, "cuModuleLoadData");
  RESOLVE(moduleUnload, "cuModuleUnload");
  RESOLVE(moduleGetFunction, "cuModuleGetFunction");
  RESOLVE(launchKernel, "cuLaunchKernel");
  RESOLVE(streamCreate, "cuStreamCreate");
  RESOLVE(streamSynchronize, "cuStreamSynchronize");
  RESOLVE(memAllocManaged, "cuMemAllocManaged");
  RESOLVE(memFree, "cuMemFree_v2");
  RESOLVE(memGetInfo, "cuMemGetInfo_v2");
#undef RESOLVE
#define RESOLVE_OPTIONAL(field, symbol)                                        \
  do {                                                                         \
    void *p = dlsym(lib, symbol);                                              \
    memcpy(&cu.field, &p, sizeof p);                                           \
  } while (0)
  RESOLVE_OPTIONAL(eventCreate, "cuEventCreate");
  RESOLVE_OPTIONAL(eventRecord, "cuEventRecord");
  RESOLVE_OPTIONAL(eventSynchronize, "cuEventSynchronize");
  RESOLVE_OPTIONAL(eventElapsedTime, "cuEventElapsedTime");
  RESOLVE_OPTIONAL(memPrefetchAsync, "cuMemPrefetchAsync");
#undef RESOLVE_OPTIONAL
  CUdevice device;
  if (!check(cu.init(0), "cuInit") ||
      !check(cu.deviceGet(&device, 0), "cuDeviceGet") ||
      !check(cu.primaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain"))
    return;
  theDevice = device;
  if (cu.deviceGetName(deviceName, sizeof deviceName, device) != CUDA_SUCCESS)
    strcpy(deviceName, "unknown");
  size_t freeBytes = 0, totalBytes = 0;
  if (!check(cu.ctxSetCurrent(context), "cuCtxSetCurrent") ||
      !check(cu.memGetInfo(&freeBytes, &totalBytes), "cuMemGetInfo"))
    return;
  managedLimit = freeBytes / 10 * 9;
  ready = true;
}

/* Whether the device is usable on this thread (its context current). */
static bool ensureContext(void) {
  pthread_once(&initOnce, initialize);
  if (!ready)
    return false;
  return check(cu.ctxSetCurrent(context), "cuCtxSetCurrent");
}

/*===-- What loomrt calls (exported from the model) -----------------------===*/

/* Initializes the device; 0, or the error code with its message. Also
 * reports a kernel module that failed to load when the library did. */
LOOM_CUDA_EXPORT int loom_cuda_init(char *message, size_t size);
/* The first error since the last call (0: none), its message in `message`;
 * clears it. */
LOOM_CUDA_EXPORT int loom_cuda_take_error(char *message, size_t size);
/* The device's name, or "" before a successful loom_cuda_init. */
LOOM_CUDA_EXPORT const char *loom_cuda_device_name(void);
/* Frees a buffer the model returned (loomrt copies outputs out first). */
LOOM_CUDA_EXPORT void loom_release(void *ptr);
/* Starts (1) or stops (0) timing every kernel launch with CUDA events;
 * 1 when timing is on, 0 when the driver cannot time (no device, no event
 * functions). */
LOOM_CUDA_EXPORT int loom_cuda_profile(int enable);
/* The device time of the kernels timed since the last call, in ms, and
 * their number in *launches (may be NULL); resets both. */
LOOM_CUDA_EXPORT double loom_cuda_take_kernel_ms(long long *launches);
/* Per kernel, since timing last started: the number of kernels timed, and
 * for i below it the i-th one's name, device time (ms) and launches. */
LOOM_CUDA_EXPORT int loom_cuda_kernel_stats(int i, const char **name,
                                            double *ms, long long *launches);

int loom_cuda_take_error(char *message, size_t size) {
  pthread_mutex_lock(&errorLock);
  int code = errorCode;
  if (code && message && size)
    snprintf(message, size, "%s", errorMessage);
  errorCode = 0;
  errorMessage[0] = 0;
  pthread_mutex_unlock(&errorLock);
  return code;
}

int loom_cuda_init(char *message, size_t size) {
  ensureContext();
  return loom_cuda_take_error(message, size);
}

const char *loom_cuda_device_name(void) { return ready ? deviceName : ""; }

/* Kernel timing: on or off, and what was measured since the last take. */
static bool profiling;
static double profiledMs;
static long long profiledLaunches;
static pthread_mutex_t profileLock = PTHREAD_MUTEX_INITIALIZER;
/* Per kernel: its name (from mgpuModuleGetFunction) and what was timed. */
enum { MAX_KERNELS = 512 };
static struct {
  CUfunction function;
  char name[96];
  double ms;
  long long launches;
} kernels[MAX_KERNELS];
static int numKernels;

/* The stats slot of `function`, added if new (-1 when the table is full).
 * Called with profileLock held. */
static int kernelSlot(CUfunction function, const char *name) {
  for (int i = 0; i < numKernels; ++i)
    if (kernels[i].function == function)
      return i;
  if (numKernels == MAX_KERNELS)
    return -1;
  kernels[numKernels].function = function;
  snprintf(kernels[numKernels].name, sizeof kernels[numKernels].name, "%s",
           name ? name : "?");
  kernels[numKernels].ms = 0;
  kernels[numKernels].launches = 0;
  return numKernels++;
}

/* Each host thread's pair of events around its launches. */
static __thread CUevent profileStart, profileStop;

int loom_cuda_profile(int enable) {
  if (!enable) {
    profiling = false;
    return 0;
  }
  if (!ensureContext() || !cu.eventCreate || !cu.eventRecord ||
      !cu.eventSynchronize || !cu.eventElapsedTime)
    return 0;
  pthread_mutex_lock(&profileLock);
  for (int i = 0; i < numKernels; ++i) {
    kernels[i].ms = 0;
    kernels[i].launches = 0;
  }
  pthread_mutex_unlock(&profileLock);
  profiling = true;
  return 1;
}

int loom_cuda_kernel_stats(int i, const char **name, double *ms,
                           long long *launches) {
  pthread_mutex_lock(&profileLock);
  int count = numKernels;
  if (i >= 0 && i < count) {
    if (name)
      *name = kernels[i].name;
    if (ms)
      *ms = kernels[i].ms;
    if (launches)
      *launches = kernels[i].launches;
  }
  pthread_mutex_unlock(&profileLock);
  return count;
}

double loom_cuda_take_kernel_ms(long long *launches) {
  pthread_mutex_lock(&profileLock);
  double ms = profiledMs;
  if (launches)
    *launches = profiledLaunches;
  profiledMs = 0;
  profiledLaunches = 0;
  pthread_mutex_unlock(&profileLock);
  return ms;
}

/*===-- Allocation: managed memory, kept for reuse ------------------------===*/

/* Every block starts with this header, 64 bytes before the pointer handed
 * out (managed memory is host-addressable, so the host code reads it). */
typedef struct {
  void *base;  /* what cuMemAllocManaged or malloc returned */
  size_t size; /* bytes of the whole block, from `base` */
  int managed; /* 1: managed memory, 0: host fallback */
  char pad[64 - 2 * sizeof(void *) - sizeof(int)];
} BlockHeader;
_Static_assert(sizeof(BlockHeader) == 64, "the header keeps 64-byte alignment");

enum { MAX_KEPT = 128 };
/* Freed managed blocks, kept for the next call (the model allocates its
 * intermediates on every call). */
static BlockHeader *kept[MAX_KEPT];
static int numKept;
static size_t keptBytes;
static const size_t MAX_KEPT_BYTES = (size_t)4 << 30;
static pthread_mutex_t keptLock = PTHREAD_MUTEX_INITIALIZER;

/* Managed blocks handed out since the last launch: the host may have
 * written them (arguments staged, constants copied, outputs read back from a
 * reused block), so they are prefetched to the device before the next
 * launch instead of migrating page by page on the kernels' faults. */
enum { MAX_PENDING = 256 };
static struct {
  void *base;
  size_t size;
} pending[MAX_PENDING];
static int numPending;

static void notePending(void *base, size_t size) {
  pthread_mutex_lock(&keptLock);
  if (numPending < MAX_PENDING) {
    pending[numPending].base = base;
    pending[numPending].size = size;
    ++numPending;
  }
  pthread_mutex_unlock(&keptLock);
}

/* Prefetches the pending blocks to the device on `stream` (ahead of the
 * launch in stream order). Failures only cost speed: not recorded. */
static void prefetchPending(CUstream stream) {
  if (!cu.memPrefetchAsync)
    return;
  pthread_mutex_lock(&keptLock);
  for (int i = 0; i < numPending; ++i)
    (void)cu.memPrefetchAsync((CUdeviceptr)(uintptr_t)pending[i].base,
                              pending[i].size, theDevice, stream);
  numPending = 0;
  pthread_mutex_unlock(&keptLock);
}

static void *allocate(uint64_t alignment, uint64_t size) {
  if (alignment < 64)
    alignment = 64;
  /* Slack so that the pointer after the header can be aligned. */
  uint64_t need = size + alignment + sizeof(BlockHeader);
  BlockHeader *block = NULL;
  pthread_mutex_lock(&keptLock);
  for (int i = 0; i < numKept; ++i) {
    size_t have = kept[i]->size;
    if (have >= need && have <= 2 * need + 65536) {
      block = kept[i];
      keptBytes -= have;
      kept[i] = kept[--numKept];
      break;
    }
  }
  pthread_mutex_unlock(&keptLock);
  void *base = block ? block->base : NULL;
  int managed = block ? block->managed : 0;
  uint64_t total = block ? block->size : need;
  if (!base && ensureContext() && !hasError()) {
    CUdeviceptr p = 0;
    /* Managed memory beyond what the device has free can hang the GPU when
     * the kernels touch it: refuse instead (every managed byte this model
     * holds counts, touched or not). */
    pthread_mutex_lock(&keptLock);
    bool fits = managedBytes + need <= managedLimit;
    if (fits)
      managedBytes += need;
    pthread_mutex_unlock(&keptLock);
    if (!fits)
      recordError(-1,
                  "the model needs more than the device's free memory (%llu "
                  "bytes held, %llu more asked for, %llu free at start)",
                  (unsigned long long)managedBytes, (unsigned long long)need,
                  (unsigned long long)managedLimit);
    else if (check(cu.memAllocManaged(&p, need, CU_MEM_ATTACH_GLOBAL),
                   "cuMemAllocManaged")) {
      base = (void *)(uintptr_t)p;
      managed = 1;
    }
    if (fits && !managed) {
      pthread_mutex_lock(&keptLock);
      managedBytes -= need;
      pthread_mutex_unlock(&keptLock);
    }
  }
  if (!base) {
    /* No device (already reported): host memory keeps the host code
     * running to its end. */
    base = malloc(need);
    managed = 0;
    if (!base)
      return NULL;
  }
  uintptr_t user = ((uintptr_t)base + sizeof(BlockHeader) + alignment - 1) &
                   ~(uintptr_t)(alignment - 1);
  BlockHeader *header = (BlockHeader *)(user - sizeof(BlockHeader));
  header->base = base;
  header->size = total;
  header->managed = managed;
  if (managed)
    notePending(base, total);
  return (void *)user;
}

static void release(void *ptr) {
  if (!ptr)
    return;
  BlockHeader header = *((BlockHeader *)ptr - 1);
  if (!header.managed) {
    free(header.base);
    return;
  }
  /* Keep it (its header moves to the block's start). */
  BlockHeader *block = (BlockHeader *)header.base;
  pthread_mutex_lock(&keptLock);
  for (int i = 0; i < numPending; ++i)
    if (pending[i].base == header.base)
      pending[i--] = pending[--numPending];
  if (numKept == MAX_KEPT || keptBytes + header.size > MAX_KEPT_BYTES) {
    pthread_mutex_unlock(&keptLock);
    if (ensureContext())
      check(cu.memFree((CUdeviceptr)(uintptr_t)header.base), "cuMemFree");
    pthread_mutex_lock(&keptLock);
    managedBytes -= header.size;
    pthread_mutex_unlock(&keptLock);
    return;
  }
  *block = header;
  kept[numKept++] = block;
  keptBytes += header.size;
  pthread_mutex_unlock(&keptLock);
}

void loom_release(void *ptr) { release(ptr); }

/*===-- Constants: one device-addressable copy per model load -------------===*/

enum { CONSTANT_SLOTS = 4096 };
/* Open addressing by host address; a slot's `host` is NULL when empty. */
static struct {
  const void *host;
  void *copy;
} constants[CONSTANT_SLOTS];
static int numConstants;
static pthread_mutex_t constantsLock = PTHREAD_MUTEX_INITIALIZER;

/* The managed copy of the constant at `host` (`bytes` long), made on first
 * use; the host address itself when there is no device (the error is
 * recorded) or the table is full. Called by the host code of a GPU model
 * for every read of a constant (loom-cache-gpu-constants). */
LOOM_CUDA_EXPORT void *loomrt_cuda_constant(const void *host, int64_t bytes);

void *loomrt_cuda_constant(const void *host, int64_t bytes) {
  uintptr_t h = (uintptr_t)host;
  unsigned slot = (unsigned)((h >> 4) ^ (h >> 17)) % CONSTANT_SLOTS;
  pthread_mutex_lock(&constantsLock);
  for (unsigned probe = 0; probe < CONSTANT_SLOTS; ++probe) {
    unsigned i = (slot + probe) % CONSTANT_SLOTS;
    if (constants[i].host == host) {
      void *copy = constants[i].copy;
      pthread_mutex_unlock(&constantsLock);
      return copy;
    }
    if (!constants[i].host) {
      slot = i;
      break;
    }
  }
  if (numConstants >= CONSTANT_SLOTS * 3 / 4 || !ensureContext() ||
      hasError()) {
    pthread_mutex_unlock(&constantsLock);
    return (void *)host;
  }
  void *copy = allocate(64, bytes > 0 ? (uint64_t)bytes : 1);
  BlockHeader *header = copy ? (BlockHeader *)copy - 1 : NULL;
  if (!header || !header->managed) {
    /* Refused (recorded): the host data serves the rest of the run. */
    if (copy)
      release(copy);
    pthread_mutex_unlock(&constantsLock);
    return (void *)host;
  }
  memcpy(copy, host, (size_t)bytes);
  constants[slot].host = host;
  constants[slot].copy = copy;
  ++numConstants;
  pthread_mutex_unlock(&constantsLock);
  return copy;
}

/* memref-to-LLVM's allocation functions (use-generic-functions). Hidden:
 * each model has its own. */
#define LOOM_CUDA_HIDDEN __attribute__((visibility("hidden")))
LOOM_CUDA_HIDDEN void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment,
                                                          uint64_t size) {
  return allocate(alignment, size);
}
LOOM_CUDA_HIDDEN void *_mlir_memref_to_llvm_alloc(uint64_t size) {
  return allocate(64, size);
}
LOOM_CUDA_HIDDEN void _mlir_memref_to_llvm_free(void *ptr) { release(ptr); }

/*===-- MLIR's GPU runtime functions (gpu-to-llvm) ------------------------===*/

LOOM_CUDA_HIDDEN void *mgpuModuleLoad(void *data, size_t size) {
  (void)size;
  CUmodule module = NULL;
  if (ensureContext())
    check(cu.moduleLoadData(&module, data), "loading the kernels (cubin)");
  return module;
}

LOOM_CUDA_HIDDEN void *mgpuModuleLoadJIT(void *data, int optLevel) {
  (void)optLevel;
  CUmodule module = NULL;
  /* cuModuleLoadData JIT-compiles PTX text. */
  if (ensureContext())
    check(cu.moduleLoadData(&module, data), "loading the kernels (PTX)");
  return module;
}

LOOM_CUDA_HIDDEN void mgpuModuleUnload(void *module) {
  /* Runs from a global destructor, possibly after the driver shut down at
   * exit: errors are of no interest any more. */
  if (module && ready)
    (void)cu.moduleUnload(module);
}

LOOM_CUDA_HIDDEN void *mgpuModuleGetFunction(void *module, const char *name) {
  CUfunction function = NULL;
  if (!module) {
    /* Its load failed (recorded then) or never ran. */
    if (ready)
      recordError(-1, "kernel '%s': its module is not loaded", name);
    return NULL;
  }
  if (ensureContext() &&
      check(cu.moduleGetFunction(&function, module, name), name)) {
    pthread_mutex_lock(&profileLock);
    (void)kernelSlot(function, name);
    pthread_mutex_unlock(&profileLock);
  }
  return function;
}

LOOM_CUDA_HIDDEN void mgpuLaunchKernel(void *function, intptr_t gridX,
                                       intptr_t gridY, intptr_t gridZ,
                                       intptr_t blockX, intptr_t blockY,
                                       intptr_t blockZ, int32_t smem,
                                       void *stream, void **params,
                                       void **extra, size_t paramsCount) {
  (void)paramsCount;
  if (hasError() || !ensureContext())
    return;
  if (!function) {
    recordError(-1, "a kernel launch without a kernel");
    return;
  }
  if (gridX > 0x7fffffff || gridY > 65535 || gridZ > 65535) {
    recordError(-1,
                "a kernel's grid (%ld x %ld x %ld blocks) exceeds the "
                "device's limits",
                (long)gridX, (long)gridY, (long)gridZ);
    return;
  }
  prefetchPending(stream);
  /* Timing: events on the launch's stream around it; the launch is waited
   * for here (the generated code waits for it right after anyway). */
  bool timed = profiling;
  if (timed && !profileStart)
    timed = check(cu.eventCreate(&profileStart, 0), "cuEventCreate") &&
            check(cu.eventCreate(&profileStop, 0), "cuEventCreate");
  if (timed)
    timed = check(cu.eventRecord(profileStart, stream), "cuEventRecord");
  bool launched = check(
      cu.launchKernel(function, (unsigned)gridX, (unsigned)gridY,
                      (unsigned)gridZ, (unsigned)blockX, (unsigned)blockY,
                      (unsigned)blockZ, (unsigned)smem, stream, params, extra),
      "cuLaunchKernel");
  float ms = 0;
  if (timed && launched &&
      check(cu.eventRecord(profileStop, stream), "cuEventRecord") &&
      check(cu.eventSynchronize(profileStop), "a kernel") &&
      check(cu.eventElapsedTime(&ms, profileStart, profileStop),
            "cuEventElapsedTime")) {
    pthread_mutex_lock(&profileLock);
    profiledMs += ms;
    ++profiledLaunches;
    int slot = kernelSlot(function, NULL);
    if (slot >= 0) {
      kernels[slot].ms += ms;
      ++kernels[slot].launches;
    }
    pthread_mutex_unlock(&profileLock);
  }
}

LOOM_CUDA_HIDDEN void *mgpuStreamCreate(void) {
  if (!threadStream && ensureContext())
    check(cu.streamCreate(&threadStream, 0), "cuStreamCreate");
  return threadStream;
}

LOOM_CUDA_HIDDEN void mgpuStreamSynchronize(void *stream) {
  if (ready && !hasError())
    check(cu.streamSynchronize(stream), "a kernel");
}

/* The per-thread stream lives as long as the thread. */
LOOM_CUDA_HIDDEN void mgpuStreamDestroy(void *stream) { (void)stream; }

LOOM_CUDA_HIDDEN void *mgpuMemAlloc(uint64_t size, void *stream,
                                    bool isHostShared) {
  (void)stream;
  (void)isHostShared;
  return allocate(64, size);
}

LOOM_CUDA_HIDDEN void mgpuMemFree(void *ptr, void *stream) {
  (void)stream;
  if (ready && !hasError())
    check(cu.ctxSynchronize(), "a kernel");
  release(ptr);
}
