//===- OnnxToLoom.cpp - Legalize ONNX holder ops (stage 2) ----------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"
#include "Utils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Matchers.h"

namespace loom {
#define GEN_PASS_DEF_ONNXTOLOOMPASS
#include "loom/Conversion/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-onnx-to-loom"

using namespace mlir;
using namespace loom;

//===----------------------------------------------------------------------===//
// OpBinder
//===----------------------------------------------------------------------===//

Value OpBinder::input(unsigned i) const {
  if (i >= op.getInputs().size())
    return nullptr;
  Value v = op.getInputs()[i];
  if (isa<NoneType>(v.getType()))
    return nullptr;
  return v;
}

TypedValue<RankedTensorType> OpBinder::rankedInput(unsigned i) const {
  Value v = input(i);
  if (!v || !isa<RankedTensorType>(v.getType()))
    return nullptr;
  return cast<TypedValue<RankedTensorType>>(v);
}

RankedTensorType OpBinder::resultType(unsigned i) const {
  if (i >= op->getNumResults())
    return nullptr;
  return dyn_cast<RankedTensorType>(op->getResult(i).getType());
}

int64_t OpBinder::getInt(StringRef name, int64_t dflt) const {
  if (auto a = dyn_cast_or_null<IntegerAttr>(op.getOnnxAttr(name)))
    return a.getInt();
  return dflt;
}

double OpBinder::getFloat(StringRef name, double dflt) const {
  if (auto a = dyn_cast_or_null<FloatAttr>(op.getOnnxAttr(name)))
    return a.getValueAsDouble();
  return dflt;
}

std::string OpBinder::getString(StringRef name, StringRef dflt) const {
  if (auto a = dyn_cast_or_null<StringAttr>(op.getOnnxAttr(name)))
    return a.str();
  return dflt.str();
}

std::optional<SmallVector<int64_t>> OpBinder::getInts(StringRef name) const {
  if (auto a = dyn_cast_or_null<DenseI64ArrayAttr>(op.getOnnxAttr(name)))
    return SmallVector<int64_t>(a.asArrayRef());
  return std::nullopt;
}

bool OpBinder::hasAttr(StringRef name) const {
  return static_cast<bool>(op.getOnnxAttr(name));
}

DenseIntElementsAttr loom::getConstantInts(Value v) {
  if (!v)
    return nullptr;
  Attribute attr;
  if (auto holder = v.getDefiningOp<onnxir::NodeOp>();
      holder && holder.getOpType() == "Constant")
    attr = holder.getOnnxAttr("value");
  else if (!matchPattern(v, m_Constant(&attr)))
    return nullptr;
  return dyn_cast_or_null<DenseIntElementsAttr>(attr);
}

std::pair<int64_t, int64_t> loom::shapeRange(OpBinder &binder, int64_t rank) {
  int64_t start = binder.getInt("start", 0), end = binder.getInt("end", rank);
  if (start < 0)
    start += rank;
  if (end < 0)
    end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  return {start, end};
}

std::optional<SmallVector<int64_t>> OpBinder::constantInts(unsigned i) const {
  DenseIntElementsAttr dense = getConstantInts(input(i));
  if (!dense)
    return std::nullopt;
  SmallVector<int64_t> values;
  for (const APInt &x : dense.getValues<APInt>())
    values.push_back(x.getSExtValue());
  return values;
}

std::string OpBinder::nodeName() const {
  if (auto name = dyn_cast<NameLoc>(op.getLoc()))
    return name.getName().str();
  return "<unknown>";
}

InFlightDiagnostic OpBinder::emitError(const Twine &message) const {
  return mlir::emitError(op.getLoc())
         << message << " (ONNX op '" << op.getOpType() << "' at node '"
         << nodeName() << "')";
}

LogicalResult OpBinder::unsupported(const Twine &what) const {
  return mlir::emitError(op.getLoc())
         << "ONNX op '" << op.getOpType() << "' at node '" << nodeName()
         << "': " << what << " is not supported";
}

/// Returns true when `a` has at least the static information of `b`.
static bool isAtLeastAsStatic(Type a, Type b) {
  auto rb = dyn_cast<RankedTensorType>(b);
  if (!rb)
    return true;
  auto ra = dyn_cast<RankedTensorType>(a);
  if (!ra || ra.getRank() != rb.getRank())
    return false;
  for (int64_t i = 0; i < ra.getRank(); ++i)
    if (!rb.isDynamicDim(i) && ra.isDynamicDim(i))
      return false;
  return true;
}

void OpBinder::replace(RewriterBase &rewriter, ValueRange values) const {
  // Nodes are legalized in program order, so the users of a node's results
  // are holder ops (which take any type) or terminators. Holder ops get the
  // computed value, which may be more static than the node's (e.g. ranked
  // where ONNX inference said unranked); other users get a tensor.cast back
  // to the node's type.
  for (auto [value, old] : llvm::zip(values, op->getResults())) {
    if (value.getType() == old.getType()) {
      rewriter.replaceAllUsesWith(old, value);
      continue;
    }
    if (!tensor::CastOp::areCastCompatible(value.getType(), old.getType())) {
      rewriter.replaceAllUsesWith(old, value);
      continue;
    }
    if (!isAtLeastAsStatic(value.getType(), old.getType())) {
      // The node's type knows more: every user gets the cast.
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointAfterValue(value);
      Value cast =
          tensor::CastOp::create(rewriter, op.getLoc(), old.getType(), value);
      rewriter.replaceAllUsesWith(old, cast);
      continue;
    }
    Value cast;
    for (OpOperand &use : llvm::make_early_inc_range(old.getUses())) {
      if (isa<onnxir::NodeOp>(use.getOwner())) {
        rewriter.modifyOpInPlace(use.getOwner(),
                                 [&, v = value] { use.set(v); });
        continue;
      }
      if (!cast) {
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPointAfterValue(value);
        cast =
            tensor::CastOp::create(rewriter, op.getLoc(), old.getType(), value);
      }
      rewriter.modifyOpInPlace(use.getOwner(), [&] { use.set(cast); });
    }
  }
  // Results past `values` must be unused (e.g. optional outputs).
  rewriter.eraseOp(op);
}

//===----------------------------------------------------------------------===//
// OnnxHandlerRegistry
//===----------------------------------------------------------------------===//

void OnnxHandlerRegistry::add(StringRef domain, StringRef opType,
                              int64_t sinceVersion, OnnxHandler handler) {
  handlers[{domain.str(), opType.str()}][sinceVersion] = std::move(handler);
}

const OnnxHandler *OnnxHandlerRegistry::lookup(StringRef domain,
                                               StringRef opType,
                                               int64_t opset) const {
  auto it = handlers.find({domain.str(), opType.str()});
  if (it == handlers.end())
    return nullptr;
  auto version = it->second.upper_bound(opset);
  if (version == it->second.begin())
    return nullptr;
  return &std::prev(version)->second;
}

void loom::populateAllOnnxHandlers(OnnxHandlerRegistry &registry) {
  populateOnnxMathHandlers(registry);
  populateOnnxNNHandlers(registry);
  populateOnnxTensorHandlers(registry);
  populateOnnxReduceHandlers(registry);
  populateOnnxConvHandlers(registry);
  populateOnnxScanHandlers(registry);
  populateOnnxScatterHandlers(registry);
  populateOnnxControlFlowHandlers(registry);
  populateOnnxSequenceHandlers(registry);
  populateOnnxContribHandlers(registry);
}

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

std::optional<int64_t> loom::normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

SmallVector<OpFoldResult> loom::getSizes(OpBuilder &b, Location loc,
                                         Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (type.isDynamicDim(i))
      sizes.push_back(tensor::DimOp::create(b, loc, value, i).getResult());
    else
      sizes.push_back(b.getIndexAttr(type.getDimSize(i)));
  }
  return sizes;
}

