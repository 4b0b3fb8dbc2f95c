/* binary.c - front-ends of the binary elementwise family (add ... right_shift,
 * generated from ops/binary_list.h), divmod, where and clip.
 *
 * Each front-end does what MLX's ops.cpp does, in the same order, so that
 * the same bad call fails with the same message: pick the compute dtype
 * (binary_rule), reject dtypes the op does not take, cast both inputs to
 * the compute dtype, broadcast them to one shape, and make the node. The
 * casts and broadcasts are nodes of their own (Copy, View) that cost
 * nothing when the input already has the dtype / shape. */
#include <stddef.h>

#include "backend/cpu/binary.h"
#include "core/error.h"
#include "ops/binary_list.h"
#include "ops/ops.h"

typedef struct binary_desc {
  const char* name; /* MLX's op name, for messages */
  binary_rule rule;
  const char* complex_error; /* NULL: complex64 is supported */
} binary_desc;

static const binary_desc binary_descs[BINARY_OP_COUNT] = {
#define DESC_ENTRY(ID, name, prim, rule, cerr) [BINARY_##ID] = {#name, rule, cerr},
    BINARY_OP_LIST(DESC_ENTRY)
#undef DESC_ENTRY
};

static const primitive binary_prims[BINARY_OP_COUNT] = {
#define PRIM_ENTRY(ID, name, prim, rule, cerr) \
  [BINARY_##ID] = {prim, cpu_##name##_eval, NULL, NULL},
    BINARY_OP_LIST(PRIM_ENTRY)
#undef PRIM_ENTRY
};

static const primitive prim_divmod = {"DivMod", cpu_divmod_eval, NULL, NULL};
static const primitive prim_select = {"Select", cpu_select_eval, NULL, NULL};

/* MLX's at_least_float: integers and bool become float32. */
static mlx_dtype at_least_float(mlx_dtype t) {
  return dtype_is_inexact(t) ? t : MLX_FLOAT32;
}

/* Casts each of in[0..n) to its dtype and broadcasts them together; out
 * receives n new references. Returns 1 (message set) on failure. */
static int cast_and_broadcast(array** out, array* const* in, const mlx_dtype* types,
                              int n, stream s) {
  array* cast[3] = {NULL, NULL, NULL};
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    cast[i] = op_astype(in[i], types[i], s);
    if (!cast[i]) rc = 1;
  }
  if (!rc) rc = op_broadcast_arrays(out, cast, n, s);
  for (int i = 0; i < n; i++) array_release(cast[i]);
  return rc;
}

/* The dtypes of an op: *compute for the inputs, *out for the result. */
static int binary_types(binary_op op, mlx_dtype a, mlx_dtype b, mlx_dtype* compute,
                        mlx_dtype* out) {
  const binary_desc* d = &binary_descs[op];
  mlx_dtype t = dtype_promote(a, b);
  switch (d->rule) {
    default:
    case BINARY_RULE_PROMOTE:
      *compute = *out = t;
      break;
    case BINARY_RULE_FLOAT:
      *compute = *out = at_least_float(t);
      break;
    case BINARY_RULE_COMPARE:
      *compute = t;
      *out = MLX_BOOL;
      break;
    case BINARY_RULE_LOGICAL:
      *compute = *out = MLX_BOOL;
      break;
    case BINARY_RULE_BITWISE:
    case BINARY_RULE_SHIFT:
      if (d->rule == BINARY_RULE_SHIFT && t == MLX_BOOL) t = MLX_UINT8;
      if (!dtype_is_integral_or_bool(t)) {
        /* right_shift casts both inputs to t before checking, so MLX's
         * message names t twice */
        if (op == BINARY_RIGHT_SHIFT) a = b = t;
        error_set("[%s] Only allowed on integer or boolean types but got types %s and %s.",
                  d->name, dtype_name(a), dtype_name(b));
        return 1;
      }
      *compute = *out = t;
      break;
  }
  return 0;
}

array* op_binary(int binary_op_, array* a, array* b, stream s) {
  if (binary_op_ < 0 || binary_op_ >= BINARY_OP_COUNT) {
    error_set("[binary] Unknown binary op %d.", binary_op_);
    return NULL;
  }
  binary_op op = (binary_op)binary_op_;
  const binary_desc* d = &binary_descs[op];
  mlx_dtype compute, out_type;
  if (binary_types(op, a->dtype, b->dtype, &compute, &out_type)) return NULL;
  /* MLX's floor_divide on inexact types is floor(divide(a, b)): the shapes
   * are checked (by divide) before the dtype (by floor). */
  bool complex_late = op == BINARY_FLOOR_DIVIDE;
  if (d->complex_error && compute == MLX_COMPLEX64 && !complex_late) {
    error_set("%s", d->complex_error);
    return NULL;
  }
  array* in[2] = {a, b};
  mlx_dtype types[2] = {compute, compute};
  array* bc[2];
  if (cast_and_broadcast(bc, in, types, 2, s)) return NULL;
  array* out = NULL;
  if (d->complex_error && compute == MLX_COMPLEX64)
    error_set("%s", d->complex_error);
  else
    out = array_new_op(out_type, bc[0]->ndim, bc[0]->shape, &binary_prims[op], NULL,
                       bc, 2, s);
  array_release(bc[0]);
  array_release(bc[1]);
  return out;
}

int op_divmod(array** quotient, array** remainder, array* a, array* b, stream s) {
  mlx_dtype t = dtype_promote(a->dtype, b->dtype);
  if (t == MLX_COMPLEX64) return error_set("[divmod] Complex type not supported.");
  array* in[2] = {a, b};
  mlx_dtype types[2] = {t, t};
  array* bc[2];
  if (cast_and_broadcast(bc, in, types, 2, s)) return 1;
  array* outs[2];
  mlx_dtype dtypes[2] = {t, t};
  int ndims[2] = {bc[0]->ndim, bc[0]->ndim};
  const int* shapes[2] = {bc[0]->shape, bc[0]->shape};
  int rc = array_new_op_multi(outs, 2, dtypes, ndims, shapes, &prim_divmod, NULL, bc, 2, s);
  array_release(bc[0]);
  array_release(bc[1]);
  if (rc) return 1;
  *quotient = outs[0];
  *remainder = outs[1];
  return 0;
}

array* op_where(array* cond, array* x, array* y, stream s) {
  mlx_dtype t = dtype_promote(x->dtype, y->dtype);
  array* in[3] = {cond, x, y};
  mlx_dtype types[3] = {MLX_BOOL, t, t};
  array* bc[3];
  if (cast_and_broadcast(bc, in, types, 3, s)) return NULL;
  array* out = array_new_op(t, bc[0]->ndim, bc[0]->shape, &prim_select, NULL, bc, 3, s);
  for (int i = 0; i < 3; i++) array_release(bc[i]);
  return out;
}

/* clip(a, lo, hi) = minimum(maximum(a, lo), hi); lo or hi may be NULL. */
array* op_clip(array* a, array* lo, array* hi, stream s) {
  if (!lo && !hi) {
    error_set("At most one of a_min and a_max may be None");
    return NULL;
  }
  array* result = a;
  array_retain(result);
  if (lo) {
    array* next = op_binary(BINARY_MAXIMUM, result, lo, s);
    array_release(result);
    if (!next) return NULL;
    result = next;
  }
  if (hi) {
    array* next = op_binary(BINARY_MINIMUM, result, hi, s);
    array_release(result);
    if (!next) return NULL;
    result = next;
  }
  return result;
}
