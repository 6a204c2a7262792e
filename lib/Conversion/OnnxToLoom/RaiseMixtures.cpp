//===- RaiseMixtures.cpp - Masked mixtures of experts -> loom.moe ---------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// A mixture of experts as torch exports a loop over experts with masks,
//
//   w, idx = TopK(router(x), k)                 (w possibly renormalized)
//   out = sum_{e < E} ReduceSum(w * Cast(Equal(idx, e)), -1, keepdims=1)
//                     * FFN_e(x)
//   FFN_e(x) = act(x @ W1_e (+ b1_e)) @ W2_e (+ b2_e)
//
// runs every expert on every token and multiplies most results by zero.
// `loom.moe x, w, idx experts(W1_0, (b1_0,) W2_0, (b2_0,) ...)` computes the
// same sum with each expert on its routed tokens only. The activation is the
// loom op the earlier raising made of it (`loom.gelu`, `loom.silu`) or a
// Relu. The chain of Adds may start from zeros (ConstantOfShape) or from the
// first term; the experts must be exactly 0 .. E-1, each once.
//
// MLP-Mixer's token mixing, Transpose(MLP(Transpose(x, [0, 2, 1])),
// [0, 2, 1]) with the same two-layer MLP, becomes `loom.token_mixing`; a
// Monarch matrix (two batched block-diagonal MatMuls joined by Reshapes and
// Transposes, as the Monarch paper's code exports) becomes `loom.monarch`.
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"

#include "RaiseUtils.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace loom {
#define GEN_PASS_DEF_RAISEMIXTURESPASS
#include "loom/Conversion/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-raise-mixtures"

using namespace mlir;
using namespace loom;
using namespace loom::raise;

namespace {

/// One expert's FFN.
struct Expert {
  Value w1, b1, w2, b2;
  Activation act;
};

/// One term gate_e(w, idx) * FFN_e(x) of the sum.
struct Term {
  Value weights, indices, input;
  int64_t expert;
  Expert ffn;
};

/// The two inputs of a binary node `type`, or nullopt.
std::optional<std::pair<Value, Value>> binary(Value v, StringRef type) {
  onnxir::NodeOp node = nodeOf(v, type);
  if (!node || node.getInputs().size() != 2)
    return std::nullopt;
  return std::make_pair(node.getInputs()[0], node.getInputs()[1]);
}

/// x @ W + b (either order of the Add) or x @ W with W rank 2 and b rank 1:
/// returns (x, W, b or null).
std::optional<std::tuple<Value, Value, Value>> linear(Value v) {
  Value bias;
  if (auto add = binary(v, "Add")) {
    for (auto [b, mm] : {std::pair(add->first, add->second),
                         std::pair(add->second, add->first)}) {
      auto bt = dyn_cast<RankedTensorType>(b.getType());
      if (bt && bt.getRank() == 1 && nodeOf(mm, "MatMul")) {
        bias = b;
        v = mm;
        break;
      }
    }
    if (!bias)
      return std::nullopt;
  }
  auto mm = binary(v, "MatMul");
  if (!mm)
    return std::nullopt;
  auto wt = dyn_cast<RankedTensorType>(mm->second.getType());
  if (!wt || wt.getRank() != 2)
    return std::nullopt;
  return std::make_tuple(mm->first, mm->second, bias);
}

/// act(x @ W1 + b1) @ W2 + b2 -> (x, expert).
std::optional<std::pair<Value, Expert>> matchFfn(Value v) {
  auto out = linear(v);
  if (!out)
    return std::nullopt;
  auto [hidden, w2, b2] = *out;
  Expert e{Value(), Value(), w2, b2, Activation::None};
  Value pre = hidden;
  if (auto gelu = hidden.getDefiningOp<GeluOp>()) {
    e.act = gelu.getApproximate() == GeluApproximation::Tanh
                ? Activation::GeluTanh
                : Activation::Gelu;
    pre = gelu.getInput();
  } else if (auto silu = hidden.getDefiningOp<SiluOp>()) {
    e.act = Activation::Silu;
    pre = silu.getInput();
  } else if (onnxir::NodeOp relu = nodeOf(hidden, "Relu")) {
    e.act = Activation::Relu;
    pre = relu.getInputs()[0];
  }
  auto in = linear(pre);
  if (!in)
    return std::nullopt;
  auto [x, w1, b1] = *in;
  e.w1 = w1;
  e.b1 = b1;
  return std::make_pair(x, e);
}

/// ReduceSum(w * Cast(Equal(idx, e)), -1, keepdims) -> (w, idx, e).
std::optional<std::tuple<Value, Value, int64_t>> matchGate(Value v) {
  onnxir::NodeOp sum = nodeOf(v, "ReduceSum");
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!sum || !type || intAttr(sum, "keepdims", 1) != 1)
    return std::nullopt;
  std::optional<SmallVector<int64_t>> axes = axesOf(sum, type.getRank());
  if (!axes || axes->size() != 1 || (*axes)[0] != type.getRank() - 1)
    return std::nullopt;
  auto mul = binary(sum.getInputs()[0], "Mul");
  if (!mul)
    return std::nullopt;
  for (auto [w, mask] : {std::pair(mul->first, mul->second),
                         std::pair(mul->second, mul->first)}) {
    onnxir::NodeOp cast = nodeOf(mask, "Cast");
    auto eq = cast ? binary(cast.getInputs()[0], "Equal") : std::nullopt;
    if (!eq)
      continue;
    for (auto [idx, e] :
         {std::pair(eq->first, eq->second), std::pair(eq->second, eq->first)}) {
      auto it = dyn_cast<RankedTensorType>(idx.getType());
      std::optional<int64_t> expert = splatInt(e);
      auto et = dyn_cast<RankedTensorType>(e.getType());
      if (it && it.getElementType().isInteger(64) && expert && et &&
          et.getNumElements() == 1)
        return std::make_tuple(w, idx, *expert);
    }
  }
  return std::nullopt;
}

