//===- PrepareABI.cpp - Prepare the entry point for the C ABI -------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Transforms/BufferUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace loom {
#define GEN_PASS_DEF_PREPAREABIPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-prepare-abi"

using namespace mlir;

Value loom::copyToFreshBuffer(OpBuilder &b, Location loc, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<Value> dynSizes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      dynSizes.push_back(memref::DimOp::create(b, loc, buffer, i));
  auto allocType = MemRefType::get(type.getShape(), type.getElementType());
  Value alloc = memref::AllocOp::create(b, loc, allocType, dynSizes,
                                        b.getI64IntegerAttr(64));
  memref::CopyOp::create(b, loc, buffer, alloc);
  return alloc;
}

/// Declares the allocation function memref-to-LLVM calls for aligned
/// allocations with a `noalias` result, as C's malloc is: a fresh buffer
/// aliases nothing else, which lets LLVM keep a reduction's accumulator in a
/// register and vectorize loops over several buffers without run-time checks.
/// The conversion finds and uses this declaration.
static void declareAllocator(ModuleOp module) {
  StringRef name = "_mlir_memref_to_llvm_aligned_alloc";
  if (module.lookupSymbol(name))
    return;
  MLIRContext *ctx = module.getContext();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  auto fn = LLVM::LLVMFuncOp::create(
      b, module.getLoc(), name, LLVM::LLVMFunctionType::get(ptr, {i64, i64}));
  fn.setResultAttr(0, LLVM::LLVMDialect::getNoAliasAttrName(),
                   UnitAttr::get(ctx));
}

namespace {
/// Marks public functions for the C interface and gives every returned
/// buffer its own allocation.
struct PrepareABIPass final
    : public loom::impl::PrepareABIPassBase<PrepareABIPass> {
  using Base::Base;

  void runOnOperation() override {
    declareAllocator(getOperation());
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isPrivate() || func.isExternal())
        continue;
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(&getContext()));
      // `main` would clash with the C main of standalone executables.
      if (func.getSymName() == "main")
        func.setSymName("loom_main");
      // The importer's argument/result attributes (onnx.name, ...) are in
      // the ABI signature already; LLVM translation would not know them.
      func.removeArgAttrsAttr();
      func.removeResAttrsAttr();
      func.walk([&](func::ReturnOp ret) {
        OpBuilder b(ret);
        llvm::SmallPtrSet<Value, 4> seen;
        for (OpOperand &operand : ret->getOpOperands()) {
          Value value = operand.get();
          if (!isa<MemRefType>(value.getType()))
            continue;
          // A fresh identity-layout allocation returned once is already
          // owned by the caller. Anything else (an argument, a global
          // constant, a view, a buffer returned twice) is copied.
          auto alloc = value.getDefiningOp<memref::AllocOp>();
          if (alloc && alloc.getType().getLayout().isIdentity() &&
              seen.insert(value).second)
            continue;
          operand.set(loom::copyToFreshBuffer(b, ret.getLoc(), value));
        }
      });
    }
  }
};
} // namespace
