/* sort.c - front-ends of sort, argsort, partition, argpartition and topk.
 *
 * Each validates as MLX's ops.cpp does (the axis first, then kth or k,
 * with MLX's messages, including the missing space in partition's) and
 * records one node for backend/cpu/sort.c. The forms without an axis work
 * on the flattened array; topk is a partition at -k followed by a slice of
 * the last k elements, as in MLX, so its order is the partition's. */
#include <stdlib.h>

#include "backend/cpu/sort.h"
#include "core/error.h"
#include "ops/ops.h"
#include "ops/sort.h"

static const primitive prim_sort = {"Sort", cpu_sort_eval, NULL, NULL};
static const primitive prim_argsort = {"ArgSort", cpu_sort_eval, NULL, NULL};
static const primitive prim_partition = {"Partition", cpu_sort_eval, NULL, NULL};
static const primitive prim_argpartition = {"ArgPartition", cpu_sort_eval, NULL, NULL};

static const struct {
  const char* name;
  const primitive* prim;
  bool values; /* the output has the input's dtype (else uint32 indices) */
  bool kth;    /* takes kth */
} sort_ops[] = {
    [SORT_VALUES] = {"sort", &prim_sort, true, false},
    [SORT_INDICES] = {"argsort", &prim_argsort, false, false},
    [PARTITION_VALUES] = {"partition", &prim_partition, true, true},
    [PARTITION_INDICES] = {"argpartition", &prim_argpartition, false, true},
};

static int axis_index(const char* op, int axis, int ndim, int* out) {
  *out = 0;
  if (axis < -ndim || axis >= ndim)
    return error_set("[%s] Axis %d is out of bounds for array with %d dimensions.", op, axis,
                     ndim);
  *out = axis < 0 ? axis + ndim : axis;
  return 0;
}

static array* sort_node(sort_kind kind, array* a, int axis, int kth, stream s) {
  int ax;
  if (axis_index(sort_ops[kind].name, axis, a->ndim, &ax)) return NULL;
  int k = kth;
  if (sort_ops[kind].kth) {
    k = kth < 0 ? kth + a->shape[ax] : kth;
    if (k < 0 || k >= a->shape[ax]) {
      char sh[256];
      /* MLX's partition message lacks the space before "along" */
      error_set(kind == PARTITION_VALUES ? "[partition] Received invalid kth %d"
                                           "along axis %d for array with shape: %s"
                                         : "[argpartition] Received invalid kth %d"
                                           " along axis %d for array with shape: %s",
                kth, axis, error_format_shape(sh, sizeof sh, a->shape, a->ndim));
      return NULL;
    }
  }
  sort_params* p = malloc(sizeof *p);
  if (!p) {
    error_set("[%s] Out of memory.", sort_ops[kind].name);
    return NULL;
  }
  *p = (sort_params){kind, ax, k};
  mlx_dtype dtype = sort_ops[kind].values ? a->dtype : MLX_UINT32;
  return array_new_op(dtype, a->ndim, a->shape, sort_ops[kind].prim, p, &a, 1, s);
}

/* With an axis: the node; without: the node over the flattened array. */
static array* sort_op(sort_kind kind, array* a, const int* axis, int kth, stream s) {
  if (axis) return sort_node(kind, a, *axis, kth, s);
  array* flat = op_flatten(a, 0, -1, s);
  if (!flat) return NULL;
  array* out = sort_node(kind, flat, 0, kth, s);
  array_release(flat);
  return out;
}

array* op_sort(array* a, const int* axis, stream s) {
  return sort_op(SORT_VALUES, a, axis, 0, s);
}

array* op_argsort(array* a, const int* axis, stream s) {
  return sort_op(SORT_INDICES, a, axis, 0, s);
}

array* op_partition(array* a, int kth, const int* axis, stream s) {
  return sort_op(PARTITION_VALUES, a, axis, kth, s);
}

array* op_argpartition(array* a, int kth, const int* axis, stream s) {
  return sort_op(PARTITION_INDICES, a, axis, kth, s);
}

static array* topk_axis(array* a, int k, int axis, stream s) {
  int ax;
  if (axis_index("topk", axis, a->ndim, &ax)) return NULL;
  int n = a->shape[ax];
  if (k < 0 || k > n) {
    char sh[256];
    error_set("[topk] Received invalid k=%d along axis %d for array with shape: %s", k, axis,
              error_format_shape(sh, sizeof sh, a->shape, a->ndim));
    return NULL;
  }
  if (k == n) {
    array_retain(a);
    return a;
  }
  array* part = sort_node(PARTITION_VALUES, a, ax, -k, s);
  if (!part) return NULL;
  int nd = a->ndim;
  int start[nd], stop[nd], step[nd];
  for (int d = 0; d < nd; d++) {
    start[d] = d == ax ? n - k : 0;
    stop[d] = a->shape[d];
    step[d] = 1;
  }
  array* out = op_slice(part, start, stop, step, s);
  array_release(part);
  return out;
}

array* op_topk(array* a, int k, const int* axis, stream s) {
  if (axis) return topk_axis(a, k, *axis, s);
  array* flat = op_flatten(a, 0, -1, s);
  if (!flat) return NULL;
  array* out = topk_axis(flat, k, 0, s);
  array_release(flat);
  return out;
}
