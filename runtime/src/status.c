/*===- status.c - Loom runtime status codes -------------------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loomrt_status_s {
  loomrt_status_code code;
  int is_static;
  char *message;
};

/// Returned when even the status cannot be allocated.
static struct loomrt_status_s oom_status = {
    LOOMRT_OUT_OF_MEMORY, 1, (char *)"out of memory while reporting an error"};

loomrt_status loomrt_status_make(loomrt_status_code code, const char *format,
                                 ...) {
  struct loomrt_status_s *s = malloc(sizeof *s);
  if (!s)
    return &oom_status;
  va_list args;
  va_start(args, format);
  int n = vsnprintf(NULL, 0, format, args);
  va_end(args);
  s->message = malloc(n > 0 ? (size_t)n + 1 : 1);
  if (!s->message) {
    free(s);
    return &oom_status;
  }
  va_start(args, format);
  vsnprintf(s->message, n > 0 ? (size_t)n + 1 : 1, format, args);
  va_end(args);
  s->code = code;
  s->is_static = 0;
  return s;
}

loomrt_status_code loomrt_status_get_code(loomrt_status status) {
  return status ? status->code : LOOMRT_OK;
}

const char *loomrt_status_get_message(loomrt_status status) {
  return status ? status->message : "ok";
}

const char *loomrt_status_code_name(loomrt_status_code code) {
  switch (code) {
  case LOOMRT_OK:
    return "OK";
  case LOOMRT_INVALID_ARGUMENT:
    return "INVALID_ARGUMENT";
  case LOOMRT_IO_ERROR:
    return "IO_ERROR";
  case LOOMRT_PARSE_ERROR:
    return "PARSE_ERROR";
  case LOOMRT_UNSUPPORTED:
    return "UNSUPPORTED";
  case LOOMRT_OUT_OF_MEMORY:
    return "OUT_OF_MEMORY";
  case LOOMRT_LIMIT_EXCEEDED:
    return "LIMIT_EXCEEDED";
  case LOOMRT_SHAPE_MISMATCH:
    return "SHAPE_MISMATCH";
  case LOOMRT_DTYPE_MISMATCH:
    return "DTYPE_MISMATCH";
  case LOOMRT_INTERNAL:
    return "INTERNAL";
  case LOOMRT_DEVICE_ERROR:
    return "DEVICE_ERROR";
  }
  return "UNKNOWN";
}

void loomrt_status_free(loomrt_status status) {
  if (!status || status->is_static)
    return;
  free(status->message);
  free(status);
}
