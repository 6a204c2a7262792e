// RUN: loom-opt %s -split-input-file --loom-raise-norms-and-gelu | FileCheck %s

// LayerNorm as opset-16 exporters emit it, with constant gamma and beta.
// CHECK-LABEL: func @layer_norm
//       CHECK:   %[[W:.+]] = arith.constant dense<2.000000e+00> : tensor<8xf32>
//       CHECK:   %[[B:.+]] = arith.constant dense<1.000000e+00> : tensor<8xf32>
//       CHECK:   %[[Y:.+]] = loom.layer_norm %arg0, %[[W]] bias %[[B]] {axis = 2 : i64} :
//       CHECK:   return %[[Y]]
//   CHECK-NOT:   onnx.node
func.func @layer_norm(%x: tensor<2x?x8xf32>) -> tensor<2x?x8xf32> {
  %g = arith.constant dense<2.000000e+00> : tensor<8xf32>
  %b = arith.constant dense<1.000000e+00> : tensor<8xf32>
  %two = arith.constant dense<2.000000e+00> : tensor<f32>
  %eps = arith.constant dense<9.99999974E-6> : tensor<f32>
  %m = onnx.node "ReduceMean"(%x) attributes {attrs = {axes = array<i64: -1>}, domain = "", opset = 13 : i64} : (tensor<2x?x8xf32>) -> tensor<2x?x1xf32>
  %d = onnx.node "Sub"(%x, %m) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?x8xf32>, tensor<2x?x1xf32>) -> tensor<2x?x8xf32>
  %sq = onnx.node "Pow"(%d, %two) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?x8xf32>, tensor<f32>) -> tensor<2x?x8xf32>
  %v = onnx.node "ReduceMean"(%sq) attributes {attrs = {axes = array<i64: -1>}, domain = "", opset = 13 : i64} : (tensor<2x?x8xf32>) -> tensor<2x?x1xf32>
  %ve = onnx.node "Add"(%v, %eps) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?x1xf32>, tensor<f32>) -> tensor<2x?x1xf32>
  %s = onnx.node "Sqrt"(%ve) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?x1xf32>) -> tensor<2x?x1xf32>
  %n = onnx.node "Div"(%d, %s) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?x8xf32>, tensor<2x?x1xf32>) -> tensor<2x?x8xf32>
  %y = onnx.node "Mul"(%n, %g) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?x8xf32>, tensor<8xf32>) -> tensor<2x?x8xf32>
  %z = onnx.node "Add"(%y, %b) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?x8xf32>, tensor<8xf32>) -> tensor<2x?x8xf32>
  return %z : tensor<2x?x8xf32>
}

// -----

