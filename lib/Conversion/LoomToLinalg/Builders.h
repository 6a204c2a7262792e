//===- Builders.h - Helpers of the loom op lowerings ------------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Builders shared by the lowerings of the loom ops (LoomToLinalg.cpp,
// TileAttention.cpp, LowerScan.cpp): tiles and single-result linalg.generic
// ops on tensors, the multiply-accumulate body of contractions, and the
// terminator of an scf.forall.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_LIB_CONVERSION_LOOMTOLINALG_BUILDERS_H
#define LOOM_LIB_CONVERSION_LOOMTOLINALG_BUILDERS_H

#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "loom/Transforms/Microkernels.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

namespace loom {

inline constexpr mlir::utils::IteratorType kPar =
    mlir::utils::IteratorType::parallel;
inline constexpr mlir::utils::IteratorType kRed =
    mlir::utils::IteratorType::reduction;

/// Returns the dynamic sizes of `value` (for tensor.empty).
inline llvm::SmallVector<mlir::Value>
dynamicSizes(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value) {
  auto type = llvm::cast<mlir::RankedTensorType>(value.getType());
  llvm::SmallVector<mlir::Value> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      sizes.push_back(mlir::tensor::DimOp::create(b, loc, value, i));
  return sizes;
}

/// Returns `fn` applied to every element of the tensor `x`: one elementwise
/// `linalg.generic` into a fresh tensor of x's type. `fn` gets the element.
inline mlir::Value
mapElementwise(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
               llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                              mlir::Value)>
                   fn) {
  auto type = llvm::cast<mlir::RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  mlir::Value init = mlir::tensor::EmptyOp::create(
      b, loc, type.getShape(), type.getElementType(), dynamicSizes(b, loc, x));
  llvm::SmallVector<mlir::AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
  llvm::SmallVector<mlir::utils::IteratorType> iters(rank, kPar);
  return mlir::linalg::GenericOp::create(
             b, loc, type, mlir::ValueRange{x}, mlir::ValueRange{init}, maps,
             iters,
             [&](mlir::OpBuilder &nb, mlir::Location l, mlir::ValueRange a) {
               mlir::linalg::YieldOp::create(nb, l, fn(nb, l, a[0]));
             })
      .getResult(0);
}

/// Builds tiles of one float element type and single-result linalg.generic
/// ops on them.
class TileBuilder {
public:
  TileBuilder(mlir::OpBuilder &b, mlir::Location loc, mlir::Type elem)
      : b(b), loc(loc), elem(elem), ctx(b.getContext()) {}

  mlir::AffineExpr d(unsigned i) const {
    return mlir::getAffineDimExpr(i, ctx);
  }

  mlir::AffineMap map(unsigned loops,
                      llvm::ArrayRef<mlir::AffineExpr> exprs) const {
    return mlir::AffineMap::get(loops, 0, exprs, ctx);
  }

  /// A scalar constant of the element type.
  mlir::Value cst(double v) const {
    return mlir::arith::ConstantOp::create(b, loc, b.getFloatAttr(elem, v));
  }

  /// An uninitialized tile of the given sizes.
  mlir::Value empty(llvm::ArrayRef<mlir::OpFoldResult> sizes) const {
    return mlir::tensor::EmptyOp::create(b, loc, sizes, elem);
  }

  /// A tile of the given sizes filled with `v`.
  mlir::Value filled(llvm::ArrayRef<mlir::OpFoldResult> sizes, double v) const {
    return mlir::linalg::FillOp::create(b, loc, cst(v), empty(sizes))
        .getResult(0);
  }

  /// A linalg.generic with one result, written into `init`.
  mlir::Value
  generic(mlir::Value init, mlir::ValueRange inputs,
          llvm::ArrayRef<mlir::AffineMap> maps,
          llvm::ArrayRef<mlir::utils::IteratorType> iters,
          llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                         mlir::ValueRange)>
              body) const {
    return mlir::linalg::GenericOp::create(
               b, loc, init.getType(), inputs, mlir::ValueRange{init}, maps,
               iters,
               [&](mlir::OpBuilder &nb, mlir::Location nl,
                   mlir::ValueRange args) {
                 mlir::linalg::YieldOp::create(nb, nl, body(nb, nl, args));
               })
        .getResult(0);
  }

  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::Type elem;
  mlir::MLIRContext *ctx;
};

