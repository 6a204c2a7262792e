//===- WeightMatmul.h - Matrix multiplies by constant weights ---*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The matrix multiplies by constant fp32 weights that the weight
// compression passes (loom-quantize-weights, loom-sparsify-weights) rewrite,
// and the layer names their reports use.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TRANSFORMS_WEIGHTMATMUL_H
#define LOOM_TRANSFORMS_WEIGHTMATMUL_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <string>

namespace loom {

/// C = A W with W a constant fp32 matrix, as the MatMul legalization writes
/// it: a linalg.generic over loops (lead..., n, k) reading A (lead..., k)
/// and W (k, n), or W (n, k) read transposed, into a zero-filled
/// C (lead..., n), with a multiply-accumulate body.
struct WeightMatmul {
  /// A (fp32).
  mlir::Value input;
  /// The constant holding W.
  mlir::arith::ConstantOp weight;
  /// Whether W is stored [N, K].
  bool transposed = false;
  /// The reduction and output sizes.
  int64_t k = 0, n = 0;

  /// W[p, j] in `data`, the constant's elements.
  float at(llvm::ArrayRef<float> data, int64_t p, int64_t j) const {
    return data[transposed ? j * k + p : p * n + j];
  }
};

/// The attribute `loomc --calibration` sets on a matrix multiply by a
/// constant weight: `array<f32: lo, hi>`, the range its input took on the
/// calibration data (after the calibration method's clipping);
/// loom-quantize-weights's w8a8 mode turns it into static input parameters.
inline constexpr llvm::StringLiteral kCalibratedRangeAttr =
    "loom.calibrated_range";

/// The attribute `loomc --calibration` sets with `--rounding=gptq`: a
/// `dense_resource` f32 tensor [K, K], E[x x^T] over the calibration rows
/// x of the matrix multiply's input (the Hessian of its squared output
/// error, up to a factor); loom-quantize-weights rounds with it.
inline constexpr llvm::StringLiteral kCalibrationGramAttr =
    "loom.calibration_gram";

/// Returns the matrix multiply `op` computes when it is one by a constant
/// fp32 weight; std::nullopt otherwise.
std::optional<WeightMatmul> matchWeightMatmul(mlir::linalg::GenericOp op);

/// Opens the JSON report file `path` of a weight pass for writing; on
/// failure emits "cannot write the <what> report" on `op` and returns null.
std::unique_ptr<llvm::raw_fd_ostream>
openReport(mlir::Operation *op, llvm::StringRef path, llvm::StringRef what);

/// The ONNX node name in `loc` (the importer's NameLoc), else `loc`
/// printed: how the weight passes' reports name a layer.
std::string layerName(mlir::Location loc);

/// `x` (an f32 ranked tensor) quantized to int8 and back in blocks of
/// `block` consecutive elements along its last dimension, the first block
/// starting at index 0 and the last one possibly shorter: per block
/// s = max |x| / 127 (1 for an all-zero block) and
/// x' = clamp(round_even(x / s), -127, 127) * s. Builds two linalg.generic
/// ops (the block maxima, indexed `j floordiv block`, then x'); any
/// dimension may be dynamic.
mlir::Value buildBlockwiseFakeQuant(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::Value x, int64_t block);

} // namespace loom

#endif // LOOM_TRANSFORMS_WEIGHTMATMUL_H
