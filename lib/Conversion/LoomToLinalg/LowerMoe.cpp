//===- LowerMoe.cpp - loom.moe -> the runtime's routed MoE kernel ---------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// `loom.moe` becomes a call of loomrt_moe_ffn_f32 (runtime/src/kernels/moe.c),
// which sorts the tokens by expert and runs each expert's two GEMMs over its
// own tokens only. The work depends on the routing, known only at run time,
// so the grouping lives in the runtime rather than in static loop nests.
//
// On tensors: the input and gates are copied into fresh row-major tensors
// (constant expert weights are read in place), their buffers' addresses
// (`bufferization.to_buffer` with the identity layout,
// `memref.extract_aligned_pointer_as_index`) are passed as 64-bit integers like
// the GEMM microkernel's, the experts' addresses through a stack array, and the
// result is a new buffer
// (`bufferization.to_tensor restrict writable`).
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "loom/Transforms/Microkernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace loom;

namespace {

constexpr StringLiteral kMoeKernel = "loomrt_moe_ffn_f32";

/// LOOMRT_MOE_PACKED_WEIGHTS and LOOMRT_GEMM_PANEL (loomrt/kernels.h).
constexpr int64_t kPackedWeights = 1;
constexpr int64_t kPanel = 16;

/// A constant [k, n] f32 weight `w` prepacked for the GEMM microkernel
/// (loomrt_sgemm_pack_b's layout: panels of 16 columns spanning k,
/// zero-padded), as a new constant; null when `w` is not a constant with
/// readable data.
Value packedConstant(OpBuilder &b, Location loc, Value w) {
  auto cst = w.getDefiningOp<arith::ConstantOp>();
  auto type = dyn_cast<RankedTensorType>(w.getType());
  if (!cst || !type || !type.hasStaticShape() || type.getRank() != 2 ||
      !type.getElementType().isF32())
    return {};
  SmallVector<float> storage;
  std::optional<ArrayRef<float>> read =
      constantF32Data(cst.getValue(), storage);
  if (!read)
    return {};
  ArrayRef<float> data = *read;
  int64_t k = type.getDimSize(0), n = type.getDimSize(1);
  if (static_cast<int64_t>(data.size()) != k * n)
    return {};
  int64_t panels = (n + kPanel - 1) / kPanel;
  SmallVector<float> packed(panels * k * kPanel, 0.0f);
  for (int64_t q = 0; q < panels; ++q)
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < kPanel && q * kPanel + j < n; ++j)
        packed[(q * k + p) * kPanel + j] = data[p * n + q * kPanel + j];
  auto packedType = RankedTensorType::get({static_cast<int64_t>(packed.size())},
                                          b.getF32Type());
  auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign<float>(packed);
  auto attr = DenseResourceElementsAttr::get(packedType, "moe_weight_packed",
                                             std::move(blob));
  return arith::ConstantOp::create(b, loc, attr);
}

struct LowerMoe : OpRewritePattern<MoeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MoeOp op,
                                PatternRewriter &rewriter) const override {
    auto module = op->getParentOfType<ModuleOp>();
    auto rt = cast<RankedTensorType>(op.getType());
    if (!module || !rt.getElementType().isF32())
      return rewriter.notifyMatchFailure(op, "only f32 has a kernel");
    Location loc = op.getLoc();
    auto i64 = [&](Value index) -> Value {
      return arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(),
                                        index);
    };
    auto cst = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(rewriter, loc, v, 64);
    };
    // Leading dims are tokens; every tensor is contiguous, so the kernel
    // sees [tokens, D] rows.
    Value x = contiguous(rewriter, loc, op.getInput());
    Value w = contiguous(rewriter, loc, op.getGateWeights());
    Value idx = contiguous(rewriter, loc, op.getGateIndices());
    int64_t rank = rt.getRank();
    SmallVector<Value> dims;
    for (int64_t i = 0; i < rank; ++i)
      dims.push_back(tensor::DimOp::create(rewriter, loc, x, i));
    Value tokens = dims[0];
    for (int64_t i = 1; i + 1 < rank; ++i)
      tokens = arith::MulIOp::create(rewriter, loc, tokens, dims[i]);
    Value d = dims.back();
    Value k = tensor::DimOp::create(rewriter, loc, w, rank - 1);
    Value hidden = tensor::DimOp::create(rewriter, loc, op.getExperts()[0], 1);

    // Per expert: W1, b1, W2, b2 addresses (0 for a missing bias). Constant
    // weights are packed now rather than at every call (all or none).
    int64_t n = op.getNumExperts();
    bool biases = op.hasBiases();
    int64_t per = biases ? 4 : 2;
    SmallVector<Value> packed;
    for (int64_t e = 0; e < n && (e == 0 || !packed.empty()); ++e)
      for (int64_t layer : {0, 1}) {
        Value p = packedConstant(rewriter, loc,
                                 op.getExperts()[e * per + layer * per / 2]);
        if (!p) {
          packed.clear();
          break;
        }
        packed.push_back(p);
      }
    auto weight = [&](int64_t e, int64_t layer) {
      return packed.empty() ? op.getExperts()[e * per + layer * per / 2]
                            : packed[2 * e + layer];
    };
    auto paramsType = MemRefType::get({4 * n}, rewriter.getI64Type());
    Value params = memref::AllocaOp::create(rewriter, loc, paramsType);
    for (int64_t e = 0; e < n; ++e) {
      ValueRange ops = op.getExperts().slice(e * per, per);
      auto addr = [&](Value v) {
        return addressOf(rewriter, loc, contiguous(rewriter, loc, v));
      };
      SmallVector<Value> addrs = {
          addr(weight(e, 0)), biases ? addr(ops[1]) : cst(0),
          addr(weight(e, 1)), biases ? addr(ops[3]) : cst(0)};
      for (auto [j, a] : llvm::enumerate(addrs))
        memref::StoreOp::create(rewriter, loc, a, params,
                                ValueRange{arith::ConstantIndexOp::create(
                                    rewriter, loc, 4 * e + j)});
    }
    Value paramsAddr = i64(
        memref::ExtractAlignedPointerAsIndexOp::create(rewriter, loc, params));

    KernelOutput out(rewriter, loc, rt, dims);
    func::FuncOp kernel = getOrDeclareKernel(rewriter, module, kMoeKernel, 12);
    func::CallOp::create(
        rewriter, loc, kernel,
        ValueRange{i64(tokens), i64(d), i64(hidden), cst(n), i64(k),
                   addressOf(rewriter, loc, x), addressOf(rewriter, loc, w),
                   addressOf(rewriter, loc, idx), paramsAddr,
                   cst(static_cast<int64_t>(op.getActivation())), out.address,
                   cst(packed.empty() ? 0 : kPackedWeights)});
    rewriter.replaceOp(op, out.tensor(rewriter, loc, rt));
    return success();
  }
};

} // namespace

void loom::populateMoeLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerMoe>(patterns.getContext());
}
