/* npy.c - NumPy's .npy format: one array per file.
 *
 * A file is the magic "\x93NUMPY", a version (1.0: 2-byte header length;
 * 2.0 and 3.0: 4-byte), then a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline, then the raw data. We write what NumPy
 * writes (header padded so the data starts at a multiple of 64); bfloat16,
 * which NumPy lacks, is written as '<V2' like MLX does. Loading accepts the
 * keys in any order, both byte orders (big-endian data is swapped) and
 * Fortran order (the result is a column-major view of the data).
 *
 * Files are read with the same code as user readers, through an io_stream
 * over a file descriptor; data goes straight into the array's buffer. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/io.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* The descr letter for each kind, and the dtype for (letter, size). */
static const struct {
  char kind;
  size_t size;
  mlx_dtype dtype;
} npy_types[] = {
    {'b', 1, MLX_BOOL},    {'u', 1, MLX_UINT8},   {'u', 2, MLX_UINT16},
    {'u', 4, MLX_UINT32},  {'u', 8, MLX_UINT64},  {'i', 1, MLX_INT8},
    {'i', 2, MLX_INT16},   {'i', 4, MLX_INT32},   {'i', 8, MLX_INT64},
    {'f', 2, MLX_FLOAT16}, {'f', 4, MLX_FLOAT32}, {'f', 8, MLX_FLOAT64},
    {'V', 2, MLX_BFLOAT16}, {'c', 8, MLX_COMPLEX64},
};
#define N_NPY_TYPES (sizeof npy_types / sizeof npy_types[0])

/* ---- a file descriptor as an io_stream ---- */

typedef struct fd_reader {
  int fd;
  bool good;
  char label[];
} fd_reader;

static bool fd_is_open(void* d) {
  return ((fd_reader*)d)->fd >= 0;
}
static bool fd_good(void* d) {
  return ((fd_reader*)d)->good;
}
static size_t fd_tell(void* d) {
  off_t pos = lseek(((fd_reader*)d)->fd, 0, SEEK_CUR);
  if (pos < 0) ((fd_reader*)d)->good = false;
  return pos < 0 ? 0 : (size_t)pos;
}
static void fd_seek(void* d, int64_t off, int whence) {
  if (lseek(((fd_reader*)d)->fd, (off_t)off, whence) < 0) ((fd_reader*)d)->good = false;
}
static void fd_read_at(void* d, char* data, size_t n, size_t off) {
  fd_reader* r = d;
  while (n && r->good) {
    ssize_t m = pread(r->fd, data, n < (1u << 30) ? n : (1u << 30), (off_t)off);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) r->good = false;
    else data += m, n -= (size_t)m, off += (size_t)m;
  }
}
static void fd_read(void* d, char* data, size_t n) {
  fd_reader* r = d;
  while (n && r->good) {
    ssize_t m = read(r->fd, data, n < (1u << 30) ? n : (1u << 30));
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) r->good = false;
    else data += m, n -= (size_t)m;
  }
}
static const char* fd_label(void* d) {
  return ((fd_reader*)d)->label;
}

static const mlx_io_vtable fd_vtable = {
    fd_is_open, fd_good, fd_tell, fd_seek, fd_read, fd_read_at, NULL, fd_label, NULL,
};

/* ---- the header ---- */

typedef struct npy_header {
  mlx_dtype dtype;
  bool swap;     /* data is big-endian */
  bool fortran;
  int ndim;
  int shape[64];
} npy_header;

typedef struct cursor {
  const char* p;
  const char* end;
} cursor;

static void skip_ws(cursor* c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}
static bool eat(cursor* c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

/* A quoted Python string without escapes, copied into buf. */
static bool read_pystring(cursor* c, char* buf, size_t size) {
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return false;
  char quote = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != quote) {
    if (*c->p == '\\' || n + 1 >= size) return false;
    buf[n++] = *c->p++;
  }
  if (c->p >= c->end) return false;
  c->p++;
  buf[n] = 0;
  return true;
}

static bool read_descr(const char* s, npy_header* h) {
  char order = '=';
  if (*s == '<' || *s == '>' || *s == '|' || *s == '=') order = *s++;
  if (!s[0] || !s[1] || s[2] || s[1] < '1' || s[1] > '9') return false;
  for (size_t i = 0; i < N_NPY_TYPES; i++) {
    if (npy_types[i].kind == s[0] && npy_types[i].size == (size_t)(s[1] - '0')) {
      h->dtype = npy_types[i].dtype;
      h->swap = order == '>' && npy_types[i].size > 1;
      return true;
    }
  }
  return false;
}

