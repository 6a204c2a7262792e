//===- LoomOps.cpp - Loom dialect operations ------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace loom;

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

/// Returns true when two dimension sizes may be equal at run time.
static bool dimsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Formats a dimension size, `?` for dynamic sizes.
static std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

/// Checks that `operand` broadcasts (numpy rules, aligned from the right) to
/// `target`. `what` names the operand in diagnostics.
static LogicalResult verifyBroadcastsTo(Operation *op, StringRef what,
                                        RankedTensorType operand,
                                        ArrayRef<int64_t> target) {
  if (operand.getRank() > static_cast<int64_t>(target.size()))
    return op->emitOpError() << what << " of rank " << operand.getRank()
                             << " does not broadcast to rank " << target.size();
  int64_t offset = target.size() - operand.getRank();
  for (auto [i, d] : llvm::enumerate(operand.getShape())) {
    int64_t t = target[offset + i];
    if (d == 1 || dimsCompatible(d, t))
      continue;
    return op->emitOpError() << what << " dimension " << i << " (" << dimStr(d)
                             << ") does not broadcast to " << dimStr(t);
  }
  return success();
}

/// Normalizes a possibly negative axis; returns -1 when out of range.
static int64_t normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return -1;
  return axis < 0 ? axis + rank : axis;
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult
AttentionOp::inferReturnTypes(MLIRContext *context,
                              std::optional<Location> location, Adaptor adaptor,
                              SmallVectorImpl<Type> &inferredReturnTypes) {
  auto q = dyn_cast<RankedTensorType>(adaptor.getQuery().getType());
  auto v = dyn_cast<RankedTensorType>(adaptor.getValue().getType());
  if (!q || !v || q.getRank() < 1 || v.getRank() < 1)
    return emitOptionalError(location, "expects ranked query and value");
  SmallVector<int64_t> shape(q.getShape());
  shape.back() = v.getShape().back();
  inferredReturnTypes.push_back(
      RankedTensorType::get(shape, q.getElementType()));
  return success();
}

