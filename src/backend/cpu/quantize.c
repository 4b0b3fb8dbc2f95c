/* quantize.c - CPU kernels: quantize and dequantize in every MLX mode, the
 * affine code unpacker, and the fp8 (E4M3) conversions.
 *
 * The output bytes are MLX 0.32.2's CPU bytes (checked against
 * ../shared/oracle byte for byte). MLX's CPU gets them in two ways, and
 * where they look odd we copy them on purpose:
 *
 * Affine (MLX's fast::Quantize CPU kernel, float32 math for every dtype).
 *   Per group: mx = max, mn = min; s = max((mx - mn) / (2^bits - 1), 1e-7);
 *   if |mn| > |mx| the scale is +s and the "edge" is mn, else the scale is
 *   -s and the edge is mx; q0 = rint(edge / s); if q0 != 0 the scale
 *   becomes edge / q0 and the bias is the edge (so the edge decodes
 *   exactly), else the bias is 0. Codes are clamp(rint((w - bias) / s), 0,
 *   2^bits - 1). Consequences kept: scales are NEGATIVE whenever |max| >=
 *   |min| (ties, all-zero and constant groups included: an all-zero group
 *   gets scale -1e-7 and bias 0); the codes of half-precision inputs use the
 *   unrounded float32 scale, which is rounded to the input dtype only when
 *   stored.
 *
 * fp modes (MLX's CPU runs its op-graph fallback: every op is computed in
 *   the input dtype T, i.e. in float and rounded to T after each op).
 *   - E8M0 scale (mxfp4, mxfp8): s = amax / 6 (or / 448); e = s == 0 ? 0 :
 *     int(rint(log2(s))), i.e. the power of two NEAREST IN THE LOG DOMAIN,
 *     so amax/2^e reaches about 8.49 and the largest elements saturate to 6;
 *     a zero group gets byte 127 (scale 1). The byte is e + 127 converted
 *     to uint8 through int32 as x86 does: it WRAPS, so denormal groups
 *     (amax/6 below about 2^-127.5) get a garbage byte (2^-131 -> 252).
 *   - E2M1 elements: code = argmin_k |x - LUT[k]| over the 16-entry table
 *     {0, .5, 1, 1.5, 2, 3, 4, 6, -0, ..., -6} with the distances rounded to
 *     T and ties going to the LOWER index: midpoints round toward zero
 *     (0.75 -> 0.5, 2.5 -> 2, 5 -> 4), small negatives give +0 (code 0,
 *     never 8), and in bfloat16 the rounded distances can tie where the
 *     exact ones do not. Not round-half-even (which MLX's GPU and its own
 *     qqmm helper use).
 *   - nvfp4: scale byte = e4m3(amax/6 [* 2688/global_scale]) (round half to
 *     even, saturating at 448); elements are encoded from
 *     T(w / e4m3_value(byte)) * encode in float32, so their distances are
 *     float32 ones. A group whose scale byte is 0 divides by zero and gets
 *     code 0 everywhere, and so do elements so large that every distance
 *     rounds to the same value (1e30 without a global scale: the scale
 *     saturates at 448 and the whole group decodes to 0, not to +-2688).
 *   - mxfp8 elements: e4m3(T(w / 2^e)).
 *   MLX's max reduction propagates NaN, and x86 turns out-of-range
 *   float -> int32 conversions into INT32_MIN; we do the same, which is
 *   what the oracle's `nonfinite` rows (+-inf or NaN in a group) show:
 *   mxfp4/mxfp8 scale byte 128 with all codes 0 (mxfp4) or +-448 (mxfp8),
 *   nvfp4 scale byte 126 (448) with codes 0. Those rows are garbage in,
 *   garbage out: all three match the oracle today, but the test only
 *   reports them and does not require it.
 *
 * Dequantize: affine is q*scale + bias in the scales' dtype, the product
 *   rounded before the add (no FMA); fp modes multiply the decoded element
 *   by the decoded scale in the output dtype (2^(byte-127) computed in that
 *   dtype: float16 loses the extreme scales, as MLX's does). nvfp4 with a
 *   global scale works in float32 (float64 for float64 output):
 *   element * (e4m3(byte) * (global_scale / 2688)), then rounds to the
 *   output dtype (MLX's CPU returns float32 there whatever dtype was asked
 *   for; we return the dtype asked for).
 *
 * float64: affine quantize fails at eval with MLX's message. The fp modes
 *   compute in double; where MLX's to_fp8 would read float64 memory as
 *   float32 (garbage), we convert the value to float32 first.
 *
 * Work is split over the thread pool by groups; groups never share output
 * words. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/elementwise.h"
#include "backend/cpu/isa.h"
#include "backend/cpu/quantize.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"
#include "core/half.h"

/* Elements handled per chunk by the kernels' stack buffers. */
#define QUANT_CHUNK 256
/* The largest group a quantize kernel handles (affine 128, fp 32). */
#define QUANT_MAX_GROUP 128
/* Elements per thread-pool task, at least. */
#define QUANT_GRAIN 16384

