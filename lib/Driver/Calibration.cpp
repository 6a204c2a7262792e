//===- Calibration.cpp - Activation ranges from sample inputs -------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Driver/Calibration.h"

#include "loom/Transforms/WeightMatmul.h"
#include "loomrt/model.h"
#include "loomrt/status.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kPointAttr = "loom.calibration_point";

/// Values kept per layer for the percentile and mse methods.
constexpr size_t kMaxSamples = size_t(1) << 20;

/// What one layer's input did over all sample sets.
struct Observed {
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
  std::vector<float> samples;
  /// With grams: sum over input rows x (of length k) of x x^T (upper
  /// triangle), and the number of rows.
  int64_t k = 0, rows = 0;
  std::vector<double> gram;
};

/// Where a layer's input comes from in the instrumented model's run: one of
/// its inputs (a layer reading @main's argument) or an extra output.
struct Source {
  bool isInput = false;
  unsigned index = 0;
};

/// The sample set folders: `dir` itself when it holds input_0, else its
/// subfolders that do, sorted by name.
FailureOr<std::vector<std::string>> sampleSets(ModuleOp module,
                                               llvm::StringRef dir) {
  auto holdsInputs = [](llvm::StringRef d) {
    for (const char *ext : {"pb", "npy"}) {
      llvm::SmallString<256> p(d);
      llvm::sys::path::append(p, std::string("input_0.") + ext);
      if (llvm::sys::fs::exists(p))
        return true;
    }
    return false;
  };
  if (!llvm::sys::fs::is_directory(dir))
    return emitError(module.getLoc())
               << "--calibration '" << dir << "' is not a folder",
           failure();
  if (holdsInputs(dir))
    return std::vector<std::string>{dir.str()};
  std::vector<std::string> sets;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    if (llvm::sys::fs::is_directory(it->path()) && holdsInputs(it->path()))
      sets.push_back(it->path());
  if (ec)
    return emitError(module.getLoc())
               << "--calibration '" << dir << "': " << ec.message(),
           failure();
  if (sets.empty())
    return emitError(module.getLoc())
               << "--calibration '" << dir
               << "' holds no sample inputs (input_0.pb or input_0.npy, in "
                  "it or in its subfolders)",
           failure();
  llvm::sort(sets);
  return sets;
}

/// Adds the fp32 values of `t` to `obs`: every value to the range, about
/// `budget` of them (evenly strided) to the samples.
void observe(const loomrt_tensor *t, size_t budget, bool grams, Observed &obs) {
  if (t->dtype != LOOMRT_DTYPE_F32 || t->is_sequence)
    return;
  size_t n = t->nbytes / sizeof(float);
  const float *x = static_cast<const float *>(t->data);
  if (grams && t->rank >= 1 && t->dims[t->rank - 1] > 0) {
    int64_t k = t->dims[t->rank - 1];
    if (obs.gram.empty()) {
      obs.k = k;
      obs.gram.assign(k * k, 0.0);
    }
    for (int64_t r = 0; obs.k == k && r < static_cast<int64_t>(n) / k; ++r) {
      const float *row = x + r * k;
      for (int64_t p = 0; p < k; ++p) {
        double xp = row[p];
        double *g = obs.gram.data() + p * k;
        for (int64_t q = p; q < k; ++q)
          g[q] += xp * row[q];
      }
      ++obs.rows;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]))
      continue;
    obs.lo = std::min(obs.lo, x[i]);
    obs.hi = std::max(obs.hi, x[i]);
  }
  size_t stride =
      std::max<size_t>(1, (n + budget - 1) / std::max<size_t>(budget, 1));
  for (size_t i = 0; i < n; i += stride)
    if (std::isfinite(x[i]))
      obs.samples.push_back(x[i]);
}

/// The squared error of quantizing `samples` to uint8 over [lo, hi] as the
/// W8A8 kernel does (the range widened to include 0).
double quantizationError(llvm::ArrayRef<float> samples, float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  float s = (hi - lo) / 255.0f;
  if (!(s > 0.0f))
    return 0.0;
  float z = std::clamp(std::nearbyint(-lo / s), 0.0f, 255.0f);
  double err = 0.0;
  for (float x : samples) {
    float q = std::clamp(std::nearbyint(x / s) + z, 0.0f, 255.0f);
    double e = static_cast<double>(x) - (q - z) * s;
    err += e * e;
  }
  return err;
}

/// The range of one layer by `method`.
std::pair<float, float> chooseRange(Observed &obs, llvm::StringRef method) {
  if (obs.lo > obs.hi)
    return {0.0f, 0.0f};
  if (method == "percentile" && !obs.samples.empty()) {
    std::vector<float> &v = obs.samples;
    auto at = [&](double q) {
      size_t i = static_cast<size_t>(q * (v.size() - 1));
      std::nth_element(v.begin(), v.begin() + i, v.end());
      return v[i];
    };
    return {at(0.0001), at(0.9999)};
  }
  if (method == "mse" && !obs.samples.empty()) {
    std::pair<float, float> best{obs.lo, obs.hi};
    double bestErr = std::numeric_limits<double>::infinity();
    for (int step = 0; step <= 14; ++step) {
      float ratio = 1.0f - 0.05f * step;
      float lo = obs.lo * ratio, hi = obs.hi * ratio;
      double err = quantizationError(obs.samples, lo, hi);
      if (err < bestErr) {
        bestErr = err;
        best = {lo, hi};
      }
    }
    return best;
  }
  return {obs.lo, obs.hi};
}

