//===- SimplifyShapes.cpp - Run-time shapes back to reshapes that are views
//===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Exported transformers compute their reshapes' shapes at run time (Shape ->
// Gather -> Unsqueeze -> Concat -> Reshape), and legalization turns them into
// rank-0 generics, small integer tensors and a `tensor.reshape` to a shape
// tensor. Bufferized, such a reshape needs an identity-layout source and
// copies every strided one (the query, key and value slices of a fused QKV
// projection: three copies per layer). This pass evaluates the shape
// arithmetic symbolically (the elements become the `tensor.dim` values they
// came from) and rewrites each reshape whose sizes it then knows into
// `tensor.expand_shape` / `tensor.collapse_shape`, which are views.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace loom {
#define GEN_PASS_DEF_SIMPLIFYSHAPESPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-simplify-shapes"

using namespace mlir;

/// Most operations in a rank-0 generic's body that is scalarized.
static constexpr size_t kMaxScalarizedOps = 32;

namespace {
/// A `linalg.generic` without loops (every operand a rank-0 tensor or a
/// scalar) and with a side-effect-free body computes one scalar per result:
/// its body is inlined on the extracted scalars, and each result becomes a
/// `tensor.from_elements`. Shape arithmetic (Gather on a Shape, Cast, Add of
/// scalars) then folds like any scalar code, and no one-iteration parallel
/// loop is left for it.
struct ScalarizeRank0Generic : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getNumLoops() != 0 || !op.hasPureTensorSemantics())
      return rewriter.notifyMatchFailure(op, "has loops or buffers");
    Block *body = op.getBody();
    if (body->getOperations().size() > kMaxScalarizedOps)
      return rewriter.notifyMatchFailure(op, "large body");
    for (Operation &inner : body->without_terminator())
      if (!isMemoryEffectFree(&inner) || inner.getNumRegions() != 0)
        return rewriter.notifyMatchFailure(op, "body with effects or regions");
    for (Value operand : op->getOperands())
      if (auto type = dyn_cast<ShapedType>(operand.getType());
          type && (!isa<RankedTensorType>(type) || type.getRank() != 0))
        return rewriter.notifyMatchFailure(op, "operand of rank > 0");

    Location loc = op.getLoc();
    IRMapping map;
    for (auto [arg, operand] :
         llvm::zip_equal(body->getArguments(), op->getOperands())) {
      Value scalar = operand;
      if (isa<RankedTensorType>(operand.getType()))
        scalar =
            tensor::ExtractOp::create(rewriter, loc, operand, ValueRange{});
      map.map(arg, scalar);
    }
    for (Operation &inner : body->without_terminator())
      rewriter.clone(inner, map);
    SmallVector<Value> results;
    for (auto [value, result] : llvm::zip_equal(
             body->getTerminator()->getOperands(), op->getResults()))
      results.push_back(tensor::FromElementsOp::create(
          rewriter, loc, result.getType(), map.lookupOrDefault(value)));
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// The constant indices of `op`, or nothing.
static std::optional<SmallVector<int64_t>>
constantIndices(tensor::ExtractOp op) {
  SmallVector<int64_t> indices;
  for (Value index : op.getIndices()) {
    std::optional<int64_t> c = getConstantIntValue(index);
    if (!c)
      return std::nullopt;
    indices.push_back(*c);
  }
  return indices;
}

