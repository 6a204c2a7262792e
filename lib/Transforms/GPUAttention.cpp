//===- GPUAttention.cpp - Attention calls to flash-attention kernels ------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom-gpu-attention runs on bufferized code in the GPU pipeline. Each call
// of loomrt_attention_f32 (which loom-tile-attention{gpu-kernel} makes for
// plain and causal f32 attention with static head dims) becomes three
// gpu.launch ops: K and V converted to fp16 or bf16 (contiguous, each
// head's keys padded to a multiple of 64 with zeros), then
// FlashAttention-2's forward algorithm on tensor cores:
//
//   * a block of 256 threads (8 warps) computes 128 query rows of one
//     (batch, head); each warp owns 16 rows (grid: query tiles, heads,
//     batch);
//   * the block stages its queries in shared memory once (64 rows at a
//     time, through the key tile), converted to the low type, and each warp
//     keeps its rows in registers as mma.sync A fragments;
//   * per 64 keys, K ([key][d]) and V ([key][dv]) tiles arrive in shared
//     memory by cp.async, pipelined: a step waits for its keys, computes
//     its warp's 16 x 64 scores (ldmatrix.x4 B fragments, nvvm.mma.sync
//     m16n8k16, fp32 accumulators), starts the next keys' copy, masks the
//     keys past the end (and, causal, past the diagonal), updates its rows'
//     running maximum (each row lives in one quad of lanes: two shuffles),
//     rescales its output accumulators and row-sum partials, waits for its
//     values and multiplies the exponentials, packed from the score
//     accumulators straight into A fragments, by V (ldmatrix.x4.trans),
//     then starts the next values' copy;
//   * the output rows, divided by their row sums, are stored in fp32 at the
//     output's strides.
//
// Operands are read through the addresses and strides of the call (any
// layout: views and transposes cost nothing); edges load clamped indices
// and select 0, keys past the end get -inf scores. Exponentials are in base
// 2, with the scale times log2(e) folded into the scores.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Transforms/KernelArith.h"
#include "loom/Transforms/TensorCores.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>
#include <cstring>

namespace loom {
#define GEN_PASS_DEF_GPUATTENTIONPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-gpu-attention"

using namespace mlir;

namespace {

/// The runtime kernel whose calls become GPU kernels, and its causal flag
/// (loomrt/kernels.h); its form with an additive mask, which only this pass
/// takes.
constexpr StringLiteral kAttentionKernel = "loomrt_attention_f32";
constexpr StringLiteral kMaskedKernel = "loomrt_attention_mask_f32";
constexpr int64_t kCausalFlag = 1;
/// Their arguments: 7 sizes, then address and 4 strides of Q, K, V and the
/// output, then the scale's bits and the flags; with a mask, its address
/// and its 4 strides as it broadcasts to [batch, head, query, key].
enum AttentionArg : unsigned {
  kBatch = 0,
  kHeads,
  kKVHeads,
  kSeqQ,
  kSeqKV,
  kDim,
  kDimV,
  kQuery,
  kKey = kQuery + 5,
  kValue = kKey + 5,
  kOutput = kValue + 5,
  kScaleBits = kOutput + 5,
  kFlags,
  kNumArgs,
  kMask = kNumArgs,
  kNumMaskedArgs = kMask + 5
};

/// Query rows per block, keys per step, threads per block.
/// (8 warps of 16 rows: each K/V tile serves 128 queries, half the L2
/// traffic of 64.)
constexpr int64_t kTileQ = 128, kTileKV = 64, kThreads = 256;
/// Shared-memory rows are padded by this many elements (conflict-free
/// fragment loads).
constexpr int64_t kPad = 8;
/// The largest head dim the kernel takes (registers and shared memory).
constexpr int64_t kMaxHeadDim = 128;

/// An operand of the call: base address and its [batch, head, row, column]
/// strides in elements (i64).
struct Operand {
  Value address;
  std::array<Value, 4> strides;
};

/// Builds the flash-attention kernel of one call.
class KernelBuilder : loom::KernelArith {
public:
  KernelBuilder(OpBuilder &b, Location loc, func::CallOp call, int64_t dim,
                int64_t dimV, float scale, bool causal, Type lowType)
      : KernelArith(b, loc), call(call), dim(dim), dimV(dimV), scale(scale),
        causal(causal), masked(call.getNumOperands() == kNumMaskedArgs),
        lowType(lowType) {}

