/* bench_sdpa.c - mlx_fast_scaled_dot_product_attention on the CPU against
 * the ceilings measured in the same run.
 *
 * Prints one JSON line per case:
 *  - read_bandwidth: a 2-thread loop summing a 1 GiB float32 array;
 *  - fma_peak: 2 threads of independent float32 FMA chains (AVX-512 when
 *    the CPU has it, else AVX2), GFLOP/s;
 *  - sdpa_prefill_bf16: B=1, N_q=32, N_kv=8, D=64, T_q=T_kv=2048, causal.
 *    FLOPs = 4 * B * N_q * D * T(T+1)/2 (q.k and p.v for the visible
 *    pairs), over the median time;
 *  - sdpa_decode_bf16: the same heads, T_q=1 over a K/V cache of at least
 *    8x the last-level cache; bytes = K + V + q + out, over the median
 *    time, and the fraction of the read bandwidth.
 * Each attention line also reports memory: the inputs' size, the peak
 * resident memory the first call added (VmHWM after resetting it, minus
 * the resident memory before: the output and the kernel's scratch), and
 * the size a materialised [N_q, T_q, T_kv] float32 score matrix would
 * have had. Times are medians of the calls after the first. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <immintrin.h>

#include <mlx/c/mlx.h>

#include "common.h"

/* ---- memory ---- */

/* A field of /proc/self/status in KiB. */
static long status_kib(const char* field) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, field, n) && line[n] == ':') v = atol(line + n + 1);
  fclose(f);
  return v;
}

