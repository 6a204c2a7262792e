//===- Math.cpp - ONNX elementwise math and MatMul handlers ---------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

using namespace mlir;
using namespace loom;

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

/// Returns the signless version of an integer element type (others as is).
static Type signless(Type t) {
  if (auto i = dyn_cast<IntegerType>(t); i && !i.isSignless())
    return IntegerType::get(t.getContext(), i.getWidth());
  return t;
}

/// Converts tensor `v` to/from its signless element type with tensor.bitcast.
static Value bitcastElements(OpBuilder &b, Location loc, Value v, Type elem) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getElementType() == elem)
    return v;
  return tensor::BitcastOp::create(b, loc, type.clone(elem), v);
}

/// The scalar computation of an elementwise op. `elems` are the original
/// (possibly unsigned) element types of the operands.
using ElemBody =
    std::function<Value(OpBuilder &, Location, ValueRange, TypeRange elems)>;

/// `type` as printed, for messages.
static std::string typeString(Type type) {
  std::string str;
  llvm::raw_string_ostream os(str);
  os << type;
  return str;
}

/// Legalizes an elementwise op with numpy broadcasting over `inputs`. Unsigned
/// integer tensors are bitcast to signless around the linalg.generic (arith
/// works on signless integers); `body` sees the original element types.
static LogicalResult elementwise(OpBinder &binder, RewriterBase &rewriter,
                                 ArrayRef<Value> inputs, Type resultElem,
                                 const ElemBody &body) {
  Location loc = binder.getLoc();
  SmallVector<Value> operands;
  SmallVector<Type> elems;
  for (Value v : inputs) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type)
      return binder.unsupported("an unranked operand");
    // Arithmetic is on integers and floats; strings, complex numbers and
    // other element types ONNX allows (or a malformed model declares) are
    // refused here rather than reaching the scalar bodies.
    if (!type.getElementType().isIntOrFloat())
      return binder.unsupported("element type " +
                                typeString(type.getElementType()));
    elems.push_back(type.getElementType());
    operands.push_back(
        bitcastElements(rewriter, loc, v, signless(type.getElementType())));
  }
  if (!resultElem.isIntOrFloat())
    return binder.unsupported("a result that is not an integer or float "
                              "tensor");
  FailureOr<Value> result = buildBroadcastElementwise(
      binder, rewriter, operands, signless(resultElem),
      [&](OpBuilder &b, Location l, ValueRange args) {
        return body(b, l, args, elems);
      });
  if (failed(result))
    return failure();
  binder.replace(rewriter, bitcastElements(rewriter, loc, *result, resultElem));
  return success();
}

/// Collects the ranked inputs `[from, n)` of a node; fails if one is missing.
static FailureOr<SmallVector<Value>> rankedInputs(OpBinder &binder,
                                                  unsigned from = 0) {
  SmallVector<Value> values;
  for (unsigned i = from; i < binder.getNumInputs(); ++i) {
    Value v = binder.rankedInput(i);
    if (!v)
      return (void)binder.unsupported("an unranked or missing operand"),
             failure();
    values.push_back(v);
  }
  return values;
}

static bool isUnsigned(Type t) {
  auto i = dyn_cast<IntegerType>(t);
  return i && (i.isUnsigned() || i.getWidth() == 1);
}

static Value fconst(OpBuilder &b, Location l, Type t, double v) {
  return arith::ConstantOp::create(b, l, b.getFloatAttr(t, v));
}

/// A float-only unary op.
using UnaryFloat = std::function<Value(OpBuilder &, Location, Value)>;

static OnnxHandler unaryFloat(std::function<UnaryFloat(OpBinder &)> make) {
  return [make](OpBinder &binder, RewriterBase &rewriter) -> LogicalResult {
    Value x = binder.rankedInput(0);
    if (!x)
      return binder.unsupported("an unranked or missing operand");
    Type elem = cast<RankedTensorType>(x.getType()).getElementType();
    if (!isa<FloatType>(elem))
      return binder.unsupported("a non-float operand");
    UnaryFloat fn = make(binder);
    return elementwise(binder, rewriter, {x}, elem,
                       [&](OpBuilder &b, Location l, ValueRange a, TypeRange) {
                         return fn(b, l, a[0]);
                       });
  };
}

/// A binary op whose result has the operands' element type.
using BinaryFn = Value (*)(OpBuilder &, Location, Value, Value, Type);

static LogicalResult legalizeBinary(OpBinder &binder, RewriterBase &rewriter,
                                    BinaryFn fn, bool boolResult) {
  FailureOr<SmallVector<Value>> in = rankedInputs(binder);
  if (failed(in))
    return failure();
  if (in->size() != 2)
    return binder.emitError("expects two operands"), failure();
  Type elem = cast<RankedTensorType>((*in)[0].getType()).getElementType();
  if (elem != cast<RankedTensorType>((*in)[1].getType()).getElementType())
    return binder.emitError("operands have different element types"), failure();
  if (!elem.isIntOrFloat())
    return binder.unsupported("element type " + typeString(elem));
  Type resultElem = boolResult ? rewriter.getI1Type() : elem;
  return elementwise(binder, rewriter, *in, resultElem,
                     [&](OpBuilder &b, Location l, ValueRange a, TypeRange) {
                       return fn(b, l, a[0], a[1], elem);
                     });
}

/// Arithmetic on floats, signed and unsigned integers.
template <typename FOp, typename SOp, typename UOp>
static Value arith3(OpBuilder &b, Location l, Value x, Value y, Type elem) {
  if (isa<FloatType>(elem))
    return FOp::create(b, l, x, y);
  if (isUnsigned(elem))
    return UOp::create(b, l, x, y);
  return SOp::create(b, l, x, y);
}

/// A comparison on floats (ordered), signed and unsigned integers.
template <arith::CmpFPredicate F, arith::CmpIPredicate S,
          arith::CmpIPredicate U>
