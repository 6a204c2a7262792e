//===- FoldShapes.cpp - Compile-time evaluation of shape arithmetic -------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Exporters wrap models in shape arithmetic (Shape -> Gather -> Unsqueeze ->
// Concat -> Reshape). Where the shapes are static, these integer nodes are
// evaluated while legalizing, so that Reshape, Expand, Slice and friends see
// constants. Small integer tensors only; anything else is left to handlers.
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

using namespace mlir;
using namespace loom;

namespace {
/// A small integer tensor, row-major.
struct IntTensor {
  SmallVector<int64_t> shape;
  SmallVector<int64_t> data;
  int64_t numel() const { return data.size(); }
};
} // namespace

/// Largest tensor the folder builds.
static constexpr int64_t kMaxFoldElements = 4096;

/// The value of `v` when it is a small integer constant.
static std::optional<IntTensor> constantOf(Value v) {
  DenseIntElementsAttr dense = getConstantInts(v);
  if (!dense || dense.getNumElements() > kMaxFoldElements)
    return std::nullopt;
  IntTensor t;
  t.shape.assign(dense.getType().getShape().begin(),
                 dense.getType().getShape().end());
  bool isBool = dense.getElementType().isInteger(1);
  for (const APInt &x : dense.getValues<APInt>())
    t.data.push_back(isBool ? (int64_t)x.getZExtValue() : x.getSExtValue());
  return t;
}

/// Broadcasts two tensors elementwise (equal shapes, or either a single
/// element).
static std::optional<IntTensor>
zipWith(const IntTensor &a, const IntTensor &b,
        function_ref<std::optional<int64_t>(int64_t, int64_t)> fn) {
  IntTensor r;
  if (a.shape == b.shape)
    r.shape = a.shape;
  else if (b.numel() == 1 && a.shape.size() >= b.shape.size())
    r.shape = a.shape;
  else if (a.numel() == 1 && b.shape.size() >= a.shape.size())
    r.shape = b.shape;
  else
    return std::nullopt;
  int64_t n = std::max(a.numel(), b.numel());
  for (int64_t i = 0; i < n; ++i) {
    std::optional<int64_t> v =
        fn(a.data[a.numel() == 1 ? 0 : i], b.data[b.numel() == 1 ? 0 : i]);
    if (!v)
      return std::nullopt;
    r.data.push_back(*v);
  }
  return r;
}

