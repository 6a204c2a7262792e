// RUN: loom-opt %s -split-input-file --loom-raise-attention | FileCheck %s

// GPT-2 as torch exports it: K^T through Transpose(0, 2, 3, 1), a Div by a
// constant, Where(Trilu(ConstantOfShape(true), 1), -inf, s) over a square of
// the sequence length: causal, scale 1/4, the key through Transpose(0, 2, 1, 3).
// CHECK-LABEL: func @gpt2_causal
//       CHECK:   %[[K:.+]] = onnx.node "Transpose"(%arg1) attributes {attrs = {perm = array<i64: 0, 2, 1, 3>}
//       CHECK:   %[[O:.+]] = loom.attention %arg0, %[[K]], %arg2 {causal, scale = 2.500000e-01 : f32}
//       CHECK:   return %[[O]]
//   CHECK-NOT:   "Softmax"
func.func @gpt2_causal(%q: tensor<?x4x?x16xf32>, %k: tensor<?x?x4x16xf32>, %v: tensor<?x4x?x16xf32>, %n: tensor<i64>) -> tensor<?x4x?x16xf32> {
  %kt = onnx.node "Transpose"(%k) attributes {attrs = {perm = array<i64: 0, 2, 3, 1>}, domain = "", opset = 17 : i64} : (tensor<?x?x4x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.node "MatMul"(%q, %kt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %c4 = onnx.node "Constant"() attributes {attrs = {value = dense<4.000000e+00> : tensor<f32>}, domain = "", opset = 17 : i64} : () -> tensor<f32>
  %ss = onnx.node "Div"(%s, %c4) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %ax = onnx.node "Constant"() attributes {attrs = {value = dense<0> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %u1 = onnx.node "Unsqueeze"(%n, %ax) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %u2 = onnx.node "Unsqueeze"(%n, %ax) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %shape = onnx.node "Concat"(%u1, %u2) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %ones = onnx.node "ConstantOfShape"(%shape) attributes {attrs = {value = dense<true> : tensor<1xi1>}, domain = "", opset = 17 : i64} : (tensor<2xi64>) -> tensor<?x?xi1>
  %one = onnx.node "Constant"() attributes {attrs = {value = dense<1> : tensor<i64>}, domain = "", opset = 17 : i64} : () -> tensor<i64>
  %upper = onnx.node "Trilu"(%ones, %one) attributes {attrs = {upper = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x?xi1>, tensor<i64>) -> tensor<?x?xi1>
  %ninf = onnx.node "Constant"() attributes {attrs = {value = dense<0xFF800000> : tensor<f32>}, domain = "", opset = 17 : i64} : () -> tensor<f32>
  %m = onnx.node "Where"(%upper, %ninf, %ss) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = onnx.node "Softmax"(%m) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.node "MatMul"(%p, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// BERT style: an additive mask after a Mul scale; K^T given directly becomes
// the key through Transpose(0, 1, 3, 2). The result's static type is kept.
// CHECK-LABEL: func @additive_mask
//       CHECK:   %[[K:.+]] = onnx.node "Transpose"(%arg1) attributes {attrs = {perm = array<i64: 0, 1, 3, 2>}
//       CHECK:   %[[O:.+]] = loom.attention %arg0, %[[K]], %arg2 mask %arg3 {scale = 1.250000e-01 : f32}
//  CHECK-SAME:     -> tensor<2x4x?x8xf32>
//       CHECK:   tensor.cast %[[O]] : tensor<2x4x?x8xf32> to tensor<2x4x5x8xf32>
func.func @additive_mask(%q: tensor<2x4x?x8xf32>, %kt: tensor<2x4x8x7xf32>, %v: tensor<2x4x7x8xf32>, %mask: tensor<2x1x1x7xf32>) -> tensor<2x4x5x8xf32> {
  %s = onnx.node "MatMul"(%q, %kt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2x4x?x8xf32>, tensor<2x4x8x7xf32>) -> tensor<2x4x?x7xf32>
  %c = arith.constant dense<1.250000e-01> : tensor<f32>
  %ss = onnx.node "Mul"(%c, %s) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<f32>, tensor<2x4x?x7xf32>) -> tensor<2x4x?x7xf32>
  %m = onnx.node "Add"(%ss, %mask) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2x4x?x7xf32>, tensor<2x1x1x7xf32>) -> tensor<2x4x?x7xf32>
  %p = onnx.node "Softmax"(%m) attributes {attrs = {axis = 3 : i64}, domain = "", opset = 17 : i64} : (tensor<2x4x?x7xf32>) -> tensor<2x4x?x7xf32>
  %o = onnx.node "MatMul"(%p, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2x4x?x7xf32>, tensor<2x4x7x8xf32>) -> tensor<2x4x5x8xf32>
  return %o : tensor<2x4x5x8xf32>
}

// -----

// Scales on Q and on K^T (torch's sqrt-scale on both sides) multiply; a
// Where(cond, s, -1e9) keeps the scores where cond holds: an additive mask
// Where(cond, 0, -1e9). K^T = Transpose(K, (0, 2, 1)): the key is K itself.
// CHECK-LABEL: func @where_mask_rank3
//       CHECK:   %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : tensor<f32>
//   CHECK-NOT:   "Transpose"
//       CHECK:   %[[M:.+]] = onnx.node "Where"(%arg3, %[[ZERO]], %{{.+}}) {{.*}} -> tensor<6x9xf32>
//       CHECK:   loom.attention %arg0, %arg1, %arg2 mask %[[M]] {scale = 2.500000e-01 : f32}
func.func @where_mask_rank3(%q: tensor<3x6x16xf32>, %k: tensor<3x9x16xf32>, %v: tensor<3x9x4xf32>, %keep: tensor<6x9xi1>) -> tensor<3x6x4xf32> {
  %half = arith.constant dense<5.000000e-01> : tensor<f32>
  %qs = onnx.node "Mul"(%q, %half) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<3x6x16xf32>, tensor<f32>) -> tensor<3x6x16xf32>
  %kt = onnx.node "Transpose"(%k) attributes {attrs = {perm = array<i64: 0, 2, 1>}, domain = "", opset = 17 : i64} : (tensor<3x9x16xf32>) -> tensor<3x16x9xf32>
  %kts = onnx.node "Mul"(%kt, %half) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<3x16x9xf32>, tensor<f32>) -> tensor<3x16x9xf32>
  %s = onnx.node "MatMul"(%qs, %kts) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<3x6x16xf32>, tensor<3x16x9xf32>) -> tensor<3x6x9xf32>
  %big = arith.constant dense<-1.000000e+09> : tensor<f32>
  %m = onnx.node "Where"(%keep, %s, %big) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<6x9xi1>, tensor<3x6x9xf32>, tensor<f32>) -> tensor<3x6x9xf32>
  %p = onnx.node "Softmax"(%m) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<3x6x9xf32>) -> tensor<3x6x9xf32>
  %o = onnx.node "MatMul"(%p, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<3x6x9xf32>, tensor<3x9x4xf32>) -> tensor<3x6x4xf32>
  return %o : tensor<3x6x4xf32>
}

