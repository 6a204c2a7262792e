//===- TileAttention.cpp - Flash-attention tiling of loom.attention -------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Rewrites `loom.attention` into FlashAttention's algorithm on tensors: an
// `scf.forall` over (batch, head, query tile) whose body walks the key/value
// tiles with an `scf.for` carrying the online-softmax state (running row
// maximum m, running row sum l, unnormalized output acc). Each step computes
// one tile of scores S = scale * Q_t K_j^T (+ mask, causal), then
//
//   m' = max(m, rowmax(S)),  P = exp(S - m'),  a = exp(m - m'),
//   l' = a * l + rowsum(P),  acc' = a * acc + P V_j,
//
// and the tile's output is acc / l. The S x S score matrix is never
// materialized: memory is O(tile_q * tile_kv) per thread. With `causal` or a
// sliding `window`, the key loop of a query tile runs only from the first to
// the last key any of its rows may see, so fully masked tiles are skipped:
// a window of W keys costs O(Sq * W), not O(Sq * Skv).
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "loom/Transforms/WeightMatmul.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cstring>
#include <limits>

namespace loom {
#define GEN_PASS_DEF_TILEATTENTIONPASS
#include "loom/Conversion/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-tile-attention"

using namespace mlir;
using namespace loom;

/// Key ranges are split only for at most this many queries (decoding steps,
/// short speculative runs); longer query sequences have enough tiles.
static constexpr int64_t kMaxSplitQueries = 16;
/// Key ranges start at multiples of this many keys.
static constexpr int64_t kSplitGranule = 16;

/// Content routing (loom.attention's `routed`): the `topK` key blocks of
/// `bs` keys with the largest mean score against the query block's sum,
/// sum_i q_i . mean_{j in block} k_j (the lower block first on ties), as a
/// tensor<topK x index>, -1 past the number of blocks. `queries` is the
/// query block [rows, D] (scaled: a positive factor keeps the order) and
/// `keys` the head's keys [Skv, D]; blocks starting at or past `keyLimit`
/// (a causal mask hides them from the whole block) are no candidates.
static Value routeKeyBlocks(OpBuilder &b, Location l, Value queries, Value keys,
                            Value skv, Value keyLimit, int64_t bs,
                            int64_t topK) {
  auto qt = cast<RankedTensorType>(queries.getType());
  Type elem = qt.getElementType();
  TileBuilder t(b, l, cast<FloatType>(elem));
  auto cIdx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, l, v);
  };
  OpFoldResult headDim =
      qt.isDynamicDim(1)
          ? OpFoldResult(tensor::DimOp::create(b, l, queries, 1).getResult())
          : OpFoldResult(b.getIndexAttr(qt.getDimSize(1)));
  // qSum[d] = sum_i q[i, d].
  Value qSum =
      t.generic(t.filled({headDim}, 0.0), {queries},
                {t.map(2, {t.d(0), t.d(1)}), t.map(2, {t.d(1)})}, {kRed, kPar},
                [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return arith::AddFOp::create(nb, nl, a[1], a[0]);
                });
  // score[j] = k_j . qSum, into a zero-padded [blocks * bs].
  Value blocks = arith::CeilDivUIOp::create(b, l, skv, cIdx(bs));
  Value padded = t.filled(
      {OpFoldResult(arith::MulIOp::create(b, l, blocks, cIdx(bs)).getResult())},
      0.0);
  Value perKey = t.generic(
      t.filled({OpFoldResult(skv)}, 0.0), {keys, qSum},
      {t.map(2, {t.d(0), t.d(1)}), t.map(2, {t.d(1)}), t.map(2, {t.d(0)})},
      {kPar, kRed}, multiplyAccumulate);
  padded = tensor::InsertSliceOp::create(
      b, l, perKey, padded, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{OpFoldResult(skv)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  // mean[kb] = sum of the block's scores / its keys, over the scores as
  // [blocks, bs].
  Value grid = tensor::ExpandShapeOp::create(
      b, l, RankedTensorType::get({ShapedType::kDynamic, bs}, elem), padded,
      ArrayRef<ReassociationIndices>{{0, 1}},
      ArrayRef<OpFoldResult>{OpFoldResult(blocks), b.getIndexAttr(bs)});
  Value sums =
      t.generic(t.filled({OpFoldResult(blocks)}, 0.0), {grid},
                {t.map(2, {t.d(0), t.d(1)}), t.map(2, {t.d(0)})}, {kPar, kRed},
                [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return arith::AddFOp::create(nb, nl, a[1], a[0]);
                });
  Value means = t.generic(
      t.empty({OpFoldResult(blocks)}), {sums},
      {t.map(1, {t.d(0)}), t.map(1, {t.d(0)})}, {kPar},
      [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        Value kb = linalg::IndexOp::create(nb, nl, 0);
        Value bsV = arith::ConstantIndexOp::create(nb, nl, bs);
        Value count = arith::MinUIOp::create(
            nb, nl, bsV,
            arith::SubIOp::create(nb, nl, skv,
                                  arith::MulIOp::create(nb, nl, kb, bsV)));
        Value f = arith::UIToFPOp::create(
            nb, nl, elem,
            arith::IndexCastOp::create(nb, nl, nb.getI64Type(), count));
        Value hidden = arith::CmpIOp::create(
            nb, nl, arith::CmpIPredicate::sge,
            arith::MulIOp::create(nb, nl, kb, bsV), keyLimit);
        Value minusInf = arith::ConstantOp::create(
            nb, nl,
            nb.getFloatAttr(elem, -std::numeric_limits<double>::infinity()));
        return arith::SelectOp::create(nb, nl, hidden, minusInf,
                                       arith::DivFOp::create(nb, nl, a[0], f));
      });
  // The top K: K rounds of argmax (strictly greater: the lower block wins
  // ties), each taking its block out.
  Value negInf = arith::ConstantOp::create(
      b, l, b.getFloatAttr(elem, -std::numeric_limits<double>::infinity()));
  Value none = cIdx(-1);
  Value chosen0 = linalg::FillOp::create(
                      b, l, none,
                      tensor::EmptyOp::create(b, l, ArrayRef<int64_t>{topK},
                                              b.getIndexType())
                          .getResult())
                      .getResult(0);
  auto rounds = scf::ForOp::create(
      b, l, cIdx(0), cIdx(topK), cIdx(1), ValueRange{means, chosen0},
      [&](OpBuilder &fb, Location fl, Value round, ValueRange iter) {
        auto scalar = [&](Type type, Value v) {
          Value e = tensor::EmptyOp::create(fb, fl, ArrayRef<int64_t>{}, type);
          return linalg::FillOp::create(fb, fl, v, e).getResult(0);
        };
        MLIRContext *ctx = fb.getContext();
        AffineMap id = AffineMap::getMultiDimIdentityMap(1, ctx);
        AffineMap toScalar = AffineMap::get(1, 0, {}, ctx);
        auto argmax = linalg::GenericOp::create(
            fb, fl,
            TypeRange{RankedTensorType::get({}, elem),
                      RankedTensorType::get({}, fb.getIndexType())},
            ValueRange{iter[0]},
            ValueRange{scalar(elem, negInf), scalar(fb.getIndexType(), none)},
            ArrayRef<AffineMap>{id, toScalar, toScalar},
            ArrayRef<utils::IteratorType>{kRed},
            [](OpBuilder &nb, Location nl, ValueRange a) {
              Value better = arith::CmpFOp::create(
                  nb, nl, arith::CmpFPredicate::OGT, a[0], a[1]);
              Value at = linalg::IndexOp::create(nb, nl, 0);
              linalg::YieldOp::create(
                  nb, nl,
                  ValueRange{
                      arith::SelectOp::create(nb, nl, better, a[0], a[1]),
                      arith::SelectOp::create(nb, nl, better, at, a[2])});
            });
        Value best = tensor::ExtractOp::create(fb, fl, argmax.getResult(1),
                                               ValueRange{});
        Value chosen = tensor::InsertOp::create(fb, fl, best, iter[1], round);
        Value taken = arith::MaxSIOp::create(
            fb, fl, best, arith::ConstantIndexOp::create(fb, fl, 0));
        Value work = tensor::InsertOp::create(fb, fl, negInf, iter[0], taken);
        scf::YieldOp::create(fb, fl, ValueRange{work, chosen});
      });
  return rounds.getResult(1);
}

/// Whether attention with queries of type `qt` is a decoding step whose
/// keys TileAttention splits into `kvSplits` ranges (static, at most 16
/// queries that fit one tile), before the routing and quantization checks.
static bool splitsDecodingKeys(RankedTensorType qt, int64_t tileQ,
                               int64_t kvSplits) {
  int64_t rank = qt.getRank();
  return kvSplits > 1 && !qt.isDynamicDim(rank - 2) &&
         qt.getDimSize(rank - 2) <= std::min(tileQ, kMaxSplitQueries);
}

/// `t`, or the input of the linalg.transpose that made it, with the
/// permutation that maps `t`'s dims to that input's (identity without one).
static std::pair<Value, SmallVector<int64_t>> throughTranspose(Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  if (auto tr = t.getDefiningOp<linalg::TransposeOp>();
      tr && tr.hasPureTensorSemantics())
    return {tr.getInput(), llvm::to_vector(tr.getPermutation())};
  return {t, llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()))};
}

