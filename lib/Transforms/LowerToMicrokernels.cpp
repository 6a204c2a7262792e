//===- LowerToMicrokernels.cpp - Contractions as loomrt microkernel calls -===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Replaces every bufferized fp32 contraction that loomrt_sgemm_f32 computes
// by a call to it. The operands' layouts become element strides per loop:
// transposed and broadcast operands cost nothing. Row (m) loops, and column
// (n) loops, that are contiguous in memory merge into one; the longest
// remaining parallel loop becomes the microkernel's batch, the others scf.for
// loops around the call. A zero fill of the output just before the
// contraction is dropped (the call overwrites instead of accumulating). A
// dense layer's elementwise consumer (bias, ReLU or GELU, residual add) is
// fused as the call's epilogue (loomrt_sgemm_epilogue_f32).
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Transforms/Microkernels.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace loom {
#define GEN_PASS_DEF_LOWERTOMICROKERNELSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

using namespace mlir;

/// The microkernel's symbol (runtime/include/loomrt/kernels.h).
static constexpr StringLiteral kSgemm = "loomrt_sgemm_f32";
/// LOOMRT_GEMM_ACCUMULATE and LOOMRT_GEMM_PACKED_B.
static constexpr int64_t kAccumulate = 1;
static constexpr int64_t kPackedB = 2;
/// LOOMRT_GEMM_PANEL: columns per panel of a prepacked B.
static constexpr int64_t kPanel = 16;
/// The microkernel's argument count: batch, m, n, k, then a pointer and
/// three strides for each of A, B and C, then the flags.
static constexpr unsigned kNumArgs = 4 + 3 * 4 + 1;
/// The microkernel with an epilogue: its arguments, then a pointer and
/// three strides for each of the bias and the residual, then the activation.
static constexpr StringLiteral kSgemmEpilogue = "loomrt_sgemm_epilogue_f32";
static constexpr unsigned kNumEpilogueArgs = kNumArgs + 2 * 4 + 1;
/// The blocked strided copy (transposes) and its argument count: batch,
/// rows, columns, then a pointer and three strides for each of src and dst.
static constexpr StringLiteral kTranspose = "loomrt_transpose_f32";
static constexpr unsigned kNumTransposeArgs = 3 + 2 * 4;

namespace {
/// One operand of the contraction as a pointer and per-loop strides.
struct StridedOperand {
  /// Address of element 0 (aligned pointer + offset), as an index.
  Value address;
  /// Element stride of each loop (0 when the operand does not walk it).
  SmallVector<OpFoldResult> strides;
};
} // namespace

/// Returns the static value of `ofr`, or ShapedType::kDynamic.
static int64_t staticValue(OpFoldResult ofr) {
  std::optional<int64_t> v = getConstantIntValue(ofr);
  return v ? *v : ShapedType::kDynamic;
}

/// Materializes `ofr` as an index value.
static Value toValue(OpBuilder &b, Location loc, OpFoldResult ofr) {
  if (auto v = dyn_cast<Value>(ofr))
    return v;
  return arith::ConstantIndexOp::create(b, loc, *getConstantIntValue(ofr));
}

/// a + b, folded when both are static.
static OpFoldResult add(OpBuilder &b, Location loc, OpFoldResult x,
                        OpFoldResult y) {
  int64_t sx = staticValue(x), sy = staticValue(y);
  if (sx == 0)
    return y;
  if (sy == 0)
    return x;
  if (!ShapedType::isDynamic(sx) && !ShapedType::isDynamic(sy))
    return b.getIndexAttr(sx + sy);
  return arith::AddIOp::create(b, loc, toValue(b, loc, x), toValue(b, loc, y))
      .getResult();
}

/// a * b, folded when both are static.
static OpFoldResult mul(OpBuilder &b, Location loc, OpFoldResult x,
                        OpFoldResult y) {
  int64_t sx = staticValue(x), sy = staticValue(y);
  if (sx == 1)
    return y;
  if (sy == 1)
    return x;
  if (sx == 0 || sy == 0)
    return b.getIndexAttr(0);
  if (!ShapedType::isDynamic(sx) && !ShapedType::isDynamic(sy))
    return b.getIndexAttr(sx * sy);
  return arith::MulIOp::create(b, loc, toValue(b, loc, x), toValue(b, loc, y))
      .getResult();
}

/// Reads `memref`'s address, sizes and strides (static where the type
/// knows them) and the stride of each of `numLoops` loops under `map`.
/// Records each loop's size in `loopSizes` where still unknown.
static StridedOperand describe(OpBuilder &b, Location loc, Value memref,
                               AffineMap map, unsigned numLoops,
                               SmallVectorImpl<OpFoldResult> &loopSizes) {
  auto type = cast<MemRefType>(memref.getType());
  auto [staticStrides, staticOffset] = type.getStridesAndOffset();
  auto md = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  auto pick = [&](int64_t s, Value v) -> OpFoldResult {
    return ShapedType::isDynamic(s) ? OpFoldResult(v) : b.getIndexAttr(s);
  };
  StridedOperand result;
  Value aligned =
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  OpFoldResult offsetBytes =
      mul(b, loc, pick(staticOffset, md.getOffset()), b.getIndexAttr(4));
  result.address = toValue(b, loc, add(b, loc, aligned, offsetBytes));
  result.strides.assign(numLoops, b.getIndexAttr(0));
  for (auto [i, expr] : llvm::enumerate(map.getResults())) {
    auto d = dyn_cast<AffineDimExpr>(expr);
    if (!d)
      continue; // The constant 0: a broadcast dimension of size 1.
    unsigned loop = d.getPosition();
    result.strides[loop] = pick(staticStrides[i], md.getStrides()[i]);
    if (!loopSizes[loop])
      loopSizes[loop] = pick(type.getDimSize(i), md.getSizes()[i]);
  }
  return result;
}

/// Merges into `primary` every loop of `others` that continues it
/// contiguously in every one of `operands` (static strides and sizes only);
/// the merged loops leave `others`.
static void mergeContiguous(unsigned primary, SmallVectorImpl<unsigned> &others,
                            ArrayRef<const StridedOperand *> operands,
                            SmallVectorImpl<OpFoldResult> &sizes,
                            OpBuilder &b) {
  bool merged = true;
  while (merged) {
    merged = false;
    int64_t size = staticValue(sizes[primary]);
    if (ShapedType::isDynamic(size))
      return;
    for (auto *it = others.begin(); it != others.end(); ++it) {
      auto continues = [&](const StridedOperand *o) {
        int64_t inner = staticValue(o->strides[primary]),
                outer = staticValue(o->strides[*it]);
        return !ShapedType::isDynamic(inner) && !ShapedType::isDynamic(outer) &&
               outer == size * inner;
      };
      int64_t otherSize = staticValue(sizes[*it]);
      if (ShapedType::isDynamic(otherSize) ||
          !llvm::all_of(operands, continues))
        continue;
      sizes[primary] = b.getIndexAttr(size * otherSize);
      others.erase(it);
      merged = true;
      break;
    }
  }
}

/// The loop of `loops` whose dimension comes last in `map` (the fastest
/// varying one in a row-major operand).
static unsigned lastInMap(ArrayRef<unsigned> loops, AffineMap map) {
  unsigned best = loops.front();
  int64_t bestPos = -1;
  for (unsigned loop : loops)
    if (std::optional<unsigned> pos =
            map.getResultPosition(getAffineDimExpr(loop, map.getContext()));
        pos && static_cast<int64_t>(*pos) > bestPos) {
      bestPos = *pos;
      best = loop;
    }
  return best;
}

/// Returns the external declaration of the runtime kernel `name` taking
/// `numArgs` 64-bit integers, creating it.
static func::FuncOp getOrDeclareKernel(ModuleOp module, StringRef name,
                                       unsigned numArgs) {
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  SmallVector<Type> args(numArgs, b.getI64Type());
  auto f = func::FuncOp::create(b, module.getLoc(), name,
                                b.getFunctionType(args, {}));
  f.setPrivate();
  return f;
}

/// Returns the external declaration of the microkernel, creating it.
static func::FuncOp getOrDeclareSgemm(ModuleOp module) {
  return getOrDeclareKernel(module, kSgemm, kNumArgs);
}

/// Returns the loop that the last result of `map` walks, if it is a loop.
static std::optional<unsigned> lastLoop(AffineMap map) {
  if (map.getNumResults() == 0)
    return std::nullopt;
  if (auto d = dyn_cast<AffineDimExpr>(map.getResults().back()))
    return d.getPosition();
  return std::nullopt;
}

/// Returns (rows, columns) when `op` is an fp32 copy whose input and output
/// are permutations of all its loops with different contiguous (last)
/// loops: rows is the input's contiguous loop, columns the output's.
static std::optional<std::pair<unsigned, unsigned>>
matchTranspose(linalg::GenericOp op) {
  if (!loom::isPureDataMovement(op) || op.getNumLoops() < 2)
    return std::nullopt;
  for (Value v : op->getOperands())
    if (!cast<MemRefType>(v.getType()).getElementType().isF32())
      return std::nullopt;
  AffineMap in = op.getIndexingMapsArray()[0],
            out = op.getIndexingMapsArray()[1];
  if (!in.isPermutation() || !out.isPermutation())
    return std::nullopt;
  std::optional<unsigned> rows = lastLoop(in), cols = lastLoop(out);
  if (!rows || !cols || *rows == *cols)
    return std::nullopt;
  return std::make_pair(*rows, *cols);
}

namespace {
/// One call of a batched runtime kernel inside the loops around it.
struct CallSite {
  OpBuilder &b;
  Location loc;
  /// The loop the kernel's batch walks, if any.
  std::optional<unsigned> batch;
  /// The loops around the call and their induction variables.
  ArrayRef<unsigned> looped;
  ValueRange ivs;

  /// `v` as an i64 argument.
  Value i64(OpFoldResult v) const {
    if (std::optional<int64_t> c = getConstantIntValue(v))
      return arith::ConstantIntOp::create(b, loc, *c, 64);
    return arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                      toValue(b, loc, v));
  }
  /// The address of `o` at this iteration of the loops around the call.
  OpFoldResult address(const StridedOperand &o) const {
    OpFoldResult result = o.address;
    for (auto [iv, loop] : llvm::zip(ivs, looped))
      result =
          add(b, loc, result,
              mul(b, loc, iv, mul(b, loc, o.strides[loop], b.getIndexAttr(4))));
    return result;
  }
  /// The stride of `o` along the batch (0 without one).
  OpFoldResult batchStride(const StridedOperand &o) const {
    return batch ? o.strides[*batch] : b.getIndexAttr(0);
  }
  /// Appends `o` as a kernel's operand: its address at this iteration and
  /// its batch, row and column strides (rows and columns walked by the
  /// loops `row` and `col`).
  void appendOperand(SmallVectorImpl<Value> &args, const StridedOperand &o,
                     unsigned row, unsigned col) const {
    args.push_back(i64(address(o)));
    args.push_back(i64(batchStride(o)));
    args.push_back(i64(o.strides[row]));
    args.push_back(i64(o.strides[col]));
  }
};
} // namespace

