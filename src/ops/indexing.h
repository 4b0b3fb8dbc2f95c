/* indexing.h - front-ends of the indexing ops: slice (with counts),
 * dynamic slices, slice updates, take, take/put along an axis, gather,
 * scatter and masked_scatter; and the parameters their nodes carry to the
 * kernels in backend/cpu/indexing.c.
 *
 * Like every op_* (ops/ops.h), each returns a new reference or NULL after
 * error_set(); inputs are borrowed. Validation follows MLX's ops.cpp in
 * order and text. Index values that are only known at run time (array
 * indices, dynamic starts) are never trusted: negative ones wrap once
 * (index + dim) as MLX does, and whatever is still outside the axis is
 * clamped into it (see backend/cpu/indexing.c). */
#ifndef CMLX_OPS_INDEXING_H
#define CMLX_OPS_INDEXING_H

#include "core/array.h"

/* How scatter-like ops combine an update with what is there. */
typedef enum index_mode {
  INDEX_NONE, /* replace */
  INDEX_SUM,
  INDEX_PROD,
  INDEX_MAX,
  INDEX_MIN,
} index_mode;

/* The parameters of every indexing node (free() frees; one allocation).
 *   Gather:             axes[n_axes], sizes[ndim] = slice sizes
 *   Scatter:            mode, axes[n_axes]
 *   GatherAxis:         axis
 *   ScatterAxis:        mode (NONE or SUM), axis
 *   SliceUpdate:        mode, sizes[ndim] = normalised start, step[ndim]
 *   DynamicSlice(Update): axes[n_axes] (normalised) */
typedef struct index_params {
  index_mode mode;
  int axis;
  int n_axes;
  int ndim;
  int* axes;  /* n_axes entries */
  int* sizes; /* ndim entries */
  int* step;  /* ndim entries */
} index_params;

/* Zeroed params with room for the given counts (negative counts: 0). */
index_params* index_params_new(int n_axes, int ndim);

/* MLX's slice(a, start, stop, strides): the counts must equal a->ndim. */
array* op_slice_n(array* a, const int* start, int n_start, const int* stop,
                  int n_stop, const int* strides, int n_strides, stream s);
/* slice(a, start array, axes, slice_size): start[i] is where axes[i]
 * begins; the output has shape slice_size. */
array* op_slice_dynamic(array* a, array* start, const int* axes, int n_axes,
                        const int* slice_size, int n_size, stream s);
/* slice_update and its _add/_prod/_max/_min forms (mode). */
array* op_slice_update(array* src, array* update, const int* start,
                       int n_start, const int* stop, int n_stop,
                       const int* strides, int n_strides, index_mode mode,
                       stream s);
array* op_slice_update_dynamic(array* src, array* update, array* start,
                               const int* axes, int n_axes, stream s);

/* take: out shape = a.shape[:axis] + indices.shape + a.shape[axis+1:]. */
array* op_take_axis(array* a, array* indices, int axis, stream s);
/* take over the flattened array. */
array* op_take(array* a, array* indices, stream s);
array* op_take_along_axis(array* a, array* indices, int axis, stream s);
/* put_along_axis (INDEX_NONE) and scatter_add_axis (INDEX_SUM). */
array* op_scatter_axis(array* a, array* indices, array* values, int axis,
                       index_mode mode, stream s);

/* gather: out shape = broadcast(indices).shape + slice_sizes. */
array* op_gather(array* a, array* const* indices, int n_indices,
                 const int* axes, int n_axes, const int* slice_sizes,
                 int n_sizes, stream s);
/* scatter / scatter_add / _prod / _max / _min. */
array* op_scatter(array* a, array* const* indices, int n_indices,
                  array* updates, const int* axes, int n_axes,
                  index_mode mode, stream s);
array* op_masked_scatter(array* a, array* mask, array* values, stream s);

#endif
