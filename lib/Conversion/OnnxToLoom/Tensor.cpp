//===- Tensor.cpp - ONNX tensor manipulation handlers ---------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

using namespace mlir;
using namespace loom;

/// tensor<N x index>: the type of a shape operand built from N values (a
/// shape of rank 0 has no element to infer the type from).
/// The entries of 1-D run-time `axes` (static length) as index values,
/// negative ones counted from `rank`.
static SmallVector<Value> readRuntimeAxes(OpBuilder &b, Location loc,
                                          TypedValue<RankedTensorType> axes,
                                          int64_t rank) {
  SmallVector<Value> out;
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value r = arith::ConstantIndexOp::create(b, loc, rank);
  for (int64_t k = 0; k < axes.getType().getDimSize(0); ++k) {
    Value e = tensor::ExtractOp::create(
        b, loc, axes, ValueRange{arith::ConstantIndexOp::create(b, loc, k)});
    Value a = arith::IndexCastOp::create(b, loc, b.getIndexType(), e);
    Value neg =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, a, zero);
    out.push_back(arith::SelectOp::create(
        b, loc, neg, arith::AddIOp::create(b, loc, a, r), a));
  }
  return out;
}

static RankedTensorType indexVectorType(OpBuilder &b, size_t n) {
  return RankedTensorType::get({static_cast<int64_t>(n)}, b.getIndexType());
}

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
    value = DenseElementsAttr::get(
        RankedTensorType::get({}, b.getF32Type()),
        ArrayRef<float>{static_cast<float>(f.getValueAsDouble())});
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
  // Unsigned (and signed) integer constants keep their ONNX type, as model
  // inputs do: their consumers' handlers read it (e.g. MatMulNBits' uint8
  // weights) and loom-erase-signedness makes what remains signless.
  auto shaped = cast<ShapedType>(value.getType());
  if (!shaped.getElementType().isIntOrFloat())
    return binder.unsupported("a Constant of element type other than "
                              "integer or float");
  binder.replace(
      rewriter,
      arith::ConstantOp::create(rewriter, binder.getLoc(), value).getResult());
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

/// Reshape to a shape tensor known only at run time (its length must be
/// static): 0 entries copy the input dim (unless `allowZero`), a -1 entry is
/// inferred from the element count, all with index arithmetic.
static LogicalResult legalizeRuntimeReshape(OpBinder &binder,
                                            RewriterBase &rewriter,
                                            TypedValue<RankedTensorType> x,
                                            bool allowZero) {
  auto shape = binder.rankedInput(1);
  if (!shape || shape.getType().getRank() != 1 ||
      shape.getType().isDynamicDim(0))
    return binder.unsupported("a run-time shape of dynamic length");
  Location loc = binder.getLoc();
  int64_t n = shape.getType().getDimSize(0);
  RankedTensorType inType = x.getType();
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  Value total = idx(1);
  for (int64_t i = 0; i < inType.getRank(); ++i)
    total = arith::MulIOp::create(rewriter, loc, total,
                                  tensor::DimOp::create(rewriter, loc, x, i));
  SmallVector<Value> dims, isInferred;
  Value known = idx(1);
  for (int64_t i = 0; i < n; ++i) {
    Value e =
        tensor::ExtractOp::create(rewriter, loc, shape, ValueRange{idx(i)});
    Value d =
        arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), e);
    if (!allowZero && i < inType.getRank()) {
      Value zero = arith::CmpIOp::create(rewriter, loc,
                                         arith::CmpIPredicate::eq, d, idx(0));
      d = arith::SelectOp::create(
          rewriter, loc, zero, tensor::DimOp::create(rewriter, loc, x, i), d);
    }
    Value inferred = arith::CmpIOp::create(
        rewriter, loc, arith::CmpIPredicate::eq, d, idx(-1));
    known = arith::MulIOp::create(
        rewriter, loc, known,
        arith::SelectOp::create(rewriter, loc, inferred, idx(1), d));
    dims.push_back(d);
    isInferred.push_back(inferred);
  }
  // A zero-sized dim makes the division meaningless, never a trap.
  known = arith::MaxUIOp::create(
      rewriter, loc, known, arith::ConstantIndexOp::create(rewriter, loc, 1));
  Value rest = arith::DivUIOp::create(rewriter, loc, total, known);
  for (int64_t i = 0; i < n; ++i)
    dims[i] =
        arith::SelectOp::create(rewriter, loc, isInferred[i], rest, dims[i]);
  Value shapeTensor = tensor::FromElementsOp::create(
      rewriter, loc, indexVectorType(rewriter, dims.size()), dims);
  RankedTensorType outType = binder.resultType(0);
  if (!outType || outType.getRank() != n)
    outType = RankedTensorType::get(
        SmallVector<int64_t>(n, ShapedType::kDynamic), inType.getElementType());
  binder.replace(rewriter, tensor::ReshapeOp::create(rewriter, loc, outType, x,
                                                     shapeTensor)
                               .getResult());
  return success();
}

