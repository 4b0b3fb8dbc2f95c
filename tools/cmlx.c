/* cmlx.c - the `cmlx` command-line program: main, argument helpers and the
 * generation loop the commands share. See tool.h and the README. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tool.h"

static const char usage[] =
    "usage: cmlx <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3)\n"
    "           [--max-tokens N] [--temp T] [--top-p P] [--seed S]\n"
    "           [--device cpu|gpu] [--print-ids]\n"
    "      generate text, streaming it as it comes\n"
    "  info DIR\n"
    "      architecture, sizes, quantization and files of a model\n"
    "  bench (DIR | --random CONFIG.json [--q-mode M --q-bits B\n"
    "        --q-group-size G] [--dtype D] [--seed S])\n"
    "        [--prompt-tokens N] [--decode-tokens N] [--repeat N]\n"
    "        [--read-bw GB/S (given instead of measured)]\n"
    "      prefill and decode tokens/s against the memory roofline\n"
    "  convert HF_DIR OUT_DIR [-q [--q-bits B] [--q-group-size G]\n"
    "          [--q-mode MODE]] [--dtype float16|bfloat16|float32]\n"
    "      write an mlx-lm directory (optionally quantized)\n"
    "  demo [--tokens N] [--prompt-tokens N] [--seed S] [--arch gpt_oss|llama]\n"
    "      a small GPT-OSS-shaped random model in float, mxfp4, affine 4-bit\n"
    "      and 8-bit: speed and agreement (what ./run.sh runs)\n"
    "  help\n";

/* ---- messages ---- */

static char last_error[4096];
static bool have_error;

static void record_error(const char* msg, void* data) {
  (void)data;
  snprintf(last_error, sizeof last_error, "%s", msg);
  have_error = true;
}

void tool_clear_error(void) {
  have_error = false;
  last_error[0] = 0;
}

int tool_fail(const char* cmd, const char* fmt, ...) {
  fflush(stdout);
  fprintf(stderr, "cmlx %s: ", cmd);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

int tool_fail_lib(const char* cmd, const char* what) {
  int rc = tool_fail(cmd, "%s", have_error ? last_error : what);
  tool_clear_error();
  return rc;
}

/* ---- arguments ---- */

int opt_value(const char* cmd, int argc, char** argv, int* i,
              const char* name, const char** value) {
  const char* a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0) return 0;
  if (a[n] == '=') {
    *value = a + n + 1;
    return 1;
  }
  if (a[n] != 0) return 0;
  if (*i + 1 >= argc) {
    tool_fail(cmd, "%s needs a value", name);
    return -1;
  }
  *value = argv[++*i];
  return 1;
}

int parse_int(const char* cmd, const char* opt, const char* s, long lo,
              long hi, long* out) {
  char* end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < lo || v > hi)
    return tool_fail(cmd, "%s needs an integer in [%ld, %ld], got '%s'", opt,
                     lo, hi, s);
  *out = v;
  return 0;
}

int opt_quant(const char* cmd, int argc, char** argv, int* i, const char** mode, long* bits,
              long* group, bool* given) {
  const char* v = NULL;
  int r;
  if ((r = opt_value(cmd, argc, argv, i, "--q-mode", &v))) {
    if (r > 0) *mode = v;
  } else if ((r = opt_value(cmd, argc, argv, i, "--q-bits", &v))) {
    if (r > 0 && parse_int(cmd, "--q-bits", v, 1, 8, bits)) r = -1;
  } else if ((r = opt_value(cmd, argc, argv, i, "--q-group-size", &v))) {
    if (r > 0 && parse_int(cmd, "--q-group-size", v, 1, 1 << 16, group)) r = -1;
  }
  if (r > 0) *given = true;
  return r;
}

int parse_u64(const char* cmd, const char* opt, const char* s, uint64_t* out) {
  char* end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *s == '-' || *end || errno)
    return tool_fail(cmd, "%s needs a non-negative integer, got '%s'", opt, s);
  *out = (uint64_t)v;
  return 0;
}

