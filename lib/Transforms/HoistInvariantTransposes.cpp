//===- HoistInvariantTransposes.cpp - Contiguous invariant operands -------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// A loop-invariant operand that a generic inside an scf.for reads across its
// rows is transposed once before the loop, so that each iteration reads it
// contiguously. The diagonal scan's per-step update reads its [channels, N]
// tile of A along the channels: without the copy, every time step gathered
// it.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SmallBitVector.h"

namespace loom {
#define GEN_PASS_DEF_HOISTINVARIANTTRANSPOSESPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-hoist-invariant-transposes"

using namespace mlir;

/// The permutation of `map`'s results that moves the result walking `loop`
/// last, or an empty vector when `map` is not a projected permutation
/// (broadcast zeros allowed) or already ends with `loop` or never walks it.
static SmallVector<int64_t> moveLoopLast(AffineMap map, unsigned loop) {
  if (map.getNumResults() < 2)
    return {};
  llvm::SmallBitVector seen(map.getNumDims());
  for (AffineExpr e : map.getResults()) {
    if (auto d = dyn_cast<AffineDimExpr>(e)) {
      if (seen.test(d.getPosition()))
        return {};
      seen.set(d.getPosition());
    } else if (auto c = dyn_cast<AffineConstantExpr>(e);
               !c || c.getValue() != 0) {
      return {};
    }
  }
  std::optional<unsigned> pos =
      map.getResultPosition(getAffineDimExpr(loop, map.getContext()));
  if (!pos || *pos == map.getNumResults() - 1)
    return {};
  SmallVector<int64_t> perm;
  for (unsigned i = 0; i < map.getNumResults(); ++i)
    if (i != *pos)
      perm.push_back(i);
  perm.push_back(*pos);
  return perm;
}

/// `v` as a value available before `loop`: itself when defined outside it,
/// a clone before the loop of the extract_slice defining it when the slice's
/// operands are, otherwise null.
static Value invariantBefore(RewriterBase &rewriter, scf::ForOp loop, Value v) {
  if (loop.isDefinedOutsideOfLoop(v))
    return v;
  auto slice = v.getDefiningOp<tensor::ExtractSliceOp>();
  if (!slice || !llvm::all_of(slice->getOperands(), [&](Value operand) {
        return loop.isDefinedOutsideOfLoop(operand);
      }))
    return {};
  rewriter.setInsertionPoint(loop);
  return rewriter.clone(*slice)->getResult(0);
}

namespace {
struct HoistInvariantTransposesPass final
    : public loom::impl::HoistInvariantTransposesPassBase<
          HoistInvariantTransposesPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (op.hasPureTensorSemantics() && isa<scf::ForOp>(op->getParentOp()))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : ops) {
      auto loop = cast<scf::ForOp>(op->getParentOp());
      unsigned inner = op.getNumLoops() - 1;
      SmallVector<AffineMap> maps = op.getIndexingMapsArray();
      bool changed = false;
      for (OpOperand *in : op.getDpsInputOperands()) {
        auto type = dyn_cast<RankedTensorType>(in->get().getType());
        AffineMap map = op.getMatchingIndexingMap(in);
        SmallVector<int64_t> perm =
            type ? moveLoopLast(map, inner) : SmallVector<int64_t>();
        if (perm.empty())
          continue;
        Value source = invariantBefore(rewriter, loop, in->get());
        if (!source)
          continue;
        rewriter.setInsertionPoint(loop);
        Location loc = op.getLoc();
        SmallVector<OpFoldResult> sizes =
            tensor::getMixedSizes(rewriter, loc, source);
        SmallVector<OpFoldResult> permuted;
        SmallVector<AffineExpr> exprs;
        for (int64_t p : perm) {
          permuted.push_back(sizes[p]);
          exprs.push_back(map.getResult(p));
        }
        Value init = tensor::EmptyOp::create(rewriter, loc, permuted,
                                             type.getElementType());
        Value copy =
            linalg::TransposeOp::create(rewriter, loc, source, init, perm)
                ->getResult(0);
        rewriter.modifyOpInPlace(op, [&] { in->set(copy); });
        maps[in->getOperandNumber()] =
            AffineMap::get(map.getNumDims(), 0, exprs, &getContext());
        changed = true;
      }
      if (changed)
        rewriter.modifyOpInPlace(op, [&] {
          op.setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps));
        });
    }
  }
};
} // namespace
