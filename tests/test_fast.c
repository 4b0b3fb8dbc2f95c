/* test_fast.c - mlx_fast_scaled_dot_product_attention, mlx_fast_rms_norm,
 * mlx_fast_layer_norm, mlx_fast_rope and mlx_fast_rope_dynamic.
 *
 * What it proves:
 * - every sdpa and norm/rope case of ../shared/oracle (MLX 0.32.2, CPU)
 *   matches within the relative error max|out - ref| / max|ref| of 1e-5
 *   (float32), 2e-3 (float16), 1e-2 (bfloat16), for the fused kernels and
 *   for the composed fallbacks; every sdpa/rope/norm error record of the
 *   manifest is reproduced word for word, and so are the other checks of
 *   MLX's fast.cpp;
 * - attention against a double-precision reference written here (MLX's
 *   semantics: lower-right causal alignment, masked scores at the dtype's
 *   lowest finite value so fully masked rows average V, sinks in the
 *   denominator only, query head h on kv head h / (N_q / N_kv)) on random
 *   shapes: decoding (T_q = 1), T_q < T_kv and T_q > T_kv causal, D = 64,
 *   80, 128 with D_v != D, N_q / N_kv = 1, 4, 8, long key ranges split
 *   across threads, sinks with boolean, additive and causal masks,
 *   broadcast masks, integer masks, transposed / sliced / broadcast and
 *   non-unit-stride inputs, mixed input dtypes, float64, empty arrays;
 * - rms_norm / layer_norm and rope against double references on random
 *   shapes and dtypes (float16/bfloat16/float32/float64, promotion with the
 *   weight, integer x, strided x, 3-D and 5-D rope inputs, per-batch
 *   offsets, custom freqs, dims < D).
 * The oracle files are copied into tests/data/oracle; a missing file fails. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ORACLE_DIR CMLX_TEST_DATA "/oracle"

static const mlx_optional_float no_base = {0, false};
static mlx_optional_float base_of(float b) {
  return (mlx_optional_float){b, true};
}

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static size_t shape_size(const int* shape, int nd) {
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
  return n;
}

static mlx_array cast(mlx_array a, mlx_dtype t) {
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_astype(&r, a, t, test_stream));
  mlx_array_free(a);
  return r;
}

/* An array of dtype t holding the given values (rounded to t). */
static mlx_array from_f64(const double* v, const int* shape, int nd, mlx_dtype t) {
  size_t n = shape_size(shape, nd);
  mlx_array a = mlx_array_new_data(v, shape, nd, MLX_FLOAT64);
  (void)n;
  return t == MLX_FLOAT64 ? a : cast(a, t);
}

/* Uniform random values in [lo, hi) as dtype t. */
static mlx_array rand_array(const int* shape, int nd, mlx_dtype t, double lo, double hi) {
  size_t n = shape_size(shape, nd);
  double* v = malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = test_rand(lo, hi);
  mlx_array a = from_f64(v, shape, nd, t);
  free(v);
  return a;
}

/* max |got - want| / max |want| (0 when both are all zero); NaN anywhere
 * in got where want is not NaN gives infinity. */
static double rel_err_vals(const double* got, const double* want, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(want[i]) != isnan(got[i])) return INFINITY;
    if (isnan(want[i])) continue;
    double e = fabs(got[i] - want[i]);
    if (e > num) num = e;
    if (fabs(want[i]) > den) den = fabs(want[i]);
  }
  return den > 0 ? num / den : num;
}

static double rel_err_ref(mlx_array got, const double* want, size_t n) {
  double* g = test_to_f64(got);
  if (!g) return INFINITY;
  if (mlx_array_size(got) != n) {
    free(g);
    return INFINITY;
  }
  double e = rel_err_vals(g, want, n);
  free(g);
  return e;
}

static double rel_err(mlx_array got, mlx_array want) {
  if (mlx_array_ndim(got) != mlx_array_ndim(want) ||
      !test_shape_is(got, mlx_array_shape(want), (int)mlx_array_ndim(want)))
    return INFINITY;
  double* w = test_to_f64(want);
  if (!w) return INFINITY;
  double e = rel_err_ref(got, w, mlx_array_size(want));
  free(w);
  return e;
}

static const char* dtype_name_of(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT16: return "float16";
    case MLX_BFLOAT16: return "bfloat16";
    case MLX_FLOAT64: return "float64";
    default: return "float32";
  }
}

static double tolerance(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT16: return 2e-3;
    case MLX_BFLOAT16: return 1e-2;
    default: return 1e-5;
  }
}

static double lowest_of(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT16: return -65504.0;
    case MLX_BFLOAT16: return -3.3895313892515355e38;
    case MLX_FLOAT64: return -DBL_MAX;
    default: return -FLT_MAX;
  }
}

/* ------------------------------------------------------------------------
 * Double-precision references
 * ---------------------------------------------------------------------- */

typedef enum mask_kind { MASK_NONE, MASK_BOOL, MASK_ADD } mask_kind;

/* An attention problem in doubles; mask (when kind != MASK_NONE) is full
 * [B, nq, tq, tkv]. */
typedef struct attn {
  int B, nq, nkv, tq, tkv, d, dv;
  double scale;
  bool causal;
  mask_kind kind;
  const double *q, *k, *v, *mask, *sinks;
  double lowest;
} attn;

/* MLX's semantics: s = scale q.k; masked (bool false, or past the causal
 * limit j > i + tkv - tq) -> lowest; additive -> s + m; sink z joins the
 * denominator only. out: [B, nq, tq, dv]. */
static void ref_attention(const attn* a, double* out) {
  double* s = malloc(sizeof(double) * (size_t)(a->tkv > 0 ? a->tkv : 1));
  int rep = a->nq / a->nkv;
  for (int b = 0; b < a->B; b++)
    for (int h = 0; h < a->nq; h++)
      for (int i = 0; i < a->tq; i++) {
        int hk = h / rep;
        const double* qr = a->q + (((size_t)b * a->nq + h) * a->tq + i) * a->d;
        double mx = a->sinks ? a->sinks[h] : -INFINITY;
        for (int j = 0; j < a->tkv; j++) {
          const double* kr = a->k + (((size_t)b * a->nkv + hk) * a->tkv + j) * a->d;
          double dot = 0;
          for (int x = 0; x < a->d; x++) dot += qr[x] * kr[x];
          s[j] = a->scale * dot;
          size_t mi = (((size_t)b * a->nq + h) * a->tq + i) * a->tkv + j;
          if (a->causal && j > i + a->tkv - a->tq) s[j] = a->lowest;
          if (a->kind == MASK_BOOL && a->mask[mi] == 0) s[j] = a->lowest;
          if (a->kind == MASK_ADD) s[j] += a->mask[mi];
          if (s[j] > mx) mx = s[j];
        }
        double den = a->sinks ? exp(a->sinks[h] - mx) : 0;
        for (int j = 0; j < a->tkv; j++) den += exp(s[j] - mx);
        double* o = out + (((size_t)b * a->nq + h) * a->tq + i) * a->dv;
        for (int x = 0; x < a->dv; x++) o[x] = 0;
        for (int j = 0; j < a->tkv; j++) {
          double p = exp(s[j] - mx) / den;
          const double* vr = a->v + (((size_t)b * a->nkv + hk) * a->tkv + j) * a->dv;
          for (int x = 0; x < a->dv; x++) o[x] += p * vr[x];
        }
      }
  free(s);
}

/* rms (layer = false) or layer norm of rows of d, in double. w, b may be
 * NULL. */
static void ref_norm(const double* x, const double* w, const double* b, size_t rows, int d,
                     double eps, bool layer, double* out) {
  for (size_t r = 0; r < rows; r++) {
    const double* xr = x + r * (size_t)d;
    double mu = 0, ss = 0;
    if (layer) {
      for (int i = 0; i < d; i++) mu += xr[i];
      mu /= d;
    }
    for (int i = 0; i < d; i++) ss += (xr[i] - mu) * (xr[i] - mu);
    double inv = 1.0 / sqrt(ss / d + eps);
    for (int i = 0; i < d; i++) {
      double y = (xr[i] - mu) * inv;
      if (w) y *= w[i];
      if (b) y += b[i];
      out[r * (size_t)d + i] = y;
    }
  }
}

/* rope of x [B, N, T, D] in double, with MLX's float32 angles:
 * pos = ((float)t + (float)offset[b]) * scale, inv_freq from float32
 * log(base) / (dims/2) (or 1 / freqs[i]), theta = pos * inv_freq in
 * float32, then cos/sin and the rotation in double. */
