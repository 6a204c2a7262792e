//===- MoeTest.cpp - loomrt_moe_ffn_f32 against a dense reference --------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The routed mixture-of-experts kernel against a double-precision reference
// that runs each (token, choice) through its expert's FFN: every activation,
// with and without biases, experts that receive no tokens, choices outside
// [0, experts) (they add nothing), and one expert receiving every token.
//
//===----------------------------------------------------------------------===//

#include "MaxError.h"
#include "loomrt/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

struct Case {
  int64_t tokens, d, hidden, experts, topK, activation;
  bool bias;
  /// Route every choice of every token to expert 0 (or out of range).
  bool skewed = false;
  /// Pass W1 and W2 prepacked (LOOMRT_MOE_PACKED_WEIGHTS).
  bool packed = false;
};

double act(double v, int64_t kind) {
  switch (kind) {
  case LOOMRT_ACT_RELU:
    return v > 0 ? v : 0;
  case LOOMRT_ACT_GELU:
    return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
  case LOOMRT_ACT_GELU_TANH:
    return 0.5 * v *
           (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  case LOOMRT_ACT_SILU:
    return v / (1 + std::exp(-v));
  default:
    return v;
  }
}

class MoeTest : public testing::TestWithParam<Case> {};

TEST_P(MoeTest, MatchesDenseReference) {
  const Case &c = GetParam();
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  auto randoms = [&](int64_t n, float scale) {
    std::vector<float> v(n);
    for (float &x : v)
      x = dist(rng) * scale;
    return v;
  };
  std::vector<float> x = randoms(c.tokens * c.d, 1.0f);
  std::vector<float> weights = randoms(c.tokens * c.topK, 1.0f);
  std::vector<int64_t> indices(c.tokens * c.topK);
  for (int64_t t = 0; t < c.tokens; ++t)
    for (int64_t j = 0; j < c.topK; ++j)
      indices[t * c.topK + j] =
          c.skewed ? (j == 0 ? 0 : c.experts + j)
                   : (t * 3 + j * 5) % (c.experts + 1) - (t % 7 == 3 ? 1 : 0);
  std::vector<std::vector<float>> w1, b1, w2, b2;
  std::vector<int64_t> params;
  for (int64_t e = 0; e < c.experts; ++e) {
    w1.push_back(randoms(c.d * c.hidden, 1.0f / std::sqrt(float(c.d))));
    b1.push_back(randoms(c.hidden, 0.1f));
    w2.push_back(randoms(c.hidden * c.d, 1.0f / std::sqrt(float(c.hidden))));
    b2.push_back(randoms(c.d, 0.1f));
  }
  std::vector<std::vector<float>> p1(c.experts), p2(c.experts);
  for (int64_t e = 0; e < c.experts; ++e) {
    p1[e].resize(loomrt_sgemm_packed_b_size(c.d, c.hidden));
    p2[e].resize(loomrt_sgemm_packed_b_size(c.hidden, c.d));
    loomrt_sgemm_pack_b(c.d, c.hidden, w1[e].data(), c.hidden, 1, p1[e].data());
    loomrt_sgemm_pack_b(c.hidden, c.d, w2[e].data(), c.d, 1, p2[e].data());
  }
  for (int64_t e = 0; e < c.experts; ++e) {
    params.push_back(
        reinterpret_cast<intptr_t>(c.packed ? p1[e].data() : w1[e].data()));
    params.push_back(c.bias ? reinterpret_cast<intptr_t>(b1[e].data()) : 0);
    params.push_back(
        reinterpret_cast<intptr_t>(c.packed ? p2[e].data() : w2[e].data()));
    params.push_back(c.bias ? reinterpret_cast<intptr_t>(b2[e].data()) : 0);
  }
  std::vector<float> out(c.tokens * c.d, 123.0f);
  loomrt_moe_ffn_f32(c.tokens, c.d, c.hidden, c.experts, c.topK, x.data(),
                     weights.data(), indices.data(), params.data(),
                     c.activation, out.data(),
                     c.packed ? LOOMRT_MOE_PACKED_WEIGHTS : 0);
  double maxErr = 0;
  for (int64_t t = 0; t < c.tokens; ++t) {
    std::vector<double> ref(c.d, 0.0);
    for (int64_t j = 0; j < c.topK; ++j) {
      int64_t e = indices[t * c.topK + j];
      if (e < 0 || e >= c.experts)
        continue;
      std::vector<double> h(c.hidden);
      for (int64_t i = 0; i < c.hidden; ++i) {
        double acc = c.bias ? b1[e][i] : 0.0;
        for (int64_t p = 0; p < c.d; ++p)
          acc += double(x[t * c.d + p]) * w1[e][p * c.hidden + i];
        h[i] = act(acc, c.activation);
      }
      for (int64_t q = 0; q < c.d; ++q) {
        double acc = c.bias ? b2[e][q] : 0.0;
        for (int64_t i = 0; i < c.hidden; ++i)
          acc += h[i] * w2[e][i * c.d + q];
        ref[q] += weights[t * c.topK + j] * acc;
      }
    }
    for (int64_t q = 0; q < c.d; ++q) {
      double err = std::fabs(out[t * c.d + q] - ref[q]);
      maxErr = loomtest::maxError(maxErr, err);
      ASSERT_LE(err, 1e-4 + 1e-4 * std::fabs(ref[q]))
          << "token " << t << " column " << q;
    }
  }
  RecordProperty("max_abs_err", std::to_string(maxErr));
}

std::string name(const testing::TestParamInfo<Case> &info) {
  const Case &c = info.param;
  return "t" + std::to_string(c.tokens) + "_d" + std::to_string(c.d) + "_h" +
         std::to_string(c.hidden) + "_e" + std::to_string(c.experts) + "_k" +
         std::to_string(c.topK) + "_act" + std::to_string(c.activation) +
         (c.bias ? "_bias" : "") + (c.skewed ? "_skewed" : "") +
         (c.packed ? "_packed" : "");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MoeTest,
    testing::Values(Case{1, 16, 32, 8, 2, LOOMRT_ACT_GELU, true},
                    Case{37, 24, 40, 8, 2, LOOMRT_ACT_RELU, true},
                    Case{64, 64, 96, 4, 1, LOOMRT_ACT_SILU, false},
                    Case{50, 32, 48, 8, 2, LOOMRT_ACT_GELU_TANH, true},
                    Case{29, 16, 24, 3, 3, LOOMRT_ACT_NONE, false},
                    Case{100, 48, 64, 8, 2, LOOMRT_ACT_GELU, true, true},
                    Case{0, 16, 32, 8, 2, LOOMRT_ACT_GELU, true},
                    Case{41, 40, 72, 8, 2, LOOMRT_ACT_SILU, true, false, true},
                    Case{3, 24, 100, 4, 2, LOOMRT_ACT_GELU, false, true, true}),
    name);

} // namespace
