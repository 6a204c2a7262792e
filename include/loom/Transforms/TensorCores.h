//===- TensorCores.h - Building blocks of tensor-core kernels ---*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// What the hand-built tensor-core kernels (loom-gpu-contractions,
// loom-gpu-attention) share: mma.sync m16n8k16 on fp16/bf16 pairs with fp32
// accumulators, ldmatrix.x4 fragment loads from shared memory, 16-byte
// cp.async copies, and buffer addresses as i64.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TRANSFORMS_TENSORCORES_H
#define LOOM_TRANSFORMS_TENSORCORES_H

#include "mlir/IR/Builders.h"

namespace loom {

/// The multiplicand type a precision option names: f16 for "fp16", bf16 for
/// "bf16", null otherwise.
mlir::Type lowPrecisionType(mlir::MLIRContext *context,
                            llvm::StringRef precision);

/// The bits of fp16 nearest to `x` (ties to even, overflow to infinity,
/// NaN quiet): arith.truncf's rounding, for constants packed at compile
/// time.
uint16_t roundToHalf(float x);

/// The bits of bf16 nearest to `x` (ties to even, NaN quiet).
uint16_t roundToBFloat16(float x);

/// The aligned base address of memref `buffer`, as i64 (bytes).
mlir::Value bufferAddress(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value buffer);

/// `acc += a * b` on one m16n8k16 tile: `a` the 4 A fragment registers, `b`
/// the 2 B registers (row-major A, column-major B, pairs of `lowType`,
/// fp16 as vector<2xf16> and bf16 as i32), `acc` the 4 fp32 accumulators,
/// which are replaced by the results.
void mmaM16N8K16(mlir::OpBuilder &b, mlir::Location loc, mlir::Type lowType,
                 mlir::ValueRange a, mlir::ValueRange bFrag,
                 llvm::MutableArrayRef<mlir::Value> acc);

/// ldmatrix.x4 (`transposed`: .trans) of 16-bit elements: each lane points at
/// element `element` (index, in elements from the start) of the
/// shared-memory memref `tile`, the start of a row of matrix lane / 8. Returns
/// the 4 registers as mma.sync takes pairs of `lowType`.
llvm::SmallVector<mlir::Value>
loadMatricesX4(mlir::OpBuilder &b, mlir::Location loc, mlir::Value tile,
               mlir::Value element, bool transposed, mlir::Type lowType);

/// cp.async.cg of 16 bytes from global byte address `src` to shared byte
/// address `dst` (both i64).
void copyAsync16(mlir::OpBuilder &b, mlir::Location loc, mlir::Value dst,
                 mlir::Value src);

} // namespace loom

#endif // LOOM_TRANSFORMS_TENSORCORES_H
