/* unary_util.h - helpers shared by test_unary.c and test_unary_float.c:
 * arrays of any dtype built from (and read back as) doubles, rounding and
 * ulp distances in a dtype, random inputs with special values, strided
 * views (transposed, sliced, broadcast) that must give the same bytes as
 * contiguous inputs, 0-d and empty inputs, and float32 scalar application.
 *
 * Everything here is static: each test program includes it once. */
#ifndef CMLX_TEST_UNARY_UTIL_H
#define CMLX_TEST_UNARY_UTIL_H

#include <complex.h>
#include <float.h>
#include <stdlib.h>

#include "api/api.h"
#include "core/half.h"
#include "dtype_util.h"
#include "harness.h"
#include "ops/ops.h"

typedef int (*unary_api)(mlx_array*, const mlx_array, const mlx_stream);

/* ---- building and reading arrays of any dtype ---- */

static const mlx_dtype all_dtypes[] = {
    MLX_BOOL,    MLX_UINT8,   MLX_UINT16,  MLX_UINT32, MLX_UINT64,
    MLX_INT8,    MLX_INT16,   MLX_INT32,   MLX_INT64,  MLX_FLOAT16,
    MLX_BFLOAT16, MLX_FLOAT32, MLX_FLOAT64, MLX_COMPLEX64};
#define N_DTYPES (sizeof all_dtypes / sizeof all_dtypes[0])

static inline uint64_t width_mask(mlx_dtype t) {
  size_t sz = mlx_dtype_size(t);
  return sz >= 8 ? ~0ull : (1ull << (8 * sz)) - 1;
}

static inline mlx_array make(mlx_dtype t, const int* shape, int ndim,
                             const double* re, const double* im) {
  size_t n = 1;
  for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
  void* buf = calloc(n ? n : 1, mlx_dtype_size(t));
  for (size_t i = 0; i < n; i++) encode(buf, t, i, re[i], im ? im[i] : 0);
  mlx_array a = mlx_array_new_data(buf, shape, ndim, t);
  free(buf);
  return a;
}

/* Row-major bytes of a (evaluated); the caller frees. */
static inline void* raw(mlx_array a) {
  mlx_array c = mlx_array_new();
  size_t nb = mlx_array_nbytes(a);
  void* out = calloc(nb ? nb : 1, 1);
  if (mlx_contiguous(&c, a, false, test_stream) || mlx_array_eval(c)) {
    CHECK_MSG(0, "evaluation failed: %s", test_last_error);
  } else if (nb) {
    memcpy(out, array_data(api_array(c)), nb);
  }
  mlx_array_free(c);
  return out;
}

static inline bool same_bytes(mlx_array a, mlx_array b) {
  if (mlx_array_dtype(a) != mlx_array_dtype(b) ||
      mlx_array_ndim(a) != mlx_array_ndim(b) ||
      mlx_array_size(a) != mlx_array_size(b))
    return false;
  if (!test_shape_is(b, mlx_array_shape(a), (int)mlx_array_ndim(a)))
    return false;
  void* x = raw(a);
  void* y = raw(b);
  bool eq = memcmp(x, y, mlx_array_nbytes(a)) == 0;
  free(x);
  free(y);
  return eq;
}

/* ---- rounding and ulp distances in a dtype ---- */

static inline double round_to(mlx_dtype t, double v) {
  switch (t) {
    case MLX_FLOAT16: return f16_to_f32(f32_to_f16((float)v));
    case MLX_BFLOAT16: return bf16_to_f32(f32_to_bf16((float)v));
    case MLX_FLOAT64: return v;
    default: return (float)v;
  }
}

static inline int64_t ordered(mlx_dtype t, double v) {
  if (t == MLX_FLOAT64) {
    int64_t i;
    memcpy(&i, &v, 8);
    return i < 0 ? INT64_MIN - i : i;
  }
  if (t == MLX_FLOAT16 || t == MLX_BFLOAT16) {
    uint16_t h = t == MLX_FLOAT16 ? f32_to_f16((float)v) : f32_to_bf16((float)v);
    return (h & 0x8000) ? -(int64_t)(h & 0x7fff) : (int64_t)h;
  }
  float f = (float)v;
  int32_t i;
  memcpy(&i, &f, 4);
  return i < 0 ? (int64_t)INT32_MIN - i : i;
}

