/* indexing_util.h - helpers shared by test_indexing.c and
 * test_indexing_update.c: the dtypes and index types every op runs on,
 * random shapes and axes, row-major index arithmetic with broadcasting,
 * arrays of any dtype made from doubles (contiguous, transposed, sliced
 * with a negative step or broadcast), exact comparison of values, and the
 * reference's index clamping and reductions.
 *
 * Everything here is static: each test program includes it once. */
#ifndef CMLX_TEST_INDEXING_UTIL_H
#define CMLX_TEST_INDEXING_UTIL_H

#include <complex.h>
#include <stdlib.h>

#include "core/array.h"
#include "core/half.h"
#include "harness.h"

#define MAXD 8

static const mlx_dtype ALL_TYPES[] = {
    MLX_BOOL,  MLX_UINT8, MLX_UINT16,  MLX_UINT32,   MLX_UINT64,  MLX_INT8,    MLX_INT16,
    MLX_INT32, MLX_INT64, MLX_FLOAT16, MLX_BFLOAT16, MLX_FLOAT32, MLX_FLOAT64, MLX_COMPLEX64};
#define N_TYPES ((int)(sizeof ALL_TYPES / sizeof ALL_TYPES[0]))
static const mlx_dtype INDEX_TYPES[] = {MLX_INT32, MLX_INT64, MLX_INT8,   MLX_INT16,
                                        MLX_UINT8, MLX_UINT16, MLX_UINT32, MLX_UINT64};
#define N_INDEX_TYPES ((int)(sizeof INDEX_TYPES / sizeof INDEX_TYPES[0]))

enum { MODE_NONE, MODE_SUM, MODE_PROD, MODE_MAX, MODE_MIN };

/* ---- helpers ---- */

static inline int rand_int(int lo, int hi) { /* inclusive */
         return lo + (int)test_rand(0, (double)(hi - lo + 1) - 1e-9);
}

static inline int64_t shape_size(const int* shape, int nd) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= shape[i];
  return n;
}

