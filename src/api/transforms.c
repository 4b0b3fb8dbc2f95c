/* transforms.c - mlx_eval / mlx_async_eval and the version string. */
#include <stdlib.h>

#include "api/api.h"
#include "mlx/c/transforms.h"
#include "mlx/c/version.h"

static int eval_vector(const mlx_vector_array outputs, const char* op) {
  if (!outputs.ctx) {
    error_set("[%s] The vector handle is empty.", op);
    return api_fail();
  }
  size_t n = api_vector_array_size(outputs);
  array** roots = malloc((n ? n : 1) * sizeof *roots);
  if (!roots) {
    error_set("[%s] Out of memory.", op);
    return api_fail();
  }
  for (size_t i = 0; i < n; i++) roots[i] = api_vector_array_at(outputs, i);
  int rc = graph_eval(roots, (int)n);
  free(roots);
  return rc ? api_fail() : 0;
}

int mlx_eval(const mlx_vector_array outputs) {
  return eval_vector(outputs, "eval");
}

int mlx_async_eval(const mlx_vector_array outputs) {
  return eval_vector(outputs, "async_eval");
}

int mlx_version(mlx_string* str_) {
  if (!str_) {
    error_set("[version] The result pointer is NULL.");
    return api_fail();
  }
  mlx_string_free(*str_);
  *str_ = mlx_string_new_data(CMLX_VERSION_STRING);
  return 0;
}
