//===- CudaBackendTest.cpp - loomrt's CUDA backend against a fake driver --===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// runtime/src/cuda/cuda.c with libcuda.so.1 replaced by fake_cuda.c (loaded
// by path first, so that the backend's dlopen by name finds it): device
// bring-up, managed allocation and its reuse, the memory limit, launches,
// and how CUDA errors are recorded, reported once and stop later launches.
// Kernels do not run (the GPU path's numerics are gpu-models.test's and,
// on a GPU, gpu-run.test's).
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <dlfcn.h>
#include <string>

extern "C" {
int loom_cuda_init(char *message, size_t size);
int loom_cuda_take_error(char *message, size_t size);
const char *loom_cuda_device_name(void);
void loom_release(void *ptr);
void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment, uint64_t size);
void _mlir_memref_to_llvm_free(void *ptr);
void *loomrt_cuda_constant(const void *host, int64_t bytes);
void *mgpuModuleLoadJIT(void *data, int optLevel);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount);
void *mgpuStreamCreate(void);
void mgpuStreamSynchronize(void *stream);
int loom_cuda_profile(int enable);
double loom_cuda_take_kernel_ms(long long *launches);
int loom_cuda_kernel_stats(int i, const char **name, double *ms,
                           long long *launches);
}

namespace {

/// The fake driver's controls, from its handle.
struct Fake {
  void *handle = nullptr;
  template <typename F> F get(const char *name) {
    void *p = dlsym(handle, name);
    F f;
    std::memcpy(&f, &p, sizeof f);
    return f;
  }
  int launches() { return get<int (*)()>("fake_cuda_launches")(); }
  int allocations() { return get<int (*)()>("fake_cuda_allocations")(); }
  int prefetches() { return get<int (*)()>("fake_cuda_prefetches")(); }
  void failLaunch(int code) {
    get<void (*)(int)>("fake_cuda_fail_launch")(code);
  }
  unsigned grid(int d) {
    return get<unsigned (*)(int)>("fake_cuda_last_grid")(d);
  }
  unsigned block(int d) {
    return get<unsigned (*)(int)>("fake_cuda_last_block")(d);
  }
};

class CudaBackendTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    fake.handle = dlopen(LOOM_FAKE_CUDA, RTLD_NOW | RTLD_GLOBAL);
    ASSERT_NE(fake.handle, nullptr) << dlerror();
    char message[256] = "";
    ASSERT_EQ(loom_cuda_init(message, sizeof message), 0) << message;
  }
  /// The recorded error (code and message), cleared.
  static std::pair<int, std::string> takeError() {
    char message[512] = "";
    int code = loom_cuda_take_error(message, sizeof message);
    return {code, message};
  }
  static Fake fake;
};
Fake CudaBackendTest::fake;

TEST_F(CudaBackendTest, InitFindsTheDevice) {
  EXPECT_STREQ(loom_cuda_device_name(), "Fake GPU");
  EXPECT_EQ(takeError().first, 0);
}

TEST_F(CudaBackendTest, AllocationsAreAlignedAndReused) {
  int before = fake.allocations();
  auto *p = static_cast<float *>(_mlir_memref_to_llvm_aligned_alloc(128, 4000));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 128, 0u);
  for (int i = 0; i < 1000; ++i)
    p[i] = float(i);
  EXPECT_EQ(fake.allocations(), before + 1);
  _mlir_memref_to_llvm_free(p);
  // The freed block serves the next request of about its size.
  void *q = _mlir_memref_to_llvm_aligned_alloc(64, 3900);
  EXPECT_EQ(fake.allocations(), before + 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % 64, 0u);
  loom_release(q);
  // A much larger one is a new block.
  void *r = _mlir_memref_to_llvm_aligned_alloc(64, 1 << 20);
  EXPECT_EQ(fake.allocations(), before + 2);
  loom_release(r);
  EXPECT_EQ(takeError().first, 0);
}

