//===- Passes.td - Loom cross-dialect transformations ------*- tablegen -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TRANSFORMS_PASSES_TD
#define LOOM_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def ApproximateMathPass : Pass<"loom-approximate-math"> {
  let summary = "Replace libm calls by inline polynomial approximations";
  let description = [{
    Rewrites `math.exp`, `math.log`, `math.tanh`, `math.erf` and friends on
    f32 into MLIR's polynomial approximations (a few ULP), so that loops
    using them vectorize instead of calling libm per element.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def EraseSignednessPass : Pass<"loom-erase-signedness", "mlir::ModuleOp"> {
  let summary = "Make every integer type signless";
  let description = [{
    ONNX keeps unsigned tensors (`tensor<4xui8>`) through import and
    legalization; arith works on signless integers, and bufferization does not
    know `tensor.bitcast`. Once the ops have chosen their signed or unsigned
    arithmetic, this pass rewrites every value, block argument and function
    type to signless integers and folds the `tensor.bitcast`s that become
    no-ops. The model's ABI signature keeps the original element types.
  }];
}

def ExpandArithPass : Pass<"loom-expand-arith"> {
  let summary = "Expand the arith ops that have no LLVM lowering, keep min/max";
  let description = [{
    Rewrites `arith.ceildivsi`, `arith.ceildivui`, `arith.floordivsi`, bf16
    `arith.extf`/`arith.truncf` (x86 without AVX512-BF16 has no instructions
    for them and a model must not need compiler-rt) and the scaling
    extensions/truncations into arith ops that convert to LLVM.

    Unlike `arith-expand`, it leaves `arith.maximumf`, `arith.minimumf`,
    `arith.maxnumf` and `arith.minnumf` alone: they become LLVM's
    `llvm.maximum`/`llvm.maxnum` intrinsics, whose reductions LLVM vectorizes
    (a softmax row max, expanded into compares and selects, ran one element
    at a time).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def SparsifyWeightsPass : Pass<"loom-sparsify-weights"> {
  let summary = "Prune constant matmul weights to 2:4 or block sparsity";
  let description = [{
    On the legalized IR (before `loom-to-linalg`): every matrix multiply by
    a constant fp32 weight, as the MatMul legalization writes it (see
    `loom-quantize-weights`), becomes `loom.sparse_matmul`:

    * `mode=2:4`: in every group of 4 rows (along K) each column keeps its
      2 values of largest magnitude (the lower row on ties) and the others
      become zeros; weights that already are 2:4 keep exactly their
      non-zeros. Layers whose K is not a multiple of 4 stay dense.
    * `mode=block`: W is cut into `block-rows` x `block-cols` blocks, and
      the fraction `ratio` of them with the least Frobenius norm (the
      earlier block on ties) become zeros (magnitude pruning of blocks;
      blocks that already are all zeros go first). Blocks of zeros are never
      stored, so `ratio=0` keeps every weight and only drops the zero
      blocks already there; a layer without a zero block stays dense.

    The pruning is Hessian-free (weights only; no data). The dense weights
    are no longer used. With `report=FILE`, a JSON report lists every layer
    (its ONNX node): its shape, the density of what is stored, the relative
    change `||W - W_pruned|| / ||W||`, the weight bytes before and after,
    and the multiply-adds per row of input before and after.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"block\"",
           "The sparsity pattern: 2:4 or block">,
    Option<"blockRows", "block-rows", "int64_t", /*default=*/"32",
           "block: rows (along K) of a block">,
    Option<"blockCols", "block-cols", "int64_t", /*default=*/"32",
           "block: columns (along N) of a block">,
    Option<"ratio", "ratio", "double", /*default=*/"0.0",
           "block: the fraction of blocks to prune, in [0, 1)">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON report of every sparsified layer to this file">,
  ];
  let dependentDialects = ["::loom::LoomDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttentionSpansPass : Pass<"loom-attention-spans", "::mlir::ModuleOp"> {
  let summary = "Give attention layers a sliding window or a block-sparse layout";
  let description = [{
    Sets `window` (with `window` > 0), `block_sparse` (with `block-size`
    > 0, `local-blocks`, `global-blocks`) or `routed` (with
    `route-block-size` > 0 and `route-top`), or with `full` removes them,
    on the `loom.attention` ops chosen
    by `layers` (their indices in program order, 0-based; empty: all):
    each query then attends only to the keys within `window - 1` positions
    of its own (the last `window` keys with `causal`), or to its own block,
    the `local-blocks` blocks on either side and the `global-blocks` first
    blocks (queries of those see every key); the tiled lowering computes
    only those key tiles. The other attention layers stay full: per-layer
    spans, as mixed attention span models use. An index past the last
    attention op is an error; a module without attention gets a warning
    (nothing to change: the attention may not have been raised).
  }];
  let options = [
    Option<"full", "full", "bool", /*default=*/"false",
           "Make the chosen layers full attention again (remove their "
           "window and block layout)">,
    Option<"window", "window", "int64_t", /*default=*/"0",
           "Keys on either side of a query's position it may see, itself "
           "included (0: no window)">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"0",
           "Positions per block of a block-sparse layout (0: none)">,
    Option<"localBlocks", "local-blocks", "int64_t", /*default=*/"1",
           "Block-sparse: blocks on either side of a query's block it sees">,
    Option<"globalBlocks", "global-blocks", "int64_t", /*default=*/"1",
           "Block-sparse: leading blocks every query sees (and whose "
           "queries see every key)">,
    Option<"routeBlockSize", "route-block-size", "int64_t", /*default=*/"0",
           "Content-routed attention: positions per query and key block "
           "(0: no routing)">,
    Option<"routeTop", "route-top", "int64_t", /*default=*/"4",
           "Content-routed attention: key blocks each query block attends "
           "to">,
    ListOption<"layers", "layers", "int64_t",
               "Attention ops (0-based, program order) to change; all when "
               "empty">,
  ];
}

def QuantizeWeightsPass : Pass<"loom-quantize-weights"> {
  let summary = "Quantize constant matmul weights (int8 or int4 weight-only, W8A8, W4A8) and, optionally, lookup tables and activations blockwise";
  let description = [{
    On the legalized IR (before `loom-to-linalg`): every matrix multiply by
    a constant fp32 weight, as the MatMul legalization writes it (a
    `linalg.generic` contraction over loops `(lead..., n, k)` reading
    `A (lead..., k)` and `W (k, n)` or `W (n, k)` into a zero-filled
    `C (lead..., n)`), becomes `loom.quantized_matmul A, Wq, scale`:

    * `mode=int8-weight`: symmetric per-output-channel int8 weights,
      `scale[n] = max_k |W[k, n]| / 127`, `Wq = round(W / scale)` (to
      nearest even) in [-127, 127]: a quarter of the fp32 bytes.
    * `mode=int4-weight`: 4-bit weights in groups of `group-size` rows
      (along K) per column, packed two per byte. Asymmetric by default: the
      group's range [lo, hi] widened to include 0, `scale = (hi - lo) / 15`,
      `zero = round(-lo / scale)`, `q = clamp(round(w / scale) + zero, 0,
      15)`; with `symmetric`, `scale = max |w| / 7` and zero point 8 (no
      zero points stored). About 1/7 of the fp32 bytes at group 32.
    * `mode=w8a8`: the int8 weights of `int8-weight`, and the input
      quantized to uint8 as well (`input_bits = 8`: integer products). A
      matrix multiply carrying `loom.calibrated_range = array<f32: lo, hi>`
      (set by `loomc --calibration`: the input's observed range) gets static
      parameters `input_scale = (max(hi, 0) - min(lo, 0)) / 255`,
      `input_zero_point = round(-min(lo, 0) / input_scale)`; the others are
      quantized per row at run time (dynamic).
    * `mode=w4a8`: the 4-bit groups of `int4-weight` (the group size a
      multiple of 8), and the input quantized at run time to int8 per row
      and group (`input_bits = 8`: integer products, as ONNX Runtime's
      MatMulNBits with accuracy_level 4).

    With `scales=mse`, each column's (int8) or group's (int4) range is the
    one among the min-max range clipped to 1, 0.98, ..., 0.80 of itself
    whose round-to-nearest weights have the least squared error: clipping a
    few large weights buys a finer step for all the others.

    With `rounding=gptq`, a layer carrying `loom.calibration_gram` (E[x x^T]
    of its input on calibration data, set by `loomc --calibration
    --rounding=gptq`) is rounded as GPTQ does: rows of K in order, the
    rounding error of each spread over the later rows through the upper
    Cholesky factor of the damped inverse Gram matrix, which minimizes the
    layer's squared output error on those inputs rather than the weights'
    own error; scales are chosen as before (int4: per group, from the rows'
    values when the group starts). The report then gives, per layer, the
    relative output error on the calibration inputs with that rounding and
    with round-to-nearest.

    With `table-block=B`, constant fp32 tables [V, D] of at least
    `table-min-elements` (4096) elements that are only read by `tensor.extract` (an embedding as the
    Gather legalization reads it) are stored as int8 with one fp16 scale per
    row and block of B columns (max |w| / 127, symmetric): a read becomes a
    read of the int8 value and of its block's scale, multiplied. This is the
    blockwise compression of the embedding; the report lists the tables.

    With `activation-block=B`, the f32 inputs of `loom.layer_norm`,
    `loom.rms_norm`, `loom.gelu`, `loom.silu` and of `linalg.softmax` over
    the last dim are quantized and dequantized in place: blocks of B along
    the last dim (the last block of a row may be shorter), scale
    max |x| / 127, values rounded to int8; and `loom.attention` ops (not
    the windowed, block-sparse or routed ones) get `score_quant_block = B`,
    which does the same to their scaled scores, the softmax's input, in
    every lowering including the flash tiles. This is the blockwise
    compression of the other components, for accuracy studies: the values
    those ops see are the int8 ones; the computation stays fp32.

    The fp32 weights are no longer used, so the compiled model stores only
    the quantized weights, scales and zero points. With `report=FILE`, a
    JSON report lists every quantized layer (its ONNX node), its weight
    bytes before and after, and `||W - deq(W)|| / ||W||` (the expected
    relative output error for isotropic inputs) and the max abs error.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"int8-weight\"",
           "The quantization scheme: int8-weight, int4-weight, w8a8 or w4a8">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"32",
           "int4: rows of K per scale (even)">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"false",
           "int4: symmetric groups (zero point 8, none stored)">,
    Option<"tableBlock", "table-block", "int64_t", /*default=*/"0",
           "Also store constant fp32 lookup tables [V, D] that are only read "
           "element by element (embeddings, as Gather reads them) as int8 "
           "in blocks of this many columns per row with an fp16 scale each "
           "(0: not)">,
    Option<"activationBlock", "activation-block", "int64_t",
           /*default=*/"0",
           "Also quantize the inputs of loom.layer_norm, loom.rms_norm, "
           "loom.gelu, loom.silu, softmax and attention's softmax to int8 "
           "in blocks of this many elements along the last dim, one scale "
           "each (quantize-dequantize; 0: not)">,
    Option<"tableMinElements", "table-min-elements", "int64_t",
           /*default=*/"4096",
           "With table-block: smaller tables stay fp32">,
    Option<"rounding", "rounding", "std::string", /*default=*/"\"nearest\"",
           "How weights round: nearest, or gptq (where a layer carries "
           "loom.calibration_gram: rows in order, each one's rounding error "
           "compensated in the rows not yet rounded, minimizing the output "
           "error on the calibration inputs)">,
    Option<"scales", "scales", "std::string", /*default=*/"\"minmax\"",
           "How each scale's range is chosen: minmax (the full range) or "
           "mse (of the ranges clipped to 1, 0.98, ..., 0.80 of it, the one "
           "whose rounded weights have the least squared error)">,
    Option<"report", "report", "std::string", /*default=*/"",
           "Write a JSON report here: per layer (ONNX node) the weight "
           "bytes before and after and the weights' relative RMS and max "
           "abs quantization error">,
  ];
  let dependentDialects = ["::loom::LoomDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def UnshareFillsPass : Pass<"loom-unshare-fills", "mlir::func::FuncOp"> {
  let summary = "Give every in-place user of a scalar fill its own fill";
  let description = [{
    CSE merges identical fills (`linalg.fill`, or the generic that broadcasts
    a scalar) of same-shaped empty tensors, so that several matrix multiplies
    accumulate into one zero-filled tensor. One-shot bufferization must then
    keep that buffer and copy it before every in-place user: a memcpy of
    zeros before each GEMM, which then accumulates instead of overwriting its
    output. This pass clones the fill (and the `tensor.empty` it fills) right
    before each user that takes it as a destination operand, so that each
    user bufferizes in place and `loom-lower-to-microkernels` finds the zero
    fill right before the product and drops it. Run before bufferization.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def PadRowStridesPass : Pass<"loom-pad-row-strides", "mlir::func::FuncOp"> {
  let summary = "Pad the rows of GEMM buffers whose length is a multiple of 2 KiB";
  let description = [{
    The GEMM microkernel reads twelve rows of A in place and writes twelve
    rows of C per tile. Rows that are a multiple of 2 KiB long (3072 or 1536
    floats: a transformer's FFN hidden layer) map to one or two sets of the
    4 KiB-per-way L1 and evict each other and the B panel at every step; the
    runtime then copies such an A to a padded stride first. This pass
    allocates each such f32 buffer (static last dimension, identity layout)
    that only linalg ops use, at least one of them a contraction the
    microkernels take, 16 elements wider in its last dimension, and gives
    its users a `memref.subview` of the original shape (a strided layout)
    instead; deallocations free the wider buffer. Run on bufferized IR right
    before `loom-lower-to-microkernels`, which reads the padded stride from
    the view's layout.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def FuseGemmNormsPass : Pass<"loom-fuse-gemm-norms", "mlir::ModuleOp"> {
  let summary = "Fuse a norm of a product's result into the product's call";
  let description = [{
    Runs on bufferized IR after `loom-lower-to-microkernels`. A call of
    `loomrt_norm_f32` (made by `loom-norm-calls`) whose input is the buffer
    that the `loomrt_sgemm_f32` or `loomrt_sgemm_epilogue_f32` call right
    before it writes (both addresses the start of the same allocation,
    through views), with only effect-free ops and allocations in between,
    becomes one call of `loomrt_sgemm_norm_f32` at the norm's place, with
    the product's arguments (a plain product's bias and residual as null
    addresses, no activation) followed by the norm's. The runtime then
    normalizes each block of the product's rows as soon as the product has
    completed it, while it is still in cache, instead of in a second pass
    over the whole result: a transformer's residual add and the layer norm
    after it. The module gets a private declaration of the fused kernel.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect"];
}

def ShortenBufferLifetimesPass
    : Pass<"loom-shorten-buffer-lifetimes", "mlir::func::FuncOp"> {
  let summary = "Free each buffer right after its last use";
  let description = [{
    MLIR's ownership-based deallocation frees a buffer at the end of the
    block that owns it, so in a model's single-block function every
    intermediate buffer stays allocated until the model returns and the
    runtime's allocation cache cannot hand a freed block to a later layer.
    This pass moves each `memref.dealloc` of a `memref.alloc` (or of a view
    of one) to right after the last op of its block that uses the buffer or
    any value that may alias it: views, casts, region ops' results that a
    terminator inside forwarded it to, and values computed from its address
    (`memref.extract_aligned_pointer_as_index` and the arithmetic on it that
    feeds the microkernel calls). Sizes (`memref.dim`) and loaded elements do
    not carry the address. A dealloc is left in place where the buffer is
    defined in another block, an alias is used outside the block or after
    the dealloc, the block's terminator uses an alias, or a value computed
    from its address is stored to memory (MoE's table of expert addresses,
    which the kernel call reads) or given to an op other than a call or one
    with results. For synchronous
    code only (the CPU pipeline): an asynchronous launch that reads the
    buffer later would be freed under.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def LowerCopiesPass : Pass<"loom-lower-copies", "mlir::func::FuncOp"> {
  let summary = "Rewrite memref.copy as linalg.copy";
  let description = [{
    `memref.copy` between non-contiguous buffers lowers to a call to MLIR's
    `memrefCopy` runtime function, which compiled models do not link. This
    pass turns every `memref.copy` into `linalg.copy`, which becomes plain
    loops.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def OptimizeLoopOrderPass : Pass<"loom-optimize-loop-order"> {
  let summary = "Make the innermost loop of contractions a contiguous one";
  let description = [{
    A `linalg.generic` contraction such as `C[m, n] += A[m, k] * B[k, n]`
    has its reduction loop innermost, which walks `B` with a stride of a
    whole row. When the output's last dimension is a parallel loop that some
    input also walks contiguously, this pass interchanges that loop to the
    innermost position (`m, k, n`), so that the generated loops read and
    write contiguous memory and LLVM vectorizes them.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def HoistInvariantTransposesPass : Pass<"loom-hoist-invariant-transposes"> {
  let summary = "Give loop-invariant operands read across their rows a "
                "contiguous copy before the loop";
  let description = [{
    A `linalg.generic` inside an `scf.for` that reads a loop-invariant tensor
    with its innermost loop walking a dimension other than the tensor's last
    one (a `[channels, N]` tile read as `[N, channels]`) would load it with a
    stride, which LLVM turns into gathers, on every iteration of the loop.
    This pass transposes such an operand once, before the loop
    (`linalg.transpose` into a new tensor whose last dimension is the one the
    innermost loop walks), and reads the copy with the permuted map. An
    operand counts as loop-invariant when it is defined outside the loop or
    is a `tensor.extract_slice` whose operands are (the slice is then taken
    before the loop). Run after `loom-optimize-loop-order`, which fixes the
    innermost loops.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SerializeInnerParallelPass : Pass<"loom-serialize-inner-parallel"> {
  let summary = "Keep only the outermost scf.parallel of each loop nest";
  let description = [{
    `convert-linalg-to-parallel-loops` makes every parallel dimension an
    `scf.parallel`; `convert-scf-to-openmp` would then fork a parallel region
    per iteration of the outer loops. This pass rewrites every `scf.parallel`
    nested in another one into `scf.for` loops, so that each loop nest forks
    threads once, over its outermost parallel dimensions. It then moves the
    last dimension of each multi-dimensional `scf.parallel` into an `scf.for`
    inside it (unless the other dimensions are statically fewer than 8
    iterations, or the body loops or calls a function): OpenMP collapses a
    loop's dimensions into one iteration space and recomputes every index by
    division, which keeps LLVM from vectorizing the innermost, contiguous
    loop. An iteration that loops or calls a function (an attention tile's
    GEMM microkernels, a scan over a block of channels, a convolution's
    taps) is large enough that the division costs nothing, and the other
    dimensions may be few at run time (the batch of one in front of the
    heads or channels), so all its dimensions stay parallel.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def SimplifyShapesPass : Pass<"loom-simplify-shapes"> {
  let summary = "Evaluate run-time shape arithmetic symbolically and turn "
                "reshapes to known sizes into expand/collapse views";
  let description = [{
    Exporters compute a reshape's target shape at run time (Shape -> Gather
    -> Unsqueeze -> Concat -> Reshape); legalized, that is rank-0 generics,
    small integer tensors built with `tensor.insert_slice`, and a
    `tensor.reshape` to a `tensor.from_elements` of `select`s that implement
    ONNX's `0` and `-1` entries. A `tensor.reshape` bufferizes to
    `memref.reshape`, which needs an identity layout: a strided source (a
    slice of a fused QKV projection) is copied first.

    This pass scalarizes rank-0 `linalg.generic`s with side-effect-free
    bodies, folds `tensor.extract` at constant indices through
    `tensor.insert_slice` and static reshapes, runs the canonicalizations and
    MLIR's integer-range optimizations (a `tensor.dim` is never `-1`), and
    then rewrites each `tensor.reshape` whose sizes are constants or values
    the value-bounds analysis proves equal to the source's dims, and that
    only splits dims or only merges them, into `tensor.expand_shape` or
    `tensor.collapse_shape` (views of any strided source). Run on linalg
    on tensors, where `tensor.dim` of a result resolves to its init's sizes.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def FoldTransposedSlicesPass : Pass<"loom-fold-transposed-slices"> {
  let summary = "Slice a transpose's input instead of the transposed copy";
  let description = [{
    Flash attention tiles take `[1, 1, rows, d]` slices of `[B, H, S, D]`
    operands that an exported model made with `Transpose(perm = [0, 2, 1,
    3])` of `[B, S, H, D]` projections, and its result is transposed back
    the same way: four copies of a layer's activations.

    `tensor.extract_slice` of a `linalg.transpose`'s result whose kept
    (non-unit) dims keep their order in the transpose's input becomes the
    same slice of the input (permuted offsets, sizes and strides; the rank-
    reduced result is unchanged), and a `linalg.transpose` of an
    `scf.forall` result that the loop builds in a `tensor.empty` only with
    such slices (`tensor.parallel_insert_slice`, `tensor.extract_slice` of
    its shared output) makes the loop write the transposed layout directly.
    Transposes whose uses all fold disappear.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def FuseElementwisePass : Pass<"loom-fuse-elementwise"> {
  let summary = "Fuse elementwise linalg ops, keeping contractions intact";
  let description = [{
    Upstream's `linalg-fuse-elementwise-ops` (producer-consumer fusion of
    elementwise generics, reshape propagation by expansion, constant
    folding), except that a producer that computes is not fused into an
    fp32 contraction that `loom-lower-to-microkernels` will replace by a
    microkernel call: it would be evaluated M·N·K instead of M·K times and
    the contraction would stop being one. Producers that only move data
    (transposes, broadcasts) still fuse and become strides; named
    `linalg.transpose` and `linalg.broadcast` ops are generalized first so
    that they can. Before fusing, a `tensor.extract_slice` of a transpose
    with no other use moves in front of it (the transpose then copies only
    the slice), so that a transpose and its inverse around a slice meet,
    fuse into an identity copy and fold away.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::affine::AffineDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LowerToMicrokernelsPass : Pass<"loom-lower-to-microkernels",
                                   "mlir::ModuleOp"> {
  let summary = "Replace bufferized fp32 contractions and transposes by runtime kernel calls";
  let description = [{
    Runs on bufferized IR. Every `linalg.generic` that computes
    `C[...] += A[...] * B[...]` in fp32 with one reduction loop, at least one
    row and one column loop and strided memref operands becomes a call to
    the runtime microkernel `loomrt_sgemm_f32` (runtime/include/loomrt/
    kernels.h), which packs the operands and runs a register-blocked,
    threaded GEMM. Transposes and broadcasts are passed as element strides.
    Row loops, and column loops, contiguous in memory merge; the longest
    remaining parallel loop is the call's batch and the others become
    `scf.for` loops around it. A zero `linalg.fill` of the output right
    before the contraction is dropped and the call overwrites instead of
    accumulating. The module gets a private declaration of the microkernel.
    When the first op after such a zero-filled contraction that touches its
    output is an elementwise generic computing `act(g + bias) + residual`
    from it (act the identity, ReLU (`maximumf` with 0) or a GELU in the
    erf or tanh form `loom.gelu` lowers to), with only effect-free ops,
    allocations and deallocations in between, and the consumer's output
    provably overlaps neither the contraction's operands nor the bias and
    residual, the call is `loomrt_sgemm_epilogue_f32` instead: it writes
    the consumer's output, applying the epilogue to each tile while it is
    in cache; the consumer and the contraction's own buffer go (an in-place
    residual add without activation accumulates into the output). Run
    before `loom-approximate-math`, which would hide erf and tanh.
    An fp32 copy whose input and output are permutations of its loops with
    different contiguous (last) loops (a transpose such as
    `[b, t, c] -> [b, c, t]`) becomes a call to `loomrt_transpose_f32`, the
    blocked strided copy: LLVM vectorizes such a loop with gathers, eight
    cache lines each.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def PrepareABIPass : Pass<"loom-prepare-abi", "mlir::ModuleOp"> {
  let summary = "Prepare the model entry point for the loomrt C ABI";
  let description = [{
    Runs on bufferized IR. Renames `@main` to `@loom_main` (so that it cannot
    clash with the C `main` of standalone executables), marks public
    functions with
    `llvm.emit_c_interface`, drops their argument and result attributes
    (the importer's `onnx.*` names live in the ABI signature), and makes
    every buffer a public function returns
    a fresh `memref.alloc` (copying when the returned buffer aliases an
    argument, a global or another result), so that the runtime owns each
    output and frees it with `free()`. Run before
    `buffer-deallocation-pipeline`, which then frees the originals.

    Also declares `_mlir_memref_to_llvm_aligned_alloc` (loomrt's allocator,
    which memref-to-LLVM calls with `use-aligned-alloc` and
    `use-generic-functions`) with a `noalias` result, as malloc is declared
    in C, so that LLVM knows that distinct buffers do not alias.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def MapParallelToGPUPass : Pass<"loom-map-parallel-to-gpu",
                                 "mlir::func::FuncOp"> {
  let summary = "Map outermost parallel loops to GPU kernels";
  let description = [{
    Runs on bufferized loops. Each outermost `scf.parallel` becomes a
    `gpu.launch` with one thread per iteration: the N iterations are
    linearized (last dimension fastest, so that adjacent threads touch
    adjacent elements) over ceil(N / block-size) one-dimensional blocks,
    guarded by `id < N`; nothing is launched when N is 0. Parallel loops
    nested in it run sequentially in the thread. Static temporaries
    allocated inside an iteration become one thread-local `memref.alloca`
    per thread (up to 64 KiB), their deallocations go away, and the
    `memref.get_global` ops inside move in front of the launch.

    A loop stays on the host (sequential, over memory both sides address)
    when its body has reductions, calls, dynamic or non-identity
    temporaries, or frees a buffer it did not allocate; the statistic
    `host-loops` counts them.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block">,
  ];
  let statistics = [
    Statistic<"numKernels", "kernels", "Parallel loops mapped to kernels">,
    Statistic<"numHostLoops", "host-loops",
              "Parallel loops left on the host">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def GPUContractionsPass : Pass<"loom-gpu-contractions", "mlir::ModuleOp"> {
  let summary = "Contractions to tensor-core GPU kernels (mma.sync, wgmma)";
  let description = [{
    Runs on bufferized linalg. Each f32 `linalg.generic` contraction
    (`out += a * b` over one M, one N and one K loop, any batch loops, any
    operand layouts) becomes three `gpu.launch` ops: A and B converted to
    fp16 or bf16 (`precision`) as [batch][M][K] and [batch][N][K], padded
    to whole tiles with zeros; then blocks of 256 threads compute 128 x 128
    output tiles (grid: N tiles, M tiles, batch), their 32-deep A and B
    tiles arriving in shared memory by `cp.async` in two stages (the next
    K step's copies run while this one's are used), each warp accumulating
    a 64 x 32 part in fp32 with `nvvm.mma.sync` m16n8k16 on `ldmatrix.x4`
    fragments; the accumulators are added to the output, which the
    contraction's init has filled. Guarded stores; no launch for an empty
    output.

    With `wgmma` (the GPU pipeline sets it for sm_90a), the two warpgroups
    of a block each compute 64 rows of the tile with `nvvm.wgmma.mma_async`
    m64n128k16 (two per K step) instead of mma.sync: the shared tiles hold
    the canonical K-major layout without swizzling (8 x 8 core matrices),
    the copies are fenced for the async proxy (`fence.proxy.async`) before
    the barrier, and each step's MMAs read A and B through matrix
    descriptors, fenced, committed and waited for before the stage is
    released.

    Split-K: when the output has fewer than 256 tiles, each tile's K steps
    are shared among up to 16 blocks (at least 4 steps each; chosen at run
    time), which store f32 partial sums; a second kernel adds them up and
    stores the result through the same epilogue.

    Fused epilogues (`fuse-epilogues`): when the next op with memory
    effects is an all-parallel `linalg.generic` that reads the
    contraction's output (a fresh allocation, no views) once through a
    permutation of its loops (bias, activation, residual add, scaling:
    any elementwise body), the kernel evaluates that body on each result
    and stores the consumer's output; the result itself is stored only
    when it is read later, and a scalar fill of the output (its init) is
    added to the accumulators instead of being stored and read back when
    nothing else reads the output. Empty products (M, N, K or batch 0)
    run the fill and the consumer as before.

    Constant operands (weights: `memref.get_global` of a constant f32
    global, with static sizes) are converted at compile time instead: a
    new constant global holds them in the kernel's tiled fp16/bf16 layout
    (rounded to nearest even, as `arith.truncf` rounds at run time), so no
    conversion kernel runs for them; an f32 global that nothing else reads
    is erased. Runs on the module (it adds globals). Contractions whose static M tiles or batch exceed the grid's
    y/z limit (65535) are interchanged instead.

    With `precision=fp32` or `tensor-cores=false` (kernels emulated on the
    host), contractions are interchanged so that their reduction loops are
    innermost instead: the parallel loops then become threads in
    `loom-map-parallel-to-gpu`.
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"fp16\"",
           "Multiplicand type on tensor cores: fp16, bf16, or fp32 (no "
           "tensor cores)">,
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "Emit tensor-core kernels (false: interchange only)">,
    Option<"fuseEpilogues", "fuse-epilogues", "bool", /*default=*/"true",
           "Compute the elementwise op that follows a contraction (bias, "
           "activation, residual, ...) in its tensor-core kernel">,
    Option<"wgmma", "wgmma", "bool", /*default=*/"false",
           "Multiply with sm_90a's warpgroup MMA (wgmma.mma_async, operands "
           "read from shared memory through matrix descriptors) instead of "
           "mma.sync">,
  ];
  let statistics = [
    Statistic<"numTensorCore", "tensor-core-kernels",
              "Contractions turned into tensor-core kernels">,
    Statistic<"numFusedEpilogues", "fused-epilogues",
              "Elementwise consumers computed in a tensor-core kernel">,
    Statistic<"numPackedWeights", "packed-weights",
              "Constant operands packed to fp16/bf16 tiles at compile time">,
    Statistic<"numErasedWeights", "erased-f32-weights",
              "f32 constants that only packed products read, erased">,
    Statistic<"numInterchanged", "interchanged",
              "Contractions interchanged (reductions innermost)">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def GPUAttentionPass : Pass<"loom-gpu-attention", "mlir::func::FuncOp"> {
  let summary = "Attention kernel calls to flash-attention tensor-core kernels";
  let description = [{
    Runs on bufferized code. Each call of `loomrt_attention_f32` (made by
    `loom-tile-attention{gpu-kernel}` for f32 attention without a window,
    block sparsity, routing or score quantization whose head dims are static
    multiples of 16 up to 128; its arguments: sizes, operand addresses and
    strides, scale bits and flags, as in loomrt/kernels.h) or of
    `loomrt_attention_mask_f32` (the same, then an additive f32 mask's
    address and broadcast strides: the kernel adds it to the scores)
    becomes three kernels: two convert K and V to fp16 or bf16
    (`precision`; each head's keys padded to a multiple of 64 with zeros),
    and one runs FlashAttention-2's forward algorithm: a block of 256
    threads (8 warps, 16 query rows each) per 128 queries of one (batch,
    head) (grid: query tiles, heads, batch). The block stages its queries
    once (64 rows at a time) and each warp keeps their `mma.sync` fragments
    in registers; K and
    V tiles of 64 keys come by `cp.async` (pipelined: the next keys load
    while the values are used, the next values while the scores are
    computed); scores by `ldmatrix.x4` and `nvvm.mma.sync` m16n8k16 (fp32
    accumulation), masks (past the keys; causal), the running row maximum
    (two `gpu.shuffle xor` steps within each quad), rescaling, and the
    exponentials, packed from the score accumulators into A fragments,
    times V (`ldmatrix.x4.trans`). Row sums stay per thread until the end.
    Causal blocks stop at their last visible key. Grouped-query heads read
    key/value head `h / (Hq / Hkv)`.
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"fp16\"",
           "Multiplicand type on tensor cores: fp16 or bf16">,
  ];
  let statistics = [
    Statistic<"numKernels", "kernels", "Attention calls turned into kernels">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def GPUNormsPass : Pass<"loom-gpu-norms", "mlir::func::FuncOp"> {
  let summary = "Norm kernel calls to whole-row GPU kernels";
  let description = [{
    Runs on bufferized code. Each call of `loomrt_norm_f32(rows, cols,
    input, output, scale, bias, epsilon bits, kind)` (made by
    `loom-norm-calls`: f32 layer or RMS norms over the last axis; scale and
    bias addresses 0 when absent; kind 0 layer norm, 1 RMS norm) becomes one
    `gpu.launch` with a warp per row (blocks of 256 threads, 8 rows): the
    lanes stride the row (adjacent lanes, adjacent elements) to sum it (RMS:
    its squares), five `gpu.shuffle xor` steps give every lane the total;
    a layer norm sums the squared deviations from the mean the same way
    (two passes: no cancellation); then each lane writes its elements
    normalized, scaled and shifted. One kernel instead of the reference
    form's reductions and elementwise passes.
  }];
  let statistics = [
    Statistic<"numKernels", "kernels", "Norm calls turned into kernels">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect"];
}

def GPURowReductionsPass : Pass<"loom-gpu-row-reductions",
                                "mlir::func::FuncOp"> {
  let summary = "Row reductions to warp-per-row GPU kernels";
  let description = [{
    Runs on bufferized linalg. A `linalg.generic` with one reduction loop,
    innermost in its first input, and a float combiner (`addf`, `mulf`,
    `maxnumf`, `maximumf`, `minnumf`, `minimumf` of the per-element value
    and the output's block argument) becomes a `gpu.launch` with a warp per
    output element: blocks of 256 threads (8 rows), lanes striding the row
    from the combiner's identity (adjacent lanes, adjacent elements), five
    `gpu.shuffle xor` steps, and lane 0 combining the result into the
    output. Softmax's row max and sum, norms' means and variances.
  }];
  let statistics = [
    Statistic<"numKernels", "kernels", "Row reductions turned into kernels">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def StageGPUBuffersPass : Pass<"loom-stage-gpu-buffers", "mlir::ModuleOp"> {
  let summary = "Copy host arguments and constants into model buffers";
  let description = [{
    In a function that launches kernels, every identity-layout memref
    argument is copied into a fresh allocation at entry, and every
    `memref.get_global` into a fresh allocation where it is read; the
    copies are freed before their block ends (unless they flow out of
    it). A GPU model allocates in CUDA managed memory (runtime/src/cuda),
    so the kernels then read only memory they can address, while the
    caller's buffers and the constants stay ordinary host memory.
  }];
  let options = [
    Option<"constants", "constants", "bool", /*default=*/"true",
           "Stage constant globals too (off when loom-cache-gpu-constants "
           "serves them; mutable globals are always staged)">,
  ];
  let statistics = [
    Statistic<"numStaged", "staged", "Buffers copied in">,
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def MergeGPUModulesPass : Pass<"loom-merge-gpu-modules", "mlir::ModuleOp"> {
  let summary = "Merge the outlined kernel modules into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` puts every kernel in a `gpu.module` of its own.
    This pass moves all kernels into the first one (renaming a kernel whose
    name clashes) and points the `gpu.launch_func` ops at it, so that a
    model carries one PTX module (one `ptxas` run, one module load). All
    modules must have the same targets. Every kernel's workgroup
    (shared-memory) buffers get 16-byte alignment (`llvm.align`), which the
    tensor-core kernels' vector accesses assume.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def EmulateGPULaunchesPass : Pass<"loom-emulate-gpu-launches",
                                   "mlir::func::FuncOp"> {
  let summary = "Run gpu.launch bodies as host loops (testing without a GPU)";
  let description = [{
    Rewrites each `gpu.launch` (one block, no barriers, no attributions,
    synchronous) into an `scf.parallel` over its grid and block dimensions
    whose body is the kernel's, with block and thread ids replaced by the
    induction variables. Thread-local temporaries (static `memref.alloca`)
    move in front of the loop: the compiled loop runs its iterations one
    after another (there are no OpenMP loops in this pipeline), so one
    buffer serves them all. `loomc --target=cuda-host`
    uses it to check the GPU pipeline's mapping and buffer staging
    numerically on machines without a GPU.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def CacheGPUConstantsPass : Pass<"loom-cache-gpu-constants",
                                  "mlir::ModuleOp"> {
  let summary = "Read constants through loomrt's device-resident copies";
  let description = [{
    Runs on host code in the LLVM dialect. In each function that launches
    kernels, every `llvm.mlir.addressof` of a defined constant global (the
    weights) becomes a call `loomrt_cuda_constant(address, bytes)`, which
    returns a copy in device-addressable (managed) memory, made on the first
    call and kept while the model is loaded: weights cross to the GPU once,
    not on every call. `loom-stage-gpu-buffers{constants=false}` then leaves
    the constants alone.
  }];
  let statistics = [
    Statistic<"numCached", "cached", "Constant reads redirected">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // LOOM_TRANSFORMS_PASSES_TD