/* ------------------------------------------------------------------------
 * 1. Scalar helpers
 * ---------------------------------------------------------------------- */

/* float -> int32 as x86's cvttss2si/cvttsd2si: truncation, and INT32_MIN
 * for NaN and out-of-range values (what MLX's casts give on x86). */
static inline int32_t quant_to_int32(double v) {
  return (v > -2147483649.0 && v < 2147483648.0) ? (int32_t)v : INT32_MIN;
}

/* 2^e for an integral e held in a float type (exact, 0 or inf outside). */
static inline double quant_pow2(double e) {
  if (e < -2000.0) return 0.0;
  if (e > 2000.0) return INFINITY;
  return ldexp(1.0, (int)e);
}

/* Rounding a float to a storage dtype and back (the "compute in T" rule). */
static inline float round_f32(float x) { return x; }
static inline float round_f16(float x) { return f16_to_f32(f32_to_f16(x)); }
static inline float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }
static inline double round_f64(double x) { return x; }

#define LOAD_f32(v) (v)
#define LOAD_f16(v) f16_to_f32(v)
#define LOAD_bf16(v) bf16_to_f32(v)
#define LOAD_f64(v) (v)
#define STORE_f32(v) (v)
#define STORE_f16(v) f32_to_f16(v)
#define STORE_bf16(v) f32_to_bf16(v)
#define STORE_f64(v) (v)

/* ------------------------------------------------------------------------
 * 2. Packing codes into words
 * ---------------------------------------------------------------------- */

/* Codes of width B (dividing 32): 32/B per word, code k at bits k*B. */
static inline __attribute__((always_inline)) void pack_pow2(const uint8_t* q, int n, int B,
                                                            uint32_t* out) {
  int per = 32 / B;
  for (int w = 0; w < n / per; w++) {
    uint32_t v = 0;
    for (int k = 0; k < per; k++) v |= (uint32_t)q[w * per + k] << (k * B);
    out[w] = v;
  }
}

/* Any width: a little-endian bit stream (n * bits is a multiple of 32). */
static inline void pack_stream(const uint8_t* q, int n, int bits, uint32_t* out) {
  uint64_t acc = 0;
  int have = 0;
  for (int j = 0; j < n; j++) {
    acc |= (uint64_t)q[j] << have;
    have += bits;
    if (have >= 32) {
      *out++ = (uint32_t)acc;
      acc >>= 32;
      have -= 32;
    }
  }
}

static inline void pack_codes(const uint8_t* q, int n, int bits, uint32_t* out) {
  switch (bits) {
    case 2: pack_pow2(q, n, 2, out); break;
    case 4: pack_pow2(q, n, 4, out); break;
    case 8: pack_pow2(q, n, 8, out); break;
    default: pack_stream(q, n, bits, out); break;
  }
}

/* ------------------------------------------------------------------------
 * 3. Quantize kernels
 * ---------------------------------------------------------------------- */

typedef struct quant_job quant_job;
typedef void (*quant_groups_fn)(const quant_job* job, size_t begin, size_t end);

struct quant_job {
  quant_mode mode;
  int group_size, bits;
  const void* w;      /* row-contiguous input */
  uint32_t* wq;
  void* scales;
  void* biases;       /* affine only */
  float encode;       /* nvfp4: 2688 / global_scale, else 1 */
  quant_groups_fn fn;
};

/* The group's min and max as MLX's std::min/std::max loop finds them (NaN
 * skipped), in 8 lanes so it vectorises: the lanes may pick a zero of the
 * other sign than the sequential loop, which no output can see (zeros
 * only enter through |edge|, edge/scale -> q0 = 0 -> bias 0, and
 * differences). g is a multiple of 8. */
static inline __attribute__((always_inline)) void affine_min_max(const float* x, int g,
                                                                 float* mn, float* mx) {
  float lo[8], hi[8];
  for (int l = 0; l < 8; l++) {
    lo[l] = INFINITY;
    hi[l] = -INFINITY;
  }
  for (int j = 0; j < g; j += 8)
    for (int l = 0; l < 8; l++) {
      float v = x[j + l];
      hi[l] = hi[l] < v ? v : hi[l];
      lo[l] = v < lo[l] ? v : lo[l];
    }
  float a = lo[0], b = hi[0];
  for (int l = 1; l < 8; l++) {
    a = lo[l] < a ? lo[l] : a;
    b = b < hi[l] ? hi[l] : b;
  }
  *mn = a;
  *mx = b;
}

