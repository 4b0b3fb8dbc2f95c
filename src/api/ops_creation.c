/* ops_creation.c - mlx-c entry points that make new arrays: zeros, ones,
 * full (and their _like forms), arange, linspace, eye, identity, tri,
 * tril and triu. Each checks its handles and calls ops/creation.c. */
#include <limits.h>
#include <string.h>

#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/ops.h"

/* A shape length the ops can take (shape_check reports the rest). */
static int ndim_arg(int* n, size_t shape_num, const char* op) {
  if (shape_num > INT_MAX) return error_set("[%s] Too many dimensions (%zu).", op, shape_num);
  *n = (int)shape_num;
  return 0;
}

int mlx_zeros(mlx_array* res, const int* shape, size_t shape_num, mlx_dtype dtype,
              const mlx_stream s) {
  stream st;
  int n = 0;
  if (api_begin(res, "zeros", s, &st, 0, NULL) || ndim_arg(&n, shape_num, "full")) return api_fail();
  return api_finish(res, op_zeros(shape, n, dtype, st));
}

int mlx_ones(mlx_array* res, const int* shape, size_t shape_num, mlx_dtype dtype,
             const mlx_stream s) {
  stream st;
  int n = 0;
  if (api_begin(res, "ones", s, &st, 0, NULL) || ndim_arg(&n, shape_num, "full")) return api_fail();
  return api_finish(res, op_ones(shape, n, dtype, st));
}

int mlx_full(mlx_array* res, const int* shape, size_t shape_num, const mlx_array vals,
             mlx_dtype dtype, const mlx_stream s) {
  stream st;
  int n = 0;
  if (api_begin(res, "full", s, &st, 0, NULL) || api_check_array(vals, "full", "vals") ||
      ndim_arg(&n, shape_num, "full"))
    return api_fail();
  return api_finish(res, op_full(shape, n, api_array(vals), dtype, st));
}

int mlx_zeros_like(mlx_array* res, const mlx_array a, const mlx_stream s) {
  stream st;
  if (api_begin(res, "zeros_like", s, &st, 1, &a)) return api_fail();
  array* x = api_array(a);
  return api_finish(res, op_zeros(x->shape, x->ndim, x->dtype, st));
}

int mlx_ones_like(mlx_array* res, const mlx_array a, const mlx_stream s) {
  stream st;
  if (api_begin(res, "ones_like", s, &st, 1, &a)) return api_fail();
  array* x = api_array(a);
  return api_finish(res, op_ones(x->shape, x->ndim, x->dtype, st));
}

/* MLX broadcasts a and vals against each other: the result takes the
 * broadcast shape (a's shape whenever vals fits into it). */
int mlx_full_like(mlx_array* res, const mlx_array a, const mlx_array vals, mlx_dtype dtype,
                  const mlx_stream s) {
  stream st;
  if (api_begin(res, "full_like", s, &st, 1, &a) || api_check_array(vals, "full_like", "vals"))
    return api_fail();
  array* x = api_array(a);
  array* v = api_array(vals);
  int nd = x->ndim > v->ndim ? x->ndim : v->ndim;
  int shape[nd > 0 ? nd : 1];
  if (broadcast_shapes(x->shape, x->ndim, v->shape, v->ndim, shape, &nd)) return api_fail();
  return api_finish(res, op_full(shape, nd, v, dtype, st));
}

int mlx_arange(mlx_array* res, double start, double stop, double step, mlx_dtype dtype,
               const mlx_stream s) {
  stream st;
  if (api_begin(res, "arange", s, &st, 0, NULL)) return api_fail();
  return api_finish(res, op_arange(start, stop, step, dtype, st));
}

int mlx_linspace(mlx_array* res, double start, double stop, int num, mlx_dtype dtype,
                 const mlx_stream s) {
  stream st;
  if (api_begin(res, "linspace", s, &st, 0, NULL)) return api_fail();
  return api_finish(res, op_linspace(start, stop, num, dtype, st));
}

int mlx_eye(mlx_array* res, int n, int m, int k, mlx_dtype dtype, const mlx_stream s) {
  stream st;
  if (api_begin(res, "eye", s, &st, 0, NULL)) return api_fail();
  return api_finish(res, op_eye(n, m, k, dtype, st));
}

int mlx_identity(mlx_array* res, int n, mlx_dtype dtype, const mlx_stream s) {
  stream st;
  if (api_begin(res, "identity", s, &st, 0, NULL)) return api_fail();
  return api_finish(res, op_eye(n, n, 0, dtype, st));
}

int mlx_tri(mlx_array* res, int n, int m, int k, mlx_dtype type, const mlx_stream s) {
  stream st;
  if (api_begin(res, "tri", s, &st, 0, NULL)) return api_fail();
  return api_finish(res, op_tri(n, m, k, type, st));
}

int mlx_tril(mlx_array* res, const mlx_array x, int k, const mlx_stream s) {
  stream st;
  if (api_begin(res, "tril", s, &st, 1, &x)) return api_fail();
  return api_finish(res, op_tril(api_array(x), k, st));
}

int mlx_triu(mlx_array* res, const mlx_array x, int k, const mlx_stream s) {
  stream st;
  if (api_begin(res, "triu", s, &st, 1, &x)) return api_fail();
  return api_finish(res, op_triu(api_array(x), k, st));
}
