/* binary_util.h - helpers shared by test_binary.c and
 * test_binary_cases.c: the op table of the binary family, reading and
 * writing elements of any dtype, the reference computed in double / 64-bit
 * integers, random inputs, broadcast shapes and their index mapping.
 *
 * Everything here is static: each test program includes it once. */
#ifndef CMLX_TEST_BINARY_UTIL_H
#define CMLX_TEST_BINARY_UTIL_H

#include <complex.h>
#include <stdlib.h>

#include "core/array.h"
#include "core/half.h"
#include "harness.h"
#include "ops/binary_list.h"
#include "ops/ops.h"

#define N_DTYPES 14

typedef int (*binary_fn)(mlx_array*, const mlx_array, const mlx_array, const mlx_stream);

static const struct {
  const char* name;
  binary_fn fn;
} ops[BINARY_OP_COUNT] = {
#define OP_ENTRY(ID, name, prim, rule, cerr) [BINARY_##ID] = {#name, mlx_##name},
    BINARY_OP_LIST(OP_ENTRY)
#undef OP_ENTRY
};

static const mlx_dtype all_dtypes[N_DTYPES] = {
    MLX_BOOL,  MLX_UINT8,   MLX_UINT16,  MLX_UINT32,  MLX_UINT64,
    MLX_INT8,  MLX_INT16,   MLX_INT32,   MLX_INT64,   MLX_FLOAT16,
    MLX_BFLOAT16, MLX_FLOAT32, MLX_FLOAT64, MLX_COMPLEX64};

static const char* dname(mlx_dtype t) { return dtype_name(t); }

static inline bool is_float(mlx_dtype t) { return dtype_kind_of(t) == KIND_FLOAT; }
static inline bool is_signed_int(mlx_dtype t) { return dtype_kind_of(t) == KIND_INT; }
static inline int bits_of(mlx_dtype t) { return (int)dtype_size(t) * 8; }

/* ---- reading and writing elements ---- */

/* A contiguous copy of a's bytes (caller frees). */
static inline void* read_raw(mlx_array a) {
  mlx_array c = mlx_array_new();
  void* out = NULL;
  if (mlx_contiguous(&c, a, false, test_stream) == 0 && mlx_array_eval(c) == 0) {
    size_t n = mlx_array_nbytes(c);
    out = malloc(n ? n : 1);
    if (n) memcpy(out, mlx_array_data_uint8(c), n);
  }
  mlx_array_free(c);
  return out;
}

static inline double elem_f(const void* p, mlx_dtype t, size_t i) {
  switch (t) {
    case MLX_FLOAT16: return f16_to_f32(((const uint16_t*)p)[i]);
    case MLX_BFLOAT16: return bf16_to_f32(((const uint16_t*)p)[i]);
    case MLX_FLOAT32: return ((const float*)p)[i];
    case MLX_FLOAT64: return ((const double*)p)[i];
    default: break;
  }
  abort();
}

/* Integers and bool as 64 bits: sign-extended for signed types. */
static inline uint64_t elem_i(const void* p, mlx_dtype t, size_t i) {
  switch (t) {
    case MLX_BOOL: return ((const bool*)p)[i];
    case MLX_UINT8: return ((const uint8_t*)p)[i];
    case MLX_UINT16: return ((const uint16_t*)p)[i];
    case MLX_UINT32: return ((const uint32_t*)p)[i];
    case MLX_UINT64: return ((const uint64_t*)p)[i];
    case MLX_INT8: return (uint64_t)(int64_t)((const int8_t*)p)[i];
    case MLX_INT16: return (uint64_t)(int64_t)((const int16_t*)p)[i];
    case MLX_INT32: return (uint64_t)(int64_t)((const int32_t*)p)[i];
    case MLX_INT64: return (uint64_t)((const int64_t*)p)[i];
    default: break;
  }
  abort();
}

static inline void put_f(void* p, mlx_dtype t, size_t i, double v) {
  switch (t) {
    case MLX_FLOAT16: ((uint16_t*)p)[i] = f32_to_f16((float)v); return;
    case MLX_BFLOAT16: ((uint16_t*)p)[i] = f32_to_bf16((float)v); return;
    case MLX_FLOAT32: ((float*)p)[i] = (float)v; return;
    case MLX_FLOAT64: ((double*)p)[i] = v; return;
    default: abort();
  }
}

