//===- ControlFlow.cpp - ONNX If, Loop and Scan handlers ------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Subgraph bodies move into scf regions; their holder ops are legalized in
// the driver's next round. Values crossing a region boundary travel as their
// "carriers": a ranked tensor as itself (with the most general of the types
// ONNX gives it on either side), a sequence as its three parts (Sequence.cpp).
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

/// The most general ranked type of `a` and `b`: dims on which they differ
/// become dynamic, an unranked `b` makes every dim dynamic, a non-tensor `b`
/// says nothing. Null when the ranks or element types differ.
static RankedTensorType join(RankedTensorType a, Type b) {
  if (isa<UnrankedTensorType>(b)) {
    if (cast<TensorType>(b).getElementType() != a.getElementType())
      return nullptr;
    return RankedTensorType::get(
        SmallVector<int64_t>(a.getRank(), ShapedType::kDynamic),
        a.getElementType());
  }
  auto rb = dyn_cast<RankedTensorType>(b);
  if (!rb)
    return a;
  if (rb.getRank() != a.getRank() || rb.getElementType() != a.getElementType())
    return nullptr;
  SmallVector<int64_t> shape;
  for (auto [x, y] : llvm::zip(a.getShape(), rb.getShape()))
    shape.push_back(x == y ? x : ShapedType::kDynamic);
  return RankedTensorType::get(shape, a.getElementType());
}

namespace {
/// How one ONNX value crosses a region boundary.
struct Carrier {
  /// The ONNX type (tensor or !onnx.seq).
  Type onnxType;
  /// The carrier types: one tensor, or the three sequence parts.
  SmallVector<Type, 3> types;
  bool isSeq() const { return isa<onnxir::SeqType>(onnxType); }
};
} // namespace

/// The carrier of a sequence value `v` (whose rank is inferred).
static FailureOr<Carrier> seqCarrier(OpBinder &binder, Value v) {
  auto seqType = cast<onnxir::SeqType>(v.getType());
  auto elem = dyn_cast<TensorType>(seqType.getElementType());
  FailureOr<int64_t> rank = inferSeqRank(v);
  if (!elem || failed(rank))
    return (void)binder.unsupported("a sequence whose element rank is unknown"),
           failure();
  return Carrier{v.getType(), seqPartTypes(elem.getElementType(), *rank)};
}

/// The carrier values of ONNX value `v` for `carrier` at a terminator:
/// tensor.cast for tensors, an unpacking cast for sequences (folded away
/// once the sequence's producer is legalized).
static FailureOr<SmallVector<Value, 3>> unpack(OpBinder &binder,
                                               RewriterBase &rewriter, Value v,
                                               const Carrier &carrier) {
  Location loc = binder.getLoc();
  if (carrier.isSeq()) {
    if (!isa<onnxir::SeqType>(v.getType()))
      return binder.emitError("a subgraph yields a tensor for a sequence"),
             failure();
    auto cast =
        UnrealizedConversionCastOp::create(rewriter, loc, carrier.types, v);
    return SmallVector<Value, 3>(cast.getResults());
  }
  Type t = carrier.types[0];
  if (v.getType() != t) {
    if (!tensor::CastOp::areCastCompatible(v.getType(), t))
      return binder.emitError("a subgraph yields an incompatible type"),
             failure();
    v = tensor::CastOp::create(rewriter, loc, t, v);
  }
  return SmallVector<Value, 3>{v};
}

/// The ONNX values of `carriers` from the flat carrier `values`, starting at
/// `pos` (advanced past them).
static SmallVector<Value> pack(RewriterBase &rewriter, Location loc,
                               ArrayRef<Carrier> carriers, ValueRange values,
                               unsigned &pos) {
  SmallVector<Value> out;
  for (const Carrier &c : carriers) {
    if (c.isSeq()) {
      out.push_back(packSeq(rewriter, loc, c.onnxType,
                            {values[pos], values[pos + 1], values[pos + 2]}));
      pos += 3;
    } else {
      out.push_back(values[pos++]);
    }
  }
  return out;
}

