/* test_model_io.c - saving models in mlx-lm's layout and loading them back
 * (bit for bit), quantization predicates, random models, and every bad
 * model directory giving one clear message. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/model.h"
#include "harness.h"
#include "model_util.h"
#include "io/json.h"
#include "models/model_internal.h"

#define LLAMA_DIR CMLX_TEST_DATA "/fixtures/tiny-llama"

static char tmp_root[64];

static void rm_rf(const char* dir) {
  DIR* d = opendir(dir);
  if (!d) return;
  struct dirent* e;
  char path[512];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) rm_rf(path);
    else unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static const char* sub(const char* name) {
  static char buf[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_root, name);
  return buf[k];
}

static bool same_array(mlx_array a, mlx_array b) {
  if (!a.ctx || !b.ctx) return a.ctx == b.ctx;
  if (mlx_array_dtype(a) != mlx_array_dtype(b) ||
      mlx_array_ndim(a) != mlx_array_ndim(b))
    return false;
  for (size_t i = 0; i < mlx_array_ndim(a); i++)
    if (mlx_array_dim(a, (int)i) != mlx_array_dim(b, (int)i)) return false;
  double* x = test_to_f64(a);
  double* y = test_to_f64(b);
  bool ok = x && y && memcmp(x, y, mlx_array_size(a) * sizeof(double)) == 0;
  free(x);
  free(y);
  return ok;
}

static mlx_map_string_to_array load_map(const char* file) {
  mlx_map_string_to_array map = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&map, &meta, file, test_stream));
  const char* fmt = NULL;
  if (strstr(file, tmp_root)) /* written by cmlx_model_save */
    CHECK(mlx_map_string_to_string_get(&fmt, meta, "format") == 0 && fmt &&
          strcmp(fmt, "mlx") == 0);
  mlx_map_string_to_string_free(meta);
  return map;
}

static size_t map_size(mlx_map_string_to_array map) {
  size_t n = 0;
  mlx_map_string_to_array_iterator it =
      mlx_map_string_to_array_iterator_new(map);
  const char* k;
  mlx_array v = mlx_array_new();
  while (mlx_map_string_to_array_iterator_next(&k, &v, it) == 0) n++;
  mlx_array_free(v);
  mlx_map_string_to_array_iterator_free(it);
  return n;
}

static mlx_array get(mlx_map_string_to_array map, const char* key) {
  mlx_array a = mlx_array_new();
  if (mlx_map_string_to_array_get(&a, map, key) != 0) a.ctx = NULL;
  return a;
}

/* The model's parameters, as a map name -> array (borrowed). */
static mlx_map_string_to_array model_map(const cmlx_model* m) {
  mlx_map_string_to_array map = mlx_map_string_to_array_new();
  char name[600];
  const char* sfx[5] = {"weight", "scales", "biases", "global_scale", "bias"};
  for (size_t i = 0; i < m->num_params; i++) {
    const model_param* p = &m->params[i];
    if (p->kind == PARAM_TENSOR) {
      mlx_map_string_to_array_insert(map, p->path, *p->tensor);
      continue;
    }
    mlx_array parts[5];
    if (p->kind == PARAM_LINEAR) {
      const cmlx_linear* l = p->linear;
      mlx_array q[5] = {l->weight, l->scales, l->biases, l->global_scale,
                        l->bias};
      memcpy(parts, q, sizeof q);
    } else {
      const cmlx_embedding* e = p->embedding;
      mlx_array q[5] = {e->weight, e->scales, e->biases, e->global_scale,
                        {NULL}};
      memcpy(parts, q, sizeof q);
    }
    for (int k = 0; k < 5; k++) {
      if (!parts[k].ctx) continue;
      snprintf(name, sizeof name, "%s.%s", p->path, sfx[k]);
      mlx_map_string_to_array_insert(map, name, parts[k]);
    }
  }
  return map;
}

/* Every tensor of a equals b's, and they have the same names. */
static void check_same_maps(mlx_map_string_to_array a,
                            mlx_map_string_to_array b) {
  CHECK_MSG(map_size(a) == map_size(b), "%zu vs %zu tensors", map_size(a),
            map_size(b));
  mlx_map_string_to_array_iterator it = mlx_map_string_to_array_iterator_new(a);
  const char* k;
  mlx_array v = mlx_array_new();
  while (mlx_map_string_to_array_iterator_next(&k, &v, it) == 0) {
    mlx_array w = get(b, k);
    CHECK_MSG(same_array(v, w), "tensor %s differs", k);
    if (w.ctx) mlx_array_free(w);
  }
  mlx_array_free(v);
  mlx_map_string_to_array_iterator_free(it);
}

