//===- LowerScan.cpp - loom.scan -> a loop over time ----------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The sequential form of `loom.scan`: an `scf.forall` over the independent
// recurrences (batch and head; for `diagonal`, batch and tiles of channels)
// whose body is an `scf.for` over time carrying the state and the output
// rows written so far. Each step is a few `linalg.generic` ops on the state
// (`[Dk, Dv]` or `[D, N]`), so the state stays in cache and the work per
// step is O(state size).
//
// Elementwise producers of the operands (Mamba's exp(delta * A) and
// delta * B * x, feature maps of linear attention) are pulled into the time
// loop: each step computes the slice it reads, so the [B, T, D, N] operands
// are never stored. Every element is still computed once, as the steps read
// disjoint slices.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace loom;

namespace {

/// Channels of a `diagonal` scan per task of the parallel loop.
constexpr int64_t kDiagonalChannelTile = 64;

/// TileBuilder plus the slices of one time step.
struct StepBuilder : TileBuilder {
  using TileBuilder::TileBuilder;

  /// A tile of zeros.
  Value zeros(ArrayRef<OpFoldResult> sizes) const { return filled(sizes, 0.0); }

  /// src[prefix..., t, 0...] with sizes [1..., 1, rest...], rank reduced to
  /// `rest`.
  Value step(Value src, ValueRange prefix, Value t, ArrayRef<OpFoldResult> rest,
             ArrayRef<OpFoldResult> restOffsets = {}) const {
    auto type = cast<RankedTensorType>(src.getType());
    SmallVector<OpFoldResult> offs(prefix.begin(), prefix.end());
    SmallVector<OpFoldResult> sizes(prefix.size(), b.getIndexAttr(1));
    offs.push_back(t);
    sizes.push_back(b.getIndexAttr(1));
    for (auto [i, r] : llvm::enumerate(rest)) {
      offs.push_back(restOffsets.empty() ? OpFoldResult(b.getIndexAttr(0))
                                         : restOffsets[i]);
      sizes.push_back(r);
    }
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    SmallVector<int64_t> shape;
    for (OpFoldResult r : rest)
      shape.push_back(getConstantIntValue(r).value_or(ShapedType::kDynamic));
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), src, offs,
        sizes, strides);
  }
};

/// True for a linalg.generic that computes each output element from input
/// elements alone: parallel loops, one result, the output not read.
static bool isPureElementwise(linalg::GenericOp op) {
  return op.getNumDpsInits() == 1 && op.getNumResults() == 1 &&
         linalg::isElementwise(op) &&
         !op.payloadUsesValueFromOperand(op.getDpsInitOperand(0));
}

