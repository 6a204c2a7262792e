// RUN: loom-opt %s -split-input-file --loom-shorten-buffer-lifetimes | FileCheck %s

// Two layers in one block, deallocated at its end (as the ownership-based
// deallocation leaves them): each buffer is freed right after its last
// user, so the second layer's allocation can take the first's block.
// CHECK-LABEL: func @layers
//       CHECK:   %[[A:.*]] = memref.alloc() : memref<64xf32>
//       CHECK:   linalg.copy ins(%{{.*}} : memref<64xf32>) outs(%[[A]] : memref<64xf32>)
//       CHECK:   %[[B:.*]] = memref.alloc() : memref<64xf32>
//       CHECK:   linalg.copy ins(%[[A]] : memref<64xf32>) outs(%[[B]] : memref<64xf32>)
//  CHECK-NEXT:   memref.dealloc %[[A]]
//       CHECK:   %[[C:.*]] = memref.alloc() : memref<64xf32>
//       CHECK:   linalg.copy ins(%[[B]] : memref<64xf32>) outs(%[[C]] : memref<64xf32>)
//  CHECK-NEXT:   memref.dealloc %[[B]]
//  CHECK-NEXT:   linalg.copy ins(%[[C]] : memref<64xf32>) outs(%{{.*}} : memref<64xf32>)
//  CHECK-NEXT:   memref.dealloc %[[C]]
//  CHECK-NEXT:   return
func.func @layers(%x: memref<64xf32>, %y: memref<64xf32>) {
  %a = memref.alloc() : memref<64xf32>
  linalg.copy ins(%x : memref<64xf32>) outs(%a : memref<64xf32>)
  %b = memref.alloc() : memref<64xf32>
  linalg.copy ins(%a : memref<64xf32>) outs(%b : memref<64xf32>)
  %c = memref.alloc() : memref<64xf32>
  linalg.copy ins(%b : memref<64xf32>) outs(%c : memref<64xf32>)
  linalg.copy ins(%c : memref<64xf32>) outs(%y : memref<64xf32>)
  memref.dealloc %a : memref<64xf32>
  memref.dealloc %b : memref<64xf32>
  memref.dealloc %c : memref<64xf32>
  return
}

// -----

// Views: the last user reads the buffer through a subview of a cast of it,
// and the dealloc frees a reinterpret_cast of the buffer. Sizes taken with
// memref.dim do not carry the buffer on; a buffer nothing uses is freed
// right after its allocation.
// CHECK-LABEL: func @views
//       CHECK:   %[[A:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
//       CHECK:   %[[R:.*]] = memref.reinterpret_cast %[[A]]
//       CHECK:   %[[S:.*]] = memref.subview
//       CHECK:   linalg.copy ins(%[[S]] : memref<8xf32, strided<[1], offset: 4>>)
//  CHECK-NEXT:   memref.dealloc %[[R]]
//  CHECK-NEXT:   %[[B:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
//  CHECK-NEXT:   memref.dealloc %[[B]]
//  CHECK-NEXT:   call @other
//  CHECK-NEXT:   return
func.func private @other()
func.func @views(%n: index, %y: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %a = memref.alloc(%n) : memref<?xf32>
  %r = memref.reinterpret_cast %a to offset: [0], sizes: [%n], strides: [1] : memref<?xf32> to memref<?xf32>
  %d = memref.dim %a, %c0 : memref<?xf32>
  %cast = memref.cast %a : memref<?xf32> to memref<?xf32, strided<[1]>>
  %s = memref.subview %cast[4] [8] [1] : memref<?xf32, strided<[1]>> to memref<8xf32, strided<[1], offset: 4>>
  linalg.copy ins(%s : memref<8xf32, strided<[1], offset: 4>>) outs(%y : memref<8xf32>)
  %b = memref.alloc(%d) : memref<?xf32>
  call @other() : () -> ()
  memref.dealloc %r : memref<?xf32>
  memref.dealloc %b : memref<?xf32>
  return
}

// -----

// The microkernel calls take the buffer's address as an integer: the call
// that receives it (through index arithmetic) is the last use.
// CHECK-LABEL: func @address
//       CHECK:   %[[A:.*]] = memref.alloc() : memref<16xf32>
//       CHECK:   memref.extract_aligned_pointer_as_index %[[A]]
//       CHECK:   call @fill
//       CHECK:   call @consume
//  CHECK-NEXT:   memref.dealloc %[[A]]
//  CHECK-NEXT:   call @other
func.func private @fill(i64)
func.func private @consume(i64)
func.func private @other()
func.func @address() {
  %c4 = arith.constant 4 : index
  %a = memref.alloc() : memref<16xf32>
  %p = memref.extract_aligned_pointer_as_index %a : memref<16xf32> -> index
  %q = arith.addi %p, %c4 : index
  %i = arith.index_cast %p : index to i64
  %j = arith.index_cast %q : index to i64
  call @fill(%i) : (i64) -> ()
  call @consume(%j) : (i64) -> ()
  call @other() : () -> ()
  memref.dealloc %a : memref<16xf32>
  return
}

