//===- SerializeInnerParallel.cpp - One parallel region per loop nest -----===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace loom {
#define GEN_PASS_DEF_SERIALIZEINNERPARALLELPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-serialize-inner-parallel"

using namespace mlir;

namespace {
/// Rewrites nested scf.parallel ops into scf.for nests, innermost first.
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
  }
};
} // namespace
