/* quantized.c - front-ends of quantize, dequantize, to_fp8 and from_fp8.
 *
 * Each checks its arguments in MLX 0.32.2's order with MLX's messages
 * (mlx/ops.cpp: quantize, affine_quantize, fp_quantize, dequantize,
 * validate_mode_with_type, validate_global_scale, from_fp8, to_fp8), then
 * makes one node whose kernel is in backend/cpu/quantize.c. The shared
 * checks are exported (ops/quantized.h) for the quantized matmuls.
 *
 * Where MLX's CPU, running its op-graph fallback eagerly, fails inside the
 * graph, we keep the failure only where the input makes no sense: affine
 * dequantize with a bit width whose codes do not tile the packed row gives
 * MLX's reshape message. Its other fallback failures we do not copy: a
 * leading dimension of 0 in affine dequantize ("[reshape] Cannot infer the
 * shape of an empty array") and an odd number of nvfp4 groups in dequantize
 * (a reshape to 4 words) return the correct (empty / dequantized) result.
 * Affine dequantize with bits > 32 (MLX computes garbage with shifts past
 * the word) is rejected as an invalid bit width. quantize with group_size 0
 * (MLX divides by zero) skips the divisibility check and fails on the group
 * size. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/quantize.h"
#include "core/error.h"
#include "ops/binary_list.h"
#include "ops/ops.h"
#include "ops/quantized.h"

static const primitive prim_quantize = {"Quantize", cpu_quantize_eval, NULL, NULL};
static const primitive prim_dequantize = {"Dequantize", cpu_dequantize_eval, NULL, NULL};
static const primitive prim_unpack = {"QuantUnpack", cpu_quant_unpack_eval, NULL, NULL};
static const primitive prim_to_fp8 = {"ConvertFP8", cpu_to_fp8_eval, NULL, NULL};
static const primitive prim_from_fp8 = {"ConvertFP8", cpu_from_fp8_eval, NULL, NULL};

#define SHAPE_TEXT 1024

/* ------------------------------------------------------------------------
 * Shared validation
 * ---------------------------------------------------------------------- */

int quant_parse_mode(const char* mode, const char* tag, quant_mode* out) {
  for (int m = 0; mode && m < QUANT_MODE_COUNT; m++) {
    if (strcmp(mode, quant_modes[m].name) == 0) {
      *out = (quant_mode)m;
      return 0;
    }
  }
  return error_set("[%s] Invalid quantization mode '%s'.", tag, mode ? mode : "");
}

void quant_resolve_params(quant_mode mode, const int* group_size, const int* bits,
                          int* group_size_out, int* bits_out) {
  *group_size_out = group_size ? *group_size : quant_modes[mode].group_size;
  *bits_out = bits ? *bits : quant_modes[mode].bits;
}

int quant_check_fp_params(const char* tag, quant_mode mode, int group_size, int bits) {
  const quant_mode_info* m = &quant_modes[mode];
  if (group_size != m->group_size)
    return error_set("[%s] %s quantization requires group size %d but got %d.", tag,
                     m->name, m->group_size, group_size);
  if (bits != m->bits)
    return error_set("[%s] %s quantization requires bits to be %d but got %d.", tag,
                     m->name, m->bits, bits);
  return 0;
}

int quant_check_global_scale(const char* tag, quant_mode mode, const array* global_scale) {
  if (!global_scale) return 0;
  if (mode != QUANT_NVFP4)
    return error_set("[%s] Global scale is only supported for 'nvfp4' quantization mode.", tag);
  if (global_scale->size != 1) {
    char sh[SHAPE_TEXT];
    return error_set("[%s] Global scale must be a scalar but got shape %s.", tag,
                     error_format_shape(sh, sizeof sh, global_scale->shape, global_scale->ndim));
  }
  if (global_scale->dtype != MLX_FLOAT32)
    return error_set("[%s] Global scale must have dtype float32 but got %s.", tag,
                     dtype_name(global_scale->dtype));
  return 0;
}

