//===- LoomToLinalg.cpp - Lower loom ops to linalg on tensors -------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The reference lowering of the loom ops: each becomes a few `linalg.generic`
// reductions and elementwise ops on tensors. Aggregated linalg ops
// (linalg.softmax) are decomposed too, so that everything after this pass is
// a plain structured op.
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "Builders.h"
#include "loom/Transforms/WeightMatmul.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace loom {
#define GEN_PASS_DEF_LOOMTOLINALGPASS
#include "loom/Conversion/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-to-linalg"

using namespace mlir;
using namespace loom;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Returns a tensor filled with `fill`, of `shape` (dynamic sizes taken from
/// `dynSizes`).
static Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                          Type elem, ValueRange dynSizes, Value fill) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, elem, dynSizes);
  return linalg::FillOp::create(b, loc, fill, empty).getResult(0);
}

/// Product of dims [from, rank) of `value` as a float scalar of type `elem`.
static Value elementCount(OpBuilder &b, Location loc, Value value, int64_t from,
                          FloatType elem) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t staticCount = 1;
  Value dynamic;
  for (int64_t i = from; i < type.getRank(); ++i) {
    if (!type.isDynamicDim(i)) {
      staticCount *= type.getDimSize(i);
      continue;
    }
    Value d = tensor::DimOp::create(b, loc, value, i);
    dynamic = dynamic ? arith::MulIOp::create(b, loc, dynamic, d) : d;
  }
  Value count = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(elem, static_cast<double>(staticCount)));
  if (!dynamic)
    return count;
  Value asInt = arith::IndexCastOp::create(b, loc, b.getI64Type(), dynamic);
  Value asFloat = arith::SIToFPOp::create(b, loc, elem, asInt);
  return arith::MulFOp::create(b, loc, count, asFloat);
}

/// Map of an operand of rank `operandRank` that broadcasts (numpy rules,
/// aligned right) into loops [0, loops); static size-1 dims read index 0.
static AffineMap broadcastMap(MLIRContext *ctx, int64_t loops,
                              RankedTensorType operand,
                              ArrayRef<int64_t> loopSizes) {
  SmallVector<AffineExpr> exprs;
  int64_t offset = loops - operand.getRank();
  for (int64_t i = 0; i < operand.getRank(); ++i) {
    bool bcast = operand.getDimSize(i) == 1 && loopSizes[offset + i] != 1;
    exprs.push_back(bcast ? getAffineConstantExpr(0, ctx)
                          : getAffineDimExpr(offset + i, ctx));
  }
  return AffineMap::get(loops, 0, exprs, ctx);
}

/// Sums `f(x)` over dims [axis, rank) of `x`; the result has rank `axis`.
static Value
reduceTrailing(OpBuilder &b, Location loc, Value x, int64_t axis,
               ValueRange extraInputs, ArrayRef<AffineMap> extraMaps,
               function_ref<Value(OpBuilder &, Location, ValueRange)> term) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *ctx = b.getContext();
  int64_t rank = type.getRank();
  SmallVector<int64_t> outShape(type.getShape().take_front(axis));
  SmallVector<Value> dyn;
  for (int64_t i = 0; i < axis; ++i)
    if (type.isDynamicDim(i))
      dyn.push_back(tensor::DimOp::create(b, loc, x, i));
  Value zero = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(type.getElementType(), 0.0));
  Value init = filledTensor(b, loc, outShape, type.getElementType(), dyn, zero);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  maps.append(extraMaps.begin(), extraMaps.end());
  SmallVector<AffineExpr> outExprs;
  for (int64_t i = 0; i < axis; ++i)
    outExprs.push_back(getAffineDimExpr(i, ctx));
  maps.push_back(AffineMap::get(rank, 0, outExprs, ctx));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  for (int64_t i = axis; i < rank; ++i)
    iters[i] = utils::IteratorType::reduction;
  SmallVector<Value> inputs = {x};
  inputs.append(extraInputs.begin(), extraInputs.end());
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value t = term(nb, nl, args.drop_back());
        linalg::YieldOp::create(
            nb, nl,
            arith::AddFOp::create(nb, nl, args.back(), t, kReassoc)
                .getResult());
      });
  return generic.getResult(0);
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

