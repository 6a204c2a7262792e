//===- RaiseScans.cpp - Recurrences in the imported graph -> loom.scan ----===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Causal linear attention as exporters write it with a cumulative sum,
//
//   S = CumSum(Unsqueeze(k, -1) * Unsqueeze(v, -2), axis = 2)   [B,H,T,Dk,Dv]
//   o = Squeeze(MatMul(Unsqueeze(q, -2), S), -2)                [B,H,T,Dv]
//       (or Einsum("bhtd,bhtde->bhte", q, S))
//
// is `loom.scan <linear> q, k, v`: the same numbers without the T x Dk x Dv
// tensor of running states.
//
// Mamba's selective scan as torch exports a scripted loop over time,
//
//   h, ys = Loop(T, true, zeros, SequenceEmpty) {
//     h = Gather(a, i, axis 1) * h + Gather(u, i, axis 1)    a, u: [B,T,D,N]
//     y = ReduceSum(h * Unsqueeze(Gather(c, i, axis 1), 1), -1)    c: [B,T,N]
//         (or Einsum("bdn,bn->bd", h, c_i))
//     ys = SequenceInsert(ys, y)
//   }
//   out = ConcatFromSequence(ys, axis 1, new_axis 1)             [B,T,D]
//
// is `loom.scan <diagonal> a, u, c` (the folded form): one compiled loop
// instead of T trips through an interpreted body.
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"

#include "RaiseUtils.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace loom {
#define GEN_PASS_DEF_RAISESCANSPASS
#include "loom/Conversion/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-raise-scans"

using namespace mlir;
using namespace loom;
using namespace loom::raise;

/// The input of Unsqueeze(x, [axis]) where `axis` is given relative to the
/// result's rank; null otherwise.
static Value unsqueezedAt(Value v, int64_t axis) {
  onnxir::NodeOp node = nodeOf(v, "Unsqueeze");
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : nullptr;
  if (!node || !type)
    return {};
  std::optional<SmallVector<int64_t>> axes = axesOf(node, type.getRank());
  if (!axes || axes->size() != 1 || (*axes)[0] != axis)
    return {};
  return node.getInputs()[0];
}

/// For S = CumSum(Unsqueeze(k, 4) * Unsqueeze(v, 3), axis = 2) over rank-5
/// tensors: returns (k, v).
static std::optional<std::pair<Value, Value>> matchCumulativeKV(Value s) {
  onnxir::NodeOp cumsum = nodeOf(s, "CumSum");
  if (!cumsum || intAttr(cumsum, "exclusive", 0) != 0 ||
      intAttr(cumsum, "reverse", 0) != 0)
    return std::nullopt;
  std::optional<int64_t> axis = splatInt(cumsum.getInputs()[1]);
  if (!axis || (*axis != 2 && *axis != -3))
    return std::nullopt;
  onnxir::NodeOp mul = nodeOf(cumsum.getInputs()[0], "Mul");
  if (!mul)
    return std::nullopt;
  for (int side : {0, 1}) {
    Value k = unsqueezedAt(mul.getInputs()[side], 4);
    Value v = unsqueezedAt(mul.getInputs()[1 - side], 3);
    if (k && v)
      return std::make_pair(k, v);
  }
  return std::nullopt;
}

/// True when `equation` is "abcd,abcde->abce" up to letter names.
static bool isStateReadout(StringRef equation) {
  std::optional<std::array<std::string, 3>> sub = binaryEinsum(equation);
  if (!sub)
    return false;
  StringRef a((*sub)[0]), b((*sub)[1]), out((*sub)[2]);
  return a.size() == 4 && b.size() == 5 && out.size() == 4 &&
         b.take_front(4) == a && out.take_front(3) == a.take_front(3) &&
         out[3] == b[4] && llvm::count(a, b[4]) == 0 &&
         llvm::count(a, a[3]) == 1;
}

