/* indexing.c - CPU kernels of the indexing primitives: Gather, GatherAxis,
 * Scatter, ScatterAxis, SliceUpdate, DynamicSlice, DynamicSliceUpdate and
 * MaskedScatter.
 *
 * Layers, top to bottom of this file:
 *   1. run functions: apply one combining op (assign, add, prod, max, min)
 *      along a strided run of elements, generated per dtype;
 *   2. walkers and block plans: the n-d iteration every kernel shares
 *      (walk a shape keeping strided offsets; copy or combine one strided
 *      block into another, with size-1 axes dropped and contiguous axes
 *      merged so the innermost run is as long as possible);
 *   3. reading index values (any integer type) and making them safe;
 *   4. the kernels.
 *
 * Semantics (MLX 0.32.2's CPU backend, with its undefined corners defined):
 * - A negative index is wrapped once (index + dim), as MLX does; an index
 *   that is still outside its axis (MLX reads or writes out of bounds) is
 *   CLAMPED so the whole slice it addresses lies inside the axis:
 *   [0, dim - slice_size]. Dynamic slice starts follow the same rule.
 *   take_along_axis from an axis of size 0 (nothing to clamp to) gives 0.
 * - Scatter visits the updates in row-major order of the index arrays, so
 *   with repeated indices plain scatter keeps the last update, the
 *   reducing forms combine them all (as MLX's serial CPU loop does).
 * - scatter_max/min keep the destination when it is greater/less than the
 *   update, else take the update (MLX's `*y > x ? *y : x`): a NaN update
 *   wins, a NaN destination is replaced. slice_update_max/min use MLX's
 *   maximum/minimum instead: a NaN on either side wins.
 * - Integer sums and products wrap; bool sum/max are OR, prod/min AND;
 *   float16/bfloat16 combine in float32 and round once; complex64 orders by
 *   real part, then imaginary part.
 * - masked_scatter checks that the values suffice before it writes. */
#include <complex.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/indexing.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"
#include "core/half.h"
#include "ops/indexing.h"

/* Work below this many elements stays on the calling thread. */
#define INDEX_GRAIN ((size_t)1 << 15)

/* ------------------------------------------------------------------------
 * 1. Run functions
 * ---------------------------------------------------------------------- */

/* Applies an op to n destination elements (stride ds) with n update
 * elements (stride ss); strides count elements. */
typedef void (*run_fn)(void* dst, const void* src, int64_t n, int64_t ds, int64_t ss);

typedef enum run_op {
  RUN_ASSIGN,
  RUN_ADD,
  RUN_PROD,
  RUN_SMAX, /* scatter's max: dst > upd ? dst : upd */
  RUN_SMIN,
  RUN_MAX, /* MLX's maximum: NaN wins */
  RUN_MIN,
  RUN_OP_COUNT
} run_op;

/* Assignment moves bytes: one function per element size. memcpy with a
 * constant size is a plain load/store without alignment assumptions. */
#define ASSIGN_FN(SZ)                                                                 \
  static void run_assign_##SZ(void* dst, const void* src, int64_t n, int64_t ds,     \
                              int64_t ss) {                                           \
    char* d = dst;                                                                    \
    const char* s = src;                                                              \
    if (ds == 1 && ss == 1) {                                                         \
      memcpy(d, s, (size_t)n * SZ);                                                   \
      return;                                                                         \
    }                                                                                 \
    for (int64_t i = 0; i < n; i++) memcpy(d + i * ds * SZ, s + i * ss * SZ, SZ);     \
  }
ASSIGN_FN(1)
ASSIGN_FN(2)
ASSIGN_FN(4)
ASSIGN_FN(8)
#undef ASSIGN_FN

static run_fn assign_for_size(size_t size) {
  switch (size) {
    case 1: return run_assign_1;
    case 2: return run_assign_2;
    case 4: return run_assign_4;
    default: return run_assign_8;
  }
}

/* Combining functions on compute types: y is the destination's value, x
 * the update's. Integers combine in an unsigned type so overflow wraps. */
#define INT_COMBINES(sfx, T, U)                                             \
  static inline T add_##sfx(T y, T x) { return (T)((U)y + (U)x); }          \
  static inline T prod_##sfx(T y, T x) { return (T)((U)y * (U)x); }         \
  static inline T smax_##sfx(T y, T x) { return y > x ? y : x; }            \
  static inline T smin_##sfx(T y, T x) { return y < x ? y : x; }            \
  static inline T max_##sfx(T y, T x) { return y > x ? y : x; }             \
  static inline T min_##sfx(T y, T x) { return y < x ? y : x; }
