/* test_model_llama.c - the tiny Llama fixture (made by transformers) loaded
 * from its Hugging Face form: logits for the reference prompt, the greedy
 * continuation with the KV cache, chunked prefill, and the same model
 * quantized (error against float bounded at twice the measured value). */
#include <stdlib.h>

#include "cmlx/model.h"
#include "harness.h"
#include "model_util.h"
#include "io/json.h"
#include "models/model_internal.h"

#define LLAMA_DIR CMLX_TEST_DATA "/fixtures/tiny-llama"

static mlx_map_string_to_array refs;

static mlx_array ref(const char* name) {
  mlx_array a = mlx_array_new();
  CHECK_OK(mlx_map_string_to_array_get(&a, refs, name));
  return a;
}

static void test_float(void) {
  cmlx_model* m = NULL;
  CHECK_OK(cmlx_model_load(&m, LLAMA_DIR, test_stream));
  if (!m) return;
  cmlx_model_info info;
  CHECK_OK(cmlx_model_get_info(&info, m));
  CHECK(strcmp(info.model_type, "llama") == 0);
  CHECK(info.num_layers == 2 && info.hidden_size == 128 &&
        info.num_heads == 4 && info.num_kv_heads == 2 &&
        info.head_dim == 32 && info.vocab_size == 512 &&
        info.intermediate_size == 256);
  CHECK(info.dtype == MLX_FLOAT32 && !info.quantized);
  CHECK(info.num_float_layers == 16 && info.num_quantized_layers == 0);
  /* 2 embeddings 512x128, per layer 4 attention + 3 MLP matrices + 2 norms,
   * final norm: all float32 */
  uint64_t params = 2 * 512 * 128 +
                    2 * (128 * 128 * 2 + 64 * 128 * 2 + 3 * 256 * 128 + 256) +
                    128;
  CHECK(info.num_parameters == params);
  CHECK(info.weight_bytes == params * 4);

  mlx_array ids = ref("input_ids"), want = ref("logits");
  mlx_array got = model_logits(m, ids);
  double err = model_rel_err(got, want);
  fprintf(stderr, "tiny-llama float32 logits: relative error %.3g\n", err);
  CHECK_MSG(err < 1e-4, "relative error %g", err);

  /* greedy continuation with the cache, token by token */
  mlx_array gids = ref("greedy_ids");
  CHECK_OK(mlx_array_eval(ids));
  CHECK_OK(mlx_array_eval(gids));
  const int32_t* prompt = mlx_array_data_int32(ids);
  const int32_t* expect = mlx_array_data_int32(gids);
  int n = (int)mlx_array_size(ids), total = (int)mlx_array_size(gids);
  int steps = total - n;
  int32_t out[16] = {0};
  model_greedy(m, prompt, n, steps, out, n);
  for (int i = 0; i < steps; i++)
    CHECK_MSG(out[i] == expect[n + i], "token %d: %d, expected %d", i, out[i],
              expect[n + i]);
  /* the same with the prompt prefilled in chunks of 7 (causal masks with
   * an offset) */
  int32_t out2[16] = {0};
  model_greedy(m, prompt, n, steps, out2, 7);
  for (int i = 0; i < steps; i++) CHECK(out2[i] == expect[n + i]);

  /* cached logits of a chunk equal the one-pass ones */
  {
    cmlx_cache* cache = NULL;
    CHECK_OK(cmlx_cache_new(&cache, m));
    mlx_array a = mlx_array_new(), b = mlx_array_new(), full = mlx_array_new();
    mlx_array t1 = test_array_i32(prompt, (int[]){1, 25}, 2);
    mlx_array t2 = test_array_i32(prompt + 25, (int[]){1, n - 25}, 2);
    CHECK_OK(cmlx_model_forward(&a, m, t1, cache, test_stream));
    CHECK_OK(cmlx_model_forward(&b, m, t2, cache, test_stream));
    mlx_vector_array v = mlx_vector_array_new();
    mlx_vector_array_append_value(v, a);
    mlx_vector_array_append_value(v, b);
    CHECK_OK(mlx_concatenate_axis(&full, v, 1, test_stream));
    double e = model_rel_err(full, got);
    CHECK_MSG(e < 1e-5, "chunked prefill differs: %g", e);
    mlx_vector_array_free(v);
    mlx_array_free(a);
    mlx_array_free(b);
    mlx_array_free(full);
    mlx_array_free(t1);
    mlx_array_free(t2);
    cmlx_cache_free(cache);
  }

  /* sampling: temperature with a seeded key is reproducible and stays in
   * the vocabulary; top_p tiny = greedy */
  {
    mlx_array k1 = mlx_array_new(), k2 = mlx_array_new();
    mlx_array s1 = mlx_array_new(), s2 = mlx_array_new(), g = mlx_array_new();
    mlx_array row = mlx_array_new();
    CHECK_OK(mlx_reshape(&row, got, (int[]){n, 512}, 2, test_stream));
    CHECK_OK(mlx_random_key(&k1, 7));
    CHECK_OK(mlx_random_key(&k2, 7));
    CHECK_OK(cmlx_sample(&s1, row, 0.8f, 0.9f, &k1, test_stream));
    CHECK_OK(cmlx_sample(&s2, row, 0.8f, 0.9f, &k2, test_stream));
    double* a = test_to_f64(s1);
    double* b = test_to_f64(s2);
    CHECK(mlx_array_dtype(s1) == MLX_INT32 && mlx_array_size(s1) == (size_t)n);
    for (int i = 0; a && b && i < n; i++)
      CHECK(a[i] == b[i] && a[i] >= 0 && a[i] < 512);
    free(a);
    free(b);
    /* the key moved on: a second draw uses a new key */
    double* k1v = test_to_f64(k1);
    mlx_array k0 = mlx_array_new();
    CHECK_OK(mlx_random_key(&k0, 7));
    double* k0v = test_to_f64(k0);
    CHECK(k1v && k0v && (k1v[0] != k0v[0] || k1v[1] != k0v[1]));
    free(k1v);
    free(k0v);
    mlx_array_free(k0);
    CHECK_OK(cmlx_sample(&s1, row, 1.0f, 1e-6f, &k1, test_stream));
    CHECK_OK(cmlx_sample(&g, row, 0.0f, 1.0f, NULL, test_stream));
    a = test_to_f64(s1);
    b = test_to_f64(g);
    for (int i = 0; a && b && i < n; i++) CHECK(a[i] == b[i]);
    free(a);
    free(b);
    EXPECT_ERROR(cmlx_sample(&s1, row, 1.0f, 1.0f, NULL, test_stream),
                 "[sample] Sampling at a temperature above 0 needs a key.");
    mlx_array_free(k1);
    mlx_array_free(k2);
    mlx_array_free(s1);
    mlx_array_free(s2);
    mlx_array_free(g);
    mlx_array_free(row);
  }

  /* bad token arrays */
  {
    mlx_array bad = test_array_f32((float[]){1, 2}, (int[]){1, 2}, 2);
    mlx_array r = mlx_array_new();
    EXPECT_ERROR(cmlx_model_forward(&r, m, bad, NULL, test_stream),
                 "[model_forward] Tokens must be integers of shape [batch, "
                 "length], got float32 (1,2).");
    mlx_array_free(bad);
    mlx_array_free(r);
  }
  mlx_array_free(ids);
  mlx_array_free(want);
  mlx_array_free(gids);
  mlx_array_free(got);
  cmlx_model_free(m);
}

