//===- GPUNorms.cpp - Norm calls to whole-row GPU kernels -----------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom-gpu-norms runs on bufferized code in the GPU pipeline. Each call of
// loomrt_norm_f32 (which loom-norm-calls makes for f32 layer and RMS norms
// over the last axis, loom-to-linalg{softmax-calls} for last-axis softmax)
// becomes one kernel with a warp per row: the row's sum (RMS: sum of
// squares) by strided lanes and xor shuffles, for a layer norm the sum of
// squared deviations the same way, then the normalized, scaled and shifted
// row; for a softmax the row's maximum, the sum of exp(x - max) (as
// exp2((x - max) log2 e), the hardware's ex2), then exp(x - max) / sum. The
// reference form takes two reduction kernels and elementwise kernels with round
// trips through memory.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"

#include <cstring>
#include <limits>

namespace loom {
#define GEN_PASS_DEF_GPUNORMSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

using namespace mlir;

namespace {

/// The call (loom-norm-calls) and its arguments.
constexpr StringLiteral kNormKernel = "loomrt_norm_f32";
enum NormArg : unsigned {
  kRows = 0,
  kCols,
  kInput,
  kOutput,
  kScale,
  kBias,
  kEpsilonBits,
  kKind,
  kNumArgs
};
/// Kinds: 0 layer norm, 1 RMS norm, 2 softmax.
enum NormKind : int64_t { kLayerNorm = 0, kRMSNorm = 1, kSoftmax = 2 };
/// Threads per block: 8 warps, a row each.
constexpr int64_t kBlock = 256, kWarp = 32;
/// Rows of at most this many (static) columns are read from memory once,
/// into registers (32 per lane); longer or dynamic rows are read per pass.
constexpr int64_t kMaxRegisterColumns = 1024;

/// Builds the kernel of one call.
static void buildNormKernel(OpBuilder &b, Location loc, func::CallOp call,
                            float epsilon, NormKind kind) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto toIndex = [&](Value v) -> Value {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  };
  auto f32 = [&](double v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  };
  auto lessThan = [&](Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  };
  Type f32Type = b.getF32Type();
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Value rows = toIndex(call.getOperand(kRows));
  Value cols = toIndex(call.getOperand(kCols));
  std::optional<int64_t> noScale = getConstantIntValue(call.getOperand(kScale));
  std::optional<int64_t> noBias = getConstantIntValue(call.getOperand(kBias));
  bool hasScale = !noScale || *noScale != 0;
  bool hasBias = !noBias || *noBias != 0;

