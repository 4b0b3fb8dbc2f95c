/* test_qmm.c - quantized_matmul against the MLX oracle and a double
 * reference, and the validation of the quantized products (the kernels on
 * raw buffers are in test_qmm_kernels.c; gather_qmm, gather_mm and qqmm
 * in test_qmm_gather.c).
 *
 * What it proves:
 * - every quantized_matmul and gather_qmm case of ../shared/oracle (MLX
 *   0.32.2 CPU) within DECISIONS.md's tolerances: float32 1e-5 of MLX's
 *   output, float16 5e-3 and bfloat16 2e-2 of the `_f32acc` outputs;
 * - every qmm_* / gather_qmm_* error record of the manifest, exactly;
 * - on random data, against a double-precision reference written here
 *   (its own bit unpacking and element tables): every mode, affine bits
 *   2-8 x groups 32/64/128, transpose true and false, float32 / float16 /
 *   bfloat16 activations, M from 1 (streaming kernels) to 33 (GEMM path),
 *   MLX's output dtype rules, batch broadcasting, 1-D x, non-contiguous x
 *   and w, empty arrays;
 * - the validation paths with MLX's messages, and the eval-time errors.
 * The oracle files are copied into tests/data/oracle; a missing file fails. */
#include "oracle_util.h"
#include "qmm_test_util.h"

/* ------------------------------------------------------------------------
 * 1. The oracle
 * ---------------------------------------------------------------------- */

typedef struct oracle {
  json_doc manifest;
  mlx_map_string_to_array qmm, gather;
  bool loaded;
} oracle;

static bool oracle_load(oracle* o) {
  memset(o, 0, sizeof *o);
  if (!oracle_manifest_load(&o->manifest)) return false;
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  o->qmm = mlx_map_string_to_array_new();
  o->gather = mlx_map_string_to_array_new();
  CHECK_OK(mlx_load_safetensors(&o->qmm, &meta, ORACLE_DIR "/qmm.safetensors", test_stream));
  CHECK_OK(mlx_load_safetensors(&o->gather, &meta, ORACLE_DIR "/gather_qmm.safetensors",
                                test_stream));
  mlx_map_string_to_string_free(meta);
  o->loaded = true;
  return true;
}

static void oracle_free(oracle* o) {
  if (!o->loaded) return;
  json_doc_free(&o->manifest);
  mlx_map_string_to_array_free(o->qmm);
  mlx_map_string_to_array_free(o->gather);
}


/* The key of the case's input or output list entry ending in "/suffix". */
static const char* case_key(const json_value* c, const char* list, const char* suffix) {
  const json_value* items = json_object_get(c, list, NULL);
  char tail[96];
  snprintf(tail, sizeof tail, "/%s", suffix);
  for (size_t i = 0; items && i < items->as.array.count; i++) {
    const char* k = jstr(items->as.array.items[i], "key");
    if (k && (ends_with(k, tail) || strcmp(k, suffix) == 0)) return k;
  }
  return NULL;
}

static mlx_array oracle_get(mlx_map_string_to_array m, const char* key) {
  mlx_array a = mlx_array_new();
  int rc = key ? mlx_map_string_to_array_get(&a, m, key) : 1;
  CHECK_MSG(rc == 0, "oracle tensor %s missing", key ? key : "(no key)");
  return a;
}

static double compare_oracle(mlx_array got, mlx_array want, const char* what, double tol) {
  double* ref = test_to_f64(want);
  size_t n = mlx_array_size(want);
  CHECK_MSG(mlx_array_dtype(got) == mlx_array_dtype(want), "%s dtype", what);
  CHECK_MSG(mlx_array_ndim(got) == mlx_array_ndim(want) &&
                memcmp(mlx_array_shape(got), mlx_array_shape(want),
                       sizeof(int) * mlx_array_ndim(want)) == 0,
            "%s shape", what);
  double e = ref ? rel_error(got, ref, n) : INFINITY;
  CHECK_MSG(e <= tol, "%s: relative error %.3g > %.3g", what, e, tol);
  free(ref);
  return e;
}

