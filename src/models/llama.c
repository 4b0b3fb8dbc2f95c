/* llama.c - the Llama architecture (also Mistral; Qwen2 adds q/k/v biases,
 * Qwen3 q/k RMSNorms): embeddings, decoder layers of attention with rope
 * and a SwiGLU MLP, a final RMSNorm and the output head (or the tied
 * embeddings). Parameter names are transformers' (mlx-lm keeps them). */
#include <stdlib.h>
#include <string.h>

#include "mlx/c/ops.h"
#include "models/model_internal.h"

typedef struct llama_layer {
  cmlx_rms_norm input_norm, post_norm;
  attn_block attn;
  cmlx_linear gate, up, down;
} llama_layer;

typedef struct llama_state {
  cmlx_embedding embed;
  llama_layer* layers;
  int num_layers;
  cmlx_rms_norm norm;
  cmlx_linear lm_head;
  bool tied;
  rope_config rope;
} llama_state;

static int llama_init(cmlx_model* m, const json_value* cfg) {
  llama_state* st = calloc(1, sizeof *st);
  if (!st) return MODEL_FAIL("[load] Out of memory.");
  m->arch_state = st;
  cmlx_model_info* in = &m->info;
  bool attn_bias, mlp_bias, qk_norm = strcmp(m->model_type, "qwen3") == 0;
  float eps;
  if (cfg_int(m, cfg, "hidden_size", true, 0, &in->hidden_size) ||
      cfg_int(m, cfg, "num_hidden_layers", true, 0, &in->num_layers) ||
      cfg_int(m, cfg, "intermediate_size", true, 0, &in->intermediate_size) ||
      cfg_int(m, cfg, "num_attention_heads", true, 0, &in->num_heads) ||
      cfg_int(m, cfg, "num_key_value_heads", false, in->num_heads,
              &in->num_kv_heads) ||
      cfg_int(m, cfg, "vocab_size", true, 0, &in->vocab_size) ||
      cfg_float(m, cfg, "rms_norm_eps", false, 1e-6f, &eps) ||
      cfg_bool(m, cfg, "tie_word_embeddings", false, false, &st->tied) ||
      cfg_bool(m, cfg, "attention_bias",
               false, strcmp(m->model_type, "qwen2") == 0, &attn_bias) ||
      cfg_bool(m, cfg, "mlp_bias", false, false, &mlp_bias))
    return 1;
  if (in->hidden_size <= 0 || in->num_layers <= 0 || in->num_heads <= 0 ||
      in->vocab_size <= 0 || in->intermediate_size <= 0)
    return MODEL_FAIL("[load] %s: sizes must be positive.", m->config_path);
  int dflt_head = in->hidden_size / in->num_heads;
  if (cfg_int(m, cfg, "head_dim", false, dflt_head, &in->head_dim)) return 1;
  if (in->head_dim <= 0)
    return MODEL_FAIL("[load] %s: \"head_dim\" must be positive.",
                      m->config_path);
  if (rope_init(&st->rope, cfg, in->head_dim, m->config_path)) return 1;

  int H = in->hidden_size, inter = in->intermediate_size;
  st->num_layers = in->num_layers;
  st->layers = calloc((size_t)in->num_layers, sizeof *st->layers);
  if (!st->layers) return MODEL_FAIL("[load] Out of memory.");
  if (model_add_embedding(m, &st->embed, in->vocab_size, H,
                          "model.embed_tokens"))
    return 1;
  for (int i = 0; i < in->num_layers; i++) {
    llama_layer* l = &st->layers[i];
    char prefix[64];
    snprintf(prefix, sizeof prefix, "model.layers.%d.self_attn", i);
    l->input_norm.eps = l->post_norm.eps = eps;
    int dhead[1] = {in->head_dim};
    if (model_add_tensor(m, &l->input_norm.weight, INIT_ONES, 1, &H,
                         "model.layers.%d.input_layernorm.weight", i) ||
        attn_block_declare(m, &l->attn, prefix, H, in->num_heads,
                           in->num_kv_heads, in->head_dim, attn_bias,
                           attn_bias && strcmp(m->model_type, "qwen2") != 0,
                           false, 0) ||
        (qk_norm &&
         (model_add_tensor(m, &l->attn.q_norm.weight, INIT_ONES, 1, dhead,
                           "%s.q_norm.weight", prefix) ||
          model_add_tensor(m, &l->attn.k_norm.weight, INIT_ONES, 1, dhead,
                           "%s.k_norm.weight", prefix))) ||
        model_add_tensor(m, &l->post_norm.weight, INIT_ONES, 1, &H,
                         "model.layers.%d.post_attention_layernorm.weight",
                         i) ||
        model_add_linear(m, &l->gate, 0, H, inter, mlp_bias,
                         "model.layers.%d.mlp.gate_proj", i) ||
        model_add_linear(m, &l->up, 0, H, inter, mlp_bias,
                         "model.layers.%d.mlp.up_proj", i) ||
        model_add_linear(m, &l->down, 0, inter, H, mlp_bias,
                         "model.layers.%d.mlp.down_proj", i))
      return 1;
    l->attn.q_norm.eps = l->attn.k_norm.eps = eps;
  }
  st->norm.eps = eps;
  if (model_add_tensor(m, &st->norm.weight, INIT_ONES, 1, &H,
                       "model.norm.weight"))
    return 1;
  if (!st->tied &&
      model_add_linear(m, &st->lm_head, 0, H, in->vocab_size, false,
                       "lm_head"))
    return 1;
  return 0;
}

