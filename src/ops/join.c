/* join.c - front-ends of the joining and layout ops: concatenate, stack,
 * split, tile, repeat, pad, roll, diag, diagonal, trace, meshgrid, kron.
 *
 * Validation follows MLX's ops.cpp: the same checks in the same order with
 * the same messages. Where MLX composes an op from others, so do we when
 * the composition costs nothing extra (split is slices, stack is
 * expand_dims + concatenate, tile and repeat are broadcast views made
 * contiguous by a reshape, meshgrid is reshapes + broadcasting, kron is a
 * broadcast multiply, trace sums a diagonal). Three primitives do the
 * rest in one pass each (kernels in backend/cpu/join.c):
 * - Concatenate: inputs copied side by side (also diag of a vector, placed
 *   along a diagonal of zeros);
 * - Pad / Roll: every output index read through a per-axis map, which
 *   covers constant, edge, reflect and symmetric padding (MLX builds the
 *   last three from chains of slice_update) and rolls (MLX: split +
 *   concatenate per axis);
 * - Diagonal: a strided view (MLX gathers; the values are the same).
 * Where MLX's behaviour is undefined (pad axes out of range, edge padding
 * of a subset of axes) we pick the obvious rule (docs/semantics.md). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/join.h"
#include "core/error.h"
#include "ops/binary_list.h"
#include "ops/join.h"
#include "ops/ops.h"
#include "ops/reduce.h"

#define VLA_N(n) ((n) > 0 ? (n) : 1)

static const primitive prim_concatenate = {"Concatenate", cpu_pieces_eval, NULL, NULL};
static const primitive prim_pad = {"Pad", cpu_remap_eval, NULL, NULL};
static const primitive prim_roll = {"Roll", cpu_remap_eval, NULL, NULL};
static const primitive prim_diagonal = {"Diagonal", cpu_diagonal_eval, NULL, NULL};

/* ---- helpers ---- */

static array* same(array* a) {
  array_retain(a);
  return a;
}

/* MLX's normalize_axis_index with the op's prefix. */
static int axis_index(const char* op, int axis, int ndim, int* out) {
  *out = 0;
  if (axis < -ndim || axis >= ndim)
    return error_set("[%s] Axis %d is out of bounds for array with %d dimensions.", op, axis,
                     ndim);
  *out = axis < 0 ? axis + ndim : axis;
  return 0;
}

/* MLX's safe_cast of a shape dimension computed in 64 bits. */
static int dim_check(const char* op, int64_t v, int* out) {
  *out = 0;
  if (v < INT_MIN || v > INT_MAX)
    return error_set("[%s] Shape dimension %lld is outside the supported range [%d, %d]. MLX "
                     "currently uses 32-bit integers for shape dimensions.",
                     op, (long long)v, INT_MIN, INT_MAX);
  *out = (int)v;
  return 0;
}

static void free_list(array** list, int n) {
  for (int i = 0; list && i < n; i++) array_release(list[i]);
  free(list);
}

static array** list_new(int n, const char* op) {
  array** list = calloc((size_t)VLA_N(n), sizeof *list);
  if (!list) error_set("[%s] Out of memory.", op);
  return list;
}

/* ---- concatenate / stack ---- */

/* The shapes message of MLX's throw_invalid_shapes. */
static int concat_shapes_error(array* const* arrays, int n, int axis) {
  size_t cap = 256 + (size_t)n * 64, used = 0;
  char* msg = malloc(cap);
  if (!msg) return error_set("[concatenate] Out of memory.");
  used += (size_t)snprintf(msg, cap,
                           "[concatenate] All the input array dimensions must match exactly "
                           "except for the concatenation axis. However, the provided shapes "
                           "are ");
  for (int i = 0; i < n && used < cap; i++) {
    char sh[256];
    error_format_shape(sh, sizeof sh, arrays[i]->shape, arrays[i]->ndim);
    used += (size_t)snprintf(msg + used, cap - used, "%s, ", sh);
  }
  if (used < cap) snprintf(msg + used, cap - used, "and the concatenation axis is %d.", axis);
  error_set("%s", msg);
  free(msg);
  return 1;
}

