/* test_binary.c - the binary elementwise family, divmod, where and clip.
 *
 * What it proves:
 * - result dtypes: the full 14x14 promotion table (through add) and the
 *   rule of every other member (divide -> float, comparisons -> bool, ...);
 * - values of every op on every dtype it takes, against a reference
 *   computed here in double / 64-bit integers: exact where MLX is exact,
 *   within 2 float32 ulp (1 half ulp) for pow / atan2 / logaddexp;
 * - shapes: broadcasting both ways, 0-d with n-d, empty arrays, and inputs
 *   that are transposed, sliced or broadcast views;
 * - large arrays (the threaded path) and donation (chains whose
 *   intermediates die give the right values, reusing the buffer);
 * - MLX's corner cases (NaN in maximum/minimum, signed zeros, Python's %
 *   sign, truncating integer floor_divide, integer division by zero, shifts
 *   past the width, negative integer powers, complex ordering);
 * - every error path with MLX's exact text. */
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

static bool is_float(mlx_dtype t) { return dtype_kind_of(t) == KIND_FLOAT; }
static bool is_signed_int(mlx_dtype t) { return dtype_kind_of(t) == KIND_INT; }
static int bits_of(mlx_dtype t) { return (int)dtype_size(t) * 8; }

/* ---- reading and writing elements ---- */

