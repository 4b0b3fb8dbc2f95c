/* test_quantize.c - quantize, dequantize, to_fp8 and from_fp8 against the
 * MLX oracle, and their errors (the references written here and the
 * layouts, dtypes and parameters on random data are in
 * test_quantize_random.c).
 *
 * What it proves:
 * - every quantize / dequantize case of ../shared/oracle (MLX 0.32.2 CPU)
 *   gives MLX's bytes: affine bits 2-8 x groups 32/64/128 in float32,
 *   float16 and bfloat16, the `special` and `ext` rows, nvfp4 with a global
 *   scale, dequantize's default bfloat16 output, fp8 both ways; the
 *   `nonfinite` rows are reported, not required (garbage in, garbage out);
 * - every quantize/dequantize error record of the oracle's manifest has
 *   MLX's exact message, and so do the other validation paths.
 * The oracle files are copied into tests/data/oracle; a missing file fails. */
#include "oracle_util.h"
#include "quantize_util.h"

/* ------------------------------------------------------------------------
 * 1. The oracle
 * ---------------------------------------------------------------------- */

typedef struct oracle {
  json_doc manifest;
  mlx_map_string_to_array affine, fp;
  bool loaded;
} oracle;

static bool oracle_load(oracle* o) {
  memset(o, 0, sizeof *o);
  if (!oracle_manifest_load(&o->manifest)) return false;
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  o->affine = mlx_map_string_to_array_new();
  o->fp = mlx_map_string_to_array_new();
  CHECK_OK(mlx_load_safetensors(&o->affine, &meta, ORACLE_DIR "/quant_affine.safetensors",
                                test_stream));
  CHECK_OK(mlx_load_safetensors(&o->fp, &meta, ORACLE_DIR "/quant_fp.safetensors", test_stream));
  mlx_map_string_to_string_free(meta);
  o->loaded = true;
  return true;
}

static void oracle_free(oracle* o) {
  if (!o->loaded) return;
  json_doc_free(&o->manifest);
  mlx_map_string_to_array_free(o->affine);
  mlx_map_string_to_array_free(o->fp);
}

static mlx_array oracle_get(const oracle* o, const char* file, const char* key) {
  mlx_array a = mlx_array_new();
  mlx_map_string_to_array m = strcmp(file, "quant_affine.safetensors") == 0 ? o->affine : o->fp;
  int rc = mlx_map_string_to_array_get(&a, m, key);
  CHECK_MSG(rc == 0, "oracle tensor %s missing", key);
  return a;
}


/* The output of a case whose key ends with "/<suffix>" (NULL if none). */
static const char* output_key(const json_value* c, const char* suffix) {
  const json_value* outs = json_object_get(c, "outputs", NULL);
  char tail[64];
  snprintf(tail, sizeof tail, "/%s", suffix);
  for (size_t i = 0; outs && i < outs->as.array.count; i++) {
    const char* k = jstr(outs->as.array.items[i], "key");
    if (k && ends_with(k, tail)) return k;
  }
  return NULL;
}

typedef struct oracle_stats {
  int quantize_cases, dequantize_checks, nonfinite_cases, nonfinite_matching;
} oracle_stats;

/* One quantize(+dequantize) case: quantize the input and compare every
 * output; dequantize the oracle's own wq/scales/biases and compare wdq. */
