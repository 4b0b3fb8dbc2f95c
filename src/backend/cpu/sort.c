/* sort.c - sort, argsort, partition and argpartition along one axis.
 *
 * Every row (the elements along the axis, for one position of the other
 * axes) is gathered into a contiguous scratch buffer, processed, and
 * written to the row-contiguous output; rows are spread over the thread
 * pool. Two algorithms, written once and instantiated per dtype by the
 * macros below:
 * - a stable merge sort (insertion-sorted runs, then bottom-up merges).
 *   MLX uses std::stable_sort, whose result under a strict weak order is
 *   unique, so any stable sort gives the same bytes;
 * - introselect, step for step as libstdc++'s std::nth_element does it
 *   (median-of-3 pivot moved to the front, unguarded Hoare partition,
 *   heap select after 2*floor(log2 n) rounds, insertion sort below 4
 *   elements), because MLX returns whatever arrangement that produces and
 *   topk's order comes from it.
 * Orders (MLX's comparators): numbers ascending, NaN after all numbers
 * (NaNs equal to each other); complex64 by real part, then imaginary part,
 * a NaN in either part sorting last; indices by value, ties by index. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/sort.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"
#include "core/half.h"

/* ---- the orders, per class of dtype ---- */

#define SORT_SAME(x) (x)

/* integers and bool: plain comparisons, no NaN */
#define PLAIN_NAN(L, x) false
#define PLAIN_LT(L, x, y) ((x) < (y))
#define PLAIN_EQ(L, x, y) ((x) == (y))
/* real floats, compared after loading (float16/bfloat16 as float) */
#define FLOATING_NAN(L, x) isnan(L(x))
#define FLOATING_LT(L, x, y) (L(x) < L(y))
#define FLOATING_EQ(L, x, y) (L(x) == L(y))
/* complex64: lexicographic */
#define COMPLEX_NAN(L, x) (isnan((x).re) || isnan((x).im))
#define COMPLEX_LT(L, x, y) ((x).re < (y).re || ((x).re == (y).re && (x).im < (y).im))
#define COMPLEX_EQ(L, x, y) ((x).re == (y).re && (x).im == (y).im)

/* X(name, storage type, class, load) */
#define SORT_DTYPES(X)                           \
  X(bool, bool, PLAIN, SORT_SAME)                \
  X(uint8, uint8_t, PLAIN, SORT_SAME)            \
  X(uint16, uint16_t, PLAIN, SORT_SAME)          \
  X(uint32, uint32_t, PLAIN, SORT_SAME)          \
  X(uint64, uint64_t, PLAIN, SORT_SAME)          \
  X(int8, int8_t, PLAIN, SORT_SAME)              \
  X(int16, int16_t, PLAIN, SORT_SAME)            \
  X(int32, int32_t, PLAIN, SORT_SAME)            \
  X(int64, int64_t, PLAIN, SORT_SAME)            \
  X(float16, uint16_t, FLOATING, f16_to_f32)     \
  X(float32, float, FLOATING, SORT_SAME)         \
  X(float64, double, FLOATING, SORT_SAME)        \
  X(bfloat16, uint16_t, FLOATING, bf16_to_f32)   \
  X(complex64, complex64, COMPLEX, SORT_SAME)

/* vless_<name>(ctx, a, b): values, NaN last (sort, partition).
 * iless_<name>(ctx, i, j): indices into the row ctx, by value then index
 * (argsort, argpartition). */