static inline void put_i(void* p, mlx_dtype t, size_t i, uint64_t v) {
  switch (t) {
    case MLX_BOOL: ((bool*)p)[i] = v != 0; return;
    case MLX_UINT8: case MLX_INT8: ((uint8_t*)p)[i] = (uint8_t)v; return;
    case MLX_UINT16: case MLX_INT16: ((uint16_t*)p)[i] = (uint16_t)v; return;
    case MLX_UINT32: case MLX_INT32: ((uint32_t*)p)[i] = (uint32_t)v; return;
    case MLX_UINT64: case MLX_INT64: ((uint64_t*)p)[i] = v; return;
    default: abort();
  }
}

/* Rounds v to dtype t (float types) and back. */
static inline double round_to(mlx_dtype t, double v) {
  uint64_t buf;
  put_f(&buf, t, 0, v);
  return elem_f(&buf, t, 0);
}

/* Distance in units of the last place of t between two values of t. */
static inline int64_t ulps(mlx_dtype t, double a, double b) {
  if (isnan(a) && isnan(b)) return 0;
  if (isnan(a) || isnan(b)) return INT64_MAX;
  if (a == b) return 0;
  if (t == MLX_FLOAT32) return test_ulp_f32((float)a, (float)b);
  if (t == MLX_FLOAT64) {
    int64_t ia, ib;
    memcpy(&ia, &a, 8);
    memcpy(&ib, &b, 8);
    if (ia < 0) ia = INT64_MIN - ia;
    if (ib < 0) ib = INT64_MIN - ib;
    return ia > ib ? ia - ib : ib - ia;
  }
  uint16_t ha, hb;
  put_f(&ha, t, 0, a);
  put_f(&hb, t, 0, b);
  int32_t ia = (ha & 0x8000) ? -(int32_t)(ha & 0x7fff) : (int32_t)ha;
  int32_t ib = (hb & 0x8000) ? -(int32_t)(hb & 0x7fff) : (int32_t)hb;
  return ia > ib ? ia - ib : ib - ia;
}

/* ---- the reference ---- */

static inline uint64_t mask_of(mlx_dtype t) {
  int b = bits_of(t);
  return b == 64 ? ~0ull : ((1ull << b) - 1);
}
static inline int64_t sext(mlx_dtype t, uint64_t v) {
  int b = bits_of(t);
  v &= mask_of(t);
  if (b < 64 && (v >> (b - 1)) & 1) v |= ~mask_of(t);
  return (int64_t)v;
}

/* The expected integer result (bits, to be truncated to the output type)
 * of op on a, b of integer type t. Spells out MLX's semantics (and ours
 * where MLX's CPU traps). */
static inline uint64_t ref_int(int op, mlx_dtype t, uint64_t a, uint64_t b) {
  bool sg = is_signed_int(t);
  int bits = bits_of(t);
  int64_t sa = (int64_t)a, sb = (int64_t)b; /* already sign-extended */
  switch (op) {
    case BINARY_ADD: return a + b;
    case BINARY_SUBTRACT: return a - b;
    case BINARY_MULTIPLY: return a * b;
    case BINARY_FLOOR_DIVIDE: /* C division: truncates */
      if (b == 0) return 0;
      if (sg) return sb == -1 ? 0 - a : (uint64_t)(sa / sb);
      return a / b;
    case BINARY_REMAINDER: {
      if (b == 0) return 0;
      if (!sg) return a % b;
      if (sb == -1) return 0;
      int64_t r = sa % sb;
      if (r != 0 && ((r < 0) != (sb < 0))) r += sb;
      return (uint64_t)r;
    }
    case BINARY_POWER: {
      if (sg && sb < 0) return 0;
      uint64_t r = 1;
      for (uint64_t k = 0; k < b; k++) r *= a;
      return r;
    }
    case BINARY_MAXIMUM: return sg ? (sa > sb ? a : b) : (a > b ? a : b);
    case BINARY_MINIMUM: return sg ? (sa < sb ? a : b) : (a < b ? a : b);
    case BINARY_EQUAL: return a == b;
    case BINARY_NOT_EQUAL: return a != b;
    case BINARY_LESS: return sg ? sa < sb : a < b;
    case BINARY_LESS_EQUAL: return sg ? sa <= sb : a <= b;
    case BINARY_GREATER: return sg ? sa > sb : a > b;
    case BINARY_GREATER_EQUAL: return sg ? sa >= sb : a >= b;
    case BINARY_BITWISE_AND: return a & b;
    case BINARY_BITWISE_OR: return a | b;
    case BINARY_BITWISE_XOR: return a ^ b;
    case BINARY_LEFT_SHIFT:
      if ((sg && sb < 0) || (sg ? sb >= bits : b >= (uint64_t)bits)) return 0;
      return a << b;
    case BINARY_RIGHT_SHIFT:
      if ((sg && sb < 0) || (sg ? sb >= bits : b >= (uint64_t)bits))
        return sg && sa < 0 ? ~0ull : 0;
      return sg ? (uint64_t)(sa >> sb) : (a & mask_of(t)) >> b;
    default: abort();
  }
}

