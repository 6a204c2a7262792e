//===- RaiseUtils.h - Matching helpers of the raising passes ----*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Small matchers over the imported `onnx.node` graph shared by the raising
// passes (loom-raise-attention, loom-raise-norms-and-gelu,
// loom-raise-scans).
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_LIB_CONVERSION_ONNXTOLOOM_RAISEUTILS_H
#define LOOM_LIB_CONVERSION_ONNXTOLOOM_RAISEUTILS_H

#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"

#include <string>

#include <array>
#include <optional>
#include <vector>

namespace loom::raise {

/// Returns the holder op of `v` when it is an ONNX-domain node of `type`.
inline onnxir::NodeOp nodeOf(mlir::Value v, llvm::StringRef type) {
  auto node = v ? v.getDefiningOp<onnxir::NodeOp>() : onnxir::NodeOp();
  if (!node || node.getOpType() != type ||
      !(node.getDomain().empty() || node.getDomain() == "ai.onnx"))
    return {};
  return node;
}

/// The elements attribute of a constant (arith.constant or ONNX Constant).
inline mlir::DenseElementsAttr constantOf(mlir::Value v) {
  mlir::Attribute attr;
  if (auto node = nodeOf(v, "Constant"))
    attr = node.getOnnxAttr("value");
  else if (!v || !mlir::matchPattern(v, mlir::m_Constant(&attr)))
    return nullptr;
  return llvm::dyn_cast_or_null<mlir::DenseElementsAttr>(attr);
}

/// The attribute of a constant (an arith.constant or a Constant holder op,
/// as initializers are imported): dense elements or a resource blob.
inline mlir::Attribute constantAttrOf(mlir::Value v) {
  if (!v)
    return {};
  if (auto holder = v.getDefiningOp<onnxir::NodeOp>();
      holder && holder.getOpType() == "Constant")
    return holder.getOnnxAttr("value");
  mlir::Attribute attr;
  if (mlir::matchPattern(v, mlir::m_Constant(&attr)))
    return attr;
  return {};
}

/// The bytes of a constant 8-bit integer tensor (signed or unsigned, dense
/// or a resource blob), or std::nullopt.
inline std::optional<std::vector<uint8_t>> constantBytesOf(mlir::Value v) {
  mlir::Attribute attr = constantAttrOf(v);
  if (auto dense = llvm::dyn_cast_or_null<mlir::DenseIntElementsAttr>(attr)) {
    if (dense.getElementType().getIntOrFloatBitWidth() != 8)
      return std::nullopt;
    std::vector<uint8_t> bytes;
    for (const llvm::APInt &x : dense.getValues<llvm::APInt>())
      bytes.push_back(static_cast<uint8_t>(x.getZExtValue()));
    return bytes;
  }
  auto resource = llvm::dyn_cast_or_null<mlir::DenseResourceElementsAttr>(attr);
  if (!resource || !resource.getElementType().isInteger(8))
    return std::nullopt;
  mlir::AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  if (!blob)
    return std::nullopt;
  llvm::ArrayRef<char> data = blob->getData();
  return std::vector<uint8_t>(data.begin(), data.end());
}

/// The value of a float constant whose elements are all equal.
inline std::optional<double> splatFloat(mlir::Value v) {
  mlir::DenseElementsAttr dense = constantOf(v);
  if (!dense || !dense.isSplat() ||
      !llvm::isa<mlir::FloatType>(dense.getElementType()))
    return std::nullopt;
  return dense.getSplatValue<llvm::APFloat>().convertToDouble();
}

/// The value of an integer constant whose elements are all equal.
inline std::optional<int64_t> splatInt(mlir::Value v) {
  mlir::DenseElementsAttr dense = constantOf(v);
  if (!dense || !dense.isSplat() ||
      !llvm::isa<mlir::IntegerType>(dense.getElementType()))
    return std::nullopt;
  return dense.getSplatValue<llvm::APInt>().getSExtValue();
}

/// An integer ONNX attribute of a holder op, or `dflt`.
inline int64_t intAttr(onnxir::NodeOp node, llvm::StringRef name,
                       int64_t dflt) {
  if (auto attr =
          llvm::dyn_cast_or_null<mlir::IntegerAttr>(node.getOnnxAttr(name)))
    return attr.getInt();
  return dflt;
}

/// The axes of a Squeeze/Unsqueeze/Reduce node (the `axes` attribute before
/// opset 13, or a constant second input), normalized against `rank`.
inline std::optional<llvm::SmallVector<int64_t>> axesOf(onnxir::NodeOp node,
                                                        int64_t rank) {
  llvm::SmallVector<int64_t> axes;
  if (auto attr = llvm::dyn_cast_or_null<mlir::DenseI64ArrayAttr>(
          node.getOnnxAttr("axes"))) {
    axes.assign(attr.asArrayRef().begin(), attr.asArrayRef().end());
  } else if (node.getInputs().size() >= 2) {
    mlir::DenseElementsAttr dense = constantOf(node.getInputs()[1]);
    if (!dense || !llvm::isa<mlir::IntegerType>(dense.getElementType()))
      return std::nullopt;
    for (const llvm::APInt &a : dense.getValues<llvm::APInt>())
      axes.push_back(a.getSExtValue());
  } else {
    return std::nullopt;
  }
  for (int64_t &a : axes) {
    if (a < -rank || a >= rank)
      return std::nullopt;
    if (a < 0)
      a += rank;
  }
  return axes;
}

/// True when `v` is a float tensor of zeros: a splat constant, a Constant
/// blob of zero bytes (large constants are imported as blobs), or a
/// ConstantOfShape with a zero or absent value.
inline bool isZeros(mlir::Value v) {
  if (std::optional<double> f = splatFloat(v))
    return *f == 0.0;
  if (onnxir::NodeOp c = nodeOf(v, "Constant"))
    if (auto res = llvm::dyn_cast_or_null<mlir::DenseResourceElementsAttr>(
            c.getOnnxAttr("value"))) {
      mlir::AsmResourceBlob *blob = res.getRawHandle().getBlob();
      return blob && llvm::isa<mlir::FloatType>(res.getElementType()) &&
             llvm::all_of(blob->getData(), [](char b) { return b == 0; });
    }
  onnxir::NodeOp node = nodeOf(v, "ConstantOfShape");
  if (!node)
    return false;
  auto value = llvm::dyn_cast_or_null<mlir::DenseElementsAttr>(
      node.getOnnxAttr("value"));
  return !value || (value.isSplat() &&
                    llvm::isa<mlir::FloatType>(value.getElementType()) &&
                    value.getSplatValue<llvm::APFloat>().isZero());
}

/// The ONNX node name of `op` (its NameLoc), or "<unknown>".
inline std::string nodeNameOf(mlir::Operation *op) {
  if (auto name = llvm::dyn_cast<mlir::NameLoc>(op->getLoc()))
    return name.getName().str();
  return "<unknown>";
}

/// The two operand subscripts and the output subscript of a two-operand
/// Einsum `equation`, spaces removed; nullopt for another form.
inline std::optional<std::array<std::string, 3>>
binaryEinsum(llvm::StringRef equation) {
  std::string eq;
  for (char c : equation)
    if (c != ' ')
      eq.push_back(c);
  auto [lhs, out] = llvm::StringRef(eq).split("->");
  auto [a, b] = lhs.split(',');
  if (b.contains(','))
    return std::nullopt;
  return std::array<std::string, 3>{a.str(), b.str(), out.str()};
}

} // namespace loom::raise

#endif // LOOM_LIB_CONVERSION_ONNXTOLOOM_RAISEUTILS_H