/// Makes the longest of the `outer` loops (sizes in `sizes`) a kernel's
/// batch and calls `emit` inside a loop nest over the others.
static void buildBatchedCalls(RewriterBase &rewriter, Location loc,
                              ArrayRef<OpFoldResult> sizes,
                              ArrayRef<unsigned> outer,
                              function_ref<void(const CallSite &)> emit) {
  std::optional<unsigned> batch;
  for (unsigned l : outer) {
    int64_t s = staticValue(sizes[l]);
    if (!batch || ShapedType::isDynamic(s) ||
        (!ShapedType::isDynamic(staticValue(sizes[*batch])) &&
         s > staticValue(sizes[*batch])))
      batch = l;
  }
  SmallVector<unsigned> looped;
  SmallVector<Value> lbs, ubs, steps;
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  for (unsigned l : outer) {
    if (batch && l == *batch)
      continue;
    looped.push_back(l);
    lbs.push_back(zero);
    ubs.push_back(toValue(rewriter, loc, sizes[l]));
    steps.push_back(one);
  }
  scf::buildLoopNest(rewriter, loc, lbs, ubs, steps,
                     [&](OpBuilder &nb, Location l, ValueRange ivs) {
                       emit(CallSite{nb, l, batch, looped, ivs});
                     });
}

