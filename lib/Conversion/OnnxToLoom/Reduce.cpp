//===- Reduce.cpp - ONNX reduction handlers -------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

#include <map>

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
  Value empty =
      tensor::EmptyOp::create(b, loc, sizes, value.getType()).getResult();
  return linalg::FillOp::create(b, loc, cst, empty).getResult(0);
}

/// The kinds of Reduce* ops.
enum class ReduceKind { Sum, Mean, Max, Min, SumSquare };

Value loom::reduceKeepDims(
    OpBuilder &b, Location loc, Value x, ArrayRef<bool> reduced,
    Attribute initValue,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
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
  if (int64_t(binder.getOp().getOpset()) < inputSince) {
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

/// Reduces `x` (kind `kind`) over the dims marked in `reduced`, keeping them
/// as size 1 unless the node's `keepdims` is 0.
static Value buildReduce(OpBinder &binder, RewriterBase &rewriter,
                         TypedValue<RankedTensorType> x, ArrayRef<bool> reduced,
                         ReduceKind kind) {
  Location loc = binder.getLoc();
  Type elem = x.getType().getElementType();
  bool isFloat = isa<FloatType>(elem);
  Attribute init;
  switch (kind) {
  case ReduceKind::Max:
    init =
        isFloat
            ? (Attribute)rewriter.getFloatAttr(
                  elem, -std::numeric_limits<double>::infinity())
            : rewriter.getIntegerAttr(
                  elem, APInt::getSignedMinValue(elem.getIntOrFloatBitWidth()));
    break;
  case ReduceKind::Min:
    init =
        isFloat
            ? (Attribute)rewriter.getFloatAttr(
                  elem, std::numeric_limits<double>::infinity())
            : rewriter.getIntegerAttr(
                  elem, APInt::getSignedMaxValue(elem.getIntOrFloatBitWidth()));
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
      Value n =
          isFloat
              ? arith::SIToFPOp::create(rewriter, loc, elem, i64).getResult()
              : arith::TruncIOp::create(rewriter, loc, elem, i64).getResult();
      auto type = cast<RankedTensorType>(r.getType());
      Value empty = tensor::EmptyOp::create(
          rewriter, loc, getSizes(rewriter, loc, r), type.getElementType());
      SmallVector<AffineMap> maps(
          2, rewriter.getMultiDimIdentityMap(type.getRank()));
      SmallVector<utils::IteratorType> iters(type.getRank(),
                                             utils::IteratorType::parallel);
      r = linalg::GenericOp::create(
              rewriter, loc, type, ValueRange{r}, ValueRange{empty}, maps,
              iters,
              [&](OpBuilder &b, Location l, ValueRange a) {
                linalg::YieldOp::create(
                    b, l,
                    isFloat
                        ? arith::DivFOp::create(b, l, a[0], n).getResult()
                        : arith::DivSIOp::create(b, l, a[0], n).getResult());
              })
              .getResult(0);
    }
  }
  if (binder.getInt("keepdims", 1) == 0)
    r = dropReducedDims(rewriter, loc, r, reduced);
  return r;
}

/// Reduce* with axes known only at run time: one case per set of axes the
/// axes tensor can name, selected by the bit mask of the normalized axes
/// (scf.index_switch). Each case is the static reduction, cast to the node's
/// result type; a mask no case covers (repeated axes with keepdims=0) gives
/// an empty tensor.
static LogicalResult legalizeRuntimeReduce(OpBinder &binder,
                                           RewriterBase &rewriter,
                                           TypedValue<RankedTensorType> x,
                                           ReduceKind kind) {
  auto axesT = binder.rankedInput(1);
  RankedTensorType result = binder.resultType(0);
  int64_t rank = x.getType().getRank();
  if (!axesT || !result || axesT.getType().getRank() != 1 ||
      axesT.getType().isDynamicDim(0) || rank > 6)
    return binder.unsupported("run-time axes of dynamic length or rank > 6");
  int64_t n = axesT.getType().getDimSize(0);
  bool keep = binder.getInt("keepdims", 1) != 0;
  Location loc = binder.getLoc();
  if (n == 0) {
    // An axes input that is always empty: the input itself, or a reduction
    // over every dim, as noop_with_empty_axes says.
    Value r = binder.getInt("noop_with_empty_axes", 0)
                  ? Value(x)
                  : buildReduce(binder, rewriter, x,
                                SmallVector<bool>(rank, true), kind);
    if (!tensor::CastOp::areCastCompatible(r.getType(), result))
      return binder.emitError("the reduction's result type contradicts the "
                              "node's"),
             failure();
    if (r.getType() != result)
      r = tensor::CastOp::create(rewriter, loc, result, r);
    binder.replace(rewriter, r);
    return success();
  }
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  Value mask = idx(0);
  for (int64_t k = 0; k < n; ++k) {
    Value e =
        tensor::ExtractOp::create(rewriter, loc, axesT, ValueRange{idx(k)});
    Value a =
        arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), e);
    Value neg = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt,
                                      a, idx(0));
    a = arith::SelectOp::create(
        rewriter, loc, neg, arith::AddIOp::create(rewriter, loc, a, idx(rank)),
        a);
    mask = arith::OrIOp::create(
        rewriter, loc, mask, arith::ShLIOp::create(rewriter, loc, idx(1), a));
  }
  // The masks whose reduction can have the node's result type.
  SmallVector<int64_t> cases;
  for (int64_t m = 1; m < (int64_t(1) << rank); ++m) {
    int64_t bits = llvm::popcount(static_cast<uint64_t>(m));
    if (bits > n || (!keep && rank - bits != result.getRank()))
      continue;
    bool fits = true;
    for (int64_t d = 0, o = 0; d < rank && fits; ++d) {
      bool red = (m >> d) & 1;
      if (red && !keep)
        continue;
      int64_t want = result.getDimSize(o++);
      int64_t have = red ? 1 : x.getType().getDimSize(d);
      fits = ShapedType::isDynamic(want) || ShapedType::isDynamic(have) ||
             want == have;
    }
    if (fits)
      cases.push_back(m);
  }
  if (cases.empty())
    return binder.emitError("no set of axes gives the node's result type"),
           failure();
  auto sw = scf::IndexSwitchOp::create(rewriter, loc, TypeRange{result}, mask,
                                       cases, cases.size());
  for (auto [i, m] : llvm::enumerate(cases)) {
    Block &block = sw.getCaseRegions()[i].emplaceBlock();
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&block);
    SmallVector<bool> reduced;
    for (int64_t d = 0; d < rank; ++d)
      reduced.push_back((m >> d) & 1);
    Value r = buildReduce(binder, rewriter, x, reduced, kind);
    if (!tensor::CastOp::areCastCompatible(r.getType(), result))
      return binder.emitError("reduction result does not match the node's "
                              "type"),
             failure();
    if (r.getType() != result)
      r = tensor::CastOp::create(rewriter, loc, result, r);
    scf::YieldOp::create(rewriter, loc, r);
  }
  {
    Block &block = sw.getDefaultRegion().emplaceBlock();
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&block);
    SmallVector<Value> dyn(result.getNumDynamicDims(), idx(0));
    SmallVector<int64_t> shape;
    for (int64_t d : result.getShape())
      shape.push_back(ShapedType::isDynamic(d) ? ShapedType::kDynamic : d);
    Value empty = tensor::EmptyOp::create(rewriter, loc, shape,
                                          result.getElementType(), dyn);
    scf::YieldOp::create(rewriter, loc, empty);
  }
  binder.replace(rewriter, sw.getResult(0));
  return success();
}