/// y = normalize(x) * scale + bias over dims [axis, rank). `center` selects
/// layer norm (subtract the mean) over RMS norm. The result is written into
/// `dest` when given (a tensor of x's type), else into a new tensor.
static Value buildNorm(OpBuilder &b, Location loc, Value x, Value scale,
                       Value bias, int64_t axis, double epsilon, bool center,
                       Value dest = {}) {
  auto type = cast<RankedTensorType>(x.getType());
  auto elem = cast<FloatType>(type.getElementType());
  MLIRContext *ctx = b.getContext();
  int64_t rank = type.getRank();
  Value count = elementCount(b, loc, x, axis, elem);
  SmallVector<AffineExpr> statExprs;
  for (int64_t i = 0; i < axis; ++i)
    statExprs.push_back(getAffineDimExpr(i, ctx));
  AffineMap statMap = AffineMap::get(rank, 0, statExprs, ctx);

  Value mean;
  if (center) {
    Value sum = reduceTrailing(
        b, loc, x, axis, {}, {},
        [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    mean = sum;
  }
  Value sq = reduceTrailing(
      b, loc, x, axis, center ? ValueRange{mean} : ValueRange{},
      center ? ArrayRef<AffineMap>{statMap} : ArrayRef<AffineMap>{},
      [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        Value v = a[0];
        if (center) {
          Value m = arith::DivFOp::create(nb, nl, a[1], count);
          v = arith::SubFOp::create(nb, nl, v, m);
        }
        return arith::MulFOp::create(nb, nl, v, v);
      });

  SmallVector<Value> inputs = {x, sq};
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank), statMap};
  if (center) {
    inputs.push_back(mean);
    maps.push_back(statMap);
  }
  SmallVector<int64_t> loopSizes(type.getShape());
  int64_t scaleIdx = -1, biasIdx = -1;
  if (scale) {
    scaleIdx = inputs.size();
    inputs.push_back(scale);
    maps.push_back(broadcastMap(
        ctx, rank, cast<RankedTensorType>(scale.getType()), loopSizes));
  }
  if (bias) {
    biasIdx = inputs.size();
    inputs.push_back(bias);
    maps.push_back(broadcastMap(
        ctx, rank, cast<RankedTensorType>(bias.getType()), loopSizes));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init = dest ? dest
                    : tensor::EmptyOp::create(b, loc, type.getShape(), elem,
                                              dynamicSizes(b, loc, x))
                          .getResult();
  Value eps = arith::ConstantOp::create(b, loc, b.getFloatAttr(elem, epsilon));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value v = a[0];
        if (center) {
          Value m = arith::DivFOp::create(nb, nl, a[2], count);
          v = arith::SubFOp::create(nb, nl, v, m);
        }
        Value var = arith::DivFOp::create(nb, nl, a[1], count);
        Value inv = math::RsqrtOp::create(
            nb, nl, arith::AddFOp::create(nb, nl, var, eps));
        Value y = arith::MulFOp::create(nb, nl, v, inv);
        if (scaleIdx >= 0)
          y = arith::MulFOp::create(nb, nl, y, a[scaleIdx]);
        if (biasIdx >= 0)
          y = arith::AddFOp::create(nb, nl, y, a[biasIdx]);
        linalg::YieldOp::create(nb, nl, y);
      });
  return generic.getResult(0);
}

/// Rows of at most this many elements are normalized one at a time (they
/// stay in L1/L2 between the reductions and the normalization).
static constexpr int64_t kMaxRowwiseNorm = 16384;

