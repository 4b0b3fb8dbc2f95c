/* misc.h - the CPU kernel of hadamard_transform (front-end in ops/misc.c).
 *
 * Contract: one evaluated input, float32, float16 or bfloat16 (anything else
 * fails at evaluation, as in MLX); the output has its shape and dtype and
 * holds the transform of every row along the last axis, of length
 * n = m * 2^k with m in {1, 12, 20, 28}, times params.scale. */
#ifndef CMLX_CPU_MISC_H
#define CMLX_CPU_MISC_H

#include "core/array.h"

typedef struct hadamard_params {
  float scale;
} hadamard_params;

int cpu_hadamard_eval(node* n);

#endif
