//===- QuantizeWeights.cpp - int8/int4 weight-only quantization -----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Rewrites matrix multiplies by constant fp32 weights into
// loom.quantized_matmul. int8: symmetric per output channel,
// scale[n] = max_k |W[k, n]| / 127, q[k, n] = round(W[k, n] / scale[n]) in
// [-127, 127]. int4: groups of G rows per column, asymmetric by default
// (scale = (hi - lo) / 15 over the group's range widened to include 0,
// zero point round(-lo / scale), q = clamp(round(w / scale) + zero, 0, 15))
// or symmetric (scale = max |w| / 7, zero point 8), packed two per byte
// along K. w8a8: int8 weights, and the input quantized to uint8 with a
// calibrated range (loom.calibrated_range) or per row at run time. The fp32
// constants die; the quantized weights, scales and zero points are what the
// compiled model stores.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "loom/Transforms/Microkernels.h"
#include "loom/Transforms/WeightMatmul.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <string>
#include <vector>

namespace loom {
#define GEN_PASS_DEF_QUANTIZEWEIGHTSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-quantize-weights"

using namespace mlir;

/// Half precision's smallest positive (subnormal) and largest finite values.
static constexpr float kHalfMin = 5.9604645e-8f, kHalfMax = 65504.0f;

namespace {
/// A weight quantization scheme (the pass's options).
struct Scheme {
  int64_t bits = 8;
  /// 8: quantize the inputs too (W8A8).
  int64_t inputBits = 0;
  int64_t groupSize = 0;
  bool symmetric = true;
  /// Search the clipping range that minimizes the squared weight error
  /// (instead of the full min-max range).
  bool mseScales = false;
  /// Round with GPTQ's error feedback where a layer carries a calibration
  /// Gram matrix (loom.calibration_gram).
  bool gptq = false;
};

/// The clipping ratios tried by the mse search: 1, 0.98, ..., 0.80 of the
/// min-max range.
constexpr int kClipSteps = 11;
inline float clipRatio(int step) { return 1.0f - 0.02f * step; }

/// What quantizing one layer did, for the report (`report` option).
struct LayerReport {
  std::string layer;
  /// The layer's position in the function (the report lists layers in
  /// program order, not in the order the rewrites happened).
  int64_t order = 0;
  int64_t k = 0, n = 0, bytesBefore = 0, bytesAfter = 0;
  /// Sums of (w - dequantized w)^2 and w^2, the largest |w - deq w|.
  double errSq = 0, normSq = 0, maxErr = 0;
  /// W8A8: the static input parameters (scale 0: dynamic, per row).
  float inputScale = 0;
  int64_t inputZero = 0;
  /// With a calibration Gram matrix G: how the weights were rounded, and
  /// the layer's relative output error on the calibration inputs,
  /// sqrt(sum_j dW_j^T G dW_j / sum_j W_j^T G W_j), for that rounding and
  /// for round-to-nearest (-1: not computed).
  std::string rounding = "nearest";
  double outputError = -1, nearestOutputError = -1;

  void add(float w, float deq) {
    double e = static_cast<double>(w) - deq;
    errSq += e * e;
    normSq += static_cast<double>(w) * w;
    maxErr = std::max(maxErr, std::fabs(e));
  }
};

/// The weights [k, n] while they are rounded row by row (rows of K in
/// order), and GPTQ's error feedback (Frantar et al., "GPTQ: Accurate
/// Post-Training Quantization for Generative Pre-trained Transformers"):
/// with U the upper Cholesky factor of (G + damp I)^-1, G = E[x x^T] over
/// the calibration inputs, the rounding error of row p, divided by U[p, p],
/// is subtracted from every later row r in proportion to U[p, r]. That is
/// the optimal update of the rows not yet rounded for the layer's squared
/// output error on those inputs; without U it is round-to-nearest.
struct Rounding {
  int64_t k = 0, n = 0;
  /// The current values, updated by the feedback.
  std::vector<float> w;
  /// U, k x k row-major; empty: round to nearest.
  std::vector<double> u;

  float at(int64_t p, int64_t j) const { return w[p * n + j]; }

