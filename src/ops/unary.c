/* unary.c - front-ends of the unary elementwise family: op_unary for every
 * member of UNARY_OP_LIST (ops/unary_list.h), op_round and op_nan_to_num.
 *
 * They validate with MLX's messages, choose the output dtype by the op's
 * rule, cast the input where MLX does (integers to float32 before exp...)
 * and create one node whose kernel is cpu_unary_eval. Where MLX returns its
 * input unchanged (floor of an integer array, real of a real array, abs of
 * an unsigned one...) these return a new reference to the input. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/unary.h"
#include "core/error.h"
#include "core/half.h"
#include "ops/ops.h"
#include "ops/unary_list.h"

typedef struct unary_info {
  const char* name; /* MLX's op name, for messages */
  unary_rule rule;
} unary_info;

static const unary_info unary_table[UNARY_OP_COUNT] = {
#define UNARY_INFO_ENTRY(ID, name, prim, rule) {#name, rule},
    UNARY_OP_LIST(UNARY_INFO_ENTRY) UNARY_EXTRA_LIST(UNARY_INFO_ENTRY)
#undef UNARY_INFO_ENTRY
};

static const primitive unary_primitives[UNARY_OP_COUNT] = {
#define UNARY_PRIM_ENTRY(ID, name, prim, rule) {prim, cpu_unary_eval, NULL, NULL},
    UNARY_OP_LIST(UNARY_PRIM_ENTRY) UNARY_EXTRA_LIST(UNARY_PRIM_ENTRY)
#undef UNARY_PRIM_ENTRY
};

/* MLX's at_least_float: floats and complex64 stay, the rest -> float32. */
static mlx_dtype at_least_float(mlx_dtype t) {
  return dtype_is_inexact(t) ? t : MLX_FLOAT32;
}

static array* same(array* a) {
  array_retain(a);
  return a;
}

/* The node computing op on a (already of the kernel's input dtype).
 * values: the params' constants (NULL: none). */
static array* unary_node(unary_op op, array* a, mlx_dtype out_dtype,
                         const double* values, stream s) {
  unary_params* p = calloc(1, sizeof *p);
  if (!p) {
    error_set("[%s] Out of memory.", unary_table[op].name);
    return NULL;
  }
  p->op = op;
  for (int i = 0; values && i < 3; i++) p->value[i] = values[i];
  return array_new_op(out_dtype, a->ndim, a->shape, &unary_primitives[op], p,
                      &a, 1, s);
}

/* Casts a to dtype, then applies op; output in out_dtype. */
static array* cast_then(unary_op op, array* a, mlx_dtype dtype,
                        mlx_dtype out_dtype, const double* values, stream s) {
  array* in = op_astype(a, dtype, s);
  if (!in) return NULL;
  array* out = unary_node(op, in, out_dtype, values, s);
  array_release(in);
  return out;
}

static array* complex_error(unary_op op) {
  error_set("[%s] Not supported for complex64.", unary_table[op].name);
  return NULL;
}

/* abs, negative, sign, square: the dtype stays, with MLX's exceptions. */
static array* same_dtype_op(unary_op op, array* a, stream s) {
  mlx_dtype t = a->dtype;
  switch (op) {
    case UNARY_NEGATIVE:
      if (t == MLX_BOOL) {
        error_set("[negative] Not supported for bool, use logical_not instead.");
        return NULL;
      }
      break;
    case UNARY_ABS:
      /* no-op for unsigned and bool; complex64 -> its magnitude */
      if (t == MLX_BOOL || dtype_kind_of(t) == KIND_UINT) return same(a);
      if (t == MLX_COMPLEX64) return unary_node(op, a, MLX_FLOAT32, NULL, s);
      break;
    case UNARY_SIGN:
      if (t == MLX_BOOL) return same(a);
      break;
    default:
      break;
  }
  return unary_node(op, a, t, NULL, s);
}

/* The constant degrees/radians multiply by (MLX: 180 / pi, pi / 180 as
 * double, rounded to the computing dtype). */
static const double* scale_for(unary_op op, double* buf) {
  if (op == UNARY_DEGREES) buf[0] = 180.0 / M_PI;
  else if (op == UNARY_RADIANS) buf[0] = M_PI / 180.0;
  else return NULL;
  return buf;
}