/// A scalar i1/i64 (or single-element) tensor's element.
static Value scalarOf(RewriterBase &rewriter, Location loc, Value t) {
  auto type = dyn_cast<RankedTensorType>(t.getType());
  if (!type) {
    type = RankedTensorType::get(
        {}, cast<TensorType>(t.getType()).getElementType());
    t = tensor::CastOp::create(rewriter, loc, type, t);
  }
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  return tensor::ExtractOp::create(rewriter, loc, t,
                                   SmallVector<Value>(type.getRank(), zero));
}

//===----------------------------------------------------------------------===//
// If
//===----------------------------------------------------------------------===//

/// If -> scf.if; the branch bodies move into the scf.if regions and
/// onnx.yield becomes scf.yield.
static LogicalResult legalizeIf(OpBinder &binder, RewriterBase &rewriter) {
  onnxir::NodeOp op = binder.getOp();
  Value cond = binder.rankedInput(0);
  Region *thenRegion = subgraph(op, "then_branch");
  Region *elseRegion = subgraph(op, "else_branch");
  if (!cond || !thenRegion || !elseRegion)
    return binder.emitError("expects a condition and both branches"), failure();
  auto condType = cast<RankedTensorType>(cond.getType());
  if (condType.getNumElements() != 1)
    return binder.emitError("the condition must have one element"), failure();
  SmallVector<Carrier> carriers;
  SmallVector<Type> types;
  for (Value r : op->getResults()) {
    if (isa<onnxir::SeqType>(r.getType())) {
      FailureOr<Carrier> c = seqCarrier(binder, r);
      if (failed(c))
        return failure();
      carriers.push_back(*c);
    } else if (auto t = dyn_cast<RankedTensorType>(r.getType())) {
      carriers.push_back({t, {t}});
    } else {
      return binder.unsupported("If results that are not ranked tensors or "
                                "sequences");
    }
    llvm::append_range(types, carriers.back().types);
  }
  Location loc = binder.getLoc();
  Value c = scalarOf(rewriter, loc, cond);
  auto ifOp = scf::IfOp::create(rewriter, loc, types, c, /*withElse=*/true);
  for (auto [from, to] : {std::pair{thenRegion, &ifOp.getThenRegion()},
                          std::pair{elseRegion, &ifOp.getElseRegion()}}) {
    if (from->front().getNumArguments() != 0)
      return binder.emitError("If branches take no inputs"), failure();
    rewriter.eraseBlock(&to->front());
    rewriter.inlineRegionBefore(*from, *to, to->end());
    auto yield = cast<onnxir::YieldOp>(to->front().getTerminator());
    if (yield.getValues().size() != carriers.size())
      return binder.emitError("a branch yields the wrong number of values"),
             failure();
    rewriter.setInsertionPoint(yield);
    SmallVector<Value> values;
    for (auto [v, carrier] : llvm::zip(yield.getValues(), carriers)) {
      FailureOr<SmallVector<Value, 3>> parts =
          unpack(binder, rewriter, v, carrier);
      if (failed(parts))
        return failure();
      llvm::append_range(values, *parts);
    }
    rewriter.replaceOpWithNewOp<scf::YieldOp>(yield, values);
  }
  rewriter.setInsertionPointAfter(ifOp);
  unsigned pos = 0;
  binder.replace(rewriter,
                 pack(rewriter, loc, carriers, ifOp.getResults(), pos));
  return success();
}

//===----------------------------------------------------------------------===//
// Loop and Scan: shared pieces
//===----------------------------------------------------------------------===//

/// The carrier of loop-carried value `init` whose body argument and body
/// result have ONNX types `argType` and `yieldType`.
static FailureOr<Carrier> carriedCarrier(OpBinder &binder, Value init,
                                         Type argType, Type yieldType) {
  if (std::optional<SeqParts> parts = getSeqParts(init))
    return Carrier{init.getType(),
                   {parts->data.getType(), parts->shapes.getType(),
                    parts->offsets.getType()}};
  auto type = dyn_cast<RankedTensorType>(init.getType());
  if (!type)
    return (void)binder.unsupported("a loop-carried value that is not a ranked "
                                    "tensor or sequence"),
           failure();
  RankedTensorType t = join(type, argType);
  if (t)
    t = join(t, yieldType);
  if (!t)
    return binder.emitError("a loop-carried value changes rank or element "
                            "type"),
           failure();
  return Carrier{t, {t}};
}

