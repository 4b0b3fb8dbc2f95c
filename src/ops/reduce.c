/* reduce.c - front-ends of the reductions: sum, prod, max, min, all, any
 * (one Reduce node), mean, var and std (composed from sum as MLX does),
 * argmax and argmin (ArgReduce), logsumexp, softmax and median.
 *
 * Validation follows MLX's ops.cpp: the same checks in the same order with
 * the same messages. Where MLX returns its input or a cast of it (no axes,
 * or only size-1 axes), so do these. Reduce nodes get the final shape
 * directly (MLX builds a keepdims shape and squeezes it; the data is the
 * same).
 *
 * logsumexp, softmax and median over axes other than the last move the
 * reduced axes to the end (a transpose, then a flatten that copies only
 * when it must) and run their row kernel; softmax transposes back. MLX
 * composes those cases from max/exp/sum (or sorts, for median); the
 * results agree up to rounding, and match MLX's output dtypes: softmax
 * over the last axes gives at_least_float, over others the input's dtype.
 * complex64 takes MLX's composed path itself (op_*_composed). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/binary_list.h"
#include "ops/compose.h"
#include "ops/ops.h"
#include "ops/reduce.h"
#include "ops/unary_list.h"

static const char* const reduce_names[REDUCE_KIND_COUNT] = {
    [REDUCE_SUM] = "sum", [REDUCE_PROD] = "prod", [REDUCE_MAX] = "max",
    [REDUCE_MIN] = "min", [REDUCE_AND] = "all",   [REDUCE_OR] = "any",
};

static const primitive prim_reduce = {"Reduce", cpu_reduce_eval, NULL, NULL};
static const primitive prim_argreduce = {"ArgReduce", cpu_argreduce_eval, NULL, NULL};
static const primitive prim_softmax = {"Softmax", cpu_softmax_eval, NULL, NULL};
static const primitive prim_logsumexp = {"LogSumExp", cpu_logsumexp_eval, NULL, NULL};
static const primitive prim_median = {"Median", cpu_median_eval, NULL, NULL};

#define VLA_N(n) ((n) > 0 ? (n) : 1)

static array* same(array* a) {
  array_retain(a);
  return a;
}

/* MLX's at_least_float: floats and complex64 stay, the rest -> float32. */
static mlx_dtype at_least_float(mlx_dtype t) {
  return dtype_is_inexact(t) ? t : MLX_FLOAT32;
}

/* ---- axes ---- */

/* axes == NULL means every axis: points axes at a local list 0..nd-1 (a
 * VLA in the caller's scope) and sets n = nd. */
#define ALL_AXES_IF_NULL(nd, axes, n)                          \
  int all_axes_[VLA_N(nd)];                                    \
  if (!(axes)) {                                               \
    for (int d_ = 0; d_ < (nd); d_++) all_axes_[d_] = d_;      \
    (axes) = all_axes_;                                        \
    (n) = (nd);                                                \
  }

/* MLX's compute_reduce_shape: every axis in [-ndim, ndim), no repeats, and
 * for ops without an identity (max, min; no_identity names them) no empty
 * reduced axis. Marks the reduced axes; *noop says every one has size 1. */
static int reduce_axes_check(const array* a, const int* axes, int n,
                             const char* no_identity, bool* reduced, bool* noop) {
  int nd = a->ndim;
  memset(reduced, 0, sizeof(bool) * (size_t)VLA_N(nd));
  int unique = 0;
  for (int i = 0; i < n; i++) {
    int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
    if (ax < 0 || ax >= nd)
      return error_set("Invalid axis %d for array with %d dimensions.", axes[i], nd);
    unique += !reduced[ax];
    reduced[ax] = true;
  }
  if (unique != n) return error_set("Duplicate axes detected in reduction.");
  *noop = true;
  for (int d = 0; d < nd; d++) {
    if (!reduced[d]) continue;
    if (no_identity && a->shape[d] == 0)
      return error_set("[%s] Cannot %s reduce over axis %d with size 0.", no_identity,
                       no_identity, d);
    *noop &= a->shape[d] == 1;
  }
  return 0;
}

