/* softmax.c - CPU kernels of Softmax and LogSumExp along the last axis.
 *
 * Both work row by row on row-contiguous data (other layouts are copied
 * first), rows spread over the thread pool:
 *   softmax:   m = max(x); y = exp(x - m); out = y * (1 / sum(y))
 *   logsumexp: m = max(x); out = isinf(m) ? m : log(sum(exp(x - m))) + m
 * Each step is its own simple loop that the compiler vectorises; a row is
 * small enough to stay in cache between them, so the input is read from
 * memory once and the output written once, and while one row's
 * exponentials are computed the next row is prefetched.
 *
 * float16 and bfloat16 rows are widened into float32 scratch space and
 * computed there whether or not softmax was asked to be precise (MLX's CPU
 * kernel keeps them in their own type unless it is); float32 uses the
 * vectorisable exp below; float64 uses libm's exp. The max is NaN-sticky,
 * so a row holding NaN gives NaN, as in MLX. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/reduce.h"
#include "backend/cpu/reduce_types.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"

/* Rows below this many elements in all stay on the calling thread. */
#define ROWS_SERIAL_ELEMS ((size_t)1 << 15)
/* Accumulators per row loop. */
#define LANES 32

static inline float bits_to_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* e^x in float32 for x <= 0 (what softmax and logsumexp need: x - max),
 * written with arithmetic and bit operations only so that loops calling
 * it vectorise (GCC 12 does not vectorise float selects in the AVX2 clone,
 * so the clamp is an integer min on the bits). x = n ln2 + r with
 * |r| <= ln2/2 (ln2 split in two so n * ln2_hi is exact); e^r by its
 * Taylor series to r^7 (the remainder is below 1e-8 relative); then a
 * multiply by 2^n built from its bits. fmaf keeps the rounding the same
 * in every clone (FMA instructions or libm's exact fma).
 * Accuracy: within 1 ulp wherever e^x is a normal float (x >= -87.33,
 * checked against double exp on every float there); below, where e^x <
 * 2^-126, the result is 0 or a subnormal near the true one, an absolute
 * error under 2^-126 (softmax and logsumexp add these to at least 1).
 * -inf and anything below -88 give 0. A NaN gives NaN or 0 depending on
 * its sign bit; the callers' max is NaN whenever an input is, which makes
 * their results NaN either way. */
static inline float exp_f32(float x) {
  /* as unsigned integers, the bits of negative floats grow with their
   * magnitude above those of every positive float: an unsigned min clamps
   * x < -88 (and -inf) to -88 and leaves x >= -88 alone */
  uint32_t xb = f32_to_bits(x);
  x = bits_to_f32(xb < 0xc2b00000u ? xb : 0xc2b00000u);
  const float round_magic = 12582912.0f; /* 1.5 * 2^23: rounds to integer */
  float t = fmaf(x, 1.44269504088896341f, round_magic);
  uint32_t n_bits = f32_to_bits(t) - f32_to_bits(round_magic);
  float n = t - round_magic;
  float r = fmaf(n, -0.693145751953125f, x);
  r = fmaf(n, -1.428606765330187045e-06f, r);
  float p = 1.0f / 5040.0f;
  p = fmaf(p, r, 1.0f / 720.0f);
  p = fmaf(p, r, 1.0f / 120.0f);
  p = fmaf(p, r, 1.0f / 24.0f);
  p = fmaf(p, r, 1.0f / 6.0f);
  p = fmaf(p, r, 0.5f);
  p = fmaf(p, r, 1.0f);
  p = fmaf(p, r, 1.0f);
  /* 2^n for n in [-127, 0]: n = -127 gives the bits of 0.0 */
  return p * bits_to_f32((n_bits + 127u) << 23);
}

/* Asks for `bytes` at p (to read) and q (to write; may be NULL) to be
 * brought into cache. */
static inline void prefetch_span(const void* p, void* q, size_t bytes) {
  for (size_t b = 0; b < bytes; b += 64) {
    __builtin_prefetch((const char*)p + b, 0, 3);
    if (q) __builtin_prefetch((char*)q + b, 1, 3);
  }
}

#define STICKY_MAX(a, v) (((v) > (a) || (v) != (v)) ? (v) : (a))
/* Elements per chunk of the exp-and-sum loop (a stack buffer). */
#define CHUNK 512

/* The row loops in the compute type A (float or double), each a simple
 * loop the compiler vectorises. EXP: exp_f32 or libm's exp. */
#define ROW_FNS(ATTR, NAME, A, EXP)                                          \
  ATTR static A NAME##_max(const A* x, size_t k) {                           \
    A lane[LANES];                                                           \
    for (int j = 0; j < LANES; j++) lane[j] = -(A)INFINITY;                  \
    size_t i = 0;                                                            \
    for (; i + LANES <= k; i += LANES)                                       \
      for (int j = 0; j < LANES; j++) lane[j] = STICKY_MAX(lane[j], x[i + j]); \
    A m = -(A)INFINITY;                                                      \
    for (int j = 0; j < LANES; j++) m = STICKY_MAX(m, lane[j]);              \
    for (; i < k; i++) m = STICKY_MAX(m, x[i]);                              \
    return m;                                                                \
  }                                                                          \
  ATTR static A NAME##_sum(const A* x, size_t k) {                           \
    A lane[LANES];                                                           \
    for (int j = 0; j < LANES; j++) lane[j] = 0;                             \
    size_t i = 0;                                                            \
    for (; i + LANES <= k; i += LANES)                                       \
      for (int j = 0; j < LANES; j++) lane[j] += x[i + j];                   \
    A s = 0;                                                                 \
    for (int j = 0; j < LANES; j++) s += lane[j];                            \
    for (; i < k; i++) s += x[i];                                            \
    return s;                                                                \
  }                                                                          \
  /* y[i] = exp(x[i] - m) */                                                 \
  ATTR static void NAME##_exp(const A* x, A* y, size_t k, A m) {             \
    for (size_t i = 0; i < k; i++) y[i] = EXP(x[i] - m);                     \
  }                                                                          \
  ATTR static void NAME##_scale(A* y, size_t k, A s) {                       \
    for (size_t i = 0; i < k; i++) y[i] *= s;                                \
  }                                                                          \
  /* softmax of x into y (y may be x). While the exponentials of a chunk \
   * are computed, the same chunk of the next row (nx; NULL when there is \
   * none) is fetched into cache, so that memory and arithmetic overlap  \
   * instead of taking turns row by row. */                              \
  static void NAME##_softmax(const A* x, A* y, size_t k, const A* nx) {      \
    A m = NAME##_max(x, k);                                                  \
    for (size_t i = 0; i < k; i += CHUNK) {                                  \
      size_t n = k - i < CHUNK ? k - i : CHUNK;                              \
      NAME##_exp(x + i, y + i, n, m);                                        \
      if (nx) prefetch_span(nx + i, NULL, n * sizeof(A));                    \
    }                                                                        \
    NAME##_scale(y, k, (A)1 / NAME##_sum(y, k));                             \
  }                                                                          \
  static A NAME##_logsumexp(const A* x, size_t k, const A* nx) {             \
    A m = NAME##_max(x, k);                                                  \
    if (isinf(m)) return m;                                                  \
    A buf[CHUNK], s = 0;                                                     \
    for (size_t i = 0; i < k; i += CHUNK) {                                  \
      size_t n = k - i < CHUNK ? k - i : CHUNK;                              \
      NAME##_exp(x + i, buf, n, m);                                          \
      s += NAME##_sum(buf, n);                                               \
      if (nx) prefetch_span(nx + i, NULL, n * sizeof(A));                    \
    }                                                                        \
    return LOG(s) + m;                                                       \
  }

