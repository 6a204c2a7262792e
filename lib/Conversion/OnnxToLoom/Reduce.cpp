//===- Reduce.cpp - ONNX reduction handlers -------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

using namespace mlir;
using namespace loom;

/// A tensor of `shape` (dynamic sizes `dyn`) filled with `value`.
static Value filledTensor(OpBuilder &b, Location loc, TypedAttr value,
                          ArrayRef<int64_t> shape, ValueRange dyn) {
  Value cst = arith::ConstantOp::create(b, loc, value);
  Value empty =
      tensor::EmptyOp::create(b, loc, shape, value.getType(), dyn).getResult();
  return linalg::FillOp::create(b, loc, cst, empty).getResult(0);
}

/// A tensor of `sizes` filled with `value`.
static Value filledTensor(OpBuilder &b, Location loc, TypedAttr value,
                          ArrayRef<OpFoldResult> sizes) {
  Value cst = arith::ConstantOp::create(b, loc, value);
  Value empty = tensor::EmptyOp::create(b, loc, sizes, value.getType()).getResult();
  return linalg::FillOp::create(b, loc, cst, empty).getResult(0);
}

/// The kinds of Reduce* ops.
enum class ReduceKind { Sum, Mean, Max, Min, SumSquare };

Value loom::reduceKeepDims(OpBuilder &b, Location loc, Value x,
                            ArrayRef<bool> reduced, Attribute initValue,
                            function_ref<Value(OpBuilder &, Location, Value,
                                               Value)>
                                combine) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<int64_t> shape;
  SmallVector<Value> dyn;
  SmallVector<AffineExpr> outExprs;
  for (int64_t i = 0; i < rank; ++i) {
    if (reduced[i]) {
      shape.push_back(1);
      outExprs.push_back(getAffineConstantExpr(0, ctx));
    } else {
      shape.push_back(type.getDimSize(i));
      if (type.isDynamicDim(i))
        dyn.push_back(tensor::DimOp::create(b, loc, x, i));
      outExprs.push_back(getAffineDimExpr(i, ctx));
    }
  }
  Value init = arith::ConstantOp::create(b, loc, cast<TypedAttr>(initValue));
  Value empty =
      tensor::EmptyOp::create(b, loc, shape, type.getElementType(), dyn);
  Value filled = linalg::FillOp::create(b, loc, init, empty).getResult(0);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, outExprs, ctx)};
  SmallVector<utils::IteratorType> iters;
  for (int64_t i = 0; i < rank; ++i)
    iters.push_back(reduced[i] ? utils::IteratorType::reduction
                               : utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, filled.getType(), ValueRange{x}, ValueRange{filled}, maps,
             iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               linalg::YieldOp::create(nb, l, combine(nb, l, a[1], a[0]));
             })
      .getResult(0);
}

/// Drops the size-1 reduced dims of a keepdims result with collapse_shape.
static Value dropReducedDims(OpBuilder &b, Location loc, Value v,
                             ArrayRef<bool> reduced) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<ReassociationIndices> groups;
  SmallVector<int64_t> shape;
  ReassociationIndices pending;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    pending.push_back(i);
    if (!reduced[i]) {
      groups.push_back(pending);
      pending.clear();
      shape.push_back(type.getDimSize(i));
    }
  }
  if (!pending.empty()) {
    if (groups.empty())
      return tensor::CollapseShapeOp::create(
          b, loc, RankedTensorType::get({}, type.getElementType()), v,
          SmallVector<ReassociationIndices>{});
    groups.back().append(pending.begin(), pending.end());
  }
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), v, groups);
}

/// Reads the reduced axes: attribute before `inputSince`, input 1 from then.
/// Returns false when they are not compile-time constants.
static bool reducedAxes(OpBinder &binder, int64_t rank, int64_t inputSince,
                        SmallVector<bool> &reduced) {
  std::optional<SmallVector<int64_t>> axes;
  bool given;
  if (binder.getOp().getOpset() < inputSince) {
    axes = binder.getInts("axes");
    given = axes.has_value();
  } else {
    given = (bool)binder.input(1);
    axes = given ? binder.constantInts(1) : std::nullopt;
    if (given && !axes)
      return false;
  }
  bool noop = binder.getInt("noop_with_empty_axes", 0) != 0;
  reduced.assign(rank, !given || axes->empty() ? !noop : false);
  if (given)
    for (int64_t a : *axes) {
      std::optional<int64_t> n = normalizeAxis(a, rank);
      if (!n)
        return false;
      reduced[*n] = true;
    }
  return true;
}

