//===- Contrib.cpp - com.microsoft ops
//-------------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Ops of ONNX Runtime's `com.microsoft` domain that its transformer optimizer
// writes into models:
//
// * `Attention` (since 1): the fused QKV projection `input @ weights + bias`
//   ([B, S, Hin] @ [Hin, 3 H]), split into Q, K, V of `num_heads` heads,
//   scaled dot-product attention (`scale`, default 1/sqrt(head size);
//   `unidirectional` is causal), the heads merged back into [B, S, H]. The
//   attention is `loom.attention`, flash-tiled like any other. Supported
//   `mask_index`: none, or a [B, S] key mask (1 keep, 0 masked, which adds
//   `mask_filter_value`, default -10000). Past/present state, attention
//   bias, relative position bias and unequal `qkv_hidden_sizes` are
//   reported as unsupported.
//
// * `MatMulNBits` (since 1): `A [..., K]` times 4-bit weights quantized in
//   blocks along K (`B [N, K/block, block/2]` bytes, fp32 `scales`, optional
//   4-bit packed `zero_points`, else 8; optional `bias`), ORT's format for
//   int4 LLM weights. Constant weights become `loom.quantized_matmul` with
//   bits = 4 and group_size = block: the bytes transposed to [ceil(K/2), N]
//   (the nibble order is the same), the scales and zero points to
//   [K/block, N], the scales kept fp32 so the arithmetic is ONNX Runtime's.
//   With `accuracy_level = 4` (ORT computes with int8 inputs) the input is
//   quantized to int8 per row and block too (input_bits = 8: W4A8). Other
//   bit widths, float zero points, `g_idx` and weights computed at run time
//   are reported as unsupported.
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"

#include "RaiseUtils.h"
#include "Utils.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "loom/Transforms/Microkernels.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>

using namespace mlir;
using namespace loom;