/* The model quantized: logits error against the float model's. bound is
 * twice the value measured when the test was written. */
static void test_quantized(int group_size, int bits, const char* mode,
                           double bound) {
  cmlx_model* m = NULL;
  CHECK_OK(cmlx_model_load(&m, LLAMA_DIR, test_stream));
  if (!m) return;
  CHECK_OK(cmlx_model_quantize(m, group_size, bits, mode, NULL, NULL));
  cmlx_model_info info;
  CHECK_OK(cmlx_model_get_info(&info, m));
  CHECK(info.quantized && info.num_quantized_layers == 16 &&
        info.num_float_layers == 0);
  CHECK(info.quant.group_size == group_size && info.quant.bits == bits &&
        strcmp(info.quant.mode, mode) == 0);
  mlx_array ids = ref("input_ids"), want = ref("logits");
  mlx_array got = model_logits(m, ids);
  double err = model_rel_err(got, want);
  fprintf(stderr, "tiny-llama %s %d-bit g%d: relative logits error %.4g "
          "(bound %.4g), %llu weight bytes\n", mode, bits, group_size, err,
          bound, (unsigned long long)info.weight_bytes);
  CHECK_MSG(err < bound, "%s %d-bit g%d: error %g >= %g", mode, bits,
            group_size, err, bound);
  CHECK(err > 0); /* it did change something */
  mlx_array_free(ids);
  mlx_array_free(want);
  mlx_array_free(got);
  cmlx_model_free(m);
}

