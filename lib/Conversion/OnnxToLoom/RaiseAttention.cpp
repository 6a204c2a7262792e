//===- RaiseAttention.cpp - Decomposed attention -> loom.attention --------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Finds attention as exporters emit it in the imported ONNX graph,
//
//   MatMul(Softmax(mask(scale(MatMul(Q, K^T))), axis=-1), V)
//
// and replaces it by one `loom.attention`. The scale is any chain of Mul/Div
// by scalar constants on the scores, on Q or on K^T; the mask is an Add of a
// float tensor or a Where(cond, -big, scores). A Where whose condition is
// Trilu(upper, k=1) of an all-true square matrix is the causal mask and
// becomes the `causal` flag (so the flash-attention tiling skips masked
// tiles); any other condition becomes an additive mask Where(cond, -big, 0).
// K^T is usually a Transpose: the key operand is then the same Transpose
// with the last two axes of its permutation swapped.
//
// Grouped-query attention: keys and values whose heads were repeated for the
// query heads as LLaMA-style code does it (Reshape(Expand(Unsqueeze(kv, 2)))
// from [B, Hkv, S, D] to [B, Hkv * R, S, D]) are read unrepeated, with
// `num_kv_heads`; a repeat count that is only known at run time is checked
// when the model runs.
//
// The pass runs on the `onnx.node` holder ops, before legalization, where
// every op still has its ONNX name; near misses (a non-scalar scale, a
// softmax over another axis, a probability matrix with other users) are
// left alone.
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"

#include "RaiseUtils.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <optional>

namespace loom {
#define GEN_PASS_DEF_RAISEATTENTIONPASS
#include "loom/Conversion/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-raise-attention"

using namespace mlir;
using namespace loom;
using namespace loom::raise;

/// True when `v` is an all-true (or all-nonzero) constant, built with
/// ConstantOfShape or as a constant tensor, of a square shape: either static
/// n x n or ConstantOfShape(Concat(x, x)) with both sides built from the same
/// value.
static bool isAllTrueSquare(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() != 2)
    return false;
  bool staticSquare =
      type.hasStaticShape() && type.getDimSize(0) == type.getDimSize(1);
  if (DenseElementsAttr dense = constantOf(v))
    return staticSquare && dense.isSplat() &&
           isa<IntegerType>(dense.getElementType()) &&
           !dense.getSplatValue<APInt>().isZero();
  onnxir::NodeOp cos = nodeOf(v, "ConstantOfShape");
  if (!cos)
    return false;
  auto value = dyn_cast_or_null<DenseElementsAttr>(cos.getOnnxAttr("value"));
  // ConstantOfShape's default value is 0.0: not all true.
  if (!value || !value.isSplat() ||
      (isa<IntegerType>(value.getElementType())
           ? value.getSplatValue<APInt>().isZero()
           : value.getSplatValue<APFloat>().isZero()))
    return false;
  if (staticSquare)
    return true;
  onnxir::NodeOp concat = nodeOf(cos.getInputs()[0], "Concat");
  if (!concat || concat.getInputs().size() != 2)
    return false;
  Value a = concat.getInputs()[0], b = concat.getInputs()[1];
  if (a == b)
    return true;
  // Unsqueeze(x, axes) twice, or a constant side equal to the other.
  onnxir::NodeOp ua = nodeOf(a, "Unsqueeze"), ub = nodeOf(b, "Unsqueeze");
  if (ua && ub && ua.getInputs()[0] == ub.getInputs()[0] &&
      ua.getInputs().size() == ub.getInputs().size() &&
      (ua.getInputs().size() == 1 ||
       constantOf(ua.getInputs()[1]) == constantOf(ub.getInputs()[1])) &&
      ua.getAttrs() == ub.getAttrs())
    return true;
  DenseElementsAttr ca = constantOf(a), cb = constantOf(b);
  return ca && cb && ca == cb;
}

/// True when `cond` selects the keys after each query (`masksWhereTrue`:
/// Trilu(upper=1, k=1) of an all-true square matrix) or the keys up to each
/// query (otherwise: Trilu(upper=0, k=0)), through boolean Casts.
static bool isCausalCondition(Value cond, bool masksWhereTrue) {
  while (onnxir::NodeOp cast = nodeOf(cond, "Cast"))
    cond = cast.getInputs()[0];
  onnxir::NodeOp trilu = nodeOf(cond, "Trilu");
  if (!trilu || intAttr(trilu, "upper", 1) != (masksWhereTrue ? 1 : 0))
    return false;
  int64_t k = 0;
  if (trilu.getInputs().size() == 2) {
    std::optional<int64_t> kv = splatInt(trilu.getInputs()[1]);
    if (!kv)
      return false;
    k = *kv;
  }
  if (k != (masksWhereTrue ? 1 : 0))
    return false;
  return isAllTrueSquare(trilu.getInputs()[0]);
}