static void oracle_qmm_case(const oracle* o, const json_value* c, double* worst) {
  const char* name = jstr(c, "name");
  const json_value* params = json_object_get(c, "params", NULL);
  const char* mode = jstr(params, "mode");
  int bits = jint(params, "bits"), gs = jint(params, "group_size");
  bool transpose = jbool(params, "transpose");
  bool affine = strcmp(mode, "affine") == 0;
  mlx_array wq = oracle_get(o->qmm, case_key(c, "inputs", "wq"));
  mlx_array scales = oracle_get(o->qmm, case_key(c, "inputs", "scales"));
  mlx_array biases = affine ? oracle_get(o->qmm, case_key(c, "inputs", "biases")) : mlx_array_new();
  const char* xs[3] = {"x1", "x7", "x2x3"};
  const json_value* inputs = json_object_get(c, "inputs", NULL);
  for (int i = 0; i < 3; i++) {
    const char* xkey = NULL;
    for (size_t j = 0; j < inputs->as.array.count; j++) {
      const char* k = jstr(inputs->as.array.items[j], "key");
      if (k && strncmp(k, xs[i], strlen(xs[i])) == 0 && k[strlen(xs[i])] == '/') xkey = k;
    }
    mlx_array x = oracle_get(o->qmm, xkey);
    char okey[64], what[160];
    snprintf(okey, sizeof okey, "out_%s", xs[i]);
    const char* plain = case_key(c, "outputs", okey);
    snprintf(okey, sizeof okey, "out_%s_f32acc", xs[i]);
    const char* f32acc = case_key(c, "outputs", okey);
    mlx_array want = oracle_get(o->qmm, f32acc ? f32acc : plain);
    mlx_array got = mlx_array_new();
    CHECK_OK(mlx_quantized_matmul(&got, x, wq, scales, biases, transpose, opt_int(gs),
                                  opt_int(bits), mode, test_stream));
    mlx_dtype t = mlx_array_dtype(want);
    double tol = t == MLX_FLOAT16 ? 5e-3 : t == MLX_BFLOAT16 ? 2e-2 : 1e-5;
    snprintf(what, sizeof what, "oracle %s %s", name, f32acc ? f32acc : plain);
    double e = compare_oracle(got, want, what, tol);
    int slot = t == MLX_FLOAT16 ? 1 : t == MLX_BFLOAT16 ? 2 : 0;
    if (e > worst[slot]) worst[slot] = e;
    mlx_array_free(x);
    mlx_array_free(want);
    mlx_array_free(got);
  }
  mlx_array_free(wq);
  mlx_array_free(scales);
  mlx_array_free(biases);
}

static void oracle_gather_case(const oracle* o, const json_value* c, double* worst) {
  const char* name = jstr(c, "name");
  const json_value* params = json_object_get(c, "params", NULL);
  const char* mode = jstr(params, "mode");
  int bits = jint(params, "bits"), gs = jint(params, "group_size");
  bool transpose = jbool(params, "transpose");
  bool affine = strcmp(mode, "affine") == 0;
  mlx_map_string_to_array m = o->gather;
  mlx_array wq = oracle_get(m, case_key(c, "inputs", "wq"));
  mlx_array scales = oracle_get(m, case_key(c, "inputs", "scales"));
  mlx_array biases = affine ? oracle_get(m, case_key(c, "inputs", "biases")) : mlx_array_new();
  mlx_array none = mlx_array_new();
  struct {
    const char *x, *lhs, *rhs, *out;
    bool sorted;
  } runs[3] = {{"x/f32", NULL, "rhs_indices", "out_moe", false},
               {"xs/f32", NULL, "rhs_sorted", "out_sorted", true},
               {"xl/f32", "lhs_indices2", "rhs_indices2", "out_lhs_rhs", false}};
  for (int i = 0; i < 3; i++) {
    mlx_array x = oracle_get(m, runs[i].x);
    mlx_array lhs = runs[i].lhs ? oracle_get(m, runs[i].lhs) : mlx_array_new();
    mlx_array rhs = oracle_get(m, runs[i].rhs);
    mlx_array want = oracle_get(m, case_key(c, "outputs", runs[i].out));
    mlx_array got = mlx_array_new();
    CHECK_OK(mlx_gather_qmm(&got, x, wq, scales, biases, lhs, rhs, transpose, opt_int(gs),
                            opt_int(bits), mode, runs[i].sorted, test_stream));
    char what[160];
    snprintf(what, sizeof what, "oracle gather_qmm %s %s", name, runs[i].out);
    double e = compare_oracle(got, want, what, 1e-5);
    if (e > worst[0]) worst[0] = e;
    mlx_array arrs[] = {x, lhs, rhs, want, got};
    for (size_t k = 0; k < 5; k++) mlx_array_free(arrs[k]);
  }
  mlx_array arrs[] = {wq, scales, biases, none};
  for (size_t k = 0; k < 4; k++) mlx_array_free(arrs[k]);
}

/* ---- the manifest's error records ---- */

