/* misc.c - front-ends of number_of_elements, the window functions and
 * hadamard_transform.
 *
 * number_of_elements is computed when called (MLX does the same outside
 * function transforms). The windows are MLX's compositions of arange and
 * elementwise ops, with MLX's constants rounded the way MLX rounds them
 * (some computed in double and stored as float32, some in float), so they
 * follow our sin/cos. hadamard_transform records one node for
 * backend/cpu/misc.c after MLX's checks; row lengths the kernel cannot
 * take fail at evaluation, as in MLX. */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/elementwise.h"
#include "backend/cpu/misc.h"
#include "core/error.h"
#include "ops/binary_list.h"
#include "ops/compose.h"
#include "ops/misc.h"
#include "ops/ops.h"
#include "ops/unary_list.h"

static const primitive prim_hadamard = {"Hadamard", cpu_hadamard_eval, NULL, NULL};

/* ---- number_of_elements ---- */

array* op_number_of_elements(array* a, const int* axes, int n, bool inverted, mlx_dtype dtype,
                             stream s) {
  (void)s;
  int nd = a->ndim;
  double numel = 1;
  for (int i = 0; i < n; i++) {
    /* MLX computes (axis + ndim) % ndim with ndim a size_t: the axis
     * converts to unsigned 64 bits, so every axis lands somewhere in range
     * (-3 with 2 dimensions is axis 1). Its error is only reachable here
     * for a 0-d array, where MLX would divide by zero. */
    int64_t normal = nd ? (int64_t)(((uint64_t)(int64_t)axes[i] + (uint64_t)nd) % (uint64_t)nd)
                        : -1;
    if (normal >= nd || normal < 0) {
      error_set("[number_of_elements] Can't get the shape for axis %d from an array with %d "
                "dimensions.",
                axes[i], nd);
      return NULL;
    }
    numel *= a->shape[normal];
  }
  if (!dtype_valid((int)dtype)) {
    error_set("[number_of_elements] Invalid dtype %d.", (int)dtype);
    return NULL;
  }
  double value = inverted ? 1.0 / numel : numel;
  array* out = array_new_alloc(dtype, 0, NULL);
  if (out) ew_convert_one(array_data(out), dtype, &value, MLX_FLOAT64);
  return out;
}

/* ---- windows ---- */


static array* f32(temps* c, double v) {
  return keep(c, op_scalar(v, MLX_FLOAT32));
}

static array* bin(temps* c, int op, array* x, array* y, stream s) {
  return c->failed ? NULL : keep(c, op_binary(op, x, y, s));
}

static array* un(temps* c, int op, array* x, stream s) {
  return c->failed ? NULL : keep(c, op_unary(op, x, s));
}

array* op_window(window_kind kind, int M, stream s) {
  if (M < 1) {
    int zero = 0;
    return array_new_alloc(MLX_FLOAT32, 1, &zero);
  }
  if (M == 1) {
    int one = 1;
    return op_ones(&one, 1, MLX_FLOAT32, s);
  }
  temps c = TEMPS_INIT;
  array* n = keep(&c, op_arange(0, M, 1, MLX_FLOAT32, s));
  array* out = NULL;
  switch (kind) {
    case WINDOW_HANNING: { /* sin(pi n / (M-1))^2 */
      array* x = bin(&c, BINARY_MULTIPLY, f32(&c, M_PI / (M - 1)), n, s);
      out = un(&c, UNARY_SQUARE, un(&c, UNARY_SIN, x, s), s);
      break;
    }
    case WINDOW_HAMMING: { /* 0.54 - 0.46 cos(2 pi n / (M-1)) */
      array* x = bin(&c, BINARY_MULTIPLY, f32(&c, (float)((2.0 * M_PI) / (M - 1))), n, s);
      array* t = bin(&c, BINARY_MULTIPLY, f32(&c, 0.46f), un(&c, UNARY_COS, x, s), s);
      out = bin(&c, BINARY_SUBTRACT, f32(&c, 0.54f), t, s);
      break;
    }
    case WINDOW_BLACKMAN: { /* 0.34 - 0.5 cos(x) + 0.16 cos(x)^2, as MLX writes it */
      array* x = bin(&c, BINARY_MULTIPLY, f32(&c, (float)((2.0 * M_PI) / (M - 1))), n, s);
      array* cx = un(&c, UNARY_COS, x, s);
      array* t1 = bin(&c, BINARY_MULTIPLY, f32(&c, 0.5f), cx, s);
      array* t2 = bin(&c, BINARY_MULTIPLY, f32(&c, 0.16f), un(&c, UNARY_SQUARE, cx, s), s);
      out = bin(&c, BINARY_ADD, bin(&c, BINARY_SUBTRACT, f32(&c, 0.34f), t1, s), t2, s);
      break;
    }
    case WINDOW_BARTLETT: { /* 1 - |2n/(M-1) - 1| */
      array* x = bin(&c, BINARY_MULTIPLY, f32(&c, 2.0f / (float)(M - 1)), n, s);
      array* t = bin(&c, BINARY_SUBTRACT, x, f32(&c, 1.0f), s);
      out = bin(&c, BINARY_SUBTRACT, f32(&c, 1.0f), un(&c, UNARY_ABS, t, s), s);
      break;
    }
  }
  return temps_finish(&c, c.failed ? NULL : out);
}

/* ---- hadamard_transform ---- */

array* op_hadamard_transform(array* a, const float* scale, stream s) {
  if (a->size == 0) {
    error_set("[hadamard_transform] Does not support empty arrays.");
    return NULL;
  }
  int n = a->ndim > 0 ? a->shape[a->ndim - 1] : 1;
  /* MLX: 1.0f / std::sqrt(n) with an int n, computed in double */
  float sc = scale ? *scale : (float)(1.0 / sqrt((double)n));
  mlx_dtype dtype = dtype_is_floating(a->dtype) ? a->dtype : MLX_FLOAT32;
  if (n == 1) {
    if (sc == 1) {
      array_retain(a);
      return a;
    }
    array* factor = op_scalar(sc, dtype);
    if (!factor) return NULL;
    array* out = op_binary(BINARY_MULTIPLY, a, factor, s);
    array_release(factor);
    return out;
  }
  hadamard_params* p = malloc(sizeof *p);
  array* x = p ? op_astype(a, dtype, s) : NULL;
  if (!x) {
    if (!p) error_set("[hadamard_transform] Out of memory.");
    free(p);
    return NULL;
  }
  p->scale = sc;
  array* out = array_new_op(dtype, a->ndim, a->shape, &prim_hadamard, p, &x, 1, s);
  array_release(x);
  return out;
}