/* bool: C++'s int arithmetic on 0/1, stored back into bool. */
static inline uint64_t ref_bool(int op, uint64_t a, uint64_t b) {
  int x = (int)a, y = (int)b;
  switch (op) {
    case BINARY_ADD: return x + y != 0;
    case BINARY_SUBTRACT: return x - y != 0;
    case BINARY_MULTIPLY: return x * y != 0;
    case BINARY_FLOOR_DIVIDE: return y ? x / y : 0;
    case BINARY_REMAINDER: return y ? x % y : 0;
    case BINARY_POWER: return y ? x : 1;
    case BINARY_MAXIMUM: return x > y ? x : y;
    case BINARY_MINIMUM: return x < y ? x : y;
    case BINARY_LOGICAL_AND: return x && y;
    case BINARY_LOGICAL_OR: return x || y;
    case BINARY_BITWISE_AND: return x & y;
    case BINARY_BITWISE_OR: return x | y;
    case BINARY_BITWISE_XOR: return x ^ y;
    default: return ref_int(op, MLX_UINT8, a, b);
  }
}

/* MLX's maximum/minimum: a NaN operand wins, b's first. */
static inline double ref_max(double a, double b) {
  return isnan(b) ? b : isnan(a) ? a : a > b ? a : b;
}
static inline double ref_min(double a, double b) {
  return isnan(b) ? b : isnan(a) ? a : a < b ? a : b;
}

/* The expected float result of op on a, b of float type t, rounded to t.
 * *tol: allowed distance in ulps of t. */
static inline double ref_float(int op, mlx_dtype t, double a, double b, int64_t* tol) {
  *tol = 0;
  switch (op) {
    case BINARY_ADD: return round_to(t, a + b);
    case BINARY_SUBTRACT: return round_to(t, a - b);
    case BINARY_MULTIPLY: return round_to(t, a * b);
    case BINARY_DIVIDE: return round_to(t, a / b);
    case BINARY_FLOOR_DIVIDE: return floor(round_to(t, a / b));
    case BINARY_REMAINDER: {
      double r = fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      return round_to(t, r);
    }
    case BINARY_POWER:
      *tol = t == MLX_FLOAT32 ? 2 : t == MLX_FLOAT64 ? 4 : 1;
      return round_to(t, (double)powl(a, b));
    case BINARY_ARCTAN2:
      *tol = t == MLX_FLOAT32 ? 2 : t == MLX_FLOAT64 ? 4 : 1;
      return round_to(t, (double)atan2l(a, b));
    case BINARY_LOGADDEXP: {
      *tol = t == MLX_FLOAT32 ? 2 : t == MLX_FLOAT64 ? 4 : 1;
      double hi = ref_max(a, b), lo = ref_min(a, b);
      if (lo == -INFINITY || hi == INFINITY) return hi;
      return round_to(t, (double)(hi + log1pl(expl((long double)lo - hi))));
    }
    case BINARY_MAXIMUM: return ref_max(a, b);
    case BINARY_MINIMUM: return ref_min(a, b);
    case BINARY_EQUAL: return a == b;
    case BINARY_NOT_EQUAL: return a != b;
    case BINARY_LESS: return a < b;
    case BINARY_LESS_EQUAL: return a <= b;
    case BINARY_GREATER: return a > b;
    case BINARY_GREATER_EQUAL: return a >= b;
    default: abort();
  }
}

