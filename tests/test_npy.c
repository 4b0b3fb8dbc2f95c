/* test_npy.c - .npy loading and saving (mlx_load / mlx_save and their
 * reader/writer forms).
 *
 * Proves: every dtype round-trips byte for byte (0-d, 1-d, empty and
 * non-contiguous inputs); the file we write is NumPy's (v1.0, dict with
 * 'descr', 'fortran_order', 'shape', data at a multiple of 64); files NumPy
 * writes in other forms load correctly (big-endian data, Fortran order,
 * version 2.0, keys in another order); malformed files fail with their
 * message. The crafted files are written byte by byte from the format's
 * description, not by our writer. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "core/array.h"
#include "harness.h"

static char tmp_dir[64];

static const char* tmp_path(const char* name) {
  static char bufs[4][512];
  static int next;
  char* b = bufs[next++ & 3];
  snprintf(b, 512, "%.63s/%.400s", tmp_dir, name);
  return b;
}

/* A .npy file: magic, version, little-endian header length (2 bytes for
 * version 1, else 4), the dict, then data. */
static unsigned char* craft(int version, const char* dict, const void* data,
                            size_t data_len, size_t* n) {
  size_t hl = strlen(dict), ls = version == 1 ? 2 : 4;
  *n = 8 + ls + hl + data_len;
  unsigned char* f = malloc(*n);
  memcpy(f, "\x93NUMPY", 6);
  f[6] = (unsigned char)version;
  f[7] = 0;
  for (size_t i = 0; i < ls; i++) f[8 + i] = (unsigned char)(hl >> (8 * i));
  memcpy(f + 8 + ls, dict, hl);
  if (data_len) memcpy(f + 8 + ls + hl, data, data_len);
  return f;
}

/* ---- a user stream over memory ---- */

typedef struct membuf {
  unsigned char* data;
  size_t len, cap, pos;
  bool good;
} membuf;

static bool mem_is_open(void* d) {
  (void)d;
  return true;
}
static bool mem_good(void* d) {
  return ((membuf*)d)->good;
}
static size_t mem_tell(void* d) {
  return ((membuf*)d)->pos;
}
static void mem_seek(void* d, int64_t off, int whence) {
  membuf* m = d;
  m->pos = (size_t)((whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)m->pos
                                                                 : (int64_t)m->len) + off);
}
static void mem_read_at(void* d, char* out, size_t n, size_t off) {
  membuf* m = d;
  if (off > m->len || m->len - off < n) {
    m->good = false;
    return;
  }
  memcpy(out, m->data + off, n);
}
static void mem_read(void* d, char* out, size_t n) {
  membuf* m = d;
  mem_read_at(d, out, n, m->pos);
  if (m->good) m->pos += n;
}
static void mem_write(void* d, const char* in, size_t n) {
  membuf* m = d;
  if (m->len + n > m->cap) {
    m->cap = (m->len + n) * 2;
    m->data = realloc(m->data, m->cap);
  }
  memcpy(m->data + m->len, in, n);
  m->len += n;
}
static const char* mem_label(void* d) {
  (void)d;
  return "memory";
}
static void mem_free(void* d) {
  (void)d;
}
static const mlx_io_vtable mem_vtable = {
    mem_is_open, mem_good, mem_tell, mem_seek, mem_read,
    mem_read_at, mem_write, mem_label, mem_free,
};

/* ---- tests ---- */

static const mlx_dtype all_dtypes[] = {
    MLX_BOOL,  MLX_UINT8, MLX_UINT16, MLX_UINT32,  MLX_UINT64,
    MLX_INT8,  MLX_INT16, MLX_INT32,  MLX_INT64,   MLX_FLOAT16,
    MLX_FLOAT32, MLX_FLOAT64, MLX_BFLOAT16, MLX_COMPLEX64,
};

static void expect_bytes(mlx_array a, mlx_dtype t, const int* shape, int ndim,
                         const void* bytes, const char* what) {
  CHECK_MSG(a.ctx && mlx_array_dtype(a) == t, "%s dtype", what);
  CHECK_MSG(a.ctx && test_shape_is(a, shape, ndim), "%s shape", what);
  if (!a.ctx) return;
  mlx_array c = mlx_array_new();
  CHECK_OK(mlx_contiguous(&c, a, false, test_stream));
  CHECK_OK(mlx_array_eval(c));
  size_t n = mlx_array_nbytes(c);
  const void* p = array_data((array*)c.ctx);
  CHECK_MSG(n == 0 || (p && memcmp(p, bytes, n) == 0), "%s bytes", what);
  mlx_array_free(c);
}

