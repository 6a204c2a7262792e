//===- SgemmTest.cpp - loomrt_sgemm_f32 against a double reference --------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The GEMM microkernel on shapes around its blocking (MR = 6, NR = 16,
// KC = 768, MC = 96), with every operand layout it accepts (row-major,
// transposed, batch-broadcast, strided output), accumulating or not,
// against a double-precision reference. Built twice: on OpenMP threads
// (LoomKernelTests) and single-threaded (LoomKernelSerialTests).
//
//===----------------------------------------------------------------------===//

#include "ForEachKernel.h"
#include "MaxError.h"
#include "loomrt/kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

/// One test case: shape and the layout of each operand.
struct Case {
  int64_t batch, m, n, k;
  bool transA, transB, broadcastB, transC, accumulate;
  /// B prepacked with loomrt_sgemm_pack_b (LOOMRT_GEMM_PACKED_B).
  bool packB = false;
};

std::string name(const testing::TestParamInfo<Case> &info) {
  const Case &c = info.param;
  return "b" + std::to_string(c.batch) + "_m" + std::to_string(c.m) + "_n" +
         std::to_string(c.n) + "_k" + std::to_string(c.k) +
         (c.transA ? "_tA" : "") + (c.transB ? "_tB" : "") +
         (c.broadcastB ? "_bcastB" : "") + (c.transC ? "_tC" : "") +
         (c.accumulate ? "_acc" : "") + (c.packB ? "_packedB" : "");
}

using loomtest::forEachKernel;

class SgemmTest : public testing::TestWithParam<Case> {};