#define LOG logf
ROW_FNS(CPU_KERNEL, f32, float, exp_f32)
#undef LOG
#define LOG log
ROW_FNS(, f64, double, exp)
#undef LOG

/* float16 / bfloat16 rows go through float scratch space. */
CPU_KERNEL static void f16_to_float_row(const uint16_t* x, float* y, size_t k) {
  for (size_t i = 0; i < k; i++) y[i] = reduce_load_f16(x[i]);
}
CPU_KERNEL static void bf16_to_float_row(const uint16_t* x, float* y, size_t k) {
  for (size_t i = 0; i < k; i++) y[i] = bf16_to_f32(x[i]);
}
static void float_to_half_row(const float* x, uint16_t* y, size_t k, bool bf16) {
  if (bf16) {
    for (size_t i = 0; i < k; i++) y[i] = f32_to_bf16(x[i]);
  } else {
    for (size_t i = 0; i < k; i++) y[i] = f32_to_f16(x[i]);
  }
}

typedef struct rows_job {
  const char* in;
  char* out;
  size_t k;
  size_t in_row_bytes, out_row_bytes;
  mlx_dtype dtype;
  bool logsumexp;
  atomic_int failed;
} rows_job;

static void rows_range(void* ctx, size_t begin, size_t end) {
  rows_job* j = ctx;
  bool half = j->dtype == MLX_FLOAT16 || j->dtype == MLX_BFLOAT16;
  bool bf16 = j->dtype == MLX_BFLOAT16;
  float* scratch = NULL;
  if (half) {
    scratch = malloc(j->k * sizeof *scratch);
    if (!scratch) {
      atomic_store(&j->failed, 1);
      return;
    }
  }
  for (size_t r = begin; r < end; r++) {
    const void* in = j->in + r * j->in_row_bytes;
    void* out = j->out + r * j->out_row_bytes;
    /* the next row of this range, to prefetch (float32 and float64) */
    const void* nin = r + 1 < end ? (const char*)in + j->in_row_bytes : NULL;
    if (half) {
      if (bf16) bf16_to_float_row(in, scratch, j->k);
      else f16_to_float_row(in, scratch, j->k);
      if (j->logsumexp) {
        float v = f32_logsumexp(scratch, j->k, NULL);
        *(uint16_t*)out = bf16 ? f32_to_bf16(v) : f32_to_f16(v);
      } else {
        f32_softmax(scratch, scratch, j->k, NULL);
        float_to_half_row(scratch, out, j->k, bf16);
      }
    } else if (j->dtype == MLX_FLOAT64) {
      if (j->logsumexp) *(double*)out = f64_logsumexp(in, j->k, nin);
      else f64_softmax(in, out, j->k, nin);
    } else {
      if (j->logsumexp) *(float*)out = f32_logsumexp(in, j->k, nin);
      else f32_softmax(in, out, j->k, nin);
    }
  }
  free(scratch);
}