static Value compare(OpBuilder &b, Location l, Value x, Value y, Type elem) {
  if (isa<FloatType>(elem))
    return arith::CmpFOp::create(b, l, F, x, y);
  return arith::CmpIOp::create(b, l, isUnsigned(elem) ? U : S, x, y);
}

/// Max/Min of any number of operands.
template <typename FOp, typename SOp, typename UOp>
static LogicalResult legalizeVariadic(OpBinder &binder,
                                      RewriterBase &rewriter) {
  FailureOr<SmallVector<Value>> in = rankedInputs(binder);
  if (failed(in) || in->empty())
    return failed(in) ? failure()
                      : (binder.emitError("expects operands"), failure());
  Type elem = cast<RankedTensorType>((*in)[0].getType()).getElementType();
  return elementwise(binder, rewriter, *in, elem,
                     [&](OpBuilder &b, Location l, ValueRange a, TypeRange) {
                       Value acc = a[0];
                       for (Value v : a.drop_front())
                         acc = arith3<FOp, SOp, UOp>(b, l, acc, v, elem);
                       return acc;
                     });
}

/// Pow: float or integer base and exponent (numpy semantics: the result has
/// the base's type).
static LogicalResult legalizePow(OpBinder &binder, RewriterBase &rewriter) {
  FailureOr<SmallVector<Value>> in = rankedInputs(binder);
  if (failed(in))
    return failure();
  Type base = cast<RankedTensorType>((*in)[0].getType()).getElementType();
  Type expo = cast<RankedTensorType>((*in)[1].getType()).getElementType();
  return elementwise(
      binder, rewriter, *in, base,
      [&](OpBuilder &b, Location l, ValueRange a, TypeRange) -> Value {
        Value x = a[0], y = a[1];
        if (auto fb = dyn_cast<FloatType>(base)) {
          if (isa<IntegerType>(expo))
            y = arith::SIToFPOp::create(b, l, fb, y);
          else if (expo != base)
            y = arith::TruncFOp::create(b, l, fb, y).getResult();
          return math::PowFOp::create(b, l, x, y);
        }
        if (auto fe = dyn_cast<FloatType>(expo)) {
          Value xf = arith::SIToFPOp::create(b, l, fe, x);
          Value r = math::PowFOp::create(b, l, xf, y);
          return arith::FPToSIOp::create(b, l, signless(base), r);
        }
        if (expo != base)
          y = arith::ExtSIOp::create(b, l, signless(base), y).getResult();
        return math::IPowIOp::create(b, l, x, y);
      });
}

/// Cast: between float, signed, unsigned and bool element types.
static LogicalResult legalizeCast(OpBinder &binder, RewriterBase &rewriter) {
  Value x = binder.rankedInput(0);
  RankedTensorType result = binder.resultType(0);
  if (!x || !result)
    return binder.unsupported("an unranked operand or result");
  Type from = cast<RankedTensorType>(x.getType()).getElementType();
  Type to = result.getElementType();
  if (!from.isIntOrFloat() || !to.isIntOrFloat())
    return binder.unsupported("a cast from or to a non-numeric type");
  return elementwise(
      binder, rewriter, {x}, to,
      [&](OpBuilder &b, Location l, ValueRange a, TypeRange) -> Value {
        Value v = a[0];
        Type toS = signless(to);
        if (from == to)
          return v;
        auto ff = dyn_cast<FloatType>(from);
        auto ft = dyn_cast<FloatType>(to);
        if (ff && ft)
          return ff.getWidth() < ft.getWidth()
                     ? arith::ExtFOp::create(b, l, ft, v).getResult()
                     : arith::TruncFOp::create(b, l, ft, v).getResult();
        if (ff) {
          if (to.isInteger(1))
            return arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNE, v,
                                         fconst(b, l, ff, 0.0));
          return isUnsigned(to)
                     ? arith::FPToUIOp::create(b, l, toS, v).getResult()
                     : arith::FPToSIOp::create(b, l, toS, v).getResult();
        }
        if (ft)
          return isUnsigned(from)
                     ? arith::UIToFPOp::create(b, l, ft, v).getResult()
                     : arith::SIToFPOp::create(b, l, ft, v).getResult();
        unsigned wf = from.getIntOrFloatBitWidth(),
                 wt = to.getIntOrFloatBitWidth();
        if (to.isInteger(1)) {
          Value zero = arith::ConstantOp::create(
              b, l, b.getIntegerAttr(signless(from), 0));
          return arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, v, zero);
        }
        if (wf < wt)
          return isUnsigned(from)
                     ? arith::ExtUIOp::create(b, l, toS, v).getResult()
                     : arith::ExtSIOp::create(b, l, toS, v).getResult();
        if (wf > wt)
          return arith::TruncIOp::create(b, l, toS, v);
        return v; // same width, different signedness: same bits
      });
}

/// Where(cond, x, y).
static LogicalResult legalizeWhere(OpBinder &binder, RewriterBase &rewriter) {
  FailureOr<SmallVector<Value>> in = rankedInputs(binder);
  if (failed(in))
    return failure();
  Type elem = cast<RankedTensorType>((*in)[1].getType()).getElementType();
  return elementwise(
      binder, rewriter, *in, elem,
      [&](OpBuilder &b, Location l, ValueRange a, TypeRange) {
        return arith::SelectOp::create(b, l, a[0], a[1], a[2]).getResult();
      });
}

