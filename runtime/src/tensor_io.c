/*===- tensor_io.c - ONNX TensorProto and .npy files ----------------------===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * A hand-written reader and writer of the protobuf wire format for the
 * fields of onnx.TensorProto the runtime needs, and of NumPy's .npy format.
 * Every read is bounds-checked: malformed input gives PARSE_ERROR.
 *
 *===----------------------------------------------------------------------===*/

#include "loomrt/tensor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*===----------------------------------------------------------------------===*
 * Protobuf wire format
 *===----------------------------------------------------------------------===*/

/// A bounded cursor over bytes.
typedef struct reader {
  const uint8_t *p;
  const uint8_t *end;
} reader;

static int read_varint(reader *r, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end)
      return 0;
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

static int read_fixed(reader *r, void *out, size_t n) {
  if ((size_t)(r->end - r->p) < n)
    return 0;
  memcpy(out, r->p, n);
  r->p += n;
  return 1;
}

static int read_bytes(reader *r, const uint8_t **data, size_t *len) {
  uint64_t n;
  if (!read_varint(r, &n) || n > (uint64_t)(r->end - r->p))
    return 0;
  *data = r->p;
  *len = (size_t)n;
  r->p += n;
  return 1;
}

static int skip_field(reader *r, uint32_t wire) {
  uint64_t v;
  const uint8_t *d;
  size_t n;
  switch (wire) {
  case 0:
    return read_varint(r, &v);
  case 1:
    return read_fixed(r, &v, 8);
  case 2:
    return read_bytes(r, &d, &n);
  case 5:
    return read_fixed(r, &v, 4);
  default:
    return 0;
  }
}

/// A growable byte buffer for typed (non-raw) data fields.
typedef struct buffer {
  uint8_t *data;
  size_t size, cap;
} buffer;

static int buffer_append(buffer *b, const void *p, size_t n) {
  if (n > LOOMRT_MAX_TENSOR_BYTES || b->size > LOOMRT_MAX_TENSOR_BYTES - n)
    return 0;
  if (b->size + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->size + n)
      cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
      return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->size, p, n);
  b->size += n;
  return 1;
}

/// Appends one element of a typed field, narrowed to `elem` bytes.
static int append_scalar(buffer *b, uint64_t bits, size_t elem) {
  uint8_t bytes[8];
  for (size_t i = 0; i < 8; ++i)
    bytes[i] = (uint8_t)(bits >> (8 * i));
  return buffer_append(b, bytes, elem);
}

/// Reads a repeated numeric field, packed or not. `wire_elem` is the wire
/// type of one element (0 varint, 1 fixed64, 5 fixed32).
static int read_repeated(reader *r, uint32_t wire, uint32_t wire_elem,
                         buffer *b, size_t elem) {
  reader sub = *r;
  const uint8_t *d;
  size_t n;
  if (wire == 2) {
    if (!read_bytes(r, &d, &n))
      return 0;
    sub.p = d;
    sub.end = d + n;
  } else if (wire != wire_elem) {
    return 0;
  }
  do {
    uint64_t v = 0;
    if (wire_elem == 0) {
      if (!read_varint(&sub, &v))
        return 0;
    } else if (wire_elem == 1) {
      if (!read_fixed(&sub, &v, 8))
        return 0;
    } else {
      uint32_t w;
      if (!read_fixed(&sub, &w, 4))
        return 0;
      v = w;
    }
    if (b && !append_scalar(b, v, elem))
      return 0;
  } while (wire == 2 && sub.p < sub.end);
  if (wire != 2)
    *r = sub;
  return 1;
}