  /// Row p was rounded to `deq` (n values).
  void feedback(int64_t p, ArrayRef<float> deq) {
    if (u.empty())
      return;
    std::vector<float> err(n);
    double d = u[p * k + p];
    for (int64_t j = 0; j < n; ++j)
      err[j] = static_cast<float>((w[p * n + j] - deq[j]) / d);
    for (int64_t r = p + 1; r < k; ++r) {
      auto c = static_cast<float>(u[p * k + r]);
      if (c == 0.0f)
        continue;
      float *row = w.data() + r * n;
      for (int64_t j = 0; j < n; ++j)
        row[j] -= err[j] * c;
    }
  }
};

/// U for GPTQ from G [k, k]: dead inputs (G[i, i] = 0) get 1 on the
/// diagonal, then 1% of the mean diagonal is added (damping), and U =
/// J inv(chol(J G J)) J with J the reversal, the upper Cholesky factor of
/// G^-1. Empty when G is not positive definite even so.
std::vector<double> gptqFactor(ArrayRef<float> gram, int64_t k) {
  std::vector<double> h(k * k);
  double mean = 0;
  for (int64_t i = 0; i < k; ++i)
    mean += gram[i * k + i];
  mean /= std::max<int64_t>(k, 1);
  // J G J, damped.
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      h[i * k + j] = gram[(k - 1 - i) * k + (k - 1 - j)];
  for (int64_t i = 0; i < k; ++i) {
    double &d = h[i * k + i];
    if (d <= 0)
      d = 1;
    d += 0.01 * (mean > 0 ? mean : 1);
  }
  // Cholesky, lower: h = L L^T, L in the lower triangle of h.
  for (int64_t j = 0; j < k; ++j) {
    double *rj = h.data() + j * k;
    double d = rj[j];
    for (int64_t q = 0; q < j; ++q)
      d -= rj[q] * rj[q];
    if (!(d > 0))
      return {};
    d = std::sqrt(d);
    rj[j] = d;
    for (int64_t i = j + 1; i < k; ++i) {
      double *ri = h.data() + i * k;
      double v = ri[j];
      for (int64_t q = 0; q < j; ++q)
        v -= ri[q] * rj[q];
      ri[j] = v / d;
    }
  }
  // inv(L), lower, by forward substitution column by column.
  std::vector<double> inv(k * k, 0.0);
  for (int64_t c = 0; c < k; ++c) {
    inv[c * k + c] = 1.0 / h[c * k + c];
    for (int64_t i = c + 1; i < k; ++i) {
      double v = 0;
      for (int64_t q = c; q < i; ++q)
        v -= h[i * k + q] * inv[q * k + c];
      inv[i * k + c] = v / h[i * k + i];
    }
  }
  std::vector<double> u(k * k, 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i; j < k; ++j)
      u[i * k + j] = inv[(k - 1 - i) * k + (k - 1 - j)];
  return u;
}

/// sqrt(sum_j d_j^T G d_j / sum_j w_j^T G w_j) with d = W - deq (columns
/// j of [k, n] row-major matrices): the relative output error of a layer on
/// inputs whose mean outer product is G.
double outputError(ArrayRef<float> gram, int64_t k, int64_t n,
                   ArrayRef<float> w, ArrayRef<float> deq) {
  double err = 0, base = 0;
  std::vector<double> dp(n), dr(n);
  for (int64_t p = 0; p < k; ++p)
    for (int64_t r = 0; r < k; ++r) {
      double g = gram[p * k + r];
      if (g == 0)
        continue;
      double e = 0, b = 0;
      for (int64_t j = 0; j < n; ++j) {
        e += (static_cast<double>(w[p * n + j]) - deq[p * n + j]) *
             (static_cast<double>(w[r * n + j]) - deq[r * n + j]);
        b += static_cast<double>(w[p * n + j]) * w[r * n + j];
      }
      err += g * e;
      base += g * b;
    }
  return base > 0 ? std::sqrt(std::max(err, 0.0) / base) : 0.0;
}

/// Quantizes the weights of a matrix multiply by a constant fp32 weight
/// (loom::matchWeightMatmul).
struct QuantizeMatmul : OpRewritePattern<linalg::GenericOp> {
  QuantizeMatmul(MLIRContext *ctx, Scheme scheme,
                 std::vector<LayerReport> *reports,
                 const llvm::DenseMap<Operation *, int64_t> *positions)
      : OpRewritePattern(ctx), scheme(scheme), reports(reports),
        positions(positions) {}

