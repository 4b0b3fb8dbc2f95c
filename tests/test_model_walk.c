/* test_model_walk.c - the model's public walks (parameters, layers),
 * layer windows, casting (cmlx_model_set_dtype) and the dtype a saved
 * config then names. */
#include <stdlib.h>

#include "cmlx/model.h"
#include "harness.h"
#include "io/json.h"
#include "model_io_util.h"
#include "model_util.h"

/* ---- walking, casting, architecture rules ---- */

typedef struct walk_log {
  int calls, stop_at;
  uint64_t bytes;
  bool down_seen, head_seen, norm_seen;
} walk_log;

static int log_param(void* ctx, const char* name, const mlx_array a) {
  walk_log* w = ctx;
  w->calls++;
  if (strcmp(name, "model.norm.weight") == 0) {
    w->norm_seen = true;
    CHECK(test_shape_is(a, (int[]){128}, 1));
  }
  CHECK(strcmp(name, "lm_head") != 0 && strcmp(name, "model.norm") != 0);
  return w->stop_at && w->calls == w->stop_at ? 7 : 0;
}

static int log_layer(void* ctx, const cmlx_layer_desc* d) {
  walk_log* w = ctx;
  w->calls++;
  w->bytes += d->nbytes;
  if (strcmp(d->path, "model.layers.0.mlp.down_proj") == 0) {
    w->down_seen = true;
    CHECK(d->kind == CMLX_LAYER_LINEAR && d->experts == 0 &&
          d->in_features == 256 && d->out_features == 128);
    /* quantized by pred: 8-bit, groups of 32 */
    CHECK(d->quantized ? d->quant.group_size == 32 && d->quant.bits == 8 &&
                             d->dtype == MLX_UINT32 &&
                             d->nbytes == 128 * 64 * 4 + 2 * 128 * 8 * 4
                       : d->dtype == MLX_FLOAT32 &&
                             d->nbytes == 256 * 128 * 4);
  }
  if (strcmp(d->path, "model.embed_tokens") == 0)
    CHECK(d->kind == CMLX_LAYER_EMBEDDING && d->in_features == 128 &&
          d->out_features == 512);
  if (strcmp(d->path, "lm_head") == 0) {
    w->head_seen = true;
    CHECK(!d->quantized && d->dtype == MLX_FLOAT32);
  }
  if (strcmp(d->path, "model.norm.weight") == 0) {
    w->norm_seen = true;
    CHECK(d->kind == CMLX_LAYER_TENSOR && !d->quantized &&
          d->in_features == 0 && d->nbytes == 128 * 4);
  }
  return w->stop_at && w->calls == w->stop_at ? 7 : 0;
}

/* cmlx_model_parameters and cmlx_model_layers with the loggers above (or
 * no visitor), for the checks they share. */
static int walk_params(const cmlx_model* m, bool visitor, walk_log* w) {
  return cmlx_model_parameters(m, visitor ? log_param : NULL, w);
}

static int walk_layers(const cmlx_model* m, bool visitor, walk_log* w) {
  return cmlx_model_layers(m, visitor ? log_layer : NULL, w);
}

typedef struct walk_api {
  int (*walk)(const cmlx_model* m, bool visitor, walk_log* w);
  const char* msg; /* for a NULL model or visitor */
} walk_api;

static const walk_api walk_apis[2] = {
    {walk_params,
     "[model_parameters] The model and the visitor must be given."},
    {walk_layers, "[model_layers] The model and the visitor must be given."},
};