FailureOr<Value> loom::buildBroadcastElementwise(OpBinder &binder, OpBuilder &b,
                                                 ValueRange inputs,
                                                 Type resultElemType,
                                                 ScalarBody body) {
  Location loc = binder.getLoc();
  int64_t rank = 0;
  for (Value v : inputs) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type)
      return (void)binder.unsupported("an unranked operand"), failure();
    rank = std::max(rank, type.getRank());
  }
  // Output sizes: a static non-1 size wins; otherwise a dynamic size (read
  // from the first operand that has it); otherwise 1.
  SmallVector<int64_t> shape(rank, 1);
  SmallVector<Value> dynSource(rank);
  SmallVector<int64_t> dynIndex(rank, -1);
  for (Value v : inputs) {
    auto type = cast<RankedTensorType>(v.getType());
    int64_t offset = rank - type.getRank();
    for (int64_t i = 0; i < type.getRank(); ++i) {
      int64_t d = type.getDimSize(i), &out = shape[offset + i];
      if (ShapedType::isDynamic(d)) {
        if (out == 1) {
          out = ShapedType::kDynamic;
          dynSource[offset + i] = v;
          dynIndex[offset + i] = i;
        }
      } else if (d != 1) {
        if (!ShapedType::isDynamic(out) && out != 1 && out != d)
          return binder.emitError("operand shapes do not broadcast"), failure();
        out = d;
      }
    }
  }
  SmallVector<Value> dynSizes;
  for (int64_t i = 0; i < rank; ++i)
    if (ShapedType::isDynamic(shape[i]))
      dynSizes.push_back(
          tensor::DimOp::create(b, loc, dynSource[i], dynIndex[i]));
  Value init = tensor::EmptyOp::create(b, loc, shape, resultElemType, dynSizes);

  SmallVector<AffineMap> maps;
  for (Value v : inputs) {
    auto type = cast<RankedTensorType>(v.getType());
    int64_t offset = rank - type.getRank();
    SmallVector<AffineExpr> exprs;
    for (int64_t i = 0; i < type.getRank(); ++i) {
      bool broadcast = type.getDimSize(i) == 1 && shape[offset + i] != 1;
      exprs.push_back(broadcast ? b.getAffineConstantExpr(0)
                                : b.getAffineDimExpr(offset + i));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, b.getContext()));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value result = body(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, result);
      });
  return generic.getResult(0);
}

