// RUN: loom-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(loom-map-parallel-to-gpu))' | FileCheck %s
// RUN: loom-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(loom-map-parallel-to-gpu{block-size=128}))' | FileCheck %s --check-prefix=B128

// A 2-D loop: N = 4 * 8 iterations over ceil(N / 256) = 1 block of 256
// threads, guarded by id < N; the last dimension varies fastest.
// CHECK-LABEL: func @two_dims
//   CHECK-DAG:   %[[C32:.+]] = arith.constant 32 : index
//   CHECK-DAG:   %[[C256:.+]] = arith.constant 256 : index
//       CHECK:   gpu.launch blocks(%[[BX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %c1{{.*}}, %{{.+}} = %c1{{.*}}, %{{.+}} = %c1{{.*}}) threads(%[[TX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[C256]], %{{.+}} = %c1{{.*}}, %{{.+}} = %c1{{.*}})
//       CHECK:     %[[BASE:.+]] = arith.muli %[[BX]], %[[C256]]
//       CHECK:     %[[ID:.+]] = arith.addi %[[BASE]], %[[TX]]
//       CHECK:     %[[IN:.+]] = arith.cmpi slt, %[[ID]], %[[C32]]
//       CHECK:     scf.if %[[IN]] {
//       CHECK:       %[[J:.+]] = arith.remsi %[[ID]], %c8{{.*}} : index
//       CHECK:       %[[I:.+]] = arith.divsi %[[ID]], %c8{{.*}} : index
//       CHECK:       memref.store %{{.+}}, %{{.+}}[%[[I]], %[[J]]] : memref<4x8xf32>
//       CHECK:     gpu.terminator
//   CHECK-NOT:   scf.parallel
// B128-LABEL: func @two_dims
//       B128:   arith.constant 128 : index
//       B128:   gpu.launch
func.func @two_dims(%m: memref<4x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c8) step (%c1, %c1) {
    memref.store %f, %m[%i, %j] : memref<4x8xf32>
  }
  return
}

// -----

// A nested parallel loop runs sequentially in the thread; a static
// temporary becomes a thread-local alloca at the kernel's start (its
// deallocation goes); a constant's get_global moves before the launch.
// CHECK-LABEL: func @nested_and_temporaries
//       CHECK:   memref.get_global @table
//       CHECK:   gpu.launch
//  CHECK-NEXT:     %[[T:.+]] = memref.alloca() {alignment = 64 : i64} : memref<16xf32>
//       CHECK:     scf.for
//       CHECK:       memref.store %{{.+}}, %[[T]]
//   CHECK-NOT:   memref.dealloc
//   CHECK-NOT:   scf.parallel
memref.global "private" constant @table : memref<16xf32> = dense<2.0>
func.func @nested_and_temporaries(%m: memref<4x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %g = memref.get_global @table : memref<16xf32>
    %t = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
    scf.parallel (%j) = (%c0) to (%c16) step (%c1) {
      %v = memref.load %g[%j] : memref<16xf32>
      memref.store %v, %t[%j] : memref<16xf32>
    }
    scf.parallel (%j) = (%c0) to (%c16) step (%c1) {
      %v = memref.load %t[%j] : memref<16xf32>
      memref.store %v, %m[%i, %j] : memref<4x16xf32>
    }
    memref.dealloc %t : memref<16xf32>
  }
  return
}

// -----

// Dynamic bounds and steps: the trip count is computed on the host.
// CHECK-LABEL: func @dynamic
//  CHECK-SAME:   (%[[M:.+]]: memref<?xf32>, %[[LB:.+]]: index, %[[UB:.+]]: index, %[[S:.+]]: index)
//       CHECK:   %[[EXT:.+]] = arith.subi %[[UB]], %[[LB]]
//       CHECK:   %[[CNT:.+]] = arith.ceildivsi %[[EXT]], %[[S]]
//       CHECK:   %[[N:.+]] = arith.maxsi %[[CNT]], %{{.+}}
//       CHECK:   %[[GRID:.+]] = arith.ceildivsi %[[N]], %{{.+}}
//       CHECK:   %[[ANY:.+]] = arith.cmpi sgt, %[[N]], %{{.+}}
//       CHECK:   scf.if %[[ANY]] {
//       CHECK:     gpu.launch blocks(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[GRID]],
//       CHECK:       %[[OFF:.+]] = arith.muli %{{.+}}, %[[S]]
//       CHECK:       %[[IV:.+]] = arith.addi %[[LB]], %[[OFF]]
//       CHECK:       memref.store %{{.+}}, %[[M]][%[[IV]]]
func.func @dynamic(%m: memref<?xf32>, %lb: index, %ub: index, %s: index) {
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%lb) to (%ub) step (%s) {
    memref.store %f, %m[%i] : memref<?xf32>
  }
  return
}

// -----

// Loops a kernel cannot run stay on the host: a reduction, a call, a
// dynamic temporary, a free of a buffer from outside.
// CHECK-LABEL: func @host_loops
//   CHECK-NOT:   gpu.launch
//       CHECK:   scf.parallel
//       CHECK:   scf.parallel
//       CHECK:   scf.parallel
//       CHECK:   scf.parallel
//   CHECK-NOT:   gpu.launch
func.func private @ext(index)
func.func @host_loops(%m: memref<?xf32>, %n: index, %b: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  %sum = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%z) -> f32 {
    %v = memref.load %m[%i] : memref<?xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b2: f32):
      %s = arith.addf %a, %b2 : f32
      scf.reduce.return %s : f32
    }
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    func.call @ext(%i) : (index) -> ()
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %t = memref.alloc(%i) : memref<?xf32>
    memref.dealloc %t : memref<?xf32>
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    memref.dealloc %b : memref<4xf32>
  }
  return %sum : f32
}

// -----

// A loop that cannot be a kernel (a dynamic temporary per iteration) runs
// sequentially on the host; the parallel loops inside it become kernels.
// CHECK-LABEL: func @descend
//       CHECK:   scf.for %[[I:.+]] =
//       CHECK:     %[[T:.+]] = memref.alloc(%{{.+}}) : memref<?xf32>
//       CHECK:     gpu.launch
//       CHECK:       memref.store %{{.+}}, %[[T]][%{{.+}}]
//       CHECK:     gpu.launch
//       CHECK:       memref.load %[[T]]
//       CHECK:       memref.store %{{.+}}, %{{.+}}[%[[I]], %{{.+}}]
//       CHECK:     memref.dealloc %[[T]]
//   CHECK-NOT:   scf.parallel
func.func @descend(%m: memref<4x?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %t = memref.alloc(%n) : memref<?xf32>
    scf.parallel (%j) = (%c0) to (%n) step (%c1) {
      memref.store %f, %t[%j] : memref<?xf32>
    }
    scf.parallel (%j) = (%c0) to (%n) step (%c1) {
      %v = memref.load %t[%j] : memref<?xf32>
      memref.store %v, %m[%i, %j] : memref<4x?xf32>
    }
    memref.dealloc %t : memref<?xf32>
  }
  return
}