static mlx_array prompt_tokens(void) {
  int32_t ids[12] = {1, 17, 300, 45, 45, 9, 511, 0, 128, 77, 3, 250};
  return test_array_i32(ids, (int[]){1, 12}, 2);
}

static mlx_array logits(cmlx_model* m) {
  mlx_array t = prompt_tokens(), out = mlx_array_new();
  CHECK_OK(cmlx_model_forward(&out, m, t, NULL, test_stream));
  CHECK_OK(mlx_array_eval(out));
  mlx_array_free(t);
  return out;
}

static const char* float_config =
    "{\n    \"attention_bias\": false,\n    \"attention_dropout\": 0.0,\n"
    "    \"bos_token_id\": 1,\n    \"eos_token_id\": 2,\n"
    "    \"head_dim\": 32,\n    \"hidden_act\": \"silu\",\n"
    "    \"hidden_size\": 128,\n    \"initializer_range\": 0.02,\n"
    "    \"intermediate_size\": 256,\n"
    "    \"max_position_embeddings\": 2048,\n    \"mlp_bias\": false,\n"
    "    \"model_type\": \"llama\",\n    \"num_attention_heads\": 4,\n"
    "    \"num_hidden_layers\": 2,\n    \"num_key_value_heads\": 2,\n"
    "    \"pad_token_id\": null,\n    \"pretraining_tp\": 1,\n"
    "%s"
    "    \"rms_norm_eps\": 1e-06,\n    \"rope_parameters\": {\n"
    "        \"rope_theta\": 10000.0,\n"
    "        \"rope_type\": \"default\"\n    },\n"
    "    \"tie_word_embeddings\": false,\n"
    "    \"transformers_version\": \"5.17.0\",\n"
    "    \"use_cache\": true,\n    \"vocab_size\": 512\n}";

static void test_save_float(void) {
  cmlx_model* m = NULL;
  CHECK_OK(cmlx_model_load(&m, LLAMA_DIR, test_stream));
  if (!m) return;
  const char* dir = sub("float");
  CHECK_OK(cmlx_model_save(m, dir));
  /* config.json as mlx-lm's save_config writes it */
  char* cfg = test_read_text(sub("float/config.json"));
  char want[4096];
  snprintf(want, sizeof want, float_config, "");
  CHECK_MSG(cfg && strcmp(cfg, want) == 0, "config.json:\n%s", cfg);
  free(cfg);
  /* the one shard holds exactly the original tensors, bit for bit */
  mlx_map_string_to_array orig = load_map(LLAMA_DIR "/model.safetensors");
  mlx_map_string_to_array saved = load_map(sub("float/model.safetensors"));
  CHECK(map_size(saved) == 21);
  check_same_maps(orig, saved);
  /* the index: total size, every tensor in model.safetensors, sorted */
  char* idx = test_read_text(sub("float/model.safetensors.index.json"));
  json_doc doc = {0};
  json_error err;
  CHECK(idx && json_parse(idx, strlen(idx), &doc, &err) == 0);
  if (doc.root) {
    const json_value* md = json_object_get(doc.root, "metadata", NULL);
    const json_value* ts = md ? json_object_get(md, "total_size", NULL) : NULL;
    const json_value* tp =
        md ? json_object_get(md, "total_parameters", NULL) : NULL;
    CHECK(ts && ts->as.number.value == 426624 * 4);
    CHECK(tp && tp->as.number.value == 426624);
    const json_value* wm = json_object_get(doc.root, "weight_map", NULL);
    CHECK(wm && wm->type == JSON_OBJECT && wm->as.object.count == 21);
    for (size_t i = 0; wm && i < wm->as.object.count; i++) {
      CHECK(strcmp(wm->as.object.members[i].value->as.string.text,
                   "model.safetensors") == 0);
      if (i)
        CHECK(strcmp(wm->as.object.members[i - 1].key,
                     wm->as.object.members[i].key) < 0);
    }
    CHECK(strncmp(idx, "{\n    \"metadata\": {\n        \"total_size\": ", 42) ==
          0);
  }
  json_doc_free(&doc);
  free(idx);
  /* reloading gives the same logits, bit for bit */
  cmlx_model* r = NULL;
  CHECK_OK(cmlx_model_load(&r, dir, test_stream));
  if (r) {
    mlx_array a = logits(m), b = logits(r);
    CHECK(same_array(a, b));
    mlx_array_free(a);
    mlx_array_free(b);
    cmlx_model_free(r);
  }
  mlx_map_string_to_array_free(orig);
  mlx_map_string_to_array_free(saved);
  cmlx_model_free(m);
}