/// The norm of buildNorm computed one row (dims [axis, rank)) at a time: an
/// scf.forall over the leading dims whose body reduces and normalizes one
/// row while it is in cache, one parallel loop instead of three passes over
/// the tensor (each its own parallel region). Rows with dynamic sizes or of
/// more than kMaxRowwiseNorm elements, scales or biases of more dims than a
/// row, and norms without leading dims keep buildNorm's whole-tensor form.
static Value buildRowwiseNorm(OpBuilder &b, Location loc, Value x, Value scale,
                              Value bias, int64_t axis, double epsilon,
                              bool center) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  ArrayRef<int64_t> rowShape = type.getShape().drop_front(axis);
  auto rowRank = [&](Value v) {
    return !v || cast<RankedTensorType>(v.getType()).getRank() <= rank - axis;
  };
  if (axis == 0 || ShapedType::isDynamicShape(rowShape) ||
      ShapedType::getNumElements(rowShape) > kMaxRowwiseNorm ||
      !rowRank(scale) || !rowRank(bias))
    return buildNorm(b, loc, x, scale, bias, axis, epsilon, center);
  SmallVector<OpFoldResult> rows;
  for (int64_t i = 0; i < axis; ++i)
    rows.push_back(tensor::getMixedSize(b, loc, x, i));
  Value init = tensor::EmptyOp::create(
      b, loc, type.getShape(), type.getElementType(), dynamicSizes(b, loc, x));
  auto forall = scf::ForallOp::create(
      b, loc, rows, ValueRange{init}, std::nullopt,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        SmallVector<OpFoldResult> offsets, sizes, strides;
        for (int64_t i = 0; i < rank; ++i) {
          offsets.push_back(i < axis ? OpFoldResult(args[i])
                                     : nb.getIndexAttr(0));
          sizes.push_back(nb.getIndexAttr(i < axis ? 1 : type.getDimSize(i)));
          strides.push_back(nb.getIndexAttr(1));
        }
        auto rowType = RankedTensorType::get(rowShape, type.getElementType());
        Value row = tensor::ExtractSliceOp::create(nb, l, rowType, x, offsets,
                                                   sizes, strides);
        // The row of the result is the destination: written in place, not
        // through a temporary and a copy.
        Value out = tensor::ExtractSliceOp::create(nb, l, rowType, args.back(),
                                                   offsets, sizes, strides);
        Value y = buildNorm(nb, l, row, scale, bias, /*axis=*/0, epsilon,
                            center, out);
        buildInParallel(nb, l, {{y, args.back(), offsets, sizes}});
      });
  return forall.getResult(0);
}

namespace {

/// loom.layer_norm -> two reductions and one elementwise op, per row.
struct LayerNormLowering : OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormOp op,
                                PatternRewriter &rewriter) const override {
    Value y = buildRowwiseNorm(
        rewriter, op.getLoc(), op.getInput(), op.getScale(), op.getBias(),
        op.getNormalizedAxis(), op.getEpsilon().convertToDouble(),
        /*center=*/true);
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// loom.rms_norm -> one reduction and one elementwise op, per row.
struct RMSNormLowering : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    Value y = buildRowwiseNorm(rewriter, op.getLoc(), op.getInput(),
                               op.getScale(), Value(), op.getNormalizedAxis(),
                               op.getEpsilon().convertToDouble(),
                               /*center=*/false);
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// loom.silu -> one elementwise op: x / (1 + exp(-x)).
struct SiluLowering : OpRewritePattern<SiluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SiluOp op,
                                PatternRewriter &rewriter) const override {
    Type elem = op.getInput().getType().getElementType();
    rewriter.replaceOp(
        op, mapElementwise(rewriter, op.getLoc(), op.getInput(),
                           [&](OpBuilder &b, Location l, Value v) -> Value {
                             Value one = arith::ConstantOp::create(
                                 b, l, b.getFloatAttr(elem, 1));
                             Value e = math::ExpOp::create(
                                 b, l, arith::NegFOp::create(b, l, v));
                             return arith::DivFOp::create(
                                 b, l, v, arith::AddFOp::create(b, l, one, e));
                           }));
    return success();
  }
};

