//===- AllocTest.cpp - The caching allocator of generated code ------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// runtime/src/kernels/alloc.c: freed large blocks come back to requests they
// fit (no fresh pages per model call), small ones and misfits go to malloc,
// and every block stays releasable with plain free().
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>

extern "C" {
void *_mlir_memref_to_llvm_alloc(uint64_t size);
void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment, uint64_t size);
void _mlir_memref_to_llvm_free(void *ptr);
}

namespace {

TEST(CachingAllocator, ReusesAFreedLargeBlock) {
  void *a = _mlir_memref_to_llvm_alloc(1 << 20);
  ASSERT_NE(a, nullptr);
  std::memset(a, 1, 1 << 20);
  _mlir_memref_to_llvm_free(a);
  void *b = _mlir_memref_to_llvm_alloc((1 << 20) - 100);
  EXPECT_EQ(a, b);
  std::memset(b, 2, (1 << 20) - 100);
  std::free(b); // A cached block is a malloc block.
}

// A model's output leaves the cache: the runtime frees it with free() after
// the caller is done, and the next call allocates it afresh. That fresh
// block must be the one just freed (glibc hands it back to a malloc of its
// size), not new heap pages that each call faults in again.
TEST(CachingAllocator, AnOutputFreedWithFreeIsReusedByTheNextCall) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "AddressSanitizer's malloc quarantines freed blocks: the "
                  "reuse checked here is glibc's";
#endif
#endif
  const uint64_t size = 1536 << 10; // BERT-512's output, 1.5 MiB
  std::set<void *> seen;
  for (int call = 0; call < 12; ++call) {
    void *out = _mlir_memref_to_llvm_aligned_alloc(64, size);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(out) % 64, 0u);
    // The runtime's tensor and name for the output, allocated after it.
    void *tensor = std::calloc(1, 96);
    void *name = std::malloc(8);
    std::memset(out, call, size);
    seen.insert(out);
    std::free(out);
    std::free(name);
    std::free(tensor);
  }
  EXPECT_LE(seen.size(), 2u);
}

TEST(CachingAllocator, DoesNotHandOutTooLargeOrTooSmallBlocks) {
  void *big = _mlir_memref_to_llvm_alloc(8 << 20);
  ASSERT_NE(big, nullptr);
  _mlir_memref_to_llvm_free(big);
  // Less than half of the cached block: a fresh one.
  void *small = _mlir_memref_to_llvm_alloc(1 << 20);
  EXPECT_NE(small, big);
  // Larger than the cached block: a fresh one.
  void *bigger = _mlir_memref_to_llvm_alloc(16 << 20);
  EXPECT_NE(bigger, big);
  std::memset(bigger, 3, 16 << 20);
  _mlir_memref_to_llvm_free(small);
  _mlir_memref_to_llvm_free(bigger);
  // The cached 8 MiB block fits 5 MiB.
  void *again = _mlir_memref_to_llvm_alloc(5 << 20);
  EXPECT_EQ(again, big);
  _mlir_memref_to_llvm_free(again);
}

TEST(CachingAllocator, SmallBlocksAndNull) {
  void *p = _mlir_memref_to_llvm_alloc(100);
  ASSERT_NE(p, nullptr);
  std::memset(p, 4, 100);
  _mlir_memref_to_llvm_free(p);
  _mlir_memref_to_llvm_free(nullptr);
  void *aligned = _mlir_memref_to_llvm_aligned_alloc(64, 1000);
  ASSERT_NE(aligned, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % 64, 0u);
  _mlir_memref_to_llvm_free(aligned);
}

TEST(CachingAllocator, AlignedEntryPointSharesTheCache) {
  // Generated code asks for 64-byte aligned buffers; every block is aligned,
  // so a freed block serves either entry point.
  void *a = _mlir_memref_to_llvm_aligned_alloc(64, 3 << 20);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  std::memset(a, 5, 3 << 20);
  _mlir_memref_to_llvm_free(a);
  void *b = _mlir_memref_to_llvm_aligned_alloc(16, (3 << 20) - 64);
  EXPECT_EQ(a, b);
  _mlir_memref_to_llvm_free(b);
  void *c = _mlir_memref_to_llvm_alloc(3 << 20);
  EXPECT_EQ(a, c);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c) % 64, 0u);
  // Stricter than a block guarantees: a fresh block, still freeable.
  void *page = _mlir_memref_to_llvm_aligned_alloc(4096, 3 << 20);
  ASSERT_NE(page, nullptr);
  EXPECT_NE(page, c);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(page) % 4096, 0u);
  _mlir_memref_to_llvm_free(page);
  std::free(c);
}

} // namespace
