/* test_model_io.c - saving models in mlx-lm's layout and loading them back
 * (bit for bit), quantization predicates, random models, and every bad
 * model directory giving one clear message (walks and casts:
 * test_model_walk.c). */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/model.h"
#include "harness.h"
#include "io/json.h"
#include "model_io_util.h"
#include "model_util.h"

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

static int insert_param(void* ctx, const char* name, const mlx_array a) {
  return mlx_map_string_to_array_insert(*(mlx_map_string_to_array*)ctx, name,
                                        a);
}

/* The model's parameters, as a map name -> array (cmlx_model_parameters). */
static mlx_map_string_to_array model_map(const cmlx_model* m) {
  mlx_map_string_to_array map = mlx_map_string_to_array_new();
  CHECK_OK(cmlx_model_parameters(m, insert_param, &map));
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

/* For failures whose message comes from the file readers: one message,
 * naming path. */
static void expect_load_error_naming(const char* dir, const char* path,
                                     const char* what) {
  cmlx_model* m = NULL;
  test_error_count = 0;
  CHECK(cmlx_model_load(&m, dir, test_stream) == 1);
  CHECK(m == NULL);
  CHECK(test_error_count == 1 && strstr(test_last_error, path) != NULL);
  fprintf(stderr, "%s: %s\n", what, test_last_error);
}

/* What a bad directory holds besides its config.json. */
typedef enum bad_weights {
  W_NO_DIR,  /* nothing: the directory does not exist */
  W_FIXTURE, /* the fixture's tensors, less drop, with key set to value */
  W_NONE,    /* no weights */
  W_KEPT,    /* the weights already there (the quantized model the test
                saved in "qsrc"), whose config is the base */
} bad_weights;

/* Arrays a case can store under its key. */
enum { V_NONE, V_DOWN, V_DOWN_T, V_NORM_INT, V_COUNT };

typedef struct bad_dir {
  const char* name;         /* below the test's temporary directory */
  bad_weights weights;
  bool no_config;
  const char* text;         /* the config, or NULL: the base one edited */
  const char* edits[2][2];  /* (from, to), replaced in turn */
  const char* drop;
  const char* key;
  int value;                /* V_* */
  const char* msg;          /* "{dir}" stands for the directory */
} bad_dir;

static const bad_dir bad_dirs[] = {
    {"nope", W_NO_DIR, .msg = "[load] {dir} is not a directory."},
    {"noconfig", W_FIXTURE, .no_config = true,
     .msg = "[load] Cannot open {dir}/config.json: No such file or "
            "directory."},
    {"noweights", W_NONE,
     .msg = "[load] {dir}: no weights (model*.safetensors) found."},
    {"badjson", W_FIXTURE, .text = "{\"model_type\": \"llama\",}",
     .msg = "[load] {dir}/config.json is not valid JSON: expected a string "
            "key in object at byte 23."},
    {"badtype", W_FIXTURE,
     .edits = {{"\"model_type\": \"llama\"", "\"model_type\": \"bert\""}},
     .msg = "[load] {dir}/config.json: model_type \"bert\" is not supported "
            "(supported: llama, mistral, qwen2, qwen3, gpt_oss)."},
    {"nohidden", W_FIXTURE, .edits = {{"\"hidden_size\"", "\"hidden_sizes\""}},
     .msg = "[load] {dir}/config.json: missing \"hidden_size\"."},
    {"missing", W_FIXTURE, .drop = "model.norm.weight",
     .msg = "[load] {dir}: tensor model.norm.weight is missing from the "
            "weights."},
    /* transposed */
    {"shape", W_FIXTURE, .key = "model.layers.0.mlp.down_proj.weight",
     .value = V_DOWN_T,
     .msg = "[load] model.layers.0.mlp.down_proj.weight in "
            "{dir}/model.safetensors has shape (256,128), expected "
            "(128,256)."},
    {"extra", W_FIXTURE, .key = "model.layers.0.mlp.extra.weight",
     .value = V_DOWN,
     .msg = "[load] model.layers.0.mlp.extra.weight in "
            "{dir}/model.safetensors: the model (llama) has no such "
            "parameter."},
    {"dtype", W_FIXTURE, .key = "model.norm.weight", .value = V_NORM_INT,
     .msg = "[load] model.norm.weight in {dir}/model.safetensors has dtype "
            "int32, expected a float type."},
    /* quantized weights, both quantization blocks renamed away */
    {"qsrc", W_KEPT,
     .edits = {{"\"quantization\":", "\"quantization_x\":"},
               {"\"quantization_config\":", "\"quant_x\":"}},
     .msg = "[load] model.embed_tokens.scales in {dir}/model.safetensors: "
            "the layer is quantized but {dir}/config.json has no "
            "\"quantization\"."},
    /* the config says 8 bits, the weights are 4-bit */
    {"qsrc", W_KEPT,
     .edits = {{"\"bits\": 4", "\"bits\": 8"},
               {"\"quantization_config\"", "\"quant_x\""}},
     .msg = "[load] model.embed_tokens.weight in {dir}/model.safetensors has "
            "shape (512,16), expected (512,32)."},
    {"qsrc", W_KEPT,
     .edits = {{"\"mode\": \"affine\"", "\"mode\": \"int3\""}},
     .msg = "[load] {dir}/config.json: unknown quantization mode 'int3' in "
            "\"quantization\"."},
    /* mxfp4 in the config, affine weights: the same packed width, the
     * scales' dtype gives it away */
    {"qsrc", W_KEPT,
     .edits = {{"\"mode\": \"affine\"", "\"mode\": \"mxfp4\""},
               {"\"group_size\": 64", "\"group_size\": 32"}},
     .msg = "[load] model.embed_tokens.scales in {dir}/model.safetensors has "
            "dtype float32, expected uint8."},
    /* a layer marked false in the config but stored quantized */
    {"qsrc", W_KEPT,
     .edits = {{"\"mode\": \"affine\"\n",
                "\"mode\": \"affine\",\n        \"lm_head\": false\n"}},
     .msg = "[load] lm_head.scales in {dir}/model.safetensors: "
            "{dir}/config.json says layer lm_head is not quantized."},
};

/* Every "{dir}" of s replaced by dir (malloc'd). */
static char* with_dir(const char* s, const char* dir) {
  char* r = strdup(s);
  while (strstr(r, "{dir}")) {
    char* next = replace(r, "{dir}", dir);
    free(r);
    r = next;
  }
  return r;
}

static void check_bad_dir(const bad_dir* c, const char* base_cfg,
                          const char* quant_cfg, const mlx_array* values) {
  char dir[256], path[300];
  snprintf(dir, sizeof dir, "%s", sub(c->name));
  char* cfg = NULL;
  if (!c->no_config) {
    cfg = strdup(c->text ? c->text : c->weights == W_KEPT ? quant_cfg
                                                          : base_cfg);
    for (int e = 0; e < 2 && c->edits[e][0]; e++) {
      char* next = replace(cfg, c->edits[e][0], c->edits[e][1]);
      free(cfg);
      cfg = next;
    }
  }
  snprintf(path, sizeof path, "%s/config.json", dir);
  switch (c->weights) {
    case W_NO_DIR:
      break;
    case W_FIXTURE:
      make_dir(dir, cfg, c->drop, c->key, values[c->value]);
      break;
    case W_NONE:
      mkdir(dir, 0777);
      /* fall through */
    case W_KEPT:
      test_write_bytes(path, cfg, strlen(cfg));
      break;
  }
  char* msg = with_dir(c->msg, dir);
  expect_load_error(dir, msg);
  free(msg);
  free(cfg);
}

static void test_bad_dirs(void) {
  char* cfg = fixture_config();
  mlx_map_string_to_array orig = load_map(LLAMA_DIR "/model.safetensors");
  mlx_array values[V_COUNT];
  for (int i = 0; i < V_COUNT; i++) values[i] = mlx_array_new();
  mlx_array norm = get(orig, "model.norm.weight");
  values[V_DOWN] = get(orig, "model.layers.0.mlp.down_proj.weight");
  CHECK_OK(mlx_transpose(&values[V_DOWN_T], values[V_DOWN], test_stream));
  CHECK_OK(mlx_astype(&values[V_NORM_INT], norm, MLX_INT32, test_stream));

  /* the quantized model whose config the W_KEPT cases rewrite */
  cmlx_model* m = NULL;
  CHECK_OK(cmlx_model_load(&m, LLAMA_DIR, test_stream));
  CHECK_OK(cmlx_model_quantize(m, 64, 4, "affine", NULL, NULL));
  CHECK_OK(cmlx_model_save(m, sub("qsrc")));
  cmlx_model_free(m);
  char path[300];
  snprintf(path, sizeof path, "%s/config.json", sub("qsrc"));
  char* qcfg = test_read_text(path);

  for (size_t i = 0; cfg && qcfg && i < sizeof bad_dirs / sizeof bad_dirs[0];
       i++)
    check_bad_dir(&bad_dirs[i], cfg, qcfg, values);

  /* a shard listed by the index is missing */
  cmlx_model* sm = NULL;
  CHECK_OK(cmlx_model_load(&sm, LLAMA_DIR, test_stream));
  const char* ds = sub("shards");
  CHECK_OK(cmlx_model_save_sharded(sm, ds, 600000));
  cmlx_model_free(sm);
  snprintf(path, sizeof path, "%s/model-00002-of-00003.safetensors", ds);
  CHECK(unlink(path) == 0);
  expect_load_error_naming(ds, path, "missing shard");

  /* a truncated weights file */
  const char* dt = sub("truncated");
  make_dir(dt, cfg, NULL, NULL, values[V_NONE]);
  snprintf(path, sizeof path, "%s/model.safetensors", dt);
  size_t len = 0;
  unsigned char* bytes = test_read_bytes(path, &len);
  test_write_bytes(path, bytes, len / 2);
  free(bytes);
  expect_load_error_naming(dt, path, "truncated");

  /* two weight files holding one tensor */
  const char* dd = sub("twice");
  make_dir(dd, cfg, NULL, NULL, values[V_NONE]);
  snprintf(path, sizeof path, "%s/model.safetensors", dd);
  bytes = test_read_bytes(path, &len);
  snprintf(path, sizeof path, "%s/model-extra.safetensors", dd);
  test_write_bytes(path, bytes, len);
  free(bytes);
  cmlx_model* none_m = NULL;
  EXPECT_ERROR_PREFIX(cmlx_model_load(&none_m, dd, test_stream),
                      "[load] Tensor ");
  CHECK(strstr(test_last_error, "model-extra.safetensors and ") != NULL);

  for (int i = 0; i < V_COUNT; i++)
    if (values[i].ctx) mlx_array_free(values[i]);
  mlx_array_free(norm);
  mlx_map_string_to_array_free(orig);
  free(qcfg);
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