typedef struct pred_log {
  int calls;
  int down_in, down_out, emb_in, emb_out;
} pred_log;

static cmlx_quant_choice pred(const char* path, int in, int out,
                              cmlx_quant_spec* custom, void* ctx) {
  pred_log* log = ctx;
  log->calls++;
  if (strcmp(path, "lm_head") == 0) return CMLX_QUANT_SKIP;
  if (strcmp(path, "model.layers.0.mlp.down_proj") == 0) {
    log->down_in = in;
    log->down_out = out;
    CHECK(custom->group_size == 64 && custom->bits == 4);
    custom->group_size = 32;
    custom->bits = 8;
    return CMLX_QUANT_CUSTOM;
  }
  if (strcmp(path, "model.embed_tokens") == 0) {
    log->emb_in = in;
    log->emb_out = out;
  }
  return CMLX_QUANT_DEFAULT;
}

static cmlx_quant_choice bad_pred(const char* path, int in, int out,
                                  cmlx_quant_spec* custom, void* ctx) {
  custom->mode = "int3";
  return CMLX_QUANT_CUSTOM;
}

static void test_save_quantized(void) {
  cmlx_model* m = NULL;
  CHECK_OK(cmlx_model_load(&m, LLAMA_DIR, test_stream));
  if (!m) return;
  pred_log log = {0};
  CHECK_OK(cmlx_model_quantize(m, 0, 0, "affine", pred, &log));
  CHECK(log.calls == 16);
  CHECK(log.down_in == 256 && log.down_out == 128);
  CHECK(log.emb_in == 128 && log.emb_out == 512);
  cmlx_model_info info;
  CHECK_OK(cmlx_model_get_info(&info, m));
  CHECK(info.num_quantized_layers == 15 && info.num_float_layers == 1);
  CHECK(info.quant.group_size == 64 && info.quant.bits == 4 &&
        strcmp(info.quant.mode, "affine") == 0);
  /* quantizing again leaves quantized layers alone (and lm_head, left in
   * float, would be quantized now: skip it again) */
  log.calls = 0;
  CHECK_OK(cmlx_model_quantize(m, 64, 4, "affine", pred, &log));
  CHECK(log.calls == 1);

  const char* dir = sub("q4");
  CHECK_OK(cmlx_model_save(m, dir));
  char* cfg = test_read_text(sub("q4/config.json"));
  const char* block =
      "{\n        \"group_size\": 64,\n        \"bits\": 4,\n"
      "        \"mode\": \"affine\",\n"
      "        \"model.layers.0.mlp.down_proj\": {\n"
      "            \"group_size\": 32,\n            \"bits\": 8,\n"
      "            \"mode\": \"affine\"\n        }\n    },\n";
  char qpart[1024], want[4096];
  snprintf(qpart, sizeof qpart, "    \"quantization\": %s"
           "    \"quantization_config\": %s", block, block);
  snprintf(want, sizeof want, float_config, qpart);
  CHECK_MSG(cfg && strcmp(cfg, want) == 0, "config.json:\n%s", cfg);
  free(cfg);

  mlx_map_string_to_array saved = load_map(sub("q4/model.safetensors"));
  mlx_map_string_to_array mine = model_map(m);
  check_same_maps(mine, saved);
  mlx_array w = get(saved, "model.layers.0.mlp.down_proj.weight");
  mlx_array sc = get(saved, "model.layers.0.mlp.down_proj.scales");
  CHECK(w.ctx && test_shape_is(w, (int[]){128, 64}, 2) &&
        mlx_array_dtype(w) == MLX_UINT32);
  CHECK(sc.ctx && test_shape_is(sc, (int[]){128, 8}, 2) &&
        mlx_array_dtype(sc) == MLX_FLOAT32);
  mlx_array ls = get(saved, "lm_head.scales");
  CHECK(!ls.ctx);
  mlx_array eb = get(saved, "model.embed_tokens.biases");
  CHECK(eb.ctx && test_shape_is(eb, (int[]){512, 2}, 2));
  if (w.ctx) mlx_array_free(w);
  if (sc.ctx) mlx_array_free(sc);
  if (eb.ctx) mlx_array_free(eb);

  /* reload: same tensors, same logits, bit for bit; saving again gives the
   * same files */
  cmlx_model* r = NULL;
  CHECK_OK(cmlx_model_load(&r, dir, test_stream));
  if (r) {
    cmlx_model_info ri;
    CHECK_OK(cmlx_model_get_info(&ri, r));
    CHECK(ri.num_quantized_layers == 15 && ri.num_float_layers == 1);
    CHECK(ri.weight_bytes == info.weight_bytes);
    mlx_map_string_to_array theirs = model_map(r);
    check_same_maps(mine, theirs);
    mlx_map_string_to_array_free(theirs);
    mlx_array a = logits(m), b = logits(r);
    CHECK(same_array(a, b));
    mlx_array_free(a);
    mlx_array_free(b);
    CHECK_OK(cmlx_model_save(r, sub("q4again")));
    const char* files[3] = {"config.json", "model.safetensors",
                            "model.safetensors.index.json"};
    for (int i = 0; i < 3; i++) {
      char p1[256], p2[256];
      snprintf(p1, sizeof p1, "%s/%s", sub("q4"), files[i]);
      snprintf(p2, sizeof p2, "%s/%s", sub("q4again"), files[i]);
      size_t n1 = 0, n2 = 0;
      unsigned char* b1 = test_read_bytes(p1, &n1);
      unsigned char* b2 = test_read_bytes(p2, &n2);
      CHECK_MSG(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0,
                "%s differs after a second save", files[i]);
      free(b1);
      free(b2);
    }
    /* in shards: several files, an index naming them, same logits */
    CHECK_OK(cmlx_model_save_sharded(r, sub("q4shards"), 200000));
    char* idx = test_read_text(sub("q4shards/model.safetensors.index.json"));
    CHECK(idx && strstr(idx, "\"model-00001-of-00003.safetensors\"") &&
          strstr(idx, "\"model-00003-of-00003.safetensors\""));
    free(idx);
    struct stat st;
    CHECK(stat(sub("q4shards/model.safetensors"), &st) != 0);
    cmlx_model* s = NULL;
    CHECK_OK(cmlx_model_load(&s, sub("q4shards"), test_stream));
    if (s) {
      mlx_array a2 = logits(m), b2 = logits(s);
      CHECK(same_array(a2, b2));
      mlx_array_free(a2);
      mlx_array_free(b2);
      cmlx_model_free(s);
    }
    cmlx_model_free(r);
  }
  mlx_map_string_to_array_free(mine);
  mlx_map_string_to_array_free(saved);

  /* errors */
  cmlx_model* f = NULL;
  CHECK_OK(cmlx_model_load(&f, LLAMA_DIR, test_stream));
  EXPECT_ERROR(cmlx_model_quantize(f, 64, 4, "foo", NULL, NULL),
               "[quantize] Invalid quantization mode 'foo'.");
  EXPECT_ERROR(cmlx_model_quantize(f, 64, 4, "affine", bad_pred, NULL),
               "[quantize] Invalid quantization mode 'int3' chosen for "
               "model.embed_tokens.");
  cmlx_model_free(f);
  cmlx_model_free(m);
}

