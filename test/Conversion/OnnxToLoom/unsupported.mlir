// RUN: loom-opt %s -split-input-file --loom-onnx-to-loom -verify-diagnostics
// Nodes carry their ONNX name as location (loc("name")), which has no line:
// the diagnostics are matched with @unknown.
// Diagnostics of the legalization: unsupported ops (all listed at once) and
// forms a handler rejects.

func.func @no_handler(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @unknown {{unsupported ONNX op 'Foo' (domain '', opset 17) at node 'foo0'}}
  %0 = onnx.node "Foo"(%x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4xf32>) -> tensor<4xf32> loc("foo0")
  // expected-error @unknown {{unsupported ONNX op 'Bar' (domain 'com.example', opset 2) at node 'bar0'}}
  %1 = onnx.node "Bar"(%0) attributes {attrs = {}, domain = "com.example", opset = 2 : i64} : (tensor<4xf32>) -> tensor<4xf32> loc("bar0")
  return %1 : tensor<4xf32>
}

// -----

func.func @old_opset(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @unknown {{unsupported ONNX op 'Add' (domain '', opset 6) at node 'old'}}
  %0 = onnx.node "Add"(%x, %x) attributes {attrs = {}, domain = "", opset = 6 : i64} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("old")
  return %0 : tensor<4xf32>
}

// -----

func.func @unranked(%x: tensor<*xf32>) -> tensor<*xf32> {
  // expected-error @unknown {{ONNX op 'Erf' at node 'e': an unranked or missing operand is not supported}}
  %0 = onnx.node "Erf"(%x) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<*xf32>) -> tensor<*xf32> loc("e")
  return %0 : tensor<*xf32>
}

// -----

func.func @erf_int(%x: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @unknown {{ONNX op 'Erf' at node 'e': a non-float operand is not supported}}
  %0 = onnx.node "Erf"(%x) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4xi32>) -> tensor<4xi32> loc("e")
  return %0 : tensor<4xi32>
}

// -----

func.func @add_complex(%x: tensor<4xcomplex<f32>>) -> tensor<4xcomplex<f32>> {
  // expected-error @unknown {{ONNX op 'Add' at node 'a': element type complex<f32> is not supported}}
  %0 = onnx.node "Add"(%x, %x) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<4xcomplex<f32>>, tensor<4xcomplex<f32>>) -> tensor<4xcomplex<f32>> loc("a")
  return %0 : tensor<4xcomplex<f32>>
}

// -----

func.func @add_mixed(%x: tensor<4xf32>, %y: tensor<4xf16>) -> tensor<4xf32> {
  // expected-error @unknown {{operands have different element types (ONNX op 'Add' at node 'a')}}
  %0 = onnx.node "Add"(%x, %y) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32> loc("a")
  return %0 : tensor<4xf32>
}

// -----

func.func @add_shapes(%x: tensor<4xf32>, %y: tensor<3xf32>) -> tensor<4xf32> {
  // expected-error @unknown {{operand shapes do not broadcast (ONNX op 'Add' at node 'a')}}
  %0 = onnx.node "Add"(%x, %y) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<4xf32>, tensor<3xf32>) -> tensor<4xf32> loc("a")
  return %0 : tensor<4xf32>
}

// -----

func.func @matmul_k(%x: tensor<4x3xf32>, %y: tensor<5x2xf32>) -> tensor<4x2xf32> {
  // expected-error @unknown {{contraction dimensions differ (3 vs 5) (ONNX op 'MatMul' at node 'mm')}}
  %0 = onnx.node "MatMul"(%x, %y) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x3xf32>, tensor<5x2xf32>) -> tensor<4x2xf32> loc("mm")
  return %0 : tensor<4x2xf32>
}

// -----

func.func @matmul_batch(%x: tensor<2x4x3xf32>, %y: tensor<3x3x2xf32>) -> tensor<2x4x2xf32> {
  // expected-error @unknown {{batch dimensions do not broadcast (ONNX op 'MatMul' at node 'mm')}}
  %0 = onnx.node "MatMul"(%x, %y) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x4x3xf32>, tensor<3x3x2xf32>) -> tensor<2x4x2xf32> loc("mm")
  return %0 : tensor<2x4x2xf32>
}

