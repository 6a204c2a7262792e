//===- GPURowReductions.cpp - Row reductions to warp-per-row kernels ------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom-gpu-row-reductions runs on bufferized linalg in the GPU pipeline.
// A `linalg.generic` that reduces its inputs' innermost dimension into its
// output with an associative, commutative float combiner (add, mul, max,
// min: softmax's row max and row sum, a norm's mean and variance) would,
// mapped one thread per output element, walk each row alone: adjacent
// threads read addresses a whole row apart. Here each output element gets a
// warp instead:
//
//   * blocks of 256 threads, 8 warps, one row each (grid: ceil(rows / 8));
//   * lane l combines elements l, l + 32, ... of its row (adjacent lanes read
//     adjacent elements) starting from the combiner's identity;
//   * five butterfly shuffles (`gpu.shuffle xor`) combine the 32 partials;
//   * lane 0 combines the result into the output element.
//
// The order of the combination changes (as with any parallel reduction);
// the op's per-element computation (its body up to the combiner) is cloned
// unchanged.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Transforms/LoopIndexing.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace loom {
#define GEN_PASS_DEF_GPUROWREDUCTIONSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-gpu-row-reductions"

using namespace mlir;

namespace {

/// Threads per block, and rows per block (one per warp).
constexpr int64_t kThreads = 256, kWarp = 32, kRowsPerBlock = kThreads / kWarp;

/// The kind of a float combiner op, if it is one this pass reduces with.
static std::optional<arith::AtomicRMWKind> combinerKind(Operation *op) {
  if (isa<arith::AddFOp>(op))
    return arith::AtomicRMWKind::addf;
  if (isa<arith::MulFOp>(op))
    return arith::AtomicRMWKind::mulf;
  if (isa<arith::MaxNumFOp>(op))
    return arith::AtomicRMWKind::maxnumf;
  if (isa<arith::MaximumFOp>(op))
    return arith::AtomicRMWKind::maximumf;
  if (isa<arith::MinNumFOp>(op))
    return arith::AtomicRMWKind::minnumf;
  if (isa<arith::MinimumFOp>(op))
    return arith::AtomicRMWKind::minimumf;
  return std::nullopt;
}

/// What makes `op` a row reduction: its reduction loop, its combiner (the
/// op the yield takes, combining the per-element value with the output's
/// block argument) and that per-element value.
struct RowReduction {
  unsigned reductionLoop;
  Operation *combiner;
  arith::AtomicRMWKind kind;
  Value element;
};

static std::optional<RowReduction> matchRowReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumDpsInputs() == 0 || op.getNumReductionLoops() != 1)
    return std::nullopt;
  RowReduction match;
  for (auto [i, type] : llvm::enumerate(op.getIteratorTypesArray()))
    if (type == utils::IteratorType::reduction)
      match.reductionLoop = i;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type || !type.getLayout().isIdentity())
      return std::nullopt;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!map.isProjectedPermutation())
      return std::nullopt;
  }
  // Coalesced: the reduction runs along the first input's rows.
  AffineMap first = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  if (first.getNumResults() == 0 ||
      cast<AffineDimExpr>(first.getResults().back()).getPosition() !=
          match.reductionLoop)
    return std::nullopt;
  Block &body = op.getRegion().front();
  if (!body.getOps<linalg::IndexOp>().empty())
    return std::nullopt;
  Value out = body.getArguments().back();
  if (!isa<FloatType>(out.getType()) || !out.hasOneUse())
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Operation *combiner = yield.getOperand(0).getDefiningOp();
  if (!combiner || combiner->getBlock() != &body ||
      combiner->getNumOperands() != 2 || *out.getUsers().begin() != combiner)
    return std::nullopt;
  std::optional<arith::AtomicRMWKind> kind = combinerKind(combiner);
  if (!kind)
    return std::nullopt;
  match.combiner = combiner;
  match.kind = *kind;
  match.element = combiner->getOperand(0) == out ? combiner->getOperand(1)
                                                 : combiner->getOperand(0);
  if (match.element == out)
    return std::nullopt;
  return match;
}