  void build();

private:
  Value arg(unsigned i) { return call.getOperand(i); }
  Operand operand(unsigned first) {
    return {arg(first),
            {arg(first + 1), arg(first + 2), arg(first + 3), arg(first + 4)}};
  }

  /// The address of (batch, head)'s matrix of `op`, as a pointer.
  Value matrixBase(const Operand &op, Value batch, Value head) {
    Value offset = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, toI64(batch), op.strides[0]),
        arith::MulIOp::create(b, loc, toI64(head), op.strides[1]));
    return LLVM::GEPOp::create(b, loc, ptrType, b.getF32Type(),
                               pointer(op.address), ValueRange{offset});
  }
  Value pointer(Value address) {
    return LLVM::IntToPtrOp::create(b, loc, ptrType, address);
  }
  /// The address of element (row, col) of a matrix at `base`.
  Value element(Value base, const Operand &op, Value row, Value col) {
    Value offset = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, toI64(row), op.strides[2]),
        arith::MulIOp::create(b, loc, toI64(col), op.strides[3]));
    return LLVM::GEPOp::create(b, loc, ptrType, b.getF32Type(), base,
                               ValueRange{offset});
  }

  /// Stages rows [row0, row0 + rows) x columns [0, cols) of the matrix at
  /// `base` in `tile` (tile[r][c]), converted to the low type. Rows at or
  /// past `rowBound` are 0. Loads 4 columns at a time where the operand's
  /// rows are contiguous and 16-byte aligned.
  void stage(Value base, const Operand &op, Value row0, Value rowBound,
             int64_t rows, int64_t cols, Value tile);

  /// Converts rows [0, seqKV) of each (batch, kv head) matrix of `op`
  /// (`cols` columns) into `low` ([rows][cols], each head's rows padded to
  /// `paddedKV` with zeros): one kernel, 8 elements per thread.
  void convert(const Operand &op, Value low, int64_t cols, Value rows,
               Value paddedKV, Value kvHeads, Value seqKV);
  /// Starts the asynchronous copy (cp.async, 16 bytes per instruction) of
  /// kTileKV rows of `cols` low-precision elements from row `row0` of the
  /// matrix at byte address `low` into `tile`.
  void copyTile(Value low, int64_t cols, Value row0, Value tile);
  /// One 32-bit fragment register: tile[row][col .. col + 1].
  Value fragment(Value tile, Value row, Value col);
  /// One 32-bit fragment register from two f32 values.
  Value pack(Value lo, Value hi);
  /// acc += a * b on one m16n8k16 tile (4 f32 accumulators).
  void mma(ValueRange a, ValueRange bFrag, MutableArrayRef<Value> acc) {
    loom::mmaM16N8K16(b, loc, lowType, a, bFrag, acc);
  }
  /// ldmatrix.x4 from tile[row][col] (this lane's row of its matrix).
  SmallVector<Value> loadMatrices(Value tile, Value row, Value col,
                                  bool transposed) {
    int64_t pitch = cast<MemRefType>(tile.getType()).getDimSize(1);
    return loom::loadMatricesX4(b, loc, tile, add(mul(row, pitch), col),
                                transposed, lowType);
  }

  func::CallOp call;
  int64_t dim, dimV;
  float scale;
  bool causal;
  /// Whether the call passes an additive mask.
  bool masked;
  /// The mask's address and strides (when masked).
  Operand mask;
  Type lowType;
  Type ptrType;
  /// The thread's index in the block.
  Value tid;
};

