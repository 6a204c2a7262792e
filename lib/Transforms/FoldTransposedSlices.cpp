//===- FoldTransposedSlices.cpp - Slices of a transpose's input -----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// A tile that drops every transposed dim but those that keep their order is
// the same tile of the untransposed tensor: flash attention reads [rows, d]
// tiles of [B, H, S, D] operands that the model transposed from [B, S, H, D]
// projections, and writes [rows, d] tiles of a result that the model
// transposes back. Reading and writing the [B, S, H, D] layouts directly
// (strided rows, which the GEMM microkernel and the tile copies take as they
// are) saves four copies of a layer's activations.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SmallBitVector.h"

namespace loom {
#define GEN_PASS_DEF_FOLDTRANSPOSEDSLICESPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-fold-transposed-slices"

using namespace mlir;

/// Whether the dims of a slice that `dropped` does not drop, mapped by
/// `position` (old dim -> dim in the other layout), stay in order.
static bool keptDimsInOrder(const llvm::SmallBitVector &dropped,
                            function_ref<int64_t(int64_t)> position) {
  int64_t last = -1;
  for (int64_t d = 0, e = dropped.size(); d < e; ++d) {
    if (dropped.test(d))
      continue;
    if (position(d) <= last)
      return false;
    last = position(d);
  }
  return true;
}

/// `values` with entry i moved to position `position(i)`.
static SmallVector<OpFoldResult>
permuted(ArrayRef<OpFoldResult> values,
         function_ref<int64_t(int64_t)> position) {
  SmallVector<OpFoldResult> result(values.size());
  for (auto [i, v] : llvm::enumerate(values))
    result[position(i)] = v;
  return result;
}

namespace {
/// extract_slice(transpose(x)) -> extract_slice(x) when the slice's kept
/// dims are in the same order in x.
struct SliceOfTranspose : OpRewritePattern<tensor::ExtractSliceOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::ExtractSliceOp op,
                                PatternRewriter &rewriter) const override {
    auto transpose = op.getSource().getDefiningOp<linalg::TransposeOp>();
    if (!transpose || !transpose.hasPureTensorSemantics())
      return rewriter.notifyMatchFailure(op, "not a slice of a transpose");
    // Result dim i is input dim perm[i].
    ArrayRef<int64_t> perm = transpose.getPermutation();
    auto toInput = [&](int64_t i) { return perm[i]; };
    if (!keptDimsInOrder(op.getDroppedDims(), toInput))
      return rewriter.notifyMatchFailure(op, "kept dims change order");
    rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(
        op, op.getType(), transpose.getInput(),
        permuted(op.getMixedOffsets(), toInput),
        permuted(op.getMixedSizes(), toInput),
        permuted(op.getMixedStrides(), toInput));
    return success();
  }
};

/// transpose(forall result) -> the forall builds the transposed layout,
/// when the result's only use is the transpose, its shared output starts as
/// a tensor.empty, and the loop body only slices the shared output (reads
/// and parallel inserts) with kept dims that stay in order.
struct TransposeOfForall : OpRewritePattern<linalg::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto result = dyn_cast<OpResult>(op.getInput());
    auto forall = result ? dyn_cast<scf::ForallOp>(result.getOwner()) : nullptr;
    if (!forall || !op.hasPureTensorSemantics() || !result.hasOneUse())
      return rewriter.notifyMatchFailure(op, "not the only use of a forall");
    unsigned r = result.getResultNumber();
    OpOperand &init = forall.getOutputsMutable()[r];
    auto empty = init.get().getDefiningOp<tensor::EmptyOp>();
    if (!empty)
      return rewriter.notifyMatchFailure(op, "shared output not empty");
    // Old dim d moves to position inverse[d] of the transposed layout.
    ArrayRef<int64_t> perm = op.getPermutation();
    SmallVector<int64_t> inverse(perm.size());
    for (auto [i, p] : llvm::enumerate(perm))
      inverse[p] = i;
    auto toResult = [&](int64_t d) { return inverse[d]; };
    BlockArgument arg = forall.getRegionIterArgs()[r];
    SmallVector<Operation *> slices;
    for (Operation *user : arg.getUsers()) {
      llvm::SmallBitVector dropped;
      if (auto insert = dyn_cast<tensor::ParallelInsertSliceOp>(user);
          insert && insert.getDest() == arg)
        dropped = insert.getDroppedDims();
      else if (auto extract = dyn_cast<tensor::ExtractSliceOp>(user))
        dropped = extract.getDroppedDims();
      else
        return rewriter.notifyMatchFailure(op, "shared output used otherwise");
      if (!keptDimsInOrder(dropped, toResult))
        return rewriter.notifyMatchFailure(op, "kept dims change order");
      slices.push_back(user);
    }

    // The transposed shared output, from the old one's sizes (defined
    // before the loop).
    SmallVector<OpFoldResult> sizes = permuted(empty.getMixedSizes(), toResult);
    Type type = op.getResult()[0].getType();
    SmallVector<int64_t> shape;
    SmallVector<Value> dynamic;
    dispatchIndexOpFoldResults(sizes, dynamic, shape);
    if (cast<RankedTensorType>(type).getShape() != ArrayRef<int64_t>(shape))
      return rewriter.notifyMatchFailure(op, "static sizes differ");
    rewriter.setInsertionPoint(forall);
    Value newInit = tensor::EmptyOp::create(rewriter, empty.getLoc(), sizes,
                                            empty.getType().getElementType());
    rewriter.modifyOpInPlace(forall, [&] {
      init.set(newInit);
      arg.setType(type);
      result.setType(type);
    });
    for (Operation *slice : slices) {
      rewriter.setInsertionPoint(slice);
      auto sliceOp = cast<OffsetSizeAndStrideOpInterface>(slice);
      SmallVector<OpFoldResult> offsets =
          permuted(sliceOp.getMixedOffsets(), toResult);
      SmallVector<OpFoldResult> sizes =
          permuted(sliceOp.getMixedSizes(), toResult);
      SmallVector<OpFoldResult> strides =
          permuted(sliceOp.getMixedStrides(), toResult);
      if (auto insert = dyn_cast<tensor::ParallelInsertSliceOp>(slice)) {
        tensor::ParallelInsertSliceOp::create(rewriter, insert.getLoc(),
                                              insert.getSource(), arg, offsets,
                                              sizes, strides);
        rewriter.eraseOp(insert);
      } else {
        auto extract = cast<tensor::ExtractSliceOp>(slice);
        rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(
            extract, extract.getType(), arg, offsets, sizes, strides);
      }
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct FoldTransposedSlicesPass final
    : public loom::impl::FoldTransposedSlicesPassBase<
          FoldTransposedSlicesPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SliceOfTranspose, TransposeOfForall>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