static OnnxHandler reduceHandler(ReduceKind kind, int64_t inputSince) {
  return [kind, inputSince](OpBinder &binder,
                            RewriterBase &rewriter) -> LogicalResult {
    auto x = binder.rankedInput(0);
    if (!x)
      return binder.unsupported("an unranked input");
    Type elem = x.getType().getElementType();
    if (!isa<FloatType>(elem) && !elem.isSignlessInteger())
      return binder.unsupported("this element type");
    SmallVector<bool> reduced;
    if (!reducedAxes(binder, x.getType().getRank(), inputSince, reduced)) {
      bool runtime = int64_t(binder.getOp().getOpset()) >= inputSince &&
                     binder.input(1) && !binder.constantInts(1);
      if (runtime)
        return legalizeRuntimeReduce(binder, rewriter, x, kind);
      return binder.unsupported("invalid axes");
    }
    binder.replace(rewriter, buildReduce(binder, rewriter, x, reduced, kind));
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
    Value vInit =
        filledTensor(rewriter, loc,
                     rewriter.getFloatAttr(
                         elem, isMax ? -std::numeric_limits<double>::infinity()
                                     : std::numeric_limits<double>::infinity()),
                     shape, dyn);
    Value iInit =
        filledTensor(rewriter, loc, rewriter.getI64IntegerAttr(0), shape, dyn);
    AffineMap outMap = AffineMap::get(rank, 0, outExprs, ctx);
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(rank),
                                   outMap, outMap};
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
  std::optional<int64_t> axis =
      normalizeAxis(binder.getInt("axis", dflt), rank);
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
  Value zero =
      filledTensor(rewriter, loc, cast<TypedAttr>(rewriter.getZeroAttr(elem)),
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
  Value empty =
      tensor::EmptyOp::create(rewriter, loc, getSizes(rewriter, loc, x), elem);
  SmallVector<utils::IteratorType> par(rank, utils::IteratorType::parallel);
  Value out =
      linalg::GenericOp::create(
          rewriter, loc, x.getType(), ValueRange{x, mx, sum}, ValueRange{empty},
          SmallVector<AffineMap>{rewriter.getMultiDimIdentityMap(rank), bmap,
                                 bmap, rewriter.getMultiDimIdentityMap(rank)},
          par,
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value v = arith::SubFOp::create(b, l, a[0], a[1]);
            v = arith::SubFOp::create(b, l, v, math::LogOp::create(b, l, a[2]));
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
  double alpha = binder.getFloat("alpha", 1.0),
         beta = binder.getFloat("beta", 1.0);
  Location loc = binder.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  // Loops (m, n, k).
  AffineMap aMap = AffineMap::get(3, 0,
                                  ta ? ArrayRef<AffineExpr>{d(2), d(0)}
                                     : ArrayRef<AffineExpr>{d(0), d(2)},
                                  ctx);
  AffineMap bMap = AffineMap::get(3, 0,
                                  tb ? ArrayRef<AffineExpr>{d(1), d(2)}
                                     : ArrayRef<AffineExpr>{d(2), d(1)},
                                  ctx);
  AffineMap cMap = AffineMap::get(3, 0, {d(0), d(1)}, ctx);
  SmallVector<OpFoldResult> as = getSizes(rewriter, loc, a),
                            bs = getSizes(rewriter, loc, b);
  SmallVector<OpFoldResult> out = {ta ? as[1] : as[0], tb ? bs[0] : bs[1]};
  Value init = filledTensor(rewriter, loc,
                            cast<TypedAttr>(rewriter.getZeroAttr(elem)), out);
  Value mm =
      linalg::GenericOp::create(
          rewriter, loc, init.getType(), ValueRange{a, b}, ValueRange{init},
          SmallVector<AffineMap>{aMap, bMap, cMap},
          SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::parallel,
                                           utils::IteratorType::reduction},
          yieldMultiplyAccumulate)
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
              arith::MulFOp::create(nb, l, x[1],
                                    arith::ConstantOp::create(
                                        nb, l, nb.getFloatAttr(elem, beta))));
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

//===----------------------------------------------------------------------===//
// CumSum and Einsum
//===----------------------------------------------------------------------===//

/// CumSum along a constant axis: out[..i..] = sum over j of x[..j..] with
/// j <= i (j < i when exclusive; >= / > when reversed), as a loop along the
/// axis carrying the running sum: linear time.
static Value buildCumSum(OpBuilder &b, Location loc, Value x, int64_t axis,
                         bool exclusive, bool reverse) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  Type elem = type.getElementType();
  bool isFloat = isa<FloatType>(elem);
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  if (axis > 0) {
    // The lines before the axis are independent: an scf.forall over them,
    // each task running the sequential loop on its own [n, inner...] block
    // (one parallel region instead of one per step).
    SmallVector<OpFoldResult> outer(sizes.begin(), sizes.begin() + axis);
    Value init = tensor::EmptyOp::create(b, loc, sizes, elem);
    auto blockType =
        RankedTensorType::get(type.getShape().drop_front(axis), elem);
    auto forall = scf::ForallOp::create(
        b, loc, outer, ValueRange{init}, std::nullopt,
        [&](OpBuilder &fb, Location l, ValueRange args) {
          SmallVector<OpFoldResult> offs(rank, fb.getIndexAttr(0));
          SmallVector<OpFoldResult> blockSizes(sizes);
          for (int64_t i = 0; i < axis; ++i) {
            offs[i] = args[i];
            blockSizes[i] = fb.getIndexAttr(1);
          }
          SmallVector<OpFoldResult> strides(rank, fb.getIndexAttr(1));
          Value block = tensor::ExtractSliceOp::create(
              fb, l, blockType, x, offs, blockSizes, strides);
          Value sums = buildCumSum(fb, l, block, 0, exclusive, reverse);
          auto term = scf::InParallelOp::create(fb, l);
          OpBuilder::InsertionGuard guard(fb);
          fb.setInsertionPointToStart(term.getBody());
          tensor::ParallelInsertSliceOp::create(fb, l, sums, args.back(), offs,
                                                blockSizes, strides);
        });
    return forall.getResult(0);
  }
  // One slice along `axis`: the running sum's shape.
  SmallVector<OpFoldResult> sliceSizes(sizes);
  sliceSizes[axis] = b.getIndexAttr(1);
  SmallVector<OpFoldResult> runSizes(sizes);
  runSizes.erase(runSizes.begin() + axis);
  SmallVector<int64_t> runShape(type.getShape());
  runShape.erase(runShape.begin() + axis);
  auto runType = RankedTensorType::get(runShape, elem);
  Value run =
      filledTensor(b, loc, cast<TypedAttr>(b.getZeroAttr(elem)), runSizes);
  Value out = tensor::EmptyOp::create(b, loc, sizes, elem);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value n = getValueOrCreateConstantIndexOp(b, loc, sizes[axis]);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  int64_t runRank = rank - 1;
  SmallVector<AffineMap> maps(3, b.getMultiDimIdentityMap(runRank));
  SmallVector<utils::IteratorType> iters(runRank,
                                         utils::IteratorType::parallel);
  auto loop = scf::ForOp::create(
      b, loc, zero, n, one, ValueRange{run, out},
      [&](OpBuilder &fb, Location l, Value t, ValueRange iter) {
        Value at = t;
        if (reverse)
          at = arith::SubIOp::create(fb, l,
                                     arith::SubIOp::create(fb, l, n, one), t);
        SmallVector<OpFoldResult> offs(rank, fb.getIndexAttr(0));
        offs[axis] = at;
        Value slice = tensor::ExtractSliceOp::create(fb, l, runType, x, offs,
                                                     sliceSizes, strides);
        Value next =
            linalg::GenericOp::create(
                fb, l, runType, ValueRange{iter[0], slice},
                ValueRange{tensor::EmptyOp::create(fb, l, runSizes, elem)},
                maps, iters,
                [&](OpBuilder &nb, Location nl, ValueRange a) {
                  Value sum = isFloat
                                  ? arith::AddFOp::create(nb, nl, a[0], a[1])
                                        .getResult()
                                  : arith::AddIOp::create(nb, nl, a[0], a[1])
                                        .getResult();
                  linalg::YieldOp::create(nb, nl, sum);
                })
                .getResult(0);
        Value written =
            tensor::InsertSliceOp::create(fb, l, exclusive ? iter[0] : next,
                                          iter[1], offs, sliceSizes, strides);
        scf::YieldOp::create(fb, l, ValueRange{next, written});
      });
  return loop.getResult(1);
}

