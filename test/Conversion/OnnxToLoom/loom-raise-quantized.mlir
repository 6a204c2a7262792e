// RUN: loom-opt %s -split-input-file --loom-raise-quantized | FileCheck %s

// int8 weights [K=2, N=3] with per-column scales (axis 1) and zero points
// 0: the weights as they are, the scales per column.
// CHECK-LABEL: func @int8_per_column
//   CHECK-DAG:   %[[W:.+]] = arith.constant dense_resource<qdq_weight> : tensor<2x3xi8>
//   CHECK-DAG:   %[[S:.+]] = arith.constant dense<[1.000000e-01, 2.000000e-01, 3.000000e-01]> : tensor<3xf32>
//       CHECK:   %[[Y:.+]] = loom.quantized_matmul %arg0, %[[W]], %[[S]] : (tensor<5x2xf32>, tensor<2x3xi8>, tensor<3xf32>) -> tensor<5x3xf32>
//       CHECK:   return %[[Y]]
//   CHECK-NOT:   onnx.node "DequantizeLinear"
//       CHECK: qdq_weight: "0x0100000001FF7F80020A"
func.func @int8_per_column(%x: tensor<5x2xf32>) -> tensor<5x3xf32> {
  %w = onnx.node "Constant"() attributes {attrs = {value = dense<[[1, -1, 127], [-128, 2, 10]]> : tensor<2x3xi8>}, domain = "", opset = 17 : i64} : () -> tensor<2x3xi8>
  %s = arith.constant dense<[0.1, 0.2, 0.3]> : tensor<3xf32>
  %z = onnx.node "Constant"() attributes {attrs = {value = dense<0> : tensor<3xi8>}, domain = "", opset = 17 : i64} : () -> tensor<3xi8>
  %d = onnx.node "DequantizeLinear"(%w, %s, %z) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 13 : i64} : (tensor<2x3xi8>, tensor<3xf32>, tensor<3xi8>) -> tensor<2x3xf32>
  %y = onnx.node "MatMul"(%x, %d) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<5x2xf32>, tensor<2x3xf32>) -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

// -----

// uint8 weights with zero point 128 and one scale: shifted to int8
// (0 -> -128, 128 -> 0, 255 -> 127), the scale repeated per column; the
// node's dynamic result type gets a cast.
// CHECK-LABEL: func @uint8_zero_128
//   CHECK-DAG:   %[[S:.+]] = arith.constant dense<5.000000e-01> : tensor<2xf32>
//       CHECK:   %[[Y:.+]] = loom.quantized_matmul %arg0, %{{.+}}, %[[S]] : (tensor<?x2xf32>, tensor<2x2xi8>, tensor<2xf32>) -> tensor<?x2xf32>
//       CHECK: qdq_weight: "0x0100000080007F01"
func.func @uint8_zero_128(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = onnx.node "Constant"() attributes {attrs = {value = dense<[[0, 128], [255, 129]]> : tensor<2x2xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2x2xui8>
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = onnx.node "Constant"() attributes {attrs = {value = dense<128> : tensor<ui8>}, domain = "", opset = 17 : i64} : () -> tensor<ui8>
  %d = onnx.node "DequantizeLinear"(%w, %s, %z) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x2xui8>, tensor<f32>, tensor<ui8>) -> tensor<2x2xf32>
  %y = onnx.node "MatMul"(%x, %d) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Left alone: a zero point that is not symmetric, per-row scales (axis 0),
// uint8 without a zero point, and weights computed at run time.
// CHECK-LABEL: func @near_misses
//   CHECK-NOT:   loom.quantized_matmul
func.func @near_misses(%x: tensor<5x2xf32>, %wr: tensor<2x3xi8>) -> (tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>) {
  %w = onnx.node "Constant"() attributes {attrs = {value = dense<1> : tensor<2x3xi8>}, domain = "", opset = 17 : i64} : () -> tensor<2x3xi8>
  %wu = onnx.node "Constant"() attributes {attrs = {value = dense<1> : tensor<2x3xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2x3xui8>
  %s = arith.constant dense<0.5> : tensor<f32>
  %s2 = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %z5 = onnx.node "Constant"() attributes {attrs = {value = dense<5> : tensor<i8>}, domain = "", opset = 17 : i64} : () -> tensor<i8>
  %d0 = onnx.node "DequantizeLinear"(%w, %s, %z5) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x3xi8>, tensor<f32>, tensor<i8>) -> tensor<2x3xf32>
  %y0 = onnx.node "MatMul"(%x, %d0) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<5x2xf32>, tensor<2x3xf32>) -> tensor<5x3xf32>
  %d1 = onnx.node "DequantizeLinear"(%w, %s2) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 13 : i64} : (tensor<2x3xi8>, tensor<2xf32>) -> tensor<2x3xf32>
  %y1 = onnx.node "MatMul"(%x, %d1) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<5x2xf32>, tensor<2x3xf32>) -> tensor<5x3xf32>
  %d2 = onnx.node "DequantizeLinear"(%wu, %s) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x3xui8>, tensor<f32>) -> tensor<2x3xf32>
  %y2 = onnx.node "MatMul"(%x, %d2) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<5x2xf32>, tensor<2x3xf32>) -> tensor<5x3xf32>
  %d3 = onnx.node "DequantizeLinear"(%wr, %s) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x3xi8>, tensor<f32>) -> tensor<2x3xf32>
  %y3 = onnx.node "MatMul"(%x, %d3) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<5x2xf32>, tensor<2x3xf32>) -> tensor<5x3xf32>
  return %y0, %y1, %y2, %y3 : tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>
}