static void test_save_mxfp4(void) {
  cmlx_model* m = NULL;
  CHECK_OK(cmlx_model_load(&m, LLAMA_DIR, test_stream));
  if (!m) return;
  CHECK_OK(cmlx_model_quantize(m, 0, 0, "mxfp4", NULL, NULL));
  CHECK_OK(cmlx_model_save(m, sub("mx")));
  mlx_map_string_to_array saved = load_map(sub("mx/model.safetensors"));
  /* 16 layers x (weight, scales) + 5 norms, no biases */
  CHECK(map_size(saved) == 37);
  mlx_array sc = get(saved, "lm_head.scales");
  CHECK(sc.ctx && mlx_array_dtype(sc) == MLX_UINT8 &&
        test_shape_is(sc, (int[]){512, 4}, 2));
  if (sc.ctx) mlx_array_free(sc);
  char* cfg = test_read_text(sub("mx/config.json"));
  CHECK(cfg && strstr(cfg, "\"quantization\": {\n        \"group_size\": 32,"
                           "\n        \"bits\": 4,\n        \"mode\": "
                           "\"mxfp4\"\n    },"));
  free(cfg);
  cmlx_model* r = NULL;
  CHECK_OK(cmlx_model_load(&r, sub("mx"), test_stream));
  if (r) {
    mlx_array a = logits(m), b = logits(r);
    CHECK(same_array(a, b));
    mlx_array_free(a);
    mlx_array_free(b);
    cmlx_model_free(r);
  }
  mlx_map_string_to_array_free(saved);
  cmlx_model_free(m);
}

/* A llama whose hidden size (96) is not a multiple of 64: only the layers
 * reading the 128-wide MLP activations (down_proj) can be quantized. */
static const char* odd_config =
    "{\"model_type\": \"llama\", \"hidden_size\": 96, "
    "\"intermediate_size\": 128, \"num_attention_heads\": 3, "
    "\"num_key_value_heads\": 1, \"head_dim\": 32, \"num_hidden_layers\": 2, "
    "\"vocab_size\": 512, \"rms_norm_eps\": 1e-5, "
    "\"tie_word_embeddings\": true, "
    "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
    "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
    "\"original_max_position_embeddings\": 64}, \"rope_theta\": 500000.0}";

