/* indexing.c - front-ends of the indexing ops: slice with counts, dynamic
 * slices, slice updates (plain and reducing), take, take_along_axis,
 * put_along_axis / scatter_add_axis, gather, scatter (plain and reducing)
 * and masked_scatter.
 *
 * Each follows MLX's ops.cpp: the same checks in the same order with the
 * same messages, the same casts and broadcasts (which are nodes of their
 * own), and the same composition (take is a gather followed by a transpose
 * and a squeeze, as in MLX, so the result has MLX's strides). The kernels
 * are in backend/cpu/indexing.c. Where MLX would crash or make a malformed
 * array (zero slice steps in slice_update, negative sizes, an update with
 * more dimensions than the source in slice_update_dynamic) we report an
 * error instead; those messages are ours and say so in the comments. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/indexing.h"
#include "core/error.h"
#include "ops/binary_list.h"
#include "ops/indexing.h"
#include "ops/ops.h"

static const primitive prim_gather = {"Gather", cpu_gather_eval, NULL, NULL};
static const primitive prim_gather_axis = {"GatherAxis", cpu_gather_axis_eval, NULL, NULL};
static const primitive prim_scatter = {"Scatter", cpu_scatter_eval, NULL, NULL};
static const primitive prim_scatter_axis = {"ScatterAxis", cpu_scatter_axis_eval, NULL, NULL};
static const primitive prim_slice_update = {"SliceUpdate", cpu_slice_update_eval, NULL, NULL};
static const primitive prim_dynamic_slice = {"DynamicSlice", cpu_dynamic_slice_eval, NULL,
                                             NULL};
static const primitive prim_dynamic_slice_update = {"DynamicSliceUpdate",
                                                    cpu_dynamic_slice_update_eval, NULL, NULL};
static const primitive prim_masked_scatter = {"MaskedScatter", cpu_masked_scatter_eval, NULL,
                                              NULL};

index_params* index_params_new(int n_axes, int ndim) {
  if (n_axes < 0) n_axes = 0;
  if (ndim < 0) ndim = 0;
  size_t n = (size_t)n_axes + 2 * (size_t)ndim;
  index_params* p = calloc(1, sizeof *p + sizeof(int) * (n ? n : 1));
  if (!p) {
    error_set("[indexing] Out of memory.");
    return NULL;
  }
  int* ints = (int*)(p + 1);
  p->n_axes = n_axes;
  p->ndim = ndim;
  p->axes = ints;
  p->sizes = ints + n_axes;
  p->step = p->sizes + ndim;
  return p;
}

/* ---- helpers ---- */

static void release_all(array** a, int n) {
  for (int i = 0; i < n; i++) array_release(a[i]);
}


/* MLX's result_type over the index arrays (bool when there are none). */
static mlx_dtype result_type(array* const* in, int n) {
  mlx_dtype t = MLX_BOOL;
  for (int i = 0; i < n; i++) t = dtype_promote(t, in[i]->dtype);
  return t;
}

static int cmp_int(const void* a, const void* b) {
  int x = *(const int*)a, y = *(const int*)b;
  return (x > y) - (x < y);
}

/* MLX's std::set checks on gather/scatter axes: *repeat when two are
 * equal, *range when any is outside [0, ndim) (negative axes are not
 * wrapped). Returns 1 after an allocation failure (message set). */
static int check_axes(const int* axes, int n, int ndim, bool* repeat, bool* range) {
  *repeat = *range = false;
  if (n == 0) return 0;
  int* sorted = malloc(sizeof(int) * (size_t)n);
  if (!sorted) return error_set("[indexing] Out of memory.");
  memcpy(sorted, axes, sizeof(int) * (size_t)n);
  qsort(sorted, (size_t)n, sizeof(int), cmp_int);
  for (int i = 1; i < n; i++) *repeat |= sorted[i] == sorted[i - 1];
  *range = sorted[0] < 0 || sorted[n - 1] >= ndim;
  free(sorted);
  return 0;
}

