/* dtype_util.h - what the element-wise test helpers (unary_util.h,
 * reduce_util.h) share: the internal stream, dtype classes, and writing
 * and reading one element of a buffer of any dtype as doubles. */
#ifndef CMLX_TEST_DTYPE_UTIL_H
#define CMLX_TEST_DTYPE_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "core/half.h"
#include "harness.h"

static inline stream test_st(void) {
  stream st;
  api_stream(&st, test_stream, "test");
  return st;
}

static inline bool is_float(mlx_dtype t) {
  return t == MLX_FLOAT16 || t == MLX_BFLOAT16 || t == MLX_FLOAT32 ||
         t == MLX_FLOAT64;
}
static inline bool is_int(mlx_dtype t) {
  return t != MLX_BOOL && !is_float(t) && t != MLX_COMPLEX64;
}
static inline bool is_signed(mlx_dtype t) {
  return t == MLX_INT8 || t == MLX_INT16 || t == MLX_INT32 || t == MLX_INT64;
}
static inline mlx_dtype at_least_float(mlx_dtype t) {
  return (is_float(t) || t == MLX_COMPLEX64) ? t : MLX_FLOAT32;
}

/* Writes value (re, im) as element i of a buffer of dtype t. Integers
 * take the value truncated (it is always integral in these tests). */
static inline void encode(void* base, mlx_dtype t, size_t i, double re, double im) {
  switch (t) {
    case MLX_BOOL: ((bool*)base)[i] = re != 0; break;
    case MLX_UINT8: ((uint8_t*)base)[i] = (uint8_t)(int64_t)re; break;
    case MLX_UINT16: ((uint16_t*)base)[i] = (uint16_t)(int64_t)re; break;
    case MLX_UINT32: ((uint32_t*)base)[i] = (uint32_t)(int64_t)re; break;
    case MLX_UINT64: ((uint64_t*)base)[i] = (uint64_t)(int64_t)re; break;
    case MLX_INT8: ((int8_t*)base)[i] = (int8_t)re; break;
    case MLX_INT16: ((int16_t*)base)[i] = (int16_t)re; break;
    case MLX_INT32: ((int32_t*)base)[i] = (int32_t)re; break;
    case MLX_INT64: ((int64_t*)base)[i] = (int64_t)re; break;
    case MLX_FLOAT16: ((uint16_t*)base)[i] = f32_to_f16((float)re); break;
    case MLX_BFLOAT16: ((uint16_t*)base)[i] = f32_to_bf16((float)re); break;
    case MLX_FLOAT32: ((float*)base)[i] = (float)re; break;
    case MLX_FLOAT64: ((double*)base)[i] = re; break;
    case MLX_COMPLEX64:
      ((float*)base)[2 * i] = (float)re;
      ((float*)base)[2 * i + 1] = (float)im;
      break;
  }
}

static inline void decode(const void* base, mlx_dtype t, size_t i, double* re,
                          double* im) {
  /* every dtype sets *re; zeroing it first only quiets -Wmaybe-uninitialized */
  *re = *im = 0;
  switch (t) {
    case MLX_BOOL: *re = ((const bool*)base)[i]; break;
    case MLX_UINT8: *re = ((const uint8_t*)base)[i]; break;
    case MLX_UINT16: *re = ((const uint16_t*)base)[i]; break;
    case MLX_UINT32: *re = ((const uint32_t*)base)[i]; break;
    case MLX_UINT64: *re = (double)((const uint64_t*)base)[i]; break;
    case MLX_INT8: *re = ((const int8_t*)base)[i]; break;
    case MLX_INT16: *re = ((const int16_t*)base)[i]; break;
    case MLX_INT32: *re = ((const int32_t*)base)[i]; break;
    case MLX_INT64: *re = (double)((const int64_t*)base)[i]; break;
    case MLX_FLOAT16: *re = f16_to_f32(((const uint16_t*)base)[i]); break;
    case MLX_BFLOAT16: *re = bf16_to_f32(((const uint16_t*)base)[i]); break;
    case MLX_FLOAT32: *re = ((const float*)base)[i]; break;
    case MLX_FLOAT64: *re = ((const double*)base)[i]; break;
    case MLX_COMPLEX64:
      *re = ((const float*)base)[2 * i];
      *im = ((const float*)base)[2 * i + 1];
      break;
  }
}

/* Integer element i as its 64-bit pattern (sign-extended when signed). */
static inline uint64_t decode_bits(const void* base, mlx_dtype t, size_t i) {
  switch (t) {
    case MLX_BOOL: return ((const bool*)base)[i];
    case MLX_UINT8: return ((const uint8_t*)base)[i];
    case MLX_UINT16: return ((const uint16_t*)base)[i];
    case MLX_UINT32: return ((const uint32_t*)base)[i];
    case MLX_UINT64: return ((const uint64_t*)base)[i];
    case MLX_INT8: return (uint64_t)(int64_t)((const int8_t*)base)[i];
    case MLX_INT16: return (uint64_t)(int64_t)((const int16_t*)base)[i];
    case MLX_INT32: return (uint64_t)(int64_t)((const int32_t*)base)[i];
    case MLX_INT64: return (uint64_t)((const int64_t*)base)[i];
    default: return 0;
  }
}
#endif
