/* test_qmm_gather.c - gather_qmm, gather_mm and qqmm against the double
 * reference (quantized_matmul is in test_qmm.c).
 *
 * What it proves:
 * - gather_qmm (MoE shapes, lhs and rhs, broadcast and out-of-range
 *   indices) and gather_mm (every float dtype) against per-row products;
 * - qqmm: M = 1 against MLX's quantize-dequantize written here, and MLX's
 *   NYI errors elsewhere. */
#include "qmm_test_util.h"

/* ------------------------------------------------------------------------
 * 1. gather_qmm and gather_mm
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
 * 2. qqmm
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

int main(void) {
  test_init();
  test_gather_qmm();
  test_gather_mm();
  test_gather_mm_runs();
  test_qqmm();
  return test_finish("test_qmm_gather");
}
