/* bench_quantize.c - quantize and dequantize throughput through the mlx-c
 * API.
 *
 * Prints one JSON line per case: the median time over repeated runs of
 * building and evaluating the op (output allocation included), GB/s of
 * input (the target for quantize of a [4096, 4096] float32 matrix is at
 * least 1 GB/s) and GB/s of all bytes moved (input read once, outputs
 * written once). Several distinct input matrices are cycled so the input
 * streams from memory. The first line names the CPU and the thread count.
 *
 * Usage: bench_quantize [reps]   (default 7) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlx/c/mlx.h"

#include "common.h"

#define N_MATS 4 /* 4 x 64 MiB of float32 inputs */
#define ROWS 4096
#define COLS 4096

static size_t total_nbytes(mlx_vector_array v) {
  size_t n = 0;
  for (size_t i = 0; i < mlx_vector_array_size(v); i++) {
    mlx_array a = mlx_array_new();
    mlx_vector_array_get(&a, v, i);
    n += mlx_array_nbytes(a);
    mlx_array_free(a);
  }
  return n;
}

static void bench_case(mlx_array* w, const char* mode, int group_size, int bits, int reps,
                       mlx_stream s) {
  mlx_optional_int gs = {group_size, true}, b = {bits, true};
  mlx_array none = mlx_array_new();
  double* qt = malloc((size_t)reps * sizeof *qt);
  double* dt = malloc((size_t)reps * sizeof *dt);
  size_t in_bytes = mlx_array_nbytes(w[0]), q_bytes = 0;
  mlx_dtype wt = mlx_array_dtype(w[0]);
  for (int r = -1; r < reps; r++) { /* r = -1 warms up */
    mlx_array x = w[(r + N_MATS) % N_MATS];
    mlx_vector_array q = mlx_vector_array_new();
    double t0 = bench_now();
    if (mlx_quantize(&q, x, gs, b, mode, none, s) || mlx_eval(q)) {
      fprintf(stderr, "quantize failed\n");
      exit(1);
    }
    double t1 = bench_now();
    q_bytes = total_nbytes(q);
    mlx_array parts[3] = {mlx_array_new(), mlx_array_new(), mlx_array_new()};
    for (size_t i = 0; i < mlx_vector_array_size(q); i++) mlx_vector_array_get(&parts[i], q, i);
    mlx_array d = mlx_array_new();
    mlx_optional_dtype dtype = {wt, true};
    double t2 = bench_now();
    if (mlx_dequantize(&d, parts[0], parts[1], parts[2], gs, b, mode, none, dtype, s) ||
        mlx_array_eval(d)) {
      fprintf(stderr, "dequantize failed\n");
      exit(1);
    }
    double t3 = bench_now();
    if (r >= 0) {
      qt[r] = t1 - t0;
      dt[r] = t3 - t2;
    }
    for (int i = 0; i < 3; i++) mlx_array_free(parts[i]);
    mlx_array_free(d);
    mlx_vector_array_free(q);
  }
  const char* dname = wt == MLX_FLOAT32 ? "float32" : "bfloat16";
  double tq = bench_median(qt, reps), td = bench_median(dt, reps);
  printf("{\"bench\":\"quantize\",\"mode\":\"%s\",\"bits\":%d,\"group_size\":%d,\"dtype\":\"%s\","
         "\"shape\":[%d,%d],\"seconds\":%.6f,\"input_GBps\":%.2f,\"moved_GBps\":%.2f}\n",
         mode, bits, group_size, dname, ROWS, COLS, tq, in_bytes / tq * 1e-9,
         (in_bytes + q_bytes) / tq * 1e-9);
  printf("{\"bench\":\"dequantize\",\"mode\":\"%s\",\"bits\":%d,\"group_size\":%d,\"dtype\":\"%s\","
         "\"shape\":[%d,%d],\"seconds\":%.6f,\"output_GBps\":%.2f,\"moved_GBps\":%.2f}\n",
         mode, bits, group_size, dname, ROWS, COLS, td, in_bytes / td * 1e-9,
         (in_bytes + q_bytes) / td * 1e-9);
  fflush(stdout);
  free(qt);
  free(dt);
  mlx_array_free(none);
}

int main(int argc, char** argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  if (reps < 1) reps = 1;
  mlx_stream s = mlx_default_cpu_stream_new();
  char cpu[256];
  bench_cpu_model(cpu, sizeof cpu);
  const char* threads = getenv("CMLX_NUM_THREADS");
  printf("{\"bench\":\"quantize_setup\",\"cpu\":\"%s\",\"CMLX_NUM_THREADS\":\"%s\","
         "\"matrices\":%d}\n",
         cpu, threads ? threads : "default", N_MATS);

  size_t n = (size_t)ROWS * COLS;
  float* data = malloc(n * sizeof *data);
  mlx_array w[N_MATS], wb[N_MATS];
  int shape[2] = {ROWS, COLS};
  uint32_t state = 12345;
  for (int m = 0; m < N_MATS; m++) {
    for (size_t i = 0; i < n; i++) {
      state = state * 1664525u + 1013904223u;
      data[i] = (float)((int32_t)state) * (1.0f / 2147483648.0f);
    }
    w[m] = mlx_array_new_data(data, shape, 2, MLX_FLOAT32);
    wb[m] = mlx_array_new();
    mlx_astype(&wb[m], w[m], MLX_BFLOAT16, s);
    mlx_array_eval(wb[m]);
  }
  free(data);

  static const struct {
    const char* mode;
    int group_size, bits;
  } cases[] = {
      {"affine", 64, 4}, {"affine", 64, 8}, {"affine", 64, 3}, {"affine", 32, 2},
      {"mxfp4", 32, 4},  {"mxfp8", 32, 8},  {"nvfp4", 16, 4},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    bench_case(w, cases[c].mode, cases[c].group_size, cases[c].bits, reps, s);
  bench_case(wb, "affine", 64, 4, reps, s);
  bench_case(wb, "mxfp4", 32, 4, reps, s);

  for (int m = 0; m < N_MATS; m++) {
    mlx_array_free(w[m]);
    mlx_array_free(wb[m]);
  }
  mlx_stream_free(s);
  return 0;
}
