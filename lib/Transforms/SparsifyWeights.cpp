//===- SparsifyWeights.cpp - 2:4 and block pruning of weights -------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Rewrites matrix multiplies by constant fp32 weights into
// loom.sparse_matmul: 2:4 (the two largest magnitudes of every group of
// four rows per column) or blocks (the blocks of least Frobenius norm
// pruned, zero blocks never stored). Magnitude pruning, no data needed; the
// dense constants die.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "loom/Transforms/Microkernels.h"
#include "loom/Transforms/WeightMatmul.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

namespace loom {
#define GEN_PASS_DEF_SPARSIFYWEIGHTSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

using namespace mlir;

namespace {

/// The pass's options, checked.
struct SparsityPattern {
  bool twoFour = false;
  int64_t blockRows = 32, blockCols = 32;
  double ratio = 0.0;
};

/// What sparsifying one layer did, for the report.
struct LayerReport {
  std::string layer;
  int64_t k = 0, n = 0, bytesBefore = 0, bytesAfter = 0;
  /// Weights stored (kept values and the zeros stored with them).
  int64_t stored = 0;
  /// Non-zero weights before and after pruning.
  int64_t nonZeroBefore = 0, nonZeroAfter = 0;
  /// Sums of the pruned weights' squares and of all squares.
  double prunedSq = 0, normSq = 0;
  bool dense = false;
};

/// Rewrites the matrix multiplies by constant weights, recording each.
struct Sparsifier {
  SparsityPattern sparsity;
  std::vector<LayerReport> &reports;

  /// 2:4: values [K/2, N], indices [K/4, N]; `w` row-major [K, N].
  Value twoFour(RewriterBase &rewriter, Location loc, Value a, int64_t k,
                int64_t n, ArrayRef<float> w, LayerReport &report) {
    SmallVector<float> values(k / 2 * n);
    SmallVector<int8_t> indices(k / 4 * n);
    for (int64_t g = 0; g < k / 4; ++g)
      for (int64_t j = 0; j < n; ++j) {
        int rows[4] = {0, 1, 2, 3};
        // By magnitude, the lower row first on ties (a total order).
        std::sort(rows, rows + 4, [&](int x, int y) {
          float ax = std::fabs(w[(4 * g + x) * n + j]),
                ay = std::fabs(w[(4 * g + y) * n + j]);
          return ax > ay || (ax == ay && x < y);
        });
        int r0 = std::min(rows[0], rows[1]), r1 = std::max(rows[0], rows[1]);
        values[2 * g * n + j] = w[(4 * g + r0) * n + j];
        values[(2 * g + 1) * n + j] = w[(4 * g + r1) * n + j];
        indices[g * n + j] = static_cast<int8_t>(r0 | r1 << 2);
        for (int t = 2; t < 4; ++t) {
          float v = w[(4 * g + rows[t]) * n + j];
          report.prunedSq += static_cast<double>(v) * v;
        }
        report.nonZeroAfter += (values[2 * g * n + j] != 0.0f) +
                               (values[(2 * g + 1) * n + j] != 0.0f);
      }
    report.stored = k / 2 * n;
    report.bytesAfter = 4 * report.stored + k / 4 * n;
    Value v = loom::resourceConstant<float>(
        rewriter, loc, RankedTensorType::get({k / 2, n}, rewriter.getF32Type()),
        values, "sparse_2_4_values");
    Value idx = loom::resourceConstant<int8_t>(
        rewriter, loc, RankedTensorType::get({k / 4, n}, rewriter.getI8Type()),
        indices, "sparse_2_4_indices");
    return loom::SparseMatmulOp::create(
        rewriter, loc, a, v, idx, /*offsets=*/Value(),
        rewriter.getStringAttr("2:4"), rewriter.getI64IntegerAttr(n),
        /*block=*/nullptr);
  }

