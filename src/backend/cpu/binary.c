/* binary.c - CPU kernels of the binary elementwise family, DivMod and
 * Select (where).
 *
 * Layers, top to bottom of this file:
 *   1. scalar functions, one per (op, dtype family), that say what an
 *      element of the result is - this is where MLX's semantics live;
 *   2. loop generators that wrap a scalar function into an ew_inner_fn with
 *      the stride special cases (1,1), (0,1), (1,0) the compiler vectorises;
 *   3. the kernel table [op][dtype] built from per-family op lists;
 *   4. the eval entry points (allocation / donation, then ew_run).
 *
 * Semantics (MLX 0.32.2's CPU backend, with its undefined corners defined):
 * - Integer add/subtract/multiply/power wrap (computed in unsigned).
 * - floor_divide on integers is MLX's Divide: C division, which truncates
 *   toward zero (MLX does not floor integer quotients). remainder takes the
 *   divisor's sign (Python's %). divmod floors (q*b + r == a).
 * - Integer division by zero, where MLX's CPU dies with SIGFPE, gives 0 for
 *   the quotient and 0 for the remainder (NumPy's result). INT_MIN / -1
 *   wraps to INT_MIN with remainder 0.
 * - Integer power with a negative exponent is 0 (MLX since #4100).
 * - Shifts by a negative count or by at least the type's width (undefined
 *   in MLX's C++): left shift gives 0, right shift gives 0 (or -1 for a
 *   negative signed value), which is what x86's vector shifts give.
 * - maximum/minimum return a NaN operand (b's first), else a > b ? a : b.
 * - float16/bfloat16 compute in float32 and round once; floor_divide rounds
 *   the quotient to the type before flooring, as MLX's floor(divide(a, b))
 *   does.
 * - complex64 orders lexicographically (real, then imaginary), as MLX's
 *   complex64_t does; power is cpowf; NaN checks look at the real part. */
#include <complex.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/binary.h"
#include "backend/cpu/elementwise.h"
#include "backend/cpu/isa.h"
#include "core/error.h"

/* Inputs and output never overlap partially: the output is fresh memory or
 * an input's own buffer with the same layout (donation), so iterations are
 * independent and the loops may be vectorised without alias checks. */
#if defined(__GNUC__) && !defined(__clang__)
#define IVDEP _Pragma("GCC ivdep")
#else
#define IVDEP
#endif

#define SAME(v) (v) /* LOAD/STORE of types stored as computed */

/* ------------------------------------------------------------------------
 * 1. Scalar functions
 * ---------------------------------------------------------------------- */

/* Comparisons: the same C operators for every real type (halves compare
 * after widening to float, which orders them exactly). */
#define CMP_SCALARS(sfx, T)                                                        \
  static inline bool bin_equal_##sfx(T a, T b) { return a == b; }                  \
  static inline bool bin_not_equal_##sfx(T a, T b) { return a != b; }              \
  static inline bool bin_less_##sfx(T a, T b) { return a < b; }                    \
  static inline bool bin_less_equal_##sfx(T a, T b) { return a <= b; }             \
  static inline bool bin_greater_##sfx(T a, T b) { return a > b; }                 \
  static inline bool bin_greater_equal_##sfx(T a, T b) { return a >= b; }

/* Square-and-multiply modulo 2^64; callers truncate to their width. */
static inline uint64_t int_power(uint64_t base, uint64_t e) {
  uint64_t res = 1;
  while (e) {
    if (e & 1) res *= base;
    e >>= 1;
    base *= base;
  }
  return res;
}

/* Both integer families. U is an unsigned type at least as wide as S and
 * at least 32 bits, so that nothing is promoted to (overflowing) int. */
#define INT_SCALARS(sfx, S, U)                                                     \
  static inline S bin_add_##sfx(S a, S b) { return (S)((U)a + (U)b); }             \
  static inline S bin_subtract_##sfx(S a, S b) { return (S)((U)a - (U)b); }        \
  static inline S bin_multiply_##sfx(S a, S b) { return (S)((U)a * (U)b); }        \
  static inline S bin_maximum_##sfx(S a, S b) { return a > b ? a : b; }            \
  static inline S bin_minimum_##sfx(S a, S b) { return a < b ? a : b; }            \
  static inline S bin_bitwise_and_##sfx(S a, S b) { return (S)(a & b); }           \
  static inline S bin_bitwise_or_##sfx(S a, S b) { return (S)(a | b); }            \
  static inline S bin_bitwise_xor_##sfx(S a, S b) { return (S)(a ^ b); }           \
  CMP_SCALARS(sfx, S)