void KernelBuilder::stage(Value base, const Operand &op, Value row0,
                          Value rowBound, int64_t rows, int64_t cols,
                          Value tile) {
  Value last = arith::SubIOp::create(b, loc, rowBound, index(1));
  // Element group e = tid + kThreads * i (of `width` columns) is row
  // e / (cols / width): adjacent threads read adjacent columns (contiguous
  // in the usual layouts).
  auto emit = [&](int64_t width) {
    Type f32Type = b.getF32Type();
    Type type = width == 1 ? f32Type : VectorType::get({width}, f32Type);
    Value zero = arith::ConstantOp::create(
        b, loc, type,
        width == 1 ? TypedAttr(b.getF32FloatAttr(0))
                   : TypedAttr(DenseElementsAttr::get(cast<ShapedType>(type),
                                                      b.getF32FloatAttr(0))));
    int64_t groups = cols / width;
    for (int64_t i = 0; i < rows * groups / kThreads; ++i) {
      Value e = add(tid, i * kThreads);
      Value r = div(e, groups), c = mul(rem(e, groups), width);
      Value row = add(row0, r);
      Value inside = lessThan(row, rowBound);
      Value clamped = arith::MinUIOp::create(b, loc, row, last);
      Value v = LLVM::LoadOp::create(b, loc, type,
                                     element(base, op, clamped, c), 4 * width);
      v = arith::SelectOp::create(b, loc, inside, v, zero);
      Type lowVector = width == 1 ? lowType : VectorType::get({width}, lowType);
      Value low = arith::TruncFOp::create(b, loc, lowVector, v);
      if (width == 1)
        memref::StoreOp::create(b, loc, low, tile, ValueRange{r, c});
      else
        vector::StoreOp::create(b, loc, low, tile, ValueRange{r, c},
                                /*nontemporal=*/false, llvm::Align(2 * width));
    }
  };
  // 16-byte loads where the columns are contiguous and every row starts
  // 16-byte aligned (checked at run time, uniform in the block); scalar
  // loads otherwise.
  std::optional<int64_t> colStride = getConstantIntValue(op.strides[3]);
  if (!colStride || *colStride != 1) {
    emit(1);
    return;
  }
  Value address = LLVM::PtrToIntOp::create(b, loc, b.getI64Type(), base);
  Value rowBytes = arith::ShLIOp::create(b, loc, op.strides[2], i64(2));
  Value misaligned = arith::AndIOp::create(
      b, loc, arith::OrIOp::create(b, loc, address, rowBytes), i64(15));
  Value aligned = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        misaligned, i64(0));
  auto branch = scf::IfOp::create(b, loc, aligned, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&branch.getThenRegion().front());
  emit(4);
  b.setInsertionPointToStart(&branch.getElseRegion().front());
  emit(1);
}

Value KernelBuilder::fragment(Value tile, Value row, Value col) {
  // NVVM takes fp16 pairs as vector<2xf16>, bf16 pairs as i32.
  auto pair = VectorType::get({2}, lowType);
  // 4-byte aligned: even columns, rows of a multiple of 16 bytes, buffers
  // aligned to 16 (loom-merge-gpu-modules).
  Value v = vector::LoadOp::create(b, loc, pair, tile, ValueRange{row, col},
                                   /*nontemporal=*/false, llvm::Align(4));
  if (lowType.isF16())
    return v;
  Value bits = vector::BitCastOp::create(
      b, loc, VectorType::get({1}, b.getI32Type()), v);
  return vector::ExtractOp::create(b, loc, bits, ArrayRef<int64_t>{0});
}

Value KernelBuilder::pack(Value lo, Value hi) {
  auto pair = VectorType::get({2}, lowType);
  Value v = vector::FromElementsOp::create(
      b, loc, pair,
      ValueRange{arith::TruncFOp::create(b, loc, lowType, lo),
                 arith::TruncFOp::create(b, loc, lowType, hi)});
  if (lowType.isF16())
    return v;
  Value bits = vector::BitCastOp::create(
      b, loc, VectorType::get({1}, b.getI32Type()), v);
  return vector::ExtractOp::create(b, loc, bits, ArrayRef<int64_t>{0});
}

void KernelBuilder::convert(const Operand &op, Value low, int64_t cols,
                            Value rows, Value paddedKV, Value kvHeads,
                            Value seqKV) {
  constexpr int64_t kWidth = 8, kBlock = 256;
  Value total = mul(rows, cols / kWidth);
  auto any = scf::IfOp::create(b, loc, lessThan(index(0), total), false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&any.getThenRegion().front());
  Value one = index(1);
  Value blocks = arith::CeilDivUIOp::create(b, loc, total, index(kBlock));
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, index(kBlock), one, one);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value e = add(mul(launch.getBlockIds().x, kBlock), launch.getThreadIds().x);
  auto inRange = scf::IfOp::create(b, loc, lessThan(e, total), false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());
  Value row = div(e, cols / kWidth);
  Value col = mul(rem(e, cols / kWidth), kWidth);
  Value head = arith::DivUIOp::create(b, loc, row, paddedKV);
  Value key = arith::RemUIOp::create(b, loc, row, paddedKV);
  Value base = matrixBase(op, arith::DivUIOp::create(b, loc, head, kvHeads),
                          arith::RemUIOp::create(b, loc, head, kvHeads));
  Value inside = lessThan(key, seqKV);
  Value clamped = arith::MinUIOp::create(
      b, loc, key, arith::SubIOp::create(b, loc, seqKV, index(1)));
  Value zero = f32(0);
  SmallVector<Value> values;
  for (int64_t w = 0; w < kWidth; ++w) {
    Value x = LLVM::LoadOp::create(b, loc, b.getF32Type(),
                                   element(base, op, clamped, add(col, w)), 4);
    x = arith::SelectOp::create(b, loc, inside, x, zero);
    values.push_back(arith::TruncFOp::create(b, loc, lowType, x));
  }
  Value chunk = vector::FromElementsOp::create(
      b, loc, VectorType::get({kWidth}, lowType), values);
  vector::StoreOp::create(b, loc, chunk, low, ValueRange{mul(e, kWidth)},
                          /*nontemporal=*/false, llvm::Align(16));
}

