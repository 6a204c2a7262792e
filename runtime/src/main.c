/*===- main.c - The main of standalone Loom executables -------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * Linked with a compiled model's object by `loomc model.onnx -o model`:
 *   ./model --inputs DIR --outputs DIR [--npy]
 * reads DIR/input_<i>.pb (or .npy), runs the model, writes output_<i>.pb (or
 * .npy with --npy). Exit status: 0 on success, 2 on any error.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/loomrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void loom_entry(void **args);
extern const char loom_signature[];

static int fail(loomrt_status s) {
  fprintf(stderr, "error: %s\n", loomrt_status_get_message(s));
  loomrt_status_free(s);
  return 2;
}

int main(int argc, char **argv) {
  const char *in_dir = NULL, *out_dir = NULL;
  int npy = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--inputs") == 0 && i + 1 < argc)
      in_dir = argv[++i];
    else if (strcmp(argv[i], "--outputs") == 0 && i + 1 < argc)
      out_dir = argv[++i];
    else if (strcmp(argv[i], "--npy") == 0)
      npy = 1;
    else if (strcmp(argv[i], "--help") == 0) {
      printf("usage: %s --inputs DIR --outputs DIR [--npy]\n"
             "Reads DIR/input_<i>.pb (or .npy), runs the compiled model and "
             "writes output_<i>.pb (.npy with --npy).\n"
             "Exit status: 0 on success, 2 on an error.\n",
             argv[0]);
      return 0;
    } else {
      fprintf(stderr, "error: unknown argument '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (!in_dir || !out_dir) {
    fprintf(stderr, "error: --inputs DIR and --outputs DIR are required\n");
    return 2;
  }
  loomrt_model *model;
  loomrt_status s = loomrt_model_create(loom_entry, loom_signature, &model);
  if (s)
    return fail(s);
  size_t ni = loomrt_model_num_inputs(model), no = loomrt_model_num_outputs(model);
  loomrt_tensor **inputs = calloc(ni + 1, sizeof *inputs);
  loomrt_tensor **outputs = calloc(no + 1, sizeof *outputs);
  if (!inputs || !outputs)
    return fail(loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "out of memory"));
  int rc = 0;
  if ((s = loomrt_read_inputs(model, in_dir, inputs)) ||
      (s = loomrt_model_run(model, inputs, ni, outputs, no)) ||
      (s = loomrt_write_outputs(out_dir, outputs, no, npy)))
    rc = fail(s);
  loomrt_tensors_destroy(inputs, ni);
  loomrt_tensors_destroy(outputs, no);
  free(inputs);
  free(outputs);
  loomrt_model_destroy(model);
  return rc;
}