/// gate * FFN(x), either order.
std::optional<Term> matchTerm(Value v) {
  auto mul = binary(v, "Mul");
  if (!mul)
    return std::nullopt;
  for (auto [g, f] : {std::pair(mul->first, mul->second),
                      std::pair(mul->second, mul->first)}) {
    auto gate = matchGate(g);
    auto ffn = gate ? matchFfn(f) : std::nullopt;
    if (ffn)
      return Term{std::get<0>(*gate), std::get<1>(*gate), ffn->first,
                  std::get<2>(*gate), ffn->second};
  }
  return std::nullopt;
}

/// Collects the terms of the Add chain ending in `v` (last term first);
/// false when the chain holds anything else. Inner sums must have one use.
bool collectTerms(Value v, SmallVectorImpl<Term> &terms) {
  while (true) {
    if (std::optional<Term> t = matchTerm(v)) {
      terms.push_back(*t);
      return true;
    }
    auto add = binary(v, "Add");
    if (!add)
      return false;
    std::optional<Term> t = matchTerm(add->second);
    Value rest = add->first;
    if (!t) {
      t = matchTerm(add->first);
      rest = add->second;
    }
    if (!t)
      return false;
    terms.push_back(*t);
    if (isZeros(rest))
      return true;
    if (!rest.hasOneUse())
      return false;
    v = rest;
  }
}

/// Replaces `root` by the result of the just created `raised` op when the
/// op verifies (its verifier checks the weights' shapes; a failure only
/// means the pattern does not apply) and the result casts to `root`'s type;
/// otherwise erases `raised`. The holder ops feeding `root` die with it.
LogicalResult replaceIfValid(PatternRewriter &rewriter, onnxir::NodeOp root,
                             Operation *raised, StringRef whyNot) {
  bool valid;
  {
    ScopedDiagnosticHandler quiet(raised->getContext(),
                                  [](Diagnostic &) { return success(); });
    valid = succeeded(mlir::verify(raised));
  }
  Type type = root.getResult(0).getType();
  Value result = raised->getResult(0);
  if (!valid || (result.getType() != type && !isa<TensorType>(type))) {
    rewriter.eraseOp(raised);
    return rewriter.notifyMatchFailure(root, whyNot);
  }
  if (result.getType() != type)
    result = tensor::CastOp::create(rewriter, root.getLoc(), type, result);
  SmallVector<Operation *> feeding;
  for (Value in : root->getOperands())
    if (Operation *def = in.getDefiningOp())
      feeding.push_back(def);
  rewriter.replaceOp(root, result);
  eraseDeadHolderOps(rewriter, feeding);
  return success();
}

