/* test_nn.c - the layers of cmlx/nn.h against the ops they are made of:
 * Linear / QuantizedLinear (to_quantized, every mode, nvfp4 global scale,
 * expert banks through gather), Embedding / QuantizedEmbedding (as_linear),
 * RMSNorm, and their argument errors. */
#include <stdlib.h>

#include "cmlx/nn.h"
#include "harness.h"

static mlx_stream S;

static mlx_array rand_f32(const int* shape, int ndim, double scale) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  float* d = malloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = (float)test_rand(-scale, scale);
  mlx_array a = test_array_f32(d, shape, ndim);
  free(d);
  return a;
}

/* max |a - b| (inf on a size mismatch) */
static double max_diff(mlx_array a, mlx_array b) {
  if (mlx_array_size(a) != mlx_array_size(b)) return INFINITY;
  double* x = test_to_f64(a);
  double* y = test_to_f64(b);
  double m = 0;
  for (size_t i = 0; x && y && i < mlx_array_size(a); i++) {
    double d = fabs(x[i] - y[i]);
    if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
  }
  free(x);
  free(y);
  return m;
}

static double max_abs(mlx_array a) {
  double* x = test_to_f64(a);
  double m = 0;
  for (size_t i = 0; x && i < mlx_array_size(a); i++)
    if (fabs(x[i]) > m) m = fabs(x[i]);
  free(x);
  return m;
}

static mlx_optional_int oi(int v) { return (mlx_optional_int){v, true}; }

static void test_spec(void) {
  cmlx_quant_spec s = {0, 0, NULL};
  CHECK_OK(cmlx_quant_spec_resolve(&s));
  CHECK(s.group_size == 64 && s.bits == 4 && strcmp(s.mode, "affine") == 0);
  const char* modes[4] = {"affine", "mxfp4", "mxfp8", "nvfp4"};
  int want[4][2] = {{64, 4}, {32, 4}, {32, 8}, {16, 4}};
  for (int i = 0; i < 4; i++) {
    char copy[16];
    strcpy(copy, modes[i]); /* the spec ends up with the static string */
    s = (cmlx_quant_spec){0, 0, copy};
    CHECK_OK(cmlx_quant_spec_resolve(&s));
    CHECK(s.group_size == want[i][0] && s.bits == want[i][1] &&
          s.mode != copy && strcmp(s.mode, modes[i]) == 0);
  }
  s = (cmlx_quant_spec){32, 8, "affine"};
  CHECK_OK(cmlx_quant_spec_resolve(&s));
  CHECK(s.group_size == 32 && s.bits == 8);
  s = (cmlx_quant_spec){0, 0, "fp3"};
  EXPECT_ERROR(cmlx_quant_spec_resolve(&s),
               "[quantize] Invalid quantization mode 'fp3'.");
}

static void test_linear_float(void) {
  mlx_array w = rand_f32((int[]){48, 64}, 2, 1.0);
  mlx_array b = rand_f32((int[]){48}, 1, 1.0);
  mlx_array x = rand_f32((int[]){2, 3, 64}, 3, 1.0);
  cmlx_linear l = cmlx_linear_empty();
  CHECK_OK(cmlx_linear_init(&l, w, b));
  CHECK(l.in_features == 64 && l.out_features == 48 && !l.quantized);
  CHECK(cmlx_linear_nbytes(&l) == (48 * 64 + 48) * 4);
  mlx_array y = mlx_array_new(), r = mlx_array_new(), wt = mlx_array_new();
  CHECK_OK(cmlx_linear_apply(&y, &l, x, S));
  CHECK_OK(mlx_transpose(&wt, w, S));
  CHECK_OK(mlx_matmul(&r, x, wt, S));
  CHECK_OK(mlx_add(&r, r, b, S));
  CHECK(test_shape_is(y, (int[]){2, 3, 48}, 3));
  CHECK(max_diff(y, r) == 0);
  /* no bias */
  cmlx_linear nb = cmlx_linear_empty();
  CHECK_OK(cmlx_linear_init(&nb, w, mlx_array_new()));
  CHECK_OK(cmlx_linear_apply(&y, &nb, x, S));
  CHECK_OK(mlx_matmul(&r, x, wt, S));
  CHECK(max_diff(y, r) == 0);
  /* errors */
  mlx_array bad = rand_f32((int[]){47}, 1, 1.0);
  EXPECT_ERROR(cmlx_linear_init(&nb, w, bad),
               "[Linear] Bias of shape (47) does not match 48 outputs.");
  EXPECT_ERROR(cmlx_linear_init(&nb, b, mlx_array_new()),
               "[Linear] The weight must be an array of at least 2 "
               "dimensions.");
  cmlx_linear empty = cmlx_linear_empty();
  EXPECT_ERROR(cmlx_linear_apply(&y, &empty, x, S),
               "[Linear] The layer has no weight.");
  mlx_array* all[] = {&w, &b, &x, &y, &r, &wt, &bad};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) mlx_array_free(*all[i]);
  cmlx_linear_free(&l);
  cmlx_linear_free(&nb);
}

