//===- NormCalls.cpp - Last-axis norms to GPU row-kernel calls ------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom-norm-calls (GPU pipeline): f32 layer and RMS norms over the last axis
// become calls of loomrt_norm_f32, which loom-gpu-norms turns into a kernel
// with a warp per row (docs/GPU.md).
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/Passes.h"

#include "Builders.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cstring>

namespace loom {
#define GEN_PASS_DEF_NORMCALLSPASS
#include "loom/Conversion/Passes.h.inc"
} // namespace loom

using namespace mlir;
using namespace loom;

namespace {

/// The kernel and its kinds (loom-gpu-norms).
constexpr StringLiteral kNormKernel = "loomrt_norm_f32";
constexpr int64_t kLayerNorm = 0, kRMSNorm = 1;

/// Whether `t` (optional) is absent or a rank-1 f32 tensor.
static bool isVectorOrAbsent(Value t) {
  if (!t)
    return true;
  auto type = cast<RankedTensorType>(t.getType());
  return type.getRank() == 1 && type.getElementType().isF32();
}

/// Rewrites `op` (layer or RMS norm) into the call, if it qualifies.
template <typename NormOp>
static LogicalResult rewriteNorm(NormOp op, Value bias, int64_t kind,
                                 PatternRewriter &rewriter) {
  auto module = op->template getParentOfType<ModuleOp>();
  auto type = cast<RankedTensorType>(op.getInput().getType());
  int64_t rank = type.getRank();
  if (!module || !type.getElementType().isF32() ||
      op.getNormalizedAxis() != rank - 1 || !isVectorOrAbsent(op.getScale()) ||
      !isVectorOrAbsent(bias))
    return rewriter.notifyMatchFailure(op, "not an f32 last-axis norm");
  Location loc = op.getLoc();
  auto i64 = [&](Value v) -> Value {
    return arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(), v);
  };
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(rewriter, loc, v, 64);
  };
  SmallVector<Value> dims;
  Value rows = arith::ConstantIndexOp::create(rewriter, loc, 1);
  for (int64_t i = 0; i < rank; ++i) {
    dims.push_back(tensor::DimOp::create(rewriter, loc, op.getInput(), i));
    if (i < rank - 1)
      rows = arith::MulIOp::create(rewriter, loc, rows, dims.back());
  }
  KernelOutput out(rewriter, loc, type, dims);
  float epsilon = op.getEpsilon().convertToFloat();
  uint32_t bits;
  std::memcpy(&bits, &epsilon, sizeof(bits));
  auto optionalAddress = [&](Value t) {
    return t ? addressOf(rewriter, loc, t) : cst(0);
  };
  SmallVector<Value> args = {i64(rows),
                             i64(dims.back()),
                             addressOf(rewriter, loc, op.getInput()),
                             out.address,
                             optionalAddress(op.getScale()),
                             optionalAddress(bias),
                             cst(bits),
                             cst(kind)};
  func::FuncOp kernel =
      getOrDeclareKernel(rewriter, module, kNormKernel, args.size());
  func::CallOp::create(rewriter, loc, kernel, args);
  rewriter.replaceOp(op, out.tensor(rewriter, loc, type));
  return success();
}

struct LayerNormToCall : OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormOp op,
                                PatternRewriter &rewriter) const override {
    return rewriteNorm(op, op.getBias(), kLayerNorm, rewriter);
  }
};

struct RMSNormToCall : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    return rewriteNorm(op, Value(), kRMSNorm, rewriter);
  }
};

struct NormCallsPass final : loom::impl::NormCallsPassBase<NormCallsPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LayerNormToCall, RMSNormToCall>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
