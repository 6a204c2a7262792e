//===- UnshareFills.cpp - One scalar fill per in-place user ---------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// A fill shared by several destination-passing users (CSE merges identical
// zero fills of same-shaped empty tensors) bufferizes as one buffer copied
// before every in-place user. Cloning the fill per user lets each of them
// write in place, and keeps the fill next to the product it initializes.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Microkernels.h"
#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace loom {
#define GEN_PASS_DEF_UNSHAREFILLSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-unshare-fills"

using namespace mlir;

namespace {
struct UnshareFillsPass final
    : public loom::impl::UnshareFillsPassBase<UnshareFillsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> fills;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (loom::isScalarFill(op) && op->getNumResults() == 1 &&
          !op->getResult(0).hasOneUse())
        fills.push_back(op);
    });
    for (Operation *fill : fills) {
      SmallVector<OpOperand *> inits;
      for (OpOperand &use : fill->getResult(0).getUses())
        if (auto dps = dyn_cast<DestinationStyleOpInterface>(use.getOwner());
            dps && dps.isDpsInit(&use))
          inits.push_back(&use);
      Value dest = cast<DestinationStyleOpInterface>(fill).getDpsInits()[0];
      auto empty = dest.getDefiningOp<tensor::EmptyOp>();
      for (OpOperand *use : inits) {
        OpBuilder b(use->getOwner());
        IRMapping map;
        if (empty)
          map.map(dest, b.clone(*empty)->getResult(0));
        use->set(b.clone(*fill, map)->getResult(0));
      }
      if (fill->use_empty()) {
        fill->erase();
        if (empty && empty->use_empty())
          empty->erase();
      }
    }
  }
};
} // namespace
