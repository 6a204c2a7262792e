/*===- sim.c - A CUDA driver that runs kernels on the host ----------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * loomsim: built as libcuda.so.1 (in build/runtime/sim/), the driver a GPU
 * model finds through LD_LIBRARY_PATH on a machine without a GPU. It runs
 * kernels that loomc compiled for the host with --gpu-binary=sim: the
 * model's NVVM kernels, exactly as they go to PTX, with each call of an
 * NVVM intrinsic turned into a call of the function here of the same name
 * (llvm.nvvm.X.Y -> __loomsim_X_Y; docs/GPU.md). A launch runs its blocks
 * one after the other; the threads of a block run as fibers on the calling
 * thread, each until it reaches a barrier or a warp collective (shuffle,
 * mma.sync), so that barriers, shuffles and tensor-core fragments behave as
 * on a GPU and kernels that use them can be checked numerically here.
 * Shared memory is the kernel image's own globals (blocks run one at a
 * time). Managed memory is host memory.
 *
 * Errors: threads that wait at different barriers (a deadlock on a GPU),
 * lanes of a warp at different collectives, or a launch beyond the limits
 * fail the launch with CUDA_ERROR_LAUNCH_FAILED, and cuGetErrorString
 * then describes what happened (kernel, block, thread).
 *
 *===----------------------------------------------------------------------===*/

#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/half.h"

#if !defined(__x86_64__)
#error "loomsim's fibers switch x86-64 contexts"
#endif

#define SIM_EXPORT __attribute__((visibility("default")))

typedef int CUresult;
enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_INVALID_IMAGE = 200,
  CUDA_ERROR_INVALID_HANDLE = 400,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
  CUDA_ERROR_LAUNCH_FAILED = 719,
};

/* What a failed launch or load did, for cuGetErrorString. */
static char lastFailure[512];

static CUresult fail(CUresult code, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(lastFailure, sizeof lastFailure, format, args);
  va_end(args);
  return code;
}

