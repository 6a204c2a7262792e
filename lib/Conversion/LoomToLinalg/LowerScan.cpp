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

/// The largest in-chunk cumulative log decay |L| of a gated scan's chunked
/// form. Its keys are scaled by exp(-L) (overflow past e^88), and the decay
/// between two steps is exp(L_t) exp(-L_s), computed from L's whose fp32
/// rounding grows with |L|: at |L| <= 16 the chunked form stays as accurate
/// as the sequential one (measured: max abs error 1.3e-5 against 2.1e-5 on
/// test/Integration's gated cases; at 60 it was 2e-4).
constexpr double kMaxChunkLogDecay = 16.0;

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

/// loom.scan -> scf.forall over recurrences, scf.for over time (or over
/// chunks of time).
struct LowerScan : OpRewritePattern<ScanOp> {
  LowerScan(MLIRContext *ctx, int64_t chunk, int64_t deltaChunk)
      : OpRewritePattern(ctx), chunk(chunk), deltaChunk(deltaChunk) {}

  /// Time steps per chunk of the chunked form of linear and gated scans, and
  /// of delta scans; 0 keeps those sequential.
  int64_t chunk, deltaChunk;

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
    Value result;
    if (op.getKind() == ScanKind::Diagonal)
      result = lowerDiagonal(rewriter, op, outInit, dim, val);
    else if (useChunks(op))
      result = lowerMatrixChunked(rewriter, op, outInit, chunkOf(op), dim, val);
    else
      result = lowerMatrix(rewriter, op, outInit, dim, val);
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
          // Tiles of a static size where the channels divide evenly (so
          // that the step loops have constant trip counts), else the rest.
          std::optional<int64_t> staticChannels =
              getConstantIntValue(channels);
          OpFoldResult dn =
              staticChannels && *staticChannels % kDiagonalChannelTile == 0
                  ? OpFoldResult(b.getIndexAttr(kDiagonalChannelTile))
                  : OpFoldResult(
                        arith::MinUIOp::create(
                            b, l, tile,
                            arith::SubIOp::create(b, l, val(channels), d0))
                            .getResult());
          // The state is kept as [N, channels]: every step's arithmetic,
          // and the output's sum over N, runs along contiguous channels.
          Value h0 = sb.zeros({n, dn});
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
                // Loops (n, channel); a and b are [channels, N] tiles.
                AffineMap id = fb.getMultiDimIdentityMap(2);
                AffineMap tr = s.map(2, {s.d(1), s.d(0)});
                AffineMap row = s.map(2, {s.d(0)}), col = s.map(2, {s.d(1)});
                Value h;
                if (folded) {
                  // h = a * h + u
                  h = s.generic(
                      iter[0], {at, bt}, {tr, tr, id}, {kPar, kPar},
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
                      iter[0], {at, bt, xt}, {tr, tr, col, id}, {kPar, kPar},
                      [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                        Value ah = arith::MulFOp::create(nb, nl, v[0], v[3],
                                                         kContract);
                        Value bx = arith::MulFOp::create(nb, nl, v[1], v[2],
                                                         kContract);
                        return arith::AddFOp::create(nb, nl, ah, bx, kReassoc);
                      });
                }
                // y[d] = sum_n c[n] h[n, d]
                Value y = s.generic(s.zeros({dn}), {h, ct}, {id, row, col},
                                    {kRed, kPar}, multiplyAccumulate);
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