/* to_quantized in each mode: the layer equals quantized_matmul on
 * mlx_quantize's output, exactly, and is close to the float layer. */
static void test_linear_quantized(const char* mode, int gs, int bits,
                                  double tol) {
  mlx_array w = rand_f32((int[]){40, 128}, 2, 1.0);
  mlx_array b = rand_f32((int[]){40}, 1, 1.0);
  mlx_array x = rand_f32((int[]){5, 128}, 2, 1.0);
  cmlx_linear l = cmlx_linear_empty();
  CHECK_OK(cmlx_linear_init(&l, w, b));
  mlx_array yf = mlx_array_new();
  CHECK_OK(cmlx_linear_apply(&yf, &l, x, S));
  cmlx_quant_spec spec = {gs, bits, mode};
  CHECK_OK(cmlx_linear_to_quantized(&l, spec, S));
  CHECK(l.quantized && l.quant.group_size == gs && l.quant.bits == bits &&
        strcmp(l.quant.mode, mode) == 0);
  CHECK(l.in_features == 128 && l.out_features == 40);
  CHECK(mlx_array_dtype(l.weight) == MLX_UINT32 &&
        test_shape_is(l.weight, (int[]){40, 128 * bits / 32}, 2));
  CHECK(test_shape_is(l.scales, (int[]){40, 128 / gs}, 2));
  bool affine = strcmp(mode, "affine") == 0;
  CHECK(affine ? l.biases.ctx != NULL : l.biases.ctx == NULL);
  CHECK(l.bias.ctx != NULL);

  mlx_vector_array parts = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&parts, w, oi(gs), oi(bits), mode, mlx_array_new(),
                        S));
  mlx_array wq = mlx_array_new(), sc = mlx_array_new(), bi = mlx_array_new();
  mlx_vector_array_get(&wq, parts, 0);
  mlx_vector_array_get(&sc, parts, 1);
  if (affine) mlx_vector_array_get(&bi, parts, 2);
  CHECK(max_diff(wq, l.weight) == 0 && max_diff(sc, l.scales) == 0);
  mlx_array y = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(cmlx_linear_apply(&y, &l, x, S));
  CHECK_OK(mlx_quantized_matmul(&r, x, wq, sc, bi, true, oi(gs), oi(bits),
                                mode, S));
  CHECK_OK(mlx_add(&r, r, b, S));
  CHECK(max_diff(y, r) == 0);
  double e = max_diff(y, yf) / max_abs(yf);
  CHECK_MSG(e < tol, "%s %d-bit: relative error %g", mode, bits, e);

  /* the same parts through init_quantized */
  cmlx_linear q = cmlx_linear_empty();
  CHECK_OK(cmlx_linear_init_quantized(&q, wq, sc, bi, mlx_array_new(), b, 128,
                                      spec));
  CHECK_OK(cmlx_linear_apply(&r, &q, x, S));
  CHECK(max_diff(y, r) == 0);
  CHECK(cmlx_linear_nbytes(&q) == cmlx_linear_nbytes(&l));
  EXPECT_ERROR(cmlx_linear_to_quantized(&q, spec, S),
               "[to_quantized] The layer is already quantized.");
  mlx_array* all[] = {&w, &b, &x, &yf, &wq, &sc, &bi, &y, &r};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (all[i]->ctx) mlx_array_free(*all[i]);
  mlx_vector_array_free(parts);
  cmlx_linear_free(&l);
  cmlx_linear_free(&q);
}

