/*===- loom-run.c - Run a compiled Loom model -----------------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 *   loom-run model.so --inputs DIR [--expected DIR] [--outputs DIR] [--npy]
 *            [--rtol R] [--atol A] [--bench N] [--warmup W] [--json]
 *            [--profile] [--threads N]
 *
 * Exit status: 0 when every output is within tolerance (or nothing was
 * compared), 1 on a mismatch, 2 on an error.
 *
 *===----------------------------------------------------------------------===*/

#define _POSIX_C_SOURCE 200809L
#include "loomrt/loomrt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *usage =
    "usage: loom-run MODEL.so --inputs DIR [options]\n"
    "\n"
    "Runs a model compiled by loomc on DIR/input_<i>.pb (or .npy).\n"
    "\n"
    "  --inputs DIR     input tensors input_0.pb, input_1.pb, ... (required)\n"
    "  --expected DIR   compare with output_<i>.pb (or .npy); prints max abs\n"
    "                   and rel error per output\n"
    "  --outputs DIR    write output_<i>.pb (.npy with --npy)\n"
    "  --npy            write .npy instead of .pb\n"
    "  --rtol R         relative tolerance (default 1e-4)\n"
    "  --atol A         absolute tolerance (default 1e-5); an element passes\n"
    "                   when |got - want| <= atol + rtol * |want|\n"
    "  --bench N        time N runs of the model call alone; print min,\n"
    "                   median and max ms (GPU models: also the median\n"
    "                   device time of their kernels, CUDA events)\n"
    "  --warmup W       untimed runs before --bench (default 1)\n"
    "  --json           print results as one JSON object per line\n"
    "  --profile        with --bench, GPU models: each kernel's device time\n"
    "                   and launches per run, largest first\n"
    "  --threads N      threads for models compiled with OpenMP\n"
    "                   (sets OMP_NUM_THREADS before loading)\n"
    "\n"
    "Exit status: 0 when every output matches (or nothing is compared), 1 on\n"
    "a mismatch, 2 on an error (bad arguments, files, shapes or dtypes).\n";

static int error(loomrt_status s) {
  fprintf(stderr, "loom-run: error: %s\n", loomrt_status_get_message(s));
  loomrt_status_free(s);
  return 2;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/// Element `i` of `t` as a double.
static double element(const loomrt_tensor *t, uint64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
  case LOOMRT_DTYPE_F32:
    return ((const float *)p)[i];
  case LOOMRT_DTYPE_F64:
    return ((const double *)p)[i];
  case LOOMRT_DTYPE_I64:
    return (double)((const int64_t *)p)[i];
  case LOOMRT_DTYPE_I32:
    return ((const int32_t *)p)[i];
  case LOOMRT_DTYPE_I16:
    return ((const int16_t *)p)[i];
  case LOOMRT_DTYPE_I8:
    return ((const int8_t *)p)[i];
  case LOOMRT_DTYPE_U8:
  case LOOMRT_DTYPE_BOOL:
    return ((const uint8_t *)p)[i];
  case LOOMRT_DTYPE_U16:
    return ((const uint16_t *)p)[i];
  case LOOMRT_DTYPE_U32:
    return ((const uint32_t *)p)[i];
  case LOOMRT_DTYPE_U64:
    return (double)((const uint64_t *)p)[i];
  case LOOMRT_DTYPE_BF16: {
    uint32_t bits = (uint32_t)((const uint16_t *)p)[i] << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
  }
  case LOOMRT_DTYPE_F16: {
    uint16_t h = ((const uint16_t *)p)[i];
    int e = (h >> 10) & 0x1F, m = h & 0x3FF;
    double v = e == 0    ? ldexp(m, -24)
               : e == 31 ? (m ? NAN : INFINITY)
                         : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
  }
  default:
    return NAN;
  }
}

/// Error statistics of one output.
typedef struct stats {
  double max_abs, max_rel;
  uint64_t bad, n;
} stats;

