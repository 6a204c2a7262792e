//===- RaiseNormsAndGelu.cpp - Norm and GELU chains -> loom ops -----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Raises the elementwise chains exporters emit for the named transformer
// layers, on the imported `onnx.node` graph:
//
//   LayerNorm: d = x - ReduceMean(x); d / Sqrt(ReduceMean(Pow(d, 2)) + eps)
//              (then * gamma + beta with constant gamma, beta)
//   RMSNorm:   x / Sqrt(ReduceMean(Pow(x, 2)) + eps), or
//              x * Reciprocal(Sqrt(...)) (then * weight)
//   GELU:      x * 0.5 * (1 + Erf(x / sqrt(2)))      (any order of factors)
//              x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
//
// The reductions must run over trailing axes with keepdims; constants must
// match (sqrt(2) and the tanh coefficients to 1e-3 relative); anything else
// is left alone.
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"

#include "RaiseUtils.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <optional>

namespace loom {
#define GEN_PASS_DEF_RAISENORMSANDGELUPASS
#include "loom/Conversion/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-raise-norms-and-gelu"

using namespace mlir;
using namespace loom;
using namespace loom::raise;

/// True when `v` is a splat constant within 1e-3 (relative) of `want`.
static bool isConst(Value v, double want) {
  std::optional<double> c = splatFloat(v);
  return c && std::abs(*c - want) <= 1e-3 * std::abs(want);
}

/// The other operand of a binary node when one operand is `v`.
static Value otherOperand(onnxir::NodeOp node, Value v) {
  if (!node || node.getInputs().size() != 2)
    return {};
  if (node.getInputs()[0] == v)
    return node.getInputs()[1];
  if (node.getInputs()[1] == v)
    return node.getInputs()[0];
  return {};
}

/// The first normalized axis when `mean` is ReduceMean(x) over the trailing
/// axes [axis, rank) with keepdims; nullopt otherwise.
static std::optional<int64_t> trailingMeanAxis(onnxir::NodeOp mean) {
  if (!mean)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(mean.getInputs()[0].getType());
  if (!type)
    return std::nullopt;
  int64_t rank = type.getRank();
  if (auto keep = dyn_cast_or_null<IntegerAttr>(mean.getOnnxAttr("keepdims"));
      keep && keep.getInt() == 0)
    return std::nullopt;
  // No axes means all axes: not a per-row normalization.
  std::optional<SmallVector<int64_t>> found = axesOf(mean, rank);
  if (!found || found->empty())
    return std::nullopt;
  SmallVector<int64_t> axes = std::move(*found);
  llvm::sort(axes);
  for (auto [i, a] : llvm::enumerate(axes))
    if (a != rank - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i))
      return std::nullopt;
  return axes.front();
}

/// For `r` = Sqrt(Add(ReduceMean(Pow(d, 2)), eps)): returns (d, axis, eps).
static std::optional<std::tuple<Value, int64_t, double>>
matchRootMeanSquare(Value r) {
  onnxir::NodeOp sqrt = nodeOf(r, "Sqrt");
  if (!sqrt)
    return std::nullopt;
  onnxir::NodeOp add = nodeOf(sqrt.getInputs()[0], "Add");
  if (!add)
    return std::nullopt;
  int epsSide = splatFloat(add.getInputs()[1]) ? 1 : 0;
  std::optional<double> eps = splatFloat(add.getInputs()[epsSide]);
  onnxir::NodeOp mean = nodeOf(add.getInputs()[1 - epsSide], "ReduceMean");
  if (!eps || *eps < 0 || !mean)
    return std::nullopt;
  std::optional<int64_t> axis = trailingMeanAxis(mean);
  if (!axis)
    return std::nullopt;
  Value sq = mean.getInputs()[0];
  if (onnxir::NodeOp pow = nodeOf(sq, "Pow");
      pow && isConst(pow.getInputs()[1], 2.0))
    return std::make_tuple(pow.getInputs()[0], *axis, *eps);
  if (onnxir::NodeOp mul = nodeOf(sq, "Mul");
      mul && mul.getInputs()[0] == mul.getInputs()[1])
    return std::make_tuple(mul.getInputs()[0], *axis, *eps);
  return std::nullopt;
}

/// True when `c` is a float constant that broadcasts to the normalized dims
/// [axis, rank) of a rank-`rank` tensor and not across the others.
static bool isNormParameter(Value c, int64_t axis, int64_t rank, Type elem) {
  DenseElementsAttr dense = constantOf(c);
  auto type = dyn_cast<RankedTensorType>(c.getType());
  return dense && type && type.getElementType() == elem &&
         type.getRank() <= rank - axis;
}