/// The address (i64) of `t`'s first element and its strides per dim (i64,
/// in elements), read from its buffer with any strided layout: no copy
/// for a slice or a view.
static std::pair<Value, SmallVector<Value>>
stridedOperand(OpBuilder &b, Location loc, Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  int64_t rank = type.getRank();
  auto layout =
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                             SmallVector<int64_t>(rank, ShapedType::kDynamic));
  auto memrefType =
      MemRefType::get(type.getShape(), type.getElementType(), layout);
  Value buffer = bufferization::ToBufferOp::create(b, loc, memrefType, t,
                                                   /*read_only=*/true);
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(
      b, loc, meta.getBaseBuffer());
  Value bytes = arith::MulIOp::create(
      b, loc, meta.getOffset(),
      arith::ConstantIndexOp::create(
          b, loc, type.getElementType().getIntOrFloatBitWidth() / 8));
  auto i64 = [&](Value v) -> Value {
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
  };
  SmallVector<Value> strides;
  for (Value st : meta.getStrides())
    strides.push_back(i64(st));
  return {i64(arith::AddIOp::create(b, loc, base, bytes)), strides};
}

namespace {

/// f32 attention without a mask, window, block sparsity, routing or score
/// quantization -> one call of loomrt_attention_f32. Operands made by
/// linalg.transpose are read through the transpose's input; a result
/// whose only use is a linalg.transpose is written in its layout.
struct AttentionToKernel : OpRewritePattern<AttentionOp> {
  AttentionToKernel(MLIRContext *ctx, int64_t tileQ, int64_t kvSplits, bool gpu)
      : OpRewritePattern(ctx, /*benefit=*/2), tileQ(tileQ), kvSplits(kvSplits),
        gpu(gpu) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    auto module = op->getParentOfType<ModuleOp>();
    RankedTensorType qt = op.getQuery().getType();
    int64_t rank = qt.getRank();
    Value mask = op.getMask();
    if (mask &&
        !(gpu &&
          cast<RankedTensorType>(mask.getType()).getElementType().isF32()))
      return rewriter.notifyMatchFailure(op, "a mask (the GPU takes f32 "
                                             "ones)");
    if (!module || op.getWindow() || op.getBlockSparse() || op.getRouted() ||
        op.getScoreQuantBlock())
      return rewriter.notifyMatchFailure(op, "not plain or causal attention");
    for (Value v : {op.getQuery(), op.getKey(), op.getValue(), op.getResult()})
      if (!cast<RankedTensorType>(v.getType()).getElementType().isF32())
        return rewriter.notifyMatchFailure(op, "not f32");
    if (gpu) {
      // loom-gpu-attention's kernel: static head dims, multiples of 16 up
      // to 128.
      auto fits = [](int64_t d) {
        return !ShapedType::isDynamic(d) && d > 0 && d % 16 == 0 && d <= 128;
      };
      if (!fits(qt.getShape().back()) ||
          !fits(op.getValue().getType().getShape().back()))
        return rewriter.notifyMatchFailure(op, "head dims the GPU kernel "
                                               "does not take");
    } else if (splitsDecodingKeys(qt, tileQ, kvSplits)) {
      // Decoding's key split stays with the tiles (TileAttention).
      return rewriter.notifyMatchFailure(op, "split decoding");
    }
    Location loc = op.getLoc();
    auto i64 = [&](Value v) -> Value {
      return arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(),
                                        v);
    };
    auto cst = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(rewriter, loc, v, 64);
    };
    // Dim i of an operand, read from a transpose's input where there is
    // one (so that the transpose dies).
    auto dim = [&](Value t, int64_t i) -> Value {
      auto [input, perm] = throughTranspose(t);
      return tensor::DimOp::create(rewriter, loc, input, perm[i]);
    };

    // Address and [batch, head, row, column] strides of an operand, seen
    // through a transpose.
    auto operand = [&](Value t) {
      auto [input, perm] = throughTranspose(t);
      auto [address, strides] = stridedOperand(rewriter, loc, input);
      SmallVector<Value> s;
      for (int64_t i = 0; i < rank; ++i)
        s.push_back(strides[perm[i]]);
      if (rank == 3) // no heads
        s.insert(s.begin() + 1, cst(0));
      return std::make_pair(address, s);
    };
    auto [qAddr, qs] = operand(op.getQuery());
    auto [kAddr, ks] = operand(op.getKey());
    auto [vAddr, vs] = operand(op.getValue());

    // The output: in the layout of its only transpose, if any. Its other
    // users may only read its sizes (the transpose's init is usually made
    // from them); they read the operands' instead.
    Value result = op.getResult();
    linalg::TransposeOp outTranspose;
    SmallVector<tensor::DimOp> resultDimOps;
    bool onlyTransposed = true;
    for (Operation *user : result.getUsers()) {
      if (auto dimOp = dyn_cast<tensor::DimOp>(user);
          dimOp && dimOp.getConstantIndex() &&
          *dimOp.getConstantIndex() >= 0 && *dimOp.getConstantIndex() < rank) {
        resultDimOps.push_back(dimOp);
        continue;
      }
      auto tr = dyn_cast<linalg::TransposeOp>(user);
      if (!tr || outTranspose || !tr.hasPureTensorSemantics() ||
          tr.getInput() != result)
        onlyTransposed = false;
      else
        outTranspose = tr;
    }
    if (!onlyTransposed)
      outTranspose = {};
    RankedTensorType rt = op.getType();
    SmallVector<int64_t> outPerm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    if (outTranspose)
      outPerm.assign(outTranspose.getPermutation().begin(),
                     outTranspose.getPermutation().end());
    // Dim j of the buffer is dim outPerm[j] of the result.
    SmallVector<Value> resultDims;
    for (int64_t i = 0; i < rank; ++i)
      resultDims.push_back(i == rank - 1 ? dim(op.getValue(), rank - 1)
                                         : dim(op.getQuery(), i));
    SmallVector<Value> bufferDims;
    for (int64_t j = 0; j < rank; ++j)
      bufferDims.push_back(resultDims[outPerm[j]]);
    if (outTranspose)
      for (tensor::DimOp dimOp : resultDimOps)
        rewriter.replaceOp(dimOp, resultDims[*dimOp.getConstantIndex()]);
    auto bufferType =
        outTranspose
            ? cast<RankedTensorType>(outTranspose.getResult()[0].getType())
            : rt;
    KernelOutput out(rewriter, loc, bufferType, bufferDims);
    auto meta =
        memref::ExtractStridedMetadataOp::create(rewriter, loc, out.buffer);
    SmallVector<Value> os(rank);
    for (int64_t j = 0; j < rank; ++j)
      os[outPerm[j]] = i64(meta.getStrides()[j]);
    if (rank == 3)
      os.insert(os.begin() + 1, cst(0));

    Value heads = rank == 4 ? i64(dim(op.getQuery(), 1)) : cst(1);
    Value kvHeads = rank == 4 ? i64(dim(op.getKey(), 1)) : cst(1);
    float scale = static_cast<float>(op.getEffectiveScale());
    uint32_t scaleBits;
    std::memcpy(&scaleBits, &scale, sizeof(scale));
    SmallVector<Value> args = {i64(dim(op.getQuery(), 0)),
                               heads,
                               kvHeads,
                               i64(dim(op.getQuery(), rank - 2)),
                               i64(dim(op.getKey(), rank - 2)),
                               i64(dim(op.getQuery(), rank - 1)),
                               i64(dim(op.getValue(), rank - 1))};
    args.push_back(qAddr);
    args.append(qs);
    args.push_back(kAddr);
    args.append(ks);
    args.push_back(vAddr);
    args.append(vs);
    args.push_back(out.address);
    args.append(os);
    args.push_back(cst(scaleBits));
    args.push_back(cst(op.getCausal() ? kCausalFlag : 0));
    if (mask) {
      // The mask's address and [batch, head, row, column] strides as it
      // broadcasts (from the right) to the scores: stride 0 along its
      // missing dims and dims of size 1.
      auto [address, strides] = stridedOperand(rewriter, loc, mask);
      auto maskType = cast<RankedTensorType>(mask.getType());
      int64_t maskRank = maskType.getRank();
      SmallVector<Value> ms(4, cst(0));
      for (int64_t i = 0; i < maskRank; ++i) {
        // Mask dim i is score dim (4 - maskRank + i) of [B, H, Sq, Skv]
        // (rank-3 attention has no heads: its dims are B, Sq, Skv).
        int64_t at = 4 - maskRank + i;
        if (rank == 3 && at == 1)
          at = 0;
        else if (rank == 3 && at == 0)
          continue; // beyond [B, Sq, Skv]: the verifier's broadcast says 1
        if (maskType.getDimSize(i) == 1)
          continue;
        Value stride = strides[i];
        if (maskType.isDynamicDim(i)) {
          Value size = arith::IndexCastOp::create(
              rewriter, loc, rewriter.getI64Type(),
              tensor::DimOp::create(rewriter, loc, mask, i));
          Value unit = arith::CmpIOp::create(
              rewriter, loc, arith::CmpIPredicate::eq, size, cst(1));
          stride = arith::SelectOp::create(rewriter, loc, unit, cst(0), stride);
        }
        ms[at] = stride;
      }
      args.push_back(address);
      args.append(ms);
    }
    func::FuncOp kernel = getOrDeclareKernel(
        rewriter, module, mask ? kMaskedKernel : kAttentionKernel, args.size());
    func::CallOp::create(rewriter, loc, kernel, args);
    Value tensor = out.tensor(rewriter, loc, bufferType);
    if (outTranspose) {
      rewriter.replaceOp(outTranspose, tensor);
      rewriter.eraseOp(op);
    } else {
      rewriter.replaceOp(op, tensor);
    }
    return success();
  }

