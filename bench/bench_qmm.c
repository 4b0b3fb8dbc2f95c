/* bench_qmm.c - quantized_matmul through the mlx-c API, against the
 * machine's own ceilings measured in the same run.
 *
 * Ceilings (DECISIONS.md "How we measure"):
 * - read bandwidth: 2 threads summing a 1 GiB array (bench/common.c);
 * - FMA peak: 2 threads of independent float32 FMA chains (AVX-512 where
 *   the CPU has it, else AVX2), GFLOP/s;
 * - OpenBLAS sgemm on the same shape with the weights dequantized
 *   beforehand (dequantization not timed).
 * Cases: weights [N, K] = [4096, 4096] and [14336, 4096] (transpose =
 * true), affine 4-bit g64, affine 8-bit g64, mxfp4, quantized from
 * bfloat16 weights (MLX checkpoints: bfloat16 scales and biases);
 * activations bfloat16 and float32; M = 1, 4, 8, 16, 64, 512. Memory-bound
 * cases cycle through distinct copies of the weights, 512 MiB in all, so
 * they stream from memory; compute-bound ones (M >= 64) use two copies.
 *
 * One JSON line per case: median seconds per product, GB/s of weight bytes
 * (wq + scales + biases) and its ratio to the read bandwidth, GFLOP/s and
 * its ratios to the FMA peak and to sgemm (M >= 64). The first lines give
 * the CPU, the ISA in use, OpenBLAS's configuration and the ceilings.
 *
 * Usage: bench_qmm [reps] [quick|full] [format] [M]
 *   reps default 5; "quick": N = 4096 only; format (affine4_g64,
 *   affine8_g64, mxfp4; empty or "all": every one) picks one format, M
 *   one M or a comma-separated list (say 1,4,16).
 * QMM_SWEEP=v1,v2,... (environment) repeats the cases of M <= 8 once per
 * streaming-kernel variant (set_variant): tokens joined by '+', a number
 * the prefetch distance in bytes of the streaming kernels, "narrow" the
 * AVX-512 32/64-code kernels instead of the 128-code ones, "dot" the
 * vdpbf16ps kernels for bfloat16 x, "avx2" the AVX2 8-bit kernel,
 * "shifts" / "two" qmm_stream_variant's bits, "novnni" the float32 kernels
 * instead of the AVX512_VNNI ones for one row of bfloat16 x, "vnni<R>" the
 * VNNI kernels up to R rows, "nibbles" the VNNI affine kernel through
 * both nibbles, "default" none; lines then
 * carry "variant".
 * Lines of M <= 8 also give hot_GBps: the same product on one
 * copy of the weights again and again (cache-resident as far as the
 * caches hold it), so compute and overheads show apart from memory.
 * QMM_ISA=avx2 (or baseline) caps the instruction set of the kernels.
 * QMM_SHAPE=NxK (environment) replaces the shapes by [N, K] (say 5760x2880,
 * gpt-oss-20b's experts).
 * QMM_PROBE=1 first prints the time of affine 4-bit products (M = 1) on
 * single small matrices that stay in cache: the fixed cost of a call
 * (tiny N) and the kernels' speed without memory in the way. QMM_PROBE=2
 * times the streaming kernels alone on one thread (probe_kernels), for
 * each variant of QMM_PROBE_VARIANTS (comma-separated, set_variant's
 * names). */
#include <cblas.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/qmm_kernels.h"
#include "common.h"
#include "mlx/c/mlx.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define STREAM_BYTES (512.0 * 1024 * 1024)

/* ---- ceilings (read bandwidth: bench/common.c) ---- */



/* ---- probe (QMM_PROBE=1) ---- */

/* Seconds per product of one small cache-resident [N, K] matrix, and of
 * a tiny one (the fixed cost of a call). */
