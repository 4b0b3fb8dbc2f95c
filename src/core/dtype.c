/* dtype.c - the dtype table and MLX's type promotion. */
#include "core/dtype.h"

const dtype_info dtype_table[DTYPE_COUNT] = {
    [MLX_BOOL] = {"bool", 1, KIND_BOOL},
    [MLX_UINT8] = {"uint8", 1, KIND_UINT},
    [MLX_UINT16] = {"uint16", 2, KIND_UINT},
    [MLX_UINT32] = {"uint32", 4, KIND_UINT},
    [MLX_UINT64] = {"uint64", 8, KIND_UINT},
    [MLX_INT8] = {"int8", 1, KIND_INT},
    [MLX_INT16] = {"int16", 2, KIND_INT},
    [MLX_INT32] = {"int32", 4, KIND_INT},
    [MLX_INT64] = {"int64", 8, KIND_INT},
    [MLX_FLOAT16] = {"float16", 2, KIND_FLOAT},
    [MLX_FLOAT32] = {"float32", 4, KIND_FLOAT},
    [MLX_FLOAT64] = {"float64", 8, KIND_FLOAT},
    [MLX_BFLOAT16] = {"bfloat16", 2, KIND_FLOAT},
    [MLX_COMPLEX64] = {"complex64", 8, KIND_COMPLEX},
};

_Static_assert(sizeof(complex64) == 8, "complex64 is two packed floats");

/* Promotion, written as MLX's rules rather than a 14x14 literal:
 * - same type: itself; bool yields to anything;
 * - complex64 > float64 > float32 > the half types; float16 with bfloat16
 *   gives float32; a float with an integer gives the float;
 * - two unsigned or two signed integers: the wider;
 * - unsigned u with signed s: s if s is wider, otherwise the signed type of
 *   twice u's width, and float32 when u is uint64. */
mlx_dtype dtype_promote(mlx_dtype a, mlx_dtype b) {
  if (a == b) return a;
  if (a == MLX_BOOL) return b;
  if (b == MLX_BOOL) return a;
  dtype_kind ka = dtype_table[a].kind, kb = dtype_table[b].kind;
  if (ka == KIND_COMPLEX || kb == KIND_COMPLEX) return MLX_COMPLEX64;
  if (ka == KIND_FLOAT || kb == KIND_FLOAT) {
    if (ka != KIND_FLOAT) return b;
    if (kb != KIND_FLOAT) return a;
    if (a == MLX_FLOAT64 || b == MLX_FLOAT64) return MLX_FLOAT64;
    return MLX_FLOAT32; /* f32 with a half, or f16 with bf16 */
  }
  size_t sa = dtype_table[a].size, sb = dtype_table[b].size;
  if (ka == kb) return sa >= sb ? a : b;
  mlx_dtype u = ka == KIND_UINT ? a : b, s = ka == KIND_UINT ? b : a;
  size_t su = dtype_table[u].size, ss = dtype_table[s].size;
  if (ss > su) return s;
  switch (su) {
    case 1: return MLX_INT16;
    case 2: return MLX_INT32;
    case 4: return MLX_INT64;
    default: return MLX_FLOAT32;
  }
}
