//===- RaiseQuantized.cpp - DequantizeLinear -> MatMul as quantized ops ---===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// A weight-quantized model in ONNX's QDQ form multiplies by dequantized
// constant weights:
//
//   y = MatMul(x, DequantizeLinear(Wq, scale, zero_point))
//
// With Wq a constant [K, N] of 8-bit integers, the scale one value or one
// per output column (axis 1) and a zero point that makes the weights
// symmetric (0 for int8; 128 for uint8, shifted to int8), this is
// `loom.quantized_matmul x, Wq, scale`: the kernel dequantizes in registers
// instead of the model materializing fp32 weights.
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"

#include "RaiseUtils.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "loom/Transforms/Microkernels.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace loom {
#define GEN_PASS_DEF_RAISEQUANTIZEDPASS
#include "loom/Conversion/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-raise-quantized"

using namespace mlir;
using namespace loom;
using namespace loom::raise;

namespace {

/// MatMul(x, DequantizeLinear(constant Wq [K, N], scale, zero point)) ->
/// loom.quantized_matmul.
struct RaiseDequantizedMatMul : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    if (!nodeOf(op.getResult(0), "MatMul") || op.getInputs().size() != 2)
      return failure();
    onnxir::NodeOp dq = nodeOf(op.getInputs()[1], "DequantizeLinear");
    if (!dq || dq.getInputs().size() < 2)
      return rewriter.notifyMatchFailure(op, "B is not dequantized");
    Value x = op.getInputs()[0], wq = dq.getInputs()[0];
    auto xt = dyn_cast<RankedTensorType>(x.getType());
    auto wt = dyn_cast<RankedTensorType>(wq.getType());
    if (!xt || !xt.getElementType().isF32() || xt.getRank() < 1 || !wt ||
        wt.getRank() != 2 || !wt.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "not fp32 x times a static "
                                             "[K, N] weight");
    auto elem = dyn_cast<IntegerType>(wt.getElementType());
    if (!elem || elem.getWidth() != 8)
      return rewriter.notifyMatchFailure(op, "weights are not 8-bit");
    int64_t k = wt.getDimSize(0), n = wt.getDimSize(1);
    if (!ShapedType::isDynamic(xt.getShape().back()) &&
        xt.getShape().back() != k)
      return rewriter.notifyMatchFailure(op, "K differs");
    std::optional<std::vector<uint8_t>> bytes = constantBytesOf(wq);
    if (!bytes || static_cast<int64_t>(bytes->size()) != k * n)
      return rewriter.notifyMatchFailure(op, "weights are not constant");

    // The scale: one value, or one per column along axis 1.
    SmallVector<float> scaleStore;
    std::optional<ArrayRef<float>> scaleData =
        constantF32Data(constantAttrOf(dq.getInputs()[1]), scaleStore);
    if (!scaleData)
      return rewriter.notifyMatchFailure(op, "no constant fp32 scale");
    SmallVector<float> scales(*scaleData);
    if (scales.size() != 1) {
      int64_t axis = intAttr(dq, "axis", 1);
      if (static_cast<int64_t>(scales.size()) != n || (axis != 1 && axis != -1))
        return rewriter.notifyMatchFailure(op, "scales are not per column");
    }
    if (scales.size() == 1)
      scales.assign(n, scales.front());

    // Symmetric weights: zero point 0 (int8) or 128 (uint8) everywhere.
    bool isUnsigned = elem.isUnsigned();
    int expected = isUnsigned ? 128 : 0;
    if (dq.getInputs().size() > 2 && dq.getInputs()[2] &&
        !isa<NoneType>(dq.getInputs()[2].getType())) {
      std::optional<std::vector<uint8_t>> zero =
          constantBytesOf(dq.getInputs()[2]);
      if (!zero || llvm::any_of(*zero, [&](uint8_t z) {
            return (isUnsigned ? int(z) : int(int8_t(z))) != expected;
          }))
        return rewriter.notifyMatchFailure(op, "the zero point is not "
                                               "symmetric");
    } else if (isUnsigned) {
      return rewriter.notifyMatchFailure(op, "uint8 weights without a zero "
                                             "point are not symmetric");
    }
    std::vector<int8_t> q(bytes->size());
    for (size_t i = 0; i < q.size(); ++i)
      q[i] = static_cast<int8_t>(isUnsigned ? (*bytes)[i] ^ 0x80 : (*bytes)[i]);

    Location loc = op.getLoc();
    Value w = resourceConstant<int8_t>(
        rewriter, loc, RankedTensorType::get({k, n}, rewriter.getI8Type()), q,
        "qdq_weight");
    Value scale = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(
            RankedTensorType::get({n}, rewriter.getF32Type()),
            ArrayRef<float>(scales)));
    Value y = QuantizedMatmulOp::create(rewriter, loc, x, w, scale);
    Type type = op.getResult(0).getType();
    if (y.getType() != type) {
      if (!tensor::CastOp::areCastCompatible(y.getType(), type))
        return rewriter.notifyMatchFailure(op, "result types differ");
      y = tensor::CastOp::create(rewriter, loc, type, y);
    }
    rewriter.replaceOp(op, y);
    if (dq->use_empty())
      rewriter.eraseOp(dq);
    return success();
  }
};

struct RaiseQuantizedPass final
    : public loom::impl::RaiseQuantizedPassBase<RaiseQuantizedPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseDequantizedMatMul>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
