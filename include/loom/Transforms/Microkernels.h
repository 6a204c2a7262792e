//===- Microkernels.h - Ops that loomrt microkernels compute ----*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The structural test shared by the passes that keep contractions intact for
// the microkernels (loom-fuse-elementwise) and that replace them by calls
// (loom-lower-to-microkernels).
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TRANSFORMS_MICROKERNELS_H
#define LOOM_TRANSFORMS_MICROKERNELS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace loom {

/// The roles of the loops of a contraction that loomrt_sgemm_f32 computes.
struct MatmulLoops {
  /// Loops that C and A walk, B does not (rows of the product).
  llvm::SmallVector<unsigned, 2> m;
  /// Loops that C and B walk, A does not (columns of the product).
  llvm::SmallVector<unsigned, 2> n;
  /// Reduction loops, walked by A and B (several when an operand is, say,
  /// an im2col tensor: they merge when contiguous in both).
  llvm::SmallVector<unsigned, 2> k;
  /// Parallel loops that C walks with both or neither of A and B.
  llvm::SmallVector<unsigned, 2> batch;
};

/// Returns the loop roles when `op` is an fp32 contraction
/// `C[...] += A[...] * B[...]` (a multiply and an add in its body, every
/// indexing-map result a loop or the constant 0, reduction loops that A
/// and B both walk, and at least one m and one n loop), the shape that
/// loomrt_sgemm_f32 computes; std::nullopt otherwise. Works on tensors and
/// on memrefs.
std::optional<MatmulLoops> matchMicrokernelMatmul(mlir::linalg::GenericOp op);

/// Returns true when `op` only moves data with a strided layout: one input
/// read at loop indices (or 0), its block argument yielded unchanged (a
/// transpose, broadcast or copy; not a gather).
bool isPureDataMovement(mlir::linalg::GenericOp op);

} // namespace loom

#endif // LOOM_TRANSFORMS_MICROKERNELS_H