static void test_walks(void) {
  cmlx_model* m = NULL;
  CHECK_OK(cmlx_model_load(&m, LLAMA_DIR, test_stream));
  if (!m) return;
  /* parameters: 21 arrays, named as saved */
  walk_log w = {0};
  CHECK_OK(cmlx_model_parameters(m, log_param, &w));
  CHECK(w.calls == 21 && w.norm_seen);

  /* layers: float, then quantized by pred (layer 0's down_proj 8-bit g32,
   * lm_head left in float) */
  cmlx_model_info info;
  pred_log plog = {0};
  for (int q = 0; q < 2; q++) {
    if (q) CHECK_OK(cmlx_model_quantize(m, 64, 4, "affine", pred, &plog));
    CHECK_OK(cmlx_model_get_info(&info, m));
    w = (walk_log){0};
    CHECK_OK(cmlx_model_layers(m, log_layer, &w));
    CHECK(w.calls == 21 && w.down_seen && w.head_seen && w.norm_seen);
    CHECK(w.bytes == info.weight_bytes);
  }

  /* both walks: a visitor's nonzero value stops the walk and is returned,
   * without a message; NULL arguments are refused */
  for (int k = 0; k < 2; k++) {
    const walk_api* api = &walk_apis[k];
    w = (walk_log){.stop_at = 3};
    test_error_count = 0;
    CHECK(api->walk(m, true, &w) == 7);
    CHECK(w.calls == 3 && test_error_count == 0);
    EXPECT_ERROR(api->walk(NULL, true, &w), api->msg);
    EXPECT_ERROR(api->walk(m, false, &w), api->msg);
  }

  /* Llama: no sliding windows, no rules of its own */
  int win = -1;
  for (int l = 0; l < 2; l++) {
    CHECK_OK(cmlx_model_layer_window(&win, m, l));
    CHECK(win == 0);
  }
  EXPECT_ERROR(cmlx_model_layer_window(&win, m, -1),
               "[model_layer_window] Layer -1 is out of range for a model of "
               "2 layers.");
  EXPECT_ERROR(cmlx_model_layer_window(&win, m, 2),
               "[model_layer_window] Layer 2 is out of range for a model of "
               "2 layers.");
  EXPECT_ERROR(cmlx_model_layer_window(NULL, m, 0),
               "[model_layer_window] The model and the output must be given.");
  EXPECT_ERROR(cmlx_model_layer_window(&win, NULL, 0),
               "[model_layer_window] The model and the output must be given.");
  cmlx_quant_choice c = CMLX_QUANT_SKIP;
  cmlx_quant_spec spec = {64, 4, "affine"};
  CHECK_OK(cmlx_model_quant_rule(&c, m, "lm_head", 128, 512, &spec));
  CHECK(c == CMLX_QUANT_DEFAULT && spec.group_size == 64 && spec.bits == 4);
  const char* rule_msg =
      "[model_quant_rule] The model, the path, the spec and the output must "
      "be given.";
  EXPECT_ERROR(cmlx_model_quant_rule(NULL, m, "lm_head", 1, 1, &spec),
               rule_msg);
  EXPECT_ERROR(cmlx_model_quant_rule(&c, NULL, "lm_head", 1, 1, &spec),
               rule_msg);
  EXPECT_ERROR(cmlx_model_quant_rule(&c, m, NULL, 1, 1, &spec), rule_msg);
  EXPECT_ERROR(cmlx_model_quant_rule(&c, m, "lm_head", 1, 1, NULL), rule_msg);
  cmlx_model_free(m);
}

typedef struct dtype_log {
  int float_arrays, other_arrays;
  mlx_dtype want;
} dtype_log;

static int log_dtype(void* ctx, const char* name, const mlx_array a) {
  dtype_log* d = ctx;
  mlx_dtype t = mlx_array_dtype(a);
  if (t == d->want) d->float_arrays++;
  else if (t == MLX_UINT32 && strstr(name, ".weight")) d->other_arrays++;
  else CHECK_MSG(false, "%s has dtype %d", name, (int)t);
  return 0;
}

static void test_set_dtype(void) {
  cmlx_model* m = NULL;
  CHECK_OK(cmlx_model_load(&m, LLAMA_DIR, test_stream));
  if (!m) return;
  mlx_array f32 = logits(m);
  /* float16 and bfloat16: every array cast, logits in that dtype and near
   * float32's (bounds: about twice the errors measured when written,
   * 0.000863 and 0.00666) */
  const mlx_dtype ts[2] = {MLX_FLOAT16, MLX_BFLOAT16};
  const double bounds[2] = {0.002, 0.015};
  for (int i = 0; i < 2; i++) {
    cmlx_model* h = NULL;
    CHECK_OK(cmlx_model_load(&h, LLAMA_DIR, test_stream));
    if (!h) continue;
    CHECK_OK(cmlx_model_set_dtype(h, ts[i]));
    cmlx_model_info info;
    CHECK_OK(cmlx_model_get_info(&info, h));
    CHECK(info.dtype == ts[i]);
    dtype_log d = {.want = ts[i]};
    CHECK_OK(cmlx_model_parameters(h, log_dtype, &d));
    CHECK(d.float_arrays == 21 && d.other_arrays == 0);
    mlx_array l = logits(h);
    CHECK(mlx_array_dtype(l) == ts[i]);
    double err = model_rel_err(l, f32);
    fprintf(stderr, "%s: rel err %.3g\n", i ? "bfloat16" : "float16", err);
    CHECK_MSG(err < bounds[i], "rel err %g", err);
    mlx_array_free(l);
    cmlx_model_free(h);
  }
  /* quantized affine, then cast: packed weights stay uint32, the scales
   * and biases follow; the logits stay near the float32 quantized model's
   * (measured 0.0111) */
  cmlx_model* q = NULL;
  CHECK_OK(cmlx_model_load(&q, LLAMA_DIR, test_stream));
  if (q) {
    CHECK_OK(cmlx_model_quantize(q, 64, 4, "affine", NULL, NULL));
    mlx_array a = logits(q);
    CHECK_OK(cmlx_model_set_dtype(q, MLX_BFLOAT16));
    dtype_log d = {.want = MLX_BFLOAT16};
    CHECK_OK(cmlx_model_parameters(q, log_dtype, &d));
    /* 16 layers x (weight, scales, biases) + 5 norms */
    CHECK(d.other_arrays == 16 && d.float_arrays == 2 * 16 + 5);
    mlx_array b = logits(q);
    CHECK(mlx_array_dtype(b) == MLX_BFLOAT16);
    double err = model_rel_err(b, a);
    fprintf(stderr, "affine 4-bit, bfloat16: rel err %.3g\n", err);
    CHECK_MSG(err < 0.025, "rel err %g", err);
    mlx_array_free(a);
    mlx_array_free(b);
    /* back to float32 */
    CHECK_OK(cmlx_model_set_dtype(q, MLX_FLOAT32));
    d = (dtype_log){.want = MLX_FLOAT32};
    CHECK_OK(cmlx_model_parameters(q, log_dtype, &d));
    CHECK(d.other_arrays == 16 && d.float_arrays == 2 * 16 + 5);
    cmlx_model_free(q);
  }
  /* errors: the model keeps its dtype */
  EXPECT_ERROR(cmlx_model_set_dtype(NULL, MLX_FLOAT16),
               "[model_set_dtype] The model is NULL.");
  const mlx_dtype bad[4] = {MLX_INT32, MLX_FLOAT64, MLX_UINT8, MLX_BOOL};
  for (int i = 0; i < 4; i++)
    EXPECT_ERROR(cmlx_model_set_dtype(m, bad[i]),
                 "[model_set_dtype] The dtype must be float32, float16 or "
                 "bfloat16.");
  EXPECT_ERROR(cmlx_model_set_dtype(m, (mlx_dtype)99),
               "[model_set_dtype] The dtype must be float32, float16 or "
               "bfloat16.");
  cmlx_model_info info;
  CHECK_OK(cmlx_model_get_info(&info, m));
  CHECK(info.dtype == MLX_FLOAT32);
  mlx_array again = logits(m);
  CHECK(same_array(again, f32));
  mlx_array_free(again);
  mlx_array_free(f32);
  cmlx_model_free(m);
}