static inline bool op_is_compare(int op) {
  return op >= BINARY_EQUAL && op <= BINARY_GREATER_EQUAL;
}

/* ---- random inputs ---- */

static inline uint64_t rand_bits(void) {
  uint64_t hi = (uint64_t)test_rand(0, 4294967296.0), lo = (uint64_t)test_rand(0, 4294967296.0);
  return hi << 32 | lo;
}

/* A value for operand `which` (0: a, 1: b) of op, in a range that
 * exercises the op (divisors small and sometimes 0 or -1, shift counts
 * around the width, exponents that fit). */
static inline void fill_random(void* p, mlx_dtype t, size_t n, int op, int which) {
  for (size_t i = 0; i < n; i++) {
    if (t == MLX_BOOL) {
      put_i(p, t, i, test_rand(0, 1) < 0.5);
    } else if (is_float(t)) {
      double v = test_rand(-10, 10);
      if (op == BINARY_POWER) v = which ? test_rand(-4, 4) : test_rand(0.01, 4);
      if (op == BINARY_LOGADDEXP) v = test_rand(-30, 30);
      if ((op == BINARY_REMAINDER || op == BINARY_FLOOR_DIVIDE) && which)
        v = (test_rand(0, 1) < 0.5 ? -1 : 1) * test_rand(0.25, 4);
      put_f(p, t, i, v);
    } else {
      uint64_t v = rand_bits();
      if (which && (op == BINARY_FLOOR_DIVIDE || op == BINARY_REMAINDER))
        v = (uint64_t)(int64_t)test_rand(is_signed_int(t) ? -9 : 0, 10);
      if (op == BINARY_POWER)
        v = which ? (uint64_t)(int64_t)test_rand(is_signed_int(t) ? -3 : 0, 70)
                  : (uint64_t)(int64_t)test_rand(is_signed_int(t) ? -5 : 0, 6);
      if (which && (op == BINARY_LEFT_SHIFT || op == BINARY_RIGHT_SHIFT))
        v = (uint64_t)(int64_t)test_rand(is_signed_int(t) ? -3 : 0, bits_of(t) + 4);
      put_i(p, t, i, v);
    }
  }
}

/* ---- shapes ---- */

static inline size_t shape_size(const int* s, int nd) {
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)s[i];
  return n;
}

/* Flat index into an input of shape in[nin] for output flat index i of
 * shape out[nout] (broadcasting). */
static inline size_t bcast_index(size_t i, const int* out, int nout, const int* in, int nin) {
  size_t idx = 0, stride = 1;
  for (int d = nout - 1; d >= 0; d--) {
    size_t c = i % (size_t)out[d];
    i /= (size_t)out[d];
    int k = d - (nout - nin);
    if (k >= 0) {
      if (in[k] != 1) idx += c * stride;
      stride *= (size_t)in[k];
    }
  }
  return idx;
}

typedef struct shape_pair {
  int na, nb, no;
  int a[4], b[4], out[4];
} shape_pair;

static const shape_pair shape_pairs[] = {
    {2, 2, 2, {5, 6}, {5, 6}, {5, 6}},
    {3, 2, 3, {3, 1, 5}, {4, 1}, {3, 4, 5}},
    {0, 2, 2, {0}, {2, 3}, {2, 3}},
    {2, 0, 2, {2, 3}, {0}, {2, 3}},
    {0, 0, 0, {0}, {0}, {0}},
    {3, 1, 3, {2, 0, 3}, {3}, {2, 0, 3}},
    {1, 1, 1, {1}, {0}, {0}},
    {1, 2, 2, {7}, {3, 1}, {3, 7}},
};

/* ---- the generic checker ---- */

static inline mlx_array make(const void* data, const int* shape, int nd, mlx_dtype t) {
  return mlx_array_new_data(data, shape, nd, t);
}

#endif