/// The type of one element of a scan output: the join of what the body
/// yields and the result type without its scan axis `axis`.
static RankedTensorType scanElementType(Type yielded, Type result,
                                        int64_t axis) {
  RankedTensorType fromResult;
  if (auto r = dyn_cast<RankedTensorType>(result); r && r.getRank() > axis) {
    SmallVector<int64_t> shape(r.getShape());
    shape.erase(shape.begin() + axis);
    fromResult = RankedTensorType::get(shape, r.getElementType());
  }
  auto y = dyn_cast<RankedTensorType>(yielded);
  if (y && fromResult)
    return join(y, fromResult);
  return y ? y : fromResult;
}

/// `acc` (rows of `elem`'s shape stacked along dim 0) with `elem` added as
/// the last row, or as the first when `front`.
static Value appendRow(OpBuilder &b, Location loc, Value acc, Value elem,
                       bool front) {
  auto accType = cast<RankedTensorType>(acc.getType());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value n = tensor::DimOp::create(b, loc, acc, 0);
  SmallVector<OpFoldResult> sizes{
      arith::AddIOp::create(b, loc, n, one).getResult()};
  llvm::append_range(sizes, getSizes(b, loc, elem));
  Value out = tensor::EmptyOp::create(b, loc, sizes, accType.getElementType());
  int64_t rank = accType.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
      strides(rank, b.getIndexAttr(1));
  // The old rows; before the first row, `acc` has zero rows and its other
  // dims may be placeholders, so it contributes an empty slice.
  SmallVector<OpFoldResult> accSizes = getSizes(b, loc, acc);
  for (int64_t i = 1; i < rank; ++i)
    if (accType.isDynamicDim(i))
      accSizes[i] =
          arith::SelectOp::create(
              b, loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, n, zero),
              zero, getValueOrCreateConstantIndexOp(b, loc, sizes[i]))
              .getResult();
  offsets[0] = front ? OpFoldResult(one) : OpFoldResult(zero);
  out = tensor::InsertSliceOp::create(b, loc, acc, out, offsets, accSizes,
                                      strides);
  SmallVector<OpFoldResult> rowSizes(sizes);
  rowSizes[0] = b.getIndexAttr(1);
  offsets[0] = front ? OpFoldResult(zero) : OpFoldResult(n);
  out = tensor::InsertSliceOp::create(b, loc, elem, out, offsets, rowSizes,
                                      strides);
  return tensor::CastOp::create(b, loc, accType, out);
}

/// An empty stack of rows of `elem`'s shape (placeholder 0 for its dynamic
/// dims).
static Value emptyStack(OpBuilder &b, Location loc, RankedTensorType elem) {
  SmallVector<int64_t> shape{0};
  for (int64_t d : elem.getShape())
    shape.push_back(ShapedType::isDynamic(d) ? 0 : d);
  SmallVector<int64_t> accShape{ShapedType::kDynamic};
  llvm::append_range(accShape, elem.getShape());
  Value e = tensor::EmptyOp::create(b, loc, shape, elem.getElementType());
  return tensor::CastOp::create(
      b, loc, RankedTensorType::get(accShape, elem.getElementType()), e);
}

/// Moves stacked dim 0 of `acc` to `axis`.
static Value moveStackAxis(OpBuilder &b, Location loc, Value acc,
                           int64_t axis) {
  if (axis == 0)
    return acc;
  auto type = cast<RankedTensorType>(acc.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> perm;
  for (int64_t d = 0; d < rank; ++d)
    perm.push_back(d < axis ? d + 1 : d == axis ? 0 : d);
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, acc), outSizes;
  for (int64_t p : perm)
    outSizes.push_back(sizes[p]);
  Value init = tensor::EmptyOp::create(b, loc, outSizes, type.getElementType());
  return linalg::TransposeOp::create(b, loc, acc, init, perm).getResult()[0];
}