/// `slice` of the elementwise `producer`'s result, computed on slices of its
/// inputs by a generic over the slice's own (rank-reduced) shape, so that
/// steps fuse with the generics that read them; null when an input map is
/// more than dims and broadcast zeros, or the producer reads indices.
static Value sliceOfElementwise(RewriterBase &rewriter,
                                tensor::ExtractSliceOp slice,
                                linalg::GenericOp producer) {
  if (!producer.getMatchingIndexingMap(producer.getDpsInitOperand(0))
           .isIdentity() ||
      !producer.getBody()->getOps<linalg::IndexOp>().empty() ||
      !llvm::all_of(slice.getMixedStrides(), isOneInteger))
    return {};
  MLIRContext *ctx = rewriter.getContext();
  Location loc = slice.getLoc();
  SmallVector<OpFoldResult> offsets = slice.getMixedOffsets(),
                            sizes = slice.getMixedSizes();
  llvm::SmallBitVector dropped = slice.getDroppedDims();
  int64_t loops = producer.getNumLoops();
  // The new loop of each kept dim.
  SmallVector<int64_t> newPos(loops, -1);
  int64_t kept = 0;
  SmallVector<Value> initSizes;
  for (int64_t i = 0; i < loops; ++i) {
    if (dropped[i])
      continue;
    newPos[i] = kept++;
    if (!getConstantIntValue(sizes[i]))
      initSizes.push_back(
          getValueOrCreateConstantIndexOp(rewriter, loc, sizes[i]));
  }
  OpFoldResult zero = rewriter.getIndexAttr(0), one = rewriter.getIndexAttr(1);
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  for (OpOperand *in : producer.getDpsInputOperands()) {
    AffineMap map = producer.getMatchingIndexingMap(in);
    auto type = dyn_cast<RankedTensorType>(in->get().getType());
    if (!type) {
      if (map.getNumResults() != 0)
        return {};
      inputs.push_back(in->get());
      maps.push_back(AffineMap::get(kept, 0, {}, ctx));
      continue;
    }
    SmallVector<OpFoldResult> inOffsets, inSizes;
    SmallVector<AffineExpr> exprs;
    SmallVector<int64_t> shape;
    for (AffineExpr e : map.getResults()) {
      if (auto d = dyn_cast<AffineDimExpr>(e)) {
        unsigned p = d.getPosition();
        inOffsets.push_back(offsets[p]);
        inSizes.push_back(sizes[p]);
        if (dropped[p])
          continue;
        exprs.push_back(getAffineDimExpr(newPos[p], ctx));
        shape.push_back(
            getConstantIntValue(sizes[p]).value_or(ShapedType::kDynamic));
      } else if (auto c = dyn_cast<AffineConstantExpr>(e);
                 c && c.getValue() == 0) {
        inOffsets.push_back(zero);
        inSizes.push_back(one);
      } else {
        return {};
      }
    }
    inputs.push_back(tensor::ExtractSliceOp::create(
        rewriter, loc, RankedTensorType::get(shape, type.getElementType()),
        in->get(), inOffsets, inSizes,
        SmallVector<OpFoldResult>(type.getRank(), one)));
    maps.push_back(AffineMap::get(kept, 0, exprs, ctx));
  }
  maps.push_back(rewriter.getMultiDimIdentityMap(kept));
  auto resultType = cast<RankedTensorType>(slice.getType());
  Value init = tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                       resultType.getElementType(), initSizes);
  auto generic = linalg::GenericOp::create(
      rewriter, loc, TypeRange{resultType}, inputs, ValueRange{init}, maps,
      SmallVector<utils::IteratorType>(kept, utils::IteratorType::parallel));
  rewriter.cloneRegionBefore(producer.getRegion(), generic.getRegion(),
                             generic.getRegion().begin());
  return generic.getResult(0);
}

/// True when `v` is computed from `iv`.
static bool dependsOn(Value v, Value iv) {
  if (v == iv)
    return true;
  Operation *def = v.getDefiningOp();
  return def && llvm::any_of(def->getOperands(),
                             [&](Value in) { return dependsOn(in, iv); });
}

/// True when the position of `slice` changes with every loop between it and
/// `root` (then no two iterations read the same elements, and computing the
/// producer per slice computes nothing twice).
static bool movesWithEveryLoop(tensor::ExtractSliceOp slice, Operation *root) {
  SmallVector<Value> ivs;
  for (Operation *op = slice->getParentOp(); op && op != root->getParentOp();
       op = op->getParentOp()) {
    if (auto loop = dyn_cast<scf::ForOp>(op))
      ivs.push_back(loop.getInductionVar());
    else if (auto forall = dyn_cast<scf::ForallOp>(op))
      llvm::append_range(ivs, forall.getInductionVars());
  }
  return llvm::all_of(ivs, [&](Value iv) {
    return llvm::any_of(slice.getOffsets(),
                        [&](Value off) { return dependsOn(off, iv); });
  });
}

