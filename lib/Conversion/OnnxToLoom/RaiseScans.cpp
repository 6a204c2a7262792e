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
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"

#include "RaiseUtils.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
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
  std::string eq;
  for (char c : equation)
    if (c != ' ')
      eq.push_back(c);
  StringRef e(eq);
  auto [lhs, out] = e.split("->");
  auto [a, b] = lhs.split(',');
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

/// Raises recurrences of the imported graph to loom.scan.
struct RaiseScansPass final
    : public loom::impl::RaiseScansPassBase<RaiseScansPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseCumSumLinearAttention>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
