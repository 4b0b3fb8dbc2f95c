/* demo.c - `cmlx demo` (what ./run.sh runs with no arguments): a small
 * GPT-OSS-shaped model with random weights from a fixed seed, in float32,
 * then quantized to mxfp4, affine 4-bit and (for scale) affine 8-bit; each
 * generates greedily from
 * the same prompt ids. Reports speed and how closely the quantized models
 * follow the float one: the logits' relative error over the prompt
 * (max |q - f| / max |f|), how often the prompt positions' top token
 * agrees, and how many greedy tokens agree. Needs no download. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* GPT-OSS's layout (alternating sliding / full attention with sinks, top-k
 * experts, YaRN rope) at a size that builds and runs in seconds. */
static const char demo_config[] =
    "{\n"
    "  \"model_type\": \"gpt_oss\",\n"
    "  \"hidden_size\": 512,\n"
    "  \"intermediate_size\": 512,\n"
    "  \"num_hidden_layers\": 6,\n"
    "  \"num_attention_heads\": 8,\n"
    "  \"num_key_value_heads\": 2,\n"
    "  \"head_dim\": 64,\n"
    "  \"num_local_experts\": 16,\n"
    "  \"num_experts_per_tok\": 4,\n"
    "  \"vocab_size\": 8192,\n"
    "  \"rms_norm_eps\": 1e-05,\n"
    "  \"sliding_window\": 128,\n"
    "  \"layer_types\": [\"sliding_attention\", \"full_attention\",\n"
    "                  \"sliding_attention\", \"full_attention\",\n"
    "                  \"sliding_attention\", \"full_attention\"],\n"
    "  \"attention_bias\": true,\n"
    "  \"tie_word_embeddings\": false,\n"
    "  \"max_position_embeddings\": 131072,\n"
    "  \"rope_parameters\": {\"rope_type\": \"yarn\", \"rope_theta\": 150000.0,\n"
    "    \"factor\": 32.0, \"beta_fast\": 32.0, \"beta_slow\": 1.0,\n"
    "    \"original_max_position_embeddings\": 4096, \"truncate\": false},\n"
    "  \"eos_token_id\": null\n"
    "}\n";

/* The same sizes in Llama's layout (`cmlx demo --arch llama`). */
static const char demo_config_llama[] =
    "{\n"
    "  \"model_type\": \"llama\",\n"
    "  \"hidden_size\": 512,\n"
    "  \"intermediate_size\": 2048,\n"
    "  \"num_hidden_layers\": 6,\n"
    "  \"num_attention_heads\": 8,\n"
    "  \"num_key_value_heads\": 2,\n"
    "  \"head_dim\": 64,\n"
    "  \"vocab_size\": 8192,\n"
    "  \"rms_norm_eps\": 1e-05,\n"
    "  \"tie_word_embeddings\": false,\n"
    "  \"rope_theta\": 500000.0\n"
    "}\n";

typedef struct tokens {
  int32_t* ids;
  int n, cap;
} tokens;

static bool collect(int32_t id, void* ctx) {
  tokens* t = ctx;
  if (t->n < t->cap) t->ids[t->n++] = id;
  return false;
}

typedef struct result {
  const char* name;
  uint64_t weight_bytes;
  double build_s, prefill_tps, decode_tps;
  double logits_rel_err;   /* against float */
  double prompt_top1;      /* fraction of prompt positions with float's top */
  double greedy_equal;     /* fraction of generated tokens equal to float's */
  int first_divergence;    /* index of the first differing token, or -1 */
} result;

static int argmax_row(const float* r, int v) {
  int best = 0;
  for (int j = 1; j < v; j++)
    if (r[j] > r[best]) best = j;
  return best;
}

/* Builds (and quantizes, when mode) the model, generates, compares with
 * ref (NULL for the float run, which fills ref_logits / ref_ids). */