  /// Blocks: the ratio of least-norm blocks pruned, zero blocks dropped.
  /// Returns null (the layer stays dense) when no block is zero.
  Value blocks(RewriterBase &rewriter, Location loc, Value a, int64_t k,
               int64_t n, ArrayRef<float> w, LayerReport &report) {
    int64_t bk = sparsity.blockRows, bn = sparsity.blockCols;
    int64_t rowsB = (k + bk - 1) / bk, colsB = (n + bn - 1) / bn;
    int64_t total = rowsB * colsB;
    // Block (r, c) is number c * rowsB + r: column of blocks first.
    std::vector<double> norm(total, 0.0);
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j) {
        double v = w[p * n + j];
        norm[(j / bn) * rowsB + p / bk] += v * v;
      }
    std::vector<int64_t> order(total);
    std::iota(order.begin(), order.end(), 0);
    // By norm, the earlier block first on ties (a total order).
    std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
      return norm[x] < norm[y] || (norm[x] == norm[y] && x < y);
    });
    std::vector<bool> keep(total, true);
    auto pruned = static_cast<int64_t>(std::llround(sparsity.ratio * total));
    for (int64_t i = 0; i < total; ++i)
      if (i < pruned || norm[order[i]] == 0.0) {
        keep[order[i]] = false;
        report.prunedSq += norm[order[i]];
      }
    int64_t kept = std::count(keep.begin(), keep.end(), true);
    if (kept == total)
      return nullptr;
    SmallVector<float> values(kept * bk * bn, 0.0f);
    SmallVector<int32_t> rows, offsets{0};
    for (int64_t c = 0; c < colsB; ++c) {
      for (int64_t r = 0; r < rowsB; ++r) {
        if (!keep[c * rowsB + r])
          continue;
        float *dst = values.data() + rows.size() * bk * bn;
        for (int64_t p = 0; p < bk && r * bk + p < k; ++p)
          for (int64_t j = 0; j < bn && c * bn + j < n; ++j) {
            float v = w[(r * bk + p) * n + c * bn + j];
            dst[p * bn + j] = v;
            report.nonZeroAfter += v != 0.0f;
          }
        rows.push_back(static_cast<int32_t>(r));
      }
      offsets.push_back(static_cast<int32_t>(rows.size()));
    }
    report.stored = kept * bk * bn;
    report.bytesAfter = 4 * report.stored + 4 * (kept + colsB + 1);
    Value v = loom::resourceConstant<float>(
        rewriter, loc,
        RankedTensorType::get({kept, bk, bn}, rewriter.getF32Type()), values,
        "sparse_block_values");
    Value idx = loom::resourceConstant<int32_t>(
        rewriter, loc, RankedTensorType::get({kept}, rewriter.getI32Type()),
        rows, "sparse_block_rows");
    Value off = loom::resourceConstant<int32_t>(
        rewriter, loc,
        RankedTensorType::get({colsB + 1}, rewriter.getI32Type()), offsets,
        "sparse_block_offsets");
    return loom::SparseMatmulOp::create(
        rewriter, loc, a, v, idx, off, rewriter.getStringAttr("block"),
        rewriter.getI64IntegerAttr(n), rewriter.getDenseI64ArrayAttr({bk, bn}));
  }

  /// Sparsifies `op` when it multiplies by constant weights.
  void rewrite(linalg::GenericOp op, RewriterBase &rewriter) {
    std::optional<loom::WeightMatmul> mm = loom::matchWeightMatmul(op);
    if (!mm)
      return;
    auto kStatic =
        cast<RankedTensorType>(mm->input.getType()).getShape().back();
    if (ShapedType::isDynamic(kStatic))
      return;
    SmallVector<float> storage;
    std::optional<ArrayRef<float>> data =
        loom::constantF32Data(mm->weight.getValue(), storage);
    if (!data)
      return;
    int64_t k = mm->k, n = mm->n;
    // W row-major [K, N].
    std::vector<float> w(k * n);
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j)
        w[p * n + j] = mm->at(*data, p, j);

    Location loc = op.getLoc();
    LayerReport report;
    report.layer = loom::layerName(loc);
    report.k = k;
    report.n = n;
    report.bytesBefore = 4 * k * n;
    for (float v : w) {
      report.normSq += static_cast<double>(v) * v;
      report.nonZeroBefore += v != 0.0f;
    }
    Value result;
    if (!sparsity.twoFour)
      result = blocks(rewriter, loc, mm->input, k, n, w, report);
    else if (k % 4 == 0)
      result = twoFour(rewriter, loc, mm->input, k, n, w, report);
    if (!result) {
      // Stays dense.
      report.dense = true;
      report.stored = k * n;
      report.nonZeroAfter = report.nonZeroBefore;
      report.bytesAfter = report.bytesBefore;
      reports.push_back(std::move(report));
      return;
    }
    reports.push_back(std::move(report));
    if (result.getType() != op.getResult(0).getType())
      result = tensor::CastOp::create(rewriter, loc, op.getResult(0).getType(),
                                      result);
    rewriter.replaceOp(op, result);
  }
};