/// loom.gelu -> one elementwise op (erf or tanh form).
struct GeluLowering : OpRewritePattern<GeluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GeluOp op,
                                PatternRewriter &rewriter) const override {
    Type elem = op.getInput().getType().getElementType();
    bool useTanh = op.getApproximate() == GeluApproximation::Tanh;
    auto cst = [&](OpBuilder &b, Location l, double v) -> Value {
      return arith::ConstantOp::create(b, l, b.getFloatAttr(elem, v));
    };
    rewriter.replaceOp(
        op, mapElementwise(
                rewriter, op.getLoc(), op.getInput(),
                [&](OpBuilder &b, Location l, Value v) -> Value {
                  Value inner;
                  if (useTanh) {
                    Value cube = arith::MulFOp::create(
                        b, l, v, arith::MulFOp::create(b, l, v, v));
                    Value t = arith::AddFOp::create(
                        b, l, v,
                        arith::MulFOp::create(b, l, cst(b, l, 0.044715), cube));
                    inner = math::TanhOp::create(
                        b, l,
                        arith::MulFOp::create(
                            b, l, cst(b, l, 0.7978845608028654), t));
                  } else {
                    inner = math::ErfOp::create(
                        b, l,
                        arith::MulFOp::create(b, l, v,
                                              cst(b, l, 0.7071067811865476)));
                  }
                  Value onePlus =
                      arith::AddFOp::create(b, l, cst(b, l, 1.0), inner);
                  Value half = arith::MulFOp::create(b, l, cst(b, l, 0.5), v);
                  return arith::MulFOp::create(b, l, half, onePlus);
                }));
    return success();
  }
};