int parse_float(const char* cmd, const char* opt, const char* s, double lo,
                double hi, double* out) {
  char* end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno || !(v >= lo && v <= hi))
    return tool_fail(cmd, "%s needs a number in [%g, %g], got '%s'", opt, lo,
                     hi, s);
  *out = v;
  return 0;
}

int parse_ids(const char* cmd, const char* opt, const char* s, int32_t** ids,
              int* n) {
  int cap = 16, count = 0;
  int32_t* v = malloc((size_t)cap * sizeof *v);
  if (!v) return tool_fail(cmd, "out of memory");
  const char* p = s;
  for (;;) {
    char* end = NULL;
    errno = 0;
    long x = strtol(p, &end, 10);
    if (end == p || errno || x < 0 || x > INT32_MAX ||
        (*end != ',' && *end != 0)) {
      free(v);
      return tool_fail(cmd,
                       "%s needs comma-separated token ids (integers >= 0), "
                       "got '%s'",
                       opt, s);
    }
    if (count == cap) {
      cap *= 2;
      int32_t* w = realloc(v, (size_t)cap * sizeof *v);
      if (!w) {
        free(v);
        return tool_fail(cmd, "out of memory");
      }
      v = w;
    }
    v[count++] = (int32_t)x;
    if (*end == 0) break;
    p = end + 1;
  }
  *ids = v;
  *n = count;
  return 0;
}

int tool_stream(const char* cmd, const char* device, mlx_stream* s) {
  if (!device || strcmp(device, "cpu") == 0) {
    *s = mlx_default_cpu_stream_new();
    if (!s->ctx) return tool_fail_lib(cmd, "no CPU stream");
    return 0;
  }
  if (strcmp(device, "gpu") == 0) {
    tool_clear_error();
    *s = mlx_default_gpu_stream_new();
    if (!s->ctx)
      return tool_fail_lib(cmd, "no GPU is available in this build");
    return 0;
  }
  return tool_fail(cmd, "--device must be cpu or gpu, got '%s'", device);
}

/* ---- measuring ---- */

double tool_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

uint64_t tool_peak_rss(void) {
  struct rusage u;
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return (uint64_t)u.ru_maxrss * 1024; /* Linux: kilobytes */
}

const char* tool_bytes(char* buf, size_t n, uint64_t bytes) {
  double b = (double)bytes;
  if (b >= 1e9)
    snprintf(buf, n, "%.2f GB", b / 1e9);
  else if (b >= 1e6)
    snprintf(buf, n, "%.1f MB", b / 1e6);
  else if (b >= 1e3)
    snprintf(buf, n, "%.1f kB", b / 1e3);
  else
    snprintf(buf, n, "%llu B", (unsigned long long)bytes);
  return buf;
}

const char* tool_dtype_name(mlx_dtype t) {
  static const char* const names[] = {
      [MLX_BOOL] = "bool",       [MLX_UINT8] = "uint8",
      [MLX_UINT16] = "uint16",   [MLX_UINT32] = "uint32",
      [MLX_UINT64] = "uint64",   [MLX_INT8] = "int8",
      [MLX_INT16] = "int16",     [MLX_INT32] = "int32",
      [MLX_INT64] = "int64",     [MLX_FLOAT16] = "float16",
      [MLX_FLOAT32] = "float32", [MLX_FLOAT64] = "float64",
      [MLX_BFLOAT16] = "bfloat16", [MLX_COMPLEX64] = "complex64"};
  unsigned i = (unsigned)t;
  return i < sizeof names / sizeof names[0] && names[i] ? names[i]
                                                        : "unknown";
}

int parse_float_dtype(const char* cmd, const char* s, mlx_dtype* out) {
  static const mlx_dtype floats[3] = {MLX_FLOAT16, MLX_BFLOAT16, MLX_FLOAT32};
  for (int i = 0; i < 3; i++)
    if (strcmp(s, tool_dtype_name(floats[i])) == 0) {
      *out = floats[i];
      return 0;
    }
  return tool_fail(cmd, "--dtype must be float16, bfloat16 or float32, "
                        "got '%s'", s);
}

/* ---- generation ---- */

