/* test_safetensors.c - safetensors loading and saving (mlx/c/io.h).
 *
 * Proves: every dtype and the metadata survive a save/load round trip byte
 * for byte (files and user writers/readers, lazy and non-contiguous inputs,
 * 0-d and empty arrays); the header we write is MLX's (sorted compact JSON)
 * padded to 8 bytes with aligned data; loaded tensors borrow the file's
 * mapping, which goes away with the last array, while misaligned ones are
 * copied; saving goes through a temporary file and never leaves one behind;
 * a table of malformed files each fails with its message, through files and
 * readers; MLX-written files (the random oracle, the tiny-llama checkpoint)
 * load with the shapes, dtypes and bytes that Python's struct module read
 * from them when this test was written (FNV-1a hashes and sums below). */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/array.h"
#include "harness.h"

static char tmp_dir[64];

/* A path inside the temporary directory (static buffer, rotates 4). */
static const char* tmp_path(const char* name) {
  static char bufs[4][512];
  static int next;
  char* b = bufs[next++ & 3];
  snprintf(b, 512, "%.63s/%.400s", tmp_dir, name);
  return b;
}

/* Number of entries in the temporary directory. */
static int dir_entries(void) {
  DIR* d = opendir(tmp_dir);
  int n = 0;
  for (struct dirent* e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  if (d) closedir(d);
  return n;
}

static void remove_tmp_dir(void) {
  DIR* d = opendir(tmp_dir);
  for (struct dirent* e; d && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    const char* p = tmp_path(e->d_name);
    if (rmdir(p) != 0) unlink(p);
  }
  if (d) closedir(d);
  rmdir(tmp_dir);
}

static uint64_t fnv1a(const void* data, size_t n) {
  const unsigned char* p = data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

/* Row-major bytes of an evaluated array (the loader only makes contiguous
 * arrays, so its data pointer covers nbytes). */
static const void* bytes_of(mlx_array a) {
  if (mlx_array_eval(a)) return NULL;
  return array_data((array*)a.ctx);
}

static bool borrows_file(mlx_array a) {
  return ((array*)a.ctx)->buf->external;
}

static mlx_array get(mlx_map_string_to_array m, const char* key) {
  mlx_array a = mlx_array_new();
  if (mlx_map_string_to_array_get(&a, m, key) != 0) {
    mlx_array_free(a);
    return mlx_array_new();
  }
  return a;
}

static size_t map_count(mlx_map_string_to_array m) {
  mlx_map_string_to_array_iterator it = mlx_map_string_to_array_iterator_new(m);
  mlx_array v = mlx_array_new();
  const char* k;
  size_t n = 0;
  while (mlx_map_string_to_array_iterator_next(&k, &v, it) == 0) n++;
  mlx_array_free(v);
  mlx_map_string_to_array_iterator_free(it);
  return n;
}

/* ---- a user stream over memory ---- */

typedef struct membuf {
  unsigned char* data;
  size_t len, cap, pos;
  bool good;
  size_t fail_after; /* writes/reads beyond this many bytes fail (0: never) */
  int frees;
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
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)m->pos : (int64_t)m->len;
  if (base + off < 0) m->good = false;
  else m->pos = (size_t)(base + off);
}
static void mem_read_at(void* d, char* out, size_t n, size_t off) {
  membuf* m = d;
  if (off > m->len || m->len - off < n || (m->fail_after && off + n > m->fail_after)) {
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
  if (m->fail_after && m->len + n > m->fail_after) {
    m->good = false;
    return;
  }
  if (m->len + n > m->cap) {
    m->cap = (m->len + n) * 2;
    m->data = realloc(m->data, m->cap);
  }
  memcpy(m->data + m->len, in, n);
  m->len += n;
  m->pos = m->len;
}
static const char* mem_label(void* d) {
  (void)d;
  return "memory";
}
static void mem_free(void* d) {
  ((membuf*)d)->frees++;
}

static const mlx_io_vtable mem_vtable = {
    mem_is_open, mem_good, mem_tell, mem_seek, mem_read,
    mem_read_at, mem_write, mem_label, mem_free,
};

/* A membuf reading a copy of data. */
static membuf mem_over(const void* data, size_t n) {
  membuf m = {0};
  m.data = malloc(n ? n : 1);
  if (n) memcpy(m.data, data, n);
  m.len = m.cap = n;
  m.good = true;
  return m;
}

/* ---- round trips ---- */

static const mlx_dtype all_dtypes[] = {
    MLX_BOOL,  MLX_UINT8, MLX_UINT16, MLX_UINT32,  MLX_UINT64,
    MLX_INT8,  MLX_INT16, MLX_INT32,  MLX_INT64,   MLX_FLOAT16,
    MLX_FLOAT32, MLX_FLOAT64, MLX_BFLOAT16, MLX_COMPLEX64,
};
#define N_DTYPES (sizeof all_dtypes / sizeof all_dtypes[0])

/* Deterministic bytes for n elements of dtype (bools 0/1; any bit pattern
 * for the others: nothing is converted on the way). */
static unsigned char* pattern(mlx_dtype t, size_t n, unsigned seed) {
  size_t bytes = n * mlx_dtype_size(t);
  unsigned char* p = malloc(bytes ? bytes : 1);
  uint32_t x = 2463534242u ^ seed * 2654435761u;
  for (size_t i = 0; i < bytes; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    p[i] = t == MLX_BOOL ? (unsigned char)(x & 1) : (unsigned char)x;
  }
  return p;
}

static void expect_same(mlx_array got, mlx_dtype t, const int* shape, int ndim,
                        const void* bytes, const char* what) {
  CHECK_MSG(got.ctx != NULL, "%s missing", what);
  if (!got.ctx) return;
  CHECK_MSG(mlx_array_dtype(got) == t, "%s dtype %d", what, (int)mlx_array_dtype(got));
  CHECK_MSG(test_shape_is(got, shape, ndim), "%s shape", what);
  size_t n = mlx_array_nbytes(got);
  const void* p = bytes_of(got);
  CHECK_MSG(p && (n == 0 || memcmp(p, bytes, n) == 0), "%s bytes differ", what);
}

static void test_round_trip_every_dtype(void) {
  mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  unsigned char* data[N_DTYPES];
  unsigned char* scalars[N_DTYPES];
  int shape[2] = {3, 5};
  for (size_t i = 0; i < N_DTYPES; i++) {
    mlx_dtype t = all_dtypes[i];
    char name[64];
    data[i] = pattern(t, 15, (unsigned)i);
    scalars[i] = pattern(t, 1, 100 + (unsigned)i);
    mlx_array a = mlx_array_new_data(data[i], shape, 2, t);
    mlx_array s = mlx_array_new_data(scalars[i], NULL, 0, t);
    snprintf(name, sizeof name, "layer.%zu/w", i);
    CHECK_OK(mlx_map_string_to_array_insert(arrays, name, a));
    snprintf(name, sizeof name, "scalar.%zu", i);
    CHECK_OK(mlx_map_string_to_array_insert(arrays, name, s));
    mlx_array_free(a);
    mlx_array_free(s);
  }
  int empty_shape[3] = {2, 0, 3};
  mlx_array empty = mlx_array_new_data(NULL, empty_shape, 3, MLX_FLOAT32);
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "empty", empty));
  /* a broadcast (stride 0) input and a pending one */
  float row[3] = {1.5f, -2.0f, 3.25f};
  int row_shape[1] = {3}, wide[2] = {4, 3};
  mlx_array r = test_array_f32(row, row_shape, 1);
  mlx_array bc = mlx_array_new(), lazy = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&bc, r, wide, 2, test_stream));
  CHECK_OK(mlx_astype(&lazy, r, MLX_FLOAT64, test_stream));
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "broadcast", bc));
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "lazy", lazy));
  CHECK_OK(mlx_map_string_to_string_insert(meta, "format", "mlx"));
  CHECK_OK(mlx_map_string_to_string_insert(meta, "note", "tab\t \"quoted\" \\ ✓ \x01 end"));
  CHECK_OK(mlx_map_string_to_string_insert(meta, "", "empty key"));

  const char* path = tmp_path("all.safetensors");
  CHECK_OK(mlx_save_safetensors(path, arrays, meta));

  /* loading into maps that already hold something replaces their contents */
  mlx_map_string_to_array got = mlx_map_string_to_array_new();
  mlx_map_string_to_string got_meta = mlx_map_string_to_string_new();
  CHECK_OK(mlx_map_string_to_array_insert(got, "stale", r));
  CHECK_OK(mlx_map_string_to_string_insert(got_meta, "stale", "x"));
  CHECK_OK(mlx_load_safetensors(&got, &got_meta, path, test_stream));
  CHECK(map_count(got) == 2 * N_DTYPES + 3);
  mlx_array stale = get(got, "stale");
  CHECK(stale.ctx == NULL);
  const char* v = NULL;
  CHECK(mlx_map_string_to_string_get(&v, got_meta, "stale") == 2);
  CHECK(mlx_map_string_to_string_get(&v, got_meta, "format") == 0 && v && !strcmp(v, "mlx"));
  CHECK(mlx_map_string_to_string_get(&v, got_meta, "note") == 0 && v &&
        !strcmp(v, "tab\t \"quoted\" \\ ✓ \x01 end"));
  CHECK(mlx_map_string_to_string_get(&v, got_meta, "") == 0 && v && !strcmp(v, "empty key"));

  for (size_t i = 0; i < N_DTYPES; i++) {
    char name[64];
    snprintf(name, sizeof name, "layer.%zu/w", i);
    mlx_array a = get(got, name);
    expect_same(a, all_dtypes[i], shape, 2, data[i], name);
    /* everything we write is aligned, so nothing was copied */
    CHECK_MSG(a.ctx && borrows_file(a), "%s copied", name);
    mlx_array_free(a);
    snprintf(name, sizeof name, "scalar.%zu", i);
    a = get(got, name);
    expect_same(a, all_dtypes[i], NULL, 0, scalars[i], name);
    mlx_array_free(a);
  }
  mlx_array e = get(got, "empty");
  expect_same(e, MLX_FLOAT32, empty_shape, 3, NULL, "empty");
  mlx_array_free(e);
  float bc_want[12] = {1.5f, -2.0f, 3.25f, 1.5f, -2.0f, 3.25f,
                       1.5f, -2.0f, 3.25f, 1.5f, -2.0f, 3.25f};
  mlx_array b2 = get(got, "broadcast");
  expect_same(b2, MLX_FLOAT32, wide, 2, bc_want, "broadcast");
  mlx_array_free(b2);
  double lazy_want[3] = {1.5, -2.0, 3.25};
  mlx_array l2 = get(got, "lazy");
  expect_same(l2, MLX_FLOAT64, row_shape, 1, lazy_want, "lazy");
  mlx_array_free(l2);

  /* the same maps through a user writer give the same bytes, and a user
   * reader loads them back */
  membuf out = {0};
  out.good = true;
  mlx_io_writer w = mlx_io_writer_new(&out, mem_vtable);
  CHECK_OK(mlx_save_safetensors_writer(w, arrays, meta));
  mlx_string label = mlx_string_new();
  CHECK_OK(mlx_io_writer_tostring(&label, w));
  CHECK(!strcmp(mlx_string_data(label), "memory"));
  void* desc = NULL;
  CHECK_OK(mlx_io_writer_descriptor(&desc, w));
  CHECK(desc == &out);
  mlx_string_free(label);
  mlx_io_writer_free(w);
  CHECK(out.frees == 1);
  size_t file_len;
  unsigned char* file = test_read_bytes(path, &file_len);
  CHECK(file && file_len == out.len && memcmp(file, out.data, file_len) == 0);
  free(file);

  out.pos = 0;
  mlx_io_reader rd = mlx_io_reader_new(&out, mem_vtable);
  mlx_map_string_to_array got2 = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta2 = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors_reader(&got2, &meta2, rd, test_stream));
  mlx_io_reader_free(rd);
  CHECK(out.frees == 2);
  CHECK(map_count(got2) == 2 * N_DTYPES + 3);
  for (size_t i = 0; i < N_DTYPES; i++) {
    char name[64];
    snprintf(name, sizeof name, "layer.%zu/w", i);
    mlx_array a = get(got2, name);
    expect_same(a, all_dtypes[i], shape, 2, data[i], name);
    CHECK(a.ctx && !borrows_file(a));
    mlx_array_free(a);
  }
  CHECK(mlx_map_string_to_string_get(&v, meta2, "format") == 0 && v && !strcmp(v, "mlx"));
  free(out.data);

  for (size_t i = 0; i < N_DTYPES; i++) {
    free(data[i]);
    free(scalars[i]);
  }
  mlx_array_free(r);
  mlx_array_free(bc);
  mlx_array_free(lazy);
  mlx_array_free(empty);
  mlx_map_string_to_array_free(arrays);
  mlx_map_string_to_string_free(meta);
  mlx_map_string_to_array_free(got);
  mlx_map_string_to_string_free(got_meta);
  mlx_map_string_to_array_free(got2);
  mlx_map_string_to_string_free(meta2);
}