TEST_F(CudaBackendTest, LaunchesPassTheGeometry) {
  static const char ptx[] = "// ptx";
  void *module = mgpuModuleLoadJIT(const_cast<char *>(ptx), 3);
  ASSERT_NE(module, nullptr);
  void *function = mgpuModuleGetFunction(module, "k");
  ASSERT_NE(function, nullptr);
  void *stream = mgpuStreamCreate();
  int before = fake.launches();
  mgpuLaunchKernel(function, 40, 2, 1, 256, 1, 1, 0, stream, nullptr, nullptr,
                   0);
  mgpuStreamSynchronize(stream);
  EXPECT_EQ(fake.launches(), before + 1);
  EXPECT_EQ(fake.grid(0), 40u);
  EXPECT_EQ(fake.grid(1), 2u);
  EXPECT_EQ(fake.block(0), 256u);
  EXPECT_EQ(takeError().first, 0);
  mgpuModuleUnload(module);
}

TEST_F(CudaBackendTest, AFailedLaunchIsReportedOnceAndStopsLaterLaunches) {
  static const char ptx[] = "// ptx";
  void *function =
      mgpuModuleGetFunction(mgpuModuleLoadJIT(const_cast<char *>(ptx), 3), "k");
  void *stream = mgpuStreamCreate();
  fake.failLaunch(719);
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  fake.failLaunch(0);
  int before = fake.launches();
  // Later launches of the same run are skipped: their inputs are garbage.
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  EXPECT_EQ(fake.launches(), before);
  auto [code, message] = takeError();
  EXPECT_EQ(code, 719);
  EXPECT_NE(message.find("cuLaunchKernel"), std::string::npos) << message;
  EXPECT_NE(message.find("CUDA_ERROR_LAUNCH_FAILED"), std::string::npos)
      << message;
  // Taken: the next run launches again.
  EXPECT_EQ(takeError().first, 0);
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  EXPECT_EQ(fake.launches(), before + 1);
}

TEST_F(CudaBackendTest, AGridBeyondTheLimitsIsAnError) {
  static const char ptx[] = "// ptx";
  void *function =
      mgpuModuleGetFunction(mgpuModuleLoadJIT(const_cast<char *>(ptx), 3), "k");
  int before = fake.launches();
  mgpuLaunchKernel(function, 1, 70000, 1, 32, 1, 1, 0, mgpuStreamCreate(),
                   nullptr, nullptr, 0);
  EXPECT_EQ(fake.launches(), before);
  auto [code, message] = takeError();
  EXPECT_NE(code, 0);
  EXPECT_NE(message.find("exceeds the device's limits"), std::string::npos)
      << message;
}

TEST_F(CudaBackendTest, MoreThanTheFreeMemoryIsRefusedWithHostMemory) {
  // The fake reports 64 MiB free: the model may hold 90% of it.
  int before = fake.allocations();
  auto *p = static_cast<char *>(
      _mlir_memref_to_llvm_aligned_alloc(64, uint64_t(100) << 20));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(fake.allocations(), before);
  // Host memory: the host code still runs to its end.
  std::memset(p, 1, 1 << 20);
  _mlir_memref_to_llvm_free(p);
  auto [code, message] = takeError();
  EXPECT_NE(code, 0);
  EXPECT_NE(message.find("more than the device's free memory"),
            std::string::npos)
      << message;
}

TEST_F(CudaBackendTest, ConstantsAreCopiedOncePerLoad) {
  static const float weights[256] = {1.0f, 2.0f, 3.0f};
  auto *copy =
      static_cast<const float *>(loomrt_cuda_constant(weights, sizeof weights));
  ASSERT_NE(copy, nullptr);
  EXPECT_NE(copy, weights);
  EXPECT_EQ(std::memcmp(copy, weights, sizeof weights), 0);
  // Later reads (every call of the model) get the same copy, no new memory.
  int after = fake.allocations();
  EXPECT_EQ(loomrt_cuda_constant(weights, sizeof weights), copy);
  EXPECT_EQ(fake.allocations(), after);
  static const float other[4] = {4.0f};
  EXPECT_NE(loomrt_cuda_constant(other, sizeof other), copy);
  EXPECT_EQ(takeError().first, 0);
}

} // namespace