SmallVector<Value> loom::buildCountedLoop(
    OpBuilder &b, Location loc, Value count, ValueRange inits,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value, ValueRange)>
        body) {
  SmallVector<Value> all{arith::ConstantIndexOp::create(b, loc, 0)};
  llvm::append_range(all, inits);
  SmallVector<Type> types;
  for (Value v : all)
    types.push_back(v.getType());
  auto loop = scf::WhileOp::create(b, loc, types, all, nullptr, nullptr);
  OpBuilder::InsertionGuard guard(b);
  Block *before = loop.getBeforeBody();
  b.setInsertionPointToStart(before);
  Value more = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                     before->getArgument(0), count);
  scf::ConditionOp::create(b, loc, more, before->getArguments());
  Block *after = loop.getAfterBody();
  b.setInsertionPointToStart(after);
  SmallVector<Value> next{
      arith::AddIOp::create(b, loc, after->getArgument(0),
                            arith::ConstantIndexOp::create(b, loc, 1))};
  llvm::append_range(next, body(b, loc, after->getArgument(0),
                                after->getArguments().drop_front()));
  scf::YieldOp::create(b, loc, next);
  return SmallVector<Value>(loop.getResults().drop_front());
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

/// Collects the holder ops under `root` that no other holder op encloses,
/// in program order.
static SmallVector<onnxir::NodeOp> outermostNodes(Operation *root) {
  SmallVector<onnxir::NodeOp> nodes;
  root->walk<WalkOrder::PreOrder>([&](onnxir::NodeOp node) {
    nodes.push_back(node);
    return WalkResult::skip();
  });
  return nodes;
}

/// Fails with an error at the first op (or function argument) whose result
/// is a statically shaped tensor of more than kMaxTensorBytes.
static LogicalResult checkTensorSizes(Operation *root) {
  auto tooBig = [](Type type) {
    auto t = dyn_cast<RankedTensorType>(type);
    if (!t || !t.hasStaticShape())
      return false;
    // Element bytes: integers and floats by width, anything else (index,
    // strings, complex) counted as 8.
    Type elem = t.getElementType();
    uint64_t bytes =
        elem.isIntOrFloat()
            ? std::max<uint64_t>(1, elem.getIntOrFloatBitWidth() / 8)
            : 8;
    for (int64_t d : t.getShape())
      if (d != 0 && __builtin_mul_overflow(bytes, uint64_t(d), &bytes))
        return true;
    return bytes > kMaxTensorBytes &&
           llvm::none_of(t.getShape(), [](int64_t d) { return d == 0; });
  };
  auto report = [](Location loc, Type type) {
    InFlightDiagnostic diag =
        emitError(loc) << "a " << type << " would exceed Loom's limit of "
                       << (kMaxTensorBytes >> 30) << " GiB per tensor";
    if (auto name = dyn_cast<NameLoc>(loc))
      diag << " (at node '" << name.getName().getValue() << "')";
    return diag;
  };
  WalkResult walk =
      root->walk<WalkOrder::PreOrder>([&](Operation *op) -> WalkResult {
        if (auto func = dyn_cast<func::FuncOp>(op)) {
          for (auto [i, t] : llvm::enumerate(func.getArgumentTypes()))
            if (tooBig(t))
              return report(func.getLoc(), t) << " (input " << i << ")",
                     WalkResult::interrupt();
          return WalkResult::advance();
        }
        for (Type t : op->getResultTypes())
          if (tooBig(t))
            return report(op->getLoc(), t), WalkResult::interrupt();
        return WalkResult::advance();
      });
  return failure(walk.wasInterrupted());
}