/// True when `t` (rank `r`) broadcasts, numpy style, to `target`.
static bool broadcastsTo(RankedTensorType t, ArrayRef<int64_t> target) {
  if (t.getRank() > static_cast<int64_t>(target.size()))
    return false;
  int64_t shift = target.size() - t.getRank();
  for (auto [i, d] : llvm::enumerate(t.getShape())) {
    int64_t want = target[shift + i];
    if (d != 1 && !ShapedType::isDynamic(d) && !ShapedType::isDynamic(want) &&
        d != want)
      return false;
  }
  return true;
}

/// True when two sizes may be equal at run time.
static bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

namespace {

/// What the walk from the softmax's input back to Q @ K^T found.
struct Scores {
  Value query, keyT;
  double scale = 1.0;
  /// An additive mask, or a Where(cond, fill, scores) to turn into one.
  Value addMask, whereCond, whereFill;
  /// Where(cond, fill, scores) when true, Where(cond, scores, fill) when not.
  bool fillWhereTrue = true;
  bool causal = false;
};

/// Walks from the softmax input back to Q @ K^T.
static std::optional<Scores> matchScores(Value x) {
  Scores s;
  bool maskSeen = false;
  for (int steps = 0; steps < 8; ++steps) {
    if (onnxir::NodeOp mm = nodeOf(x, "MatMul")) {
      s.query = mm.getInputs()[0];
      s.keyT = mm.getInputs()[1];
      break;
    }
    if (onnxir::NodeOp div = nodeOf(x, "Div")) {
      std::optional<double> c = splatFloat(div.getInputs()[1]);
      if (!c || *c == 0.0)
        return std::nullopt;
      s.scale /= *c;
      x = div.getInputs()[0];
      continue;
    }
    if (onnxir::NodeOp mul = nodeOf(x, "Mul")) {
      int side = splatFloat(mul.getInputs()[1])   ? 1
                 : splatFloat(mul.getInputs()[0]) ? 0
                                                  : -1;
      if (side < 0)
        return std::nullopt;
      double c = *splatFloat(mul.getInputs()[side]);
      if (c <= 0.0)
        return std::nullopt;
      s.scale *= c;
      x = mul.getInputs()[1 - side];
      continue;
    }
    if (onnxir::NodeOp add = nodeOf(x, "Add")) {
      // A scale applied after the mask (met before it on this walk) would
      // scale the mask too.
      if (maskSeen || s.scale != 1.0)
        return std::nullopt;
      // The scores side leads to a MatMul; the other side is the mask.
      auto leadsToScores = [](Value v) {
        for (int i = 0; i < 6 && v; ++i) {
          auto node = v.getDefiningOp<onnxir::NodeOp>();
          if (!node)
            return false;
          StringRef type = node.getOpType();
          if (type == "MatMul")
            return true;
          if (type != "Div" && type != "Mul" && type != "Where")
            return false;
          if (type == "Where")
            v = node.getInputs()[splatFloat(node.getInputs()[1]) ? 2 : 1];
          else
            v = node.getInputs()[splatFloat(node.getInputs()[0]) ? 1 : 0];
        }
        return false;
      };
      Value a = add.getInputs()[0], b = add.getInputs()[1];
      bool aScores = leadsToScores(a), bScores = leadsToScores(b);
      if (aScores == bScores)
        return std::nullopt;
      s.addMask = aScores ? b : a;
      x = aScores ? a : b;
      maskSeen = true;
      continue;
    }
    if (onnxir::NodeOp where = nodeOf(x, "Where")) {
      // Where(cond, fill, scores) masks where cond holds, Where(cond, scores,
      // fill) where it does not. The fill must drown any score: -inf or a
      // huge negative number.
      Value cond = where.getInputs()[0];
      bool fillFirst = splatFloat(where.getInputs()[1]).has_value();
      Value fillValue = where.getInputs()[fillFirst ? 1 : 2];
      std::optional<double> fill = splatFloat(fillValue);
      if (!fill || *fill > -1.0e4 || maskSeen)
        return std::nullopt;
      if (std::isinf(*fill) && isCausalCondition(cond, fillFirst)) {
        s.causal = true;
      } else {
        s.whereCond = cond;
        s.whereFill = fillValue;
        s.fillWhereTrue = fillFirst;
      }
      maskSeen = true;
      x = where.getInputs()[fillFirst ? 2 : 1];
      continue;
    }
    return std::nullopt;
  }
  if (!s.query)
    return std::nullopt;
  // Scalar factors on Q or K^T scale the scores too.
  for (Value *side : {&s.query, &s.keyT}) {
    while (onnxir::NodeOp mul = nodeOf(*side, "Mul")) {
      std::optional<double> c = splatFloat(mul.getInputs()[1]);
      if (!c || *c <= 0.0)
        break;
      s.scale *= *c;
      *side = mul.getInputs()[0];
    }
  }
  return s;
}

/// MatMul(Softmax(scores), V) -> loom.attention.
/// Heads repeated for grouped-query attention: `repeated` =
/// Reshape(Expand(Unsqueeze(source, 2), shape), [B, H, S, D]) with `source`
/// [B, Hkv, S, D] and H a multiple of Hkv.
struct RepeatedHeads {
  Value source;
  /// The Expand's shape when it is not a constant (checked at run time).
  Value expandShape;
  int64_t kvHeads, repeats;
  /// The Expand's node name, for the run-time check's message.
  std::string node;
};

static std::optional<RepeatedHeads> matchRepeatedHeads(Value repeated) {
  onnxir::NodeOp reshape = nodeOf(repeated, "Reshape");
  onnxir::NodeOp expand =
      reshape ? nodeOf(reshape.getInputs()[0], "Expand") : onnxir::NodeOp();
  onnxir::NodeOp unsq =
      expand ? nodeOf(expand.getInputs()[0], "Unsqueeze") : onnxir::NodeOp();
  if (!unsq)
    return std::nullopt;
  std::optional<SmallVector<int64_t>> axes = axesOf(unsq, 5);
  Value source = unsq.getInputs()[0];
  auto st = dyn_cast<RankedTensorType>(source.getType());
  auto rt = dyn_cast<RankedTensorType>(repeated.getType());
  auto shapeType = dyn_cast<RankedTensorType>(expand.getInputs()[1].getType());
  if (!axes || axes->size() != 1 || (*axes)[0] != 2 || !st || !rt ||
      st.getRank() != 4 || rt.getRank() != 4 || !shapeType ||
      shapeType.getRank() != 1 || shapeType.getDimSize(0) != 5)
    return std::nullopt;
  int64_t kv = st.getDimSize(1), heads = rt.getDimSize(1);
  if (ShapedType::isDynamic(kv) || ShapedType::isDynamic(heads) ||
      heads % kv != 0)
    return std::nullopt;
  for (int64_t i : {0, 2, 3})
    if (!compatible(st.getDimSize(i), rt.getDimSize(i)))
      return std::nullopt;
  int64_t repeats = heads / kv;
  // A constant shape must repeat axis 2 exactly and keep the others.
  if (DenseElementsAttr dense = constantOf(expand.getInputs()[1])) {
    SmallVector<int64_t> dims;
    for (const APInt &d : dense.getValues<APInt>())
      dims.push_back(d.getSExtValue());
    if (dims[2] != repeats ||
        !(dims[3] == 1 || (!st.isDynamicDim(2) && dims[3] == st.getDimSize(2))))
      return std::nullopt;
    return RepeatedHeads{source, Value(), kv, repeats, ""};
  }
  return RepeatedHeads{source, expand.getInputs()[1], kv, repeats,
                       nodeNameOf(expand)};
}

/// Records a run-time check that a computed Expand `shape` repeats axis 2
/// `repeats` times and keeps axis 3 (of length `seq`).
static void checkRepeatAtRunTime(PatternRewriter &rewriter, Location loc,
                                 const RepeatedHeads &r) {
  auto at = [&](int64_t i) {
    Value idx = arith::ConstantIndexOp::create(rewriter, loc, i);
    return tensor::ExtractOp::create(rewriter, loc, r.expandShape,
                                     ValueRange{idx})
        .getResult();
  };
  auto cst = [&](int64_t v) {
    return arith::ConstantIntOp::create(rewriter, loc, v, 64).getResult();
  };
  auto cmp = [&](arith::CmpIPredicate p, Value a, Value b) {
    return arith::CmpIOp::create(rewriter, loc, p, a, b).getResult();
  };
  Value seq = arith::IndexCastOp::create(
      rewriter, loc, rewriter.getI64Type(),
      tensor::DimOp::create(rewriter, loc, r.source, 2));
  Value axis3 = at(3);
  Value badRepeat = cmp(arith::CmpIPredicate::ne, at(2), cst(r.repeats));
  Value badSeq = arith::AndIOp::create(
      rewriter, loc, cmp(arith::CmpIPredicate::ne, axis3, cst(1)),
      cmp(arith::CmpIPredicate::ne, axis3, seq));
  Value failed = arith::OrIOp::create(rewriter, loc, badRepeat, badSeq);
  RuntimeCheckOp::create(
      rewriter, loc,
      tensor::FromElementsOp::create(
          rewriter, loc, RankedTensorType::get({}, rewriter.getI1Type()),
          ValueRange{failed}),
      rewriter.getStringAttr(
          ("Expand at node '" + r.node +
           "': compiled as grouped-query attention repeating each key/value "
           "head " +
           Twine(r.repeats) + " times, but the shape repeats it otherwise")
              .str()));
}

struct RaiseAttention : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    if (!nodeOf(op.getResult(0), "MatMul"))
      return failure();
    Value probs = op.getInputs()[0], value = op.getInputs()[1];
    onnxir::NodeOp softmax = nodeOf(probs, "Softmax");
    if (!softmax || !probs.hasOneUse())
      return rewriter.notifyMatchFailure(op, "no single-use Softmax");
    auto pt = dyn_cast<RankedTensorType>(probs.getType());
    if (!pt || (pt.getRank() != 3 && pt.getRank() != 4))
      return rewriter.notifyMatchFailure(op, "not rank 3 or 4");
    int64_t rank = pt.getRank();
    int64_t axis = intAttr(softmax, "axis", softmax.getOpset() < 13 ? 1 : -1);
    // Before opset 13 Softmax flattens [axis, rank): the last axis only.
    if (axis != -1 && axis != rank - 1)
      return rewriter.notifyMatchFailure(op, "softmax over another axis");
    std::optional<Scores> s = matchScores(softmax.getInputs()[0]);
    if (!s)
      return rewriter.notifyMatchFailure(op, "no Q @ K^T scores");