/// Reshape-5/13/14 with a compile-time shape: `0` copies the input dim (unless
/// `allowzero`), `-1` is inferred from the element count.
static LogicalResult legalizeReshape(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked or missing operand");
  std::optional<SmallVector<int64_t>> shape = binder.constantInts(1);
  bool allowZero = binder.getInt("allowzero", 0) != 0;
  if (!shape)
    return legalizeRuntimeReshape(binder, rewriter, x, allowZero);
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
      return binder.emitError("shape has invalid entry " + Twine(s)), failure();
    } else {
      outShape.push_back(s);
    }
  }
  // Infer the -1 entry statically when the input is static.
  if (inferred >= 0 && inType.hasStaticShape()) {
    int64_t known = 1;
    bool overflow = false;
    for (auto [i, d] : llvm::enumerate(outShape))
      if (static_cast<int64_t>(i) != inferred)
        overflow |= __builtin_mul_overflow(known, d, &known);
    if (overflow || known == 0 || inType.getNumElements() % known != 0)
      return binder.emitError("cannot reshape " +
                              Twine(inType.getNumElements()) +
                              " elements to the requested shape"),
             failure();
    outShape[inferred] = inType.getNumElements() / known;
  }
  if (inType.hasStaticShape() &&
      !llvm::is_contained(outShape, ShapedType::kDynamic)) {
    int64_t total = 1;
    bool overflow = false;
    for (int64_t d : outShape)
      overflow |= __builtin_mul_overflow(total, d, &total);
    if (overflow)
      return binder.emitError("the requested shape's element count "
                              "overflows 64 bits"),
             failure();
    if (total != inType.getNumElements())
      return binder.emitError("cannot reshape " +
                              Twine(inType.getNumElements()) + " elements to " +
                              Twine(total)),
             failure();
  }

  // Shape operand: a constant when the result is static, else index values.
  auto outType = RankedTensorType::get(outShape, inType.getElementType());
  if (outType.hasStaticShape()) {
    auto shapeType =
        RankedTensorType::get({outType.getRank()}, rewriter.getIndexType());
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
      total = arith::MulIOp::create(rewriter, loc, total,
                                    tensor::DimOp::create(rewriter, loc, x, i));
    Value known = idx(1);
    for (auto [i, d] : llvm::enumerate(dims))
      if (static_cast<int64_t>(i) != inferred)
        known = arith::MulIOp::create(rewriter, loc, known, d);
    // A zero-sized dim makes the division meaningless, never a trap.
    known = arith::MaxUIOp::create(rewriter, loc, known, idx(1));
    dims[inferred] = arith::DivUIOp::create(rewriter, loc, total, known);
  }
  Value shapeTensor = tensor::FromElementsOp::create(
      rewriter, loc, indexVectorType(rewriter, dims.size()), dims);
  Value result =
      tensor::ReshapeOp::create(rewriter, loc, outType, x, shapeTensor);
  binder.replace(rewriter, result);
  return success();
}

//===----------------------------------------------------------------------===//
// Shape manipulation helpers
//===----------------------------------------------------------------------===//

/// Reshapes `x` to `sizes` (static sizes as attributes) with tensor.reshape.
static Value reshapeTo(OpBuilder &b, Location loc, Value x,
                       ArrayRef<OpFoldResult> sizes) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape;
  SmallVector<Value> dims;
  for (OpFoldResult s : sizes) {
    if (auto attr = dyn_cast<Attribute>(s)) {
      int64_t v = cast<IntegerAttr>(attr).getInt();
      shape.push_back(v);
      dims.push_back(arith::ConstantIndexOp::create(b, loc, v));
    } else {
      shape.push_back(ShapedType::kDynamic);
      dims.push_back(cast<Value>(s));
    }
  }
  auto outType = RankedTensorType::get(shape, type.getElementType());
  Value shapeTensor;
  if (outType.hasStaticShape()) {
    SmallVector<APInt> values;
    for (int64_t d : shape)
      values.push_back(APInt(64, d));
    shapeTensor = arith::ConstantOp::create(
        b, loc,
        DenseIntElementsAttr::get(
            RankedTensorType::get({(int64_t)shape.size()}, b.getIndexType()),
            values));
  } else {
    shapeTensor = tensor::FromElementsOp::create(
        b, loc, indexVectorType(b, dims.size()), dims);
  }
  return tensor::ReshapeOp::create(b, loc, outType, x, shapeTensor);
}

/// Reads the axes of Unsqueeze/Squeeze/Reduce*: the attribute before
/// `inputSince`, a constant input from then on.
static std::optional<SmallVector<int64_t>>
readAxes(OpBinder &binder, int64_t inputSince, unsigned inputIndex) {
  if (int64_t(binder.getOp().getOpset()) < inputSince)
    return binder.getInts("axes");
  if (!binder.input(inputIndex))
    return std::nullopt;
  return binder.constantInts(inputIndex);
}

/// Identity and Dropout (inference: the data passes through; a requested mask
/// is all true).
static LogicalResult legalizeIdentity(OpBinder &binder,
                                      RewriterBase &rewriter) {
  Value x = binder.input(0);
  if (!x)
    return binder.unsupported("a missing input");
  onnxir::NodeOp op = binder.getOp();
  // Dropout-12+: a training_mode input that is not constant false would need
  // random masks; inference-only compilation refuses it.
  if (op.getOpType() == "Dropout" && binder.input(2)) {
    std::optional<SmallVector<int64_t>> training = binder.constantInts(2);
    if (!training || llvm::any_of(*training, [](int64_t v) { return v != 0; }))
      return binder.unsupported("Dropout in training mode");
  }
  SmallVector<Value> results = {x};
  if (op->getNumResults() > 1 && !op->getResult(1).use_empty()) {
    RankedTensorType maskType = binder.resultType(1);
    if (!maskType || !maskType.hasStaticShape())
      return binder.unsupported("a Dropout mask of dynamic shape");
    results.push_back(arith::ConstantOp::create(
        rewriter, binder.getLoc(),
        DenseElementsAttr::get(maskType, rewriter.getBoolAttr(true))));
  }
  binder.replace(rewriter, results);
  return success();
}

/// Unsqueeze-1/11 (axes attribute) and -13 (axes input).
/// Unsqueeze with axes known only at run time (an axes tensor of static
/// length): output dim p is 1 when some normalized axis equals p, else input
/// dim `p - #{axes < p}`.
static LogicalResult legalizeRuntimeUnsqueeze(OpBinder &binder,
                                              RewriterBase &rewriter,
                                              TypedValue<RankedTensorType> x) {
  auto axesT = binder.rankedInput(1);
  if (!axesT || axesT.getType().getRank() != 1 ||
      axesT.getType().isDynamicDim(0))
    return binder.unsupported("axes of dynamic length");
  Location loc = binder.getLoc();
  int64_t n = axesT.getType().getDimSize(0);
  int64_t outRank = x.getType().getRank() + n;
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  SmallVector<Value> axes = readRuntimeAxes(rewriter, loc, axesT, outRank);
  SmallVector<OpFoldResult> sizes;
  for (int64_t p = 0; p < outRank; ++p) {
    Value inserted = arith::ConstantIntOp::create(rewriter, loc, 0, 1);
    Value before = idx(0);
    for (Value a : axes) {
      inserted = arith::OrIOp::create(
          rewriter, loc, inserted,
          arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq, a,
                                idx(p)));
      Value lt = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt,
                                       a, idx(p));
      before = arith::AddIOp::create(
          rewriter, loc, before,
          arith::SelectOp::create(rewriter, loc, lt, idx(1), idx(0)));
    }
    Value src = arith::SubIOp::create(rewriter, loc, idx(p), before);
    // Clamp the source dim into range; it is only read when not inserted.
    src = arith::MinSIOp::create(
        rewriter, loc, arith::MaxSIOp::create(rewriter, loc, src, idx(0)),
        idx(std::max<int64_t>(x.getType().getRank() - 1, 0)));
    Value dim = x.getType().getRank()
                    ? tensor::DimOp::create(rewriter, loc, x, src).getResult()
                    : idx(1);
    sizes.push_back(
        arith::SelectOp::create(rewriter, loc, inserted, idx(1), dim)
            .getResult());
  }
  binder.replace(rewriter, reshapeTo(rewriter, loc, x, sizes));
  return success();
}

