//===- SimKernelsTest.cpp - Kernels rewritten for loomsim -----------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// loom::prepareKernelsForSimulator on hand-written NVPTX LLVM IR: the inline
// PTX of wgmma.mma_async (as MLIR's convert-nvvm-to-llvm writes it) becomes
// a call of loomsim's __loomsim_wgmma_mma_async, other inline assembly is
// refused with the kernel named, and the kernels' shared-memory globals
// share one window in which different kernels' globals overlap.
//
//===----------------------------------------------------------------------===//

#include "loom/Target/GPU/SimKernels.h"

#include "llvm/AsmParser/Parser.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

/// The NVPTX module of `ir`, asserting that it parses.
std::unique_ptr<llvm::Module> parse(llvm::LLVMContext &context,
                                    const std::string &ir) {
  llvm::SMDiagnostic error;
  std::unique_ptr<llvm::Module> module =
      llvm::parseAssemblyString(ir, error, context);
  EXPECT_TRUE(module) << error.getMessage().str();
  return module;
}

/// The NVPTX module of `ir` after loom::prepareKernelsForSimulator, or null
/// (with the failure reported) where it does not parse or is refused.
std::unique_ptr<llvm::Module> prepared(llvm::LLVMContext &context,
                                       const std::string &ir) {
  std::unique_ptr<llvm::Module> module = parse(context, ir);
  if (!module)
    return nullptr;
  std::string error;
  if (failed(loom::prepareKernelsForSimulator(*module, error))) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  return module;
}

/// wgmma m64n8k16 (4 accumulators) as convert-nvvm-to-llvm writes it.
const char *kWgmmaKernel = R"(
target triple = "nvptx64-nvidia-cuda"
define ptx_kernel void @k(ptr %out, i64 %da, i64 %db) {
  %r = call { float, float, float, float } asm sideeffect "{\0A.reg .pred p;\0Asetp.ne.b32 p, $10, 0;\0Awgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {$0, $1, $2, $3}, $8, $9, p, $11,  $12, $13,  $14;\0A}\0A", "=f,=f,=f,=f,0,1,2,3,l,l,n,n,n,n,n"(float 0.0, float 1.0, float 2.0, float 3.0, i64 %da, i64 %db, i32 1, i32 1, i32 -1, i32 0, i32 0)
  %x = extractvalue { float, float, float, float } %r, 3
  store float %x, ptr %out
  ret void
}
)";

TEST(SimKernelsTest, WgmmaBecomesACall) {
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = prepared(context, kWgmmaKernel);
  ASSERT_TRUE(module);
  llvm::Function *sim = module->getFunction("__loomsim_wgmma_mma_async");
  ASSERT_NE(sim, nullptr);
  ASSERT_EQ(sim->getNumUses(), 1u);
  auto *call = llvm::cast<llvm::CallInst>(*sim->user_begin());
  ASSERT_EQ(call->arg_size(), 11u);
  // Descriptors, scale-d, scale-a, scale-b, trans-a, trans-b, N, bf16.
  llvm::Function *kernel = call->getFunction();
  EXPECT_EQ(call->getArgOperand(2), kernel->getArg(1));
  EXPECT_EQ(call->getArgOperand(3), kernel->getArg(2));
  int64_t expected[] = {1, 1, -1, 0, 0, 8, 1};
  for (int i = 0; i < 7; ++i) {
    auto *c = llvm::dyn_cast<llvm::ConstantInt>(call->getArgOperand(4 + i));
    ASSERT_NE(c, nullptr) << "operand " << 4 + i;
    EXPECT_EQ(c->getSExtValue(), expected[i]) << "operand " << 4 + i;
  }
  // No inline assembly is left.
  for (llvm::Function &f : *module)
    for (llvm::BasicBlock &block : f)
      for (llvm::Instruction &inst : block)
        if (auto *other = llvm::dyn_cast<llvm::CallInst>(&inst))
          EXPECT_FALSE(other->isInlineAsm());
}

