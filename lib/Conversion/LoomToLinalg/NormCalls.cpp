//===- NormCalls.cpp - Last-axis norms to GPU row-kernel calls ------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom-norm-calls: f32 layer and RMS norms over the last axis become calls
// of loomrt_norm_f32, which loom-gpu-norms turns into a kernel with a warp
// per row (GPU pipeline, docs/GPU.md) and the runtime implements on the CPU
// (runtime/src/kernels/norm.c; loom-fuse-gemm-norms may merge it into the
// product call before it). The same call with kind 2 computes a
// last-axis softmax: loom-to-linalg{softmax-calls} makes it from
// linalg.softmax (ONNX Softmax and attention's reference form).
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/Passes.h"

#include "Builders.h"
#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
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
constexpr int64_t kLayerNorm = 0, kRMSNorm = 1, kSoftmax = 2;

/// Whether `t` (optional) is absent or a rank-1 f32 tensor.
static bool isVectorOrAbsent(Value t) {
  if (!t)
    return true;
  auto type = cast<RankedTensorType>(t.getType());
  return type.getRank() == 1 && type.getElementType().isF32();
}

/// Replaces `op` by the kernel's call on `input` (f32, normalized over its
/// last axis) with `scale` and `bias` (optional rank-1 tensors).
static void replaceByCall(Operation *op, Value input, Value scale, Value bias,
                          float epsilon, int64_t kind,
                          PatternRewriter &rewriter) {
  auto module = op->getParentOfType<ModuleOp>();
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  Location loc = op->getLoc();
  auto i64 = [&](Value v) -> Value {
    return arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(), v);
  };
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(rewriter, loc, v, 64);
  };
  SmallVector<Value> dims;
  Value rows = arith::ConstantIndexOp::create(rewriter, loc, 1);
  for (int64_t i = 0; i < rank; ++i) {
    dims.push_back(tensor::DimOp::create(rewriter, loc, input, i));
    if (i < rank - 1)
      rows = arith::MulIOp::create(rewriter, loc, rows, dims.back());
  }
  KernelOutput out(rewriter, loc, type, dims);
  uint32_t bits;
  std::memcpy(&bits, &epsilon, sizeof(bits));
  auto optionalAddress = [&](Value t) {
    return t ? addressOf(rewriter, loc, t) : cst(0);
  };
  SmallVector<Value> args = {i64(rows),
                             i64(dims.back()),
                             addressOf(rewriter, loc, input),
                             out.address,
                             optionalAddress(scale),
                             optionalAddress(bias),
                             cst(bits),
                             cst(kind)};
  func::FuncOp kernel =
      getOrDeclareKernel(rewriter, module, kNormKernel, args.size());
  func::CallOp::create(rewriter, loc, kernel, args);
  rewriter.replaceOp(op, out.tensor(rewriter, loc, type));
}

/// Rewrites `op` (layer or RMS norm) into the call, if it qualifies.
template <typename NormOp>
static LogicalResult rewriteNorm(NormOp op, Value bias, int64_t kind,
                                 PatternRewriter &rewriter) {
  auto type = cast<RankedTensorType>(op.getInput().getType());
  if (!op->template getParentOfType<ModuleOp>() ||
      !type.getElementType().isF32() ||
      op.getNormalizedAxis() != type.getRank() - 1 ||
      !isVectorOrAbsent(op.getScale()) || !isVectorOrAbsent(bias))
    return rewriter.notifyMatchFailure(op, "not an f32 last-axis norm");
  replaceByCall(op, op.getInput(), op.getScale(), bias,
                op.getEpsilon().convertToFloat(), kind, rewriter);
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

/// linalg.softmax over the last axis of an f32 tensor -> the call (kind 2).
/// Benefit 2: before linalg.softmax's decomposition.
struct SoftmaxToCall : OpRewritePattern<linalg::SoftmaxOp> {
  SoftmaxToCall(MLIRContext *context)
      : OpRewritePattern(context, /*benefit=*/2) {}
  LogicalResult matchAndRewrite(linalg::SoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getInput().getType());
    if (!type || !type.getElementType().isF32() || type.getRank() == 0 ||
        op.getDimension() != static_cast<uint64_t>(type.getRank() - 1) ||
        op->getNumResults() != 1 || !op->getParentOfType<ModuleOp>())
      return rewriter.notifyMatchFailure(op, "not an f32 last-axis softmax");
    replaceByCall(op, op.getInput(), Value(), Value(), 0.0f, kSoftmax,
                  rewriter);
    return success();
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

void loom::populateSoftmaxCallPatterns(RewritePatternSet &patterns) {
  patterns.add<SoftmaxToCall>(patterns.getContext());
}