static int run_error_record(const char* name) {
  int w_shape[2] = {64, 256}, x7[2] = {7, 256}, x7s[2] = {7, 128}, one = 1;
  mlx_array w = random_array(w_shape, 2, MLX_FLOAT32, -1, 1);
  qmat q = quantize(w, "affine", 64, 4);
  qmat f = quantize(w, "mxfp4", 32, 4);
  mlx_array x = random_array(x7, 2, MLX_FLOAT32, -1, 1);
  mlx_array x_small = random_array(x7s, 2, MLX_FLOAT32, -1, 1);
  int b2[2] = {64, 2};
  mlx_array bad_biases = random_array(b2, 2, MLX_FLOAT32, -1, 1);
  mlx_array fidx = random_array(&one, 1, MLX_FLOAT32, 0, 1);
  mlx_array none = mlx_array_new(), r = mlx_array_new();
  int rc = -1;
  test_error_count = 0;
  test_last_error[0] = 0;
  if (!strcmp(name, "qmm_x_dim_mismatch"))
    rc = mlx_quantized_matmul(&r, x_small, q.wq, q.scales, q.biases, true, opt_int(64),
                              opt_int(4), "affine", test_stream);
  else if (!strcmp(name, "qmm_x_dim_mismatch_transpose_false"))
    rc = mlx_quantized_matmul(&r, x, q.wq, q.scales, q.biases, false, opt_int(64), opt_int(4),
                              "affine", test_stream);
  else if (!strcmp(name, "qmm_wrong_group_size"))
    rc = mlx_quantized_matmul(&r, x, q.wq, q.scales, q.biases, true, opt_int(32), opt_int(4),
                              "affine", test_stream);
  else if (!strcmp(name, "qmm_wrong_bits"))
    rc = mlx_quantized_matmul(&r, x, q.wq, q.scales, q.biases, true, opt_int(64), opt_int(8),
                              "affine", test_stream);
  else if (!strcmp(name, "qmm_w_not_uint32"))
    rc = mlx_quantized_matmul(&r, x, w, q.scales, q.biases, true, opt_int(64), opt_int(4),
                              "affine", test_stream);
  else if (!strcmp(name, "qmm_biases_shape"))
    rc = mlx_quantized_matmul(&r, x, q.wq, q.scales, bad_biases, true, opt_int(64), opt_int(4),
                              "affine", test_stream);
  else if (!strcmp(name, "qmm_mxfp4_with_biases"))
    rc = mlx_quantized_matmul(&r, x, f.wq, f.scales, f.scales, true, opt_int(32), opt_int(4),
                              "mxfp4", test_stream);
  else if (!strcmp(name, "gather_qmm_float_indices"))
    rc = mlx_gather_qmm(&r, x, q.wq, q.scales, q.biases, none, fidx, true, no_int, no_int,
                        "affine", false, test_stream);
  mlx_array arrs[] = {w, x, x_small, bad_biases, fidx, none, r};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
  qmat_free(&q);
  qmat_free(&f);
  return rc;
}

static void oracle_errors(const oracle* o) {
  int covered = 0;
  const json_value* errs = json_object_get(o->manifest.root, "errors", NULL);
  for (size_t i = 0; errs && i < errs->as.array.count; i++) {
    const char* name = jstr(errs->as.array.items[i], "name");
    if (!name || (strncmp(name, "qmm_", 4) != 0 && strncmp(name, "gather_qmm", 10) != 0))
      continue;
    const char* msg = jstr(errs->as.array.items[i], "message");
    int rc = run_error_record(name);
    CHECK_MSG(rc != -1, "no call for error record %s", name);
    if (rc == -1) continue;
    covered++;
    CHECK_MSG(rc == 1 && test_error_count == 1 && strcmp(test_last_error, msg) == 0,
              "error record %s: rc %d, got \"%s\", want \"%s\"", name, rc, test_last_error, msg);
  }
  CHECK(covered == 8);
  printf("oracle: %d quantized-matmul error records reproduced\n", covered);
}

static void test_oracle(void) {
  oracle o;
  if (!oracle_load(&o)) {
    CHECK_MSG(0, "oracle not found at %s", ORACLE_DIR);
    return;
  }
  const json_value* cases = json_object_get(o.manifest.root, "cases", NULL);
  int n_qmm = 0, n_gather = 0;
  double worst_qmm[3] = {0, 0, 0}, worst_gather[3] = {0, 0, 0};
  for (size_t i = 0; cases && i < cases->as.array.count; i++) {
    const json_value* c = cases->as.array.items[i];
    const char* kind = jstr(c, "kind");
    if (kind && strcmp(kind, "quantized_matmul") == 0) {
      oracle_qmm_case(&o, c, worst_qmm);
      n_qmm++;
    } else if (kind && strcmp(kind, "gather_qmm") == 0) {
      oracle_gather_case(&o, c, worst_gather);
      n_gather++;
    }
  }
  CHECK(n_qmm == 26 && n_gather == 10);
  printf("oracle: %d quantized_matmul cases (worst rel. error f32 %.2g, f16 %.2g, bf16 %.2g), "
         "%d gather_qmm cases (worst %.2g)\n",
         n_qmm, worst_qmm[0], worst_qmm[1], worst_qmm[2], n_gather, worst_gather[0]);
  oracle_errors(&o);
  oracle_free(&o);
}

/* ------------------------------------------------------------------------
 * 2. Random products against the double reference
 * ---------------------------------------------------------------------- */

/* quantized_matmul(x, q) against the reference for x of any shape, with w
 * 2-D (one matrix). */
static void check_qmm(mlx_array x, const qmat* q, bool transpose, const char* what) {
  long rows, cols;
  double* W = dequant_ref(q, &rows, &cols);
  long K = transpose ? cols : rows, N = transpose ? rows : cols;
  double* xd = test_to_f64(x);
  size_t m = mlx_array_size(x) / (size_t)(K ? K : 1);
  if (K == 0) m = shape_size(mlx_array_shape(x), (int)mlx_array_ndim(x) - 1);
  double* ref = malloc(sizeof(double) * (m * (size_t)N + 1));
  ref_matmul(xd, (long)m, K, W, transpose, N, ref);
  mlx_array out = mlx_array_new();
  CHECK_OK(mlx_quantized_matmul(&out, x, q->wq, q->scales, q->biases, transpose,
                                opt_int(q->group_size), opt_int(q->bits), q->mode, test_stream));
  double e = rel_error(out, ref, m * (size_t)N);
  mlx_dtype t = mlx_array_dtype(out);
  CHECK_MSG(e <= tolerance(t), "%s: relative error %.3g (dtype %d)", what, e, (int)t);
  CHECK_MSG(mlx_array_size(out) == m * (size_t)N, "%s: output size", what);
  free(W);
  free(xd);
  free(ref);
  mlx_array_free(out);
}


