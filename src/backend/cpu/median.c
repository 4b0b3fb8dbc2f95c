/* median.c - CPU kernel of Median along the last axis.
 *
 * MLX computes median by sorting the (flattened) axes and slicing the
 * middle; here each row is copied into scratch space and the middle found
 * by selection (quickselect, median-of-three pivots), which gives the same
 * values without sorting whole rows. Values are compared in the input's
 * own order (integers as integers, halves as floats, complex64
 * lexicographically) and then turned into the output dtype the way MLX's
 * graph does: the middle value cast to at_least_float of the input dtype,
 * and for an even count (lo + hi) * 0.5 with each step rounded to that
 * dtype. A row holding NaN gives NaN (complex: nan + 0j), as MLX's median
 * has done since it checks for NaN explicitly. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backend/cpu/reduce.h"
#include "backend/cpu/reduce_types.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"

#define MEDIAN_SERIAL_ELEMS ((size_t)1 << 15)

#define LESS(a, b) ((a) < (b))
#define NEVER_NAN(x) ((void)(x), false)
#define IS_NAN(x) ((x) != (x))
#define AS_FLOAT(x) ((float)(x))

/* Output conversions: one middle value, or the mean of two. */
static inline float f32_one(float v) { return v; }
static inline float f32_two(float lo, float hi) { return (lo + hi) * 0.5f; }
static inline double f64_one(double v) { return v; }
static inline double f64_two(double lo, double hi) { return (lo + hi) * 0.5; }
static inline uint16_t f16_one(float v) { return f32_to_f16(v); }
static inline uint16_t f16_two(float lo, float hi) {
  return f32_to_f16(f16_to_f32(f32_to_f16(lo + hi)) * 0.5f);
}
static inline uint16_t bf16_one(float v) { return f32_to_bf16(v); }
static inline uint16_t bf16_two(float lo, float hi) {
  return f32_to_bf16(bf16_to_f32(f32_to_bf16(lo + hi)) * 0.5f);
}
static inline complex64 c64_one(complex64 v) { return v; }
static inline complex64 c64_two(complex64 lo, complex64 hi) {
  complex64 s = c64_add(lo, hi);
  return c64_make(s.re * 0.5f, s.im * 0.5f);
}
static inline float int_one(float v) { return v; }
static inline float int_two(float lo, float hi) { return (lo + hi) * 0.5f; }

/* X(enum, name, T storage, K key, LOAD to key, LESS, IS_NAN, OT output,
 *   TO_OUT_ONE, TO_OUT_TWO, ARG: key -> argument of the conversions, NAN value) */
#define MEDIAN_TYPES(X)                                                                    \
  X(MLX_BOOL, bool, bool, uint8_t, (uint8_t), LESS, NEVER_NAN, float, int_one, int_two,    \
    AS_FLOAT, NAN)                                                                         \
  X(MLX_UINT8, uint8, uint8_t, uint8_t, , LESS, NEVER_NAN, float, int_one, int_two,        \
    AS_FLOAT, NAN)                                                                         \
  X(MLX_UINT16, uint16, uint16_t, uint16_t, , LESS, NEVER_NAN, float, int_one, int_two,    \
    AS_FLOAT, NAN)                                                                         \
  X(MLX_UINT32, uint32, uint32_t, uint32_t, , LESS, NEVER_NAN, float, int_one, int_two,    \
    AS_FLOAT, NAN)                                                                         \
  X(MLX_UINT64, uint64, uint64_t, uint64_t, , LESS, NEVER_NAN, float, int_one, int_two,    \
    AS_FLOAT, NAN)                                                                         \
  X(MLX_INT8, int8, int8_t, int8_t, , LESS, NEVER_NAN, float, int_one, int_two, AS_FLOAT,  \
    NAN)                                                                                   \
  X(MLX_INT16, int16, int16_t, int16_t, , LESS, NEVER_NAN, float, int_one, int_two,        \
    AS_FLOAT, NAN)                                                                         \
  X(MLX_INT32, int32, int32_t, int32_t, , LESS, NEVER_NAN, float, int_one, int_two,        \
    AS_FLOAT, NAN)                                                                         \
  X(MLX_INT64, int64, int64_t, int64_t, , LESS, NEVER_NAN, float, int_one, int_two,        \
    AS_FLOAT, NAN)                                                                         \
  X(MLX_FLOAT16, float16, uint16_t, float, f16_to_f32, LESS, IS_NAN, uint16_t, f16_one,    \
    f16_two, , 0x7e00)                                                                     \
  X(MLX_BFLOAT16, bfloat16, uint16_t, float, bf16_to_f32, LESS, IS_NAN, uint16_t,          \
    bf16_one, bf16_two, , 0x7fc0)                                                          \
  X(MLX_FLOAT32, float32, float, float, , LESS, IS_NAN, float, f32_one, f32_two, , NAN)    \
  X(MLX_FLOAT64, float64, double, double, , LESS, IS_NAN, double, f64_one, f64_two, , NAN) \
  X(MLX_COMPLEX64, complex64, complex64, complex64, , c64_lt, c64_isnan, complex64,        \
    c64_one, c64_two, , c64_make(NAN, 0))

