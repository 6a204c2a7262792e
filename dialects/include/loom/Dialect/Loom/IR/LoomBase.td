//===- LoomBase.td - Loom dialect definition ---------------*- tablegen -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_DIALECT_LOOM_IR_LOOMBASE_TD
#define LOOM_DIALECT_LOOM_IR_LOOMBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Loom_Dialect : Dialect {
  let name = "loom";
  let cppNamespace = "::loom";
  let summary = "Named transformer computations: attention, norms, activations";
  let description = [{
    The `loom` dialect holds the computations of transformer models that
    deserve a name of their own because later passes tile, fuse or quantize
    them as units: attention (with masks, causal masking and grouped-query
    heads), layer and RMS normalization, GELU. Ops work on ranked tensors,
    verify their operand shapes, and infer their result types.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class Loom_Op<string mnemonic, list<Trait> traits = []>
    : Op<Loom_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Loom_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "approximation used by loom.gelu", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Tanh", 1, "tanh">
    ]> {
  let cppNamespace = "::loom";
  let genSpecializedAttr = 0;
}

def Loom_GeluApproximationAttr
    : EnumAttr<Loom_Dialect, Loom_GeluApproximation, "gelu_approximation"> {
  let assemblyFormat = "`<` $value `>`";
}

def Loom_ScanKind : I32EnumAttr<"ScanKind",
    "the linear recurrence computed by loom.scan", [
      I32EnumAttrCase<"Diagonal", 0, "diagonal">,
      I32EnumAttrCase<"Linear", 1, "linear">,
      I32EnumAttrCase<"Gated", 2, "gated">,
      I32EnumAttrCase<"Delta", 3, "delta">
    ]> {
  let cppNamespace = "::loom";
  let genSpecializedAttr = 0;
}

def Loom_ScanKindAttr : EnumAttr<Loom_Dialect, Loom_ScanKind, "scan_kind"> {
  let assemblyFormat = "`<` $value `>`";
}

def Loom_Activation : I32EnumAttr<"Activation",
    "the activation between the two layers of an expert of loom.moe", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Relu", 1, "relu">,
      I32EnumAttrCase<"Gelu", 2, "gelu">,
      I32EnumAttrCase<"GeluTanh", 3, "gelu_tanh">,
      I32EnumAttrCase<"Silu", 4, "silu">
    ]> {
  let cppNamespace = "::loom";
  let genSpecializedAttr = 0;
}

def Loom_ActivationAttr : EnumAttr<Loom_Dialect, Loom_Activation, "activation"> {
  let assemblyFormat = "`<` $value `>`";
}

#endif // LOOM_DIALECT_LOOM_IR_LOOMBASE_TD
