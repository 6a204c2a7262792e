//===- TensorImport.cpp - ONNX types and tensors to MLIR ------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "TensorImport.h"

#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace mlir;

namespace loom {
namespace detail {

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

Type convertElementType(MLIRContext *ctx, int32_t dataType) {
  auto sint = [&](unsigned w) { return IntegerType::get(ctx, w); };
  auto uint = [&](unsigned w) {
    return IntegerType::get(ctx, w, IntegerType::Unsigned);
  };
  switch (dataType) {
  case onnx::TensorProto::FLOAT:
    return Float32Type::get(ctx);
  case onnx::TensorProto::UINT8:
    return uint(8);
  case onnx::TensorProto::INT8:
    return sint(8);
  case onnx::TensorProto::UINT16:
    return uint(16);
  case onnx::TensorProto::INT16:
    return sint(16);
  case onnx::TensorProto::INT32:
    return sint(32);
  case onnx::TensorProto::INT64:
    return sint(64);
  case onnx::TensorProto::STRING:
    return onnxir::StringType::get(ctx);
  case onnx::TensorProto::BOOL:
    return sint(1);
  case onnx::TensorProto::FLOAT16:
    return Float16Type::get(ctx);
  case onnx::TensorProto::DOUBLE:
    return Float64Type::get(ctx);
  case onnx::TensorProto::UINT32:
    return uint(32);
  case onnx::TensorProto::UINT64:
    return uint(64);
  case onnx::TensorProto::COMPLEX64:
    return ComplexType::get(Float32Type::get(ctx));
  case onnx::TensorProto::COMPLEX128:
    return ComplexType::get(Float64Type::get(ctx));
  case onnx::TensorProto::BFLOAT16:
    return BFloat16Type::get(ctx);
  // Codes from ONNX 1.14+ (IR 9/10), unknown to the 1.12 enum.
  case 17:
    return Float8E4M3FNType::get(ctx);
  case 18:
    return Float8E4M3FNUZType::get(ctx);
  case 19:
    return Float8E5M2Type::get(ctx);
  case 20:
    return Float8E5M2FNUZType::get(ctx);
  case 21:
    return uint(4);
  case 22:
    return sint(4);
  case 23:
    return Float4E2M1FNType::get(ctx);
  default:
    return nullptr;
  }
}

Type convertType(MLIRContext *ctx, const onnx::TypeProto &type,
                 std::string &error) {
  switch (type.value_case()) {
  case onnx::TypeProto::kTensorType:
  case onnx::TypeProto::kSparseTensorType: {
    bool sparse = type.value_case() == onnx::TypeProto::kSparseTensorType;
    int32_t elemCode = sparse ? type.sparse_tensor_type().elem_type()
                              : type.tensor_type().elem_type();
    bool hasShape = sparse ? type.sparse_tensor_type().has_shape()
                           : type.tensor_type().has_shape();
    const onnx::TensorShapeProto &shape =
        sparse ? type.sparse_tensor_type().shape() : type.tensor_type().shape();
    Type elem = convertElementType(ctx, elemCode);
    if (!elem) {
      if (elemCode == onnx::TensorProto::UNDEFINED)
        return onnxir::UnknownType::get(ctx);
      error = "unknown tensor element type " + std::to_string(elemCode);
      return nullptr;
    }
    if (!hasShape)
      return UnrankedTensorType::get(elem);
    SmallVector<int64_t> dims;
    for (const auto &dim : shape.dim()) {
      if (dim.has_dim_value()) {
        if (dim.dim_value() < 0) {
          error = "negative dimension " + std::to_string(dim.dim_value());
          return nullptr;
        }
        dims.push_back(dim.dim_value());
      } else {
        dims.push_back(ShapedType::kDynamic);
      }
    }
    return RankedTensorType::get(dims, elem);
  }
  case onnx::TypeProto::kSequenceType: {
    Type elem = convertType(ctx, type.sequence_type().elem_type(), error);
    return elem ? onnxir::SeqType::get(ctx, elem) : nullptr;
  }
  case onnx::TypeProto::kOptionalType: {
    Type elem = convertType(ctx, type.optional_type().elem_type(), error);
    return elem ? onnxir::OptType::get(ctx, elem) : nullptr;
  }
  case onnx::TypeProto::kMapType: {
    Type key = convertElementType(ctx, type.map_type().key_type());
    Type value = convertType(ctx, type.map_type().value_type(), error);
    if (!key && value)
      error = "unknown map key type";
    return key && value ? onnxir::MapType::get(ctx, key, value) : nullptr;
  }
  default:
    return onnxir::UnknownType::get(ctx);
  }
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

/// Returns the number of bits an element of `type` takes in ONNX raw data.
static int64_t rawBits(Type type) {
  if (auto complex = dyn_cast<ComplexType>(type))
    return 2 * complex.getElementType().getIntOrFloatBitWidth();
  if (type.isInteger(1))
    return 8;
  return type.getIntOrFloatBitWidth();
}

/// Appends the typed-field payload of `tensor` as little-endian raw bytes of
/// `elemType`. Returns false when the field holding the data is not the one
/// ONNX prescribes for the type.
static bool typedFieldsToRaw(const onnx::TensorProto &tensor, Type elemType,
                             std::string &raw) {
  auto append = [&](const void *p, size_t n) {
    raw.append(static_cast<const char *>(p), n);
  };
  int32_t dt = tensor.data_type();
  switch (dt) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::COMPLEX64:
    for (float f : tensor.float_data())
      append(&f, 4);
    return true;
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::COMPLEX128:
    for (double d : tensor.double_data())
      append(&d, 8);
    return true;
  case onnx::TensorProto::INT64:
    for (int64_t v : tensor.int64_data())
      append(&v, 8);
    return true;
  case onnx::TensorProto::UINT32:
    for (uint64_t v : tensor.uint64_data()) {
      uint32_t w = static_cast<uint32_t>(v);
      append(&w, 4);
    }
    return true;
  case onnx::TensorProto::UINT64:
    for (uint64_t v : tensor.uint64_data())
      append(&v, 8);
    return true;
  case 21:
  case 22: { // 4-bit types: two elements per int32_data entry... per byte.
    for (int32_t v : tensor.int32_data()) {
      uint8_t b = static_cast<uint8_t>(v);
      append(&b, 1);
    }
    return true;
  }
  default: {
    // INT32 and all narrower types live in int32_data, one element each.
    int64_t bytes = rawBits(elemType) / 8;
    for (int32_t v : tensor.int32_data())
      append(&v, bytes);
    return true;
  }
  }
}

/// Unpacks 4-bit elements (two per byte, low nibble first) to APInts.
static SmallVector<APInt> unpackNibbles(StringRef raw, int64_t numel,
                                        bool isSigned) {
  SmallVector<APInt> values;
  values.reserve(numel);
  for (int64_t i = 0; i < numel; ++i) {
    uint8_t byte = static_cast<uint8_t>(raw[i / 2]);
    uint8_t nibble = (i % 2 == 0) ? (byte & 0xF) : (byte >> 4);
    values.push_back(APInt(4, nibble, isSigned));
  }
  return values;
}

/// The validated pieces of a TensorProto.
struct TensorData {
  RankedTensorType type;
  int64_t numel = 1;
  /// The little-endian payload; points into the proto or `typed`.
  StringRef raw;
  std::string typed;
};

/// Validates `tensor` (element type, dims, data size against the shape) and
/// fills `data`. Returns false with `error` set on a mismatch.
static bool prepareTensor(MLIRContext *ctx, const onnx::TensorProto &tensor,
                          TensorData &data, std::string &error) {
  Type elemType = convertElementType(ctx, tensor.data_type());
  if (!elemType) {
    error = "has unknown element type " + std::to_string(tensor.data_type());
    return false;
  }
  SmallVector<int64_t> dims;
  for (int64_t d : tensor.dims()) {
    if (d < 0) {
      error = "has negative dimension " + std::to_string(d);
      return false;
    }
    if (d != 0 && data.numel > (int64_t(1) << 48) / d) {
      error = "has an absurd element count (over 2^48)";
      return false;
    }
    data.numel *= d;
    dims.push_back(d);
  }
  data.type = RankedTensorType::get(dims, elemType);
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    error = "has external data that was not loaded";
    return false;
  }
  if (isa<onnxir::StringType>(elemType)) {
    if (tensor.string_data_size() != data.numel) {
      error = "holds " + std::to_string(tensor.string_data_size()) +
              " strings but its shape has " + std::to_string(data.numel);
      return false;
    }
    return true;
  }
  if (tensor.has_raw_data()) {
    data.raw = tensor.raw_data();
  } else {
    typedFieldsToRaw(tensor, elemType, data.typed);
    data.raw = data.typed;
  }
  int64_t bits = rawBits(elemType);
  int64_t expected =
      bits == 4 ? (data.numel + 1) / 2 : data.numel * (bits / 8);
  if (static_cast<int64_t>(data.raw.size()) != expected) {
    error = "has " + std::to_string(data.raw.size()) +
            " bytes of data but its shape and type need " +
            std::to_string(expected);
    return false;
  }
  return true;
}

bool validateTensor(MLIRContext *ctx, const onnx::TensorProto &tensor,
                    std::string &error) {
  TensorData data;
  return prepareTensor(ctx, tensor, data, error);
}

ElementsAttr convertTensor(MLIRContext *ctx, const onnx::TensorProto &tensor,
                           int64_t inlineLimit, std::string &error) {
  TensorData data;
  if (!prepareTensor(ctx, tensor, data, error))
    return nullptr;
  RankedTensorType type = data.type;
  Type elemType = type.getElementType();
  int64_t numel = data.numel;
  StringRef raw = data.raw;
  if (isa<onnxir::StringType>(elemType)) {
    SmallVector<StringRef> strings;
    for (const std::string &s : tensor.string_data())
      strings.push_back(s);
    return DenseStringElementsAttr::get(type, strings);
  }
  int64_t bits = rawBits(elemType);
  if (bits == 4)
    return DenseElementsAttr::get(
        type, unpackNibbles(raw, numel, elemType.isSignedInteger() ||
                                            elemType.isSignlessInteger()));
  if (elemType.isInteger(1)) {
    SmallVector<bool> values;
    values.reserve(numel);
    for (char c : raw)
      values.push_back(c != 0);
    return DenseElementsAttr::get(type, values);
  }
  if (numel <= inlineLimit) {
    bool detectedSplat = false;
    if (!DenseElementsAttr::isValidRawBuffer(type, ArrayRef<char>(raw.data(),
                                                                  raw.size()),
                                             detectedSplat)) {
      error = "has a raw buffer MLIR cannot represent";
      return nullptr;
    }
    return DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>(raw.data(), raw.size()));
  }
  std::string blobName = tensor.name().empty() ? "tensor" : tensor.name();
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(raw.data(), raw.size()), /*align=*/64);
  return DenseResourceElementsAttr::get(type, blobName, std::move(blob));
}

