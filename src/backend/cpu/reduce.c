/* reduce.c - CPU kernels of Reduce (sum, prod, max, min, all, any) and
 * ArgReduce (argmax, argmin) over any set of axes of a strided input.
 *
 * The plan. Size-1 axes are dropped; the kept axes stay in output order
 * and merge where the input is contiguous across them; the reduced axes
 * are ordered by decreasing stride (broadcast axes outermost) and merge
 * likewise. Then one of two loops reads the input in memory order:
 * - row mode, when the innermost reduced axis has stride 1: each output
 *   reduces contiguous runs (a row reduce), with several accumulators the
 *   compiler keeps in vector registers;
 * - column mode, when the innermost kept axis has stride 1: a block of
 *   adjacent outputs keeps a row of accumulators (on the stack, placed
 *   away from the input modulo 4 KiB), and the reduced positions add
 *   contiguous rows of input into it, four at a time (a column reduce).
 * Any other layout is first copied into row-major order, after which one
 * of the two applies.
 *
 * Threads. Work goes to the pool in units (one output in row mode, one
 * block of outputs in column mode). When there are few units and much to
 * reduce (a full reduction), each unit's reduced range is also split into
 * pieces whose partial accumulators are merged in order at the end. The
 * split depends only on the shapes, never on the thread count, so results
 * are the same bytes with any number of threads.
 *
 * Numerics follow MLX's CPU backend: integer sums and products of types up
 * to 4 bytes accumulate in 32 bits with wrap-around (the bits of int32 and
 * uint32 results agree), 8-byte ones in 64 bits; float16 and bfloat16
 * accumulate in float32 (MLX keeps them in their own type); max and min
 * propagate NaN; all/any test float and half values against zero (so -0
 * is false) and complex64 values by their 8 bytes (so -0 + 0j is true, as
 * in MLX, which tests complex64 as int64). Complex max/min order
 * lexicographically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/reduce.h"
#include "backend/cpu/reduce_types.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"

/* Column accumulators of one unit live in this many bytes (on the stack). */
#define REDUCE_BLOCK_BYTES 16384
/* Below this many input elements the calling thread does everything. */
#define REDUCE_SERIAL_ELEMS ((size_t)1 << 15)
/* A reduced range is split into pieces of about this many elements when
 * there are fewer than REDUCE_FEW_UNITS units. */
#define REDUCE_SPLIT_ELEMS ((size_t)1 << 18)
#define REDUCE_FEW_UNITS 16
#define REDUCE_MAX_SPLITS 64
/* More non-trivial axes than this cannot exist: each has size >= 2 and the
 * size of an array fits in 63 bits. */
#define REDUCE_MAX_DIMS 64

/* ---- the per (kind, dtype) functions ---- */

/* A: accumulator type. Every function works on n accumulators or elements:
 *   init:  acc[0..n) = identity
 *   row:   acc[0] op= in[0] op ... op in[n-1]   (contiguous input)
 *   col:   acc[j] op= in[j]                     (contiguous input)
 *   col4:  acc[j] op= (r0[j] op r1[j]) op (r2[j] op r3[j])
 *   merge: dst[j] op= src[j]                    (accumulators)
 *   store: out[j] = final(acc[j])               (contiguous output) */
typedef struct reduce_fns {
  size_t acc_size;
  void (*init)(void* acc, size_t n);
  void (*row)(const void* in, size_t n, void* acc);
  void (*col)(const void* in, size_t n, void* acc);
  void (*col4)(const void* const* rows, size_t n, void* acc); /* col x 4 */
  void (*merge)(void* dst, const void* src, size_t n);
  void (*store)(void* out, const void* acc, size_t n);
} reduce_fns;

#define OP_ADD(a, v) ((a) + (v))
#define OP_MUL(a, v) ((a) * (v))
/* NaN is sticky: once a NaN is seen the accumulator stays NaN. */
#define OP_MAX(a, v) (((v) > (a) || (v) != (v)) ? (v) : (a))
#define OP_MIN(a, v) (((v) < (a) || (v) != (v)) ? (v) : (a))
#define OP_AND(a, v) ((uint8_t)((a) & (v)))
#define OP_OR(a, v) ((uint8_t)((a) | (v)))
#define NONZERO(x) ((uint8_t)((x) != 0))
#define NONZERO_HALF(x) ((uint8_t)(((x) & 0x7fffu) != 0))
#define AS_BOOL(x) ((bool)((x) != 0))

static inline complex64 c64_max(complex64 a, complex64 v) {
  return (isnan(v.re) || c64_gt(v, a)) ? v : a;
}
static inline complex64 c64_min(complex64 a, complex64 v) {
  return (isnan(v.re) || c64_lt(v, a)) ? v : a;
}
/* MLX's last step for complex max/min: a NaN anywhere is reported as
 * (nan, 0). */