/* select: reorders v[0..n) so that v[k] is the k-th smallest, everything
 * before it is <= v[k] and everything after is >= v[k]. n > 0.
 * row: out = the median of in[0..n) (contiguous), using scratch v. */
#define MEDIAN_FNS(E, NAME, T, K, LOAD, LT, ISNAN, OT, ONE, TWO, ARG, NANV)        \
  static void NAME##_select(K* v, int64_t n, int64_t k) {                          \
    int64_t lo = 0, hi = n - 1;                                                    \
    while (hi > lo) {                                                              \
      K a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi], pivot;                    \
      if (LT(a, b)) pivot = LT(b, c) ? b : (LT(a, c) ? c : a);                     \
      else pivot = LT(a, c) ? a : (LT(b, c) ? c : b);                              \
      int64_t i = lo, j = hi;                                                      \
      while (i <= j) {                                                             \
        while (LT(v[i], pivot)) i++;                                               \
        while (LT(pivot, v[j])) j--;                                               \
        if (i <= j) {                                                              \
          K t = v[i];                                                              \
          v[i] = v[j];                                                             \
          v[j] = t;                                                                \
          i++;                                                                     \
          j--;                                                                     \
        }                                                                          \
      }                                                                            \
      /* [lo, j] <= pivot, (j, i) == pivot, [i, hi] >= pivot */                    \
      if (k <= j) hi = j;                                                          \
      else if (k >= i) lo = i;                                                     \
      else return;                                                                 \
    }                                                                              \
  }                                                                                \
  static void NAME##_row(const void* in_, int64_t n, void* scratch, void* out_) {  \
    const T* in = in_;                                                             \
    K* v = scratch;                                                                \
    OT* out = out_;                                                                \
    for (int64_t i = 0; i < n; i++) {                                              \
      v[i] = LOAD(in[i]);                                                          \
      if (ISNAN(v[i])) {                                                           \
        *out = NANV;                                                               \
        return;                                                                    \
      }                                                                            \
    }                                                                              \
    int64_t mid = n / 2;                                                           \
    NAME##_select(v, n, mid);                                                      \
    if (n % 2) {                                                                   \
      *out = ONE(ARG(v[mid]));                                                     \
      return;                                                                      \
    }                                                                              \
    K below = v[0]; /* the largest of v[0..mid) */                                 \
    for (int64_t i = 1; i < mid; i++)                                              \
      if (LT(below, v[i])) below = v[i];                                           \
    *out = TWO(ARG(below), ARG(v[mid]));                                           \
  }

MEDIAN_TYPES(MEDIAN_FNS)

typedef struct median_fns {
  size_t key_size;
  void (*row)(const void* in, int64_t n, void* scratch, void* out);
} median_fns;

static const median_fns median_table[DTYPE_COUNT] = {
#define MEDIAN_ENTRY(E, NAME, T, K, ...) [E] = {sizeof(K), NAME##_row},
    MEDIAN_TYPES(MEDIAN_ENTRY)
#undef MEDIAN_ENTRY
};

typedef struct median_job {
  const median_fns* f;
  const char* in;
  char* out;
  int64_t k;
  size_t in_row_bytes, out_size;
  atomic_int failed;
} median_job;

static void median_range(void* ctx, size_t begin, size_t end) {
  median_job* j = ctx;
  void* scratch = malloc((size_t)j->k * j->f->key_size);
  if (!scratch) {
    atomic_store(&j->failed, 1);
    return;
  }
  for (size_t r = begin; r < end; r++)
    j->f->row(j->in + r * j->in_row_bytes, j->k, scratch, j->out + r * j->out_size);
  free(scratch);
}

int cpu_median_eval(node* n) {
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  if (in->size == 0) return error_set("[median] Cannot take median along empty axis.");
  array* tmp = NULL;
  const array* src = in;
  if (!(in->flags & ARRAY_ROW_CONTIGUOUS)) {
    tmp = array_copy_contiguous(in, in->dtype);
    if (!tmp) return 1;
    src = tmp;
  }
  median_job j;
  j.f = &median_table[in->dtype];
  j.in = array_data(src);
  j.out = array_data(out);
  j.k = in->ndim ? in->shape[in->ndim - 1] : 1;
  j.in_row_bytes = (size_t)j.k * dtype_size(in->dtype);
  j.out_size = dtype_size(out->dtype);
  atomic_init(&j.failed, 0);
  size_t min_rows = MEDIAN_SERIAL_ELEMS / (size_t)j.k;
  pool_for(out->size, min_rows ? min_rows : 1, median_range, &j);
  if (tmp) array_release(tmp);
  if (atomic_load(&j.failed)) return error_set("[median] Out of memory.");
  return 0;
}