static LogicalResult legalizeUnsqueeze(OpBinder &binder,
                                       RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  std::optional<SmallVector<int64_t>> axes = readAxes(binder, 13, 1);
  if (x && !axes && binder.getOp().getOpset() >= 13 && binder.input(1))
    return legalizeRuntimeUnsqueeze(binder, rewriter, x);
  if (!x || !axes)
    return binder.unsupported("an unranked input or non-constant axes");
  int64_t outRank = x.getType().getRank() + axes->size();
  SmallVector<bool> inserted(outRank, false);
  for (int64_t a : *axes) {
    std::optional<int64_t> n = normalizeAxis(a, outRank);
    if (!n || inserted[*n])
      return binder.emitError("invalid axes"), failure();
    inserted[*n] = true;
  }
  Location loc = binder.getLoc();
  SmallVector<OpFoldResult> in = getSizes(rewriter, loc, x), out;
  unsigned next = 0;
  for (int64_t i = 0; i < outRank; ++i)
    out.push_back(inserted[i] ? OpFoldResult(rewriter.getIndexAttr(1))
                              : in[next++]);
  binder.replace(rewriter, reshapeTo(rewriter, loc, x, out));
  return success();
}

/// Squeeze: the given axes, or every static size-1 dim.
static LogicalResult legalizeSqueeze(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked input");
  int64_t rank = x.getType().getRank();
  SmallVector<bool> drop(rank, false);
  std::optional<SmallVector<int64_t>> axes = readAxes(binder, 13, 1);
  bool haveAxes = binder.getOp().getOpset() < 13 ? binder.hasAttr("axes")
                                                 : (bool)binder.input(1);
  if (haveAxes && !axes) {
    // Axes known at run time (static count n): output dim q is the input dim
    // d that is kept and has q kept dims before it.
    auto axesT = binder.rankedInput(1);
    if (!axesT || axesT.getType().getRank() != 1 ||
        axesT.getType().isDynamicDim(0))
      return binder.unsupported("axes of dynamic length");
    Location loc = binder.getLoc();
    int64_t n = axesT.getType().getDimSize(0);
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    SmallVector<Value> axesV = readRuntimeAxes(rewriter, loc, axesT, rank);
    SmallVector<Value> kept, keptBefore;
    Value count = idx(0);
    for (int64_t d = 0; d < rank; ++d) {
      Value squeezed = arith::ConstantIntOp::create(rewriter, loc, 0, 1);
      for (Value a : axesV)
        squeezed = arith::OrIOp::create(
            rewriter, loc, squeezed,
            arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq, a,
                                  idx(d)));
      Value keep = arith::XOrIOp::create(
          rewriter, loc, squeezed,
          arith::ConstantIntOp::create(rewriter, loc, 1, 1));
      kept.push_back(keep);
      keptBefore.push_back(count);
      count = arith::AddIOp::create(
          rewriter, loc, count,
          arith::SelectOp::create(rewriter, loc, keep, idx(1), idx(0)));
    }
    SmallVector<OpFoldResult> out;
    for (int64_t q = 0; q < rank - n; ++q) {
      Value size = idx(1);
      for (int64_t d = 0; d < rank; ++d) {
        Value here = arith::AndIOp::create(
            rewriter, loc, kept[d],
            arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq,
                                  keptBefore[d], idx(q)));
        size = arith::SelectOp::create(
            rewriter, loc, here, tensor::DimOp::create(rewriter, loc, x, d),
            size);
      }
      out.push_back(size);
    }
    binder.replace(rewriter, reshapeTo(rewriter, loc, x, out));
    return success();
  }
  if (haveAxes) {
    for (int64_t a : *axes) {
      std::optional<int64_t> n = normalizeAxis(a, rank);
      if (!n)
        return binder.emitError("invalid axes"), failure();
      drop[*n] = true;
    }
  } else {
    for (int64_t i = 0; i < rank; ++i)
      drop[i] = x.getType().getDimSize(i) == 1;
  }
  Location loc = binder.getLoc();
  SmallVector<OpFoldResult> in = getSizes(rewriter, loc, x), out;
  for (int64_t i = 0; i < rank; ++i)
    if (!drop[i])
      out.push_back(in[i]);
  binder.replace(rewriter, reshapeTo(rewriter, loc, x, out));
  return success();
}

/// Multiplies sizes (folding static ones).
static OpFoldResult product(OpBuilder &b, Location loc,
                            ArrayRef<OpFoldResult> sizes) {
  int64_t stat = 1;
  Value dyn;
  for (OpFoldResult s : sizes) {
    if (auto a = dyn_cast<Attribute>(s)) {
      stat *= cast<IntegerAttr>(a).getInt();
      continue;
    }
    dyn = dyn ? arith::MulIOp::create(b, loc, dyn, cast<Value>(s)).getResult()
              : cast<Value>(s);
  }
  if (!dyn)
    return b.getIndexAttr(stat);
  if (stat != 1)
    dyn = arith::MulIOp::create(b, loc, dyn,
                                arith::ConstantIndexOp::create(b, loc, stat));
  return dyn;
}

