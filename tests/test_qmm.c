/* test_qmm.c - quantized_matmul, gather_qmm, gather_mm and qqmm.
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
 * - the fast kernels on raw buffers against cpu_qmm_reference for every
 *   instruction set this CPU has, with poisoned outputs and odd sizes;
 * - gather_qmm (MoE shapes, lhs and rhs, broadcast and out-of-range
 *   indices), gather_mm (every float dtype), qqmm (M = 1 against MLX's
 *   quantize-dequantize written here; MLX's NYI errors elsewhere);
 * - the validation paths with MLX's messages, and the eval-time errors;
 * - the kernels' vectorisable float16 and E8M0 conversions equal
 *   core/half.h's and the format table for every code.
 * The oracle files are copied into tests/data/oracle; a missing file fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/qmm.h"
#include "backend/cpu/qmm_kernels.h"
#include "core/half.h"
#include "harness.h"
#include "qmm_check.h"
#include "io/json.h"

#define ORACLE_DIR CMLX_TEST_DATA "/oracle"

static const mlx_optional_int no_int = {0, false};
static mlx_optional_int opt_int(int v) { return (mlx_optional_int){v, true}; }

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static size_t shape_size(const int* shape, int nd) {
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
  return n;
}

static mlx_array random_array(const int* shape, int nd, mlx_dtype t, double lo, double hi) {
  size_t n = shape_size(shape, nd);
  float* v = malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = (float)test_rand(lo, hi);
  mlx_array a = mlx_array_new_data(v, shape, nd, MLX_FLOAT32);
  free(v);
  if (t != MLX_FLOAT32) {
    mlx_array c = mlx_array_new();
    CHECK_OK(mlx_astype(&c, a, t, test_stream));
    mlx_array_free(a);
    a = c;
  }
  return a;
}

static mlx_array index_array(const int32_t* v, const int* shape, int nd) {
  return mlx_array_new_data(v, shape, nd, MLX_INT32);
}

static mlx_array vec_at(mlx_vector_array v, size_t i) {
  mlx_array a = mlx_array_new();
  mlx_vector_array_get(&a, v, i);
  return a;
}

/* A quantized matrix (or stack) and what made it. */
typedef struct qmat {
  mlx_array wq, scales, biases; /* biases empty for fp modes */
  const char* mode;
  int bits, group_size;
} qmat;

static qmat quantize(mlx_array w, const char* mode, int gs, int bits) {
  qmat q = {mlx_array_new(), mlx_array_new(), mlx_array_new(), mode, bits, gs};
  mlx_vector_array r = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&r, w, opt_int(gs), opt_int(bits), mode, mlx_array_new(), test_stream));
  if (mlx_vector_array_size(r) >= 2) {
    mlx_array_free(q.wq);
    mlx_array_free(q.scales);
    q.wq = vec_at(r, 0);
    q.scales = vec_at(r, 1);
    if (mlx_vector_array_size(r) == 3) {
      mlx_array_free(q.biases);
      q.biases = vec_at(r, 2);
    }
  }
  mlx_vector_array_free(r);
  return q;
}

static qmat quantize_random(const int* shape, int nd, mlx_dtype t, const char* mode, int gs,
                            int bits) {
  mlx_array w = random_array(shape, nd, t, -1, 1);
  qmat q = quantize(w, mode, gs, bits);
  mlx_array_free(w);
  return q;
}

static void qmat_free(qmat* q) {
  mlx_array_free(q->wq);
  mlx_array_free(q->scales);
  mlx_array_free(q->biases);
}

/* ---- the independent reference: decode MLX's format, multiply in double ---- */

static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};

static float e4m3_value(unsigned c) {
  unsigned e = (c >> 3) & 15, m = c & 7;
  float v = e == 0 ? ldexpf((float)m, -9) : ldexpf(1.0f + (float)m / 8.0f, (int)e - 7);
  return (c & 0x80) ? -v : v;
}

static float e8m0_value(unsigned s) {
  return s == 0 ? ldexpf(1.0f, -127) : ldexpf(1.0f, (int)s - 127);
}

/* Code i of a row of 32-bit words, read bit by bit. */
static unsigned code_at(const double* words, long i, int bits) {
  unsigned v = 0;
  for (int b = 0; b < bits; b++) {
    long bit = i * bits + b;
    uint32_t word = (uint32_t)words[bit / 32];
    v |= ((word >> (bit % 32)) & 1u) << b;
  }
  return v;
}

/* The dequantized values of q as float32 arithmetic gives them (MLX's
 * definition), one row per leading index: size = leading * cols. */
static double* dequant_ref(const qmat* q, long* rows_out, long* cols_out) {
  double* w = test_to_f64(q->wq);
  double* s = test_to_f64(q->scales);
  bool affine = strcmp(q->mode, "affine") == 0;
  double* b = affine ? test_to_f64(q->biases) : NULL;
  int nd = (int)mlx_array_ndim(q->wq);
  const int* sh = mlx_array_shape(q->wq);
  long words = sh[nd - 1];
  long rows = (long)(mlx_array_size(q->wq) / (size_t)(words ? words : 1));
  if (words == 0) rows = (long)shape_size(sh, nd - 1);
  long cols = words * 32 / q->bits;
  long groups = cols / q->group_size;
  double* out = malloc(sizeof(double) * (size_t)(rows * cols + 1));
  for (long r = 0; r < rows; r++)
    for (long c = 0; c < cols; c++) {
      unsigned code = code_at(w + r * words, c, q->bits);
      double sv = s[r * groups + c / q->group_size];
      float v;
      if (affine) {
        float p = (float)sv * (float)code;
        v = p + (float)b[r * groups + c / q->group_size];
      } else if (strcmp(q->mode, "nvfp4") == 0) {
        v = e2m1[code] * e4m3_value((unsigned)sv);
      } else if (strcmp(q->mode, "mxfp4") == 0) {
        v = e2m1[code] * e8m0_value((unsigned)sv);
      } else {
        v = e4m3_value(code) * e8m0_value((unsigned)sv);
      }
      out[r * cols + c] = v;
    }
  free(w);
  free(s);
  free(b);
  *rows_out = rows;
  *cols_out = cols;
  return out;
}