/// Clip: bounds from inputs (opset 11+, optional) or attributes (opset 6).
static LogicalResult legalizeClip(OpBinder &binder, RewriterBase &rewriter) {
  Value x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked or missing operand");
  Type elem = cast<RankedTensorType>(x.getType()).getElementType();
  bool isFloat = isa<FloatType>(elem);
  SmallVector<Value> operands = {x};
  int lo = -1, hi = -1;
  if (binder.getOp().getOpset() >= 11) {
    if (Value m = binder.rankedInput(1)) {
      lo = operands.size();
      operands.push_back(m);
    }
    if (Value m = binder.rankedInput(2)) {
      hi = operands.size();
      operands.push_back(m);
    }
  }
  bool attrs = binder.getOp().getOpset() < 11;
  double amin = binder.getFloat("min", -std::numeric_limits<float>::max());
  double amax = binder.getFloat("max", std::numeric_limits<float>::max());
  return elementwise(
      binder, rewriter, operands, elem,
      [&](OpBuilder &b, Location l, ValueRange a, TypeRange) -> Value {
        Value v = a[0];
        auto mx = [&](Value p, Value q) -> Value {
          return isFloat ? arith::MaximumFOp::create(b, l, p, q).getResult()
                 : isUnsigned(elem)
                     ? arith::MaxUIOp::create(b, l, p, q).getResult()
                     : arith::MaxSIOp::create(b, l, p, q).getResult();
        };
        auto mn = [&](Value p, Value q) -> Value {
          return isFloat ? arith::MinimumFOp::create(b, l, p, q).getResult()
                 : isUnsigned(elem)
                     ? arith::MinUIOp::create(b, l, p, q).getResult()
                     : arith::MinSIOp::create(b, l, p, q).getResult();
        };
        if (lo >= 0)
          v = mx(v, a[lo]);
        else if (attrs && isFloat)
          v = mx(v, fconst(b, l, elem, amin));
        if (hi >= 0)
          v = mn(v, a[hi]);
        else if (attrs && isFloat)
          v = mn(v, fconst(b, l, elem, amax));
        return v;
      });
}

//===----------------------------------------------------------------------===//
// MatMul
//===----------------------------------------------------------------------===//

/// numpy.matmul of `a` and `bv` (the same float or signless integer element
/// type): 1-D operands are promoted (and the promoted dim dropped), batch
/// dims broadcast. One `linalg.generic` contraction whose float accumulation
/// may be reassociated (so that it vectorizes).
static FailureOr<Value> buildMatMul(OpBinder &binder, RewriterBase &rewriter,
                                    TypedValue<RankedTensorType> a,
                                    TypedValue<RankedTensorType> bv) {
  RankedTensorType aType = a.getType(), bType = bv.getType();
  Type elem = aType.getElementType();
  bool isFloat = isa<FloatType>(elem);
  if (elem != bType.getElementType() || !(isFloat || elem.isSignlessInteger()))
    return binder.unsupported("non-float or mixed element types");
  Location loc = binder.getLoc();
  int64_t ra = aType.getRank(), rb = bType.getRank();
  if (ra == 0 || rb == 0)
    return binder.emitError("MatMul operands must have rank >= 1"), failure();
  int64_t k1 = aType.getDimSize(ra - 1),
          k2 = bType.getDimSize(rb >= 2 ? rb - 2 : 0);
  if (!ShapedType::isDynamic(k1) && !ShapedType::isDynamic(k2) && k1 != k2)
    return binder.emitError("contraction dimensions differ (" + Twine(k1) +
                            " vs " + Twine(k2) + ")"),
           failure();

  // Batch dims of each operand (all but the last two, or none for 1-D).
  int64_t ba = std::max<int64_t>(ra - 2, 0), bb = std::max<int64_t>(rb - 2, 0);
  int64_t batch = std::max(ba, bb);
  bool hasM = ra >= 2, hasN = rb >= 2;

  // Output shape and dynamic sizes.
  SmallVector<int64_t> shape;
  SmallVector<Value> dynSizes;
  auto pushDim = [&](Value src, int64_t srcDim) {
    auto t = cast<RankedTensorType>(src.getType());
    shape.push_back(t.getDimSize(srcDim));
    if (t.isDynamicDim(srcDim))
      dynSizes.push_back(tensor::DimOp::create(rewriter, loc, src, srcDim));
  };
  for (int64_t i = 0; i < batch; ++i) {
    int64_t ia = i - (batch - ba), ib = i - (batch - bb);
    int64_t da = ia >= 0 ? aType.getDimSize(ia) : 1;
    int64_t db = ib >= 0 ? bType.getDimSize(ib) : 1;
    if (!ShapedType::isDynamic(da) && !ShapedType::isDynamic(db) && da != 1 &&
        db != 1 && da != db)
      return binder.emitError("batch dimensions do not broadcast"), failure();
    if (ia >= 0 && da != 1)
      pushDim(a, ia);
    else if (ib >= 0)
      pushDim(bv, ib);
    else
      shape.push_back(1);
  }
  if (hasM)
    pushDim(a, ra - 2);
  if (hasN)
    pushDim(bv, rb - 1);

  auto resultType = RankedTensorType::get(shape, elem);
  Value zero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elem));
  Value empty = tensor::EmptyOp::create(rewriter, loc, shape, elem, dynSizes);
  Value init = linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);

  // Loop dims: batch..., m?, n?, k.
  int64_t numLoops = batch + hasM + hasN + 1;
  int64_t mDim = batch, nDim = batch + hasM, kDim = numLoops - 1;
  MLIRContext *ctx = rewriter.getContext();
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  SmallVector<AffineExpr> aExprs, bExprs, cExprs;
  for (int64_t i = 0; i < ba; ++i) {
    int64_t loop = i + (batch - ba);
    bool bcast = aType.getDimSize(i) == 1 && shape[loop] != 1;
    aExprs.push_back(bcast ? getAffineConstantExpr(0, ctx) : d(loop));
  }
  for (int64_t i = 0; i < bb; ++i) {
    int64_t loop = i + (batch - bb);
    bool bcast = bType.getDimSize(i) == 1 && shape[loop] != 1;
    bExprs.push_back(bcast ? getAffineConstantExpr(0, ctx) : d(loop));
  }
  if (hasM)
    aExprs.push_back(d(mDim));
  aExprs.push_back(d(kDim));
  bExprs.push_back(d(kDim));
  if (hasN)
    bExprs.push_back(d(nDim));
  for (int64_t i = 0; i < kDim; ++i)
    cExprs.push_back(d(i));
  SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, aExprs, ctx),
                                 AffineMap::get(numLoops, 0, bExprs, ctx),
                                 AffineMap::get(numLoops, 0, cExprs, ctx)};
  SmallVector<utils::IteratorType> iterators(numLoops - 1,
                                             utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      rewriter, loc, resultType, ValueRange{a, bv}, ValueRange{init}, maps,
      iterators, [&](OpBuilder &b, Location l, ValueRange args) {
        Value sum;
        if (isFloat) {
          Value prod = arith::MulFOp::create(b, l, args[0], args[1], kContract);
          sum = arith::AddFOp::create(b, l, args[2], prod, kReassoc);
        } else {
          Value prod = arith::MulIOp::create(b, l, args[0], args[1]);
          sum = arith::AddIOp::create(b, l, args[2], prod);
        }
        linalg::YieldOp::create(b, l, sum);
      });
  return generic.getResult(0);
}