// RMSNorm as LLaMA exports it (opset 18: axes as an input), x * Reciprocal(
// Sqrt(...)) then * weight.
// CHECK-LABEL: func @rms_norm
//       CHECK:   %[[W:.+]] = arith.constant dense<[1.000000e+00, 2.000000e+00,
//       CHECK:   %[[Y:.+]] = loom.rms_norm %arg0, %[[W]] {axis = 1 : i64, epsilon = 9.99999997E-7 : f32}
//       CHECK:   return %[[Y]]
func.func @rms_norm(%x: tensor<?x16xf32>, %w: tensor<16xf32>) -> tensor<?x16xf32> {
  %w2 = arith.constant dense<[1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0]> : tensor<16xf32>
  %axes = arith.constant dense<[1]> : tensor<1xi64>
  %eps = arith.constant dense<9.99999997E-7> : tensor<f32>
  %sq = onnx.node "Mul"(%x, %x) attributes {attrs = {}, domain = "", opset = 18 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %v = onnx.node "ReduceMean"(%sq, %axes) attributes {attrs = {}, domain = "", opset = 18 : i64} : (tensor<?x16xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %ve = onnx.node "Add"(%eps, %v) attributes {attrs = {}, domain = "", opset = 18 : i64} : (tensor<f32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %s = onnx.node "Sqrt"(%ve) attributes {attrs = {}, domain = "", opset = 18 : i64} : (tensor<?x1xf32>) -> tensor<?x1xf32>
  %r = onnx.node "Reciprocal"(%s) attributes {attrs = {}, domain = "", opset = 18 : i64} : (tensor<?x1xf32>) -> tensor<?x1xf32>
  %n = onnx.node "Mul"(%x, %r) attributes {attrs = {}, domain = "", opset = 18 : i64} : (tensor<?x16xf32>, tensor<?x1xf32>) -> tensor<?x16xf32>
  %y = onnx.node "Mul"(%w2, %n) attributes {attrs = {}, domain = "", opset = 18 : i64} : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// GELU, erf form as torch exports it, and tanh form with Pow(x, 3).
// CHECK-LABEL: func @gelu
//       CHECK:   %[[E:.+]] = loom.gelu %arg0 : tensor<4x?xf32>
//       CHECK:   %[[T:.+]] = loom.gelu %arg0 {approximate = #loom.gelu_approximation<tanh>} : tensor<4x?xf32>
//       CHECK:   return %[[E]], %[[T]]
//   CHECK-NOT:   onnx.node
func.func @gelu(%x: tensor<4x?xf32>) -> (tensor<4x?xf32>, tensor<4x?xf32>) {
  %sqrt2 = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.000000e+00> : tensor<f32>
  %half = arith.constant dense<5.000000e-01> : tensor<f32>
  %d = onnx.node "Div"(%x, %sqrt2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?xf32>, tensor<f32>) -> tensor<4x?xf32>
  %e = onnx.node "Erf"(%d) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?xf32>) -> tensor<4x?xf32>
  %a = onnx.node "Add"(%e, %one) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?xf32>, tensor<f32>) -> tensor<4x?xf32>
  %m = onnx.node "Mul"(%x, %a) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?xf32>, tensor<4x?xf32>) -> tensor<4x?xf32>
  %g = onnx.node "Mul"(%m, %half) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?xf32>, tensor<f32>) -> tensor<4x?xf32>
  %three = arith.constant dense<3.000000e+00> : tensor<f32>
  %c = arith.constant dense<4.471500e-02> : tensor<f32>
  %k = arith.constant dense<0.797884583> : tensor<f32>
  %cube = onnx.node "Pow"(%x, %three) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?xf32>, tensor<f32>) -> tensor<4x?xf32>
  %cc = onnx.node "Mul"(%c, %cube) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<f32>, tensor<4x?xf32>) -> tensor<4x?xf32>
  %in = onnx.node "Add"(%x, %cc) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?xf32>, tensor<4x?xf32>) -> tensor<4x?xf32>
  %ks = onnx.node "Mul"(%k, %in) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<f32>, tensor<4x?xf32>) -> tensor<4x?xf32>
  %t = onnx.node "Tanh"(%ks) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?xf32>) -> tensor<4x?xf32>
  %t1 = onnx.node "Add"(%one, %t) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<f32>, tensor<4x?xf32>) -> tensor<4x?xf32>
  %hx = onnx.node "Mul"(%half, %x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<f32>, tensor<4x?xf32>) -> tensor<4x?xf32>
  %gt = onnx.node "Mul"(%hx, %t1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?xf32>, tensor<4x?xf32>) -> tensor<4x?xf32>
  return %g, %gt : tensor<4x?xf32>, tensor<4x?xf32>
}

// -----

