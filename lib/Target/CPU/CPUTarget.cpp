//===- CPUTarget.cpp - LLVM IR, objects and linking for x86-64 ------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Target/CPU/CPUTarget.h"

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;

//===----------------------------------------------------------------------===//
// Signature
//===----------------------------------------------------------------------===//

/// loomrt dtype code (ONNX TensorProto.DataType) of an element type, or 0.
static int dtypeCode(Type t) {
  if (t.isF32())
    return 1;
  if (t.isF64())
    return 11;
  if (t.isF16())
    return 10;
  if (t.isBF16())
    return 16;
  if (auto i = dyn_cast<IntegerType>(t)) {
    bool u = i.isUnsigned();
    switch (i.getWidth()) {
    case 1:
      return 9;
    case 8:
      return u ? 2 : 3;
    case 16:
      return u ? 4 : 5;
    case 32:
      return u ? 12 : 6;
    case 64:
      return u ? 13 : 7;
    default:
      return 0;
    }
  }
  return 0;
}

/// Escapes a name for the whitespace-separated signature format.
static std::string escape(StringRef s) {
  std::string out;
  for (char c : s) {
    if (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
        c == '-' || c == ':' || c == '/')
      out += c;
    else
      out += llvm::formatv("%{0:X-2}", static_cast<unsigned char>(c)).str();
  }
  return out.empty() ? "%00" : out;
}

FailureOr<std::string> loom::buildModelSignature(ModuleOp module) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return module.emitError("the module has no func.func @main"), failure();
  std::string sig = "loom-signature 1\n";
  llvm::raw_string_ostream os(sig);
  auto describe = [&](StringRef kind, unsigned i, Type type, StringAttr name,
                      ArrayAttr dimNames) -> LogicalResult {
    std::string label =
        escape(name ? name.getValue() : (kind + Twine(i)).str());
    if (auto seq = dyn_cast<loom::onnxir::SeqType>(type)) {
      // A sequence: "kind name dtype seq rank" (three memrefs at the ABI).
      auto elem = dyn_cast<TensorType>(seq.getElementType());
      Value value = kind == "input"
                        ? Value(main.getArgument(i))
                        : main.front().getTerminator()->getOperand(i);
      FailureOr<int64_t> rank = loom::inferSeqRank(value);
      int code = elem ? dtypeCode(elem.getElementType()) : 0;
      if (!code || failed(rank))
        return main.emitError()
               << kind << " " << i << " is a sequence of "
               << seq.getElementType() << (code ? " of unknown rank" : "")
               << " that loomrt does not "
               << "support";
      os << kind << " " << label << " " << code << " seq " << *rank << "\n";
      return success();
    }
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor)
      return main.emitError() << kind << " " << i << " has type " << type
                              << "; only ranked tensors and sequences cross "
                                 "the ABI";
    int code = dtypeCode(tensor.getElementType());
    if (!code)
      return main.emitError()
             << kind << " " << i << " has element type "
             << tensor.getElementType() << " that loomrt does not support";
    os << kind << " " << label << " " << code << " " << tensor.getRank();
    for (int64_t d = 0; d < tensor.getRank(); ++d) {
      if (!tensor.isDynamicDim(d)) {
        os << " " << tensor.getDimSize(d);
        continue;
      }
      StringRef param;
      if (dimNames && d < static_cast<int64_t>(dimNames.size()))
        if (auto s = dyn_cast<StringAttr>(dimNames[d]))
          param = s.getValue();
      os << " ?" << (param.empty() ? "" : escape(param));
    }
    os << "\n";
    return success();
  };
  FunctionType type = main.getFunctionType();
  for (unsigned i = 0; i < type.getNumInputs(); ++i)
    if (failed(
            describe("input", i, type.getInput(i),
                     main.getArgAttrOfType<StringAttr>(i, "onnx.name"),
                     main.getArgAttrOfType<ArrayAttr>(i, "onnx.dim_params"))))
      return failure();
  // The run-time check status (a result marked loom.status, after the
  // legalization) is not an output: appendRuntimeChecks describes it.
  for (unsigned i = 0; i < type.getNumResults(); ++i)
    if (!main.getResultAttr(i, "loom.status") &&
        failed(describe("output", i, type.getResult(i),
                        main.getResultAttrOfType<StringAttr>(i, "onnx.name"),
                        ArrayAttr())))
      return failure();
  return sig;
}

