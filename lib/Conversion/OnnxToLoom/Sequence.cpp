//===- Sequence.cpp - ONNX sequence handlers ------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// An ONNX sequence of rank-R tensors is carried as three tensors (SeqParts):
// the elements' data back to back in one 1-D tensor, their shapes as an
// (n + 1) x R i64 tensor whose last row is a zero "sentinel" shape, and their
// offsets into the data as n + 1 i64 values (offsets[n] is the data size).
// Elements may differ in shape. The parts travel as one `!onnx.seq` value
// built by an `unrealized_conversion_cast` from the three tensors, so holder
// ops and region terminators see one value; the driver folds the casts away
// once every node is legal. Positions out of range read the sentinel (an
// empty tensor) and insert or erase at the nearest end: never an access
// outside the tensors.
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace loom;

//===----------------------------------------------------------------------===//
// SeqParts helpers
//===----------------------------------------------------------------------===//

SmallVector<Type, 3> loom::seqPartTypes(Type elem, int64_t rank) {
  Type i64 = IntegerType::get(elem.getContext(), 64);
  return {RankedTensorType::get({ShapedType::kDynamic}, elem),
          RankedTensorType::get({ShapedType::kDynamic, rank}, i64),
          RankedTensorType::get({ShapedType::kDynamic}, i64)};
}

std::optional<SeqParts> loom::getSeqParts(Value seq) {
  if (!seq || !isa<onnxir::SeqType>(seq.getType()))
    return std::nullopt;
  auto cast = seq.getDefiningOp<UnrealizedConversionCastOp>();
  if (!cast || cast->getNumOperands() != 3 || cast->getNumResults() != 1)
    return std::nullopt;
  return SeqParts{cast.getOperand(0), cast.getOperand(1), cast.getOperand(2)};
}

Value loom::packSeq(OpBuilder &b, Location loc, Type seqType,
                    const SeqParts &parts) {
  return UnrealizedConversionCastOp::create(
             b, loc, seqType,
             ValueRange{parts.data, parts.shapes, parts.offsets})
      .getResult(0);
}

/// The element tensor type of a sequence type, or null.
static TensorType seqElementType(Type seqType) {
  auto seq = dyn_cast<onnxir::SeqType>(seqType);
  return seq ? dyn_cast<TensorType>(seq.getElementType()) : nullptr;
}

/// The region of `node` whose block arguments and terminator `value` belongs
/// to, when `node` is a Loop.
static onnxir::NodeOp loopOf(Block *block) {
  auto node = dyn_cast_or_null<onnxir::NodeOp>(block->getParentOp());
  return node && node.getOpType() == "Loop" ? node : nullptr;
}