/* ulp distance of two values of dtype t; NaN matches only NaN. */
static inline double ulp_distance(mlx_dtype t, double a, double b) {
  if (isnan(a) || isnan(b)) return (isnan(a) && isnan(b)) ? 0 : INFINITY;
  if (a == b) return 0;
  return fabs((double)ordered(t, a) - (double)ordered(t, b));
}

static inline bool same_bits(double a, double b) {
  if (isnan(a) && isnan(b)) return true;
  return a == b && signbit(a) == signbit(b);
}

/* ---- random inputs ---- */

static inline int rand_int(int lo, int hi) {
  return lo + (int)floor(test_rand(0, hi - lo + 1));
}

/* A random shape of 1-4 dims with 1-7 entries each. */
static inline int random_shape(int* shape) {
  int nd = rand_int(1, 4);
  for (int d = 0; d < nd; d++) shape[d] = rand_int(1, 7);
  return nd;
}

static const double specials[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.0,
                                  -1.0, 0.5, -0.5, 2.5, -2.5, 1e-30, 1e-40,
                                  1e30, -1e30, 88.8, 1e5, 3.0e-8};
#define N_SPECIALS (sizeof specials / sizeof specials[0])

/* n values for dtype t: uniform in [lo, hi] for floats (with specials
 * mixed in), integers in [lo, hi] clipped to what t holds. */
static inline void random_values(double* v, size_t n, mlx_dtype t, double lo,
                                 double hi, bool with_specials) {
  for (size_t i = 0; i < n; i++) {
    if (t == MLX_BOOL) {
      v[i] = rand_int(0, 1);
    } else if (is_int(t)) {
      double l = ceil(lo), h = floor(hi);
      if (!is_signed(t) && l < 0) l = 0;
      if (t == MLX_INT8 || t == MLX_UINT8) {
        if (h > 100) h = 100;
        if (l < -100) l = -100;
      }
      if (h < l) h = l;
      v[i] = rand_int((int)l, (int)h);
    } else if (with_specials && rand_int(0, 4) == 0) {
      v[i] = specials[rand_int(0, (int)N_SPECIALS - 1)];
    } else {
      v[i] = test_rand(lo, hi);
    }
  }
}

/* ---- views: transposed, sliced (reversed), broadcast ---- */

static inline mlx_array view_transpose(mlx_array a) {
  int nd = (int)mlx_array_ndim(a);
  int axes[8];
  for (int d = 0; d < nd; d++) axes[d] = nd - 1 - d;
  return api_wrap(op_transpose_axes(api_array(a), axes, nd, test_st()));
}

/* Every other element along each axis, the last axis reversed. */
static inline mlx_array view_slice(mlx_array a) {
  int nd = (int)mlx_array_ndim(a);
  const int* sh = mlx_array_shape(a);
  int start[8], stop[8], step[8];
  for (int d = 0; d < nd; d++) {
    start[d] = d == nd - 1 ? sh[d] - 1 : 0;
    stop[d] = d == nd - 1 ? -sh[d] - 1 : sh[d];
    step[d] = d == nd - 1 ? -1 : 2;
  }
  return api_wrap(op_slice(api_array(a), start, stop, step, test_st()));
}

static inline mlx_array view_broadcast(mlx_array a) {
  int nd = (int)mlx_array_ndim(a);
  int shape[9];
  shape[0] = 3;
  memcpy(shape + 1, mlx_array_shape(a), sizeof(int) * (size_t)nd);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&r, a, shape, (size_t)nd + 1, test_stream));
  return r;
}

/* Each element repeated 5 times along a new last axis (inner stride 0). */
static inline mlx_array view_broadcast_inner(mlx_array a) {
  int col[2] = {(int)mlx_array_size(a), 1}, wide[2] = {col[0], 5};
  mlx_array c = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_reshape(&c, a, col, 2, test_stream));
  CHECK_OK(mlx_broadcast_to(&r, c, wide, 2, test_stream));
  mlx_array_free(c);
  return r;
}

