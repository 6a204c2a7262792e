//===- QgemmTest.cpp - loomrt_qgemm_w8_f32 against a reference
//-------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The int8 weight-only kernel against the same arithmetic in double:
// C[i, j] = scale[j] * sum_p A[i, p] * W[p, j]. Shapes around the 6 x 16
// register tile (full tiles, row and column tails, one row, k = 0).
//
//===----------------------------------------------------------------------===//

#include "loomrt/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
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
      worst = std::max(worst, err / tol);
      ASSERT_LE(err, tol) << "at (" << i << ", " << j << ")";
    }
  RecordProperty("worst_error_over_tolerance", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, QgemmShapes,
    ::testing::Values(Shape{1, 16, 32}, Shape{1, 4096 / 8, 768},
                      Shape{1, 37, 5}, Shape{6, 48, 64}, Shape{7, 33, 48},
                      Shape{13, 100, 64}, Shape{64, 96, 256}, Shape{5, 16, 1}));

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

} // namespace