    auto qt = dyn_cast<RankedTensorType>(s->query.getType());
    auto ktt = dyn_cast<RankedTensorType>(s->keyT.getType());
    auto vt = dyn_cast<RankedTensorType>(value.getType());
    if (!qt || !ktt || !vt || qt.getRank() != rank || ktt.getRank() != rank ||
        vt.getRank() != rank)
      return rewriter.notifyMatchFailure(op, "operands of other ranks");
    Type elem = qt.getElementType();
    if (!isa<FloatType>(elem) || ktt.getElementType() != elem ||
        vt.getElementType() != elem)
      return rewriter.notifyMatchFailure(op, "operands of other types");
    // loom.attention does not broadcast batch or head dims.
    for (int64_t i = 0; i < rank - 2; ++i)
      if (!compatible(qt.getDimSize(i), ktt.getDimSize(i)) ||
          !compatible(qt.getDimSize(i), vt.getDimSize(i)))
        return rewriter.notifyMatchFailure(op, "broadcast batch dims");
    if (!compatible(qt.getDimSize(rank - 1), ktt.getDimSize(rank - 2)) ||
        !compatible(ktt.getDimSize(rank - 1), vt.getDimSize(rank - 2)))
      return rewriter.notifyMatchFailure(op, "contraction sizes differ");
    SmallVector<int64_t> scoreShape(qt.getShape().drop_back());
    scoreShape.push_back(ktt.getDimSize(rank - 1));
    if (s->addMask) {
      auto mt = dyn_cast<RankedTensorType>(s->addMask.getType());
      if (!mt || mt.getElementType() != elem || !broadcastsTo(mt, scoreShape))
        return rewriter.notifyMatchFailure(op, "mask does not broadcast");
    }
    if (s->whereCond) {
      auto ct = dyn_cast<RankedTensorType>(s->whereCond.getType());
      auto ft = dyn_cast<RankedTensorType>(s->whereFill.getType());
      if (!ct || !ft || ft.getElementType() != elem ||
          !broadcastsTo(ct, scoreShape) || !broadcastsTo(ft, scoreShape))
        return rewriter.notifyMatchFailure(op, "mask does not broadcast");
    }

