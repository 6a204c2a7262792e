//===- Pipelines.h - Loom compilation pipelines -----------------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_PIPELINES_PIPELINES_H
#define LOOM_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

#include <string>
#include <vector>

namespace loom {

/// Where the CPU pipeline stops.
enum class CPUPipelineStage {
  /// loom/linalg on tensors, after ONNX legalization.
  Loom,
  /// linalg/tensor only (loom ops lowered, elementwise ops fused).
  Linalg,
  /// The LLVM dialect, ready for translation to LLVM IR.
  LLVM,
};

/// Options of the CPU pipeline.
/// One attention layout for some attention layers (loom-attention-spans's
/// options): full attention (window and block sizes 0), a sliding window,
/// local + global blocks, or content-routed blocks.
struct AttentionSpan {
  int64_t window = 0;
  int64_t blockSize = 0, localBlocks = 1, globalBlocks = 1;
  int64_t routeBlockSize = 0, routeTop = 4;
  /// The attention ops (0-based, program order); empty: all.
  std::vector<int64_t> layers;
};

struct CPUPipelineOptions {
  /// Legalize `onnx.node` holder ops first.
  bool legalizeOnnx = true;
  /// Raise decomposed patterns of the imported graph to loom ops first
  /// (loom-raise-attention, loom-raise-norms-and-gelu, loom-raise-scans,
  /// loom-raise-mixtures, loom-raise-quantized).
  bool raise = true;
  /// The last stage to run.
  CPUPipelineStage stopAfter = CPUPipelineStage::LLVM;
  /// Run the outermost parallel loop of each loop nest on OpenMP threads
  /// (the compiled model then links libomp; OMP_NUM_THREADS picks the count).
  bool openmp = true;
  /// Tile loom.attention into the flash-attention form (loom-tile-attention);
  /// otherwise it lowers to the reference form with the full score matrix.
  bool flashAttention = true;
  /// (Set by the GPU pipeline with tensor cores.) Attention that
  /// loom-gpu-attention makes a flash-attention kernel of becomes a
  /// loomrt_attention_f32 call for it (loom-tile-attention{gpu-kernel}).
  bool gpuAttentionKernels = false;
  /// (Set by the GPU pipeline for real kernels.) Last-axis f32 layer and RMS
  /// norms (loom-norm-calls) and softmaxes (loom-to-linalg{softmax-calls})
  /// become loomrt_norm_f32 calls for loom-gpu-norms' row kernels.
  bool gpuNormKernels = false;
  /// Query rows and key rows per attention tile (512 x 512: 4-5% faster
  /// than 256 x 512 on dense attention at S = 512 and 2048, which was the
  /// fastest of 64-384 x 256-1024 before the GEMM's tiles changed).
  int64_t attentionTileQ = 512;
  int64_t attentionTileKV = 512;
  /// Query rows per tile of causal or windowed attention (0: attentionTileQ).
  int64_t attentionCausalTileQ = 128;
  /// Key ranges of a decoding step's attention, computed in parallel.
  int64_t attentionKVSplits = 4;
  /// Time steps per chunk of a linear or gated scan's chunked form (0: every
  /// scan sequential).
  int64_t scanChunk = 64;
  /// The same for delta scans (DeltaNet); 0 by default.
  int64_t scanChunkDelta = 0;
  /// Weight quantization (loom-quantize-weights mode, e.g. "int8-weight");
  /// empty: none.
  std::string quantize;
  /// int4-weight: rows of K per group, and symmetric groups.
  int64_t quantGroupSize = 32;
  bool quantSymmetric = false;
  /// How loom-quantize-weights chooses ranges: "minmax" or "mse".
  std::string quantScales = "minmax";
  /// How it rounds: "nearest" or "gptq" (with calibration Gram matrices).
  std::string quantRounding = "nearest";
  /// Columns per block of the int8 lookup tables (embeddings); 0: tables
  /// stay fp32.
  int64_t quantTableBlock = 0;
  /// Elements per block of the int8 quantize-dequantize of norm and
  /// activation inputs; 0: none.
  int64_t quantActivationBlock = 0;
  /// Where loom-quantize-weights writes its JSON report (empty: nowhere).
  std::string quantReport;
  /// Weight pruning (loom-sparsify-weights mode: "2:4" or "block"); empty:
  /// none.
  std::string sparsity;
  /// block: the block shape and the fraction of blocks pruned.
  int64_t sparsityBlockRows = 32, sparsityBlockCols = 32;
  double sparsityRatio = 0.0;
  /// Where loom-sparsify-weights writes its JSON report (empty: nowhere).
  std::string sparsityReport;
  /// Attention spans (loom-attention-spans), applied in order: each sets a
  /// layout on its layers (a later one overrides an earlier one).
  std::vector<AttentionSpan> attentionSpans;
  /// Compute fp32 contractions with loomrt's packed, register-blocked GEMM
  /// microkernel (loom-lower-to-microkernels); otherwise they become loops.
  bool microkernels = true;
};

/// Builds the CPU pipeline on a module:
///   Step 1: decomposed attention, norms, GELU, scans, experts, mixers and
///           dequantized weights -> loom ops (loom-raise-attention,
///           -norms-and-gelu, -scans, -mixtures, -quantized);
///           ONNX holder ops -> loom/linalg/tensor (loom-onnx-to-loom);
///           with `quantize`, constant weights -> loom.quantized_matmul
///           (loom-quantize-weights).
///   Step 2: loom.attention -> flash-attention tiles (loom-tile-attention);
///           loom ops -> linalg.generic; fuse elementwise ops, except
///           computations into contractions (loom-fuse-elementwise).
///   Step 3: erase integer signedness, bufferize (function boundaries,
///           identity layouts), prepare the
///           C ABI, insert deallocations; fp32 contractions -> calls to
///           loomrt's GEMM microkernel (loom-lower-to-microkernels).
///   Step 4: linalg -> (parallel) loops, the outermost parallel loop of each
///           nest -> OpenMP; math -> LLVM intrinsics and libm; memref, scf,
///           omp, func, arith -> LLVM dialect.
void buildCPUPipeline(mlir::OpPassManager &pm,
                      const CPUPipelineOptions &options);

/// Adds step 3's bufferization to `pm` (shared by the CPU and GPU
/// pipelines): erase integer signedness, turn tensor.empty ops that end up
/// inserted into a slice into that slice, bufferize (function boundaries,
/// identity layouts), prepare the C ABI (loom-prepare-abi), with
/// `promoteToStack` put small static buffers that do not escape on the
/// stack (host code only: a GPU kernel cannot read the host's stack), insert
/// deallocations.
void addBufferizationPasses(mlir::OpPassManager &pm, bool promoteToStack);

/// Adds the lowering of host code to the LLVM dialect (shared by the CPU and
/// GPU pipelines, after affine and strided metadata are lowered): memref
/// (through loomrt's allocation functions), scf, with `gpuLaunches` the
/// gpu.launch_func ops (gpu-to-llvm), bf16 arithmetic, math (intrinsics,
/// polynomials, libm), the rest; then unrealized casts are reconciled.
void addHostToLLVMPasses(mlir::OpPassManager &pm, bool gpuLaunches);

/// Options of the GPU (NVIDIA, through NVVM and PTX) pipeline.
struct GPUPipelineOptions {
  /// Steps 1 and 2, as in the CPU pipeline (raising, legalization, loom ->
  /// linalg); `stopAfter` applies to the whole pipeline. The GPU pipeline
  /// uses neither microkernels nor OpenMP; attention becomes flash-attention
  /// kernels with tensor cores (loom-gpu-attention) where the head dims
  /// allow, its reference form otherwise.
  CPUPipelineOptions front;
  /// The GPU architecture (`sm_80`, `sm_90a`, ...).
  std::string chip = "sm_80";
  /// NVPTX target features ("+ptx80"); empty: LLVM's default for the chip.
  std::string features;
  /// What the kernels become: "isa" (PTX text, JIT-compiled by the driver),
  /// "bin" (cubin, through ptxas) or "fatbin" (cubin and PTX).
  std::string format = "isa";
  /// The CUDA toolkit (ptxas, libdevice).
  std::string toolkit = "/usr/local/cuda";
  /// Threads per block of the kernels.
  int64_t blockSize = 256;
  /// The multiplicand type of contractions on tensor cores, "fp16" or
  /// "bf16" (fp32 accumulation); "fp32" keeps them in fp32 without tensor
  /// cores (loom-gpu-contractions). Emulated kernels always compute fp32.
  std::string precision = "fp16";
  /// Optimization level of the kernels' LLVM IR, 0-3.
  unsigned optLevel = 3;
  /// Run the kernels as host loops instead (loom-emulate-gpu-launches): the
  /// result is a CPU model, which checks the mapping and staging
  /// numerically where there is no GPU.
  bool emulate = false;
};

/// Builds the GPU pipeline on a module:
///   Steps 1-3 as in the CPU pipeline (without microkernels, with
///           polynomial math);
///   Step 4: attention kernel calls -> flash-attention kernels
///           (loom-gpu-attention), norm calls -> row kernels
///           (loom-gpu-norms), contractions -> tensor-core kernels
///           (loom-gpu-contractions),
///           row reductions -> warp-per-row kernels (loom-gpu-row-reductions);
///           linalg -> parallel loops; each outermost parallel loop -> a
///           gpu.launch (loom-map-parallel-to-gpu); arguments and constants
///           copied into model buffers (loom-stage-gpu-buffers); kernels
///           outlined into one gpu.module (loom-merge-gpu-modules),
///           -> NVVM; host code -> LLVM with launches through the mgpu*
///           runtime functions (runtime/src/cuda); kernels serialized to
///           PTX/cubin (gpu-module-to-binary).
void buildGPUPipeline(mlir::OpPassManager &pm,
                      const GPUPipelineOptions &options);

/// Registers `loom-cpu-pipeline` and `loom-gpu-pipeline` with the global
/// pass registry.
void registerPipelines();

} // namespace loom

#endif // LOOM_PIPELINES_PIPELINES_H