/// Flatten to 2-D at `axis`.
static LogicalResult legalizeFlatten(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked input");
  int64_t rank = x.getType().getRank();
  int64_t axis = binder.getInt("axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return binder.emitError("axis is out of range"), failure();
  Location loc = binder.getLoc();
  SmallVector<OpFoldResult> in = getSizes(rewriter, loc, x);
  SmallVector<OpFoldResult> out = {
      product(rewriter, loc, ArrayRef<OpFoldResult>(in).take_front(axis)),
      product(rewriter, loc, ArrayRef<OpFoldResult>(in).drop_front(axis))};
  binder.replace(rewriter, reshapeTo(rewriter, loc, x, out));
  return success();
}

/// Concat along `axis` with tensor.insert_slice into one tensor.empty.
static LogicalResult legalizeConcat(OpBinder &binder, RewriterBase &rewriter) {
  SmallVector<TypedValue<RankedTensorType>> inputs;
  for (unsigned i = 0; i < binder.getNumInputs(); ++i) {
    auto v = binder.rankedInput(i);
    if (!v)
      return binder.unsupported("an unranked input");
    inputs.push_back(v);
  }
  if (inputs.empty())
    return binder.emitError("expects inputs"), failure();
  int64_t rank = inputs[0].getType().getRank();
  std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", 0), rank);
  if (!axis)
    return binder.emitError("axis is out of range"), failure();
  Location loc = binder.getLoc();
  SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, inputs[0]);
  SmallVector<OpFoldResult> along;
  for (auto v : inputs)
    along.push_back(getSizes(rewriter, loc, v)[*axis]);
  // Sum along the axis.
  OpFoldResult total = rewriter.getIndexAttr(0);
  SmallVector<OpFoldResult> offsets;
  for (OpFoldResult s : along) {
    offsets.push_back(total);
    auto ta = dyn_cast<Attribute>(total), sa = dyn_cast<Attribute>(s);
    if (ta && sa)
      total = rewriter.getIndexAttr(cast<IntegerAttr>(ta).getInt() +
                                    cast<IntegerAttr>(sa).getInt());
    else
      total = arith::AddIOp::create(
                  rewriter, loc,
                  getValueOrCreateConstantIndexOp(rewriter, loc, total),
                  getValueOrCreateConstantIndexOp(rewriter, loc, s))
                  .getResult();
  }
  sizes[*axis] = total;
  Value result = tensor::EmptyOp::create(rewriter, loc, sizes,
                                         inputs[0].getType().getElementType());
  for (auto [v, offset] : llvm::zip(inputs, offsets)) {
    SmallVector<OpFoldResult> offs(rank, rewriter.getIndexAttr(0));
    offs[*axis] = offset;
    SmallVector<OpFoldResult> strides(rank, rewriter.getIndexAttr(1));
    result = tensor::InsertSliceOp::create(rewriter, loc, v, result, offs,
                                           getSizes(rewriter, loc, v), strides);
  }
  binder.replace(rewriter, result);
  return success();
}

/// Shape (with start/end from opset 15) and Size, as int64 tensors.
static LogicalResult legalizeShape(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked input");
  auto [start, end] = shapeRange(binder, x.getType().getRank());
  Location loc = binder.getLoc();
  SmallVector<Value> dims;
  for (int64_t i = start; i < end; ++i) {
    Value d = tensor::DimOp::create(rewriter, loc, x, i);
    dims.push_back(
        arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(), d));
  }
  Value result;
  if (dims.empty())
    result = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(
            RankedTensorType::get({0}, rewriter.getI64Type()),
            ArrayRef<int64_t>{}));
  else
    result = tensor::FromElementsOp::create(rewriter, loc, dims);
  binder.replace(rewriter, result);
  return success();
}

static LogicalResult legalizeSize(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked input");
  Location loc = binder.getLoc();
  Value n = getValueOrCreateConstantIndexOp(
      rewriter, loc, product(rewriter, loc, getSizes(rewriter, loc, x)));
  Value i64 =
      arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(), n);
  Value result = tensor::FromElementsOp::create(
      rewriter, loc, RankedTensorType::get({}, rewriter.getI64Type()), i64);
  binder.replace(rewriter, result);
  return success();
}

/// Sizes from a 1-D int64 shape tensor: constants where it is constant,
/// tensor.extract otherwise (its length must be static).
static std::optional<SmallVector<OpFoldResult>>
sizesFromShapeTensor(OpBinder &binder, OpBuilder &b, unsigned index) {
  if (std::optional<SmallVector<int64_t>> c = binder.constantInts(index)) {
    SmallVector<OpFoldResult> sizes;
    for (int64_t v : *c)
      sizes.push_back(b.getIndexAttr(v));
    return sizes;
  }
  auto shape = binder.rankedInput(index);
  if (!shape || shape.getType().getRank() != 1 ||
      shape.getType().isDynamicDim(0))
    return std::nullopt;
  Location loc = binder.getLoc();
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < shape.getType().getDimSize(0); ++i) {
    Value idx = arith::ConstantIndexOp::create(b, loc, i);
    Value e = tensor::ExtractOp::create(b, loc, shape, idx);
    sizes.push_back(
        arith::IndexCastOp::create(b, loc, b.getIndexType(), e).getResult());
  }
  return sizes;
}

/// ConstantOfShape: a tensor of the given shape filled with `value`.
static LogicalResult legalizeConstantOfShape(OpBinder &binder,
                                             RewriterBase &rewriter) {
  std::optional<SmallVector<OpFoldResult>> sizes =
      sizesFromShapeTensor(binder, rewriter, 0);
  if (!sizes)
    return binder.unsupported("a shape of dynamic length");
  TypedAttr fill = rewriter.getF32FloatAttr(0.0f);
  if (auto v = dyn_cast_or_null<DenseElementsAttr>(
          binder.getOp().getOnnxAttr("value"))) {
    if (!v.getElementType().isSignlessIntOrFloat())
      return binder.unsupported("a value of this element type");
    fill = cast<TypedAttr>(*v.value_begin<Attribute>());
  }
  Location loc = binder.getLoc();
  Value empty = tensor::EmptyOp::create(rewriter, loc, *sizes, fill.getType());
  Value cst = arith::ConstantOp::create(rewriter, loc, fill);
  binder.replace(
      rewriter, linalg::FillOp::create(rewriter, loc, cst, empty).getResult(0));
  return success();
}

/// Expand: broadcast to a compile-time or run-time shape.
static LogicalResult legalizeExpand(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  std::optional<SmallVector<OpFoldResult>> sizes =
      sizesFromShapeTensor(binder, rewriter, 1);
  if (!x || !sizes)
    return binder.unsupported("an unranked input or a shape of dynamic length");
  Location loc = binder.getLoc();
  // Target operand: an empty tensor whose static 1s broadcast against x.
  Value target = tensor::EmptyOp::create(rewriter, loc, *sizes,
                                         x.getType().getElementType());
  FailureOr<Value> result = buildBroadcastElementwise(
      binder, rewriter, {x, target}, x.getType().getElementType(),
      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  if (failed(result))
    return failure();
  binder.replace(rewriter, *result);
  return success();
}

/// Wraps a possibly negative index into [0, size).
Value loom::buildReadAt(
    OpBuilder &b, Location loc, Value empty, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, Value source,
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>
        coords) {
  auto type = cast<RankedTensorType>(empty.getType());
  int64_t rank = type.getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, type, inputs, ValueRange{empty}, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               SmallVector<Value> at = coords(nb, l, a.drop_back());
               linalg::YieldOp::create(
                   nb, l,
                   tensor::ExtractOp::create(nb, l, source, at).getResult());
             })
      .getResult(0);
}

