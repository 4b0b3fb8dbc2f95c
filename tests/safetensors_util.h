/* safetensors_util.h - helpers shared by test_safetensors.c,
 * test_safetensors_crafted.c and test_shards.c: a temporary directory and
 * paths in it, FNV-1a of bytes, whether an array borrows a file mapping,
 * looking up and counting a loaded map, a user stream over memory (with
 * failures on demand), every dtype with deterministic bytes, and the check
 * that a loaded tensor has the expected dtype, shape and bytes.
 *
 * Everything here is static: each test program includes it once, first
 * (it defines _GNU_SOURCE). */
#ifndef CMLX_TEST_SAFETENSORS_UTIL_H
#define CMLX_TEST_SAFETENSORS_UTIL_H

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
static inline int dir_entries(void) {
  DIR* d = opendir(tmp_dir);
  int n = 0;
  for (struct dirent* e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  if (d) closedir(d);
  return n;
}

static inline void remove_tmp_dir(void) {
  DIR* d = opendir(tmp_dir);
  for (struct dirent* e; d && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    const char* p = tmp_path(e->d_name);
    if (rmdir(p) != 0) unlink(p);
  }
  if (d) closedir(d);
  rmdir(tmp_dir);
}

/* Makes tmp_dir from a mkdtemp template; false (and a message) if it cannot. */
static inline bool tmp_dir_make(const char* template) {
  snprintf(tmp_dir, sizeof tmp_dir, "%s", template);
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    return false;
  }
  return true;
}

static inline uint64_t fnv1a(const void* data, size_t n) {
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

static inline bool borrows_file(mlx_array a) {
  return ((array*)a.ctx)->buf->external;
}

static inline mlx_array get(mlx_map_string_to_array m, const char* key) {
  mlx_array a = mlx_array_new();
  if (mlx_map_string_to_array_get(&a, m, key) != 0) {
    mlx_array_free(a);
    return mlx_array_new();
  }
  return a;
}

static inline size_t map_count(mlx_map_string_to_array m) {
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

static inline bool mem_is_open(void* d) {
  (void)d;
  return true;
}
static inline bool mem_good(void* d) {
  return ((membuf*)d)->good;
}
static inline size_t mem_tell(void* d) {
  return ((membuf*)d)->pos;
}
static inline void mem_seek(void* d, int64_t off, int whence) {
  membuf* m = d;
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)m->pos : (int64_t)m->len;
  if (base + off < 0) m->good = false;
  else m->pos = (size_t)(base + off);
}
static inline void mem_read_at(void* d, char* out, size_t n, size_t off) {
  membuf* m = d;
  if (off > m->len || m->len - off < n || (m->fail_after && off + n > m->fail_after)) {
    m->good = false;
    return;
  }
  memcpy(out, m->data + off, n);
}
static inline void mem_read(void* d, char* out, size_t n) {
  membuf* m = d;
  mem_read_at(d, out, n, m->pos);
  if (m->good) m->pos += n;
}
static inline void mem_write(void* d, const char* in, size_t n) {
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
static inline void mem_free(void* d) {
  ((membuf*)d)->frees++;
}

static const mlx_io_vtable mem_vtable = {
    mem_is_open, mem_good, mem_tell, mem_seek, mem_read,
    mem_read_at, mem_write, mem_label, mem_free,
};

/* A membuf reading a copy of data. */
static inline membuf mem_over(const void* data, size_t n) {
  membuf m = {0};
  m.data = malloc(n ? n : 1);
  if (n) memcpy(m.data, data, n);
  m.len = m.cap = n;
  m.good = true;
  return m;
}

static const mlx_dtype all_dtypes[] = {
    MLX_BOOL,  MLX_UINT8, MLX_UINT16, MLX_UINT32,  MLX_UINT64,
    MLX_INT8,  MLX_INT16, MLX_INT32,  MLX_INT64,   MLX_FLOAT16,
    MLX_FLOAT32, MLX_FLOAT64, MLX_BFLOAT16, MLX_COMPLEX64,
};
#define N_DTYPES (sizeof all_dtypes / sizeof all_dtypes[0])

/* Deterministic bytes for n elements of dtype (bools 0/1; any bit pattern
 * for the others: nothing is converted on the way). */
static inline unsigned char* pattern(mlx_dtype t, size_t n, unsigned seed) {
  size_t bytes = n * mlx_dtype_size(t);
  unsigned char* p = malloc(bytes ? bytes : 1);
  uint32_t x = 2463534242u ^ seed * 2654435761u;
  for (size_t i = 0; i < bytes; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    p[i] = t == MLX_BOOL ? (unsigned char)(x & 1) : (unsigned char)x;
  }
  return p;
}

static inline void expect_same(mlx_array got, mlx_dtype t, const int* shape, int ndim,
                               const void* bytes, const char* what) {
  CHECK_MSG(got.ctx != NULL, "%s missing", what);
  if (!got.ctx) return;
  CHECK_MSG(mlx_array_dtype(got) == t, "%s dtype %d", what, (int)mlx_array_dtype(got));
  CHECK_MSG(test_shape_is(got, shape, ndim), "%s shape", what);
  size_t n = mlx_array_nbytes(got);
  const void* p = bytes_of(got);
  CHECK_MSG(p && (n == 0 || memcmp(p, bytes, n) == 0), "%s bytes differ", what);
}

#endif