#define SINT_SCALARS(sfx, S, U, BITS)                                              \
  INT_SCALARS(sfx, S, U)                                                           \
  static inline S bin_floor_divide_##sfx(S a, S b) {                               \
    if (b == 0) return 0;                                                          \
    if (b == -1) return (S)((U)0 - (U)a);                                          \
    return (S)(a / b);                                                             \
  }                                                                                \
  static inline S bin_remainder_##sfx(S a, S b) {                                  \
    if (b == 0 || b == -1) return 0;                                               \
    S r = (S)(a % b);                                                              \
    if (r != 0 && (r < 0) != (b < 0)) r = (S)(r + b);                              \
    return r;                                                                      \
  }                                                                                \
  static inline void bin_divmod_##sfx(S a, S b, S* q, S* r) {                      \
    if (b == 0 || b == -1) {                                                       \
      *q = b == 0 ? 0 : (S)((U)0 - (U)a);                                          \
      *r = 0;                                                                      \
      return;                                                                      \
    }                                                                              \
    S qq = (S)(a / b), rr = (S)(a % b);                                            \
    if (rr != 0 && (rr < 0) != (b < 0)) {                                          \
      qq = (S)(qq - 1);                                                            \
      rr = (S)(rr + b);                                                            \
    }                                                                              \
    *q = qq;                                                                       \
    *r = rr;                                                                       \
  }                                                                                \
  static inline S bin_power_##sfx(S a, S b) {                                      \
    if (b < 0) return 0;                                                           \
    return (S)int_power((uint64_t)(U)a, (uint64_t)b);                              \
  }                                                                                \
  static inline S bin_left_shift_##sfx(S a, S b) {                                 \
    return (b < 0 || b >= BITS) ? (S)0 : (S)((U)a << b);                           \
  }                                                                                \
  static inline S bin_right_shift_##sfx(S a, S b) {                                \
    return (b < 0 || b >= BITS) ? (S)(a < 0 ? -1 : 0) : (S)(a >> b);               \
  }

#define UINT_SCALARS(sfx, S, U, BITS)                                              \
  INT_SCALARS(sfx, S, U)                                                           \
  static inline S bin_floor_divide_##sfx(S a, S b) {                               \
    return b == 0 ? (S)0 : (S)(a / b);                                             \
  }                                                                                \
  static inline S bin_remainder_##sfx(S a, S b) {                                  \
    return b == 0 ? (S)0 : (S)(a % b);                                             \
  }                                                                                \
  static inline void bin_divmod_##sfx(S a, S b, S* q, S* r) {                      \
    *q = bin_floor_divide_##sfx(a, b);                                             \
    *r = bin_remainder_##sfx(a, b);                                                \
  }                                                                                \
  static inline S bin_power_##sfx(S a, S b) {                                      \
    return (S)int_power((uint64_t)a, (uint64_t)b);                                 \
  }                                                                                \
  static inline S bin_left_shift_##sfx(S a, S b) {                                 \
    return b >= BITS ? (S)0 : (S)((U)a << b);                                      \
  }                                                                                \
  static inline S bin_right_shift_##sfx(S a, S b) {                                \
    return b >= BITS ? (S)0 : (S)(a >> b);                                         \
  }

/* X(enum, storage type, suffix, unsigned carrier, bits) */
#define SINT_TYPES(X)                         \
  X(MLX_INT8, int8_t, int8, uint32_t, 8)      \
  X(MLX_INT16, int16_t, int16, uint32_t, 16)  \
  X(MLX_INT32, int32_t, int32, uint32_t, 32)  \
  X(MLX_INT64, int64_t, int64, uint64_t, 64)
#define UINT_TYPES(X)                           \
  X(MLX_UINT8, uint8_t, uint8, uint32_t, 8)     \
  X(MLX_UINT16, uint16_t, uint16, uint32_t, 16) \
  X(MLX_UINT32, uint32_t, uint32, uint32_t, 32) \
  X(MLX_UINT64, uint64_t, uint64, uint64_t, 64)

#define GEN_SINT_SCALARS(E, S, sfx, U, BITS) SINT_SCALARS(sfx, S, U, BITS)
#define GEN_UINT_SCALARS(E, S, sfx, U, BITS) UINT_SCALARS(sfx, S, U, BITS)
SINT_TYPES(GEN_SINT_SCALARS)
UINT_TYPES(GEN_UINT_SCALARS)

