/* ops_qmm.c - mlx-c entry points for the quantized matmuls
 * (quantized_matmul, gather_qmm, qqmm) and gather_mm. Optional arrays
 * (biases, indices, scales, global scales) are absent when their handle is
 * empty; optional ints when has_value is false. */
#include <stddef.h>

#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/qmm.h"

static const int* opt(const mlx_optional_int* v) {
  return v->has_value ? &v->value : NULL;
}

int mlx_quantized_matmul(mlx_array* res, const mlx_array x, const mlx_array w,
                         const mlx_array scales, const mlx_array biases, bool transpose,
                         mlx_optional_int group_size, mlx_optional_int bits, const char* mode,
                         const mlx_stream s) {
  stream st;
  const mlx_array in[3] = {x, w, scales};
  if (api_begin(res, "quantized_matmul", s, &st, 3, in)) return api_fail();
  return api_finish(res, op_quantized_matmul(api_array(x), api_array(w), api_array(scales),
                                             api_array(biases), transpose, opt(&group_size),
                                             opt(&bits), mode, st));
}

int mlx_gather_qmm(mlx_array* res, const mlx_array x, const mlx_array w, const mlx_array scales,
                   const mlx_array biases, const mlx_array lhs_indices,
                   const mlx_array rhs_indices, bool transpose, mlx_optional_int group_size,
                   mlx_optional_int bits, const char* mode, bool sorted_indices,
                   const mlx_stream s) {
  stream st;
  const mlx_array in[3] = {x, w, scales};
  if (api_begin(res, "gather_qmm", s, &st, 3, in)) return api_fail();
  return api_finish(res, op_gather_qmm(api_array(x), api_array(w), api_array(scales),
                                       api_array(biases), api_array(lhs_indices),
                                       api_array(rhs_indices), transpose, opt(&group_size),
                                       opt(&bits), mode, sorted_indices, st));
}

int mlx_gather_mm(mlx_array* res, const mlx_array a, const mlx_array b,
                  const mlx_array lhs_indices, const mlx_array rhs_indices, bool sorted_indices,
                  const mlx_stream s) {
  stream st;
  const mlx_array in[2] = {a, b};
  if (api_begin(res, "gather_mm", s, &st, 2, in)) return api_fail();
  return api_finish(res, op_gather_mm(api_array(a), api_array(b), api_array(lhs_indices),
                                      api_array(rhs_indices), sorted_indices, st));
}

int mlx_qqmm(mlx_array* res, const mlx_array x, const mlx_array w, const mlx_array w_scales,
             mlx_optional_int group_size, mlx_optional_int bits, const char* mode,
             const mlx_array global_scale_x, const mlx_array global_scale_w,
             const mlx_stream s) {
  stream st;
  const mlx_array in[2] = {x, w};
  if (api_begin(res, "qqmm", s, &st, 2, in)) return api_fail();
  return api_finish(res, op_qqmm(api_array(x), api_array(w), api_array(w_scales), opt(&group_size),
                                 opt(&bits), mode, api_array(global_scale_x),
                                 api_array(global_scale_w), st));
}