static void test_round_trip(void) {
  int shapes[4][3] = {{3, 5}, {7}, {0, 3}, {0}};
  int ndims[4] = {2, 1, 2, 0};
  for (size_t i = 0; i < sizeof all_dtypes / sizeof all_dtypes[0]; i++) {
    mlx_dtype t = all_dtypes[i];
    unsigned char bytes[15 * 8];
    uint32_t x = 12345u + (uint32_t)i;
    for (size_t k = 0; k < sizeof bytes; k++) {
      x = x * 1664525u + 1013904223u;
      bytes[k] = t == MLX_BOOL ? (unsigned char)(x >> 31) : (unsigned char)(x >> 24);
    }
    for (int s = 0; s < 4; s++) {
      char what[64];
      snprintf(what, sizeof what, "dtype %d shape #%d", (int)t, s);
      mlx_array a = mlx_array_new_data(bytes, shapes[s], ndims[s], t);
      const char* p = tmp_path("rt.npy");
      CHECK_OK(mlx_save(p, a));
      mlx_array b = mlx_array_new();
      CHECK_OK(mlx_load(&b, p, test_stream));
      expect_bytes(b, t, shapes[s], ndims[s], bytes, what);
      /* and through a writer and a reader */
      membuf mb = {0};
      mb.good = true;
      mlx_io_writer w = mlx_io_writer_new(&mb, mem_vtable);
      CHECK_OK(mlx_save_writer(w, a));
      mlx_io_writer_free(w);
      size_t n;
      unsigned char* file = test_read_bytes(p, &n);
      CHECK(file && n == mb.len && memcmp(file, mb.data, n) == 0);
      free(file);
      mlx_io_reader r = mlx_io_reader_new(&mb, mem_vtable);
      mlx_array c = mlx_array_new();
      CHECK_OK(mlx_load_reader(&c, r, test_stream));
      expect_bytes(c, t, shapes[s], ndims[s], bytes, what);
      mlx_io_reader_free(r);
      free(mb.data);
      mlx_array_free(a);
      mlx_array_free(b);
      mlx_array_free(c);
      unlink(p);
    }
  }
  /* a non-contiguous (broadcast) input is saved in row-major order */
  float row[3] = {1, 2, 3};
  int s1[1] = {3}, s2[2] = {2, 3};
  mlx_array r = test_array_f32(row, s1, 1), bc = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&bc, r, s2, 2, test_stream));
  CHECK_OK(mlx_save(tmp_path("bc.npy"), bc));
  mlx_array back = mlx_array_new();
  CHECK_OK(mlx_load(&back, tmp_path("bc.npy"), test_stream));
  float want[6] = {1, 2, 3, 1, 2, 3};
  expect_bytes(back, MLX_FLOAT32, s2, 2, want, "broadcast");
  mlx_array_free(r);
  mlx_array_free(bc);
  mlx_array_free(back);
}