array* op_unary(int unary_op_id, array* a, stream s) {
  if (unary_op_id < 0 || unary_op_id >= UNARY_OP_COUNT ||
      unary_op_id == UNARY_ROUND_DECIMALS || unary_op_id == UNARY_NAN_TO_NUM) {
    error_set("[unary] Invalid unary op %d.", unary_op_id);
    return NULL;
  }
  unary_op op = (unary_op)unary_op_id;
  mlx_dtype t = a->dtype;
  double buf[3] = {0, 0, 0};
  switch (unary_table[op].rule) {
    case UNARY_RULE_SAME:
      return same_dtype_op(op, a, s);
    case UNARY_RULE_REAL_FLOAT:
      if (t == MLX_COMPLEX64) return complex_error(op);
      /* fall through */
    case UNARY_RULE_FLOAT: {
      mlx_dtype d = at_least_float(t);
      return cast_then(op, a, d, d, scale_for(op, buf), s);
    }
    case UNARY_RULE_REAL_ROUNDING:
      if (t == MLX_COMPLEX64) return complex_error(op);
      /* fall through */
    case UNARY_RULE_ROUNDING:
      if (!dtype_is_inexact(t)) return same(a);
      return unary_node(op, a, t, NULL, s);
    case UNARY_RULE_PREDICATE:
      return unary_node(op, a, MLX_BOOL, NULL, s);
    case UNARY_RULE_LOGICAL:
      return cast_then(op, a, MLX_BOOL, MLX_BOOL, NULL, s);
    case UNARY_RULE_INTEGER:
      if (dtype_is_inexact(t)) {
        error_set("[bitwise_invert] Bitwise inverse only allowed on integer types.");
        return NULL;
      }
      if (t == MLX_BOOL) return op_unary(UNARY_LOGICAL_NOT, a, s);
      return unary_node(op, a, t, NULL, s);
    case UNARY_RULE_COMPLEX_PART:
      if (t == MLX_COMPLEX64)
        return unary_node(op, a, op == UNARY_CONJUGATE ? t : MLX_FLOAT32, NULL, s);
      /* real and conjugate of a real array: itself; imag: zeros like it */
      if (op == UNARY_IMAG) return unary_node(op, a, t, NULL, s);
      return same(a);
    case UNARY_RULE_FUSED:
      break;
  }
  error_set("[unary] Invalid unary op %d.", unary_op_id);
  return NULL;
}

/* round(a, decimals): decimals == 0 is MLX's Round primitive (rint; the
 * identity on integers). Otherwise MLX computes, in d = at_least_float(a),
 * round(a * 10^decimals) * (1 / 10^decimals) with both factors made in
 * float32 and held as scalars of dtype d, then casts back to a's dtype. */
array* op_round(array* a, int decimals, stream s) {
  if (decimals == 0) return op_unary(UNARY_ROUND, a, s);
  mlx_dtype d = at_least_float(a->dtype);
  float scale = (float)pow(10.0, decimals);
  double values[3] = {scale, 1.0f / scale, 0};
  array* r = cast_then(UNARY_ROUND_DECIMALS, a, d, d, values, s);
  if (!r) return NULL;
  array* out = op_astype(r, a->dtype, s);
  array_release(r);
  return out;
}

/* The default replacement for +-inf: the dtype's largest finite value.
 * MLX knows it for float32, float16 and bfloat16 only. */
static int dtype_max(mlx_dtype t, float* out) {
  switch (t) {
    case MLX_FLOAT32: *out = FLT_MAX; return 0;
    case MLX_FLOAT16: *out = f16_to_f32(0x7bff); return 0;
    case MLX_BFLOAT16: *out = bf16_to_f32(0x7f7f); return 0;
    default:
      return error_set("[nan_to_num] Does not yet support given type: %s.",
                       dtype_name(t));
  }
}

array* op_nan_to_num(array* a, float nan, const float* posinf,
                     const float* neginf, stream s) {
  mlx_dtype t = a->dtype;
  if (!dtype_is_inexact(t)) return same(a);
  float hi = 0, lo = 0;
  if (posinf) hi = *posinf;
  else if (dtype_max(t, &hi)) return NULL;
  if (neginf) lo = *neginf;
  else if (dtype_max(t, &lo)) return NULL;
  else lo = -lo;
  double values[3] = {nan, hi, lo};
  return unary_node(UNARY_NAN_TO_NUM, a, t, values, s);
}