loomrt_status loomrt_tensor_parse_pb(const void *bytes, size_t size,
                                     loomrt_tensor **out) {
  *out = NULL;
  reader r = {(const uint8_t *)bytes, (const uint8_t *)bytes + size};
  int64_t dims[LOOMRT_MAX_RANK];
  int32_t rank = 0;
  int64_t dtype = 0;
  const uint8_t *raw = NULL, *name = NULL;
  size_t raw_len = 0, name_len = 0;
  int has_raw = 0, external = 0, strings = 0;
  buffer typed = {0};
  loomrt_status status = NULL;
#define FAIL(code, ...)                                                        \
  do {                                                                         \
    status = loomrt_status_make(code, __VA_ARGS__);                            \
    goto done;                                                                 \
  } while (0)

  while (r.p < r.end) {
    uint64_t key;
    if (!read_varint(&r, &key))
      FAIL(LOOMRT_PARSE_ERROR, "truncated TensorProto (field key)");
    uint32_t field = (uint32_t)(key >> 3), wire = (uint32_t)(key & 7);
    switch (field) {
    case 1: { /* dims */
      buffer dimbuf = {0};
      if (!read_repeated(&r, wire, 0, &dimbuf, 8)) {
        free(dimbuf.data);
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto dims");
      }
      size_t n = dimbuf.size / 8;
      if (rank + n > LOOMRT_MAX_RANK) {
        free(dimbuf.data);
        FAIL(LOOMRT_LIMIT_EXCEEDED, "tensor rank exceeds %d", LOOMRT_MAX_RANK);
      }
      memcpy(dims + rank, dimbuf.data, n * 8);
      rank += (int32_t)n;
      free(dimbuf.data);
      break;
    }
    case 2: { /* data_type */
      uint64_t v;
      if (wire != 0 || !read_varint(&r, &v))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto data_type");
      dtype = (int64_t)v;
      break;
    }
    case 4: /* float_data */
      if (!read_repeated(&r, wire, 5, &typed, 4))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto float_data");
      break;
    case 5: { /* int32_data: narrowed to the element size below */
      size_t elem = loomrt_dtype_size((loomrt_dtype)dtype);
      if (!read_repeated(&r, wire, 0, &typed, elem ? elem : 4))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto int32_data");
      break;
    }
    case 6: /* string_data */
      strings = 1;
      if (!skip_field(&r, wire))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto string_data");
      break;
    case 7: /* int64_data */
      if (!read_repeated(&r, wire, 0, &typed, 8))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto int64_data");
      break;
    case 8: /* name */
      if (wire != 2 || !read_bytes(&r, &name, &name_len))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto name");
      break;
    case 9: /* raw_data */
      if (wire != 2 || !read_bytes(&r, &raw, &raw_len))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto raw_data");
      has_raw = 1;
      break;
    case 10: /* double_data */
      if (!read_repeated(&r, wire, 1, &typed, 8))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto double_data");
      break;
    case 11: { /* uint64_data */
      size_t elem = dtype == LOOMRT_DTYPE_U32 ? 4 : 8;
      if (!read_repeated(&r, wire, 0, &typed, elem))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto uint64_data");
      break;
    }
    case 14: { /* data_location */
      uint64_t v;
      if (wire != 0 || !read_varint(&r, &v))
        FAIL(LOOMRT_PARSE_ERROR, "malformed TensorProto data_location");
      external = v == 1;
      break;
    }
    default:
      if (!skip_field(&r, wire))
        FAIL(LOOMRT_PARSE_ERROR, "truncated or malformed TensorProto field %u",
             field);
    }
  }
  if (strings)
    FAIL(LOOMRT_UNSUPPORTED, "string tensors are not supported");
  if (external)
    FAIL(LOOMRT_UNSUPPORTED, "tensors with external data are not supported");
  if (loomrt_dtype_size((loomrt_dtype)dtype) == 0)
    FAIL(LOOMRT_UNSUPPORTED, "unsupported TensorProto data_type %lld",
         (long long)dtype);
  {
    /* Check the data against the shape before allocating: a file's claim
       alone never makes the runtime allocate. */
    uint64_t numel;
    status = loomrt_shape_numel((loomrt_dtype)dtype, rank, dims, &numel);
    if (status)
      goto done;
    const uint8_t *src = has_raw ? raw : typed.data;
    size_t src_len = has_raw ? raw_len : typed.size;
    size_t need = (size_t)numel * loomrt_dtype_size((loomrt_dtype)dtype);
    if (src_len != need)
      FAIL(LOOMRT_PARSE_ERROR,
           "TensorProto holds %zu bytes of data but its shape needs %zu",
           src_len, need);
    loomrt_tensor *t;
    status = loomrt_tensor_create((loomrt_dtype)dtype, rank, dims, &t);
    if (status)
      goto done;
    if (src_len)
      memcpy(t->data, src, src_len);
    if (name_len) {
      t->name = malloc(name_len + 1);
      if (t->name) {
        memcpy(t->name, name, name_len);
        t->name[name_len] = 0;
      }
    }
    *out = t;
  }
done:
#undef FAIL
  free(typed.data);
  return status;
}

