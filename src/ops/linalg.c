/* linalg.c - front-ends of matmul, addmm, inner, outer, tensordot and the
 * whole-array comparisons isclose, allclose and array_equal.
 *
 * matmul and addmm follow MLX's ops.cpp step by step (same checks in the
 * same order, same messages): 1-D operands gain a unit axis that is
 * squeezed away at the end, batch axes broadcast (never the matrix axes),
 * and a stack of matrices times one matrix is flattened into a single
 * tall product. The node itself (Matmul / AddMM) runs in
 * backend/cpu/matmul.c. The other products are compositions, as in MLX:
 * tensordot transposes and reshapes both operands into one matmul; isclose
 * is built from elementwise ops so its dtypes and rounding are MLX's.
 * allclose and array_equal end in `all` (ops/reduce.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/matmul.h"
#include "core/error.h"
#include "ops/binary_list.h"
#include "ops/compose.h"
#include "ops/linalg.h"
#include "ops/ops.h"
#include "ops/reduce.h"
#include "ops/unary_list.h"

static const primitive prim_matmul = {"Matmul", cpu_matmul_eval, NULL, NULL};
static const primitive prim_addmm = {"AddMM", cpu_matmul_eval, NULL, NULL};

/* ---- small helpers for building graphs ---- */

/* Replaces *x by y, releasing the old value; true when y is NULL. */
static bool replace(array** x, array* y) {
  array_release(*x);
  *x = y;
  return y == NULL;
}

/* ---- matmul ---- */

/* The "[op] Last dimension of first input ..." check on 2-D-or-more a, b. */
static int check_inner_dims(const char* op, const array* a, const array* b) {
  if (a->shape[a->ndim - 1] == b->shape[b->ndim - 2]) return 0;
  char sa[256], sb[256];
  return error_set("[%s] Last dimension of first input with shape %s must match second to "
                   "last dimension of second input with shape %s.",
                   op, error_format_shape(sa, sizeof sa, a->shape, a->ndim),
                   error_format_shape(sb, sizeof sb, b->shape, b->ndim));
}

/* Broadcasts the batch axes (all but the last two) of *a and *b against
 * each other, as MLX's broadcast_arrays with axes {-2, -1} ignored. */
static int broadcast_batch(array** a, array** b, stream s) {
  int na = (*a)->ndim - 2, nb = (*b)->ndim - 2;
  int nbatch = na > nb ? na : nb;
  int shape[nbatch + 2];
  int nout;
  if (broadcast_shapes((*a)->shape, na, (*b)->shape, nb, shape, &nout)) return 1;
  shape[nbatch] = (*a)->shape[na];
  shape[nbatch + 1] = (*a)->shape[na + 1];
  if (replace(a, op_broadcast_to(*a, shape, nbatch + 2, s))) return 1;
  shape[nbatch] = (*b)->shape[nb];
  shape[nbatch + 1] = (*b)->shape[nb + 1];
  return replace(b, op_broadcast_to(*b, shape, nbatch + 2, s));
}

/* The product node: a [..., M, K], b [..., K, N] (same batch shape), and
 * for AddMM c [..., M, N]. */
static array* product_node(array* a, array* b, array* c, const matmul_params* params,
                           stream s) {
  int nd = a->ndim;
  int shape[nd];
  memcpy(shape, a->shape, sizeof(int) * (size_t)nd);
  shape[nd - 1] = b->shape[nd - 1];
  matmul_params* p = NULL;
  if (params) {
    p = malloc(sizeof *p);
    if (!p) {
      error_set("[addmm] Out of memory.");
      return NULL;
    }
    *p = *params;
  }
  array* in[3] = {a, b, c};
  return array_new_op(a->dtype, nd, shape, c ? &prim_addmm : &prim_matmul, p, in, c ? 3 : 2,
                      s);
}

/* Removes the unit axes a 1-D operand gained: M (for a) and N (for b). */
static array* squeeze_vectors(array* out, int in_a_ndim, int in_b_ndim, stream s) {
  int axes[2], n = 0;
  if (in_a_ndim == 1) axes[n++] = out->ndim - 2;
  if (in_b_ndim == 1) axes[n++] = out->ndim - 1;
  array* r = op_squeeze_axes(out, axes, n, s);
  array_release(out);
  return r;
}

