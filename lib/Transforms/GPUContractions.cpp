//===- GPUContractions.cpp - Contractions to tensor-core kernels ----------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom-gpu-contractions runs on bufferized linalg in the GPU pipeline. Each
// f32 contraction (`out += a * b` over one M, one N and one K dimension, any
// number of batch dimensions, any operand layouts) becomes one gpu.launch:
//
//   * a thread block of 256 threads (8 warps, 2 x 4) computes a 128 x 128
//     tile of the output for one batch index (grid: N tiles, M tiles,
//     batch);
//   * per 32-deep K step, the block stages its A and B tiles in shared
//     memory, converted to fp16 or bf16 (each operand read along its
//     contiguous dimension, so that a warp's loads coalesce; rows padded by
//     8 elements so that the fragment loads are free of bank conflicts);
//   * each warp accumulates its 64 x 32 part in fp32 registers with
//     `mma.sync.m16n8k16` (NVVM's nvvm.mma.sync: 4 x 4 tiles, two k16 steps
//     per K step);
//   * the epilogue adds the accumulators to the output (which the
//     contraction's init, a separate kernel, has filled).
//
// Edges are handled without branches: loads clamp their indices into the
// operand and select 0 outside it; stores are guarded. With precision fp32,
// or with `tensor-cores=false` (kernels emulated on the host), contractions
// are only interchanged so that their reductions are innermost: the
// parallel dimensions then become GPU threads in loom-map-parallel-to-gpu.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Transforms/LoopIndexing.h"

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
/// Shared-memory rows are padded by this many elements.
constexpr int64_t kPad = 8;

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
class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc, linalg::GenericOp op,
                const ContractionLoops &loops, Type lowType)
      : b(b), loc(loc), op(op), loops(loops), lowType(lowType) {}

  void build();

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value mul(Value x, int64_t c) {
    return arith::MulIOp::create(b, loc, x, index(c));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value add(Value x, int64_t c) { return c ? add(x, index(c)) : x; }
  Value div(Value x, int64_t c) {
    return arith::DivUIOp::create(b, loc, x, index(c));
  }
  Value rem(Value x, int64_t c) {
    return arith::RemUIOp::create(b, loc, x, index(c));
  }
  Value lessThan(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  /// min(x, bound - 1) (bound > 0).
  Value clamp(Value x, Value bound) {
    return arith::MinUIOp::create(
        b, loc, x, arith::SubIOp::create(b, loc, bound, index(1)));
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

  /// Stages one operand's tile: `rows` x kTileK elements, the row loop
  /// `rowLoop` (M or N) from `row0`, the K loop from `k0`; stored
  /// [row][k] in `tile`, converted to the low-precision type.
  void stageTile(OpOperand &operand, ArrayRef<unsigned> rowLoops, Value row0,
                 Value k0, Value rowBound, Value kBound, Value tile, Value tid,
                 SmallVector<Value> ivs);

  /// Sets the loop values of `group` (M or N loops) from their linearized
  /// value (the last loop fastest).
  void setLinear(SmallVectorImpl<Value> &ivs, ArrayRef<unsigned> group,
                 Value linear) {
    loom::delinearizeLoops(b, loc, linear, group, loopSizes, ivs);
  }

  OpBuilder &b;
  Location loc;
  linalg::GenericOp op;
  /// The sizes of the contraction's loops.
  SmallVector<Value> loopSizes;
  ContractionLoops loops;
  Type lowType;
};

void KernelBuilder::stageTile(OpOperand &operand, ArrayRef<unsigned> rowLoops,
                              Value row0, Value k0, Value rowBound,
                              Value kBound, Value tile, Value tid,
                              SmallVector<Value> ivs) {
  // Adjacent threads take adjacent elements along the operand's contiguous
  // dimension: K when it is innermost, the rows otherwise.
  bool kFast = contiguousAlong(operand, loops.k);
  int64_t rows = rowLoops == ArrayRef<unsigned>(loops.m) ? kTileM : kTileN;
  int64_t perThread = rows * kTileK / kThreads;
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  // Thread t takes elements t + 256 i: with kTileK (or `rows`) dividing
  // 256, its row and column are those of t plus a constant.
  Value r0 = kFast ? div(tid, kTileK) : rem(tid, rows);
  Value c0 = kFast ? rem(tid, kTileK) : div(tid, rows);
  int64_t rowStep = kFast ? kThreads / kTileK : 0;
  int64_t colStep = kFast ? 0 : kThreads / rows;
  for (int64_t i = 0; i < perThread; ++i) {
    Value r = add(r0, i * rowStep), c = add(c0, i * colStep);
    Value row = add(row0, r), k = add(k0, c);
    Value inside = arith::AndIOp::create(b, loc, lessThan(row, rowBound),
                                         lessThan(k, kBound));
    setLinear(ivs, rowLoops, clamp(row, rowBound));
    ivs[loops.k] = clamp(k, kBound);
    Value v = memref::LoadOp::create(b, loc, operand.get(),
                                     operandIndices(operand, ivs));
    v = arith::SelectOp::create(b, loc, inside, v, zero);
    Value low = arith::TruncFOp::create(b, loc, lowType, v);
    memref::StoreOp::create(b, loc, low, tile, ValueRange{r, c});
  }
}

void KernelBuilder::build() {
  loopSizes = loom::loopSizes(b, loc, cast<linalg::LinalgOp>(*op));
  ArrayRef<Value> sizes = loopSizes;
  Value sizeM = loom::productOfSizes(b, loc, loops.m, sizes);
  Value sizeN = loom::productOfSizes(b, loc, loops.n, sizes);
  Value sizeK = sizes[loops.k];
  Value batch = loom::productOfSizes(b, loc, loops.batch, sizes);

  // Nothing to launch for an empty output.
  Value zeroIdx = index(0);
  Value work = arith::AndIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc, lessThan(zeroIdx, sizeM),
                            lessThan(zeroIdx, sizeN)),
      lessThan(zeroIdx, batch));
  auto ifOp = scf::IfOp::create(b, loc, work, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());

  Value gridX = arith::CeilDivUIOp::create(b, loc, sizeN, index(kTileN));
  Value gridY = arith::CeilDivUIOp::create(b, loc, sizeM, index(kTileM));
  Value one = index(1);
  Attribute shared = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  auto tileA = MemRefType::get({kTileM, kTileK + kPad}, lowType,
                               MemRefLayoutAttrInterface(), shared);
  auto tileB = MemRefType::get({kTileN, kTileK + kPad}, lowType,
                               MemRefLayoutAttrInterface(), shared);
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, gridY, batch, index(kThreads), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, TypeRange{tileA, tileB});
  Block &body = launch.getBody().front();
  b.setInsertionPointToStart(&body);
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

  // The accumulators: 4 f32 per m16n8 tile, as the MMA's fragments.
  Type f32 = b.getF32Type();
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  constexpr int64_t kTiles = kWarpTilesM * kWarpTilesN;
  SmallVector<Value> init(kTiles * 4, zero);
  OpOperand &opA = *op.getDpsInputOperand(0), &opB = *op.getDpsInputOperand(1);
  OpOperand &opC = *op.getDpsInitOperand(0);

  auto loop = scf::ForOp::create(b, loc, zeroIdx, sizeK, index(kTileK), init);
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    stageTile(opA, loops.m, m0, k0, sizeM, sizeK, sharedA, tid, ivs);
    stageTile(opB, loops.n, n0, k0, sizeN, sizeK, sharedB, tid, ivs);
    gpu::BarrierOp::create(b, loc);

    SmallVector<Value> acc(loop.getRegionIterArgs());
    auto i32 = b.getI32Type();
    auto pair = VectorType::get({2}, lowType);
    // One 32-bit register: two adjacent low-precision elements of a row
    // (NVVM takes fp16 pairs as vector<2xf16>, bf16 pairs as i32).
    auto fragment = [&](Value tile, Value row, Value col) -> Value {
      // 4-byte aligned: even columns, rows of 80 bytes, aligned buffers.
      Value v = vector::LoadOp::create(b, loc, pair, tile, ValueRange{row, col},
                                       /*nontemporal=*/false, llvm::Align(4));
      if (lowType.isF16())
        return v;
      Value bits =
          vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), v);
      return vector::ExtractOp::create(b, loc, bits, ArrayRef<int64_t>{0});
    };
    auto ptxType =
        lowType.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
    auto resultType =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    for (int64_t kk = 0; kk < kTileK; kk += 16) {
      Value col = add(mul(quad, 2), kk);
      Value col8 = add(col, 8);
      SmallVector<std::array<Value, 4>> fragA;
      for (int64_t mt = 0; mt < kWarpTilesM; ++mt) {
        Value row = add(add(warpM, group), mt * 16);
        Value row8 = add(row, 8);
        fragA.push_back(
            {fragment(sharedA, row, col), fragment(sharedA, row8, col),
             fragment(sharedA, row, col8), fragment(sharedA, row8, col8)});
      }
      SmallVector<std::array<Value, 2>> fragB;
      for (int64_t nt = 0; nt < kWarpTilesN; ++nt) {
        Value row = add(add(warpN, group), nt * 8);
        fragB.push_back(
            {fragment(sharedB, row, col), fragment(sharedB, row, col8)});
      }
      for (int64_t mt = 0; mt < kWarpTilesM; ++mt)
        for (int64_t nt = 0; nt < kWarpTilesN; ++nt) {
          int64_t at = (mt * kWarpTilesN + nt) * 4;
          auto mma = NVVM::MmaOp::create(
              b, loc, resultType, ValueRange(fragA[mt]), ValueRange(fragB[nt]),
              ArrayRef<Value>(acc).slice(at, 4),
              std::array<int64_t, 3>{16, 8, 16},
              /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
              std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
              std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                             NVVM::MMALayout::col});
          for (int64_t j = 0; j < 4; ++j)
            acc[at + j] =
                LLVM::ExtractValueOp::create(b, loc, mma, ArrayRef<int64_t>{j});
        }
    }
    // The next step overwrites the tiles.
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
}

struct GPUContractionsPass
    : loom::impl::GPUContractionsPassBase<GPUContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    Type lowType;
    if (precision == "fp16")
      lowType = Float16Type::get(&getContext());
    else if (precision == "bf16")
      lowType = BFloat16Type::get(&getContext());
    else if (precision != "fp32") {
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
