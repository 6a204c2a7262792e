//===- MapToGPU.cpp - Parallel loops to GPU kernels, host buffers staged --===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Two passes of the GPU pipeline, run on bufferized loops:
//
// loom-map-parallel-to-gpu turns each outermost scf.parallel into a
// gpu.launch with one GPU thread per parallel iteration (the iteration space
// linearized over 1-D blocks of threads; nested parallel loops run
// sequentially in the thread). Loops a kernel cannot run (reductions, calls,
// dynamic or large temporaries) stay on the host.
//
// loom-stage-gpu-buffers copies what the host hands a kernel-launching
// function (its memref arguments) and the constants it reads (memref
// globals) into buffers the model allocates: in a GPU model every
// allocation is CUDA managed memory (runtime/src/cuda), which both the host
// code and the kernels address.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "loom/Transforms/BufferUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "llvm/ADT/STLExtras.h"

namespace loom {
#define GEN_PASS_DEF_MAPPARALLELTOGPUPASS
#define GEN_PASS_DEF_STAGEGPUBUFFERSPASS
#define GEN_PASS_DEF_MERGEGPUMODULESPASS
#define GEN_PASS_DEF_EMULATEGPULAUNCHESPASS
#define GEN_PASS_DEF_CACHEGPUCONSTANTSPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-map-parallel-to-gpu"

using namespace mlir;

/// Bytes of per-thread temporaries (static allocations inside a parallel
/// iteration, which become local memory) a kernel may hold.
static constexpr int64_t kMaxThreadLocalBytes = 64 * 1024;

/// Whether `op`'s body can run as a kernel: no reductions, no calls, no
/// nested launches, and every allocation static and small (each becomes a
/// thread-local buffer). Collects those allocations in `allocs`.
static bool canRunOnDevice(scf::ParallelOp op,
                           SmallVectorImpl<memref::AllocOp> &allocs) {
  if (op.getNumReductions() != 0)
    return false;
  int64_t localBytes = 0;
  WalkResult result = op.getBody()->walk([&](Operation *nested) {
    if (isa<CallOpInterface, gpu::LaunchOp, memref::AllocaOp>(nested))
      return WalkResult::interrupt();
    if (auto parallel = dyn_cast<scf::ParallelOp>(nested))
      if (parallel.getNumReductions() != 0)
        return WalkResult::interrupt();
    if (auto alloc = dyn_cast<memref::AllocOp>(nested)) {
      MemRefType type = alloc.getType();
      if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
          !type.getElementType().isIntOrFloat())
        return WalkResult::interrupt();
      localBytes += type.getNumElements() *
                    std::max<int64_t>(
                        1, type.getElementType().getIntOrFloatBitWidth() / 8);
      allocs.push_back(alloc);
      return WalkResult::advance();
    }
    // A buffer freed inside the kernel must be one of its own temporaries.
    if (auto dealloc = dyn_cast<memref::DeallocOp>(nested)) {
      auto alloc = dealloc.getMemref().getDefiningOp<memref::AllocOp>();
      if (!alloc || !op->isAncestor(alloc))
        return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return !result.wasInterrupted() && localBytes <= kMaxThreadLocalBytes;
}

/// Rewrites `op` into a gpu.launch of ceil(N / blockSize) blocks of
/// `blockSize` threads over its N iterations (skipped when N is 0).
static void mapToLaunch(RewriterBase &rewriter, scf::ParallelOp op,
                        ArrayRef<memref::AllocOp> allocs, int64_t blockSize) {
  Location loc = op.getLoc();
  // Constants are host symbols: read them (their staged copies) outside.
  SmallVector<memref::GetGlobalOp> globals;
  op.getBody()->walk(
      [&](memref::GetGlobalOp global) { globals.push_back(global); });
  for (memref::GetGlobalOp global : globals)
    rewriter.moveOpBefore(global, op);
  // Nested parallel loops run sequentially in each thread.
  SmallVector<scf::ParallelOp> inner;
  op.getBody()->walk<WalkOrder::PostOrder>(
      [&](scf::ParallelOp nested) { inner.push_back(nested); });
  for (scf::ParallelOp nested : inner) {
    rewriter.setInsertionPoint(nested);
    (void)scf::parallelForToNestedFors(rewriter, nested);
  }

  rewriter.setInsertionPoint(op);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  SmallVector<Value> counts;
  Value total = one;
  for (auto [lb, ub, step] :
       llvm::zip(op.getLowerBound(), op.getUpperBound(), op.getStep())) {
    Value extent = rewriter.createOrFold<arith::SubIOp>(loc, ub, lb);
    Value count = rewriter.createOrFold<arith::CeilDivSIOp>(loc, extent, step);
    count = rewriter.createOrFold<arith::MaxSIOp>(loc, count, zero);
    counts.push_back(count);
    total = rewriter.createOrFold<arith::MulIOp>(loc, total, count);
  }
  Value block = arith::ConstantIndexOp::create(rewriter, loc, blockSize);
  Value grid = rewriter.createOrFold<arith::CeilDivSIOp>(loc, total, block);
  Value any = rewriter.createOrFold<arith::CmpIOp>(
      loc, arith::CmpIPredicate::sgt, total, zero);
  auto guard = scf::IfOp::create(rewriter, loc, any, /*withElse=*/false);
  rewriter.setInsertionPointToStart(guard.thenBlock());
  auto launch =
      gpu::LaunchOp::create(rewriter, loc, grid, one, one, block, one, one);
  Block &body = launch.getBody().front();
  rewriter.setInsertionPointToStart(&body);
  auto terminator = gpu::TerminatorOp::create(rewriter, loc);
  rewriter.setInsertionPoint(terminator);
  // Thread-local temporaries, once per thread.
  for (memref::AllocOp alloc : allocs) {
    auto local =
        memref::AllocaOp::create(rewriter, alloc.getLoc(), alloc.getType(),
                                 ValueRange(), alloc.getAlignmentAttr());
    for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
      if (isa<memref::DeallocOp>(user))
        rewriter.eraseOp(user);
    rewriter.replaceOp(alloc, local);
  }
  Value id = arith::AddIOp::create(
      rewriter, loc,
      rewriter.createOrFold<arith::MulIOp>(loc, launch.getBlockIds().x, block),
      launch.getThreadIds().x);
  Value inRange = arith::CmpIOp::create(rewriter, loc,
                                        arith::CmpIPredicate::slt, id, total);
  auto ifOp = scf::IfOp::create(rewriter, loc, inRange, /*withElse=*/false);
  rewriter.setInsertionPointToStart(ifOp.thenBlock());
  // Delinearize, last dimension fastest (adjacent threads, adjacent
  // elements of the innermost dimension).
  SmallVector<Value> ivs(counts.size());
  Value rest = id;
  for (int64_t d = counts.size() - 1; d >= 0; --d) {
    Value index =
        d == 0 ? rest
               : rewriter.createOrFold<arith::RemSIOp>(loc, rest, counts[d]);
    if (d > 0)
      rest = rewriter.createOrFold<arith::DivSIOp>(loc, rest, counts[d]);
    Value scaled =
        rewriter.createOrFold<arith::MulIOp>(loc, index, op.getStep()[d]);
    ivs[d] = rewriter.createOrFold<arith::AddIOp>(loc, op.getLowerBound()[d],
                                                  scaled);
  }
  Block *loopBody = op.getBody();
  rewriter.eraseOp(loopBody->getTerminator());
  rewriter.inlineBlockBefore(loopBody, ifOp.thenBlock()->getTerminator(), ivs);
  rewriter.eraseOp(op);
}

namespace {
struct MapParallelToGPUPass final
    : public loom::impl::MapParallelToGPUPassBase<MapParallelToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    if (blockSize < 1 || blockSize > 1024) {
      getOperation()->emitError("block-size must be in 1..1024");
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());
    SmallVector<scf::ParallelOp> worklist =
        outermostParallelLoops(getOperation()->getRegions());
    while (!worklist.empty()) {
      scf::ParallelOp op = worklist.pop_back_val();
      SmallVector<memref::AllocOp> allocs;
      if (canRunOnDevice(op, allocs)) {
        mapToLaunch(rewriter, op, allocs, blockSize);
        ++numKernels;
        continue;
      }
      // The loop itself stays on the host, sequentially (an scf.for nest);
      // the parallel loops inside it may still be kernels (a scan's steps
      // over the channels, inside its loop over blocks of channels).
      SmallVector<scf::ParallelOp> nested =
          outermostParallelLoops(op.getRegion());
      if (nested.empty() || op.getNumReductions() != 0) {
        ++numHostLoops;
        continue;
      }
      rewriter.setInsertionPoint(op);
      if (failed(scf::parallelForToNestedFors(rewriter, op))) {
        ++numHostLoops;
        continue;
      }
      worklist.append(nested.begin(), nested.end());
    }
  }

  /// The scf.parallel ops in `regions` not nested in another one or in a
  /// launch.
  static SmallVector<scf::ParallelOp>
  outermostParallelLoops(MutableArrayRef<Region> regions) {
    SmallVector<scf::ParallelOp> loops;
    for (Region &region : regions)
      region.walk<WalkOrder::PreOrder>([&](Operation *op) {
        if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
          loops.push_back(loop);
          return WalkResult::skip();
        }
        return isa<gpu::LaunchOp>(op) ? WalkResult::skip()
                                      : WalkResult::advance();
      });
    return loops;
  }
};

/// Whether `value` (transitively through views) reaches a terminator, so
/// that a copy of it may outlive its block.
static bool escapesBlock(Value value) {
  for (Operation *user : value.getUsers()) {
    if (user->hasTrait<OpTrait::IsTerminator>())
      return true;
    if (isa<ViewLikeOpInterface>(user) &&
        llvm::any_of(user->getResults(), escapesBlock))
      return true;
  }
  return false;
}

struct StageGPUBuffersPass final
    : public loom::impl::StageGPUBuffersPassBase<StageGPUBuffersPass> {
  using Base::Base;

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() ||
          !func->walk([](gpu::LaunchOp) { return WalkResult::interrupt(); })
               .wasInterrupted())
        continue;
      Block &entry = func.getBody().front();
      SmallVector<std::pair<Value, Block *>> staged;
      // Arguments: copied once, at entry.
      rewriter.setInsertionPointToStart(&entry);
      for (BlockArgument arg : entry.getArguments()) {
        auto type = dyn_cast<MemRefType>(arg.getType());
        if (!type || !type.getLayout().isIdentity() || arg.use_empty())
          continue;
        SmallVector<OpOperand *> uses(llvm::make_pointer_range(arg.getUses()));
        Value copy = loom::copyToFreshBuffer(rewriter, arg.getLoc(), arg);
        for (OpOperand *use : uses)
          use->set(copy);
        staged.push_back({copy, &entry});
      }
      // Constants: copied where they are read.
      SmallVector<memref::GetGlobalOp> globals;
      SymbolTableCollection symbols;
      func.walk([&](memref::GetGlobalOp op) {
        auto global = symbols.lookupNearestSymbolFrom<memref::GlobalOp>(
            op, op.getNameAttr());
        if (constants || !global || !global.getConstant())
          globals.push_back(op);
      });
      for (memref::GetGlobalOp global : globals) {
        if (!global.getType().getLayout().isIdentity())
          continue;
        rewriter.setInsertionPointAfter(global);
        SmallVector<OpOperand *> uses(
            llvm::make_pointer_range(global.getResult().getUses()));
        Value copy = loom::copyToFreshBuffer(rewriter, global.getLoc(), global);
        for (OpOperand *use : uses)
          use->set(copy);
        staged.push_back({copy, global->getBlock()});
      }
      // Freed before their block ends, unless they flow out of it.
      for (auto [copy, block] : staged) {
        if (escapesBlock(copy))
          continue;
        rewriter.setInsertionPoint(block->getTerminator());
        memref::DeallocOp::create(rewriter, copy.getLoc(), copy);
      }
      numStaged += staged.size();
    }
  }
};
} // namespace

