//===- WeightMatmul.cpp - Matrix multiplies by constant weights -----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/WeightMatmul.h"

#include "loom/Transforms/Microkernels.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/Support/raw_ostream.h"

using namespace mlir;

/// True when `v` is a tensor filled with zeros (linalg.fill of 0).
static bool isZeroFilled(Value v) {
  auto fill = v.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  auto cst = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
  auto f = cst ? dyn_cast<FloatAttr>(cst.getValue()) : FloatAttr();
  return f && f.getValue().isZero();
}

std::optional<loom::WeightMatmul>
loom::matchWeightMatmul(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1)
    return std::nullopt;
  unsigned loops = op.getNumLoops();
  if (loops < 2 || op.getNumReductionLoops() != 1 ||
      op.getIteratorTypesArray().back() != utils::IteratorType::reduction)
    return std::nullopt;
  // The body: out + a * b (either order), nothing else.
  if (!isMultiplyAccumulateBody(op))
    return std::nullopt;
  Value a = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
  auto cst = w.getDefiningOp<arith::ConstantOp>();
  auto wt = dyn_cast<RankedTensorType>(w.getType());
  auto at = dyn_cast<RankedTensorType>(a.getType());
  if (!cst || !wt || !at || wt.getRank() != 2 || !wt.hasStaticShape() ||
      !wt.getElementType().isF32() || !at.getElementType().isF32())
    return std::nullopt;
  if (!isZeroFilled(op.getDpsInits()[0]))
    return std::nullopt;

  // Maps: C = identity over (lead..., n); A = (lead..., k); W = (k, n) or
  // (n, k).
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  unsigned kDim = loops - 1, nDim = loops - 2;
  MLIRContext *ctx = op.getContext();
  auto dims = [&](ArrayRef<unsigned> ds) {
    SmallVector<AffineExpr> e;
    for (unsigned d : ds)
      e.push_back(getAffineDimExpr(d, ctx));
    return AffineMap::get(loops, 0, e, ctx);
  };
  SmallVector<unsigned> aDims, cDims;
  for (unsigned i = 0; i < nDim; ++i) {
    aDims.push_back(i);
    cDims.push_back(i);
  }
  aDims.push_back(kDim);
  cDims.push_back(nDim);
  WeightMatmul m;
  if (maps[1] == dims({kDim, nDim}))
    m.transposed = false;
  else if (maps[1] == dims({nDim, kDim}))
    m.transposed = true;
  else
    return std::nullopt;
  if (maps[0] != dims(aDims) || maps[2] != dims(cDims))
    return std::nullopt;
  m.input = a;
  m.weight = cst;
  m.k = wt.getDimSize(m.transposed ? 1 : 0);
  m.n = wt.getDimSize(m.transposed ? 0 : 1);
  return m;
}

std::string loom::layerName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (auto name = dyn_cast<NameLoc>(inner))
        return name.getName().str();
  std::string text;
  llvm::raw_string_ostream os(text);
  loc.print(os);
  return text;
}

std::unique_ptr<llvm::raw_fd_ostream>
loom::openReport(Operation *op, StringRef path, StringRef what) {
  std::error_code ec;
  auto os = std::make_unique<llvm::raw_fd_ostream>(path, ec);
  if (!ec)
    return os;
  op->emitError() << "cannot write the " << what << " report '" << path
                  << "': " << ec.message();
  return nullptr;
}

Value loom::buildBlockwiseFakeQuant(OpBuilder &b, Location loc, Value x,
                                    int64_t block) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  Type f32 = b.getF32Type();
  MLIRContext *ctx = b.getContext();
  // The block maxima: x's shape with the last dim ceil(D / block).
  SmallVector<int64_t> peakShape(type.getShape());
  SmallVector<Value> peakDyn, dyn;
  for (int64_t i = 0; i < rank; ++i) {
    if (!type.isDynamicDim(i))
      continue;
    Value d = tensor::DimOp::create(b, loc, x, i);
    dyn.push_back(d);
    if (i + 1 < rank)
      peakDyn.push_back(d);
    else
      peakDyn.push_back(arith::CeilDivUIOp::create(
          b, loc, d, arith::ConstantIndexOp::create(b, loc, block)));
  }
  if (!type.isDynamicDim(rank - 1))
    peakShape.back() = llvm::divideCeil(peakShape.back(), block);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value peakInit =
      linalg::FillOp::create(
          b, loc, zero,
          ValueRange{tensor::EmptyOp::create(b, loc, peakShape, f32, peakDyn)})
          .getResult(0);
  AffineMap all = AffineMap::getMultiDimIdentityMap(rank, ctx);
  SmallVector<AffineExpr> blockExprs;
  for (int64_t i = 0; i < rank; ++i)
    blockExprs.push_back(i + 1 < rank
                             ? getAffineDimExpr(i, ctx)
                             : getAffineDimExpr(i, ctx).floorDiv(block));
  AffineMap blockOf = AffineMap::get(rank, 0, blockExprs, ctx);
  SmallVector<utils::IteratorType> reduce(rank, utils::IteratorType::parallel);
  reduce.back() = utils::IteratorType::reduction;
  Value peak =
      linalg::GenericOp::create(
          b, loc, peakInit.getType(), ValueRange{x}, ValueRange{peakInit},
          ArrayRef<AffineMap>{all, blockOf}, reduce,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value a = math::AbsFOp::create(nb, nl, args[0]);
            Value m = arith::MaximumFOp::create(nb, nl, args[1], a);
            linalg::YieldOp::create(nb, nl, m);
          })
          .getResult(0);
  SmallVector<utils::IteratorType> par(rank, utils::IteratorType::parallel);
  Value outInit = tensor::EmptyOp::create(b, loc, type.getShape(), f32, dyn);
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{x, peak}, ValueRange{outInit},
             ArrayRef<AffineMap>{all, blockOf, all}, par,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               auto cst = [&](float v) {
                 return arith::ConstantOp::create(nb, nl,
                                                  nb.getF32FloatAttr(v));
               };
               Value s = arith::DivFOp::create(nb, nl, args[1], cst(127.0f));
               Value isZero = arith::CmpFOp::create(
                   nb, nl, arith::CmpFPredicate::OEQ, s, cst(0.0f));
               s = arith::SelectOp::create(nb, nl, isZero, cst(1.0f), s);
               Value q = math::RoundEvenOp::create(
                   nb, nl, arith::DivFOp::create(nb, nl, args[0], s));
               q = arith::MinimumFOp::create(
                   nb, nl, arith::MaximumFOp::create(nb, nl, q, cst(-127.0f)),
                   cst(127.0f));
               linalg::YieldOp::create(
                   nb, nl, arith::MulFOp::create(nb, nl, q, s).getResult());
             })
      .getResult(0);
}