/* Broadcasts and casts index arrays to one shape and type; out receives n
 * new references. n <= ndim of the indexed array (checked first). */
static int broadcast_indices(array** out, array* const* in, int n, mlx_dtype t, stream s) {
  if (n == 0) return 0;
  array* b[n];
  if (op_broadcast_arrays(b, in, n, s)) return 1;
  int made = 0;
  for (; made < n; made++) {
    out[made] = op_astype(b[made], t, s);
    if (!out[made]) break;
  }
  release_all(b, n);
  if (made == n) return 0;
  release_all(out, made);
  return 1;
}

/* MLX's broadcast_arrays(in, {axis - ndim}): every input (all with ndim
 * dims) is broadcast to a common shape except along axis, where each keeps
 * its own size. out receives n new references. */
static int broadcast_except_axis(array** out, array* const* in, int n, int axis, stream s) {
  int nd = in[0]->ndim;
  int acc[nd], rest[nd], tmp[nd], target[nd];
  int cur = 0;
  for (int i = 0; i < n; i++) {
    for (int d = 0, r = 0; d < nd; d++)
      if (d != axis) rest[r++] = in[i]->shape[d];
    if (broadcast_shapes(acc, cur, rest, nd - 1, tmp, &cur)) return 1;
    memcpy(acc, tmp, sizeof(int) * (size_t)cur);
  }
  for (int i = 0; i < n; i++) {
    for (int d = 0, r = 0; d < nd; d++) target[d] = d == axis ? in[i]->shape[d] : acc[r++];
    out[i] = op_broadcast_to(in[i], target, nd, s);
    if (!out[i]) {
      for (int j = 0; j < i; j++) array_release(out[j]);
      return 1;
    }
  }
  return 0;
}

/* ---- slice ---- */

array* op_slice_n(array* a, const int* start, int n_start, const int* stop, int n_stop,
                  const int* strides, int n_strides, stream s) {
  if (n_start != a->ndim || n_stop != a->ndim || n_strides != a->ndim) {
    error_set("[slice] Invalid number of indices or strides for array with dimension %d.",
              a->ndim);
    return NULL;
  }
  return op_slice(a, start, stop, strides, s);
}

/* MLX's normalize_slice over all axes: negative start/stop count from the
 * end, both are clamped into the axis (for negative steps start may be
 * n-1 and stop -1, "left of 0"); axes keeping one element get step 1.
 * Returns whether any step is negative. Computed in int64 so no clamp can
 * overflow. */
static bool slice_normalize(const int* shape, int nd, const int* start, const int* stop,
                            const int* step, int* out_shape, int* first, int* out_step) {
  bool negative = false;
  for (int i = 0; i < nd; i++) {
    int64_t n = shape[i], st = start[i], ed = stop[i], k = step[i], size;
    if (st < 0) st += n;
    if (ed < 0) ed += n;
    if (k < 0) {
      negative = true;
      st = st < n - 1 ? st : n - 1;
      ed = ed > -1 ? ed : -1;
      if (ed > st) ed = st;
      size = (st - ed - k - 1) / -k;
    } else {
      st = st < 0 ? 0 : st > n ? n : st;
      ed = ed < 0 ? 0 : ed > n ? n : ed;
      if (ed < st) ed = st;
      size = (ed - st + k - 1) / k;
    }
    out_shape[i] = (int)size;
    first[i] = (int)st;
    out_step[i] = size == 1 ? 1 : (int)k;
  }
  return negative;
}

/* ---- dynamic slices ---- */

/* MLX's normalize_dynamic_slice_inputs; norm receives the axes in
 * [0, ndim). */
