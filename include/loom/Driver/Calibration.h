//===- Calibration.h - Activation ranges from sample inputs ----*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Static W8A8 quantization needs the range of every quantized matrix
// multiply's input. `loomc --calibration DIR` finds them by running the fp32
// model: the module (legalized loom IR) is cloned, the inputs of its
// matrix multiplies by constant weights become extra results of @main, the
// clone is compiled to a temporary shared library, loaded with loomrt and
// run on every sample input set; the observed values give each layer a
// range (min-max, percentiles, or the least-squared-error clipping), set
// as `loom.calibrated_range` for loom-quantize-weights, and optionally the
// mean outer product of its input rows (`loom.calibration_gram`), from which
// loom-quantize-weights's GPTQ rounding minimizes the layer's output error.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_DRIVER_CALIBRATION_H
#define LOOM_DRIVER_CALIBRATION_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <string>

namespace loom {

/// What `loomc --calibration` was given.
struct CalibrationOptions {
  /// A folder holding input_<i>.pb/.npy, or subfolders that do (one sample
  /// set each, in name order).
  std::string dir;
  /// "minmax", "percentile" or "mse".
  std::string method = "minmax";
  /// Also record each layer's E[x x^T] (loom.calibration_gram) for GPTQ
  /// rounding.
  bool grams = false;
};

/// Compiles a module (legalized loom IR with a tensor-level @main) into a
/// shared library at the given path; emits its own errors.
using CompileToLibrary =
    llvm::function_ref<mlir::LogicalResult(mlir::ModuleOp, llvm::StringRef)>;

/// Sets `loom.calibrated_range` on every matrix multiply by a constant fp32
/// weight in @main of `module` (outside nested regions) from the values its
/// input takes on the sample sets, compiling the instrumented clone with
/// `compile`. Errors (an unreadable folder, a failed run) name the sample
/// set and are emitted on the module.
mlir::LogicalResult calibrateActivations(mlir::ModuleOp module,
                                         const CalibrationOptions &options,
                                         CompileToLibrary compile);

} // namespace loom

#endif // LOOM_DRIVER_CALIBRATION_H