struct RaiseMaskedMoe : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    if (!nodeOf(op.getResult(0), "Add"))
      return failure();
    // Only the whole chain: not a sum that a later Add extends by a term.
    for (Operation *user : op->getUsers())
      if (auto add = user->getNumResults() == 1
                         ? binary(user->getResult(0), "Add")
                         : std::nullopt)
        if (matchTerm(add->first) || matchTerm(add->second))
          return rewriter.notifyMatchFailure(op, "part of a longer sum");
    SmallVector<Term> terms;
    if (!collectTerms(op.getResult(0), terms) || terms.size() < 2)
      return rewriter.notifyMatchFailure(op, "not a sum of gated experts");
    const Term &first = terms.front();
    int64_t n = terms.size();
    SmallVector<const Term *> byExpert(n, nullptr);
    bool biases = first.ffn.b1 && first.ffn.b2;
    for (const Term &t : terms) {
      if (t.weights != first.weights || t.indices != first.indices ||
          t.input != first.input || t.ffn.act != first.ffn.act ||
          (t.ffn.b1 && t.ffn.b2) != biases ||
          (!biases && (t.ffn.b1 || t.ffn.b2)))
        return rewriter.notifyMatchFailure(op, "experts differ in form");
      if (t.expert < 0 || t.expert >= n || byExpert[t.expert])
        return rewriter.notifyMatchFailure(op, "experts are not 0 .. E-1");
      byExpert[t.expert] = &t;
    }
    auto xt = dyn_cast<RankedTensorType>(first.input.getType());
    auto wt = dyn_cast<RankedTensorType>(first.weights.getType());
    auto it = dyn_cast<RankedTensorType>(first.indices.getType());
    if (!xt || !wt || !it || xt.getRank() < 2 || wt.getRank() != xt.getRank() ||
        it.getRank() != xt.getRank() ||
        wt.getElementType() != xt.getElementType())
      return rewriter.notifyMatchFailure(op, "gates do not match the tokens");
    SmallVector<Value> experts;
    for (const Term *t : byExpert) {
      experts.push_back(t->ffn.w1);
      if (biases)
        experts.push_back(t->ffn.b1);
      experts.push_back(t->ffn.w2);
      if (biases)
        experts.push_back(t->ffn.b2);
    }
    auto moe =
        MoeOp::create(rewriter, op.getLoc(), first.input, first.weights,
                      first.indices, experts, rewriter.getI64IntegerAttr(n),
                      ActivationAttr::get(getContext(), first.ffn.act));
    // The chain's Adds and terms die with the root (erased transitively).
    return replaceIfValid(rewriter, op, moe, "the experts' shapes differ");
  }
};

/// True when `node` is a Transpose swapping the last two axes of a rank-3
/// tensor.
bool swapsLastTwo(onnxir::NodeOp node) {
  auto perm = dyn_cast_or_null<DenseI64ArrayAttr>(node.getOnnxAttr("perm"));
  return perm && llvm::equal(perm.asArrayRef(), ArrayRef<int64_t>{0, 2, 1});
}

