/* roofline.c - the bytes one decoding step must read, from the model's
 * layers (cmlx_model_layers). */
#include <string.h>

#include "tool.h"

typedef struct walk {
  const cmlx_model_info* info;
  bool has_head;  /* an lm_head linear exists (first pass) */
  double weights; /* bytes read per token (second pass) */
  traffic* t;
} walk;

static int find_head(void* ctx, const cmlx_layer_desc* d) {
  walk* w = ctx;
  if (d->kind == CMLX_LAYER_LINEAR && strcmp(d->path, "lm_head") == 0)
    w->has_head = true;
  return 0;
}

static int add_layer(void* ctx, const cmlx_layer_desc* d) {
  walk* w = ctx;
  double part = 1.0;
  if (d->kind == CMLX_LAYER_LINEAR && d->experts > 0 &&
      w->info->num_experts_per_tok > 0)
    part = (double)w->info->num_experts_per_tok / d->experts;
  /* an input table reads one row; a tied one is also the head */
  if (d->kind == CMLX_LAYER_EMBEDDING && w->has_head && d->out_features > 0)
    part = 1.0 / d->out_features;
  w->t->total_weights += d->nbytes;
  w->weights += part * (double)d->nbytes;
  return 0;
}

int tool_traffic(const cmlx_model* m, int ctx, traffic* t) {
  memset(t, 0, sizeof *t);
  cmlx_model_info info;
  if (cmlx_model_get_info(&info, m)) return 1;
  walk w = {&info, false, 0, t};
  if (cmlx_model_layers(m, find_head, &w) ||
      cmlx_model_layers(m, add_layer, &w))
    return 1;
  t->weights = (uint64_t)(w.weights + 0.5);
  size_t dsize = info.dtype == MLX_FLOAT32 ? 4 : 2;
  for (int l = 0; l < info.num_layers; l++) {
    int window = 0;
    if (cmlx_model_layer_window(&window, m, l)) return 1;
    int n = window > 0 && window < ctx ? window : ctx;
    t->kv += 2ull * (uint64_t)info.num_kv_heads * (uint64_t)info.head_dim *
             (uint64_t)n * dsize;
  }
  return 0;
}
