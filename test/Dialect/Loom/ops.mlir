// RUN: loom-opt %s -split-input-file | loom-opt | FileCheck %s
// Round trip of every loom op through the custom assembly format.

// CHECK-LABEL: func @attention_gqa_causal
//  CHECK-SAME:   %[[Q:.+]]: tensor<2x8x16x64xf32>, %[[K:.+]]: tensor<2x2x32x64xf32>, %[[V:.+]]: tensor<2x2x32x64xf32>, %[[M:.+]]: tensor<1x1x16x32xf32>
//       CHECK:   loom.attention %[[Q]], %[[K]], %[[V]] mask %[[M]] {causal, num_kv_heads = 2 : i64, scale = 1.250000e-01 : f32}
//  CHECK-SAME:     -> tensor<2x8x16x64xf32>
func.func @attention_gqa_causal(%q: tensor<2x8x16x64xf32>, %k: tensor<2x2x32x64xf32>,
                                %v: tensor<2x2x32x64xf32>, %m: tensor<1x1x16x32xf32>) -> tensor<2x8x16x64xf32> {
  %o = loom.attention %q, %k, %v mask %m {causal, num_kv_heads = 2 : i64, scale = 0.125 : f32}
      : (tensor<2x8x16x64xf32>, tensor<2x2x32x64xf32>, tensor<2x2x32x64xf32>, tensor<1x1x16x32xf32>) -> tensor<2x8x16x64xf32>
  return %o : tensor<2x8x16x64xf32>
}

// -----

// CHECK-LABEL: func @attention_rank3_dynamic
//       CHECK:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} :
//  CHECK-SAME:     -> tensor<?x?x32xf32>
func.func @attention_rank3_dynamic(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x32xf32>) -> tensor<?x?x32xf32> {
  %o = loom.attention %q, %k, %v : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  return %o : tensor<?x?x32xf32>
}

// -----

// CHECK-LABEL: func @norms
//       CHECK:   %[[LN:.+]] = loom.layer_norm %{{.+}}, %{{.+}} bias %{{.+}} {axis = 1 : i64, epsilon = 9.99999997E-7 : f32}
//       CHECK:   %[[LN2:.+]] = loom.layer_norm %[[LN]] :
//       CHECK:   loom.rms_norm %[[LN2]], %{{.+}} {epsilon = 9.99999997E-7 : f32}
func.func @norms(%x: tensor<?x4x768xf32>, %g: tensor<4x768xf32>, %b: tensor<768xf32>, %w: tensor<768xf32>) -> tensor<?x4x768xf32> {
  %y = loom.layer_norm %x, %g bias %b {axis = 1 : i64, epsilon = 1.0e-6 : f32}
      : (tensor<?x4x768xf32>, tensor<4x768xf32>, tensor<768xf32>) -> tensor<?x4x768xf32>
  %y2 = loom.layer_norm %y : (tensor<?x4x768xf32>) -> tensor<?x4x768xf32>
  %z = loom.rms_norm %y2, %w {epsilon = 1.0e-6 : f32} : (tensor<?x4x768xf32>, tensor<768xf32>) -> tensor<?x4x768xf32>
  return %z : tensor<?x4x768xf32>
}

// -----