static OnnxHandler reduceHandler(ReduceKind kind, int64_t inputSince) {
  return [kind, inputSince](OpBinder &binder,
                            RewriterBase &rewriter) -> LogicalResult {
    auto x = binder.rankedInput(0);
    if (!x)
      return binder.unsupported("an unranked input");
    Type elem = x.getType().getElementType();
    bool isFloat = isa<FloatType>(elem);
    if (!isFloat && !elem.isSignlessInteger())
      return binder.unsupported("this element type");
    SmallVector<bool> reduced;
    if (!reducedAxes(binder, x.getType().getRank(), inputSince, reduced))
      return binder.unsupported("non-constant or invalid axes");
    Location loc = binder.getLoc();
    Attribute init;
    switch (kind) {
    case ReduceKind::Max:
      init = isFloat ? (Attribute)rewriter.getFloatAttr(
                           elem, -std::numeric_limits<double>::infinity())
                     : rewriter.getIntegerAttr(
                           elem, APInt::getSignedMinValue(
                                     elem.getIntOrFloatBitWidth()));
      break;
    case ReduceKind::Min:
      init = isFloat ? (Attribute)rewriter.getFloatAttr(
                           elem, std::numeric_limits<double>::infinity())
                     : rewriter.getIntegerAttr(
                           elem, APInt::getSignedMaxValue(
                                     elem.getIntOrFloatBitWidth()));
      break;
    default:
      init = rewriter.getZeroAttr(elem);
    }
    Value r = reduceKeepDims(
        rewriter, loc, x, reduced, init,
        [&](OpBuilder &b, Location l, Value acc, Value v) -> Value {
          switch (kind) {
          case ReduceKind::Max:
            return isFloat ? arith::MaximumFOp::create(b, l, acc, v).getResult()
                           : arith::MaxSIOp::create(b, l, acc, v).getResult();
          case ReduceKind::Min:
            return isFloat ? arith::MinimumFOp::create(b, l, acc, v).getResult()
                           : arith::MinSIOp::create(b, l, acc, v).getResult();
          case ReduceKind::SumSquare:
            v = isFloat ? arith::MulFOp::create(b, l, v, v).getResult()
                        : arith::MulIOp::create(b, l, v, v).getResult();
            [[fallthrough]];
          default:
            return isFloat ? arith::AddFOp::create(b, l, acc, v).getResult()
                           : arith::AddIOp::create(b, l, acc, v).getResult();
          }
        });
    if (kind == ReduceKind::Mean) {
      // Divide by the number of reduced elements.
      Value count;
      for (int64_t i = 0; i < x.getType().getRank(); ++i) {
        if (!reduced[i])
          continue;
        Value d = tensor::DimOp::create(rewriter, loc, x, i);
        count = count ? arith::MulIOp::create(rewriter, loc, count, d) : d;
      }
      if (count) {
        Value i64 = arith::IndexCastOp::create(rewriter, loc,
                                               rewriter.getI64Type(), count);
        Value n = isFloat ? arith::SIToFPOp::create(rewriter, loc, elem, i64)
                                .getResult()
                          : arith::TruncIOp::create(rewriter, loc, elem, i64)
                                .getResult();
        auto type = cast<RankedTensorType>(r.getType());
        Value empty = tensor::EmptyOp::create(
            rewriter, loc, getSizes(rewriter, loc, r), type.getElementType());
        SmallVector<AffineMap> maps(2,
                                    rewriter.getMultiDimIdentityMap(type.getRank()));
        SmallVector<utils::IteratorType> iters(type.getRank(),
                                               utils::IteratorType::parallel);
        r = linalg::GenericOp::create(
                rewriter, loc, type, ValueRange{r}, ValueRange{empty}, maps,
                iters,
                [&](OpBuilder &b, Location l, ValueRange a) {
                  linalg::YieldOp::create(
                      b, l,
                      isFloat ? arith::DivFOp::create(b, l, a[0], n).getResult()
                              : arith::DivSIOp::create(b, l, a[0], n).getResult());
                })
                .getResult(0);
      }
    }
    if (binder.getInt("keepdims", 1) == 0)
      r = dropReducedDims(rewriter, loc, r, reduced);
    binder.replace(rewriter, r);
    return success();
  };
}