/* The output shape: reduced axes dropped, or 1 with keepdims. */
static int reduced_shape(const array* a, const bool* reduced, bool keepdims, int* shape) {
  int n = 0;
  for (int d = 0; d < a->ndim; d++) {
    if (!reduced[d]) shape[n++] = a->shape[d];
    else if (keepdims) shape[n++] = 1;
  }
  return n;
}

/* The sorted reduced axes, for squeeze. */
static int sorted_axes(const array* a, const bool* reduced, int* axes) {
  int n = 0;
  for (int d = 0; d < a->ndim; d++)
    if (reduced[d]) axes[n++] = d;
  return n;
}

/* Squeezes the reduced axes of x (shaped like a) unless keepdims;
 * consumes x. */
static array* squeeze_reduced(array* x, const array* a, const bool* reduced,
                              bool keepdims, stream s) {
  if (!x || keepdims) return x;
  int axes[VLA_N(a->ndim)];
  int n = sorted_axes(a, reduced, axes);
  array* out = op_squeeze_axes(x, axes, n, s);
  array_release(x);
  return out;
}

/* ---- sum, prod, max, min, all, any ---- */

/* MLX's output dtypes: sum and prod widen integers to at least 32 bits
 * (bool -> int32); all and any give bool; max and min keep the dtype. */
static mlx_dtype reduce_out_dtype(reduce_kind kind, mlx_dtype t) {
  switch (kind) {
    case REDUCE_SUM:
    case REDUCE_PROD:
      if (t == MLX_BOOL) return MLX_INT32;
      if (dtype_kind_of(t) == KIND_INT) return dtype_size(t) <= 4 ? MLX_INT32 : MLX_INT64;
      if (dtype_kind_of(t) == KIND_UINT) return dtype_size(t) <= 4 ? MLX_UINT32 : MLX_UINT64;
      return t;
    case REDUCE_AND:
    case REDUCE_OR:
      return MLX_BOOL;
    default:
      return t;
  }
}

static array* reduce_node(reduce_kind kind, array* a, const bool* reduced,
                          bool keepdims, stream s) {
  int nd = a->ndim;
  reduce_params* p = malloc(sizeof *p + sizeof(int) * (size_t)VLA_N(nd));
  if (!p) {
    error_set("[%s] Out of memory.", reduce_names[kind]);
    return NULL;
  }
  p->kind = kind;
  p->n_axes = sorted_axes(a, reduced, p->axes);
  int shape[VLA_N(nd)];
  int out_nd = reduced_shape(a, reduced, keepdims, shape);
  return array_new_op(reduce_out_dtype(kind, a->dtype), out_nd, shape, &prim_reduce, p,
                      &a, 1, s);
}

array* op_reduce(reduce_kind kind, array* a, const int* axes, int n, bool keepdims,
                 stream s) {
  int nd = a->ndim;
  ALL_AXES_IF_NULL(nd, axes, n);
  /* MLX returns the input itself when sum, prod or min get no axes */
  if (n == 0 && (kind == REDUCE_SUM || kind == REDUCE_PROD || kind == REDUCE_MIN))
    return same(a);
  bool reduced[VLA_N(nd)];
  bool noop = false;
  const char* no_identity =
      kind == REDUCE_MAX ? "max" : kind == REDUCE_MIN ? "min" : NULL;
  if (reduce_axes_check(a, axes, n, no_identity, reduced, &noop)) return NULL;
  if (!noop) return reduce_node(kind, a, reduced, keepdims, s);
  array* x = (kind == REDUCE_MAX || kind == REDUCE_MIN)
                 ? same(a)
                 : op_astype(a, reduce_out_dtype(kind, a->dtype), s);
  return squeeze_reduced(x, a, reduced, keepdims, s);
}