#define SORT_DEFINE_ORDERS(name, T, cls, L)                                        \
  static inline bool vless_##name(const void* ctx, T a, T b) {                     \
    (void)ctx;                                                                     \
    if (cls##_NAN(L, a)) return false;                                             \
    if (cls##_NAN(L, b)) return true;                                              \
    return cls##_LT(L, a, b);                                                      \
  }                                                                                \
  static inline bool iless_##name(const void* ctx, uint32_t i, uint32_t j) {       \
    const T* v = ctx;                                                              \
    T a = v[i], b = v[j];                                                          \
    if (cls##_NAN(L, a)) return false;                                             \
    if (cls##_NAN(L, b)) return true;                                              \
    return cls##_LT(L, a, b) || (cls##_EQ(L, a, b) && i < j);                      \
  }
SORT_DTYPES(SORT_DEFINE_ORDERS)

/* ---- the algorithms, instantiated per element type and order ---- */

/* Runs of this many elements are insertion-sorted before merging. */
#define SORT_RUN 16

/* SORT_ALGOS_DEFINE(p, E, LESS) defines, for elements E ordered by
 * LESS(ctx, x, y):
 *   p##_sort(a, n, tmp, ctx)   stable merge sort of a[0, n); tmp has room
 *                              for n elements;
 *   p##_select(a, n, kth, ctx) introselect, as libstdc++'s nth_element.
 * Both share libstdc++'s insertion sort, which is stable. */
#define SORT_ALGOS_DEFINE(p, E, LESS)                                              \
  static void p##_swap(E* a, int i, int j) {                                       \
    E t = a[i];                                                                    \
    a[i] = a[j];                                                                   \
    a[j] = t;                                                                      \
  }                                                                                \
  /* __insertion_sort: a new minimum moves to the front in one go; the     \
   * rest sift down until an element not greater stops them */                     \
  static void p##_insertion(E* a, int first, int last, const void* ctx) {          \
    if (first == last) return;                                                     \
    for (int i = first + 1; i != last; i++) {                                      \
      E v = a[i];                                                                  \
      if (LESS(ctx, v, a[first])) {                                                \
        memmove(a + first + 1, a + first, (size_t)(i - first) * sizeof(E));       \
        a[first] = v;                                                              \
      } else {                                                                     \
        int k = i;                                                                 \
        while (LESS(ctx, v, a[k - 1])) {                                           \
          a[k] = a[k - 1];                                                         \
          k--;                                                                     \
        }                                                                          \
        a[k] = v;                                                                  \
      }                                                                            \
    }                                                                              \
  }                                                                                \
  static void p##_sort(E* a, int n, E* tmp, const void* ctx) {                     \
    for (int64_t lo = 0; lo < n; lo += SORT_RUN)                                   \
      p##_insertion(a, (int)lo, n - lo > SORT_RUN ? (int)lo + SORT_RUN : n, ctx);  \
    E* src = a;                                                                    \
    E* dst = tmp;                                                                  \
    for (int64_t w = SORT_RUN; w < n; w *= 2) {                                   \
      for (int64_t lo = 0; lo < n; lo += 2 * w) {                                  \
        int64_t mid = lo + w < n ? lo + w : n;                                     \
        int64_t hi = lo + 2 * w < n ? lo + 2 * w : n;                              \
        int64_t i = lo, j = mid, o = lo;                                           \
        if (mid < hi && !LESS(ctx, src[mid], src[mid - 1])) {                      \
          memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(E)); /* in order */ \
          continue;                                                                \
        }                                                                          \
        /* the right side wins only when strictly smaller: stable */               \
        while (i < mid && j < hi) dst[o++] = LESS(ctx, src[j], src[i]) ? src[j++] : src[i++]; \
        while (i < mid) dst[o++] = src[i++];                                       \
        while (j < hi) dst[o++] = src[j++];                                        \
      }                                                                            \
      E* t = src;                                                                  \
      src = dst;                                                                   \
      dst = t;                                                                     \
    }                                                                              \
    if (src != a) memcpy(a, src, (size_t)n * sizeof(E));                           \
  }                                                                                \
  /* __adjust_heap: sifts the hole at `hole` down to a leaf, then value up */     \
  static void p##_adjust(E* a, int hole, int len, E value, const void* ctx) {      \
    int top = hole, child = hole;                                                  \
    while (child < (len - 1) / 2) {                                                \
      child = 2 * (child + 1);                                                     \
      if (LESS(ctx, a[child], a[child - 1])) child--;                              \
      a[hole] = a[child];                                                          \
      hole = child;                                                                \
    }                                                                              \
    if ((len & 1) == 0 && child == (len - 2) / 2) {                                \
      child = 2 * (child + 1);                                                     \
      a[hole] = a[child - 1];                                                      \
      hole = child - 1;                                                            \
    }                                                                              \
    int parent = (hole - 1) / 2;                                                   \
    while (hole > top && LESS(ctx, a[parent], value)) {                            \
      a[hole] = a[parent];                                                         \
      hole = parent;                                                               \
      parent = (hole - 1) / 2;                                                     \
    }                                                                              \
    a[hole] = value;                                                               \
  }                                                                                \
  /* __heap_select: a[first, middle) becomes a max-heap of the smallest */         \
  static void p##_heap_select(E* a, int first, int middle, int last, const void* ctx) { \
    E* h = a + first;                                                              \
    int len = middle - first;                                                      \
    if (len >= 2)                                                                  \
      for (int parent = (len - 2) / 2;; parent--) {                                \
        p##_adjust(h, parent, len, h[parent], ctx);                                \
        if (parent == 0) break;                                                    \
      }                                                                            \
    for (int i = middle; i < last; i++)                                            \
      if (LESS(ctx, a[i], h[0])) {                                                 \
        E value = a[i];                                                            \
        a[i] = h[0];                                                               \
        p##_adjust(h, 0, len, value, ctx);                                         \
      }                                                                            \
  }                                                                                \
  /* __move_median_to_first: the median of a[x], a[y], a[z] into a[result] */     \
  static void p##_median_first(E* a, int result, int x, int y, int z, const void* ctx) { \
    int m;                                                                         \
    if (LESS(ctx, a[x], a[y]))                                                     \
      m = LESS(ctx, a[y], a[z]) ? y : LESS(ctx, a[x], a[z]) ? z : x;               \
    else                                                                           \
      m = LESS(ctx, a[x], a[z]) ? x : LESS(ctx, a[y], a[z]) ? z : y;               \
    p##_swap(a, result, m);                                                        \
  }                                                                                \
  /* __unguarded_partition around a[pivot]; the median-of-3 choice         \
   * guarantees both scans stop inside the range */                                \
  static int p##_partition(E* a, int first, int last, int pivot, const void* ctx) { \
    for (;;) {                                                                     \
      while (LESS(ctx, a[first], a[pivot])) first++;                               \
      last--;                                                                      \
      while (LESS(ctx, a[pivot], a[last])) last--;                                 \
      if (!(first < last)) return first;                                           \
      p##_swap(a, first, last);                                                    \
      first++;                                                                     \
    }                                                                              \
  }                                                                                \
  static void p##_select(E* a, int n, int kth, const void* ctx) {                  \
    if (n == 0 || kth == n) return;                                                \
    int first = 0, last = n;                                                       \
    int depth = 2 * (31 - __builtin_clz((unsigned)n));                             \
    while (last - first > 3) {                                                     \
      if (depth == 0) {                                                            \
        p##_heap_select(a, first, kth + 1, last, ctx);                             \
        p##_swap(a, first, kth);                                                   \
        return;                                                                    \
      }                                                                            \
      depth--;                                                                     \
      int mid = first + (last - first) / 2;                                        \
      p##_median_first(a, first, first + 1, mid, last - 1, ctx);                   \
      int cut = p##_partition(a, first + 1, last, first, ctx);                     \
      if (cut <= kth)                                                              \
        first = cut;                                                               \
      else                                                                         \
        last = cut;                                                                \
    }                                                                              \
    p##_insertion(a, first, last, ctx);                                            \
  }