FailureOr<int64_t> loom::inferSeqRank(Value seq) {
  SmallVector<Value> worklist{seq};
  llvm::DenseSet<Value> seen;
  auto rankOf = [](Value v) -> std::optional<int64_t> {
    if (auto t = dyn_cast_or_null<RankedTensorType>(v ? v.getType() : Type()))
      return t.getRank();
    return std::nullopt;
  };
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    if (!v || !seen.insert(v).second)
      continue;
    if (TensorType t = seqElementType(v.getType()); t && t.hasRank())
      return t.getRank();
    if (std::optional<SeqParts> parts = getSeqParts(v))
      return cast<RankedTensorType>(parts->shapes.getType()).getDimSize(1);
    // Producers.
    if (auto node = v.getDefiningOp<onnxir::NodeOp>()) {
      StringRef type = node.getOpType();
      auto inputs = node.getInputs();
      unsigned idx = cast<OpResult>(v).getResultNumber();
      if (type == "SequenceInsert" && inputs.size() > 1)
        if (std::optional<int64_t> r = rankOf(inputs[1]))
          return *r;
      if (type == "SequenceConstruct" && !inputs.empty())
        if (std::optional<int64_t> r = rankOf(inputs[0]))
          return *r;
      if (type == "SplitToSequence" && !inputs.empty())
        if (std::optional<int64_t> r = rankOf(inputs[0])) {
          OpBinder binder(node);
          bool keep = binder.input(1) || binder.getInt("keepdims", 1) != 0;
          return keep ? *r : *r - 1;
        }
      if ((type == "SequenceInsert" || type == "SequenceErase" ||
           type == "Identity") &&
          !inputs.empty())
        worklist.push_back(inputs[0]);
      if (type == "Loop" && node->getNumRegions() == 1) {
        Block &body = node->getRegion(0).front();
        if (idx + 2 < inputs.size())
          worklist.push_back(inputs[idx + 2]);
        if (idx + 2 < body.getNumArguments())
          worklist.push_back(body.getArgument(idx + 2));
        if (idx + 1 < body.getTerminator()->getNumOperands())
          worklist.push_back(body.getTerminator()->getOperand(idx + 1));
      }
      if (type == "If")
        for (Region &region : node->getRegions())
          if (!region.empty() &&
              idx < region.front().getTerminator()->getNumOperands())
            worklist.push_back(region.front().getTerminator()->getOperand(idx));
    }
    if (auto arg = dyn_cast<BlockArgument>(v))
      if (onnxir::NodeOp loop = loopOf(arg.getOwner())) {
        unsigned k = arg.getArgNumber();
        Operation *yield = arg.getOwner()->getTerminator();
        if (k >= 2 && k < loop.getInputs().size())
          worklist.push_back(loop.getInputs()[k]);
        if (k >= 1 && k < yield->getNumOperands())
          worklist.push_back(yield->getOperand(k - 1));
        if (k >= 2 && k - 2 < loop->getNumResults())
          worklist.push_back(loop->getResult(k - 2));
      }
    // Users.
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      unsigned n = use.getOperandNumber();
      if (auto node = dyn_cast<onnxir::NodeOp>(user)) {
        StringRef type = node.getOpType();
        if (type == "SequenceInsert" && n == 0) {
          if (node.getInputs().size() > 1)
            if (std::optional<int64_t> r = rankOf(node.getInputs()[1]))
              return *r;
          worklist.push_back(node->getResult(0));
        }
        if (type == "SequenceAt" && n == 0)
          if (std::optional<int64_t> r = rankOf(node->getResult(0)))
            return *r;
        if (type == "ConcatFromSequence" && n == 0)
          if (std::optional<int64_t> r = rankOf(node->getResult(0)))
            return *r - (OpBinder(node).getInt("new_axis", 0) != 0 ? 1 : 0);
        if (type == "SequenceErase" || type == "Identity")
          worklist.push_back(node->getResult(0));
        if (type == "Loop" && n >= 2 && node->getNumRegions() == 1) {
          Block &body = node->getRegion(0).front();
          if (n < body.getNumArguments())
            worklist.push_back(body.getArgument(n));
          if (n - 2 < node->getNumResults())
            worklist.push_back(node->getResult(n - 2));
        }
        continue;
      }
      if (isa<onnxir::YieldOp>(user)) {
        Block *block = user->getBlock();
        auto parent = dyn_cast_or_null<onnxir::NodeOp>(block->getParentOp());
        if (!parent)
          continue;
        if (parent.getOpType() == "Loop" && n >= 1) {
          if (n - 1 < parent->getNumResults())
            worklist.push_back(parent->getResult(n - 1));
          if (n + 1 < block->getNumArguments())
            worklist.push_back(block->getArgument(n + 1));
        } else if (parent.getOpType() == "If" && n < parent->getNumResults()) {
          worklist.push_back(parent->getResult(n));
        }
      }
    }
  }
  return failure();
}