static void test_random_formats(void) {
  fmt fmts[32];
  int nf = 0;
  const int affine_bits[6] = {2, 3, 4, 5, 6, 8}, groups[3] = {32, 64, 128};
  for (int b = 0; b < 6; b++)
    for (int g = 0; g < 3; g++) fmts[nf++] = (fmt){"affine", affine_bits[b], groups[g]};
  fmts[nf++] = (fmt){"mxfp4", 4, 32};
  fmts[nf++] = (fmt){"mxfp8", 8, 32};
  fmts[nf++] = (fmt){"nvfp4", 4, 16};
  const mlx_dtype dts[3] = {MLX_FLOAT32, MLX_FLOAT16, MLX_BFLOAT16};
  const int ms[4] = {1, 3, 9, 33};
  int runs = 0;
  for (int f = 0; f < nf; f++)
    for (int d = 0; d < 3; d++)
      for (int tr = 0; tr < 2; tr++) {
        bool transpose = tr == 0;
        int K = fmts[f].gs * 3, N = transpose ? 37 : fmts[f].gs * 2;
        int wshape[2] = {transpose ? N : K, transpose ? K : N};
        if (!transpose) wshape[1] = N;
        qmat q = quantize_random(wshape, 2, dts[d], fmts[f].mode, fmts[f].gs, fmts[f].bits);
        for (int mi = 0; mi < 4; mi++) {
          if (d > 0 && mi == 1) continue;
          int xs[2] = {ms[mi], K};
          mlx_array x = random_array(xs, 2, dts[d], -1, 1);
          char what[128];
          snprintf(what, sizeof what, "%s b%d g%d dtype %d %s M=%d", fmts[f].mode, fmts[f].bits,
                   fmts[f].gs, (int)dts[d], transpose ? "T" : "N", ms[mi]);
          check_qmm(x, &q, transpose, what);
          mlx_array_free(x);
          runs++;
        }
        qmat_free(&q);
      }
  printf("random formats: %d products\n", runs);
}

/* Larger matrices through the streaming kernels and the GEMM path. */
static void test_random_large(void) {
  const fmt fmts[4] = {{"affine", 4, 64}, {"affine", 8, 64}, {"mxfp4", 4, 32}, {"nvfp4", 4, 16}};
  const mlx_dtype dts[3] = {MLX_FLOAT32, MLX_BFLOAT16, MLX_FLOAT16};
  for (int f = 0; f < 4; f++)
    for (int d = 0; d < 3; d++) {
      int K = 1024, N = 300;
      int ws[2] = {N, K};
      qmat q = quantize_random(ws, 2, dts[d], fmts[f].mode, fmts[f].gs, fmts[f].bits);
      const int ms[3] = {1, 5, 70};
      for (int mi = 0; mi < 3; mi++) {
        int xs[2] = {ms[mi], K};
        mlx_array x = random_array(xs, 2, dts[d], -2, 2);
        char what[96];
        snprintf(what, sizeof what, "large %s b%d dtype %d M=%d", fmts[f].mode, fmts[f].bits,
                 (int)dts[d], ms[mi]);
        check_qmm(x, &q, true, what);
        mlx_array_free(x);
      }
      qmat_free(&q);
    }
}

/* ------------------------------------------------------------------------
 * 3. Shapes, layouts, dtypes
 * ---------------------------------------------------------------------- */

static void test_output_dtypes(void) {
  int ws[2] = {32, 64}, xs[2] = {2, 64};
  struct {
    mlx_dtype x, w, want;
  } cases[] = {
      {MLX_FLOAT32, MLX_BFLOAT16, MLX_FLOAT32}, {MLX_BFLOAT16, MLX_FLOAT16, MLX_FLOAT32},
      {MLX_FLOAT16, MLX_FLOAT16, MLX_FLOAT16},  {MLX_BFLOAT16, MLX_BFLOAT16, MLX_BFLOAT16},
      {MLX_INT32, MLX_FLOAT16, MLX_FLOAT16},    {MLX_FLOAT16, MLX_FLOAT32, MLX_FLOAT32},
      {MLX_BOOL, MLX_BFLOAT16, MLX_BFLOAT16},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qmat q = quantize_random(ws, 2, cases[i].w, "affine", 64, 4);
    mlx_array x = random_array(xs, 2, cases[i].x, -3, 3);
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_quantized_matmul(&out, x, q.wq, q.scales, q.biases, true, no_int, no_int,
                                  "affine", test_stream));
    CHECK_MSG(mlx_array_dtype(out) == cases[i].want, "affine output dtype case %zu", i);
    /* values: the reference on x cast to the output dtype */
    mlx_array xc = mlx_array_new();
    CHECK_OK(mlx_astype(&xc, x, cases[i].want, test_stream));
    check_qmm(xc, &q, true, "dtype rule values");
    mlx_array_free(xc);
    mlx_array_free(out);
    mlx_array_free(x);
    qmat_free(&q);
  }
  /* fp modes keep x's dtype */
  qmat f = quantize_random(ws, 2, MLX_FLOAT32, "mxfp4", 32, 4);
  const mlx_dtype xd[3] = {MLX_FLOAT32, MLX_FLOAT16, MLX_BFLOAT16};
  for (int i = 0; i < 3; i++) {
    mlx_array x = random_array(xs, 2, xd[i], -1, 1);
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_quantized_matmul(&out, x, f.wq, f.scales, f.biases, true, no_int, no_int,
                                  "mxfp4", test_stream));
    CHECK(mlx_array_dtype(out) == xd[i]);
    mlx_array_free(out);
    mlx_array_free(x);
  }
  qmat_free(&f);
}

