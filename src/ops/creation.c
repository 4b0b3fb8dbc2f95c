/* creation.c - front-ends of the ops that make new arrays: full, zeros,
 * ones, arange, linspace, eye, tri, and the tril/triu masks.
 *
 * Validation follows MLX's ops.cpp (order and messages). Where MLX builds
 * these from other ops (eye = zeros + scatter, tri = a comparison of two
 * aranges, linspace = arange and arithmetic), cmlx records one node whose
 * kernel (backend/cpu/creation.c) produces the same values directly. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/creation.h"
#include "core/error.h"
#include "ops/ops.h"

static const primitive prim_full = {"Full", cpu_full_eval, NULL, NULL};
static const primitive prim_arange = {"Arange", cpu_arange_eval, NULL, NULL};
static const primitive prim_linspace = {"Linspace", cpu_linspace_eval, NULL, NULL};
static const primitive prim_eye = {"Eye", cpu_eye_eval, NULL, NULL};
static const primitive prim_tri = {"Tri", cpu_tri_eval, NULL, NULL};
static const primitive prim_tril = {"Tril", cpu_tril_eval, NULL, NULL};
static const primitive prim_triu = {"Triu", cpu_triu_eval, NULL, NULL};

static int check_dtype(const char* op, mlx_dtype dtype) {
  if (!dtype_valid((int)dtype)) return error_set("[%s] Invalid dtype %d.", op, (int)dtype);
  return 0;
}

/* A node of prim with no inputs and a copy of params (n bytes). */
static array* param_node(const primitive* prim, const void* params, size_t n, mlx_dtype dtype,
                         int ndim, const int* shape, stream s) {
  void* p = malloc(n);
  if (!p) {
    error_set("[%s] Out of memory.", prim->name);
    return NULL;
  }
  memcpy(p, params, n);
  return array_new_op(dtype, ndim, shape, prim, p, NULL, 0, s);
}

/* ---- full, zeros, ones ---- */

array* op_full(const int* shape, int ndim, array* vals, mlx_dtype dtype, stream s) {
  if (shape_check("full", shape, ndim, NULL) || check_dtype("full", dtype)) return NULL;
  /* vals must broadcast to exactly shape (broadcast_to's messages) */
  int nb = ndim > vals->ndim ? ndim : vals->ndim;
  int bshape[nb > 0 ? nb : 1];
  int nout;
  if (broadcast_shapes(vals->shape, vals->ndim, shape, ndim, bshape, &nout)) return NULL;
  if (nout != ndim || (ndim && memcmp(bshape, shape, sizeof(int) * (size_t)ndim) != 0)) {
    char sa[256], sb[256];
    error_set("Cannot broadcast array of shape %s into shape %s.",
              error_format_shape(sa, sizeof sa, vals->shape, vals->ndim),
              error_format_shape(sb, sizeof sb, shape, ndim));
    return NULL;
  }
  /* MLX casts after broadcasting; casting first gives the same values and
   * converts each of vals' elements once */
  array* cast = op_astype(vals, dtype, s);
  if (!cast) return NULL;
  static const int no_dims[1] = {0}; /* op_broadcast_to wants a pointer even for 0-d */
  array* wide = op_broadcast_to(cast, ndim ? shape : no_dims, ndim, s);
  array_release(cast);
  if (!wide) return NULL;
  array* out = array_new_op(dtype, ndim, wide->shape, &prim_full, NULL, &wide, 1, s);
  array_release(wide);
  return out;
}

static array* full_scalar(const int* shape, int ndim, double v, mlx_dtype dtype, stream s) {
  if (check_dtype("full", dtype)) return NULL;
  array* vals = op_scalar(v, dtype);
  if (!vals) return NULL;
  array* out = op_full(shape, ndim, vals, dtype, s);
  array_release(vals);
  return out;
}

array* op_zeros(const int* shape, int ndim, mlx_dtype dtype, stream s) {
  return full_scalar(shape, ndim, 0.0, dtype, s);
}

array* op_ones(const int* shape, int ndim, mlx_dtype dtype, stream s) {
  return full_scalar(shape, ndim, 1.0, dtype, s);
}

/* ---- arange, linspace ---- */

array* op_arange(double start, double stop, double step, mlx_dtype dtype, stream s) {
  if (check_dtype("arange", dtype)) return NULL;
  if (dtype == MLX_BOOL) {
    error_set("bool not supported for arange.");
    return NULL;
  }
  if (isnan(start) || isnan(step) || isnan(stop) || isinf(start) || isinf(stop)) {
    error_set("[arange] Cannot compute length.");
    return NULL;
  }
  if (step == 0) {
    error_set("[arange] step must be nonzero.");
    return NULL;
  }
  int size;
  if (isinf(step) && ((step > 0 && start < stop) || (step < 0 && start > stop))) {
    size = 1; /* just start */
  } else {
    double real_size = ceil((stop - start) / step);
    if (real_size > INT_MAX) {
      error_set("[arange] Maximum size exceeded.");
      return NULL;
    }
    size = real_size > 0 ? (int)real_size : 0;
  }
  arange_params p = {start, step};
  return param_node(&prim_arange, &p, sizeof p, dtype, 1, &size, s);
}

array* op_linspace(double start, double stop, int num, mlx_dtype dtype, stream s) {
  if (check_dtype("linspace", dtype)) return NULL;
  if (num < 0) {
    error_set("[linspace] number of samples, %d, must be non-negative.", num);
    return NULL;
  }
  if (num == 1) { /* MLX: array({start}) (float64), cast to dtype */
    int one = 1;
    array* first = array_new_copy(MLX_FLOAT64, 1, &one, &start);
    if (!first) return NULL;
    array* out = op_astype(first, dtype, s);
    array_release(first);
    return out;
  }
  linspace_params p = {start, stop};
  return param_node(&prim_linspace, &p, sizeof p, dtype, 1, &num, s);
}

/* ---- eye, tri, tril, triu ---- */

array* op_eye(int n, int m, int k, mlx_dtype dtype, stream s) {
  if (check_dtype("eye", dtype)) return NULL;
  if (n < 0 || m < 0) {
    error_set("[eye] N and M must be positive integers.");
    return NULL;
  }
  int shape[2] = {n, m};
  if (shape_check("eye", shape, 2, NULL)) return NULL;
  diag_params p = {k};
  return param_node(&prim_eye, &p, sizeof p, dtype, 2, shape, s);
}

array* op_tri(int n, int m, int k, mlx_dtype dtype, stream s) {
  if (check_dtype("tri", dtype)) return NULL;
  /* MLX compares arange(n) with arange(-k, m - k): negative sizes give
   * empty aranges, not errors */
  int shape[2] = {n > 0 ? n : 0, m > 0 ? m : 0};
  if (shape_check("tri", shape, 2, NULL)) return NULL;
  diag_params p = {k};
  return param_node(&prim_tri, &p, sizeof p, dtype, 2, shape, s);
}

static array* tri_mask(const primitive* prim, const char* op, array* x, int k, stream s) {
  if (x->ndim < 2) {
    error_set("[%s] array must be at least 2-D", op);
    return NULL;
  }
  diag_params* p = malloc(sizeof *p);
  if (!p) {
    error_set("[%s] Out of memory.", op);
    return NULL;
  }
  p->k = k;
  return array_new_op(x->dtype, x->ndim, x->shape, prim, p, &x, 1, s);
}

array* op_tril(array* x, int k, stream s) {
  return tri_mask(&prim_tril, "tril", x, k, s);
}

array* op_triu(array* x, int k, stream s) {
  return tri_mask(&prim_triu, "triu", x, k, s);
}
