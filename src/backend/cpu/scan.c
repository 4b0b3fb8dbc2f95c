/* scan.c - CPU kernel of Scan: cumsum, cumprod, cummax, cummin and
 * logcumsumexp along one axis, forward or reversed, inclusive or not.
 *
 * The input is made row-contiguous first (copied if it is not), so the
 * scanned axis splits the data into [outer, n, inner]. With inner == 1
 * each row is a sequential loop; otherwise a block of up to SCAN_BLOCK
 * adjacent columns carries a row of accumulators down the axis, reading
 * and writing memory in order (the inner loop vectorises for sums and
 * products). Every loop reads element i before writing element i, so the
 * output may share the input's buffer. Threads split the rows or blocks.
 *
 * Semantics are MLX's CPU scan:
 * - inclusive: out[0] = in[0]; exclusive: out[0] = the identity (0, 1,
 *   -inf / +inf for floats, the type's lowest / highest for integers,
 *   0 + 0j for complex max/min/logaddexp);
 * - integers wrap (accumulated in unsigned types of at least their width);
 *   cumsum of bool is int32, cumprod of bool is a logical and;
 * - float max/min give NaN once a NaN is seen; complex ones order
 *   lexicographically without a NaN test;
 * - logaddexp(a, b) = max + log1p(exp(min - max)), or max when min is -inf
 *   or max is +inf; on integers and bool MLX's version reduces to max.
 * float16 and bfloat16 carry a float32 accumulator (MLX rounds it to the
 * half type after every step) and round each output once. */
#include <complex.h>
#include <math.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/reduce.h"
#include "backend/cpu/reduce_types.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"

#define SCAN_BLOCK 1024
#define SCAN_SERIAL_ELEMS ((size_t)1 << 15)

#define OP_ADD(a, x) ((a) + (x))
#define OP_MUL(a, x) ((a) * (x))
#define OP_LAND(a, x) ((uint8_t)((a) & (x)))
#define IMAX(a, x) ((x) < (a) ? (a) : (x))
#define IMIN(a, x) ((x) < (a) ? (x) : (a))
#define FMAX(a, x) (((a) != (a) || (x) != (x)) ? NAN : ((x) < (a) ? (a) : (x)))
#define FMIN(a, x) (((a) != (a) || (x) != (x)) ? NAN : ((x) < (a) ? (x) : (a)))
#define AS_BOOL(x) ((bool)((x) != 0))

static inline complex64 c64_cmax(complex64 a, complex64 x) {
  return c64_lt(x, a) ? a : x;
}
static inline complex64 c64_cmin(complex64 a, complex64 x) {
  return c64_lt(x, a) ? x : a;
}

static inline float lae_f32(float a, float b) {
  float mx = isnan(a) ? a : (a > b ? a : b);
  float mn = isnan(a) ? a : (a < b ? a : b);
  if (mn == -INFINITY || mx == INFINITY) return mx;
  return mx + log1pf(expf(mn - mx));
}
static inline double lae_f64(double a, double b) {
  double mx = isnan(a) ? a : (a > b ? a : b);
  double mn = isnan(a) ? a : (a < b ? a : b);
  if (mn == -INFINITY || mx == INFINITY) return mx;
  return mx + log1p(exp(mn - mx));
}
static inline complex64 lae_c64(complex64 a, complex64 b) {
  complex64 mx = isnan(a.re) ? a : (c64_gt(a, b) ? a : b);
  complex64 mn = isnan(a.re) ? a : (c64_lt(a, b) ? a : b);
  if ((mn.re == -INFINITY && mn.im == 0) || (mx.re == INFINITY && mx.im == 0)) return mx;
  float _Complex d = CMPLXF(mn.re - mx.re, mn.im - mx.im);
  float _Complex r = clogf(1.0f + cexpf(d));
  return c64_make(mx.re + crealf(r), mx.im + cimagf(r));
}

static const complex64 c64_zero = {0, 0}, c64_one = {1, 0};

/* row:  a scan of in[0..n) (contiguous) into out.
 * cols: scans of len adjacent columns, element i of column k at
 *       i * stride + k. */