TEST_F(CudaBackendTest, KernelsAreTimedWhenAsked) {
  static const char ptx[] = "// ptx";
  void *function =
      mgpuModuleGetFunction(mgpuModuleLoadJIT(const_cast<char *>(ptx), 3), "k");
  void *stream = mgpuStreamCreate();
  long long launches = -1;
  // Off: nothing measured.
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  EXPECT_EQ(loom_cuda_take_kernel_ms(&launches), 0.0);
  EXPECT_EQ(launches, 0);
  ASSERT_EQ(loom_cuda_profile(1), 1);
  for (int i = 0; i < 2; ++i)
    mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr,
                     0);
  EXPECT_DOUBLE_EQ(loom_cuda_take_kernel_ms(&launches), 3.0);
  EXPECT_EQ(launches, 2);
  // Taking resets.
  EXPECT_EQ(loom_cuda_take_kernel_ms(&launches), 0.0);
  EXPECT_EQ(launches, 0);
  EXPECT_EQ(loom_cuda_profile(0), 0);
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  EXPECT_EQ(loom_cuda_take_kernel_ms(&launches), 0.0);
  EXPECT_EQ(takeError().first, 0);
}

TEST_F(CudaBackendTest, NewBlocksArePrefetchedBeforeTheNextLaunch) {
  static const char ptx[] = "// ptx";
  void *function =
      mgpuModuleGetFunction(mgpuModuleLoadJIT(const_cast<char *>(ptx), 3), "k");
  void *stream = mgpuStreamCreate();
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  int before = fake.prefetches();
  void *a = _mlir_memref_to_llvm_aligned_alloc(64, 5000);
  void *b = _mlir_memref_to_llvm_aligned_alloc(64, 7000);
  void *c = _mlir_memref_to_llvm_aligned_alloc(64, 9000);
  // Freed before any launch: not prefetched.
  _mlir_memref_to_llvm_free(c);
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  EXPECT_EQ(fake.prefetches(), before + 2);
  // Nothing new: nothing prefetched.
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  EXPECT_EQ(fake.prefetches(), before + 2);
  // A kept block handed out again (the host may have written it): again.
  _mlir_memref_to_llvm_free(a);
  void *d = _mlir_memref_to_llvm_aligned_alloc(64, 5000);
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  EXPECT_EQ(fake.prefetches(), before + 3);
  _mlir_memref_to_llvm_free(b);
  _mlir_memref_to_llvm_free(d);
  EXPECT_EQ(takeError().first, 0);
}

TEST_F(CudaBackendTest, KernelTimesAreKeptPerKernelByName) {
  static const char ptx[] = "// ptx";
  void *module = mgpuModuleLoadJIT(const_cast<char *>(ptx), 3);
  void *function = mgpuModuleGetFunction(module, "matmul_kernel");
  void *stream = mgpuStreamCreate();
  ASSERT_EQ(loom_cuda_profile(1), 1);
  for (int i = 0; i < 3; ++i)
    mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr,
                     0);
  loom_cuda_profile(0);
  int n = loom_cuda_kernel_stats(-1, nullptr, nullptr, nullptr);
  ASSERT_GE(n, 1);
  // The fake driver hands out one function object: its slot has the name
  // it was first looked up by; timing restarted, so only these 3 count.
  bool found = false;
  for (int i = 0; i < n; ++i) {
    const char *name = nullptr;
    double ms = -1;
    long long launches = -1;
    EXPECT_EQ(loom_cuda_kernel_stats(i, &name, &ms, &launches), n);
    if (launches > 0) {
      found = true;
      EXPECT_DOUBLE_EQ(ms, 4.5);
      EXPECT_EQ(launches, 3);
      EXPECT_NE(name, nullptr);
    }
  }
  EXPECT_TRUE(found);
  (void)loom_cuda_take_kernel_ms(nullptr);
  EXPECT_EQ(takeError().first, 0);
}
