//===- I4gemmTest.cpp - loomrt_i4gemm_f32 against the integer arithmetic --===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The W4A8 kernel against a reference that quantizes the activations per
// row and group with the same formula (fp32 division, round half to even),
// sums the integer products exactly in int64 and applies the same fp32
// operations in the same order: results must be bit-identical, on every
// instruction set the CPU has (loomrt_i4gemm_set_max_isa), at shapes around
// the register tiles (one row: 64-column units; row tails of 1-3; column
// tails; k not a multiple of 8 or of the group), with and without zero
// points, fp16 and fp32 scales, packed and unpacked weights. A second test
// checks the result against the fp32 product of the dequantized weights
// (the quantization error only).
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
  int64_t m, n, k, group;
  bool zeros, f32;
};

/// fp16 bits of f (round to nearest even; normal range only).
uint16_t toHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint32_t sign = bits >> 31 << 15;
  int32_t exp = static_cast<int32_t>((bits >> 23) & 255) - 127 + 15;
  uint32_t mant = bits & 0x7fffff;
  uint32_t half = sign | static_cast<uint32_t>(exp) << 10 | mant >> 13;
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half;
  return static_cast<uint16_t>(half);
}

float fromHalf(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h >> 15) << 31, exp = (h >> 10) & 31,
           mant = h & 1023;
  uint32_t bits = sign | (exp + 112) << 23 | mant << 13;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct Operands {
  std::vector<float> a, scale32;
  std::vector<uint16_t> scale16;
  std::vector<uint8_t> w, zero;
  int64_t groups;

  int u(const Case &t, int64_t p, int64_t j) const {
    uint8_t byte = w[p / 2 * t.n + j];
    return p % 2 ? byte >> 4 : byte & 15;
  }
  float sw(const Case &t, int64_t g, int64_t j) const {
    return t.f32 ? scale32[g * t.n + j] : fromHalf(scale16[g * t.n + j]);
  }
  int z(const Case &t, int64_t g, int64_t j) const {
    return t.zeros ? zero[g * t.n + j] : 8;
  }
};

Operands makeOperands(const Case &t) {
  std::mt19937 gen(static_cast<unsigned>(t.m * 131 + t.n * 7 + t.k));
  std::uniform_real_distribution<float> real(-2.0f, 3.0f);
  std::uniform_int_distribution<int> byte(0, 255), nib(0, 15);
  Operands o;
  o.groups = (t.k + t.group - 1) / t.group;
  o.a.resize(t.m * t.k);
  for (float &x : o.a)
    x = real(gen);
  // A row of zeros: its groups get scale 1.
  if (t.m > 2)
    std::fill(o.a.begin() + t.k, o.a.begin() + 2 * t.k, 0.0f);
  o.w.resize((t.k + 1) / 2 * t.n);
  for (uint8_t &x : o.w)
    x = static_cast<uint8_t>(byte(gen));
  for (int64_t i = 0; i < o.groups * t.n; ++i) {
    float s = 0.001f + std::fabs(real(gen)) * 0.01f;
    o.scale32.push_back(s);
    o.scale16.push_back(toHalf(s));
    o.zero.push_back(static_cast<uint8_t>(nib(gen)));
  }
  return o;
}

/// The kernel's arithmetic, written out.
std::vector<float> reference(const Case &t, const Operands &o) {
  std::vector<float> c(t.m * t.n);
  for (int64_t i = 0; i < t.m; ++i) {
    const float *x = o.a.data() + i * t.k;
    std::vector<int32_t> q(t.k);
    std::vector<float> sa(o.groups);
    std::vector<int64_t> asum(o.groups, 0);
    for (int64_t g = 0; g < o.groups; ++g) {
      int64_t p0 = g * t.group, p1 = std::min(t.k, p0 + t.group);
      float peak = 0.0f;
      for (int64_t p = p0; p < p1; ++p)
        peak = std::max(peak, std::fabs(x[p]));
      float s = peak / 127.0f;
      if (s == 0.0f)
        s = 1.0f;
      sa[g] = s;
      for (int64_t p = p0; p < p1; ++p) {
        q[p] = static_cast<int32_t>(
            std::clamp(std::nearbyint(x[p] / s), -127.0f, 127.0f));
        asum[g] += q[p];
      }
    }
    for (int64_t j = 0; j < t.n; ++j) {
      float acc = 0.0f;
      for (int64_t g = 0; g < o.groups; ++g) {
        int64_t p0 = g * t.group, p1 = std::min(t.k, p0 + t.group);
        int64_t dot = 0;
        for (int64_t p = p0; p < p1; ++p)
          dot += static_cast<int64_t>(q[p]) * o.u(t, p, j);
        float tt = static_cast<float>(dot - o.z(t, g, j) * asum[g]);
        float s = sa[g] * o.sw(t, g, j);
        acc = std::fma(tt, s, acc);
      }
      c[i * t.n + j] = acc;
    }
  }
  return c;
}

