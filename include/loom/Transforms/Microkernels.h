//===- Microkernels.h - Ops that loomrt microkernels compute ----*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The structural test shared by the passes that keep contractions intact for
// the microkernels (loom-fuse-elementwise) and that replace them by calls
// (loom-lower-to-microkernels), and the reading of the constant weights that
// those calls (and loom.moe's, and weight quantization) repack.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TRANSFORMS_MICROKERNELS_H
#define LOOM_TRANSFORMS_MICROKERNELS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <type_traits>

namespace loom {

/// The roles of the loops of a contraction that loomrt_sgemm_f32 computes.
struct MatmulLoops {
  /// Loops that C and A walk, B does not (rows of the product).
  llvm::SmallVector<unsigned, 2> m;
  /// Loops that C and B walk, A does not (columns of the product).
  llvm::SmallVector<unsigned, 2> n;
  /// Reduction loops, walked by A and B (several when an operand is, say,
  /// an im2col tensor: they merge when contiguous in both).
  llvm::SmallVector<unsigned, 2> k;
  /// Parallel loops that C walks with both or neither of A and B.
  llvm::SmallVector<unsigned, 2> batch;
};

/// Returns the loop roles when `op` is an fp32 contraction
/// `C[...] += A[...] * B[...]` (a multiply and an add in its body, every
/// indexing-map result a loop or the constant 0, reduction loops that A
/// and B both walk, and at least one m and one n loop), the shape that
/// loomrt_sgemm_f32 computes; std::nullopt otherwise. Works on tensors and
/// on memrefs.
std::optional<MatmulLoops> matchMicrokernelMatmul(mlir::linalg::GenericOp op);

/// Returns true when the body of `op` (two inputs, one init) is
/// `yield(add(out, mul(a, b)))` in any operand order, on the block arguments
/// (a, b, out).
bool isMultiplyAccumulateBody(mlir::linalg::GenericOp op);

/// Activation codes of loomrt's GEMM epilogue (LOOMRT_ACT_* in
/// runtime/include/loomrt/kernels.h).
enum class EpilogueActivation : int64_t {
  None = 0,
  Relu = 1,
  Gelu = 2,
  GeluTanh = 3,
};

/// An elementwise body that loomrt_sgemm_epilogue_f32 computes from a
/// contraction's result g: `act(g + bias) + residual`.
struct EpilogueBody {
  EpilogueActivation act = EpilogueActivation::None;
  /// The inputs (operand numbers) added before and after the activation.
  std::optional<unsigned> bias, residual;
};

/// Returns the form of `op`'s body when it computes `act(g + x) + y` from
/// its input `gemmInput` (g) and at most two other inputs x and y (each
/// optional, each read once), with act the identity, ReLU (maximumf with
/// 0) or a GELU as loom.gelu lowers it (erf or tanh form); without an
/// activation any tree of additions of g and up to two inputs matches.
/// std::nullopt for anything else.
std::optional<EpilogueBody> matchEpilogueBody(mlir::linalg::GenericOp op,
                                              unsigned gemmInput);

/// The elements of a constant tensor attribute of element type T (float
/// for f32, int8_t for i8): a DenseElementsAttr is copied into `storage`, a
/// resource blob is read in place; std::nullopt for other attributes,
/// element types or an unreadable blob.
template <typename T>
inline std::optional<llvm::ArrayRef<T>>
constantData(mlir::Attribute value, llvm::SmallVectorImpl<T> &storage) {
  if (auto dense = llvm::dyn_cast_or_null<mlir::DenseElementsAttr>(value)) {
    mlir::Type type = dense.getElementType();
    if (!type.isIntOrFloat() || type.getIntOrFloatBitWidth() != 8 * sizeof(T) ||
        llvm::isa<mlir::FloatType>(type) != std::is_floating_point_v<T>)
      return std::nullopt;
    auto values = dense.getValues<T>();
    storage.assign(values.begin(), values.end());
    return llvm::ArrayRef<T>(storage);
  }
  if (auto resource = llvm::dyn_cast_or_null<
          mlir::detail::DenseResourceElementsAttrBase<T>>(value))
    return resource.tryGetAsArrayRef();
  return std::nullopt;
}

/// An arith.constant of `type` holding `data` (row-major) in a resource
/// blob named `name` (large weights print and serialize as blobs).
template <typename T>
inline mlir::Value resourceConstant(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::RankedTensorType type,
                                    llvm::ArrayRef<T> data,
                                    llvm::StringRef name) {
  return mlir::arith::ConstantOp::create(
      b, loc,
      mlir::DenseResourceElementsAttr::get(
          type, name,
          mlir::HeapAsmResourceBlob::allocateAndCopyInferAlign<T>(data)));
}

/// constantData for f32 constants.
inline std::optional<llvm::ArrayRef<float>>
constantF32Data(mlir::Attribute value, llvm::SmallVectorImpl<float> &storage) {
  return constantData<float>(value, storage);
}

/// Returns true when `op` only moves data with a strided layout: one input
/// read at loop indices (or 0), its block argument yielded unchanged (a
/// transpose, broadcast or copy; not a gather).
bool isPureDataMovement(mlir::linalg::GenericOp op);

/// Returns true when `op` fills its one destination with one scalar:
/// `linalg.fill`, or its generalized form (a generic moving a scalar input
/// into its output unchanged). On tensors or buffers.
bool isScalarFill(mlir::linalg::LinalgOp op);

} // namespace loom

#endif // LOOM_TRANSFORMS_MICROKERNELS_H