/* y[m x N] = x[m x K] @ W^T (W: N x K, transpose) or x @ W (W: K x N). */
static void ref_matmul(const double* x, long m, long K, const double* W, bool transpose, long N,
                       double* y) {
  for (long r = 0; r < m; r++)
    for (long n = 0; n < N; n++) {
      double acc = 0;
      for (long k = 0; k < K; k++) acc += x[r * K + k] * (transpose ? W[n * K + k] : W[k * N + n]);
      y[r * N + n] = acc;
    }
}

/* max |out - ref| / max |ref| (0 when both are zero). */
static double rel_error(mlx_array out, const double* ref, size_t n) {
  double* o = test_to_f64(out);
  if (!o) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(o[i] - ref[i]);
    if (!(d <= num)) num = d;
    if (fabs(ref[i]) > den) den = fabs(ref[i]);
  }
  free(o);
  return den > 0 ? num / den : num;
}

/* What our float32 sums rounded once allow, relative to max |ref|. */
static double tolerance(mlx_dtype t) {
  return t == MLX_FLOAT16 ? 1e-3 : t == MLX_BFLOAT16 ? 8e-3 : 1e-5;
}

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
  size_t len;
  char* text = (char*)test_read_bytes(ORACLE_DIR "/manifest.json", &len);
  if (!text) return false;
  json_error err;
  bool ok = json_parse(text, len, &o->manifest, &err) == 0;
  free(text);
  if (!ok) return false;
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

static const char* jstr(const json_value* obj, const char* key) {
  const json_value* v = json_object_get(obj, key, NULL);
  return v && v->type == JSON_STRING ? v->as.string.text : NULL;
}
static int jint(const json_value* obj, const char* key) {
  const json_value* v = json_object_get(obj, key, NULL);
  return v && v->type == JSON_NUMBER ? (int)v->as.number.value : -1;
}
static bool jbool(const json_value* obj, const char* key) {
  const json_value* v = json_object_get(obj, key, NULL);
  return v && v->type == JSON_TRUE;
}