// -----

// A use inside a loop keeps the buffer until after the loop; a buffer that
// a region forwards out through its terminator (scf.if's yield) lives as
// long as the region op's result is used.
// CHECK-LABEL: func @regions
//       CHECK:   %[[A:.*]] = memref.alloc() : memref<4xf32>
//       CHECK:   %[[B:.*]] = memref.alloc() : memref<4xf32>
//       CHECK:   scf.for
//       CHECK:     memref.store %{{.*}}, %[[A]]
//       CHECK:   }
//  CHECK-NEXT:   memref.dealloc %[[A]]
//  CHECK-NEXT:   %[[R:.*]] = scf.if
//       CHECK:   call @use(%[[R]])
//  CHECK-NEXT:   memref.dealloc %[[B]]
//  CHECK-NEXT:   call @other
func.func private @use(memref<4xf32>)
func.func private @other()
func.func @regions(%cond: i1, %x: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %f = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    memref.store %f, %a[%i] : memref<4xf32>
  }
  %r = scf.if %cond -> memref<4xf32> {
    scf.yield %b : memref<4xf32>
  } else {
    scf.yield %x : memref<4xf32>
  }
  call @use(%r) : (memref<4xf32>) -> ()
  call @other() : () -> ()
  memref.dealloc %a : memref<4xf32>
  memref.dealloc %b : memref<4xf32>
  return
}

// -----

// Left in place: a dealloc in another block than the allocation (a
// conditional free), one of a buffer whose view the block's terminator
// returns, and one of a buffer a later op uses after the dealloc (such IR
// is wrong; the pass does not make it worse).
// CHECK-LABEL: func @kept
//       CHECK:   %[[A:.*]] = memref.alloc() : memref<4xf32>
//       CHECK:   %[[B:.*]] = memref.alloc() : memref<8xf32>
//       CHECK:   %[[C:.*]] = memref.alloc() : memref<4xf32>
//       CHECK:   call @other
//       CHECK:   scf.if
//  CHECK-NEXT:     memref.dealloc %[[A]]
//       CHECK:   memref.dealloc %[[C]]
//  CHECK-NEXT:   call @use(%[[C]])
//  CHECK-NEXT:   memref.dealloc %[[B]]
//  CHECK-NEXT:   return
func.func private @use(memref<4xf32>)
func.func private @other()
func.func @kept(%cond: i1) -> memref<4xf32, strided<[1], offset: 4>> {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<8xf32>
  %v = memref.subview %b[4] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 4>>
  %c = memref.alloc() : memref<4xf32>
  call @other() : () -> ()
  scf.if %cond {
    memref.dealloc %a : memref<4xf32>
  }
  memref.dealloc %c : memref<4xf32>
  call @use(%c) : (memref<4xf32>) -> ()
  memref.dealloc %b : memref<8xf32>
  return %v : memref<4xf32, strided<[1], offset: 4>>
}

// -----

// An address stored to memory escapes SSA: the call that reads the table
// (MoE's expert addresses) is no visible user, so the dealloc stays.
// CHECK-LABEL: func @stored_address
//       CHECK:   %[[A:.*]] = memref.alloc() : memref<16xf32>
//       CHECK:   memref.store
//       CHECK:   call @kernel
//  CHECK-NEXT:   call @other
//  CHECK-NEXT:   memref.dealloc %[[A]]
func.func private @kernel(i64)
func.func private @other()
func.func @stored_address() {
  %c0 = arith.constant 0 : index
  %a = memref.alloc() : memref<16xf32>
  %table = memref.alloca() : memref<1xi64>
  %p = memref.extract_aligned_pointer_as_index %a : memref<16xf32> -> index
  %i = arith.index_cast %p : index to i64
  memref.store %i, %table[%c0] : memref<1xi64>
  %t = memref.extract_aligned_pointer_as_index %table : memref<1xi64> -> index
  %ti = arith.index_cast %t : index to i64
  call @kernel(%ti) : (i64) -> ()
  call @other() : () -> ()
  memref.dealloc %a : memref<16xf32>
  return
}