static int dynamic_inputs(const char* prefix, array* a, array* start, const int* axes,
                          int n_axes, int* norm) {
  int nd = a->ndim;
  if (start->size > (size_t)nd)
    return error_set("%s Invalid number of starting positions for array with dimension %d.",
                     prefix, nd);
  if (start->ndim > 1)
    return error_set("%s array of starting indices must be zero or one dimensional but has "
                     "dimension %d.",
                     prefix, start->ndim);
  if (start->size != (size_t)n_axes)
    return error_set("%s Number of starting indices %zu does not match number of axes %d.",
                     prefix, start->size, n_axes);
  if (!dtype_is_integer(start->dtype))
    return error_set("%s Start indices must be integers, got type %s.", prefix,
                     dtype_name(start->dtype));
  for (int i = 0; i < n_axes; i++) {
    int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
    if (ax < 0 || ax >= nd)
      return error_set("%s Invalid axis %d for array with dimension %d.", prefix, axes[i], nd);
    norm[i] = ax;
  }
  for (int i = 0; i < n_axes; i++)
    for (int j = 0; j < i; j++)
      if (norm[i] == norm[j]) return error_set("%s Repeat axes not allowed.", prefix);
  return 0;
}

array* op_slice_dynamic(array* a, array* start, const int* axes, int n_axes,
                        const int* slice_size, int n_size, stream s) {
  int nd = a->ndim;
  /* dynamic_inputs writes axes only once n_axes == start->size <= ndim */
  index_params* p = index_params_new(n_axes <= nd ? n_axes : nd, 0);
  if (!p) return NULL;
  if (dynamic_inputs("[slice]", a, start, axes, n_axes, p->axes)) {
    free(p);
    return NULL;
  }
  if (n_size != nd) {
    free(p);
    error_set("[slice] Invalid slice size for array with %d dimensions.", nd);
    return NULL;
  }
  for (int i = 0; i < nd; i++) {
    /* negative sizes (which MLX lets through into a malformed shape) get
     * the same message */
    if (slice_size[i] > a->shape[i] || slice_size[i] < 0) {
      char b1[256], b2[256];
      free(p);
      error_set("[slice] Invalid slice size %s for array with shape %s.",
                error_format_shape(b1, sizeof b1, slice_size, nd),
                error_format_shape(b2, sizeof b2, a->shape, nd));
      return NULL;
    }
  }
  array* in[2] = {a, start};
  return array_new_op(a->dtype, nd, slice_size, &prim_dynamic_slice, p, in, 2, s);
}

/* ---- slice updates ---- */

static array* full_update(array* src, array* upd, index_mode mode, stream s) {
  static const int binop[] = {0, BINARY_ADD, BINARY_MULTIPLY, BINARY_MAXIMUM, BINARY_MINIMUM};
  if (mode == INDEX_NONE) {
    array_retain(upd);
    return upd;
  }
  return op_binary(binop[mode], src, upd, s);
}

array* op_slice_update(array* src, array* update, const int* start, int n_start,
                       const int* stop, int n_stop, const int* strides, int n_strides,
                       index_mode mode, stream s) {
  int nd = src->ndim;
  if (n_start != nd || n_stop != nd || n_strides != nd) {
    error_set("[slice_update] Invalid number of indices or strides for array with dimension %d.",
              nd);
    return NULL;
  }
  for (int i = 0; i < nd; i++) {
    if (strides[i] == 0) {
      /* MLX divides by zero here; ours is op_slice's message */
      error_set("[slice_update] Slice step cannot be zero.");
      return NULL;
    }
  }
  int shape[nd > 0 ? nd : 1];
  index_params* p = index_params_new(0, nd);
  if (!p) return NULL;
  p->mode = mode;
  bool negative = slice_normalize(src->shape, nd, start, stop, strides, shape, p->sizes, p->step);
  array* cast = op_astype(update, src->dtype, s);
  array* upd = cast ? op_broadcast_to(cast, shape, nd, s) : NULL;
  array_release(cast);
  if (!upd) {
    free(p);
    return NULL;
  }
  array* out;
  if (!negative && (nd == 0 || memcmp(shape, src->shape, sizeof(int) * (size_t)nd) == 0)) {
    /* the slice is the whole source */
    free(p);
    out = full_update(src, upd, mode, s);
  } else {
    array* in[2] = {src, upd};
    out = array_new_op(src->dtype, nd, src->shape, &prim_slice_update, p, in, 2, s);
  }
  array_release(upd);
  return out;
}