/* a (1-D -> [1, K]) and b (1-D -> [K, 1]) as matrices. */
static int as_matrices(array** a, array** b, array* in_a, array* in_b, stream s) {
  int zero = 0, one = 1;
  *a = in_a->ndim == 1 ? op_expand_dims_axes(in_a, &zero, 1, s) : take_ref(in_a);
  *b = in_b->ndim == 1 ? op_expand_dims_axes(in_b, &one, 1, s) : take_ref(in_b);
  return !*a || !*b;
}

array* op_matmul(array* in_a, array* in_b, stream s) {
  if (in_a->ndim == 0 || in_b->ndim == 0) {
    error_set("[matmul] Got 0 dimension input. Inputs must have at least one dimension.");
    return NULL;
  }
  array *a = NULL, *b = NULL, *out = NULL;
  if (as_matrices(&a, &b, in_a, in_b, s) || check_inner_dims("matmul", a, b)) goto done;
  mlx_dtype t = dtype_promote(a->dtype, b->dtype);
  if (!dtype_is_inexact(t)) {
    error_set("[matmul] Only inexact types are supported but %s and %s were provided which "
              "results in %s, which is not a floating point type.",
              dtype_name(a->dtype), dtype_name(b->dtype), dtype_name(t));
    goto done;
  }
  if (replace(&a, op_astype(a, t, s)) || replace(&b, op_astype(b, t, s))) goto done;

  bool flattened = false;
  if (in_a->ndim > 2 && in_b->ndim <= 2) {
    /* a stack of matrices times one matrix: one [batch*M, K] product */
    if (replace(&a, op_flatten(a, 0, a->ndim - 2, s))) goto done;
    flattened = true;
  } else if (in_a->ndim > 2 || in_b->ndim > 2) {
    if (broadcast_batch(&a, &b, s)) goto done;
  }
  out = product_node(a, b, NULL, NULL, s);
  if (out && flattened) replace(&out, op_unflatten(out, 0, in_a->shape, in_a->ndim - 1, s));
  if (out) out = squeeze_vectors(out, in_a->ndim, in_b->ndim, s);
done:
  array_release(a);
  array_release(b);
  return out;
}

/* ---- addmm ---- */

/* The complex64 form: alpha * (a @ b) + beta * c from plain ops. */
static array* addmm_composed(array* c, array* a, array* b, float alpha, float beta,
                             stream s) {
  array* ab = op_matmul(a, b, s);
  array* left = take_binary(BINARY_MULTIPLY, ab, ab ? op_scalar(alpha, MLX_FLOAT32) : NULL, s);
  if (!left) return NULL;
  array* right = take_binary(BINARY_MULTIPLY, op_scalar(beta, MLX_FLOAT32), take_ref(c), s);
  return take_binary(BINARY_ADD, left, right, s);
}

/* addmm of a stack of matrices a [..., M, K] with one matrix b and a c of
 * at most one axis: one [batch*M, K] product, reshaped back. The three
 * arrays are owned by the caller, who releases whatever they point to. */
static array* addmm_flat(array** a, array** b, array** c, int b_nd, const matmul_params* params,
                         stream s) {
  int nd = (*a)->ndim;
  int out_shape[nd];
  memcpy(out_shape, (*a)->shape, sizeof(int) * (size_t)nd);
  int flat[2] = {-1, (*a)->shape[nd - 1]};
  if (replace(a, op_reshape(*a, flat, 2, s))) return NULL;
  out_shape[nd - 1] = (*b)->shape[1];
  int cshape[2] = {(*a)->shape[0], (*b)->shape[1]};
  if (replace(c, op_broadcast_to(*c, cshape, 2, s))) return NULL;
  array* out = product_node(*a, *b, *c, params, s);
  if (out) replace(&out, op_reshape(out, out_shape, b_nd == 1 ? nd - 1 : nd, s));
  return out;
}