  Value zeroIdx = index(0);
  auto any =
      scf::IfOp::create(b, loc,
                        arith::AndIOp::create(b, loc, lessThan(zeroIdx, rows),
                                              lessThan(zeroIdx, cols)),
                        false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&any.getThenRegion().front());
  Value one = index(1);
  Value blocks =
      arith::CeilDivUIOp::create(b, loc, rows, index(kBlock / kWarp));
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, index(kBlock), one, one);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value tid = launch.getThreadIds().x;
  Value lane = arith::RemUIOp::create(b, loc, tid, index(kWarp));
  Value row = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            index(kBlock / kWarp)),
      arith::DivUIOp::create(b, loc, tid, index(kWarp)));
  // The whole warp shares the row: the guard is uniform in it.
  auto inRange = scf::IfOp::create(b, loc, lessThan(row, rows), false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());

  auto pointer = [&](unsigned arg) -> Value {
    return LLVM::IntToPtrOp::create(b, loc, ptrType, call.getOperand(arg));
  };
  auto at = [&](Value base, Value i) -> Value {
    Value offset = arith::IndexCastOp::create(b, loc, b.getI64Type(), i);
    return LLVM::GEPOp::create(b, loc, ptrType, f32Type, base,
                               ValueRange{offset});
  };
  Value rowOffset = arith::MulIOp::create(b, loc, row, cols);
  Value input = at(pointer(kInput), rowOffset);
  Value output = at(pointer(kOutput), rowOffset);
  Value scale = hasScale ? pointer(kScale) : Value();
  Value bias = hasBias ? pointer(kBias) : Value();
  Value count = arith::UIToFPOp::create(
      b, loc, f32Type,
      arith::IndexCastOp::create(b, loc, b.getI64Type(), cols));

  // The lane's elements of the row (columns lane, lane + 32, ...). With a
  // static row of at most kMaxRegisterColumns, each lane loads its elements
  // once into registers (`cached`) and every pass reads them there: one
  // read of the row from memory instead of one per pass. Otherwise each pass
  // loops over the row and loads again.
  struct Element {
    Value column, value;
    /// Whether the column is inside the row (null: always).
    Value valid;
  };
  SmallVector<Element> cached;
  std::optional<int64_t> staticCols =
      getConstantIntValue(call.getOperand(kCols));
  bool inRegisters =
      staticCols && *staticCols > 0 && *staticCols <= kMaxRegisterColumns;
  if (inRegisters) {
    int64_t perLane = llvm::divideCeil(*staticCols, kWarp);
    Value last = index(*staticCols - 1);
    for (int64_t j = 0; j < perLane; ++j) {
      Element e;
      e.column = arith::AddIOp::create(b, loc, lane, index(j * kWarp));
      Value loadAt = e.column;
      if (j == perLane - 1 && *staticCols % kWarp != 0) {
        e.valid = lessThan(e.column, index(*staticCols));
        loadAt = arith::MinUIOp::create(b, loc, e.column, last);
      }
      e.value = LLVM::LoadOp::create(b, loc, f32Type, at(input, loadAt), 4);
      cached.push_back(e);
    }
  }

  // The warp's total (or maximum) of f(x) over the row, in every lane.
  auto rowReduce = [&](function_ref<Value(Value)> f, bool max) -> Value {
    auto combine = [&](Value x, Value y) -> Value {
      if (max)
        return arith::MaximumFOp::create(b, loc, x, y);
      return arith::AddFOp::create(b, loc, x, y);
    };
    Value identity =
        max ? f32(-std::numeric_limits<double>::infinity()) : f32(0);
    Value sum = identity;
    if (inRegisters) {
      for (const Element &e : cached) {
        Value v = f(e.value);
        if (e.valid)
          v = arith::SelectOp::create(b, loc, e.valid, v, identity);
        sum = combine(sum, v);
      }
    } else {
      auto loop = scf::ForOp::create(b, loc, lane, cols, index(kWarp),
                                     ValueRange{identity});
      OpBuilder::InsertionGuard loopGuard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value x = LLVM::LoadOp::create(b, loc, f32Type,
                                     at(input, loop.getInductionVar()), 4);
      scf::YieldOp::create(
          b, loc, ValueRange{combine(loop.getRegionIterArgs()[0], f(x))});
      b.setInsertionPointAfter(loop);
      sum = loop.getResult(0);
    }
    Value width = arith::ConstantIntOp::create(b, loc, kWarp, 32);
    for (int64_t offset = kWarp / 2; offset >= 1; offset /= 2) {
      Value o = arith::ConstantIntOp::create(b, loc, offset, 32);
      auto shuffle =
          gpu::ShuffleOp::create(b, loc, sum, o, width, gpu::ShuffleMode::XOR);
      sum = combine(sum, shuffle.getShuffleResult());
    }
    return sum;
  };
  auto rowSum = [&](function_ref<Value(Value)> f) {
    return rowReduce(f, false);
  };
  // Writes y = g(column, x) for each of the lane's elements.
  auto writeRow = [&](function_ref<Value(Value, Value)> g) {
    if (!inRegisters) {
      auto loop = scf::ForOp::create(b, loc, lane, cols, index(kWarp));
      OpBuilder::InsertionGuard loopGuard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value c = loop.getInductionVar();
      Value x = LLVM::LoadOp::create(b, loc, f32Type, at(input, c), 4);
      LLVM::StoreOp::create(b, loc, g(c, x), at(output, c));
      return;
    }
    for (const Element &e : cached) {
      OpBuilder::InsertionGuard guard(b);
      if (e.valid)
        b.setInsertionPointToStart(
            &scf::IfOp::create(b, loc, e.valid, false).getThenRegion().front());
      LLVM::StoreOp::create(b, loc, g(e.column, e.value), at(output, e.column));
    }
  };

  if (kind == kSoftmax) {
    // exp(x - max) / sum over the row of exp(x - max).
    Value max = rowReduce([](Value x) { return x; }, /*max=*/true);
    // exp(x - max) as exp2((x - max) log2 e): the hardware's ex2.
    Value log2e = f32(1.4426950408889634);
    auto shifted = [&](Value x) -> Value {
      return math::Exp2Op::create(
          b, loc,
          arith::MulFOp::create(b, loc, arith::SubFOp::create(b, loc, x, max),
                                log2e));
    };
    Value inverse = arith::DivFOp::create(b, loc, f32(1), rowSum(shifted));
    writeRow([&](Value, Value x) -> Value {
      return arith::MulFOp::create(b, loc, shifted(x), inverse);
    });
    return;
  }
  Value mean, variance;
  if (kind == kRMSNorm) {
    mean = f32(0);
    variance = arith::DivFOp::create(
        b, loc,
        rowSum([&](Value x) { return arith::MulFOp::create(b, loc, x, x); }),
        count);
  } else {
    mean =
        arith::DivFOp::create(b, loc, rowSum([](Value x) { return x; }), count);
    variance =
        arith::DivFOp::create(b, loc, rowSum([&](Value x) -> Value {
                                Value d =
                                    arith::SubFOp::create(b, loc, x, mean);
                                return arith::MulFOp::create(b, loc, d, d);
                              }),
                              count);
  }
  Value inverse = math::RsqrtOp::create(
      b, loc, arith::AddFOp::create(b, loc, variance, f32(epsilon)));
  writeRow([&](Value c, Value x) -> Value {
    Value y = arith::MulFOp::create(
        b, loc, arith::SubFOp::create(b, loc, x, mean), inverse);
    if (scale)
      y = arith::MulFOp::create(
          b, loc, y, LLVM::LoadOp::create(b, loc, f32Type, at(scale, c), 4));
    if (bias)
      y = arith::AddFOp::create(
          b, loc, y, LLVM::LoadOp::create(b, loc, f32Type, at(bias, c), 4));
    return y;
  });
}