array* op_concatenate(array* const* arrays, int n, int axis, stream s) {
  if (n <= 0) {
    error_set("[concatenate] No arrays provided for concatenation");
    return NULL;
  }
  if (n == 1) return same(arrays[0]);
  int nd = arrays[0]->ndim, ax;
  if (axis_index("concatenate", axis, nd, &ax)) return NULL;
  int64_t concat = 0;
  for (int k = 0; k < n; k++) {
    const array* a = arrays[k];
    if (a->ndim != nd) {
      error_set("[concatenate] All the input arrays must have the same number of dimensions. "
                "However, got arrays with dimensions %d and %d.",
                nd, a->ndim);
      return NULL;
    }
    for (int d = 0; d < nd; d++)
      if (d != ax && a->shape[d] != arrays[0]->shape[d]) {
        concat_shapes_error(arrays, n, axis);
        return NULL;
      }
    concat += a->shape[ax];
  }
  int shape[nd];
  memcpy(shape, arrays[0]->shape, sizeof shape);
  if (dim_check("concatenate", concat, &shape[ax])) return NULL;
  mlx_dtype dtype = arrays[0]->dtype;
  for (int k = 1; k < n; k++) dtype = dtype_promote(dtype, arrays[k]->dtype);

  /* each input lands at its running offset along ax, with the output's
   * row-major strides */
  int64_t st[nd];
  array_row_strides(shape, nd, st);
  pieces_params* p = pieces_params_new(n, nd);
  array** cast = list_new(n, "concatenate");
  array* out = NULL;
  if (!p || !cast) goto done;
  int64_t at = 0;
  for (int k = 0; k < n; k++) {
    if (!(cast[k] = op_astype(arrays[k], dtype, s))) goto done;
    p->offsets[k] = at * st[ax];
    memcpy(p->strides + (size_t)k * (size_t)nd, st, sizeof st);
    at += arrays[k]->shape[ax];
  }
  out = array_new_op(dtype, nd, shape, &prim_concatenate, p, cast, n, s);
  p = NULL; /* owned by the node, even on failure */
done:
  free(p);
  free_list(cast, n);
  return out;
}

array* op_concatenate_flat(array* const* arrays, int n, stream s) {
  array** flat = list_new(n, "concatenate");
  if (!flat) return NULL;
  array* out = NULL;
  for (int k = 0; k < n; k++)
    if (!(flat[k] = op_flatten(arrays[k], 0, -1, s))) goto done;
  out = op_concatenate(flat, n, 0, s);
done:
  free_list(flat, n);
  return out;
}

array* op_stack(array* const* arrays, int n, int axis, stream s) {
  if (n <= 0) {
    error_set("[stack] No arrays provided for stacking");
    return NULL;
  }
  const array* first = arrays[0];
  for (int k = 1; k < n; k++)
    if (arrays[k]->ndim != first->ndim ||
        memcmp(arrays[k]->shape, first->shape, sizeof(int) * (size_t)first->ndim) != 0) {
      error_set("[stack] All arrays must have the same shape");
      return NULL;
    }
  int ax;
  if (axis_index("stack", axis, first->ndim + 1, &ax)) return NULL;
  array** expanded = list_new(n, "stack");
  if (!expanded) return NULL;
  array* out = NULL;
  for (int k = 0; k < n; k++)
    if (!(expanded[k] = op_expand_dims_axes(arrays[k], &ax, 1, s))) goto done;
  out = op_concatenate(expanded, n, axis, s);
done:
  free_list(expanded, n);
  return out;
}

/* ---- split ---- */

/* The parts of a between the cut points along ax (already normalised),
 * as MLX's slices: each part starts where the previous one stopped. */
