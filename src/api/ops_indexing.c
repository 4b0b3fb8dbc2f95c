/* ops_indexing.c - mlx-c entry points for the indexing ops: slice,
 * slice_dynamic, slice_update (+ _add/_prod/_max/_min, _dynamic), take,
 * take_axis, take_along_axis, put_along_axis, scatter_add_axis, gather,
 * gather_single, scatter (+ _add/_prod/_max/_min, each with a _single
 * form) and masked_scatter. Each checks its handles and pointers, converts
 * counts to int and calls the op in ops/indexing.c. */
#include <limits.h>
#include <stdlib.h>

#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/indexing.h"
#include "ops/ops.h"

/* Result pointer, then each input handle, then the stream. */
static int begin(mlx_array* res, const char* op, stream* st, mlx_stream s, int n,
                 const mlx_array* in, const char* const* what) {
  if (!res) return error_set("[%s] The result pointer is NULL.", op);
  for (int i = 0; i < n; i++)
    if (api_check_array(in[i], op, what[i])) return 1;
  return api_stream(st, s, op);
}

static int finish(mlx_array* res, array* out) {
  if (!out) return api_fail();
  return api_set_result(res, out);
}

/* A caller's (pointer, count) pair as the ops take it. */
static int count_arg(int* n, const void* ptr, size_t count, const char* op, const char* what) {
  if (count > INT_MAX) return error_set("[%s] Too many %s (%zu).", op, what, count);
  if (count && !ptr) return error_set("[%s] The %s pointer is NULL.", op, what);
  *n = (int)count;
  return 0;
}

/* The arrays of a vector handle (borrowed), in a malloc'd list. */
static int vector_arg(array*** out, int* n, mlx_vector_array v, const char* op) {
  if (!v.ctx) return error_set("[%s] The indices vector is empty.", op);
  size_t count = api_vector_array_size(v);
  if (count > INT_MAX) return error_set("[%s] Too many index arrays (%zu).", op, count);
  array** list = malloc(sizeof(array*) * (count ? count : 1));
  if (!list) return error_set("[%s] Out of memory.", op);
  for (size_t i = 0; i < count; i++) list[i] = api_vector_array_at(v, i);
  *out = list;
  *n = (int)count;
  return 0;
}

/* ---- slices ---- */

int mlx_slice(mlx_array* res, const mlx_array a, const int* start, size_t start_num,
              const int* stop, size_t stop_num, const int* strides, size_t strides_num,
              const mlx_stream s) {
  stream st;
  int n1 = 0, n2 = 0, n3 = 0;
  if (begin(res, "slice", &st, s, 1, &a, (const char* const[]){"input"}) ||
      count_arg(&n1, start, start_num, "slice", "start") ||
      count_arg(&n2, stop, stop_num, "slice", "stop") ||
      count_arg(&n3, strides, strides_num, "slice", "strides"))
    return api_fail();
  return finish(res, op_slice_n(api_array(a), start, n1, stop, n2, strides, n3, st));
}

int mlx_slice_dynamic(mlx_array* res, const mlx_array a, const mlx_array start, const int* axes,
                      size_t axes_num, const int* slice_size, size_t slice_size_num,
                      const mlx_stream s) {
  stream st;
  int na = 0, ns = 0;
  mlx_array in[2] = {a, start};
  if (begin(res, "slice", &st, s, 2, in, (const char* const[]){"input", "start"}) ||
      count_arg(&na, axes, axes_num, "slice", "axes") ||
      count_arg(&ns, slice_size, slice_size_num, "slice", "slice_size"))
    return api_fail();
  return finish(res, op_slice_dynamic(api_array(a), api_array(start), axes, na, slice_size, ns,
                                      st));
}

