//===- AttentionTest.cpp - loomrt_attention_f32 against a reference ------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The flash-attention kernel against a double-precision softmax(scale Q K^T)
// V: plain and causal (bottom-right aligned, also with fewer keys than
// queries, whose first rows see nothing), grouped-query heads, sequences
// that are not multiples of the 96-row and 512-key blocks or of the 16-key
// panels, several key blocks (the online rescaling), rank-3 operands
// (no heads), [B, S, H, D] layouts read and written through strides, and
// negative and large scales, and more heads than threads (the last heads
// split into query halves). Up to 512 keys with dv a multiple of 32 and a
// positive scale take the direct tile path (12-row tiles; causal, grouped,
// keys not a multiple of the 32-key tile pairs, no visible key); the rest
// take the blocked path.
// The portable row code runs here under LOOMRT_MAX_ISA=portable (read once
// per process); test/Integration/raise-attention.test runs a model with it.
//
//===----------------------------------------------------------------------===//

#include "MaxError.h"
#include "loomrt/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace {

struct Case {
  int64_t batch, heads, kvHeads, sq, skv, d, dv;
  bool causal;
  /// [B, S, H, D] layouts (the projections') instead of [B, H, S, D].
  bool interleaved = false;
  /// Rank-3 operands: no head dim (heads = kv_heads = 1, head stride 0).
  bool rank3 = false;
  /// The softmax scale; 0: 1 / sqrt(d). A positive scale is applied in the
  /// exponent (Q read in place), any other to a copy of Q.
  float scale = 0.0f;
  /// Max abs error allowed: logits of magnitude L are rounded to ~6e-8 L in
  /// float whichever way they are computed, which P carries as a relative
  /// error (the old kernel, too, was 2.4e-6 off on the scale-3 case).
  double tol = 2e-6;
};

/// Strides (batch, head, row, column) of a [B, H, S, D] tensor stored as
/// [B, H, S, D] or [B, S, H, D].
std::vector<int64_t> strides(const Case &c, int64_t heads, int64_t s,
                             int64_t d) {
  if (c.rank3)
    return {s * d, 0, d, 1};
  if (c.interleaved)
    return {s * heads * d, d, heads * d, 1};
  return {heads * s * d, s * d, d, 1};
}

class AttentionTest : public testing::TestWithParam<Case> {};

