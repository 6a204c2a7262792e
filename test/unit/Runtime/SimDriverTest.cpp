//===- SimDriverTest.cpp - loomsim, the simulated CUDA driver -------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// runtime/src/cuda/sim.c (libcuda.so.1 of build/runtime/sim) through the
// driver API, with the hand-written kernels of sim_kernels.c as its image:
// special registers, the four shuffle modes (PTX's lane arithmetic:
// clamps and segments), repeated block barriers over shared memory, and
// the failures a GPU would hang or misbehave on (a deadlock, lanes at
// different collectives), reported as CUDA_ERROR_LAUNCH_FAILED with a
// description; wgmma.mma_async from shared memory through matrix
// descriptors, and its misuse (operands not fenced for the async proxy,
// overwritten while in flight, never waited for; swizzled layouts it does
// not simulate, partial warpgroups). Its mma.sync
// fragments are checked by the fp16 and bf16 models of gpu-sim.test (the
// tensor-core kernels that pass on an H200).
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

typedef int CUresult;

/// loomsim's driver functions, from its handle.
struct Driver {
  void *handle = nullptr;
  template <typename F> F get(const char *name) {
    void *p = dlsym(handle, name);
    F f;
    std::memcpy(&f, &p, sizeof f);
    return f;
  }
  CUresult load(void **module, const void *image) {
    return get<CUresult (*)(void **, const void *)>("cuModuleLoadData")(module,
                                                                        image);
  }
  CUresult function(void **f, void *module, const char *name) {
    return get<CUresult (*)(void **, void *, const char *)>(
        "cuModuleGetFunction")(f, module, name);
  }
  CUresult launch(void *f, unsigned gx, unsigned gy, unsigned bx, unsigned by,
                  void **params) {
    return get<CUresult (*)(void *, unsigned, unsigned, unsigned, unsigned,
                            unsigned, unsigned, unsigned, void *, void **,
                            void **)>("cuLaunchKernel")(
        f, gx, gy, 1, bx, by, 1, 0, nullptr, params, nullptr);
  }
  std::string errorString(CUresult r) {
    const char *text = nullptr;
    get<CUresult (*)(CUresult, const char **)>("cuGetErrorString")(r, &text);
    return text ? text : "";
  }
};

