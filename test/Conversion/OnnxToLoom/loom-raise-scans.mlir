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

// -----

// Mamba's selective scan as torch exports a scripted loop (opset 17): the
// state decays by a_i and takes u_i, the readout sums h * c_i over the state;
// the steps go into a sequence that is stacked along axis 1. The zeros of the
// initial state and the trip count (T = 16) are constants.
// CHECK-LABEL: func @loop_selective_scan
//       CHECK:   %[[Y:.+]] = loom.scan <diagonal> %arg0, %arg1, %arg2 : (tensor<2x16x8x4xf32>, tensor<2x16x8x4xf32>, tensor<2x16x4xf32>) -> tensor<2x16x8xf32>
//       CHECK:   %[[CAST:.+]] = tensor.cast %[[Y]] : tensor<2x16x8xf32> to tensor<?x?x?xf32>
//       CHECK:   return %[[CAST]]
//   CHECK-NOT:   onnx.node
func.func @loop_selective_scan(%a: tensor<2x16x8x4xf32>, %u: tensor<2x16x8x4xf32>, %c: tensor<2x16x4xf32>) -> tensor<?x?x?xf32> {
  %axes = onnx.node "Constant"() attributes {attrs = {value = dense<-1> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
  %true = onnx.node "Constant"() attributes {attrs = {value = dense<true> : tensor<i1>}, domain = "", opset = 17 : i64} : () -> tensor<i1>
  %h0 = onnx.node "Constant"() attributes {attrs = {value = dense<0.0> : tensor<2x8x4xf32>}, domain = "", opset = 17 : i64} : () -> tensor<2x8x4xf32>
  %seq = onnx.node "SequenceEmpty"() attributes {attrs = {dtype = 1 : i64}, domain = "", opset = 17 : i64} : () -> !onnx.seq<tensor<*xf32>>
  %m = onnx.node "Constant"() attributes {attrs = {value = dense<16> : tensor<i64>}, domain = "", opset = 17 : i64} : () -> tensor<i64>
  %loop:2 = onnx.node "Loop"(%m, %true, %h0, %seq) attributes {attrs = {}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%i: tensor<i64>, %cond: tensor<i1>, %h: tensor<2x8x4xf32>, %ys: !onnx.seq<tensor<?x?xf32>>):
    %ai = onnx.node "Gather"(%a, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<2x16x8x4xf32>, tensor<i64>) -> tensor<2x8x4xf32>
    %ah = onnx.node "Mul"(%ai, %h) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2x8x4xf32>, tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
    %ui = onnx.node "Gather"(%u, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<2x16x8x4xf32>, tensor<i64>) -> tensor<2x8x4xf32>
    %hn = onnx.node "Add"(%ah, %ui) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2x8x4xf32>, tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
    %ci = onnx.node "Gather"(%c, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<2x16x4xf32>, tensor<i64>) -> tensor<2x4xf32>
    %one = onnx.node "Constant"() attributes {attrs = {value = dense<1> : tensor<1xi64>}, domain = "", opset = 17 : i64} : () -> tensor<1xi64>
    %cu = onnx.node "Unsqueeze"(%ci, %one) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2x4xf32>, tensor<1xi64>) -> tensor<2x1x4xf32>
    %hc = onnx.node "Mul"(%hn, %cu) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2x8x4xf32>, tensor<2x1x4xf32>) -> tensor<2x8x4xf32>
    %y = onnx.node "ReduceSum"(%hc, %axes) attributes {attrs = {keepdims = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<2x8x4xf32>, tensor<1xi64>) -> tensor<*xf32>
    %ys2 = onnx.node "SequenceInsert"(%ys, %y) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<?x?xf32>>, tensor<*xf32>) -> !onnx.seq<tensor<?x?xf32>>
    %c2 = onnx.node "Identity"(%true) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<i1>) -> tensor<i1>
    onnx.yield %c2, %hn, %ys2 : tensor<i1>, tensor<2x8x4xf32>, !onnx.seq<tensor<?x?xf32>>
  } : (tensor<i64>, tensor<i1>, tensor<2x8x4xf32>, !onnx.seq<tensor<*xf32>>) -> (tensor<*xf32>, !onnx.seq<tensor<*xf32>>)
  %out = onnx.node "ConcatFromSequence"(%loop#1) attributes {attrs = {axis = 1 : i64, new_axis = 1 : i64}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>) -> tensor<?x?x?xf32>
  return %out : tensor<?x?x?xf32>
}