static void ref_rope(const double* x, int B, int N, int T, int D, int dims, bool traditional,
                     float base, float scale, const int* offsets, int n_offsets,
                     const float* freqs, double* out) {
  int half = dims / 2;
  float step = logf(base) / (float)half;
  for (int b = 0; b < B; b++)
    for (int n = 0; n < N; n++)
      for (int t = 0; t < T; t++) {
        size_t row = (((size_t)b * N + n) * T + t) * D;
        float pos = ((float)t + (float)offsets[n_offsets > 1 ? b : 0]) * scale;
        memcpy(out + row, x + row, sizeof(double) * (size_t)D);
        for (int i = 0; i < half; i++) {
          float inv = freqs ? 1.0f / freqs[i] : (float)exp((double)((float)(-i) * step));
          float theta = pos * inv;
          double c = cos((double)theta), s = sin((double)theta);
          int i1 = traditional ? 2 * i : i, i2 = traditional ? 2 * i + 1 : i + half;
          double x1 = x[row + i1], x2 = x[row + i2];
          out[row + i1] = x1 * c - x2 * s;
          out[row + i2] = x1 * s + x2 * c;
        }
      }
}

/* ------------------------------------------------------------------------
 * Oracle
 * ---------------------------------------------------------------------- */

typedef struct oracle {
  mlx_map_string_to_array sdpa, norm_rope;
  bool ok;
} oracle;

static mlx_array oracle_get(mlx_map_string_to_array m, const char* key) {
  mlx_array a = mlx_array_new();
  if (mlx_map_string_to_array_get(&a, m, key)) {
    fprintf(stderr, "oracle: missing %s\n", key);
    test_failures++;
  }
  return a;
}

static bool oracle_has(mlx_map_string_to_array m, const char* key) {
  mlx_array a = mlx_array_new();
  bool ok = mlx_map_string_to_array_get(&a, m, key) == 0;
  mlx_array_free(a);
  return ok;
}

typedef struct sdpa_case {
  const char* name;
  const char* mode;
} sdpa_case;

static const sdpa_case sdpa_cases[] = {
    {"nomask", ""},
    {"causal", "causal"},
    {"bool_mask", "array"},
    {"bool_mask_per_head_gqa", "array"},
    {"add_mask", "array"},
    {"add_mask_full_gqa", "array"},
    {"gqa", ""},
    {"gqa_causal", "causal"},
    {"gqa_decode", ""},
    {"gqa_decode_causal", "causal"},
    {"gqa_tq_lt_tkv_causal", "causal"},
    {"mqa_causal", "causal"},
    {"dv_ne_dk", ""},
    {"sinks", ""},
    {"sinks_causal", "causal"},
    {"sinks_decode", ""},
    {"sinks_tq_lt_tkv_causal", "causal"},
    {"sinks_bool_mask", "array"},
    {"f16_nomask", ""},
    {"f16_causal_gqa", "causal"},
    {"f16_decode_gqa", ""},
    {"f16_bool_mask", "array"},
    {"f16_add_mask", "array"},
    {"f16_sinks_causal", "causal"},
    {"bf16_causal_gqa", "causal"},
};

typedef int (*sdpa_fn)(mlx_array* res, mlx_array q, mlx_array k, mlx_array v, float scale,
                       const char* mode, mlx_array mask, mlx_array sinks, mlx_stream s);

/* The composed fallback through the internal front-end, with the public
 * function's shape. */
#include "api/api.h"
#include "ops/fast.h"

static int sdpa_composed(mlx_array* res, mlx_array q, mlx_array k, mlx_array v, float scale,
                         const char* mode, mlx_array mask, mlx_array sinks, mlx_stream s) {
  stream st;
  if (api_stream(&st, s, "sdpa")) return api_fail();
  array* out = op_fast_sdpa_composed(api_array(q), api_array(k), api_array(v), scale, mode,
                                     mask.ctx ? api_array(mask) : NULL,
                                     sinks.ctx ? api_array(sinks) : NULL, st);
  return api_finish(res, out);
}

static void oracle_sdpa(const oracle* o) {
  for (size_t i = 0; i < sizeof sdpa_cases / sizeof sdpa_cases[0]; i++) {
    const sdpa_case* c = &sdpa_cases[i];
    char key[160];
#define GET(field)                                         \
  (snprintf(key, sizeof key, "%s/%s", c->name, field), \
   oracle_has(o->sdpa, key) ? oracle_get(o->sdpa, key) : mlx_array_new())
    mlx_array q = GET("q"), k = GET("k"), v = GET("v"), mask = GET("mask"), sinks = GET("sinks"),
              want = GET("out");
#undef GET
    if (!q.ctx || !want.ctx) {
      CHECK_MSG(false, "oracle case %s is missing", c->name);
      continue;
    }
    float scale = 1.0f / sqrtf((float)mlx_array_dim(q, 3));
    sdpa_fn fns[2] = {mlx_fast_scaled_dot_product_attention, sdpa_composed};
    for (int f = 0; f < 2; f++) {
      mlx_array out = mlx_array_new();
      CHECK_OK(fns[f](&out, q, k, v, scale, c->mode, mask, sinks, test_stream));
      double e = rel_err(out, want);
      CHECK_MSG(e <= tolerance(mlx_array_dtype(want)), "sdpa oracle %s (%s): rel err %g",
                c->name, f ? "composed" : "fused", e);
      CHECK(mlx_array_dtype(out) == mlx_array_dtype(want));
      mlx_array_free(out);
    }
    mlx_array_free(q);
    mlx_array_free(k);
    mlx_array_free(v);
    mlx_array_free(mask);
    mlx_array_free(sinks);
    mlx_array_free(want);
  }
}

static int norm_composed(mlx_array* res, mlx_array x, mlx_array w, mlx_array b, float eps,
                         bool layer) {
  stream st;
  if (api_stream(&st, test_stream, "norm")) return api_fail();
  array* xa = api_array(x);
  array* wa = w.ctx ? api_array(w) : NULL;
  array* ba = b.ctx ? api_array(b) : NULL;
  return api_finish(res, layer ? op_fast_layer_norm_composed(xa, wa, ba, eps, st)
                               : op_fast_rms_norm_composed(xa, wa, eps, st));
}

/* Fused and composed norm against want. */
static void check_norm(const char* what, mlx_array x, mlx_array w, mlx_array b, float eps,
                       bool layer, mlx_array want) {
  for (int f = 0; f < 2; f++) {
    mlx_array out = mlx_array_new();
    if (f == 0 && layer) CHECK_OK(mlx_fast_layer_norm(&out, x, w, b, eps, test_stream));
    else if (f == 0) CHECK_OK(mlx_fast_rms_norm(&out, x, w, eps, test_stream));
    else CHECK_OK(norm_composed(&out, x, w, b, eps, layer));
    double e = rel_err(out, want);
    CHECK_MSG(e <= tolerance(mlx_array_dtype(want)) &&
                  mlx_array_dtype(out) == mlx_array_dtype(want),
              "%s (%s): rel err %g", what, f ? "composed" : "fused", e);
    mlx_array_free(out);
  }
}