/* Saving a cast model names its dtype in config.json's "torch_dtype" (and
 * transformers 5's "dtype"); an uncast model keeps what its config says. */
static void test_saved_dtype(void) {
  char cfg[1024];
  snprintf(cfg, sizeof cfg,
           "{\"model_type\": \"llama\", \"hidden_size\": 64, "
           "\"intermediate_size\": 128, \"num_attention_heads\": 2, "
           "\"num_key_value_heads\": 1, \"head_dim\": 32, "
           "\"num_hidden_layers\": 1, \"vocab_size\": 256, "
           "\"tie_word_embeddings\": true, \"torch_dtype\": \"float32\", "
           "\"dtype\": \"float32\", \"text_config\": {\"dtype\": "
           "\"float32\"}}");
  const struct {
    const char* name;
    mlx_dtype cast; /* MLX_BOOL: no cast */
    const char* want;
  } cases[3] = {{"dt-none", MLX_BOOL, "float32"},
                {"dt-f16", MLX_FLOAT16, "float16"},
                {"dt-bf16", MLX_BFLOAT16, "bfloat16"}};
  for (int i = 0; i < 3; i++) {
    cmlx_model* m = NULL;
    CHECK_OK(cmlx_model_random(&m, cfg, NULL, MLX_FLOAT32, 1, test_stream));
    if (!m) continue;
    if (cases[i].cast != MLX_BOOL)
      CHECK_OK(cmlx_model_set_dtype(m, cases[i].cast));
    CHECK_OK(cmlx_model_save(m, sub(cases[i].name)));
    char path[300], want[128];
    snprintf(path, sizeof path, "%s/config.json", sub(cases[i].name));
    char* text = test_read_text(path);
    if (!text) text = strdup("");
    snprintf(want, sizeof want, "\n    \"torch_dtype\": \"%s\",",
             cases[i].want);
    CHECK_MSG(strstr(text, want), "%s:\n%s", cases[i].name, text);
    snprintf(want, sizeof want, "\n    \"dtype\": \"%s\",", cases[i].want);
    CHECK_MSG(strstr(text, want), "%s:\n%s", cases[i].name, text);
    /* nested configs are left alone */
    CHECK(strstr(text, "\"text_config\": {\n        \"dtype\": "
                               "\"float32\"\n    }"));
    free(text);
    cmlx_model* r = NULL;
    CHECK_OK(cmlx_model_load(&r, sub(cases[i].name), test_stream));
    cmlx_model_info info;
    if (r) {
      CHECK_OK(cmlx_model_get_info(&info, r));
      CHECK(info.dtype ==
            (cases[i].cast == MLX_BOOL ? MLX_FLOAT32 : cases[i].cast));
    }
    cmlx_model_free(r);
    cmlx_model_free(m);
  }
}

int main(void) {
  test_init();
  snprintf(tmp_root, sizeof tmp_root, "/tmp/cmlx_model_walk_XXXXXX");
  CHECK(mkdtemp(tmp_root) != NULL);
  test_walks();
  test_set_dtype();
  test_saved_dtype();
  rm_rf(tmp_root);
  return test_finish("test_model_walk");
}
