// RUN: loom-opt %s -split-input-file --loom-simplify-shapes | FileCheck %s

// The legalized form of Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)),
// Unsqueeze(Gather(Shape(x), 1)), [12], [64])) on a strided slice: the
// gathers are rank-0 generics, the concat a chain of inserts, the entries
// pass ONNX's 0 / -1 tests. All of it folds to the source's dims, and the
// reshape becomes a view.
#scalar = affine_map<() -> ()>
// CHECK-LABEL: func @runtime_split
//   CHECK-DAG:   %[[C0:.+]] = arith.constant 0 : index
//   CHECK-DAG:   %[[C1:.+]] = arith.constant 1 : index
//   CHECK-DAG:   %[[D0:.+]] = tensor.dim %arg0, %[[C0]]
//   CHECK-DAG:   %[[D1:.+]] = tensor.dim %arg0, %[[C1]]
//       CHECK:   %[[S:.+]] = tensor.extract_slice %arg0[0, 0, 768] [%[[D0]], %[[D1]], 768] [1, 1, 1]
//       CHECK:   %[[E:.+]] = tensor.expand_shape %[[S]] {{\[}}[0], [1], [2, 3]] output_shape [%[[D0]], %[[D1]], 12, 64] : tensor<?x?x768xf32> into tensor<?x?x12x64xf32>
//       CHECK:   return %[[E]]
//   CHECK-NOT:   linalg.generic
//   CHECK-NOT:   tensor.reshape
func.func @runtime_split(%qkv: tensor<?x?x2304xf32>) -> tensor<?x?x12x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %cm1 = arith.constant -1 : index
  %c768_i64 = arith.constant 768 : i64
  %i0 = arith.constant dense<0> : tensor<i64>
  %i1 = arith.constant dense<1> : tensor<i64>
  %c12 = arith.constant dense<12> : tensor<1xi64>
  %c64 = arith.constant dense<64> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xindex>
  %d0 = tensor.dim %qkv, %c0 : tensor<?x?x2304xf32>
  %d1 = tensor.dim %qkv, %c1 : tensor<?x?x2304xf32>
  %x = tensor.extract_slice %qkv[0, 0, 768] [%d0, %d1, 768] [1, 1, 1] : tensor<?x?x2304xf32> to tensor<?x?x768xf32>
  %n0 = arith.index_cast %d0 : index to i64
  %n1 = arith.index_cast %d1 : index to i64
  %shape = tensor.from_elements %n0, %n1, %c768_i64 : tensor<3xi64>
  %e = tensor.empty() : tensor<i64>
  %g0 = linalg.generic {indexing_maps = [#scalar, #scalar], iterator_types = []} ins(%i0 : tensor<i64>) outs(%e : tensor<i64>) {
  ^bb0(%in: i64, %out: i64):
    %k = arith.index_cast %in : i64 to index
    %v = tensor.extract %shape[%k] : tensor<3xi64>
    linalg.yield %v : i64
  } -> tensor<i64>
  %g1 = linalg.generic {indexing_maps = [#scalar, #scalar], iterator_types = []} ins(%i1 : tensor<i64>) outs(%e : tensor<i64>) {
  ^bb0(%in: i64, %out: i64):
    %k = arith.index_cast %in : i64 to index
    %v = tensor.extract %shape[%k] : tensor<3xi64>
    linalg.yield %v : i64
  } -> tensor<i64>
  %u0 = tensor.reshape %g0(%one) : (tensor<i64>, tensor<1xindex>) -> tensor<1xi64>
  %u1 = tensor.reshape %g1(%one) : (tensor<i64>, tensor<1xindex>) -> tensor<1xi64>
  %empty4 = tensor.empty() : tensor<4xi64>
  %s0 = tensor.insert_slice %u0 into %empty4[0] [1] [1] : tensor<1xi64> into tensor<4xi64>
  %s1 = tensor.insert_slice %u1 into %s0[1] [1] [1] : tensor<1xi64> into tensor<4xi64>
  %s2 = tensor.insert_slice %c12 into %s1[2] [1] [1] : tensor<1xi64> into tensor<4xi64>
  %s3 = tensor.insert_slice %c64 into %s2[3] [1] [1] : tensor<1xi64> into tensor<4xi64>
  %e0 = tensor.extract %s3[%c0] : tensor<4xi64>
  %e1 = tensor.extract %s3[%c1] : tensor<4xi64>
  %e2 = tensor.extract %s3[%c2] : tensor<4xi64>
  %e3 = tensor.extract %s3[%c3] : tensor<4xi64>
  %x0 = arith.index_cast %e0 : i64 to index
  %x1 = arith.index_cast %e1 : i64 to index
  %x2 = arith.index_cast %e2 : i64 to index
  %x3 = arith.index_cast %e3 : i64 to index
  // ONNX: 0 copies the input dim, -1 is inferred (never here).
  %z0 = arith.cmpi eq, %x0, %c0 : index
  %y0 = arith.select %z0, %d0, %x0 : index
  %z1 = arith.cmpi eq, %x1, %c0 : index
  %y1 = arith.select %z1, %d1, %x1 : index
  %m0 = arith.cmpi eq, %y0, %cm1 : index
  %m1 = arith.cmpi eq, %y1, %cm1 : index
  %r0 = arith.select %m0, %c1, %y0 : index
  %r1 = arith.select %m1, %c1, %y1 : index
  %sizes = tensor.from_elements %r0, %r1, %x2, %x3 : tensor<4xindex>
  %r = tensor.reshape %x(%sizes) : (tensor<?x?x768xf32>, tensor<4xindex>) -> tensor<?x?x12x64xf32>
  return %r : tensor<?x?x12x64xf32>
}

// -----

// Merging dims to run-time sizes equal to the source's: a collapse.
// CHECK-LABEL: func @runtime_merge
//       CHECK:   %[[C:.+]] = tensor.collapse_shape %arg0 {{\[}}[0], [1], [2, 3]] : tensor<?x?x12x64xf32> into tensor<?x?x768xf32>
//       CHECK:   return %[[C]]
func.func @runtime_merge(%x: tensor<?x?x12x64xf32>) -> tensor<?x?x768xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c768 = arith.constant 768 : index
  %d0 = tensor.dim %x, %c0 : tensor<?x?x12x64xf32>
  %d1 = tensor.dim %x, %c1 : tensor<?x?x12x64xf32>
  %sizes = tensor.from_elements %d0, %d1, %c768 : tensor<3xindex>
  %r = tensor.reshape %x(%sizes) : (tensor<?x?x12x64xf32>, tensor<3xindex>) -> tensor<?x?x768xf32>
  return %r : tensor<?x?x768xf32>
}

