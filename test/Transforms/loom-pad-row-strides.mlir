// RUN: loom-opt %s -split-input-file --loom-pad-row-strides | FileCheck %s

#x = affine_map<(b, s, n, k) -> (b, s, k)>
#w = affine_map<(b, s, n, k) -> (k, n)>
#y = affine_map<(b, s, n, k) -> (b, s, n)>
#id = affine_map<(b, s, n) -> (b, s, n)>
#row = affine_map<(b, s, n) -> (n)>

// A transformer FFN: the hidden layer (3072 floats, 12 KiB rows) is written
// by one product, its bias added in place, and read by the next product.
// Both 3072-wide buffers are allocated a line wider; their users see the
// original shape through a view; the deallocations free the wide buffers.
// The 768-wide output (3 KiB rows) keeps its layout.
// CHECK-LABEL: func @ffn
//  CHECK-SAME:   (%[[X:.*]]: memref<?x?x768xf32>
//       CHECK:   %[[D0:.*]] = memref.dim %[[X]], %c0
//       CHECK:   %[[D1:.*]] = memref.dim %[[X]], %c1
//       CHECK:   %[[WIDE:.*]] = memref.alloc(%[[D0]], %[[D1]]) {alignment = 64 : i64} : memref<?x?x3088xf32>
//       CHECK:   %[[H:.*]] = memref.subview %[[WIDE]][0, 0, 0] [%[[D0]], %[[D1]], 3072] [1, 1, 1] : memref<?x?x3088xf32> to memref<?x?x3072xf32, strided<[?, 3088, 1]>>
//       CHECK:   %[[OUT:.*]] = memref.alloc(%[[D0]], %[[D1]]) {alignment = 64 : i64} : memref<?x?x768xf32>
//       CHECK:   linalg.fill ins(%{{.*}} : f32) outs(%[[H]] : memref<?x?x3072xf32, strided<[?, 3088, 1]>>)
//       CHECK:   linalg.generic {{.*}} ins(%[[X]], %{{.*}} : memref<?x?x768xf32>, memref<768x3072xf32>) outs(%[[H]] : memref<?x?x3072xf32, strided<[?, 3088, 1]>>)
//       CHECK:   linalg.generic {{.*}} ins(%{{.*}} : memref<3072xf32>) outs(%[[H]] : memref<?x?x3072xf32, strided<[?, 3088, 1]>>)
//       CHECK:   linalg.generic {{.*}} ins(%[[H]], %{{.*}} : memref<?x?x3072xf32, strided<[?, 3088, 1]>>, memref<3072x768xf32>) outs(%[[OUT]] : memref<?x?x768xf32>)
//       CHECK:   memref.dealloc %[[WIDE]] : memref<?x?x3088xf32>
//       CHECK:   return %[[OUT]]
func.func @ffn(%x: memref<?x?x768xf32>, %w1: memref<768x3072xf32>, %b1: memref<3072xf32>, %w2: memref<3072x768xf32>) -> memref<?x?x768xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %x, %c0 : memref<?x?x768xf32>
  %d1 = memref.dim %x, %c1 : memref<?x?x768xf32>
  %h = memref.alloc(%d0, %d1) {alignment = 64 : i64} : memref<?x?x3072xf32>
  %out = memref.alloc(%d0, %d1) {alignment = 64 : i64} : memref<?x?x768xf32>
  linalg.fill ins(%zero : f32) outs(%h : memref<?x?x3072xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w1 : memref<?x?x768xf32>, memref<768x3072xf32>) outs(%h : memref<?x?x3072xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%b1 : memref<3072xf32>) outs(%h : memref<?x?x3072xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %o, %a : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%out : memref<?x?x768xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %w2 : memref<?x?x3072xf32>, memref<3072x768xf32>) outs(%out : memref<?x?x768xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %h : memref<?x?x3072xf32>
  return %out : memref<?x?x768xf32>
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// Static shapes, 1536 floats (6 KiB rows): the view's strides are static.
// CHECK-LABEL: func @static_rows
//       CHECK:   %[[WIDE:.*]] = memref.alloc() : memref<128x1552xf32>
//       CHECK:   %[[H:.*]] = memref.subview %[[WIDE]][0, 0] [128, 1536] [1, 1] : memref<128x1552xf32> to memref<128x1536xf32, strided<[1552, 1]>>
//       CHECK:   linalg.generic {{.*}} outs(%[[H]] : memref<128x1536xf32, strided<[1552, 1]>>)
//       CHECK:   linalg.generic {{.*}} ins(%[[H]], %{{.*}} : memref<128x1536xf32, strided<[1552, 1]>>, memref<1536x384xf32>)
//       CHECK:   memref.dealloc %[[WIDE]] : memref<128x1552xf32>
func.func @static_rows(%x: memref<128x384xf32>, %w1: memref<384x1536xf32>, %w2: memref<1536x384xf32>, %out: memref<128x384xf32>) {
  %h = memref.alloc() : memref<128x1536xf32>
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w1 : memref<128x384xf32>, memref<384x1536xf32>) outs(%h : memref<128x1536xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%h, %w2 : memref<128x1536xf32>, memref<1536x384xf32>) outs(%out : memref<128x384xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %h : memref<128x1536xf32>
  return
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// Near misses, left alone: rows of 2304 floats (9 KiB, not a multiple of
// 2 KiB); a buffer that a non-linalg op also uses (a copy, the return); a
// buffer that no contraction uses; f16.
// CHECK-LABEL: func @near_misses
//   CHECK-NOT:   memref.subview
//       CHECK:   memref.alloc() : memref<64x2304xf32>
//       CHECK:   memref.alloc() : memref<64x3072xf32>
//       CHECK:   memref.alloc() : memref<64x3072xf32>
//       CHECK:   memref.alloc() : memref<64x3072xf32>
//       CHECK:   memref.alloc() : memref<64x3072xf16>
//   CHECK-NOT:   memref.subview {{.*}}3088
func.func @near_misses(%x: memref<64x64xf32>, %w: memref<64x2304xf32>, %w3: memref<64x3072xf32>, %wh: memref<64x3072xf16>, %xh: memref<64x64xf16>, %dst: memref<64x3072xf32>) -> memref<64x3072xf32> {
  %odd = memref.alloc() : memref<64x2304xf32>
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<64x64xf32>, memref<64x2304xf32>) outs(%odd : memref<64x2304xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  %copied = memref.alloc() : memref<64x3072xf32>
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w3 : memref<64x64xf32>, memref<64x3072xf32>) outs(%copied : memref<64x3072xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  memref.copy %copied, %dst : memref<64x3072xf32> to memref<64x3072xf32>
  %returned = memref.alloc() : memref<64x3072xf32>
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w3 : memref<64x64xf32>, memref<64x3072xf32>) outs(%returned : memref<64x3072xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %p = arith.mulf %v, %u : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  %plain = memref.alloc() : memref<64x3072xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%w3 : memref<64x3072xf32>) outs(%plain : memref<64x3072xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.addf %v, %v : f32
    linalg.yield %s : f32
  }
  %half = memref.alloc() : memref<64x3072xf16>
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xh, %wh : memref<64x64xf16>, memref<64x3072xf16>) outs(%half : memref<64x3072xf16>) {
  ^bb0(%v: f16, %u: f16, %o: f16):
    %p = arith.mulf %v, %u : f16
    %s = arith.addf %o, %p : f16
    linalg.yield %s : f16
  }
  memref.dealloc %odd : memref<64x2304xf32>
  memref.dealloc %copied : memref<64x3072xf32>
  memref.dealloc %plain : memref<64x3072xf32>
  memref.dealloc %half : memref<64x3072xf16>
  return %returned : memref<64x3072xf32>
}
