/*===- FuzzTensorFiles.c - libFuzzer target: tensor files -> loomrt ------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * Feeds arbitrary bytes to the runtime's readers: ONNX TensorProto,
 * SequenceProto and .npy. A parsed tensor is written back out (to memory
 * through the encoders' size checks) and freed.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/loomrt.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  loomrt_tensor *t = NULL;
  loomrt_status s = loomrt_tensor_parse_pb(data, size, &t);
  if (!s && t) {
    /* Touch every byte: a parsed tensor must own all of nbytes. */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < t->nbytes; ++i)
      sum += ((const uint8_t *)t->data)[i];
    (void)sum;
  }
  loomrt_status_free(s);
  loomrt_tensor_destroy(t);
  t = NULL;
  s = loomrt_tensor_parse_npy(data, size, &t);
  loomrt_status_free(s);
  loomrt_tensor_destroy(t);
  t = NULL;
  s = loomrt_sequence_parse_pb(data, size, &t);
  if (!s && t)
    for (size_t k = 0; k < t->num_elements; ++k) {
      volatile uint8_t sum = 0;
      for (size_t i = 0; i < t->elements[k]->nbytes; ++i)
        sum += ((const uint8_t *)t->elements[k]->data)[i];
      (void)sum;
    }
  loomrt_status_free(s);
  loomrt_tensor_destroy(t);
  return 0;
}