  Scheme scheme;
  /// Where to record each layer (may be null).
  std::vector<LayerReport> *reports;
  /// The program order of the candidate ops (may be null).
  const llvm::DenseMap<Operation *, int64_t> *positions;

  /// Symmetric per-column int8: scales from the weights' ranges, then
  /// the rows rounded in order (with `rnd`'s feedback): q [k, n], one scale
  /// per column, the dequantized weights in `deq`.
  template <typename Weights>
  void roundInt8(int64_t k, int64_t n, Weights at2, Rounding &rnd,
                 SmallVectorImpl<int8_t> &q, SmallVectorImpl<float> &scales,
                 std::vector<float> &deq, LayerReport &report) const {
    scales.assign(n, 1.0f);
    q.assign(k * n, 0);
    for (int64_t j = 0; j < n; ++j) {
      float peak = 0.0f;
      for (int64_t p = 0; p < k; ++p)
        peak = std::max(peak, std::fabs(at2(p, j)));
      auto scaleFor = [&](int step) {
        return peak > 0.0f ? clipRatio(step) * peak / 127.0f : 1.0f;
      };
      float s = scaleFor(0);
      if (scheme.mseScales) {
        double best = INFINITY;
        for (int step = 0; step < kClipSteps; ++step) {
          float c = scaleFor(step);
          double err = 0;
          for (int64_t p = 0; p < k; ++p) {
            float v =
                std::clamp(std::nearbyint(at2(p, j) / c), -127.0f, 127.0f);
            double e = static_cast<double>(at2(p, j)) - v * c;
            err += e * e;
          }
          if (err < best) {
            best = err;
            s = c;
          }
        }
      }
      scales[j] = s;
    }
    std::vector<float> row(n);
    for (int64_t p = 0; p < k; ++p) {
      for (int64_t j = 0; j < n; ++j) {
        float v = std::clamp(std::nearbyint(rnd.at(p, j) / scales[j]), -127.0f,
                             127.0f);
        q[p * n + j] = static_cast<int8_t>(v);
        row[j] = deq[p * n + j] = v * scales[j];
        report.add(at2(p, j), row[j]);
      }
      rnd.feedback(p, row);
    }
  }

