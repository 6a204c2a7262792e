//===- OnnxImporter.cpp - ONNX model importer (stage 1) -------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Model level: parse, resolve external data, validate structure, run the ONNX
// checker and shape inference. Graph level: order nodes, map names to values,
// build `onnx.node` holder ops with regions for subgraphs.
//
//===----------------------------------------------------------------------===//

#include "loom/Importer/Onnx/OnnxImporter.h"
#include "TensorImport.h"

#include "loom/Dialect/Onnx/IR/OnnxDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "onnx/checker.h"

#include "onnx/defs/schema.h"
#include "onnx/shape_inference/implementation.h"
#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/io/coded_stream.h>

#include <deque>
#include <map>

using namespace mlir;
using loom::OnnxImportOptions;
namespace onnxir = loom::onnxir;

/// The highest IR version the ONNX 1.12 checker accepts.
static constexpr int64_t kCheckerMaxIrVersion = 8;
/// The highest default-domain opset ONNX 1.12 has schemas for.
static constexpr int64_t kMaxKnownOpset = 17;
/// The highest default-domain opset Loom accepts: the ops it legalizes
/// changed only their type lists between 17 and 21 (ReduceX and Split, which
/// changed more at 18, have handlers for both forms).
static constexpr int64_t kMaxSupportedOpset = 21;

namespace {

//===----------------------------------------------------------------------===//
// Scopes
//===----------------------------------------------------------------------===//

/// Names visible in one graph; subgraphs see their parents' names too.
struct Scope {
  Scope *parent = nullptr;
  llvm::StringMap<Value> values;

  Value lookup(StringRef name) const {
    for (const Scope *s = this; s; s = s->parent) {
      auto it = s->values.find(name);
      if (it != s->values.end())
        return it->second;
    }
    return nullptr;
  }
};

//===----------------------------------------------------------------------===//
// ModelImporter
//===----------------------------------------------------------------------===//

/// Imports one ModelProto into a module holding `func.func @main`.
class ModelImporter {
public:
  ModelImporter(MLIRContext *ctx, StringRef fileName,
                const OnnxImportOptions &options)
      : ctx(ctx), fileName(fileName.str()), options(options),
        fileLoc(FileLineColLoc::get(ctx, fileName, 0, 0)), builder(ctx) {}

  /// Runs every stage; returns null after reporting an error.
  OwningOpRef<ModuleOp> run(::onnx::ModelProto &model, StringRef baseDir);

private:
  // Model-level stages.
  LogicalResult loadAllExternalData(::onnx::GraphProto &graph,
                                    StringRef baseDir);
  LogicalResult validateGraph(const ::onnx::GraphProto &graph,
                              const llvm::StringSet<> &outer);
  LogicalResult runChecker(::onnx::ModelProto &model);
  /// Verifies `node` against its ONNX schema (when ONNX has one) and the
  /// arities of control flow; reports errors at the node.
  LogicalResult verifyNodeSchema(const ::onnx::NodeProto &node, size_t index);
  /// Runs ONNX shape inference in a child process (see the definition).
  LogicalResult runShapeInference(::onnx::ModelProto &model);
  /// Runs ONNX shape inference in this process.
  LogicalResult runShapeInferenceInProcess(::onnx::ModelProto &model);
  /// One run of ONNX's shape inference (strict, then lenient on errors
  /// that are not type errors).
  LogicalResult runOnnxShapeInference(::onnx::ModelProto &model);

  // Graph-level import.
  LogicalResult importGraph(const ::onnx::GraphProto &graph, Block *block,
                            Scope &scope, SmallVectorImpl<Value> &outputs);
  LogicalResult importNode(const ::onnx::NodeProto &node, size_t index,
                           Scope &scope, Block *block);
  Value importInitializer(const ::onnx::TensorProto &tensor);
  Attribute importAttribute(const ::onnx::AttributeProto &attr, Location loc,
                            bool &failed);
  /// Returns the type of value `name` from the graph's value infos.
  Type lookupType(StringRef name, Location loc, bool &failed);
  void collectTypes(const ::onnx::GraphProto &graph);

  /// Location of node `index` of the current graph.
  Location nodeLoc(const ::onnx::NodeProto &node, size_t index);
  /// Describes a node for diagnostics: `node 'name' (OpType)`.
  static std::string describe(const ::onnx::NodeProto &node, size_t index);

  int64_t opsetFor(StringRef domain) const {
    auto it = opsets.find(domain == "ai.onnx" ? "" : domain);
    return it == opsets.end() ? 0 : it->second;
  }

  MLIRContext *ctx;
  std::string fileName;
  const OnnxImportOptions &options;
  Location fileLoc;
  OpBuilder builder;
  std::map<std::string, int64_t, std::less<>> opsets;
  llvm::StringMap<const ::onnx::TypeProto *> types;
  /// One `onnx.none` per block, created on first use.
  DenseMap<Block *, Value> noneValues;
};

} // namespace

Location ModelImporter::nodeLoc(const ::onnx::NodeProto &node, size_t index) {
  std::string name = node.name();
  if (name.empty())
    name = "#" + std::to_string(index) + " " + node.op_type();
  return NameLoc::get(StringAttr::get(ctx, name), fileLoc);
}

std::string ModelImporter::describe(const ::onnx::NodeProto &node,
                                    size_t index) {
  if (node.name().empty())
    return "unnamed node #" + std::to_string(index) + " (" + node.op_type() +
           ")";
  return "node '" + node.name() + "' (" + node.op_type() + ")";
}

//===----------------------------------------------------------------------===//
// Model-level stages
//===----------------------------------------------------------------------===//