int quant_check_mode_with_type(const char* tag, const char* mode, const array* scales,
                               const array* biases, const mlx_dtype* out_dtype,
                               quant_mode* mode_out, mlx_dtype* result) {
  quant_mode m;
  if (quant_parse_mode(mode, tag, &m)) return 1;
  if (out_dtype && (!dtype_valid((int)*out_dtype) || !dtype_is_floating(*out_dtype)))
    return error_set("[%s] Only real floating types are supported but output dtype == %s.",
                     tag, dtype_name(*out_dtype));
  if (m == QUANT_AFFINE) {
    if (!biases)
      return error_set("[%s] Biases must be provided for affine quantization.", tag);
    mlx_dtype t = dtype_promote(scales->dtype, biases->dtype);
    if (!dtype_is_floating(t))
      return error_set("[%s] Only real floating types are supported but scales.dtype() == "
                       "%s and biases.dtype() == %s.",
                       tag, dtype_name(scales->dtype), dtype_name(biases->dtype));
    *result = out_dtype ? *out_dtype : t;
  } else {
    if (scales->dtype != MLX_UINT8)
      return error_set("[%s] Scale type must be uint8 but received type %s.", tag,
                       dtype_name(scales->dtype));
    if (biases)
      return error_set("[%s] Biases must be null for quantization mode '%s'.", tag,
                       quant_modes[m].name);
    *result = out_dtype ? *out_dtype : MLX_BFLOAT16;
  }
  *mode_out = m;
  return 0;
}

static quant_params* params_new(quant_mode mode, int group_size, int bits, bool global) {
  quant_params* p = malloc(sizeof *p);
  if (!p) {
    error_set("[quantize] Out of memory.");
    return NULL;
  }
  *p = (quant_params){mode, group_size, bits, global};
  return p;
}

/* ------------------------------------------------------------------------
 * quantize
 * ---------------------------------------------------------------------- */

int op_quantize(array** outs, int* n_out, array* w, const int* group_size_opt,
                const int* bits_opt, const char* mode_str, array* global_scale, stream s) {
  quant_mode mode;
  int group_size, bits;
  if (quant_parse_mode(mode_str, "quantize", &mode)) return 1;
  quant_resolve_params(mode, group_size_opt, bits_opt, &group_size, &bits);
  if (!dtype_is_floating(w->dtype))
    return error_set("[quantize] Only real floating types can be quantized but w has type %s.",
                     dtype_name(w->dtype));
  if (w->ndim < 2)
    return error_set("[quantize] The matrix to be quantized must have at least 2 dimension "
                     "but it has only %d.",
                     w->ndim);
  int last = w->shape[w->ndim - 1];
  if (group_size != 0 && last % group_size != 0) {
    char sh[SHAPE_TEXT];
    /* (sic: MLX's message has two spaces before "matrix") */
    return error_set("[quantize] The last dimension of the matrix needs to be divisible by "
                     "the quantization group size %d. However the provided  matrix has shape %s",
                     group_size, error_format_shape(sh, sizeof sh, w->shape, w->ndim));
  }
  if (quant_check_global_scale("quantize", mode, global_scale)) return 1;
  if (mode == QUANT_AFFINE) {
    if (!quant_affine_group_ok(group_size))
      return error_set("[quantize] The requested group size %d is not supported. The "
                       "supported group sizes are 32, 64, and 128.",
                       group_size);
    if (!quant_affine_bits_ok(bits))
      return error_set("[quantize] The requested number of bits %d is not supported. The "
                       "supported bits are 2, 3, 4, 5, 6 and 8.",
                       bits);
  } else if (quant_check_fp_params("quantize", mode, group_size, bits)) {
    return 1;
  }

  int nd = w->ndim;
  int wq_shape[nd], s_shape[nd];
  memcpy(wq_shape, w->shape, sizeof(int) * (size_t)nd);
  memcpy(s_shape, w->shape, sizeof(int) * (size_t)nd);
  wq_shape[nd - 1] = (int)((int64_t)last * bits / 32);
  s_shape[nd - 1] = last / group_size;
  bool affine = mode == QUANT_AFFINE;
  int n = affine ? 3 : 2;
  mlx_dtype scale_t = affine ? w->dtype : MLX_UINT8;
  mlx_dtype dtypes[3] = {MLX_UINT32, scale_t, scale_t};
  int ndims[3] = {nd, nd, nd};
  const int* shapes[3] = {wq_shape, s_shape, s_shape};
  array* inputs[2] = {w, global_scale};
  quant_params* p = params_new(mode, group_size, bits, global_scale != NULL);
  if (!p) return 1;
  if (array_new_op_multi(outs, n, dtypes, ndims, shapes, &prim_quantize, p, inputs,
                         global_scale ? 2 : 1, s))
    return 1;
  *n_out = n;
  return 0;
}