/* The exact bytes of a small file: MLX's compact JSON with sorted keys,
 * "__metadata__" first, spaces up to a multiple of 8, and the data laid out
 * by decreasing element size (F32 before U8) so each tensor is aligned. */
static void test_header_format(void) {
  mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  uint8_t bytes[3] = {7, 8, 9};
  float floats[2] = {1.0f, 2.0f};
  int s3[1] = {3}, s2[1] = {2};
  mlx_array a = mlx_array_new_data(bytes, s3, 1, MLX_UINT8);
  mlx_array b = test_array_f32(floats, s2, 1);
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "a", a));
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "b", b));
  CHECK_OK(mlx_map_string_to_string_insert(meta, "format", "mlx"));
  /* no suffix: ".safetensors" is appended, as MLX does */
  CHECK_OK(mlx_save_safetensors(tmp_path("fmt"), arrays, meta));
  size_t n;
  unsigned char* f = test_read_bytes(tmp_path("fmt.safetensors"), &n);
  const char* header =
      "{\"__metadata__\":{\"format\":\"mlx\"},"
      "\"a\":{\"data_offsets\":[8,11],\"dtype\":\"U8\",\"shape\":[3]},"
      "\"b\":{\"data_offsets\":[0,8],\"dtype\":\"F32\",\"shape\":[2]}}";
  size_t hl = strlen(header), padded = (hl + 7) / 8 * 8;
  CHECK(f && n == 8 + padded + 11);
  if (f && n == 8 + padded + 11) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | f[i];
    CHECK(len == padded);
    CHECK(memcmp(f + 8, header, hl) == 0);
    for (size_t i = hl; i < padded; i++) CHECK(f[8 + i] == ' ');
    CHECK(memcmp(f + 8 + padded, floats, 8) == 0);
    CHECK(memcmp(f + 8 + padded + 8, bytes, 3) == 0);
  }
  free(f);
  /* no metadata: no "__metadata__" entry; an empty map saves as "{}" */
  mlx_map_string_to_array none = mlx_map_string_to_array_new();
  CHECK_OK(mlx_save_safetensors(tmp_path("none.safetensors"), none, meta));
  CHECK_OK(mlx_save_safetensors(tmp_path("none2.safetensors"), none,
                                (mlx_map_string_to_string){NULL}));
  f = test_read_bytes(tmp_path("none2.safetensors"), &n);
  CHECK(f && n == 16 && memcmp(f, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
  free(f);
  mlx_map_string_to_array got = mlx_map_string_to_array_new();
  mlx_map_string_to_string gm = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&got, &gm, tmp_path("none2.safetensors"), test_stream));
  CHECK(map_count(got) == 0);
  /* empty handles get new maps */
  mlx_map_string_to_array fresh = {NULL};
  mlx_map_string_to_string fresh_meta = {NULL};
  CHECK_OK(mlx_load_safetensors(&fresh, &fresh_meta, tmp_path("fmt.safetensors"), test_stream));
  CHECK(fresh.ctx && fresh_meta.ctx && map_count(fresh) == 2);
  const char* v = NULL;
  CHECK(mlx_map_string_to_string_get(&v, fresh_meta, "format") == 0 && v && !strcmp(v, "mlx"));
  mlx_map_string_to_array_free(fresh);
  mlx_map_string_to_string_free(fresh_meta);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_map_string_to_array_free(arrays);
  mlx_map_string_to_array_free(none);
  mlx_map_string_to_string_free(meta);
  mlx_map_string_to_array_free(got);
  mlx_map_string_to_string_free(gm);
}