/// Folds the element-wise comparison of tensors `got` and `want` into `st`;
/// returns 0 when their dtypes or shapes differ.
static int accumulate(const loomrt_tensor *got, const loomrt_tensor *want,
                      double rel_tol, double abs_tol, stats *st) {
  // Expected bfloat16 outputs stored as uint16 bit patterns (ONNX's backend
  // test data) compare as bfloat16.
  int bf16_bits =
      got->dtype == LOOMRT_DTYPE_BF16 && want->dtype == LOOMRT_DTYPE_U16;
  if ((got->dtype != want->dtype && !bf16_bits) || got->rank != want->rank ||
      memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->rank) != 0)
    return 0;
  uint64_t n = loomrt_tensor_numel(got);
  st->n += n;
  for (uint64_t i = 0; i < n; ++i) {
    double a = element(got, i);
    double b = bf16_bits ? element(&(loomrt_tensor){.dtype = LOOMRT_DTYPE_BF16,
                                                    .data = want->data},
                                   i)
                         : element(want, i);
    if (isnan(a) && isnan(b))
      continue;
    if (isinf(a) && isinf(b) && (a > 0) == (b > 0))
      continue;
    double diff = fabs(a - b);
    if (isnan(diff)) {
      ++st->bad;
      st->max_abs = INFINITY;
      continue;
    }
    double rel = diff / fmax(fabs(b), 1e-30);
    if (diff > st->max_abs)
      st->max_abs = diff;
    if (rel > st->max_rel && diff > 0)
      st->max_rel = rel;
    if (diff > abs_tol + rel_tol * fabs(b))
      ++st->bad;
  }
  return 1;
}

/// Compares one output (a tensor, or a sequence element by element); prints
/// a line; returns 1 when it matches.
static int compare(size_t index, const loomrt_tensor *got,
                   const loomrt_tensor *want, double rel_tol, double abs_tol,
                   int json) {
  const char *name = got->name ? got->name : "";
  stats st = {0, 0, 0, 0};
  int same = got->is_sequence == want->is_sequence;
  if (same && got->is_sequence) {
    same = got->num_elements == want->num_elements;
    for (size_t k = 0; same && k < got->num_elements; ++k)
      same = accumulate(got->elements[k], want->elements[k], rel_tol, abs_tol,
                        &st);
  } else if (same) {
    same = accumulate(got, want, rel_tol, abs_tol, &st);
  }
  if (!same) {
    if (json)
      printf("{\"output\": %zu, \"name\": \"%s\", \"ok\": false, \"error\": "
             "\"dtype or shape differs\"}\n",
             index, name);
    else if (got->is_sequence || want->is_sequence)
      printf("output %zu '%s': MISMATCH: got a %s of %zu, expected a %s of %zu "
             "(or an element's dtype or dims differ)\n",
             index, name, got->is_sequence ? "sequence" : "tensor",
             got->num_elements, want->is_sequence ? "sequence" : "tensor",
             want->num_elements);
    else
      printf("output %zu '%s': MISMATCH: got %s rank %d, expected %s rank %d "
             "(or dims differ)\n",
             index, name, loomrt_dtype_name(got->dtype), (int)got->rank,
             loomrt_dtype_name(want->dtype), (int)want->rank);
    return 0;
  }
  if (json)
    printf("{\"output\": %zu, \"name\": \"%s\", \"ok\": %s, \"max_abs_err\": "
           "%.3g, \"max_rel_err\": %.3g, \"mismatches\": %llu, \"elements\": "
           "%llu}\n",
           index, name, st.bad ? "false" : "true", st.max_abs, st.max_rel,
           (unsigned long long)st.bad, (unsigned long long)st.n);
  else
    printf("output %zu '%s': max_abs_err %.3g max_rel_err %.3g "
           "(%llu of %llu elements outside tolerance) %s\n",
           index, name, st.max_abs, st.max_rel, (unsigned long long)st.bad,
           (unsigned long long)st.n, st.bad ? "MISMATCH" : "OK");
  return st.bad == 0;
}