static void oracle_quant_case(const oracle* o, const json_value* c, oracle_stats* st) {
  const char* kind = jstr(c, "kind");
  const char* name = jstr(c, "name");
  const char* file = jstr(c, "file");
  const json_value* params = json_object_get(c, "params", NULL);
  const json_value* inputs = json_object_get(c, "inputs", NULL);
  const char* mode = jstr(params, "mode");
  int bits = jint(params, "bits"), gs = jint(params, "group_size");
  bool affine = strcmp(mode, "affine") == 0;
  bool nonfinite = strcmp(kind, "quantize_fp_nonfinite") == 0;
  mlx_array w = oracle_get(o, file, jstr(inputs->as.array.items[0], "key"));
  mlx_array global = inputs->as.array.count > 1
                         ? oracle_get(o, file, jstr(inputs->as.array.items[1], "key"))
                         : mlx_array_new();
  bool ok = true;
  char what[256];

  /* quantize */
  mlx_vector_array q = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&q, w, opt_int(gs), opt_int(bits), mode, global, test_stream));
  const char* parts[3] = {"wq", "scales", "biases"};
  size_t n_parts = affine ? 3 : 2;
  ok = ok && mlx_vector_array_size(q) == n_parts;
  for (size_t i = 0; ok && i < n_parts; i++) {
    mlx_array got = vec_at(q, i);
    mlx_array want = oracle_get(o, file, output_key(c, parts[i]));
    snprintf(what, sizeof what, "%s quantize %s", name, parts[i]);
    if (!same_bytes(got, want, nonfinite ? "(nonfinite, not required)" : what)) ok = false;
    mlx_array_free(got);
    mlx_array_free(want);
  }
  mlx_vector_array_free(q);

  /* dequantize the oracle's codes */
  mlx_array wq = oracle_get(o, file, output_key(c, "wq"));
  mlx_array scales = oracle_get(o, file, output_key(c, "scales"));
  mlx_array biases = affine ? oracle_get(o, file, output_key(c, "biases")) : mlx_array_new();
  mlx_optional_dtype dt = no_dtype;
  if (!affine) dt = opt_dtype(nonfinite ? MLX_FLOAT32 : mlx_array_dtype(w));
  mlx_array d = mlx_array_new();
  CHECK_OK(mlx_dequantize(&d, wq, scales, biases, opt_int(gs), opt_int(bits), mode, global, dt,
                          test_stream));
  mlx_array want = oracle_get(o, file, output_key(c, "wdq"));
  snprintf(what, sizeof what, "%s dequantize", name);
  if (!same_bytes(d, want, nonfinite ? "(nonfinite, not required)" : what)) ok = false;
  mlx_array_free(want);
  st->dequantize_checks++;
  const char* def_key = output_key(c, "wdq_default_dtype");
  if (def_key) {
    /* without a dtype, the fp modes give bfloat16 */
    mlx_array d2 = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d2, wq, scales, biases, no_int, no_int, mode, global, no_dtype,
                            test_stream));
    mlx_array want2 = oracle_get(o, file, def_key);
    snprintf(what, sizeof what, "%s dequantize default dtype", name);
    CHECK(mlx_array_dtype(d2) == MLX_BFLOAT16);
    CHECK(same_bytes(d2, want2, what));
    st->dequantize_checks++;
    mlx_array_free(d2);
    mlx_array_free(want2);
  }
  if (nonfinite) {
    st->nonfinite_cases++;
    st->nonfinite_matching += ok;
  } else {
    CHECK_MSG(ok, "oracle case %s", name);
  }
  st->quantize_cases++;
  mlx_array_free(d);
  mlx_array_free(wq);
  mlx_array_free(scales);
  mlx_array_free(biases);
  mlx_array_free(w);
  mlx_array_free(global);
}

static void oracle_fp8_case(const oracle* o, const json_value* c) {
  (void)c;
  mlx_array codes = oracle_get(o, "quant_fp.safetensors", "fp8/codes");
  mlx_array x = oracle_get(o, "quant_fp.safetensors", "fp8/x");
  mlx_array want_from = oracle_get(o, "quant_fp.safetensors", "fp8/from_fp8_f32");
  mlx_array want_to = oracle_get(o, "quant_fp.safetensors", "fp8/to_fp8");
  mlx_array from = mlx_array_new(), to = mlx_array_new();
  CHECK_OK(mlx_from_fp8(&from, codes, MLX_FLOAT32, test_stream));
  CHECK_OK(mlx_to_fp8(&to, x, test_stream));
  CHECK(same_bytes(from, want_from, "from_fp8 table"));
  CHECK(same_bytes(to, want_to, "to_fp8"));
  /* the header's table is the same table */
  const float* table = mlx_array_data_float32(want_from);
  for (int i = 0; table && i < 256; i++)
    CHECK_MSG(memcmp(&table[i], &quant_e4m3_values[i], 4) == 0, "e4m3 table entry %d", i);
  mlx_array arrs[] = {codes, x, want_from, want_to, from, to};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
}

/* ---- the manifest's error records ---- */