static void oracle_norm(const oracle* o) {
  mlx_map_string_to_array m = o->norm_rope;
  mlx_array x = oracle_get(m, "norm/x"), w = oracle_get(m, "norm/weight"),
            b = oracle_get(m, "norm/bias"), x3 = oracle_get(m, "norm/x3"),
            w3 = oracle_get(m, "norm/w3"), xh = oracle_get(m, "norm/x_f16"),
            wh = oracle_get(m, "norm/weight_f16"), bh = oracle_get(m, "norm/bias_f16");
  mlx_array none = mlx_array_new();
  struct {
    const char* key;
    mlx_array x, w, b;
    float eps;
    bool layer;
  } cases[] = {
      {"rms/out", x, w, none, 1e-5f, false},
      {"rms/out_noweight", x, none, none, 1e-5f, false},
      {"rms/out3", x3, w3, none, 1e-6f, false},
      {"rms/out_f16", xh, wh, none, 1e-5f, false},
      {"ln/out", x, w, b, 1e-5f, true},
      {"ln/out_noaffine", x, none, none, 1e-5f, true},
      {"ln/out_weightonly", x, w, none, 1e-5f, true},
      {"ln/out3", x3, w3, none, 1e-6f, true},
      {"ln/out_f16", xh, wh, bh, 1e-5f, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mlx_array want = oracle_get(m, cases[i].key);
    check_norm(cases[i].key, cases[i].x, cases[i].w, cases[i].b, cases[i].eps, cases[i].layer,
               want);
    mlx_array_free(want);
  }
  mlx_array all[] = {x, w, b, x3, w3, xh, wh, bh};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mlx_array_free(all[i]);
}

static int rope_composed(mlx_array* res, mlx_array x, int dims, bool traditional,
                         mlx_optional_float base, float scale, mlx_array offset,
                         mlx_array freqs) {
  stream st;
  if (api_stream(&st, test_stream, "rope")) return api_fail();
  return api_finish(res, op_fast_rope_composed(api_array(x), dims, traditional,
                                               base.has_value ? &base.value : NULL, scale,
                                               api_array(offset),
                                               freqs.ctx ? api_array(freqs) : NULL, st));
}

/* Fused (int offset when offset_arr is empty, else dynamic) and composed
 * rope against want. */
static void check_rope(const char* what, mlx_array x, int dims, bool traditional,
                       mlx_optional_float base, float scale, int offset, mlx_array offset_arr,
                       mlx_array freqs, mlx_array want, double tol, double composed_tol) {
  mlx_array off = offset_arr.ctx ? offset_arr : mlx_array_new_int(offset);
  for (int f = 0; f < 2; f++) {
    mlx_array out = mlx_array_new();
    if (f == 1)
      CHECK_OK(rope_composed(&out, x, dims, traditional, base, scale, off, freqs));
    else if (offset_arr.ctx)
      CHECK_OK(mlx_fast_rope_dynamic(&out, x, dims, traditional, base, scale, offset_arr, freqs,
                                     test_stream));
    else
      CHECK_OK(mlx_fast_rope(&out, x, dims, traditional, base, scale, offset, freqs,
                             test_stream));
    double e = want.ctx ? rel_err(out, want) : 0;
    CHECK_MSG(e <= (f ? composed_tol : tol) && mlx_array_dtype(out) == mlx_array_dtype(x),
              "%s (%s): rel err %g",
              what, f ? "composed" : "fused", e);
    mlx_array_free(out);
  }
  if (!offset_arr.ctx) mlx_array_free(off);
}

static void oracle_rope(const oracle* o) {
  mlx_map_string_to_array m = o->norm_rope;
  struct {
    const char* name;
    bool f16;
    int dims;
    bool traditional;
    float base, scale; /* base 0: none (freqs) */
    int offset;        /* -1: rope/offset_arr */
  } cases[] = {
      {"d64_nontrad_off0", false, 64, false, 10000, 1, 0},
      {"d64_trad_off0", false, 64, true, 10000, 1, 0},
      {"d64_nontrad_off7", false, 64, false, 10000, 1, 7},
      {"d64_trad_off7", false, 64, true, 10000, 1, 7},
      {"d32_nontrad_off3", false, 32, false, 10000, 1, 3},
      {"d32_trad_off3", false, 32, true, 10000, 1, 3},
      {"d64_nontrad_base1e6_scale0.5_off5", false, 64, false, 1e6f, 0.5f, 5},
      {"d64_nontrad_off1000", false, 64, false, 10000, 1, 1000},
      {"f16_d64_nontrad_off7", true, 64, false, 10000, 1, 7},
      {"f16_d64_trad_off7", true, 64, true, 10000, 1, 7},
      {"freqs_nontrad_off2", false, 64, false, 0, 1, 2},
      {"d64_nontrad_offarr", false, 64, false, 10000, 1, -1},
  };
  mlx_array x = oracle_get(m, "rope/x"), xh = oracle_get(m, "rope/x_f16");
  mlx_array freqs = oracle_get(m, "rope/freqs"), offs = oracle_get(m, "rope/offset_arr");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char key[128];
    snprintf(key, sizeof key, "rope/%s", cases[i].name);
    mlx_array want = oracle_get(m, key);
    mlx_optional_float base = cases[i].base > 0 ? base_of(cases[i].base) : no_base;
    /* The fused kernel takes its frequencies from MLX's own float32 exp;
     * the composition uses cmlx's exp (within 2 ulp of e^x), and at
     * position 1000 an ulp of a frequency is ~1e-5 of the output. */
    double tol = tolerance(cases[i].f16 ? MLX_FLOAT16 : MLX_FLOAT32);
    check_rope(key, cases[i].f16 ? xh : x, cases[i].dims, cases[i].traditional, base,
               cases[i].scale, cases[i].offset < 0 ? 0 : cases[i].offset,
               cases[i].offset < 0 ? offs : mlx_array_new(),
               cases[i].base > 0 ? mlx_array_new() : freqs, want, tol,
               cases[i].offset >= 1000 ? 5e-5 : tol);
    mlx_array_free(want);
  }
  mlx_array_free(x);
  mlx_array_free(xh);
  mlx_array_free(freqs);
  mlx_array_free(offs);
}

static bool oracle_open(oracle* o) {
  o->sdpa = mlx_map_string_to_array_new();
  o->norm_rope = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  FILE* f = fopen(ORACLE_DIR "/sdpa.safetensors", "rb");
  o->ok = f != NULL;
  if (f) fclose(f);
  if (o->ok) {
    CHECK_OK(mlx_load_safetensors(&o->sdpa, &meta, ORACLE_DIR "/sdpa.safetensors", test_stream));
    CHECK_OK(mlx_load_safetensors(&o->norm_rope, &meta, ORACLE_DIR "/norm_rope.safetensors",
                                  test_stream));
  }
  mlx_map_string_to_string_free(meta);
  return o->ok;
}

static void oracle_close(oracle* o) {
  mlx_map_string_to_array_free(o->sdpa);
  mlx_map_string_to_array_free(o->norm_rope);
}

/* ------------------------------------------------------------------------
 * Attention on random inputs
 * ---------------------------------------------------------------------- */

/* How a test lays out an input: made directly, as a transposed view of a
 * [B, T, N, D] array, as a slice of a longer [B, N, T + 5, D] cache, as
 * the transpose of [B, N, D, T] (last axis not unit-stride), broadcast
 * over heads from [B, 1, T, D], or read backwards along T and heads from a
 * reversed copy (negative strides). */
typedef enum layout {
  PLAIN,
  FROM_BTND,
  CACHE_SLICE,
  LAST_STRIDED,
  HEAD_BROADCAST,
  REVERSED,
} layout;

static mlx_array view_of(mlx_array a, layout l) {
  mlx_array r = mlx_array_new();
  const int* sh = mlx_array_shape(a);
  int B = sh[0], N = sh[1], T = sh[2], D = sh[3];
  switch (l) {
    case FROM_BTND: {
      /* the same values laid out [B, T, N, D], viewed back */
      int perm[4] = {0, 2, 1, 3};
      mlx_array t = mlx_array_new(), c = mlx_array_new();
      CHECK_OK(mlx_transpose_axes(&t, a, perm, 4, test_stream));
      CHECK_OK(mlx_contiguous(&c, t, false, test_stream));
      CHECK_OK(mlx_transpose_axes(&r, c, perm, 4, test_stream));
      mlx_array_free(t);
      mlx_array_free(c);
      break;
    }
    case CACHE_SLICE: {
      int shape[4] = {B, N, T + 5, D};
      mlx_array big = rand_array(shape, 4, mlx_array_dtype(a), -1, 1);
      mlx_array u = mlx_array_new();
      int start[4] = {0, 0, 2, 0}, stop[4] = {B, N, T + 2, D}, step[4] = {1, 1, 1, 1};
      CHECK_OK(mlx_slice_update(&u, big, a, start, 4, stop, 4, step, 4, test_stream));
      CHECK_OK(mlx_slice(&r, u, start, 4, stop, 4, step, 4, test_stream));
      CHECK_OK(mlx_array_eval(r));
      mlx_array_free(big);
      mlx_array_free(u);
      break;
    }
    case LAST_STRIDED: {
      mlx_array t = mlx_array_new(), c = mlx_array_new();
      CHECK_OK(mlx_swapaxes(&t, a, 2, 3, test_stream));
      CHECK_OK(mlx_contiguous(&c, t, false, test_stream));
      CHECK_OK(mlx_swapaxes(&r, c, 2, 3, test_stream));
      mlx_array_free(t);
      mlx_array_free(c);
      break;
    }
    case HEAD_BROADCAST: {
      int start[4] = {0, 0, 0, 0}, stop[4] = {B, 1, T, D}, step[4] = {1, 1, 1, 1};
      mlx_array one = mlx_array_new();
      CHECK_OK(mlx_slice(&one, a, start, 4, stop, 4, step, 4, test_stream));
      CHECK_OK(mlx_broadcast_to(&r, one, sh, 4, test_stream));
      mlx_array_free(one);
      break;
    }
    case REVERSED: {
      int start[4] = {0, N - 1, T - 1, 0}, stop[4] = {B, -N - 1, -T - 1, D},
          step[4] = {1, -1, -1, 1};
      mlx_array rev = mlx_array_new(), c = mlx_array_new();
      CHECK_OK(mlx_slice(&rev, a, start, 4, stop, 4, step, 4, test_stream));
      CHECK_OK(mlx_contiguous(&c, rev, false, test_stream));
      CHECK_OK(mlx_slice(&r, c, start, 4, stop, 4, step, 4, test_stream));
      mlx_array_free(rev);
      mlx_array_free(c);
      break;
    }
    default:
      mlx_array_set(&r, a);
      break;
  }
  mlx_array_free(a);
  return r;
}

typedef struct attn_spec {
  int B, nq, nkv, tq, tkv, d, dv;
  const char* mode;
  mask_kind mask;
  int mask_nd;         /* the mask's rank (1-4), broadcast to [B, nq, tq, tkv] */
  bool mask_per_head;  /* rank >= 3: a real head axis (else 1) */
  bool sinks;
  mlx_dtype t;
  layout lq, lk, lv;
} attn_spec;

/* The mask index of full position (b, h, i, j) under broadcasting. */
static size_t mask_index(const int* ms, int nd, int b, int h, int i, int j) {
  int full[4] = {b, h, i, j};
  size_t idx = 0;
  for (int a = 0; a < nd; a++) {
    int fa = 4 - nd + a;
    idx = idx * (size_t)ms[a] + (size_t)(ms[a] == 1 ? 0 : full[fa]);
  }
  return idx;
}