// -----

func.func @matmul_scalar(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @unknown {{MatMul operands must have rank >= 1 (ONNX op 'MatMul' at node 'mm')}}
  %0 = onnx.node "MatMul"(%x, %x) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<f32>, tensor<f32>) -> tensor<f32> loc("mm")
  return %0 : tensor<f32>
}

// -----

func.func @matmul_int(%x: tensor<2x2xi32>) -> tensor<2x2xi32> {
  // expected-error @unknown {{ONNX op 'MatMul' at node 'mm': non-float or mixed element types is not supported}}
  %0 = onnx.node "MatMul"(%x, %x) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x2xi32>, tensor<2x2xi32>) -> tensor<2x2xi32> loc("mm")
  return %0 : tensor<2x2xi32>
}

// -----

func.func @softmax_axis(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @unknown {{axis is out of range (ONNX op 'Softmax' at node 's')}}
  %0 = onnx.node "Softmax"(%x) attributes {attrs = {axis = 2 : i64}, domain = "", opset = 13 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("s")
  return %0 : tensor<2x3xf32>
}

// -----

func.func @softmax_v1_axis(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  // expected-error @unknown {{ONNX op 'Softmax' at node 's': Softmax before opset 13 over more than the last dimension is not supported}}
  %0 = onnx.node "Softmax"(%x) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 11 : i64} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32> loc("s")
  return %0 : tensor<2x3x4xf32>
}

// -----

func.func @softmax_v1_range(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @unknown {{axis 5 is out of range for rank 2 (ONNX op 'Softmax' at node 's')}}
  %0 = onnx.node "Softmax"(%x) attributes {attrs = {axis = 5 : i64}, domain = "", opset = 11 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("s")
  return %0 : tensor<2x3xf32>
}

// -----

func.func @transpose_perm(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @unknown {{perm has 3 entries for rank 2 (ONNX op 'Transpose' at node 't')}}
  %0 = onnx.node "Transpose"(%x) attributes {attrs = {perm = array<i64: 0, 1, 2>}, domain = "", opset = 13 : i64} : (tensor<2x3xf32>) -> tensor<3x2xf32> loc("t")
  return %0 : tensor<3x2xf32>
}

// -----

func.func @transpose_dup(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @unknown {{perm is not a permutation (ONNX op 'Transpose' at node 't')}}
  %0 = onnx.node "Transpose"(%x) attributes {attrs = {perm = array<i64: 1, 1>}, domain = "", opset = 13 : i64} : (tensor<2x3xf32>) -> tensor<3x2xf32> loc("t")
  return %0 : tensor<3x2xf32>
}

// -----

func.func @reshape_runtime(%x: tensor<6xf32>, %s: tensor<?xi64>) -> tensor<*xf32> {
  // expected-error @unknown {{ONNX op 'Reshape' at node 'r': a run-time shape of dynamic length is not supported}}
  %0 = onnx.node "Reshape"(%x, %s) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<6xf32>, tensor<?xi64>) -> tensor<*xf32> loc("r")
  return %0 : tensor<*xf32>
}

// -----

func.func @reshape_two_inferred(%x: tensor<6xf32>) -> tensor<?x?xf32> {
  %s = arith.constant dense<[-1, -1]> : tensor<2xi64>
  // expected-error @unknown {{shape has more than one -1 (ONNX op 'Reshape' at node 'r')}}
  %0 = onnx.node "Reshape"(%x, %s) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<6xf32>, tensor<2xi64>) -> tensor<?x?xf32> loc("r")
  return %0 : tensor<?x?xf32>
}

// -----

func.func @reshape_copy_missing(%x: tensor<6xf32>) -> tensor<?x?xf32> {
  %s = arith.constant dense<[6, 0]> : tensor<2xi64>
  // expected-error @unknown {{shape copies dim 1 that the input does not have (ONNX op 'Reshape' at node 'r')}}
  %0 = onnx.node "Reshape"(%x, %s) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<6xf32>, tensor<2xi64>) -> tensor<?x?xf32> loc("r")
  return %0 : tensor<?x?xf32>
}