/// Builds the warp-per-row kernel of `op` in front of it.
static void buildKernel(OpBuilder &b, linalg::GenericOp op,
                        const RowReduction &match) {
  Location loc = op.getLoc();
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto linalgOp = cast<linalg::LinalgOp>(op.getOperation());
  SmallVector<Value> sizes = loom::loopSizes(b, loc, linalgOp);
  SmallVector<unsigned> parallel;
  for (unsigned i = 0; i < op.getNumLoops(); ++i)
    if (i != match.reductionLoop)
      parallel.push_back(i);
  Value rows = loom::productOfSizes(b, loc, parallel, sizes);
  Value length = sizes[match.reductionLoop];

  Value zero = index(0);
  auto any = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, zero, rows),
      /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&any.getThenRegion().front());
  Value one = index(1);
  Value grid = arith::CeilDivUIOp::create(b, loc, rows, index(kRowsPerBlock));
  auto launch =
      gpu::LaunchOp::create(b, loc, grid, one, one, index(kThreads), one, one);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value tid = launch.getThreadIds().x;
  Value warp = arith::DivUIOp::create(b, loc, tid, index(kWarp));
  Value lane = arith::RemUIOp::create(b, loc, tid, index(kWarp));
  Value row = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            index(kRowsPerBlock)),
      warp);
  // The guard is the same for a whole warp: the shuffles see all 32 lanes.
  auto inside = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, rows),
      /*withElseRegion=*/false);
  b.setInsertionPointToStart(&inside.getThenRegion().front());

  // The row's parallel loop values (the last fastest).
  SmallVector<Value> ivs(op.getNumLoops(), zero);
  loom::delinearizeLoops(b, loc, row, parallel, sizes, ivs);
  auto indices = [&](OpOperand &operand, ArrayRef<Value> at) {
    return loom::operandIndices(linalgOp, operand, at);
  };

  Type type = match.element.getType();
  Value identity = arith::getIdentityValue(match.kind, type, b, loc);
  Block &body = op.getRegion().front();
  // combiner(element, partial), cloned with its operands remapped.
  auto combine = [&](Value element, Value partial) -> Value {
    IRMapping map;
    map.map(match.element, element);
    map.map(body.getArguments().back(), partial);
    return b.clone(*match.combiner, map)->getResult(0);
  };
  auto loop = scf::ForOp::create(b, loc, lane, length, index(kWarp),
                                 ValueRange{identity});
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> at = ivs;
    at[match.reductionLoop] = loop.getInductionVar();
    IRMapping map;
    for (OpOperand *input : op.getDpsInputOperands())
      map.map(
          body.getArgument(input->getOperandNumber()),
          memref::LoadOp::create(b, loc, input->get(), indices(*input, at)));
    for (Operation &inner : body.without_terminator())
      if (&inner != match.combiner)
        b.clone(inner, map);
    Value partial = combine(map.lookupOrDefault(match.element),
                            loop.getRegionIterArgs()[0]);
    scf::YieldOp::create(b, loc, partial);
  }
  Value partial = loop.getResult(0);
  for (int32_t offset = kWarp / 2; offset >= 1; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(b, loc, partial, offset, kWarp,
                                          gpu::ShuffleMode::XOR);
    partial = combine(shuffle.getShuffleResult(), partial);
  }
  auto first = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, zero),
      /*withElseRegion=*/false);
  b.setInsertionPointToStart(&first.getThenRegion().front());
  OpOperand &init = *op.getDpsInitOperand(0);
  SmallVector<Value> at = indices(init, ivs);
  Value old = memref::LoadOp::create(b, loc, init.get(), at);
  memref::StoreOp::create(b, loc, combine(partial, old), init.get(), at);
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
}

struct GPURowReductionsPass
    : loom::impl::GPURowReductionsPassBase<GPURowReductionsPass> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, RowReduction>> matches;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (std::optional<RowReduction> match = matchRowReduction(op))
        matches.push_back({op, *match});
    });
    IRRewriter rewriter(&getContext());
    for (auto &[op, match] : matches) {
      rewriter.setInsertionPoint(op);
      buildKernel(rewriter, op, match);
      rewriter.eraseOp(op);
      ++numKernels;
    }
  }
};

} // namespace
