//===- SimKernels.cpp - GPU kernels compiled for loomsim ------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Target/GPU/SimKernels.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Regex.h"

using namespace mlir;

/// Whether loomsim's C functions take and return `type` as the intrinsic
/// does (the x86-64 C ABI and LLVM's agree on these).
static bool isScalarABI(llvm::Type *type) {
  return type->isIntegerTy(32) || type->isIntegerTy(64) || type->isFloatTy() ||
         type->isDoubleTy() || type->isPointerTy();
}

/// Replaces each call of the NVVM intrinsic `intrinsic` with a call of
/// loomsim's `__loomsim_<name>`.
static void replaceIntrinsic(llvm::Function &intrinsic) {
  llvm::Module &module = *intrinsic.getParent();
  llvm::LLVMContext &context = module.getContext();
  // Overloaded intrinsics end in their pointer types' mangling (".p3"):
  // loomsim's functions take any pointer.
  StringRef base = intrinsic.getName().drop_front(strlen("llvm.nvvm."));
  while (true) {
    size_t dot = base.rfind('.');
    StringRef last = dot == StringRef::npos ? "" : base.substr(dot + 1);
    if (last.size() < 2 || last[0] != 'p' ||
        !llvm::all_of(last.drop_front(),
                      [](char c) { return llvm::isDigit(c); }))
      break;
    base = base.take_front(dot);
  }
  std::string name = "__loomsim_" + base.str();
  std::replace(name.begin(), name.end(), '.', '_');
  llvm::FunctionType *type = intrinsic.getFunctionType();
  bool scalar = (type->getReturnType()->isVoidTy() ||
                 isScalarABI(type->getReturnType())) &&
                llvm::all_of(type->params(), isScalarABI) && !type->isVarArg();
  auto *ptr = llvm::PointerType::getUnqual(context);
  llvm::FunctionType *simType =
      scalar ? type
             : llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                       {ptr, ptr}, false);
  llvm::FunctionCallee sim = module.getOrInsertFunction(name, simType);
  auto *operands = llvm::StructType::get(context, type->params());
  for (llvm::User *user : llvm::make_early_inc_range(intrinsic.users())) {
    auto *call = cast<llvm::CallInst>(user);
    llvm::IRBuilder<> b(call);
    SmallVector<llvm::Value *> args(call->args());
    llvm::Value *result;
    if (scalar) {
      result = b.CreateCall(sim, args);
    } else {
      // Operands and result in memory (allocas at the function's entry).
      llvm::IRBuilder<> entry(
          &*call->getFunction()->getEntryBlock().getFirstInsertionPt());
      llvm::Value *in = entry.CreateAlloca(operands);
      llvm::Type *resultType = type->getReturnType();
      llvm::Value *out =
          resultType->isVoidTy()
              ? llvm::ConstantPointerNull::get(ptr)
              : static_cast<llvm::Value *>(entry.CreateAlloca(resultType));
      for (auto [i, arg] : llvm::enumerate(args))
        b.CreateStore(arg, b.CreateStructGEP(operands, in, i));
      b.CreateCall(sim, {out, in});
      result = resultType->isVoidTy() ? nullptr : b.CreateLoad(resultType, out);
    }
    if (result)
      call->replaceAllUsesWith(result);
    call->eraseFromParent();
  }
  intrinsic.eraseFromParent();
}

