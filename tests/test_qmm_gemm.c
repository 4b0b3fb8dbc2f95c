/* test_qmm_gemm.c - the GEMM path of the quantized matmul (more rows of x
 * than the streaming kernels take) on raw buffers, at every instruction
 * set this CPU has, against cpu_qmm_reference.
 *
 * What it proves: for every mode (affine bits 2, 3, 4, 5, 6, 8 with groups
 * 32, 64 and 128; mxfp4, mxfp8, nvfp4), float32 / float16 / bfloat16
 * activations and scale dtypes, M from 9 to 600 (and one M above the
 * driver's row block), K and N that are not multiples of the kernels'
 * tiles (panels of 16 or 32 weight rows, K chunks of 128 or 256, blocks of
 * 6 to 14 rows), padded weight and scale rows: the products agree with the
 * double-precision reference within 4e-6 of the largest output (the
 * kernels sum exact products in float32; the bfloat16 ones apply the
 * scales per group), and nothing is written past an output row.
 * transpose = false is checked on a few shapes too (dequantized tiles and
 * sgemm). On CPUs with AVX512_BF16 the vdpbf16ps kernels are checked as
 * well as the float32 ones the timing may prefer, and on AVX-512 both
 * decodings of 4/8-bit codes (bytes transposed, and the earlier one). On
 * CPUs with AMX, the AMX kernel against MLX's bfloat16 weights (test_amx). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/qmm.h"
#include "backend/cpu/qmm_gemm.h"
#include "backend/cpu/qmm_kernels.h"
#include "core/half.h"
#include "harness.h"
#include "qmm_check.h"

typedef struct rmat {
  qmm_matrix m;
  uint32_t* w;
  void* s;
  void* b;
} rmat;

static uint32_t rand_u32(void) {
  uint32_t lo = (uint32_t)test_rand(0, 65536), hi = (uint32_t)test_rand(0, 65536);
  return (hi << 16) ^ lo;
}

static void put_scale(void* p, mlx_dtype t, int64_t i, float v) {
  if (t == MLX_FLOAT16) ((uint16_t*)p)[i] = f32_to_f16(v);
  else if (t == MLX_BFLOAT16) ((uint16_t*)p)[i] = f32_to_bf16(v);
  else ((float*)p)[i] = v;
}

/* A random quantized matrix of rows x cols codes, rows padded by a few
 * words / scales. */
static rmat random_matrix(quant_mode mode, int bits, int gs, int rows, int cols, mlx_dtype st) {
  rmat r = {0};
  int64_t wl = (int64_t)cols * bits / 32 + 3, G = cols / gs, sl = G + 2;
  r.w = malloc(sizeof(uint32_t) * (size_t)(rows * wl));
  for (int64_t i = 0; i < rows * wl; i++) r.w[i] = rand_u32();
  bool affine = mode == QUANT_AFFINE;
  if (!affine) st = MLX_UINT8;
  size_t es = st == MLX_FLOAT32 ? 4 : st == MLX_UINT8 ? 1 : 2;
  r.s = malloc(es * (size_t)(rows * sl));
  r.b = affine ? malloc(es * (size_t)(rows * sl)) : NULL;
  for (int64_t i = 0; i < rows * sl; i++) {
    if (affine) {
      /* MLX's "edge" rule can make scales negative */
      put_scale(r.s, st, i, (float)test_rand(-0.02, 0.1));
      put_scale(r.b, st, i, (float)test_rand(-1, 1));
    } else if (mode == QUANT_NVFP4) {
      ((uint8_t*)r.s)[i] = (uint8_t)test_rand(0x28, 0x48); /* E4M3 0.125 .. 2 */
    } else {
      ((uint8_t*)r.s)[i] = (uint8_t)test_rand(120, 132); /* E8M0 2^-7 .. 2^4 */
    }
  }
  r.m = (qmm_matrix){mode, bits, gs, rows, cols, r.w, wl, r.s, r.b, st, sl};
  return r;
}

static void free_matrix(rmat* r) {
  free(r->w);
  free(r->s);
  free(r->b);
}

static double worst_bf16 = 0, worst_other = 0;

/* One product: m rows of x (dtype xt) times the matrix, checked. */
static void gemm_case(const rmat* r, bool transpose, mlx_dtype xt, int m, const char* tag) {
  const qmm_matrix* w = &r->m;
  int K = transpose ? w->cols : w->rows, N = transpose ? w->rows : w->cols;
  bool pad_ok;
  double e = qmm_check_run(w, transpose, xt, m, 5, 3, &pad_ok);
  double* worst = xt == MLX_BFLOAT16 ? &worst_bf16 : &worst_other;
  if (!(e <= *worst)) *worst = e;
  CHECK_MSG(e <= 4e-6 && pad_ok, "gemm %s mode %d b%d g%d %s x%d m=%d K=%d N=%d: rel error %.3g%s",
            tag, (int)w->mode, w->bits, w->group_size, transpose ? "T" : "N", (int)xt, m, K, N, e,
            pad_ok ? "" : " (wrote past the row)");
}