static void probe_calls(mlx_stream s) {
  const int shapes[4][2] = {{16, 128}, {16, 4096}, {512, 4096}, {2048, 4096}};
  for (int i = 0; i < 4; i++) {
    int N = shapes[i][0], K = shapes[i][1];
    mlx_array wf = bench_uniform(N, K, MLX_BFLOAT16, 7, s);
    mlx_vector_array q = mlx_vector_array_new();
    mlx_optional_int gs = {64, true}, bits = {4, true};
    mlx_quantize(&q, wf, gs, bits, "affine", mlx_array_new(), s);
    mlx_array parts[3] = {mlx_array_new(), mlx_array_new(), mlx_array_new()};
    size_t bytes = 0;
    for (int p = 0; p < 3; p++) {
      mlx_vector_array_get(&parts[p], q, (size_t)p);
      mlx_array_eval(parts[p]);
      bytes += mlx_array_nbytes(parts[p]);
    }
    for (int xi = 0; xi < 2; xi++) {
      mlx_array x = bench_uniform(1, K, xi ? MLX_FLOAT32 : MLX_BFLOAT16, 7, s);
      double t[5];
      int calls = 200;
      for (int r = -1; r < 5; r++) {
        double t0 = bench_now();
        for (int c = 0; c < calls; c++) {
          mlx_array out = mlx_array_new();
          mlx_quantized_matmul(&out, x, parts[0], parts[1], parts[2], true, gs, bits, "affine",
                               s);
          mlx_array_eval(out);
          mlx_array_free(out);
        }
        if (r >= 0) t[r] = (bench_now() - t0) / calls;
      }
      double sec = bench_median(t, 5);
      printf("{\"bench\":\"qmm_probe\",\"op\":\"affine4_g64 hot\",\"N\":%d,\"K\":%d,"
             "\"x\":\"%s\",\"us\":%.2f,\"GBps\":%.4g}\n",
             N, K, xi ? "float32" : "bfloat16", sec * 1e6, (double)bytes / sec / 1e9);
      fflush(stdout);
      mlx_array_free(x);
    }
    for (int p = 0; p < 3; p++) mlx_array_free(parts[p]);
    mlx_vector_array_free(q);
    mlx_array_free(wf);
  }
}

/* ---- kernel probe (QMM_PROBE=2) ---- */

static void set_variant(const char* name);

/* One thread, the streaming kernel the selection gives (AVX-512, else
 * AVX2) called directly for the format, x dtype and variant: G codes/s on
 * 16 weight rows of K = 2048 that stay in L1/L2 ("hot": the arithmetic
 * alone), and GB/s of packed weights streaming through 128 MiB of rows
 * ("stream": one core's share of memory, prefetches included; scales as
 * decoded floats, not counted). */
static void probe_kernels(const char* variants) {
  const struct {
    const char* name;
    quant_mode mode;
    int bits, gs;
  } fm[3] = {{"affine4_g64", QUANT_AFFINE, 4, 64},
             {"mxfp4", QUANT_MXFP4, 4, 32},
             {"affine8_g64", QUANT_AFFINE, 8, 64}};
  const int K = 2048, NB = 16;
  const size_t stream_bytes = (size_t)128 << 20;
  for (const char* v = variants; *v;) {
    char name[64];
    size_t len = strcspn(v, ",");
    snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), v);
    set_variant(name);
    for (int f = 0; f < 3; f++) {
      int64_t row_bytes = (int64_t)K * fm[f].bits / 8;
      int64_t rows = (int64_t)(stream_bytes / (size_t)row_bytes);
      uint32_t* wq = aligned_alloc(64, stream_bytes);
      int G = K / fm[f].gs;
      float* sc = malloc(sizeof(float) * (size_t)(NB * G) * 2);
      float* x = aligned_alloc(64, sizeof(float) * (size_t)K);
      void* xk = aligned_alloc(64, 8 * (size_t)K); /* any kernel's layout */
      float* xsum = malloc(sizeof(float) * (size_t)G);
      uint32_t seed = 12345;
      for (size_t i = 0; i < stream_bytes / 4; i++) {
        seed = seed * 1664525u + 1013904223u;
        wq[i] = seed;
      }
      for (int i = 0; i < NB * G * 2; i++) sc[i] = 0.5f + (float)(i % 7) * 0.1f;
      for (int i = 0; i < K; i++) x[i] = (float)((i * 37) % 17) * 0.05f - 0.4f;
      for (int g = 0; g < G; g++) xsum[g] = 1.0f;
      qmm_matrix w = {fm[f].mode, fm[f].bits, fm[f].gs, (int)rows, K, wq, row_bytes / 4,
                      NULL, NULL, MLX_FLOAT32, G};
      for (int xi = 0; xi < 2; xi++) {
        mlx_dtype xt = xi ? MLX_FLOAT32 : MLX_BFLOAT16;
        const qmm_stream_kernel* k = qmm_select_stream_kernel(&w, xt, 1, true);
        if (k->xprep) k->xprep(xk, x, K, fm[f].gs);
        else memcpy(xk, x, sizeof(float) * (size_t)K);
        float y[QMM_STREAM_MAX_ROWS * 16];
        qmm_stream_args a = {&w, 1, xk, K, xsum, sc, sc + NB * G, 0, NB, y, 16};
        double best = 1e30;
        for (int r = 0; r < 5; r++) {
          int iters = 2000;
          double t0 = bench_now();
          for (int i = 0; i < iters; i++) k->run(&a);
          double t = (bench_now() - t0) / iters;
          if (t < best) best = t;
        }
        double hot = (double)NB * K / best / 1e9;
        double tbest = 1e30;
        for (int r = 0; r < 3; r++) {
          double t0 = bench_now();
          for (int64_t n0 = 0; n0 + NB <= rows; n0 += NB) {
            a.n0 = (int)n0;
            k->run(&a);
          }
          double t = bench_now() - t0;
          if (t < tbest) tbest = t;
        }
        a.n0 = 0;
        printf("{\"bench\":\"qmm_kernel\",\"format\":\"%s\",\"x\":\"%s\",\"kernel\":\"%s\","
               "\"variant\":\"%s\",\"hot_Gcodes\":%.4g,\"hot_GBps\":%.4g,"
               "\"stream_GBps\":%.4g,\"y0\":%.4g}\n",
               fm[f].name, xi ? "float32" : "bfloat16", k->name, name, hot,
               hot * fm[f].bits / 8, (double)(rows / NB * NB) * row_bytes / tbest / 1e9, y[0]);
        fflush(stdout);
      }
      free(wq);
      free(sc);
      free(x);
      free(xk);
      free(xsum);
    }
    v += len;
    if (*v == ',') v++;
  }
  set_variant("");
}