/// Ends an scf.forall body: builds its scf.forall.in_parallel terminator
/// and one tensor.parallel_insert_slice (unit strides) per (source,
/// destination, offsets, sizes).
struct ParallelInsert {
  mlir::Value source, dest;
  llvm::SmallVector<mlir::OpFoldResult> offsets, sizes;
};
inline void buildInParallel(mlir::OpBuilder &b, mlir::Location loc,
                            llvm::ArrayRef<ParallelInsert> inserts) {
  auto term = mlir::scf::InParallelOp::create(b, loc);
  mlir::OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(term.getBody());
  for (const ParallelInsert &in : inserts) {
    llvm::SmallVector<mlir::OpFoldResult> strides(in.offsets.size(),
                                                  b.getIndexAttr(1));
    mlir::tensor::ParallelInsertSliceOp::create(b, loc, in.source, in.dest,
                                                in.offsets, in.sizes, strides);
  }
}

/// `t` as a row-major tensor of its own: constants as they are, anything
/// else copied (so that its buffer is a fresh contiguous allocation), for a
/// runtime kernel that reads plain arrays.
inline mlir::Value contiguous(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value t) {
  if (t.getDefiningOp<mlir::arith::ConstantOp>())
    return t;
  auto type = llvm::cast<mlir::RankedTensorType>(t.getType());
  mlir::Value init = mlir::tensor::EmptyOp::create(
      b, loc, type.getShape(), type.getElementType(), dynamicSizes(b, loc, t));
  return mlir::linalg::CopyOp::create(b, loc, t, init).getResult(0);
}

/// The address of the first element of `t`'s buffer, as i64. `t` is a
/// constant or a fresh copy (contiguous()), so its buffer has the identity
/// layout.
inline mlir::Value addressOf(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value t) {
  auto type = llvm::cast<mlir::RankedTensorType>(t.getType());
  auto memrefType =
      mlir::MemRefType::get(type.getShape(), type.getElementType());
  mlir::Value buffer = mlir::bufferization::ToBufferOp::create(
      b, loc, memrefType, t, /*read_only=*/true);
  mlir::Value aligned =
      mlir::memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
  return mlir::arith::IndexCastOp::create(b, loc, b.getI64Type(), aligned);
}

/// A fresh identity-layout buffer for a runtime kernel's result and its
/// address as i64; `tensor()` is the result once the kernel has written it.
struct KernelOutput {
  mlir::Value buffer, address;

  /// Creates the buffer of `type`; `dims[i]` is the size of dim i wherever
  /// `type` is dynamic.
  KernelOutput(mlir::OpBuilder &b, mlir::Location loc,
               mlir::RankedTensorType type, mlir::ValueRange dims) {
    llvm::SmallVector<mlir::Value> dyn;
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (type.isDynamicDim(i))
        dyn.push_back(dims[i]);
    buffer = mlir::memref::AllocOp::create(
        b, loc, mlir::MemRefType::get(type.getShape(), type.getElementType()),
        dyn);
    address = mlir::arith::IndexCastOp::create(
        b, loc, b.getI64Type(),
        mlir::memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer));
  }

  /// The written buffer as a tensor of `type`.
  mlir::Value tensor(mlir::OpBuilder &b, mlir::Location loc,
                     mlir::RankedTensorType type) const {
    return mlir::bufferization::ToTensorOp::create(
        b, loc, type, buffer, /*restrict=*/true, /*writable=*/true);
  }
};

/// Returns the external declaration of the runtime kernel `name` taking
/// `numArgs` 64-bit integers (addresses and sizes), creating it on first use.
inline mlir::func::FuncOp getOrDeclareKernel(mlir::OpBuilder &b,
                                             mlir::ModuleOp module,
                                             llvm::StringRef name,
                                             unsigned numArgs) {
  if (auto f = module.lookupSymbol<mlir::func::FuncOp>(name))
    return f;
  mlir::OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  llvm::SmallVector<mlir::Type> args(numArgs, b.getI64Type());
  auto f = mlir::func::FuncOp::create(b, module.getLoc(), name,
                                      b.getFunctionType(args, {}));
  f.setPrivate();
  return f;
}