namespace {
/// Builds the index arithmetic of the sequence handlers.
struct SeqBuilder {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
  Value toI64(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, loc, x, y); }
  Value max(Value x, Value y) { return arith::MaxSIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value dim(Value t, int64_t i) { return tensor::DimOp::create(b, loc, t, i); }
  Value extract(Value t, ValueRange at) {
    return tensor::ExtractOp::create(b, loc, t, at);
  }

  /// The number of elements of the sequence.
  Value length(const SeqParts &p) { return sub(dim(p.offsets, 0), idx(1)); }
  /// The rank of the sequence's elements.
  int64_t rank(const SeqParts &p) {
    return cast<RankedTensorType>(p.shapes.getType()).getDimSize(1);
  }
  Type elementType(const SeqParts &p) {
    return cast<RankedTensorType>(p.data.getType()).getElementType();
  }
  /// The dims of element `k` (the sentinel's zeros for k = n).
  SmallVector<Value> dims(const SeqParts &p, Value k) {
    SmallVector<Value> dims;
    for (int64_t j = 0; j < rank(p); ++j)
      dims.push_back(toIndex(extract(p.shapes, {k, idx(j)})));
    return dims;
  }

  /// Element `k` of the sequence as a tensor with dynamic dims.
  Value read(const SeqParts &p, Value k) {
    SmallVector<Value> ds = dims(p, k);
    Value off = toIndex(extract(p.offsets, {k}));
    SmallVector<int64_t> shape(ds.size(), ShapedType::kDynamic);
    Value empty = tensor::EmptyOp::create(b, loc, shape, elementType(p), ds);
    return buildReadAt(
        b, loc, empty, ValueRange{}, {}, p.data,
        [&](OpBuilder &nb, Location l, ValueRange) {
          Value lin = arith::ConstantIndexOp::create(nb, l, 0);
          for (auto [j, d] : llvm::enumerate(ds)) {
            lin = arith::MulIOp::create(nb, l, lin, d);
            lin = arith::AddIOp::create(nb, l, lin,
                                        linalg::IndexOp::create(nb, l, j));
          }
          return SmallVector<Value>{arith::AddIOp::create(nb, l, off, lin)};
        });
  }

  /// `t` as a 1-D tensor<?xT> in row-major order.
  Value flatten(Value t) {
    auto type = cast<RankedTensorType>(t.getType());
    auto flatType =
        RankedTensorType::get({ShapedType::kDynamic}, type.getElementType());
    if (type.getRank() == 0) {
      Value one = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({1}, type.getElementType()), t,
          ArrayRef<ReassociationIndices>{});
      return tensor::CastOp::create(b, loc, flatType, one);
    }
    // A fresh copy has the identity layout, so the collapse never needs
    // strides the buffer does not have.
    Value empty = tensor::EmptyOp::create(b, loc, getSizes(b, loc, t),
                                          type.getElementType());
    Value copy = linalg::CopyOp::create(b, loc, t, empty).getResult(0);
    ReassociationIndices all;
    for (int64_t i = 0; i < type.getRank(); ++i)
      all.push_back(i);
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, copy, ArrayRef<ReassociationIndices>{all});
    if (flat.getType() != flatType)
      flat = tensor::CastOp::create(b, loc, flatType, flat);
    return flat;
  }

  /// Slice [offset, offset + size) of 1-D `t`.
  Value slice1D(Value t, Value offset, Value size) {
    return tensor::ExtractSliceOp::create(
        b, loc, t, ArrayRef<OpFoldResult>{offset}, ArrayRef<OpFoldResult>{size},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  }
  /// Rows [offset, offset + size) of 2-D `t`.
  Value rows(Value t, Value offset, Value size) {
    int64_t cols = cast<RankedTensorType>(t.getType()).getDimSize(1);
    return tensor::ExtractSliceOp::create(
        b, loc, t, ArrayRef<OpFoldResult>{offset, b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{size, b.getIndexAttr(cols)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }
  /// Writes `src` into `dest` at `offset` along dim 0.
  Value insertAt(Value src, Value dest, Value offset) {
    auto type = cast<RankedTensorType>(src.getType());
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    offsets[0] = offset;
    return tensor::InsertSliceOp::create(b, loc, src, dest, offsets,
                                         getSizes(b, loc, src), strides);
  }
  /// `t + delta` elementwise for a 1-D i64 tensor.
  Value addScalar(Value t, Value delta) {
    auto type = cast<RankedTensorType>(t.getType());
    Value empty = tensor::EmptyOp::create(b, loc, getSizes(b, loc, t),
                                          type.getElementType());
    AffineMap id = b.getMultiDimIdentityMap(1);
    return linalg::GenericOp::create(
               b, loc, empty.getType(), ValueRange{t}, ValueRange{empty},
               SmallVector<AffineMap>{id, id},
               SmallVector<utils::IteratorType>{utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location l, ValueRange a) {
                 linalg::YieldOp::create(
                     nb, l,
                     arith::AddIOp::create(nb, l, a[0], delta).getResult());
               })
        .getResult(0);
  }
  /// A 1 x R i64 tensor holding the dims of `t`.
  Value shapeRow(Value t) {
    auto type = cast<RankedTensorType>(t.getType());
    auto rowType = RankedTensorType::get({1, type.getRank()}, b.getI64Type());
    if (type.getRank() == 0)
      return tensor::EmptyOp::create(b, loc, rowType.getShape(),
                                     b.getI64Type());
    SmallVector<Value> dims;
    for (int64_t i = 0; i < type.getRank(); ++i)
      dims.push_back(toI64(dim(t, i)));
    return tensor::FromElementsOp::create(b, loc, rowType, dims);
  }

  /// An empty sequence of rank-`rank` tensors of `elem`.
  SeqParts empty(Type elem, int64_t rank) {
    SmallVector<Type, 3> types = seqPartTypes(elem, rank);
    Value data = tensor::EmptyOp::create(b, loc, {ShapedType::kDynamic}, elem,
                                         ValueRange{idx(0)});
    auto zerosType = RankedTensorType::get({1, rank}, b.getI64Type());
    Value shapes = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(zerosType, b.getI64IntegerAttr(0)));
    auto offType = RankedTensorType::get({1}, b.getI64Type());
    Value offsets = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(offType, b.getI64IntegerAttr(0)));
    return {data, tensor::CastOp::create(b, loc, types[1], shapes),
            tensor::CastOp::create(b, loc, types[2], offsets)};
  }

  /// Inserts `t` before position `pos` (an index in [0, n]).
  SeqParts insert(const SeqParts &p, Value t, Value pos) {
    SmallVector<Type, 3> types = seqPartTypes(elementType(p), rank(p));
    Value n = length(p);
    Value flat = flatten(t);
    Value m = dim(flat, 0);
    Value off = toIndex(extract(p.offsets, {pos}));
    Value total = dim(p.data, 0);
    // data: [0, off) ++ t ++ [off, total)
    Value data =
        tensor::EmptyOp::create(b, loc, {ShapedType::kDynamic}, elementType(p),
                                ValueRange{add(total, m)});
    data = insertAt(slice1D(p.data, idx(0), off), data, idx(0));
    data = insertAt(flat, data, off);
    data = insertAt(slice1D(p.data, off, sub(total, off)), data, add(off, m));
    // shapes: rows [0, pos) ++ shape(t) ++ rows [pos, n + 1)
    Value shapes =
        tensor::EmptyOp::create(b, loc, {ShapedType::kDynamic, rank(p)},
                                b.getI64Type(), ValueRange{add(n, idx(2))});
    shapes = insertAt(rows(p.shapes, idx(0), pos), shapes, idx(0));
    shapes = insertAt(shapeRow(t), shapes, pos);
    shapes = insertAt(rows(p.shapes, pos, sub(add(n, idx(1)), pos)), shapes,
                      add(pos, idx(1)));
    // offsets: [0, pos] unchanged, then the rest shifted by m.
    Value offsets =
        tensor::EmptyOp::create(b, loc, {ShapedType::kDynamic}, b.getI64Type(),
                                ValueRange{add(n, idx(2))});
    offsets =
        insertAt(slice1D(p.offsets, idx(0), add(pos, idx(1))), offsets, idx(0));
    offsets = insertAt(
        addScalar(slice1D(p.offsets, pos, sub(add(n, idx(1)), pos)), toI64(m)),
        offsets, add(pos, idx(1)));
    return {tensor::CastOp::create(b, loc, types[0], data),
            tensor::CastOp::create(b, loc, types[1], shapes),
            tensor::CastOp::create(b, loc, types[2], offsets)};
  }

  /// Removes the element at `pos` (an index in [0, n - 1]; n >= 1).
  SeqParts erase(const SeqParts &p, Value pos) {
    Value n = length(p);
    Value off = toIndex(extract(p.offsets, {pos}));
    Value next = toIndex(extract(p.offsets, {add(pos, idx(1))}));
    Value m = sub(next, off);
    Value total = dim(p.data, 0);
    Value data =
        tensor::EmptyOp::create(b, loc, {ShapedType::kDynamic}, elementType(p),
                                ValueRange{sub(total, m)});
    data = insertAt(slice1D(p.data, idx(0), off), data, idx(0));
    data = insertAt(slice1D(p.data, next, sub(total, next)), data, off);
    Value shapes = tensor::EmptyOp::create(
        b, loc, {ShapedType::kDynamic, rank(p)}, b.getI64Type(), ValueRange{n});
    shapes = insertAt(rows(p.shapes, idx(0), pos), shapes, idx(0));
    shapes =
        insertAt(rows(p.shapes, add(pos, idx(1)), sub(n, pos)), shapes, pos);
    Value offsets = tensor::EmptyOp::create(b, loc, {ShapedType::kDynamic},
                                            b.getI64Type(), ValueRange{n});
    offsets = insertAt(slice1D(p.offsets, idx(0), pos), offsets, idx(0));
    Value negM = arith::SubIOp::create(
        b, loc, arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)),
        toI64(m));
    offsets = insertAt(
        addScalar(slice1D(p.offsets, add(pos, idx(1)), sub(n, pos)), negM),
        offsets, pos);
    return {data, shapes, offsets};
  }

  /// An ONNX position (any integer tensor of one element, negative from the
  /// end) as an index; `n` is the length it counts from.
  Value position(Value posTensor, Value n) {
    auto type = cast<RankedTensorType>(posTensor.getType());
    Value v = extract(posTensor, SmallVector<Value>(type.getRank(), idx(0)));
    Value i = toIndex(v);
    return select(cmp(arith::CmpIPredicate::slt, i, idx(0)), add(i, n), i);
  }
};
} // namespace