static bool row_dtype_ok(mlx_dtype t) {
  return t == MLX_FLOAT16 || t == MLX_BFLOAT16 || t == MLX_FLOAT32 || t == MLX_FLOAT64;
}

/* Runs the rows of in (row-contiguous after a copy if needed) into out. */
static int rows_eval(node* n, bool logsumexp, const char* name) {
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  if (!row_dtype_ok(in->dtype))
    return error_set("[%s] Only defined for floating point types.", name);
  array* tmp = NULL;
  array* src = in;
  if (!(in->flags & ARRAY_ROW_CONTIGUOUS)) {
    tmp = array_copy_contiguous(in, in->dtype);
    if (!tmp) return 1;
    src = tmp;
  }
  /* softmax may write over its input when that dies with this node */
  int rc = logsumexp ? array_alloc(out) : array_alloc_or_donate(out, &src, 1);
  if (rc == 0 && out->size > 0 && in->size > 0) {
    size_t k = in->ndim ? (size_t)in->shape[in->ndim - 1] : 1;
    size_t es = dtype_size(in->dtype);
    rows_job j = {array_data(src), array_data(out), k, k * es,
                  logsumexp ? es : k * es, in->dtype, logsumexp, 0};
    atomic_init(&j.failed, 0);
    size_t rows = in->size / k;
    size_t min_rows = ROWS_SERIAL_ELEMS / k;
    pool_for(rows, min_rows ? min_rows : 1, rows_range, &j);
    if (atomic_load(&j.failed)) rc = error_set("[%s] Out of memory.", name);
  }
  if (tmp) array_release(tmp);
  return rc;
}

int cpu_softmax_eval(node* n) {
  return rows_eval(n, false, "softmax");
}

int cpu_logsumexp_eval(node* n) {
  return rows_eval(n, true, "logsumexp");
}