namespace {
/// The alignment of kernels' shared-memory buffers, in bytes.
constexpr int64_t kSharedAlignment = 16;

struct MergeGPUModulesPass final
    : public loom::impl::MergeGPUModulesPassBase<MergeGPUModulesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Shared-memory buffers 16-byte aligned: kernels access them with
    // vector loads and stores that assume up to that.
    module.walk([&](gpu::GPUFuncOp func) {
      for (unsigned i = 0; i < func.getNumWorkgroupAttributions(); ++i)
        if (!func.getWorkgroupAttributionAttr(
                i, LLVM::LLVMDialect::getAlignAttrName()))
          func.setWorkgroupAttributionAttr(
              i, LLVM::LLVMDialect::getAlignAttrName(),
              IntegerAttr::get(IntegerType::get(&getContext(), 64),
                               kSharedAlignment));
    });
    SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
    if (gpuModules.size() < 2)
      return;
    gpu::GPUModuleOp target = gpuModules.front();
    SymbolTable targetSymbols(target);
    // Old (module, kernel) -> new kernel name.
    DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> renamed;
    for (gpu::GPUModuleOp source : llvm::drop_begin(gpuModules)) {
      if (source.getTargetsAttr() != target.getTargetsAttr()) {
        source.emitError("cannot merge GPU modules with different targets");
        return signalPassFailure();
      }
      for (Operation &op :
           llvm::make_early_inc_range(source.getBody()->without_terminator())) {
        auto symbol = dyn_cast<SymbolOpInterface>(&op);
        StringAttr oldName = symbol ? symbol.getNameAttr() : StringAttr();
        op.moveBefore(target.getBody(), target.getBody()->end());
        if (!symbol)
          continue;
        // Unique in the merged module (renames on a clash).
        StringAttr newName = targetSymbols.insert(&op);
        renamed[{source.getNameAttr(), oldName}] = newName;
      }
      source.erase();
    }
    // Keep the terminator last.
    Operation *terminator = nullptr;
    for (Operation &op : *target.getBody())
      if (op.hasTrait<OpTrait::IsTerminator>())
        terminator = &op;
    if (terminator)
      terminator->moveBefore(target.getBody(), target.getBody()->end());
    module.walk([&](gpu::LaunchFuncOp launch) {
      SymbolRefAttr kernel = launch.getKernel();
      auto it =
          renamed.find({kernel.getRootReference(), kernel.getLeafReference()});
      if (it == renamed.end())
        return;
      launch.setKernelAttr(SymbolRefAttr::get(
          target.getNameAttr(), {FlatSymbolRefAttr::get(it->second)}));
    });
  }
};
} // namespace