/* ---- crafted files ---- */

/* A file: 8-byte little-endian length of header, header, then data_len
 * bytes 0, 1, 2, ... */
static unsigned char* craft(const char* header, size_t data_len, size_t* n) {
  size_t hl = strlen(header);
  *n = 8 + hl + data_len;
  unsigned char* f = malloc(*n);
  for (int i = 0; i < 8; i++) f[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(f + 8, header, hl);
  for (size_t i = 0; i < data_len; i++) f[8 + hl + i] = (unsigned char)i;
  return f;
}

/* Loads bytes from a file and from a reader; both must fail with msg, where
 * "%s" stands for the source's label. */
static void expect_load_error(const char* case_name, const unsigned char* bytes,
                              size_t n, const char* msg) {
  char path[256], want[1024];
  snprintf(path, sizeof path, "%s/bad-%s.safetensors", tmp_dir, case_name);
  test_write_bytes(path, bytes, n);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  char label[300];
  snprintf(label, sizeof label, "file %s", path);
  snprintf(want, sizeof want, msg, label);
  test_error_count = 0;
  int rc = mlx_load_safetensors(&m, &md, path, test_stream);
  CHECK_MSG(rc == 1 && test_error_count == 1 && !strcmp(test_last_error, want),
            "case %s (file): rc %d, \"%s\", expected \"%s\"", case_name, rc,
            test_last_error, want);
  CHECK(map_count(m) == 0);
  unlink(path);

  membuf mb = mem_over(bytes, n);
  mlx_io_reader rd = mlx_io_reader_new(&mb, mem_vtable);
  snprintf(want, sizeof want, msg, "memory");
  test_error_count = 0;
  rc = mlx_load_safetensors_reader(&m, &md, rd, test_stream);
  CHECK_MSG(rc == 1 && test_error_count == 1 && !strcmp(test_last_error, want),
            "case %s (reader): rc %d, \"%s\", expected \"%s\"", case_name, rc,
            test_last_error, want);
  mlx_io_reader_free(rd);
  free(mb.data);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

typedef struct bad_case {
  const char* name;
  const char* header;
  size_t data_len;
  const char* msg; /* "%s": the label */
} bad_case;

#define T(name, dtype, shape, b, e) \
  "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static const bad_case bad_cases[] = {
    {"invalid-json", "{\"a\":", 0,
     "[load_safetensors] Invalid JSON header in %s: unexpected end of input at byte 5."},
    {"trailing-data", "{} x", 0,
     "[load_safetensors] Invalid JSON header in %s: unexpected data after the JSON value at byte 3."},
    {"single-quotes", "{'a':1}", 0,
     "[load_safetensors] Invalid JSON header in %s: expected a string key in object at byte 1."},
    {"trailing-comma", "{\"a\":{},}", 0,
     "[load_safetensors] Invalid JSON header in %s: expected a string key in object at byte 8."},
    {"bad-escape", "{\"a\\x\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: invalid escape in string at byte 4."},
    {"lone-surrogate", "{\"\\ud800\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: unpaired surrogate in \\u escape at byte 8."},
    {"control-char", "{\"a\nb\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: control character in string at byte 3."},
    {"invalid-utf8", "{\"\xc3\x28\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: invalid UTF-8 in string at byte 2."},
    {"overlong-utf8", "{\"\xc0\xaf\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: invalid UTF-8 in string at byte 2."},
    {"bad-number", "{\"a\":{\"shape\":[01]}}", 0,
     "[load_safetensors] Invalid JSON header in %s: leading zero in number at byte 16."},
    {"deep-nesting",
     "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
     "[load_safetensors] Invalid JSON header in %s: nesting too deep at byte 68."},
    {"not-an-object", "[1, 2]", 0, "[load_safetensors] Invalid json metadata %s"},
    {"string-header", "\"tensor\"", 0, "[load_safetensors] Invalid json metadata %s"},
    {"entry-not-object", "{\"w\":[1]}", 0,
     "[load_safetensors] Tensor 'w' must be described by a JSON object."},
    {"unknown-dtype", "{" T("w", "F8_E5M2", "[2]", 0, 2) "}", 2,
     "[safetensor] unsupported dtype F8_E5M2"},
    {"lowercase-dtype", "{" T("w", "f32", "[1]", 0, 4) "}", 4,
     "[safetensor] unsupported dtype f32"},
    {"nul-in-dtype", "{" T("w", "F32\\u0000", "[1]", 0, 4) "}", 4,
     "[safetensor] unsupported dtype F32"},
    {"dtype-not-string", "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "[load_safetensors] Tensor 'w' \"dtype\" must be a string."},
    {"missing-shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
     "[load_safetensors] Tensor 'w' has no \"shape\" entry."},
    {"missing-offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
     "[load_safetensors] Tensor 'w' has no \"data_offsets\" entry."},
    {"repeated-field",
     "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "[load_safetensors] Tensor 'w' has more than one \"dtype\" entry."},
    {"negative-dim", "{" T("w", "F32", "[-1]", 0, 4) "}", 4,
     "[load_safetensors] Tensor 'w' shape entry 0 is not an integer in [0, 2147483647]."},
    {"float-dim", "{" T("w", "F32", "[1,2.0]", 0, 8) "}", 8,
     "[load_safetensors] Tensor 'w' shape entry 1 is not an integer in [0, 2147483647]."},
    {"huge-dim", "{" T("w", "U8", "[2147483648]", 0, 4) "}", 4,
     "[load_safetensors] Tensor 'w' shape entry 0 is not an integer in [0, 2147483647]."},
    {"overflowing-shape",
     "{" T("w", "F32", "[2147483647,2147483647,2147483647,8]", 0, 4) "}", 4,
     "[load_safetensors] Tensor 'w' shape (2147483647,2147483647,2147483647,8) is too large."},
    {"three-offsets",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
     "[load_safetensors] Tensor 'w' data_offsets must have exactly 2 entries but has 3"},
    {"negative-offset", "{" T("w", "U8", "[1]", -1, 0) "}", 4,
     "[load_safetensors] Tensor 'w' data_offsets must be non-negative integers below 2^64."},
    {"offset-past-2^64", "{" T("w", "U8", "[0]", 18446744073709551616, 18446744073709551616) "}", 4,
     "[load_safetensors] Tensor 'w' data_offsets must be non-negative integers below 2^64."},
    {"reversed-offsets", "{" T("w", "U8", "[4]", 8, 4) "}", 8,
     "[load_safetensors] Tensor 'w' invalid data offsets (8, 4). Expecting 4 bytes."},
    {"size-mismatch", "{" T("w", "F32", "[2,2]", 0, 12) "}", 16,
     "[load_safetensors] Tensor 'w' invalid data offsets (0, 12). Expecting 16 bytes."},
    {"past-the-data", "{" T("w", "F32", "[2]", 4, 12) "}", 8,
     "[load_safetensors] Tensor 'w' invalid data offsets (4, 12) exceeding the size of "
     "the file. Perhaps an incomplete download or corrupt file?"},
    {"wrapping-offsets",
     "{" T("w", "U8", "[4]", 18446744073709551614, 18446744073709551618) "}", 8,
     "[load_safetensors] Tensor 'w' data_offsets must be non-negative integers below 2^64."},
    {"far-offsets", "{" T("w", "U8", "[4]", 18446744073709551610, 18446744073709551614) "}", 8,
     "[load_safetensors] Tensor 'w' invalid data offsets (18446744073709551610, "
     "18446744073709551614) exceeding the size of the file. Perhaps an incomplete "
     "download or corrupt file?"},
    {"overlap", "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 4, 12) "}", 12,
     "[load_safetensors] Tensors 'a' (bytes 0 to 8) and 'b' (bytes 4 to 12) overlap."},
    {"nested-overlap",
     "{" T("big", "U8", "[16]", 0, 16) "," T("c", "U8", "[2]", 12, 14) "," T("b", "U8", "[2]", 4, 6) "}",
     16, "[load_safetensors] Tensors 'big' (bytes 0 to 16) and 'b' (bytes 4 to 6) overlap."},
    {"duplicate-name", "{" T("w", "U8", "[2]", 0, 2) "," T("w", "U8", "[2]", 2, 4) "}", 4,
     "[load_safetensors] Duplicate tensor name 'w'."},
    {"nul-in-name", "{" T("a\\u0000b", "U8", "[2]", 0, 2) "}", 2,
     "[load_safetensors] A tensor name contains a NUL character."},
    {"metadata-not-object", "{\"__metadata__\":[\"x\"]}", 0,
     "[load_safetensors] \"__metadata__\" must be an object of strings."},
    {"metadata-number", "{\"__metadata__\":{\"epoch\":3}}", 0,
     "[load_safetensors] Metadata entry 'epoch' is not a string."},
    {"metadata-duplicate-key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
     "[load_safetensors] Duplicate metadata key 'k'."},
    {"metadata-twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
     "[load_safetensors] Duplicate \"__metadata__\" entry."},
    {"metadata-nul", "{\"__metadata__\":{\"k\":\"a\\u0000\"}}", 0,
     "[load_safetensors] Metadata entry 'k' contains a NUL character."},
};