/* ---- one row, per dtype ---- */

/* Scratch of one task: room for a row of values, a second row (merge
 * buffer) and two rows of indices. */
typedef struct sort_scratch {
  void* vals;
  void* tmp;
  uint32_t* idx;
  uint32_t* idx_tmp;
} sort_scratch;

typedef void (*sort_row_fn)(sort_kind kind, int kth, const char* src, int64_t src_step, char* dst,
                            int64_t dst_step, int n, sort_scratch* s);

#define SORT_DEFINE_ROW(name, T, cls, L)                                                 \
  SORT_ALGOS_DEFINE(values_##name, T, vless_##name)                                      \
  SORT_ALGOS_DEFINE(indices_##name, uint32_t, iless_##name)                              \
  static void row_##name(sort_kind kind, int kth, const char* src, int64_t src_step,      \
                         char* dst, int64_t dst_step, int n, sort_scratch* s) {          \
    T* v = s->vals;                                                                      \
    const T* in = (const T*)src;                                                         \
    for (int i = 0; i < n; i++) v[i] = in[i * src_step];                                 \
    if (kind == SORT_VALUES || kind == PARTITION_VALUES) {                               \
      if (kind == SORT_VALUES)                                                           \
        values_##name##_sort(v, n, s->tmp, NULL);                                  \
      else                                                                               \
        values_##name##_select(v, n, kth, NULL);                                           \
      T* out = (T*)dst;                                                                  \
      for (int i = 0; i < n; i++) out[i * dst_step] = v[i];                              \
      return;                                                                            \
    }                                                                                    \
    uint32_t* idx = s->idx;                                                              \
    for (int i = 0; i < n; i++) idx[i] = (uint32_t)i;                                    \
    if (kind == SORT_INDICES)                                                            \
      indices_##name##_sort(idx, n, s->idx_tmp, v);                                \
    else                                                                                 \
      indices_##name##_select(idx, n, kth, v);                                             \
    uint32_t* out = (uint32_t*)dst;                                                      \
    for (int i = 0; i < n; i++) out[i * dst_step] = idx[i];                              \
  }
SORT_DTYPES(SORT_DEFINE_ROW)

static const sort_row_fn sort_rows[DTYPE_COUNT] = {
#define SORT_ROW_ENTRY(name, T, cls, L) row_##name,
    SORT_DTYPES(SORT_ROW_ENTRY)
#undef SORT_ROW_ENTRY
};

/* ---- the driver ---- */

typedef struct sort_job {
  const sort_params* p;
  sort_row_fn row;
  int n;          /* the axis's length */
  int outer;      /* the other axes */
  const int* shape;        /* outer sizes */
  const int64_t* in_st;    /* outer strides */
  const int64_t* out_st;
  int64_t in_step, out_step; /* strides along the axis */
  const char* in;
  char* out;
  size_t in_size, out_size;  /* element sizes */
  atomic_bool failed;
} sort_job;

static void sort_task(void* ctx, size_t begin, size_t end) {
  sort_job* j = ctx;
  size_t n = (size_t)j->n, es = j->in_size;
  size_t row_bytes = (n * es + 7) & ~(size_t)7; /* keeps every part 8-byte aligned */
  char* mem = malloc(2 * row_bytes + 2 * n * sizeof(uint32_t) + 1);
  if (!mem) {
    atomic_store(&j->failed, true);
    return;
  }
  sort_scratch s = {mem, mem + row_bytes, (uint32_t*)(mem + 2 * row_bytes), NULL};
  s.idx_tmp = s.idx + n;
  int64_t idx[j->outer > 0 ? j->outer : 1];
  size_t rem = begin;
  for (int d = j->outer - 1; d >= 0; d--) {
    idx[d] = (int64_t)(rem % (size_t)j->shape[d]);
    rem /= (size_t)j->shape[d];
  }
  for (size_t r = begin; r < end; r++) {
    int64_t in_off = 0, out_off = 0;
    for (int d = 0; d < j->outer; d++) {
      in_off += idx[d] * j->in_st[d];
      out_off += idx[d] * j->out_st[d];
    }
    j->row(j->p->kind, j->p->kth, j->in + in_off * (int64_t)es, j->in_step,
           j->out + out_off * (int64_t)j->out_size, j->out_step, j->n, &s);
    for (int d = j->outer - 1; d >= 0; d--) {
      if (++idx[d] < j->shape[d]) break;
      idx[d] = 0;
    }
  }
  free(mem);
}

int cpu_sort_eval(node* n) {
  const sort_params* p = n->params;
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  if (array_alloc_or_donate(out, &in, 1)) return 1;
  if (out->size == 0) return 0;
  int nd = in->ndim, ax = p->axis;
  int shape[nd];
  int64_t in_st[nd], out_st[nd];
  for (int d = 0, o = 0; d < nd; d++) {
    if (d == ax) continue;
    shape[o] = in->shape[d];
    in_st[o] = in->strides[d];
    out_st[o++] = out->strides[d];
  }
  sort_job j = {.p = p,
                .row = sort_rows[in->dtype],
                .n = in->shape[ax],
                .outer = nd - 1,
                .shape = shape,
                .in_st = in_st,
                .out_st = out_st,
                .in_step = in->strides[ax],
                .out_step = out->strides[ax],
                .in = array_data(in),
                .out = array_data(out),
                .in_size = dtype_size(in->dtype),
                .out_size = dtype_size(out->dtype)};
  atomic_init(&j.failed, false);
  size_t rows = out->size / (size_t)j.n;
  size_t per_task = (size_t)(4096 / j.n) + 1;
  pool_for(rows, per_task, sort_task, &j);
  if (atomic_load(&j.failed)) return error_set("[%s] Out of memory.", n->prim->name);
  return 0;
}