/* ---- mean, var, std ---- */

/* The number of elements the axes cover (repeats counted, as MLX's
 * number_of_elements does). Axes are already range-checked. */
static double count_elements(const array* a, const int* axes, int n) {
  double numel = 1;
  for (int i = 0; i < n; i++) numel *= a->shape[(axes[i] + a->ndim) % a->ndim];
  return numel;
}

array* op_mean(array* a, const int* axes, int n, bool keepdims, stream s) {
  int nd = a->ndim;
  ALL_AXES_IF_NULL(nd, axes, n);
  for (int i = 0; i < n; i++) {
    if (axes[i] < -nd || axes[i] >= nd) {
      error_set("[mean] axis %d is out of bounds for array with %d dimensions.", axes[i],
                nd);
      return NULL;
    }
  }
  mlx_dtype dtype = at_least_float(a->dtype);
  temps t = {.n = 0};
  array* normalizer = keep(&t, op_scalar(1.0 / count_elements(a, axes, n), dtype));
  array* sum = normalizer ? keep(&t, op_reduce(REDUCE_SUM, a, axes, n, keepdims, s)) : NULL;
  array* out = sum ? keep(&t, op_binary(BINARY_MULTIPLY, sum, normalizer, s)) : NULL;
  return temps_finish(&t, out);
}

array* op_var(array* a, const int* axes, int n, bool keepdims, int ddof, stream s) {
  int nd = a->ndim;
  ALL_AXES_IF_NULL(nd, axes, n);
  mlx_dtype dtype = at_least_float(a->dtype);
  temps t = {.n = 0};
  array* out = NULL;
  array* mu = keep(&t, op_mean(a, axes, n, true, s));
  if (!mu) goto done;
  array* d = keep(&t, op_binary(BINARY_SUBTRACT, a, mu, s));
  if (!d) goto done;
  array* sq;
  if (dtype == MLX_COMPLEX64) {
    /* the mean squared magnitude: real(d * conj(d)) */
    array* conj = keep(&t, op_unary(UNARY_CONJUGATE, d, s));
    array* prod = conj ? keep(&t, op_binary(BINARY_MULTIPLY, d, conj, s)) : NULL;
    sq = prod ? keep(&t, op_unary(UNARY_REAL, prod, s)) : NULL;
    dtype = MLX_FLOAT32;
  } else {
    sq = keep(&t, op_unary(UNARY_SQUARE, d, s));
  }
  if (!sq) goto done;
  array* v = keep(&t, op_reduce(REDUCE_SUM, sq, axes, n, keepdims, s));
  if (!v) goto done;
  double numel = count_elements(a, axes, n);
  if (ddof != 0) {
    /* max(numel - ddof, 0), each step in dtype as MLX computes it */
    array* count = keep(&t, op_scalar(numel, dtype));
    array* dd = keep(&t, op_scalar(ddof, dtype));
    array* zero = keep(&t, op_scalar(0, dtype));
    if (!count || !dd || !zero) goto done;
    array* diff = keep(&t, op_binary(BINARY_SUBTRACT, count, dd, s));
    array* norm = diff ? keep(&t, op_binary(BINARY_MAXIMUM, diff, zero, s)) : NULL;
    out = norm ? keep(&t, op_binary(BINARY_DIVIDE, v, norm, s)) : NULL;
  } else {
    array* inv = keep(&t, op_scalar(1.0 / numel, dtype));
    out = inv ? keep(&t, op_binary(BINARY_MULTIPLY, v, inv, s)) : NULL;
  }
done:
  return temps_finish(&t, out);
}

array* op_std(array* a, const int* axes, int n, bool keepdims, int ddof, stream s) {
  array* v = op_var(a, axes, n, keepdims, ddof, s);
  if (!v) return NULL;
  array* out = op_unary(UNARY_SQRT, v, s);
  array_release(v);
  return out;
}