static void test_malformed_files(void) {
  size_t n;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    unsigned char* f = craft(bad_cases[i].header, bad_cases[i].data_len, &n);
    expect_load_error(bad_cases[i].name, f, n, bad_cases[i].msg);
    free(f);
  }

  /* header lengths: zero, at MLX's 1e8 limit, past the end of the file */
  unsigned char raw[32] = {0};
  memcpy(raw + 8, "{}", 2);
  expect_load_error("zero-length", raw, 16, "[load_safetensors] Invalid json header length %s");
  uint64_t lens[2] = {100000000ull, 0xffffffffffffffffull};
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < 8; i++) raw[i] = (unsigned char)(lens[k] >> (8 * i));
    expect_load_error("huge-length", raw, 16, "[load_safetensors] Invalid json header length %s");
  }
  raw[0] = 100;
  for (int i = 1; i < 8; i++) raw[i] = 0;
  expect_load_error("truncated-header", raw, 20,
                    "[load_safetensors] The JSON header is 100 bytes long but the file is "
                    "only 20 bytes. Perhaps an incomplete download or corrupt file?");
  /* a file cut off in the middle of the data */
  unsigned char* f = craft("{" T("w", "F32", "[4]", 0, 16) "}", 16, &n);
  expect_load_error("truncated-data", f, n - 1,
                    "[load_safetensors] Tensor 'w' invalid data offsets (0, 16) exceeding "
                    "the size of the file. Perhaps an incomplete download or corrupt file?");
  free(f);

  /* files too short to hold the length: the messages differ by source */
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  char want[512];
  for (size_t len = 0; len < 8; len += 5) {
    const char* p = tmp_path("short.safetensors");
    test_write_bytes(p, "\x02\0\0\0\0", len);
    snprintf(want, sizeof want, "[load_safetensors] The file is only %zu bytes, too short "
             "for the 8-byte header length: file %s", len, p);
    EXPECT_ERROR(mlx_load_safetensors(&m, &md, p, test_stream), want);
  }
  membuf mb = mem_over("\x02\0\0", 3);
  mlx_io_reader rd = mlx_io_reader_new(&mb, mem_vtable);
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, rd, test_stream),
               "[load_safetensors] Unable to read the header length from memory.");
  mlx_io_reader_free(rd);
  free(mb.data);

  /* missing files and directories */
  const char* missing = tmp_path("missing.safetensors");
  snprintf(want, sizeof want, "[load_safetensors] Failed to open file %s", missing);
  EXPECT_ERROR(mlx_load_safetensors(&m, &md, missing, test_stream), want);
  snprintf(want, sizeof want,
           "[load_safetensors] Failed to open file %s (not a regular file)", tmp_dir);
  EXPECT_ERROR(mlx_load_safetensors(&m, &md, tmp_dir, test_stream), want);
  EXPECT_ERROR(mlx_load_safetensors(&m, &md, NULL, test_stream),
               "[load_safetensors] The file name is NULL.");
  EXPECT_ERROR(mlx_load_safetensors(NULL, &md, missing, test_stream),
               "[load_safetensors] The result pointer is NULL.");
  EXPECT_ERROR(mlx_load_safetensors(&m, &md, missing, (mlx_stream){NULL}),
               "[load_safetensors] The stream handle is empty.");
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, (mlx_io_reader){NULL}, test_stream),
               "[load_safetensors] The reader handle is empty.");
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