array* op_slice_update_dynamic(array* src, array* update, array* start, const int* axes,
                               int n_axes, stream s) {
  int nd = src->ndim;
  /* dynamic_inputs writes axes only once n_axes == start->size <= ndim */
  index_params* p = index_params_new(n_axes <= nd ? n_axes : nd, 0);
  if (!p) return NULL;
  if (dynamic_inputs("[slice_update]", src, start, axes, n_axes, p->axes)) {
    free(p);
    return NULL;
  }
  if (update->ndim > nd) {
    /* MLX computes a negative axis count here; broadcasting the update to
     * the source's shape fails, and its message says why */
    array* b = op_broadcast_to(update, src->shape, nd, s);
    array_release(b);
    free(p);
    return NULL;
  }
  /* the update is broadcast over the leading axes it lacks, and never
   * beyond the source */
  int diff = nd - update->ndim;
  int up_shape[nd > 0 ? nd : 1];
  for (int d = 0; d < nd; d++) {
    int u = d < diff ? src->shape[d] : update->shape[d - diff];
    up_shape[d] = d < diff || u < src->shape[d] ? u : src->shape[d];
  }
  for (int i = 0; i < n_axes; i++)
    if (p->axes[i] < diff) up_shape[p->axes[i]] = 1;
  array* cast = op_astype(update, src->dtype, s);
  array* upd = cast ? op_broadcast_to(cast, up_shape, nd, s) : NULL;
  array_release(cast);
  if (!upd) {
    free(p);
    return NULL;
  }
  array* in[3] = {src, upd, start};
  array* out = array_new_op(src->dtype, nd, src->shape, &prim_dynamic_slice_update, p, in, 3, s);
  array_release(upd);
  return out;
}

/* ---- gather and take ---- */

array* op_gather(array* a, array* const* indices, int n_indices, const int* axes, int n_axes,
                 const int* slice_sizes, int n_sizes, stream s) {
  int nd = a->ndim;
  if (n_indices > nd) {
    error_set("[gather] Too many index arrays. Got %d index arrays for input with %d "
              "dimensions.",
              n_indices, nd);
    return NULL;
  }
  bool repeat, range;
  if (check_axes(axes, n_axes, nd, &repeat, &range)) return NULL;
  if (repeat) {
    error_set("[gather] Repeat axes not allowed in gather.");
    return NULL;
  }
  if (range) {
    error_set("[gather] Axes don't match array dimensions.");
    return NULL;
  }
  if (n_indices != n_axes) {
    error_set("[gather] Number of index arrays does not match number of axes.");
    return NULL;
  }
  for (int i = 0; i < n_indices; i++) {
    if (indices[i]->dtype == MLX_BOOL) {
      error_set("[Gather] Boolean indices not supported.");
      return NULL;
    }
  }
  if (n_sizes != nd) {
    error_set("[gather] Got slice_sizes with size %d for array with %d dimensions.", n_sizes,
              nd);
    return NULL;
  }
  mlx_dtype t = result_type(indices, n_indices);
  if (dtype_is_inexact(t)) {
    error_set("[gather] Got indices with invalid dtype. Indices must be integral.");
    return NULL;
  }
  array* in[n_indices + 1];
  if (broadcast_indices(in + 1, indices, n_indices, t, s)) return NULL;
  in[0] = a;
  array* out = NULL;
  char b1[256], b2[256];
  if (a->size == 0) {
    int64_t total = 1;
    for (int i = 0; i < nd; i++) total *= slice_sizes[i];
    size_t idx_size = n_indices ? in[1]->size : 1;
    if (idx_size != 0 && total != 0) {
      error_set("[gather] If the input is empty, either the indices must be empty or the total "
                "slice size must be 0.");
      goto done;
    }
  }
  for (int i = 0; i < nd; i++) {
    /* MLX checks the range only for non-empty inputs; negative sizes are
     * refused always (MLX would make a malformed shape) */
    if (slice_sizes[i] < 0 || (a->size != 0 && slice_sizes[i] > a->shape[i])) {
      error_set("[gather] Slice sizes must be in [0, a.shape(i)]. Got %s for array with shape "
                "%s.",
                error_format_shape(b1, sizeof b1, slice_sizes, nd),
                error_format_shape(b2, sizeof b2, a->shape, nd));
      goto done;
    }
  }
  {
    int idx_nd = n_indices ? in[1]->ndim : 0;
    int shape[idx_nd + nd + 1];
    if (idx_nd) memcpy(shape, in[1]->shape, sizeof(int) * (size_t)idx_nd);
    if (nd) memcpy(shape + idx_nd, slice_sizes, sizeof(int) * (size_t)nd);
    if (shape_check("gather", shape, idx_nd + nd, NULL)) goto done;
    index_params* p = index_params_new(n_axes, nd);
    if (!p) goto done;
    if (n_axes) memcpy(p->axes, axes, sizeof(int) * (size_t)n_axes);
    if (nd) memcpy(p->sizes, slice_sizes, sizeof(int) * (size_t)nd);
    out = array_new_op(a->dtype, idx_nd + nd, shape, &prim_gather, p, in, n_indices + 1, s);
  }
done:
  release_all(in + 1, n_indices);
  return out;
}