/* ---- argmax, argmin ---- */

static array* argreduce_axis(arg_kind kind, array* a, int axis, bool keepdims, stream s) {
  const char* name = kind == ARG_MAX ? "argmax" : "argmin";
  if (a->size == 0) {
    error_set("[%s] Cannot %s reduce zero size array.", name, name);
    return NULL;
  }
  int nd = a->ndim;
  bool reduced[VLA_N(nd)];
  bool noop = false;
  if (reduce_axes_check(a, &axis, 1, NULL, reduced, &noop)) return NULL;
  int shape[VLA_N(nd)];
  int out_nd = reduced_shape(a, reduced, keepdims, shape);
  if (noop) return op_zeros(shape, out_nd, MLX_UINT32, s);
  argreduce_params* p = malloc(sizeof *p);
  if (!p) {
    error_set("[%s] Out of memory.", name);
    return NULL;
  }
  p->kind = kind;
  p->axis = axis < 0 ? axis + nd : axis;
  return array_new_op(MLX_UINT32, out_nd, shape, &prim_argreduce, p, &a, 1, s);
}

array* op_argreduce(arg_kind kind, array* a, const int* axis, bool keepdims, stream s) {
  if (axis) return argreduce_axis(kind, a, *axis, keepdims, s);
  /* the flattened array's index, shaped [1] * ndim or 0-d */
  array* flat = op_flatten(a, 0, -1, s);
  if (!flat) return NULL;
  array* r = argreduce_axis(kind, flat, 0, true, s);
  array_release(flat);
  if (!r) return NULL;
  array* out;
  if (!keepdims) {
    out = op_squeeze(r, s);
  } else if (a->ndim == 0) {
    /* MLX sizes a vector with ndim - 1 here, which fails for 0-d input */
    error_set("cannot create std::vector larger than max_size()");
    out = NULL;
  } else {
    int shape[VLA_N(a->ndim)];
    for (int d = 0; d < a->ndim; d++) shape[d] = 1;
    out = op_reshape(r, shape, a->ndim, s);
  }
  array_release(r);
  return out;
}

/* ---- rows along the reduced axes (logsumexp, softmax, median) ---- */

/* a with the kept axes first (in order), then the reduced ones (ascending)
 * merged into one last axis: [kept..., K]. perm receives the axis order. */
static array* reduced_last(array* a, const bool* reduced, int* perm, stream s) {
  int nd = a->ndim, np = 0;
  for (int d = 0; d < nd; d++)
    if (!reduced[d]) perm[np++] = d;
  int n_kept = np;
  for (int d = 0; d < nd; d++)
    if (reduced[d]) perm[np++] = d;
  bool identity = true;
  for (int d = 0; d < nd; d++) identity &= perm[d] == d;
  array* t = identity ? same(a) : op_transpose_axes(a, perm, nd, s);
  if (!t) return NULL;
  array* r;
  if (n_kept == nd) {
    int ax = nd;
    r = op_expand_dims_axes(t, &ax, 1, s);
  } else if (nd - n_kept == 1) {
    r = same(t);
  } else {
    r = op_flatten(t, n_kept, nd - 1, s);
  }
  array_release(t);
  return r;
}

/* MLX's test for its fused kernels: the axes end with the last one and
 * every other is the one before it, of size 1. */
static bool reduces_last_axis(const array* a, const int* axes, int n) {
  int nd = a->ndim;
  if (n == 0 || (axes[n - 1] != nd - 1 && axes[n - 1] != -1)) return false;
  for (int i = n - 2; i >= 0; i--) {
    int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
    if (axes[i] + 1 != axes[i + 1] || ax < 0 || ax >= nd || a->shape[ax] != 1) return false;
  }
  return true;
}

/* ---- logsumexp ---- */

