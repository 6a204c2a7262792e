//===- GPUPipeline.cpp - The NVIDIA GPU compilation pipeline --------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Pipelines/Pipelines.h"

#include "loom/Transforms/Passes.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void loom::buildGPUPipeline(OpPassManager &pm,
                            const GPUPipelineOptions &options) {
  // Steps 1 and 2: as on the CPU, but attention either becomes a kernel
  // call for loom-gpu-attention (tensor cores) or keeps its reference form
  // (the CPU's flash tiles allocate per-tile buffers, which a kernel thread
  // cannot).
  bool tensorCores = !options.emulate && options.precision != "fp32";
  CPUPipelineOptions front = options.front;
  front.flashAttention = false;
  front.gpuAttentionKernels = tensorCores;
  // Norms: whole-row kernels (shuffles: not emulated on the host).
  front.gpuNormKernels = !options.emulate;
  front.microkernels = false;
  front.openmp = false;
  if (front.stopAfter == CPUPipelineStage::Loom ||
      front.stopAfter == CPUPipelineStage::Linalg) {
    buildCPUPipeline(pm, front);
    return;
  }
  front.stopAfter = CPUPipelineStage::Linalg;
  buildCPUPipeline(pm, front);

  // Step 3: bufferize; polynomial erf/tanh as on the CPU.
  addBufferizationPasses(pm, /*promoteToStack=*/false);
  pm.addNestedPass<func::FuncOp>(createApproximateMathPass());

  // Step 4: parallel loops -> kernels; host code -> LLVM.
  pm.addNestedPass<func::FuncOp>(createLowerCopiesPass());
  // Attention: flash-attention kernels on tensor cores.
  if (tensorCores) {
    GPUAttentionPassOptions attention;
    attention.precision = options.precision;
    pm.addNestedPass<func::FuncOp>(createGPUAttentionPass(attention));
  }
  if (!options.emulate)
    pm.addNestedPass<func::FuncOp>(createGPUNormsPass());
  // Contractions: tensor-core kernels (emulated: reductions innermost).
  GPUContractionsPassOptions contractions;
  contractions.precision = options.precision;
  contractions.tensorCores = !options.emulate;
  contractions.wgmma = options.chip == "sm_90a";
  pm.addPass(createGPUContractionsPass(contractions));
  // Row reductions: a warp per row (shuffles: not emulated on the host).
  if (!options.emulate)
    pm.addNestedPass<func::FuncOp>(createGPURowReductionsPass());
  pm.addPass(createForallToParallelLoopPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createCanonicalizerPass());
  MapParallelToGPUPassOptions map;
  map.blockSize = options.blockSize;
  pm.addNestedPass<func::FuncOp>(createMapParallelToGPUPass(map));
  // On the GPU, constants come from loomrt's device-resident copies
  // (loom-cache-gpu-constants, below); emulated, they are staged.
  StageGPUBuffersPassOptions stage;
  stage.constants = options.emulate;
  pm.addPass(createStageGPUBuffersPass(stage));
  if (options.emulate) {
    pm.addNestedPass<func::FuncOp>(createEmulateGPULaunchesPass());
  } else {
    pm.addPass(createGpuKernelOutliningPass());
    pm.addPass(createMergeGPUModulesPass());
  }
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  if (!options.emulate) {
    GpuNVVMAttachTargetOptions target;
    target.chip = options.chip;
    target.features = options.features;
    target.optLevel = options.optLevel;
    pm.addPass(createGpuNVVMAttachTarget(target));
    OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
    kernels.addPass(createConvertGpuOpsToNVVMOps());
    // NVVM ops without an LLVM intrinsic (wgmma.mma_async): inline PTX.
    kernels.addPass(createConvertNVVMToLLVMPass());
    kernels.addPass(createReconcileUnrealizedCastsPass());
  }
  // Host code: allocations through loomrt's CUDA allocator (managed
  // memory), launches through the mgpu* functions.
  addHostToLLVMPasses(pm, /*gpuLaunches=*/!options.emulate);
  if (!options.emulate)
    pm.addPass(createCacheGPUConstantsPass());
  pm.addPass(createCanonicalizerPass());
  if (options.emulate)
    return;
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = options.toolkit;
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}
