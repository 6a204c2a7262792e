//===- OnnxToLoom.h - Legalize ONNX holder ops (stage 2) --------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The legalization framework: handlers keyed by (domain, op type,
// since-opset), grouped by category, and the binder they read nodes with.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_CONVERSION_ONNXTOLOOM_ONNXTOLOOM_H
#define LOOM_CONVERSION_ONNXTOLOOM_ONNXTOLOOM_H

#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace loom {

#define GEN_PASS_DECL_ONNXTOLOOMPASS
#define GEN_PASS_DECL_RAISEATTENTIONPASS
#define GEN_PASS_DECL_RAISENORMSANDGELUPASS
#define GEN_PASS_DECL_RAISESCANSPASS
#define GEN_PASS_DECL_RAISEMIXTURESPASS
#define GEN_PASS_DECL_RAISEQUANTIZEDPASS
#include "loom/Conversion/Passes.h.inc"

/// Erases the `onnx.node` holder ops among `roots` that have no users and,
/// transitively, the holder ops feeding them that are left without users
/// (the chain a raising pattern replaced). Ops with regions are kept.
void eraseDeadHolderOps(mlir::RewriterBase &rewriter,
                        llvm::ArrayRef<mlir::Operation *> roots);

/// Reads the inputs and attributes of one `onnx.node` for a handler, and
/// reports errors at the node's location, naming the node and its op.
class OpBinder {
public:
  OpBinder(onnxir::NodeOp op) : op(op) {}

  onnxir::NodeOp getOp() const { return op; }
  mlir::Location getLoc() const { return op.getLoc(); }
  unsigned getNumInputs() const { return op.getInputs().size(); }

  /// Returns input `i`, or null when it is absent or `onnx.none`.
  mlir::Value input(unsigned i) const;
  /// Returns input `i` as a ranked tensor, or null.
  mlir::TypedValue<mlir::RankedTensorType> rankedInput(unsigned i) const;
  /// Returns the type of result `i` when it is a ranked tensor, or null.
  mlir::RankedTensorType resultType(unsigned i) const;

  /// Integer attribute `name`, or `dflt` when absent.
  int64_t getInt(llvm::StringRef name, int64_t dflt) const;
  /// Float attribute `name`, or `dflt` when absent.
  double getFloat(llvm::StringRef name, double dflt) const;
  /// String attribute `name`, or `dflt` when absent.
  std::string getString(llvm::StringRef name, llvm::StringRef dflt) const;
  /// Integer-list attribute `name`, or nullopt when absent.
  std::optional<llvm::SmallVector<int64_t>> getInts(llvm::StringRef name) const;
  /// Returns whether attribute `name` is present.
  bool hasAttr(llvm::StringRef name) const;

  /// The integer values of input `i` when it is a compile-time constant.
  std::optional<llvm::SmallVector<int64_t>> constantInts(unsigned i) const;

  /// Emits an error at the node: `<message> (ONNX op 'T' at node 'n')`.
  mlir::InFlightDiagnostic emitError(const llvm::Twine &message) const;
  /// Emits "ONNX op 'T' at node 'n': <what> is not supported".
  mlir::LogicalResult unsupported(const llvm::Twine &what) const;

  /// Replaces the node by `values`, inserting `tensor.cast` where a handler
  /// computed a more or less static type than the node's result. Results
  /// past `values.size()` must have no uses.
  void replace(mlir::RewriterBase &rewriter, mlir::ValueRange values) const;

  /// The name of the node (from its location).
  std::string nodeName() const;

private:
  /// Op accessors are not const-qualified; the binder does not mutate it.
  mutable onnxir::NodeOp op;
};

/// The largest tensor a compiled model may hold, as the runtime's limit
/// (LOOMRT_MAX_TENSOR_BYTES): 16 GiB. Larger static shapes are compile
/// errors.
inline constexpr uint64_t kMaxTensorBytes = uint64_t(16) << 30;

/// Legalizes one node: creates its replacement with `rewriter` and calls
/// `binder.replace`, or reports an error through the binder and fails.
using OnnxHandler =
    std::function<mlir::LogicalResult(OpBinder &binder,
                                      mlir::RewriterBase &rewriter)>;

/// Handlers keyed by (domain, op type, since-opset).
class OnnxHandlerRegistry {
public:
  /// Registers `handler` for `opType` in `domain` from opset `sinceVersion`
  /// on (until a later registration of the same op).
  void add(llvm::StringRef domain, llvm::StringRef opType,
           int64_t sinceVersion, OnnxHandler handler);
  /// Registers `handler` in the default domain.
  void add(llvm::StringRef opType, int64_t sinceVersion, OnnxHandler handler) {
    add("", opType, sinceVersion, std::move(handler));
  }
  /// Returns the handler for a node of `opType` in `domain` at `opset`: the
  /// registration with the highest since-version not above `opset`.
  const OnnxHandler *lookup(llvm::StringRef domain, llvm::StringRef opType,
                            int64_t opset) const;

private:
  std::map<std::pair<std::string, std::string>,
           std::map<int64_t, OnnxHandler>>
      handlers;
};

/// Elementwise math (Add, Mul, Div, Erf, ...) and MatMul.
void populateOnnxMathHandlers(OnnxHandlerRegistry &registry);
/// Neural-network ops (Softmax, LayerNormalization, ...).
void populateOnnxNNHandlers(OnnxHandlerRegistry &registry);
/// Tensor manipulation (Transpose, Reshape, Constant, ...).
void populateOnnxTensorHandlers(OnnxHandlerRegistry &registry);
/// Reductions (Reduce*, ArgMax/ArgMin, LogSoftmax) and Gemm.
void populateOnnxReduceHandlers(OnnxHandlerRegistry &registry);
/// Convolutions (Conv 1-D/2-D, grouped and depthwise).
void populateOnnxConvHandlers(OnnxHandlerRegistry &registry);
/// CumSum and Einsum.
void populateOnnxScanHandlers(OnnxHandlerRegistry &registry);
/// ScatterElements and TopK.
void populateOnnxScatterHandlers(OnnxHandlerRegistry &registry);
/// Control flow: If, Loop and Scan.
void populateOnnxControlFlowHandlers(OnnxHandlerRegistry &registry);
/// The rank of the elements of ONNX sequence `seq`, from its type or from
/// the nodes that insert into, read from or carry it; failure when nothing
/// says. (The element rank of a sequence fixes its ABI.)
mlir::FailureOr<int64_t> inferSeqRank(mlir::Value seq);

/// Registers the sequence handlers (SequenceEmpty, SequenceInsert, ...).
void populateOnnxSequenceHandlers(OnnxHandlerRegistry &registry);

/// Registers the handlers of ONNX Runtime's `com.microsoft` ops (Attention).
void populateOnnxContribHandlers(OnnxHandlerRegistry &registry);
/// Every handler group.
void populateAllOnnxHandlers(OnnxHandlerRegistry &registry);

/// Legalizes every `onnx.node` under `root`. Reports every node without a
/// handler at once before rewriting; fails on the first handler error.
mlir::LogicalResult legalizeOnnx(mlir::Operation *root,
                                 const OnnxHandlerRegistry &registry);

} // namespace loom

#endif // LOOM_CONVERSION_ONNXTOLOOM_ONNXTOLOOM_H