static bool ends_with(const char* s, const char* suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
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

typedef struct fmt {
  const char* mode;
  int bits, gs;
} fmt;

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
 * 4. The kernels on raw buffers, every instruction set
 * ---------------------------------------------------------------------- */

/* q's arrays made contiguous (wq, sc, bi: freed by the caller) and seen as
 * a raw qmm_matrix. */
static qmm_matrix qmat_view(const qmat* q, mlx_array* wq, mlx_array* sc, mlx_array* bi) {
  CHECK_OK(mlx_contiguous(wq, q->wq, false, test_stream));
  CHECK_OK(mlx_contiguous(sc, q->scales, false, test_stream));
  bool affine = strcmp(q->mode, "affine") == 0;
  if (affine) CHECK_OK(mlx_contiguous(bi, q->biases, false, test_stream));
  mlx_array_eval(*wq);
  mlx_array_eval(*sc);
  if (affine) mlx_array_eval(*bi);
  const int* sh = mlx_array_shape(*wq);
  qmm_matrix mat = {
      .mode = !strcmp(q->mode, "affine")  ? QUANT_AFFINE
              : !strcmp(q->mode, "mxfp4") ? QUANT_MXFP4
              : !strcmp(q->mode, "mxfp8") ? QUANT_MXFP8
                                          : QUANT_NVFP4,
      .bits = q->bits,
      .group_size = q->group_size,
      .rows = sh[0],
      .cols = sh[1] * 32 / q->bits,
      .w = mlx_array_data_uint32(*wq),
      .w_ld = sh[1],
      .scales = affine ? (const void*)mlx_array_data_float32(*sc) : mlx_array_data_uint8(*sc),
      .biases = affine ? mlx_array_data_float32(*bi) : NULL,
      .scale_dtype = affine ? MLX_FLOAT32 : MLX_UINT8,
      .s_ld = mlx_array_shape(*sc)[1],
  };
  return mat;
}

static void kernel_case(const qmat* q, bool transpose, mlx_dtype xt, int m, const char* tag) {
  mlx_array wq = mlx_array_new(), sc = mlx_array_new(), bi = mlx_array_new();
  qmm_matrix mat = qmat_view(q, &wq, &sc, &bi);
  bool pad_ok;
  double e = qmm_check_run(&mat, transpose, xt, m, 3, 5, &pad_ok);
  /* every path sums exact products in float32 */
  CHECK_MSG(e <= 2e-6 && pad_ok, "kernel %s %s b%d g%d %s x%d m=%d: rel error %.3g%s", tag,
            q->mode, q->bits, q->group_size, transpose ? "T" : "N", (int)xt, m, e,
            pad_ok ? "" : " (wrote past the row)");
  mlx_array_free(wq);
  mlx_array_free(sc);
  mlx_array_free(bi);
}

static void test_kernels_every_isa(void) {
  const fmt fmts[9] = {{"affine", 4, 64}, {"affine", 8, 64},  {"affine", 4, 32},
                       {"affine", 3, 128}, {"mxfp4", 4, 32}, {"mxfp8", 8, 32},
                       {"nvfp4", 4, 16},   {"affine", 4, 128}, {"affine", 8, 32}};
  cpu_isa_level best = cpu_isa();
  for (int level = CPU_ISA_BASELINE; level <= (int)best; level++) {
    cpu_qmm_set_isa_cap((cpu_isa_level)level);
    const char* tag = cpu_isa_name((cpu_isa_level)level);
    for (int f = 0; f < 9; f++) {
      /* transposed: K = 512 (128-code chunks), K = 320 and 1088 (a
       * multiple of 64 but not of 128; a multiple of 128 plus 64), K =
       * 2176 (17 x 128: the kernels' passes over blocks of K end in a
       * partial block); then not transposed */
      int shapes[5][2] = {{53, 512}, {37, 320}, {9, 1088}, {19, 2176}, {256, 96}};
      for (int sh = 0; sh < 5; sh++) {
        bool tr = sh < 4;
        int ws[2] = {shapes[sh][0], shapes[sh][1]};
        if (!tr) ws[1] = (fmts[f].gs * 3);
        if (ws[1] % fmts[f].gs != 0) continue;
        qmat q = quantize_random(ws, 2, MLX_FLOAT32, fmts[f].mode, fmts[f].gs, fmts[f].bits);
        const int ms[9] = {1, 2, 3, 4, 5, 6, 7, 8, 11};
        const mlx_dtype xts[3] = {MLX_FLOAT32, MLX_BFLOAT16, MLX_FLOAT16};
        for (int mi = 0; mi < 9; mi++) {
          if (sh > 0 && sh < 3 && ms[mi] != 1 && ms[mi] != 6) continue;
          if (sh == 3 && ms[mi] != 1 && ms[mi] != 3 && ms[mi] != 4 && ms[mi] != 7) continue;
          for (int d = 0; d < 3; d++) kernel_case(&q, tr, xts[d], ms[mi], tag);
        }
        qmat_free(&q);
      }
    }
    printf("kernels checked at ISA level %s\n", tag);
  }
  cpu_qmm_set_isa_cap(CPU_ISA_AVX512);
}

/* The streaming kernels' variants (qmm_kernels.h knobs: the vdpbf16ps
 * kernels for bfloat16 x, the AVX2 8-bit kernel, the float32 kernels'
 * experiments) on the transposed shapes above, at the machine's best
 * instruction set. */
static void test_stream_variants(void) {
  const fmt fmts[7] = {{"affine", 4, 64},  {"affine", 8, 64}, {"mxfp4", 4, 32},
                       {"affine", 4, 32},  {"affine", 8, 128}, {"nvfp4", 4, 16},
                       {"affine", 4, 128}};
  const char* tag = cpu_isa_name(cpu_isa());
  for (int v = 0; v < 4; v++) {
    qmm_stream_bf16_dot = v == 0;
    qmm_stream_avx2_8bit = v == 0;
    qmm_stream_variant = 2 * v | (v == 2 ? 8 : 0); /* 8: the VNNI affine kernel by nibbles */
    qmm_stream_vnni_rows = v == 1 || v == 2 ? 8 : 2; /* the VNNI kernels on 3 and 5 rows too */
    qmm_stream_vnni = v != 3;
    for (int f = 0; f < 7; f++) {
      int shapes[3][2] = {{53, 512}, {9, 1088}, {19, 2176}};
      for (int sh = 0; sh < 3; sh++) {
        int ws[2] = {shapes[sh][0], shapes[sh][1]};
        if (ws[1] % fmts[f].gs != 0) continue;
        qmat q = quantize_random(ws, 2, MLX_FLOAT32, fmts[f].mode, fmts[f].gs, fmts[f].bits);
        const int ms[4] = {1, 2, 3, 5};
        const mlx_dtype xts[3] = {MLX_FLOAT32, MLX_BFLOAT16, MLX_FLOAT16};
        for (int mi = 0; mi < 4; mi++)
          for (int d = 0; d < 3; d++) kernel_case(&q, true, xts[d], ms[mi], tag);
        qmat_free(&q);
      }
    }
  }
  qmm_stream_bf16_dot = false;
  qmm_stream_avx2_8bit = false;
  qmm_stream_variant = 0;
  qmm_stream_vnni_rows = 2;
  qmm_stream_vnni = true;
  printf("stream kernel variants checked at ISA level %s\n", tag);
}

/* One row of x of dtype xt through cpu_qmm_run with the VNNI kernels on or
 * off, float32 outputs. */
static void vnni_run(const qmm_matrix* w, const uint16_t* xh, mlx_dtype xt, bool vnni, float* y) {
  qmm_stream_vnni = vnni;
  CHECK_OK(cpu_qmm_run(w, true, xh, xt, w->cols, 1, y, MLX_FLOAT32, w->rows));
  qmm_stream_vnni = true;
}

/* The AVX512_VNNI kernels (one row of bfloat16 / float16 x against 4-bit
 * codes, qmm_avx512.c): x in 24-bit fixed point per lane of 8 values,
 * rounded to within 2^-22 of the lane's largest magnitude m. Lanes here
 * span up to 2^40 (one huge value among ordinary or tiny ones), so values
 * are rounded, and each output must stay within the bound that rounding
 * allows, sum over lanes of 2^-22 m |s| times the largest sum of unsigned
 * operands a lane can meet (4 x 255 + 4 x 15 through the whole byte, 8 x
 * 15 by nibbles, 8 x 12 / 2 for E2M1), plus float32 slack of 2e-6 of
 * sum |x| |w|. The float32 kernels must meet the slack alone. Non-finite x
 * takes the float32 kernels: outputs identical bit for bit. */
static void test_vnni_kernels(void) {
  if (cpu_isa() < CPU_ISA_AVX512 || !cpu_has_avx512_vnni()) {
    printf("SKIP: the AVX512_VNNI kernels (this CPU has no AVX512_VNNI + VBMI)\n");
    return;
  }
  const fmt fmts[5] = {{"affine", 4, 64}, {"affine", 4, 32}, {"affine", 4, 128},
                       {"mxfp4", 4, 32},  {"nvfp4", 4, 16}};
  enum { N = 37, K = 5248 }; /* 41 chunks of 128: the kernel's passes end in a short one */
  uint16_t* xh = malloc(sizeof(uint16_t) * K);
  float* xf = malloc(sizeof(float) * K);
  float *y = malloc(sizeof(float) * N), *yf = malloc(sizeof(float) * N),
        *ref = malloc(sizeof(float) * N), *wrow = malloc(sizeof(float) * K);
  float *s = malloc(sizeof(float) * K), *b = malloc(sizeof(float) * K);
  for (int f = 0; f < 5; f++) {
    bool affine = !strcmp(fmts[f].mode, "affine");
    int ws[2] = {N, K};
    qmat q = quantize_random(ws, 2, MLX_FLOAT32, fmts[f].mode, fmts[f].gs, fmts[f].bits);
    mlx_array wq = mlx_array_new(), sc = mlx_array_new(), bi = mlx_array_new();
    qmm_matrix mat = qmat_view(&q, &wq, &sc, &bi);
    for (int form = 0; form < (affine ? 2 : 1); form++) {
      qmm_stream_variant = form ? 8 : 0;
      double ops = !affine ? 8 * 12 / 2.0 : form ? 8 * 15 : 4 * 255 + 4 * 15;
      for (int d = 0; d < 2; d++) {
        mlx_dtype xt = d ? MLX_FLOAT16 : MLX_BFLOAT16;
        double huge = d ? 0x1p14 : 0x1p20, tiny = d ? 0x1p-14 : 0x1p-20;
        for (int k = 0; k < K; k++) {
          int lane = k / 8, i = k % 8, kind = lane % 4;
          double v = test_rand(-2, 2);
          if ((kind == 1 && i == 3) || (kind == 3 && i == 0)) v = v < 0 ? -huge : huge;
          if ((kind == 2 && i == 5) || (kind == 3 && i != 0)) v *= tiny;
          xh[k] = d ? f32_to_f16((float)v) : f32_to_bf16((float)v);
          xf[k] = d ? f16_to_f32(xh[k]) : bf16_to_f32(xh[k]);
        }
        const qmm_stream_kernel* k = qmm_select_stream_kernel(&mat, xt, 1, true);
        CHECK_MSG(strstr(k->name, "vnni") != NULL, "VNNI kernel not chosen: %s", k->name);
        vnni_run(&mat, xh, xt, true, y);
        vnni_run(&mat, xh, xt, false, yf);
        cpu_qmm_reference(&mat, true, xf, K, 1, ref, N);
        int bad = 0, badf = 0;
        double worst = 0;
        for (int n = 0; n < N; n++) {
          qmm_dequantize_row(&mat, n, 0, K, wrow);
          qmm_load_scales(&mat, n, 0, K / fmts[f].gs, s, affine ? b : NULL);
          double l1 = 0, fixed = 0;
          for (int kk = 0; kk < K; kk++) l1 += fabs((double)xf[kk] * wrow[kk]);
          for (int lane = 0; lane < K / 8; lane++) {
            double m = 0;
            for (int i = 0; i < 8; i++) m = fmax(m, fabs(xf[lane * 8 + i]));
            if (affine && !form) m *= 17.0 / 16; /* |x[2j] - x[2j+1] / 16| */
            fixed += 0x1p-22 * m * fabs(s[lane * 8 / fmts[f].gs]) * ops;
          }
          double e = fabs((double)y[n] - ref[n]), ef = fabs((double)yf[n] - ref[n]);
          bad += !(e <= fixed + 2e-6 * l1);
          badf += !(ef <= 2e-6 * l1);
          if (fixed > 0 && e / (fixed + 2e-6 * l1) > worst) worst = e / (fixed + 2e-6 * l1);
        }
        CHECK_MSG(bad == 0 && badf == 0,
                  "vnni %s g%d form %d x%d: %d outputs past the fixed-point bound (worst %.3g "
                  "of it), %d float32 outputs past 2e-6",
                  fmts[f].mode, fmts[f].gs, form, (int)xt, bad, worst, badf);
        /* inf, then NaN, in x: the float32 kernels, bit for bit */
        for (int t = 0; t < 2; t++) {
          uint16_t keep = xh[100];
          xh[100] = d ? (t ? 0x7e00 : 0x7c00) : (t ? 0x7fc0 : 0x7f80);
          vnni_run(&mat, xh, xt, true, y);
          vnni_run(&mat, xh, xt, false, yf);
          CHECK(memcmp(y, yf, sizeof(float) * N) == 0);
          xh[100] = keep;
        }
      }
    }
    qmm_stream_variant = 0;
    mlx_array_free(wq);
    mlx_array_free(sc);
    mlx_array_free(bi);
    qmat_free(&q);
  }
  free(xh);
  free(xf);
  free(y);
  free(yf);
  free(ref);
  free(wrow);
  free(s);
  free(b);
  printf("VNNI kernels checked\n");
}

/* ------------------------------------------------------------------------
 * 5. gather_qmm and gather_mm
 * ---------------------------------------------------------------------- */

static void test_gather_qmm(void) {
  const fmt fmts[3] = {{"affine", 4, 64}, {"mxfp4", 4, 32}, {"affine", 5, 32}};
  for (int f = 0; f < 3; f++)
    for (int tr = 0; tr < 2; tr++) {
      bool transpose = tr == 0;
      int E = 5, K = 128, N = 64, M = 2;
      int ws[3] = {E, transpose ? N : K, transpose ? K : N};
      qmat q = quantize_random(ws, 3, MLX_FLOAT32, fmts[f].mode, fmts[f].gs, fmts[f].bits);
      int xs[4] = {3, 2, M, K};
      mlx_array x = random_array(xs, 4, MLX_FLOAT32, -1, 1);
      /* lhs [4, 1] and rhs [3] broadcast to [4, 3]; a few out of range */
      int32_t lv[4] = {5, 0, 3, 99}, rv[3] = {4, 1, -1};
      int ls[2] = {4, 1}, rs = 3;
      mlx_array lhs = index_array(lv, ls, 2), rhs = index_array(rv, &rs, 1);
      mlx_array out = mlx_array_new();
      CHECK_OK(mlx_gather_qmm(&out, x, q.wq, q.scales, q.biases, lhs, rhs, transpose,
                              opt_int(fmts[f].gs), opt_int(fmts[f].bits), fmts[f].mode, false,
                              test_stream));
      int want_shape[4] = {4, 3, M, N};
      CHECK(test_shape_is(out, want_shape, 4));
      long rows, cols;
      double* W = dequant_ref(&q, &rows, &cols);
      double* xd = test_to_f64(x);
      double* ref = malloc(sizeof(double) * 12 * (size_t)(M * N));
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
          long li = lv[i] > 5 ? 5 : lv[i];                    /* 6 x batches: clamp to 5 */
          long ri = rv[j] < 0 || rv[j] > E - 1 ? E - 1 : rv[j]; /* -1 is huge as uint32 */
          ref_matmul(xd + li * M * K, M, K, W + ri * (long)(N * K), transpose, N,
                     ref + (i * 3 + j) * (long)(M * N));
        }
      double e = rel_error(out, ref, 12 * (size_t)(M * N));
      CHECK_MSG(e <= 1e-5, "gather_qmm %s %s: relative error %.3g", fmts[f].mode,
                transpose ? "T" : "N", e);
      /* only rhs: MoE decode shape, sorted hint gives the same result */
      int xm[4] = {6, 1, 1, K};
      mlx_array xmoe = random_array(xm, 4, MLX_FLOAT32, -1, 1);
      int32_t tv[12] = {0, 3, 2, 2, 4, 0, 1, 1, 3, 4, 0, 2};
      int ts[2] = {6, 2};
      mlx_array top = index_array(tv, ts, 2);
      mlx_array o1 = mlx_array_new(), o2 = mlx_array_new(), none = mlx_array_new();
      CHECK_OK(mlx_gather_qmm(&o1, xmoe, q.wq, q.scales, q.biases, none, top, transpose,
                              opt_int(fmts[f].gs), opt_int(fmts[f].bits), fmts[f].mode, false,
                              test_stream));
      CHECK_OK(mlx_gather_qmm(&o2, xmoe, q.wq, q.scales, q.biases, none, top, transpose,
                              opt_int(fmts[f].gs), opt_int(fmts[f].bits), fmts[f].mode, true,
                              test_stream));
      int moe_shape[4] = {6, 2, 1, N};
      CHECK(test_shape_is(o1, moe_shape, 4));
      double* xmd = test_to_f64(xmoe);
      double* ref2 = malloc(sizeof(double) * 12 * (size_t)N);
      for (int t = 0; t < 6; t++)
        for (int k = 0; k < 2; k++)
          ref_matmul(xmd + t * K, 1, K, W + tv[t * 2 + k] * (long)(N * K), transpose, N,
                     ref2 + (t * 2 + k) * N);
      CHECK(rel_error(o1, ref2, 12 * (size_t)N) <= 1e-5);
      CHECK(rel_error(o2, ref2, 12 * (size_t)N) <= 1e-5);
      free(W);
      free(xd);
      free(xmd);
      free(ref);
      free(ref2);
      mlx_array arrs[] = {x, lhs, rhs, out, xmoe, top, o1, o2, none};
      for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
      qmat_free(&q);
    }
  /* no indices: exactly quantized_matmul */
  int ws[2] = {16, 64}, xs[2] = {3, 64};
  qmat q = quantize_random(ws, 2, MLX_FLOAT32, "affine", 64, 4);
  mlx_array x = random_array(xs, 2, MLX_FLOAT32, -1, 1);
  mlx_array none = mlx_array_new(), a = mlx_array_new(), b = mlx_array_new();
  CHECK_OK(mlx_gather_qmm(&a, x, q.wq, q.scales, q.biases, none, none, true, no_int, no_int,
                          "affine", false, test_stream));
  CHECK_OK(mlx_quantized_matmul(&b, x, q.wq, q.scales, q.biases, true, no_int, no_int, "affine",
                                test_stream));
  double* bd = test_to_f64(b);
  CHECK(bd && rel_error(a, bd, 48) == 0);
  free(bd);
  /* the no-index form reports with quantized_matmul's tag */
  int bad[2] = {3, 32};
  mlx_array xb = random_array(bad, 2, MLX_FLOAT32, -1, 1);
  EXPECT_ERROR(mlx_gather_qmm(&a, xb, q.wq, q.scales, q.biases, none, none, true, no_int, no_int,
                              "affine", false, test_stream),
               "[quantized_matmul] Last dimension of first input with shape (..., 32) does not "
               "match the expanded quantized matrix (64, 16) computed from shape (16,8) with "
               "group_size=64, bits=4 and transpose=true");
  mlx_array arrs[] = {x, none, a, b, xb};
  for (size_t i = 0; i < 5; i++) mlx_array_free(arrs[i]);
  qmat_free(&q);
}