SIM_EXPORT CUresult cuGetErrorName(CUresult r, const char **name) {
  switch (r) {
  case CUDA_SUCCESS:
    *name = "CUDA_SUCCESS";
    break;
  case CUDA_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    break;
  case CUDA_ERROR_OUT_OF_MEMORY:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    break;
  case CUDA_ERROR_INVALID_IMAGE:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    break;
  case CUDA_ERROR_INVALID_HANDLE:
    *name = "CUDA_ERROR_INVALID_HANDLE";
    break;
  case CUDA_ERROR_NOT_FOUND:
    *name = "CUDA_ERROR_NOT_FOUND";
    break;
  case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
    *name = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
    break;
  case CUDA_ERROR_LAUNCH_FAILED:
    *name = "CUDA_ERROR_LAUNCH_FAILED";
    break;
  default:
    *name = "CUDA_ERROR_UNKNOWN";
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGetErrorString(CUresult r, const char **text) {
  *text = r == CUDA_SUCCESS ? "no error"
          : lastFailure[0]  ? lastFailure
                            : "loomsim error";
  return CUDA_SUCCESS;
}

/* -------------------------------------------------------------------------
 * Device, context, streams, events, memory
 * ------------------------------------------------------------------------- */

static int contextObject, streamObject;

SIM_EXPORT CUresult cuInit(unsigned flags) {
  return flags ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuDeviceGet(int *device, int ordinal) {
  if (ordinal != 0)
    return CUDA_ERROR_INVALID_VALUE;
  *device = 0;
  return CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuDeviceGetName(char *name, int len, int device) {
  (void)device;
  snprintf(name, (size_t)len, "loomsim (kernels simulated on the host)");
  return CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int device) {
  (void)device;
  *ctx = &contextObject;
  return CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuCtxSetCurrent(void *ctx) {
  return ctx == &contextObject ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
SIM_EXPORT CUresult cuCtxSynchronize(void) { return CUDA_SUCCESS; }
SIM_EXPORT CUresult cuStreamCreate(void **stream, unsigned flags) {
  (void)flags;
  *stream = &streamObject;
  return CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuStreamSynchronize(void *stream) {
  (void)stream;
  return CUDA_SUCCESS;
}

/* Launches run synchronously: an event's time is when it was recorded.
 * Events come from a fixed pool (loomrt creates two and keeps them). */
enum { MAX_EVENTS = 64 };
static double events[MAX_EVENTS];
static int eventCount;
SIM_EXPORT CUresult cuEventCreate(void **event, unsigned flags) {
  (void)flags;
  if (eventCount == MAX_EVENTS)
    return CUDA_ERROR_OUT_OF_MEMORY;
  *event = &events[eventCount++];
  return CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuEventRecord(void *event, void *stream) {
  (void)stream;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  *(double *)event = (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
  return CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuEventSynchronize(void *event) {
  return event ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
SIM_EXPORT CUresult cuEventElapsedTime(float *ms, void *start, void *stop) {
  *ms = (float)(*(double *)stop - *(double *)start);
  return CUDA_SUCCESS;
}

/* The "device" memory a model may hold. */
static const size_t DEVICE_BYTES = (size_t)16 << 30;

SIM_EXPORT CUresult cuMemAllocManaged(unsigned long long *ptr, size_t size,
                                      unsigned flags) {
  (void)flags;
  void *p = aligned_alloc(256, (size + 255) / 256 * 256);
  if (!p)
    return CUDA_ERROR_OUT_OF_MEMORY;
  *ptr = (unsigned long long)(uintptr_t)p;
  return CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuMemFree_v2(unsigned long long ptr) {
  free((void *)(uintptr_t)ptr);
  return CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuMemGetInfo_v2(size_t *freeBytes, size_t *totalBytes) {
  *freeBytes = *totalBytes = DEVICE_BYTES;
  return CUDA_SUCCESS;
}
SIM_EXPORT CUresult cuMemPrefetchAsync(unsigned long long ptr, size_t size,
                                       int device, void *stream) {
  (void)ptr, (void)size, (void)device, (void)stream;
  return CUDA_SUCCESS;
}

/* -------------------------------------------------------------------------
 * Modules: host shared objects
 * ------------------------------------------------------------------------- */

/* An image of --gpu-binary=sim: this magic, the object's size (8 bytes,
 * little endian), then the kernels as an x86-64 shared object. */
static const char IMAGE_MAGIC[8] = {'L', 'O', 'O', 'M', 'S', 'I', 'M', '1'};

typedef struct {
  void *handle;
  struct Function *functions; /* handed out by cuModuleGetFunction */
  /* The image's shared memory (__loomsim_shared; NULL: none), where wgmma's
   * matrix descriptors point. */
  unsigned char *shared;
  uint64_t sharedSize;
} Module;

typedef struct Function {
  void (*entry)(void **params); /* <kernel>__sim: unpacks, calls it */
  char name[120];
  const Module *module;
  struct Function *next;
} Function;

/* The kernel images call the __loomsim_* functions below: this library's
 * symbols are made global before the first image is loaded. */
static int exportSymbols(void) {
  Dl_info info;
  if (!dladdr((void *)&cuInit, &info) || !info.dli_fname)
    return 0;
  return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) != NULL;
}

SIM_EXPORT CUresult cuModuleLoadData(void **module, const void *image) {
  *module = NULL;
  if (!image || memcmp(image, IMAGE_MAGIC, sizeof IMAGE_MAGIC) != 0)
    return fail(CUDA_ERROR_INVALID_IMAGE,
                "loomsim runs only kernels compiled for it (loomc "
                "--gpu-binary=sim), not PTX or cubin");
  static int exported;
  if (!exported && !(exported = exportSymbols()))
    return fail(CUDA_ERROR_INVALID_IMAGE, "cannot export loomsim's symbols");
  uint64_t size;
  memcpy(&size, (const char *)image + 8, sizeof size);
  const char *dir = getenv("TMPDIR");
  char path[512];
  snprintf(path, sizeof path, "%s/loomsim-XXXXXX.so",
           dir && *dir ? dir : "/tmp");
  int fd = mkstemps(path, 3);
  if (fd < 0)
    return fail(CUDA_ERROR_INVALID_IMAGE, "cannot create %s", path);
  const char *bytes = (const char *)image + 16;
  size_t written = 0;
  while (written < size) {
    ssize_t n = write(fd, bytes + written, size - written);
    if (n <= 0)
      break;
    written += (size_t)n;
  }
  close(fd);
  void *handle = written == size ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
  const char *why = handle ? NULL : dlerror();
  unlink(path);
  if (!handle)
    return fail(CUDA_ERROR_INVALID_IMAGE, "cannot load the kernels: %s",
                why ? why : "short write");
  Module *m = malloc(sizeof *m);
  if (!m) {
    dlclose(handle);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  m->handle = handle;
  m->functions = NULL;
  m->shared = dlsym(handle, "__loomsim_shared");
  const uint64_t *sharedSize = dlsym(handle, "__loomsim_shared_size");
  m->sharedSize = m->shared && sharedSize ? *sharedSize : 0;
  *module = m;
  return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuModuleUnload(void *module) {
  if (!module)
    return CUDA_ERROR_INVALID_HANDLE;
  Module *m = module;
  while (m->functions) {
    Function *next = m->functions->next;
    free(m->functions);
    m->functions = next;
  }
  dlclose(m->handle);
  free(m);
  return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuModuleGetFunction(void **function, void *module,
                                        const char *name) {
  *function = NULL;
  if (!module || !name)
    return CUDA_ERROR_INVALID_HANDLE;
  char symbol[160];
  snprintf(symbol, sizeof symbol, "%s__sim", name);
  void *entry = dlsym(((Module *)module)->handle, symbol);
  if (!entry)
    return fail(CUDA_ERROR_NOT_FOUND, "no kernel '%s' in the module", name);
  /* Functions live as long as their module. */
  Module *m = module;
  Function *f = calloc(1, sizeof *f);
  if (!f)
    return CUDA_ERROR_OUT_OF_MEMORY;
  memcpy(&f->entry, &entry, sizeof entry);
  snprintf(f->name, sizeof f->name, "%s", name);
  f->module = m;
  f->next = m->functions;
  m->functions = f;
  *function = f;
  return CUDA_SUCCESS;
}

/* -------------------------------------------------------------------------
 * Fibers
 * ------------------------------------------------------------------------- */

/* Saves the callee-saved registers, MXCSR and the x87 control word on the
 * current stack, stores the stack pointer in *from, and resumes the context
 * whose stack pointer is `to`. A new context starts in simTrampoline with
 * its fiber in r12 and its body in r13. */
void loomsimSwitch(void **from, void *to);
void loomsimTrampoline(void);
__asm__(".text\n"
        ".p2align 4\n"
        ".hidden loomsimSwitch\n"
        ".globl loomsimSwitch\n"
        ".type loomsimSwitch,@function\n"
        "loomsimSwitch:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size loomsimSwitch, .-loomsimSwitch\n"
        ".p2align 4\n"
        ".hidden loomsimTrampoline\n"
        ".globl loomsimTrampoline\n"
        ".type loomsimTrampoline,@function\n"
        "loomsimTrampoline:\n"
        "  movq %r12, %rdi\n"
        "  callq *%r13\n"
        "  ud2\n"
        ".size loomsimTrampoline, .-loomsimTrampoline\n");

enum { MAX_THREADS = 1024, WARP = 32, MAX_WARPS = MAX_THREADS / WARP };
/* A thread's stack: the kernels keep per-thread arrays of up to 64 KiB. */
static const size_t STACK_BYTES = (size_t)256 << 10;

enum { RUNNABLE, AT_BARRIER, AT_COLLECTIVE, DONE };

/* Asynchronous copies (cp.async) a thread has issued and not yet waited
 * for: made when a cp.async.wait_group covers their group, so that a
 * kernel that reads shared memory before waiting reads stale data here as
 * it may on a GPU. */
enum { MAX_PENDING_COPIES = 128, MAX_PENDING_WGMMA = 8 };
typedef struct {
  void *dst;
  const void *src;
  unsigned bytes, group;
} AsyncCopy;

/* A wgmma.mma_async not yet waited for: its operands and the result it
 * gave at issue, which its wait checks against shared memory then. */
typedef struct {
  float acc[128], result[128];
  uint64_t descA, descB;
  int32_t scaleD, scaleA, scaleB, n, bf16;
  unsigned group;
} PendingWgmma;

typedef struct {
  void *sp;
  int state;
  unsigned tid[3];
  unsigned linear;
  /* cp.async: pending copies, and groups committed so far. */
  AsyncCopy copies[MAX_PENDING_COPIES];
  unsigned numCopies, committed;
  /* Copies landed in shared memory since the thread's last
   * fence.proxy.async (wgmma must not read them before it); whether it ran
   * wgmma.fence (required before its first wgmma.mma_async). */
  int unfencedCopies, wgmmaFenced;
  /* wgmma: operations not waited for, and groups committed so far. */
  PendingWgmma wgmma[MAX_PENDING_WGMMA];
  unsigned numWgmma, wgmmaCommitted;
} Fiber;

/* A warp collective: every live lane deposits its operands, the last one
 * to arrive computes every lane's result. */
enum { COLL_NONE, COLL_SHFL, COLL_MMA_F16, COLL_MMA_BF16, COLL_LDMATRIX };
typedef struct {
  int kind, arrived;
  int mode; /* shuffle: 0 up, 1 down, 2 bfly, 3 idx */
  /* Per lane: operands (as floats or raw bits) and results. */
  float in[WARP][16];
  uint32_t bits[WARP][2];
  float out[WARP][4];
  uint32_t outBits[WARP];
  /* ldmatrix: each lane's row address and registers. */
  const uint16_t *rows[WARP];
  uint32_t outRegs[WARP][4];
} Warp;

static struct {
  Fiber fibers[MAX_THREADS];
  char *stacks;
  int count, live, atBarrier;
  unsigned block[3], grid[3], blockDim[3];
  void *schedulerSp;
  Fiber *current;
  void **params;
  void (*entry)(void **);
  const char *name;
  int failed;
  Warp warps[MAX_WARPS];
  const Module *module; /* the launched kernel's */
} sim;

static pthread_mutex_t launchLock = PTHREAD_MUTEX_INITIALIZER;

static void yieldToScheduler(void) {
  loomsimSwitch(&sim.current->sp, sim.schedulerSp);
}

static int warpLive(int w) {
  int live = 0;
  for (int l = 0; l < WARP; ++l) {
    int t = w * WARP + l;
    if (t < sim.count && sim.fibers[t].state != DONE)
      ++live;
  }
  return live;
}

static void runCollective(int w);

/* Releases the block barrier when every live thread waits at it. */
static void releaseBarrierIfComplete(void) {
  if (sim.live == 0 || sim.atBarrier != sim.live)
    return;
  sim.atBarrier = 0;
  for (int t = 0; t < sim.count; ++t)
    if (sim.fibers[t].state == AT_BARRIER)
      sim.fibers[t].state = RUNNABLE;
}

/* After a thread finished: barriers and collectives it no longer waits
 * for may be complete. */
static void releaseWaiters(int w) {
  releaseBarrierIfComplete();
  Warp *wp = &sim.warps[w];
  if (wp->arrived > 0 && wp->arrived == warpLive(w))
    runCollective(w);
}

static void completeCopies(Fiber *f, unsigned keepGroups);

static void fiberBody(Fiber *f) {
  sim.entry(sim.params);
  if (f->numWgmma && !sim.failed) {
    fail(CUDA_ERROR_LAUNCH_FAILED,
         "kernel '%s' block (%u, %u, %u) thread %u: exits with a "
         "wgmma.mma_async not waited for",
         sim.name, sim.block[0], sim.block[1], sim.block[2], f->linear);
    sim.failed = 1;
  }
  /* Copies still pending land anyway. */
  completeCopies(f, 0);
  f->numCopies = 0;
  f->state = DONE;
  --sim.live;
  releaseWaiters((int)(f->linear / WARP));
  yieldToScheduler();
  __builtin_unreachable();
}

static void startFiber(Fiber *f, char *stackTop) {
  uint64_t *top = (uint64_t *)stackTop; /* 16-byte aligned */
  top[-3] = (uint64_t)(uintptr_t)&loomsimTrampoline;
  top[-4] = 0;                              /* rbp */
  top[-5] = 0;                              /* rbx */
  top[-6] = (uint64_t)(uintptr_t)f;         /* r12: the fiber */
  top[-7] = (uint64_t)(uintptr_t)fiberBody; /* r13: its body */
  top[-8] = 0;                              /* r14 */
  top[-9] = 0;                              /* r15 */
  uint32_t control[2] = {0x1F80, 0x037F};   /* MXCSR, x87 control word */
  memcpy(&top[-10], control, sizeof control);
  f->sp = &top[-10];
  f->state = RUNNABLE;
}

/* Runs one block; a failure sets sim.failed (and its description). */
static void runBlock(void) {
  sim.live = sim.count;
  sim.atBarrier = 0;
  memset(sim.warps, 0, sizeof sim.warps);
  for (int t = 0; t < sim.count; ++t) {
    Fiber *f = &sim.fibers[t];
    f->linear = (unsigned)t;
    f->tid[0] = (unsigned)t % sim.blockDim[0];
    f->tid[1] = (unsigned)t / sim.blockDim[0] % sim.blockDim[1];
    f->tid[2] = (unsigned)t / (sim.blockDim[0] * sim.blockDim[1]);
    f->numCopies = 0;
    f->committed = 0;
    f->unfencedCopies = 0;
    f->wgmmaFenced = 0;
    f->numWgmma = 0;
    f->wgmmaCommitted = 0;
    startFiber(f, sim.stacks + (size_t)(t + 1) * STACK_BYTES);
  }
  while (sim.live > 0 && !sim.failed) {
    int ran = 0;
    for (int t = 0; t < sim.count && !sim.failed; ++t) {
      Fiber *f = &sim.fibers[t];
      if (f->state != RUNNABLE)
        continue;
      sim.current = f;
      loomsimSwitch(&sim.schedulerSp, f->sp);
      ran = 1;
    }
    if (!ran && !sim.failed) {
      int barrier = -1, collective = -1;
      for (int t = 0; t < sim.count; ++t) {
        if (sim.fibers[t].state == AT_BARRIER && barrier < 0)
          barrier = t;
        if (sim.fibers[t].state == AT_COLLECTIVE && collective < 0)
          collective = t;
      }
      fail(CUDA_ERROR_LAUNCH_FAILED,
           "kernel '%s' block (%u, %u, %u) deadlocks: thread %d waits at a "
           "barrier, thread %d at a warp collective",
           sim.name, sim.block[0], sim.block[1], sim.block[2], barrier,
           collective);
      sim.failed = 1;
    }
  }
  sim.current = NULL;
}

SIM_EXPORT CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy,
                                   unsigned gz, unsigned bx, unsigned by,
                                   unsigned bz, unsigned smem, void *stream,
                                   void **params, void **extra) {
  (void)stream, (void)extra;
  Function *f = function;
  if (!f)
    return CUDA_ERROR_INVALID_HANDLE;
  uint64_t threads = (uint64_t)bx * by * bz;
  if (threads == 0 || threads > MAX_THREADS || gx == 0 || gy == 0 || gz == 0)
    return fail(CUDA_ERROR_INVALID_VALUE,
                "kernel '%s': a launch of %u x %u x %u blocks of %u x %u x "
                "%u threads",
                f->name, gx, gy, gz, bx, by, bz);
  if (smem)
    return fail(CUDA_ERROR_INVALID_VALUE,
                "kernel '%s': dynamic shared memory is not simulated", f->name);
  pthread_mutex_lock(&launchLock);
  if (!sim.stacks) {
    void *stacks = mmap(NULL, MAX_THREADS * STACK_BYTES, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stacks == MAP_FAILED) {
      pthread_mutex_unlock(&launchLock);
      return fail(CUDA_ERROR_OUT_OF_MEMORY, "cannot map the fiber stacks");
    }
    sim.stacks = stacks;
  }
  sim.count = (int)threads;
  sim.blockDim[0] = bx, sim.blockDim[1] = by, sim.blockDim[2] = bz;
  sim.grid[0] = gx, sim.grid[1] = gy, sim.grid[2] = gz;
  sim.entry = f->entry;
  sim.params = params;
  sim.name = f->name;
  sim.module = f->module;
  sim.failed = 0;
  for (unsigned z = 0; z < gz && !sim.failed; ++z)
    for (unsigned y = 0; y < gy && !sim.failed; ++y)
      for (unsigned x = 0; x < gx && !sim.failed; ++x) {
        sim.block[0] = x, sim.block[1] = y, sim.block[2] = z;
        runBlock();
      }
  int failed = sim.failed;
  pthread_mutex_unlock(&launchLock);
  return failed ? CUDA_ERROR_LAUNCH_FAILED : CUDA_SUCCESS;
}

/* -------------------------------------------------------------------------
 * NVVM intrinsics (llvm.nvvm.X.Y -> __loomsim_X_Y)
 * ------------------------------------------------------------------------- */

/* Special registers. Outside a launch (never, in loomc's images) zero. */
#define SREG(name, expr)                                                       \
  SIM_EXPORT uint32_t __loomsim_read_ptx_sreg_##name(void) {                   \
    return sim.current ? (expr) : 0;                                           \
  }
SREG(tid_x, sim.current->tid[0])
SREG(tid_y, sim.current->tid[1])
SREG(tid_z, sim.current->tid[2])
SREG(ntid_x, sim.blockDim[0])
SREG(ntid_y, sim.blockDim[1])
SREG(ntid_z, sim.blockDim[2])
SREG(ctaid_x, sim.block[0])
SREG(ctaid_y, sim.block[1])
SREG(ctaid_z, sim.block[2])
SREG(nctaid_x, sim.grid[0])
SREG(nctaid_y, sim.grid[1])
SREG(nctaid_z, sim.grid[2])
SREG(laneid, sim.current->linear % WARP)
#undef SREG
SIM_EXPORT uint32_t __loomsim_read_ptx_sreg_warpsize(void) { return WARP; }

/* bar.sync / barrier.sync over the whole block. */
static void blockBarrier(void) {
  /* Waiting first: the release makes every waiter runnable, this one too. */
  sim.current->state = AT_BARRIER;
  ++sim.atBarrier;
  releaseBarrierIfComplete();
  if (sim.current->state == AT_BARRIER)
    yieldToScheduler();
}
SIM_EXPORT void __loomsim_barrier0(void) { blockBarrier(); }
SIM_EXPORT void __loomsim_barrier_cta_sync_aligned_all(int32_t id) {
  (void)id;
  blockBarrier();
}
SIM_EXPORT void __loomsim_barrier_cta_sync_all(int32_t id) {
  (void)id;
  blockBarrier();
}

static float bf16ToFloat(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* The warp's collective with every live lane's operands in place: results
 * for all lanes, which are released. */
static void runCollective(int w) {
  Warp *wp = &sim.warps[w];
  int base = w * WARP;
  int lanes = sim.count - base < WARP ? sim.count - base : WARP;
  if (wp->kind == COLL_SHFL) {
    for (int l = 0; l < lanes; ++l) {
      uint32_t b = wp->bits[l][0] & 0x1f, c = wp->bits[l][1];
      uint32_t segmask = (c >> 8) & 0x1f, clamp = c & 0x1f;
      uint32_t minLane = (uint32_t)l & segmask;
      uint32_t maxLane = minLane | (clamp & ~segmask);
      int64_t j;
      int ok;
      switch (wp->mode) {
      case 0: /* up */
        j = (int64_t)l - b;
        ok = j >= (int64_t)maxLane;
        break;
      case 1: /* down */
        j = (int64_t)l + b;
        ok = j <= (int64_t)maxLane;
        break;
      case 2: /* bfly */
        j = (int64_t)(l ^ b);
        ok = j <= (int64_t)maxLane;
        break;
      default: /* idx */
        j = (int64_t)(minLane | (b & ~segmask));
        ok = j <= (int64_t)maxLane;
        break;
      }
      if (!ok || j >= lanes)
        j = l;
      /* A source lane that exited contributes zero. */
      int src = base + (int)j;
      wp->outBits[l] =
          sim.fibers[src].state == DONE ? 0 : ((uint32_t *)wp->in[j])[0];
    }
  } else if (wp->kind == COLL_LDMATRIX) {
    /* ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].b16: matrix i's rows
     * 0-7 start at the addresses of lanes 8i .. 8i + 7. Register i of lane
     * l: row l / 4, columns 2 (l % 4) and + 1 of matrix i; transposed,
     * rows 2 (l % 4) and + 1 of column l / 4. */
    int num = wp->mode / 2, trans = wp->mode % 2;
    for (int l = 0; l < lanes; ++l)
      for (int i = 0; i < num; ++i) {
        uint16_t lo, hi;
        if (!trans) {
          const uint16_t *row = wp->rows[8 * i + l / 4];
          lo = row ? row[2 * (l % 4)] : 0;
          hi = row ? row[2 * (l % 4) + 1] : 0;
        } else {
          const uint16_t *r0 = wp->rows[8 * i + 2 * (l % 4)];
          const uint16_t *r1 = wp->rows[8 * i + 2 * (l % 4) + 1];
          lo = r0 ? r0[l / 4] : 0;
          hi = r1 ? r1[l / 4] : 0;
        }
        wp->outRegs[l][i] = (uint32_t)lo | (uint32_t)hi << 16;
      }
  } else {
    /* mma.sync m16n8k16, row-major A (16 x 16), column-major B (16 x 8),
     * fp32 C/D (16 x 8). Lane l: group g = l / 4, t = l % 4. A registers
     * {a0 a1} (row g, cols 2t, 2t+1), {a2 a3} (row g+8), {a4 a5} (row g,
     * cols + 8), {a6 a7} (row g+8, cols + 8); B {b0 b1} (k 2t, 2t+1,
     * col g), {b2 b3} (k + 8); C c0 c1 (row g, cols 2t, 2t+1), c2 c3
     * (row g+8). Operands in wp->in[l]: a0-a7, b0-b3, c0-c3. */
    float a[16][16] = {{0}}, bm[16][8] = {{0}}, c[16][8] = {{0}};
    for (int l = 0; l < lanes; ++l) {
      if (sim.fibers[base + l].state == DONE)
        continue;
      int g = l / 4, t = l % 4;
      const float *in = wp->in[l];
      for (int i = 0; i < 8; ++i) {
        int row = g + ((i / 2) % 2) * 8, col = 2 * t + (i & 1) + (i / 4) * 8;
        a[row][col] = in[i];
      }
      for (int i = 0; i < 4; ++i)
        bm[2 * t + (i & 1) + (i / 2) * 8][g] = in[8 + i];
      for (int i = 0; i < 4; ++i)
        c[g + (i / 2) * 8][2 * t + (i & 1)] = in[12 + i];
    }
    for (int l = 0; l < lanes; ++l) {
      int g = l / 4, t = l % 4;
      for (int i = 0; i < 4; ++i) {
        int row = g + (i / 2) * 8, col = 2 * t + (i & 1);
        float acc = c[row][col];
        for (int k = 0; k < 16; ++k)
          acc = fmaf(a[row][k], bm[k][col], acc);
        wp->out[l][i] = acc;
      }
    }
  }
  wp->arrived = 0;
  wp->kind = COLL_NONE;
  for (int l = 0; l < lanes; ++l)
    if (sim.fibers[base + l].state == AT_COLLECTIVE)
      sim.fibers[base + l].state = RUNNABLE;
}

/* The calling lane has put its operands in place: joins the collective of
 * `kind` and waits for its result. */
static void joinCollective(int kind, int mode) {
  Fiber *f = sim.current;
  int w = (int)(f->linear / WARP);
  Warp *wp = &sim.warps[w];
  if (wp->arrived == 0) {
    wp->kind = kind;
    wp->mode = mode;
  } else if (wp->kind != kind || wp->mode != mode) {
    fail(CUDA_ERROR_LAUNCH_FAILED,
         "kernel '%s' block (%u, %u, %u): lanes of warp %d run different "
         "collectives (thread %u)",
         sim.name, sim.block[0], sim.block[1], sim.block[2], w, f->linear);
    sim.failed = 1;
    f->state = AT_COLLECTIVE;
    yieldToScheduler();
    return;
  }
  if (++wp->arrived == warpLive(w)) {
    runCollective(w);
    return;
  }
  f->state = AT_COLLECTIVE;
  yieldToScheduler();
}

static uint32_t shuffle(int mode, uint32_t value, uint32_t b, uint32_t c) {
  int lane = (int)(sim.current->linear % WARP);
  Warp *wp = &sim.warps[sim.current->linear / WARP];
  memcpy(wp->in[lane], &value, sizeof value);
  wp->bits[lane][0] = b;
  wp->bits[lane][1] = c;
  joinCollective(COLL_SHFL, mode);
  return wp->outBits[lane];
}

static float asFloat(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}
static uint32_t asBits(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return bits;
}

/* shfl.sync.{up,down,bfly,idx}.{f32,i32}(mask, value, b, c). The mask is
 * taken to name every live lane. */
#define SHFL(name, mode)                                                       \
  SIM_EXPORT float __loomsim_shfl_sync_##name##_f32(uint32_t mask, float v,    \
                                                    uint32_t b, uint32_t c) {  \
    (void)mask;                                                                \
    return asFloat(shuffle(mode, asBits(v), b, c));                            \
  }                                                                            \
  SIM_EXPORT uint32_t __loomsim_shfl_sync_##name##_i32(                        \
      uint32_t mask, uint32_t v, uint32_t b, uint32_t c) {                     \
    (void)mask;                                                                \
    return shuffle(mode, v, b, c);                                             \
  }
SHFL(up, 0)
SHFL(down, 1)
SHFL(bfly, 2)
SHFL(idx, 3)
#undef SHFL

/* ldmatrix: the lane's row address in, its registers out. Rows of lanes
 * that exited read as zero. */
static void ldmatrix(uint32_t *regs, const void *row, int num, int trans) {
  int lane = (int)(sim.current->linear % WARP);
  Warp *wp = &sim.warps[sim.current->linear / WARP];
  if (wp->arrived == 0) /* the first lane: no rows yet */
    memset(wp->rows, 0, sizeof wp->rows);
  wp->rows[lane] = row;
  joinCollective(COLL_LDMATRIX, num * 2 + trans);
  memcpy(regs, wp->outRegs[lane], (size_t)num * sizeof *regs);
}
typedef struct {
  const void *row;
} LdMatrixArgs;
#define LDMATRIX(suffix, num, trans)                                           \
  SIM_EXPORT void __loomsim_ldmatrix_sync_aligned_m8n8_x##num##suffix##_b16(   \
      uint32_t *result, const LdMatrixArgs *args) {                            \
    ldmatrix(result, args->row, num, trans);                                   \
  }
LDMATRIX(, 2, 0)
LDMATRIX(, 4, 0)
LDMATRIX(_trans, 2, 1)
LDMATRIX(_trans, 4, 1)
#undef LDMATRIX
SIM_EXPORT uint32_t __loomsim_ldmatrix_sync_aligned_m8n8_x1_b16(const void *r) {
  uint32_t reg;
  ldmatrix(&reg, r, 1, 0);
  return reg;
}
SIM_EXPORT uint32_t
__loomsim_ldmatrix_sync_aligned_m8n8_x1_trans_b16(const void *r) {
  uint32_t reg;
  ldmatrix(&reg, r, 1, 1);
  return reg;
}

/* cp.async: copies wait in the issuing thread until a wait covers their
 * group (committed groups but the newest `keepGroups`). */
static void completeCopies(Fiber *f, unsigned keepGroups) {
  unsigned kept = 0;
  for (unsigned i = 0; i < f->numCopies; ++i) {
    AsyncCopy *c = &f->copies[i];
    if (c->group + keepGroups < f->committed) {
      memcpy(c->dst, c->src, c->bytes);
      f->unfencedCopies = 1;
    } else
      f->copies[kept++] = *c;
  }
  f->numCopies = kept;
}
/* Fails the launch from the running thread (which is not resumed). */
static void failThread(const char *format, ...) {
  char what[320];
  va_list args;
  va_start(args, format);
  vsnprintf(what, sizeof what, format, args);
  va_end(args);
  fail(CUDA_ERROR_LAUNCH_FAILED, "kernel '%s' block (%u, %u, %u) thread %u: %s",
       sim.name, sim.block[0], sim.block[1], sim.block[2], sim.current->linear,
       what);
  sim.failed = 1;
  sim.current->state = AT_COLLECTIVE; /* never resumed */
  yieldToScheduler();
}

/* Fails the launch from the running thread and returns from the caller. */
#define FAIL_THREAD(...)                                                       \
  do {                                                                         \
    failThread(__VA_ARGS__);                                                   \
    return;                                                                    \
  } while (0)

static void asyncCopy(void *dst, const void *src, unsigned bytes) {
  Fiber *f = sim.current;
  if (f->numCopies == MAX_PENDING_COPIES)
    FAIL_THREAD("more than %d cp.async copies pending (loomsim's limit)",
                MAX_PENDING_COPIES);
  f->copies[f->numCopies++] = (AsyncCopy){dst, src, bytes, f->committed};
}
#define CP_ASYNC(cache, bytes)                                                 \
  SIM_EXPORT void __loomsim_cp_async_##cache##_shared_global_##bytes(          \
      void *dst, const void *src) {                                            \
    asyncCopy(dst, src, bytes);                                                \
  }
CP_ASYNC(ca, 4)
CP_ASYNC(ca, 8)
CP_ASYNC(ca, 16)
CP_ASYNC(cg, 16)
#undef CP_ASYNC
SIM_EXPORT void __loomsim_cp_async_commit_group(void) {
  ++sim.current->committed;
}
SIM_EXPORT void __loomsim_cp_async_wait_group(int32_t n) {
  completeCopies(sim.current, (unsigned)n);
}
SIM_EXPORT void __loomsim_cp_async_wait_all(void) {
  Fiber *f = sim.current;
  ++f->committed; /* the open group too */
  completeCopies(f, 0);
}

/* mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: the operands as LLVM
 * lays out {<2 x half> x 4, <2 x half> x 2, float x 4} (f16) or {i32 x 4,
 * i32 x 2, float x 4} (bf16 pairs); the result {float x 4}. */
typedef struct {
  uint16_t a[8], b[4];
  float c[4];
} MmaArgs;

static void mma(float *result, const MmaArgs *args, float (*convert)(uint16_t),
                int kind) {
  int lane = (int)(sim.current->linear % WARP);
  Warp *wp = &sim.warps[sim.current->linear / WARP];
  for (int i = 0; i < 8; ++i)
    wp->in[lane][i] = convert(args->a[i]);
  for (int i = 0; i < 4; ++i)
    wp->in[lane][8 + i] = convert(args->b[i]);
  for (int i = 0; i < 4; ++i)
    wp->in[lane][12 + i] = args->c[i];
  joinCollective(kind, 0);
  memcpy(result, wp->out[lane], 4 * sizeof(float));
}

SIM_EXPORT void __loomsim_mma_m16n8k16_row_col_f32_f32(float *result,
                                                       const MmaArgs *args) {
  mma(result, args, loomrtHalfToFloat, COLL_MMA_F16);
}
SIM_EXPORT void __loomsim_mma_m16n8k16_row_col_bf16(float *result,
                                                    const MmaArgs *args) {
  mma(result, args, bf16ToFloat, COLL_MMA_BF16);
}

/* fence.proxy.async.shared::cta: the thread's shared-memory writes become
 * visible to the async proxy (wgmma's reads). */
SIM_EXPORT void __loomsim_fence_proxy_async_shared_cta(void) {
  sim.current->unfencedCopies = 0;
}

/* Element (row, k) of a K-major wgmma operand without swizzling: 8 x 8 core
 * matrices of 8 rows of 16 bytes; core matrices next along K `lead` bytes
 * apart, the next 8 rows `stride` bytes. NULL when it lies outside the
 * image's shared memory. */
static const uint16_t *wgmmaElement(uint64_t start, uint64_t lead,
                                    uint64_t stride, int row, int k) {
  uint64_t at = start + (uint64_t)(row / 8) * stride +
                (uint64_t)(row % 8) * 16 + (uint64_t)(k / 8) * lead +
                (uint64_t)(k % 8) * 2;
  const Module *m = sim.module;
  if (!m || !m->shared || at + 2 > m->sharedSize)
    return NULL;
  return (const uint16_t *)(m->shared + at);
}

/* What `p` computes from shared memory as it is now, into d (N / 2
 * floats): see __loomsim_wgmma_mma_async. Returns 0, or -1 when a
 * descriptor points outside shared memory. */
static int wgmmaCompute(float *d, const PendingWgmma *p) {
  /* The descriptors hold bits 4-17 of the shared-memory address; the
   * window is below 256 KiB: the offset from its start, modulo 2^18. */
  uint64_t base = (uint64_t)(uintptr_t)sim.module->shared & 0x3FFFF;
  uint64_t startA = (((p->descA & 0x3FFF) << 4) - base) & 0x3FFFF;
  uint64_t startB = (((p->descB & 0x3FFF) << 4) - base) & 0x3FFFF;
  uint64_t leadA = ((p->descA >> 16) & 0x3FFF) << 4;
  uint64_t strideA = ((p->descA >> 32) & 0x3FFF) << 4;
  uint64_t leadB = ((p->descB >> 16) & 0x3FFF) << 4;
  uint64_t strideB = ((p->descB >> 32) & 0x3FFF) << 4;
  float (*convert)(uint16_t) = p->bf16 ? bf16ToFloat : loomrtHalfToFloat;
  unsigned linear = sim.current->linear;
  int w = (int)(linear / WARP % 4), l = (int)(linear % WARP);
  for (int i = 0; i < p->n / 2; ++i) {
    int row = 16 * w + l / 4 + (i >> 1 & 1) * 8;
    int col = 8 * (i / 4) + 2 * (l % 4) + (i & 1);
    float sum = p->scaleD ? p->acc[i] : 0.0f;
    for (int k = 0; k < 16; ++k) {
      const uint16_t *a = wgmmaElement(startA, leadA, strideA, row, k);
      const uint16_t *b = wgmmaElement(startB, leadB, strideB, col, k);
      if (!a || !b)
        return -1;
      sum = fmaf((float)p->scaleA * convert(*a), (float)p->scaleB * convert(*b),
                 sum);
    }
    d[i] = sum;
  }
  return 0;
}

/* wgmma.fence: required before a thread's first wgmma.mma_async. */
SIM_EXPORT void __loomsim_wgmma_fence_sync_aligned(void) {
  sim.current->wgmmaFenced = 1;
}
SIM_EXPORT void __loomsim_wgmma_commit_group_sync_aligned(void) {
  ++sim.current->wgmmaCommitted;
}

/* wgmma.wait_group N: the thread's groups but the newest N complete. The
 * simulated operations computed their results when issued; a GPU reads
 * their shared-memory operands at any time until then, so each is
 * computed again from shared memory as it is now, and a different result
 * (its operands overwritten while in flight) fails the launch. */
SIM_EXPORT void __loomsim_wgmma_wait_group_sync_aligned(int64_t n) {
  Fiber *f = sim.current;
  unsigned kept = 0;
  for (unsigned i = 0; i < f->numWgmma; ++i) {
    PendingWgmma *p = &f->wgmma[i];
    if ((int64_t)p->group + n >= (int64_t)f->wgmmaCommitted) {
      f->wgmma[kept++] = *p;
      continue;
    }
    float now[128];
    if (wgmmaCompute(now, p) ||
        memcmp(now, p->result, sizeof(float) * (size_t)(p->n / 2)) != 0)
      FAIL_THREAD("the shared memory a wgmma.mma_async reads changed before "
                  "the wgmma.wait_group that completes it");
  }
  f->numWgmma = kept;
}

/* wgmma.mma_async.sync.aligned.m64nNk16.f32.{f16,bf16}, A and B in shared
 * memory (descriptors descA, descB), K-major, not swizzled: this thread's
 * N / 2 accumulators d[i] = scaleD acc[i] + sum over k of A[row][k] B[k][col]
 * (scale-a, scale-b: +1 or -1), for thread t of the warpgroup (warp w =
 * t / 32 % 4, lane l): row 16 w + l / 4 (+8 when bit 1 of i is set),
 * column 8 (i / 4) + 2 (l % 4) (+1 for odd i). Each thread computes its own
 * elements from shared memory: no collective is needed. The operation
 * stays pending (at most MAX_PENDING_WGMMA per thread) until a
 * wgmma.wait_group completes its group. */
SIM_EXPORT void __loomsim_wgmma_mma_async(float *d, const float *acc,
                                          uint64_t descA, uint64_t descB,
                                          int32_t scaleD, int32_t scaleA,
                                          int32_t scaleB, int32_t transA,
                                          int32_t transB, int32_t n,
                                          int32_t bf16) {
  Fiber *f = sim.current;
  if (sim.blockDim[0] * sim.blockDim[1] * sim.blockDim[2] % 128 != 0)
    FAIL_THREAD("wgmma in a block of %u threads (not whole "
                "warpgroups of 128)",
                sim.blockDim[0] * sim.blockDim[1] * sim.blockDim[2]);
  if (!f->wgmmaFenced)
    FAIL_THREAD("wgmma.mma_async before wgmma.fence");
  for (int t = (int)(f->linear / 128 * 128);
       t < (int)(f->linear / 128 * 128) + 128; ++t)
    if (t < sim.count && sim.fibers[t].unfencedCopies)
      FAIL_THREAD("wgmma reads shared memory that thread %d wrote by "
                  "cp.async without fence.proxy.async after it",
                  t);
  if (transA || transB || (descA >> 62) || (descB >> 62))
    FAIL_THREAD("wgmma with transposed (MN-major) or swizzled "
                "operands is not simulated");
  const Module *m = sim.module;
  if (!m || !m->shared || m->sharedSize > 0x40000)
    FAIL_THREAD("wgmma in a kernel image without shared memory or with more "
                "than the 256 KiB a descriptor addresses");
  if (n <= 0 || n > 256 || n % 8 != 0)
    FAIL_THREAD("wgmma with N = %d", (int)n);
  if (f->numWgmma == MAX_PENDING_WGMMA)
    FAIL_THREAD("more than %d wgmma.mma_async not waited for (loomsim's "
                "limit)",
                MAX_PENDING_WGMMA);
  PendingWgmma *p = &f->wgmma[f->numWgmma];
  memcpy(p->acc, acc, sizeof(float) * (size_t)(n / 2));
  p->descA = descA, p->descB = descB;
  p->scaleD = scaleD, p->scaleA = scaleA, p->scaleB = scaleB;
  p->n = n, p->bf16 = bf16;
  p->group = f->wgmmaCommitted;
  if (wgmmaCompute(p->result, p))
    FAIL_THREAD("a wgmma descriptor points outside shared memory");
  ++f->numWgmma;
  memcpy(d, p->result, sizeof(float) * (size_t)(n / 2));
}

/* Math: what the fast forms compute, in IEEE single precision (flush to
 * zero is not simulated). */
#define UNARY_F(name, expr)                                                    \
  SIM_EXPORT float __loomsim_##name(float x) { return (expr); }
/* The plain form and its flush-to-zero twin (the same here). */
#define UNARY_F_FTZ(name, suffix, expr)                                        \
  UNARY_F(name##_##suffix, expr)                                               \
  UNARY_F(name##_ftz_##suffix, expr)
UNARY_F_FTZ(rsqrt_approx, f, 1.0f / sqrtf(x))
UNARY_F_FTZ(sqrt_approx, f, sqrtf(x))
UNARY_F(sqrt_rn_f, sqrtf(x))
UNARY_F_FTZ(fabs, f32, fabsf(x))
UNARY_F_FTZ(ex2_approx, f, exp2f(x))
UNARY_F(ex2_approx_f32, exp2f(x)) /* LLVM 22 spelling of the plain form */
UNARY_F_FTZ(lg2_approx, f, log2f(x))
UNARY_F_FTZ(sin_approx, f, sinf(x))
UNARY_F_FTZ(cos_approx, f, cosf(x))
UNARY_F(rcp_approx_ftz_f, 1.0f / x)
UNARY_F(rcp_rn_f, 1.0f / x)
UNARY_F(saturate_f, (x < 0.0f) ? 0.0f : (x > 1.0f) ? 1.0f : x)
UNARY_F_FTZ(round, f, roundf(x))
#undef UNARY_F_FTZ
#undef UNARY_F
SIM_EXPORT double __loomsim_fabs_f64(double x) { return fabs(x); }
SIM_EXPORT double __loomsim_rsqrt_approx_d(double x) { return 1.0 / sqrt(x); }
#define BINARY_F(name, expr)                                                   \
  SIM_EXPORT float __loomsim_##name(float x, float y) { return (expr); }
#define BINARY_F_FTZ(name, expr)                                               \
  BINARY_F(name##_f, expr)                                                     \
  BINARY_F(name##_ftz_f, expr)
BINARY_F_FTZ(fmax, fmaxf(x, y))
BINARY_F_FTZ(fmin, fminf(x, y))
BINARY_F(fmax_nan_f, isnan(x) || isnan(y) ? NAN : fmaxf(x, y))
BINARY_F(fmin_nan_f, isnan(x) || isnan(y) ? NAN : fminf(x, y))
BINARY_F_FTZ(div_approx, x / y)
BINARY_F(div_rn_f, x / y)
#undef BINARY_F_FTZ
#undef BINARY_F
SIM_EXPORT float __loomsim_fma_rn_f(float x, float y, float z) {
  return fmaf(x, y, z);
}
/* Rounding (libdevice's roundf, above: halves away from zero). */
SIM_EXPORT double __loomsim_round_d(double x) { return round(x); }