void loom::appendRuntimeChecks(std::string &signature, ModuleOp module) {
  auto checks = module->getAttrOfType<ArrayAttr>("loom.runtime_checks");
  if (!checks)
    return;
  llvm::raw_string_ostream os(signature);
  for (auto [k, message] : llvm::enumerate(checks))
    os << "check " << k + 1 << " "
       << escape(cast<StringAttr>(message).getValue()) << "\n";
}

//===----------------------------------------------------------------------===//
// LLVM IR
//===----------------------------------------------------------------------===//

std::unique_ptr<llvm::Module>
loom::translateToLLVMIR(ModuleOp module, llvm::LLVMContext &context,
                        StringRef signature) {
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, context, "loom_model");
  if (!llvmModule) {
    module.emitError("failed to translate to LLVM IR");
    return nullptr;
  }
  llvm::Function *ciface = llvmModule->getFunction("_mlir_ciface_loom_main");
  if (!ciface) {
    module.emitError("no _mlir_ciface_loom_main in the lowered module");
    return nullptr;
  }
  // void loom_entry(void **args): unpack args into the C interface call.
  auto *ptrTy = llvm::PointerType::getUnqual(context);
  auto *entryTy =
      llvm::FunctionType::get(llvm::Type::getVoidTy(context), {ptrTy}, false);
  auto *entry = llvm::Function::Create(entryTy, llvm::Function::ExternalLinkage,
                                       "loom_entry", llvmModule.get());
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", entry));
  SmallVector<llvm::Value *> args;
  for (auto [i, param] : llvm::enumerate(ciface->args())) {
    if (!param.getType()->isPointerTy()) {
      module.emitError("entry point parameter ") << i << " is not a pointer";
      return nullptr;
    }
    llvm::Value *slot = b.CreateConstGEP1_64(ptrTy, entry->getArg(0), i);
    args.push_back(b.CreateLoad(ptrTy, slot));
  }
  b.CreateCall(ciface, args);
  b.CreateRetVoid();

  auto *sigInit = llvm::ConstantDataArray::getString(context, signature);
  new llvm::GlobalVariable(*llvmModule, sigInit->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, sigInit,
                           "loom_signature");
  return llvmModule;
}

//===----------------------------------------------------------------------===//
// Objects
//===----------------------------------------------------------------------===//

LogicalResult loom::emitObject(llvm::Module &module,
                               const CPUTargetOptions &options, StringRef path,
                               bool assembly, std::string &errorMessage) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, errorMessage);
  if (!target)
    return failure();
  std::string cpu = options.cpu, features;
  if (cpu == "native") {
    cpu = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures f;
    for (auto &feature : llvm::sys::getHostCPUFeatures())
      f.AddFeature(feature.first(), feature.second);
    features = f.getString();
  }
  llvm::CodeGenOptLevel level =
      options.optLevel == 0   ? llvm::CodeGenOptLevel::None
      : options.optLevel == 1 ? llvm::CodeGenOptLevel::Less
      : options.optLevel == 2 ? llvm::CodeGenOptLevel::Default
                              : llvm::CodeGenOptLevel::Aggressive;
  // Global constructors (a GPU model loads its kernels in one) go to
  // .init_array, which the loader runs; .ctors, LLVM's default without this,
  // is ignored by glibc.
  llvm::TargetOptions targetOptions;
  targetOptions.UseInitArray = true;
  std::unique_ptr<llvm::TargetMachine> tm(
      target->createTargetMachine(triple, cpu, features, targetOptions,
                                  llvm::Reloc::PIC_, std::nullopt, level));
  if (!tm) {
    errorMessage = "cannot create a target machine for CPU '" + cpu + "'";
    return failure();
  }
  module.setTargetTriple(triple);
  module.setDataLayout(tm->createDataLayout());

  auto optimize = makeOptimizingTransformer(options.optLevel, 0, tm.get());
  if (llvm::Error err = optimize(&module)) {
    errorMessage = llvm::toString(std::move(err));
    return failure();
  }

  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    errorMessage = "cannot write '" + path.str() + "': " + ec.message();
    return failure();
  }
  llvm::legacy::PassManager pm;
  if (tm->addPassesToEmitFile(pm, os, nullptr,
                              assembly ? llvm::CodeGenFileType::AssemblyFile
                                       : llvm::CodeGenFileType::ObjectFile)) {
    errorMessage = "the target cannot emit this file type";
    return failure();
  }
  pm.run(module);
  os.flush();
  return success();
}

