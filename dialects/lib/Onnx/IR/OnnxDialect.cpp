//===- OnnxDialect.cpp - ONNX holder dialect ------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace loom::onnxir;

#include "loom/Dialect/Onnx/IR/OnnxOpsDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "loom/Dialect/Onnx/IR/OnnxOpsTypes.cpp.inc"

void OnnxDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "loom/Dialect/Onnx/IR/OnnxOpsTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "loom/Dialect/Onnx/IR/OnnxOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// NodeOp
//===----------------------------------------------------------------------===//

LogicalResult NodeOp::verify() {
  if (getOpType().empty())
    return emitOpError("op_type must not be empty");
  if (getOpset() < 1)
    return emitOpError("opset must be positive");
  size_t numNames = getSubgraphs() ? getSubgraphs()->size() : 0;
  if (numNames != getBodies().size())
    return emitOpError() << "has " << getBodies().size()
                         << " subgraph regions but names " << numNames;
  return success();
}

LogicalResult NodeOp::verifyRegions() {
  for (Region &body : getBodies()) {
    if (!body.hasOneBlock())
      return emitOpError("subgraph regions must have exactly one block");
    Block &block = body.front();
    if (block.empty() || !isa<YieldOp>(block.back()))
      return emitOpError("subgraph regions must end in onnx.yield");
  }
  return success();
}

#define GET_OP_CLASSES
#include "loom/Dialect/Onnx/IR/OnnxOps.cpp.inc"