/// SequenceProto: name (1), elem_type (2), tensor_values (3); sparse,
/// nested sequence, map and optional values are unsupported.
loomrt_status loomrt_sequence_parse_pb(const void *bytes, size_t size,
                                       loomrt_tensor **out) {
  *out = NULL;
  reader r = {(const uint8_t *)bytes, (const uint8_t *)bytes + size};
  uint64_t elem_type = 0;
  size_t count = 0, cap = 0;
  loomrt_tensor **elements = NULL;
  loomrt_status s = NULL;
  while (r.p < r.end && !s) {
    uint64_t key;
    if (!read_varint(&r, &key)) {
      s = loomrt_status_make(LOOMRT_PARSE_ERROR, "truncated SequenceProto");
      break;
    }
    uint32_t field = (uint32_t)(key >> 3), wire = (uint32_t)(key & 7);
    if (field == 2 && wire == 0) {
      if (!read_varint(&r, &elem_type))
        s = loomrt_status_make(LOOMRT_PARSE_ERROR, "truncated SequenceProto");
    } else if (field == 3 && wire == 2) {
      const uint8_t *data;
      size_t len;
      if (!read_bytes(&r, &data, &len)) {
        s = loomrt_status_make(LOOMRT_PARSE_ERROR, "truncated SequenceProto");
        break;
      }
      if (count == cap) {
        size_t ncap = cap ? cap * 2 : 8;
        loomrt_tensor **n = realloc(elements, ncap * sizeof *n);
        if (!n) {
          s = loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot read sequence");
          break;
        }
        elements = n;
        cap = ncap;
      }
      loomrt_status e = loomrt_tensor_parse_pb(data, len, &elements[count]);
      if (e) {
        s = loomrt_status_make(loomrt_status_get_code(e),
                               "sequence element %zu: %s", count,
                               loomrt_status_get_message(e));
        loomrt_status_free(e);
        break;
      }
      ++count;
    } else if ((field == 1 && wire != 2) || field >= 8 || field == 0) {
      /* Fields a SequenceProto never has: most likely a TensorProto. */
      s = loomrt_status_make(LOOMRT_PARSE_ERROR,
                             "not an ONNX SequenceProto (field %u)", field);
    } else if (field >= 4 && field <= 7) {
      s = loomrt_status_make(LOOMRT_UNSUPPORTED,
                             "sequences of sparse tensors, sequences, maps "
                             "or optionals are not supported");
    } else if (!skip_field(&r, wire)) {
      s = loomrt_status_make(LOOMRT_PARSE_ERROR, "malformed SequenceProto");
    }
  }
  /* elem_type is SequenceProto.DataType: 0 undefined, 1 tensor. */
  if (!s && elem_type > 1)
    s = loomrt_status_make(LOOMRT_UNSUPPORTED,
                           "sequences of sparse tensors, sequences, maps or "
                           "optionals are not supported");
  if (s) {
    for (size_t i = 0; i < count; ++i)
      loomrt_tensor_destroy(elements[i]);
    free(elements);
    return s;
  }
  /* The tensors' dtype and rank; an empty sequence has neither. */
  s = loomrt_sequence_create(count ? elements[0]->dtype : LOOMRT_DTYPE_UNDEFINED,
                             count ? elements[0]->rank : 0, elements, count,
                             out);
  free(elements);
  return s;
}