/// Replaces the inline PTX of each `wgmma.mma_async` (as MLIR's
/// convert-nvvm-to-llvm writes it for nvvm.wgmma.mma_async: the N / 2 f32
/// accumulators, tied to the results, descriptors A and B, scale-d and the
/// immediates scale-a, scale-b, trans-a, trans-b) with a call of
/// `__loomsim_wgmma_mma_async(ptr result, ptr accumulators, i64 descA,
/// i64 descB, i32 scaleD, i32 scaleA, i32 scaleB, i32 transA, i32 transB,
/// i32 n, i32 bf16)`. Fails on any other inline assembly.
static LogicalResult replaceInlineAsm(llvm::Function &f,
                                      std::string &errorMessage) {
  llvm::LLVMContext &context = f.getContext();
  llvm::Regex wgmma("wgmma\\.mma_async\\.sync\\.aligned\\.m64n([0-9]+)k16\\."
                    "f32\\.(f16|bf16)\\.(f16|bf16)[ \t]");
  auto *ptr = llvm::PointerType::getUnqual(context);
  auto *i32 = llvm::Type::getInt32Ty(context);
  auto *i64 = llvm::Type::getInt64Ty(context);
  for (llvm::BasicBlock &block : f)
    for (llvm::Instruction &inst : llvm::make_early_inc_range(block)) {
      auto *call = dyn_cast<llvm::CallInst>(&inst);
      if (!call || !call->isInlineAsm())
        continue;
      StringRef text =
          cast<llvm::InlineAsm>(call->getCalledOperand())->getAsmString();
      SmallVector<StringRef> match;
      unsigned n = 0;
      auto *resultType = dyn_cast<llvm::StructType>(call->getType());
      if (!wgmma.match(text, &match) || match[2] != match[3] ||
          match[1].getAsInteger(10, n) || n == 0 || n % 8 != 0 || n > 256 ||
          call->arg_size() != n / 2 + 7 || !resultType ||
          resultType->getNumElements() != n / 2 ||
          !llvm::all_of(resultType->elements(),
                        [](llvm::Type *t) { return t->isFloatTy(); })) {
        // The text on one line, shortened.
        std::string shown;
        for (char c : text.take_front(80))
          shown.push_back(c == '\n' || c == '\t' ? ' ' : c);
        errorMessage = "kernel '" + f.getName().str() +
                       "' contains inline PTX that loomsim does not run: '" +
                       shown + (text.size() > 80 ? "...'" : "'");
        return failure();
      }
      llvm::IRBuilder<> b(call);
      llvm::IRBuilder<> entry(&*f.getEntryBlock().getFirstInsertionPt());
      auto *accType = llvm::ArrayType::get(b.getFloatTy(), n / 2);
      llvm::Value *acc = entry.CreateAlloca(accType);
      llvm::Value *out = entry.CreateAlloca(resultType);
      for (unsigned i = 0; i < n / 2; ++i)
        b.CreateStore(call->getArgOperand(i),
                      b.CreateConstGEP2_32(accType, acc, 0, i));
      SmallVector<llvm::Value *> args = {out, acc};
      for (unsigned i = n / 2; i < n / 2 + 7; ++i)
        args.push_back(b.CreateZExtOrTrunc(call->getArgOperand(i),
                                           i < n / 2 + 2 ? i64 : i32));
      args.push_back(b.getInt32(n));
      args.push_back(b.getInt32(match[2] == "bf16"));
      llvm::FunctionCallee sim = f.getParent()->getOrInsertFunction(
          "__loomsim_wgmma_mma_async",
          llvm::FunctionType::get(
              b.getVoidTy(),
              {ptr, ptr, i64, i64, i32, i32, i32, i32, i32, i32, i32}, false));
      b.CreateCall(sim, args);
      call->replaceAllUsesWith(b.CreateLoad(resultType, out));
      call->eraseFromParent();
    }
  return success();
}

/// The one function whose instructions use `value` (through constant
/// expressions too), or null when none or several do.
static llvm::Function *soleUser(llvm::Value *value) {
  llvm::Function *user = nullptr;
  SmallVector<llvm::User *> work(value->users());
  while (!work.empty()) {
    llvm::User *next = work.pop_back_val();
    if (auto *inst = dyn_cast<llvm::Instruction>(next)) {
      if (user && user != inst->getFunction())
        return nullptr;
      user = inst->getFunction();
    } else {
      llvm::append_range(work, next->users());
    }
  }
  return user;
}