/// Applies `fn` to every graph attribute of every node of `graph`.
template <typename Graph, typename Fn>
static void forEachSubgraph(Graph &graph, Fn fn) {
  for (auto &node : *graph.mutable_node())
    for (auto &attr : *node.mutable_attribute()) {
      if (attr.has_g())
        fn(*attr.mutable_g());
      for (auto &g : *attr.mutable_graphs())
        fn(g);
    }
}

LogicalResult ModelImporter::loadAllExternalData(::onnx::GraphProto &graph,
                                                 StringRef baseDir) {
  for (auto &tensor : *graph.mutable_initializer()) {
    if (tensor.data_location() != ::onnx::TensorProto::EXTERNAL)
      continue;
    std::string error;
    if (!loom::detail::loadExternalData(tensor, baseDir, error))
      return emitError(fileLoc)
             << "initializer '" << tensor.name() << "': " << error;
  }
  LogicalResult result = success();
  forEachSubgraph(graph, [&](::onnx::GraphProto &g) {
    if (succeeded(result))
      result = loadAllExternalData(g, baseDir);
  });
  return result;
}

/// Collects the names a subgraph reads from enclosing scopes.
static void collectImplicitInputs(const ::onnx::GraphProto &graph,
                                  llvm::StringSet<> &implicit) {
  llvm::StringSet<> defined;
  for (const auto &v : graph.input())
    defined.insert(v.name());
  for (const auto &t : graph.initializer())
    defined.insert(t.name());
  for (const auto &node : graph.node())
    for (const auto &o : node.output())
      defined.insert(o);
  auto use = [&](const std::string &name) {
    if (!name.empty() && !defined.contains(name))
      implicit.insert(name);
  };
  for (const auto &node : graph.node()) {
    for (const auto &i : node.input())
      use(i);
    for (const auto &attr : node.attribute()) {
      llvm::StringSet<> inner;
      if (attr.has_g())
        collectImplicitInputs(attr.g(), inner);
      for (const auto &g : attr.graphs())
        collectImplicitInputs(g, inner);
      for (const auto &name : inner)
        use(name.getKey().str());
    }
  }
  for (const auto &o : graph.output())
    use(o.name());
}

/// Returns every name node `node` reads, its subgraphs' outer reads included.
static SmallVector<std::string> nodeReads(const ::onnx::NodeProto &node) {
  SmallVector<std::string> reads;
  for (const auto &i : node.input())
    if (!i.empty())
      reads.push_back(i);
  for (const auto &attr : node.attribute()) {
    llvm::StringSet<> inner;
    if (attr.has_g())
      collectImplicitInputs(attr.g(), inner);
    for (const auto &g : attr.graphs())
      collectImplicitInputs(g, inner);
    for (const auto &name : inner)
      reads.push_back(name.getKey().str());
  }
  return reads;
}

/// Returns the order in which to import the nodes of `graph` (a topological
/// order that keeps the file's order where it is valid), or the index of a
/// node on a cycle through `cycleNode`.
static SmallVector<size_t> topologicalOrder(const ::onnx::GraphProto &graph,
                                            int64_t &cycleNode) {
  size_t n = graph.node_size();
  llvm::StringMap<size_t> producer;
  for (size_t i = 0; i < n; ++i)
    for (const auto &o : graph.node(i).output())
      if (!o.empty())
        producer.try_emplace(o, i);
  std::vector<SmallVector<size_t>> users(n);
  std::vector<size_t> pending(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (const std::string &name : nodeReads(graph.node(i))) {
      auto it = producer.find(name);
      if (it == producer.end())
        continue;
      users[it->second].push_back(i);
      ++pending[i];
    }
  // Kahn's algorithm with a min-heap on the node index to keep file order.
  std::vector<size_t> heap;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0)
      heap.push_back(i);
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  SmallVector<size_t> order;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    size_t i = heap.back();
    heap.pop_back();
    order.push_back(i);
    for (size_t u : users[i])
      if (--pending[u] == 0) {
        heap.push_back(u);
        std::push_heap(heap.begin(), heap.end(), std::greater<>());
      }
  }
  cycleNode = -1;
  if (order.size() != n)
    for (size_t i = 0; i < n; ++i)
      if (pending[i] != 0) {
        cycleNode = i;
        break;
      }
  return order;
}

/// The number of inputs of subgraph attribute `name` of `node`, or -1.
static int64_t subgraphInputs(const ::onnx::NodeProto &node, StringRef name) {
  for (const auto &attr : node.attribute())
    if (attr.name() == name && attr.has_g())
      return attr.g().input_size();
  return -1;
}