/// `tensor.extract` at constant indices of a `tensor.insert_slice` (static
/// offsets, sizes and strides, no rank reduction): the element comes from
/// the inserted tensor or from the destination. Concat's chains of inserts
/// build the shape tensors.
struct ExtractOfInsertSlice : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::ExtractOp op,
                                PatternRewriter &rewriter) const override {
    auto insert = op.getTensor().getDefiningOp<tensor::InsertSliceOp>();
    std::optional<SmallVector<int64_t>> indices = constantIndices(op);
    if (!insert || !indices ||
        insert.getSourceType().getRank() != insert.getDestType().getRank() ||
        ShapedType::isDynamicShape(insert.getStaticOffsets()) ||
        ShapedType::isDynamicShape(insert.getStaticSizes()) ||
        ShapedType::isDynamicShape(insert.getStaticStrides()))
      return rewriter.notifyMatchFailure(op, "not a static insert_slice");
    SmallVector<Value> inner;
    bool inside = true;
    for (auto [i, index] : llvm::enumerate(*indices)) {
      int64_t offset = insert.getStaticOffsets()[i];
      int64_t size = insert.getStaticSizes()[i];
      int64_t stride = insert.getStaticStrides()[i];
      int64_t delta = index - offset;
      if (stride <= 0 || delta < 0 || delta % stride != 0 ||
          delta / stride >= size) {
        inside = false;
        break;
      }
      inner.push_back(arith::ConstantIndexOp::create(rewriter, op.getLoc(),
                                                     delta / stride));
    }
    if (inside)
      rewriter.replaceOpWithNewOp<tensor::ExtractOp>(op, insert.getSource(),
                                                     inner);
    else
      rewriter.replaceOpWithNewOp<tensor::ExtractOp>(op, insert.getDest(),
                                                     op.getIndices());
    return success();
  }
};

/// `tensor.extract` at constant indices of a `tensor.extract_slice` with
/// static offsets and strides (no rank reduction): the same element of the
/// sliced tensor. Reshape's "keep the first dims of Shape(x)" slices.
struct ExtractOfExtractSlice : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::ExtractOp op,
                                PatternRewriter &rewriter) const override {
    auto slice = op.getTensor().getDefiningOp<tensor::ExtractSliceOp>();
    std::optional<SmallVector<int64_t>> indices = constantIndices(op);
    if (!slice || !indices ||
        slice.getSourceType().getRank() != slice.getType().getRank() ||
        ShapedType::isDynamicShape(slice.getStaticOffsets()) ||
        ShapedType::isDynamicShape(slice.getStaticStrides()))
      return rewriter.notifyMatchFailure(op, "not a static extract_slice");
    SmallVector<Value> inner;
    for (auto [i, index] : llvm::enumerate(*indices))
      inner.push_back(arith::ConstantIndexOp::create(
          rewriter, op.getLoc(),
          slice.getStaticOffsets()[i] + index * slice.getStaticStrides()[i]));
    rewriter.replaceOpWithNewOp<tensor::ExtractOp>(op, slice.getSource(),
                                                   inner);
    return success();
  }
};

/// `tensor.extract` at constant indices of a reshape between static shapes
/// (`tensor.reshape`, `expand_shape`, `collapse_shape`): the same element of
/// the source, by its row-major position. Unsqueeze's reshapes of scalars.
struct ExtractOfReshape : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::ExtractOp op,
                                PatternRewriter &rewriter) const override {
    Operation *def = op.getTensor().getDefiningOp();
    if (!isa_and_nonnull<tensor::ReshapeOp, tensor::ExpandShapeOp,
                         tensor::CollapseShapeOp>(def))
      return rewriter.notifyMatchFailure(op, "not a reshape");
    Value source = def->getOperand(0);
    auto from = cast<RankedTensorType>(source.getType());
    auto to = cast<RankedTensorType>(op.getTensor().getType());
    std::optional<SmallVector<int64_t>> indices = constantIndices(op);
    if (!indices || !from.hasStaticShape() || !to.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape or indices");
    int64_t linear = 0;
    for (auto [index, size] : llvm::zip_equal(*indices, to.getShape())) {
      if (index < 0 || index >= size)
        return rewriter.notifyMatchFailure(op, "index out of bounds");
      linear = linear * size + index;
    }
    SmallVector<Value> inner(from.getRank());
    for (int64_t i = from.getRank() - 1; i >= 0; --i) {
      inner[i] = arith::ConstantIndexOp::create(rewriter, op.getLoc(),
                                                linear % from.getDimSize(i));
      linear /= from.getDimSize(i);
    }
    rewriter.replaceOpWithNewOp<tensor::ExtractOp>(op, source, inner);
    return success();
  }
};

