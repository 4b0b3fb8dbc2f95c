/* generate.c - `cmlx generate`: text (or token ids) from a model directory,
 * streamed as it comes; speed and peak memory on stderr at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmlx/tokenizer.h"
#include "tool.h"

typedef struct stream_ctx {
  cmlx_tokenizer tok;    /* ctx NULL: print ids */
  cmlx_detokenizer detok;
  bool print_ids;
  int printed;
  int failed;            /* the detokenizer refused an id */
} stream_ctx;

static bool on_token(int32_t id, void* p) {
  stream_ctx* c = p;
  if (c->tok.ctx && cmlx_tokenizer_is_eos(c->tok, id)) return true;
  if (c->print_ids || !c->detok.ctx) {
    printf(c->printed ? " %d" : "%d", (int)id);
  } else {
    const char* text = NULL;
    size_t len = 0;
    if (cmlx_detokenizer_add(c->detok, id, &text, &len)) {
      c->failed = 1;
      return true;
    }
    if (len) fwrite(text, 1, len, stdout);
  }
  c->printed++;
  fflush(stdout);
  return false;
}

static bool is_file(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cmd_generate(int argc, char** argv) {
  const char* cmd = "generate";
  const char *model_dir = NULL, *prompt = NULL, *prompt_ids = NULL,
             *device = "cpu", *v = NULL;
  long max_tokens = 256;
  double temp = 0.0, top_p = 1.0;
  uint64_t seed = 0;
  bool print_ids = false;
  for (int i = 1; i < argc; i++) {
    int r;
    if ((r = opt_value(cmd, argc, argv, &i, "--model", &v))) {
      if (r < 0) return 1;
      model_dir = v;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--prompt", &v))) {
      if (r < 0) return 1;
      prompt = v;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--prompt-ids", &v))) {
      if (r < 0) return 1;
      prompt_ids = v;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--max-tokens", &v))) {
      if (r < 0 || parse_int(cmd, "--max-tokens", v, 1, 1 << 24, &max_tokens))
        return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--temp", &v))) {
      if (r < 0 || parse_float(cmd, "--temp", v, 0, 1e6, &temp)) return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--top-p", &v))) {
      if (r < 0 || parse_float(cmd, "--top-p", v, 0, 1, &top_p)) return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--seed", &v))) {
      if (r < 0 || parse_u64(cmd, "--seed", v, &seed)) return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--device", &v))) {
      if (r < 0) return 1;
      device = v;
    } else if (strcmp(argv[i], "--print-ids") == 0) {
      print_ids = true;
    } else {
      return tool_fail(cmd, "unknown argument '%s'", argv[i]);
    }
  }
  if (!model_dir) return tool_fail(cmd, "--model DIR is required");
  if (!prompt == !prompt_ids)
    return tool_fail(cmd, "give exactly one of --prompt TEXT and --prompt-ids "
                          "1,2,3");
  if (strcmp(device, "cpu") != 0 && strcmp(device, "gpu") != 0)
    return tool_fail(cmd, "--device must be cpu or gpu, got '%s'", device);

  int rc = 1;
  mlx_stream s = {0};
  cmlx_model* m = NULL;
  stream_ctx sc = {0};
  int32_t* ids = NULL;
  int n_ids = 0;
  char* tok_path = NULL;

  if (prompt_ids && parse_ids(cmd, "--prompt-ids", prompt_ids, &ids, &n_ids))
    goto done;
  if (tool_stream(cmd, device, &s)) goto done;

  /* the tokenizer: required for --prompt, used for output when present */
  size_t n = strlen(model_dir) + 32;
  tok_path = malloc(n);
  if (!tok_path) {
    tool_fail(cmd, "out of memory");
    goto done;
  }
  snprintf(tok_path, n, "%s/tokenizer.json", model_dir);
  if (is_file(tok_path)) {
    if (cmlx_tokenizer_load(&sc.tok, model_dir)) {
      tool_fail_lib(cmd, "cannot load the tokenizer");
      goto done;
    }
    if (!print_ids && cmlx_detokenizer_new(&sc.detok, sc.tok, true)) {
      tool_fail_lib(cmd, "cannot make a detokenizer");
      goto done;
    }
  } else if (prompt) {
    tool_fail(cmd, "%s has no tokenizer.json: use --prompt-ids", model_dir);
    goto done;
  }
  if (prompt) {
    size_t count = 0;
    if (cmlx_tokenizer_encode(sc.tok, prompt, strlen(prompt), true, &ids,
                              &count)) {
      tool_fail_lib(cmd, "cannot encode the prompt");
      goto done;
    }
    n_ids = (int)count;
    if (n_ids == 0) {
      tool_fail(cmd, "the prompt encodes to no tokens");
      goto done;
    }
  }
  sc.print_ids = print_ids;

  if (cmlx_model_load(&m, model_dir, s)) {
    tool_fail_lib(cmd, "cannot load the model");
    goto done;
  }
  cmlx_model_info info;
  if (cmlx_model_get_info(&info, m)) {
    tool_fail_lib(cmd, "cannot read the model's sizes");
    goto done;
  }
  for (int i = 0; i < n_ids; i++)
    if (ids[i] >= info.vocab_size) {
      tool_fail(cmd, "prompt token %d is outside the vocabulary (size %d)",
                (int)ids[i], info.vocab_size);
      goto done;
    }

  gen_stats st;
  if (tool_generate(m, ids, n_ids, (int)max_tokens, (float)temp,
                    (float)top_p, seed, on_token, &sc, NULL, &st, s)) {
    tool_fail_lib(cmd, "generation failed");
    goto done;
  }
  if (sc.failed) {
    tool_fail_lib(cmd, "cannot decode a generated token");
    goto done;
  }
  if (sc.detok.ctx) {
    const char* text = NULL;
    size_t len = 0;
    if (cmlx_detokenizer_finish(sc.detok, &text, &len) == 0 && len)
      fwrite(text, 1, len, stdout);
  }
  printf("\n");
  fflush(stdout);
  char b[32];
  fprintf(stderr, "==========\n");
  fprintf(stderr, "Prompt: %d tokens, %.3f tokens-per-sec\n", st.prompt_tokens,
          st.prompt_s > 0 ? st.prompt_tokens / st.prompt_s : 0.0);
  fprintf(stderr, "Generation: %d tokens, %.3f tokens-per-sec\n",
          st.gen_tokens,
          st.decode_s > 0 ? (st.gen_tokens - 1) / st.decode_s : 0.0);
  fprintf(stderr, "Peak memory: %s (resident set)\n",
          tool_bytes(b, sizeof b, tool_peak_rss()));
  rc = 0;
done:
  if (m) cmlx_model_free(m);
  if (sc.detok.ctx) cmlx_detokenizer_free(sc.detok);
  if (sc.tok.ctx) cmlx_tokenizer_free(sc.tok);
  if (s.ctx) mlx_stream_free(s);
  free(ids);
  free(tok_path);
  return rc;
}