namespace {

/// d / Sqrt(mean(d^2) + eps) with d = x - mean(x), or x / Sqrt(mean(x^2) +
/// eps): the Div (or Mul by a Reciprocal) is the root.
struct RaiseNorm : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    Value num, den;
    if (nodeOf(op.getResult(0), "Div")) {
      num = op.getInputs()[0];
      den = op.getInputs()[1];
    } else if (nodeOf(op.getResult(0), "Mul")) {
      for (int side : {0, 1})
        if (onnxir::NodeOp rec = nodeOf(op.getInputs()[side], "Reciprocal")) {
          den = rec.getInputs()[0];
          num = op.getInputs()[1 - side];
          break;
        }
    }
    if (!num)
      return failure();
    std::optional<std::tuple<Value, int64_t, double>> rms =
        matchRootMeanSquare(den);
    if (!rms || std::get<0>(*rms) != num)
      return rewriter.notifyMatchFailure(op, "no root mean square");
    auto [d, axis, eps] = *rms;
    // Layer norm when d = x - ReduceMean(x) over the same axes.
    Value x = d;
    bool center = false;
    if (onnxir::NodeOp sub = nodeOf(d, "Sub")) {
      onnxir::NodeOp mean = nodeOf(sub.getInputs()[1], "ReduceMean");
      if (mean && mean.getInputs()[0] == sub.getInputs()[0] &&
          trailingMeanAxis(mean) == axis) {
        x = sub.getInputs()[0];
        center = true;
      }
    }
    auto xt = dyn_cast<RankedTensorType>(x.getType());
    auto rt = dyn_cast<RankedTensorType>(op.getResult(0).getType());
    if (!xt || !rt || !isa<FloatType>(xt.getElementType()) ||
        xt.getElementType() != rt.getElementType())
      return rewriter.notifyMatchFailure(op, "not a float tensor");
    int64_t rank = xt.getRank();
    Type elem = xt.getElementType();

    // Fold `* gamma (+ beta)` with constant parameters over the normalized
    // dims when the normalized value has no other user.
    Operation *last = op;
    Value gamma, beta;
    Value out = op.getResult(0);
    if (out.hasOneUse()) {
      auto mul = dyn_cast<onnxir::NodeOp>(*out.getUsers().begin());
      Value g = nodeOf(mul ? mul.getResult(0) : Value(), "Mul")
                    ? otherOperand(mul, out)
                    : Value();
      if (g && isNormParameter(g, axis, rank, elem) &&
          mul.getResult(0).getType() == out.getType()) {
        gamma = g;
        last = mul;
        Value scaled = mul.getResult(0);
        if (center && scaled.hasOneUse()) {
          auto add = dyn_cast<onnxir::NodeOp>(*scaled.getUsers().begin());
          Value b = nodeOf(add ? add.getResult(0) : Value(), "Add")
                        ? otherOperand(add, scaled)
                        : Value();
          if (b && isNormParameter(b, axis, rank, elem) &&
              add.getResult(0).getType() == out.getType()) {
            beta = b;
            last = add;
          }
        }
      }
    }
    rewriter.setInsertionPoint(last);
    Location loc = op.getLoc();
    Value result;
    FloatAttr epsAttr = rewriter.getF32FloatAttr(static_cast<float>(eps));
    IntegerAttr axisAttr = rewriter.getI64IntegerAttr(axis);
    if (center)
      result =
          LayerNormOp::create(rewriter, loc, x, gamma, beta, axisAttr, epsAttr);
    else
      result = RMSNormOp::create(rewriter, loc, x, gamma, axisAttr, epsAttr);
    Type want = last->getResult(0).getType();
    if (result.getType() != want)
      result = tensor::CastOp::create(rewriter, loc, want, result);
    SmallVector<Operation *> feeding;
    for (Value in : last->getOperands())
      if (Operation *def = in.getDefiningOp())
        feeding.push_back(def);
    rewriter.replaceOp(last, result);
    eraseDeadHolderOps(rewriter, feeding);
    return success();
  }
};