/// The sizes a `tensor.reshape`'s shape operand holds: from a constant or a
/// `tensor.from_elements` (constants as attributes).
static std::optional<SmallVector<OpFoldResult>>
reshapeSizes(tensor::ReshapeOp op) {
  Value shape = op.getShape();
  SmallVector<OpFoldResult> sizes;
  DenseIntElementsAttr dense;
  if (matchPattern(shape, m_Constant(&dense))) {
    for (const APInt &v : dense.getValues<APInt>())
      sizes.push_back(
          IntegerAttr::get(IndexType::get(op.getContext()), v.getSExtValue()));
    return sizes;
  }
  auto elements = shape.getDefiningOp<tensor::FromElementsOp>();
  if (!elements || !elements.getType().getElementType().isIndex())
    return std::nullopt;
  for (Value e : elements.getElements())
    sizes.push_back(getAsOpFoldResult(e));
  return sizes;
}

/// Whether the value-bounds analysis proves `a` and `b` equal.
static bool provedEqual(const ValueBoundsConstraintSet::Variable &a,
                        const ValueBoundsConstraintSet::Variable &b) {
  FailureOr<bool> equal = ValueBoundsConstraintSet::areEqual(a, b);
  return succeeded(equal) && *equal;
}

/// One dim of a shape: a constant, a dim of a shaped value, or an index
/// value.
struct Extent {
  std::optional<int64_t> constant;
  Value shaped; // with `dim`, or null
  int64_t dim = 0;
  Value value; // when neither of the above

  bool isUnit() const { return constant == 1; }

  /// Whether both are the same size: equal constants, or values the
  /// value-bounds analysis proves equal.
  bool equals(const Extent &other) const {
    if (constant || other.constant)
      return constant == other.constant;
    return provedEqual(variable(), other.variable());
  }

private:
  ValueBoundsConstraintSet::Variable variable() const {
    if (shaped)
      return ValueBoundsConstraintSet::Variable(shaped, dim);
    return ValueBoundsConstraintSet::Variable(OpFoldResult(value));
  }
};

/// The dims of `shaped`.
static SmallVector<Extent> extentsOfDims(Value shaped) {
  auto type = cast<RankedTensorType>(shaped.getType());
  SmallVector<Extent> extents;
  for (int64_t i = 0; i < type.getRank(); ++i)
    extents.push_back(type.isDynamicDim(i)
                          ? Extent{std::nullopt, shaped, i, nullptr}
                          : Extent{type.getDimSize(i), nullptr, 0, nullptr});
  return extents;
}

/// The sizes in `sizes`.
static SmallVector<Extent> extentsOfSizes(ArrayRef<OpFoldResult> sizes) {
  SmallVector<Extent> extents;
  for (OpFoldResult s : sizes) {
    std::optional<int64_t> c = getConstantIntValue(s);
    extents.push_back(c ? Extent{c, nullptr, 0, nullptr}
                        : Extent{std::nullopt, nullptr, 0, cast<Value>(s)});
  }
  return extents;
}

/// Groups the `many` extents into consecutive runs, one per extent of
/// `few`: a constant is the product of a run of constants, any other extent
/// is one equal extent of `many`, with unit extents before it; trailing
/// unit extents join the last run. Empty when there is no such grouping.
static SmallVector<ReassociationIndices> group(ArrayRef<Extent> few,
                                               ArrayRef<Extent> many) {
  SmallVector<ReassociationIndices> groups;
  size_t j = 0;
  for (const Extent &f : few) {
    ReassociationIndices run;
    if (!f.constant) {
      while (j < many.size() && many[j].isUnit())
        run.push_back(j++);
      if (j >= many.size() || !f.equals(many[j]))
        return {};
      run.push_back(j++);
    } else {
      int64_t product = 1;
      do {
        if (j >= many.size() || !many[j].constant || *many[j].constant <= 0 ||
            product * *many[j].constant > *f.constant)
          return {};
        product *= *many[j].constant;
        run.push_back(j++);
      } while (product != *f.constant);
    }
    groups.push_back(run);
  }
  for (; j < many.size(); ++j) {
    if (groups.empty() || !many[j].isUnit())
      return {};
    groups.back().push_back(j);
  }
  return groups;
}

/// Splits the index value `v`, a product (`arith.muli` trees), into its
/// constant factor (times into `constant`) and its other factors (appended
/// to `others`; a constant that would overflow the product is one too).
static void splitProduct(Value v, int64_t &constant, SmallVector<Value> &others,
                         int depth = 0) {
  if (std::optional<int64_t> c = getConstantIntValue(v)) {
    int64_t product;
    if (!__builtin_mul_overflow(constant, *c, &product)) {
      constant = product;
      return;
    }
  } else if (auto mul = v.getDefiningOp<arith::MulIOp>(); mul && depth < 8) {
    splitProduct(mul.getLhs(), constant, others, depth + 1);
    splitProduct(mul.getRhs(), constant, others, depth + 1);
    return;
  }
  others.push_back(v);
}

