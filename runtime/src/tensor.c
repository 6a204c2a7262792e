/*===- tensor.c - Loom runtime tensors ------------------------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/tensor.h"

#include <stdlib.h>
#include <string.h>

size_t loomrt_dtype_size(loomrt_dtype dtype) {
  switch (dtype) {
  case LOOMRT_DTYPE_F32:
  case LOOMRT_DTYPE_I32:
  case LOOMRT_DTYPE_U32:
    return 4;
  case LOOMRT_DTYPE_U8:
  case LOOMRT_DTYPE_I8:
  case LOOMRT_DTYPE_BOOL:
    return 1;
  case LOOMRT_DTYPE_U16:
  case LOOMRT_DTYPE_I16:
  case LOOMRT_DTYPE_F16:
  case LOOMRT_DTYPE_BF16:
    return 2;
  case LOOMRT_DTYPE_I64:
  case LOOMRT_DTYPE_F64:
  case LOOMRT_DTYPE_U64:
    return 8;
  default:
    return 0;
  }
}

const char *loomrt_dtype_name(loomrt_dtype dtype) {
  switch (dtype) {
  case LOOMRT_DTYPE_F32:
    return "float32";
  case LOOMRT_DTYPE_U8:
    return "uint8";
  case LOOMRT_DTYPE_I8:
    return "int8";
  case LOOMRT_DTYPE_U16:
    return "uint16";
  case LOOMRT_DTYPE_I16:
    return "int16";
  case LOOMRT_DTYPE_I32:
    return "int32";
  case LOOMRT_DTYPE_I64:
    return "int64";
  case LOOMRT_DTYPE_BOOL:
    return "bool";
  case LOOMRT_DTYPE_F16:
    return "float16";
  case LOOMRT_DTYPE_F64:
    return "float64";
  case LOOMRT_DTYPE_U32:
    return "uint32";
  case LOOMRT_DTYPE_U64:
    return "uint64";
  case LOOMRT_DTYPE_BF16:
    return "bfloat16";
  default:
    return "undefined";
  }
}

loomrt_status loomrt_shape_numel(loomrt_dtype dtype, int32_t rank,
                                 const int64_t *dims, uint64_t *numel) {
  size_t elem = loomrt_dtype_size(dtype);
  if (elem == 0)
    return loomrt_status_make(LOOMRT_UNSUPPORTED, "unsupported element type %d",
                              (int)dtype);
  if (rank < 0 || rank > LOOMRT_MAX_RANK)
    return loomrt_status_make(LOOMRT_LIMIT_EXCEEDED,
                              "rank %d is outside [0, %d]", (int)rank,
                              LOOMRT_MAX_RANK);
  uint64_t n = 1;
  int zero = 0;
  for (int32_t i = 0; i < rank; ++i) {
    if (dims[i] < 0)
      return loomrt_status_make(LOOMRT_INVALID_ARGUMENT,
                                "dimension %d is negative (%lld)", (int)i,
                                (long long)dims[i]);
    if (dims[i] == 0) {
      zero = 1;
      continue;
    }
    if (n > LOOMRT_MAX_TENSOR_BYTES / elem / (uint64_t)dims[i])
      return loomrt_status_make(
          LOOMRT_LIMIT_EXCEEDED,
          "tensor exceeds the runtime limit of %llu bytes",
          (unsigned long long)LOOMRT_MAX_TENSOR_BYTES);
    n *= (uint64_t)dims[i];
  }
  *numel = zero ? 0 : n;
  return NULL;
}

loomrt_status loomrt_tensor_create(loomrt_dtype dtype, int32_t rank,
                                   const int64_t *dims, loomrt_tensor **out) {
  *out = NULL;
  uint64_t numel;
  loomrt_status s = loomrt_shape_numel(dtype, rank, dims, &numel);
  if (s)
    return s;
  loomrt_tensor *t = calloc(1, sizeof *t);
  if (!t)
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot allocate tensor");
  t->dtype = dtype;
  t->rank = rank;
  for (int32_t i = 0; i < rank; ++i)
    t->dims[i] = dims[i];
  t->nbytes = (size_t)numel * loomrt_dtype_size(dtype);
  /* Allocate at least one byte so that data is never NULL. */
  t->data = calloc(t->nbytes ? t->nbytes : 1, 1);
  if (!t->data) {
    free(t);
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY,
                              "cannot allocate %zu bytes of tensor data",
                              (size_t)numel * loomrt_dtype_size(dtype));
  }
  *out = t;
  return NULL;
}

uint64_t loomrt_tensor_numel(const loomrt_tensor *tensor) {
  uint64_t n = 1;
  for (int32_t i = 0; i < tensor->rank; ++i)
    n *= (uint64_t)tensor->dims[i];
  return n;
}

loomrt_status loomrt_sequence_create(loomrt_dtype dtype, int32_t rank,
                                     loomrt_tensor **elements, size_t count,
                                     loomrt_tensor **out) {
  *out = NULL;
  loomrt_status s = NULL;
  for (size_t i = 0; i < count && !s; ++i) {
    if (elements[i]->is_sequence)
      s = loomrt_status_make(LOOMRT_UNSUPPORTED, "sequence element %zu is a "
                             "sequence", i);
    else if (elements[i]->dtype != dtype)
      s = loomrt_status_make(LOOMRT_DTYPE_MISMATCH,
                             "sequence element %zu has element type %s, not %s",
                             i, loomrt_dtype_name(elements[i]->dtype),
                             loomrt_dtype_name(dtype));
    else if (elements[i]->rank != rank)
      s = loomrt_status_make(LOOMRT_SHAPE_MISMATCH,
                             "sequence element %zu has rank %d, not %d", i,
                             (int)elements[i]->rank, (int)rank);
  }
  loomrt_tensor *t = s ? NULL : calloc(1, sizeof *t);
  loomrt_tensor **copy =
      s ? NULL : calloc(count ? count : 1, sizeof *copy);
  if (!s && (!t || !copy))
    s = loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot allocate sequence");
  if (s) {
    for (size_t i = 0; i < count; ++i)
      loomrt_tensor_destroy(elements[i]);
    free(t);
    free(copy);
    return s;
  }
  if (count)
    memcpy(copy, elements, count * sizeof *copy);
  t->dtype = dtype;
  t->rank = rank;
  t->is_sequence = 1;
  t->num_elements = count;
  t->elements = copy;
  *out = t;
  return NULL;
}

void loomrt_tensor_destroy(loomrt_tensor *tensor) {
  if (!tensor)
    return;
  for (size_t i = 0; i < tensor->num_elements; ++i)
    loomrt_tensor_destroy(tensor->elements[i]);
  free(tensor->elements);
  free(tensor->allocation ? tensor->allocation : tensor->data);
  free(tensor->name);
  free(tensor);
}