INT_COMBINES(uint8, uint8_t, uint32_t)
INT_COMBINES(uint16, uint16_t, uint32_t)
INT_COMBINES(uint32, uint32_t, uint32_t)
INT_COMBINES(uint64, uint64_t, uint64_t)
INT_COMBINES(int8, int8_t, uint32_t)
INT_COMBINES(int16, int16_t, uint32_t)
INT_COMBINES(int32, int32_t, uint32_t)
INT_COMBINES(int64, int64_t, uint64_t)
#undef INT_COMBINES

static inline bool add_boolean(bool y, bool x) { return y || x; }
static inline bool prod_boolean(bool y, bool x) { return y && x; }
static inline bool smax_boolean(bool y, bool x) { return y || x; }
static inline bool smin_boolean(bool y, bool x) { return y && x; }
static inline bool max_boolean(bool y, bool x) { return y || x; }
static inline bool min_boolean(bool y, bool x) { return y && x; }

#define FLOAT_COMBINES(sfx, F)                                                 \
  static inline F add_##sfx(F y, F x) { return y + x; }                        \
  static inline F prod_##sfx(F y, F x) { return y * x; }                       \
  static inline F smax_##sfx(F y, F x) { return y > x ? y : x; }               \
  static inline F smin_##sfx(F y, F x) { return y < x ? y : x; }               \
  static inline F max_##sfx(F y, F x) { return (isnan(y) || y > x) ? y : x; }  \
  static inline F min_##sfx(F y, F x) { return (isnan(y) || y < x) ? y : x; }
FLOAT_COMBINES(f32, float)
FLOAT_COMBINES(f64, double)
#undef FLOAT_COMBINES

typedef float _Complex cfloat;
static inline cfloat c64_load(complex64 v) { return CMPLXF(v.re, v.im); }
static inline complex64 c64_store(cfloat z) {
  complex64 v = {crealf(z), cimagf(z)};
  return v;
}
/* MLX's complex64_t ordering: by real part, then imaginary part. */
static inline bool c64_greater(cfloat a, cfloat b) {
  return crealf(a) > crealf(b) || (crealf(a) == crealf(b) && cimagf(a) > cimagf(b));
}
static inline cfloat add_c64(cfloat y, cfloat x) { return y + x; }
static inline cfloat prod_c64(cfloat y, cfloat x) { return y * x; }
static inline cfloat smax_c64(cfloat y, cfloat x) { return c64_greater(y, x) ? y : x; }
static inline cfloat smin_c64(cfloat y, cfloat x) { return c64_greater(x, y) ? y : x; }
static inline cfloat max_c64(cfloat y, cfloat x) {
  return (isnan(crealf(y)) || c64_greater(y, x)) ? y : x;
}
static inline cfloat min_c64(cfloat y, cfloat x) {
  return (isnan(crealf(y)) || c64_greater(x, y)) ? y : x;
}

#define SAME(v) (v)

/* X(enum, storage type, suffix, load, store, compute suffix, ...) */
#define INDEX_DTYPES(X, ...)                                                      \
  X(MLX_BOOL, bool, boolean, SAME, SAME, boolean, __VA_ARGS__)                        \
  X(MLX_UINT8, uint8_t, uint8, SAME, SAME, uint8, __VA_ARGS__)                    \
  X(MLX_UINT16, uint16_t, uint16, SAME, SAME, uint16, __VA_ARGS__)                \
  X(MLX_UINT32, uint32_t, uint32, SAME, SAME, uint32, __VA_ARGS__)                \
  X(MLX_UINT64, uint64_t, uint64, SAME, SAME, uint64, __VA_ARGS__)                \
  X(MLX_INT8, int8_t, int8, SAME, SAME, int8, __VA_ARGS__)                        \
  X(MLX_INT16, int16_t, int16, SAME, SAME, int16, __VA_ARGS__)                    \
  X(MLX_INT32, int32_t, int32, SAME, SAME, int32, __VA_ARGS__)                    \
  X(MLX_INT64, int64_t, int64, SAME, SAME, int64, __VA_ARGS__)                    \
  X(MLX_FLOAT16, uint16_t, float16, f16_to_f32, f32_to_f16, f32, __VA_ARGS__)     \
  X(MLX_FLOAT32, float, float32, SAME, SAME, f32, __VA_ARGS__)                    \
  X(MLX_FLOAT64, double, float64, SAME, SAME, f64, __VA_ARGS__)                   \
  X(MLX_BFLOAT16, uint16_t, bfloat16, bf16_to_f32, f32_to_bf16, f32, __VA_ARGS__) \
  X(MLX_COMPLEX64, complex64, complex64, c64_load, c64_store, c64, __VA_ARGS__)