static array** split_at(array* a, const int* cuts, int n_cuts, int ax, int* n_out, stream s) {
  int nd = a->ndim;
  array** parts = list_new(n_cuts + 1, "split");
  if (!parts) return NULL;
  int start[nd], stop[nd], step[nd];
  for (int d = 0; d < nd; d++) {
    start[d] = 0;
    stop[d] = a->shape[d];
    step[d] = 1;
  }
  for (int i = 0; i <= n_cuts; i++) {
    stop[ax] = i < n_cuts ? cuts[i] : a->shape[ax];
    if (!(parts[i] = op_slice(a, start, stop, step, s))) {
      free_list(parts, i);
      return NULL;
    }
    start[ax] = stop[ax];
  }
  *n_out = n_cuts + 1;
  return parts;
}

array** op_split_sections(array* a, const int* indices, int n, int axis, int* n_out,
                          stream s) {
  int ax;
  if (axis_index("split", axis, a->ndim, &ax)) return NULL;
  return split_at(a, indices, n, ax, n_out, s);
}

array** op_split(array* a, int num_splits, int axis, int* n_out, stream s) {
  int ax;
  if (axis_index("split", axis, a->ndim, &ax)) return NULL;
  if (num_splits <= 0) {
    error_set("[split] num_splits must be positive and non-zero but got %d.", num_splits);
    return NULL;
  }
  int size = a->shape[ax];
  if (size % num_splits) {
    char sh[256];
    error_set("Array split does not result in sub arrays with equal size: attempting %d "
              "splits along axis %d for shape %s.",
              num_splits, axis, error_format_shape(sh, sizeof sh, a->shape, a->ndim));
    return NULL;
  }
  int* cuts = malloc(sizeof(int) * (size_t)VLA_N(num_splits - 1));
  if (!cuts) {
    error_set("[split] Out of memory.");
    return NULL;
  }
  for (int i = 0; i < num_splits - 1; i++) cuts[i] = (i + 1) * (size / num_splits);
  array** parts = split_at(a, cuts, num_splits - 1, ax, n_out, s);
  free(cuts);
  return parts;
}

/* ---- tile / repeat ---- */

array* op_tile(array* a, const int* reps, int n, stream s) {
  int nd = a->ndim;
  int total = n > nd ? n : nd;
  /* shape and reps, both padded on the left with 1s to the same length;
   * the reshaped and broadcast shapes have up to twice as many axes */
  int* buf = malloc(sizeof(int) * (size_t)VLA_N(total) * 7);
  if (!buf) {
    error_set("[tile] Out of memory.");
    return NULL;
  }
  int *shape = buf, *rep = shape + total, *expand = rep + total, *broad = expand + 2 * total;
  int* final_shape = broad + 2 * total;
  for (int i = 0; i < total; i++) {
    shape[i] = i < total - nd ? 1 : a->shape[i - (total - nd)];
    rep[i] = i < total - n ? 1 : reps[i - (total - n)];
  }
  /* an axis repeated r != 1 times becomes (1, size) broadcast to (r, size) */
  int ne = 0;
  array *x = NULL, *y = NULL, *out = NULL;
  for (int i = 0; i < total; i++) {
    if (rep[i] != 1) {
      expand[ne] = 1;
      broad[ne++] = rep[i];
    }
    expand[ne] = shape[i];
    broad[ne++] = shape[i];
    if (dim_check("tile", (int64_t)rep[i] * shape[i], &final_shape[i])) goto done;
  }
  if (!(x = op_reshape(a, expand, ne, s))) goto done;
  if (!(y = op_broadcast_to(x, broad, ne, s))) goto done;
  out = op_reshape(y, final_shape, total, s);
done:
  array_release(x);
  array_release(y);
  free(buf);
  return out;
}

