//===- SimKernels.h - GPU kernels compiled for loomsim ----------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// `loomc --target=cuda --gpu-binary=sim`: the model's kernels, as the GPU
// pipeline leaves them for NVPTX (LLVM IR with NVVM intrinsics), compiled for
// the host instead and embedded as images that loomsim (runtime/src/cuda/
// sim.c, a CUDA driver built as libcuda.so.1) loads and runs: each thread of
// a block a fiber, barriers, shuffles and mma.sync emulated. The host code is
// that of a `--target=cuda` model, so the whole GPU path (launches, the CUDA
// backend's memory and errors) is checked numerically without a GPU.
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TARGET_GPU_SIMKERNELS_H
#define LOOM_TARGET_GPU_SIMKERNELS_H

#include "loom/Target/CPU/CPUTarget.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace llvm {
class Module;
} // namespace llvm

namespace loom {

/// The first 8 bytes of a loomsim image; the object's size (8 bytes, little
/// endian) and an x86-64 shared object follow.
inline constexpr char kSimImageMagic[] = "LOOMSIM1";

/// Rewrites `kernels` (NVPTX LLVM IR of a gpu.module) for the host: kernels
/// get the C calling convention and an entry `<kernel>__sim(void **params)`
/// that unpacks a launch's parameters; each call of an NVVM intrinsic
/// `llvm.nvvm.X.Y` calls `__loomsim_X_Y` instead (with the intrinsic's
/// signature when every type is i32, i64, float, double or a pointer, else
/// as `void (ptr result, ptr operands)` with the operands in an LLVM struct
/// of the parameter types); the inline PTX of `wgmma.mma_async` calls
/// `__loomsim_wgmma_mma_async`; shared-memory globals move to the default
/// address space, into one window `__loomsim_shared` where the kernels'
/// globals overlap (blocks run one at a time; wgmma's descriptors address
/// into it); NVPTX attributes and metadata are dropped. Fails on what the
/// simulator cannot run (a kernel parameter passed by value in memory, other
/// inline assembly).
mlir::LogicalResult prepareKernelsForSimulator(llvm::Module &kernels,
                                               std::string &errorMessage);

/// Replaces every object of each `gpu.binary` in `module` (LLVM bitcode from
/// gpu-module-to-binary's `llvm` format) with a loomsim image: the prepared
/// kernels optimized for the host (`options`), linked into a shared object.
mlir::LogicalResult buildSimulatorImages(mlir::ModuleOp module,
                                         const CPUTargetOptions &options,
                                         std::string &errorMessage);

/// Moves every fixed-size alloca of `host` (a GPU model's host code) into
/// its function's entry block. gpu-to-llvm puts each launch's parameter
/// array where the launch is: inside a host loop (a scan's steps) the stack
/// grew by that array on every iteration until it overflowed.
void hoistStaticAllocas(llvm::Module &host);

} // namespace loom

#endif // LOOM_TARGET_GPU_SIMKERNELS_H