// -----

// Where(Trilu(ones, upper=0), s, -inf) on a static square: causal too.
// CHECK-LABEL: func @tril_keep
//       CHECK:   loom.attention %arg0, %{{.+}}, %arg2 {causal, scale = 1.000000e+00 : f32}
func.func @tril_keep(%q: tensor<1x8x4xf32>, %kt: tensor<1x4x8xf32>, %v: tensor<1x8x4xf32>) -> tensor<1x8x4xf32> {
  %ones = arith.constant dense<true> : tensor<8x8xi1>
  %tril = onnx.node "Trilu"(%ones) attributes {attrs = {upper = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<8x8xi1>) -> tensor<8x8xi1>
  %s = onnx.node "MatMul"(%q, %kt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x4x8xf32>) -> tensor<1x8x8xf32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %m = onnx.node "Where"(%tril, %s, %ninf) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<8x8xi1>, tensor<1x8x8xf32>, tensor<f32>) -> tensor<1x8x8xf32>
  %p = onnx.node "Softmax"(%m) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>) -> tensor<1x8x8xf32>
  %o = onnx.node "MatMul"(%p, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
  return %o : tensor<1x8x4xf32>
}

// -----

// Near misses, left alone: a softmax over another axis; a scale that is not
// a scalar; probabilities with a second user; a scale applied after an
// additive mask.
// CHECK-LABEL: func @near_misses
//   CHECK-NOT:   loom.attention
//       CHECK:   return
func.func @near_misses(%q: tensor<1x8x4xf32>, %kt: tensor<1x4x8xf32>, %v: tensor<1x8x4xf32>, %w: tensor<8xf32>) -> (tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<1x8x8xf32>, tensor<1x8x4xf32>) {
  %s = onnx.node "MatMul"(%q, %kt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x4x8xf32>) -> tensor<1x8x8xf32>
  %p1 = onnx.node "Softmax"(%s) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>) -> tensor<1x8x8xf32>
  %o1 = onnx.node "MatMul"(%p1, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
  %sw = onnx.node "Mul"(%s, %w) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>, tensor<8xf32>) -> tensor<1x8x8xf32>
  %p2 = onnx.node "Softmax"(%sw) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>) -> tensor<1x8x8xf32>
  %o2 = onnx.node "MatMul"(%p2, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
  %p3 = onnx.node "Softmax"(%s) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>) -> tensor<1x8x8xf32>
  %o3 = onnx.node "MatMul"(%p3, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
  %sm = onnx.node "Add"(%s, %w) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>, tensor<8xf32>) -> tensor<1x8x8xf32>
  %c = arith.constant dense<2.000000e+00> : tensor<f32>
  %smc = onnx.node "Div"(%sm, %c) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>, tensor<f32>) -> tensor<1x8x8xf32>
  %p4 = onnx.node "Softmax"(%smc) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>) -> tensor<1x8x8xf32>
  %o4 = onnx.node "MatMul"(%p4, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
  return %o1, %o2, %o3, %p3, %o4 : tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<1x8x8xf32>, tensor<1x8x4xf32>
}

