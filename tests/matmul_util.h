/* matmul_util.h - helpers shared by test_matmul.c and
 * test_matmul_einsum.c: random arrays of a dtype (values kept in double),
 * every operand layout the matmul kernel distinguishes, and the relative
 * error check against a double reference with its tolerance per dtype.
 *
 * Everything here is static: each test program includes it once. */
#ifndef CMLX_TEST_MATMUL_UTIL_H
#define CMLX_TEST_MATMUL_UTIL_H

#include <complex.h>
#include <stdlib.h>

#include "core/half.h"
#include "harness.h"

#define S test_stream

/* ---- building inputs ---- */

static inline size_t shape_size(const int* shape, int nd) {
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
  return n;
}

/* A 1-D array of n random values in [-1, 1) of dtype t. */
static inline mlx_array rand_flat(mlx_dtype t, size_t n) {
  double* d = malloc((n ? n : 1) * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = test_rand(-1, 1);
  int sh = (int)n;
  mlx_array f = mlx_array_new_data(d, &sh, 1, MLX_FLOAT64);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_astype(&r, f, t, S));
  mlx_array_free(f);
  free(d);
  return r;
}

static inline mlx_array rand_array(mlx_dtype t, const int* shape, int nd) {
  mlx_array f = rand_flat(t, shape_size(shape, nd));
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_reshape(&r, f, shape, (size_t)nd, S));
  mlx_array_free(f);
  return r;
}

/* Layouts of the last two axes (rows R, cols C) built with as_strided. */
enum {
  LAYOUT_CONTIGUOUS,
  LAYOUT_TRANSPOSED, /* column-major: CblasTrans */
  LAYOUT_PADDED,     /* row stride C + 3, offset 1: a leading dimension */
  LAYOUT_STEP2,      /* every other column: copied */
  LAYOUT_BCAST_ROWS, /* row stride 0: copied */
  LAYOUT_REVERSED,   /* negative row stride: copied */
  LAYOUT_TPADDED,    /* column-major with a leading dimension R + 2 */
  LAYOUT_COUNT
};
static const char* const layout_names[LAYOUT_COUNT] = {
    "contiguous", "transposed", "padded", "step2", "bcast_rows", "reversed", "tpadded"};

/* An array of the given shape whose matrices have the given layout (1-D
 * arrays: STEP2 gives stride 2, anything else stride 1). Batch axes are
 * packed. */
static inline mlx_array layout_array(mlx_dtype t, const int* shape, int nd, int layout) {
  int64_t strides[8];
  int64_t R = nd >= 2 ? shape[nd - 2] : 1, C = shape[nd - 1];
  int64_t rs = C, cs = 1, foot = R * C, off = 0;
  if (nd == 1) {
    cs = layout == LAYOUT_STEP2 ? 2 : 1;
    foot = C * cs;
  } else {
    switch (layout) {
      case LAYOUT_TRANSPOSED: rs = 1; cs = R; break;
      case LAYOUT_PADDED: rs = C + 3; off = 1; foot = R * (C + 3) + 1; break;
      case LAYOUT_STEP2: rs = 2 * C; cs = 2; foot = 2 * R * C; break;
      case LAYOUT_BCAST_ROWS: rs = 0; foot = C; break;
      case LAYOUT_REVERSED: rs = -C; off = (R > 0 ? R - 1 : 0) * C; break;
      case LAYOUT_TPADDED: rs = 1; cs = R + 2; foot = C * (R + 2); break;
      default: break;
    }
  }
  if (nd >= 2) {
    strides[nd - 2] = rs;
    strides[nd - 1] = cs;
  } else {
    strides[0] = cs;
  }
  int64_t batch_stride = foot;
  for (int d = nd - 3; d >= 0; d--) {
    strides[d] = batch_stride;
    batch_stride *= shape[d];
  }
  size_t total = (size_t)batch_stride + 1;
  mlx_array flat = rand_flat(t, total);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_as_strided(&r, flat, shape, (size_t)nd, strides, (size_t)nd, (size_t)off, S));
  mlx_array_free(flat);
  return r;
}

static const char* tname(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT16: return "float16";
    case MLX_BFLOAT16: return "bfloat16";
    case MLX_FLOAT64: return "float64";
    case MLX_FLOAT32: return "float32";
    default: return "other";
  }
}

/* ---- checking results ---- */

static inline bool shape_eq(mlx_array a, const int* shape, int nd) {
  return test_shape_is(a, shape, nd);
}

/* max |out - ref| / max |ref| (0 when both are all zero). */
static inline double rel_error(const double* out, const double* ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs(out[i] - ref[i]);
    if (!(e <= num)) num = e; /* NaN sticks */
    if (fabs(ref[i]) > den) den = fabs(ref[i]);
  }
  return den > 0 ? num / den : num;
}

static inline double tol_for(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT64: return 1e-12;
    case MLX_FLOAT16: return 2e-3;
    case MLX_BFLOAT16: return 1.6e-2;
    default: return 1e-5;
  }
}

/* Checks dtype, shape and values of out against ref (n elements). */
static inline void expect_close(mlx_array out, mlx_dtype t, const int* shape, int nd,
                                const double* ref, const char* what) {
  CHECK_MSG(mlx_array_dtype(out) == t, "%s: dtype %d, expected %d", what,
            (int)mlx_array_dtype(out), (int)t);
  CHECK_MSG(shape_eq(out, shape, nd), "%s: wrong shape", what);
  if (!shape_eq(out, shape, nd)) return;
  size_t n = shape_size(shape, nd);
  double* got = test_to_f64(out);
  CHECK_MSG(got != NULL, "%s: could not read", what);
  if (!got) return;
  double err = rel_error(got, ref, n);
  CHECK_MSG(err <= tol_for(t), "%s: relative error %g > %g", what, err, tol_for(t));
  free(got);
}

#endif