/// One kernel's totals, for sorting.
typedef struct {
  const char *name;
  double ms;
  long long launches;
} kernel_stat;

static int by_time_desc(const void *a, const void *b) {
  double x = ((const kernel_stat *)a)->ms, y = ((const kernel_stat *)b)->ms;
  return (x < y) - (x > y);
}

/// Prints each kernel's device time and launches per run (over `runs`
/// timed runs), largest first: lines, or (json) a `"kernels": [...]` member.
static void print_kernel_profile(loomrt_model *model, long runs, int json) {
  int n = loomrt_model_kernel_stats(model, -1, NULL, NULL, NULL);
  kernel_stat *stats = calloc(n > 0 ? (size_t)n : 1, sizeof *stats);
  if (!stats)
    return;
  double total = 0;
  for (int i = 0; i < n; ++i) {
    loomrt_model_kernel_stats(model, i, &stats[i].name, &stats[i].ms,
                              &stats[i].launches);
    total += stats[i].ms;
  }
  qsort(stats, (size_t)n, sizeof *stats, by_time_desc);
  if (json)
    printf(", \"kernels\": [");
  int printed = 0;
  for (int i = 0; i < n; ++i) {
    if (!stats[i].launches)
      continue;
    double ms = stats[i].ms / (double)runs;
    double per_run = (double)stats[i].launches / (double)runs;
    if (json)
      printf("%s{\"name\": \"%s\", \"ms\": %.4f, \"launches\": %.1f}",
             printed ? ", " : "", stats[i].name, ms, per_run);
    else
      printf("  %-28s %9.4f ms per run  %6.1f launches  %5.1f%%\n",
             stats[i].name, ms, per_run,
             total > 0 ? 100.0 * stats[i].ms / total : 0.0);
    ++printed;
  }
  if (json)
    printf("]");
  free(stats);
}