#define SCAN_FNS(ATTR, NAME, T, A, OT, LOAD, STORE, OP, INIT)                   \
  ATTR static void NAME##_row(const void* in_, void* out_, int64_t n,           \
                              bool reverse, bool inclusive) {                   \
    const T* in = in_;                                                          \
    OT* out = out_;                                                             \
    int64_t step = reverse ? -1 : 1, i = reverse ? n - 1 : 0;                   \
    A acc = INIT;                                                               \
    for (int64_t c = 0; c < n; c++, i += step) {                                \
      A x = LOAD(in[i]);                                                        \
      if (inclusive) {                                                          \
        acc = c == 0 ? x : OP(acc, x);                                          \
        out[i] = STORE(acc);                                                    \
      } else {                                                                  \
        out[i] = STORE(acc);                                                    \
        acc = OP(acc, x);                                                       \
      }                                                                         \
    }                                                                           \
  }                                                                             \
  ATTR static void NAME##_cols(const void* in_, void* out_, int64_t n,          \
                               int64_t stride, int64_t len, bool reverse,       \
                               bool inclusive) {                                \
    _Alignas(64) unsigned char buf[SCAN_BLOCK * sizeof(A) + 4096];              \
    A* acc = reduce_skewed(buf, in_);                                           \
    int64_t step = reverse ? -1 : 1, i = reverse ? n - 1 : 0;                   \
    for (int64_t c = 0; c < n; c++, i += step) {                                \
      const T* x = (const T*)in_ + i * stride;                                  \
      OT* o = (OT*)out_ + i * stride;                                           \
      if (c == 0) {                                                             \
        for (int64_t k = 0; k < len; k++) {                                     \
          A v = LOAD(x[k]);                                                     \
          acc[k] = inclusive ? v : INIT;                                        \
          o[k] = STORE(acc[k]);                                                 \
          if (!inclusive) acc[k] = OP(acc[k], v);                               \
        }                                                                       \
      } else if (inclusive) {                                                   \
        for (int64_t k = 0; k < len; k++) {                                     \
          A v = LOAD(x[k]);                                                     \
          acc[k] = OP(acc[k], v);                                               \
          o[k] = STORE(acc[k]);                                                 \
        }                                                                       \
      } else {                                                                  \
        for (int64_t k = 0; k < len; k++) {                                     \
          A v = LOAD(x[k]);                                                     \
          o[k] = STORE(acc[k]);                                                 \
          acc[k] = OP(acc[k], v);                                               \
        }                                                                       \
      }                                                                         \
    }                                                                           \
  }

/* X(enum, name, T, A, OT, LOAD, STORE, ATTR, ADD, MUL, ZERO, ONE); bool is
 * separate (its sum is int32 and its product a logical and). */
#define ARITH_TYPES(X)                                                                  \
  X(MLX_UINT8, uint8, uint8_t, uint32_t, uint8_t, (uint32_t), (uint8_t), CPU_KERNEL,    \
    OP_ADD, OP_MUL, 0u, 1u)                                                             \
  X(MLX_UINT16, uint16, uint16_t, uint32_t, uint16_t, (uint32_t), (uint16_t),           \
    CPU_KERNEL, OP_ADD, OP_MUL, 0u, 1u)                                                 \
  X(MLX_UINT32, uint32, uint32_t, uint32_t, uint32_t, , , CPU_KERNEL, OP_ADD, OP_MUL,   \
    0u, 1u)                                                                             \
  X(MLX_UINT64, uint64, uint64_t, uint64_t, uint64_t, , , CPU_KERNEL, OP_ADD, OP_MUL,   \
    0u, 1u)                                                                             \
  X(MLX_INT8, int8, int8_t, uint32_t, uint8_t, (uint32_t), (uint8_t), CPU_KERNEL,       \
    OP_ADD, OP_MUL, 0u, 1u)                                                             \
  X(MLX_INT16, int16, int16_t, uint32_t, uint16_t, (uint32_t), (uint16_t), CPU_KERNEL,  \
    OP_ADD, OP_MUL, 0u, 1u)                                                             \
  X(MLX_INT32, int32, int32_t, uint32_t, uint32_t, (uint32_t), , CPU_KERNEL, OP_ADD,    \
    OP_MUL, 0u, 1u)                                                                     \
  X(MLX_INT64, int64, int64_t, uint64_t, uint64_t, (uint64_t), , CPU_KERNEL, OP_ADD,    \
    OP_MUL, 0u, 1u)                                                                     \
  X(MLX_FLOAT16, float16, uint16_t, float, uint16_t, f16_to_f32, f32_to_f16,            \
    CPU_KERNEL, OP_ADD, OP_MUL, 0.0f, 1.0f)                                             \
  X(MLX_BFLOAT16, bfloat16, uint16_t, float, uint16_t, bf16_to_f32, f32_to_bf16,        \
    CPU_KERNEL, OP_ADD, OP_MUL, 0.0f, 1.0f)                                             \
  X(MLX_FLOAT32, float32, float, float, float, , , CPU_KERNEL, OP_ADD, OP_MUL, 0.0f,    \
    1.0f)                                                                               \
  X(MLX_FLOAT64, float64, double, double, double, , , CPU_KERNEL, OP_ADD, OP_MUL, 0.0,  \
    1.0)                                                                                \
  X(MLX_COMPLEX64, complex64, complex64, complex64, complex64, , , , c64_add, c64_mul,  \
    c64_zero, c64_one)

