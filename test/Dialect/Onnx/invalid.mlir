// RUN: loom-opt %s -split-input-file -verify-diagnostics -allow-unregistered-dialect
// One case per verifier message of the ONNX holder ops.

func.func @empty_op_type(%x: tensor<4xf32>) {
  // expected-error @+1 {{op_type must not be empty}}
  %y = onnx.node ""(%x) attributes {domain = "", opset = 17 : i64, attrs = {}} : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @bad_opset(%x: tensor<4xf32>) {
  // expected-error @+1 {{opset must be positive}}
  %y = onnx.node "Relu"(%x) attributes {domain = "", opset = 0 : i64, attrs = {}} : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @unnamed_region(%x: tensor<4xf32>) {
  // expected-error @+1 {{has 1 subgraph regions but names 0}}
  %y = onnx.node "If"(%x) attributes {domain = "", opset = 17 : i64, attrs = {}} {
    onnx.yield %x : tensor<4xf32>
  } : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @two_blocks(%x: tensor<4xf32>) {
  // expected-error @+1 {{subgraph regions must have exactly one block}}
  %y = onnx.node "If"(%x) attributes {domain = "", opset = 17 : i64, attrs = {}, subgraphs = ["then_branch"]} {
    "foo.br"()[^bb1] : () -> ()
  ^bb1:
    onnx.yield %x : tensor<4xf32>
  } : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @no_yield(%x: tensor<4xf32>) {
  // expected-error @+1 {{subgraph regions must end in onnx.yield}}
  %y = onnx.node "If"(%x) attributes {domain = "", opset = 17 : i64, attrs = {}, subgraphs = ["then_branch"]} {
    "foo.term"() : () -> ()
  } : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @stray_yield(%x: tensor<4xf32>) {
  // expected-error @+1 {{expects parent op 'onnx.node'}}
  onnx.yield %x : tensor<4xf32>
}
