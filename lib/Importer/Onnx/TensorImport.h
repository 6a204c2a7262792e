//===- TensorImport.h - ONNX types and tensors to MLIR ----------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Private to the importer: converts ONNX TypeProto and TensorProto to MLIR
// types and attributes. Includes ONNX headers, so it must stay out of
// include/.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_LIB_IMPORTER_ONNX_TENSORIMPORT_H
#define LOOM_LIB_IMPORTER_ONNX_TENSORIMPORT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringRef.h"

#include "onnx/onnx_pb.h"

#include <string>

namespace loom {
namespace detail {

/// Returns the MLIR element type of an ONNX `TensorProto.DataType`, or null
/// for UNDEFINED and unknown codes.
mlir::Type convertElementType(mlir::MLIRContext *ctx, int32_t dataType);

/// Returns the MLIR type of an ONNX type. Tensors with a shape become ranked
/// tensors (dim_param and unknown dims are dynamic); tensors without one are
/// unranked. Sequences, optionals and maps use the onnx dialect's types. An
/// empty TypeProto gives `!onnx.unknown`. Returns null (with `error` set) on an
/// unknown element type or a negative dimension.
mlir::Type convertType(mlir::MLIRContext *ctx, const onnx::TypeProto &type,
                       std::string &error);

/// Converts a TensorProto whose data is inline (raw or typed fields) to an
/// elements attribute: `dense<...>` when it has at most `inlineLimit` elements
/// (or is bool/string), a `dense_resource` blob otherwise. Returns null (with
/// `error` set) when the data does not match the shape or the element type is
/// unknown.
mlir::ElementsAttr convertTensor(mlir::MLIRContext *ctx,
                                 const onnx::TensorProto &tensor,
                                 int64_t inlineLimit, std::string &error);

/// Checks that `tensor` has a known element type, non-negative dims and data
/// whose size matches its shape, without converting it. Returns false (with
/// `error` set) otherwise.
bool validateTensor(mlir::MLIRContext *ctx, const onnx::TensorProto &tensor,
                    std::string &error);

/// Replaces external data of `tensor` by inline raw data read from the file
/// that its `location` names, relative to `baseDir`. Returns false (with
/// `error` set) when the file cannot be read or the range is out of bounds.
bool loadExternalData(onnx::TensorProto &tensor, llvm::StringRef baseDir,
                      std::string &error);

} // namespace detail
} // namespace loom

#endif // LOOM_LIB_IMPORTER_ONNX_TENSORIMPORT_H
