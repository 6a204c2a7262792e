//===- Driver.cpp - The library behind loomc ------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Driver/Driver.h"

#include "loom/Conversion/LoomToLinalg/LoomToLinalg.h"
#include "loom/Conversion/Passes.h"
#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "loom/Driver/Calibration.h"
#include "loom/Importer/Onnx/OnnxImporter.h"
#include "loom/InitAll.h"
#include "loom/Pipelines/Pipelines.h"
#include "loom/Target/CPU/CPUTarget.h"
#include "loom/Target/GPU/SimKernels.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <map>

using namespace mlir;

namespace {
/// Names the pass and the op when a pass of the pipeline fails (a verifier
/// failure after a pass included): "loomc: pass 'X' failed on 'func.func'".
/// `--mlir-pass-pipeline-crash-reproducer=FILE` additionally writes the IR
/// before the failing pass and the pipeline that reproduces the failure.
struct FailedPassReporter : public PassInstrumentation {
  void runAfterPassFailed(Pass *pass, Operation *op) override {
    mlir::emitRemark(op->getLoc())
        << "loomc: pass '" << pass->getArgument() << "' (" << pass->getName()
        << ") failed on '" << op->getName() << "'";
  }
};
} // namespace
namespace cl = llvm::cl;

namespace {

/// What `loomc` writes.
enum class EmitKind {
  Default,
  Summary,
  OnnxIR,
  Loom,
  Linalg,
  LLVMDialect,
  LLVMIR,
  Asm,
  Obj,
  SharedLib,
  Executable,
  PTX
};

/// Command-line options of loomc.
struct LoomcOptions {
  cl::OptionCategory category{"loomc options"};
  cl::opt<std::string> input{cl::Positional,
                             cl::desc("<model.onnx | model.mlir>"),
                             cl::Required, cl::cat(category)};
  cl::opt<std::string> output{"o", cl::desc("Output file ('-' for stdout)"),
                              cl::value_desc("file"), cl::init("-"),
                              cl::cat(category)};
  cl::opt<EmitKind> emit{
      "emit",
      cl::desc("What to produce (default: from the -o extension: .so "
               "shared library, .o object, .s assembly, .ll LLVM IR, .mlir "
               "loom IR, no extension an executable; loom IR on stdout)"),
      cl::init(EmitKind::Default),
      cl::values(
          clEnumValN(EmitKind::Summary, "summary",
                     "a human-readable summary of the imported model"),
          clEnumValN(EmitKind::OnnxIR, "onnx-ir",
                     "imported IR: one onnx.node holder op per ONNX node"),
          clEnumValN(EmitKind::Loom, "loom",
                     "legalized IR: loom, linalg, tensor, arith and math ops"),
          clEnumValN(EmitKind::Linalg, "linalg",
                     "loom ops lowered to linalg on tensors, fused"),
          clEnumValN(EmitKind::LLVMDialect, "llvm-dialect",
                     "the MLIR LLVM dialect, before translation"),
          clEnumValN(EmitKind::LLVMIR, "llvm", "optimized LLVM IR"),
          clEnumValN(EmitKind::Asm, "asm", "target assembly"),
          clEnumValN(EmitKind::Obj, "obj", "an object file"),
          clEnumValN(EmitKind::SharedLib, "so",
                     "a shared library for loomrt/loom-run"),
          clEnumValN(EmitKind::Executable, "exe",
                     "a standalone executable (--inputs DIR --outputs DIR)"),
          clEnumValN(EmitKind::PTX, "ptx",
                     "with --target=cuda: the kernels' PTX (one module)")),
      cl::cat(category)};
  cl::opt<char> optLevel{"O",
                         cl::desc("LLVM optimization level (-O0 .. -O3, "
                                  "default -O3)"),
                         cl::Prefix, cl::init('3'), cl::cat(category)};
  cl::opt<bool> noOpenMP{
      "no-openmp",
      cl::desc("Generate single-threaded loops that do not link libomp "
               "(by default the outermost parallel loop of each loop nest "
               "runs on OpenMP threads; OMP_NUM_THREADS or loom-run "
               "--threads sets how many)"),
      cl::init(false), cl::cat(category)};
  cl::opt<bool> noRaising{
      "no-raising",
      cl::desc("Legalize the imported graph node by node, without raising "
               "decomposed patterns (attention, norms, GELU/SiLU, scans, "
               "mixtures of experts, token mixing, Monarch matrices, "
               "MatMuls by dequantized 8-bit weights) to loom ops first"),
      cl::init(false), cl::cat(category)};
  cl::opt<bool> noMicrokernels{
      "no-microkernels",
      cl::desc("Compile fp32 matrix multiplies and transposes to loops (by "
               "default they call loomrt's packed, register-blocked, "
               "threaded GEMM microkernel and its blocked transpose, linked "
               "into the model)"),
      cl::init(false), cl::cat(category)};
  cl::opt<bool> referenceAttention{
      "reference-attention",
      cl::desc("Compute loom.attention with the full score matrix, then "
               "softmax (by default it is tiled into the flash-attention "
               "form: tiles of queries against tiles of keys with an online "
               "softmax, the score matrix is never stored)"),
      cl::init(false), cl::cat(category)};
  cl::opt<int64_t> attentionTileQ{
      "attention-tile-q",
      cl::desc("Query rows per flash-attention tile (default 512)"),
      cl::init(512), cl::cat(category)};
  cl::opt<int64_t> attentionCausalTileQ{
      "attention-causal-tile-q",
      cl::desc("Query rows per flash-attention tile of causal or "
               "sliding-window attention, where smaller tiles skip more "
               "masked keys (default 128; --attention-tile-q alone sets "
               "both)"),
      cl::init(128), cl::cat(category)};
  cl::opt<int64_t> attentionTileKV{
      "attention-tile-kv",
      cl::desc("Key/value rows per flash-attention step (default 512)"),
      cl::init(512), cl::cat(category)};
  cl::opt<int64_t> attentionKVSplits{
      "attention-kv-splits",
      cl::desc("When a model's queries fit one attention tile and are at "
               "most 16 (decoding), "
               "split the keys into this many ranges computed in parallel "
               "and merged (default 4; 1 disables)"),
      cl::init(4), cl::cat(category)};
  cl::opt<int64_t> scanChunk{
      "scan-chunk",
      cl::desc("Time steps per chunk when a linear or gated loom.scan "
               "(linear attention, GLA) runs in the chunked-parallel form: "
               "dense products within a chunk, the recurrence across chunks "
               "(default 64; 0 keeps them sequential)"),
      cl::init(loom::kDefaultScanChunk), cl::cat(category)};
  cl::opt<int64_t> scanChunkDelta{
      "scan-chunk-delta",
      cl::desc("Time steps per chunk of a DeltaNet loom.scan's chunked form "
               "(WY representation: a forward substitution per chunk, then "
               "dense products); default 0, sequential: the chunked form "
               "does ~3x the FLOPs and measured slower on CPUs"),
      cl::init(loom::kDefaultDeltaScanChunk), cl::cat(category)};
  cl::opt<std::string> quantize{
      "quantize",
      cl::desc("Quantize the weights of matrix multiplies by constant fp32 "
               "weights: 'int8-weight' (symmetric per-output-channel int8; "
               "~4x smaller weights), 'int4-weight' (4-bit groups along K "
               "with a scale and a zero point each; ~7x smaller at group "
               "32), 'w8a8' (int8 weights and uint8 activations, "
               "products in integers with int32 sums: VNNI's vpdpbusd; "
               "activations quantized per row at run time, or with "
               "--calibration ranges), 'w4a8' (the 4-bit groups of "
               "int4-weight and int8 activations quantized per row and "
               "group at run time, products in integers; --group-size a "
               "multiple of 8) or 'none' (default). The weight-only "
               "kernels dequantize in registers or a cache-sized block at a "
               "time"),
      cl::init("none"), cl::cat(category)};
  cl::opt<std::string> calibration{
      "calibration",
      cl::desc("With --quantize=w8a8 or --rounding=gptq: a folder of sample "
               "inputs (input_<i>.pb or .npy, directly or in subfolders, one "
               "set each). loomc compiles the fp32 model, runs it on every "
               "set and records each quantized matrix multiply's input: w8a8 "
               "quantizes the activations with the observed static ranges "
               "instead of per row at run time; gptq rounds the weights to "
               "minimize the output error on these inputs"),
      cl::value_desc("dir"), cl::init(""), cl::cat(category)};
  cl::opt<bool> quantTables{
      "quant-tables",
      cl::desc("With --quantize: also store constant lookup tables read by "
               "Gather (embeddings) as int8 in blocks of 32 columns per row "
               "with an fp16 scale each (~3.8x smaller), dequantized as they "
               "are read"),
      cl::init(false), cl::cat(category)};
  cl::opt<bool> quantActivations{
      "quant-activations",
      cl::desc("With --quantize: also quantize the inputs of LayerNorm, "
               "RMSNorm, GELU, SiLU and softmax (attention's scaled scores, "
               "inside its flash tiles too) to int8 in blocks of 32 along the "
               "last dim, one scale per block (quantize-dequantize: the "
               "blockwise compression of the other components, for accuracy "
               "studies; it does not make the model faster)"),
      cl::init(false), cl::cat(category)};
  cl::opt<std::string> rounding{
      "rounding",
      cl::desc("With --quantize: how weights round: 'nearest' (default) or "
               "'gptq' (needs --calibration: rows of K in order, each one's "
               "rounding error compensated in the rows not yet rounded "
               "through the inputs' inverse Gram matrix, as GPTQ; "
               "compile time grows with K^3 per layer)"),
      cl::init("nearest"), cl::cat(category)};
  cl::opt<std::string> calibrationMethod{
      "calibration-method",
      cl::desc("With --calibration: how a range comes from the observed "
               "values: 'minmax' (default; the extremes), 'percentile' (the "
               "0.01st and 99.99th percentiles: outliers clip) or 'mse' (the "
               "clipping of the min-max range, among 1, 0.95, ..., 0.30 of "
               "it, with the least squared quantization error over the "
               "observed values)"),
      cl::init("minmax"), cl::cat(category)};
  cl::opt<int64_t> groupSize{
      "group-size",
      cl::desc("int4-weight and w4a8: rows of K sharing a scale and zero "
               "point (even, for w4a8 a multiple of 8; default 32)"),
      cl::init(32), cl::cat(category)};
  cl::opt<std::string> quantScales{
      "quant-scales",
      cl::desc("With --quantize: how each scale's range is chosen: 'minmax' "
               "(default; the full range) or 'mse' (the range clipped to 1, "
               "0.98, ..., 0.80 of itself whose rounded weights have the "
               "least squared error)"),
      cl::init("minmax"), cl::cat(category)};
  cl::opt<std::string> quantReport{
      "quant-report",
      cl::desc("With --quantize: write a JSON report to this file: per "
               "layer (ONNX node) the weight bytes before and after and the "
               "weights' relative RMS and max abs quantization error; w8a8: "
               "the input's parameters (static or dynamic), w4a8: that "
               "inputs are quantized per group at run time; with "
               "--calibration --rounding=gptq: the output error on the "
               "samples with GPTQ and with round-to-nearest; the tables of "
               "--quant-tables and the count of --quant-activations"),
      cl::value_desc("file"), cl::init(""), cl::cat(category)};
  cl::opt<bool> quantSymmetric{
      "quant-symmetric",
      cl::desc("int4-weight and w4a8: symmetric groups (scale = max|w| / 7, "
               "no zero points stored) instead of asymmetric min-max groups"),
      cl::init(false), cl::cat(category)};
  cl::opt<std::string> attention{
      "attention",
      cl::desc("Attention span: 'full' (default), 'sliding-window:W' (each "
               "query sees the keys within W - 1 positions of its own, the "
               "last W with a causal mask) or "
               "'block-sparse:B[,local=L][,global=G]' (blocks of B "
               "positions: a query sees its block, the L blocks on either "
               "side (default 1) and the first G blocks (default 1), whose "
               "queries see every key) or 'routed:B[,top=K]' (each block of "
               "B queries attends to the K blocks of B keys (default 4) "
               "whose mean key best matches the block's queries); only the "
               "visible key tiles are computed"),
      cl::value_desc("span"), cl::init("full"), cl::cat(category)};
  cl::list<int64_t> attentionLayers{
      "attention-layers",
      cl::desc("With --attention=sliding-window, block-sparse or routed: the "
               "attention layers "
               "(0-based, in model order) that get that span; the others "
               "stay full (default: all)"),
      cl::value_desc("L,..."), cl::CommaSeparated, cl::cat(category)};
  cl::opt<std::string> attentionConfig{
      "attention-config",
      cl::desc("Per-layer attention spans from a JSON file: {\"default\": "
               "SPAN, \"layers\": {\"0\": SPAN, ...}} with SPAN as "
               "--attention takes it (mixed attention spans)"),
      cl::value_desc("file"), cl::init(""), cl::cat(category)};
  cl::opt<std::string> sparsity{
      "sparsity",
      cl::desc("Prune the weights of matrix multiplies by constant fp32 "
               "weights and compute only what is kept: '2:4' (the 2 largest "
               "magnitudes of every 4 weights along K per column; weights "
               "already 2:4 keep their non-zeros), 'block:RxC,RATIO' (the "
               "RATIO of R x C blocks with the least norm pruned, e.g. "
               "block:32x32,0.5), 'block:RxC' (only the blocks already zero "
               "are dropped) or 'none' (default)"),
      cl::value_desc("pattern"), cl::init("none"), cl::cat(category)};
  cl::opt<std::string> sparsityReport{
      "sparsity-report",
      cl::desc("With --sparsity: write a JSON report to this file: per "
               "layer (ONNX node) the density kept, the relative weight "
               "change, bytes and multiply-adds before and after"),
      cl::value_desc("file"), cl::init(""), cl::cat(category)};
  cl::opt<std::string> target{
      "target",
      cl::desc("What to compile for: 'cpu' (x86-64, default), 'cuda' "
               "(NVIDIA GPUs: host code that launches kernels embedded as "
               "PTX or cubin; the model loads the CUDA driver at run time) "
               "or 'cuda-host' (the cuda pipeline with each kernel run as "
               "host loops: checks the GPU mapping where there is no GPU)"),
      cl::init("cpu"), cl::cat(category)};
  cl::opt<std::string> gpuArch{
      "gpu-arch",
      cl::desc("With --target=cuda: the GPU architecture, sm_NN or sm_NNa "
               "(default sm_80; sm_90a for H100/H200 features)"),
      cl::init("sm_80"), cl::cat(category)};
  cl::opt<std::string> gpuBinary{
      "gpu-binary",
      cl::desc("With --target=cuda: how kernels are embedded: 'auto' "
               "(cubin plus PTX when ptxas is found in the CUDA toolkit, "
               "PTX otherwise; default), 'ptx' (JIT-compiled by the driver "
               "at load time), 'cubin' (through ptxas) or 'sim' (compiled "
               "for the host, for loomsim: the simulated CUDA driver, "
               "libcuda.so.1 in the build's runtime/sim/, runs them without "
               "a GPU)"),
      cl::init("auto"), cl::cat(category)};
  cl::opt<std::string> precision{
      "precision",
      cl::desc("With --target=cuda: the multiplicand type of matrix "
               "multiplications on tensor cores, 'fp16' (default) or 'bf16', "
               "both accumulating in fp32; 'fp32' computes them in fp32 "
               "without tensor cores. Everything else computes in fp32"),
      cl::init("fp16"), cl::cat(category)};
  cl::opt<std::string> cudaPath{
      "cuda-path",
      cl::desc("With --target=cuda: the CUDA toolkit (ptxas, libdevice); "
               "default $CUDA_HOME, else /usr/local/cuda"),
      cl::init(""), cl::cat(category)};
  cl::opt<std::string> targetCpu{
      "target-cpu",
      cl::desc("CPU to generate code for: 'native' (the host and its "
               "features, default) or an LLVM CPU name such as "
               "'x86-64-v3' or 'sapphirerapids'"),
      cl::init("native"), cl::cat(category)};
  cl::opt<bool> noChecker{"no-onnx-checker", cl::desc("Skip the ONNX checker"),
                          cl::init(false), cl::cat(category)};
  cl::opt<bool> noShapeInference{"no-shape-inference",
                                 cl::desc("Skip ONNX shape inference"),
                                 cl::init(false), cl::cat(category)};
  cl::opt<int64_t> inlineLimit{
      "inline-elements",
      cl::desc("Initializers with at most this many elements are printed "
               "inline; larger ones become dense_resource blobs"),
      cl::init(64), cl::cat(category)};
  cl::opt<int64_t> elideWeights{
      "elide-weights-larger",
      cl::desc("Print the data of dense_resource blobs larger than this many "
               "bytes as a placeholder (the IR stays parseable but loses that "
               "data); "
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
          weightBytes +=
              shaped.getNumElements() *
              std::max<int64_t>(1, shaped.getElementTypeBitWidth() / 8);
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

/// The output kind implied by the name of the output file.
static EmitKind defaultEmitKind(StringRef output) {
  if (output == "-")
    return EmitKind::Loom;
  StringRef ext = llvm::sys::path::extension(output);
  return llvm::StringSwitch<EmitKind>(ext)
      .Case(".so", EmitKind::SharedLib)
      .Case(".o", EmitKind::Obj)
      .Case(".s", EmitKind::Asm)
      .Case(".ll", EmitKind::LLVMIR)
      .Case(".mlir", EmitKind::Loom)
      .Case(".ptx", EmitKind::PTX)
      .Case("", EmitKind::Executable)
      .Default(EmitKind::Loom);
}

/// Prints `message` as an error of loomc and returns exit status 1.
/// Reads --sparsity (none, 2:4, block:RxC[,RATIO]) into `pipeline`.
static LogicalResult parseSparsity(StringRef text,
                                   loom::CPUPipelineOptions &pipeline) {
  if (text == "none")
    return success();
  if (text == "2:4") {
    pipeline.sparsity = "2:4";
    return success();
  }
  if (!text.consume_front("block:"))
    return failure();
  auto [shape, ratio] = text.split(',');
  auto [rows, cols] = shape.split('x');
  int64_t r = 0, c = 0;
  if (rows.getAsInteger(10, r) || cols.getAsInteger(10, c) || r < 1 || c < 1)
    return failure();
  double fraction = 0.0;
  if (!ratio.empty() &&
      (ratio.getAsDouble(fraction) || !(fraction >= 0.0 && fraction < 1.0)))
    return failure();
  pipeline.sparsity = "block";
  pipeline.sparsityBlockRows = r;
  pipeline.sparsityBlockCols = c;
  pipeline.sparsityRatio = fraction;
  return success();
}

static int reportError(const Twine &message);

/// Reads an attention span (full, sliding-window:W,
/// block-sparse:B[,local=L][,global=G], routed:B[,top=K]) into `span`.
static LogicalResult parseAttention(StringRef text, loom::AttentionSpan &span) {
  if (text == "full")
    return success();
  int64_t value = 0;
  if (text.consume_front("sliding-window:")) {
    if (text.getAsInteger(10, value) || value < 1)
      return failure();
    span.window = value;
    return success();
  }
  bool routed = text.consume_front("routed:");
  if (!routed && !text.consume_front("block-sparse:"))
    return failure();
  auto [size, rest] = text.split(',');
  if (size.getAsInteger(10, value) || value < 1)
    return failure();
  (routed ? span.routeBlockSize : span.blockSize) = value;
  while (!rest.empty()) {
    auto [item, tail] = rest.split(',');
    rest = tail;
    auto [key, number] = item.split('=');
    int64_t n = 0;
    if (number.getAsInteger(10, n) || n < 0)
      return failure();
    if (!routed && key == "local")
      span.localBlocks = n;
    else if (!routed && key == "global")
      span.globalBlocks = n;
    else if (routed && key == "top" && n >= 1)
      span.routeTop = n;
    else
      return failure();
  }
  return success();
}

/// The spans of an --attention-config file: {"default": SPAN, "layers":
/// {"N": SPAN, ...}} (both optional), in the order they apply.
static FailureOr<std::vector<loom::AttentionSpan>>
readAttentionConfig(StringRef path) {
  auto fail = [&](const Twine &why) {
    reportError("--attention-config '" + path + "': " + why);
    return failure();
  };
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return fail(buffer.getError().message());
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return fail(llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail("expected a JSON object");
  std::vector<loom::AttentionSpan> spans;
  for (const auto &[key, value] : *root) {
    if (key != "default" && key != "layers")
      return fail("unknown key '" + key.str() +
                  "' (expected \"default\" and \"layers\")");
  }
  if (const llvm::json::Value *dflt = root->get("default")) {
    std::optional<StringRef> text = dflt->getAsString();
    loom::AttentionSpan span;
    if (!text || failed(parseAttention(*text, span)))
      return fail("\"default\" is not a span (full, sliding-window:W, "
                  "block-sparse:B[,local=L][,global=G], routed:B[,top=K])");
    spans.push_back(span);
  }
  if (const llvm::json::Value *layers = root->get("layers")) {
    const llvm::json::Object *map = layers->getAsObject();
    if (!map)
      return fail("\"layers\" must map layer numbers to spans");
    // In layer order, so that the pipeline is deterministic.
    std::vector<std::pair<int64_t, loom::AttentionSpan>> perLayer;
    for (const auto &[key, value] : *map) {
      int64_t layer = 0;
      std::optional<StringRef> text = value.getAsString();
      loom::AttentionSpan span;
      if (StringRef(key).getAsInteger(10, layer) || layer < 0)
        return fail("layer '" + key.str() + "' is not a layer number");
      if (!text || failed(parseAttention(*text, span)))
        return fail("layer " + key.str() +
                    ": not a span (full, sliding-window:W, "
                    "block-sparse:B[,local=L][,global=G], routed:B[,top=K])");
      span.layers = {layer};
      perLayer.emplace_back(layer, span);
    }
    llvm::sort(perLayer,
               [](const auto &a, const auto &b) { return a.first < b.first; });
    for (auto &entry : perLayer)
      spans.push_back(entry.second);
  }
  return spans;
}

static int reportError(const Twine &message) {
  llvm::errs() << "loomc: error: " << message << "\n";
  return 1;
}

/// The directory holding libloomrt.a, libloomrt_main.a and the microkernel
/// libraries: `../lib` next to the loomc binary.
static std::string runtimeLibDir(const char *argv0) {
  std::string exe = llvm::sys::fs::getMainExecutable(
      argv0, reinterpret_cast<void *>(&reportError));
  SmallString<256> dir(llvm::sys::path::parent_path(exe));
  llvm::sys::path::append(dir, "..", "lib");
  return std::string(dir);
}

/// Writes the module (as MLIR text) or its summary to the output file.
static int writeModule(ModuleOp module, const LoomcOptions &options,
                       EmitKind emit) {
  std::string errorMessage;
  auto out = openOutputFile(options.output, &errorMessage);
  if (!out)
    return reportError(errorMessage);
  if (emit == EmitKind::Summary) {
    printSummary(module, options.input, out->os());
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

/// The host code generation options of `options` (-O, --target-cpu);
/// reports an -O level outside 0-3.
static FailureOr<loom::CPUTargetOptions>
hostTargetOptions(const LoomcOptions &options) {
  if (options.optLevel < '0' || options.optLevel > '3') {
    llvm::errs() << "loomc: error: -O" << options.optLevel
                 << " is not one of -O0 .. -O3\n";
    return failure();
  }
  loom::CPUTargetOptions target;
  target.optLevel = options.optLevel - '0';
  target.cpu = options.targetCpu;
  return target;
}

/// Translates `module` (the LLVM dialect, after the pipeline) with its ABI
/// `signature` to LLVM IR, an object, assembly, a shared library or an
/// executable (`emit`) at `output`. Returns the exit status.
static int emitNative(ModuleOp module, std::string signature,
                      const LoomcOptions &options, EmitKind emit,
                      StringRef output, const char *argv0, bool cuda = false) {
  loom::appendRuntimeChecks(signature, module);
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      loom::translateToLLVMIR(module, llvmContext, signature);
  if (!llvmModule)
    return 1;
  if (cuda)
    loom::hoistStaticAllocas(*llvmModule);
  FailureOr<loom::CPUTargetOptions> target = hostTargetOptions(options);
  if (failed(target))
    return 1;
  std::string error;
  if (emit == EmitKind::LLVMIR) {
    // Optimize as for an object, then print the IR.
    SmallString<128> scratch;
    llvm::sys::fs::createTemporaryFile("loom", "o", scratch);
    LogicalResult ok = loom::emitObject(*llvmModule, *target, scratch,
                                        /*assembly=*/false, error);
    llvm::sys::fs::remove(scratch);
    if (failed(ok))
      return reportError(error);
    auto out = openOutputFile(output, &error);
    if (!out)
      return reportError(error);
    llvmModule->print(out->os(), nullptr);
    out->keep();
    return 0;
  }
  if (emit == EmitKind::Asm || emit == EmitKind::Obj) {
    if (output == "-")
      return reportError("--emit=asm/obj need -o FILE");
    return failed(loom::emitObject(*llvmModule, *target, output,
                                   emit == EmitKind::Asm, error))
               ? reportError(error)
               : 0;
  }
  if (output == "-")
    return reportError("a shared library or executable needs -o FILE");
  SmallString<128> object;
  if (llvm::sys::fs::createTemporaryFile("loom-model", "o", object))
    return reportError("cannot create a temporary object file");
  LogicalResult ok =
      loom::emitObject(*llvmModule, *target, object, /*assembly=*/false, error);
  // The GPU pipeline's host code has no OpenMP loops.
  bool openmp = !options.noOpenMP && options.target == "cpu";
  if (succeeded(ok)) {
    if (emit == EmitKind::SharedLib)
      ok = loom::linkSharedLibrary(object, runtimeLibDir(argv0), output, openmp,
                                   error, cuda);
    else
      ok = loom::linkExecutable(object, runtimeLibDir(argv0), output, openmp,
                                error, cuda);
  }
  llvm::sys::fs::remove(object);
  return failed(ok) ? reportError(error) : 0;
}

/// The CUDA toolkit: --cuda-path, else $CUDA_HOME, else /usr/local/cuda.
static std::string cudaToolkit(const LoomcOptions &options) {
  if (!options.cudaPath.empty())
    return options.cudaPath;
  if (const char *home = std::getenv("CUDA_HOME"))
    if (*home)
      return home;
  return "/usr/local/cuda";
}

/// Compiles `module` for NVIDIA GPUs (--target=cuda) with the CPU
/// pipeline's front-end options `front`, and writes what `emit` asks for.
static int compileForCuda(MLIRContext &context, ModuleOp module,
                          const FailureOr<std::string> &signature,
                          const loom::CPUPipelineOptions &front,
                          const LoomcOptions &options, EmitKind emit,
                          const char *argv0) {
  if (!front.quantize.empty() || !front.sparsity.empty() ||
      !options.calibration.empty() || !front.attentionSpans.empty())
    return reportError("--quantize, --sparsity, --calibration and sparse "
                       "--attention layouts are not supported with "
                       "--target=cuda yet");
  if (emit == EmitKind::Executable || emit == EmitKind::Summary)
    return reportError("--target=cuda makes shared libraries (-o model.so), "
                       "PTX (--emit=ptx) or IR, not executables");
  StringRef arch = options.gpuArch;
  unsigned number = 0;
  if (!llvm::Regex("^sm_[0-9]{2,3}a?$").match(arch) ||
      arch.drop_front(3).take_while(llvm::isDigit).getAsInteger(10, number))
    return reportError("--gpu-arch=" + options.gpuArch +
                       " is not an NVIDIA architecture (sm_80, sm_90a, ...)");
  loom::GPUPipelineOptions gpu;
  gpu.front = front;
  gpu.emulate = options.target == "cuda-host";
  if (gpu.emulate && options.gpuBinary.getNumOccurrences())
    return reportError("--gpu-binary needs --target=cuda: --target=cuda-host "
                       "runs the kernels as host loops (for kernels compiled "
                       "for loomsim, --target=cuda --gpu-binary=sim)");
  if (gpu.emulate && emit == EmitKind::PTX)
    return reportError("--target=cuda-host runs the kernels on the host: it "
                       "has no PTX");
  gpu.chip = options.gpuArch;
  if (options.precision != "fp16" && options.precision != "bf16" &&
      options.precision != "fp32")
    return reportError("--precision=" + options.precision +
                       " is not supported (supported: fp16, bf16, fp32)");
  // Before sm_80 the default is fp32; asking for fp16 or bf16 is an error.
  gpu.precision = options.precision;
  if (options.precision != "fp32" && number < 80 &&
      !options.precision.getNumOccurrences())
    gpu.precision = "fp32";
  else if (options.precision != "fp32" && number < 80)
    return reportError("--precision=" + options.precision + " needs " +
                       "tensor cores with mma.sync m16n8k16 (sm_80 or "
                       "later; --gpu-arch=" +
                       options.gpuArch + "): use --precision=fp32");
  // The PTX ISA version the architecture needs (LLVM's default for sm_80
  // is 7.0; sm_90a needs 8.0, sm_100 and later 8.6).
  if (number >= 100)
    gpu.features = "+ptx86";
  else if (number >= 90)
    gpu.features = "+ptx80";
  gpu.toolkit = cudaToolkit(options);
  SmallString<256> ptxas(gpu.toolkit);
  llvm::sys::path::append(ptxas, "bin", "ptxas");
  bool havePtxas = llvm::sys::fs::can_execute(ptxas);
  if (options.gpuBinary == "ptx" || emit == EmitKind::PTX)
    gpu.format = "isa";
  else if (options.gpuBinary == "cubin")
    gpu.format = "bin";
  else if (options.gpuBinary == "sim")
    gpu.format = "llvm";
  else if (options.gpuBinary == "auto")
    gpu.format = havePtxas ? "fatbin" : "isa";
  else
    return reportError("--gpu-binary=" + options.gpuBinary +
                       " is not supported (supported: auto, ptx, cubin, "
                       "sim)");
  if (gpu.format == "bin" && !havePtxas)
    return reportError("--gpu-binary=cubin needs ptxas, which is not at '" +
                       std::string(ptxas) + "' (see --cuda-path)");

  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return 1;
  pm.addInstrumentation(std::make_unique<FailedPassReporter>());
  loom::buildGPUPipeline(pm, gpu);
  if (failed(pm.run(module)))
    return 1;
  if (gpu.format == "llvm") {
    FailureOr<loom::CPUTargetOptions> host = hostTargetOptions(options);
    if (failed(host))
      return 1;
    std::string error;
    if (failed(loom::buildSimulatorImages(module, *host, error)))
      return reportError(error);
  }
  if (emit == EmitKind::PTX) {
    auto binaries = module.getOps<gpu::BinaryOp>();
    if (binaries.empty())
      return reportError("the model launches no kernels: there is no PTX");
    std::string error;
    auto out = openOutputFile(options.output, &error);
    if (!out)
      return reportError(error);
    for (gpu::BinaryOp binary : binaries)
      for (Attribute object : binary.getObjects())
        out->os() << cast<gpu::ObjectAttr>(object).getObject().getValue();
    out->keep();
    return 0;
  }
  if (emit < EmitKind::LLVMIR)
    return writeModule(module, options, emit);
  return emitNative(module, *signature, options, emit, options.output, argv0,
                    /*cuda=*/!gpu.emulate);
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
      "  loomc model.onnx --emit=summary                 what the model holds\n"
      "  loomc model.onnx -o model.so                    shared library "
      "(loom-run)\n"
      "  loomc model.onnx -o model                       standalone "
      "executable\n"
      "  loomc model.mlir -o model.so                    from loom IR "
      "(func.func @main)\n\n"
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
  // An .mlir input (loom/linalg IR with func.func @main) skips the importer.
  OwningOpRef<ModuleOp> module =
      StringRef(options.input).ends_with(".mlir")
          ? parseSourceFile<ModuleOp>(options.input, sourceMgr,
                                      ParserConfig(&context))
          : loom::importOnnxFile(&context, options.input, importOptions);
  if (!module)
    return 1;

  EmitKind emit = options.emit;
  if (emit == EmitKind::Default)
    emit = defaultEmitKind(options.output);
  if (options.target != "cpu" && options.target != "cuda" &&
      options.target != "cuda-host")
    return reportError("--target=" + options.target +
                       " is not supported (supported: cpu, cuda, cuda-host)");
  if (options.target == "cpu") {
    if (emit == EmitKind::PTX)
      return reportError("--emit=ptx needs --target=cuda");
    if (options.gpuArch.getNumOccurrences() ||
        options.gpuBinary.getNumOccurrences() ||
        options.cudaPath.getNumOccurrences() ||
        options.precision.getNumOccurrences())
      return reportError("--gpu-arch, --gpu-binary, --cuda-path and "
                         "--precision need --target=cuda");
  }

  if (emit == EmitKind::OnnxIR || emit == EmitKind::Summary)
    return writeModule(*module, options, emit);

  // The ABI signature comes from the tensor-level @main.
  FailureOr<std::string> signature;
  bool native = emit >= EmitKind::LLVMIR;
  if (native) {
    signature = loom::buildModelSignature(*module);
    if (failed(signature))
      return 1;
  }

  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return 1;
  pm.addInstrumentation(std::make_unique<FailedPassReporter>());
  loom::CPUPipelineOptions pipeline;
  pipeline.stopAfter = emit == EmitKind::Loom ? loom::CPUPipelineStage::Loom
                       : emit == EmitKind::Linalg
                           ? loom::CPUPipelineStage::Linalg
                           : loom::CPUPipelineStage::LLVM;
  pipeline.openmp = !options.noOpenMP;
  pipeline.raise = !options.noRaising;
  pipeline.flashAttention = !options.referenceAttention;
  pipeline.microkernels = !options.noMicrokernels;
  if (options.attentionTileQ < 1 || options.attentionTileKV < 1 ||
      options.attentionKVSplits < 1 || options.attentionCausalTileQ < 1)
    return reportError("--attention-tile-q, --attention-causal-tile-q, "
                       "--attention-tile-kv and --attention-kv-splits must be "
                       "positive");
  pipeline.attentionTileQ = options.attentionTileQ;
  pipeline.attentionCausalTileQ =
      options.attentionTileQ.getNumOccurrences() &&
              !options.attentionCausalTileQ.getNumOccurrences()
          ? options.attentionTileQ
          : options.attentionCausalTileQ;
  pipeline.attentionTileKV = options.attentionTileKV;
  pipeline.attentionKVSplits = options.attentionKVSplits;
  if (options.scanChunk < 0 || options.scanChunkDelta < 0)
    return reportError("--scan-chunk and --scan-chunk-delta must not be "
                       "negative");
  if (options.quantize != "none" && options.quantize != "int8-weight" &&
      options.quantize != "int4-weight" && options.quantize != "w8a8" &&
      options.quantize != "w4a8")
    return reportError("--quantize=" + options.quantize +
                       " is not supported (supported: none, int8-weight, "
                       "int4-weight, w8a8, w4a8)");
  if (options.rounding != "nearest" && options.rounding != "gptq")
    return reportError("--rounding=" + options.rounding +
                       " is not supported (supported: nearest, gptq)");
  if (options.rounding == "gptq" && options.quantize == "none")
    return reportError("--rounding=gptq needs --quantize");
  if (options.rounding == "gptq" && options.calibration.empty())
    return reportError("--rounding=gptq needs --calibration DIR (sample "
                       "inputs: it minimizes the output error on them)");
  if (!options.calibration.empty() && options.quantize != "w8a8" &&
      options.rounding != "gptq")
    return reportError("--calibration needs --quantize=w8a8 or "
                       "--rounding=gptq");
  pipeline.quantRounding = options.rounding;
  if (options.quantTables && options.quantize == "none")
    return reportError("--quant-tables needs --quantize");
  pipeline.quantTableBlock = options.quantTables ? 32 : 0;
  if (options.quantActivations && options.quantize == "none")
    return reportError("--quant-activations needs --quantize");
  pipeline.quantActivationBlock = options.quantActivations ? 32 : 0;
  if (options.calibrationMethod != "minmax" &&
      options.calibrationMethod != "percentile" &&
      options.calibrationMethod != "mse")
    return reportError("--calibration-method=" + options.calibrationMethod +
                       " is not supported (supported: minmax, percentile, "
                       "mse)");
  if (options.groupSize < 2 || options.groupSize % 2)
    return reportError("--group-size must be even and at least 2, not " +
                       std::to_string(options.groupSize));
  if (options.quantize == "w4a8" && options.groupSize % 8)
    return reportError("--quantize=w4a8 needs a --group-size that is a "
                       "multiple of 8, not " +
                       std::to_string(options.groupSize));
  if (options.quantize != "none")
    pipeline.quantize = options.quantize;
  if (!options.quantReport.empty()) {
    if (options.quantize == "none")
      return reportError("--quant-report needs --quantize");
    // Fail before compiling, not after, on a report that cannot be written.
    std::error_code ec;
    llvm::raw_fd_ostream probe(options.quantReport, ec);
    if (ec)
      return reportError("cannot write --quant-report file '" +
                         options.quantReport + "': " + ec.message());
  }
  pipeline.quantReport = options.quantReport;
  if (options.quantScales != "minmax" && options.quantScales != "mse")
    return reportError("--quant-scales=" + options.quantScales +
                       " is not supported (supported: minmax, mse)");
  pipeline.quantScales = options.quantScales;
  pipeline.quantGroupSize = options.groupSize;
  pipeline.quantSymmetric = options.quantSymmetric;
  if (failed(parseSparsity(options.sparsity, pipeline)))
    return reportError("--sparsity=" + options.sparsity +
                       " is not supported (supported: none, 2:4, "
                       "block:RxC[,RATIO] with R, C >= 1 and 0 <= RATIO < 1)");
  if (!pipeline.sparsity.empty() && !pipeline.quantize.empty())
    return reportError("--sparsity and --quantize cannot be combined yet");
  if (!options.sparsityReport.empty()) {
    if (pipeline.sparsity.empty())
      return reportError("--sparsity-report needs --sparsity");
    std::error_code ec;
    llvm::raw_fd_ostream probe(options.sparsityReport, ec);
    if (ec)
      return reportError("cannot write --sparsity-report file '" +
                         options.sparsityReport + "': " + ec.message());
  }
  pipeline.sparsityReport = options.sparsityReport;
  loom::AttentionSpan span;
  if (failed(parseAttention(options.attention, span)))
    return reportError("--attention=" + options.attention +
                       " is not supported (supported: full, "
                       "sliding-window:W with W >= 1, "
                       "block-sparse:B[,local=L][,global=G] with B >= 1, "
                       "routed:B[,top=K] with B, K >= 1)");
  bool sparseSpan = span.window || span.blockSize || span.routeBlockSize;
  if (!options.attentionLayers.empty() && !sparseSpan)
    return reportError("--attention-layers needs --attention=sliding-window:W, "
                       "block-sparse:... or routed:...");
  if (!options.attentionConfig.empty() && options.attention != "full")
    return reportError("--attention-config and --attention cannot be "
                       "combined: the file gives every layer's span");
  if (sparseSpan) {
    span.layers.assign(options.attentionLayers.begin(),
                       options.attentionLayers.end());
    pipeline.attentionSpans.push_back(span);
  }
  if (!options.attentionConfig.empty()) {
    FailureOr<std::vector<loom::AttentionSpan>> spans =
        readAttentionConfig(options.attentionConfig);
    if (failed(spans))
      return 1;
    pipeline.attentionSpans = std::move(*spans);
  }
  pipeline.scanChunk = options.scanChunk;
  pipeline.scanChunkDelta = options.scanChunkDelta;
  if (options.target != "cpu")
    return compileForCuda(context, *module, signature, pipeline, options, emit,
                          argv[0]);
  if (!options.calibration.empty()) {
    // Step 1 without quantization; the activation ranges from a run of the
    // fp32 model on the samples; then the rest from the legalized IR.
    loom::CPUPipelineOptions front = pipeline;
    front.stopAfter = loom::CPUPipelineStage::Loom;
    front.quantize.clear();
    front.quantReport.clear();
    PassManager frontPm(&context);
    if (failed(applyPassManagerCLOptions(frontPm)))
      return 1;
    frontPm.addInstrumentation(std::make_unique<FailedPassReporter>());
    loom::buildCPUPipeline(frontPm, front);
    if (failed(frontPm.run(*module)))
      return 1;
    pipeline.legalizeOnnx = false;
    pipeline.attentionSpans.clear();
    auto compile = [&](ModuleOp clone, StringRef path) -> LogicalResult {
      FailureOr<std::string> cloneSignature = loom::buildModelSignature(clone);
      if (failed(cloneSignature))
        return failure();
      loom::CPUPipelineOptions fp32 = pipeline;
      fp32.quantize.clear();
      fp32.quantReport.clear();
      fp32.stopAfter = loom::CPUPipelineStage::LLVM;
      PassManager clonePm(&context);
      clonePm.addInstrumentation(std::make_unique<FailedPassReporter>());
      loom::buildCPUPipeline(clonePm, fp32);
      if (failed(clonePm.run(clone)))
        return failure();
      return success(emitNative(clone, *cloneSignature, options,
                                EmitKind::SharedLib, path, argv[0]) == 0);
    };
    if (failed(loom::calibrateActivations(
            *module,
            {options.calibration, options.calibrationMethod,
             /*grams=*/options.rounding == "gptq"},
            compile)))
      return 1;
  }
  loom::buildCPUPipeline(pm, pipeline);
  if (failed(pm.run(*module)))
    return 1;
  if (!native)
    return writeModule(*module, options, emit);

  return emitNative(*module, *signature, options, emit, options.output,
                    argv[0]);
}
