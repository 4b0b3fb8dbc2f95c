/* ops_join.c - mlx-c entry points of the joining and layout ops:
 * concatenate, stack, split, tile, repeat, pad, roll, diag, diagonal,
 * trace, meshgrid and kron. Each checks its handles, pointers and counts
 * (api_begin, api_count_arg), then calls the front-end in ops/join.h. */
#include <limits.h>
#include <stdlib.h>

#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/join.h"

/* The arrays of a vector handle (borrowed) in a malloc'd list. */
static array** vector_items(mlx_vector_array v, int* n, const char* op) {
  *n = 0;
  if (!v.ctx) {
    error_set("[%s] The input vector is empty (an mlx_vector_array_new() handle).", op);
    return NULL;
  }
  size_t count = api_vector_array_size(v);
  if (count > INT_MAX) {
    error_set("[%s] Too many arrays (%zu).", op, count);
    return NULL;
  }
  array** items = malloc((count ? count : 1) * sizeof *items);
  if (!items) {
    error_set("[%s] Out of memory.", op);
    return NULL;
  }
  for (size_t i = 0; i < count; i++)
    if (!(items[i] = api_vector_array_at(v, i))) {
      error_set("[%s] Array %zu of the input vector is empty.", op, i);
      free(items);
      return NULL;
    }
  *n = (int)count;
  return items;
}

/* Stores a list from a front-end (consumed) in a vector result. */
static int finish_vector(mlx_vector_array* res, array** list, int n) {
  if (!list) return api_fail();
  int rc = api_set_vector(res, list, (size_t)n);
  free(list);
  return rc ? api_fail() : 0;
}

/* ---- concatenate / stack ---- */

typedef array* (*join_fn)(array* const* arrays, int n, int axis, stream s);

static array* concatenate_flat(array* const* arrays, int n, int axis, stream s) {
  (void)axis;
  return op_concatenate_flat(arrays, n, s);
}

/* The result pointer, the vector, then the stream. */
static int join_entry(mlx_array* res, mlx_vector_array arrays, int axis, mlx_stream s,
                      join_fn fn, const char* op) {
  stream st;
  int n;
  array** items = NULL;
  if (api_begin(res, op, s, &st, 0, NULL) || !(items = vector_items(arrays, &n, op)))
    return api_fail();
  array* out = fn(items, n, axis, st);
  free(items);
  return api_finish(res, out);
}

int mlx_concatenate_axis(mlx_array* res, const mlx_vector_array arrays, int axis,
                         const mlx_stream s) {
  return join_entry(res, arrays, axis, s, op_concatenate, "concatenate");
}

int mlx_concatenate(mlx_array* res, const mlx_vector_array arrays, const mlx_stream s) {
  return join_entry(res, arrays, 0, s, concatenate_flat, "concatenate");
}

int mlx_stack_axis(mlx_array* res, const mlx_vector_array arrays, int axis, const mlx_stream s) {
  return join_entry(res, arrays, axis, s, op_stack, "stack");
}

int mlx_stack(mlx_array* res, const mlx_vector_array arrays, const mlx_stream s) {
  return join_entry(res, arrays, 0, s, op_stack, "stack");
}

/* ---- split ---- */

int mlx_split(mlx_vector_array* res, const mlx_array a, int num_splits, int axis,
              const mlx_stream s) {
  stream st;
  int n = 0;
  if (api_begin(res, "split", s, &st, 1, &a)) return api_fail();
  array** parts = op_split(api_array(a), num_splits, axis, &n, st);
  return finish_vector(res, parts, n);
}

int mlx_split_sections(mlx_vector_array* res, const mlx_array a, const int* indices,
                       size_t indices_num, int axis, const mlx_stream s) {
  stream st;
  int n = 0, count = 0;
  if (api_begin(res, "split", s, &st, 1, &a) ||
      api_count_arg(&count, indices, indices_num, "split", "indices"))
    return api_fail();
  array** parts = op_split_sections(api_array(a), indices, count, axis, &n, st);
  return finish_vector(res, parts, n);
}

/* ---- tile / repeat ---- */

int mlx_tile(mlx_array* res, const mlx_array arr, const int* reps, size_t reps_num,
             const mlx_stream s) {
  stream st;
  int n = 0;
  if (api_begin(res, "tile", s, &st, 1, &arr) || api_count_arg(&n, reps, reps_num, "tile", "reps"))
    return api_fail();
  return api_finish(res, op_tile(api_array(arr), reps, n, st));
}

int mlx_repeat_axis(mlx_array* res, const mlx_array arr, int repeats, int axis,
                    const mlx_stream s) {
  stream st;
  if (api_begin(res, "repeat", s, &st, 1, &arr)) return api_fail();
  return api_finish(res, op_repeat(api_array(arr), repeats, axis, st));
}