/* A contiguous copy of a's bytes (caller frees). */
static void* read_raw(mlx_array a) {
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

static double elem_f(const void* p, mlx_dtype t, size_t i) {
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
static uint64_t elem_i(const void* p, mlx_dtype t, size_t i) {
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

static void put_f(void* p, mlx_dtype t, size_t i, double v) {
  switch (t) {
    case MLX_FLOAT16: ((uint16_t*)p)[i] = f32_to_f16((float)v); return;
    case MLX_BFLOAT16: ((uint16_t*)p)[i] = f32_to_bf16((float)v); return;
    case MLX_FLOAT32: ((float*)p)[i] = (float)v; return;
    case MLX_FLOAT64: ((double*)p)[i] = v; return;
    default: abort();
  }
}

static void put_i(void* p, mlx_dtype t, size_t i, uint64_t v) {
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
static double round_to(mlx_dtype t, double v) {
  uint64_t buf;
  put_f(&buf, t, 0, v);
  return elem_f(&buf, t, 0);
}

/* Distance in units of the last place of t between two values of t. */
static int64_t ulps(mlx_dtype t, double a, double b) {
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

static uint64_t mask_of(mlx_dtype t) {
  int b = bits_of(t);
  return b == 64 ? ~0ull : ((1ull << b) - 1);
}
static int64_t sext(mlx_dtype t, uint64_t v) {
  int b = bits_of(t);
  v &= mask_of(t);
  if (b < 64 && (v >> (b - 1)) & 1) v |= ~mask_of(t);
  return (int64_t)v;
}

/* The expected integer result (bits, to be truncated to the output type)
 * of op on a, b of integer type t. Spells out MLX's semantics (and ours
 * where MLX's CPU traps). */
static uint64_t ref_int(int op, mlx_dtype t, uint64_t a, uint64_t b) {
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
static uint64_t ref_bool(int op, uint64_t a, uint64_t b) {
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
static double ref_max(double a, double b) { return isnan(b) ? b : isnan(a) ? a : a > b ? a : b; }
static double ref_min(double a, double b) { return isnan(b) ? b : isnan(a) ? a : a < b ? a : b; }

/* The expected float result of op on a, b of float type t, rounded to t.
 * *tol: allowed distance in ulps of t. */
static double ref_float(int op, mlx_dtype t, double a, double b, int64_t* tol) {
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

static bool op_is_compare(int op) {
  return op >= BINARY_EQUAL && op <= BINARY_GREATER_EQUAL;
}

/* ---- random inputs ---- */

static uint64_t rand_bits(void) {
  uint64_t hi = (uint64_t)test_rand(0, 4294967296.0), lo = (uint64_t)test_rand(0, 4294967296.0);
  return hi << 32 | lo;
}

/* A value for operand `which` (0: a, 1: b) of op, in a range that
 * exercises the op (divisors small and sometimes 0 or -1, shift counts
 * around the width, exponents that fit). */
static void fill_random(void* p, mlx_dtype t, size_t n, int op, int which) {
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

static size_t shape_size(const int* s, int nd) {
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)s[i];
  return n;
}

/* Flat index into an input of shape in[nin] for output flat index i of
 * shape out[nout] (broadcasting). */
static size_t bcast_index(size_t i, const int* out, int nout, const int* in, int nin) {
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

static mlx_array make(const void* data, const int* shape, int nd, mlx_dtype t) {
  return mlx_array_new_data(data, shape, nd, t);
}

/* Checks op(a, b) for a and b of dtype t on one shape pair, against the
 * reference; a_view/b_view, when given, replace a and b (views with the
 * same shapes and values). */
static void check_values(int op, mlx_dtype t, const shape_pair* sp) {
  size_t na = shape_size(sp->a, sp->na), nb = shape_size(sp->b, sp->nb);
  size_t no = shape_size(sp->out, sp->no);
  size_t es = dtype_size(t);
  void* da = malloc(na * es + 1);
  void* db = malloc(nb * es + 1);
  fill_random(da, t, na, op, 0);
  fill_random(db, t, nb, op, 1);
  mlx_array a = make(da, sp->a, sp->na, t), b = make(db, sp->b, sp->nb, t);
  mlx_array r = mlx_array_new();
  CHECK_OK(ops[op].fn(&r, a, b, test_stream));
  CHECK_MSG(test_shape_is(r, sp->out, sp->no), "%s %s: shape", ops[op].name, dname(t));
  mlx_dtype rt = mlx_array_dtype(r);
  void* got = read_raw(r);
  int bad = 0;
  for (size_t i = 0; got && i < no && bad < 5; i++) {
    size_t ia = bcast_index(i, sp->out, sp->no, sp->a, sp->na);
    size_t ib = bcast_index(i, sp->out, sp->no, sp->b, sp->nb);
    if (is_float(t)) {
      int64_t tol;
      double want = ref_float(op, t, elem_f(da, t, ia), elem_f(db, t, ib), &tol);
      double g = op_is_compare(op) ? (double)((const bool*)got)[i] : elem_f(got, rt, i);
      bool ok = ulps(t, g, want) <= tol && (g != 0 || signbit(g) == signbit(want));
      if (!ok) {
        bad++;
        CHECK_MSG(ok, "%s %s: [%zu] %.17g op %.17g = %.17g, want %.17g", ops[op].name,
                  dname(t), i, elem_f(da, t, ia), elem_f(db, t, ib), g, want);
      }
    } else {
      uint64_t x = elem_i(da, t, ia), y = elem_i(db, t, ib);
      uint64_t want = t == MLX_BOOL ? ref_bool(op, x, y) : ref_int(op, t, x, y);
      uint64_t g = elem_i(got, rt, i);
      bool ok = (g & mask_of(rt)) == (want & mask_of(rt));
      if (!ok) {
        bad++;
        CHECK_MSG(ok, "%s %s: [%zu] %lld op %lld = %lld, want %lld", ops[op].name, dname(t), i,
                  (long long)x, (long long)y, (long long)g, (long long)(want & mask_of(rt)));
      }
    }
  }
  CHECK(got != NULL);
  free(got);
  free(da);
  free(db);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(r);
}

/* Which real dtypes each op takes without casting them away. */
static bool op_takes(int op, mlx_dtype t) {
  switch (op) {
    case BINARY_DIVIDE:
    case BINARY_LOGADDEXP:
    case BINARY_ARCTAN2: return is_float(t);
    case BINARY_LOGICAL_AND:
    case BINARY_LOGICAL_OR: return t == MLX_BOOL;
    case BINARY_BITWISE_AND:
    case BINARY_BITWISE_OR:
    case BINARY_BITWISE_XOR: return !is_float(t) && t != MLX_COMPLEX64;
    case BINARY_LEFT_SHIFT:
    case BINARY_RIGHT_SHIFT: return !is_float(t) && t != MLX_COMPLEX64 && t != MLX_BOOL;
    default: return t != MLX_COMPLEX64;
  }
}

static void test_every_op_every_dtype(void) {
  for (int op = 0; op < BINARY_OP_COUNT; op++)
    for (int k = 0; k < N_DTYPES; k++) {
      if (!op_takes(op, all_dtypes[k])) continue;
      for (size_t s = 0; s < sizeof shape_pairs / sizeof *shape_pairs; s++)
        check_values(op, all_dtypes[k], &shape_pairs[s]);
    }
}

/* The threaded path: > 65536 elements, with broadcasting. */
static void test_large_arrays(void) {
  static const shape_pair big[] = {
      {1, 1, 1, {70001}, {70001}, {70001}},
      {2, 1, 2, {300, 257}, {257}, {300, 257}},
      {2, 2, 2, {300, 1}, {1, 259}, {300, 259}},
      {0, 1, 1, {0}, {70001}, {70001}},
  };
  static const int big_ops[] = {BINARY_ADD, BINARY_MULTIPLY, BINARY_MAXIMUM, BINARY_LESS,
                                BINARY_DIVIDE, BINARY_REMAINDER, BINARY_LOGADDEXP};
  static const mlx_dtype big_types[] = {MLX_FLOAT32, MLX_INT32, MLX_FLOAT16, MLX_UINT8,
                                        MLX_FLOAT64, MLX_BFLOAT16};
  for (size_t s = 0; s < sizeof big / sizeof *big; s++)
    for (size_t o = 0; o < sizeof big_ops / sizeof *big_ops; o++)
      for (size_t k = 0; k < sizeof big_types / sizeof *big_types; k++)
        if (op_takes(big_ops[o], big_types[k])) check_values(big_ops[o], big_types[k], &big[s]);
}

/* ---- dtypes ---- */

/* spec/mlx-core-reference.md, promote_types(row, column), in its order. */
static const char* const promo_names[N_DTYPES] = {
    "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
    "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"};
static const char* const promo_table[N_DTYPES][N_DTYPES] = {
    {"bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"uint8", "uint8", "uint16", "uint32", "uint64", "int16", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"uint16", "uint16", "uint16", "uint32", "uint64", "int32", "int32", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"uint32", "uint32", "uint32", "uint32", "uint64", "int64", "int64", "int64", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"uint64", "uint64", "uint64", "uint64", "uint64", "float32", "float32", "float32", "float32", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"int8", "int16", "int32", "int64", "float32", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"int16", "int16", "int32", "int64", "float32", "int16", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"int32", "int32", "int32", "int64", "float32", "int32", "int32", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"int64", "int64", "int64", "int64", "float32", "int64", "int64", "int64", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"float16", "float16", "float16", "float16", "float16", "float16", "float16", "float16", "float16", "float16", "float32", "float32", "float64", "complex64"},
    {"bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "float32", "bfloat16", "float32", "float64", "complex64"},
    {"float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float64", "complex64"},
    {"float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "complex64"},
    {"complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64"},
};

static mlx_dtype dtype_named(const char* name) {
  for (int k = 0; k < N_DTYPES; k++)
    if (!strcmp(dtype_name(all_dtypes[k]), name)) return all_dtypes[k];
  abort();
}

/* A [2] array of dtype t holding 1 and 2 (true, true for bool). */
static mlx_array one_two(mlx_dtype t) {
  mlx_array f = mlx_array_new_data((const float[]){1, 2}, (const int[]){2}, 1, MLX_FLOAT32);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_astype(&r, f, t, test_stream));
  mlx_array_free(f);
  return r;
}

static void test_promotion_table(void) {
  for (int i = 0; i < N_DTYPES; i++)
    for (int j = 0; j < N_DTYPES; j++) {
      mlx_dtype ta = dtype_named(promo_names[i]), tb = dtype_named(promo_names[j]);
      mlx_array a = one_two(ta), b = one_two(tb), r = mlx_array_new();
      CHECK_OK(mlx_add(&r, a, b, test_stream));
      mlx_dtype want = dtype_named(promo_table[i][j]);
      CHECK_MSG(mlx_array_dtype(r) == want, "add(%s, %s) gave %s, want %s", promo_names[i],
                promo_names[j], dname(mlx_array_dtype(r)), promo_table[i][j]);
      /* and the values: [1,2] + [1,2], where bool holds [true, true] */
      double* v = test_to_f64(r);
      double a1 = ta == MLX_BOOL ? 1 : 2, b1 = tb == MLX_BOOL ? 1 : 2;
      bool boolish = want == MLX_BOOL;
      CHECK_MSG(v && v[0] == (boolish ? 1 : 2) && v[1] == (boolish ? 1 : a1 + b1),
                "add(%s, %s) values", promo_names[i], promo_names[j]);
      free(v);
      mlx_array_free(a);
      mlx_array_free(b);
      mlx_array_free(r);
    }
}

/* The dtype rule of every other member. */
static void test_result_dtypes(void) {
  for (int i = 0; i < N_DTYPES; i++)
    for (int j = 0; j < N_DTYPES; j++) {
      mlx_dtype ta = all_dtypes[i], tb = all_dtypes[j];
      mlx_dtype p = dtype_promote(ta, tb);
      mlx_array a = one_two(ta), b = one_two(tb);
      for (int op = 0; op < BINARY_OP_COUNT; op++) {
        mlx_dtype want = p;
        bool fails = false;
        switch (op) {
          case BINARY_DIVIDE:
          case BINARY_LOGADDEXP:
          case BINARY_ARCTAN2:
            want = is_float(p) || p == MLX_COMPLEX64 ? p : MLX_FLOAT32;
            fails = op == BINARY_ARCTAN2 && p == MLX_COMPLEX64;
            break;
          case BINARY_FLOOR_DIVIDE:
          case BINARY_REMAINDER: fails = p == MLX_COMPLEX64; break;
          case BINARY_LOGICAL_AND:
          case BINARY_LOGICAL_OR: want = MLX_BOOL; break;
          case BINARY_BITWISE_AND:
          case BINARY_BITWISE_OR:
          case BINARY_BITWISE_XOR: fails = is_float(p) || p == MLX_COMPLEX64; break;
          case BINARY_LEFT_SHIFT:
          case BINARY_RIGHT_SHIFT:
            if (p == MLX_BOOL) want = MLX_UINT8;
            fails = is_float(p) || p == MLX_COMPLEX64;
            break;
          default:
            if (op_is_compare(op)) want = MLX_BOOL;
            break;
        }
        mlx_array r = mlx_array_new();
        test_error_count = 0;
        int rc = ops[op].fn(&r, a, b, test_stream);
        CHECK_MSG(rc == (fails ? 1 : 0), "%s(%s, %s) returned %d", ops[op].name, dname(ta),
                  dname(tb), rc);
        if (!rc) {
          CHECK_MSG(mlx_array_dtype(r) == want, "%s(%s, %s) gave %s, want %s", ops[op].name,
                    dname(ta), dname(tb), dname(mlx_array_dtype(r)), dname(want));
          CHECK_MSG(mlx_array_eval(r) == 0, "%s(%s, %s) eval: %s", ops[op].name, dname(ta),
                    dname(tb), test_last_error);
        }
        mlx_array_free(r);
      }
      mlx_array_free(a);
      mlx_array_free(b);
    }
}

/* ---- small known answers ---- */

/* op(a, b) on int32 vectors of length n equals want. */
static void check_i32(int op, const int32_t* a, const int32_t* b, const int32_t* want, int n) {
  mlx_array x = test_array_i32(a, &n, 1), y = test_array_i32(b, &n, 1), r = mlx_array_new();
  CHECK_OK(ops[op].fn(&r, x, y, test_stream));
  int32_t* got = read_raw(r);
  for (int i = 0; got && i < n; i++)
    CHECK_MSG(got[i] == want[i], "%s(%d, %d) = %d, want %d", ops[op].name, a[i], b[i], got[i],
              want[i]);
  free(got);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
}

/* op(a, b) on float32 vectors equals want (bitwise, NaN == NaN). */
static void check_f32(int op, const float* a, const float* b, const float* want, int n) {
  mlx_array x = test_array_f32(a, &n, 1), y = test_array_f32(b, &n, 1), r = mlx_array_new();
  CHECK_OK(ops[op].fn(&r, x, y, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT32);
  float* got = read_raw(r);
  for (int i = 0; got && i < n; i++) {
    bool ok = (isnan(got[i]) && isnan(want[i])) ||
              (got[i] == want[i] && signbit(got[i]) == signbit(want[i]));
    CHECK_MSG(ok, "%s(%g, %g) = %g, want %g", ops[op].name, a[i], b[i], got[i], want[i]);
  }
  free(got);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
}

static void test_integer_division(void) {
  /* floor_divide on integers is MLX's Divide: it truncates toward zero */
  check_i32(BINARY_FLOOR_DIVIDE, (const int32_t[]){-7, 7, -7, 7, 6, -1},
            (const int32_t[]){2, 2, -2, -2, 3, 3}, (const int32_t[]){-3, 3, 3, -3, 2, 0}, 6);
  /* remainder takes the divisor's sign, as Python's % */
  check_i32(BINARY_REMAINDER, (const int32_t[]){-7, 7, -7, 7, -1, 1, -5, 5, 6, -6},
            (const int32_t[]){2, 2, -2, -2, 3, -3, 3, -3, 3, 3},
            (const int32_t[]){1, 1, -1, -1, 2, -2, 1, -1, 0, 0}, 10);
  /* division by zero: 0 and 0 (MLX's CPU raises SIGFPE); INT_MIN / -1 wraps */
  check_i32(BINARY_FLOOR_DIVIDE, (const int32_t[]){5, -5, 0, INT32_MIN, INT32_MIN},
            (const int32_t[]){0, 0, 0, -1, 1},
            (const int32_t[]){0, 0, 0, INT32_MIN, INT32_MIN}, 5);
  check_i32(BINARY_REMAINDER, (const int32_t[]){5, -5, 0, INT32_MIN},
            (const int32_t[]){0, 0, 0, -1}, (const int32_t[]){0, 0, 0, 0}, 4);
  /* int64 and unsigned too */
  int64_t a64[3] = {INT64_MIN, 9, -9}, b64[3] = {-1, 0, 0};
  mlx_array x = make(a64, (const int[]){3}, 1, MLX_INT64), y = make(b64, (const int[]){3}, 1, MLX_INT64);
  mlx_array q = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_floor_divide(&q, x, y, test_stream));
  CHECK_OK(mlx_remainder(&r, x, y, test_stream));
  int64_t* gq = read_raw(q);
  int64_t* gr = read_raw(r);
  CHECK(gq && gq[0] == INT64_MIN && gq[1] == 0 && gq[2] == 0);
  CHECK(gr && gr[0] == 0 && gr[1] == 0 && gr[2] == 0);
  free(gq);
  free(gr);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(q);
  mlx_array_free(r);
  uint8_t ua[3] = {200, 7, 255}, ub[3] = {0, 2, 16};
  x = make(ua, (const int[]){3}, 1, MLX_UINT8);
  y = make(ub, (const int[]){3}, 1, MLX_UINT8);
  q = mlx_array_new();
  r = mlx_array_new();
  CHECK_OK(mlx_floor_divide(&q, x, y, test_stream));
  CHECK_OK(mlx_remainder(&r, x, y, test_stream));
  uint8_t* uq = read_raw(q);
  uint8_t* ur = read_raw(r);
  CHECK(uq && uq[0] == 0 && uq[1] == 3 && uq[2] == 15);
  CHECK(ur && ur[0] == 0 && ur[1] == 1 && ur[2] == 15);
  free(uq);
  free(ur);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(q);
  mlx_array_free(r);
}

static void test_float_division(void) {
  /* floats: floor_divide floors, remainder takes the divisor's sign */
  check_f32(BINARY_FLOOR_DIVIDE, (const float[]){-7, 7, -7.5f, 7.5f, 1, -1, 0},
            (const float[]){2, -2, 2, -2, 0, 0, 0},
            (const float[]){-4, -4, -4, -4, INFINITY, -INFINITY, NAN}, 7);
  check_f32(BINARY_REMAINDER, (const float[]){-7, 7, -7.5f, 7.5f, 3, 1, INFINITY, -0.0f},
            (const float[]){2, -2, 2, -2, 1.5f, 0, 2, 2},
            (const float[]){1, -1, 0.5f, -0.5f, 0, NAN, NAN, -0.0f}, 8);
  check_f32(BINARY_DIVIDE, (const float[]){1, -1, 0, 1}, (const float[]){0, 0, 0, -0.0f},
            (const float[]){INFINITY, -INFINITY, NAN, -INFINITY}, 4);
  /* float16 floor_divide rounds the quotient to float16 before flooring,
   * as MLX's floor(divide(a, b)) does: 6140/2047 = 2.99951... is 3 in
   * float16 (float32 would floor it to 2) */
  uint16_t h[2] = {f32_to_f16(6140.0f), f32_to_f16(2047.0f)};
  mlx_array x = make(&h[0], NULL, 0, MLX_FLOAT16), y = make(&h[1], NULL, 0, MLX_FLOAT16);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_floor_divide(&r, x, y, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT16);
  double* v = test_to_f64(r);
  CHECK_MSG(v && v[0] == 3, "float16 6140 // 2047 = %g, want 3", v ? v[0] : -1);
  free(v);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
}

static void test_special_values(void) {
  const float nan = NAN, inf = INFINITY;
  /* a NaN operand wins (b's first); ties between zeros give b */
  check_f32(BINARY_MAXIMUM, (const float[]){nan, 1, nan, -0.0f, 0.0f, -inf},
            (const float[]){1, nan, -nan, 0.0f, -0.0f, inf},
            (const float[]){nan, nan, -nan, 0.0f, -0.0f, inf}, 6);
  check_f32(BINARY_MINIMUM, (const float[]){nan, 1, -0.0f, 0.0f, -inf},
            (const float[]){1, nan, 0.0f, -0.0f, inf},
            (const float[]){nan, nan, 0.0f, -0.0f, -inf}, 5);
  check_f32(BINARY_LOGADDEXP, (const float[]){-inf, inf, inf, -inf, nan, 0},
            (const float[]){-inf, inf, -inf, 3, 1, 0},
            (const float[]){-inf, inf, inf, 3, nan, 0.6931471805599453f}, 6);
  check_f32(BINARY_ARCTAN2, (const float[]){0.0f, -0.0f, 0.0f, -0.0f, 1, -1},
            (const float[]){0.0f, 0.0f, -0.0f, -0.0f, 0, 0},
            (const float[]){0.0f, -0.0f, 3.14159265f, -3.14159265f, 1.57079633f, -1.57079633f}, 6);
  check_f32(BINARY_POWER, (const float[]){2, -2, 0, nan, 1, -8},
            (const float[]){10, 3, -1, 0, nan, 1.0f / 3},
            (const float[]){1024, -8, inf, 1, 1, nan}, 6);
  check_f32(BINARY_ADD, (const float[]){inf, -0.0f, nan}, (const float[]){-inf, -0.0f, 1},
            (const float[]){nan, -0.0f, nan}, 3);
  /* comparisons with NaN are false, except not_equal */
  float ca[3] = {nan, 1, nan}, cb[3] = {1, nan, nan};
  int n = 3;
  for (int op = BINARY_EQUAL; op <= BINARY_GREATER_EQUAL; op++) {
    mlx_array x = test_array_f32(ca, &n, 1), y = test_array_f32(cb, &n, 1), r = mlx_array_new();
    CHECK_OK(ops[op].fn(&r, x, y, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_BOOL);
    bool* g = read_raw(r);
    for (int i = 0; g && i < 3; i++)
      CHECK_MSG(g[i] == (op == BINARY_NOT_EQUAL), "%s with NaN", ops[op].name);
    free(g);
    mlx_array_free(x);
    mlx_array_free(y);
    mlx_array_free(r);
  }
  /* integer power: negative exponents give 0 (even for 1 and -1); wraps */
  check_i32(BINARY_POWER, (const int32_t[]){2, -2, 1, -1, 3, 2, 0},
            (const int32_t[]){-1, -3, -9, -1, 0, 31, 0},
            (const int32_t[]){0, 0, 0, 0, 1, INT32_MIN, 1}, 7);
  /* wrapping arithmetic */
  check_i32(BINARY_ADD, (const int32_t[]){INT32_MAX, INT32_MIN}, (const int32_t[]){1, -1},
            (const int32_t[]){INT32_MIN, INT32_MAX}, 2);
  check_i32(BINARY_MULTIPLY, (const int32_t[]){65536, INT32_MIN}, (const int32_t[]){65536, -1},
            (const int32_t[]){0, INT32_MIN}, 2);
  /* shifts past the width */
  check_i32(BINARY_LEFT_SHIFT, (const int32_t[]){1, 1, 1, -1, 3}, (const int32_t[]){31, 32, -1, 4, 100},
            (const int32_t[]){INT32_MIN, 0, 0, -16, 0}, 5);
  check_i32(BINARY_RIGHT_SHIFT, (const int32_t[]){-16, -16, 16, INT32_MIN, 7},
            (const int32_t[]){2, 40, 40, 31, -2}, (const int32_t[]){-4, -1, 0, -1, 0}, 5);
  /* uint8 shifts: 1 << 8 = 0, 200 >> 9 = 0 */
  uint8_t sa[2] = {1, 200}, sb[2] = {8, 9};
  mlx_array x = make(sa, (const int[]){2}, 1, MLX_UINT8), y = make(sb, (const int[]){2}, 1, MLX_UINT8);
  mlx_array l = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_left_shift(&l, x, y, test_stream));
  CHECK_OK(mlx_right_shift(&r, x, y, test_stream));
  uint8_t* gl = read_raw(l);
  uint8_t* gr = read_raw(r);
  CHECK(gl && gl[0] == 0 && gl[1] == 0);
  CHECK(gr && gr[0] == 0 && gr[1] == 0);
  free(gl);
  free(gr);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(l);
  mlx_array_free(r);
  /* shifting bools works in uint8: true << true = 2 */
  mlx_array t = mlx_array_new_bool(true);
  l = mlx_array_new();
  CHECK_OK(mlx_left_shift(&l, t, t, test_stream));
  CHECK(mlx_array_dtype(l) == MLX_UINT8);
  uint8_t v8 = 0;
  CHECK_OK(mlx_array_item_uint8(&v8, l));
  CHECK(v8 == 2);
  mlx_array_free(t);
  mlx_array_free(l);
}

/* logical ops cast their inputs to bool */
static void test_logical_casts(void) {
  float a[4] = {0, 2, NAN, -0.0f};
  int32_t b[4] = {5, 0, 1, 7};
  int n = 4;
  mlx_array x = test_array_f32(a, &n, 1), y = test_array_i32(b, &n, 1);
  mlx_array r = mlx_array_new(), o = mlx_array_new();
  CHECK_OK(mlx_logical_and(&r, x, y, test_stream));
  CHECK_OK(mlx_logical_or(&o, x, y, test_stream));
  bool* gr = read_raw(r);
  bool* go = read_raw(o);
  CHECK(gr && !gr[0] && !gr[1] && gr[2] && !gr[3]);
  CHECK(go && go[0] && go[1] && go[2] && go[3]);
  free(gr);
  free(go);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
  mlx_array_free(o);
}

/* complex64 against C's double complex arithmetic */
static void test_complex(void) {
  enum { N = 6 };
  float av[N][2] = {{1, 2}, {-3, 0.5f}, {0, 0}, {2, -1}, {1, 1}, {-0.5f, 4}};
  float bv[N][2] = {{3, -1}, {-3, 2}, {1, 0}, {2, -3}, {1, 1}, {0.25f, -2}};
  int n = N;
  mlx_array a = make(av, &n, 1, MLX_COMPLEX64), b = make(bv, &n, 1, MLX_COMPLEX64);
  static const int cops[] = {BINARY_ADD, BINARY_SUBTRACT, BINARY_MULTIPLY, BINARY_DIVIDE,
                             BINARY_POWER, BINARY_MAXIMUM, BINARY_MINIMUM, BINARY_LOGADDEXP};
  for (size_t k = 0; k < sizeof cops / sizeof *cops; k++) {
    int op = cops[k];
    mlx_array r = mlx_array_new();
    CHECK_OK(ops[op].fn(&r, a, b, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_COMPLEX64);
    float(*g)[2] = read_raw(r);
    for (int i = 0; g && i < N; i++) {
      double complex x = av[i][0] + I * av[i][1], y = bv[i][0] + I * bv[i][1], w;
      bool xgt = av[i][0] > bv[i][0] || (av[i][0] == bv[i][0] && av[i][1] > bv[i][1]);
      bool ygt = bv[i][0] > av[i][0] || (bv[i][0] == av[i][0] && bv[i][1] > av[i][1]);
      switch (op) {
        case BINARY_ADD: w = x + y; break;
        case BINARY_SUBTRACT: w = x - y; break;
        case BINARY_MULTIPLY: w = x * y; break;
        case BINARY_DIVIDE: w = x / y; break;
        case BINARY_POWER: w = x == 0 ? 0 : cexp(y * clog(x)); break;
        case BINARY_MAXIMUM: w = xgt ? x : y; break;
        case BINARY_MINIMUM: w = ygt ? x : y; break;
        default: w = clog(cexp(x) + cexp(y)); break;
      }
      double err = cabs((g[i][0] + I * g[i][1]) - w);
      CHECK_MSG(err <= 1e-5 * (1 + cabs(w)), "complex %s [%d]: (%g,%g) want (%g,%g)",
                ops[op].name, i, g[i][0], g[i][1], creal(w), cimag(w));
    }
    free(g);
    mlx_array_free(r);
  }
  /* comparisons: equal on both parts; ordering by real, then imaginary */
  for (int op = BINARY_EQUAL; op <= BINARY_GREATER_EQUAL; op++) {
    mlx_array r = mlx_array_new();
    CHECK_OK(ops[op].fn(&r, a, b, test_stream));
    bool* g = read_raw(r);
    for (int i = 0; g && i < N; i++) {
      double ar = av[i][0], ai = av[i][1], br = bv[i][0], bi = bv[i][1];
      bool gt = ar > br || (ar == br && ai > bi), lt = br > ar || (ar == br && bi > ai);
      bool eq = ar == br && ai == bi, w;
      switch (op) {
        case BINARY_EQUAL: w = eq; break;
        case BINARY_NOT_EQUAL: w = !eq; break;
        case BINARY_LESS: w = lt; break;
        case BINARY_LESS_EQUAL: w = lt || eq; break;
        case BINARY_GREATER: w = gt; break;
        default: w = gt || eq; break;
      }
      CHECK_MSG(g[i] == w, "complex %s [%d]", ops[op].name, i);
    }
    free(g);
    mlx_array_free(r);
  }
  /* a real operand is promoted: (1+2i) + 1.5 */
  mlx_array f = mlx_array_new_float32(1.5f), r = mlx_array_new();
  CHECK_OK(mlx_add(&r, a, f, test_stream));
  float(*g)[2] = read_raw(r);
  CHECK(g && g[0][0] == 2.5f && g[0][1] == 2);
  free(g);
  mlx_array_free(f);
  mlx_array_free(r);
  mlx_array_free(a);
  mlx_array_free(b);
}

/* ---- views, donation ---- */

/* A view node over an internal array (tests may use internal headers). */
static mlx_array transpose2(mlx_array a) {
  array* in = a.ctx;
  view_params* p = view_params_new(VIEW_TRANSPOSE, 2);
  p->axes[0] = 1;
  p->axes[1] = 0;
  int shape[2] = {in->shape[1], in->shape[0]};
  return (mlx_array){op_view_node(in, 2, shape, p, *(stream*)test_stream.ctx)};
}

/* a[start0::step0, start1::step1] with the given output shape. */
static mlx_array slice2(mlx_array a, int s0, int st0, int s1, int st1, int n0, int n1) {
  array* in = a.ctx;
  view_params* p = view_params_new(VIEW_SLICE, 2);
  p->start[0] = s0;
  p->start[1] = s1;
  p->step[0] = st0;
  p->step[1] = st1;
  int shape[2] = {n0, n1};
  return (mlx_array){op_view_node(in, 2, shape, p, *(stream*)test_stream.ctx)};
}

static void test_non_contiguous(void) {
  /* x: [40, 300] row-major; xt = x^T is [300, 40] with strides (1, 300) */
  enum { R = 40, C = 300 };
  float* xd = malloc(sizeof(float) * R * C);
  float* yd = malloc(sizeof(float) * C * R);
  for (int i = 0; i < R * C; i++) xd[i] = (float)test_rand(-5, 5);
  for (int i = 0; i < R * C; i++) yd[i] = (float)test_rand(-5, 5);
  mlx_array x = test_array_f32(xd, (const int[]){R, C}, 2);
  mlx_array y = test_array_f32(yd, (const int[]){C, R}, 2);
  mlx_array xt = transpose2(x);
  mlx_array r = mlx_array_new();
  /* transposed + contiguous */
  CHECK_OK(mlx_subtract(&r, xt, y, test_stream));
  float* g = read_raw(r);
  for (int i = 0; g && i < C; i++)
    for (int j = 0; j < R; j++)
      if (g[i * R + j] != xd[j * C + i] - yd[i * R + j]) {
        CHECK_MSG(0, "transposed subtract [%d,%d]", i, j);
        i = C;
        break;
      }
  free(g);
  /* transposed with transposed (both strided), against a broadcast view */
  mlx_array yt = transpose2(y);
  CHECK_OK(mlx_multiply(&r, yt, x, test_stream)); /* [40,300] * [40,300] */
  g = read_raw(r);
  for (int i = 0; g && i < R; i++)
    for (int j = 0; j < C; j++)
      if (g[i * C + j] != yd[j * R + i] * xd[i * C + j]) {
        CHECK_MSG(0, "transposed multiply [%d,%d]", i, j);
        i = R;
        break;
      }
  free(g);
  /* sliced view: x[1::3, 2::7] is [13, 43]; with a broadcast row */
  mlx_array xs = slice2(x, 1, 3, 2, 7, 13, 43);
  float row[43];
  for (int j = 0; j < 43; j++) row[j] = (float)j - 20;
  mlx_array rv = test_array_f32(row, (const int[]){43}, 1);
  mlx_array rb = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&rb, rv, (const int[]){13, 43}, 2, test_stream));
  CHECK_OK(mlx_maximum(&r, rb, xs, test_stream));
  g = read_raw(r);
  for (int i = 0; g && i < 13; i++)
    for (int j = 0; j < 43; j++) {
      float xv = xd[(1 + 3 * i) * C + 2 + 7 * j];
      float want = xv > row[j] ? xv : row[j];
      if (g[i * 43 + j] != want) {
        CHECK_MSG(0, "sliced maximum [%d,%d]", i, j);
        i = 13;
        break;
      }
    }
  free(g);
  /* where on views: cond transposed, x sliced-shaped broadcast */
  mlx_array zero = mlx_array_new_float32(0), cond = mlx_array_new();
  CHECK_OK(mlx_greater(&cond, xt, zero, test_stream));
  CHECK_OK(mlx_where(&r, cond, xt, y, test_stream));
  g = read_raw(r);
  for (int i = 0; g && i < C; i++)
    for (int j = 0; j < R; j++) {
      float xv = xd[j * C + i];
      if (g[i * R + j] != (xv > 0 ? xv : yd[i * R + j])) {
        CHECK_MSG(0, "where on views [%d,%d]", i, j);
        i = C;
        break;
      }
    }
  free(g);
  mlx_array_free(zero);
  mlx_array_free(cond);
  mlx_array_free(xs);
  mlx_array_free(rv);
  mlx_array_free(rb);
  mlx_array_free(yt);
  mlx_array_free(xt);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
  free(xd);
  free(yd);
}

static void test_donation(void) {
  enum { N = 100000 };
  float* a = malloc(sizeof(float) * N);
  float* b = malloc(sizeof(float) * N);
  float* c = malloc(sizeof(float) * N);
  for (int i = 0; i < N; i++) {
    a[i] = (float)i;
    b[i] = 0.5f;
    c[i] = (float)(N - i);
  }
  int n = N;
  mlx_array x = test_array_f32(a, &n, 1), y = test_array_f32(b, &n, 1), z = test_array_f32(c, &n, 1);
  /* add(add(add(x, y), z), y): intermediates die inside the graph */
  mlx_array t1 = mlx_array_new(), t2 = mlx_array_new(), t3 = mlx_array_new();
  CHECK_OK(mlx_add(&t1, x, y, test_stream));
  CHECK_OK(mlx_add(&t2, t1, z, test_stream));
  CHECK_OK(mlx_subtract(&t3, t2, y, test_stream));
  mlx_array_free(t1);
  mlx_array_free(t2);
  float* g = read_raw(t3);
  for (int i = 0; g && i < N; i++)
    if (g[i] != (float)((a[i] + b[i]) + c[i]) - b[i]) {
      CHECK_MSG(0, "donated chain [%d] = %g", i, g[i]);
      break;
    }
  free(g);
  mlx_array_free(t3);
  /* an evaluated intermediate whose handle is dropped gives its buffer */
  t1 = mlx_array_new();
  CHECK_OK(mlx_multiply(&t1, x, y, test_stream));
  const float* p1 = mlx_array_data_float32(t1);
  t2 = mlx_array_new();
  CHECK_OK(mlx_add(&t2, t1, z, test_stream));
  mlx_array_free(t1);
  CHECK_OK(mlx_array_eval(t2));
  CHECK_MSG(mlx_array_data_float32(t2) == p1, "the dying input's buffer was not reused");
  const float* p2 = mlx_array_data_float32(t2);
  for (int i = 0; p2 && i < N; i++)
    if (p2[i] != a[i] * b[i] + c[i]) {
      CHECK_MSG(0, "donated [%d]", i);
      break;
    }
  /* ... but not while someone still holds the input */
  t3 = mlx_array_new();
  CHECK_OK(mlx_add(&t3, t2, t2, test_stream)); /* the node holds t2 twice */
  CHECK_OK(mlx_array_eval(t3));
  CHECK(mlx_array_data_float32(t3) != mlx_array_data_float32(t2));
  const float* p3 = mlx_array_data_float32(t3);
  CHECK(p3 && p2 && p3[7] == 2 * p2[7]);
  CHECK(p2 && p2[7] == a[7] * b[7] + c[7]); /* unchanged */
  mlx_array_free(t2);
  mlx_array_free(t3);
  /* a comparison can take a 1-byte input's buffer; divmod can take two */
  int32_t qa[4] = {7, -7, 9, 0}, qb[4] = {2, 2, -4, 3};
  mlx_array u = test_array_i32(qa, (const int[]){4}, 1), v = test_array_i32(qb, (const int[]){4}, 1);
  mlx_array ua = mlx_array_new(), vb = mlx_array_new();
  CHECK_OK(mlx_copy(&ua, u, test_stream));
  CHECK_OK(mlx_copy(&vb, v, test_stream));
  mlx_vector_array qr = mlx_vector_array_new();
  CHECK_OK(mlx_divmod(&qr, ua, vb, test_stream));
  mlx_array_free(ua);
  mlx_array_free(vb);
  mlx_array q = mlx_array_new(), rr = mlx_array_new();
  CHECK_OK(mlx_vector_array_get(&q, qr, 0));
  CHECK_OK(mlx_vector_array_get(&rr, qr, 1));
  mlx_vector_array_free(qr);
  int32_t* gq = read_raw(q);
  int32_t* gr = read_raw(rr);
  CHECK(gq && gq[0] == 3 && gq[1] == -4 && gq[2] == -3 && gq[3] == 0);
  CHECK(gr && gr[0] == 1 && gr[1] == 1 && gr[2] == -3 && gr[3] == 0);
  free(gq);
  free(gr);
  mlx_array_free(q);
  mlx_array_free(rr);
  mlx_array_free(u);
  mlx_array_free(v);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(z);
  free(a);
  free(b);
  free(c);
}

/* ---- divmod, where, clip ---- */

static void test_divmod(void) {
  /* floors, matching Python: q * b + r == a */
  int32_t av[10] = {-7, 7, -7, 7, -1, 1, -5, 5, 6, -6}, bv[10] = {2, 2, -2, -2, 3, -3, 3, -3, 3, 3};
  int32_t wq[10] = {-4, 3, 3, -4, -1, -1, -2, -2, 2, -2}, wr[10] = {1, 1, -1, -1, 2, -2, 1, -1, 0, 0};
  int n = 10;
  mlx_array a = test_array_i32(av, &n, 1), b = test_array_i32(bv, &n, 1);
  mlx_vector_array res = mlx_vector_array_new();
  CHECK_OK(mlx_divmod(&res, a, b, test_stream));
  CHECK(mlx_vector_array_size(res) == 2);
  mlx_array q = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_vector_array_get(&q, res, 0));
  CHECK_OK(mlx_vector_array_get(&r, res, 1));
  CHECK(mlx_array_dtype(q) == MLX_INT32 && mlx_array_dtype(r) == MLX_INT32);
  int32_t* gq = read_raw(q);
  int32_t* gr = read_raw(r);
  for (int i = 0; gq && gr && i < n; i++)
    CHECK_MSG(gq[i] == wq[i] && gr[i] == wr[i], "divmod(%d, %d) = (%d, %d)", av[i], bv[i],
              gq[i], gr[i]);
  free(gq);
  free(gr);
  mlx_array_free(a);
  mlx_array_free(b);
  /* floats, with broadcasting: [2,1] by [3] */
  float fa[2] = {-7.5f, 7.5f}, fb[3] = {2, -2, 0.5f};
  a = test_array_f32(fa, (const int[]){2, 1}, 2);
  b = test_array_f32(fb, (const int[]){3}, 1);
  CHECK_OK(mlx_divmod(&res, a, b, test_stream));
  CHECK_OK(mlx_vector_array_get(&q, res, 0));
  CHECK_OK(mlx_vector_array_get(&r, res, 1));
  CHECK(test_shape_is(q, (const int[]){2, 3}, 2) && test_shape_is(r, (const int[]){2, 3}, 2));
  float* fq = read_raw(q);
  float* fr = read_raw(r);
  float wfq[6] = {-4, 3, -15, 3, -4, 15}, wfr[6] = {0.5f, -1.5f, 0, 1.5f, -0.5f, 0};
  for (int i = 0; fq && fr && i < 6; i++)
    CHECK_MSG(fq[i] == wfq[i] && fr[i] == wfr[i], "float divmod [%d] = (%g, %g)", i, fq[i], fr[i]);
  free(fq);
  free(fr);
  mlx_array_free(a);
  mlx_array_free(b);
  /* every real dtype, random values, against floor_divide-style reference */
  for (int k = 0; k < N_DTYPES - 1; k++) {
    mlx_dtype t = all_dtypes[k];
    enum { M = 37 };
    uint64_t da[M], db[M];
    fill_random(da, t, M, BINARY_REMAINDER, 0);
    fill_random(db, t, M, BINARY_REMAINDER, 1);
    int m = M;
    a = make(da, &m, 1, t);
    b = make(db, &m, 1, t);
    CHECK_OK(mlx_divmod(&res, a, b, test_stream));
    CHECK_OK(mlx_vector_array_get(&q, res, 0));
    CHECK_OK(mlx_vector_array_get(&r, res, 1));
    CHECK(mlx_array_dtype(q) == t && mlx_array_dtype(r) == t);
    void* gqv = read_raw(q);
    void* grv = read_raw(r);
    for (int i = 0; gqv && grv && i < M; i++) {
      if (is_float(t)) {
        double x = elem_f(da, t, (size_t)i), y = elem_f(db, t, (size_t)i);
        int64_t tol;
        double wrr = ref_float(BINARY_REMAINDER, t, x, y, &tol);
        double wqq = floor(round_to(t, x / y));
        CHECK_MSG(elem_f(gqv, t, (size_t)i) == wqq && elem_f(grv, t, (size_t)i) == wrr,
                  "divmod %s [%d]", dname(t), i);
      } else {
        uint64_t x = elem_i(da, t, (size_t)i), y = elem_i(db, t, (size_t)i);
        uint64_t wrr = t == MLX_BOOL ? ref_bool(BINARY_REMAINDER, x, y)
                                     : ref_int(BINARY_REMAINDER, t, x, y);
        /* floor quotient: (a - r) / b exactly, 0 for b == 0, -a for b == -1 */
        uint64_t wqq;
        if (y == 0) wqq = 0;
        else if (t == MLX_BOOL) wqq = x;
        else if (is_signed_int(t) && (int64_t)y == -1) wqq = 0 - x;
        else if (is_signed_int(t)) wqq = (uint64_t)(sext(t, x - wrr) / (int64_t)y);
        else wqq = x / y;
        uint64_t m = mask_of(t);
        CHECK_MSG((elem_i(gqv, t, (size_t)i) & m) == (wqq & m) &&
                      (elem_i(grv, t, (size_t)i) & m) == (wrr & m),
                  "divmod %s [%d]: %lld, %lld", dname(t), i, (long long)x, (long long)y);
      }
    }
    free(gqv);
    free(grv);
    mlx_array_free(a);
    mlx_array_free(b);
  }
  mlx_array_free(q);
  mlx_array_free(r);
  mlx_vector_array_free(res);
}

static void test_where(void) {
  /* cond [3,1] (float, cast to bool) with x int32 [4] and y float16 0-d */
  float cd[3] = {1, 0, NAN};
  int32_t xd[4] = {1, 2, 3, 4};
  uint16_t yd = f32_to_f16(-0.5f);
  mlx_array c = test_array_f32(cd, (const int[]){3, 1}, 2);
  mlx_array x = test_array_i32(xd, (const int[]){4}, 1);
  mlx_array y = make(&yd, NULL, 0, MLX_FLOAT16);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_where(&r, c, x, y, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT16); /* promote(int32, float16) */
  CHECK(test_shape_is(r, (const int[]){3, 4}, 2));
  double* v = test_to_f64(r);
  for (int i = 0; v && i < 3; i++)
    for (int j = 0; j < 4; j++)
      CHECK_MSG(v[i * 4 + j] == (i != 1 ? xd[j] : -0.5), "where [%d,%d] = %g", i, j, v[i * 4 + j]);
  free(v);
  /* every dtype (every element size), threaded size, cond contiguous with
   * x contiguous and y a scalar, and x, y both scalars */
  for (int k = 0; k < N_DTYPES; k++) {
    mlx_dtype t = all_dtypes[k];
    enum { M = 70003 };
    bool* cb = malloc(M);
    float* xf = malloc(sizeof(float) * M);
    for (int i = 0; i < M; i++) {
      cb[i] = (i % 3) == 0;
      xf[i] = (float)(i % 5 + 1);
    }
    mlx_array cc = make(cb, (const int[]){M}, 1, MLX_BOOL);
    mlx_array xsrc = test_array_f32(xf, (const int[]){M}, 1);
    mlx_array seven = mlx_array_new_float32(7), xt = mlx_array_new(), yt = mlx_array_new();
    CHECK_OK(mlx_astype(&xt, xsrc, t, test_stream));
    CHECK_OK(mlx_astype(&yt, seven, t, test_stream));
    mlx_array rr = mlx_array_new();
    CHECK_OK(mlx_where(&rr, cc, xt, yt, test_stream));
    CHECK(mlx_array_dtype(rr) == t);
    double* g = test_to_f64(rr);
    double* xv = test_to_f64(xt);
    double* yv = test_to_f64(yt);
    for (int i = 0; g && xv && yv && i < M; i++)
      if (g[i] != (cb[i] ? xv[i] : yv[0])) {
        CHECK_MSG(0, "where %s [%d]", dname(t), i);
        break;
      }
    free(g);
    /* both scalars */
    CHECK_OK(mlx_where(&rr, cc, yt, seven, test_stream));
    g = test_to_f64(rr);
    for (int i = 0; g && i < M; i++)
      if (g[i] != (cb[i] ? yv[0] : 7)) {
        CHECK_MSG(0, "where scalars %s [%d]", dname(t), i);
        break;
      }
    free(g);
    free(xv);
    free(yv);
    free(cb);
    free(xf);
    mlx_array_free(cc);
    mlx_array_free(xsrc);
    mlx_array_free(seven);
    mlx_array_free(xt);
    mlx_array_free(yt);
    mlx_array_free(rr);
  }
  /* empty and 0-d */
  mlx_array e = make(xd, (const int[]){0, 4}, 2, MLX_INT32);
  EXPECT_ERROR(mlx_where(&r, c, e, y, test_stream),
               "[broadcast_shapes] Shapes (3,1) and (0,4) cannot be broadcast.");
  mlx_array t0 = mlx_array_new_bool(true);
  CHECK_OK(mlx_where(&r, t0, e, y, test_stream));
  CHECK(test_shape_is(r, (const int[]){0, 4}, 2));
  CHECK_OK(mlx_array_eval(r));
  CHECK_OK(mlx_where(&r, t0, y, x, test_stream));
  CHECK(test_shape_is(r, (const int[]){4}, 1));
  v = test_to_f64(r);
  CHECK(v && v[0] == -0.5 && v[3] == -0.5);
  free(v);
  mlx_array_free(t0);
  mlx_array_free(e);
  mlx_array_free(c);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
}

static void test_clip(void) {
  float d[6] = {-3, -0.5f, 0, 0.5f, 3, NAN};
  int n = 6;
  mlx_array a = test_array_f32(d, &n, 1);
  mlx_array lo = mlx_array_new_float32(-1), hi = mlx_array_new_float32(1);
  mlx_array none = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_clip(&r, a, lo, hi, test_stream));
  float* g = read_raw(r);
  float w[6] = {-1, -0.5f, 0, 0.5f, 1, NAN};
  for (int i = 0; g && i < 6; i++)
    CHECK_MSG(g[i] == w[i] || (isnan(g[i]) && isnan(w[i])), "clip [%d] = %g", i, g[i]);
  free(g);
  CHECK_OK(mlx_clip(&r, a, lo, none, test_stream));
  g = read_raw(r);
  CHECK(g && g[0] == -1 && g[4] == 3);
  free(g);
  CHECK_OK(mlx_clip(&r, a, none, hi, test_stream));
  g = read_raw(r);
  CHECK(g && g[0] == -3 && g[4] == 1);
  free(g);
  /* dtypes promote: int32 clipped by float bounds is float32 */
  int32_t id[3] = {-5, 0, 5};
  mlx_array ia = test_array_i32(id, (const int[]){3}, 1);
  CHECK_OK(mlx_clip(&r, ia, lo, none, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT32);
  /* per-element bounds broadcast: [3] clipped by [2,1] */
  float lod[2] = {-2, 1}, hid[1] = {4};
  mlx_array l2 = test_array_f32(lod, (const int[]){2, 1}, 2), h1 = test_array_f32(hid, (const int[]){1}, 1);
  CHECK_OK(mlx_clip(&r, ia, l2, h1, test_stream));
  CHECK(test_shape_is(r, (const int[]){2, 3}, 2));
  double* v = test_to_f64(r);
  CHECK(v && v[0] == -2 && v[1] == 0 && v[2] == 4 && v[3] == 1 && v[4] == 1 && v[5] == 4);
  free(v);
  EXPECT_ERROR(mlx_clip(&r, a, none, none, test_stream),
               "At most one of a_min and a_max may be None");
  mlx_array_free(l2);
  mlx_array_free(h1);
  mlx_array_free(ia);
  mlx_array_free(a);
  mlx_array_free(lo);
  mlx_array_free(hi);
  mlx_array_free(r);
}

static void test_errors(void) {
  mlx_array a = mlx_array_new_data((const float[]){1, 2, 3, 4, 5, 6}, (const int[]){2, 3}, 2, MLX_FLOAT32);
  mlx_array b = mlx_array_new_data((const float[]){1, 2, 3, 4}, (const int[]){4}, 1, MLX_FLOAT32);
  mlx_array i = test_array_i32((const int32_t[]){1, 2, 3, 4}, (const int[]){4}, 1);
  mlx_array c = mlx_array_new_complex(1, 2);
  mlx_array none = mlx_array_new(), r = mlx_array_new();
  /* broadcasting, for every member (int32 operands for the bitwise ones,
   * whose dtype check would come first) */
  mlx_array ia = mlx_array_new();
  CHECK_OK(mlx_astype(&ia, a, MLX_INT32, test_stream));
  for (int op = 0; op < BINARY_OP_COUNT; op++) {
    bool integer_only = op >= BINARY_BITWISE_AND;
    EXPECT_ERROR(ops[op].fn(&r, integer_only ? ia : a, integer_only ? i : b, test_stream),
                 "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  }
  mlx_vector_array vr = mlx_vector_array_new();
  EXPECT_ERROR(mlx_divmod(&vr, a, b, test_stream),
               "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  mlx_array t = mlx_array_new_bool(true);
  EXPECT_ERROR(mlx_where(&r, a, b, t, test_stream),
               "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  EXPECT_ERROR(mlx_where(&r, b, t, a, test_stream),
               "[broadcast_shapes] Shapes (4) and (2,3) cannot be broadcast.");
  EXPECT_ERROR(mlx_clip(&r, a, b, none, test_stream),
               "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  mlx_array e = mlx_array_new_data((const float[]){0}, (const int[]){0}, 1, MLX_FLOAT32);
  EXPECT_ERROR(mlx_add(&r, e, b, test_stream),
               "[broadcast_shapes] Shapes (0) and (4) cannot be broadcast.");
  /* dtypes */
  EXPECT_ERROR(mlx_left_shift(&r, b, i, test_stream),
               "[left_shift] Only allowed on integer or boolean types but got types float32 and int32.");
  EXPECT_ERROR(mlx_right_shift(&r, b, i, test_stream),
               "[right_shift] Only allowed on integer or boolean types but got types float32 and float32.");
  EXPECT_ERROR(mlx_bitwise_and(&r, b, b, test_stream),
               "[bitwise_and] Only allowed on integer or boolean types but got types float32 and float32.");
  EXPECT_ERROR(mlx_bitwise_or(&r, i, b, test_stream),
               "[bitwise_or] Only allowed on integer or boolean types but got types int32 and float32.");
  EXPECT_ERROR(mlx_bitwise_xor(&r, c, t, test_stream),
               "[bitwise_xor] Only allowed on integer or boolean types but got types complex64 and bool.");
  /* the dtype check comes before the shape check */
  EXPECT_ERROR(mlx_bitwise_and(&r, a, i, test_stream),
               "[bitwise_and] Only allowed on integer or boolean types but got types float32 and int32.");
  EXPECT_ERROR(mlx_remainder(&r, c, b, test_stream), "[remainder] Complex type not supported.");
  EXPECT_ERROR(mlx_remainder(&r, a, c, test_stream), "[remainder] Complex type not supported.");
  EXPECT_ERROR(mlx_divmod(&vr, c, i, test_stream), "[divmod] Complex type not supported.");
  EXPECT_ERROR(mlx_arctan2(&r, b, c, test_stream), "[arctan2] Not supported for complex64.");
  EXPECT_ERROR(mlx_floor_divide(&r, c, b, test_stream), "[floor] Not supported for complex64.");
  /* floor_divide is floor(divide(a, b)): divide's shape check first */
  mlx_array cv = mlx_array_new();
  CHECK_OK(mlx_astype(&cv, a, MLX_COMPLEX64, test_stream));
  EXPECT_ERROR(mlx_floor_divide(&r, cv, b, test_stream),
               "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  /* empty handles and NULL results */
  EXPECT_ERROR(mlx_add(&r, none, b, test_stream),
               "[add] The first array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_greater(&r, b, none, test_stream),
               "[greater] The second array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_add(NULL, b, b, test_stream), "[add] The result pointer is NULL.");
  EXPECT_ERROR(mlx_divmod(NULL, b, b, test_stream), "[divmod] The result pointer is NULL.");
  EXPECT_ERROR(mlx_where(&r, none, b, b, test_stream),
               "[where] The condition array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_where(NULL, t, b, b, test_stream), "[where] The result pointer is NULL.");
  EXPECT_ERROR(mlx_clip(&r, none, b, b, test_stream),
               "[clip] The input array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_clip(NULL, b, b, b, test_stream), "[clip] The result pointer is NULL.");
  mlx_stream bad = {NULL};
  EXPECT_ERROR(mlx_multiply(&r, b, b, bad), "[multiply] The stream handle is empty.");
  /* the failed calls left r as it was: still usable */
  CHECK(r.ctx == NULL);
  mlx_vector_array_free(vr);
  mlx_array_free(cv);
  mlx_array_free(e);
  mlx_array_free(t);
  mlx_array_free(ia);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(i);
  mlx_array_free(c);
  mlx_array_free(r);
}

/* A scalar (0-d) with an n-d array both ways, and 0-d with 0-d. */
static void test_scalars(void) {
  mlx_array s = mlx_array_new_int(3);
  float d[4] = {1, 2, 3, 4};
  mlx_array v = test_array_f32(d, (const int[]){2, 2}, 2), r = mlx_array_new();
  CHECK_OK(mlx_subtract(&r, s, v, test_stream));
  CHECK(test_shape_is(r, (const int[]){2, 2}, 2) && mlx_array_dtype(r) == MLX_FLOAT32);
  double* g = test_to_f64(r);
  CHECK(g && g[0] == 2 && g[3] == -1);
  free(g);
  CHECK_OK(mlx_power(&r, v, s, test_stream));
  g = test_to_f64(r);
  CHECK(g && g[1] == 8 && g[3] == 64);
  free(g);
  CHECK_OK(mlx_divide(&r, s, s, test_stream));
  CHECK(mlx_array_ndim(r) == 0 && mlx_array_dtype(r) == MLX_FLOAT32);
  float f = 0;
  CHECK_OK(mlx_array_item_float32(&f, r));
  CHECK(f == 1);
  mlx_array_free(s);
  mlx_array_free(v);
  mlx_array_free(r);
}

int main(void) {
  test_init();
  test_promotion_table();
  test_result_dtypes();
  test_every_op_every_dtype();
  test_large_arrays();
  test_integer_division();
  test_float_division();
  test_special_values();
  test_logical_casts();
  test_complex();
  test_non_contiguous();
  test_donation();
  test_divmod();
  test_where();
  test_clip();
  test_errors();
  test_scalars();
  return test_finish("test_binary");
}
