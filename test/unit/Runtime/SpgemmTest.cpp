//===- SpgemmTest.cpp - Sparse GEMM kernels against dense arithmetic ------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loomrt_bsgemm_f32 and loomrt_sgemm24_f32 against the dense product, in
// double, of the same sparse W (zeros where the pattern dropped values): at
// shapes around the 6 x 16 (4 x 16) register tiles, the 256-column units of
// work and the 256-row chunks of W, with partial panels, partial row blocks
// (k not a multiple of the block), empty panels, one row and many. The pack
// functions' layouts are checked through the products they give and by
// their counts.
//
//===----------------------------------------------------------------------===//

#include "MaxError.h"
#include "loomrt/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

struct Shape {
  int64_t m, n, k, bk;
  /// Fraction of blocks kept.
  double density;
};

/// max |C - A W| over the bound k ulps of the terms' magnitude, in double.
double worstError(int64_t m, int64_t n, int64_t k, const std::vector<float> &a,
                  const std::vector<float> &w, const std::vector<float> &c) {
  double worst = 0.0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0, mag = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        double t = static_cast<double>(a[i * k + p]) * w[p * n + j];
        sum += t;
        mag += std::fabs(t);
      }
      double tol = 1e-6 * mag * std::sqrt(double(k) + 1) + 1e-30;
      worst = loomtest::maxError(worst, std::fabs(c[i * n + j] - sum) / tol);
    }
  return worst;
}

class BsgemmShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(BsgemmShapes, MatchesTheDenseProduct) {
  auto [m, n, k, bk, density] = GetParam();
  std::mt19937 gen(static_cast<unsigned>(m * 131 + n * 7 + k + bk));
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::vector<float> a(m * k), w(k * n), c(m * n, NAN);
  for (float &x : a)
    x = real(gen);
  // Blocks of bk x 16 kept with probability `density`.
  int64_t kept = 0;
  for (int64_t kb = 0; kb * bk < k; ++kb)
    for (int64_t q = 0; q * 16 < n; ++q) {
      bool keep = std::uniform_real_distribution<double>(0, 1)(gen) < density;
      kept += keep;
      for (int64_t p = kb * bk; p < std::min(k, (kb + 1) * bk); ++p)
        for (int64_t j = q * 16; j < std::min(n, (q + 1) * 16); ++j)
          w[p * n + j] = keep ? real(gen) : 0.0f;
    }
  ASSERT_EQ(loomrt_bsgemm_pack_count(k, n, bk, w.data(), n, 1), kept);
  int64_t panels = (n + 15) / 16;
  std::vector<int32_t> index(panels + 1 + kept);
  std::vector<float> data(kept * bk * 16);
  loomrt_bsgemm_pack(k, n, bk, w.data(), n, 1, index.data(), data.data());
  EXPECT_EQ(index[panels], kept);
  loomrt_bsgemm_f32(m, n, k, bk, a.data(), index.data(), data.data(), c.data());
  EXPECT_LE(worstError(m, n, k, a, w, c), 1.0);

  // The transposed W (column-major) packs to the same blocks.
  std::vector<float> wt(k * n);
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j)
      wt[j * k + p] = w[p * n + j];
  std::vector<int32_t> index2(index.size());
  std::vector<float> data2(data.size());
  loomrt_bsgemm_pack(k, n, bk, wt.data(), 1, k, index2.data(), data2.data());
  EXPECT_EQ(index, index2);
  EXPECT_EQ(data, data2);
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, BsgemmShapes,
    ::testing::Values(Shape{1, 16, 32, 32, 1.0}, Shape{6, 16, 64, 32, 0.5},
                      Shape{7, 33, 70, 32, 0.5}, Shape{1, 300, 600, 32, 0.25},
                      Shape{13, 520, 530, 16, 0.5},
                      Shape{100, 64, 300, 64, 0.75}, Shape{5, 40, 40, 8, 0.0},
                      Shape{97, 257, 257, 32, 0.5}, Shape{2, 48, 1, 32, 1.0}));

class Sgemm24Shapes : public ::testing::TestWithParam<Shape> {};

TEST_P(Sgemm24Shapes, MatchesTheDenseProduct) {
  auto [m, n, k, bk, density] = GetParam();
  (void)bk;
  (void)density;
  std::mt19937 gen(static_cast<unsigned>(m * 17 + n * 5 + k));
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> pos(0, 3);
  std::vector<float> a(m * k), w(k * n, 0.0f), values(k / 2 * n), c(m * n, NAN);
  std::vector<uint8_t> meta(k / 4 * n);
  for (float &x : a)
    x = real(gen);
  for (int64_t g = 0; g < k / 4; ++g)
    for (int64_t j = 0; j < n; ++j) {
      int r0 = pos(gen), r1 = pos(gen);
      if (r0 == r1)
        r1 = (r0 + 1) % 4;
      if (r0 > r1)
        std::swap(r0, r1);
      float v0 = real(gen), v1 = real(gen);
      values[2 * g * n + j] = v0;
      values[(2 * g + 1) * n + j] = v1;
      meta[g * n + j] = static_cast<uint8_t>(r0 | r1 << 2);
      w[(4 * g + r0) * n + j] = v0;
      w[(4 * g + r1) * n + j] = v1;
    }
  std::vector<float> data(loomrt_sgemm24_packed_floats(k, n));
  std::vector<uint32_t> words(loomrt_sgemm24_packed_meta(k, n));
  loomrt_sgemm24_pack(k, n, values.data(), meta.data(), data.data(),
                      words.data());
  loomrt_sgemm24_f32(m, n, k, a.data(), data.data(), words.data(), c.data());
  EXPECT_LE(worstError(m, n, k, a, w, c), 1.0);
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, Sgemm24Shapes,
    ::testing::Values(Shape{1, 16, 4, 0, 0.0}, Shape{4, 16, 64, 0, 0.0},
                      Shape{5, 33, 100, 0, 0.0}, Shape{1, 300, 768, 0, 0.0},
                      Shape{99, 270, 128, 0, 0.0}, Shape{3, 7, 8, 0, 0.0},
                      Shape{2, 20, 0, 0, 0.0}));

} // namespace
