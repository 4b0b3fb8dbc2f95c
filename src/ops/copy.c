/* copy.c - front-ends for copies and type changes: astype, copy,
 * contiguous, view (reinterpretation), stop_gradient. */
#include <string.h>

#include "backend/cpu/cpu.h"
#include "core/error.h"
#include "ops/ops.h"

static const primitive prim_copy = {"Copy", cpu_copy_eval, NULL, NULL};

array* op_astype(array* a, mlx_dtype dtype, stream s) {
  if (!dtype_valid((int)dtype)) {
    error_set("[astype] Invalid dtype %d.", (int)dtype);
    return NULL;
  }
  if (a->dtype == dtype) {
    array_retain(a);
    return a;
  }
  return array_new_op(dtype, a->ndim, a->shape, &prim_copy, NULL, &a, 1, s);
}

array* op_copy(array* a, stream s) {
  return array_new_op(a->dtype, a->ndim, a->shape, &prim_copy, NULL, &a, 1, s);
}

/* Contiguous: a row-major copy unless the data already is (or, when
 * allowed, column-major). Decided at eval, when the layout is known. */
static int contiguous_eval_cpu(node* n) {
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  bool allow_col = *(const bool*)n->params;
  if ((in->flags & ARRAY_ROW_CONTIGUOUS) ||
      (allow_col && (in->flags & ARRAY_COL_CONTIGUOUS))) {
    array_set_view(out, in, in->strides, in->offset, in->data_size);
    return 0;
  }
  return cpu_copy_eval(n);
}

static const primitive prim_contiguous = {"Contiguous", contiguous_eval_cpu, NULL, NULL};

array* op_contiguous(array* a, bool allow_col_major, stream s) {
  bool* p = malloc(sizeof *p);
  if (!p) {
    error_set("[contiguous] Out of memory.");
    return NULL;
  }
  *p = allow_col_major;
  return array_new_op(a->dtype, a->ndim, a->shape, &prim_contiguous, p, &a, 1, s);
}

array* op_stop_gradient(array* a, stream s) {
  (void)s;
  array_retain(a);
  return a;
}

/* View: the same bytes read as another dtype. With a different item size
 * the last axis is rescaled, and the data must be row-contiguous. */
static int view_eval_cpu(node* n) {
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  size_t isz = dtype_size(in->dtype), osz = dtype_size(out->dtype);
  array* src = in;
  array* tmp = NULL;
  if (isz != osz && !(in->flags & ARRAY_ROW_CONTIGUOUS)) {
    tmp = array_copy_contiguous(in, in->dtype);
    if (!tmp) return 1;
    src = tmp;
  }
  if (isz == osz) {
    array_set_view(out, src, src->strides, src->offset, src->data_size);
  } else {
    int64_t st[out->ndim > 0 ? out->ndim : 1];
    array_row_strides(out->shape, out->ndim, st);
    int64_t byte_off = src->offset * (int64_t)isz;
    /* offsets are in elements of the output type; the byte offset of a
     * row-contiguous input is a multiple of the larger size in practice,
     * otherwise copy so the view starts at 0 */
    if (byte_off % (int64_t)osz != 0) {
      array* t2 = array_copy_contiguous(src, src->dtype);
      if (!t2) {
        array_release(tmp);
        return 1;
      }
      array_release(tmp);
      tmp = src = t2;
      byte_off = 0;
    }
    array_set_view(out, src, st, byte_off / (int64_t)osz, out->size);
  }
  array_release(tmp);
  return 0;
}

static const primitive prim_view = {"View", view_eval_cpu, NULL, NULL};

array* op_view(array* a, mlx_dtype dtype, stream s) {
  if (!dtype_valid((int)dtype)) {
    error_set("[view] Invalid dtype %d.", (int)dtype);
    return NULL;
  }
  if (a->dtype == dtype) {
    array_retain(a);
    return a;
  }
  size_t isz = dtype_size(a->dtype), osz = dtype_size(dtype);
  int nd = a->ndim;
  int shape[nd > 0 ? nd : 1];
  memcpy(shape, a->shape, sizeof(int) * (size_t)nd);
  if (isz != osz) {
    if (nd == 0) {
      error_set("[view] Changing the type of a scalar is only allowed for types with the same size.");
      return NULL;
    }
    if (isz < osz) {
      if (((size_t)shape[nd - 1] * isz) % osz != 0) {
        error_set("[view] When viewing as a larger dtype, the size in bytes of the last axis must be a multiple of the requested type size.");
        return NULL;
      }
      shape[nd - 1] = (int)((size_t)shape[nd - 1] * isz / osz);
    } else {
      shape[nd - 1] = (int)((size_t)shape[nd - 1] * (isz / osz));
    }
  }
  return array_new_op(dtype, nd, shape, &prim_view, NULL, &a, 1, s);
}