/* slice_update and its reducing forms: one body, the mode differs. */
#define SLICE_UPDATE_ENTRY(name, mode)                                                        \
  int mlx_##name(mlx_array* res, const mlx_array src, const mlx_array update,                 \
                 const int* start, size_t start_num, const int* stop, size_t stop_num,        \
                 const int* strides, size_t strides_num, const mlx_stream s) {                \
    stream st;                                                                                \
    int n1 = 0, n2 = 0, n3 = 0;                                                               \
    mlx_array in[2] = {src, update};                                                          \
    if (begin(res, #name, &st, s, 2, in, (const char* const[]){"source", "update"}) ||        \
        count_arg(&n1, start, start_num, #name, "start") ||                                   \
        count_arg(&n2, stop, stop_num, #name, "stop") ||                                      \
        count_arg(&n3, strides, strides_num, #name, "strides"))                               \
      return api_fail();                                                                      \
    return finish(res, op_slice_update(api_array(src), api_array(update), start, n1, stop,    \
                                       n2, strides, n3, mode, st));                           \
  }
SLICE_UPDATE_ENTRY(slice_update, INDEX_NONE)
SLICE_UPDATE_ENTRY(slice_update_add, INDEX_SUM)
SLICE_UPDATE_ENTRY(slice_update_prod, INDEX_PROD)
SLICE_UPDATE_ENTRY(slice_update_max, INDEX_MAX)
SLICE_UPDATE_ENTRY(slice_update_min, INDEX_MIN)
#undef SLICE_UPDATE_ENTRY

int mlx_slice_update_dynamic(mlx_array* res, const mlx_array src, const mlx_array update,
                             const mlx_array start, const int* axes, size_t axes_num,
                             const mlx_stream s) {
  stream st;
  int na = 0;
  mlx_array in[3] = {src, update, start};
  if (begin(res, "slice_update", &st, s, 3, in,
            (const char* const[]){"source", "update", "start"}) ||
      count_arg(&na, axes, axes_num, "slice_update", "axes"))
    return api_fail();
  return finish(res, op_slice_update_dynamic(api_array(src), api_array(update),
                                             api_array(start), axes, na, st));
}

/* ---- take ---- */

int mlx_take(mlx_array* res, const mlx_array a, const mlx_array indices, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, indices};
  if (begin(res, "take", &st, s, 2, in, (const char* const[]){"input", "indices"}))
    return api_fail();
  return finish(res, op_take(api_array(a), api_array(indices), st));
}

int mlx_take_axis(mlx_array* res, const mlx_array a, const mlx_array indices, int axis,
                  const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, indices};
  if (begin(res, "take", &st, s, 2, in, (const char* const[]){"input", "indices"}))
    return api_fail();
  return finish(res, op_take_axis(api_array(a), api_array(indices), axis, st));
}

int mlx_take_along_axis(mlx_array* res, const mlx_array a, const mlx_array indices, int axis,
                        const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, indices};
  if (begin(res, "take_along_axis", &st, s, 2, in, (const char* const[]){"input", "indices"}))
    return api_fail();
  return finish(res, op_take_along_axis(api_array(a), api_array(indices), axis, st));
}

/* put_along_axis and scatter_add_axis */
#define SCATTER_AXIS_ENTRY(name, mode)                                                     \
  int mlx_##name(mlx_array* res, const mlx_array a, const mlx_array indices,               \
                 const mlx_array values, int axis, const mlx_stream s) {                   \
    stream st;                                                                             \
    mlx_array in[3] = {a, indices, values};                                                \
    if (begin(res, #name, &st, s, 3, in, (const char* const[]){"input", "indices", "values"})) \
      return api_fail();                                                                   \
    return finish(res, op_scatter_axis(api_array(a), api_array(indices), api_array(values), \
                                       axis, mode, st));                                   \
  }
SCATTER_AXIS_ENTRY(put_along_axis, INDEX_NONE)
SCATTER_AXIS_ENTRY(scatter_add_axis, INDEX_SUM)
#undef SCATTER_AXIS_ENTRY

/* ---- gather ---- */

int mlx_gather(mlx_array* res, const mlx_array a, const mlx_vector_array indices,
               const int* axes, size_t axes_num, const int* slice_sizes, size_t slice_sizes_num,
               const mlx_stream s) {
  stream st;
  int na = 0, ns = 0, ni = 0;
  array** idx = NULL;
  if (begin(res, "gather", &st, s, 1, &a, (const char* const[]){"input"}) ||
      count_arg(&na, axes, axes_num, "gather", "axes") ||
      count_arg(&ns, slice_sizes, slice_sizes_num, "gather", "slice_sizes") ||
      vector_arg(&idx, &ni, indices, "gather"))
    return api_fail();
  array* out = op_gather(api_array(a), idx, ni, axes, na, slice_sizes, ns, st);
  free(idx);
  return finish(res, out);
}

int mlx_gather_single(mlx_array* res, const mlx_array a, const mlx_array indices, int axis,
                      const int* slice_sizes, size_t slice_sizes_num, const mlx_stream s) {
  stream st;
  int ns = 0;
  mlx_array in[2] = {a, indices};
  if (begin(res, "gather", &st, s, 2, in, (const char* const[]){"input", "indices"}) ||
      count_arg(&ns, slice_sizes, slice_sizes_num, "gather", "slice_sizes"))
    return api_fail();
  array* idx = api_array(indices);
  return finish(res, op_gather(api_array(a), &idx, 1, &axis, 1, slice_sizes, ns, st));
}

/* ---- scatter: each mode has a vector form and a _single form ---- */

#define SCATTER_ENTRIES(name, mode)                                                         \
  int mlx_##name(mlx_array* res, const mlx_array a, const mlx_vector_array indices,         \
                 const mlx_array updates, const int* axes, size_t axes_num,                 \
                 const mlx_stream s) {                                                      \
    stream st;                                                                              \
    int na = 0, ni = 0;                                                                            \
    array** idx = NULL;                                                                     \
    mlx_array in[2] = {a, updates};                                                         \
    if (begin(res, #name, &st, s, 2, in, (const char* const[]){"input", "updates"}) ||      \
        count_arg(&na, axes, axes_num, #name, "axes") ||                                    \
        vector_arg(&idx, &ni, indices, #name))                                              \
      return api_fail();                                                                    \
    array* out = op_scatter(api_array(a), idx, ni, api_array(updates), axes, na, mode, st); \
    free(idx);                                                                              \
    return finish(res, out);                                                                \
  }                                                                                         \
  int mlx_##name##_single(mlx_array* res, const mlx_array a, const mlx_array indices,        \
                          const mlx_array updates, int axis, const mlx_stream s) {          \
    stream st;                                                                              \
    mlx_array in[3] = {a, indices, updates};                                                \
    if (begin(res, #name, &st, s, 3, in,                                                    \
              (const char* const[]){"input", "indices", "updates"}))                        \
      return api_fail();                                                                    \
    array* idx = api_array(indices);                                                        \
    return finish(res,                                                                      \
                  op_scatter(api_array(a), &idx, 1, api_array(updates), &axis, 1, mode, st)); \
  }
SCATTER_ENTRIES(scatter, INDEX_NONE)
SCATTER_ENTRIES(scatter_add, INDEX_SUM)
SCATTER_ENTRIES(scatter_prod, INDEX_PROD)
SCATTER_ENTRIES(scatter_max, INDEX_MAX)
SCATTER_ENTRIES(scatter_min, INDEX_MIN)
#undef SCATTER_ENTRIES

int mlx_masked_scatter(mlx_array* res, const mlx_array a, const mlx_array mask,
                       const mlx_array src, const mlx_stream s) {
  stream st;
  mlx_array in[3] = {a, mask, src};
  if (begin(res, "masked_scatter", &st, s, 3, in,
            (const char* const[]){"input", "mask", "source"}))
    return api_fail();
  return finish(res, op_masked_scatter(api_array(a), api_array(mask), api_array(src), st));
}