// -----

// A dynamic sequence length: the trip count is read from a shape at run time,
// so the raised scan comes with a run-time check that it equals T; the
// readout is an einsum with its operands swapped, the update u_i + h * a_i,
// the initial state ConstantOfShape.
// CHECK-LABEL: func @loop_dynamic_length
//       CHECK:   %[[M:.+]] = onnx.node "Gather"
//       CHECK:   %[[MV:.+]] = tensor.extract %[[M]][] : tensor<i64>
//       CHECK:   %[[T:.+]] = tensor.dim %arg0, %c1
//       CHECK:   %[[TI:.+]] = arith.index_cast %[[T]] : index to i64
//       CHECK:   %[[NE:.+]] = arith.cmpi ne, %[[MV]], %[[TI]] : i64
//       CHECK:   %[[F:.+]] = tensor.from_elements %[[NE]] : tensor<i1>
//       CHECK:   loom.runtime_check %[[F]], "Loop at node 'scan_loop': compiled as a scan over the sequence axis, but its trip count differs from the sequence length"
//       CHECK:   loom.scan <diagonal> %arg0, %arg1, %arg2 : (tensor<1x?x8x4xf32>, tensor<1x?x8x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x8xf32>
//   CHECK-NOT:   "Loop"
func.func @loop_dynamic_length(%a: tensor<1x?x8x4xf32>, %u: tensor<1x?x8x4xf32>, %c: tensor<1x?x4xf32>, %x: tensor<1x?x8xf32>) -> tensor<?x?x?xf32> {
  %true = onnx.node "Constant"() attributes {attrs = {value = dense<true> : tensor<i1>}, domain = "", opset = 17 : i64} : () -> tensor<i1>
  %shape0 = onnx.node "Constant"() attributes {attrs = {value = dense<[1, 8, 4]> : tensor<3xi64>}, domain = "", opset = 17 : i64} : () -> tensor<3xi64>
  %h0 = onnx.node "ConstantOfShape"(%shape0) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<3xi64>) -> tensor<1x8x4xf32>
  %seq = onnx.node "SequenceEmpty"() attributes {attrs = {dtype = 1 : i64}, domain = "", opset = 17 : i64} : () -> !onnx.seq<tensor<*xf32>>
  %shape = onnx.node "Shape"(%x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x?x8xf32>) -> tensor<3xi64>
  %idx = onnx.node "Constant"() attributes {attrs = {value = dense<1> : tensor<i64>}, domain = "", opset = 17 : i64} : () -> tensor<i64>
  %m = onnx.node "Gather"(%shape, %idx) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %loop:2 = onnx.node "Loop"(%m, %true, %h0, %seq) attributes {attrs = {}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%i: tensor<i64>, %cond: tensor<i1>, %h: tensor<1x8x4xf32>, %ys: !onnx.seq<tensor<?x?xf32>>):
    %ai = onnx.node "Gather"(%a, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x?x8x4xf32>, tensor<i64>) -> tensor<1x8x4xf32>
    %ah = onnx.node "Mul"(%h, %ai) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
    %ui = onnx.node "Gather"(%u, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x?x8x4xf32>, tensor<i64>) -> tensor<1x8x4xf32>
    %hn = onnx.node "Add"(%ui, %ah) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
    %ci = onnx.node "Gather"(%c, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x?x4xf32>, tensor<i64>) -> tensor<1x4xf32>
    %y = onnx.node "Einsum"(%ci, %hn) attributes {attrs = {equation = "bn,bdn->bd"}, domain = "", opset = 17 : i64} : (tensor<1x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8xf32>
    %ys2 = onnx.node "SequenceInsert"(%ys, %y) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<?x?xf32>>, tensor<1x8xf32>) -> !onnx.seq<tensor<?x?xf32>>
    onnx.yield %cond, %hn, %ys2 : tensor<i1>, tensor<1x8x4xf32>, !onnx.seq<tensor<?x?xf32>>
  } : (tensor<i64>, tensor<i1>, tensor<1x8x4xf32>, !onnx.seq<tensor<*xf32>>) -> (tensor<*xf32>, !onnx.seq<tensor<*xf32>>) loc("scan_loop")
  %out = onnx.node "ConcatFromSequence"(%loop#1) attributes {attrs = {axis = -2 : i64, new_axis = 1 : i64}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>) -> tensor<?x?x?xf32>
  return %out : tensor<?x?x?xf32>
}