LogicalResult ModelImporter::verifyNodeSchema(const ::onnx::NodeProto &node,
                                              size_t index) {
  // Every node ONNX has a schema for is verified on its own (the checker
  // stops at the first unknown op, which is legalization's to report), so
  // that shape inference never sees a node its schema rejects: ONNX 1.12's
  // inference functions assume valid nodes and crash otherwise.
  std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
  const ::onnx::OpSchema *schema = ::onnx::OpSchemaRegistry::Schema(
      node.op_type(), static_cast<int>(opsetFor(domain)), domain);
  if (!schema)
    return success();
  try {
    schema->Verify(node);
  } catch (const std::exception &e) {
    std::string message = e.what();
    if (size_t cut = message.find("\n"); cut != std::string::npos)
      message.resize(cut);
    return emitError(nodeLoc(node, index))
           << describe(node, index) << " is invalid: " << message;
  }
  // Convolution and pooling: ONNX's shape inference divides by strides and
  // dilations and groups channels without checking them.
  static const llvm::StringSet<> kConvLike = {
      "Conv",       "ConvTranspose", "ConvInteger", "QLinearConv",
      "MaxPool",    "AveragePool",   "LpPool",      "MaxUnpool",
      "MaxRoiPool", "DeformConv"};
  if (domain.empty() && kConvLike.contains(node.op_type()))
    for (const auto &attr : node.attribute()) {
      StringRef name = attr.name();
      if (name == "strides" || name == "dilations" || name == "kernel_shape")
        for (int64_t v : attr.ints())
          if (v <= 0)
            return emitError(nodeLoc(node, index))
                   << describe(node, index) << " is invalid: '" << name
                   << "' holds " << v << " (must be positive)";
      if (name == "group" && attr.i() <= 0)
        return emitError(nodeLoc(node, index))
               << describe(node, index) << " is invalid: group is " << attr.i()
               << " (must be positive)";
    }
  // Control flow: the arities the inference functions index by.
  int64_t inputs = node.input_size();
  auto bad = [&](const Twine &what) {
    return emitError(nodeLoc(node, index)) << describe(node, index) << " is "
                                           << "invalid: " << what;
  };
  if (node.op_type() == "Scan" && domain.empty()) {
    int64_t m = -1;
    for (const auto &attr : node.attribute())
      if (attr.name() == "num_scan_inputs")
        m = attr.i();
    bool v8 = opsetFor("") < 9;
    int64_t states = inputs - (v8 ? 1 : 0) - m;
    if (m < 1 || states < 0)
      return bad("num_scan_inputs is " + Twine(m) + " with " + Twine(inputs) +
                 " inputs");
    if (subgraphInputs(node, "body") != states + m)
      return bad("the body takes " + Twine(subgraphInputs(node, "body")) +
                 " inputs, the scan passes " + Twine(states + m));
  }
  if (node.op_type() == "Loop" && domain.empty() &&
      subgraphInputs(node, "body") != inputs)
    return bad("the body takes " + Twine(subgraphInputs(node, "body")) +
               " inputs, the loop passes " + Twine(inputs));
  if (node.op_type() == "If" && domain.empty() &&
      (subgraphInputs(node, "then_branch") > 0 ||
       subgraphInputs(node, "else_branch") > 0))
    return bad("If branches take no inputs");
  return success();
}

LogicalResult ModelImporter::validateGraph(const ::onnx::GraphProto &graph,
                                           const llvm::StringSet<> &outer) {
  llvm::StringSet<> defined = outer;
  for (const auto &v : graph.input())
    defined.insert(v.name());
  for (const auto &t : graph.initializer()) {
    defined.insert(t.name());
    std::string error;
    // Sizes are checked here so that a bad initializer names itself before
    // the checker's less precise message.
    if (!loom::detail::validateTensor(ctx, t, error))
      return emitError(fileLoc) << "initializer '" << t.name() << "' " << error;
  }
  llvm::StringSet<> produced;
  for (const auto &node : graph.node())
    for (const auto &o : node.output())
      if (!o.empty())
        produced.insert(o);

  for (auto [index, node] : llvm::enumerate(graph.node())) {
    for (const auto &i : node.input())
      if (!i.empty() && !defined.contains(i) && !produced.contains(i))
        return emitError(nodeLoc(node, index))
               << describe(node, index) << " reads value '" << i
               << "' that no node, graph input or initializer produces";
    if (failed(verifyNodeSchema(node, index)))
      return failure();
    // Subgraphs see everything defined in this graph.
    llvm::StringSet<> visible = defined;
    for (const auto &name : produced)
      visible.insert(name.getKey());
    for (const auto &attr : node.attribute()) {
      if (attr.has_g() && failed(validateGraph(attr.g(), visible)))
        return failure();
      for (const auto &g : attr.graphs())
        if (failed(validateGraph(g, visible)))
          return failure();
    }
  }
  for (const auto &o : graph.output())
    if (!defined.contains(o.name()) && !produced.contains(o.name()))
      return emitError(fileLoc)
             << "graph output '" << o.name() << "' is not produced by any node";
  int64_t cycleNode;
  topologicalOrder(graph, cycleNode);
  if (cycleNode >= 0) {
    const auto &node = graph.node(cycleNode);
    return emitError(nodeLoc(node, cycleNode))
           << "the graph has a cycle through " << describe(node, cycleNode);
  }
  return success();
}

LogicalResult ModelImporter::runChecker(::onnx::ModelProto &model) {
  int64_t irVersion = model.ir_version();
  if (irVersion > kCheckerMaxIrVersion) {
    emitWarning(fileLoc) << "model IR version " << irVersion
                         << " is newer than the ONNX 1.12 checker supports ("
                         << kCheckerMaxIrVersion << "); checked as IR "
                         << kCheckerMaxIrVersion
                         << " (checks specific to newer IR versions skipped)";
    model.set_ir_version(kCheckerMaxIrVersion);
  }
  LogicalResult result = success();
  try {
    ::onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    std::string message = e.what();
    // Ops ONNX does not know are for legalization to report, not the checker.
    if (StringRef(message).contains("No Op registered for") ||
        StringRef(message).contains("No opset import for domain"))
      emitWarning(fileLoc) << "ONNX checker: " << message;
    else
      result = emitError(fileLoc)
               << "ONNX checker rejected the model: " << message;
  }
  model.set_ir_version(irVersion);
  return result;
}