/*===----------------------------------------------------------------------===*
 * .npy
 *===----------------------------------------------------------------------===*/

/// Maps a little-endian numpy descr ("<f4", "|b1", ...) to a dtype.
static loomrt_dtype dtype_from_descr(const char *d, size_t n) {
  static const struct {
    const char *descr;
    loomrt_dtype dtype;
  } table[] = {
      {"<f4", LOOMRT_DTYPE_F32}, {"<f8", LOOMRT_DTYPE_F64},
      {"<f2", LOOMRT_DTYPE_F16}, {"<i8", LOOMRT_DTYPE_I64},
      {"<i4", LOOMRT_DTYPE_I32}, {"<i2", LOOMRT_DTYPE_I16},
      {"|i1", LOOMRT_DTYPE_I8},  {"|u1", LOOMRT_DTYPE_U8},
      {"<u2", LOOMRT_DTYPE_U16}, {"<u4", LOOMRT_DTYPE_U32},
      {"<u8", LOOMRT_DTYPE_U64}, {"|b1", LOOMRT_DTYPE_BOOL},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i)
    if (n == 3 && memcmp(d, table[i].descr, 3) == 0)
      return table[i].dtype;
  return LOOMRT_DTYPE_UNDEFINED;
}

static const char *descr_from_dtype(loomrt_dtype dtype) {
  switch (dtype) {
  case LOOMRT_DTYPE_F32:
    return "<f4";
  case LOOMRT_DTYPE_F64:
    return "<f8";
  case LOOMRT_DTYPE_F16:
    return "<f2";
  case LOOMRT_DTYPE_I64:
    return "<i8";
  case LOOMRT_DTYPE_I32:
    return "<i4";
  case LOOMRT_DTYPE_I16:
    return "<i2";
  case LOOMRT_DTYPE_I8:
    return "|i1";
  case LOOMRT_DTYPE_U8:
    return "|u1";
  case LOOMRT_DTYPE_U16:
    return "<u2";
  case LOOMRT_DTYPE_U32:
    return "<u4";
  case LOOMRT_DTYPE_U64:
    return "<u8";
  case LOOMRT_DTYPE_BOOL:
    return "|b1";
  default:
    return NULL;
  }
}

/// Finds `key` (quoted) in the header dict and returns a pointer past the
/// following ':' and spaces, or NULL.
static const char *find_key(const char *h, size_t n, const char *key) {
  size_t k = strlen(key);
  for (size_t i = 0; i + k + 2 <= n; ++i) {
    if ((h[i] == '\'' || h[i] == '"') && memcmp(h + i + 1, key, k) == 0 &&
        h[i + 1 + k] == h[i]) {
      const char *p = h + i + k + 2;
      while (p < h + n && (*p == ' ' || *p == ':'))
        ++p;
      return p < h + n ? p : NULL;
    }
  }
  return NULL;
}