/* Consecutive items on the same matrix of b (sorted MoE tokens) are
 * stacked into one product: runs, a clamped index joining a run, M = 1 and
 * M = 3, every float dtype, against a double reference. */
static void test_gather_mm_runs(void) {
  const mlx_dtype dts[4] = {MLX_FLOAT32, MLX_FLOAT64, MLX_FLOAT16, MLX_BFLOAT16};
  for (int d = 0; d < 4; d++)
    for (int M = 1; M <= 3; M += 2) {
      enum { ITEMS = 7, K = 24, N = 9, NA = 6, NB = 5 };
      int as[3] = {NA, M, K}, bs[3] = {NB, K, N};
      mlx_array a = random_array(as, 3, dts[d], -1, 1);
      mlx_array b = random_array(bs, 3, dts[d], -1, 1);
      int32_t lv[ITEMS] = {5, 0, 3, 3, 1, 2, 4}, rv[ITEMS] = {1, 1, 1, 3, 3, 7, 4};
      int n = ITEMS;
      mlx_array lhs = index_array(lv, &n, 1), rhs = index_array(rv, &n, 1);
      mlx_array out = mlx_array_new();
      CHECK_OK(mlx_gather_mm(&out, a, b, lhs, rhs, false, test_stream));
      int want_shape[3] = {ITEMS, M, N};
      CHECK(test_shape_is(out, want_shape, 3));
      double* ad = test_to_f64(a);
      double* bd = test_to_f64(b);
      double ref[ITEMS * 3 * N];
      for (int i = 0; ad && bd && i < ITEMS; i++) {
        int ri = rv[i] >= NB ? NB - 1 : rv[i];
        for (int m = 0; m < M; m++)
          for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
              acc += ad[(lv[i] * M + m) * K + k] * bd[(ri * K + k) * N + j];
            ref[(i * M + m) * N + j] = acc;
          }
      }
      double e = rel_error(out, ref, (size_t)ITEMS * M * N);
      CHECK_MSG(e <= tolerance(dts[d]), "gather_mm runs dtype %d M %d: %.3g", (int)dts[d], M,
                e);
      free(ad);
      free(bd);
      mlx_array arrs[] = {a, b, lhs, rhs, out};
      for (size_t i = 0; i < 5; i++) mlx_array_free(arrs[i]);
    }
}