void KernelBuilder::copyTile(Value low, int64_t cols, Value row0, Value tile) {
  // The tile's rows are contiguous in `low`: thread t copies chunks (of 16
  // bytes) t + kThreads i, at byte 16 t + 16 kThreads i of the tile.
  int64_t chunks = cols / 8;
  Value src = arith::AddIOp::create(
      b, loc, low, toI64(add(mul(row0, cols * 2), mul(tid, 16)))); // i = 0
  // Its place in the padded shared rows: row e / chunks, column
  // 8 (e % chunks); a constant step per i when chunks divides kThreads.
  Value tileAddress = loom::bufferAddress(b, loc, tile);
  auto dstOf = [&](Value e) -> Value {
    Value offset =
        add(mul(div(e, chunks), cols + kPad), mul(rem(e, chunks), 8));
    return arith::AddIOp::create(b, loc, tileAddress, toI64(mul(offset, 2)));
  };
  bool regular = kThreads % chunks == 0;
  Value dst0 = dstOf(tid);
  int64_t total = kTileKV * chunks;
  for (int64_t i = 0; i * kThreads < total; ++i) {
    Value from = arith::AddIOp::create(b, loc, src, i64(16 * kThreads * i));
    Value to = regular ? arith::AddIOp::create(
                             b, loc, dst0,
                             i64(2 * (cols + kPad) * (kThreads / chunks) * i))
                       : dstOf(add(tid, kThreads * i));
    if ((i + 1) * kThreads <= total) {
      loom::copyAsync16(b, loc, to, from);
      continue;
    }
    // The last round, partial: threads past the tile copy nothing.
    auto some = scf::IfOp::create(
        b, loc, lessThan(tid, index(total - i * kThreads)), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&some.getThenRegion().front());
    loom::copyAsync16(b, loc, to, from);
  }
}