typedef struct fmt {
  quant_mode mode;
  int bits, gs;
} fmt;

static void test_gemm_every_isa(void) {
  const fmt fmts[] = {{QUANT_AFFINE, 4, 64},  {QUANT_AFFINE, 8, 64},  {QUANT_MXFP4, 4, 32},
                      {QUANT_AFFINE, 4, 32},  {QUANT_AFFINE, 4, 128}, {QUANT_AFFINE, 8, 32},
                      {QUANT_AFFINE, 8, 128}, {QUANT_AFFINE, 2, 64},  {QUANT_AFFINE, 3, 128},
                      {QUANT_AFFINE, 5, 32},  {QUANT_AFFINE, 6, 64},  {QUANT_MXFP8, 8, 32},
                      {QUANT_NVFP4, 4, 16}};
  const int nf = (int)(sizeof fmts / sizeof fmts[0]);
  const mlx_dtype xts[3] = {MLX_BFLOAT16, MLX_FLOAT32, MLX_FLOAT16};
  const mlx_dtype sts[3] = {MLX_BFLOAT16, MLX_FLOAT32, MLX_FLOAT16};
  cpu_isa_level best = cpu_isa();
  /* one pass per ISA level; on AVX-512 also one with the earlier decoding
   * of 4/8-bit codes (qgemm_byte_decode = 0) and, with AVX512_BF16, one
   * forcing the vdpbf16ps kernels (the first lets the timing choose,
   * normally the float32 kernels) */
  bool avx512 = best >= CPU_ISA_AVX512;
  qgemm_amx = false; /* its reference differs: test_amx */
  int passes = (int)best + 1 + avx512 + (avx512 && cpu_has_avx512_bf16());
  for (int pass = 0; pass < passes; pass++) {
    int extra = pass - (int)best; /* 1: earlier decoding, 2: vdpbf16ps */
    int level = extra <= 0 ? pass : (int)best;
    cpu_qmm_set_isa_cap((cpu_isa_level)level);
    qgemm_set_bf16_policy(extra == 2 ? 1 : -1);
    qgemm_byte_decode = extra != 1;
    const char* tag = extra == 2   ? "avx512bf16"
                      : extra == 1 ? "avx512 (earlier decoding)"
                                   : cpu_isa_name((cpu_isa_level)level);
    for (int f = 0; f < nf; f++) {
      /* N = 45 (a panel and a part), K = 384 (a 256-code chunk and a
       * part) or the smallest multiple of 128 plus one group */
      int Ks[2] = {384, 128 + fmts[f].gs};
      for (int ki = 0; ki < 2; ki++) {
        rmat r = random_matrix(fmts[f].mode, fmts[f].bits, fmts[f].gs, 45, Ks[ki], sts[f % 3]);
        const int ms[4] = {9, 13, 29, 71};
        for (int mi = 0; mi < 4; mi++)
          for (int d = 0; d < 3; d++) {
            if (ki == 1 && mi % 2) continue;
            gemm_case(&r, true, xts[d], ms[mi], tag);
          }
        free_matrix(&r);
      }
    }
    /* larger: M = 600 on [77, 1088]; M = 1030 (two row blocks) on [33, 256];
     * M = 71 on [519, 256] (groups of several panels, the last one short) */
    for (int f = 0; f < 3; f++) {
      rmat r = random_matrix(fmts[f].mode, fmts[f].bits, fmts[f].gs, 77, 1088, MLX_BFLOAT16);
      for (int d = 0; d < 2; d++) gemm_case(&r, true, xts[d], 600, tag);
      free_matrix(&r);
      r = random_matrix(fmts[f].mode, fmts[f].bits, fmts[f].gs, 33, 256, MLX_FLOAT32);
      for (int d = 0; d < 2; d++) gemm_case(&r, true, xts[d], 1030, tag);
      free_matrix(&r);
      r = random_matrix(fmts[f].mode, fmts[f].bits, fmts[f].gs, 519, 256, MLX_FLOAT16);
      for (int d = 0; d < 2; d++) gemm_case(&r, true, xts[d], 71, tag);
      free_matrix(&r);
    }
    /* transpose = false: K = 70 weight rows, N = 3 groups */
    for (int f = 0; f < nf; f += 2) {
      rmat r = random_matrix(fmts[f].mode, fmts[f].bits, fmts[f].gs, 70, 3 * fmts[f].gs,
                             MLX_FLOAT32);
      for (int d = 0; d < 3; d++) gemm_case(&r, false, xts[d], 17, tag);
      free_matrix(&r);
    }
    printf("gemm checked at ISA level %s\n", tag);
  }
  cpu_qmm_set_isa_cap(CPU_ISA_AVX512);
  qgemm_set_bf16_policy(-1);
  qgemm_byte_decode = 1;
  qgemm_amx = true;
  printf("worst rel. error: bfloat16 x %.3g, float32/float16 x %.3g\n", worst_bf16, worst_other);
}

