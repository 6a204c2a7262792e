//===- GPUContractions.cpp - Contractions to tensor-core kernels ----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom-gpu-contractions runs on bufferized linalg in the GPU pipeline. Each
// f32 contraction (`out += a * b` over one M, one N and one K dimension, any
// number of batch dimensions, any operand layouts) becomes three gpu.launch
// ops:
//
//   * two convert A and B to fp16 or bf16, as [batch][M][K] and
//     [batch][N][K] padded to whole tiles with zeros (8 elements per
//     thread; adjacent threads take adjacent elements of the operand's
//     contiguous dimension, so that loads coalesce);
//   * in the third, a thread block of 256 threads (8 warps, 2 x 4) computes
//     a 128 x 128 tile of the output for one batch index (grid: N tiles, M
//     tiles, batch). Its A and B tiles, 32 deep, arrive in shared memory by
//     cp.async (16 bytes per copy) in two stages: each K step starts the
//     next step's copies and waits for its own. Rows are padded by 8
//     elements (conflict-free ldmatrix);
//   * each warp accumulates its 64 x 32 part in fp32 registers with
//     `mma.sync.m16n8k16` (NVVM's nvvm.mma.sync: 4 x 4 tiles, two k16 steps
//     per K step), its fragments loaded by ldmatrix.x4;
//   * the epilogue adds the accumulators to the output (which the
//     contraction's init, a separate kernel, has filled).
//
// The conversion clamps its indices into the operand and selects 0 outside
// it; the output's stores are guarded. With precision fp32, or with
// `tensor-cores=false` (kernels emulated on the host), contractions are
// only interchanged so that their reductions are innermost: the parallel
// dimensions then become GPU threads in loom-map-parallel-to-gpu.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Transforms/KernelArith.h"
#include "loom/Transforms/LoopIndexing.h"
#include "loom/Transforms/TensorCores.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace loom {
#define GEN_PASS_DEF_GPUCONTRACTIONSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-gpu-contractions"

using namespace mlir;

namespace {

/// The block tile: rows of the output (M), columns (N), depth (K).
constexpr int64_t kTileM = 128, kTileN = 128, kTileK = 32;
/// Threads per block (8 warps: 2 along M, 4 along N).
constexpr int64_t kThreads = 256;
constexpr int64_t kWarpsN = 4;
/// Each warp's part of the tile, in m16n8 MMA tiles.
constexpr int64_t kWarpTilesM = 4, kWarpTilesN = 4;
/// Shared-memory rows are padded by this many elements (conflict-free
/// ldmatrix rows, 16-byte aligned).
constexpr int64_t kPad = 8;
/// Shared-memory stages: the next K step's tiles arrive while this one's
/// are used.
constexpr int64_t kStages = 2;

/// What a contraction's loops are: its M loops (A and the output, not B),
/// N loops (B and the output), K loop and batch loops, by position. Several
/// M (or N) loops are linearized into one, the last fastest.
struct ContractionLoops {
  SmallVector<unsigned> m, n;
  unsigned k;
  SmallVector<unsigned> batch;
};

/// Whether `op` is `out += a * b` on f32 memrefs over one K loop (and any
/// M, N and batch loops), with projected-permutation maps; fills
/// `loops`.
static bool isF32Contraction(linalg::GenericOp op, ContractionLoops &loops) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return false;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type || !type.getElementType().isF32())
      return false;
    if (!op.getMatchingIndexingMap(&operand).isProjectedPermutation())
      return false;
  }
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || body.getOperations().size() != 3)
    return false;
  Value out = body.getArgument(2), product;
  if (add.getLhs() == out)
    product = add.getRhs();
  else if (add.getRhs() == out)
    product = add.getLhs();
  else
    return false;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul || mul->getBlock() != &body)
    return false;
  Value a = body.getArgument(0), b = body.getArgument(1);
  if (!((mul.getLhs() == a && mul.getRhs() == b) ||
        (mul.getLhs() == b && mul.getRhs() == a)))
    return false;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(cast<linalg::LinalgOp>(op.getOperation()));
  if (failed(dims) || dims->m.empty() || dims->n.empty() || dims->k.size() != 1)
    return false;
  // Every loop is one of them (no loop only the output or one input sees).
  if (dims->batch.size() + dims->m.size() + dims->n.size() + 1 !=
      op.getNumLoops())
    return false;
  loops.m.assign(dims->m.begin(), dims->m.end());
  loops.n.assign(dims->n.begin(), dims->n.end());
  loops.k = dims->k[0];
  loops.batch.assign(dims->batch.begin(), dims->batch.end());
  return true;
}