/* bool (suffix "boolean": `bool` is a macro): what C++ gives when the int result is stored back into a bool. */
static inline bool bin_add_boolean(bool a, bool b) { return a || b; }
static inline bool bin_subtract_boolean(bool a, bool b) { return a != b; }
static inline bool bin_multiply_boolean(bool a, bool b) { return a && b; }
static inline bool bin_floor_divide_boolean(bool a, bool b) { return a && b; }
static inline bool bin_remainder_boolean(bool a, bool b) { return false; }
static inline void bin_divmod_boolean(bool a, bool b, bool* q, bool* r) {
  *q = a && b;
  *r = false;
}
static inline bool bin_power_boolean(bool a, bool b) { return b ? a : true; }
static inline bool bin_maximum_boolean(bool a, bool b) { return a || b; }
static inline bool bin_minimum_boolean(bool a, bool b) { return a && b; }
static inline bool bin_bitwise_and_boolean(bool a, bool b) { return a && b; }
static inline bool bin_bitwise_or_boolean(bool a, bool b) { return a || b; }
static inline bool bin_bitwise_xor_boolean(bool a, bool b) { return a != b; }
static inline bool bin_logical_and_boolean(bool a, bool b) { return a && b; }
static inline bool bin_logical_or_boolean(bool a, bool b) { return a || b; }
CMP_SCALARS(boolean, bool)

/* Real floating types; F is the libm suffix (f for float, empty for
 * double). */
#define FLOAT_SCALARS(sfx, T, F)                                                   \
  static inline T bin_add_##sfx(T a, T b) { return a + b; }                        \
  static inline T bin_subtract_##sfx(T a, T b) { return a - b; }                   \
  static inline T bin_multiply_##sfx(T a, T b) { return a * b; }                   \
  static inline T bin_divide_##sfx(T a, T b) { return a / b; }                     \
  static inline T bin_floor_divide_##sfx(T a, T b) { return floor##F(a / b); }     \
  static inline T bin_remainder_##sfx(T a, T b) {                                  \
    T r = fmod##F(a, b);                                                           \
    if (r != 0 && (r < 0) != (b < 0)) r += b;                                      \
    return r;                                                                      \
  }                                                                                \
  static inline void bin_divmod_##sfx(T a, T b, T* q, T* r) {                      \
    *q = floor##F(a / b);                                                          \
    *r = bin_remainder_##sfx(a, b);                                                \
  }                                                                                \
  static inline T bin_maximum_##sfx(T a, T b) {                                    \
    return isnan(b) ? b : isnan(a) ? a : a > b ? a : b;                            \
  }                                                                                \
  static inline T bin_minimum_##sfx(T a, T b) {                                    \
    return isnan(b) ? b : isnan(a) ? a : a < b ? a : b;                            \
  }                                                                                \
  CMP_SCALARS(sfx, T)

FLOAT_SCALARS(float32, float, f)
FLOAT_SCALARS(float64, double, )

/* The transcendental members: float32 goes through double so the result
 * is (nearly always) the correctly rounded one; powf already is. */
static inline float bin_power_float32(float a, float b) { return powf(a, b); }
static inline double bin_power_float64(double a, double b) { return pow(a, b); }
static inline float bin_arctan2_float32(float a, float b) {
  return (float)atan2((double)a, (double)b);
}
static inline double bin_arctan2_float64(double a, double b) { return atan2(a, b); }

/* log(e^a + e^b) = max + log1p(e^(min - max)); an infinite max or a -inf
 * min gives max (so inf + -inf is inf, not NaN). The sum cancels when max
 * is near -log1p(...), so it is formed in a wider type: double for
 * float32, long double for float64. */
static inline float bin_logaddexp_float32(float a, float b) {
  float hi = bin_maximum_float32(a, b), lo = bin_minimum_float32(a, b);
  if (lo == -INFINITY || hi == INFINITY) return hi;
  return (float)((double)hi + log1p(exp((double)lo - (double)hi)));
}
static inline double bin_logaddexp_float64(double a, double b) {
  double hi = bin_maximum_float64(a, b), lo = bin_minimum_float64(a, b);
  if (lo == -INFINITY || hi == INFINITY) return hi;
  return (double)((long double)hi + log1pl(expl((long double)lo - (long double)hi)));
}

/* float16 conversions written without branches (selects are bit masks,
 * so that no floating-point operation is conditional and the compiler may
 * vectorise under -ftrapping-math); they give exactly half.h's results
 * (checked exhaustively). The subnormal path, like half.h's, rounds with
 * the FPU. */