/// The product x * 0.5 * (1 + Erf(x / sqrt 2)) (or the tanh form), rooted at
/// its outermost Mul.
struct RaiseGelu : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    if (!nodeOf(op.getResult(0), "Mul"))
      return failure();
    // Flatten the product into three factors: one inner Mul on either side.
    SmallVector<Value> factors;
    for (Value in : op.getInputs()) {
      onnxir::NodeOp inner = nodeOf(in, "Mul");
      if (inner && in.hasOneUse())
        factors.append(inner.getInputs().begin(), inner.getInputs().end());
      else
        factors.push_back(in);
    }
    if (factors.size() != 3)
      return failure();
    // The half, the 1 + f(..) term, and x.
    auto onePlus = [](Value v) -> Value {
      onnxir::NodeOp add = nodeOf(v, "Add");
      if (!add)
        return {};
      if (isConst(add.getInputs()[1], 1.0))
        return add.getInputs()[0];
      if (isConst(add.getInputs()[0], 1.0))
        return add.getInputs()[1];
      return {};
    };
    int half = -1, term = -1;
    for (int i = 0; i < 3; ++i) {
      if (half < 0 && isConst(factors[i], 0.5))
        half = i;
      else if (term < 0 && onePlus(factors[i]))
        term = i;
    }
    if (half < 0 || term < 0)
      return rewriter.notifyMatchFailure(op, "not x * 0.5 * (1 + ...)");
    Value x = factors[3 - half - term];
    Value f = onePlus(factors[term]);
    std::optional<GeluApproximation> kind;
    if (onnxir::NodeOp erf = nodeOf(f, "Erf")) {
      Value arg = erf.getInputs()[0];
      onnxir::NodeOp div = nodeOf(arg, "Div"), mul = nodeOf(arg, "Mul");
      if ((div && div.getInputs()[0] == x &&
           isConst(div.getInputs()[1], std::sqrt(2.0))) ||
          (mul && isConst(otherOperand(mul, x), 1.0 / std::sqrt(2.0))))
        kind = GeluApproximation::None;
    } else if (onnxir::NodeOp tanh = nodeOf(f, "Tanh")) {
      if (matchTanhArgument(tanh.getInputs()[0], x))
        kind = GeluApproximation::Tanh;
    }
    auto xt = dyn_cast<RankedTensorType>(x.getType());
    if (!kind || !xt || !isa<FloatType>(xt.getElementType()) ||
        xt != op.getResult(0).getType())
      return rewriter.notifyMatchFailure(op, "not a GELU");
    SmallVector<Operation *> feeding;
    for (Value in : op->getOperands())
      if (Operation *def = in.getDefiningOp())
        feeding.push_back(def);
    rewriter.replaceOpWithNewOp<GeluOp>(
        op, x, GeluApproximationAttr::get(getContext(), *kind));
    eraseDeadHolderOps(rewriter, feeding);
    return success();
  }

  /// sqrt(2/pi) * (x + 0.044715 * x^3), with x^3 as Pow(x, 3) or x * x * x.
  static bool matchTanhArgument(Value arg, Value x) {
    onnxir::NodeOp outer = nodeOf(arg, "Mul");
    if (!outer)
      return false;
    int cSide = isConst(outer.getInputs()[0], std::sqrt(2.0 / M_PI))   ? 0
                : isConst(outer.getInputs()[1], std::sqrt(2.0 / M_PI)) ? 1
                                                                       : -1;
    if (cSide < 0)
      return false;
    onnxir::NodeOp sum = nodeOf(outer.getInputs()[1 - cSide], "Add");
    Value cubic = otherOperand(sum, x);
    onnxir::NodeOp scaled = nodeOf(cubic, "Mul");
    if (!scaled)
      return false;
    for (int side : {0, 1}) {
      if (!isConst(scaled.getInputs()[side], 0.044715))
        continue;
      Value cube = scaled.getInputs()[1 - side];
      if (onnxir::NodeOp pow = nodeOf(cube, "Pow"))
        return pow.getInputs()[0] == x && isConst(pow.getInputs()[1], 3.0);
      if (onnxir::NodeOp m = nodeOf(cube, "Mul")) {
        Value sq = otherOperand(m, x);
        onnxir::NodeOp mm = nodeOf(sq, "Mul");
        return mm && mm.getInputs()[0] == x && mm.getInputs()[1] == x;
      }
    }
    return false;
  }
};

/// Mul(x, Sigmoid(x)) (either operand order) -> loom.silu.
struct RaiseSilu : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    if (op->getNumResults() != 1 || !nodeOf(op.getResult(0), "Mul") ||
        op.getInputs().size() != 2)
      return failure();
    for (int side : {0, 1}) {
      Value x = op.getInputs()[1 - side];
      onnxir::NodeOp sigmoid = nodeOf(op.getInputs()[side], "Sigmoid");
      if (!sigmoid || sigmoid.getInputs()[0] != x)
        continue;
      auto xt = dyn_cast<RankedTensorType>(x.getType());
      if (!xt || !isa<FloatType>(xt.getElementType()) ||
          xt != op.getResult(0).getType())
        return rewriter.notifyMatchFailure(op, "not a float SiLU");
      Operation *feeding = sigmoid.getOperation();
      rewriter.replaceOpWithNewOp<SiluOp>(op, x);
      eraseDeadHolderOps(rewriter, {feeding});
      return success();
    }
    return rewriter.notifyMatchFailure(op, "not x * Sigmoid(x)");
  }
};

/// Raises norm and GELU chains in the imported graph.
struct RaiseNormsAndGeluPass final
    : public loom::impl::RaiseNormsAndGeluPassBase<RaiseNormsAndGeluPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseNorm, RaiseGelu, RaiseSilu>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