static void test_random(void) {
  cmlx_model *a = NULL, *b = NULL, *q = NULL;
  CHECK_OK(cmlx_model_random(&a, odd_config, NULL, MLX_FLOAT32, 5,
                             test_stream));
  CHECK_OK(cmlx_model_random(&b, odd_config, NULL, MLX_FLOAT32, 5,
                             test_stream));
  cmlx_quant_spec spec = {64, 4, "affine"};
  CHECK_OK(cmlx_model_random(&q, odd_config, &spec, MLX_FLOAT32, 5,
                             test_stream));
  if (!a || !b || !q) return;
  mlx_array la = logits(a), lb = logits(b), lq = logits(q);
  CHECK(same_array(la, lb));
  CHECK(test_shape_is(la, (int[]){1, 12, 512}, 3));
  cmlx_model_info info;
  CHECK_OK(cmlx_model_get_info(&info, q));
  /* tied embeddings: no lm_head; embed (dims 96), q/k/v/o (in 96), gate/up
   * (in 96) skipped; down_proj (in 128) quantized in both layers */
  CHECK(info.num_quantized_layers == 2 && info.num_float_layers == 13);
  CHECK(info.quantized);
  double* x = test_to_f64(lq);
  bool finite = x != NULL;
  for (size_t i = 0; x && i < mlx_array_size(lq); i++)
    finite = finite && isfinite(x[i]);
  CHECK(finite);
  free(x);
  /* the quantized model saves and reloads like any other */
  CHECK_OK(cmlx_model_save(q, sub("random")));
  cmlx_model* r = NULL;
  CHECK_OK(cmlx_model_load(&r, sub("random"), test_stream));
  if (r) {
    mlx_array lr = logits(r);
    CHECK(same_array(lq, lr));
    mlx_array_free(lr);
    cmlx_model_free(r);
  }
  /* bfloat16 */
  cmlx_model* h = NULL;
  CHECK_OK(cmlx_model_random(&h, odd_config, NULL, MLX_BFLOAT16, 5,
                             test_stream));
  if (h) {
    mlx_array lh = logits(h);
    CHECK(mlx_array_dtype(lh) == MLX_BFLOAT16);
    CHECK_OK(cmlx_model_get_info(&info, h));
    CHECK(info.dtype == MLX_BFLOAT16);
    /* a bfloat16 checkpoint loads and runs in bfloat16, quantized too */
    CHECK_OK(cmlx_model_quantize(h, 32, 4, "affine", NULL, NULL));
    mlx_array lq16 = logits(h);
    CHECK_OK(cmlx_model_save(h, sub("bf16")));
    cmlx_model* h2 = NULL;
    CHECK_OK(cmlx_model_load(&h2, sub("bf16"), test_stream));
    if (h2) {
      CHECK_OK(cmlx_model_get_info(&info, h2));
      CHECK(info.dtype == MLX_BFLOAT16 && info.num_quantized_layers == 15);
      mlx_array l2 = logits(h2);
      CHECK(mlx_array_dtype(l2) == MLX_BFLOAT16 && same_array(lq16, l2));
      mlx_array_free(l2);
      cmlx_model_free(h2);
    }
    mlx_array_free(lq16);
    mlx_array_free(lh);
    cmlx_model_free(h);
  }
  EXPECT_ERROR(cmlx_model_random(&h, "{\"model_type\": \"gpt2\"}", NULL,
                                 MLX_FLOAT32, 1, test_stream),
               "[load] config.json: model_type \"gpt2\" is not supported "
               "(supported: llama, mistral, qwen2, qwen3, gpt_oss).");
  EXPECT_ERROR(cmlx_model_random(&h, odd_config, NULL, MLX_INT32, 1,
                                 test_stream),
               "[model_random] The dtype must be float32, float16 or "
               "bfloat16.");
  mlx_array_free(la);
  mlx_array_free(lb);
  mlx_array_free(lq);
  cmlx_model_free(a);
  cmlx_model_free(b);
  cmlx_model_free(q);
}

/* Qwen2 (q/k/v biases, no o_proj bias) and Qwen3 (q/k RMSNorms): declared
 * names as transformers / mlx-lm use them, and a forward pass runs. No
 * reference logits exist for these (no fixture). */
