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

#include "FuzzContext.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  MLIRContext &context = loom::fuzzContext();
  ScopedDiagnosticHandler quiet(&context, [](Diagnostic &) { return success(); });
  // The parser reads a NUL-terminated buffer (as loom-opt's and loomc's
  // files are); libFuzzer's data is not. parseSourceString verifies the
  // module it parsed.
  std::string text(reinterpret_cast<const char *>(data), size);
  (void)parseSourceString<ModuleOp>(text, ParserConfig(&context));
  return 0;
}