LogicalResult ModelImporter::runShapeInference(::onnx::ModelProto &model) {
  // ONNX 1.12's inference functions assume valid nodes and crash (null
  // dereferences, divisions by zero) on some invalid ones that no check
  // catches: inference runs in a child process, so that such a crash is an
  // error, not the end of loomc. Large initializer payloads stay in this
  // process (inference reads shapes, and data only of small tensors).
  std::vector<::onnx::TensorProto> stash;
  auto *graph = model.mutable_graph();
  std::vector<int> stashed;
  for (int i = 0; i < graph->initializer_size(); ++i) {
    ::onnx::TensorProto *t = graph->mutable_initializer(i);
    if (t->ByteSizeLong() <= 4096)
      continue;
    ::onnx::TensorProto light;
    light.set_name(t->name());
    light.set_data_type(t->data_type());
    *light.mutable_dims() = t->dims();
    stash.emplace_back();
    stash.back().Swap(t);
    t->Swap(&light);
    stashed.push_back(i);
  }
  auto restore = [&] {
    for (size_t k = 0; k < stashed.size(); ++k)
      graph->mutable_initializer(stashed[k])->Swap(&stash[k]);
  };
  int fds[2];
  if (pipe(fds) != 0) {
    restore();
    return runShapeInferenceInProcess(model);
  }
  llvm::errs().flush();
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    restore();
    return runShapeInferenceInProcess(model);
  }
  if (pid == 0) {
    close(fds[0]);
    // A crash here is reported by the parent; no stack dump from the child.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
      signal(sig, SIG_DFL);
    char status = failed(runShapeInferenceInProcess(model)) ? 1 : 0;
    std::string bytes;
    model.SerializeToString(&bytes);
    bytes.insert(bytes.begin(), status);
    const char *p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = write(fds[1], p, left);
      if (n <= 0)
        _exit(3);
      p += n;
      left -= static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string bytes;
  char buf[1 << 16];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    bytes.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  ::onnx::ModelProto inferred;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || bytes.empty() ||
      !inferred.ParseFromArray(bytes.data() + 1,
                               static_cast<int>(bytes.size() - 1))) {
    restore();
    return emitError(fileLoc)
           << "ONNX shape inference crashed on this model"
           << (WIFSIGNALED(wstatus)
                   ? " (signal " + std::to_string(WTERMSIG(wstatus)) + ")"
                   : std::string())
           << ": some node is invalid in a way ONNX 1.12 does not check";
  }
  bool typeError = bytes[0] != 0;
  model.Swap(&inferred);
  graph = model.mutable_graph();
  restore();
  return failure(typeError);
}

/// The values of a small constant int64/int32 tensor, or nullopt.
static std::optional<std::vector<int64_t>>
intsOfTensor(const ::onnx::TensorProto &t) {
  std::vector<int64_t> values;
  if (t.data_type() == ::onnx::TensorProto::INT64) {
    if (t.has_raw_data()) {
      const std::string &raw = t.raw_data();
      for (size_t i = 0; i + 8 <= raw.size(); i += 8) {
        int64_t v;
        std::memcpy(&v, raw.data() + i, 8);
        values.push_back(v);
      }
    } else {
      values.assign(t.int64_data().begin(), t.int64_data().end());
    }
  } else if (t.data_type() == ::onnx::TensorProto::INT32) {
    if (t.has_raw_data()) {
      const std::string &raw = t.raw_data();
      for (size_t i = 0; i + 4 <= raw.size(); i += 4) {
        int32_t v;
        std::memcpy(&v, raw.data() + i, 4);
        values.push_back(v);
      }
    } else {
      values.assign(t.int32_data().begin(), t.int32_data().end());
    }
  } else {
    return std::nullopt;
  }
  return values;
}

/// ONNX 1.12 infers nothing for a Slice whose starts or ends are computed
/// (a position-embedding table sliced to the sequence length), and everything
/// downstream then loses its rank. The result has the input's rank and, on
/// the axes the Slice leaves alone, the input's dims: this records that as
/// value_info of the main graph's Slice outputs without a shape. Returns true
/// when it added any (shape inference then runs again).
static bool completeSliceShapes(::onnx::GraphProto &graph) {
  std::map<std::string, const ::onnx::TypeProto *> types;
  for (const auto &v : graph.input())
    types[v.name()] = &v.type();
  for (const auto &v : graph.value_info())
    types[v.name()] = &v.type();
  for (const auto &v : graph.output())
    types[v.name()] = &v.type();
  std::map<std::string, const ::onnx::TensorProto *> constants;
  std::deque<::onnx::TypeProto> initializerTypes;
  for (const auto &t : graph.initializer()) {
    constants[t.name()] = &t;
    if (types.count(t.name()))
      continue;
    ::onnx::TypeProto_Tensor *tt =
        initializerTypes.emplace_back().mutable_tensor_type();
    tt->set_elem_type(t.data_type());
    ::onnx::TensorShapeProto *shape = tt->mutable_shape();
    for (int64_t d : t.dims())
      shape->add_dim()->set_dim_value(d);
    types[t.name()] = &initializerTypes.back();
  }
  for (const auto &node : graph.node())
    if (node.op_type() == "Constant" && node.output_size() == 1)
      for (const auto &attr : node.attribute())
        if (attr.name() == "value" && attr.has_t())
          constants[node.output(0)] = &attr.t();
  std::vector<::onnx::ValueInfoProto> added;
  for (const auto &node : graph.node()) {
    if (node.op_type() != "Slice" || node.output_size() != 1 ||
        node.input_size() < 1 || !node.domain().empty())
      continue;
    auto out = types.find(node.output(0));
    if (out != types.end() && out->second->has_tensor_type() &&
        out->second->tensor_type().has_shape())
      continue;
    auto in = types.find(node.input(0));
    if (in == types.end() || !in->second->has_tensor_type() ||
        !in->second->tensor_type().has_shape())
      continue;
    const ::onnx::TypeProto_Tensor &inType = in->second->tensor_type();
    int64_t rank = inType.shape().dim_size();
    // The sliced axes: all of them unless `axes` is a constant.
    std::vector<bool> sliced(rank, true);
    if (node.input_size() >= 4 && !node.input(3).empty()) {
      auto c = constants.find(node.input(3));
      std::optional<std::vector<int64_t>> axes;
      if (c != constants.end())
        axes = intsOfTensor(*c->second);
      if (axes) {
        sliced.assign(rank, false);
        for (int64_t a : *axes)
          if (a >= -rank && a < rank)
            sliced[a < 0 ? a + rank : a] = true;
      }
    }
    ::onnx::ValueInfoProto info;
    info.set_name(node.output(0));
    ::onnx::TypeProto_Tensor *t = info.mutable_type()->mutable_tensor_type();
    t->set_elem_type(inType.elem_type());
    ::onnx::TensorShapeProto *shape = t->mutable_shape();
    for (int64_t i = 0; i < rank; ++i) {
      ::onnx::TensorShapeProto_Dimension *d = shape->add_dim();
      if (!sliced[i])
        *d = inType.shape().dim(i);
    }
    added.push_back(std::move(info));
  }
  for (auto &info : added)
    *graph.add_value_info() = std::move(info);
  return !added.empty();
}

