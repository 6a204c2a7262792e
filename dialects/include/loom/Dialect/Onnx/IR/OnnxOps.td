//===- OnnxOps.td - ONNX holder dialect --------------------*- tablegen -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_DIALECT_ONNX_IR_ONNXOPS_TD
#define LOOM_DIALECT_ONNX_IR_ONNXOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

def Onnx_Dialect : Dialect {
  let name = "onnx";
  let cppNamespace = "::loom::onnxir";
  let summary = "Imported ONNX nodes, before legalization";
  let description = [{
    Stage 1 of the ONNX importer turns every ONNX node, known or not, into one
    generic `onnx.node` op that keeps everything the node said: its domain, op
    type, the opset version of its domain, its attributes, and its subgraphs
    as regions. Stage 2 (`loom-onnx-to-loom`) legalizes these holder ops.
  }];
  let useDefaultTypePrinterParser = 1;
}

class Onnx_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Onnx_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Onnx_StringType : Onnx_Type<"String", "string"> {
  let summary = "ONNX string element type";
  let description = "The element type of ONNX `string` tensors.";
}

def Onnx_SeqType : Onnx_Type<"Seq", "seq"> {
  let summary = "ONNX sequence";
  let description = "An ONNX sequence of values of one type, e.g. `!onnx.seq<tensor<?xf32>>`.";
  let parameters = (ins "::mlir::Type":$elementType);
  let assemblyFormat = "`<` $elementType `>`";
}

def Onnx_OptType : Onnx_Type<"Opt", "opt"> {
  let summary = "ONNX optional";
  let description = "An ONNX optional value, e.g. `!onnx.opt<tensor<4xf32>>`.";
  let parameters = (ins "::mlir::Type":$elementType);
  let assemblyFormat = "`<` $elementType `>`";
}

def Onnx_MapType : Onnx_Type<"Map", "map"> {
  let summary = "ONNX map";
  let description = "An ONNX map from keys to values, e.g. `!onnx.map<i64, tensor<f32>>`.";
  let parameters = (ins "::mlir::Type":$keyType, "::mlir::Type":$valueType);
  let assemblyFormat = "`<` $keyType `,` $valueType `>`";
}

def Onnx_UnknownType : Onnx_Type<"Unknown", "unknown"> {
  let summary = "a value whose type ONNX type inference left open";
  let description = [{
    The type of a node output that neither the model nor ONNX shape inference
    types, e.g. the outputs of ops in a domain ONNX does not know.
  }];
}

class Onnx_Op<string mnemonic, list<Trait> traits = []>
    : Op<Onnx_Dialect, mnemonic, traits>;

def Onnx_NodeOp : Onnx_Op<"node", [RecursiveMemoryEffects]> {
  let summary = "an imported ONNX node, held until legalization";
  let description = [{
    One ONNX node. `op_type`, `domain` (`""` is the default ONNX domain) and
    `opset` (the model's opset version for that domain) select the handler
    that legalizes it. `attrs` holds the node's ONNX attributes: `f32` floats,
    `i64` integers, strings, dense tensors, `array<f32: ...>`/`array<i64: ...>`
    lists. Graph attributes (the bodies of `If`, `Loop`, `Scan`) become
    regions, in the order named by `subgraphs`; each region has one block whose
    arguments are the subgraph inputs and which ends in `onnx.yield`. Missing
    optional inputs are `onnx.none` values. The location is the node's name.

    Example:

    ```mlir
    %y = onnx.node "Softmax"(%x) {domain = "", opset = 17 : i64,
                                  attrs = {axis = -1 : i64}}
        : (tensor<?x16xf32>) -> tensor<?x16xf32> loc("softmax_0")
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs, StrAttr:$op_type,
                       StrAttr:$domain, I64Attr:$opset,
                       DictionaryAttr:$attrs,
                       OptionalAttr<StrArrayAttr>:$subgraphs);
  let results = (outs Variadic<AnyType>:$outputs);
  let regions = (region VariadicRegion<AnyRegion>:$bodies);
  let assemblyFormat = [{
    $op_type `(` $inputs `)` attr-dict-with-keyword ($bodies^)? `:` functional-type($inputs, $outputs)
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// Returns the ONNX attribute `name`, or null.
    ::mlir::Attribute getOnnxAttr(::llvm::StringRef name) {
      return getAttrs().get(name);
    }
  }];
}

def Onnx_NoneOp : Onnx_Op<"none", [Pure]> {
  let summary = "a missing optional ONNX input";
  let description = [{
    Stands for an optional input that a node leaves out (an empty input name).

    ```mlir
    %none = onnx.none
    ```
  }];
  let results = (outs NoneType:$result);
  let assemblyFormat = "attr-dict";
}

def Onnx_YieldOp : Onnx_Op<"yield", [Pure, Terminator, ReturnLike,
    ParentOneOf<["NodeOp"]>]> {
  let summary = "the outputs of an ONNX subgraph";
  let description = [{
    Ends a subgraph region of `onnx.node`; its operands are the subgraph's
    outputs.

    ```mlir
    onnx.yield %a, %b : tensor<f32>, tensor<4xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // LOOM_DIALECT_ONNX_IR_ONNXOPS_TD
