//===- FuzzLoomIR.cpp - libFuzzer target: textual IR -> parser + verifier -===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Parses arbitrary text as MLIR with the loom and onnx dialects (and the
// upstream ones loom IR uses) and verifies it: the loom ops' parsers,
// verifiers and type inference must reject bad IR without crashing.
//
//===----------------------------------------------------------------------===//

#include "loom/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cstddef>
#include <cstdint>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  DialectRegistry registry;
  loom::registerAllDialects(registry);
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  ScopedDiagnosticHandler quiet(&context, [](Diagnostic &) { return success(); });
  // parseSourceString verifies the module it parsed.
  (void)parseSourceString<ModuleOp>(
      StringRef(reinterpret_cast<const char *>(data), size),
      ParserConfig(&context));
  return 0;
}
