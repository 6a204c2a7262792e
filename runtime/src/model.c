/*===- model.c - Loading and running compiled models ----------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * Memref descriptors (MLIR's C interface) are built as arrays of 64-bit
 * slots: allocated pointer, aligned pointer, offset, sizes[rank],
 * strides[rank]. Results are the same descriptors, back to back.
 *
 *===----------------------------------------------------------------------===*/

#define _POSIX_C_SOURCE 200809L
#include "loomrt/model.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loomrt_model {
  void *handle;
  loomrt_entry_fn entry;
  size_t num_inputs, num_outputs;
  loomrt_value_info *inputs, *outputs;
  char *strings; /* storage of names */
};

/*===----------------------------------------------------------------------===*
 * Signature
 *===----------------------------------------------------------------------===*/

/// Undoes %XX escapes in place.
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; ++r) {
    if (r[0] == '%' && r[1] && r[2]) {
      char hex[3] = {r[1], r[2], 0};
      *w++ = (char)strtol(hex, NULL, 16);
      r += 2;
    } else {
      *w++ = *r;
    }
  }
  *w = 0;
}

static int valid_dtype(long code) {
  return loomrt_dtype_size((loomrt_dtype)code) != 0;
}

/// Parses one "input|output name dtype rank dims..." line (tokenized in
/// place) into `info`.
static int parse_value(char *save, loomrt_value_info *info) {
  char *name = strtok_r(NULL, " \n", &save);
  char *dtype = strtok_r(NULL, " \n", &save);
  char *rank = strtok_r(NULL, " \n", &save);
  if (!name || !dtype || !rank)
    return 0;
  unescape(name);
  info->name = name;
  long code = strtol(dtype, NULL, 10), r = strtol(rank, NULL, 10);
  if (!valid_dtype(code) || r < 0 || r > LOOMRT_MAX_RANK)
    return 0;
  info->dtype = (loomrt_dtype)code;
  info->rank = (int32_t)r;
  for (long i = 0; i < r; ++i) {
    char *d = strtok_r(NULL, " \n", &save);
    if (!d)
      return 0;
    info->dim_names[i] = NULL;
    if (d[0] == '?') {
      info->dims[i] = -1;
      if (d[1]) {
        unescape(d + 1);
        info->dim_names[i] = d + 1;
      }
    } else {
      info->dims[i] = strtoll(d, NULL, 10);
    }
  }
  return 1;
}

static loomrt_status parse_signature(loomrt_model *m, const char *sig) {
  if (strncmp(sig, "loom-signature 1\n", 17) != 0)
    return loomrt_status_make(LOOMRT_PARSE_ERROR,
                              "the model's signature has an unknown version");
  m->strings = strdup(sig);
  if (!m->strings)
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot copy signature");
  size_t lines = 0;
  for (const char *p = sig; *p; ++p)
    lines += *p == '\n';
  m->inputs = calloc(lines, sizeof *m->inputs);
  m->outputs = calloc(lines, sizeof *m->outputs);
  if (!m->inputs || !m->outputs)
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot parse signature");
  char *line_save = NULL;
  char *line = strtok_r(m->strings, "\n", &line_save); /* the header */
  while ((line = strtok_r(NULL, "\n", &line_save))) {
    char *save = NULL;
    char *kind = strtok_r(line, " ", &save);
    loomrt_value_info *info;
    if (kind && strcmp(kind, "input") == 0)
      info = &m->inputs[m->num_inputs++];
    else if (kind && strcmp(kind, "output") == 0)
      info = &m->outputs[m->num_outputs++];
    else
      return loomrt_status_make(LOOMRT_PARSE_ERROR,
                                "malformed model signature line");
    if (!parse_value(save, info))
      return loomrt_status_make(LOOMRT_PARSE_ERROR,
                                "malformed model signature entry");
  }
  return NULL;
}

loomrt_status loomrt_model_create(loomrt_entry_fn entry, const char *signature,
                                  loomrt_model **out) {
  *out = NULL;
  loomrt_model *m = calloc(1, sizeof *m);
  if (!m)
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot allocate model");
  m->entry = entry;
  loomrt_status s = parse_signature(m, signature);
  if (s) {
    loomrt_model_destroy(m);
    return s;
  }
  *out = m;
  return NULL;
}

loomrt_status loomrt_model_load(const char *path, loomrt_model **out) {
  *out = NULL;
  /* dlopen() searches the library path for names without a slash. */
  char local[4096];
  if (!strchr(path, '/')) {
    snprintf(local, sizeof local, "./%s", path);
    path = local;
  }
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return loomrt_status_make(LOOMRT_IO_ERROR, "cannot load model '%s': %s",
                              path, dlerror());
  void *entry = dlsym(handle, "loom_entry");
  const char *sig = (const char *)dlsym(handle, "loom_signature");
  if (!entry || !sig) {
    dlclose(handle);
    return loomrt_status_make(LOOMRT_INVALID_ARGUMENT,
                              "'%s' is not a Loom model (no loom_entry or "
                              "loom_signature)",
                              path);
  }
  loomrt_entry_fn fn;
  memcpy(&fn, &entry, sizeof fn);
  loomrt_status s = loomrt_model_create(fn, sig, out);
  if (s) {
    dlclose(handle);
    return s;
  }
  (*out)->handle = handle;
  return NULL;
}

