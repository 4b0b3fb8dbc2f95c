/* common.c - handle checks and result assignment shared by all API files. */
#include <limits.h>
#include <stdlib.h>

#include "api/api.h"

int api_check_array(mlx_array a, const char* op, const char* what) {
  if (!a.ctx)
    return error_set("[%s] The %s array is empty (an mlx_array_new() handle).", op, what);
  return 0;
}

int api_stream(stream* out, mlx_stream s, const char* op) {
  if (!s.ctx) return error_set("[%s] The stream handle is empty.", op);
  *out = *(const stream*)s.ctx;
  return stream_check(*out);
}

int api_set_result(mlx_array* res, array* result) {
  array* old = (array*)res->ctx;
  res->ctx = result;
  array_release(old);
  return 0;
}

int api_begin(const void* res, const char* op, mlx_stream s, stream* st,
              int n_inputs, const mlx_array* inputs) {
  static const char* const ordinal[] = {"first", "second", "third", "fourth", "fifth"};
  if (!res) return error_set("[%s] The result pointer is NULL.", op);
  for (int i = 0; i < n_inputs; i++) {
    const char* what = n_inputs == 1 ? "input" : i < 5 ? ordinal[i] : "input";
    if (api_check_array(inputs[i], op, what)) return 1;
  }
  return api_stream(st, s, op);
}

int api_finish(mlx_array* res, array* out) {
  if (!out) return api_fail();
  return api_set_result(res, out);
}

int api_count_arg(int* n, const void* ptr, size_t count, const char* op,
                  const char* what) {
  if (count > INT_MAX) return error_set("[%s] Too many %s (%zu).", op, what, count);
  if (count && !ptr) return error_set("[%s] The %s pointer is NULL.", op, what);
  *n = (int)count;
  return 0;
}