/// The parts of sequence input `i`, or an error naming the node.
static FailureOr<SeqParts> seqInput(OpBinder &binder, unsigned i) {
  std::optional<SeqParts> parts = getSeqParts(binder.input(i));
  if (!parts) {
    if (binder.input(i) && isa<BlockArgument>(binder.input(i)) &&
        isa<func::FuncOp>(
            cast<BlockArgument>(binder.input(i)).getOwner()->getParentOp()))
      return (void)binder.unsupported("a sequence as a model input"), failure();
    return (void)binder.unsupported("this sequence operand"), failure();
  }
  return *parts;
}

//===----------------------------------------------------------------------===//
// Handlers
//===----------------------------------------------------------------------===//

/// Replaces the node by the sequence `parts` (packed as its result type).
static void replaceWithSeq(OpBinder &binder, RewriterBase &rewriter,
                           const SeqParts &parts) {
  binder.replace(rewriter,
                 packSeq(rewriter, binder.getLoc(),
                         binder.getOp()->getResult(0).getType(), parts));
}

static LogicalResult legalizeSequenceEmpty(OpBinder &binder,
                                           RewriterBase &rewriter) {
  Value result = binder.getOp()->getResult(0);
  TensorType elem = seqElementType(result.getType());
  FailureOr<int64_t> rank = inferSeqRank(result);
  if (!elem)
    return binder.unsupported("a sequence of non-tensors");
  if (failed(rank))
    return binder.unsupported("a sequence whose element rank no node reveals");
  SeqBuilder sb{rewriter, binder.getLoc()};
  SeqParts parts = sb.empty(elem.getElementType(), *rank);
  replaceWithSeq(binder, rewriter, parts);
  return success();
}

