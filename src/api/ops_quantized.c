/* ops_quantized.c - mlx-c entry points for quantize, dequantize, to_fp8 and
 * from_fp8. Optional arrays (biases, global_scale) are absent when their
 * handle is empty; optional ints and dtypes when has_value is false. */
#include <stddef.h>

#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/quantized.h"

int mlx_quantize(mlx_vector_array* res, const mlx_array w, mlx_optional_int group_size,
                 mlx_optional_int bits, const char* mode, const mlx_array global_scale,
                 const mlx_stream s) {
  stream st;
  if (api_begin(res, "quantize", s, &st, 1, &w)) return api_fail();
  array* outs[3];
  int n = 0;
  if (op_quantize(outs, &n, api_array(w), group_size.has_value ? &group_size.value : NULL,
                  bits.has_value ? &bits.value : NULL, mode, api_array(global_scale), st))
    return api_fail();
  return api_set_vector(res, outs, (size_t)n) ? api_fail() : 0;
}

int mlx_dequantize(mlx_array* res, const mlx_array w, const mlx_array scales,
                   const mlx_array biases, mlx_optional_int group_size, mlx_optional_int bits,
                   const char* mode, const mlx_array global_scale, mlx_optional_dtype dtype,
                   const mlx_stream s) {
  stream st;
  const mlx_array in[2] = {w, scales};
  if (api_begin(res, "dequantize", s, &st, 2, in)) return api_fail();
  return api_finish(res, op_dequantize(api_array(w), api_array(scales), api_array(biases),
                                       group_size.has_value ? &group_size.value : NULL,
                                       bits.has_value ? &bits.value : NULL, mode,
                                       api_array(global_scale),
                                       dtype.has_value ? &dtype.value : NULL, st));
}

int mlx_to_fp8(mlx_array* res, const mlx_array x, const mlx_stream s) {
  stream st;
  if (api_begin(res, "to_fp8", s, &st, 1, &x)) return api_fail();
  return api_finish(res, op_to_fp8(api_array(x), st));
}

int mlx_from_fp8(mlx_array* res, const mlx_array x, mlx_dtype dtype, const mlx_stream s) {
  stream st;
  if (api_begin(res, "from_fp8", s, &st, 1, &x)) return api_fail();
  return api_finish(res, op_from_fp8(api_array(x), dtype, st));
}