  /// One step of the sequential form of a matrix-state scan: the state after
  /// step `t` of recurrence `bh` and its output row.
  static std::pair<Value, Value>
  sequentialStep(OpBuilder &b, Location l, ScanOp op, ValueRange bh, Value t,
                 Value state, OpFoldResult dk, OpFoldResult dv) {
    ValueRange in = op.getInputs();
    Value q = in[0], k = in[1], v = in[2];
    Value gate = in.size() > 3 ? in[3] : Value();
    ScanKind kind = op.getKind();
    StepBuilder s(b, l, op.getType().getElementType());
    Value qt = s.step(q, bh, t, {dk}), kt = s.step(k, bh, t, {dk}),
          vt = s.step(v, bh, t, {dv});
    AffineMap id = b.getMultiDimIdentityMap(2);
    AffineMap row = s.map(2, {s.d(0)}), col = s.map(2, {s.d(1)});
    Value next;
    if (kind == ScanKind::Delta) {
      // u = S^T k; S' = S + beta k (v - u)^T.
      Value u = s.generic(s.zeros({dv}), {state, kt}, {id, row, col},
                          {kRed, kPar}, multiplyAccumulate);
      Value beta =
          tensor::ExtractOp::create(b, l, gate, ValueRange{bh[0], bh[1], t});
      next =
          s.generic(state, {kt, vt, u}, {row, col, col, id}, {kPar, kPar},
                    [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                      Value diff = arith::SubFOp::create(nb, nl, a[1], a[2]);
                      Value bk = arith::MulFOp::create(nb, nl, beta, a[0]);
                      Value upd =
                          arith::MulFOp::create(nb, nl, bk, diff, kContract);
                      return arith::AddFOp::create(nb, nl, a[3], upd, kReassoc);
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
              prev = arith::MulFOp::create(nb, nl, a[2], prev, kContract);
            Value kv = arith::MulFOp::create(nb, nl, a[0], a[1], kContract);
            return arith::AddFOp::create(nb, nl, prev, kv, kReassoc);
          });
    }
    // o[j] = sum_i q[i] S'[i, j]
    Value o = s.generic(s.zeros({dv}), {next, qt}, {id, row, col}, {kRed, kPar},
                        multiplyAccumulate);
    return {next, o};
  }

  /// The chunk of `op`'s kind (0 for the diagonal kind: sequential only).
  int64_t chunkOf(ScanOp op) const {
    switch (op.getKind()) {
    case ScanKind::Diagonal:
      return 0;
    case ScanKind::Delta:
      return deltaChunk;
    default:
      return chunk;
    }
  }

  /// Whether `op` gets the chunked form: a chunk for its kind, a sequence not
  /// known to fit one chunk.
  bool useChunks(ScanOp op) const {
    int64_t c = chunkOf(op);
    if (c <= 0)
      return false;
    int64_t time = op.getType().getDimSize(2);
    return ShapedType::isDynamic(time) || time > c;
  }

