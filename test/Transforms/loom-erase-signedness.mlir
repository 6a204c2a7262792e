// RUN: loom-opt %s -split-input-file --loom-erase-signedness | FileCheck %s

// Function, block argument and result types become signless; bitcasts that
// turn into no-ops disappear.
// CHECK-LABEL: func @unsigned
//  CHECK-SAME:   (%[[A:.+]]: tensor<4xi8>) -> tensor<4xi8>
//   CHECK-NOT:   tensor.bitcast
//       CHECK:   linalg.generic {{.*}} ins(%[[A]] : tensor<4xi8>)
//       CHECK:   ^bb0(%{{.+}}: i8, %{{.+}}: i8):
//   CHECK-NOT:   ui8
func.func @unsigned(%a: tensor<4xui8>) -> tensor<4xui8> {
  %0 = tensor.bitcast %a : tensor<4xui8> to tensor<4xi8>
  %e = tensor.empty() : tensor<4xi8>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%0 : tensor<4xi8>) outs(%e : tensor<4xi8>) {
  ^bb0(%in: i8, %out: i8):
    linalg.yield %in : i8
  } -> tensor<4xi8>
  %2 = tensor.bitcast %1 : tensor<4xi8> to tensor<4xui8>
  return %2 : tensor<4xui8>
}

// -----

// A bitcast between different widths stays.
// CHECK-LABEL: func @real_bitcast
//       CHECK:   tensor.bitcast %{{.+}} : tensor<2xi32> to tensor<2xf32>
func.func @real_bitcast(%a: tensor<2xui32>) -> tensor<2xf32> {
  %0 = tensor.bitcast %a : tensor<2xui32> to tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Constants keep their bits under the signless type: dense values (splat
// and not) and resource blobs.
// CHECK-LABEL: func @constants
//       CHECK:   arith.constant dense<[-56, 7]> : tensor<2xi8>
//       CHECK:   arith.constant dense<-1> : tensor<3xi16>
//       CHECK:   arith.constant dense_resource<blob> : tensor<2xi8>
// CHECK: blob: "0x01000000C807"
func.func @constants() -> (tensor<2xui8>, tensor<3xsi16>, tensor<2xui8>) {
  %0 = arith.constant dense<[200, 7]> : tensor<2xui8>
  %1 = arith.constant dense<-1> : tensor<3xsi16>
  %2 = arith.constant dense_resource<blob> : tensor<2xui8>
  return %0, %1, %2 : tensor<2xui8>, tensor<3xsi16>, tensor<2xui8>
}

{-#
  dialect_resources: {
    builtin: {
      blob: "0x01000000C807"
    }
  }
#-}