static int run_variant(const char* cmd, const char* config, result* res,
                       const char* mode,
                       int bits, int group, uint64_t seed,
                       const int32_t* prompt, int n_prompt, int n_gen,
                       float** ref_logits, int32_t* ref_ids, int* vocab,
                       const mlx_stream s) {
  int rc = 1;
  cmlx_model* m = NULL;
  mlx_array logits = mlx_array_new();
  tokens out = {malloc((size_t)n_gen * sizeof(int32_t)), 0, n_gen};
  if (!out.ids) {
    tool_fail(cmd, "out of memory");
    goto done;
  }
  double t0 = tool_now();
  if (cmlx_model_random(&m, config, NULL, MLX_FLOAT32, seed, s)) {
    tool_fail_lib(cmd, "cannot build the random model");
    goto done;
  }
  if (mode && cmlx_model_quantize(m, group, bits, mode, NULL, NULL)) {
    tool_fail_lib(cmd, "cannot quantize the model");
    goto done;
  }
  res->build_s = tool_now() - t0;
  cmlx_model_info info;
  if (cmlx_model_get_info(&info, m)) {
    tool_fail_lib(cmd, "cannot read the model's sizes");
    goto done;
  }
  res->weight_bytes = info.weight_bytes;
  gen_stats st;
  if (tool_generate(m, prompt, n_prompt, n_gen, 0.0f, 1.0f, 0, collect, &out,
                    &logits, &st, s)) {
    tool_fail_lib(cmd, "generation failed");
    goto done;
  }
  res->prefill_tps = n_prompt / st.prompt_s;
  res->decode_tps = st.gen_tokens > 1 ? (st.gen_tokens - 1) / st.decode_s : 0;
  int v = mlx_array_dim(logits, 1);
  const float* lg = mlx_array_data_float32(logits);
  if (!lg) {
    tool_fail_lib(cmd, "cannot read the logits");
    goto done;
  }
  size_t count = (size_t)n_prompt * (size_t)v;
  if (!*ref_logits) {
    *vocab = v;
    *ref_logits = malloc(count * sizeof(float));
    if (!*ref_logits) {
      tool_fail(cmd, "out of memory");
      goto done;
    }
    memcpy(*ref_logits, lg, count * sizeof(float));
    for (int i = 0; i < n_gen; i++) ref_ids[i] = i < out.n ? out.ids[i] : -1;
    res->prompt_top1 = 1;
    res->greedy_equal = 1;
    res->first_divergence = -1;
  } else {
    const float* f = *ref_logits;
    double max_diff = 0, max_ref = 0;
    for (size_t i = 0; i < count; i++) {
      double d = fabs((double)lg[i] - f[i]), r = fabs((double)f[i]);
      if (d > max_diff) max_diff = d;
      if (r > max_ref) max_ref = r;
    }
    res->logits_rel_err = max_ref > 0 ? max_diff / max_ref : max_diff;
    int top = 0;
    for (int i = 0; i < n_prompt; i++)
      top += argmax_row(lg + (size_t)i * v, v) ==
             argmax_row(f + (size_t)i * v, v);
    res->prompt_top1 = (double)top / n_prompt;
    int eq = 0;
    res->first_divergence = -1;
    for (int i = 0; i < n_gen; i++) {
      bool same = i < out.n && out.ids[i] == ref_ids[i];
      eq += same;
      if (!same && res->first_divergence < 0) res->first_divergence = i;
    }
    res->greedy_equal = (double)eq / n_gen;
  }
  rc = 0;
done:
  if (m) cmlx_model_free(m);
  mlx_array_free(logits);
  free(out.ids);
  return rc;
}

