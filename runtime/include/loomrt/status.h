/*===- status.h - Loom runtime status codes -----------------------*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * Every runtime function that can fail returns a loomrt_status: NULL means
 * success; otherwise it owns a code and a message and the caller frees it
 * with loomrt_status_free.
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_STATUS_H
#define LOOMRT_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LOOMRT_BUILDING)
#define LOOMRT_API __attribute__((visibility("default")))
#else
#define LOOMRT_API
#endif

/// Status codes. Values are stable: they are part of the ABI.
typedef enum loomrt_status_code {
  LOOMRT_OK = 0,
  LOOMRT_INVALID_ARGUMENT = 1, ///< A caller-supplied value is invalid.
  LOOMRT_IO_ERROR = 2,         ///< A file cannot be opened, read or written.
  LOOMRT_PARSE_ERROR = 3,      ///< A file is truncated or malformed.
  LOOMRT_UNSUPPORTED = 4,      ///< Well-formed but not supported.
  LOOMRT_OUT_OF_MEMORY = 5,    ///< An allocation failed.
  LOOMRT_LIMIT_EXCEEDED = 6,   ///< A size exceeds the runtime's limits.
  LOOMRT_SHAPE_MISMATCH = 7,   ///< Dims contradict what is expected.
  LOOMRT_DTYPE_MISMATCH = 8,   ///< Element type differs from what is expected.
  LOOMRT_INTERNAL = 9,         ///< A bug in Loom.
  LOOMRT_DEVICE_ERROR = 10,    ///< The GPU (its driver, a kernel) failed.
} loomrt_status_code;

/// An error: NULL for success.
typedef struct loomrt_status_s *loomrt_status;

/// Creates a status with `code` and a printf-style message. Returns a static
/// out-of-memory status if the allocation fails; never returns NULL.
LOOMRT_API loomrt_status loomrt_status_make(loomrt_status_code code,
                                            const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/// The code of `status`; LOOMRT_OK for NULL.
LOOMRT_API loomrt_status_code loomrt_status_get_code(loomrt_status status);

/// The message of `status` ("ok" for NULL). Owned by the status.
LOOMRT_API const char *loomrt_status_get_message(loomrt_status status);

/// The name of `code`, e.g. "PARSE_ERROR".
LOOMRT_API const char *loomrt_status_code_name(loomrt_status_code code);

/// Frees `status`; NULL is allowed.
LOOMRT_API void loomrt_status_free(loomrt_status status);

#ifdef __cplusplus
}
#endif

#endif /* LOOMRT_STATUS_H */