static void test_quantized_errors(void) {
  mlx_array w = rand_f32((int[]){8, 96}, 2, 1.0);
  cmlx_linear l = cmlx_linear_empty();
  CHECK_OK(cmlx_linear_init(&l, w, mlx_array_new()));
  EXPECT_ERROR(cmlx_linear_to_quantized(&l, (cmlx_quant_spec){64, 4, NULL}, S),
               "[to_quantized] Input size 96 is not a multiple of the group "
               "size 64.");
  EXPECT_ERROR(cmlx_linear_to_quantized(&l, (cmlx_quant_spec){0, 0, "int4"},
                                        S),
               "[quantize] Invalid quantization mode 'int4'.");
  CHECK(!l.quantized && mlx_array_dtype(l.weight) == MLX_FLOAT32);

  mlx_vector_array parts = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&parts, w, oi(32), oi(4), "affine", mlx_array_new(),
                        S));
  mlx_array wq = mlx_array_new(), sc = mlx_array_new(), bi = mlx_array_new();
  mlx_vector_array_get(&wq, parts, 0);
  mlx_vector_array_get(&sc, parts, 1);
  mlx_vector_array_get(&bi, parts, 2);
  cmlx_linear q = cmlx_linear_empty();
  cmlx_quant_spec a32 = {32, 4, "affine"};
  EXPECT_ERROR(cmlx_linear_init_quantized(&q, wq, sc, mlx_array_new(),
                                          mlx_array_new(), mlx_array_new(), 96,
                                          a32),
               "[QuantizedLinear] An affine quantized layer needs biases.");
  EXPECT_ERROR(cmlx_linear_init_quantized(&q, wq, sc, bi, mlx_array_new(),
                                          mlx_array_new(), 96,
                                          (cmlx_quant_spec){32, 4, "mxfp4"}),
               "[QuantizedLinear] A 'mxfp4' quantized layer has no biases.");
  EXPECT_ERROR(cmlx_linear_init_quantized(&q, wq, sc, bi, mlx_array_new(),
                                          mlx_array_new(), 96,
                                          (cmlx_quant_spec){32, 8, "affine"}),
               "[QuantizedLinear] Quantized weight (8,12) and scales (8,3) do "
               "not match input size 96 with group size 32 and 8 bits.");
  mlx_array g = mlx_array_new_float32(1.0f);
  EXPECT_ERROR(cmlx_linear_init_quantized(&q, wq, sc, bi, g, mlx_array_new(),
                                          96, a32),
               "[QuantizedLinear] Global scale is only supported for 'nvfp4' "
               "quantization mode.");
  EXPECT_ERROR(cmlx_linear_init_quantized(&q, w, sc, bi, mlx_array_new(),
                                          mlx_array_new(), 96, a32),
               "[QuantizedLinear] A quantized weight must be uint32.");
  CHECK_OK(cmlx_linear_init_quantized(&q, wq, sc, bi, mlx_array_new(),
                                      mlx_array_new(), 96, a32));
  mlx_array* all[] = {&w, &wq, &sc, &bi, &g};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) mlx_array_free(*all[i]);
  mlx_vector_array_free(parts);
  cmlx_linear_free(&l);
  cmlx_linear_free(&q);
}

/* nvfp4 with a global scale: the layer equals the matmul with the weights
 * dequantized with that scale. */
static void test_nvfp4_global_scale(void) {
  mlx_array w = rand_f32((int[]){24, 64}, 2, 3.0);
  mlx_array x = rand_f32((int[]){4, 64}, 2, 1.0);
  mlx_array gs = mlx_array_new(), wt = mlx_array_new();
  CHECK_OK(mlx_abs(&gs, w, S));
  CHECK_OK(mlx_max(&gs, gs, false, S));
  mlx_vector_array parts = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&parts, w, oi(16), oi(4), "nvfp4", gs, S));
  mlx_array wq = mlx_array_new(), sc = mlx_array_new();
  mlx_vector_array_get(&wq, parts, 0);
  mlx_vector_array_get(&sc, parts, 1);
  cmlx_linear l = cmlx_linear_empty();
  CHECK_OK(cmlx_linear_init_quantized(&l, wq, sc, mlx_array_new(), gs,
                                      mlx_array_new(), 64,
                                      (cmlx_quant_spec){0, 0, "nvfp4"}));
  mlx_array y = mlx_array_new(), dq = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(cmlx_linear_apply(&y, &l, x, S));
  CHECK_OK(mlx_dequantize(&dq, wq, sc, mlx_array_new(), oi(16), oi(4),
                          "nvfp4", gs, (mlx_optional_dtype){MLX_FLOAT32, true},
                          S));
  CHECK_OK(mlx_transpose(&wt, dq, S));
  CHECK_OK(mlx_matmul(&r, x, wt, S));
  double e = max_diff(y, r) / max_abs(r);
  CHECK_MSG(e < 1e-5, "nvfp4 global scale: %g", e);
  CHECK(mlx_array_dtype(y) == MLX_FLOAT32);
  mlx_array* all[] = {&w, &x, &gs, &wt, &wq, &sc, &y, &dq, &r};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) mlx_array_free(*all[i]);
  mlx_vector_array_free(parts);
  cmlx_linear_free(&l);
}

