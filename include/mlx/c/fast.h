/* cmlx: the fused "fast" operations of mlx-c's fast.h that cmlx implements:
 * scaled dot-product attention, RMS and layer normalisation, and rotary
 * position embeddings. Custom Metal/CUDA kernels are not provided.
 *
 * Each function stores its result into *res, as everywhere in mlx-c, and
 * returns 0, or 1 after reporting MLX's error text to the handler. Inputs
 * marked "may be null" accept an empty handle (mlx_array_new()) for
 * "not given". Results match MLX's (MLX computes the same things from plain
 * ops on the CPU) up to rounding: the fused kernels accumulate in float32. */
#ifndef MLX_FAST_H
#define MLX_FAST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mlx/c/array.h"
#include "mlx/c/optional.h"
#include "mlx/c/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis
 * (statistics in float32; weight and bias are 1-D of x's last size). */
int mlx_fast_layer_norm(mlx_array* res, const mlx_array x,
                        const mlx_array weight /* may be null */,
                        const mlx_array bias /* may be null */, float eps,
                        const mlx_stream s);

/* y = x / sqrt(mean(x^2) + eps) * weight over the last axis. */
int mlx_fast_rms_norm(mlx_array* res, const mlx_array x,
                      const mlx_array weight /* may be null */, float eps,
                      const mlx_stream s);

/* Rotary embedding of x [B, *, T, D] along T: the first dims features are
 * rotated in pairs ((2i, 2i+1) when traditional, else (i, i + dims/2)) by
 * (offset + t) * scale * base^(-2i/dims), or by (offset + t) * scale /
 * freqs[i] when freqs is given (then base must be absent). */
int mlx_fast_rope(mlx_array* res, const mlx_array x, int dims, bool traditional,
                  mlx_optional_float base, float scale, int offset,
                  const mlx_array freqs /* may be null */, const mlx_stream s);
/* The same with the offset as an integer array: a scalar, or one offset per
 * batch entry (x's first axis). */
int mlx_fast_rope_dynamic(mlx_array* res, const mlx_array x, int dims,
                          bool traditional, mlx_optional_float base,
                          float scale, const mlx_array offset,
                          const mlx_array freqs /* may be null */,
                          const mlx_stream s);

/* softmax(scale * q k^T + mask) v with q [B, N_q, T_q, D], k [B, N_kv, T_kv,
 * D], v [B, N_kv, T_kv, D_v] (N_q a multiple of N_kv: query head h uses kv
 * head h / (N_q / N_kv)); the result is [B, N_q, T_q, D_v].
 * mask_mode: "" (mask_arr, if given, is applied), "causal" (query i sees
 * keys j <= i + T_kv - T_q) or "array". mask_arr broadcasts to
 * [B, N_q, T_q, T_kv]: boolean (true = attend) or added to the scores.
 * sinks [N_q]: one extra logit per query head that joins the softmax
 * denominator and carries no value. */
int mlx_fast_scaled_dot_product_attention(
    mlx_array* res, const mlx_array queries, const mlx_array keys,
    const mlx_array values, float scale, const char* mask_mode,
    const mlx_array mask_arr /* may be null */,
    const mlx_array sinks /* may be null */, const mlx_stream s);

#ifdef __cplusplus
}
#endif

#endif