/// Replaces the transpose `op` (rows and columns from matchTranspose) by
/// calls to the blocked strided copy: the longest other loop is the call's
/// batch, the rest loop around it.
static void lowerTranspose(RewriterBase &rewriter, linalg::GenericOp op,
                           unsigned rows, unsigned cols,
                           func::FuncOp transpose) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  unsigned numLoops = op.getNumLoops();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<OpFoldResult> sizes(numLoops);
  StridedOperand operands[2] = {
      describe(rewriter, loc, op.getDpsInputs()[0], maps[0], numLoops, sizes),
      describe(rewriter, loc, op.getDpsInits()[0], maps[1], numLoops, sizes)};
  SmallVector<unsigned> others;
  for (unsigned l = 0; l < numLoops; ++l)
    if (l != rows && l != cols)
      others.push_back(l);
  buildBatchedCalls(rewriter, loc, sizes, others, [&](const CallSite &site) {
    SmallVector<Value> args;
    args.push_back(
        site.i64(site.batch ? sizes[*site.batch] : site.b.getIndexAttr(1)));
    args.push_back(site.i64(sizes[rows]));
    args.push_back(site.i64(sizes[cols]));
    for (const StridedOperand &o : operands)
      site.appendOperand(args, o, rows, cols);
    func::CallOp::create(site.b, site.loc, transpose, args);
  });
  rewriter.eraseOp(op);
}