// -----

// Near misses, left alone: a loop starting from a non-zero state; a trip
// count other than T; a loop whose final state is also returned; a step
// indexed along the wrong axis.
// CHECK-LABEL: func @loop_near_misses
//   CHECK-NOT:   loom.scan
//       CHECK:   return
func.func @loop_near_misses(%a: tensor<1x16x8x4xf32>, %c: tensor<1x16x4xf32>, %h0: tensor<1x8x4xf32>) -> (tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<*xf32>, tensor<?x?x?xf32>) {
  %true = onnx.node "Constant"() attributes {attrs = {value = dense<true> : tensor<i1>}, domain = "", opset = 17 : i64} : () -> tensor<i1>
  %zeros = onnx.node "Constant"() attributes {attrs = {value = dense<0.0> : tensor<1x8x4xf32>}, domain = "", opset = 17 : i64} : () -> tensor<1x8x4xf32>
  %seq = onnx.node "SequenceEmpty"() attributes {attrs = {dtype = 1 : i64}, domain = "", opset = 17 : i64} : () -> !onnx.seq<tensor<*xf32>>
  %m16 = onnx.node "Constant"() attributes {attrs = {value = dense<16> : tensor<i64>}, domain = "", opset = 17 : i64} : () -> tensor<i64>
  %m8 = onnx.node "Constant"() attributes {attrs = {value = dense<8> : tensor<i64>}, domain = "", opset = 17 : i64} : () -> tensor<i64>
  %l1:2 = onnx.node "Loop"(%m16, %true, %h0, %seq) attributes {attrs = {}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%i: tensor<i64>, %cond: tensor<i1>, %h: tensor<1x8x4xf32>, %ys: !onnx.seq<tensor<?x?xf32>>):
    %ai = onnx.node "Gather"(%a, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x16x8x4xf32>, tensor<i64>) -> tensor<1x8x4xf32>
    %ah = onnx.node "Mul"(%ai, %h) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
    %hn = onnx.node "Add"(%ah, %ai) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
    %ci = onnx.node "Gather"(%c, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x16x4xf32>, tensor<i64>) -> tensor<1x4xf32>
    %y = onnx.node "Einsum"(%hn, %ci) attributes {attrs = {equation = "bdn,bn->bd"}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x4xf32>) -> tensor<1x8xf32>
    %ys2 = onnx.node "SequenceInsert"(%ys, %y) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<?x?xf32>>, tensor<1x8xf32>) -> !onnx.seq<tensor<?x?xf32>>
    onnx.yield %cond, %hn, %ys2 : tensor<i1>, tensor<1x8x4xf32>, !onnx.seq<tensor<?x?xf32>>
  } : (tensor<i64>, tensor<i1>, tensor<1x8x4xf32>, !onnx.seq<tensor<*xf32>>) -> (tensor<*xf32>, !onnx.seq<tensor<*xf32>>)
  %o1 = onnx.node "ConcatFromSequence"(%l1#1) attributes {attrs = {axis = 1 : i64, new_axis = 1 : i64}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>) -> tensor<?x?x?xf32>
  %l2:2 = onnx.node "Loop"(%m8, %true, %zeros, %seq) attributes {attrs = {}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%i: tensor<i64>, %cond: tensor<i1>, %h: tensor<1x8x4xf32>, %ys: !onnx.seq<tensor<?x?xf32>>):
    %ai = onnx.node "Gather"(%a, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x16x8x4xf32>, tensor<i64>) -> tensor<1x8x4xf32>
    %ah = onnx.node "Mul"(%ai, %h) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
    %hn = onnx.node "Add"(%ah, %ai) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
    %ci = onnx.node "Gather"(%c, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x16x4xf32>, tensor<i64>) -> tensor<1x4xf32>
    %y = onnx.node "Einsum"(%hn, %ci) attributes {attrs = {equation = "bdn,bn->bd"}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x4xf32>) -> tensor<1x8xf32>
    %ys2 = onnx.node "SequenceInsert"(%ys, %y) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<?x?xf32>>, tensor<1x8xf32>) -> !onnx.seq<tensor<?x?xf32>>
    onnx.yield %cond, %hn, %ys2 : tensor<i1>, tensor<1x8x4xf32>, !onnx.seq<tensor<?x?xf32>>
  } : (tensor<i64>, tensor<i1>, tensor<1x8x4xf32>, !onnx.seq<tensor<*xf32>>) -> (tensor<*xf32>, !onnx.seq<tensor<*xf32>>)
  %o2 = onnx.node "ConcatFromSequence"(%l2#1) attributes {attrs = {axis = 1 : i64, new_axis = 1 : i64}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>) -> tensor<?x?x?xf32>
  %l3:2 = onnx.node "Loop"(%m16, %true, %zeros, %seq) attributes {attrs = {}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%i: tensor<i64>, %cond: tensor<i1>, %h: tensor<1x8x4xf32>, %ys: !onnx.seq<tensor<?x?xf32>>):
    %ai = onnx.node "Gather"(%a, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x16x8x4xf32>, tensor<i64>) -> tensor<1x8x4xf32>
    %ah = onnx.node "Mul"(%ai, %h) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
    %hn = onnx.node "Add"(%ah, %ai) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>
    %ci = onnx.node "Gather"(%c, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x16x4xf32>, tensor<i64>) -> tensor<1x4xf32>
    %y = onnx.node "Einsum"(%hn, %ci) attributes {attrs = {equation = "bdn,bn->bd"}, domain = "", opset = 17 : i64} : (tensor<1x8x4xf32>, tensor<1x4xf32>) -> tensor<1x8xf32>
    %ys2 = onnx.node "SequenceInsert"(%ys, %y) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<?x?xf32>>, tensor<1x8xf32>) -> !onnx.seq<tensor<?x?xf32>>
    onnx.yield %cond, %hn, %ys2 : tensor<i1>, tensor<1x8x4xf32>, !onnx.seq<tensor<?x?xf32>>
  } : (tensor<i64>, tensor<i1>, tensor<1x8x4xf32>, !onnx.seq<tensor<*xf32>>) -> (tensor<*xf32>, !onnx.seq<tensor<*xf32>>)
  %o3 = onnx.node "ConcatFromSequence"(%l3#1) attributes {attrs = {axis = 1 : i64, new_axis = 1 : i64}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>) -> tensor<?x?x?xf32>
  %l4:2 = onnx.node "Loop"(%m16, %true, %zeros, %seq) attributes {attrs = {}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%i: tensor<i64>, %cond: tensor<i1>, %h: tensor<1x8x4xf32>, %ys: !onnx.seq<tensor<?x?xf32>>):
    %ai = onnx.node "Gather"(%a, %i) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 17 : i64} : (tensor<1x16x8x4xf32>, tensor<i64>) -> tensor<16x8x4xf32>
    %ah = onnx.node "Mul"(%ai, %h) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<16x8x4xf32>, tensor<1x8x4xf32>) -> tensor<16x8x4xf32>
    %hn = onnx.node "Add"(%ah, %ai) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<16x8x4xf32>, tensor<16x8x4xf32>) -> tensor<16x8x4xf32>
    %ci = onnx.node "Gather"(%c, %i) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 17 : i64} : (tensor<1x16x4xf32>, tensor<i64>) -> tensor<1x4xf32>
    %y = onnx.node "Einsum"(%hn, %ci) attributes {attrs = {equation = "bdn,bn->bd"}, domain = "", opset = 17 : i64} : (tensor<16x8x4xf32>, tensor<1x4xf32>) -> tensor<16x8xf32>
    %ys2 = onnx.node "SequenceInsert"(%ys, %y) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<?x?xf32>>, tensor<16x8xf32>) -> !onnx.seq<tensor<?x?xf32>>
    onnx.yield %cond, %hn, %ys2 : tensor<i1>, tensor<16x8x4xf32>, !onnx.seq<tensor<?x?xf32>>
  } : (tensor<i64>, tensor<i1>, tensor<1x8x4xf32>, !onnx.seq<tensor<*xf32>>) -> (tensor<*xf32>, !onnx.seq<tensor<*xf32>>)
  %o4 = onnx.node "ConcatFromSequence"(%l4#1) attributes {attrs = {axis = 1 : i64, new_axis = 1 : i64}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>) -> tensor<?x?x?xf32>
  return %o1, %o2, %o3, %l3#0, %o4 : tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<*xf32>, tensor<?x?x?xf32>
}