// -----

// A Trilu over an all-true matrix not known to be square is not provably
// causal: it stays an explicit mask.
// CHECK-LABEL: func @not_square
//       CHECK:   onnx.node "Where"(%{{.+}}, %{{.+}}, %{{.+}}) {{.*}} -> tensor<8x8xf32>
//       CHECK:   loom.attention {{.*}} mask
//   CHECK-NOT:   causal
func.func @not_square(%q: tensor<1x8x4xf32>, %kt: tensor<1x4x8xf32>, %v: tensor<1x8x4xf32>, %shape: tensor<2xi64>) -> tensor<1x8x4xf32> {
  %ones = onnx.node "ConstantOfShape"(%shape) attributes {attrs = {value = dense<true> : tensor<1xi1>}, domain = "", opset = 17 : i64} : (tensor<2xi64>) -> tensor<?x?xi1>
  %one = arith.constant dense<1> : tensor<i64>
  %upper = onnx.node "Trilu"(%ones, %one) attributes {attrs = {upper = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x?xi1>, tensor<i64>) -> tensor<8x8xi1>
  %s = onnx.node "MatMul"(%q, %kt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x4x8xf32>) -> tensor<1x8x8xf32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %m = onnx.node "Where"(%upper, %ninf, %s) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<8x8xi1>, tensor<f32>, tensor<1x8x8xf32>) -> tensor<1x8x8xf32>
  %p = onnx.node "Softmax"(%m) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>) -> tensor<1x8x8xf32>
  %o = onnx.node "MatMul"(%p, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x8xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
  return %o : tensor<1x8x4xf32>
}

// -----