void KernelBuilder::build() {
  ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Value batch = toIndex(arg(kBatch)), heads = toIndex(arg(kHeads));
  Value kvHeads = toIndex(arg(kKVHeads));
  Value seqQ = toIndex(arg(kSeqQ)), seqKV = toIndex(arg(kSeqKV));
  Operand q = operand(kQuery), k = operand(kKey), v = operand(kValue),
          out = operand(kOutput);
  if (masked)
    mask = operand(kMask);

  // Nothing to launch without queries.
  Value zeroIdx = index(0);
  Value work = arith::AndIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc, lessThan(zeroIdx, seqQ),
                            lessThan(zeroIdx, heads)),
      lessThan(zeroIdx, batch));
  auto ifOp = scf::IfOp::create(b, loc, work, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  // Query heads per key/value head (grouped-query attention).
  Value group = arith::DivUIOp::create(b, loc, heads, kvHeads);

  // K and V in the low type, [batch * kvHeads][keys padded to the tile]
  // [d], zeros past the keys: what the kernel copies asynchronously.
  Value paddedKV =
      mul(arith::CeilDivUIOp::create(b, loc, seqKV, index(kTileKV)), kTileKV);
  Value kvRows = mul(mul(batch, kvHeads), paddedKV);
  auto lowBuffer = MemRefType::get({ShapedType::kDynamic}, lowType);
  Value keysLow =
      memref::AllocOp::create(b, loc, lowBuffer, ValueRange{mul(kvRows, dim)});
  Value valuesLow =
      memref::AllocOp::create(b, loc, lowBuffer, ValueRange{mul(kvRows, dimV)});
  convert(k, keysLow, dim, kvRows, paddedKV, kvHeads, seqKV);
  convert(v, valuesLow, dimV, kvRows, paddedKV, kvHeads, seqKV);
  Value keysAddress = loom::bufferAddress(b, loc, keysLow);
  Value valuesAddress = loom::bufferAddress(b, loc, valuesLow);

  Attribute shared = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  // Queries, then each step's keys: [row][d]; values: [key][dv].
  auto rowsType = MemRefType::get({kTileKV, dim + kPad}, lowType,
                                  MemRefLayoutAttrInterface(), shared);
  auto valuesType = MemRefType::get({kTileKV, dimV + kPad}, lowType,
                                    MemRefLayoutAttrInterface(), shared);
  Value one = index(1);
  Value gridX = arith::CeilDivUIOp::create(b, loc, seqQ, index(kTileQ));
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, heads, batch, index(kThreads), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, TypeRange{rowsType, valuesType});
  b.setInsertionPointToStart(&launch.getBody().front());
  Value rowsTile = launch.getWorkgroupAttributions()[0];
  Value valuesTile = launch.getWorkgroupAttributions()[1];
  gpu::KernelDim3 blockIds = launch.getBlockIds();
  tid = launch.getThreadIds().x;
  Value n = blockIds.z, h = blockIds.y;
  Value q0 = mul(blockIds.x, kTileQ);
  Value kvh = arith::DivUIOp::create(b, loc, h, group);
  Value qBase = matrixBase(q, n, h), oBase = matrixBase(out, n, h);
  Value maskBase, lastQuery, lastKey;
  if (masked) {
    maskBase = matrixBase(mask, n, h);
    lastQuery = arith::SubIOp::create(b, loc, seqQ, index(1));
    // (Used only in steps, which exist only when seqKV > 0.)
    lastKey = arith::SubIOp::create(b, loc, seqKV, index(1));
  }
  // Byte addresses of this head's low-precision keys and values.
  Value headRow = toI64(mul(add(mul(n, kvHeads), kvh), paddedKV));
  auto lowBase = [&](Value address, int64_t cols) -> Value {
    return arith::AddIOp::create(
        b, loc, address, arith::MulIOp::create(b, loc, headRow, i64(cols * 2)));
  };
  Value kLow = lowBase(keysAddress, dim), vLow = lowBase(valuesAddress, dimV);
  Value warp = div(tid, 32), lane = rem(tid, 32);
  Value lgroup = div(lane, 4), quad = rem(lane, 4);
  // This thread's rows within the block's tile: r and r + 8.
  Value warpRow = add(mul(warp, 16), lgroup);

  // The queries' A fragments, per k16 step of the head dim: staged through
  // the key tile (kTileKV rows) a part at a time; each warp keeps the
  // fragments of the part that holds its rows.
  SmallVector<std::array<Value, 4>> queryFrags;
  Value tileRow = add(mul(rem(warp, kTileKV / 16), 16), lgroup);
  Value part = div(warp, kTileKV / 16);
  for (int64_t p = 0; p < kTileQ / kTileKV; ++p) {
    stage(qBase, q, add(q0, p * kTileKV), seqQ, kTileKV, dim, rowsTile);
    gpu::BarrierOp::create(b, loc);
    Value mine =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, part, index(p));
    for (int64_t kk = 0; kk < dim; kk += 16) {
      Value col = add(mul(quad, 2), kk), col8 = add(col, 8);
      Value row8 = add(tileRow, 8);
      std::array<Value, 4> frags = {
          fragment(rowsTile, tileRow, col), fragment(rowsTile, row8, col),
          fragment(rowsTile, tileRow, col8), fragment(rowsTile, row8, col8)};
      if (p == 0) {
        queryFrags.push_back(frags);
        continue;
      }
      for (int64_t j = 0; j < 4; ++j)
        queryFrags[kk / 16][j] = arith::SelectOp::create(
            b, loc, mine, frags[j], queryFrags[kk / 16][j]);
    }
    // The next part, then the keys, overwrite this one.
    gpu::BarrierOp::create(b, loc);
  }

  // Keys this block may see: all, or (causal) those up to the diagonal of
  // its last row: key j <= i + seqKV - seqQ.
  Value kvEnd = seqKV;
  if (causal) {
    Value i64End = arith::SubIOp::create(
        b, loc, toI64(add(add(q0, kTileQ), seqKV)), toI64(seqQ));
    i64End = arith::MaxSIOp::create(b, loc, i64End, i64(0));
    kvEnd = arith::MinUIOp::create(b, loc, toIndex(i64End), seqKV);
  }

  Value negInf = f32(-INFINITY), zero = f32(0);
  constexpr int64_t kScoreTiles = kTileKV / 8;
  const int64_t outTiles = dimV / 8;
  // Iteration state: the running maxima and row-sum partials of rows r and
  // r + 8, then the output accumulators (4 per n8 tile).
  SmallVector<Value> init = {negInf, negInf, zero, zero};
  init.append(outTiles * 4, zero);
  // The first keys and values on their way (two copy groups); each step
  // then waits for its keys, computes the scores, starts the next keys,
  // waits for its values, and starts the next values.
  auto ifMore = [&](Value from, function_ref<void()> body) {
    auto more = scf::IfOp::create(b, loc, lessThan(from, kvEnd), false);
    OpBuilder::InsertionGuard moreGuard(b);
    b.setInsertionPointToStart(&more.getThenRegion().front());
    body();
  };
  ifMore(zeroIdx, [&] {
    copyTile(kLow, dim, zeroIdx, rowsTile);
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
    copyTile(vLow, dimV, zeroIdx, valuesTile);
  });
  NVVM::CpAsyncCommitGroupOp::create(b, loc);
  auto loop = scf::ForOp::create(b, loc, zeroIdx, kvEnd, index(kTileKV), init);
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value kv0 = loop.getInductionVar();
    Value nextKV = add(kv0, kTileKV);
    SmallVector<Value> state(loop.getRegionIterArgs());
    // This step's keys (all groups but the newest: its values).
    NVVM::CpAsyncWaitGroupOp::create(b, loc, 1);
    gpu::BarrierOp::create(b, loc);

    // Scores: 16 rows x 64 keys per warp; the B fragments of two key tiles
    // per ldmatrix.x4.
    SmallVector<Value> scores(kScoreTiles * 4, zero);
    for (int64_t kk = 0; kk < dim / 16; ++kk)
      for (int64_t nt = 0; nt < kScoreTiles; nt += 2) {
        // Lane l points at row (nt + i / 2) * 8 + l % 8, columns from
        // kk * 16 + (i % 2) * 8, of matrix i = l / 8.
        Value i = div(lane, 8);
        Value row = add(add(mul(div(i, 2), 8), rem(lane, 8)), nt * 8);
        Value col = add(mul(rem(i, 2), 8), kk * 16);
        SmallVector<Value> regs =
            loadMatrices(rowsTile, row, col, /*transposed=*/false);
        mma(queryFrags[kk], {regs[0], regs[1]},
            MutableArrayRef<Value>(scores).slice(nt * 4, 4));
        mma(queryFrags[kk], {regs[2], regs[3]},
            MutableArrayRef<Value>(scores).slice(nt * 4 + 4, 4));
      }
    // Every warp has read the keys: the next ones may come.
    gpu::BarrierOp::create(b, loc);
    ifMore(nextKV, [&] { copyTile(kLow, dim, nextKV, rowsTile); });
    NVVM::CpAsyncCommitGroupOp::create(b, loc);

    // Scaled to base 2, masked: keys past the end, and (causal) past the
    // row's diagonal.
    Value scaleLog2 = f32(static_cast<double>(scale) * M_LOG2E);
    Value log2e = f32(M_LOG2E);
    Value shift = arith::SubIOp::create(b, loc, toI64(seqKV), toI64(seqQ));
    std::array<Value, 2> rowMax = {negInf, negInf};
    for (int64_t nt = 0; nt < kScoreTiles; ++nt)
      for (int64_t j = 0; j < 4; ++j) {
        Value &s = scores[nt * 4 + j];
        s = arith::MulFOp::create(b, loc, s, scaleLog2);
        Value key = add(add(kv0, mul(quad, 2)), nt * 8 + j % 2);
        Value visible = lessThan(key, seqKV);
        if (maskBase) {
          // + mask[row][key] (clamped: what lies outside is not visible).
          Value row = arith::MinUIOp::create(
              b, loc, add(add(q0, warpRow), j >= 2 ? 8 : 0), lastQuery);
          Value column = arith::MinUIOp::create(b, loc, key, lastKey);
          Value m = LLVM::LoadOp::create(
              b, loc, b.getF32Type(), element(maskBase, mask, row, column), 4);
          s = math::FmaOp::create(b, loc, m, log2e, s);
        }
        if (causal) {
          Value row = add(add(q0, warpRow), j >= 2 ? 8 : 0);
          Value diagonal = arith::AddIOp::create(b, loc, toI64(row), shift);
          visible = arith::AndIOp::create(
              b, loc, visible,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                    toI64(key), diagonal));
        }
        s = arith::SelectOp::create(b, loc, visible, s, negInf);
        Value &m = rowMax[j / 2];
        m = arith::MaximumFOp::create(b, loc, m, s);
      }

    // Online softmax per row: the quad's maximum, the rescaling factor.
    Value width = arith::ConstantIntOp::create(b, loc, 32, 32);
    std::array<Value, 2> base, alpha, maxima;
    for (int64_t r = 0; r < 2; ++r) {
      Value m = rowMax[r];
      for (int64_t offset : {1, 2}) {
        Value o = arith::ConstantIntOp::create(b, loc, offset, 32);
        auto shuffle =
            gpu::ShuffleOp::create(b, loc, m, o, width, gpu::ShuffleMode::XOR);
        m = arith::MaximumFOp::create(b, loc, m, shuffle.getShuffleResult());
      }
      maxima[r] = arith::MaximumFOp::create(b, loc, state[r], m);
      // A row that has seen no key yet keeps -inf: exponentials from 0.
      Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                         maxima[r], negInf);
      base[r] = arith::SelectOp::create(b, loc, none, zero, maxima[r]);
      alpha[r] = math::Exp2Op::create(
          b, loc, arith::SubFOp::create(b, loc, state[r], base[r]));
    }
    std::array<Value, 2> sums = {
        arith::MulFOp::create(b, loc, state[2], alpha[0]),
        arith::MulFOp::create(b, loc, state[3], alpha[1])};
    for (int64_t nt = 0; nt < kScoreTiles; ++nt)
      for (int64_t j = 0; j < 4; ++j) {
        Value &s = scores[nt * 4 + j];
        s = math::Exp2Op::create(b, loc,
                                 arith::SubFOp::create(b, loc, s, base[j / 2]));
        sums[j / 2] = arith::AddFOp::create(b, loc, sums[j / 2], s);
      }
    SmallVector<Value> acc(state.begin() + 4, state.end());
    for (int64_t t = 0; t < outTiles; ++t)
      for (int64_t j = 0; j < 4; ++j)
        acc[t * 4 + j] =
            arith::MulFOp::create(b, loc, acc[t * 4 + j], alpha[j / 2]);

    // This step's values (all groups but the newest: the next keys).
    NVVM::CpAsyncWaitGroupOp::create(b, loc, 1);
    gpu::BarrierOp::create(b, loc);
    // acc += P V: the score accumulators of n8 tiles 2c and 2c + 1 are the
    // A fragment of k16 step c; the B fragments of two value tiles per
    // ldmatrix.x4.trans.
    for (int64_t c = 0; c < kTileKV / 16; ++c) {
      ArrayRef<Value> lo = ArrayRef<Value>(scores).slice(c * 8, 4);
      ArrayRef<Value> hi = ArrayRef<Value>(scores).slice(c * 8 + 4, 4);
      Value aFrag[] = {pack(lo[0], lo[1]), pack(lo[2], lo[3]),
                       pack(hi[0], hi[1]), pack(hi[2], hi[3])};
      for (int64_t t = 0; t < outTiles; t += 2) {
        // Lane l points at key row c * 16 + (i % 2) * 8 + l % 8, columns
        // from (t + i / 2) * 8, of matrix i = l / 8.
        Value i = div(lane, 8);
        Value row = add(add(mul(rem(i, 2), 8), rem(lane, 8)), c * 16);
        Value col = add(mul(div(i, 2), 8), t * 8);
        SmallVector<Value> regs =
            loadMatrices(valuesTile, row, col, /*transposed=*/true);
        mma(aFrag, {regs[0], regs[1]},
            MutableArrayRef<Value>(acc).slice(t * 4, 4));
        mma(aFrag, {regs[2], regs[3]},
            MutableArrayRef<Value>(acc).slice(t * 4 + 4, 4));
      }
    }
    // Every warp has read the values: the next ones may come.
    gpu::BarrierOp::create(b, loc);
    ifMore(nextKV, [&] { copyTile(vLow, dimV, nextKV, valuesTile); });
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
    SmallVector<Value> next = {maxima[0], maxima[1], sums[0], sums[1]};
    next.append(acc);
    scf::YieldOp::create(b, loc, next);
  }

  // Row sums over the quad; rows without a visible key give 0.
  Value width = arith::ConstantIntOp::create(b, loc, 32, 32);
  std::array<Value, 2> inverse;
  for (int64_t r = 0; r < 2; ++r) {
    Value sum = loop.getResult(2 + r);
    for (int64_t offset : {1, 2}) {
      Value o = arith::ConstantIntOp::create(b, loc, offset, 32);
      auto shuffle =
          gpu::ShuffleOp::create(b, loc, sum, o, width, gpu::ShuffleMode::XOR);
      sum = arith::AddFOp::create(b, loc, sum, shuffle.getShuffleResult());
    }
    Value positive =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, sum, zero);
    inverse[r] = arith::SelectOp::create(
        b, loc, positive, arith::DivFOp::create(b, loc, f32(1), sum), zero);
  }
  for (int64_t r = 0; r < 2; ++r) {
    Value row = add(add(q0, warpRow), r * 8);
    auto guarded =
        scf::IfOp::create(b, loc, lessThan(row, seqQ), /*withElse=*/false);
    OpBuilder::InsertionGuard storeGuard(b);
    b.setInsertionPointToStart(&guarded.getThenRegion().front());
    for (int64_t t = 0; t < outTiles; ++t)
      for (int64_t j = 0; j < 2; ++j) {
        Value col = add(mul(quad, 2), t * 8 + j);
        Value value = arith::MulFOp::create(
            b, loc, loop.getResult(4 + t * 4 + r * 2 + j), inverse[r]);
        LLVM::StoreOp::create(b, loc, value, element(oBase, out, row, col));
      }
  }
  gpu::TerminatorOp::create(b, loc);

  b.setInsertionPointAfter(launch);
  memref::DeallocOp::create(b, loc, keysLow);
  memref::DeallocOp::create(b, loc, valuesLow);
}