array* op_logsumexp_composed(array* a, const int* axes, int n, bool keepdims, stream s) {
  int nd = a->ndim;
  ALL_AXES_IF_NULL(nd, axes, n);
  temps t = {.n = 0};
  array* out = NULL;
  array* maxval = keep(&t, op_reduce(REDUCE_MAX, a, axes, n, true, s));
  if (!maxval) goto done;
  array* d = keep(&t, op_binary(BINARY_SUBTRACT, a, maxval, s));
  array* e = d ? keep(&t, op_unary(UNARY_EXP, d, s)) : NULL;
  array* sum = e ? keep(&t, op_reduce(REDUCE_SUM, e, axes, n, keepdims, s)) : NULL;
  array* lg = sum ? keep(&t, op_unary(UNARY_LOG, sum, s)) : NULL;
  if (!lg) goto done;
  array* mr = keep(&t, op_reshape(maxval, lg->shape, lg->ndim, s));
  array* r = mr ? keep(&t, op_binary(BINARY_ADD, lg, mr, s)) : NULL;
  if (!r) goto done;
  array* m = keepdims ? maxval : keep(&t, op_squeeze_axes(maxval, axes, n, s));
  array* inf = m ? keep(&t, op_unary(UNARY_ISINF, m, s)) : NULL;
  out = inf ? keep(&t, op_where(inf, m, r, s)) : NULL;
done:
  return temps_finish(&t, out);
}

array* op_logsumexp(array* a, const int* axes, int n, bool keepdims, stream s) {
  int nd = a->ndim;
  if (a->size == 0) {
    error_set("[logsumexp] Received empty array.");
    return NULL;
  }
  ALL_AXES_IF_NULL(nd, axes, n);
  if (nd == 0 && n > 0) {
    error_set("[logsumexp] Received non-empty axes for array with 0 dimensions.");
    return NULL;
  }
  bool reduced[VLA_N(nd)];
  bool noop = false;
  if (reduce_axes_check(a, axes, n, NULL, reduced, &noop)) return NULL;
  if (a->dtype == MLX_COMPLEX64) return op_logsumexp_composed(a, axes, n, keepdims, s);

  temps t = {.n = 0};
  array* out = NULL;
  int perm[VLA_N(nd)], shape[VLA_N(nd)];
  int out_nd = reduced_shape(a, reduced, keepdims, shape);
  array* x = keep(&t, op_astype(a, at_least_float(a->dtype), s));
  array* rows = x ? keep(&t, reduced_last(x, reduced, perm, s)) : NULL;
  if (!rows) goto done;
  array* r = keep(&t, array_new_op(rows->dtype, rows->ndim - 1, rows->shape, &prim_logsumexp,
                                   NULL, &rows, 1, s));
  if (!r) goto done;
  out = keep(&t, op_reshape(r, shape, out_nd, s));
done:
  return temps_finish(&t, out);
}

/* ---- softmax ---- */

array* op_softmax_composed(array* a, const int* axes, int n, bool precise, stream s) {
  int nd = a->ndim;
  ALL_AXES_IF_NULL(nd, axes, n);
  temps t = {.n = 0};
  array* out = NULL;
  array* in = precise && a->dtype != MLX_COMPLEX64 ? keep(&t, op_astype(a, MLX_FLOAT32, s)) : a;
  array* m = in ? keep(&t, op_reduce(REDUCE_MAX, in, axes, n, true, s)) : NULL;
  array* d = m ? keep(&t, op_binary(BINARY_SUBTRACT, in, m, s)) : NULL;
  array* e = d ? keep(&t, op_unary(UNARY_EXP, d, s)) : NULL;
  array* sum = e ? keep(&t, op_reduce(REDUCE_SUM, e, axes, n, true, s)) : NULL;
  array* q = sum ? keep(&t, op_binary(BINARY_DIVIDE, e, sum, s)) : NULL;
  out = q ? keep(&t, op_astype(q, a->dtype, s)) : NULL;
  return temps_finish(&t, out);
}