/* One run function: the stride cases (1,1) and (1,0) get their own loops
 * so the compiler can vectorise them. */
#define RUN_FN(op, sfx, T, LOAD, STORE, csfx)                                        \
  static void run_##op##_##sfx(void* dst, const void* src, int64_t n, int64_t ds,    \
                               int64_t ss) {                                         \
    T* d = dst;                                                                      \
    const T* s = src;                                                                \
    if (ds == 1 && ss == 1) {                                                        \
      for (int64_t i = 0; i < n; i++) d[i] = STORE(op##_##csfx(LOAD(d[i]), LOAD(s[i]))); \
    } else if (ds == 1 && ss == 0) {                                                 \
      for (int64_t i = 0; i < n; i++) d[i] = STORE(op##_##csfx(LOAD(d[i]), LOAD(s[0]))); \
    } else {                                                                         \
      for (int64_t i = 0; i < n; i++)                                                \
        d[i * ds] = STORE(op##_##csfx(LOAD(d[i * ds]), LOAD(s[i * ss])));            \
    }                                                                                \
  }

#define GEN_RUNS(E, T, sfx, LOAD, STORE, csfx, ...) \
  RUN_FN(add, sfx, T, LOAD, STORE, csfx)            \
  RUN_FN(prod, sfx, T, LOAD, STORE, csfx)           \
  RUN_FN(smax, sfx, T, LOAD, STORE, csfx)           \
  RUN_FN(smin, sfx, T, LOAD, STORE, csfx)           \
  RUN_FN(max, sfx, T, LOAD, STORE, csfx)            \
  RUN_FN(min, sfx, T, LOAD, STORE, csfx)
INDEX_DTYPES(GEN_RUNS)
#undef GEN_RUNS

#define RUN_ENTRY(E, T, sfx, LOAD, STORE, csfx, op) [E] = run_##op##_##sfx,
static const run_fn run_table[RUN_OP_COUNT][DTYPE_COUNT] = {
    [RUN_ADD] = {INDEX_DTYPES(RUN_ENTRY, add)},   [RUN_PROD] = {INDEX_DTYPES(RUN_ENTRY, prod)},
    [RUN_SMAX] = {INDEX_DTYPES(RUN_ENTRY, smax)}, [RUN_SMIN] = {INDEX_DTYPES(RUN_ENTRY, smin)},
    [RUN_MAX] = {INDEX_DTYPES(RUN_ENTRY, max)},   [RUN_MIN] = {INDEX_DTYPES(RUN_ENTRY, min)},
};
#undef RUN_ENTRY

static run_fn run_select(run_op op, mlx_dtype t) {
  return op == RUN_ASSIGN ? assign_for_size(dtype_size(t)) : run_table[op][t];
}

/* The run op of a scatter (MLX's Scatter reducers) or a slice update (MLX's
 * binary ops). */
static run_op scatter_run_op(index_mode m) {
  static const run_op ops[] = {RUN_ASSIGN, RUN_ADD, RUN_PROD, RUN_SMAX, RUN_SMIN};
  return ops[m];
}
static run_op slice_update_run_op(index_mode m) {
  static const run_op ops[] = {RUN_ASSIGN, RUN_ADD, RUN_PROD, RUN_MAX, RUN_MIN};
  return ops[m];
}

/* Copies one element of `size` bytes. */
static inline void copy_element(char* dst, const char* src, size_t size) {
  switch (size) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    default: memcpy(dst, src, 8); break;
  }
}

/* ------------------------------------------------------------------------
 * 2. Walkers and block plans
 * ---------------------------------------------------------------------- */

/* Walks the row-major positions of `shape`, keeping each operand's element
 * offset (sum of position * stride). Storage comes from the caller. */
typedef struct walker {
  int ndim;
  int nops;
  const int* shape;
  const int64_t* const* strides; /* nops vectors of ndim strides */
  int64_t* pos;                  /* ndim */
  int64_t* off;                  /* nops */
} walker;

static void walker_seek(walker* w, size_t flat) {
  for (int k = 0; k < w->nops; k++) w->off[k] = 0;
  for (int d = w->ndim - 1; d >= 0; d--) {
    size_t n = (size_t)w->shape[d];
    int64_t p = n ? (int64_t)(flat % n) : 0;
    flat = n ? flat / n : 0;
    w->pos[d] = p;
    for (int k = 0; k < w->nops; k++) w->off[k] += p * w->strides[k][d];
  }
}

static inline void walker_next(walker* w) {
  for (int d = w->ndim - 1; d >= 0; d--) {
    for (int k = 0; k < w->nops; k++) w->off[k] += w->strides[k][d];
    if (++w->pos[d] < w->shape[d]) return;
    for (int k = 0; k < w->nops; k++) w->off[k] -= w->strides[k][d] * w->shape[d];
    w->pos[d] = 0;
  }
}

/* A block of `shape` read with src strides and written with dst strides,
 * reduced to as few axes as possible. Storage (ndim entries each) comes
 * from the caller. */
typedef struct block_plan {
  int ndim;
  int64_t* shape;
  int64_t* dst;
  int64_t* src;
  size_t size; /* elements */
} block_plan;

static void plan_init(block_plan* p, const int* shape, const int64_t* dst,
                      const int64_t* src, int ndim) {
  p->ndim = 0;
  p->size = 1;
  for (int d = 0; d < ndim; d++) p->size *= (size_t)shape[d];
  if (p->size == 0) return;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    int k = p->ndim;
    if (k > 0 && p->dst[k - 1] == dst[d] * shape[d] && p->src[k - 1] == src[d] * shape[d]) {
      /* the previous axis steps over exactly this one in both: merge */
      p->shape[k - 1] *= shape[d];
      p->dst[k - 1] = dst[d];
      p->src[k - 1] = src[d];
    } else {
      p->shape[k] = shape[d];
      p->dst[k] = dst[d];
      p->src[k] = src[d];
      p->ndim++;
    }
  }
}

/* Runs of the innermost axis in the block. */
static size_t plan_runs(const block_plan* p) {
  return p->ndim ? p->size / (size_t)p->shape[p->ndim - 1] : 1;
}

/* Applies fn to runs [rb, re) of the block at dst/src (element size el). */
static void plan_apply(const block_plan* p, char* dst, const char* src, int64_t el,
                       run_fn fn, size_t rb, size_t re) {
  if (p->size == 0 || rb >= re) return;
  if (p->ndim == 0) {
    fn(dst, src, 1, 1, 1);
    return;
  }
  int outer = p->ndim - 1;
  int64_t n = p->shape[outer], ds = p->dst[outer], ss = p->src[outer];
  int64_t pos[outer > 0 ? outer : 1];
  int64_t doff = 0, soff = 0;
  size_t f = rb;
  for (int d = outer - 1; d >= 0; d--) {
    pos[d] = (int64_t)(f % (size_t)p->shape[d]);
    f /= (size_t)p->shape[d];
    doff += pos[d] * p->dst[d];
    soff += pos[d] * p->src[d];
  }
  for (size_t r = rb; r < re; r++) {
    fn(dst + doff * el, src + soff * el, n, ds, ss);
    for (int d = outer - 1; d >= 0; d--) {
      doff += p->dst[d];
      soff += p->src[d];
      if (++pos[d] < p->shape[d]) break;
      doff -= p->dst[d] * p->shape[d];
      soff -= p->src[d] * p->shape[d];
      pos[d] = 0;
    }
  }
}

typedef struct plan_job {
  const block_plan* plan;
  char* dst;
  const char* src;
  int64_t el;
  run_fn fn;
} plan_job;

static void plan_job_range(void* ctx, size_t b, size_t e) {
  const plan_job* j = ctx;
  plan_apply(j->plan, j->dst, j->src, j->el, j->fn, b, e);
}

/* plan_apply over the whole block, split over threads when it is large.
 * Only for blocks whose destination elements are distinct. */
static void plan_apply_all(const block_plan* p, char* dst, const char* src, int64_t el,
                           run_fn fn) {
  size_t runs = plan_runs(p);
  size_t run_len = runs ? p->size / runs : 1;
  size_t grain = INDEX_GRAIN / (run_len ? run_len : 1);
  plan_job j = {p, dst, src, el, fn};
  pool_for(runs, grain ? grain : 1, plan_job_range, &j);
}

/* The lowest and highest element offsets a non-empty layout reaches. */
static void layout_span(const int* shape, const int64_t* strides, int ndim, int64_t* lo,
                        int64_t* hi) {
  *lo = *hi = 0;
  for (int d = 0; d < ndim; d++) {
    int64_t delta = strides[d] * (shape[d] - 1);
    if (delta < 0)
      *lo += delta;
    else
      *hi += delta;
  }
}

/* ------------------------------------------------------------------------
 * 3. Index values
 * ---------------------------------------------------------------------- */

/* The index dtypes: X(enum, C type, conversion to int64). uint64 values
 * beyond INT64_MAX saturate: they are out of range either way. */
#define INDEX_PLAIN(v) ((int64_t)(v))
#define INDEX_SATURATE(v) ((v) > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(v))
#define INDEX_INT_TYPES(X)                \
  X(MLX_UINT8, uint8_t, INDEX_PLAIN)      \
  X(MLX_UINT16, uint16_t, INDEX_PLAIN)    \
  X(MLX_UINT32, uint32_t, INDEX_PLAIN)    \
  X(MLX_UINT64, uint64_t, INDEX_SATURATE) \
  X(MLX_INT8, int8_t, INDEX_PLAIN)        \
  X(MLX_INT16, int16_t, INDEX_PLAIN)      \
  X(MLX_INT32, int32_t, INDEX_PLAIN)      \
  X(MLX_INT64, int64_t, INDEX_PLAIN)

/* Element `off` of an integer array as int64. */
static int64_t index_load(const array* a, int64_t off) {
  const void* p = array_data(a);
#define LOAD_CASE(E, T, CONV) \
  case E: return CONV(((const T*)p)[off]);
  switch (a->dtype) {
    INDEX_INT_TYPES(LOAD_CASE)
    default: return 0;
  }
#undef LOAD_CASE
}

/* Wraps a negative index once (MLX) and clamps into [0, hi], where
 * hi = dim - (extent of the slice along the axis) >= 0. */
static inline int64_t index_clamp(int64_t v, int64_t dim, int64_t hi) {
  if (v < 0) v += dim;
  return v < 0 ? 0 : v > hi ? hi : v;
}

/* Output starts as a copy of src: src's own buffer when src dies with this
 * node and has the right layout, else a fresh buffer filled from it. */
static int start_from(array* out, array* src) {
  if (array_alloc_or_donate(out, &src, 1)) return 1;
  if (out->buf == src->buf || out->size == 0) return 0;
  return cpu_copy_into(out, src);
}

/* ------------------------------------------------------------------------
 * 4. Kernels
 * ---------------------------------------------------------------------- */

/* ---- Gather: out[i, ...] = src[idx_1[i], ..., idx_k[i] + slice pos] ---- */

typedef struct gather_job {
  const array* src;
  array* const* idx; /* k index arrays of idx_shape */
  int k;
  const int* axes;
  const int64_t* hi; /* per index array: the largest safe start */
  const int* idx_shape;
  int idx_ndim;
  const int64_t* const* idx_strides;
  const block_plan* plan;
  char* out;
  int64_t el;
  run_fn copy;
} gather_job;

/* Positions are handled in chunks: first every index array's offsets are
 * collected, then each array's values are converted in one typed loop,
 * then the slices are copied; the per-element dtype switches leave the
 * inner loops. */
#define GATHER_CHUNK 256

/* base[j] += (index value at offs[j], made safe) * stride, for j < n. */
static void add_index_offsets(const array* ix, const int64_t* offs, size_t n, int64_t dim,
                              int64_t hi, int64_t stride, int64_t* base) {
  const void* p = array_data(ix);
#define ADD_CASE(E, T, CONV)                                                  \
  case E:                                                                     \
    for (size_t j = 0; j < n; j++)                                            \
      base[j] += index_clamp(CONV(((const T*)p)[offs[j]]), dim, hi) * stride; \
    break;
  switch (ix->dtype) {
    INDEX_INT_TYPES(ADD_CASE)
    default: break;
  }
#undef ADD_CASE
}

/* out[j] = src[base[j]] for j < n, elements of el bytes. */
static void copy_elements(char* out, const char* src, const int64_t* base, size_t n, size_t el) {
#define COPY_CASE(SZ) \
  case SZ:            \
    for (size_t j = 0; j < n; j++) memcpy(out + j * SZ, src + base[j] * SZ, SZ); \
    break;
  switch (el) {
    COPY_CASE(1)
    COPY_CASE(2)
    COPY_CASE(4)
    COPY_CASE(8)
    default: break;
  }
#undef COPY_CASE
}

static void gather_range(void* ctx, size_t b, size_t e) {
  const gather_job* j = ctx;
  int nd = j->idx_ndim, k = j->k;
  int64_t pos[nd > 0 ? nd : 1], off[k > 0 ? k : 1];
  int64_t offs[k > 0 ? k : 1][GATHER_CHUNK], base[GATHER_CHUNK];
  walker w = {nd, k, j->idx_shape, j->idx_strides, pos, off};
  walker_seek(&w, b);
  const char* src = array_data(j->src);
  size_t runs = plan_runs(j->plan);
  int64_t block = (int64_t)j->plan->size * j->el;
  for (size_t c = b; c < e; c += GATHER_CHUNK) {
    size_t n = e - c < GATHER_CHUNK ? e - c : GATHER_CHUNK;
    for (size_t i = 0; i < n; i++) {
      for (int t = 0; t < k; t++) offs[t][i] = off[t];
      base[i] = 0;
      walker_next(&w);
    }
    for (int t = 0; t < k; t++) {
      int ax = j->axes[t];
      add_index_offsets(j->idx[t], offs[t], n, j->src->shape[ax], j->hi[t],
                        j->src->strides[ax], base);
    }
    char* out = j->out + (int64_t)c * block;
    if (j->plan->ndim == 0) { /* one element per index (take from a vector) */
      copy_elements(out, src, base, n, (size_t)j->el);
      continue;
    }
    for (size_t i = 0; i < n; i++)
      plan_apply(j->plan, out + (int64_t)i * block, src + base[i] * j->el, j->el, j->copy, 0,
                 runs);
  }
}

int cpu_gather_eval(node* n) {
  const index_params* p = n->params;
  array* src = n->inputs[0];
  array* out = n->outputs[0];
  int k = n->n_inputs - 1, nd = src->ndim;
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  int64_t row[nd > 0 ? nd : 1], pshape[nd > 0 ? nd : 1], pdst[nd > 0 ? nd : 1],
      psrc[nd > 0 ? nd : 1];
  array_row_strides(p->sizes, nd, row);
  block_plan plan = {0, pshape, pdst, psrc, 0};
  plan_init(&plan, p->sizes, row, src->strides, nd);

  array* const* idx = n->inputs + 1;
  const int64_t* idx_strides[k > 0 ? k : 1];
  int64_t hi[k > 0 ? k : 1];
  for (int t = 0; t < k; t++) {
    idx_strides[t] = idx[t]->strides;
    hi[t] = (int64_t)src->shape[p->axes[t]] - p->sizes[p->axes[t]];
  }
  size_t n_idx = out->size / plan.size;
  gather_job j = {.src = src,
                  .idx = idx,
                  .k = k,
                  .axes = p->axes,
                  .hi = hi,
                  .idx_shape = k ? idx[0]->shape : NULL,
                  .idx_ndim = k ? idx[0]->ndim : 0,
                  .idx_strides = idx_strides,
                  .plan = &plan,
                  .out = array_data(out),
                  .el = (int64_t)dtype_size(out->dtype),
                  .copy = assign_for_size(dtype_size(out->dtype))};
  size_t grain = INDEX_GRAIN / plan.size;
  pool_for(n_idx, grain ? grain : 1, gather_range, &j);
  return 0;
}

/* ---- GatherAxis (take_along_axis): out[..i..] = src[..idx[..i..]..] ---- */

typedef struct gather_axis_job {
  const array* src;
  const array* idx;
  const array* out;
  int axis;
  const int64_t* const* strides; /* src (axis stride 0), idx */
} gather_axis_job;

static void gather_axis_range(void* ctx, size_t b, size_t e) {
  const gather_axis_job* j = ctx;
  int nd = j->out->ndim;
  int64_t pos[nd], off[2];
  walker w = {nd, 2, j->out->shape, j->strides, pos, off};
  walker_seek(&w, b);
  const char* src = array_data(j->src);
  char* out = array_data(j->out);
  size_t el = dtype_size(j->out->dtype);
  int64_t dim = j->src->shape[j->axis], stride = j->src->strides[j->axis];
  for (size_t i = b; i < e; i++) {
    int64_t v = index_clamp(index_load(j->idx, off[1]), dim, dim - 1);
    copy_element(out + i * el, src + (off[0] + v * stride) * (int64_t)el, el);
    walker_next(&w);
  }
}

int cpu_gather_axis_eval(node* n) {
  const index_params* p = n->params;
  array* src = n->inputs[0];
  array* idx = n->inputs[1];
  array* out = n->outputs[0];
  if (!dtype_is_integer(idx->dtype))
    return error_set("[GatherAxis::eval_cpu] Cannot gather with indices type.");
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  if (src->shape[p->axis] == 0) {
    /* nothing to read from: defined as zeros */
    memset(array_data(out), 0, array_nbytes(out));
    return 0;
  }
  int nd = out->ndim;
  int64_t sst[nd];
  memcpy(sst, src->strides, sizeof sst);
  sst[p->axis] = 0;
  const int64_t* strides[2] = {sst, idx->strides};
  gather_axis_job j = {src, idx, out, p->axis, strides};
  pool_for(out->size, INDEX_GRAIN, gather_axis_range, &j);
  return 0;
}

/* ---- Scatter: out[idx_1[i], ..., idx_k[i] + pos] op= updates[i, pos] ---- */

int cpu_scatter_eval(node* n) {
  const index_params* p = n->params;
  array* a = n->inputs[0];
  array* upd = n->inputs[n->n_inputs - 1];
  array* out = n->outputs[0];
  int k = n->n_inputs - 2, nd = out->ndim;
  if (start_from(out, a)) return 1;
  int idx_nd = upd->ndim - nd;
  const int* ushape = upd->shape + idx_nd;
  int64_t pshape[nd > 0 ? nd : 1], pdst[nd > 0 ? nd : 1], psrc[nd > 0 ? nd : 1];
  block_plan plan = {0, pshape, pdst, psrc, 0};
  plan_init(&plan, ushape, out->strides, upd->strides + idx_nd, nd);
  size_t n_upd = k ? n->inputs[1]->size : 1;
  if (n_upd == 0 || plan.size == 0) return 0;

  array* const* idx = n->inputs + 1;
  const int64_t* strides[k + 1];
  int64_t hi[k > 0 ? k : 1];
  for (int t = 0; t < k; t++) {
    strides[t] = idx[t]->strides;
    hi[t] = (int64_t)out->shape[p->axes[t]] - ushape[p->axes[t]];
  }
  strides[k] = upd->strides; /* its leading idx_nd axes walk with the indices */
  int64_t pos[idx_nd > 0 ? idx_nd : 1], off[k + 1];
  walker w = {idx_nd, k + 1, upd->shape, strides, pos, off};
  walker_seek(&w, 0);

  run_fn fn = run_select(scatter_run_op(p->mode), out->dtype);
  int64_t el = (int64_t)dtype_size(out->dtype);
  char* dst = array_data(out);
  const char* src = array_data(upd);
  size_t runs = plan_runs(&plan);
  /* serial, in index order: later updates of the same place come later */
  for (size_t i = 0; i < n_upd; i++) {
    int64_t base = 0;
    for (int t = 0; t < k; t++) {
      int ax = p->axes[t];
      int64_t v = index_clamp(index_load(idx[t], off[t]), out->shape[ax], hi[t]);
      base += v * out->strides[ax];
    }
    plan_apply(&plan, dst + base * el, src + off[k] * el, el, fn, 0, runs);
    walker_next(&w);
  }
  return 0;
}

/* ---- ScatterAxis (put_along_axis, scatter_add_axis) ---- */

int cpu_scatter_axis_eval(node* n) {
  const index_params* p = n->params;
  array* a = n->inputs[0];
  array* idx = n->inputs[1];
  array* upd = n->inputs[2];
  array* out = n->outputs[0];
  if (!dtype_is_integer(idx->dtype))
    return error_set("[ScatterAxis::eval_cpu] Cannot scatter with indices type.");
  if (start_from(out, a)) return 1;
  int64_t dim = out->shape[p->axis];
  if (idx->size == 0 || dim == 0) return 0;
  int nd = out->ndim;
  int64_t ost[nd];
  memcpy(ost, out->strides, sizeof ost);
  ost[p->axis] = 0;
  const int64_t* strides[3] = {ost, idx->strides, upd->strides};
  int64_t pos[nd], off[3];
  walker w = {nd, 3, idx->shape, strides, pos, off};
  walker_seek(&w, 0);
  run_fn fn = run_select(scatter_run_op(p->mode), out->dtype);
  int64_t el = (int64_t)dtype_size(out->dtype), stride = out->strides[p->axis];
  char* dst = array_data(out);
  const char* src = array_data(upd);
  for (size_t i = 0; i < idx->size; i++) {
    int64_t v = index_clamp(index_load(idx, off[1]), dim, dim - 1);
    fn(dst + (off[0] + v * stride) * el, src + off[2] * el, 1, 1, 1);
    walker_next(&w);
  }
  return 0;
}

/* ---- SliceUpdate: out = src; out[start::step] op= update ---- */

int cpu_slice_update_eval(node* n) {
  const index_params* p = n->params;
  array* src = n->inputs[0];
  array* upd = n->inputs[1];
  array* out = n->outputs[0];
  if (out->size == 0) return array_alloc(out);
  if (upd->size == 0) {
    /* nothing changes: share the source, as MLX does */
    array_set_view(out, src, src->strides, src->offset, src->data_size);
    return 0;
  }
  if (start_from(out, src)) return 1;
  int nd = out->ndim;
  int64_t dst_st[nd], pshape[nd], pdst[nd], psrc[nd];
  int64_t base = 0;
  for (int d = 0; d < nd; d++) {
    base += (int64_t)p->sizes[d] * out->strides[d];
    dst_st[d] = out->strides[d] * p->step[d];
  }
  block_plan plan = {0, pshape, pdst, psrc, 0};
  plan_init(&plan, upd->shape, dst_st, upd->strides, nd);
  int64_t el = (int64_t)dtype_size(out->dtype);
  run_fn fn = run_select(slice_update_run_op(p->mode), out->dtype);
  plan_apply_all(&plan, (char*)array_data(out) + base * el, array_data(upd), el, fn);
  return 0;
}

/* ---- DynamicSlice / DynamicSliceUpdate ---- */

/* The element offset where the slice of `extent` starts, from the start
 * array (entry i for axes[i]), each start made safe for its axis. */
static int64_t dynamic_offset(const array* start, const index_params* p, const int* dims,
                              const int* extent, const int64_t* strides) {
  int64_t off = 0, step = start->ndim ? start->strides[0] : 0;
  for (int i = 0; i < p->n_axes; i++) {
    int ax = p->axes[i];
    int64_t v = index_clamp(index_load(start, i * step), dims[ax],
                            (int64_t)dims[ax] - extent[ax]);
    off += v * strides[ax];
  }
  return off;
}

int cpu_dynamic_slice_eval(node* n) {
  const index_params* p = n->params;
  array* a = n->inputs[0];
  array* start = n->inputs[1];
  array* out = n->outputs[0];
  if (out->size == 0) return array_alloc(out);
  /* the slice is a view of a: no copy */
  int64_t offset = a->offset + dynamic_offset(start, p, a->shape, out->shape, a->strides);
  int64_t lo, hi;
  layout_span(out->shape, a->strides, out->ndim, &lo, &hi);
  array_set_view(out, a, a->strides, offset, (size_t)(hi - lo) + 1);
  return 0;
}

int cpu_dynamic_slice_update_eval(node* n) {
  const index_params* p = n->params;
  array* src = n->inputs[0];
  array* upd = n->inputs[1];
  array* start = n->inputs[2];
  array* out = n->outputs[0];
  if (out->size == 0) return array_alloc(out);
  if (start_from(out, src)) return 1;
  if (upd->size == 0) return 0;
  int nd = out->ndim;
  int64_t base = dynamic_offset(start, p, out->shape, upd->shape, out->strides);
  int64_t pshape[nd], pdst[nd], psrc[nd];
  block_plan plan = {0, pshape, pdst, psrc, 0};
  plan_init(&plan, upd->shape, out->strides, upd->strides, nd);
  int64_t el = (int64_t)dtype_size(out->dtype);
  plan_apply_all(&plan, (char*)array_data(out) + base * el, array_data(upd), el,
                 assign_for_size((size_t)el));
  return 0;
}

/* ---- MaskedScatter ---- */

int cpu_masked_scatter_eval(node* n) {
  array* a = n->inputs[0];
  array* mask = n->inputs[1];
  array* vals = n->inputs[2];
  array* out = n->outputs[0];
  if (start_from(out, a)) return 1;
  if (mask->size == 0 || out->size == 0) return 0;
  size_t inner = out->size / mask->size;
  int md = mask->ndim;
  int64_t mpos[md > 0 ? md : 1], moff[1];
  const int64_t* mstrides[1] = {mask->strides};
  walker w = {md, 1, mask->shape, mstrides, mpos, moff};
  const uint8_t* m = array_data(mask); /* bool as bytes: any nonzero is true */

  /* count first so that a failure leaves the output unwritten */
  size_t count = 0;
  walker_seek(&w, 0);
  for (size_t i = 0; i < mask->size; i++) {
    count += m[moff[0]] != 0;
    walker_next(&w);
  }
  if (count * inner > vals->size)
    return error_set("[MaskedScatter::eval_cpu] Source does not have enough elements for mask.");

  size_t el = dtype_size(out->dtype);
  char* dst = array_data(out);
  const char* src = array_data(vals);
  bool contiguous = (vals->flags & ARRAY_ROW_CONTIGUOUS) != 0;
  int vd = vals->ndim;
  int64_t vpos[vd > 0 ? vd : 1], voff[1];
  const int64_t* vstrides[1] = {vals->strides};
  walker vw = {vd, 1, vals->shape, vstrides, vpos, voff};
  walker_seek(&vw, 0);
  walker_seek(&w, 0);
  size_t taken = 0;
  for (size_t i = 0; i < mask->size; i++) {
    if (m[moff[0]]) {
      char* d = dst + i * inner * el;
      if (contiguous) {
        memcpy(d, src + taken * inner * el, inner * el);
      } else {
        for (size_t t = 0; t < inner; t++) {
          copy_element(d + t * el, src + voff[0] * (int64_t)el, el);
          walker_next(&vw);
        }
      }
      taken++;
    }
    walker_next(&w);
  }
  return 0;
}