  /// The chunked-parallel form of a linear or gated matrix-state scan (GLA,
  /// section 3): per chunk of C steps, with S the state before the chunk,
  ///   O = Q S + tril(Q K^T) V,     S' = S + K^T V        (linear)
  /// and, for gates alpha with L the in-chunk cumulative sum of log(alpha)
  /// (the decay from the chunk's start), Q~ = Q exp(L), K~ = K exp(-L),
  ///   O = Q~ S + tril(Q~ K~^T) V,  S' = diag(exp(L_C)) S
  ///                                     + (K exp(L_C - L))^T V (gated).
  /// Every product is a contraction (the GEMM microkernel's); the recurrence
  /// runs over T / C chunks instead of T steps. K~ grows as the gates decay,
  /// so a chunk whose |L| exceeds kMaxChunkLogDecay runs its steps
  /// sequentially instead: as accurate for any gate values.
  template <typename DimFn, typename ValFn>
  static Value lowerMatrixChunked(PatternRewriter &rewriter, ScanOp op,
                                  Value outInit, int64_t chunk, DimFn dim,
                                  ValFn val) {
    ValueRange in = op.getInputs();
    Value q = in[0], k = in[1], v = in[2];
    bool gated = op.getKind() == ScanKind::Gated;
    bool delta = op.getKind() == ScanKind::Delta;
    Value gate = in.size() > 3 ? in[3] : Value();
    auto elem = cast<FloatType>(op.getType().getElementType());
    OpFoldResult dk = dim(q, 3), dv = dim(v, 3);
    return matrixRecurrence(
        rewriter, op, outInit, chunk, dim, val,
        [&](OpBuilder &fb, Location fl, ValueRange bh, Value t0, Value end,
            ValueRange iter) {
          StepBuilder c(fb, fl, elem);
          Value step = arith::ConstantIndexOp::create(fb, fl, chunk);
          Value rowsV = arith::MinUIOp::create(
              fb, fl, step, arith::SubIOp::create(fb, fl, end, t0));
          OpFoldResult rows = rowsV;
          auto rowsOf = [&](Value src, OpFoldResult width) {
            return chunkRows(fb, fl, src, bh, t0, rows, width);
          };
          Value qc = rowsOf(q, dk), kc = rowsOf(k, dk), vc = rowsOf(v, dv);
          Value state = iter[0];
          if (delta) {
            Value beta = tensor::ExtractSliceOp::create(
                fb, fl,
                RankedTensorType::get(
                    {getConstantIntValue(rows).value_or(ShapedType::kDynamic)},
                    elem),
                gate, SmallVector<OpFoldResult>{bh[0], bh[1], t0},
                SmallVector<OpFoldResult>{fb.getIndexAttr(1),
                                          fb.getIndexAttr(1), rows},
                SmallVector<OpFoldResult>(3, fb.getIndexAttr(1)));
            Value pseudo =
                deltaPseudoValues(c, kc, vc, beta, state, rows, dk, dv);
            auto [next, o] =
                chunkStep(c, qc, kc, kc, pseudo, state, rows, dk, dv);
            Value out = insertRows(fb, fl, o, iter[1], t0, rows, dv);
            scf::YieldOp::create(fb, fl, ValueRange{next, out});
            return;
          }
          if (!gated) {
            auto [next, o] = chunkStep(c, qc, kc, kc, vc, state, rows, dk, dv);
            Value out = insertRows(fb, fl, o, iter[1], t0, rows, dv);
            scf::YieldOp::create(fb, fl, ValueRange{next, out});
            return;
          }
          // L[i, d] = sum_{s <= i} log(alpha[s, d]).
          Value logGate =
              mapElementwise(fb, fl, rowsOf(gate, dk),
                             [](OpBuilder &nb, Location nl, Value x) -> Value {
                               return math::LogOp::create(nb, nl, x);
                             });
          Value lcum = c.generic(
              c.zeros({rows, dk}), {logGate},
              {c.map(3, {c.d(2), c.d(1)}), c.map(3, {c.d(0), c.d(1)})},
              {kPar, kPar, kRed},
              [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                Value i = linalg::IndexOp::create(nb, nl, 0);
                Value s = linalg::IndexOp::create(nb, nl, 2);
                Value later = arith::CmpIOp::create(
                    nb, nl, arith::CmpIPredicate::ugt, s, i);
                Value sum = arith::AddFOp::create(nb, nl, a[1], a[0], kReassoc);
                return arith::SelectOp::create(nb, nl, later, a[1], sum);
              });
          // The chunk is safe when max |L| <= kMaxChunkLogDecay.
          Value worst = c.generic(
              tensor::FromElementsOp::create(fb, fl,
                                             RankedTensorType::get({}, elem),
                                             ValueRange{c.cst(0.0)}),
              {lcum}, {c.map(2, {c.d(0), c.d(1)}), c.map(2, {})}, {kRed, kRed},
              [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                Value mag = math::AbsFOp::create(nb, nl, a[0]);
                return arith::MaximumFOp::create(nb, nl, a[1], mag);
              });
          Value worstV = tensor::ExtractOp::create(fb, fl, worst);
          Value safe = arith::CmpFOp::create(fb, fl, arith::CmpFPredicate::OLE,
                                             worstV, c.cst(kMaxChunkLogDecay));
          auto branch = scf::IfOp::create(
              fb, fl, TypeRange{state.getType(), iter[1].getType()}, safe,
              /*withElseRegion=*/true);
          {
            OpBuilder tb = OpBuilder::atBlockBegin(branch.thenBlock());
            StepBuilder tc(tb, fl, elem);
            Value last = arith::SubIOp::create(
                tb, fl, rowsV, arith::ConstantIndexOp::create(tb, fl, 1));
            // decay[d] = exp(L[last, d]).
            Value lastRow = tensor::ExtractSliceOp::create(
                tb, fl,
                RankedTensorType::get(
                    {getConstantIntValue(dk).value_or(ShapedType::kDynamic)},
                    elem),
                lcum, SmallVector<OpFoldResult>{last, tb.getIndexAttr(0)},
                SmallVector<OpFoldResult>{tb.getIndexAttr(1), dk},
                SmallVector<OpFoldResult>{tb.getIndexAttr(1),
                                          tb.getIndexAttr(1)});
            AffineMap id = tb.getMultiDimIdentityMap(2);
            AffineMap colOf = tc.map(2, {tc.d(1)});
            auto scaled = [&](Value x, bool negate, bool fromLast) {
              SmallVector<Value> ins = {x, lcum};
              SmallVector<AffineMap> maps = {id, id};
              if (fromLast) {
                ins.push_back(lastRow);
                maps.push_back(colOf);
              }
              maps.push_back(id);
              return tc.generic(
                  tc.empty({rows, dk}), ins, maps, {kPar, kPar},
                  [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                    Value e = a[1];
                    if (negate)
                      e = arith::NegFOp::create(nb, nl, e);
                    if (fromLast)
                      e = arith::AddFOp::create(nb, nl, e, a[2]);
                    return arith::MulFOp::create(
                        nb, nl, a[0], math::ExpOp::create(nb, nl, e));
                  });
            };
            Value qs = scaled(qc, false, false);
            Value ks = scaled(kc, true, false);
            Value kLast = scaled(kc, true, true);
            // diag(exp(L_last)) S.
            Value decayed = tc.generic(
                tc.empty({dk, dv}), {state, lastRow},
                {id, tc.map(2, {tc.d(0)}), id}, {kPar, kPar},
                [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return arith::MulFOp::create(
                      nb, nl, a[0], math::ExpOp::create(nb, nl, a[1]));
                });
            auto [next, o] =
                chunkStep(tc, qs, ks, kLast, vc, state, rows, dk, dv, decayed);
            Value out = insertRows(tb, fl, o, iter[1], t0, rows, dv);
            scf::YieldOp::create(tb, fl, ValueRange{next, out});
          }
          {
            // Too much decay for the chunked form: the chunk's steps
            // one by one.
            OpBuilder eb = OpBuilder::atBlockBegin(branch.elseBlock());
            Value one = arith::ConstantIndexOp::create(eb, fl, 1);
            Value stop = arith::AddIOp::create(eb, fl, t0, rowsV);
            auto steps = scf::ForOp::create(
                eb, fl, t0, stop, one, ValueRange{state, iter[1]},
                [&](OpBuilder &sbld, Location sl, Value t, ValueRange it) {
                  yieldSequentialStep(sbld, sl, op, bh, t, it, dk, dv);
                });
            scf::YieldOp::create(eb, fl, steps.getResults());
          }
          scf::YieldOp::create(fb, fl, branch.getResults());
        });
  }