static void test_gather_mm(void) {
  const mlx_dtype dts[4] = {MLX_FLOAT32, MLX_FLOAT64, MLX_FLOAT16, MLX_BFLOAT16};
  for (int d = 0; d < 4; d++) {
    int as[3] = {3, 4, 16}, bs_t[3] = {5, 8, 16};
    mlx_array a = random_array(as, 3, dts[d], -1, 1);
    /* b as a transposed view: [5, 16, 8] */
    mlx_array bt = random_array(bs_t, 3, dts[d], -1, 1), b = mlx_array_new();
    int perm[3] = {0, 2, 1};
    CHECK_OK(mlx_transpose_axes(&b, bt, perm, 3, test_stream));
    int32_t lv[2] = {2, 0}, rv[3] = {4, 1, 7};
    int ls[2] = {2, 1}, rs = 3;
    mlx_array lhs = index_array(lv, ls, 2), rhs = index_array(rv, &rs, 1);
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_gather_mm(&out, a, b, lhs, rhs, false, test_stream));
    int want_shape[4] = {2, 3, 4, 8};
    CHECK(test_shape_is(out, want_shape, 4));
    CHECK(mlx_array_dtype(out) == dts[d]);
    double* ad = test_to_f64(a);
    double* bd = test_to_f64(b);
    double ref[6 * 32];
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++) {
        int ri = rv[j] > 4 ? 4 : rv[j];
        for (int m = 0; m < 4; m++)
          for (int n = 0; n < 8; n++) {
            double acc = 0;
            for (int k = 0; k < 16; k++)
              acc += ad[lv[i] * 64 + m * 16 + k] * bd[ri * 128 + k * 8 + n];
            ref[(i * 3 + j) * 32 + m * 8 + n] = acc;
          }
      }
    double e = rel_error(out, ref, 6 * 32);
    CHECK_MSG(e <= tolerance(dts[d]), "gather_mm dtype %d: %.3g", (int)dts[d], e);
    free(ad);
    free(bd);
    mlx_array arrs[] = {a, bt, b, lhs, rhs, out};
    for (size_t i = 0; i < 6; i++) mlx_array_free(arrs[i]);
  }
  /* 1-D operands lose their unit axes; no indices is matmul */
  int as[2] = {16}, bs[3] = {3, 16, 5};
  mlx_array a = random_array(as, 1, MLX_FLOAT32, -1, 1);
  mlx_array b = random_array(bs, 3, MLX_FLOAT32, -1, 1);
  int32_t rv[2] = {2, 0};
  int rs = 2;
  mlx_array rhs = index_array(rv, &rs, 1), none = mlx_array_new(), out = mlx_array_new();
  CHECK_OK(mlx_gather_mm(&out, a, b, none, rhs, false, test_stream));
  int want1[2] = {2, 5};
  CHECK(test_shape_is(out, want1, 2));
  CHECK_OK(mlx_gather_mm(&out, a, b, none, none, false, test_stream));
  int want2[2] = {3, 5};
  CHECK(test_shape_is(out, want2, 2));
  /* errors */
  mlx_array s0 = mlx_array_new_float32(1.0f);
  EXPECT_ERROR(mlx_gather_mm(&out, s0, b, none, rhs, false, test_stream),
               "[gather_mm] Got 0 dimension input. Inputs must have at least one dimension.");
  int bad[2] = {3, 7};
  mlx_array ab = random_array(bad, 2, MLX_FLOAT32, -1, 1);
  EXPECT_ERROR(mlx_gather_mm(&out, ab, b, none, rhs, false, test_stream),
               "[gather_mm] Last dimension of first input with shape (3,7) must match second to "
               "last dimension of second input with shape (3,16,5).");
  int is[2] = {3, 16};
  mlx_array ai = random_array(is, 2, MLX_INT32, -3, 3);
  mlx_array bi = random_array(bs, 3, MLX_INT32, -3, 3);
  EXPECT_ERROR(mlx_gather_mm(&out, ai, bi, none, rhs, false, test_stream),
               "[gather_mm] Only real floating point types are supported but int32 and int32 "
               "were provided which results in int32, which is not a real floating point type.");
  mlx_array fi = random_array(&rs, 1, MLX_FLOAT32, 0, 1);
  EXPECT_ERROR(mlx_gather_mm(&out, a, b, none, fi, false, test_stream),
               "[gather_mm] Got indices with invalid dtype. Indices must be integral.");
  int32_t r3[3] = {0, 1, 2};
  int three = 3;
  mlx_array rhs3 = index_array(r3, &three, 1);
  int32_t l2[2] = {0, 0};
  int lshape = 2;
  int a3s[3] = {2, 4, 16};
  mlx_array a3 = random_array(a3s, 3, MLX_FLOAT32, -1, 1);
  mlx_array lhs2 = index_array(l2, &lshape, 1);
  EXPECT_ERROR(mlx_gather_mm(&out, a3, b, lhs2, rhs3, false, test_stream),
               "[broadcast_shapes] Shapes (2) and (3) cannot be broadcast.");
  mlx_array arrs[] = {a, b, rhs, none, out, s0, ab, ai, bi, fi, rhs3, a3, lhs2};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
}