private:
  /// loomrt_attention_f32 and its LOOMRT_ATTENTION_CAUSAL (loomrt/kernels.h).
  static constexpr StringLiteral kAttentionKernel = "loomrt_attention_f32";
  /// Its form with an additive f32 mask (address and 4 strides last), which
  /// only loom-gpu-attention takes.
  static constexpr StringLiteral kMaskedKernel = "loomrt_attention_mask_f32";
  static constexpr int64_t kCausalFlag = 1;
  int64_t tileQ, kvSplits;
  /// For loom-gpu-attention's kernel (which takes what it can run).
  bool gpu;
};

/// loom.attention -> scf.forall over query tiles, scf.for over key tiles.
struct TileAttention : OpRewritePattern<AttentionOp> {
  TileAttention(MLIRContext *ctx, int64_t tileQ, int64_t causalTileQ,
                int64_t tileKV, int64_t kvSplits, bool onlyRouted)
      : OpRewritePattern(ctx), tileQ(tileQ), causalTileQ(causalTileQ),
        tileKV(tileKV), kvSplits(kvSplits), onlyRouted(onlyRouted) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (onlyRouted && !op.getRouted())
      return rewriter.notifyMatchFailure(op, "only routed attention");
    Location loc = op.getLoc();
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
    Value mask = op.getMask();
    RankedTensorType qt = op.getQuery().getType(), kt = op.getKey().getType(),
                     vt = op.getValue().getType();
    RankedTensorType rt = op.getType();
    auto elem = cast<FloatType>(qt.getElementType());
    int64_t rank = qt.getRank();
    bool heads = rank == 4;
    if (kt.getElementType() != elem || vt.getElementType() != elem ||
        rt.getElementType() != elem ||
        (mask &&
         cast<RankedTensorType>(mask.getType()).getElementType() != elem))
      return rewriter.notifyMatchFailure(op, "mixed element types");
    int64_t group = 1;
    if (heads && op.getNumKvHeads()) {
      if (qt.isDynamicDim(1))
        return rewriter.notifyMatchFailure(op, "dynamic query heads with GQA");
      group = qt.getDimSize(1) / *op.getNumKvHeads();
    }

