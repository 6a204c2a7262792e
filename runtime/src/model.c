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
  /* Run-time checks: with any, the model returns a trailing i32 status
     (0, or the 1-based number of the failed check). */
  size_t num_checks;
  const char **checks;
  /* A GPU model (loomc --target=cuda) exports these (runtime/src/cuda):
     its buffers are CUDA managed memory, which `release` frees; outputs are
     copied out of them. NULL for CPU models. */
  void (*release)(void *);
  int (*take_device_error)(char *, size_t);
  /* Kernel timing of a GPU model (NULL when it lacks them). */
  int (*profile)(int);
  double (*take_kernel_ms)(long long *);
  int (*kernel_stats)(int, const char **, double *, long long *);
};

/* Frees a buffer the model returned. */
static void release_buffer(const loomrt_model *m, void *allocated) {
  if (m->release)
    m->release(allocated);
  else
    free(allocated);
}

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

/// Parses one "input|output name dtype rank dims..." line, or
/// "input|output name dtype seq rank" for a sequence (tokenized in place),
/// into `info`.
static int parse_value(char *save, loomrt_value_info *info) {
  char *name = strtok_r(NULL, " \n", &save);
  char *dtype = strtok_r(NULL, " \n", &save);
  char *rank = strtok_r(NULL, " \n", &save);
  if (rank && strcmp(rank, "seq") == 0) {
    info->is_sequence = 1;
    rank = strtok_r(NULL, " \n", &save);
  }
  if (!name || !dtype || !rank)
    return 0;
  unescape(name);
  info->name = name;
  long code = strtol(dtype, NULL, 10), r = strtol(rank, NULL, 10);
  if (!valid_dtype(code) || r < 0 || r > LOOMRT_MAX_RANK)
    return 0;
  info->dtype = (loomrt_dtype)code;
  info->rank = (int32_t)r;
  for (long i = 0; i < r && info->is_sequence; ++i) {
    info->dims[i] = -1;
    info->dim_names[i] = NULL;
  }
  for (long i = 0; i < r && !info->is_sequence; ++i) {
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
  m->checks = calloc(lines, sizeof *m->checks);
  if (!m->inputs || !m->outputs || !m->checks)
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot parse signature");
  char *line_save = NULL;
  char *line = strtok_r(m->strings, "\n", &line_save); /* the header */
  while ((line = strtok_r(NULL, "\n", &line_save))) {
    char *save = NULL;
    char *kind = strtok_r(line, " ", &save);
    loomrt_value_info *info;
    if (kind && strcmp(kind, "check") == 0) {
      char *number = strtok_r(NULL, " ", &save);
      char *message = strtok_r(NULL, " \n", &save);
      if (!number || !message ||
          strtol(number, NULL, 10) != (long)m->num_checks + 1)
        return loomrt_status_make(LOOMRT_PARSE_ERROR,
                                  "malformed model signature check");
      unescape(message);
      m->checks[m->num_checks++] = message;
      continue;
    }
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
  void *init = dlsym(handle, "loom_cuda_init");
  if (init) {
    /* A GPU model: bring up the device now; errors are load errors. */
    void *release = dlsym(handle, "loom_release");
    void *take = dlsym(handle, "loom_cuda_take_error");
    int (*init_fn)(char *, size_t);
    memcpy(&init_fn, &init, sizeof init_fn);
    memcpy(&(*out)->release, &release, sizeof release);
    memcpy(&(*out)->take_device_error, &take, sizeof take);
    void *profile = dlsym(handle, "loom_cuda_profile");
    void *take_ms = dlsym(handle, "loom_cuda_take_kernel_ms");
    memcpy(&(*out)->profile, &profile, sizeof profile);
    memcpy(&(*out)->take_kernel_ms, &take_ms, sizeof take_ms);
    void *stats = dlsym(handle, "loom_cuda_kernel_stats");
    memcpy(&(*out)->kernel_stats, &stats, sizeof stats);
    char message[512] = "";
    int code = (*out)->release && (*out)->take_device_error
                   ? init_fn(message, sizeof message)
                   : -1;
    if (code) {
      loomrt_model_destroy(*out);
      *out = NULL;
      return loomrt_status_make(
          LOOMRT_DEVICE_ERROR, "cannot run GPU model '%s': %s", path,
          message[0] ? message : "its CUDA backend is incomplete");
    }
  }
  return NULL;
}

int loomrt_model_time_kernels(loomrt_model *m, int enable) {
  if (!m->profile || !m->take_kernel_ms)
    return 0;
  int on = m->profile(enable);
  (void)m->take_kernel_ms(NULL);
  return on;
}

double loomrt_model_take_kernel_ms(loomrt_model *m, long long *launches) {
  if (launches)
    *launches = 0;
  return m->take_kernel_ms ? m->take_kernel_ms(launches) : 0.0;
}

int loomrt_model_kernel_stats(loomrt_model *m, int i, const char **name,
                              double *ms, long long *launches) {
  return m->kernel_stats ? m->kernel_stats(i, name, ms, launches) : 0;
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
  free(m->checks);
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
      return loomrt_status_make(LOOMRT_INVALID_ARGUMENT,
                                "input %zu ('%s') is "
                                "missing",
                                i, info->name);
    if (t->is_sequence != info->is_sequence)
      return loomrt_status_make(LOOMRT_INVALID_ARGUMENT,
                                "input %zu ('%s') is a %s, the model expects "
                                "a %s",
                                i, info->name,
                                t->is_sequence ? "sequence" : "tensor",
                                info->is_sequence ? "sequence" : "tensor");
    /* An empty sequence has no element type to check. */
    int empty_seq = t->is_sequence && t->num_elements == 0;
    if (t->dtype != info->dtype && !empty_seq)
      return loomrt_status_make(LOOMRT_DTYPE_MISMATCH,
                                "input %zu ('%s') has element type %s, the "
                                "model expects %s",
                                i, info->name, loomrt_dtype_name(t->dtype),
                                loomrt_dtype_name(info->dtype));
    if (t->is_sequence) {
      for (size_t k = 0; k < t->num_elements; ++k)
        if (t->elements[k]->rank != info->rank ||
            t->elements[k]->dtype != info->dtype)
          return loomrt_status_make(
              LOOMRT_SHAPE_MISMATCH,
              "element %zu of sequence input %zu ('%s') is %s of rank %d, "
              "the model expects %s of rank %d",
              k, i, info->name, loomrt_dtype_name(t->elements[k]->dtype),
              (int)t->elements[k]->rank, loomrt_dtype_name(info->dtype),
              (int)info->rank);
      continue;
    }
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

/// Descriptor slots of value `info`: a sequence is three memrefs (data,
/// shapes, offsets; see docs/Runtime.md).
static size_t value_slots(const loomrt_value_info *info) {
  return info->is_sequence ? desc_slots(1) + desc_slots(2) + desc_slots(1)
                           : desc_slots(info->rank);
}

/// Packs a sequence into the three tensors the compiled code takes: the
/// elements' data back to back, their shapes ((n + 1) x rank, last row
/// zeros) and their offsets into the data (n + 1).
static loomrt_status pack_sequence(const loomrt_tensor *seq, int32_t rank,
                                   loomrt_tensor *parts[3]) {
  parts[0] = parts[1] = parts[2] = NULL;
  uint64_t total = 0;
  for (size_t k = 0; k < seq->num_elements; ++k)
    total += loomrt_tensor_numel(seq->elements[k]);
  int64_t n = (int64_t)seq->num_elements;
  int64_t data_dims[1] = {(int64_t)total}, shape_dims[2] = {n + 1, rank},
          off_dims[1] = {n + 1};
  loomrt_status s = loomrt_tensor_create(seq->dtype, 1, data_dims, &parts[0]);
  if (!s)
    s = loomrt_tensor_create(LOOMRT_DTYPE_I64, 2, shape_dims, &parts[1]);
  if (!s)
    s = loomrt_tensor_create(LOOMRT_DTYPE_I64, 1, off_dims, &parts[2]);
  if (s)
    return s;
  int64_t *shapes = parts[1]->data, *offsets = parts[2]->data;
  size_t elem = loomrt_dtype_size(seq->dtype), at = 0;
  for (int64_t k = 0; k < n; ++k) {
    const loomrt_tensor *e = seq->elements[k];
    memcpy((char *)parts[0]->data + at * elem, e->data, e->nbytes);
    offsets[k] = (int64_t)at;
    for (int32_t d = 0; d < rank; ++d)
      shapes[k * rank + d] = e->dims[d];
    at += loomrt_tensor_numel(e);
  }
  offsets[n] = (int64_t)at;
  return NULL;
}

/// Reads a memref descriptor's allocated and aligned pointers.
static void desc_pointers(const int64_t *d, void **allocated, void **aligned) {
  memcpy(allocated, &d[0], sizeof *allocated);
  memcpy(aligned, &d[1], sizeof *aligned);
}

/// Unpacks a sequence result (three descriptors at `d`) into a sequence
/// tensor, checking every shape and offset against the buffers.
static loomrt_status unpack_sequence(const loomrt_value_info *info,
                                     const int64_t *d, loomrt_tensor **out) {
  *out = NULL;
  const int64_t *dd = d, *sd = dd + desc_slots(1), *od = sd + desc_slots(2);
  void *a, *data, *shapes_p, *offsets_p;
  desc_pointers(dd, &a, &data);
  desc_pointers(sd, &a, &shapes_p);
  desc_pointers(od, &a, &offsets_p);
  size_t elem = loomrt_dtype_size(info->dtype);
  const char *base = (const char *)data + dd[2] * (int64_t)elem;
  const int64_t *shapes = (const int64_t *)shapes_p + sd[2];
  const int64_t *offsets = (const int64_t *)offsets_p + od[2];
  int64_t total = dd[3], rows = sd[3], n = od[3] - 1;
  if (n < 0 || rows != n + 1 || sd[4] != info->rank)
    return loomrt_status_make(LOOMRT_INTERNAL,
                              "output '%s': malformed "
                              "sequence buffers",
                              info->name);
  loomrt_tensor **elements = calloc(n ? (size_t)n : 1, sizeof *elements);
  if (!elements)
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot allocate "
                                                    "sequence");
  loomrt_status s = NULL;
  int64_t k = 0;
  for (; k < n && !s; ++k) {
    s = loomrt_tensor_create(info->dtype, info->rank, shapes + k * info->rank,
                             &elements[k]);
    if (s)
      break;
    int64_t numel = (int64_t)loomrt_tensor_numel(elements[k]);
    if (offsets[k] < 0 || offsets[k] > total || numel > total - offsets[k]) {
      s = loomrt_status_make(LOOMRT_INTERNAL,
                             "output '%s': sequence element "
                             "%lld lies outside the data",
                             info->name, (long long)k);
      ++k;
      break;
    }
    memcpy(elements[k]->data, base + offsets[k] * (int64_t)elem,
           elements[k]->nbytes);
  }
  if (s) {
    for (int64_t j = 0; j < k; ++j)
      loomrt_tensor_destroy(elements[j]);
    free(elements);
    return s;
  }
  s = loomrt_sequence_create(info->dtype, info->rank, elements, (size_t)n, out);
  free(elements);
  if (!s && info->name)
    (*out)->name = strdup(info->name);
  return s;
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
  for (size_t i = 0; i < num_outputs; ++i)
    outputs[i] = NULL;
  size_t in_slots = 0, out_slots = 0, num_args = 0;
  for (size_t i = 0; i < num_inputs; ++i) {
    in_slots += value_slots(&m->inputs[i]);
    num_args += m->inputs[i].is_sequence ? 3 : 1;
  }
  for (size_t i = 0; i < num_outputs; ++i)
    out_slots += value_slots(&m->outputs[i]);
  size_t status_at = out_slots;
  if (m->num_checks)
    out_slots += desc_slots(0);
  int64_t *in_desc = calloc(in_slots ? in_slots : 1, sizeof(int64_t));
  int64_t *out_desc = calloc(out_slots ? out_slots : 1, sizeof(int64_t));
  void **args = calloc(num_args + 1, sizeof(void *));
  /* The packed parts of sequence inputs, three per input. */
  loomrt_tensor **packed = calloc(3 * num_inputs + 1, sizeof *packed);
  if (!in_desc || !out_desc || !args || !packed) {
    free(in_desc);
    free(out_desc);
    free(args);
    free(packed);
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot allocate "
                                                    "descriptors");
  }
  args[0] = out_desc;
  size_t at = 0, arg = 1;
  for (size_t i = 0; i < num_inputs && !s; ++i) {
    if (!m->inputs[i].is_sequence) {
      fill_desc(in_desc + at, inputs[i]);
      args[arg++] = in_desc + at;
      at += desc_slots(inputs[i]->rank);
      continue;
    }
    loomrt_tensor typed = *inputs[i];
    typed.dtype = m->inputs[i].dtype; /* an empty sequence has none */
    s = pack_sequence(&typed, m->inputs[i].rank, packed + 3 * i);
    for (int p = 0; p < 3 && !s; ++p) {
      fill_desc(in_desc + at, packed[3 * i + p]);
      args[arg++] = in_desc + at;
      at += desc_slots(packed[3 * i + p]->rank);
    }
  }

  if (!s)
    m->entry(args);
  /* A GPU model's kernels fail without a way to tell the generated code:
   * its CUDA backend kept the first error. */
  if (!s && m->take_device_error) {
    char message[512] = "";
    if (m->take_device_error(message, sizeof message))
      s = loomrt_status_make(LOOMRT_DEVICE_ERROR, "the GPU failed: %s",
                             message);
  }

  /* A failed run-time check: an error instead of the outputs. */
  int32_t code = 0;
  if (!s && m->num_checks) {
    void *allocated, *aligned;
    desc_pointers(out_desc + status_at, &allocated, &aligned);
    memcpy(&code, (const int32_t *)aligned + out_desc[status_at + 2],
           sizeof code);
    release_buffer(m, allocated);
    if (code > 0 && (size_t)code <= m->num_checks)
      s = loomrt_status_make(LOOMRT_INVALID_ARGUMENT,
                             "the inputs fail a run-time check: %s",
                             m->checks[code - 1]);
    else if (code != 0)
      s = loomrt_status_make(LOOMRT_INTERNAL, "the model returned status %d",
                             (int)code);
  }

  /* Take the outputs: each plain tensor takes over its buffer (every output
   * is a fresh allocation of the model); sequences are copied out. */
  unsigned char *adopted = calloc(num_outputs ? num_outputs : 1, 1);
  if (!adopted && !s)
    s = loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot allocate outputs");
  at = 0;
  for (size_t i = 0; i < num_outputs && !s; ++i) {
    const loomrt_value_info *info = &m->outputs[i];
    int64_t *d = out_desc + at;
    at += value_slots(info);
    loomrt_tensor *t = NULL;
    if (info->is_sequence) {
      s = unpack_sequence(info, d, &t);
    } else {
      void *allocated, *aligned;
      desc_pointers(d, &allocated, &aligned);
      size_t elem = loomrt_dtype_size(info->dtype);
      uint64_t numel;
      s = loomrt_shape_numel(info->dtype, info->rank, d + 3, &numel);
      /* A GPU model's managed buffers are copied out below. */
      if (!s && allocated && !m->release) {
        t = calloc(1, sizeof *t);
        if (!t)
          s = loomrt_status_make(LOOMRT_OUT_OF_MEMORY,
                                 "cannot allocate tensor");
      }
      if (t) {
        t->dtype = info->dtype;
        t->rank = info->rank;
        for (int32_t r = 0; r < info->rank; ++r)
          t->dims[r] = d[3 + r];
        t->nbytes = (size_t)numel * elem;
        t->data = (char *)aligned + d[2] * (int64_t)elem;
        t->allocation = allocated;
        adopted[i] = 1;
      } else if (!s) {
        /* No buffer to take over (an empty result): an owned copy. */
        s = loomrt_tensor_create(info->dtype, info->rank, d + 3, &t);
        if (t)
          memcpy(t->data, (char *)aligned + d[2] * (int64_t)elem, t->nbytes);
      }
      if (t && info->name)
        t->name = strdup(info->name);
    }
    outputs[i] = t;
  }
  /* Free every buffer the model returned (each result descriptor). */
  if (arg > 0 && out_desc) {
    at = 0;
    for (size_t i = 0; i < num_outputs; ++i) {
      const loomrt_value_info *info = &m->outputs[i];
      int parts = info->is_sequence ? 3 : 1;
      for (int p = 0; p < parts; ++p) {
        int32_t rank = info->is_sequence ? (p == 1 ? 2 : 1) : info->rank;
        void *allocated, *aligned;
        desc_pointers(out_desc + at, &allocated, &aligned);
        if (!(adopted && adopted[i]))
          release_buffer(m, allocated);
        at += desc_slots(rank);
      }
    }
  }
  for (size_t i = 0; i < 3 * num_inputs; ++i)
    loomrt_tensor_destroy(packed[i]);
  free(packed);
  free(adopted);
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
  return loomrt_read_indexed_value(dir, prefix, index, 0, out);
}

loomrt_status loomrt_read_indexed_value(const char *dir, const char *prefix,
                                        size_t index, int sequence,
                                        loomrt_tensor **out) {
  *out = NULL;
  char pb[4096], npy[4096];
  snprintf(pb, sizeof pb, "%s/%s_%zu.pb", dir, prefix, index);
  snprintf(npy, sizeof npy, "%s/%s_%zu.npy", dir, prefix, index);
  FILE *f = fopen(pb, "rb");
  if (f) {
    fclose(f);
    return sequence ? loomrt_sequence_read_file(pb, out)
                    : loomrt_tensor_read_file(pb, out);
  }
  if (sequence)
    return loomrt_status_make(LOOMRT_IO_ERROR,
                              "%s does not exist (sequences are read from "
                              ".pb SequenceProto files)",
                              pb);
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
    loomrt_status s = loomrt_read_indexed_value(
        dir, "input", i, m->inputs[i].is_sequence, &inputs[i]);
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