/* Expert banks: gather_apply picks each row's expert. */
static void test_gather(bool quantized) {
  int E = 3, out = 16, in = 64;
  mlx_array w = rand_f32((int[]){E, out, in}, 3, 1.0);
  mlx_array b = rand_f32((int[]){E, out}, 2, 1.0);
  mlx_array x = rand_f32((int[]){4, 1, 1, in}, 4, 1.0);
  int32_t idx_data[8] = {2, 0, 1, 1, 0, 2, 2, 2};
  mlx_array idx = test_array_i32(idx_data, (int[]){4, 2}, 2);
  cmlx_linear l = cmlx_linear_empty();
  CHECK_OK(cmlx_linear_init(&l, w, b));
  if (quantized)
    CHECK_OK(cmlx_linear_to_quantized(&l, (cmlx_quant_spec){32, 4, "mxfp4"},
                                      S));
  mlx_array y = mlx_array_new();
  CHECK_OK(cmlx_linear_gather_apply(&y, &l, x, idx, false, S));
  CHECK(test_shape_is(y, (int[]){4, 2, 1, out}, 4));
  /* reference: each expert as its own layer */
  double* got = test_to_f64(y);
  for (int e = 0; e < E; e++) {
    cmlx_linear one = cmlx_linear_empty();
    mlx_array we = mlx_array_new(), be = mlx_array_new(), r = mlx_array_new();
    mlx_array ie = mlx_array_new_int(e);
    CHECK_OK(mlx_take_axis(&we, w, ie, 0, S));
    CHECK_OK(mlx_take_axis(&be, b, ie, 0, S));
    CHECK_OK(cmlx_linear_init(&one, we, be));
    if (quantized)
      CHECK_OK(cmlx_linear_to_quantized(&one,
                                        (cmlx_quant_spec){32, 4, "mxfp4"}, S));
    CHECK_OK(cmlx_linear_apply(&r, &one, x, S)); /* [4, 1, 1, out] */
    double* ref = test_to_f64(r);
    for (int t = 0; got && ref && t < 4; t++)
      for (int k = 0; k < 2; k++) {
        if (idx_data[t * 2 + k] != e) continue;
        double md = 0;
        for (int o = 0; o < out; o++)
          md = fmax(md, fabs(got[(t * 2 + k) * out + o] - ref[t * out + o]));
        CHECK_MSG(md < 1e-4, "row %d slot %d expert %d: %g", t, k, e, md);
      }
    free(ref);
    mlx_array_free(we);
    mlx_array_free(be);
    mlx_array_free(r);
    mlx_array_free(ie);
    cmlx_linear_free(&one);
  }
  free(got);
  mlx_array* all[] = {&w, &b, &x, &idx, &y};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) mlx_array_free(*all[i]);
  cmlx_linear_free(&l);
  cmlx_linear two = cmlx_linear_empty();
  mlx_array w2 = rand_f32((int[]){4, 8}, 2, 1.0);
  CHECK_OK(cmlx_linear_init(&two, w2, mlx_array_new()));
  mlx_array r2 = mlx_array_new();
  EXPECT_ERROR(cmlx_linear_gather_apply(&r2, &two, w2, w2, false, S),
               "[SwitchLinear] The layer needs a weight of shape [E, out, "
               "in].");
  mlx_array_free(w2);
  mlx_array_free(r2);
  cmlx_linear_free(&two);
}

