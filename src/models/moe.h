/* moe.h - the mixture-of-experts block of GPT-OSS on mlx_arrays.
 *
 * For x [..., H]: the router (a linear layer with bias) gives one logit per
 * expert; the top_k largest are chosen per token and their weights are the
 * softmax over just those k logits (computed in float32, MLX's precise
 * softmax). Each chosen expert e computes
 *   g = x W_gate[e]^T + b_gate[e],  u = x W_up[e]^T + b_up[e]
 *   a = (clip(u, -limit, limit) + 1) * min(g, limit) * sigmoid(alpha * min(g, limit))
 *   y = a W_down[e]^T + b_down[e]
 * through gather_mm (float banks) or gather_qmm (quantized banks), and the
 * block returns sum_k weight_k * y_k [..., H]. Expert banks are cmlx_linear
 * layers with weight [E, out, in] (mlx-lm's SwitchLinear), their biases
 * [E, out] taken by expert index after the gathered product.
 *
 * With many (token, expert) pairs the pairs are sorted by expert first, so
 * that the gathered products read each expert's weights once in a run
 * (sorted_indices = true), and the results are put back in token order. */
#ifndef CMLX_MODELS_MOE_H
#define CMLX_MODELS_MOE_H

#include "cmlx/nn.h"
#include "mlx/c/array.h"
#include "mlx/c/stream.h"

typedef struct moe_block {
  cmlx_linear router; /* [E, H] + bias [E] */
  cmlx_linear gate;   /* [E, I, H] + bias [E, I] */
  cmlx_linear up;     /* [E, I, H] + bias [E, I] */
  cmlx_linear down;   /* [E, H, I] + bias [E, H] */
  int num_experts;
  int top_k;
  float alpha; /* 1.702 for GPT-OSS */
  float limit; /* 7.0 for GPT-OSS */
} moe_block;

/* When to sort the (token, expert) pairs by expert. AUTO sorts when there
 * are at least MOE_SORT_MIN_PAIRS of them (mlx-lm's SwitchGLU rule). */
typedef enum moe_sort { MOE_SORT_AUTO, MOE_SORT_NEVER, MOE_SORT_ALWAYS } moe_sort;
#define MOE_SORT_MIN_PAIRS 64

/* Router: indices int32 [..., k] of the chosen experts (in no particular
 * order) and their weights [..., k] (x's dtype, summing to 1). */
int moe_route(mlx_array* indices, mlx_array* weights, const moe_block* b,
              const mlx_array x, const mlx_stream s);

/* GPT-OSS's clamped SwiGLU, elementwise on gate and up (same shape). */
int moe_swiglu(mlx_array* res, const mlx_array gate, const mlx_array up,
               float alpha, float limit, const mlx_stream s);

/* The experts chosen by indices [..., k] applied to x [..., H]:
 * res [..., k, H], one row per (token, chosen expert). */
int moe_experts(mlx_array* res, const moe_block* b, const mlx_array x,
                const mlx_array indices, moe_sort sort, const mlx_stream s);

/* The whole block: x [..., H] -> [..., H]. */
int moe_apply(mlx_array* res, const moe_block* b, const mlx_array x,
              moe_sort sort, const mlx_stream s);

#endif