/// loom.attention -> Q@K^T, scale/mask/causal, softmax, @V. Grouped-query
/// heads read key/value head `h floordiv (Hq/Hkv)`.
struct AttentionLowering : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getRouted())
      return rewriter.notifyMatchFailure(
          op, "routed attention has only a tiled form (loom-tile-attention)");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
    RankedTensorType qt = op.getQuery().getType(), kt = op.getKey().getType(),
                     vt = op.getValue().getType();
    auto elem = cast<FloatType>(qt.getElementType());
    int64_t rank = qt.getRank();
    bool heads = rank == 4;
    int64_t group = 1;
    if (heads && op.getNumKvHeads()) {
      if (qt.isDynamicDim(1))
        return rewriter.notifyMatchFailure(op, "dynamic query heads with GQA");
      group = qt.getDimSize(1) / *op.getNumKvHeads();
    }
    auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    // Batch-like loop dims: b (and h).
    int64_t nb = heads ? 2 : 1;
    auto kvHead = [&]() -> SmallVector<AffineExpr> {
      if (!heads)
        return {d(0)};
      return {d(0), group == 1 ? d(1) : d(1).floorDiv(group)};
    };

    // scores[b,h,i,j] = sum_d q[b,h,i,d] * k[b,h/g,j,d]
    SmallVector<int64_t> sShape(qt.getShape().take_front(nb + 1));
    sShape.push_back(kt.getDimSize(rank - 2));
    SmallVector<Value> sDyn;
    for (int64_t i = 0; i <= nb; ++i)
      if (qt.isDynamicDim(i))
        sDyn.push_back(tensor::DimOp::create(rewriter, loc, q, i));
    if (kt.isDynamicDim(rank - 2))
      sDyn.push_back(tensor::DimOp::create(rewriter, loc, k, rank - 2));
    Value zero = arith::ConstantOp::create(rewriter, loc,
                                           rewriter.getFloatAttr(elem, 0.0));
    Value sInit = filledTensor(rewriter, loc, sShape, elem, sDyn, zero);
    int64_t loops = nb + 3; // batch..., i, j, d
    int64_t iD = nb, jD = nb + 1, kD = nb + 2;
    SmallVector<AffineExpr> qE, kE, sE;
    for (int64_t i = 0; i < nb; ++i)
      qE.push_back(d(i));
    qE.append({d(iD), d(kD)});
    kE = kvHead();
    kE.append({d(jD), d(kD)});
    for (int64_t i = 0; i < nb; ++i)
      sE.push_back(d(i));
    sE.append({d(iD), d(jD)});
    SmallVector<utils::IteratorType> iters(loops - 1,
                                           utils::IteratorType::parallel);
    iters.push_back(utils::IteratorType::reduction);
    auto mac = [](OpBuilder &b, Location l, ValueRange a) {
      linalg::YieldOp::create(b, l, multiplyAccumulate(b, l, a));
    };
    Value scores =
        linalg::GenericOp::create(
            rewriter, loc, sInit.getType(), ValueRange{q, k}, ValueRange{sInit},
            SmallVector<AffineMap>{AffineMap::get(loops, 0, qE, ctx),
                                   AffineMap::get(loops, 0, kE, ctx),
                                   AffineMap::get(loops, 0, sE, ctx)},
            iters, mac)
            .getResult(0);

    // Scale, mask and causal masking, elementwise over the scores.
    int64_t sRank = sShape.size();
    auto sType = cast<RankedTensorType>(scores.getType());
    Value scale = arith::ConstantOp::create(
        rewriter, loc, rewriter.getFloatAttr(elem, op.getEffectiveScale()));
    SmallVector<Value> inputs = {scores};
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(sRank)};
    Value mask = op.getMask();
    if (mask) {
      inputs.push_back(mask);
      maps.push_back(broadcastMap(ctx, sRank,
                                  cast<RankedTensorType>(mask.getType()),
                                  sType.getShape()));
    }
    maps.push_back(rewriter.getMultiDimIdentityMap(sRank));
    Value offset; // Skv - Sq: bottom-right aligned causal mask and window.
    bool causal = op.getCausal();
    std::optional<int64_t> window = op.getWindow();
    std::optional<ArrayRef<int64_t>> blocks = op.getBlockSparse();
    if (causal || window || blocks) {
      Value sq = tensor::DimOp::create(rewriter, loc, q, rank - 2);
      Value skv = tensor::DimOp::create(rewriter, loc, k, rank - 2);
      offset = arith::SubIOp::create(rewriter, loc, skv, sq);
    }
    Value negInf = arith::ConstantOp::create(
        rewriter, loc,
        rewriter.getFloatAttr(elem, -std::numeric_limits<double>::infinity()));
    Value sEmpty = tensor::EmptyOp::create(rewriter, loc, sShape, elem, sDyn);
    SmallVector<utils::IteratorType> par(sRank, utils::IteratorType::parallel);
    // score_quant_block: the scaled scores, quantized blockwise along the
    // keys, then masked.
    bool scaled = false;
    if (std::optional<int64_t> block = op.getScoreQuantBlock()) {
      AffineMap id = rewriter.getMultiDimIdentityMap(sRank);
      scores =
          linalg::GenericOp::create(
              rewriter, loc, sType, ValueRange{scores}, ValueRange{sEmpty},
              ArrayRef<AffineMap>{id, id}, par,
              [&](OpBuilder &b, Location l, ValueRange a) {
                linalg::YieldOp::create(
                    b, l, arith::MulFOp::create(b, l, a[0], scale).getResult());
              })
              .getResult(0);
      scores = buildBlockwiseFakeQuant(rewriter, loc, scores, *block);
      inputs[0] = scores;
      scaled = true;
    }
    Value masked =
        linalg::GenericOp::create(
            rewriter, loc, sType, inputs, ValueRange{sEmpty}, maps, par,
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value s =
                  scaled ? a[0] : arith::MulFOp::create(b, l, a[0], scale);
              if (mask)
                s = arith::AddFOp::create(b, l, s, a[1]);
              if (offset) {
                Value i = linalg::IndexOp::create(b, l, iD);
                Value j = linalg::IndexOp::create(b, l, jD);
                Value masked =
                    attentionMasked(b, l, i, j, offset, causal, window, blocks);
                s = arith::SelectOp::create(b, l, masked, negInf, s);
              }
              linalg::YieldOp::create(b, l, s);
            })
            .getResult(0);

    Value pEmpty = tensor::EmptyOp::create(rewriter, loc, sShape, elem, sDyn);
    Value probs = linalg::SoftmaxOp::create(rewriter, loc, sType, masked,
                                            pEmpty, sRank - 1)
                      .getResult()[0];

    // out[b,h,i,e] = sum_j p[b,h,i,j] * v[b,h/g,j,e]
    SmallVector<int64_t> oShape(qt.getShape().drop_back());
    oShape.push_back(vt.getDimSize(rank - 1));
    SmallVector<Value> oDyn;
    for (int64_t i = 0; i <= nb; ++i)
      if (qt.isDynamicDim(i))
        oDyn.push_back(tensor::DimOp::create(rewriter, loc, q, i));
    if (vt.isDynamicDim(rank - 1))
      oDyn.push_back(tensor::DimOp::create(rewriter, loc, v, rank - 1));
    Value oInit = filledTensor(rewriter, loc, oShape, elem, oDyn, zero);
    // Loops: batch..., i, e, j.
    int64_t eD = nb + 1, jR = nb + 2;
    SmallVector<AffineExpr> pE, vE, oE;
    for (int64_t i = 0; i < nb; ++i)
      pE.push_back(d(i));
    pE.append({d(iD), d(jR)});
    vE = kvHead();
    vE.append({d(jR), d(eD)});
    for (int64_t i = 0; i < nb; ++i)
      oE.push_back(d(i));
    oE.append({d(iD), d(eD)});
    Value out = linalg::GenericOp::create(
                    rewriter, loc, oInit.getType(), ValueRange{probs, v},
                    ValueRange{oInit},
                    SmallVector<AffineMap>{AffineMap::get(loops, 0, pE, ctx),
                                           AffineMap::get(loops, 0, vE, ctx),
                                           AffineMap::get(loops, 0, oE, ctx)},
                    iters, mac)
                    .getResult(0);
    if (out.getType() != op.getType())
      out = tensor::CastOp::create(rewriter, loc, op.getType(), out);
    rewriter.replaceOp(op, out);
    return success();
  }
};