array* op_repeat(array* a, int repeats, int axis, stream s) {
  int nd = a->ndim, ax;
  if (axis_index("repeat", axis, nd, &ax)) return NULL;
  if (repeats < 0) {
    error_set("[repeat] Number of repeats cannot be negative");
    return NULL;
  }
  int shape[nd + 1];
  memcpy(shape, a->shape, sizeof(int) * (size_t)nd);
  if (repeats == 0) {
    shape[ax] = 0;
    return array_new_alloc(a->dtype, nd, shape);
  }
  if (repeats == 1) return same(a);
  /* (..., S_ax, repeats, ...) broadcast, then merged into S_ax * repeats */
  int one = ax + 1, merged;
  memmove(shape + ax + 2, shape + ax + 1, sizeof(int) * (size_t)(nd - ax - 1));
  shape[ax + 1] = repeats;
  array *x = NULL, *y = NULL, *out = NULL;
  if (!(x = op_expand_dims_axes(a, &one, 1, s))) goto done;
  if (!(y = op_broadcast_to(x, shape, nd + 1, s))) goto done;
  if (dim_check("repeat", (int64_t)a->shape[ax] * repeats, &merged)) goto done;
  memcpy(shape, a->shape, sizeof(int) * (size_t)nd);
  shape[ax] = merged;
  out = op_reshape(y, shape, nd, s);
done:
  array_release(x);
  array_release(y);
  return out;
}

array* op_repeat_flat(array* a, int repeats, stream s) {
  array* flat = op_flatten(a, 0, -1, s);
  if (!flat) return NULL;
  array* out = op_repeat(flat, repeats, 0, s);
  array_release(flat);
  return out;
}

/* ---- pad ---- */

static remap_params* remap_params_new(int ndim, const char* op) {
  size_t n = (size_t)VLA_N(ndim);
  remap_params* p = calloc(1, sizeof *p + n * sizeof(remap_axis));
  if (!p) {
    error_set("[%s] Out of memory.", op);
    return NULL;
  }
  p->ndim = ndim;
  for (int d = 0; d < ndim; d++) p->axes[d].kind = REMAP_IDENTITY;
  return p;
}

/* MLX's edge padding slices one element next to each padded side and
 * broadcasts it over the padding. Along an empty axis that element does not
 * exist: padding on both sides reads the zeros the other side left, while
 * padding on one side fails in broadcast_to with these messages. */
static int edge_pad_empty_check(const array* a, const int64_t* low, const int64_t* high,
                                const int* out_shape) {
  int nd = a->ndim;
  for (int d = 0; d < nd; d++) {
    if (a->shape[d] != 0 || (low[d] > 0) == (high[d] > 0)) continue;
    int from[nd];
    memcpy(from, out_shape, sizeof from);
    from[d] = 0;
    char sa[256], sb[256];
    error_format_shape(sa, sizeof sa, from, nd);
    error_format_shape(sb, sizeof sb, out_shape, nd);
    if (out_shape[d] == 1)
      return error_set("Cannot broadcast array of shape %s into shape %s.", sa, sb);
    return error_set("[broadcast_shapes] Shapes %s and %s cannot be broadcast.", sa, sb);
  }
  return 0;
}