/// Transpose(FFN(Transpose(x, [0, 2, 1])), [0, 2, 1]) -> loom.token_mixing.
struct RaiseTokenMixing : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    if (!nodeOf(op.getResult(0), "Transpose") || !swapsLastTwo(op))
      return failure();
    auto ffn = matchFfn(op.getInputs()[0]);
    onnxir::NodeOp inner =
        ffn ? nodeOf(ffn->first, "Transpose") : onnxir::NodeOp();
    if (!inner || !swapsLastTwo(inner))
      return rewriter.notifyMatchFailure(op, "not Transpose-MLP-Transpose");
    const Expert &e = ffn->second;
    if ((e.b1 == nullptr) != (e.b2 == nullptr))
      return rewriter.notifyMatchFailure(op, "one bias only");
    Value x = inner.getInputs()[0];
    auto xt = dyn_cast<RankedTensorType>(x.getType());
    if (!xt || xt.getRank() != 3)
      return rewriter.notifyMatchFailure(op, "not a [B, S, C] input");
    auto mixing =
        TokenMixingOp::create(rewriter, op.getLoc(), x, e.w1, e.w2, e.b1, e.b2,
                              ActivationAttr::get(getContext(), e.act));
    return replaceIfValid(rewriter, op, mixing, "weights do not fit the input");
  }
};

/// The integer elements of a constant, or nullopt.
static std::optional<SmallVector<int64_t>> intsOf(Value v) {
  DenseElementsAttr dense = constantOf(v);
  if (!dense || !isa<IntegerType>(dense.getElementType()))
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &i : dense.getValues<APInt>())
    out.push_back(i.getSExtValue());
  return out;
}

/// The input of `v`'s Transpose node when its permutation is `perm`.
static Value transposeInput(Value v, ArrayRef<int64_t> perm) {
  onnxir::NodeOp node = nodeOf(v, "Transpose");
  auto attr =
      node ? dyn_cast_or_null<DenseI64ArrayAttr>(node.getOnnxAttr("perm"))
           : DenseI64ArrayAttr();
  if (!attr || !llvm::equal(attr.asArrayRef(), perm))
    return {};
  return node.getInputs()[0];
}

/// The data input of `v`'s Reshape node when its shape is the constant
/// `shape`.
static Value reshapeInput(Value v, ArrayRef<int64_t> shape) {
  onnxir::NodeOp node = nodeOf(v, "Reshape");
  if (!node || node.getInputs().size() != 2)
    return {};
  std::optional<SmallVector<int64_t>> got = intsOf(node.getInputs()[1]);
  if (!got || !llvm::equal(*got, shape))
    return {};
  return node.getInputs()[0];
}

/// True when `shape` (a Reshape's shape input) is x's leading dims followed
/// by `last`: a constant equal to x's static leading dims, or the
/// Concat(Unsqueeze(Gather(Shape(x), i))..., [last]) exporters compute.
static bool isLeadingShapeOf(Value shape, Value x, int64_t last) {
  auto xt = dyn_cast<RankedTensorType>(x.getType());
  if (!xt)
    return false;
  int64_t rank = xt.getRank();
  if (std::optional<SmallVector<int64_t>> c = intsOf(shape)) {
    if (static_cast<int64_t>(c->size()) != rank || c->back() != last)
      return false;
    for (int64_t i = 0; i + 1 < rank; ++i)
      if (xt.isDynamicDim(i) || (*c)[i] != xt.getDimSize(i))
        return false;
    return true;
  }
  onnxir::NodeOp concat = nodeOf(shape, "Concat");
  if (!concat || concat.getInputs().size() != static_cast<size_t>(rank))
    return false;
  for (int64_t i = 0; i < rank; ++i) {
    Value part = concat.getInputs()[i];
    std::optional<SmallVector<int64_t>> c = intsOf(part);
    if (i == rank - 1) {
      if (!c || c->size() != 1 || c->front() != last)
        return false;
      continue;
    }
    if (c && c->size() == 1 && !xt.isDynamicDim(i) &&
        c->front() == xt.getDimSize(i))
      continue;
    onnxir::NodeOp unsq = nodeOf(part, "Unsqueeze");
    onnxir::NodeOp gather =
        unsq ? nodeOf(unsq.getInputs()[0], "Gather") : onnxir::NodeOp();
    onnxir::NodeOp shapeOf =
        gather ? nodeOf(gather.getInputs()[0], "Shape") : onnxir::NodeOp();
    std::optional<SmallVector<int64_t>> idx =
        gather ? intsOf(gather.getInputs()[1]) : std::nullopt;
    if (!shapeOf || shapeOf.getInputs()[0] != x || !idx || idx->size() != 1 ||
        idx->front() != i || intAttr(gather, "axis", 0) != 0 ||
        intAttr(shapeOf, "start", 0) != 0 || shapeOf.getOnnxAttr("end"))
      return false;
  }
  return true;
}

