//===- Utils.h - Helpers shared by the ONNX handlers ------------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_LIB_CONVERSION_ONNXTOLOOM_UTILS_H
#define LOOM_LIB_CONVERSION_ONNXTOLOOM_UTILS_H

#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"

namespace loom {

/// Computes the scalar result of an elementwise op from its scalar operands.
using ScalarBody = llvm::function_ref<mlir::Value(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

/// Builds a `linalg.generic` that applies `body` elementwise to `inputs` with
/// numpy broadcasting (ranks aligned from the right; static size-1 dims
/// broadcast; a dynamic dim is taken to match the other operands).
/// Returns failure (after reporting through `binder`) when static sizes
/// conflict.
mlir::FailureOr<mlir::Value>
buildBroadcastElementwise(OpBinder &binder, mlir::OpBuilder &b,
                          mlir::ValueRange inputs, mlir::Type resultElemType,
                          ScalarBody body);

/// Returns the sizes of `value` as OpFoldResults (constants where static).
llvm::SmallVector<mlir::OpFoldResult> getSizes(mlir::OpBuilder &b,
                                               mlir::Location loc,
                                               mlir::Value value);

/// Reduces `x` over the dims marked in `reduced` into a tensor that keeps
/// them as size 1 (keepdims), starting from `initValue`; `combine(acc, x)`
/// folds an element in.
mlir::Value reduceKeepDims(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
    llvm::ArrayRef<bool> reduced, mlir::Attribute initValue,
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                   mlir::Value, mlir::Value)>
        combine);

/// Evaluates integer shape arithmetic (Shape, Gather, Slice, Concat,
/// Unsqueeze, Cast, Add, ... on small constant or statically shaped inputs)
/// at compile time and replaces the node by an arith.constant. Fails, doing
/// nothing, when the node cannot be evaluated.
mlir::LogicalResult foldShapeArithmetic(OpBinder &binder,
                                        mlir::RewriterBase &rewriter);

/// Turns a run-time index (any integer type) into an index into a dim of
/// `size`: negative values count from the end, and values still out of range
/// are clamped to [0, size - 1] so that no access leaves the tensor.
mlir::Value wrapIndex(mlir::OpBuilder &b, mlir::Location loc, mlir::Value idx,
                      mlir::Value size);

/// The integer elements of `v` when it is a constant (an `arith.constant` or
/// a `Constant` holder op), or null.
mlir::DenseIntElementsAttr getConstantInts(mlir::Value v);

/// The [start, end) dims that Shape reads (its `start`/`end` attributes,
/// opset 15, negative from the end, clamped to [0, rank]).
std::pair<int64_t, int64_t> shapeRange(OpBinder &binder, int64_t rank);

/// Builds a linalg.generic producing `empty` whose element at each position is
/// `source` read at the coordinates `coords` computes from the block
/// arguments of `inputs` (read through `inputMaps`) and linalg.index values.
mlir::Value buildReadAt(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value empty,
    mlir::ValueRange inputs, llvm::ArrayRef<mlir::AffineMap> inputMaps,
    mlir::Value source,
    llvm::function_ref<llvm::SmallVector<mlir::Value>(
        mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>
        coords);

/// An ONNX sequence as three tensors (see Sequence.cpp): the elements' data
/// back to back (1-D), their shapes ((n + 1) x rank i64, the last row a zero
/// sentinel) and their offsets into the data (n + 1 i64 values).
struct SeqParts {
  mlir::Value data, shapes, offsets;
};

/// The types of the parts of a sequence of rank-`rank` tensors of `elem`.
llvm::SmallVector<mlir::Type, 3> seqPartTypes(mlir::Type elem, int64_t rank);

/// The parts of a legalized sequence value (an `unrealized_conversion_cast`
/// of the three tensors to `!onnx.seq`), or nullopt.
std::optional<SeqParts> getSeqParts(mlir::Value seq);

/// Packs `parts` into one value of `seqType` for holder ops and terminators.
mlir::Value packSeq(mlir::OpBuilder &b, mlir::Location loc, mlir::Type seqType,
                    const SeqParts &parts);

/// Builds a loop over i = 0 .. count - 1 carrying `inits`; `body` returns the
/// next values. An scf.while, not an scf.for: the for loop's
/// canonicalization moves tensor.casts of its inits into the loop and would
/// freeze the shapes of tensors that grow from iteration to iteration.
llvm::SmallVector<mlir::Value> buildCountedLoop(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value count,
    mlir::ValueRange inits,
    llvm::function_ref<llvm::SmallVector<mlir::Value>(
        mlir::OpBuilder &, mlir::Location, mlir::Value, mlir::ValueRange)>
        body);

/// Adds a `loom.runtime_check` that fails when an element of integer tensor
/// `indices` lies outside [-size, size) (negative indices count from the
/// end). Only for nodes directly in a function's body (the check becomes part
/// of the function's status result); nodes in loop or branch bodies rely on
/// the clamping of `wrapIndex`.
void addIndexRangeCheck(OpBinder &binder, mlir::OpBuilder &b,
                        mlir::Value indices, mlir::Value size,
                        const llvm::Twine &what);

/// Normalizes an ONNX axis (possibly negative) for `rank`; nullopt when out of
/// range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);

} // namespace loom

#endif // LOOM_LIB_CONVERSION_ONNXTOLOOM_UTILS_H
