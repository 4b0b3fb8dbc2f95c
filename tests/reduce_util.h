/* reduce_util.h - helpers shared by test_reduce.c and test_cumulative.c:
 * arrays of any dtype built from (and read back as) doubles, random values
 * and shapes, strided views of an array (transposed, sliced with a
 * reversed axis, broadcast), and rounding to a dtype.
 *
 * Values travel as (re, im) pairs of doubles; the tests only use integers
 * small enough to be exact in a double. Everything here is static: each
 * test program includes it once. */
#ifndef CMLX_TEST_REDUCE_UTIL_H
#define CMLX_TEST_REDUCE_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/half.h"
#include "dtype_util.h"
#include "harness.h"
#include "ops/ops.h"

static const mlx_dtype all_dtypes[] = {
    MLX_BOOL,    MLX_UINT8,    MLX_UINT16,  MLX_UINT32,  MLX_UINT64,
    MLX_INT8,    MLX_INT16,    MLX_INT32,   MLX_INT64,   MLX_FLOAT16,
    MLX_BFLOAT16, MLX_FLOAT32, MLX_FLOAT64, MLX_COMPLEX64};
#define N_DTYPES ((int)(sizeof all_dtypes / sizeof all_dtypes[0]))

/* The unit roundoff of a float dtype (float32's for the rest). */
static inline double unit_roundoff(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT16: return 0x1p-11;
    case MLX_BFLOAT16: return 0x1p-8;
    case MLX_FLOAT64: return 0x1p-53;
    default: return 0x1p-24;
  }
}

/* v rounded to dtype t (integers: truncated toward zero). */
static inline double round_to(mlx_dtype t, double v) {
  switch (t) {
    case MLX_FLOAT16: return f16_to_f32(f32_to_f16((float)v));
    case MLX_BFLOAT16: return bf16_to_f32(f32_to_bf16((float)v));
    case MLX_FLOAT64: return v;
    case MLX_FLOAT32:
    case MLX_COMPLEX64: return (float)v;
    case MLX_BOOL: return v != 0;
    default: return trunc(v);
  }
}

/* Keeps the low bits of v that dtype t holds, sign-extended when signed. */
static inline uint64_t wrap_bits(mlx_dtype t, uint64_t v) {
  int bits = 8 * (int)mlx_dtype_size(t);
  if (bits >= 64) return v;
  uint64_t mask = (1ull << bits) - 1;
  v &= mask;
  if (is_signed(t) && (v >> (bits - 1))) v |= ~mask;
  return v;
}

static inline size_t shape_size(const int* shape, int nd) {
  size_t n = 1;
  for (int d = 0; d < nd; d++) n *= (size_t)shape[d];
  return n;
}

static inline mlx_array make(mlx_dtype t, const int* shape, int nd, const double* re,
                      const double* im) {
  size_t n = shape_size(shape, nd);
  void* buf = calloc(n ? n : 1, mlx_dtype_size(t));
  for (size_t i = 0; i < n; i++) encode(buf, t, i, re[i], im ? im[i] : 0);
  mlx_array a = mlx_array_new_data(buf, shape, nd, t);
  free(buf);
  return a;
}

/* The row-major bytes of a (evaluated through a contiguous copy); the
 * caller frees. */
