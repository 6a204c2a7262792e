//===- LowerQuantized.cpp - loom.quantized_matmul -> the int8 kernel ------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// `loom.quantized_matmul` becomes a call of loomrt_qgemm_w8_f32
// (runtime/src/kernels/qgemm.c), which dequantizes the int8 weights in
// registers. On tensors, as for loom.moe: the input is copied into a fresh
// row-major tensor when it is not a constant, the buffers' addresses are
// passed as 64-bit integers, and the result is a new buffer.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"

#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace loom;

namespace {

constexpr StringLiteral kKernel = "loomrt_qgemm_w8_f32";

struct LowerQuantizedMatmul : OpRewritePattern<QuantizedMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto module = op->getParentOfType<ModuleOp>();
    if (!module)
      return rewriter.notifyMatchFailure(op, "not in a module");
    Location loc = op.getLoc();
    auto rt = cast<RankedTensorType>(op.getType());
    auto i64 = [&](Value index) -> Value {
      return arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(),
                                        index);
    };
    // Rows: the product of the input's leading dims.
    Value x = contiguous(rewriter, loc, op.getInput());
    int64_t rank = rt.getRank();
    SmallVector<Value> dims;
    for (int64_t i = 0; i + 1 < rank; ++i)
      dims.push_back(tensor::DimOp::create(rewriter, loc, x, i));
    Value rows = arith::ConstantIndexOp::create(rewriter, loc, 1);
    for (Value d : dims)
      rows = arith::MulIOp::create(rewriter, loc, rows, d);
    auto wt = cast<RankedTensorType>(op.getWeight().getType());
    Value k = arith::ConstantIntOp::create(rewriter, loc, wt.getDimSize(0), 64);
    Value n = arith::ConstantIntOp::create(rewriter, loc, wt.getDimSize(1), 64);
    Value w = contiguous(rewriter, loc, op.getWeight());
    Value scale = contiguous(rewriter, loc, op.getScale());

    // The last dim (N) is static: `dims` covers the leading ones.
    KernelOutput out(rewriter, loc, rt, dims);
    func::FuncOp kernel = getOrDeclareKernel(rewriter, module, kKernel, 7);
    func::CallOp::create(
        rewriter, loc, kernel,
        ValueRange{i64(rows), n, k, addressOf(rewriter, loc, x),
                   addressOf(rewriter, loc, w), addressOf(rewriter, loc, scale),
                   out.address});
    rewriter.replaceOp(op, out.tensor(rewriter, loc, rt));
    return success();
  }
};

} // namespace

void loom::populateQuantizedLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerQuantizedMatmul>(patterns.getContext());
}
