/* common.c - see common.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define CEILING_BYTES ((size_t)1 << 30)
#define CEILING_RUNS 7
#define MAX_THREADS 64

double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

double bench_median(double* v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void bench_cpu_model(char* out, size_t n) {
  snprintf(out, n, "unknown");
  FILE* f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char* p = strchr(line, ':');
      if (p) {
        p += 2;
        p[strcspn(p, "\n")] = 0;
        snprintf(out, n, "%s", p);
      }
      break;
    }
  }
  fclose(f);
}

typedef struct part {
  char* dst;
  const char* src;
  size_t n;
  double sum;
} part;

static void* copy_part(void* p) {
  part* j = p;
  memcpy(j->dst, j->src, j->n);
  return NULL;
}

static void* sum_part(void* p) {
  part* j = p;
  const float* x = (const float*)j->src;
  size_t n = j->n / sizeof(float);
  float acc[32] = {0};
  for (size_t i = 0; i + 32 <= n; i += 32)
    for (int k = 0; k < 32; k++) acc[k] += x[i + k];
  double s = 0;
  for (int k = 0; k < 32; k++) s += acc[k];
  j->sum = s;
  return NULL;
}

/* fn over `threads` slices of 1 GiB; GB/s of factor x the bytes. */
static double ceiling(void* (*fn)(void*), int threads, double factor, int need_dst) {
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  size_t bytes = CEILING_BYTES, slice = bytes / (size_t)threads;
  char* src = malloc(bytes);
  char* dst = need_dst ? malloc(bytes) : NULL;
  if (!src || (need_dst && !dst)) {
    free(src);
    free(dst);
    return 0;
  }
  memset(src, 1, bytes);
  if (dst) memset(dst, 2, bytes);
  double times[CEILING_RUNS], sink = 0;
  for (int r = 0; r < CEILING_RUNS; r++) {
    pthread_t t[MAX_THREADS];
    part jobs[MAX_THREADS];
    double t0 = bench_now();
    for (int i = 0; i < threads; i++) {
      jobs[i] = (part){dst ? dst + i * slice : NULL, src + i * slice, slice, 0};
      pthread_create(&t[i], NULL, fn, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    times[r] = bench_now() - t0;
    sink += jobs[0].sum;
  }
  free(src);
  free(dst);
  if (sink == 1.0) printf("# %g\n", sink); /* keeps the sums alive */
  return factor * (double)bytes / bench_median(times, CEILING_RUNS) / 1e9;
}

double bench_copy_bandwidth(int threads) {
  return ceiling(copy_part, threads, 2.0, 1);
}

double bench_read_bandwidth(int threads) {
  return ceiling(sum_part, threads, 1.0, 0);
}

/* ---- FMA peak ---- */

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static float fma_chains512(long iters) {
  __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f), acc[12];
  for (int j = 0; j < 12; j++) acc[j] = _mm512_set1_ps((float)j);
  for (long i = 0; i < iters; i++)
    for (int j = 0; j < 12; j++) acc[j] = _mm512_fmadd_ps(acc[j], m, a);
  for (int j = 1; j < 12; j++) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"))) static float fma_chains256(long iters) {
  __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f), acc[12];
  for (int j = 0; j < 12; j++) acc[j] = _mm256_set1_ps((float)j);
  for (long i = 0; i < iters; i++)
    for (int j = 0; j < 12; j++) acc[j] = _mm256_fmadd_ps(acc[j], m, a);
  for (int j = 1; j < 12; j++) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  float v[8];
  _mm256_storeu_ps(v, acc[0]);
  return v[0];
}
#endif

typedef struct fma_arg {
  long iters;
  int lanes;
  volatile float out; /* keeps the chains alive */
} fma_arg;

static void* fma_thread(void* p) {
  fma_arg* a = p;
#if defined(__x86_64__) && defined(__GNUC__)
  a->out = a->lanes == 16 ? fma_chains512(a->iters) : fma_chains256(a->iters);
#endif
  return NULL;
}

double bench_fma_peak(long iters, int* lanes) {
  int l = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  l = __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("fma") ? 8 : 0;
#endif
  if (lanes) *lanes = l;
  if (!l) return 0;
  double t[3];
  for (int r = 0; r < 3; r++) {
    fma_arg a[2] = {{iters, l, 0}, {iters, l, 0}};
    pthread_t th;
    double t0 = bench_now();
    pthread_create(&th, NULL, fma_thread, &a[1]);
    fma_thread(&a[0]);
    pthread_join(th, NULL);
    t[r] = bench_now() - t0;
  }
  return 2.0 * 2 * 12 * l * (double)iters / bench_median(t, 3) / 1e9;
}

mlx_array bench_uniform(int rows, int cols, mlx_dtype t, uint64_t seed, mlx_stream s) {
  int shape[2] = {rows, cols};
  mlx_array key = mlx_array_new(), r = mlx_array_new(), c = mlx_array_new();
  mlx_array lo = mlx_array_new_float32(-1.0f), hi = mlx_array_new_float32(1.0f);
  mlx_random_key(&key, seed);
  mlx_random_uniform(&r, lo, hi, shape, 2, MLX_FLOAT32, key, s);
  mlx_astype(&c, r, t, s);
  mlx_array_eval(c);
  mlx_array_free(key);
  mlx_array_free(r);
  mlx_array_free(lo);
  mlx_array_free(hi);
  return c;
}