/// Makes the clone's calibration points observable: their inputs become
/// extra results of @main (or are read from its arguments).
FailureOr<std::vector<Source>> exposeInputs(ModuleOp clone,
                                            unsigned numPoints) {
  auto main = clone.lookupSymbol<func::FuncOp>("main");
  std::vector<Source> sources(numPoints);
  SmallVector<std::pair<unsigned, Value>> extra;
  main.walk([&](linalg::GenericOp op) {
    auto point = op->getAttrOfType<IntegerAttr>(kPointAttr);
    if (!point)
      return;
    Value in = op.getDpsInputs()[0];
    unsigned id = point.getInt();
    if (auto arg = dyn_cast<BlockArgument>(in);
        arg && arg.getOwner()->getParentOp() == main) {
      sources[id] = {true, arg.getArgNumber()};
      return;
    }
    extra.emplace_back(id, in);
  });
  // One result per value (Q, K and V projections read the same input; a
  // value returned twice would be two outputs owning one buffer).
  // The new results go before the run-time check status (the last result,
  // marked loom.status, when the model has checks).
  auto ret = cast<func::ReturnOp>(main.front().getTerminator());
  SmallVector<Value> operands(ret.getOperands());
  unsigned at = operands.size();
  if (at && main.getResultAttr(at - 1, "loom.status"))
    --at;
  llvm::DenseMap<Value, unsigned> resultOf;
  for (auto [id, value] : extra) {
    auto [it, added] = resultOf.try_emplace(value, at);
    if (added) {
      if (failed(main.insertResult(at, value.getType(), DictionaryAttr())))
        return failure();
      operands.insert(operands.begin() + at, value);
      ++at;
    }
    sources[id] = {false, it->second};
  }
  ret->setOperands(operands);
  return sources;
}

} // namespace

LogicalResult loom::calibrateActivations(ModuleOp module,
                                         const CalibrationOptions &options,
                                         CompileToLibrary compile) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return emitError(module.getLoc(), "the module has no func.func @main");
  // The calibration points: weight matmuls in @main's body whose input is
  // defined there too (inside loops their inputs are not results).
  SmallVector<linalg::GenericOp> points;
  main.walk([&](linalg::GenericOp op) {
    std::optional<WeightMatmul> mm = matchWeightMatmul(op);
    if (!mm || op->getParentOp() != main)
      return;
    op->setAttr(kPointAttr,
                IntegerAttr::get(IntegerType::get(module.getContext(), 64),
                                 points.size()));
    points.push_back(op);
  });
  auto cleanup = llvm::scope_exit([&] {
    for (linalg::GenericOp op : points)
      op->removeAttr(kPointAttr);
  });
  if (points.empty())
    return success();
  FailureOr<std::vector<std::string>> sets = sampleSets(module, options.dir);
  if (failed(sets))
    return failure();

  OwningOpRef<ModuleOp> clone = module.clone();
  FailureOr<std::vector<Source>> sources = exposeInputs(*clone, points.size());
  if (failed(sources))
    return failure();
  llvm::SmallString<128> library;
  if (llvm::sys::fs::createTemporaryFile("loom-calibration", "so", library))
    return emitError(module.getLoc(), "cannot create a temporary file for the "
                                      "calibration model");
  auto removeLibrary =
      llvm::scope_exit([&] { llvm::sys::fs::remove(library); });
  if (failed(compile(*clone, library)))
    return failure();

  loomrt_model *model = nullptr;
  auto fail = [&](loomrt_status status, const llvm::Twine &where) {
    emitError(module.getLoc()) << "calibration: " << where << ": "
                               << loomrt_status_get_message(status);
    loomrt_status_free(status);
    return failure();
  };
  if (loomrt_status s = loomrt_model_load(library.c_str(), &model))
    return fail(s, "cannot load the calibration model");
  auto destroyModel = llvm::scope_exit([&] { loomrt_model_destroy(model); });
  size_t numInputs = loomrt_model_num_inputs(model);
  size_t numOutputs = loomrt_model_num_outputs(model);
  std::vector<Observed> observed(points.size());
  size_t budget = kMaxSamples / sets->size();
  for (const std::string &set : *sets) {
    std::vector<loomrt_tensor *> inputs(numInputs, nullptr);
    std::vector<loomrt_tensor *> outputs(numOutputs, nullptr);
    if (loomrt_status s = loomrt_read_inputs(model, set.c_str(), inputs.data()))
      return fail(s, "sample set '" + set + "'");
    loomrt_status s = loomrt_model_run(model, inputs.data(), numInputs,
                                       outputs.data(), numOutputs);
    if (!s)
      for (auto [id, source] : llvm::enumerate(*sources))
        observe(source.isInput ? inputs[source.index] : outputs[source.index],
                budget, options.grams, observed[id]);
    loomrt_tensors_destroy(inputs.data(), numInputs);
    loomrt_tensors_destroy(outputs.data(), numOutputs);
    if (s)
      return fail(s, "running sample set '" + set + "'");
  }
  Builder b(module.getContext());
  for (auto [op, obs] : llvm::zip(points, observed)) {
    auto [lo, hi] = chooseRange(obs, options.method);
    op->setAttr(kCalibratedRangeAttr, b.getDenseF32ArrayAttr({lo, hi}));
    if (!options.grams || !obs.rows)
      continue;
    // The mean outer product, both triangles.
    int64_t k = obs.k;
    std::vector<float> gram(k * k);
    for (int64_t p = 0; p < k; ++p)
      for (int64_t q = p; q < k; ++q)
        gram[p * k + q] = gram[q * k + p] =
            static_cast<float>(obs.gram[p * k + q] / obs.rows);
    op->setAttr(
        kCalibrationGramAttr,
        DenseResourceElementsAttr::get(
            RankedTensorType::get({k, k}, b.getF32Type()), "calibration_gram",
            HeapAsmResourceBlob::allocateAndCopyInferAlign<float>(gram)));
  }
  return success();
}
