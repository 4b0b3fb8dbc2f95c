/* random.c - front-ends of the random ops: keys, the per-thread global key
 * sequence, RandomBits nodes, the samplers MLX builds on them, and
 * searchsorted (for categorical).
 *
 * Only bits (and searchsorted) are primitives. Every sampler is composed
 * here from the elementwise, reduction and indexing ops in exactly the order
 * and dtypes of MLX's random.cpp: that is what makes uniform, randint and
 * bernoulli equal MLX bit for bit (float32(bits) / 2^32, a minimum, a cast,
 * a multiply and an add, each rounded where MLX rounds), and normal equal
 * through MLX's own erfinv formula (backend/cpu/unary.c).
 *
 * The sampler bodies use small helpers that consume their arguments and
 * pass NULL through (bin, un, cast): a chain of ops reads like MLX's
 * expression and stops at the first failure, whose message stays pending,
 * with every intermediate released.
 *
 * The global sequence is MLX's KeySequence: a key per thread, started from
 * the wall-clock milliseconds read once per process (so threads that never
 * seed start alike, as in MLX). It is kept as two words rather than an
 * array, so a thread that exits leaves nothing behind. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/random.h"
#include "core/error.h"
#include "core/half.h"
#include "ops/binary_list.h"
#include "ops/compose.h"
#include "ops/ops.h"
#include "ops/random.h"
#include "ops/indexing.h"
#include "ops/reduce.h"
#include "ops/sort.h"
#include "ops/unary_list.h"

static const primitive prim_bits = {"RandomBits", cpu_random_bits_eval, NULL, NULL};
static const primitive prim_searchsorted = {"SearchSorted", cpu_searchsorted_eval, NULL,
                                            NULL};

/* A 0-d array of dtype holding v (MLX's array(v, dtype)). */
static array* scalar(double v, mlx_dtype dtype) {
  return op_scalar(v, dtype);
}

static int check_dtype(const char* op, mlx_dtype dtype) {
  if (!dtype_valid((int)dtype)) return error_set("[%s] Invalid dtype %d.", op, (int)dtype);
  return 0;
}

/* A shape argument the samplers pass on (dims are checked where MLX checks
 * them, in bits). */
static int check_shape_arg(const char* op, const int* shape, int ndim) {
  if (ndim < 0) return error_set("[%s] Negative number of dimensions.", op);
  if (ndim > 0 && !shape) return error_set("[%s] Shape pointer is NULL.", op);
  return 0;
}

static bool same_shape(const int* a, int na, const int* b, int nb) {
  return na == nb && (na == 0 || memcmp(a, b, sizeof(int) * (size_t)na) == 0);
}

/* ---- keys and the global sequence ---- */

static uint64_t process_seed;
static pthread_once_t process_seed_once = PTHREAD_ONCE_INIT;

