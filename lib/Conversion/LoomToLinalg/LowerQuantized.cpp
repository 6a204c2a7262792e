//===- LowerQuantized.cpp - loom.quantized_matmul -> the int8 kernel ------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// `loom.quantized_matmul` becomes a call of loomrt_qgemm_w8_f32 (8-bit) or
// loomrt_qgemm_w4_f32 (4-bit; runtime/src/kernels/qgemm.c), which never
// expand the weights to fp32 as a whole, or with 8-bit inputs of
// loomrt_igemm_f32 (runtime/src/kernels/igemm.c, integer products) or,
// with 4-bit weights, loomrt_i4gemm_f32 (i4gemm.c).
// Constant 4-bit weights, scales and zero points are packed here, at
// compile time, into the kernel's panels of 32 columns by the runtime's own
// loomrt_qgemm_w4_pack (one definition of the layout); constant W8A8
// weights likewise by loomrt_igemm_pack, with their column sums. On tensors, as
// for loom.moe: the input is copied into a fresh row-major tensor when it is
// not a constant, the buffers' addresses are passed as 64-bit integers, and the
// result is a new buffer.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"

#include "loom/Transforms/Microkernels.h"
#include "loomrt/kernels.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/PatternMatch.h"

#include <cstring>
#include <string>

using namespace mlir;
using namespace loom;

namespace {

constexpr StringLiteral kKernel8 = "loomrt_qgemm_w8_f32";
constexpr StringLiteral kKernel4 = "loomrt_qgemm_w4_f32";
constexpr StringLiteral kKernelW8A8 = "loomrt_igemm_f32";
constexpr StringLiteral kKernelW4A8 = "loomrt_i4gemm_f32";

/// The bits of a constant f16 tensor `v`, in `storage`.
static std::optional<ArrayRef<uint16_t>>
constantHalfBits(Value v, SmallVectorImpl<uint16_t> &storage) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  if (!cst)
    return std::nullopt;
  if (auto dense = dyn_cast<DenseFPElementsAttr>(cst.getValue())) {
    if (!dense.getElementType().isF16())
      return std::nullopt;
    for (const APFloat &f : dense.getValues<APFloat>())
      storage.push_back(
          static_cast<uint16_t>(f.bitcastToAPInt().getZExtValue()));
    return ArrayRef<uint16_t>(storage);
  }
  auto resource = dyn_cast<DenseResourceElementsAttr>(cst.getValue());
  if (!resource || !resource.getElementType().isF16())
    return std::nullopt;
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  if (!blob)
    return std::nullopt;
  ArrayRef<char> bytes = blob->getData();
  storage.resize(bytes.size() / 2);
  std::memcpy(storage.data(), bytes.data(), storage.size() * 2);
  return ArrayRef<uint16_t>(storage);
}

/// A 4-bit kernel's packed layout: its sizes and packer.
struct Int4Layout {
  int64_t (*bytes)(int64_t k, int64_t n);
  int64_t (*groups)(int64_t k, int64_t n, int64_t group);
  int64_t (*zeroBytes)(int64_t k, int64_t n, int64_t group);
  void (*pack)(int64_t k, int64_t n, int64_t group, const uint8_t *w,
               const void *scale, const uint8_t *zero, uint8_t *w_dst,
               void *scale_dst, uint8_t *zero_dst, int64_t flags);
  /// The names of the packed constants.
  const char *name;
};

/// loomrt_qgemm_w4_f32's layout (fp32 inputs).
const Int4Layout kW4Layout = {
    loomrt_qgemm_w4_packed_bytes, loomrt_qgemm_w4_packed_groups,
    loomrt_qgemm_w4_packed_zero_bytes, loomrt_qgemm_w4_pack, "int4"};
/// loomrt_i4gemm_f32's layout (W4A8): a zero point byte per entry.
const Int4Layout kW4A8Layout = {
    loomrt_i4gemm_packed_bytes, loomrt_i4gemm_packed_groups,
    loomrt_i4gemm_packed_groups, loomrt_i4gemm_pack, "w4a8"};

