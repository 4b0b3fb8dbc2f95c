/* model_util.h - what the model tests share: the fixtures' error measure,
 * one-pass logits, greedy decoding through the cache, reading a text file. */
#ifndef CMLX_TESTS_MODEL_UTIL_H
#define CMLX_TESTS_MODEL_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/model.h"
#include "harness.h"
#include "mlx/c/mlx.h"

/* max |a - b| / max |b| over all elements (a and b of equal size; a NaN
 * difference counts as infinite): the fixtures' README measure. */
static inline double model_rel_err(mlx_array a, mlx_array b) {
  double* x = test_to_f64(a);
  double* y = test_to_f64(b);
  size_t n = mlx_array_size(b);
  CHECK(mlx_array_size(a) == n);
  double md = 0, mb = 0;
  for (size_t i = 0; x && y && i < n; i++) {
    double d = fabs(x[i] - y[i]);
    if (d > md || isnan(d)) md = isnan(d) ? INFINITY : d;
    if (fabs(y[i]) > mb) mb = fabs(y[i]);
  }
  free(x);
  free(y);
  return mb > 0 ? md / mb : md;
}

/* logits [1, L, V] for ids [L] (one pass, no cache). */
static inline mlx_array model_logits(cmlx_model* m, mlx_array ids) {
  mlx_array tok = mlx_array_new(), out = mlx_array_new();
  int shape[2] = {1, (int)mlx_array_size(ids)};
  CHECK_OK(mlx_reshape(&tok, ids, shape, 2, test_stream));
  CHECK_OK(cmlx_model_forward(&out, m, tok, NULL, test_stream));
  mlx_array_free(tok);
  return out;
}

/* Greedy decoding with a cache: the prompt (n ids) prefilled in chunks of
 * `chunk`, then `steps` tokens, one at a time, into out. */
static inline void model_greedy(cmlx_model* m, const int32_t* prompt, int n, int steps,
                                int32_t* out, int chunk) {
  cmlx_cache* cache = NULL;
  CHECK_OK(cmlx_cache_new(&cache, m));
  if (!cache) return;
  mlx_array logits = mlx_array_new(), tok = mlx_array_new(), last = mlx_array_new(),
            next = mlx_array_new();
  for (int at = 0; at < n; at += chunk) {
    int len = n - at < chunk ? n - at : chunk;
    mlx_array t = test_array_i32(prompt + at, (int[]){1, len}, 2);
    CHECK_OK(cmlx_model_forward(&logits, m, t, cache, test_stream));
    CHECK_OK(mlx_array_eval(logits));
    mlx_array_free(t);
  }
  CHECK(cmlx_cache_offset(cache) == n);
  for (int i = 0; i < steps; i++) {
    int L = mlx_array_dim(logits, 1);
    CHECK_OK(mlx_slice(&last, logits, (int[]){0, L - 1, 0}, 3,
                       (int[]){1, L, mlx_array_dim(logits, 2)}, 3, (int[]){1, 1, 1}, 3,
                       test_stream));
    CHECK_OK(cmlx_sample(&next, last, 0.0f, 1.0f, NULL, test_stream));
    CHECK_OK(mlx_array_eval(next));
    const int32_t* v = mlx_array_data_int32(next);
    out[i] = v ? v[0] : -1;
    if (i + 1 == steps) break;
    CHECK_OK(mlx_reshape(&tok, next, (int[]){1, 1}, 2, test_stream));
    CHECK_OK(cmlx_model_forward(&logits, m, tok, cache, test_stream));
  }
  CHECK(cmlx_cache_offset(cache) == n + steps - 1);
  mlx_array_free(logits);
  mlx_array_free(tok);
  mlx_array_free(last);
  mlx_array_free(next);
  cmlx_cache_free(cache);
}

/* The file's bytes as a NUL-terminated string; a file that cannot be read
 * fails the test (and gives NULL). */
static inline char* test_read_text(const char* path) {
  size_t n = 0;
  unsigned char* b = test_read_bytes(path, &n);
  CHECK_MSG(b != NULL, "cannot read %s", path);
  if (!b) return NULL;
  char* s = malloc(n + 1);
  if (s) {
    memcpy(s, b, n);
    s[n] = 0;
  }
  free(b);
  return s;
}

#endif