TEST_P(AttentionTest, MatchesReference) {
  const Case &c = GetParam();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  auto randoms = [&](int64_t n) {
    std::vector<float> v(n);
    for (float &x : v)
      x = dist(rng);
    return v;
  };
  std::vector<float> q = randoms(c.batch * c.heads * c.sq * c.d);
  std::vector<float> k = randoms(c.batch * c.kvHeads * c.skv * c.d);
  std::vector<float> v = randoms(c.batch * c.kvHeads * c.skv * c.dv);
  std::vector<float> o(c.batch * c.heads * c.sq * c.dv, 12345.0f);
  std::vector<int64_t> qs = strides(c, c.heads, c.sq, c.d),
                       ks = strides(c, c.kvHeads, c.skv, c.d),
                       vs = strides(c, c.kvHeads, c.skv, c.dv),
                       os = strides(c, c.heads, c.sq, c.dv);
  float scale =
      c.scale != 0.0f ? c.scale : 1.0f / std::sqrt(static_cast<float>(c.d));
  uint32_t bits;
  std::memcpy(&bits, &scale, sizeof(bits));
  loomrt_attention_f32(c.batch, c.heads, c.kvHeads, c.sq, c.skv, c.d, c.dv,
                       q.data(), qs[0], qs[1], qs[2], qs[3], k.data(), ks[0],
                       ks[1], ks[2], ks[3], v.data(), vs[0], vs[1], vs[2],
                       vs[3], o.data(), os[0], os[1], os[2], os[3], bits,
                       c.causal ? LOOMRT_ATTENTION_CAUSAL : 0);

  auto at = [](const std::vector<int64_t> &st, int64_t b, int64_t h, int64_t i,
               int64_t j) {
    return b * st[0] + h * st[1] + i * st[2] + j * st[3];
  };
  int64_t group = c.heads / c.kvHeads;
  double maxErr = 0;
  int64_t empty = 0;
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < c.sq; ++i) {
        int64_t g = h / group;
        int64_t end = c.skv;
        if (c.causal)
          end = std::max<int64_t>(0, std::min(c.skv, i + c.skv - c.sq + 1));
        if (end == 0) {
          // No visible key: 0/0, as the tiled form computes it.
          for (int64_t e = 0; e < c.dv; ++e)
            EXPECT_TRUE(std::isnan(o[at(os, b, h, i, e)]));
          ++empty;
          continue;
        }
        std::vector<double> p(end);
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < end; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < c.d; ++e)
            dot += static_cast<double>(q[at(qs, b, h, i, e)]) *
                   k[at(ks, b, g, j, e)];
          p[j] = dot * scale;
          mx = std::max(mx, p[j]);
        }
        for (double &x : p)
          sum += x = std::exp(x - mx);
        for (int64_t e = 0; e < c.dv; ++e) {
          double ref = 0;
          for (int64_t j = 0; j < end; ++j)
            ref += p[j] * v[at(vs, b, g, j, e)];
          maxErr = loomtest::maxError(
              maxErr, std::fabs(ref / sum - o[at(os, b, h, i, e)]));
        }
      }
  EXPECT_LT(maxErr, c.tol) << "max abs err " << maxErr;
  if (c.causal && c.sq > c.skv)
    EXPECT_GT(empty, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionTest,
    testing::Values(
        Case{1, 4, 4, 128, 128, 64, 64, false},
        Case{2, 3, 3, 37, 37, 16, 16, true},
        // Grouped-query heads, odd sizes, causal, interleaved layouts.
        Case{2, 8, 2, 37, 37, 8, 8, true, true},
        Case{1, 6, 3, 200, 200, 32, 24, false, true},
        // Several key blocks: the running max and the rescaled output.
        Case{1, 2, 2, 150, 1300, 32, 32, false},
        Case{1, 2, 2, 700, 700, 64, 64, true, true},
        // More heads than threads: the last heads in query halves (causal:
        // the halves see different keys).
        Case{1, 5, 5, 300, 300, 16, 16, true},
        Case{2, 3, 3, 200, 260, 32, 32, false},
        // More queries than keys: the first rows of a causal op see none.
        Case{1, 2, 2, 300, 200, 16, 16, true},
        // Rank 3, a single query (decoding shape), a single key.
        Case{3, 1, 1, 50, 70, 20, 12, true, false, true},
        Case{1, 4, 4, 1, 530, 64, 64, false},
        Case{1, 4, 4, 9, 1, 64, 64, false},
        // A negative scale (Q copied and scaled), a large one (scores far
        // below the max: exp's lower range), both over several key blocks.
        Case{1, 2, 2, 100, 600, 32, 32, false, false, false, -0.7f},
        Case{1, 2, 2, 100, 600, 32, 32, true, true, false, 3.0f, 5e-6},
        // The direct tile path: ViT- and GPT-2-shaped heads, grouped and
        // causal, an odd d, keys ending inside a tile pair, exactly one key
        // block, rows without a visible key.
        Case{1, 12, 12, 197, 197, 64, 64, false, true},
        Case{1, 4, 4, 256, 256, 64, 64, true, true},
        Case{2, 8, 2, 45, 45, 8, 32, true, true},
        Case{1, 2, 2, 30, 512, 64, 96, false},
        Case{1, 3, 3, 100, 40, 20, 32, true},
        Case{1, 2, 2, 13, 17, 16, 32, false, false, false, 3.0f, 5e-6},
        // Row maxima kept by the score tiles: a causal tile whose first
        // rows see no key and whose others see a few; a scale so large that
        // a max short of the row's true one overflows the exp (and one past
        // it underflows every term), without and with the mask.
        Case{1, 2, 2, 107, 100, 16, 32, true},
        Case{1, 2, 2, 24, 64, 16, 32, false, false, false, 40.0f, 2e-4},
        Case{1, 2, 2, 96, 96, 16, 32, true, false, false, 100.0f, 1e-3}));

} // namespace