bool loadExternalData(onnx::TensorProto &tensor, StringRef baseDir,
                      std::string &error) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto &entry : tensor.external_data()) {
    if (entry.key() == "location")
      location = entry.value();
    else if (entry.key() == "offset")
      offset = std::atoll(entry.value().c_str());
    else if (entry.key() == "length")
      length = std::atoll(entry.value().c_str());
  }
  if (location.empty()) {
    error = "external data has no location";
    return false;
  }
  if (llvm::sys::path::is_absolute(location)) {
    error = "external data location '" + location + "' must be relative";
    return false;
  }
  SmallString<256> path(baseDir);
  llvm::sys::path::append(path, location);
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file) {
    error = "cannot read external data file '" + std::string(path) +
            "': " + file.getError().message();
    return false;
  }
  int64_t size = (*file)->getBufferSize();
  if (length < 0)
    length = size - offset;
  if (offset < 0 || offset > size || length > size - offset) {
    error = "external data range [" + std::to_string(offset) + ", " +
            std::to_string(offset + length) + ") lies outside '" +
            std::string(path) + "' (" + std::to_string(size) + " bytes)";
    return false;
  }
  tensor.set_raw_data((*file)->getBufferStart() + offset, length);
  tensor.clear_external_data();
  tensor.set_data_location(onnx::TensorProto::DEFAULT);
  return true;
}

} // namespace detail
} // namespace loom
