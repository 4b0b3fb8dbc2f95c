/* bench_matmul.c - matmul through the mlx-c API against OpenBLAS called
 * directly, in the same run.
 *
 * Prints one JSON line per case: the median time over repeated runs of
 * both paths (measured alternately, after warm-up, with every input and
 * the direct path's output allocated before timing), GFLOP/s, and
 * `ratio` = op time / direct time (the target for float32 1024^3 is at
 * most 1.10). The op's time includes building the graph node and
 * evaluating it, output allocation included. The first line describes
 * OpenBLAS (its configuration string, core, threads).
 *
 * Usage: bench_matmul [reps]   (default 9) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlx/c/mlx.h"

#include "common.h"

static float* rand_floats(size_t n) {
  float* p = malloc(n * sizeof *p);
  uint32_t s = 12345;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
  }
  return p;
}

typedef struct bench_case {
  const char* name;
  mlx_dtype dtype;
  int batch, m, n, k;
  bool b_transposed; /* b given as a transposed view of [N, K] */
} bench_case;

/* The direct BLAS call for the case (batch loop of sgemm/dgemm). */
static void direct(const bench_case* c, const void* a, const void* b, void* out) {
  size_t mk = (size_t)c->m * c->k, kn = (size_t)c->k * c->n, mn = (size_t)c->m * c->n;
  enum CBLAS_TRANSPOSE tb = c->b_transposed ? CblasTrans : CblasNoTrans;
  int ldb = c->b_transposed ? c->k : c->n;
  for (int i = 0; i < c->batch; i++) {
    if (c->dtype == MLX_FLOAT64)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, tb, c->m, c->n, c->k, 1.0,
                  (const double*)a + i * mk, c->k, (const double*)b + i * kn, ldb, 0.0,
                  (double*)out + i * mn, c->n);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, c->m, c->n, c->k, 1.0f,
                  (const float*)a + i * mk, c->k, (const float*)b + i * kn, ldb, 0.0f,
                  (float*)out + i * mn, c->n);
  }
}

static void run_case(const bench_case* c, int reps, mlx_stream s) {
  size_t mk = (size_t)c->batch * c->m * c->k, kn = (size_t)c->batch * c->k * c->n;
  size_t mn = (size_t)c->batch * c->m * c->n;
  /* the direct path works in float32 (float64 for float64 cases) */
  mlx_dtype direct_t = c->dtype == MLX_FLOAT64 ? MLX_FLOAT64 : MLX_FLOAT32;
  size_t esz = direct_t == MLX_FLOAT64 ? 8 : 4;
  float* fa = rand_floats(mk);
  float* fb = rand_floats(kn);
  void* da = malloc(mk * esz);
  void* db = malloc(kn * esz);
  void* dout = malloc(mn * esz);
  for (size_t i = 0; i < mk; i++)
    if (esz == 8) ((double*)da)[i] = fa[i];
    else ((float*)da)[i] = fa[i];
  for (size_t i = 0; i < kn; i++)
    if (esz == 8) ((double*)db)[i] = fb[i];
    else ((float*)db)[i] = fb[i];
  memset(dout, 0, mn * esz);

  int ash[3] = {c->batch, c->m, c->k};
  int bsh[3] = {c->batch, c->b_transposed ? c->n : c->k, c->b_transposed ? c->k : c->n};
  int nd = c->batch > 1 ? 3 : 2;
  const int* as = nd == 3 ? ash : ash + 1;
  const int* bs = nd == 3 ? bsh : bsh + 1;
  mlx_array a32 = mlx_array_new_data(fa, as, nd, MLX_FLOAT32);
  mlx_array b32 = mlx_array_new_data(fb, bs, nd, MLX_FLOAT32);
  mlx_array a = mlx_array_new(), b = mlx_array_new(), bt = mlx_array_new();
  mlx_astype(&a, a32, c->dtype, s);
  mlx_astype(&bt, b32, c->dtype, s);
  if (c->b_transposed)
    mlx_swapaxes(&b, bt, -1, -2, s);
  else
    mlx_array_set(&b, bt);
  mlx_array_eval(a);
  mlx_array_eval(b);

  double* t_direct = malloc(sizeof(double) * (size_t)reps);
  double* t_op = malloc(sizeof(double) * (size_t)reps);
  mlx_array out = mlx_array_new();
  for (int r = -2; r < reps; r++) { /* two warm-up rounds */
    double t0 = (1e3 * bench_now());
    direct(c, da, db, dout);
    double t1 = (1e3 * bench_now());
    mlx_matmul(&out, a, b, s);
    mlx_array_eval(out);
    double t2 = (1e3 * bench_now());
    if (r >= 0) {
      t_direct[r] = t1 - t0;
      t_op[r] = t2 - t1;
    }
    mlx_array_free(out);
    out = mlx_array_new();
  }
  double md = bench_median(t_direct, reps), mo = bench_median(t_op, reps);
  double flop = 2.0 * c->batch * c->m * c->n * (double)c->k;
  printf("{\"bench\":\"matmul\",\"case\":\"%s\",\"dtype\":\"%s\",\"batch\":%d,\"m\":%d,"
         "\"n\":%d,\"k\":%d,\"b_transposed\":%s,\"reps\":%d,"
         "\"direct\":\"%s\",\"direct_ms\":%.3f,\"direct_gflops\":%.1f,"
         "\"op_ms\":%.3f,\"op_gflops\":%.1f,\"ratio\":%.3f}\n",
         c->name,
         c->dtype == MLX_FLOAT64   ? "float64"
         : c->dtype == MLX_FLOAT16 ? "float16"
         : c->dtype == MLX_BFLOAT16 ? "bfloat16"
                                    : "float32",
         c->batch, c->m, c->n, c->k, c->b_transposed ? "true" : "false", reps,
         direct_t == MLX_FLOAT64 ? "cblas_dgemm" : "cblas_sgemm", md, flop / md * 1e-6, mo,
         flop / mo * 1e-6, mo / md);
  fflush(stdout);
  mlx_array_free(out);
  mlx_array_free(a32);
  mlx_array_free(b32);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(bt);
  free(fa);
  free(fb);
  free(da);
  free(db);
  free(dout);
  free(t_direct);
  free(t_op);
}

int main(int argc, char** argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 9;
  if (reps < 1) reps = 1;
  printf("{\"bench\":\"matmul\",\"openblas_config\":\"%s\",\"openblas_core\":\"%s\","
         "\"openblas_threads\":%d,\"openblas_procs\":%d}\n",
         openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(),
         openblas_get_num_procs());
  static const bench_case cases[] = {
      {"f32_1024", MLX_FLOAT32, 1, 1024, 1024, 1024, false},
      {"f32_1024_bT", MLX_FLOAT32, 1, 1024, 1024, 1024, true},
      {"f64_1024", MLX_FLOAT64, 1, 1024, 1024, 1024, false},
      {"f32_batched_64x128", MLX_FLOAT32, 64, 128, 128, 128, false},
      {"f32_gemv_4096", MLX_FLOAT32, 1, 1, 4096, 4096, false},
      /* half types: the op widens to float32 and calls sgemm; the
       * baseline is sgemm on float32 data */
      {"f16_1024", MLX_FLOAT16, 1, 1024, 1024, 1024, false},
      {"bf16_1024", MLX_BFLOAT16, 1, 1024, 1024, 1024, false},
  };
  mlx_stream s = mlx_default_cpu_stream_new();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], reps, s);
  mlx_stream_free(s);
  return 0;
}
