/*===- alloc.c - Buffer allocation for generated code ---------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * The allocation functions that MLIR's memref-to-LLVM conversion calls with
 * `use-generic-functions` (loomc's pipeline sets it). A model allocates its
 * intermediate buffers on every call and frees them before returning; with
 * plain malloc, large blocks are mmapped and unmapped each time, so every
 * call faults in (and the kernel zeroes) fresh pages. Here freed large
 * blocks are kept, up to a byte budget, and handed out again to requests
 * they fit: after the first call a model runs without page faults for its
 * intermediates; when the cache is full the oldest kept blocks are released
 * first. Every block is a 64-byte aligned malloc block (so that a
 * kept block serves both entry points), and a model output the runtime takes
 * over is released with plain free().
 *
 *===----------------------------------------------------------------------===*/

#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Generated code calls these; hidden like the rest of the library. */
void *_mlir_memref_to_llvm_alloc(uint64_t size);
void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment, uint64_t size);
void _mlir_memref_to_llvm_free(void *ptr);

enum {
  /* Blocks smaller than this go straight to malloc/free (not mmapped). */
  MIN_CACHED = 64 * 1024,
  /* Blocks kept at most. */
  MAX_BLOCKS = 256,
  /* The alignment of every block: a cache line, an AVX-512 vector. */
  BLOCK_ALIGNMENT = 64,
};
/* Bytes kept at most. */
static const size_t MAX_CACHED_BYTES = (size_t)1 << 30;
/* glibc's largest mmap threshold (64-bit): larger blocks are always
 * mmapped. */
static const uint64_t MAX_HEAP_BLOCK = (uint64_t)32 << 20;

/* Kept blocks, oldest first. */
static struct {
  void *ptr;
  size_t size;
} cache[MAX_BLOCKS];
static int cached;
static size_t cachedBytes;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* A fresh block of `size` bytes aligned to `alignment`, or NULL. A plain
 * malloc comes first, kept where it happens to be aligned: a model output
 * that the runtime freed with free() is a chunk of exactly this size and
 * alignment, which malloc hands back, while posix_memalign asks for
 * `alignment` bytes more than it holds and took fresh heap pages instead
 * (faulted in on every call until the heap's free chunks happened to
 * merge: the Mixer's first ~10 calls ran ~25% slower). */
static void *freshBlock(uint64_t alignment, uint64_t size) {
  void *ptr = NULL;
  /* Beyond glibc's largest mmap threshold every malloc block is mmapped,
   * 16 bytes past a page: never aligned. */
  if (size < MAX_HEAP_BLOCK) {
    ptr = malloc(size ? size : 1);
    if (ptr && (uintptr_t)ptr % alignment == 0)
      return ptr;
    free(ptr);
    ptr = NULL;
  }
  return posix_memalign(&ptr, alignment, size ? size : 1) ? NULL : ptr;
}

void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment, uint64_t size) {
  if (alignment > BLOCK_ALIGNMENT)
    return freshBlock(alignment, size);
  if (size >= MIN_CACHED) {
    /* The smallest kept block that fits and wastes at most half of itself. */
    pthread_mutex_lock(&lock);
    int best = -1;
    for (int i = 0; i < cached; ++i)
      if (cache[i].size >= size && cache[i].size / 2 <= size &&
          (best < 0 || cache[i].size < cache[best].size))
        best = i;
    void *ptr = NULL;
    if (best >= 0) {
      ptr = cache[best].ptr;
      cachedBytes -= cache[best].size;
      for (int i = best; i + 1 < cached; ++i)
        cache[i] = cache[i + 1];
      --cached;
    }
    pthread_mutex_unlock(&lock);
    if (ptr)
      return ptr;
  }
  return freshBlock(BLOCK_ALIGNMENT, size);
}

void *_mlir_memref_to_llvm_alloc(uint64_t size) {
  return _mlir_memref_to_llvm_aligned_alloc(BLOCK_ALIGNMENT, size);
}

void _mlir_memref_to_llvm_free(void *ptr) {
  if (!ptr)
    return;
  size_t size = malloc_usable_size(ptr);
  if (size < MIN_CACHED || size > MAX_CACHED_BYTES) {
    free(ptr);
    return;
  }
  /* Keep the block; when full, let the oldest kept blocks go instead, so
   * that the cache follows the sizes a model uses now (a full cache that
   * refused new blocks kept a model's larger buffers out: they were
   * mmapped and faulted in again on every call). */
  void *evicted[MAX_BLOCKS];
  int evictions = 0;
  pthread_mutex_lock(&lock);
  while (cached > 0 &&
         (cached == MAX_BLOCKS || cachedBytes + size > MAX_CACHED_BYTES)) {
    evicted[evictions++] = cache[0].ptr;
    cachedBytes -= cache[0].size;
    for (int i = 0; i + 1 < cached; ++i)
      cache[i] = cache[i + 1];
    --cached;
  }
  cache[cached].ptr = ptr;
  cache[cached].size = size;
  ++cached;
  cachedBytes += size;
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < evictions; ++i)
    free(evicted[i]);
}
