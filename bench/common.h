/* common.h - what every benchmark shares: a clock, medians, the machine's
 * name and the ceilings DECISIONS.md defines, measured in the same run:
 *   copy bandwidth: a 2-thread memcpy of 1 GiB, bytes read + written;
 *   read bandwidth: a 2-thread loop summing a 1 GiB float array;
 *   FMA peak: 2 threads of 12 independent float32 FMA chains, 512-bit
 *   where the CPU has AVX-512F, else 256-bit (AVX2+FMA).
 * Buffers hold non-zero bytes (a zeroed allocation may map the shared zero
 * page and fake a bandwidth no real data gets). */
#ifndef CMLX_BENCH_COMMON_H
#define CMLX_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "mlx/c/mlx.h"

double bench_now(void);                 /* seconds, monotonic */
double bench_median(double* v, int n);  /* sorts v */
void bench_cpu_model(char* out, size_t n);
double bench_copy_bandwidth(int threads); /* GB/s */
double bench_read_bandwidth(int threads); /* GB/s */
/* GFLOP/s (median of 3 runs of `iters` iterations per thread; 0 without
 * FMA); *lanes (may be NULL) is set to 16, 8 or 0. */
double bench_fma_peak(long iters, int* lanes);

/* A [rows, cols] array of dtype t, uniform in [-1, 1) from random key
 * `seed`, evaluated. */
mlx_array bench_uniform(int rows, int cols, mlx_dtype t, uint64_t seed, mlx_stream s);

#endif