namespace {

/// Squeeze(MatMul(Unsqueeze(q, 3), S), 3) or Einsum(q, S) -> loom.scan.
struct RaiseCumSumLinearAttention : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    Value q, s;
    if (nodeOf(op.getResult(0), "Einsum")) {
      auto eq = dyn_cast_or_null<StringAttr>(op.getOnnxAttr("equation"));
      if (!eq || op.getInputs().size() != 2 || !isStateReadout(eq.getValue()))
        return failure();
      q = op.getInputs()[0];
      s = op.getInputs()[1];
    } else if (nodeOf(op.getResult(0), "Squeeze")) {
      auto type = dyn_cast<RankedTensorType>(op.getInputs()[0].getType());
      onnxir::NodeOp mm = nodeOf(op.getInputs()[0], "MatMul");
      if (!type || type.getRank() != 5 || !mm)
        return failure();
      std::optional<SmallVector<int64_t>> axes = axesOf(op, 5);
      if (!axes || axes->size() != 1 || (*axes)[0] != 3)
        return failure();
      q = unsqueezedAt(mm.getInputs()[0], 3);
      s = mm.getInputs()[1];
    } else {
      return failure();
    }
    std::optional<std::pair<Value, Value>> kv = matchCumulativeKV(s);
    if (!q || !kv)
      return rewriter.notifyMatchFailure(op, "no cumulative k v^T");
    auto [k, v] = *kv;
    auto qt = dyn_cast<RankedTensorType>(q.getType());
    auto kt = dyn_cast<RankedTensorType>(k.getType());
    auto vt = dyn_cast<RankedTensorType>(v.getType());
    auto rt = dyn_cast<RankedTensorType>(op.getResult(0).getType());
    if (!qt || !kt || !vt || !rt || qt.getRank() != 4 || kt.getRank() != 4 ||
        vt.getRank() != 4 || !isa<FloatType>(qt.getElementType()) ||
        kt.getElementType() != qt.getElementType() ||
        vt.getElementType() != qt.getElementType())
      return rewriter.notifyMatchFailure(op, "not [B, H, T, D] float tensors");
    // loom.scan does not broadcast: q, k, v must agree on B, H, T.
    for (int64_t i = 0; i < 3; ++i)
      for (RankedTensorType t : {kt, vt})
        if (!qt.isDynamicDim(i) && !t.isDynamicDim(i) &&
            qt.getDimSize(i) != t.getDimSize(i))
          return rewriter.notifyMatchFailure(op, "broadcast operands");
    if (!qt.isDynamicDim(3) && !kt.isDynamicDim(3) &&
        qt.getDimSize(3) != kt.getDimSize(3))
      return rewriter.notifyMatchFailure(op, "q and k widths differ");
    SmallVector<Operation *> feeding;
    for (Value in : op->getOperands())
      if (Operation *def = in.getDefiningOp())
        feeding.push_back(def);
    Value result = ScanOp::create(
        rewriter, op.getLoc(),
        ScanKindAttr::get(getContext(), ScanKind::Linear), ValueRange{q, k, v});
    if (result.getType() != rt)
      result = tensor::CastOp::create(rewriter, op.getLoc(), rt, result);
    rewriter.replaceOp(op, result);
    eraseDeadHolderOps(rewriter, feeding);
    return success();
  }
};

/// True when `v` is defined outside `region` (a value the body captures).
static bool definedAbove(Value v, Region &region) {
  return !region.isAncestor(v.getParentRegion());
}

/// Strips Identity nodes.
static Value skipIdentity(Value v) {
  while (onnxir::NodeOp id = nodeOf(v, "Identity"))
    v = id.getInputs()[0];
  return v;
}

/// True when `v` is the boolean constant true.
static bool isTrue(Value v) {
  DenseElementsAttr dense = constantOf(skipIdentity(v));
  return dense && dense.isSplat() && dense.getElementType().isInteger(1) &&
         dense.getSplatValue<bool>();
}

/// The captured tensor `src` of Gather(src, iv, axis = 1) inside `body`.
static Value gatheredStep(Value v, Value iv, Region &body) {
  onnxir::NodeOp g = nodeOf(v, "Gather");
  if (!g || g.getInputs()[1] != iv || intAttr(g, "axis", 0) != 1 ||
      !definedAbove(g.getInputs()[0], body))
    return {};
  return g.getInputs()[0];
}

/// The two inputs of a binary node `type` in either order, such that the
/// first satisfies `pred`.
template <typename Pred>
static std::optional<std::pair<Value, Value>>
commutedInputs(Value v, StringRef type, Pred pred) {
  onnxir::NodeOp node = nodeOf(v, type);
  if (!node || node.getInputs().size() != 2)
    return std::nullopt;
  for (int side : {0, 1})
    if (pred(node.getInputs()[side]))
      return std::make_pair(node.getInputs()[side], node.getInputs()[1 - side]);
  return std::nullopt;
}

/// True when `equation` is "bdn,bn->bd" (or its operands swapped when
/// `swapped`) up to letter names: the readout of a diagonal state.
static bool isDiagonalReadout(StringRef equation, bool swapped) {
  std::optional<std::array<std::string, 3>> sub = binaryEinsum(equation);
  if (!sub)
    return false;
  StringRef h((*sub)[0]), c((*sub)[1]), out((*sub)[2]);
  if (swapped)
    std::swap(h, c);
  return h.size() == 3 && c.size() == 2 && out.size() == 2 && h[0] != h[1] &&
         h[1] != h[2] && h[0] != h[2] && c[0] == h[0] && c[1] == h[2] &&
         out[0] == h[0] && out[1] == h[1];
}

