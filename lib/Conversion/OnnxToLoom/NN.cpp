//===- NN.cpp - ONNX neural-network op handlers ---------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace loom;

//===----------------------------------------------------------------------===//
// Softmax
//===----------------------------------------------------------------------===//

/// Softmax-13: normalize along one axis (default -1).
static LogicalResult legalizeSoftmax13(OpBinder &binder,
                                       RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked or missing operand");
  std::optional<int64_t> axis =
      normalizeAxis(binder.getInt("axis", -1), x.getType().getRank());
  if (!axis)
    return binder.emitError("axis is out of range"), failure();
  Location loc = binder.getLoc();
  Value empty = tensor::EmptyOp::create(
      rewriter, loc, getSizes(rewriter, loc, x), x.getType().getElementType());
  Value result =
      linalg::SoftmaxOp::create(rewriter, loc, x.getType(), x, empty, *axis)
          .getResult()[0];
  binder.replace(rewriter, result);
  return success();
}

/// Softmax-1/11: the input is coerced to 2-D at `axis` (default 1) and
/// normalized over the flattened trailing dims. Equal to Softmax-13 when
/// `axis` is the last dim.
static LogicalResult legalizeSoftmax1(OpBinder &binder,
                                      RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked or missing operand");
  int64_t rank = x.getType().getRank();
  std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", 1), rank);
  if (!axis)
    return binder.emitError("axis " + Twine(binder.getInt("axis", 1)) +
                            " is out of range for rank " + Twine(rank)),
           failure();
  if (*axis != rank - 1)
    return binder.unsupported("Softmax before opset 13 over more than the "
                              "last dimension");
  return legalizeSoftmax13(binder, rewriter);
}

//===----------------------------------------------------------------------===//
// LayerNormalization
//===----------------------------------------------------------------------===//

static LogicalResult legalizeLayerNorm(OpBinder &binder,
                                       RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked or missing operand");
  onnxir::NodeOp op = binder.getOp();
  if (binder.getInt("stash_type", 1) != 1)
    return binder.unsupported("stash_type other than float");
  Value scale = binder.rankedInput(1), bias = binder.rankedInput(2);
  if (!scale)
    return binder.emitError("requires a ranked Scale input"), failure();
  auto ln = loom::LayerNormOp::create(
      rewriter, binder.getLoc(), x, scale, bias,
      rewriter.getI64IntegerAttr(binder.getInt("axis", -1)),
      rewriter.getF32FloatAttr(binder.getFloat("epsilon", 1e-5)));
  if (failed(mlir::verify(ln, /*verifyRecursively=*/false)))
    return binder.emitError("invalid LayerNormalization"), failure();
  SmallVector<Value> results = {ln.getResult()};
  bool statsUsed = false;
  for (unsigned i = 1; i < op->getNumResults(); ++i)
    statsUsed |= !op->getResult(i).use_empty();
  if (statsUsed) {
    // Mean and 1/sqrt(var + eps) over [axis, rank), kept as size-1 dims.
    Location loc = binder.getLoc();
    auto type = x.getType();
    Type elem = type.getElementType();
    int64_t axis = ln.getNormalizedAxis();
    SmallVector<bool> reduced(type.getRank(), false);
    Value count;
    for (int64_t i = axis; i < type.getRank(); ++i) {
      reduced[i] = true;
      Value d = tensor::DimOp::create(rewriter, loc, x, i);
      count = count ? arith::MulIOp::create(rewriter, loc, count, d) : d;
    }
    Value n = arith::SIToFPOp::create(
        rewriter, loc, elem,
        arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(),
                                   count));
    auto add = [](OpBuilder &b, Location l, Value acc, Value v) -> Value {
      return arith::AddFOp::create(b, l, acc, v);
    };
    Value sum = reduceKeepDims(rewriter, loc, x, reduced,
                               rewriter.getZeroAttr(elem), add);
    auto statType = cast<RankedTensorType>(sum.getType());
    int64_t rank = type.getRank();
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<AffineExpr> bexprs;
    for (int64_t i = 0; i < rank; ++i)
      bexprs.push_back(reduced[i] ? getAffineConstantExpr(0, ctx)
                                  : getAffineDimExpr(i, ctx));
    AffineMap bmap = AffineMap::get(rank, 0, bexprs, ctx);
    Value zero =
        arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elem));
    Value sqInit = linalg::FillOp::create(
                       rewriter, loc, zero,
                       tensor::EmptyOp::create(
                           rewriter, loc, getSizes(rewriter, loc, sum), elem)
                           .getResult())
                       .getResult(0);
    SmallVector<utils::IteratorType> iters;
    for (int64_t i = 0; i < rank; ++i)
      iters.push_back(reduced[i] ? utils::IteratorType::reduction
                                 : utils::IteratorType::parallel);
    Value sq =
        linalg::GenericOp::create(
            rewriter, loc, statType, ValueRange{x, sum}, ValueRange{sqInit},
            SmallVector<AffineMap>{rewriter.getMultiDimIdentityMap(rank), bmap,
                                   bmap},
            iters,
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value m = arith::DivFOp::create(b, l, a[1], n);
              Value d = arith::SubFOp::create(b, l, a[0], m);
              linalg::YieldOp::create(
                  b, l,
                  arith::AddFOp::create(b, l, a[2],
                                        arith::MulFOp::create(b, l, d, d))
                      .getResult());
            })
            .getResult(0);
    double eps = binder.getFloat("epsilon", 1e-5);
    auto stat = [&](bool inv) {
      Value empty = tensor::EmptyOp::create(rewriter, loc,
                                            getSizes(rewriter, loc, sum), elem);
      SmallVector<AffineMap> maps(3, rewriter.getMultiDimIdentityMap(rank));
      SmallVector<utils::IteratorType> par(rank, utils::IteratorType::parallel);
      return linalg::GenericOp::create(
                 rewriter, loc, statType, ValueRange{sum, sq},
                 ValueRange{empty}, maps, par,
                 [&](OpBuilder &b, Location l, ValueRange a) {
                   Value v;
                   if (inv) {
                     Value var = arith::DivFOp::create(b, l, a[1], n);
                     v = math::RsqrtOp::create(
                         b, l,
                         arith::AddFOp::create(
                             b, l, var,
                             arith::ConstantOp::create(
                                 b, l, b.getFloatAttr(elem, eps))));
                   } else {
                     v = arith::DivFOp::create(b, l, a[0], n);
                   }
                   linalg::YieldOp::create(b, l, v);
                 })
          .getResult(0);
    };
    results.push_back(stat(false));
    if (op->getNumResults() > 2)
      results.push_back(stat(true));
  }
  binder.replace(rewriter, results);
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void loom::populateOnnxNNHandlers(OnnxHandlerRegistry &registry) {
  registry.add("Softmax", 1, legalizeSoftmax1);
  registry.add("Softmax", 13, legalizeSoftmax13);
  registry.add("LayerNormalization", 17, legalizeLayerNorm);
}