/// Evaluates `op` when its inputs allow; nullopt otherwise.
static std::optional<IntTensor> evaluate(OpBinder &binder) {
  onnxir::NodeOp op = binder.getOp();
  StringRef type = op.getOpType();
  auto in = [&](unsigned i) { return constantOf(binder.input(i)); };
  if (type == "Shape" || type == "Size") {
    auto x = binder.rankedInput(0);
    if (!x)
      return std::nullopt;
    int64_t rank = x.getType().getRank();
    auto [start, end] = type == "Shape" ? shapeRange(binder, rank)
                                        : std::pair<int64_t, int64_t>{0, rank};
    IntTensor r;
    int64_t size = 1;
    for (int64_t i = start; i < end; ++i) {
      if (x.getType().isDynamicDim(i))
        return std::nullopt;
      r.data.push_back(x.getType().getDimSize(i));
      size *= x.getType().getDimSize(i);
    }
    if (type == "Size")
      r.data.assign(1, size);
    else
      r.shape.push_back(r.data.size());
    return r;
  }
  if (type == "Identity")
    return in(0);
  if (type == "Neg" || type == "Abs") {
    std::optional<IntTensor> x = in(0);
    if (!x)
      return std::nullopt;
    for (int64_t &v : x->data)
      v = type == "Neg" ? -v : std::abs(v);
    return x;
  }
  if (type == "ConstantOfShape") {
    std::optional<IntTensor> shape = in(0);
    auto value =
        dyn_cast_or_null<DenseIntElementsAttr>(op.getOnnxAttr("value"));
    if (!shape || !value || value.getNumElements() != 1)
      return std::nullopt;
    IntTensor r;
    int64_t n = 1;
    for (int64_t d : shape->data) {
      if (d < 0 || (d && n > kMaxFoldElements / d))
        return std::nullopt;
      n *= d;
      r.shape.push_back(d);
    }
    APInt v = *value.getValues<APInt>().begin();
    r.data.assign(n, value.getElementType().isInteger(1) ? v.getZExtValue()
                                                         : v.getSExtValue());
    return r;
  }
  if (type == "Cast") {
    RankedTensorType result = binder.resultType(0);
    std::optional<IntTensor> x = in(0);
    if (!x || !result || !result.getElementType().isSignlessInteger())
      return std::nullopt;
    unsigned width = result.getElementType().getIntOrFloatBitWidth();
    for (int64_t &v : x->data)
      v = width == 1 ? (v != 0)
                     : APInt(64, v).sextOrTrunc(width).getSExtValue();
    return x;
  }
  if (type == "Add" || type == "Sub" || type == "Mul" || type == "Div" ||
      type == "Equal" || type == "Less" || type == "Greater" || type == "Max" ||
      type == "Min" || type == "And" || type == "Or") {
    std::optional<IntTensor> a = in(0), b = in(1);
    if (!a || !b || binder.getNumInputs() != 2)
      return std::nullopt;
    return zipWith(*a, *b, [&](int64_t x, int64_t y) -> std::optional<int64_t> {
      if (type == "Add")
        return x + y;
      if (type == "Sub")
        return x - y;
      if (type == "Mul")
        return x * y;
      if (type == "Div") {
        if (y == 0)
          return std::nullopt;
        return x / y;
      }
      if (type == "Equal")
        return x == y;
      if (type == "Less")
        return x < y;
      if (type == "Greater")
        return x > y;
      if (type == "Max")
        return std::max(x, y);
      if (type == "Min")
        return std::min(x, y);
      if (type == "And")
        return x && y;
      return x || y;
    });
  }
  if (type == "Where") {
    std::optional<IntTensor> c = in(0), a = in(1), b = in(2);
    if (!c || !a || !b)
      return std::nullopt;
    std::optional<IntTensor> ab = zipWith(
        *a, *b, [](int64_t x, int64_t) -> std::optional<int64_t> { return x; });
    if (!ab)
      return std::nullopt;
    std::optional<IntTensor> picked =
        zipWith(*c, *a, [](int64_t cond, int64_t x) -> std::optional<int64_t> {
          return cond ? std::optional<int64_t>(x) : std::optional<int64_t>(0);
        });
    std::optional<IntTensor> other =
        zipWith(*c, *b, [](int64_t cond, int64_t y) -> std::optional<int64_t> {
          return cond ? std::optional<int64_t>(0) : std::optional<int64_t>(y);
        });
    if (!picked || !other || picked->shape != other->shape)
      return std::nullopt;
    for (size_t i = 0; i < picked->data.size(); ++i)
      picked->data[i] += other->data[i];
    return picked;
  }
  if (type == "Gather") {
    std::optional<IntTensor> data = in(0), idx = in(1);
    if (!data || !idx || data->shape.size() != 1 ||
        binder.getInt("axis", 0) != 0)
      return std::nullopt;
    IntTensor r;
    r.shape = idx->shape;
    int64_t n = data->numel();
    for (int64_t i : idx->data) {
      if (i < 0)
        i += n;
      if (i < 0 || i >= n)
        return std::nullopt;
      r.data.push_back(data->data[i]);
    }
    return r;
  }
  if (type == "Concat") {
    IntTensor r;
    for (unsigned i = 0; i < binder.getNumInputs(); ++i) {
      std::optional<IntTensor> t = in(i);
      if (!t || t->shape.size() != 1)
        return std::nullopt;
      r.data.append(t->data);
    }
    r.shape.push_back(r.data.size());
    return r;
  }
  if (type == "Unsqueeze" || type == "Squeeze") {
    std::optional<IntTensor> x = in(0);
    RankedTensorType result = binder.resultType(0);
    if (!x || !result || !result.hasStaticShape() ||
        result.getNumElements() != x->numel())
      return std::nullopt;
    x->shape.assign(result.getShape().begin(), result.getShape().end());
    return x;
  }
  if (type == "Slice" && op.getOpset() >= 10) {
    std::optional<IntTensor> x = in(0), starts = in(1), ends = in(2);
    std::optional<IntTensor> axes =
        binder.input(3) ? in(3) : IntTensor{{1}, {0}};
    std::optional<IntTensor> steps =
        binder.input(4) ? in(4) : IntTensor{{1}, {1}};
    if (!x || !starts || !ends || !axes || !steps || x->shape.size() != 1 ||
        starts->numel() != 1 || ends->numel() != 1 || axes->numel() != 1 ||
        steps->numel() != 1 || (axes->data[0] != 0 && axes->data[0] != -1))
      return std::nullopt;
    int64_t n = x->numel(), st = steps->data[0];
    int64_t s = starts->data[0], e = ends->data[0];
    if (st == 0)
      return std::nullopt;
    if (s < 0)
      s += n;
    if (e < 0)
      e += n;
    IntTensor r;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      for (int64_t i = s; i < e; i += st)
        r.data.push_back(x->data[i]);
    } else {
      s = std::clamp<int64_t>(s, -1, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      for (int64_t i = s; i > e; i += st)
        r.data.push_back(x->data[i]);
    }
    r.shape.push_back(r.data.size());
    return r;
  }
  if (type == "Range") {
    std::optional<IntTensor> s = in(0), l = in(1), d = in(2);
    if (!s || !l || !d || d->data[0] == 0)
      return std::nullopt;
    IntTensor r;
    for (int64_t v = s->data[0];
         d->data[0] > 0 ? v < l->data[0] : v > l->data[0]; v += d->data[0]) {
      if ((int64_t)r.data.size() >= kMaxFoldElements)
        return std::nullopt;
      r.data.push_back(v);
    }
    r.shape.push_back(r.data.size());
    return r;
  }
  return std::nullopt;
}

LogicalResult loom::foldShapeArithmetic(OpBinder &binder,
                                        RewriterBase &rewriter) {
  onnxir::NodeOp op = binder.getOp();
  if (op->getNumResults() != 1 || !op.getDomain().empty())
    return failure();
  auto resultType = dyn_cast<TensorType>(op->getResult(0).getType());
  if (!resultType || !resultType.getElementType().isSignlessInteger())
    return failure();
  std::optional<IntTensor> value = evaluate(binder);
  if (!value)
    return failure();
  auto type = RankedTensorType::get(value->shape, resultType.getElementType());
  if (!tensor::CastOp::areCastCompatible(type, resultType))
    return failure();
  unsigned width = type.getElementType().getIntOrFloatBitWidth();
  SmallVector<APInt> bits;
  for (int64_t v : value->data)
    bits.push_back(APInt(width, v, /*isSigned=*/true, /*implicitTrunc=*/true));
  Value cst = arith::ConstantOp::create(rewriter, binder.getLoc(),
                                        DenseIntElementsAttr::get(type, bits));
  binder.replace(rewriter, cst);
  return success();
}
