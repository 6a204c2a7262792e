// RUN: loom-opt %s -split-input-file --loom-fuse-gemm-norms | FileCheck %s

// A layer norm of the buffer a product with an epilogue writes, with the
// norm's output allocated in between: one fused call at the norm's place,
// the product's 26 arguments then the norm's 8 (input: the product's C).

// CHECK: func.func private @loomrt_sgemm_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
// CHECK-LABEL: func.func @epilogue_then_norm
//       CHECK:   %[[C:.*]] = arith.index_cast %{{.*}} : index to i64
//       CHECK:   memref.alloc
//       CHECK:   %[[Y:.*]] = arith.index_cast %{{.*}} : index to i64
//   CHECK-NOT:   call @loomrt_sgemm_epilogue_f32
//       CHECK:   call @loomrt_sgemm_norm_f32(%[[A:.*]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[C]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[A]], %[[C]], %[[Y]], %[[A]], %[[A]], %[[A]], %[[A]])
//   CHECK-NOT:   call @loomrt_norm_f32
func.func private @loomrt_sgemm_epilogue_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @epilogue_then_norm(%x: i64) -> memref<512x768xf32> {
  %c = memref.alloc() : memref<512x768xf32>
  %cp = memref.extract_aligned_pointer_as_index %c : memref<512x768xf32> -> index
  %ci = arith.index_cast %cp : index to i64
  call @loomrt_sgemm_epilogue_f32(%x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %ci, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y = memref.alloc() : memref<512x768xf32>
  %yp = memref.extract_aligned_pointer_as_index %y : memref<512x768xf32> -> index
  %yi = arith.index_cast %yp : index to i64
  call @loomrt_norm_f32(%x, %x, %ci, %yi, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return %y : memref<512x768xf32>
}

// -----

// A plain product whose C the norm reads through a view (its own address
// computation): the fused call gets a null bias and residual and no
// activation (nine zeros) between the product's and the norm's arguments.

// CHECK-LABEL: func.func @plain_product_through_view
//       CHECK:   %[[Z:.*]] = arith.constant 0 : i64
//       CHECK:   call @loomrt_sgemm_norm_f32(%[[X:.*]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %{{.*}}, %[[X]], %[[X]], %[[X]], %[[X]], %[[Z]], %[[Z]], %[[Z]], %[[Z]], %[[Z]], %[[Z]], %[[Z]], %[[Z]], %[[Z]], %[[X]], %[[X]], %{{.*}}, %{{.*}}, %[[X]], %[[X]], %[[X]], %[[X]])
//   CHECK-NOT:   call @loomrt_sgemm_f32(
//   CHECK-NOT:   call @loomrt_norm_f32
func.func private @loomrt_sgemm_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @plain_product_through_view(%x: i64, %y: memref<4x64xf32>) {
  %c = memref.alloc() : memref<2x2x64xf32>
  %cp = memref.extract_aligned_pointer_as_index %c : memref<2x2x64xf32> -> index
  %ci = arith.index_cast %cp : index to i64
  call @loomrt_sgemm_f32(%x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %ci, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %v = memref.collapse_shape %c [[0, 1], [2]] : memref<2x2x64xf32> into memref<4x64xf32>
  %vp = memref.extract_aligned_pointer_as_index %v : memref<4x64xf32> -> index
  %vi = arith.index_cast %vp : index to i64
  %yp = memref.extract_aligned_pointer_as_index %y : memref<4x64xf32> -> index
  %yi = arith.index_cast %yp : index to i64
  call @loomrt_norm_f32(%x, %x, %vi, %yi, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

// The norm reads another buffer than the product writes: nothing fuses.

// CHECK-LABEL: func.func @other_buffer
//       CHECK:   call @loomrt_sgemm_f32(
//       CHECK:   call @loomrt_norm_f32(
//   CHECK-NOT:   loomrt_sgemm_norm_f32
func.func private @loomrt_sgemm_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @other_buffer(%x: i64, %c: memref<4x64xf32>, %d: memref<4x64xf32>) {
  %cp = memref.extract_aligned_pointer_as_index %c : memref<4x64xf32> -> index
  %ci = arith.index_cast %cp : index to i64
  call @loomrt_sgemm_f32(%x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %ci, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %dp = memref.extract_aligned_pointer_as_index %d : memref<4x64xf32> -> index
  %di = arith.index_cast %dp : index to i64
  call @loomrt_norm_f32(%x, %x, %di, %di, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

// A store between the two calls (memory the product may read): nothing
// fuses; nor does a norm of a view at an offset into C.

// CHECK-LABEL: func.func @store_between
//       CHECK:   call @loomrt_sgemm_f32(
//       CHECK:   memref.store
//       CHECK:   call @loomrt_norm_f32(
// CHECK-LABEL: func.func @offset_view
//       CHECK:   call @loomrt_sgemm_f32(
//       CHECK:   call @loomrt_norm_f32(
//   CHECK-NOT:   loomrt_sgemm_norm_f32
func.func private @loomrt_sgemm_f32(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func private @loomrt_norm_f32(i64, i64, i64, i64, i64, i64, i64, i64)
func.func @store_between(%x: i64, %c: memref<4x64xf32>, %w: memref<4xf32>, %f: f32) {
  %cp = memref.extract_aligned_pointer_as_index %c : memref<4x64xf32> -> index
  %ci = arith.index_cast %cp : index to i64
  call @loomrt_sgemm_f32(%x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %ci, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %i = arith.constant 0 : index
  memref.store %f, %w[%i] : memref<4xf32>
  call @loomrt_norm_f32(%x, %x, %ci, %ci, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}
func.func @offset_view(%x: i64, %c: memref<4x64xf32>) {
  %cp = memref.extract_aligned_pointer_as_index %c : memref<4x64xf32> -> index
  %ci = arith.index_cast %cp : index to i64
  call @loomrt_sgemm_f32(%x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %x, %ci, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %v = memref.subview %c[1, 0] [2, 64] [1, 1] : memref<4x64xf32> to memref<2x64xf32, strided<[64, 1], offset: 64>>
  %vp = memref.extract_aligned_pointer_as_index %v : memref<2x64xf32, strided<[64, 1], offset: 64>> -> index
  %vi = arith.index_cast %vp : index to i64
  call @loomrt_norm_f32(%x, %x, %vi, %vi, %x, %x, %x, %x) : (i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}
