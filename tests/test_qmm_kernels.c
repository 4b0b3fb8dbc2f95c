/* test_qmm_kernels.c - the quantized matmul kernels on raw buffers (the
 * ops through the API are in test_qmm.c and test_qmm_gather.c).
 *
 * What it proves:
 * - the fast kernels on raw buffers against cpu_qmm_reference for every
 *   instruction set this CPU has, with poisoned outputs and odd sizes, in
 *   every streaming variant and the VNNI kernels;
 * - the kernels' vectorisable float16 and E8M0 conversions equal
 *   core/half.h's and the format table for every code. */
#include "qmm_test_util.h"
#include "qmm_check.h"

/* ------------------------------------------------------------------------
 * 1. The kernels on raw buffers, every instruction set
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
  /* K = 5248: 41 chunks of 128, the kernel's passes end in a short one;
   * K = 2880 (gpt-oss): 22 chunks and a half one */
  enum { N = 37, KMAX = 5248 };
  uint16_t* xh = malloc(sizeof(uint16_t) * KMAX);
  float* xf = malloc(sizeof(float) * KMAX);
  float *y = malloc(sizeof(float) * N), *yf = malloc(sizeof(float) * N),
        *ref = malloc(sizeof(float) * N), *wrow = malloc(sizeof(float) * KMAX);
  float *s = malloc(sizeof(float) * KMAX), *b = malloc(sizeof(float) * KMAX);
  for (int fk = 0; fk < 10; fk++) {
    int f = fk % 5, K = fk < 5 ? KMAX : 2880;
    if (K % fmts[f].gs != 0) continue;
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
                  "vnni %s g%d K=%d form %d x%d: %d outputs past the fixed-point bound (worst "
                  "%.3g of it), %d float32 outputs past 2e-6",
                  fmts[f].mode, fmts[f].gs, K, form, (int)xt, bad, worst, badf);
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
 * 2. Conversions the kernels use instead of core/half.h's
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
  test_kernels_every_isa();
  test_stream_variants();
  test_vnni_kernels();
  return test_finish("test_qmm_kernels");
}