/// The 4-bit operands packed into `layout`'s panels when they are all
/// constants: {weights, scales, zero points (or null)}.
static std::optional<std::array<Value, 3>>
packConstants(OpBuilder &b, QuantizedMatmulOp op, int64_t k, int64_t n,
              const Int4Layout &layout) {
  SmallVector<int8_t> wStore, zStore;
  SmallVector<uint16_t> sStore;
  SmallVector<float> s32Store;
  bool f32 = op.getScale().getType().getElementType().isF32();
  auto w = constantOf<int8_t>(op.getWeight(), wStore);
  auto s = f32 ? std::nullopt : constantHalfBits(op.getScale(), sStore);
  auto s32 = f32 ? constantOf<float>(op.getScale(), s32Store) : std::nullopt;
  std::optional<ArrayRef<int8_t>> z;
  if (op.getZeroPoint() && !(z = constantOf<int8_t>(op.getZeroPoint(), zStore)))
    return std::nullopt;
  if (!w || !(f32 ? s32.has_value() : s.has_value()))
    return std::nullopt;
  int64_t group = op.getGroupSize();
  std::vector<int8_t> wp(layout.bytes(k, n));
  size_t groups = layout.groups(k, n, group);
  std::vector<uint16_t> sp(f32 ? 0 : groups);
  std::vector<float> sp32(f32 ? groups : 0);
  std::vector<int8_t> zp(z ? layout.zeroBytes(k, n, group) : 0);
  layout.pack(k, n, group, reinterpret_cast<const uint8_t *>(w->data()),
              f32 ? static_cast<const void *>(s32->data()) : s->data(),
              z ? reinterpret_cast<const uint8_t *>(z->data()) : nullptr,
              reinterpret_cast<uint8_t *>(wp.data()),
              f32 ? static_cast<void *>(sp32.data()) : sp.data(),
              z ? reinterpret_cast<uint8_t *>(zp.data()) : nullptr,
              f32 ? LOOMRT_QGEMM_SCALE_F32 : 0);
  Location loc = op.getLoc();
  std::string name = layout.name;
  Value zero;
  if (z)
    zero =
        blobConstant<int8_t>(b, loc, b.getI8Type(), zp, name + "_zero_packed");
  return std::array<Value, 3>{
      blobConstant<int8_t>(b, loc, b.getI8Type(), wp, name + "_weight_packed"),
      f32 ? blobConstant<float>(b, loc, b.getF32Type(), sp32,
                                name + "_scale_packed")
          : blobConstant<uint16_t>(b, loc, b.getF16Type(), sp,
                                   name + "_scale_packed"),
      zero};
}

