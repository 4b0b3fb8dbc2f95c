/* bench_qmm_prefill.c - quantized_matmul with many rows of x (prefill, the
 * GEMM path), each case timed against its ceilings in the same run:
 * - FMA peak: 2 threads of 12 independent float32 FMA chains (AVX-512
 *   where the CPU has it, else AVX2), measured again before every case;
 * - OpenBLAS sgemm of the same shape on the dequantized float32 weights,
 *   timed alternately with the quantized product (one of each per round),
 *   so a slow phase of a noisy machine hits both.
 * Cases: weights [N, K] = [4096, 4096] (quick) and [14336, 4096] (full),
 * transpose = true, affine 4-bit g64, affine 8-bit g64, mxfp4 quantized
 * from bfloat16 weights; x bfloat16 and float32; M = 512 unless given.
 * The product cycles over 2 copies of the weights.
 *
 * One JSON line per case: median seconds of the product and of sgemm,
 * GFLOP/s, fma_peak_ratio (median GFLOP/s over the case's peak),
 * sgemm_ratio (median sgemm seconds over median product seconds) and the
 * median of the per-round ratios.
 *
 * Usage: bench_qmm_prefill [rounds] [quick|full] [format|all] [M]
 * Environment (bench hooks of qmm_gemm.h):
 *   QGEMM_PROFILE=1 adds, per case, the product's time with decoding
 *   skipped after the first chunk ("no_decode") and with the microkernel
 *   skipped ("no_micro"), and both ("driver"): where the time goes.
 *   QGEMM_CKIB=a,b,... repeats each case per L2 budget (KiB) of a group's
 *   sums (the panels per group).
 *   QGEMM_BYTES=0 selects the earlier decoding of 4/8-bit codes.
 *   QGEMM_HOOK_BITS=n ORs n into qgemm_profile (kernel experiments: 4 turns
 *   the AMX kernel's loop order around).
 * Built with -DQGEMM_NO_HOOKS it runs against a library without them. */
#include <cblas.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/qmm_gemm.h"
#include "common.h"
#include "mlx/c/mlx.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MAX_ROUNDS 64

/* ---- cases ---- */

typedef struct qformat {
  const char* name;
  const char* mode;
  int bits, group_size;
} qformat;

typedef struct qweights {
  mlx_array part[2][3]; /* 2 copies of wq, scales, biases (or empty) */
  mlx_array deq;        /* copy 0 dequantized, float32 [N, K] */
} qweights;

static qweights quantized(const qformat* f, int N, int K, mlx_stream s) {
  qweights w;
  mlx_array wf = bench_uniform(N, K, MLX_BFLOAT16, 11, s);
  mlx_vector_array q = mlx_vector_array_new();
  mlx_optional_int gs = {f->group_size, true}, bits = {f->bits, true};
  mlx_quantize(&q, wf, gs, bits, f->mode, mlx_array_new(), s);
  size_t n = mlx_vector_array_size(q);
  for (int c = 0; c < 2; c++)
    for (size_t i = 0; i < 3; i++) {
      w.part[c][i] = mlx_array_new();
      if (i >= n) continue;
      mlx_array src = mlx_array_new();
      mlx_vector_array_get(&src, q, i);
      mlx_copy(&w.part[c][i], src, s);
      mlx_array_eval(w.part[c][i]);
      mlx_array_free(src);
    }
  mlx_array d = mlx_array_new();
  w.deq = mlx_array_new();
  mlx_optional_dtype none = {MLX_FLOAT32, false};
  mlx_dequantize(&d, w.part[0][0], w.part[0][1], w.part[0][2], gs, bits, f->mode,
                 mlx_array_new(), none, s);
  mlx_astype(&w.deq, d, MLX_FLOAT32, s);
  mlx_array_eval(w.deq);
  mlx_array_free(d);
  mlx_vector_array_free(q);
  mlx_array_free(wf);
  return w;
}

static void free_quantized(qweights* w) {
  for (int c = 0; c < 2; c++)
    for (int i = 0; i < 3; i++) mlx_array_free(w->part[c][i]);
  mlx_array_free(w->deq);
}

static double product_seconds(const qformat* f, const qweights* w, mlx_array x, int copy,
                              mlx_stream s) {
  mlx_optional_int gs = {f->group_size, true}, bits = {f->bits, true};
  mlx_array out = mlx_array_new();
  double t0 = bench_now();
  mlx_quantized_matmul(&out, x, w->part[copy][0], w->part[copy][1], w->part[copy][2], true, gs,
                       bits, f->mode, s);
  mlx_array_eval(out);
  double t = bench_now() - t0;
  mlx_array_free(out);
  return t;
}

/* Seconds of one sgemm; then a pause of 30 ms, untimed, in which
 * OpenBLAS's threads stop spinning (they busy-wait a while after a call,
 * which would slow the next quantized product on the same cores; setting
 * OPENBLAS_THREAD_TIMEOUT=4 shortens that wait too). */
static double sgemm_seconds(const float* a, const float* b, float* c, int M, int N, int K) {
  double t0 = bench_now();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
  double t = bench_now() - t0;
  struct timespec pause = {0, 30 * 1000 * 1000};
  nanosleep(&pause, NULL);
  return t;
}