/// Whether index values `a` and `b` are the same size: the same value, or
/// values the value-bounds analysis proves equal.
static bool sameSize(Value a, Value b) {
  return a == b ||
         provedEqual(ValueBoundsConstraintSet::Variable(OpFoldResult(a)),
                     ValueBoundsConstraintSet::Variable(OpFoldResult(b)));
}

/// Removes from `from` one factor equal to each of `factors`; false when
/// one has no match.
static bool cancelFactors(SmallVector<Value> &from, ArrayRef<Value> factors) {
  for (Value f : factors) {
    auto it = llvm::find_if(from, [&](Value g) { return sameSize(f, g); });
    if (it == from.end())
      return false;
    from.erase(it);
  }
  return true;
}

/// ONNX Reshape's -1: legalization computes that size as
/// `count / max(product of the other sizes, 1)`, which the grouping below
/// cannot compare with the source's dims. Where `count` is the source's
/// element count and the divisor multiplies exactly the other sizes, the
/// quotient is the product of the source's factors that the other sizes
/// leave: returned as a constant or the one remaining value. (For an empty
/// source with a 0 among the other sizes the legalized quotient is 0, where
/// this gives ONNX shape inference's size; ONNX Runtime rejects that
/// reshape.)
static std::optional<OpFoldResult> inferredSize(OpBuilder &b, Value size,
                                                ArrayRef<OpFoldResult> sizes,
                                                unsigned position,
                                                Value source) {
  auto div = size.getDefiningOp<arith::DivUIOp>();
  auto max = div ? div.getRhs().getDefiningOp<arith::MaxUIOp>() : nullptr;
  if (!max || getConstantIntValue(max.getRhs()) != 1)
    return std::nullopt;
  // The divisor: exactly the other sizes.
  int64_t divisorConstant = 1, othersConstant = 1;
  SmallVector<Value> divisor, others;
  splitProduct(max.getLhs(), divisorConstant, divisor);
  for (auto [i, other] : llvm::enumerate(sizes)) {
    if (i == position)
      continue;
    if (std::optional<int64_t> c = getConstantIntValue(other)) {
      if (__builtin_mul_overflow(othersConstant, *c, &othersConstant))
        return std::nullopt;
    } else
      splitProduct(cast<Value>(other), othersConstant, others);
  }
  if (divisorConstant != othersConstant || divisorConstant <= 0 ||
      divisor.size() != others.size() || !cancelFactors(divisor, others))
    return std::nullopt;
  // The dividend: the source's element count.
  int64_t countConstant = 1;
  SmallVector<Value> count;
  splitProduct(div.getLhs(), countConstant, count);
  auto type = cast<RankedTensorType>(source.getType());
  int64_t sourceConstant = 1;
  SmallVector<Value> sourceDims;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (!type.isDynamicDim(i)) {
      if (__builtin_mul_overflow(sourceConstant, type.getDimSize(i),
                                 &sourceConstant))
        return std::nullopt;
      continue;
    }
    // Compared by the value-bounds analysis, which relates the dims of the
    // source to the values the shape arithmetic read.
    auto it = llvm::find_if(count, [&](Value v) {
      return provedEqual(ValueBoundsConstraintSet::Variable(source, i),
                         ValueBoundsConstraintSet::Variable(OpFoldResult(v)));
    });
    if (it == count.end())
      return std::nullopt;
    sourceDims.push_back(*it);
    count.erase(it);
  }
  if (!count.empty() || countConstant != sourceConstant)
    return std::nullopt;
  // The quotient: the source's factors less the other sizes'.
  if (sourceConstant % othersConstant != 0 ||
      !cancelFactors(sourceDims, others))
    return std::nullopt;
  int64_t constant = sourceConstant / othersConstant;
  if (sourceDims.empty())
    return OpFoldResult(b.getIndexAttr(constant));
  if (sourceDims.size() == 1 && constant == 1)
    return OpFoldResult(sourceDims.front());
  return std::nullopt;
}