/// CumSum: out[..i..] = sum over j of x[..j..] with j <= i (j < i when
/// exclusive; >= / > when reversed) -- an scf.forall over the dims before
/// the axis around a loop along the axis carrying the running sum (linear
/// time), each step one elementwise op over the dims after it. A
/// run-time axis selects among the rank's variants with scf.index_switch (an
/// out-of-range axis gives zeros).
static LogicalResult legalizeCumSum(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  Value axisTensor = binder.rankedInput(1);
  if (!x || !axisTensor)
    return binder.unsupported("an unranked input or axis");
  int64_t rank = x.getType().getRank();
  Type elem = x.getType().getElementType();
  if (!isa<FloatType>(elem) && !elem.isSignlessInteger())
    return binder.unsupported("this element type");
  bool exclusive = binder.getInt("exclusive", 0),
       reverse = binder.getInt("reverse", 0);
  Location loc = binder.getLoc();
  if (std::optional<SmallVector<int64_t>> axisv = binder.constantInts(1)) {
    std::optional<int64_t> axis =
        axisv->size() == 1 ? normalizeAxis((*axisv)[0], rank) : std::nullopt;
    if (!axis)
      return binder.emitError("axis is out of range"), failure();
    binder.replace(rewriter,
                   buildCumSum(rewriter, loc, x, *axis, exclusive, reverse));
    return success();
  }
  // Run-time axis: wrap negative values, then switch.
  Value a = tensor::ExtractOp::create(
      rewriter, loc, axisTensor,
      SmallVector<Value>(cast<RankedTensorType>(axisTensor.getType()).getRank(),
                         arith::ConstantIndexOp::create(rewriter, loc, 0)));
  Value ai =
      arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), a);
  Value r = arith::ConstantIndexOp::create(rewriter, loc, rank);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value neg =
      arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt, ai, zero);
  ai = arith::SelectOp::create(rewriter, loc, neg,
                               arith::AddIOp::create(rewriter, loc, ai, r), ai);
  SmallVector<int64_t> cases;
  for (int64_t i = 0; i < rank; ++i)
    cases.push_back(i);
  auto sw = scf::IndexSwitchOp::create(rewriter, loc, TypeRange{x.getType()},
                                       ai, cases, cases.size());
  for (int64_t i = 0; i < rank; ++i) {
    Block &block = sw.getCaseRegions()[i].emplaceBlock();
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&block);
    scf::YieldOp::create(rewriter, loc,
                         buildCumSum(rewriter, loc, x, i, exclusive, reverse));
  }
  {
    Block &block = sw.getDefaultRegion().emplaceBlock();
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&block);
    scf::YieldOp::create(
        rewriter, loc,
        filledTensor(rewriter, loc, cast<TypedAttr>(rewriter.getZeroAttr(elem)),
                     getSizes(rewriter, loc, x)));
  }
  binder.replace(rewriter, sw.getResult(0));
  return success();
}

