//===- Math.cpp - ONNX elementwise math and MatMul handlers ---------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

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

/// numpy.matmul: 1-D operands are promoted (and the promoted dim dropped),
/// batch dims broadcast. One `linalg.generic` contraction whose accumulation
/// may be reassociated (so that it vectorizes).
static LogicalResult legalizeMatMul(OpBinder &binder, RewriterBase &rewriter) {
  auto a = binder.rankedInput(0), bv = binder.rankedInput(1);
  if (!a || !bv)
    return binder.unsupported("an unranked or missing operand");
  RankedTensorType aType = a.getType(), bType = bv.getType();
  Type elem = aType.getElementType();
  if (elem != bType.getElementType() || !isa<FloatType>(elem))
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
        Value prod = arith::MulFOp::create(b, l, args[0], args[1], kContract);
        Value sum = arith::AddFOp::create(b, l, args[2], prod, kReassoc);
        linalg::YieldOp::create(b, l, sum);
      });
  binder.replace(rewriter, generic.getResult(0));
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
}