/* Runs one attention problem through the fused op (and, for float32, the
 * composition) and compares both with ref_attention. */
static void check_attention(const char* label, const attn_spec* sp) {
  int qs[4] = {sp->B, sp->nq, sp->tq, sp->d}, ks[4] = {sp->B, sp->nkv, sp->tkv, sp->d},
      vs[4] = {sp->B, sp->nkv, sp->tkv, sp->dv};
  mlx_array q = view_of(rand_array(qs, 4, sp->t, -2, 2), sp->lq);
  mlx_array k = view_of(rand_array(ks, 4, sp->t, -2, 2), sp->lk);
  mlx_array v = view_of(rand_array(vs, 4, sp->t, -1, 1), sp->lv);
  mlx_array mask = mlx_array_new(), sinks = mlx_array_new();
  int ms[4], mnd = sp->mask_nd;
  if (sp->mask != MASK_NONE) {
    int full[4] = {sp->B, sp->nq, sp->tq, sp->tkv};
    for (int a = 0; a < mnd; a++) ms[a] = full[4 - mnd + a];
    if (mnd >= 3 && !sp->mask_per_head) ms[mnd - 3] = 1;
    if (mnd == 4 && sp->B > 1 && !sp->mask_per_head) ms[0] = 1;
    size_t n = shape_size(ms, mnd);
    double* mv = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
      if (sp->mask == MASK_BOOL) mv[i] = test_rand(0, 1) < 0.7;
      else mv[i] = test_rand(0, 1) < 0.15 ? -1e9 : test_rand(-2, 2);
    }
    /* the first row of the mask sees nothing */
    if (sp->mask == MASK_BOOL && mnd >= 2)
      for (int j = 0; j < ms[mnd - 1]; j++) mv[j] = 0;
    mask = sp->mask == MASK_BOOL ? cast(from_f64(mv, ms, mnd, MLX_FLOAT32), MLX_BOOL)
                                 : from_f64(mv, ms, mnd, sp->t);
    free(mv);
  }
  if (sp->sinks) {
    int n = sp->nq;
    sinks = rand_array(&n, 1, sp->t, -1, 2);
  }
  float scale = 1.0f / sqrtf((float)sp->d);

  /* the reference, from the values the op sees */
  double *qd = test_to_f64(q), *kd = test_to_f64(k), *vd = test_to_f64(v);
  double *md = NULL, *sd = sinks.ctx ? test_to_f64(sinks) : NULL;
  size_t nfull = (size_t)sp->B * sp->nq * sp->tq * sp->tkv;
  if (mask.ctx) {
    double* raw = test_to_f64(mask);
    md = malloc(sizeof(double) * (nfull ? nfull : 1));
    for (int b = 0; b < sp->B; b++)
      for (int h = 0; h < sp->nq; h++)
        for (int i = 0; i < sp->tq; i++)
          for (int j = 0; j < sp->tkv; j++)
            md[(((size_t)b * sp->nq + h) * sp->tq + i) * sp->tkv + j] =
                raw[mask_index(ms, mnd, b, h, i, j)];
    free(raw);
  }
  attn a = {sp->B, sp->nq, sp->nkv, sp->tq, sp->tkv, sp->d, sp->dv, scale,
            !strcmp(sp->mode, "causal"), sp->mask, qd, kd, vd, md, sd, lowest_of(sp->t)};
  size_t nout = (size_t)sp->B * sp->nq * sp->tq * sp->dv;
  double* want = malloc(sizeof(double) * (nout ? nout : 1));
  ref_attention(&a, want);

  int oshape[4] = {sp->B, sp->nq, sp->tq, sp->dv};
  for (int f = 0; f < (sp->t == MLX_FLOAT32 ? 2 : 1); f++) {
    mlx_array out = mlx_array_new();
    sdpa_fn fn = f ? sdpa_composed : mlx_fast_scaled_dot_product_attention;
    CHECK_OK(fn(&out, q, k, v, scale, sp->mode, mask, sinks, test_stream));
    CHECK_MSG(test_shape_is(out, oshape, 4) && mlx_array_dtype(out) == sp->t,
              "%s: shape or dtype", label);
    double e = rel_err_ref(out, want, nout);
    CHECK_MSG(e <= tolerance(sp->t), "%s (%s, %s): rel err %g", label,
              f ? "composed" : "fused", dtype_name_of(sp->t), e);
    mlx_array_free(out);
  }
  free(qd), free(kd), free(vd), free(md), free(sd), free(want);
  mlx_array_free(q), mlx_array_free(k), mlx_array_free(v);
  mlx_array_free(mask), mlx_array_free(sinks);
}

static const mlx_dtype float_types[3] = {MLX_FLOAT32, MLX_FLOAT16, MLX_BFLOAT16};

static void test_attention_decode_single_query(void) {
  /* T_q = 1 over caches of several lengths; N_q / N_kv = 1, 4, 8 */
  const struct { int nq, nkv, tkv, d; } cases[] = {
      {8, 2, 33, 64}, {4, 1, 200, 128}, {8, 1, 77, 80}, {3, 3, 50, 64}, {32, 8, 130, 64},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int ti = 0; ti < 3; ti++) {
      attn_spec sp = {2, cases[c].nq, cases[c].nkv, 1, cases[c].tkv, cases[c].d, cases[c].d,
                      "", MASK_NONE, 0, false, false, float_types[ti], PLAIN, PLAIN, PLAIN};
      check_attention("decode", &sp);
      sp.mode = "causal";
      check_attention("decode causal", &sp);
    }
}

static void test_attention_causal_lower_right_aligned(void) {
  const struct { int nq, nkv, tq, tkv, d; } cases[] = {
      {8, 2, 5, 13, 64},   /* T_q < T_kv: query i sees keys <= i + 8 */
      {16, 4, 37, 300, 64},
      {4, 4, 130, 130, 80}, /* several query blocks per head */
      {8, 1, 20, 7, 64},    /* T_q > T_kv: the first 13 rows see nothing and average V */
      {4, 1, 9, 9, 128},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int ti = 0; ti < 3; ti++) {
      attn_spec sp = {1, cases[c].nq, cases[c].nkv, cases[c].tq, cases[c].tkv, cases[c].d,
                      cases[c].d, "causal", MASK_NONE, 0, false, false, float_types[ti],
                      PLAIN, PLAIN, PLAIN};
      check_attention("causal", &sp);
    }
}

static void test_attention_long_keys_split_across_threads(void) {
  /* one (batch, kv head, query block): the keys are sliced over the
   * threads and merged */
  for (int ti = 0; ti < 3; ti++) {
    attn_spec sp = {1, 4, 1, 1, 2000, 64, 64, "", MASK_NONE, 0, false, false, float_types[ti],
                    PLAIN, PLAIN, PLAIN};
    check_attention("split", &sp);
    sp.sinks = true;
    check_attention("split sinks", &sp);
    sp.tq = 3;
    sp.mode = "causal";
    check_attention("split causal", &sp);
    sp.mode = "array";
    sp.mask = MASK_BOOL;
    sp.mask_nd = 2;
    check_attention("split bool mask", &sp);
  }
}

static void test_attention_sinks_with_masks(void) {
  for (int ti = 0; ti < 3; ti++) {
    mlx_dtype t = float_types[ti];
    attn_spec sp = {2, 8, 2, 6, 10, 32, 32, "array", MASK_BOOL, 4, true, true, t,
                    PLAIN, PLAIN, PLAIN};
    check_attention("sinks + per-head bool mask", &sp);
    sp.mask = MASK_ADD;
    check_attention("sinks + additive mask", &sp);
    sp.mask = MASK_NONE;
    sp.mode = "causal";
    check_attention("sinks + causal", &sp);
    sp.tq = 1;
    sp.tkv = 70;
    check_attention("sinks + causal decode", &sp);
  }
}

static void test_attention_mask_shapes_broadcast(void) {
  for (int nd = 1; nd <= 4; nd++)
    for (int kind = MASK_BOOL; kind <= MASK_ADD; kind++) {
      attn_spec sp = {2, 8, 4, 5, 19, 64, 64, "array", (mask_kind)kind, nd, nd >= 3, false,
                      MLX_FLOAT32, PLAIN, PLAIN, PLAIN};
      check_attention("mask broadcast", &sp);
      sp.mask_per_head = false;
      sp.mode = "";
      check_attention("mask broadcast, mode \"\"", &sp);
    }
  /* a one-query decode with a mask over the cache */
  attn_spec sp = {1, 8, 2, 1, 100, 64, 64, "array", MASK_ADD, 1, false, false, MLX_BFLOAT16,
                  PLAIN, PLAIN, PLAIN};
  check_attention("decode additive mask", &sp);
}

