/* ops_unary.c - mlx-c entry points of the unary elementwise family.
 *
 * Every member of UNARY_OP_LIST (ops/unary_list.h) gets its
 * mlx_<name>(res, a, s) from one macro; round and nan_to_num, which take
 * more arguments, are written out below. */
#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/ops.h"
#include "ops/unary_list.h"

#define UNARY_ENTRY_POINT(ID, name, prim, rule)                           \
  int mlx_##name(mlx_array* res, const mlx_array a, const mlx_stream s) { \
    stream st;                                                            \
    if (api_begin(res, #name, s, &st, 1, &a)) return api_fail();               \
    return api_finish(res, op_unary(UNARY_##ID, api_array(a), st));           \
  }
UNARY_OP_LIST(UNARY_ENTRY_POINT)
#undef UNARY_ENTRY_POINT

int mlx_round(mlx_array* res, const mlx_array a, int decimals,
              const mlx_stream s) {
  stream st;
  if (api_begin(res, "round", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_round(api_array(a), decimals, st));
}

int mlx_nan_to_num(mlx_array* res, const mlx_array a, float nan,
                   mlx_optional_float posinf, mlx_optional_float neginf,
                   const mlx_stream s) {
  stream st;
  if (api_begin(res, "nan_to_num", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_nan_to_num(api_array(a), nan,
                                   posinf.has_value ? &posinf.value : NULL,
                                   neginf.has_value ? &neginf.value : NULL,
                                   st));
}