/* The bytes NumPy writes for float32 (2, 3) and int8 (4,). */
static void test_written_format(void) {
  float v[6] = {0, 1, 2, 3, 4, 5};
  int s[2] = {2, 3};
  mlx_array a = test_array_f32(v, s, 2);
  CHECK_OK(mlx_save(tmp_path("fmt"), a)); /* ".npy" is appended */
  size_t n;
  unsigned char* f = test_read_bytes(tmp_path("fmt.npy"), &n);
  const char* dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  /* 10 + 60 bytes of dict + newline, padded to 128 (NumPy's length 118) */
  CHECK(f && n == 128 + 24);
  if (f && n == 128 + 24) {
    CHECK(memcmp(f, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK(f[8] == 118 && f[9] == 0);
    CHECK(memcmp(f + 10, dict, strlen(dict)) == 0);
    for (size_t i = 10 + strlen(dict); i < 127; i++) CHECK(f[i] == ' ');
    CHECK(f[127] == '\n');
    CHECK(memcmp(f + 128, v, 24) == 0);
  }
  free(f);
  mlx_array_free(a);
  int8_t bytes[4] = {1, -2, 3, -4};
  int s4[1] = {4};
  a = mlx_array_new_data(bytes, s4, 1, MLX_INT8);
  CHECK_OK(mlx_save(tmp_path("i8.npy"), a));
  f = test_read_bytes(tmp_path("i8.npy"), &n);
  dict = "{'descr': '|i1', 'fortran_order': False, 'shape': (4,), }";
  CHECK(f && n == 132 && memcmp(f + 10, dict, strlen(dict)) == 0);
  free(f);
  mlx_array_free(a);
}

static void test_foreign_files(void) {
  /* big-endian int32 in Fortran order: a[i][j] = 10 i + j for shape (2, 3)
   * is stored column by column: 0, 10, 1, 11, 2, 12 */
  unsigned char be[24] = {0};
  int col[6] = {0, 10, 1, 11, 2, 12};
  for (int i = 0; i < 6; i++) be[4 * i + 3] = (unsigned char)col[i];
  size_t n;
  unsigned char* f = craft(1, "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3), }\n",
                           be, sizeof be, &n);
  test_write_bytes(tmp_path("be.npy"), f, n);
  free(f);
  mlx_array a = mlx_array_new();
  CHECK_OK(mlx_load(&a, tmp_path("be.npy"), test_stream));
  int s23[2] = {2, 3};
  CHECK(mlx_array_dtype(a) == MLX_INT32 && test_shape_is(a, s23, 2));
  double* d = test_to_f64(a);
  double want[6] = {0, 1, 2, 10, 11, 12};
  CHECK(d && memcmp(d, want, sizeof want) == 0);
  free(d);
  mlx_array_free(a);

  /* version 2.0, keys in another order, big-endian complex64 (each part
   * swapped on its own), double quotes */
  unsigned char cbe[8] = {0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0}; /* 1 - 2i */
  f = craft(2, "{\"shape\": (1,), \"fortran_order\": False, \"descr\": \">c8\"}", cbe, 8, &n);
  test_write_bytes(tmp_path("c.npy"), f, n);
  free(f);
  a = mlx_array_new();
  CHECK_OK(mlx_load(&a, tmp_path("c.npy"), test_stream));
  const mlx_complex64_t* c = mlx_array_data_complex64(a);
  CHECK(c && crealf(c[0]) == 1.0f && cimagf(c[0]) == -2.0f);
  mlx_array_free(a);

  /* bfloat16 as MLX writes it ('<V2') and bool */
  uint16_t bf[2] = {0x3f80, 0xc000};
  f = craft(1, "{'descr': '<V2', 'fortran_order': False, 'shape': (2,), }", bf, 4, &n);
  test_write_bytes(tmp_path("bf.npy"), f, n);
  free(f);
  a = mlx_array_new();
  CHECK_OK(mlx_load(&a, tmp_path("bf.npy"), test_stream));
  int s2[1] = {2};
  expect_bytes(a, MLX_BFLOAT16, s2, 1, bf, "bfloat16");
  mlx_array_free(a);
  f = craft(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", "\x01\x00", 2, &n);
  test_write_bytes(tmp_path("b.npy"), f, n);
  free(f);
  a = mlx_array_new();
  CHECK_OK(mlx_load(&a, tmp_path("b.npy"), test_stream));
  expect_bytes(a, MLX_BOOL, s2, 1, "\x01\x00", "bool");
  mlx_array_free(a);
}

typedef struct bad_npy {
  const char* name;
  int version;
  const char* dict;
  size_t data_len;
  const char* msg; /* "%s": the label */
} bad_npy;

static const bad_npy bad_files[] = {
    {"version", 4, "{}", 0, "[load] Unsupported npy format version in %s"},
    {"not-a-dict", 1, "[1]", 0, "[load] Invalid header in %s: the header is not a dict."},
    {"descr", 1, "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", 16,
     "[load] Invalid header in %s: unsupported descr."},
    {"object", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8,
     "[load] Invalid header in %s: unsupported descr."},
    {"missing-shape", 1, "{'descr': '<f4', 'fortran_order': False}", 0,
     "[load] Invalid header in %s: a key is missing."},
    {"repeated-key", 1, "{'descr': '<f4', 'descr': '<f4'}", 0,
     "[load] Invalid header in %s: unexpected or repeated key."},
    {"unknown-key", 1, "{'descr': '<f4', 'x': 1}", 0,
     "[load] Invalid header in %s: unexpected or repeated key."},
    {"order", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4,
     "[load] Invalid header in %s: fortran_order is not True or False."},
    {"shape-list", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", 4,
     "[load] Invalid header in %s: the shape is not a tuple."},
    {"shape-negative", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 4,
     "[load] Invalid header in %s: the shape holds a non-integer."},
    {"shape-no-comma", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", 12,
     "[load] Invalid header in %s: a one-element shape needs a trailing comma."},
    {"shape-huge", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648,)}", 4,
     "[load] Invalid header in %s: a dimension is larger than 2147483647."},
    {"shape-overflow", 1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647, 2147483647)}", 4,
     "[load] Shape is too large: the array would exceed the addressable size."},
    {"trailing", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 4,
     "[load] Invalid header in %s: unexpected text after the dict."},
    {"unterminated", 1, "{'descr': '<f4", 0, "[load] Invalid header in %s: unsupported descr."},
    {"short-data", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 12,
     "[load] %s holds 12 bytes of data but the array needs 16. Perhaps an incomplete "
     "download or corrupt file?"},
};

