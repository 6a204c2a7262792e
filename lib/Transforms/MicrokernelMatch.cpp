//===- MicrokernelMatch.cpp - Contractions that microkernels compute ------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Microkernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

bool loom::isMultiplyAccumulateBody(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return false;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value a = body.getArgument(0), b = body.getArgument(1),
        out = body.getArgument(2);
  auto isProduct = [&](Value v) {
    auto mul = v.getDefiningOp<arith::MulFOp>();
    return mul && ((mul.getLhs() == a && mul.getRhs() == b) ||
                   (mul.getLhs() == b && mul.getRhs() == a));
  };
  return (add.getLhs() == out && isProduct(add.getRhs())) ||
         (add.getRhs() == out && isProduct(add.getLhs()));
}

/// Which loops `map` walks (each at most once), or std::nullopt when a
/// result is neither a loop nor the constant 0 or repeats a loop.
static std::optional<llvm::SmallBitVector> walkedLoops(AffineMap map) {
  llvm::SmallBitVector loops(map.getNumDims());
  for (AffineExpr e : map.getResults()) {
    if (auto d = dyn_cast<AffineDimExpr>(e)) {
      if (loops.test(d.getPosition()))
        return std::nullopt;
      loops.set(d.getPosition());
      continue;
    }
    auto c = dyn_cast<AffineConstantExpr>(e);
    if (!c || c.getValue() != 0)
      return std::nullopt;
  }
  return loops;
}

std::optional<loom::MatmulLoops>
loom::matchMicrokernelMatmul(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumResults() > 1)
    return std::nullopt;
  for (Value v : op->getOperands()) {
    auto shaped = dyn_cast<ShapedType>(v.getType());
    if (!shaped || !shaped.getElementType().isF32())
      return std::nullopt;
  }
  if (!isMultiplyAccumulateBody(op))
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto a = walkedLoops(maps[0]), b = walkedLoops(maps[1]),
       c = walkedLoops(maps[2]);
  if (!a || !b || !c)
    return std::nullopt;
  MatmulLoops loops;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (unsigned d = 0, e = op.getNumLoops(); d < e; ++d) {
    bool inA = a->test(d), inB = b->test(d), inC = c->test(d);
    if (iterators[d] == utils::IteratorType::reduction) {
      if (inC || !inA || !inB)
        return std::nullopt;
      loops.k.push_back(d);
      continue;
    }
    if (!inC)
      return std::nullopt;
    if (inA && !inB)
      loops.m.push_back(d);
    else if (inB && !inA)
      loops.n.push_back(d);
    else
      loops.batch.push_back(d);
  }
  if (loops.m.empty() || loops.n.empty() || loops.k.empty())
    return std::nullopt;
  return loops;
}

bool loom::isPureDataMovement(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1)
    return false;
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 1)
    return false;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (yield.getValues().size() != 1 ||
      yield.getValues()[0] != body.getArgument(0))
    return false;
  // Every index a loop or 0: fused into a contraction, the operand keeps a
  // strided layout (a gather such as im2col's would not).
  return walkedLoops(op.getIndexingMapsArray()[0]).has_value();
}

bool loom::isScalarFill(linalg::LinalgOp op) {
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      isa<ShapedType>(op.getDpsInputs()[0].getType()))
    return false;
  if (isa<linalg::FillOp>(op.getOperation()))
    return true;
  auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
  return generic && isPureDataMovement(generic);
}
