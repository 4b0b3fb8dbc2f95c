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

/* The checks every op entry point starts with, in MLX-c argument order:
 * the result pointer, then each input handle (named "input" when there is
 * one, else "first", "second", ...), then the stream. Return 0 or 1 with
 * the message set (the caller then returns api_fail()). */
int api_begin(const void* res, const char* op, mlx_stream s, stream* st,
              int n_inputs, const mlx_array* inputs);
/* Stores an op's result (NULL: the op failed, report it). */
int api_finish(mlx_array* res, array* out);
/* A caller's (pointer, count) pair: count fits an int, pointer non-NULL
 * when count > 0. */
int api_count_arg(int* n, const void* ptr, size_t count, const char* op,
                  const char* what);

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