/* The general addmm: batch axes broadcast, c broadcast to the output
 * without the axes that 1-D operands drop, then given them back. */
static array* addmm_general(array** a, array** b, array** c, int a_nd, int b_nd,
                            const matmul_params* params, stream s) {
  if (((*a)->ndim > 2 || (*b)->ndim > 2) && broadcast_batch(a, b, s)) return NULL;
  int nd = (*a)->ndim;
  int out_shape[nd];
  memcpy(out_shape, (*a)->shape, sizeof(int) * (size_t)nd);
  out_shape[nd - 1] = (*b)->shape[nd - 1];
  int adj[nd], n_adj = 0;
  for (int i = 0; i < nd; i++) {
    bool dropped = (i == nd - 2 && a_nd == 1) || (i == nd - 1 && b_nd == 1);
    if (!dropped) adj[n_adj++] = out_shape[i];
  }
  int cnd = (*c)->ndim > n_adj ? (*c)->ndim : n_adj;
  int cshape[cnd + 2], ncs;
  if (broadcast_shapes((*c)->shape, (*c)->ndim, adj, n_adj, cshape, &ncs)) return NULL;
  if (replace(c, op_broadcast_to(*c, cshape, ncs, s))) return NULL;
  if (a_nd == 1 || b_nd == 1) { /* put the dropped unit axes back */
    if (b_nd == 1) cshape[ncs++] = 1;
    if (a_nd == 1) {
      cshape[ncs] = cshape[ncs - 1];
      cshape[ncs - 1] = 1;
      ncs++;
    }
    if (replace(c, op_reshape(*c, cshape, ncs, s))) return NULL;
  }
  if ((*c)->ndim != nd || memcmp((*c)->shape, out_shape, sizeof(int) * (size_t)nd) != 0) {
    error_set("[addmm] input c must broadcast to the output shape");
    return NULL;
  }
  array* out = product_node(*a, *b, *c, params, s);
  return out ? squeeze_vectors(out, a_nd, b_nd, s) : NULL;
}

array* op_addmm(array* in_c, array* in_a, array* in_b, float alpha, float beta, stream s) {
  int a_nd = in_a->ndim, b_nd = in_b->ndim;
  if (a_nd == 0 || b_nd == 0) {
    error_set("[addmm] Got 0 dimension input. Inputs must have at least one dimension.");
    return NULL;
  }
  mlx_dtype t = dtype_promote(dtype_promote(in_a->dtype, in_b->dtype), in_c->dtype);
  if (t == MLX_COMPLEX64) return addmm_composed(in_c, in_a, in_b, alpha, beta, s);

  array *a = NULL, *b = NULL, *c = NULL, *out = NULL;
  matmul_params params = {alpha, beta};
  if (as_matrices(&a, &b, in_a, in_b, s) || check_inner_dims("addmm", a, b)) goto done;
  if (!dtype_is_floating(t)) {
    error_set("[addmm] Only real floating point types are supported but %s, %s and %s were "
              "provided which results in %s, which is not a real floating point type.",
              dtype_name(in_c->dtype), dtype_name(in_a->dtype), dtype_name(in_b->dtype),
              dtype_name(t));
    goto done;
  }
  if (replace(&a, op_astype(a, t, s)) || replace(&b, op_astype(b, t, s)) ||
      replace(&c, op_astype(in_c, t, s)))
    goto done;
  if (a->ndim > 2 && b->ndim == 2 && c->ndim <= 1)
    out = addmm_flat(&a, &b, &c, b_nd, &params, s);
  else
    out = addmm_general(&a, &b, &c, a_nd, b_nd, &params, s);
done:
  array_release(a);
  array_release(b);
  array_release(c);
  return out;
}

/* ---- tensordot, inner, outer ---- */