/* Readers that fail, or lack a callback. */
static void test_reader_failures(void) {
  size_t n;
  unsigned char* f = craft("{" T("w", "F32", "[4]", 0, 16) "}", 16, &n);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  membuf mb = mem_over(f, n);
  mb.fail_after = n - 4; /* the tensor's read fails */
  mlx_io_reader rd = mlx_io_reader_new(&mb, mem_vtable);
  char want[256];
  snprintf(want, sizeof want,
           "[load_safetensors] Unable to read 16 bytes at offset %zu from memory.", n - 16);
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, rd, test_stream), want);
  mlx_io_reader_free(rd);

  mlx_io_vtable partial = mem_vtable;
  partial.read_at_offset = NULL;
  mb.good = true;
  mb.fail_after = 0;
  rd = mlx_io_reader_new(&mb, partial);
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, rd, test_stream),
               "[load_safetensors] The reader has no read_at_offset callback.");
  mlx_io_reader_free(rd);

  mb.good = false; /* "not open" */
  rd = mlx_io_reader_new(&mb, mem_vtable);
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, rd, test_stream),
               "[load_safetensors] Failed to open memory");
  mlx_io_reader_free(rd);
  CHECK(mb.frees == 3);
  free(mb.data);
  free(f);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

/* Lenient where MLX is: gaps and unsorted offsets, null metadata, unknown
 * fields, the 8-bit float formats as raw uint8, trailing bytes. */
static void test_accepted_variants(void) {
  size_t n;
  unsigned char* f = craft(
      "{\"__metadata__\":null,"
      "\"late\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12],\"extra\":[1]},"
      "\"early\":{\"shape\":[2],\"data_offsets\":[0,2],\"dtype\":\"F8_E4M3\"},"
      "\"none\":{\"dtype\":\"F64\",\"shape\":[0,3],\"data_offsets\":[12,12]}}   \n\t",
      16, &n);
  const char* p = tmp_path("lenient.safetensors");
  test_write_bytes(p, f, n);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m, &md, p, test_stream));
  CHECK(map_count(m) == 3);
  int s2[1] = {2}, s03[2] = {0, 3};
  mlx_array a = get(m, "late"), b = get(m, "early"), c = get(m, "none");
  expect_same(a, MLX_UINT8, s2, 1, "\x0a\x0b", "late");
  expect_same(b, MLX_UINT8, s2, 1, "\x00\x01", "early");
  expect_same(c, MLX_FLOAT64, s03, 2, NULL, "none");
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
  free(f);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

/* Misaligned tensors are copied; aligned ones borrow the mapping, which
 * outlives the maps and goes away with the last array. */