size_t loomrt_model_num_inputs(const loomrt_model *m) { return m->num_inputs; }
size_t loomrt_model_num_outputs(const loomrt_model *m) {
  return m->num_outputs;
}
const loomrt_value_info *loomrt_model_input(const loomrt_model *m, size_t i) {
  return i < m->num_inputs ? &m->inputs[i] : NULL;
}
const loomrt_value_info *loomrt_model_output(const loomrt_model *m, size_t i) {
  return i < m->num_outputs ? &m->outputs[i] : NULL;
}

void loomrt_model_destroy(loomrt_model *m) {
  if (!m)
    return;
  if (m->handle)
    dlclose(m->handle);
  free(m->inputs);
  free(m->outputs);
  free(m->strings);
  free(m);
}

/*===----------------------------------------------------------------------===*
 * Running
 *===----------------------------------------------------------------------===*/

static void format_dims(char *buf, size_t n, int32_t rank,
                        const int64_t *dims) {
  size_t used = (size_t)snprintf(buf, n, "[");
  for (int32_t i = 0; i < rank && used < n; ++i)
    used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "",
                             (long long)dims[i]);
  if (used < n)
    snprintf(buf + used, n - used, "]");
}

/// Checks `inputs` against the signature.
static loomrt_status validate(const loomrt_model *m,
                              loomrt_tensor *const *inputs, size_t n) {
  if (n != m->num_inputs)
    return loomrt_status_make(LOOMRT_INVALID_ARGUMENT,
                              "the model takes %zu inputs, got %zu",
                              m->num_inputs, n);
  for (size_t i = 0; i < n; ++i) {
    const loomrt_value_info *info = &m->inputs[i];
    const loomrt_tensor *t = inputs[i];
    if (!t)
      return loomrt_status_make(LOOMRT_INVALID_ARGUMENT, "input %zu ('%s') is "
                                "missing", i, info->name);
    if (t->dtype != info->dtype)
      return loomrt_status_make(LOOMRT_DTYPE_MISMATCH,
                                "input %zu ('%s') has element type %s, the "
                                "model expects %s",
                                i, info->name, loomrt_dtype_name(t->dtype),
                                loomrt_dtype_name(info->dtype));
    if (t->rank != info->rank)
      return loomrt_status_make(LOOMRT_SHAPE_MISMATCH,
                                "input %zu ('%s') has rank %d, the model "
                                "expects %d",
                                i, info->name, (int)t->rank, (int)info->rank);
    for (int32_t d = 0; d < t->rank; ++d) {
      if (info->dims[d] >= 0 && t->dims[d] != info->dims[d]) {
        char got[256], want[256];
        format_dims(got, sizeof got, t->rank, t->dims);
        format_dims(want, sizeof want, info->rank, info->dims);
        return loomrt_status_make(LOOMRT_SHAPE_MISMATCH,
                                  "input %zu ('%s') has shape %s, the model "
                                  "expects %s (-1: any) at dim %d",
                                  i, info->name, got, want, (int)d);
      }
      if (!info->dim_names[d])
        continue;
      /* The same symbolic dim must agree with every earlier occurrence. */
      for (size_t j = 0; j <= i; ++j)
        for (int32_t e = 0; e < m->inputs[j].rank; ++e) {
          if (j == i && e >= d)
            break;
          const char *other = m->inputs[j].dim_names[e];
          if (other && strcmp(other, info->dim_names[d]) == 0 &&
              inputs[j]->dims[e] != t->dims[d])
            return loomrt_status_make(
                LOOMRT_SHAPE_MISMATCH,
                "dimension '%s' is %lld in input %zu ('%s') but %lld in "
                "input %zu ('%s')",
                info->dim_names[d], (long long)inputs[j]->dims[e], j,
                m->inputs[j].name, (long long)t->dims[d], i, info->name);
        }
    }
  }
  return NULL;
}

/// Number of 64-bit slots of a descriptor of `rank`.
static size_t desc_slots(int32_t rank) { return 3 + 2 * (size_t)rank; }

/// Fills a descriptor for a contiguous row-major tensor.
static void fill_desc(int64_t *desc, const loomrt_tensor *t) {
  void *data = t->data;
  memcpy(&desc[0], &data, sizeof data);
  memcpy(&desc[1], &data, sizeof data);
  desc[2] = 0;
  int64_t stride = 1;
  for (int32_t d = t->rank - 1; d >= 0; --d) {
    desc[3 + d] = t->dims[d];
    desc[3 + t->rank + d] = stride;
    stride *= t->dims[d];
  }
}