/* ---- cases ---- */

typedef struct qformat {
  const char* name;
  const char* mode;
  int bits, group_size;
} qformat;

typedef struct weights {
  int copies;
  mlx_array *wq, *scales, *biases;
  size_t bytes; /* of one copy */
} weights;

static weights make_weights(const qformat* f, int N, int K, mlx_stream s) {
  weights w = {0};
  mlx_array wf = bench_uniform(N, K, MLX_BFLOAT16, 7, s);
  mlx_vector_array q = mlx_vector_array_new();
  mlx_optional_int gs = {f->group_size, true}, bits = {f->bits, true};
  mlx_quantize(&q, wf, gs, bits, f->mode, mlx_array_new(), s);
  mlx_array parts[3] = {mlx_array_new(), mlx_array_new(), mlx_array_new()};
  size_t np = mlx_vector_array_size(q);
  for (size_t i = 0; i < np; i++) {
    mlx_vector_array_get(&parts[i], q, i);
    mlx_array_eval(parts[i]);
    w.bytes += mlx_array_nbytes(parts[i]);
  }
  w.copies = (int)(STREAM_BYTES / (double)w.bytes + 0.5);
  if (w.copies < 2) w.copies = 2;
  w.wq = calloc((size_t)w.copies, sizeof(mlx_array));
  w.scales = calloc((size_t)w.copies, sizeof(mlx_array));
  w.biases = calloc((size_t)w.copies, sizeof(mlx_array));
  for (int c = 0; c < w.copies; c++) {
    mlx_array* dst[3] = {&w.wq[c], &w.scales[c], &w.biases[c]};
    for (int i = 0; i < 3; i++) *dst[i] = mlx_array_new();
    for (size_t i = 0; i < np; i++) {
      mlx_copy(dst[i], parts[i], s);
      mlx_array_eval(*dst[i]);
    }
  }
  for (int i = 0; i < 3; i++) mlx_array_free(parts[i]);
  mlx_vector_array_free(q);
  mlx_array_free(wf);
  return w;
}

static void free_weights(weights* w) {
  for (int c = 0; c < w->copies; c++) {
    mlx_array_free(w->wq[c]);
    mlx_array_free(w->scales[c]);
    mlx_array_free(w->biases[c]);
  }
  free(w->wq);
  free(w->scales);
  free(w->biases);
}

/* Seconds of sgemm [M, K] x [K, N]^T on dequantized float32 weights. */
static double sgemm_seconds(int M, int N, int K, int reps) {
  float* a = malloc(sizeof(float) * (size_t)M * K);
  float* b = malloc(sizeof(float) * (size_t)N * K);
  float* c = malloc(sizeof(float) * (size_t)M * N);
  for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 13) * 0.01f;
  for (size_t i = 0; i < (size_t)N * K; i++) b[i] = (float)(i % 7) * 0.01f;
  double t[16];
  for (int r = -1; r < reps; r++) {
    double t0 = bench_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
    if (r >= 0) t[r] = bench_now() - t0;
  }
  free(a);
  free(b);
  free(c);
  return bench_median(t, reps);
}

