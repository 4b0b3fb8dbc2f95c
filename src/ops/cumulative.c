/* cumulative.c - front-ends of the cumulative ops: cumsum, cumprod,
 * cummax, cummin and logcumsumexp along one axis (forward or reversed,
 * inclusive or exclusive). One Scan node each; the kernel is
 * backend/cpu/scan.c.
 *
 * As in MLX: the axis must lie in [-ndim, ndim) (so a 0-d array has none),
 * the output keeps the input's dtype except cumsum of bool, which is
 * int32, and logcumsumexp does not promote integers to float. */
#include <stdlib.h>

#include "core/error.h"
#include "ops/ops.h"
#include "ops/reduce.h"

static const char* const scan_names[SCAN_KIND_COUNT] = {
    [SCAN_SUM] = "cumsum", [SCAN_PROD] = "cumprod",       [SCAN_MAX] = "cummax",
    [SCAN_MIN] = "cummin", [SCAN_LOGADDEXP] = "logcumsumexp",
};

static const primitive prim_scan = {"Scan", cpu_scan_eval, NULL, NULL};

array* op_scan(scan_kind kind, array* a, int axis, bool reverse, bool inclusive, stream s) {
  int nd = a->ndim;
  if (axis >= nd || axis < -nd) {
    error_set("[%s] Axis %d is out of bounds for array with %d dimensions.", scan_names[kind],
              axis, nd);
    return NULL;
  }
  scan_params* p = malloc(sizeof *p);
  if (!p) {
    error_set("[%s] Out of memory.", scan_names[kind]);
    return NULL;
  }
  p->kind = kind;
  p->axis = (axis + nd) % nd;
  p->reverse = reverse;
  p->inclusive = inclusive;
  mlx_dtype out = (kind == SCAN_SUM && a->dtype == MLX_BOOL) ? MLX_INT32 : a->dtype;
  return array_new_op(out, nd, a->shape, &prim_scan, p, &a, 1, s);
}
