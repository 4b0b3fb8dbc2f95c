/* ops_reduce.c - mlx-c entry points of the reductions (sum ... median,
 * argmax/argmin, softmax, logsumexp) and the cumulative ops.
 *
 * Most reductions come in three forms that differ only in the axes they
 * pass: mlx_<op>_axes (a list), mlx_<op>_axis (one) and mlx_<op> (all,
 * passed to the front-end as axes == NULL). They are generated from
 * AXES_OPS below; each front-end validates with MLX's messages. */
#include <limits.h>

#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/reduce.h"

/* The common prologue: result pointer, one input, the stream. */
static int prologue(mlx_array* res, mlx_array a, mlx_stream s, stream* st, const char* op) {
  if (!res) return error_set("[%s] The result pointer is NULL.", op);
  if (api_check_array(a, op, "input")) return 1;
  return api_stream(st, s, op);
}

/* An axes list from the user: a pointer when there are entries, and a
 * count that fits an int. */
static int check_axes(const int* axes, size_t n, const char* op) {
  if (n && !axes) return error_set("[%s] The axes pointer is NULL.", op);
  if (n > INT_MAX) return error_set("[%s] Too many axes (%zu).", op, n);
  return 0;
}

/* Passed for an empty axes list: the front-ends read NULL as "every axis". */
static const int no_axes[1] = {0};

static int finish(mlx_array* res, array* out) {
  if (!out) return api_fail();
  return api_set_result(res, out);
}

/* Front-ends of one shape: (a, axes or NULL, count, keepdims, stream). */
typedef array* (*axes_op)(array* a, const int* axes, int n, bool keepdims, stream s);

#define REDUCE_WRAPPER(name, KIND)                                                   \
  static array* name##_op(array* a, const int* axes, int n, bool keepdims, stream s) { \
    return op_reduce(KIND, a, axes, n, keepdims, s);                                 \
  }
REDUCE_WRAPPER(sum, REDUCE_SUM)
REDUCE_WRAPPER(prod, REDUCE_PROD)
REDUCE_WRAPPER(max, REDUCE_MAX)
REDUCE_WRAPPER(min, REDUCE_MIN)
REDUCE_WRAPPER(all, REDUCE_AND)
REDUCE_WRAPPER(any, REDUCE_OR)
#undef REDUCE_WRAPPER

static int axes_call(axes_op fn, const char* name, mlx_array* res, mlx_array a,
                     const int* axes, size_t n, bool all, bool keepdims, mlx_stream s) {
  stream st;
  if (prologue(res, a, s, &st, name) || check_axes(axes, n, name)) return api_fail();
  return finish(res, fn(api_array(a), all ? NULL : axes ? axes : no_axes, (int)n, keepdims, st));
}

/* X(mlx-c name, front-end) */
#define AXES_OPS(X)      \
  X(sum, sum_op)         \
  X(prod, prod_op)       \
  X(max, max_op)         \
  X(min, min_op)         \
  X(all, all_op)         \
  X(any, any_op)         \
  X(mean, op_mean)       \
  X(logsumexp, op_logsumexp)

