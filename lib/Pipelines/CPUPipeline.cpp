//===- CPUPipeline.cpp - The CPU compilation pipeline ---------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Pipelines/Pipelines.h"

#include "loom/Conversion/Passes.h"
#include "loom/Transforms/Passes.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void loom::addBufferizationPasses(OpPassManager &pm, bool promoteToStack) {
  pm.addPass(createEraseSignednessPass());
  pm.addNestedPass<func::FuncOp>(createUnshareFillsPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  // Loop-carried tensors that grow (Loop scan outputs, sequences) yield new
  // buffers each iteration; the deallocation pipeline frees the old ones.
  bufferize.allowReturnAllocsFromLoops = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  // A tensor.empty whose value ends up inserted into a slice (a row-wise
  // norm's row, inserted into the result by its scf.forall) becomes that
  // slice: computed in place instead of into a temporary and copied.
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createPrepareABIPass());
  if (promoteToStack) {
    // Static buffers of up to 64 bytes that do not escape (a row-wise
    // norm's per-row mean and variance) live on the stack: no allocator
    // calls per row.
    bufferization::PromoteBuffersToStackPassOptions stack;
    stack.maxAllocSizeInBytes = 64;
    stack.maxRankOfAllocatedMemRef = 1;
    pm.addNestedPass<func::FuncOp>(
        bufferization::createPromoteBuffersToStackPass(stack));
  }
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  pm.addPass(createCanonicalizerPass());
}

