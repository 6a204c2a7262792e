//===- MicrokernelMatch.cpp - Contractions that microkernels compute ------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Microkernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"

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

/// Whether `v` is a float constant within 1e-6 (relative) of `expected`.
static bool isConstant(Value v, double expected) {
  FloatAttr attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return false;
  return std::abs(attr.getValueAsDouble() - expected) <=
         1e-6 * std::abs(expected);
}

/// When `v` is a binary op `Op` with `x` as one operand, the other operand.
template <typename Op> static Value otherOperand(Value v, Value x) {
  auto op = v.getDefiningOp<Op>();
  if (!op)
    return Value();
  if (op.getLhs() == x)
    return op.getRhs();
  if (op.getRhs() == x)
    return op.getLhs();
  return Value();
}

/// When `v` is a binary op `Op` with a constant `c` as one operand, the
/// other operand.
template <typename Op> static Value byConstant(Value v, double c) {
  auto op = v.getDefiningOp<Op>();
  if (!op)
    return Value();
  if (isConstant(op.getRhs(), c))
    return op.getLhs();
  if (isConstant(op.getLhs(), c))
    return op.getRhs();
  return Value();
}

/// The leaves of the tree of arith.addf ops rooted at `v` (inside `body`).
static void addends(Value v, Block *body, SmallVectorImpl<Value> &leaves) {
  auto add = v.getDefiningOp<arith::AddFOp>();
  if (!add || add->getBlock() != body) {
    leaves.push_back(v);
    return;
  }
  addends(add.getLhs(), body, leaves);
  addends(add.getRhs(), body, leaves);
}

/// When `v` is a GELU (as loom.gelu lowers: 0.5 x (1 + erf(x / sqrt 2)) or
/// its tanh form) or a ReLU of some x, returns x and sets `act`.
static Value activationInput(Value v, loom::EpilogueActivation &act) {
  if (v.getDefiningOp<arith::MaximumFOp>()) {
    act = loom::EpilogueActivation::Relu;
    return byConstant<arith::MaximumFOp>(v, 0.0);
  }
  auto mul = v.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return Value();
  for (auto [half, onePlus] : {std::pair(mul.getLhs(), mul.getRhs()),
                               std::pair(mul.getRhs(), mul.getLhs())}) {
    Value x = byConstant<arith::MulFOp>(half, 0.5);
    Value inner = byConstant<arith::AddFOp>(onePlus, 1.0);
    if (!x || !inner)
      continue;
    if (auto erf = inner.getDefiningOp<math::ErfOp>()) {
      if (byConstant<arith::MulFOp>(erf.getOperand(), 0.7071067811865476) != x)
        continue;
      act = loom::EpilogueActivation::Gelu;
      return x;
    }
    auto tanh = inner.getDefiningOp<math::TanhOp>();
    if (!tanh)
      continue;
    // tanh(0.79788 * (x + 0.044715 * (x * (x * x)))).
    Value t = byConstant<arith::MulFOp>(tanh.getOperand(), 0.7978845608028654);
    Value cubeTerm = t ? otherOperand<arith::AddFOp>(t, x) : Value();
    Value cube =
        cubeTerm ? byConstant<arith::MulFOp>(cubeTerm, 0.044715) : Value();
    Value square = cube ? otherOperand<arith::MulFOp>(cube, x) : Value();
    if (!square || otherOperand<arith::MulFOp>(square, x) != x)
      continue;
    act = loom::EpilogueActivation::GeluTanh;
    return x;
  }
  return Value();
}

std::optional<loom::EpilogueBody> loom::matchEpilogueBody(linalg::GenericOp op,
                                                          unsigned gemmInput) {
  if (op.getNumDpsInits() != 1 || op.getNumResults() > 1 ||
      gemmInput >= op.getNumDpsInputs() ||
      op.getNumParallelLoops() != op.getNumLoops())
    return std::nullopt;
  Block *body = op.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (yield.getValues().size() != 1)
    return std::nullopt;
  Value g = body->getArgument(gemmInput);
  // Input block arguments other than g, each at most once.
  auto inputOf = [&](Value v) -> std::optional<unsigned> {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != body ||
        arg.getArgNumber() >= op.getNumDpsInputs() || arg == g)
      return std::nullopt;
    return arg.getArgNumber();
  };

  EpilogueBody result;
  SmallVector<Value> outer;
  addends(yield.getValues()[0], body, outer);
  // Without an activation: g plus up to two inputs, in any order.
  if (llvm::is_contained(outer, g)) {
    if (outer.size() > 3 || llvm::count(outer, g) != 1)
      return std::nullopt;
    SmallVector<unsigned, 2> others;
    for (Value v : outer) {
      if (v == g)
        continue;
      std::optional<unsigned> input = inputOf(v);
      if (!input || llvm::is_contained(others, *input))
        return std::nullopt;
      others.push_back(*input);
    }
    if (!others.empty())
      result.bias = others[0];
    if (others.size() > 1)
      result.residual = others[1];
    return result;
  }
  // act(pre) + residual: one addend is the activation, one an input.
  if (outer.size() > 2)
    return std::nullopt;
  Value activated = outer[0];
  if (outer.size() == 2) {
    result.residual = inputOf(outer[1]);
    if (!result.residual) {
      activated = outer[1];
      result.residual = inputOf(outer[0]);
    }
    if (!result.residual)
      return std::nullopt;
  }
  Value pre = activationInput(activated, result.act);
  if (!pre)
    return std::nullopt;
  SmallVector<Value> inner;
  addends(pre, body, inner);
  if (inner.size() > 2 || llvm::count(inner, g) != 1)
    return std::nullopt;
  for (Value v : inner) {
    if (v == g)
      continue;
    result.bias = inputOf(v);
    if (!result.bias || result.bias == result.residual)
      return std::nullopt;
  }
  return result;
}