// Near misses, left alone: a mean over a leading axis; mean without
// keepdims; a GELU with the wrong constant (x / 2 inside Erf); a gamma that
// is not a constant is not folded (the layer norm is raised, the Mul stays).
// CHECK-LABEL: func @near_misses
//   CHECK-NOT:   loom.rms_norm
//   CHECK-NOT:   loom.gelu
//       CHECK:   %[[LN:.+]] = loom.layer_norm %arg0 {axis = 1 : i64
//       CHECK:   onnx.node "Mul"(%[[LN]], %arg1)
func.func @near_misses(%x: tensor<4x8xf32>, %gb: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %eps = arith.constant dense<1.0E-5> : tensor<f32>
  %sq = onnx.node "Mul"(%x, %x) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %v0 = onnx.node "ReduceMean"(%sq) attributes {attrs = {axes = array<i64: 0>}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>) -> tensor<1x8xf32>
  %a0 = onnx.node "Add"(%v0, %eps) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xf32>
  %s0 = onnx.node "Sqrt"(%a0) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %n0 = onnx.node "Div"(%x, %s0) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
  %v1 = onnx.node "ReduceMean"(%sq) attributes {attrs = {axes = array<i64: 1>, keepdims = 0 : i64}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>) -> tensor<4xf32>
  %a1 = onnx.node "Add"(%v1, %eps) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %s1 = onnx.node "Sqrt"(%a1) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  %n1 = onnx.node "Div"(%x, %s1) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>, tensor<4xf32>) -> tensor<4x8xf32>
  %two = arith.constant dense<2.000000e+00> : tensor<f32>
  %one = arith.constant dense<1.000000e+00> : tensor<f32>
  %half = arith.constant dense<5.000000e-01> : tensor<f32>
  %d = onnx.node "Div"(%x, %two) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %e = onnx.node "Erf"(%d) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %ea = onnx.node "Add"(%e, %one) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %m = onnx.node "Mul"(%x, %ea) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %g = onnx.node "Mul"(%m, %half) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %mean = onnx.node "ReduceMean"(%x) attributes {attrs = {axes = array<i64: 1>}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>) -> tensor<4x1xf32>
  %c = onnx.node "Sub"(%x, %mean) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %c2 = onnx.node "Mul"(%c, %c) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %v2 = onnx.node "ReduceMean"(%c2) attributes {attrs = {axes = array<i64: 1>}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>) -> tensor<4x1xf32>
  %a2 = onnx.node "Add"(%v2, %eps) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %s2 = onnx.node "Sqrt"(%a2) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n2 = onnx.node "Div"(%c, %s2) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %y2 = onnx.node "Mul"(%n2, %gb) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %n0, %n1, %g, %y2 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Mul(x, Sigmoid(x)) in either order -> loom.silu; the Sigmoid goes.
// CHECK-LABEL: func @silu
//  CHECK-SAME:   %[[X:.+]]: tensor<2x?xf32>
//       CHECK:   %[[A:.+]] = loom.silu %[[X]] : tensor<2x?xf32>
//       CHECK:   %[[B:.+]] = loom.silu %[[A]] : tensor<2x?xf32>
//   CHECK-NOT:   onnx.node
//       CHECK:   return %[[B]]
func.func @silu(%x: tensor<2x?xf32>) -> tensor<2x?xf32> {
  %s = onnx.node "Sigmoid"(%x) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?xf32>) -> tensor<2x?xf32>
  %a = onnx.node "Mul"(%x, %s) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x?xf32>
  %t = onnx.node "Sigmoid"(%a) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?xf32>) -> tensor<2x?xf32>
  %b = onnx.node "Mul"(%t, %a) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x?xf32>
  return %b : tensor<2x?xf32>
}

// -----

// Near misses: the Sigmoid of another value (a gate, as in SwiGLU's
// x * Sigmoid(g) halves) stays; so does a Sigmoid used elsewhere too (it is
// kept, the Mul is still a SiLU).
// CHECK-LABEL: func @silu_near_misses
//       CHECK:   onnx.node "Sigmoid"(%arg1)
//       CHECK:   onnx.node "Mul"(%arg0,
//       CHECK:   %[[S:.+]] = onnx.node "Sigmoid"(%arg0)
//       CHECK:   loom.silu %arg0
//       CHECK:   return %{{.+}}, %{{.+}}, %[[S]]
func.func @silu_near_misses(%x: tensor<4xf32>, %g: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %sg = onnx.node "Sigmoid"(%g) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  %a = onnx.node "Mul"(%x, %sg) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %sx = onnx.node "Sigmoid"(%x) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  %b = onnx.node "Mul"(%sx, %x) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %a, %b, %sx : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