void loom::addIndexRangeCheck(OpBinder &binder, OpBuilder &b, Value indices,
                              Value size, const Twine &what) {
  if (!isa<func::FuncOp>(binder.getOp()->getParentOp()))
    return;
  Location loc = binder.getLoc();
  auto type = cast<RankedTensorType>(indices.getType());
  int64_t rank = type.getRank();
  Value falseV = arith::ConstantIntOp::create(b, loc, 0, 1);
  Value init =
      linalg::FillOp::create(
          b, loc, falseV,
          tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, b.getI1Type())
              .getResult())
          .getResult(0);
  Value negSize = arith::SubIOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, 0), size);
  MLIRContext *ctx = b.getContext();
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{indices}, ValueRange{init},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank),
                             AffineMap::get(rank, 0, {}, ctx)},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::reduction),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value i = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
        Value low =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, i, negSize);
        Value high =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, i, size);
        Value bad = arith::OrIOp::create(nb, l, low, high);
        linalg::YieldOp::create(
            nb, l, arith::OrIOp::create(nb, l, a[1], bad).getResult());
      });
  std::string message = (binder.getOp().getOpType() + " at node '" +
                         binder.nodeName() + "': " + what)
                            .str();
  RuntimeCheckOp::create(b, loc, generic.getResult(0),
                         b.getStringAttr(message));
}

Value loom::wrapIndex(OpBuilder &b, Location loc, Value idx, Value size) {
  Value i = arith::IndexCastOp::create(b, loc, b.getIndexType(), idx);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, i, zero);
  Value wrapped = arith::AddIOp::create(b, loc, i, size);
  i = arith::SelectOp::create(b, loc, neg, wrapped, i);
  // Out-of-range indices are clamped: never a read or write outside the
  // tensor (an error status for them is the robustness issue's job).
  Value last = arith::SubIOp::create(b, loc, size,
                                     arith::ConstantIndexOp::create(b, loc, 1));
  return arith::MaxSIOp::create(b, loc, arith::MinSIOp::create(b, loc, i, last),
                                zero);
}

/// Gather along `axis`: out[a..., i..., b...] = data[a..., idx[i...], b...].
static LogicalResult legalizeGather(OpBinder &binder, RewriterBase &rewriter) {
  auto data = binder.rankedInput(0), indices = binder.rankedInput(1);
  if (!data || !indices)
    return binder.unsupported("unranked operands");
  int64_t r = data.getType().getRank(), q = indices.getType().getRank();
  std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", 0), r);
  if (!axis)
    return binder.emitError("axis is out of range"), failure();
  // Constant indices must be in range: a model that reads outside its data
  // is rejected, not clamped.
  int64_t axisDim = data.getType().getDimSize(*axis);
  if (DenseIntElementsAttr c = getConstantInts(indices);
      c && !ShapedType::isDynamic(axisDim))
    for (const APInt &v : c.getValues<APInt>()) {
      int64_t i = v.getSExtValue();
      if (i < -axisDim || i >= axisDim)
        return binder.emitError("index " + Twine(i) +
                                " is out of range for axis " + Twine(*axis) +
                                " of size " + Twine(axisDim)),
               failure();
    }
  Location loc = binder.getLoc();
  Value axisSize = tensor::DimOp::create(rewriter, loc, data, *axis);
  if (!getConstantInts(indices))
    addIndexRangeCheck(binder, rewriter, indices, axisSize,
                       "an index is out of range for axis " + Twine(*axis));
  SmallVector<OpFoldResult> ds = getSizes(rewriter, loc, data),
                            is = getSizes(rewriter, loc, indices), out;
  out.append(ds.begin(), ds.begin() + *axis);
  out.append(is.begin(), is.end());
  out.append(ds.begin() + *axis + 1, ds.end());
  int64_t outRank = out.size();
  Value empty = tensor::EmptyOp::create(rewriter, loc, out,
                                        data.getType().getElementType());
  MLIRContext *ctx = rewriter.getContext();
  SmallVector<AffineExpr> idxExprs;
  for (int64_t i = 0; i < q; ++i)
    idxExprs.push_back(getAffineDimExpr(*axis + i, ctx));
  Value result =
      buildReadAt(rewriter, loc, empty, ValueRange{indices},
                  {AffineMap::get(outRank, 0, idxExprs, ctx)}, data,
                  [&](OpBuilder &b, Location l, ValueRange a) {
                    SmallVector<Value> coords;
                    for (int64_t i = 0; i < *axis; ++i)
                      coords.push_back(linalg::IndexOp::create(b, l, i));
                    coords.push_back(wrapIndex(b, l, a[0], axisSize));
                    for (int64_t i = *axis + q; i < outRank; ++i)
                      coords.push_back(linalg::IndexOp::create(b, l, i));
                    return coords;
                  });
  binder.replace(rewriter, result);
  return success();
}

/// GatherElements: out[i...] = data[i... with idx[i...] at axis].
static LogicalResult legalizeGatherElements(OpBinder &binder,
                                            RewriterBase &rewriter) {
  auto data = binder.rankedInput(0), indices = binder.rankedInput(1);
  if (!data || !indices)
    return binder.unsupported("unranked operands");
  int64_t r = data.getType().getRank();
  std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", 0), r);
  if (!axis || indices.getType().getRank() != r)
    return binder.emitError("axis or index rank is invalid"), failure();
  Location loc = binder.getLoc();
  Value empty =
      tensor::EmptyOp::create(rewriter, loc, getSizes(rewriter, loc, indices),
                              data.getType().getElementType());
  Value axisSize = tensor::DimOp::create(rewriter, loc, data, *axis);
  if (!getConstantInts(indices))
    addIndexRangeCheck(binder, rewriter, indices, axisSize,
                       "an index is out of range for axis " + Twine(*axis));
  Value result = buildReadAt(
      rewriter, loc, empty, ValueRange{indices},
      {rewriter.getMultiDimIdentityMap(r)}, data,
      [&](OpBuilder &b, Location l, ValueRange a) {
        SmallVector<Value> coords;
        for (int64_t i = 0; i < r; ++i)
          coords.push_back(i == *axis
                               ? wrapIndex(b, l, a[0], axisSize)
                               : linalg::IndexOp::create(b, l, i).getResult());
        return coords;
      });
  binder.replace(rewriter, result);
  return success();
}

