//===- NormTest.cpp - loomrt_norm_f32 and loomrt_sgemm_norm_f32 -----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The row-wise norms (layer norm, RMS norm, softmax; with and without scale
// and bias; rows that are not a multiple of the 16-float vectors) against
// double precision, and a product followed by a norm of its rows
// (loomrt_sgemm_norm_f32) against the double-precision product normalized:
// on the row halves of two threads, where each row block is normalized by
// the thread that completes it (several reduction steps, columns past the
// last 32-column pair, rows stolen from the other half), and where the norm
// runs afterwards (the column slots of few rows, a batch that does not merge
// into rows, every microkernel).
//
//===----------------------------------------------------------------------===//

#include "ForEachKernel.h"
#include "MaxError.h"
#include "loomrt/kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

/// The float's bit pattern, as loomc passes epsilon.
int64_t bitsOf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

/// Row `x` (n values) normalized in double by `kind`.
std::vector<double> normRow(const double *x, int64_t n, const float *scale,
                            const float *bias, double eps, int kind) {
  std::vector<double> y(n);
  if (kind == LOOMRT_NORM_SOFTMAX) {
    double mx = *std::max_element(x, x + n), sum = 0;
    for (int64_t j = 0; j < n; ++j)
      sum += y[j] = std::exp(x[j] - mx);
    for (double &v : y)
      v /= sum;
    return y;
  }
  double mean = 0, sq = 0;
  if (kind == LOOMRT_NORM_LAYER) {
    for (int64_t j = 0; j < n; ++j)
      mean += x[j];
    mean /= n;
  }
  for (int64_t j = 0; j < n; ++j)
    sq += (x[j] - mean) * (x[j] - mean);
  double rstd = 1 / std::sqrt(sq / n + eps);
  for (int64_t j = 0; j < n; ++j)
    y[j] = (x[j] - mean) * rstd * (scale ? scale[j] : 1) + (bias ? bias[j] : 0);
  return y;
}

struct NormCase {
  int64_t rows, cols;
  int kind;
  bool scale, bias;
};

class NormTest : public testing::TestWithParam<NormCase> {};

TEST_P(NormTest, MatchesDoubleReference) {
  const NormCase &p = GetParam();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-2.0f, 3.0f);
  std::vector<float> x(p.rows * p.cols), y(p.rows * p.cols, -7.0f),
      scale(p.cols), bias(p.cols);
  for (auto *v : {&x, &scale, &bias})
    for (float &f : *v)
      f = dist(rng);
  const float eps = 1e-5f;
  loomrt_norm_f32(p.rows, p.cols, x.data(), y.data(),
                  p.scale ? scale.data() : nullptr,
                  p.bias ? bias.data() : nullptr, bitsOf(eps), p.kind);
  double maxErr = 0;
  for (int64_t r = 0; r < p.rows; ++r) {
    std::vector<double> row(x.begin() + r * p.cols,
                            x.begin() + (r + 1) * p.cols);
    std::vector<double> want =
        normRow(row.data(), p.cols, p.scale ? scale.data() : nullptr,
                p.bias ? bias.data() : nullptr, eps, p.kind);
    for (int64_t j = 0; j < p.cols; ++j)
      maxErr =
          loomtest::maxError(maxErr, std::fabs(want[j] - y[r * p.cols + j]));
  }
  // fp32 sums over a row of at most ~1000 values of magnitude ~3.
  EXPECT_LT(maxErr, 5e-6) << "max abs err " << maxErr;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, NormTest,
    testing::Values(NormCase{300, 768, LOOMRT_NORM_LAYER, true, true},
                    NormCase{7, 37, LOOMRT_NORM_LAYER, true, false},
                    NormCase{5, 5, LOOMRT_NORM_LAYER, false, false},
                    NormCase{64, 100, LOOMRT_NORM_RMS, true, false},
                    NormCase{3, 1000, LOOMRT_NORM_RMS, false, false},
                    NormCase{20, 77, LOOMRT_NORM_SOFTMAX, false, false},
                    NormCase{1, 1, LOOMRT_NORM_LAYER, true, true},
                    // Two threads' parts of 151 and 150 rows in blocks of
                    // 41 rows that end inside each part.
                    NormCase{301, 100, LOOMRT_NORM_LAYER, true, true}));

/// A product and the norm of its rows: the batch, shape, whether the
/// residual and the norm's bias are present, whether B is prepacked, the
/// norm's kind.
struct GemmNormCase {
  int64_t batch, m, n, k;
  bool residual, packB;
  int kind;
};

std::string gemmNormName(const testing::TestParamInfo<GemmNormCase> &info) {
  const GemmNormCase &c = info.param;
  return "b" + std::to_string(c.batch) + "_m" + std::to_string(c.m) + "_n" +
         std::to_string(c.n) + "_k" + std::to_string(c.k) +
         (c.residual ? "_res" : "") + (c.packB ? "_packedB" : "") + "_kind" +
         std::to_string(c.kind);
}

class SgemmNormTest : public testing::TestWithParam<GemmNormCase> {};