array* op_softmax(array* a, const int* axes, int n, bool precise, stream s) {
  if (a->size == 0) return same(a);
  int nd = a->ndim;
  ALL_AXES_IF_NULL(nd, axes, n);
  if (nd == 0 && n > 0) {
    error_set("[softmax] Received non-empty axes for array with 0 dimensions.");
    return NULL;
  }
  bool reduced[VLA_N(nd)];
  bool noop = false;
  if (reduce_axes_check(a, axes, n, NULL, reduced, &noop)) return NULL;
  if (a->dtype == MLX_COMPLEX64) return op_softmax_composed(a, axes, n, precise, s);

  mlx_dtype dtype = at_least_float(a->dtype);
  temps t = {.n = 0};
  array* out = NULL;
  int perm[VLA_N(nd)], inverse[VLA_N(nd)], tshape[VLA_N(nd)];
  array* x = keep(&t, op_astype(a, dtype, s));
  if (!x) goto done;
  if (reduces_last_axis(a, axes, n)) {
    out = keep(&t, array_new_op(dtype, nd, a->shape, &prim_softmax, NULL, &x, 1, s));
    goto done;
  }
  array* rows = keep(&t, reduced_last(x, reduced, perm, s));
  if (!rows) goto done;
  array* y = keep(&t, array_new_op(dtype, rows->ndim, rows->shape, &prim_softmax, NULL,
                                   &rows, 1, s));
  for (int d = 0; d < nd; d++) {
    tshape[d] = a->shape[perm[d]];
    inverse[perm[d]] = d;
  }
  array* yt = y ? keep(&t, op_reshape(y, tshape, nd, s)) : NULL;
  array* back = yt ? keep(&t, op_transpose_axes(yt, inverse, nd, s)) : NULL;
  /* MLX's composed path casts back to the input's dtype */
  out = back ? keep(&t, op_astype(back, a->dtype, s)) : NULL;
done:
  return temps_finish(&t, out);
}

/* ---- median ---- */

array* op_median(array* a, const int* axes, int n, bool keepdims, stream s) {
  int nd = a->ndim;
  ALL_AXES_IF_NULL(nd, axes, n);
  bool reduced[VLA_N(nd)];
  memset(reduced, 0, sizeof reduced);
  int unique = 0;
  for (int i = 0; i < n; i++) {
    if (axes[i] < -nd || axes[i] >= nd) {
      error_set("[median] axis %d is out of bounds for array with %d dimensions.", axes[i],
                nd);
      return NULL;
    }
    int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
    unique += !reduced[ax];
    reduced[ax] = true;
  }
  if (unique != n) {
    error_set("[median] Received duplicate axis.");
    return NULL;
  }
  if (n == 0 && nd > 0) {
    /* MLX flattens the (empty) trailing run of axes, which it refuses */
    array* f = op_flatten(a, nd, nd, s);
    if (f) {
      array_release(f);
      error_set("[flatten] start_axis must be less than or equal to end_axis");
    }
    return NULL;
  }
  temps t = {.n = 0};
  array* out = NULL;
  int perm[VLA_N(nd)], shape[VLA_N(nd)];
  int out_nd = reduced_shape(a, reduced, keepdims, shape);
  array* rows = keep(&t, reduced_last(a, reduced, perm, s));
  if (!rows) goto done;
  if (rows->shape[rows->ndim - 1] == 0) {
    error_set("[median] Cannot take median along empty axis.");
    goto done;
  }
  array* r = keep(&t, array_new_op(at_least_float(a->dtype), rows->ndim - 1, rows->shape,
                                   &prim_median, NULL, &rows, 1, s));
  if (!r) goto done;
  out = keep(&t, op_reshape(r, shape, out_nd, s));
done:
  return temps_finish(&t, out);
}
