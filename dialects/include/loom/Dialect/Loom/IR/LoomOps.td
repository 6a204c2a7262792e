//===- LoomOps.td - Loom dialect operations ----------------*- tablegen -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_DIALECT_LOOM_IR_LOOMOPS_TD
#define LOOM_DIALECT_LOOM_IR_LOOMOPS_TD

include "loom/Dialect/Loom/IR/LoomBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Loom_FloatTensor : RankedTensorOf<[AnyFloat]>;

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

def Loom_AttentionOp : Loom_Op<"attention", [Pure,
    InferTypeOpAdaptor]> {
  let summary = "scaled dot-product attention";
  let description = [{
    Computes `softmax(scale * Q @ K^T + mask) @ V` over the last two dimensions.
    Operands have the layout `[batch, heads, seq, dim]` (rank 4) or
    `[batch, seq, dim]` (rank 3):

    * `query`: `[B, Hq, Sq, D]`, `key`: `[B, Hkv, Skv, D]`,
      `value`: `[B, Hkv, Skv, Dv]`; the result is `[B, Hq, Sq, Dv]`.
    * `mask` (optional) is added to the scaled scores before the softmax; it
      broadcasts (numpy rules, from the right) to `[B, Hq, Sq, Skv]`.
    * `scale` defaults to `1/sqrt(D)`.
    * `causal` masks every key position `j > i + (Skv - Sq)` (bottom-right
      aligned, so a decoding step with `Sq = 1` sees every key).
    * `window = W` (sliding-window attention) masks every key position
      with `|j - (i + Skv - Sq)| >= W`: each query sees the W - 1 keys on
      either side of its own position and that one (with `causal`, the last
      W keys up to its own, as Mistral's sliding window). Lowerings skip the
      key tiles outside the band, so time grows with W, not Skv.
    * `block_sparse = [B, L, G]` (local + global block-sparse attention,
      BigBird's pattern without its random blocks): positions are cut into
      blocks of B (query block `(i + Skv - Sq) / B`, key block `j / B`); a
      query sees the keys of its own block and the L blocks on either side,
      and of the first G (global) blocks; queries of the global blocks see
      every key. Lowerings compute only the visible key blocks. Combines
      with `causal` and `window` (a key must pass every mask).
    * `routed = [B, K]` (content-routed attention, as bi-level routing
      attention does): queries (by index, `i / B`) and keys (`j / B`) are
      cut into blocks of B; each query block attends only to the K key
      blocks whose mean key has the largest dot product with the sum of the
      block's queries (the lower block first on ties; all blocks when there
      are at most K). With `causal`, key blocks starting after the query
      block's last position are no candidates (and the causal mask applies
      inside the chosen ones). Only those key blocks are computed. Not
      combined with `window` or `block_sparse` yet.
    * `num_kv_heads` enables grouped-query attention: `Hq` must be a multiple
      of `num_kv_heads == Hkv`, and query head `h` reads key/value head
      `h / (Hq / Hkv)`. Without it, `Hq == Hkv`.
    * `score_quant_block = B` (blockwise compression of the softmax input):
      each query row's scaled scores `scale * q . k_j` are quantized to int8
      and back in blocks of B consecutive key positions (the first block at
      key 0, the last possibly shorter; per block s = max |score| / 127,
      clamp(round_even(score / s), -127, 127) * s) before the mask and the
      softmax. Lowerings, flash tiles included, quantize exactly these
      blocks. Not combined with `window`, `block_sparse` or `routed`.

    Example:

    ```mlir
    %o = loom.attention %q, %k, %v mask %m {causal, scale = 0.125 : f32}
        : (tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>,
           tensor<2x8x128x64xf32>, tensor<2x1x128x128xf32>)
        -> tensor<2x8x128x64xf32>
    ```
  }];
  let arguments = (ins Loom_FloatTensor:$query, Loom_FloatTensor:$key,
                       Loom_FloatTensor:$value,
                       Optional<Loom_FloatTensor>:$mask,
                       OptionalAttr<F32Attr>:$scale,
                       UnitAttr:$causal,
                       OptionalAttr<I64Attr>:$num_kv_heads,
                       OptionalAttr<I64Attr>:$window,
                       OptionalAttr<DenseI64ArrayAttr>:$block_sparse,
                       OptionalAttr<DenseI64ArrayAttr>:$routed,
                       OptionalAttr<I64Attr>:$score_quant_block);
  let results = (outs Loom_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` $mask^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale applied to Q @ K^T: the `scale` attribute or 1/sqrt(D).
    double getEffectiveScale();
  }];
}

//===----------------------------------------------------------------------===//
// LayerNormOp
//===----------------------------------------------------------------------===//

def Loom_LayerNormOp : Loom_Op<"layer_norm", [Pure, AttrSizedOperandSegments,
    InferTypeOpAdaptor]> {
  let summary = "layer normalization over the trailing dimensions";
  let description = [{
    Normalizes `input` over the dimensions `[axis, rank)` to zero mean and unit
    variance, `(x - mean) / sqrt(var + epsilon)`, then multiplies by `scale`
    and adds `bias` when present. `scale` and `bias` broadcast (numpy rules) to
    the normalized shape `input.shape[axis:]`. The variance is the biased
    (population) variance, as in ONNX `LayerNormalization` and PyTorch.

    Example:

    ```mlir
    %y = loom.layer_norm %x, %gamma, %beta {axis = -1 : i64, epsilon = 1.0e-05 : f32}
        : (tensor<?x128x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
    ```
  }];
  let arguments = (ins Loom_FloatTensor:$input,
                       Optional<Loom_FloatTensor>:$scale,
                       Optional<Loom_FloatTensor>:$bias,
                       DefaultValuedAttr<I64Attr, "-1">:$axis,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Loom_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`,` $scale^)? (`bias` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The normalization axis in [0, rank).
    int64_t getNormalizedAxis();
  }];
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

def Loom_RMSNormOp : Loom_Op<"rms_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "root-mean-square normalization over the trailing dimensions";
  let description = [{
    Computes `x / sqrt(mean(x^2 over [axis, rank)) + epsilon) * scale`, the
    normalization of LLaMA-style models (ONNX `RMSNormalization`). `scale`
    broadcasts (numpy rules) to `input.shape[axis:]`; without it the op only
    normalizes.

    Example:

    ```mlir
    %y = loom.rms_norm %x, %w {epsilon = 1.0e-06 : f32}
        : (tensor<1x?x4096xf32>, tensor<4096xf32>) -> tensor<1x?x4096xf32>
    ```
  }];
  let arguments = (ins Loom_FloatTensor:$input,
                       Optional<Loom_FloatTensor>:$scale,
                       DefaultValuedAttr<I64Attr, "-1">:$axis,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Loom_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`,` $scale^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The normalization axis in [0, rank).
    int64_t getNormalizedAxis();
  }];
}

//===----------------------------------------------------------------------===//
// GeluOp
//===----------------------------------------------------------------------===//

def Loom_GeluOp : Loom_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    Elementwise GELU. With `approximate = none` (the default) it is
    `0.5 * x * (1 + erf(x / sqrt(2)))`; with `approximate = tanh` it is
    `0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))`, the form of
    GPT-2 and ONNX `Gelu(approximate="tanh")`.

    Example:

    ```mlir
    %y = loom.gelu %x {approximate = #loom<gelu_approximation<tanh>>} : tensor<4x?xf32>
    ```
  }];
  let arguments = (ins Loom_FloatTensor:$input,
                       DefaultValuedAttr<Loom_GeluApproximationAttr,
                                         "GeluApproximation::None">:$approximate);
  let results = (outs Loom_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Loom_SiluOp : Loom_Op<"silu", [Pure, SameOperandsAndResultType]> {
  let summary = "Sigmoid linear unit (SiLU, Swish with beta 1)";
  let description = [{
    Elementwise `x * sigmoid(x)`, the activation of LLaMA-style gated MLPs
    and of Mamba blocks; exporters emit it as `Mul(x, Sigmoid(x))`.

    Example:

    ```mlir
    %y = loom.silu %x : tensor<4x?xf32>
    ```
  }];
  let arguments = (ins Loom_FloatTensor:$input);
  let results = (outs Loom_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// ScanOp
//===----------------------------------------------------------------------===//

def Loom_ScanOp : Loom_Op<"scan", [Pure, InferTypeOpAdaptor]> {
  let summary = "a linear recurrence over the sequence (state-space models, linear attention)";
  let description = [{
    Runs a linear recurrence along the time axis `T` from a zero state and
    returns its output at every step. `kind` picks the recurrence and the
    operands:

    * `diagonal` (Mamba's selective scan), operands `x: [B, T, D]`,
      `a: [B, T, D, N]`, `b: [B, T, D, N]`, `c: [B, T, N]`:
      `h_t = a_t * h_{t-1} + b_t * x_t` (elementwise, `x_t` broadcast over
      `N`), `y_t[d] = sum_n c_t[n] h_t[d, n]`; result `[B, T, D]`. For Mamba
      `a = exp(delta * A)` and `b = delta * B` (discretized). With three
      operands `a, u: [B, T, D, N]`, `c: [B, T, N]` the input is already
      folded into `u` (`h_t = a_t * h_{t-1} + u_t`), the form an exported
      Loop computes (`u = delta * B * x`).
    * `linear` (causal linear attention), operands `q, k: [B, H, T, Dk]`,
      `v: [B, H, T, Dv]`: `S_t = S_{t-1} + k_t v_t^T`, `o_t = S_t^T q_t`;
      result `[B, H, T, Dv]`.
    * `gated` (gated linear attention), operands `q, k, v` and
      `alpha: [B, H, T, Dk]`: `S_t = diag(alpha_t) S_{t-1} + k_t v_t^T`.
    * `delta` (DeltaNet), operands `q, k, v` and `beta: [B, H, T]`:
      `S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T`.

    The state `S_t` is `[Dk, Dv]` (`[D, N]` for `diagonal`) per batch and
    head.

    Example:

    ```mlir
    %o = loom.scan <gated> %q, %k, %v, %alpha
        : (tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>,
           tensor<1x4x?x64xf32>) -> tensor<1x4x?x64xf32>
    ```
  }];
  let arguments = (ins Loom_ScanKindAttr:$kind,
                       Variadic<Loom_FloatTensor>:$inputs);
  let results = (outs Loom_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $inputs attr-dict `:` functional-type($inputs, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// MoeOp
//===----------------------------------------------------------------------===//

def Loom_MoeOp : Loom_Op<"moe", [Pure, InferTypeOpAdaptor]> {
  let summary = "a mixture-of-experts FFN computing only the routed experts";
  let description = [{
    A sparsely gated mixture of experts after its router: `input` is
    `[..., D]` (leading dims are tokens), `gate_weights` and `gate_indices`
    (i64) are `[..., K]`, the top-K experts of each token and their weights.
    `experts` holds each of the `num_experts` experts' two layers,
    `W1 [D, H], b1 [H], W2 [H, D], b2 [D]` (or `W1, W2` without biases):

    ```
    out[t] = sum_j gate_weights[t, j] * FFN_e(input[t]),  e = gate_indices[t, j]
    FFN_e(x) = act(x W1_e + b1_e) W2_e + b2_e
    ```

    Choices outside `[0, num_experts)` add nothing (as in the masked form
    exporters write). The lowering groups the tokens per expert and runs one
    pair of GEMMs per expert over its tokens only.

    Example:

    ```mlir
    %y = loom.moe %x, %w, %i experts(%w1a, %w2a, %w1b, %w2b)
        {activation = #loom.activation<silu>, num_experts = 2 : i64}
        : (tensor<?x64xf32>, tensor<?x1xf32>, tensor<?x1xi64>, tensor<64x128xf32>,
           tensor<128x64xf32>, tensor<64x128xf32>, tensor<128x64xf32>)
        -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Loom_FloatTensor:$input,
                       Loom_FloatTensor:$gate_weights,
                       TensorOf<[I64]>:$gate_indices,
                       Variadic<Loom_FloatTensor>:$experts,
                       I64Attr:$num_experts,
                       DefaultValuedAttr<Loom_ActivationAttr,
                                         "Activation::None">:$activation);
  let results = (outs Loom_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gate_weights `,` $gate_indices `experts` `(` $experts `)`
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// True when each expert has biases (4 operands per expert, not 2).
    bool hasBiases() { return getExperts().size() == 4 * getNumExperts(); }
    /// The hidden width H of the experts.
    int64_t getHiddenSize() {
      return ::llvm::cast<::mlir::RankedTensorType>(getExperts()[0].getType())
          .getDimSize(1);
    }
  }];
}