/// Whether the kernel's grid fits CUDA's limits as far as the static sizes
/// tell: M tiles (grid y) and the batch (grid z) at most 65535 each. (A
/// dynamic size beyond them is a launch error at run time.)
static bool fitsTheGrid(linalg::GenericOp op, const ContractionLoops &loops) {
  SmallVector<int64_t> sizes = op.getStaticLoopRanges();
  auto product = [&](ArrayRef<unsigned> group) -> int64_t {
    int64_t p = 1;
    for (unsigned l : group) {
      if (ShapedType::isDynamic(sizes[l]))
        return 0;
      p *= sizes[l];
    }
    return p;
  };
  constexpr int64_t kMaxGridYZ = 65535;
  return (product(loops.m) + kTileM - 1) / kTileM <= kMaxGridYZ &&
         product(loops.batch) <= kMaxGridYZ;
}

/// Moves the reduction loops of `op` innermost (keeping the others' order);
/// returns the interchanged op.
static linalg::GenericOp reductionsInnermost(RewriterBase &rewriter,
                                             linalg::GenericOp op) {
  SmallVector<unsigned> order, reductions;
  for (auto [i, type] : llvm::enumerate(op.getIteratorTypesArray()))
    (type == utils::IteratorType::reduction ? reductions : order).push_back(i);
  order.append(reductions);
  bool identity = llvm::all_of(llvm::enumerate(order), [](auto pair) {
    return pair.index() == pair.value();
  });
  if (identity)
    return op;
  FailureOr<linalg::GenericOp> swapped =
      linalg::interchangeGenericOp(rewriter, op, order);
  return succeeded(swapped) ? *swapped : op;
}

/// Builds the tensor-core kernel of one contraction.
class KernelBuilder : loom::KernelArith {
public:
  KernelBuilder(OpBuilder &b, Location loc, linalg::GenericOp op,
                const ContractionLoops &loops, Type lowType)
      : KernelArith(b, loc), op(op), loops(loops), lowType(lowType) {}

  void build();

private:
  /// min(x, bound - 1) (bound > 0).
  Value clamp(Value x, Value bound) {
    return arith::MinUIOp::create(
        b, loc, x, arith::SubIOp::create(b, loc, bound, index(1)));
  }
  /// The bytes of `elements` (i64) 16-bit elements.
  Value bytes(Value elements) {
    return arith::ShLIOp::create(b, loc, elements, i64(1));
  }
  /// `x` rounded up to a multiple of `c`.
  Value roundUp(Value x, int64_t c) {
    return mul(arith::CeilDivUIOp::create(b, loc, x, index(c)), c);
  }

  /// The indices into `operand` for loop values `ivs` (by loop position).
  SmallVector<Value> operandIndices(OpOperand &operand, ArrayRef<Value> ivs) {
    return loom::operandIndices(op, operand, ivs);
  }

  /// Whether the innermost (contiguous) dimension of `operand` is loop
  /// `loop`.
  bool contiguousAlong(OpOperand &operand, unsigned loop) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    return map.getNumResults() &&
           cast<AffineDimExpr>(map.getResults().back()).getPosition() == loop;
  }

  /// Converts `operand` (A or B: its rows are the loops `rowLoops`, M or N)
  /// into `low`: [batch][rows padded to `paddedRows`][K padded to
  /// `paddedK`] in the low type, zeros outside the operand. One kernel of
  /// 8 elements (16 bytes of `low`) per thread; adjacent threads take
  /// adjacent elements of the operand's contiguous dimension.
  void convert(OpOperand &operand, ArrayRef<unsigned> rowLoops, Value rows,
               Value paddedRows, Value paddedK, Value low);

  /// Sets the loop values of `group` (M or N loops) from their linearized
  /// value (the last loop fastest).
  void setLinear(SmallVectorImpl<Value> &ivs, ArrayRef<unsigned> group,
                 Value linear) {
    loom::delinearizeLoops(b, loc, linear, group, loopSizes, ivs);
  }

  linalg::GenericOp op;
  /// The sizes of the contraction's loops.
  SmallVector<Value> loopSizes;
  ContractionLoops loops;
  Type lowType;
  /// M, N, K, and the product of the batch loops.
  Value sizeM, sizeN, sizeK, batch;
};