  /// DeltaNet's chunk (Yang et al. 2024, WY representation): the state update
  /// of step t is S_t = S_{t-1} + k_t n_t^T with n_t = beta_t (v_t -
  /// S_{t-1}^T k_t); within a chunk starting from S these "pseudo values"
  /// satisfy (I + diag(beta) tril(K K^T, -1)) N = diag(beta) (V - K S), a
  /// unit lower-triangular system solved by forward substitution for
  /// U = T diag(beta) V and W = T diag(beta) K (T the inverse), so that
  /// N = U - W S. The chunk is then the linear one with N for V:
  /// O = Q S + tril(Q K^T) N, S' = S + K^T N. Returns N [rows, dv].
  static Value deltaPseudoValues(StepBuilder &c, Value kc, Value vc, Value beta,
                                 Value state, OpFoldResult rows,
                                 OpFoldResult dk, OpFoldResult dv) {
    OpBuilder &b = c.b;
    Location l = c.loc;
    AffineMap id = b.getMultiDimIdentityMap(2);
    AffineMap rowOf = c.map(2, {c.d(0)});
    SmallVector<utils::IteratorType> contraction = {kPar, kPar, kRed};
    AffineMap ip = c.map(3, {c.d(0), c.d(2)}), jp = c.map(3, {c.d(1), c.d(2)}),
              pj = c.map(3, {c.d(2), c.d(1)}), ij = c.map(3, {c.d(0), c.d(1)});
    // A[i, j] = beta_i (k_i . k_j) for j < i, else 0.
    Value gram = c.generic(c.zeros({rows, rows}), {kc, kc}, {ip, jp, ij},
                           contraction, multiplyAccumulate);
    Value lower = c.generic(
        c.empty({rows, rows}), {gram, beta}, {id, rowOf, id}, {kPar, kPar},
        [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value i = linalg::IndexOp::create(nb, nl, 0);
          Value j = linalg::IndexOp::create(nb, nl, 1);
          Value strict =
              arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, j, i);
          Value zero = arith::ConstantOp::create(
              nb, nl, nb.getFloatAttr(a[0].getType(), 0.0));
          Value scaled = arith::MulFOp::create(nb, nl, a[1], a[0]);
          return arith::SelectOp::create(nb, nl, strict, scaled, zero);
        });
    // Right-hand sides diag(beta) V and diag(beta) K.
    auto scaleRows = [&](Value x, OpFoldResult width) {
      return c.generic(c.empty({rows, width}), {x, beta}, {id, rowOf, id},
                       {kPar, kPar},
                       [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                         return arith::MulFOp::create(nb, nl, a[0], a[1]);
                       });
    };
    Value rhsV = scaleRows(vc, dv), rhsK = scaleRows(kc, dk);
    // Forward substitution, row by row: X[i] = rhs[i] - sum_{j<i} A[i, j] X[j].
    Value zero = arith::ConstantIndexOp::create(b, l, 0);
    Value one = arith::ConstantIndexOp::create(b, l, 1);
    Value u0 = c.zeros({rows, dv}), w0 = c.zeros({rows, dk});
    auto solve = scf::ForOp::create(
        b, l, zero, getValueOrCreateConstantIndexOp(b, l, rows), one,
        ValueRange{u0, w0},
        [&](OpBuilder &fb, Location fl, Value i, ValueRange iter) {
          StepBuilder s(fb, fl, c.elem);
          auto rowType = [&](OpFoldResult n) {
            return RankedTensorType::get(
                {getConstantIntValue(n).value_or(ShapedType::kDynamic)},
                c.elem);
          };
          auto rowAt = [&](Value m, OpFoldResult width) -> Value {
            OpFoldResult unit = fb.getIndexAttr(1);
            return tensor::ExtractSliceOp::create(
                fb, fl, rowType(width), m,
                SmallVector<OpFoldResult>{i, fb.getIndexAttr(0)},
                SmallVector<OpFoldResult>{unit, width},
                SmallVector<OpFoldResult>{unit, unit});
          };
          // Only the solved rows j < i contribute.
          OpFoldResult unit = fb.getIndexAttr(1), origin = fb.getIndexAttr(0);
          Value coeffs = tensor::ExtractSliceOp::create(
              fb, fl, rowType(OpFoldResult(i)), lower,
              SmallVector<OpFoldResult>{i, origin},
              SmallVector<OpFoldResult>{unit, i},
              SmallVector<OpFoldResult>{unit, unit});
          SmallVector<Value> solved;
          for (auto [x, rhs, width] :
               {std::tuple{iter[0], rhsV, dv}, std::tuple{iter[1], rhsK, dk}}) {
            Value done = tensor::ExtractSliceOp::create(
                fb, fl,
                RankedTensorType::get(
                    {ShapedType::kDynamic,
                     getConstantIntValue(width).value_or(ShapedType::kDynamic)},
                    c.elem),
                x, SmallVector<OpFoldResult>{origin, origin},
                SmallVector<OpFoldResult>{i, width},
                SmallVector<OpFoldResult>{unit, unit});
            // Loops (j, e), e innermost (contiguous):
            // row[e] = rhs[i, e] - sum_{j < i} A[i, j] X[j, e].
            Value row = s.generic(
                rowAt(rhs, width), {coeffs, done},
                {s.map(2, {s.d(0)}), s.map(2, {s.d(0), s.d(1)}),
                 s.map(2, {s.d(1)})},
                {kRed, kPar},
                [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  Value p =
                      arith::MulFOp::create(nb, nl, a[0], a[1], kContract);
                  return arith::SubFOp::create(nb, nl, a[2], p, kReassoc);
                });
            solved.push_back(insertRow(fb, fl, row, x, i, width));
          }
          scf::YieldOp::create(fb, fl, solved);
        });
    Value u = solve.getResult(0), w = solve.getResult(1);
    // N = U - W S.
    Value ws = c.generic(c.zeros({rows, dv}), {w, state}, {ip, pj, ij},
                         contraction, multiplyAccumulate);
    return c.generic(c.empty({rows, dv}), {u, ws}, {id, id, id}, {kPar, kPar},
                     [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                       return arith::SubFOp::create(nb, nl, a[0], a[1]);
                     });
  }

  /// One chunk of the chunked form: O = Q S + tril(Q K^T) V and
  /// S' = S0 + Kst^T V, where S0 is `decayed` (or S) and Kst the keys as the
  /// state update reads them. Returns (S', O).
  static std::pair<Value, Value> chunkStep(StepBuilder &c, Value qc, Value kc,
                                           Value kState, Value vc, Value state,
                                           OpFoldResult rows, OpFoldResult dk,
                                           OpFoldResult dv,
                                           Value decayed = Value()) {
    (void)dk;
    AffineMap ip = c.map(3, {c.d(0), c.d(2)}), pj = c.map(3, {c.d(2), c.d(1)}),
              jp = c.map(3, {c.d(1), c.d(2)}), ij = c.map(3, {c.d(0), c.d(1)}),
              pi = c.map(3, {c.d(2), c.d(0)});
    SmallVector<utils::IteratorType> contraction = {kPar, kPar, kRed};
    // Q S: the state's contribution.
    Value inter = c.generic(c.zeros({rows, dv}), {qc, state}, {ip, pj, ij},
                            contraction, multiplyAccumulate);
    // A = Q K^T, causal within the chunk (s <= i).
    Value scores = c.generic(c.zeros({rows, rows}), {qc, kc}, {ip, jp, ij},
                             contraction, multiplyAccumulate);
    AffineMap id = c.b.getMultiDimIdentityMap(2);
    Value causal =
        c.generic(c.empty({rows, rows}), {scores}, {id, id}, {kPar, kPar},
                  [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                    Value i = linalg::IndexOp::create(nb, nl, 0);
                    Value s = linalg::IndexOp::create(nb, nl, 1);
                    Value later = arith::CmpIOp::create(
                        nb, nl, arith::CmpIPredicate::ugt, s, i);
                    Value zero = arith::ConstantOp::create(
                        nb, nl, nb.getFloatAttr(a[0].getType(), 0.0));
                    return arith::SelectOp::create(nb, nl, later, zero, a[0]);
                  });
    // O = Q S + A V.
    Value out = c.generic(inter, {causal, vc}, {ip, pj, ij}, contraction,
                          multiplyAccumulate);
    // S' = S0 + K^T V (loops p, j, s).
    Value next = c.generic(decayed ? decayed : state, {kState, vc},
                           {pi, pj, ij}, contraction, multiplyAccumulate);
    return {next, out};
  }

  /// src[b, h, t0 : t0 + rows, :] as a [rows, width] tile.
  static Value chunkRows(OpBuilder &b, Location l, Value src, ValueRange bh,
                         Value t0, OpFoldResult rows, OpFoldResult width) {
    auto type = cast<RankedTensorType>(src.getType());
    OpFoldResult one = b.getIndexAttr(1);
    SmallVector<OpFoldResult> offs = {bh[0], bh[1], t0, b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {one, one, rows, width};
    SmallVector<OpFoldResult> strides(4, one);
    SmallVector<int64_t> shape = {
        getConstantIntValue(rows).value_or(ShapedType::kDynamic),
        getConstantIntValue(width).value_or(ShapedType::kDynamic)};
    return tensor::ExtractSliceOp::create(
        b, l, RankedTensorType::get(shape, type.getElementType()), src, offs,
        sizes, strides);
  }

  /// rows[t0 : t0 + n, :] = tile.
  static Value insertRows(OpBuilder &b, Location l, Value tile, Value rows,
                          Value t0, OpFoldResult n, OpFoldResult width) {
    OpFoldResult one = b.getIndexAttr(1);
    return tensor::InsertSliceOp::create(
        b, l, tile, rows, SmallVector<OpFoldResult>{t0, b.getIndexAttr(0)},
        SmallVector<OpFoldResult>{n, width},
        SmallVector<OpFoldResult>{one, one});
  }

  /// The loop structure shared by both forms of a matrix-state scan: an
  /// scf.forall over (batch, head) around an scf.for over time in steps of
  /// `step`, carrying the [Dk, Dv] state (from zeros) and the output rows
  /// [T, Dv]; `body` builds one iteration, its yield included, from
  /// (batch and head, t, the time bound, the carried values).
  template <typename DimFn, typename ValFn>
  static Value
  matrixRecurrence(PatternRewriter &rewriter, ScanOp op, Value outInit,
                   int64_t step, DimFn dim, ValFn val,
                   function_ref<void(OpBuilder &, Location, ValueRange, Value,
                                     Value, ValueRange)>
                       body) {
    Value q = op.getInputs()[0], v = op.getInputs()[2];
    Type elem = op.getType().getElementType();
    OpFoldResult batch = dim(q, 0), heads = dim(q, 1), time = dim(q, 2),
                 dk = dim(q, 3), dv = dim(v, 3);
    auto forall = scf::ForallOp::create(
        rewriter, op.getLoc(), SmallVector<OpFoldResult>{batch, heads},
        ValueRange{outInit}, std::nullopt,
        [&](OpBuilder &b, Location l, ValueRange args) {
          StepBuilder sb(b, l, elem);
          SmallVector<Value> bh = {args[0], args[1]};
          Value s0 = sb.zeros({dk, dv});
          Value o0 = tensor::EmptyOp::create(
              b, l, SmallVector<OpFoldResult>{time, dv}, elem);
          Value zero = arith::ConstantIndexOp::create(b, l, 0);
          Value stepV = arith::ConstantIndexOp::create(b, l, step);
          Value end = val(time);
          auto loop = scf::ForOp::create(
              b, l, zero, end, stepV, ValueRange{s0, o0},
              [&](OpBuilder &fb, Location fl, Value t, ValueRange iter) {
                body(fb, fl, bh, t, end, iter);
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

  /// One sequential step from the carried (state, rows), yielded.
  static void yieldSequentialStep(OpBuilder &b, Location l, ScanOp op,
                                  ValueRange bh, Value t, ValueRange iter,
                                  OpFoldResult dk, OpFoldResult dv) {
    auto [next, o] = sequentialStep(b, l, op, bh, t, iter[0], dk, dv);
    Value rows = insertRow(b, l, o, iter[1], t, dv);
    scf::YieldOp::create(b, l, ValueRange{next, rows});
  }

  template <typename DimFn, typename ValFn>
  static Value lowerMatrix(PatternRewriter &rewriter, ScanOp op, Value outInit,
                           DimFn dim, ValFn val) {
    OpFoldResult dk = dim(op.getInputs()[0], 3), dv = dim(op.getInputs()[2], 3);
    return matrixRecurrence(rewriter, op, outInit, 1, dim, val,
                            [&](OpBuilder &b, Location l, ValueRange bh,
                                Value t, Value, ValueRange iter) {
                              yieldSequentialStep(b, l, op, bh, t, iter, dk,
                                                  dv);
                            });
  }

  /// rows[t, :] = row.
  static Value insertRow(OpBuilder &b, Location l, Value row, Value rows,
                         Value t, OpFoldResult width) {
    return insertRows(b, l, row, rows, t, b.getIndexAttr(1), width);
  }
};

} // namespace

void loom::populateScanLoweringPatterns(RewritePatternSet &patterns,
                                        int64_t chunk, int64_t deltaChunk) {
  patterns.add<LowerScan>(patterns.getContext(), chunk, deltaChunk);
}