static void test_variants(void) {
  const char* base =
      "{\"model_type\": \"%s\", \"hidden_size\": 64, \"intermediate_size\": "
      "128, \"num_attention_heads\": 2, \"num_key_value_heads\": 1, "
      "\"head_dim\": 32, \"num_hidden_layers\": 1, \"vocab_size\": 512, "
      "\"tie_word_embeddings\": true, \"rope_theta\": 1000000.0}";
  const char* types[2] = {"qwen2", "qwen3"};
  for (int i = 0; i < 2; i++) {
    char cfg[512];
    snprintf(cfg, sizeof cfg, base, types[i]);
    cmlx_model* m = NULL;
    CHECK_OK(cmlx_model_random(&m, cfg, NULL, MLX_FLOAT32, 3, test_stream));
    if (!m) continue;
    mlx_map_string_to_array mm = model_map(m);
    mlx_array qb = get(mm, "model.layers.0.self_attn.q_proj.bias");
    mlx_array ob = get(mm, "model.layers.0.self_attn.o_proj.bias");
    mlx_array qn = get(mm, "model.layers.0.self_attn.q_norm.weight");
    mlx_array kn = get(mm, "model.layers.0.self_attn.k_norm.weight");
    CHECK(i == 0 ? (qb.ctx && !ob.ctx && !qn.ctx)
                 : (!qb.ctx && !ob.ctx && qn.ctx && kn.ctx));
    CHECK(map_size(mm) == (i == 0 ? 14u : 13u));
    mlx_array* all[] = {&qb, &ob, &qn, &kn};
    for (int k = 0; k < 4; k++)
      if (all[k]->ctx) mlx_array_free(*all[k]);
    mlx_array l = logits(m);
    double* x = test_to_f64(l);
    bool finite = x != NULL;
    for (size_t k = 0; x && k < mlx_array_size(l); k++)
      finite = finite && isfinite(x[k]);
    CHECK(finite && test_shape_is(l, (int[]){1, 12, 512}, 3));
    free(x);
    mlx_array_free(l);
    mlx_map_string_to_array_free(mm);
    cmlx_model_free(m);
  }
}

/* ---- bad directories ---- */

static char* fixture_config(void) {
  return test_read_text(LLAMA_DIR "/config.json");
}

/* Replaces the first occurrence of from by to in s (malloc'd result). */
static char* replace(const char* s, const char* from, const char* to) {
  const char* at = strstr(s, from);
  CHECK(at != NULL);
  if (!at) return strdup(s);
  size_t a = (size_t)(at - s), f = strlen(from), t = strlen(to);
  char* r = malloc(strlen(s) - f + t + 1);
  memcpy(r, s, a);
  memcpy(r + a, to, t);
  strcpy(r + a + t, at + f);
  return r;
}

/* Writes dir/config.json (text) and dir/model.safetensors: the fixture's
 * tensors without `drop`, with `key` set to `value` when given. */
static void make_dir(const char* dir, const char* config, const char* drop,
                     const char* key, mlx_array value) {
  mkdir(dir, 0777);
  char path[300];
  if (config) {
    snprintf(path, sizeof path, "%s/config.json", dir);
    test_write_bytes(path, config, strlen(config));
  }
  mlx_map_string_to_array orig = load_map(LLAMA_DIR "/model.safetensors");
  mlx_map_string_to_array out = mlx_map_string_to_array_new();
  mlx_map_string_to_array_iterator it =
      mlx_map_string_to_array_iterator_new(orig);
  const char* k;
  mlx_array v = mlx_array_new();
  while (mlx_map_string_to_array_iterator_next(&k, &v, it) == 0)
    if (!drop || strcmp(k, drop) != 0)
      mlx_map_string_to_array_insert(out, k, v);
  if (key) mlx_map_string_to_array_insert(out, key, value);
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  CHECK_OK(mlx_save_safetensors(path, out, meta));
  mlx_map_string_to_string_free(meta);
  mlx_array_free(v);
  mlx_map_string_to_array_iterator_free(it);
  mlx_map_string_to_array_free(orig);
  mlx_map_string_to_array_free(out);
}

static void expect_load_error(const char* dir, const char* msg) {
  cmlx_model* m = NULL;
  EXPECT_ERROR(cmlx_model_load(&m, dir, test_stream), msg);
  CHECK(m == NULL);
}