#define AXES_API(name, fn)                                                              \
  int mlx_##name##_axes(mlx_array* res, const mlx_array a, const int* axes,             \
                        size_t axes_num, bool keepdims, const mlx_stream s) {           \
    return axes_call(fn, #name, res, a, axes, axes_num, false, keepdims, s);            \
  }                                                                                     \
  int mlx_##name##_axis(mlx_array* res, const mlx_array a, int axis, bool keepdims,     \
                        const mlx_stream s) {                                           \
    return axes_call(fn, #name, res, a, &axis, 1, false, keepdims, s);                  \
  }                                                                                     \
  int mlx_##name(mlx_array* res, const mlx_array a, bool keepdims, const mlx_stream s) { \
    return axes_call(fn, #name, res, a, NULL, 0, true, keepdims, s);                    \
  }
AXES_OPS(AXES_API)
#undef AXES_API

int mlx_median(mlx_array* res, const mlx_array a, const int* axes, size_t axes_num,
               bool keepdims, const mlx_stream s) {
  return axes_call(op_median, "median", res, a, axes, axes_num, false, keepdims, s);
}

/* ---- var, std (with ddof) ---- */

typedef array* (*ddof_op)(array* a, const int* axes, int n, bool keepdims, int ddof,
                          stream s);

static int ddof_call(ddof_op fn, const char* name, mlx_array* res, mlx_array a,
                     const int* axes, size_t n, bool all, bool keepdims, int ddof,
                     mlx_stream s) {
  stream st;
  if (prologue(res, a, s, &st, name) || check_axes(axes, n, name)) return api_fail();
  return finish(res, fn(api_array(a), all ? NULL : axes ? axes : no_axes, (int)n, keepdims, ddof, st));
}

#define DDOF_OPS(X) \
  X(var, op_var)    \
  X(std, op_std)

#define DDOF_API(name, fn)                                                                \
  int mlx_##name##_axes(mlx_array* res, const mlx_array a, const int* axes,               \
                        size_t axes_num, bool keepdims, int ddof, const mlx_stream s) {   \
    return ddof_call(fn, #name, res, a, axes, axes_num, false, keepdims, ddof, s);        \
  }                                                                                       \
  int mlx_##name##_axis(mlx_array* res, const mlx_array a, int axis, bool keepdims,       \
                        int ddof, const mlx_stream s) {                                   \
    return ddof_call(fn, #name, res, a, &axis, 1, false, keepdims, ddof, s);              \
  }                                                                                       \
  int mlx_##name(mlx_array* res, const mlx_array a, bool keepdims, int ddof,              \
                 const mlx_stream s) {                                                    \
    return ddof_call(fn, #name, res, a, NULL, 0, true, keepdims, ddof, s);                \
  }
DDOF_OPS(DDOF_API)
#undef DDOF_API

/* ---- argmax, argmin ---- */

static int arg_call(arg_kind kind, const char* name, mlx_array* res, mlx_array a,
                    const int* axis, bool keepdims, mlx_stream s) {
  stream st;
  if (prologue(res, a, s, &st, name)) return api_fail();
  return finish(res, op_argreduce(kind, api_array(a), axis, keepdims, st));
}

int mlx_argmax_axis(mlx_array* res, const mlx_array a, int axis, bool keepdims,
                    const mlx_stream s) {
  return arg_call(ARG_MAX, "argmax", res, a, &axis, keepdims, s);
}
int mlx_argmax(mlx_array* res, const mlx_array a, bool keepdims, const mlx_stream s) {
  return arg_call(ARG_MAX, "argmax", res, a, NULL, keepdims, s);
}
int mlx_argmin_axis(mlx_array* res, const mlx_array a, int axis, bool keepdims,
                    const mlx_stream s) {
  return arg_call(ARG_MIN, "argmin", res, a, &axis, keepdims, s);
}
int mlx_argmin(mlx_array* res, const mlx_array a, bool keepdims, const mlx_stream s) {
  return arg_call(ARG_MIN, "argmin", res, a, NULL, keepdims, s);
}

/* ---- softmax ---- */

static int softmax_call(mlx_array* res, mlx_array a, const int* axes, size_t n, bool all,
                        bool precise, mlx_stream s) {
  stream st;
  if (prologue(res, a, s, &st, "softmax") || check_axes(axes, n, "softmax"))
    return api_fail();
  return finish(res, op_softmax(api_array(a), all ? NULL : axes ? axes : no_axes, (int)n, precise, st));
}

int mlx_softmax_axes(mlx_array* res, const mlx_array a, const int* axes, size_t axes_num,
                     bool precise, const mlx_stream s) {
  return softmax_call(res, a, axes, axes_num, false, precise, s);
}
int mlx_softmax_axis(mlx_array* res, const mlx_array a, int axis, bool precise,
                     const mlx_stream s) {
  return softmax_call(res, a, &axis, 1, false, precise, s);
}
int mlx_softmax(mlx_array* res, const mlx_array a, bool precise, const mlx_stream s) {
  return softmax_call(res, a, NULL, 0, true, precise, s);
}

/* ---- cumulative ---- */

#define SCAN_OPS(X)       \
  X(cumsum, SCAN_SUM)     \
  X(cumprod, SCAN_PROD)   \
  X(cummax, SCAN_MAX)     \
  X(cummin, SCAN_MIN)     \
  X(logcumsumexp, SCAN_LOGADDEXP)

#define SCAN_API(name, KIND)                                                          \
  int mlx_##name(mlx_array* res, const mlx_array a, int axis, bool reverse,           \
                 bool inclusive, const mlx_stream s) {                                \
    stream st;                                                                        \
    if (prologue(res, a, s, &st, #name)) return api_fail();                           \
    return finish(res, op_scan(KIND, api_array(a), axis, reverse, inclusive, st));    \
  }
SCAN_OPS(SCAN_API)
#undef SCAN_API