/// ONNX 1.12 gives a Loop's sequence outputs no element shape, so the
/// ConcatFromSequence that stacks the steps of a scripted loop (torch's
/// `torch.stack(list)`) and everything after it lose their rank. The body
/// output that the sequence comes from has its element rank r: the stacked
/// tensor has rank r + new_axis. This records that (dims unknown) as
/// value_info of the main graph's ConcatFromSequence outputs without a shape.
/// Returns true when it added any.
static bool completeStackedLoopShapes(::onnx::GraphProto &graph) {
  std::map<std::string, const ::onnx::TypeProto *> types;
  for (const auto &v : graph.value_info())
    types[v.name()] = &v.type();
  for (const auto &v : graph.output())
    types[v.name()] = &v.type();
  // Loop output name -> the body output it comes from.
  std::map<std::string, const ::onnx::ValueInfoProto *> fromBody;
  for (const auto &node : graph.node()) {
    if (node.op_type() != "Loop" || !node.domain().empty())
      continue;
    for (const auto &attr : node.attribute()) {
      if (attr.name() != "body" || !attr.has_g())
        continue;
      int carried = node.input_size() - 2;
      for (int k = 0; k < carried && k < node.output_size() &&
                      k + 1 < attr.g().output_size();
           ++k)
        fromBody[node.output(k)] = &attr.g().output(k + 1);
    }
  }
  std::vector<::onnx::ValueInfoProto> added;
  for (const auto &node : graph.node()) {
    if (node.op_type() != "ConcatFromSequence" || node.output_size() != 1 ||
        node.input_size() != 1 || !node.domain().empty())
      continue;
    auto out = types.find(node.output(0));
    if (out != types.end() && out->second->has_tensor_type() &&
        out->second->tensor_type().has_shape())
      continue;
    auto body = fromBody.find(node.input(0));
    if (body == fromBody.end() || !body->second->type().has_sequence_type())
      continue;
    const ::onnx::TypeProto &elem =
        body->second->type().sequence_type().elem_type();
    if (!elem.has_tensor_type() || !elem.tensor_type().has_shape())
      continue;
    int64_t newAxis = 0;
    for (const auto &attr : node.attribute())
      if (attr.name() == "new_axis")
        newAxis = attr.i() != 0;
    ::onnx::ValueInfoProto info;
    info.set_name(node.output(0));
    ::onnx::TypeProto_Tensor *t = info.mutable_type()->mutable_tensor_type();
    t->set_elem_type(elem.tensor_type().elem_type());
    ::onnx::TensorShapeProto *shape = t->mutable_shape();
    for (int64_t i = 0; i < elem.tensor_type().shape().dim_size() + newAxis;
         ++i)
      shape->add_dim();
    added.push_back(std::move(info));
  }
  for (auto &info : added)
    *graph.add_value_info() = std::move(info);
  return !added.empty();
}

LogicalResult
ModelImporter::runShapeInferenceInProcess(::onnx::ModelProto &model) {
  LogicalResult result = runOnnxShapeInference(model);
  // Each round gives ranks to Slices and stacked loop outputs whose input
  // gained one in the last.
  auto complete = [&] {
    bool slices = completeSliceShapes(*model.mutable_graph());
    bool stacked = completeStackedLoopShapes(*model.mutable_graph());
    return slices || stacked;
  };
  for (int round = 0; round < 8 && succeeded(result) && complete(); ++round)
    result = runOnnxShapeInference(model);
  return result;
}

LogicalResult ModelImporter::runOnnxShapeInference(::onnx::ModelProto &model) {
  int64_t irVersion = model.ir_version();
  if (irVersion > kCheckerMaxIrVersion)
    model.set_ir_version(kCheckerMaxIrVersion);
  bool newerOpset = opsetFor("") > kMaxKnownOpset;
  LogicalResult result = success();
  // Strict first, to catch type errors; lenient where the opset is newer than
  // ONNX 1.12's schemas, whose inference may then legitimately disagree.
  try {
    ::onnx::ShapeInferenceOptions strict(/*check_type=*/true,
                                         /*error_mode=*/newerOpset ? 0 : 1,
                                         /*data_prop=*/true);
    ::onnx::shape_inference::InferShapes(
        model, ::onnx::OpSchemaRegistry::Instance(), strict);
  } catch (const std::exception &e) {
    std::string message = e.what();
    if (StringRef(message).contains("TypeInferenceError") ||
        StringRef(message).contains("type mismatch") ||
        StringRef(message).contains("inconsistent type") ||
        StringRef(message).contains("Type Error")) {
      result = emitError(fileLoc) << "type error: " << message;
    } else {
      emitWarning(fileLoc) << "ONNX shape inference stopped (" << message
                           << "); continuing with what it found";
      try {
        ::onnx::ShapeInferenceOptions lenient(false, 0, false);
        ::onnx::shape_inference::InferShapes(
            model, ::onnx::OpSchemaRegistry::Instance(), lenient);
      } catch (const std::exception &) {
      }
    }
  }
  model.set_ir_version(irVersion);
  return result;
}

