//===- Driver.cpp - The library behind loomc ------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Driver/Driver.h"

#include "loom/Conversion/Passes.h"
#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "loom/Importer/Onnx/OnnxImporter.h"
#include "loom/InitAll.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <map>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

/// What `loomc` writes.
enum class EmitKind { Summary, OnnxIR, Loom };

/// Command-line options of loomc.
struct LoomcOptions {
  cl::OptionCategory category{"loomc options"};
  cl::opt<std::string> input{cl::Positional, cl::desc("<model.onnx>"),
                             cl::Required, cl::cat(category)};
  cl::opt<std::string> output{"o", cl::desc("Output file ('-' for stdout)"),
                              cl::value_desc("file"), cl::init("-"),
                              cl::cat(category)};
  cl::opt<EmitKind> emit{
      "emit", cl::desc("What to produce"), cl::init(EmitKind::Loom),
      cl::values(
          clEnumValN(EmitKind::Summary, "summary",
                     "a human-readable summary of the imported model"),
          clEnumValN(EmitKind::OnnxIR, "onnx-ir",
                     "imported IR: one onnx.node holder op per ONNX node"),
          clEnumValN(EmitKind::Loom, "loom",
                     "legalized IR: loom, linalg, tensor, arith and math ops "
                     "(default)")),
      cl::cat(category)};
  cl::opt<bool> noChecker{"no-onnx-checker",
                          cl::desc("Skip the ONNX checker"), cl::init(false),
                          cl::cat(category)};
  cl::opt<bool> noShapeInference{
      "no-shape-inference", cl::desc("Skip ONNX shape inference"),
      cl::init(false), cl::cat(category)};
  cl::opt<int64_t> inlineLimit{
      "inline-elements",
      cl::desc("Initializers with at most this many elements are printed "
               "inline; larger ones become dense_resource blobs"),
      cl::init(64), cl::cat(category)};
  cl::opt<int64_t> elideWeights{
      "elide-weights-larger",
      cl::desc("Print the data of dense_resource blobs larger than this many "
               "bytes as a placeholder (the IR stays parseable but loses that data); "
               "-1 prints all data"),
      cl::init(-1), cl::cat(category)};
};

} // namespace

/// Prints a summary of the imported module: signature, op counts, weights.
static void printSummary(ModuleOp module, StringRef path,
                         llvm::raw_ostream &os) {
  os << "model: " << path << "\n";
  if (auto producer = module->getAttrOfType<StringAttr>("onnx.producer"))
    os << "producer: " << producer.getValue() << "\n";
  if (auto ir = module->getAttrOfType<IntegerAttr>("onnx.ir_version"))
    os << "ir version: " << ir.getInt() << "\n";
  if (auto opsets = module->getAttrOfType<DictionaryAttr>("onnx.opset_import"))
    for (NamedAttribute opset : opsets)
      os << "opset: '" << opset.getName().getValue() << "' "
         << cast<IntegerAttr>(opset.getValue()).getInt() << "\n";
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return;
  FunctionType type = main.getFunctionType();
  for (unsigned i = 0; i < type.getNumInputs(); ++i) {
    auto name = main.getArgAttrOfType<StringAttr>(i, "onnx.name");
    os << "input " << (name ? name.getValue() : "?") << ": "
       << type.getInput(i);
    if (auto dims = main.getArgAttrOfType<ArrayAttr>(i, "onnx.dim_params")) {
      os << " dims [";
      llvm::interleaveComma(dims, os, [&](Attribute a) {
        StringRef s = cast<StringAttr>(a).getValue();
        os << (s.empty() ? "-" : s);
      });
      os << "]";
    }
    os << "\n";
  }
  for (unsigned i = 0; i < type.getNumResults(); ++i) {
    auto name = main.getResultAttrOfType<StringAttr>(i, "onnx.name");
    os << "output " << (name ? name.getValue() : "?") << ": "
       << type.getResult(i) << "\n";
  }
  std::map<std::string, int64_t> counts;
  int64_t nodes = 0, weightBytes = 0, weights = 0;
  module.walk([&](Operation *op) {
    if (auto node = dyn_cast<loom::onnxir::NodeOp>(op)) {
      std::string key = node.getDomain().empty()
                            ? node.getOpType().str()
                            : (node.getDomain() + "." + node.getOpType()).str();
      ++counts[key];
      ++nodes;
    } else if (op->hasTrait<OpTrait::ConstantLike>()) {
      if (auto value = op->getAttrOfType<ElementsAttr>("value")) {
        ++weights;
        auto shaped = cast<ShapedType>(value.getType());
        if (shaped.getElementType().isIntOrFloat())
          weightBytes += shaped.getNumElements() *
                         std::max<int64_t>(
                             1, shaped.getElementTypeBitWidth() / 8);
      }
    }
  });
  os << "nodes: " << nodes << "\n";
  os << "constants: " << weights << " (" << weightBytes << " bytes)\n";
  os << "ops:";
  for (auto &[name, count] : counts)
    os << " " << name << "=" << count;
  os << "\n";
}

int loom::runLoomcMain(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  LoomcOptions options;
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  cl::HideUnrelatedOptions(options.category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "loomc: compile an ONNX model\n\n"
      "  loomc model.onnx --emit=onnx-ir -o model.mlir   imported IR\n"
      "  loomc model.onnx --emit=loom -o model.mlir      legalized IR\n"
      "  loomc model.onnx --emit=summary                 what the model holds\n\n"
      "Exit status: 0 on success, 1 when the model is malformed or uses an\n"
      "unsupported op (every unsupported node is listed), or an output cannot\n"
      "be written.\n\n"
      "MLIR's printing flags (e.g. --mlir-print-debuginfo,\n"
      "--mlir-elide-elementsattrs-if-larger=N) are accepted as well.\n");

  DialectRegistry registry;
  loom::registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);

  OnnxImportOptions importOptions;
  importOptions.runChecker = !options.noChecker;
  importOptions.runShapeInference = !options.noShapeInference;
  importOptions.inlineElementLimit = options.inlineLimit;
  OwningOpRef<ModuleOp> module =
      loom::importOnnxFile(&context, options.input, importOptions);
  if (!module)
    return 1;

  if (options.emit == EmitKind::Loom) {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return 1;
    pm.addPass(loom::createOnnxToLoomPass());
    pm.addPass(createCanonicalizerPass());
    if (failed(pm.run(*module)))
      return 1;
  }

  std::string errorMessage;
  auto out = openOutputFile(options.output, &errorMessage);
  if (!out) {
    llvm::errs() << "loomc: " << errorMessage << "\n";
    return 1;
  }
  if (options.emit == EmitKind::Summary) {
    printSummary(*module, options.input, out->os());
  } else {
    OpPrintingFlags flags;
    if (options.elideWeights >= 0)
      flags.elideLargeResourceString(options.elideWeights);
    module->print(out->os(), flags);
    out->os() << "\n";
  }
  out->keep();
  return 0;
}
