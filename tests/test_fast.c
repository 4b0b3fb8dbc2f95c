/* test_fast.c - mlx_fast_scaled_dot_product_attention against the MLX
 * oracle, and mlx_fast_rms_norm, mlx_fast_layer_norm, mlx_fast_rope and
 * mlx_fast_rope_dynamic (attention on random inputs and its errors are in
 * test_fast_sdpa.c).
 *
 * What it proves:
 * - every sdpa and norm/rope case of ../shared/oracle (MLX 0.32.2, CPU)
 *   matches within the relative error max|out - ref| / max|ref| of 1e-5
 *   (float32), 2e-3 (float16), 1e-2 (bfloat16), for the fused kernels and
 *   for the composed fallbacks;
 * - rms_norm / layer_norm and rope against double references on random
 *   shapes and dtypes (float16/bfloat16/float32/float64, promotion with the
 *   weight, integer x, strided x, 3-D and 5-D rope inputs, per-batch
 *   offsets, custom freqs, dims < D);
 * - every norm/rope error record of the manifest is reproduced word for
 *   word, and so are the other checks of MLX's fast.cpp.
 * The oracle files are copied into tests/data/oracle; a missing file fails. */
#include "fast_util.h"

/* ------------------------------------------------------------------------
 * Double-precision references
 * ---------------------------------------------------------------------- */

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
  test_norms_random();
  test_norm_errors();
  test_rope_random();
  test_rope_errors();
  return test_finish("test_fast");
}