// -----

// Static reshapes: unit dims join their neighbours' groups; a reshape that
// both splits and merges is left alone.
// CHECK-LABEL: func @static_shapes
//       CHECK:   tensor.expand_shape %arg0 {{\[}}[0, 1], [2, 3, 4]] output_shape [1, 6, 4, 8, 1] : tensor<6x32xf32> into tensor<1x6x4x8x1xf32>
//       CHECK:   tensor.collapse_shape %arg1 {{\[}}[0, 1, 2], [3]] : tensor<2x1x3x5xf32> into tensor<6x5xf32>
//       CHECK:   tensor.reshape %arg2
func.func @static_shapes(%a: tensor<6x32xf32>, %b: tensor<2x1x3x5xf32>, %c: tensor<6x4xf32>) -> (tensor<1x6x4x8x1xf32>, tensor<6x5xf32>, tensor<4x6xf32>) {
  %sa = arith.constant dense<[1, 6, 4, 8, 1]> : tensor<5xindex>
  %sb = arith.constant dense<[6, 5]> : tensor<2xindex>
  %sc = arith.constant dense<[4, 6]> : tensor<2xindex>
  %ra = tensor.reshape %a(%sa) : (tensor<6x32xf32>, tensor<5xindex>) -> tensor<1x6x4x8x1xf32>
  %rb = tensor.reshape %b(%sb) : (tensor<2x1x3x5xf32>, tensor<2xindex>) -> tensor<6x5xf32>
  %rc = tensor.reshape %c(%sc) : (tensor<6x4xf32>, tensor<2xindex>) -> tensor<4x6xf32>
  return %ra, %rb, %rc : tensor<1x6x4x8x1xf32>, tensor<6x5xf32>, tensor<4x6xf32>
}