//===----------------------------------------------------------------------===//
// TokenMixingOp
//===----------------------------------------------------------------------===//

def Loom_TokenMixingOp : Loom_Op<"token_mixing", [Pure, AttrSizedOperandSegments,
    InferTypeOpAdaptor]> {
  let summary = "an MLP across the sequence axis (MLP-Mixer's token mixing)";
  let description = [{
    MLP-Mixer's token-mixing MLP: for every batch `b` and channel `c` of
    `input [B, S, C]`, the column `x[b, :, c]` of length `S` goes through
    `act(x W1 + b1) W2 + b2` with `W1 [S, H]`, `b1 [H]`, `W2 [H, S]`,
    `b2 [S]` (biases optional); the result has the input's shape. Exporters
    write it as Transpose, the MLP, Transpose; here the transposes are the
    indexing of two contractions, which the GEMM microkernel reads as
    strides.

    Example:

    ```mlir
    %y = loom.token_mixing %x, %w1, %w2 bias(%b1, %b2)
        {activation = #loom.activation<gelu>}
        : (tensor<?x196x512xf32>, tensor<196x256xf32>, tensor<256x196xf32>,
           tensor<256xf32>, tensor<196xf32>) -> tensor<?x196x512xf32>
    ```
  }];
  let arguments = (ins Loom_FloatTensor:$input, Loom_FloatTensor:$w1,
                       Loom_FloatTensor:$w2,
                       Optional<Loom_FloatTensor>:$b1,
                       Optional<Loom_FloatTensor>:$b2,
                       DefaultValuedAttr<Loom_ActivationAttr,
                                         "Activation::None">:$activation);
  let results = (outs Loom_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $w1 `,` $w2 (`bias` `(` $b1^ `,` $b2 `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// MonarchOp
//===----------------------------------------------------------------------===//

def Loom_MonarchOp : Loom_Op<"monarch", [Pure, InferTypeOpAdaptor]> {
  let summary = "a Monarch matrix: two block-diagonal factors and a permutation";
  let description = [{
    Multiplies the last axis of `input [..., N]` by a Monarch matrix (Dao et
    al. 2022): with `w1 [K, P, Q]` (K blocks of P x Q, N = K P) and
    `w2 [Q, K, S]` (Q blocks of K x S),

      z[..., i, j]     = sum_a input[..., i P + a] w1[i, a, j]
      result[..., t Q + j] = sum_i z[..., i, j] w2[j, i, t]

    i.e. the first block-diagonal product, the transpose of the K x Q grid,
    the second block-diagonal product, and the result read as `[..., S Q]`:
    O(N (P + K)) work instead of a dense layer's O(N^2). Exporters write
    it as Reshape, Transpose, batched MatMul, Transpose, Reshape, Transpose,
    batched MatMul, Transpose, Reshape (the Monarch paper's
    blockdiag_butterfly_multiply); here the transposes are the indexing of
    two batched contractions.

    Example:

    ```mlir
    %y = loom.monarch %x, %w1, %w2
        : (tensor<?x10x256xf32>, tensor<16x16x16xf32>, tensor<16x16x16xf32>)
        -> tensor<?x10x256xf32>
    ```
  }];
  let arguments = (ins Loom_FloatTensor:$input, Loom_FloatTensor:$w1,
                       Loom_FloatTensor:$w2);
  let results = (outs Loom_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $w1 `,` $w2 attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// QuantizedMatmulOp
//===----------------------------------------------------------------------===//

def Loom_QuantizedMatmulOp : Loom_Op<"quantized_matmul",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "a matrix multiply by int8 or int4 quantized weights";
  let description = [{
    `result[..., n] = sum_k input[..., k] * W[k, n]`: the input (fp32, any
    leading dims) times weights stored quantized, as `loom-quantize-weights`
    produces them from fp32 constant weights (weight-only quantization):

    * `bits = 8` (the default): `weight` is int8 `[K, N]`, `scale` holds one
      fp32 scale per output column `[N]`, `W[k, n] = weight[k, n] *
      scale[n]`; no zero point, `group_size` 0.
    * `bits = 4`: `weight` is `[ceil(K/2), N]` bytes holding unsigned 4-bit
      values `q[k, n]` two per byte along K (row `k` in the low nibble of
      byte `[k/2, n]` when `k` is even, in the high nibble when odd);
      groups of `group_size` rows (even) share a scale and a zero point:
      `W[k, n] = (q[k, n] - zero[k/G, n]) * scale[k/G, n]` with `scale`
      (fp16, two bytes per group, as `loom-quantize-weights` writes it; or
      fp32, as pre-quantized ONNX models store it) and the optional
      `zero_point`
      `[ceil(K/G), N]` (zero points 0..15 as bytes; 8 when absent, i.e.
      symmetric).

    With `input_bits = 8` and 4-bit weights (W4A8; `group_size` a multiple
    of 8, no `input_scale`) the input is quantized at run time to int8,
    symmetric, per row and group: `s[.., g] = max_{k in g} |input[.., k]| /
    127` (1 when 0), `q[.., k] = clamp(round(input[.., k] / s), -127, 127)`
    and `result[.., n] = sum_g (sum_{k in g} q[.., k] * qw[k, n] -
    zero[g, n] * sum_{k in g} q[.., k]) * (s[.., g] * scale[g, n])`, the
    integer sums exact and the groups added in order with fused
    multiply-adds (as ONNX Runtime's MatMulNBits with accuracy_level 4).

    With `input_bits = 8` and 8-bit weights (W8A8) the input is
    quantized too, to uint8, and the product is computed in integers:
    `q[.., k] = clamp(round(input[.., k] / s) + z, 0, 255)` and
    `result[.., n] = (sum_k q[.., k] * weight[k, n] - z * sum_k weight[k, n])
    * (s * scale[n])`. With `input_scale` (> 0) and `input_zero_point`
    (0..255; 0 when absent) every row uses those (static ranges from
    calibration); without them each row of the input gets its own
    `s = (max(0, max x) - min(0, min x)) / 255`, `z = round(-min(0, min x)
    / s)` (dynamic quantization, as DynamicQuantizeLinear per row).

    It lowers to kernels that dequantize the weights in registers or a
    cache-sized block at a time (loomrt_qgemm_w8_f32, loomrt_qgemm_w4_f32),
    or multiply integers (loomrt_igemm_f32, loomrt_i4gemm_f32, `vpdpbusd`): the quantized
    weights are all the model stores and reads.

    Example:

    ```mlir
    %y = loom.quantized_matmul %x, %w, %scale
        : (tensor<?x128x768xf32>, tensor<768x3072xi8>, tensor<3072xf32>)
        -> tensor<?x128x3072xf32>
    %a = loom.quantized_matmul %x, %w, %scale
        {input_bits = 8 : i64, input_scale = 0.02 : f32,
         input_zero_point = 128 : i64}
        : (tensor<?x128x768xf32>, tensor<768x3072xi8>, tensor<3072xf32>)
        -> tensor<?x128x3072xf32>
    %z = loom.quantized_matmul %x, %w4, %s4 zero_point %zp
        {bits = 4 : i64, group_size = 32 : i64}
        : (tensor<?x128x768xf32>, tensor<384x3072xi8>, tensor<24x3072xf16>,
           tensor<24x3072xi8>) -> tensor<?x128x3072xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input,
                       RankedTensorOf<[I8]>:$weight,
                       RankedTensorOf<[F32, F16, BF16]>:$scale,
                       Optional<RankedTensorOf<[I8]>>:$zero_point,
                       DefaultValuedAttr<I64Attr, "8">:$bits,
                       DefaultValuedAttr<I64Attr, "0">:$group_size,
                       DefaultValuedAttr<I64Attr, "0">:$input_bits,
                       OptionalAttr<F32Attr>:$input_scale,
                       OptionalAttr<I64Attr>:$input_zero_point);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $scale (`zero_point` $zero_point^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
                   "::mlir::Value":$scale), [{
      build($_builder, $_state, input, weight, scale, ::mlir::Value(), 8, 0,
            0, ::mlir::FloatAttr(), ::mlir::IntegerAttr());
    }]>,
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
                   "::mlir::Value":$scale, "::mlir::Value":$zero_point,
                   "int64_t":$bits, "int64_t":$group_size), [{
      build($_builder, $_state, input, weight, scale, zero_point, bits,
            group_size, 0, ::mlir::FloatAttr(), ::mlir::IntegerAttr());
    }]>
  ];
  let hasVerifier = 1;
}

