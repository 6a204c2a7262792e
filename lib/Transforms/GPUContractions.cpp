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
//     contraction's init, a separate kernel, has filled), or computes the
//     consumer fused into the kernel (findEpilogue);
//   * split-K: an output of few tiles shares each tile's K steps among
//     several blocks, which store partial sums that a further kernel adds
//     up through the same epilogue.
//
// Constant operands are packed into the kernel's fp16/bf16 layout at
// compile time (KernelBuilder::packedConstant) instead of converted.
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
#include "loom/Transforms/Microkernels.h"
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
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/SetVector.h"

#include <map>

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
/// Split-K: outputs of fewer tiles than kTargetBlocks (about two resident
/// blocks per SM of an H100/H200's 132) share each tile's K steps among up
/// to kMaxSplits blocks, each with at least kMinSplitSteps steps.
constexpr int64_t kTargetBlocks = 256, kMaxSplits = 16, kMinSplitSteps = 4;
/// wgmma (sm_90a): each of the block's two warpgroups (128 threads) computes
/// 64 rows of the tile with m64n128k16 steps, A and B in shared memory in
/// the canonical K-major layout without swizzling: 8 x 8 core matrices of 8
/// rows of 16 bytes (128 contiguous bytes); the core matrices next along K
/// are kCoreBytes apart (the descriptor's leading byte offset), the next 8
/// rows kTileK / 8 core matrices (its stride byte offset).
constexpr int64_t kWarpgroupRows = 64, kCoreBytes = 128;
constexpr int64_t kCoreStride = kTileK / 8 * kCoreBytes;
/// The descriptor's offsets (bits 16-29 and 32-45, in units of 16 bytes);
/// swizzle mode 0 (bits 62-63), base offset 0.
constexpr int64_t kDescriptorOffsets =
    (kCoreBytes >> 4) << 16 | (kCoreStride >> 4) << 32;

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

/// An elementwise op fused into a contraction's tensor-core kernel: the
/// kernel computes the contraction's result g for each output element and
/// then `consumer`'s body on it, storing the consumer's output instead of
/// (or as well as) g.
struct Epilogue {
  linalg::GenericOp consumer;
  /// The consumer's input that reads the contraction's output.
  unsigned gemmInput = 0;
  /// The op filling the contraction's output with `fillValue` before it
  /// accumulates, when the output is dead after the consumer: the kernel
  /// adds `fillValue` to its accumulators instead of reading the output.
  Operation *fill = nullptr;
  Value fillValue;
  /// Whether g is still read after the consumer (it is stored too).
  bool storeResult = true;
};

/// When `op` fills `buffer` with a scalar (loom::isScalarFill), the scalar.
static Value filledScalar(Operation *op, Value buffer) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  if (!linalgOp || !loom::isScalarFill(linalgOp) ||
      linalgOp.getDpsInits()[0] != buffer)
    return Value();
  return linalgOp.getDpsInputs()[0];
}