/// Moves the shared-memory globals without initial data into one exported
/// array, `__loomsim_shared` (its size in `__loomsim_shared_size`, i64),
/// each at its alignment (at least 16 bytes): loomsim finds where a wgmma
/// matrix descriptor's 18-bit shared-memory address points from the array's
/// address. As on a GPU, where each block has its own shared memory, the
/// globals of different kernels share the same bytes (blocks run one at a
/// time): those one function uses are placed from the same offset, after
/// the ones several functions use; the window is as large as one kernel's
/// shared memory, under the 18 bits a descriptor addresses.
static void placeSharedWindow(llvm::Module &kernels) {
  llvm::LLVMContext &context = kernels.getContext();
  const llvm::DataLayout &layout = kernels.getDataLayout();
  // The shared globals by the function that uses them (null: several).
  llvm::MapVector<llvm::Function *, SmallVector<llvm::GlobalVariable *>> byUser;
  for (llvm::GlobalVariable &global : kernels.globals())
    if (global.getAddressSpace() == 3 &&
        (!global.hasInitializer() ||
         isa<llvm::UndefValue>(global.getInitializer()) ||
         global.getInitializer()->isNullValue()))
      byUser[soleUser(&global)].push_back(&global);
  if (byUser.empty())
    return;
  SmallVector<std::pair<llvm::GlobalVariable *, uint64_t>> placed;
  llvm::Align most(16);
  auto place = [&](ArrayRef<llvm::GlobalVariable *> globals, uint64_t from) {
    uint64_t end = from;
    for (llvm::GlobalVariable *global : globals) {
      llvm::Align align =
          std::max(llvm::Align(16), global->getAlign().valueOrOne());
      most = std::max(most, align);
      end = llvm::alignTo(end, align);
      placed.push_back({global, end});
      end += layout.getTypeAllocSize(global->getValueType());
    }
    return end;
  };
  uint64_t common = 0;
  if (auto it = byUser.find(nullptr); it != byUser.end())
    common = place(it->second, 0);
  uint64_t size = common;
  for (auto &[user, globals] : byUser)
    if (user)
      size = std::max(size, place(globals, common));
  auto *type = llvm::ArrayType::get(llvm::Type::getInt8Ty(context), size);
  auto *window = new llvm::GlobalVariable(
      kernels, type, /*isConstant=*/false, llvm::GlobalValue::ExternalLinkage,
      llvm::Constant::getNullValue(type), "__loomsim_shared");
  window->setAlignment(most);
  new llvm::GlobalVariable(
      kernels, llvm::Type::getInt64Ty(context), /*isConstant=*/true,
      llvm::GlobalValue::ExternalLinkage,
      llvm::ConstantInt::get(llvm::Type::getInt64Ty(context), size),
      "__loomsim_shared_size");
  for (auto [global, offset] : placed) {
    llvm::Constant *at = llvm::ConstantExpr::getInBoundsGetElementPtr(
        llvm::Type::getInt8Ty(context), window,
        llvm::ConstantInt::get(llvm::Type::getInt64Ty(context), offset));
    global->replaceAllUsesWith(
        llvm::ConstantExpr::getAddrSpaceCast(at, global->getType()));
    global->eraseFromParent();
  }
}

/// Adds `void <kernel>__sim(ptr params)`: loads parameter i through
/// params[i] (what cuLaunchKernel receives) and calls the kernel.
static void addEntry(llvm::Function &kernel) {
  llvm::Module &module = *kernel.getParent();
  llvm::LLVMContext &context = module.getContext();
  auto *ptr = llvm::PointerType::getUnqual(context);
  auto *type =
      llvm::FunctionType::get(llvm::Type::getVoidTy(context), {ptr}, false);
  auto *entry = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage,
                                       kernel.getName() + "__sim", module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", entry));
  SmallVector<llvm::Value *> args;
  for (llvm::Argument &param : kernel.args()) {
    llvm::Value *slot = b.CreateLoad(
        ptr, b.CreateConstGEP1_64(ptr, entry->getArg(0), param.getArgNo()));
    args.push_back(b.CreateLoad(param.getType(), slot));
  }
  b.CreateCall(&kernel, args);
  b.CreateRetVoid();
}

LogicalResult loom::prepareKernelsForSimulator(llvm::Module &kernels,
                                               std::string &errorMessage) {
  // Kernels: the PTX kernel calling convention, or nvvm.annotations.
  llvm::SmallSetVector<llvm::Function *, 8> entries;
  for (llvm::Function &f : kernels)
    if (f.getCallingConv() == llvm::CallingConv::PTX_Kernel)
      entries.insert(&f);
  if (llvm::NamedMDNode *annotations =
          kernels.getNamedMetadata("nvvm.annotations")) {
    for (llvm::MDNode *node : annotations->operands()) {
      if (node->getNumOperands() < 3)
        continue;
      auto *kind = dyn_cast<llvm::MDString>(node->getOperand(1));
      auto *value = llvm::mdconst::dyn_extract_or_null<llvm::Function>(
          node->getOperand(0));
      if (kind && value && kind->getString() == "kernel")
        entries.insert(value);
    }
    annotations->eraseFromParent();
  }
  for (llvm::Function *kernel : entries)
    for (llvm::Argument &param : kernel->args())
      if (param.hasByValAttr()) {
        errorMessage = "kernel '" + kernel->getName().str() +
                       "' takes a parameter by value in memory, which the "
                       "simulator does not pass";
        return failure();
      }

  for (llvm::Function &f : llvm::make_early_inc_range(kernels)) {
    if (f.isDeclaration() && f.getName().starts_with("llvm.nvvm.")) {
      replaceIntrinsic(f);
      continue;
    }
    if (failed(replaceInlineAsm(f, errorMessage)))
      return failure();
    f.setCallingConv(llvm::CallingConv::C);
    f.removeFnAttr("target-cpu");
    f.removeFnAttr("target-features");
    f.removeFnAttr("tune-cpu");
  }
  for (llvm::Function *kernel : entries) {
    kernel->setLinkage(llvm::GlobalValue::InternalLinkage);
    addEntry(*kernel);
  }

  // Shared memory: one window (wgmma's descriptors address into it); any
  // other non-generic memory: host globals.
  placeSharedWindow(kernels);
  for (llvm::GlobalVariable &global :
       llvm::make_early_inc_range(kernels.globals())) {
    if (global.getAddressSpace() == 0)
      continue;
    llvm::Type *valueType = global.getValueType();
    llvm::Constant *init =
        global.hasInitializer() &&
                !isa<llvm::UndefValue>(global.getInitializer())
            ? global.getInitializer()
            : llvm::Constant::getNullValue(valueType);
    auto *host = new llvm::GlobalVariable(
        kernels, valueType, global.isConstant(),
        llvm::GlobalValue::InternalLinkage, init, global.getName() + ".host",
        nullptr, llvm::GlobalValue::NotThreadLocal, /*AddressSpace=*/0);
    host->setAlignment(global.getAlign());
    global.replaceAllUsesWith(
        llvm::ConstantExpr::getAddrSpaceCast(host, global.getType()));
    host->takeName(&global);
    global.eraseFromParent();
  }
  for (StringRef name : {"nvvmir.version", "nvvm.internalize.after.link"})
    if (llvm::NamedMDNode *node = kernels.getNamedMetadata(name))
      node->eraseFromParent();
  return success();
}