/* X(enum, name, T, A, OT, LOAD, STORE, MAX, MIN, LOWEST, HIGHEST, LOGADDEXP) */
#define ORDER_TYPES(X)                                                                  \
  X(MLX_BOOL, bool, bool, uint8_t, bool, (uint8_t), AS_BOOL, IMAX, IMIN, 0, 1, IMAX)    \
  X(MLX_UINT8, uint8, uint8_t, uint8_t, uint8_t, , , IMAX, IMIN, 0, UINT8_MAX, IMAX)    \
  X(MLX_UINT16, uint16, uint16_t, uint16_t, uint16_t, , , IMAX, IMIN, 0, UINT16_MAX,    \
    IMAX)                                                                               \
  X(MLX_UINT32, uint32, uint32_t, uint32_t, uint32_t, , , IMAX, IMIN, 0, UINT32_MAX,    \
    IMAX)                                                                               \
  X(MLX_UINT64, uint64, uint64_t, uint64_t, uint64_t, , , IMAX, IMIN, 0, UINT64_MAX,    \
    IMAX)                                                                               \
  X(MLX_INT8, int8, int8_t, int8_t, int8_t, , , IMAX, IMIN, INT8_MIN, INT8_MAX, IMAX)   \
  X(MLX_INT16, int16, int16_t, int16_t, int16_t, , , IMAX, IMIN, INT16_MIN, INT16_MAX,  \
    IMAX)                                                                               \
  X(MLX_INT32, int32, int32_t, int32_t, int32_t, , , IMAX, IMIN, INT32_MIN, INT32_MAX,  \
    IMAX)                                                                               \
  X(MLX_INT64, int64, int64_t, int64_t, int64_t, , , IMAX, IMIN, INT64_MIN, INT64_MAX,  \
    IMAX)                                                                               \
  X(MLX_FLOAT16, float16, uint16_t, float, uint16_t, f16_to_f32, f32_to_f16, FMAX,      \
    FMIN, -INFINITY, INFINITY, lae_f32)                                                 \
  X(MLX_BFLOAT16, bfloat16, uint16_t, float, uint16_t, bf16_to_f32, f32_to_bf16, FMAX,  \
    FMIN, -INFINITY, INFINITY, lae_f32)                                                 \
  X(MLX_FLOAT32, float32, float, float, float, , , FMAX, FMIN, -INFINITY, INFINITY,     \
    lae_f32)                                                                            \
  X(MLX_FLOAT64, float64, double, double, double, , , FMAX, FMIN, -(double)INFINITY,    \
    (double)INFINITY, lae_f64)                                                          \
  X(MLX_COMPLEX64, complex64, complex64, complex64, complex64, , , c64_cmax, c64_cmin,  \
    c64_zero, c64_zero, lae_c64)

