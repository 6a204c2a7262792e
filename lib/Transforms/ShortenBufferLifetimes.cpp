//===- ShortenBufferLifetimes.cpp - Free buffers after their last use ----===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// MLIR's ownership-based deallocation frees a buffer at the end of the block
// that owns it. A model's function is one block, so every intermediate
// buffer stayed allocated until the model returned: BERT-512 held 33 MiB of
// intermediates at once, and the runtime's allocation cache could hand no
// freed block to a later layer. This pass moves each unconditional
// `memref.dealloc` up to right after the last operation of its block that
// uses the buffer, through any alias: views and casts of it, and values
// computed from its address (`memref.extract_aligned_pointer_as_index`, the
// integers the microkernel calls take). It is for synchronous code (the CPU
// pipeline): a call that kept a pointer to run on later would be freed under.
//
//===----------------------------------------------------------------------===//

#include "loom/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/SetVector.h"

namespace loom {
#define GEN_PASS_DEF_SHORTENBUFFERLIFETIMESPASS
#include "loom/Transforms/Passes.h.inc"
} // namespace loom

#define DEBUG_TYPE "loom-shorten-buffer-lifetimes"

using namespace mlir;

/// The results of `user` (which uses `value`) that may carry `value`'s
/// address on: none for ops that only read sizes or elements, the base
/// buffer of `extract_strided_metadata`, and conservatively every result of
/// any other op (views, casts, address arithmetic, region ops).
static SmallVector<Value> aliasingResults(Operation *user, Value value) {
  if (isa<memref::DimOp, memref::RankOp, memref::LoadOp, memref::StoreOp>(
          user))
    return {};
  if (auto md = dyn_cast<memref::ExtractStridedMetadataOp>(user))
    return {md.getBaseBuffer()};
  return SmallVector<Value>(user->getResults());
}

/// The `memref.alloc` result that `value` is a view of (through view-like
/// ops and `extract_strided_metadata`'s base buffer), or null.
static Value rootAllocation(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (isa<memref::AllocOp>(def))
      return value;
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      value = view.getViewSource();
    else if (auto md = dyn_cast<memref::ExtractStridedMetadataOp>(def))
      value = md.getSource();
    else
      return {};
  }
  return {};
}

/// The point after which nothing in `block` uses `buffer` any more: the last
/// op of `block` that is or contains a use of `buffer` or of a value that
/// may alias it (other than `dealloc`), or the op defining `buffer` when
/// there is none. Null when that cannot be told: an alias is used outside
/// `block`, forwarded by a terminator out of `block`, used after `dealloc`,
/// or a value computed from its address is stored to memory or handed to an
/// op other than a call or one that computes a result from it (MoE's table
/// of expert addresses: the call that reads the table is no user of the
/// address in SSA).
static Operation *lastUse(Value buffer, memref::DeallocOp dealloc) {
  Block *block = dealloc->getBlock();
  Operation *last = buffer.getDefiningOp();
  if (!last || last->getBlock() != block)
    return nullptr;
  llvm::SetVector<Value> aliases;
  aliases.insert(buffer);
  for (size_t i = 0; i < aliases.size(); ++i) {
    Value value = aliases[i];
    for (Operation *user : value.getUsers()) {
      if (user == dealloc.getOperation())
        continue;
      Operation *ancestor = block->findAncestorOpInBlock(*user);
      if (!ancestor ||
          (ancestor == user && user->hasTrait<OpTrait::IsTerminator>()))
        return nullptr;
      if (dealloc->isBeforeInBlock(ancestor))
        return nullptr;
      if (!isa<BaseMemRefType>(value.getType()) && user->getNumResults() == 0 &&
          !isa<CallOpInterface>(user) &&
          !user->hasTrait<OpTrait::IsTerminator>())
        return nullptr;
      if (last->isBeforeInBlock(ancestor))
        last = ancestor;
      // A terminator inside a region forwards the value to its parent op's
      // results (scf.yield) or elsewhere: its ancestor in `block` and all
      // of that op's results alias.
      if (user->hasTrait<OpTrait::IsTerminator>()) {
        for (Value result : ancestor->getResults())
          aliases.insert(result);
        continue;
      }
      for (Value result : aliasingResults(user, value))
        aliases.insert(result);
    }
  }
  return last;
}

namespace {
struct ShortenBufferLifetimesPass final
    : public loom::impl::ShortenBufferLifetimesPassBase<
          ShortenBufferLifetimesPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<memref::DeallocOp> deallocs;
    getOperation()->walk(
        [&](memref::DeallocOp dealloc) { deallocs.push_back(dealloc); });
    for (memref::DeallocOp dealloc : deallocs) {
      Value root = rootAllocation(dealloc.getMemref());
      if (!root)
        continue;
      Operation *last = lastUse(root, dealloc);
      if (last && last->getNextNode() != dealloc.getOperation())
        dealloc->moveAfter(last);
    }
  }
};
} // namespace