int main(int argc, char **argv) {
  const char *model_path = NULL, *in_dir = NULL, *exp_dir = NULL,
             *out_dir = NULL;
  double rel_tol = 1e-4, abs_tol = 1e-5;
  long bench = 0, warmup = -1, threads = 0;
  int json = 0, npy = 0, profile = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(a, "--inputs") == 0 && has)
      in_dir = argv[++i];
    else if (strcmp(a, "--expected") == 0 && has)
      exp_dir = argv[++i];
    else if (strcmp(a, "--outputs") == 0 && has)
      out_dir = argv[++i];
    else if (strcmp(a, "--rtol") == 0 && has)
      rel_tol = atof(argv[++i]);
    else if (strcmp(a, "--atol") == 0 && has)
      abs_tol = atof(argv[++i]);
    else if (strcmp(a, "--bench") == 0 && has)
      bench = atol(argv[++i]);
    else if (strcmp(a, "--warmup") == 0 && has)
      warmup = atol(argv[++i]);
    else if (strcmp(a, "--threads") == 0 && has)
      threads = atol(argv[++i]);
    else if (strcmp(a, "--json") == 0)
      json = 1;
    else if (strcmp(a, "--profile") == 0)
      profile = 1;
    else if (strcmp(a, "--npy") == 0)
      npy = 1;
    else if (a[0] != '-' && !model_path)
      model_path = a;
    else {
      fprintf(stderr, "loom-run: error: unknown or incomplete argument '%s'\n"
                      "%s", a, usage);
      return 2;
    }
  }
  if (!model_path || !in_dir) {
    fprintf(stderr, "loom-run: error: a model and --inputs DIR are required\n"
                    "%s", usage);
    return 2;
  }
  if (bench < 0 || threads < 0) {
    fprintf(stderr, "loom-run: error: --bench and --threads must be >= 0\n");
    return 2;
  }
  if (threads > 0) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", threads);
    setenv("OMP_NUM_THREADS", buf, 1);
  }

  loomrt_model *model;
  loomrt_status s = loomrt_model_load(model_path, &model);
  if (s)
    return error(s);
  size_t ni = loomrt_model_num_inputs(model), no = loomrt_model_num_outputs(model);
  loomrt_tensor **inputs = calloc(ni + 1, sizeof *inputs);
  loomrt_tensor **outputs = calloc(no + 1, sizeof *outputs);
  int rc = 0;
  if ((s = loomrt_read_inputs(model, in_dir, inputs))) {
    rc = error(s);
    goto done;
  }
  if ((s = loomrt_model_run(model, inputs, ni, outputs, no))) {
    rc = error(s);
    goto done;
  }
  if (bench > 0) {
    if (warmup < 0)
      warmup = 1;
    double *times = malloc(sizeof(double) * (size_t)bench);
    double *kernel_times = malloc(sizeof(double) * (size_t)bench);
    loomrt_tensor **scratch = calloc(no + 1, sizeof *scratch);
    /* GPU models: the kernels' device time too (CUDA events per launch). */
    int timed = loomrt_model_time_kernels(model, 1);
    long long launches = 0;
    for (long r = 0; r < warmup + bench && !s; ++r) {
      double t0 = now_ms();
      s = loomrt_model_run(model, inputs, ni, scratch, no);
      double t1 = now_ms();
      double kernel_ms = loomrt_model_take_kernel_ms(model, &launches);
      if (r >= warmup) {
        times[r - warmup] = t1 - t0;
        kernel_times[r - warmup] = kernel_ms;
      }
      loomrt_tensors_destroy(scratch, no);
    }
    if (timed)
      loomrt_model_time_kernels(model, 0);
    if (s) {
      rc = error(s);
    } else {
      qsort(times, (size_t)bench, sizeof(double), cmp_double);
      double median = bench % 2 ? times[bench / 2]
                                : (times[bench / 2 - 1] + times[bench / 2]) / 2;
      double kernel_median = 0;
      if (timed) {
        qsort(kernel_times, (size_t)bench, sizeof(double), cmp_double);
        kernel_median =
            bench % 2
                ? kernel_times[bench / 2]
                : (kernel_times[bench / 2 - 1] + kernel_times[bench / 2]) / 2;
      }
      if (json) {
        printf("{\"median_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f, "
               "\"runs\": %ld",
               median, times[0], times[bench - 1], bench);
        if (timed)
          printf(", \"kernel_median_ms\": %.4f, \"kernel_launches\": %lld",
                 kernel_median, launches);
        if (timed && profile)
          print_kernel_profile(model, warmup + bench, 1);
        printf("}\n");
      } else {
        printf("bench: %ld runs, min %.4f ms, median %.4f ms, max %.4f ms\n",
               bench, times[0], median, times[bench - 1]);
        if (timed)
          printf("kernels: median %.4f ms of device time per run, %lld "
                 "launches\n",
                 kernel_median, launches);
        if (timed && profile)
          print_kernel_profile(model, warmup + bench, 0);
      }
    }
    free(times);
    free(kernel_times);
    free(scratch);
    if (rc)
      goto done;
  }
  if (out_dir && (s = loomrt_write_outputs(out_dir, outputs, no, npy))) {
    rc = error(s);
    goto done;
  }
  if (exp_dir) {
    int all_ok = 1;
    for (size_t i = 0; i < no; ++i) {
      loomrt_tensor *want = NULL;
      if ((s = loomrt_read_indexed_value(
               exp_dir, "output", i,
               loomrt_model_output(model, i)->is_sequence, &want))) {
        rc = error(s);
        goto done;
      }
      all_ok &= compare(i, outputs[i], want, rel_tol, abs_tol, json);
      loomrt_tensor_destroy(want);
    }
    rc = all_ok ? 0 : 1;
  }
done:
  loomrt_tensors_destroy(inputs, ni);
  loomrt_tensors_destroy(outputs, no);
  free(inputs);
  free(outputs);
  loomrt_model_destroy(model);
  return rc;
}