/* A tuple of non-negative ints: (), (3,), (2, 3) or (2, 3,). */
static const char* read_shape(cursor* c, npy_header* h) {
  if (!eat(c, '(')) return "the shape is not a tuple";
  h->ndim = 0;
  if (eat(c, ')')) return NULL;
  for (;;) {
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return "the shape holds a non-integer";
    uint64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      v = v * 10 + (uint64_t)(*c->p++ - '0');
      if (v > INT32_MAX) return "a dimension is larger than 2147483647";
    }
    if (h->ndim == (int)(sizeof h->shape / sizeof h->shape[0]))
      return "the shape has more than 64 dimensions";
    h->shape[h->ndim++] = (int)v;
    bool comma = eat(c, ',');
    if (eat(c, ')')) {
      if (h->ndim == 1 && !comma) return "a one-element shape needs a trailing comma";
      return NULL;
    }
    if (!comma) return "the shape is not a tuple";
  }
}

/* Parses the dict; returns NULL or what is wrong. */
static const char* parse_dict(const char* text, size_t len, npy_header* h) {
  cursor c = {text, text + len};
  bool have_descr = false, have_order = false, have_shape = false;
  if (!eat(&c, '{')) return "the header is not a dict";
  while (!eat(&c, '}')) {
    char key[32], value[16];
    if (!read_pystring(&c, key, sizeof key) || !eat(&c, ':')) return "expected a key";
    if (strcmp(key, "descr") == 0 && !have_descr) {
      if (!read_pystring(&c, value, sizeof value) || !read_descr(value, h))
        return "unsupported descr";
      have_descr = true;
    } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
      skip_ws(&c);
      size_t left = (size_t)(c.end - c.p);
      if (left >= 4 && memcmp(c.p, "True", 4) == 0) h->fortran = true, c.p += 4;
      else if (left >= 5 && memcmp(c.p, "False", 5) == 0) h->fortran = false, c.p += 5;
      else return "fortran_order is not True or False";
      have_order = true;
    } else if (strcmp(key, "shape") == 0 && !have_shape) {
      const char* why = read_shape(&c, h);
      if (why) return why;
      have_shape = true;
    } else {
      return "unexpected or repeated key";
    }
    if (!eat(&c, ',')) {
      if (!eat(&c, '}')) return "expected ',' or '}'";
      break;
    }
  }
  skip_ws(&c);
  if (c.p != c.end) return "unexpected text after the dict";
  if (!have_descr || !have_order || !have_shape) return "a key is missing";
  return NULL;
}

static void swap_bytes(void* data, size_t n_units, size_t unit) {
  unsigned char* p = data;
  for (size_t i = 0; i < n_units; i++, p += unit)
    for (size_t a = 0, b = unit - 1; a < b; a++, b--) {
      unsigned char t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
}

array* npy_load_stream(const io_stream* in) {
  const char* op = "load";
  if (io_stream_check_reader(in, op)) return NULL;
  const char* label = io_stream_label(in);
  unsigned char pre[8];
  in->vt.read(in->desc, (char*)pre, 8);
  if (!in->vt.good(in->desc) || memcmp(pre, npy_magic, 6) != 0) {
    error_set("[load] Invalid header in %s", label);
    return NULL;
  }
  if (pre[6] < 1 || pre[6] > 3) {
    error_set("[load] Unsupported npy format version in %s", label);
    return NULL;
  }
  size_t len_size = pre[6] == 1 ? 2 : 4;
  unsigned char len_bytes[4] = {0};
  in->vt.read(in->desc, (char*)len_bytes, len_size);
  size_t header_len = len_bytes[0] | (size_t)len_bytes[1] << 8 |
                      (size_t)len_bytes[2] << 16 | (size_t)len_bytes[3] << 24;
  size_t file_size;
  if (!in->vt.good(in->desc) || io_stream_size(in, 8 + len_size, &file_size, op))
    goto bad_header;
  if (header_len > file_size || 8 + len_size + header_len > file_size) {
    error_set("[load] The header is %zu bytes long but %s is only %zu bytes.",
              header_len, label, file_size);
    return NULL;
  }
  char* text = malloc(header_len ? header_len : 1);
  if (!text) {
    error_set("[load] Out of memory.");
    return NULL;
  }
  in->vt.read(in->desc, text, header_len);
  npy_header h = {0};
  const char* why = in->vt.good(in->desc) ? parse_dict(text, header_len, &h)
                                          : "unable to read it";
  free(text);
  if (why) {
    error_set("[load] Invalid header in %s: %s.", label, why);
    return NULL;
  }
  size_t size;
  if (shape_check(op, h.shape, h.ndim, &size)) return NULL;
  size_t esize = dtype_size(h.dtype), nbytes = size * esize;
  size_t offset = 8 + len_size + header_len;
  if (file_size - offset < nbytes) {
    error_set("[load] %s holds %zu bytes of data but the array needs %zu. "
              "Perhaps an incomplete download or corrupt file?",
              label, file_size - offset, nbytes);
    return NULL;
  }
  /* Fortran order: the data is the row-major layout of the reversed shape */
  int stored[64];
  for (int i = 0; i < h.ndim; i++) stored[i] = h.fortran ? h.shape[h.ndim - 1 - i] : h.shape[i];
  array* a = array_new_alloc(h.dtype, h.ndim, stored);
  if (!a) return NULL;
  if (io_stream_read_at(in, a->buf->ptr, nbytes, offset, op)) {
    array_release(a);
    return NULL;
  }
  if (h.swap) {
    size_t unit = h.dtype == MLX_COMPLEX64 ? 4 : esize;
    swap_bytes(a->buf->ptr, nbytes / unit, unit);
  }
  if (!h.fortran || h.ndim < 2) return a;
  /* a column-major view of the same buffer */
  array* out = array_new_wrap(h.dtype, h.ndim, h.shape, NULL, NULL, NULL);
  if (out) {
    int64_t strides[64];
    for (int i = 0; i < h.ndim; i++) strides[i] = a->strides[h.ndim - 1 - i];
    array_set_view(out, a, strides, 0, a->data_size);
  }
  array_release(a);
  return out;
bad_header:
  error_set("[load] Invalid header in %s", label);
  return NULL;
}

array* npy_load_file(const char* path) {
  size_t n = strlen(path) + 6;
  fd_reader* r = malloc(sizeof *r + n);
  if (!r) {
    error_set("[load] Out of memory.");
    return NULL;
  }
  snprintf(r->label, n, "file %s", path);
  r->fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  r->good = r->fd >= 0 && fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode);
  io_stream s = {r, fd_vtable};
  array* a = npy_load_stream(&s);
  if (r->fd >= 0) close(r->fd);
  free(r);
  return a;
}