/// MatMul (floats; buildMatMul).
static LogicalResult legalizeMatMul(OpBinder &binder, RewriterBase &rewriter) {
  auto a = binder.rankedInput(0), bv = binder.rankedInput(1);
  if (!a || !bv)
    return binder.unsupported("an unranked or missing operand");
  if (!isa<FloatType>(a.getType().getElementType()))
    return binder.unsupported("non-float or mixed element types");
  FailureOr<Value> y = buildMatMul(binder, rewriter, a, bv);
  if (failed(y))
    return failure();
  binder.replace(rewriter, *y);
  return success();
}

//===----------------------------------------------------------------------===//
// Quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
// MatMulInteger, QLinearMatMul
//===----------------------------------------------------------------------===//

/// A scale or zero point (a scalar, or 1-D along `axis` of a rank-`rank`
/// tensor) reshaped to broadcast numpy-style against that tensor: [C] ->
/// [C, 1, ..., 1] with rank - axis dims.
static Value alongAxis(OpBuilder &b, Location loc, Value v, int64_t axis,
                       int64_t rank) {
  auto t = cast<RankedTensorType>(v.getType());
  if (t.getRank() != 1 || axis >= rank - 1)
    return v;
  SmallVector<int64_t> shape = {t.getDimSize(0)};
  shape.append(rank - 1 - axis, 1);
  SmallVector<ReassociationIndices> reassociation = {
      llvm::to_vector(llvm::seq<int64_t>(0, rank - axis))};
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, t.getElementType()), v,
      reassociation);
}

/// An integer (of ONNX type `elem`: unsigned or signed) or float scalar as
/// `to` (a float type).
static Value toFloat(OpBuilder &b, Location l, Value v, Type elem,
                     FloatType to) {
  if (auto f = dyn_cast<FloatType>(v.getType())) {
    if (f == to)
      return v;
    return f.getWidth() < to.getWidth()
               ? arith::ExtFOp::create(b, l, to, v).getResult()
               : arith::TruncFOp::create(b, l, to, v).getResult();
  }
  return isUnsigned(elem) ? arith::UIToFPOp::create(b, l, to, v).getResult()
                          : arith::SIToFPOp::create(b, l, to, v).getResult();
}

/// round-half-to-even(x), saturated to the range of 8-bit `elem` (unsigned
/// or signed) and converted to it.
static Value saturate8(OpBuilder &b, Location l, Value x, Type elem) {
  auto ft = cast<FloatType>(x.getType());
  bool u = isUnsigned(elem);
  Value r = math::RoundEvenOp::create(b, l, x);
  Value lo = arith::ConstantOp::create(b, l, b.getFloatAttr(ft, u ? 0 : -128));
  Value hi = arith::ConstantOp::create(b, l, b.getFloatAttr(ft, u ? 255 : 127));
  r = arith::MinimumFOp::create(b, l, arith::MaximumFOp::create(b, l, r, lo),
                                hi);
  Type i8 = b.getI8Type();
  return u ? arith::FPToUIOp::create(b, l, i8, r).getResult()
           : arith::FPToSIOp::create(b, l, i8, r).getResult();
}

/// True for 8-bit integer element types (uint8, int8).
static bool isInt8(Type t) {
  auto i = dyn_cast<IntegerType>(t);
  return i && i.getWidth() == 8;
}

/// The normalized `axis` of a per-axis scale (opset 13), or failure.
static FailureOr<int64_t> quantAxis(OpBinder &binder, int64_t rank,
                                    RankedTensorType scale) {
  int64_t axis = binder.getInt("axis", 1);
  if (axis < 0)
    axis += rank;
  if (scale.getRank() > 1 ||
      (scale.getRank() == 1 && scale.getDimSize(0) != 1 &&
       (axis < 0 || axis >= rank)))
    return binder.emitError("the scale must be a scalar or 1-D along an axis "
                            "in range"),
           failure();
  return axis;
}

/// The operands of QuantizeLinear/DequantizeLinear for `elementwise`:
/// {x, scale, zero point if any}, the scale and zero point shaped to
/// broadcast along the node's axis.
static FailureOr<SmallVector<Value>>
quantOperands(OpBinder &binder, RewriterBase &rewriter,
              TypedValue<RankedTensorType> x,
              TypedValue<RankedTensorType> scale, Value zero) {
  int64_t rank = x.getType().getRank();
  FailureOr<int64_t> axis = quantAxis(binder, rank, scale.getType());
  if (failed(axis))
    return failure();
  Location loc = binder.getLoc();
  SmallVector<Value> inputs = {x, alongAxis(rewriter, loc, scale, *axis, rank)};
  if (zero)
    inputs.push_back(alongAxis(rewriter, loc, zero, *axis, rank));
  return inputs;
}