OwningOpRef<ModuleOp> ModelImporter::run(::onnx::ModelProto &model,
                                         StringRef baseDir) {
  for (const auto &opset : model.opset_import()) {
    std::string domain = opset.domain() == "ai.onnx" ? "" : opset.domain();
    opsets[domain] = opset.version();
  }
  if (!model.has_graph()) {
    emitError(fileLoc) << "the model has no graph";
    return nullptr;
  }
  if (int64_t opset = opsetFor(""); opset > kMaxSupportedOpset) {
    emitError(fileLoc) << "the model imports opset " << opset
                       << " of the default ONNX domain; Loom supports opsets "
                          "up to "
                       << kMaxSupportedOpset;
    return nullptr;
  }
  if (failed(loadAllExternalData(*model.mutable_graph(), baseDir)) ||
      failed(validateGraph(model.graph(), {})))
    return nullptr;
  if (options.runChecker && failed(runChecker(model)))
    return nullptr;
  if (options.runShapeInference && failed(runShapeInference(model)))
    return nullptr;

  const ::onnx::GraphProto &graph = model.graph();
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  SmallVector<NamedAttribute> opsetAttrs;
  for (const auto &[domain, version] : opsets)
    opsetAttrs.push_back(
        builder.getNamedAttr(domain.empty() ? "ai.onnx" : domain,
                             builder.getI64IntegerAttr(version)));
  (*module)->setAttr("onnx.opset_import",
                     builder.getDictionaryAttr(opsetAttrs));
  (*module)->setAttr("onnx.ir_version",
                     builder.getI64IntegerAttr(model.ir_version()));
  if (!model.producer_name().empty())
    (*module)->setAttr(
        "onnx.producer",
        builder.getStringAttr(
            StringRef(model.producer_name() + " " + model.producer_version())
                .trim()));

  // Graph inputs that are also initializers are constants (IR < 4 style).
  llvm::StringSet<> initializerNames;
  for (const auto &t : graph.initializer())
    initializerNames.insert(t.name());
  collectTypes(graph);

  SmallVector<Type> argTypes;
  SmallVector<const ::onnx::ValueInfoProto *> args;
  for (const auto &input : graph.input()) {
    if (initializerNames.contains(input.name()))
      continue;
    std::string error;
    Type type = loom::detail::convertType(ctx, input.type(), error);
    if (!type) {
      emitError(fileLoc) << "graph input '" << input.name() << "': " << error;
      return nullptr;
    }
    argTypes.push_back(type);
    args.push_back(&input);
  }

  auto block = std::make_unique<Block>();
  Scope scope;
  for (auto [type, input] : llvm::zip(argTypes, args))
    scope.values[input->name()] = block->addArgument(type, fileLoc);
  SmallVector<Value> outputs;
  if (failed(importGraph(graph, block.get(), scope, outputs)))
    return nullptr;

  builder.setInsertionPointToEnd(block.get());
  func::ReturnOp::create(builder, fileLoc, outputs);
  auto funcType =
      builder.getFunctionType(argTypes, ValueRange(outputs).getTypes());
  builder.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(builder, fileLoc, "main", funcType);
  func.getBody().push_back(block.release());

  // Names and symbolic dimensions of the signature.
  for (auto [i, input] : llvm::enumerate(args)) {
    func.setArgAttr(i, "onnx.name", builder.getStringAttr(input->name()));
    if (input->type().has_tensor_type() &&
        input->type().tensor_type().has_shape()) {
      SmallVector<Attribute> params;
      bool any = false;
      for (const auto &dim : input->type().tensor_type().shape().dim()) {
        params.push_back(builder.getStringAttr(dim.dim_param()));
        any |= !dim.dim_param().empty();
      }
      if (any)
        func.setArgAttr(i, "onnx.dim_params", builder.getArrayAttr(params));
    }
  }
  for (auto [i, output] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "onnx.name", builder.getStringAttr(output.name()));

  if (failed(verify(*module))) {
    emitError(fileLoc) << "internal error: the imported module does not verify";
    return nullptr;
  }
  return module;
}

//===----------------------------------------------------------------------===//
// Graph-level import
//===----------------------------------------------------------------------===//

void ModelImporter::collectTypes(const ::onnx::GraphProto &graph) {
  for (const auto &v : graph.input())
    types[v.name()] = &v.type();
  for (const auto &v : graph.value_info())
    types[v.name()] = &v.type();
  for (const auto &v : graph.output())
    if (v.has_type())
      types[v.name()] = &v.type();
  for (const auto &node : graph.node())
    for (const auto &attr : node.attribute()) {
      if (attr.has_g())
        collectTypes(attr.g());
      for (const auto &g : attr.graphs())
        collectTypes(g);
    }
}

Type ModelImporter::lookupType(StringRef name, Location loc, bool &failed) {
  auto it = types.find(name);
  if (it == types.end())
    return onnxir::UnknownType::get(ctx);
  std::string error;
  Type type = loom::detail::convertType(ctx, *it->second, error);
  if (!type) {
    emitError(loc) << "value '" << name << "': " << error;
    failed = true;
  }
  return type;
}

