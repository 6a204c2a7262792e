//===- FuseGemmNorms.cpp - A norm of a product's rows into its call -------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom-fuse-gemm-norms runs on bufferized code after
// loom-lower-to-microkernels. A loomrt_norm_f32 call (loom-norm-calls: a
// layer or RMS norm over the last axis) whose input is the buffer that the
// product call right before it writes, with only effect-free ops and
// allocations in between, becomes one loomrt_sgemm_norm_f32 call with both
// calls' arguments: the runtime normalizes each block of the product's rows
// as soon as it is complete, while it is in cache, instead of in a second
// pass over the whole result (a transformer's residual add and the layer
// norm after it).
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace loom {
#define GEN_PASS_DEF_FUSEGEMMNORMSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

using namespace mlir;

namespace {

/// The calls (runtime/include/loomrt/kernels.h) and their argument counts.
constexpr StringLiteral kSgemm = "loomrt_sgemm_f32";
constexpr StringLiteral kSgemmEpilogue = "loomrt_sgemm_epilogue_f32";
constexpr StringLiteral kNorm = "loomrt_norm_f32";
constexpr StringLiteral kSgemmNorm = "loomrt_sgemm_norm_f32";
constexpr unsigned kNumSgemmArgs = 17, kNumEpilogueArgs = 26, kNumNormArgs = 8;
/// Operand positions: the product's C, the norm's input.
constexpr unsigned kSgemmC = 12, kNormInput = 2;

/// The buffer whose start address `address` (an i64 call operand) is: an
/// index_cast of memref.extract_aligned_pointer_as_index of a memref with a
/// static zero offset, followed up through views to the allocation they
/// view. Null for anything else.
static Value bufferAt(Value address) {
  if (auto cast = address.getDefiningOp<arith::IndexCastOp>())
    address = cast.getIn();
  auto pointer =
      address.getDefiningOp<memref::ExtractAlignedPointerAsIndexOp>();
  if (!pointer)
    return Value();
  Value buffer = pointer.getSource();
  auto type = dyn_cast<MemRefType>(buffer.getType());
  int64_t offset;
  SmallVector<int64_t> strides;
  if (!type || failed(type.getStridesAndOffset(strides, offset)) || offset != 0)
    return Value();
  while (auto view = buffer.getDefiningOp<ViewLikeOpInterface>())
    buffer = view.getViewSource();
  return buffer;
}

/// Whether `op` may move after the product call: no memory effect but
/// allocating its own results.
static bool commutesWithCalls(Operation *op) {
  if (isMemoryEffectFree(op))
    return true;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return false;
  SmallVector<MemoryEffects::EffectInstance> list;
  effects.getEffects(list);
  return llvm::all_of(list, [](const MemoryEffects::EffectInstance &e) {
    return isa<MemoryEffects::Allocate>(e.getEffect());
  });
}

/// The product call `norm` fuses with, or null.
static func::CallOp productBefore(func::CallOp norm) {
  Operation *prev = norm->getPrevNode();
  while (prev && !isa<func::CallOp>(prev) && commutesWithCalls(prev))
    prev = prev->getPrevNode();
  auto gemm = dyn_cast_or_null<func::CallOp>(prev);
  if (!gemm)
    return nullptr;
  StringRef callee = gemm.getCallee();
  unsigned want = callee == kSgemm           ? kNumSgemmArgs
                  : callee == kSgemmEpilogue ? kNumEpilogueArgs
                                             : 0;
  if (!want || gemm.getNumOperands() != want)
    return nullptr;
  Value c = bufferAt(gemm.getOperand(kSgemmC));
  if (!c || c != bufferAt(norm.getOperand(kNormInput)))
    return nullptr;
  return gemm;
}

struct FuseGemmNormsPass final
    : loom::impl::FuseGemmNormsPassBase<FuseGemmNormsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<func::CallOp, func::CallOp>> pairs;
    module.walk([&](func::CallOp norm) {
      if (norm.getCallee() != kNorm || norm.getNumOperands() != kNumNormArgs)
        return;
      if (func::CallOp gemm = productBefore(norm))
        pairs.push_back({gemm, norm});
    });
    if (pairs.empty())
      return;
    OpBuilder b(module.getContext());
    func::FuncOp fused = module.lookupSymbol<func::FuncOp>(kSgemmNorm);
    if (!fused) {
      b.setInsertionPointToStart(module.getBody());
      SmallVector<Type> args(kNumEpilogueArgs + kNumNormArgs, b.getI64Type());
      fused = func::FuncOp::create(b, module.getLoc(), kSgemmNorm,
                                   b.getFunctionType(args, {}));
      fused.setPrivate();
    }
    for (auto [gemm, norm] : pairs) {
      b.setInsertionPoint(norm);
      Location loc = norm.getLoc();
      SmallVector<Value> args(gemm.getOperands());
      // A plain product: no bias, no residual (null addresses, zero
      // strides), no activation.
      if (args.size() == kNumSgemmArgs) {
        Value zero = arith::ConstantIntOp::create(b, loc, 0, 64);
        args.append(kNumEpilogueArgs - kNumSgemmArgs, zero);
      }
      // The norm's rows and columns, input (the product's C), output,
      // scale, bias, epsilon and kind.
      llvm::append_range(args, norm.getOperands());
      func::CallOp::create(b, gemm.getLoc(), fused, args);
      norm.erase();
      gemm.erase();
    }
  }
};

} // namespace