static LogicalResult legalizeSequenceConstruct(OpBinder &binder,
                                               RewriterBase &rewriter) {
  auto first = binder.rankedInput(0);
  if (!first)
    return binder.unsupported("unranked or missing inputs");
  SeqBuilder sb{rewriter, binder.getLoc()};
  SeqParts parts =
      sb.empty(first.getType().getElementType(), first.getType().getRank());
  for (unsigned i = 0; i < binder.getNumInputs(); ++i) {
    auto t = binder.rankedInput(i);
    if (!t || t.getType().getRank() != first.getType().getRank())
      return binder.unsupported("inputs of different ranks");
    parts = sb.insert(parts, t, sb.length(parts));
  }
  replaceWithSeq(binder, rewriter, parts);
  return success();
}

static LogicalResult legalizeSequenceInsert(OpBinder &binder,
                                            RewriterBase &rewriter) {
  FailureOr<SeqParts> parts = seqInput(binder, 0);
  if (failed(parts))
    return failure();
  SeqBuilder sb{rewriter, binder.getLoc()};
  auto t = binder.rankedInput(1);
  if (!t || t.getType().getRank() != sb.rank(*parts))
    return binder.emitError("the tensor's rank differs from the sequence's"),
           failure();
  Value n = sb.length(*parts);
  Value pos = n;
  if (auto p = binder.rankedInput(2))
    pos = sb.max(sb.min(sb.position(p, n), n), sb.idx(0));
  SeqParts out = sb.insert(*parts, t, pos);
  replaceWithSeq(binder, rewriter, out);
  return success();
}