TEST(SimKernelsTest, OtherInlineAssemblyIsRefused) {
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = parse(context, R"(
target triple = "nvptx64-nvidia-cuda"
define ptx_kernel void @clocked(ptr %out) {
  %c = call i32 asm sideeffect "mov.u32 $0, %clock;", "=r"()
  store i32 %c, ptr %out
  ret void
}
)");
  ASSERT_TRUE(module);
  std::string error;
  EXPECT_TRUE(failed(loom::prepareKernelsForSimulator(*module, error)));
  EXPECT_EQ(error, "kernel 'clocked' contains inline PTX that loomsim does "
                   "not run: 'mov.u32 $0, %clock;'");

  // A wgmma whose operands are not the accumulators, descriptors and five
  // scalars.
  std::string shortened = kWgmmaKernel;
  shortened.replace(shortened.find(", i32 0, i32 0)"), 15, ")");
  shortened.replace(shortened.find(",n,n,n,n,n\""), 11, ",n,n,n\"");
  module = parse(context, shortened);
  ASSERT_TRUE(module);
  EXPECT_TRUE(failed(loom::prepareKernelsForSimulator(*module, error)));
  EXPECT_NE(error.find("kernel 'k' contains inline PTX that loomsim does not "
                       "run: '{ .reg .pred p;"),
            std::string::npos)
      << error;
}

TEST(SimKernelsTest, KernelsShareOneSharedWindow) {
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = prepared(context, R"(
target triple = "nvptx64-nvidia-cuda"
@both = internal addrspace(3) global [100 x i8] undef, align 4
@a = internal addrspace(3) global [1024 x i8] undef, align 16
@b1 = internal addrspace(3) global [64 x float] undef, align 16
@b2 = internal addrspace(3) global [8 x i16] undef, align 128
define ptx_kernel void @ka() {
  store i8 1, ptr addrspace(3) @both
  store i8 2, ptr addrspace(3) @a
  ret void
}
define ptx_kernel void @kb() {
  store i8 3, ptr addrspace(3) @both
  store float 4.0, ptr addrspace(3) @b1
  store i16 5, ptr addrspace(3) @b2
  ret void
}
)");
  ASSERT_TRUE(module);
  llvm::GlobalVariable *window = module->getGlobalVariable("__loomsim_shared");
  ASSERT_NE(window, nullptr);
  EXPECT_EQ(window->getAddressSpace(), 0u);
  EXPECT_GE(window->getAlign().valueOrOne().value(), 128u);
  // @both at 0 (100 bytes); from 112 (aligned to 16), each kernel's own:
  // @a 112-1136; @b1 112-368, @b2 at 384 (aligned to 128), to 400. The
  // window is as large as the larger kernel's part.
  auto *type = llvm::dyn_cast<llvm::ArrayType>(window->getValueType());
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->getNumElements(), 1136u);
  llvm::GlobalVariable *size =
      module->getGlobalVariable("__loomsim_shared_size");
  ASSERT_NE(size, nullptr);
  EXPECT_EQ(
      llvm::cast<llvm::ConstantInt>(size->getInitializer())->getZExtValue(),
      1136u);
  // The stores' addresses, as offsets into the window.
  auto offsets = [&](const char *name) {
    std::vector<int64_t> result;
    for (llvm::BasicBlock &block : *module->getFunction(name))
      for (llvm::Instruction &inst : block)
        if (auto *store = llvm::dyn_cast<llvm::StoreInst>(&inst)) {
          llvm::APInt offset(64, 0);
          const llvm::Value *base =
              store->getPointerOperand()->stripAndAccumulateConstantOffsets(
                  module->getDataLayout(), offset,
                  /*AllowNonInbounds=*/true);
          EXPECT_EQ(base, window);
          result.push_back(offset.getSExtValue());
        }
    return result;
  };
  EXPECT_EQ(offsets("ka"), (std::vector<int64_t>{0, 112}));
  EXPECT_EQ(offsets("kb"), (std::vector<int64_t>{0, 112, 384}));
  for (const char *name : {"both", "a", "b1", "b2"})
    EXPECT_EQ(module->getGlobalVariable(name, /*AllowInternal=*/true), nullptr)
        << name;
}

} // namespace