namespace {
struct EmulateGPULaunchesPass final
    : public loom::impl::EmulateGPULaunchesPassBase<EmulateGPULaunchesPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation()->walk([&](gpu::LaunchOp op) { launches.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (gpu::LaunchOp launch : launches) {
      Block &body = launch.getBody().front();
      if (!launch.getBody().hasOneBlock() ||
          !isa<gpu::TerminatorOp>(body.getTerminator()) ||
          launch.getAsyncToken() ||
          !launch.getWorkgroupAttributions().empty() ||
          !launch.getPrivateAttributions().empty() ||
          body.walk([](gpu::BarrierOp) { return WalkResult::interrupt(); })
              .wasInterrupted()) {
        launch.emitError("cannot emulate this launch on the host (more than "
                         "one block, barriers, attributions or async)");
        return signalPassFailure();
      }
      Location loc = launch.getLoc();
      rewriter.setInsertionPoint(launch);
      Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
      Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
      gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
      gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
      SmallVector<Value> upper = {grid.x,  grid.y,  grid.z,
                                  block.x, block.y, block.z};
      auto loop =
          scf::ParallelOp::create(rewriter, loc, SmallVector<Value>(6, zero),
                                  upper, SmallVector<Value>(6, one));
      // The iterations run one after another: each thread's temporaries
      // can be one buffer, allocated before the loop.
      body.walk([&](memref::AllocaOp alloca) {
        if (alloca->getNumOperands() == 0)
          alloca->moveBefore(loop);
      });
      rewriter.setInsertionPointToStart(loop.getBody());
      Operation *yield = loop.getBody()->getTerminator();
      SmallVector<Value> ivs(loop.getInductionVars());
      gpu::KernelDim3 blockIds = launch.getBlockIds();
      gpu::KernelDim3 threadIds = launch.getThreadIds();
      gpu::KernelDim3 gridArgs = launch.getGridSize();
      gpu::KernelDim3 blockArgs = launch.getBlockSize();
      SmallVector<std::pair<Value, Value>> replace = {
          {blockIds.x, ivs[0]},   {blockIds.y, ivs[1]},
          {blockIds.z, ivs[2]},   {threadIds.x, ivs[3]},
          {threadIds.y, ivs[4]},  {threadIds.z, ivs[5]},
          {gridArgs.x, grid.x},   {gridArgs.y, grid.y},
          {gridArgs.z, grid.z},   {blockArgs.x, block.x},
          {blockArgs.y, block.y}, {blockArgs.z, block.z}};
      for (auto [from, to] : replace)
        rewriter.replaceAllUsesWith(from, to);
      rewriter.eraseOp(body.getTerminator());
      for (Operation &op : llvm::make_early_inc_range(body))
        op.moveBefore(yield);
      rewriter.eraseOp(launch);
    }
  }
};
} // namespace

