/* gpt_oss.c - the GPT-OSS architecture: decoder layers of attention (q/k/v/o
 * biases, grouped-query heads, per-head sinks, YaRN rope) alternating
 * between a sliding window and full attention, each followed by a
 * mixture-of-experts block (moe.h); final RMSNorm and the output head.
 *
 * Parameters are declared under mlx-lm's names, which is the layout cmlx
 * saves:
 *   model.layers.N.mlp.router                  linear [E, H] + bias
 *   model.layers.N.mlp.experts.gate_proj       expert bank [E, I, H] + bias
 *   model.layers.N.mlp.experts.up_proj         expert bank [E, I, H] + bias
 *   model.layers.N.mlp.experts.down_proj       expert bank [E, H, I] + bias
 *   model.layers.N.self_attn.sinks             [num_heads]
 * sanitize reads two Hugging Face forms besides that one:
 *   - float (transformers): experts.gate_up_proj [E, H, 2I] and
 *     experts.down_proj [E, I, H] used as x @ W (the transpose of a linear
 *     layer's weight), gate_up_proj_bias [E, 2I], down_proj_bias [E, H];
 *     gate and up are interleaved along the 2I axis (gate = 0::2,
 *     up = 1::2);
 *   - OpenAI's native mxfp4: experts.gate_up_proj_blocks uint8
 *     [E, 2I, H/32, 16] with gate_up_proj_scales uint8 [E, 2I, H/32] (and
 *     down_proj_* likewise, [E, H, I/32, 16] / [E, H, I/32]). Each byte
 *     holds two e2m1 values, the even element in the low nibble, and the
 *     scales are e8m0 exponents: exactly MLX's mxfp4 layout once 4 bytes
 *     are read as one little-endian uint32, so the blocks are loaded as
 *     they are (viewed, not requantized); the gate / up rows are
 *     interleaved here too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlx/c/ops.h"
#include "mlx/c/transforms.h"
#include "models/model_internal.h"
#include "models/moe.h"

typedef struct gpt_oss_layer {
  cmlx_rms_norm input_norm, post_norm;
  attn_block attn;
  moe_block moe;
} gpt_oss_layer;

typedef struct gpt_oss_state {
  cmlx_embedding embed;
  gpt_oss_layer* layers;
  int num_layers;
  int* windows; /* per layer: 0 full attention, else the sliding window */
  cmlx_rms_norm norm;
  cmlx_linear lm_head;
  bool tied;
  rope_config rope;
} gpt_oss_state;

static void drop(mlx_array* a) {
  if (a->ctx) mlx_array_free(*a);
  a->ctx = NULL;
}

/* ---- config and parameters ---- */

/* "layer_types": one "sliding_attention" / "full_attention" per layer;
 * absent: alternating, sliding first (mlx-lm's default). */
static int read_layer_types(cmlx_model* m, gpt_oss_state* st,
                            const json_value* cfg, int window) {
  const json_value* lt = json_object_get(cfg, "layer_types", NULL);
  if (lt && lt->type == JSON_NULL) lt = NULL;
  if (lt && (lt->type != JSON_ARRAY ||
             lt->as.array.count != (size_t)st->num_layers))
    return MODEL_FAIL("[load] %s: \"layer_types\" must be a list of %d "
                      "strings (one per layer).", m->config_path,
                      st->num_layers);
  for (int i = 0; i < st->num_layers; i++) {
    bool sliding = i % 2 == 0;
    if (lt) {
      const json_value* v = lt->as.array.items[i];
      if (v->type == JSON_STRING &&
          strcmp(v->as.string.text, "sliding_attention") == 0)
        sliding = true;
      else if (v->type == JSON_STRING &&
               strcmp(v->as.string.text, "full_attention") == 0)
        sliding = false;
      else
        return MODEL_FAIL("[load] %s: \"layer_types\"[%d] must be "
                          "\"sliding_attention\" or \"full_attention\".",
                          m->config_path, i);
    }
    st->windows[i] = sliding ? window : 0;
  }
  return 0;
}

