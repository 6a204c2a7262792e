//===- Scatter.cpp - ONNX ScatterElements and TopK handlers --------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

using namespace mlir;
using namespace loom;

/// ScatterElements: a copy of `data` with `updates` written (or combined) at
/// the positions `indices` give along `axis`; later indices win on
/// duplicates. Loops over the indices with tensor.extract/insert.
static LogicalResult legalizeScatterElements(OpBinder &binder,
                                             RewriterBase &rewriter) {
  auto data = binder.rankedInput(0), indices = binder.rankedInput(1),
       updates = binder.rankedInput(2);
  if (!data || !indices || !updates)
    return binder.unsupported("unranked operands");
  int64_t rank = data.getType().getRank();
  std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", 0), rank);
  if (!axis || indices.getType().getRank() != rank)
    return binder.emitError("axis or index rank is invalid"), failure();
  std::string reduction = binder.getString("reduction", "none");
  Type elem = data.getType().getElementType();
  bool isFloat = isa<FloatType>(elem);
  if (reduction != "none" && reduction != "add" && reduction != "mul")
    return binder.unsupported("reduction '" + reduction + "'");
  Location loc = binder.getLoc();
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  Value axisSize = tensor::DimOp::create(rewriter, loc, data, *axis);
  if (!getConstantInts(indices))
    addIndexRangeCheck(binder, rewriter, indices, axisSize,
                       "an index is out of range for axis " + Twine(*axis));
  SmallVector<Value> lbs(rank, zero), steps(rank, one), ubs;
  for (int64_t i = 0; i < rank; ++i)
    ubs.push_back(tensor::DimOp::create(rewriter, loc, indices, i));
  scf::LoopNest nest = scf::buildLoopNest(
      rewriter, loc, lbs, ubs, steps, ValueRange{data},
      [&](OpBuilder &b, Location l, ValueRange ivs,
          ValueRange iter) -> scf::ValueVector {
        Value idx = tensor::ExtractOp::create(b, l, indices, ivs);
        Value i = wrapIndex(b, l, idx, axisSize);
        SmallVector<Value> coords(ivs);
        coords[*axis] = i;
        Value u = tensor::ExtractOp::create(b, l, updates, ivs);
        if (reduction != "none") {
          Value old = tensor::ExtractOp::create(b, l, iter[0], coords);
          bool add = reduction == "add";
          u = isFloat ? (add ? arith::AddFOp::create(b, l, old, u).getResult()
                             : arith::MulFOp::create(b, l, old, u).getResult())
                      : (add ? arith::AddIOp::create(b, l, old, u).getResult()
                             : arith::MulIOp::create(b, l, old, u).getResult());
        }
        return {tensor::InsertOp::create(b, l, u, iter[0], coords).getResult()};
      });
  binder.replace(rewriter, nest.results);
  return success();
}