static void test_attention_value_dim_differs(void) {
  const int dims[][2] = {{64, 32}, {80, 48}, {40, 24}, {128, 80}};
  for (int c = 0; c < 4; c++)
    for (int ti = 0; ti < 3; ti++) {
      attn_spec sp = {1, 4, 2, 7, 21, dims[c][0], dims[c][1], "causal", MASK_NONE, 0, false,
                      false, float_types[ti], PLAIN, PLAIN, PLAIN};
      check_attention("d_v != d", &sp);
      sp.tq = 1;
      check_attention("d_v != d decode", &sp);
    }
}

static void test_attention_strided_inputs(void) {
  for (int ti = 0; ti < 3; ti++) {
    attn_spec sp = {2, 8, 2, 9, 40, 64, 64, "causal", MASK_NONE, 0, false, false,
                    float_types[ti], FROM_BTND, CACHE_SLICE, LAST_STRIDED};
    check_attention("q from [B,T,N,D], k cache slice, v last-axis strided", &sp);
    sp.tq = 1;
    check_attention("decode, strided", &sp);
    sp.lk = HEAD_BROADCAST;
    sp.lv = HEAD_BROADCAST;
    sp.lq = LAST_STRIDED;
    check_attention("k and v broadcast over heads", &sp);
    sp.lq = sp.lk = sp.lv = REVERSED;
    check_attention("negative strides, decode", &sp);
    sp.tq = 9;
    sp.mode = "array";
    sp.mask = MASK_BOOL;
    sp.mask_nd = 4;
    sp.mask_per_head = true;
    check_attention("negative strides, masked", &sp);
  }
}

static void test_attention_mixed_and_float64(void) {
  /* q float16, k float32, v bfloat16: everything becomes float32 */
  int qs[4] = {1, 4, 3, 16}, ks[4] = {1, 2, 5, 16};
  mlx_array q = rand_array(qs, 4, MLX_FLOAT16, -1, 1), k = rand_array(ks, 4, MLX_FLOAT32, -1, 1),
            v = rand_array(ks, 4, MLX_BFLOAT16, -1, 1), none = mlx_array_new();
  mlx_array out = mlx_array_new(), ref = mlx_array_new();
  CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, v, 0.25f, "", none, none,
                                                 test_stream));
  CHECK(mlx_array_dtype(out) == MLX_FLOAT32);
  CHECK_OK(sdpa_composed(&ref, q, k, v, 0.25f, "", none, none, test_stream));
  CHECK(rel_err(out, ref) <= 1e-5);
  /* an int32 additive mask promotes into float32 */
  int32_t mi[15];
  for (int i = 0; i < 15; i++) mi[i] = (i % 4) - 2;
  int mshape[2] = {3, 5};
  mlx_array mask = test_array_i32(mi, mshape, 2);
  CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, v, 0.25f, "array", mask, none,
                                                 test_stream));
  CHECK_OK(sdpa_composed(&ref, q, k, v, 0.25f, "array", mask, none, test_stream));
  CHECK(mlx_array_dtype(out) == MLX_FLOAT32 && rel_err(out, ref) <= 1e-5);
  mlx_array_free(q), mlx_array_free(k), mlx_array_free(v), mlx_array_free(mask);
  mlx_array_free(out), mlx_array_free(ref);
  /* float64 takes MLX's composition */
  attn_spec sp = {1, 4, 2, 6, 11, 16, 16, "causal", MASK_NONE, 0, false, true, MLX_FLOAT64,
                  PLAIN, PLAIN, PLAIN};
  check_attention("float64", &sp);
}

static void test_attention_empty_and_degenerate(void) {
  mlx_array none = mlx_array_new();
  /* T_q = 0, B = 0: empty results of the right shape */
  int shapes[2][3][4] = {{{1, 4, 0, 8}, {1, 2, 5, 8}, {1, 4, 0, 8}},
                         {{0, 4, 3, 8}, {0, 2, 5, 8}, {0, 4, 3, 8}}};
  for (int c = 0; c < 2; c++) {
    mlx_array q = rand_array(shapes[c][0], 4, MLX_FLOAT32, -1, 1);
    mlx_array k = rand_array(shapes[c][1], 4, MLX_FLOAT32, -1, 1);
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, k, 1.0f, "causal", none, none,
                                                   test_stream));
    CHECK_OK(mlx_array_eval(out));
    CHECK(test_shape_is(out, shapes[c][2], 4));
    mlx_array_free(q), mlx_array_free(k), mlx_array_free(out);
  }
  /* T_kv = 0: a softmax over nothing, times nothing: zeros (with or
   * without sinks) */
  int qs[4] = {1, 2, 3, 8}, ks[4] = {1, 2, 0, 8}, two = 2;
  mlx_array q = rand_array(qs, 4, MLX_FLOAT32, -1, 1), k = rand_array(ks, 4, MLX_FLOAT32, 0, 1);
  mlx_array sinks = rand_array(&two, 1, MLX_FLOAT32, 0, 1);
  for (int sk = 0; sk < 2; sk++) {
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, k, 1.0f, "", none,
                                                   sk ? sinks : none, test_stream));
    double* o = test_to_f64(out);
    bool zeros = o != NULL;
    for (size_t i = 0; o && i < mlx_array_size(out); i++) zeros &= o[i] == 0;
    CHECK_MSG(zeros && mlx_array_size(out) == 48, "T_kv = 0 gives zeros (sinks %d)", sk);
    free(o);
    mlx_array_free(out);
  }
  mlx_array_free(q), mlx_array_free(k), mlx_array_free(sinks);
}

static void test_attention_all_minus_inf_row_is_nan(void) {
  /* MLX's softmax of a row of -inf is NaN (max - max); so is ours */
  int qs[4] = {1, 1, 2, 16}, ks[4] = {1, 1, 4, 16}, ms[2] = {2, 4};
  double mv[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, 0, -INFINITY, 1, 2};
  mlx_array q = rand_array(qs, 4, MLX_FLOAT32, -1, 1), k = rand_array(ks, 4, MLX_FLOAT32, -1, 1);
  mlx_array mask = from_f64(mv, ms, 2, MLX_FLOAT32), none = mlx_array_new();
  mlx_array out = mlx_array_new(), ref = mlx_array_new();
  CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, k, 0.25f, "", mask, none,
                                                 test_stream));
  CHECK_OK(sdpa_composed(&ref, q, k, k, 0.25f, "", mask, none, test_stream));
  double *o = test_to_f64(out), *r = test_to_f64(ref);
  bool ok = true;
  for (int i = 0; i < 16; i++) ok &= isnan(o[i]) && isnan(r[i]);
  for (int i = 16; i < 32; i++) ok &= !isnan(o[i]) && fabs(o[i] - r[i]) < 1e-5;
  CHECK_MSG(ok, "a row of -inf gives NaN, the other row is finite");
  free(o), free(r);
  mlx_array_free(q), mlx_array_free(k), mlx_array_free(mask), mlx_array_free(out);
  mlx_array_free(ref);
}

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

static mlx_array zeros_of(const int* shape, int nd, mlx_dtype t) {
  mlx_array a = mlx_array_new();
  CHECK_OK(mlx_zeros(&a, shape, (size_t)nd, t, test_stream));
  return a;
}