//===----------------------------------------------------------------------===//
// Linking
//===----------------------------------------------------------------------===//

/// Runs clang (which drives lld) with `args`; collects its stderr.
static LogicalResult runLinker(ArrayRef<std::string> args,
                               std::string &errorMessage) {
  std::string clang = LOOM_CLANG;
  if (auto found = llvm::sys::findProgramByName("clang-22"); found)
    clang = *found;
  SmallString<128> errFile;
  if (llvm::sys::fs::createTemporaryFile("loom-link", "txt", errFile)) {
    errorMessage = "cannot create a temporary file";
    return failure();
  }
  SmallVector<StringRef> argv = {clang};
  for (const std::string &a : args)
    argv.push_back(a);
  std::optional<StringRef> redirects[] = {std::nullopt, std::nullopt,
                                          StringRef(errFile)};
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(clang, argv, std::nullopt, redirects, 0, 0,
                                     &execError);
  auto errText = llvm::MemoryBuffer::getFile(errFile);
  llvm::sys::fs::remove(errFile);
  if (rc != 0) {
    errorMessage = "linking with " + clang + " failed" +
                   (execError.empty() ? "" : ": " + execError);
    if (errText)
      errorMessage += ":\n" + (*errText)->getBuffer().str();
    return failure();
  }
  return success();
}

/// Linker arguments for loomrt's microkernels and libomp (Debian's LLVM 22
/// copy, found at run time through the rpath), or for a GPU model loomrt's
/// CUDA backend (which loads the driver with dlopen) first, so that its
/// managed-memory allocator is the one linked, then the serial
/// microkernels for what still runs on the host.
static SmallVector<std::string> kernelAndOpenMPArgs(StringRef runtimeLibDir,
                                                    bool openmp, bool cuda) {
  if (cuda)
    return {"-L" + runtimeLibDir.str(), "-lloomrt_cuda",
            "-lloomrt_kernels_serial", "-ldl", "-lpthread"};
  SmallVector<std::string> args = {"-L" + runtimeLibDir.str(),
                                   openmp ? "-lloomrt_kernels"
                                          : "-lloomrt_kernels_serial"};
  if (openmp)
    args.append(
        {"-L" LOOM_LLVM_LIB_DIR, "-lomp", "-Wl,-rpath," LOOM_LLVM_LIB_DIR});
  return args;
}

LogicalResult loom::linkSharedLibrary(StringRef objectPath,
                                      StringRef runtimeLibDir,
                                      StringRef outputPath, bool openmp,
                                      std::string &errorMessage, bool cuda) {
  SmallVector<std::string> args = {"-shared", "-fuse-ld=lld", "-o",
                                   outputPath.str(), objectPath.str()};
  args.append(kernelAndOpenMPArgs(runtimeLibDir, openmp, cuda));
  args.push_back("-lm");
#ifdef LOOM_SANITIZER_LINK_FLAGS
  // The microkernels are instrumented; the loading program has the runtime.
  args.push_back(LOOM_SANITIZER_LINK_FLAGS);
#endif
  return runLinker(args, errorMessage);
}

LogicalResult loom::linkKernelImage(StringRef objectPath, StringRef outputPath,
                                    std::string &errorMessage) {
  // compiler-rt's builtins: the kernels' half and bfloat conversions.
  return runLinker({"-shared", "-fuse-ld=lld", "-rtlib=compiler-rt", "-o",
                    outputPath.str(), objectPath.str(), "-lm"},
                   errorMessage);
}

LogicalResult loom::linkExecutable(StringRef objectPath,
                                   StringRef runtimeLibDir,
                                   StringRef outputPath, bool openmp,
                                   std::string &errorMessage, bool cuda) {
  SmallVector<std::string> args = {"-fuse-ld=lld",
                                   "-o",
                                   outputPath.str(),
                                   objectPath.str(),
                                   "-L" + runtimeLibDir.str(),
                                   "-lloomrt_main",
                                   "-lloomrt"};
  args.append(kernelAndOpenMPArgs(runtimeLibDir, openmp, cuda));
  args.append({"-lm", "-ldl"});
#ifdef LOOM_SANITIZER_LINK_FLAGS
  // A sanitizer build's runtime library is instrumented: so is the program.
  args.push_back(LOOM_SANITIZER_LINK_FLAGS);
#endif
  return runLinker(args, errorMessage);
}
