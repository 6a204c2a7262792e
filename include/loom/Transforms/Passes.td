//===- Passes.td - Loom cross-dialect transformations ------*- tablegen -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TRANSFORMS_PASSES_TD
#define LOOM_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def PrepareABIPass : Pass<"loom-prepare-abi", "mlir::ModuleOp"> {
  let summary = "Prepare the model entry point for the loomrt C ABI";
  let description = [{
    Runs on bufferized IR. Renames `@main` to `@loom_main` (so that it cannot
    clash with the C `main` of standalone executables), marks public
    functions with
    `llvm.emit_c_interface`, drops their argument and result attributes
    (the importer's `onnx.*` names live in the ABI signature), and makes
    every buffer a public function returns
    a fresh `memref.alloc` (copying when the returned buffer aliases an
    argument, a global or another result), so that the runtime owns each
    output and frees it with `free()`. Run before
    `buffer-deallocation-pipeline`, which then frees the originals.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

#endif // LOOM_TRANSFORMS_PASSES_TD