loomrt_status loomrt_tensor_parse_npy(const void *bytes, size_t size,
                                      loomrt_tensor **out) {
  *out = NULL;
  const uint8_t *b = (const uint8_t *)bytes;
  if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return loomrt_status_make(LOOMRT_PARSE_ERROR, "not a .npy file (bad magic)");
  uint8_t major = b[6];
  size_t header_len, offset;
  if (major == 1) {
    header_len = (size_t)b[8] | ((size_t)b[9] << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12)
      return loomrt_status_make(LOOMRT_PARSE_ERROR, "truncated .npy header");
    header_len = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) |
                 ((size_t)b[11] << 24);
    offset = 12;
  } else {
    return loomrt_status_make(LOOMRT_UNSUPPORTED,
                              ".npy format version %u is not supported",
                              (unsigned)major);
  }
  if (header_len > size - offset)
    return loomrt_status_make(LOOMRT_PARSE_ERROR, "truncated .npy header");
  const char *h = (const char *)b + offset;

  const char *d = find_key(h, header_len, "descr");
  if (!d || (*d != '\'' && *d != '"'))
    return loomrt_status_make(LOOMRT_PARSE_ERROR, ".npy header lacks 'descr'");
  const char *dend = memchr(d + 1, *d, (size_t)(h + header_len - d - 1));
  if (!dend)
    return loomrt_status_make(LOOMRT_PARSE_ERROR, "malformed .npy 'descr'");
  loomrt_dtype dtype = dtype_from_descr(d + 1, (size_t)(dend - d - 1));
  if (dtype == LOOMRT_DTYPE_UNDEFINED)
    return loomrt_status_make(LOOMRT_UNSUPPORTED,
                              ".npy dtype '%.*s' is not supported",
                              (int)(dend - d - 1), d + 1);

  const char *f = find_key(h, header_len, "fortran_order");
  if (!f)
    return loomrt_status_make(LOOMRT_PARSE_ERROR,
                              ".npy header lacks 'fortran_order'");
  if (*f == 'T')
    return loomrt_status_make(LOOMRT_UNSUPPORTED,
                              "Fortran-order .npy arrays are not supported");

  const char *s = find_key(h, header_len, "shape");
  if (!s || *s != '(')
    return loomrt_status_make(LOOMRT_PARSE_ERROR, ".npy header lacks 'shape'");
  int64_t dims[LOOMRT_MAX_RANK];
  int32_t rank = 0;
  const char *p = s + 1, *hend = h + header_len;
  while (p < hend && *p != ')') {
    if (*p == ' ' || *p == ',') {
      ++p;
      continue;
    }
    if (*p < '0' || *p > '9')
      return loomrt_status_make(LOOMRT_PARSE_ERROR, "malformed .npy 'shape'");
    int64_t v = 0;
    while (p < hend && *p >= '0' && *p <= '9') {
      if (v > (INT64_MAX - 9) / 10)
        return loomrt_status_make(LOOMRT_LIMIT_EXCEEDED,
                                  ".npy dimension is too large");
      v = v * 10 + (*p++ - '0');
    }
    if (rank == LOOMRT_MAX_RANK)
      return loomrt_status_make(LOOMRT_LIMIT_EXCEEDED,
                                ".npy rank exceeds %d", LOOMRT_MAX_RANK);
    dims[rank++] = v;
  }
  if (p >= hend)
    return loomrt_status_make(LOOMRT_PARSE_ERROR, "malformed .npy 'shape'");

  uint64_t numel;
  loomrt_status st = loomrt_shape_numel(dtype, rank, dims, &numel);
  if (st)
    return st;
  size_t data_off = offset + header_len;
  size_t need = (size_t)numel * loomrt_dtype_size(dtype);
  if (size - data_off != need)
    return loomrt_status_make(LOOMRT_PARSE_ERROR,
                              ".npy holds %zu bytes of data but its shape "
                              "needs %zu",
                              size - data_off, need);
  loomrt_tensor *t;
  st = loomrt_tensor_create(dtype, rank, dims, &t);
  if (st)
    return st;
  memcpy(t->data, b + data_off, t->nbytes);
  *out = t;
  return NULL;
}

/*===----------------------------------------------------------------------===*
 * Files
 *===----------------------------------------------------------------------===*/