static void set_hooks(int profile, int ckib) {
#ifndef QGEMM_NO_HOOKS
  const char* extra = getenv("QGEMM_HOOK_BITS"); /* more qgemm_profile bits (kernel experiments) */
  qgemm_profile = profile | (extra && *extra ? atoi(extra) : 0);
  qgemm_c_kib = ckib;
  const char* nb = getenv("QGEMM_BYTES");
  if (nb && *nb) qgemm_byte_decode = atoi(nb);
#else
  (void)profile, (void)ckib;
#endif
}

static void run_case(const qformat* f, const qweights* w, int N, int K, int M, mlx_dtype xt,
                     int rounds, int lanes, int ckib, bool profile, mlx_stream s) {
  mlx_array x = bench_uniform(M, K, xt, 5, s), x32 = mlx_array_new();
  mlx_astype(&x32, x, MLX_FLOAT32, s);
  mlx_array_eval(x32);
  float* c = malloc(sizeof(float) * (size_t)M * N);
  const float* a = mlx_array_data_float32(x32);
  const float* b = mlx_array_data_float32(w->deq);
  set_hooks(0, ckib);
  double peak = bench_fma_peak(4000000, NULL);
  double tq[MAX_ROUNDS], ts[MAX_ROUNDS], ratio[MAX_ROUNDS];
  product_seconds(f, w, x, 0, s);
  sgemm_seconds(a, b, c, M, N, K);
  for (int r = 0; r < rounds; r++) {
    tq[r] = product_seconds(f, w, x, r & 1, s);
    ts[r] = sgemm_seconds(a, b, c, M, N, K);
    ratio[r] = ts[r] / tq[r];
  }
  double q = bench_median(tq, rounds), sg = bench_median(ts, rounds);
  double rmed = bench_median(ratio, rounds), rlo = ratio[0], rhi = ratio[rounds - 1];
  double flop = 2.0 * M * (double)N * K;
  printf("{\"bench\":\"qmm_prefill\",\"format\":\"%s\",\"N\":%d,\"K\":%d,\"M\":%d,\"x\":\"%s\","
         "\"ckib\":%d,\"seconds\":%.6g,\"gflops\":%.4g,\"fma_peak_gflops\":%.4g,"
         "\"fma_peak_ratio\":%.3f,\"sgemm_gflops\":%.4g,\"sgemm_ratio\":%.3f,"
         "\"round_ratio_median\":%.3f,\"round_ratio_range\":[%.3f,%.3f]",
         f->name, N, K, M, xt == MLX_BFLOAT16 ? "bfloat16" : "float32", ckib, q, flop / q / 1e9,
         peak, peak > 0 ? flop / q / 1e9 / peak : 0, flop / sg / 1e9, sg / q, rmed, rlo, rhi);
  if (profile) {
    const char* names[3] = {"no_decode", "no_micro", "driver"};
    double tp[3][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++)
      for (int m = 1; m <= 3; m++) {
        set_hooks(m, ckib);
        tp[m - 1][r] = product_seconds(f, w, x, r & 1, s);
      }
    set_hooks(0, ckib);
    for (int m = 0; m < 3; m++)
      printf(",\"%s_seconds\":%.6g", names[m], bench_median(tp[m], rounds));
  }
  printf("}\n");
  fflush(stdout);
  free(c);
  mlx_array_free(x);
  mlx_array_free(x32);
}

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7;
  bool full = argc > 2 && strcmp(argv[2], "full") == 0;
  const char* only = argc > 3 ? argv[3] : "all";
  int M = argc > 4 ? atoi(argv[4]) : 512;
  if (rounds < 1 || rounds > MAX_ROUNDS) rounds = 7;
  if (M < 1) M = 512;
  const char* prof = getenv("QGEMM_PROFILE");
  bool profile = prof && *prof == '1';
  const char* ck = getenv("QGEMM_CKIB");
  if (!ck || !*ck) ck = "0";
  mlx_stream s = mlx_default_cpu_stream_new();
  char model[256];
  bench_cpu_model(model, sizeof model);
  int lanes = cpu_isa() >= CPU_ISA_AVX512 ? 16 : cpu_isa() >= CPU_ISA_AVX2 ? 8 : 0;
  printf("{\"bench\":\"qmm_prefill\",\"cpu\":\"%s\",\"isa\":\"%s\",\"openblas_config\":\"%s\","
         "\"openblas_threads\":%d,\"rounds\":%d}\n",
         model, cpu_isa_name(cpu_isa()), openblas_get_config(), openblas_get_num_threads(),
         rounds);
  fflush(stdout);
  const qformat fmts[3] = {{"affine4_g64", "affine", 4, 64},
                           {"affine8_g64", "affine", 8, 64},
                           {"mxfp4", "mxfp4", 4, 32}};
  const int shapes[2][2] = {{4096, 4096}, {14336, 4096}};
  const mlx_dtype xts[2] = {MLX_BFLOAT16, MLX_FLOAT32};
  for (int sh = 0; sh < (full ? 2 : 1); sh++)
    for (int fi = 0; fi < 3; fi++) {
      if (strcmp(only, "all") != 0 && strcmp(only, fmts[fi].name) != 0) continue;
      int N = shapes[sh][0], K = shapes[sh][1];
      qweights w = quantized(&fmts[fi], N, K, s);
      for (const char* v = ck; *v;) {
        int ckib = atoi(v);
        for (int xi = 0; xi < 2; xi++)
          run_case(&fmts[fi], &w, N, K, M, xts[xi], rounds, lanes, ckib, profile, s);
        v += strcspn(v, ",");
        if (*v == ',') v++;
      }
      free_quantized(&w);
    }
  mlx_stream_free(s);
  return 0;
}