static void test_attention_errors(void) {
#define SDPA_ERR(q, k, v, mode, mask, sinks, msg)                                          \
  do {                                                                                    \
    mlx_array r_ = mlx_array_new();                                                        \
    EXPECT_ERROR(mlx_fast_scaled_dot_product_attention(&r_, q, k, v, 0.25f, mode, mask,     \
                                                       sinks, test_stream),                \
                 "[scaled_dot_product_attention] " msg);                                   \
    mlx_array_free(r_);                                                                    \
  } while (0)
  int qs[4] = {1, 8, 4, 16}, ks[4] = {1, 2, 6, 16};
  mlx_array q = zeros_of(qs, 4, MLX_FLOAT32), k = zeros_of(ks, 4, MLX_FLOAT32);
  mlx_array none = mlx_array_new();
  int s4 = 4, s2 = 2, s8 = 8, s18[2] = {1, 8};
  mlx_array sk4 = zeros_of(&s4, 1, MLX_FLOAT32), sk2 = zeros_of(&s2, 1, MLX_FLOAT32);
  mlx_array sk18 = zeros_of(s18, 2, MLX_FLOAT32), sk0 = mlx_array_new_float(0.5f);
  /* the oracle's records */
  SDPA_ERR(q, k, k, "", none, sk4, "Received invalid shape for sinks (4).");
  SDPA_ERR(q, k, k, "", none, sk18, "Received invalid shape for sinks (1,8).");
  SDPA_ERR(q, k, k, "", none, sk2, "Received invalid shape for sinks (2).");
  SDPA_ERR(q, k, k, "", none, sk0, "Received invalid shape for sinks ().");
  int q3s[3] = {8, 4, 16}, k3s[3] = {2, 6, 16};
  mlx_array q3 = zeros_of(q3s, 3, MLX_FLOAT32), k3 = zeros_of(k3s, 3, MLX_FLOAT32);
  SDPA_ERR(q3, k3, k3, "", none, none, "input with shape (8,4,16) expected to be rank 4");
  SDPA_ERR(q, k3, k3, "", none, none, "input with shape (2,6,16) expected to be rank 4");
  int k33[4] = {1, 3, 6, 16}, kd32[4] = {1, 2, 6, 32}, v4[4] = {1, 4, 6, 16},
      kb2[4] = {2, 2, 6, 16};
  mlx_array k_3 = zeros_of(k33, 4, MLX_FLOAT32), k_d = zeros_of(kd32, 4, MLX_FLOAT32),
            v_4 = zeros_of(v4, 4, MLX_FLOAT32), k_b = zeros_of(kb2, 4, MLX_FLOAT32);
  SDPA_ERR(q, k_3, k_3, "", none, none,
           "n_heads must be a multiple of n_kv_heads, found n_heads 8 for n_kv_heads 3.");
  SDPA_ERR(q, k_d, k_d, "", none, none,
           "query, keys expected to have matching last dimension; found query shape "
           "(1,8,4,16) for keys shape (1,2,6,32).");
  SDPA_ERR(q, k, v_4, "", none, none,
           "keys, values expected to have matching n_kv_heads; found keys with n_heads 2 for "
           "values with n_heads 4.");
  SDPA_ERR(q, k_b, k_b, "", none, none,
           "mismatching batch dimension for input with shape (2,2,6,16).");
  SDPA_ERR(q, k, k, "upper", none, none,
           "Invalid mask_mode upper. mask_mode must be 'causal', 'array' or ''.");
  int m46[2] = {4, 6}, m5[5] = {1, 1, 1, 4, 6}, m56[2] = {5, 6};
  mlx_array mb = zeros_of(m46, 2, MLX_BOOL), m5d = zeros_of(m5, 5, MLX_FLOAT32),
            mf = zeros_of(m46, 2, MLX_FLOAT32), mbad = zeros_of(m56, 2, MLX_FLOAT32);
  SDPA_ERR(q, k, k, "causal", mb, none,
           "Invalid mask_arr for mask_mode 'casusal'. No array mask should be passed.");
  SDPA_ERR(q, k, k, "array", m5d, none,
           "the mask with shape (1,1,1,4,6) expected to have at most rank 4.");
  mlx_array qh = zeros_of(qs, 4, MLX_FLOAT16), kh = zeros_of(ks, 4, MLX_FLOAT16);
  mlx_array sk8 = zeros_of(&s8, 1, MLX_FLOAT32);
  SDPA_ERR(qh, kh, kh, "array", mf, none, "Mask type must promote to output type float16.");
  SDPA_ERR(qh, kh, kh, "", none, sk8, "Type of sinks must promote to output type float16.");
  {
    mlx_array r = mlx_array_new();
    EXPECT_ERROR(mlx_fast_scaled_dot_product_attention(&r, q, k, k, 0.25f, "array", mbad, none,
                                                       test_stream),
                 "[broadcast_shapes] Shapes (5,6) and (1,8,4,6) cannot be broadcast.");
    mlx_array_free(r);
  }
  mlx_array qi = zeros_of(qs, 4, MLX_INT32), ki = zeros_of(ks, 4, MLX_INT32);
  SDPA_ERR(qi, ki, ki, "", none, none, "Received unsupported type int32.");
  mlx_array qc = zeros_of(qs, 4, MLX_COMPLEX64);
  SDPA_ERR(qc, k, k, "", none, none, "Received unsupported type complex64.");
  /* checks come in MLX's order: rank before mask mode before batch */
  SDPA_ERR(q3, k_b, k_b, "upper", none, none, "input with shape (8,4,16) expected to be rank 4");
  SDPA_ERR(q, k_b, k_b, "upper", none, none,
           "Invalid mask_mode upper. mask_mode must be 'causal', 'array' or ''.");
  /* a mask passed with mode "" is used; "array" without one is no mask */
  {
    mlx_array r1 = mlx_array_new(), r2 = mlx_array_new(), r3 = mlx_array_new();
    int kq[4] = {1, 8, 4, 16};
    mlx_array qr = rand_array(kq, 4, MLX_FLOAT32, -1, 1);
    mlx_array kr = rand_array(ks, 4, MLX_FLOAT32, -1, 1);
    mlx_array mr = rand_array(m46, 2, MLX_FLOAT32, -3, 3);
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&r1, qr, kr, kr, 0.25f, "", mr, none,
                                                   test_stream));
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&r2, qr, kr, kr, 0.25f, "array", mr, none,
                                                   test_stream));
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&r3, qr, kr, kr, 0.25f, "array", none, none,
                                                   test_stream));
    mlx_array r4 = mlx_array_new();
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&r4, qr, kr, kr, 0.25f, "", none, none,
                                                   test_stream));
    CHECK(rel_err(r1, r2) == 0 && rel_err(r3, r4) == 0 && rel_err(r1, r3) > 1e-3);
    mlx_array_free(r1), mlx_array_free(r2), mlx_array_free(r3), mlx_array_free(r4);
    mlx_array_free(qr), mlx_array_free(kr), mlx_array_free(mr);
  }
  /* keys and values of different lengths: MLX's matmul reports it */
  {
    int v7[4] = {1, 2, 7, 16};
    mlx_array v_7 = zeros_of(v7, 4, MLX_FLOAT32), r = mlx_array_new();
    EXPECT_ERROR_PREFIX(mlx_fast_scaled_dot_product_attention(&r, q, k, v_7, 0.25f, "", none,
                                                              none, test_stream),
                        "[matmul]");
    mlx_array_free(v_7), mlx_array_free(r);
  }
  /* API: the result pointer, empty required handles */
  EXPECT_ERROR(mlx_fast_scaled_dot_product_attention(NULL, q, k, k, 0.25f, "", none, none,
                                                     test_stream),
               "[scaled_dot_product_attention] The result pointer is NULL.");
  {
    mlx_array r = mlx_array_new();
    EXPECT_ERROR_PREFIX(mlx_fast_scaled_dot_product_attention(&r, q, none, k, 0.25f, "", none,
                                                              none, test_stream),
                        "[scaled_dot_product_attention]");
    mlx_array_free(r);
  }
  mlx_array all[] = {q, k, sk4, sk2, sk18, sk0, q3, k3, k_3, k_d, v_4, k_b, mb, m5d, mf,
                     mbad, qh, kh, sk8, qi, ki, qc};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mlx_array_free(all[i]);
#undef SDPA_ERR
}

/* ------------------------------------------------------------------------
 * rms_norm and layer_norm on random inputs
 * ---------------------------------------------------------------------- */

/* x [rows, d] of xt (transposed from [d, rows] when strided), weight and
 * bias of wt (MLX_BOOL: none), against ref_norm in the output dtype. */
static void check_norm_random(const char* label, int rows, int d, mlx_dtype xt, mlx_dtype wt,
                              mlx_dtype bt, bool layer, bool strided, mlx_dtype out_t) {
  int xs[2] = {rows, d}, ts[2] = {d, rows};
  mlx_array x;
  if (strided) {
    mlx_array base = rand_array(ts, 2, xt, -3, 3);
    x = mlx_array_new();
    CHECK_OK(mlx_transpose(&x, base, test_stream));
    mlx_array_free(base);
  } else {
    x = rand_array(xs, 2, xt, -3, 3);
  }
  if (xt == MLX_INT32) {
    mlx_array_free(x);
    x = cast(rand_array(xs, 2, MLX_FLOAT32, -5, 5), MLX_INT32);
  }
  mlx_array w = wt == MLX_BOOL ? mlx_array_new() : rand_array(&d, 1, wt, -2, 2);
  mlx_array b = bt == MLX_BOOL ? mlx_array_new() : rand_array(&d, 1, bt, -1, 1);
  float eps = 1e-5f;
  double* xd = test_to_f64(x);
  double* wd = w.ctx ? test_to_f64(w) : NULL;
  double* bd = b.ctx ? test_to_f64(b) : NULL;
  size_t n = (size_t)rows * d;
  double* want = malloc(sizeof(double) * (n ? n : 1));
  ref_norm(xd, wd, bd, (size_t)rows, d, eps, layer, want);
  for (int f = 0; f < 2; f++) {
    mlx_array out = mlx_array_new();
    if (f == 1) CHECK_OK(norm_composed(&out, x, w, b, eps, layer));
    else if (layer) CHECK_OK(mlx_fast_layer_norm(&out, x, w, b, eps, test_stream));
    else CHECK_OK(mlx_fast_rms_norm(&out, x, w, eps, test_stream));
    double e = rel_err_ref(out, want, n);
    /* float64 output is computed in float32, as MLX does */
    double tol = out_t == MLX_FLOAT64 ? 1e-5 : tolerance(out_t);
    CHECK_MSG(e <= tol && mlx_array_dtype(out) == out_t && test_shape_is(out, xs, 2),
              "%s %s (%s): rel err %g, dtype %d", layer ? "layer_norm" : "rms_norm", label,
              f ? "composed" : "fused", e, (int)mlx_array_dtype(out));
    mlx_array_free(out);
  }
  free(xd), free(wd), free(bd), free(want);
  mlx_array_free(x), mlx_array_free(w), mlx_array_free(b);
}

