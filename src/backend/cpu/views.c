/* views.c - primitives whose output shares the input's buffer.
 *
 * Every view is described by a view_params (ops/ops.h): the output keeps
 * the input's buffer and gets new strides and offset. Reshape is a view
 * only when the input's layout allows it; otherwise it copies. */
#include <stdint.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"
#include "core/error.h"
#include "ops/ops.h"

/* Strides for reshaping `in` to out's shape without moving data, if the
 * existing strides allow it (merging/splitting only runs of axes that are
 * contiguous with each other). Returns 0 on success. */
static int reshape_strides(const array* in, const array* out, int64_t* st) {
  if (in->flags & ARRAY_ROW_CONTIGUOUS) {
    array_row_strides(out->shape, out->ndim, st);
    return 0;
  }
  /* walk both shapes, grouping axes with equal element counts */
  int i = 0, o = 0;
  while (i < in->ndim || o < out->ndim) {
    /* skip size-1 axes */
    if (o < out->ndim && out->shape[o] == 1) {
      st[o] = 0;
      o++;
      continue;
    }
    if (i < in->ndim && in->shape[i] == 1) {
      i++;
      continue;
    }
    if (i >= in->ndim || o >= out->ndim) return -1;
    int64_t isz = in->shape[i], osz = out->shape[o];
    int i0 = i, o0 = o;
    i++;
    o++;
    while (isz != osz) {
      if (isz < osz) {
        if (i >= in->ndim) return -1;
        isz *= in->shape[i++];
      } else {
        if (o >= out->ndim) return -1;
        osz *= out->shape[o++];
      }
    }
    /* input axes i0..i-1 must be contiguous with each other */
    int64_t inner = 0;
    bool have = false;
    for (int k = i - 1; k >= i0; k--) {
      if (in->shape[k] == 1) continue;
      if (have && in->strides[k] != inner) return -1;
      inner = in->strides[k] * in->shape[k];
      have = true;
    }
    /* the innermost non-1 input stride */
    int64_t base = 0;
    for (int k = i - 1; k >= i0; k--)
      if (in->shape[k] != 1) {
        base = in->strides[k];
        break;
      }
    for (int k = o - 1; k >= o0; k--) {
      st[k] = base;
      base *= out->shape[k];
    }
  }
  return 0;
}

/* The lowest and highest element offsets (relative to element 0) that a
 * non-empty layout reaches. False when they do not fit in int64. */
static bool layout_span(const int* shape, const int64_t* strides, int ndim, int64_t* lo,
                        int64_t* hi) {
  __int128 l = 0, h = 0;
  for (int d = 0; d < ndim; d++) {
    __int128 delta = (__int128)strides[d] * (shape[d] - 1);
    if (delta < 0)
      l += delta;
    else
      h += delta;
    if (l < INT64_MIN || h > INT64_MAX) return false;
  }
  *lo = (int64_t)l;
  *hi = (int64_t)h;
  return true;
}

int cpu_view_eval(node* n) {
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  const view_params* p = n->params;
  int64_t st[out->ndim > 0 ? out->ndim : 1];
  int64_t offset = in->offset;
  size_t data_size = in->data_size;
  switch (p->kind) {
    case VIEW_RESHAPE:
      if (in->size == 0 || reshape_strides(in, out, st) != 0) {
        /* no view possible: copy into row-major order, then adopt it */
        array* tmp = array_copy_contiguous(in, out->dtype);
        if (!tmp) return 1;
        array_row_strides(out->shape, out->ndim, st);
        array_set_view(out, tmp, st, 0, out->size);
        array_release(tmp);
        return 0;
      }
      break;
    case VIEW_TRANSPOSE:
      for (int d = 0; d < out->ndim; d++) st[d] = in->strides[p->axes[d]];
      break;
    case VIEW_BROADCAST: {
      int lead = out->ndim - in->ndim;
      for (int d = 0; d < out->ndim; d++) {
        int k = d - lead;
        st[d] = (k < 0 || (in->shape[k] == 1 && out->shape[d] != 1)) ? 0 : in->strides[k];
      }
      break;
    }
    case VIEW_SLICE:
      for (int d = 0; d < out->ndim; d++) {
        offset += (int64_t)p->start[d] * in->strides[d];
        st[d] = in->strides[d] * p->step[d];
      }
      if (out->size == 0) {
        offset = in->offset;
        data_size = 0;
      } else {
        /* as MLX: the elements between the lowest and highest reached */
        int64_t lo, hi;
        if (layout_span(out->shape, st, out->ndim, &lo, &hi)) data_size = (size_t)(hi - lo) + 1;
      }
      break;
    case VIEW_SQUEEZE: /* axes: the input axes kept, in order */
      for (int d = 0; d < out->ndim; d++) st[d] = in->strides[p->axes[d]];
      break;
    case VIEW_EXPAND: { /* axes[d] = input axis, or -1 for a new axis */
      for (int d = 0; d < out->ndim; d++) {
        int k = p->axes[d];
        if (k >= 0) {
          st[d] = in->strides[k];
        } else {
          /* a new size-1 axis: any stride works; MLX reports 1 */
          st[d] = 1;
        }
      }
      break;
    }
    case VIEW_AS_STRIDED: {
      /* MLX does not check the layout; we refuse any that would reach
       * outside the input's buffer instead of reading beyond it */
      for (int d = 0; d < out->ndim; d++) st[d] = p->strides[d];
      data_size = 0;
      if (out->size == 0) break; /* nothing is read: keep the input's offset */
      offset = (int64_t)((uint64_t)offset + (uint64_t)p->offset);
      int64_t lo, hi, avail = (int64_t)(in->buf->nbytes / dtype_size(in->dtype));
      if (!layout_span(out->shape, st, out->ndim, &lo, &hi) ||
          __builtin_add_overflow(offset, lo, &lo) || __builtin_add_overflow(offset, hi, &hi) ||
          lo < 0 || hi >= avail)
        return error_set("[as_strided] The requested shape, strides and offset reach outside "
                         "the input's memory (%lld elements).",
                         (long long)avail);
      data_size = (size_t)(hi - lo) + 1;
      break;
    }
    default:
      return error_set("[view] Unknown view kind.");
  }
  array_set_view(out, in, st, offset, data_size);
  return 0;
}
