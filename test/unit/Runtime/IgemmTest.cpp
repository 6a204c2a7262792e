//===- IgemmTest.cpp - loomrt_igemm_f32 against the integer arithmetic ----===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The W8A8 kernel against a reference that quantizes the activations with
// the same formula (fp32 division, round half to even), sums the integer
// products exactly in int64, and applies the same fp32 epilogue: results
// must be bit-identical, on every instruction set the CPU has (the
// kernel's choice is capped with loomrt_igemm_set_max_isa), at shapes
// around the register tiles (row and column tails, k not a multiple of 4,
// one row), with dynamic (per row) and static activation parameters,
// packed and unpacked weights.
//
//===----------------------------------------------------------------------===//

#include "loomrt/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

struct Case {
  int64_t m, n, k;
  /// Static activation parameters (scale 0: dynamic, per row).
  float scale;
  int32_t zero;
};

/// The kernel's arithmetic, written out.
std::vector<float> reference(const Case &t, const std::vector<float> &a,
                             const std::vector<int8_t> &w,
                             const std::vector<float> &scale) {
  std::vector<float> c(t.m * t.n);
  for (int64_t i = 0; i < t.m; ++i) {
    const float *x = a.data() + i * t.k;
    float s = t.scale;
    int32_t z = t.zero;
    if (!(s > 0.0f)) {
      float lo = 0.0f, hi = 0.0f;
      for (int64_t p = 0; p < t.k; ++p) {
        lo = std::min(lo, x[p]);
        hi = std::max(hi, x[p]);
      }
      s = (hi - lo) / 255.0f;
      if (!(s > 0.0f))
        s = 1.0f;
      z = static_cast<int32_t>(
          std::clamp(std::nearbyint(-lo / s), 0.0f, 255.0f));
    }
    std::vector<int32_t> q(t.k);
    for (int64_t p = 0; p < t.k; ++p)
      q[p] = static_cast<int32_t>(std::clamp(
          std::nearbyint(x[p] / s) + static_cast<float>(z), 0.0f, 255.0f));
    for (int64_t j = 0; j < t.n; ++j) {
      int64_t sum = 0, colsum = 0;
      for (int64_t p = 0; p < t.k; ++p) {
        sum += static_cast<int64_t>(q[p]) * w[p * t.n + j];
        colsum += w[p * t.n + j];
      }
      c[i * t.n + j] =
          static_cast<float>(static_cast<int32_t>(sum - z * colsum)) *
          (s * scale[j]);
    }
  }
  return c;
}

class IgemmCases : public ::testing::TestWithParam<Case> {};

TEST_P(IgemmCases, BitExactOnEveryInstructionSet) {
  Case t = GetParam();
  std::mt19937 gen(static_cast<unsigned>(t.m * 131 + t.n * 7 + t.k));
  std::uniform_real_distribution<float> real(-2.0f, 3.0f);
  std::uniform_int_distribution<int> byte(-127, 127);
  std::vector<float> a(t.m * t.k), scale(t.n);
  std::vector<int8_t> w(t.k * t.n);
  for (float &x : a)
    x = real(gen);
  for (int8_t &x : w)
    x = static_cast<int8_t>(byte(gen));
  for (float &x : scale)
    x = 0.001f + std::fabs(real(gen)) * 0.01f;
  std::vector<float> want = reference(t, a, w, scale);

  std::vector<int8_t> packed(loomrt_igemm_packed_bytes(t.k, t.n));
  std::vector<int32_t> colsum(loomrt_igemm_packed_sums(t.n));
  loomrt_igemm_pack(t.k, t.n, w.data(), packed.data(), colsum.data());

  std::vector<std::string> seen;
  for (const char *isa : {"portable", "avx2", "avx512"}) {
    std::string name = loomrt_igemm_set_max_isa(isa);
    if (!seen.empty() && seen.back() == name)
      continue;
    seen.push_back(name);
    for (bool prepacked : {false, true}) {
      std::vector<float> c(t.m * t.n, NAN);
      loomrt_igemm_f32(t.m, t.n, t.k, a.data(),
                       prepacked ? packed.data() : w.data(), scale.data(),
                       prepacked ? colsum.data() : nullptr,
                       t.scale > 0.0f ? &t.scale : nullptr, t.zero,
                       c.data(), prepacked ? LOOMRT_IGEMM_PACKED : 0);
      for (int64_t i = 0; i < t.m * t.n; ++i)
        ASSERT_EQ(want[i], c[i])
            << name << (prepacked ? " packed" : " unpacked") << " at row "
            << i / t.n << " column " << i % t.n;
    }
  }
  loomrt_igemm_set_max_isa(nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, IgemmCases,
    ::testing::Values(Case{1, 16, 4, 0, 0}, Case{1, 768, 768, 0, 0},
                      Case{8, 32, 64, 0, 0}, Case{9, 33, 67, 0, 0},
                      Case{3, 17, 5, 0, 0}, Case{64, 96, 128, 0, 0},
                      Case{130, 100, 301, 0, 0}, Case{7, 48, 1, 0, 0},
                      // Static (calibrated) parameters, values that clip.
                      Case{9, 40, 70, 0.01f, 128}, Case{65, 31, 33, 0.02f, 0},
                      Case{1, 50, 200, 0.005f, 255}));

TEST(Igemm, RowParamsMatchDynamicQuantizeLinear) {
  // ONNX's DynamicQuantizeLinear example: x = [0, 2, -3, -2.5, 1.34, 0.5]
  // gives scale 0.0196078438, zero point 153.
  const float x[] = {0.0f, 2.0f, -3.0f, -2.5f, 1.34f, 0.5f};
  float s = 0.0f;
  int32_t z = -1;
  loomrt_igemm_row_params(x, 6, &s, &z);
  EXPECT_FLOAT_EQ(0.0196078438f, s);
  EXPECT_EQ(153, z);
  // All zeros: scale 1, zero point 0.
  const float zeros[4] = {};
  loomrt_igemm_row_params(zeros, 4, &s, &z);
  EXPECT_EQ(1.0f, s);
  EXPECT_EQ(0, z);
}

TEST(Igemm, EmptyProductsWriteZerosOrNothing) {
  // k = 0: every sum is 0.
  std::vector<float> c(2 * 3, NAN), scale(3, 1.0f);
  std::vector<int8_t> w;
  loomrt_igemm_f32(2, 3, 0, nullptr, w.data(), scale.data(), nullptr, nullptr, 0,
                   c.data(), 0);
  for (float v : c)
    EXPECT_EQ(0.0f, v);
}

} // namespace
