/* model_io_util.h - what test_model_io and test_model_walk share: a
 * scratch directory under /tmp (tmp_root, sub, rm_rf), exact array
 * comparison, and the logits of a fixed prompt. */
#ifndef CMLX_TESTS_MODEL_IO_UTIL_H
#define CMLX_TESTS_MODEL_IO_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/model.h"
#include "harness.h"

#define LLAMA_DIR CMLX_TEST_DATA "/fixtures/tiny-llama"

static char tmp_root[64];

static inline void rm_rf(const char* dir) {
  DIR* d = opendir(dir);
  if (!d) return;
  struct dirent* e;
  char path[512];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) rm_rf(path);
    else unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static inline const char* sub(const char* name) {
  static char buf[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_root, name);
  return buf[k];
}

static inline bool same_array(mlx_array a, mlx_array b) {
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

static inline mlx_array prompt_tokens(void) {
  int32_t ids[12] = {1, 17, 300, 45, 45, 9, 511, 0, 128, 77, 3, 250};
  return test_array_i32(ids, (int[]){1, 12}, 2);
}

static inline mlx_array logits(cmlx_model* m) {
  mlx_array t = prompt_tokens(), out = mlx_array_new();
  CHECK_OK(cmlx_model_forward(&out, m, t, NULL, test_stream));
  CHECK_OK(mlx_array_eval(out));
  mlx_array_free(t);
  return out;
}

/* A quantization predicate that logs what it saw: lm_head skipped,
 * down_proj of layer 0 in 8 bits with groups of 32. */
typedef struct pred_log {
  int calls;
  int down_in, down_out, emb_in, emb_out;
} pred_log;

static inline cmlx_quant_choice pred(const char* path, int in, int out,
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

#endif
