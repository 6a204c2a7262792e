//===- FuzzContext.h - The MLIR context of a fuzz campaign ------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TOOLS_LOOM_FUZZ_FUZZCONTEXT_H
#define LOOM_TOOLS_LOOM_FUZZ_FUZZCONTEXT_H

#include "loom/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

namespace loom {

/// One context with every Loom dialect loaded, for the whole campaign
/// (loading the dialects per input would dominate the run time); each input's
/// IR is destroyed after it runs.
inline mlir::MLIRContext &fuzzContext() {
  static mlir::MLIRContext *context = [] {
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    auto *c = new mlir::MLIRContext(registry,
                                    mlir::MLIRContext::Threading::DISABLED);
    c->loadAllAvailableDialects();
    return c;
  }();
  return *context;
}

} // namespace loom

#endif // LOOM_TOOLS_LOOM_FUZZ_FUZZCONTEXT_H
