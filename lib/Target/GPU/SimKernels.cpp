//===- SimKernels.cpp - GPU kernels compiled for loomsim ------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Target/GPU/SimKernels.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"

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
    f.setCallingConv(llvm::CallingConv::C);
    f.removeFnAttr("target-cpu");
    f.removeFnAttr("target-features");
    f.removeFnAttr("tune-cpu");
  }
  for (llvm::Function *kernel : entries) {
    kernel->setLinkage(llvm::GlobalValue::InternalLinkage);
    addEntry(*kernel);
  }

  // Shared (and any other non-generic) memory: host globals.
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