def Loom_SparseMatmulOp : Loom_Op<"sparse_matmul",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "a matrix multiply by block-sparse or 2:4-sparse weights";
  let description = [{
    `result[..., n] = sum_k input[..., k] * W[k, n]`: the input (fp32, any
    leading dims, static K) times a `[K, columns]` fp32 matrix stored
    sparse, as `loom-sparsify-weights` produces it from constant weights:

    * `format = "block"`: W is cut into blocks of `block = [bk, bn]`
      (edge blocks padded with zeros) and only the blocks holding a
      non-zero are stored, column of blocks by column of blocks (block
      CSC): `values` `[nnzb, bk, bn]` holds them, `indices` `[nnzb]` (i32)
      each one's block row, ascending within a block column, and `offsets`
      `[ceil(columns / bn) + 1]` (i32) where block column j's blocks start
      and end: `offsets[j] .. offsets[j + 1] - 1`.
    * `format = "2:4"`: in every group of 4 rows (K a multiple of 4) each
      column keeps at most 2 values: `values` `[K/2, columns]` holds them
      (rows 2g and 2g + 1: group g's first and second, by row) and
      `indices` `[K/4, columns]` (i8) their rows within the group (bits 0-1
      the first's, bits 2-3 the second's); no `offsets`.

    It lowers to kernels that multiply only what is stored
    (loomrt_bsgemm_f32, loomrt_sgemm24_f32).

    Example:

    ```mlir
    %y = loom.sparse_matmul %x, %values, %rows offsets %offsets
        {format = "block", block = array<i64: 32, 32>, columns = 3072 : i64}
        : (tensor<?x128x768xf32>, tensor<1152x32x32xf32>, tensor<1152xi32>,
           tensor<97xi32>) -> tensor<?x128x3072xf32>
    %z = loom.sparse_matmul %x, %v24, %meta
        {format = "2:4", columns = 3072 : i64}
        : (tensor<?x128x768xf32>, tensor<384x3072xf32>, tensor<192x3072xi8>)
        -> tensor<?x128x3072xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input,
                       RankedTensorOf<[F32]>:$values,
                       RankedTensorOf<[I8, I32]>:$indices,
                       Optional<RankedTensorOf<[I32]>>:$offsets,
                       StrAttr:$format,
                       I64Attr:$columns,
                       OptionalAttr<DenseI64ArrayAttr>:$block);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $input `,` $values `,` $indices (`offsets` $offsets^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Whether this is the block format (else 2:4).
    bool isBlockSparse() { return getFormat() == "block"; }
  }];
  let hasVerifier = 1;
}

def Loom_RuntimeCheckOp : Loom_Op<"runtime_check",
    [MemoryEffects<[MemWrite]>]> {
  let summary = "a check of the model's input data at run time";
  let description = [{
    Records that the model's inputs were invalid when `failed` (a scalar
    `i1` tensor) is true, e.g. a Gather index out of range. The ONNX
    legalization creates these in a function's body and then folds all of
    them into one extra `tensor<i32>` result of the function, the status
    (0, or the 1-based number of the first failed check); the module's
    `loom.runtime_checks` array holds the messages, which the runtime
    reports as an error status instead of returning outputs.

    Example:

    ```mlir
    loom.runtime_check %oob, "Gather at node 'g': an index is out of range" : tensor<i1>
    ```
  }];
  let arguments = (ins 0DTensorOf<[I1]>:$failed, StrAttr:$message);
  let assemblyFormat = "$failed `,` $message attr-dict `:` type($failed)";
}

#endif // LOOM_DIALECT_LOOM_IR_LOOMOPS_TD
