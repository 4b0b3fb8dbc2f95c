/* axes.c - front-ends of the ops that rearrange axes without moving data:
 * transpose, swapaxes, moveaxis, squeeze, expand_dims, flatten,
 * unflatten, atleast_Nd, as_strided and slice.
 *
 * Each one validates its arguments the way MLX's ops.cpp does (same order,
 * same messages), computes the output shape and records a view node;
 * backend/cpu/views.c gives the output the input's buffer with new strides
 * at evaluation. Ops that change nothing return a new reference to their
 * input, as MLX returns the input array itself. Scratch space sized by a
 * caller's count lives on the heap, so absurd counts fail cleanly. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

/* ---- transpose family ---- */

array* op_transpose_axes(array* a, const int* axes, int n, stream s) {
  int nd = a->ndim;
  if (n != nd) {
    error_set("[transpose] Recived %d axes for array with %d dimensions.", n, nd);
    return NULL;
  }
  int shape[nd > 0 ? nd : 1], perm[nd > 0 ? nd : 1];
  bool seen[nd > 0 ? nd : 1];
  memset(seen, 0, sizeof seen);
  for (int i = 0; i < nd; i++) {
    /* MLX shifts negative axes once, then range-checks what it got */
    int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
    if (ax < 0 || ax >= nd) {
      error_set("[transpose] Invalid axis (%d) for array with %d dimensions.", ax, nd);
      return NULL;
    }
    if (seen[ax]) {
      error_set("[transpose] Repeat axes not allowed.");
      return NULL;
    }
    seen[ax] = true;
    perm[i] = ax;
    shape[i] = a->shape[ax];
  }
  view_params* p = view_params_new(VIEW_TRANSPOSE, nd);
  if (!p) return NULL;
  memcpy(p->axes, perm, sizeof(int) * (size_t)nd);
  return op_view_node(a, nd, shape, p, s);
}

array* op_transpose(array* a, stream s) {
  int nd = a->ndim;
  int axes[nd > 0 ? nd : 1];
  for (int i = 0; i < nd; i++) axes[i] = nd - 1 - i;
  return op_transpose_axes(a, axes, nd, s);
}

/* swapaxes and moveaxis accept axes in [-ndim, ndim). */
static int check_axis(const char* op, int* axis, int ndim) {
  if (*axis < -ndim || *axis >= ndim)
    return error_set("[%s] Invalid axis %d for array with %d dimensions.", op, *axis, ndim);
  if (*axis < 0) *axis += ndim;
  return 0;
}

array* op_swapaxes(array* a, int axis1, int axis2, stream s) {
  int nd = a->ndim;
  if (check_axis("swapaxes", &axis1, nd) || check_axis("swapaxes", &axis2, nd)) return NULL;
  int perm[nd > 0 ? nd : 1];
  for (int i = 0; i < nd; i++) perm[i] = i;
  perm[axis1] = axis2;
  perm[axis2] = axis1;
  return op_transpose_axes(a, perm, nd, s);
}

array* op_moveaxis(array* a, int source, int destination, stream s) {
  int nd = a->ndim;
  if (check_axis("moveaxis", &source, nd) || check_axis("moveaxis", &destination, nd))
    return NULL;
  if (source == destination) {
    array_retain(a);
    return a;
  }
  /* the other axes keep their order; source lands at destination */
  int perm[nd > 0 ? nd : 1];
  for (int i = 0, k = 0; i < nd; i++) {
    if (i == destination) {
      perm[i] = source;
      continue;
    }
    if (k == source) k++;
    perm[i] = k++;
  }
  return op_transpose_axes(a, perm, nd, s);
}

/* ---- squeeze / expand_dims ---- */

/* Builds the squeeze node from a mask of the axes to drop. */
static array* squeeze_node(array* a, const bool* drop, stream s) {
  int nd = a->ndim, out_nd = 0;
  for (int i = 0; i < nd; i++) out_nd += !drop[i];
  int shape[out_nd > 0 ? out_nd : 1];
  view_params* p = view_params_new(VIEW_SQUEEZE, out_nd);
  if (!p) return NULL;
  for (int i = 0, o = 0; i < nd; i++) {
    if (drop[i]) continue;
    p->axes[o] = i;
    shape[o++] = a->shape[i];
  }
  return op_view_node(a, out_nd, shape, p, s);
}

