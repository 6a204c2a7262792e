// RUN: loom-opt %s -split-input-file --loom-to-linalg -verify-diagnostics

// Sparse weights that are not constants cannot be packed.
func.func @sparse_weights_argument(%x: tensor<2x64xf32>, %v: tensor<32x16xf32>, %i: tensor<16x16xi8>) -> tensor<2x16xf32> {
  // expected-error @+1 {{cannot lower 'loom.sparse_matmul' to linalg: its sparse weights must be constants (with block rows and offsets in range, 2:4 positions distinct)}}
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 16 : i64} : (tensor<2x64xf32>, tensor<32x16xf32>, tensor<16x16xi8>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// A block row past K.
func.func @sparse_block_row_out_of_range(%x: tensor<2x4xf32>) -> tensor<2x16xf32> {
  %v = arith.constant dense<1.0> : tensor<1x2x16xf32>
  %r = arith.constant dense<[2]> : tensor<1xi32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi32>
  // expected-error @+1 {{cannot lower 'loom.sparse_matmul' to linalg}}
  %0 = loom.sparse_matmul %x, %v, %r offsets %o {format = "block", block = array<i64: 2, 16>, columns = 16 : i64} : (tensor<2x4xf32>, tensor<1x2x16xf32>, tensor<1xi32>, tensor<2xi32>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// Offsets that run backwards.
func.func @sparse_block_offsets_backwards(%x: tensor<2x4xf32>) -> tensor<2x16xf32> {
  %v = arith.constant dense<1.0> : tensor<1x2x16xf32>
  %r = arith.constant dense<[0]> : tensor<1xi32>
  %o = arith.constant dense<[1, 0]> : tensor<2xi32>
  // expected-error @+1 {{cannot lower 'loom.sparse_matmul' to linalg}}
  %0 = loom.sparse_matmul %x, %v, %r offsets %o {format = "block", block = array<i64: 2, 16>, columns = 16 : i64} : (tensor<2x4xf32>, tensor<1x2x16xf32>, tensor<1xi32>, tensor<2xi32>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// 2:4 positions that name the same row twice.
func.func @sparse_2_4_same_row(%x: tensor<2x4xf32>) -> tensor<2x16xf32> {
  %v = arith.constant dense<1.0> : tensor<2x16xf32>
  %i = arith.constant dense<5> : tensor<1x16xi8>
  // expected-error @+1 {{cannot lower 'loom.sparse_matmul' to linalg}}
  %0 = loom.sparse_matmul %x, %v, %i {format = "2:4", columns = 16 : i64} : (tensor<2x4xf32>, tensor<2x16xf32>, tensor<1x16xi8>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// Routed attention has only a tiled form (loom-tile-attention).
func.func @routed_untiled(%q: tensor<1x8x16xf32>) -> tensor<1x8x16xf32> {
  // expected-error @+1 {{cannot lower 'loom.attention' to linalg: routed attention lowers through loom-tile-attention}}
  %0 = loom.attention %q, %q, %q {routed = array<i64: 4, 1>} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return %0 : tensor<1x8x16xf32>
}
