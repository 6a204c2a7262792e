/*===- model.h - Loading and running compiled models --------------*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * A compiled model exports two symbols (docs/Runtime.md):
 *   void loom_entry(void **args);   args[0]: results, args[1..n]: inputs
 *   const char loom_signature[];    names, dtypes and dims of the I/O
 * The runtime validates every input against the signature before calling.
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_MODEL_H
#define LOOMRT_MODEL_H

#include "loomrt/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A loaded model; opaque.
typedef struct loomrt_model loomrt_model;

/// The compiled entry point.
typedef void (*loomrt_entry_fn)(void **args);

/// Name, element type and shape of one input or output. `dims[i]` is -1 for
/// a dynamic dim; `dim_names[i]` names a symbolic dim (NULL if it has none).
/// Dynamic dims with the same name must agree across the inputs of a run.
/// With `is_sequence` set, the value is an ONNX sequence of tensors of
/// `dtype` and `rank` (each of any dims).
typedef struct loomrt_value_info {
  const char *name;
  loomrt_dtype dtype;
  int32_t rank;
  int64_t dims[LOOMRT_MAX_RANK];
  const char *dim_names[LOOMRT_MAX_RANK];
  int32_t is_sequence;
} loomrt_value_info;

/// dlopen()s a compiled model (.so) and parses its signature.
LOOMRT_API loomrt_status loomrt_model_load(const char *path,
                                           loomrt_model **out);

/// Wraps an entry point linked into the program (standalone executables).
LOOMRT_API loomrt_status loomrt_model_create(loomrt_entry_fn entry,
                                             const char *signature,
                                             loomrt_model **out);

LOOMRT_API size_t loomrt_model_num_inputs(const loomrt_model *model);
LOOMRT_API size_t loomrt_model_num_outputs(const loomrt_model *model);
/// Info of input `i` (NULL when out of range); owned by the model.
LOOMRT_API const loomrt_value_info *loomrt_model_input(const loomrt_model *model,
                                                       size_t i);
/// Info of output `i` (NULL when out of range); owned by the model.
LOOMRT_API const loomrt_value_info *
loomrt_model_output(const loomrt_model *model, size_t i);

/// Runs the model. `inputs` are borrowed; on success `outputs[i]` receives
/// new tensors owned by the caller. Every input is validated first (count,
/// dtype, rank, static dims, named dynamic dims); a mismatch returns
/// INVALID_ARGUMENT, DTYPE_MISMATCH or SHAPE_MISMATCH and runs nothing.
LOOMRT_API loomrt_status loomrt_model_run(loomrt_model *model,
                                          loomrt_tensor *const *inputs,
                                          size_t num_inputs,
                                          loomrt_tensor **outputs,
                                          size_t num_outputs);

/// Reads `dir/input_<i>.pb` (or `.npy`) for every input of `model` into
/// `inputs[i]`. On failure every tensor read so far is freed.
LOOMRT_API loomrt_status loomrt_read_inputs(const loomrt_model *model,
                                            const char *dir,
                                            loomrt_tensor **inputs);

/// Reads `dir/<prefix>_<index>.pb`, or `.npy` when there is no `.pb`. A
/// missing file is an IO_ERROR naming both candidates.
LOOMRT_API loomrt_status loomrt_read_indexed_tensor(const char *dir,
                                                   const char *prefix,
                                                   size_t index,
                                                   loomrt_tensor **out);

/// Like loomrt_read_indexed_tensor; with `sequence` set, reads an ONNX
/// SequenceProto (`.pb` only) into a sequence tensor.
LOOMRT_API loomrt_status loomrt_read_indexed_value(const char *dir,
                                                   const char *prefix,
                                                   size_t index, int sequence,
                                                   loomrt_tensor **out);

/// Writes `outputs[i]` to `dir/output_<i>.pb` (`.npy` when `npy`).
LOOMRT_API loomrt_status loomrt_write_outputs(const char *dir,
                                              loomrt_tensor *const *outputs,
                                              size_t count, int npy);

/// Destroys `count` tensors of `tensors` (NULL entries allowed) and sets the
/// entries to NULL.
LOOMRT_API void loomrt_tensors_destroy(loomrt_tensor **tensors, size_t count);

/// GPU models: starts (`enable` 1) or stops (0) timing every kernel launch
/// with CUDA events, and clears what was measured. Returns 1 when timing is
/// on; 0 for CPU models, when stopping, or when the device cannot time.
LOOMRT_API int loomrt_model_time_kernels(loomrt_model *model, int enable);

/// The device time in ms of the kernels timed since the last call (or since
/// timing started), their count in `*launches` (may be NULL); resets both.
LOOMRT_API double loomrt_model_take_kernel_ms(loomrt_model *model,
                                              long long *launches);

/// GPU models, per kernel since timing last started: returns the number of
/// kernels; for `i` below it sets the i-th kernel's name (owned by the
/// model), its device time in ms and its launches. 0 for CPU models.
LOOMRT_API int loomrt_model_kernel_stats(loomrt_model *model, int i,
                                         const char **name, double *ms,
                                         long long *launches);

/// Frees the model (and dlclose()s it).
LOOMRT_API void loomrt_model_destroy(loomrt_model *model);

#ifdef __cplusplus
}
#endif

#endif /* LOOMRT_MODEL_H */
