/* common.h - what every benchmark shares: a clock, medians, the machine's
 * name and the ceilings DECISIONS.md defines, measured in the same run:
 *   copy bandwidth: a 2-thread memcpy of 1 GiB, bytes read + written;
 *   read bandwidth: a 2-thread loop summing a 1 GiB float array.
 * Buffers hold non-zero bytes (a zeroed allocation may map the shared zero
 * page and fake a bandwidth no real data gets). */
#ifndef CMLX_BENCH_COMMON_H
#define CMLX_BENCH_COMMON_H

#include <stddef.h>

double bench_now(void);                 /* seconds, monotonic */
double bench_median(double* v, int n);  /* sorts v */
void bench_cpu_model(char* out, size_t n);
double bench_copy_bandwidth(int threads); /* GB/s */
double bench_read_bandwidth(int threads); /* GB/s */

#endif