struct GPUAttentionPass final
    : loom::impl::GPUAttentionPassBase<GPUAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    Type lowType = loom::lowPrecisionType(&getContext(), precision);
    if (!lowType) {
      getOperation().emitError() << "loom-gpu-attention: unknown precision '"
                                 << precision << "' (fp16 or bf16)";
      return signalPassFailure();
    }
    SmallVector<func::CallOp> calls;
    getOperation().walk([&](func::CallOp call) {
      if (call.getCallee() == kAttentionKernel ||
          call.getCallee() == kMaskedKernel)
        calls.push_back(call);
    });
    IRRewriter rewriter(&getContext());
    for (func::CallOp call : calls) {
      unsigned expected =
          call.getCallee() == kMaskedKernel ? kNumMaskedArgs : kNumArgs;
      if (call.getNumOperands() != expected) {
        call.emitError() << "loom-gpu-attention: " << call.getCallee()
                         << " takes " << expected << " arguments, not "
                         << call.getNumOperands();
        return signalPassFailure();
      }
      std::optional<int64_t> dim = getConstantIntValue(call.getOperand(kDim));
      std::optional<int64_t> dimV = getConstantIntValue(call.getOperand(kDimV));
      std::optional<int64_t> scaleBits =
          getConstantIntValue(call.getOperand(kScaleBits));
      std::optional<int64_t> flags =
          getConstantIntValue(call.getOperand(kFlags));
      auto supported = [](std::optional<int64_t> d) {
        return d && *d > 0 && *d % 16 == 0 && *d <= kMaxHeadDim;
      };
      if (!supported(dim) || !supported(dimV) || !scaleBits || !flags ||
          (*flags & ~kCausalFlag)) {
        call.emitError()
            << "loom-gpu-attention: the kernel needs constant head dims that "
               "are multiples of 16 up to "
            << kMaxHeadDim << ", a constant scale and flags (causal only)";
        return signalPassFailure();
      }
      auto bits = static_cast<uint32_t>(*scaleBits);
      float scale;
      std::memcpy(&scale, &bits, sizeof(scale));
      rewriter.setInsertionPoint(call);
      KernelBuilder(rewriter, call.getLoc(), call, *dim, *dimV, scale,
                    (*flags & kCausalFlag) != 0, lowType)
          .build();
      rewriter.eraseOp(call);
      ++numKernels;
    }
  }
};

} // namespace