/* Affine, for T in {float32, float16, bfloat16}: float32 math throughout
 * (MLX's quantize<T, U>), std::max/std::min written out so NaN behaves the
 * same way. */
#define AFFINE_QUANTIZE(sfx, T)                                                  \
  CPU_KERNEL static void affine_quantize_##sfx(const quant_job* job, size_t begin, \
                                               size_t end) {                     \
    const T* w = job->w;                                                         \
    T* scales = job->scales;                                                     \
    T* biases = job->biases;                                                     \
    const int g = job->group_size, bits = job->bits;                             \
    const int words = quant_words_per_group(g, bits);                            \
    const float n_bins = (float)((1 << bits) - 1);                               \
    float x[QUANT_MAX_GROUP];                                                    \
    uint8_t q[QUANT_MAX_GROUP];                                                  \
    for (size_t i = begin; i < end; i++) {                                       \
      const T* wg = w + i * (size_t)g;                                           \
      for (int j = 0; j < g; j++) x[j] = LOAD_##sfx(wg[j]);                      \
      float w_max, w_min;                                                        \
      affine_min_max(x, g, &w_min, &w_max);                                      \
      bool mask = fabsf(w_min) > fabsf(w_max);                                   \
      float scale = (w_max - w_min) / n_bins;                                    \
      scale = scale < QUANT_AFFINE_EPS ? QUANT_AFFINE_EPS : scale;               \
      scale = mask ? scale : -scale;                                             \
      float edge = mask ? w_min : w_max;                                         \
      float q0 = rintf(edge / scale);                                            \
      float bias = 0.0f;                                                         \
      if (q0 != 0.0f) {                                                          \
        scale = edge / q0;                                                       \
        bias = edge;                                                             \
      }                                                                          \
      for (int j = 0; j < g; j++) {                                              \
        float v = rintf((x[j] - bias) / scale);                                  \
        v = v < 0.0f ? 0.0f : v;                                                 \
        v = n_bins < v ? n_bins : v;                                             \
        q[j] = v >= 0.0f ? (uint8_t)v : 0; /* NaN: 0 */                          \
      }                                                                          \
      pack_codes(q, g, bits, job->wq + i * (size_t)words);                       \
      scales[i] = STORE_##sfx(scale);                                            \
      biases[i] = STORE_##sfx(bias);                                             \
    }                                                                            \
  }

AFFINE_QUANTIZE(f32, float)
AFFINE_QUANTIZE(f16, uint16_t)
AFFINE_QUANTIZE(bf16, uint16_t)

/* E2M1 code of each x, MLX's way: the argmin over the 16 table entries of
 * the distance |x - entry| rounded by ROUND (to T, or not at all), the
 * first (lowest) index on ties, NaN keeping code 0 (argmin with a strict
 * <). The literal search, used for the rare groups the rule below does not
 * cover. */
#define E2M1_ARGMIN(sfx, CT, ROUND, FABS)                                         \
  static void e2m1_argmin_##sfx(const CT* x, int n, uint8_t* q) {                 \
    for (int j = 0; j < n; j++) {                                                 \
      CT best = ROUND(FABS(x[j] - (CT)quant_e2m1_values[0]));                     \
      int idx = 0;                                                                \
      for (int k = 1; k < 16; k++) {                                              \
        CT d = ROUND(FABS(x[j] - (CT)quant_e2m1_values[k]));                      \
        if (d < best) {                                                           \
          best = d;                                                               \
          idx = k;                                                                \
        }                                                                         \
      }                                                                           \
      q[j] = (uint8_t)idx;                                                        \
    }                                                                             \
  }

E2M1_ARGMIN(f32, float, round_f32, fabsf)
E2M1_ARGMIN(f16, float, round_f16, fabsf)
E2M1_ARGMIN(bf16, float, round_bf16, fabsf)
E2M1_ARGMIN(f64, double, round_f64, fabs)

/* The same codes by thresholds, for |x| <= 64: magnitude code
 * t = #{thresholds .25 .75 1.25 1.75 2.5 3.5 5 below |x|} (a midpoint goes
 * to the smaller magnitude), plus the sign bit when x < 0 and t != 0 (so
 * -0.25 <= x <= 0 gives +0). Why this equals the search, in every T: for
 * |x| between two table neighbours a < b (a >= .5) both |x| - a and b - |x|
 * are exact in T (Sterbenz, and they are multiples of x's ulp smaller than
 * x), so no rounding creates a tie; below .25 the distance to 0 wins
 * strictly; the mirrored entries of the other sign are strictly farther
 * except +-0, where the lower index (+0) wins; and up to 64, T's spacing is
 * too fine for x - 6 and x - 4 to round together. Returns true when some
 * |x| is above 64 or NaN (the caller then searches). */