void KernelBuilder::convert(OpOperand &operand, ArrayRef<unsigned> rowLoops,
                            Value rows, Value paddedRows, Value paddedK,
                            Value low) {
  constexpr int64_t kWidth = 8, kBlock = 256;
  Value chunks = div(paddedK, kWidth);
  Value total = mul(mul(batch, paddedRows), chunks);
  Value one = index(1);
  Value blocks = arith::CeilDivUIOp::create(b, loc, total, index(kBlock));
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, index(kBlock), one, one);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value e = add(mul(launch.getBlockIds().x, kBlock), launch.getThreadIds().x);
  auto inRange = scf::IfOp::create(b, loc, lessThan(e, total), false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());
  // Thread e: (batch, row, chunk), the chunk fastest when K is the
  // operand's contiguous dimension, the row fastest otherwise.
  Value row, chunk, matrix;
  if (contiguousAlong(operand, loops.k)) {
    chunk = arith::RemUIOp::create(b, loc, e, chunks);
    Value rest = arith::DivUIOp::create(b, loc, e, chunks);
    row = arith::RemUIOp::create(b, loc, rest, paddedRows);
    matrix = arith::DivUIOp::create(b, loc, rest, paddedRows);
  } else {
    row = arith::RemUIOp::create(b, loc, e, paddedRows);
    Value rest = arith::DivUIOp::create(b, loc, e, paddedRows);
    chunk = arith::RemUIOp::create(b, loc, rest, chunks);
    matrix = arith::DivUIOp::create(b, loc, rest, chunks);
  }
  SmallVector<Value> ivs(op.getNumLoops(), index(0));
  loom::delinearizeLoops(b, loc, matrix, loops.batch, loopSizes, ivs);
  setLinear(ivs, rowLoops, clamp(row, rows));
  Value rowInside = lessThan(row, rows);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  SmallVector<Value> values;
  for (int64_t w = 0; w < kWidth; ++w) {
    Value k = add(mul(chunk, kWidth), w);
    ivs[loops.k] = clamp(k, sizeK);
    Value v = memref::LoadOp::create(b, loc, operand.get(),
                                     operandIndices(operand, ivs));
    Value inside = arith::AndIOp::create(b, loc, rowInside, lessThan(k, sizeK));
    v = arith::SelectOp::create(b, loc, inside, v, zero);
    values.push_back(arith::TruncFOp::create(b, loc, lowType, v));
  }
  // low[matrix][row][chunk * 8 ..]
  Value at =
      mul(add(mul(add(mul(matrix, paddedRows), row), chunks), chunk), kWidth);
  Value vec = vector::FromElementsOp::create(
      b, loc, VectorType::get({kWidth}, lowType), values);
  vector::StoreOp::create(b, loc, vec, low, ValueRange{at},
                          /*nontemporal=*/false, llvm::Align(16));
}