/// Whether loom.attention masks key `j` for query `i` (indices): with
/// `causal`, keys past `i + offset`; with a `window` W, keys with
/// |j - (i + offset)| >= W; with `blocks` [B, L, G] (loom.attention's
/// block_sparse), keys whose block is neither global (< G), nor within L
/// blocks of the query's, unless the query's block is global. `offset` is
/// Skv - Sq (bottom-right alignment). Returns null when none applies.
inline mlir::Value
attentionMasked(mlir::OpBuilder &b, mlir::Location loc, mlir::Value i,
                mlir::Value j, mlir::Value offset, bool causal,
                std::optional<int64_t> window,
                std::optional<llvm::ArrayRef<int64_t>> blocks = std::nullopt) {
  using mlir::arith::CmpIPredicate;
  mlir::Value pos = mlir::arith::AddIOp::create(b, loc, i, offset), masked;
  auto orWith = [&](mlir::Value c) {
    masked =
        masked ? mlir::arith::OrIOp::create(b, loc, masked, c).getResult() : c;
  };
  if (causal)
    orWith(mlir::arith::CmpIOp::create(b, loc, CmpIPredicate::sgt, j, pos));
  if (window) {
    mlir::Value w = mlir::arith::ConstantIndexOp::create(b, loc, *window);
    // j <= pos - W, i.e. j + W <= pos; and j >= pos + W.
    mlir::Value jw = mlir::arith::AddIOp::create(b, loc, j, w);
    orWith(mlir::arith::CmpIOp::create(b, loc, CmpIPredicate::sle, jw, pos));
    if (!causal)
      orWith(mlir::arith::CmpIOp::create(
          b, loc, CmpIPredicate::sge, j,
          mlir::arith::AddIOp::create(b, loc, pos, w)));
  }
  if (blocks) {
    auto cst = [&](int64_t v) -> mlir::Value {
      return mlir::arith::ConstantIndexOp::create(b, loc, v);
    };
    mlir::Value bs = cst((*blocks)[0]), global = cst((*blocks)[2]);
    mlir::Value local = cst((*blocks)[1]);
    mlir::Value qb = mlir::arith::FloorDivSIOp::create(b, loc, pos, bs);
    mlir::Value kb = mlir::arith::FloorDivSIOp::create(b, loc, j, bs);
    auto cmp = [&](CmpIPredicate p, mlir::Value x, mlir::Value y) {
      return mlir::arith::CmpIOp::create(b, loc, p, x, y).getResult();
    };
    // Hidden: neither block global and |kb - qb| > L.
    mlir::Value far = mlir::arith::OrIOp::create(
        b, loc,
        cmp(CmpIPredicate::sgt, mlir::arith::SubIOp::create(b, loc, kb, qb),
            local),
        cmp(CmpIPredicate::sgt, mlir::arith::SubIOp::create(b, loc, qb, kb),
            local));
    mlir::Value hidden = mlir::arith::AndIOp::create(
        b, loc,
        mlir::arith::AndIOp::create(b, loc, cmp(CmpIPredicate::sge, qb, global),
                                    cmp(CmpIPredicate::sge, kb, global)),
        far);
    orWith(hidden);
  }
  return masked;
}

/// The rows of a matrix-times-weights kernel's input `x` (already
/// contiguous): the product of its leading dims, whose sizes go to `dims`.
inline mlir::Value leadingRows(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::Value x,
                               llvm::SmallVectorImpl<mlir::Value> &dims) {
  int64_t rank = llvm::cast<mlir::RankedTensorType>(x.getType()).getRank();
  for (int64_t i = 0; i + 1 < rank; ++i)
    dims.push_back(mlir::tensor::DimOp::create(b, loc, x, i));
  mlir::Value rows = mlir::arith::ConstantIndexOp::create(b, loc, 1);
  for (mlir::Value d : dims)
    rows = mlir::arith::MulIOp::create(b, loc, rows, d);
  return mlir::arith::IndexCastOp::create(b, loc, b.getI64Type(), rows);
}

/// A 1-d constant holding `data` (a kernel's prepacked operand) as a
/// resource blob named `name`.
template <typename T>
mlir::Value blobConstant(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Type elementType, llvm::ArrayRef<T> data,
                         llvm::StringRef name) {
  return resourceConstant<T>(
      b, loc,
      mlir::RankedTensorType::get({static_cast<int64_t>(data.size())},
                                  elementType),
      data, name);
}

/// The elements of `v` when it is a constant of element type T.
template <typename T>
std::optional<llvm::ArrayRef<T>> constantOf(mlir::Value v,
                                            llvm::SmallVectorImpl<T> &storage) {
  auto cst = v ? v.getDefiningOp<mlir::arith::ConstantOp>() : nullptr;
  if (!cst)
    return std::nullopt;
  return constantData<T>(cst.getValue(), storage);
}

} // namespace loom

#endif // LOOM_LIB_CONVERSION_LOOMTOLINALG_BUILDERS_H
