//===- FuseElementwise.cpp - Elementwise fusion that spares contractions --===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Upstream's elementwise fusion with one policy change: a producer that
// computes something is not fused into a contraction that the microkernels
// compute. Fusing it would put its computation inside the k loop (M·N·K
// evaluations of, say, a GELU instead of M·K) and turn the contraction into
// a generic loop nest the microkernel cannot take. Producers that only move
// data (transposes, broadcasts) still fuse: they become strides. Nor does a
// producer with transcendental math fuse into a consumer that broadcasts it
// (Mamba's A = -exp(A_log) read at every step would be recomputed T times),
// nor a transpose that changes the contiguous dimension into a consumer with
// such math (the math would run on strided, unvectorized reads).
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Transforms/Microkernels.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace loom {
#define GEN_PASS_DEF_FUSEELEMENTWISEPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

using namespace mlir;

/// Whether `op`'s body computes transcendental math.
static bool computesMath(linalg::GenericOp op) {
  return llvm::any_of(op.getBody()->getOperations(), [](Operation &nested) {
    return isa<math::MathDialect>(nested.getDialect());
  });
}

/// Whether `op` only moves data to a layout with another contiguous loop
/// than its input's (`[b, t, c] -> [b, c, t]`).
static bool transposesInnermost(linalg::GenericOp op) {
  if (!loom::isPureDataMovement(op))
    return false;
  AffineMap in = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  AffineMap out = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  return in.isPermutation() && out.isPermutation() &&
         in.getResults().back() != out.getResults().back();
}

/// Whether the expand_shape or collapse_shape `op` only adds or drops unit
/// dims: every reassociation group of its expanded type has at most one dim
/// that is not a static 1.
static bool onlyUnitDims(Operation *op) {
  RankedTensorType expanded;
  SmallVector<ReassociationIndices> groups;
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
    expanded = expand.getResultType();
    groups = expand.getReassociationIndices();
  } else {
    auto collapse = cast<tensor::CollapseShapeOp>(op);
    expanded = collapse.getSrcType();
    groups = collapse.getReassociationIndices();
  }
  return llvm::all_of(groups, [&](const ReassociationIndices &group) {
    return llvm::count_if(group, [&](int64_t d) {
             return expanded.getDimSize(d) != 1;
           }) <= 1;
  });
}

/// Fuses single-use producers, except computing producers into contractions
/// that the microkernels compute.
static bool shouldFuse(OpOperand *fused) {
  Operation *producer = fused->get().getDefiningOp();
  if (!producer || !producer->hasOneUse())
    return false;
  auto consumer = dyn_cast<linalg::GenericOp>(fused->getOwner());
  auto generic = dyn_cast<linalg::GenericOp>(producer);
  // A reshape does not move into a contraction the microkernels compute
  // (expanded by a unit dim, Mamba's dt projection stopped being a GEMM).
  auto isReshape = [](Operation *op) {
    return isa_and_nonnull<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op);
  };
  if ((isReshape(fused->getOwner()) && generic &&
       loom::matchMicrokernelMatmul(generic)) ||
      (isReshape(producer) && consumer &&
       loom::matchMicrokernelMatmul(consumer)))
    return false;
  // Nor does a reshape that only adds or drops unit dims: the generic would
  // get a unit innermost loop and stop vectorizing along the contiguous
  // dim (Mamba's softplus of [B, T, 1536] as [B, T, 1536, 1] ran scalar).
  Operation *reshape = isReshape(fused->getOwner()) ? fused->getOwner()
                       : isReshape(producer)        ? producer
                                                    : nullptr;
  if (reshape && onlyUnitDims(reshape))
    return false;
  if (consumer && generic &&
      !consumer.getMatchingIndexingMap(fused).isPermutation() &&
      computesMath(generic))
    return false;
  // A transpose fused into a consumer that computes math would make that
  // math read with a row's stride, which LLVM does not vectorize (Mamba's
  // SiLU after its conv ran scalar): the transpose stays a copy, which
  // loom-lower-to-microkernels makes a blocked transpose call, and the math
  // runs on contiguous rows.
  if (consumer && generic && transposesInnermost(generic) &&
      computesMath(consumer) && !loom::matchMicrokernelMatmul(consumer))
    return false;
  if (!consumer || !loom::matchMicrokernelMatmul(consumer))
    return true;
  return generic && loom::isPureDataMovement(generic);
}