// CHECK-LABEL: func @gelu
//       CHECK:   %[[A:.+]] = loom.gelu %{{.+}} : tensor<4x?xf32>
//       CHECK:   loom.gelu %[[A]] {approximate = #loom.gelu_approximation<tanh>} : tensor<4x?xf32>
func.func @gelu(%x: tensor<4x?xf32>) -> tensor<4x?xf32> {
  %a = loom.gelu %x : tensor<4x?xf32>
  %b = loom.gelu %a {approximate = #loom.gelu_approximation<tanh>} : tensor<4x?xf32>
  return %b : tensor<4x?xf32>
}

// -----

// CHECK-LABEL: func @silu
//       CHECK:   loom.silu %{{.+}} : tensor<2x?xf16>
func.func @silu(%x: tensor<2x?xf16>) -> tensor<2x?xf16> {
  %y = loom.silu %x : tensor<2x?xf16>
  return %y : tensor<2x?xf16>
}

// -----

// Generic form with the result type left to inference (InferTypeOpInterface
// via the builder in the parser is not used; the verifier checks the type).
// CHECK-LABEL: func @generic_form
//       CHECK:   loom.attention
func.func @generic_form(%q: tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  %o = "loom.attention"(%q, %q, %q) : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return %o : tensor<1x4x8xf32>
}

// -----

// CHECK-LABEL: func @runtime_check
//  CHECK-SAME:   (%[[F:.+]]: tensor<i1>)
//       CHECK:   loom.runtime_check %[[F]], "Gather at node 'g': an index is out of range" : tensor<i1>
func.func @runtime_check(%failed: tensor<i1>) {
  loom.runtime_check %failed, "Gather at node 'g': an index is out of range" : tensor<i1>
  return
}

// -----

// CHECK-LABEL: func @scans
//       CHECK:   loom.scan <diagonal> %arg0, %arg1, %arg1, %arg2 : (tensor<2x?x64xf32>, tensor<2x?x64x16xf32>, tensor<2x?x64x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x64xf32>
//       CHECK:   loom.scan <diagonal> %arg1, %arg1, %arg2 : (tensor<2x?x64x16xf32>, tensor<2x?x64x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x64xf32>
//       CHECK:   loom.scan <linear> %arg3, %arg3, %arg4 : {{.*}} -> tensor<1x4x?x8xf32>
//       CHECK:   loom.scan <gated> %arg3, %arg3, %arg4, %arg3 :
//       CHECK:   loom.scan <delta> %arg3, %arg3, %arg4, %arg5 :
func.func @scans(%x: tensor<2x?x64xf32>, %a: tensor<2x?x64x16xf32>, %c: tensor<2x?x16xf32>, %q: tensor<1x4x?x16xf32>, %v: tensor<1x4x?x8xf32>, %beta: tensor<1x4x?xf32>) {
  %0 = loom.scan <diagonal> %x, %a, %a, %c : (tensor<2x?x64xf32>, tensor<2x?x64x16xf32>, tensor<2x?x64x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x64xf32>
  %f = loom.scan <diagonal> %a, %a, %c : (tensor<2x?x64x16xf32>, tensor<2x?x64x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x64xf32>
  %1 = loom.scan <linear> %q, %q, %v : (tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  %2 = loom.scan <gated> %q, %q, %v, %q : (tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x16xf32>) -> tensor<1x4x?x8xf32>
  %3 = loom.scan <delta> %q, %q, %v, %beta : (tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?xf32>) -> tensor<1x4x?x8xf32>
  return
}

// -----

// CHECK-LABEL: func @moe
//       CHECK:   loom.moe %arg0, %arg1, %arg2 experts(%arg3, %arg4, %arg3, %arg4) {activation = #loom.activation<silu>, num_experts = 2 : i64} : (tensor<?x16xf32>, tensor<?x1xf32>, tensor<?x1xi64>, tensor<16x32xf32>, tensor<32x16xf32>, tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<?x16xf32>
//       CHECK:   loom.moe %arg5, %{{.+}}, %{{.+}} experts({{.*}}) {num_experts = 1 : i64}
func.func @moe(%x: tensor<?x16xf32>, %w: tensor<?x1xf32>, %i: tensor<?x1xi64>, %w1: tensor<16x32xf32>, %w2: tensor<32x16xf32>, %x3: tensor<2x?x16xf32>, %w3: tensor<2x?x2xf32>, %i3: tensor<2x?x2xi64>, %b1: tensor<32xf32>, %b2: tensor<16xf32>) {
  %0 = loom.moe %x, %w, %i experts(%w1, %w2, %w1, %w2) {activation = #loom.activation<silu>, num_experts = 2 : i64} : (tensor<?x16xf32>, tensor<?x1xf32>, tensor<?x1xi64>, tensor<16x32xf32>, tensor<32x16xf32>, tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<?x16xf32>
  %1 = loom.moe %x3, %w3, %i3 experts(%w1, %b1, %w2, %b2) {num_experts = 1 : i64} : (tensor<2x?x16xf32>, tensor<2x?x2xf32>, tensor<2x?x2xi64>, tensor<16x32xf32>, tensor<32xf32>, tensor<32x16xf32>, tensor<16xf32>) -> tensor<2x?x16xf32>
  return
}

// -----

// CHECK-LABEL: func @token_mixing
//       CHECK:   loom.token_mixing %arg0, %arg1, %arg2 bias(%arg3, %arg4) {activation = #loom.activation<gelu>} : (tensor<?x196x64xf32>, tensor<196x32xf32>, tensor<32x196xf32>, tensor<32xf32>, tensor<196xf32>) -> tensor<?x196x64xf32>
//       CHECK:   loom.token_mixing %arg0, %arg1, %arg2 : (tensor<?x196x64xf32>, tensor<196x32xf32>, tensor<32x196xf32>) -> tensor<?x196x64xf32>
func.func @token_mixing(%x: tensor<?x196x64xf32>, %w1: tensor<196x32xf32>, %w2: tensor<32x196xf32>, %b1: tensor<32xf32>, %b2: tensor<196xf32>) {
  %0 = loom.token_mixing %x, %w1, %w2 bias(%b1, %b2) {activation = #loom.activation<gelu>} : (tensor<?x196x64xf32>, tensor<196x32xf32>, tensor<32x196xf32>, tensor<32xf32>, tensor<196xf32>) -> tensor<?x196x64xf32>
  %1 = loom.token_mixing %x, %w1, %w2 : (tensor<?x196x64xf32>, tensor<196x32xf32>, tensor<32x196xf32>) -> tensor<?x196x64xf32>
  return
}

// -----

// The result's last dimension is S x Q (here 8 x 8 from 4 blocks of 16).
// CHECK-LABEL: func @monarch
//       CHECK:   loom.monarch %arg0, %arg1, %arg2 : (tensor<?x10x64xf32>, tensor<4x16x8xf32>, tensor<8x4x8xf32>) -> tensor<?x10x64xf32>
func.func @monarch(%x: tensor<?x10x64xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<8x4x8xf32>) -> tensor<?x10x64xf32> {
  %0 = loom.monarch %x, %w1, %w2 : (tensor<?x10x64xf32>, tensor<4x16x8xf32>, tensor<8x4x8xf32>) -> tensor<?x10x64xf32>
  return %0 : tensor<?x10x64xf32>
}

// -----

// CHECK-LABEL: func @quantized_matmul
//       CHECK:   loom.quantized_matmul %arg0, %arg1, %arg2 : (tensor<?x10x64xf32>, tensor<64x48xi8>, tensor<48xf32>) -> tensor<?x10x48xf32>
func.func @quantized_matmul(%x: tensor<?x10x64xf32>, %w: tensor<64x48xi8>, %s: tensor<48xf32>) -> tensor<?x10x48xf32> {
  %0 = loom.quantized_matmul %x, %w, %s : (tensor<?x10x64xf32>, tensor<64x48xi8>, tensor<48xf32>) -> tensor<?x10x48xf32>
  return %0 : tensor<?x10x48xf32>
}

// -----

// CHECK-LABEL: func @w8a8_matmul
//       CHECK:   loom.quantized_matmul %arg0, %arg1, %arg2 {input_bits = 8 : i64} :
//       CHECK:   loom.quantized_matmul %arg0, %arg1, %arg2 {input_bits = 8 : i64, input_scale = 2.500000e-01 : f32, input_zero_point = 128 : i64} :
func.func @w8a8_matmul(%x: tensor<?x10x64xf32>, %w: tensor<64x48xi8>, %s: tensor<48xf32>) -> (tensor<?x10x48xf32>, tensor<?x10x48xf32>) {
  %0 = loom.quantized_matmul %x, %w, %s {input_bits = 8 : i64} : (tensor<?x10x64xf32>, tensor<64x48xi8>, tensor<48xf32>) -> tensor<?x10x48xf32>
  %1 = loom.quantized_matmul %x, %w, %s {input_bits = 8 : i64, input_scale = 0.25 : f32, input_zero_point = 128 : i64} : (tensor<?x10x64xf32>, tensor<64x48xi8>, tensor<48xf32>) -> tensor<?x10x48xf32>
  return %0, %1 : tensor<?x10x48xf32>, tensor<?x10x48xf32>
}

// -----

// W4A8: 4-bit weights in groups of 32 (a multiple of 8), 8-bit inputs.
// CHECK-LABEL: func @w4a8_matmul
//       CHECK:   loom.quantized_matmul %arg0, %arg1, %arg2 zero_point %arg3 {bits = 4 : i64, group_size = 32 : i64, input_bits = 8 : i64} :
func.func @w4a8_matmul(%x: tensor<?x64xf32>, %w: tensor<32x48xi8>, %s: tensor<2x48xf16>, %z: tensor<2x48xi8>) -> tensor<?x48xf32> {
  %0 = loom.quantized_matmul %x, %w, %s zero_point %z {bits = 4 : i64, group_size = 32 : i64, input_bits = 8 : i64} : (tensor<?x64xf32>, tensor<32x48xi8>, tensor<2x48xf16>, tensor<2x48xi8>) -> tensor<?x48xf32>
  return %0 : tensor<?x48xf32>
}

// -----

// CHECK-LABEL: func @quantized4_matmul
//       CHECK:   loom.quantized_matmul %arg0, %arg1, %arg2 zero_point %arg3 {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x10x63xf32>, tensor<32x48xi8>, tensor<2x48xf16>, tensor<2x48xi8>) -> tensor<?x10x48xf32>
func.func @quantized4_matmul(%x: tensor<?x10x63xf32>, %w: tensor<32x48xi8>, %s: tensor<2x48xf16>, %z: tensor<2x48xi8>) -> tensor<?x10x48xf32> {
  %0 = loom.quantized_matmul %x, %w, %s zero_point %z {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x10x63xf32>, tensor<32x48xi8>, tensor<2x48xf16>, tensor<2x48xi8>) -> tensor<?x10x48xf32>
  return %0 : tensor<?x10x48xf32>
}

// -----

// CHECK-LABEL: func @sparse_matmul_block
//       CHECK:   loom.sparse_matmul %arg0, %arg1, %arg2 offsets %arg3 {block = array<i64: 32, 32>, columns = 100 : i64, format = "block"} : (tensor<?x10x64xf32>, tensor<3x32x32xf32>, tensor<3xi32>, tensor<5xi32>) -> tensor<?x10x100xf32>
func.func @sparse_matmul_block(%x: tensor<?x10x64xf32>, %v: tensor<3x32x32xf32>, %r: tensor<3xi32>, %o: tensor<5xi32>) -> tensor<?x10x100xf32> {
  %0 = loom.sparse_matmul %x, %v, %r offsets %o {format = "block", block = array<i64: 32, 32>, columns = 100 : i64} : (tensor<?x10x64xf32>, tensor<3x32x32xf32>, tensor<3xi32>, tensor<5xi32>) -> tensor<?x10x100xf32>
  return %0 : tensor<?x10x100xf32>
}

// -----

// CHECK-LABEL: func @sparse_matmul_2_4
//       CHECK:   loom.sparse_matmul %arg0, %arg1, %arg2 {columns = 48 : i64, format = "2:4"} : (tensor<7x64xf32>, tensor<32x48xf32>, tensor<16x48xi8>) -> tensor<7x48xf32>
func.func @sparse_matmul_2_4(%x: tensor<7x64xf32>, %v: tensor<32x48xf32>, %i: tensor<16x48xi8>) -> tensor<7x48xf32> {
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 48 : i64} : (tensor<7x64xf32>, tensor<32x48xf32>, tensor<16x48xi8>) -> tensor<7x48xf32>
  return %0 : tensor<7x48xf32>
}

// -----

// CHECK-LABEL: func @attention_window
//       CHECK:   loom.attention %arg0, %arg0, %arg0 {causal, window = 4 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
func.func @attention_window(%q: tensor<1x8x16xf32>) -> tensor<1x8x16xf32> {
  %0 = loom.attention %q, %q, %q {causal, window = 4 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return %0 : tensor<1x8x16xf32>
}