LogicalResult loom::legalizeOnnx(Operation *root,
                                 const OnnxHandlerRegistry &registry) {
  // Pass 1: report every node without a handler (subgraphs included), all
  // at once.
  bool missing = false;
  root->walk([&](onnxir::NodeOp node) {
    if (registry.lookup(node.getDomain(), node.getOpType(), node.getOpset()))
      return;
    OpBinder binder(node);
    mlir::emitError(node.getLoc())
        << "unsupported ONNX op '" << node.getOpType() << "' (domain '"
        << node.getDomain() << "', opset " << node.getOpset() << ") at node '"
        << binder.nodeName() << "'";
    missing = true;
  });
  if (missing)
    return failure();

  // Sequence arguments become their three parts (Sequence.cpp), packed at
  // function entry for the holder ops.
  IRRewriter argRewriter(root->getContext());
  bool badSeq = false;
  root->walk([&](func::FuncOp func) {
    if (func.isExternal())
      return;
    for (unsigned i = func.getNumArguments(); i-- > 0;) {
      BlockArgument arg = func.getArgument(i);
      auto seq = dyn_cast<onnxir::SeqType>(arg.getType());
      if (!seq)
        continue;
      auto elem = dyn_cast<TensorType>(seq.getElementType());
      FailureOr<int64_t> rank = inferSeqRank(arg);
      if (!elem || failed(rank)) {
        func.emitError() << "input " << i << " is a sequence whose element "
                         << "type or rank no node reveals";
        badSeq = true;
        continue;
      }
      SmallVector<Type, 3> types = seqPartTypes(elem.getElementType(), *rank);
      DictionaryAttr attrs = func.getArgAttrDict(i);
      for (unsigned p = 0; p < 3; ++p)
        (void)func.insertArgument(i + 1 + p, types[p],
                                  p == 0 ? attrs : DictionaryAttr(),
                                  arg.getLoc());
      argRewriter.setInsertionPointToStart(&func.front());
      Value packed = packSeq(argRewriter, arg.getLoc(), seq,
                             {func.getArgument(i + 1), func.getArgument(i + 2),
                              func.getArgument(i + 3)});
      arg.replaceAllUsesWith(packed);
      (void)func.eraseArgument(i);
    }
  });
  if (badSeq)
    return failure();

  // Pass 2: legalize in program order; operands are always legal by then.
  // Handlers of control flow (If) move subgraph bodies into regions of
  // upstream ops, whose holder ops the next round legalizes.
  IRRewriter rewriter(root->getContext());
  for (SmallVector<onnxir::NodeOp> nodes = outermostNodes(root); !nodes.empty();
       nodes = outermostNodes(root)) {
    for (onnxir::NodeOp node : nodes) {
      const OnnxHandler *handler =
          registry.lookup(node.getDomain(), node.getOpType(), node.getOpset());
      OpBinder binder(node);
      rewriter.setInsertionPoint(node);
      if (succeeded(foldShapeArithmetic(binder, rewriter)))
        continue;
      if (failed((*handler)(binder, rewriter)))
        return failure();
    }
  }
  // Sequences crossed region boundaries as unpacking casts of their packed
  // value; now that every producer is legal, each unpack reads a pack.
  SmallVector<UnrealizedConversionCastOp> unpacks;
  root->walk([&](UnrealizedConversionCastOp cast) {
    if (cast->getNumOperands() == 1 &&
        isa<onnxir::SeqType>(cast.getOperand(0).getType()))
      unpacks.push_back(cast);
  });
  for (UnrealizedConversionCastOp unpack : unpacks) {
    std::optional<SeqParts> parts = getSeqParts(unpack.getOperand(0));
    if (!parts)
      return unpack.emitError("internal error: a sequence with no parts");
    SmallVector<Value> values{parts->data, parts->shapes, parts->offsets};
    for (auto [v, t] : llvm::zip(values, unpack->getResultTypes()))
      if (v.getType() != t) {
        rewriter.setInsertionPoint(unpack);
        v = tensor::CastOp::create(rewriter, unpack.getLoc(), t, v);
      }
    rewriter.replaceOp(unpack, values);
  }
  // Sequence results become their three parts.
  WalkResult results = root->walk([&](func::FuncOp func) -> WalkResult {
    if (func.isExternal())
      return WalkResult::advance();
    auto ret = cast<func::ReturnOp>(func.front().getTerminator());
    if (llvm::none_of(ret.getOperandTypes(), llvm::IsaPred<onnxir::SeqType>))
      return WalkResult::advance();
    SmallVector<Value> values;
    SmallVector<DictionaryAttr> attrs;
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      DictionaryAttr attr = func.getResultAttrDict(i);
      if (!isa<onnxir::SeqType>(v.getType())) {
        values.push_back(v);
        attrs.push_back(attr);
        continue;
      }
      std::optional<SeqParts> parts = getSeqParts(v);
      if (!parts)
        return func.emitError()
               << "output " << i << " is a sequence that was not legalized";
      values.append({parts->data, parts->shapes, parts->offsets});
      attrs.append({attr, DictionaryAttr(), DictionaryAttr()});
    }
    rewriter.setInsertionPoint(ret);
    rewriter.replaceOpWithNewOp<func::ReturnOp>(ret, values);
    func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                   ValueRange(values).getTypes()));
    func.setAllResultAttrs(attrs);
    return WalkResult::advance();
  });
  if (results.wasInterrupted())
    return failure();
  root->walk([&](UnrealizedConversionCastOp pack) {
    if (pack->use_empty() && pack->getNumOperands() == 3)
      rewriter.eraseOp(pack);
  });
  // Run-time checks become one status result per function: 0, or the
  // 1-based number of the first check that failed; the messages go to the
  // module's `loom.runtime_checks` in the same order.
  SmallVector<Attribute> messages;
  root->walk([&](func::FuncOp func) {
    if (func.isExternal())
      return;
    SmallVector<RuntimeCheckOp> checks;
    for (Operation &op : func.front())
      if (auto check = dyn_cast<RuntimeCheckOp>(op))
        checks.push_back(check);
    if (checks.empty())
      return;
    auto ret = cast<func::ReturnOp>(func.front().getTerminator());
    rewriter.setInsertionPoint(ret);
    Location loc = func.getLoc();
    Value status = arith::ConstantIntOp::create(rewriter, loc, 0, 32);
    int64_t base = messages.size();
    for (RuntimeCheckOp check : checks)
      messages.push_back(check.getMessageAttr());
    // Later checks innermost, so that the first failing one wins.
    for (int64_t k = static_cast<int64_t>(checks.size()) - 1; k >= 0; --k) {
      RuntimeCheckOp check = checks[k];
      Value failed = tensor::ExtractOp::create(rewriter, loc, check.getFailed(),
                                               ValueRange{});
      Value code =
          arith::ConstantIntOp::create(rewriter, loc, base + k + 1, 32);
      status = arith::SelectOp::create(rewriter, loc, failed, code, status);
      rewriter.eraseOp(check);
    }
    Value statusTensor = tensor::FromElementsOp::create(
        rewriter, loc, RankedTensorType::get({}, rewriter.getI32Type()),
        ValueRange{status});
    SmallVector<Value> values(ret.getOperands());
    values.push_back(statusTensor);
    SmallVector<DictionaryAttr> attrs;
    for (unsigned i = 0; i < ret.getNumOperands(); ++i)
      attrs.push_back(func.getResultAttrDict(i));
    attrs.push_back(rewriter.getDictionaryAttr(
        rewriter.getNamedAttr("loom.status", rewriter.getUnitAttr())));
    rewriter.replaceOpWithNewOp<func::ReturnOp>(ret, values);
    func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                   ValueRange(values).getTypes()));
    func.setAllResultAttrs(attrs);
  });
  if (!messages.empty())
    root->setAttr("loom.runtime_checks", rewriter.getArrayAttr(messages));

  // No tensor with a static shape may exceed what a run could allocate.
  if (failed(checkTensorSizes(root)))
    return failure();
  // Drop `onnx.none` values nobody reads any more.
  root->walk([&](onnxir::NoneOp none) {
    if (none->use_empty())
      rewriter.eraseOp(none);
  });
  return success();
}

namespace {
/// Runs the handler registry over the module.
struct OnnxToLoomPass final
    : public loom::impl::OnnxToLoomPassBase<OnnxToLoomPass> {
  using Base::Base;

  void runOnOperation() override {
    OnnxHandlerRegistry registry;
    populateAllOnnxHandlers(registry);
    if (failed(legalizeOnnx(getOperation(), registry)))
      signalPassFailure();
  }
};
} // namespace