static void take_process_seed(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  process_seed = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static _Thread_local struct {
  bool started;
  uint32_t key[2];
} sequence;

static void key_words(uint64_t seed, uint32_t key[2]) {
  key[0] = (uint32_t)(seed >> 32);
  key[1] = (uint32_t)seed;
}

array* op_random_key(uint64_t seed) {
  uint32_t key[2];
  key_words(seed, key);
  int two = 2;
  return array_new_copy(MLX_UINT32, 1, &two, key);
}

void random_seed(uint64_t seed) {
  key_words(seed, sequence.key);
  sequence.started = true;
}

array* random_next_key(void) {
  if (!sequence.started) {
    pthread_once(&process_seed_once, take_process_seed);
    random_seed(process_seed);
  }
  /* split(key) = bits([2, 2], key): row 0 carries on, row 1 is handed out */
  uint32_t words[4];
  random_bits_fill(sequence.key[0], sequence.key[1], words, sizeof words);
  sequence.key[0] = words[0];
  sequence.key[1] = words[1];
  int two = 2;
  return array_new_copy(MLX_UINT32, 1, &two, words + 2);
}

/* ---- bits and split ---- */

array* op_random_bits(const int* shape, int ndim, int width, array* key, stream s) {
  if (shape_check("bits", shape, ndim, NULL)) return NULL;
  array* k = key ? take_ref(key) : random_next_key();
  if (!k) return NULL;
  char buf[256];
  if (k->dtype != MLX_UINT32) {
    error_set("[bits] Expected key type uint32 but received %s.", dtype_name(k->dtype));
  } else if (k->ndim != 1 || k->shape[0] != 2) {
    error_set("[bits] Expected key shape (2) but received %s.",
              error_format_shape(buf, sizeof buf, k->shape, k->ndim));
  } else if (width == 4 || width == 2 || width == 1) {
    mlx_dtype dtype = width == 4 ? MLX_UINT32 : width == 2 ? MLX_UINT16 : MLX_UINT8;
    array* out = array_new_op(dtype, ndim, shape, &prim_bits, NULL, &k, 1, s);
    array_release(k);
    return out;
  } else {
    error_set("[bits] Bit width must be in {1, 2, 4} but got %d.", width);
  }
  array_release(k);
  return NULL;
}

array* op_random_split_num(array* key, int num, stream s) {
  int shape[2] = {num, 2};
  return op_random_bits(shape, 2, 4, key, s);
}

int op_random_split(array** first, array** second, array* key, stream s) {
  array* both = op_random_split_num(key, 2, s);
  if (!both) return 1;
  int two = 2, step[2] = {1, 1};
  int start0[2] = {0, 0}, stop0[2] = {1, 2}, start1[2] = {1, 0}, stop1[2] = {2, 2};
  array* row0 = op_slice(both, start0, stop0, step, s);
  array* row1 = row0 ? op_slice(both, start1, stop1, step, s) : NULL;
  array_release(both);
  array* a = row1 ? op_reshape(row0, &two, 1, s) : NULL;
  array* b = a ? op_reshape(row1, &two, 1, s) : NULL;
  array_release(row0);
  array_release(row1);
  if (!b) {
    array_release(a);
    return 1;
  }
  *first = a;
  *second = b;
  return 0;
}

/* ---- uniform ---- */

/* The largest value below 1 in dtype, as a float32 value (MLX's get_upper);
 * 0 for the dtypes MLX's uniform does not support. */
static float below_one(mlx_dtype dtype) {
  switch (dtype) {
    case MLX_FLOAT32: return nextafterf(1.0f, 0.0f);
    case MLX_FLOAT16: return f16_to_f32(0x3BFF); /* float16(1) - 1 ulp */
    case MLX_BFLOAT16: return bf16_to_f32(0x3F7F);
    default: return 0.0f;
  }
}

/* MLX's check that the bounds' shape broadcasts into shape exactly. */
static int check_uniform_shape(const int* shape, int ndim, const array* range) {
  int nb = ndim > range->ndim ? ndim : range->ndim, nout;
  int bshape[nb > 0 ? nb : 1];
  if (broadcast_shapes(shape, ndim, range->shape, range->ndim, bshape, &nout)) return 1;
  if (!same_shape(bshape, nout, shape, ndim)) {
    char sa[256], sb[256];
    return error_set(
        "[uniform] Cannot generate random values of shape %s from broadcasted shape %s.",
        error_format_shape(sa, sizeof sa, shape, ndim),
        error_format_shape(sb, sizeof sb, bshape, nout));
  }
  return 0;
}

array* op_random_uniform(array* low, array* high, const int* shape, int ndim, mlx_dtype dtype,
                         array* key, stream s) {
  if (check_dtype("uniform", dtype) || check_shape_arg("uniform", shape, ndim)) return NULL;
  if (!dtype_is_floating(dtype)) {
    error_set("[uniform] Can only generate uniform numbers with real floating point type.");
    return NULL;
  }
  array* lo = take_astype(take_ref(low), dtype, s);
  array* range =
      take_binary(BINARY_SUBTRACT, take_astype(take_ref(high), dtype, s), take_ref(lo), s);
  float upper = below_one(dtype);
  if (!range || check_uniform_shape(shape, ndim, range) ||
      (upper == 0.0f && error_set("[uniform] Unsupported type."))) {
    array_release(lo);
    array_release(range);
    return NULL;
  }
  /* float32(bits) / float32(UINT32_MAX) (which is 2^32), kept below 1 */
  array* u = take_binary(BINARY_DIVIDE, op_random_bits(shape, ndim, 4, key, s),
                 scalar((double)UINT32_MAX, MLX_FLOAT32), s);
  u = take_astype(take_binary(BINARY_MINIMUM, u, scalar(upper, MLX_FLOAT32), s), dtype, s);
  return take_binary(BINARY_ADD, take_binary(BINARY_MULTIPLY, range, u, s), lo, s);
}

/* uniform(low, high) with float32 scalar bounds. */
static array* uniform_f32(float low, float high, const int* shape, int ndim, array* key,
                          stream s) {
  array* lo = scalar(low, MLX_FLOAT32);
  array* hi = scalar(high, MLX_FLOAT32);
  array* out = lo && hi ? op_random_uniform(lo, hi, shape, ndim, MLX_FLOAT32, key, s) : NULL;
  array_release(lo);
  array_release(hi);
  return out;
}

/* uniform(shape, dtype): bounds 0 and 1 in dtype. */
static array* uniform_unit(const int* shape, int ndim, mlx_dtype dtype, array* key, stream s) {
  array* lo = scalar(0.0, dtype);
  array* hi = scalar(1.0, dtype);
  array* out = lo && hi ? op_random_uniform(lo, hi, shape, ndim, dtype, key, s) : NULL;
  array_release(lo);
  array_release(hi);
  return out;
}

/* ---- normal ---- */

/* complex64: the real and imaginary parts of erfinv(u) for u uniform in
 * (-1, 1), through a view of [..., 2] float32 as complex64; loc and scale
 * are applied without casts, as in MLX. */
static array* complex_normal(const int* shape, int ndim, array* loc, array* scale, array* key,
                             stream s) {
  int* shape2 = malloc(sizeof(int) * (size_t)(ndim + 1));
  if (!shape2) {
    error_set("[normal] Out of memory.");
    return NULL;
  }
  if (ndim) memcpy(shape2, shape, sizeof(int) * (size_t)ndim);
  shape2[ndim] = 2;
  array* samples = take_unary(UNARY_ERFINV,
                      uniform_f32(nextafterf(-1.0f, 0.0f), 1.0f, shape2, ndim + 1, key, s), s);
  free(shape2);
  if (!samples) return NULL;
  array* c = op_view(samples, MLX_COMPLEX64, s);
  array_release(samples);
  int last = -1;
  samples = c ? op_squeeze_axes(c, &last, 1, s) : NULL;
  array_release(c);
  if (samples && scale) samples = take_binary(BINARY_MULTIPLY, take_ref(scale), samples, s);
  if (samples && loc) samples = take_binary(BINARY_ADD, take_ref(loc), samples, s);
  return samples;
}

array* op_random_normal(const int* shape, int ndim, mlx_dtype dtype, array* loc, array* scale,
                        array* key, stream s) {
  if (check_dtype("normal", dtype) || check_shape_arg("normal", shape, ndim)) return NULL;
  if (dtype == MLX_COMPLEX64) return complex_normal(shape, ndim, loc, scale, key, s);
  if (!dtype_is_floating(dtype)) {
    error_set("[normal] Only floating point and complex64 types are supported.");
    return NULL;
  }
  /* u in [nextafter(-1, 0), 1): the range rounds to 2 in float32 */
  array* samples = uniform_f32(nextafterf(-1.0f, 0.0f), 1.0f, shape, ndim, key, s);
  if (!samples) return NULL;
  array* applied_scale = scalar(sqrt(2.0), dtype);
  if (scale)
    applied_scale =
        take_binary(BINARY_MULTIPLY, applied_scale, take_astype(take_ref(scale), dtype, s), s);
  samples = take_binary(BINARY_MULTIPLY, applied_scale,
                        take_astype(take_unary(UNARY_ERFINV, samples, s), dtype, s), s);
  if (samples && loc)
    samples = take_binary(BINARY_ADD, take_astype(take_ref(loc), dtype, s), samples, s);
  return samples;
}

array* op_random_normal_scalar(const int* shape, int ndim, mlx_dtype dtype, float loc,
                               float scale, array* key, stream s) {
  if (check_dtype("normal", dtype)) return NULL;
  array* loc_a = loc == 0.0f ? NULL : scalar(loc, dtype);
  array* scale_a = scale == 1.0f ? NULL : scalar(scale, dtype);
  array* out = NULL;
  if ((loc == 0.0f || loc_a) && (scale == 1.0f || scale_a))
    out = op_random_normal(shape, ndim, dtype, loc_a, scale_a, key, s);
  array_release(loc_a);
  array_release(scale_a);
  return out;
}

/* ---- randint, bernoulli ---- */

array* op_random_randint(array* low, array* high, const int* shape, int ndim, mlx_dtype dtype,
                         array* key, stream s) {
  if (check_dtype("randint", dtype)) return NULL;
  if (dtype_is_inexact(dtype)) {
    error_set("[randint] randint only accepts integer dtypes and bool.");
    return NULL;
  }
  array* u = op_random_uniform(low, high, shape, ndim, MLX_FLOAT32, key, s);
  if (!u) return NULL;
  /* floor first: a cast truncates toward zero */
  array* out = take_astype(take_unary(UNARY_FLOOR, u, s), dtype, s);
  /* the float32 range may reach past [low, high): clamp to [low, high - 1] */
  array* hi = take_astype(take_binary(BINARY_SUBTRACT, take_ref(high), scalar(1.0, high->dtype), s),
                          dtype, s);
  return take_binary(BINARY_MAXIMUM, take_binary(BINARY_MINIMUM, out, hi, s),
                     take_astype(take_ref(low), dtype, s), s);
}

array* op_random_bernoulli(array* p, const int* shape, int ndim, array* key, stream s) {
  if (check_shape_arg("bernoulli", shape, ndim)) return NULL;
  if (!dtype_is_floating(p->dtype)) {
    error_set("[bernoulli] bernoulli probability `p` must be a float type.");
    return NULL;
  }
  /* p on the scale [0, the float above 2^32]: p >= 1 always wins, p <= 0
   * never does */
  float upper = nextafterf((float)UINT32_MAX, FLT_MAX);
  array* threshold = take_binary(BINARY_MULTIPLY, take_ref(p), scalar(upper, MLX_FLOAT32), s);
  array* res = take_binary(BINARY_LESS, op_random_bits(shape, ndim, 4, key, s), threshold, s);
  if (res && !same_shape(res->shape, res->ndim, shape, ndim)) {
    error_set("[bernoulli] shape of `p` is incompatible with argument `shape`.");
    array_release(res);
    return NULL;
  }
  return res;
}

/* ---- truncated_normal, gumbel, laplace ---- */

array* op_random_truncated_normal(array* lower, array* upper, const int* shape, int ndim,
                                  mlx_dtype dtype, array* key, stream s) {
  if (check_dtype("trunc_normal", dtype)) return NULL;
  if (!dtype_is_floating(dtype)) {
    error_set("[trunc_normal] trunc_normal only accepts floating point dtypes.");
    return NULL;
  }
  array* sqrt2 = scalar(sqrt(2.0), dtype);
  array* lower_t = take_astype(take_ref(lower), dtype, s);
  array* upper_t = take_astype(take_ref(upper), dtype, s);
  /* samples u in [erf(lower / sqrt2), erf(upper / sqrt2)) map back through
   * sqrt2 * erfinv(u) */
  array* a =
      take_unary(UNARY_ERF, take_binary(BINARY_DIVIDE, take_ref(lower_t), take_ref(sqrt2), s), s);
  array* b =
      take_unary(UNARY_ERF, take_binary(BINARY_DIVIDE, take_ref(upper_t), take_ref(sqrt2), s), s);
  array* u = a && b ? op_random_uniform(a, b, shape, ndim, dtype, key, s) : NULL;
  array_release(a);
  array_release(b);
  if (!u) {
    array_release(sqrt2);
    array_release(lower_t);
    array_release(upper_t);
    return NULL;
  }
  array* out = take_binary(BINARY_MULTIPLY, sqrt2, take_unary(UNARY_ERFINV, u, s), s);
  /* clip into the bounds */
  return take_binary(BINARY_MAXIMUM, take_binary(BINARY_MINIMUM, upper_t, out, s), lower_t, s);
}

array* op_random_gumbel(const int* shape, int ndim, mlx_dtype dtype, array* key, stream s) {
  if (check_dtype("gumbel", dtype)) return NULL;
  /* -log(-log(uniform(shape))) */
  array* u = uniform_unit(shape, ndim, dtype, key, s);
  return take_unary(
      UNARY_NEGATIVE,
      take_unary(UNARY_LOG, take_unary(UNARY_NEGATIVE, take_unary(UNARY_LOG, u, s), s), s), s);
}

array* op_random_laplace(const int* shape, int ndim, mlx_dtype dtype, float loc, float scale,
                         array* key, stream s) {
  if (check_dtype("laplace", dtype)) return NULL;
  if (!dtype_is_floating(dtype)) {
    error_set("[laplace] Only real floating point types are supported.");
    return NULL;
  }
  array* u = uniform_f32(nextafterf(-1.0f, 0.0f), 1.0f, shape, ndim, key, s);
  if (!u) return NULL;
  /* inverse CDF: sign(u) * log1p(-|u|) */
  array* samples = take_binary(
      BINARY_MULTIPLY, take_unary(UNARY_SIGN, take_ref(u), s),
      take_unary(UNARY_LOG1P,
                 take_binary(BINARY_MULTIPLY, scalar(-1.0, dtype), take_unary(UNARY_ABS, u, s), s),
                 s),
      s);
  samples = take_astype(samples, dtype, s);
  if (samples && scale != 1.0f)
    samples = take_binary(BINARY_MULTIPLY, scalar(scale, dtype), samples, s);
  if (samples && loc != 0.0f) samples = take_binary(BINARY_ADD, scalar(loc, dtype), samples, s);
  return samples;
}

/* ---- categorical ---- */

static int categorical_axis(int* axis, int ndim) {
  int given = *axis;
  if (normalize_axis(axis, ndim))
    return error_set("[categorical] Invalid axis %d for logits with %d dimensions.", given, ndim);
  return 0;
}

/* logits [n] (n > 0): inverse-CDF sampling, O(n + samples) memory where the
 * Gumbel-max trick needs O(n * samples). */
static array* categorical_inverse_cdf(array* logits, const int* shape, int ndim, array* key,
                                      stream s) {
  mlx_dtype dtype = dtype_promote(logits->dtype, MLX_FLOAT32);
  array* x = take_astype(take_ref(logits), dtype, s);
  array* m = x ? op_reduce(REDUCE_MAX, x, NULL, 0, false, s) : NULL;
  array* w = NULL;
  if (m) {
    /* exp(x - m) is NaN when m is infinite: then the distribution is
     * uniform over the entries equal to m */
    array* inf = take_unary(UNARY_ISINF, take_ref(m), s);
    array* at_max = take_astype(take_binary(BINARY_EQUAL, take_ref(x), take_ref(m), s), dtype, s);
    array* e = take_unary(UNARY_EXP, take_binary(BINARY_SUBTRACT, take_ref(x), take_ref(m), s), s);
    w = inf && at_max && e ? op_where(inf, at_max, e, s) : NULL;
    array_release(inf);
    array_release(at_max);
    array_release(e);
  }
  array_release(x);
  array_release(m);
  if (!w) return NULL;
  array* cdf = op_scan(SCAN_SUM, w, 0, false, false, s);
  array* total = cdf ? op_reduce(REDUCE_SUM, w, NULL, 0, false, s) : NULL;
  array_release(w);
  array* u = NULL;
  if (total)
    u = take_binary(BINARY_MULTIPLY, uniform_unit(shape, ndim, MLX_FLOAT32, key, s), total, s);
  array* idx = cdf && u ? op_searchsorted(cdf, u, true, s) : NULL;
  array_release(cdf);
  array_release(u);
  return take_binary(BINARY_SUBTRACT, idx, idx ? scalar(1.0, MLX_UINT32) : NULL, s);
}

/* axis normalised; shape broadcasts with logits' shape without axis. */
static array* categorical_impl(array* logits, int axis, const int* shape, int ndim, array* key,
                               stream s) {
  int n = logits->shape[axis];
  if (n > 0 && logits->size == (size_t)n && ndim > 0) {
    array* flat = op_reshape(logits, &n, 1, s);
    array* out = flat ? categorical_inverse_cdf(flat, shape, ndim, key, s) : NULL;
    array_release(flat);
    return out;
  }
  /* Gumbel-max: argmax(gumbel + logits) over the logits' axis, placed in
   * the sample shape where it lines up with the logits' axis */
  int offset = axis + ndim - logits->ndim + 1;
  int* gshape = malloc(sizeof(int) * (size_t)(ndim + 1));
  if (!gshape) {
    error_set("[categorical] Out of memory.");
    return NULL;
  }
  for (int i = 0, j = 0; i <= ndim; i++) gshape[i] = i == offset ? n : shape[j++];
  array* g = op_random_gumbel(gshape, ndim + 1, MLX_FLOAT32, key, s);
  free(gshape);
  array* sum = take_binary(BINARY_ADD, g, g ? take_ref(logits) : NULL, s);
  array* out = sum ? op_argreduce(ARG_MAX, sum, &offset, false, s) : NULL;
  array_release(sum);
  return out;
}

array* op_random_categorical_shape(array* logits, int axis, const int* shape, int ndim,
                                   array* key, stream s) {
  if (check_shape_arg("categorical", shape, ndim)) return NULL;
  if (categorical_axis(&axis, logits->ndim)) return NULL;
  int nr = logits->ndim - 1;
  int reduced[nr > 0 ? nr : 1];
  for (int i = 0, j = 0; i < logits->ndim; i++)
    if (i != axis) reduced[j++] = logits->shape[i];
  int nb = ndim > nr ? ndim : nr, nout;
  int bshape[nb > 0 ? nb : 1];
  if (broadcast_shapes(shape, ndim, reduced, nr, bshape, &nout)) return NULL;
  if (!same_shape(bshape, nout, shape, ndim)) {
    char sa[256], sb[256];
    error_set("[categorical] Requested shape %s is not broadcast compatible with reduced "
              "logits shape%s.",
              error_format_shape(sa, sizeof sa, shape, ndim),
              error_format_shape(sb, sizeof sb, reduced, nr));
    return NULL;
  }
  return categorical_impl(logits, axis, shape, ndim, key, s);
}

array* op_random_categorical_num_samples(array* logits, int axis, int num_samples, array* key,
                                         stream s) {
  if (categorical_axis(&axis, logits->ndim)) return NULL;
  int last = -1;
  array* expanded = op_expand_dims_axes(logits, &last, 1, s);
  if (!expanded) return NULL;
  /* the expanded shape without axis, its last entry num_samples */
  int ndim = expanded->ndim - 1;
  int shape[ndim];
  for (int i = 0, j = 0; i < expanded->ndim; i++)
    if (i != axis) shape[j++] = expanded->shape[i];
  shape[ndim - 1] = num_samples;
  array* out = categorical_impl(expanded, axis, shape, ndim, key, s);
  array_release(expanded);
  return out;
}

array* op_random_categorical(array* logits, int axis, array* key, stream s) {
  if (categorical_axis(&axis, logits->ndim)) return NULL;
  int ndim = logits->ndim - 1;
  int shape[ndim > 0 ? ndim : 1];
  for (int i = 0, j = 0; i < logits->ndim; i++)
    if (i != axis) shape[j++] = logits->shape[i];
  return categorical_impl(logits, axis, shape, ndim, key, s);
}

/* ---- permutation ---- */

array* op_random_permutation_arange(int n, array* key, stream s) {
  /* the order that sorts n random words */
  array* b = op_random_bits(&n, 1, 4, key, s);
  array* out = b ? op_argsort(b, NULL, s) : NULL;
  array_release(b);
  return out;
}

array* op_random_permutation(array* x, int axis, array* key, stream s) {
  /* MLX reads x.shape(axis) unchecked (std::vector::at's out_of_range);
   * cmlx says which axis was wrong */
  int ax = axis;
  if (normalize_axis(&ax, x->ndim)) {
    error_set("[permutation] Invalid axis %d for array with %d dimensions.", axis, x->ndim);
    return NULL;
  }
  array* perm = op_random_permutation_arange(x->shape[ax], key, s);
  array* out = perm ? op_take_axis(x, perm, ax, s) : NULL;
  array_release(perm);
  return out;
}

/* ---- searchsorted ---- */

array* op_searchsorted(array* sorted, array* values, bool right, stream s) {
  if (sorted->ndim != 1) {
    error_set("[searchsorted] The sorted sequence must be 1-D but has %d dimensions.",
              sorted->ndim);
    return NULL;
  }
  if (sorted->size > UINT32_MAX) {
    error_set("[searchsorted] The sorted sequence has %zu elements, more than the uint32 "
              "output can index.",
              sorted->size);
    return NULL;
  }
  mlx_dtype t = dtype_promote(sorted->dtype, values->dtype);
  if (t == MLX_COMPLEX64) {
    error_set("[searchsorted] complex64 is not supported.");
    return NULL;
  }
  /* the kernel compares float32, float64 and integers; half types widen to
   * float32 and bool to uint8, which keeps every order */
  mlx_dtype search = dtype_is_half(t) ? MLX_FLOAT32 : t == MLX_BOOL ? MLX_UINT8 : t;
  searchsorted_params* p = malloc(sizeof *p);
  if (!p) {
    error_set("[searchsorted] Out of memory.");
    return NULL;
  }
  p->right = right;
  array* in[2] = {take_astype(take_ref(sorted), search, s),
                  take_astype(take_ref(values), search, s)};
  array* out = NULL;
  if (in[0] && in[1])
    out = array_new_op(MLX_UINT32, in[1]->ndim, in[1]->shape, &prim_searchsorted, p, in, 2, s);
  else
    free(p);
  array_release(in[0]);
  array_release(in[1]);
  return out;
}