array* op_pad(array* a, const int* axes, int n_axes, const int* low, int n_low,
              const int* high, int n_high, array* pad_value, const char* mode, stream s) {
  if (n_axes != n_low || n_axes != n_high) {
    error_set("Invalid number of padding sizes passed to pad with axes of size %d", n_axes);
    return NULL;
  }
  int nd = a->ndim;
  int out_shape[VLA_N(nd)];
  int64_t lo[VLA_N(nd)], hi[VLA_N(nd)];
  memcpy(out_shape, a->shape, sizeof(int) * (size_t)nd);
  for (int d = 0; d < nd; d++) lo[d] = hi[d] = 0;
  for (int i = 0; i < n_axes; i++) {
    if (low[i] < 0) {
      error_set("Invalid low padding size (%d) passed to pad for axis %d. Padding sizes must "
                "be non-negative",
                low[i], i);
      return NULL;
    }
    if (high[i] < 0) {
      error_set("Invalid high padding size (%d) passed to pad for axis %d. Padding sizes must "
                "be non-negative",
                high[i], i);
      return NULL;
    }
    /* MLX indexes the shape with the axis unchecked; we refuse bad axes.
     * An axis given twice gets both paddings, as MLX's constant mode. */
    int ax;
    if (axis_index("pad", axes[i], nd, &ax)) return NULL;
    if (dim_check("pad", (int64_t)out_shape[ax] + low[i] + high[i], &out_shape[ax])) return NULL;
    lo[ax] += low[i];
    hi[ax] += high[i];
  }
  remap_kind kind;
  if (!mode) {
    error_set("[pad] The mode pointer is NULL.");
    return NULL;
  } else if (strcmp(mode, "constant") == 0) {
    kind = REMAP_PAD_CONSTANT;
  } else if (strcmp(mode, "edge") == 0) {
    kind = REMAP_PAD_EDGE;
  } else if (strcmp(mode, "reflect") == 0) {
    kind = REMAP_PAD_REFLECT;
  } else if (strcmp(mode, "symmetric") == 0) {
    kind = REMAP_PAD_SYMMETRIC;
  } else {
    error_set("Invalid padding mode (%s) passed to pad", mode);
    return NULL;
  }
  if (kind == REMAP_PAD_EDGE && a->size == 0 && edge_pad_empty_check(a, lo, hi, out_shape))
    return NULL;
  if (kind == REMAP_PAD_REFLECT || kind == REMAP_PAD_SYMMETRIC)
    for (int i = 0; i < n_axes; i++) {
      int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
      if ((low[i] || high[i]) && a->shape[ax] == 0) {
        error_set("[pad] Cannot pad empty axis %d using mode '%s'.", axes[i], mode);
        return NULL;
      }
    }
  if (kind == REMAP_PAD_CONSTANT && pad_value->size != 1) {
    char sh[256];
    error_set("[pad] The padding value must have one element, but got an array of shape %s.",
              error_format_shape(sh, sizeof sh, pad_value->shape, pad_value->ndim));
    return NULL;
  }
  bool padded = false;
  for (int d = 0; d < nd; d++) padded |= lo[d] || hi[d];
  if (!padded) return same(a);
  /* edge/reflect/symmetric of an empty array: MLX's chains of slices of a
   * zero-filled output leave zeros */
  if (kind != REMAP_PAD_CONSTANT && a->size == 0) return op_zeros(out_shape, nd, a->dtype, s);

  remap_params* p = remap_params_new(nd, "pad");
  if (!p) return NULL;
  for (int d = 0; d < nd; d++) {
    if (!lo[d] && !hi[d]) continue;
    p->axes[d] = (remap_axis){kind, a->shape[d], lo[d], 0};
  }
  if (kind != REMAP_PAD_CONSTANT)
    return array_new_op(a->dtype, nd, out_shape, &prim_pad, p, &a, 1, s);
  array* fill = op_astype(pad_value, a->dtype, s);
  if (!fill) {
    free(p);
    return NULL;
  }
  array* inputs[2] = {a, fill};
  array* out = array_new_op(a->dtype, nd, out_shape, &prim_pad, p, inputs, 2, s);
  array_release(fill);
  return out;
}

array* op_pad_all(array* a, int width, array* pad_value, const char* mode, stream s) {
  int nd = a->ndim;
  int axes[VLA_N(nd)], widths[VLA_N(nd)];
  for (int d = 0; d < nd; d++) {
    axes[d] = d;
    widths[d] = width;
  }
  return op_pad(a, axes, nd, widths, nd, widths, nd, pad_value, mode, s);
}

/* ---- roll ---- */

array* op_roll(array* a, const int* shift, int n_shift, const int* axes, int n_axes,
               stream s) {
  if (n_axes == 0) return same(a);
  if (n_shift < n_axes) {
    error_set("[roll] At least one shift value per axis is required, %d provided for %d axes.",
              n_shift, n_axes);
    return NULL;
  }
  int nd = a->ndim;
  remap_params* p = remap_params_new(nd, "roll");
  if (!p) return NULL;
  bool moved = false;
  for (int i = 0; i < n_axes; i++) {
    int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
    if (ax < 0 || ax >= nd) {
      error_set("[roll] Invalid axis %d for array with %d dimensions.", axes[i], nd);
      free(p);
      return NULL;
    }
    int64_t size = a->shape[ax], sh = shift[i];
    if (size == 0) continue;
    /* MLX splits at this index and swaps the parts: out[j] = in[j + split];
     * an axis named twice is rolled twice */
    int64_t split = sh < 0 ? (-sh) % size : size - sh % size;
    remap_axis* m = &p->axes[ax];
    m->kind = REMAP_ROLL;
    m->n = size;
    m->shift = (m->shift + split) % size;
    moved |= m->shift != 0;
  }
  if (!moved) {
    free(p);
    return same(a);
  }
  return array_new_op(a->dtype, nd, a->shape, &prim_roll, p, &a, 1, s);
}