#define E2M1_NEAREST(sfx, CT, FABS)                                               \
  static inline __attribute__((always_inline)) bool e2m1_nearest_##sfx(           \
      const CT* x, int n, uint8_t* q) {                                           \
    int outside = 0;                                                              \
    for (int j = 0; j < n; j++) {                                                 \
      CT a = FABS(x[j]);                                                          \
      int t = (a > (CT)0.25) + (a > (CT)0.75) + (a > (CT)1.25) + (a > (CT)1.75) + \
              (a > (CT)2.5) + (a > (CT)3.5) + (a > (CT)5.0);                      \
      q[j] = (uint8_t)(t + ((x[j] < 0 && t) ? 8 : 0));                            \
      outside |= !(a <= (CT)64.0);                                                \
    }                                                                             \
    return outside != 0;                                                          \
  }

E2M1_NEAREST(f32, float, fabsf)
E2M1_NEAREST(f64, double, fabs)

/* max |x[j]| over a group; the first NaN (its magnitude) if there is one.
 * Compared as bits (UT), so the loop vectorizes: finite and infinite
 * magnitudes order as their bits, and NaNs lie above infinity. */
#define GROUP_AMAX(sfx, CT, UT, INF_BITS, FABS)                                   \
  static inline __attribute__((always_inline)) CT group_amax_##sfx(const CT* x,  \
                                                                   int n) {      \
    const UT magnitude = (UT)-1 >> 1;                                             \
    UT m = 0;                                                                     \
    for (int j = 0; j < n; j++) {                                                 \
      UT u;                                                                       \
      memcpy(&u, x + j, sizeof u);                                                \
      u &= magnitude;                                                             \
      m = u > m ? u : m;                                                          \
    }                                                                             \
    if (m > (UT)(INF_BITS))                                                       \
      for (int j = 0; j < n; j++)                                                 \
        if (x[j] != x[j]) return FABS(x[j]);                                      \
    CT r;                                                                         \
    memcpy(&r, &m, sizeof r);                                                     \
    return r;                                                                     \
  }

GROUP_AMAX(f32, float, uint32_t, 0x7f800000u, fabsf)
GROUP_AMAX(f64, double, uint64_t, 0x7ff0000000000000ull, fabs)

/* fp modes, for T in {float32, float16, bfloat16} computing in CT = float
 * and float64 computing in CT = double. ROUND rounds CT to T after each
 * op, as MLX's graph in T does. */