static inline void* raw_bytes(mlx_array a) {
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

/* The values of a, row-major, as (re, im) doubles; the caller frees both. */
static inline void read_values(mlx_array a, double** re, double** im) {
  size_t n = mlx_array_size(a);
  void* b = raw_bytes(a);
  *re = calloc(n ? n : 1, sizeof(double));
  *im = calloc(n ? n : 1, sizeof(double));
  for (size_t i = 0; i < n; i++) decode(b, mlx_array_dtype(a), i, &(*re)[i], &(*im)[i]);
  free(b);
}

static inline int rand_int(int lo, int hi) {
  return lo + (int)floor(test_rand(0, hi - lo + 1));
}

/* n values for dtype t: floats uniform in [lo, hi], integers in [ilo, ihi]
 * (clipped to t), bool 0/1; complex gets an imaginary part too. */
static inline void random_values(mlx_dtype t, size_t n, double lo, double hi, int ilo, int ihi,
                          double* re, double* im) {
  for (size_t i = 0; i < n; i++) {
    im[i] = 0;
    if (t == MLX_BOOL) {
      re[i] = rand_int(0, 1);
    } else if (is_int(t)) {
      re[i] = rand_int(is_signed(t) ? ilo : (ilo < 0 ? 0 : ilo), ihi);
    } else {
      re[i] = round_to(t, test_rand(lo, hi));
      if (t == MLX_COMPLEX64) im[i] = round_to(t, test_rand(lo, hi));
    }
  }
}

/* A random shape of 0-4 dims, entries 1-5, sometimes 0. */
static inline int random_shape(int* shape, bool allow_empty) {
  int nd = rand_int(0, 4);
  for (int d = 0; d < nd; d++) {
    shape[d] = rand_int(1, 5);
    if (allow_empty && rand_int(0, 14) == 0) shape[d] = 0;
  }
  return nd;
}

/* ---- strided views with a given logical shape ---- */

typedef enum layout_kind { LAYOUT_CONTIGUOUS, LAYOUT_TRANSPOSED, LAYOUT_SLICED, LAYOUT_BROADCAST } layout_kind;
static const char* const layout_names[] = {"contiguous", "transposed", "sliced", "broadcast"};

/* An array of dtype t and the given shape whose layout is of the given
 * kind: transposed (a random permutation of a contiguous array), sliced
 * (every other element, the last axis reversed) or broadcast (random axes
 * of size 1 in memory). Values are random as in random_values. */
static inline mlx_array make_view(layout_kind kind, mlx_dtype t, const int* shape, int nd, double lo,
                           double hi, int ilo, int ihi) {
  int base[8], perm[8], inv[8];
  for (int d = 0; d < nd; d++) {
    base[d] = shape[d];
    perm[d] = d;
  }
  if (kind == LAYOUT_TRANSPOSED) {
    for (int d = nd - 1; d > 0; d--) {
      int k = rand_int(0, d), tmp = perm[d];
      perm[d] = perm[k];
      perm[k] = tmp;
    }
    /* memory holds shape[perm[d]] at axis d; transposing by inv restores */
    for (int d = 0; d < nd; d++) {
      base[d] = shape[perm[d]];
      inv[perm[d]] = d;
    }
  } else if (kind == LAYOUT_SLICED) {
    for (int d = 0; d < nd; d++) base[d] = 2 * shape[d] + 1;
  } else if (kind == LAYOUT_BROADCAST) {
    for (int d = 0; d < nd; d++)
      if (rand_int(0, 1)) base[d] = shape[d] == 0 ? 0 : 1;
  }
  size_t n = shape_size(base, nd);
  double* re = calloc(n ? n : 1, sizeof(double));
  double* im = calloc(n ? n : 1, sizeof(double));
  random_values(t, n, lo, hi, ilo, ihi, re, im);
  mlx_array a = make(t, base, nd, re, im);
  free(re);
  free(im);
  if (kind == LAYOUT_CONTIGUOUS) return a;
  array* v = NULL;
  if (kind == LAYOUT_TRANSPOSED) {
    v = op_transpose_axes(api_array(a), inv, nd, test_st());
  } else if (kind == LAYOUT_SLICED) {
    int start[8], stop[8], step[8];
    for (int d = 0; d < nd; d++) {
      bool rev = d == nd - 1;
      start[d] = rev ? base[d] - 1 : 1;
      stop[d] = rev ? 0 : base[d];
      step[d] = rev ? -2 : 2;
    }
    v = op_slice(api_array(a), start, stop, step, test_st());
  } else {
    v = op_broadcast_to(api_array(a), shape, nd, test_st());
  }
  CHECK_MSG(v != NULL, "making a %s view failed: %s", layout_names[kind], test_last_error);
  mlx_array_free(a);
  return api_wrap(v);
}

/* ---- the API forms of the axis reductions ---- */

typedef int (*axes_fn)(mlx_array*, const mlx_array, const int*, size_t, bool,
                       const mlx_stream);
typedef int (*axis_fn)(mlx_array*, const mlx_array, int, bool, const mlx_stream);
typedef int (*whole_fn)(mlx_array*, const mlx_array, bool, const mlx_stream);

typedef struct api_forms {
  const char* name;
  axes_fn axes;
  axis_fn axis;
  whole_fn whole;
} api_forms;

/* Calls one of the forms: whole when `whole`, the _axis form for a single
 * axis half of the time, else _axes. */
static inline int call_forms(const api_forms* f, mlx_array* r, mlx_array a, const int* axes, int n,
                      bool whole, bool keepdims) {
  if (whole) return f->whole(r, a, keepdims, test_stream);
  if (n == 1 && rand_int(0, 1)) return f->axis(r, a, axes[0], keepdims, test_stream);
  return f->axes(r, a, axes, (size_t)n, keepdims, test_stream);
}

/* A random axis set of an nd-dim array: distinct, shuffled, half of them
 * negative. *whole says it is every axis (then the whole-array form may be
 * used). */
static inline int random_axes(int nd, int* axes, bool* whole) {
  int n = 0;
  for (int d = 0; d < nd; d++)
    if (rand_int(0, 1)) axes[n++] = d;
  if (n == 0 && nd > 0 && rand_int(0, 3)) axes[n++] = rand_int(0, nd - 1);
  for (int i = n - 1; i > 0; i--) {
    int k = rand_int(0, i), t = axes[i];
    axes[i] = axes[k];
    axes[k] = t;
  }
  *whole = n == nd && rand_int(0, 1);
  for (int i = 0; i < n; i++)
    if (rand_int(0, 1)) axes[i] -= nd;
  return n;
}

static inline void mark_axes(int nd, const int* axes, int n, bool* red) {
  for (int d = 0; d < nd; d++) red[d] = false;
  for (int i = 0; i < n; i++) red[axes[i] < 0 ? axes[i] + nd : axes[i]] = true;
}

/* Output shape of a reduction over red. */
static inline int out_shape_of(const int* shape, int nd, const bool* red, bool keepdims, int* out) {
  int k = 0;
  for (int d = 0; d < nd; d++) {
    if (!red[d]) out[k++] = shape[d];
    else if (keepdims) out[k++] = 1;
  }
  return k;
}

/* Output index (row-major over the kept axes) of input element i. */
static inline size_t out_index(size_t i, const int* shape, int nd, const bool* red) {
  size_t o = 0, mul = 1;
  for (int d = nd - 1; d >= 0; d--) {
    size_t c = i % (size_t)shape[d];
    i /= (size_t)shape[d];
    if (!red[d]) {
      o += c * mul;
      mul *= (size_t)shape[d];
    }
  }
  return o;
}

static inline bool lex_gt(double ar, double ai, double br, double bi) {
  return ar > br || (ar == br && ai > bi);
}

static inline bool close_to(double out, double ref, double tol) {
  if (isnan(ref) || isnan(out)) return isnan(ref) && isnan(out);
  if (isinf(ref)) return out == ref;
  return fabs(out - ref) <= tol;
}

static inline double scalar_of(mlx_array r) {
  double *re, *im;
  read_values(r, &re, &im);
  double v = re[0];
  free(re);
  free(im);
  return v;
}


#endif
