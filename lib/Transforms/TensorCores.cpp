//===- TensorCores.cpp - Building blocks of tensor-core kernels -----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/TensorCores.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <cstring>

using namespace mlir;

uint16_t loom::roundToHalf(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  uint16_t sign = (bits >> 16) & 0x8000;
  uint32_t magnitude = bits & 0x7FFFFFFF;
  if (magnitude >= 0x7F800000) // Infinity, or NaN (kept quiet).
    return sign | (magnitude > 0x7F800000 ? 0x7E00 : 0x7C00);
  if (magnitude >= 0x477FF000) // 65520 and above round to infinity.
    return sign | 0x7C00;
  // Rounds `value` >> `shift` to nearest, ties to even.
  auto roundShift = [](uint32_t value, unsigned shift) -> uint32_t {
    uint32_t q = value >> shift, rest = value & ((1u << shift) - 1),
             half = 1u << (shift - 1);
    return q + (rest > half || (rest == half && (q & 1)));
  };
  if (magnitude >= 0x38800000) // Normal: rebias the exponent (127 -> 15).
    return sign | roundShift(magnitude - 0x38000000, 13);
  if (magnitude < 0x33000000) // At most 2^-25: rounds to zero.
    return sign;
  // Subnormal: the significand (with its implicit bit) in units of 2^-24.
  uint32_t exponent = magnitude >> 23;
  uint32_t significand = (magnitude & 0x7FFFFF) | 0x800000;
  return sign | roundShift(significand, 126 - exponent);
}

uint16_t loom::roundToBFloat16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  if ((bits & 0x7FFFFFFF) > 0x7F800000)
    return ((bits >> 16) & 0x8000) | 0x7FC0;
  bits += 0x7FFF + ((bits >> 16) & 1);
  return bits >> 16;
}

Type loom::lowPrecisionType(MLIRContext *context, StringRef precision) {
  if (precision == "fp16")
    return Float16Type::get(context);
  if (precision == "bf16")
    return BFloat16Type::get(context);
  return Type();
}

Value loom::bufferAddress(OpBuilder &b, Location loc, Value buffer) {
  return arith::IndexCastOp::create(
      b, loc, b.getI64Type(),
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer));
}

void loom::mmaM16N8K16(OpBuilder &b, Location loc, Type lowType, ValueRange a,
                       ValueRange bFrag, MutableArrayRef<Value> acc) {
  Type f32 = b.getF32Type();
  auto resultType =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  auto ptxType = lowType.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  auto op = NVVM::MmaOp::create(
      b, loc, resultType, a, bFrag, ValueRange(ArrayRef<Value>(acc)),
      std::array<int64_t, 3>{16, 8, 16},
      /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
      std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  for (int64_t j = 0; j < 4; ++j)
    acc[j] = LLVM::ExtractValueOp::create(b, loc, op, ArrayRef<int64_t>{j});
}

SmallVector<Value> loom::loadMatricesX4(OpBuilder &b, Location loc, Value tile,
                                        Value element, bool transposed,
                                        Type lowType) {
  auto sharedPtr = LLVM::LLVMPointerType::get(b.getContext(), 3);
  Value offset = arith::IndexCastOp::create(b, loc, b.getI64Type(), element);
  Value address = arith::AddIOp::create(
      b, loc, bufferAddress(b, loc, tile),
      arith::ShLIOp::create(b, loc, offset,
                            arith::ConstantIntOp::create(b, loc, 1, 64)));
  Type i32 = b.getI32Type();
  auto resultType =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {i32, i32, i32, i32});
  auto op = NVVM::LdMatrixOp::create(
      b, loc, resultType, LLVM::IntToPtrOp::create(b, loc, sharedPtr, address),
      b.getI32IntegerAttr(4),
      NVVM::MMALayoutAttr::get(b.getContext(), transposed
                                                   ? NVVM::MMALayout::col
                                                   : NVVM::MMALayout::row),
      NVVM::LdStMatrixShapeAttr::get(b.getContext(), 8, 8),
      NVVM::LdStMatrixEltTypeAttr::get(b.getContext(),
                                       NVVM::LdStMatrixEltType::B16));
  SmallVector<Value> regs;
  for (int64_t j = 0; j < 4; ++j) {
    Value reg = LLVM::ExtractValueOp::create(b, loc, op, ArrayRef<int64_t>{j});
    // NVVM takes fp16 pairs as vector<2xf16>, bf16 pairs as i32.
    if (lowType.isF16())
      reg = LLVM::BitcastOp::create(b, loc,
                                    VectorType::get({2}, b.getF16Type()), reg);
    regs.push_back(reg);
  }
  return regs;
}

void loom::copyAsync16(OpBuilder &b, Location loc, Value dst, Value src) {
  auto global = LLVM::LLVMPointerType::get(b.getContext(), 1);
  auto shared = LLVM::LLVMPointerType::get(b.getContext(), 3);
  NVVM::CpAsyncOp::create(b, loc, LLVM::IntToPtrOp::create(b, loc, shared, dst),
                          LLVM::IntToPtrOp::create(b, loc, global, src),
                          b.getI32IntegerAttr(16),
                          NVVM::LoadCacheModifierKindAttr::get(
                              b.getContext(), NVVM::LoadCacheModifierKind::CG),
                          /*cpSize=*/Value());
}