static LogicalResult legalizeSequenceErase(OpBinder &binder,
                                           RewriterBase &rewriter) {
  FailureOr<SeqParts> parts = seqInput(binder, 0);
  if (failed(parts))
    return failure();
  SeqBuilder sb{rewriter, binder.getLoc()};
  Location loc = binder.getLoc();
  Value n = sb.length(*parts);
  Value last = sb.sub(n, sb.idx(1));
  Value pos = last;
  if (auto p = binder.rankedInput(1))
    pos = sb.max(sb.min(sb.position(p, n), last), sb.idx(0));
  // Erasing from an empty sequence leaves it empty.
  Value nonEmpty = sb.cmp(arith::CmpIPredicate::sgt, n, sb.idx(0));
  SmallVector<Type, 3> types =
      seqPartTypes(sb.elementType(*parts), sb.rank(*parts));
  auto ifOp = scf::IfOp::create(rewriter, loc, types, nonEmpty, true);
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&ifOp.getThenRegion().front());
    SeqParts out = sb.erase(*parts, pos);
    scf::YieldOp::create(rewriter, loc,
                         ValueRange{out.data, out.shapes, out.offsets});
    rewriter.setInsertionPointToStart(&ifOp.getElseRegion().front());
    scf::YieldOp::create(
        rewriter, loc, ValueRange{parts->data, parts->shapes, parts->offsets});
  }
  SeqParts out{ifOp.getResult(0), ifOp.getResult(1), ifOp.getResult(2)};
  replaceWithSeq(binder, rewriter, out);
  return success();
}

static LogicalResult legalizeSequenceAt(OpBinder &binder,
                                        RewriterBase &rewriter) {
  FailureOr<SeqParts> parts = seqInput(binder, 0);
  auto posTensor = binder.rankedInput(1);
  if (failed(parts))
    return failure();
  if (!posTensor)
    return binder.emitError("expects a position"), failure();
  SeqBuilder sb{rewriter, binder.getLoc()};
  Value n = sb.length(*parts);
  Value pos = sb.position(posTensor, n);
  Value valid =
      arith::AndIOp::create(rewriter, binder.getLoc(),
                            sb.cmp(arith::CmpIPredicate::sge, pos, sb.idx(0)),
                            sb.cmp(arith::CmpIPredicate::slt, pos, n));
  binder.replace(rewriter, sb.read(*parts, sb.select(valid, pos, n)));
  return success();
}