static void test_embedding(const char* mode, int gs, int bits) {
  mlx_array w = rand_f32((int[]){50, 64}, 2, 1.0);
  int32_t ids_data[6] = {3, 49, 0, 3, 17, 8};
  mlx_array ids = test_array_i32(ids_data, (int[]){2, 3}, 2);
  cmlx_embedding e = cmlx_embedding_empty();
  CHECK_OK(cmlx_embedding_init(&e, w));
  CHECK(e.num_embeddings == 50 && e.dims == 64 && e.dtype == MLX_FLOAT32);
  mlx_array y = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(cmlx_embedding_apply(&y, &e, ids, S));
  CHECK_OK(mlx_take_axis(&r, w, ids, 0, S));
  CHECK(test_shape_is(y, (int[]){2, 3, 64}, 3) && max_diff(y, r) == 0);
  /* as_linear: x W^T */
  mlx_array x = rand_f32((int[]){3, 64}, 2, 1.0), wt = mlx_array_new();
  CHECK_OK(cmlx_embedding_as_linear(&y, &e, x, S));
  CHECK_OK(mlx_transpose(&wt, w, S));
  CHECK_OK(mlx_matmul(&r, x, wt, S));
  CHECK(test_shape_is(y, (int[]){3, 50}, 2) && max_diff(y, r) == 0);

  /* quantized: rows are the dequantized table's rows; as_linear is the
   * quantized matmul */
  CHECK_OK(cmlx_embedding_to_quantized(&e, (cmlx_quant_spec){gs, bits, mode},
                                       S));
  CHECK(e.quantized && e.dtype == MLX_FLOAT32);
  mlx_array dq = mlx_array_new();
  CHECK_OK(mlx_dequantize(&dq, e.weight, e.scales, e.biases, oi(gs), oi(bits),
                          mode, mlx_array_new(),
                          (mlx_optional_dtype){MLX_FLOAT32, true}, S));
  CHECK_OK(cmlx_embedding_apply(&y, &e, ids, S));
  CHECK_OK(mlx_take_axis(&r, dq, ids, 0, S));
  CHECK(test_shape_is(y, (int[]){2, 3, 64}, 3) && max_diff(y, r) == 0);
  CHECK_OK(cmlx_embedding_as_linear(&y, &e, x, S));
  CHECK_OK(mlx_quantized_matmul(&r, x, e.weight, e.scales, e.biases, true,
                                oi(gs), oi(bits), mode, S));
  CHECK(max_diff(y, r) == 0);
  EXPECT_ERROR(cmlx_embedding_to_quantized(&e, (cmlx_quant_spec){0, 0, NULL},
                                           S),
               "[to_quantized] The layer is already quantized.");
  mlx_array* all[] = {&w, &ids, &y, &r, &x, &wt, &dq};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) mlx_array_free(*all[i]);
  cmlx_embedding_free(&e);
}

static void test_rms_norm(void) {
  mlx_array x = rand_f32((int[]){3, 7, 32}, 3, 2.0);
  mlx_array w = rand_f32((int[]){32}, 1, 1.0);
  cmlx_rms_norm n = {{NULL}, 0};
  CHECK_OK(cmlx_rms_norm_init(&n, w, 1e-5f));
  mlx_array y = mlx_array_new(), r = mlx_array_new(), ms = mlx_array_new();
  mlx_array eps = mlx_array_new_float32(1e-5f);
  CHECK_OK(cmlx_rms_norm_apply(&y, &n, x, S));
  CHECK_OK(mlx_square(&ms, x, S));
  CHECK_OK(mlx_mean_axis(&ms, ms, -1, true, S));
  CHECK_OK(mlx_add(&ms, ms, eps, S));
  CHECK_OK(mlx_rsqrt(&ms, ms, S));
  CHECK_OK(mlx_multiply(&r, x, ms, S));
  CHECK_OK(mlx_multiply(&r, r, w, S));
  CHECK_MSG(max_diff(y, r) < 1e-5, "rms_norm: %g", max_diff(y, r));
  mlx_array bad = rand_f32((int[]){2, 2}, 2, 1.0);
  cmlx_rms_norm n2 = {{NULL}, 0};
  EXPECT_ERROR(cmlx_rms_norm_init(&n2, bad, 1e-5f),
               "[RMSNorm] The weight must be a 1-D array.");
  mlx_array* all[] = {&x, &w, &y, &r, &ms, &eps, &bad};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) mlx_array_free(*all[i]);
  cmlx_rms_norm_free(&n);
}

int main(void) {
  test_init();
  S = test_stream;
  test_spec();
  test_linear_float();
  /* relative error bounds of the quantized layer against the float one:
   * loose (quantization noise on random weights), the exact comparison is
   * against quantized_matmul */
  test_linear_quantized("affine", 64, 8, 0.02);
  test_linear_quantized("affine", 64, 4, 0.2);
  test_linear_quantized("affine", 32, 4, 0.2);
  test_linear_quantized("mxfp4", 32, 4, 0.3);
  test_linear_quantized("mxfp8", 32, 8, 0.1);
  test_linear_quantized("nvfp4", 16, 4, 0.3);
  test_quantized_errors();
  test_nvfp4_global_scale();
  test_gather(false);
  test_gather(true);
  test_embedding("affine", 64, 4);
  test_embedding("mxfp4", 32, 4);
  test_rms_norm();
  return test_finish("test_nn");
}