static inline complex64 c64_nan_check(complex64 a) {
  return c64_isnan(a) ? c64_make(NAN, 0) : a;
}
static const complex64 c64_zero = {0, 0}, c64_one = {1, 0};
static const complex64 c64_neg_inf = {-INFINITY, 0}, c64_pos_inf = {INFINITY, 0};

/* Generates the five functions of one (kind, dtype).
 * ATTR: CPU_KERNEL, or nothing for complex (keeps FMA contraction out of
 * complex products so every ISA gives the same bits). W: accumulators the
 * row loop keeps (a multiple of the vector width). */
#define REDUCE_FNS(ATTR, NAME, T, A, OT, W, INIT, LOAD, OP, FINISH)            \
  static void NAME##_init(void* acc_, size_t n) {                              \
    A* acc = acc_;                                                             \
    for (size_t j = 0; j < n; j++) acc[j] = INIT;                              \
  }                                                                            \
  ATTR static void NAME##_row(const void* in_, size_t n, void* acc_) {         \
    const T* in = in_;                                                         \
    A lane[W];                                                                 \
    for (int j = 0; j < W; j++) lane[j] = INIT;                                \
    size_t i = 0;                                                              \
    for (; i + W <= n; i += W)                                                 \
      for (int j = 0; j < W; j++) {                                            \
        A v = LOAD(in[i + j]);                                                 \
        lane[j] = OP(lane[j], v);                                              \
      }                                                                        \
    A r = *(A*)acc_;                                                           \
    for (int j = 0; j < W; j++) r = OP(r, lane[j]);                            \
    for (; i < n; i++) {                                                       \
      A v = LOAD(in[i]);                                                       \
      r = OP(r, v);                                                            \
    }                                                                          \
    *(A*)acc_ = r;                                                             \
  }                                                                            \
  ATTR static void NAME##_col(const void* in_, size_t n, void* acc_) {         \
    const T* restrict in = in_;                                                \
    A* restrict acc = acc_;                                                    \
    for (size_t j = 0; j < n; j++) {                                           \
      A v = LOAD(in[j]);                                                       \
      acc[j] = OP(acc[j], v);                                                  \
    }                                                                          \
  }                                                                            \
  /* col over four rows at once: a quarter of the accumulator traffic */     \
  ATTR static void NAME##_col4(const void* const* rows, size_t n, void* acc_) { \
    const T* restrict r0 = rows[0];                                            \
    const T* restrict r1 = rows[1];                                            \
    const T* restrict r2 = rows[2];                                            \
    const T* restrict r3 = rows[3];                                            \
    A* restrict acc = acc_;                                                    \
    for (size_t j = 0; j < n; j++) {                                           \
      A v0 = LOAD(r0[j]), v1 = LOAD(r1[j]), v2 = LOAD(r2[j]), v3 = LOAD(r3[j]); \
      A v01 = OP(v0, v1), v23 = OP(v2, v3);                                    \
      acc[j] = OP(acc[j], OP(v01, v23));                                       \
    }                                                                          \
  }                                                                            \
  static void NAME##_merge(void* dst_, const void* src_, size_t n) {           \
    A* dst = dst_;                                                             \
    const A* src = src_;                                                       \
    for (size_t j = 0; j < n; j++) dst[j] = OP(dst[j], src[j]);                \
  }                                                                            \
  static void NAME##_store(void* out_, const void* acc_, size_t n) {           \
    OT* out = out_;                                                            \
    const A* acc = acc_;                                                       \
    for (size_t j = 0; j < n; j++) out[j] = FINISH(acc[j]);                    \
  }