#define FP_QUANTIZE(sfx, T, CT, PLAIN, LOG2, RINT, FABS)                          \
  CPU_KERNEL static void fp_quantize_##sfx(const quant_job* job, size_t begin,     \
                                           size_t end) {                          \
    const T* w = job->w;                                                          \
    uint8_t* scales = job->scales;                                                \
    const quant_mode_info* m = &quant_modes[job->mode];                           \
    const int g = job->group_size;                                                \
    const int words = quant_words_per_group(g, job->bits);                        \
    const CT encode = (CT)job->encode;                                            \
    CT x[QUANT_MAX_GROUP];                                                        \
    uint8_t q[QUANT_MAX_GROUP];                                                   \
    for (size_t i = begin; i < end; i++) {                                        \
      const T* wg = w + i * (size_t)g;                                            \
      for (int j = 0; j < g; j++) x[j] = LOAD_##sfx(wg[j]);                       \
      CT amax = group_amax_##PLAIN(x, g);                                         \
      CT s = round_##sfx(amax / (CT)m->elem_max);                                 \
      uint8_t byte;                                                               \
      bool lut_in_t; /* E2M1 distances rounded to T (else to CT) */               \
      if (m->scale == QUANT_SCALE_E8M0) {                                         \
        CT e = 0;                                                                 \
        if (s != 0) e = round_##sfx((CT)quant_to_int32(RINT(round_##sfx(LOG2(s))))); \
        CT p = round_##sfx((CT)quant_pow2(e));                                    \
        byte = (uint8_t)quant_to_int32(round_##sfx(e + 127));                     \
        for (int j = 0; j < g; j++) x[j] = round_##sfx(x[j] / p);                 \
        lut_in_t = true;                                                          \
      } else {                                                                    \
        byte = quant_e4m3_encode((float)(s * encode));                            \
        CT d = (CT)quant_e4m3_values[byte];                                       \
        for (int j = 0; j < g; j++) x[j] = round_##sfx(x[j] / d) * encode;        \
        lut_in_t = false;                                                         \
      }                                                                           \
      scales[i] = byte;                                                           \
      if (m->elem == QUANT_ELEM_E4M3) {                                           \
        for (int j = 0; j < g; j++) q[j] = quant_e4m3_encode((float)x[j]);        \
      } else if (e2m1_nearest_##PLAIN(x, g, q)) {                                 \
        /* a group with |x| > 64 or NaN: the table search itself */               \
        if (lut_in_t)                                                             \
          e2m1_argmin_##sfx(x, g, q);                                             \
        else                                                                      \
          e2m1_argmin_##PLAIN(x, g, q);                                           \
      }                                                                           \
      pack_codes(q, g, job->bits, job->wq + i * (size_t)words);                   \
    }                                                                             \
  }

FP_QUANTIZE(f32, float, float, f32, log2f, rintf, fabsf)
FP_QUANTIZE(f16, uint16_t, float, f32, log2f, rintf, fabsf)
FP_QUANTIZE(bf16, uint16_t, float, f32, log2f, rintf, fabsf)
FP_QUANTIZE(f64, double, double, f64, log2, rint, fabs)

static void quant_run_range(void* ctx, size_t begin, size_t end) {
  const quant_job* job = ctx;
  job->fn(job, begin, end);
}

static size_t quant_grain(int group_size) {
  size_t g = (size_t)(group_size > 0 ? group_size : 1);
  return QUANT_GRAIN / g ? QUANT_GRAIN / g : 1;
}

/* Borrowed in, or a row-contiguous copy of it in *tmp (the caller releases
 * *tmp). NULL on failure. */
static array* row_contiguous(array* in, array** tmp) {
  *tmp = NULL;
  if (in->flags & ARRAY_ROW_CONTIGUOUS) return in;
  *tmp = array_copy_contiguous(in, in->dtype);
  return *tmp;
}

static quant_groups_fn quantize_kernel(quant_mode mode, mlx_dtype t) {
  if (mode == QUANT_AFFINE) {
    switch (t) {
      case MLX_FLOAT32: return affine_quantize_f32;
      case MLX_FLOAT16: return affine_quantize_f16;
      case MLX_BFLOAT16: return affine_quantize_bf16;
      default: return NULL;
    }
  }
  switch (t) {
    case MLX_FLOAT32: return fp_quantize_f32;
    case MLX_FLOAT16: return fp_quantize_f16;
    case MLX_BFLOAT16: return fp_quantize_bf16;
    case MLX_FLOAT64: return fp_quantize_f64;
    default: return NULL;
  }
}

int cpu_quantize_eval(node* n) {
  const quant_params* p = n->params;
  array* w_in = n->inputs[0];
  quant_groups_fn fn = quantize_kernel(p->mode, w_in->dtype);
  if (!fn) return error_set("[fast::Quantize::eval_cpu] Only supports floating point inputs");
  float encode = 1.0f;
  if (p->has_global_scale) {
    array* gs = n->inputs[1];
    float g;
    ew_convert_one(&g, MLX_FLOAT32, array_data(gs), gs->dtype);
    encode = QUANT_NVFP4_GLOBAL_ENC / g;
  }
  array* tmp;
  array* w = row_contiguous(w_in, &tmp);
  if (!w) return 1;
  for (int o = 0; o < n->n_outputs; o++) {
    if (array_alloc(n->outputs[o])) {
      array_release(tmp);
      return 1;
    }
  }
  quant_job job = {
      .mode = p->mode,
      .group_size = p->group_size,
      .bits = p->bits,
      .w = array_data(w),
      .wq = array_data(n->outputs[0]),
      .scales = array_data(n->outputs[1]),
      .biases = n->n_outputs > 2 ? array_data(n->outputs[2]) : NULL,
      .encode = encode,
      .fn = fn,
  };
  size_t groups = w->size / (size_t)p->group_size;
  pool_for(groups, quant_grain(p->group_size), quant_run_range, &job);
  array_release(tmp);
  return 0;
}

/* ------------------------------------------------------------------------
 * 4. Dequantize kernels
 * ---------------------------------------------------------------------- */

typedef struct dequant_job dequant_job;
typedef void (*dequant_groups_fn)(const dequant_job* job, size_t begin, size_t end);

struct dequant_job {
  quant_mode mode;
  int group_size, bits;
  const uint32_t* wq;  /* row-contiguous, row_words words per row */
  const void* scales;  /* row-contiguous, groups_per_row per row */
  const void* biases;
  size_t row_words, groups_per_row;
  bool has_global_scale;
  float inv_global;    /* global_scale / 2688 in float32 */
  double inv_global64; /* the same in float64 (float64 output) */
  void* out;
  mlx_dtype out_dtype;
  dequant_groups_fn fn;
};

/* Stores n floats (already rounded as the op wants) as the output dtype. */
static void store_floats(void* out, mlx_dtype t, size_t at, const float* v, int n) {
  switch (t) {
    case MLX_FLOAT32: memcpy((float*)out + at, v, (size_t)n * sizeof(float)); break;
    case MLX_FLOAT16:
      for (int j = 0; j < n; j++) ((uint16_t*)out)[at + (size_t)j] = f32_to_f16(v[j]);
      break;
    case MLX_BFLOAT16:
      for (int j = 0; j < n; j++) ((uint16_t*)out)[at + (size_t)j] = f32_to_bf16(v[j]);
      break;
    case MLX_FLOAT64:
      for (int j = 0; j < n; j++) ((double*)out)[at + (size_t)j] = v[j];
      break;
    default: break;
  }
}

/* Affine with scales and biases of dtype S in {float32, float16, bfloat16}:
 * T(q) * scale rounded to S, plus bias rounded to S, then converted to the
 * output dtype. Codes come from any bit width 1..32 and any group size. */
#define AFFINE_DEQUANTIZE(sfx, S, S_DTYPE)                                         \
  CPU_KERNEL static void affine_dequantize_##sfx(const dequant_job* job, size_t begin, \
                                                 size_t end) {                     \
    const S* scales = job->scales;                                                 \
    const S* biases = job->biases;                                                 \
    const int g = job->group_size, bits = job->bits;                               \
    /* into S itself the store rounds the sum; into another dtype round first */  \
    const bool round_sum = job->out_dtype != S_DTYPE;                              \
    float v[QUANT_CHUNK];                                                          \
    for (size_t i = begin; i < end; i++) {                                         \
      size_t row = i / job->groups_per_row;                                        \
      size_t first = (i % job->groups_per_row) * (size_t)g;                        \
      const uint32_t* wrow = job->wq + row * job->row_words;                       \
      float scale = LOAD_##sfx(scales[i]), bias = LOAD_##sfx(biases[i]);           \
      for (int j0 = 0; j0 < g; j0 += QUANT_CHUNK) {                                \
        int len = g - j0 < QUANT_CHUNK ? g - j0 : QUANT_CHUNK;                     \
        if (bits == 4 && (first + (size_t)j0) % 8 == 0 && len % 8 == 0) {         \
          const uint32_t* src = wrow + (first + (size_t)j0) / 8;                   \
          for (int j = 0; j < len; j++)                                            \
            v[j] = (float)((src[j / 8] >> (4 * (j % 8))) & 15u);                   \
        } else if (bits == 8 && (first + (size_t)j0) % 4 == 0 && len % 4 == 0) {   \
          const uint8_t* src = (const uint8_t*)(wrow + (first + (size_t)j0) / 4);  \
          for (int j = 0; j < len; j++) v[j] = (float)src[j];                      \
        } else {                                                                   \
          for (int j = 0; j < len; j++)                                            \
            v[j] = round_##sfx((float)quant_code_at(wrow, first + (size_t)j0 + (size_t)j, \
                                                    bits));                        \
        }                                                                          \
        if (round_sum) {                                                           \
          for (int j = 0; j < len; j++)                                            \
            v[j] = round_##sfx(round_##sfx(v[j] * scale) + bias);                  \
        } else {                                                                   \
          for (int j = 0; j < len; j++) v[j] = round_##sfx(v[j] * scale) + bias;   \
        }                                                                          \
        store_floats(job->out, job->out_dtype, i * (size_t)g + (size_t)j0, v, len); \
      }                                                                            \
    }                                                                              \
  }

