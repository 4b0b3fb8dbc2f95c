/* bench_elementwise.c - elementwise throughput and graph overhead.
 *
 * Prints one JSON line per case:
 *  - copy_bandwidth: a 2-thread memcpy of 1 GiB (bytes read + written over
 *    time), the ceiling the elementwise cases are compared with;
 *  - add_f32_64MiB: mlx_add of two 64 MiB float32 arrays (bytes: two inputs
 *    read once, output written once), with its fraction of copy bandwidth;
 *  - op_overhead: building and evaluating a chain of 10,000 ops on a 0-d
 *    array, microseconds per op.
 * Times are medians of repeated runs; buffers are allocated before timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mlx/c/mlx.h>

#include "common.h"

static void bench_add(double copy_gbs, mlx_stream s) {
  int n = 16 << 20; /* 16 Mi floats = 64 MiB */
  float* data = malloc((size_t)n * sizeof *data);
  for (int i = 0; i < n; i++) data[i] = (float)(i & 1023);
  mlx_array a = mlx_array_new_data(data, &n, 1, MLX_FLOAT32);
  mlx_array b = mlx_array_new_data(data, &n, 1, MLX_FLOAT32);
  free(data);
  double times[11];
  for (int r = 0; r < 12; r++) {
    mlx_array c = mlx_array_new();
    double t0 = bench_now();
    mlx_add(&c, a, b, s);
    mlx_array_eval(c);
    double t = bench_now() - t0;
    if (r > 0) times[r - 1] = t; /* the first run warms the allocator */
    mlx_array_free(c);
  }
  double t = bench_median(times, 11);
  double gbs = 3.0 * 64.0 * 1048576.0 / t / 1e9;
  printf("{\"bench\":\"add_f32_64MiB\",\"seconds\":%.6f,\"GBps\":%.2f,"
         "\"copy_GBps\":%.2f,\"fraction_of_copy\":%.3f}\n",
         t, gbs, copy_gbs, gbs / copy_gbs);
  mlx_array_free(a);
  mlx_array_free(b);
}

static void bench_overhead(mlx_stream s) {
  const int ops = 10000;
  double times[9];
  for (int r = 0; r < 9; r++) {
    mlx_array x = mlx_array_new_float(1.0f);
    mlx_array one = mlx_array_new_float(1e-4f);
    double t0 = bench_now();
    for (int i = 0; i < ops; i++) {
      mlx_array y = mlx_array_new();
      mlx_add(&y, x, one, s);
      mlx_array_free(x);
      x = y;
    }
    mlx_array_eval(x);
    times[r] = bench_now() - t0;
    mlx_array_free(x);
    mlx_array_free(one);
  }
  double t = bench_median(times, 9);
  printf("{\"bench\":\"op_overhead\",\"ops\":%d,\"seconds\":%.6f,\"us_per_op\":%.3f}\n",
         ops, t, t / ops * 1e6);
}

int main(void) {
  mlx_stream s = mlx_default_cpu_stream_new();
  double copy_gbs = bench_copy_bandwidth(2);
  printf("{\"bench\":\"copy_bandwidth\",\"threads\":2,\"bytes\":1073741824,\"GBps\":%.2f}\n",
         copy_gbs);
  bench_add(copy_gbs, s);
  bench_overhead(s);
  mlx_stream_free(s);
  return 0;
}