/* ---- rope frequencies ---- */

static void check_rope(const char* config, const char* type, float mscale,
                       const double* periods, int half) {
  json_doc doc = {0};
  json_error err;
  CHECK(json_parse(config, strlen(config), &doc, &err) == 0);
  rope_config r;
  CHECK_OK(rope_init(&r, doc.root, 2 * half, "config.json"));
  CHECK(strcmp(r.type, type) == 0);
  CHECK_MSG(fabsf(r.mscale - mscale) < 1e-6f, "%s mscale %g", type, r.mscale);
  if (periods) {
    double* f = r.freqs.ctx ? test_to_f64(r.freqs) : NULL;
    CHECK(f != NULL);
    for (int i = 0; f && i < half; i++)
      CHECK_MSG(fabs(f[i] - periods[i]) <= 2e-6 * periods[i],
                "%s period %d: %.9g, expected %.9g", type, i, f[i],
                periods[i]);
    free(f);
  } else {
    CHECK(r.freqs.ctx == NULL);
  }
  rope_free(&r);
  json_doc_free(&doc);
}

static void test_rope(void) {
  /* periods (1 / inv_freq) computed with Hugging Face's formulas */
  static const double yarn[16] = {
      1.0,        2.10622956, 4.43620296, 9.34366181, 19.6798967, 51.7196763,
      147.167912, 477.602273, 2190.65767, 26103.6544, 54980.2886, 115801.109,
      243903.719, 513717.223, 1082006.4,  2278953.87};
  static const double llama3[16] = {
      1.0,        2.27083524, 12.5939811, 93.6799958, 212.731836, 483.07895,
      1096.9927,  2491.08969, 5656.85425, 12845.784,  29170.6589, 66241.7603,
      150424.124, 341588.401, 775690.979, 1761466.41};
  /* GPT-OSS fixture form (transformers 5) */
  check_rope("{\"max_position_embeddings\": 4096, \"rope_parameters\": "
             "{\"beta_fast\": 32.0, \"beta_slow\": 1.0, \"factor\": 32.0, "
             "\"original_max_position_embeddings\": 4096, \"rope_theta\": "
             "150000.0, \"rope_type\": \"yarn\", \"truncate\": false}}",
             "yarn", 1.34657359f, yarn, 16);
  /* older form: rope_theta on top, "rope_scaling" with "type" */
  check_rope("{\"rope_theta\": 150000, \"max_position_embeddings\": 131072, "
             "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 32, "
             "\"original_max_position_embeddings\": 4096, \"truncate\": "
             "false}}", "yarn", 1.34657359f, yarn, 16);
  check_rope("{\"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": "
             "\"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
             "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": "
             "64}}", "llama3", 1.0f, llama3, 16);
  check_rope("{\"rope_parameters\": {\"rope_theta\": 10000.0, \"rope_type\": "
             "\"default\"}}", "default", 1.0f, NULL, 16);
  json_doc doc = {0};
  json_error err;
  const char* bad = "{\"rope_scaling\": {\"rope_type\": \"dynamic\", "
                    "\"factor\": 2.0}}";
  CHECK(json_parse(bad, strlen(bad), &doc, &err) == 0);
  rope_config r;
  EXPECT_ERROR(rope_init(&r, doc.root, 32, "x/config.json"),
               "[load] x/config.json: unsupported rope type \"dynamic\".");
  json_doc_free(&doc);
}

/* ---- the rotating cache: decode and chunked prefill over a sliding window
 * give what one pass with a window mask gives ---- */