/* op(view) must equal op(contiguous copy of the view), byte for byte. */
static inline void check_view(unary_api fn, mlx_array v, const char* what,
                              const char* name) {
  mlx_array c = mlx_array_new(), r1 = mlx_array_new(), r2 = mlx_array_new();
  CHECK_OK(mlx_contiguous(&c, v, false, test_stream));
  CHECK_OK(fn(&r1, v, test_stream));
  CHECK_OK(fn(&r2, c, test_stream));
  CHECK_MSG(same_bytes(r1, r2), "%s of a %s %s view", name, what,
            dtype_name(mlx_array_dtype(v)));
  mlx_array_free(c);
  mlx_array_free(r1);
  mlx_array_free(r2);
}

static inline void check_views(unary_api fn, mlx_array a, const char* name) {
  mlx_array v = view_transpose(a);
  check_view(fn, v, "transposed", name);
  mlx_array_free(v);
  v = view_slice(a);
  check_view(fn, v, "sliced", name);
  mlx_array_free(v);
  v = view_broadcast(a);
  check_view(fn, v, "broadcast", name);
  mlx_array_free(v);
  v = view_broadcast_inner(a);
  check_view(fn, v, "inner-broadcast", name);
  mlx_array_free(v);
}

/* 0-d and empty inputs: right shape and dtype, and the 0-d value equals
 * the op on a 1-element array. */
static inline void check_degenerate(unary_api fn, mlx_dtype t, double x,
                                    const char* name) {
  double v[1] = {x};
  mlx_array s = make(t, NULL, 0, v, NULL);
  int one = 1;
  mlx_array a1 = make(t, &one, 1, v, NULL);
  mlx_array rs = mlx_array_new(), r1 = mlx_array_new();
  CHECK_OK(fn(&rs, s, test_stream));
  CHECK_OK(fn(&r1, a1, test_stream));
  CHECK_MSG(mlx_array_ndim(rs) == 0, "%s of a 0-d %s", name, dtype_name(t));
  mlx_array flat = mlx_array_new();
  CHECK_OK(mlx_reshape(&flat, rs, &one, 1, test_stream));
  CHECK_MSG(same_bytes(flat, r1), "%s of 0-d", name);
  int shapes[2][3] = {{0, 0, 0}, {2, 0, 3}};
  int ndims[2] = {1, 3};
  for (int k = 0; k < 2; k++) {
    mlx_array e = make(t, shapes[k], ndims[k], v, NULL);
    mlx_array re = mlx_array_new();
    CHECK_OK(fn(&re, e, test_stream));
    CHECK_MSG(test_shape_is(re, shapes[k], ndims[k]) &&
                  mlx_array_dtype(re) == mlx_array_dtype(r1),
              "%s of an empty array", name);
    void* bytes = raw(re);
    free(bytes);
    mlx_array_free(e);
    mlx_array_free(re);
  }
  mlx_array_free(s);
  mlx_array_free(a1);
  mlx_array_free(rs);
  mlx_array_free(r1);
  mlx_array_free(flat);
}

/* (y, yi) against a double complex reference rounded to complex64: parts
 * that are NaN or infinite must match in kind (and sign), the rest within
 * rel * |reference|. */
static inline bool complex_close(double y, double yi, double complex ref, double rel) {
  double wr = (float)creal(ref), wi = (float)cimag(ref);
  if (!isfinite(wr) || !isfinite(wi)) {
    bool ok = true;
    if (!isfinite(wr)) ok &= isnan(wr) ? isnan(y) : y == wr;
    if (!isfinite(wi)) ok &= isnan(wi) ? isnan(yi) : yi == wi;
    return ok;
  }
  double err = hypot(y - wr, yi - wi), mag = hypot(wr, wi);
  return err <= rel * mag + 1e-37;
}

/* ---- round(x, 0) and float32 scalars ---- */

static inline int round0(mlx_array* r, const mlx_array a, const mlx_stream s) {
  return mlx_round(r, a, 0, s);
}

static inline float apply_f32(unary_api fn, float x) {
  mlx_array a = mlx_array_new_float32(x);
  mlx_array r = mlx_array_new();
  float y = NAN;
  if (fn(&r, a, test_stream) == 0) mlx_array_item_float32(&y, r);
  mlx_array_free(a);
  mlx_array_free(r);
  return y;
}

static inline bool bits_eq(float a, float b) {
  return memcmp(&a, &b, 4) == 0 || (isnan(a) && isnan(b));
}

#endif