/// com.microsoft Attention -> projection, heads, loom.attention, merge.
static LogicalResult legalizeMsAttention(OpBinder &binder,
                                         RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  auto w = binder.rankedInput(1);
  Value bias = binder.input(2), mask = binder.input(3);
  if (!x || !w || x.getType().getRank() != 3 || w.getType().getRank() != 2)
    return binder.unsupported("input other than [B, S, hidden] with a 2-D "
                              "weight");
  for (unsigned i = 4; i < binder.getNumInputs(); ++i)
    if (binder.input(i))
      return binder.unsupported("past state or attention bias inputs");
  for (unsigned i = 1; i < binder.getOp()->getNumResults(); ++i)
    if (!binder.getOp()->getResult(i).use_empty())
      return binder.unsupported("the present output");
  if (binder.hasAttr("qkv_hidden_sizes") || binder.getInt("do_rotary", 0) ||
      binder.getInt("past_present_share_buffer", 0))
    return binder.unsupported("qkv_hidden_sizes, rotary or shared past");
  RankedTensorType xt = x.getType(), wt = w.getType();
  Type elem = xt.getElementType();
  int64_t heads = binder.getInt("num_heads", 0);
  int64_t width3 = wt.getDimSize(1);
  if (!isa<FloatType>(elem) || wt.getElementType() != elem ||
      ShapedType::isDynamic(width3) || width3 % 3 != 0 || heads <= 0 ||
      (width3 / 3) % heads != 0)
    return binder.emitError("num_heads must divide a static third of the "
                            "weight's width"),
           failure();
  int64_t hidden = width3 / 3, hd = hidden / heads;
  if (!ShapedType::isDynamic(xt.getDimSize(2)) &&
      !ShapedType::isDynamic(wt.getDimSize(0)) &&
      xt.getDimSize(2) != wt.getDimSize(0))
    return binder.emitError("the weight's rows differ from the input width"),
           failure();
  Location loc = binder.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto map = [&](unsigned n, ArrayRef<AffineExpr> e) {
    return AffineMap::get(n, 0, e, ctx);
  };
  auto dimOf = [&](Value v, int64_t i) -> OpFoldResult {
    auto t = cast<RankedTensorType>(v.getType());
    if (!t.isDynamicDim(i))
      return rewriter.getIndexAttr(t.getDimSize(i));
    return tensor::DimOp::create(rewriter, loc, v, i).getResult();
  };
  OpFoldResult batch = dimOf(x, 0), seq = dimOf(x, 1);
  Value zero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elem));
  // qkv[b, s, n] = sum_k x[b, s, k] w[k, n] (+ bias[n]).
  Value init =
      linalg::FillOp::create(rewriter, loc, zero,
                             tensor::EmptyOp::create(
                                 rewriter, loc,
                                 SmallVector<OpFoldResult>{
                                     batch, seq, rewriter.getIndexAttr(width3)},
                                 elem)
                                 .getResult())
          .getResult(0);
  using IT = utils::IteratorType;
  Value qkv =
      linalg::GenericOp::create(
          rewriter, loc, init.getType(), ValueRange{x, w}, ValueRange{init},
          SmallVector<AffineMap>{map(4, {d(0), d(1), d(3)}),
                                 map(4, {d(3), d(2)}),
                                 map(4, {d(0), d(1), d(2)})},
          SmallVector<IT>{IT::parallel, IT::parallel, IT::parallel,
                          IT::reduction},
          yieldMultiplyAccumulate)
          .getResult(0);
  if (bias) {
    auto bt = dyn_cast<RankedTensorType>(bias.getType());
    if (!bt || bt.getRank() != 1 || bt.getElementType() != elem)
      return binder.unsupported("a bias other than [3 hidden]");
    Value empty = tensor::EmptyOp::create(
        rewriter, loc,
        SmallVector<OpFoldResult>{batch, seq, rewriter.getIndexAttr(width3)},
        elem);
    qkv = linalg::GenericOp::create(
              rewriter, loc, qkv.getType(), ValueRange{qkv, bias},
              ValueRange{empty},
              SmallVector<AffineMap>{rewriter.getMultiDimIdentityMap(3),
                                     map(3, {d(2)}),
                                     rewriter.getMultiDimIdentityMap(3)},
              SmallVector<IT>(3, IT::parallel),
              [](OpBuilder &b, Location l, ValueRange a) {
                linalg::YieldOp::create(
                    b, l, arith::AddFOp::create(b, l, a[0], a[1]).getResult());
              })
              .getResult(0);
  }
  // Q, K, V: [B, S, H] slices -> [B, heads, S, hd], the transpose as a
  // generic that reads qkv directly.
  auto headsOf = [&](int64_t part) -> Value {
    Value empty = tensor::EmptyOp::create(
        rewriter, loc,
        SmallVector<OpFoldResult>{batch, rewriter.getIndexAttr(heads), seq,
                                  rewriter.getIndexAttr(hd)},
        elem);
    // out[b, h, s, e] = qkv[b, s, part * H + h * hd + e]
    AffineMap read = map(4, {d(0), d(2), d(1) * hd + d(3) + part * hidden});
    return linalg::GenericOp::create(
               rewriter, loc, empty.getType(), ValueRange{qkv},
               ValueRange{empty},
               SmallVector<AffineMap>{read, rewriter.getMultiDimIdentityMap(4)},
               SmallVector<IT>(4, IT::parallel),
               [](OpBuilder &b, Location l, ValueRange a) {
                 linalg::YieldOp::create(b, l, a[0]);
               })
        .getResult(0);
  };
  Value q = headsOf(0), k = headsOf(1), v = headsOf(2);
  // mask_index [B, S_kv]: 1 keeps a key, 0 adds mask_filter_value.
  Value additive;
  if (mask) {
    auto mt = dyn_cast<RankedTensorType>(mask.getType());
    if (!mt || mt.getRank() != 2 || !isa<IntegerType>(mt.getElementType()))
      return binder.unsupported("mask_index other than a [B, S] key mask");
    double fill = binder.getFloat("mask_filter_value", -10000.0);
    Value empty = tensor::EmptyOp::create(
        rewriter, loc,
        SmallVector<OpFoldResult>{batch, rewriter.getIndexAttr(1),
                                  rewriter.getIndexAttr(1), dimOf(mask, 1)},
        elem);
    additive =
        linalg::GenericOp::create(
            rewriter, loc, empty.getType(), ValueRange{mask}, ValueRange{empty},
            SmallVector<AffineMap>{map(4, {d(0), d(3)}),
                                   rewriter.getMultiDimIdentityMap(4)},
            SmallVector<IT>(4, IT::parallel),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value keep = arith::CmpIOp::create(
                  b, l, arith::CmpIPredicate::ne, a[0],
                  arith::ConstantOp::create(b, l,
                                            b.getZeroAttr(a[0].getType())));
              Value r = arith::SelectOp::create(
                  b, l, keep,
                  arith::ConstantOp::create(b, l, b.getFloatAttr(elem, 0.0)),
                  arith::ConstantOp::create(b, l, b.getFloatAttr(elem, fill)));
              linalg::YieldOp::create(b, l, r);
            })
            .getResult(0);
  }
  double scale = binder.getFloat("scale", 0.0);
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(static_cast<double>(hd));
  Value att = AttentionOp::create(
      rewriter, loc, q, k, v, additive,
      rewriter.getF32FloatAttr(static_cast<float>(scale)),
      binder.getInt("unidirectional", 0) ? rewriter.getUnitAttr() : nullptr,
      /*num_kv_heads=*/nullptr, /*window=*/nullptr, /*block_sparse=*/nullptr,
      /*routed=*/nullptr, /*score_quant_block=*/nullptr);
  // [B, heads, S, hd] -> [B, S, H].
  Value outEmpty = tensor::EmptyOp::create(
      rewriter, loc,
      SmallVector<OpFoldResult>{batch, seq, rewriter.getIndexAttr(heads),
                                rewriter.getIndexAttr(hd)},
      elem);
  Value merged = linalg::GenericOp::create(
                     rewriter, loc, outEmpty.getType(), ValueRange{att},
                     ValueRange{outEmpty},
                     SmallVector<AffineMap>{map(4, {d(0), d(2), d(1), d(3)}),
                                            rewriter.getMultiDimIdentityMap(4)},
                     SmallVector<IT>(4, IT::parallel),
                     [](OpBuilder &b, Location l, ValueRange a) {
                       linalg::YieldOp::create(b, l, a[0]);
                     })
                     .getResult(0);
  Value out = tensor::CollapseShapeOp::create(
      rewriter, loc, merged,
      SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  binder.replace(rewriter, out);
  return success();
}