/// Slice (attributes before opset 10, inputs from then on). Axes and steps
/// must be constants; starts and ends may be computed at run time. Bounds are
/// clamped as ONNX specifies, for either step sign.
static LogicalResult legalizeSlice(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked input");
  RankedTensorType type = x.getType();
  int64_t rank = type.getRank();
  Location loc = binder.getLoc();
  bool attrs = binder.getOp().getOpset() < 10;
  std::optional<SmallVector<int64_t>> axes, steps, cStarts, cEnds;
  int64_t count;
  if (attrs) {
    cStarts = binder.getInts("starts");
    cEnds = binder.getInts("ends");
    axes = binder.getInts("axes");
    if (!cStarts || !cEnds)
      return binder.unsupported("missing starts or ends");
    count = cStarts->size();
  } else {
    auto st = binder.rankedInput(1);
    if (!st || st.getType().getRank() != 1 || st.getType().isDynamicDim(0))
      return binder.unsupported("starts of dynamic length");
    count = st.getType().getDimSize(0);
    cStarts = binder.constantInts(1);
    cEnds = binder.constantInts(2);
    axes = binder.input(3) ? binder.constantInts(3) : std::nullopt;
    steps = binder.input(4) ? binder.constantInts(4) : std::nullopt;
  }
  // Axes without an input count 0, 1, ...; steps without one are 1.
  bool runtimeAxes = !axes && !attrs && binder.input(3);
  bool runtimeSteps = !steps && !attrs && binder.input(4);
  if (!axes && !runtimeAxes) {
    axes = SmallVector<int64_t>();
    for (int64_t i = 0; i < count; ++i)
      axes->push_back(i);
  }
  if ((axes && (int64_t)axes->size() != count) ||
      (steps && (int64_t)steps->size() != count))
    return binder.emitError("starts, ends, axes and steps differ in length"),
           failure();
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  // Element k of a constant list or of 1-D input `input`, as an index
  // clamped to the i32 range so that adding a dim cannot overflow.
  auto element = [&](const std::optional<SmallVector<int64_t>> &c,
                     unsigned input, int64_t k) -> Value {
    if (c)
      return idx(std::clamp<int64_t>((*c)[k], INT32_MIN, INT32_MAX));
    Value e = tensor::ExtractOp::create(rewriter, loc, binder.input(input),
                                        ValueRange{idx(k)});
    Value i64 =
        e.getType().isInteger(64)
            ? e
            : arith::ExtSIOp::create(rewriter, loc, rewriter.getI64Type(), e)
                  .getResult();
    i64 = arith::MaxSIOp::create(
        rewriter, loc, i64,
        arith::ConstantOp::create(rewriter, loc,
                                  rewriter.getI64IntegerAttr(INT32_MIN)));
    i64 = arith::MinSIOp::create(
        rewriter, loc, i64,
        arith::ConstantOp::create(rewriter, loc,
                                  rewriter.getI64IntegerAttr(INT32_MAX)));
    return arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(),
                                      i64);
  };
  auto clamp = [&](Value v, Value lo, Value hi) -> Value {
    return arith::MinSIOp::create(
        rewriter, loc, arith::MaxSIOp::create(rewriter, loc, v, lo), hi);
  };
  auto select = [&](Value c, Value a, Value b) -> Value {
    return arith::SelectOp::create(rewriter, loc, c, a, b);
  };
  auto cmp = [&](arith::CmpIPredicate p, Value a, Value b) -> Value {
    return arith::CmpIOp::create(rewriter, loc, p, a, b);
  };
  // The first index and the count of a slice of a dim of size `dim`.
  auto forward = [&](Value s, Value e, Value dim, Value st) {
    s = clamp(s, idx(0), dim);
    e = clamp(e, idx(0), dim);
    Value n = arith::CeilDivSIOp::create(
        rewriter, loc, arith::SubIOp::create(rewriter, loc, e, s), st);
    return std::pair{
        s, arith::MaxSIOp::create(rewriter, loc, n, idx(0)).getResult()};
  };
  auto backward = [&](Value s, Value e, Value dim, Value st) {
    Value dm1 = arith::SubIOp::create(rewriter, loc, dim, idx(1));
    s = clamp(s, idx(0), dm1);
    e = clamp(e, idx(-1), dm1);
    Value neg = arith::SubIOp::create(rewriter, loc, idx(0), st);
    Value n = arith::CeilDivSIOp::create(
        rewriter, loc, arith::SubIOp::create(rewriter, loc, s, e), neg);
    return std::pair{
        s, arith::MaxSIOp::create(rewriter, loc, n, idx(0)).getResult()};
  };
  // Sizes stay static for the dims no entry slices: elementwise consumers
  // broadcast on static 1s.
  SmallVector<Value> begin(rank, idx(0)), step(rank, idx(1));
  SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, x);
  for (int64_t k = 0; k < count; ++k) {
    std::optional<int64_t> a;
    Value axisValue;
    if (axes) {
      a = normalizeAxis((*axes)[k], rank);
      if (!a)
        return binder.emitError("axes are out of range"), failure();
    } else {
      Value v = element(std::nullopt, 3, k);
      axisValue = select(cmp(arith::CmpIPredicate::slt, v, idx(0)),
                         arith::AddIOp::create(rewriter, loc, v, idx(rank)), v);
    }
    std::optional<int64_t> cst;
    Value st;
    if (runtimeSteps) {
      st = element(std::nullopt, 4, k);
      // A zero step (invalid ONNX) reads as 1 rather than dividing by 0.
      st = select(cmp(arith::CmpIPredicate::eq, st, idx(0)), idx(1), st);
    } else {
      cst = steps ? (*steps)[k] : 1;
      if (*cst == 0)
        return binder.emitError("steps must not be 0"), failure();
      st = idx(*cst);
    }
    for (int64_t i = 0; i < rank; ++i) {
      if (a && *a != i)
        continue;
      Value dim = tensor::DimOp::create(rewriter, loc, x, i);
      auto wrap = [&](Value v) -> Value {
        return select(cmp(arith::CmpIPredicate::slt, v, idx(0)),
                      arith::AddIOp::create(rewriter, loc, v, dim), v);
      };
      Value s0 = wrap(element(cStarts, 1, k)), e0 = wrap(element(cEnds, 2, k));
      Value s, n;
      if (cst) {
        std::tie(s, n) =
            *cst > 0 ? forward(s0, e0, dim, st) : backward(s0, e0, dim, st);
      } else {
        auto [fs, fn] = forward(s0, e0, dim, st);
        auto [bs, bn] = backward(s0, e0, dim, st);
        Value positive = cmp(arith::CmpIPredicate::sgt, st, idx(0));
        s = select(positive, fs, bs);
        n = select(positive, fn, bn);
      }
      if (a) {
        begin[i] = s;
        step[i] = st;
        sizes[i] = n;
      } else {
        Value hit = cmp(arith::CmpIPredicate::eq, axisValue, idx(i));
        begin[i] = select(hit, s, begin[i]);
        step[i] = select(hit, st, step[i]);
        sizes[i] = select(
            hit, n, getValueOrCreateConstantIndexOp(rewriter, loc, sizes[i]));
      }
    }
  }
  // Static sizes where the node's type knows them (folds the index math).
  SmallVector<OpFoldResult> outSizes(sizes);
  if (RankedTensorType result = binder.resultType(0))
    for (int64_t i = 0; i < rank && result.getRank() == rank; ++i)
      if (!result.isDynamicDim(i))
        outSizes[i] = rewriter.getIndexAttr(result.getDimSize(i));
  // Known axes and positive constant steps: a strided view (a copy at most,
  // vectorized, where the element-by-element read below gathers).
  bool positiveSteps =
      axes && !runtimeSteps &&
      (!steps || llvm::all_of(*steps, [](int64_t v) { return v > 0; }));
  if (positiveSteps) {
    SmallVector<OpFoldResult> offs, strides;
    for (int64_t i = 0; i < rank; ++i) {
      offs.push_back(getAsOpFoldResult(begin[i]));
      strides.push_back(getAsOpFoldResult(step[i]));
    }
    Value slice = tensor::ExtractSliceOp::create(rewriter, loc, x, offs,
                                                 outSizes, strides);
    binder.replace(rewriter, slice);
    return success();
  }
  Value empty =
      tensor::EmptyOp::create(rewriter, loc, outSizes, type.getElementType());
  Value result = buildReadAt(rewriter, loc, empty, ValueRange{}, {}, x,
                             [&](OpBuilder &b, Location l, ValueRange) {
                               SmallVector<Value> coords;
                               for (int64_t i = 0; i < rank; ++i) {
                                 Value v = linalg::IndexOp::create(b, l, i);
                                 v = arith::MulIOp::create(b, l, v, step[i]);
                                 coords.push_back(
                                     arith::AddIOp::create(b, l, v, begin[i]));
                               }
                               return coords;
                             });
  binder.replace(rewriter, result);
  return success();
}