/* The AMX kernel (qmm_gemm_amx.c): bfloat16 x against weights dequantized
 * to MLX's bfloat16 values (affine with bfloat16 scales: T(q) * s rounded,
 * plus b rounded; fp modes exact), so the reference here is built from
 * those values: within 4e-6 of the largest output, as the other kernels
 * against theirs. With the kernel off (qgemm_amx = false) the same
 * products take the float32 kernels, whose affine weights are not rounded
 * to bfloat16: they must then miss this reference by more than 1e-4 of it,
 * which shows the AMX kernel did run. */
static void amx_case(const rmat* r, int m, const char* what) {
  const qmm_matrix* w = &r->m;
  int K = w->cols, N = w->rows, gs = w->group_size;
  bool affine = w->mode == QUANT_AFFINE;
  uint16_t* xh = malloc(sizeof(uint16_t) * (size_t)(m * K));
  float* y = malloc(sizeof(float) * (size_t)(m * N));
  float* yoff = malloc(sizeof(float) * (size_t)(m * N));
  double* ref = malloc(sizeof(double) * (size_t)(m * N));
  float* wrow = malloc(sizeof(float) * (size_t)K);
  float* sc = malloc(sizeof(float) * (size_t)(K / gs));
  float* bi = malloc(sizeof(float) * (size_t)(K / gs));
  for (int i = 0; i < m * K; i++) xh[i] = f32_to_bf16((float)test_rand(-2, 2));
  for (int n = 0; n < N; n++) {
    qmm_decode_elements(w->mode, w->bits, w->w + n * w->w_ld, 0, K, wrow);
    qmm_load_scales(w, n, 0, K / gs, sc, affine ? bi : NULL);
    for (int k = 0; k < K; k++) {
      float v = wrow[k] * sc[k / gs];
      if (affine) v = bf16_to_f32(f32_to_bf16(bf16_to_f32(f32_to_bf16(v)) + bi[k / gs]));
      wrow[k] = v;
    }
    for (int i = 0; i < m; i++) {
      double t = 0;
      for (int k = 0; k < K; k++) t += (double)bf16_to_f32(xh[i * K + k]) * wrow[k];
      ref[i * N + n] = t;
    }
  }
  CHECK_OK(cpu_qmm_run(w, true, xh, MLX_BFLOAT16, K, m, y, MLX_FLOAT32, N));
  qgemm_amx = false;
  CHECK_OK(cpu_qmm_run(w, true, xh, MLX_BFLOAT16, K, m, yoff, MLX_FLOAT32, N));
  qgemm_amx = true;
  double big = 0, e = 0, eoff = 0;
  for (int i = 0; i < m * N; i++) big = fmax(big, fabs(ref[i]));
  for (int i = 0; i < m * N; i++) {
    e = fmax(e, fabs(y[i] - ref[i]) / big);
    eoff = fmax(eoff, fabs(yoff[i] - ref[i]) / big);
    if (y[i] != y[i]) e = INFINITY;
  }
  CHECK_MSG(e <= 4e-6, "amx %s m=%d K=%d N=%d: rel error %.3g", what, m, K, N, e);
  if (affine) CHECK_MSG(eoff > 1e-4, "amx %s: the float32 kernels agree too well (%.3g)", what, eoff);
  free(xh);
  free(y);
  free(yoff);
  free(ref);
  free(wrow);
  free(sc);
  free(bi);
}

static void test_amx(void) {
  if (cpu_isa() < CPU_ISA_AVX512 || !cpu_has_amx_bf16()) {
    printf("SKIP: the AMX kernel (this CPU or OS offers no AMX-BF16 tiles)\n");
    return;
  }
  const struct {
    fmt f;
    const char* what;
  } cases[] = {{{QUANT_AFFINE, 4, 64}, "affine4 g64"}, {{QUANT_AFFINE, 8, 32}, "affine8 g32"},
               {{QUANT_AFFINE, 3, 32}, "affine3 g32"},  {{QUANT_MXFP4, 4, 32}, "mxfp4"},
               {{QUANT_AFFINE, 4, 128}, "affine4 g128"}, {{QUANT_NVFP4, 4, 16}, "nvfp4"},
               {{QUANT_MXFP8, 8, 32}, "mxfp8"}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const fmt* f = &cases[c].f;
    /* N = 45 (panels of 16: a pair, a single, a short one), K = 384 (a
     * 256-code chunk and a 128-code one), M = 9 .. 71 (blocks of 16: pairs
     * and singles, padded rows); M = 600 on [77, 2880] (gpt-oss's K: 11
     * chunks and one of 64) */
    rmat r = random_matrix(f->mode, f->bits, f->gs, 45, 384, MLX_BFLOAT16);
    const int ms[4] = {9, 16, 40, 71};
    for (int i = 0; i < 4; i++) amx_case(&r, ms[i], cases[c].what);
    free_matrix(&r);
    if (c < 4) {
      r = random_matrix(f->mode, f->bits, f->gs, 77, 2880, MLX_BFLOAT16);
      amx_case(&r, 600, cases[c].what);
      free_matrix(&r);
    }
  }
  printf("AMX kernel checked\n");
}

int main(void) {
  test_init();
  test_gemm_every_isa();
  test_amx();
  return test_finish("test_qmm_gemm");
}