class I4gemmCases : public ::testing::TestWithParam<Case> {};

TEST_P(I4gemmCases, BitExactOnEveryInstructionSet) {
  Case t = GetParam();
  Operands o = makeOperands(t);
  std::vector<float> want = reference(t, o);
  int64_t flags = t.f32 ? LOOMRT_QGEMM_SCALE_F32 : 0;
  const void *scale = t.f32 ? static_cast<const void *>(o.scale32.data())
                            : static_cast<const void *>(o.scale16.data());
  const uint8_t *zero = t.zeros ? o.zero.data() : nullptr;
  int64_t entries = loomrt_i4gemm_packed_groups(t.k, t.n, t.group);
  std::vector<uint8_t> wp(loomrt_i4gemm_packed_bytes(t.k, t.n)),
      zp(t.zeros ? entries : 0);
  std::vector<float> sp32(entries);
  std::vector<uint16_t> sp16(entries);
  void *sp = t.f32 ? static_cast<void *>(sp32.data())
                   : static_cast<void *>(sp16.data());
  loomrt_i4gemm_pack(t.k, t.n, t.group, o.w.data(), scale, zero, wp.data(), sp,
                     t.zeros ? zp.data() : nullptr, flags);

  std::vector<std::string> seen;
  for (const char *isa : {"portable", "avx2", "avx512"}) {
    std::string name = loomrt_i4gemm_set_max_isa(isa);
    if (!seen.empty() && seen.back() == name)
      continue;
    seen.push_back(name);
    for (bool prepacked : {false, true}) {
      std::vector<float> c(t.m * t.n, NAN);
      loomrt_i4gemm_f32(
          t.m, t.n, t.k, t.group, o.a.data(),
          prepacked ? wp.data() : o.w.data(), prepacked ? sp : scale,
          prepacked ? (t.zeros ? zp.data() : nullptr) : zero, c.data(),
          flags | (prepacked ? LOOMRT_QGEMM_PACKED : 0));
      for (int64_t i = 0; i < t.m * t.n; ++i)
        ASSERT_EQ(want[i], c[i])
            << name << (prepacked ? " packed" : " unpacked") << " at row "
            << i / t.n << " column " << i % t.n;
    }
  }
  loomrt_i4gemm_set_max_isa(nullptr);
}

INSTANTIATE_TEST_SUITE_P(Shapes, I4gemmCases,
                         ::testing::Values(Case{1, 16, 8, 8, false, true},
                                           Case{1, 768, 768, 32, false, false},
                                           Case{1, 100, 200, 32, true, true},
                                           Case{1, 70, 77, 16, true, false},
                                           Case{4, 32, 64, 32, false, false},
                                           Case{5, 33, 67, 8, true, true},
                                           Case{3, 17, 40, 16, false, false},
                                           Case{2, 48, 128, 128, true, false},
                                           Case{130, 100, 301, 64, false, true},
                                           Case{7, 48, 1, 8, true, true}));

TEST(I4gemm, CloseToTheDequantizedProduct) {
  // Against sum_p A[i, p] (u[p, j] - z) s[g, j] in double: the activations'
  // int8 rounding is the only difference (a relative error of a few
  // 0.1 %).
  Case t{3, 64, 256, 32, true, true};
  Operands o = makeOperands(t);
  std::vector<float> c(t.m * t.n);
  loomrt_i4gemm_f32(t.m, t.n, t.k, t.group, o.a.data(), o.w.data(),
                    o.scale32.data(), o.zero.data(), c.data(),
                    LOOMRT_QGEMM_SCALE_F32);
  double err = 0.0, norm = 0.0;
  for (int64_t i = 0; i < t.m; ++i)
    for (int64_t j = 0; j < t.n; ++j) {
      double want = 0.0;
      for (int64_t p = 0; p < t.k; ++p)
        want += static_cast<double>(o.a[i * t.k + p]) *
                (o.u(t, p, j) - o.z(t, p / t.group, j)) *
                o.sw(t, p / t.group, j);
      err += (c[i * t.n + j] - want) * (c[i * t.n + j] - want);
      norm += want * want;
    }
  EXPECT_LT(std::sqrt(err / norm), 0.01);
  EXPECT_GT(norm, 0.0);
}

TEST(I4gemm, BadGroupsGiveNaN) {
  std::vector<float> a(4, 1.0f), c(2, 0.0f), s(2, 1.0f);
  std::vector<uint8_t> w(2 * 2, 0x11);
  loomrt_i4gemm_f32(1, 2, 4, 6, a.data(), w.data(), s.data(), nullptr, c.data(),
                    LOOMRT_QGEMM_SCALE_F32);
  EXPECT_TRUE(std::isnan(c[0]) && std::isnan(c[1]));
}

} // namespace