/// C = A·B + bias (+ residual) and its rows' norm against double precision,
/// on every microkernel.
TEST_P(SgemmNormTest, MatchesDoubleReference) {
  const GemmNormCase &p = GetParam();
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  int64_t rows = p.batch * p.m;
  std::vector<float> a(p.batch * p.m * p.k), b(p.k * p.n), bias(p.n),
      res(rows * p.n), scale(p.n), shift(p.n), c(rows * p.n), out(rows * p.n);
  for (auto *v : {&a, &b, &bias, &res, &scale, &shift})
    for (float &f : *v)
      f = dist(rng);
  const float eps = 1e-5f;

  std::vector<double> wantC(rows * p.n), wantOut(rows * p.n);
  double maxStd = 0, minStd = INFINITY;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < p.n; ++j) {
      double x = bias[j] + (p.residual ? res[r * p.n + j] : 0);
      for (int64_t q = 0; q < p.k; ++q)
        x += static_cast<double>(a[r * p.k + q]) * b[q * p.n + j];
      wantC[r * p.n + j] = x;
    }
    std::vector<double> y = normRow(wantC.data() + r * p.n, p.n, scale.data(),
                                    shift.data(), eps, p.kind);
    std::copy(y.begin(), y.end(), wantOut.begin() + r * p.n);
    double sq = 0;
    for (int64_t j = 0; j < p.n; ++j)
      sq += wantC[r * p.n + j] * wantC[r * p.n + j];
    minStd = std::min(minStd, std::sqrt(sq / p.n));
    maxStd = std::max(maxStd, std::sqrt(sq / p.n));
  }

  std::vector<float> packed;
  int64_t size = loomrt_sgemm_packed_b_size(p.k, p.n);
  if (p.packB) {
    packed.resize(size);
    loomrt_sgemm_pack_b(p.k, p.n, b.data(), p.n, 1, packed.data());
  }
  loomtest::forEachKernel([&](const std::string &kernel) {
    std::fill(c.begin(), c.end(), -5.0f);
    std::fill(out.begin(), out.end(), -5.0f);
    loomrt_sgemm_norm_f32(p.batch, p.m, p.n, p.k, a.data(), p.m * p.k, p.k, 1,
                          p.packB ? packed.data() : b.data(), 0,
                          p.packB ? 0 : p.n, p.packB ? 0 : 1, c.data(),
                          p.m * p.n, p.n, 1, p.packB ? LOOMRT_GEMM_PACKED_B : 0,
                          bias.data(), 0, 0, 1,
                          p.residual ? res.data() : nullptr, p.m * p.n, p.n, 1,
                          LOOMRT_ACT_NONE, rows, p.n, c.data(), out.data(),
                          scale.data(), shift.data(), bitsOf(eps), p.kind);
    double errC = 0, errOut = 0;
    for (size_t at = 0; at < c.size(); ++at) {
      errC = loomtest::maxError(errC, std::fabs(c[at] - wantC[at]));
      errOut = loomtest::maxError(errOut, std::fabs(out[at] - wantOut[at]));
    }
    // The product's fp32 error (~k eps), relative to the rows' spread after
    // the norm (times the scale, at most 1), plus the norm's own.
    double tolC = 1e-6 * (p.k + 1) + 2e-6;
    EXPECT_LE(errC, tolC) << "kernel " << kernel;
    EXPECT_LE(errOut, 4 * tolC / minStd + 1e-5)
        << "kernel " << kernel << " (rows' rms " << minStd << " to " << maxStd
        << ")";
  });
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SgemmNormTest,
    testing::Values(
        // Row halves, 96-row blocks normalized as they complete: a BERT
        // layer's output projection, and a deeper product (two reduction
        // steps).
        GemmNormCase{1, 512, 768, 768, true, true, LOOMRT_NORM_LAYER},
        GemmNormCase{1, 300, 768, 1500, true, true, LOOMRT_NORM_LAYER},
        // Columns past the last full pair (counted as one more unit per
        // block), an RMS norm, wide halves that are one block.
        GemmNormCase{1, 260, 340, 600, false, true, LOOMRT_NORM_RMS},
        GemmNormCase{1, 350, 2064, 30, true, true, LOOMRT_NORM_LAYER},
        // A batch that continues its rows merges into them.
        GemmNormCase{2, 150, 256, 64, true, true, LOOMRT_NORM_LAYER},
        // ... and A rows a multiple of 2 KiB apart, read in place on
        // 48-column units (a BERT layer's FFN down-projection).
        GemmNormCase{1, 300, 768, 3072, true, true, LOOMRT_NORM_LAYER},
        // The norm afterwards: column slots (at most 192 rows), A rows a
        // multiple of 2 KiB apart (copied blocks, N not a multiple of 48),
        // an unpacked B, a small product, a softmax.
        GemmNormCase{1, 128, 768, 768, true, true, LOOMRT_NORM_LAYER},
        GemmNormCase{1, 300, 544, 2048, true, true, LOOMRT_NORM_LAYER},
        GemmNormCase{1, 200, 100, 50, true, false, LOOMRT_NORM_LAYER},
        GemmNormCase{1, 5, 7, 3, false, false, LOOMRT_NORM_SOFTMAX}),
    gemmNormName);

/// A norm whose input is not the product's C: the two effects, in turn.
TEST(SgemmNormTest, OtherInputIsNormalizedAfterTheProduct) {
  const int64_t m = 256, n = 64, k = 32;
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n, -1.0f), x(m * n),
      out(m * n, -1.0f);
  for (int64_t i = 0; i < m * n; ++i)
    x[i] = static_cast<float>(i % n);
  loomrt_sgemm_norm_f32(1, m, n, k, a.data(), 0, k, 1, b.data(), 0, n, 1,
                        c.data(), 0, n, 1, 0, nullptr, 0, 0, 0, nullptr, 0, 0,
                        0, LOOMRT_ACT_NONE, m, n, x.data(), out.data(), nullptr,
                        nullptr, bitsOf(0.0f), LOOMRT_NORM_RMS);
  std::vector<double> row(x.begin(), x.begin() + n);
  std::vector<double> want =
      normRow(row.data(), n, nullptr, nullptr, 0.0, LOOMRT_NORM_RMS);
  for (int64_t i = 0; i < m * n; ++i) {
    EXPECT_FLOAT_EQ(c[i], 0.5f * 0.25f * k);
    EXPECT_NEAR(out[i], want[i % n], 1e-6);
  }
}

} // namespace