/// ArgMax/ArgMin along `axis` (int64 result; first or last occurrence).
static OnnxHandler argHandler(bool isMax) {
  return [isMax](OpBinder &binder, RewriterBase &rewriter) -> LogicalResult {
    auto x = binder.rankedInput(0);
    if (!x || !isa<FloatType>(x.getType().getElementType()))
      return binder.unsupported("a non-float or unranked input");
    int64_t rank = x.getType().getRank();
    std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", 0), rank);
    if (!axis)
      return binder.emitError("axis is out of range"), failure();
    bool last = binder.getInt("select_last_index", 0) != 0;
    Type elem = x.getType().getElementType();
    Location loc = binder.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<int64_t> shape(x.getType().getShape());
    shape[*axis] = 1;
    SmallVector<Value> dyn;
    SmallVector<AffineExpr> outExprs;
    for (int64_t i = 0; i < rank; ++i) {
      if (i != *axis && x.getType().isDynamicDim(i))
        dyn.push_back(tensor::DimOp::create(rewriter, loc, x, i));
      outExprs.push_back(i == *axis ? getAffineConstantExpr(0, ctx)
                                    : getAffineDimExpr(i, ctx));
    }
    Value vInit = filledTensor(
        rewriter, loc,
        rewriter.getFloatAttr(elem, isMax
                                        ? -std::numeric_limits<double>::infinity()
                                        : std::numeric_limits<double>::infinity()),
        shape, dyn);
    Value iInit = filledTensor(rewriter, loc, rewriter.getI64IntegerAttr(0),
                               shape, dyn);
    AffineMap outMap = AffineMap::get(rank, 0, outExprs, ctx);
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(rank), outMap,
                                   outMap};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    iters[*axis] = utils::IteratorType::reduction;
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{vInit.getType(), iInit.getType()},
        ValueRange{x}, ValueRange{vInit, iInit}, maps, iters,
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value idx = arith::IndexCastOp::create(
              b, l, b.getI64Type(), linalg::IndexOp::create(b, l, *axis));
          auto pred = isMax ? (last ? arith::CmpFPredicate::OGE
                                    : arith::CmpFPredicate::OGT)
                            : (last ? arith::CmpFPredicate::OLE
                                    : arith::CmpFPredicate::OLT);
          Value better = arith::CmpFOp::create(b, l, pred, a[0], a[1]);
          linalg::YieldOp::create(
              b, l,
              ValueRange{arith::SelectOp::create(b, l, better, a[0], a[1]),
                         arith::SelectOp::create(b, l, better, idx, a[2])});
        });
    Value r = generic.getResult(1);
    if (binder.getInt("keepdims", 1) == 0) {
      SmallVector<bool> reduced(rank, false);
      reduced[*axis] = true;
      r = dropReducedDims(rewriter, loc, r, reduced);
    }
    binder.replace(rewriter, r);
    return success();
  };
}

/// LogSoftmax-13 (single axis): x - max - log(sum(exp(x - max))).
static LogicalResult legalizeLogSoftmax(OpBinder &binder,
                                        RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x || !isa<FloatType>(x.getType().getElementType()))
    return binder.unsupported("a non-float or unranked input");
  int64_t rank = x.getType().getRank();
  int64_t dflt = binder.getOp().getOpset() < 13 ? 1 : -1;
  std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", dflt), rank);
  if (!axis)
    return binder.emitError("axis is out of range"), failure();
  if (binder.getOp().getOpset() < 13 && *axis != rank - 1)
    return binder.unsupported("LogSoftmax before opset 13 over more than the "
                              "last dimension");
  Type elem = x.getType().getElementType();
  Location loc = binder.getLoc();
  SmallVector<bool> reduced(rank, false);
  reduced[*axis] = true;
  Value mx = reduceKeepDims(
      rewriter, loc, x, reduced,
      rewriter.getFloatAttr(elem, -std::numeric_limits<double>::infinity()),
      [](OpBuilder &b, Location l, Value acc, Value v) -> Value {
        return arith::MaximumFOp::create(b, l, acc, v);
      });
  // sum(exp(x - max)) with max broadcast along the axis.
  MLIRContext *ctx = rewriter.getContext();
  SmallVector<AffineExpr> bcast;
  for (int64_t i = 0; i < rank; ++i)
    bcast.push_back(i == *axis ? getAffineConstantExpr(0, ctx)
                               : getAffineDimExpr(i, ctx));
  AffineMap bmap = AffineMap::get(rank, 0, bcast, ctx);
  auto sumType = cast<RankedTensorType>(mx.getType());
  Value zero = filledTensor(rewriter, loc,
                            cast<TypedAttr>(rewriter.getZeroAttr(elem)),
                            getSizes(rewriter, loc, mx));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  iters[*axis] = utils::IteratorType::reduction;
  Value sum = linalg::GenericOp::create(
                  rewriter, loc, sumType, ValueRange{x, mx}, ValueRange{zero},
                  SmallVector<AffineMap>{rewriter.getMultiDimIdentityMap(rank),
                                         bmap, bmap},
                  iters,
                  [&](OpBuilder &b, Location l, ValueRange a) {
                    Value e = math::ExpOp::create(
                        b, l, arith::SubFOp::create(b, l, a[0], a[1]));
                    linalg::YieldOp::create(
                        b, l, arith::AddFOp::create(b, l, a[2], e).getResult());
                  })
                  .getResult(0);
  Value empty = tensor::EmptyOp::create(rewriter, loc, getSizes(rewriter, loc, x),
                                        elem);
  SmallVector<utils::IteratorType> par(rank, utils::IteratorType::parallel);
  Value out = linalg::GenericOp::create(
                  rewriter, loc, x.getType(), ValueRange{x, mx, sum},
                  ValueRange{empty},
                  SmallVector<AffineMap>{rewriter.getMultiDimIdentityMap(rank),
                                         bmap, bmap,
                                         rewriter.getMultiDimIdentityMap(rank)},
                  par,
                  [&](OpBuilder &b, Location l, ValueRange a) {
                    Value v = arith::SubFOp::create(b, l, a[0], a[1]);
                    v = arith::SubFOp::create(b, l, v,
                                              math::LogOp::create(b, l, a[2]));
                    linalg::YieldOp::create(b, l, v);
                  })
                  .getResult(0);
  binder.replace(rewriter, out);
  return success();
}