  /// Group-wise int4 along K, packed two per byte: each group's scales and
  /// zero points from its (current) rows' range, then its rows rounded in
  /// order with `rnd`'s feedback.
  template <typename Weights>
  void roundInt4(int64_t k, int64_t n, Weights at2, Rounding &rnd,
                 SmallVectorImpl<int8_t> &packed,
                 SmallVectorImpl<APFloat> &scales,
                 SmallVectorImpl<int8_t> &zeros, std::vector<float> &deq,
                 LayerReport &report) const {
    int64_t group = scheme.groupSize, groups = (k + group - 1) / group;
    scales.assign(groups * n, APFloat(APFloat::IEEEhalf()));
    zeros.assign(scheme.symmetric ? 0 : groups * n, 0);
    packed.assign((k + 1) / 2 * n, 0);
    std::vector<float> gs(n), row(n);
    std::vector<int> gz(n);
    for (int64_t g = 0; g < groups; ++g) {
      int64_t p0 = g * group, p1 = std::min(k, p0 + group);
      for (int64_t j = 0; j < n; ++j) {
        float lo = 0.0f, hi = 0.0f;
        for (int64_t p = p0; p < p1; ++p) {
          lo = std::min(lo, rnd.at(p, j));
          hi = std::max(hi, rnd.at(p, j));
        }
        // The scale (rounded to half precision, as stored) and zero point
        // for the range [lo, hi] clipped to `ratio` of itself.
        auto paramsFor = [&](float ratio) {
          float l = ratio * lo, h = ratio * hi, peak = std::max(-l, h);
          float sc = scheme.symmetric ? (peak > 0.0f ? peak / 7.0f : 1.0f)
                                      : (h > l ? (h - l) / 15.0f : 1.0f);
          // Kept within half precision's finite non-zero range.
          APFloat half(std::clamp(sc, kHalfMin, kHalfMax));
          bool lost;
          half.convert(APFloat::IEEEhalf(), APFloat::rmNearestTiesToEven,
                       &lost);
          sc = half.convertToFloat();
          int z = scheme.symmetric ? 8
                                   : static_cast<int>(std::clamp(
                                         std::nearbyint(-l / sc), 0.0f, 15.0f));
          return std::make_tuple(sc, z, half);
        };
        auto [sc, zero, half] = paramsFor(1.0f);
        if (scheme.mseScales) {
          double best = INFINITY;
          for (int step = 0; step < kClipSteps; ++step) {
            auto [c, z, h] = paramsFor(clipRatio(step));
            double err = 0;
            for (int64_t p = p0; p < p1; ++p) {
              float v =
                  std::clamp(std::nearbyint(rnd.at(p, j) / c) + z, 0.0f, 15.0f);
              double e = static_cast<double>(rnd.at(p, j)) - (v - z) * c;
              err += e * e;
            }
            if (err < best) {
              best = err;
              std::tie(sc, zero, half) = std::make_tuple(c, z, h);
            }
          }
        }
        scales[g * n + j] = half;
        if (!scheme.symmetric)
          zeros[g * n + j] = static_cast<int8_t>(zero);
        gs[j] = sc;
        gz[j] = zero;
      }
      for (int64_t p = p0; p < p1; ++p) {
        for (int64_t j = 0; j < n; ++j) {
          float v = std::clamp(std::nearbyint(rnd.at(p, j) / gs[j]) + gz[j],
                               0.0f, 15.0f);
          row[j] = deq[p * n + j] = (v - gz[j]) * gs[j];
          report.add(at2(p, j), row[j]);
          auto nib = static_cast<uint8_t>(v);
          auto &byte = packed[p / 2 * n + j];
          byte = static_cast<int8_t>(static_cast<uint8_t>(byte) |
                                     (p % 2 ? nib << 4 : nib));
        }
        rnd.feedback(p, row);
      }
    }
  }