TEST_P(SgemmTest, MatchesDoubleReference) {
  const Case &p = GetParam();
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  // Layouts: element (b, r, c) at b*bs + r*rs + c*cs.
  int64_t aRs = p.transA ? 1 : p.k, aCs = p.transA ? p.m : 1, aBs = p.m * p.k;
  int64_t bRs = p.transB ? 1 : p.n, bCs = p.transB ? p.k : 1,
          bBs = p.broadcastB ? 0 : p.k * p.n;
  int64_t cRs = p.transC ? 1 : p.n, cCs = p.transC ? p.m : 1, cBs = p.m * p.n;
  std::vector<float> a(p.batch * aBs),
      b(p.broadcastB ? p.k * p.n : p.batch * bBs), c(p.batch * cBs);
  for (float &v : a)
    v = dist(rng);
  for (float &v : b)
    v = dist(rng);
  for (float &v : c)
    v = dist(rng);
  std::vector<float> before = c;

  // The reference, in double.
  std::vector<double> want(c.size());
  for (int64_t bi = 0; bi < p.batch; ++bi)
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j) {
        double sum = 0;
        for (int64_t q = 0; q < p.k; ++q)
          sum += static_cast<double>(a[bi * aBs + i * aRs + q * aCs]) *
                 b[bi * bBs + q * bRs + j * bCs];
        int64_t at = bi * cBs + i * cRs + j * cCs;
        want[at] = p.accumulate ? sum + before[at] : sum;
      }

  int64_t flags = p.accumulate ? LOOMRT_GEMM_ACCUMULATE : 0;
  std::vector<float> packed;
  int64_t size = loomrt_sgemm_packed_b_size(p.k, p.n);
  if (p.packB) {
    // Each batch's B packed into consecutive panel sets.
    int64_t copies = p.broadcastB ? 1 : p.batch;
    packed.assign(copies * size + 1, -7.0f);
    for (int64_t bi = 0; bi < copies; ++bi)
      loomrt_sgemm_pack_b(p.k, p.n, b.data() + bi * bBs, bRs, bCs,
                          packed.data() + bi * size);
    EXPECT_EQ(packed.back(), -7.0f) << "packing wrote past its size";
  }

  forEachKernel([&](const std::string &kernel) {
    c = before;
    if (p.packB)
      loomrt_sgemm_f32(p.batch, p.m, p.n, p.k, a.data(), aBs, aRs, aCs,
                       packed.data(), p.broadcastB ? 0 : size, 0, 0, c.data(),
                       cBs, cRs, cCs, flags | LOOMRT_GEMM_PACKED_B);
    else
      loomrt_sgemm_f32(p.batch, p.m, p.n, p.k, a.data(), aBs, aRs, aCs,
                       b.data(), bBs, bRs, bCs, c.data(), cBs, cRs, cCs, flags);
    // fp32 accumulation of k products of magnitude <= 1: error ~ k * eps.
    double tolerance = 1e-6 * (p.k + 1) + 1e-6;
    double maxErr = 0;
    for (size_t at = 0; at < c.size(); ++at)
      maxErr = loomtest::maxError(maxErr, std::fabs(c[at] - want[at]));
    EXPECT_LE(maxErr, tolerance) << "kernel " << kernel;
  });
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SgemmTest,
    testing::Values(
        Case{1, 1, 1, 1, false, false, false, false, false},
        Case{1, 6, 16, 8, false, false, false, false, false},
        Case{1, 7, 17, 5, false, false, false, false, true},
        Case{1, 5, 15, 3, true, true, false, false, false},
        Case{1, 130, 100, 64, false, true, false, false, false},
        Case{1, 145, 33, 513, true, false, false, false, true},
        // A column-strided (packed by the GEMM): a 12-row tile and an
        // 11-row tail over both panels, and a block of 96 rows then one of
        // 10, whose tails span the second 6-row panel.
        Case{1, 23, 64, 37, true, false, false, false, false},
        Case{1, 106, 40, 50, true, false, false, false, true},
        Case{1, 300, 40, 257, false, false, false, true, false},
        Case{1, 64, 2100, 20, false, false, false, false, false},
        Case{3, 37, 50, 70, false, false, true, false, true},
        Case{12, 20, 24, 64, false, true, false, false, false},
        Case{2, 1, 300, 100, false, false, false, false, false},
        Case{1, 9, 9, 0, false, false, false, false, false},
        Case{1, 9, 9, 0, false, false, false, false, true},
        Case{1, 128, 768, 256, false, false, false, false, false, true},
        Case{1, 70, 33, 600, false, true, false, false, true, true},
        Case{4, 50, 40, 30, false, false, true, false, false, true},
        Case{3, 20, 100, 9, true, false, false, true, false, true},
        // One row (decoding): no packing, B streamed once.
        Case{1, 1, 700, 300, false, false, false, false, true},
        Case{1, 1, 50, 33, false, true, false, false, false},
        Case{2, 1, 70, 40, true, false, true, true, true},
        Case{3, 1, 300, 257, false, false, false, false, false, true},
        Case{1, 1, 5, 7, false, false, false, false, true, true},
        // Two-panel (12-row) tiles with row tails of 1-11 and a column tail.
        Case{1, 155, 200, 300, false, false, false, false, false, true},
        Case{2, 24, 160, 17, false, false, false, false, true, false},
        // K over one and two packed blocks (KC = 768), M over one A block.
        Case{1, 97, 150, 769, false, false, false, false, true, false},
        Case{1, 40, 70, 1537, false, true, false, false, false, true},
        // Row strides that are multiples of 2 KiB: blocks of A are copied to
        // a spread stride (two M blocks, two K blocks, a row tail).
        Case{1, 100, 70, 1536, false, false, false, false, true, true},
        Case{2, 30, 40, 512, false, true, false, false, false, false},
        // Threads taking 32-column slots of a short product by weights:
        // three reduction steps that wait for each other, a partial last
        // slot, a row tail, accumulating.
        Case{1, 150, 530, 1600, false, false, false, false, true, true},
        // (At least 4 slots per thread.) The last two tiles of a slot balanced:
        // 13 rows as 7 + 6, 23 as 12 + 11, 40 as 12 + 12 + 8 + 8 (not 12 + 12 +
        // 12 + 4).
        Case{1, 13, 530, 200, false, false, false, false, false, true},
        Case{1, 23, 512, 90, false, false, false, false, true, true},
        Case{1, 40, 576, 70, false, false, false, false, false, true},
        // Over 192 rows by weights: two row halves in blocks of 96 rows
        // (301: 96 + 60 and 96 + 49) and 32-column pairs, taken from each
        // other's end; a row tail.
        Case{1, 301, 256, 500, false, false, false, false, false, true},
        Case{1, 200, 96, 64, false, false, false, false, true, true},
        // The same in three reduction steps (K = 1700), the threads meeting
        // between steps; overwriting and accumulating.
        Case{1, 250, 96, 1700, false, false, false, false, false, true},
        Case{1, 250, 96, 1700, false, false, false, false, true, true},
        // Columns past the last full pair (an LM head's vocabulary), one
        // and three reduction steps, overwriting and accumulating.
        Case{1, 301, 530, 500, false, false, false, false, false, true},
        // A half of at most 144 rows is one block (300: 96 + 60 and 144;
        // 250: 132 and 118).
        Case{1, 300, 200, 300, false, false, false, false, true, true},
        Case{1, 250, 33, 1700, false, false, false, false, true, true},
        // So is a half of up to 288 rows of a wide product (at least 64
        // pairs; 410: 216 and 194 rows, 65 pairs and 10 columns past them).
        Case{1, 410, 2090, 40, false, false, false, false, true, true},
        // 48-column units on 8 x 48 tiles (N a multiple of 48): slots whose
        // last two tiles are balanced (13 rows as 7 + 6, 23 as 8 + 8 + 7)
        // over two reduction steps; halves with row tails (301: blocks of
        // 96 + 56 and 96 + 53 rows, 5- and 7-row tails) over three; a wide
        // product's halves that are one block (410: 208 and 202 rows).
        Case{1, 13, 576, 1000, false, false, false, false, false, true},
        Case{1, 23, 432, 90, false, false, false, false, true, true},
        Case{1, 301, 480, 1700, false, false, false, false, false, true},
        Case{1, 301, 96, 500, false, false, false, false, true, true},
        Case{1, 410, 2112, 40, false, false, false, false, false, true},
        // ... whose A rows are a multiple of 2 KiB apart, read in place (not
        // copied): halves over two reduction steps, slots over two.
        Case{1, 250, 96, 1536, false, false, false, false, true, true},
        Case{1, 40, 480, 1024, false, false, false, false, false, true}),
    name);

