/* ops_unary.c - mlx-c entry points of the unary elementwise family.
 *
 * Every member of UNARY_OP_LIST (ops/unary_list.h) gets its
 * mlx_<name>(res, a, s) from one macro; round and nan_to_num, which take
 * more arguments, are written out below. */
#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/ops.h"
#include "ops/unary_list.h"

/* The common prologue: result pointer, one input, the stream. */
static int prologue(mlx_array* res, mlx_array a, mlx_stream s, stream* st,
                    const char* op) {
  if (!res) return error_set("[%s] The result pointer is NULL.", op);
  if (api_check_array(a, op, "input")) return 1;
  return api_stream(st, s, op);
}

static int finish(mlx_array* res, array* out) {
  if (!out) return api_fail();
  return api_set_result(res, out);
}

#define UNARY_ENTRY_POINT(ID, name, prim, rule)                           \
  int mlx_##name(mlx_array* res, const mlx_array a, const mlx_stream s) { \
    stream st;                                                            \
    if (prologue(res, a, s, &st, #name)) return api_fail();               \
    return finish(res, op_unary(UNARY_##ID, api_array(a), st));           \
  }
UNARY_OP_LIST(UNARY_ENTRY_POINT)
#undef UNARY_ENTRY_POINT

int mlx_round(mlx_array* res, const mlx_array a, int decimals,
              const mlx_stream s) {
  stream st;
  if (prologue(res, a, s, &st, "round")) return api_fail();
  return finish(res, op_round(api_array(a), decimals, st));
}

int mlx_nan_to_num(mlx_array* res, const mlx_array a, float nan,
                   mlx_optional_float posinf, mlx_optional_float neginf,
                   const mlx_stream s) {
  stream st;
  if (prologue(res, a, s, &st, "nan_to_num")) return api_fail();
  return finish(res, op_nan_to_num(api_array(a), nan,
                                   posinf.has_value ? &posinf.value : NULL,
                                   neginf.has_value ? &neginf.value : NULL,
                                   st));
}