/* x [..., M, K] with w [..., N, Kw]: batches broadcast; the reference
 * per output batch. */
static void check_batched(const int* xshape, int xnd, const int* wshape, int wnd,
                          const char* mode, int gs, int bits, bool transpose) {
  mlx_array x = random_array(xshape, xnd, MLX_FLOAT32, -1, 1);
  qmat q = quantize_random(wshape, wnd, MLX_FLOAT32, mode, gs, bits);
  mlx_array out = mlx_array_new();
  CHECK_OK(mlx_quantized_matmul(&out, x, q.wq, q.scales, q.biases, transpose, opt_int(gs),
                                opt_int(bits), mode, test_stream));
  long rows, cols;
  double* W = dequant_ref(&q, &rows, &cols);
  double* xd = test_to_f64(x);
  int M = xshape[xnd - 2], K = xshape[xnd - 1];
  int mr = wshape[wnd - 2], mc = (int)cols;
  int N = transpose ? mr : mc;
  /* output batch shape = broadcast of the two batch shapes */
  int onb = xnd - 2 > wnd - 2 ? xnd - 2 : wnd - 2;
  int ob[8];
  for (int d = 0; d < onb; d++) {
    int xi = d - (onb - (xnd - 2)), wi = d - (onb - (wnd - 2));
    int a = xi >= 0 ? xshape[xi] : 1, b = wi >= 0 ? wshape[wi] : 1;
    ob[d] = a == 1 ? b : a;
  }
  size_t nbatch = shape_size(ob, onb);
  double* ref = malloc(sizeof(double) * (nbatch * (size_t)(M * N) + 1));
  for (size_t bi = 0; bi < nbatch; bi++) {
    /* unravel bi over ob, then index x and w batches with broadcasting */
    size_t rem = bi, xoff = 0, woff = 0, xmul = 1, wmul = 1;
    for (int d = onb - 1; d >= 0; d--) {
      size_t id = rem % (size_t)ob[d];
      rem /= (size_t)ob[d];
      int xi = d - (onb - (xnd - 2)), wi = d - (onb - (wnd - 2));
      if (xi >= 0) {
        xoff += (xshape[xi] == 1 ? 0 : id) * xmul;
        xmul *= (size_t)xshape[xi];
      }
      if (wi >= 0) {
        woff += (wshape[wi] == 1 ? 0 : id) * wmul;
        wmul *= (size_t)wshape[wi];
      }
    }
    ref_matmul(xd + xoff * (size_t)(M * K), M, K, W + woff * (size_t)(mr * mc), transpose, N,
               ref + bi * (size_t)(M * N));
  }
  double e = rel_error(out, ref, nbatch * (size_t)(M * N));
  CHECK_MSG(e <= 1e-5, "batched %s: relative error %.3g", mode, e);
  CHECK(mlx_array_ndim(out) == (size_t)onb + 2);
  free(W);
  free(xd);
  free(ref);
  mlx_array_free(out);
  mlx_array_free(x);
  qmat_free(&q);
}

static void test_batches(void) {
  int x1[4] = {2, 3, 4, 64}, w1[3] = {3, 40, 64};
  check_batched(x1, 4, w1, 3, "affine", 32, 4, true);
  int x2[4] = {2, 1, 4, 64}, w2[4] = {1, 3, 40, 64};
  check_batched(x2, 4, w2, 4, "mxfp4", 32, 4, true);
  int x3[3] = {3, 2, 64}, w3[3] = {3, 64, 64};
  check_batched(x3, 3, w3, 3, "affine", 64, 8, false);
  int x4[3] = {1, 12, 64}, w4[3] = {5, 16, 64};
  check_batched(x4, 3, w4, 3, "nvfp4", 16, 4, true);

  /* x with batch axes and a 2-D w: one flattened product */
  int x5[3] = {2, 3, 128}, w5[2] = {24, 128};
  mlx_array x = random_array(x5, 3, MLX_FLOAT32, -1, 1);
  qmat q = quantize_random(w5, 2, MLX_FLOAT32, "affine", 64, 4);
  check_qmm(x, &q, true, "3-D x, 2-D w");
  /* 1-D x: output [N] */
  int k1 = 128;
  mlx_array xv = random_array(&k1, 1, MLX_FLOAT32, -1, 1);
  check_qmm(xv, &q, true, "1-D x");
  mlx_array out = mlx_array_new();
  CHECK_OK(mlx_quantized_matmul(&out, xv, q.wq, q.scales, q.biases, true, no_int, no_int,
                                "affine", test_stream));
  CHECK(mlx_array_ndim(out) == 1 && mlx_array_shape(out)[0] == 24);
  mlx_array_free(out);
  mlx_array_free(xv);
  mlx_array_free(x);
  qmat_free(&q);

  /* 2-D x with a stack of w: MLX's CPU uses the first matrix */
  int w6[3] = {3, 24, 128}, x6[2] = {5, 128};
  qmat q3 = quantize_random(w6, 3, MLX_FLOAT32, "affine", 64, 4);
  x = random_array(x6, 2, MLX_FLOAT32, -1, 1);
  out = mlx_array_new();
  CHECK_OK(mlx_quantized_matmul(&out, x, q3.wq, q3.scales, q3.biases, true, no_int, no_int,
                                "affine", test_stream));
  int want_shape[2] = {5, 24};
  CHECK(test_shape_is(out, want_shape, 2));
  long rows, cols;
  double* W = dequant_ref(&q3, &rows, &cols);
  double* xd = test_to_f64(x);
  double ref[5 * 24];
  ref_matmul(xd, 5, 128, W, true, 24, ref);
  CHECK(rel_error(out, ref, 5 * 24) <= 1e-5);
  free(W);
  free(xd);
  mlx_array_free(out);
  mlx_array_free(x);
  qmat_free(&q3);
}

