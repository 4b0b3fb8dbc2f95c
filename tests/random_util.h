/* random_util.h - helpers shared by test_random.c and
 * test_random_dist.c: freeing many arrays at once, the bytes / words /
 * floats of an array, keys from a seed, and the plain references (Threefry
 * bits of a key, the float recipe of uniform, erfinv in double, the mean
 * and variance of a sample).
 *
 * Everything here is static: each test program includes it once, first
 * (it defines _GNU_SOURCE). */
#ifndef CMLX_TEST_RANDOM_UTIL_H
#define CMLX_TEST_RANDOM_UTIL_H

#define _GNU_SOURCE
#include <float.h>
#include <pthread.h>
#include <stdlib.h>

#include "backend/cpu/random.h"
#include "core/array.h"
#include "core/half.h"
#include "core/stream.h"
#include "harness.h"
#include "ops/random.h"

static const mlx_array NONE = {0};

static inline void free_all(const mlx_array* a, size_t n) {
  for (size_t i = 0; i < n; i++) mlx_array_free(a[i]);
}
#define FREE_ALL(...) \
  free_all((const mlx_array[]){__VA_ARGS__}, sizeof((mlx_array[]){__VA_ARGS__}) / sizeof(mlx_array))

/* ---- helpers ---- */

/* The row-major bytes of a (malloc'd; NULL after an error), count in *n. */
static inline unsigned char* bytes_of(mlx_array h, size_t* n) {
  *n = 0;
  array* a = h.ctx;
  if (!a || array_eval(a)) return NULL;
  array* c = array_copy_contiguous(a, a->dtype);
  if (!c) return NULL;
  *n = array_nbytes(c);
  unsigned char* out = malloc(*n ? *n : 1);
  if (*n) memcpy(out, array_data(c), *n);
  array_release(c);
  return out;
}

static inline uint32_t* u32_of(mlx_array h, size_t* n) {
  unsigned char* b = bytes_of(h, n);
  *n /= 4;
  return (uint32_t*)b;
}

static inline float* f32_of(mlx_array h, size_t* n) {
  unsigned char* b = bytes_of(h, n);
  *n /= 4;
  return (float*)b;
}

static inline mlx_array key_of(uint64_t seed) {
  mlx_array k = mlx_array_new();
  CHECK_OK(mlx_random_key(&k, seed));
  return k;
}

static inline mlx_array scalar_f32(float v) {
  return mlx_array_new_float32(v);
}

static inline bool equal_bytes(mlx_array a, mlx_array b) {
  size_t na, nb;
  unsigned char* pa = bytes_of(a, &na);
  unsigned char* pb = bytes_of(b, &nb);
  bool eq = pa && pb && na == nb && memcmp(pa, pb, na) == 0 &&
            mlx_array_dtype(a) == mlx_array_dtype(b) &&
            test_shape_is(a, mlx_array_shape(b), (int)mlx_array_ndim(b));
  free(pa);
  free(pb);
  return eq;
}

/* The reference layout: words i and h + odd + i from counter (i, h+odd+i),
 * the odd middle word from (h, 0), bytes cut from the little-endian words. */
static inline void ref_bits(uint32_t k0, uint32_t k1, unsigned char* out, size_t bytes) {
  size_t words = (bytes + 3) / 4, h = words / 2, odd = words % 2;
  uint32_t* w = calloc(words ? words : 1, 4);
  for (size_t i = 0; i < h; i++) {
    uint32_t x[2] = {(uint32_t)i, (uint32_t)(h + odd + i)};
    random_threefry2x32(k0, k1, x);
    w[i] = x[0];
    w[h + odd + i] = x[1];
  }
  if (odd) {
    uint32_t x[2] = {(uint32_t)h, 0};
    random_threefry2x32(k0, k1, x);
    w[h] = x[0];
  }
  memcpy(out, w, bytes);
  free(w);
}

/* The key's two words. */
static inline void key_words(mlx_array key, uint32_t k[2]) {
  size_t n;
  uint32_t* p = u32_of(key, &n);
  k[0] = p && n == 2 ? p[0] : 0;
  k[1] = p && n == 2 ? p[1] : 0;
  free(p);
}

/* uint32 bits for shape under key, through the reference. */
static inline uint32_t* ref_bits32(mlx_array key, size_t count) {
  uint32_t k[2];
  key_words(key, k);
  uint32_t* out = malloc((count ? count : 1) * 4);
  ref_bits(k[0], k[1], (unsigned char*)out, count * 4);
  return out;
}

/* float32 uniform in [0, 1) from bits, MLX's recipe. */
static inline float ref_unit(uint32_t b, float upper) {
  float u = (float)b / 4294967296.0f;
  return u < upper ? u : upper;
}

/* erfinv in double by Newton's method on erf. */
static inline double erfinv_ref(double y) {
  if (y == 0) return 0;
  double x = 0;
  for (int i = 0; i < 100; i++) {
    double step = (erf(x) - y) / (2.0 / sqrt(M_PI) * exp(-x * x));
    x -= step;
    if (fabs(step) < 1e-17 * (1 + fabs(x))) break;
  }
  return x;
}

static inline void moments(const double* v, size_t n, double* mean, double* var) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) s += v[i];
  *mean = s / (double)n;
  for (size_t i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
  *var = s2 / (double)n;
}

#endif
