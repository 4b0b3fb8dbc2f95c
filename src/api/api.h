/* api.h - helpers for the thin mlx-c layer.
 *
 * An mlx_array's ctx is the internal array* itself (one reference per
 * handle). API functions check their handles, call the internal function and
 * turn a failure into "return api_fail()", which reports the pending message
 * through the error handler. */
#ifndef CMLX_API_API_H
#define CMLX_API_API_H

#include "core/array.h"
#include "core/error.h"
#include "core/stream.h"
#include "mlx/c/array.h"
#include "mlx/c/stream.h"
#include "mlx/c/vector.h"

static inline array* api_array(mlx_array a) {
  return (array*)a.ctx;
}
static inline mlx_array api_wrap(array* a) {
  return (mlx_array){a};
}

/* Fails (sets the message) when an input handle is empty. */
int api_check_array(mlx_array a, const char* op, const char* what);
/* Resolves a stream handle (an empty handle is an error) and checks that
 * work may be queued on it. */
int api_stream(stream* out, mlx_stream s, const char* op);
/* Stores result in *res (releasing what *res held). Consumes result. */
int api_set_result(mlx_array* res, array* result);
/* Same for mlx_vector_array results: consumes the n references. */
int api_set_vector(mlx_vector_array* res, array** items, size_t n);

/* Internal access to vectors of arrays (api/vector.c). */
size_t api_vector_array_size(mlx_vector_array v);
array* api_vector_array_at(mlx_vector_array v, size_t i); /* borrowed */

/* Common shapes of entry points. Each expands to a full function body. */
#define API_CHECK_RES(res, op)                                   \
  if (!(res)) {                                                  \
    error_set("[%s] The result pointer is NULL.", op);           \
    return api_fail();                                           \
  }

#endif