/// Decomposes linalg ops with AggregatedOpInterface (linalg.softmax).
struct DecomposeAggregate
    : OpInterfaceRewritePattern<linalg::AggregatedOpInterface> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;
  LogicalResult matchAndRewrite(linalg::AggregatedOpInterface op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Value>> results = op.decomposeOperation(rewriter);
    if (failed(results))
      return failure();
    rewriter.replaceOp(op, *results);
    return success();
  }
};

/// loom.token_mixing -> two contractions over the sequence axis (the
/// transposes of the exported form are their indexing maps), each followed
/// by its bias; the activation as the loom op, lowered by its own pattern.
struct TokenMixingLowering : OpRewritePattern<TokenMixingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TokenMixingOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    auto xt = cast<RankedTensorType>(x.getType());
    Type elem = xt.getElementType();
    TileBuilder tb(rewriter, loc, elem);
    auto dim = [&](Value v, int64_t i) -> OpFoldResult {
      auto t = cast<RankedTensorType>(v.getType());
      if (!t.isDynamicDim(i))
        return rewriter.getIndexAttr(t.getDimSize(i));
      return tensor::DimOp::create(rewriter, loc, v, i).getResult();
    };
    OpFoldResult batch = dim(x, 0), seq = dim(x, 1), chans = dim(x, 2),
                 hidden = dim(op.getW1(), 1);
    // out[b, n, c] = sum_m in[b, m, c] * w[m, n]: loops (b, n, c, m).
    auto mix = [&](Value in, Value w, OpFoldResult n) {
      AffineMap inMap = tb.map(4, {tb.d(0), tb.d(3), tb.d(2)});
      AffineMap wMap = tb.map(4, {tb.d(3), tb.d(1)});
      AffineMap outMap = tb.map(4, {tb.d(0), tb.d(1), tb.d(2)});
      return tb.generic(tb.filled({batch, n, chans}, 0.0), {in, w},
                        {inMap, wMap, outMap}, {kPar, kPar, kPar, kRed},
                        multiplyAccumulate);
    };
    // t[b, n, c] + bias[n] (and a ReLU when `relu`).
    auto addBias = [&](Value t, Value bias, bool relu) -> Value {
      if (!bias && !relu)
        return t;
      AffineMap id = rewriter.getMultiDimIdentityMap(3);
      SmallVector<Value> ins = {t};
      SmallVector<AffineMap> maps = {id};
      if (bias) {
        ins.push_back(bias);
        maps.push_back(tb.map(3, {tb.d(1)}));
      }
      maps.push_back(id);
      auto type = cast<RankedTensorType>(t.getType());
      Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(), elem,
                                           dynamicSizes(rewriter, loc, t));
      return tb.generic(
          init, ins, maps, {kPar, kPar, kPar},
          [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            Value v = a[0];
            if (bias)
              v = arith::AddFOp::create(b, l, v, a[1]);
            if (relu)
              v = arith::MaximumFOp::create(
                  b, l, v,
                  arith::ConstantOp::create(b, l, b.getFloatAttr(elem, 0.0)));
            return v;
          });
    };
    Activation act = op.getActivation();
    Value h = addBias(mix(x, op.getW1(), hidden), op.getB1(),
                      act == Activation::Relu);
    if (act == Activation::Gelu || act == Activation::GeluTanh)
      h = GeluOp::create(rewriter, loc, h,
                         GeluApproximationAttr::get(
                             getContext(), act == Activation::GeluTanh
                                               ? GeluApproximation::Tanh
                                               : GeluApproximation::None));
    else if (act == Activation::Silu)
      h = SiluOp::create(rewriter, loc, h);
    Value out = addBias(mix(h, op.getW2(), seq), op.getB2(), false);
    if (out.getType() != xt)
      out = tensor::CastOp::create(rewriter, loc, xt, out);
    rewriter.replaceOp(op, out);
    return success();
  }
};