Value ModelImporter::importInitializer(const ::onnx::TensorProto &tensor) {
  std::string error;
  ElementsAttr attr = loom::detail::convertTensor(
      ctx, tensor, options.inlineElementLimit, error);
  Location loc = NameLoc::get(builder.getStringAttr(tensor.name()), fileLoc);
  if (!attr) {
    emitError(loc) << "initializer '" << tensor.name() << "' " << error;
    return nullptr;
  }
  Type elem = attr.getElementType();
  if (elem.isSignlessIntOrFloat())
    return arith::ConstantOp::create(builder, loc, cast<TypedAttr>(attr));
  // Unsigned, complex and string tensors: keep them as a Constant node.
  auto holder = onnxir::NodeOp::create(
      builder, loc, TypeRange{attr.getType()}, ValueRange{},
      builder.getStringAttr("Constant"), builder.getStringAttr(""),
      builder.getI64IntegerAttr(std::max<int64_t>(opsetFor(""), 1)),
      builder.getDictionaryAttr(builder.getNamedAttr("value", attr)),
      ArrayAttr(), 0);
  return holder->getResult(0);
}

LogicalResult ModelImporter::importGraph(const ::onnx::GraphProto &graph,
                                         Block *block, Scope &scope,
                                         SmallVectorImpl<Value> &outputs) {
  builder.setInsertionPointToEnd(block);
  for (const auto &tensor : graph.initializer()) {
    Value value = importInitializer(tensor);
    if (!value)
      return failure();
    scope.values[tensor.name()] = value;
  }
  int64_t cycleNode;
  SmallVector<size_t> order = topologicalOrder(graph, cycleNode);
  for (size_t index : order) {
    builder.setInsertionPointToEnd(block);
    if (failed(importNode(graph.node(index), index, scope, block)))
      return failure();
  }
  for (const auto &output : graph.output()) {
    Value value = scope.lookup(output.name());
    if (!value)
      return emitError(fileLoc)
             << "graph output '" << output.name() << "' is not produced";
    outputs.push_back(value);
  }
  return success();
}

Attribute ModelImporter::importAttribute(const ::onnx::AttributeProto &attr,
                                         Location loc, bool &failed) {
  auto tensorAttr = [&](const ::onnx::TensorProto &t) -> Attribute {
    std::string error;
    ElementsAttr value =
        loom::detail::convertTensor(ctx, t, options.inlineElementLimit, error);
    if (!value) {
      emitError(loc) << "attribute '" << attr.name() << "': tensor " << error;
      failed = true;
    }
    return value;
  };
  auto sparseAttr = [&](const ::onnx::SparseTensorProto &s) -> Attribute {
    Attribute values = tensorAttr(s.values());
    Attribute indices = tensorAttr(s.indices());
    SmallVector<int64_t> dims(s.dims().begin(), s.dims().end());
    if (!values || !indices)
      return nullptr;
    return builder.getDictionaryAttr(
        {builder.getNamedAttr("values", values),
         builder.getNamedAttr("indices", indices),
         builder.getNamedAttr("dims", builder.getDenseI64ArrayAttr(dims))});
  };
  auto typeAttr = [&](const ::onnx::TypeProto &t) -> Attribute {
    std::string error;
    Type type = loom::detail::convertType(ctx, t, error);
    if (!type) {
      emitError(loc) << "attribute '" << attr.name() << "': " << error;
      failed = true;
      return nullptr;
    }
    return TypeAttr::get(type);
  };

  // Old models leave `type` unset; fall back on the field that holds data.
  auto kind = attr.type();
  if (kind == ::onnx::AttributeProto::UNDEFINED) {
    if (attr.has_f())
      kind = ::onnx::AttributeProto::FLOAT;
    else if (attr.has_i())
      kind = ::onnx::AttributeProto::INT;
    else if (attr.has_s())
      kind = ::onnx::AttributeProto::STRING;
    else if (attr.has_t())
      kind = ::onnx::AttributeProto::TENSOR;
    else if (attr.floats_size())
      kind = ::onnx::AttributeProto::FLOATS;
    else if (attr.ints_size())
      kind = ::onnx::AttributeProto::INTS;
    else if (attr.strings_size())
      kind = ::onnx::AttributeProto::STRINGS;
  }
  if (!attr.ref_attr_name().empty())
    return builder.getStringAttr("@" + attr.ref_attr_name());

  switch (kind) {
  case ::onnx::AttributeProto::FLOAT:
    return builder.getF32FloatAttr(attr.f());
  case ::onnx::AttributeProto::INT:
    return builder.getI64IntegerAttr(attr.i());
  case ::onnx::AttributeProto::STRING:
    return builder.getStringAttr(attr.s());
  case ::onnx::AttributeProto::TENSOR:
    return tensorAttr(attr.t());
  case ::onnx::AttributeProto::SPARSE_TENSOR:
    return sparseAttr(attr.sparse_tensor());
  case ::onnx::AttributeProto::TYPE_PROTO:
    return typeAttr(attr.tp());
  case ::onnx::AttributeProto::FLOATS: {
    SmallVector<float> values(attr.floats().begin(), attr.floats().end());
    return builder.getDenseF32ArrayAttr(values);
  }
  case ::onnx::AttributeProto::INTS: {
    SmallVector<int64_t> values(attr.ints().begin(), attr.ints().end());
    return builder.getDenseI64ArrayAttr(values);
  }
  case ::onnx::AttributeProto::STRINGS: {
    SmallVector<Attribute> values;
    for (const auto &s : attr.strings())
      values.push_back(builder.getStringAttr(s));
    return builder.getArrayAttr(values);
  }
  case ::onnx::AttributeProto::TENSORS: {
    SmallVector<Attribute> values;
    for (const auto &t : attr.tensors())
      values.push_back(tensorAttr(t));
    return failed ? nullptr : builder.getArrayAttr(values);
  }
  case ::onnx::AttributeProto::SPARSE_TENSORS: {
    SmallVector<Attribute> values;
    for (const auto &s : attr.sparse_tensors())
      values.push_back(sparseAttr(s));
    return failed ? nullptr : builder.getArrayAttr(values);
  }
  case ::onnx::AttributeProto::TYPE_PROTOS: {
    SmallVector<Attribute> values;
    for (const auto &t : attr.type_protos())
      values.push_back(typeAttr(t));
    return failed ? nullptr : builder.getArrayAttr(values);
  }
  default:
    emitError(loc) << "attribute '" << attr.name() << "' has unknown type "
                   << static_cast<int>(attr.type());
    failed = true;
    return nullptr;
  }
}