/// Reads a whole file into a malloc'ed buffer.
static loomrt_status read_whole_file(const char *path, uint8_t **data,
                                     size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return loomrt_status_make(LOOMRT_IO_ERROR, "cannot open '%s': %s", path,
                              strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return loomrt_status_make(LOOMRT_IO_ERROR, "cannot seek '%s'", path);
  }
  long len = ftell(f);
  if (len < 0 || (uint64_t)len > LOOMRT_MAX_TENSOR_BYTES + 4096) {
    fclose(f);
    return loomrt_status_make(LOOMRT_LIMIT_EXCEEDED,
                              "'%s' is too large or unreadable", path);
  }
  rewind(f);
  uint8_t *buf = malloc(len ? (size_t)len : 1);
  if (!buf) {
    fclose(f);
    return loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot read '%s'", path);
  }
  if (len && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    fclose(f);
    return loomrt_status_make(LOOMRT_IO_ERROR, "cannot read '%s'", path);
  }
  fclose(f);
  *data = buf;
  *size = (size_t)len;
  return NULL;
}

/// `s` with its message prefixed by `path` (NULL stays NULL).
static loomrt_status prefix_path(const char *path, loomrt_status s) {
  if (!s)
    return NULL;
  loomrt_status wrapped = loomrt_status_make(
      loomrt_status_get_code(s), "%s: %s", path, loomrt_status_get_message(s));
  loomrt_status_free(s);
  return wrapped;
}

loomrt_status loomrt_tensor_read_file(const char *path, loomrt_tensor **out) {
  *out = NULL;
  uint8_t *data;
  size_t size;
  loomrt_status s = read_whole_file(path, &data, &size);
  if (s)
    return s;
  size_t n = strlen(path);
  int npy = n >= 4 && strcmp(path + n - 4, ".npy") == 0;
  s = npy ? loomrt_tensor_parse_npy(data, size, out)
          : loomrt_tensor_parse_pb(data, size, out);
  free(data);
  return prefix_path(path, s);
}

loomrt_status loomrt_sequence_read_file(const char *path,
                                        loomrt_tensor **out) {
  *out = NULL;
  uint8_t *data;
  size_t size;
  loomrt_status s = read_whole_file(path, &data, &size);
  if (s)
    return s;
  s = loomrt_sequence_parse_pb(data, size, out);
  free(data);
  return prefix_path(path, s);
}

static void put_varint(buffer *b, uint64_t v, int *ok) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n] = (uint8_t)(v & 0x7F);
    v >>= 7;
    if (v)
      tmp[n] |= 0x80;
    ++n;
  } while (v);
  *ok &= buffer_append(b, tmp, n);
}

static loomrt_status write_buffer(const char *path, const void *a, size_t an,
                                  const void *c, size_t cn) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return loomrt_status_make(LOOMRT_IO_ERROR, "cannot create '%s': %s", path,
                              strerror(errno));
  int ok = fwrite(a, 1, an, f) == an && (cn == 0 || fwrite(c, 1, cn, f) == cn);
  ok &= fclose(f) == 0;
  return ok ? NULL
            : loomrt_status_make(LOOMRT_IO_ERROR, "cannot write '%s'", path);
}

/// Appends a TensorProto of `tensor` (raw_data) to `b`.
static void encode_tensor(buffer *b, const loomrt_tensor *tensor, int *ok) {
  for (int32_t i = 0; i < tensor->rank; ++i) {
    put_varint(b, (1 << 3) | 0, ok);
    put_varint(b, (uint64_t)tensor->dims[i], ok);
  }
  put_varint(b, (2 << 3) | 0, ok);
  put_varint(b, (uint64_t)tensor->dtype, ok);
  if (tensor->name) {
    size_t n = strlen(tensor->name);
    put_varint(b, (8 << 3) | 2, ok);
    put_varint(b, n, ok);
    *ok &= buffer_append(b, tensor->name, n);
  }
  put_varint(b, (9 << 3) | 2, ok);
  put_varint(b, tensor->nbytes, ok);
  *ok &= buffer_append(b, tensor->data, tensor->nbytes);
}