AFFINE_DEQUANTIZE(f32, float, MLX_FLOAT32)
AFFINE_DEQUANTIZE(f16, uint16_t, MLX_FLOAT16)
AFFINE_DEQUANTIZE(bf16, uint16_t, MLX_BFLOAT16)

/* The decoded scale of fp group i in the compute type CT, rounded as
 * MLX's graph in the output dtype rounds it (ROUND). */
#define FP_GROUP_SCALE(CT, ROUND, job, byte, inv)                               \
  (quant_modes[(job)->mode].scale == QUANT_SCALE_E8M0                           \
       ? ROUND((CT)quant_pow2((double)(byte) - 127.0))                          \
   : (job)->has_global_scale ? (CT)quant_e4m3_values[byte] * (inv)              \
                             : (CT)quant_e4m3_values[byte])

/* fp modes into float32/float16/bfloat16 (float math, rounded by the
 * store) or float64 (double math). */
#define FP_DEQUANTIZE(name, CT, ROUND, INV, STORE_BLOCK)                            \
  CPU_KERNEL static void name(const dequant_job* job, size_t begin, size_t end) {   \
    const uint8_t* scales = job->scales;                                            \
    const int g = job->group_size;                                                  \
    const int words = quant_words_per_group(g, job->bits);                          \
    const bool e2m1 = quant_modes[job->mode].elem == QUANT_ELEM_E2M1;               \
    CT v[QUANT_MAX_GROUP];                                                          \
    for (size_t i = begin; i < end; i++) {                                          \
      const uint32_t* src = job->wq + i * (size_t)words;                            \
      CT sc = FP_GROUP_SCALE(CT, ROUND, job, scales[i], (CT)job->INV);              \
      if (e2m1) {                                                                   \
        for (int j = 0; j < g; j++)                                                 \
          v[j] = (CT)quant_e2m1_values[(src[j / 8] >> (4 * (j % 8))) & 15u] * sc;   \
      } else {                                                                      \
        const uint8_t* b = (const uint8_t*)src;                                     \
        for (int j = 0; j < g; j++) v[j] = (CT)quant_e4m3_values[b[j]] * sc;        \
      }                                                                             \
      STORE_BLOCK;                                                                  \
    }                                                                               \
  }