/* ------------------------------------------------------------------------
 * 6. qqmm
 * ---------------------------------------------------------------------- */

/* MLX's CPU fp_quantize_dequantize, written again from its definition. */
static void ref_qdq(double* v, int K, int gs, int bits, mlx_dtype t) {
  for (int g = 0; g < K; g += gs) {
    float amax = -INFINITY;
    for (int j = 0; j < gs; j++)
      if (fabsf((float)v[g + j]) > amax) amax = fabsf((float)v[g + j]);
    float scale = amax / (bits == 4 ? 6.0f : 448.0f);
    if (gs == 16) {
      /* nearest E4M3 value, ties to the even code */
      float best = 0;
      int best_code = 0;
      for (int c = 0; c < 0x7F; c++) {
        float cand = e4m3_value((unsigned)c);
        float d = fabsf(cand - scale), bd = fabsf(best - scale);
        if (d < bd || (d == bd && (c & 1) == 0 && (best_code & 1))) {
          best = cand;
          best_code = c;
        }
      }
      scale = scale >= 464.0f ? 448.0f : best;
    } else {
      int n = scale == 0 ? -127 : (int)roundf(log2f(scale));
      n = n < -127 ? -127 : n > 127 ? 127 : n;
      scale = e8m0_value((unsigned)(n + 127));
    }
    for (int j = 0; j < gs; j++) {
      float el = scale == 0 ? 0 : (float)v[g + j] / scale;
      float q;
      if (bits == 8) {
        float a = fabsf(el), best = 0;
        int best_code = 0;
        for (int c = 0; c < 0x7F; c++) {
          float cand = e4m3_value((unsigned)c), d = fabsf(cand - a), bd = fabsf(best - a);
          if (d < bd || (d == bd && (c & 1) == 0 && (best_code & 1))) {
            best = cand;
            best_code = c;
          }
        }
        q = a >= 464.0f ? 448.0f : best;
        q = el < 0 ? -q : q;
      } else {
        /* nearest of 0 .. 6, ties to the even mantissa (thresholds) */
        float a = fabsf(el);
        q = a > 5 ? 6 : a >= 3.5f ? 4 : a > 2.5f ? 3 : a >= 1.75f ? 2 : a > 1.25f ? 1.5f
            : a >= 0.75f ? 1 : a > 0.25f ? 0.5f : 0;
        q = signbit(el) ? -q : q;
      }
      float r = scale * q;
      if (t == MLX_FLOAT16) r = f16_to_f32(f32_to_f16(r));
      if (t == MLX_BFLOAT16) r = bf16_to_f32(f32_to_bf16(r));
      v[g + j] = r;
    }
  }
}

