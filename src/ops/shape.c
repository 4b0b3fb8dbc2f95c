/* shape.c - view nodes, reshape and broadcasting.
 *
 * Views cost nothing until evaluation, where backend/cpu/views.c gives the
 * output the input's buffer with new strides. The remaining axis ops
 * (transpose, squeeze, ...) are in ops/axes.c. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "core/error.h"
#include "ops/ops.h"

static const primitive prim_view_node = {"View", cpu_view_eval, NULL, NULL};

view_params* view_params_new(view_kind kind, int ndim) {
  size_t n = (size_t)(ndim > 0 ? ndim : 1);
  view_params* p = calloc(1, sizeof *p + n * (3 * sizeof(int) + sizeof(int64_t)));
  if (!p) {
    error_set("[view] Out of memory.");
    return NULL;
  }
  p->kind = kind;
  p->ndim = ndim;
  p->strides = (int64_t*)(p + 1);
  p->axes = (int*)(p->strides + n);
  p->start = p->axes + n;
  p->step = p->start + n;
  return p;
}

array* op_view_node(array* a, int ndim, const int* shape, view_params* p,
                    stream s) {
  return array_new_op(a->dtype, ndim, shape, &prim_view_node, p, &a, 1, s);
}

array* op_reshape(array* a, const int* shape, int ndim, stream s) {
  int out[ndim > 0 ? ndim : 1];
  int infer = -1;
  size_t known = 1;
  for (int i = 0; i < ndim; i++) {
    out[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) {
        error_set("[reshape] Reshape can only infer one dimension.");
        return NULL;
      }
      infer = i;
    } else if (shape[i] < 0) {
      error_set("[reshape] Invalid negative dimension %d.", shape[i]);
      return NULL;
    } else {
      known *= (size_t)shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0) {
      error_set("[reshape] Cannot infer the shape of an empty array");
      return NULL;
    }
    /* as MLX: fill in size / known, then report the filled-in shape */
    out[infer] = (int)(a->size / known);
    known *= (size_t)out[infer];
  }
  if (known != a->size) {
    char buf[512];
    error_set("[reshape] Cannot reshape array of size %zu into shape %s.", a->size,
              error_format_shape(buf, sizeof buf, out, ndim));
    return NULL;
  }
  if (ndim == a->ndim && (ndim == 0 || memcmp(out, a->shape, sizeof(int) * (size_t)ndim) == 0)) {
    array_retain(a);
    return a;
  }
  view_params* p = view_params_new(VIEW_RESHAPE, ndim);
  if (!p) return NULL;
  return op_view_node(a, ndim, out, p, s);
}

array* op_broadcast_to(array* a, const int* shape, int ndim, stream s) {
  if (shape_check("broadcast_to", shape, ndim, NULL)) return NULL;
  int out[ndim > a->ndim ? (ndim > 0 ? ndim : 1) : (a->ndim > 0 ? a->ndim : 1)];
  int nout;
  if (broadcast_shapes(a->shape, a->ndim, shape, ndim, out, &nout)) return NULL;
  /* the target must be the result: broadcasting may not grow it */
  if (nout != ndim || (ndim && memcmp(out, shape, sizeof(int) * (size_t)ndim) != 0)) {
    char sa[256], sb[256];
    error_set("Cannot broadcast array of shape %s into shape %s.",
              error_format_shape(sa, sizeof sa, a->shape, a->ndim),
              error_format_shape(sb, sizeof sb, shape, ndim));
    return NULL;
  }
  if (ndim == a->ndim && (ndim == 0 || memcmp(a->shape, shape, sizeof(int) * (size_t)ndim) == 0)) {
    array_retain(a);
    return a;
  }
  view_params* p = view_params_new(VIEW_BROADCAST, ndim);
  if (!p) return NULL;
  return op_view_node(a, ndim, shape, p, s);
}

int op_broadcast_arrays(array** out, array* const* in, int n, stream s) {
  int nd = 0;
  for (int i = 0; i < n; i++)
    if (in[i]->ndim > nd) nd = in[i]->ndim;
  int shape[nd > 0 ? nd : 1], tmp[nd > 0 ? nd : 1];
  int cur = 0;
  for (int i = 0; i < n; i++) {
    if (broadcast_shapes(shape, cur, in[i]->shape, in[i]->ndim, tmp, &cur)) return 1;
    memcpy(shape, tmp, sizeof(int) * (size_t)cur);
  }
  for (int i = 0; i < n; i++) {
    out[i] = op_broadcast_to(in[i], shape, cur, s);
    if (!out[i]) {
      for (int j = 0; j < i; j++) array_release(out[j]);
      return 1;
    }
  }
  return 0;
}