    Location loc = op.getLoc();
    StringRef domain = op.getDomain();
    int64_t opset = op.getOpset();
    // The key [.., Skv, D]: K^T with its last two axes swapped.
    Value keySrc = s->keyT;
    SmallVector<int64_t> perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    if (onnxir::NodeOp tr = nodeOf(s->keyT, "Transpose")) {
      auto permAttr =
          dyn_cast_or_null<DenseI64ArrayAttr>(tr.getOnnxAttr("perm"));
      auto srcType = dyn_cast<RankedTensorType>(tr.getInputs()[0].getType());
      if (permAttr && srcType && srcType.getRank() == rank) {
        keySrc = tr.getInputs()[0];
        perm.assign(permAttr.asArrayRef().begin(), permAttr.asArrayRef().end());
      }
    }
    std::swap(perm[rank - 1], perm[rank - 2]);
    Value key = keySrc;
    auto srcType = cast<RankedTensorType>(keySrc.getType());
    bool identity = llvm::equal(perm, llvm::seq<int64_t>(0, rank));
    if (!identity) {
      SmallVector<int64_t> shape;
      for (int64_t p : perm)
        shape.push_back(srcType.getDimSize(p));
      key = onnxir::NodeOp::create(
                rewriter, loc, RankedTensorType::get(shape, elem),
                ValueRange{keySrc}, "Transpose", domain, opset,
                rewriter.getDictionaryAttr(rewriter.getNamedAttr(
                    "perm", rewriter.getDenseI64ArrayAttr(perm))),
                nullptr, 0)
                .getResult(0);
    }