static mlx_array slice_t(mlx_array a, int t0, int t1) {
  mlx_array r = mlx_array_new();
  const int* sh = mlx_array_shape(a);
  int start[4] = {0, 0, t0, 0}, stop[4] = {sh[0], sh[1], t1, sh[3]};
  int str[4] = {1, 1, 1, 1};
  CHECK_OK(mlx_slice(&r, a, start, 4, stop, 4, str, 4, test_stream));
  return r;
}

static mlx_array randn(const int* shape, int seed) {
  mlx_array key = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_random_key(&key, (uint64_t)seed));
  CHECK_OK(mlx_random_normal(&r, shape, 4, MLX_FLOAT32, 0, 1, key,
                             test_stream));
  mlx_array_free(key);
  return r;
}

static void test_rotating_cache(int window, bool with_sinks) {
  int T = 41, D = 16;
  mlx_array q = randn((int[]){1, 4, T, D}, 1);
  mlx_array k = randn((int[]){1, 2, T, D}, 2);
  mlx_array v = randn((int[]){1, 2, T, D}, 3);
  mlx_array sinks = with_sinks
                        ? test_array_f32((float[]){0.5f, -1.0f, 2.0f, 0.0f},
                                         (int[]){4}, 1)
                        : mlx_array_new();
  float scale = 0.25f;
  mlx_array full = mlx_array_new();
  CHECK_OK(model_attention(&full, NULL, window, q, k, v, scale, sinks,
                           test_stream));
  /* chunks: prefill 5, decode 13 (wraps the ring), prefill 6 after the
   * wrap, decode 4, prefill 12 (longer than the window), decode 1 */
  int chunks[] = {5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                  6, 1, 1, 1, 1, 12, 1};
  kv_cache c;
  memset(&c, 0, sizeof c);
  c.window = window;
  c.step = 256;
  int at = 0;
  for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
    int n = chunks[i];
    mlx_array qs = slice_t(q, at, at + n), ks = slice_t(k, at, at + n),
              vs = slice_t(v, at, at + n), ref = slice_t(full, at, at + n);
    mlx_array o = mlx_array_new();
    CHECK_OK(model_attention(&o, &c, 0, qs, ks, vs, scale, sinks,
                             test_stream));
    double* x = test_to_f64(o);
    double* y = test_to_f64(ref);
    double md = 0;
    for (size_t j = 0; x && y && j < mlx_array_size(ref); j++)
      md = fmax(md, fabs(x[j] - y[j]));
    CHECK_MSG(x && y && mlx_array_size(o) == mlx_array_size(ref) && md < 1e-5,
              "window %d chunk %zu (positions %d..%d): max diff %g", window, i,
              at, at + n - 1, md);
    free(x);
    free(y);
    CHECK(c.offset == at + n);
    CHECK(mlx_array_dim(c.keys, 2) <= window);
    at += n;
    mlx_array* all[] = {&qs, &ks, &vs, &ref, &o};
    for (size_t j = 0; j < 5; j++) mlx_array_free(*all[j]);
  }
  CHECK(at == T);
  mlx_array_free(c.keys);
  mlx_array_free(c.values);
  mlx_array_free(q);
  mlx_array_free(k);
  mlx_array_free(v);
  mlx_array_free(full);
  if (sinks.ctx) mlx_array_free(sinks);
}

int main(void) {
  test_init();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  refs = mlx_map_string_to_array_new();
  CHECK_OK(mlx_load_safetensors(&refs, &meta,
                                LLAMA_DIR "/reference.safetensors",
                                test_stream));
  test_float();
  test_rope();
  test_rotating_cache(8, false);
  test_rotating_cache(8, true);
  test_rotating_cache(3, true);
  /* Bounds: twice the error measured when this was written (x86-64,
   * float32; max |quantized - reference| / max |reference| over all 40 x
   * 512 logits; the model's random weights make 4-bit errors large). */
  test_quantized(64, 8, "affine", 0.0273); /* measured 0.01364 */
  test_quantized(64, 4, "affine", 0.359);  /* measured 0.1796 */
  test_quantized(32, 4, "affine", 0.332);  /* measured 0.1658 */
  test_quantized(32, 4, "mxfp4", 0.475);   /* measured 0.2373 */
  mlx_map_string_to_array_free(refs);
  mlx_map_string_to_string_free(meta);
  return test_finish("test_model_llama");
}
