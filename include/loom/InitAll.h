//===- InitAll.h - Register every Loom dialect and pass ---------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_INITALL_H
#define LOOM_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace loom {

/// Adds the Loom dialects and the upstream dialects, extensions and
/// interfaces that Loom's pipelines use to `registry`.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers every Loom pass and pipeline with the global pass registry.
void registerAllPasses();

} // namespace loom

#endif // LOOM_INITALL_H