static const char* oracle_error_message(const oracle* o, const char* name) {
  const json_value* errs = json_object_get(o->manifest.root, "errors", NULL);
  for (size_t i = 0; errs && i < errs->as.array.count; i++) {
    const char* n = jstr(errs->as.array.items[i], "name");
    if (n && strcmp(n, name) == 0) return jstr(errs->as.array.items[i], "message");
  }
  return NULL;
}

typedef struct error_call {
  const char* name;
  int rows, cols; /* cols < 0: 1-D of rows elements */
  mlx_dtype dtype;
  int group_size, bits;
  const char* mode;
  int global; /* 0 none, 1 scalar 1.0, 2 float32 [2] */
} error_call;

/* Quantize calls, as the manifest's `call` fields describe them. */
static const error_call quantize_error_calls[] = {
    {"quantize_affine_gs48", 64, 256, MLX_FLOAT32, 48, 4, "affine", 0},
    {"quantize_affine_gs48_divisible", 64, 192, MLX_FLOAT32, 48, 4, "affine", 0},
    {"quantize_affine_gs16", 64, 256, MLX_FLOAT32, 16, 4, "affine", 0},
    {"quantize_affine_gs256", 64, 256, MLX_FLOAT32, 256, 4, "affine", 0},
    {"quantize_affine_bits7", 64, 256, MLX_FLOAT32, 64, 7, "affine", 0},
    {"quantize_affine_bits1", 64, 256, MLX_FLOAT32, 64, 1, "affine", 0},
    {"quantize_affine_bits16", 64, 256, MLX_FLOAT32, 64, 16, "affine", 0},
    {"quantize_mxfp4_gs64", 64, 256, MLX_FLOAT32, 64, 4, "mxfp4", 0},
    {"quantize_mxfp4_bits8", 64, 256, MLX_FLOAT32, 32, 8, "mxfp4", 0},
    {"quantize_nvfp4_gs32", 64, 256, MLX_FLOAT32, 32, 4, "nvfp4", 0},
    {"quantize_mxfp8_bits4", 64, 256, MLX_FLOAT32, 32, 4, "mxfp8", 0},
    {"quantize_bad_mode", 64, 256, MLX_FLOAT32, 64, 4, "int4", 0},
    {"quantize_1d", 256, -1, MLX_FLOAT32, 64, 4, "affine", 0},
    {"quantize_1d_mxfp4", 256, -1, MLX_FLOAT32, 32, 4, "mxfp4", 0},
    {"quantize_not_divisible", 64, 100, MLX_FLOAT32, 32, 4, "affine", 0},
    {"quantize_not_divisible_mxfp4", 64, 100, MLX_FLOAT32, 32, 4, "mxfp4", 0},
    {"quantize_int_input", 64, 256, MLX_INT32, 64, 4, "affine", 0},
    {"quantize_global_scale_mxfp4", 64, 256, MLX_FLOAT32, 32, 4, "mxfp4", 1},
    {"quantize_global_scale_shape", 64, 256, MLX_FLOAT32, 16, 4, "nvfp4", 2},
};

static int run_quantize_error(const error_call* e) {
  int shape[2] = {e->rows, e->cols};
  mlx_array w = zeros(shape, e->cols < 0 ? 1 : 2, e->dtype);
  mlx_array g = mlx_array_new();
  if (e->global == 1) {
    mlx_array_free(g);
    g = mlx_array_new_float32(1.0f);
  } else if (e->global == 2) {
    int two = 2;
    mlx_array_free(g);
    g = zeros(&two, 1, MLX_FLOAT32);
  }
  mlx_vector_array r = mlx_vector_array_new();
  int rc = mlx_quantize(&r, w, opt_int(e->group_size), opt_int(e->bits), e->mode, g, test_stream);
  mlx_vector_array_free(r);
  mlx_array_free(w);
  mlx_array_free(g);
  return rc;
}

