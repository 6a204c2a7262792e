// RUN: loom-opt %s -split-input-file --loom-attention-spans="window=64" | FileCheck %s
// RUN: loom-opt %s -split-input-file --loom-attention-spans="window=16 layers=0,2" | FileCheck %s --check-prefix=LAYERS
// RUN: loom-opt %s -split-input-file --loom-attention-spans="block-size=64 local-blocks=2 global-blocks=0 layers=1" | FileCheck %s --check-prefix=BLOCKS
// RUN: not loom-opt %s -split-input-file --loom-attention-spans="block-size=64 local-blocks=-1" 2>&1 | FileCheck %s --check-prefix=NEG
// NEG: error: local and global blocks must not be negative
// RUN: loom-opt %s -split-input-file --loom-attention-spans="window=16" --loom-attention-spans="full=true layers=1" | FileCheck %s --check-prefix=FULL
// RUN: not loom-opt %s -split-input-file --loom-attention-spans="window=16 full=true" 2>&1 | FileCheck %s --check-prefix=BOTH
// BOTH: error: give a window >= 1, a block size >= 1 or a route block size >= 1, or full (window 16, block size 0, route block size 0)
// RUN: loom-opt %s -split-input-file --loom-attention-spans="route-block-size=32 route-top=2 layers=1,2" | FileCheck %s --check-prefix=ROUTED
// RUN: not loom-opt %s -split-input-file --loom-attention-spans="route-block-size=32 window=4" 2>&1 | FileCheck %s --check-prefix=ROUTEWIN
// ROUTEWIN: error: routed attention takes no window or block layout, and at least one key block
// RUN: not loom-opt %s -split-input-file --loom-attention-spans="window=16 layers=3" 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: attention layer 3 does not exist (the model has 3, numbered from 0)
// RUN: not loom-opt %s -split-input-file --loom-attention-spans="window=0" 2>&1 | FileCheck %s --check-prefix=ZERO
// ZERO: error: give a window >= 1, a block size >= 1 or a route block size >= 1, or full (window 0, block size 0, route block size 0)

// Every attention op gets the window by default; with `layers`, only those
// (program order), the others stay full.
// CHECK-LABEL: func @three_layers
//       CHECK:   loom.attention %arg0, %arg0, %arg0 {causal, window = 64 : i64}
//       CHECK:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} {window = 64 : i64}
//       CHECK:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} {causal, window = 64 : i64}
// LAYERS-LABEL: func @three_layers
//       LAYERS:   loom.attention %arg0, %arg0, %arg0 {causal, window = 16 : i64}
//       LAYERS:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} :
//       LAYERS:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} {causal, window = 16 : i64}
// A later pass with `full` takes layer 1's window away.
// FULL-LABEL: func @three_layers
//       FULL:   loom.attention %arg0, %arg0, %arg0 {causal, window = 16 : i64} :
//       FULL:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} :
//       FULL:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} {causal, window = 16 : i64} :
// ROUTED-LABEL: func @three_layers
//       ROUTED:   loom.attention %arg0, %arg0, %arg0 {causal} :
//       ROUTED:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} {routed = array<i64: 32, 2>} :
//       ROUTED:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} {causal, routed = array<i64: 32, 2>} :
// BLOCKS-LABEL: func @three_layers
//       BLOCKS:   loom.attention %arg0, %arg0, %arg0 {causal} :
//       BLOCKS:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} {block_sparse = array<i64: 64, 2, 0>} :
//       BLOCKS:   loom.attention %{{.+}}, %{{.+}}, %{{.+}} {causal} :
func.func @three_layers(%x: tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32> {
  %a = loom.attention %x, %x, %x {causal} : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
  %b = loom.attention %a, %a, %a : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
  %c = loom.attention %b, %b, %b {causal} : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
  return %c : tensor<1x2x8x4xf32>
}

// -----

// Nothing to window: a warning, the module unchanged.
// RUN: loom-opt %s -split-input-file --loom-attention-spans="window=4" 2>&1 | FileCheck %s --check-prefix=WARN
// WARN: warning: no attention to change: the model has no loom.attention (was its attention raised?)
// CHECK-LABEL: func @no_attention
//       CHECK:   return %arg0
func.func @no_attention(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
