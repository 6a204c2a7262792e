// RUN: loom-opt %s -split-input-file -verify-diagnostics
// One case per verifier message of the loom ops.

func.func @rank_mismatch(%q: tensor<2x4x8xf32>, %k: tensor<2x1x4x8xf32>) {
  // expected-error @+1 {{expects query, key and value of one rank, 3 or 4}}
  %o = loom.attention %q, %k, %k : (tensor<2x4x8xf32>, tensor<2x1x4x8xf32>, tensor<2x1x4x8xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @rank2(%q: tensor<4x8xf32>) {
  // expected-error @+1 {{expects query, key and value of one rank, 3 or 4}}
  %o = loom.attention %q, %q, %q : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @element_types(%q: tensor<2x4x8xf32>, %k: tensor<2x4x8xf16>) {
  // expected-error @+1 {{expects query, key, value and mask of one element type}}
  %o = loom.attention %q, %k, %k : (tensor<2x4x8xf32>, tensor<2x4x8xf16>, tensor<2x4x8xf16>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @batch(%q: tensor<2x4x8xf32>, %k: tensor<3x4x8xf32>) {
  // expected-error @+1 {{batch dimensions of query, key and value differ}}
  %o = loom.attention %q, %k, %k : (tensor<2x4x8xf32>, tensor<3x4x8xf32>, tensor<3x4x8xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @kv_seq(%q: tensor<2x4x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x6x8xf32>) {
  // expected-error @+1 {{key and value sequence lengths differ}}
  %o = loom.attention %q, %k, %v : (tensor<2x4x8xf32>, tensor<2x5x8xf32>, tensor<2x6x8xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @head_dim(%q: tensor<2x4x8xf32>, %k: tensor<2x4x16xf32>) {
  // expected-error @+1 {{query and key head dimensions differ}}
  %o = loom.attention %q, %k, %k : (tensor<2x4x8xf32>, tensor<2x4x16xf32>, tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  return
}

// -----

func.func @gqa_rank3(%q: tensor<2x4x8xf32>) {
  // expected-error @+1 {{num_kv_heads requires rank-4 operands}}
  %o = loom.attention %q, %q, %q {num_kv_heads = 1 : i64} : (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @gqa_zero(%q: tensor<1x2x4x8xf32>) {
  // expected-error @+1 {{num_kv_heads must be positive}}
  %o = loom.attention %q, %q, %q {num_kv_heads = 0 : i64} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @gqa_kv_heads(%q: tensor<1x8x4x8xf32>, %k: tensor<1x4x4x8xf32>) {
  // expected-error @+1 {{key/value head count (4) differs from num_kv_heads (2)}}
  %o = loom.attention %q, %k, %k {num_kv_heads = 2 : i64} : (tensor<1x8x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x8x4x8xf32>
  return
}

// -----

func.func @gqa_multiple(%q: tensor<1x6x4x8xf32>, %k: tensor<1x4x4x8xf32>) {
  // expected-error @+1 {{query head count (6) is not a multiple of num_kv_heads (4)}}
  %o = loom.attention %q, %k, %k {num_kv_heads = 4 : i64} : (tensor<1x6x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x6x4x8xf32>
  return
}

// -----

func.func @heads(%q: tensor<1x8x4x8xf32>, %k: tensor<1x4x4x8xf32>) {
  // expected-error @+1 {{query and key/value head counts differ; set num_kv_heads for grouped-query attention}}
  %o = loom.attention %q, %k, %k : (tensor<1x8x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x8x4x8xf32>
  return
}

// -----

func.func @scale(%q: tensor<2x4x8xf32>) {
  // expected-error @+1 {{scale must be finite}}
  %o = loom.attention %q, %q, %q {scale = 0x7F800000 : f32} : (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @dynamic_head_dim(%q: tensor<2x4x?xf32>) {
  // expected-error @+1 {{requires an explicit scale when the head dimension is dynamic}}
  %o = loom.attention %q, %q, %q : (tensor<2x4x?xf32>, tensor<2x4x?xf32>, tensor<2x4x?xf32>) -> tensor<2x4x?xf32>
  return
}

// -----

func.func @mask_rank(%q: tensor<2x4x8xf32>, %m: tensor<1x1x1x4x4xf32>) {
  // expected-error @+1 {{mask of rank 5 does not broadcast to rank 3}}
  %o = loom.attention %q, %q, %q mask %m : (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<1x1x1x4x4xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @mask_dims(%q: tensor<2x4x8xf32>, %m: tensor<3x4x4xf32>) {
  // expected-error @+1 {{mask dimension 0 (3) does not broadcast to 2}}
  %o = loom.attention %q, %q, %q mask %m : (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<3x4x4xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @wrong_result(%q: tensor<2x4x8xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<2x4x8xf32>' are incompatible with return type(s) of operation 'tensor<2x4x4xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %o = loom.attention %q, %q, %q : (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x4xf32>
  return
}

// -----

func.func @not_float(%q: tensor<2x4x8xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values}}
  %o = loom.attention %q, %q, %q : (tensor<2x4x8xi32>, tensor<2x4x8xi32>, tensor<2x4x8xi32>) -> tensor<2x4x8xi32>
  return
}

// -----

func.func @norm_axis(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %y = loom.layer_norm %x {axis = 2 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @norm_epsilon(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{epsilon must be finite and non-negative}}
  %y = loom.rms_norm %x {epsilon = -1.0 : f32} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @norm_scale_type(%x: tensor<4x8xf32>, %g: tensor<8xf16>) {
  // expected-error @+1 {{scale element type differs from the input's}}
  %y = loom.layer_norm %x, %g : (tensor<4x8xf32>, tensor<8xf16>) -> tensor<4x8xf32>
  return
}

// -----

func.func @norm_scale_rank(%x: tensor<4x8xf32>, %g: tensor<4x8xf32>) {
  // expected-error @+1 {{scale of rank 2 does not broadcast to rank 1}}
  %y = loom.rms_norm %x, %g : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @norm_bias_dims(%x: tensor<4x8xf32>, %g: tensor<8xf32>, %b: tensor<5xf32>) {
  // expected-error @+1 {{bias dimension 0 (5) does not broadcast to 8}}
  %y = loom.layer_norm %x, %g bias %b : (tensor<4x8xf32>, tensor<8xf32>, tensor<5xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @gelu_int(%x: tensor<4xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values}}
  %y = loom.gelu %x : tensor<4xi32>
  return
}

// -----

func.func @gelu_approx(%x: tensor<4xf32>) {
  // expected-error @+2 {{expected ::loom::GeluApproximation to be one of: none, tanh}}
  // expected-error @+1 {{failed to parse Loom_GeluApproximationAttr parameter 'value'}}
  %y = loom.gelu %x {approximate = #loom.gelu_approximation<exact>} : tensor<4xf32>
  return
}

// -----

func.func @runtime_check_not_scalar(%failed: tensor<2xi1>) {
  // expected-error @+1 {{operand #0 must be 0D tensor of 1-bit signless integer values}}
  loom.runtime_check %failed, "bad" : tensor<2xi1>
  return
}

// -----

func.func @scan_arity(%q: tensor<1x2x8x4xf32>) {
  // expected-error @+1 {{'gated' expects 4 operands, got 3}}
  %o = loom.scan <gated> %q, %q, %q : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
  return
}

// -----

func.func @scan_types(%q: tensor<1x2x8x4xf32>, %v: tensor<1x2x8x4xf16>) {
  // expected-error @+1 {{expects operands of one element type}}
  %o = loom.scan <linear> %q, %q, %v : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf16>) -> tensor<1x2x8x4xf32>
  return
}

// -----

func.func @scan_diagonal_rank(%x: tensor<8x4xf32>, %a: tensor<1x8x4x2xf32>, %c: tensor<1x8x2xf32>) {
  // expected-error @+1 {{x must have rank 3 [B, T, D], got rank 2}}
  %o = loom.scan <diagonal> %x, %a, %a, %c : (tensor<8x4xf32>, tensor<1x8x4x2xf32>, tensor<1x8x4x2xf32>, tensor<1x8x2xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @scan_diagonal_state(%x: tensor<1x8x4xf32>, %a: tensor<1x8x4x2xf32>, %b: tensor<1x8x4x3xf32>, %c: tensor<1x8x2xf32>) {
  // expected-error @+1 {{b dimension 3 is 3, expected 2}}
  %o = loom.scan <diagonal> %x, %a, %b, %c : (tensor<1x8x4xf32>, tensor<1x8x4x2xf32>, tensor<1x8x4x3xf32>, tensor<1x8x2xf32>) -> tensor<1x8x4xf32>
  return
}

// -----

func.func @scan_diagonal_arity(%a: tensor<1x8x4x2xf32>) {
  // expected-error @+1 {{'diagonal' expects 3 or 4 operands, got 2}}
  %o = loom.scan <diagonal> %a, %a : (tensor<1x8x4x2xf32>, tensor<1x8x4x2xf32>) -> tensor<1x8x4xf32>
  return
}

// -----

func.func @scan_folded_rank(%a: tensor<8x4x2xf32>, %c: tensor<8x2xf32>) {
  // expected-error @+1 {{a must have rank 4 [B, T, D, N], got rank 3}}
  %o = loom.scan <diagonal> %a, %a, %c : (tensor<8x4x2xf32>, tensor<8x4x2xf32>, tensor<8x2xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @scan_folded_input(%a: tensor<1x8x4x2xf32>, %u: tensor<1x8x5x2xf32>, %c: tensor<1x8x2xf32>) {
  // expected-error @+1 {{u dimension 2 is 5, expected 4}}
  %o = loom.scan <diagonal> %a, %u, %c : (tensor<1x8x4x2xf32>, tensor<1x8x5x2xf32>, tensor<1x8x2xf32>) -> tensor<1x8x4xf32>
  return
}

// -----

func.func @scan_folded_readout(%a: tensor<1x8x4x2xf32>, %c: tensor<1x7x2xf32>) {
  // expected-error @+1 {{c dimension 1 is 7, expected 8}}
  %o = loom.scan <diagonal> %a, %a, %c : (tensor<1x8x4x2xf32>, tensor<1x8x4x2xf32>, tensor<1x7x2xf32>) -> tensor<1x8x4xf32>
  return
}

// -----

func.func @scan_q_rank(%q: tensor<2x8x4xf32>) {
  // expected-error @+1 {{q must have rank 4 [B, H, T, Dk], got rank 3}}
  %o = loom.scan <linear> %q, %q, %q : (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
  return
}

// -----

func.func @scan_key_length(%q: tensor<1x2x8x4xf32>, %k: tensor<1x2x9x4xf32>) {
  // expected-error @+1 {{k dimension 2 is 9, expected 8}}
  %o = loom.scan <linear> %q, %k, %q : (tensor<1x2x8x4xf32>, tensor<1x2x9x4xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
  return
}

// -----

func.func @scan_gate(%q: tensor<1x2x8x4xf32>, %g: tensor<1x2x8x5xf32>) {
  // expected-error @+1 {{alpha dimension 3 is 5, expected 4}}
  %o = loom.scan <gated> %q, %q, %q, %g : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x5xf32>) -> tensor<1x2x8x4xf32>
  return
}

// -----

func.func @scan_beta(%q: tensor<1x2x8x4xf32>, %b: tensor<1x2x8x1xf32>) {
  // expected-error @+1 {{beta must have rank 3, got 4}}
  %o = loom.scan <delta> %q, %q, %q, %b : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x1xf32>) -> tensor<1x2x8x4xf32>
  return
}

// -----

func.func @moe_arity(%x: tensor<8x16xf32>, %w: tensor<8x2xf32>, %i: tensor<8x2xi64>, %w1: tensor<16x32xf32>) {
  // expected-error @+1 {{expects 2 (W1, W2) or 4 (W1, b1, W2, b2) operands per expert, got 3 for 1 experts}}
  %0 = loom.moe %x, %w, %i experts(%w1, %w1, %w1) {num_experts = 1 : i64} : (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xi64>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @moe_gates(%x: tensor<8x16xf32>, %w: tensor<7x2xf32>, %i: tensor<7x2xi64>, %w1: tensor<16x32xf32>, %w2: tensor<32x16xf32>) {
  // expected-error @+1 {{gate dimension 0 is 7, expected 8}}
  %0 = loom.moe %x, %w, %i experts(%w1, %w2) {num_experts = 1 : i64} : (tensor<8x16xf32>, tensor<7x2xf32>, tensor<7x2xi64>, tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @moe_expert_shape(%x: tensor<8x16xf32>, %w: tensor<8x2xf32>, %i: tensor<8x2xi64>, %w1: tensor<16x32xf32>, %w2: tensor<32x16xf32>, %w3: tensor<24x16xf32>) {
  // expected-error @+1 {{expert 1 W2 dimension 0 is 24, expected 32}}
  %0 = loom.moe %x, %w, %i experts(%w1, %w2, %w1, %w3) {num_experts = 2 : i64} : (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xi64>, tensor<16x32xf32>, tensor<32x16xf32>, tensor<16x32xf32>, tensor<24x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @moe_bias(%x: tensor<8x16xf32>, %w: tensor<8x2xf32>, %i: tensor<8x2xi64>, %w1: tensor<16x32xf32>, %w2: tensor<32x16xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{expert 0 b1 dimension 0 is 16, expected 32}}
  %0 = loom.moe %x, %w, %i experts(%w1, %b, %w2, %b) {num_experts = 1 : i64} : (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xi64>, tensor<16x32xf32>, tensor<16xf32>, tensor<32x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @token_mixing_rank(%x: tensor<196x64xf32>, %w1: tensor<196x32xf32>, %w2: tensor<32x196xf32>) {
  // expected-error @+1 {{input must have rank 3 [B, S, C], got rank 2}}
  %0 = loom.token_mixing %x, %w1, %w2 : (tensor<196x64xf32>, tensor<196x32xf32>, tensor<32x196xf32>) -> tensor<196x64xf32>
  return
}

// -----

func.func @token_mixing_weights(%x: tensor<1x196x64xf32>, %w1: tensor<64x32xf32>, %w2: tensor<32x196xf32>) {
  // expected-error @+1 {{w1 dimension 0 is 64, expected 196}}
  %0 = loom.token_mixing %x, %w1, %w2 : (tensor<1x196x64xf32>, tensor<64x32xf32>, tensor<32x196xf32>) -> tensor<1x196x64xf32>
  return
}

// -----

func.func @monarch_blocks(%x: tensor<2x250xf32>, %w1: tensor<16x16x16xf32>, %w2: tensor<16x16x16xf32>) {
  // expected-error @+1 {{input's last dimension is 250, expected 16 x 16 = 256 (w1's blocks)}}
  %0 = loom.monarch %x, %w1, %w2 : (tensor<2x250xf32>, tensor<16x16x16xf32>, tensor<16x16x16xf32>) -> tensor<2x256xf32>
  return
}

// -----

func.func @monarch_second_factor(%x: tensor<2x64xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<16x4x8xf32>) {
  // expected-error @+1 {{w2 must be [8, 4, S] (Q blocks of K rows), got [16, 4, 8]}}
  %0 = loom.monarch %x, %w1, %w2 : (tensor<2x64xf32>, tensor<4x16x8xf32>, tensor<16x4x8xf32>) -> tensor<2x128xf32>
  return
}

// -----

func.func @monarch_dynamic_weights(%x: tensor<2x64xf32>, %w1: tensor<?x16x8xf32>, %w2: tensor<8x4x8xf32>) {
  // expected-error @+1 {{w1 must be a static rank-3 tensor}}
  %0 = loom.monarch %x, %w1, %w2 : (tensor<2x64xf32>, tensor<?x16x8xf32>, tensor<8x4x8xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @quantized_matmul_depth(%x: tensor<2x64xf32>, %w: tensor<32x16xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{input's last dimension is 64, the weight has K = 32}}
  %0 = loom.quantized_matmul %x, %w, %s : (tensor<2x64xf32>, tensor<32x16xi8>, tensor<16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_scale(%x: tensor<2x32xf32>, %w: tensor<32x16xi8>, %s: tensor<32xf32>) {
  // expected-error @+1 {{scale must be f32 [16] (one per output column)}}
  %0 = loom.quantized_matmul %x, %w, %s : (tensor<2x32xf32>, tensor<32x16xi8>, tensor<32xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_weight(%x: tensor<2x32xf32>, %w: tensor<32x?xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{weight must be a static 2-d tensor}}
  %0 = loom.quantized_matmul %x, %w, %s : (tensor<2x32xf32>, tensor<32x?xi8>, tensor<16xf32>) -> tensor<2x?xf32>
  return
}

// -----

func.func @quantized_matmul_bits(%x: tensor<2x32xf32>, %w: tensor<16x16xi8>, %s: tensor<1x16xf32>) {
  // expected-error @+1 {{bits must be 8 or 4, not 2}}
  %0 = loom.quantized_matmul %x, %w, %s {bits = 2 : i64, group_size = 32 : i64} : (tensor<2x32xf32>, tensor<16x16xi8>, tensor<1x16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_int8_groups(%x: tensor<2x32xf32>, %w: tensor<32x16xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{8-bit weights take one scale per column: no group_size, no zero_point}}
  %0 = loom.quantized_matmul %x, %w, %s {group_size = 32 : i64} : (tensor<2x32xf32>, tensor<32x16xi8>, tensor<16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_input_bits(%x: tensor<2x32xf32>, %w: tensor<32x16xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{input_bits must be 0 (fp32 input) or 8, not 4}}
  %0 = loom.quantized_matmul %x, %w, %s {input_bits = 4 : i64} : (tensor<2x32xf32>, tensor<32x16xi8>, tensor<16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_input_scale_fp32(%x: tensor<2x32xf32>, %w: tensor<32x16xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{input_scale and input_zero_point need input_bits = 8}}
  %0 = loom.quantized_matmul %x, %w, %s {input_scale = 0.5 : f32} : (tensor<2x32xf32>, tensor<32x16xi8>, tensor<16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_w4a8_group(%x: tensor<2x32xf32>, %w: tensor<16x16xi8>, %s: tensor<3x16xf16>) {
  // expected-error @+1 {{8-bit inputs with 4-bit weights (W4A8) need a group_size that is a multiple of 8 and take no input_scale or input_zero_point (each row and group gets its own)}}
  %0 = loom.quantized_matmul %x, %w, %s {bits = 4 : i64, group_size = 12 : i64, input_bits = 8 : i64} : (tensor<2x32xf32>, tensor<16x16xi8>, tensor<3x16xf16>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_w4a8_static(%x: tensor<2x32xf32>, %w: tensor<16x16xi8>, %s: tensor<1x16xf16>) {
  // expected-error @+1 {{8-bit inputs with 4-bit weights (W4A8) need a group_size that is a multiple of 8 and take no input_scale or input_zero_point (each row and group gets its own)}}
  %0 = loom.quantized_matmul %x, %w, %s {bits = 4 : i64, group_size = 32 : i64, input_bits = 8 : i64, input_scale = 0.5 : f32} : (tensor<2x32xf32>, tensor<16x16xi8>, tensor<1x16xf16>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_input_scale(%x: tensor<2x32xf32>, %w: tensor<32x16xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{input_scale must be positive and finite}}
  %0 = loom.quantized_matmul %x, %w, %s {input_bits = 8 : i64, input_scale = -0.5 : f32} : (tensor<2x32xf32>, tensor<32x16xi8>, tensor<16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_input_zero_alone(%x: tensor<2x32xf32>, %w: tensor<32x16xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{input_zero_point needs input_scale}}
  %0 = loom.quantized_matmul %x, %w, %s {input_bits = 8 : i64, input_zero_point = 3 : i64} : (tensor<2x32xf32>, tensor<32x16xi8>, tensor<16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_input_zero(%x: tensor<2x32xf32>, %w: tensor<32x16xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{input_zero_point must be in 0..255, not 256}}
  %0 = loom.quantized_matmul %x, %w, %s {input_bits = 8 : i64, input_scale = 0.5 : f32, input_zero_point = 256 : i64} : (tensor<2x32xf32>, tensor<32x16xi8>, tensor<16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_int4_group(%x: tensor<2x32xf32>, %w: tensor<16x16xi8>, %s: tensor<3x16xf16>) {
  // expected-error @+1 {{4-bit weights need an even group_size >= 2, not 11}}
  %0 = loom.quantized_matmul %x, %w, %s {bits = 4 : i64, group_size = 11 : i64} : (tensor<2x32xf32>, tensor<16x16xi8>, tensor<3x16xf16>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_int4_dynamic_k(%x: tensor<2x?xf32>, %w: tensor<16x16xi8>, %s: tensor<1x16xf16>) {
  // expected-error @+1 {{4-bit weights need a static K (input's last dim)}}
  %0 = loom.quantized_matmul %x, %w, %s {bits = 4 : i64, group_size = 32 : i64} : (tensor<2x?xf32>, tensor<16x16xi8>, tensor<1x16xf16>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_int4_rows(%x: tensor<2x33xf32>, %w: tensor<16x16xi8>, %s: tensor<2x16xf16>) {
  // expected-error @+1 {{4-bit weights for K = 33 are [17, N] bytes, not [16, N]}}
  %0 = loom.quantized_matmul %x, %w, %s {bits = 4 : i64, group_size = 32 : i64} : (tensor<2x33xf32>, tensor<16x16xi8>, tensor<2x16xf16>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_int4_scale(%x: tensor<2x64xf32>, %w: tensor<32x16xi8>, %s: tensor<16xf16>) {
  // expected-error @+1 {{scale must be [2, 16] (one per group of 32 rows and column)}}
  %0 = loom.quantized_matmul %x, %w, %s {bits = 4 : i64, group_size = 32 : i64} : (tensor<2x64xf32>, tensor<32x16xi8>, tensor<16xf16>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_int4_zero(%x: tensor<2x64xf32>, %w: tensor<32x16xi8>, %s: tensor<2x16xf16>, %z: tensor<1x16xi8>) {
  // expected-error @+1 {{zero_point must be [2, 16] (one per group of 32 rows and column)}}
  %0 = loom.quantized_matmul %x, %w, %s zero_point %z {bits = 4 : i64, group_size = 32 : i64} : (tensor<2x64xf32>, tensor<32x16xi8>, tensor<2x16xf16>, tensor<1x16xi8>) -> tensor<2x16xf32>
  return
}

// -----

func.func @quantized_matmul_int4_bf16_scale(%x: tensor<2x64xf32>, %w: tensor<32x16xi8>, %s: tensor<2x16xbf16>) {
  // expected-error @+1 {{4-bit weights take f16 or f32 scales}}
  %0 = loom.quantized_matmul %x, %w, %s {bits = 4 : i64, group_size = 32 : i64} : (tensor<2x64xf32>, tensor<32x16xi8>, tensor<2x16xbf16>) -> tensor<2x16xf32>
  return
}

// -----

func.func @sparse_matmul_format(%x: tensor<2x64xf32>, %v: tensor<32x16xf32>, %i: tensor<16x16xi8>) {
  // expected-error @+1 {{format must be "block" or "2:4", not "1:4"}}
  %0 = loom.sparse_matmul %x, %v, %i {format = "1:4", columns = 16 : i64} : (tensor<2x64xf32>, tensor<32x16xf32>, tensor<16x16xi8>) -> tensor<2x16xf32>
  return
}

// -----

func.func @sparse_matmul_dynamic_k(%x: tensor<2x?xf32>, %v: tensor<32x16xf32>, %i: tensor<16x16xi8>) {
  // expected-error @+1 {{input must have a static last dimension (K)}}
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 16 : i64} : (tensor<2x?xf32>, tensor<32x16xf32>, tensor<16x16xi8>) -> tensor<2x16xf32>
  return
}

// -----

func.func @sparse_matmul_columns(%x: tensor<2x64xf32>, %v: tensor<32x16xf32>, %i: tensor<16x16xi8>) {
  // expected-error @+1 {{columns must be positive, not 0}}
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 0 : i64} : (tensor<2x64xf32>, tensor<32x16xf32>, tensor<16x16xi8>) -> tensor<2x0xf32>
  return
}

// -----

func.func @sparse_matmul_dynamic_values(%x: tensor<2x64xf32>, %v: tensor<?x16xf32>, %i: tensor<16x16xi8>) {
  // expected-error @+1 {{values and indices must have static shapes}}
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 16 : i64} : (tensor<2x64xf32>, tensor<?x16xf32>, tensor<16x16xi8>) -> tensor<2x16xf32>
  return
}

// -----

func.func @sparse_matmul_2_4_k(%x: tensor<2x66xf32>, %v: tensor<33x16xf32>, %i: tensor<16x16xi8>) {
  // expected-error @+1 {{2:4 weights need K a multiple of 4, not 66}}
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 16 : i64} : (tensor<2x66xf32>, tensor<33x16xf32>, tensor<16x16xi8>) -> tensor<2x16xf32>
  return
}

// -----

func.func @sparse_matmul_2_4_offsets(%x: tensor<2x64xf32>, %v: tensor<32x16xf32>, %i: tensor<16x16xi8>, %o: tensor<2xi32>) {
  // expected-error @+1 {{2:4 weights take no offsets and no block}}
  %0 = loom.sparse_matmul %x, %v, %i offsets %o {format = "2:4", columns = 16 : i64} : (tensor<2x64xf32>, tensor<32x16xf32>, tensor<16x16xi8>, tensor<2xi32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @sparse_matmul_2_4_values(%x: tensor<2x64xf32>, %v: tensor<64x16xf32>, %i: tensor<16x16xi8>) {
  // expected-error @+1 {{2:4 values must be [32, 16] (two per group of four rows)}}
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 16 : i64} : (tensor<2x64xf32>, tensor<64x16xf32>, tensor<16x16xi8>) -> tensor<2x16xf32>
  return
}

// -----

func.func @sparse_matmul_2_4_indices(%x: tensor<2x64xf32>, %v: tensor<32x16xf32>, %i: tensor<16x16xi32>) {
  // expected-error @+1 {{2:4 indices must be i8 [16, 16] (one byte per group)}}
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 16 : i64} : (tensor<2x64xf32>, tensor<32x16xf32>, tensor<16x16xi32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @sparse_matmul_block_shape(%x: tensor<2x64xf32>, %v: tensor<3x32x32xf32>, %r: tensor<3xi32>, %o: tensor<2xi32>) {
  // expected-error @+1 {{block sparsity needs block = [rows, cols], both >= 1}}
  %0 = loom.sparse_matmul %x, %v, %r offsets %o {format = "block", block = array<i64: 32>, columns = 32 : i64} : (tensor<2x64xf32>, tensor<3x32x32xf32>, tensor<3xi32>, tensor<2xi32>) -> tensor<2x32xf32>
  return
}

// -----

func.func @sparse_matmul_block_values(%x: tensor<2x64xf32>, %v: tensor<3x32x16xf32>, %r: tensor<3xi32>, %o: tensor<2xi32>) {
  // expected-error @+1 {{block values must be [blocks, 32, 32]}}
  %0 = loom.sparse_matmul %x, %v, %r offsets %o {format = "block", block = array<i64: 32, 32>, columns = 32 : i64} : (tensor<2x64xf32>, tensor<3x32x16xf32>, tensor<3xi32>, tensor<2xi32>) -> tensor<2x32xf32>
  return
}

// -----

func.func @sparse_matmul_block_rows(%x: tensor<2x64xf32>, %v: tensor<3x32x32xf32>, %r: tensor<2xi32>, %o: tensor<2xi32>) {
  // expected-error @+1 {{block indices must be i32 [3] (one block row per block)}}
  %0 = loom.sparse_matmul %x, %v, %r offsets %o {format = "block", block = array<i64: 32, 32>, columns = 32 : i64} : (tensor<2x64xf32>, tensor<3x32x32xf32>, tensor<2xi32>, tensor<2xi32>) -> tensor<2x32xf32>
  return
}

// -----

func.func @sparse_matmul_block_no_offsets(%x: tensor<2x64xf32>, %v: tensor<3x32x32xf32>, %r: tensor<3xi32>) {
  // expected-error @+1 {{block sparsity needs offsets}}
  %0 = loom.sparse_matmul %x, %v, %r {format = "block", block = array<i64: 32, 32>, columns = 32 : i64} : (tensor<2x64xf32>, tensor<3x32x32xf32>, tensor<3xi32>) -> tensor<2x32xf32>
  return
}

// -----

func.func @sparse_matmul_block_offsets(%x: tensor<2x64xf32>, %v: tensor<3x32x32xf32>, %r: tensor<3xi32>, %o: tensor<2xi32>) {
  // expected-error @+1 {{offsets must be [3] (one per block column, plus the end)}}
  %0 = loom.sparse_matmul %x, %v, %r offsets %o {format = "block", block = array<i64: 32, 32>, columns = 33 : i64} : (tensor<2x64xf32>, tensor<3x32x32xf32>, tensor<3xi32>, tensor<2xi32>) -> tensor<2x33xf32>
  return
}

// -----

func.func @attention_window(%q: tensor<1x8x16xf32>) {
  // expected-error @+1 {{window must be at least 1, not 0}}
  %0 = loom.attention %q, %q, %q {window = 0 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return
}

// -----

func.func @attention_block_sparse(%q: tensor<1x8x16xf32>) {
  // expected-error @+1 {{block_sparse must be [block size >= 1, local blocks >= 0, global blocks >= 0]}}
  %0 = loom.attention %q, %q, %q {block_sparse = array<i64: 0, 1, 1>} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return
}

// -----

func.func @attention_routed_shape(%q: tensor<1x8x16xf32>) {
  // expected-error @+1 {{routed must be [block size >= 1, key blocks >= 1]}}
  %0 = loom.attention %q, %q, %q {routed = array<i64: 4, 0>} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return
}

// -----

func.func @attention_routed_window(%q: tensor<1x8x16xf32>) {
  // expected-error @+1 {{routed attention does not combine with window or block_sparse yet}}
  %0 = loom.attention %q, %q, %q {routed = array<i64: 4, 1>, window = 2 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return
}

// -----

func.func @attention_score_quant_block_zero(%q: tensor<1x8x16xf32>) {
  // expected-error @+1 {{score_quant_block must be at least 1, not 0}}
  %0 = loom.attention %q, %q, %q {score_quant_block = 0 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return
}

// -----

func.func @attention_score_quant_block_window(%q: tensor<1x8x16xf32>) {
  // expected-error @+1 {{score_quant_block does not combine with window, block_sparse or routed yet}}
  %0 = loom.attention %q, %q, %q {score_quant_block = 4 : i64, window = 2 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return
}