static inline float round_to_out(const dequant_job* job, float x) {
  switch (job->out_dtype) {
    case MLX_FLOAT16: return round_f16(x);
    case MLX_BFLOAT16: return round_bf16(x);
    default: return x;
  }
}
#define ROUND_OUT(x) round_to_out(job, x)

FP_DEQUANTIZE(fp_dequantize_f32, float, ROUND_OUT, inv_global,
              store_floats(job->out, job->out_dtype, i * (size_t)g, v, g))
FP_DEQUANTIZE(fp_dequantize_f64, double, round_f64, inv_global64,
              memcpy((double*)job->out + i * (size_t)g, v, (size_t)g * sizeof(double)))

static void dequant_run_range(void* ctx, size_t begin, size_t end) {
  const dequant_job* job = ctx;
  job->fn(job, begin, end);
}

static dequant_groups_fn dequantize_kernel(quant_mode mode, mlx_dtype scale_t,
                                           mlx_dtype out_t) {
  if (mode != QUANT_AFFINE) return out_t == MLX_FLOAT64 ? fp_dequantize_f64 : fp_dequantize_f32;
  switch (scale_t) {
    case MLX_FLOAT32: return affine_dequantize_f32;
    case MLX_FLOAT16: return affine_dequantize_f16;
    case MLX_BFLOAT16: return affine_dequantize_bf16;
    default: return NULL;
  }
}

int cpu_dequantize_eval(node* n) {
  const quant_params* p = n->params;
  array* out = n->outputs[0];
  int n_in = n->n_inputs;
  bool affine = p->mode == QUANT_AFFINE;
  array* tmp[3] = {NULL, NULL, NULL};
  array* in[3] = {NULL, NULL, NULL};
  int n_arrays = affine ? 3 : 2;
  dequant_groups_fn fn = dequantize_kernel(p->mode, n->inputs[1]->dtype, out->dtype);
  if (!fn || (affine && n->inputs[2]->dtype != n->inputs[1]->dtype) ||
      !dtype_is_floating(out->dtype))
    return error_set("[Dequantize] Unsupported dtypes.");
  int rc = 0;
  for (int k = 0; k < n_arrays && !rc; k++)
    if (!(in[k] = row_contiguous(n->inputs[k], &tmp[k]))) rc = 1;
  if (!rc) rc = array_alloc(out);
  if (!rc && out->size) {
    array* wq = in[0];
    dequant_job job = {
        .mode = p->mode,
        .group_size = p->group_size,
        .bits = p->bits,
        .wq = array_data(wq),
        .scales = array_data(in[1]),
        .biases = affine ? array_data(in[2]) : NULL,
        .row_words = (size_t)wq->shape[wq->ndim - 1],
        .groups_per_row = (size_t)in[1]->shape[in[1]->ndim - 1],
        .has_global_scale = p->has_global_scale,
        .out = array_data(out),
        .out_dtype = out->dtype,
        .fn = fn,
    };
    if (p->has_global_scale) {
      array* gs = n->inputs[n_in - 1];
      float g;
      ew_convert_one(&g, MLX_FLOAT32, array_data(gs), gs->dtype);
      job.inv_global = g / QUANT_NVFP4_GLOBAL_ENC;
      job.inv_global64 = (double)g / (double)QUANT_NVFP4_GLOBAL_ENC;
    }
    size_t groups = in[1]->size;
    pool_for(groups, quant_grain(p->group_size), dequant_run_range, &job);
  }
  for (int k = 0; k < 3; k++) array_release(tmp[k]);
  return rc;
}

