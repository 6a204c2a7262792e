//===- LowerSparse.cpp - loom.sparse_matmul -> the sparse kernels ---------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// `loom.sparse_matmul` becomes a call of loomrt_bsgemm_f32 (blocks) or
// loomrt_sgemm24_f32 (2:4; runtime/src/kernels/spgemm.c), with the weights
// packed here, at compile time, by the runtime's own packers (one
// definition of each layout): block sparsity into panels of 16 columns
// holding only their non-zero blocks, 2:4 into panels of values and 2-bit
// positions. The weights must be constants (they are when
// loom-sparsify-weights made the op); otherwise the op is left for the
// pass to report.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "loom/Dialect/Loom/IR/LoomOps.h"

#include "loomrt/kernels.h"

#include "mlir/IR/PatternMatch.h"

#include <vector>

using namespace mlir;
using namespace loom;

namespace {

constexpr StringLiteral kBlockKernel = "loomrt_bsgemm_f32";
constexpr StringLiteral kTwoFourKernel = "loomrt_sgemm24_f32";

struct LowerSparseMatmul : OpRewritePattern<SparseMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  /// The packed block-sparse operands {index, data}, or std::nullopt when
  /// the weights are not constants.
  static std::optional<std::array<Value, 2>>
  packBlocks(OpBuilder &b, SparseMatmulOp op, int64_t k, int64_t n) {
    SmallVector<float> vStore;
    SmallVector<int32_t> rStore, oStore;
    auto values = constantOf<float>(op.getValues(), vStore);
    auto rows = constantOf<int32_t>(op.getIndices(), rStore);
    auto offsets = constantOf<int32_t>(op.getOffsets(), oStore);
    if (!values || !rows || !offsets)
      return std::nullopt;
    int64_t bk = (*op.getBlock())[0], bn = (*op.getBlock())[1];
    // The dense W [k, n] the blocks describe (the verifier checked the
    // shapes; the block rows and offsets are checked here).
    std::vector<float> w(k * n, 0.0f);
    int64_t blocks = static_cast<int64_t>(rows->size());
    for (int64_t c = 0; c + 1 < static_cast<int64_t>(offsets->size()); ++c) {
      int64_t b0 = (*offsets)[c], b1 = (*offsets)[c + 1];
      if (b0 < 0 || b1 < b0 || b1 > blocks)
        return std::nullopt;
      for (int64_t blk = b0; blk < b1; ++blk) {
        int64_t r = (*rows)[blk];
        if (r < 0 || r * bk >= k)
          return std::nullopt;
        for (int64_t p = 0; p < bk && r * bk + p < k; ++p)
          for (int64_t j = 0; j < bn && c * bn + j < n; ++j)
            w[(r * bk + p) * n + c * bn + j] +=
                (*values)[(blk * bk + p) * bn + j];
      }
    }
    // The kernel's blocks: bk rows by its 16-column panels.
    int64_t count = loomrt_bsgemm_pack_count(k, n, bk, w.data(), n, 1);
    std::vector<int32_t> index((n + LOOMRT_GEMM_PANEL - 1) / LOOMRT_GEMM_PANEL +
                               1 + count);
    std::vector<float> data(count * bk * LOOMRT_GEMM_PANEL);
    loomrt_bsgemm_pack(k, n, bk, w.data(), n, 1, index.data(), data.data());
    Location loc = op.getLoc();
    return std::array<Value, 2>{
        blobConstant<int32_t>(b, loc, b.getI32Type(), index,
                              "sparse_block_index_packed"),
        blobConstant<float>(b, loc, b.getF32Type(), data,
                            "sparse_block_data_packed")};
  }

  /// The packed 2:4 operands {data, meta}, or std::nullopt.
  static std::optional<std::array<Value, 2>>
  packTwoFour(OpBuilder &b, SparseMatmulOp op, int64_t k, int64_t n) {
    SmallVector<float> vStore;
    SmallVector<int8_t> mStore;
    auto values = constantOf<float>(op.getValues(), vStore);
    auto meta = constantOf<int8_t>(op.getIndices(), mStore);
    if (!values || !meta)
      return std::nullopt;
    for (int8_t m : *meta)
      if ((m & 3) == ((m >> 2) & 3) || (m & ~15))
        return std::nullopt;
    std::vector<float> data(loomrt_sgemm24_packed_floats(k, n));
    std::vector<uint32_t> words(loomrt_sgemm24_packed_meta(k, n));
    loomrt_sgemm24_pack(k, n, values->data(),
                        reinterpret_cast<const uint8_t *>(meta->data()),
                        data.data(), words.data());
    Location loc = op.getLoc();
    return std::array<Value, 2>{
        blobConstant<float>(b, loc, b.getF32Type(), data,
                            "sparse_2_4_data_packed"),
        blobConstant<uint32_t>(b, loc, b.getI32Type(), words,
                               "sparse_2_4_meta_packed")};
  }

  LogicalResult matchAndRewrite(SparseMatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto module = op->getParentOfType<ModuleOp>();
    if (!module)
      return rewriter.notifyMatchFailure(op, "not in a module");
    Location loc = op.getLoc();
    auto rt = cast<RankedTensorType>(op.getType());
    int64_t k =
        cast<RankedTensorType>(op.getInput().getType()).getShape().back();
    int64_t n = op.getColumns();
    std::optional<std::array<Value, 2>> packed =
        op.isBlockSparse() ? packBlocks(rewriter, op, k, n)
                           : packTwoFour(rewriter, op, k, n);
    if (!packed)
      return rewriter.notifyMatchFailure(
          op, "the sparse weights are not valid constants");
    Value x = contiguous(rewriter, loc, op.getInput());
    SmallVector<Value> dims;
    Value rows = leadingRows(rewriter, loc, x, dims);
    auto i64Const = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(rewriter, loc, v, 64);
    };
    KernelOutput out(rewriter, loc, rt, dims);
    Value first = addressOf(rewriter, loc, (*packed)[0]),
          second = addressOf(rewriter, loc, (*packed)[1]);
    if (op.isBlockSparse()) {
      func::FuncOp kernel =
          getOrDeclareKernel(rewriter, module, kBlockKernel, 8);
      func::CallOp::create(rewriter, loc, kernel,
                           ValueRange{rows, i64Const(n), i64Const(k),
                                      i64Const((*op.getBlock())[0]),
                                      addressOf(rewriter, loc, x), first,
                                      second, out.address});
    } else {
      func::FuncOp kernel =
          getOrDeclareKernel(rewriter, module, kTwoFourKernel, 7);
      func::CallOp::create(rewriter, loc, kernel,
                           ValueRange{rows, i64Const(n), i64Const(k),
                                      addressOf(rewriter, loc, x), first,
                                      second, out.address});
    }
    rewriter.replaceOp(op, out.tensor(rewriter, loc, rt));
    return success();
  }
};

} // namespace

void loom::populateSparseLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerSparseMatmul>(patterns.getContext());
}
