//===- SerializeInnerParallel.cpp - One parallel region per loop nest -----===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/LoopLikeInterface.h"

namespace loom {
#define GEN_PASS_DEF_SERIALIZEINNERPARALLELPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-serialize-inner-parallel"

using namespace mlir;

/// Outer iterations below which the last dimension stays parallel (too few
/// to share among threads otherwise).
static constexpr int64_t kMinOuterIterations = 8;

/// Splits the last dimension of a multi-dimensional scf.parallel off into an
/// scf.for inside it, unless the other dimensions are statically too few.
/// OpenMP collapses all of a parallel loop's dimensions into one iteration
/// space and recomputes each index by division, which keeps LLVM from
/// vectorizing the innermost (contiguous) loop.
static void serializeLastDimension(RewriterBase &rewriter, scf::ParallelOp op) {
  unsigned n = op.getNumLoops();
  if (n < 2 || op.getNumReductions() != 0)
    return;
  // An iteration that loops or calls a function (an attention tile's GEMM
  // microkernels, a scan's steps over a block of channels, a convolution's
  // taps) is large: the division per index costs nothing there, while a
  // sequential last dimension would leave the threads idle when the others
  // are few at run time (a batch of one in front of the heads or channels).
  if (op.getBody()
          ->walk([](Operation *nested) {
            return isa<CallOpInterface, LoopLikeOpInterface>(nested)
                       ? WalkResult::interrupt()
                       : WalkResult::advance();
          })
          .wasInterrupted())
    return;
  int64_t outer = 1;
  bool dynamic = false;
  for (unsigned i = 0; i + 1 < n; ++i) {
    std::optional<int64_t> lb = getConstantIntValue(op.getLowerBound()[i]),
                           ub = getConstantIntValue(op.getUpperBound()[i]),
                           step = getConstantIntValue(op.getStep()[i]);
    if (!lb || !ub || !step || *step <= 0) {
      dynamic = true;
      continue;
    }
    outer *= std::max<int64_t>(0, (*ub - *lb + *step - 1) / *step);
  }
  if (!dynamic && outer < kMinOuterIterations)
    return;
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  auto outerLoop = scf::ParallelOp::create(
      rewriter, loc, op.getLowerBound().drop_back(),
      op.getUpperBound().drop_back(), op.getStep().drop_back());
  rewriter.setInsertionPointToStart(outerLoop.getBody());
  auto innerLoop =
      scf::ForOp::create(rewriter, loc, op.getLowerBound().back(),
                         op.getUpperBound().back(), op.getStep().back());
  SmallVector<Value> ivs(outerLoop.getInductionVars());
  ivs.push_back(innerLoop.getInductionVar());
  Block *body = op.getBody();
  rewriter.eraseOp(body->getTerminator());
  rewriter.inlineBlockBefore(body, innerLoop.getBody()->getTerminator(), ivs);
  rewriter.eraseOp(op);
}

namespace {
/// Rewrites nested scf.parallel ops into scf.for nests, innermost first, then
/// keeps the last dimension of each remaining scf.parallel sequential.
struct SerializeInnerParallelPass final
    : public loom::impl::SerializeInnerParallelPassBase<
          SerializeInnerParallelPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<scf::ParallelOp> inner;
    getOperation()->walk<WalkOrder::PostOrder>([&](scf::ParallelOp op) {
      if (op->getParentOfType<scf::ParallelOp>())
        inner.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ParallelOp op : inner) {
      rewriter.setInsertionPoint(op);
      if (failed(scf::parallelForToNestedFors(rewriter, op))) {
        op.emitError("cannot serialize this nested scf.parallel");
        return signalPassFailure();
      }
    }
    SmallVector<scf::ParallelOp> outermost;
    getOperation()->walk([&](scf::ParallelOp op) { outermost.push_back(op); });
    for (scf::ParallelOp op : outermost)
      serializeLastDimension(rewriter, op);
  }
};
} // namespace
