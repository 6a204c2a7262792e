// RUN: loom-opt %s -split-input-file --loom-fuse-elementwise | FileCheck %s

#id = affine_map<(i, j) -> (i, j)>
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// An elementwise chain fuses into one generic.
// CHECK-LABEL: func @chain
//       CHECK:   linalg.generic
//       CHECK:     math.exp
//       CHECK:     arith.addf
//   CHECK-NOT:   linalg.generic
func.func @chain(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.exp %v : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %1 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0, %y : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %r = arith.addf %v, %w : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  return %1 : tensor<4x8xf32>
}

// -----

#id = affine_map<(i, j) -> (i, j)>
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// A computing producer stays out of the fp32 contraction (the microkernel
// computes it; fused, the exp would run M*N*K times).
// CHECK-LABEL: func @keep_contraction
//       CHECK:   %[[EXP:.*]] = linalg.generic
//       CHECK:     math.exp
//       CHECK:   linalg.generic
//  CHECK-SAME:     ins(%[[EXP]], %{{.*}} :
//   CHECK-NOT:     math.exp
//       CHECK:     arith.mulf
//       CHECK:     arith.addf
func.func @keep_contraction(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %acc: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.exp %v : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %1 = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%0, %w : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %1 : tensor<4x16xf32>
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// A transpose (named or generic) fuses into the contraction as an operand
// map: no copy, the microkernel reads B with strides.
// CHECK-DAG: #[[BT:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-LABEL: func @transpose_into_contraction
//   CHECK-NOT:   linalg.transpose
//       CHECK:   linalg.generic {indexing_maps = [#{{.*}}, #[[BT]], #{{.*}}]
//  CHECK-SAME:     ins(%{{.*}}, %arg1 :
//   CHECK-NOT:   linalg.generic
func.func @transpose_into_contraction(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %acc: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %e = tensor.empty() : tensor<8x16xf32>
  %t = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%e : tensor<8x16xf32>) permutation = [1, 0]
  %1 = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %t : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %1 : tensor<4x16xf32>
}

// -----

#id = affine_map<(i, j) -> (i, j)>
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// f64 contractions have no microkernel: producers fuse as upstream would.
// CHECK-LABEL: func @f64_contraction
//       CHECK:   linalg.generic
//       CHECK:     math.exp
//       CHECK:     arith.mulf
//   CHECK-NOT:   linalg.generic
func.func @f64_contraction(%x: tensor<4x8xf64>, %w: tensor<8x16xf64>, %acc: tensor<4x16xf64>) -> tensor<4x16xf64> {
  %e = tensor.empty() : tensor<4x8xf64>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf64>) outs(%e : tensor<4x8xf64>) {
  ^bb0(%v: f64, %o: f64):
    %r = math.exp %v : f64
    linalg.yield %r : f64
  } -> tensor<4x8xf64>
  %1 = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%0, %w : tensor<4x8xf64>, tensor<8x16xf64>) outs(%acc : tensor<4x16xf64>) {
  ^bb0(%v: f64, %u: f64, %o: f64):
    %p = arith.mulf %v, %u : f64
    %s = arith.addf %o, %p : f64
    linalg.yield %s : f64
  } -> tensor<4x16xf64>
  return %1 : tensor<4x16xf64>
}

// -----