/// The elementwise op that `op` (a contraction into a buffer `c`) can
/// compute in its kernel's epilogue: the next op with memory effects, an
/// all-parallel linalg.generic with one init whose inputs include `c` once,
/// through a permutation of its loops (so that each of the contraction's
/// output elements is one of its iterations), with projected-permutation
/// maps, and that writes `c` only through that same map. `c` must be an
/// allocation whose other uses are a fill before `op`, deallocations and
/// reads after the consumer (no views, which could alias the consumer's
/// output).
static std::optional<Epilogue> findEpilogue(linalg::GenericOp op) {
  Value c = op.getDpsInitOperand(0)->get();
  if (!c.getDefiningOp<memref::AllocOp>())
    return std::nullopt;
  Operation *next = op->getNextNode();
  while (next && next->getNumRegions() == 0 && isMemoryEffectFree(next))
    next = next->getNextNode();
  auto consumer = dyn_cast_or_null<linalg::GenericOp>(next);
  if (!consumer || !consumer.hasPureBufferSemantics() ||
      consumer.getNumDpsInits() != 1 ||
      consumer.getNumParallelLoops() != consumer.getNumLoops())
    return std::nullopt;
  Epilogue epilogue;
  epilogue.consumer = consumer;
  int uses = 0;
  for (OpOperand *input : consumer.getDpsInputOperands())
    if (input->get() == c) {
      epilogue.gemmInput = input->getOperandNumber();
      ++uses;
    }
  if (uses != 1)
    return std::nullopt;
  for (OpOperand &operand : consumer->getOpOperands())
    if (isa<ShapedType>(operand.get().getType()) &&
        !consumer.getMatchingIndexingMap(&operand).isProjectedPermutation())
      return std::nullopt;
  AffineMap cMap = consumer.getMatchingIndexingMap(
      &consumer->getOpOperand(epilogue.gemmInput));
  OpOperand *out = consumer.getDpsInitOperand(0);
  if (!cMap.isPermutation() ||
      (out->get() == c && consumer.getMatchingIndexingMap(out) != cMap))
    return std::nullopt;

  // The other uses of c.
  Operation *fill = nullptr;
  bool readLater = false;
  for (Operation *user : c.getUsers()) {
    if (user == op || user == consumer || isa<memref::DeallocOp>(user))
      continue;
    if (isa<ViewLikeOpInterface>(user))
      return std::nullopt;
    if (user->getBlock() == op->getBlock() && user->isBeforeInBlock(op) &&
        !fill && filledScalar(user, c)) {
      fill = user;
      continue;
    }
    if (user->getBlock() == op->getBlock() && user->isBeforeInBlock(op))
      return std::nullopt;
    readLater = true;
  }
  epilogue.storeResult = readLater && out->get() != c;
  // The consumer overwrites every element of c when it writes c.
  if (fill && (!readLater || out->get() == c)) {
    epilogue.fill = fill;
    epilogue.fillValue = filledScalar(fill, c);
  }
  return epilogue;
}

/// The constant operands packed at compile time, by source global and
/// layout (its indexing map, row loops, K loop and batch loops, the loops'
/// sizes and the low type): the module's packed globals, made once each.
struct PackedConstants {
  ModuleOp module;
  SymbolTable symbols;
  std::map<std::string, memref::GlobalOp> byLayout;
  /// The globals that were packed (erased at the end when nothing else
  /// reads them).
  SetVector<memref::GlobalOp> sources;

  explicit PackedConstants(ModuleOp module) : module(module), symbols(module) {}
};

/// Builds the tensor-core kernel of one contraction.
class KernelBuilder : loom::KernelArith {
public:
  KernelBuilder(OpBuilder &b, Location loc, linalg::GenericOp op,
                const ContractionLoops &loops, Type lowType,
                std::optional<Epilogue> epilogue, PackedConstants &packed,
                bool wgmma)
      : KernelArith(b, loc), op(op), loops(loops), lowType(lowType),
        epilogue(std::move(epilogue)), packed(packed), wgmma(wgmma) {}

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

  /// When `operand` is a constant global (memref.get_global of a constant
  /// memref.global with f32 data) and the loops it spans have static
  /// sizes, a constant global holding what `convert` would compute from it
  /// (rounded as arith.truncf rounds), made once per operand layout;
  /// null otherwise.
  memref::GlobalOp packedConstant(OpOperand &operand,
                                  ArrayRef<unsigned> rowLoops);

  /// Launches a kernel of one thread per element of [0, `total`) (1-D
  /// blocks of 256) and moves the insertion point into its guard
  /// `e < total`; returns e. The caller restores the insertion point.
  Value launchPerElement(Value total) {
    constexpr int64_t kBlock = 256;
    Value one = index(1);
    auto launch = gpu::LaunchOp::create(
        b, loc, arith::CeilDivUIOp::create(b, loc, total, index(kBlock)), one,
        one, index(kBlock), one, one);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value e = add(mul(launch.getBlockIds().x, kBlock), launch.getThreadIds().x);
    auto inRange = scf::IfOp::create(b, loc, lessThan(e, total), false);
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPointToStart(&inRange.getThenRegion().front());
    return e;
  }