/* ------------------------------------------------------------------------
 * dequantize
 * ---------------------------------------------------------------------- */

/* The shape checks of affine_dequantize / fp_dequantize; *out_size gets the
 * dequantized row length. */
static int dequantize_shapes(quant_mode mode, const array* w, const array* scales,
                             const array* biases, int group_size, int bits,
                             int64_t* out_size) {
  bool affine = mode == QUANT_AFFINE;
  const char* what = affine ? "scales and biases" : "scales";
  int nd = w->ndim;
  bool same = scales->ndim == nd && (!biases || biases->ndim == nd);
  for (int i = 0; same && i < nd - 1; i++)
    same = scales->shape[i] == w->shape[i] && (!biases || biases->shape[i] == w->shape[i]);
  if (!same) return error_set("[dequantize] Shape of %s does not match the matrix", what);
  *out_size = (int64_t)w->shape[nd - 1] * 32 / bits;
  if (*out_size != (int64_t)scales->shape[nd - 1] * group_size) {
    char ws[SHAPE_TEXT], ss[SHAPE_TEXT];
    error_format_shape(ws, sizeof ws, w->shape, nd);
    error_format_shape(ss, sizeof ss, scales->shape, nd);
    if (affine)
      return error_set("[dequantize] Shape of scales and biases does not match the matrix "
                       "given the quantization parameters. Provided matrix of shape %s and "
                       "scales/biases of shape %s with group_size=%d and bits=%d.",
                       ws, ss, group_size, bits);
    return error_set("[dequantize] Shape of scales does not match the matrix given the "
                     "quantization parameters. Provided matrix of shape %s and scales of "
                     "shape %s.",
                     ws, ss);
  }
  if (*out_size > INT32_MAX) return error_set("[dequantize] The dequantized matrix is too large.");
  return 0;
}

/* Affine codes of widths that do not divide 32 are regrouped by MLX with a
 * reshape of each row's bits to [-1, bits]; when the row's 32*W bits do
 * not tile, that reshape fails with this message. */
static int affine_bits_tile(const array* w, int bits) {
  if (bits > 32) return error_set("[dequantize] Invalid value for bits: %d", bits);
  int64_t row_bits = (int64_t)w->shape[w->ndim - 1] * 32;
  if ((bits & (bits - 1)) == 0 || row_bits % bits == 0) return 0;
  int64_t lead = 1;
  for (int i = 0; i < w->ndim - 1; i++) lead *= w->shape[i];
  if (lead == 0) return 0; /* empty: nothing to regroup (see the top) */
  int nd = w->ndim + 1;
  int shape[nd];
  memcpy(shape, w->shape, sizeof(int) * (size_t)(w->ndim - 1));
  shape[nd - 2] = (int)(row_bits / bits);
  shape[nd - 1] = bits;
  char sh[SHAPE_TEXT];
  return error_set("[reshape] Cannot reshape array of size %lld into shape %s.",
                   (long long)(lead * row_bits), error_format_shape(sh, sizeof sh, shape, nd));
}

static bool fused_affine_dtype(mlx_dtype t) {
  return t == MLX_FLOAT32 || t == MLX_FLOAT16 || t == MLX_BFLOAT16;
}

array* op_dequantize_affine_composed(array* w, array* scales, array* biases, int group_size,
                                     int bits, mlx_dtype dtype, stream s) {
  int nd = w->ndim;
  int64_t out_size = (int64_t)w->shape[nd - 1] * 32 / bits;
  int code_shape[nd], group_shape[nd + 1];
  memcpy(code_shape, w->shape, sizeof(int) * (size_t)nd);
  code_shape[nd - 1] = (int)out_size;
  memcpy(group_shape, w->shape, sizeof(int) * (size_t)nd);
  group_shape[nd - 1] = scales->shape[nd - 1];
  group_shape[nd] = group_size;
  quant_params* p = params_new(QUANT_AFFINE, group_size, bits, false);
  if (!p) return NULL;
  int axis = -1;
  array* codes = array_new_op(MLX_UINT32, nd, code_shape, &prim_unpack, p, &w, 1, s);
  array* grouped = codes ? op_reshape(codes, group_shape, nd + 1, s) : NULL;
  array* sc = grouped ? op_expand_dims_axes(scales, &axis, 1, s) : NULL;
  array* bi = sc ? op_expand_dims_axes(biases, &axis, 1, s) : NULL;
  array* prod = bi ? op_binary(BINARY_MULTIPLY, grouped, sc, s) : NULL;
  array* sum = prod ? op_binary(BINARY_ADD, prod, bi, s) : NULL;
  /* MLX reshapes to [..., -1]: biases with a last dimension of 1 broadcast
   * over the groups (an empty leading dimension keeps the explicit size) */
  int64_t lead = 1;
  for (int i = 0; i < nd - 1; i++) lead *= w->shape[i];
  if (lead > 0) code_shape[nd - 1] = -1;
  array* flat = sum ? op_reshape(sum, code_shape, nd, s) : NULL;
  array* out = flat ? op_astype(flat, dtype, s) : NULL;
  array* made[] = {codes, grouped, sc, bi, prod, sum, flat};
  for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) array_release(made[i]);
  return out;
}