    auto dim = [&](Value t, int64_t i) -> OpFoldResult {
      auto type = cast<RankedTensorType>(t.getType());
      if (!type.isDynamicDim(i))
        return rewriter.getIndexAttr(type.getDimSize(i));
      return tensor::DimOp::create(rewriter, loc, t, i).getResult();
    };
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    auto val = [&](OpFoldResult ofr) -> Value {
      return getValueOrCreateConstantIndexOp(rewriter, loc, ofr);
    };
    int64_t nb = heads ? 2 : 1;
    Value sq = val(dim(q, rank - 2)), skv = val(dim(k, rank - 2));
    OpFoldResult headDim = dim(q, rank - 1), valueDim = dim(v, rank - 1);

    // The loop space: batch (, heads), query tiles.
    SmallVector<OpFoldResult> ubs;
    for (int64_t i = 0; i < nb; ++i)
      ubs.push_back(dim(q, i));
    // Routed attention chooses key blocks per query block: one query block
    // per tile.
    std::optional<ArrayRef<int64_t>> routedOp = op.getRouted();
    // Causal and windowed tiles of fewer rows skip more masked keys.
    int64_t tileRows = routedOp ? (*routedOp)[0]
                       : (op.getCausal() || op.getWindow()) && causalTileQ > 0
                           ? causalTileQ
                           : tileQ;
    // score_quant_block = B: key tiles start at multiples of B (the tile
    // rounded up to one), so the blocks a tile quantizes are the op's.
    std::optional<int64_t> quantBlock = op.getScoreQuantBlock();
    int64_t kvStep = quantBlock ? llvm::alignTo(tileKV, *quantBlock) : tileKV;
    Value tq = idx(tileRows), tkv = idx(kvStep);
    // Decoding (a few queries, known at compile time, in one tile): split the
    // keys into `kvSplits` ranges computed in parallel, then merge their
    // partial softmax states (Lean Attention's stream-K reduction), so that
    // a few heads still keep every core busy.
    bool split =
        !routedOp && !quantBlock && splitsDecodingKeys(qt, tileQ, kvSplits);
    Value chunk;
    if (split) {
      ubs.push_back(rewriter.getIndexAttr(kvSplits));
      // Keys per range: ceil(Skv / splits), rounded up to a whole vector.
      Value perSplit =
          arith::CeilDivUIOp::create(rewriter, loc, skv, idx(kvSplits));
      chunk = arith::MulIOp::create(
          rewriter, loc,
          arith::CeilDivUIOp::create(rewriter, loc, perSplit,
                                     idx(kSplitGranule)),
          idx(kSplitGranule));
    } else if (!qt.isDynamicDim(rank - 2))
      ubs.push_back(rewriter.getIndexAttr(
          llvm::divideCeil(qt.getDimSize(rank - 2), tileRows)));
    else
      ubs.push_back(
          arith::CeilDivUIOp::create(rewriter, loc, sq, tq).getResult());

    SmallVector<Value> outDyn;
    for (int64_t i = 0; i < rank; ++i)
      if (rt.isDynamicDim(i))
        outDyn.push_back(i == rank - 1 ? val(valueDim) : val(dim(q, i)));
    Value outInit =
        tensor::EmptyOp::create(rewriter, loc, rt.getShape(), elem, outDyn);
    // Split: partial max [B, (H,) P, Sq], sum [.., P, Sq], output
    // [.., P, Sq, Dv].
    SmallVector<Value> shared = {outInit};
    if (split) {
      SmallVector<int64_t> pShape(qt.getShape().take_front(nb));
      pShape.push_back(kvSplits);
      pShape.push_back(qt.getDimSize(rank - 2));
      SmallVector<Value> pDyn;
      for (int64_t i = 0; i < nb; ++i)
        if (qt.isDynamicDim(i))
          pDyn.push_back(val(dim(q, i)));
      SmallVector<int64_t> aShape(pShape);
      aShape.push_back(rt.getDimSize(rank - 1));
      SmallVector<Value> aDyn(pDyn);
      if (rt.isDynamicDim(rank - 1))
        aDyn.push_back(val(valueDim));
      shared = {tensor::EmptyOp::create(rewriter, loc, pShape, elem, pDyn),
                tensor::EmptyOp::create(rewriter, loc, pShape, elem, pDyn),
                tensor::EmptyOp::create(rewriter, loc, aShape, elem, aDyn)};
    }