/// QuantizeLinear (10, 13): y = saturate(round(x / scale) + zero_point), of
/// the zero point's type (uint8 without one); per tensor or per axis.
static LogicalResult legalizeQuantizeLinear(OpBinder &binder,
                                            RewriterBase &rewriter) {
  auto x = binder.rankedInput(0), scale = binder.rankedInput(1);
  Value zero = binder.getNumInputs() > 2 ? binder.input(2) : Value();
  if (!x || !scale || (zero && !isa<RankedTensorType>(zero.getType())))
    return binder.unsupported("an unranked or missing operand");
  MLIRContext *ctx = rewriter.getContext();
  Type out = zero ? cast<RankedTensorType>(zero.getType()).getElementType()
                  : IntegerType::get(ctx, 8, IntegerType::Unsigned);
  if (!isInt8(out))
    return binder.unsupported("quantizing to other than uint8 or int8");
  if (!isa<FloatType>(x.getType().getElementType()))
    return binder.unsupported("a non-float input");
  FailureOr<SmallVector<Value>> inputs =
      quantOperands(binder, rewriter, x, scale, zero);
  if (failed(inputs))
    return failure();
  return elementwise(
      binder, rewriter, *inputs, out,
      [&](OpBuilder &b, Location l, ValueRange args, TypeRange elems) {
        auto f32 = b.getF32Type();
        Value q =
            arith::DivFOp::create(b, l, toFloat(b, l, args[0], elems[0], f32),
                                  toFloat(b, l, args[1], elems[1], f32));
        // Rounding first, then the (integral) zero point: as ONNX defines.
        q = math::RoundEvenOp::create(b, l, q);
        if (args.size() > 2)
          q = arith::AddFOp::create(b, l, q,
                                    toFloat(b, l, args[2], elems[2], f32));
        return saturate8(b, l, q, out);
      });
}

/// DequantizeLinear (10, 13): y = (x - zero_point) * scale, per tensor or
/// per axis; x int8, uint8 or int32.
static LogicalResult legalizeDequantizeLinear(OpBinder &binder,
                                              RewriterBase &rewriter) {
  auto x = binder.rankedInput(0), scale = binder.rankedInput(1);
  Value zero = binder.getNumInputs() > 2 ? binder.input(2) : Value();
  if (!x || !scale || (zero && !isa<RankedTensorType>(zero.getType())))
    return binder.unsupported("an unranked or missing operand");
  Type xe = x.getType().getElementType();
  auto se = dyn_cast<FloatType>(scale.getType().getElementType());
  if (!isa<IntegerType>(xe) || !se)
    return binder.unsupported("a non-integer input or non-float scale");
  FailureOr<SmallVector<Value>> inputs =
      quantOperands(binder, rewriter, x, scale, zero);
  if (failed(inputs))
    return failure();
  return elementwise(
      binder, rewriter, *inputs, se,
      [&](OpBuilder &b, Location l, ValueRange args, TypeRange elems) {
        Value v = toFloat(b, l, args[0], elems[0], se);
        if (args.size() > 2)
          v = arith::SubFOp::create(b, l, v,
                                    toFloat(b, l, args[2], elems[2], se));
        return arith::MulFOp::create(b, l, v, args[1]).getResult();
      });
}

/// A 0-d tensor holding the scalar `v`.
static Value scalarTensor(OpBuilder &b, Location loc, Value v) {
  return tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({}, v.getType()), v);
}

/// DynamicQuantizeLinear (11): uint8 with scale and zero point from the
/// input's range widened to include 0: scale = (max - min) / 255,
/// zero = saturate(round(-min / scale)), y = saturate(round(x / scale) +
/// zero). An all-zero input (scale 0) gives zero point 0 and y = 0.
static LogicalResult legalizeDynamicQuantizeLinear(OpBinder &binder,
                                                   RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x || !x.getType().getElementType().isF32())
    return binder.unsupported("an input other than a ranked fp32 tensor");
  Location loc = binder.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  auto f32 = rewriter.getF32Type();
  int64_t rank = x.getType().getRank();
  // min(0, min x) and max(0, max x) in one pass.
  auto scalar = RankedTensorType::get({}, f32);
  Value zeroF =
      arith::ConstantOp::create(rewriter, loc, rewriter.getF32FloatAttr(0.0f));
  Value init = linalg::FillOp::create(
                   rewriter, loc, zeroF,
                   tensor::EmptyOp::create(rewriter, loc, scalar, ValueRange{})
                       .getResult())
                   .getResult(0);
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap none = AffineMap::get(rank, 0, ctx);
  auto range = linalg::GenericOp::create(
      rewriter, loc, TypeRange{scalar, scalar}, ValueRange{x},
      ValueRange{init, init}, ArrayRef<AffineMap>{id, none, none},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::reduction),
      [](OpBuilder &b, Location l, ValueRange args) {
        linalg::YieldOp::create(
            b, l,
            ValueRange{arith::MinimumFOp::create(b, l, args[1], args[0]),
                       arith::MaximumFOp::create(b, l, args[2], args[0])});
      });
  Value lo = tensor::ExtractOp::create(rewriter, loc, range.getResult(0));
  Value hi = tensor::ExtractOp::create(rewriter, loc, range.getResult(1));
  auto cst = [&](float v) -> Value {
    return arith::ConstantOp::create(rewriter, loc,
                                     rewriter.getF32FloatAttr(v));
  };
  Value scale = arith::DivFOp::create(
      rewriter, loc, arith::SubFOp::create(rewriter, loc, hi, lo), cst(255));
  Value isZero = arith::CmpFOp::create(rewriter, loc, arith::CmpFPredicate::OEQ,
                                       scale, zeroF);
  Value divisor = arith::SelectOp::create(rewriter, loc, isZero, cst(1), scale);
  // numpy's order: clip(0 - min / scale, 0, 255), then round.
  Value zp = arith::SubFOp::create(
      rewriter, loc, zeroF, arith::DivFOp::create(rewriter, loc, lo, divisor));
  zp = arith::MinimumFOp::create(
      rewriter, loc, arith::MaximumFOp::create(rewriter, loc, zp, zeroF),
      cst(255));
  zp = math::RoundEvenOp::create(rewriter, loc, zp);
  Type u8 = IntegerType::get(ctx, 8, IntegerType::Unsigned);
  FailureOr<Value> y = buildBroadcastElementwise(
      binder, rewriter,
      ValueRange{x, scalarTensor(rewriter, loc, divisor),
                 scalarTensor(rewriter, loc, zp)},
      rewriter.getI8Type(), [&](OpBuilder &b, Location l, ValueRange args) {
        Value q = math::RoundEvenOp::create(
            b, l, arith::DivFOp::create(b, l, args[0], args[1]));
        return saturate8(b, l, arith::AddFOp::create(b, l, q, args[2]), u8);
      });
  if (failed(y))
    return failure();
  Value zp8 = arith::FPToUIOp::create(rewriter, loc, rewriter.getI8Type(), zp);
  binder.replace(
      rewriter,
      {bitcastElements(rewriter, loc, *y, u8),
       scalarTensor(rewriter, loc, scale),
       bitcastElements(rewriter, loc, scalarTensor(rewriter, loc, zp8), u8)});
  return success();
}