array* op_take_axis(array* a, array* indices, int axis, stream s) {
  int nd = a->ndim;
  if ((int64_t)axis + nd < 0 || axis >= nd) {
    error_set("[take] Received invalid axis %d for array with %d dimensions.", axis, nd);
    return NULL;
  }
  int ax = axis < 0 ? axis + nd : axis;
  if (a->shape[ax] == 0 && indices->size != 0) {
    error_set("[take] Cannot do a non-empty take from an empty axis.");
    return NULL;
  }
  int sizes[nd];
  memcpy(sizes, a->shape, sizeof sizes);
  sizes[ax] = 1;
  array* g = op_gather(a, &indices, 1, &ax, 1, sizes, nd, s);
  if (!g) return NULL;
  int idx_nd = indices->ndim;
  if (ax != 0) {
    /* move the index axes to where the taken axis was */
    int out_nd = g->ndim, perm[out_nd];
    for (int i = 0; i < ax; i++) perm[i] = idx_nd + i;
    for (int i = 0; i < idx_nd; i++) perm[ax + i] = i;
    for (int i = ax + idx_nd; i < out_nd; i++) perm[i] = i;
    array* t = op_transpose_axes(g, perm, out_nd, s);
    array_release(g);
    if (!t) return NULL;
    g = t;
  }
  int sq = idx_nd + ax;
  array* out = op_squeeze_axes(g, &sq, 1, s);
  array_release(g);
  return out;
}

array* op_take(array* a, array* indices, stream s) {
  array* flat = op_flatten(a, 0, -1, s);
  if (!flat) return NULL;
  array* out = op_take_axis(flat, indices, 0, s);
  array_release(flat);
  return out;
}

array* op_take_along_axis(array* a, array* indices, int axis, stream s) {
  int nd = a->ndim;
  if (axis < -nd || axis >= nd) {
    error_set("[take_along_axis] Axis %d is out of bounds for array with %d dimensions.", axis,
              nd);
    return NULL;
  }
  int ax = axis < 0 ? axis + nd : axis;
  if (indices->ndim != nd) {
    error_set("[take_along_axis] Indices of dimension %d does not match array of dimension %d.",
              indices->ndim, nd);
    return NULL;
  }
  array* in[2] = {a, indices};
  array* b[2];
  if (broadcast_except_axis(b, in, 2, ax, s)) return NULL;
  index_params* p = index_params_new(0, 0);
  array* out = NULL;
  if (p) {
    p->axis = ax;
    out = array_new_op(a->dtype, nd, b[1]->shape, &prim_gather_axis, p, b, 2, s);
  }
  release_all(b, 2);
  return out;
}