/// Replaces the slices inside `root` of elementwise producers defined
/// outside it by the producer computed on the slice, transitively, when
/// every use of the producer is such a slice and the slice moves with every
/// loop (nothing is computed twice).
static void pullProducersIntoSlices(RewriterBase &rewriter, Operation *root) {
  SmallVector<tensor::ExtractSliceOp> worklist;
  root->walk([&](tensor::ExtractSliceOp s) { worklist.push_back(s); });
  while (!worklist.empty()) {
    tensor::ExtractSliceOp slice = worklist.pop_back_val();
    auto result = dyn_cast<OpResult>(slice.getSource());
    auto producer =
        result ? dyn_cast<linalg::GenericOp>(result.getOwner()) : nullptr;
    if (!producer || root->isAncestor(producer) ||
        !isPureElementwise(producer) || !movesWithEveryLoop(slice, root))
      continue;
    // Sizes read from the producer are the sizes of its init.
    for (OpOperand &use : llvm::make_early_inc_range(result.getUses()))
      if (auto dim = dyn_cast<tensor::DimOp>(use.getOwner()))
        rewriter.modifyOpInPlace(
            dim, [&] { use.set(producer.getDpsInitOperand(0)->get()); });
    if (!llvm::all_of(producer->getUsers(), [&](Operation *user) {
          return isa<tensor::ExtractSliceOp>(user) &&
                 root->isProperAncestor(user);
        }))
      continue;
    rewriter.setInsertionPoint(slice);
    // The producer on the slice: a generic over the slice's own shape, or
    // else its tile from TilingInterface (rank-reduced like the slice).
    SmallVector<Operation *> computed;
    Value value = sliceOfElementwise(rewriter, slice, producer);
    if (value) {
      computed.push_back(value.getDefiningOp());
    } else {
      FailureOr<TilingResult> tiled =
          tensor::replaceExtractSliceWithTiledProducer(rewriter, slice, result);
      if (failed(tiled) || tiled->tiledValues.size() != 1)
        continue;
      value = tiled->tiledValues[0];
      computed.assign(tiled->tiledOps.begin(), tiled->tiledOps.end());
      if (value.getType() != slice.getType()) {
        int64_t rank = cast<RankedTensorType>(value.getType()).getRank();
        value = tensor::ExtractSliceOp::create(
            rewriter, slice.getLoc(), slice.getType(), value,
            SmallVector<OpFoldResult>(rank, rewriter.getIndexAttr(0)),
            slice.getMixedSizes(),
            SmallVector<OpFoldResult>(rank, rewriter.getIndexAttr(1)));
      }
    }
    rewriter.replaceOp(slice, value);
    for (Operation *op : computed)
      for (Value in : op->getOperands())
        if (auto inner = in.getDefiningOp<tensor::ExtractSliceOp>())
          worklist.push_back(inner);
    if (producer->use_empty())
      rewriter.eraseOp(producer);
  }
}

