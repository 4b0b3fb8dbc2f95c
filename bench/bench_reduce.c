/* bench_reduce.c - reductions, softmax and scans against the memory
 * ceilings measured in the same run.
 *
 * Prints one JSON line per case:
 *  - copy_bandwidth: a 2-thread memcpy of 1 GiB, bytes read + written over
 *    time (the ceiling the targets are stated against);
 *  - read_bandwidth: a 2-thread loop summing a 1 GiB float32 array;
 *  - sum_f32_64MiB, sum_f32_256MiB: mlx_sum of a whole float32 array;
 *  - sum_f32_rows / sum_f32_cols: [4096, 4096] float32 summed along the
 *    last axis (row reduce) and the first (column reduce);
 *  - softmax_f32_4096x4096: mlx_softmax_axis(-1) (bytes: input read once,
 *    output written once);
 *  - logsumexp_f32_4096x4096, cumsum_f32_4096x4096 (axis -1 and 0).
 * Bandwidth = bytes the op must move (each input read once, the output
 * written once) over the median time of repeated runs; inputs are
 * evaluated and the allocator warmed before timing. Each op line carries
 * its fraction of copy bandwidth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mlx/c/mlx.h>

#include "common.h"

#define RUNS 15

/* ---- ops ---- */

static mlx_array random_f32(const int* shape, int nd) {
  size_t n = 1;
  for (int d = 0; d < nd; d++) n *= (size_t)shape[d];
  float* data = malloc(n * sizeof *data);
  uint32_t s = 12345;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    data[i] = (float)(s >> 8) * (1.0f / 16777216.0f) * 8.0f - 4.0f;
  }
  mlx_array a = mlx_array_new_data(data, shape, nd, MLX_FLOAT32);
  free(data);
  mlx_array_eval(a);
  return a;
}

typedef int (*op_fn)(mlx_array* out, mlx_array a, mlx_stream s);

/* Median seconds of op(a) + eval, after one warm-up run. */
static double time_op(op_fn op, mlx_array a, mlx_stream s) {
  double times[RUNS];
  for (int r = 0; r <= RUNS; r++) {
    mlx_array c = mlx_array_new();
    double t0 = bench_now();
    op(&c, a, s);
    mlx_array_eval(c);
    double t = bench_now() - t0;
    if (r > 0) times[r - 1] = t;
    mlx_array_free(c);
  }
  return bench_median(times, RUNS);
}

static void report(const char* name, double seconds, double bytes, double copy_gbs) {
  double gbs = bytes / seconds / 1e9;
  printf("{\"bench\":\"%s\",\"seconds\":%.6f,\"bytes\":%.0f,\"GBps\":%.2f,"
         "\"copy_GBps\":%.2f,\"fraction_of_copy\":%.3f}\n",
         name, seconds, bytes, gbs, copy_gbs, gbs / copy_gbs);
}

static int sum_all(mlx_array* o, mlx_array a, mlx_stream s) {
  return mlx_sum(o, a, false, s);
}
static int sum_rows(mlx_array* o, mlx_array a, mlx_stream s) {
  return mlx_sum_axis(o, a, -1, false, s);
}
static int sum_cols(mlx_array* o, mlx_array a, mlx_stream s) {
  return mlx_sum_axis(o, a, 0, false, s);
}
static int softmax_last(mlx_array* o, mlx_array a, mlx_stream s) {
  return mlx_softmax_axis(o, a, -1, false, s);
}
static int logsumexp_last(mlx_array* o, mlx_array a, mlx_stream s) {
  return mlx_logsumexp_axis(o, a, -1, false, s);
}
static int cumsum_last(mlx_array* o, mlx_array a, mlx_stream s) {
  return mlx_cumsum(o, a, -1, false, true, s);
}
static int cumsum_first(mlx_array* o, mlx_array a, mlx_stream s) {
  return mlx_cumsum(o, a, 0, false, true, s);
}

int main(void) {
  mlx_stream s = mlx_default_cpu_stream_new();
  double copy_gbs = bench_copy_bandwidth(2);
  printf("{\"bench\":\"copy_bandwidth\",\"threads\":2,\"bytes\":1073741824,\"GBps\":%.2f}\n",
         copy_gbs);
  double read_gbs = bench_read_bandwidth(2);
  printf("{\"bench\":\"read_bandwidth\",\"threads\":2,\"bytes\":1073741824,\"GBps\":%.2f}\n",
         read_gbs);

  const double mib = 1048576.0;
  int flat = 16 << 20; /* 64 MiB of float32 */
  mlx_array a = random_f32(&flat, 1);
  report("sum_f32_64MiB", time_op(sum_all, a, s), 64 * mib + 4, copy_gbs);
  mlx_array_free(a);
  flat = 64 << 20; /* 256 MiB: 8x the last-level cache */
  a = random_f32(&flat, 1);
  report("sum_f32_256MiB", time_op(sum_all, a, s), 256 * mib + 4, copy_gbs);
  mlx_array_free(a);

  int sq[2] = {4096, 4096};
  a = random_f32(sq, 2);
  double m = 64 * mib, row = 4096 * 4.0;
  report("sum_f32_rows_4096x4096", time_op(sum_rows, a, s), m + row, copy_gbs);
  report("sum_f32_cols_4096x4096", time_op(sum_cols, a, s), m + row, copy_gbs);
  report("softmax_f32_4096x4096", time_op(softmax_last, a, s), 2 * m, copy_gbs);
  report("logsumexp_f32_4096x4096", time_op(logsumexp_last, a, s), m + row, copy_gbs);
  report("cumsum_f32_4096x4096_last", time_op(cumsum_last, a, s), 2 * m, copy_gbs);
  report("cumsum_f32_4096x4096_first", time_op(cumsum_first, a, s), 2 * m, copy_gbs);
  mlx_array_free(a);
  mlx_stream_free(s);
  return 0;
}