// -----

func.func @reshape_negative(%x: tensor<6xf32>) -> tensor<?x?xf32> {
  %s = arith.constant dense<[-2, 3]> : tensor<2xi64>
  // expected-error @unknown {{shape has invalid entry -2 (ONNX op 'Reshape' at node 'r')}}
  %0 = onnx.node "Reshape"(%x, %s) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<6xf32>, tensor<2xi64>) -> tensor<?x?xf32> loc("r")
  return %0 : tensor<?x?xf32>
}

// -----

func.func @reshape_count(%x: tensor<6xf32>) -> tensor<?x?xf32> {
  %s = arith.constant dense<[4, -1]> : tensor<2xi64>
  // expected-error @unknown {{cannot reshape 6 elements to the requested shape (ONNX op 'Reshape' at node 'r')}}
  %0 = onnx.node "Reshape"(%x, %s) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<6xf32>, tensor<2xi64>) -> tensor<?x?xf32> loc("r")
  return %0 : tensor<?x?xf32>
}

// -----

func.func @reshape_total(%x: tensor<6xf32>) -> tensor<4x2xf32> {
  %s = arith.constant dense<[4, 2]> : tensor<2xi64>
  // expected-error @unknown {{cannot reshape 6 elements to 8 (ONNX op 'Reshape' at node 'r')}}
  %0 = onnx.node "Reshape"(%x, %s) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<6xf32>, tensor<2xi64>) -> tensor<4x2xf32> loc("r")
  return %0 : tensor<4x2xf32>
}

// -----

func.func @constant_missing() -> tensor<f32> {
  // expected-error @unknown {{ONNX op 'Constant' at node 'c': a Constant without a numeric value attribute is not supported}}
  %0 = onnx.node "Constant"() attributes {attrs = {value_string = "x"}, domain = "", opset = 17 : i64} : () -> tensor<f32> loc("c")
  return %0 : tensor<f32>
}

// -----

func.func @constant_complex() -> tensor<1xcomplex<f32>> {
  // expected-error @unknown {{ONNX op 'Constant' at node 'c': a Constant of element type other than integer or float is not supported}}
  %0 = onnx.node "Constant"() attributes {attrs = {value = dense<(1.0, 2.0)> : tensor<1xcomplex<f32>>}, domain = "", opset = 17 : i64} : () -> tensor<1xcomplex<f32>> loc("c")
  return %0 : tensor<1xcomplex<f32>>
}

// -----

func.func @dropout_training(%x: tensor<4xf32>, %r: tensor<f32>, %t: tensor<i1>) -> tensor<4xf32> {
  // expected-error @unknown {{ONNX op 'Dropout' at node 'd': Dropout in training mode is not supported}}
  %0 = onnx.node "Dropout"(%x, %r, %t) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4xf32>, tensor<f32>, tensor<i1>) -> tensor<4xf32> loc("d")
  return %0 : tensor<4xf32>
}

// -----

func.func @ln_stash(%x: tensor<2x4xf32>, %g: tensor<4xf32>) -> tensor<2x4xf32> {
  // expected-error @unknown {{ONNX op 'LayerNormalization' at node 'ln': stash_type other than float is not supported}}
  %0 = onnx.node "LayerNormalization"(%x, %g) attributes {attrs = {stash_type = 11 : i64}, domain = "", opset = 17 : i64} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32> loc("ln")
  return %0 : tensor<2x4xf32>
}

// -----

func.func @ln_scale(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %n = onnx.none
  // expected-error @unknown {{requires a ranked Scale input (ONNX op 'LayerNormalization' at node 'ln')}}
  %0 = onnx.node "LayerNormalization"(%x, %n) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2x4xf32>, none) -> tensor<2x4xf32> loc("ln")
  return %0 : tensor<2x4xf32>
}

// -----

