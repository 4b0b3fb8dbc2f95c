/* convert.c - `cmlx convert HF_DIR OUT_DIR`: load a checkpoint, optionally
 * cast its float weights and quantize it, and write mlx-lm's layout
 * (cmlx_model_save) plus the tokenizer's files. Progress goes to stderr: a
 * bar when stderr is a terminal, plain lines otherwise. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

/* ---- progress ---- */

typedef struct progress {
  bool tty;
  int done, total;
  const cmlx_model* m;
} progress;

static void progress_show(progress* p, const char* what) {
  if (!p->tty) return;
  int width = 30, fill = p->total > 0 ? p->done * width / p->total : width;
  if (fill > width) fill = width;
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
  bar[width] = 0;
  fprintf(stderr, "\r\033[K  quantizing [%s] %d/%d %.60s", bar, p->done,
          p->total, what);
  fflush(stderr);
}

/* Counts the layers for the progress bar and decides as a NULL predicate
 * would: a predicate given to cmlx_model_quantize replaces the
 * architecture's own rules (as in mlx-lm), so they are applied here (e.g.
 * GPT-OSS's router in affine 8-bit). */
static cmlx_quant_choice count_layer(const char* path, int in_features,
                                     int out_features, cmlx_quant_spec* custom,
                                     void* ctx) {
  progress* p = ctx;
  p->done++;
  progress_show(p, path);
  cmlx_quant_choice c = CMLX_QUANT_DEFAULT;
  /* fails only on NULL arguments, which it is never given here */
  cmlx_model_quant_rule(&c, p->m, path, in_features, out_features, custom);
  return c;
}

/* ---- files ---- */

static int copy_file(const char* from, const char* to) {
  int in = open(from, O_RDONLY);
  if (in < 0) return 1;
  int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) {
    close(in);
    return 1;
  }
  char buf[1 << 16];
  int rc = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      rc = n < 0;
      break;
    }
    for (ssize_t w = 0; w < n;) {
      ssize_t k = write(out, buf + w, (size_t)(n - w));
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        rc = 1;
        break;
      }
      w += k;
    }
    if (rc) break;
  }
  close(in);
  if (close(out) != 0) rc = 1;
  return rc;
}

