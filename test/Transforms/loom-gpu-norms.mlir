// RUN: loom-opt %s -split-input-file -verify-diagnostics --loom-gpu-norms | FileCheck %s

// A layer norm with scale and bias over rows of a dynamic length: one
// launch of ceil(rows / 8) blocks of 256 threads, a warp per row (guarded),
// lanes striding the row in a loop per pass: the sum and five xor shuffles,
// the squared deviations from the mean and five more, rsqrt(variance +
// epsilon), then the normalized row times the scale plus the bias.

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
func.func @layer_norm(%rows: i64, %cols: i64, %x: i64, %y: i64, %g: i64, %b: i64) {
  %eps = arith.constant 925353388 : i64
  %c0 = arith.constant 0 : i64
  func.call @loomrt_norm_f32(%rows, %cols, %x, %y, %g, %b, %eps, %c0) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
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

// Softmax (kind 2): the row's maximum (lanes from -inf, five xor shuffles
// of maximumf), the sum of exp(x - max) as exp2((x - max) log2 e) (five
// more), then each element's exp(x - max) times the sum's reciprocal. No rsqrt, no scale or bias.

// CHECK-LABEL: func.func @softmax
// CHECK:         gpu.launch
// CHECK:           %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK:           %[[MAXL:.*]] = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32{{.*}} iter_args(%[[M:.*]] = %[[NEGINF]]) -> (f32)
// CHECK:             %[[X:.*]] = llvm.load
// CHECK:             arith.maximumf %[[M]], %[[X]] : f32
// CHECK-COUNT-5:     gpu.shuffle  xor
// CHECK:           scf.for
// CHECK:             arith.subf
// CHECK:             arith.mulf
// CHECK:             math.exp2
// CHECK:             arith.addf
// CHECK-COUNT-5:   gpu.shuffle  xor
// CHECK:           %[[INV:.*]] = arith.divf
// CHECK-NOT:       math.rsqrt
// CHECK:           scf.for
// CHECK:             llvm.load
// CHECK:             arith.subf
// CHECK:             %[[E:.*]] = math.exp2
// CHECK:             %[[Y:.*]] = arith.mulf %[[E]], %[[INV]] : f32
// CHECK-NOT:         llvm.load
// CHECK:             llvm.store %[[Y]]
func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @softmax(%rows: i64, %cols: i64, %x: i64, %y: i64) {
  %c0 = arith.constant 0 : i64
  %c2 = arith.constant 2 : i64
  func.call @loomrt_norm_f32(%rows, %cols, %x, %y, %c0, %c0, %c0, %c2) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

// A static row of 80 columns is read once into registers: 3 elements per
// lane (columns lane, lane + 32, lane + 64; the last inside the row only for
// lanes below 16, its load clamped to column 79), no loops. Each pass
// reduces the registers (the last element selected with the identity) and
// shuffles; the first two elements are stored unguarded, the third under
// its guard.

// CHECK-LABEL: func.func @rms_norm_in_registers
// CHECK:         gpu.launch
// CHECK-NOT:       scf.for
// CHECK:           llvm.load
// CHECK:           arith.addi %[[LANE:.*]], %c32
// CHECK:           llvm.load
// CHECK:           %[[C2:.*]] = arith.addi %[[LANE]], %c64
// CHECK:           %[[V2:.*]] = arith.cmpi ult, %[[C2]], %c80
// CHECK:           arith.minui %[[C2]], %c79
// CHECK:           llvm.load
// CHECK-NOT:       llvm.load
// CHECK:           arith.select %[[V2]]
// CHECK-COUNT-5:   gpu.shuffle  xor
// CHECK:           math.rsqrt
// CHECK-NOT:       scf.for
// CHECK:           llvm.store
// CHECK:           llvm.store
// CHECK:           scf.if %[[V2]]
// CHECK:             llvm.store
func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @rms_norm_in_registers(%rows: i64, %x: i64, %y: i64) {
  %c80 = arith.constant 80 : i64
  %eps = arith.constant 897988541 : i64
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  func.call @loomrt_norm_f32(%rows, %c80, %x, %y, %c0, %c0, %eps, %c1) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

// Softmax over static rows of 64: two elements per lane, no guards, three
// passes over the registers, two stores.

// CHECK-LABEL: func.func @softmax_in_registers
// CHECK:         gpu.launch
// CHECK-NOT:       scf.for
// CHECK-COUNT-2:   llvm.load
// CHECK-NOT:       llvm.load
// CHECK-NOT:       arith.select
// CHECK:           arith.maximumf
// CHECK:           arith.maximumf
// CHECK:           math.exp2
// CHECK:           math.exp2
// CHECK-NOT:       scf.if
// CHECK-COUNT-2:   llvm.store
func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @softmax_in_registers(%rows: i64, %x: i64, %y: i64) {
  %c64 = arith.constant 64 : i64
  %c0 = arith.constant 0 : i64
  %c2 = arith.constant 2 : i64
  func.call @loomrt_norm_f32(%rows, %c64, %x, %y, %c0, %c0, %c0, %c2) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @bad_kind(%v: i64) {
  %c7 = arith.constant 7 : i64
  // expected-error @below {{loom-gpu-norms: loomrt_norm_f32 takes 8 arguments with a constant epsilon and kind (0 layer norm, 1 RMS norm, 2 softmax)}}
  func.call @loomrt_norm_f32(%v, %v, %v, %v, %v, %v, %v, %c7) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}
