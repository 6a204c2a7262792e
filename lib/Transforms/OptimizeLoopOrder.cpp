//===- OptimizeLoopOrder.cpp - Contiguous innermost loops -----------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace loom {
#define GEN_PASS_DEF_OPTIMIZELOOPORDERPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-optimize-loop-order"

using namespace mlir;

/// Returns the loop that the last result of `map` walks, or -1.
static int64_t lastLoop(AffineMap map) {
  if (map.getNumResults() == 0)
    return -1;
  if (auto d = dyn_cast<AffineDimExpr>(map.getResults().back()))
    return d.getPosition();
  return -1;
}

/// Whether `expr` steps by one when `loop` does: the loop's dimension itself
/// or a sum with it as a term (a convolution's input window, `d2 + d4`).
static bool stepsWith(AffineExpr expr, int64_t loop) {
  if (auto d = dyn_cast<AffineDimExpr>(expr))
    return d.getPosition() == loop;
  auto sum = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!sum || sum.getKind() != AffineExprKind::Add)
    return false;
  return stepsWith(sum.getLHS(), loop) || stepsWith(sum.getRHS(), loop);
}

/// Whether the last (contiguous) result of `map` steps with `loop`.
static bool walksContiguously(AffineMap map, int64_t loop) {
  return map.getNumResults() != 0 && stepsWith(map.getResults().back(), loop);
}

/// Returns the interchange that moves the output's contiguous parallel loop
/// innermost, or an empty vector when nothing should change.
static SmallVector<unsigned> chooseInterchange(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || op.getNumReductionLoops() == 0)
    return {};
  unsigned loops = op.getNumLoops();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  if (iters[loops - 1] != utils::IteratorType::reduction)
    return {};
  AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  int64_t p = lastLoop(outMap);
  if (p < 0 || iters[p] != utils::IteratorType::parallel)
    return {};
  // The highest rank among the inputs that walk `loop` contiguously (-1:
  // none). Moving p innermost pays when it is the contiguous loop of inputs
  // at least as large as those the current innermost loop walks
  // contiguously: C[m, n] += A[m, k] * B[k, n] moves n innermost, but a
  // row reduction sum_j (x[i, j] - mean[i])^2 keeps j there. A window
  // x[c, t + w] walks t (and w) contiguously: a depthwise convolution
  // y[c, t] += x[c, t + w] * k[c, w] moves t innermost.
  auto contiguousRank = [&](int64_t loop) {
    int64_t rank = -1;
    for (OpOperand *in : op.getDpsInputOperands())
      if (walksContiguously(op.getMatchingIndexingMap(in), loop))
        rank = std::max<int64_t>(rank, op.getRank(in));
    return rank;
  };
  int64_t alongP = contiguousRank(p);
  if (alongP < 0 || alongP < contiguousRank(loops - 1))
    return {};
  SmallVector<unsigned> order;
  for (unsigned i = 0; i < loops; ++i)
    if (i != p)
      order.push_back(i);
  order.push_back(p);
  return order;
}

namespace {
/// Interchanges the loops of every matching generic.
struct OptimizeLoopOrderPass final
    : public loom::impl::OptimizeLoopOrderPassBase<OptimizeLoopOrderPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation()->walk([&](linalg::GenericOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : ops) {
      SmallVector<unsigned> order = chooseInterchange(op);
      if (order.empty())
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order)))
        return signalPassFailure();
    }
  }
};
} // namespace