  /// Rounds the weights (roundInt8 or roundInt4 by the scheme) and builds
  /// the loom.quantized_matmul.
  template <typename Weights>
  Value quantize(PatternRewriter &rewriter, Location loc, Value a, int64_t k,
                 int64_t n, Weights at2, Rounding &rnd, std::vector<float> &deq,
                 LayerReport &report) const {
    if (scheme.bits == 8) {
      SmallVector<int8_t> q;
      SmallVector<float> scales;
      roundInt8(k, n, at2, rnd, q, scales, deq, report);
      report.bytesAfter = k * n + 4 * n;
      Value qw = loom::resourceConstant<int8_t>(
          rewriter, loc, RankedTensorType::get({k, n}, rewriter.getI8Type()), q,
          "int8_weight");
      Value scale = arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(
              RankedTensorType::get({n}, rewriter.getF32Type()),
              ArrayRef<float>(scales)));
      if (!scheme.inputBits)
        return loom::QuantizedMatmulOp::create(rewriter, loc, a, qw, scale);
      FloatAttr inputScale;
      IntegerAttr inputZero;
      if (report.inputScale > 0) {
        inputScale = rewriter.getF32FloatAttr(report.inputScale);
        inputZero = rewriter.getI64IntegerAttr(report.inputZero);
      }
      return loom::QuantizedMatmulOp::create(
          rewriter, loc, a, qw, scale, Value(), /*bits=*/8, /*group_size=*/0,
          /*input_bits=*/8, inputScale, inputZero);
    }
    SmallVector<int8_t> packed, zeros;
    SmallVector<APFloat> scales;
    roundInt4(k, n, at2, rnd, packed, scales, zeros, deq, report);
    int64_t groups = (k + scheme.groupSize - 1) / scheme.groupSize;
    // Weights, fp16 scales, and zero points as the kernel stores them: two
    // per byte.
    report.bytesAfter = static_cast<int64_t>(packed.size() + 2 * scales.size() +
                                             (zeros.size() + 1) / 2);
    Value qw = loom::resourceConstant<int8_t>(
        rewriter, loc,
        RankedTensorType::get({(k + 1) / 2, n}, rewriter.getI8Type()), packed,
        "int4_weight");
    Value scale = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(
            RankedTensorType::get({groups, n}, rewriter.getF16Type()),
            ArrayRef<APFloat>(scales)));
    Value zero;
    if (!scheme.symmetric)
      zero = loom::resourceConstant<int8_t>(
          rewriter, loc,
          RankedTensorType::get({groups, n}, rewriter.getI8Type()), zeros,
          "int4_zero");
    return loom::QuantizedMatmulOp::create(
        rewriter, loc, a, qw, scale, zero, /*bits=*/4, scheme.groupSize,
        scheme.inputBits, FloatAttr(), IntegerAttr());
  }

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<loom::WeightMatmul> mm = loom::matchWeightMatmul(op);
    if (!mm)
      return failure();
    SmallVector<float> storage;
    std::optional<ArrayRef<float>> data =
        loom::constantF32Data(mm->weight.getValue(), storage);
    if (!data)
      return rewriter.notifyMatchFailure(op, "unreadable weights");
    int64_t k = mm->k, n = mm->n;
    Value a = mm->input;
    auto at2 = [&](int64_t p, int64_t j) { return mm->at(*data, p, j); };
    Location loc = op.getLoc();
    LayerReport report;
    report.layer = loom::layerName(loc);
    if (positions)
      report.order = positions->lookup(op);
    report.k = k;
    report.n = n;
    report.bytesBefore = 4 * k * n;
    if (scheme.inputBits && scheme.bits == 8) {
      if (auto range = op->getAttrOfType<DenseF32ArrayAttr>(
              loom::kCalibratedRangeAttr)) {
        if (range.size() != 2)
          return op->emitError() << loom::kCalibratedRangeAttr
                                 << " must hold two values (lo, hi)";
        float lo = std::min(range[0], 0.0f), hi = std::max(range[1], 0.0f);
        float s = (hi - lo) / 255.0f;
        if (!(s > 0.0f) || !std::isfinite(s))
          s = 1.0f;
        report.inputScale = s;
        report.inputZero = static_cast<int64_t>(
            std::clamp(std::nearbyint(-lo / s), 0.0f, 255.0f));
      }
    }
    // GPTQ where the layer has a calibration Gram matrix of its K.
    Rounding rnd;
    rnd.k = k;
    rnd.n = n;
    rnd.w.resize(k * n);
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j)
        rnd.w[p * n + j] = at2(p, j);
    SmallVector<float> gramStorage;
    std::optional<ArrayRef<float>> gram;
    if (auto attr = op->getAttr(loom::kCalibrationGramAttr)) {
      auto type = dyn_cast<TypedAttr>(attr);
      auto shaped = type ? dyn_cast<RankedTensorType>(type.getType())
                         : RankedTensorType();
      if (shaped && shaped.getShape() == ArrayRef<int64_t>{k, k})
        gram = loom::constantF32Data(attr, gramStorage);
    }
    std::vector<float> deq(k * n);
    // The original weights, for the output error (rounding updates rnd.w).
    std::vector<float> w = gram ? rnd.w : std::vector<float>();
    if (gram && scheme.gptq) {
      rnd.u = gptqFactor(*gram, k);
      if (!rnd.u.empty())
        report.rounding = "gptq";
    }
    Value result = quantize(rewriter, loc, a, k, n, at2, rnd, deq, report);
    if (gram) {
      report.outputError = outputError(*gram, k, n, w, deq);
      report.nearestOutputError = report.outputError;
      if (report.rounding == "gptq") {
        // What round-to-nearest would have given, for the report.
        Rounding nearest;
        nearest.k = k;
        nearest.n = n;
        nearest.w = w;
        LayerReport scratch;
        std::vector<float> deqNearest(k * n);
        if (scheme.bits == 8) {
          SmallVector<int8_t> q;
          SmallVector<float> scales;
          roundInt8(k, n, at2, nearest, q, scales, deqNearest, scratch);
        } else {
          SmallVector<int8_t> packed, zeros;
          SmallVector<APFloat> scales;
          roundInt4(k, n, at2, nearest, packed, scales, zeros, deqNearest,
                    scratch);
        }
        report.nearestOutputError = outputError(*gram, k, n, w, deqNearest);
      }
    }
    if (reports)
      reports->push_back(std::move(report));
    if (result.getType() != op.getResult(0).getType())
      result = tensor::CastOp::create(rewriter, loc, op.getResult(0).getType(),
                                      result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// What quantizing one lookup table did, for the report.
struct TableReport {
  std::string name;
  int64_t rows = 0, cols = 0, bytesBefore = 0, bytesAfter = 0;
  double errSq = 0, normSq = 0;
};

/// Stores a constant fp32 table [V, D] of at least `minElements` elements
/// that is only read element by element
/// (`tensor.extract`, as the Gather legalization reads embeddings) as int8
/// in blocks of `block` columns per row, each with an fp16 scale
/// (max |w| / 127), and rewrites every read into a read of the int8 value
/// and its block's scale, multiplied. Returns false (changing nothing) for
/// other constants.
bool quantizeTable(arith::ConstantOp cst, int64_t block, int64_t minElements,
                   TableReport &report) {
  auto type = dyn_cast<RankedTensorType>(cst.getType());
  if (!type || !type.hasStaticShape() || type.getRank() != 2 ||
      !type.getElementType().isF32() || type.getNumElements() < minElements)
    return false;
  if (cst->use_empty() || !llvm::all_of(cst->getUsers(), [](Operation *user) {
        return isa<tensor::ExtractOp>(user);
      }))
    return false;
  SmallVector<float> storage;
  std::optional<ArrayRef<float>> data =
      loom::constantF32Data(cst.getValue(), storage);
  if (!data)
    return false;
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  int64_t blocks = (cols + block - 1) / block;
  SmallVector<int8_t> q(rows * cols);
  SmallVector<APFloat> scales(rows * blocks, APFloat(APFloat::IEEEhalf()));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      int64_t c0 = b * block, c1 = std::min(cols, c0 + block);
      float peak = 0.0f;
      for (int64_t c = c0; c < c1; ++c)
        peak = std::max(peak, std::fabs((*data)[r * cols + c]));
      APFloat half(
          std::clamp(peak > 0.0f ? peak / 127.0f : 1.0f, kHalfMin, kHalfMax));
      bool lost;
      half.convert(APFloat::IEEEhalf(), APFloat::rmNearestTiesToEven, &lost);
      float sc = half.convertToFloat();
      scales[r * blocks + b] = half;
      for (int64_t c = c0; c < c1; ++c) {
        float w = (*data)[r * cols + c];
        float v = std::clamp(std::nearbyint(w / sc), -127.0f, 127.0f);
        q[r * cols + c] = static_cast<int8_t>(v);
        double e = static_cast<double>(w) - v * sc;
        report.errSq += e * e;
        report.normSq += static_cast<double>(w) * w;
      }
    }
  report.rows = rows;
  report.cols = cols;
  report.bytesBefore = 4 * rows * cols;
  report.bytesAfter = rows * cols + 2 * rows * blocks;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(cst.getValue()))
    report.name = resource.getRawHandle().getKey().str();
  else
    report.name = loom::layerName(cst.getLoc());

  OpBuilder b(cst);
  Location loc = cst.getLoc();
  Value qTable = loom::resourceConstant<int8_t>(
      b, loc, RankedTensorType::get({rows, cols}, b.getI8Type()), q,
      "int8_table");
  Value sTable = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(
          RankedTensorType::get({rows, blocks}, b.getF16Type()),
          ArrayRef<APFloat>(scales)));
  for (Operation *user : llvm::make_early_inc_range(cst->getUsers())) {
    auto extract = cast<tensor::ExtractOp>(user);
    b.setInsertionPoint(extract);
    Location at = extract.getLoc();
    Value row = extract.getIndices()[0], col = extract.getIndices()[1];
    Value qv = tensor::ExtractOp::create(b, at, qTable, ValueRange{row, col});
    Value blockIndex = arith::DivUIOp::create(
        b, at, col, arith::ConstantIndexOp::create(b, at, block));
    Value sv =
        tensor::ExtractOp::create(b, at, sTable, ValueRange{row, blockIndex});
    Value v = arith::MulFOp::create(
        b, at, arith::SIToFPOp::create(b, at, b.getF32Type(), qv),
        arith::ExtFOp::create(b, at, b.getF32Type(), sv));
    extract.replaceAllUsesWith(v);
    extract.erase();
  }
  cst.erase();
  return true;
}