array* op_dequantize(array* w, array* scales, array* biases, const int* group_size_opt,
                     const int* bits_opt, const char* mode_str, array* global_scale,
                     const mlx_dtype* dtype, stream s) {
  quant_mode mode;
  mlx_dtype out_t;
  int group_size, bits;
  if (quant_check_mode_with_type("dequantize", mode_str, scales, biases, dtype, &mode, &out_t))
    return NULL;
  quant_resolve_params(mode, group_size_opt, bits_opt, &group_size, &bits);
  if (bits <= 0) {
    error_set("[dequantize] Invalid value for bits: %d", bits);
    return NULL;
  }
  if (group_size <= 0) {
    error_set("[dequantize] Invalid value for group_size: %d", group_size);
    return NULL;
  }
  if (w->dtype != MLX_UINT32) {
    error_set("[dequantize] The matrix should be given as a uint32");
    return NULL;
  }
  if (w->ndim < 2) {
    error_set("[dequantize] The matrix to be dequantized must have at least 2 dimension but "
              "it has only %d.",
              w->ndim);
    return NULL;
  }
  if (quant_check_global_scale("dequantize", mode, global_scale)) return NULL;
  if (mode != QUANT_AFFINE && quant_check_fp_params("dequantize", mode, group_size, bits))
    return NULL;
  int64_t out_size;
  int nd = w->ndim;
  if (dequantize_shapes(mode, w, scales, biases, group_size, bits, &out_size)) return NULL;
  if (mode == QUANT_AFFINE && affine_bits_tile(w, bits)) return NULL;

  if (mode == QUANT_AFFINE &&
      !(scales->dtype == biases->dtype && fused_affine_dtype(scales->dtype) &&
        scales->shape[nd - 1] == biases->shape[nd - 1]))
    return op_dequantize_affine_composed(w, scales, biases, group_size, bits, out_t, s);

  int shape[nd];
  memcpy(shape, w->shape, sizeof(int) * (size_t)nd);
  shape[nd - 1] = (int)out_size;
  quant_params* p = params_new(mode, group_size, bits, global_scale != NULL);
  if (!p) return NULL;
  array* inputs[3] = {w, scales, mode == QUANT_AFFINE ? biases : global_scale};
  int n_in = (mode == QUANT_AFFINE || global_scale) ? 3 : 2;
  return array_new_op(out_t, nd, shape, &prim_dequantize, p, inputs, n_in, s);
}

/* ------------------------------------------------------------------------
 * fp8
 * ---------------------------------------------------------------------- */

array* op_to_fp8(array* x, stream s) {
  if (!dtype_is_floating(x->dtype)) {
    error_set("[to_fp8] Only real floating types are supported but x.dtype() == %s.",
              dtype_name(x->dtype));
    return NULL;
  }
  return array_new_op(MLX_UINT8, x->ndim, x->shape, &prim_to_fp8, NULL, &x, 1, s);
}

array* op_from_fp8(array* x, mlx_dtype dtype, stream s) {
  if (x->dtype != MLX_UINT8) {
    error_set("[from_fp8] Input must have type uint8 but x.dtype() == %s.",
              dtype_name(x->dtype));
    return NULL;
  }
  if (!dtype_valid((int)dtype) || !dtype_is_floating(dtype)) {
    error_set("[from_fp8] Only real floating types are supported but dtype == %s.",
              dtype_name(dtype));
    return NULL;
  }
  return array_new_op(dtype, x->ndim, x->shape, &prim_from_fp8, NULL, &x, 1, s);
}