//===----------------------------------------------------------------------===//
// Loop
//===----------------------------------------------------------------------===//

/// Loop -> scf.while over (i, cond, carried values..., scan outputs...).
/// Scan outputs grow by one row per iteration (correct for any trip count;
/// the scans issue makes recurrences fast).
static LogicalResult legalizeLoop(OpBinder &binder, RewriterBase &rewriter) {
  onnxir::NodeOp op = binder.getOp();
  Region *body = subgraph(op, "body");
  if (!body || body->empty())
    return binder.emitError("expects a body"), failure();
  Block &block = body->front();
  auto inputs = op.getInputs();
  if (inputs.size() < 2)
    return binder.emitError("expects a trip count and a condition input"),
           failure();
  unsigned nCarried = inputs.size() - 2;
  auto yield = cast<onnxir::YieldOp>(block.getTerminator());
  if (block.getNumArguments() != nCarried + 2 ||
      yield.getValues().size() < nCarried + 1 ||
      op->getNumResults() != yield.getValues().size() - 1)
    return binder.emitError("the body's inputs and outputs do not match the "
                            "loop's"),
           failure();
  unsigned nScan = yield.getValues().size() - 1 - nCarried;
  Location loc = binder.getLoc();
  auto trip = binder.rankedInput(0);
  auto condIn = binder.rankedInput(1);
  if (!trip && !condIn)
    return binder.unsupported("a Loop with neither trip count nor condition");

  // Carriers and initial values.
  SmallVector<Carrier> carriers;
  SmallVector<Value> inits{arith::ConstantIndexOp::create(rewriter, loc, 0)};
  inits.push_back(
      condIn ? scalarOf(rewriter, loc, condIn)
             : arith::ConstantIntOp::create(rewriter, loc, 1, 1).getResult());
  for (unsigned k = 0; k < nCarried; ++k) {
    Value init = inputs[k + 2];
    FailureOr<Carrier> c =
        carriedCarrier(binder, init, block.getArgument(k + 2).getType(),
                       yield.getValues()[k + 1].getType());
    if (failed(c))
      return failure();
    carriers.push_back(*c);
    if (c->isSeq()) {
      SeqParts p = *getSeqParts(init);
      inits.append({p.data, p.shapes, p.offsets});
    } else {
      inits.push_back(
          init.getType() == c->types[0]
              ? init
              : tensor::CastOp::create(rewriter, loc, c->types[0], init)
                    .getResult());
    }
  }
  SmallVector<RankedTensorType> scanElems;
  for (unsigned j = 0; j < nScan; ++j) {
    RankedTensorType elem =
        scanElementType(yield.getValues()[1 + nCarried + j].getType(),
                        op->getResult(nCarried + j).getType(), 0);
    if (!elem)
      return binder.unsupported("a scan output of unknown rank");
    scanElems.push_back(elem);
    inits.push_back(emptyStack(rewriter, loc, elem));
  }
  SmallVector<Type> types;
  for (Value v : inits)
    types.push_back(v.getType());

  auto whileOp = scf::WhileOp::create(rewriter, loc, types, inits,
                                      /*beforeBuilder=*/nullptr,
                                      /*afterBuilder=*/nullptr);
  Block *before = whileOp.getBeforeBody();
  rewriter.setInsertionPointToStart(before);
  {
    Value go = before->getArgument(1);
    if (trip) {
      Value max =
          arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(),
                                     scalarOf(rewriter, loc, trip));
      Value inRange =
          arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt,
                                before->getArgument(0), max);
      go = arith::AndIOp::create(rewriter, loc, go, inRange);
    }
    scf::ConditionOp::create(rewriter, loc, go, before->getArguments());
  }
  Block *after = whileOp.getAfterBody();
  rewriter.setInsertionPointToStart(after);
  Value i = after->getArgument(0);
  Value iter = tensor::FromElementsOp::create(
      rewriter, loc, RankedTensorType::get({}, rewriter.getI64Type()),
      ValueRange{
          arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(), i)});
  Value condTensor = tensor::FromElementsOp::create(
      rewriter, loc, RankedTensorType::get({}, rewriter.getI1Type()),
      ValueRange{after->getArgument(1)});
  unsigned pos = 2;
  SmallVector<Value> argValues{iter, condTensor};
  llvm::append_range(argValues,
                     pack(rewriter, loc, carriers, after->getArguments(), pos));
  rewriter.inlineBlockBefore(&block, after, after->end(), argValues);

  // The body's results become the next iteration's state.
  rewriter.setInsertionPoint(yield);
  SmallVector<Value> next{arith::AddIOp::create(
      rewriter, loc, i, arith::ConstantIndexOp::create(rewriter, loc, 1))};
  // Without a condition input the body's condition output is ignored.
  next.push_back(condIn ? scalarOf(rewriter, loc, yield.getValues()[0])
                        : after->getArgument(1));
  for (auto [k, carrier] : llvm::enumerate(carriers)) {
    FailureOr<SmallVector<Value, 3>> parts =
        unpack(binder, rewriter, yield.getValues()[k + 1], carrier);
    if (failed(parts))
      return failure();
    llvm::append_range(next, *parts);
  }
  for (unsigned j = 0; j < nScan; ++j) {
    Value elem = yield.getValues()[1 + nCarried + j];
    if (elem.getType() != scanElems[j]) {
      if (!tensor::CastOp::areCastCompatible(elem.getType(), scanElems[j]))
        return binder.emitError("a scan output changes type"), failure();
      elem = tensor::CastOp::create(rewriter, loc, scanElems[j], elem);
    }
    next.push_back(appendRow(rewriter, loc, after->getArgument(pos + j), elem,
                             /*front=*/false));
  }
  rewriter.replaceOpWithNewOp<scf::YieldOp>(yield, next);

  rewriter.setInsertionPointAfter(whileOp);
  pos = 2;
  SmallVector<Value> results =
      pack(rewriter, loc, carriers, whileOp.getResults(), pos);
  for (unsigned j = 0; j < nScan; ++j)
    results.push_back(whileOp.getResult(pos + j));
  binder.replace(rewriter, results);
  return success();
}

