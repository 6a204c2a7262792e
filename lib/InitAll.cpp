//===- InitAll.cpp - Register every Loom dialect and pass -----------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/InitAll.h"

#include "loom/Conversion/Passes.h"
#include "loom/Dialect/Loom/IR/LoomDialect.h"
#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "loom/Pipelines/Pipelines.h"
#include "loom/Transforms/Passes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void loom::registerAllDialects(mlir::DialectRegistry &registry) {
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  registry.insert<loom::LoomDialect, loom::onnxir::OnnxDialect>();
}

void loom::registerAllPasses() {
  mlir::registerAllPasses();
  loom::registerLoomConversionPasses();
  loom::registerLoomTransformsPasses();
  loom::registerPipelines();
}