/// Writes a sequence as a SequenceProto.
static loomrt_status write_sequence_pb(const char *path,
                                       const loomrt_tensor *seq) {
  buffer out = {0};
  int ok = 1;
  if (seq->name) {
    size_t n = strlen(seq->name);
    put_varint(&out, (1 << 3) | 2, &ok);
    put_varint(&out, n, &ok);
    ok &= buffer_append(&out, seq->name, n);
  }
  put_varint(&out, (2 << 3) | 0, &ok);
  put_varint(&out, 1 /* SequenceProto.TENSOR */, &ok);
  for (size_t i = 0; i < seq->num_elements && ok; ++i) {
    buffer one = {0};
    encode_tensor(&one, seq->elements[i], &ok);
    put_varint(&out, (3 << 3) | 2, &ok);
    put_varint(&out, one.size, &ok);
    ok &= buffer_append(&out, one.data, one.size);
    free(one.data);
  }
  loomrt_status s =
      ok ? write_buffer(path, out.data, out.size, NULL, 0)
         : loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot encode '%s'", path);
  free(out.data);
  return s;
}

loomrt_status loomrt_tensor_write_pb(const char *path,
                                     const loomrt_tensor *tensor) {
  if (tensor->is_sequence)
    return write_sequence_pb(path, tensor);
  buffer head = {0};
  int ok = 1;
  for (int32_t i = 0; i < tensor->rank; ++i) {
    put_varint(&head, (1 << 3) | 0, &ok);
    put_varint(&head, (uint64_t)tensor->dims[i], &ok);
  }
  put_varint(&head, (2 << 3) | 0, &ok);
  put_varint(&head, (uint64_t)tensor->dtype, &ok);
  if (tensor->name) {
    size_t n = strlen(tensor->name);
    put_varint(&head, (8 << 3) | 2, &ok);
    put_varint(&head, n, &ok);
    ok &= buffer_append(&head, tensor->name, n);
  }
  put_varint(&head, (9 << 3) | 2, &ok);
  put_varint(&head, tensor->nbytes, &ok);
  loomrt_status s =
      ok ? write_buffer(path, head.data, head.size, tensor->data, tensor->nbytes)
         : loomrt_status_make(LOOMRT_OUT_OF_MEMORY, "cannot encode '%s'", path);
  free(head.data);
  return s;
}

loomrt_status loomrt_tensor_write_npy(const char *path,
                                      const loomrt_tensor *tensor) {
  if (tensor->is_sequence)
    return loomrt_status_make(LOOMRT_UNSUPPORTED,
                              "cannot write a sequence as .npy ('%s'); use .pb",
                              path);
  const char *descr = descr_from_dtype(tensor->dtype);
  if (!descr)
    return loomrt_status_make(LOOMRT_UNSUPPORTED,
                              "cannot write %s tensors as .npy",
                              loomrt_dtype_name(tensor->dtype));
  char dict[1024];
  int n = snprintf(dict, sizeof dict,
                   "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int32_t i = 0; i < tensor->rank; ++i)
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s",
                  (long long)tensor->dims[i],
                  (tensor->rank == 1 || i + 1 < tensor->rank) ? ", " : "");
  n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
  /* Pad with spaces so that the data starts 64-byte aligned; end in '\n'. */
  size_t total = 10 + (size_t)n + 1;
  size_t padded = (total + 63) / 64 * 64;
  char header[1100];
  memcpy(header, "\x93NUMPY\x01\x00", 8);
  size_t hlen = padded - 10;
  header[8] = (char)(hlen & 0xFF);
  header[9] = (char)(hlen >> 8);
  memcpy(header + 10, dict, (size_t)n);
  memset(header + 10 + n, ' ', padded - total);
  header[padded - 1] = '\n';
  return write_buffer(path, header, padded, tensor->data, tensor->nbytes);
}
