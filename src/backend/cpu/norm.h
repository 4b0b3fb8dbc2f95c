/* norm.h - the CPU kernel of RMSNorm and LayerNorm and their node layout.
 *
 * Node inputs: 0 x [..., D] (float32, float16 or bfloat16); then, when
 * present, weight [D] and bias [D] (layer norm only), both of the output
 * dtype T (float16, bfloat16, float32 or float64). Output: x's shape, T,
 * row-contiguous. Each row is normalised in float32, rounded to T, then
 * multiplied by the weight and added to the bias in T, which is what MLX's
 * composition of plain ops computes. */
#ifndef CMLX_CPU_NORM_H
#define CMLX_CPU_NORM_H

#include <stdbool.h>

#include "core/array.h"

typedef struct norm_params {
  float eps;
  bool layer;      /* LayerNorm (subtract the mean) rather than RMSNorm */
  bool has_weight; /* input 1 is the weight */
  bool has_bias;   /* the last input is the bias */
} norm_params;

int cpu_norm_eval(node* n);

#endif