LogicalResult ModelImporter::importNode(const ::onnx::NodeProto &node,
                                        size_t index, Scope &scope,
                                        Block *block) {
  Location loc = nodeLoc(node, index);
  SmallVector<Value> inputs;
  for (const auto &name : node.input()) {
    if (name.empty()) {
      Value &none = noneValues[block];
      if (!none) {
        OpBuilder::InsertionGuard guard(builder);
        builder.setInsertionPointToStart(block);
        none = onnxir::NoneOp::create(builder, fileLoc, builder.getNoneType());
      }
      inputs.push_back(none);
      continue;
    }
    Value value = scope.lookup(name);
    if (!value)
      return emitError(loc) << describe(node, index) << " reads value '" << name
                            << "' that nothing produces";
    inputs.push_back(value);
  }

  bool failedAttr = false;
  SmallVector<NamedAttribute> attrs;
  SmallVector<const ::onnx::GraphProto *> subgraphs;
  SmallVector<Attribute> subgraphNames;
  for (const auto &attr : node.attribute()) {
    if (attr.has_g() || attr.type() == ::onnx::AttributeProto::GRAPH) {
      subgraphs.push_back(&attr.g());
      subgraphNames.push_back(builder.getStringAttr(attr.name()));
      continue;
    }
    if (attr.graphs_size()) {
      for (auto [i, g] : llvm::enumerate(attr.graphs())) {
        subgraphs.push_back(&g);
        subgraphNames.push_back(
            builder.getStringAttr(attr.name() + "[" + std::to_string(i) + "]"));
      }
      continue;
    }
    Attribute value = importAttribute(attr, loc, failedAttr);
    if (value)
      attrs.push_back(builder.getNamedAttr(attr.name(), value));
  }
  if (failedAttr)
    return failure();

  SmallVector<Type> resultTypes;
  bool failedType = false;
  for (const auto &name : node.output())
    resultTypes.push_back(name.empty() ? Type(NoneType::get(ctx))
                                       : lookupType(name, loc, failedType));
  if (failedType)
    return failure();

  int64_t opset = opsetFor(node.domain());
  if (opset <= 0) {
    emitWarning(loc) << describe(node, index) << " uses domain '"
                     << node.domain()
                     << "' that the model does not import; assuming opset 1";
    opset = 1;
  }
  auto op = onnxir::NodeOp::create(
      builder, loc, resultTypes, inputs, builder.getStringAttr(node.op_type()),
      builder.getStringAttr(node.domain() == "ai.onnx" ? "" : node.domain()),
      builder.getI64IntegerAttr(opset), builder.getDictionaryAttr(attrs),
      subgraphs.empty() ? ArrayAttr() : builder.getArrayAttr(subgraphNames),
      subgraphs.size());

  for (auto [region, graph] : llvm::zip(op.getBodies(), subgraphs)) {
    Block *body = new Block();
    region.push_back(body);
    Scope inner;
    inner.parent = &scope;
    for (const auto &input : graph->input()) {
      std::string error;
      Type type = loom::detail::convertType(ctx, input.type(), error);
      if (!type)
        return emitError(loc) << describe(node, index) << " subgraph input '"
                              << input.name() << "': " << error;
      inner.values[input.name()] = body->addArgument(type, loc);
    }
    SmallVector<Value> outputs;
    {
      OpBuilder::InsertionGuard guard(builder);
      if (failed(importGraph(*graph, body, inner, outputs)))
        return failure();
      builder.setInsertionPointToEnd(body);
      onnxir::YieldOp::create(builder, loc, outputs);
    }
  }

  for (auto [name, result] : llvm::zip(node.output(), op.getResults()))
    if (!name.empty())
      scope.values[name] = result;
  return success();
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

OwningOpRef<ModuleOp> loom::importOnnxBuffer(MLIRContext *context,
                                             StringRef bytes,
                                             StringRef bufferName,
                                             StringRef baseDir,
                                             const OnnxImportOptions &options) {
  context->loadDialect<onnxir::OnnxDialect, func::FuncDialect,
                       arith::ArithDialect>();
  Location fileLoc = FileLineColLoc::get(context, bufferName, 0, 0);
  if (bytes.empty()) {
    emitError(fileLoc) << "not an ONNX model: the file is empty";
    return nullptr;
  }
  ::onnx::ModelProto model;
  {
    google::protobuf::io::CodedInputStream stream(
        reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
    stream.SetTotalBytesLimit(INT32_MAX);
    if (!model.ParseFromCodedStream(&stream) ||
        !stream.ConsumedEntireMessage()) {
      emitError(fileLoc) << "not an ONNX model: the protobuf data is "
                            "truncated or malformed";
      return nullptr;
    }
  }
  ModelImporter importer(context, bufferName, options);
  return importer.run(model, baseDir);
}

OwningOpRef<ModuleOp> loom::importOnnxFile(MLIRContext *context, StringRef path,
                                           const OnnxImportOptions &options) {
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file) {
    emitError(FileLineColLoc::get(context, path, 0, 0))
        << "cannot read '" << path << "': " << file.getError().message();
    return nullptr;
  }
  SmallString<256> baseDir(path);
  llvm::sys::path::remove_filename(baseDir);
  if (baseDir.empty())
    baseDir = ".";
  return importOnnxBuffer(context, (*file)->getBuffer(), path, baseDir,
                          options);
}