/// loom.monarch -> two batched contractions on the input viewed as
/// [..., K, P] (only the static last dim is split: expanding dynamic dims
/// would need their factors): z[.., i, j] = sum_a x[.., i, a] w1[i, a, j]
/// (batch i), y[.., j, t] = sum_i z[.., i, j] w2[j, i, t] (batch j), then the
/// permutation into [..., S, Q], read as [..., S Q].
struct MonarchLowering : OpRewritePattern<MonarchOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MonarchOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    auto xt = cast<RankedTensorType>(x.getType());
    auto w1t = cast<RankedTensorType>(op.getW1().getType());
    auto w2t = cast<RankedTensorType>(op.getW2().getType());
    Type elem = xt.getElementType();
    TileBuilder tb(rewriter, loc, elem);
    int64_t lead = xt.getRank() - 1;
    int64_t k = w1t.getDimSize(0), p = w1t.getDimSize(1), q = w1t.getDimSize(2),
            s = w2t.getDimSize(2);
    SmallVector<ReassociationIndices> split;
    SmallVector<OpFoldResult> sizes;
    SmallVector<int64_t> shape;
    for (int64_t i = 0; i < lead; ++i) {
      split.push_back({i});
      sizes.push_back(tensor::getMixedSize(rewriter, loc, x, i));
      shape.push_back(xt.getDimSize(i));
    }
    split.push_back({lead, lead + 1});
    auto c = [&](int64_t v) -> OpFoldResult {
      return rewriter.getIndexAttr(v);
    };
    auto with = [&](int64_t a, int64_t b) {
      SmallVector<OpFoldResult> all(sizes);
      all.append({c(a), c(b)});
      return all;
    };
    SmallVector<int64_t> blocksShape(shape);
    blocksShape.append({k, p});
    Value blocks = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(blocksShape, elem), x, split,
        with(k, p));
    // Loop dims: the leading dims, then three more (d(lead) .. d(lead+2)).
    int64_t loops = lead + 3;
    auto map = [&](ArrayRef<int64_t> tail, bool withLead) {
      SmallVector<AffineExpr> e;
      if (withLead)
        for (int64_t i = 0; i < lead; ++i)
          e.push_back(tb.d(i));
      for (int64_t t : tail)
        e.push_back(tb.d(lead + t));
      return tb.map(loops, e);
    };
    SmallVector<utils::IteratorType> iters(loops - 1, kPar);
    iters.push_back(kRed);
    // Loops (.., i, j, a).
    Value z = tb.generic(
        tb.filled(with(k, q), 0.0), {blocks, op.getW1()},
        {map({0, 2}, true), map({0, 2, 1}, false), map({0, 1}, true)}, iters,
        multiplyAccumulate);
    // Loops (.., j, t, i).
    Value y = tb.generic(
        tb.filled(with(q, s), 0.0), {z, op.getW2()},
        {map({2, 0}, true), map({0, 2, 1}, false), map({0, 1}, true)}, iters,
        multiplyAccumulate);
    // [.., Q, S] -> [.., S, Q] -> [.., S Q].
    SmallVector<int64_t> perm;
    for (int64_t i = 0; i < lead; ++i)
      perm.push_back(i);
    perm.append({lead + 1, lead});
    Value permuted = linalg::TransposeOp::create(rewriter, loc, y,
                                                 tb.empty(with(s, q)), perm)
                         .getResult()[0];
    Value out = tensor::CollapseShapeOp::create(rewriter, loc, permuted, split);
    auto rt = cast<RankedTensorType>(op.getType());
    if (out.getType() != rt)
      out = tensor::CastOp::create(rewriter, loc, rt, out);
    rewriter.replaceOp(op, out);
    return success();
  }
};

} // namespace