/* ---- saving ---- */

static int write_npy(io_sink* sink, array* in) {
  if (in->ndim > 64)
    return error_set("[save] Arrays with more than 64 dimensions are not supported.");
  array* a;
  if (io_prepare_arrays(&in, 1, &a, "save")) return 1;
  char header[256 + 64 * 13];
  size_t esize = dtype_size(a->dtype);
  char kind = 0;
  for (size_t i = 0; i < N_NPY_TYPES; i++)
    if (npy_types[i].dtype == a->dtype) kind = npy_types[i].kind;
  int n = snprintf(header, sizeof header,
                   "{'descr': '%c%c%zu', 'fortran_order': False, 'shape': (",
                   esize > 1 ? '<' : '|', kind, esize);
  for (int i = 0; i < a->ndim; i++)
    n += snprintf(header + n, sizeof header - (size_t)n, "%s%d", i ? ", " : "", a->shape[i]);
  n += snprintf(header + n, sizeof header - (size_t)n, "%s), }", a->ndim == 1 ? "," : "");
  /* pad with spaces and a newline so the data starts at a multiple of 64 */
  size_t len = (size_t)n;
  size_t total = 10 + len + 1;
  size_t padded = (total + 63) / 64 * 64;
  memset(header + len, ' ', padded - total);
  len += padded - total;
  header[len++] = '\n';
  unsigned char pre[10];
  memcpy(pre, npy_magic, 6);
  pre[6] = 1;
  pre[7] = 0;
  pre[8] = (unsigned char)(len & 0xff);
  pre[9] = (unsigned char)(len >> 8);
  int rc = io_sink_write(sink, pre, 10) || io_sink_write(sink, header, len) ||
           (array_nbytes(a) && io_sink_write(sink, array_data(a), array_nbytes(a)));
  array_release(a);
  return rc;
}

int npy_save_file(const char* path, array* a) {
  char* file = io_with_suffix(path, ".npy", "save");
  if (!file) return 1;
  char* tmp = NULL;
  int fd = io_temp_open(file, "save", &tmp);
  if (fd < 0) {
    free(file);
    return 1;
  }
  io_sink sink = {fd, NULL, "save", file, 0};
  int failed = write_npy(&sink, a);
  int rc = io_temp_commit(fd, tmp, file, "save", failed);
  free(file);
  return rc;
}

int npy_save_stream(const io_stream* out, array* a) {
  if (io_stream_check_writer(out, "save")) return 1;
  io_sink sink = {-1, out, "save", io_stream_label(out), 0};
  return write_npy(&sink, a);
}