void KernelBuilder::build() {
  loopSizes = loom::loopSizes(b, loc, cast<linalg::LinalgOp>(*op));
  ArrayRef<Value> sizes = loopSizes;
  sizeM = loom::productOfSizes(b, loc, loops.m, sizes);
  sizeN = loom::productOfSizes(b, loc, loops.n, sizes);
  sizeK = sizes[loops.k];
  batch = loom::productOfSizes(b, loc, loops.batch, sizes);

  // Nothing to launch for an empty output. (K = 0 leaves the output as the
  // init made it: nothing to add.)
  Value zeroIdx = index(0);
  Value work = arith::AndIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc,
                            arith::AndIOp::create(b, loc,
                                                  lessThan(zeroIdx, sizeM),
                                                  lessThan(zeroIdx, sizeN)),
                            lessThan(zeroIdx, batch)),
      lessThan(zeroIdx, sizeK));
  auto ifOp = scf::IfOp::create(b, loc, work, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());

  // A as [batch][M][K] and B as [batch][N][K] in the low type, padded to
  // whole tiles with zeros: what the kernel copies asynchronously.
  Value paddedM = roundUp(sizeM, kTileM), paddedN = roundUp(sizeN, kTileN);
  Value paddedK = roundUp(sizeK, kTileK);
  auto lowBuffer = MemRefType::get({ShapedType::kDynamic}, lowType);
  Value aLow = memref::AllocOp::create(
      b, loc, lowBuffer, ValueRange{mul(mul(batch, paddedM), paddedK)});
  Value bLow = memref::AllocOp::create(
      b, loc, lowBuffer, ValueRange{mul(mul(batch, paddedN), paddedK)});
  OpOperand &opA = *op.getDpsInputOperand(0), &opB = *op.getDpsInputOperand(1);
  OpOperand &opC = *op.getDpsInitOperand(0);
  convert(opA, loops.m, sizeM, paddedM, paddedK, aLow);
  convert(opB, loops.n, sizeN, paddedN, paddedK, bLow);
  Value aAddress = loom::bufferAddress(b, loc, aLow);
  Value bAddress = loom::bufferAddress(b, loc, bLow);

  Value gridX = div(paddedN, kTileN), gridY = div(paddedM, kTileM);
  Value one = index(1);
  Attribute shared = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  auto tileA = MemRefType::get({kStages, kTileM, kTileK + kPad}, lowType,
                               MemRefLayoutAttrInterface(), shared);
  auto tileB = MemRefType::get({kStages, kTileN, kTileK + kPad}, lowType,
                               MemRefLayoutAttrInterface(), shared);
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, gridY, batch, index(kThreads), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, TypeRange{tileA, tileB});
  b.setInsertionPointToStart(&launch.getBody().front());
  Value sharedA = launch.getWorkgroupAttributions()[0];
  Value sharedB = launch.getWorkgroupAttributions()[1];
  gpu::KernelDim3 blockIds = launch.getBlockIds();
  Value tid = launch.getThreadIds().x;

  // The batch indices, from block z (last batch loop fastest).
  SmallVector<Value> ivs(op.getNumLoops(), zeroIdx);
  loom::delinearizeLoops(b, loc, blockIds.z, loops.batch, sizes, ivs);
  Value m0 = mul(blockIds.y, kTileM), n0 = mul(blockIds.x, kTileN);
  Value warp = div(tid, 32), lane = rem(tid, 32);
  Value group = div(lane, 4), quad = rem(lane, 4);
  Value warpM = mul(div(warp, kWarpsN), kWarpTilesM * 16);
  Value warpN = mul(rem(warp, kWarpsN), kWarpTilesN * 8);

  // Copies of one K step's tiles (128 rows x 32 = 512 chunks of 16 bytes
  // per operand, 2 per thread) into stage `stage`: rows of `low` from
  // `row0` (of this batch index), columns from `k0`.
  Value aRow0 = add(mul(blockIds.z, paddedM), m0);
  Value bRow0 = add(mul(blockIds.z, paddedN), n0);
  Value aTiles = loom::bufferAddress(b, loc, sharedA);
  Value bTiles = loom::bufferAddress(b, loc, sharedB);
  constexpr int64_t kChunks = kTileK / 8;
  auto copyStep = [&](Value stage, Value k0) {
    for (auto [low, row0, tiles] : {std::tuple(aAddress, aRow0, aTiles),
                                    std::tuple(bAddress, bRow0, bTiles)})
      for (int64_t i = 0; i < kTileM * kChunks / kThreads; ++i) {
        Value e = add(tid, i * kThreads);
        Value r = div(e, kChunks), c = mul(rem(e, kChunks), 8);
        Value src = toI64(add(mul(add(row0, r), paddedK), add(k0, c)));
        Value dst =
            toI64(add(mul(add(mul(stage, kTileM), r), kTileK + kPad), c));
        loom::copyAsync16(b, loc,
                          arith::AddIOp::create(b, loc, tiles, bytes(dst)),
                          arith::AddIOp::create(b, loc, low, bytes(src)));
      }
  };

  // The accumulators: 4 f32 per m16n8 tile, as the MMA's fragments.
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  constexpr int64_t kTiles = kWarpTilesM * kWarpTilesN;
  SmallVector<Value> init(kTiles * 4, zero);

  // The first step's tiles on their way; each step then starts the next
  // step's copies into the other stage and waits for its own.
  copyStep(zeroIdx, zeroIdx);
  NVVM::CpAsyncCommitGroupOp::create(b, loc);
  auto loop = scf::ForOp::create(b, loc, zeroIdx, paddedK, index(kTileK), init);
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    Value step = div(k0, kTileK);
    Value stage = rem(step, kStages);
    Value nextK = add(k0, kTileK);
    auto more = scf::IfOp::create(b, loc, lessThan(nextK, paddedK), false);
    {
      OpBuilder::InsertionGuard moreGuard(b);
      b.setInsertionPointToStart(&more.getThenRegion().front());
      copyStep(rem(add(step, 1), kStages), nextK);
    }
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
    // This step's tiles: all groups but the newest (the next step's).
    NVVM::CpAsyncWaitGroupOp::create(b, loc, 1);
    gpu::BarrierOp::create(b, loc);

    SmallVector<Value> acc(loop.getRegionIterArgs());
    // Element (row, col) of stage `stage` of a tile.
    auto at = [&](Value row, Value col) {
      return add(mul(add(mul(stage, kTileM), row), kTileK + kPad), col);
    };
    // Lane l points at row l % 8 of matrix i = l / 8.
    Value i = div(lane, 8), r8 = rem(lane, 8);
    for (int64_t kk = 0; kk < kTileK; kk += 16) {
      // A: matrices (rows 0-7 | 8-15) x (k 0-7 | 8-15), rows first: the
      // registers a0-a3 of an m16 tile.
      SmallVector<SmallVector<Value>> fragA;
      for (int64_t mt = 0; mt < kWarpTilesM; ++mt) {
        Value row = add(add(add(warpM, mul(rem(i, 2), 8)), r8), mt * 16);
        Value col = add(mul(div(i, 2), 8), kk);
        fragA.push_back(loom::loadMatricesX4(b, loc, sharedA, at(row, col),
                                             /*transposed=*/false, lowType));
      }
      // B: matrices (n tile nt | nt + 1) x (k 0-7 | 8-15), k first: b0, b1
      // of two n8 tiles.
      SmallVector<SmallVector<Value>> fragB;
      for (int64_t nt = 0; nt < kWarpTilesN; nt += 2) {
        Value row = add(add(add(warpN, mul(div(i, 2), 8)), r8), nt * 8);
        Value col = add(mul(rem(i, 2), 8), kk);
        SmallVector<Value> regs = loom::loadMatricesX4(
            b, loc, sharedB, at(row, col), /*transposed=*/false, lowType);
        fragB.push_back({regs[0], regs[1]});
        fragB.push_back({regs[2], regs[3]});
      }
      for (int64_t mt = 0; mt < kWarpTilesM; ++mt)
        for (int64_t nt = 0; nt < kWarpTilesN; ++nt)
          loom::mmaM16N8K16(b, loc, lowType, fragA[mt], fragB[nt],
                            MutableArrayRef<Value>(acc).slice(
                                (mt * kWarpTilesN + nt) * 4, 4));
    }
    // Every warp has read this stage: the next step may overwrite it.
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, acc);
  }

  // Epilogue: out[m][n] += acc, inside the output only.
  for (int64_t mt = 0; mt < kWarpTilesM; ++mt)
    for (int64_t nt = 0; nt < kWarpTilesN; ++nt)
      for (int64_t j = 0; j < 4; ++j) {
        // Fragment element j: row group (+8 for j >= 2), column 2 quad
        // (+1 for odd j).
        Value m = add(add(add(m0, warpM), group), mt * 16 + (j >= 2 ? 8 : 0));
        Value n = add(add(add(n0, warpN), mul(quad, 2)), nt * 8 + (j % 2));
        Value inside = arith::AndIOp::create(b, loc, lessThan(m, sizeM),
                                             lessThan(n, sizeN));
        auto guarded = scf::IfOp::create(b, loc, inside, false);
        OpBuilder::InsertionGuard storeGuard(b);
        b.setInsertionPointToStart(&guarded.getThenRegion().front());
        SmallVector<Value> at = ivs;
        setLinear(at, loops.m, m);
        setLinear(at, loops.n, n);
        SmallVector<Value> indices = operandIndices(opC, at);
        Value old = memref::LoadOp::create(b, loc, opC.get(), indices);
        Value sum = arith::AddFOp::create(
            b, loc, old, loop.getResult((mt * kWarpTilesN + nt) * 4 + j));
        memref::StoreOp::create(b, loc, sum, opC.get(), indices);
      }
  gpu::TerminatorOp::create(b, loc);

  b.setInsertionPointAfter(launch);
  memref::DeallocOp::create(b, loc, aLow);
  memref::DeallocOp::create(b, loc, bLow);
}

struct GPUContractionsPass
    : loom::impl::GPUContractionsPassBase<GPUContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    Type lowType = loom::lowPrecisionType(&getContext(), precision);
    if (!lowType && precision != "fp32") {
      getOperation().emitError() << "loom-gpu-contractions: unknown precision '"
                                 << precision << "' (fp32, fp16 or bf16)";
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op->getParentOfType<gpu::LaunchOp>())
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : candidates) {
      ContractionLoops loops;
      if (!isF32Contraction(op, loops))
        continue;
      if (lowType && tensorCores && fitsTheGrid(op, loops)) {
        rewriter.setInsertionPoint(op);
        KernelBuilder(rewriter, op.getLoc(), op, loops, lowType).build();
        rewriter.eraseOp(op);
        ++numTensorCore;
        continue;
      }
      rewriter.setInsertionPoint(op);
      if (reductionsInnermost(rewriter, op) != op)
        ++numInterchanged;
    }
  }
};

} // namespace