func.func @ln_invalid(%x: tensor<2x4xf32>, %g: tensor<5xf32>) -> tensor<2x4xf32> {
  // expected-error @unknown {{'loom.layer_norm' op scale dimension 0 (5) does not broadcast to 4}}
  // expected-error @unknown {{invalid LayerNormalization (ONNX op 'LayerNormalization' at node 'ln')}}
  %0 = onnx.node "LayerNormalization"(%x, %g) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2x4xf32>, tensor<5xf32>) -> tensor<2x4xf32> loc("ln")
  return %0 : tensor<2x4xf32>
}

// -----

func.func @seq_no_rank() -> !onnx.seq<tensor<*xf32>> {
  // expected-error @unknown {{ONNX op 'SequenceEmpty' at node 'e': a sequence whose element rank no node reveals is not supported}}
  %e = onnx.node "SequenceEmpty"() attributes {attrs = {dtype = 1 : i64}, domain = "", opset = 17 : i64} : () -> !onnx.seq<tensor<*xf32>> loc("e")
  return %e : !onnx.seq<tensor<*xf32>>
}

// -----

func.func @endless_loop(%x: tensor<2xf32>) -> tensor<2xf32> {
  %none = onnx.none
  // expected-error @unknown {{ONNX op 'Loop' at node 'l': a Loop with neither trip count nor condition is not supported}}
  %y = onnx.node "Loop"(%none, %none, %x) attributes {attrs = {}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%i: tensor<i64>, %c: tensor<i1>, %v: tensor<2xf32>):
    onnx.yield %c, %v : tensor<i1>, tensor<2xf32>
  } : (none, none, tensor<2xf32>) -> tensor<2xf32> loc("l")
  return %y : tensor<2xf32>
}

// -----

func.func @scan_bad_count(%s: tensor<2xf32>, %x: tensor<3x2xf32>) -> tensor<2xf32> {
  // expected-error @unknown {{num_scan_inputs is out of range (ONNX op 'Scan' at node 's')}}
  %y = onnx.node "Scan"(%s, %x) attributes {attrs = {num_scan_inputs = 3 : i64}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%acc: tensor<2xf32>, %e: tensor<2xf32>):
    onnx.yield %acc : tensor<2xf32>
  } : (tensor<2xf32>, tensor<3x2xf32>) -> tensor<2xf32> loc("s")
  return %y : tensor<2xf32>
}

// -----

func.func @scan8_sequence_lens(%l: tensor<1xi32>, %s: tensor<1x2xf32>, %x: tensor<1x3x2xf32>) -> tensor<1x2xf32> {
  // expected-error @unknown {{ONNX op 'Scan' at node 's8': Scan-8 with sequence_lens is not supported}}
  %y = onnx.node "Scan"(%l, %s, %x) attributes {attrs = {num_scan_inputs = 1 : i64}, domain = "", opset = 8 : i64, subgraphs = ["body"]} {
  ^bb0(%acc: tensor<2xf32>, %e: tensor<2xf32>):
    onnx.yield %acc : tensor<2xf32>
  } : (tensor<1xi32>, tensor<1x2xf32>, tensor<1x3x2xf32>) -> tensor<1x2xf32> loc("s8")
  return %y : tensor<1x2xf32>
}

// -----