static int total_shift(const int* shift, int n, int* out) {
  int64_t total = 0;
  for (int i = 0; i < n; i++) total += shift[i];
  return dim_check("roll", total, out);
}

array* op_roll_flat(array* a, const int* shift, int n_shift, stream s) {
  int total, zero = 0;
  if (total_shift(shift, n_shift, &total)) return NULL;
  array *flat = NULL, *rolled = NULL, *out = NULL;
  if ((flat = op_flatten(a, 0, -1, s)) && (rolled = op_roll(flat, &total, 1, &zero, 1, s)))
    out = op_reshape(rolled, a->shape, a->ndim, s);
  array_release(flat);
  array_release(rolled);
  return out;
}

array* op_roll_axis(array* a, const int* shift, int n_shift, int axis, stream s) {
  int total;
  if (total_shift(shift, n_shift, &total)) return NULL;
  return op_roll(a, &total, 1, &axis, 1, s);
}

/* ---- diagonal / diag / trace ---- */

/* The checks diagonal and trace share, with the op's name in the text. */
static int diagonal_axes(const char* op, const array* a, int axis1, int axis2, int* ax1,
                         int* ax2) {
  int nd = a->ndim;
  *ax1 = *ax2 = 0;
  if (nd < 2)
    return error_set("[%s] Array must have at least two dimensions, but got %d dimensions.", op,
                     nd);
  *ax1 = axis1 < 0 ? axis1 + nd : axis1;
  if (*ax1 < 0 || *ax1 >= nd)
    return error_set("[%s] Invalid axis1 %d for array with %d dimensions.", op, axis1, nd);
  *ax2 = axis2 < 0 ? axis2 + nd : axis2;
  if (*ax2 < 0 || *ax2 >= nd)
    return error_set("[%s] Invalid axis2 %d for array with %d dimensions.", op, axis2, nd);
  if (*ax1 == *ax2) return error_set("[%s] axis1 and axis2 cannot be the same axis", op);
  return 0;
}

array* op_diagonal(array* a, int offset, int axis1, int axis2, stream s) {
  int ax1, ax2;
  if (diagonal_axes("diagonal", a, axis1, axis2, &ax1, &ax2)) return NULL;
  int64_t off1 = offset < 0 ? -(int64_t)offset : 0, off2 = offset > 0 ? offset : 0;
  int64_t len1 = a->shape[ax1] - off1, len2 = a->shape[ax2] - off2;
  int64_t size = len1 < len2 ? len1 : len2;
  if (size < 0) size = 0;
  int nd = a->ndim - 1;
  int shape[nd];
  for (int d = 0, o = 0; d < a->ndim; d++)
    if (d != ax1 && d != ax2) shape[o++] = a->shape[d];
  shape[nd - 1] = (int)size;
  diagonal_params* p = malloc(sizeof *p);
  if (!p) {
    error_set("[diagonal] Out of memory.");
    return NULL;
  }
  /* the offsets fit an int whenever the diagonal is not empty */
  *p = (diagonal_params){ax1, ax2, size ? (int)off1 : 0, size ? (int)off2 : 0};
  return array_new_op(a->dtype, nd, shape, &prim_diagonal, p, &a, 1, s);
}

array* op_diag(array* a, int k, stream s) {
  if (a->ndim == 2) return op_diagonal(a, k, 0, 1, s);
  if (a->ndim != 1) {
    error_set("[diag] array must be 1-D or 2-D, got array with %d dimensions.", a->ndim);
    return NULL;
  }
  int64_t m = a->shape[0], shift = k < 0 ? -(int64_t)k : k;
  int shape[2];
  if (dim_check("diag", m + shift, &shape[0])) return NULL;
  shape[1] = shape[0];
  if (m == 0) return op_zeros(shape, 2, a->dtype, s);
  /* a placed from (max(0,-k), max(0,k)) down the diagonal of zeros */
  pieces_params* p = pieces_params_new(1, 1);
  if (!p) return NULL;
  int64_t n = shape[0];
  p->zero_fill = true;
  p->offsets[0] = (k < 0 ? shift : 0) * n + (k > 0 ? shift : 0);
  p->strides[0] = n + 1;
  return array_new_op(a->dtype, 2, shape, &prim_concatenate, p, &a, 1, s);
}