/// loom.scan -> scf.forall over recurrences, scf.for over time.
struct LowerScan : OpRewritePattern<ScanOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ScanOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ValueRange in = op.getInputs();
    RankedTensorType rt = op.getType();
    Type elem = rt.getElementType();
    auto dim = [&](Value v, int64_t i) -> OpFoldResult {
      auto t = cast<RankedTensorType>(v.getType());
      if (!t.isDynamicDim(i))
        return rewriter.getIndexAttr(t.getDimSize(i));
      return tensor::DimOp::create(rewriter, loc, v, i).getResult();
    };
    auto val = [&](OpFoldResult r) {
      return getValueOrCreateConstantIndexOp(rewriter, loc, r);
    };
    SmallVector<Value> outDyn;
    for (int64_t i = 0; i < rt.getRank(); ++i)
      if (rt.isDynamicDim(i))
        outDyn.push_back(
            val(i == rt.getRank() - 1 && op.getKind() != ScanKind::Diagonal
                    ? dim(in[2], i)
                    : dim(in[0], i)));
    Value outInit =
        tensor::EmptyOp::create(rewriter, loc, rt.getShape(), elem, outDyn);
    Value result = op.getKind() == ScanKind::Diagonal
                       ? lowerDiagonal(rewriter, op, outInit, dim, val)
                       : lowerMatrix(rewriter, op, outInit, dim, val);
    rewriter.replaceOp(op, result);
    pullProducersIntoSlices(rewriter, result.getDefiningOp());
    return success();
  }

  template <typename DimFn, typename ValFn>
  static Value lowerDiagonal(PatternRewriter &rewriter, ScanOp op,
                             Value outInit, DimFn dim, ValFn val) {
    Location loc = op.getLoc();
    // (x, a, b, c), or the folded form (a, u, c) where u = b * x.
    ValueRange in = op.getInputs();
    bool folded = in.size() == 3;
    Value x = folded ? Value() : in[0];
    Value a = in[folded ? 0 : 1], bIn = in[folded ? 1 : 2],
          c = in[folded ? 2 : 3];
    Type elem = op.getType().getElementType();
    OpFoldResult batch = dim(a, 0), time = dim(a, 1), channels = dim(a, 2),
                 n = dim(a, 3);
    Value tile =
        arith::ConstantIndexOp::create(rewriter, loc, kDiagonalChannelTile);
    OpFoldResult numTiles;
    if (std::optional<int64_t> d = getConstantIntValue(channels))
      numTiles =
          rewriter.getIndexAttr(llvm::divideCeil(*d, kDiagonalChannelTile));
    else
      numTiles = arith::CeilDivUIOp::create(rewriter, loc, val(channels), tile)
                     .getResult();
    auto forall = scf::ForallOp::create(
        rewriter, loc, SmallVector<OpFoldResult>{batch, numTiles},
        ValueRange{outInit}, std::nullopt,
        [&](OpBuilder &b, Location l, ValueRange args) {
          StepBuilder sb(b, l, elem);
          Value bi = args[0], d0 = arith::MulIOp::create(b, l, args[1], tile);
          Value dn = arith::MinUIOp::create(
              b, l, tile, arith::SubIOp::create(b, l, val(channels), d0));
          Value h0 = sb.zeros({dn, n});
          Value y0 = tensor::EmptyOp::create(
              b, l, SmallVector<OpFoldResult>{time, dn}, elem);
          Value zero = arith::ConstantIndexOp::create(b, l, 0);
          Value one = arith::ConstantIndexOp::create(b, l, 1);
          auto loop = scf::ForOp::create(
              b, l, zero, val(time), one, ValueRange{h0, y0},
              [&](OpBuilder &fb, Location fl, Value t, ValueRange iter) {
                StepBuilder s(fb, fl, elem);
                Value at = s.step(a, bi, t, {dn, n}, {d0, fb.getIndexAttr(0)});
                Value bt =
                    s.step(bIn, bi, t, {dn, n}, {d0, fb.getIndexAttr(0)});
                Value ct = s.step(c, bi, t, {n});
                AffineMap id = fb.getMultiDimIdentityMap(2);
                Value h;
                if (folded) {
                  // h = a * h + u
                  h = s.generic(
                      iter[0], {at, bt}, {id, id, id}, {kPar, kPar},
                      [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                        Value ah = arith::MulFOp::create(nb, nl, v[0], v[2],
                                                         kContract);
                        return arith::AddFOp::create(nb, nl, ah, v[1],
                                                     kContract);
                      });
                } else {
                  // h = a * h + b * x
                  Value xt = s.step(x, bi, t, {dn}, {d0});
                  h = s.generic(
                      iter[0], {at, bt, xt}, {id, id, s.map(2, {s.d(0)}), id},
                      {kPar, kPar},
                      [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                        Value ah = arith::MulFOp::create(nb, nl, v[0], v[3],
                                                         kContract);
                        Value bx = arith::MulFOp::create(nb, nl, v[1], v[2],
                                                         kContract);
                        return arith::AddFOp::create(nb, nl, ah, bx, kReassoc);
                      });
                }
                // y[d] = sum_n c[n] h[d, n]
                Value y =
                    s.generic(s.zeros({dn}), {h, ct},
                              {id, s.map(2, {s.d(1)}), s.map(2, {s.d(0)})},
                              {kPar, kRed}, multiplyAccumulate);
                Value rows = insertRow(fb, fl, y, iter[1], t, dn);
                scf::YieldOp::create(fb, fl, ValueRange{h, rows});
              });
          OpFoldResult unit = b.getIndexAttr(1);
          buildInParallel(b, l,
                          {{loop.getResult(1),
                            args.back(),
                            {bi, b.getIndexAttr(0), d0},
                            {unit, time, dn}}});
        });
    return forall.getResult(0);
  }

  template <typename DimFn, typename ValFn>
  static Value lowerMatrix(PatternRewriter &rewriter, ScanOp op, Value outInit,
                           DimFn dim, ValFn val) {
    Location loc = op.getLoc();
    ValueRange in = op.getInputs();
    Value q = in[0], k = in[1], v = in[2];
    Value gate = in.size() > 3 ? in[3] : Value();
    ScanKind kind = op.getKind();
    Type elem = op.getType().getElementType();
    OpFoldResult batch = dim(q, 0), heads = dim(q, 1), time = dim(q, 2),
                 dk = dim(q, 3), dv = dim(v, 3);
    auto forall = scf::ForallOp::create(
        rewriter, loc, SmallVector<OpFoldResult>{batch, heads},
        ValueRange{outInit}, std::nullopt,
        [&](OpBuilder &b, Location l, ValueRange args) {
          StepBuilder sb(b, l, elem);
          SmallVector<Value> bh = {args[0], args[1]};
          Value s0 = sb.zeros({dk, dv});
          Value o0 = tensor::EmptyOp::create(
              b, l, SmallVector<OpFoldResult>{time, dv}, elem);
          Value zero = arith::ConstantIndexOp::create(b, l, 0);
          Value one = arith::ConstantIndexOp::create(b, l, 1);
          auto loop = scf::ForOp::create(
              b, l, zero, val(time), one, ValueRange{s0, o0},
              [&](OpBuilder &fb, Location fl, Value t, ValueRange iter) {
                StepBuilder s(fb, fl, elem);
                Value qt = s.step(q, bh, t, {dk}), kt = s.step(k, bh, t, {dk}),
                      vt = s.step(v, bh, t, {dv});
                Value state = iter[0];
                AffineMap id = fb.getMultiDimIdentityMap(2);
                AffineMap row = s.map(2, {s.d(0)}), col = s.map(2, {s.d(1)});
                Value next;
                if (kind == ScanKind::Delta) {
                  // u = S^T k; S' = S + beta k (v - u)^T.
                  Value u =
                      s.generic(s.zeros({dv}), {state, kt}, {id, row, col},
                                {kRed, kPar}, multiplyAccumulate);
                  Value beta = tensor::ExtractOp::create(
                      fb, fl, gate, ValueRange{bh[0], bh[1], t});
                  next = s.generic(
                      state, {kt, vt, u}, {row, col, col, id}, {kPar, kPar},
                      [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                        Value diff = arith::SubFOp::create(nb, nl, a[1], a[2]);
                        Value bk = arith::MulFOp::create(nb, nl, beta, a[0]);
                        Value upd =
                            arith::MulFOp::create(nb, nl, bk, diff, kContract);
                        return arith::AddFOp::create(nb, nl, a[3], upd,
                                                     kReassoc);
                      });
                } else {
                  SmallVector<Value> ins = {kt, vt};
                  SmallVector<AffineMap> maps = {row, col};
                  bool gated = kind == ScanKind::Gated;
                  if (gated) {
                    ins.push_back(s.step(gate, bh, t, {dk}));
                    maps.push_back(row);
                  }
                  maps.push_back(id);
                  // S' = (alpha *) S + k v^T
                  next = s.generic(
                      state, ins, maps, {kPar, kPar},
                      [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                        Value prev = a.back();
                        if (gated)
                          prev = arith::MulFOp::create(nb, nl, a[2], prev,
                                                       kContract);
                        Value kv = arith::MulFOp::create(nb, nl, a[0], a[1],
                                                         kContract);
                        return arith::AddFOp::create(nb, nl, prev, kv,
                                                     kReassoc);
                      });
                }
                // o[j] = sum_i q[i] S'[i, j]
                Value o = s.generic(s.zeros({dv}), {next, qt}, {id, row, col},
                                    {kRed, kPar}, multiplyAccumulate);
                Value rows = insertRow(fb, fl, o, iter[1], t, dv);
                scf::YieldOp::create(fb, fl, ValueRange{next, rows});
              });
          OpFoldResult unit = b.getIndexAttr(1), origin = b.getIndexAttr(0);
          buildInParallel(b, l,
                          {{loop.getResult(1),
                            args.back(),
                            {bh[0], bh[1], origin, origin},
                            {unit, unit, time, dv}}});
        });
    return forall.getResult(0);
  }

  /// rows[t, :] = row.
  static Value insertRow(OpBuilder &b, Location l, Value row, Value rows,
                         Value t, OpFoldResult width) {
    OpFoldResult one = b.getIndexAttr(1);
    return tensor::InsertSliceOp::create(
        b, l, row, rows, SmallVector<OpFoldResult>{t, b.getIndexAttr(0)},
        SmallVector<OpFoldResult>{one, width},
        SmallVector<OpFoldResult>{one, one});
  }
};

} // namespace

void loom::populateScanLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerScan>(patterns.getContext());
}
