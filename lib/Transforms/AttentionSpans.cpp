//===- AttentionSpans.cpp - Sliding windows on attention layers -----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Sets the `window` or `block_sparse` layout of chosen loom.attention ops
// (loomc --attention=sliding-window:W | block-sparse:B,local=L,global=G
// [--attention-layers L,...]).
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/SmallSet.h"

namespace loom {
#define GEN_PASS_DEF_ATTENTIONSPANSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

using namespace mlir;

namespace {
struct AttentionSpansPass final
    : public loom::impl::AttentionSpansPassBase<AttentionSpansPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (window < 0 || blockSize < 0 || routeBlockSize < 0 ||
        (window == 0 && blockSize == 0 && routeBlockSize == 0) == !full) {
      mlir::emitError(module.getLoc())
          << "give a window >= 1, a block size >= 1 or a route block size "
             ">= 1, or full (window "
          << static_cast<int64_t>(window) << ", block size "
          << static_cast<int64_t>(blockSize) << ", route block size "
          << static_cast<int64_t>(routeBlockSize) << ")";
      return signalPassFailure();
    }
    if (routeBlockSize && (window || blockSize || routeTop < 1)) {
      mlir::emitError(module.getLoc())
          << "routed attention takes no window or block layout, and at "
             "least one key block";
      return signalPassFailure();
    }
    if (blockSize && (localBlocks < 0 || globalBlocks < 0)) {
      mlir::emitError(module.getLoc())
          << "local and global blocks must not be negative";
      return signalPassFailure();
    }
    SmallVector<loom::AttentionOp> ops;
    module.walk([&](loom::AttentionOp op) { ops.push_back(op); });
    if (ops.empty()) {
      mlir::emitWarning(module.getLoc(),
                        "no attention to change: the model has no "
                        "loom.attention (was its attention raised?)");
      return;
    }
    llvm::SmallSet<int64_t, 8> chosen;
    for (int64_t layer : layers) {
      if (layer < 0 || layer >= static_cast<int64_t>(ops.size())) {
        mlir::emitError(module.getLoc())
            << "attention layer " << layer << " does not exist (the model has "
            << ops.size() << ", numbered from 0)";
        return signalPassFailure();
      }
      chosen.insert(layer);
    }
    Builder b(&getContext());
    for (auto [i, op] : llvm::enumerate(ops)) {
      if (!chosen.empty() && !chosen.contains(static_cast<int64_t>(i)))
        continue;
      if (full) {
        op.removeWindowAttr();
        op.removeBlockSparseAttr();
        op.removeRoutedAttr();
        continue;
      }
      if (routeBlockSize)
        op.setRoutedAttr(b.getDenseI64ArrayAttr({routeBlockSize, routeTop}));
      if (window)
        op.setWindowAttr(b.getI64IntegerAttr(window));
      if (blockSize)
        op.setBlockSparseAttr(
            b.getDenseI64ArrayAttr({blockSize, localBlocks, globalBlocks}));
    }
  }
};
} // namespace