namespace {
/// Constant weights already packed, by (global, row stride, column stride).
using PackedWeights =
    llvm::DenseMap<std::tuple<Operation *, int64_t, int64_t>, memref::GlobalOp>;
} // namespace

/// Returns the fp32 data of a constant global, if it has any: a resource
/// blob is read in place, dense elements are copied into `storage`.
static std::optional<ArrayRef<float>>
constantData(memref::GlobalOp g, SmallVectorImpl<float> &storage) {
  if (!g.getConstant())
    return std::nullopt;
  return loom::constantF32Data(g.getInitialValue().value_or(Attribute()),
                               storage);
}

/// When B is a constant global that none of the loops `around` the call
/// walks (only k and n, and the loops merged into them), returns a constant
/// global holding it prepacked for the microkernel (panels of 16 columns
/// spanning all of k, zero-padded: loomrt_sgemm_pack_b's layout), creating
/// it once per weight and layout.
static memref::GlobalOp packedWeight(RewriterBase &rewriter, ModuleOp module,
                                     Value b, const StridedOperand &layout,
                                     unsigned k, unsigned n,
                                     ArrayRef<unsigned> around,
                                     ArrayRef<OpFoldResult> sizes,
                                     PackedWeights &cache) {
  auto get = b.getDefiningOp<memref::GetGlobalOp>();
  if (!get)
    return nullptr;
  for (unsigned loop : around)
    if (staticValue(layout.strides[loop]) != 0)
      return nullptr;
  int64_t rs = staticValue(layout.strides[k]),
          cs = staticValue(layout.strides[n]), kSize = staticValue(sizes[k]),
          nSize = staticValue(sizes[n]);
  if (ShapedType::isDynamic(rs) || ShapedType::isDynamic(cs) ||
      ShapedType::isDynamic(kSize) || ShapedType::isDynamic(nSize))
    return nullptr;
  auto global = module.lookupSymbol<memref::GlobalOp>(get.getNameAttr());
  if (!global)
    return nullptr;
  auto key = std::make_tuple(global.getOperation(), rs, cs);
  if (auto it = cache.find(key); it != cache.end())
    return it->second;
  SmallVector<float> storage;
  std::optional<ArrayRef<float>> data = constantData(global, storage);
  auto type = cast<MemRefType>(global.getType());
  if (!data || !type.getLayout().isIdentity() ||
      static_cast<int64_t>(data->size()) != type.getNumElements())
    return nullptr;
  int64_t panels = (nSize + kPanel - 1) / kPanel;
  SmallVector<float> packed(panels * kSize * kPanel, 0.0f);
  for (int64_t q = 0; q < panels; ++q)
    for (int64_t p = 0; p < kSize; ++p)
      for (int64_t j = 0; j < kPanel && q * kPanel + j < nSize; ++j)
        packed[(q * kSize + p) * kPanel + j] =
            (*data)[p * rs + (q * kPanel + j) * cs];

  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(global);
  auto packedType = MemRefType::get({static_cast<int64_t>(packed.size())},
                                    rewriter.getF32Type());
  std::string name = (global.getSymName() + "_packed").str();
  auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign<float>(packed);
  auto init = DenseResourceElementsAttr::get(
      RankedTensorType::get(packedType.getShape(), rewriter.getF32Type()), name,
      std::move(blob));
  auto result = memref::GlobalOp::create(
      rewriter, global.getLoc(), name, rewriter.getStringAttr("private"),
      packedType, init, /*constant=*/true, rewriter.getI64IntegerAttr(64));
  SymbolTable(module).insert(result); // Renames on a clash.
  cache[key] = result;
  return result;
}

namespace {
/// An elementwise consumer of a contraction's output that the microkernel's
/// epilogue computes (loomrt_sgemm_epilogue_f32).
struct FusedEpilogue {
  linalg::GenericOp op;
  loom::EpilogueBody body;
  /// The consumer's output, bias and residual with their indexing maps in
  /// the contraction's loops (null when absent).
  Value out, bias, residual;
  AffineMap outMap, biasMap, residualMap;
  /// The residual is the output buffer itself (an in-place residual add):
  /// the contraction accumulates into it instead.
  bool accumulate = false;
};
} // namespace

