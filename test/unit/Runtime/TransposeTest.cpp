//===- TransposeTest.cpp - loomrt_transpose_f32 ---------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The blocked strided copy on shapes around its 32 x 32 blocks, as a
// transpose both ways, as a plain copy and batched with padded rows,
// against an element-by-element reference. Every destination element is
// checked, and the padding between rows must stay untouched.
//
//===----------------------------------------------------------------------===//

#include "loomrt/kernels.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

struct Case {
  int64_t batch, rows, cols;
  /// The source is contiguous along rows (a transpose into the
  /// row-major destination) instead of along columns (a copy).
  bool transposed;
  /// Elements of padding after each destination row.
  int64_t pad;
};

std::string name(const testing::TestParamInfo<Case> &info) {
  const Case &c = info.param;
  return "b" + std::to_string(c.batch) + "_r" + std::to_string(c.rows) + "_c" +
         std::to_string(c.cols) + (c.transposed ? "_t" : "_copy") + "_pad" +
         std::to_string(c.pad);
}

class TransposeTest : public testing::TestWithParam<Case> {};

TEST_P(TransposeTest, MatchesReference) {
  const Case &p = GetParam();
  int64_t sRs = p.transposed ? 1 : p.cols, sCs = p.transposed ? p.rows : 1;
  int64_t sBs = p.rows * p.cols;
  int64_t dRs = p.cols + p.pad, dCs = 1, dBs = p.rows * dRs;
  std::vector<float> src(p.batch * sBs), dst(p.batch * dBs, -1.0f);
  for (size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<float>(i) * 0.5f + 1.0f;
  loomrt_transpose_f32(p.batch, p.rows, p.cols, src.data(), sBs, sRs, sCs,
                       dst.data(), dBs, dRs, dCs);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t r = 0; r < p.rows; ++r) {
      for (int64_t c = 0; c < p.cols; ++c)
        ASSERT_EQ(dst[b * dBs + r * dRs + c * dCs],
                  src[b * sBs + r * sRs + c * sCs])
            << "b " << b << " r " << r << " c " << c;
      for (int64_t c = p.cols; c < dRs; ++c)
        ASSERT_EQ(dst[b * dBs + r * dRs + c], -1.0f) << "padding written";
    }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, TransposeTest,
    testing::Values(Case{1, 1, 1, true, 0}, Case{1, 31, 33, true, 0},
                    Case{1, 32, 32, true, 0}, Case{1, 256, 1536, true, 0},
                    Case{1, 1536, 256, true, 3}, Case{3, 65, 97, true, 5},
                    Case{2, 100, 7, false, 2}, Case{4, 7, 129, true, 0}),
    name);

TEST(TransposeTest, EmptyShapesWriteNothing) {
  float src[4] = {1, 2, 3, 4}, dst[4] = {0, 0, 0, 0};
  loomrt_transpose_f32(0, 2, 2, src, 4, 2, 1, dst, 4, 2, 1);
  loomrt_transpose_f32(1, 0, 2, src, 4, 2, 1, dst, 4, 2, 1);
  loomrt_transpose_f32(1, 2, 0, src, 4, 2, 1, dst, 4, 2, 1);
  for (float v : dst)
    EXPECT_EQ(v, 0.0f);
}

} // namespace
