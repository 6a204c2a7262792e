//===- LowerCopies.cpp - Rewrite memref.copy as linalg.copy ---------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace loom {
#define GEN_PASS_DEF_LOWERCOPIESPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-lower-copies"

using namespace mlir;

namespace {
/// memref.copy -> linalg.copy.
struct LowerCopiesPass final
    : public loom::impl::LowerCopiesPassBase<LowerCopiesPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy.erase();
    }
  }
};
} // namespace