/// The buffer that `v` is a view of.
static Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// Whether `x` and `y` cannot overlap: they view different buffers, one of
/// them allocated here or a global.
static bool distinctBuffers(Value x, Value y) {
  Value rx = rootBuffer(x), ry = rootBuffer(y);
  auto local = [](Value v) {
    return isa_and_nonnull<memref::AllocOp, memref::AllocaOp,
                           memref::GetGlobalOp>(v.getDefiningOp());
  };
  return rx != ry && (local(rx) || local(ry));
}

/// Whether `op` neither reads nor writes a buffer's contents: an allocation,
/// a deallocation or an op without memory effects.
static bool onlyBookkeeping(Operation *op) {
  return isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp>(op) ||
         isMemoryEffectFree(op);
}

/// The zero fill of `output` that `op` starts from: the last op before it
/// that touches `output`, where only allocations, pure ops and linalg ops on
/// other buffers come in between (a convolution's im2col copy between its
/// fill and its product); null when there is none.
static Operation *zeroFillBefore(linalg::GenericOp op, Value output) {
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    auto linalgOp = dyn_cast<linalg::LinalgOp>(prev);
    if (linalgOp && loom::isScalarFill(linalgOp) &&
        linalgOp.getDpsInits()[0] == output)
      return matchPattern(linalgOp.getDpsInputs()[0], m_AnyZeroFloat())
                 ? prev
                 : nullptr;
    if (onlyBookkeeping(prev))
      continue;
    if (linalgOp && linalgOp.hasPureBufferSemantics() &&
        llvm::all_of(prev->getOperands(), [&](Value v) {
          return !isa<MemRefType>(v.getType()) || distinctBuffers(v, output);
        }))
      continue;
    return nullptr;
  }
  return nullptr;
}

/// Returns the elementwise consumer of the contraction `op` (output `c`,
/// zero-filled by `fill`) that its call can compute as an epilogue: the
/// first op after it that touches c, reading it once through a permutation
/// of its loops, with only effect-free ops, allocations and deallocations
/// in between, a body of matchEpilogueBody's form, and an output that
/// overlaps neither the contraction's operands nor its other inputs (or is
/// exactly its residual, without an activation).
static std::optional<FusedEpilogue> findEpilogue(linalg::GenericOp op, Value c,
                                                 Operation *fill) {
  if (!fill)
    return std::nullopt;
  linalg::GenericOp consumer;
  for (Operation *next = op->getNextNode(); next; next = next->getNextNode()) {
    if (llvm::is_contained(next->getOperands(), c)) {
      consumer = dyn_cast<linalg::GenericOp>(next);
      break;
    }
    if (!onlyBookkeeping(next))
      return std::nullopt;
  }
  if (!consumer || !consumer.hasPureBufferSemantics() ||
      consumer.getNumDpsInits() != 1)
    return std::nullopt;
  std::optional<unsigned> gemmInput;
  for (OpOperand &o : consumer->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(o.get().getType());
    if (!type || !type.getElementType().isF32() ||
        (!type.getLayout().isIdentity() &&
         !isa<StridedLayoutAttr>(type.getLayout())))
      return std::nullopt;
    // c once as an input, and possibly as the output (in place).
    if (o.get() != c || !consumer.isDpsInput(&o))
      continue;
    if (gemmInput)
      return std::nullopt;
    gemmInput = o.getOperandNumber();
  }
  if (!gemmInput)
    return std::nullopt;
  std::optional<loom::EpilogueBody> body =
      loom::matchEpilogueBody(consumer, *gemmInput);
  AffineMap consumerC =
      consumer.getMatchingIndexingMap(&consumer->getOpOperand(*gemmInput));
  if (!body || !consumerC.isPermutation())
    return std::nullopt;

  // The consumer's loop d walks c's dimension p, which the contraction's
  // loop (or constant 0) cMap.getResult(p) walks.
  AffineMap cMap = op.getIndexingMapsArray()[2];
  SmallVector<AffineExpr> loopOf(consumer.getNumLoops());
  for (auto [p, expr] : llvm::enumerate(consumerC.getResults()))
    loopOf[cast<AffineDimExpr>(expr).getPosition()] = cMap.getResult(p);
  auto inContraction = [&](Value v, AffineMap &map) {
    for (OpOperand &o : consumer->getOpOperands()) {
      if (o.get() != v)
        continue;
      AffineMap m = consumer.getMatchingIndexingMap(&o);
      for (AffineExpr e : m.getResults())
        if (auto cst = dyn_cast<AffineConstantExpr>(e);
            !isa<AffineDimExpr>(e) && (!cst || cst.getValue() != 0))
          return false;
      map = m.replaceDimsAndSymbols(loopOf, {}, op.getNumLoops(), 0);
      return true;
    }
    return false;
  };

  FusedEpilogue result;
  result.op = consumer;
  result.body = *body;
  result.out = consumer.getDpsInits()[0];
  if (body->bias)
    result.bias = consumer.getDpsInputs()[*body->bias];
  if (body->residual)
    result.residual = consumer.getDpsInputs()[*body->residual];
  // Without an activation both are just addends: an in-place one (the
  // output itself) is the residual.
  if (body->act == loom::EpilogueActivation::None && result.bias &&
      result.bias == result.out) {
    std::swap(result.bias, result.residual);
    std::swap(result.body.bias, result.body.residual);
  }
  if (!inContraction(result.out, result.outMap) ||
      (result.bias && !inContraction(result.bias, result.biasMap)) ||
      (result.residual && !inContraction(result.residual, result.residualMap)))
    return std::nullopt;
  // The call writes the output while it reads A, B, the bias and the
  // residual.
  for (Value in : op.getDpsInputs())
    if (!distinctBuffers(result.out, in))
      return std::nullopt;
  if (result.bias && !distinctBuffers(result.out, result.bias))
    return std::nullopt;
  if (result.residual && !distinctBuffers(result.out, result.residual)) {
    if (result.residual != result.out ||
        consumer.getMatchingIndexingMap(
            consumer.getDpsInputOperand(*result.body.residual)) !=
            consumer.getMatchingIndexingMap(consumer.getDpsInitOperand(0)) ||
        body->act != loom::EpilogueActivation::None)
      return std::nullopt;
    result.accumulate = true;
  }
  if (result.out != c && !distinctBuffers(result.out, c))
    return std::nullopt;
  return result;
}

