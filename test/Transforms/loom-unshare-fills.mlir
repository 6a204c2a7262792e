// RUN: loom-opt %s -split-input-file --loom-unshare-fills | FileCheck %s

// One zero fill (as CSE leaves it) initializes two products: each product
// gets its own empty tensor and fill right before it, and the shared fill
// goes away.
// CHECK-LABEL: func @shared_linalg_fill
//   CHECK-NOT:   linalg.fill
//       CHECK:   %[[E0:.+]] = tensor.empty() : tensor<4x8xf32>
//       CHECK:   %[[F0:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%[[E0]] : tensor<4x8xf32>)
//       CHECK:   linalg.matmul ins(%arg0, %arg1 : {{.*}}) outs(%[[F0]] : tensor<4x8xf32>)
//       CHECK:   %[[E1:.+]] = tensor.empty() : tensor<4x8xf32>
//       CHECK:   %[[F1:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%[[E1]] : tensor<4x8xf32>)
//       CHECK:   linalg.matmul ins(%arg0, %arg2 : {{.*}}) outs(%[[F1]] : tensor<4x8xf32>)
//   CHECK-NOT:   linalg.fill
func.func @shared_linalg_fill(%a: tensor<4x16xf32>, %b: tensor<16x8xf32>, %c: tensor<16x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %0 = linalg.matmul ins(%a, %b : tensor<4x16xf32>, tensor<16x8xf32>) outs(%f : tensor<4x8xf32>) -> tensor<4x8xf32>
  %1 = linalg.matmul ins(%a, %c : tensor<4x16xf32>, tensor<16x8xf32>) outs(%f : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0, %1 : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// The generalized fill (a generic broadcasting a scalar) is cloned too; a
// use that only reads the fill (an input, not a destination) keeps the
// original.
// CHECK-LABEL: func @generic_fill_and_reader
//       CHECK:   %[[F:.+]] = linalg.generic {{.*}} ins(%{{.+}} : f32) outs(%{{.+}} : tensor<8xf32>)
//       CHECK:   %[[F1:.+]] = linalg.generic {{.*}} ins(%{{.+}} : f32) outs(%{{.+}} : tensor<8xf32>)
//       CHECK:   linalg.generic {{.*}} ins(%arg0, %[[F]] : tensor<8xf32>, tensor<8xf32>) outs(%[[F1]] : tensor<8xf32>)
func.func @generic_fill_and_reader(%x: tensor<8xf32>) -> tensor<8xf32> {
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %f = linalg.generic {indexing_maps = [affine_map<(d0) -> ()>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%one : f32) outs(%e : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<8xf32>
  %0 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x, %f : tensor<8xf32>, tensor<8xf32>) outs(%f : tensor<8xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %s = arith.addf %in, %in2 : f32
    %t = arith.addf %s, %out : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

// A fill with a single use, or filling from a tensor (a copy), is left alone.
// CHECK-LABEL: func @single_use
//       CHECK:   linalg.fill
//   CHECK-NOT:   linalg.fill
func.func @single_use(%a: tensor<4x16xf32>, %b: tensor<16x8xf32>) -> tensor<4x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %0 = linalg.matmul ins(%a, %b : tensor<4x16xf32>, tensor<16x8xf32>) outs(%f : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