// -----

// Near misses: a size that is not provably the source's dim (another
// tensor's), and a run-time shape tensor, stay reshapes.
// CHECK-LABEL: func @unknown_sizes
//       CHECK:   tensor.reshape %arg0
//       CHECK:   tensor.reshape %arg0(%arg2)
func.func @unknown_sizes(%x: tensor<?x768xf32>, %y: tensor<?xf32>, %shape: tensor<3xindex>) -> (tensor<?x12x64xf32>, tensor<?x12x64xf32>) {
  %c0 = arith.constant 0 : index
  %c12 = arith.constant 12 : index
  %c64 = arith.constant 64 : index
  %n = tensor.dim %y, %c0 : tensor<?xf32>
  %sizes = tensor.from_elements %n, %c12, %c64 : tensor<3xindex>
  %r = tensor.reshape %x(%sizes) : (tensor<?x768xf32>, tensor<3xindex>) -> tensor<?x12x64xf32>
  %r2 = tensor.reshape %x(%shape) : (tensor<?x768xf32>, tensor<3xindex>) -> tensor<?x12x64xf32>
  return %r, %r2 : tensor<?x12x64xf32>, tensor<?x12x64xf32>
}

// -----

// A rank-0 generic with a body that has effects is not scalarized.
#scalar = affine_map<() -> ()>
// CHECK-LABEL: func @rank0_with_effects
//       CHECK:   linalg.generic
//       CHECK:     memref.store
func.func @rank0_with_effects(%a: tensor<f32>, %m: memref<f32>) -> tensor<f32> {
  %e = tensor.empty() : tensor<f32>
  %g = linalg.generic {indexing_maps = [#scalar, #scalar], iterator_types = []} ins(%a : tensor<f32>) outs(%e : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    memref.store %in, %m[] : memref<f32>
    linalg.yield %in : f32
  } -> tensor<f32>
  return %g : tensor<f32>
}

// -----

// ONNX's Reshape(x, Concat(Slice(Shape(x), 0, 2), [-1])) on [B, 384, 14, 14]
// (a ViT's flattened patch grid), legalized: the kept sizes are elements of
// a slice of the shape, and the -1 becomes count / max(product of the other
// sizes, 1). The quotient is the merged dims' 196, and the reshape a
// collapse.
// CHECK-LABEL: func @inferred_size
//       CHECK:   %[[C:.+]] = tensor.collapse_shape %arg0 {{\[}}[0], [1], [2, 3]] : tensor<?x384x14x14xf32> into tensor<?x384x196xf32>
//       CHECK:   %[[R:.+]] = tensor.cast %[[C]] : tensor<?x384x196xf32> to tensor<?x384x?xf32>
//       CHECK:   return %[[R]]
//   CHECK-NOT:   tensor.reshape
func.func @inferred_size(%x: tensor<?x384x14x14xf32>) -> tensor<?x384x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %cm1 = arith.constant -1 : index
  %c384 = arith.constant 384 : index
  %c75264 = arith.constant 75264 : index
  %c384_i64 = arith.constant 384 : i64
  %c14_i64 = arith.constant 14 : i64
  %d = tensor.dim %x, %c0 : tensor<?x384x14x14xf32>
  %di = arith.index_cast %d : index to i64
  %shape = tensor.from_elements %di, %c384_i64, %c14_i64, %c14_i64 : tensor<4xi64>
  %kept = tensor.extract_slice %shape[0] [2] [1] : tensor<4xi64> to tensor<2xi64>
  %count = arith.muli %d, %c75264 : index
  %e0 = tensor.extract %kept[%c0] : tensor<2xi64>
  %s0 = arith.index_cast %e0 : i64 to index
  %z0 = arith.cmpi eq, %s0, %c0 : index
  %a0 = arith.select %z0, %d, %s0 : index
  %n0 = arith.cmpi eq, %a0, %cm1 : index
  %p0 = arith.select %n0, %c1, %a0 : index
  %e1 = tensor.extract %kept[%c1] : tensor<2xi64>
  %s1 = arith.index_cast %e1 : i64 to index
  %z1 = arith.cmpi eq, %s1, %c0 : index
  %a1 = arith.select %z1, %c384, %s1 : index
  %n1 = arith.cmpi eq, %a1, %cm1 : index
  %p1 = arith.select %n1, %c1, %a1 : index
  %known = arith.muli %p0, %p1 : index
  %divisor = arith.maxui %known, %c1 : index
  %inferred = arith.divui %count, %divisor : index
  %r0 = arith.select %n0, %inferred, %a0 : index
  %r1 = arith.select %n1, %inferred, %a1 : index
  %sizes = tensor.from_elements %r0, %r1, %inferred : tensor<3xindex>
  %r = tensor.reshape %x(%sizes) : (tensor<?x384x14x14xf32>, tensor<3xindex>) -> tensor<?x384x?xf32>
  return %r : tensor<?x384x?xf32>
}