/// Moves before `op` what defines `v` between `op` and its epilogue (an
/// allocation, a view), with what that needs; false when something there
/// cannot move (then nothing moved).
static bool hoistBefore(Value v, Operation *op,
                        llvm::SetVector<Operation *> &moved) {
  Operation *def = v.getDefiningOp();
  if (!def || def->getBlock() != op->getBlock() || def->isBeforeInBlock(op) ||
      moved.contains(def))
    return true;
  if (!isMemoryEffectFree(def) && !isa<memref::AllocOp>(def))
    return false;
  for (Value operand : def->getOperands())
    if (!hoistBefore(operand, op, moved))
      return false;
  moved.insert(def);
  return true;
}

/// Replaces `op` by calls to the microkernel; fails (changing nothing but
/// dead metadata reads) when its reduction loops do not merge into one.
static LogicalResult lowerMatmul(RewriterBase &rewriter, linalg::GenericOp op,
                                 loom::MatmulLoops loops, func::FuncOp sgemm,
                                 func::FuncOp sgemmEpilogue,
                                 PackedWeights &packedWeights) {
  Location loc = op.getLoc();
  unsigned numLoops = op.getNumLoops();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  Value c = op.getDpsInits()[0];
  // Found before the metadata reads go in between.
  Operation *fill = zeroFillBefore(op, c);
  // An elementwise consumer computed by the call's epilogue: the call then
  // writes the consumer's output, and what that needs moves before it.
  std::optional<FusedEpilogue> epilogue = findEpilogue(op, c, fill);
  if (epilogue) {
    llvm::SetVector<Operation *> moved;
    if (llvm::all_of(
            ValueRange{epilogue->out, epilogue->bias, epilogue->residual},
            [&](Value v) { return !v || hoistBefore(v, op, moved); }))
      for (Operation *def : moved)
        rewriter.moveOpBefore(def, op);
    else
      epilogue.reset();
  }
  rewriter.setInsertionPoint(op);
  SmallVector<OpFoldResult> sizes(numLoops);
  StridedOperand operands[3] = {
      describe(rewriter, loc, op.getDpsInputs()[0], maps[0], numLoops, sizes),
      describe(rewriter, loc, op.getDpsInputs()[1], maps[1], numLoops, sizes),
      epilogue ? describe(rewriter, loc, epilogue->out, epilogue->outMap,
                          numLoops, sizes)
               : describe(rewriter, loc, c, maps[2], numLoops, sizes)};
  // The epilogue's addends (absent: a null address).
  std::optional<StridedOperand> bias, residual;
  if (epilogue && epilogue->bias)
    bias = describe(rewriter, loc, epilogue->bias, epilogue->biasMap, numLoops,
                    sizes);
  if (epilogue && epilogue->residual && !epilogue->accumulate)
    residual = describe(rewriter, loc, epilogue->residual,
                        epilogue->residualMap, numLoops, sizes);
  if (epilogue)
    maps[2] = epilogue->outMap;
  Value bValue = op.getDpsInputs()[1];
  AffineMap aMap = maps[0];
  // C's contiguous (last) loop should be the microkernel's column loop:
  // when it is a row loop of A, compute Cᵀ = Bᵀ·Aᵀ instead (swap the
  // operands and the roles of the loops). A convolution's im2col product
  // is one.
  if (auto last = dyn_cast_or_null<AffineDimExpr>(
          maps[2].getNumResults() ? maps[2].getResults().back() : nullptr);
      last && llvm::is_contained(loops.m, last.getPosition())) {
    std::swap(operands[0], operands[1]);
    std::swap(loops.m, loops.n);
    bValue = op.getDpsInputs()[0];
    aMap = maps[1];
  }
  const StridedOperand &a = operands[0], &out = operands[2];
  StridedOperand &b = operands[1];

  // The microkernel's rows, columns and reduction; contiguous extra row,
  // column and reduction loops merge into them.
  unsigned m = lastInMap(loops.m, maps[2]), n = lastInMap(loops.n, maps[2]),
           k = lastInMap(loops.k, aMap);
  SmallVector<unsigned> extraM, extraN, extraK;
  for (unsigned l : loops.m)
    if (l != m)
      extraM.push_back(l);
  for (unsigned l : loops.n)
    if (l != n)
      extraN.push_back(l);
  for (unsigned l : loops.k)
    if (l != k)
      extraK.push_back(l);
  mergeContiguous(k, extraK, {&a, &b}, sizes, rewriter);
  if (!extraK.empty())
    return failure();
  SmallVector<const StridedOperand *> rowOperands = {&a, &out},
                                      columnOperands = {&b, &out};
  // Pointers to bias and residual themselves (not to copies).
  for (const std::optional<StridedOperand> *addend : {&bias, &residual})
    if (*addend) {
      rowOperands.push_back(&**addend);
      columnOperands.push_back(&**addend);
    }
  mergeContiguous(m, extraM, rowOperands, sizes, rewriter);
  mergeContiguous(n, extraN, columnOperands, sizes, rewriter);

  int64_t flags = kAccumulate;
  if (fill) {
    rewriter.eraseOp(fill);
    flags = epilogue && epilogue->accumulate ? kAccumulate : 0;
  }

  // The loops left around the call: the longest becomes the microkernel's
  // batch, the others loop around it.
  SmallVector<unsigned> outer(loops.batch.begin(), loops.batch.end());
  outer.append(extraM);
  outer.append(extraN);

  // A constant B (a weight) is packed now rather than at every call.
  if (extraN.empty())
    if (memref::GlobalOp packed =
            packedWeight(rewriter, op->getParentOfType<ModuleOp>(), bValue, b,
                         k, n, outer, sizes, packedWeights)) {
      Value weights = memref::GetGlobalOp::create(
          rewriter, loc, packed.getType(), packed.getSymName());
      b.address = memref::ExtractAlignedPointerAsIndexOp::create(rewriter, loc,
                                                                 weights);
      b.strides.assign(numLoops, rewriter.getIndexAttr(0));
      flags |= kPackedB;
    }

  buildBatchedCalls(rewriter, loc, sizes, outer, [&](const CallSite &site) {
    SmallVector<Value> args;
    args.push_back(
        site.i64(site.batch ? sizes[*site.batch] : site.b.getIndexAttr(1)));
    args.push_back(site.i64(sizes[m]));
    args.push_back(site.i64(sizes[n]));
    args.push_back(site.i64(sizes[k]));
    // Rows and columns of A are (m, k), of B (k, n), of C (m, n).
    for (const StridedOperand &o : operands)
      site.appendOperand(args, o, &o == &b ? k : m, &o == &a ? k : n);
    args.push_back(arith::ConstantIntOp::create(site.b, site.loc, flags, 64));
    if (!epilogue) {
      func::CallOp::create(site.b, site.loc, sgemm, args);
      return;
    }
    // Bias and residual, (m, n) like C; absent: null address, strides 0.
    for (const std::optional<StridedOperand> *addend : {&bias, &residual}) {
      if (*addend)
        site.appendOperand(args, **addend, m, n);
      else
        args.append(4, arith::ConstantIntOp::create(site.b, site.loc, 0, 64));
    }
    args.push_back(arith::ConstantIntOp::create(
        site.b, site.loc, static_cast<int64_t>(epilogue->body.act), 64));
    func::CallOp::create(site.b, site.loc, sgemmEpilogue, args);
  });
  rewriter.eraseOp(op);
  if (!epilogue)
    return success();
  rewriter.eraseOp(epilogue->op);
  // The contraction's own output, now only freed, is gone.
  if (epilogue->out != c &&
      isa_and_nonnull<memref::AllocOp>(c.getDefiningOp()) &&
      llvm::all_of(c.getUsers(), [](Operation *user) {
        return isa<memref::DeallocOp>(user);
      })) {
    for (Operation *user : llvm::make_early_inc_range(c.getUsers()))
      rewriter.eraseOp(user);
    rewriter.eraseOp(c.getDefiningOp());
  }
  return success();
}