struct SparsifyWeightsPass final
    : public loom::impl::SparsifyWeightsPassBase<SparsifyWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    SparsityPattern sparsity;
    if (mode == "2:4") {
      sparsity.twoFour = true;
    } else if (mode == "block") {
      if (blockRows < 1 || blockCols < 1) {
        getOperation()->emitError()
            << "sparsity blocks must have at least one row and column, not "
            << static_cast<int64_t>(blockRows) << "x"
            << static_cast<int64_t>(blockCols);
        return signalPassFailure();
      }
      if (!(ratio >= 0.0 && ratio < 1.0)) {
        getOperation()->emitError()
            << "the block pruning ratio must be in [0, 1), not " << ratio;
        return signalPassFailure();
      }
      sparsity.blockRows = blockRows;
      sparsity.blockCols = blockCols;
      sparsity.ratio = ratio;
    } else {
      getOperation()->emitError() << "unknown sparsity pattern '" << mode
                                  << "' (supported: 2:4, block)";
      return signalPassFailure();
    }
    std::vector<LayerReport> reports;
    Sparsifier sparsifier{sparsity, reports};
    // In program order, so that the report lists layers as the model does.
    SmallVector<linalg::GenericOp> ops;
    getOperation()->walk([&](linalg::GenericOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : ops) {
      rewriter.setInsertionPoint(op);
      sparsifier.rewrite(op, rewriter);
    }
    if (!report.empty() && failed(writeReport(reports)))
      signalPassFailure();
  }

  /// Writes the per-layer report as JSON to the `report` file.
  LogicalResult writeReport(ArrayRef<LayerReport> reports) {
    std::unique_ptr<llvm::raw_fd_ostream> file =
        loom::openReport(getOperation(), report, "sparsity");
    if (!file)
      return failure();
    llvm::raw_fd_ostream &os = *file;
    int64_t before = 0, after = 0, macsBefore = 0, macsAfter = 0;
    for (const LayerReport &r : reports) {
      before += r.bytesBefore;
      after += r.bytesAfter;
      macsBefore += r.k * r.n;
      macsAfter += r.stored;
    }
    llvm::json::OStream json(os, 2);
    json.object([&] {
      json.attribute("mode", mode);
      if (mode == "block") {
        json.attribute("block_rows", static_cast<int64_t>(blockRows));
        json.attribute("block_cols", static_cast<int64_t>(blockCols));
        json.attribute("ratio", static_cast<double>(ratio));
      }
      json.attribute("weight_bytes_before", before);
      json.attribute("weight_bytes_after", after);
      // Multiply-adds per row of input: the dense count and the stored
      // weights the kernels multiply.
      json.attribute("macs_per_row_before", macsBefore);
      json.attribute("macs_per_row_after", macsAfter);
      json.attribute("flops_saved",
                     macsBefore ? 1.0 - double(macsAfter) / macsBefore : 0.0);
      json.attributeArray("layers", [&] {
        for (const LayerReport &r : reports)
          json.object([&] {
            json.attribute("layer", r.layer);
            json.attribute("k", r.k);
            json.attribute("n", r.n);
            json.attribute("sparse", !r.dense);
            json.attribute("density", double(r.stored) / (r.k * r.n));
            json.attribute("nonzeros_before", r.nonZeroBefore);
            json.attribute("nonzeros_after", r.nonZeroAfter);
            json.attribute("weight_rel_change",
                           r.normSq > 0 ? std::sqrt(r.prunedSq / r.normSq)
                                        : 0.0);
            json.attribute("bytes_before", r.bytesBefore);
            json.attribute("bytes_after", r.bytesAfter);
          });
      });
    });
    os << "\n";
    return success();
  }
};
} // namespace