array* op_squeeze_axes(array* a, const int* axes, int n, stream s) {
  if (n == 0) {
    array_retain(a);
    return a;
  }
  int nd = a->ndim;
  bool drop[nd > 0 ? nd : 1];
  memset(drop, 0, sizeof drop);
  int unique = 0;
  for (int i = 0; i < n; i++) {
    int ax = axes[i];
    if (ax < -nd || ax >= nd) {
      error_set("[squeeze] Axis %d is out of bounds for array with %d dimensions.", ax, nd);
      return NULL;
    }
    int k = ax < 0 ? ax + nd : ax;
    if (a->shape[k] != 1) {
      error_set("[squeeze] Cannot squeeze axis %d with size %d which is not equal to 1.",
                ax, a->shape[k]);
      return NULL;
    }
    unique += !drop[k];
    drop[k] = true;
  }
  if (unique != n) {
    error_set("[squeeze] Received duplicate axes.");
    return NULL;
  }
  return squeeze_node(a, drop, s);
}

array* op_squeeze(array* a, stream s) {
  int nd = a->ndim;
  bool drop[nd > 0 ? nd : 1];
  bool any = false;
  for (int i = 0; i < nd; i++) {
    drop[i] = a->shape[i] == 1;
    any |= drop[i];
  }
  if (!any) {
    array_retain(a);
    return a;
  }
  return squeeze_node(a, drop, s);
}

array* op_expand_dims_axes(array* a, const int* axes, int n, stream s) {
  if (n == 0) {
    array_retain(a);
    return a;
  }
  if (n < 0 || n > INT_MAX - a->ndim) {
    error_set("[expand_dims] Too many axes (%d).", n);
    return NULL;
  }
  int out_nd = a->ndim + n;
  bool* is_new = calloc((size_t)out_nd, sizeof *is_new);
  int* shape = malloc(sizeof(int) * (size_t)out_nd);
  array* out = NULL;
  if (!is_new || !shape) {
    error_set("[expand_dims] Out of memory.");
    goto done;
  }
  int unique = 0;
  for (int i = 0; i < n; i++) {
    int ax = axes[i];
    if (ax < -out_nd || ax >= out_nd) {
      error_set("[expand_dims] Axis %d is out of bounds for array with %d dimensions.", ax,
                out_nd);
      goto done;
    }
    int k = ax < 0 ? ax + out_nd : ax;
    unique += !is_new[k];
    is_new[k] = true;
  }
  if (unique != n) {
    error_set("[expand_dims] Received duplicate axes.");
    goto done;
  }
  view_params* p = view_params_new(VIEW_EXPAND, out_nd);
  if (!p) goto done;
  for (int d = 0, k = 0; d < out_nd; d++) {
    p->axes[d] = is_new[d] ? -1 : k;
    shape[d] = is_new[d] ? 1 : a->shape[k++];
  }
  out = op_view_node(a, out_nd, shape, p, s);
done:
  free(is_new);
  free(shape);
  return out;
}

/* ---- flatten / unflatten / atleast (reshapes) ---- */

static array* reshape_node(array* a, const int* shape, int ndim, stream s) {
  view_params* p = view_params_new(VIEW_RESHAPE, ndim);
  if (!p) return NULL;
  return op_view_node(a, ndim, shape, p, s);
}

