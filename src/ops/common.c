/* common.c - helpers shared by the op front-ends. */
#include <stdlib.h>

#include "core/error.h"
#include "ops/ops.h"

int broadcast_shapes(const int* a, int na, const int* b, int nb, int* out,
                     int* nout) {
  int n = na > nb ? na : nb;
  for (int i = 0; i < n; i++) {
    int da = i < n - na ? 1 : a[i - (n - na)];
    int db = i < n - nb ? 1 : b[i - (n - nb)];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      char sa[256], sb[256];
      return error_set("[broadcast_shapes] Shapes %s and %s cannot be broadcast.",
                       error_format_shape(sa, sizeof sa, a, na),
                       error_format_shape(sb, sizeof sb, b, nb));
    }
  }
  *nout = n;
  return 0;
}

int normalize_axis(int* axis, int ndim) {
  int ax = *axis < 0 ? *axis + ndim : *axis;
  if (ax < 0 || ax >= ndim) return 1;
  *axis = ax;
  return 0;
}

array* op_scalar(double v, mlx_dtype dtype) {
  return array_new_scalar(dtype, v, 0);
}
