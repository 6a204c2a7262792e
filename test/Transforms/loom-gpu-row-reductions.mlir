// RUN: loom-opt %s -split-input-file --loom-gpu-row-reductions | FileCheck %s

// Softmax's row max over the innermost dimension of a 4-D tensor: a warp
// per row (8 rows per block of 256), lanes striding the row from the identity, five
// xor shuffles, lane 0 combining into the output. (maxnumf's identity is NaN:
// maxnum(NaN, x) = x.)

// CHECK-LABEL: func.func @row_max
// CHECK-SAME:    (%[[IN:.*]]: memref<2x3x5x100xf32>, %[[OUT:.*]]: memref<2x3x5xf32>)
// CHECK:         %[[R1:.*]] = arith.muli %c2, %c3
// CHECK:         %[[ROWS:.*]] = arith.muli %[[R1]], %c5
// CHECK:         scf.if
// CHECK:           %[[GRID:.*]] = arith.ceildivui %[[ROWS]], %c8
// CHECK:           gpu.launch blocks(%[[B:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256
// CHECK:             %[[WARP:.*]] = arith.divui %[[T]], %c32
// CHECK:             %[[LANE:.*]] = arith.remui %[[T]], %c32
// CHECK:             scf.if
// CHECK:               %[[NEG:.*]] = arith.constant 0xFFC00000 : f32
// CHECK:               %[[P:.*]] = scf.for %[[I:.*]] = %[[LANE]] to %c100 step %c32{{.*}} iter_args(%[[ACC:.*]] = %[[NEG]]) -> (f32)
// CHECK:                 %[[X:.*]] = memref.load %[[IN]][%{{.*}}, %{{.*}}, %{{.*}}, %[[I]]]
// CHECK:                 %[[M:.*]] = arith.maxnumf %[[X]], %[[ACC]]
// CHECK:                 scf.yield %[[M]]
// CHECK:               gpu.shuffle  xor %[[P]], %c16{{.*}}, %c32
// CHECK:               gpu.shuffle  xor %{{.*}}, %c8{{.*}}, %c32
// CHECK:               gpu.shuffle  xor %{{.*}}, %c4{{.*}}, %c32
// CHECK:               gpu.shuffle  xor %{{.*}}, %c2{{.*}}, %c32
// CHECK:               gpu.shuffle  xor %{{.*}}, %c1{{.*}}, %c32
// CHECK:               arith.cmpi eq, %[[LANE]], %c0
// CHECK:               memref.load %[[OUT]]
// CHECK:               arith.maxnumf
// CHECK:               memref.store %{{.*}}, %[[OUT]]
// CHECK-NOT:   linalg.generic
func.func @row_max(%in: memref<2x3x5x100xf32>, %out: memref<2x3x5xf32>) {
  linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%in : memref<2x3x5x100xf32>) outs(%out : memref<2x3x5xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %m = arith.maxnumf %x, %acc : f32
    linalg.yield %m : f32
  }
  return
}

// -----

// A variance: the per-element computation (x - mean)^2 is cloned into the
// lanes' loop; the combiner is the add, from 0.

// CHECK-LABEL: func.func @variance
// CHECK:         gpu.launch
// CHECK:           %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:           scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (f32)
// CHECK:             %[[X:.*]] = memref.load %arg0
// CHECK:             %[[MEAN:.*]] = memref.load %arg1
// CHECK:             %[[D:.*]] = arith.subf %[[X]], %[[MEAN]]
// CHECK:             %[[SQ:.*]] = arith.mulf %[[D]], %[[D]]
// CHECK:             arith.addf %[[ACC]], %[[SQ]]
// CHECK-COUNT-5:   gpu.shuffle  xor
func.func @variance(%x: memref<16x?xf32>, %mean: memref<16xf32>, %out: memref<16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(r, c) -> (r, c)>, affine_map<(r, c) -> (r)>, affine_map<(r, c) -> (r)>], iterator_types = ["parallel", "reduction"]}
      ins(%x, %mean : memref<16x?xf32>, memref<16xf32>) outs(%out : memref<16xf32>) {
  ^bb0(%a: f32, %m: f32, %acc: f32):
    %d = arith.subf %a, %m : f32
    %sq = arith.mulf %d, %d : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Not row reductions this pass maps: a reduction over the outer dimension
// (not coalesced), a combiner that is not associative, a parallel op, a
// body that reads the output twice.

// CHECK-LABEL: func.func @left_alone
// CHECK-NOT:     gpu.launch
// CHECK-COUNT-4: linalg.generic
func.func @left_alone(%x: memref<8x8xf32>, %v: memref<8xf32>, %y: memref<8x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(r, c) -> (r, c)>, affine_map<(r, c) -> (c)>], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<8x8xf32>) outs(%v : memref<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(r, c) -> (r, c)>, affine_map<(r, c) -> (r)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x8xf32>) outs(%v : memref<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.subf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(r, c) -> (r, c)>, affine_map<(r, c) -> (r, c)>], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<8x8xf32>) outs(%y : memref<8x8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(r, c) -> (r, c)>, affine_map<(r, c) -> (r)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x8xf32>) outs(%v : memref<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %p = arith.mulf %a, %acc : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
