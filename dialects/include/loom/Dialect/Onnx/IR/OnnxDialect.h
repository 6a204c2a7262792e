//===- OnnxDialect.h - ONNX holder dialect ----------------------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_DIALECT_ONNX_IR_ONNXDIALECT_H
#define LOOM_DIALECT_ONNX_IR_ONNXDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "loom/Dialect/Onnx/IR/OnnxOpsDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "loom/Dialect/Onnx/IR/OnnxOpsTypes.h.inc"

#define GET_OP_CLASSES
#include "loom/Dialect/Onnx/IR/OnnxOps.h.inc"

#endif // LOOM_DIALECT_ONNX_IR_ONNXDIALECT_H
