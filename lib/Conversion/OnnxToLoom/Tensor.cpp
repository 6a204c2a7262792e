//===- Tensor.cpp - ONNX tensor manipulation handlers ---------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

using namespace mlir;
using namespace loom;

//===----------------------------------------------------------------------===//
// Constant
//===----------------------------------------------------------------------===//

static LogicalResult legalizeConstant(OpBinder &binder,
                                      RewriterBase &rewriter) {
  onnxir::NodeOp op = binder.getOp();
  Builder &b = rewriter;
  TypedAttr value;
  if (auto t = dyn_cast_or_null<ElementsAttr>(op.getOnnxAttr("value")))
    value = t;
  else if (auto f = dyn_cast_or_null<FloatAttr>(op.getOnnxAttr("value_float")))
    value = DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()),
                                   ArrayRef<float>{
                                       static_cast<float>(f.getValueAsDouble())});
  else if (auto i = dyn_cast_or_null<IntegerAttr>(op.getOnnxAttr("value_int")))
    value = DenseElementsAttr::get(RankedTensorType::get({}, b.getI64Type()),
                                   ArrayRef<int64_t>{i.getInt()});
  else if (auto fs = dyn_cast_or_null<DenseF32ArrayAttr>(
               op.getOnnxAttr("value_floats")))
    value = DenseElementsAttr::get(
        RankedTensorType::get({fs.size()}, b.getF32Type()), fs.asArrayRef());
  else if (auto is = dyn_cast_or_null<DenseI64ArrayAttr>(
               op.getOnnxAttr("value_ints")))
    value = DenseElementsAttr::get(
        RankedTensorType::get({is.size()}, b.getI64Type()), is.asArrayRef());
  else
    return binder.unsupported("a Constant without a numeric value attribute");
  auto shaped = cast<ShapedType>(value.getType());
  if (!shaped.getElementType().isSignlessIntOrFloat())
    return binder.unsupported("a Constant of element type other than "
                              "signless integer or float");
  binder.replace(rewriter,
                 arith::ConstantOp::create(rewriter, binder.getLoc(), value)
                     .getResult());
  return success();
}

//===----------------------------------------------------------------------===//
// Transpose
//===----------------------------------------------------------------------===//

static LogicalResult legalizeTranspose(OpBinder &binder,
                                       RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked or missing operand");
  int64_t rank = x.getType().getRank();
  SmallVector<int64_t> perm;
  if (std::optional<SmallVector<int64_t>> p = binder.getInts("perm")) {
    perm = *p;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  }
  SmallVector<bool> seen(rank, false);
  if (static_cast<int64_t>(perm.size()) != rank)
    return binder.emitError("perm has " + Twine(perm.size()) +
                            " entries for rank " + Twine(rank)),
           failure();
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p])
      return binder.emitError("perm is not a permutation"), failure();
    seen[p] = true;
  }
  Location loc = binder.getLoc();
  SmallVector<OpFoldResult> inSizes = getSizes(rewriter, loc, x), outSizes;
  for (int64_t p : perm)
    outSizes.push_back(inSizes[p]);
  Value empty = tensor::EmptyOp::create(rewriter, loc, outSizes,
                                        x.getType().getElementType());
  auto transpose = linalg::TransposeOp::create(rewriter, loc, x, empty, perm);
  binder.replace(rewriter, transpose.getResult()[0]);
  return success();
}

//===----------------------------------------------------------------------===//
// Reshape
//===----------------------------------------------------------------------===//