/// Gemm: alpha * A' @ B' + beta * C, with optional transposes.
static LogicalResult legalizeGemm(OpBinder &binder, RewriterBase &rewriter) {
  auto a = binder.rankedInput(0), b = binder.rankedInput(1);
  Value c = binder.rankedInput(2);
  if (!a || !b || a.getType().getRank() != 2 || b.getType().getRank() != 2)
    return binder.unsupported("operands that are not 2-D");
  Type elem = a.getType().getElementType();
  if (!isa<FloatType>(elem))
    return binder.unsupported("non-float operands");
  bool ta = binder.getInt("transA", 0), tb = binder.getInt("transB", 0);
  double alpha = binder.getFloat("alpha", 1.0), beta = binder.getFloat("beta", 1.0);
  Location loc = binder.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  // Loops (m, n, k).
  AffineMap aMap = AffineMap::get(3, 0, ta ? ArrayRef<AffineExpr>{d(2), d(0)}
                                          : ArrayRef<AffineExpr>{d(0), d(2)},
                                  ctx);
  AffineMap bMap = AffineMap::get(3, 0, tb ? ArrayRef<AffineExpr>{d(1), d(2)}
                                          : ArrayRef<AffineExpr>{d(2), d(1)},
                                  ctx);
  AffineMap cMap = AffineMap::get(3, 0, {d(0), d(1)}, ctx);
  SmallVector<OpFoldResult> as = getSizes(rewriter, loc, a),
                            bs = getSizes(rewriter, loc, b);
  SmallVector<OpFoldResult> out = {ta ? as[1] : as[0], tb ? bs[0] : bs[1]};
  Value init = filledTensor(rewriter, loc,
                            cast<TypedAttr>(rewriter.getZeroAttr(elem)), out);
  Value mm = linalg::GenericOp::create(
                 rewriter, loc, init.getType(), ValueRange{a, b}, ValueRange{init},
                 SmallVector<AffineMap>{aMap, bMap, cMap},
                 SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                                  utils::IteratorType::parallel,
                                                  utils::IteratorType::reduction},
                 [](OpBuilder &nb, Location l, ValueRange x) {
                   Value p = arith::MulFOp::create(nb, l, x[0], x[1]);
                   linalg::YieldOp::create(
                       nb, l, arith::AddFOp::create(nb, l, x[2], p, kReassoc).getResult());
                 })
                 .getResult(0);
  SmallVector<Value> operands = {mm};
  if (c)
    operands.push_back(c);
  FailureOr<Value> result = buildBroadcastElementwise(
      binder, rewriter, operands, elem,
      [&](OpBuilder &nb, Location l, ValueRange x) -> Value {
        Value v = arith::MulFOp::create(
            nb, l, x[0],
            arith::ConstantOp::create(nb, l, nb.getFloatAttr(elem, alpha)));
        if (x.size() > 1)
          v = arith::AddFOp::create(
              nb, l, v,
              arith::MulFOp::create(
                  nb, l, x[1],
                  arith::ConstantOp::create(nb, l, nb.getFloatAttr(elem, beta))));
        return v;
      });
  if (failed(result))
    return failure();
  binder.replace(rewriter, *result);
  return success();
}

void loom::populateOnnxReduceHandlers(OnnxHandlerRegistry &registry) {
  // ReduceSum took axes as an input from opset 13, the others from 18.
  registry.add("ReduceSum", 1, reduceHandler(ReduceKind::Sum, 13));
  registry.add("ReduceMean", 1, reduceHandler(ReduceKind::Mean, 18));
  registry.add("ReduceMax", 1, reduceHandler(ReduceKind::Max, 18));
  registry.add("ReduceMin", 1, reduceHandler(ReduceKind::Min, 18));
  registry.add("ReduceSumSquare", 1, reduceHandler(ReduceKind::SumSquare, 18));
  registry.add("ArgMax", 1, argHandler(true));
  registry.add("ArgMin", 1, argHandler(false));
  registry.add("LogSoftmax", 1, legalizeLogSoftmax);
  registry.add("Gemm", 7, legalizeGemm);
}
