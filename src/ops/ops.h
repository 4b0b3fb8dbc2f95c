/* ops.h - the op front-ends: validate arguments (MLX's messages), promote
 * dtypes, infer shapes, and create graph nodes. No arithmetic here.
 *
 * Every op_* returns a new reference, or NULL after error_set(). Inputs are
 * borrowed. The stream says where the node will run. */
#ifndef CMLX_OPS_OPS_H
#define CMLX_OPS_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/array.h"

/* ---- views (ops/shape.c, kernels in backend/cpu/views.c) ---- */

typedef enum view_kind {
  VIEW_RESHAPE,
  VIEW_TRANSPOSE,  /* axes: output axis d takes input axis axes[d] */
  VIEW_BROADCAST,
  VIEW_SLICE,      /* start, step per axis */
  VIEW_SQUEEZE,    /* axes: input axes kept, in order */
  VIEW_EXPAND,     /* axes: input axis per output axis, -1 for new ones */
  VIEW_AS_STRIDED, /* strides, offset (elements, added to the input's) */
} view_kind;

typedef struct view_params {
  view_kind kind;
  int ndim;         /* the output's */
  int* axes;        /* ndim entries each, in the same allocation */
  int* start;
  int* step;
  int64_t* strides;
  int64_t offset;
} view_params;

/* Zeroed params with room for ndim entries in each array. free() frees. */
view_params* view_params_new(view_kind kind, int ndim);
/* The node for a view; takes ownership of p. */
array* op_view_node(array* a, int ndim, const int* shape, view_params* p,
                    stream s);

/* ---- helpers shared by front-ends (ops/common.c) ---- */

/* MLX's broadcast_shapes, with its error text. out gets max(ndims) dims. */
int broadcast_shapes(const int* a, int na, const int* b, int nb, int* out,
                     int* nout);
/* Normalises an axis into [0, ndim) or fails with the op's message. */
int normalize_axis(int* axis, int ndim);
/* An array of value v (given as double) with dtype, 0-d. */
array* op_scalar(double v, mlx_dtype dtype);

/* ---- copies and types (ops/copy.c) ---- */
array* op_astype(array* a, mlx_dtype dtype, stream s);
array* op_copy(array* a, stream s);
array* op_contiguous(array* a, bool allow_col_major, stream s);
array* op_view(array* a, mlx_dtype dtype, stream s);
array* op_stop_gradient(array* a, stream s);

/* ---- shapes (ops/shape.c) ---- */
array* op_reshape(array* a, const int* shape, int ndim, stream s);
array* op_broadcast_to(array* a, const int* shape, int ndim, stream s);
int op_broadcast_arrays(array** out, array* const* in, int n, stream s);
array* op_flatten(array* a, int start_axis, int end_axis, stream s);
array* op_unflatten(array* a, int axis, const int* shape, int ndim, stream s);
array* op_squeeze_axes(array* a, const int* axes, int n, stream s);
array* op_squeeze(array* a, stream s);
array* op_expand_dims_axes(array* a, const int* axes, int n, stream s);
array* op_transpose_axes(array* a, const int* axes, int n, stream s);
array* op_transpose(array* a, stream s);
array* op_swapaxes(array* a, int axis1, int axis2, stream s);
array* op_moveaxis(array* a, int source, int destination, stream s);
array* op_as_strided(array* a, const int* shape, int ndim,
                     const int64_t* strides, int nstrides, size_t offset,
                     stream s);
array* op_atleast(array* a, int ndim, stream s);
array* op_slice(array* a, const int* start, const int* stop, const int* step,
                stream s);

/* ---- creation (ops/creation.c) ---- */
array* op_full(const int* shape, int ndim, array* vals, mlx_dtype dtype,
               stream s);
array* op_zeros(const int* shape, int ndim, mlx_dtype dtype, stream s);
array* op_ones(const int* shape, int ndim, mlx_dtype dtype, stream s);
array* op_arange(double start, double stop, double step, mlx_dtype dtype,
                 stream s);
array* op_linspace(double start, double stop, int num, mlx_dtype dtype,
                   stream s);
array* op_eye(int n, int m, int k, mlx_dtype dtype, stream s);
array* op_tri(int n, int m, int k, mlx_dtype dtype, stream s);
array* op_tril(array* x, int k, stream s);
array* op_triu(array* x, int k, stream s);

/* ---- elementwise (ops/unary.c, ops/binary.c) ---- */

/* The unary family: X(name, mlx-c suffix). See ops/unary.c. */
array* op_unary(int unary_op, array* a, stream s);
array* op_round(array* a, int decimals, stream s);
array* op_nan_to_num(array* a, float nan, const float* posinf,
                     const float* neginf, stream s);

/* The binary family; see ops/binary.c. */
array* op_binary(int binary_op, array* a, array* b, stream s);
int op_divmod(array** quotient, array** remainder, array* a, array* b,
              stream s);
array* op_where(array* cond, array* x, array* y, stream s);
array* op_clip(array* a, array* lo, array* hi, stream s);

#endif
