/* common.c - handle checks and result assignment shared by all API files. */
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