/// An epilogue case: shape, whether C (and the residual) are transposed,
/// which addends are present and the activation.
struct EpilogueCase {
  int64_t batch, m, n, k;
  bool transC, bias, rowBias, residual, packB;
  int act;
};

std::string epilogueName(const testing::TestParamInfo<EpilogueCase> &info) {
  const EpilogueCase &c = info.param;
  return "b" + std::to_string(c.batch) + "_m" + std::to_string(c.m) + "_n" +
         std::to_string(c.n) + "_k" + std::to_string(c.k) +
         (c.transC ? "_tC" : "") + (c.bias ? "_bias" : "") +
         (c.rowBias ? "_rowBias" : "") + (c.residual ? "_res" : "") +
         (c.packB ? "_packedB" : "") + "_act" + std::to_string(c.act);
}

class SgemmEpilogueTest : public testing::TestWithParam<EpilogueCase> {};

/// C = act(A·B + bias) + residual against double precision and libm's erf
/// and tanh, on every microkernel: the epilogue runs on each block of C at
/// its last reduction step, on every path (tiles, tails, one row, k = 0).
TEST_P(SgemmEpilogueTest, MatchesDoubleReference) {
  const EpilogueCase &p = GetParam();
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  int64_t aRs = p.k, aBs = p.m * p.k, bRs = p.n, bBs = p.k * p.n;
  int64_t cRs = p.transC ? 1 : p.n, cCs = p.transC ? p.m : 1, cBs = p.m * p.n;
  // A bias along the columns is shared by rows and batches; a row bias
  // (one value per row, broadcast along the columns) differs per batch.
  int64_t biasBs = p.rowBias ? p.m : 0, biasRs = p.rowBias ? 1 : 0,
          biasCs = p.rowBias ? 0 : 1;
  std::vector<float> a(p.batch * aBs), b(p.batch * bBs), c(p.batch * cBs),
      bias(p.rowBias ? p.batch * p.m : p.n), res(p.batch * cBs);
  for (auto *v : {&a, &b, &bias, &res})
    for (float &x : *v)
      x = dist(rng);
  // Scaled so that the GELUs see values across their whole curve.
  for (float &x : a)
    x *= 3.0f / std::sqrt(static_cast<float>(p.k + 1));

  std::vector<double> want(c.size());
  for (int64_t bi = 0; bi < p.batch; ++bi)
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j) {
        double x = 0;
        for (int64_t q = 0; q < p.k; ++q)
          x += static_cast<double>(a[bi * aBs + i * aRs + q]) *
               b[bi * bBs + q * bRs + j];
        if (p.bias || p.rowBias)
          x += bias[bi * biasBs + i * biasRs + j * biasCs];
        switch (p.act) {
        case LOOMRT_ACT_RELU:
          x = x > 0 ? x : 0;
          break;
        case LOOMRT_ACT_GELU:
          x = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
          break;
        case LOOMRT_ACT_GELU_TANH:
          x = 0.5 * x *
              (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
          break;
        case LOOMRT_ACT_SILU:
          x = x / (1 + std::exp(-x));
          break;
        default:
          break;
        }
        int64_t at = bi * cBs + i * cRs + j * cCs;
        if (p.residual)
          x += res[at];
        want[at] = x;
      }

  std::vector<float> packed;
  int64_t size = loomrt_sgemm_packed_b_size(p.k, p.n);
  if (p.packB) {
    packed.resize(p.batch * size);
    for (int64_t bi = 0; bi < p.batch; ++bi)
      loomrt_sgemm_pack_b(p.k, p.n, b.data() + bi * bBs, bRs, 1,
                          packed.data() + bi * size);
  }
  forEachKernel([&](const std::string &kernel) {
    std::fill(c.begin(), c.end(), -5.0f);
    loomrt_sgemm_epilogue_f32(
        p.batch, p.m, p.n, p.k, a.data(), aBs, aRs, 1,
        p.packB ? packed.data() : b.data(), p.packB ? size : bBs,
        p.packB ? 0 : bRs, p.packB ? 0 : 1, c.data(), cBs, cRs, cCs,
        p.packB ? LOOMRT_GEMM_PACKED_B : 0,
        p.bias || p.rowBias ? bias.data() : nullptr, biasBs, biasRs, biasCs,
        p.residual ? res.data() : nullptr, cBs, cRs, cCs, p.act);
    // The product's fp32 error (~k eps) plus the erf/tanh approximations'.
    double tolerance = 1e-6 * (p.k + 1) + 2e-6;
    double maxErr = 0;
    for (size_t at = 0; at < c.size(); ++at)
      maxErr = loomtest::maxError(maxErr, std::fabs(c[at] - want[at]));
    EXPECT_LE(maxErr, tolerance) << "kernel " << kernel;
  });
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SgemmEpilogueTest,
    testing::Values(
        // Tiles with row and column tails, a packed weight: a dense layer.
        EpilogueCase{1, 155, 200, 300, false, true, false, false, true,
                     LOOMRT_ACT_GELU},
        EpilogueCase{1, 155, 200, 300, false, true, false, true, true,
                     LOOMRT_ACT_NONE},
        EpilogueCase{1, 40, 70, 800, false, true, false, false, false,
                     LOOMRT_ACT_GELU_TANH},
        EpilogueCase{1, 130, 48, 64, false, false, false, true, false,
                     LOOMRT_ACT_RELU},
        EpilogueCase{2, 13, 33, 21, false, true, false, true, false,
                     LOOMRT_ACT_SILU},
        // Batches that merge into rows, and that do not (a row bias).
        EpilogueCase{3, 24, 64, 32, false, true, false, true, false,
                     LOOMRT_ACT_GELU},
        EpilogueCase{3, 24, 64, 32, false, false, true, false, false,
                     LOOMRT_ACT_GELU_TANH},
        // A transposed C (strided epilogue), one row, k = 0.
        EpilogueCase{1, 50, 40, 30, true, true, false, true, false,
                     LOOMRT_ACT_GELU},
        EpilogueCase{2, 1, 300, 100, false, true, false, true, true,
                     LOOMRT_ACT_GELU},
        EpilogueCase{1, 9, 9, 0, false, true, false, true, false,
                     LOOMRT_ACT_GELU},
        // A copied to a spread stride (K = 1024).
        EpilogueCase{1, 110, 64, 1024, false, true, false, true, true,
                     LOOMRT_ACT_GELU_TANH},
        // Column slots shared by the threads: the epilogue at the last of
        // two reduction steps, on full slots and a partial one.
        EpilogueCase{1, 100, 530, 1000, false, true, false, true, true,
                     LOOMRT_ACT_GELU},
        EpilogueCase{1, 64, 544, 700, false, false, true, true, true,
                     LOOMRT_ACT_GELU_TANH},
        // Row halves with stealing: the epilogue on every block and pair.
        EpilogueCase{1, 260, 320, 600, false, true, false, true, true,
                     LOOMRT_ACT_GELU},
        // ... and over three reduction steps: the epilogue at the last.
        EpilogueCase{1, 230, 64, 2000, false, true, false, true, true,
                     LOOMRT_ACT_GELU},
        // ... and on the columns past the last full pair.
        EpilogueCase{1, 260, 340, 600, false, true, false, true, true,
                     LOOMRT_ACT_GELU},
        EpilogueCase{1, 230, 70, 2000, false, false, true, true, true,
                     LOOMRT_ACT_GELU_TANH},
        // ... and on halves that are one block of a wide product.
        EpilogueCase{1, 350, 2064, 30, false, true, false, true, true,
                     LOOMRT_ACT_GELU},
        // On 8 x 48 tiles (N a multiple of 48): slots with a row tail over
        // two reduction steps, halves with row tails, a row bias.
        EpilogueCase{1, 101, 528, 1000, false, true, false, true, true,
                     LOOMRT_ACT_GELU},
        EpilogueCase{1, 261, 336, 600, false, true, false, true, true,
                     LOOMRT_ACT_GELU_TANH},
        EpilogueCase{1, 203, 96, 64, false, false, true, true, true,
                     LOOMRT_ACT_RELU}),
    epilogueName);

