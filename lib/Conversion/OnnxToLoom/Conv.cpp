//===- Conv.cpp - ONNX convolution handler --------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "loom/Transforms/Microkernels.h"
#include "mlir/IR/Matchers.h"

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

using namespace mlir;
using namespace loom;

/// The output length of a convolution along dimension `dim` of its padded
/// input: (padded - dilated kernel span) floordiv stride + 1, at least 0.
/// Returns it when static; otherwise returns kDynamic and appends its value
/// to `dyn`.
static int64_t convOutputSize(RewriterBase &rewriter, Location loc,
                              Value padded, int64_t dim, int64_t span,
                              int64_t stride, SmallVectorImpl<Value> &dyn) {
  int64_t in = cast<RankedTensorType>(padded.getType()).getDimSize(dim);
  if (!ShapedType::isDynamic(in))
    return std::max<int64_t>((in - span) / stride + 1, 0);
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  Value size = tensor::DimOp::create(rewriter, loc, padded, dim);
  Value out = arith::FloorDivSIOp::create(
      rewriter, loc, arith::SubIOp::create(rewriter, loc, size, cst(span)),
      cst(stride));
  out = arith::AddIOp::create(rewriter, loc, out, cst(1));
  dyn.push_back(arith::MaxSIOp::create(rewriter, loc, out, cst(0)));
  return ShapedType::kDynamic;
}

/// conv + bias[c], c the index of dimension `channelDim`; `dyn` are the
/// sizes of conv's dynamic dimensions.
static Value addChannelBias(RewriterBase &rewriter, Location loc, Value conv,
                            Value bias, int64_t channelDim, ValueRange dyn) {
  auto type = cast<RankedTensorType>(conv.getType());
  int64_t r = type.getRank();
  Value empty = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                        type.getElementType(), dyn);
  SmallVector<AffineMap> maps = {
      rewriter.getMultiDimIdentityMap(r),
      AffineMap::get(r, 0, {rewriter.getAffineDimExpr(channelDim)},
                     rewriter.getContext()),
      rewriter.getMultiDimIdentityMap(r)};
  return linalg::GenericOp::create(
             rewriter, loc, type, ValueRange{conv, bias}, ValueRange{empty},
             maps,
             SmallVector<utils::IteratorType>(r, utils::IteratorType::parallel),
             [](OpBuilder &b, Location l, ValueRange a) {
               linalg::YieldOp::create(
                   b, l, arith::AddFOp::create(b, l, a[0], a[1]).getResult());
             })
      .getResult(0);
}

