/* ops_binary.c - mlx-c entry points of the binary elementwise family: one
 * mlx_<name> per line of ops/binary_list.h, plus divmod, where and clip. */
#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/binary_list.h"
#include "ops/ops.h"

static int binary_entry(mlx_array* res, mlx_array a, mlx_array b, mlx_stream s,
                        binary_op op, const char* name) {
  stream st;
  mlx_array in[2] = {a, b};
  if (api_begin(res, name, s, &st, 2, in)) return api_fail();
  return api_finish(res, op_binary(op, api_array(a), api_array(b), st));
}

#define API_BINARY_DEFINE(ID, name, prim, rule, cerr)                          \
  int mlx_##name(mlx_array* res, const mlx_array a, const mlx_array b,         \
                 const mlx_stream s) {                                         \
    return binary_entry(res, a, b, s, BINARY_##ID, #name);                     \
  }
BINARY_OP_LIST(API_BINARY_DEFINE)
#undef API_BINARY_DEFINE

int mlx_divmod(mlx_vector_array* res, const mlx_array a, const mlx_array b,
               const mlx_stream s) {
  stream st;
  mlx_array in[2] = {a, b};
  if (api_begin(res, "divmod", s, &st, 2, in)) return api_fail();
  array* outs[2];
  if (op_divmod(&outs[0], &outs[1], api_array(a), api_array(b), st)) return api_fail();
  return api_set_vector(res, outs, 2) ? api_fail() : 0;
}

int mlx_where(mlx_array* res, const mlx_array condition, const mlx_array x,
              const mlx_array y, const mlx_stream s) {
  stream st;
  mlx_array in[2] = {x, y};
  if (api_begin(res, "where", s, &st, 2, in)) return api_fail();
  if (api_check_array(condition, "where", "condition")) return api_fail();
  return api_finish(res, op_where(api_array(condition), api_array(x), api_array(y), st));
}

/* a_min / a_max: an empty handle (mlx_array_new()) means "absent". */
int mlx_clip(mlx_array* res, const mlx_array a, const mlx_array a_min,
             const mlx_array a_max, const mlx_stream s) {
  stream st;
  if (api_begin(res, "clip", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_clip(api_array(a), a_min.ctx ? api_array(a_min) : NULL,
                                 a_max.ctx ? api_array(a_max) : NULL, st));
}