//===----------------------------------------------------------------------===//
// Scan
//===----------------------------------------------------------------------===//

/// Reads an integer-list attribute of `count` entries (default zeros).
static FailureOr<SmallVector<int64_t>>
listAttr(OpBinder &binder, StringRef name, unsigned count) {
  std::optional<SmallVector<int64_t>> v = binder.getInts(name);
  if (!v)
    return SmallVector<int64_t>(count, 0);
  if (v->size() != count)
    return binder.emitError("attribute '" + name + "' has the wrong length"),
           failure();
  return *v;
}

/// Builds the loop of one scan: `states` are carried, `scanIns` are sliced
/// along `inAxes` (reversed where `inDirs` says) and the body's scan outputs
/// stacked (reversed where `outDirs` says) and moved to `outAxes`.
/// `resultTypes` are the ONNX types of the scan's results (for the stacks'
/// element types). Inlines `block`. Returns the final states, then the scan
/// outputs.
static FailureOr<SmallVector<Value>>
buildScan(OpBinder &binder, RewriterBase &rewriter, Block &block,
          ValueRange states, ArrayRef<TypedValue<RankedTensorType>> scanIns,
          ArrayRef<int64_t> inAxes, ArrayRef<int64_t> inDirs,
          SmallVector<int64_t> outAxes, ArrayRef<int64_t> outDirs,
          TypeRange resultTypes) {
  Location loc = binder.getLoc();
  unsigned nState = states.size();
  int64_t m = scanIns.size();
  auto yield = cast<onnxir::YieldOp>(block.getTerminator());
  unsigned nOut = yield.getValues().size() - nState;
  Value len = tensor::DimOp::create(rewriter, loc, scanIns[0], inAxes[0]);

  // State carriers and scan output stacks.
  SmallVector<Carrier> carriers;
  SmallVector<Value> inits;
  for (unsigned k = 0; k < nState; ++k) {
    FailureOr<Carrier> c =
        carriedCarrier(binder, states[k], block.getArgument(k).getType(),
                       yield.getValues()[k].getType());
    if (failed(c))
      return failure();
    if (c->isSeq())
      return (void)binder.unsupported("a sequence as a Scan state"), failure();
    carriers.push_back(*c);
    inits.push_back(
        states[k].getType() == c->types[0]
            ? states[k]
            : tensor::CastOp::create(rewriter, loc, c->types[0], states[k])
                  .getResult());
  }
  SmallVector<RankedTensorType> outElems;
  for (unsigned j = 0; j < nOut; ++j) {
    Type result = resultTypes[nState + j];
    int64_t rank = isa<RankedTensorType>(result)
                       ? cast<RankedTensorType>(result).getRank()
                       : 0;
    std::optional<int64_t> axis = normalizeAxis(outAxes[j], rank);
    RankedTensorType elem = scanElementType(
        yield.getValues()[nState + j].getType(), result, axis ? *axis : 0);
    if (!elem)
      return (void)binder.unsupported("a scan output of unknown rank"),
             failure();
    std::optional<int64_t> outAxis =
        normalizeAxis(outAxes[j], elem.getRank() + 1);
    if (!outAxis)
      return binder.emitError("a scan output axis is out of range"), failure();
    outAxes[j] = *outAxis;
    outElems.push_back(elem);
    inits.push_back(emptyStack(rewriter, loc, elem));
  }

  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  Value last = arith::SubIOp::create(rewriter, loc, len, one);
  LogicalResult status = success();
  SmallVector<Value> loop = buildCountedLoop(
      rewriter, loc, len, inits,
      [&](OpBuilder &, Location, Value i, ValueRange iter) {
        Value rev = arith::SubIOp::create(rewriter, loc, last, i);
        SmallVector<Value> argValues(iter.take_front(nState));
        for (int64_t j = 0; j < m; ++j) {
          auto x = scanIns[j];
          int64_t rank = x.getType().getRank(), axis = inAxes[j];
          SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0)),
              sizes = getSizes(rewriter, loc, x),
              strides(rank, rewriter.getIndexAttr(1));
          offsets[axis] = inDirs[j] ? rev : i;
          sizes[axis] = rewriter.getIndexAttr(1);
          SmallVector<int64_t> shape(x.getType().getShape());
          shape.erase(shape.begin() + axis);
          auto type =
              RankedTensorType::get(shape, x.getType().getElementType());
          argValues.push_back(tensor::ExtractSliceOp::create(
              rewriter, loc, type, x, offsets, sizes, strides));
        }
        Block *loopBody = rewriter.getInsertionBlock();
        rewriter.inlineBlockBefore(&block, loopBody, loopBody->end(),
                                   argValues);
        rewriter.setInsertionPoint(yield);
        SmallVector<Value> next;
        for (auto [k, carrier] : llvm::enumerate(carriers)) {
          FailureOr<SmallVector<Value, 3>> parts =
              unpack(binder, rewriter, yield.getValues()[k], carrier);
          if (failed(parts)) {
            status = failure();
            next.push_back(iter[k]);
            continue;
          }
          llvm::append_range(next, *parts);
        }
        for (unsigned j = 0; j < nOut; ++j) {
          Value elem = yield.getValues()[nState + j];
          if (elem.getType() != outElems[j]) {
            if (!tensor::CastOp::areCastCompatible(elem.getType(),
                                                   outElems[j])) {
              binder.emitError("a scan output changes type");
              status = failure();
              next.push_back(iter[nState + j]);
              continue;
            }
            elem = tensor::CastOp::create(rewriter, loc, outElems[j], elem);
          }
          next.push_back(appendRow(rewriter, loc, iter[nState + j], elem,
                                   /*front=*/outDirs[j] != 0));
        }
        rewriter.eraseOp(yield);
        rewriter.setInsertionPointToEnd(loopBody);
        return next;
      });
  if (failed(status))
    return failure();
  SmallVector<Value> results(ArrayRef<Value>(loop).take_front(nState));
  for (unsigned j = 0; j < nOut; ++j)
    results.push_back(
        moveStackAxis(rewriter, loc, loop[nState + j], outAxes[j]));
  return results;
}