array* op_flatten(array* a, int start_axis, int end_axis, stream s) {
  int nd = a->ndim;
  if (nd == 0) {
    int one = 1;
    return reshape_node(a, &one, 1, s);
  }
  /* in int64: start_axis + ndim cannot overflow there */
  int64_t start = start_axis < 0 ? (int64_t)start_axis + nd : start_axis;
  int64_t end = end_axis < 0 ? (int64_t)end_axis + nd : end_axis;
  if (start < 0) start = 0;
  if (end > nd - 1) end = nd - 1;
  if (end < start) {
    error_set("[flatten] start_axis must be less than or equal to end_axis");
    return NULL;
  }
  if (start >= nd) {
    error_set("[flatten] Invalid start_axis %d for array with %d dimensions.", start_axis, nd);
    return NULL;
  }
  if (end < 0) {
    error_set("[flatten] Invalid end_axis %d for array with %d dimensions.", end_axis, nd);
    return NULL;
  }
  if (start == end) {
    array_retain(a);
    return a;
  }
  int64_t flat = 1;
  for (int64_t i = start; i <= end; i++) flat *= a->shape[i];
  if (flat > INT_MAX) {
    error_set("[flatten] Shape dimension %lld is outside the supported range "
              "[-2147483648, 2147483647]. MLX currently uses 32-bit integers for "
              "shape dimensions.",
              (long long)flat);
    return NULL;
  }
  int out_nd = nd - (int)(end - start);
  int shape[out_nd];
  int o = 0;
  for (int i = 0; i < start; i++) shape[o++] = a->shape[i];
  shape[o++] = (int)flat;
  for (int64_t i = end + 1; i < nd; i++) shape[o++] = a->shape[i];
  return reshape_node(a, shape, out_nd, s);
}

array* op_unflatten(array* a, int axis, const int* shape, int ndim, stream s) {
  if (ndim <= 0) {
    error_set("[unflatten] Shape to unflatten to cannot be empty.");
    return NULL;
  }
  int nd = a->ndim;
  int64_t ax = axis < 0 ? (int64_t)axis + nd : axis;
  if (ax < 0 || ax >= nd) {
    error_set("[unflatten] Invalid axes %lld for array with %d dimensions.", (long long)ax, nd);
    return NULL;
  }
  if (ndim > INT_MAX - nd) {
    error_set("[unflatten] Too many dimensions (%d).", ndim);
    return NULL;
  }
  int* dims = malloc(sizeof(int) * (size_t)ndim);
  int* out_shape = malloc(sizeof(int) * (size_t)(nd + ndim - 1));
  array* out = NULL;
  if (!dims || !out_shape) {
    error_set("[unflatten] Out of memory.");
    goto done;
  }
  /* the product of the known sizes, saturated above any possible axis
   * size (a later 0 still makes it 0); a negative size other than -1
   * (which MLX lets wrap around) can never match: the size error */
  const unsigned __int128 cap = (unsigned __int128)1 << 62;
  int infer = -1;
  bool bad = false;
  unsigned __int128 known = 1;
  for (int i = 0; i < ndim; i++) {
    dims[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) {
        error_set("[Unflatten] Can only infer one dimension.");
        goto done;
      }
      infer = i;
    } else if (shape[i] < 0) {
      bad = true;
    } else {
      known *= (unsigned)shape[i];
      if (known > cap) known = cap;
    }
  }
  int dim = a->shape[ax];
  /* with a known size of 0 MLX divides by zero; here it is a size error */
  bool no_inference = infer >= 0 && known == 0;
  if (infer >= 0 && !bad && !no_inference) {
    dims[infer] = (int)((unsigned __int128)dim / known);
    known *= (unsigned)dims[infer];
  }
  if (bad || no_inference || known != (unsigned __int128)dim) {
    char buf[512];
    error_set("[Unflatten] Cannot unflatten axis %d with size %d into shape %s.", axis, dim,
              error_format_shape(buf, sizeof buf, dims, ndim));
    goto done;
  }
  if (ndim == 1) {
    array_retain(a);
    out = a;
    goto done;
  }
  int o = 0;
  for (int i = 0; i < ax; i++) out_shape[o++] = a->shape[i];
  for (int i = 0; i < ndim; i++) out_shape[o++] = dims[i];
  for (int i = (int)ax + 1; i < nd; i++) out_shape[o++] = a->shape[i];
  out = reshape_node(a, out_shape, o, s);
done:
  free(dims);
  free(out_shape);
  return out;
}