static void expect_load_error(const char* name, const unsigned char* f, size_t n,
                              const char* msg) {
  char path[512], label[600], want[1024];
  snprintf(path, sizeof path, "%s/bad-%s.npy", tmp_dir, name);
  test_write_bytes(path, f, n);
  snprintf(label, sizeof label, "file %s", path);
  snprintf(want, sizeof want, msg, label);
  mlx_array a = mlx_array_new();
  test_error_count = 0;
  int rc = mlx_load(&a, path, test_stream);
  CHECK_MSG(rc == 1 && test_error_count == 1 && !strcmp(test_last_error, want),
            "case %s: rc %d \"%s\", expected \"%s\"", name, rc, test_last_error, want);
  membuf mb = {(unsigned char*)f, n, n, 0, true};
  mlx_io_reader r = mlx_io_reader_new(&mb, mem_vtable);
  snprintf(want, sizeof want, msg, "memory");
  test_error_count = 0;
  rc = mlx_load_reader(&a, r, test_stream);
  CHECK_MSG(rc == 1 && test_error_count == 1 && !strcmp(test_last_error, want),
            "case %s (reader): rc %d \"%s\", expected \"%s\"", name, rc,
            test_last_error, want);
  mlx_io_reader_free(r);
  mlx_array_free(a);
  unlink(path);
}

static void test_malformed(void) {
  unsigned char zeros[16] = {0};
  for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
    size_t n;
    unsigned char* f = craft(bad_files[i].version, bad_files[i].dict, zeros,
                             bad_files[i].data_len, &n);
    expect_load_error(bad_files[i].name, f, n, bad_files[i].msg);
    free(f);
  }
  expect_load_error("magic", (const unsigned char*)"\x93NUMPX\x01\x00\x02\x00{}", 12,
                    "[load] Invalid header in %s");
  expect_load_error("short", (const unsigned char*)"\x93NUM", 4, "[load] Invalid header in %s");
  expect_load_error("header-past-end", (const unsigned char*)"\x93NUMPY\x01\x00\xff\x00{}", 12,
                    "[load] The header is 255 bytes long but %s is only 12 bytes.");

  mlx_array a = mlx_array_new();
  char want[600];
  const char* missing = tmp_path("missing.npy");
  snprintf(want, sizeof want, "[load] Failed to open file %s", missing);
  EXPECT_ERROR(mlx_load(&a, missing, test_stream), want);
  EXPECT_ERROR(mlx_load(&a, NULL, test_stream), "[load] The file name is NULL.");
  EXPECT_ERROR(mlx_load_reader(&a, (mlx_io_reader){NULL}, test_stream),
               "[load] The reader handle is empty.");
  EXPECT_ERROR(mlx_save(tmp_path("x.npy"), a), "[save] The input array is empty (an mlx_array_new() handle).");
  int ones[65];
  for (int i = 0; i < 65; i++) ones[i] = 1;
  float one = 1;
  mlx_array big = mlx_array_new_data(&one, ones, 65, MLX_FLOAT32);
  EXPECT_ERROR(mlx_save(tmp_path("x.npy"), big),
               "[save] Arrays with more than 64 dimensions are not supported.");
  CHECK(access(tmp_path("x.npy"), F_OK) != 0);
  mlx_array_free(big);
  mlx_array_free(a);
}

int main(void) {
  test_init();
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cmlx-npy-XXXXXX");
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_round_trip();
  test_written_format();
  test_foreign_files();
  test_malformed();
  const char* files[] = {"bc.npy", "fmt.npy", "i8.npy", "be.npy", "c.npy", "bf.npy", "b.npy"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(tmp_path(files[i]));
  CHECK(rmdir(tmp_dir) == 0);
  return test_finish("test_npy");
}
