//===- NN.cpp - ONNX neural-network op handlers ---------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

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
  Value empty = tensor::EmptyOp::create(rewriter, loc,
                                        getSizes(rewriter, loc, x),
                                        x.getType().getElementType());
  Value result = linalg::SoftmaxOp::create(rewriter, loc, x.getType(), x,
                                           empty, *axis)
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
  for (unsigned i = 1; i < op->getNumResults(); ++i)
    if (!op->getResult(i).use_empty())
      return binder.unsupported("reading the Mean or InvStdDev output");
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
  // The Mean/InvStdDev outputs have no users (checked above).
  binder.replace(rewriter, ln.getResult());
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
