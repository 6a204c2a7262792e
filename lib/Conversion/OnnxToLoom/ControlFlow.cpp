//===- ControlFlow.cpp - ONNX control flow and scatter handlers -----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace loom;

/// Returns the region of `op` for subgraph attribute `name`, or null.
static Region *subgraph(onnxir::NodeOp op, StringRef name) {
  if (!op.getSubgraphs())
    return nullptr;
  for (auto [attr, region] : llvm::zip(*op.getSubgraphs(), op.getBodies()))
    if (cast<StringAttr>(attr).getValue() == name)
      return &region;
  return nullptr;
}

/// If -> scf.if; the branch bodies move into the scf.if regions (their
/// holder ops are legalized afterwards) and onnx.yield becomes scf.yield.
static LogicalResult legalizeIf(OpBinder &binder, RewriterBase &rewriter) {
  onnxir::NodeOp op = binder.getOp();
  Value cond = binder.rankedInput(0);
  Region *thenRegion = subgraph(op, "then_branch");
  Region *elseRegion = subgraph(op, "else_branch");
  if (!cond || !thenRegion || !elseRegion)
    return binder.emitError("expects a condition and both branches"), failure();
  SmallVector<Type> types;
  for (Type t : op->getResultTypes()) {
    if (!isa<RankedTensorType>(t))
      return binder.unsupported("If results that are not ranked tensors");
    types.push_back(t);
  }
  Location loc = binder.getLoc();
  auto condType = cast<RankedTensorType>(cond.getType());
  if (condType.getNumElements() != 1)
    return binder.emitError("the condition must have one element"), failure();
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value c = tensor::ExtractOp::create(
      rewriter, loc, cond, SmallVector<Value>(condType.getRank(), zero));
  auto ifOp = scf::IfOp::create(rewriter, loc, types, c, /*withElse=*/true);
  for (auto [from, to] : {std::pair{thenRegion, &ifOp.getThenRegion()},
                          std::pair{elseRegion, &ifOp.getElseRegion()}}) {
    if (from->front().getNumArguments() != 0)
      return binder.emitError("If branches take no inputs"), failure();
    rewriter.eraseBlock(&to->front());
    rewriter.inlineRegionBefore(*from, *to, to->end());
    auto yield = cast<onnxir::YieldOp>(to->front().getTerminator());
    rewriter.setInsertionPoint(yield);
    SmallVector<Value> values;
    for (auto [v, t] : llvm::zip(yield.getValues(), types)) {
      if (v.getType() != t) {
        if (!tensor::CastOp::areCastCompatible(v.getType(), t))
          return binder.emitError("a branch yields an incompatible type"),
                 failure();
        v = tensor::CastOp::create(rewriter, loc, t, v);
      }
      values.push_back(v);
    }
    rewriter.replaceOpWithNewOp<scf::YieldOp>(yield, values);
  }
  rewriter.setInsertionPointAfter(ifOp);
  binder.replace(rewriter, ifOp.getResults());
  return success();
}

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
  SmallVector<Value> lbs(rank, zero), steps(rank, one), ubs;
  for (int64_t i = 0; i < rank; ++i)
    ubs.push_back(tensor::DimOp::create(rewriter, loc, indices, i));
  scf::LoopNest nest = scf::buildLoopNest(
      rewriter, loc, lbs, ubs, steps, ValueRange{data},
      [&](OpBuilder &b, Location l, ValueRange ivs,
          ValueRange iter) -> scf::ValueVector {
        Value idx = tensor::ExtractOp::create(b, l, indices, ivs);
        Value i = arith::IndexCastOp::create(b, l, b.getIndexType(), idx);
        Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, i, zero);
        i = arith::SelectOp::create(b, l, neg,
                                    arith::AddIOp::create(b, l, i, axisSize), i);
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

void loom::populateOnnxControlFlowHandlers(OnnxHandlerRegistry &registry) {
  registry.add("If", 1, legalizeIf);
  registry.add("ScatterElements", 11, legalizeScatterElements);
}