/* ------------------------------------------------------------------------
 * 5. Unpacking affine codes (the composed dequantize's first step)
 * ---------------------------------------------------------------------- */

typedef struct unpack_job {
  const uint32_t* wq;
  uint32_t* out;
  size_t row_words, row_codes;
  int bits;
} unpack_job;

static void unpack_rows(void* ctx, size_t begin, size_t end) {
  const unpack_job* j = ctx;
  for (size_t r = begin; r < end; r++) {
    const uint32_t* src = j->wq + r * j->row_words;
    uint32_t* dst = j->out + r * j->row_codes;
    for (size_t e = 0; e < j->row_codes; e++) dst[e] = quant_code_at(src, e, j->bits);
  }
}

int cpu_quant_unpack_eval(node* n) {
  const quant_params* p = n->params;
  array* out = n->outputs[0];
  array* tmp;
  array* wq = row_contiguous(n->inputs[0], &tmp);
  if (!wq) return 1;
  if (array_alloc(out)) {
    array_release(tmp);
    return 1;
  }
  size_t row_codes = (size_t)out->shape[out->ndim - 1];
  if (out->size) {
    unpack_job j = {array_data(wq), array_data(out), (size_t)wq->shape[wq->ndim - 1],
                    row_codes, p->bits};
    size_t rows = out->size / row_codes;
    size_t grain = QUANT_GRAIN / row_codes ? QUANT_GRAIN / row_codes : 1;
    pool_for(rows, grain, unpack_rows, &j);
  }
  array_release(tmp);
  return 0;
}

/* ------------------------------------------------------------------------
 * 6. fp8 conversions
 * ---------------------------------------------------------------------- */

#define TO_FP8(sfx, T, CONVERT)                                                  \
  CPU_KERNEL static void to_fp8_##sfx(void* out_, const void* const* in,         \
                                      const int64_t* stride, size_t n,           \
                                      const void* params) {                      \
    uint8_t* out = out_;                                                         \
    const T* x = in[0];                                                          \
    int64_t st = stride[0];                                                      \
    for (size_t i = 0; i < n; i++) out[i] = quant_e4m3_encode(CONVERT(x[(int64_t)i * st])); \
  }
#define TO_FLOAT_f64(v) ((float)(v))
TO_FP8(f32, float, LOAD_f32)
TO_FP8(f16, uint16_t, LOAD_f16)
TO_FP8(bf16, uint16_t, LOAD_bf16)
TO_FP8(f64, double, TO_FLOAT_f64)

#define FROM_FP8(sfx, T)                                                         \
  CPU_KERNEL static void from_fp8_##sfx(void* out_, const void* const* in,       \
                                        const int64_t* stride, size_t n,         \
                                        const void* params) {                    \
    T* out = out_;                                                               \
    const uint8_t* x = in[0];                                                    \
    int64_t st = stride[0];                                                      \
    for (size_t i = 0; i < n; i++)                                               \
      out[i] = STORE_##sfx(quant_e4m3_values[x[(int64_t)i * st]]);               \
  }
FROM_FP8(f32, float)
FROM_FP8(f16, uint16_t)
FROM_FP8(bf16, uint16_t)
FROM_FP8(f64, double)

/* Both directions: the kernel is picked by the float side's dtype. */
static int fp8_eval(node* n, bool to_fp8) {
  array* x = n->inputs[0];
  array* out = n->outputs[0];
  static const ew_inner_fn to[DTYPE_COUNT] = {
      [MLX_FLOAT32] = to_fp8_f32, [MLX_FLOAT16] = to_fp8_f16,
      [MLX_BFLOAT16] = to_fp8_bf16, [MLX_FLOAT64] = to_fp8_f64};
  static const ew_inner_fn from[DTYPE_COUNT] = {
      [MLX_FLOAT32] = from_fp8_f32, [MLX_FLOAT16] = from_fp8_f16,
      [MLX_BFLOAT16] = from_fp8_bf16, [MLX_FLOAT64] = from_fp8_f64};
  mlx_dtype t = to_fp8 ? x->dtype : out->dtype;
  ew_inner_fn fn = to_fp8 ? to[t] : from[t];
  if (!fn) return error_set("[ConvertFP8] Unsupported type %s.", dtype_name(t));
  if (array_alloc(out)) return 1;
  if (out->size) ew_run(out, &x, 1, fn, NULL);
  return 0;
}

int cpu_to_fp8_eval(node* n) {
  return fp8_eval(n, true);
}

int cpu_from_fp8_eval(node* n) {
  return fp8_eval(n, false);
}
