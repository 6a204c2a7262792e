//===- KernelArith.h - Index arithmetic for hand-built kernels --*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The short index and i64 arithmetic the hand-built GPU kernels
// (loom-gpu-contractions, loom-gpu-attention) are written with: a builder
// and a location, and one-line constructors of arith ops.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TRANSFORMS_KERNELARITH_H
#define LOOM_TRANSFORMS_KERNELARITH_H

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace loom {

/// Builds arith ops at `b`'s insertion point with location `loc`.
struct KernelArith {
  KernelArith(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  /// Constants: index, i64, f32.
  mlir::Value index(int64_t v) {
    return mlir::arith::ConstantIndexOp::create(b, loc, v);
  }
  mlir::Value i64(int64_t v) {
    return mlir::arith::ConstantIntOp::create(b, loc, v, 64);
  }
  mlir::Value f32(double v) {
    return mlir::arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  /// Casts between index and i64.
  mlir::Value toI64(mlir::Value v) {
    return mlir::arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
  }
  mlir::Value toIndex(mlir::Value v) {
    return mlir::arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
  /// x + y, x * y, x / c and x % c (unsigned), x < y (unsigned).
  mlir::Value add(mlir::Value x, mlir::Value y) {
    return mlir::arith::AddIOp::create(b, loc, x, y);
  }
  mlir::Value add(mlir::Value x, int64_t c) { return c ? add(x, index(c)) : x; }
  mlir::Value mul(mlir::Value x, mlir::Value y) {
    return mlir::arith::MulIOp::create(b, loc, x, y);
  }
  mlir::Value mul(mlir::Value x, int64_t c) { return mul(x, index(c)); }
  mlir::Value div(mlir::Value x, int64_t c) {
    return mlir::arith::DivUIOp::create(b, loc, x, index(c));
  }
  mlir::Value rem(mlir::Value x, int64_t c) {
    return mlir::arith::RemUIOp::create(b, loc, x, index(c));
  }
  mlir::Value lessThan(mlir::Value x, mlir::Value y) {
    return mlir::arith::CmpIOp::create(b, loc, mlir::arith::CmpIPredicate::ult,
                                       x, y);
  }

  mlir::OpBuilder &b;
  mlir::Location loc;
};

} // namespace loom

#endif // LOOM_TRANSFORMS_KERNELARITH_H