/* MLX's atleast_1d/2d/3d: 0-d becomes all ones; a 1-d array of length k
 * becomes (1,k) or (1,k,1); a 2-d (m,k) becomes (m,k,1). */
array* op_atleast(array* a, int ndim, stream s) {
  if (ndim < 1 || ndim > 3) {
    error_set("[atleast] Unsupported number of dimensions %d.", ndim);
    return NULL;
  }
  int nd = a->ndim;
  if (nd >= ndim) {
    array_retain(a);
    return a;
  }
  int shape[3] = {1, 1, 1};
  if (nd == 1) shape[1] = a->shape[0];
  if (nd == 2) {
    shape[0] = a->shape[0];
    shape[1] = a->shape[1];
  }
  return reshape_node(a, shape, ndim, s);
}

/* ---- as_strided ---- */

array* op_as_strided(array* a, const int* shape, int ndim, const int64_t* strides,
                     int nstrides, size_t offset, stream s) {
  if (shape_check("as_strided", shape, ndim, NULL)) return NULL;
  if (nstrides != ndim) {
    error_set("[as_strided] Received %d strides for a shape with %d dimensions.", nstrides,
              ndim);
    return NULL;
  }
  if (ndim > 0 && !strides) {
    error_set("[as_strided] The strides pointer is NULL.");
    return NULL;
  }
  /* strides and offset count elements of a in row-major order: view a
   * row-contiguous version of it (the same buffer when a already is). The
   * kernel refuses layouts that reach outside that buffer. */
  array* c = op_contiguous(a, false, s);
  if (!c) return NULL;
  view_params* p = view_params_new(VIEW_AS_STRIDED, ndim);
  array* out = NULL;
  if (p) {
    if (ndim) memcpy(p->strides, strides, sizeof(int64_t) * (size_t)ndim);
    p->offset = (int64_t)offset;
    out = op_view_node(c, ndim, shape, p, s);
  }
  array_release(c);
  return out;
}

/* ---- slice ---- */

/* MLX's normalize_slice for one axis of size n: negative start/stop count
 * from the end, then both are clamped into range (for negative steps start
 * may sit at n-1 and stop at -1, "left of 0"). Returns the output size and
 * the normalised start. Computed in int64 so no clamp can overflow. */
static int64_t slice_axis(int64_t n, int64_t start, int64_t stop, int64_t step,
                          int64_t* start_out) {
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (step < 0) {
    int64_t st = start < n - 1 ? start : n - 1;
    int64_t ed = stop > -1 ? stop : -1;
    if (ed > st) ed = st;
    *start_out = st;
    return (st - ed + (-step) - 1) / (-step);
  }
  int64_t st = start < 0 ? 0 : (start > n ? n : start);
  int64_t ed = stop < 0 ? 0 : (stop > n ? n : stop);
  if (ed < st) ed = st;
  *start_out = st;
  return (ed - st + step - 1) / step;
}

array* op_slice(array* a, const int* start, const int* stop, const int* step, stream s) {
  int nd = a->ndim;
  int shape[nd > 0 ? nd : 1], st[nd > 0 ? nd : 1], sp[nd > 0 ? nd : 1];
  bool negative = false, same = true;
  for (int i = 0; i < nd; i++) {
    if (step[i] == 0) {
      error_set("[slice] Slice step cannot be zero.");
      return NULL;
    }
    int64_t first;
    shape[i] = (int)slice_axis(a->shape[i], start[i], stop[i], step[i], &first);
    st[i] = (int)first;
    /* MLX simplifies the step of axes that keep one element */
    sp[i] = shape[i] == 1 ? 1 : step[i];
    negative |= step[i] < 0;
    same &= shape[i] == a->shape[i];
  }
  if (!negative && same) {
    array_retain(a);
    return a;
  }
  view_params* p = view_params_new(VIEW_SLICE, nd);
  if (!p) return NULL;
  for (int i = 0; i < nd; i++) {
    p->start[i] = st[i];
    p->step[i] = sp[i];
  }
  return op_view_node(a, nd, shape, p, s);
}
