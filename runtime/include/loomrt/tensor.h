/*===- tensor.h - Loom runtime tensors ----------------------------*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_TENSOR_H
#define LOOMRT_TENSOR_H

#include "loomrt/status.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Element types. Values equal ONNX TensorProto.DataType codes.
typedef enum loomrt_dtype {
  LOOMRT_DTYPE_UNDEFINED = 0,
  LOOMRT_DTYPE_F32 = 1,
  LOOMRT_DTYPE_U8 = 2,
  LOOMRT_DTYPE_I8 = 3,
  LOOMRT_DTYPE_U16 = 4,
  LOOMRT_DTYPE_I16 = 5,
  LOOMRT_DTYPE_I32 = 6,
  LOOMRT_DTYPE_I64 = 7,
  LOOMRT_DTYPE_BOOL = 9,
  LOOMRT_DTYPE_F16 = 10,
  LOOMRT_DTYPE_F64 = 11,
  LOOMRT_DTYPE_U32 = 12,
  LOOMRT_DTYPE_U64 = 13,
  LOOMRT_DTYPE_BF16 = 16,
} loomrt_dtype;

/// The largest rank the runtime accepts.
#define LOOMRT_MAX_RANK 16
/// The largest tensor (in bytes) the runtime allocates: 16 GiB.
#define LOOMRT_MAX_TENSOR_BYTES (((uint64_t)16) << 30)

/// A dense, row-major tensor. `dims` has `rank` entries. The tensor owns
/// `data` (`nbytes` long) and `name` (may be NULL). `data` was malloc'ed,
/// or, when `allocation` is not NULL, lies inside the malloc'ed block
/// `allocation` (a model's output buffer, taken over without a copy).
///
/// With `is_sequence` set it is an ONNX sequence instead: `elements` holds
/// `num_elements` owned tensors of element type `dtype` and rank `rank`
/// (their dims may differ); `dims`, `data` and `nbytes` are unused.
typedef struct loomrt_tensor {
  loomrt_dtype dtype;
  int32_t rank;
  int64_t dims[LOOMRT_MAX_RANK];
  void *data;
  size_t nbytes;
  char *name;
  int32_t is_sequence;
  size_t num_elements;
  struct loomrt_tensor **elements;
  void *allocation;
} loomrt_tensor;

/// Size in bytes of one element of `dtype`; 0 for unknown types.
LOOMRT_API size_t loomrt_dtype_size(loomrt_dtype dtype);

/// Name of `dtype`, e.g. "float32"; "undefined" for unknown types.
LOOMRT_API const char *loomrt_dtype_name(loomrt_dtype dtype);

/// Computes the element count of `dims` into `*numel`. Fails with
/// INVALID_ARGUMENT on a negative dim or rank, LIMIT_EXCEEDED when the byte
/// size for `dtype` would pass LOOMRT_MAX_TENSOR_BYTES.
LOOMRT_API loomrt_status loomrt_shape_numel(loomrt_dtype dtype, int32_t rank,
                                            const int64_t *dims,
                                            uint64_t *numel);

/// Allocates a zero-filled tensor. On success `*out` owns its data; free it
/// with loomrt_tensor_destroy.
LOOMRT_API loomrt_status loomrt_tensor_create(loomrt_dtype dtype, int32_t rank,
                                              const int64_t *dims,
                                              loomrt_tensor **out);

/// Makes a sequence of `count` tensors, taking ownership of each
/// `elements[i]` (the array itself is copied). Fails with DTYPE_MISMATCH or
/// SHAPE_MISMATCH when an element's dtype or rank differs from `dtype` and
/// `rank`; then the elements are freed.
LOOMRT_API loomrt_status loomrt_sequence_create(loomrt_dtype dtype,
                                                int32_t rank,
                                                loomrt_tensor **elements,
                                                size_t count,
                                                loomrt_tensor **out);

/// Number of elements of `tensor`.
LOOMRT_API uint64_t loomrt_tensor_numel(const loomrt_tensor *tensor);

/// Frees `tensor`, its data and its name; NULL is allowed.
LOOMRT_API void loomrt_tensor_destroy(loomrt_tensor *tensor);

/*===----------------------------------------------------------------------===*
 * Tensor files
 *===----------------------------------------------------------------------===*/

/// Parses a serialized ONNX TensorProto (inline raw or typed data; string
/// and external-data tensors are UNSUPPORTED).
LOOMRT_API loomrt_status loomrt_tensor_parse_pb(const void *bytes, size_t size,
                                                loomrt_tensor **out);

/// Parses a `.npy` file image (versions 1-3, little-endian, C order).
LOOMRT_API loomrt_status loomrt_tensor_parse_npy(const void *bytes,
                                                 size_t size,
                                                 loomrt_tensor **out);

/// Reads a tensor file: `.npy` by extension, ONNX TensorProto otherwise.
LOOMRT_API loomrt_status loomrt_tensor_read_file(const char *path,
                                                 loomrt_tensor **out);

/// Parses a serialized ONNX SequenceProto of tensors.
LOOMRT_API loomrt_status loomrt_sequence_parse_pb(const void *bytes,
                                                  size_t size,
                                                  loomrt_tensor **out);

/// Reads an ONNX SequenceProto file.
LOOMRT_API loomrt_status loomrt_sequence_read_file(const char *path,
                                                   loomrt_tensor **out);

/// Writes `tensor` as an ONNX TensorProto (raw_data) to `path`, or a
/// sequence as an ONNX SequenceProto.
LOOMRT_API loomrt_status loomrt_tensor_write_pb(const char *path,
                                                const loomrt_tensor *tensor);

/// Writes `tensor` as a version-1.0 `.npy` file to `path`.
LOOMRT_API loomrt_status loomrt_tensor_write_npy(const char *path,
                                                 const loomrt_tensor *tensor);

#ifdef __cplusplus
}
#endif

#endif /* LOOMRT_TENSOR_H */
