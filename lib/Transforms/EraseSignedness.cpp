//===- EraseSignedness.cpp - Make every integer type signless -------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace loom {
#define GEN_PASS_DEF_ERASESIGNEDNESSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-erase-signedness"

using namespace mlir;

/// Returns `type` with signed/unsigned integers (also as tensor or memref
/// elements) replaced by signless ones.
static Type eraseSignedness(Type type) {
  if (auto i = dyn_cast<IntegerType>(type); i && !i.isSignless())
    return IntegerType::get(type.getContext(), i.getWidth());
  if (auto shaped = dyn_cast<ShapedType>(type)) {
    Type elem = eraseSignedness(shaped.getElementType());
    if (elem != shaped.getElementType())
      return shaped.clone(elem);
  }
  return type;
}

namespace {
/// Rewrites all types in place and drops bitcasts that became no-ops.
struct EraseSignednessPass final
    : public loom::impl::EraseSignednessPassBase<EraseSignednessPass> {
  using Base::Base;

  void runOnOperation() override {
    getOperation()->walk([](Operation *op) {
      for (Value result : op->getResults())
        result.setType(eraseSignedness(result.getType()));
      for (Region &region : op->getRegions())
        for (Block &block : region)
          for (BlockArgument arg : block.getArguments())
            arg.setType(eraseSignedness(arg.getType()));
      if (auto func = dyn_cast<func::FuncOp>(op)) {
        FunctionType type = func.getFunctionType();
        SmallVector<Type> inputs, results;
        for (Type t : type.getInputs())
          inputs.push_back(eraseSignedness(t));
        for (Type t : type.getResults())
          results.push_back(eraseSignedness(t));
        func.setFunctionType(
            FunctionType::get(op->getContext(), inputs, results));
      }
    });
    // Constants' values follow their results' types (same bits).
    getOperation()->walk([](arith::ConstantOp cst) {
      auto type = dyn_cast<ShapedType>(cst.getType());
      Attribute value = cst.getValue();
      if (!type || cast<TypedAttr>(value).getType() == type)
        return;
      if (auto dense = dyn_cast<DenseElementsAttr>(value))
        cst.setValueAttr(dense.bitcast(type.getElementType()));
      else if (auto resource = dyn_cast<DenseResourceElementsAttr>(value))
        cst.setValueAttr(
            DenseResourceElementsAttr::get(type, resource.getRawHandle()));
    });
    getOperation()->walk([](tensor::BitcastOp cast) {
      if (cast.getSource().getType() == cast.getType()) {
        cast.replaceAllUsesWith(cast.getSource());
        cast.erase();
      }
    });
  }
};
} // namespace