static inline uint32_t pick_u32(uint32_t cond, uint32_t if_true, uint32_t if_false) {
  uint32_t m = 0u - cond;
  return (if_true & m) | (if_false & ~m);
}
static inline float f16_load(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7fffu;
  /* normal and subnormal halves: the bits shifted into a float's place,
   * rescaled by 2^(127-15); inf and NaN keep an all-ones exponent */
  uint32_t bits = half_f32_bits(half_bits_f32(em << 13) * 0x1p112f);
  bits = pick_u32(em >= 0x7c00u, (em << 13) | 0x7f800000u, bits);
  return half_bits_f32(bits | sign);
}
static inline uint16_t f16_store(float f) {
  uint32_t u = half_f32_bits(f);
  uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  uint32_t nan_bits = 0x7e00u | ((a >> 13) & 0x3ffu);
  uint32_t normal = (a + 0xfffu + ((a >> 13) & 1u) - (112u << 23)) >> 13;
  uint32_t is_small = a < 0x38800000u;
  float small = half_bits_f32(pick_u32(is_small, a, 0)) * 16777216.0f; /* < 1024 */
  uint32_t subnormal = (uint32_t)(int32_t)__builtin_rintf(small);
  uint32_t r = pick_u32(is_small, subnormal, normal);
  r = pick_u32(a >= 0x477ff000u, 0x7c00u, r); /* overflow and inf */
  r = pick_u32(a > 0x7f800000u, nan_bits, r);
  return (uint16_t)(sign | r);
}
#define LOAD_float16 f16_load
#define STORE_float16 f16_store
#define LOAD_bfloat16 EW_LOAD_bfloat16
#define STORE_bfloat16 EW_STORE_bfloat16

/* float16 / bfloat16: the float32 functions (on widened values) serve
 * every op but floor_divide, whose quotient MLX rounds to the type before
 * flooring. */
static inline float bin_floor_divide_float16(float a, float b) {
  return floorf(f16_load(f16_store(a / b)));
}
static inline float bin_floor_divide_bfloat16(float a, float b) {
  return floorf(bf16_to_f32(f32_to_bf16(a / b)));
}
static inline void bin_divmod_float16(float a, float b, float* q, float* r) {
  *q = bin_floor_divide_float16(a, b);
  *r = bin_remainder_float32(a, b);
}
static inline void bin_divmod_bfloat16(float a, float b, float* q, float* r) {
  *q = bin_floor_divide_bfloat16(a, b);
  *r = bin_remainder_float32(a, b);
}

/* complex64: computed as C's float _Complex (the same library routines as
 * std::complex<float>: __mulsc3, __divsc3, cpowf, cexpf). */
typedef float _Complex cfloat;

static inline cfloat c64_load(complex64 v) { return CMPLXF(v.re, v.im); }
static inline complex64 c64_store(cfloat z) {
  complex64 v = {crealf(z), cimagf(z)};
  return v;
}
/* MLX's complex64_t ordering: by real part, then imaginary part. */
static inline bool c64_gt(cfloat a, cfloat b) {
  return crealf(a) > crealf(b) || (crealf(a) == crealf(b) && cimagf(a) > cimagf(b));
}
static inline bool c64_ge(cfloat a, cfloat b) {
  return crealf(a) > crealf(b) || (crealf(a) == crealf(b) && cimagf(a) >= cimagf(b));
}

static inline cfloat bin_add_complex64(cfloat a, cfloat b) { return a + b; }
static inline cfloat bin_subtract_complex64(cfloat a, cfloat b) { return a - b; }
static inline cfloat bin_multiply_complex64(cfloat a, cfloat b) { return a * b; }
static inline cfloat bin_divide_complex64(cfloat a, cfloat b) { return a / b; }
static inline cfloat bin_power_complex64(cfloat a, cfloat b) { return cpowf(a, b); }
static inline cfloat bin_maximum_complex64(cfloat a, cfloat b) {
  return isnan(crealf(b)) ? b : isnan(crealf(a)) ? a : c64_gt(a, b) ? a : b;
}
static inline cfloat bin_minimum_complex64(cfloat a, cfloat b) {
  return isnan(crealf(b)) ? b : isnan(crealf(a)) ? a : c64_gt(b, a) ? a : b;
}
static inline bool bin_equal_complex64(cfloat a, cfloat b) { return a == b; }
static inline bool bin_not_equal_complex64(cfloat a, cfloat b) { return a != b; }
static inline bool bin_less_complex64(cfloat a, cfloat b) { return c64_gt(b, a); }
static inline bool bin_less_equal_complex64(cfloat a, cfloat b) { return c64_ge(b, a); }
static inline bool bin_greater_complex64(cfloat a, cfloat b) { return c64_gt(a, b); }
static inline bool bin_greater_equal_complex64(cfloat a, cfloat b) { return c64_ge(a, b); }

/* MLX's complex log1p: accurate near 0 through log1p(|z+1|^2 - 1) / 2. */
static inline cfloat c64_log1p(cfloat z) {
  float x = crealf(z), y = cimagf(z);
  float theta = atan2f(y, x + 1);
  if (cabsf(z) < 0.5f) {
    float r = x * (2 + x) + y * y;
    if (r == 0) return CMPLXF(x, theta); /* underflow */
    return CMPLXF(0.5f * log1pf(r), theta);
  }
  return CMPLXF(logf(hypotf(x + 1, y)), theta);
}
static inline cfloat bin_logaddexp_complex64(cfloat a, cfloat b) {
  cfloat hi = bin_maximum_complex64(a, b), lo = bin_minimum_complex64(a, b);
  if (lo == -INFINITY || hi == INFINITY) return hi;
  return hi + c64_log1p(cexpf(lo - hi));
}

