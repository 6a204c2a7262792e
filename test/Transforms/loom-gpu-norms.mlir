// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-norms | FileCheck %s

// A layer norm with scale and bias: one launch of ceil(rows / 8) blocks of
// 256 threads, a warp per row (guarded), lanes striding the row: the sum and
// five xor shuffles, the squared deviations from the mean and five more,
// rsqrt(variance + epsilon), then the normalized row times the scale plus
// the bias.

// CHECK-LABEL: func.func @layer_norm
// CHECK:         scf.if
// CHECK:           %[[BLOCKS:.*]] = arith.ceildivui %{{.*}}, %c8
// CHECK:           gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCKS]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK:             scf.if
// CHECK:               scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (f32)
// CHECK:                 llvm.load
// CHECK:                 arith.addf
// CHECK-COUNT-5:       gpu.shuffle  xor
// CHECK:               arith.divf
// CHECK:               scf.for
// CHECK:                 arith.subf
// CHECK:                 arith.mulf
// CHECK-COUNT-5:       gpu.shuffle  xor
// CHECK:               math.rsqrt
// CHECK:               scf.for
// CHECK:                 arith.subf
// CHECK:                 arith.mulf
// CHECK:                 llvm.load
// CHECK:                 arith.mulf
// CHECK:                 llvm.load
// CHECK:                 arith.addf
// CHECK:                 llvm.store
// CHECK-NOT:   call @loomrt_norm_f32
func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @layer_norm(%rows: i64, %x: i64, %y: i64, %g: i64, %b: i64) {
  %c16 = arith.constant 16 : i64
  %eps = arith.constant 925353388 : i64
  %c0 = arith.constant 0 : i64
  func.call @loomrt_norm_f32(%rows, %c16, %x, %y, %g, %b, %eps, %c0) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

// RMS norm without scale or bias: one pass of squares, no mean, no scale or
// bias loads.

// CHECK-LABEL: func.func @rms_norm
// CHECK:         gpu.launch
// CHECK:           arith.mulf
// CHECK-COUNT-5:   gpu.shuffle  xor
// CHECK-NOT:       gpu.shuffle
// CHECK:           math.rsqrt
// CHECK:           scf.for
// CHECK:             llvm.load
// CHECK-NOT:         llvm.load
// CHECK:             llvm.store
func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @rms_norm(%rows: i64, %cols: i64, %x: i64, %y: i64) {
  %eps = arith.constant 897988541 : i64
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  func.call @loomrt_norm_f32(%rows, %cols, %x, %y, %c0, %c0, %eps, %c1) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @bad_kind(%v: i64) {
  %c7 = arith.constant 7 : i64
  // expected-error @below {{loom-gpu-norms: loomrt_norm_f32 takes 8 arguments with a constant epsilon and kind (0 layer norm, 1 RMS norm)}}
  func.call @loomrt_norm_f32(%v, %v, %v, %v, %v, %v, %v, %c7) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}