namespace {
struct LowerToMicrokernelsPass final
    : public loom::impl::LowerToMicrokernelsPassBase<LowerToMicrokernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<linalg::GenericOp, loom::MatmulLoops>> matmuls;
    SmallVector<std::tuple<linalg::GenericOp, unsigned, unsigned>> transposes;
    module.walk([&](linalg::GenericOp op) {
      if (!op.hasPureBufferSemantics())
        return;
      for (Value v : op->getOperands()) {
        auto type = dyn_cast<MemRefType>(v.getType());
        if (!type || (!type.getLayout().isIdentity() &&
                      !isa<StridedLayoutAttr>(type.getLayout())))
          return;
      }
      if (std::optional<loom::MatmulLoops> loops =
              loom::matchMicrokernelMatmul(op))
        matmuls.emplace_back(op, *loops);
      else if (auto t = matchTranspose(op))
        transposes.emplace_back(op, t->first, t->second);
    });
    IRRewriter rewriter(&getContext());
    if (!transposes.empty()) {
      func::FuncOp transpose =
          getOrDeclareKernel(module, kTranspose, kNumTransposeArgs);
      for (auto &[op, rows, cols] : transposes)
        lowerTranspose(rewriter, op, rows, cols, transpose);
    }
    if (matmuls.empty())
      return;
    func::FuncOp sgemm = getOrDeclareSgemm(module);
    func::FuncOp sgemmEpilogue =
        getOrDeclareKernel(module, kSgemmEpilogue, kNumEpilogueArgs);
    PackedWeights packedWeights;
    for (auto &[op, loops] : matmuls)
      (void)lowerMatmul(rewriter, op, loops, sgemm, sgemmEpilogue,
                        packedWeights);
    for (func::FuncOp kernel : {sgemm, sgemmEpilogue})
      if (SymbolTable::symbolKnownUseEmpty(kernel, module))
        rewriter.eraseOp(kernel);
    // The metadata reads of operands the calls do not use (a packed
    // weight's original layout) are dead; then weights now only read packed
    // are gone.
    module.walk([&](Operation *op) {
      if (isa<memref::ExtractStridedMetadataOp,
              memref::ExtractAlignedPointerAsIndexOp>(op) &&
          op->use_empty())
        rewriter.eraseOp(op);
    });
    // One walk: the get_globals of each symbol, and whether any is read.
    llvm::StringMap<std::pair<SmallVector<memref::GetGlobalOp>, bool>> gets;
    module.walk([&](memref::GetGlobalOp get) {
      auto &[unused, read] = gets[get.getName()];
      if (get->use_empty())
        unused.push_back(get);
      else
        read = true;
    });
    llvm::SmallPtrSet<Operation *, 16> originals;
    for (auto &entry : packedWeights) {
      auto original = cast<memref::GlobalOp>(std::get<0>(entry.first));
      if (!originals.insert(original).second)
        continue;
      auto &[unused, read] = gets[original.getSymName()];
      if (read)
        continue;
      for (memref::GetGlobalOp get : unused)
        rewriter.eraseOp(get);
      if (SymbolTable::symbolKnownUseEmpty(original, module))
        rewriter.eraseOp(original);
    }
  }
};
} // namespace