static int mappings_of(const char* path) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    size_t k = strlen(line);
    if (k && line[k - 1] == '\n') line[--k] = 0;
    size_t pl = strlen(path);
    if (k >= pl && strcmp(line + k - pl, path) == 0) n++;
  }
  fclose(f);
  return n;
}

static void test_mapping_and_alignment(void) {
  /* the data section starts at a multiple of 8: h at 0 is aligned, f at 2
   * and d at 10 are not */
  size_t n;
  char header[256];
  snprintf(header, sizeof header, "{" T("h", "U16", "[1]", 0, 2) "," T("f", "F32", "[1]", 2, 6)
           "," T("d", "F64", "[1]", 10, 18) "}");
  while ((8 + strlen(header)) % 8 != 0) strcat(header, " ");
  unsigned char* f = craft(header, 18, &n);
  const char* p = tmp_path("align.safetensors");
  test_write_bytes(p, f, n);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m, &md, p, test_stream));
  mlx_array h = get(m, "h"), fl = get(m, "f"), d = get(m, "d");
  CHECK(h.ctx && borrows_file(h));
  CHECK(fl.ctx && !borrows_file(fl));
  CHECK(d.ctx && !borrows_file(d));
  CHECK(fl.ctx && (uintptr_t)mlx_array_data_float32(fl) % 4 == 0);
  CHECK(d.ctx && (uintptr_t)mlx_array_data_float64(d) % 8 == 0);
  const unsigned char* data = f + n - 18;
  expect_same(h, MLX_UINT16, (int[]){1}, 1, data, "h");
  expect_same(fl, MLX_FLOAT32, (int[]){1}, 1, data + 2, "f");
  expect_same(d, MLX_FLOAT64, (int[]){1}, 1, data + 10, "d");
  free(f);
  mlx_array_free(fl);
  mlx_array_free(d);
  CHECK(mappings_of(p) == 1);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
  CHECK(mappings_of(p) == 1); /* h still borrows it */
  const uint16_t* hv = mlx_array_data_uint16(h);
  CHECK(hv && *hv == 0x0100);
  mlx_array_free(h);
  CHECK(mappings_of(p) == 0);
}

/* Saving over a file whose tensors are still in use: the old arrays keep
 * the old contents (the rename leaves their mapping alone). */
static void test_resave_in_place(void) {
  const char* p = tmp_path("inplace.safetensors");
  float one[4] = {1, 2, 3, 4}, two[4] = {5, 6, 7, 8};
  int s[1] = {4};
  mlx_array a = test_array_f32(one, s, 1), b = test_array_f32(two, s, 1);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_map_string_to_array_insert(m, "w", a));
  CHECK_OK(mlx_save_safetensors(p, m, md));
  mlx_map_string_to_array loaded = mlx_map_string_to_array_new();
  CHECK_OK(mlx_load_safetensors(&loaded, &md, p, test_stream));
  mlx_array old = get(loaded, "w");
  CHECK(old.ctx && borrows_file(old));
  CHECK_OK(mlx_map_string_to_array_insert(m, "w", b));
  CHECK_OK(mlx_save_safetensors(p, m, md));
  expect_same(old, MLX_FLOAT32, s, 1, one, "old");
  mlx_map_string_to_array again = mlx_map_string_to_array_new();
  CHECK_OK(mlx_load_safetensors(&again, &md, p, test_stream));
  mlx_array fresh = get(again, "w");
  expect_same(fresh, MLX_FLOAT32, s, 1, two, "new");
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(old);
  mlx_array_free(fresh);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_array_free(loaded);
  mlx_map_string_to_array_free(again);
  mlx_map_string_to_string_free(md);
}

/* Saving replaces the target through a temporary file and leaves nothing
 * behind when it fails. */
static void test_save_errors(void) {
  mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
  float x[2] = {1, 2};
  int s[1] = {2};
  mlx_array a = test_array_f32(x, s, 1);
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "x", a));
  const char* target = tmp_path("target.safetensors");
  test_write_bytes(target, "old contents", 12);
  chmod(target, 0640);
  int before = dir_entries();
  CHECK_OK(mlx_save_safetensors(target, arrays, (mlx_map_string_to_string){NULL}));
  CHECK(dir_entries() == before);
  struct stat st;
  CHECK(stat(target, &st) == 0 && (st.st_mode & 0777) == 0640);
  size_t n;
  unsigned char* f = test_read_bytes(target, &n);
  CHECK(f && n > 12 && memcmp(f, "old contents", 12) != 0);
  free(f);

  /* a failing save leaves the old file as it was, and no temporary file */
  mlx_map_string_to_array bad = mlx_map_string_to_array_new();
  CHECK_OK(mlx_map_string_to_array_insert(bad, "ok", a));
  CHECK_OK(mlx_map_string_to_array_insert(bad, "\xff\xfe", a));
  EXPECT_ERROR(mlx_save_safetensors(target, bad, (mlx_map_string_to_string){NULL}),
               "[save_safetensors] Tensor name '\xff\xfe' is not valid UTF-8.");
  CHECK(dir_entries() == before);
  unsigned char* g = test_read_bytes(target, &n);
  f = g;
  mlx_map_string_to_array_free(bad);
  bad = mlx_map_string_to_array_new();
  CHECK_OK(mlx_map_string_to_array_insert(bad, "__metadata__", a));
  EXPECT_ERROR(mlx_save_safetensors(target, bad, (mlx_map_string_to_string){NULL}),
               "[save_safetensors] The name \"__metadata__\" is reserved for the metadata "
               "and cannot name a tensor.");
  size_t n2;
  g = test_read_bytes(target, &n2);
  CHECK(f && g && n == n2 && memcmp(f, g, n) == 0);
  free(f);
  free(g);
  CHECK(dir_entries() == before);
  mlx_map_string_to_string bad_meta = mlx_map_string_to_string_new();
  CHECK_OK(mlx_map_string_to_string_insert(bad_meta, "k", "\xc3"));
  EXPECT_ERROR(mlx_save_safetensors(target, arrays, bad_meta),
               "[save_safetensors] Metadata entry 'k' is not valid UTF-8.");
  CHECK(dir_entries() == before);

  char want[512];
  const char* nodir = tmp_path("nodir/x.safetensors");
  snprintf(want, sizeof want, "[save_safetensors] Failed to open file %s", nodir);
  EXPECT_ERROR(mlx_save_safetensors(nodir, arrays, (mlx_map_string_to_string){NULL}), want);
  EXPECT_ERROR(mlx_save_safetensors(target, (mlx_map_string_to_array){NULL},
                                    (mlx_map_string_to_string){NULL}),
               "[save_safetensors] The array map handle is empty.");
  EXPECT_ERROR(mlx_save_safetensors(NULL, arrays, (mlx_map_string_to_string){NULL}),
               "[save_safetensors] The file name is NULL.");

  /* a writer that fails part way */
  membuf out = {0};
  out.good = true;
  out.fail_after = 12;
  mlx_io_writer w = mlx_io_writer_new(&out, mem_vtable);
  EXPECT_ERROR_PREFIX(mlx_save_safetensors_writer(w, arrays, (mlx_map_string_to_string){NULL}),
                      "[save_safetensors] Unable to write ");
  mlx_io_writer_free(w);
  CHECK(out.frees == 1);
  free(out.data);
  EXPECT_ERROR(mlx_save_safetensors_writer((mlx_io_writer){NULL}, arrays,
                                           (mlx_map_string_to_string){NULL}),
               "[save_safetensors] The writer handle is empty.");
  mlx_array_free(a);
  mlx_map_string_to_array_free(arrays);
  mlx_map_string_to_array_free(bad);
  mlx_map_string_to_string_free(bad_meta);
}