/* ---- scatter ---- */

array* op_scatter_axis(array* a, array* indices, array* values, int axis, index_mode mode,
                       stream s) {
  const char* prefix = mode == INDEX_NONE ? "[put_along_axis]" : "[scatter_add_axis]";
  int nd = a->ndim;
  if (axis < -nd || axis >= nd) {
    error_set("%s Axis %d is out of bounds for array with %d dimensions.", prefix, axis, nd);
    return NULL;
  }
  int ax = axis < 0 ? axis + nd : axis;
  if (indices->ndim != nd) {
    error_set("%s Indices of dimension %d does not match array of dimension %d.", prefix,
              indices->ndim, nd);
    return NULL;
  }
  if (a->size == 0) {
    array_retain(a);
    return a;
  }
  array* upd = op_astype(values, a->dtype, s);
  if (!upd) return NULL;
  if (upd->ndim > indices->ndim) {
    /* leading singleton axes of the values go */
    int k = upd->ndim - indices->ndim, sq[k];
    for (int i = 0; i < k; i++) sq[i] = i;
    array* t = op_squeeze_axes(upd, sq, k, s);
    array_release(upd);
    if (!t) return NULL;
    upd = t;
  }
  array* pair_in[2] = {indices, upd};
  array* pair[2];
  int rc = op_broadcast_arrays(pair, pair_in, 2, s);
  array_release(upd);
  if (rc) return NULL;
  array* in[3] = {a, pair[0], pair[1]};
  array* b[3];
  rc = broadcast_except_axis(b, in, 3, ax, s);
  release_all(pair, 2);
  if (rc) return NULL;
  index_params* p = index_params_new(0, 0);
  array* out = NULL;
  if (p) {
    p->mode = mode;
    p->axis = ax;
    out = array_new_op(a->dtype, nd, b[0]->shape, &prim_scatter_axis, p, b, 3, s);
  }
  release_all(b, 3);
  return out;
}

array* op_scatter(array* a, array* const* indices, int n_indices, array* updates,
                  const int* axes, int n_axes, index_mode mode, stream s) {
  int nd = a->ndim;
  if (n_indices > nd) {
    error_set("[scatter] Too many index arrays. Got %d index arrays for input with %d "
              "dimensions.",
              n_indices, nd);
    return NULL;
  }
  for (int i = 0; i < n_indices; i++) {
    if (indices[i]->dtype == MLX_BOOL) {
      error_set("[scatter] Boolean indices not supported.");
      return NULL;
    }
  }
  bool repeat, range;
  if (check_axes(axes, n_axes, nd, &repeat, &range)) return NULL;
  if (repeat) {
    error_set("[scatter] Repeat axes not allowed in scatter.");
    return NULL;
  }
  if (range) {
    error_set("[scatter] Axes don't match array dimensions.");
    return NULL;
  }
  if (n_indices != n_axes) {
    error_set("[scatter] Number of index arrays does not match number of axes.");
    return NULL;
  }
  array* bcast[n_indices + 1];
  if (n_indices && op_broadcast_arrays(bcast, indices, n_indices, s)) return NULL;
  int idx_nd = n_indices ? bcast[0]->ndim : 0;
  const int* idx_shape = n_indices ? bcast[0]->shape : NULL;
  array* in[n_indices + 2];
  int n_in = 0;
  array* out = NULL;
  char b1[256], b2[256];
  if (updates->ndim != nd + idx_nd) {
    error_set("[scatter] Updates with %d dimensions does not match the sum of the array (%d) "
              "and indices (%d) dimensions.",
              updates->ndim, nd, idx_nd);
    goto done;
  }
  for (int i = 0; i < idx_nd; i++) {
    if (updates->shape[i] != idx_shape[i]) {
      error_set("[scatter] Update shape %s is not valid for broadcasted index shape %s.",
                error_format_shape(b1, sizeof b1, updates->shape, updates->ndim),
                error_format_shape(b2, sizeof b2, idx_shape, idx_nd));
      goto done;
    }
  }
  for (int i = 0; i < nd; i++) {
    if (updates->shape[i + idx_nd] > a->shape[i]) {
      error_set("[scatter] Updates with shape %s are too large for array with shape %s.",
                error_format_shape(b1, sizeof b1, updates->shape, updates->ndim),
                error_format_shape(b2, sizeof b2, a->shape, nd));
      goto done;
    }
  }
  mlx_dtype t = result_type(indices, n_indices);
  if (dtype_is_inexact(t)) {
    error_set("[scatter] Got indices with invalid dtype. Indices must be integral.");
    goto done;
  }
  in[n_in++] = a;
  for (int i = 0; i < n_indices; i++) {
    array* c = op_astype(bcast[i], t, s);
    if (!c) goto done;
    in[n_in++] = c;
  }
  array* u = op_astype(updates, a->dtype, s);
  if (!u) goto done;
  in[n_in++] = u;
  index_params* p = index_params_new(n_axes, 0);
  if (!p) goto done;
  p->mode = mode;
  if (n_axes) memcpy(p->axes, axes, sizeof(int) * (size_t)n_axes);
  out = array_new_op(a->dtype, nd, a->shape, &prim_scatter, p, in, n_in, s);
done:
  if (n_in) release_all(in + 1, n_in - 1);
  release_all(bcast, n_indices);
  return out;
}

