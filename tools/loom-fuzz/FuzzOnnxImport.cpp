//===- FuzzOnnxImport.cpp - libFuzzer target: ONNX bytes -> loom IR -------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to the importer (stage 1: parsing, validation,
// checker, shape inference) and, when that succeeds, to the legalization of
// every node (stage 2) and the verifier. Any outcome but a crash, a
// sanitizer report or a hang is fine: errors are expected.
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"
#include "loom/Importer/Onnx/OnnxImporter.h"
#include "FuzzContext.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstddef>
#include <cstdint>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  MLIRContext &context = loom::fuzzContext();
  // Diagnostics are the expected outcome; drop them.
  ScopedDiagnosticHandler quiet(&context, [](Diagnostic &) { return success(); });
  loom::OnnxImportOptions options;
  OwningOpRef<ModuleOp> module = loom::importOnnxBuffer(
      &context, StringRef(reinterpret_cast<const char *>(data), size),
      "fuzz.onnx", "/nonexistent-loom-fuzz-dir", options);
  if (!module)
    return 0;
  if (failed(verify(*module)))
    return 0;
  loom::OnnxHandlerRegistry handlers;
  loom::populateAllOnnxHandlers(handlers);
  if (succeeded(loom::legalizeOnnx(module->getOperation(), handlers)))
    (void)verify(*module);
  return 0;
}
