/* quantize_util.h - helpers shared by test_quantize.c and
 * test_quantize_random.c: optional arguments, byte comparison of arrays
 * through a contiguous copy, random float32 inputs, reading an array back
 * as a vector, casts and zeros.
 *
 * Everything here is static: each test program includes it once. */
#ifndef CMLX_TEST_QUANTIZE_UTIL_H
#define CMLX_TEST_QUANTIZE_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "backend/cpu/quant_formats.h"
#include "core/array.h"
#include "core/half.h"
#include "harness.h"
#include "ops/quantized.h"

static const mlx_optional_int no_int = {0, false};
static const mlx_optional_dtype no_dtype = {MLX_FLOAT32, false};
static inline mlx_optional_int opt_int(int v) { return (mlx_optional_int){v, true}; }
static inline mlx_optional_dtype opt_dtype(mlx_dtype t) { return (mlx_optional_dtype){t, true}; }

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* A row-contiguous evaluated copy of h's internal array (caller releases). */
static inline array* materialize(mlx_array h) {
  array* a = h.ctx;
  if (!a || array_eval(a)) return NULL;
  if (a->flags & ARRAY_ROW_CONTIGUOUS) {
    array_retain(a);
    return a;
  }
  return array_copy_contiguous(a, a->dtype);
}

/* dtype, shape and bytes equal; reports the first difference. */
static inline bool same_bytes(mlx_array got, mlx_array want, const char* what) {
  array* g = materialize(got);
  array* w = materialize(want);
  bool ok = g && w && g->dtype == w->dtype && g->ndim == w->ndim &&
            memcmp(g->shape, w->shape, sizeof(int) * (size_t)g->ndim) == 0;
  if (g && w && !ok)
    fprintf(stderr, "%s: dtype/shape %s/%d vs %s/%d\n", what, dtype_name(g->dtype), g->ndim,
            dtype_name(w->dtype), w->ndim);
  if (ok) {
    size_t n = array_nbytes(g), es = dtype_size(g->dtype);
    const uint8_t* a = array_data(g);
    const uint8_t* b = array_data(w);
    for (size_t i = 0; i < n; i += es) {
      if (memcmp(a + i, b + i, es) != 0) {
        uint64_t x = 0, y = 0;
        memcpy(&x, a + i, es);
        memcpy(&y, b + i, es);
        fprintf(stderr, "%s: element %zu differs: got 0x%llx want 0x%llx\n", what, i / es,
                (unsigned long long)x, (unsigned long long)y);
        ok = false;
        break;
      }
    }
  }
  if (!g || !w) ok = false;
  array_release(g);
  array_release(w);
  return ok;
}

static inline mlx_array new_f32(const float* data, const int* shape, int ndim) {
  return mlx_array_new_data(data, shape, ndim, MLX_FLOAT32);
}

static inline mlx_array random_f32(const int* shape, int ndim, double lo, double hi) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  float* v = malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = (float)test_rand(lo, hi);
  mlx_array a = new_f32(v, shape, ndim);
  free(v);
  return a;
}

static inline mlx_array vec_at(mlx_vector_array v, size_t i) {
  mlx_array a = mlx_array_new();
  mlx_vector_array_get(&a, v, i);
  return a;
}

static inline mlx_array cast(mlx_array a, mlx_dtype t) {
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_astype(&r, a, t, test_stream));
  return r;
}

static inline mlx_array zeros(const int* shape, int ndim, mlx_dtype t) {
  mlx_array a = mlx_array_new();
  CHECK_OK(mlx_zeros(&a, shape, (size_t)ndim, t, test_stream));
  return a;
}

#endif