/// Einsum without ellipsis: output letters are parallel loops, the others
/// reductions; one linalg.generic multiplies the inputs and accumulates.
static LogicalResult legalizeEinsum(OpBinder &binder, RewriterBase &rewriter) {
  std::string eq = binder.getString("equation", "");
  eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
  std::string lhs = eq, rhs;
  bool explicitOut = false;
  if (size_t arrow = eq.find("->"); arrow != std::string::npos) {
    lhs = eq.substr(0, arrow);
    rhs = eq.substr(arrow + 2);
    explicitOut = true;
  }
  SmallVector<std::string> terms;
  for (StringRef t : llvm::split(StringRef(lhs), ','))
    terms.push_back(t.str());
  if (terms.size() != binder.getNumInputs())
    return binder.emitError("the equation does not match the inputs"),
           failure();
  // "..." stands for the leading dims an operand has beyond its letters;
  // they are right-aligned across operands (numpy broadcasting) and named by
  // the digits '0'.. (never ONNX subscript letters).
  int64_t ellipsis = 0;
  for (unsigned i = 0; i < terms.size(); ++i) {
    size_t dots = terms[i].find("...");
    if (dots == std::string::npos)
      continue;
    auto v = binder.rankedInput(i);
    int64_t k = v ? v.getType().getRank() - ((int64_t)terms[i].size() - 3) : -1;
    if (k < 0 || k > 10)
      return binder.emitError("operand " + Twine(i) +
                              " does not match its equation term"),
             failure();
    ellipsis = std::max(ellipsis, k);
  }
  std::string digits = std::string("0123456789").substr(0, ellipsis);
  for (unsigned i = 0; i < terms.size(); ++i) {
    size_t dots = terms[i].find("...");
    if (dots == std::string::npos)
      continue;
    int64_t k = binder.rankedInput(i).getType().getRank() -
                ((int64_t)terms[i].size() - 3);
    terms[i].replace(dots, 3, digits.substr(ellipsis - k));
  }
  if (size_t dots = rhs.find("..."); dots != std::string::npos)
    rhs.replace(dots, 3, digits);
  if (!explicitOut) {
    std::map<char, int> count;
    for (auto &t : terms)
      for (char c : t)
        if (!isdigit(c))
          ++count[c];
    rhs = digits;
    for (auto &[c, n] : count)
      if (n == 1)
        rhs += c;
  }
  // Loop order: output letters, then the rest in order of appearance.
  std::string letters = rhs;
  for (auto &t : terms)
    for (char c : t)
      if (letters.find(c) == std::string::npos)
        letters += c;
  SmallVector<TypedValue<RankedTensorType>> inputs;
  for (unsigned i = 0; i < terms.size(); ++i) {
    auto v = binder.rankedInput(i);
    if (!v || v.getType().getRank() != (int64_t)terms[i].size())
      return binder.emitError("operand " + Twine(i) +
                              " does not match its equation term"),
             failure();
    inputs.push_back(v);
  }
  Type elem = inputs[0].getType().getElementType();
  if (!isa<FloatType>(elem))
    return binder.unsupported("non-float operands");
  Location loc = binder.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  int64_t loops = letters.size();
  auto loopOf = [&](char c) { return (int64_t)letters.find(c); };
  // A letter whose dim is a static 1 in one operand and larger in another
  // broadcasts (read at index 0).
  auto isOne = [&](unsigned i, size_t pos) {
    return inputs[i].getType().getDimSize(pos) == 1;
  };
  auto broadcasts = [&](char c) {
    for (unsigned i = 0; i < terms.size(); ++i)
      for (size_t pos = 0; pos < terms[i].size(); ++pos)
        if (terms[i][pos] == c && !isOne(i, pos))
          return true;
    return false;
  };
  SmallVector<AffineMap> maps;
  for (auto [i, t] : llvm::enumerate(terms)) {
    SmallVector<AffineExpr> e;
    for (auto [pos, c] : llvm::enumerate(t))
      e.push_back(isOne(i, pos) && broadcasts(c)
                      ? getAffineConstantExpr(0, ctx)
                      : getAffineDimExpr(loopOf(c), ctx));
    maps.push_back(AffineMap::get(loops, 0, e, ctx));
  }
  SmallVector<AffineExpr> outE;
  SmallVector<OpFoldResult> outSizes;
  for (char c : rhs) {
    outE.push_back(getAffineDimExpr(loopOf(c), ctx));
    std::optional<OpFoldResult> size;
    for (unsigned i = 0; i < terms.size(); ++i)
      for (size_t pos = 0; pos < terms[i].size(); ++pos)
        if (terms[i][pos] == c && (!size || !isOne(i, pos)))
          size = getSizes(rewriter, loc, inputs[i])[pos];
    if (size)
      outSizes.push_back(*size);
  }
  if (outSizes.size() != rhs.size())
    return binder.emitError("an output letter appears in no input"), failure();
  maps.push_back(AffineMap::get(loops, 0, outE, ctx));
  Value init = filledTensor(
      rewriter, loc, cast<TypedAttr>(rewriter.getZeroAttr(elem)), outSizes);
  SmallVector<utils::IteratorType> iters;
  for (int64_t i = 0; i < loops; ++i)
    iters.push_back(i < (int64_t)rhs.size() ? utils::IteratorType::parallel
                                            : utils::IteratorType::reduction);
  SmallVector<Value> ins(inputs.begin(), inputs.end());
  Value out =
      linalg::GenericOp::create(
          rewriter, loc, init.getType(), ins, ValueRange{init}, maps, iters,
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value p = a[0];
            for (Value v : a.drop_front().drop_back())
              p = arith::MulFOp::create(b, l, p, v, kContract);
            linalg::YieldOp::create(
                b, l,
                arith::AddFOp::create(b, l, a.back(), p, kReassoc).getResult());
          })
          .getResult(0);
  binder.replace(rewriter, out);
  return success();
}

void loom::populateOnnxScanHandlers(OnnxHandlerRegistry &registry) {
  registry.add("CumSum", 11, legalizeCumSum);
  registry.add("Einsum", 12, legalizeEinsum);
}