array* op_tensordot(array* a, array* b, const int* axes_a, int n_a, const int* axes_b,
                    int n_b, stream s) {
  if (n_a != n_b) {
    error_set("[tensordot] axes must have the same size.");
    return NULL;
  }
  int n = n_a;
  int64_t csize = 1;
  for (int i = 0; i < n; i++) {
    /* MLX reads the sizes with shape(axis): one negative wrap, then a
     * range-checked lookup */
    int64_t xa = axes_a[i] < 0 ? (int64_t)axes_a[i] + a->ndim : axes_a[i];
    int64_t xb = axes_b[i] < 0 ? (int64_t)axes_b[i] + b->ndim : axes_b[i];
    if (xa < 0 || xa >= a->ndim || xb < 0 || xb >= b->ndim) {
      error_set("SmallVector out of range.");
      return NULL;
    }
    if (a->shape[xa] != b->shape[xb]) {
      error_set("[tensordot] a and b must have the same shape on the contracted axes.");
      return NULL;
    }
    csize *= a->shape[xa];
  }
  bool ca[a->ndim + 1], cb[b->ndim + 1];
  memset(ca, 0, sizeof ca);
  memset(cb, 0, sizeof cb);
  for (int i = 0; i < n; i++) {
    ca[axes_a[i] < 0 ? axes_a[i] + a->ndim : axes_a[i]] = true;
    cb[axes_b[i] < 0 ? axes_b[i] + b->ndim : axes_b[i]] = true;
  }
  /* a: free axes then contracted; b: contracted then free */
  int ta[a->ndim + n + 1], tb[b->ndim + n + 1], rshape[a->ndim + b->ndim + 1];
  int nta = 0, ntb = 0, nr = 0;
  int64_t size1 = 1, size2 = 1;
  for (int i = 0; i < a->ndim; i++)
    if (!ca[i]) {
      ta[nta++] = i;
      size1 *= a->shape[i];
      rshape[nr++] = a->shape[i];
    }
  for (int i = 0; i < n; i++) ta[nta++] = axes_a[i];
  for (int i = 0; i < n; i++) tb[ntb++] = axes_b[i];
  for (int i = 0; i < b->ndim; i++)
    if (!cb[i]) {
      tb[ntb++] = i;
      size2 *= b->shape[i];
      rshape[nr++] = b->shape[i];
    }
  if (size1 > INT_MAX || size2 > INT_MAX || csize > INT_MAX) {
    error_set("[tensordot] Shape dimension is outside the supported range.");
    return NULL;
  }
  array* x = op_transpose_axes(a, ta, nta, s);
  array* y = x ? op_transpose_axes(b, tb, ntb, s) : NULL;
  array* out = NULL;
  int sx[2] = {(int)size1, (int)csize}, sy[2] = {(int)csize, (int)size2};
  if (y && !replace(&x, op_reshape(x, sx, 2, s)) && !replace(&y, op_reshape(y, sy, 2, s))) {
    out = op_matmul(x, y, s);
    if (out) replace(&out, op_reshape(out, rshape, nr, s));
  }
  array_release(x);
  array_release(y);
  return out;
}

array* op_tensordot_axis(array* a, array* b, int axis, stream s) {
  if (axis < 0) {
    error_set("[tensordot] axis must be greater or equal to 0.");
    return NULL;
  }
  if (axis > (a->ndim < b->ndim ? a->ndim : b->ndim)) {
    error_set("[tensordot] axis must be less than the number of dimensions of a and b.");
    return NULL;
  }
  /* the last `axis` axes of a against the first `axis` of b */
  int aa[axis + 1], ab[axis + 1];
  for (int i = 0; i < axis; i++) {
    ab[i] = i;
    aa[i] = i - axis;
  }
  return op_tensordot(a, b, aa, axis, ab, axis, s);
}

array* op_inner(array* a, array* b, stream s) {
  if (a->ndim == 0 || b->ndim == 0) return op_binary(BINARY_MULTIPLY, a, b, s);
  if (a->shape[a->ndim - 1] != b->shape[b->ndim - 1]) {
    error_set("[inner] a and b must have the same last dimension.");
    return NULL;
  }
  int last = -1;
  return op_tensordot(a, b, &last, 1, &last, 1, s);
}