/// TopK along `axis` without sorting networks: the rank of each element
/// (how many elements beat it; ties by lower index) in one reduction, then
/// output slot p gathers the element of rank p. Quadratic in the axis length;
/// results are sorted and stable.
static LogicalResult legalizeTopK(OpBinder &binder, RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  RankedTensorType valuesType = binder.resultType(0);
  RankedTensorType indicesType = binder.resultType(1);
  if (!x || !valuesType || !indicesType ||
      !isa<FloatType>(x.getType().getElementType()))
    return binder.unsupported("non-float or unranked operands");
  int64_t rank = x.getType().getRank();
  std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", -1), rank);
  if (!axis)
    return binder.emitError("axis is out of range"), failure();
  bool largest = binder.getInt("largest", 1) != 0;
  Location loc = binder.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  Type elem = x.getType().getElementType();
  Type i64 = rewriter.getI64Type();
  // K from the (constant or run-time) input.
  Value kTensor = binder.rankedInput(1);
  if (!kTensor)
    return binder.emitError("expects K"), failure();
  Value k = tensor::ExtractOp::create(
      rewriter, loc, kTensor,
      SmallVector<Value>(cast<RankedTensorType>(kTensor.getType()).getRank(),
                         arith::ConstantIndexOp::create(rewriter, loc, 0)));
  Value kIndex =
      arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), k);

  // ranks[..i..] = #{j : x[..j..] beats x[..i..]}.
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  SmallVector<AffineExpr> id, withJ;
  for (int64_t i = 0; i < rank; ++i) {
    id.push_back(d(i));
    withJ.push_back(i == *axis ? d(rank) : d(i));
  }
  SmallVector<OpFoldResult> xSizes = getSizes(rewriter, loc, x);
  Value zero64 =
      arith::ConstantOp::create(rewriter, loc, rewriter.getI64IntegerAttr(0));
  Value rankInit =
      linalg::FillOp::create(
          rewriter, loc, zero64,
          tensor::EmptyOp::create(rewriter, loc, xSizes, i64).getResult())
          .getResult(0);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  iters.push_back(utils::IteratorType::reduction);
  Value ranks =
      linalg::GenericOp::create(
          rewriter, loc, rankInit.getType(), ValueRange{x, x},
          ValueRange{rankInit},
          SmallVector<AffineMap>{AffineMap::get(rank + 1, 0, id, ctx),
                                 AffineMap::get(rank + 1, 0, withJ, ctx),
                                 AffineMap::get(rank + 1, 0, id, ctx)},
          iters,
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value i = linalg::IndexOp::create(b, l, *axis);
            Value j = linalg::IndexOp::create(b, l, rank);
            Value better = arith::CmpFOp::create(
                b, l,
                largest ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT,
                a[1], a[0]);
            Value tie = arith::AndIOp::create(
                b, l,
                arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, a[1],
                                      a[0]),
                arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, j, i));
            Value beats = arith::OrIOp::create(b, l, better, tie);
            Value one = arith::ExtUIOp::create(b, l, b.getI64Type(), beats);
            linalg::YieldOp::create(
                b, l, arith::AddIOp::create(b, l, a[2], one).getResult());
          })
          .getResult(0);

  // values/indices[..p..] = the element of rank p.
  SmallVector<OpFoldResult> outSizes = xSizes;
  outSizes[*axis] = kIndex;
  if (!valuesType.isDynamicDim(*axis))
    outSizes[*axis] = rewriter.getIndexAttr(valuesType.getDimSize(*axis));
  Value vInit = tensor::EmptyOp::create(rewriter, loc, outSizes, elem);
  Value iInit = tensor::EmptyOp::create(rewriter, loc, outSizes, i64);
  SmallVector<AffineExpr> withI;
  for (int64_t i = 0; i < rank; ++i)
    withI.push_back(i == *axis ? d(rank) : d(i));
  auto gather = linalg::GenericOp::create(
      rewriter, loc, TypeRange{vInit.getType(), iInit.getType()},
      ValueRange{x, ranks}, ValueRange{vInit, iInit},
      SmallVector<AffineMap>{AffineMap::get(rank + 1, 0, withI, ctx),
                             AffineMap::get(rank + 1, 0, withI, ctx),
                             AffineMap::get(rank + 1, 0, id, ctx),
                             AffineMap::get(rank + 1, 0, id, ctx)},
      iters, [&](OpBuilder &b, Location l, ValueRange a) {
        Value p = arith::IndexCastOp::create(
            b, l, b.getI64Type(), linalg::IndexOp::create(b, l, *axis));
        Value i = arith::IndexCastOp::create(
            b, l, b.getI64Type(), linalg::IndexOp::create(b, l, rank));
        Value hit =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[1], p);
        linalg::YieldOp::create(
            b, l,
            ValueRange{arith::SelectOp::create(b, l, hit, a[0], a[2]),
                       arith::SelectOp::create(b, l, hit, i, a[3])});
      });
  binder.replace(rewriter, gather.getResults());
  return success();
}

void loom::populateOnnxScatterHandlers(OnnxHandlerRegistry &registry) {
  registry.add("ScatterElements", 11, legalizeScatterElements);
  registry.add("TopK", 10, legalizeTopK);
}
