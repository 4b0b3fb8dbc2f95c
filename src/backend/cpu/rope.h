/* rope.h - the CPU kernel of RoPE (rotary position embedding) and its node
 * layout.
 *
 * Node inputs: 0 x [B, ..., T, D] (ndim >= 3, floating); 1 offset, int32 or
 * uint32 with 1 or B elements; 2 freqs [dims/2] float32 when has_freqs.
 * Output: x's shape and dtype, row-contiguous. Angles are computed in
 * float32 as MLX's composition does: pos = (t + offset) * scale,
 * inv_freq_i = exp(-i * (log(base) / (dims/2))) (with MLX's float32 exp)
 * or 1/freqs[i],
 * theta = pos * inv_freq_i; cos and sin are rounded to x's dtype and the
 * rotation is done in x's dtype. */
#ifndef CMLX_CPU_ROPE_H
#define CMLX_CPU_ROPE_H

#include <stdbool.h>

#include "core/array.h"

typedef struct rope_params {
  int dims;         /* features rotated: even, <= D */
  bool traditional; /* pairs (2i, 2i+1) rather than (i, i + dims/2) */
  float base;       /* ignored when has_freqs */
  float scale;
  bool has_freqs;
} rope_params;

int cpu_rope_eval(node* n);

#endif