static bool ends_with(const char* s, const char* suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The tokenizer's and generation's files that mlx-lm keeps next to the
 * weights. */
static bool tokenizer_file(const char* name) {
  static const char* names[] = {
      "tokenizer.json",     "tokenizer_config.json", "special_tokens_map.json",
      "generation_config.json", "tokenizer.model",   "vocab.json",
      "merges.txt",         "added_tokens.json"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0) return true;
  return strncmp(name, "chat_template.", 14) == 0 || ends_with(name, ".tiktoken");
}

/* Copies them from src to dst; returns the count, -1 after a message. */
static int copy_tokenizer(const char* cmd, const char* src, const char* dst) {
  DIR* d = opendir(src);
  if (!d) {
    tool_fail(cmd, "cannot list %s: %s", src, strerror(errno));
    return -1;
  }
  int count = 0;
  struct dirent* e;
  while ((e = readdir(d))) {
    if (!tokenizer_file(e->d_name)) continue;
    size_t n1 = strlen(src) + strlen(e->d_name) + 2;
    size_t n2 = strlen(dst) + strlen(e->d_name) + 2;
    char* a = malloc(n1);
    char* b = malloc(n2);
    int bad = !a || !b;
    if (!bad) {
      snprintf(a, n1, "%s/%s", src, e->d_name);
      snprintf(b, n2, "%s/%s", dst, e->d_name);
      struct stat st;
      if (stat(a, &st) == 0 && S_ISREG(st.st_mode)) {
        if (copy_file(a, b)) {
          tool_fail(cmd, "cannot copy %s to %s: %s", a, b, strerror(errno));
          bad = 1;
        } else {
          count++;
        }
      }
    }
    free(a);
    free(b);
    if (bad) {
      closedir(d);
      return -1;
    }
  }
  closedir(d);
  return count;
}

/* ---- the command ---- */

int cmd_convert(int argc, char** argv) {
  const char* cmd = "convert";
  const char *src = NULL, *dst = NULL, *q_mode = NULL, *dtype_name = NULL,
             *v = NULL;
  long q_bits = 0, q_group = 0;
  bool quantize = false, q_opts = false;
  for (int i = 1; i < argc; i++) {
    int r;
    if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quantize") == 0) {
      quantize = true;
    } else if ((r = opt_quant(cmd, argc, argv, &i, &q_mode, &q_bits, &q_group, &q_opts))) {
      if (r < 0) return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--dtype", &v))) {
      if (r < 0) return 1;
      dtype_name = v;
    } else if (argv[i][0] == '-' && argv[i][1] != 0) {
      return tool_fail(cmd, "unknown argument '%s'", argv[i]);
    } else if (!src) {
      src = argv[i];
    } else if (!dst) {
      dst = argv[i];
    } else {
      return tool_fail(cmd, "unexpected argument '%s'", argv[i]);
    }
  }
  if (!src || !dst)
    return tool_fail(cmd, "usage: cmlx convert HF_DIR OUT_DIR [-q ...] "
                          "[--dtype D]");
  if (q_opts && !quantize)
    return tool_fail(cmd, "--q-bits, --q-group-size and --q-mode need -q");
  bool cast = dtype_name != NULL;
  mlx_dtype dtype = MLX_FLOAT32;
  if (cast && parse_float_dtype(cmd, dtype_name, &dtype)) return 1;
  cmlx_quant_spec spec = {(int)q_group, (int)q_bits, q_mode};
  if (quantize && cmlx_quant_spec_resolve(&spec))
    return tool_fail_lib(cmd, "bad quantization");
  struct stat st;
  if (stat(src, &st) != 0 || !S_ISDIR(st.st_mode))
    return tool_fail(cmd, "%s is not a directory", src);
  if (stat(dst, &st) == 0)
    return tool_fail(cmd, "%s already exists: give a new directory", dst);

  bool tty = isatty(STDERR_FILENO);
  int rc = 1;
  char b[32];
  mlx_stream s = mlx_default_cpu_stream_new();
  cmlx_model* m = NULL;
  double t0 = tool_now();
  fprintf(stderr, "cmlx convert: loading %s\n", src);
  if (cmlx_model_load(&m, src, s)) {
    tool_fail_lib(cmd, "cannot load the model");
    goto done;
  }
  cmlx_model_info info;
  if (cmlx_model_get_info(&info, m)) {
    tool_fail_lib(cmd, "cannot read the model's sizes");
    goto done;
  }
  if (cast) {
    fprintf(stderr, "cmlx convert: casting float weights to %s\n",
            tool_dtype_name(dtype));
    if (cmlx_model_set_dtype(m, dtype)) {
      tool_fail_lib(cmd, "cannot cast the weights");
      goto done;
    }
    if (cmlx_model_get_info(&info, m)) {
      tool_fail_lib(cmd, "cannot read the model's sizes");
      goto done;
    }
  }
  if (quantize) {
    progress p = {tty, 0, info.num_float_layers, m};
    fprintf(stderr,
            "cmlx convert: quantizing %d layers (%s, %d bits, group %d)\n",
            info.num_float_layers, spec.mode, spec.bits, spec.group_size);
    int qrc = cmlx_model_quantize(m, spec.group_size, spec.bits, spec.mode,
                                  count_layer, &p);
    if (tty) fprintf(stderr, "\r\033[K");
    if (qrc) {
      tool_fail_lib(cmd, "cannot quantize the model");
      goto done;
    }
    if (cmlx_model_get_info(&info, m)) {
      tool_fail_lib(cmd, "cannot read the model's sizes");
      goto done;
    }
    fprintf(stderr, "cmlx convert: %d layers quantized, %d left in float\n",
            info.num_quantized_layers, info.num_float_layers);
  }
  fprintf(stderr, "cmlx convert: saving %s of weights to %s\n",
          tool_bytes(b, sizeof b, info.weight_bytes), dst);
  if (cmlx_model_save(m, dst)) {
    tool_fail_lib(cmd, "cannot save the model");
    goto done;
  }
  int copied = copy_tokenizer(cmd, src, dst);
  if (copied < 0) goto done;
  fprintf(stderr, "cmlx convert: done in %.1f s (%d tokenizer files copied)\n",
          tool_now() - t0, copied);
  rc = 0;
done:
  if (m) cmlx_model_free(m);
  mlx_stream_free(s);
  return rc;
}