/// Checks the body of a Scan with `nIn` inputs; returns it and the number of
/// scan outputs.
static FailureOr<std::pair<Block *, unsigned>>
scanBody(OpBinder &binder, unsigned nIn, unsigned nState) {
  onnxir::NodeOp op = binder.getOp();
  Region *body = subgraph(op, "body");
  if (!body || body->empty())
    return binder.emitError("expects a body"), failure();
  Block &block = body->front();
  auto yield = cast<onnxir::YieldOp>(block.getTerminator());
  if (block.getNumArguments() != nIn || yield.getValues().size() < nState ||
      op->getNumResults() != yield.getValues().size())
    return binder.emitError("the body's inputs and outputs do not match the "
                            "scan's"),
           failure();
  return std::pair{&block, unsigned(yield.getValues().size() - nState)};
}

/// Scan (opset 9+) -> a counted loop over the scan axis.
static LogicalResult legalizeScan(OpBinder &binder, RewriterBase &rewriter) {
  onnxir::NodeOp op = binder.getOp();
  auto inputs = op.getInputs();
  int64_t m = binder.getInt("num_scan_inputs", 0);
  if (m < 1 || m > (int64_t)inputs.size())
    return binder.emitError("num_scan_inputs is out of range"), failure();
  unsigned nState = inputs.size() - m;
  auto body = scanBody(binder, inputs.size(), nState);
  if (failed(body))
    return failure();
  unsigned nOut = body->second;
  FailureOr<SmallVector<int64_t>> inAxes =
      listAttr(binder, "scan_input_axes", m);
  FailureOr<SmallVector<int64_t>> inDirs =
      listAttr(binder, "scan_input_directions", m);
  FailureOr<SmallVector<int64_t>> outAxes =
      listAttr(binder, "scan_output_axes", nOut);
  FailureOr<SmallVector<int64_t>> outDirs =
      listAttr(binder, "scan_output_directions", nOut);
  if (failed(inAxes) || failed(inDirs) || failed(outAxes) || failed(outDirs))
    return failure();
  SmallVector<TypedValue<RankedTensorType>> scanIns;
  for (int64_t j = 0; j < m; ++j) {
    auto x = binder.rankedInput(nState + j);
    if (!x)
      return binder.unsupported("an unranked scan input");
    std::optional<int64_t> axis =
        normalizeAxis((*inAxes)[j], x.getType().getRank());
    if (!axis)
      return binder.emitError("a scan input axis is out of range"), failure();
    (*inAxes)[j] = *axis;
    scanIns.push_back(x);
  }
  FailureOr<SmallVector<Value>> results = buildScan(
      binder, rewriter, *body->first, inputs.take_front(nState), scanIns,
      *inAxes, *inDirs, *outAxes, *outDirs, op->getResultTypes());
  if (failed(results))
    return failure();
  binder.replace(rewriter, *results);
  return success();
}