// Grouped-query attention, LLaMA's repeat_kv: 2 key/value heads repeated 4
// times by Reshape(Expand(Unsqueeze(kv, 2), [1, 2, 4, 16, 8])) for 8 query
// heads; the attention reads them unrepeated.
// CHECK-LABEL: func @gqa_constant_repeat
//   CHECK-NOT:   loom.runtime_check
//       CHECK:   loom.attention %arg0, %arg1, %arg2 {num_kv_heads = 2 : i64, scale = {{.+}}} : (tensor<1x8x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x8x16x8xf32>
//   CHECK-NOT:   "Expand"
func.func @gqa_constant_repeat(%q: tensor<1x8x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x8x16x8xf32> {
  %shape = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 2, 4, 16, 8]> : tensor<5xi64>}, domain = "", opset = 17 : i64} : () -> tensor<5xi64>
  %krax = onnx.node "Constant"() attributes {attrs = {value = dense<2> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %kru = onnx.node "Unsqueeze"(%k, %krax) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x16x8xf32>, tensor<1xi64>) -> tensor<1x2x1x16x8xf32>
  %kre = onnx.node "Expand"(%kru, %shape) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x1x16x8xf32>, tensor<5xi64>) -> tensor<1x2x4x16x8xf32>
  %krs = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 8, 16, 8]> : tensor<4xi64>}, domain = "", opset = 17 : i64} : () -> tensor<4xi64>
  %kr = onnx.node "Reshape"(%kre, %krs) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x4x16x8xf32>, tensor<4xi64>) -> tensor<1x8x16x8xf32>
  %vrax = onnx.node "Constant"() attributes {attrs = {value = dense<2> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %vru = onnx.node "Unsqueeze"(%v, %vrax) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x16x8xf32>, tensor<1xi64>) -> tensor<1x2x1x16x8xf32>
  %vre = onnx.node "Expand"(%vru, %shape) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x1x16x8xf32>, tensor<5xi64>) -> tensor<1x2x4x16x8xf32>
  %vrs = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 8, 16, 8]> : tensor<4xi64>}, domain = "", opset = 17 : i64} : () -> tensor<4xi64>
  %vr = onnx.node "Reshape"(%vre, %vrs) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x4x16x8xf32>, tensor<4xi64>) -> tensor<1x8x16x8xf32>
  %kt = onnx.node "Transpose"(%kr) attributes {attrs = {perm = array<i64: 0, 1, 3, 2>}, domain = "", opset = 17 : i64} : (tensor<1x8x16x8xf32>) -> tensor<1x8x8x16xf32>
  %s = onnx.node "MatMul"(%q, %kt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x16x8xf32>, tensor<1x8x8x16xf32>) -> tensor<1x8x16x16xf32>
  %p = onnx.node "Softmax"(%s) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32>
  %o = onnx.node "MatMul"(%p, %vr) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x16x16xf32>, tensor<1x8x16x8xf32>) -> tensor<1x8x16x8xf32>
  return %o : tensor<1x8x16x8xf32>
}

// -----

// A repeat whose shape is computed: checked at run time (axis 2 repeated 4
// times, axis 3 kept).
// CHECK-LABEL: func @gqa_computed_repeat
//       CHECK:   %[[R:.+]] = tensor.extract %arg3[%c2] : tensor<5xi64>
//       CHECK:   arith.cmpi ne, %[[R]], %c4_i64
//       CHECK:   loom.runtime_check %{{.+}}, "Expand at node 'repeat_k': compiled as grouped-query attention repeating each key/value head 4 times, but the shape repeats it otherwise"
//       CHECK:   loom.runtime_check
//       CHECK:   loom.attention %arg0, %arg1, %arg2 {num_kv_heads = 2 : i64
func.func @gqa_computed_repeat(%q: tensor<1x8x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %shape: tensor<5xi64>) -> tensor<1x8x16x8xf32> {
  %krax = onnx.node "Constant"() attributes {attrs = {value = dense<2> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %kru = onnx.node "Unsqueeze"(%k, %krax) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x16x8xf32>, tensor<1xi64>) -> tensor<1x2x1x16x8xf32>
  %kre = onnx.node "Expand"(%kru, %shape) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x1x16x8xf32>, tensor<5xi64>) -> tensor<1x2x?x16x8xf32> loc("repeat_k")
  %krs = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 8, 16, 8]> : tensor<4xi64>}, domain = "", opset = 17 : i64} : () -> tensor<4xi64>
  %kr = onnx.node "Reshape"(%kre, %krs) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x?x16x8xf32>, tensor<4xi64>) -> tensor<1x8x16x8xf32>
  %vrax = onnx.node "Constant"() attributes {attrs = {value = dense<2> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %vru = onnx.node "Unsqueeze"(%v, %vrax) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x16x8xf32>, tensor<1xi64>) -> tensor<1x2x1x16x8xf32>
  %vre = onnx.node "Expand"(%vru, %shape) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x1x16x8xf32>, tensor<5xi64>) -> tensor<1x2x?x16x8xf32>
  %vrs = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 8, 16, 8]> : tensor<4xi64>}, domain = "", opset = 17 : i64} : () -> tensor<4xi64>
  %vr = onnx.node "Reshape"(%vre, %vrs) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x?x16x8xf32>, tensor<4xi64>) -> tensor<1x8x16x8xf32>
  %kt = onnx.node "Transpose"(%kr) attributes {attrs = {perm = array<i64: 0, 1, 3, 2>}, domain = "", opset = 17 : i64} : (tensor<1x8x16x8xf32>) -> tensor<1x8x8x16xf32>
  %s = onnx.node "MatMul"(%q, %kt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x16x8xf32>, tensor<1x8x8x16xf32>) -> tensor<1x8x16x16xf32>
  %p = onnx.node "Softmax"(%s) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32>
  %o = onnx.node "MatMul"(%p, %vr) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x16x16xf32>, tensor<1x8x16x8xf32>) -> tensor<1x8x16x8xf32>
  return %o : tensor<1x8x16x8xf32>
}