static void test_qqmm(void) {
  const fmt fmts[3] = {{"mxfp4", 4, 32}, {"nvfp4", 4, 16}, {"mxfp8", 8, 32}};
  const mlx_dtype dts[3] = {MLX_FLOAT32, MLX_BFLOAT16, MLX_FLOAT16};
  mlx_array none = mlx_array_new();
  for (int f = 0; f < 3; f++)
    for (int d = 0; d < 3; d++) {
      int K = 256, N = 40;
      int ws[2] = {N, K}, xs[2] = {1, K};
      qmat q = quantize_random(ws, 2, MLX_FLOAT32, fmts[f].mode, fmts[f].gs, fmts[f].bits);
      mlx_array x = random_array(xs, 2, dts[d], -3, 3);
      mlx_array out = mlx_array_new();
      CHECK_OK(mlx_qqmm(&out, x, q.wq, q.scales, no_int, no_int, fmts[f].mode, none, none,
                        test_stream));
      CHECK(mlx_array_dtype(out) == dts[d]);
      long rows, cols;
      double* W = dequant_ref(&q, &rows, &cols);
      double* xd = test_to_f64(x);
      ref_qdq(xd, K, fmts[f].gs, fmts[f].bits, dts[d]);
      double ref[40];
      ref_matmul(xd, 1, K, W, true, N, ref);
      double e = rel_error(out, ref, (size_t)N);
      CHECK_MSG(e <= tolerance(dts[d]), "qqmm %s dtype %d: %.3g", fmts[f].mode, (int)dts[d], e);
      /* 1-D x gives [N] */
      mlx_array xv = mlx_array_new();
      CHECK_OK(mlx_reshape(&xv, x, &K, 1, test_stream));
      CHECK_OK(mlx_qqmm(&out, xv, q.wq, q.scales, no_int, no_int, fmts[f].mode, none, none,
                        test_stream));
      CHECK(mlx_array_ndim(out) == 1 && rel_error(out, ref, (size_t)N) <= tolerance(dts[d]));
      free(W);
      free(xd);
      mlx_array_free(xv);
      mlx_array_free(out);
      mlx_array_free(x);
      qmat_free(&q);
    }

  /* nvfp4 with global scales: w decodes times global_scale_w / 2688; x is
   * quantized with global_scale_x (2688 makes that the plain encoding) */
  int ws[2] = {24, 64}, xs[2] = {1, 64};
  mlx_array w = random_array(ws, 2, MLX_FLOAT32, -1, 1);
  mlx_array gsw = mlx_array_new_float32(2.5f), gsx = mlx_array_new_float32(2688.0f);
  mlx_vector_array r = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&r, w, no_int, no_int, "nvfp4", gsw, test_stream));
  mlx_array wq = vec_at(r, 0), sc = vec_at(r, 1);
  mlx_array x = random_array(xs, 2, MLX_FLOAT32, -1, 1);
  mlx_array out = mlx_array_new();
  CHECK_OK(mlx_qqmm(&out, x, wq, sc, no_int, no_int, "nvfp4", gsx, gsw, test_stream));
  mlx_array wd = mlx_array_new();
  mlx_optional_dtype f32 = {MLX_FLOAT32, true};
  CHECK_OK(mlx_dequantize(&wd, wq, sc, none, no_int, no_int, "nvfp4", gsw, f32, test_stream));
  double* W = test_to_f64(wd);
  double* xd = test_to_f64(x);
  ref_qdq(xd, 64, 16, 4, MLX_FLOAT32);
  double ref[24];
  ref_matmul(xd, 1, 64, W, true, 24, ref);
  CHECK_MSG(rel_error(out, ref, 24) <= 1e-5, "qqmm nvfp4 global scales: %.3g",
            rel_error(out, ref, 24));
  free(W);
  free(xd);

  /* errors */
  int x2s[2] = {2, 64};
  mlx_array x2 = random_array(x2s, 2, MLX_FLOAT32, -1, 1);
  EXPECT_ERROR(mlx_qqmm(&out, x2, wq, sc, no_int, no_int, "nvfp4", none, none, test_stream) ||
                   mlx_array_eval(out),
               "[QQMatmul] NYI for the general case");
  EXPECT_ERROR(mlx_qqmm(&out, x, w, none, no_int, no_int, "nvfp4", none, none, test_stream) ||
                   mlx_array_eval(out),
               "[QQMatmul] NYI for the general case");
  EXPECT_ERROR(mlx_qqmm(&out, x, wq, none, no_int, no_int, "nvfp4", none, none, test_stream),
               "[qqmm] Scales must be provided if second argument is quantized.");
  EXPECT_ERROR(mlx_qqmm(&out, x, wq, sc, no_int, no_int, "nvfp4", gsx, none, test_stream),
               "[qqmm] For nvfp4 mode, either both global_scale_x and global_scale_w must be "
               "provided, or neither.");
  qmat qf = quantize_random(ws, 2, MLX_FLOAT32, "mxfp4", 32, 4);
  EXPECT_ERROR(mlx_qqmm(&out, x, qf.wq, qf.scales, no_int, no_int, "mxfp4", gsx, gsw, test_stream),
               "[qqmm] Global scale is only supported for 'nvfp4' quantization mode.");
  qmat_free(&qf);
  EXPECT_ERROR(mlx_qqmm(&out, x, wq, sc, no_int, no_int, "fp3", none, none, test_stream),
               "[qqmm] Invalid quantization mode 'fp3'.");
  int x3s[3] = {2, 1, 64};
  mlx_array x3 = random_array(x3s, 3, MLX_FLOAT32, -1, 1);
  int w3s[3] = {1, 24, 8};
  mlx_array w3 = mlx_array_new();
  CHECK_OK(mlx_zeros(&w3, w3s, 3, MLX_UINT32, test_stream));
  EXPECT_ERROR(mlx_qqmm(&out, x3, w3, sc, no_int, no_int, "nvfp4", none, none, test_stream),
               "[qqmm] Only 2D inputs are supported but x.ndim() == 3 and w.ndim() == 3.");
  mlx_array x64 = random_array(xs, 2, MLX_FLOAT64, -1, 1);
  EXPECT_ERROR(mlx_qqmm(&out, x64, wq, sc, no_int, no_int, "nvfp4", none, none, test_stream),
               "[qqmm] Only real floating types except float64 are supported but first "
               "argument dtype == float64.");
  mlx_array wi = random_array(ws, 2, MLX_INT32, -1, 1);
  EXPECT_ERROR(mlx_qqmm(&out, x, wi, none, no_int, no_int, "nvfp4", none, none, test_stream),
               "[qqmm] Only real floating types except float64 are supported but second "
               "argument dtype == int32.");
  int x5s[2] = {1, 32};
  mlx_array x5 = random_array(x5s, 2, MLX_FLOAT32, -1, 1);
  EXPECT_ERROR(mlx_qqmm(&out, x5, w, none, no_int, no_int, "nvfp4", none, none, test_stream),
               "[qqmm] Last dimension of first input with shape (1,32) must match last "
               "dimension of second input with shape (24,64).");
  qmat qa = quantize_random(ws, 2, MLX_FLOAT32, "affine", 64, 4);
  EXPECT_ERROR(mlx_qqmm(&out, x, qa.wq, qa.scales, no_int, no_int, "affine", none, none,
                        test_stream),
               "[qqmm] Only the 'nvfp4', 'mxfp8' and 'mxfp4' modes can quantize the input but "
               "got 'affine'.");
  /* x of more axes with a 2-D w is flattened and unflattened */
  int x4s[3] = {1, 1, 64};
  mlx_array x4 = random_array(x4s, 3, MLX_FLOAT32, -1, 1);
  CHECK_OK(mlx_qqmm(&out, x4, wq, sc, no_int, no_int, "nvfp4", none, none, test_stream));
  int want[3] = {1, 1, 24};
  CHECK(test_shape_is(out, want, 3));
  mlx_vector_array_free(r);
  mlx_array arrs[] = {none, w, gsw, gsx, wq, sc, x, out, wd, x2, x3, w3, x64, wi, x5, x4};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
  qmat_free(&qa);
}