/// A depthwise 1-D Conv of `x`, [B, C, T], that a Transpose made from a
/// [B, T, C] tensor (Mamba's causal conv as torch exports it: x.transpose(1,
/// 2) -> Conv1d(groups=C) -> slice -> transpose back), computed in the
/// untransposed layout, where every tap, the weight (transposed to [1, K, C],
/// a few KiB) and the bias are read along contiguous channels; the result is
/// transposed to Conv's [B, C, T'] at the end (loom-fuse-elementwise cancels
/// it against a transpose back). Null when `x` is not such a transpose.
static Value channelsLastDepthwise(RewriterBase &rewriter, Location loc,
                                   Value x, Value w, Value bias, int64_t stride,
                                   int64_t dil, int64_t padLo, int64_t padHi) {
  auto transpose = x.getDefiningOp<linalg::TransposeOp>();
  if (!transpose || transpose.getPermutation() != ArrayRef<int64_t>{0, 2, 1})
    return {};
  Value src = transpose.getInput();
  auto st = cast<RankedTensorType>(src.getType());
  auto wt = cast<RankedTensorType>(w.getType());
  Type elem = st.getElementType();
  int64_t kernel = wt.getDimSize(2);
  MLIRContext *ctx = rewriter.getContext();
  Value zero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elem));
  Value padded = src;
  if (padLo || padHi) {
    SmallVector<OpFoldResult> lo(3, rewriter.getIndexAttr(0)),
        hi(3, rewriter.getIndexAttr(0));
    lo[1] = rewriter.getIndexAttr(padLo);
    hi[1] = rewriter.getIndexAttr(padHi);
    padded = tensor::PadOp::create(rewriter, loc, Type(), src, lo, hi, zero);
  }
  SmallVector<Value> dyn;
  if (st.isDynamicDim(0))
    dyn.push_back(tensor::DimOp::create(rewriter, loc, src, 0));
  SmallVector<int64_t> outShape = {st.getDimSize(0),
                                   convOutputSize(rewriter, loc, padded, 1,
                                                  dil * (kernel - 1) + 1,
                                                  stride, dyn),
                                   st.getDimSize(2)};
  if (st.isDynamicDim(2))
    dyn.push_back(tensor::DimOp::create(rewriter, loc, src, 2));
  Value init = linalg::FillOp::create(
                   rewriter, loc, zero,
                   tensor::EmptyOp::create(rewriter, loc, outShape, elem, dyn)
                       .getResult())
                   .getResult(0);
  // wT[0, k, c] = w[c, 0, k]: a constant weight is transposed here (as a
  // copy, loom-fuse-elementwise would fold it back into a strided read).
  int64_t channels = wt.getDimSize(0);
  auto wtType = RankedTensorType::get({1, kernel, channels}, elem);
  Value wT;
  Attribute wAttr;
  SmallVector<float> storage;
  if (matchPattern(w, m_Constant(&wAttr)))
    if (std::optional<ArrayRef<float>> data = constantF32Data(wAttr, storage)) {
      SmallVector<float> transposed(data->size());
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t k = 0; k < kernel; ++k)
          transposed[k * channels + c] = (*data)[c * kernel + k];
      wT = resourceConstant<float>(rewriter, loc, wtType, transposed,
                                   "conv_weight_channels_last");
    }
  if (!wT)
    wT = linalg::TransposeOp::create(
             rewriter, loc, w,
             tensor::EmptyOp::create(rewriter, loc, wtType.getShape(), elem),
             ArrayRef<int64_t>{1, 2, 0})
             ->getResult(0);
  // Loops: b, t, c, k.
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  SmallVector<AffineMap> maps = {
      AffineMap::get(4, 0, {d(0), d(1) * stride + d(3) * dil, d(2)}, ctx),
      AffineMap::get(4, 0, {getAffineConstantExpr(0, ctx), d(3), d(2)}, ctx),
      AffineMap::get(4, 0, {d(0), d(1), d(2)}, ctx)};
  SmallVector<utils::IteratorType> iters(3, utils::IteratorType::parallel);
  iters.push_back(utils::IteratorType::reduction);
  Value conv = linalg::GenericOp::create(
                   rewriter, loc, init.getType(), ValueRange{padded, wT},
                   ValueRange{init}, maps, iters, yieldMultiplyAccumulate)
                   .getResult(0);
  if (bias)
    conv = addChannelBias(rewriter, loc, conv, bias, 2, dyn);
  auto ct = cast<RankedTensorType>(conv.getType());
  SmallVector<Value> outDyn;
  for (int64_t i : {0, 2, 1})
    if (ct.isDynamicDim(i))
      outDyn.push_back(tensor::DimOp::create(rewriter, loc, conv, i));
  Value outInit = tensor::EmptyOp::create(
      rewriter, loc,
      ArrayRef<int64_t>{ct.getDimSize(0), ct.getDimSize(2), ct.getDimSize(1)},
      elem, outDyn);
  return linalg::TransposeOp::create(rewriter, loc, conv, outInit,
                                     ArrayRef<int64_t>{0, 2, 1})
      ->getResult(0);
}

