//===- CPUTarget.h - LLVM IR, objects and linking for x86-64 ----*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The last steps of CPU compilation: the LLVM dialect becomes LLVM IR with the
// loomrt entry points (`loom_entry`, `loom_signature`), LLVM optimizes it for
// the target CPU, the TargetMachine writes an object, and clang-22 (driving
// lld) links it into a shared library or an executable.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TARGET_CPU_CPUTARGET_H
#define LOOM_TARGET_CPU_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <memory>
#include <string>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace loom {

/// Options of CPU code generation.
struct CPUTargetOptions {
  /// LLVM optimization level, 0-3.
  unsigned optLevel = 3;
  /// Target CPU: "native" (the host, with its features) or an LLVM CPU name.
  std::string cpu = "native";
};

/// Describes the inputs and outputs of `func.func @main` (tensor level, with
/// the importer's `onnx.name`/`onnx.dim_params`) in the text format loomrt
/// parses (docs/Runtime.md). Fails on element types loomrt does not know.
mlir::FailureOr<std::string> buildModelSignature(mlir::ModuleOp module);

/// Appends a "check <k> <message>" line to `signature` for each run-time
/// check the legalization recorded (`loom.runtime_checks`): the model then
/// returns a trailing `tensor<i32>` status after its outputs.
void appendRuntimeChecks(std::string &signature, mlir::ModuleOp module);

/// Translates an LLVM-dialect module to LLVM IR and adds the ABI symbols:
/// `void loom_entry(void **args)` calling `_mlir_ciface_loom_main` with
/// `args[0]` (results) and `args[1..n]` (input descriptors), and the
/// NUL-terminated string `loom_signature`.
std::unique_ptr<llvm::Module> translateToLLVMIR(mlir::ModuleOp module,
                                                llvm::LLVMContext &context,
                                                llvm::StringRef signature);

/// Optimizes `module` for the target and writes an object file (or assembly
/// when `assembly`) to `path`. Errors go to the module's diagnostics via
/// `errorMessage`.
mlir::LogicalResult emitObject(llvm::Module &module,
                               const CPUTargetOptions &options,
                               llvm::StringRef path, bool assembly,
                               std::string &errorMessage);

/// Links `objectPath` into a shared library at `outputPath` with loomrt's
/// microkernels (libloomrt_kernels.a, or libloomrt_kernels_serial.a without
/// `openmp`) from `runtimeLibDir`, and libomp when `openmp`; with `cuda` (a
/// GPU model), with loomrt's CUDA backend (libloomrt_cuda.a) instead.
mlir::LogicalResult linkSharedLibrary(llvm::StringRef objectPath,
                                      llvm::StringRef runtimeLibDir,
                                      llvm::StringRef outputPath, bool openmp,
                                      std::string &errorMessage,
                                      bool cuda = false);

/// Links `objectPath` (GPU kernels compiled for the host, which call
/// loomsim's functions: docs/GPU.md) into a shared object at `outputPath`
/// whose undefined symbols the simulator provides when it loads it.
mlir::LogicalResult linkKernelImage(llvm::StringRef objectPath,
                                    llvm::StringRef outputPath,
                                    std::string &errorMessage);

/// Links `objectPath` with loomrt's standalone main and microkernels into an
/// executable. `runtimeLibDir` holds libloomrt_main.a, libloomrt.a and the
/// microkernel libraries (or, with `cuda`, libloomrt_cuda.a).
mlir::LogicalResult linkExecutable(llvm::StringRef objectPath,
                                   llvm::StringRef runtimeLibDir,
                                   llvm::StringRef outputPath, bool openmp,
                                   std::string &errorMessage,
                                   bool cuda = false);

} // namespace loom

#endif // LOOM_TARGET_CPU_CPUTARGET_H