struct LowerQuantizedMatmul : OpRewritePattern<QuantizedMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  /// 4-bit weights: a call of loomrt_qgemm_w4_f32 (fp32 inputs) or of
  /// loomrt_i4gemm_f32 (8-bit inputs, W4A8), constant operands packed in
  /// the kernel's layout. K is static (the verifier checks it).
  static void lower4Bit(PatternRewriter &rewriter, QuantizedMatmulOp op,
                        Value x, Value rows, int64_t kSize, int64_t nSize,
                        Value outAddress) {
    Location loc = op.getLoc();
    bool w4a8 = op.getInputBits() == 8;
    auto i64Const = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(rewriter, loc, v, 64);
    };
    Value w = op.getWeight(), scale = op.getScale(), zero = op.getZeroPoint();
    int64_t flags =
        getElementTypeOrSelf(scale).isF32() ? LOOMRT_QGEMM_SCALE_F32 : 0;
    if (auto packed = packConstants(rewriter, op, kSize, nSize,
                                    w4a8 ? kW4A8Layout : kW4Layout)) {
      std::tie(w, scale, zero) =
          std::make_tuple((*packed)[0], (*packed)[1], (*packed)[2]);
      flags |= LOOMRT_QGEMM_PACKED;
    } else {
      w = contiguous(rewriter, loc, w);
      scale = contiguous(rewriter, loc, scale);
      if (zero)
        zero = contiguous(rewriter, loc, zero);
    }
    func::FuncOp kernel =
        getOrDeclareKernel(rewriter, op->getParentOfType<ModuleOp>(),
                           w4a8 ? kKernelW4A8 : kKernel4, 10);
    func::CallOp::create(
        rewriter, loc, kernel,
        ValueRange{rows, i64Const(nSize), i64Const(kSize),
                   i64Const(op.getGroupSize()), addressOf(rewriter, loc, x),
                   addressOf(rewriter, loc, w), addressOf(rewriter, loc, scale),
                   zero ? addressOf(rewriter, loc, zero) : i64Const(0),
                   outAddress, i64Const(flags)});
  }

  LogicalResult matchAndRewrite(QuantizedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto module = op->getParentOfType<ModuleOp>();
    if (!module)
      return rewriter.notifyMatchFailure(op, "not in a module");
    Location loc = op.getLoc();
    auto rt = cast<RankedTensorType>(op.getType());
    Value x = contiguous(rewriter, loc, op.getInput());
    SmallVector<Value> dims;
    Value rows = leadingRows(rewriter, loc, x, dims);
    auto wt = cast<RankedTensorType>(op.getWeight().getType());
    int64_t kSize = cast<RankedTensorType>(x.getType()).getShape().back();
    int64_t nSize = wt.getDimSize(1);
    auto i64Const = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(rewriter, loc, v, 64);
    };
    // The last dim (N) is static: `dims` covers the leading ones.
    KernelOutput out(rewriter, loc, rt, dims);
    if (op.getBits() == 4) {
      lower4Bit(rewriter, op, x, rows, kSize, nSize, out.address);
    } else if (op.getInputBits() == 8) {
      // W8A8. Constant weights are packed now, with their column sums.
      int64_t k = wt.getDimSize(0), flags = 0;
      Value w, colsum;
      SmallVector<int8_t> wStore;
      if (auto data = constantOf<int8_t>(op.getWeight(), wStore)) {
        std::vector<int8_t> packed(loomrt_igemm_packed_bytes(k, nSize));
        std::vector<int32_t> sums(loomrt_igemm_packed_sums(nSize));
        loomrt_igemm_pack(k, nSize, data->data(), packed.data(), sums.data());
        w = blobConstant<int8_t>(rewriter, loc, rewriter.getI8Type(), packed,
                                 "w8a8_weight_packed");
        colsum = blobConstant<int32_t>(rewriter, loc, rewriter.getI32Type(),
                                       sums, "w8a8_column_sums");
        flags = LOOMRT_IGEMM_PACKED;
      } else {
        w = contiguous(rewriter, loc, op.getWeight());
      }
      Value inputScale;
      if (std::optional<APFloat> s = op.getInputScale())
        inputScale = arith::ConstantOp::create(
            rewriter, loc,
            DenseElementsAttr::get(
                RankedTensorType::get({1}, rewriter.getF32Type()),
                ArrayRef<float>{s->convertToFloat()}));
      Value scale = contiguous(rewriter, loc, op.getScale());
      func::FuncOp kernel =
          getOrDeclareKernel(rewriter, module, kKernelW8A8, 11);
      func::CallOp::create(
          rewriter, loc, kernel,
          ValueRange{
              rows, i64Const(nSize), i64Const(k), addressOf(rewriter, loc, x),
              addressOf(rewriter, loc, w), addressOf(rewriter, loc, scale),
              colsum ? addressOf(rewriter, loc, colsum) : i64Const(0),
              inputScale ? addressOf(rewriter, loc, inputScale) : i64Const(0),
              i64Const(
                  static_cast<int64_t>(op.getInputZeroPoint().value_or(0))),
              out.address, i64Const(flags)});
    } else {
      // 8-bit weights, fp32 inputs.
      Value k = i64Const(wt.getDimSize(0));
      Value w = contiguous(rewriter, loc, op.getWeight());
      Value scale = contiguous(rewriter, loc, op.getScale());
      func::FuncOp kernel = getOrDeclareKernel(rewriter, module, kKernel8, 7);
      func::CallOp::create(
          rewriter, loc, kernel,
          ValueRange{rows, i64Const(nSize), k, addressOf(rewriter, loc, x),
                     addressOf(rewriter, loc, w),
                     addressOf(rewriter, loc, scale), out.address});
    }
    rewriter.replaceOp(op, out.tensor(rewriter, loc, rt));
    return success();
  }
};

} // namespace

void loom::populateQuantizedLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerQuantizedMatmul>(patterns.getContext());
}