static void test_layouts(void) {
  int ws[2] = {40, 128};
  qmat q = quantize_random(ws, 2, MLX_FLOAT32, "affine", 64, 4);
  /* x transposed: [K, M] -> [M, K] view */
  int xt_shape[2] = {128, 6};
  mlx_array xt = random_array(xt_shape, 2, MLX_FLOAT32, -1, 1);
  mlx_array x = mlx_array_new();
  CHECK_OK(mlx_transpose(&x, xt, test_stream));
  check_qmm(x, &q, true, "transposed x");
  mlx_array_free(x);
  /* x sliced with a step */
  int xl_shape[2] = {12, 256};
  mlx_array xl = random_array(xl_shape, 2, MLX_FLOAT32, -1, 1);
  int start[2] = {1, 0}, stop[2] = {12, 256}, step[2] = {3, 2};
  x = mlx_array_new();
  CHECK_OK(mlx_slice(&x, xl, start, 2, stop, 2, step, 2, test_stream));
  check_qmm(x, &q, true, "strided x");
  mlx_array_free(x);
  /* x broadcast along M (stride 0 rows) */
  int row_shape[2] = {1, 128}, bshape[2] = {9, 128};
  mlx_array xr = random_array(row_shape, 2, MLX_FLOAT32, -1, 1);
  x = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&x, xr, bshape, 2, test_stream));
  check_qmm(x, &q, true, "broadcast x");
  mlx_array_free(x);
  mlx_array_free(xr);
  mlx_array_free(xt);
  mlx_array_free(xl);

  /* w rows taken with a step (row stride 2x the row) */
  int big[2] = {80, 128};
  qmat qb = quantize_random(big, 2, MLX_FLOAT32, "affine", 64, 4);
  qmat qs = {mlx_array_new(), mlx_array_new(), mlx_array_new(), "affine", 4, 64};
  int s0[2] = {0, 0}, st[2] = {2, 1};
  int e_w[2] = {80, 16}, e_s[2] = {80, 2};
  CHECK_OK(mlx_slice(&qs.wq, qb.wq, s0, 2, e_w, 2, st, 2, test_stream));
  CHECK_OK(mlx_slice(&qs.scales, qb.scales, s0, 2, e_s, 2, st, 2, test_stream));
  CHECK_OK(mlx_slice(&qs.biases, qb.biases, s0, 2, e_s, 2, st, 2, test_stream));
  int xs[2] = {3, 128};
  x = random_array(xs, 2, MLX_FLOAT32, -1, 1);
  check_qmm(x, &qs, true, "row-strided w");
  /* w as a transposed view of its transpose (copied by the kernel) */
  qmat qt = {mlx_array_new(), mlx_array_new(), mlx_array_new(), "affine", 4, 64};
  mlx_array t1 = mlx_array_new();
  CHECK_OK(mlx_transpose(&t1, qb.wq, test_stream));
  mlx_array t1c = mlx_array_new();
  CHECK_OK(mlx_contiguous(&t1c, t1, false, test_stream));
  CHECK_OK(mlx_transpose(&qt.wq, t1c, test_stream));
  CHECK_OK(mlx_transpose(&t1, qb.scales, test_stream));
  CHECK_OK(mlx_contiguous(&t1c, t1, false, test_stream));
  CHECK_OK(mlx_transpose(&qt.scales, t1c, test_stream));
  CHECK_OK(mlx_astype(&qt.biases, qb.biases, MLX_FLOAT32, test_stream));
  check_qmm(x, &qt, true, "column-major w and scales");
  mlx_array_free(t1);
  mlx_array_free(t1c);
  mlx_array_free(x);
  qmat_free(&qt);
  qmat_free(&qs);
  qmat_free(&qb);
  qmat_free(&q);
}

