/* info.c - `cmlx info DIR`: what a model directory holds. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tool.h"

/* One row of the per-layer summary: layers whose paths differ only in
 * their layer numbers and which are stored alike. */
typedef struct row {
  char pattern[256];
  const char* kind;
  char storage[64];
  int in, out, experts;
  int count;
  uint64_t bytes;
} row;

static void path_pattern(char* out, size_t n, const char* path) {
  size_t o = 0;
  for (const char* p = path; *p && o + 1 < n;) {
    bool seg_start = p == path || p[-1] == '.';
    if (seg_start && isdigit((unsigned char)*p)) {
      const char* q = p;
      while (isdigit((unsigned char)*q)) q++;
      if (*q == '.' || *q == 0) {
        out[o++] = '*';
        p = q;
        continue;
      }
    }
    out[o++] = *p++;
  }
  out[o] = 0;
}

static void storage_of(char* out, size_t n, const cmlx_layer_desc* d) {
  if (d->quantized)
    snprintf(out, n, "%s %d-bit g%d", d->quant.mode ? d->quant.mode : "?",
             d->quant.bits, d->quant.group_size);
  else
    snprintf(out, n, "%s", tool_dtype_name(d->dtype));
}

static int cmp_name(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

static void list_files(const char* dir) {
  DIR* d = opendir(dir);
  if (!d) return;
  char** names = NULL;
  size_t n = 0, cap = 0;
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      char** w = realloc(names, cap * sizeof *w);
      if (!w) break;
      names = w;
    }
    names[n] = strdup(e->d_name);
    if (names[n]) n++;
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp_name);
  printf("files:\n");
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(dir) + strlen(names[i]) + 2;
    char* p = malloc(len);
    struct stat st;
    char b[32];
    if (p) {
      snprintf(p, len, "%s/%s", dir, names[i]);
      if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
        printf("  %-44s %12s\n", names[i],
               tool_bytes(b, sizeof b, (uint64_t)st.st_size));
        total += (uint64_t)st.st_size;
      }
      free(p);
    }
    free(names[i]);
  }
  free(names);
  char b[32];
  printf("  %-44s %12s\n", "(total)", tool_bytes(b, sizeof b, total));
}

typedef struct row_table {
  row* rows;
  size_t n, cap;
} row_table;

/* Counts the layer in its row (a new one when no row matches it). */
static int add_row(void* ctx, const cmlx_layer_desc* d) {
  row_table* t = ctx;
  row r = {0};
  path_pattern(r.pattern, sizeof r.pattern, d->path);
  r.kind = d->kind == CMLX_LAYER_LINEAR
               ? (d->experts ? "experts" : "linear")
               : d->kind == CMLX_LAYER_EMBEDDING ? "embedding" : "tensor";
  storage_of(r.storage, sizeof r.storage, d);
  r.in = d->in_features;
  r.out = d->out_features;
  r.experts = d->experts;
  size_t j = 0;
  for (; j < t->n; j++)
    if (strcmp(t->rows[j].pattern, r.pattern) == 0 &&
        strcmp(t->rows[j].kind, r.kind) == 0 &&
        strcmp(t->rows[j].storage, r.storage) == 0 && t->rows[j].in == r.in &&
        t->rows[j].out == r.out && t->rows[j].experts == r.experts)
      break;
  if (j == t->n) {
    if (t->n == t->cap) {
      size_t cap = t->cap ? 2 * t->cap : 16;
      row* rows = realloc(t->rows, cap * sizeof *rows);
      if (!rows) return 1;
      t->rows = rows;
      t->cap = cap;
    }
    t->rows[t->n++] = r;
  }
  t->rows[j].count++;
  t->rows[j].bytes += d->nbytes;
  return 0;
}

void tool_print_model(const cmlx_model* m, bool layers) {
  cmlx_model_info in;
  if (cmlx_model_get_info(&in, m)) return;
  char b[32];
  printf("architecture:  %s\n", in.model_type ? in.model_type : "?");
  printf("layers:        %d\n", in.num_layers);
  printf("hidden size:   %d\n", in.hidden_size);
  printf("intermediate:  %d\n", in.intermediate_size);
  printf("attention:     %d heads, %d KV heads, head_dim %d\n", in.num_heads,
         in.num_kv_heads, in.head_dim);
  printf("vocabulary:    %d\n", in.vocab_size);
  if (in.num_experts > 0)
    printf("experts:       %d, %d per token\n", in.num_experts,
           in.num_experts_per_tok);
  printf("dtype:         %s\n", tool_dtype_name(in.dtype));
  printf("parameters:    %.2f M\n", (double)in.num_parameters / 1e6);
  printf("weights:       %s (as held)\n",
         tool_bytes(b, sizeof b, in.weight_bytes));
  if (in.quantized)
    printf("quantization:  %s, %d bits, group %d (%d layers quantized, %d "
           "left in float)\n",
           in.quant.mode ? in.quant.mode : "?", in.quant.bits,
           in.quant.group_size, in.num_quantized_layers, in.num_float_layers);
  else
    printf("quantization:  none (%d float layers)\n", in.num_float_layers);
  if (!layers) return;

  row_table t = {0};
  if (cmlx_model_layers(m, add_row, &t)) {
    free(t.rows);
    return;
  }
  row* rows = t.rows;
  size_t nrows = t.n;
  printf("layers (path, count, kind, storage, in -> out, bytes):\n");
  for (size_t j = 0; j < nrows; j++) {
    char shape[64] = "";
    if (strcmp(rows[j].kind, "tensor") != 0) {
      if (rows[j].experts)
        snprintf(shape, sizeof shape, "%d x [%d -> %d]", rows[j].experts,
                 rows[j].in, rows[j].out);
      else if (strcmp(rows[j].kind, "embedding") == 0)
        snprintf(shape, sizeof shape, "%d x %d", rows[j].out, rows[j].in);
      else
        snprintf(shape, sizeof shape, "%d -> %d", rows[j].in, rows[j].out);
    }
    printf("  %-48s x%-3d %-9s %-20s %-22s %10s\n", rows[j].pattern,
           rows[j].count, rows[j].kind, rows[j].storage, shape,
           tool_bytes(b, sizeof b, rows[j].bytes));
  }
  free(rows);
}

int cmd_info(int argc, char** argv) {
  const char* cmd = "info";
  const char* dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1] != 0)
      return tool_fail(cmd, "unknown argument '%s'", argv[i]);
    if (dir) return tool_fail(cmd, "give one model directory");
    dir = argv[i];
  }
  if (!dir) return tool_fail(cmd, "usage: cmlx info DIR");
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return tool_fail(cmd, "%s is not a directory", dir);
  mlx_stream s = mlx_default_cpu_stream_new();
  cmlx_model* m = NULL;
  int rc = 0;
  if (cmlx_model_load(&m, dir, s)) {
    rc = tool_fail_lib(cmd, "cannot load the model");
  } else {
    printf("model:         %s\n", dir);
    tool_print_model(m, true);
    list_files(dir);
    cmlx_model_free(m);
  }
  mlx_stream_free(s);
  return rc;
}
