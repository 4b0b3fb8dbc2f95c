/* fast.h - front-ends of the fused ops of mlx-c's fast.h (ops/fast.c):
 * scaled dot-product attention, rms_norm, layer_norm and rope.
 *
 * Like every op_* (see ops.h): they validate with MLX's messages in MLX's
 * order and return a new reference, or NULL after error_set(). Inputs are
 * borrowed; optional inputs are NULL when absent.
 *
 * Each op has two forms that compute the same thing:
 * - op_fast_*: one fused node (kernels in backend/cpu/sdpa.c, norm.c,
 *   rope.c);
 * - op_fast_*_composed: MLX's own composition of plain ops (the graph MLX
 *   runs on the CPU), kept as a reference for the tests and used by the
 *   fused form where no kernel applies (float64 attention, and attention
 *   whose keys and values disagree in length, where the composition
 *   reports matmul's error as MLX does). */
#ifndef CMLX_OPS_FAST_H
#define CMLX_OPS_FAST_H

#include <stdbool.h>

#include "core/array.h"

/* mask_mode: "" (mask applied when given), "causal" or "array"; NULL
 * reads as "". */
array* op_fast_sdpa(array* q, array* k, array* v, float scale,
                    const char* mask_mode, array* mask, array* sinks,
                    stream s);
array* op_fast_sdpa_composed(array* q, array* k, array* v, float scale,
                             const char* mask_mode, array* mask, array* sinks,
                             stream s);

array* op_fast_rms_norm(array* x, array* weight, float eps, stream s);
array* op_fast_rms_norm_composed(array* x, array* weight, float eps, stream s);

array* op_fast_layer_norm(array* x, array* weight, array* bias, float eps,
                          stream s);
array* op_fast_layer_norm_composed(array* x, array* weight, array* bias,
                                   float eps, stream s);

/* base == NULL: no base (then freqs must be given). offset: an integer
 * array with 1 or x.shape[0] elements (mlx_fast_rope passes a 0-d int32). */
array* op_fast_rope(array* x, int dims, bool traditional, const float* base,
                    float scale, array* offset, array* freqs, stream s);
array* op_fast_rope_composed(array* x, int dims, bool traditional,
                             const float* base, float scale, array* offset,
                             array* freqs, stream s);

#endif
