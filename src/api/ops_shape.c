/* ops_shape.c - mlx-c entry points for the axis ops and strided views:
 * flatten, unflatten, squeeze, expand_dims, transpose, swapaxes, moveaxis,
 * as_strided and atleast_1d/2d/3d. (reshape, broadcasting and copies are
 * in ops_copy.c.) Each checks its handles and pointers, converts counts to
 * int and calls the op in ops/axes.c. */
#include <limits.h>

#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/ops.h"

/* The entry points that take only the array. */
#define VIEW_ENTRY(name, call)                                          \
  int mlx_##name(mlx_array* res, const mlx_array a, const mlx_stream s) { \
    stream st;                                                          \
    if (api_begin(res, #name, s, &st, 1, &a)) return api_fail();                \
    return api_finish(res, call);                                           \
  }
VIEW_ENTRY(squeeze, op_squeeze(api_array(a), st))
VIEW_ENTRY(transpose, op_transpose(api_array(a), st))
VIEW_ENTRY(atleast_1d, op_atleast(api_array(a), 1, st))
VIEW_ENTRY(atleast_2d, op_atleast(api_array(a), 2, st))
VIEW_ENTRY(atleast_3d, op_atleast(api_array(a), 3, st))
#undef VIEW_ENTRY

/* The entry points that take a list of axes. */
#define AXES_ENTRY(name, op_fn)                                                 \
  int mlx_##name(mlx_array* res, const mlx_array a, const int* axes,            \
                 size_t axes_num, const mlx_stream s) {                         \
    stream st;                                                                  \
    int n = 0;                                                                  \
    if (api_begin(res, #name, s, &st, 1, &a) || api_count_arg(&n, axes, axes_num, #name, "axes")) \
      return api_fail();                                                        \
    return api_finish(res, op_fn(api_array(a), axes, n, st));                       \
  }
AXES_ENTRY(squeeze_axes, op_squeeze_axes)
AXES_ENTRY(expand_dims_axes, op_expand_dims_axes)
AXES_ENTRY(transpose_axes, op_transpose_axes)
#undef AXES_ENTRY

int mlx_squeeze_axis(mlx_array* res, const mlx_array a, int axis, const mlx_stream s) {
  stream st;
  if (api_begin(res, "squeeze", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_squeeze_axes(api_array(a), &axis, 1, st));
}

int mlx_expand_dims(mlx_array* res, const mlx_array a, int axis, const mlx_stream s) {
  stream st;
  if (api_begin(res, "expand_dims", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_expand_dims_axes(api_array(a), &axis, 1, st));
}

int mlx_flatten(mlx_array* res, const mlx_array a, int start_axis, int end_axis,
                const mlx_stream s) {
  stream st;
  if (api_begin(res, "flatten", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_flatten(api_array(a), start_axis, end_axis, st));
}

int mlx_unflatten(mlx_array* res, const mlx_array a, int axis, const int* shape,
                  size_t shape_num, const mlx_stream s) {
  stream st;
  int n = 0;
  if (api_begin(res, "unflatten", s, &st, 1, &a) || api_count_arg(&n, shape, shape_num, "unflatten", "shape"))
    return api_fail();
  return api_finish(res, op_unflatten(api_array(a), axis, shape, n, st));
}

int mlx_swapaxes(mlx_array* res, const mlx_array a, int axis1, int axis2, const mlx_stream s) {
  stream st;
  if (api_begin(res, "swapaxes", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_swapaxes(api_array(a), axis1, axis2, st));
}

int mlx_moveaxis(mlx_array* res, const mlx_array a, int source, int destination,
                 const mlx_stream s) {
  stream st;
  if (api_begin(res, "moveaxis", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_moveaxis(api_array(a), source, destination, st));
}

int mlx_as_strided(mlx_array* res, const mlx_array a, const int* shape, size_t shape_num,
                   const int64_t* strides, size_t strides_num, size_t offset,
                   const mlx_stream s) {
  stream st;
  int nshape = 0, nstrides = 0;
  if (api_begin(res, "as_strided", s, &st, 1, &a) ||
      api_count_arg(&nshape, shape, shape_num, "as_strided", "shape") ||
      api_count_arg(&nstrides, strides, strides_num, "as_strided", "strides"))
    return api_fail();
  return api_finish(res, op_as_strided(api_array(a), shape, nshape, strides, nstrides, offset, st));
}
