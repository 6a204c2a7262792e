//===- PadRowStrides.cpp - GEMM buffer rows away from L1 set conflicts ---===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The GEMM microkernel's 12 x 32 tile reads twelve rows of A in place and
// writes twelve rows of C. Where a row is a multiple of 2 KiB long (3072 or
// 1536 floats: a transformer's FFN hidden layer), those rows fall into one
// or two sets of the 4 KiB-per-way L1, evicting each other and the B panel
// at every step; the runtime then copies A to a padded stride first (~2% of
// the product) and C's stores conflict in the same way. This pass allocates
// such intermediate buffers 16 elements (one cache line) wider and hands
// their users the original shape as a strided view, so that the rows of a
// tile spread over the sets and the copy is not needed.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Microkernels.h"
#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace loom {
#define GEN_PASS_DEF_PADROWSTRIDESPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-pad-row-strides"

using namespace mlir;

/// Row lengths that are multiples of this many bytes map a tile's rows to
/// at most two L1 sets (64-byte lines, 4 KiB per way).
static constexpr int64_t kConflictBytes = 2048;
/// The padding: one 64-byte line of f32.
static constexpr int64_t kPadElements = 16;

/// Whether `alloc` is an intermediate f32 buffer with conflicting rows that
/// only linalg ops (at least one of them a contraction the microkernels
/// take) and deallocations use.
static bool shouldPad(memref::AllocOp alloc) {
  MemRefType type = alloc.getType();
  if (type.getRank() < 2 || !type.getLayout().isIdentity() ||
      type.getMemorySpace() || !type.getElementType().isF32())
    return false;
  int64_t row = type.getShape().back();
  if (ShapedType::isDynamic(row) || row * 4 % kConflictBytes != 0)
    return false;
  bool contraction = false;
  for (Operation *user : alloc->getUsers()) {
    if (isa<memref::DeallocOp>(user))
      continue;
    auto linalgOp = dyn_cast<linalg::LinalgOp>(user);
    if (!linalgOp || !linalgOp.hasPureBufferSemantics())
      return false;
    if (auto generic = dyn_cast<linalg::GenericOp>(user))
      contraction |= loom::matchMicrokernelMatmul(generic).has_value();
  }
  return contraction;
}

/// Replaces `alloc` by one `kPadElements` wider in its last dimension and a
/// view of the original shape, which its linalg users take instead.
static void pad(memref::AllocOp alloc) {
  MemRefType type = alloc.getType();
  SmallVector<int64_t> shape(type.getShape());
  shape.back() += kPadElements;
  OpBuilder b(alloc);
  Location loc = alloc.getLoc();
  auto wide = memref::AllocOp::create(
      b, loc, MemRefType::get(shape, type.getElementType()),
      alloc.getDynamicSizes(), alloc.getSymbolOperands(),
      alloc.getAlignmentAttr());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  SmallVector<OpFoldResult> sizes = alloc.getMixedSizes();
  auto view = memref::SubViewOp::create(b, loc, wide, offsets, sizes, strides);
  for (OpOperand &use : llvm::make_early_inc_range(alloc->getUses()))
    use.set(isa<memref::DeallocOp>(use.getOwner()) ? wide.getResult()
                                                   : view.getResult());
  alloc.erase();
}

namespace {
struct PadRowStridesPass final
    : public loom::impl::PadRowStridesPassBase<PadRowStridesPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<memref::AllocOp> allocs;
    getOperation()->walk([&](memref::AllocOp alloc) {
      if (shouldPad(alloc))
        allocs.push_back(alloc);
    });
    for (memref::AllocOp alloc : allocs)
      pad(alloc);
  }
};
} // namespace
