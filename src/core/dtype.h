/* dtype.h - facts about each element type, in one table.
 *
 * Every other file asks this table (size, kind, name, promotion) instead of
 * keeping its own switch. DTYPE_LIST is the X-macro used to generate typed
 * code: X(enum value, C storage type, short name). float16 and bfloat16 are
 * stored as uint16_t bit patterns (see half.h). */
#ifndef CMLX_CORE_DTYPE_H
#define CMLX_CORE_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlx/c/array.h"

#define DTYPE_COUNT 14

typedef enum dtype_kind {
  KIND_BOOL,
  KIND_UINT,
  KIND_INT,
  KIND_FLOAT,
  KIND_COMPLEX,
} dtype_kind;

/* C99 says CMPLXF comes with <complex.h>; clang 14's headers lack it. */
#include <complex.h>
#ifndef CMPLXF
#define CMPLXF(x, y) __builtin_complex((float)(x), (float)(y))
#endif

/* complex64 storage: two floats, real first. */
typedef struct complex64 {
  float re, im;
} complex64;

#define DTYPE_LIST(X)                 \
  X(MLX_BOOL, bool, bool)             \
  X(MLX_UINT8, uint8_t, uint8)        \
  X(MLX_UINT16, uint16_t, uint16)     \
  X(MLX_UINT32, uint32_t, uint32)     \
  X(MLX_UINT64, uint64_t, uint64)     \
  X(MLX_INT8, int8_t, int8)           \
  X(MLX_INT16, int16_t, int16)        \
  X(MLX_INT32, int32_t, int32)        \
  X(MLX_INT64, int64_t, int64)        \
  X(MLX_FLOAT16, uint16_t, float16)   \
  X(MLX_FLOAT32, float, float32)      \
  X(MLX_FLOAT64, double, float64)     \
  X(MLX_BFLOAT16, uint16_t, bfloat16) \
  X(MLX_COMPLEX64, complex64, complex64)

typedef struct dtype_info {
  const char* name; /* MLX's name: "float32" */
  size_t size;      /* bytes per element */
  dtype_kind kind;
} dtype_info;

extern const dtype_info dtype_table[DTYPE_COUNT];

static inline bool dtype_valid(int t) {
  return t >= 0 && t < DTYPE_COUNT;
}
static inline size_t dtype_size(mlx_dtype t) {
  return dtype_table[t].size;
}
static inline const char* dtype_name(mlx_dtype t) {
  return dtype_valid((int)t) ? dtype_table[t].name : "unknown";
}
static inline dtype_kind dtype_kind_of(mlx_dtype t) {
  return dtype_table[t].kind;
}
static inline bool dtype_is_floating(mlx_dtype t) {
  return dtype_table[t].kind == KIND_FLOAT;
}
/* float or complex: MLX's "inexact" category. */
static inline bool dtype_is_inexact(mlx_dtype t) {
  return dtype_table[t].kind >= KIND_FLOAT;
}
/* bool, unsigned or signed integer. */
static inline bool dtype_is_integral_or_bool(mlx_dtype t) {
  return dtype_table[t].kind <= KIND_INT;
}
static inline bool dtype_is_integer(mlx_dtype t) {
  return dtype_table[t].kind == KIND_UINT || dtype_table[t].kind == KIND_INT;
}
static inline bool dtype_is_half(mlx_dtype t) {
  return t == MLX_FLOAT16 || t == MLX_BFLOAT16;
}

/* MLX's promote_types (the table in spec/mlx-core-reference.md). */
mlx_dtype dtype_promote(mlx_dtype a, mlx_dtype b);

#endif