LogicalResult loom::buildSimulatorImages(ModuleOp module,
                                         const CPUTargetOptions &options,
                                         std::string &errorMessage) {
  for (gpu::BinaryOp binary : module.getOps<gpu::BinaryOp>()) {
    SmallVector<Attribute> images;
    for (Attribute attr : binary.getObjects()) {
      auto object = cast<gpu::ObjectAttr>(attr);
      llvm::LLVMContext context;
      std::unique_ptr<llvm::MemoryBuffer> buffer =
          llvm::MemoryBuffer::getMemBuffer(object.getObject().getValue(),
                                           "kernels",
                                           /*RequiresNullTerminator=*/false);
      llvm::Expected<std::unique_ptr<llvm::Module>> kernels =
          llvm::parseBitcodeFile(*buffer, context);
      if (!kernels) {
        errorMessage =
            "the kernels of '" + binary.getName().str() +
            "' are not LLVM bitcode: " + llvm::toString(kernels.takeError());
        return failure();
      }
      if (failed(prepareKernelsForSimulator(**kernels, errorMessage)))
        return failure();
      SmallString<128> objectPath, imagePath;
      if (llvm::sys::fs::createTemporaryFile("loomsim", "o", objectPath) ||
          llvm::sys::fs::createTemporaryFile("loomsim", "so", imagePath)) {
        errorMessage = "cannot create a temporary file";
        return failure();
      }
      llvm::FileRemover removeObject(objectPath), removeImage(imagePath);
      if (failed(emitObject(**kernels, options, objectPath,
                            /*assembly=*/false, errorMessage)) ||
          failed(linkKernelImage(objectPath, imagePath, errorMessage)))
        return failure();
      auto bytes =
          llvm::MemoryBuffer::getFile(imagePath, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
      if (!bytes) {
        errorMessage = "cannot read '" + imagePath.str().str() + "'";
        return failure();
      }
      std::string image(kSimImageMagic, 8);
      uint64_t size = (*bytes)->getBufferSize();
      for (int i = 0; i < 8; ++i)
        image.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
      image += (*bytes)->getBuffer();
      images.push_back(
          gpu::ObjectAttr::get(module.getContext(), object.getTarget(),
                               gpu::CompilationTarget::Binary,
                               StringAttr::get(module.getContext(), image),
                               object.getProperties(), object.getKernels()));
    }
    binary.setObjectsAttr(ArrayAttr::get(module.getContext(), images));
  }
  return success();
}

void loom::hoistStaticAllocas(llvm::Module &host) {
  for (llvm::Function &f : host) {
    if (f.isDeclaration())
      continue;
    llvm::Instruction *front = &*f.getEntryBlock().getFirstInsertionPt();
    for (llvm::BasicBlock &block : llvm::drop_begin(f))
      for (llvm::Instruction &inst : llvm::make_early_inc_range(block))
        if (auto *alloca = dyn_cast<llvm::AllocaInst>(&inst);
            alloca && isa<llvm::ConstantInt>(alloca->getArraySize()))
          alloca->moveBefore(front->getIterator());
  }
}