/* transformers' extras that mlx-lm drops. */
static int llama_sanitize(cmlx_model* m, weight_set* ws) {
  llama_state* st = m->arch_state;
  for (size_t i = 0; i < ws->count;) {
    const char* n = ws->items[i].name;
    if (strstr(n, "rotary_emb.inv_freq")) {
      mlx_array a = ws_take(ws, n, NULL);
      mlx_array_free(a);
      continue;
    }
    i++;
  }
  if (st->tied && ws_has(ws, "lm_head.weight")) {
    mlx_array a = ws_take(ws, "lm_head.weight", NULL);
    mlx_array_free(a);
  }
  return 0;
}

static int llama_mlp(mlx_array* res, const llama_layer* l, const mlx_array x,
                     const mlx_stream s) {
  mlx_array g = mlx_array_new(), u = mlx_array_new(), t = mlx_array_new();
  int rc = cmlx_linear_apply(&g, &l->gate, x, s) ||
           cmlx_linear_apply(&u, &l->up, x, s) ||
           mlx_sigmoid(&t, g, s) || mlx_multiply(&g, g, t, s) ||
           mlx_multiply(&g, g, u, s) ||
           cmlx_linear_apply(res, &l->down, g, s);
  mlx_array_free(g);
  mlx_array_free(u);
  mlx_array_free(t);
  return rc;
}

static int llama_forward(mlx_array* logits, cmlx_model* m,
                         const mlx_array tokens, kv_cache* caches,
                         const mlx_stream s) {
  llama_state* st = m->arch_state;
  mlx_array h = mlx_array_new(), r = mlx_array_new();
  int rc = cmlx_embedding_apply(&h, &st->embed, tokens, s);
  for (int i = 0; !rc && i < st->num_layers; i++) {
    const llama_layer* l = &st->layers[i];
    rc = cmlx_rms_norm_apply(&r, &l->input_norm, h, s) ||
         attn_block_apply(&r, &l->attn, &st->rope, r,
                          caches ? &caches[i] : NULL, s) ||
         mlx_add(&h, h, r, s) ||
         cmlx_rms_norm_apply(&r, &l->post_norm, h, s) ||
         llama_mlp(&r, l, r, s) || mlx_add(&h, h, r, s);
  }
  rc = rc || cmlx_rms_norm_apply(&h, &st->norm, h, s) ||
       (st->tied ? cmlx_embedding_as_linear(logits, &st->embed, h, s)
                 : cmlx_linear_apply(logits, &st->lm_head, h, s));
  mlx_array_free(h);
  mlx_array_free(r);
  return rc;
}

static void llama_free(cmlx_model* m) {
  llama_state* st = m->arch_state;
  if (!st) return;
  rope_free(&st->rope);
  free(st->layers);
  free(st);
  m->arch_state = NULL;
}

const model_arch model_arch_llama = {
    .model_type = "llama",
    .init = llama_init,
    .sanitize = llama_sanitize,
    .forward = llama_forward,
    .free_state = llama_free,
};