static void test_norms_random(void) {
  const mlx_dtype none = MLX_BOOL;
  for (int layer = 0; layer < 2; layer++) {
    mlx_dtype bias = layer ? MLX_FLOAT32 : none;
    check_norm_random("f32 [15,64]", 15, 64, MLX_FLOAT32, MLX_FLOAT32, bias, layer, false,
                      MLX_FLOAT32);
    check_norm_random("f32 [3,1000] no weight", 3, 1000, MLX_FLOAT32, none, none, layer, false,
                      MLX_FLOAT32);
    check_norm_random("f16 [7,80]", 7, 80, MLX_FLOAT16, MLX_FLOAT16,
                      layer ? MLX_FLOAT16 : none, layer, false, MLX_FLOAT16);
    check_norm_random("bf16 [4,33]", 4, 33, MLX_BFLOAT16, MLX_BFLOAT16,
                      layer ? MLX_BFLOAT16 : none, layer, false, MLX_BFLOAT16);
    check_norm_random("f32 transposed [6,64]", 6, 64, MLX_FLOAT32, MLX_FLOAT32, bias, layer,
                      true, MLX_FLOAT32);
    check_norm_random("d = 1", 5, 1, MLX_FLOAT32, MLX_FLOAT32, bias, layer, false, MLX_FLOAT32);
    /* the output dtype is result_type(x, weight[, bias]) */
    check_norm_random("f16 x, f32 weight", 3, 40, MLX_FLOAT16, MLX_FLOAT32, bias, layer, false,
                      MLX_FLOAT32);
    check_norm_random("bf16 x, f16 weight", 3, 40, MLX_BFLOAT16, MLX_FLOAT16, none, layer, false,
                      MLX_FLOAT32);
    check_norm_random("int32 x, f32 weight", 3, 24, MLX_INT32, MLX_FLOAT32, none, layer, false,
                      MLX_FLOAT32);
    check_norm_random("f64", 4, 48, MLX_FLOAT64, MLX_FLOAT64, layer ? MLX_FLOAT64 : none, layer,
                      false, MLX_FLOAT64);
  }
  /* layer_norm with a bias but no weight keeps x's dtype (the bias is cast) */
  check_norm_random("bias only", 3, 16, MLX_FLOAT16, none, MLX_FLOAT32, true, false,
                    MLX_FLOAT16);
  /* empty rows and empty features */
  int shapes[2][2] = {{0, 8}, {4, 0}};
  for (int i = 0; i < 2; i++) {
    mlx_array x = zeros_of(shapes[i], 2, MLX_FLOAT32), w = zeros_of(&shapes[i][1], 1, MLX_FLOAT32);
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_fast_rms_norm(&out, x, w, 1e-5f, test_stream));
    CHECK_OK(mlx_array_eval(out));
    CHECK(test_shape_is(out, shapes[i], 2));
    CHECK_OK(mlx_fast_layer_norm(&out, x, w, w, 1e-5f, test_stream));
    CHECK_OK(mlx_array_eval(out));
    CHECK(test_shape_is(out, shapes[i], 2));
    mlx_array_free(x), mlx_array_free(w), mlx_array_free(out);
  }
  /* higher rank: rows are everything but the last axis */
  int s3[3] = {2, 3, 96};
  mlx_array x = rand_array(s3, 3, MLX_FLOAT32, -1, 1), w = rand_array(&s3[2], 1, MLX_FLOAT32, 0, 1);
  mlx_array out = mlx_array_new(), ref = mlx_array_new(), none_a = mlx_array_new();
  CHECK_OK(mlx_fast_rms_norm(&out, x, w, 1e-6f, test_stream));
  CHECK_OK(norm_composed(&ref, x, w, none_a, 1e-6f, false));
  CHECK(rel_err(out, ref) <= 1e-6);
  mlx_array_free(x), mlx_array_free(w), mlx_array_free(out), mlx_array_free(ref);
}

static void test_norm_errors(void) {
  int xs[2] = {4, 64}, s32 = 32, s64 = 64, s264[2] = {2, 64};
  mlx_array x = zeros_of(xs, 2, MLX_FLOAT32), w32 = zeros_of(&s32, 1, MLX_FLOAT32),
            w64 = zeros_of(&s64, 1, MLX_FLOAT32), w2 = zeros_of(s264, 2, MLX_FLOAT32),
            x0 = mlx_array_new_float(1.0f), xi = zeros_of(xs, 2, MLX_INT32), none = mlx_array_new();
  mlx_array r = mlx_array_new();
  EXPECT_ERROR(mlx_fast_rms_norm(&r, x, w32, 1e-5f, test_stream),
               "[rms_norm] (*weight) must have the same size as the last dimension of x but has "
               "32 elements.");
  EXPECT_ERROR(mlx_fast_rms_norm(&r, x, w2, 1e-5f, test_stream),
               "[rms_norm] (*weight) must have 1 dimension but has 2 dimensions.");
  EXPECT_ERROR(mlx_fast_rms_norm(&r, x0, none, 1e-5f, test_stream),
               "[rms_norm] Input must have at least 1 dimension but got input with 0 "
               "dimensions.");
  EXPECT_ERROR(mlx_fast_rms_norm(&r, xi, none, 1e-5f, test_stream),
               "[rms_norm] Received unsupported type int32.");
  EXPECT_ERROR(mlx_fast_layer_norm(&r, x, w64, w2, 1e-5f, test_stream),
               "[layer_norm] bias must have 1 dimension but has 2 dimensions.");
  EXPECT_ERROR(mlx_fast_layer_norm(&r, x, w64, w32, 1e-5f, test_stream),
               "[layer_norm] bias must have the same size as the last dimension of x but has 32 "
               "elements.");
  EXPECT_ERROR(mlx_fast_layer_norm(&r, x, w32, w64, 1e-5f, test_stream),
               "[layer_norm] weight must have the same size as the last dimension of x but has "
               "32 elements.");
  EXPECT_ERROR(mlx_fast_layer_norm(&r, x, w2, none, 1e-5f, test_stream),
               "[layer_norm] weight must have 1 dimension but has 2 dimensions.");
  EXPECT_ERROR(mlx_fast_layer_norm(&r, x0, none, none, 1e-5f, test_stream),
               "[layer_norm] Input must have at least 1 dimension but got input with 0 "
               "dimensions.");
  EXPECT_ERROR(mlx_fast_layer_norm(&r, xi, none, w64, 1e-5f, test_stream),
               "[layer_norm] Received unsupported type int32.");
  EXPECT_ERROR(mlx_fast_rms_norm(NULL, x, w64, 1e-5f, test_stream),
               "[rms_norm] The result pointer is NULL.");
  EXPECT_ERROR_PREFIX(mlx_fast_layer_norm(&r, none, w64, w64, 1e-5f, test_stream),
                      "[layer_norm]");
  mlx_array all[] = {x, w32, w64, w2, x0, xi, r};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mlx_array_free(all[i]);
}

/* ------------------------------------------------------------------------
 * rope on random inputs
 * ---------------------------------------------------------------------- */

typedef struct rope_spec {
  int nd;
  int shape[5];
  int dims;
  bool traditional;
  float base, scale; /* base 0: freqs */
  int offsets[4];
  int n_offsets;     /* 0: the int entry point with offsets[0] */
  mlx_dtype t, offset_t;
  bool strided;      /* x is a transposed view */
} rope_spec;

