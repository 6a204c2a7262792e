// RUN: loom-opt %s -split-input-file --loom-prepare-abi | FileCheck %s

// A returned argument is copied into a fresh allocation; @main is renamed
// and gets the C interface; importer attributes are dropped.
// CHECK-LABEL: func.func @loom_main
//  CHECK-SAME:   (%[[A:.+]]: memref<?xf32>) -> memref<?xf32> attributes {llvm.emit_c_interface}
//       CHECK:   %[[N:.+]] = memref.dim %[[A]]
//       CHECK:   %[[NEW:.+]] = memref.alloc(%[[N]]) {alignment = 64 : i64} : memref<?xf32>
//       CHECK:   memref.copy %[[A]], %[[NEW]]
//       CHECK:   return %[[NEW]]
func.func @main(%a: memref<?xf32> {onnx.name = "x"}) -> (memref<?xf32> {onnx.name = "y"}) {
  return %a : memref<?xf32>
}

// -----

// A fresh allocation is returned as is; returned twice, the second is copied.
// CHECK-LABEL: func.func @twice
//       CHECK:   %[[A:.+]] = memref.alloc() : memref<4xf32>
//       CHECK:   %[[B:.+]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
//       CHECK:   memref.copy %[[A]], %[[B]]
//       CHECK:   return %[[A]], %[[B]]
func.func @twice() -> (memref<4xf32>, memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  return %a, %a : memref<4xf32>, memref<4xf32>
}

// -----

// Private functions are left alone.
// CHECK-LABEL: func.func private @helper
//   CHECK-NOT:   memref.copy
func.func private @helper(%a: memref<4xf32>) -> memref<4xf32> {
  return %a : memref<4xf32>
}
