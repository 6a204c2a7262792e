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

/// Scalar builders for an arithmetic op on floats and on signless integers.
struct ArithKind {
  using Builder = Value (*)(OpBuilder &, Location, Value, Value);
  Builder onFloat;
  Builder onInt;
};

/// Legalizes a broadcasting binary arithmetic op.
static LogicalResult legalizeBinary(OpBinder &binder, RewriterBase &rewriter,
                                    ArithKind kind) {
  Value lhs = binder.rankedInput(0), rhs = binder.rankedInput(1);
  if (!lhs || !rhs)
    return binder.unsupported("an unranked or missing operand");
  Type elem = cast<RankedTensorType>(lhs.getType()).getElementType();
  if (elem != cast<RankedTensorType>(rhs.getType()).getElementType())
    return binder.emitError("operands have different element types"),
           failure();
  bool isFloat = isa<FloatType>(elem);
  if (!isFloat && !elem.isSignlessInteger())
    return binder.unsupported("element type " + [&] {
      std::string s;
      llvm::raw_string_ostream os(s);
      os << elem;
      return s;
    }());
  FailureOr<Value> result = buildBroadcastElementwise(
      binder, rewriter, {lhs, rhs}, elem,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        return isFloat ? kind.onFloat(b, loc, args[0], args[1])
                       : kind.onInt(b, loc, args[0], args[1]);
      });
  if (failed(result))
    return failure();
  binder.replace(rewriter, *result);
  return success();
}

/// Legalizes a unary float op.
static LogicalResult
legalizeUnaryFloat(OpBinder &binder, RewriterBase &rewriter,
                   function_ref<Value(OpBuilder &, Location, Value)> build) {
  Value x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked or missing operand");
  Type elem = cast<RankedTensorType>(x.getType()).getElementType();
  if (!isa<FloatType>(elem))
    return binder.unsupported("a non-float operand");
  FailureOr<Value> result = buildBroadcastElementwise(
      binder, rewriter, {x}, elem,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        return build(b, loc, args[0]);
      });
  if (failed(result))
    return failure();
  binder.replace(rewriter, *result);
  return success();
}


//===----------------------------------------------------------------------===//
// MatMul
//===----------------------------------------------------------------------===//

/// numpy.matmul: 1-D operands are promoted (and the promoted dim dropped),
/// batch dims broadcast. 2-D x 2-D becomes `linalg.matmul`; everything else a
/// `linalg.generic` contraction.
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
  int64_t k1 = aType.getDimSize(ra - 1), k2 = bType.getDimSize(rb >= 2 ? rb - 2 : 0);
  if (!ShapedType::isDynamic(k1) && !ShapedType::isDynamic(k2) && k1 != k2)
    return binder.emitError("contraction dimensions differ (" +
                            Twine(k1) + " vs " + Twine(k2) + ")"),
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
  Value zero = arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elem));
  Value empty = tensor::EmptyOp::create(rewriter, loc, shape, elem, dynSizes);
  Value init = linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);

  if (ra == 2 && rb == 2) {
    Value mm = linalg::MatmulOp::create(rewriter, loc, resultType,
                                        ValueRange{a, bv}, ValueRange{init})
                   .getResult(0);
    binder.replace(rewriter, mm);
    return success();
  }

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
        Value prod = arith::MulFOp::create(b, l, args[0], args[1]);
        Value sum = arith::AddFOp::create(b, l, args[2], prod);
        linalg::YieldOp::create(b, l, sum);
      });
  binder.replace(rewriter, generic.getResult(0));
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void loom::populateOnnxMathHandlers(OnnxHandlerRegistry &registry) {
  // Opset 7 introduced numpy broadcasting; older forms used `broadcast`/`axis`
  // attributes and are not supported.
  auto binary = [&](StringRef name, ArithKind kind) {
    registry.add(name, 7, [kind](OpBinder &binder, RewriterBase &rewriter) {
      return legalizeBinary(binder, rewriter, kind);
    });
  };
  binary("Add", {[](OpBuilder &b, Location l, Value x, Value y) -> Value {
                   return arith::AddFOp::create(b, l, x, y);
                 },
                 [](OpBuilder &b, Location l, Value x, Value y) -> Value {
                   return arith::AddIOp::create(b, l, x, y);
                 }});
  binary("Sub", {[](OpBuilder &b, Location l, Value x, Value y) -> Value {
                   return arith::SubFOp::create(b, l, x, y);
                 },
                 [](OpBuilder &b, Location l, Value x, Value y) -> Value {
                   return arith::SubIOp::create(b, l, x, y);
                 }});
  binary("Mul", {[](OpBuilder &b, Location l, Value x, Value y) -> Value {
                   return arith::MulFOp::create(b, l, x, y);
                 },
                 [](OpBuilder &b, Location l, Value x, Value y) -> Value {
                   return arith::MulIOp::create(b, l, x, y);
                 }});
  binary("Div", {[](OpBuilder &b, Location l, Value x, Value y) -> Value {
                   return arith::DivFOp::create(b, l, x, y);
                 },
                 [](OpBuilder &b, Location l, Value x, Value y) -> Value {
                   return arith::DivSIOp::create(b, l, x, y);
                 }});
  registry.add("Erf", 9, [](OpBinder &binder, RewriterBase &rewriter) {
    return legalizeUnaryFloat(binder, rewriter,
                              [](OpBuilder &b, Location l, Value x) -> Value {
                                return math::ErfOp::create(b, l, x);
                              });
  });
  registry.add("MatMul", 1, legalizeMatMul);
}