void loom::populateLoomToLinalgPatterns(RewritePatternSet &patterns,
                                        int64_t scanChunk,
                                        int64_t deltaScanChunk) {
  patterns.add<LayerNormLowering, RMSNormLowering, GeluLowering, SiluLowering,
               AttentionLowering, TokenMixingLowering, MonarchLowering,
               DecomposeAggregate>(patterns.getContext());
  populateScanLoweringPatterns(patterns, scanChunk, deltaScanChunk);
  populateMoeLoweringPatterns(patterns);
  populateQuantizedLoweringPatterns(patterns);
  populateSparseLoweringPatterns(patterns);
}

namespace {
/// Lowers every loom op to linalg.
struct LoomToLinalgPass final
    : public loom::impl::LoomToLinalgPassBase<LoomToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    if (scanChunk < 0 || scanChunkDelta < 0) {
      getOperation()->emitError(
          "scan-chunk and scan-chunk-delta must not be negative");
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    populateLoomToLinalgPatterns(patterns, scanChunk, scanChunkDelta);
    if (softmaxCalls)
      populateSoftmaxCallPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult left = getOperation()->walk([](Operation *op) {
      if (isa<LoomDialect>(op->getDialect())) {
        InFlightDiagnostic diag = op->emitError("cannot lower '")
                                  << op->getName() << "' to linalg";
        if (auto att = dyn_cast<AttentionOp>(op); att && att.getRouted())
          diag << ": routed attention lowers through loom-tile-attention";
        if (isa<SparseMatmulOp>(op))
          diag << ": its sparse weights must be constants (with block rows "
                  "and offsets in range, 2:4 positions distinct)";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