/* ---- files MLX and PyTorch wrote ---- */

typedef struct known_tensor {
  const char* name;
  mlx_dtype dtype;
  int ndim;
  int shape[2];
  uint64_t fnv;  /* FNV-1a of the raw bytes */
  double sum;    /* float32 tensors: the sum of the values, in order */
} known_tensor;

/* From oracle/random.safetensors (MLX 0.32.2), read with Python's struct. */
static const known_tensor random_tensors[] = {
    {"bits16_key0_8", MLX_UINT16, 1, {8}, 0x19305a47a63b34a7ull, 0},
    {"bits32_key0_3x5", MLX_UINT32, 2, {3, 5}, 0xe25def299a1d9f67ull, 0},
    {"bits32_key0_7", MLX_UINT32, 1, {7}, 0x9b9afafc97e45c2eull, 0},
    {"bits32_key0_8", MLX_UINT32, 1, {8}, 0x63cbcf1e020191e1ull, 0},
    {"bits8_key0_8", MLX_UINT8, 1, {8}, 0x320c21e572164753ull, 0},
    {"key0", MLX_UINT32, 1, {2}, 0xa8c7f832281a39c5ull, 0},
    {"key1", MLX_UINT32, 1, {2}, 0x08cd4c29d1e47d34ull, 0},
    {"key42", MLX_UINT32, 1, {2}, 0xe93d2f7abf7c054full, 0},
    {"key_0x123456789abcdef", MLX_UINT32, 1, {2}, 0x5850c19868425c15ull, 0},
    {"normal_bf16_key0_8", MLX_BFLOAT16, 1, {8}, 0xbbbf3c1c3dca01baull, 0},
    {"normal_f16_key0_8", MLX_FLOAT16, 1, {8}, 0x938e7b4a0cf6d16dull, 0},
    {"normal_f32_key0_8", MLX_FLOAT32, 1, {8}, 0x362d9d5e73e3325bull, 2.103702947497368},
    {"normal_f32_key0_8_loc1_scale2", MLX_FLOAT32, 1, {8}, 0x8818fd42f31a1710ull, 12.207405686378479},
    {"normal_f32_key1_4x4", MLX_FLOAT32, 2, {4, 4}, 0x64c611d773bef29full, -10.2609468922019},
    {"normal_f32_key1_64x256_first16", MLX_FLOAT32, 1, {16}, 0x58cd8a92c001844dull, 3.380870969966054},
    {"normal_f32_key42_7", MLX_FLOAT32, 1, {7}, 0xc407543852d8757full, -1.7601006627082825},
    {"split2_key0/a", MLX_UINT32, 1, {2}, 0x0dda911958c94535ull, 0},
    {"split2_key0/b", MLX_UINT32, 1, {2}, 0xc38984d9c9774ff7ull, 0},
    {"split3_key42", MLX_UINT32, 2, {3, 2}, 0x2344dde4b80fe719ull, 0},
    {"split4_key0", MLX_UINT32, 2, {4, 2}, 0x63cbcf1e020191e1ull, 0},
    {"uniform_bf16_key0_8", MLX_BFLOAT16, 1, {8}, 0x7d0f86d24b9420f6ull, 0},
    {"uniform_f16_key0_8", MLX_FLOAT16, 1, {8}, 0xded6bd01ad9ccb61ull, 0},
    {"uniform_f32_key0_3x5", MLX_FLOAT32, 2, {3, 5}, 0x04262e1d33b2bbe0ull, 7.338458437472582},
    {"uniform_f32_key0_8", MLX_FLOAT32, 1, {8}, 0x62ce29782c42ba29ull, 4.338156089186668},
    {"uniform_f32_key1_7", MLX_FLOAT32, 1, {7}, 0xb664194feecb24b5ull, 3.1300173476338387},
    {"uniform_f32_key42_lo-2_hi3_6", MLX_FLOAT32, 1, {6}, 0x3b835908ed85226bull, 5.081743240356445},
};

