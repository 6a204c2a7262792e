//===- LoopIndexing.h - Loop values in hand-built kernels ------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Helpers for passes that replace a bufferized linalg op by a hand-built
// kernel (loom-gpu-contractions, loom-gpu-row-reductions): the op's loop
// sizes, a linear index spread over a group of its loops, and the indices
// of an operand for given loop values.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TRANSFORMS_LOOPINDEXING_H
#define LOOM_TRANSFORMS_LOOPINDEXING_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace loom {

/// The sizes of `op`'s loops, as index values built at `b`'s insertion point.
inline llvm::SmallVector<mlir::Value>
loopSizes(mlir::OpBuilder &b, mlir::Location loc, mlir::linalg::LinalgOp op) {
  llvm::SmallVector<mlir::Value> sizes;
  for (mlir::Range &r : op.createLoopRanges(b, loc))
    sizes.push_back(mlir::getValueOrCreateConstantIndexOp(b, loc, r.size));
  return sizes;
}

/// The product of the sizes of `loops` (the index 1 for none).
inline mlir::Value productOfSizes(mlir::OpBuilder &b, mlir::Location loc,
                                  llvm::ArrayRef<unsigned> loops,
                                  llvm::ArrayRef<mlir::Value> sizes) {
  if (loops.empty())
    return mlir::arith::ConstantIndexOp::create(b, loc, 1);
  mlir::Value p = sizes[loops.front()];
  for (unsigned l : loops.drop_front())
    p = mlir::arith::MulIOp::create(b, loc, p, sizes[l]);
  return p;
}

/// Sets `ivs[l]` for each loop `l` of `loops` from `linear`, their values
/// linearized with the last loop fastest.
inline void delinearizeLoops(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value linear, llvm::ArrayRef<unsigned> loops,
                             llvm::ArrayRef<mlir::Value> sizes,
                             llvm::SmallVectorImpl<mlir::Value> &ivs) {
  if (loops.size() == 1) {
    ivs[loops.front()] = linear;
    return;
  }
  for (unsigned l : llvm::reverse(loops)) {
    ivs[l] = mlir::arith::RemUIOp::create(b, loc, linear, sizes[l]);
    linear = mlir::arith::DivUIOp::create(b, loc, linear, sizes[l]);
  }
}

/// The indices into `operand` of `op` (a projected permutation) at the loop
/// values `ivs`.
inline llvm::SmallVector<mlir::Value>
operandIndices(mlir::linalg::LinalgOp op, mlir::OpOperand &operand,
               llvm::ArrayRef<mlir::Value> ivs) {
  llvm::SmallVector<mlir::Value> indices;
  for (mlir::AffineExpr e : op.getMatchingIndexingMap(&operand).getResults())
    indices.push_back(ivs[llvm::cast<mlir::AffineDimExpr>(e).getPosition()]);
  return indices;
}

} // namespace loom

#endif // LOOM_TRANSFORMS_LOOPINDEXING_H