struct GPUNormsPass final : loom::impl::GPUNormsPassBase<GPUNormsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<func::CallOp> calls;
    getOperation().walk([&](func::CallOp call) {
      if (call.getCallee() == kNormKernel)
        calls.push_back(call);
    });
    IRRewriter rewriter(&getContext());
    for (func::CallOp call : calls) {
      std::optional<int64_t> bits, kind;
      if (call.getNumOperands() == kNumArgs) {
        bits = getConstantIntValue(call.getOperand(kEpsilonBits));
        kind = getConstantIntValue(call.getOperand(kKind));
      }
      if (!bits || !kind || *kind < 0 || *kind > kSoftmax) {
        call.emitError() << "loom-gpu-norms: " << kNormKernel << " takes "
                         << static_cast<unsigned>(kNumArgs)
                         << " arguments with a constant epsilon and kind (0 "
                            "layer norm, 1 RMS norm, 2 softmax)";
        return signalPassFailure();
      }
      auto epsilonBits = static_cast<uint32_t>(*bits);
      float epsilon;
      std::memcpy(&epsilon, &epsilonBits, sizeof(epsilon));
      rewriter.setInsertionPoint(call);
      buildNormKernel(rewriter, call.getLoc(), call, epsilon,
                      static_cast<NormKind>(*kind));
      rewriter.eraseOp(call);
      ++numKernels;
    }
  }
};

} // namespace