/// Split along `axis` by sizes (attribute before 13, input from 13) or into
/// equal parts.
static LogicalResult legalizeSplit(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked input");
  int64_t rank = x.getType().getRank();
  std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", 0), rank);
  if (!axis)
    return binder.emitError("axis is out of range"), failure();
  int64_t dim = x.getType().getDimSize(*axis);
  unsigned n = binder.getOp()->getNumResults();
  std::optional<SmallVector<int64_t>> parts =
      binder.getOp().getOpset() < 13 ? binder.getInts("split")
      : binder.input(1)              ? binder.constantInts(1)
                                     : std::nullopt;
  if (binder.getOp().getOpset() >= 13 && binder.input(1) && !parts) {
    // Sizes known at run time: offsets are their running sums.
    auto split = binder.rankedInput(1);
    if (!split || split.getType().getRank() != 1 ||
        split.getType().getDimSize(0) != (int64_t)n)
      return binder.unsupported("split sizes that do not match the outputs");
    Location loc = binder.getLoc();
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, x);
    SmallVector<Value> results;
    Value offset = arith::ConstantIndexOp::create(rewriter, loc, 0);
    for (unsigned i = 0; i < n; ++i) {
      Value e = tensor::ExtractOp::create(
          rewriter, loc, split,
          ValueRange{arith::ConstantIndexOp::create(rewriter, loc, i)});
      Value len =
          arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), e);
      SmallVector<OpFoldResult> offs(rank, rewriter.getIndexAttr(0)),
          sz = sizes;
      offs[*axis] = offset;
      sz[*axis] = len;
      SmallVector<OpFoldResult> strides(rank, rewriter.getIndexAttr(1));
      results.push_back(
          tensor::ExtractSliceOp::create(rewriter, loc, x, offs, sz, strides));
      offset = arith::AddIOp::create(rewriter, loc, offset, len);
    }
    binder.replace(rewriter, results);
    return success();
  }
  if (!parts) {
    if (ShapedType::isDynamic(dim))
      return binder.unsupported("an equal split of a dynamic dimension");
    int64_t chunk = (dim + n - 1) / n;
    parts = SmallVector<int64_t>();
    for (unsigned i = 0; i < n; ++i)
      parts->push_back(std::min<int64_t>(chunk, dim - chunk * i));
  }
  if (parts->size() != n)
    return binder.emitError("split sizes do not match the outputs"), failure();
  Location loc = binder.getLoc();
  SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, x);
  SmallVector<Value> results;
  int64_t offset = 0;
  for (int64_t p : *parts) {
    SmallVector<OpFoldResult> offs(rank, rewriter.getIndexAttr(0)), sz = sizes;
    offs[*axis] = rewriter.getIndexAttr(offset);
    sz[*axis] = rewriter.getIndexAttr(p);
    SmallVector<OpFoldResult> strides(rank, rewriter.getIndexAttr(1));
    results.push_back(
        tensor::ExtractSliceOp::create(rewriter, loc, x, offs, sz, strides));
    offset += p;
  }
  binder.replace(rewriter, results);
  return success();
}

