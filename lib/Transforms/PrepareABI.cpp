//===- PrepareABI.cpp - Prepare the entry point for the C ABI -------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace loom {
#define GEN_PASS_DEF_PREPAREABIPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-prepare-abi"

using namespace mlir;

/// Returns a fresh allocation holding a copy of `buffer`.
static Value copyToFreshBuffer(OpBuilder &b, Location loc, Value buffer) {
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

namespace {
/// Marks public functions for the C interface and gives every returned
/// buffer its own allocation.
struct PrepareABIPass final
    : public loom::impl::PrepareABIPassBase<PrepareABIPass> {
  using Base::Base;

  void runOnOperation() override {
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
          operand.set(copyToFreshBuffer(b, ret.getLoc(), value));
        }
      });
    }
  }
};
} // namespace