/* The dequantize records need their own inputs. */
static int run_dequantize_error(const char* name) {
  int w_shape[2] = {64, 32}, s4[2] = {64, 4}, s8[2] = {64, 8};
  mlx_array wq = zeros(w_shape, 2, MLX_UINT32);
  mlx_array sc_f = zeros(s4, 2, MLX_FLOAT32);
  mlx_array sc_u8 = zeros(s8, 2, MLX_UINT8);
  mlx_array sc_f8 = zeros(s8, 2, MLX_FLOAT32);
  mlx_array none = mlx_array_new();
  mlx_array d = mlx_array_new();
  int rc = -1;
  if (strcmp(name, "dequantize_affine_no_biases") == 0)
    rc = mlx_dequantize(&d, wq, sc_f, none, opt_int(64), opt_int(4), "affine", none, no_dtype,
                        test_stream);
  else if (strcmp(name, "dequantize_mxfp4_with_biases") == 0)
    rc = mlx_dequantize(&d, wq, sc_u8, sc_u8, opt_int(32), opt_int(4), "mxfp4", none, no_dtype,
                        test_stream);
  else if (strcmp(name, "dequantize_mxfp4_float_scales") == 0)
    rc = mlx_dequantize(&d, wq, sc_f8, none, opt_int(32), opt_int(4), "mxfp4", none, no_dtype,
                        test_stream);
  else if (strcmp(name, "dequantize_affine_wrong_gs") == 0)
    rc = mlx_dequantize(&d, wq, sc_f, sc_f, opt_int(32), opt_int(4), "affine", none, no_dtype,
                        test_stream);
  else if (strcmp(name, "dequantize_mxfp4_gs16") == 0)
    rc = mlx_dequantize(&d, wq, sc_u8, none, opt_int(16), opt_int(4), "mxfp4", none, no_dtype,
                        test_stream);
  mlx_array arrs[] = {wq, sc_f, sc_u8, sc_f8, none, d};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
  return rc;
}

static void oracle_errors(const oracle* o) {
  int seen = 0, covered = 0;
  const json_value* errs = json_object_get(o->manifest.root, "errors", NULL);
  for (size_t i = 0; errs && i < errs->as.array.count; i++) {
    const char* name = jstr(errs->as.array.items[i], "name");
    if (!name || (strncmp(name, "quantize", 8) != 0 && strncmp(name, "dequantize", 10) != 0))
      continue;
    seen++;
    const char* msg = oracle_error_message(o, name);
    int rc = -1;
    for (size_t k = 0; k < sizeof quantize_error_calls / sizeof quantize_error_calls[0]; k++)
      if (strcmp(quantize_error_calls[k].name, name) == 0) {
        test_error_count = 0;
        test_last_error[0] = 0;
        rc = run_quantize_error(&quantize_error_calls[k]);
      }
    if (rc == -1) {
      test_error_count = 0;
      test_last_error[0] = 0;
      rc = run_dequantize_error(name);
    }
    CHECK_MSG(rc != -1, "no call for error record %s", name);
    if (rc == -1) continue;
    covered++;
    CHECK_MSG(rc == 1 && test_error_count == 1 && strcmp(test_last_error, msg) == 0,
              "%s: got \"%s\" want \"%s\"", name, test_last_error, msg);
  }
  CHECK(seen == 24 && covered == seen);
  printf("oracle: %d quantize/dequantize error records checked\n", covered);
}

static void test_oracle(void) {
  oracle o;
  if (!oracle_load(&o)) {
    CHECK_MSG(0, "oracle not found at %s", ORACLE_DIR);
    return;
  }
  oracle_stats st = {0};
  const json_value* cases = json_object_get(o.manifest.root, "cases", NULL);
  for (size_t i = 0; cases && i < cases->as.array.count; i++) {
    const json_value* c = cases->as.array.items[i];
    const char* kind = jstr(c, "kind");
    if (strncmp(kind, "quantize_", 9) == 0)
      oracle_quant_case(&o, c, &st);
    else if (strcmp(kind, "fp8") == 0)
      oracle_fp8_case(&o, c);
  }
  printf("oracle: %d quantize cases, %d dequantize outputs byte-exact; nonfinite rows match "
         "in %d of %d cases (documented only)\n",
         st.quantize_cases - st.nonfinite_cases, st.dequantize_checks - st.nonfinite_cases,
         st.nonfinite_matching, st.nonfinite_cases);
  CHECK(st.quantize_cases == 34 + 8 + 10 + 6 + 3);
  oracle_errors(&o);
  oracle_free(&o);
}

/* ------------------------------------------------------------------------
 * 2. Validation beyond the manifest
 * ---------------------------------------------------------------------- */