static int gpt_oss_init(cmlx_model* m, const json_value* cfg) {
  gpt_oss_state* st = calloc(1, sizeof *st);
  if (!st) return MODEL_FAIL("[load] Out of memory.");
  m->arch_state = st;
  cmlx_model_info* in = &m->info;
  int window, top_k;
  float eps, limit;
  bool attn_bias;
  if (cfg_int(m, cfg, "hidden_size", true, 0, &in->hidden_size) ||
      cfg_int(m, cfg, "num_hidden_layers", true, 0, &in->num_layers) ||
      cfg_int(m, cfg, "intermediate_size", true, 0, &in->intermediate_size) ||
      cfg_int(m, cfg, "num_attention_heads", true, 0, &in->num_heads) ||
      cfg_int(m, cfg, "num_key_value_heads", false, in->num_heads,
              &in->num_kv_heads) ||
      cfg_int(m, cfg, "head_dim", false, 64, &in->head_dim) ||
      cfg_int(m, cfg, "vocab_size", true, 0, &in->vocab_size) ||
      cfg_int(m, cfg, "num_local_experts", true, 0, &in->num_experts) ||
      cfg_int(m, cfg, "experts_per_token", false, 4, &top_k) ||
      cfg_int(m, cfg, "num_experts_per_tok", false, top_k,
              &in->num_experts_per_tok) ||
      cfg_int(m, cfg, "sliding_window", false, 128, &window) ||
      cfg_float(m, cfg, "rms_norm_eps", false, 1e-5f, &eps) ||
      cfg_float(m, cfg, "swiglu_limit", false, 7.0f, &limit) ||
      cfg_bool(m, cfg, "attention_bias", false, true, &attn_bias) ||
      cfg_bool(m, cfg, "tie_word_embeddings", false, false, &st->tied))
    return 1;
  if (in->hidden_size <= 0 || in->num_layers <= 0 || in->num_heads <= 0 ||
      in->vocab_size <= 0 || in->intermediate_size <= 0 ||
      in->head_dim <= 0 || in->num_experts <= 0)
    return MODEL_FAIL("[load] %s: sizes must be positive.", m->config_path);
  if (in->num_experts_per_tok <= 0 ||
      in->num_experts_per_tok > in->num_experts)
    return MODEL_FAIL("[load] %s: \"num_experts_per_tok\" must be between 1 "
                      "and \"num_local_experts\" (%d), got %d.",
                      m->config_path, in->num_experts,
                      in->num_experts_per_tok);
  if (window <= 0)
    return MODEL_FAIL("[load] %s: \"sliding_window\" must be positive.",
                      m->config_path);
  st->num_layers = in->num_layers;
  st->layers = calloc((size_t)in->num_layers, sizeof *st->layers);
  st->windows = calloc((size_t)in->num_layers, sizeof *st->windows);
  if (!st->layers || !st->windows) return MODEL_FAIL("[load] Out of memory.");
  if (read_layer_types(m, st, cfg, window) ||
      rope_init(&st->rope, cfg, in->head_dim, m->config_path))
    return 1;

  int H = in->hidden_size, NI = in->intermediate_size, E = in->num_experts;
  if (model_add_embedding(m, &st->embed, in->vocab_size, H,
                          "model.embed_tokens"))
    return 1;
  for (int i = 0; i < st->num_layers; i++) {
    gpt_oss_layer* l = &st->layers[i];
    char prefix[64];
    snprintf(prefix, sizeof prefix, "model.layers.%d.self_attn", i);
    l->input_norm.eps = l->post_norm.eps = eps;
    moe_block* b = &l->moe;
    b->num_experts = E;
    b->top_k = in->num_experts_per_tok;
    b->alpha = 1.702f;
    b->limit = limit;
    if (model_add_tensor(m, &l->input_norm.weight, INIT_ONES, 1, &H,
                         "model.layers.%d.input_layernorm.weight", i) ||
        attn_block_declare(m, &l->attn, prefix, H, in->num_heads,
                           in->num_kv_heads, in->head_dim, attn_bias,
                           attn_bias, true, st->windows[i]) ||
        model_add_tensor(m, &l->post_norm.weight, INIT_ONES, 1, &H,
                         "model.layers.%d.post_attention_layernorm.weight",
                         i) ||
        model_add_linear(m, &b->router, 0, H, E, true,
                         "model.layers.%d.mlp.router", i) ||
        model_add_linear(m, &b->gate, E, H, NI, true,
                         "model.layers.%d.mlp.experts.gate_proj", i) ||
        model_add_linear(m, &b->up, E, H, NI, true,
                         "model.layers.%d.mlp.experts.up_proj", i) ||
        model_add_linear(m, &b->down, E, NI, H, true,
                         "model.layers.%d.mlp.experts.down_proj", i))
      return 1;
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

/* ---- checkpoints in Hugging Face's forms ---- */

static const char* where_of(const cmlx_model* m, const char* file) {
  return file ? file : m->dir ? m->dir : "the weights";
}

static int bad_shape(const cmlx_model* m, const char* name, const char* file,
                     const mlx_array a, const int* want, int nd) {
  char b1[96], b2[96];
  return MODEL_FAIL("[load] %s in %s has shape %s, expected %s.", name,
                    where_of(m, file),
                    error_format_shape(b1, sizeof b1, mlx_array_shape(a),
                                       (int)mlx_array_ndim(a)),
                    error_format_shape(b2, sizeof b2, want, nd));
}

static int check_array(const cmlx_model* m, const char* name,
                       const char* file, const mlx_array a, const int* want,
                       int nd, bool want_uint8) {
  mlx_dtype t = mlx_array_dtype(a);
  if (want_uint8 && t != MLX_UINT8)
    return MODEL_FAIL("[load] %s in %s must be uint8 (mxfp4 %s).", name,
                      where_of(m, file),
                      strstr(name, "_blocks") ? "blocks" : "scales");
  if (!want_uint8 && t != MLX_FLOAT32 && t != MLX_FLOAT16 &&
      t != MLX_BFLOAT16)
    return MODEL_FAIL("[load] %s in %s must be a float tensor.", name,
                      where_of(m, file));
  bool ok = (int)mlx_array_ndim(a) == nd;
  for (int i = 0; ok && i < nd; i++) ok = mlx_array_dim(a, i) == want[i];
  return ok ? 0 : bad_shape(m, name, file, a, want, nd);
}

/* a[.., start::2 along axis, ..], made contiguous; with swap, the last two
 * axes are swapped first (x @ W layout -> linear layout). */
static int every_other(mlx_array* res, const mlx_array a, int axis, int start,
                       bool swap, const mlx_stream s) {
  int nd = (int)mlx_array_ndim(a);
  int st[4], en[4], step[4];
  for (int i = 0; i < nd; i++) {
    st[i] = 0;
    en[i] = mlx_array_dim(a, i);
    step[i] = 1;
  }
  st[axis] = start;
  step[axis] = 2;
  int rc = mlx_slice(res, a, st, (size_t)nd, en, (size_t)nd, step,
                     (size_t)nd, s);
  if (!rc && swap) rc = mlx_swapaxes(res, *res, nd - 2, nd - 1, s);
  return rc || mlx_contiguous(res, *res, false, s);
}

/* Puts `a` under "<prefix>.<name>" and evaluates it (so the checkpoint's
 * tensors are split one layer at a time, not all at the first forward). */
static int put_eval(weight_set* ws, const char* prefix, const char* name,
                    mlx_array a, const char* file) {
  char key[600];
  snprintf(key, sizeof key, "%s.%s", prefix, name);
  if (mlx_array_eval(a)) {
    mlx_array_free(a);
    return 1;
  }
  return ws_put(ws, key, a, file);
}

/* Takes "<prefix>.<name>" (NULL array if absent); *key gets the name. */
static mlx_array take_named(weight_set* ws, const char* prefix,
                            const char* name, const char** file, char* key,
                            size_t n) {
  snprintf(key, n, "%s.%s", prefix, name);
  return ws_take(ws, key, file);
}

static int missing_with(const cmlx_model* m, const char* absent,
                        const char* present, const char* file) {
  return MODEL_FAIL("[load] %s: tensor %s is missing from the weights (%s is "
                    "in %s).", m->dir ? m->dir : "the weights", absent,
                    present, where_of(m, file));
}

/* gate_up [E, .., 2I, ..] split along axis into gate / up (with swap: the
 * x @ W float form) and stored under gate_proj.<suffix> / up_proj.<suffix>. */
static int split_gate_up(weight_set* ws, const char* prefix, mlx_array a,
                         int axis, bool swap, const char* suffix,
                         const char* file, const mlx_stream s) {
  mlx_array g = mlx_array_new(), u = mlx_array_new();
  char name[64];
  int rc = every_other(&g, a, axis, 0, swap, s) ||
           every_other(&u, a, axis, 1, swap, s);
  if (rc) {
    drop(&g);
    drop(&u);
    return 1;
  }
  snprintf(name, sizeof name, "gate_proj.%s", suffix);
  rc = put_eval(ws, prefix, name, g, file);
  snprintf(name, sizeof name, "up_proj.%s", suffix);
  if (rc) mlx_array_free(u);
  else rc = put_eval(ws, prefix, name, u, file);
  return rc;
}

/* The float form of layer `prefix` (".experts"). */
static int sanitize_float(cmlx_model* m, weight_set* ws, const char* prefix,
                          const mlx_stream s) {
  int E = m->info.num_experts, H = m->info.hidden_size,
      NI = m->info.intermediate_size;
  char k1[600], k2[600], k3[600], k4[600];
  const char *f1 = NULL, *f2 = NULL, *f3 = NULL, *f4 = NULL;
  mlx_array gu = take_named(ws, prefix, "gate_up_proj", &f1, k1, sizeof k1);
  mlx_array gub = take_named(ws, prefix, "gate_up_proj_bias", &f2, k2,
                             sizeof k2);
  mlx_array dn = take_named(ws, prefix, "down_proj", &f3, k3, sizeof k3);
  mlx_array dnb = take_named(ws, prefix, "down_proj_bias", &f4, k4, sizeof k4);
  int rc = 0;
  int s_gu[3] = {E, H, 2 * NI}, s_gub[2] = {E, 2 * NI};
  int s_dn[3] = {E, NI, H}, s_dnb[2] = {E, H};
  if (!gu.ctx) rc = missing_with(m, k1, k3, f3);
  else if (!dn.ctx) rc = missing_with(m, k3, k1, f1);
  else if (!gub.ctx) rc = missing_with(m, k2, k1, f1);
  else if (!dnb.ctx) rc = missing_with(m, k4, k3, f3);
  rc = rc || check_array(m, k1, f1, gu, s_gu, 3, false) ||
       check_array(m, k2, f2, gub, s_gub, 2, false) ||
       check_array(m, k3, f3, dn, s_dn, 3, false) ||
       check_array(m, k4, f4, dnb, s_dnb, 2, false);
  rc = rc || split_gate_up(ws, prefix, gu, 2, true, "weight", f1, s) ||
       split_gate_up(ws, prefix, gub, 1, false, "bias", f2, s);
  mlx_array w = mlx_array_new();
  if (!rc) {
    rc = mlx_swapaxes(&w, dn, 1, 2, s) || mlx_contiguous(&w, w, false, s);
    if (!rc) {
      rc = put_eval(ws, prefix, "down_proj.weight", w, f3);
      w.ctx = NULL;
    }
  }
  if (!rc) {
    rc = put_eval(ws, prefix, "down_proj.bias", dnb, f4);
    dnb.ctx = NULL;
  }
  drop(&w);
  drop(&gu);
  drop(&gub);
  drop(&dn);
  drop(&dnb);
  return rc;
}

/* blocks uint8 [E, out, in/32, 16] -> uint32 [E, out, in/8] */
static int blocks_to_weight(mlx_array* res, const mlx_array blocks,
                            const mlx_stream s) {
  int shape[3] = {mlx_array_dim(blocks, 0), mlx_array_dim(blocks, 1),
                  mlx_array_dim(blocks, 2) * 4};
  return mlx_view(res, blocks, MLX_UINT32, s) ||
         mlx_reshape(res, *res, shape, 3, s);
}

/* The native mxfp4 form of one projection ("gate_up_proj" or "down_proj"):
 * blocks and scales, out rows (2I or H) and in features (H or I). */
static int sanitize_blocks(cmlx_model* m, weight_set* ws, const char* prefix,
                           const char* proj, int out, int in,
                           const mlx_stream s) {
  int E = m->info.num_experts;
  char kb[600], ks[600], nb[64], ns[64];
  const char *fb = NULL, *fs = NULL;
  snprintf(nb, sizeof nb, "%s_blocks", proj);
  snprintf(ns, sizeof ns, "%s_scales", proj);
  mlx_array blocks = take_named(ws, prefix, nb, &fb, kb, sizeof kb);
  mlx_array scales = take_named(ws, prefix, ns, &fs, ks, sizeof ks);
  int rc = 0;
  if (!blocks.ctx) rc = missing_with(m, kb, ks, fs);
  else if (!scales.ctx) rc = missing_with(m, ks, kb, fb);
  if (!rc && in % 32 != 0)
    rc = MODEL_FAIL("[load] %s in %s: mxfp4 blocks need input sizes that are "
                    "multiples of 32, got %d.", kb, where_of(m, fb), in);
  int s_b[4] = {E, out, in / 32, 16}, s_s[3] = {E, out, in / 32};
  rc = rc || check_array(m, kb, fb, blocks, s_b, 4, true) ||
       check_array(m, ks, fs, scales, s_s, 3, true);
  mlx_array w = mlx_array_new();
  rc = rc || blocks_to_weight(&w, blocks, s);
  if (!rc && strcmp(proj, "gate_up_proj") == 0) {
    rc = split_gate_up(ws, prefix, w, 1, false, "weight", fb, s) ||
         split_gate_up(ws, prefix, scales, 1, false, "scales", fs, s);
  } else if (!rc) {
    rc = mlx_contiguous(&w, w, false, s);
    if (!rc) {
      rc = put_eval(ws, prefix, "down_proj.weight", w, fb);
      w.ctx = NULL;
    }
    if (!rc) {
      rc = put_eval(ws, prefix, "down_proj.scales", scales, fs);
      scales.ctx = NULL;
    }
  }
  drop(&w);
  drop(&blocks);
  drop(&scales);
  return rc;
}

static int sanitize_native_biases(cmlx_model* m, weight_set* ws,
                                  const char* prefix, const mlx_stream s) {
  int E = m->info.num_experts, H = m->info.hidden_size,
      NI = m->info.intermediate_size;
  char k1[600], k2[600];
  const char *f1 = NULL, *f2 = NULL;
  mlx_array gub = take_named(ws, prefix, "gate_up_proj_bias", &f1, k1,
                             sizeof k1);
  mlx_array dnb = take_named(ws, prefix, "down_proj_bias", &f2, k2, sizeof k2);
  int s1[2] = {E, 2 * NI}, s2[2] = {E, H};
  int rc = 0;
  char present[600];
  snprintf(present, sizeof present, "%s.gate_up_proj_blocks", prefix);
  if (!gub.ctx) rc = missing_with(m, k1, present, NULL);
  else if (!dnb.ctx) rc = missing_with(m, k2, present, NULL);
  rc = rc || check_array(m, k1, f1, gub, s1, 2, false) ||
       check_array(m, k2, f2, dnb, s2, 2, false) ||
       split_gate_up(ws, prefix, gub, 1, false, "bias", f1, s);
  if (!rc) {
    rc = put_eval(ws, prefix, "down_proj.bias", dnb, f2);
    dnb.ctx = NULL;
  }
  drop(&gub);
  drop(&dnb);
  return rc;
}

static bool has_suffix(const char* s, const char* suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static int gpt_oss_sanitize(cmlx_model* m, weight_set* ws) {
  gpt_oss_state* st = m->arch_state;
  const mlx_stream s = m->stream;
  /* transformers' extras that mlx-lm drops */
  for (size_t i = 0; i < ws->count;) {
    if (strstr(ws->items[i].name, "rotary_emb.inv_freq")) {
      mlx_array a = ws_take(ws, ws->items[i].name, NULL);
      mlx_array_free(a);
      continue;
    }
    i++;
  }
  if (st->tied && ws_has(ws, "lm_head.weight")) {
    mlx_array a = ws_take(ws, "lm_head.weight", NULL);
    mlx_array_free(a);
  }
  bool native_seen = false;
  for (int i = 0; i < st->num_layers; i++) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "model.layers.%d.mlp.experts", i);
    bool hf_float = false, native = false;
    for (size_t j = 0; j < ws->count; j++) {
      const char* n = ws->items[j].name;
      size_t pl = strlen(prefix);
      if (strncmp(n, prefix, pl) != 0 || n[pl] != '.') continue;
      const char* rest = n + pl + 1;
      if (strcmp(rest, "gate_up_proj") == 0 || strcmp(rest, "down_proj") == 0)
        hf_float = true;
      if (has_suffix(rest, "_blocks") || has_suffix(rest, "_scales"))
        native = native || strncmp(rest, "gate_up_proj_", 13) == 0 ||
                 strncmp(rest, "down_proj_", 10) == 0;
    }
    if (hf_float && native) {
      return MODEL_FAIL("[load] %s: layer %d's experts are stored both as "
                        "float (%s...) and as mxfp4 blocks.",
                        m->dir ? m->dir : "the weights", i, prefix);
    }
    if (hf_float && sanitize_float(m, ws, prefix, s)) return 1;
    if (native) {
      if (!native_seen) {
        /* the blocks are mxfp4 with groups of 32 whatever the config says
         * (HF's config has quantization_config.quant_method "mxfp4") */
        if (!m->quantized) {
          m->quant = (cmlx_quant_spec){32, 4, "mxfp4"};
          if (cmlx_quant_spec_resolve(&m->quant)) return 1;
          m->quantized = true;
        } else if (strcmp(m->quant.mode, "mxfp4") != 0 ||
                   m->quant.group_size != 32 || m->quant.bits != 4) {
          return MODEL_FAIL("[load] %s: the weights hold mxfp4 expert blocks "
                            "(%s.gate_up_proj_blocks) but the config's "
                            "quantization is %s with group size %d and %d "
                            "bits.", m->config_path, prefix, m->quant.mode,
                            m->quant.group_size, m->quant.bits);
        }
        native_seen = true;
      }
      if (sanitize_blocks(m, ws, prefix, "gate_up_proj",
                          2 * m->info.intermediate_size,
                          m->info.hidden_size, s) ||
          sanitize_blocks(m, ws, prefix, "down_proj", m->info.hidden_size,
                          m->info.intermediate_size, s) ||
          sanitize_native_biases(m, ws, prefix, s))
        return 1;
    }
  }
  return 0;
}

/* ---- running ---- */

static int gpt_oss_forward(mlx_array* logits, cmlx_model* m,
                           const mlx_array tokens, kv_cache* caches,
                           const mlx_stream s) {
  gpt_oss_state* st = m->arch_state;
  mlx_array h = mlx_array_new(), r = mlx_array_new();
  int rc = cmlx_embedding_apply(&h, &st->embed, tokens, s);
  for (int i = 0; !rc && i < st->num_layers; i++) {
    const gpt_oss_layer* l = &st->layers[i];
    rc = cmlx_rms_norm_apply(&r, &l->input_norm, h, s) ||
         attn_block_apply(&r, &l->attn, &st->rope, r,
                          caches ? &caches[i] : NULL, s) ||
         mlx_add(&h, h, r, s) ||
         cmlx_rms_norm_apply(&r, &l->post_norm, h, s) ||
         moe_apply(&r, &l->moe, r, MOE_SORT_AUTO, s) || mlx_add(&h, h, r, s);
  }
  rc = rc || cmlx_rms_norm_apply(&h, &st->norm, h, s) ||
       (st->tied ? cmlx_embedding_as_linear(logits, &st->embed, h, s)
                 : cmlx_linear_apply(logits, &st->lm_head, h, s));
  drop(&h);
  drop(&r);
  return rc;
}

static int gpt_oss_layer_window(const cmlx_model* m, int layer) {
  const gpt_oss_state* st = m->arch_state;
  if (!st || layer < 0 || layer >= st->num_layers) return 0;
  return st->windows[layer];
}

/* mlx-lm's rule: the router is quantized affine 8-bit with groups of 64,
 * everything else takes the call's spec. */
static cmlx_quant_choice gpt_oss_quant_predicate(const cmlx_model* m,
                                                 const char* path,
                                                 int in_features,
                                                 int out_features,
                                                 cmlx_quant_spec* spec) {
  (void)m;
  (void)in_features;
  (void)out_features;
  if (has_suffix(path, "router")) {
    *spec = (cmlx_quant_spec){64, 8, "affine"};
    return CMLX_QUANT_CUSTOM;
  }
  return CMLX_QUANT_DEFAULT;
}

static void gpt_oss_free(cmlx_model* m) {
  gpt_oss_state* st = m->arch_state;
  if (!st) return;
  rope_free(&st->rope);
  free(st->layers);
  free(st->windows);
  free(st);
  m->arch_state = NULL;
}

const model_arch model_arch_gpt_oss = {
    .model_type = "gpt_oss",
    .init = gpt_oss_init,
    .sanitize = gpt_oss_sanitize,
    .forward = gpt_oss_forward,
    .layer_window = gpt_oss_layer_window,
    .quant_predicate = gpt_oss_quant_predicate,
    .free_state = gpt_oss_free,
};