class SimDriverTest : public ::testing::Test {
protected:
  void SetUp() override {
    driver.handle = dlopen(LOOMSIM_DRIVER, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(driver.handle, nullptr) << dlerror();
    std::ifstream in(LOOMSIM_TEST_KERNELS, std::ios::binary);
    ASSERT_TRUE(in) << LOOMSIM_TEST_KERNELS;
    std::string object((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
    image = "LOOMSIM1";
    uint64_t size = object.size();
    image.append(reinterpret_cast<const char *>(&size), 8);
    image += object;
    ASSERT_EQ(driver.load(&module, image.data()), 0);
  }
  void TearDown() override {
    if (module)
      driver.get<CUresult (*)(void *)>("cuModuleUnload")(module);
  }
  /// Launches `name` with one parameter, the device pointer `out`.
  CUresult run(const char *name, unsigned gx, unsigned gy, unsigned bx,
               unsigned by, void *out) {
    void *f = nullptr;
    CUresult r = driver.function(&f, module, name);
    if (r)
      return r;
    void *params[] = {&out};
    return driver.launch(f, gx, gy, bx, by, params);
  }

  Driver driver;
  std::string image;
  void *module = nullptr;
};

TEST_F(SimDriverTest, SpecialRegisters) {
  // Grid 2 x 3 of 4 x 2 threads.
  std::vector<uint32_t> out(6 * 6 * 8, ~0u);
  ASSERT_EQ(run("ids", 2, 3, 4, 2, out.data()), 0);
  for (uint32_t by = 0; by < 3; ++by)
    for (uint32_t bx = 0; bx < 2; ++bx)
      for (uint32_t ty = 0; ty < 2; ++ty)
        for (uint32_t tx = 0; tx < 4; ++tx) {
          const uint32_t *o = &out[6 * ((by * 2 + bx) * 8 + ty * 4 + tx)];
          EXPECT_EQ(o[0], tx);
          EXPECT_EQ(o[1], ty);
          EXPECT_EQ(o[2], bx);
          EXPECT_EQ(o[3], by);
          EXPECT_EQ(o[4], 8u);
          EXPECT_EQ(o[5], 2u);
        }
}

TEST_F(SimDriverTest, Shuffles) {
  const uint32_t n = 64; // two warps: values never cross between them
  std::vector<uint32_t> out(6 * n, ~0u);
  ASSERT_EQ(run("shuffles", 1, 1, n, 1, out.data()), 0);
  auto value = [](uint32_t t) { return 10 * t + 1; };
  for (uint32_t t = 0; t < n; ++t) {
    uint32_t lane = t % 32, warp = t - lane;
    SCOPED_TRACE("thread " + std::to_string(t));
    // up 1: lane 0 keeps its own value.
    EXPECT_EQ(out[0 * n + t], value(lane >= 1 ? t - 1 : t));
    // down 3, clamped at lane 31.
    EXPECT_EQ(out[1 * n + t], value(lane + 3 <= 31 ? t + 3 : t));
    EXPECT_EQ(out[2 * n + t], value(warp + (lane ^ 5)));
    EXPECT_EQ(out[3 * n + t], value(warp + 7));
    // down 3 within 16-lane segments.
    EXPECT_EQ(out[4 * n + t], value(lane % 16 + 3 <= 15 ? t + 3 : t));
    EXPECT_EQ(out[5 * n + t], 2 * value(warp + (lane ^ 1)) + 1);
  }
}

TEST_F(SimDriverTest, Barriers) {
  const uint32_t n = 96; // three warps
  std::vector<uint32_t> out(n, ~0u);
  ASSERT_EQ(run("barriers", 2, 1, n, 1, out.data()), 0);
  for (uint32_t t = 0; t < n; ++t)
    EXPECT_EQ(out[t], 300 + 3 * ((t + 1) % n)) << "thread " << t;
}

TEST_F(SimDriverTest, LdMatrix) {
  std::vector<uint32_t> out(7 * 32, ~0u);
  ASSERT_EQ(run("ldmatrix", 1, 1, 32, 1, out.data()), 0);
  auto m = [](uint32_t r, uint32_t c) { return 100 * r + c; };
  auto pair = [](uint32_t lo, uint32_t hi) { return lo | hi << 16; };
  for (uint32_t l = 0; l < 32; ++l) {
    SCOPED_TRACE("lane " + std::to_string(l));
    uint32_t g = l / 4, t = l % 4;
    // x4: matrix i is rows 8i .. 8i + 7; lane l gets row g, columns 2t, +1.
    for (uint32_t i = 0; i < 4; ++i)
      EXPECT_EQ(out[7 * l + i],
                pair(m(8 * i + g, 2 * t), m(8 * i + g, 2 * t + 1)));
    // x2.trans: matrix i is rows 16 + 8i ..; lane l gets rows 2t, 2t + 1
    // of column g.
    for (uint32_t i = 0; i < 2; ++i)
      EXPECT_EQ(out[7 * l + 4 + i],
                pair(m(16 + 8 * i + 2 * t, g), m(16 + 8 * i + 2 * t + 1, g)));
    EXPECT_EQ(out[7 * l + 6], pair(m(8 + g, 2 * t), m(8 + g, 2 * t + 1)));
  }
}

TEST_F(SimDriverTest, AsyncCopiesLandAtTheirWait) {
  const uint32_t n = 64;
  std::vector<uint32_t> in(320), out(1024, ~0u);
  for (uint32_t i = 0; i < in.size(); ++i)
    in[i] = 1000 + i;
  void *f = nullptr;
  ASSERT_EQ(driver.function(&f, module, "asyncCopies"), 0);
  void *outPtr = out.data(), *inPtr = in.data();
  void *params[] = {&outPtr, &inPtr};
  ASSERT_EQ(driver.launch(f, 1, 1, n, 1, params), 0);
  for (uint32_t t = 0; t < n; ++t) {
    SCOPED_TRACE("thread " + std::to_string(t));
    EXPECT_EQ(out[3 * t], 0u); // before any wait: not copied yet
    EXPECT_EQ(out[3 * t + 1], 0u);
    EXPECT_EQ(out[3 * t + 2], in[4 * t + 3]); // group 0 waited for
    EXPECT_EQ(out[512 + t], 0u);              // group 1 still pending
    EXPECT_EQ(out[768 + t], in[256 + t]);
  }
}

TEST_F(SimDriverTest, DeadlockFailsTheLaunch) {
  CUresult r = run("deadlock", 1, 1, 64, 1, nullptr);
  EXPECT_EQ(r, 719); // CUDA_ERROR_LAUNCH_FAILED
  EXPECT_NE(driver.errorString(r).find("kernel 'deadlock' block (0, 0, 0) "
                                       "deadlocks"),
            std::string::npos)
      << driver.errorString(r);
  // The next launch runs normally.
  std::vector<uint32_t> out(64, 0);
  EXPECT_EQ(run("barriers", 1, 1, 64, 1, out.data()), 0);
  EXPECT_EQ(out[0], 300u + 3u);
}

TEST_F(SimDriverTest, DivergentCollectivesFailTheLaunch) {
  CUresult r = run("divergent", 1, 1, 32, 1, nullptr);
  EXPECT_EQ(r, 719);
  EXPECT_NE(driver.errorString(r).find("run different collectives"),
            std::string::npos)
      << driver.errorString(r);
}

TEST_F(SimDriverTest, Wgmma) {
  // m64n8k16 from shared memory through descriptors (sim_kernels.c's
  // wgmma): D = acc - A B^T, thread t holding rows 16 (t / 32 % 4) +
  // t % 32 / 4 (+8 for elements 2, 3) and columns 2 (t % 4) (+1 for odd
  // elements), as PTX lays out m64nNk16's accumulators.
  std::vector<float> out(4 * 128, -1.0f);
  ASSERT_EQ(run("wgmma", 1, 1, 128, 1, out.data()), 0);
  auto a = [](int r, int k) { return (3 * r + 5 * k) % 7 - 3; };
  auto b = [](int n, int k) { return (2 * n + k) % 5 - 2; };
  for (int t = 0; t < 128; ++t)
    for (int i = 0; i < 4; ++i) {
      int row = 16 * (t / 32 % 4) + t % 32 / 4 + (i >> 1) * 8;
      int col = 2 * (t % 4) + (i & 1);
      int dot = 0;
      for (int k = 0; k < 16; ++k)
        dot += a(row, k) * b(col, k);
      EXPECT_EQ(out[4 * t + i], 0.5f * i + t - dot)
          << "thread " << t << ", element " << i;
    }
}

TEST_F(SimDriverTest, WgmmaMisuseFailsTheLaunch) {
  std::vector<unsigned char> in(16 * 128, 0);
  void *f = nullptr;
  ASSERT_EQ(driver.function(&f, module, "wgmmaUnfenced"), 0);
  void *inPtr = in.data();
  void *params[] = {&inPtr};
  CUresult r = driver.launch(f, 1, 1, 128, 1, params);
  EXPECT_EQ(r, 719);
  EXPECT_NE(driver.errorString(r).find("wrote by cp.async without "
                                       "fence.proxy.async"),
            std::string::npos)
      << driver.errorString(r);
  r = run("wgmmaSwizzled", 1, 1, 128, 1, nullptr);
  EXPECT_EQ(r, 719);
  EXPECT_NE(driver.errorString(r).find("swizzled"), std::string::npos)
      << driver.errorString(r);
  // Not whole warpgroups.
  r = run("wgmmaSwizzled", 1, 1, 96, 1, nullptr);
  EXPECT_EQ(r, 719);
  EXPECT_NE(driver.errorString(r).find("not whole warpgroups"),
            std::string::npos)
      << driver.errorString(r);
  // Operands overwritten while the MMAs are in flight; MMAs never waited
  // for.
  r = run("wgmmaRace", 1, 1, 128, 1, nullptr);
  EXPECT_EQ(r, 719);
  EXPECT_NE(driver.errorString(r).find("changed before the wgmma.wait_group"),
            std::string::npos)
      << driver.errorString(r);
  r = run("wgmmaNoWait", 1, 1, 128, 1, nullptr);
  EXPECT_EQ(r, 719);
  EXPECT_NE(driver.errorString(r).find("exits with a wgmma.mma_async not "
                                       "waited for"),
            std::string::npos)
      << driver.errorString(r);
  // The next launch runs normally.
  std::vector<float> out(4 * 128);
  EXPECT_EQ(run("wgmma", 1, 1, 128, 1, out.data()), 0);
}

TEST_F(SimDriverTest, BadImagesAndNames) {
  void *other = nullptr;
  const char ptx[] = "//\n.version 8.0\n.target sm_90a\n";
  CUresult r = driver.load(&other, ptx);
  EXPECT_EQ(r, 200); // CUDA_ERROR_INVALID_IMAGE
  EXPECT_NE(driver.errorString(r).find("--gpu-binary=sim"), std::string::npos);
  void *f = nullptr;
  EXPECT_EQ(driver.function(&f, module, "missing"), 500); // NOT_FOUND
  EXPECT_EQ(f, nullptr);
  // Too many threads per block.
  EXPECT_EQ(run("ids", 1, 1, 2048, 1, nullptr), 1);
}

} // namespace