/// A `tensor.reshape` whose sizes are known (constants, or values equal to
/// the source's dims) and that only splits or only merges dims becomes a
/// `tensor.expand_shape` or `tensor.collapse_shape`.
struct ReshapeToExpandOrCollapse : OpRewritePattern<tensor::ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<SmallVector<OpFoldResult>> sizes = reshapeSizes(op);
    auto from = cast<RankedTensorType>(op.getSource().getType());
    auto to = cast<RankedTensorType>(op.getResult().getType());
    if (!sizes || (int64_t)sizes->size() != to.getRank())
      return rewriter.notifyMatchFailure(op, "shape not known");
    for (unsigned i = 0; i < sizes->size(); ++i)
      if (auto v = dyn_cast<Value>((*sizes)[i]))
        if (std::optional<OpFoldResult> inferred =
                inferredSize(rewriter, v, *sizes, i, op.getSource())) {
          (*sizes)[i] = *inferred;
          break;
        }
    SmallVector<Extent> source = extentsOfDims(op.getSource());
    SmallVector<Extent> result = extentsOfSizes(*sizes);
    bool expand = from.getRank() <= to.getRank();
    SmallVector<ReassociationIndices> groups =
        expand ? group(source, result) : group(result, source);
    if (groups.empty() ||
        (int64_t)groups.size() != std::min(from.getRank(), to.getRank()))
      return rewriter.notifyMatchFailure(op, "not a split or merge of dims");

    Location loc = op.getLoc();
    Value reshaped = op.getSource();
    if (from.getRank() < to.getRank()) {
      // A constant size makes its dim static.
      SmallVector<int64_t> shape;
      for (const Extent &e : result)
        shape.push_back(e.constant.value_or(ShapedType::kDynamic));
      auto type = RankedTensorType::get(shape, to.getElementType());
      if (failed(verifyCompatibleShape(type, to)))
        return rewriter.notifyMatchFailure(op, "sizes contradict the type");
      reshaped = tensor::ExpandShapeOp::create(rewriter, loc, type, reshaped,
                                               groups, *sizes);
    } else if (from.getRank() > to.getRank()) {
      RankedTensorType type =
          tensor::CollapseShapeOp::inferCollapsedType(from, groups);
      if (failed(verifyCompatibleShape(type, to)))
        return rewriter.notifyMatchFailure(op, "sizes contradict the type");
      reshaped = tensor::CollapseShapeOp::create(rewriter, loc, type, reshaped,
                                                 groups);
    }
    if (reshaped.getType() != to)
      reshaped = tensor::CastOp::create(rewriter, loc, to, reshaped);
    rewriter.replaceOp(op, reshaped);
    return success();
  }
};

struct SimplifyShapesPass final
    : public loom::impl::SimplifyShapesPassBase<SimplifyShapesPass> {
  using Base::Base;

  /// The patterns above with every canonicalization pattern.
  static LogicalResult simplify(Operation *root) {
    MLIRContext *ctx = root->getContext();
    RewritePatternSet patterns(ctx);
    patterns
        .add<ScalarizeRank0Generic, ExtractOfInsertSlice, ExtractOfExtractSlice,
             ExtractOfReshape, ReshapeToExpandOrCollapse>(ctx);
    for (Dialect *dialect : ctx->getLoadedDialects())
      dialect->getCanonicalizationPatterns(patterns);
    for (RegisteredOperationName name : ctx->getRegisteredOperations())
      name.getCanonicalizationPatterns(patterns, ctx);
    return applyPatternsGreedily(root, std::move(patterns));
  }

  void runOnOperation() override {
    // Fold the element chains, then let the integer-range analysis settle
    // the reshape's `size == 0` / `size == -1` tests on dims (never
    // negative), then rewrite the reshapes whose sizes are now known.
    if (failed(simplify(getOperation())))
      return signalPassFailure();
    OpPassManager ranges(getOperation()->getName());
    ranges.addPass(arith::createIntRangeOptimizationsPass());
    if (failed(runPipeline(ranges, getOperation())) ||
        failed(simplify(getOperation())))
      return signalPassFailure();
  }
};
} // namespace
