//===- RoundingTest.cpp - fp16/bf16 rounding of packed constants ----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom-gpu-contractions packs constant operands into fp16/bf16 at compile
// time with loom::roundToHalf / roundToBFloat16; at run time the kernels
// convert with arith.truncf. Both must round alike: checked here against
// LLVM's APFloat (round to nearest, ties to even) on special values, the
// boundaries of the formats' ranges and a sweep of bit patterns.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/TensorCores.h"

#include "llvm/ADT/APFloat.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <vector>

namespace {

/// APFloat's rounding of `x` into `semantics`, as bits.
uint16_t reference(float x, const llvm::fltSemantics &semantics) {
  llvm::APFloat value(x);
  bool lost;
  value.convert(semantics, llvm::APFloat::rmNearestTiesToEven, &lost);
  return static_cast<uint16_t>(value.bitcastToAPInt().getZExtValue());
}

float fromBits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

bool isNaN16(uint16_t bits, bool bf16) {
  return bf16 ? (bits & 0x7F80) == 0x7F80 && (bits & 0x7F)
              : (bits & 0x7C00) == 0x7C00 && (bits & 0x3FF);
}

/// Checks both roundings of `x`; NaNs need only stay NaNs.
void check(float x) {
  uint16_t half = loom::roundToHalf(x);
  uint16_t bf16 = loom::roundToBFloat16(x);
  if (x != x) {
    EXPECT_TRUE(isNaN16(half, false)) << std::hex << half;
    EXPECT_TRUE(isNaN16(bf16, true)) << std::hex << bf16;
    return;
  }
  EXPECT_EQ(half, reference(x, llvm::APFloat::IEEEhalf()))
      << "fp16 of " << x << std::hexfloat << " (" << x << ")";
  EXPECT_EQ(bf16, reference(x, llvm::APFloat::BFloat()))
      << "bf16 of " << x << std::hexfloat << " (" << x << ")";
}

TEST(Rounding, SpecialValuesAndBoundaries) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> values = {
      0.0f,
      -0.0f,
      1.0f,
      -1.0f,
      inf,
      -inf,
      std::numeric_limits<float>::quiet_NaN(),
      65504.0f, // fp16's largest
      65519.99f,
      65520.0f, // just below / at the tie that rounds to infinity
      -65520.0f,
      1e6f,
      3.4e38f,
      0x1p-14f, // fp16's smallest normal
      0x1.ffcp-15f,
      0x1.ffep-15f, // subnormals rounding up to it
      0x1p-24f,
      0x1p-25f, // fp16's smallest subnormal, the tie below
      0x1.000002p-25f,
      0x1.8p-24f, // above the tie; a tie between 1 and 2
      0x1.4p-24f,
      0x1.cp-24f,     // below / above a half unit
      1.0009765625f,  // 1 + 2^-10: exact in fp16
      1.00048828125f, // 1 + 2^-11: tie, to even (1)
      1.00146484375f, // 1 + 3 * 2^-11: tie, to even (1 + 2^-9)
      std::numeric_limits<float>::denorm_min(),
      std::numeric_limits<float>::min(),
      std::numeric_limits<float>::max(),
      0x1.01p0f,
      0x1.018p0f,
      0x1.008p0f, // bf16 ties and near-ties
  };
  for (float x : values) {
    check(x);
    check(-x);
  }
}

TEST(Rounding, BitPatternSweep) {
  // Every 4099th bit pattern (an odd stride: all low-bit residues appear),
  // both signs, every exponent.
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFull; bits += 4099)
    check(fromBits(static_cast<uint32_t>(bits)));
}

} // namespace
