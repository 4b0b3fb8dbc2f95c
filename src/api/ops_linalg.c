/* ops_linalg.c - mlx-c entry points for the linear-algebra ops (matmul,
 * addmm, inner, outer, tensordot, einsum) and the whole-array comparisons
 * (array_equal, allclose, isclose). Each checks its handles and stream,
 * then calls the front-end in ops/linalg.h. */
#include <limits.h>
#include <stdlib.h>

#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/linalg.h"

/* The common prologue: result pointer, input handles, the stream. */
static int prologue(mlx_array* res, const mlx_array* in, int n, mlx_stream s, stream* st,
                    const char* op) {
  static const char* const names[] = {"first input", "second input", "third input"};
  if (!res) return error_set("[%s] The result pointer is NULL.", op);
  for (int i = 0; i < n; i++)
    if (api_check_array(in[i], op, names[i])) return 1;
  return api_stream(st, s, op);
}

static int finish(mlx_array* res, array* out) {
  if (!out) return api_fail();
  return api_set_result(res, out);
}

int mlx_matmul(mlx_array* res, const mlx_array a, const mlx_array b, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (prologue(res, in, 2, s, &st, "matmul")) return api_fail();
  return finish(res, op_matmul(api_array(a), api_array(b), st));
}

int mlx_addmm(mlx_array* res, const mlx_array c, const mlx_array a, const mlx_array b,
              float alpha, float beta, const mlx_stream s) {
  stream st;
  mlx_array in[3] = {c, a, b};
  if (prologue(res, in, 3, s, &st, "addmm")) return api_fail();
  return finish(res, op_addmm(api_array(c), api_array(a), api_array(b), alpha, beta, st));
}

int mlx_inner(mlx_array* res, const mlx_array a, const mlx_array b, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (prologue(res, in, 2, s, &st, "inner")) return api_fail();
  return finish(res, op_inner(api_array(a), api_array(b), st));
}

int mlx_outer(mlx_array* res, const mlx_array a, const mlx_array b, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (prologue(res, in, 2, s, &st, "outer")) return api_fail();
  return finish(res, op_outer(api_array(a), api_array(b), st));
}

int mlx_tensordot(mlx_array* res, const mlx_array a, const mlx_array b, const int* axes_a,
                  size_t axes_a_num, const int* axes_b, size_t axes_b_num,
                  const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (prologue(res, in, 2, s, &st, "tensordot")) return api_fail();
  if ((axes_a_num && !axes_a) || (axes_b_num && !axes_b)) {
    error_set("[tensordot] The axes pointer is NULL.");
    return api_fail();
  }
  if (axes_a_num > INT_MAX || axes_b_num > INT_MAX) {
    error_set("[tensordot] Too many axes.");
    return api_fail();
  }
  return finish(res, op_tensordot(api_array(a), api_array(b), axes_a, (int)axes_a_num, axes_b,
                                  (int)axes_b_num, st));
}

int mlx_tensordot_axis(mlx_array* res, const mlx_array a, const mlx_array b, int axis,
                       const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (prologue(res, in, 2, s, &st, "tensordot")) return api_fail();
  return finish(res, op_tensordot_axis(api_array(a), api_array(b), axis, st));
}

int mlx_einsum(mlx_array* res, const char* subscripts, const mlx_vector_array operands,
               const mlx_stream s) {
  stream st;
  if (!res) {
    error_set("[einsum] The result pointer is NULL.");
    return api_fail();
  }
  if (!subscripts) {
    error_set("[einsum] The subscripts string is NULL.");
    return api_fail();
  }
  if (!operands.ctx) {
    error_set("[einsum] The operand vector is empty.");
    return api_fail();
  }
  if (api_stream(&st, s, "einsum")) return api_fail();
  size_t n = api_vector_array_size(operands);
  if (n > INT_MAX) {
    error_set("[einsum] Too many operands.");
    return api_fail();
  }
  array** ops = malloc((n ? n : 1) * sizeof *ops);
  if (!ops) {
    error_set("[einsum] Out of memory.");
    return api_fail();
  }
  for (size_t i = 0; i < n; i++) {
    ops[i] = api_vector_array_at(operands, i);
    if (!ops[i]) {
      free(ops);
      error_set("[einsum] Operand %zu is an empty array handle.", i);
      return api_fail();
    }
  }
  array* out = op_einsum(subscripts, ops, (int)n, st);
  free(ops);
  return finish(res, out);
}

int mlx_isclose(mlx_array* res, const mlx_array a, const mlx_array b, double rtol, double atol,
                bool equal_nan, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (prologue(res, in, 2, s, &st, "isclose")) return api_fail();
  return finish(res, op_isclose(api_array(a), api_array(b), rtol, atol, equal_nan, st));
}

int mlx_allclose(mlx_array* res, const mlx_array a, const mlx_array b, double rtol, double atol,
                 bool equal_nan, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (prologue(res, in, 2, s, &st, "allclose")) return api_fail();
  return finish(res, op_allclose(api_array(a), api_array(b), rtol, atol, equal_nan, st));
}

int mlx_array_equal(mlx_array* res, const mlx_array a, const mlx_array b, bool equal_nan,
                    const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (prologue(res, in, 2, s, &st, "array_equal")) return api_fail();
  return finish(res, op_array_equal(api_array(a), api_array(b), equal_nan, st));
}