/// Conv (N, C, spatial...) with groups (depthwise included), strides, pads
/// and dilations: zero padding with tensor.pad, then one linalg.generic over
/// (n, oc, out spatial..., ic per group, kernel...), then the bias; a
/// depthwise 1-D Conv of a transposed [B, T, C] tensor runs channels-last.
static LogicalResult legalizeConv(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0), w = binder.rankedInput(1);
  Value bias = binder.rankedInput(2);
  if (!x || !w)
    return binder.unsupported("unranked operands");
  RankedTensorType xt = x.getType(), wt = w.getType();
  Type elem = xt.getElementType();
  int64_t rank = xt.getRank(), sp = rank - 2;
  if (rank < 3 || rank > 4 || wt.getRank() != rank || !isa<FloatType>(elem))
    return binder.unsupported("Conv other than 1-D or 2-D on floats");
  std::string autoPad = binder.getString("auto_pad", "NOTSET");
  if (autoPad != "NOTSET" && autoPad != "VALID" && autoPad != "SAME_UPPER" &&
      autoPad != "SAME_LOWER")
    return binder.unsupported("auto_pad " + autoPad);
  int64_t group = binder.getInt("group", 1);
  SmallVector<int64_t> strides(sp, 1), dil(sp, 1), pads(2 * sp, 0);
  if (auto s = binder.getInts("strides"))
    strides = *s;
  if (auto d = binder.getInts("dilations"))
    dil = *d;
  if (auto p = binder.getInts("pads"); p && autoPad == "NOTSET")
    pads = *p;
  if ((int64_t)strides.size() != sp || (int64_t)dil.size() != sp ||
      (int64_t)pads.size() != 2 * sp)
    return binder.emitError("strides, dilations or pads have the wrong length"),
           failure();
  int64_t oc = wt.getDimSize(0), icg = wt.getDimSize(1);
  if (ShapedType::isDynamic(oc) || ShapedType::isDynamic(icg) ||
      !wt.hasStaticShape())
    return binder.unsupported("a weight of dynamic shape");
  if (group <= 0 || oc % group != 0)
    return binder.emitError("group does not divide the output channels"),
           failure();
  int64_t ocg = oc / group;
  SmallVector<int64_t> kernel(wt.getShape().drop_front(2));
  // SAME_*: output size ceil(in / stride); the odd pad goes at the end
  // (UPPER) or the beginning (LOWER).
  if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (int64_t i = 0; i < sp; ++i) {
      int64_t in = xt.getDimSize(2 + i);
      if (ShapedType::isDynamic(in))
        return binder.unsupported("auto_pad SAME with dynamic spatial dims");
      int64_t out = (in + strides[i] - 1) / strides[i];
      int64_t total = std::max<int64_t>(
          (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - in, 0);
      int64_t small = total / 2;
      pads[i] = autoPad == "SAME_UPPER" ? small : total - small;
      pads[sp + i] = total - pads[i];
    }
  }
  Location loc = binder.getLoc();
  if (sp == 1 && icg == 1 && group == oc && xt.getDimSize(1) == oc)
    if (Value conv = channelsLastDepthwise(
            rewriter, loc, x, w, bias, strides[0], dil[0], pads[0], pads[1])) {
      binder.replace(rewriter, conv);
      return success();
    }
  // Pad.
  Value input = x;
  if (llvm::any_of(pads, [](int64_t p) { return p != 0; })) {
    SmallVector<OpFoldResult> lo(rank, rewriter.getIndexAttr(0)),
        hi(rank, rewriter.getIndexAttr(0));
    for (int64_t i = 0; i < sp; ++i) {
      lo[2 + i] = rewriter.getIndexAttr(pads[i]);
      hi[2 + i] = rewriter.getIndexAttr(pads[sp + i]);
    }
    Value zero =
        arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elem));
    input = tensor::PadOp::create(rewriter, loc, Type(), x, lo, hi, zero);
  }
  SmallVector<int64_t> outShape = {xt.getDimSize(0), oc};
  // The sizes of the dynamic output dims, in order (batch, then spatial).
  SmallVector<Value> dyn;
  if (xt.isDynamicDim(0))
    dyn.push_back(tensor::DimOp::create(rewriter, loc, x, 0));
  for (int64_t i = 0; i < sp; ++i)
    outShape.push_back(convOutputSize(rewriter, loc, input, 2 + i,
                                      dil[i] * (kernel[i] - 1) + 1, strides[i],
                                      dyn));
  Value zero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elem));
  Value init = linalg::FillOp::create(
                   rewriter, loc, zero,
                   tensor::EmptyOp::create(rewriter, loc, outShape, elem, dyn)
                       .getResult())
                   .getResult(0);
  // Loops: n, oc, o_0..o_{sp-1}, icg, k_0..k_{sp-1}.
  MLIRContext *ctx = rewriter.getContext();
  int64_t loops = 2 + sp + 1 + sp;
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  int64_t icD = 2 + sp;
  SmallVector<AffineExpr> inE = {d(0), d(1).floorDiv(ocg) * icg + d(icD)};
  SmallVector<AffineExpr> wE = {d(1), d(icD)};
  SmallVector<AffineExpr> oE = {d(0), d(1)};
  for (int64_t i = 0; i < sp; ++i) {
    inE.push_back(d(2 + i) * strides[i] + d(icD + 1 + i) * dil[i]);
    wE.push_back(d(icD + 1 + i));
    oE.push_back(d(2 + i));
  }
  SmallVector<utils::IteratorType> iters(2 + sp, utils::IteratorType::parallel);
  iters.append(1 + sp, utils::IteratorType::reduction);
  Value lhs = input;
  if (group == 1) {
    // im2col: cols[n, o.., c, k..] = input[n, c, o_i * s_i + k_i * d_i], a
    // gather that makes the convolution a plain contraction (the GEMM
    // microkernel's) of cols with the weight over (c, k..).
    SmallVector<int64_t> colsShape = {xt.getDimSize(0)};
    colsShape.append(outShape.begin() + 2, outShape.end());
    colsShape.push_back(icg);
    colsShape.append(kernel.begin(), kernel.end());
    int64_t colsLoops = colsShape.size();
    auto cd = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    SmallVector<AffineExpr> gather = {cd(0), cd(1 + sp)};
    for (int64_t i = 0; i < sp; ++i)
      gather.push_back(cd(1 + i) * strides[i] + cd(2 + sp + i) * dil[i]);
    Value colsInit =
        tensor::EmptyOp::create(rewriter, loc, colsShape, elem, dyn);
    lhs =
        linalg::GenericOp::create(
            rewriter, loc, colsInit.getType(), ValueRange{input},
            ValueRange{colsInit},
            SmallVector<AffineMap>{AffineMap::get(colsLoops, 0, gather, ctx),
                                   rewriter.getMultiDimIdentityMap(colsLoops)},
            SmallVector<utils::IteratorType>(colsLoops,
                                             utils::IteratorType::parallel),
            [](OpBuilder &b, Location l, ValueRange a) {
              linalg::YieldOp::create(b, l, a[0]);
            })
            .getResult(0);
    // The contraction reads cols at (n, o.., c, k..).
    inE = {d(0)};
    for (int64_t i = 0; i < sp; ++i)
      inE.push_back(d(2 + i));
    for (int64_t i = 0; i <= sp; ++i)
      inE.push_back(d(icD + i));
  }
  Value conv =
      linalg::GenericOp::create(
          rewriter, loc, init.getType(), ValueRange{lhs, w}, ValueRange{init},
          SmallVector<AffineMap>{AffineMap::get(loops, 0, inE, ctx),
                                 AffineMap::get(loops, 0, wE, ctx),
                                 AffineMap::get(loops, 0, oE, ctx)},
          iters, yieldMultiplyAccumulate)
          .getResult(0);
  if (bias)
    conv = addChannelBias(rewriter, loc, conv, bias, 1, dyn);
  binder.replace(rewriter, conv);
  return success();
}

void loom::populateOnnxConvHandlers(OnnxHandlerRegistry &registry) {
  registry.add("Conv", 1, legalizeConv);
}