/* ------------------------------------------------------------------------
 * 2. Loop generators
 * ---------------------------------------------------------------------- */

/* out[i] = STORE(FN(LOAD(x[i]), LOAD(y[i]))) over one run; see ew_run. */
#define BINARY_KERNEL(kname, SI, SO, LOAD, FN, STORE, ATTR)                        \
  ATTR static void kname(void* out, const void* const* in, const int64_t* st,      \
                         size_t n, const void* params) {                           \
    (void)params;                                                                  \
    SO* o = out;                                                                   \
    const SI* x = in[0];                                                           \
    const SI* y = in[1];                                                           \
    int64_t sx = st[0], sy = st[1];                                                \
    if (sx == 1 && sy == 1) {                                                      \
      IVDEP for (size_t i = 0; i < n; i++) o[i] = STORE(FN(LOAD(x[i]), LOAD(y[i]))); \
    } else if (sx == 0 && sy == 1) {                                               \
      __auto_type a = LOAD(x[0]);                                                  \
      IVDEP for (size_t i = 0; i < n; i++) o[i] = STORE(FN(a, LOAD(y[i])));        \
    } else if (sx == 1 && sy == 0) {                                               \
      __auto_type b = LOAD(y[0]);                                                  \
      IVDEP for (size_t i = 0; i < n; i++) o[i] = STORE(FN(LOAD(x[i]), b));        \
    } else {                                                                       \
      for (size_t i = 0; i < n; i++)                                               \
        o[i] = STORE(FN(LOAD(x[(int64_t)i * sx]), LOAD(y[(int64_t)i * sy])));      \
    }                                                                              \
  }

/* DivMod writes two outputs with the same layout: the run's position in the
 * quotient locates it in the remainder. */
typedef struct divmod_params {
  char* quotient;
  char* remainder;
} divmod_params;

#define DIVMOD_KERNEL(kname, S, CT, LOAD, FN, STORE)                                 \
  static void kname(void* out, const void* const* in, const int64_t* st,           \
                    size_t n, const void* params) {                                \
    const divmod_params* p = params;                                               \
    S* q = out;                                                                    \
    S* r = (S*)(p->remainder + ((char*)out - p->quotient));                        \
    const S* x = in[0];                                                            \
    const S* y = in[1];                                                            \
    for (size_t i = 0; i < n; i++) {                                               \
      CT qq, rr;                                                                   \
      FN(LOAD(x[(int64_t)i * st[0]]), LOAD(y[(int64_t)i * st[1]]), &qq, &rr);       \
      q[i] = STORE(qq);                                                            \
      r[i] = STORE(rr);                                                            \
    }                                                                              \
  }

/* Select by element size: the bits are copied, whatever the dtype. Both
 * sides are loaded unconditionally so that the loop becomes a blend. */
#define SELECT_ONE(cond, xv, yv) \
  do {                           \
    __auto_type x_ = (xv);       \
    __auto_type y_ = (yv);       \
    o[i] = (cond) ? x_ : y_;     \
  } while (0)