// A producer with transcendental math stays out of a consumer that
// broadcasts it (exp(w) would be computed 16 times per element); a cheap
// producer still fuses into a broadcasting consumer.
#id2 = affine_map<(t, i) -> (t, i)>
#row = affine_map<(t, i) -> (i)>
#id1 = affine_map<(i) -> (i)>
// CHECK-LABEL: func @broadcast_math
//       CHECK:   %[[E:.+]] = linalg.generic
//       CHECK:     math.exp
//       CHECK:   linalg.generic {{.*}} ins(%[[E]], %arg1, %arg2
//   CHECK-NOT:     math.exp
//       CHECK:     arith.negf
//       CHECK:     arith.mulf
//       CHECK:     arith.addf
//       CHECK:   return
func.func @broadcast_math(%w: tensor<8xf32>, %x: tensor<16x8xf32>, %v: tensor<8xf32>) -> tensor<16x8xf32> {
  %e1 = tensor.empty() : tensor<8xf32>
  %e2 = tensor.empty() : tensor<16x8xf32>
  %exp = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%w : tensor<8xf32>) outs(%e1 : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %neg = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%v : tensor<8xf32>) outs(%e1 : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.negf %a : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %1 = linalg.generic {indexing_maps = [#row, #id2, #row, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %x, %neg : tensor<8xf32>, tensor<16x8xf32>, tensor<8xf32>) outs(%e2 : tensor<16x8xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %m, %c : f32
    linalg.yield %r : f32
  } -> tensor<16x8xf32>
  return %1 : tensor<16x8xf32>
}

// -----

// A transpose that changes the contiguous dimension stays out of a consumer
// with transcendental math (SiLU would read with a row's stride and run
// scalar); it still fuses into a cheap consumer.
#tr = affine_map<(b, t, c) -> (b, c, t)>
#id3 = affine_map<(b, t, c) -> (b, t, c)>
// CHECK-LABEL: func @transpose_math
//       CHECK:   %[[T:.+]] = linalg.generic
//  CHECK-NEXT:   ^bb0(%[[IN:.+]]: f32, %{{.+}}: f32):
//  CHECK-NEXT:     linalg.yield %[[IN]]
//       CHECK:   linalg.generic {{.*}} ins(%[[T]] : tensor<1x32x64xf32>)
//       CHECK:     math.exp
//       CHECK:   linalg.generic {{.*}} ins(%arg0 : tensor<1x64x32xf32>)
//       CHECK:     arith.mulf
//       CHECK:   return
func.func @transpose_math(%x: tensor<1x64x32xf32>) -> (tensor<1x32x64xf32>, tensor<1x32x64xf32>) {
  %e = tensor.empty() : tensor<1x32x64xf32>
  %t = linalg.generic {indexing_maps = [#tr, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x64x32xf32>) outs(%e : tensor<1x32x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<1x32x64xf32>
  %silu = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%t : tensor<1x32x64xf32>) outs(%e : tensor<1x32x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.negf %a : f32
    %x1 = math.exp %n : f32
    %r = arith.mulf %a, %x1 : f32
    linalg.yield %r : f32
  } -> tensor<1x32x64xf32>
  %t2 = linalg.generic {indexing_maps = [#tr, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x64x32xf32>) outs(%e : tensor<1x32x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<1x32x64xf32>
  %sq = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%t2 : tensor<1x32x64xf32>) outs(%e : tensor<1x32x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.mulf %a, %a : f32
    linalg.yield %r : f32
  } -> tensor<1x32x64xf32>
  return %silu, %sq : tensor<1x32x64xf32>, tensor<1x32x64xf32>
}

// -----

// A transpose, a slice along T and the transpose back (a channels-last
// convolution's result as Conv's [B, C, T], sliced, back to [B, T, C]):
// the slice moves before the first transpose, the two transposes fuse into
// an identity copy that folds, and the math reads the slice in place.
// CHECK-LABEL: func @slice_between_transposes
//       CHECK:   %[[S:.+]] = tensor.extract_slice %arg0[0, %arg1, 0] [2, %arg2, 6] [1, 1, 1] : tensor<2x?x6xf32> to tensor<2x?x6xf32>
//       CHECK:   linalg.generic {{.*}} ins(%[[S]] : tensor<2x?x6xf32>)
//       CHECK:     math.exp
//   CHECK-NOT:   linalg.transpose
//   CHECK-NOT:   linalg.generic
//       CHECK:   return
func.func @slice_between_transposes(%y: tensor<2x?x6xf32>, %off: index, %len: index) -> tensor<2x?x6xf32> {
  %c1 = arith.constant 1 : index
  %t = tensor.dim %y, %c1 : tensor<2x?x6xf32>
  %e0 = tensor.empty(%t) : tensor<2x6x?xf32>
  %0 = linalg.transpose ins(%y : tensor<2x?x6xf32>) outs(%e0 : tensor<2x6x?xf32>) permutation = [0, 2, 1]
  %s = tensor.extract_slice %0[0, 0, %off] [2, 6, %len] [1, 1, 1] : tensor<2x6x?xf32> to tensor<2x6x?xf32>
  %e1 = tensor.empty(%len) : tensor<2x?x6xf32>
  %1 = linalg.transpose ins(%s : tensor<2x6x?xf32>) outs(%e1 : tensor<2x?x6xf32>) permutation = [0, 2, 1]
  %2 = linalg.generic {indexing_maps = [affine_map<(a, b, c) -> (a, b, c)>, affine_map<(a, b, c) -> (a, b, c)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%1 : tensor<2x?x6xf32>) outs(%e1 : tensor<2x?x6xf32>) {
  ^bb0(%in: f32, %out: f32):
    %x = math.exp %in : f32
    linalg.yield %x : f32
  } -> tensor<2x?x6xf32>
  return %2 : tensor<2x?x6xf32>
}

// -----

// Near miss: a slice of a transpose that has another use stays after it.
// CHECK-LABEL: func @slice_of_shared_transpose
//       CHECK:   %[[T:.+]] = linalg.generic
//       CHECK:   tensor.extract_slice %[[T]]
func.func @slice_of_shared_transpose(%y: tensor<2x8x6xf32>) -> (tensor<2x6x8xf32>, tensor<2x6x4xf32>) {
  %e0 = tensor.empty() : tensor<2x6x8xf32>
  %0 = linalg.transpose ins(%y : tensor<2x8x6xf32>) outs(%e0 : tensor<2x6x8xf32>) permutation = [0, 2, 1]
  %s = tensor.extract_slice %0[0, 0, 2] [2, 6, 4] [1, 1, 1] : tensor<2x6x8xf32> to tensor<2x6x4xf32>
  return %0, %s : tensor<2x6x8xf32>, tensor<2x6x4xf32>
}

// -----

// Reshapes stay out of what would lose vectorization or the microkernel: a
// unit-dim expand of an elementwise op's result (the op would get a unit
// innermost loop), and an expand of a matmul's result (the matmul would
// gain a unit loop the GEMM microkernel does not take). A reshape that
// splits a real dim still folds into an elementwise producer.
#id3 = affine_map<(b, t, c) -> (b, t, c)>
#id4 = affine_map<(b, t, c, u) -> (b, t, c, u)>
#a3 = affine_map<(b, t, n, k) -> (b, t, k)>
#b3 = affine_map<(b, t, n, k) -> (k, n)>
#c3 = affine_map<(b, t, n, k) -> (b, t, n)>
// CHECK-LABEL: func @reshapes_kept_out
//       CHECK:   %[[SP:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]
//       CHECK:     math.exp
//       CHECK:   tensor.expand_shape %[[SP]] {{\[}}[0], [1], [2, 3]] {{.*}} into tensor<2x8x64x1xf32>
//       CHECK:   %[[MM:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
//       CHECK:   tensor.expand_shape %[[MM]] {{\[}}[0], [1], [2, 3]] {{.*}} into tensor<2x8x16x4xf32>
//       CHECK:   tensor.expand_shape %arg0 {{\[}}[0], [1], [2, 3]] {{.*}} into tensor<2x8x4x16xf32>
//       CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel"]
//       CHECK:     math.tanh
func.func @reshapes_kept_out(%x: tensor<2x8x64xf32>, %a: tensor<2x8x32xf32>, %w: tensor<32x64xf32>) -> (tensor<2x8x64x1xf32>, tensor<2x8x16x4xf32>, tensor<2x8x4x16xf32>) {
  %e = tensor.empty() : tensor<2x8x64xf32>
  %sp = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<2x8x64xf32>) outs(%e : tensor<2x8x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = math.exp %in : f32
    linalg.yield %v : f32
  } -> tensor<2x8x64xf32>
  %r0 = tensor.expand_shape %sp [[0], [1], [2, 3]] output_shape [2, 8, 64, 1] : tensor<2x8x64xf32> into tensor<2x8x64x1xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  %mm = linalg.generic {indexing_maps = [#a3, #b3, #c3], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %w : tensor<2x8x32xf32>, tensor<32x64xf32>) outs(%f : tensor<2x8x64xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %m = arith.mulf %in, %in2 : f32
    %s = arith.addf %out, %m : f32
    linalg.yield %s : f32
  } -> tensor<2x8x64xf32>
  %r1 = tensor.expand_shape %mm [[0], [1], [2, 3]] output_shape [2, 8, 16, 4] : tensor<2x8x64xf32> into tensor<2x8x16x4xf32>
  %th = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<2x8x64xf32>) outs(%e : tensor<2x8x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = math.tanh %in : f32
    linalg.yield %v : f32
  } -> tensor<2x8x64xf32>
  %r2 = tensor.expand_shape %th [[0], [1], [2, 3]] output_shape [2, 8, 4, 16] : tensor<2x8x64xf32> into tensor<2x8x4x16xf32>
  return %r0, %r1, %r2 : tensor<2x8x64x1xf32>, tensor<2x8x16x4xf32>, tensor<2x8x4x16xf32>
}

// -----

#id = affine_map<(i, j) -> (i, j)>
#t = affine_map<(i, j) -> (j, i)>
#row = affine_map<(i, j) -> (i)>

// A producer whose size is also read (a reshape's output shape) still fuses
// into its consumer: the size is read from its init instead.
// CHECK-LABEL: func @size_read_from_producer
//   CHECK-NOT:   linalg.generic
//       CHECK:   tensor.dim %arg0
//       CHECK:   %[[D:.+]] = tensor.dim %{{.+}}, %c0 : tensor<?x196xf32>
//       CHECK:   tensor.empty(%[[D]])
//       CHECK:   linalg.generic
//  CHECK-SAME:     ins(%arg0, %arg1 :
//       CHECK:     arith.addf
//   CHECK-NOT:   linalg.generic
//       CHECK:   return %[[D]],
func.func @size_read_from_producer(%x: tensor<?x196xf32>, %bias: tensor<?xf32>) -> (index, tensor<196x?xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x196xf32>
  %e = tensor.empty(%n) : tensor<?x196xf32>
  %0 = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %bias : tensor<?x196xf32>, tensor<?xf32>) outs(%e : tensor<?x196xf32>) {
  ^bb0(%v: f32, %b: f32, %o: f32):
    %r = arith.addf %v, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x196xf32>
  %d = tensor.dim %0, %c0 : tensor<?x196xf32>
  %e2 = tensor.empty(%d) : tensor<196x?xf32>
  %1 = linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<?x196xf32>) outs(%e2 : tensor<196x?xf32>) {
  ^bb0(%v: f32, %o: f32):
    linalg.yield %v : f32
  } -> tensor<196x?xf32>
  return %d, %1 : index, tensor<196x?xf32>
}
