/* roofline.c - the bytes one decoding step must read, from the model's
 * declared parameters (src/models/model_internal.h). */
#include <string.h>

#include "models/model_internal.h"
#include "tool.h"

int tool_traffic(const cmlx_model* m, int ctx, traffic* t) {
  memset(t, 0, sizeof *t);
  const cmlx_model_info* info = &m->info;
  bool has_head = false;
  for (size_t i = 0; i < m->num_params; i++)
    if (m->params[i].kind == PARAM_LINEAR &&
        strcmp(m->params[i].path, "lm_head") == 0)
      has_head = true;
  double weights = 0;
  for (size_t i = 0; i < m->num_params; i++) {
    const model_param* p = &m->params[i];
    uint64_t nb = 0;
    double part = 1.0;
    switch (p->kind) {
      case PARAM_LINEAR:
        nb = cmlx_linear_nbytes(p->linear);
        if (p->experts > 0 && info->num_experts_per_tok > 0)
          part = (double)info->num_experts_per_tok / p->experts;
        break;
      case PARAM_EMBEDDING:
        nb = cmlx_embedding_nbytes(p->embedding);
        /* an input table reads one row; a tied one is also the head */
        if (has_head && p->out > 0) part = 1.0 / p->out;
        break;
      case PARAM_TENSOR:
        nb = p->tensor && p->tensor->ctx ? mlx_array_nbytes(*p->tensor) : 0;
        break;
    }
    t->total_weights += nb;
    weights += part * (double)nb;
  }
  t->weights = (uint64_t)(weights + 0.5);
  size_t dsize = m->dtype == MLX_FLOAT32 ? 4 : 2;
  for (int l = 0; l < info->num_layers; l++) {
    int window = m->arch->layer_window ? m->arch->layer_window(m, l) : 0;
    int n = window > 0 && window < ctx ? window : ctx;
    t->kv += 2ull * (uint64_t)info->num_kv_heads * (uint64_t)info->head_dim *
             (uint64_t)n * dsize;
  }
  return 0;
}