// -----

// An inferred size that is one of the source's dims: Reshape(x, [0, -1,
// 12, 64]) on [B, S, 768] splits the last dim, the -1 being S.
// CHECK-LABEL: func @inferred_dim
//   CHECK-DAG:   %[[C1:.+]] = arith.constant 1 : index
//   CHECK-DAG:   %[[S:.+]] = tensor.dim %arg0, %[[C1]]
//       CHECK:   %[[E:.+]] = tensor.expand_shape %arg0 {{\[}}[0], [1], [2, 3]] output_shape [%{{.+}}, %[[S]], 12, 64] : tensor<?x?x768xf32> into tensor<?x?x12x64xf32>
//       CHECK:   return %[[E]]
func.func @inferred_dim(%x: tensor<?x?x768xf32>) -> tensor<?x?x12x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c12 = arith.constant 12 : index
  %c64 = arith.constant 64 : index
  %c768 = arith.constant 768 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x768xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x768xf32>
  %bs = arith.muli %b, %s : index
  %count = arith.muli %bs, %c768 : index
  %known = arith.muli %b, %c768 : index
  %divisor = arith.maxui %known, %c1 : index
  %inferred = arith.divui %count, %divisor : index
  %sizes = tensor.from_elements %b, %inferred, %c12, %c64 : tensor<4xindex>
  %r = tensor.reshape %x(%sizes) : (tensor<?x?x768xf32>, tensor<4xindex>) -> tensor<?x?x12x64xf32>
  return %r : tensor<?x?x12x64xf32>
}

// -----

// Near misses of the inferred size: a dividend that is not the source's
// element count, and a divisor that is not the product of the other sizes,
// stay reshapes.
// CHECK-LABEL: func @inferred_near_misses
//       CHECK:   tensor.reshape %arg0
//       CHECK:   tensor.reshape %arg0
func.func @inferred_near_misses(%x: tensor<?x384x14x14xf32>) -> (tensor<?x384x?xf32>, tensor<?x384x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c384 = arith.constant 384 : index
  %c768 = arith.constant 768 : index
  %c75264 = arith.constant 75264 : index
  %c37632 = arith.constant 37632 : index
  %d = tensor.dim %x, %c0 : tensor<?x384x14x14xf32>
  %half = arith.muli %d, %c37632 : index
  %known = arith.muli %d, %c384 : index
  %divisor = arith.maxui %known, %c1 : index
  %q1 = arith.divui %half, %divisor : index
  %s1 = tensor.from_elements %d, %c384, %q1 : tensor<3xindex>
  %r1 = tensor.reshape %x(%s1) : (tensor<?x384x14x14xf32>, tensor<3xindex>) -> tensor<?x384x?xf32>
  %count = arith.muli %d, %c75264 : index
  %other = arith.muli %d, %c768 : index
  %divisor2 = arith.maxui %other, %c1 : index
  %q2 = arith.divui %count, %divisor2 : index
  %s2 = tensor.from_elements %d, %c384, %q2 : tensor<3xindex>
  %r2 = tensor.reshape %x(%s2) : (tensor<?x384x14x14xf32>, tensor<3xindex>) -> tensor<?x384x?xf32>
  return %r1, %r2 : tensor<?x384x?xf32>, tensor<?x384x?xf32>
}