/// `v - zero` as int32 for an 8-bit integer tensor `v` and its zero point
/// (absent, a scalar, or 1-D broadcasting along `zeroAxis` of v).
static FailureOr<TypedValue<RankedTensorType>>
minusZeroPoint(OpBinder &binder, RewriterBase &rewriter, Value v, Value zero,
               int64_t zeroAxis) {
  Location loc = binder.getLoc();
  auto vt = cast<RankedTensorType>(v.getType());
  Type ve = vt.getElementType();
  SmallVector<Value> inputs = {bitcastElements(rewriter, loc, v, signless(ve))};
  Type ze;
  if (zero) {
    ze = cast<RankedTensorType>(zero.getType()).getElementType();
    inputs.push_back(bitcastElements(
        rewriter, loc, alongAxis(rewriter, loc, zero, zeroAxis, vt.getRank()),
        signless(ze)));
  }
  Type i32 = rewriter.getI32Type();
  FailureOr<Value> r = buildBroadcastElementwise(
      binder, rewriter, inputs, i32,
      [&](OpBuilder &b, Location l, ValueRange args) {
        auto widen = [&](Value x, Type elem) -> Value {
          return isUnsigned(elem)
                     ? arith::ExtUIOp::create(b, l, i32, x).getResult()
                     : arith::ExtSIOp::create(b, l, i32, x).getResult();
        };
        Value x = widen(args[0], ve);
        if (args.size() > 1)
          x = arith::SubIOp::create(b, l, x, widen(args[1], ze));
        return x;
      });
  if (failed(r))
    return failure();
  return cast<TypedValue<RankedTensorType>>(*r);
}

/// (A - a_zero) @ (B - b_zero) in int32 for 8-bit A and B; a's zero point is
/// per tensor or per row (1-D [M]), b's per tensor or per column ([N]).
static FailureOr<Value> integerMatMul(OpBinder &binder, RewriterBase &rewriter,
                                      Value a, Value aZero, Value b,
                                      Value bZero) {
  auto at = dyn_cast<RankedTensorType>(a.getType());
  auto bt = dyn_cast<RankedTensorType>(b.getType());
  if (!at || !bt || !isInt8(at.getElementType()) ||
      !isInt8(bt.getElementType()) || at.getRank() < 2 || bt.getRank() < 1)
    return binder.unsupported("operands other than 8-bit integer matrices");
  for (Value z : {aZero, bZero})
    if (z && (!isa<RankedTensorType>(z.getType()) ||
              cast<RankedTensorType>(z.getType()).getRank() > 1))
      return binder.unsupported("zero points other than scalars or 1-D");
  auto a32 = minusZeroPoint(binder, rewriter, a, aZero, at.getRank() - 2);
  auto b32 = minusZeroPoint(binder, rewriter, b, bZero, bt.getRank() - 1);
  if (failed(a32) || failed(b32))
    return failure();
  return buildMatMul(binder, rewriter, *a32, *b32);
}

/// MatMulInteger (10): int32 (A - a_zero_point) @ (B - b_zero_point).
static LogicalResult legalizeMatMulInteger(OpBinder &binder,
                                           RewriterBase &rewriter) {
  auto opt = [&](unsigned i) {
    return i < binder.getNumInputs() ? binder.input(i) : Value();
  };
  FailureOr<Value> y = integerMatMul(binder, rewriter, binder.input(0), opt(2),
                                     binder.input(1), opt(3));
  if (failed(y))
    return failure();
  binder.replace(rewriter, *y);
  return success();
}