static void test_bad_dirs(void) {
  char msg[1024];
  char* cfg = fixture_config();
  mlx_array none = mlx_array_new();

  snprintf(msg, sizeof msg, "[load] %s is not a directory.", sub("nope"));
  expect_load_error(sub("nope"), msg);

  /* weights but no config */
  const char* d1 = sub("noconfig");
  make_dir(d1, NULL, NULL, NULL, none);
  snprintf(msg, sizeof msg,
           "[load] Cannot open %s/config.json: No such file or directory.", d1);
  expect_load_error(d1, msg);

  /* config but no weights */
  const char* d2 = sub("noweights");
  mkdir(d2, 0777);
  char path[300];
  snprintf(path, sizeof path, "%s/config.json", d2);
  test_write_bytes(path, cfg, strlen(cfg));
  snprintf(msg, sizeof msg,
           "[load] %s: no weights (model*.safetensors) found.", d2);
  expect_load_error(d2, msg);

  /* invalid JSON */
  const char* d3 = sub("badjson");
  make_dir(d3, "{\"model_type\": \"llama\",}", NULL, NULL, none);
  snprintf(msg, sizeof msg,
           "[load] %s/config.json is not valid JSON: expected a string key in "
           "object at byte 23.", d3);
  expect_load_error(d3, msg);

  /* unknown model_type */
  const char* d4 = sub("badtype");
  char* c4 = replace(cfg, "\"model_type\": \"llama\"",
                     "\"model_type\": \"bert\"");
  make_dir(d4, c4, NULL, NULL, none);
  snprintf(msg, sizeof msg,
           "[load] %s/config.json: model_type \"bert\" is not supported "
           "(supported: llama, mistral, qwen2, qwen3, gpt_oss).", d4);
  expect_load_error(d4, msg);

  /* a required size missing */
  const char* d5 = sub("nohidden");
  char* c5 = replace(cfg, "\"hidden_size\"", "\"hidden_sizes\"");
  make_dir(d5, c5, NULL, NULL, none);
  snprintf(msg, sizeof msg, "[load] %s/config.json: missing \"hidden_size\".",
           d5);
  expect_load_error(d5, msg);

  /* a tensor missing */
  const char* d6 = sub("missing");
  make_dir(d6, cfg, "model.norm.weight", NULL, none);
  snprintf(msg, sizeof msg,
           "[load] %s: tensor model.norm.weight is missing from the weights.",
           d6);
  expect_load_error(d6, msg);

  /* wrong shape (transposed) */
  const char* d7 = sub("shape");
  mlx_map_string_to_array orig = load_map(LLAMA_DIR "/model.safetensors");
  mlx_array down = get(orig, "model.layers.0.mlp.down_proj.weight");
  mlx_array t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, down, test_stream));
  make_dir(d7, cfg, NULL, "model.layers.0.mlp.down_proj.weight", t);
  snprintf(msg, sizeof msg,
           "[load] model.layers.0.mlp.down_proj.weight in "
           "%s/model.safetensors has shape (256,128), expected (128,256).",
           d7);
  expect_load_error(d7, msg);

  /* a tensor the model does not have */
  const char* d8 = sub("extra");
  make_dir(d8, cfg, NULL, "model.layers.0.mlp.extra.weight", down);
  snprintf(msg, sizeof msg,
           "[load] model.layers.0.mlp.extra.weight in %s/model.safetensors: "
           "the model (llama) has no such parameter.", d8);
  expect_load_error(d8, msg);

  /* wrong dtype for a norm */
  const char* d9 = sub("dtype");
  mlx_array ints = mlx_array_new();
  mlx_array nw = get(orig, "model.norm.weight");
  CHECK_OK(mlx_astype(&ints, nw, MLX_INT32, test_stream));
  make_dir(d9, cfg, NULL, "model.norm.weight", ints);
  snprintf(msg, sizeof msg,
           "[load] model.norm.weight in %s/model.safetensors has dtype int32, "
           "expected a float type.", d9);
  expect_load_error(d9, msg);

  /* quantized weights but no "quantization" in the config */
  cmlx_model* m = NULL;
  CHECK_OK(cmlx_model_load(&m, LLAMA_DIR, test_stream));
  CHECK_OK(cmlx_model_quantize(m, 64, 4, "affine", NULL, NULL));
  const char* dq = sub("qsrc");
  CHECK_OK(cmlx_model_save(m, dq));
  cmlx_model_free(m);
  snprintf(path, sizeof path, "%s/config.json", dq);
  char* qcfg = test_read_text(path);
  /* drop both quantization blocks: replace their keys by unknown ones */
  char* noq = replace(qcfg, "\"quantization\":", "\"quantization_x\":");
  char* noq2 = replace(noq, "\"quantization_config\":", "\"quant_x\":");
  test_write_bytes(path, noq2, strlen(noq2));
  snprintf(msg, sizeof msg,
           "[load] model.embed_tokens.scales in %s/model.safetensors: the "
           "layer is quantized but %s/config.json has no \"quantization\".", dq, dq);
  expect_load_error(dq, msg);

  /* config says 8 bits, the weights are 4-bit */
  char* b8 = replace(qcfg, "\"bits\": 4", "\"bits\": 8");
  char* b8b = replace(b8, "\"quantization_config\"", "\"quant_x\"");
  test_write_bytes(path, b8b, strlen(b8b));
  snprintf(msg, sizeof msg,
           "[load] model.embed_tokens.weight in %s/model.safetensors has "
           "shape (512,16), expected (512,32).", dq);
  expect_load_error(dq, msg);

  /* unknown mode */
  char* bm = replace(qcfg, "\"mode\": \"affine\"", "\"mode\": \"int3\"");
  test_write_bytes(path, bm, strlen(bm));
  snprintf(msg, sizeof msg,
           "[load] %s/config.json: unknown quantization mode 'int3' in "
           "\"quantization\".", dq);
  expect_load_error(dq, msg);

  /* mxfp4 in the config, affine weights (biases present) */
  char* mx = replace(qcfg, "\"mode\": \"affine\"", "\"mode\": \"mxfp4\"");
  char* mx2 = replace(mx, "\"group_size\": 64", "\"group_size\": 32");
  test_write_bytes(path, mx2, strlen(mx2));
  /* same packed width: the scales' dtype gives it away */
  snprintf(msg, sizeof msg,
           "[load] model.embed_tokens.scales in %s/model.safetensors has "
           "dtype float32, expected uint8.", dq);
  expect_load_error(dq, msg);

  /* a layer marked false in the config but stored quantized */
  char* fl = replace(qcfg, "\"mode\": \"affine\"\n",
                     "\"mode\": \"affine\",\n        \"lm_head\": false\n");
  test_write_bytes(path, fl, strlen(fl));
  snprintf(msg, sizeof msg,
           "[load] lm_head.scales in %s/model.safetensors: %s/config.json says "
           "layer lm_head is not quantized.", dq, dq);
  expect_load_error(dq, msg);

  /* a shard listed by the index is missing */
  cmlx_model* sm = NULL;
  CHECK_OK(cmlx_model_load(&sm, LLAMA_DIR, test_stream));
  const char* ds = sub("shards");
  CHECK_OK(cmlx_model_save_sharded(sm, ds, 600000));
  cmlx_model_free(sm);
  snprintf(path, sizeof path, "%s/model-00002-of-00003.safetensors", ds);
  CHECK(unlink(path) == 0);
  cmlx_model* none_m = NULL;
  test_error_count = 0;
  CHECK(cmlx_model_load(&none_m, ds, test_stream) == 1);
  CHECK(test_error_count == 1 && strstr(test_last_error, path) != NULL);
  fprintf(stderr, "missing shard: %s\n", test_last_error);

  /* a truncated weights file */
  const char* dt = sub("truncated");
  make_dir(dt, cfg, NULL, NULL, none);
  snprintf(path, sizeof path, "%s/model.safetensors", dt);
  size_t len = 0;
  unsigned char* bytes = test_read_bytes(path, &len);
  test_write_bytes(path, bytes, len / 2);
  free(bytes);
  test_error_count = 0;
  CHECK(cmlx_model_load(&none_m, dt, test_stream) == 1);
  CHECK(test_error_count == 1 && strstr(test_last_error, path) != NULL);
  fprintf(stderr, "truncated: %s\n", test_last_error);

  /* two weight files holding one tensor */
  const char* dd = sub("twice");
  make_dir(dd, cfg, NULL, NULL, none);
  snprintf(path, sizeof path, "%s/model.safetensors", dd);
  bytes = test_read_bytes(path, &len);
  snprintf(path, sizeof path, "%s/model-extra.safetensors", dd);
  test_write_bytes(path, bytes, len);
  free(bytes);
  EXPECT_ERROR_PREFIX(cmlx_model_load(&none_m, dd, test_stream),
                      "[load] Tensor ");
  CHECK(strstr(test_last_error, "model-extra.safetensors and ") != NULL);

  free(fl);
  free(mx);
  free(mx2);
  free(bm);
  free(b8);
  free(b8b);
  free(noq);
  free(noq2);
  free(qcfg);
  mlx_array_free(nw);
  mlx_array_free(ints);
  mlx_array_free(t);
  mlx_array_free(down);
  mlx_map_string_to_array_free(orig);
  free(c4);
  free(c5);
  free(cfg);
}

int main(void) {
  test_init();
  snprintf(tmp_root, sizeof tmp_root, "/tmp/cmlx_model_io_XXXXXX");
  CHECK(mkdtemp(tmp_root) != NULL);
  test_save_float();
  test_save_quantized();
  test_save_mxfp4();
  test_random();
  test_variants();
  test_bad_dirs();
  rm_rf(tmp_root);
  return test_finish("test_model_io");
}
