/* fast.c - mlx-c entry points of the fused ops (mlx/c/fast.h): attention,
 * rms_norm, layer_norm, rope. Each checks the result pointer, its required
 * handles and the stream, reads empty optional handles as "not given", and
 * calls the front-end in ops/fast.h. */
#include "api/api.h"
#include "mlx/c/fast.h"
#include "ops/fast.h"
#include "ops/ops.h"

/* The array of an optional handle, or NULL when it is empty. */
static array* optional_array(mlx_array a) {
  return a.ctx ? api_array(a) : NULL;
}

int mlx_fast_layer_norm(mlx_array* res, const mlx_array x, const mlx_array weight,
                        const mlx_array bias, float eps, const mlx_stream s) {
  stream st;
  if (api_begin(res, "layer_norm", s, &st, 1, &x)) return api_fail();
  return api_finish(res, op_fast_layer_norm(api_array(x), optional_array(weight),
                                            optional_array(bias), eps, st));
}

int mlx_fast_rms_norm(mlx_array* res, const mlx_array x, const mlx_array weight, float eps,
                      const mlx_stream s) {
  stream st;
  if (api_begin(res, "rms_norm", s, &st, 1, &x)) return api_fail();
  return api_finish(res, op_fast_rms_norm(api_array(x), optional_array(weight), eps, st));
}

static int rope_call(mlx_array* res, array* x, int dims, bool traditional,
                     mlx_optional_float base, float scale, array* offset, mlx_array freqs,
                     stream st) {
  const float* b = base.has_value ? &base.value : NULL;
  return api_finish(res, op_fast_rope(x, dims, traditional, b, scale, offset,
                                      optional_array(freqs), st));
}

int mlx_fast_rope(mlx_array* res, const mlx_array x, int dims, bool traditional,
                  mlx_optional_float base, float scale, int offset, const mlx_array freqs,
                  const mlx_stream s) {
  stream st;
  if (api_begin(res, "rope", s, &st, 1, &x)) return api_fail();
  array* off = op_scalar(offset, MLX_INT32);
  if (!off) return api_fail();
  int rc = rope_call(res, api_array(x), dims, traditional, base, scale, off, freqs, st);
  array_release(off);
  return rc;
}

int mlx_fast_rope_dynamic(mlx_array* res, const mlx_array x, int dims, bool traditional,
                          mlx_optional_float base, float scale, const mlx_array offset,
                          const mlx_array freqs, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {x, offset};
  if (api_begin(res, "rope", s, &st, 2, in)) return api_fail();
  return rope_call(res, api_array(x), dims, traditional, base, scale, api_array(offset), freqs,
                   st);
}

int mlx_fast_scaled_dot_product_attention(mlx_array* res, const mlx_array queries,
                                          const mlx_array keys, const mlx_array values,
                                          float scale, const char* mask_mode,
                                          const mlx_array mask_arr, const mlx_array sinks,
                                          const mlx_stream s) {
  stream st;
  mlx_array in[3] = {queries, keys, values};
  if (api_begin(res, "scaled_dot_product_attention", s, &st, 3, in)) return api_fail();
  return api_finish(res, op_fast_sdpa(api_array(queries), api_array(keys), api_array(values),
                                      scale, mask_mode, optional_array(mask_arr),
                                      optional_array(sinks), st));
}