static void test_errors(void) {
  int s2[2] = {4, 64}, s1 = 64, s3[2] = {4, 8}, s4[2] = {4, 2}, s5[2] = {4, 1};
  mlx_array w = zeros(s2, 2, MLX_FLOAT32);
  mlx_array w1 = zeros(&s1, 1, MLX_UINT32);
  mlx_array wq = zeros(s3, 2, MLX_UINT32);
  mlx_array sf = zeros(s5, 2, MLX_FLOAT32);
  mlx_array si = zeros(s5, 2, MLX_INT32);
  mlx_array su = zeros(s4, 2, MLX_UINT8);
  mlx_array g16 = cast(sf, MLX_FLOAT16);
  mlx_array gs1 = mlx_array_new_float32(1.0f);
  mlx_array g16s = mlx_array_new();
  mlx_array none = mlx_array_new();
  CHECK_OK(mlx_astype(&g16s, gs1, MLX_FLOAT16, test_stream));
  mlx_vector_array q = mlx_vector_array_new();
  mlx_array d = mlx_array_new();
  mlx_array zero_d = mlx_array_new_float32(1.0f);

  EXPECT_ERROR(mlx_quantize(&q, w, no_int, no_int, "nvfp4", g16s, test_stream),
               "[quantize] Global scale must have dtype float32 but got float16.");
  EXPECT_ERROR(mlx_quantize(&q, zero_d, no_int, no_int, "affine", none, test_stream),
               "[quantize] The matrix to be quantized must have at least 2 dimension but it "
               "has only 0.");
  EXPECT_ERROR(mlx_quantize(NULL, w, no_int, no_int, "affine", none, test_stream),
               "[quantize] The result pointer is NULL.");
  EXPECT_ERROR(mlx_quantize(&q, w, opt_int(0), no_int, "affine", none, test_stream),
               "[quantize] The requested group size 0 is not supported. The supported group "
               "sizes are 32, 64, and 128.");
  EXPECT_ERROR(mlx_quantize(&q, w, no_int, no_int, NULL, none, test_stream),
               "[quantize] Invalid quantization mode ''.");
  EXPECT_ERROR(mlx_quantize(&q, w, no_int, no_int, "Affine", none, test_stream),
               "[quantize] Invalid quantization mode 'Affine'.");
  EXPECT_ERROR(mlx_quantize(&q, w, opt_int(16), no_int, "mxfp8", none, test_stream),
               "[quantize] mxfp8 quantization requires group size 32 but got 16.");

  /* dequantize, in MLX's order */
  EXPECT_ERROR(mlx_dequantize(&d, wq, sf, sf, no_int, no_int, "int8", none, no_dtype,
                              test_stream),
               "[dequantize] Invalid quantization mode 'int8'.");
  EXPECT_ERROR(mlx_dequantize(&d, wq, sf, sf, no_int, no_int, "affine", none,
                              opt_dtype(MLX_INT32), test_stream),
               "[dequantize] Only real floating types are supported but output dtype == int32.");
  EXPECT_ERROR(mlx_dequantize(&d, wq, si, si, no_int, no_int, "affine", none, no_dtype,
                              test_stream),
               "[dequantize] Only real floating types are supported but scales.dtype() == "
               "int32 and biases.dtype() == int32.");
  EXPECT_ERROR(mlx_dequantize(&d, wq, sf, sf, no_int, opt_int(0), "affine", none, no_dtype,
                              test_stream),
               "[dequantize] Invalid value for bits: 0");
  EXPECT_ERROR(mlx_dequantize(&d, wq, sf, sf, opt_int(-64), no_int, "affine", none, no_dtype,
                              test_stream),
               "[dequantize] Invalid value for group_size: -64");
  EXPECT_ERROR(mlx_dequantize(&d, sf, sf, sf, no_int, no_int, "affine", none, no_dtype,
                              test_stream),
               "[dequantize] The matrix should be given as a uint32");
  EXPECT_ERROR(mlx_dequantize(&d, w1, sf, sf, no_int, no_int, "affine", none, no_dtype,
                              test_stream),
               "[dequantize] The matrix to be dequantized must have at least 2 dimension but "
               "it has only 1.");
  EXPECT_ERROR(mlx_dequantize(&d, wq, sf, sf, no_int, no_int, "affine", gs1, no_dtype,
                              test_stream),
               "[dequantize] Global scale is only supported for 'nvfp4' quantization mode.");
  EXPECT_ERROR(mlx_dequantize(&d, wq, su, none, no_int, no_int, "nvfp4", g16, no_dtype,
                              test_stream),
               "[dequantize] Global scale must be a scalar but got shape (4,1).");
  EXPECT_ERROR(mlx_dequantize(&d, wq, w1, sf, no_int, no_int, "affine", none, no_dtype,
                              test_stream),
               "[dequantize] Shape of scales and biases does not match the matrix");
  {
    mlx_array sf2 = zeros(s4, 2, MLX_FLOAT32);
    EXPECT_ERROR(mlx_dequantize(&d, wq, sf2, sf2, no_int, no_int, "affine", none, no_dtype,
                                test_stream),
                 "[dequantize] Shape of scales and biases does not match the matrix given the "
                 "quantization parameters. Provided matrix of shape (4,8) and scales/biases of "
                 "shape (4,2) with group_size=64 and bits=4.");
    /* MLX only compares the leading dimensions of scales and biases; their
     * last dimensions then have to broadcast */
    int s43[2] = {4, 3};
    mlx_array b3 = zeros(s43, 2, MLX_FLOAT32);
    EXPECT_ERROR(mlx_dequantize(&d, wq, sf2, b3, opt_int(32), no_int, "affine", none,
                                no_dtype, test_stream),
                 "[broadcast_shapes] Shapes (4,2,32) and (4,3,1) cannot be broadcast.");
    mlx_array_free(sf2);
    mlx_array_free(b3);
  }
  EXPECT_ERROR(mlx_dequantize(&d, wq, su, none, no_int, opt_int(8), "mxfp4", none, no_dtype,
                              test_stream),
               "[dequantize] mxfp4 quantization requires bits to be 4 but got 8.");
  {
    mlx_array su1 = mlx_array_new();
    int flat = 8;
    CHECK_OK(mlx_reshape(&su1, su, &flat, 1, test_stream));
    EXPECT_ERROR(mlx_dequantize(&d, wq, su1, none, no_int, no_int, "mxfp4", none, no_dtype,
                                test_stream),
                 "[dequantize] Shape of scales does not match the matrix");
    mlx_array_free(su1);
  }
  EXPECT_ERROR(mlx_dequantize(&d, wq, su, none, no_int, no_int, "nvfp4", none, no_dtype,
                              test_stream),
               "[dequantize] Shape of scales does not match the matrix given the quantization "
               "parameters. Provided matrix of shape (4,8) and scales of shape (4,2).");
  /* 3-bit codes need the row's bits to tile: 8 words = 256 bits do not */
  {
    int s3b[2] = {4, 85};
    mlx_array s85 = zeros(s3b, 2, MLX_FLOAT32);
    EXPECT_ERROR(mlx_dequantize(&d, wq, s85, s85, opt_int(1), opt_int(3), "affine", none,
                                no_dtype, test_stream),
                 "[reshape] Cannot reshape array of size 1024 into shape (4,85,3).");
    mlx_array_free(s85);
  }
  EXPECT_ERROR(mlx_dequantize(&d, wq, sf, sf, opt_int(4), opt_int(64), "affine", none,
                              no_dtype, test_stream),
               "[dequantize] Invalid value for bits: 64");
  EXPECT_ERROR(mlx_dequantize(&d, wq, none, sf, no_int, no_int, "affine", none, no_dtype,
                              test_stream),
               "[dequantize] The second array is empty (an mlx_array_new() handle).");

  /* fp8 */
  EXPECT_ERROR(mlx_to_fp8(&d, wq, test_stream),
               "[to_fp8] Only real floating types are supported but x.dtype() == uint32.");
  EXPECT_ERROR(mlx_from_fp8(&d, w, MLX_FLOAT32, test_stream),
               "[from_fp8] Input must have type uint8 but x.dtype() == float32.");
  EXPECT_ERROR(mlx_from_fp8(&d, su, MLX_INT8, test_stream),
               "[from_fp8] Only real floating types are supported but dtype == int8.");

  mlx_array arrs[] = {w, w1, wq, sf, si, su, g16, gs1, g16s, none, d, zero_d};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
  mlx_vector_array_free(q);
}

int main(void) {
  test_init();
  test_oracle();
  test_errors();
  return test_finish("test_quantize");
}