void loom::addHostToLLVMPasses(OpPassManager &pm, bool gpuLaunches) {
  // Allocations call loomrt's caching allocator (runtime/src/kernels/
  // alloc.c, or managed memory from runtime/src/cuda in a GPU model), which
  // keeps freed intermediate buffers for the next call.
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  // Allocations return their aligned pointer (no pointer arithmetic through
  // integers, which hides from LLVM that buffers do not alias).
  memrefToLLVM.useAlignedAlloc = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createSCFToControlFlowPass());
  // Kernel launches through the mgpu* functions (runtime/src/cuda).
  if (gpuLaunches)
    pm.addPass(createGpuToLLVMConversionPass());
  // bf16 conversions as integer arithmetic: x86 without AVX512-BF16 has no
  // instructions for them and the model must not need compiler-rt.
  // Float min/max stay LLVM intrinsics, whose reductions vectorize.
  pm.addPass(createExpandArithPass());
  pm.addPass(createConvertMathToFuncs());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void loom::buildCPUPipeline(OpPassManager &pm,
                            const CPUPipelineOptions &options) {
  // Step 1: raise the named patterns of the imported graph (attention, norms,
  // GELU, scans, mixtures of experts), then legalize the ONNX nodes.
  if (options.legalizeOnnx) {
    if (options.raise) {
      pm.addPass(createRaiseAttentionPass());
      pm.addPass(createRaiseNormsAndGeluPass());
      pm.addPass(createRaiseScansPass());
      pm.addPass(createRaiseMixturesPass());
      pm.addPass(createRaiseQuantizedPass());
    }
    pm.addPass(createOnnxToLoomPass());
  }
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (!options.quantize.empty()) {
    QuantizeWeightsPassOptions quantize;
    quantize.mode = options.quantize;
    quantize.groupSize = options.quantGroupSize;
    quantize.symmetric = options.quantSymmetric;
    quantize.report = options.quantReport;
    quantize.scales = options.quantScales;
    quantize.rounding = options.quantRounding;
    quantize.tableBlock = options.quantTableBlock;
    quantize.activationBlock = options.quantActivationBlock;
    pm.addPass(createQuantizeWeightsPass(quantize));
    // The fp32 weights the quantized ops replaced.
    pm.addPass(createCanonicalizerPass());
  }
  if (!options.sparsity.empty()) {
    SparsifyWeightsPassOptions sparsify;
    sparsify.mode = options.sparsity;
    sparsify.blockRows = options.sparsityBlockRows;
    sparsify.blockCols = options.sparsityBlockCols;
    sparsify.ratio = options.sparsityRatio;
    sparsify.report = options.sparsityReport;
    pm.addPass(createSparsifyWeightsPass(sparsify));
    pm.addPass(createCanonicalizerPass());
  }
  for (const AttentionSpan &span : options.attentionSpans) {
    AttentionSpansPassOptions spans;
    spans.window = span.window;
    spans.blockSize = span.blockSize;
    spans.localBlocks = span.localBlocks;
    spans.globalBlocks = span.globalBlocks;
    spans.routeBlockSize = span.routeBlockSize;
    spans.routeTop = span.routeTop;
    spans.full = !span.window && !span.blockSize && !span.routeBlockSize;
    spans.layers.assign(span.layers.begin(), span.layers.end());
    pm.addPass(createAttentionSpansPass(spans));
  }
  if (options.stopAfter == CPUPipelineStage::Loom)
    return;

  // Step 2: attention in the flash (online-softmax) form, the other loom ops
  // -> linalg, then fuse elementwise producers and consumers;
  // contiguous innermost loops so that LLVM vectorizes.
  {
    // Without flash attention, routed attention (which only has a tiled
    // form) is still tiled.
    TileAttentionPassOptions tile;
    tile.tileQ = options.attentionTileQ;
    tile.causalTileQ = options.attentionCausalTileQ;
    tile.tileKV = options.attentionTileKV;
    tile.kvSplits = options.attentionKVSplits;
    tile.onlyRouted = !options.flashAttention;
    tile.runtimeKernel = options.microkernels;
    tile.gpuKernel = options.gpuAttentionKernels;
    pm.addPass(createTileAttentionPass(tile));
  }
  // Last-axis f32 norms: runtime calls, on the GPU for loom-gpu-norms'
  // kernels, on the CPU for loomrt_norm_f32 (loom-fuse-gemm-norms then folds
  // a norm of a product's result into the product's call).
  if (options.gpuNormKernels || options.microkernels)
    pm.addPass(createNormCallsPass());
  LoomToLinalgPassOptions toLinalg;
  toLinalg.scanChunk = options.scanChunk;
  toLinalg.scanChunkDelta = options.scanChunkDelta;
  toLinalg.softmaxCalls = options.gpuNormKernels;
  pm.addPass(createLoomToLinalgPass(toLinalg));
  pm.addPass(createCanonicalizerPass());
  // Reshapes to run-time shapes as views, and attention tiles that read and
  // write the projections' layouts instead of transposed copies.
  pm.addNestedPass<func::FuncOp>(createSimplifyShapesPass());
  pm.addNestedPass<func::FuncOp>(createFoldTransposedSlicesPass());
  pm.addNestedPass<func::FuncOp>(createFuseElementwisePass());
  pm.addNestedPass<func::FuncOp>(createLinalgGeneralizeNamedOpsPass());
  pm.addNestedPass<func::FuncOp>(createOptimizeLoopOrderPass());
  pm.addNestedPass<func::FuncOp>(createHoistInvariantTransposesPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.stopAfter == CPUPipelineStage::Linalg)
    return;

  // Step 3: bufferize; every output becomes a caller-owned allocation.
  addBufferizationPasses(pm, /*promoteToStack=*/true);
  if (options.microkernels) {
    pm.addNestedPass<func::FuncOp>(createPadRowStridesPass());
    pm.addPass(createLowerToMicrokernelsPass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createFuseGemmNormsPass());
  }
  // Inline polynomial math after the microkernels have taken the GEMM
  // epilogues they recognize by their math (erf, tanh).
  pm.addNestedPass<func::FuncOp>(createApproximateMathPass());
  // Free each intermediate buffer after its last use instead of when the
  // model returns, so that the allocation cache hands it to later layers.
  pm.addNestedPass<func::FuncOp>(createShortenBufferLifetimesPass());

  // Step 4: loops and the LLVM dialect.
  pm.addNestedPass<func::FuncOp>(createLowerCopiesPass());
  if (options.openmp) {
    pm.addPass(createForallToParallelLoopPass());
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
    pm.addNestedPass<func::FuncOp>(createSerializeInnerParallelPass());
    pm.addPass(createConvertSCFToOpenMPPass());
  } else {
    pm.addPass(createForallToForLoopPass());
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  }
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  addHostToLLVMPasses(pm, /*gpuLaunches=*/false);
  pm.addPass(createCanonicalizerPass());
}

void loom::registerPipelines() {
  PassPipelineRegistration<>(
      "loom-cpu-pipeline",
      "The CPU pipeline from imported ONNX (or loom) IR to the LLVM dialect",
      [](OpPassManager &pm) { buildCPUPipeline(pm, CPUPipelineOptions()); });
  PassPipelineRegistration<>(
      "loom-gpu-pipeline",
      "The GPU pipeline from imported ONNX (or loom) IR to the LLVM dialect "
      "with PTX for sm_80",
      [](OpPassManager &pm) { buildGPUPipeline(pm, GPUPipelineOptions()); });
}