/* From fixtures/tiny-llama/model.safetensors (written by PyTorch). */
static const known_tensor llama_tensors[] = {
    {"lm_head.weight", MLX_FLOAT32, 2, {512, 128}, 0xf2b971782288bc7bull, -11.724611448264156},
    {"model.embed_tokens.weight", MLX_FLOAT32, 2, {512, 128}, 0x5fd243913483e54cull, 0.24393666615537768},
    {"model.layers.0.input_layernorm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
    {"model.layers.0.mlp.down_proj.weight", MLX_FLOAT32, 2, {128, 256}, 0xb326c3f3f2405fc5ull, -0.5954847421809291},
    {"model.layers.0.mlp.gate_proj.weight", MLX_FLOAT32, 2, {256, 128}, 0xbf1f3ef1d4b3df24ull, 4.2192814265839615},
    {"model.layers.0.mlp.up_proj.weight", MLX_FLOAT32, 2, {256, 128}, 0x6100ed9f2325daeaull, -3.7684398842173064},
    {"model.layers.0.post_attention_layernorm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
    {"model.layers.0.self_attn.k_proj.weight", MLX_FLOAT32, 2, {64, 128}, 0xd467ea8372f3d356ull, 1.3437132184005804},
    {"model.layers.0.self_attn.o_proj.weight", MLX_FLOAT32, 2, {128, 128}, 0xbf822054fcbeadb8ull, 2.753677866020098},
    {"model.layers.0.self_attn.q_proj.weight", MLX_FLOAT32, 2, {128, 128}, 0xc83fa957a73eda42ull, 1.29916011000023},
    {"model.layers.0.self_attn.v_proj.weight", MLX_FLOAT32, 2, {64, 128}, 0x4bf86e57a38a34ddull, -0.46308253487771367},
    {"model.layers.1.input_layernorm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
    {"model.layers.1.mlp.down_proj.weight", MLX_FLOAT32, 2, {128, 256}, 0x39d36a5eb9b7ee6full, 3.0375464904942646},
    {"model.layers.1.mlp.gate_proj.weight", MLX_FLOAT32, 2, {256, 128}, 0x0b363d3a82d4651dull, 0.6149984616482698},
    {"model.layers.1.mlp.up_proj.weight", MLX_FLOAT32, 2, {256, 128}, 0x0e8581c401e5c5abull, -1.2672639916252706},
    {"model.layers.1.post_attention_layernorm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
    {"model.layers.1.self_attn.k_proj.weight", MLX_FLOAT32, 2, {64, 128}, 0x2e0089fa53aa37f8ull, -4.379837380370645},
    {"model.layers.1.self_attn.o_proj.weight", MLX_FLOAT32, 2, {128, 128}, 0xa7961b0bbdd4ccaaull, 3.4846243416184848},
    {"model.layers.1.self_attn.q_proj.weight", MLX_FLOAT32, 2, {128, 128}, 0x0e6b2dac8f9dceacull, -1.0319266671255605},
    {"model.layers.1.self_attn.v_proj.weight", MLX_FLOAT32, 2, {64, 128}, 0x3bbce7c2e3e61d46ull, 0.21464134280836333},
    {"model.norm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
};

static void check_known(mlx_map_string_to_array m, const known_tensor* t, size_t n,
                        bool expect_borrowed) {
  CHECK(map_count(m) == n);
  for (size_t i = 0; i < n; i++) {
    mlx_array a = get(m, t[i].name);
    CHECK_MSG(a.ctx != NULL, "%s missing", t[i].name);
    if (!a.ctx) continue;
    CHECK_MSG(mlx_array_dtype(a) == t[i].dtype, "%s dtype", t[i].name);
    CHECK_MSG(test_shape_is(a, t[i].shape, t[i].ndim), "%s shape", t[i].name);
    const void* p = bytes_of(a);
    CHECK_MSG(p && fnv1a(p, mlx_array_nbytes(a)) == t[i].fnv, "%s bytes", t[i].name);
    /* single bytes are always aligned */
    bool borrowed = expect_borrowed || mlx_dtype_size(t[i].dtype) == 1;
    CHECK_MSG(borrows_file(a) == borrowed, "%s borrowed", t[i].name);
    if (t[i].dtype == MLX_FLOAT32 && p) {
      double s = 0;
      for (size_t k = 0; k < mlx_array_size(a); k++) s += ((const float*)p)[k];
      CHECK_MSG(s == t[i].sum, "%s sum %.17g", t[i].name, s);
    }
    mlx_array_free(a);
  }
}

/* Saving what we loaded and loading it again gives the same tensors. */
static void check_resave(mlx_map_string_to_array m, mlx_map_string_to_string md,
                         const known_tensor* t, size_t n) {
  const char* p = tmp_path("resaved.safetensors");
  CHECK_OK(mlx_save_safetensors(p, m, md));
  mlx_map_string_to_array m2 = mlx_map_string_to_array_new();
  mlx_map_string_to_string md2 = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m2, &md2, p, test_stream));
  check_known(m2, t, n, true);
  mlx_map_string_to_array_free(m2);
  mlx_map_string_to_string_free(md2);
  unlink(p);
}

static void test_random_oracle(void) {
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m, &md, CMLX_TEST_DATA "/random.safetensors", test_stream));
  const char* v = NULL;
  CHECK(mlx_map_string_to_string_get(&v, md, "generator") == 0 && v &&
        !strcmp(v, "oracle/gen.cpp"));
  /* MLX's header is 1927 bytes and its offsets even: nothing wider than a
   * byte is aligned, so those tensors are copied */
  check_known(m, random_tensors, sizeof random_tensors / sizeof random_tensors[0], false);
  /* keys are (seed >> 32, seed & 0xffffffff) */
  struct {
    const char* name;
    uint32_t hi, lo;
  } keys[] = {{"key0", 0, 0}, {"key1", 0, 1}, {"key42", 0, 42},
              {"key_0x123456789abcdef", 0x01234567u, 0x89abcdefu}};
  for (int i = 0; i < 4; i++) {
    mlx_array k = get(m, keys[i].name);
    const uint32_t* p = k.ctx ? mlx_array_data_uint32(k) : NULL;
    CHECK_MSG(p && p[0] == keys[i].hi && p[1] == keys[i].lo, "%s", keys[i].name);
    mlx_array_free(k);
  }
  check_resave(m, md, random_tensors, sizeof random_tensors / sizeof random_tensors[0]);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

static void test_tiny_llama(void) {
  const char* path = CMLX_TEST_DATA "/fixtures/tiny-llama/model.safetensors";
  if (access(path, R_OK) != 0) {
    CHECK_MSG(0, "%s is not present", path);
    return;
  }
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m, &md, path, test_stream));
  const char* v = NULL;
  CHECK(mlx_map_string_to_string_get(&v, md, "format") == 0 && v && !strcmp(v, "pt"));
  /* PyTorch pads its header to 8 bytes: every tensor borrows the mapping */
  check_known(m, llama_tensors, sizeof llama_tensors / sizeof llama_tensors[0], true);
  check_resave(m, md, llama_tensors, sizeof llama_tensors / sizeof llama_tensors[0]);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

int main(void) {
  test_init();
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cmlx-safetensors-XXXXXX");
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_round_trip_every_dtype();
  test_header_format();
  test_malformed_files();
  test_reader_failures();
  test_accepted_variants();
  test_mapping_and_alignment();
  test_save_errors();
  test_resave_in_place();
  test_random_oracle();
  test_tiny_llama();
  remove_tmp_dir();
  return test_finish("test_safetensors");
}