array* op_trace(array* a, int offset, int axis1, int axis2, mlx_dtype dtype, stream s) {
  int ax1, ax2, last = -1;
  if (diagonal_axes("trace", a, axis1, axis2, &ax1, &ax2)) return NULL;
  array *d = NULL, *c = NULL, *out = NULL;
  if ((d = op_diagonal(a, offset, axis1, axis2, s)) && (c = op_astype(d, dtype, s)))
    out = op_reduce(REDUCE_SUM, c, &last, 1, false, s);
  array_release(d);
  array_release(c);
  return out;
}

/* ---- meshgrid / kron ---- */

array** op_meshgrid(array* const* arrays, int n, bool sparse, const char* indexing,
                    int* n_out, stream s) {
  bool xy = indexing && strcmp(indexing, "xy") == 0;
  if (!xy && !(indexing && strcmp(indexing, "ij") == 0)) {
    error_set("[meshgrid] Invalid indexing value. Valid values are 'xy' and 'ij'.");
    return NULL;
  }
  array** outs = list_new(n, "meshgrid");
  int* shape = malloc(sizeof(int) * (size_t)VLA_N(n));
  if (!outs || !shape) {
    if (!shape) error_set("[meshgrid] Out of memory.");
    free(outs);
    free(shape);
    return NULL;
  }
  /* array i varies along axis i; "xy" swaps the roles of the first two */
  for (int i = 0; i < n; i++) {
    for (int d = 0; d < n; d++) shape[d] = 1;
    int along = (xy && n > 1 && i < 2) ? 1 - i : i;
    shape[along] = -1;
    if (!(outs[i] = op_reshape(arrays[i], shape, n, s))) goto fail;
  }
  if (!sparse) {
    array** b = list_new(n, "meshgrid");
    if (!b || op_broadcast_arrays(b, outs, n, s)) {
      free(b);
      goto fail;
    }
    free_list(outs, n);
    outs = b;
  }
  free(shape);
  *n_out = n;
  return outs;
fail:
  free(shape);
  free_list(outs, n);
  return NULL;
}

array* op_kron(array* a, array* b, stream s) {
  if (a->size == 0 || b->size == 0) {
    error_set("[kron] Input arrays cannot be empty.");
    return NULL;
  }
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  int a_shape[VLA_N(2 * nd)], b_shape[VLA_N(2 * nd)], out_shape[VLA_N(nd)];
  for (int i = 0; i < 2 * nd; i++) a_shape[i] = b_shape[i] = 1;
  for (int i = 0; i < nd; i++) out_shape[i] = 1;
  /* a's axes at the even positions, b's at the odd ones (right-aligned);
   * their broadcast product flattens pairwise into the Kronecker layout */
  for (int i = nd - 1, j = a->ndim - 1; j >= 0; i--, j--) {
    a_shape[2 * i] = a->shape[j];
    out_shape[i] = a->shape[j];
  }
  for (int i = nd - 1, j = b->ndim - 1; j >= 0; i--, j--) {
    b_shape[2 * i + 1] = b->shape[j];
    if (dim_check("kron", (int64_t)out_shape[i] * b->shape[j], &out_shape[i])) return NULL;
  }
  array *x = NULL, *y = NULL, *prod = NULL, *out = NULL;
  if ((x = op_reshape(a, a_shape, 2 * nd, s)) && (y = op_reshape(b, b_shape, 2 * nd, s)) &&
      (prod = op_binary(BINARY_MULTIPLY, x, y, s)))
    out = op_reshape(prod, out_shape, nd, s);
  array_release(x);
  array_release(y);
  array_release(prod);
  return out;
}