static void check_rope_random(const char* label, const rope_spec* sp) {
  mlx_array x = rand_array(sp->shape, sp->nd, sp->t, -2, 2);
  if (sp->strided) {
    /* the same values, stored with the last two axes swapped */
    mlx_array t = mlx_array_new(), c = mlx_array_new(), v = mlx_array_new();
    CHECK_OK(mlx_swapaxes(&t, x, -1, -2, test_stream));
    CHECK_OK(mlx_contiguous(&c, t, false, test_stream));
    CHECK_OK(mlx_swapaxes(&v, c, -1, -2, test_stream));
    mlx_array_free(t), mlx_array_free(c), mlx_array_free(x);
    x = v;
  }
  int half = sp->dims / 2;
  float freqs[256];
  mlx_array fa = mlx_array_new();
  if (sp->base == 0) {
    for (int i = 0; i < half; i++) freqs[i] = (float)test_rand(0.5, 2000);
    fa = mlx_array_new_data(freqs, &half, 1, MLX_FLOAT32);
  }
  mlx_optional_float base = sp->base > 0 ? base_of(sp->base) : no_base;
  int B = sp->shape[0], T = sp->shape[sp->nd - 2], D = sp->shape[sp->nd - 1];
  int N = 1;
  for (int a = 1; a < sp->nd - 2; a++) N *= sp->shape[a];
  double* xd = test_to_f64(x);
  size_t n = (size_t)B * N * T * D;
  double* want = malloc(sizeof(double) * n);
  ref_rope(xd, B, N, T, D, sp->dims, sp->traditional, sp->base, sp->scale, sp->offsets,
           sp->n_offsets ? sp->n_offsets : 1, sp->base == 0 ? freqs : NULL, want);
  mlx_array off = mlx_array_new();
  if (sp->n_offsets) {
    int no = sp->n_offsets;
    off = cast(test_array_i32(sp->offsets, &no, 1), sp->offset_t);
  }
  for (int f = 0; f < 2; f++) {
    mlx_array out = mlx_array_new();
    if (f == 1) {
      mlx_array o = sp->n_offsets ? off : mlx_array_new_int(sp->offsets[0]);
      CHECK_OK(rope_composed(&out, x, sp->dims, sp->traditional, base, sp->scale, o, fa));
      if (!sp->n_offsets) mlx_array_free(o);
    } else if (sp->n_offsets) {
      CHECK_OK(mlx_fast_rope_dynamic(&out, x, sp->dims, sp->traditional, base, sp->scale, off,
                                     fa, test_stream));
    } else {
      CHECK_OK(mlx_fast_rope(&out, x, sp->dims, sp->traditional, base, sp->scale,
                             sp->offsets[0], fa, test_stream));
    }
    double e = rel_err_ref(out, want, n);
    /* float32 angles (MLX's) against exact ones: positions here stay
     * below 40, where that is a few 1e-6 */
    double tol = sp->t == MLX_FLOAT32 || sp->t == MLX_FLOAT64 ? 2e-5 : tolerance(sp->t);
    CHECK_MSG(e <= tol && mlx_array_dtype(out) == sp->t && test_shape_is(out, sp->shape, sp->nd),
              "rope %s (%s, %s): rel err %g", label, f ? "composed" : "fused",
              dtype_name_of(sp->t), e);
    mlx_array_free(out);
  }
  free(xd), free(want);
  mlx_array_free(x), mlx_array_free(fa), mlx_array_free(off);
}

static void test_rope_random(void) {
  for (int ti = 0; ti < 4; ti++) {
    mlx_dtype t = ti < 3 ? float_types[ti] : MLX_FLOAT64;
    for (int trad = 0; trad < 2; trad++) {
      rope_spec sp = {4, {2, 3, 7, 64}, 64, trad, 10000, 1, {5}, 0, t, MLX_INT32, false};
      check_rope_random("[2,3,7,64] dims 64", &sp);
      sp.dims = 32;
      check_rope_random("dims 32 of 64", &sp);
      sp.dims = 46;
      sp.base = 500;
      sp.scale = 0.5f;
      check_rope_random("dims 46, base 500, scale 0.5", &sp);
      sp.base = 0;
      check_rope_random("freqs", &sp);
      rope_spec s3 = {3, {2, 9, 32}, 32, trad, 10000, 1, {3, 11}, 2, t, MLX_INT32, false};
      check_rope_random("3-D, offset per batch", &s3);
      rope_spec s5 = {5, {2, 2, 3, 5, 16}, 12, trad, 10000, 2, {0, 7}, 2, t, MLX_UINT32, false};
      check_rope_random("5-D, uint32 offsets", &s5);
      rope_spec st = {4, {1, 4, 6, 24}, 24, trad, 10000, 1, {2}, 1, t, MLX_INT64, true};
      check_rope_random("strided, int64 offset", &st);
    }
  }
  /* an empty sequence */
  int es[4] = {1, 2, 0, 8};
  mlx_array x = zeros_of(es, 4, MLX_FLOAT32), out = mlx_array_new();
  CHECK_OK(mlx_fast_rope(&out, x, 8, false, base_of(10000), 1, 0, mlx_array_new(), test_stream));
  CHECK_OK(mlx_array_eval(out));
  CHECK(test_shape_is(out, es, 4));
  mlx_array_free(x), mlx_array_free(out);
}

static void test_rope_errors(void) {
  int xs[4] = {2, 4, 10, 64}, s32 = 32, s16 = 16, s3 = 3, s21[2] = {2, 1}, x2s[2] = {10, 64};
  mlx_array x = zeros_of(xs, 4, MLX_FLOAT32), f32 = zeros_of(&s32, 1, MLX_FLOAT32),
            f16 = zeros_of(&s16, 1, MLX_FLOAT32), none = mlx_array_new();
  mlx_array x2 = zeros_of(x2s, 2, MLX_FLOAT32), xi = zeros_of(xs, 4, MLX_INT32);
  mlx_array o3 = zeros_of(&s3, 1, MLX_INT32), o21 = zeros_of(s21, 2, MLX_INT32),
            of = zeros_of(&s3, 1, MLX_FLOAT32), ob = mlx_array_new_bool(true);
  mlx_array r = mlx_array_new();
  mlx_optional_float b = base_of(10000);
  EXPECT_ERROR(mlx_fast_rope(&r, x, 64, false, b, 1.0f, 0, f32, test_stream),
               "[rope] Only one of base or freqs can have a value.");
  EXPECT_ERROR(mlx_fast_rope(&r, x, 63, false, b, 1.0f, 0, none, test_stream),
               "[rope] dims must be even but got 63.");
  EXPECT_ERROR(mlx_fast_rope(&r, x, 64, false, no_base, 1.0f, 0, none, test_stream),
               "[rope] Neither base nor freqs has a value.");
  EXPECT_ERROR(mlx_fast_rope(&r, x2, 64, false, b, 1.0f, 0, none, test_stream),
               "[rope] Input must have at least 3 dimensions but got input with 2 dimensions.");
  EXPECT_ERROR(mlx_fast_rope(&r, xi, 64, false, b, 1.0f, 0, none, test_stream),
               "[rope] Input must be a floating type but got int32.");
  EXPECT_ERROR(mlx_fast_rope_dynamic(&r, x, 64, false, b, 1.0f, o21, none, test_stream),
               "[rope] offset must have at most one dimension but has shape (2,1).");
  EXPECT_ERROR(mlx_fast_rope_dynamic(&r, x, 64, false, b, 1.0f, o3, none, test_stream),
               "[rope] offset must be a scalar or vector with 2 elements but has shape (3).");
  int s2 = 2;
  mlx_array of2 = zeros_of(&s2, 1, MLX_FLOAT32);
  EXPECT_ERROR(mlx_fast_rope_dynamic(&r, x, 64, false, b, 1.0f, of2, none, test_stream),
               "[rope] offset must be an integer but got type float32.");
  EXPECT_ERROR(mlx_fast_rope_dynamic(&r, x, 64, false, b, 1.0f, ob, none, test_stream),
               "[rope] offset must be an integer but got type bool.");
  EXPECT_ERROR(mlx_fast_rope(&r, x, 0, false, b, 1.0f, 0, none, test_stream),
               "[rope] dims must be positive but got 0.");
  EXPECT_ERROR(mlx_fast_rope(&r, x, -4, false, b, 1.0f, 0, none, test_stream),
               "[rope] dims must be positive but got -4.");
  EXPECT_ERROR(mlx_fast_rope(&r, x, 66, false, b, 1.0f, 0, none, test_stream),
               "[rope] dims must not exceed the input's last dimension (64) but got 66.");
  EXPECT_ERROR(mlx_fast_rope(&r, x, 64, false, no_base, 1.0f, 0, f16, test_stream),
               "[rope] freqs must be one dimensional with size 32 but got shape (16).");
  /* order: base/freqs first, then x, then the offset, then dims */
  EXPECT_ERROR(mlx_fast_rope(&r, x2, 63, false, no_base, 1.0f, 0, none, test_stream),
               "[rope] Neither base nor freqs has a value.");
  EXPECT_ERROR(mlx_fast_rope_dynamic(&r, x, 63, false, b, 1.0f, of, none, test_stream),
               "[rope] offset must be a scalar or vector with 2 elements but has shape (3).");
  EXPECT_ERROR(mlx_fast_rope(NULL, x, 64, false, b, 1.0f, 0, none, test_stream),
               "[rope] The result pointer is NULL.");
  EXPECT_ERROR_PREFIX(mlx_fast_rope_dynamic(&r, x, 64, false, b, 1.0f, none, none, test_stream),
                      "[rope]");
  mlx_array all[] = {x, f32, f16, x2, xi, o3, o21, of, ob, of2, r};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mlx_array_free(all[i]);
}

int main(void) {
  test_init();
  oracle o;
  if (oracle_open(&o)) {
    oracle_sdpa(&o);
    oracle_norm(&o);
    oracle_rope(&o);
  } else {
    CHECK_MSG(0, "oracle not found at %s", ORACLE_DIR);
  }
  oracle_close(&o);
  test_attention_decode_single_query();
  test_attention_causal_lower_right_aligned();
  test_attention_long_keys_split_across_threads();
  test_attention_sinks_with_masks();
  test_attention_mask_shapes_broadcast();
  test_attention_value_dim_differs();
  test_attention_strided_inputs();
  test_attention_mixed_and_float64();
  test_attention_empty_and_degenerate();
  test_attention_all_minus_inf_row_is_nan();
  test_attention_errors();
  test_norms_random();
  test_norm_errors();
  test_rope_random();
  test_rope_errors();
  return test_finish("test_fast");
}
