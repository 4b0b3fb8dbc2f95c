/* sdpa.h - the CPU kernel of ScaledDotProductAttention and its node layout.
 *
 * Node inputs, all of one floating dtype T (float32, float16 or bfloat16)
 * unless said otherwise:
 *   0 q     [B, N_q, T_q, D]
 *   1 k     [B, N_kv, T_kv, D]
 *   2 v     [B, N_kv, T_kv, D_v]
 *   3 mask  [B, N_q, T_q, T_kv] (a broadcast view is fine), bool or T;
 *           present when has_mask
 *   last sinks [N_q], T; present when has_sinks
 * Output: [B, N_q, T_q, D_v] of T, row-contiguous. N_q is a multiple of
 * N_kv; query head h reads kv head h / (N_q / N_kv). Any strides are
 * accepted (the kernel copies an operand whose last axis is not unit
 * stride). */
#ifndef CMLX_CPU_SDPA_H
#define CMLX_CPU_SDPA_H

#include <stdbool.h>

#include "core/array.h"

typedef struct sdpa_params {
  float scale;    /* multiplies q.k */
  bool causal;    /* query i sees keys j <= i + T_kv - T_q */
  bool has_mask;  /* input 3 is a mask */
  bool has_sinks; /* the last input is the sinks */
} sdpa_params;

int cpu_sdpa_eval(node* n);

#endif