    Value offset; // Skv - Sq: bottom-right aligned causal mask and window.
    bool causal = op.getCausal();
    std::optional<int64_t> window = op.getWindow();
    std::optional<ArrayRef<int64_t>> blocks = op.getBlockSparse();
    std::optional<ArrayRef<int64_t>> routed = op.getRouted();
    if (causal || window || blocks)
      offset = arith::SubIOp::create(rewriter, loc, skv, sq);
    double scaleValue = op.getEffectiveScale();

    auto forall = scf::ForallOp::create(
        rewriter, loc, ubs, shared, /*mapping=*/std::nullopt,
        [&](OpBuilder &b, Location l, ValueRange args) {
          TileBuilder tb(b, l, elem);
          ValueRange ivs = args.take_front(nb + 1);
          ValueRange outs = args.drop_front(nb + 1);
          Value batch = ivs[0];
          Value head = heads ? ivs[1] : Value();
          Value kvHead = head;
          if (heads && group != 1)
            kvHead = arith::DivUIOp::create(
                b, l, head, arith::ConstantIndexOp::create(b, l, group));
          Value q0 = split ? Value(arith::ConstantIndexOp::create(b, l, 0))
                           : Value(arith::MulIOp::create(b, l, ivs[nb], tq));
          Value rows = arith::MinUIOp::create(
              b, l, tq, arith::SubIOp::create(b, l, sq, q0));
          OpFoldResult one = b.getIndexAttr(1), zero = b.getIndexAttr(0);

          // Slices [batch, head, start, 0] of sizes [1, 1, n, last], rank
          // reduced to 2-D.
          auto slice2d = [&](Value src, Value h, Value start, Value n,
                             OpFoldResult last) -> Value {
            SmallVector<OpFoldResult> offs = {batch}, sizes = {one};
            if (heads) {
              offs.push_back(h);
              sizes.push_back(one);
            }
            offs.append({start, zero});
            sizes.append({n, last});
            SmallVector<OpFoldResult> strides(rank, one);
            SmallVector<int64_t> shape = {
                ShapedType::kDynamic,
                cast<RankedTensorType>(src.getType()).getDimSize(rank - 1)};
            auto type = RankedTensorType::get(shape, elem);
            return tensor::ExtractSliceOp::create(b, l, type, src, offs, sizes,
                                                  strides);
          };
          // The scale is applied to the query tile once (rows x D) rather
          // than to every tile of scores (rows x Skv).
          Value qTile = slice2d(q, head, q0, rows, headDim);
          {
            AffineMap id = b.getMultiDimIdentityMap(2);
            Value scale = tb.cst(scaleValue);
            qTile = tb.generic(
                tb.empty({rows, headDim}), {qTile}, {id, id}, {kPar, kPar},
                [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return arith::MulFOp::create(nb, nl, a[0], scale);
                });
          }

          // The keys any row of this tile may see: [kvFirst, kvEnd).
          Value kvEnd = skv;
          Value c0 = arith::ConstantIndexOp::create(b, l, 0);
          auto cIdx = [&](int64_t v) -> Value {
            return arith::ConstantIndexOp::create(b, l, v);
          };
          Value kvFirst = c0;
          if (causal || window) {
            // One past the last row's own position.
            Value last = arith::AddIOp::create(
                b, l, arith::AddIOp::create(b, l, q0, rows), offset);
            if (!causal) // The window reaches W - 1 keys further.
              last = arith::AddIOp::create(b, l, last, cIdx(*window - 1));
            last = arith::MaxSIOp::create(b, l, last, c0);
            kvEnd = arith::MinSIOp::create(b, l, skv, last);
            if (quantBlock) // The whole last block: its maximum counts
                            // the keys the mask hides.
              kvEnd = arith::MinSIOp::create(
                  b, l, skv,
                  arith::MulIOp::create(b, l,
                                        arith::CeilDivSIOp::create(
                                            b, l, kvEnd, cIdx(*quantBlock)),
                                        cIdx(*quantBlock)));
          }
          if (window) {
            // The first row's position - (W - 1).
            Value first = arith::SubIOp::create(
                b, l, arith::AddIOp::create(b, l, q0, offset),
                cIdx(*window - 1));
            kvFirst = arith::MinSIOp::create(
                b, l, arith::MaxSIOp::create(b, l, first, c0), kvEnd);
          }
          // The key ranges the loops visit, one after the other.
          SmallVector<std::pair<Value, Value>> ranges = {{kvFirst, kvEnd}};
          if (blocks) {
            // Local + global blocks: the global keys [first, G*B), then the
            // blocks within L of the tile's first and last rows' blocks;
            // a tile holding a global query block sees every key.
            int64_t bs = (*blocks)[0], local = (*blocks)[1],
                    global = (*blocks)[2];
            Value pFirst = arith::AddIOp::create(b, l, q0, offset);
            Value pLast = arith::SubIOp::create(
                b, l, arith::AddIOp::create(b, l, pFirst, rows), cIdx(1));
            Value qbFirst = arith::FloorDivSIOp::create(b, l, pFirst, cIdx(bs));
            Value qbLast = arith::FloorDivSIOp::create(b, l, pLast, cIdx(bs));
            Value isGlobal = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::slt, qbFirst, cIdx(global));
            Value globalEnd = arith::MaxSIOp::create(
                b, l, kvFirst,
                arith::MinSIOp::create(b, l, cIdx(global * bs), kvEnd));
            Value aEnd =
                arith::SelectOp::create(b, l, isGlobal, kvEnd, globalEnd);
            Value lo = arith::MulIOp::create(
                b, l, arith::SubIOp::create(b, l, qbFirst, cIdx(local)),
                cIdx(bs));
            Value hi = arith::MulIOp::create(
                b, l, arith::AddIOp::create(b, l, qbLast, cIdx(local + 1)),
                cIdx(bs));
            Value bBegin = arith::MaxSIOp::create(
                b, l, arith::MaxSIOp::create(b, l, lo, kvFirst), aEnd);
            Value bEnd = arith::MinSIOp::create(b, l, hi, kvEnd);
            ranges = {{kvFirst, aEnd}, {bBegin, bEnd}};
          }

          double negInf = -std::numeric_limits<double>::infinity();
          Value m0 = tb.filled({rows}, negInf);
          Value l0 = tb.filled({rows}, 0.0);
          Value acc0 = tb.filled({rows, valueDim}, 0.0);
          if (split) {
            // This task's key range [p * chunk, (p+1) * chunk), intersected
            // with each range.
            Value start = arith::MulIOp::create(b, l, ivs[nb], chunk);
            Value stop = arith::AddIOp::create(b, l, start, chunk);
            for (auto &range : ranges) {
              if (window || blocks)
                range.first = arith::MaxSIOp::create(b, l, start, range.first);
              else
                range.first = start;
              range.second = arith::MinSIOp::create(b, l, range.second, stop);
            }
          }
          SmallVector<Value> state = {m0, l0, acc0};
          // One step of the online softmax over keys [k0, k0 + cols):
          // returns the new (max, sum, output).
          auto step = [&](OpBuilder &fb, Location fl, Value k0, Value cols,
                          ValueRange iter) -> SmallVector<Value> {
            TileBuilder t(fb, fl, elem);
            Value kTile = slice2d(k, kvHead, k0, cols, headDim);
            Value vTile = slice2d(v, kvHead, k0, cols, valueDim);
            Value m = iter[0], sum = iter[1], acc = iter[2];

            // K_j^T [D, cols], so that the score loop nest runs
            // contiguously along j (vectorized, no horizontal sums).
            Value kT = linalg::TransposeOp::create(fb, fl, kTile,
                                                   t.empty({headDim, cols}),
                                                   ArrayRef<int64_t>{1, 0})
                           .getResult()[0];
            // S[i, j] = sum_d Q[i, d] K^T[d, j]
            Value s = t.generic(t.filled({rows, cols}, 0.0), {qTile, kT},
                                {t.map(3, {t.d(0), t.d(2)}),
                                 t.map(3, {t.d(2), t.d(1)}),
                                 t.map(3, {t.d(0), t.d(1)})},
                                {kPar, kPar, kRed}, multiplyAccumulate);

            // Blockwise int8 scores (the scale is in Q already).
            if (quantBlock)
              s = buildBlockwiseFakeQuant(fb, fl, s, *quantBlock);
            // Mask, causal masking.
            Value scored = s;
            Value ninf = t.cst(negInf);
            if (mask || offset) {
              SmallVector<Value> ins = {s};
              SmallVector<AffineMap> maps = {fb.getMultiDimIdentityMap(2)};
              if (mask) {
                auto [mTile, mMap] = maskTile(fb, fl, mask, rank, batch, head,
                                              q0, rows, k0, cols);
                ins.push_back(mTile);
                maps.push_back(mMap);
              }
              maps.push_back(fb.getMultiDimIdentityMap(2));
              bool hasMask = static_cast<bool>(mask);
              scored = t.generic(
                  t.empty({rows, cols}), ins, maps, {kPar, kPar},
                  [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                    Value x = a[0];
                    if (hasMask)
                      x = arith::AddFOp::create(nb, nl, x, a[1]);
                    if (!offset)
                      return x;
                    Value i = linalg::IndexOp::create(nb, nl, 0);
                    Value j = linalg::IndexOp::create(nb, nl, 1);
                    Value qi = arith::AddIOp::create(nb, nl, q0, i);
                    Value kj = arith::AddIOp::create(nb, nl, k0, j);
                    Value masked = attentionMasked(nb, nl, qi, kj, offset,
                                                   causal, window, blocks);
                    return arith::SelectOp::create(nb, nl, masked, ninf, x);
                  });
            }

            // m' = max(m, rowmax(S)).
            AffineMap rowOf2 = t.map(2, {t.d(0)});
            AffineMap id2 = fb.getMultiDimIdentityMap(2);
            Value mNew = t.generic(
                m, {scored}, {id2, rowOf2}, {kPar, kRed},
                [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return arith::MaximumFOp::create(nb, nl, a[1], a[0]);
                });
            // A row that saw only -inf keeps its state: subtract 0.
            auto safe = [ninf](OpBuilder &nb, Location nl, Value mx) -> Value {
              Value isInf = arith::CmpFOp::create(
                  nb, nl, arith::CmpFPredicate::OEQ, mx, ninf);
              Value z = arith::ConstantOp::create(
                  nb, nl, nb.getFloatAttr(mx.getType(), 0.0));
              return arith::SelectOp::create(nb, nl, isInf, z, mx);
            };
            // P = exp(S - m').
            Value p = t.generic(
                t.empty({rows, cols}), {scored, mNew}, {id2, rowOf2, id2},
                {kPar, kPar},
                [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return math::ExpOp::create(
                      nb, nl,
                      arith::SubFOp::create(nb, nl, a[0], safe(nb, nl, a[1])));
                });
            // a = exp(m - m').
            AffineMap id1 = fb.getMultiDimIdentityMap(1);
            Value alpha = t.generic(
                t.empty({rows}), {m, mNew}, {id1, id1, id1}, {kPar},
                [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return math::ExpOp::create(
                      nb, nl,
                      arith::SubFOp::create(nb, nl, a[0], safe(nb, nl, a[1])));
                });
            // l' = a * l + rowsum(P).
            Value lScaled = t.generic(
                t.empty({rows}), {sum, alpha}, {id1, id1, id1}, {kPar},
                [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return arith::MulFOp::create(nb, nl, a[0], a[1]);
                });
            Value lNew = t.generic(
                lScaled, {p}, {id2, rowOf2}, {kPar, kRed},
                [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return arith::AddFOp::create(nb, nl, a[1], a[0], kReassoc);
                });
            // acc' = a * acc + P V.
            Value accScaled = t.generic(
                t.empty({rows, valueDim}), {acc, alpha}, {id2, rowOf2, id2},
                {kPar, kPar},
                [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  return arith::MulFOp::create(nb, nl, a[0], a[1]);
                });
            // Loops (i, e, j): acc[i, e] += P[i, j] V[j, e].
            Value accNew = t.generic(accScaled, {p, vTile},
                                     {t.map(3, {t.d(0), t.d(2)}),
                                      t.map(3, {t.d(2), t.d(1)}),
                                      t.map(3, {t.d(0), t.d(1)})},
                                     {kPar, kPar, kRed}, multiplyAccumulate);
            return {mNew, lNew, accNew};
          };
          if (routed) {
            // The K key blocks of this query block, in routing order; -1
            // where fewer blocks exist.
            Value chosen = routeKeyBlocks(
                b, l, qTile, slice2d(k, kvHead, c0, skv, headDim), skv, kvEnd,
                (*routed)[0], (*routed)[1]);
            auto loop = scf::ForOp::create(
                b, l, c0, cIdx((*routed)[1]), cIdx(1), state,
                [&](OpBuilder &fb, Location fl, Value t, ValueRange iter) {
                  Value kb = tensor::ExtractOp::create(fb, fl, chosen, t);
                  Value valid = arith::CmpIOp::create(
                      fb, fl, arith::CmpIPredicate::sge, kb,
                      arith::ConstantIndexOp::create(fb, fl, 0));
                  auto ifOp = scf::IfOp::create(
                      fb, fl, valid,
                      [&](OpBuilder &ib, Location il) {
                        Value bs = arith::ConstantIndexOp::create(ib, il,
                                                                  (*routed)[0]);
                        Value k0 = arith::MulIOp::create(ib, il, kb, bs);
                        Value cols = arith::MinUIOp::create(
                            ib, il, bs, arith::SubIOp::create(ib, il, skv, k0));
                        scf::YieldOp::create(ib, il,
                                             step(ib, il, k0, cols, iter));
                      },
                      [&](OpBuilder &eb, Location el) {
                        scf::YieldOp::create(eb, el, iter);
                      });
                  scf::YieldOp::create(fb, fl, ifOp.getResults());
                });
            state.assign(loop.getResults().begin(), loop.getResults().end());
          } else {
            for (auto &range : ranges) {
              Value rangeEnd = range.second;
              auto loop = scf::ForOp::create(
                  b, l, range.first, rangeEnd, tkv, state,
                  [&](OpBuilder &fb, Location fl, Value k0, ValueRange iter) {
                    Value cols = arith::MinUIOp::create(
                        fb, fl, tkv,
                        arith::SubIOp::create(fb, fl, rangeEnd, k0));
                    scf::YieldOp::create(fb, fl, step(fb, fl, k0, cols, iter));
                  });
              state.assign(loop.getResults().begin(), loop.getResults().end());
            }
          }

          if (split) {
            // The partial state of this range, merged after the loop.
            SmallVector<OpFoldResult> offs = {batch}, sizes = {one};
            if (heads) {
              offs.push_back(head);
              sizes.push_back(one);
            }
            offs.push_back(ivs[nb]);
            sizes.push_back(one);
            SmallVector<OpFoldResult> rowOffs(offs), rowSizes(sizes);
            rowOffs.push_back(zero);
            rowSizes.push_back(rows);
            SmallVector<OpFoldResult> accOffs(rowOffs), accSizes(rowSizes);
            accOffs.push_back(zero);
            accSizes.push_back(valueDim);
            buildInParallel(b, l,
                            {{state[0], outs[0], rowOffs, rowSizes},
                             {state[1], outs[1], rowOffs, rowSizes},
                             {state[2], outs[2], accOffs, accSizes}});
            return;
          }

          // out = acc / l.
          Value accF = state[2], lF = state[1];
          AffineMap id2 = b.getMultiDimIdentityMap(2);
          Value out =
              tb.generic(tb.empty({rows, valueDim}), {accF, lF},
                         {id2, tb.map(2, {tb.d(0)}), id2}, {kPar, kPar},
                         [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                           return arith::DivFOp::create(nb, nl, a[0], a[1]);
                         });
          SmallVector<OpFoldResult> offs = {batch}, sizes = {one};
          if (heads) {
            offs.push_back(head);
            sizes.push_back(one);
          }
          offs.append({q0, zero});
          sizes.append({rows, valueDim});
          buildInParallel(b, l, {{out, outs[0], offs, sizes}});
        });
    if (!split) {
      rewriter.replaceOp(op, forall.getResults());
      return success();
    }
    rewriter.replaceOp(
        op, mergeSplits(rewriter, loc, forall.getResults(), outInit, nb, elem));
    return success();
  }

  /// Merges the partial softmax states of the key ranges (dim `nb` of the
  /// partial tensors): m* = max_p m_p, w_p = exp(m_p - m*),
  /// out = sum_p w_p acc_p / sum_p w_p l_p.
  static Value mergeSplits(OpBuilder &b, Location loc, ValueRange partial,
                           Value outInit, int64_t nb, FloatType elem) {
    TileBuilder tb(b, loc, elem);
    Value m = partial[0], sum = partial[1], acc = partial[2];
    auto mt = cast<RankedTensorType>(m.getType());
    // Loops over the output [batch.., i] (+ e), with p last.
    int64_t rowLoops = nb + 2; // batch.., i, p
    SmallVector<AffineExpr> part, row;
    for (int64_t i = 0; i < nb; ++i) {
      part.push_back(tb.d(i));
      row.push_back(tb.d(i));
    }
    part.append({tb.d(nb + 1), tb.d(nb)});
    row.push_back(tb.d(nb));
    SmallVector<utils::IteratorType> rowIters(nb + 1, kPar);
    rowIters.push_back(kRed);
    SmallVector<int64_t> rowShape(mt.getShape().take_front(nb));
    rowShape.push_back(mt.getDimSize(nb + 1));
    SmallVector<Value> rowDyn;
    for (int64_t i = 0; i < nb; ++i)
      if (mt.isDynamicDim(i))
        rowDyn.push_back(tensor::DimOp::create(b, loc, m, i));
    double negInf = -std::numeric_limits<double>::infinity();
    auto filledRow = [&](double v) {
      Value e = tensor::EmptyOp::create(b, loc, rowShape, elem, rowDyn);
      return linalg::FillOp::create(b, loc, tb.cst(v), e).getResult(0);
    };
    AffineMap partMap = tb.map(rowLoops, part), rowMap = tb.map(rowLoops, row);
    Value mStar =
        tb.generic(filledRow(negInf), {m}, {partMap, rowMap}, rowIters,
                   [](OpBuilder &nb2, Location l, ValueRange a) -> Value {
                     return arith::MaximumFOp::create(nb2, l, a[1], a[0]);
                   });
    Value ninf = tb.cst(negInf);
    // exp(m_p - m*), 0 for ranges that saw no key (m_p = -inf).
    auto weight = [ninf](OpBuilder &ob, Location l, Value mp,
                         Value ms) -> Value {
      Value none =
          arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OEQ, mp, ninf);
      Value w =
          math::ExpOp::create(ob, l, arith::SubFOp::create(ob, l, mp, ms));
      Value z =
          arith::ConstantOp::create(ob, l, ob.getFloatAttr(mp.getType(), 0.0));
      return arith::SelectOp::create(ob, l, none, z, w);
    };
    Value den = tb.generic(
        filledRow(0.0), {m, sum, mStar}, {partMap, partMap, rowMap, rowMap},
        rowIters, [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
          Value w = weight(ob, l, a[0], a[2]);
          Value x = arith::MulFOp::create(ob, l, w, a[1], kContract);
          return arith::AddFOp::create(ob, l, a[3], x, kReassoc);
        });
    // out[batch.., i, e] = sum_p w acc / den; loops batch.., i, e, p.
    int64_t outLoops = nb + 3;
    SmallVector<AffineExpr> pe, re, oe;
    for (int64_t i = 0; i < nb; ++i) {
      pe.push_back(tb.d(i));
      re.push_back(tb.d(i));
      oe.push_back(tb.d(i));
    }
    pe.append({tb.d(nb + 2), tb.d(nb)});
    re.push_back(tb.d(nb));
    oe.append({tb.d(nb), tb.d(nb + 1)});
    SmallVector<AffineExpr> ae(pe);
    ae.push_back(tb.d(nb + 1));
    SmallVector<utils::IteratorType> outIters(nb + 2, kPar);
    outIters.push_back(kRed);
    Value zero = tb.cst(0.0);
    Value outZero = linalg::FillOp::create(b, loc, zero, outInit).getResult(0);
    Value num = tb.generic(
        outZero, {m, mStar, acc},
        {tb.map(outLoops, pe), tb.map(outLoops, re), tb.map(outLoops, ae),
         tb.map(outLoops, oe)},
        outIters, [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
          Value w = weight(ob, l, a[0], a[1]);
          Value x = arith::MulFOp::create(ob, l, w, a[2], kContract);
          return arith::AddFOp::create(ob, l, a[3], x, kReassoc);
        });
    SmallVector<AffineExpr> rowOfOut(oe.begin(), oe.end() - 1);
    AffineMap idOut = b.getMultiDimIdentityMap(nb + 2);
    SmallVector<utils::IteratorType> par(nb + 2, kPar);
    return tb.generic(tensor::EmptyOp::create(
                          b, loc,
                          cast<RankedTensorType>(outInit.getType()).getShape(),
                          elem, dynamicSizes(b, loc, outInit)),
                      {num, den}, {idOut, tb.map(nb + 2, rowOfOut), idOut}, par,
                      [](OpBuilder &ob, Location l, ValueRange a) -> Value {
                        return arith::DivFOp::create(ob, l, a[0], a[1]);
                      });
  }

  /// The tile of the additive mask for scores [rows x cols] at query `q0`
  /// and key `k0`, and the map from the tile's (i, j) loops into it. The
  /// mask broadcasts (numpy rules, from the right) to [B, (H,) Sq, Skv].
  static std::pair<Value, AffineMap>
  maskTile(OpBuilder &b, Location loc, Value mask, int64_t rank, Value batch,
           Value head, Value q0, Value rows, Value k0, Value cols) {
    auto type = cast<RankedTensorType>(mask.getType());
    int64_t mr = type.getRank(), shift = rank - mr;
    SmallVector<OpFoldResult> offs, sizes, strides;
    SmallVector<int64_t> shape;
    SmallVector<AffineExpr> exprs;
    MLIRContext *ctx = b.getContext();
    for (int64_t i = 0; i < mr; ++i) {
      int64_t full = shift + i;
      strides.push_back(b.getIndexAttr(1));
      if (type.getDimSize(i) == 1) {
        offs.push_back(b.getIndexAttr(0));
        sizes.push_back(b.getIndexAttr(1));
        shape.push_back(1);
        exprs.push_back(getAffineConstantExpr(0, ctx));
        continue;
      }
      if (full == rank - 2 || full == rank - 1) {
        bool isQuery = full == rank - 2;
        offs.push_back(isQuery ? q0 : k0);
        sizes.push_back(isQuery ? rows : cols);
        shape.push_back(ShapedType::kDynamic);
        exprs.push_back(getAffineDimExpr(isQuery ? 0 : 1, ctx));
        continue;
      }
      offs.push_back(full == 0 ? batch : head);
      sizes.push_back(b.getIndexAttr(1));
      shape.push_back(1);
      exprs.push_back(getAffineConstantExpr(0, ctx));
    }
    auto tileType = RankedTensorType::get(shape, type.getElementType());
    Value tile = tensor::ExtractSliceOp::create(b, loc, tileType, mask, offs,
                                                sizes, strides);
    return {tile, AffineMap::get(2, 0, exprs, ctx)};
  }

  /// Query rows per tile; of causal or windowed ops when causalTileQ > 0.
  int64_t tileQ, causalTileQ;
  int64_t tileKV, kvSplits;
  /// Tile only routed attention (the reference lowering takes the rest).
  bool onlyRouted;
};

/// Tiles every loom.attention into the flash-attention form.
struct TileAttentionPass final
    : public loom::impl::TileAttentionPassBase<TileAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    if (tileQ < 1 || tileKV < 1 || kvSplits < 1 || causalTileQ < 0) {
      getOperation()->emitError("tile-q, tile-kv and kv-splits must be "
                                "positive, causal-tile-q not negative");
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<TileAttention>(&getContext(), tileQ, causalTileQ, tileKV,
                                kvSplits, onlyRouted);
    if (gpuKernel || (runtimeKernel && !onlyRouted))
      patterns.add<AttentionToKernel>(&getContext(), tileQ, kvSplits,
                                      gpuKernel);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