/// A bias that is a whole matrix (the residual stream, contiguous along the
/// columns) and a "residual" that is one value per row (a Mixer's token
/// bias, res_cs = 0), as the compiler passes them: C = act(A·B + bias) + res
/// with and without an activation (without one the runtime may add them in
/// either order; with one, not).
TEST(SgemmTest, RowResidualAndMatrixBias) {
  const int64_t m = 53, n = 96, k = 70;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(m * k), b(k * n), bias(m * n), res(m), c(m * n);
  for (auto *v : {&a, &b, &bias, &res})
    for (float &x : *v)
      x = dist(rng);
  std::vector<float> packed(loomrt_sgemm_packed_b_size(k, n));
  loomrt_sgemm_pack_b(k, n, b.data(), n, 1, packed.data());
  for (int act : {LOOMRT_ACT_NONE, LOOMRT_ACT_RELU}) {
    forEachKernel([&](const std::string &kernel) {
      for (bool packB : {false, true}) {
        std::fill(c.begin(), c.end(), -5.0f);
        loomrt_sgemm_epilogue_f32(
            1, m, n, k, a.data(), 0, k, 1, packB ? packed.data() : b.data(), 0,
            packB ? 0 : n, packB ? 0 : 1, c.data(), 0, n, 1,
            packB ? LOOMRT_GEMM_PACKED_B : 0, bias.data(), 0, n, 1, res.data(),
            0, 1, 0, act);
        double maxErr = 0;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double x = bias[i * n + j];
            for (int64_t q = 0; q < k; ++q)
              x += static_cast<double>(a[i * k + q]) * b[q * n + j];
            if (act == LOOMRT_ACT_RELU)
              x = x > 0 ? x : 0;
            x += res[i];
            maxErr = loomtest::maxError(maxErr, std::fabs(c[i * n + j] - x));
          }
        EXPECT_LE(maxErr, 1e-6 * (k + 1) + 2e-6)
            << "kernel " << kernel << " act " << act << " packB " << packB;
      }
    });
  }
}

TEST(SgemmTest, KernelIsNamed) {
  std::string kernel = loomrt_sgemm_kernel_name();
  EXPECT_TRUE(kernel == "avx512-12x32" || kernel == "avx2-fma-6x16" ||
              kernel == "generic-6x16")
      << kernel;
}

} // namespace
