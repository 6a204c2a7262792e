// RUN: loom-opt %s -split-input-file --loom-onnx-to-loom | FileCheck %s

// CHECK-LABEL: func @add_broadcast
//  CHECK-SAME:   %[[A:.+]]: tensor<?x4xf32>, %[[B:.+]]: tensor<4xf32>
//       CHECK:   %[[C0:.+]] = arith.constant 0 : index
//       CHECK:   %[[D0:.+]] = tensor.dim %[[A]], %[[C0]]
//       CHECK:   %[[E:.+]] = tensor.empty(%[[D0]]) : tensor<?x4xf32>
//       CHECK:   linalg.generic {indexing_maps = [#[[ID:.+]], #[[BC:.+]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
//  CHECK-SAME:     ins(%[[A]], %[[B]] : tensor<?x4xf32>, tensor<4xf32>) outs(%[[E]] : tensor<?x4xf32>)
//       CHECK:     arith.addf
func.func @add_broadcast(%a: tensor<?x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  %0 = onnx.node "Add"(%a, %b) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// Size-1 dims broadcast through a constant index.
// CHECK: #[[MAP:.+]] = affine_map<(d0, d1) -> (0, d1)>
// CHECK-LABEL: func @mul_div_sub_int
//       CHECK:   arith.muli
//       CHECK:   arith.divsi
//       CHECK:   arith.subi
func.func @mul_div_sub_int(%a: tensor<3x4xi64>, %b: tensor<1x4xi64>) -> tensor<3x4xi64> {
  %0 = onnx.node "Mul"(%a, %b) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<3x4xi64>, tensor<1x4xi64>) -> tensor<3x4xi64>
  %1 = onnx.node "Div"(%0, %b) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<3x4xi64>, tensor<1x4xi64>) -> tensor<3x4xi64>
  %2 = onnx.node "Sub"(%1, %a) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<3x4xi64>, tensor<3x4xi64>) -> tensor<3x4xi64>
  return %2 : tensor<3x4xi64>
}

// -----

// CHECK-LABEL: func @erf
//       CHECK:   linalg.generic
//       CHECK:     math.erf
func.func @erf(%a: tensor<2x?xf32>) -> tensor<2x?xf32> {
  %0 = onnx.node "Erf"(%a) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x?xf32>) -> tensor<2x?xf32>
  return %0 : tensor<2x?xf32>
}

// -----

// CHECK-LABEL: func @matmul_2d
//       CHECK:   %[[F:.+]] = linalg.fill
//       CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
//  CHECK-SAME:     ins(%{{.+}}, %{{.+}} : tensor<?x16xf32>, tensor<16x8xf32>) outs(%[[F]] : tensor<?x8xf32>)
//       CHECK:     arith.addf %{{.+}}, %{{.+}} fastmath<reassoc,contract>
func.func @matmul_2d(%a: tensor<?x16xf32>, %b: tensor<16x8xf32>) -> tensor<?x8xf32> {
  %0 = onnx.node "MatMul"(%a, %b) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Batched with a broadcast batch dim and a rank-2 right operand.
// CHECK-DAG: #[[A:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-DAG: #[[B:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (0, d1, d4, d3)>
// CHECK-DAG: #[[C:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func @matmul_batched
//       CHECK:   linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[C]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
//       CHECK:     arith.mulf
//       CHECK:     arith.addf
func.func @matmul_batched(%a: tensor<2x3x5x8xf32>, %b: tensor<1x3x8x4xf32>) -> tensor<2x3x5x4xf32> {
  %0 = onnx.node "MatMul"(%a, %b) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x3x5x8xf32>, tensor<1x3x8x4xf32>) -> tensor<2x3x5x4xf32>
  return %0 : tensor<2x3x5x4xf32>
}

// -----

// A 1-D right operand drops the N dim (numpy.matmul).
// CHECK-LABEL: func @matmul_vector
//       CHECK:   linalg.generic
//  CHECK-SAME:     outs(%{{.+}} : tensor<3xf32>)
func.func @matmul_vector(%a: tensor<3x8xf32>, %b: tensor<8xf32>) -> tensor<3xf32> {
  %0 = onnx.node "MatMul"(%a, %b) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<3x8xf32>, tensor<8xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// CHECK-LABEL: func @softmax
//       CHECK:   linalg.softmax dimension(1) ins(%{{.+}} : tensor<?x10xf32>)
//       CHECK:   linalg.softmax dimension(1) ins(%{{.+}} : tensor<?x10xf32>)
func.func @softmax(%a: tensor<?x10xf32>) -> tensor<?x10xf32> {
  %0 = onnx.node "Softmax"(%a) attributes {attrs = {axis = -1 : i64}, domain = "", opset = 13 : i64} : (tensor<?x10xf32>) -> tensor<?x10xf32>
  // Opset 11 semantics with the default axis 1 of a rank-2 input.
  %1 = onnx.node "Softmax"(%0) attributes {attrs = {}, domain = "", opset = 11 : i64} : (tensor<?x10xf32>) -> tensor<?x10xf32>
  return %1 : tensor<?x10xf32>
}

// -----

// CHECK-LABEL: func @transpose
//       CHECK:   %[[E:.+]] = tensor.empty() : tensor<4x2x3xf32>
//       CHECK:   linalg.transpose ins(%{{.+}} : tensor<2x3x4xf32>) outs(%[[E]] : tensor<4x2x3xf32>) permutation = [2, 0, 1]
//       CHECK:   linalg.transpose {{.*}} permutation = [2, 1, 0]
func.func @transpose(%a: tensor<2x3x4xf32>) -> tensor<3x2x4xf32> {
  %0 = onnx.node "Transpose"(%a) attributes {attrs = {perm = array<i64: 2, 0, 1>}, domain = "", opset = 13 : i64} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = onnx.node "Transpose"(%0) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x2x3xf32>) -> tensor<3x2x4xf32>
  return %1 : tensor<3x2x4xf32>
}

// -----