/// Scan opset 8: every input and result has a leading batch dim, scan
/// inputs scan along dim 1, `directions` reverses inputs. A loop over the
/// batch runs the opset-9 scan on each batch entry and stacks the results.
static LogicalResult legalizeScan8(OpBinder &binder, RewriterBase &rewriter) {
  onnxir::NodeOp op = binder.getOp();
  auto inputs = op.getInputs();
  if (binder.input(0))
    return binder.unsupported("Scan-8 with sequence_lens");
  int64_t m = binder.getInt("num_scan_inputs", 0);
  if (inputs.empty() || m < 1 || m > (int64_t)inputs.size() - 1)
    return binder.emitError("num_scan_inputs is out of range"), failure();
  unsigned nState = inputs.size() - 1 - m;
  auto body = scanBody(binder, inputs.size() - 1, nState);
  if (failed(body))
    return failure();
  unsigned nOut = body->second;
  FailureOr<SmallVector<int64_t>> dirs = listAttr(binder, "directions", m);
  if (failed(dirs))
    return failure();
  Location loc = binder.getLoc();
  SmallVector<TypedValue<RankedTensorType>> all;
  for (unsigned i = 1; i < inputs.size(); ++i) {
    auto x = binder.rankedInput(i);
    if (!x || x.getType().getRank() < (i > nState ? 2 : 1))
      return binder.unsupported("an input without its batch dim");
    all.push_back(x);
  }
  // Result types of one batch entry (the batch dim dropped).
  SmallVector<Type> innerTypes;
  for (Type t : op->getResultTypes()) {
    auto r = dyn_cast<RankedTensorType>(t);
    innerTypes.push_back(r && r.getRank() > 0 ? Type(RankedTensorType::get(
                                                    r.getShape().drop_front(),
                                                    r.getElementType()))
                                              : t);
  }
  // Stacks of the per-entry results: element types from the result types.
  auto yield = cast<onnxir::YieldOp>(body->first->getTerminator());
  SmallVector<RankedTensorType> stackElems;
  SmallVector<Value> inits;
  for (unsigned k = 0; k < nState + nOut; ++k) {
    RankedTensorType elem;
    if (k < nState)
      elem = join(cast<RankedTensorType>(RankedTensorType::get(
                      all[k].getType().getShape().drop_front(),
                      all[k].getType().getElementType())),
                  innerTypes[k]);
    else if (auto r = dyn_cast<RankedTensorType>(innerTypes[k]))
      elem = RankedTensorType::get(
          SmallVector<int64_t>(r.getRank(), ShapedType::kDynamic),
          r.getElementType());
    else if (auto y =
                 dyn_cast<RankedTensorType>(yield.getValues()[k].getType()))
      elem = RankedTensorType::get(
          SmallVector<int64_t>(y.getRank() + 1, ShapedType::kDynamic),
          y.getElementType());
    if (!elem)
      return binder.unsupported("a Scan-8 result of unknown rank");
    stackElems.push_back(elem);
    inits.push_back(emptyStack(rewriter, loc, elem));
  }
  Value batch = tensor::DimOp::create(rewriter, loc, all[0], 0);
  LogicalResult status = success();
  SmallVector<Value> stacks = buildCountedLoop(
      rewriter, loc, batch, inits,
      [&](OpBuilder &, Location, Value b, ValueRange iter) {
        // Entry b of every input.
        SmallVector<Value> entries;
        for (auto x : all) {
          int64_t rank = x.getType().getRank();
          SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0)),
              sizes = getSizes(rewriter, loc, x),
              strides(rank, rewriter.getIndexAttr(1));
          offsets[0] = b;
          sizes[0] = rewriter.getIndexAttr(1);
          auto type = RankedTensorType::get(x.getType().getShape().drop_front(),
                                            x.getType().getElementType());
          entries.push_back(tensor::ExtractSliceOp::create(
              rewriter, loc, type, x, offsets, sizes, strides));
        }
        SmallVector<TypedValue<RankedTensorType>> scanIns;
        for (unsigned j = 0; j < m; ++j)
          scanIns.push_back(
              cast<TypedValue<RankedTensorType>>(entries[nState + j]));
        FailureOr<SmallVector<Value>> results = buildScan(
            binder, rewriter, *body->first,
            ValueRange(entries).take_front(nState), scanIns,
            SmallVector<int64_t>(m, 0), *dirs, SmallVector<int64_t>(nOut, 0),
            SmallVector<int64_t>(nOut, 0), innerTypes);
        SmallVector<Value> next;
        for (unsigned k = 0; k < nState + nOut; ++k) {
          if (failed(results)) {
            next.push_back(iter[k]);
            continue;
          }
          Value r = (*results)[k];
          if (r.getType() != stackElems[k])
            r = tensor::CastOp::create(rewriter, loc, stackElems[k], r);
          next.push_back(appendRow(rewriter, loc, iter[k], r, false));
        }
        if (failed(results))
          status = failure();
        return next;
      });
  if (failed(status))
    return failure();
  binder.replace(rewriter, stacks);
  return success();
}

void loom::populateOnnxControlFlowHandlers(OnnxHandlerRegistry &registry) {
  registry.add("If", 1, legalizeIf);
  registry.add("Loop", 1, legalizeLoop);
  registry.add("Scan", 8, legalizeScan8);
  registry.add("Scan", 9, legalizeScan);
}