static LogicalResult legalizeSequenceLength(OpBinder &binder,
                                            RewriterBase &rewriter) {
  FailureOr<SeqParts> parts = seqInput(binder, 0);
  if (failed(parts))
    return failure();
  SeqBuilder sb{rewriter, binder.getLoc()};
  Value n = sb.toI64(sb.length(*parts));
  binder.replace(rewriter, tensor::FromElementsOp::create(
                               rewriter, binder.getLoc(),
                               RankedTensorType::get({}, rewriter.getI64Type()),
                               ValueRange{n})
                               .getResult());
  return success();
}

/// ConcatFromSequence: the elements joined along `axis` (or stacked along a
/// new axis). Shapes are taken from element 0; an empty sequence gives an
/// empty tensor.
static LogicalResult legalizeConcatFromSequence(OpBinder &binder,
                                                RewriterBase &rewriter) {
  FailureOr<SeqParts> parts = seqInput(binder, 0);
  if (failed(parts))
    return failure();
  SeqBuilder sb{rewriter, binder.getLoc()};
  Location loc = binder.getLoc();
  int64_t rank = sb.rank(*parts);
  bool newAxis = binder.getInt("new_axis", 0) != 0;
  int64_t outRank = rank + (newAxis ? 1 : 0);
  std::optional<int64_t> axis =
      normalizeAxis(binder.getInt("axis", 0), outRank);
  if (!axis)
    return binder.emitError("axis is out of range"), failure();
  if (rank == 0 && !newAxis)
    return binder.emitError("scalars can only be stacked (new_axis = 1)"),
           failure();
  Value n = sb.length(*parts);
  SmallVector<Value> first = sb.dims(*parts, sb.idx(0));
  Value total = n;
  if (!newAxis) {
    total = buildCountedLoop(
        rewriter, loc, n, ValueRange{sb.idx(0)},
        [&](OpBuilder &b, Location l, Value k, ValueRange acc) {
          SeqBuilder ib{b, l};
          Value d = ib.toIndex(ib.extract(parts->shapes, {k, ib.idx(*axis)}));
          return SmallVector<Value>{ib.add(acc[0], d)};
        })[0];
  }
  SmallVector<Value> outDims(first);
  if (newAxis)
    outDims.insert(outDims.begin() + *axis, total);
  else
    outDims[*axis] = total;
  SmallVector<int64_t> shape(outRank, ShapedType::kDynamic);
  Value init = tensor::EmptyOp::create(rewriter, loc, shape,
                                       sb.elementType(*parts), outDims);
  SmallVector<Value> loop = buildCountedLoop(
      rewriter, loc, n, ValueRange{init, sb.idx(0)},
      [&](OpBuilder &b, Location l, Value k, ValueRange acc) {
        SeqBuilder ib{b, l};
        Value e = ib.read(*parts, k);
        SmallVector<OpFoldResult> offsets(outRank, b.getIndexAttr(0)), sizes,
            strides(outRank, b.getIndexAttr(1));
        SmallVector<OpFoldResult> eSizes = getSizes(b, l, e);
        sizes.assign(eSizes.begin(), eSizes.end());
        Value extent;
        if (newAxis) {
          sizes.insert(sizes.begin() + *axis, b.getIndexAttr(1));
          extent = ib.idx(1);
        } else {
          extent = ib.dim(e, *axis);
        }
        offsets[*axis] = acc[1];
        Value out = tensor::InsertSliceOp::create(b, l, e, acc[0], offsets,
                                                  sizes, strides);
        return SmallVector<Value>{out, ib.add(acc[1], extent)};
      });
  binder.replace(rewriter, loop[0]);
  return success();
}