int mlx_repeat(mlx_array* res, const mlx_array arr, int repeats, const mlx_stream s) {
  stream st;
  if (api_begin(res, "repeat", s, &st, 1, &arr)) return api_fail();
  return api_finish(res, op_repeat_flat(api_array(arr), repeats, st));
}

/* ---- pad ---- */

int mlx_pad(mlx_array* res, const mlx_array a, const int* axes, size_t axes_num,
            const int* low_pad_size, size_t low_pad_size_num, const int* high_pad_size,
            size_t high_pad_size_num, const mlx_array pad_value, const char* mode,
            const mlx_stream s) {
  stream st;
  int na = 0, nl = 0, nh = 0;
  mlx_array in[2] = {a, pad_value};
  if (api_begin(res, "pad", s, &st, 2, in) || api_count_arg(&na, axes, axes_num, "pad", "axes") ||
      api_count_arg(&nl, low_pad_size, low_pad_size_num, "pad", "low padding sizes") ||
      api_count_arg(&nh, high_pad_size, high_pad_size_num, "pad", "high padding sizes"))
    return api_fail();
  return api_finish(res, op_pad(api_array(a), axes, na, low_pad_size, nl, high_pad_size, nh,
                                api_array(pad_value), mode, st));
}

int mlx_pad_symmetric(mlx_array* res, const mlx_array a, int pad_width,
                      const mlx_array pad_value, const char* mode, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, pad_value};
  if (api_begin(res, "pad", s, &st, 2, in)) return api_fail();
  return api_finish(res, op_pad_all(api_array(a), pad_width, api_array(pad_value), mode, st));
}

/* ---- roll ---- */

int mlx_roll(mlx_array* res, const mlx_array a, const int* shift, size_t shift_num,
             const mlx_stream s) {
  stream st;
  int n = 0;
  if (api_begin(res, "roll", s, &st, 1, &a) ||
      api_count_arg(&n, shift, shift_num, "roll", "shift"))
    return api_fail();
  return api_finish(res, op_roll_flat(api_array(a), shift, n, st));
}

int mlx_roll_axis(mlx_array* res, const mlx_array a, const int* shift, size_t shift_num,
                  int axis, const mlx_stream s) {
  stream st;
  int n = 0;
  if (api_begin(res, "roll", s, &st, 1, &a) ||
      api_count_arg(&n, shift, shift_num, "roll", "shift"))
    return api_fail();
  return api_finish(res, op_roll_axis(api_array(a), shift, n, axis, st));
}

int mlx_roll_axes(mlx_array* res, const mlx_array a, const int* shift, size_t shift_num,
                  const int* axes, size_t axes_num, const mlx_stream s) {
  stream st;
  int ns = 0, na = 0;
  if (api_begin(res, "roll", s, &st, 1, &a) ||
      api_count_arg(&ns, shift, shift_num, "roll", "shift") ||
      api_count_arg(&na, axes, axes_num, "roll", "axes"))
    return api_fail();
  return api_finish(res, op_roll(api_array(a), shift, ns, axes, na, st));
}

/* ---- diagonals ---- */

int mlx_diag(mlx_array* res, const mlx_array a, int k, const mlx_stream s) {
  stream st;
  if (api_begin(res, "diag", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_diag(api_array(a), k, st));
}

int mlx_diagonal(mlx_array* res, const mlx_array a, int offset, int axis1, int axis2,
                 const mlx_stream s) {
  stream st;
  if (api_begin(res, "diagonal", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_diagonal(api_array(a), offset, axis1, axis2, st));
}

int mlx_trace(mlx_array* res, const mlx_array a, int offset, int axis1, int axis2,
              mlx_dtype dtype, const mlx_stream s) {
  stream st;
  if (api_begin(res, "trace", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_trace(api_array(a), offset, axis1, axis2, dtype, st));
}

/* ---- meshgrid / kron ---- */

int mlx_meshgrid(mlx_vector_array* res, const mlx_vector_array arrays, bool sparse,
                 const char* indexing, const mlx_stream s) {
  stream st;
  int n, n_out = 0;
  array** items = NULL;
  if (api_begin(res, "meshgrid", s, &st, 0, NULL) ||
      !(items = vector_items(arrays, &n, "meshgrid")))
    return api_fail();
  array** out = op_meshgrid(items, n, sparse, indexing, &n_out, st);
  free(items);
  return finish_vector(res, out, n_out);
}

int mlx_kron(mlx_array* res, const mlx_array a, const mlx_array b, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (api_begin(res, "kron", s, &st, 2, in)) return api_fail();
  return api_finish(res, op_kron(api_array(a), api_array(b), st));
}
