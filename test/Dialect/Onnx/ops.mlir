// RUN: loom-opt %s -split-input-file | loom-opt | FileCheck %s
// Round trip of the ONNX holder ops and types.

// CHECK-LABEL: func @holder
//       CHECK:   %[[N:.+]] = onnx.none
//       CHECK:   onnx.node "Clip"(%{{.+}}, %[[N]], %[[N]]) attributes {attrs = {}, domain = "", opset = 13 : i64}
//       CHECK:   onnx.node "Custom"(%{{.+}}) attributes {attrs = {alpha = 1.500000e+00 : f32, names = ["a", "b"], sizes = array<i64: 1, 2>}, domain = "com.example", opset = 1 : i64}
//  CHECK-SAME:     (tensor<4xf32>) -> (!onnx.seq<tensor<?xf32>>, !onnx.unknown)
func.func @holder(%x: tensor<4xf32>) -> tensor<4xf32> {
  %n = onnx.none
  %y = onnx.node "Clip"(%x, %n, %n) attributes {domain = "", opset = 13 : i64, attrs = {}} : (tensor<4xf32>, none, none) -> tensor<4xf32>
  %s:2 = onnx.node "Custom"(%y) attributes {domain = "com.example", opset = 1 : i64,
      attrs = {alpha = 1.5 : f32, sizes = array<i64: 1, 2>, names = ["a", "b"]}}
      : (tensor<4xf32>) -> (!onnx.seq<tensor<?xf32>>, !onnx.unknown)
  return %y : tensor<4xf32>
}

// -----

// CHECK-LABEL: func @subgraphs
//       CHECK:   onnx.node "If"(%{{.+}}) attributes {{.*}}subgraphs = ["then_branch", "else_branch"]} {
//       CHECK:     onnx.yield %{{.+}} : tensor<3xf32>
//       CHECK:   }, {
//       CHECK:     onnx.yield %{{.+}} : tensor<3xf32>
//       CHECK:   } : (tensor<i1>) -> tensor<3xf32>
func.func @subgraphs(%c: tensor<i1>, %x: tensor<3xf32>) -> tensor<3xf32> {
  %y = onnx.node "If"(%c) attributes {domain = "", opset = 17 : i64, attrs = {}, subgraphs = ["then_branch", "else_branch"]} {
    onnx.yield %x : tensor<3xf32>
  }, {
    %z = onnx.node "Neg"(%x) attributes {domain = "", opset = 17 : i64, attrs = {}} : (tensor<3xf32>) -> tensor<3xf32>
    onnx.yield %z : tensor<3xf32>
  } : (tensor<i1>) -> tensor<3xf32>
  return %y : tensor<3xf32>
}

// -----

// CHECK-LABEL: func @types
//  CHECK-SAME:   !onnx.opt<tensor<2xf32>>, %{{.+}}: !onnx.map<i64, tensor<f32>>, %{{.+}}: tensor<2x!onnx.string>
func.func @types(%a: !onnx.opt<tensor<2xf32>>, %b: !onnx.map<i64, tensor<f32>>, %c: tensor<2x!onnx.string>) {
  return
}
