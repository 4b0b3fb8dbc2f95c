/* fast_util.h - helpers shared by test_fast.c and test_fast_sdpa.c:
 * random arrays of any dtype built from doubles, casts, relative errors
 * against a double reference and their tolerance per dtype, the composed
 * sdpa fallback with the public function's shape, and zeros.
 *
 * Everything here is static: each test program includes it once. */
#ifndef CMLX_TEST_FAST_UTIL_H
#define CMLX_TEST_FAST_UTIL_H

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "harness.h"
#include "ops/fast.h"

#define ORACLE_DIR CMLX_TEST_DATA "/oracle"

static const mlx_optional_float no_base = {0, false};
static inline mlx_optional_float base_of(float b) {
  return (mlx_optional_float){b, true};
}

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static inline size_t shape_size(const int* shape, int nd) {
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
  return n;
}

static inline mlx_array cast(mlx_array a, mlx_dtype t) {
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_astype(&r, a, t, test_stream));
  mlx_array_free(a);
  return r;
}

/* An array of dtype t holding the given values (rounded to t). */
static inline mlx_array from_f64(const double* v, const int* shape, int nd, mlx_dtype t) {
  size_t n = shape_size(shape, nd);
  mlx_array a = mlx_array_new_data(v, shape, nd, MLX_FLOAT64);
  (void)n;
  return t == MLX_FLOAT64 ? a : cast(a, t);
}

/* Uniform random values in [lo, hi) as dtype t. */
static inline mlx_array rand_array(const int* shape, int nd, mlx_dtype t, double lo, double hi) {
  size_t n = shape_size(shape, nd);
  double* v = malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = test_rand(lo, hi);
  mlx_array a = from_f64(v, shape, nd, t);
  free(v);
  return a;
}

/* max |got - want| / max |want| (0 when both are all zero); NaN anywhere
 * in got where want is not NaN gives infinity. */
static inline double rel_err_vals(const double* got, const double* want, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(want[i]) != isnan(got[i])) return INFINITY;
    if (isnan(want[i])) continue;
    double e = fabs(got[i] - want[i]);
    if (e > num) num = e;
    if (fabs(want[i]) > den) den = fabs(want[i]);
  }
  return den > 0 ? num / den : num;
}

static inline double rel_err_ref(mlx_array got, const double* want, size_t n) {
  double* g = test_to_f64(got);
  if (!g) return INFINITY;
  if (mlx_array_size(got) != n) {
    free(g);
    return INFINITY;
  }
  double e = rel_err_vals(g, want, n);
  free(g);
  return e;
}

static inline double rel_err(mlx_array got, mlx_array want) {
  if (mlx_array_ndim(got) != mlx_array_ndim(want) ||
      !test_shape_is(got, mlx_array_shape(want), (int)mlx_array_ndim(want)))
    return INFINITY;
  double* w = test_to_f64(want);
  if (!w) return INFINITY;
  double e = rel_err_ref(got, w, mlx_array_size(want));
  free(w);
  return e;
}

static const char* dtype_name_of(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT16: return "float16";
    case MLX_BFLOAT16: return "bfloat16";
    case MLX_FLOAT64: return "float64";
    default: return "float32";
  }
}

static inline double tolerance(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT16: return 2e-3;
    case MLX_BFLOAT16: return 1e-2;
    default: return 1e-5;
  }
}

static inline double lowest_of(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT16: return -65504.0;
    case MLX_BFLOAT16: return -3.3895313892515355e38;
    case MLX_FLOAT64: return -DBL_MAX;
    default: return -FLT_MAX;
  }
}

typedef int (*sdpa_fn)(mlx_array* res, mlx_array q, mlx_array k, mlx_array v, float scale,
                       const char* mode, mlx_array mask, mlx_array sinks, mlx_stream s);

/* The composed fallback through the internal front-end, with the public
 * function's shape. */
static inline int sdpa_composed(mlx_array* res, mlx_array q, mlx_array k, mlx_array v,
                                float scale, const char* mode, mlx_array mask, mlx_array sinks,
                                mlx_stream s) {
  stream st;
  if (api_stream(&st, s, "sdpa")) return api_fail();
  array* out = op_fast_sdpa_composed(api_array(q), api_array(k), api_array(v), scale, mode,
                                     mask.ctx ? api_array(mask) : NULL,
                                     sinks.ctx ? api_array(sinks) : NULL, st);
  return api_finish(res, out);
}

static const mlx_dtype float_types[3] = {MLX_FLOAT32, MLX_FLOAT16, MLX_BFLOAT16};

static inline mlx_array zeros_of(const int* shape, int nd, mlx_dtype t) {
  mlx_array a = mlx_array_new();
  CHECK_OK(mlx_zeros(&a, shape, (size_t)nd, t, test_stream));
  return a;
}

#endif
