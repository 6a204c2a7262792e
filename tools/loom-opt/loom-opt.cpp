//===- loom-opt.cpp - Loom optimizer driver -------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// mlir-opt for Loom: every Loom dialect and pass plus the upstream ones.
//
//===----------------------------------------------------------------------===//

#include "loom/InitAll.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  loom::registerAllPasses();
  mlir::DialectRegistry registry;
  loom::registerAllDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Loom optimizer driver\n", registry));
}