static void test_empty(void) {
  int ws[2] = {16, 64};
  qmat q = quantize_random(ws, 2, MLX_FLOAT32, "affine", 64, 4);
  int xs[2] = {0, 64};
  mlx_array x = random_array(xs, 2, MLX_FLOAT32, -1, 1);
  mlx_array out = mlx_array_new();
  CHECK_OK(mlx_quantized_matmul(&out, x, q.wq, q.scales, q.biases, true, no_int, no_int,
                                "affine", test_stream));
  int want[2] = {0, 16};
  CHECK(test_shape_is(out, want, 2));
  CHECK_OK(mlx_array_eval(out));
  mlx_array_free(out);
  mlx_array_free(x);
  /* K = 0: w [N, 0], scales [N, 0]: zeros */
  int w0[2] = {5, 0};
  qmat z = {mlx_array_new(), mlx_array_new(), mlx_array_new(), "affine", 4, 64};
  CHECK_OK(mlx_zeros(&z.wq, w0, 2, MLX_UINT32, test_stream));
  CHECK_OK(mlx_zeros(&z.scales, w0, 2, MLX_FLOAT32, test_stream));
  CHECK_OK(mlx_zeros(&z.biases, w0, 2, MLX_FLOAT32, test_stream));
  int x0[2] = {3, 0};
  x = random_array(x0, 2, MLX_FLOAT32, -1, 1);
  out = mlx_array_new();
  CHECK_OK(mlx_quantized_matmul(&out, x, z.wq, z.scales, z.biases, true, no_int, no_int,
                                "affine", test_stream));
  double* o = test_to_f64(out);
  bool zero = o != NULL && mlx_array_size(out) == 15;
  for (size_t i = 0; zero && i < 15; i++) zero = o[i] == 0;
  CHECK(zero);
  free(o);
  mlx_array_free(out);
  mlx_array_free(x);
  qmat_free(&z);
  qmat_free(&q);
}

/* ------------------------------------------------------------------------
 * 4. Validation and eval-time errors
 * ---------------------------------------------------------------------- */

