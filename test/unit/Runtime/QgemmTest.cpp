//===- QgemmTest.cpp - loomrt_qgemm_w8_f32 against a reference
//-------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The weight-only kernels against the same arithmetic in double. int8:
// C[i, j] = scale[j] * sum_p A[i, p] * W[p, j], at shapes around the 6 x 16
// register tile and the dequantized-panel path (full tiles, row and column
// tails, one row, k = 0). int4: C[i, j] = sum_p A[i, p] * (q[p, j] -
// zero[g, j]) * scale[g, j] with g = p / group, weights packed two per byte
// along k, with and without zero points, odd k, odd groups, one row and
// many.
//
//===----------------------------------------------------------------------===//

#include "MaxError.h"
#include "loomrt/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

struct Shape {
  int64_t m, n, k;
};

class QgemmShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(QgemmShapes, MatchesTheQuantizedArithmetic) {
  auto [m, n, k] = GetParam();
  std::mt19937 gen(static_cast<unsigned>(m * 131 + n * 7 + k));
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> byte(-127, 127);
  std::vector<float> a(m * k), scale(n), c(m * n, NAN);
  std::vector<int8_t> w(k * n);
  for (float &x : a)
    x = real(gen);
  for (int8_t &x : w)
    x = static_cast<int8_t>(byte(gen));
  for (float &x : scale)
    x = 0.01f + std::fabs(real(gen)) * 0.02f;
  loomrt_qgemm_w8_f32(m, n, k, a.data(), w.data(), scale.data(), c.data());
  double worst = 0.0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0, mag = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        sum += static_cast<double>(a[i * k + p]) * w[p * n + j];
        mag += std::fabs(static_cast<double>(a[i * k + p]) * w[p * n + j]);
      }
      double want = sum * scale[j];
      // fp32 accumulation in another order: bounded by k ulps of the
      // magnitude of the terms.
      double tol = 1e-6 * (mag * scale[j]) * std::sqrt(double(k) + 1) + 1e-30;
      double err = std::fabs(c[i * n + j] - want);
      worst = loomtest::maxError(worst, err / tol);
      ASSERT_LE(err, tol) << "at (" << i << ", " << j << ")";
    }
  RecordProperty("worst_error_over_tolerance", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, QgemmShapes,
    ::testing::Values(Shape{1, 16, 32}, Shape{1, 4096 / 8, 768},
                      Shape{1, 37, 5}, Shape{6, 48, 64}, Shape{7, 33, 48},
                      Shape{13, 100, 64}, Shape{64, 96, 256}, Shape{5, 16, 1},
                      Shape{8, 16, 16}, Shape{130, 200, 300},
                      Shape{33, 2000, 40}));

TEST(Qgemm, ZeroDepthGivesZeros) {
  std::vector<float> a(1), scale(20, 1.0f), c(3 * 20, NAN);
  std::vector<int8_t> w(1);
  loomrt_qgemm_w8_f32(3, 20, 0, a.data(), w.data(), scale.data(), c.data());
  for (float x : c)
    EXPECT_EQ(x, 0.0f);
}

TEST(Qgemm, ExtremeWeightsAndScalesAreExact) {
  // One term per output: c = a * w * scale exactly representable.
  const int64_t n = 32;
  std::vector<float> a = {2.0f}, scale(n), c(n);
  std::vector<int8_t> w(n);
  for (int64_t j = 0; j < n; ++j) {
    w[j] = static_cast<int8_t>(j % 2 ? -127 : 127);
    scale[j] = std::ldexp(1.0f, -static_cast<int>(j));
  }
  loomrt_qgemm_w8_f32(1, n, 1, a.data(), w.data(), scale.data(), c.data());
  for (int64_t j = 0; j < n; ++j)
    EXPECT_EQ(c[j], 2.0f * w[j] * scale[j]);
}

/// The bits of x rounded to half precision (the int4 kernels' scales).
uint16_t toHalf(float x) {
  _Float16 h = static_cast<_Float16>(x);
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof(bits));
  return bits;
}

/// Half-precision bits as a float.
float fromHalf(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof(h));
  return static_cast<float>(h);
}

struct Shape4 {
  int64_t m, n, k, group;
  bool zeroPoints;
};

class Qgemm4Shapes : public ::testing::TestWithParam<Shape4> {};