// 0 copies a (dynamic) input dim, -1 is inferred at run time.
// CHECK-LABEL: func @reshape_dynamic
//  CHECK-SAME:   %[[X:.+]]: tensor<?x4x6xf32>
//       CHECK:   %[[D0:.+]] = tensor.dim %[[X]], %{{.+}}
//       CHECK:   %[[N:.+]] = arith.divui
//       CHECK:   %[[S:.+]] = tensor.from_elements %[[D0]], %[[N]], %{{.+}} : tensor<3xindex>
//       CHECK:   tensor.reshape %[[X]](%[[S]]) : (tensor<?x4x6xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
func.func @reshape_dynamic(%x: tensor<?x4x6xf32>) -> tensor<?x?x8xf32> {
  %shape = arith.constant dense<[0, -1, 8]> : tensor<3xi64>
  %0 = onnx.node "Reshape"(%x, %shape) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<?x4x6xf32>, tensor<3xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// A static reshape through a Constant node; the result type is the node's.
// CHECK-LABEL: func @reshape_static
//       CHECK:   %[[S:.+]] = arith.constant dense<[6, 4]> : tensor<2xindex>
//       CHECK:   tensor.reshape %{{.+}}(%[[S]]) : (tensor<2x3x4xf32>, tensor<2xindex>) -> tensor<6x4xf32>
func.func @reshape_static(%x: tensor<2x3x4xf32>) -> tensor<6x4xf32> {
  %shape = onnx.node "Constant"() attributes {attrs = {value = dense<[-1, 4]> : tensor<2xi64>}, domain = "", opset = 17 : i64} : () -> tensor<2xi64>
  %0 = onnx.node "Reshape"(%x, %shape) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<6x4xf32>
  return %0 : tensor<6x4xf32>
}

// -----

// Unsigned constants keep their type (loom-erase-signedness drops it later).
// CHECK-LABEL: func @constants
//       CHECK:   arith.constant dense<2.500000e+00> : tensor<f32>
//       CHECK:   arith.constant dense<[1, 2]> : tensor<2xi64>
//       CHECK:   arith.constant dense<[200, 7]> : tensor<2xui8>
func.func @constants() -> (tensor<f32>, tensor<2xi64>, tensor<2xui8>) {
  %0 = onnx.node "Constant"() attributes {attrs = {value_float = 2.5 : f32}, domain = "", opset = 17 : i64} : () -> tensor<f32>
  %1 = onnx.node "Constant"() attributes {attrs = {value_ints = array<i64: 1, 2>}, domain = "", opset = 17 : i64} : () -> tensor<2xi64>
  %2 = onnx.node "Constant"() attributes {attrs = {value = dense<[200, 7]> : tensor<2xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2xui8>
  return %0, %1, %2 : tensor<f32>, tensor<2xi64>, tensor<2xui8>
}

// -----

// Unused Mean/InvStdDev outputs are dropped.
// CHECK-LABEL: func @layer_norm
//  CHECK-SAME:   %[[X:.+]]: tensor<?x8x16xf32>, %[[G:.+]]: tensor<16xf32>, %[[B:.+]]: tensor<16xf32>
//       CHECK:   %[[Y:.+]] = loom.layer_norm %[[X]], %[[G]] bias %[[B]] {epsilon = 9.99999997E-7 : f32} : (tensor<?x8x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x8x16xf32>
//       CHECK:   return %[[Y]]
func.func @layer_norm(%x: tensor<?x8x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<?x8x16xf32> {
  %0:3 = onnx.node "LayerNormalization"(%x, %g, %b) attributes {attrs = {axis = -1 : i64, epsilon = 1.0e-6 : f32}, domain = "", opset = 17 : i64} : (tensor<?x8x16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<?x8x16xf32>, tensor<?x8x1xf32>, tensor<?x8x1xf32>)
  return %0#0 : tensor<?x8x16xf32>
}

// -----

// A handler computing a more static type than the node's inserts a cast.
// CHECK-LABEL: func @cast_to_node_type
//       CHECK:   %[[T:.+]] = linalg.transpose
//       CHECK:   tensor.cast %[[T]] : tensor<3x2xf32> to tensor<?x?xf32>
func.func @cast_to_node_type(%a: tensor<2x3xf32>) -> tensor<?x?xf32> {
  %0 = onnx.node "Transpose"(%a) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<2x3xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// Unsigned operands compute on signless integers (divui) between bitcasts.
// CHECK-LABEL: func @unsigned_div
//       CHECK:   tensor.bitcast %{{.+}} : tensor<4xui8> to tensor<4xi8>
//       CHECK:     arith.divui
//       CHECK:   tensor.bitcast %{{.+}} : tensor<4xi8> to tensor<4xui8>
func.func @unsigned_div(%a: tensor<4xui8>) -> tensor<4xui8> {
  %0 = onnx.node "Div"(%a, %a) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
  return %0 : tensor<4xui8>
}

// -----

// Comparisons give i1; Where selects; Cast converts.
// CHECK-LABEL: func @compare_where_cast
//       CHECK:     arith.cmpf olt
//       CHECK:     arith.select
//       CHECK:     arith.fptosi %{{.+}} : f32 to i64
func.func @compare_where_cast(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xi64> {
  %c = onnx.node "Less"(%a, %b) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %w = onnx.node "Where"(%c, %a, %b) attributes {attrs = {}, domain = "", opset = 16 : i64} : (tensor<4xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %i = onnx.node "Cast"(%w) attributes {attrs = {to = 7 : i64}, domain = "", opset = 13 : i64} : (tensor<4xf32>) -> tensor<4xi64>
  return %i : tensor<4xi64>
}

// -----

// Reductions keep reduced dims as size 1, then drop them without keepdims.
// CHECK-LABEL: func @reduce_mean
//       CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
//       CHECK:     arith.addf
//       CHECK:     arith.divf
//       CHECK:   tensor.collapse_shape %{{.+}} {{\[\[}}0, 1]] : tensor<3x1xf32> into tensor<3xf32>
func.func @reduce_mean(%a: tensor<3x5xf32>) -> tensor<3xf32> {
  %0 = onnx.node "ReduceMean"(%a) attributes {attrs = {axes = array<i64: 1>, keepdims = 0 : i64}, domain = "", opset = 13 : i64} : (tensor<3x5xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// Gather reads data with tensor.extract at a wrapped index; a reduction over
// the run-time indices checks their range and becomes the function's status
// result (0, or the number of the failed check in loom.runtime_checks).
// CHECK: module attributes {loom.runtime_checks = ["Gather at node '<unknown>': an index is out of range for axis 0"]}
// CHECK-LABEL: func @gather
//  CHECK-SAME:   -> (tensor<2x3x8xf32>, tensor<i32> {loom.status})
//       CHECK:   %[[OOB:.+]] = linalg.generic
//  CHECK-SAME:     iterator_types = ["reduction", "reduction"]
//  CHECK-SAME:     ins(%{{.+}} : tensor<2x3xi64>) outs(%{{.+}} : tensor<i1>)
//       CHECK:     arith.cmpi slt
//       CHECK:     arith.cmpi sge
//       CHECK:   %[[Y:.+]] = linalg.generic
//  CHECK-SAME:     ins(%{{.+}} : tensor<2x3xi64>) outs(%{{.+}} : tensor<2x3x8xf32>)
//       CHECK:     arith.select
//       CHECK:     tensor.extract
//       CHECK:   %[[F:.+]] = tensor.extract %[[OOB]][]
//       CHECK:   %[[S:.+]] = arith.select %[[F]], %c1_i32, %c0_i32
//       CHECK:   %[[ST:.+]] = tensor.from_elements %[[S]] : tensor<i32>
//       CHECK:   return %[[Y]], %[[ST]]
func.func @gather(%data: tensor<10x8xf32>, %idx: tensor<2x3xi64>) -> tensor<2x3x8xf32> {
  %0 = onnx.node "Gather"(%data, %idx) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 13 : i64} : (tensor<10x8xf32>, tensor<2x3xi64>) -> tensor<2x3x8xf32>
  return %0 : tensor<2x3x8xf32>
}

// -----

// Slice with positive constant steps: a strided view (tensor.extract_slice),
// not an element-by-element read; the start is clamped to the dim at run time.
// CHECK-LABEL: func @slice_forward
//   CHECK-NOT:   linalg.generic
//       CHECK:   tensor.extract_slice %arg0[0, %{{.+}}] [%{{.+}}, 8] [1, 2] : tensor<?x20xf32> to tensor<?x8xf32>
func.func @slice_forward(%x: tensor<?x20xf32>) -> tensor<?x8xf32> {
  %s = arith.constant dense<[3]> : tensor<1xi64>
  %e = arith.constant dense<[19]> : tensor<1xi64>
  %a = arith.constant dense<[1]> : tensor<1xi64>
  %st = arith.constant dense<[2]> : tensor<1xi64>
  %0 = onnx.node "Slice"(%x, %s, %e, %a, %st) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<?x20xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Slice with a negative step: out[i] = in[9 - 2 i].
// CHECK-LABEL: func @slice_reverse
//       CHECK:   tensor.empty() : tensor<5xf32>
//       CHECK:     %[[I:.+]] = linalg.index 0
//       CHECK:     arith.muli %[[I]], %{{.+}}
//       CHECK:     tensor.extract
func.func @slice_reverse(%x: tensor<10xf32>) -> tensor<5xf32> {
  %s = arith.constant dense<[-1]> : tensor<1xi64>
  %e = arith.constant dense<[-11]> : tensor<1xi64>
  %a = arith.constant dense<[0]> : tensor<1xi64>
  %st = arith.constant dense<[-2]> : tensor<1xi64>
  %0 = onnx.node "Slice"(%x, %s, %e, %a, %st) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<10xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

// Shape arithmetic with dynamic dims: Shape -> Concat -> Reshape at run time.
// CHECK-LABEL: func @shape_reshape
//       CHECK:   tensor.dim
//       CHECK:   tensor.from_elements %{{.+}} : tensor<1xi64>
//       CHECK:   tensor.insert_slice
//       CHECK:   tensor.extract
//       CHECK:   tensor.reshape
func.func @shape_reshape(%x: tensor<?x6xf32>) -> tensor<?x2x3xf32> {
  %s = onnx.node "Shape"(%x) attributes {attrs = {end = 1 : i64}, domain = "", opset = 15 : i64} : (tensor<?x6xf32>) -> tensor<1xi64>
  %t = arith.constant dense<[2, 3]> : tensor<2xi64>
  %c = onnx.node "Concat"(%s, %t) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 13 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
  %r = onnx.node "Reshape"(%x, %c) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<?x6xf32>, tensor<3xi64>) -> tensor<?x2x3xf32>
  return %r : tensor<?x2x3xf32>
}

// -----

// LayerNormalization with its Mean and InvStdDev outputs.
// CHECK-LABEL: func @layer_norm_stats
//       CHECK:   loom.layer_norm
//       CHECK:   linalg.generic
//       CHECK:     math.rsqrt
//       CHECK:   return %{{.+}}, %{{.+}}, %{{.+}} : tensor<3x4xf32>, tensor<3x1xf32>, tensor<3x1xf32>
func.func @layer_norm_stats(%x: tensor<3x4xf32>, %g: tensor<4xf32>) -> (tensor<3x4xf32>, tensor<3x1xf32>, tensor<3x1xf32>) {
  %0:3 = onnx.node "LayerNormalization"(%x, %g) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<3x4xf32>, tensor<4xf32>) -> (tensor<3x4xf32>, tensor<3x1xf32>, tensor<3x1xf32>)
  return %0#0, %0#1, %0#2 : tensor<3x4xf32>, tensor<3x1xf32>, tensor<3x1xf32>
}

// -----

// CumSum with a run-time axis switches among the rank's variants; each is a
// loop along its axis carrying the running sum (linear time), inside an
// scf.forall over the dims before the axis.
// CHECK-LABEL: func @cumsum_runtime_axis
//       CHECK:   scf.index_switch
//       CHECK:   case 0 {
//       CHECK:     scf.for %[[T:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[ACC:.+]] = %{{.+}}, %[[OUT:.+]] = %{{.+}}) -> (tensor<3xf32>, tensor<2x3xf32>)
//       CHECK:       %[[ROW:.+]] = tensor.extract_slice %arg0[%[[T]], 0] [1, 3]
//       CHECK:       %[[NEXT:.+]] = linalg.generic {{.*}} iterator_types = ["parallel"]{{.*}} ins(%[[ACC]], %[[ROW]] :
//       CHECK:       tensor.insert_slice %[[NEXT]] into %[[OUT]][%[[T]], 0] [1, 3]
//       CHECK:   case 1 {
//       CHECK:     scf.forall (%[[I:.+]]) in (2) shared_outs(%[[ALL:.+]] = %{{.+}}) -> (tensor<2x3xf32>)
//       CHECK:       %[[LINE:.+]] = tensor.extract_slice %arg0[%[[I]], 0] [1, 3] [1, 1] : tensor<2x3xf32> to tensor<3xf32>
//       CHECK:       %[[SUMS:.+]]:2 = scf.for {{.*}} -> (tensor<f32>, tensor<3xf32>)
//       CHECK:         tensor.extract_slice %[[LINE]]
//       CHECK:       tensor.parallel_insert_slice %[[SUMS]]#1 into %[[ALL]][%[[I]], 0] [1, 3]
//       CHECK:   default {
func.func @cumsum_runtime_axis(%x: tensor<2x3xf32>, %a: tensor<i32>) -> tensor<2x3xf32> {
  %0 = onnx.node "CumSum"(%x, %a) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<2x3xf32>, tensor<i32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Einsum: output letters are parallel loops, the others reductions.
// CHECK-DAG: #[[A:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[B:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-LABEL: func @einsum_bmm
//       CHECK:   linalg.generic {indexing_maps = [#[[A]], #[[B]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
func.func @einsum_bmm(%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>) -> tensor<2x3x5xf32> {
  %0 = onnx.node "Einsum"(%a, %b) attributes {attrs = {equation = "bij,bjk->bik"}, domain = "", opset = 12 : i64} : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
  return %0 : tensor<2x3x5xf32>
}

// -----

// If becomes scf.if; the branch bodies are legalized in place and read outer
// values directly.
// CHECK-LABEL: func @if_branches
//  CHECK-SAME:   (%[[C:.+]]: tensor<i1>, %[[X:.+]]: tensor<3xf32>)
//       CHECK:   %[[B:.+]] = tensor.extract %[[C]][]
//       CHECK:   scf.if %[[B]] -> (tensor<3xf32>) {
//       CHECK:     linalg.generic {{.*}} ins(%[[X]], %[[X]] :
//       CHECK:       arith.addf
//       CHECK:     scf.yield
//       CHECK:   } else {
//       CHECK:       arith.mulf
//   CHECK-NOT:   onnx.
func.func @if_branches(%c: tensor<i1>, %x: tensor<3xf32>) -> tensor<3xf32> {
  %y = onnx.node "If"(%c) attributes {attrs = {}, domain = "", opset = 17 : i64, subgraphs = ["else_branch", "then_branch"]} {
    %m = onnx.node "Mul"(%x, %x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    onnx.yield %m : tensor<3xf32>
  }, {
    %a = onnx.node "Add"(%x, %x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    onnx.yield %a : tensor<3xf32>
  } : (tensor<i1>) -> tensor<3xf32>
  return %y : tensor<3xf32>
}

// -----

// ScatterElements loops over the indices, inserting into a carried tensor.
// CHECK-LABEL: func @scatter
//       CHECK:   scf.for {{.*}} iter_args(%{{.+}} = %{{.+}}) -> (tensor<3x3xf32>)
//       CHECK:     scf.for
//       CHECK:       tensor.extract
//       CHECK:       tensor.insert
func.func @scatter(%d: tensor<3x3xf32>, %i: tensor<2x3xi64>, %u: tensor<2x3xf32>) -> tensor<3x3xf32> {
  %0 = onnx.node "ScatterElements"(%d, %i, %u) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 16 : i64} : (tensor<3x3xf32>, tensor<2x3xi64>, tensor<2x3xf32>) -> tensor<3x3xf32>
  return %0 : tensor<3x3xf32>
}

// -----

// Run-time axes: one case per set of axes that gives the node's type.
// CHECK-LABEL: func @reduce_runtime_axes
//       CHECK:   arith.shli
//       CHECK:   scf.index_switch %{{.+}} -> tensor<?x?xf32>
//       CHECK:   case 1 {
//       CHECK:   case 2 {
//   CHECK-NOT:   case 3 {
//       CHECK:   default {
func.func @reduce_runtime_axes(%x: tensor<3x4xf32>, %a: tensor<1xi64>) -> tensor<?x?xf32> {
  %0 = onnx.node "ReduceSum"(%x, %a) attributes {attrs = {keepdims = 1 : i64}, domain = "", opset = 13 : i64} : (tensor<3x4xf32>, tensor<1xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// Unsqueeze with run-time axes computes every output dim.
// CHECK-LABEL: func @unsqueeze_runtime_axes
//       CHECK:   tensor.extract
//       CHECK:   tensor.dim %{{.+}}, %{{.+}} : tensor<3x4xf32>
//       CHECK:   tensor.reshape {{.*}} -> tensor<?x?x?xf32>
func.func @unsqueeze_runtime_axes(%x: tensor<3x4xf32>, %a: tensor<1xi64>) -> tensor<?x?x?xf32> {
  %0 = onnx.node "Unsqueeze"(%x, %a) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<3x4xf32>, tensor<1xi64>) -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

// -----

// Shape arithmetic on static shapes folds at compile time: the Reshape sees
// a constant shape.
// CHECK-LABEL: func @fold_shape_chain
//   CHECK-NOT:   tensor.dim
//   CHECK-NOT:   tensor.from_elements
//       CHECK:   %[[S:.+]] = arith.constant dense<[2, 12]> : tensor<2xindex>
//       CHECK:   tensor.reshape %{{.+}}(%[[S]]) : (tensor<2x3x4xf32>, tensor<2xindex>) -> tensor<2x12xf32>
func.func @fold_shape_chain(%x: tensor<2x3x4xf32>) -> tensor<2x12xf32> {
  %s = onnx.node "Shape"(%x) attributes {attrs = {}, domain = "", opset = 15 : i64} : (tensor<2x3x4xf32>) -> tensor<3xi64>
  %i = arith.constant dense<0> : tensor<i64>
  %b = onnx.node "Gather"(%s, %i) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 13 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %ax = arith.constant dense<[0]> : tensor<1xi64>
  %u = onnx.node "Unsqueeze"(%b, %ax) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %m = arith.constant dense<[-1]> : tensor<1xi64>
  %c = onnx.node "Concat"(%u, %m) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 13 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %r = onnx.node "Reshape"(%x, %c) attributes {attrs = {}, domain = "", opset = 14 : i64} : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<2x12xf32>
  return %r : tensor<2x12xf32>
}

// -----

// Split sizes known at run time: offsets are their running sums.
// CHECK-LABEL: func @split_runtime_sizes
//       CHECK:   tensor.extract_slice %{{.+}}[%{{.+}}] [%{{.+}}] [1]
//       CHECK:   %[[OFF:.+]] = arith.addi
//       CHECK:   tensor.extract_slice %{{.+}}[%[[OFF]]] [%{{.+}}] [1]
func.func @split_runtime_sizes(%x: tensor<6xf32>, %s: tensor<2xi64>) -> (tensor<?xf32>, tensor<?xf32>) {
  %0:2 = onnx.node "Split"(%x, %s) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 13 : i64} : (tensor<6xf32>, tensor<2xi64>) -> (tensor<?xf32>, tensor<?xf32>)
  return %0#0, %0#1 : tensor<?xf32>, tensor<?xf32>
}

// -----

// TopK: ranks by counting the elements that beat each one, then gathers by
// rank.
// CHECK-LABEL: func @topk
//       CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
//       CHECK:     arith.cmpf ogt
//       CHECK:   linalg.generic {{.*}} outs(%{{.+}}, %{{.+}} : tensor<3x2xf32>, tensor<3x2xi64>)
//       CHECK:     arith.select
func.func @topk(%x: tensor<3x5xf32>) -> (tensor<3x2xf32>, tensor<3x2xi64>) {
  %k = arith.constant dense<2> : tensor<1xi64>
  %0:2 = onnx.node "TopK"(%x, %k) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 11 : i64} : (tensor<3x5xf32>, tensor<1xi64>) -> (tensor<3x2xf32>, tensor<3x2xi64>)
  return %0#0, %0#1 : tensor<3x2xf32>, tensor<3x2xi64>
}

// -----

// Loop with a trip count: scf.while over (i, cond, carried..., scan
// outputs...); the scan output grows by one row per iteration.
// CHECK-LABEL: func @loop_scan_output
//  CHECK-SAME:   (%[[N:.+]]: tensor<i64>, %[[X:.+]]: tensor<2xf32>)
//       CHECK:   %[[INIT:.+]] = tensor.cast %{{.+}} : tensor<0x2xf32> to tensor<?x2xf32>
//       CHECK:   %[[W:.+]]:4 = scf.while (%[[I:.+]] = %{{.+}}, %[[C:.+]] = %true, %[[V:.+]] = %[[X]], %[[S:.+]] = %[[INIT]])
//       CHECK:     %[[M:.+]] = tensor.extract %[[N]][]
//       CHECK:     arith.cmpi slt
//       CHECK:     scf.condition
//       CHECK:   } do {
//       CHECK:     linalg.generic
//       CHECK:       arith.addf
//       CHECK:     tensor.insert_slice
//       CHECK:     tensor.insert_slice
//       CHECK:     scf.yield
//       CHECK:   return %[[W]]#2, %[[W]]#3
//   CHECK-NOT:   onnx.
func.func @loop_scan_output(%n: tensor<i64>, %x: tensor<2xf32>) -> (tensor<2xf32>, tensor<?x2xf32>) {
  %none = onnx.none
  %y:2 = onnx.node "Loop"(%n, %none, %x) attributes {attrs = {}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%i: tensor<i64>, %c: tensor<i1>, %v: tensor<2xf32>):
    %a = onnx.node "Add"(%v, %v) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    onnx.yield %c, %a, %a : tensor<i1>, tensor<2xf32>, tensor<2xf32>
  } : (tensor<i64>, none, tensor<2xf32>) -> (tensor<2xf32>, tensor<?x2xf32>)
  return %y#0, %y#1 : tensor<2xf32>, tensor<?x2xf32>
}

// -----

// Scan: a counted loop that slices the scan input (reversed here) and stacks
// the scan output.
// CHECK-LABEL: func @scan
//  CHECK-SAME:   (%[[S0:.+]]: tensor<2xf32>, %[[X:.+]]: tensor<3x2xf32>)
//       CHECK:   %[[LEN:.+]] = tensor.dim %[[X]], %c0
//       CHECK:   %[[LAST:.+]] = arith.subi %[[LEN]], %c1
//       CHECK:   scf.while (%[[I:.+]] = %{{.+}}, %{{.+}} = %[[S0]], %{{.+}} = %{{.+}})
//       CHECK:     arith.cmpi slt, %{{.+}}, %[[LEN]]
//       CHECK:   } do {
//       CHECK:     %[[R:.+]] = arith.subi %[[LAST]], %{{.+}}
//       CHECK:     tensor.extract_slice %[[X]][%[[R]], 0] [1, 2] [1, 1] : tensor<3x2xf32> to tensor<2xf32>
//       CHECK:     arith.addf
//       CHECK:     tensor.insert_slice
//   CHECK-NOT:   onnx.
func.func @scan(%s: tensor<2xf32>, %x: tensor<3x2xf32>) -> (tensor<2xf32>, tensor<3x2xf32>) {
  %y:2 = onnx.node "Scan"(%s, %x) attributes {attrs = {num_scan_inputs = 1 : i64, scan_input_directions = array<i64: 1>}, domain = "", opset = 17 : i64, subgraphs = ["body"]} {
  ^bb0(%acc: tensor<2xf32>, %e: tensor<2xf32>):
    %a = onnx.node "Add"(%acc, %e) attributes {attrs = {}, domain = "", opset = 17 : i64} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    onnx.yield %a, %a : tensor<2xf32>, tensor<2xf32>
  } : (tensor<2xf32>, tensor<3x2xf32>) -> (tensor<2xf32>, tensor<3x2xf32>)
  return %y#0, %y#1 : tensor<2xf32>, tensor<3x2xf32>
}

// -----

// Sequences are three tensors: data (1-D), shapes ((n + 1) x rank, a zero
// sentinel row last) and offsets (n + 1); the element rank of an empty
// sequence comes from the tensors inserted into it.
// CHECK-LABEL: func @sequence
//       CHECK:   %[[DATA:.+]] = tensor.empty(%c0) : tensor<?xf32>
//       CHECK:   arith.constant dense<0> : tensor<1x1xi64>
//       CHECK:   arith.constant dense<0> : tensor<1xi64>
//       CHECK:   tensor.collapse_shape
//       CHECK:   tensor.insert_slice
//       CHECK:   scf.while
//       CHECK:   tensor.from_elements %{{.+}} : tensor<i64>
//       CHECK:   linalg.generic
//       CHECK:     tensor.extract
//   CHECK-NOT:   onnx.
//   CHECK-NOT:   unrealized_conversion_cast
func.func @sequence(%x: tensor<3xf32>, %p: tensor<i64>) -> (tensor<?xf32>, tensor<i64>, tensor<?xf32>) {
  %e = onnx.node "SequenceEmpty"() attributes {attrs = {dtype = 1 : i64}, domain = "", opset = 17 : i64} : () -> !onnx.seq<tensor<*xf32>>
  %s1 = onnx.node "SequenceInsert"(%e, %x) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>, tensor<3xf32>) -> !onnx.seq<tensor<*xf32>>
  %s2 = onnx.node "SequenceInsert"(%s1, %x, %p) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>, tensor<3xf32>, tensor<i64>) -> !onnx.seq<tensor<*xf32>>
  %c = onnx.node "ConcatFromSequence"(%s2) attributes {attrs = {axis = 0 : i64}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>) -> tensor<?xf32>
  %n = onnx.node "SequenceLength"(%s2) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>) -> tensor<i64>
  %a = onnx.node "SequenceAt"(%s2, %p) attributes {attrs = {}, domain = "", opset = 17 : i64} : (!onnx.seq<tensor<*xf32>>, tensor<i64>) -> tensor<?xf32>
  return %c, %n, %a : tensor<?xf32>, tensor<i64>, tensor<?xf32>
}

// -----

// Slice with run-time axes and steps: per dim, the (start, step, size) of the
// entry whose axis matches is selected; both step signs are computed.
// CHECK-LABEL: func @slice_runtime_axes_steps
//  CHECK-SAME:   (%[[X:.+]]: tensor<4x6xf32>, %[[S:.+]]: tensor<1xi64>, %[[E:.+]]: tensor<1xi64>, %[[A:.+]]: tensor<1xi64>, %[[P:.+]]: tensor<1xi64>)
//       CHECK:   tensor.extract %[[A]]
//       CHECK:   tensor.extract %[[P]]
//       CHECK:   arith.cmpi sgt
//       CHECK:   arith.select
//       CHECK:   linalg.generic
//       CHECK:     arith.muli
//       CHECK:     tensor.extract %[[X]]
//   CHECK-NOT:   onnx.
func.func @slice_runtime_axes_steps(%x: tensor<4x6xf32>, %s: tensor<1xi64>, %e: tensor<1xi64>, %a: tensor<1xi64>, %p: tensor<1xi64>) -> tensor<?x?xf32> {
  %0 = onnx.node "Slice"(%x, %s, %e, %a, %p) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4x6xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// Conv (group 1): an im2col gather cols[n, oh, ow, c, kh, kw] =
// x[n, c, oh*2 + kh, ow*2 + kw], then a contraction of cols with the weight
// over (c, kh, kw), then the bias.
// CHECK-DAG: #[[GATHER:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d1 * 2 + d4, d2 * 2 + d5)>
// CHECK-DAG: #[[COLS:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d2, d3, d4, d5, d6)>
// CHECK-DAG: #[[W:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d4, d5, d6)>
// CHECK-LABEL: func @conv_patches
//       CHECK:   %[[C:.+]] = linalg.generic {indexing_maps = [#[[GATHER]], #{{.+}}]
//  CHECK-SAME:     ins(%arg0 : tensor<1x3x8x8xf32>) outs(%{{.+}} : tensor<1x4x4x3x2x2xf32>)
//       CHECK:   linalg.generic {indexing_maps = [#[[COLS]], #[[W]], #{{.+}}]
//  CHECK-SAME:     ins(%[[C]], %arg1 : tensor<1x4x4x3x2x2xf32>, tensor<5x3x2x2xf32>)
//       CHECK:     arith.mulf
//       CHECK:   arith.addf
func.func @conv_patches(%x: tensor<1x3x8x8xf32>, %w: tensor<5x3x2x2xf32>, %b: tensor<5xf32>) -> tensor<1x5x4x4xf32> {
  %0 = onnx.node "Conv"(%x, %w, %b) attributes {attrs = {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>}, domain = "", opset = 11 : i64} : (tensor<1x3x8x8xf32>, tensor<5x3x2x2xf32>, tensor<5xf32>) -> tensor<1x5x4x4xf32>
  return %0 : tensor<1x5x4x4xf32>
}

// -----

// A grouped Conv stays one contraction over the input windows.
// CHECK-LABEL: func @conv_grouped
//       CHECK:   linalg.fill
//  CHECK-NEXT:   linalg.generic
//  CHECK-SAME:     ins(%arg0, %arg1 : tensor<1x4x6x6xf32>, tensor<4x2x3x3xf32>)
func.func @conv_grouped(%x: tensor<1x4x6x6xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x4x4xf32> {
  %0 = onnx.node "Conv"(%x, %w) attributes {attrs = {kernel_shape = array<i64: 3, 3>, group = 2 : i64}, domain = "", opset = 11 : i64} : (tensor<1x4x6x6xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x4x4xf32>
  return %0 : tensor<1x4x4x4xf32>
}

// -----

// A causal depthwise Conv1d over a dynamic length (Mamba's): the padded
// length L + 3, the output length (L + 3 - 4) floordiv 2 + 1, at least 0.
// CHECK-LABEL: func @conv_dynamic_length
//       CHECK:   %[[PAD:.+]] = tensor.pad %arg0 low[0, 0, 3] high[0, 0, 3]
//       CHECK:   %[[L:.+]] = tensor.dim %[[PAD]], %c2
//       CHECK:   %[[S:.+]] = arith.subi %[[L]], %c4
//       CHECK:   %[[D:.+]] = arith.floordivsi %[[S]], %c2
//       CHECK:   %[[O:.+]] = arith.addi %[[D]], %c1
//       CHECK:   %[[N:.+]] = arith.maxsi %[[O]], %c0
//       CHECK:   tensor.empty(%[[N]]) : tensor<2x6x?xf32>
func.func @conv_dynamic_length(%x: tensor<2x6x?xf32>, %w: tensor<6x1x4xf32>) -> tensor<2x6x?xf32> {
  %0 = onnx.node "Conv"(%x, %w) attributes {attrs = {kernel_shape = array<i64: 4>, group = 6 : i64, pads = array<i64: 3, 3>, strides = array<i64: 2>}, domain = "", opset = 11 : i64} : (tensor<2x6x?xf32>, tensor<6x1x4xf32>) -> tensor<2x6x?xf32>
  return %0 : tensor<2x6x?xf32>
}

// -----

// The same conv of a [B, T, C] tensor transposed to [B, C, T] (as torch
// exports Mamba's x.transpose(1, 2) -> Conv1d): padded along T of the
// untransposed tensor, the taps over (b, t, c, k) with the weight as
// [1, K, C] and the bias along channels, one transpose to Conv's layout at
// the end.
// CHECK-DAG: #[[IN:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 * 2 + d3, d2)>
// CHECK-DAG: #[[W:.+]] = affine_map<(d0, d1, d2, d3) -> (0, d3, d2)>
// CHECK-LABEL: func @conv_channels_last
//       CHECK:   %[[PAD:.+]] = tensor.pad %arg0 low[0, 3, 0] high[0, 3, 0]
//       CHECK:   %[[WT:.+]] = linalg.transpose ins(%arg1 : tensor<6x1x4xf32>) outs(%{{.+}} : tensor<1x4x6xf32>) permutation = [1, 2, 0]
//       CHECK:   %[[C:.+]] = linalg.generic {indexing_maps = [#[[IN]], #[[W]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[PAD]], %[[WT]] : tensor<2x?x6xf32>, tensor<1x4x6xf32>) outs(%{{.+}} : tensor<2x?x6xf32>)
//       CHECK:   %[[B:.+]] = linalg.generic {{.*}} ins(%[[C]], %arg2 : tensor<2x?x6xf32>, tensor<6xf32>)
//       CHECK:   linalg.transpose ins(%[[B]] : tensor<2x?x6xf32>) outs(%{{.+}} : tensor<2x6x?xf32>) permutation = [0, 2, 1]
//   CHECK-NOT:   tensor.pad
func.func @conv_channels_last(%x: tensor<2x?x6xf32>, %w: tensor<6x1x4xf32>, %b: tensor<6xf32>) -> tensor<2x6x?xf32> {
  %0 = onnx.node "Transpose"(%x) attributes {attrs = {perm = array<i64: 0, 2, 1>}, domain = "", opset = 13 : i64} : (tensor<2x?x6xf32>) -> tensor<2x6x?xf32>
  %1 = onnx.node "Conv"(%0, %w, %b) attributes {attrs = {kernel_shape = array<i64: 4>, group = 6 : i64, pads = array<i64: 3, 3>, strides = array<i64: 2>}, domain = "", opset = 11 : i64} : (tensor<2x6x?xf32>, tensor<6x1x4xf32>, tensor<6xf32>) -> tensor<2x6x?xf32>
  return %1 : tensor<2x6x?xf32>
}

// -----

// A constant weight [C, 1, K] is transposed at compile time to [1, K, C]
// (w[c, 0, k] = 3c + k + 1 becomes 1 4 2 5 3 6).
// CHECK-LABEL: func @conv_channels_last_constant_weight
//       CHECK:   %[[W:.+]] = arith.constant dense_resource<conv_weight_channels_last> : tensor<1x3x2xf32>
//       CHECK:   linalg.generic {{.*}} ins(%{{.+}}, %[[W]] : tensor<1x?x2xf32>, tensor<1x3x2xf32>)
//       CHECK:   conv_weight_channels_last: "0x040000000000803F00008040000000400000A040000040400000C040"
func.func @conv_channels_last_constant_weight(%x: tensor<1x?x2xf32>) -> tensor<1x2x?xf32> {
  %w = arith.constant dense<[[[1.0, 2.0, 3.0]], [[4.0, 5.0, 6.0]]]> : tensor<2x1x3xf32>
  %0 = onnx.node "Transpose"(%x) attributes {attrs = {perm = array<i64: 0, 2, 1>}, domain = "", opset = 13 : i64} : (tensor<1x?x2xf32>) -> tensor<1x2x?xf32>
  %1 = onnx.node "Conv"(%0, %w) attributes {attrs = {kernel_shape = array<i64: 3>, group = 2 : i64, pads = array<i64: 2, 0>}, domain = "", opset = 11 : i64} : (tensor<1x2x?xf32>, tensor<2x1x3xf32>) -> tensor<1x2x?xf32>
  return %1 : tensor<1x2x?xf32>
}

// -----

// com.microsoft Attention: the fused projection, Q/K/V read from it as
// heads (the split and transpose are one gather map each), loom.attention
// with the [B, S] key mask made additive, the heads merged back.
// CHECK-DAG: #[[K:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1 * 8 + d3 + 32)>
// CHECK-LABEL: func @ms_attention
//       CHECK:   %[[QKV:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %arg1 : tensor<2x5x32xf32>, tensor<32x96xf32>)
//       CHECK:   %[[B:.+]] = linalg.generic {{.*}} ins(%[[QKV]], %arg2
//       CHECK:   %[[KH:.+]] = linalg.generic {indexing_maps = [#[[K]], {{.*}} ins(%[[B]] : tensor<2x5x96xf32>) outs(%{{.+}} : tensor<2x4x5x8xf32>)
//       CHECK:   %[[M:.+]] = linalg.generic {{.*}} ins(%arg3 : tensor<2x5xi32>) outs(%{{.+}} : tensor<2x1x1x5xf32>)
//       CHECK:     arith.cmpi ne
//       CHECK:   loom.attention %{{.+}}, %[[KH]], %{{.+}} mask %[[M]] {causal, scale = 0.353553385 : f32}
//       CHECK:   tensor.collapse_shape %{{.+}} {{\[\[}}0], [1], [2, 3]] : tensor<2x5x4x8xf32> into tensor<2x5x32xf32>
func.func @ms_attention(%x: tensor<2x5x32xf32>, %w: tensor<32x96xf32>, %b: tensor<96xf32>, %mask: tensor<2x5xi32>) -> tensor<2x5x32xf32> {
  %0 = onnx.node "Attention"(%x, %w, %b, %mask) attributes {attrs = {num_heads = 4 : i64, unidirectional = 1 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<2x5x32xf32>, tensor<32x96xf32>, tensor<96xf32>, tensor<2x5xi32>) -> tensor<2x5x32xf32> loc("att")
  return %0 : tensor<2x5x32xf32>
}

// -----

// com.microsoft MatMulNBits (K 32, N 2, blocks of 16): B [N, 2 blocks, 8
// bytes] transposed to loom's [K/2, N] bytes (column 0's bytes 00..0F,
// column 1's 10..1F: rows 00 10, 01 11, ...), the fp32 scales [N x 2]
// ([1, 2], [3, 4]) and the zero points (one byte per column: 0x21 is block
// 0 -> 1, block 1 -> 2) to [2, N], then the bias added.
// CHECK-LABEL: func @matmul_nbits
//   CHECK-DAG:   %[[W:.+]] = arith.constant dense_resource<matmulnbits{{.*}}> : tensor<16x2xi8>
//   CHECK-DAG:   %[[S:.+]] = arith.constant dense_resource<matmulnbits{{.*}}> : tensor<2x2xf32>
//   CHECK-DAG:   %[[Z:.+]] = arith.constant dense_resource<matmulnbits{{.*}}> : tensor<2x2xi8>
//       CHECK:   %[[Y:.+]] = loom.quantized_matmul %arg0, %[[W]], %[[S]] zero_point %[[Z]] {bits = 4 : i64, group_size = 16 : i64} : (tensor<3x32xf32>, tensor<16x2xi8>, tensor<2x2xf32>, tensor<2x2xi8>) -> tensor<3x2xf32>
//       CHECK:   linalg.generic {{.*}} ins(%[[Y]], %arg1 : tensor<3x2xf32>, tensor<2xf32>)
//       CHECK:     arith.addf
//   CHECK-DAG: matmulnbits{{.*}}: "0x0100000000100111021203130414051506160717081809190A1A0B1B0C1C0D1D0E1E0F1F"
//   CHECK-DAG: matmulnbits{{.*}}: "0x040000000000803F000040400000004000008040"
//   CHECK-DAG: matmulnbits{{.*}}: "0x0100000001030204"
func.func @matmul_nbits(%x: tensor<3x32xf32>, %bias: tensor<2xf32>) -> tensor<3x2xf32> {
  %b = onnx.node "Constant"() attributes {attrs = {value = dense<[[[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]], [[16, 17, 18, 19, 20, 21, 22, 23], [24, 25, 26, 27, 28, 29, 30, 31]]]> : tensor<2x2x8xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2x2x8xui8>
  %s = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %z = onnx.node "Constant"() attributes {attrs = {value = dense<[33, 67]> : tensor<2xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2xui8>
  %none = onnx.none
  %0 = onnx.node "MatMulNBits"(%x, %b, %s, %z, %none, %bias) attributes {attrs = {K = 32 : i64, N = 2 : i64, bits = 4 : i64, block_size = 16 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<3x32xf32>, tensor<2x2x8xui8>, tensor<4xf32>, tensor<2xui8>, none, tensor<2xf32>) -> tensor<3x2xf32> loc("mnb")
  return %0 : tensor<3x2xf32>
}

// -----

// accuracy_level = 4 (ONNX Runtime computes with int8 inputs): W4A8, the
// input quantized per row and block (input_bits = 8); other levels keep
// fp32 inputs.
// CHECK-LABEL: func @matmul_nbits_int8
//       CHECK:   loom.quantized_matmul %arg0, %{{.+}}, %{{.+}} {bits = 4 : i64, group_size = 16 : i64, input_bits = 8 : i64} : (tensor<3x32xf32>
//       CHECK:   loom.quantized_matmul %arg0, %{{.+}}, %{{.+}} {bits = 4 : i64, group_size = 16 : i64} : (tensor<3x32xf32>
func.func @matmul_nbits_int8(%x: tensor<3x32xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>) {
  %b = onnx.node "Constant"() attributes {attrs = {value = dense<7> : tensor<2x2x8xui8>}, domain = "", opset = 17 : i64} : () -> tensor<2x2x8xui8>
  %s = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %0 = onnx.node "MatMulNBits"(%x, %b, %s) attributes {attrs = {K = 32 : i64, N = 2 : i64, bits = 4 : i64, block_size = 16 : i64, accuracy_level = 4 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<3x32xf32>, tensor<2x2x8xui8>, tensor<4xf32>) -> tensor<3x2xf32> loc("mnb4")
  %1 = onnx.node "MatMulNBits"(%x, %b, %s) attributes {attrs = {K = 32 : i64, N = 2 : i64, bits = 4 : i64, block_size = 16 : i64, accuracy_level = 1 : i64}, domain = "com.microsoft", opset = 1 : i64} : (tensor<3x32xf32>, tensor<2x2x8xui8>, tensor<4xf32>) -> tensor<3x2xf32> loc("mnb1")
  return %0, %1 : tensor<3x2xf32>, tensor<3x2xf32>
}

// -----

// QuantizeLinear per axis: the scale and zero point [C] become [C, 1] to
// broadcast along axis 1; round half to even, add the zero point,
// saturate to int8.
// CHECK-LABEL: func @quantize_linear_axis
//       CHECK:   %[[S:.+]] = tensor.expand_shape %arg1 {{\[\[}}0, 1]] output_shape [3, 1] : tensor<3xf32> into tensor<3x1xf32>
//       CHECK:   %[[Z:.+]] = tensor.expand_shape %arg2 {{\[\[}}0, 1]] output_shape [3, 1] : tensor<3xi8> into tensor<3x1xi8>
//       CHECK:   linalg.generic {{.*}} ins(%arg0, %[[S]], %[[Z]] : tensor<1x3x2xf32>, tensor<3x1xf32>, tensor<3x1xi8>)
//       CHECK:     arith.divf
//       CHECK:     math.roundeven
//       CHECK:     arith.sitofp
//       CHECK:     arith.addf
//       CHECK:     arith.constant -1.280000e+02
//       CHECK:     arith.constant 1.270000e+02
//       CHECK:     arith.fptosi {{.*}} : f32 to i8
func.func @quantize_linear_axis(%x: tensor<1x3x2xf32>, %s: tensor<3xf32>, %z: tensor<3xi8>) -> tensor<1x3x2xi8> {
  %0 = onnx.node "QuantizeLinear"(%x, %s, %z) attributes {attrs = {axis = 1 : i64}, domain = "", opset = 13 : i64} : (tensor<1x3x2xf32>, tensor<3xf32>, tensor<3xi8>) -> tensor<1x3x2xi8>
  return %0 : tensor<1x3x2xi8>
}

// -----

// DequantizeLinear of uint8: unsigned conversions, (x - zero) * scale.
// CHECK-LABEL: func @dequantize_linear
//       CHECK:   linalg.generic
//       CHECK:     %[[X:.+]] = arith.uitofp %{{.+}} : i8 to f32
//       CHECK:     %[[Z:.+]] = arith.uitofp %{{.+}} : i8 to f32
//       CHECK:     %[[D:.+]] = arith.subf %[[X]], %[[Z]]
//       CHECK:     arith.mulf %[[D]]
func.func @dequantize_linear(%x: tensor<4xui8>, %s: tensor<f32>, %z: tensor<ui8>) -> tensor<4xf32> {
  %0 = onnx.node "DequantizeLinear"(%x, %s, %z) attributes {attrs = {}, domain = "", opset = 13 : i64} : (tensor<4xui8>, tensor<f32>, tensor<ui8>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// MatMulInteger: both operands widened to int32 minus their zero points,
// then an integer contraction.
// CHECK-LABEL: func @matmul_integer
//       CHECK:   %[[A:.+]] = linalg.generic {{.*}} outs(%{{.+}} : tensor<4x3xi32>)
//       CHECK:     arith.extui
//       CHECK:     arith.subi
//       CHECK:   %[[B:.+]] = linalg.generic {{.*}} outs(%{{.+}} : tensor<3x2xi32>)
//       CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[A]], %[[B]] : tensor<4x3xi32>, tensor<3x2xi32>)
//       CHECK:     arith.muli
//       CHECK:     arith.addi
func.func @matmul_integer(%a: tensor<4x3xui8>, %b: tensor<3x2xui8>, %za: tensor<1xui8>, %zb: tensor<1xui8>) -> tensor<4x2xi32> {
  %0 = onnx.node "MatMulInteger"(%a, %b, %za, %zb) attributes {attrs = {}, domain = "", opset = 10 : i64} : (tensor<4x3xui8>, tensor<3x2xui8>, tensor<1xui8>, tensor<1xui8>) -> tensor<4x2xi32>
  return %0 : tensor<4x2xi32>
}

// -----

// QLinearMatMul: the int32 product requantized in double by
// a_scale * b_scale / y_scale, plus the output zero point, saturated.
// CHECK-LABEL: func @qlinear_matmul
//       CHECK:   %[[ACC:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %{{.+}} : tensor<2x4xi32>, tensor<4x3xi32>)
//       CHECK:   %[[M:.+]] = arith.divf
//       CHECK:   arith.extf %[[M]] : f32 to f64
//       CHECK:   linalg.generic {{.*}} ins(%[[ACC]]
//       CHECK:     arith.sitofp {{.*}} : i32 to f64
//       CHECK:     arith.mulf
//       CHECK:     math.roundeven
//       CHECK:     arith.fptoui {{.*}} : f64 to i8
func.func @qlinear_matmul(%a: tensor<2x4xui8>, %sa: tensor<1xf32>, %za: tensor<1xui8>, %b: tensor<4x3xui8>, %sb: tensor<1xf32>, %zb: tensor<1xui8>, %sy: tensor<1xf32>, %zy: tensor<1xui8>) -> tensor<2x3xui8> {
  %0 = onnx.node "QLinearMatMul"(%a, %sa, %za, %b, %sb, %zb, %sy, %zy) attributes {attrs = {}, domain = "", opset = 10 : i64} : (tensor<2x4xui8>, tensor<1xf32>, tensor<1xui8>, tensor<4x3xui8>, tensor<1xf32>, tensor<1xui8>, tensor<1xf32>, tensor<1xui8>) -> tensor<2x3xui8>
  return %0 : tensor<2x3xui8>
}

// -----

// DynamicQuantizeLinear: the range in one reduction, scale and zero point
// as scalars, then the elementwise quantization; three results.
// CHECK-LABEL: func @dynamic_quantize_linear
//       CHECK:   %[[R:.+]]:2 = linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%arg0 : tensor<6xf32>)
//       CHECK:     arith.minimumf
//       CHECK:     arith.maximumf
//       CHECK:   %[[LO:.+]] = tensor.extract %[[R]]#0
//       CHECK:   %[[HI:.+]] = tensor.extract %[[R]]#1
//       CHECK:   %[[W:.+]] = arith.subf %[[HI]], %[[LO]]
//       CHECK:   %[[S:.+]] = arith.divf %[[W]]
//       CHECK:   linalg.generic {{.*}} ins(%arg0
//       CHECK:   return {{.*}} : tensor<6xui8>, tensor<f32>, tensor<ui8>
func.func @dynamic_quantize_linear(%x: tensor<6xf32>) -> (tensor<6xui8>, tensor<f32>, tensor<ui8>) {
  %0:3 = onnx.node "DynamicQuantizeLinear"(%x) attributes {attrs = {}, domain = "", opset = 11 : i64} : (tensor<6xf32>) -> (tensor<6xui8>, tensor<f32>, tensor<ui8>)
  return %0#0, %0#1, %0#2 : tensor<6xui8>, tensor<f32>, tensor<ui8>
}

// -----

// Round is half to even.
// CHECK-LABEL: func @round
//       CHECK:   math.roundeven
func.func @round(%x: tensor<5xf32>) -> tensor<5xf32> {
  %0 = onnx.node "Round"(%x) attributes {attrs = {}, domain = "", opset = 11 : i64} : (tensor<5xf32>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}