// -----

// Near misses: heads repeated along another axis (Unsqueeze at 1), or a
// constant shape that repeats 2 times: attention, but over the repeated
// keys and values.
// CHECK-LABEL: func @gqa_near_misses
//       CHECK:   loom.attention
//   CHECK-NOT:   num_kv_heads
func.func @gqa_near_misses(%q: tensor<1x8x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x8x16x8xf32> {
  %shape = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 2, 4, 16, 8]> : tensor<5xi64>}, domain = "", opset = 17 : i64} : () -> tensor<5xi64>
  %krax = onnx.node "Constant"() attributes {attrs = {value = dense<1> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %kru = onnx.node "Unsqueeze"(%k, %krax) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x16x8xf32>, tensor<1xi64>) -> tensor<1x1x2x16x8xf32>
  %kre = onnx.node "Expand"(%kru, %shape) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x1x2x16x8xf32>, tensor<5xi64>) -> tensor<1x4x2x16x8xf32>
  %krs = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 8, 16, 8]> : tensor<4xi64>}, domain = "", opset = 17 : i64} : () -> tensor<4xi64>
  %kr = onnx.node "Reshape"(%kre, %krs) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x4x2x16x8xf32>, tensor<4xi64>) -> tensor<1x8x16x8xf32>
  %shape2 = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 2, 2, 16, 8]> : tensor<5xi64>}, domain = "", opset = 17 : i64} : () -> tensor<5xi64>
  %vrax = onnx.node "Constant"() attributes {attrs = {value = dense<2> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %vru = onnx.node "Unsqueeze"(%v, %vrax) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x16x8xf32>, tensor<1xi64>) -> tensor<1x2x1x16x8xf32>
  %vre = onnx.node "Expand"(%vru, %shape2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x1x16x8xf32>, tensor<5xi64>) -> tensor<1x2x4x16x8xf32>
  %vrs = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 8, 16, 8]> : tensor<4xi64>}, domain = "", opset = 17 : i64} : () -> tensor<4xi64>
  %vr = onnx.node "Reshape"(%vre, %vrs) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x2x4x16x8xf32>, tensor<4xi64>) -> tensor<1x8x16x8xf32>
  %kt = onnx.node "Transpose"(%kr) attributes {attrs = {perm = array<i64: 0, 1, 3, 2>}, domain = "", opset = 17 : i64} : (tensor<1x8x16x8xf32>) -> tensor<1x8x8x16xf32>
  %s = onnx.node "MatMul"(%q, %kt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x16x8xf32>, tensor<1x8x8x16xf32>) -> tensor<1x8x16x16xf32>
  %p = onnx.node "Softmax"(%s) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32>
  %o = onnx.node "MatMul"(%p, %vr) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x16x16xf32>, tensor<1x8x16x8xf32>) -> tensor<1x8x16x8xf32>
  return %o : tensor<1x8x16x8xf32>
}