TEST_P(Qgemm4Shapes, MatchesTheQuantizedArithmetic) {
  auto [m, n, k, group, zeroPoints] = GetParam();
  std::mt19937 gen(static_cast<unsigned>(m * 131 + n * 7 + k + group));
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> nib(0, 15);
  int64_t groups = (k + group - 1) / group;
  std::vector<float> a(m * k), c(m * n, NAN);
  std::vector<uint16_t> scale(groups * n);
  std::vector<uint8_t> q(k * n), packed((k + 1) / 2 * n, 0), zero;
  for (float &x : a)
    x = real(gen);
  for (uint8_t &x : q)
    x = static_cast<uint8_t>(nib(gen));
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j)
      packed[p / 2 * n + j] |=
          static_cast<uint8_t>(q[p * n + j] << (p % 2 * 4));
  for (uint16_t &x : scale)
    x = toHalf(0.01f + std::fabs(real(gen)) * 0.02f);
  if (zeroPoints) {
    zero.resize(groups * n);
    for (uint8_t &x : zero)
      x = static_cast<uint8_t>(nib(gen));
  }
  loomrt_qgemm_w4_f32(m, n, k, group, a.data(), packed.data(), scale.data(),
                      zeroPoints ? zero.data() : nullptr, c.data(), 0);
  // Prepacked: the same numbers.
  std::vector<uint8_t> wp(loomrt_qgemm_w4_packed_bytes(k, n)),
      zp(loomrt_qgemm_w4_packed_zero_bytes(k, n, group));
  std::vector<uint16_t> sp(loomrt_qgemm_w4_packed_groups(k, n, group));
  std::vector<float> cp(m * n, NAN);
  loomrt_qgemm_w4_pack(k, n, group, packed.data(), scale.data(),
                       zeroPoints ? zero.data() : nullptr, wp.data(), sp.data(),
                       zeroPoints ? zp.data() : nullptr, 0);
  loomrt_qgemm_w4_f32(m, n, k, group, a.data(), wp.data(), sp.data(),
                      zeroPoints ? zp.data() : nullptr, cp.data(),
                      LOOMRT_QGEMM_PACKED);
  for (int64_t i = 0; i < m * n; ++i)
    ASSERT_EQ(cp[i], c[i]) << "at " << i;
  // The same scales as fp32 (pre-quantized ONNX models): the same numbers,
  // unpacked and packed.
  std::vector<float> scale32(scale.size()), sp32(sp.size());
  for (size_t i = 0; i < scale.size(); ++i)
    scale32[i] = fromHalf(scale[i]);
  loomrt_qgemm_w4_f32(m, n, k, group, a.data(), packed.data(), scale32.data(),
                      zeroPoints ? zero.data() : nullptr, cp.data(),
                      LOOMRT_QGEMM_SCALE_F32);
  for (int64_t i = 0; i < m * n; ++i)
    ASSERT_EQ(cp[i], c[i]) << "fp32 scales, at " << i;
  loomrt_qgemm_w4_pack(k, n, group, packed.data(), scale32.data(),
                       zeroPoints ? zero.data() : nullptr, wp.data(),
                       sp32.data(), zeroPoints ? zp.data() : nullptr,
                       LOOMRT_QGEMM_SCALE_F32);
  loomrt_qgemm_w4_f32(m, n, k, group, a.data(), wp.data(), sp32.data(),
                      zeroPoints ? zp.data() : nullptr, cp.data(),
                      LOOMRT_QGEMM_PACKED | LOOMRT_QGEMM_SCALE_F32);
  for (int64_t i = 0; i < m * n; ++i)
    ASSERT_EQ(cp[i], c[i]) << "packed fp32 scales, at " << i;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0, mag = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        int64_t g = p / group;
        int z = zeroPoints ? zero[g * n + j] : 8;
        double term = static_cast<double>(a[i * k + p]) *
                      (static_cast<int>(q[p * n + j]) - z) *
                      fromHalf(scale[g * n + j]);
        sum += term;
        mag += std::fabs(term);
      }
      double tol = 1e-6 * mag * std::sqrt(double(k) + 1) + 1e-30;
      ASSERT_NEAR(c[i * n + j], sum, tol) << "at (" << i << ", " << j << ")";
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Qgemm4Shapes,
                         ::testing::Values(Shape4{1, 32, 64, 32, false},
                                           Shape4{1, 4096 / 8, 768, 32, true},
                                           Shape4{1, 45, 37, 8, true},
                                           Shape4{1, 100, 130, 64, false},
                                           Shape4{1, 20, 9, 3, true},
                                           Shape4{2, 48, 64, 32, true},
                                           Shape4{7, 33, 47, 16, false},
                                           Shape4{64, 96, 256, 128, true},
                                           Shape4{130, 200, 300, 32, true},
                                           Shape4{5, 17, 15, 5, false}));

TEST(Qgemm4, ZeroDepthGivesZeros) {
  std::vector<float> a(1), c(3 * 20, NAN);
  std::vector<uint16_t> scale(20, toHalf(1.0f));
  std::vector<uint8_t> w(1);
  loomrt_qgemm_w4_f32(3, 20, 0, 32, a.data(), w.data(), scale.data(), nullptr,
                      c.data(), 0);
  for (float x : c)
    EXPECT_EQ(x, 0.0f);
}

TEST(Qgemm4, ExtremeNibblesAreExact) {
  // One term per output: c = a * (q - zero) * scale, exactly representable.
  const int64_t n = 32;
  std::vector<float> a = {2.0f}, c(n);
  std::vector<uint16_t> scale(n);
  std::vector<uint8_t> w(n), zero(n);
  for (int64_t j = 0; j < n; ++j) {
    w[j] = static_cast<uint8_t>(j % 2 ? 0 : 15);
    zero[j] = static_cast<uint8_t>(j % 3 ? 15 : 0);
    // Powers of two down to half precision's smallest subnormal (2^-24).
    scale[j] = toHalf(std::ldexp(1.0f, -static_cast<int>(j % 25)));
  }
  // Group 2 takes the vector path, an odd group the scalar one.
  for (int64_t group : {2, 1}) {
    loomrt_qgemm_w4_f32(1, n, 1, group, a.data(), w.data(), scale.data(),
                        zero.data(), c.data(), 0);
    for (int64_t j = 0; j < n; ++j)
      EXPECT_EQ(c[j], 2.0f * (w[j] - zero[j]) *
                          std::ldexp(1.0f, -static_cast<int>(j % 25)))
          << "group " << group << ", column " << j;
  }
}

} // namespace