/// `y + bias[n]` over y's last dim.
static Value addBias(OpBuilder &b, Location loc, Value y, Value bias) {
  auto yt = cast<RankedTensorType>(y.getType());
  int64_t rank = yt.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> dyn;
  for (int64_t i = 0; i < rank; ++i)
    if (yt.isDynamicDim(i))
      dyn.push_back(tensor::DimOp::create(b, loc, y, i));
  Value init =
      tensor::EmptyOp::create(b, loc, yt.getShape(), yt.getElementType(), dyn);
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap last = AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, ctx));
  return linalg::GenericOp::create(
             b, loc, yt, ValueRange{y, bias}, ValueRange{init},
             ArrayRef<AffineMap>{id, last, id},
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [](OpBuilder &nb, Location l, ValueRange args) {
               Value sum = arith::AddFOp::create(nb, l, args[0], args[1]);
               linalg::YieldOp::create(nb, l, sum);
             })
      .getResult(0);
}

/// com.microsoft MatMulNBits (4 bits) -> loom.quantized_matmul (+ bias).
static LogicalResult legalizeMatMulNBits(OpBinder &binder,
                                         RewriterBase &rewriter) {
  auto a = binder.rankedInput(0);
  int64_t k = binder.getInt("K", 0), n = binder.getInt("N", 0),
          bits = binder.getInt("bits", 4),
          block = binder.getInt("block_size", 0);
  unsigned inputs = binder.getNumInputs();
  auto optionalInput = [&](unsigned i) {
    return i < inputs ? binder.input(i) : Value();
  };
  if (bits != 4)
    return binder.unsupported("bits = " + Twine(bits) + " (only 4)");
  if (optionalInput(4))
    return binder.unsupported("g_idx (act-order weights)");
  if (!a || !a.getType().getElementType().isF32())
    return binder.unsupported("input other than ranked fp32");
  if (k <= 0 || n <= 0 || block < 16 || (block & (block - 1)))
    return binder.emitError("K and N must be positive and block_size a power "
                            "of two >= 16"),
           failure();
  if (a.getType().getShape().back() != k)
    return binder.emitError("the input's last dimension is not K = " +
                            Twine(k)),
           failure();
  int64_t blocks = (k + block - 1) / block, blob = block / 2;
  std::optional<std::vector<uint8_t>> bBytes =
      raise::constantBytesOf(binder.input(1));
  SmallVector<float> scaleStore;
  std::optional<ArrayRef<float>> scales =
      constantF32Data(raise::constantAttrOf(binder.input(2)), scaleStore);
  if (!bBytes || !scales)
    return binder.unsupported("weights or scales computed at run time (or "
                              "not uint8 and fp32)");
  if (static_cast<int64_t>(bBytes->size()) != n * blocks * blob ||
      static_cast<int64_t>(scales->size()) != n * blocks)
    return binder.emitError("B must hold N x ceil(K/block) x block/2 bytes "
                            "and scales N x ceil(K/block) values"),
           failure();
  std::optional<std::vector<uint8_t>> zBytes;
  if (Value zp = optionalInput(3)) {
    auto zt = dyn_cast<RankedTensorType>(zp.getType());
    if (!zt || !zt.getElementType().isInteger(8))
      return binder.unsupported("zero points other than packed uint8");
    zBytes = raise::constantBytesOf(zp);
    if (!zBytes)
      return binder.unsupported("zero points computed at run time");
    if (static_cast<int64_t>(zBytes->size()) != n * ((blocks + 1) / 2))
      return binder.emitError("zero_points must hold N x ceil(blocks/2) "
                              "bytes"),
             failure();
  }
  Value bias = optionalInput(5);
  if (bias) {
    auto bt = dyn_cast<RankedTensorType>(bias.getType());
    if (!bt || bt.getRank() != 1 || !bt.getElementType().isF32() ||
        (!bt.isDynamicDim(0) && bt.getDimSize(0) != n))
      return binder.emitError("bias must be fp32 [N]"), failure();
  }

  // Column j's bytes run along K with the even row in the low nibble, as
  // loom's: row r of [ceil(K/2), N] is byte r of column j's blocks.
  int64_t rows = (k + 1) / 2;
  std::vector<int8_t> w(rows * n), z(zBytes ? blocks * n : 0);
  std::vector<float> s(blocks * n);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t r = 0; r < rows; ++r)
      w[r * n + j] = static_cast<int8_t>((*bBytes)[j * blocks * blob + r]);
    for (int64_t g = 0; g < blocks; ++g) {
      s[g * n + j] = (*scales)[j * blocks + g];
      if (zBytes) {
        uint8_t byte = (*zBytes)[j * ((blocks + 1) / 2) + g / 2];
        z[g * n + j] = static_cast<int8_t>(g % 2 ? byte >> 4 : byte & 15);
      }
    }
  }
  Location loc = binder.getLoc();
  Value wv = resourceConstant<int8_t>(
      rewriter, loc, RankedTensorType::get({rows, n}, rewriter.getI8Type()), w,
      "matmulnbits");
  Value sv = resourceConstant<float>(
      rewriter, loc, RankedTensorType::get({blocks, n}, rewriter.getF32Type()),
      s, "matmulnbits");
  Value zv;
  if (zBytes)
    zv = resourceConstant<int8_t>(
        rewriter, loc, RankedTensorType::get({blocks, n}, rewriter.getI8Type()),
        z, "matmulnbits");
  // accuracy_level 4: ONNX Runtime computes with the input quantized to
  // int8 per block; so does W4A8 (the block, a power of two >= 16, is a
  // multiple of 8).
  int64_t inputBits = binder.getInt("accuracy_level", 0) == 4 ? 8 : 0;
  Value y = QuantizedMatmulOp::create(rewriter, loc, a, wv, sv, zv,
                                      /*bits=*/4, block, inputBits, FloatAttr(),
                                      IntegerAttr());
  if (bias)
    y = addBias(rewriter, loc, y, bias);
  binder.replace(rewriter, y);
  return success();
}

void loom::populateOnnxContribHandlers(OnnxHandlerRegistry &registry) {
  registry.add("com.microsoft", "Attention", 1, legalizeMsAttention);
  registry.add("com.microsoft", "MatMulNBits", 1, legalizeMatMulNBits);
}
