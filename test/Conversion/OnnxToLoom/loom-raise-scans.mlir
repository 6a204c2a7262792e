// RUN: loom-opt %s -split-input-file --loom-raise-scans | FileCheck %s

// Causal linear attention with cumsum, as torch exports it (opset 14).
// CHECK-LABEL: func @cumsum_linear_attention
//       CHECK:   %[[O:.+]] = loom.scan <linear> %arg0, %arg1, %arg2 : (tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
//       CHECK:   return %[[O]]
//   CHECK-NOT:   "CumSum"
func.func @cumsum_linear_attention(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32> {
  %m1 = onnx.node "Constant"() attributes {attrs = {value = dense<-1> : tensor<1xi64>}, domain = "", opset = 14 : i64} : () -> tensor<1xi64>
  %m2 = onnx.node "Constant"() attributes {attrs = {value = dense<-2> : tensor<1xi64>}, domain = "", opset = 14 : i64} : () -> tensor<1xi64>
  %ku = onnx.node "Unsqueeze"(%k, %m1) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<1x2x?x16xf32>, tensor<1xi64>) -> tensor<1x2x?x16x1xf32>
  %vu = onnx.node "Unsqueeze"(%v, %m2) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<1x2x?x8xf32>, tensor<1xi64>) -> tensor<1x2x?x1x8xf32>
  %kv = onnx.node "Mul"(%ku, %vu) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<1x2x?x16x1xf32>, tensor<1x2x?x1x8xf32>) -> tensor<1x2x?x16x8xf32>
  %ax = onnx.node "Constant"() attributes {attrs = {value = dense<2> : tensor<i32>}, domain = "", opset = 14 : i64} : () -> tensor<i32>
  %s = onnx.node "CumSum"(%kv, %ax) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<1x2x?x16x8xf32>, tensor<i32>) -> tensor<1x2x?x16x8xf32>
  %qu = onnx.node "Unsqueeze"(%q, %m2) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<1x2x?x16xf32>, tensor<1xi64>) -> tensor<1x2x?x1x16xf32>
  %o5 = onnx.node "MatMul"(%qu, %s) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<1x2x?x1x16xf32>, tensor<1x2x?x16x8xf32>) -> tensor<1x2x?x1x8xf32>
  %o = onnx.node "Squeeze"(%o5, %m2) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<1x2x?x1x8xf32>, tensor<1xi64>) -> tensor<1x2x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}

// -----

// The einsum readout, with k and v swapped in the product and the state
// kept for another user: raised, the cumsum stays for its other user.
// CHECK-LABEL: func @einsum_readout
//       CHECK:   onnx.node "CumSum"
//       CHECK:   %[[O:.+]] = loom.scan <linear> %arg0, %arg1, %arg2
//       CHECK:   return %[[O]], %{{.+}}
func.func @einsum_readout(%q: tensor<2x3x5x4xf32>, %k: tensor<2x3x5x4xf32>, %v: tensor<2x3x5x6xf32>) -> (tensor<2x3x5x6xf32>, tensor<2x3x5x4x6xf32>) {
  %ku = onnx.node "Unsqueeze"(%k) attributes {attrs = {axes = array<i64: 4>}, domain = "", opset = 11 : i64} : (tensor<2x3x5x4xf32>) -> tensor<2x3x5x4x1xf32>
  %vu = onnx.node "Unsqueeze"(%v) attributes {attrs = {axes = array<i64: 3>}, domain = "", opset = 11 : i64} : (tensor<2x3x5x6xf32>) -> tensor<2x3x5x1x6xf32>
  %kv = onnx.node "Mul"(%vu, %ku) attributes {attrs = {}, domain = "", opset = 11 : i64} : (tensor<2x3x5x1x6xf32>, tensor<2x3x5x4x1xf32>) -> tensor<2x3x5x4x6xf32>
  %ax = arith.constant dense<2> : tensor<i64>
  %s = onnx.node "CumSum"(%kv, %ax) attributes {attrs = {}, domain = "", opset = 11 : i64} : (tensor<2x3x5x4x6xf32>, tensor<i64>) -> tensor<2x3x5x4x6xf32>
  %o = onnx.node "Einsum"(%q, %s) attributes {attrs = {equation = "bhtd,bhtde->bhte"}, domain = "", opset = 12 : i64} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4x6xf32>) -> tensor<2x3x5x6xf32>
  return %o, %s : tensor<2x3x5x6xf32>, tensor<2x3x5x4x6xf32>
}

// -----

// Near misses, left alone: an exclusive cumsum; a cumsum over another axis;
// an einsum that sums over the time axis.
// CHECK-LABEL: func @near_misses
//   CHECK-NOT:   loom.scan
func.func @near_misses(%q: tensor<2x3x5x4xf32>, %k: tensor<2x3x5x4xf32>, %v: tensor<2x3x5x6xf32>) -> (tensor<2x3x5x6xf32>, tensor<2x3x5x6xf32>, tensor<2x3x6xf32>) {
  %ku = onnx.node "Unsqueeze"(%k) attributes {attrs = {axes = array<i64: 4>}, domain = "", opset = 11 : i64} : (tensor<2x3x5x4xf32>) -> tensor<2x3x5x4x1xf32>
  %vu = onnx.node "Unsqueeze"(%v) attributes {attrs = {axes = array<i64: 3>}, domain = "", opset = 11 : i64} : (tensor<2x3x5x6xf32>) -> tensor<2x3x5x1x6xf32>
  %kv = onnx.node "Mul"(%ku, %vu) attributes {attrs = {}, domain = "", opset = 11 : i64} : (tensor<2x3x5x4x1xf32>, tensor<2x3x5x1x6xf32>) -> tensor<2x3x5x4x6xf32>
  %ax = arith.constant dense<2> : tensor<i64>
  %ax1 = arith.constant dense<1> : tensor<i64>
  %s1 = onnx.node "CumSum"(%kv, %ax) attributes {attrs = {exclusive = 1 : i64}, domain = "", opset = 11 : i64} : (tensor<2x3x5x4x6xf32>, tensor<i64>) -> tensor<2x3x5x4x6xf32>
  %o1 = onnx.node "Einsum"(%q, %s1) attributes {attrs = {equation = "bhtd,bhtde->bhte"}, domain = "", opset = 12 : i64} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4x6xf32>) -> tensor<2x3x5x6xf32>
  %s2 = onnx.node "CumSum"(%kv, %ax1) attributes {attrs = {}, domain = "", opset = 11 : i64} : (tensor<2x3x5x4x6xf32>, tensor<i64>) -> tensor<2x3x5x4x6xf32>
  %o2 = onnx.node "Einsum"(%q, %s2) attributes {attrs = {equation = "bhtd,bhtde->bhte"}, domain = "", opset = 12 : i64} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4x6xf32>) -> tensor<2x3x5x6xf32>
  %s3 = onnx.node "CumSum"(%kv, %ax) attributes {attrs = {}, domain = "", opset = 11 : i64} : (tensor<2x3x5x4x6xf32>, tensor<i64>) -> tensor<2x3x5x4x6xf32>
  %o3 = onnx.node "Einsum"(%q, %s3) attributes {attrs = {equation = "bhtd,bhtde->bhe"}, domain = "", opset = 12 : i64} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4x6xf32>) -> tensor<2x3x6xf32>
  return %o1, %o2, %o3 : tensor<2x3x5x6xf32>, tensor<2x3x5x6xf32>, tensor<2x3x6xf32>
}