/// The per-step readout c_i of y = sum_n h[b, d, n] c_i[b, n]: ReduceSum of
/// h * Unsqueeze(c_i, 1) over the last axis, or an Einsum.
static Value readoutWeights(Value y, Value h) {
  if (onnxir::NodeOp e = nodeOf(y, "Einsum")) {
    auto eq = dyn_cast_or_null<StringAttr>(e.getOnnxAttr("equation"));
    if (!eq || e.getInputs().size() != 2)
      return {};
    for (int side : {0, 1})
      if (e.getInputs()[side] == h &&
          isDiagonalReadout(eq.getValue(), side == 1))
        return e.getInputs()[1 - side];
    return {};
  }
  onnxir::NodeOp sum = nodeOf(y, "ReduceSum");
  if (!sum || intAttr(sum, "keepdims", 1) != 0 ||
      intAttr(sum, "noop_with_empty_axes", 0) != 0)
    return {};
  std::optional<SmallVector<int64_t>> axes = axesOf(sum, 3);
  if (!axes || axes->size() != 1 || (*axes)[0] != 2)
    return {};
  auto prod = commutedInputs(sum.getInputs()[0], "Mul",
                             [&](Value v) { return v == h; });
  if (!prod)
    return {};
  return unsqueezedAt(prod->second, 1);
}

/// How the trip count of a raised loop relates to the scanned length T.
enum class TripCount { Mismatch, EqualsT, CheckAtRunTime };

/// Compares the trip count `m` with axis 1 of `a`: a constant equal to a
/// static T; a run-time scalar when T is dynamic (checked when the model
/// runs).
static TripCount classifyTripCount(Value m, RankedTensorType a) {
  if (std::optional<int64_t> n = splatInt(m))
    return !a.isDynamicDim(1) && *n == a.getDimSize(1) ? TripCount::EqualsT
                                                       : TripCount::Mismatch;
  auto type = dyn_cast<RankedTensorType>(m.getType());
  if (!a.isDynamicDim(1) || !type || type.getRank() != 0 ||
      !type.getElementType().isInteger(64))
    return TripCount::Mismatch;
  return TripCount::CheckAtRunTime;
}

