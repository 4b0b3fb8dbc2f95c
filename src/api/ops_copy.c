/* ops_copy.c - mlx-c entry points for copies, type changes, reshape and
 * broadcasting. */
#include <stdlib.h>

#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/ops.h"

int mlx_astype(mlx_array* res, const mlx_array a, mlx_dtype dtype, const mlx_stream s) {
  stream st;
  if (api_begin(res, "astype", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_astype(api_array(a), dtype, st));
}

int mlx_copy(mlx_array* res, const mlx_array a, const mlx_stream s) {
  stream st;
  if (api_begin(res, "copy", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_copy(api_array(a), st));
}

int mlx_contiguous(mlx_array* res, const mlx_array a, bool allow_col_major,
                   const mlx_stream s) {
  stream st;
  if (api_begin(res, "contiguous", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_contiguous(api_array(a), allow_col_major, st));
}

int mlx_view(mlx_array* res, const mlx_array a, mlx_dtype dtype, const mlx_stream s) {
  stream st;
  if (api_begin(res, "view", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_view(api_array(a), dtype, st));
}

int mlx_stop_gradient(mlx_array* res, const mlx_array a, const mlx_stream s) {
  stream st;
  if (api_begin(res, "stop_gradient", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_stop_gradient(api_array(a), st));
}

int mlx_reshape(mlx_array* res, const mlx_array a, const int* shape,
                size_t shape_num, const mlx_stream s) {
  stream st;
  if (api_begin(res, "reshape", s, &st, 1, &a)) return api_fail();
  if (shape_num && !shape) {
    error_set("[reshape] The shape pointer is NULL.");
    return api_fail();
  }
  return api_finish(res, op_reshape(api_array(a), shape, (int)shape_num, st));
}

int mlx_broadcast_to(mlx_array* res, const mlx_array a, const int* shape,
                     size_t shape_num, const mlx_stream s) {
  stream st;
  if (api_begin(res, "broadcast_to", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_broadcast_to(api_array(a), shape, (int)shape_num, st));
}

int mlx_broadcast_arrays(mlx_vector_array* res, const mlx_vector_array inputs,
                         const mlx_stream s) {
  stream st;
  if (!res || !inputs.ctx) {
    error_set("[broadcast_arrays] The result pointer or input vector is empty.");
    return api_fail();
  }
  if (api_stream(&st, s, "broadcast_arrays")) return api_fail();
  size_t n = api_vector_array_size(inputs);
  array** in = malloc((n ? n : 1) * sizeof *in);
  array** out = malloc((n ? n : 1) * sizeof *out);
  int rc = !in || !out;
  if (rc) error_set("[broadcast_arrays] Out of memory.");
  for (size_t i = 0; !rc && i < n; i++) in[i] = api_vector_array_at(inputs, i);
  if (!rc) rc = op_broadcast_arrays(out, in, (int)n, st);
  if (!rc) rc = api_set_vector(res, out, n);
  free(in);
  free(out);
  return rc ? api_fail() : 0;
}
