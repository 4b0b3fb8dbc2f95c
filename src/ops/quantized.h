/* quantized.h - front-ends of quantize, dequantize, to_fp8 and from_fp8,
 * and the validation helpers every quantized op shares (quantized_matmul,
 * gather_qmm and qqmm use them too, so their messages agree).
 *
 * Same conventions as ops.h: op_* return new references (or 0) and, on
 * failure, NULL (or 1) after error_set() with MLX's message. Inputs are
 * borrowed; optional arrays are NULL when absent. */
#ifndef CMLX_OPS_QUANTIZED_H
#define CMLX_OPS_QUANTIZED_H

#include <stdbool.h>

#include "backend/cpu/quant_formats.h"
#include "core/array.h"

/* ---- shared validation (MLX's ops.cpp helpers, with `tag` = op name) ---- */

/* mode string -> mode, or "[tag] Invalid quantization mode '<mode>'.". */
int quant_parse_mode(const char* mode, const char* tag, quant_mode* out);

/* MLX's quantization_params_from_mode: the caller's group size and bits
 * (NULL = not given) or the mode's defaults (affine 64/4, mxfp4 32/4,
 * mxfp8 32/8, nvfp4 16/4). Never fails. */
void quant_resolve_params(quant_mode mode, const int* group_size, const int* bits,
                          int* group_size_out, int* bits_out);

/* fp modes: group size and bits must be the mode's own
 * ("[tag] mxfp4 quantization requires group size 32 but got 64." /
 *  "[tag] mxfp4 quantization requires bits to be 4 but got 8."). */
int quant_check_fp_params(const char* tag, quant_mode mode, int group_size, int bits);

/* MLX's validate_global_scale: only for nvfp4, one element, float32.
 * global_scale may be NULL (then nothing to check). */
int quant_check_global_scale(const char* tag, quant_mode mode, const array* global_scale);

/* MLX's validate_mode_with_type: parses the mode, checks an explicit output
 * dtype (out_dtype NULL = none), biases presence and the scales' dtype for
 * the mode; *result gets the output dtype (out_dtype, else
 * result_type(scales, biases) for affine, else bfloat16). */
int quant_check_mode_with_type(const char* tag, const char* mode, const array* scales,
                               const array* biases, const mlx_dtype* out_dtype,
                               quant_mode* mode_out, mlx_dtype* result);

/* ---- ops ---- */

/* outs receives wq, scales and (affine only) biases; *n_out is 3 or 2. */
int op_quantize(array** outs, int* n_out, array* w, const int* group_size,
                const int* bits, const char* mode, array* global_scale, stream s);
array* op_dequantize(array* w, array* scales, array* biases, const int* group_size,
                     const int* bits, const char* mode, array* global_scale,
                     const mlx_dtype* dtype, stream s);
array* op_to_fp8(array* x, stream s);
array* op_from_fp8(array* x, mlx_dtype dtype, stream s);

/* The composed affine dequantize (unpack the codes, then multiply and add
 * with MLX's type promotion, then cast): what op_dequantize builds for
 * scale/bias dtypes the fused kernel does not take; tests compare it with
 * the fused kernel. Arguments already validated. */
array* op_dequantize_affine_composed(array* w, array* scales, array* biases,
                                     int group_size, int bits, mlx_dtype dtype,
                                     stream s);

#endif