  /// Sets the loop values of `group` (M or N loops) from their linearized
  /// value (the last loop fastest).
  void setLinear(SmallVectorImpl<Value> &ivs, ArrayRef<unsigned> group,
                 Value linear) {
    loom::delinearizeLoops(b, loc, linear, group, loopSizes, ivs);
  }

  /// Stores the contraction's result for the output element at `ivs`
  /// (its loop values) from the accumulator `acc`: g = init + acc, into
  /// the output, and through the fused epilogue's body into its output.
  void storeResult(ArrayRef<Value> ivs, Value acc);

  /// One K step of the wgmma kernel: `acc`, the thread's 64 accumulators of
  /// warpgroup `wg`'s 64 x 128 part of the tile, += its 64 rows of A times
  /// B, from stage `stage` of the shared tiles at byte addresses `aTiles`
  /// and `bTiles` (i64): kTileK / 16 wgmma.mma_async m64n128k16 ops after
  /// a wgmma fence, committed and waited for.
  void wgmmaStep(SmallVectorImpl<Value> &acc, Value stage, Value aTiles,
                 Value bTiles, Value wg);

  linalg::GenericOp op;
  /// The sizes of the contraction's loops.
  SmallVector<Value> loopSizes;
  ContractionLoops loops;
  Type lowType;
  std::optional<Epilogue> epilogue;
  PackedConstants &packed;
  /// Multiply with wgmma.mma_async (sm_90a) instead of mma.sync.
  bool wgmma;
  /// M, N, K, and the product of the batch loops.
  Value sizeM, sizeN, sizeK, batch;
};