struct QuantizeWeightsPass final
    : public loom::impl::QuantizeWeightsPassBase<QuantizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    Scheme scheme;
    if (scales != "minmax" && scales != "mse") {
      getOperation()->emitError()
          << "unknown scale choice '" << scales << "' (supported: minmax, mse)";
      return signalPassFailure();
    }
    scheme.mseScales = scales == "mse";
    if (rounding != "nearest" && rounding != "gptq") {
      getOperation()->emitError()
          << "unknown rounding '" << rounding << "' (supported: nearest, gptq)";
      return signalPassFailure();
    }
    scheme.gptq = rounding == "gptq";
    if (mode == "int4-weight" || mode == "w4a8") {
      scheme.bits = 4;
      scheme.groupSize = groupSize;
      scheme.symmetric = symmetric;
      if (groupSize < 2 || groupSize % 2) {
        getOperation()->emitError()
            << "int4 group size must be even and at least 2, not "
            << static_cast<int64_t>(groupSize);
        return signalPassFailure();
      }
      if (mode == "w4a8") {
        scheme.inputBits = 8;
        if (groupSize % 8) {
          getOperation()->emitError()
              << "w4a8 needs a group size that is a multiple of 8, not "
              << static_cast<int64_t>(groupSize);
          return signalPassFailure();
        }
      }
    } else if (mode == "w8a8") {
      scheme.inputBits = 8;
    } else if (mode != "int8-weight") {
      getOperation()->emitError()
          << "unknown quantization mode '" << mode
          << "' (supported: int8-weight, int4-weight, w8a8, w4a8)";
      return signalPassFailure();
    }
    std::vector<LayerReport> reports;
    RewritePatternSet patterns(&getContext());
    llvm::DenseMap<Operation *, int64_t> positions;
    getOperation()->walk([&](linalg::GenericOp op) {
      positions.try_emplace(op, static_cast<int64_t>(positions.size()));
    });
    patterns.add<QuantizeMatmul>(&getContext(), scheme, &reports, &positions);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    llvm::sort(reports, [](const LayerReport &a, const LayerReport &b) {
      return a.order < b.order;
    });
    std::vector<TableReport> tableReports;
    if (tableBlock > 0) {
      SmallVector<arith::ConstantOp> constants;
      getOperation()->walk(
          [&](arith::ConstantOp cst) { constants.push_back(cst); });
      for (arith::ConstantOp cst : constants) {
        TableReport r;
        if (quantizeTable(cst, tableBlock, tableMinElements, r))
          tableReports.push_back(std::move(r));
      }
    } else if (tableBlock < 0) {
      getOperation()->emitError() << "table-block must not be negative, not "
                                  << static_cast<int64_t>(tableBlock);
      return signalPassFailure();
    }
    this->tables = std::move(tableReports);
    if (activationBlock < 0) {
      getOperation()->emitError()
          << "activation-block must not be negative, not "
          << static_cast<int64_t>(activationBlock);
      return signalPassFailure();
    }
    activations = 0;
    if (activationBlock > 0) {
      SmallVector<Operation *> targets;
      getOperation()->walk([&](Operation *op) {
        if (isa<loom::LayerNormOp, loom::RMSNormOp, loom::GeluOp, loom::SiluOp>(
                op))
          targets.push_back(op);
        else if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op);
                 softmax && static_cast<int64_t>(softmax.getDimension()) + 1 ==
                                softmax.getInputOperandType().getRank())
          targets.push_back(op);
      });
      for (Operation *op : targets) {
        auto type = dyn_cast<RankedTensorType>(op->getOperand(0).getType());
        if (!type || type.getRank() < 1 || !type.getElementType().isF32())
          continue;
        OpBuilder b(op);
        op->setOperand(0, loom::buildBlockwiseFakeQuant(b, op->getLoc(),
                                                        op->getOperand(0),
                                                        activationBlock));
        ++activations;
      }
      // Attention's softmax input (the scaled scores) lives inside its
      // lowering, flash tiles included: the op carries the block size.
      getOperation()->walk([&](loom::AttentionOp op) {
        if (op.getWindow() || op.getBlockSparse() || op.getRouted() ||
            !op.getQuery().getType().getElementType().isF32())
          return;
        op.setScoreQuantBlock(static_cast<int64_t>(activationBlock));
        ++activations;
      });
    }
    if (!report.empty() && failed(writeReport(reports)))
      signalPassFailure();
  }

  /// The lookup tables quantized (table-block > 0).
  std::vector<TableReport> tables;
  /// The op inputs quantized blockwise (activation-block > 0).
  int64_t activations = 0;

  /// Writes the per-layer report as JSON to the `report` file.
  LogicalResult writeReport(ArrayRef<LayerReport> reports) {
    std::unique_ptr<llvm::raw_fd_ostream> file =
        loom::openReport(getOperation(), report, "quantization");
    if (!file)
      return failure();
    llvm::raw_fd_ostream &os = *file;
    int64_t before = 0, after = 0;
    for (const LayerReport &r : reports) {
      before += r.bytesBefore;
      after += r.bytesAfter;
    }
    for (const TableReport &t : tables) {
      before += t.bytesBefore;
      after += t.bytesAfter;
    }
    llvm::json::OStream json(os, 2);
    json.object([&] {
      json.attribute("mode", mode);
      json.attribute("scales", scales);
      if (mode == "int4-weight" || mode == "w4a8") {
        json.attribute("group_size", static_cast<int64_t>(groupSize));
        json.attribute("symmetric", static_cast<bool>(symmetric));
      }
      json.attribute("weight_bytes_before", before);
      json.attribute("weight_bytes_after", after);
      json.attribute("compression", after ? double(before) / after : 0.0);
      if (activationBlock > 0) {
        json.attribute("activation_block",
                       static_cast<int64_t>(activationBlock));
        json.attribute("activations_quantized", activations);
      }
      if (tableBlock > 0)
        json.attributeArray("tables", [&] {
          for (const TableReport &t : tables)
            json.object([&] {
              json.attribute("table", t.name);
              json.attribute("rows", t.rows);
              json.attribute("cols", t.cols);
              json.attribute("block", static_cast<int64_t>(tableBlock));
              json.attribute("bytes_before", t.bytesBefore);
              json.attribute("bytes_after", t.bytesAfter);
              json.attribute("rel_rms_error",
                             t.normSq > 0 ? std::sqrt(t.errSq / t.normSq)
                                          : 0.0);
            });
        });
      json.attributeArray("layers", [&] {
        for (const LayerReport &r : reports)
          json.object([&] {
            json.attribute("layer", r.layer);
            json.attribute("k", r.k);
            json.attribute("n", r.n);
            json.attribute("bytes_before", r.bytesBefore);
            json.attribute("bytes_after", r.bytesAfter);
            // ||W - deq(W)|| / ||W||: also the expected relative error of
            // the layer's output for isotropic inputs.
            json.attribute("weight_rel_rms_error",
                           r.normSq > 0 ? std::sqrt(r.errSq / r.normSq) : 0.0);
            json.attribute("weight_max_abs_error", r.maxErr);
            if (r.outputError >= 0) {
              // On the calibration inputs: ||X (W - deq W)|| / ||X W||.
              json.attribute("rounding", r.rounding);
              json.attribute("calibration_output_rel_error", r.outputError);
              json.attribute("nearest_output_rel_error", r.nearestOutputError);
            }
            if (mode == "w4a8")
              json.attribute("input", "dynamic per group");
            if (mode == "w8a8") {
              json.attribute("input", r.inputScale > 0 ? "static" : "dynamic");
              if (r.inputScale > 0) {
                json.attribute("input_scale", r.inputScale);
                json.attribute("input_zero_point", r.inputZero);
              }
            }
          });
      });
    });
    os << "\n";
    return success();
  }
};
} // namespace