/* Median seconds per product over reps rounds of `copies` products, the
 * copies cycling through w's (distinct: true) or all on copy 0. */
static double time_products(const qformat* f, weights* w, mlx_array x, int copies, bool distinct,
                            int reps, mlx_stream s) {
  mlx_optional_int gs = {f->group_size, true}, bits = {f->bits, true};
  double t[16];
  for (int r = -1; r < reps; r++) {
    double t0 = bench_now();
    for (int c = 0; c < copies; c++) {
      int i = distinct ? c : 0;
      mlx_array out = mlx_array_new();
      mlx_quantized_matmul(&out, x, w->wq[i], w->scales[i], w->biases[i], true, gs, bits,
                           f->mode, s);
      mlx_array_eval(out);
      mlx_array_free(out);
    }
    if (r >= 0) t[r] = (bench_now() - t0) / copies;
  }
  return bench_median(t, reps);
}

static void bench_case(const qformat* f, weights* w, int N, int K, int M, mlx_dtype xt, int reps,
                       double read_bw, double peak, const char* variant, mlx_stream s) {
  mlx_array x = bench_uniform(M, K, xt, 7, s);
  int copies = M >= 64 ? 2 : w->copies;
  double sec = time_products(f, w, x, copies, true, reps, s);
  double gbps = (double)w->bytes / sec / 1e9;
  double gflops = 2.0 * M * (double)N * K / sec / 1e9;
  printf("{\"bench\":\"qmm\",\"format\":\"%s\",\"N\":%d,\"K\":%d,\"M\":%d,\"x\":\"%s\","
         "\"seconds\":%.6g,\"weight_GBps\":%.4g,\"read_bw_ratio\":%.3f,\"gflops\":%.4g",
         f->name, N, K, M, xt == MLX_BFLOAT16 ? "bfloat16" : "float32", sec, gbps,
         gbps / read_bw, gflops);
  if (variant) printf(",\"variant\":\"%s\"", variant);
  if (M <= 8) {
    double hot = time_products(f, w, x, copies, false, reps, s);
    printf(",\"hot_GBps\":%.4g", (double)w->bytes / hot / 1e9);
  }
  if (M >= 64) {
    double sg = sgemm_seconds(M, N, K, reps);
    printf(",\"fma_peak_ratio\":%.3f,\"sgemm_gflops\":%.4g,\"sgemm_ratio\":%.3f",
           peak > 0 ? gflops / peak : 0, 2.0 * M * (double)N * K / sg / 1e9, sg / sec);
  }
  printf("}\n");
  fflush(stdout);
  mlx_array_free(x);
}

/* Sets the streaming kernels' knobs (qmm_kernels.h) from a variant name:
 * tokens joined by '+', each a prefetch distance in bytes or one of
 * "default", "narrow", "dot", "avx2", "shifts", "two"; the knobs not named
 * take their defaults. */
static void set_variant(const char* name) {
  qmm_stream_narrow_only = false;
  qmm_stream_prefetch_bytes = 4096;
  qmm_stream_bf16_dot = false;
  qmm_stream_avx2_8bit = false;
  qmm_stream_variant = 0;
  qmm_stream_vnni = true;
  qmm_stream_vnni_rows = 2;
  for (const char* t = name; *t;) {
    size_t len = strcspn(t, "+");
    char tok[32];
    snprintf(tok, sizeof tok, "%.*s", (int)(len < 31 ? len : 31), t);
    if (strcmp(tok, "narrow") == 0) qmm_stream_narrow_only = true;
    else if (strcmp(tok, "dot") == 0) qmm_stream_bf16_dot = true;
    else if (strcmp(tok, "avx2") == 0) qmm_stream_avx2_8bit = true;
    else if (strcmp(tok, "shifts") == 0) qmm_stream_variant |= 2;
    else if (strcmp(tok, "two") == 0) qmm_stream_variant |= 4;
    else if (strcmp(tok, "novnni") == 0) qmm_stream_vnni = false;
    else if (strcmp(tok, "nibbles") == 0) qmm_stream_variant |= 8;
    else if (strncmp(tok, "vnni", 4) == 0) qmm_stream_vnni_rows = atoi(tok + 4);
    else if (tok[0] >= '0' && tok[0] <= '9') qmm_stream_prefetch_bytes = atoi(tok);
    t += len;
    if (*t == '+') t++;
  }
}