#define GEN_ARITH(E, N, T, A, OT, LOAD, STORE, ATTR, ADD, MUL, ZERO, ONE) \
  SCAN_FNS(ATTR, sum_##N, T, A, OT, LOAD, STORE, ADD, ZERO)              \
  SCAN_FNS(ATTR, prod_##N, T, A, OT, LOAD, STORE, MUL, ONE)
ARITH_TYPES(GEN_ARITH)
SCAN_FNS(CPU_KERNEL, sum_bool, bool, uint32_t, uint32_t, (uint32_t), , OP_ADD, 0u)
SCAN_FNS(CPU_KERNEL, prod_bool, bool, uint8_t, bool, (uint8_t), AS_BOOL, OP_LAND, 1)

#define GEN_ORDER(E, N, T, A, OT, LOAD, STORE, MAX, MIN, LO, HI, LAE) \
  SCAN_FNS(, max_##N, T, A, OT, LOAD, STORE, MAX, LO)                 \
  SCAN_FNS(, min_##N, T, A, OT, LOAD, STORE, MIN, HI)                 \
  SCAN_FNS(, lae_##N, T, A, OT, LOAD, STORE, LAE, LO)
ORDER_TYPES(GEN_ORDER)

typedef struct scan_fns {
  void (*row)(const void* in, void* out, int64_t n, bool reverse, bool inclusive);
  void (*cols)(const void* in, void* out, int64_t n, int64_t stride, int64_t len,
               bool reverse, bool inclusive);
} scan_fns;

static const scan_fns scan_table[SCAN_KIND_COUNT][DTYPE_COUNT] = {
#define SUM_ENTRY(E, N, ...) [SCAN_SUM][E] = {sum_##N##_row, sum_##N##_cols},
#define PROD_ENTRY(E, N, ...) [SCAN_PROD][E] = {prod_##N##_row, prod_##N##_cols},
#define MAX_ENTRY(E, N, ...) [SCAN_MAX][E] = {max_##N##_row, max_##N##_cols},
#define MIN_ENTRY(E, N, ...) [SCAN_MIN][E] = {min_##N##_row, min_##N##_cols},
#define LAE_ENTRY(E, N, ...) [SCAN_LOGADDEXP][E] = {lae_##N##_row, lae_##N##_cols},
    ARITH_TYPES(SUM_ENTRY) ARITH_TYPES(PROD_ENTRY)
    [SCAN_SUM][MLX_BOOL] = {sum_bool_row, sum_bool_cols},
    [SCAN_PROD][MLX_BOOL] = {prod_bool_row, prod_bool_cols},
    ORDER_TYPES(MAX_ENTRY) ORDER_TYPES(MIN_ENTRY) ORDER_TYPES(LAE_ENTRY)
#undef SUM_ENTRY
#undef PROD_ENTRY
#undef MAX_ENTRY
#undef MIN_ENTRY
#undef LAE_ENTRY
};

typedef struct scan_job {
  const scan_fns* f;
  const char* in;
  char* out;
  size_t in_size, out_size;
  int64_t n, inner, blocks;
  bool reverse, inclusive;
} scan_job;

/* Units: rows (inner == 1) or blocks of columns of one outer slice. */
static void scan_units(void* ctx, size_t begin, size_t end) {
  const scan_job* j = ctx;
  for (size_t u = begin; u < end; u++) {
    if (j->inner == 1) {
      size_t off = u * (size_t)j->n;
      j->f->row(j->in + off * j->in_size, j->out + off * j->out_size, j->n, j->reverse,
                j->inclusive);
      continue;
    }
    size_t o = u / (size_t)j->blocks, b = u % (size_t)j->blocks;
    int64_t start = (int64_t)b * SCAN_BLOCK;
    int64_t len = j->inner - start < SCAN_BLOCK ? j->inner - start : SCAN_BLOCK;
    size_t off = o * (size_t)(j->n * j->inner) + (size_t)start;
    j->f->cols(j->in + off * j->in_size, j->out + off * j->out_size, j->n, j->inner, len,
               j->reverse, j->inclusive);
  }
}

int cpu_scan_eval(node* nd) {
  const scan_params* p = nd->params;
  array* in = nd->inputs[0];
  array* out = nd->outputs[0];
  array* tmp = NULL;
  array* src = in;
  if (in->size > 0 && !(in->flags & ARRAY_ROW_CONTIGUOUS)) {
    tmp = array_copy_contiguous(in, in->dtype);
    if (!tmp) return 1;
    src = tmp;
  }
  int rc = array_alloc_or_donate(out, &src, 1);
  if (rc == 0 && out->size > 0) {
    scan_job j;
    j.f = &scan_table[p->kind][in->dtype];
    j.in = array_data(src);
    j.out = array_data(out);
    j.in_size = dtype_size(in->dtype);
    j.out_size = dtype_size(out->dtype);
    j.n = in->shape[p->axis];
    j.inner = 1;
    for (int d = p->axis + 1; d < in->ndim; d++) j.inner *= in->shape[d];
    j.reverse = p->reverse;
    j.inclusive = p->inclusive;
    size_t outer = in->size / (size_t)(j.n * j.inner);
    size_t units = outer, per_unit = (size_t)j.n;
    if (j.inner > 1) {
      j.blocks = (j.inner + SCAN_BLOCK - 1) / SCAN_BLOCK;
      units = outer * (size_t)j.blocks;
      per_unit *= SCAN_BLOCK;
    }
    size_t min_units = SCAN_SERIAL_ELEMS / per_unit;
    pool_for(units, min_units ? min_units : 1, scan_units, &j);
  }
  if (tmp) array_release(tmp);
  return rc;
}