    Value mask = s->addMask;
    if (s->whereCond) {
      // Where(cond, fill, 0): the additive form of the boolean mask.
      Value zero = arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(RankedTensorType::get({}, elem),
                                 rewriter.getFloatAttr(elem, 0.0)));
      auto ct = cast<RankedTensorType>(s->whereCond.getType());
      auto ft = cast<RankedTensorType>(s->whereFill.getType());
      int64_t mr = std::max(ct.getRank(), ft.getRank());
      SmallVector<int64_t> shape(mr, 1);
      for (RankedTensorType t : {ct, ft})
        for (auto [i, d] : llvm::enumerate(t.getShape())) {
          int64_t &out = shape[mr - t.getRank() + i];
          if (d != 1)
            out = d;
        }
      SmallVector<Value> ins = {s->whereCond, s->whereFill, zero};
      if (!s->fillWhereTrue)
        std::swap(ins[1], ins[2]);
      mask = onnxir::NodeOp::create(rewriter, loc,
                                    RankedTensorType::get(shape, elem), ins,
                                    "Where", domain, opset,
                                    rewriter.getDictionaryAttr({}), nullptr, 0)
                 .getResult(0);
    }

    // Grouped-query attention: read the keys and values unrepeated.
    IntegerAttr kvHeads;
    if (rank == 4) {
      std::optional<RepeatedHeads> rk = matchRepeatedHeads(key);
      std::optional<RepeatedHeads> rv = matchRepeatedHeads(value);
      bool topLevel = isa<func::FuncOp>(op->getParentOp());
      if (rk && rv && rk->kvHeads == rv->kvHeads &&
          (topLevel || (!rk->expandShape && !rv->expandShape))) {
        for (const RepeatedHeads &r : {*rk, *rv})
          if (r.expandShape)
            checkRepeatAtRunTime(rewriter, loc, r);
        key = rk->source;
        value = rv->source;
        kvHeads = rewriter.getI64IntegerAttr(rk->kvHeads);
      }
    }

    auto attention = AttentionOp::create(
        rewriter, loc, s->query, key, value, mask,
        rewriter.getF32FloatAttr(static_cast<float>(s->scale)),
        s->causal ? rewriter.getUnitAttr() : nullptr, kvHeads,
        /*window=*/nullptr, /*block_sparse=*/nullptr,
        /*routed=*/nullptr, /*score_quant_block=*/nullptr);
    Value result = attention.getResult();
    if (result.getType() != op.getResult(0).getType())
      result = tensor::CastOp::create(rewriter, loc, op.getResult(0).getType(),
                                      result);
    rewriter.replaceOp(op, result);
    eraseDeadHolderOps(rewriter, {softmax});
    return success();
  }
};

} // namespace

void loom::eraseDeadHolderOps(RewriterBase &rewriter,
                              ArrayRef<Operation *> roots) {
  SmallVector<Operation *> worklist;
  for (Operation *root : roots)
    if (!llvm::is_contained(worklist, root))
      worklist.push_back(root);
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (!isa<onnxir::NodeOp>(op) || !op->use_empty() ||
        op->getNumRegions() != 0)
      continue;
    SmallVector<Operation *> defs;
    for (Value in : op->getOperands())
      if (Operation *def = in.getDefiningOp())
        defs.push_back(def);
    rewriter.eraseOp(op);
    for (Operation *def : defs)
      if (!llvm::is_contained(worklist, def))
        worklist.push_back(def);
  }
}

namespace {

/// Raises decomposed attention in the imported graph.
struct RaiseAttentionPass final
    : public loom::impl::RaiseAttentionPassBase<RaiseAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseAttention>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