static void test_errors(void) {
  int ws[2] = {16, 64}, xs[2] = {2, 64};
  qmat q = quantize_random(ws, 2, MLX_FLOAT32, "affine", 64, 4);
  qmat f = quantize_random(ws, 2, MLX_FLOAT32, "mxfp4", 32, 4);
  mlx_array x = random_array(xs, 2, MLX_FLOAT32, -1, 1);
  mlx_array none = mlx_array_new(), out = mlx_array_new();
  EXPECT_ERROR(mlx_quantized_matmul(&out, x, q.wq, q.scales, q.biases, true, no_int, no_int,
                                    "int4", test_stream),
               "[quantized_matmul] Invalid quantization mode 'int4'.");
  EXPECT_ERROR(mlx_quantized_matmul(&out, x, q.wq, q.scales, none, true, no_int, no_int,
                                    "affine", test_stream),
               "[quantized_matmul] Biases must be provided for affine quantization.");
  EXPECT_ERROR(mlx_quantized_matmul(&out, x, f.wq, q.scales, none, true, no_int, no_int, "mxfp4",
                                    test_stream),
               "[quantized_matmul] Scale type must be uint8 but received type float32.");
  mlx_array iscales = random_array(mlx_array_shape(q.scales), 2, MLX_INT32, 0, 3);
  EXPECT_ERROR(mlx_quantized_matmul(&out, x, q.wq, iscales, iscales, true, no_int, no_int,
                                    "affine", test_stream),
               "[quantized_matmul] Only real floating types are supported but scales.dtype() == "
               "int32 and biases.dtype() == int32.");
  EXPECT_ERROR(mlx_quantized_matmul(&out, x, q.wq, q.scales, q.biases, true, no_int, opt_int(0),
                                    "affine", test_stream),
               "[quantized_matmul] Invalid value for bits: 0");
  mlx_array cx = random_array(xs, 2, MLX_COMPLEX64, -1, 1);
  EXPECT_ERROR(mlx_quantized_matmul(&out, cx, q.wq, q.scales, q.biases, true, no_int, no_int,
                                    "affine", test_stream),
               "[quantized_matmul] Only real floating types are supported but x.dtype() == "
               "complex64.");
  mlx_array ix = random_array(xs, 2, MLX_INT32, -3, 3);
  EXPECT_ERROR(mlx_quantized_matmul(&out, ix, f.wq, f.scales, none, true, no_int, no_int,
                                    "mxfp4", test_stream),
               "[quantized_matmul] Only real floating types are supported but x.dtype() == "
               "int32.");
  mlx_array s0 = mlx_array_new_float32(1.0f);
  EXPECT_ERROR(mlx_quantized_matmul(&out, s0, q.wq, q.scales, q.biases, true, no_int, no_int,
                                    "affine", test_stream),
               "[quantized_matmul] The input must have at least 1 dimension but it has 0.");
  int wv_len = 8;
  mlx_array wv = mlx_array_new();
  CHECK_OK(mlx_zeros(&wv, &wv_len, 1, MLX_UINT32, test_stream));
  EXPECT_ERROR(mlx_quantized_matmul(&out, x, wv, q.scales, q.biases, true, no_int, no_int,
                                    "affine", test_stream),
               "[quantized_matmul] The quantized weight matrix must have at least 2 dimensions "
               "but it has only 1.");
  /* batch shapes */
  int w3s[3] = {2, 16, 8}, s3s[3] = {3, 16, 1};
  mlx_array w3 = mlx_array_new(), s3 = mlx_array_new();
  CHECK_OK(mlx_zeros(&w3, w3s, 3, MLX_UINT32, test_stream));
  CHECK_OK(mlx_zeros(&s3, s3s, 3, MLX_FLOAT32, test_stream));
  EXPECT_ERROR(mlx_quantized_matmul(&out, x, w3, s3, s3, true, no_int, no_int, "affine",
                                    test_stream),
               "[quantized_matmul] Weight and scales should have the same batch shape. Received "
               "weight with shape (2,16,8), scales with (3,16,1).");
  int x3s[3] = {3, 2, 64};
  mlx_array x3 = random_array(x3s, 3, MLX_FLOAT32, -1, 1);
  int s2s[3] = {2, 16, 1};
  mlx_array s2 = mlx_array_new();
  CHECK_OK(mlx_zeros(&s2, s2s, 3, MLX_FLOAT32, test_stream));
  EXPECT_ERROR(mlx_quantized_matmul(&out, x3, w3, s2, s2, true, no_int, no_int, "affine",
                                    test_stream),
               "[broadcast_shapes] Shapes (3) and (2) cannot be broadcast.");
  /* fp modes take only their own group size and bits */
  int w16s[2] = {16, 8}, s16s[2] = {16, 4};
  mlx_array w16 = mlx_array_new(), s16 = mlx_array_new();
  CHECK_OK(mlx_zeros(&w16, w16s, 2, MLX_UINT32, test_stream));
  CHECK_OK(mlx_zeros(&s16, s16s, 2, MLX_UINT8, test_stream));
  EXPECT_ERROR(mlx_quantized_matmul(&out, x, w16, s16, none, true, opt_int(16), no_int,
                                    "mxfp4", test_stream),
               "[quantized_matmul] mxfp4 quantization requires group size 32 but got 16.");
  /* eval-time: MLX's kernel messages */
  mlx_array s16f = mlx_array_new();
  CHECK_OK(mlx_zeros(&s16f, s16s, 2, MLX_FLOAT32, test_stream));
  CHECK_OK(mlx_quantized_matmul(&out, x, w16, s16f, s16f, true, opt_int(16), no_int, "affine",
                                test_stream));
  EXPECT_ERROR(mlx_array_eval(out), "Quantization group size must be 32, 64 or 128.");
  int w7s[2] = {16, 14};
  mlx_array w7 = mlx_array_new();
  CHECK_OK(mlx_zeros(&w7, w7s, 2, MLX_UINT32, test_stream));
  CHECK_OK(mlx_quantized_matmul(&out, x, w7, s16f, s16f, true, opt_int(16), opt_int(7),
                                "affine", test_stream));
  EXPECT_ERROR(mlx_array_eval(out), "Quantization bits must be 2, 3, 4, 6 or 8.");
  mlx_array x64 = random_array(xs, 2, MLX_FLOAT64, -1, 1);
  CHECK_OK(mlx_quantized_matmul(&out, x64, q.wq, q.scales, q.biases, true, no_int, no_int,
                                "affine", test_stream));
  EXPECT_ERROR(mlx_array_eval(out), "[quantized_matmul] only floating types are supported");
  /* gather_qmm's own checks */
  int32_t iv[2] = {0, 0};
  int two = 2;
  mlx_array idx = index_array(iv, &two, 1);
  int k64 = 64;
  mlx_array xv = random_array(&k64, 1, MLX_FLOAT32, -1, 1);
  EXPECT_ERROR(mlx_gather_qmm(&out, xv, q.wq, q.scales, q.biases, idx, none, true, no_int,
                              no_int, "affine", false, test_stream),
               "[gather_qmm] Input must have at least two dimensions but got input with shape "
               "(64).");
  /* a 2-D w is a batch of one: index 0 twice */
  CHECK_OK(mlx_gather_qmm(&out, x, q.wq, q.scales, q.biases, none, idx, true, no_int, no_int,
                          "affine", false, test_stream));
  int gshape[3] = {2, 2, 16};
  CHECK(test_shape_is(out, gshape, 3));
  CHECK_OK(mlx_array_eval(out));
  mlx_array bidx = random_array(&two, 1, MLX_BOOL, 0, 1);
  EXPECT_ERROR(mlx_gather_qmm(&out, x, q.wq, q.scales, q.biases, bidx, none, true, no_int,
                              no_int, "affine", false, test_stream),
               "[gather_qmm] Got indices with invalid dtype. Indices must be integral.");
  EXPECT_ERROR(mlx_gather_qmm(&out, ix, f.wq, f.scales, none, idx, none, true, no_int, no_int,
                              "mxfp4", false, test_stream),
               "[gather_qmm] Only real floating types are supported but x.dtype() == int32.");
  mlx_array arrs[] = {x, none, out, iscales, cx, ix, s0, wv, w3, s3, x3, s2, w16, s16, s16f, w7,
                      x64, idx, xv, bidx};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
  qmat_free(&q);
  qmat_free(&f);
}

int main(void) {
  test_init();
  test_oracle();
  test_random_formats();
  test_random_large();
  test_output_dtypes();
  test_batches();
  test_layouts();
  test_empty();
  test_errors();
  return test_finish("test_qmm");
}
