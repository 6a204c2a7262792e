// RUN: loom-opt %s -split-input-file --loom-raise-mixtures | FileCheck %s

// A masked mixture of 3 experts (biases, GELU already raised), the sum
// starting from zeros, the experts added in the order 1, 0, 2: one loom.moe
// with the experts in index order.
// CHECK-LABEL: func @moe_gelu_bias
//       CHECK:   %[[Y:.+]] = loom.moe %arg0, %arg1, %arg2 experts(%arg3, %arg5, %arg4, %arg6, %arg7, %arg9, %arg8, %arg10, %arg11, %arg13, %arg12, %arg14) {activation = #loom.activation<gelu>, num_experts = 3 : i64}
//       CHECK:   return %[[Y]]
//   CHECK-NOT:   onnx.node
func.func @moe_gelu_bias(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %idx: tensor<?x2xi64>, %w1_0: tensor<8x16xf32>, %w2_0: tensor<16x8xf32>, %b1_0: tensor<16xf32>, %b2_0: tensor<8xf32>, %w1_1: tensor<8x16xf32>, %w2_1: tensor<16x8xf32>, %b1_1: tensor<16xf32>, %b2_1: tensor<8xf32>, %w1_2: tensor<8x16xf32>, %w2_2: tensor<16x8xf32>, %b1_2: tensor<16xf32>, %b2_2: tensor<8xf32>) -> tensor<?x8xf32> {
  %ax = arith.constant dense<-1> : tensor<1xi64>
  %shape = onnx.node "Shape"(%x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>) -> tensor<2xi64>
  %zeros = onnx.node "ConstantOfShape"(%shape) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2xi64>) -> tensor<?x8xf32>
  %t1e = arith.constant dense<1> : tensor<i64>
  %t1eq = onnx.node "Equal"(%idx, %t1e) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %t1c = onnx.node "Cast"(%t1eq) attributes {attrs = {to = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %t1m = onnx.node "Mul"(%w, %t1c) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %t1g = onnx.node "ReduceSum"(%t1m, %ax) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %t1h = onnx.node "MatMul"(%x, %w1_1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %t1hb = onnx.node "Add"(%b1_1, %t1h) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %t1a = loom.gelu %t1hb : tensor<?x16xf32>
  %t1o = onnx.node "MatMul"(%t1a, %w2_1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %t1ob = onnx.node "Add"(%t1o, %b2_1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %t1t = onnx.node "Mul"(%t1g, %t1ob) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %s1 = onnx.node "Add"(%zeros, %t1t) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %t0e = arith.constant dense<0> : tensor<i64>
  %t0eq = onnx.node "Equal"(%idx, %t0e) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %t0c = onnx.node "Cast"(%t0eq) attributes {attrs = {to = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %t0m = onnx.node "Mul"(%w, %t0c) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %t0g = onnx.node "ReduceSum"(%t0m, %ax) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %t0h = onnx.node "MatMul"(%x, %w1_0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %t0hb = onnx.node "Add"(%b1_0, %t0h) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %t0a = loom.gelu %t0hb : tensor<?x16xf32>
  %t0o = onnx.node "MatMul"(%t0a, %w2_0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %t0ob = onnx.node "Add"(%t0o, %b2_0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %t0t = onnx.node "Mul"(%t0g, %t0ob) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %s0 = onnx.node "Add"(%s1, %t0t) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %t2e = arith.constant dense<2> : tensor<i64>
  %t2eq = onnx.node "Equal"(%idx, %t2e) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %t2c = onnx.node "Cast"(%t2eq) attributes {attrs = {to = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %t2m = onnx.node "Mul"(%w, %t2c) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %t2g = onnx.node "ReduceSum"(%t2m, %ax) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %t2h = onnx.node "MatMul"(%x, %w1_2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %t2hb = onnx.node "Add"(%b1_2, %t2h) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %t2a = loom.gelu %t2hb : tensor<?x16xf32>
  %t2o = onnx.node "MatMul"(%t2a, %w2_2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %t2ob = onnx.node "Add"(%t2o, %b2_2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %t2t = onnx.node "Mul"(%t2g, %t2ob) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %s2 = onnx.node "Add"(%s0, %t2t) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %s2 : tensor<?x8xf32>
}

// -----

// Without biases, ReLU, the sum starting from the first term.
// CHECK-LABEL: func @moe_relu
//       CHECK:   loom.moe %arg0, %arg1, %arg2 experts(%arg3, %arg4, %arg5, %arg6) {activation = #loom.activation<relu>, num_experts = 2 : i64}
func.func @moe_relu(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %idx: tensor<?x2xi64>, %w1_0: tensor<8x16xf32>, %w2_0: tensor<16x8xf32>, %w1_1: tensor<8x16xf32>, %w2_1: tensor<16x8xf32>) -> tensor<?x8xf32> {
  %ax = arith.constant dense<-1> : tensor<1xi64>
  %ae = arith.constant dense<0> : tensor<i64>
  %aeq = onnx.node "Equal"(%idx, %ae) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %ac = onnx.node "Cast"(%aeq) attributes {attrs = {to = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %am = onnx.node "Mul"(%w, %ac) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %ag = onnx.node "ReduceSum"(%am, %ax) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %ah = onnx.node "MatMul"(%x, %w1_0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %aa = onnx.node "Relu"(%ah) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %ao = onnx.node "MatMul"(%aa, %w2_0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %at = onnx.node "Mul"(%ag, %ao) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %be = arith.constant dense<1> : tensor<i64>
  %beq = onnx.node "Equal"(%idx, %be) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %bc = onnx.node "Cast"(%beq) attributes {attrs = {to = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %bm = onnx.node "Mul"(%w, %bc) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %bg = onnx.node "ReduceSum"(%bm, %ax) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %bh = onnx.node "MatMul"(%x, %w1_1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %ba = onnx.node "Relu"(%bh) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %bo = onnx.node "MatMul"(%ba, %w2_1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %bt = onnx.node "Mul"(%bg, %bo) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %sum = onnx.node "Add"(%bt, %at) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %sum : tensor<?x8xf32>
}

// -----

// Near misses, left alone: experts 0 and 2 (not 0 .. E-1); experts that
// read different inputs.
// CHECK-LABEL: func @moe_near_misses
//   CHECK-NOT:   loom.moe
func.func @moe_near_misses(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %idx: tensor<?x2xi64>, %w1_0: tensor<8x16xf32>, %w2_0: tensor<16x8xf32>, %w1_1: tensor<8x16xf32>, %w2_1: tensor<16x8xf32>, %x2: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %ax = arith.constant dense<-1> : tensor<1xi64>
  %ae = arith.constant dense<0> : tensor<i64>
  %aeq = onnx.node "Equal"(%idx, %ae) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %ac = onnx.node "Cast"(%aeq) attributes {attrs = {to = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %am = onnx.node "Mul"(%w, %ac) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %ag = onnx.node "ReduceSum"(%am, %ax) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %ah = onnx.node "MatMul"(%x, %w1_0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %aa = onnx.node "Relu"(%ah) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %ao = onnx.node "MatMul"(%aa, %w2_0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %at = onnx.node "Mul"(%ag, %ao) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %be = arith.constant dense<2> : tensor<i64>
  %beq = onnx.node "Equal"(%idx, %be) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %bc = onnx.node "Cast"(%beq) attributes {attrs = {to = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %bm = onnx.node "Mul"(%w, %bc) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %bg = onnx.node "ReduceSum"(%bm, %ax) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %bh = onnx.node "MatMul"(%x, %w1_1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %ba = onnx.node "Relu"(%bh) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %bo = onnx.node "MatMul"(%ba, %w2_1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %bt = onnx.node "Mul"(%bg, %bo) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %sum = onnx.node "Add"(%at, %bt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %ce = arith.constant dense<0> : tensor<i64>
  %ceq = onnx.node "Equal"(%idx, %ce) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %cc = onnx.node "Cast"(%ceq) attributes {attrs = {to = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %cm = onnx.node "Mul"(%w, %cc) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %cg = onnx.node "ReduceSum"(%cm, %ax) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %ch = onnx.node "MatMul"(%x, %w1_0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %ca = onnx.node "Relu"(%ch) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %co = onnx.node "MatMul"(%ca, %w2_0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %ct = onnx.node "Mul"(%cg, %co) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %de = arith.constant dense<1> : tensor<i64>
  %deq = onnx.node "Equal"(%idx, %de) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %dc = onnx.node "Cast"(%deq) attributes {attrs = {to = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %dm = onnx.node "Mul"(%w, %dc) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %dg = onnx.node "ReduceSum"(%dm, %ax) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %dh = onnx.node "MatMul"(%x2, %w1_1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %da = onnx.node "Relu"(%dh) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %do = onnx.node "MatMul"(%da, %w2_1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %dt = onnx.node "Mul"(%dg, %do) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %sum2 = onnx.node "Add"(%ct, %dt) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %sum, %sum2 : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// MLP-Mixer's token mixing: Transpose, Linear, GELU, Linear, Transpose.
// CHECK-LABEL: func @token_mixing
//       CHECK:   %[[Y:.+]] = loom.token_mixing %arg0, %arg1, %arg3 bias(%arg2, %arg4) {activation = #loom.activation<gelu>}
//       CHECK:   return %[[Y]]
//   CHECK-NOT:   onnx.node
func.func @token_mixing(%x: tensor<?x8x4xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>, %b2: tensor<8xf32>) -> tensor<?x8x4xf32> {
  %xt = onnx.node "Transpose"(%x) attributes {attrs = {perm = array<i64: 0, 2, 1>}, domain = "", opset = 17 : i64} : (tensor<?x8x4xf32>) -> tensor<?x4x8xf32>
  %h = onnx.node "MatMul"(%xt, %w1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>, tensor<8x16xf32>) -> tensor<?x4x16xf32>
  %hb = onnx.node "Add"(%h, %b1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x4x16xf32>, tensor<16xf32>) -> tensor<?x4x16xf32>
  %g = loom.gelu %hb : tensor<?x4x16xf32>
  %o = onnx.node "MatMul"(%g, %w2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x4x16xf32>, tensor<16x8xf32>) -> tensor<?x4x8xf32>
  %ob = onnx.node "Add"(%b2, %o) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<8xf32>, tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
  %y = onnx.node "Transpose"(%ob) attributes {attrs = {perm = array<i64: 0, 2, 1>}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>) -> tensor<?x8x4xf32>
  return %y : tensor<?x8x4xf32>
}

// -----

// Near miss: the outer Transpose is another permutation.
// CHECK-LABEL: func @token_mixing_near_miss
//   CHECK-NOT:   loom.token_mixing
func.func @token_mixing_near_miss(%x: tensor<?x8x4xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>) -> tensor<8x4x?xf32> {
  %xt = onnx.node "Transpose"(%x) attributes {attrs = {perm = array<i64: 0, 2, 1>}, domain = "", opset = 17 : i64} : (tensor<?x8x4xf32>) -> tensor<?x4x8xf32>
  %h = onnx.node "MatMul"(%xt, %w1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>, tensor<8x16xf32>) -> tensor<?x4x16xf32>
  %r = onnx.node "Relu"(%h) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x4x16xf32>) -> tensor<?x4x16xf32>
  %o = onnx.node "MatMul"(%r, %w2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x4x16xf32>, tensor<16x8xf32>) -> tensor<?x4x8xf32>
  %y = onnx.node "Transpose"(%o) attributes {attrs = {perm = array<i64: 2, 1, 0>}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>) -> tensor<8x4x?xf32>
  return %y : tensor<8x4x?xf32>
}

// -----

// A Monarch matrix as torch exports the paper's blockdiag_butterfly_multiply
// (4 blocks of 8 x 8, then 8 blocks of 4 x 4), the result reshaped to the
// input's leading dims computed from Shape(x).
// CHECK-LABEL: func @monarch
//       CHECK:   %[[Y:.+]] = loom.monarch %arg0, %arg1, %arg2 : (tensor<?x?x32xf32>, tensor<4x8x8xf32>, tensor<8x4x4xf32>) -> tensor<?x?x32xf32>
//       CHECK:   return %[[Y]]
//   CHECK-NOT:   onnx.node
func.func @monarch(%x: tensor<?x?x32xf32>, %w1: tensor<4x8x8xf32>, %w2: tensor<8x4x4xf32>) -> tensor<?x?x32xf32> {
  %s = onnx.node "Shape"(%x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x?x32xf32>) -> tensor<3xi64>
  %i0 = onnx.node "Constant"() attributes {attrs = {value = dense<0> : tensor<i64>}, domain = "", opset = 17 : i64} : () -> tensor<i64>
  %d0 = onnx.node "Gather"(%s, %i0) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %i1 = onnx.node "Constant"() attributes {attrs = {value = dense<1> : tensor<i64>}, domain = "", opset = 17 : i64} : () -> tensor<i64>
  %d1 = onnx.node "Gather"(%s, %i1) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %c0 = onnx.node "Constant"() attributes {attrs = {value = dense<[-1, 4, 8]> : tensor<3xi64>}, domain = "", opset = 17 : i64} : () -> tensor<3xi64>
  %r0 = onnx.node "Reshape"(%x, %c0) attributes {attrs = {allowzero = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<?x?x32xf32>, tensor<3xi64>) -> tensor<?x4x8xf32>
  %t0 = onnx.node "Transpose"(%r0) attributes {attrs = {perm = array<i64: 1, 0, 2>}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>) -> tensor<4x?x8xf32>
  %m1 = onnx.node "MatMul"(%t0, %w1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?x8xf32>, tensor<4x8x8xf32>) -> tensor<4x?x8xf32>
  %t1 = onnx.node "Transpose"(%m1) attributes {attrs = {perm = array<i64: 1, 0, 2>}, domain = "", opset = 17 : i64} : (tensor<4x?x8xf32>) -> tensor<?x4x8xf32>
  %c1 = onnx.node "Constant"() attributes {attrs = {value = dense<[-1, 4, 8]> : tensor<3xi64>}, domain = "", opset = 17 : i64} : () -> tensor<3xi64>
  %r1 = onnx.node "Reshape"(%t1, %c1) attributes {attrs = {allowzero = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>, tensor<3xi64>) -> tensor<?x4x8xf32>
  %t2 = onnx.node "Transpose"(%r1) attributes {attrs = {perm = array<i64: 2, 0, 1>}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>) -> tensor<8x?x4xf32>
  %m2 = onnx.node "MatMul"(%t2, %w2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<8x?x4xf32>, tensor<8x4x4xf32>) -> tensor<8x?x4xf32>
  %t3 = onnx.node "Transpose"(%m2) attributes {attrs = {perm = array<i64: 1, 2, 0>}, domain = "", opset = 17 : i64} : (tensor<8x?x4xf32>) -> tensor<?x4x8xf32>
  %a = onnx.node "Constant"() attributes {attrs = {value = dense<0> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %u0 = onnx.node "Unsqueeze"(%d0, %a) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %u1 = onnx.node "Unsqueeze"(%d1, %a) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %n = onnx.node "Constant"() attributes {attrs = {value = dense<32> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %shape = onnx.node "Concat"(%u0, %u1, %n) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %y = onnx.node "Reshape"(%t3, %shape) attributes {attrs = {allowzero = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>, tensor<3xi64>) -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}

// -----

// Near misses: the result's shape takes dim 1 twice (not x's leading dims);
// the grid between the factors is not transposed ([1, 0, 2]: a second
// block-diagonal product over the same blocks, not a Monarch matrix).
// CHECK-LABEL: func @monarch_near_misses
//   CHECK-NOT:   loom.monarch
func.func @monarch_near_misses(%x: tensor<?x?x32xf32>, %w1: tensor<4x8x8xf32>, %w2: tensor<4x8x8xf32>, %w3: tensor<8x4x4xf32>) -> (tensor<?x?x32xf32>, tensor<4x?x8xf32>) {
  %s = onnx.node "Shape"(%x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<?x?x32xf32>) -> tensor<3xi64>
  %i1 = onnx.node "Constant"() attributes {attrs = {value = dense<1> : tensor<i64>}, domain = "", opset = 17 : i64} : () -> tensor<i64>
  %d1 = onnx.node "Gather"(%s, %i1) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %c0 = onnx.node "Constant"() attributes {attrs = {value = dense<[-1, 4, 8]> : tensor<3xi64>}, domain = "", opset = 17 : i64} : () -> tensor<3xi64>
  %r0 = onnx.node "Reshape"(%x, %c0) attributes {attrs = {allowzero = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<?x?x32xf32>, tensor<3xi64>) -> tensor<?x4x8xf32>
  %t0 = onnx.node "Transpose"(%r0) attributes {attrs = {perm = array<i64: 1, 0, 2>}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>) -> tensor<4x?x8xf32>
  %m1 = onnx.node "MatMul"(%t0, %w1) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?x8xf32>, tensor<4x8x8xf32>) -> tensor<4x?x8xf32>
  %t1 = onnx.node "Transpose"(%m1) attributes {attrs = {perm = array<i64: 1, 0, 2>}, domain = "", opset = 17 : i64} : (tensor<4x?x8xf32>) -> tensor<?x4x8xf32>
  %c1 = onnx.node "Constant"() attributes {attrs = {value = dense<[-1, 4, 8]> : tensor<3xi64>}, domain = "", opset = 17 : i64} : () -> tensor<3xi64>
  %r1 = onnx.node "Reshape"(%t1, %c1) attributes {attrs = {allowzero = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>, tensor<3xi64>) -> tensor<?x4x8xf32>
  %t2 = onnx.node "Transpose"(%r1) attributes {attrs = {perm = array<i64: 2, 0, 1>}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>) -> tensor<8x?x4xf32>
  %m2 = onnx.node "MatMul"(%t2, %w3) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<8x?x4xf32>, tensor<8x4x4xf32>) -> tensor<8x?x4xf32>
  %t3 = onnx.node "Transpose"(%m2) attributes {attrs = {perm = array<i64: 1, 2, 0>}, domain = "", opset = 17 : i64} : (tensor<8x?x4xf32>) -> tensor<?x4x8xf32>
  %a = onnx.node "Constant"() attributes {attrs = {value = dense<0> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %u1 = onnx.node "Unsqueeze"(%d1, %a) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %n = onnx.node "Constant"() attributes {attrs = {value = dense<32> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %shape = onnx.node "Concat"(%u1, %u1, %n) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %y = onnx.node "Reshape"(%t3, %shape) attributes {attrs = {allowzero = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>, tensor<3xi64>) -> tensor<?x?x32xf32>
  %t2b = onnx.node "Transpose"(%r1) attributes {attrs = {perm = array<i64: 1, 0, 2>}, domain = "", opset = 17 : i64} : (tensor<?x4x8xf32>) -> tensor<4x?x8xf32>
  %m2b = onnx.node "MatMul"(%t2b, %w2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<4x?x8xf32>, tensor<4x8x8xf32>) -> tensor<4x?x8xf32>
  return %y, %m2b : tensor<?x?x32xf32>, tensor<4x?x8xf32>
}