void KernelBuilder::convert(OpOperand &operand, ArrayRef<unsigned> rowLoops,
                            Value rows, Value paddedRows, Value paddedK,
                            Value low) {
  constexpr int64_t kWidth = 8;
  Value chunks = div(paddedK, kWidth);
  Value total = mul(mul(batch, paddedRows), chunks);
  OpBuilder::InsertionGuard guard(b);
  Value e = launchPerElement(total);
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

memref::GlobalOp KernelBuilder::packedConstant(OpOperand &operand,
                                               ArrayRef<unsigned> rowLoops) {
  auto get = operand.get().getDefiningOp<memref::GetGlobalOp>();
  if (!get)
    return nullptr;
  auto global = packed.symbols.lookup<memref::GlobalOp>(get.getName());
  if (!global || !global.getConstant() || !global.getInitialValue())
    return nullptr;
  MemRefType type = global.getType();
  if (!type.hasStaticShape() || !type.getLayout().isIdentity())
    return nullptr;
  SmallVector<int64_t> sizes = op.getStaticLoopRanges();
  auto staticProduct = [&](ArrayRef<unsigned> group) -> int64_t {
    int64_t p = 1;
    for (unsigned l : group) {
      if (ShapedType::isDynamic(sizes[l]))
        return ShapedType::kDynamic;
      p *= sizes[l];
    }
    return p;
  };
  int64_t rows = staticProduct(rowLoops), depth = sizes[loops.k],
          matrices = staticProduct(loops.batch);
  if (ShapedType::isDynamic(rows) || ShapedType::isDynamic(depth) ||
      ShapedType::isDynamic(matrices))
    return nullptr;
  int64_t paddedRows = llvm::divideCeil(rows, kTileM) * kTileM;
  int64_t paddedK = llvm::divideCeil(depth, kTileK) * kTileK;

  AffineMap map = op.getMatchingIndexingMap(&operand);
  std::string key;
  llvm::raw_string_ostream os(key);
  os << global.getSymName() << '|' << map << '|' << lowType << '|' << loops.k
     << ':' << depth;
  for (ArrayRef<unsigned> group : {rowLoops, ArrayRef<unsigned>(loops.batch)}) {
    os << '|';
    for (unsigned l : group)
      os << l << ':' << sizes[l] << ',';
  }
  if (auto it = packed.byLayout.find(key); it != packed.byLayout.end())
    return it->second;

  SmallVector<float> storage;
  std::optional<ArrayRef<float>> data =
      loom::constantF32Data(*global.getInitialValue(), storage);
  if (!data || static_cast<int64_t>(data->size()) != type.getNumElements())
    return nullptr;
  SmallVector<int64_t> strides = computeStrides(type.getShape());
  bool bf16 = lowType.isBF16();
  std::vector<uint16_t> low(matrices * paddedRows * paddedK, 0);
  SmallVector<int64_t> ivs(op.getNumLoops(), 0);
  // The loop values of `group` from their linearized value (last fastest).
  auto setLinear = [&](ArrayRef<unsigned> group, int64_t linear) {
    for (unsigned l : llvm::reverse(group)) {
      ivs[l] = linear % sizes[l];
      linear /= sizes[l];
    }
  };
  for (int64_t matrix = 0; matrix < matrices; ++matrix) {
    setLinear(loops.batch, matrix);
    for (int64_t row = 0; row < rows; ++row) {
      setLinear(rowLoops, row);
      for (int64_t k = 0; k < depth; ++k) {
        ivs[loops.k] = k;
        int64_t offset = 0;
        for (auto [i, e] : llvm::enumerate(map.getResults()))
          offset += ivs[cast<AffineDimExpr>(e).getPosition()] * strides[i];
        float x = (*data)[offset];
        low[(matrix * paddedRows + row) * paddedK + k] =
            bf16 ? loom::roundToBFloat16(x) : loom::roundToHalf(x);
      }
    }
  }

  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(global);
  auto lowType1D = MemRefType::get({static_cast<int64_t>(low.size())}, lowType);
  std::string name =
      (global.getSymName() + (bf16 ? "_bf16_tiles" : "_f16_tiles")).str();
  auto init = DenseResourceElementsAttr::get(
      RankedTensorType::get(lowType1D.getShape(), lowType), name,
      HeapAsmResourceBlob::allocateAndCopyInferAlign<uint16_t>(low));
  auto result = memref::GlobalOp::create(
      b, global.getLoc(), name, b.getStringAttr("private"), lowType1D, init,
      /*constant=*/true, b.getI64IntegerAttr(64));
  packed.symbols.insert(result); // Renames on a clash.
  packed.byLayout[key] = result;
  packed.sources.insert(global);
  return result;
}

void KernelBuilder::storeResult(ArrayRef<Value> ivs, Value acc) {
  OpOperand &opC = *op.getDpsInitOperand(0);
  SmallVector<Value> indices = operandIndices(opC, ivs);
  Value g;
  if (epilogue && epilogue->fill) {
    // The output's init, the filled scalar, is not read from memory.
    g = acc;
    if (!matchPattern(epilogue->fillValue, m_PosZeroFloat()))
      g = arith::AddFOp::create(b, loc, epilogue->fillValue, acc);
  } else {
    Value old = memref::LoadOp::create(b, loc, opC.get(), indices);
    g = arith::AddFOp::create(b, loc, old, acc);
  }
  if (!epilogue || epilogue->storeResult)
    memref::StoreOp::create(b, loc, g, opC.get(), indices);
  if (!epilogue)
    return;

  // The consumer's iteration at this element: its map of the output is a
  // permutation of its loops.
  linalg::GenericOp consumer = epilogue->consumer;
  AffineMap cMap = consumer.getMatchingIndexingMap(
      &consumer->getOpOperand(epilogue->gemmInput));
  SmallVector<Value> at(consumer.getNumLoops());
  for (auto [i, e] : llvm::enumerate(cMap.getResults()))
    at[cast<AffineDimExpr>(e).getPosition()] = indices[i];
  Block *body = consumer.getBody();
  IRMapping map;
  for (OpOperand &operand : consumer->getOpOperands()) {
    BlockArgument arg = body->getArgument(operand.getOperandNumber());
    // The product's buffer holds g at this element, also as the consumer's
    // init when the consumer writes it in place.
    if (operand.getOperandNumber() == epilogue->gemmInput ||
        operand.get() == opC.get()) {
      map.map(arg, g);
    } else if (!arg.use_empty()) {
      Value v = operand.get();
      if (isa<MemRefType>(v.getType()))
        v = memref::LoadOp::create(
            b, loc, v,
            loom::operandIndices(cast<linalg::LinalgOp>(*consumer), operand,
                                 at));
      map.map(arg, v);
    }
  }
  for (Operation &bodyOp : body->without_terminator()) {
    if (auto indexOp = dyn_cast<linalg::IndexOp>(bodyOp))
      map.map(indexOp.getResult(), at[indexOp.getDim()]);
    else
      b.clone(bodyOp, map);
  }
  OpOperand &out = *consumer.getDpsInitOperand(0);
  memref::StoreOp::create(
      b, loc, map.lookup(body->getTerminator()->getOperand(0)), out.get(),
      loom::operandIndices(cast<linalg::LinalgOp>(*consumer), out, at));
}

void KernelBuilder::wgmmaStep(SmallVectorImpl<Value> &acc, Value stage,
                              Value aTiles, Value bTiles, Value wg) {
  MLIRContext *context = b.getContext();
  auto structType = LLVM::LLVMStructType::getLiteral(
      context, SmallVector<Type>(acc.size(), b.getF32Type()));
  Value d = LLVM::UndefOp::create(b, loc, structType);
  for (auto [i, v] : llvm::enumerate(acc))
    d = LLVM::InsertValueOp::create(b, loc, d, v, i);
  // The matrix descriptor of the core matrices from byte address `address`:
  // bits 0-13 its shared-memory address / 16, then kDescriptorOffsets.
  auto descriptor = [&](Value address) -> Value {
    Value field = arith::ShRUIOp::create(
        b, loc, arith::AndIOp::create(b, loc, address, i64(0x3FFFF)), i64(4));
    return arith::OrIOp::create(b, loc, field, i64(kDescriptorOffsets));
  };
  // This stage's tiles; the warpgroup's rows of A start kWarpgroupRows / 8
  // core-matrix rows further.
  Value aBase = arith::AddIOp::create(
      b, loc, aTiles,
      bytes(toI64(add(mul(stage, kTileM * kTileK),
                      mul(wg, kWarpgroupRows / 8 * kCoreStride / 2)))));
  Value bBase = arith::AddIOp::create(
      b, loc, bTiles, bytes(toI64(mul(stage, kTileN * kTileK))));
  NVVM::WgmmaFenceAlignedOp::create(b, loc);
  NVVM::WGMMATypes type =
      lowType.isBF16() ? NVVM::WGMMATypes::bf16 : NVVM::WGMMATypes::f16;
  auto shape = NVVM::MMAShapeAttr::get(context, kWarpgroupRows, kTileN, 16);
  // Each k16 step spans two core matrices along K.
  for (int64_t s = 0; s < kTileK / 16; ++s) {
    Value k = i64(s * 2 * kCoreBytes);
    d = NVVM::WgmmaMmaAsyncOp::create(
        b, loc, structType, d,
        descriptor(arith::AddIOp::create(b, loc, aBase, k)),
        descriptor(arith::AddIOp::create(b, loc, bBase, k)), shape, type, type,
        NVVM::WGMMATypes::f32, NVVM::WGMMAScaleOut::one,
        NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one, NVVM::MMALayout::row,
        NVVM::MMALayout::col, /*satfinite=*/nullptr);
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
  for (auto [i, v] : llvm::enumerate(acc))
    v = LLVM::ExtractValueOp::create(b, loc, d, i);
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
  // With a fused epilogue, the else branch runs the ops the kernel replaces
  // (the fill it no longer needs, the consumer): an empty product still
  // gets its init and its elementwise consumer.
  auto ifOp = scf::IfOp::create(b, loc, work, /*withElseRegion=*/!!epilogue);
  OpBuilder::InsertionGuard guard(b);
  if (epilogue) {
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    if (epilogue->fill)
      b.clone(*epilogue->fill);
    b.clone(*epilogue->consumer);
  }
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());

  // A as [batch][M][K] and B as [batch][N][K] in the low type, padded to
  // whole tiles with zeros: what the kernel copies asynchronously.
  Value paddedM = roundUp(sizeM, kTileM), paddedN = roundUp(sizeN, kTileN);
  Value paddedK = roundUp(sizeK, kTileK);
  // Constant operands (weights) were packed so at compile time; the others
  // are converted by a kernel each, into a buffer freed after the product.
  auto lowBuffer = MemRefType::get({ShapedType::kDynamic}, lowType);
  SmallVector<Value> converted;
  auto lowOperand = [&](OpOperand &operand, ArrayRef<unsigned> rowLoops,
                        Value rows, Value paddedRows) -> Value {
    if (memref::GlobalOp packed = packedConstant(operand, rowLoops))
      return memref::GetGlobalOp::create(b, loc, packed.getType(),
                                         packed.getSymName());
    Value low = memref::AllocOp::create(
        b, loc, lowBuffer, ValueRange{mul(mul(batch, paddedRows), paddedK)});
    convert(operand, rowLoops, rows, paddedRows, paddedK, low);
    converted.push_back(low);
    return low;
  };
  OpOperand &opA = *op.getDpsInputOperand(0), &opB = *op.getDpsInputOperand(1);
  Value aAddress =
      loom::bufferAddress(b, loc, lowOperand(opA, loops.m, sizeM, paddedM));
  Value bAddress =
      loom::bufferAddress(b, loc, lowOperand(opB, loops.n, sizeN, paddedN));

  Value gridX = div(paddedN, kTileN), gridY = div(paddedM, kTileM);
  Value one = index(1);

  // Split-K: when the output has too few tiles to fill the GPU, each tile's
  // K steps are shared by `splits` blocks (at least kMinSplitSteps steps
  // each) that write partial sums to `partials` ([split][batch][M][N]); a
  // second kernel adds them up and stores the result as the epilogue does.
  Value steps = div(paddedK, kTileK);
  Value tiles = mul(mul(gridX, gridY), batch);
  Value wanted =
      arith::CeilDivUIOp::create(b, loc, index(kTargetBlocks), tiles);
  Value mostSplits = arith::MinUIOp::create(
      b, loc, index(kMaxSplits),
      arith::MaxUIOp::create(b, loc, one, div(steps, kMinSplitSteps)));
  Value splitsWanted = arith::MaxUIOp::create(
      b, loc, one, arith::MinUIOp::create(b, loc, wanted, mostSplits));
  // Steps per split, and the splits that then have work.
  Value stepsPerSplit = arith::CeilDivUIOp::create(b, loc, steps, splitsWanted);
  Value splits = arith::CeilDivUIOp::create(b, loc, steps, stepsPerSplit);
  Value split = lessThan(one, splits);
  Value outputs = mul(mul(batch, sizeM), sizeN);
  Value partials = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, b.getF32Type()),
      ValueRange{
          arith::SelectOp::create(b, loc, split, mul(splits, outputs), one)});
  Attribute shared = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  // mma.sync: rows padded by kPad (conflict-free ldmatrix); wgmma: core
  // matrices (kCoreStride), unpadded.
  auto tileType = [&](int64_t rows) {
    return wgmma ? MemRefType::get({kStages, rows * kTileK}, lowType,
                                   MemRefLayoutAttrInterface(), shared)
                 : MemRefType::get({kStages, rows, kTileK + kPad}, lowType,
                                   MemRefLayoutAttrInterface(), shared);
  };
  MemRefType tileA = tileType(kTileM), tileB = tileType(kTileN);
  // Grid: (N tiles x splits, M tiles, batch).
  auto launch = gpu::LaunchOp::create(
      b, loc, mul(gridX, splits), gridY, batch, index(kThreads), one, one,
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
  Value nTile = arith::RemUIOp::create(b, loc, blockIds.x, gridX);
  Value splitIndex = arith::DivUIOp::create(b, loc, blockIds.x, gridX);
  Value m0 = mul(blockIds.y, kTileM), n0 = mul(nTile, kTileN);
  // This block's K range.
  Value kBegin = mul(mul(splitIndex, stepsPerSplit), kTileK);
  Value kEnd = arith::MinUIOp::create(b, loc, paddedK,
                                      add(kBegin, mul(stepsPerSplit, kTileK)));
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
        // wgmma: chunk c / 8 of row r is row r % 8 of core matrix
        // (r / 8, c / 8).
        Value dst =
            wgmma
                ? toI64(
                      add(add(mul(stage, kTileM * kTileK),
                              mul(add(mul(div(r, 8), kChunks), rem(e, kChunks)),
                                  kCoreBytes / 2)),
                          mul(rem(r, 8), 8)))
                : toI64(add(mul(add(mul(stage, kTileM), r), kTileK + kPad), c));
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
  copyStep(zeroIdx, kBegin);
  NVVM::CpAsyncCommitGroupOp::create(b, loc);
  auto loop = scf::ForOp::create(b, loc, kBegin, kEnd, index(kTileK), init);
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    Value step = div(arith::SubIOp::create(b, loc, k0, kBegin), kTileK);
    Value stage = rem(step, kStages);
    Value nextK = add(k0, kTileK);
    auto more = scf::IfOp::create(b, loc, lessThan(nextK, kEnd), false);
    {
      OpBuilder::InsertionGuard moreGuard(b);
      b.setInsertionPointToStart(&more.getThenRegion().front());
      copyStep(rem(add(step, 1), kStages), nextK);
    }
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
    // This step's tiles: all groups but the newest (the next step's).
    NVVM::CpAsyncWaitGroupOp::create(b, loc, 1);
    // wgmma reads shared memory through the async proxy: the copies (the
    // generic proxy's writes) are made visible to it first.
    if (wgmma)
      NVVM::FenceProxyOp::create(
          b, loc, NVVM::ProxyKind::async_shared,
          NVVM::SharedSpaceAttr::get(b.getContext(),
                                     NVVM::SharedSpace::shared_cta));
    gpu::BarrierOp::create(b, loc);

    SmallVector<Value> acc(loop.getRegionIterArgs());
    if (wgmma) {
      wgmmaStep(acc, stage, aTiles, bTiles, div(tid, 128));
      // Every warpgroup has read this stage: the next step may overwrite it.
      gpu::BarrierOp::create(b, loc);
      scf::YieldOp::create(b, loc, acc);
    } else {
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
  }

  // Epilogue, inside the output only: split, the partial sums at
  // [split][batch][m][n]; whole, the result and its fused consumer.
  // wgmma: the first row of this thread's warp within the tile.
  Value wgmmaRows;
  if (wgmma)
    wgmmaRows = add(mul(div(tid, 128), kWarpgroupRows), mul(rem(warp, 4), 16));
  auto whole = scf::IfOp::create(b, loc, split, /*withElseRegion=*/true);
  for (bool partial : {true, false}) {
    OpBuilder::InsertionGuard branchGuard(b);
    b.setInsertionPointToStart(partial ? &whole.getThenRegion().front()
                                       : &whole.getElseRegion().front());
    Value partialRow0;
    if (partial)
      partialRow0 = mul(add(mul(splitIndex, batch), blockIds.z), sizeM);
    for (int64_t i = 0; i < kTiles * 4; ++i) {
      // mma.sync: element j = i % 4 of m16n8 tile (mt, nt): row group (+8
      // for j >= 2), column 2 quad (+1 for odd j). wgmma (m64nNk16's
      // accumulator): element i of warp w of the warpgroup: row 16 (w % 4)
      // + group (+8 when bit 1 of i is set), column 8 (i / 4) + 2 quad (+1
      // for odd i).
      Value m, n;
      if (wgmma) {
        m = add(add(add(m0, wgmmaRows), group), (i / 2) % 2 * 8);
        n = add(add(n0, mul(quad, 2)), i / 4 * 8 + i % 2);
      } else {
        int64_t mt = i / 4 / kWarpTilesN, nt = i / 4 % kWarpTilesN, j = i % 4;
        m = add(add(add(m0, warpM), group), mt * 16 + (j >= 2 ? 8 : 0));
        n = add(add(add(n0, warpN), mul(quad, 2)), nt * 8 + (j % 2));
      }
      Value inside =
          arith::AndIOp::create(b, loc, lessThan(m, sizeM), lessThan(n, sizeN));
      auto guarded = scf::IfOp::create(b, loc, inside, false);
      OpBuilder::InsertionGuard storeGuard(b);
      b.setInsertionPointToStart(&guarded.getThenRegion().front());
      Value acc = loop.getResult(i);
      if (partial) {
        Value at = add(mul(add(partialRow0, m), sizeN), n);
        memref::StoreOp::create(b, loc, acc, partials, ValueRange{at});
        continue;
      }
      SmallVector<Value> outIvs = ivs;
      setLinear(outIvs, loops.m, m);
      setLinear(outIvs, loops.n, n);
      storeResult(outIvs, acc);
    }
  }
  gpu::TerminatorOp::create(b, loc);

  b.setInsertionPointAfter(launch);
  for (Value low : converted)
    memref::DeallocOp::create(b, loc, low);

  // Split-K: one thread per output element adds the partial sums up.
  auto splitIf = scf::IfOp::create(b, loc, split, /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard splitGuard(b);
    b.setInsertionPointToStart(&splitIf.getThenRegion().front());
    Value e = launchPerElement(outputs);
    auto adds = scf::ForOp::create(
        b, loc, zeroIdx, splits, one,
        ValueRange{arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0))});
    {
      OpBuilder::InsertionGuard addGuard(b);
      b.setInsertionPointToStart(adds.getBody());
      Value part = memref::LoadOp::create(
          b, loc, partials,
          ValueRange{add(mul(adds.getInductionVar(), outputs), e)});
      scf::YieldOp::create(b, loc,
                           ValueRange{arith::AddFOp::create(
                               b, loc, adds.getRegionIterArgs()[0], part)});
    }
    // Element e: (batch, m, n), n fastest.
    Value n = arith::RemUIOp::create(b, loc, e, sizeN);
    Value rest = arith::DivUIOp::create(b, loc, e, sizeN);
    Value m = arith::RemUIOp::create(b, loc, rest, sizeM);
    Value z = arith::DivUIOp::create(b, loc, rest, sizeM);
    SmallVector<Value> outIvs(op.getNumLoops(), zeroIdx);
    loom::delinearizeLoops(b, loc, z, loops.batch, sizes, outIvs);
    setLinear(outIvs, loops.m, m);
    setLinear(outIvs, loops.n, n);
    storeResult(outIvs, adds.getResult(0));
  }
  memref::DeallocOp::create(b, loc, partials);
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
    PackedConstants packed(getOperation());
    // Consumers fused into an earlier contraction's kernel (erased).
    DenseSet<Operation *> fused;
    for (linalg::GenericOp op : candidates) {
      if (fused.contains(op))
        continue;
      ContractionLoops loops;
      if (!isF32Contraction(op, loops))
        continue;
      if (lowType && tensorCores && fitsTheGrid(op, loops)) {
        std::optional<Epilogue> epilogue;
        if (fuseEpilogues)
          epilogue = findEpilogue(op);
        rewriter.setInsertionPoint(op);
        Value a = op.getDpsInputOperand(0)->get(),
              b = op.getDpsInputOperand(1)->get();
        KernelBuilder(rewriter, op.getLoc(), op, loops, lowType, epilogue,
                      packed, wgmma)
            .build();
        rewriter.eraseOp(op);
        // The packed operands' f32 globals may now be unread.
        for (Value operand : {a, b})
          if (auto get = operand.getDefiningOp<memref::GetGlobalOp>();
              get && get->use_empty())
            rewriter.eraseOp(get);
        ++numTensorCore;
        if (epilogue) {
          fused.insert(epilogue->consumer);
          rewriter.eraseOp(epilogue->consumer);
          if (epilogue->fill)
            rewriter.eraseOp(epilogue->fill);
          ++numFusedEpilogues;
        }
        continue;
      }
      rewriter.setInsertionPoint(op);
      if (reductionsInnermost(rewriter, op) != op)
        ++numInterchanged;
    }
    // The f32 weights that only the products read are gone from the module:
    // their packed forms replace them.
    numPackedWeights = packed.byLayout.size();
    for (memref::GlobalOp global : packed.sources)
      if (SymbolTable::symbolKnownUseEmpty(global, getOperation())) {
        packed.symbols.erase(global);
        ++numErasedWeights;
      }
  }
};

} // namespace