int cmd_demo(int argc, char** argv) {
  const char* cmd = "demo";
  const char* v = NULL;
  const char* config = demo_config;
  long n_gen = 32, n_prompt = 64;
  uint64_t seed = 7;
  for (int i = 1; i < argc; i++) {
    int r;
    if ((r = opt_value(cmd, argc, argv, &i, "--tokens", &v))) {
      if (r < 0 || parse_int(cmd, "--tokens", v, 1, 4096, &n_gen)) return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--prompt-tokens", &v))) {
      if (r < 0 || parse_int(cmd, "--prompt-tokens", v, 1, 4096, &n_prompt))
        return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--seed", &v))) {
      if (r < 0 || parse_u64(cmd, "--seed", v, &seed)) return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--arch", &v))) {
      if (r < 0) return 1;
      if (strcmp(v, "gpt_oss") == 0)
        config = demo_config;
      else if (strcmp(v, "llama") == 0)
        config = demo_config_llama;
      else
        return tool_fail(cmd, "--arch must be gpt_oss or llama, got '%s'", v);
    } else {
      return tool_fail(cmd, "unknown argument '%s'", argv[i]);
    }
  }
  int rc = 1;
  mlx_stream s = mlx_default_cpu_stream_new();
  int32_t* prompt = malloc((size_t)n_prompt * sizeof *prompt);
  int32_t* ref_ids = malloc((size_t)n_gen * sizeof *ref_ids);
  float* ref_logits = NULL;
  int vocab = 0;
  result res[4] = {{.name = "float32"},
                   {.name = "mxfp4"},
                   {.name = "affine 4-bit g64"},
                   {.name = "affine 8-bit g64"}};
  if (!prompt || !ref_ids) {
    tool_fail(cmd, "out of memory");
    goto done;
  }
  printf("cmlx demo: a %s-shaped model with random weights (seed %llu), "
         "no download.\n",
         config == demo_config ? "GPT-OSS" : "Llama", (unsigned long long)seed);
  {
    cmlx_model* m = NULL;
    if (cmlx_model_random(&m, config, NULL, MLX_FLOAT32, seed, s)) {
      tool_fail_lib(cmd, "cannot build the random model");
      goto done;
    }
    tool_print_model(m, false);
    cmlx_model_info info;
    int bad = cmlx_model_get_info(&info, m);
    cmlx_model_free(m);
    if (bad) {
      tool_fail_lib(cmd, "cannot read the model's sizes");
      goto done;
    }
    uint64_t x = seed;
    for (long i = 0; i < n_prompt; i++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      prompt[i] = (int32_t)((x >> 33) % (uint64_t)info.vocab_size);
    }
  }
  printf("prompt: %ld fixed token ids; %ld tokens generated greedily per "
         "model\n\n",
         n_prompt, n_gen);
  fflush(stdout);
  const struct {
    const char* mode;
    int bits, group;
  } variants[4] = {{NULL, 0, 0},
                   {"mxfp4", 4, 32},
                   {"affine", 4, 64},
                   {"affine", 8, 64}};
  for (int k = 0; k < 4; k++) {
    if (run_variant(cmd, config, &res[k], variants[k].mode, variants[k].bits,
                    variants[k].group, seed, prompt, (int)n_prompt,
                    (int)n_gen, &ref_logits, ref_ids, &vocab, s))
      goto done;
    char b[32];
    printf("%-17s weights %9s  built in %5.2f s  prefill %8.1f tok/s  "
           "decode %7.1f tok/s\n",
           res[k].name, tool_bytes(b, sizeof b, res[k].weight_bytes),
           res[k].build_s, res[k].prefill_tps, res[k].decode_tps);
    if (k > 0)
      printf("%-17s vs float32: logits rel. error %.4f, prompt top-1 agrees "
             "%.0f%%, greedy tokens equal %.0f%% (first difference: %s%d)\n",
             "", res[k].logits_rel_err, 100 * res[k].prompt_top1,
             100 * res[k].greedy_equal,
             res[k].first_divergence < 0 ? "none, " : "token ",
             res[k].first_divergence < 0 ? (int)n_gen
                                         : res[k].first_divergence);
    fflush(stdout);
  }
  printf("\n(random weights give nearly flat next-token distributions: a "
         "small change of the\n logits changes the top token, so the logits' "
         "relative error tells more than\n the token agreement)\n\n");
  for (int k = 0; k < 4; k++)
    printf("{\"bench\":\"demo\",\"model\":\"%s\",\"weight_bytes\":%llu,"
           "\"prompt_tokens\":%ld,\"gen_tokens\":%ld,\"prefill_tokens_per_s\":"
           "%.4g,\"decode_tokens_per_s\":%.4g,\"logits_rel_err\":%.4g,"
           "\"prompt_top1_agreement\":%.4g,\"greedy_agreement\":%.4g}\n",
           res[k].name, (unsigned long long)res[k].weight_bytes, n_prompt,
           n_gen, res[k].prefill_tps, res[k].decode_tps,
           res[k].logits_rel_err, res[k].prompt_top1, res[k].greedy_equal);
  char b[32];
  printf("peak memory: %s (resident set)\n",
         tool_bytes(b, sizeof b, tool_peak_rss()));
  rc = 0;
done:
  mlx_stream_free(s);
  free(prompt);
  free(ref_ids);
  free(ref_logits);
  return rc;
}