// com.microsoft Attention with a past state, and with a num_heads that does
// not divide the hidden size.
func.func @ms_attention_past(%x: tensor<2x5x32xf32>, %w: tensor<32x96xf32>, %past: tensor<2x2x4x3x8xf32>) -> tensor<2x5x32xf32> {
  %n = onnx.none
  // expected-error @unknown {{ONNX op 'Attention' at node 'att': past state or attention bias inputs is not supported}}
  %0 = onnx.node "Attention"(%x, %w, %n, %n, %past) attributes {attrs = {num_heads = 4 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<2x5x32xf32>, tensor<32x96xf32>, none, none, tensor<2x2x4x3x8xf32>) -> tensor<2x5x32xf32> loc("att")
  return %0 : tensor<2x5x32xf32>
}

// -----

func.func @ms_attention_heads(%x: tensor<2x5x32xf32>, %w: tensor<32x96xf32>) -> tensor<2x5x32xf32> {
  // expected-error @unknown {{num_heads must divide a static third of the weight's width (ONNX op 'Attention' at node 'att2'}}
  %0 = onnx.node "Attention"(%x, %w) attributes {attrs = {num_heads = 5 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<2x5x32xf32>, tensor<32x96xf32>) -> tensor<2x5x32xf32> loc("att2")
  return %0 : tensor<2x5x32xf32>
}

// -----

// com.microsoft MatMulNBits: other bit widths, act-order g_idx, weights
// computed at run time, and inconsistent sizes.
func.func @matmul_nbits_bits(%x: tensor<3x32xf32>, %s: tensor<4xf32>) -> tensor<3x2xf32> {
  %b = onnx.node "Constant"() attributes {attrs = {value = dense<0> : tensor<2x2x16xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2x2x16xui8>
  // expected-error @unknown {{ONNX op 'MatMulNBits' at node 'mnb8': bits = 8 (only 4) is not supported}}
  %0 = onnx.node "MatMulNBits"(%x, %b, %s) attributes {attrs = {K = 32 : i64, N = 2 : i64, bits = 8 : i64, block_size = 16 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<3x32xf32>, tensor<2x2x16xui8>, tensor<4xf32>) -> tensor<3x2xf32> loc("mnb8")
  return %0 : tensor<3x2xf32>
}

// -----

func.func @matmul_nbits_g_idx(%x: tensor<3x32xf32>, %s: tensor<4xf32>, %g: tensor<32xi32>) -> tensor<3x2xf32> {
  %b = onnx.node "Constant"() attributes {attrs = {value = dense<0> : tensor<2x2x8xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2x2x8xui8>
  %n = onnx.none
  // expected-error @unknown {{ONNX op 'MatMulNBits' at node 'mnbg': g_idx (act-order weights) is not supported}}
  %0 = onnx.node "MatMulNBits"(%x, %b, %s, %n, %g) attributes {attrs = {K = 32 : i64, N = 2 : i64, block_size = 16 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<3x32xf32>, tensor<2x2x8xui8>, tensor<4xf32>, none, tensor<32xi32>) -> tensor<3x2xf32> loc("mnbg")
  return %0 : tensor<3x2xf32>
}

// -----

func.func @matmul_nbits_runtime_weights(%x: tensor<3x32xf32>, %b: tensor<2x2x8xui8>) -> tensor<3x2xf32> {
  %s = arith.constant dense<1.0> : tensor<4xf32>
  // expected-error @unknown {{ONNX op 'MatMulNBits' at node 'mnbr': weights or scales computed at run time (or not uint8 and fp32) is not supported}}
  %0 = onnx.node "MatMulNBits"(%x, %b, %s) attributes {attrs = {K = 32 : i64, N = 2 : i64, block_size = 16 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<3x32xf32>, tensor<2x2x8xui8>, tensor<4xf32>) -> tensor<3x2xf32> loc("mnbr")
  return %0 : tensor<3x2xf32>
}

// -----

func.func @matmul_nbits_sizes(%x: tensor<3x32xf32>) -> tensor<3x2xf32> {
  %b = onnx.node "Constant"() attributes {attrs = {value = dense<0> : tensor<2x1x8xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2x1x8xui8>
  %s = arith.constant dense<1.0> : tensor<4xf32>
  // expected-error @unknown {{B must hold N x ceil(K/block) x block/2 bytes and scales N x ceil(K/block) values (ONNX op 'MatMulNBits' at node 'mnbs'}}
  %0 = onnx.node "MatMulNBits"(%x, %b, %s) attributes {attrs = {K = 32 : i64, N = 2 : i64, block_size = 16 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<3x32xf32>, tensor<2x1x8xui8>, tensor<4xf32>) -> tensor<3x2xf32> loc("mnbs")
  return %0 : tensor<3x2xf32>
}

// -----

func.func @matmul_nbits_block(%x: tensor<3x32xf32>, %s: tensor<4xf32>) -> tensor<3x2xf32> {
  %b = onnx.node "Constant"() attributes {attrs = {value = dense<0> : tensor<2x2x8xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2x2x8xui8>
  // expected-error @unknown {{K and N must be positive and block_size a power of two >= 16 (ONNX op 'MatMulNBits' at node 'mnbk'}}
  %0 = onnx.node "MatMulNBits"(%x, %b, %s) attributes {attrs = {K = 32 : i64, N = 2 : i64, block_size = 12 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<3x32xf32>, tensor<2x2x8xui8>, tensor<4xf32>) -> tensor<3x2xf32> loc("mnbk")
  return %0 : tensor<3x2xf32>
}

// -----

// Quantization ops: other target types, scales of other shapes, per-row
// requantization scales, non-8-bit integer matrices.
func.func @quantize_linear_int16(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i16>) -> tensor<4xi16> {
  // expected-error @unknown {{ONNX op 'QuantizeLinear' at node 'q16': quantizing to other than uint8 or int8 is not supported}}
  %0 = onnx.node "QuantizeLinear"(%x, %s, %z) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4xf32>, tensor<f32>, tensor<i16>) -> tensor<4xi16> loc("q16")
  return %0 : tensor<4xi16>
}

// -----

func.func @dequantize_linear_scale_2d(%x: tensor<2x3xi8>, %s: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @unknown {{the scale must be a scalar or 1-D along an axis in range (ONNX op 'DequantizeLinear' at node 'dq2'}}
  %0 = onnx.node "DequantizeLinear"(%x, %s) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x3xi8>, tensor<2x3xf32>) -> tensor<2x3xf32> loc("dq2")
  return %0 : tensor<2x3xf32>
}

// -----

func.func @qlinear_matmul_per_row(%a: tensor<2x4xui8>, %sa: tensor<2xf32>, %za: tensor<1xui8>, %b: tensor<4x3xui8>, %sb: tensor<1xf32>, %zb: tensor<1xui8>, %sy: tensor<1xf32>, %zy: tensor<1xui8>) -> tensor<2x3xui8> {
  // expected-error @unknown {{ONNX op 'QLinearMatMul' at node 'qmm': scales other than one fp32 value is not supported}}
  %0 = onnx.node "QLinearMatMul"(%a, %sa, %za, %b, %sb, %zb, %sy, %zy) attributes {attrs = {}, domain = "", opset = 10 : i64} : (tensor<2x4xui8>, tensor<2xf32>, tensor<1xui8>, tensor<4x3xui8>, tensor<1xf32>, tensor<1xui8>, tensor<1xf32>, tensor<1xui8>) -> tensor<2x3xui8> loc("qmm")
  return %0 : tensor<2x3xui8>
}

// -----

func.func @matmul_integer_float(%a: tensor<4x3xf32>, %b: tensor<3x2xui8>) -> tensor<4x2xi32> {
  // expected-error @unknown {{ONNX op 'MatMulInteger' at node 'mmi': operands other than 8-bit integer matrices is not supported}}
  %0 = onnx.node "MatMulInteger"(%a, %b) attributes {attrs = {}, domain = "", opset = 10 : i64} : (tensor<4x3xf32>, tensor<3x2xui8>) -> tensor<4x2xi32> loc("mmi")
  return %0 : tensor<4x2xi32>
}

// -----

func.func @dynamic_quantize_linear_f16(%x: tensor<6xf16>) -> (tensor<6xui8>, tensor<f32>, tensor<ui8>) {
  // expected-error @unknown {{ONNX op 'DynamicQuantizeLinear' at node 'dql': an input other than a ranked fp32 tensor is not supported}}
  %0:3 = onnx.node "DynamicQuantizeLinear"(%x) attributes {attrs = {}, domain = "", opset = 11 : i64} : (tensor<6xf16>) -> (tensor<6xui8>, tensor<f32>, tensor<ui8>) loc("dql")
  return %0#0, %0#1, %0#2 : tensor<6xui8>, tensor<f32>, tensor<ui8>
}