/// Reshape-5/13/14 with a compile-time shape: `0` copies the input dim (unless
/// `allowzero`), `-1` is inferred from the element count.
static LogicalResult legalizeReshape(OpBinder &binder,
                                     RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked or missing operand");
  std::optional<SmallVector<int64_t>> shape = binder.constantInts(1);
  if (!shape)
    return binder.unsupported("a shape computed at run time");
  bool allowZero = binder.getInt("allowzero", 0) != 0;
  RankedTensorType inType = x.getType();
  Location loc = binder.getLoc();

  SmallVector<int64_t> outShape;
  int64_t inferred = -1;
  for (auto [i, s] : llvm::enumerate(*shape)) {
    if (s == -1) {
      if (inferred >= 0)
        return binder.emitError("shape has more than one -1"), failure();
      inferred = i;
      outShape.push_back(ShapedType::kDynamic);
    } else if (s == 0 && !allowZero) {
      if (static_cast<int64_t>(i) >= inType.getRank())
        return binder.emitError("shape copies dim " + Twine(i) +
                                " that the input does not have"),
               failure();
      outShape.push_back(inType.getDimSize(i));
    } else if (s < 0) {
      return binder.emitError("shape has invalid entry " + Twine(s)),
             failure();
    } else {
      outShape.push_back(s);
    }
  }
  // Infer the -1 entry statically when the input is static.
  if (inferred >= 0 && inType.hasStaticShape()) {
    int64_t known = 1;
    for (auto [i, d] : llvm::enumerate(outShape))
      if (static_cast<int64_t>(i) != inferred)
        known *= d;
    if (known == 0 || inType.getNumElements() % known != 0)
      return binder.emitError("cannot reshape " +
                              Twine(inType.getNumElements()) +
                              " elements to the requested shape"),
             failure();
    outShape[inferred] = inType.getNumElements() / known;
  }
  if (inType.hasStaticShape() && !llvm::is_contained(outShape, ShapedType::kDynamic)) {
    int64_t total = 1;
    for (int64_t d : outShape)
      total *= d;
    if (total != inType.getNumElements())
      return binder.emitError("cannot reshape " +
                              Twine(inType.getNumElements()) +
                              " elements to " + Twine(total)),
             failure();
  }

  // Shape operand: a constant when the result is static, else index values.
  auto outType = RankedTensorType::get(outShape, inType.getElementType());
  if (outType.hasStaticShape()) {
    auto shapeType = RankedTensorType::get({outType.getRank()},
                                           rewriter.getIndexType());
    SmallVector<APInt> values;
    for (int64_t d : outShape)
      values.push_back(APInt(64, d));
    Value shapeTensor = arith::ConstantOp::create(
        rewriter, loc, DenseIntElementsAttr::get(shapeType, values));
    binder.replace(rewriter, tensor::ReshapeOp::create(rewriter, loc, outType,
                                                       x, shapeTensor)
                                 .getResult());
    return success();
  }
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  SmallVector<Value> dims;
  for (auto [i, s] : llvm::enumerate(*shape)) {
    if (!ShapedType::isDynamic(outShape[i]))
      dims.push_back(idx(outShape[i]));
    else if (s == 0)
      dims.push_back(tensor::DimOp::create(rewriter, loc, x, i));
    else
      dims.push_back(nullptr); // the -1 entry, filled below
  }
  if (inferred >= 0 && !dims[inferred]) {
    Value total = idx(1);
    for (int64_t i = 0; i < inType.getRank(); ++i)
      total = arith::MulIOp::create(
          rewriter, loc, total, tensor::DimOp::create(rewriter, loc, x, i));
    Value known = idx(1);
    for (auto [i, d] : llvm::enumerate(dims))
      if (static_cast<int64_t>(i) != inferred)
        known = arith::MulIOp::create(rewriter, loc, known, d);
    dims[inferred] = arith::DivUIOp::create(rewriter, loc, total, known);
  }
  Value shapeTensor = tensor::FromElementsOp::create(rewriter, loc, dims);
  Value result =
      tensor::ReshapeOp::create(rewriter, loc, outType, x, shapeTensor);
  binder.replace(rewriter, result);
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void loom::populateOnnxTensorHandlers(OnnxHandlerRegistry &registry) {
  registry.add("Constant", 1, legalizeConstant);
  registry.add("Transpose", 1, legalizeTranspose);
  registry.add("Reshape", 5, legalizeReshape);
}