#define FNS_ENTRY(NAME, A)                                                  \
  {sizeof(A), NAME##_init, NAME##_row, NAME##_col, NAME##_col4, NAME##_merge, \
   NAME##_store}

/* sum and prod: X(enum, name, T, A, OT, W, LOAD, FINISH, ATTR, ADD, MUL, ZERO, ONE) */
#define SUM_PROD_TYPES(X)                                                             \
  X(MLX_BOOL, bool, bool, uint32_t, uint32_t, 64, (uint32_t), , CPU_KERNEL, OP_ADD,   \
    OP_MUL, 0u, 1u)                                                                   \
  X(MLX_UINT8, uint8, uint8_t, uint32_t, uint32_t, 64, (uint32_t), , CPU_KERNEL,      \
    OP_ADD, OP_MUL, 0u, 1u)                                                           \
  X(MLX_UINT16, uint16, uint16_t, uint32_t, uint32_t, 64, (uint32_t), , CPU_KERNEL,   \
    OP_ADD, OP_MUL, 0u, 1u)                                                           \
  X(MLX_UINT32, uint32, uint32_t, uint32_t, uint32_t, 64, (uint32_t), , CPU_KERNEL,   \
    OP_ADD, OP_MUL, 0u, 1u)                                                           \
  X(MLX_UINT64, uint64, uint64_t, uint64_t, uint64_t, 32, (uint64_t), , CPU_KERNEL,   \
    OP_ADD, OP_MUL, 0u, 1u)                                                           \
  X(MLX_INT8, int8, int8_t, uint32_t, uint32_t, 64, (uint32_t), , CPU_KERNEL, OP_ADD, \
    OP_MUL, 0u, 1u)                                                                   \
  X(MLX_INT16, int16, int16_t, uint32_t, uint32_t, 64, (uint32_t), , CPU_KERNEL,      \
    OP_ADD, OP_MUL, 0u, 1u)                                                           \
  X(MLX_INT32, int32, int32_t, uint32_t, uint32_t, 64, (uint32_t), , CPU_KERNEL,      \
    OP_ADD, OP_MUL, 0u, 1u)                                                           \
  X(MLX_INT64, int64, int64_t, uint64_t, uint64_t, 32, (uint64_t), , CPU_KERNEL,      \
    OP_ADD, OP_MUL, 0u, 1u)                                                           \
  X(MLX_FLOAT16, float16, uint16_t, float, uint16_t, 64, reduce_load_f16, f32_to_f16, \
    CPU_KERNEL, OP_ADD, OP_MUL, 0.0f, 1.0f)                                           \
  X(MLX_BFLOAT16, bfloat16, uint16_t, float, uint16_t, 64, bf16_to_f32, f32_to_bf16,  \
    CPU_KERNEL, OP_ADD, OP_MUL, 0.0f, 1.0f)                                           \
  X(MLX_FLOAT32, float32, float, float, float, 64, , , CPU_KERNEL, OP_ADD, OP_MUL,    \
    0.0f, 1.0f)                                                                       \
  X(MLX_FLOAT64, float64, double, double, double, 32, , , CPU_KERNEL, OP_ADD, OP_MUL, \
    0.0, 1.0)                                                                         \
  X(MLX_COMPLEX64, complex64, complex64, complex64, complex64, 1, , , , c64_add,      \
    c64_mul, c64_zero, c64_one)

/* max and min: X(enum, name, T, A, OT, W, LOAD, FINISH, ATTR, MAX, MIN, LOWEST, HIGHEST) */
#define MAX_MIN_TYPES(X)                                                                   \
  X(MLX_BOOL, bool, bool, uint8_t, bool, 64, (uint8_t), AS_BOOL, CPU_KERNEL, OP_MAX,       \
    OP_MIN, 0, 1)                                                                          \
  X(MLX_UINT8, uint8, uint8_t, uint8_t, uint8_t, 64, , , CPU_KERNEL, OP_MAX, OP_MIN, 0,    \
    UINT8_MAX)                                                                             \
  X(MLX_UINT16, uint16, uint16_t, uint16_t, uint16_t, 64, , , CPU_KERNEL, OP_MAX, OP_MIN,  \
    0, UINT16_MAX)                                                                         \
  X(MLX_UINT32, uint32, uint32_t, uint32_t, uint32_t, 64, , , CPU_KERNEL, OP_MAX, OP_MIN,  \
    0, UINT32_MAX)                                                                         \
  X(MLX_UINT64, uint64, uint64_t, uint64_t, uint64_t, 32, , , CPU_KERNEL, OP_MAX, OP_MIN,  \
    0, UINT64_MAX)                                                                         \
  X(MLX_INT8, int8, int8_t, int8_t, int8_t, 64, , , CPU_KERNEL, OP_MAX, OP_MIN, INT8_MIN,  \
    INT8_MAX)                                                                              \
  X(MLX_INT16, int16, int16_t, int16_t, int16_t, 64, , , CPU_KERNEL, OP_MAX, OP_MIN,       \
    INT16_MIN, INT16_MAX)                                                                  \
  X(MLX_INT32, int32, int32_t, int32_t, int32_t, 64, , , CPU_KERNEL, OP_MAX, OP_MIN,       \
    INT32_MIN, INT32_MAX)                                                                  \
  X(MLX_INT64, int64, int64_t, int64_t, int64_t, 32, , , CPU_KERNEL, OP_MAX, OP_MIN,       \
    INT64_MIN, INT64_MAX)                                                                  \
  X(MLX_FLOAT16, float16, uint16_t, float, uint16_t, 64, reduce_load_f16, f32_to_f16,      \
    CPU_KERNEL, OP_MAX, OP_MIN, -INFINITY, INFINITY)                                       \
  X(MLX_BFLOAT16, bfloat16, uint16_t, float, uint16_t, 64, bf16_to_f32, f32_to_bf16,       \
    CPU_KERNEL, OP_MAX, OP_MIN, -INFINITY, INFINITY)                                       \
  X(MLX_FLOAT32, float32, float, float, float, 64, , , CPU_KERNEL, OP_MAX, OP_MIN,         \
    -INFINITY, INFINITY)                                                                   \
  X(MLX_FLOAT64, float64, double, double, double, 32, , , CPU_KERNEL, OP_MAX, OP_MIN,      \
    -(double)INFINITY, (double)INFINITY)                                                   \
  X(MLX_COMPLEX64, complex64, complex64, complex64, complex64, 1, , c64_nan_check, ,       \
    c64_max, c64_min, c64_neg_inf, c64_pos_inf)

/* all and any: X(enum, name, T, TEST); the accumulator is a uint8_t 0/1. */
#define AND_OR_TYPES(X)                    \
  X(MLX_BOOL, bool, bool, (uint8_t))       \
  X(MLX_UINT8, uint8, uint8_t, NONZERO)    \
  X(MLX_UINT16, uint16, uint16_t, NONZERO) \
  X(MLX_UINT32, uint32, uint32_t, NONZERO) \
  X(MLX_UINT64, uint64, uint64_t, NONZERO) \
  X(MLX_INT8, int8, int8_t, NONZERO)       \
  X(MLX_INT16, int16, int16_t, NONZERO)    \
  X(MLX_INT32, int32, int32_t, NONZERO)    \
  X(MLX_INT64, int64, int64_t, NONZERO)    \
  X(MLX_FLOAT16, float16, uint16_t, NONZERO_HALF) \
  X(MLX_BFLOAT16, bfloat16, uint16_t, NONZERO_HALF) \
  X(MLX_FLOAT32, float32, float, NONZERO)  \
  X(MLX_FLOAT64, float64, double, NONZERO) \
  X(MLX_COMPLEX64, complex64, uint64_t, NONZERO)

#define GEN_SUM_PROD(E, N, T, A, OT, W, LOAD, FIN, ATTR, ADD, MUL, ZERO, ONE) \
  REDUCE_FNS(ATTR, sum_##N, T, A, OT, W, ZERO, LOAD, ADD, FIN)               \
  REDUCE_FNS(ATTR, prod_##N, T, A, OT, W, ONE, LOAD, MUL, FIN)
SUM_PROD_TYPES(GEN_SUM_PROD)

#define GEN_MAX_MIN(E, N, T, A, OT, W, LOAD, FIN, ATTR, MAX, MIN, LO, HI) \
  REDUCE_FNS(ATTR, max_##N, T, A, OT, W, LO, LOAD, MAX, FIN)             \
  REDUCE_FNS(ATTR, min_##N, T, A, OT, W, HI, LOAD, MIN, FIN)
MAX_MIN_TYPES(GEN_MAX_MIN)

#define GEN_AND_OR(E, N, T, TEST)                                             \
  REDUCE_FNS(CPU_KERNEL, and_##N, T, uint8_t, bool, 64, 1, TEST, OP_AND, AS_BOOL) \
  REDUCE_FNS(CPU_KERNEL, or_##N, T, uint8_t, bool, 64, 0, TEST, OP_OR, AS_BOOL)
AND_OR_TYPES(GEN_AND_OR)

/* The one table saying which (kind, dtype) pairs exist: all of them. */
static const reduce_fns reduce_table[REDUCE_KIND_COUNT][DTYPE_COUNT] = {
#define SUM_ENTRY(E, N, T, A, ...) [REDUCE_SUM][E] = FNS_ENTRY(sum_##N, A),
#define PROD_ENTRY(E, N, T, A, ...) [REDUCE_PROD][E] = FNS_ENTRY(prod_##N, A),
#define MAX_ENTRY(E, N, T, A, ...) [REDUCE_MAX][E] = FNS_ENTRY(max_##N, A),
#define MIN_ENTRY(E, N, T, A, ...) [REDUCE_MIN][E] = FNS_ENTRY(min_##N, A),
#define AND_ENTRY(E, N, T, TEST) [REDUCE_AND][E] = FNS_ENTRY(and_##N, uint8_t),
#define OR_ENTRY(E, N, T, TEST) [REDUCE_OR][E] = FNS_ENTRY(or_##N, uint8_t),
    SUM_PROD_TYPES(SUM_ENTRY) SUM_PROD_TYPES(PROD_ENTRY)
    MAX_MIN_TYPES(MAX_ENTRY) MAX_MIN_TYPES(MIN_ENTRY)
    AND_OR_TYPES(AND_ENTRY) AND_OR_TYPES(OR_ENTRY)
#undef SUM_ENTRY
#undef PROD_ENTRY
#undef MAX_ENTRY
#undef MIN_ENTRY
#undef AND_ENTRY
#undef OR_ENTRY
};

/* ---- layout helpers shared with ArgReduce ---- */

typedef struct dims {
  int n;
  int64_t shape[REDUCE_MAX_DIMS];
  int64_t stride[REDUCE_MAX_DIMS];
} dims;

/* Appends an axis, merging it into the previous one when the input is
 * contiguous across the two. */
static void dims_push_merge(dims* d, int64_t shape, int64_t stride) {
  if (d->n > 0 && d->stride[d->n - 1] == stride * shape) {
    d->shape[d->n - 1] *= shape;
    d->stride[d->n - 1] = stride;
    return;
  }
  d->shape[d->n] = shape;
  d->stride[d->n] = stride;
  d->n++;
}

/* Element offset of linear index idx (row-major over d). */
static int64_t dims_offset(const dims* d, size_t idx) {
  int64_t off = 0;
  for (int k = d->n - 1; k >= 0; k--) {
    off += (int64_t)(idx % (size_t)d->shape[k]) * d->stride[k];
    idx /= (size_t)d->shape[k];
  }
  return off;
}

/* Walks the offsets of d in row-major order. */
typedef struct counter {
  const dims* d;
  int64_t idx[REDUCE_MAX_DIMS];
  int64_t off;
} counter;

static void counter_start(counter* c, const dims* d, size_t lin) {
  c->d = d;
  c->off = 0;
  for (int k = d->n - 1; k >= 0; k--) {
    c->idx[k] = (int64_t)(lin % (size_t)d->shape[k]);
    lin /= (size_t)d->shape[k];
    c->off += c->idx[k] * d->stride[k];
  }
}

static inline void counter_next(counter* c) {
  const dims* d = c->d;
  for (int k = d->n - 1; k >= 0; k--) {
    c->off += d->stride[k];
    if (++c->idx[k] < d->shape[k]) return;
    c->off -= d->stride[k] * d->shape[k];
    c->idx[k] = 0;
  }
}

static int64_t abs64(int64_t v) {
  return v < 0 ? -v : v;
}

/* ---- Reduce ---- */

typedef struct reduce_job {
  const reduce_fns* f;
  const char* in;
  size_t in_size;
  char* out;
  size_t out_size;
  dims kept;   /* column mode: without the column axis */
  dims red;    /* row mode: without the run axis */
  bool column;
  int64_t run;    /* row mode: contiguous elements per reduced run */
  int64_t width;  /* column mode: length of the column axis */
  int64_t block;  /* column mode: outputs per unit */
  int64_t blocks_per_row;
  size_t units;
  size_t red_count; /* per unit: elements (row mode) or rows (column mode) */
  size_t splits;
  char* partial;
} reduce_job;

/* Fills kept/red and picks the mode. Returns 1 when the layout suits
 * neither mode (the caller copies the input and tries again). */
static int reduce_plan(reduce_job* j, const array* in, const bool* reduced) {
  dims red_raw = {0};
  j->kept.n = 0;
  j->red.n = 0;
  bool empty = false;
  for (int d = 0; d < in->ndim; d++) {
    int64_t sh = in->shape[d], st = in->strides[d];
    if (sh == 1) continue;
    if (!reduced[d]) {
      dims_push_merge(&j->kept, sh, st);
      continue;
    }
    if (sh == 0) empty = true;
    /* insertion by decreasing |stride|, broadcast (0) axes first */
    int k = red_raw.n++;
    while (k > 0) {
      int64_t prev = red_raw.stride[k - 1];
      bool before = st == 0 ? prev != 0 : (prev != 0 && abs64(prev) < abs64(st));
      if (!before) break;
      red_raw.shape[k] = red_raw.shape[k - 1];
      red_raw.stride[k] = red_raw.stride[k - 1];
      k--;
    }
    red_raw.shape[k] = sh;
    red_raw.stride[k] = st;
  }
  if (empty) {
    /* nothing to read: every output is the identity */
    j->column = false;
    j->run = 0;
    j->red_count = 0;
    return 0;
  }
  for (int k = 0; k < red_raw.n; k++)
    dims_push_merge(&j->red, red_raw.shape[k], red_raw.stride[k]);

  if (j->red.n == 0 || j->red.stride[j->red.n - 1] == 1) {
    j->column = false;
    j->run = 1;
    if (j->red.n > 0) j->run = j->red.shape[--j->red.n];
    size_t outer = 1;
    for (int k = 0; k < j->red.n; k++) outer *= (size_t)j->red.shape[k];
    j->red_count = outer * (size_t)j->run;
    return 0;
  }
  if (j->kept.n > 0 && j->kept.stride[j->kept.n - 1] == 1) {
    j->column = true;
    j->width = j->kept.shape[--j->kept.n];
    size_t rows = 1;
    for (int k = 0; k < j->red.n; k++) rows *= (size_t)j->red.shape[k];
    j->red_count = rows;
    return 0;
  }
  return 1;
}

/* Reduces positions [rb, re) of unit u's reduced range into acc. */
static void reduce_unit(const reduce_job* j, size_t u, size_t rb, size_t re,
                        void* acc, size_t len) {
  if (rb >= re) return;
  counter c;
  if (!j->column) {
    int64_t base = dims_offset(&j->kept, u);
    size_t run = (size_t)j->run;
    size_t inner = rb % run;
    counter_start(&c, &j->red, rb / run);
    for (size_t pos = rb; pos < re;) {
      size_t n = run - inner;
      if (n > re - pos) n = re - pos;
      j->f->row(j->in + (base + c.off + (int64_t)inner) * (int64_t)j->in_size, n, acc);
      pos += n;
      inner = 0;
      counter_next(&c);
    }
    return;
  }
  size_t ko = u / (size_t)j->blocks_per_row, b = u % (size_t)j->blocks_per_row;
  int64_t base = dims_offset(&j->kept, ko) + (int64_t)b * j->block;
  counter_start(&c, &j->red, rb);
  const void* rows[4];
  size_t r = rb;
  for (; r + 4 <= re; r += 4) {
    for (int k = 0; k < 4; k++) {
      rows[k] = j->in + (base + c.off) * (int64_t)j->in_size;
      counter_next(&c);
    }
    j->f->col4(rows, len, acc);
  }
  for (; r < re; r++) {
    j->f->col(j->in + (base + c.off) * (int64_t)j->in_size, len, acc);
    counter_next(&c);
  }
}

/* Column accumulators inside buf (REDUCE_BLOCK_BYTES + 4096 bytes), away
 * from the unit's input modulo 4 KiB (see reduce_skewed). */
static void* column_acc(unsigned char* buf, const reduce_job* j, size_t u) {
  if (!j->column || !j->in) return buf;
  size_t ko = u / (size_t)j->blocks_per_row, b = u % (size_t)j->blocks_per_row;
  int64_t base = dims_offset(&j->kept, ko) + (int64_t)b * j->block;
  return reduce_skewed(buf, j->in + base * (int64_t)j->in_size);
}

/* Where unit u's outputs go, and how many there are. */
static char* unit_out(const reduce_job* j, size_t u, size_t* len) {
  if (!j->column) {
    *len = 1;
    return j->out + u * j->out_size;
  }
  size_t ko = u / (size_t)j->blocks_per_row, b = u % (size_t)j->blocks_per_row;
  size_t start = b * (size_t)j->block;
  size_t n = (size_t)j->width - start;
  *len = n < (size_t)j->block ? n : (size_t)j->block;
  return j->out + (ko * (size_t)j->width + start) * j->out_size;
}

static void reduce_units(void* ctx, size_t begin, size_t end) {
  const reduce_job* j = ctx;
  _Alignas(64) unsigned char buf[REDUCE_BLOCK_BYTES + 4096];
  for (size_t u = begin; u < end; u++) {
    size_t len;
    char* out = unit_out(j, u, &len);
    void* acc = column_acc(buf, j, u);
    j->f->init(acc, len);
    reduce_unit(j, u, 0, j->red_count, acc, len);
    j->f->store(out, acc, len);
  }
}

/* Task t: piece t % splits of unit t / splits, into its partial slot. */
static void reduce_piece(void* ctx, size_t t) {
  const reduce_job* j = ctx;
  _Alignas(64) unsigned char buf[REDUCE_BLOCK_BYTES + 4096];
  size_t u = t / j->splits, c = t % j->splits, len;
  unit_out(j, u, &len);
  size_t slot = j->column ? (size_t)j->block : 1;
  void* acc = column_acc(buf, j, u);
  size_t rb = j->red_count * c / j->splits, re = j->red_count * (c + 1) / j->splits;
  j->f->init(acc, len);
  reduce_unit(j, u, rb, re, acc, len);
  memcpy(j->partial + t * slot * j->f->acc_size, acc, len * j->f->acc_size);
}

static int reduce_run(reduce_job* j) {
  size_t ulen = 1;
  if (j->column) {
    int64_t block = REDUCE_BLOCK_BYTES / (int64_t)j->f->acc_size;
    j->block = j->width < block ? j->width : block;
    j->blocks_per_row = (j->width + j->block - 1) / j->block;
    ulen = (size_t)j->block;
  }
  size_t kept = 1;
  for (int k = 0; k < j->kept.n; k++) kept *= (size_t)j->kept.shape[k];
  j->units = j->column ? kept * (size_t)j->blocks_per_row : kept;
  size_t per_unit = j->red_count * ulen;
  j->splits = 1;
  if (j->units < REDUCE_FEW_UNITS && per_unit >= 2 * REDUCE_SPLIT_ELEMS) {
    size_t s = per_unit / REDUCE_SPLIT_ELEMS;
    j->splits = s > REDUCE_MAX_SPLITS ? REDUCE_MAX_SPLITS : s;
  }
  if (j->splits == 1) {
    size_t min_chunk = per_unit ? REDUCE_SERIAL_ELEMS / per_unit : j->units;
    pool_for(j->units, min_chunk ? min_chunk : 1, reduce_units, j);
    return 0;
  }
  size_t slot = ulen * j->f->acc_size;
  j->partial = malloc(j->units * j->splits * slot);
  if (!j->partial) return error_set("[reduce] Out of memory.");
  pool_run(j->units * j->splits, reduce_piece, j);
  for (size_t u = 0; u < j->units; u++) {
    size_t len;
    char* out = unit_out(j, u, &len);
    char* first = j->partial + u * j->splits * slot;
    for (size_t c = 1; c < j->splits; c++) j->f->merge(first, first + c * slot, len);
    j->f->store(out, first, len);
  }
  free(j->partial);
  j->partial = NULL;
  return 0;
}

int cpu_reduce_eval(node* n) {
  const reduce_params* p = n->params;
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  bool reduced[in->ndim > 0 ? in->ndim : 1];
  memset(reduced, 0, sizeof reduced);
  for (int i = 0; i < p->n_axes; i++) reduced[p->axes[i]] = true;

  reduce_job j;
  memset(&j, 0, sizeof j);
  j.f = &reduce_table[p->kind][in->dtype];
  j.in_size = dtype_size(in->dtype);
  j.out = array_data(out);
  j.out_size = dtype_size(out->dtype);
  array* tmp = NULL;
  const array* src = in;
  if (reduce_plan(&j, src, reduced) != 0) {
    tmp = array_copy_contiguous(in, in->dtype);
    if (!tmp) return 1;
    src = tmp;
    reduce_plan(&j, src, reduced);
  }
  j.in = in->size ? array_data(src) : NULL;
  int rc = reduce_run(&j);
  if (tmp) array_release(tmp);
  return rc;
}

/* ---- ArgReduce ---- */

/* For each dtype: the compute type and the comparisons (strict, so the
 * first extreme wins and NaN only counts when it comes first). */
#define GT(a, b) ((a) > (b))
#define LT(a, b) ((a) < (b))
#define ARG_TYPES(X)                                          \
  X(MLX_BOOL, bool, bool, uint8_t, (uint8_t), GT, LT)         \
  X(MLX_UINT8, uint8, uint8_t, uint8_t, , GT, LT)             \
  X(MLX_UINT16, uint16, uint16_t, uint16_t, , GT, LT)         \
  X(MLX_UINT32, uint32, uint32_t, uint32_t, , GT, LT)         \
  X(MLX_UINT64, uint64, uint64_t, uint64_t, , GT, LT)         \
  X(MLX_INT8, int8, int8_t, int8_t, , GT, LT)                 \
  X(MLX_INT16, int16, int16_t, int16_t, , GT, LT)             \
  X(MLX_INT32, int32, int32_t, int32_t, , GT, LT)             \
  X(MLX_INT64, int64, int64_t, int64_t, , GT, LT)             \
  X(MLX_FLOAT16, float16, uint16_t, float, f16_to_f32, GT, LT) \
  X(MLX_BFLOAT16, bfloat16, uint16_t, float, bf16_to_f32, GT, LT) \
  X(MLX_FLOAT32, float32, float, float, , GT, LT)             \
  X(MLX_FLOAT64, float64, double, double, , GT, LT)           \
  X(MLX_COMPLEX64, complex64, complex64, complex64, , c64_gt, c64_lt)

/* Outputs per block of the column loop. */
#define ARG_BLOCK 1024

/* row: out[0] = index of the extreme of in[0], in[s], ... in[(n-1)s].
 * col: for k < len, out[k] = the same along in[k], in[k + s], ... */
#define ARG_FNS(NAME, T, A, LOAD, CMP)                                         \
  static void NAME##_row(const void* in_, int64_t n, int64_t s, uint32_t* out) { \
    const T* in = in_;                                                         \
    A best = LOAD(in[0]);                                                      \
    uint32_t idx = 0;                                                          \
    for (int64_t i = 1; i < n; i++) {                                          \
      A v = LOAD(in[i * s]);                                                   \
      if (CMP(v, best)) {                                                      \
        best = v;                                                              \
        idx = (uint32_t)i;                                                     \
      }                                                                        \
    }                                                                          \
    *out = idx;                                                                \
  }                                                                            \
  static void NAME##_col(const void* in_, int64_t n, int64_t s, int64_t len,  \
                         uint32_t* out) {                                      \
    const T* in = in_;                                                         \
    _Alignas(64) unsigned char buf[ARG_BLOCK * sizeof(A) + 4096];              \
    A* best = reduce_skewed(buf, in);                                          \
    for (int64_t k = 0; k < len; k++) {                                        \
      best[k] = LOAD(in[k]);                                                   \
      out[k] = 0;                                                              \
    }                                                                          \
    for (int64_t i = 1; i < n; i++) {                                          \
      const T* row = in + i * s;                                               \
      for (int64_t k = 0; k < len; k++) {                                      \
        A v = LOAD(row[k]);                                                    \
        if (CMP(v, best[k])) {                                                 \
          best[k] = v;                                                         \
          out[k] = (uint32_t)i;                                                \
        }                                                                      \
      }                                                                        \
    }                                                                          \
  }

typedef struct arg_fns {
  void (*row)(const void* in, int64_t n, int64_t s, uint32_t* out);
  void (*col)(const void* in, int64_t n, int64_t s, int64_t len, uint32_t* out);
} arg_fns;

#define GEN_ARG(E, N, T, A, LOAD, GTF, LTF) \
  ARG_FNS(argmax_##N, T, A, LOAD, GTF)      \
  ARG_FNS(argmin_##N, T, A, LOAD, LTF)
ARG_TYPES(GEN_ARG)

static const arg_fns arg_table[2][DTYPE_COUNT] = {
#define ARGMAX_ENTRY(E, N, ...) [ARG_MAX][E] = {argmax_##N##_row, argmax_##N##_col},
#define ARGMIN_ENTRY(E, N, ...) [ARG_MIN][E] = {argmin_##N##_row, argmin_##N##_col},
    ARG_TYPES(ARGMAX_ENTRY) ARG_TYPES(ARGMIN_ENTRY)
#undef ARGMAX_ENTRY
#undef ARGMIN_ENTRY
};

typedef struct arg_job {
  const arg_fns* f;
  const char* in;
  size_t in_size;
  uint32_t* out;
  dims kept;     /* column mode: without the column axis */
  int64_t n, s;  /* the reduced axis */
  bool column;
  int64_t width, blocks_per_row;
} arg_job;

static void arg_units(void* ctx, size_t begin, size_t end) {
  const arg_job* j = ctx;
  for (size_t u = begin; u < end; u++) {
    if (!j->column) {
      int64_t off = dims_offset(&j->kept, u);
      j->f->row(j->in + off * (int64_t)j->in_size, j->n, j->s, j->out + u);
      continue;
    }
    size_t ko = u / (size_t)j->blocks_per_row, b = u % (size_t)j->blocks_per_row;
    int64_t start = (int64_t)b * ARG_BLOCK;
    int64_t len = j->width - start < ARG_BLOCK ? j->width - start : ARG_BLOCK;
    int64_t off = dims_offset(&j->kept, ko) + start;
    j->f->col(j->in + off * (int64_t)j->in_size, j->n, j->s, len,
              j->out + ko * (size_t)j->width + (size_t)start);
  }
}

int cpu_argreduce_eval(node* n) {
  const argreduce_params* p = n->params;
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  arg_job j;
  memset(&j, 0, sizeof j);
  j.f = &arg_table[p->kind][in->dtype];
  j.in = array_data(in);
  j.in_size = dtype_size(in->dtype);
  j.out = array_data(out);
  j.n = in->shape[p->axis];
  j.s = in->strides[p->axis];
  for (int d = 0; d < in->ndim; d++)
    if (d != p->axis && in->shape[d] != 1)
      dims_push_merge(&j.kept, in->shape[d], in->strides[d]);
  size_t units = out->size;
  if (j.s != 1 && j.n > 1 && j.kept.n > 0 && j.kept.stride[j.kept.n - 1] == 1) {
    j.column = true;
    j.width = j.kept.shape[--j.kept.n];
    j.blocks_per_row = (j.width + ARG_BLOCK - 1) / ARG_BLOCK;
    units = (out->size / (size_t)j.width) * (size_t)j.blocks_per_row;
  }
  size_t per_unit = (size_t)j.n * (j.column ? ARG_BLOCK : 1);
  size_t min_chunk = REDUCE_SERIAL_ELEMS / per_unit;
  pool_for(units, min_chunk ? min_chunk : 1, arg_units, &j);
  return 0;
}