static void reset_peak(void) {
  FILE* f = fopen("/proc/self/clear_refs", "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
}

/* The last-level cache of CPU 0 (sysfs; sysconf may report the host's). */
static size_t llc_bytes(void) {
  size_t best = 0;
  for (int i = 0; i < 8; i++) {
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    FILE* f = fopen(path, "r");
    if (!f) break;
    char unit = 0;
    unsigned long v = 0;
    if (fscanf(f, "%lu%c", &v, &unit) >= 1) {
      size_t bytes = v * (unit == 'M' ? 1048576 : unit == 'K' ? 1024 : 1);
      if (bytes > best) best = bytes;
    }
    fclose(f);
  }
  return best ? best : (size_t)32 << 20;
}

/* ---- attention ---- */

static mlx_array random_bf16(int b, int n, int t, int d, uint32_t seed) {
  int shape[4] = {b, n, t, d};
  size_t count = (size_t)b * n * t * d;
  float* data = malloc(count * sizeof *data);
  uint32_t s = seed;
  for (size_t i = 0; i < count; i++) {
    s = s * 1664525u + 1013904223u;
    data[i] = (float)(s >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
  }
  mlx_array f = mlx_array_new_data(data, shape, 4, MLX_FLOAT32);
  free(data);
  mlx_array a = mlx_array_new();
  mlx_stream s0 = mlx_default_cpu_stream_new();
  mlx_astype(&a, f, MLX_BFLOAT16, s0);
  mlx_array_eval(a);
  mlx_array_free(f);
  mlx_stream_free(s0);
  return a;
}

typedef struct timing {
  double seconds;
  double extra_mib; /* peak resident memory added by one call */
} timing;

static timing time_sdpa(mlx_array q, mlx_array k, mlx_array v, const char* mode, int runs,
                        mlx_stream s) {
  double times[32];
  timing r = {0, 0};
  mlx_array none = mlx_array_new();
  float scale = 0.125f;
  for (int i = 0; i <= runs; i++) {
    mlx_array o = mlx_array_new();
    long before = status_kib("VmRSS");
    reset_peak();
    double t0 = bench_now();
    mlx_fast_scaled_dot_product_attention(&o, q, k, v, scale, mode, none, none, s);
    mlx_array_eval(o);
    double t = bench_now() - t0;
    long peak = status_kib("VmHWM");
    if (i > 0) times[i - 1] = t;
    /* the first call: later ones reuse buffers the allocator keeps */
    if (i == 0) r.extra_mib = (double)(peak - before) / 1024.0;
    mlx_array_free(o);
  }
  r.seconds = bench_median(times, runs);
  return r;
}

int main(void) {
  mlx_stream s = mlx_default_cpu_stream_new();
  const double mib = 1048576.0;
  char cpu[256];
  bench_cpu_model(cpu, sizeof cpu);
  double read_gbs = bench_read_bandwidth(2);
  printf("{\"bench\":\"read_bandwidth\",\"cpu\":\"%s\",\"threads\":2,\"bytes\":1073741824,"
         "\"GBps\":%.2f}\n",
         cpu, read_gbs);
  int lanes = 0;
  double peak = bench_fma_peak(5000000, &lanes);
  const char* isa = lanes == 16 ? "avx512" : lanes == 8 ? "avx2" : "none";
  printf("{\"bench\":\"fma_peak\",\"threads\":2,\"isa\":\"%s\",\"GFLOPs\":%.1f}\n", isa,
         peak);

  const int B = 1, NQ = 32, NKV = 8, D = 64;
  {
    int T = 2048;
    mlx_array q = random_bf16(B, NQ, T, D, 1), k = random_bf16(B, NKV, T, D, 2),
              v = random_bf16(B, NKV, T, D, 3);
    timing t = time_sdpa(q, k, v, "causal", 7, s);
    double flops = 4.0 * B * NQ * D * ((double)T * (T + 1) / 2);
    double in_mib = ((double)B * NQ * T * D + 2.0 * B * NKV * T * D) * 2 / mib;
    printf("{\"bench\":\"sdpa_prefill_bf16\",\"B\":%d,\"N_q\":%d,\"N_kv\":%d,\"D\":%d,\"T\":%d,"
           "\"mask\":\"causal\",\"seconds\":%.5f,\"GFLOPs\":%.1f,\"fraction_of_fma_peak\":%.3f,"
           "\"inputs_MiB\":%.1f,\"extra_peak_MiB\":%.2f,\"score_matrix_MiB\":%.0f}\n",
           B, NQ, NKV, D, T, t.seconds, flops / t.seconds / 1e9,
           peak > 0 ? flops / t.seconds / 1e9 / peak : 0, in_mib, t.extra_mib,
           (double)NQ * T * T * 4 / mib);
    mlx_array_free(q);
    mlx_array_free(k);
    mlx_array_free(v);
  }
  {
    size_t llc = llc_bytes();
    size_t per_token = (size_t)2 * B * NKV * D * 2; /* K and V, bfloat16 */
    int T = (int)((8 * llc + per_token - 1) / per_token);
    T = (T + 1023) / 1024 * 1024;
    mlx_array q = random_bf16(B, NQ, 1, D, 4), k = random_bf16(B, NKV, T, D, 5),
              v = random_bf16(B, NKV, T, D, 6);
    timing t = time_sdpa(q, k, v, "", 21, s);
    double bytes = (double)per_token * T + 2.0 * B * NQ * D * 2;
    double gbs = bytes / t.seconds / 1e9;
    printf("{\"bench\":\"sdpa_decode_bf16\",\"B\":%d,\"N_q\":%d,\"N_kv\":%d,\"D\":%d,\"T_q\":1,"
           "\"T_kv\":%d,\"kv_MiB\":%.1f,\"llc_MiB\":%.1f,\"seconds\":%.6f,\"GBps\":%.2f,"
           "\"read_GBps\":%.2f,\"fraction_of_read\":%.3f,\"extra_peak_MiB\":%.2f,"
           "\"score_matrix_MiB\":%.0f}\n",
           B, NQ, NKV, D, T, (double)per_token * T / mib, (double)llc / mib, t.seconds, gbs,
           read_gbs, gbs / read_gbs, t.extra_mib, (double)NQ * T * 4 / mib);
    mlx_array_free(q);
    mlx_array_free(k);
    mlx_array_free(v);
  }
  mlx_stream_free(s);
  return 0;
}