array* op_masked_scatter(array* a, array* mask, array* values, stream s) {
  if (mask->dtype != MLX_BOOL) {
    error_set("[masked_scatter] The mask has to be boolean.");
    return NULL;
  }
  if (mask->ndim > a->ndim) {
    error_set("[masked_scatter] The mask cannot have more dimensions than the target.");
    return NULL;
  }
  int nd = a->ndim, md = mask->ndim, unmasked = nd - md;
  if (values->ndim > unmasked + 1) {
    error_set("[masked_scatter] Value array shape must be broadcastable with the last %d "
              "dimensions of the input.",
              unmasked);
    return NULL;
  }
  if (md && memcmp(mask->shape, a->shape, sizeof(int) * (size_t)md) != 0) {
    char b1[256], b2[256];
    error_set("[masked_scatter] The boolean mask should have the same shape as the beginning "
              "of the indexed array but the mask has shape %s and the array has shape %s",
              error_format_shape(b1, sizeof b1, mask->shape, md),
              error_format_shape(b2, sizeof b2, a->shape, nd));
    return NULL;
  }
  array* v = op_astype(values, a->dtype, s);
  if (!v) return NULL;
  /* values become [N, a.shape[md:]...]: a missing leading axis is
   * broadcast over the mask's elements */
  int vshape[unmasked + 1];
  bool need = false;
  if (values->ndim < unmasked + 1) {
    int lead = unmasked + 1 - values->ndim;
    for (int i = 0; i < lead; i++) vshape[i] = 1;
    for (int i = 0; i < values->ndim; i++) vshape[lead + i] = values->shape[i];
    array* r = op_reshape(v, vshape, unmasked + 1, s);
    array_release(v);
    if (!r) return NULL;
    v = r;
    vshape[0] = mask->size > INT_MAX ? INT_MAX : (int)mask->size;
    need = true;
  } else if (unmasked > 0 &&
             memcmp(values->shape + 1, a->shape + md, sizeof(int) * (size_t)unmasked) != 0) {
    vshape[0] = values->shape[0];
    need = true;
  }
  if (need) {
    for (int i = 1; i <= unmasked; i++) vshape[i] = a->shape[md + i - 1];
    array* b = op_broadcast_to(v, vshape, unmasked + 1, s);
    array_release(v);
    if (!b) return NULL;
    v = b;
  }
  index_params* p = index_params_new(0, 0);
  array* out = NULL;
  if (p) {
    array* in[3] = {a, mask, v};
    out = array_new_op(a->dtype, nd, a->shape, &prim_masked_scatter, p, in, 3, s);
  }
  array_release(v);
  return out;
}