/* ------------------------------------------------------------------------
 * 7. Validation and eval-time errors
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

/* ------------------------------------------------------------------------
 * 8. Conversions the kernels use instead of core/half.h's
 * ---------------------------------------------------------------------- */

static void test_conversions(void) {
  int bad = 0;
  for (int h = 0; h < 65536; h++) {
    float a = qmm_f16_to_f32((uint16_t)h), b = f16_to_f32((uint16_t)h);
    bad += memcmp(&a, &b, 4) != 0;
  }
  CHECK_MSG(bad == 0, "%d float16 codes convert differently", bad);
  bad = 0;
  for (int c = 0; c < 256; c++) {
    float a = qmm_e8m0_to_f32((uint8_t)c), b = quant_e8m0_value((uint8_t)c);
    bad += memcmp(&a, &b, 4) != 0;
  }
  CHECK_MSG(bad == 0, "%d E8M0 codes convert differently", bad);
}

int main(void) {
  test_init();
  test_conversions();
  test_oracle();
  test_random_formats();
  test_random_large();
  test_output_dtypes();
  test_batches();
  test_layouts();
  test_empty();
  test_kernels_every_isa();
  test_stream_variants();
  test_vnni_kernels();
  test_gather_qmm();
  test_gather_mm();
  test_gather_mm_runs();
  test_qqmm();
  test_errors();
  return test_finish("test_qmm");
}
