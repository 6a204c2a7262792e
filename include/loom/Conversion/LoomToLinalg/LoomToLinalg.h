//===- LoomToLinalg.h - Lower loom ops to linalg ----------------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_CONVERSION_LOOMTOLINALG_LOOMTOLINALG_H
#define LOOM_CONVERSION_LOOMTOLINALG_LOOMTOLINALG_H

#include "loom/Dialect/Loom/IR/LoomOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace loom {

/// Fast-math flags of the accumulations of contractions and reductions
/// (attention, norms): reassociation lets LLVM vectorize them.
inline constexpr mlir::arith::FastMathFlags kReassoc =
    mlir::arith::FastMathFlags::reassoc | mlir::arith::FastMathFlags::contract;

/// Fast-math flag of the products feeding those accumulations: with it on
/// both the product and the sum, LLVM fuses them into one FMA.
inline constexpr mlir::arith::FastMathFlags kContract =
    mlir::arith::FastMathFlags::contract;

/// The body of a contraction: a[2] + a[0] * a[1], contracted into an FMA.
inline mlir::Value multiplyAccumulate(mlir::OpBuilder &b, mlir::Location loc,
                                      mlir::ValueRange a) {
  mlir::Value p = mlir::arith::MulFOp::create(b, loc, a[0], a[1], kContract);
  return mlir::arith::AddFOp::create(b, loc, a[2], p, kReassoc);
}

/// multiplyAccumulate as a linalg.generic body builder (it yields).
inline void yieldMultiplyAccumulate(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::ValueRange a) {
  mlir::linalg::YieldOp::create(b, loc, multiplyAccumulate(b, loc, a));
}

#define GEN_PASS_DECL_LOOMTOLINALGPASS
#define GEN_PASS_DECL_TILEATTENTIONPASS
#define GEN_PASS_DECL_NORMCALLSPASS
#include "loom/Conversion/Passes.h.inc"

/// Time steps per chunk of a linear or gated scan's chunked form, by default.
inline constexpr int64_t kDefaultScanChunk = 64;
/// The same for delta scans: 0, sequential. DeltaNet's chunked form does ~3x
/// the sequential form's FLOPs (the Gram matrix, a forward substitution, the
/// pseudo values); on an AVX2 CPU at head dim 64 it measured 1.4x slower.
inline constexpr int64_t kDefaultDeltaScanChunk = 0;

/// Adds the patterns lowering loom ops, and decomposing aggregated linalg ops,
/// to linalg.generic on tensors; the chunks as for
/// populateScanLoweringPatterns.
void populateLoomToLinalgPatterns(
    mlir::RewritePatternSet &patterns, int64_t scanChunk = kDefaultScanChunk,
    int64_t deltaScanChunk = kDefaultDeltaScanChunk);

/// Adds the pattern turning an f32 linalg.softmax over the last axis into a
/// call of the GPU's row kernel, loomrt_norm_f32 with kind 2 (softmax;
/// no scale, bias or epsilon), which loom-gpu-norms expands; it takes
/// precedence over decomposing the softmax.
void populateSoftmaxCallPatterns(mlir::RewritePatternSet &patterns);

/// Adds the pattern lowering loom.scan: an scf.forall over the independent
/// recurrences around an scf.for over time (the sequential form), or, for
/// linear and gated scans longer than `chunk` steps (delta scans longer than
/// `deltaChunk` steps), over chunks of that many steps whose work is dense
/// products (the chunked-parallel form); a chunk of 0 keeps those scans
/// sequential.
void populateScanLoweringPatterns(mlir::RewritePatternSet &patterns,
                                  int64_t chunk = kDefaultScanChunk,
                                  int64_t deltaChunk = kDefaultDeltaScanChunk);

/// Adds the pattern lowering loom.quantized_matmul to a call of the
/// runtime's int8-weight kernel (loomrt_qgemm_w8_f32).
void populateQuantizedLoweringPatterns(mlir::RewritePatternSet &patterns);

/// Adds the pattern lowering loom.sparse_matmul with constant weights to a
/// call of the runtime's block-sparse or 2:4 kernel (loomrt_bsgemm_f32,
/// loomrt_sgemm24_f32), the weights packed at compile time.
void populateSparseLoweringPatterns(mlir::RewritePatternSet &patterns);

/// Adds the pattern lowering loom.moe to a call of the runtime's routed
/// mixture-of-experts kernel (loomrt_moe_ffn_f32).
void populateMoeLoweringPatterns(mlir::RewritePatternSet &patterns);

} // namespace loom

#endif // LOOM_CONVERSION_LOOMTOLINALG_LOOMTOLINALG_H
