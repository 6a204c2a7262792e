//===- HandlerRegistryTest.cpp - Importer helper tests --------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Conversion/OnnxToLoom/OnnxToLoom.h"
#include "loom/Importer/Onnx/OnnxImporter.h"
#include "loom/InitAll.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace loom;

namespace {

/// A handler that records which registration ran.
OnnxHandler tagged(int *slot, int tag) {
  return [slot, tag](OpBinder &, RewriterBase &) {
    *slot = tag;
    return success();
  };
}

TEST(OnnxHandlerRegistry, PicksHighestSinceVersionNotAboveOpset) {
  OnnxHandlerRegistry registry;
  int ran = 0;
  registry.add("Softmax", 1, tagged(&ran, 1));
  registry.add("Softmax", 13, tagged(&ran, 13));
  EXPECT_EQ(registry.lookup("", "Softmax", 0), nullptr);
  for (auto [opset, want] : {std::pair{1, 1}, {11, 1}, {12, 1}, {13, 13},
                             {17, 13}, {21, 13}}) {
    const OnnxHandler *h = registry.lookup("", "Softmax", opset);
    ASSERT_NE(h, nullptr) << opset;
    MLIRContext ctx;
    IRRewriter rewriter(&ctx);
    OpBinder binder(nullptr);
    ASSERT_TRUE(succeeded((*h)(binder, rewriter)));
    EXPECT_EQ(ran, want) << "opset " << opset;
  }
}

TEST(OnnxHandlerRegistry, KeysIncludeTheDomain) {
  OnnxHandlerRegistry registry;
  int ran = 0;
  registry.add("com.microsoft", "Gelu", 1, tagged(&ran, 1));
  EXPECT_EQ(registry.lookup("", "Gelu", 20), nullptr);
  EXPECT_NE(registry.lookup("com.microsoft", "Gelu", 1), nullptr);
  EXPECT_EQ(registry.lookup("com.microsoft", "Attention", 1), nullptr);
}

TEST(OnnxHandlerRegistry, DefaultSetCoversTheFoundationOps) {
  OnnxHandlerRegistry registry;
  populateAllOnnxHandlers(registry);
  for (const char *op : {"MatMul", "Add", "Mul", "Div", "Softmax", "Transpose",
                         "Reshape", "LayerNormalization", "Erf"})
    EXPECT_NE(registry.lookup("", op, 17), nullptr) << op;
  // Before opset 7, Add had legacy broadcast attributes: no handler.
  EXPECT_EQ(registry.lookup("", "Add", 6), nullptr);
}

/// Collects diagnostics of a context.
struct Diagnostics {
  explicit Diagnostics(MLIRContext &ctx)
      : handler(&ctx, [this](Diagnostic &d) {
          std::string s;
          llvm::raw_string_ostream os(s);
          os << d.getLocation() << ": " << d;
          messages.push_back(s);
          return success();
        }) {}
  ScopedDiagnosticHandler handler;
  std::vector<std::string> messages;
};

TEST(OnnxImporter, RejectsEmptyAndGarbageBuffers) {
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext ctx(registry);
  Diagnostics diags(ctx);
  EXPECT_FALSE(importOnnxBuffer(&ctx, "", "empty.onnx", "."));
  ASSERT_EQ(diags.messages.size(), 1u);
  EXPECT_NE(diags.messages[0].find("empty.onnx"), std::string::npos);
  EXPECT_NE(diags.messages[0].find("the file is empty"), std::string::npos);

  diags.messages.clear();
  std::string garbage = "\xff\xff\xff\xff garbage that is not protobuf";
  EXPECT_FALSE(importOnnxBuffer(&ctx, garbage, "garbage.onnx", "."));
  ASSERT_EQ(diags.messages.size(), 1u);
  EXPECT_NE(diags.messages[0].find("truncated or malformed"), std::string::npos);
}

} // namespace