/* Whether M is in the comma-separated list (NULL or empty: every M). */
static bool m_selected(const char* list, int m) {
  if (!list || !*list) return true;
  for (const char* p = list; *p;) {
    char* end;
    long v = strtol(p, &end, 10);
    if (end == p) return false;
    if (v == m) return true;
    p = *end == ',' ? end + 1 : end;
  }
  return false;
}

int main(int argc, char** argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 5;
  bool quick = argc > 2 && strcmp(argv[2], "quick") == 0;
  const char* only_format = argc > 3 ? argv[3] : NULL;
  const char* only_m = argc > 4 ? argv[4] : NULL;
  if (reps < 1 || reps > 16) reps = 5;
  mlx_stream s = mlx_default_cpu_stream_new();
  char model[256];
  bench_cpu_model(model, sizeof model);
  int lanes;
  double read_bw = bench_read_bandwidth(2);
  double peak = bench_fma_peak(12500000, &lanes);
  const char* isa_cap = getenv("QMM_ISA"); /* baseline, avx2: cap the kernels' ISA */
  cpu_isa_level isa = cpu_isa();
  if (isa_cap && strcmp(isa_cap, "avx2") == 0) isa = cpu_qmm_set_isa_cap(CPU_ISA_AVX2);
  if (isa_cap && strcmp(isa_cap, "baseline") == 0) isa = cpu_qmm_set_isa_cap(CPU_ISA_BASELINE);
  printf("{\"bench\":\"qmm\",\"cpu\":\"%s\",\"isa\":\"%s\",\"avx512_bf16\":%s,"
         "\"openblas_config\":\"%s\",\"openblas_threads\":%d}\n",
         model, cpu_isa_name(isa), cpu_has_avx512_bf16() ? "true" : "false",
         openblas_get_config(), openblas_get_num_threads());
  printf("{\"bench\":\"qmm\",\"read_bw_GBps\":%.4g,\"fma_peak_gflops\":%.4g,\"fma_lanes\":%d}\n",
         read_bw, peak, lanes);
  fflush(stdout);
  const char* probe = getenv("QMM_PROBE");
  if (probe && *probe == '1') {
    probe_calls(s);
  }
  if (probe && *probe == '2') {
    const char* pv = getenv("QMM_PROBE_VARIANTS");
    probe_kernels(pv && *pv ? pv : "default");
  }
  const qformat fmts[3] = {{"affine4_g64", "affine", 4, 64},
                           {"affine8_g64", "affine", 8, 64},
                           {"mxfp4", "mxfp4", 4, 32}};
  int shapes[2][2] = {{4096, 4096}, {14336, 4096}};
  int n_shapes = quick ? 1 : 2;
  const char* shape_env = getenv("QMM_SHAPE"); /* NxK: that shape alone */
  if (shape_env && sscanf(shape_env, "%dx%d", &shapes[0][0], &shapes[0][1]) == 2 &&
      shapes[0][0] > 0 && shapes[0][1] > 0)
    n_shapes = 1;
  const int ms[7] = {1, 2, 4, 8, 16, 64, 512}; /* M = 2 only when asked for */
  const mlx_dtype xts[2] = {MLX_BFLOAT16, MLX_FLOAT32};
  for (int sh = 0; sh < n_shapes; sh++)
    for (int f = 0; f < 3; f++) {
      if (only_format && *only_format && strcmp(only_format, "all") != 0 &&
          strcmp(only_format, fmts[f].name) != 0)
        continue;
      int N = shapes[sh][0], K = shapes[sh][1];
      weights w = make_weights(&fmts[f], N, K, s);
      const char* sweep = getenv("QMM_SWEEP");
      for (int mi = 0; mi < 7; mi++) {
        if (!m_selected(only_m, ms[mi]) || (ms[mi] == 2 && (!only_m || !*only_m))) continue;
        if (!sweep || !*sweep || ms[mi] > 8) {
          for (int xi = 0; xi < 2; xi++)
            bench_case(&fmts[f], &w, N, K, ms[mi], xts[xi], reps, read_bw, peak, NULL, s);
          continue;
        }
        for (const char* v = sweep; *v;) {
          char name[32];
          size_t len = strcspn(v, ",");
          snprintf(name, sizeof name, "%.*s", (int)(len < 31 ? len : 31), v);
          set_variant(name);
          for (int xi = 0; xi < 2; xi++)
            bench_case(&fmts[f], &w, N, K, ms[mi], xts[xi], reps, read_bw, peak, name, s);
          v += len;
          if (*v == ',') v++;
        }
        set_variant("");
      }
      free_weights(&w);
    }
  mlx_stream_free(s);
  return 0;
}