/// Trilu: keep the upper (j - i >= k) or lower (j - i <= k) triangle of the
/// last two dims.
static LogicalResult legalizeTrilu(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x || x.getType().getRank() < 2)
    return binder.unsupported("an input of rank < 2");
  Location loc = binder.getLoc();
  // k: a constant, or a scalar read at run time.
  Value kIndex = arith::ConstantIndexOp::create(rewriter, loc, 0);
  if (Value kt = binder.rankedInput(1)) {
    Value k = tensor::ExtractOp::create(
        rewriter, loc, kt,
        SmallVector<Value>(cast<RankedTensorType>(kt.getType()).getRank(),
                           arith::ConstantIndexOp::create(rewriter, loc, 0)));
    kIndex =
        arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), k);
  }
  bool upper = binder.getInt("upper", 1) != 0;
  int64_t rank = x.getType().getRank();
  Type elem = x.getType().getElementType();
  Value empty =
      tensor::EmptyOp::create(rewriter, loc, getSizes(rewriter, loc, x), elem);
  SmallVector<AffineMap> maps(2, rewriter.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      rewriter, loc, empty.getType(), ValueRange{x}, ValueRange{empty}, maps,
      iters, [&](OpBuilder &b, Location l, ValueRange a) {
        Value i = linalg::IndexOp::create(b, l, rank - 2);
        Value j = linalg::IndexOp::create(b, l, rank - 1);
        Value diff = arith::SubIOp::create(b, l, j, i);
        Value kk = kIndex;
        Value keep = arith::CmpIOp::create(
            b, l, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle,
            diff, kk);
        Value zero = arith::ConstantOp::create(b, l, b.getZeroAttr(elem));
        linalg::YieldOp::create(
            b, l, arith::SelectOp::create(b, l, keep, a[0], zero).getResult());
      });
  binder.replace(rewriter, generic.getResult(0));
  return success();
}

/// Range(start, limit, delta) with a compile-time length.
static LogicalResult legalizeRange(OpBinder &binder, RewriterBase &rewriter) {
  RankedTensorType result = binder.resultType(0);
  Value start = binder.rankedInput(0), delta = binder.rankedInput(2);
  if (!result || !start || !delta || !binder.rankedInput(1))
    return binder.unsupported("unranked operands");
  // A malformed model may declare other ranks (found by loom-fuzz-onnx).
  if (result.getRank() != 1 || start.getType() != binder.input(1).getType() ||
      cast<RankedTensorType>(start.getType()).getRank() != 0 ||
      start.getType() != delta.getType())
    return binder.emitError("expects scalar start, limit and delta of one "
                            "type and a 1-D result"),
           failure();
  Location loc = binder.getLoc();
  Type elem = result.getElementType();
  Value n;
  if (result.isDynamicDim(0)) {
    // Length max(ceil((limit - start) / delta), 0), computed in f64.
    Value limit = binder.rankedInput(1);
    auto scalar = [&](Value t) -> Value {
      Value v = tensor::ExtractOp::create(rewriter, loc, t, ValueRange{});
      if (isa<FloatType>(elem))
        return isa<Float64Type>(elem)
                   ? v
                   : arith::ExtFOp::create(rewriter, loc, rewriter.getF64Type(),
                                           v)
                         .getResult();
      return arith::SIToFPOp::create(rewriter, loc, rewriter.getF64Type(), v);
    };
    Value s = scalar(start), e = scalar(limit), d = scalar(delta);
    Value len = math::CeilOp::create(
        rewriter, loc,
        arith::DivFOp::create(rewriter, loc,
                              arith::SubFOp::create(rewriter, loc, e, s), d));
    len = arith::MaximumFOp::create(
        rewriter, loc, len,
        arith::ConstantOp::create(rewriter, loc, rewriter.getF64FloatAttr(0)));
    Value i64 =
        arith::FPToSIOp::create(rewriter, loc, rewriter.getI64Type(), len);
    n = arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), i64);
  }
  Value empty = tensor::EmptyOp::create(rewriter, loc, result.getShape(), elem,
                                        n ? ValueRange{n} : ValueRange{});
  SmallVector<AffineMap> maps = {
      AffineMap::get(1, 0, {}, rewriter.getContext()),
      AffineMap::get(1, 0, {}, rewriter.getContext()),
      rewriter.getMultiDimIdentityMap(1)};
  auto generic = linalg::GenericOp::create(
      rewriter, loc, empty.getType(), ValueRange{start, delta},
      ValueRange{empty}, maps,
      SmallVector<utils::IteratorType>{utils::IteratorType::parallel},
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value i = linalg::IndexOp::create(b, l, 0);
        Value iv;
        if (isa<FloatType>(elem)) {
          Value i64 = arith::IndexCastOp::create(b, l, b.getI64Type(), i);
          iv = arith::SIToFPOp::create(b, l, elem, i64);
          linalg::YieldOp::create(
              b, l,
              arith::AddFOp::create(b, l, a[0],
                                    arith::MulFOp::create(b, l, iv, a[1]))
                  .getResult());
        } else {
          iv = arith::IndexCastOp::create(b, l, elem, i);
          linalg::YieldOp::create(
              b, l,
              arith::AddIOp::create(b, l, a[0],
                                    arith::MulIOp::create(b, l, iv, a[1]))
                  .getResult());
        }
      });
  binder.replace(rewriter, generic.getResult(0));
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void loom::populateOnnxTensorHandlers(OnnxHandlerRegistry &registry) {
  registry.add("Constant", 1, legalizeConstant);
  registry.add("Transpose", 1, legalizeTranspose);
  registry.add("Reshape", 5, legalizeReshape);
  registry.add("Identity", 1, legalizeIdentity);
  registry.add("Dropout", 1, legalizeIdentity);
  registry.add("Unsqueeze", 1, legalizeUnsqueeze);
  registry.add("Squeeze", 1, legalizeSqueeze);
  registry.add("Flatten", 1, legalizeFlatten);
  registry.add("Concat", 4, legalizeConcat);
  registry.add("Shape", 1, legalizeShape);
  registry.add("Size", 1, legalizeSize);
  registry.add("ConstantOfShape", 9, legalizeConstantOfShape);
  registry.add("Expand", 8, legalizeExpand);
  registry.add("Gather", 1, legalizeGather);
  registry.add("GatherElements", 11, legalizeGatherElements);
  registry.add("Slice", 1, legalizeSlice);
  registry.add("Split", 2, legalizeSplit);
  registry.add("Trilu", 14, legalizeTrilu);
  registry.add("Range", 11, legalizeRange);
}
