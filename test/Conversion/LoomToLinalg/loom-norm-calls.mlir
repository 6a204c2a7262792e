// RUN: loom-opt %s -split-input-file --loom-norm-calls | FileCheck %s

// A last-axis layer norm with scale and bias: one call on identity-layout
// buffers (rows = 2 * 3, cols = 16, epsilon 1e-5 as bits, kind 0) writing a
// fresh buffer, the result read back as a tensor.

// CHECK-LABEL: func.func @layer_norm
// CHECK-DAG:     %[[X:.*]] = bufferization.to_buffer %arg0 read_only : tensor<2x3x16xf32> to memref<2x3x16xf32>
// CHECK-DAG:     %[[OUT:.*]] = memref.alloc() : memref<2x3x16xf32>
// CHECK-DAG:     bufferization.to_buffer %arg1 read_only : tensor<16xf32> to memref<16xf32>
// CHECK-DAG:     bufferization.to_buffer %arg2 read_only : tensor<16xf32> to memref<16xf32>
// CHECK:         call @loomrt_norm_f32(%{{.*}}, %c16_i64, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c925353388_i64, %c0_i64) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
// CHECK:         %[[T:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK:         return %[[T]]
func.func @layer_norm(%x: tensor<2x3x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<2x3x16xf32> {
  %y = loom.layer_norm %x, %g bias %b {axis = -1 : i64, epsilon = 1.0e-05 : f32} : (tensor<2x3x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<2x3x16xf32>
  return %y : tensor<2x3x16xf32>
}

// -----

// RMS norm without a scale, dynamic rows: scale and bias addresses 0, kind 1.

// CHECK-LABEL: func.func @rms_norm
// CHECK:         %[[D:.*]] = tensor.dim %arg0, %c0
// CHECK:         call @loomrt_norm_f32(%{{.*}}, %c64_i64, %{{.*}}, %{{.*}}, %c0_i64, %c0_i64, %{{.*}}, %c1_i64)
func.func @rms_norm(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %y = loom.rms_norm %x {epsilon = 1.0e-06 : f32} : (tensor<?x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Not for the row kernel: several normalized axes (with a rank-2 scale), f16.
// CHECK-LABEL: func.func @not_row_norms
// CHECK-NOT:     call @loomrt_norm_f32
// CHECK-COUNT-3: loom.
func.func @not_row_norms(%x: tensor<2x3x16xf32>, %g2: tensor<3x16xf32>, %h: tensor<4x8xf16>) -> (tensor<2x3x16xf32>, tensor<2x3x16xf32>, tensor<4x8xf16>) {
  %a = loom.layer_norm %x {axis = 1 : i64} : (tensor<2x3x16xf32>) -> tensor<2x3x16xf32>
  %b = loom.rms_norm %x, %g2 {axis = 1 : i64} : (tensor<2x3x16xf32>, tensor<3x16xf32>) -> tensor<2x3x16xf32>
  %c = loom.layer_norm %h : (tensor<4x8xf16>) -> tensor<4x8xf16>
  return %a, %b, %c : tensor<2x3x16xf32>, tensor<2x3x16xf32>, tensor<4x8xf16>
}