/// QLinearMatMul (10): the int32 product of the zero-point-shifted operands
/// requantized: y = saturate(round(acc * (a_scale * b_scale / y_scale)) +
/// y_zero_point), in double as the ONNX reference (numpy) computes it; per
/// tensor scales.
static LogicalResult legalizeQLinearMatMul(OpBinder &binder,
                                           RewriterBase &rewriter) {
  if (binder.getNumInputs() != 8)
    return binder.emitError("QLinearMatMul takes 8 inputs"), failure();
  for (unsigned i : {1u, 4u, 6u}) {
    auto t = dyn_cast<RankedTensorType>(binder.input(i).getType());
    if (!t || !t.getElementType().isF32() || t.getNumElements() != 1)
      return binder.unsupported("scales other than one fp32 value");
  }
  auto yz = dyn_cast<RankedTensorType>(binder.input(7).getType());
  if (!yz || !isInt8(yz.getElementType()) || yz.getNumElements() != 1)
    return binder.unsupported("y_zero_point other than one 8-bit value");
  FailureOr<Value> acc =
      integerMatMul(binder, rewriter, binder.input(0), binder.input(2),
                    binder.input(3), binder.input(5));
  if (failed(acc))
    return failure();
  Location loc = binder.getLoc();
  auto first = [&](unsigned i) -> Value {
    Value v = binder.input(i);
    auto t = cast<RankedTensorType>(v.getType());
    v = bitcastElements(rewriter, loc, v, signless(t.getElementType()));
    SmallVector<Value> idx(t.getRank(),
                           arith::ConstantIndexOp::create(rewriter, loc, 0));
    return tensor::ExtractOp::create(rewriter, loc, v, idx);
  };
  Value multiplier = arith::DivFOp::create(
      rewriter, loc, arith::MulFOp::create(rewriter, loc, first(1), first(4)),
      first(6));
  Type out = yz.getElementType();
  auto f64 = rewriter.getF64Type();
  Value m64 = arith::ExtFOp::create(rewriter, loc, f64, multiplier);
  Value zp64 = toFloat(rewriter, loc, first(7), out, f64);
  FailureOr<Value> y = buildBroadcastElementwise(
      binder, rewriter,
      ValueRange{*acc, scalarTensor(rewriter, loc, m64),
                 scalarTensor(rewriter, loc, zp64)},
      rewriter.getI8Type(), [&](OpBuilder &b, Location l, ValueRange args) {
        Value v = arith::SIToFPOp::create(b, l, f64, args[0]);
        v = math::RoundEvenOp::create(b, l,
                                      arith::MulFOp::create(b, l, v, args[1]));
        return saturate8(b, l, arith::AddFOp::create(b, l, v, args[2]), out);
      });
  if (failed(y))
    return failure();
  binder.replace(rewriter, bitcastElements(rewriter, loc, *y, out));
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void loom::populateOnnxMathHandlers(OnnxHandlerRegistry &registry) {
  using namespace arith;
  // Opset 7 introduced numpy broadcasting; older forms used `broadcast`/`axis`
  // attributes and are not supported.
  auto binary = [&](StringRef name, BinaryFn fn, bool boolResult = false,
                    int64_t since = 7) {
    registry.add(name, since,
                 [fn, boolResult](OpBinder &binder, RewriterBase &rewriter) {
                   return legalizeBinary(binder, rewriter, fn, boolResult);
                 });
  };
  binary("Add", arith3<AddFOp, AddIOp, AddIOp>);
  binary("Sub", arith3<SubFOp, SubIOp, SubIOp>);
  binary("Mul", arith3<MulFOp, MulIOp, MulIOp>);
  binary("Div", arith3<DivFOp, DivSIOp, DivUIOp>);
  binary("And", arith3<AndIOp, AndIOp, AndIOp>, false);
  binary("Or", arith3<OrIOp, OrIOp, OrIOp>, false);
  binary("Xor", arith3<XOrIOp, XOrIOp, XOrIOp>, false);
  binary("Equal",
         compare<CmpFPredicate::OEQ, CmpIPredicate::eq, CmpIPredicate::eq>,
         true);
  binary("Less",
         compare<CmpFPredicate::OLT, CmpIPredicate::slt, CmpIPredicate::ult>,
         true);
  binary("Greater",
         compare<CmpFPredicate::OGT, CmpIPredicate::sgt, CmpIPredicate::ugt>,
         true);
  binary("LessOrEqual",
         compare<CmpFPredicate::OLE, CmpIPredicate::sle, CmpIPredicate::ule>,
         true, 12);
  binary("GreaterOrEqual",
         compare<CmpFPredicate::OGE, CmpIPredicate::sge, CmpIPredicate::uge>,
         true, 12);
  registry.add("Max", 8, legalizeVariadic<MaximumFOp, MaxSIOp, MaxUIOp>);
  registry.add("Min", 8, legalizeVariadic<MinimumFOp, MinSIOp, MinUIOp>);
  registry.add("Pow", 7, legalizePow);
  registry.add("Cast", 6, legalizeCast);
  registry.add("Where", 9, legalizeWhere);
  registry.add("Clip", 6, legalizeClip);

  // Unary float ops; `make` reads attributes once per node.
  auto unary = [&](StringRef name, int64_t since,
                   std::function<UnaryFloat(OpBinder &)> make) {
    registry.add(name, since, unaryFloat(std::move(make)));
  };
  auto simple = [&](StringRef name, int64_t since, UnaryFloat fn) {
    unary(name, since, [fn](OpBinder &) { return fn; });
  };
  simple("Erf", 9, [](OpBuilder &b, Location l, Value x) -> Value {
    return math::ErfOp::create(b, l, x);
  });
  simple("Exp", 6, [](OpBuilder &b, Location l, Value x) -> Value {
    return math::ExpOp::create(b, l, x);
  });
  simple("Log", 6, [](OpBuilder &b, Location l, Value x) -> Value {
    return math::LogOp::create(b, l, x);
  });
  // Round half to even, as ONNX (numpy.round) defines it.
  simple("Round", 11, [](OpBuilder &b, Location l, Value x) -> Value {
    return math::RoundEvenOp::create(b, l, x);
  });
  simple("Floor", 6, [](OpBuilder &b, Location l, Value x) -> Value {
    return math::FloorOp::create(b, l, x);
  });
  simple("Ceil", 6, [](OpBuilder &b, Location l, Value x) -> Value {
    return math::CeilOp::create(b, l, x);
  });
  simple("Sqrt", 6, [](OpBuilder &b, Location l, Value x) -> Value {
    return math::SqrtOp::create(b, l, x);
  });
  simple("Tanh", 6, [](OpBuilder &b, Location l, Value x) -> Value {
    return math::TanhOp::create(b, l, x);
  });
  simple("Reciprocal", 6, [](OpBuilder &b, Location l, Value x) -> Value {
    return DivFOp::create(b, l, fconst(b, l, x.getType(), 1.0), x);
  });
  simple("Sigmoid", 6, [](OpBuilder &b, Location l, Value x) -> Value {
    Value e = math::ExpOp::create(b, l, NegFOp::create(b, l, x));
    Value one = fconst(b, l, x.getType(), 1.0);
    return DivFOp::create(b, l, one, AddFOp::create(b, l, one, e));
  });
  simple("Softplus", 1, [](OpBuilder &b, Location l, Value x) -> Value {
    return math::Log1pOp::create(b, l, math::ExpOp::create(b, l, x));
  });
  simple("HardSwish", 14, [](OpBuilder &b, Location l, Value x) -> Value {
    Type t = x.getType();
    Value y =
        AddFOp::create(b, l, MulFOp::create(b, l, x, fconst(b, l, t, 1.0 / 6)),
                       fconst(b, l, t, 0.5));
    y = MinimumFOp::create(b, l,
                           MaximumFOp::create(b, l, y, fconst(b, l, t, 0.0)),
                           fconst(b, l, t, 1.0));
    return MulFOp::create(b, l, x, y);
  });
  unary("LeakyRelu", 6, [](OpBinder &binder) -> UnaryFloat {
    double alpha = binder.getFloat("alpha", 0.01);
    return [alpha](OpBuilder &b, Location l, Value x) -> Value {
      Type t = x.getType();
      Value neg =
          CmpFOp::create(b, l, CmpFPredicate::OLT, x, fconst(b, l, t, 0.0));
      return SelectOp::create(
          b, l, neg, MulFOp::create(b, l, x, fconst(b, l, t, alpha)), x);
    };
  });
  unary("Elu", 6, [](OpBinder &binder) -> UnaryFloat {
    double alpha = binder.getFloat("alpha", 1.0);
    return [alpha](OpBuilder &b, Location l, Value x) -> Value {
      Type t = x.getType();
      Value neg =
          CmpFOp::create(b, l, CmpFPredicate::OLT, x, fconst(b, l, t, 0.0));
      Value em1 = math::ExpM1Op::create(b, l, x);
      return SelectOp::create(
          b, l, neg, MulFOp::create(b, l, em1, fconst(b, l, t, alpha)), x);
    };
  });
  unary("HardSigmoid", 6, [](OpBinder &binder) -> UnaryFloat {
    double alpha = binder.getFloat("alpha", 0.2),
           beta = binder.getFloat("beta", 0.5);
    return [alpha, beta](OpBuilder &b, Location l, Value x) -> Value {
      Type t = x.getType();
      Value y =
          AddFOp::create(b, l, MulFOp::create(b, l, x, fconst(b, l, t, alpha)),
                         fconst(b, l, t, beta));
      return MinimumFOp::create(
          b, l, MaximumFOp::create(b, l, y, fconst(b, l, t, 0.0)),
          fconst(b, l, t, 1.0));
    };
  });

  // Unary ops on floats and integers.
  auto numeric = [&](StringRef name, int64_t since,
                     Value (*fn)(OpBuilder &, Location, Value, Type)) {
    registry.add(
        name, since,
        [fn](OpBinder &binder, RewriterBase &rewriter) -> LogicalResult {
          Value x = binder.rankedInput(0);
          if (!x)
            return binder.unsupported("an unranked or missing operand");
          Type elem = cast<RankedTensorType>(x.getType()).getElementType();
          return elementwise(binder, rewriter, {x}, elem,
                             [&](OpBuilder &b, Location l, ValueRange a,
                                 TypeRange) { return fn(b, l, a[0], elem); });
        });
  };
  numeric("Neg", 6, [](OpBuilder &b, Location l, Value x, Type t) -> Value {
    if (isa<FloatType>(t))
      return NegFOp::create(b, l, x);
    Value zero = ConstantOp::create(b, l, b.getIntegerAttr(x.getType(), 0));
    return SubIOp::create(b, l, zero, x);
  });
  numeric("Abs", 6, [](OpBuilder &b, Location l, Value x, Type t) -> Value {
    if (isa<FloatType>(t))
      return math::AbsFOp::create(b, l, x);
    return isUnsigned(t) ? x : math::AbsIOp::create(b, l, x).getResult();
  });
  numeric("Relu", 6, [](OpBuilder &b, Location l, Value x, Type t) -> Value {
    if (isa<FloatType>(t))
      return MaximumFOp::create(b, l, x, fconst(b, l, t, 0.0));
    Value zero = ConstantOp::create(b, l, b.getIntegerAttr(x.getType(), 0));
    return MaxSIOp::create(b, l, x, zero);
  });
  numeric("Not", 1, [](OpBuilder &b, Location l, Value x, Type) -> Value {
    Value one = ConstantOp::create(b, l, b.getIntegerAttr(x.getType(), 1));
    return XOrIOp::create(b, l, x, one);
  });

  registry.add("MatMul", 1, legalizeMatMul);
  registry.add("QuantizeLinear", 10, legalizeQuantizeLinear);
  registry.add("QuantizeLinear", 13, legalizeQuantizeLinear);
  registry.add("DequantizeLinear", 10, legalizeDequantizeLinear);
  registry.add("DequantizeLinear", 13, legalizeDequantizeLinear);
  registry.add("DynamicQuantizeLinear", 11, legalizeDynamicQuantizeLinear);
  registry.add("MatMulInteger", 10, legalizeMatMulInteger);
  registry.add("QLinearMatMul", 10, legalizeQLinearMatMul);
}