#define SELECT_KERNEL(kname, T)                                                    \
  CPU_KERNEL static void kname(void* out, const void* const* in,                   \
                               const int64_t* st, size_t n, const void* params) {  \
    (void)params;                                                                  \
    T* o = out;                                                                    \
    const uint8_t* c = in[0]; /* bool bytes: read as integers, blends vectorise */ \
    const T* x = in[1];                                                            \
    const T* y = in[2];                                                            \
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {                                  \
      IVDEP for (size_t i = 0; i < n; i++) SELECT_ONE(c[i], x[i], y[i]);           \
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {                           \
      T b = y[0];                                                                  \
      IVDEP for (size_t i = 0; i < n; i++) SELECT_ONE(c[i], x[i], b);              \
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {                           \
      T a = x[0];                                                                  \
      IVDEP for (size_t i = 0; i < n; i++) SELECT_ONE(c[i], a, y[i]);              \
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 0) {                           \
      T a = x[0], b = y[0];                                                        \
      IVDEP for (size_t i = 0; i < n; i++) SELECT_ONE(c[i], a, b);                 \
    } else {                                                                       \
      for (size_t i = 0; i < n; i++) {                                             \
        int64_t k = (int64_t)i;                                                    \
        SELECT_ONE(c[k * st[0]], x[k * st[1]], y[k * st[2]]);                      \
      }                                                                            \
    }                                                                              \
  }

SELECT_KERNEL(select_8, uint8_t)
SELECT_KERNEL(select_16, uint16_t)
SELECT_KERNEL(select_32, uint32_t)
SELECT_KERNEL(select_64, uint64_t)

/* ------------------------------------------------------------------------
 * 3. Kernels per family, and the table
 *
 * Each family lists its ops as X(ID, op, ATTR, ...): ATTR is CPU_KERNEL
 * where the loop vectorises (ISA clones pay off) and empty where every
 * element divides or calls into libm; the trailing arguments are passed
 * through to X (the type being generated).
 * ---------------------------------------------------------------------- */

#define CMP_OPS(X, ...)                                \
  X(EQUAL, equal, CPU_KERNEL, __VA_ARGS__)             \
  X(NOT_EQUAL, not_equal, CPU_KERNEL, __VA_ARGS__)     \
  X(LESS, less, CPU_KERNEL, __VA_ARGS__)               \
  X(LESS_EQUAL, less_equal, CPU_KERNEL, __VA_ARGS__)   \
  X(GREATER, greater, CPU_KERNEL, __VA_ARGS__)         \
  X(GREATER_EQUAL, greater_equal, CPU_KERNEL, __VA_ARGS__)

#define INT_VALUE_OPS(X, ...)                          \
  X(ADD, add, CPU_KERNEL, __VA_ARGS__)                 \
  X(SUBTRACT, subtract, CPU_KERNEL, __VA_ARGS__)       \
  X(MULTIPLY, multiply, CPU_KERNEL, __VA_ARGS__)       \
  X(FLOOR_DIVIDE, floor_divide, , __VA_ARGS__)         \
  X(REMAINDER, remainder, , __VA_ARGS__)               \
  X(POWER, power, , __VA_ARGS__)                       \
  X(MAXIMUM, maximum, CPU_KERNEL, __VA_ARGS__)         \
  X(MINIMUM, minimum, CPU_KERNEL, __VA_ARGS__)         \
  X(BITWISE_AND, bitwise_and, CPU_KERNEL, __VA_ARGS__) \
  X(BITWISE_OR, bitwise_or, CPU_KERNEL, __VA_ARGS__)   \
  X(BITWISE_XOR, bitwise_xor, CPU_KERNEL, __VA_ARGS__) \
  X(LEFT_SHIFT, left_shift, CPU_KERNEL, __VA_ARGS__)   \
  X(RIGHT_SHIFT, right_shift, CPU_KERNEL, __VA_ARGS__)

/* Shifts never see bool: the front-end promotes it to uint8. */
#define BOOL_VALUE_OPS(X, ...)                         \
  X(ADD, add, , __VA_ARGS__)                           \
  X(SUBTRACT, subtract, , __VA_ARGS__)                 \
  X(MULTIPLY, multiply, , __VA_ARGS__)                 \
  X(FLOOR_DIVIDE, floor_divide, , __VA_ARGS__)         \
  X(REMAINDER, remainder, , __VA_ARGS__)               \
  X(POWER, power, , __VA_ARGS__)                       \
  X(MAXIMUM, maximum, , __VA_ARGS__)                   \
  X(MINIMUM, minimum, , __VA_ARGS__)                   \
  X(BITWISE_AND, bitwise_and, , __VA_ARGS__)           \
  X(BITWISE_OR, bitwise_or, , __VA_ARGS__)             \
  X(BITWISE_XOR, bitwise_xor, , __VA_ARGS__)           \
  X(LOGICAL_AND, logical_and, CPU_KERNEL, __VA_ARGS__) \
  X(LOGICAL_OR, logical_or, CPU_KERNEL, __VA_ARGS__)

/* Real floats, floor_divide apart (the half types have their own). */
#define FLOAT_VALUE_OPS(X, ...)                  \
  X(ADD, add, CPU_KERNEL, __VA_ARGS__)           \
  X(SUBTRACT, subtract, CPU_KERNEL, __VA_ARGS__) \
  X(MULTIPLY, multiply, CPU_KERNEL, __VA_ARGS__) \
  X(DIVIDE, divide, CPU_KERNEL, __VA_ARGS__)     \
  X(REMAINDER, remainder, , __VA_ARGS__)         \
  X(POWER, power, , __VA_ARGS__)                 \
  X(MAXIMUM, maximum, CPU_KERNEL, __VA_ARGS__)   \
  X(MINIMUM, minimum, CPU_KERNEL, __VA_ARGS__)   \
  X(LOGADDEXP, logaddexp, , __VA_ARGS__)         \
  X(ARCTAN2, arctan2, , __VA_ARGS__)

#define COMPLEX_VALUE_OPS(X, ...)      \
  X(ADD, add, , __VA_ARGS__)           \
  X(SUBTRACT, subtract, , __VA_ARGS__) \
  X(MULTIPLY, multiply, , __VA_ARGS__) \
  X(DIVIDE, divide, , __VA_ARGS__)     \
  X(POWER, power, , __VA_ARGS__)       \
  X(MAXIMUM, maximum, , __VA_ARGS__)   \
  X(MINIMUM, minimum, , __VA_ARGS__)   \
  X(LOGADDEXP, logaddexp, , __VA_ARGS__)

/* Kernel names are k_<op>_<dtype>. Generators by how a family stores its
 * elements: G(ID, op, ATTR, dtype suffix, ...). */

/* integers, bool, float32, float64: stored as computed */
#define GEN_PLAIN(ID, op, ATTR, sfx, S) \
  BINARY_KERNEL(k_##op##_##sfx, S, S, SAME, bin_##op##_##sfx, SAME, ATTR)
#define GEN_PLAIN_CMP(ID, op, ATTR, sfx, S) \
  BINARY_KERNEL(k_##op##_##sfx, S, bool, SAME, bin_##op##_##sfx, SAME, ATTR)
/* float16, bfloat16: widened to float, computed by the float32 functions */
#define GEN_HALF(ID, op, ATTR, sfx)                                         \
  BINARY_KERNEL(k_##op##_##sfx, uint16_t, uint16_t, LOAD_##sfx,             \
                bin_##op##_float32, STORE_##sfx, ATTR)
#define GEN_HALF_CMP(ID, op, ATTR, sfx) \
  BINARY_KERNEL(k_##op##_##sfx, uint16_t, bool, LOAD_##sfx, bin_##op##_float32, SAME, ATTR)
/* complex64 */
#define GEN_COMPLEX(ID, op, ATTR, sfx) \
  BINARY_KERNEL(k_##op##_##sfx, complex64, complex64, c64_load, bin_##op##_##sfx, c64_store, ATTR)
/* (ATTR is ignored: the complex comparisons do not vectorise) */
#define GEN_COMPLEX_CMP(ID, op, ATTR, sfx) \
  BINARY_KERNEL(k_##op##_##sfx, complex64, bool, c64_load, bin_##op##_##sfx, SAME, )

#define GEN_INT_TYPE(E, S, sfx, U, BITS) \
  INT_VALUE_OPS(GEN_PLAIN, sfx, S)       \
  CMP_OPS(GEN_PLAIN_CMP, sfx, S)         \
  DIVMOD_KERNEL(k_divmod_##sfx, S, S, SAME, bin_divmod_##sfx, SAME)
SINT_TYPES(GEN_INT_TYPE)
UINT_TYPES(GEN_INT_TYPE)

BOOL_VALUE_OPS(GEN_PLAIN, boolean, bool)
CMP_OPS(GEN_PLAIN_CMP, boolean, bool)
DIVMOD_KERNEL(k_divmod_boolean, bool, bool, SAME, bin_divmod_boolean, SAME)

#define GEN_FLOAT_TYPE(sfx, T)                                                  \
  FLOAT_VALUE_OPS(GEN_PLAIN, sfx, T)                                            \
  GEN_PLAIN(FLOOR_DIVIDE, floor_divide, CPU_KERNEL, sfx, T)                     \
  CMP_OPS(GEN_PLAIN_CMP, sfx, T)                                                \
  DIVMOD_KERNEL(k_divmod_##sfx, T, T, SAME, bin_divmod_##sfx, SAME)
GEN_FLOAT_TYPE(float32, float)
GEN_FLOAT_TYPE(float64, double)

#define GEN_HALF_TYPE(sfx)                                                      \
  FLOAT_VALUE_OPS(GEN_HALF, sfx)                                                \
  BINARY_KERNEL(k_floor_divide_##sfx, uint16_t, uint16_t, LOAD_##sfx,           \
                bin_floor_divide_##sfx, STORE_##sfx, )                       \
  CMP_OPS(GEN_HALF_CMP, sfx)                                                    \
  DIVMOD_KERNEL(k_divmod_##sfx, uint16_t, float, LOAD_##sfx, bin_divmod_##sfx,   \
                STORE_##sfx)
GEN_HALF_TYPE(float16)
GEN_HALF_TYPE(bfloat16)

COMPLEX_VALUE_OPS(GEN_COMPLEX, complex64)
CMP_OPS(GEN_COMPLEX_CMP, complex64)

/* The table: [op][dtype of the inputs]. NULL where the front-end never
 * sends that dtype. */
#define TABLE_ENTRY(ID, op, ATTR, E, sfx) [BINARY_##ID][E] = k_##op##_##sfx,
#define TABLE_INT_TYPE(E, S, sfx, U, BITS) \
  INT_VALUE_OPS(TABLE_ENTRY, E, sfx)       \
  CMP_OPS(TABLE_ENTRY, E, sfx)
#define TABLE_FLOAT_TYPE(E, sfx)                       \
  FLOAT_VALUE_OPS(TABLE_ENTRY, E, sfx)                 \
  TABLE_ENTRY(FLOOR_DIVIDE, floor_divide, , E, sfx)    \
  CMP_OPS(TABLE_ENTRY, E, sfx)

static const ew_inner_fn binary_kernels[BINARY_OP_COUNT][DTYPE_COUNT] = {
    SINT_TYPES(TABLE_INT_TYPE)
    UINT_TYPES(TABLE_INT_TYPE)
    BOOL_VALUE_OPS(TABLE_ENTRY, MLX_BOOL, boolean)
    CMP_OPS(TABLE_ENTRY, MLX_BOOL, boolean)
    TABLE_FLOAT_TYPE(MLX_FLOAT32, float32)
    TABLE_FLOAT_TYPE(MLX_FLOAT64, float64)
    TABLE_FLOAT_TYPE(MLX_FLOAT16, float16)
    TABLE_FLOAT_TYPE(MLX_BFLOAT16, bfloat16)
    COMPLEX_VALUE_OPS(TABLE_ENTRY, MLX_COMPLEX64, complex64)
    CMP_OPS(TABLE_ENTRY, MLX_COMPLEX64, complex64)
};

static const ew_inner_fn divmod_kernels[DTYPE_COUNT] = {
#define DIVMOD_ENTRY(E, S, sfx, ...) [E] = k_divmod_##sfx,
    SINT_TYPES(DIVMOD_ENTRY)
    UINT_TYPES(DIVMOD_ENTRY)
#undef DIVMOD_ENTRY
    [MLX_BOOL] = k_divmod_boolean,
    [MLX_FLOAT32] = k_divmod_float32,
    [MLX_FLOAT64] = k_divmod_float64,
    [MLX_FLOAT16] = k_divmod_float16,
    [MLX_BFLOAT16] = k_divmod_bfloat16,
};

/* ------------------------------------------------------------------------
 * 4. Eval entry points
 * ---------------------------------------------------------------------- */

static const char* const binary_prim_names[BINARY_OP_COUNT] = {
#define PRIM_NAME(ID, name, prim, rule, cerr) [BINARY_##ID] = prim,
    BINARY_OP_LIST(PRIM_NAME)
#undef PRIM_NAME
};

static int unsupported(const char* prim, mlx_dtype t) {
  return error_set("[%s] Not supported for %s on the CPU.", prim, dtype_name(t));
}

static int binary_eval(node* n, binary_op op) {
  array* a = n->inputs[0];
  array* b = n->inputs[1];
  array* out = n->outputs[0];
  ew_inner_fn fn = binary_kernels[op][a->dtype];
  if (!fn || b->dtype != a->dtype) return unsupported(binary_prim_names[op], a->dtype);
  if (array_alloc_or_donate(out, n->inputs, 2)) return 1;
  array* in[2] = {a, b};
  ew_run(out, in, 2, fn, NULL);
  return 0;
}

#define CPU_BINARY_DEFINE(ID, name, prim, rule, cerr) \
  int cpu_##name##_eval(node* n) { return binary_eval(n, BINARY_##ID); }
BINARY_OP_LIST(CPU_BINARY_DEFINE)
#undef CPU_BINARY_DEFINE

int cpu_divmod_eval(node* n) {
  array* a = n->inputs[0];
  array* b = n->inputs[1];
  array* q = n->outputs[0];
  array* r = n->outputs[1];
  ew_inner_fn fn = divmod_kernels[a->dtype];
  if (!fn || b->dtype != a->dtype) return unsupported("DivMod", a->dtype);
  /* Each output may take a dying input's buffer; once one has, that
   * buffer's count is 2 and the other output cannot take it too. */
  if (array_alloc_or_donate(q, n->inputs, 2)) return 1;
  if (array_alloc_or_donate(r, n->inputs, 2)) return 1;
  if (q->size == 0) return 0;
  divmod_params p = {array_data(q), array_data(r)};
  array* in[2] = {a, b};
  ew_run(q, in, 2, fn, &p);
  return 0;
}

int cpu_select_eval(node* n) {
  array* out = n->outputs[0];
  ew_inner_fn fn;
  switch (dtype_size(out->dtype)) {
    case 1: fn = select_8; break;
    case 2: fn = select_16; break;
    case 4: fn = select_32; break;
    case 8: fn = select_64; break;
    default: return unsupported("Select", out->dtype);
  }
  if (n->inputs[0]->dtype != MLX_BOOL || n->inputs[1]->dtype != out->dtype ||
      n->inputs[2]->dtype != out->dtype)
    return unsupported("Select", n->inputs[1]->dtype);
  if (array_alloc_or_donate(out, n->inputs, 3)) return 1;
  ew_run(out, n->inputs, 3, fn, NULL);
  return 0;
}