loomrt_status loomrt_model_run(loomrt_model *m, loomrt_tensor *const *inputs,
                               size_t num_inputs, loomrt_tensor **outputs,
                               size_t num_outputs) {
  loomrt_status s = validate(m, inputs, num_inputs);
  if (s)
    return s;
  if (num_outputs != m->num_outputs)
    return loomrt_status_make(LOOMRT_INVALID_ARGUMENT,
                              "the model has %zu outputs, got room for %zu",
                              m->num_outputs, num_outputs);
  size_t in_slots = 0, out_slots = 0;
  for (size_t i = 0; i < num_inputs; ++i)
    in_slots += desc_slots(inputs[i]->rank);
  for (size_t i = 0; i < num_outputs; ++i)
    out_slots += desc_slots(m->outputs[i].rank);
  int64_t *in_desc = calloc(in_slots ? in_slots : 1, sizeof(int64_t));
  int64_t *out_desc = calloc(out_slots ? out_slots : 1, sizeof(int64_t));
  void **args = calloc(num_inputs + 1, sizeof(void *));
  if (!in_desc || !out_desc || !args) {
    free(in_desc);
    free(out_desc);
    free(args);
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot allocate "
                              "descriptors");
  }
  args[0] = out_desc;
  size_t at = 0;
  for (size_t i = 0; i < num_inputs; ++i) {
    fill_desc(in_desc + at, inputs[i]);
    args[i + 1] = in_desc + at;
    at += desc_slots(inputs[i]->rank);
  }

  m->entry(args);

  /* Take the outputs: copy into runtime tensors, free the model's buffers. */
  at = 0;
  for (size_t i = 0; i < num_outputs; ++i) {
    const loomrt_value_info *info = &m->outputs[i];
    int64_t *d = out_desc + at;
    at += desc_slots(info->rank);
    void *allocated, *aligned;
    memcpy(&allocated, &d[0], sizeof allocated);
    memcpy(&aligned, &d[1], sizeof aligned);
    loomrt_tensor *t = NULL;
    if (!s)
      s = loomrt_tensor_create(info->dtype, info->rank, d + 3, &t);
    if (t) {
      size_t elem = loomrt_dtype_size(info->dtype);
      memcpy(t->data, (char *)aligned + d[2] * (int64_t)elem, t->nbytes);
      if (info->name)
        t->name = strdup(info->name);
    }
    outputs[i] = t;
    free(allocated);
  }
  free(in_desc);
  free(out_desc);
  free(args);
  if (s)
    for (size_t i = 0; i < num_outputs; ++i) {
      loomrt_tensor_destroy(outputs[i]);
      outputs[i] = NULL;
    }
  return s;
}

loomrt_status loomrt_read_indexed_tensor(const char *dir, const char *prefix,
                                        size_t index, loomrt_tensor **out) {
  *out = NULL;
  char pb[4096], npy[4096];
  snprintf(pb, sizeof pb, "%s/%s_%zu.pb", dir, prefix, index);
  snprintf(npy, sizeof npy, "%s/%s_%zu.npy", dir, prefix, index);
  FILE *f = fopen(pb, "rb");
  if (f) {
    fclose(f);
    return loomrt_tensor_read_file(pb, out);
  }
  f = fopen(npy, "rb");
  if (!f)
    return loomrt_status_make(LOOMRT_IO_ERROR, "neither %s nor %s exists", pb,
                              npy);
  fclose(f);
  return loomrt_tensor_read_file(npy, out);
}

loomrt_status loomrt_read_inputs(const loomrt_model *m, const char *dir,
                                 loomrt_tensor **inputs) {
  for (size_t i = 0; i < m->num_inputs; ++i)
    inputs[i] = NULL;
  for (size_t i = 0; i < m->num_inputs; ++i) {
    loomrt_status s = loomrt_read_indexed_tensor(dir, "input", i, &inputs[i]);
    if (s) {
      loomrt_tensors_destroy(inputs, i);
      loomrt_status wrapped = loomrt_status_make(
          loomrt_status_get_code(s), "input %zu ('%s'): %s", i,
          m->inputs[i].name, loomrt_status_get_message(s));
      loomrt_status_free(s);
      return wrapped;
    }
    /* ONNX's backend test data stores bfloat16 tensors as uint16 bit
       patterns (numpy has no bfloat16): read those as bfloat16. */
    if (inputs[i]->dtype == LOOMRT_DTYPE_U16 &&
        m->inputs[i].dtype == LOOMRT_DTYPE_BF16)
      inputs[i]->dtype = LOOMRT_DTYPE_BF16;
  }
  return NULL;
}

loomrt_status loomrt_write_outputs(const char *dir,
                                   loomrt_tensor *const *outputs, size_t count,
                                   int npy) {
  for (size_t i = 0; i < count; ++i) {
    char path[4096];
    snprintf(path, sizeof path, "%s/output_%zu.%s", dir, i, npy ? "npy" : "pb");
    loomrt_status s = npy ? loomrt_tensor_write_npy(path, outputs[i])
                          : loomrt_tensor_write_pb(path, outputs[i]);
    if (s)
      return s;
  }
  return NULL;
}

void loomrt_tensors_destroy(loomrt_tensor **tensors, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    loomrt_tensor_destroy(tensors[i]);
    tensors[i] = NULL;
  }
}