static inline void unravel(int64_t flat, const int* shape, int nd, int* pos) {
  for (int d = nd - 1; d >= 0; d--) {
    pos[d] = shape[d] ? (int)(flat % shape[d]) : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
}

static inline int64_t ravel(const int* pos, const int* shape, int nd) {
  int64_t f = 0;
  for (int d = 0; d < nd; d++) f = f * shape[d] + pos[d];
  return f;
}

/* Row-major index into an array of in_shape broadcast (right-aligned) to
 * the position pos of out_nd dims. */
static inline int64_t bcast_at(const int* in_shape, int in_nd, const int* pos, int out_nd) {
  int64_t f = 0;
  for (int d = 0; d < in_nd; d++) {
    int p = in_shape[d] == 1 ? 0 : pos[d + out_nd - in_nd];
    f = f * in_shape[d] + p;
  }
  return f;
}

static inline bool is_unsigned(mlx_dtype t) {
  return t == MLX_BOOL || t == MLX_UINT8 || t == MLX_UINT16 || t == MLX_UINT32 ||
         t == MLX_UINT64;
}

/* v as stored in dtype t (integers wrap, halves round). */
static inline double round_to(mlx_dtype t, double v) {
  switch (t) {
    case MLX_BOOL: return v != 0;
    case MLX_UINT8: return (uint8_t)(int64_t)v;
    case MLX_UINT16: return (uint16_t)(int64_t)v;
    case MLX_UINT32: return (uint32_t)(int64_t)v;
    case MLX_UINT64: return (double)(uint64_t)(int64_t)v;
    case MLX_INT8: return (int8_t)(int64_t)v;
    case MLX_INT16: return (int16_t)(int64_t)v;
    case MLX_INT32: return (int32_t)(int64_t)v;
    case MLX_INT64: return (double)(int64_t)v;
    case MLX_FLOAT16: return f16_to_f32(f32_to_f16((float)v));
    case MLX_BFLOAT16: return bf16_to_f32(f32_to_bf16((float)v));
    case MLX_FLOAT32:
    case MLX_COMPLEX64: return (float)v;
    default: return v;
  }
}

static inline void store(mlx_dtype t, void* buf, int64_t i, double v) {
  switch (t) {
    case MLX_BOOL: ((bool*)buf)[i] = v != 0; break;
    case MLX_UINT8: ((uint8_t*)buf)[i] = (uint8_t)(int64_t)v; break;
    case MLX_UINT16: ((uint16_t*)buf)[i] = (uint16_t)(int64_t)v; break;
    case MLX_UINT32: ((uint32_t*)buf)[i] = (uint32_t)(int64_t)v; break;
    case MLX_UINT64: ((uint64_t*)buf)[i] = (uint64_t)(int64_t)v; break;
    case MLX_INT8: ((int8_t*)buf)[i] = (int8_t)(int64_t)v; break;
    case MLX_INT16: ((int16_t*)buf)[i] = (int16_t)(int64_t)v; break;
    case MLX_INT32: ((int32_t*)buf)[i] = (int32_t)(int64_t)v; break;
    case MLX_INT64: ((int64_t*)buf)[i] = (int64_t)v; break;
    case MLX_FLOAT16: ((uint16_t*)buf)[i] = f32_to_f16((float)v); break;
    case MLX_BFLOAT16: ((uint16_t*)buf)[i] = f32_to_bf16((float)v); break;
    case MLX_FLOAT32: ((float*)buf)[i] = (float)v; break;
    case MLX_FLOAT64: ((double*)buf)[i] = v; break;
    case MLX_COMPLEX64:
      ((float*)buf)[2 * i] = (float)v;
      ((float*)buf)[2 * i + 1] = (float)-v;
      break;
    default: break;
  }
}

static inline mlx_array from_values(mlx_dtype t, const int* shape, int nd, const double* v) {
  int64_t n = shape_size(shape, nd);
  void* buf = calloc(n > 0 ? (size_t)n : 1, mlx_dtype_size(t));
  for (int64_t i = 0; i < n; i++) store(t, buf, i, v[i]);
  mlx_array a = mlx_array_new_data(buf, shape, nd, t);
  free(buf);
  return a;
}

/* A test array: its handle and its values in row-major order. */
typedef struct tarr {
  mlx_array h;
  mlx_dtype t;
  int nd;
  int shape[MAXD];
  double* v;
} tarr;

enum { LAYOUT_CONTIGUOUS, LAYOUT_TRANSPOSED, LAYOUT_REVERSED, LAYOUT_BROADCAST, LAYOUT_COUNT };

/* Random integers in [lo, hi] of dtype t with the given shape, laid out as
 * asked: transposed (a transpose of a reversed-shape array), reversed (a
 * slice with step -2 of an array twice as long on axis 0) or broadcast
 * (axis 0 of size 1 broadcast). */
static inline tarr make_arr(mlx_dtype t, const int* shape, int nd, double lo, double hi,
                            int layout) {
  tarr a = {.t = t, .nd = nd};
  memcpy(a.shape, shape, sizeof(int) * (size_t)nd);
  if (is_unsigned(t) && lo < 0) lo = 0;
  if (t == MLX_BOOL) hi = 1;
  if (nd == 0) layout = LAYOUT_CONTIGUOUS;
  if (layout == LAYOUT_REVERSED && shape[0] == 0) layout = LAYOUT_CONTIGUOUS;
  int base[MAXD];
  memcpy(base, shape, sizeof(int) * (size_t)nd);
  if (layout == LAYOUT_TRANSPOSED)
    for (int d = 0; d < nd; d++) base[d] = shape[nd - 1 - d];
  if (layout == LAYOUT_REVERSED) base[0] = 2 * shape[0];
  if (layout == LAYOUT_BROADCAST) base[0] = 1;
  int64_t n = shape_size(base, nd);
  double* vals = malloc(sizeof(double) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) vals[i] = rand_int((int)lo, (int)hi);
  mlx_array b = from_values(t, base, nd, vals);
  free(vals);
  a.h = mlx_array_new();
  switch (layout) {
    case LAYOUT_TRANSPOSED: CHECK_OK(mlx_transpose(&a.h, b, test_stream)); break;
    case LAYOUT_REVERSED: {
      int start[MAXD] = {0}, stop[MAXD], step[MAXD];
      for (int d = 0; d < nd; d++) {
        stop[d] = base[d];
        step[d] = 1;
      }
      start[0] = base[0] - 1;
      stop[0] = -base[0] - 1;
      step[0] = -2;
      CHECK_OK(mlx_slice(&a.h, b, start, nd, stop, nd, step, nd, test_stream));
      break;
    }
    case LAYOUT_BROADCAST: CHECK_OK(mlx_broadcast_to(&a.h, b, shape, nd, test_stream)); break;
    default: mlx_array_set(&a.h, b); break;
  }
  mlx_array_free(b);
  CHECK(test_shape_is(a.h, shape, nd));
  a.v = test_to_f64(a.h);
  return a;
}

static inline void tarr_free(tarr* a) {
  mlx_array_free(a->h);
  free(a->v);
}

/* r has the given shape and holds want[] (row-major), exactly. */
static inline bool values_are(mlx_array r, const int* shape, int nd, const double* want,
                              const char* what) {
  if (!test_shape_is(r, shape, nd)) {
    fprintf(stderr, "%s: wrong shape\n", what);
    return false;
  }
  double* got = test_to_f64(r);
  if (!got) {
    fprintf(stderr, "%s: evaluation failed: %s\n", what, test_last_error);
    return false;
  }
  int64_t n = shape_size(shape, nd);
  bool ok = true;
  for (int64_t i = 0; i < n && ok; i++) {
    if (got[i] != want[i] && !(isnan(got[i]) && isnan(want[i]))) {
      fprintf(stderr, "%s: element %lld is %g, expected %g\n", what, (long long)i, got[i],
              want[i]);
      ok = false;
    }
  }
  free(got);
  return ok;
}

/* MLX's negative wrap, then our clamp into [0, hi]. */
static inline int64_t ref_index(double v, int64_t dim, int64_t hi) {
  if (v < 0) v += (double)dim;
  if (v < 0) return 0;
  return v > (double)hi ? hi : (int64_t)v;
}

static inline double combine(int mode, double y, double x) {
  switch (mode) {
    case MODE_SUM: return y + x;
    case MODE_PROD: return y * x;
    case MODE_MAX: return y > x ? y : x;
    case MODE_MIN: return y < x ? y : x;
    default: return x;
  }
}

static inline mlx_array new_i32(const int32_t* v, const int* shape, int nd) {
  return mlx_array_new_data(v, shape, nd, MLX_INT32);
}
static inline mlx_array new_f32(const float* v, const int* shape, int nd) {
  return mlx_array_new_data(v, shape, nd, MLX_FLOAT32);
}

/* k distinct axes of [0, nd) in random order. */
static inline void random_axes(int* axes, int k, int nd) {
  int perm[MAXD];
  for (int i = 0; i < nd; i++) perm[i] = i;
  for (int i = nd - 1; i > 0; i--) {
    int j = rand_int(0, i), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  memcpy(axes, perm, sizeof(int) * (size_t)k);
}

#endif