/* logits [1, L, V] -> the last position's row [1, 1, V] (lazy). */
static int last_row(mlx_array* out, const mlx_array logits,
                    const mlx_stream s) {
  const int* sh = mlx_array_shape(logits);
  if (mlx_array_ndim(logits) != 3) {
    record_error("[generate] the model returned logits of an unexpected rank",
                 NULL);
    return 1;
  }
  int start[3] = {0, sh[1] - 1, 0}, stop[3] = {sh[0], sh[1], sh[2]},
      step[3] = {1, 1, 1};
  return mlx_slice(out, logits, start, 3, stop, 3, step, 3, s);
}

int tool_generate(cmlx_model* m, const int32_t* prompt, int n_prompt,
                  int max_tokens, float temp, float top_p, uint64_t seed,
                  token_fn on_token, void* ctx, mlx_array* prompt_logits,
                  gen_stats* st, const mlx_stream s) {
  memset(st, 0, sizeof *st);
  st->prompt_tokens = n_prompt;
  int rc = 1;
  cmlx_cache* cache = NULL;
  mlx_array key = mlx_array_new(), tokens = mlx_array_new(),
            logits = mlx_array_new(), last = mlx_array_new(),
            tok = mlx_array_new();
  if (n_prompt < 1) {
    record_error("[generate] the prompt is empty", NULL);
    goto done;
  }
  if (temp > 0 && mlx_random_key(&key, seed)) goto done;
  if (cmlx_cache_new(&cache, m)) goto done;
  int shape[2] = {1, n_prompt};
  mlx_array_free(tokens);
  tokens = mlx_array_new_data(prompt, shape, 2, MLX_INT32);
  double t0 = tool_now(), t_first = t0;
  for (int i = 0; i < max_tokens; i++) {
    if (cmlx_model_forward(&logits, m, tokens, cache, s)) goto done;
    if (i == 0 && prompt_logits) {
      mlx_array f = mlx_array_new(), r = mlx_array_new();
      int sh2[2] = {n_prompt, mlx_array_dim(logits, 2)};
      if (mlx_astype(&f, logits, MLX_FLOAT32, s) ||
          mlx_reshape(&r, f, sh2, 2, s) || mlx_array_eval(r)) {
        mlx_array_free(f);
        mlx_array_free(r);
        goto done;
      }
      mlx_array_free(f);
      mlx_array_set(prompt_logits, r);
      mlx_array_free(r);
    }
    if (last_row(&last, logits, s)) goto done;
    if (cmlx_sample(&tok, last, temp, top_p, &key, s)) goto done;
    if (mlx_array_eval(tok)) goto done;
    int32_t id = 0;
    if (mlx_array_item_int32(&id, tok)) goto done;
    double t = tool_now();
    if (i == 0) {
      t_first = t;
      st->prompt_s = t - t0;
    } else {
      st->decode_s = t - t_first;
    }
    st->gen_tokens = i + 1;
    if (on_token && on_token(id, ctx)) break;
    /* the next step's input: the token just chosen, [1, 1] */
    int one[2] = {1, 1};
    if (mlx_reshape(&tokens, tok, one, 2, s)) goto done;
  }
  rc = 0;
done:
  cmlx_cache_free(cache);
  mlx_array_free(key);
  mlx_array_free(tokens);
  mlx_array_free(logits);
  mlx_array_free(last);
  mlx_array_free(tok);
  return rc;
}

/* ---- main ---- */

int main(int argc, char** argv) {
  mlx_set_error_handler(record_error, NULL, NULL);
  if (argc < 2) {
    fputs(usage, stderr);
    return 1;
  }
  const char* cmd = argv[1];
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  static const struct {
    const char* name;
    int (*fn)(int, char**);
  } cmds[] = {{"generate", cmd_generate},
              {"info", cmd_info},
              {"bench", cmd_bench},
              {"convert", cmd_convert},
              {"demo", cmd_demo}};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (strcmp(cmd, cmds[i].name) == 0) return cmds[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "cmlx: unknown command '%s' (try 'cmlx help')\n", cmd);
  return 1;
}