array* op_outer(array* a, array* b, stream s) {
  if (a->size > INT_MAX) {
    error_set("[outer] Array of size %zu is too large.", a->size);
    return NULL;
  }
  int col[2] = {(int)a->size, 1};
  array* x = op_reshape(a, col, 2, s);
  array* y = x ? op_flatten(b, 0, -1, s) : NULL;
  return take_binary(BINARY_MULTIPLY, x, y, s);
}

/* ---- whole-array comparisons ---- */

array* op_isclose(array* a, array* b, double rtol, double atol, bool equal_nan, stream s) {
  /* |a - b| <= atol + rtol * |b|, the tolerances as float32 scalars (MLX's
   * array(double) is float32), then corrected for infinities and NaNs */
  array* rhs = take_binary(BINARY_ADD, op_scalar(atol, MLX_FLOAT32),
                   take_binary(BINARY_MULTIPLY, op_scalar(rtol, MLX_FLOAT32),
                       take_unary(UNARY_ABS, take_ref(b), s), s),
                   s);
  array* lhs = take_unary(UNARY_ABS, take_binary(BINARY_SUBTRACT, take_ref(a), take_ref(b), s), s);
  array* out = take_binary(BINARY_LESS_EQUAL, lhs, rhs, s);
  if (!out) return NULL;

  array* a_pos = op_unary(UNARY_ISPOSINF, a, s);
  array* b_pos = op_unary(UNARY_ISPOSINF, b, s);
  array* a_neg = op_unary(UNARY_ISNEGINF, a, s);
  array* b_neg = op_unary(UNARY_ISNEGINF, b, s);
  array* any_inf = take_binary(
      BINARY_LOGICAL_OR, take_binary(BINARY_LOGICAL_OR, take_ref(a_pos), take_ref(a_neg), s),
      take_binary(BINARY_LOGICAL_OR, take_ref(b_pos), take_ref(b_neg), s), s);
  array* both_inf = take_binary(BINARY_LOGICAL_OR, take_binary(BINARY_LOGICAL_AND, a_pos, b_pos, s),
                        take_binary(BINARY_LOGICAL_AND, a_neg, b_neg, s), s);
  /* elements with an infinity are close only when both are the same one */
  out = take_binary(BINARY_LOGICAL_AND, out, take_unary(UNARY_LOGICAL_NOT, any_inf, s), s);
  out = take_binary(BINARY_LOGICAL_OR, out, both_inf, s);
  if (equal_nan)
    out = take_binary(BINARY_LOGICAL_OR, out,
                      take_binary(BINARY_LOGICAL_AND, op_unary(UNARY_ISNAN, a, s),
                                  op_unary(UNARY_ISNAN, b, s), s),
                      s);
  return out;
}

array* op_allclose(array* a, array* b, double rtol, double atol, bool equal_nan, stream s) {
  array* close = op_isclose(a, b, rtol, atol, equal_nan, s);
  if (!close) return NULL;
  array* out = op_reduce(REDUCE_AND, close, NULL, 0, false, s);
  array_release(close);
  return out;
}

array* op_array_equal(array* a, array* b, bool equal_nan, stream s) {
  if (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int) * (size_t)a->ndim) != 0)
    return array_new_scalar(MLX_BOOL, 0, 0);
  mlx_dtype t = dtype_promote(a->dtype, b->dtype);
  equal_nan = equal_nan && dtype_is_inexact(t);
  array* x = op_astype(a, t, s);
  array* y = x ? op_astype(b, t, s) : NULL;
  array* eq = x && y ? op_binary(BINARY_EQUAL, x, y, s) : NULL;
  if (eq && equal_nan) /* NaN == NaN counts as equal */
    eq = take_binary(BINARY_LOGICAL_OR, eq,
                     take_binary(BINARY_LOGICAL_AND, op_unary(UNARY_ISNAN, x, s),
                                 op_unary(UNARY_ISNAN, y, s), s),
                     s);
  array_release(x);
  array_release(y);
  array* out = eq ? op_reduce(REDUCE_AND, eq, NULL, 0, false, s) : NULL;
  array_release(eq);
  return out;
}