namespace {
/// extract_slice(transpose(x)) -> transpose(extract_slice(x)) for a transpose
/// (a pure permutation copy, as a generic) with one use and a slice with unit
/// strides that keeps the rank: a transpose and its inverse around a slice
/// (a channels-last convolution's [B, C, T] result sliced along T and
/// transposed back to [B, T, C]) then meet, fuse into an identity copy and
/// fold away, and the transpose that remains copies only the slice.
struct SliceBeforeTranspose final : OpRewritePattern<tensor::ExtractSliceOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::ExtractSliceOp slice,
                                PatternRewriter &rewriter) const override {
    auto transpose = slice.getSource().getDefiningOp<linalg::GenericOp>();
    if (!transpose || !transpose->hasOneUse() ||
        !transpose.hasPureTensorSemantics() ||
        !loom::isPureDataMovement(transpose) ||
        transpose.getNumDpsInputs() != 1 ||
        slice.getType().getRank() != slice.getSourceType().getRank() ||
        !llvm::all_of(slice.getMixedStrides(), isOneInteger))
      return failure();
    AffineMap in =
        transpose.getMatchingIndexingMap(transpose.getDpsInputOperand(0));
    AffineMap out =
        transpose.getMatchingIndexingMap(transpose.getDpsInitOperand(0));
    if (!in.isPermutation() || !out.isIdentity() || in.isIdentity())
      return failure();
    // Input dim j is walked by loop in[j], the output's dim of that number.
    SmallVector<OpFoldResult> offsets = slice.getMixedOffsets(),
                              sizes = slice.getMixedSizes(), inOffsets, inSizes;
    for (AffineExpr e : in.getResults()) {
      unsigned loop = cast<AffineDimExpr>(e).getPosition();
      inOffsets.push_back(offsets[loop]);
      inSizes.push_back(sizes[loop]);
    }
    Location loc = slice.getLoc();
    Value source = transpose.getDpsInputOperand(0)->get();
    int64_t rank = in.getNumResults();
    Value inSlice = tensor::ExtractSliceOp::create(
        rewriter, loc, source, inOffsets, inSizes,
        SmallVector<OpFoldResult>(rank, rewriter.getIndexAttr(1)));
    SmallVector<Value> dynamicSizes;
    for (auto [i, size] : llvm::enumerate(sizes))
      if (slice.getType().isDynamicDim(i))
        dynamicSizes.push_back(
            getValueOrCreateConstantIndexOp(rewriter, loc, size));
    Value init =
        tensor::EmptyOp::create(rewriter, loc, slice.getType().getShape(),
                                slice.getType().getElementType(), dynamicSizes);
    auto moved = linalg::GenericOp::create(
        rewriter, loc, TypeRange{slice.getType()}, ValueRange{inSlice},
        ValueRange{init}, transpose.getIndexingMapsArray(),
        transpose.getIteratorTypesArray());
    rewriter.cloneRegionBefore(transpose.getRegion(), moved.getRegion(),
                               moved.getRegion().begin());
    rewriter.replaceOp(slice, moved.getResult(0));
    return success();
  }
};

struct FuseElementwisePass final
    : public loom::impl::FuseElementwisePassBase<FuseElementwisePass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // Transposes and broadcasts as generics, so that they can fuse into
    // their consumers (into contractions as strides).
    SmallVector<linalg::LinalgOp> movers;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (isa<linalg::TransposeOp, linalg::BroadcastOp>(op) &&
          op.hasPureTensorSemantics())
        movers.push_back(op);
    });
    IRRewriter rewriter(ctx);
    for (linalg::LinalgOp op : movers) {
      rewriter.setInsertionPoint(op);
      if (failed(linalg::generalizeNamedOp(rewriter, op)))
        return signalPassFailure();
    }

    // Slices move before transposes first, before fusion folds those
    // transposes into their producers' outputs.
    RewritePatternSet slicePatterns(ctx);
    slicePatterns.add<SliceBeforeTranspose>(ctx);
    if (failed(applyPatternsGreedily(getOperation(), std::move(slicePatterns))))
      return signalPassFailure();

    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(patterns, shouldFuse);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, shouldFuse);
    tensor::populateBubbleUpExpandShapePatterns(patterns);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, ctx);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    // Sizes read from a producer's result (an expanded reshape's output
    // shape) are read from its init instead, so that they do not keep the
    // producer from fusing as a second use.
    tensor::DimOp::getCanonicalizationPatterns(patterns, ctx);
    ctx->getLoadedDialect<linalg::LinalgDialect>()->getCanonicalizationPatterns(
        patterns);
    linalg::populateConstantFoldLinalgOperations(patterns, shouldFuse);
    if (failed(applyPatternsGreedily(
            getOperation(), std::move(patterns),
            GreedyRewriteConfig().setUseTopDownTraversal(true))))
      return signalPassFailure();
  }
};
} // namespace