/// SplitToSequence: pieces of `input` along `axis` (size-1 pieces, equal
/// chunks of a scalar `split`, or the sizes of a 1-D `split`).
static LogicalResult legalizeSplitToSequence(OpBinder &binder,
                                             RewriterBase &rewriter) {
  auto x = binder.rankedInput(0);
  if (!x)
    return binder.unsupported("an unranked input");
  Location loc = binder.getLoc();
  SeqBuilder sb{rewriter, loc};
  int64_t rank = x.getType().getRank();
  std::optional<int64_t> axis = normalizeAxis(binder.getInt("axis", 0), rank);
  if (!axis)
    return binder.emitError("axis is out of range"), failure();
  auto split = binder.rankedInput(1);
  if (binder.input(1) && (!split || split.getType().getRank() > 1))
    return binder.emitError("split must be a scalar or 1-D"), failure();
  bool keepDims = split || binder.getInt("keepdims", 1) != 0;
  Value dim = sb.dim(x, *axis);
  // Number of pieces and the size of piece k.
  Value count;
  std::function<Value(OpBuilder &, Location, Value)> sizeOf;
  if (!split) {
    count = dim;
    sizeOf = [&](OpBuilder &b, Location l, Value) {
      return arith::ConstantIndexOp::create(b, l, 1);
    };
  } else if (split.getType().getRank() == 0) {
    Value chunk = sb.max(sb.toIndex(sb.extract(split, {})), sb.idx(1));
    count = arith::CeilDivSIOp::create(rewriter, loc, dim, chunk);
    sizeOf = [&, chunk](OpBuilder &b, Location l, Value k) -> Value {
      SeqBuilder ib{b, l};
      return ib.min(chunk, ib.sub(dim, ib.mul(k, chunk)));
    };
  } else {
    count = sb.dim(split, 0);
    sizeOf = [&](OpBuilder &b, Location l, Value k) -> Value {
      SeqBuilder ib{b, l};
      return ib.max(ib.toIndex(ib.extract(split, {k})), ib.idx(0));
    };
  }
  int64_t elemRank = keepDims ? rank : rank - 1;
  Type elem = x.getType().getElementType();
  SeqParts init = sb.empty(elem, elemRank);
  SmallVector<Value> loop = buildCountedLoop(
      rewriter, loc, count,
      ValueRange{init.data, init.shapes, init.offsets, sb.idx(0)},
      [&](OpBuilder &b, Location l, Value k, ValueRange acc) {
        SeqBuilder ib{b, l};
        // Pieces never read past the end of the axis.
        Value start = ib.min(acc[3], dim);
        Value size = ib.min(sizeOf(b, l, k), ib.sub(dim, start));
        SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
            sizes = getSizes(b, l, x), strides(rank, b.getIndexAttr(1));
        offsets[*axis] = start;
        sizes[*axis] = size;
        Value piece;
        if (keepDims) {
          piece =
              tensor::ExtractSliceOp::create(b, l, x, offsets, sizes, strides);
        } else {
          sizes[*axis] = b.getIndexAttr(1);
          SmallVector<int64_t> shape;
          for (auto [i, size] : llvm::enumerate(sizes))
            if ((int64_t)i != *axis)
              shape.push_back(
                  getConstantIntValue(size).value_or(ShapedType::kDynamic));
          auto type = RankedTensorType::get(shape, elem);
          piece = tensor::ExtractSliceOp::create(b, l, type, x, offsets, sizes,
                                                 strides);
        }
        SeqParts out = ib.insert({acc[0], acc[1], acc[2]}, piece,
                                 ib.length({acc[0], acc[1], acc[2]}));
        return SmallVector<Value>{out.data, out.shapes, out.offsets,
                                  ib.add(start, size)};
      });
  SeqParts out{loop[0], loop[1], loop[2]};
  replaceWithSeq(binder, rewriter, out);
  return success();
}

void loom::populateOnnxSequenceHandlers(OnnxHandlerRegistry &registry) {
  registry.add("SequenceEmpty", 11, legalizeSequenceEmpty);
  registry.add("SequenceConstruct", 11, legalizeSequenceConstruct);
  registry.add("SequenceInsert", 11, legalizeSequenceInsert);
  registry.add("SequenceErase", 11, legalizeSequenceErase);
  registry.add("SequenceAt", 11, legalizeSequenceAt);
  registry.add("SequenceLength", 11, legalizeSequenceLength);
  registry.add("ConcatFromSequence", 11, legalizeConcatFromSequence);
  registry.add("SplitToSequence", 11, legalizeSplitToSequence);
}
