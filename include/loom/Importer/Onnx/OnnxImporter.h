//===- OnnxImporter.h - ONNX model importer (stage 1) -----------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Stage 1 of the ONNX importer: total and structural. Every node becomes an
// `onnx.node` holder op; graph inputs and outputs become the signature of
// `func.func @main`; initializers become constants (large ones as
// `dense_resource` blobs). No ONNX or protobuf type appears in this header.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_IMPORTER_ONNX_ONNXIMPORTER_H
#define LOOM_IMPORTER_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>

namespace loom {

/// Options of the ONNX importer.
struct OnnxImportOptions {
  /// Run the ONNX checker on the model before importing it.
  bool runChecker = true;
  /// Run ONNX shape inference (with data propagation) to type intermediate
  /// values.
  bool runShapeInference = true;
  /// Initializers and tensor attributes with at most this many elements are
  /// inlined as `dense<...>`; larger ones become `dense_resource` blobs.
  int64_t inlineElementLimit = 64;
};

/// Imports the ONNX model file at `path`. External data files are resolved
/// relative to the model's directory. Errors and warnings are reported to the
/// context's diagnostic engine at a location naming the file (and the node,
/// where there is one); returns null on error.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxFile(mlir::MLIRContext *context, llvm::StringRef path,
               const OnnxImportOptions &options = {});

/// Imports an ONNX model from serialized bytes. `bufferName` names the model
/// in diagnostics; `baseDir` resolves external data files.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxBuffer(mlir::MLIRContext *context, llvm::StringRef bytes,
                 llvm::StringRef bufferName, llvm::StringRef baseDir,
                 const OnnxImportOptions &options = {});

} // namespace loom

#endif // LOOM_IMPORTER_ONNX_ONNXIMPORTER_H