namespace {
struct CacheGPUConstantsPass final
    : public loom::impl::CacheGPUConstantsPassBase<CacheGPUConstantsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SymbolTableCollection symbols;
    DataLayout layout(module);
    auto ptrType = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    SmallVector<std::pair<LLVM::AddressOfOp, LLVM::GlobalOp>> uses;
    for (auto func : module.getOps<LLVM::LLVMFuncOp>()) {
      if (!func->walk([](gpu::LaunchFuncOp) { return WalkResult::interrupt(); })
               .wasInterrupted())
        continue;
      func.walk([&](LLVM::AddressOfOp op) {
        LLVM::GlobalOp global = op.getGlobal(symbols);
        if (global && global.getConstant() &&
            (global.getValueOrNull() || global.getInitializerBlock()))
          uses.push_back({op, global});
      });
    }
    if (uses.empty())
      return;
    OpBuilder builder(ctx);
    builder.setInsertionPointToEnd(module.getBody());
    auto callee = module.lookupSymbol<LLVM::LLVMFuncOp>(kCacheFunction);
    if (!callee)
      callee = LLVM::LLVMFuncOp::create(
          builder, module.getLoc(), kCacheFunction,
          LLVM::LLVMFunctionType::get(ptrType, {ptrType, i64}));
    for (auto [op, global] : uses) {
      uint64_t bytes = layout.getTypeSize(global.getGlobalType());
      builder.setInsertionPointAfter(op);
      Value size = LLVM::ConstantOp::create(builder, op.getLoc(), i64,
                                            builder.getI64IntegerAttr(bytes));
      auto call = LLVM::CallOp::create(builder, op.getLoc(), callee,
                                       ValueRange{op.getResult(), size});
      op.getResult().replaceAllUsesExcept(call.getResult(), call);
      ++numCached;
    }
  }

  static constexpr llvm::StringLiteral kCacheFunction = "loomrt_cuda_constant";
};
} // namespace
