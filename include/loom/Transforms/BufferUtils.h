//===- BufferUtils.h - Helpers on bufferized IR -----------------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TRANSFORMS_BUFFERUTILS_H
#define LOOM_TRANSFORMS_BUFFERUTILS_H

#include "mlir/IR/Builders.h"

namespace loom {

/// Allocates a 64-byte aligned buffer like `buffer` (identity layout, the
/// same dynamic sizes) at the builder's insertion point, copies `buffer`
/// into it and returns it.
mlir::Value copyToFreshBuffer(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value buffer);

} // namespace loom

#endif // LOOM_TRANSFORMS_BUFFERUTILS_H