/// The Monarch paper's blockdiag_butterfly_multiply as torch exports it,
///   x -> Reshape [-1, K, P] -> Transpose [1, 0, 2] -> MatMul w1 [K, P, Q]
///     -> Transpose [1, 0, 2] -> Reshape [-1, K, Q] -> Transpose [2, 0, 1]
///     -> MatMul w2 [Q, K, S] -> Transpose [1, 2, 0] -> Reshape [..., S Q],
/// -> loom.monarch x, w1, w2.
struct RaiseMonarch : OpRewritePattern<onnxir::NodeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnxir::NodeOp op,
                                PatternRewriter &rewriter) const override {
    if (!nodeOf(op.getResult(0), "Reshape") || op.getInputs().size() != 2)
      return failure();
    Value out2 = transposeInput(op.getInputs()[0], {1, 2, 0});
    onnxir::NodeOp mm2 = nodeOf(out2, "MatMul");
    if (!mm2)
      return rewriter.notifyMatchFailure(op, "not Transpose(MatMul) [1, 2, 0]");
    auto w2t = dyn_cast<RankedTensorType>(mm2.getInputs()[1].getType());
    if (!w2t || w2t.getRank() != 3 || !w2t.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "no static [Q, K, S] factor");
    int64_t q = w2t.getDimSize(0), k = w2t.getDimSize(1), s = w2t.getDimSize(2);
    Value grid = transposeInput(mm2.getInputs()[0], {2, 0, 1});
    Value t1 = grid ? reshapeInput(grid, {-1, k, q}) : Value();
    Value out1 = t1 ? transposeInput(t1, {1, 0, 2}) : Value();
    onnxir::NodeOp mm1 = nodeOf(out1, "MatMul");
    if (!mm1)
      return rewriter.notifyMatchFailure(
          op, "the factors are not joined by the K x Q grid's transpose");
    auto w1t = dyn_cast<RankedTensorType>(mm1.getInputs()[1].getType());
    if (!w1t || w1t.getRank() != 3 || !w1t.hasStaticShape() ||
        w1t.getDimSize(0) != k || w1t.getDimSize(2) != q)
      return rewriter.notifyMatchFailure(op, "no static [K, P, Q] factor");
    int64_t p = w1t.getDimSize(1);
    Value t0 = transposeInput(mm1.getInputs()[0], {1, 0, 2});
    Value x = t0 ? reshapeInput(t0, {-1, k, p}) : Value();
    auto xt = x ? dyn_cast<RankedTensorType>(x.getType()) : RankedTensorType();
    if (!xt || xt.getRank() < 1 || xt.getShape().back() != k * p)
      return rewriter.notifyMatchFailure(op, "the input is not [..., K P]");
    if (!isLeadingShapeOf(op.getInputs()[1], x, s * q))
      return rewriter.notifyMatchFailure(
          op, "the result is not the input's leading dims by S Q");
    auto monarch = MonarchOp::create(rewriter, op.getLoc(), x,
                                     mm1.getInputs()[1], mm2.getInputs()[1]);
    return replaceIfValid(rewriter, op, monarch,
                          "the factors do not fit the input");
  }
};

/// Raises masked mixtures of experts in the imported graph to loom.moe.
struct RaiseMixturesPass final
    : public loom::impl::RaiseMixturesPassBase<RaiseMixturesPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseMaskedMoe, RaiseTokenMixing, RaiseMonarch>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