/// ConcatFromSequence(Loop(...) { diagonal recurrence }) -> loom.scan.
struct RaiseLoopDiagonalScan : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    if (!nodeOf(op.getResult(0), "ConcatFromSequence") ||
        intAttr(op, "new_axis", 0) != 1 ||
        !llvm::is_contained({1, -2}, intAttr(op, "axis", 0)))
      return failure();
    auto seq = dyn_cast<OpResult>(op.getInputs()[0]);
    auto loop = seq ? dyn_cast<onnxir::NodeOp>(seq.getOwner()) : nullptr;
    if (!loop || loop.getOpType() != "Loop" || loop.getBodies().size() != 1 ||
        !seq.hasOneUse())
      return rewriter.notifyMatchFailure(op, "not the output of a Loop");
    // Loop(M, cond, h0, seq0) with no scan outputs; the final state unused.
    ValueRange ins = loop.getInputs();
    unsigned s = seq.getResultNumber();
    if (ins.size() != 4 || loop.getNumResults() != 2 || s > 1 ||
        !loop.getResult(1 - s).use_empty() || !isZeros(ins[3 - s]) ||
        !nodeOf(ins[2 + s], "SequenceEmpty"))
      return rewriter.notifyMatchFailure(op, "not a scan carrying one state");
    if (!isa<onnxir::NoneOp>(ins[1].getDefiningOp()) && !isTrue(ins[1]))
      return rewriter.notifyMatchFailure(op, "the loop has a condition");
    Region &body = loop.getBodies()[0];
    Block &block = body.front();
    auto yield = dyn_cast<onnxir::YieldOp>(block.getTerminator());
    if (block.getNumArguments() != 4 || !yield || yield.getValues().size() != 3)
      return failure();
    Value iv = block.getArgument(0), hIn = block.getArgument(3 - s);
    Value seqIn = block.getArgument(2 + s);
    Value condOut = skipIdentity(yield.getValues()[0]);
    if (condOut != block.getArgument(1) && !isTrue(condOut))
      return rewriter.notifyMatchFailure(op, "the body stops the loop");
    // seq = SequenceInsert(seq, y)
    onnxir::NodeOp insert = nodeOf(yield.getValues()[1 + s], "SequenceInsert");
    if (!insert || insert.getInputs().size() != 2 ||
        insert.getInputs()[0] != seqIn)
      return rewriter.notifyMatchFailure(op, "no SequenceInsert of a step");
    // h = Gather(a, i) * h + Gather(u, i)
    Value hOut = yield.getValues()[2 - s];
    Value a, u;
    auto isDecay = [&](Value v) {
      auto mul = commutedInputs(v, "Mul", [&](Value w) { return w == hIn; });
      return mul && (a = gatheredStep(mul->second, iv, body));
    };
    auto add = commutedInputs(hOut, "Add", isDecay);
    if (!add || !(u = gatheredStep(add->second, iv, body)))
      return rewriter.notifyMatchFailure(op, "not h = a_i * h + u_i");
    // y = sum_n h[:, :, n] * c_i[:, n]
    Value ci = readoutWeights(insert.getInputs()[1], hOut);
    Value c = ci ? gatheredStep(ci, iv, body) : Value();
    if (!c)
      return rewriter.notifyMatchFailure(op, "not a readout sum_n h c_i");
    auto at = dyn_cast<RankedTensorType>(a.getType());
    auto ut = dyn_cast<RankedTensorType>(u.getType());
    auto ct = dyn_cast<RankedTensorType>(c.getType());
    auto rt = dyn_cast<TensorType>(op.getResult(0).getType());
    if (!at || !ut || !ct || !rt || at.getRank() != 4 ||
        failed(verifyCompatibleShape(at, ut)) ||
        ut.getElementType() != at.getElementType() || ct.getRank() != 3 ||
        (rt.hasRank() && rt.getRank() != 3) ||
        !isa<FloatType>(at.getElementType()) ||
        ct.getElementType() != at.getElementType())
      return rewriter.notifyMatchFailure(op, "not [B, T, D, N] float tensors");
    for (auto [i, j] : {std::pair(0, 0), {1, 1}, {3, 2}})
      if (!at.isDynamicDim(i) && !ct.isDynamicDim(j) &&
          at.getDimSize(i) != ct.getDimSize(j))
        return rewriter.notifyMatchFailure(op, "broadcast operands");
    TripCount trips = classifyTripCount(ins[0], at);
    if (trips == TripCount::Mismatch ||
        (trips == TripCount::CheckAtRunTime &&
         !isa<func::FuncOp>(loop->getParentOp())))
      return rewriter.notifyMatchFailure(op, "the trip count is not T");
    SmallVector<Operation *> feeding;
    for (Value in : ins)
      if (Operation *def = in.getDefiningOp())
        feeding.push_back(def);
    // The body's captured values lose a user with the loop.
    body.walk([&](Operation *inner) {
      for (Value v : inner->getOperands())
        if (Operation *def = v.getDefiningOp(); def && definedAbove(v, body))
          feeding.push_back(def);
    });
    Location loc = op.getLoc();
    if (trips == TripCount::CheckAtRunTime) {
      // The scan runs T steps; a model whose loop runs a different count
      // stops with an error status instead of wrong numbers.
      Value m = tensor::ExtractOp::create(rewriter, loc, ins[0], ValueRange{});
      Value t = arith::IndexCastOp::create(
          rewriter, loc, rewriter.getI64Type(),
          tensor::DimOp::create(rewriter, loc, a, 1));
      Value ne =
          arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ne, m, t);
      Value failed = tensor::FromElementsOp::create(
          rewriter, loc, RankedTensorType::get({}, rewriter.getI1Type()),
          ValueRange{ne});
      std::string name = nodeNameOf(loop);
      RuntimeCheckOp::create(
          rewriter, loc, failed,
          rewriter.getStringAttr(
              "Loop at node '" + name +
              "': compiled as a scan over the sequence axis, but its trip "
              "count differs from the sequence length"));
    }
    Value result = ScanOp::create(
        rewriter, loc, ScanKindAttr::get(getContext(), ScanKind::Diagonal),
        ValueRange{a, u, c});
    if (result.getType() != rt)
      result = tensor::CastOp::create(rewriter, loc, rt, result);
    rewriter.replaceOp(op, result);
    rewriter.eraseOp(loop);
    eraseDeadHolderOps(rewriter, feeding);
    return success();
  }
};

/// Raises recurrences of the imported graph to loom.scan.
struct RaiseScansPass final
    : public loom::impl::RaiseScansPassBase<RaiseScansPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseCumSumLinearAttention, RaiseLoopDiagonalScan>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