LogicalResult AttentionOp::verify() {
  RankedTensorType q = getQuery().getType(), k = getKey().getType(),
                   v = getValue().getType();
  if (std::optional<int64_t> window = getWindow(); window && *window < 1)
    return emitOpError() << "window must be at least 1, not " << *window;
  if (std::optional<ArrayRef<int64_t>> blocks = getBlockSparse();
      blocks && (blocks->size() != 3 || (*blocks)[0] < 1 || (*blocks)[1] < 0 ||
                 (*blocks)[2] < 0))
    return emitOpError("block_sparse must be [block size >= 1, local blocks "
                       ">= 0, global blocks >= 0]");
  if (std::optional<int64_t> block = getScoreQuantBlock()) {
    if (*block < 1)
      return emitOpError() << "score_quant_block must be at least 1, not "
                           << *block;
    if (getWindow() || getBlockSparse() || getRouted())
      return emitOpError("score_quant_block does not combine with window, "
                         "block_sparse or routed yet");
    if (!getQuery().getType().getElementType().isF32())
      return emitOpError("score_quant_block needs f32 operands");
  }
  if (std::optional<ArrayRef<int64_t>> routed = getRouted()) {
    if (routed->size() != 2 || (*routed)[0] < 1 || (*routed)[1] < 1)
      return emitOpError("routed must be [block size >= 1, key blocks >= 1]");
    if (getWindow() || getBlockSparse())
      return emitOpError("routed attention does not combine with window or "
                         "block_sparse yet");
  }
  int64_t rank = q.getRank();
  if (k.getRank() != rank || v.getRank() != rank || (rank != 3 && rank != 4))
    return emitOpError("expects query, key and value of one rank, 3 or 4");
  Type elementType = q.getElementType();
  if (k.getElementType() != elementType || v.getElementType() != elementType ||
      (getMask() && getMask().getType().getElementType() != elementType))
    return emitOpError(
        "expects query, key, value and mask of one element type");
  if (!dimsCompatible(q.getDimSize(0), k.getDimSize(0)) ||
      !dimsCompatible(k.getDimSize(0), v.getDimSize(0)))
    return emitOpError("batch dimensions of query, key and value differ");
  if (!dimsCompatible(k.getDimSize(rank - 2), v.getDimSize(rank - 2)))
    return emitOpError("key and value sequence lengths differ");
  if (!dimsCompatible(q.getDimSize(rank - 1), k.getDimSize(rank - 1)))
    return emitOpError("query and key head dimensions differ");

  if (std::optional<int64_t> groups = getNumKvHeads()) {
    if (rank != 4)
      return emitOpError("num_kv_heads requires rank-4 operands");
    if (*groups <= 0)
      return emitOpError("num_kv_heads must be positive");
    int64_t hq = q.getDimSize(1), hk = k.getDimSize(1), hv = v.getDimSize(1);
    if (!dimsCompatible(hk, *groups) || !dimsCompatible(hv, *groups))
      return emitOpError() << "key/value head count (" << dimStr(hk)
                           << ") differs from num_kv_heads (" << *groups << ")";
    if (!ShapedType::isDynamic(hq) && hq % *groups != 0)
      return emitOpError() << "query head count (" << hq
                           << ") is not a multiple of num_kv_heads (" << *groups
                           << ")";
  } else if (rank == 4 && (!dimsCompatible(q.getDimSize(1), k.getDimSize(1)) ||
                           !dimsCompatible(k.getDimSize(1), v.getDimSize(1)))) {
    return emitOpError("query and key/value head counts differ; set "
                       "num_kv_heads for grouped-query attention");
  }

  if (std::optional<APFloat> scale = getScale()) {
    if (!scale->isFinite())
      return emitOpError("scale must be finite");
  } else if (ShapedType::isDynamic(q.getDimSize(rank - 1))) {
    return emitOpError("requires an explicit scale when the head dimension "
                       "is dynamic");
  }

  if (Value mask = getMask()) {
    SmallVector<int64_t> scores(q.getShape());
    scores.back() = k.getDimSize(rank - 2);
    if (failed(verifyBroadcastsTo(
            *this, "mask", cast<RankedTensorType>(mask.getType()), scores)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ScanOp
//===----------------------------------------------------------------------===//

/// The number of operands of each scan kind.
static unsigned scanArity(ScanKind kind) {
  switch (kind) {
  case ScanKind::Diagonal:
  case ScanKind::Gated:
  case ScanKind::Delta:
    return 4;
  case ScanKind::Linear:
    return 3;
  }
  llvm_unreachable("unknown scan kind");
}

LogicalResult
ScanOp::inferReturnTypes(MLIRContext *context, std::optional<Location> location,
                         Adaptor adaptor,
                         SmallVectorImpl<Type> &inferredReturnTypes) {
  ValueRange inputs = adaptor.getInputs();
  if (inputs.size() < 3)
    return emitOptionalError(location, "expects at least 3 operands");
  bool diagonal = adaptor.getKind() == ScanKind::Diagonal;
  // diagonal: the shape of x; otherwise q's with v's last dim.
  auto first = dyn_cast<RankedTensorType>(inputs[0].getType());
  auto v = dyn_cast<RankedTensorType>(inputs[2].getType());
  if (!first || !v || v.getRank() < 1)
    return emitOptionalError(location, "expects ranked operands");
  SmallVector<int64_t> shape(first.getShape());
  // The folded diagonal form (a, u, c): the first three dims of a.
  if (diagonal && inputs.size() == 3 && shape.size() == 4)
    shape.pop_back();
  if (!diagonal && !shape.empty())
    shape.back() = v.getShape().back();
  inferredReturnTypes.push_back(
      RankedTensorType::get(shape, first.getElementType()));
  return success();
}

LogicalResult ScanOp::verify() {
  ScanKind kind = getKind();
  unsigned arity = scanArity(kind);
  bool folded = kind == ScanKind::Diagonal && getInputs().size() == 3;
  if (getInputs().size() != arity && !folded)
    return emitOpError() << "'" << stringifyScanKind(kind) << "' expects "
                         << (kind == ScanKind::Diagonal ? std::string("3 or 4")
                                                        : std::to_string(arity))
                         << " operands, got " << getInputs().size();
  SmallVector<RankedTensorType> types;
  for (Value in : getInputs())
    types.push_back(cast<RankedTensorType>(in.getType()));
  Type elem = types[0].getElementType();
  for (RankedTensorType t : types)
    if (t.getElementType() != elem)
      return emitOpError("expects operands of one element type");
  // Checks `t` has `dims` (kDynamic in `dims`: any size), naming `what`.
  auto expect = [&](RankedTensorType t, StringRef what,
                    ArrayRef<int64_t> dims) -> LogicalResult {
    if (t.getRank() != static_cast<int64_t>(dims.size()))
      return emitOpError() << what << " must have rank " << dims.size()
                           << ", got " << t.getRank();
    for (auto [i, d] : llvm::enumerate(dims))
      if (!dimsCompatible(t.getDimSize(i), d))
        return emitOpError()
               << what << " dimension " << i << " is "
               << dimStr(t.getDimSize(i)) << ", expected " << dimStr(d);
    return success();
  };
  constexpr int64_t dyn = ShapedType::kDynamic;
  if (folded) {
    // a, u: [B, T, D, N]; c: [B, T, N].
    RankedTensorType a = types[0];
    if (a.getRank() != 4)
      return emitOpError("a must have rank 4 [B, T, D, N], got rank ")
             << a.getRank();
    int64_t b = a.getDimSize(0), t = a.getDimSize(1), n = a.getDimSize(3);
    if (failed(expect(types[1], "u", a.getShape())) ||
        failed(expect(types[2], "c", {b, t, n})))
      return failure();
    return success();
  }
  if (kind == ScanKind::Diagonal) {
    RankedTensorType x = types[0];
    if (x.getRank() != 3)
      return emitOpError("x must have rank 3 [B, T, D], got rank ")
             << x.getRank();
    int64_t b = x.getDimSize(0), t = x.getDimSize(1), d = x.getDimSize(2);
    int64_t n = types[1].getRank() == 4 ? types[1].getDimSize(3) : dyn;
    if (failed(expect(types[1], "a", {b, t, d, n})) ||
        failed(expect(types[2], "b", {b, t, d, n})) ||
        failed(expect(types[3], "c", {b, t, n})))
      return failure();
    return success();
  }
  RankedTensorType q = types[0];
  if (q.getRank() != 4)
    return emitOpError("q must have rank 4 [B, H, T, Dk], got rank ")
           << q.getRank();
  int64_t b = q.getDimSize(0), h = q.getDimSize(1), t = q.getDimSize(2),
          dk = q.getDimSize(3);
  int64_t dv = types[2].getRank() == 4 ? types[2].getDimSize(3) : dyn;
  if (failed(expect(types[1], "k", {b, h, t, dk})) ||
      failed(expect(types[2], "v", {b, h, t, dv})))
    return failure();
  if (kind == ScanKind::Gated)
    return expect(types[3], "alpha", {b, h, t, dk});
  if (kind == ScanKind::Delta)
    return expect(types[3], "beta", {b, h, t});
  return success();
}

//===----------------------------------------------------------------------===//
// MoeOp
//===----------------------------------------------------------------------===//

LogicalResult
MoeOp::inferReturnTypes(MLIRContext *context, std::optional<Location> location,
                        Adaptor adaptor,
                        SmallVectorImpl<Type> &inferredReturnTypes) {
  inferredReturnTypes.push_back(adaptor.getInput().getType());
  return success();
}

LogicalResult MoeOp::verify() {
  auto x = cast<RankedTensorType>(getInput().getType());
  auto w = cast<RankedTensorType>(getGateWeights().getType());
  auto idx = cast<RankedTensorType>(getGateIndices().getType());
  int64_t rank = x.getRank();
  if (rank < 2)
    return emitOpError("input must have rank >= 2 [..., D], got rank ") << rank;
  if (w.getRank() != rank || idx.getRank() != rank)
    return emitOpError("gate weights and indices must have the input's rank");
  for (int64_t i = 0; i < rank; ++i) {
    if (!dimsCompatible(w.getDimSize(i), idx.getDimSize(i)))
      return emitOpError("gate weights and indices differ in dimension ") << i;
    if (i < rank - 1 && !dimsCompatible(w.getDimSize(i), x.getDimSize(i)))
      return emitOpError("gate dimension ")
             << i << " is " << dimStr(w.getDimSize(i)) << ", expected "
             << dimStr(x.getDimSize(i));
  }
  if (w.getElementType() != x.getElementType())
    return emitOpError("gate weights must have the input's element type");
  int64_t n = getNumExperts();
  if (n <= 0)
    return emitOpError("num_experts must be positive");
  size_t perExpert = getExperts().size() / n;
  if ((perExpert != 2 && perExpert != 4) ||
      getExperts().size() != perExpert * n)
    return emitOpError("expects 2 (W1, W2) or 4 (W1, b1, W2, b2) operands per "
                       "expert, got ")
           << getExperts().size() << " for " << n << " experts";
  int64_t d = x.getDimSize(rank - 1);
  auto w1First = cast<RankedTensorType>(getExperts()[0].getType());
  int64_t h =
      w1First.getRank() == 2 ? w1First.getDimSize(1) : ShapedType::kDynamic;
  for (int64_t e = 0; e < n; ++e) {
    ValueRange ops = getExperts().slice(e * perExpert, perExpert);
    SmallVector<std::pair<StringRef, SmallVector<int64_t>>> expected = {
        {"W1", {d, h}}, {"W2", {h, d}}};
    SmallVector<Value> values = {ops[0], ops[perExpert == 4 ? 2 : 1]};
    if (perExpert == 4) {
      expected.push_back({"b1", {h}});
      expected.push_back({"b2", {d}});
      values.push_back(ops[1]);
      values.push_back(ops[3]);
    }
    for (auto [what, value] : llvm::zip(expected, values)) {
      auto t = cast<RankedTensorType>(value.getType());
      auto &[name, dims] = what;
      if (t.getElementType() != x.getElementType())
        return emitOpError() << "expert " << e << " " << name
                             << " must have the input's element type";
      if (t.getRank() != static_cast<int64_t>(dims.size()))
        return emitOpError() << "expert " << e << " " << name
                             << " must have rank " << dims.size();
      for (auto [i, dim] : llvm::enumerate(dims))
        if (!dimsCompatible(t.getDimSize(i), dim))
          return emitOpError() << "expert " << e << " " << name << " dimension "
                               << i << " is " << dimStr(t.getDimSize(i))
                               << ", expected " << dimStr(dim);
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// TokenMixingOp
//===----------------------------------------------------------------------===//

LogicalResult TokenMixingOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &inferredReturnTypes) {
  inferredReturnTypes.push_back(adaptor.getInput().getType());
  return success();
}

LogicalResult TokenMixingOp::verify() {
  auto x = cast<RankedTensorType>(getInput().getType());
  if (x.getRank() != 3)
    return emitOpError("input must have rank 3 [B, S, C], got rank ")
           << x.getRank();
  if ((getB1() == nullptr) != (getB2() == nullptr))
    return emitOpError("expects both biases or neither");
  int64_t seq = x.getDimSize(1);
  auto w1 = cast<RankedTensorType>(getW1().getType());
  int64_t h = w1.getRank() == 2 ? w1.getDimSize(1) : ShapedType::kDynamic;
  SmallVector<std::tuple<StringRef, Value, SmallVector<int64_t>>> expected = {
      {"w1", getW1(), {seq, h}}, {"w2", getW2(), {h, seq}}};
  if (getB1()) {
    expected.push_back({"b1", getB1(), {h}});
    expected.push_back({"b2", getB2(), {seq}});
  }
  for (auto &[name, value, dims] : expected) {
    auto t = cast<RankedTensorType>(value.getType());
    if (t.getElementType() != x.getElementType())
      return emitOpError() << name << " must have the input's element type";
    if (t.getRank() != static_cast<int64_t>(dims.size()))
      return emitOpError() << name << " must have rank " << dims.size();
    for (auto [i, d] : llvm::enumerate(dims))
      if (!dimsCompatible(t.getDimSize(i), d))
        return emitOpError()
               << name << " dimension " << i << " is "
               << dimStr(t.getDimSize(i)) << ", expected " << dimStr(d);
  }
  return success();
}

LogicalResult
MonarchOp::inferReturnTypes(MLIRContext *context,
                            std::optional<Location> location, Adaptor adaptor,
                            SmallVectorImpl<Type> &inferredReturnTypes) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  auto w2 = cast<RankedTensorType>(adaptor.getW2().getType());
  if (x.getRank() < 1 || w2.getRank() != 3)
    return failure();
  SmallVector<int64_t> shape(x.getShape());
  shape.back() = w2.hasStaticShape() ? w2.getDimSize(0) * w2.getDimSize(2)
                                     : ShapedType::kDynamic;
  inferredReturnTypes.push_back(
      RankedTensorType::get(shape, x.getElementType()));
  return success();
}

LogicalResult MonarchOp::verify() {
  auto x = cast<RankedTensorType>(getInput().getType());
  auto w1 = cast<RankedTensorType>(getW1().getType());
  auto w2 = cast<RankedTensorType>(getW2().getType());
  if (x.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  for (auto [name, w] : {std::pair{"w1", w1}, std::pair{"w2", w2}}) {
    if (w.getRank() != 3 || !w.hasStaticShape())
      return emitOpError() << name << " must be a static rank-3 tensor";
    if (w.getElementType() != x.getElementType())
      return emitOpError() << name << " must have the input's element type";
  }
  int64_t k = w1.getDimSize(0), p = w1.getDimSize(1), q = w1.getDimSize(2);
  if (!dimsCompatible(x.getShape().back(), k * p))
    return emitOpError() << "input's last dimension is "
                         << dimStr(x.getShape().back()) << ", expected " << k
                         << " x " << p << " = " << k * p << " (w1's blocks)";
  if (w2.getDimSize(0) != q || w2.getDimSize(1) != k)
    return emitOpError() << "w2 must be [" << q << ", " << k
                         << ", S] (Q blocks of K rows), got ["
                         << w2.getDimSize(0) << ", " << w2.getDimSize(1) << ", "
                         << w2.getDimSize(2) << "]";
  return success();
}

LogicalResult QuantizedMatmulOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &inferredReturnTypes) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  auto w = cast<RankedTensorType>(adaptor.getWeight().getType());
  if (x.getRank() < 1 || w.getRank() != 2)
    return failure();
  SmallVector<int64_t> shape(x.getShape());
  shape.back() = w.getDimSize(1);
  inferredReturnTypes.push_back(
      RankedTensorType::get(shape, x.getElementType()));
  return success();
}

LogicalResult QuantizedMatmulOp::verify() {
  auto x = cast<RankedTensorType>(getInput().getType());
  auto w = cast<RankedTensorType>(getWeight().getType());
  auto s = cast<RankedTensorType>(getScale().getType());
  if (x.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  if (w.getRank() != 2 || !w.hasStaticShape())
    return emitOpError("weight must be a static 2-d tensor");
  int64_t n = w.getDimSize(1), k = x.getShape().back();
  if (getInputBits() != 0 && getInputBits() != 8)
    return emitOpError() << "input_bits must be 0 (fp32 input) or 8, not "
                         << getInputBits();
  if (getInputBits() == 0 && (getInputScale() || getInputZeroPoint()))
    return emitOpError("input_scale and input_zero_point need input_bits = 8");
  if (getInputBits() == 8) {
    if (getBits() == 4 &&
        (getGroupSize() % 8 || getInputScale() || getInputZeroPoint()))
      return emitOpError("8-bit inputs with 4-bit weights (W4A8) need a "
                         "group_size that is a multiple of 8 and take no "
                         "input_scale or input_zero_point (each row and "
                         "group gets its own)");
    std::optional<APFloat> inputScale = getInputScale();
    if (inputScale && !(inputScale->convertToFloat() > 0.0f &&
                        std::isfinite(inputScale->convertToFloat())))
      return emitOpError("input_scale must be positive and finite");
    std::optional<uint64_t> zero = getInputZeroPoint();
    if (zero && !inputScale)
      return emitOpError("input_zero_point needs input_scale");
    if (zero &&
        (static_cast<int64_t>(*zero) < 0 || static_cast<int64_t>(*zero) > 255))
      return emitOpError() << "input_zero_point must be in 0..255, not "
                           << static_cast<int64_t>(*zero);
  }
  if (getBits() == 8) {
    if (getGroupSize() != 0 || getZeroPoint())
      return emitOpError("8-bit weights take one scale per column: no "
                         "group_size, no zero_point");
    if (!dimsCompatible(k, w.getDimSize(0)))
      return emitOpError() << "input's last dimension is " << dimStr(k)
                           << ", the weight has K = " << w.getDimSize(0);
    if (s.getRank() != 1 || !dimsCompatible(s.getDimSize(0), n) ||
        !s.getElementType().isF32())
      return emitOpError() << "scale must be f32 [" << n
                           << "] (one per output column)";
    return success();
  }
  if (getBits() != 4)
    return emitOpError() << "bits must be 8 or 4, not " << getBits();
  int64_t group = getGroupSize();
  if (group < 2 || group % 2)
    return emitOpError() << "4-bit weights need an even group_size >= 2, not "
                         << group;
  if (ShapedType::isDynamic(k))
    return emitOpError("4-bit weights need a static K (input's last dim)");
  if (w.getDimSize(0) != (k + 1) / 2)
    return emitOpError() << "4-bit weights for K = " << k << " are ["
                         << (k + 1) / 2 << ", N] bytes, not ["
                         << w.getDimSize(0) << ", N]";
  int64_t groups = (k + group - 1) / group;
  auto expectGroups = [&](RankedTensorType t, StringRef what) -> LogicalResult {
    if (t.getRank() == 2 && dimsCompatible(t.getDimSize(0), groups) &&
        dimsCompatible(t.getDimSize(1), n))
      return success();
    return emitOpError() << what << " must be [" << groups << ", " << n
                         << "] (one per group of " << group
                         << " rows and column)";
  };
  if (!s.getElementType().isF16() && !s.getElementType().isF32())
    return emitOpError("4-bit weights take f16 or f32 scales");
  if (failed(expectGroups(s, "scale")))
    return failure();
  if (Value z = getZeroPoint())
    return expectGroups(cast<RankedTensorType>(z.getType()), "zero_point");
  return success();
}

//===----------------------------------------------------------------------===//
// SparseMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult SparseMatmulOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &inferredReturnTypes) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  if (x.getRank() < 1)
    return failure();
  SmallVector<int64_t> shape(x.getShape());
  shape.back() = adaptor.getColumns();
  inferredReturnTypes.push_back(
      RankedTensorType::get(shape, x.getElementType()));
  return success();
}

LogicalResult SparseMatmulOp::verify() {
  auto x = cast<RankedTensorType>(getInput().getType());
  auto v = cast<RankedTensorType>(getValues().getType());
  auto idx = cast<RankedTensorType>(getIndices().getType());
  int64_t n = getColumns();
  if (x.getRank() < 1 || ShapedType::isDynamic(x.getShape().back()))
    return emitOpError("input must have a static last dimension (K)");
  if (n < 1)
    return emitOpError() << "columns must be positive, not " << n;
  if (!v.hasStaticShape() || !idx.hasStaticShape())
    return emitOpError("values and indices must have static shapes");
  int64_t k = x.getShape().back();
  if (getFormat() == "2:4") {
    if (getOffsets() || getBlock())
      return emitOpError("2:4 weights take no offsets and no block");
    if (k % 4)
      return emitOpError() << "2:4 weights need K a multiple of 4, not " << k;
    if (v.getShape() != ArrayRef<int64_t>{k / 2, n})
      return emitOpError() << "2:4 values must be [" << k / 2 << ", " << n
                           << "] (two per group of four rows)";
    if (idx.getShape() != ArrayRef<int64_t>{k / 4, n} ||
        !idx.getElementType().isInteger(8))
      return emitOpError() << "2:4 indices must be i8 [" << k / 4 << ", " << n
                           << "] (one byte per group)";
    return success();
  }
  if (getFormat() != "block")
    return emitOpError() << "format must be \"block\" or \"2:4\", not \""
                         << getFormat() << "\"";
  std::optional<ArrayRef<int64_t>> block = getBlock();
  if (!block || block->size() != 2 || (*block)[0] < 1 || (*block)[1] < 1)
    return emitOpError("block sparsity needs block = [rows, cols], both >= 1");
  int64_t bk = (*block)[0], bn = (*block)[1];
  if (v.getRank() != 3 || v.getDimSize(1) != bk || v.getDimSize(2) != bn)
    return emitOpError() << "block values must be [blocks, " << bk << ", " << bn
                         << "]";
  int64_t blocks = v.getDimSize(0);
  if (idx.getShape() != ArrayRef<int64_t>{blocks} ||
      !idx.getElementType().isInteger(32))
    return emitOpError() << "block indices must be i32 [" << blocks
                         << "] (one block row per block)";
  if (!getOffsets())
    return emitOpError("block sparsity needs offsets");
  auto off = cast<RankedTensorType>(getOffsets().getType());
  int64_t blockCols = (n + bn - 1) / bn;
  if (off.getShape() != ArrayRef<int64_t>{blockCols + 1})
    return emitOpError() << "offsets must be [" << blockCols + 1
                         << "] (one per block column, plus the end)";
  return success();
}

double AttentionOp::getEffectiveScale() {
  if (std::optional<APFloat> scale = getScale())
    return scale->convertToDouble();
  int64_t d = getQuery().getType().getShape().back();
  return 1.0 / std::sqrt(static_cast<double>(d));
}

//===----------------------------------------------------------------------===//
// Normalization ops
//===----------------------------------------------------------------------===//

/// Shared verifier of layer_norm and rms_norm: axis range, epsilon, and
/// broadcasting of the affine parameters to the normalized shape.
static LogicalResult verifyNorm(Operation *op, RankedTensorType input,
                                int64_t axis, APFloat epsilon,
                                ArrayRef<std::pair<StringRef, Value>> params) {
  int64_t rank = input.getRank();
  int64_t normalized = normalizeAxis(axis, rank);
  if (normalized < 0)
    return op->emitOpError()
           << "axis " << axis << " is out of range for rank " << rank;
  if (!epsilon.isFinite() || epsilon.isNegative())
    return op->emitOpError("epsilon must be finite and non-negative");
  ArrayRef<int64_t> normShape = input.getShape().drop_front(normalized);
  for (auto [name, value] : params) {
    if (!value)
      continue;
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getElementType() != input.getElementType())
      return op->emitOpError()
             << name << " element type differs from the input's";
    if (failed(verifyBroadcastsTo(op, name, type, normShape)))
      return failure();
  }
  return success();
}

LogicalResult
LayerNormOp::inferReturnTypes(MLIRContext *context,
                              std::optional<Location> location, Adaptor adaptor,
                              SmallVectorImpl<Type> &inferredReturnTypes) {
  inferredReturnTypes.push_back(adaptor.getInput().getType());
  return success();
}

LogicalResult LayerNormOp::verify() {
  return verifyNorm(*this, getInput().getType(), getAxis(), getEpsilon(),
                    {{"scale", getScale()}, {"bias", getBias()}});
}

int64_t LayerNormOp::getNormalizedAxis() {
  return normalizeAxis(getAxis(), getInput().getType().getRank());
}

LogicalResult
RMSNormOp::inferReturnTypes(MLIRContext *context,
                            std::optional<Location> location, Adaptor adaptor,
                            SmallVectorImpl<Type> &inferredReturnTypes) {
  inferredReturnTypes.push_back(adaptor.getInput().getType());
  return success();
}

LogicalResult RMSNormOp::verify() {
  return verifyNorm(*this, getInput().getType(), getAxis(), getEpsilon(),
                    {{"scale", getScale()}});
}

int64_t RMSNormOp::getNormalizedAxis() {
  return normalizeAxis(getAxis(), getInput().getType().getRank());
}

//===----------------------------------------------------------------------===//
// GeluOp
//===----------------------------------------------------------------------===//

// GeluOp: result type inference comes from SameOperandsAndResultType.

#define GET_OP_CLASSES
#include "loom/Dialect/Loom/IR/LoomOps.cpp.inc"
