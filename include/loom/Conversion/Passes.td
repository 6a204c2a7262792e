//===- Passes.td - Loom conversion passes ------------------*- tablegen -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_CONVERSION_PASSES_TD
#define LOOM_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// LoomToLinalg
//===----------------------------------------------------------------------===//

def LoomToLinalgPass : Pass<"loom-to-linalg"> {
  let summary = "Lower loom ops (and aggregated linalg ops) to linalg.generic";
  let description = [{
    The reference lowering of the loom dialect on tensors: `loom.layer_norm`
    and `loom.rms_norm` become reductions plus one elementwise op,
    `loom.gelu` one elementwise op (erf or tanh form), `loom.attention`
    Q@K^T, scale/mask/causal masking, softmax and @V with grouped-query heads
    mapped by `floordiv`. `loom.scan` becomes its sequential form: an
    `scf.forall` over batch and head (for `diagonal`, batch and tiles of 64
    channels) around an `scf.for` over time that carries the state; `linear`
    and `gated` scans longer than `scan-chunk` steps get the chunked-parallel
    form instead (GLA): an `scf.for` over chunks whose work is contractions
    (Q S + tril(Q K^T) V, S + K^T V, with in-chunk cumulative decays for the
    gated kind, and a chunk too strongly decayed for fp32 run step by step);
    `delta` scans longer than `scan-chunk-delta` steps (0 by default) get
    DeltaNet's chunked form (a forward substitution for the WY pseudo values,
    then the linear chunk).
    `loom.moe` becomes a call of the runtime's routed mixture-of-experts
    kernel on the operands' buffers. Ops with `AggregatedOpInterface` (`linalg.softmax`)
    are decomposed, so only structured ops remain, except that with
    `softmax-calls` (GPU) an f32 softmax over the last axis becomes a call
    of `loomrt_norm_f32` with kind 2 (see `loom-norm-calls`).
  }];
  let options = [
    Option<"scanChunk", "scan-chunk", "int64_t", /*default=*/"64",
           "Time steps per chunk of a linear or gated scan's chunked form "
           "(0: sequential)">,
    Option<"scanChunkDelta", "scan-chunk-delta", "int64_t", /*default=*/"0",
           "Time steps per chunk of a delta scan's chunked form (0: "
           "sequential, the default: ~3x the FLOPs, slower on CPUs)">,
    Option<"softmaxCalls", "softmax-calls", "bool", /*default=*/"false",
           "GPU: f32 softmax over the last axis (ONNX Softmax, attention's "
           "reference form) becomes a call of loomrt_norm_f32 with kind 2, "
           "for loom-gpu-norms' row kernel, instead of being decomposed">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

//===----------------------------------------------------------------------===//
// RaiseAttention
//===----------------------------------------------------------------------===//

def RaiseAttentionPass : Pass<"loom-raise-attention"> {
  let summary = "Raise decomposed attention in the imported graph to loom.attention";
  let description = [{
    Matches `MatMul(Softmax(mask(scale(MatMul(Q, K^T))), axis=-1), V)` on
    the `onnx.node` holder ops, before legalization: the scale is any chain
    of Mul/Div by scalar constants on the scores, Q or K^T; the mask an Add
    of a float tensor or a Where with a -inf (or below -1e4) fill. A Where
    whose condition is Trilu(upper=1, k=1) of an all-true square matrix (or
    Where(Trilu(upper=0, k=0), scores, -inf)) becomes `causal`; other masks
    become an additive mask operand. K^T produced by a Transpose becomes the
    key operand through the Transpose with the last two axes swapped. The
    replaced holder ops are erased.
  }];
  let dependentDialects = [
    "::loom::LoomDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

//===----------------------------------------------------------------------===//
// RaiseNormsAndGelu
//===----------------------------------------------------------------------===//

def RaiseNormsAndGeluPass : Pass<"loom-raise-norms-and-gelu"> {
  let summary = "Raise LayerNorm, RMSNorm, GELU and SiLU chains in the imported graph to loom ops";
  let description = [{
    On the `onnx.node` holder ops, before legalization:
    `d / Sqrt(ReduceMean(Pow(d, 2)) + eps)` with `d = x - ReduceMean(x)`
    becomes `loom.layer_norm` (folding a following `* gamma + beta` with
    constant parameters over the normalized dims); without the centering,
    or as `x * Reciprocal(Sqrt(...))`, `loom.rms_norm` (folding `* weight`).
    The reductions must be over trailing axes with keepdims.
    `x * 0.5 * (1 + Erf(x / sqrt(2)))` (factors in any order, `/ sqrt(2)` or
    `* (1/sqrt(2))`) becomes `loom.gelu`; the tanh form
    `x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))` becomes
    `loom.gelu` with `approximate = tanh`. `Mul(x, Sigmoid(x))` (either
    order) becomes `loom.silu`. The replaced holder ops are erased.
  }];
  let dependentDialects = [
    "::loom::LoomDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

//===----------------------------------------------------------------------===//
// RaiseScans
//===----------------------------------------------------------------------===//

def RaiseScansPass : Pass<"loom-raise-scans"> {
  let summary = "Raise recurrences in the imported graph to loom.scan";
  let description = [{
    On the `onnx.node` holder ops, before legalization: causal linear
    attention written with a cumulative sum,
    `Squeeze(MatMul(Unsqueeze(q, -2), CumSum(Unsqueeze(k, -1) *
    Unsqueeze(v, -2), axis=2)), -2)` or the same readout as
    `Einsum("bhtd,bhtde->bhte", q, S)`, becomes `loom.scan <linear> q, k, v`
    (q, k, v of shape [B, H, T, D]), which never builds the
    [B, H, T, Dk, Dv] tensor of running states. Mamba's selective scan as a
    scripted loop exports it (an ONNX Loop over time appending the readout
    of `h = a_i * h + u_i` to a sequence) becomes
    `loom.scan <diagonal> a, u, c`. The replaced holder ops are erased.
  }];
  let dependentDialects = [
    "::loom::LoomDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

//===----------------------------------------------------------------------===//
// RaiseMixtures
//===----------------------------------------------------------------------===//

def RaiseQuantizedPass : Pass<"loom-raise-quantized"> {
  let summary = "Raise MatMuls by dequantized constant 8-bit weights (QDQ) to loom.quantized_matmul";
  let description = [{
    On the `onnx.node` holder ops: `MatMul(x, DequantizeLinear(Wq, scale,
    zero_point))` with `Wq` a constant static [K, N] 8-bit tensor, the scale
    one fp32 value or one per column (axis 1), and a zero point that makes
    the weights symmetric (absent or 0 for int8, 128 for uint8, whose
    weights are shifted to int8) becomes `loom.quantized_matmul x, Wq,
    scale`: the kernel dequantizes in registers instead of the model
    building fp32 weights. Other zero points and per-row scales are left to
    the DequantizeLinear and MatMul legalizations.
  }];
  let dependentDialects = [
    "::loom::LoomDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def RaiseMixturesPass : Pass<"loom-raise-mixtures"> {
  let summary = "Raise masked mixtures of experts and token-mixing MLPs in the imported graph to loom ops";
  let description = [{
    On the `onnx.node` holder ops, after loom-raise-norms-and-gelu: a
    mixture of experts as exporters write it with masks, a sum over experts
    `e = 0 .. E-1` of `ReduceSum(w * Cast(Equal(idx, e)), -1, keepdims) *
    FFN_e(x)` with `FFN_e(x) = act(x W1_e (+ b1_e)) W2_e (+ b2_e)` (MatMul
    and Add; act a `loom.gelu`, `loom.silu`, Relu or none; the sum starting
    from zeros or from the first term), becomes
    `loom.moe x, w, idx experts(...)`, which computes each expert on its
    routed tokens only. MLP-Mixer's token mixing,
    `Transpose(MLP(Transpose(x, [0, 2, 1])), [0, 2, 1])` with such an MLP,
    becomes `loom.token_mixing`. A Monarch matrix as the Monarch paper's
    code exports it (Reshape [-1, K, P], Transpose [1, 0, 2], MatMul by
    [K, P, Q] blocks, Transpose [1, 0, 2], Reshape [-1, K, Q], Transpose
    [2, 0, 1], MatMul by [Q, K, S] blocks, Transpose [1, 2, 0], Reshape to
    the input's leading dims by S Q) becomes `loom.monarch`. The replaced
    holder ops are erased.
  }];
  let dependentDialects = [
    "::loom::LoomDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

//===----------------------------------------------------------------------===//
// TileAttention
//===----------------------------------------------------------------------===//

def NormCallsPass : Pass<"loom-norm-calls", "mlir::ModuleOp"> {
  let summary = "Last-axis f32 norms to calls of a row kernel";
  let description = [{
    For the GPU pipeline, and the CPU pipeline with microkernels. Each f32
    `loom.layer_norm` and `loom.rms_norm`
    over the last axis only, whose scale and bias (when present) are rank-1
    f32 tensors, becomes one call of `loomrt_norm_f32(rows, cols, input,
    output, scale, bias, epsilon bits, kind)` on identity-layout buffers
    (addresses as i64, 0 for an absent scale or bias; kind 0 layer norm,
    1 RMS norm; kind 2, softmax, comes from `loom-to-linalg{softmax-calls}`),
    which `loom-gpu-norms` turns into a kernel with a warp per row; on the
    CPU the runtime implements it (runtime/src/kernels/norm.c), and
    `loom-fuse-gemm-norms` may merge it into the product call before it. The
    output is a fresh buffer.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def TileAttentionPass : Pass<"loom-tile-attention"> {
  let summary = "Tile loom.attention into the flash-attention (online softmax) form";
  let description = [{
    Rewrites every `loom.attention` into FlashAttention's algorithm on
    tensors: an `scf.forall` over (batch, head, query tile) and, inside, an
    `scf.for` over key/value tiles that carries the running row maximum, the
    running row sum and the unnormalized output (online softmax). Each step
    computes one `tile-q x tile-kv` tile of scores with `linalg.generic`
    contractions; the `Sq x Skv` score matrix is never materialized. With
    `causal` or a sliding `window`, a query tile's key loop runs from the
    first to the last key its rows may see, so fully masked tiles are
    skipped. With `routed = [B, K]`, a tile is one query block of B rows:
    it scores every key block against the block's query sum, picks the K
    best (K argmax rounds) and its key loop visits only those blocks. Grouped-query heads read key/value
    head `h / (Hq / Hkv)`; masks broadcast as on the op. When the query
    length is static, at most 16 and fits one tile (decoding with a KV cache),
    the keys
    are split into `kv-splits` ranges that run in parallel, each keeping its
    own partial softmax state, and a merge rescales and sums them (Lean
    Attention's stream-K reduction).

    With `runtime-kernel` (loomc's default with microkernels), f32 attention
    without a mask, window, block sparsity, routing or score quantization
    (causal, grouped-query heads and any layout are fine), other than the
    split decoding case, becomes instead one call of the runtime's flash
    kernel `loomrt_attention_f32`, which runs the same algorithm on the GEMM
    microkernel (docs/Performance.md); an operand made by `linalg.transpose`
    is read through the transpose's input with permuted strides, and a
    result whose only use is a `linalg.transpose` is written in that layout.
    With `gpu-kernel` (the GPU pipeline with tensor cores), the same call is
    made, decoding included, where both head dims are static multiples of 16
    up to 128, and with an f32 mask `loomrt_attention_mask_f32` (the mask's
    address and its strides as it broadcasts to the scores, 0 along
    broadcast dims, last): `loom-gpu-attention` turns them into
    flash-attention kernels.
  }];
  let options = [
    Option<"tileQ", "tile-q", "int64_t", /*default=*/"256",
           "Query rows per tile (one task of the parallel loop)">,
    Option<"causalTileQ", "causal-tile-q", "int64_t", /*default=*/"0",
           "Query rows per tile of causal or sliding-window attention, where "
           "smaller tiles skip more masked keys (0: tile-q)">,
    Option<"tileKV", "tile-kv", "int64_t", /*default=*/"512",
           "Key/value rows per step of the online softmax">,
    Option<"kvSplits", "kv-splits", "int64_t", /*default=*/"4",
           "When the queries fit one tile and are at most 16 (decoding), key "
           "ranges computed in parallel and merged (1: no split)">,
    Option<"onlyRouted", "only-routed", "bool", /*default=*/"false",
           "Tile only routed attention (which has no untiled lowering)">,
    Option<"runtimeKernel", "runtime-kernel", "bool", /*default=*/"false",
           "Call the runtime's flash-attention kernel (loomrt_attention_f32) "
           "for f32 attention without a mask, window, block sparsity, routing "
           "or score quantization, other than decoding's split keys; its "
           "operands' and its result's transposes become strides">,
    Option<"gpuKernel", "gpu-kernel", "bool", /*default=*/"false",
           "Call loomrt_attention_f32 for what loom-gpu-attention turns into "
           "a tensor-core kernel: as runtime-kernel, decoding included, "
           "where both head dims are static multiples of 16 up to 128; with "
           "an f32 mask, loomrt_attention_mask_f32">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

//===----------------------------------------------------------------------===//
// OnnxToLoom
//===----------------------------------------------------------------------===//

def OnnxToLoomPass : Pass<"loom-onnx-to-loom", "mlir::ModuleOp"> {
  let summary = "Legalize imported ONNX holder ops to loom and upstream ops";
  let description = [{
    Stage 2 of the ONNX importer. Each `onnx.node` is legalized by the handler
    registered for its (domain, op type) with the highest since-opset not
    above the node's opset. Handlers emit `loom` ops for the computations that
    have a name (LayerNormalization, attention, GELU) and `linalg`, `tensor`,
    `arith` and `math` ops for the rest, with numpy broadcasting.

    Before rewriting anything the pass checks every node and reports all nodes
    without a handler at once, as
    `unsupported ONNX op 'Foo' (domain '', opset 17) at node 'bar'`.
  }];
  let dependentDialects = [
    "::loom::LoomDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // LOOM_CONVERSION_PASSES_TD
