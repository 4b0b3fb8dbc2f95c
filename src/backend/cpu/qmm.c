/* qmm.c - the CPU driver of QuantizedMatmul, GatherQMM and QQMatmul (node
 * contracts in qmm.h; microkernels behind qmm_kernels.h).
 *
 * A node becomes a list of output rows, each naming a row of x and the
 * weight matrix it meets (the batch of w, the gathered expert). Rows that
 * meet the same matrix form one job, so every matrix is streamed from
 * memory once per node however the rows were scattered (MoE tokens sorted
 * or not). A job converts its rows of x to float32 once, then:
 * - up to QMM_STREAM_MAX_ROWS rows (decode): a streaming kernel reads each
 *   packed weight once and applies it to every row; threads split the
 *   output columns (one or two rows of finite bfloat16 / float16 x against
 *   4-bit codes: the AVX512_VNNI kernels, x in 24-bit fixed point per lane
 *   of 8 values, integer sums);
 * - more rows (prefill), transpose = true: BLIS-style GEMM (qmm_gemm.h);
 *   x is packed in blocks of rows, threads split groups of panels of
 *   weight rows, each decodes its panels a K-chunk at a time for a per-ISA
 *   microkernel (float32 FMA on dequantized weights, or vdpbf16ps on the
 *   exact element values with per-group scales for bfloat16 x where the
 *   CPU runs it fast) and runs it over every packed row;
 * - otherwise (transpose = false, or no vector ISA): tiles of the weights
 *   are dequantized to float32 and multiplied by OpenBLAS's sgemm.
 * Sums are float32; each output is rounded once to the output dtype.
 * Kernel choice lives in qmm_select_stream_kernel() and select_gemm_kernel(). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/qmm.h"
#include "backend/cpu/qmm_gemm.h"
#include "backend/cpu/qmm_kernels.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"
#include "core/half.h"

/* ------------------------------------------------------------------------
 * Kernel choice
 * ---------------------------------------------------------------------- */

static _Atomic cpu_isa_level isa_cap = CPU_ISA_AVX512;

static cpu_isa_level qmm_isa(void) {
  cpu_isa_level l = cpu_isa(), cap = isa_cap;
  return l < cap ? l : cap;
}

cpu_isa_level cpu_qmm_set_isa_cap(cpu_isa_level cap) {
  isa_cap = cap;
  return qmm_isa();
}

static bool use_bf16(void) {
  return qmm_isa() >= CPU_ISA_AVX512 && cpu_has_avx512_bf16();
}

/* false when the environment variable `name` is "0" (read once into
 * *state): CMLX_QMM_VNNI=0 and CMLX_QMM_AMX=0 turn those kernels off, for
 * comparisons of whole models (cmlx bench). */
static bool env_allows(_Atomic int* state, const char* name) {
  int v = *state;
  if (v < 0) {
    const char* e = getenv(name);
    v = !(e && strcmp(e, "0") == 0);
    *state = v;
  }
  return v != 0;
}

static bool vnni_allowed(void) {
  static _Atomic int state = -1;
  return env_allows(&state, "CMLX_QMM_VNNI");
}

const qmm_stream_kernel* qmm_select_stream_kernel(const qmm_matrix* w, mlx_dtype x_dtype,
                                                  int rows, bool x_finite) {
  cpu_isa_level l = qmm_isa();
  const qmm_stream_kernel* k = NULL;
  if (l >= CPU_ISA_AVX512 && cpu_has_avx512_vnni() && qmm_stream_vnni && x_finite &&
      rows <= qmm_stream_vnni_rows && vnni_allowed())
    k = qmm_avx512_vnni_stream_kernel(w->mode, w->bits, w->group_size, w->cols, x_dtype);
  if (!k && l >= CPU_ISA_AVX512)
    k = qmm_avx512_stream_kernel(w->mode, w->bits, w->group_size, w->cols, x_dtype, use_bf16());
  if (!k && l >= CPU_ISA_AVX2)
    k = qmm_avx2_stream_kernel(w->mode, w->bits, w->group_size, w->cols, x_dtype);
  return k ? k : &qmm_generic_stream;
}

/* The GEMM kernel for many rows, or NULL (then dequantized tiles and
 * OpenBLAS's sgemm). */
bool qgemm_amx = true;

static bool amx_allowed(void) {
  static _Atomic int state = -1;
  return qgemm_amx && env_allows(&state, "CMLX_QMM_AMX");
}

static const qgemm_kernel* select_gemm_kernel(const qmm_matrix* w, bool transpose,
                                              mlx_dtype x_dtype) {
  cpu_isa_level l = qmm_isa();
  if (!transpose) return NULL;
  if (l >= CPU_ISA_AVX512 && cpu_has_amx_bf16() && amx_allowed()) {
    const qgemm_kernel* k = qgemm_amx_kernel(w, x_dtype);
    if (k) return k;
  }
  if (l >= CPU_ISA_AVX512) return qgemm_avx512_kernel(w, x_dtype, use_bf16());
  if (l >= CPU_ISA_AVX2) return qgemm_avx2_kernel(w, x_dtype);
  return NULL;
}

/* ------------------------------------------------------------------------
 * Conversions
 * ---------------------------------------------------------------------- */

CPU_KERNEL static void load_f16(float* restrict dst, const uint16_t* restrict src, int64_t n,
                                 int64_t st) {
  if (st == 1)
    for (int64_t i = 0; i < n; i++) dst[i] = qmm_f16_to_f32(src[i]);
  else
    for (int64_t i = 0; i < n; i++) dst[i] = qmm_f16_to_f32(src[i * st]);
}
CPU_KERNEL static void load_bf16(float* restrict dst, const uint16_t* restrict src, int64_t n,
                                  int64_t st) {
  if (st == 1)
    for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
  else
    for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i * st]);
}
CPU_KERNEL static void store_f16(uint16_t* dst, const float* src, int64_t n, float mul) {
  for (int64_t i = 0; i < n; i++) dst[i] = f32_to_f16(src[i] * mul);
}
CPU_KERNEL static void store_bf16(uint16_t* dst, const float* src, int64_t n, float mul) {
  for (int64_t i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i] * mul);
}

/* n values of a row of dtype t (element stride st) as float32. */
static void load_row(float* dst, const void* src, mlx_dtype t, int64_t n, int64_t st) {
  if (t == MLX_FLOAT16) {
    load_f16(dst, src, n, st);
  } else if (t == MLX_BFLOAT16) {
    load_bf16(dst, src, n, st);
  } else if (st == 1) {
    memcpy(dst, src, sizeof(float) * (size_t)n);
  } else {
    for (int64_t i = 0; i < n; i++) dst[i] = ((const float*)src)[i * st];
  }
}

/* n float32 sums times mul, rounded to dtype t. */
static void store_row(void* dst, const float* src, mlx_dtype t, int64_t n, float mul) {
  if (t == MLX_FLOAT16) {
    store_f16(dst, src, n, mul);
  } else if (t == MLX_BFLOAT16) {
    store_bf16(dst, src, n, mul);
  } else if (mul == 1.0f) {
    memcpy(dst, src, sizeof(float) * (size_t)n);
  } else {
    for (int64_t i = 0; i < n; i++) ((float*)dst)[i] = src[i] * mul;
  }
}

static float round_to(float v, mlx_dtype t) {
  if (t == MLX_FLOAT16) return f16_to_f32(f32_to_f16(v));
  if (t == MLX_BFLOAT16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

/* ------------------------------------------------------------------------
 * qqmm: quantize and dequantize x (MLX's fp_quantize_dequantize)
 * ---------------------------------------------------------------------- */

typedef struct qmm_xform {
  quant_mode mode;
  int group_size, bits;
  mlx_dtype dtype;     /* x's: every result is rounded to it */
  bool global;         /* nvfp4 with global_scale_x */
  float global_scale;
} qmm_xform;

/* MLX's to_fp8_e8m0: the power of two nearest amax/Emax in log space
 * (round half away from zero), exponent clamped to +-127. A zero group
 * gets the smallest code (MLX's float-to-int of -inf, made explicit). */
static uint8_t e8m0_round(float x) {
  if (!isfinite(x)) return 0xFF;
  if (x < 0.0f) return 0x00;
  if (x == 0.0f) return 0x00;
  int n = (int)roundf(log2f(x));
  n = n < -127 ? -127 : n > 127 ? 127 : n;
  return (uint8_t)(n + 127);
}

/* MLX's to_fp4_e2m1: round to nearest even by thresholds, sign kept, NaN
 * to +6. */
static uint8_t e2m1_round(float x) {
  if (isnan(x)) return 0x7;
  uint8_t sign = signbit(x) ? 0x8 : 0x0;
  x = fabsf(x);
  uint8_t b = x > 5.0f    ? 0x7
              : x >= 3.5f ? 0x6
              : x > 2.5f  ? 0x5
              : x >= 1.75f ? 0x4
              : x > 1.25f ? 0x3
              : x >= 0.75f ? 0x2
              : x > 0.25f ? 0x1
                          : 0x0;
  return b | sign;
}

static void qdq_row(float* v, int64_t K, const qmm_xform* f) {
  int gs = f->group_size;
  float emax = f->bits == 4 ? 6.0f : 448.0f;
  for (int64_t g0 = 0; g0 < K; g0 += gs) {
    float amax = -INFINITY;
    for (int j = 0; j < gs; j++) {
      float a = fabsf(v[g0 + j]);
      if (amax < a) amax = a;
    }
    float scale = amax / emax;
    if (gs == 16) {
      if (f->global) {
        float enc = QUANT_NVFP4_GLOBAL_ENC / f->global_scale;
        scale = quant_e4m3_values[quant_e4m3_encode(scale * enc)] / enc;
      } else {
        scale = quant_e4m3_values[quant_e4m3_encode(scale)];
      }
    } else {
      scale = quant_e8m0_value(e8m0_round(scale));
    }
    for (int j = 0; j < gs; j++) {
      float el = scale == 0.0f ? 0.0f : v[g0 + j] / scale;
      float q = f->bits == 8 ? quant_e4m3_values[quant_e4m3_encode(el)]
                             : quant_e2m1_values[e2m1_round(el)];
      v[g0 + j] = round_to(scale * q, f->dtype);
    }
  }
}

/* ------------------------------------------------------------------------
 * Jobs: one weight matrix, some rows of x
 * ---------------------------------------------------------------------- */

typedef struct qmm_job {
  const qmm_matrix* w;
  bool transpose;
  int64_t K, N;
  int rows;
  const char* const* x_rows; /* row starts */
  int64_t x_cs;              /* element stride along a row */
  mlx_dtype x_dtype;
  char* const* out_rows;     /* row starts, N contiguous elements each */
  mlx_dtype out_dtype;
  const qmm_xform* xform;    /* qqmm, else NULL */
  float out_mul;             /* qqmm's global scale of w, else 1 */
} qmm_job;

typedef struct xprep_ctx {
  const qmm_job* job;
  float* xf;       /* rows x ldf plain float32 */
  int64_t ldf;
} xprep_ctx;

static void xprep_task(void* p, size_t begin, size_t end) {
  const xprep_ctx* c = p;
  const qmm_job* job = c->job;
  for (size_t r = begin; r < end; r++) {
    float* dst = c->xf + (int64_t)r * c->ldf;
    load_row(dst, job->x_rows[r], job->x_dtype, job->K, job->x_cs);
    if (job->xform) qdq_row(dst, job->K, job->xform);
  }
}

/* The job's rows of x as float32, rows x ldf (caller frees). */
static float* prepare_x(const qmm_job* job, int64_t ldf) {
  float* xf = aligned_alloc(64, (size_t)((job->rows * ldf * 4 + 63) / 64 * 64));
  if (!xf) return NULL;
  xprep_ctx c = {job, xf, ldf};
  pool_for((size_t)job->rows, 64, xprep_task, &c);
  return xf;
}

static int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

/* ---- streaming path (transpose, few rows) ---- */

/* No inf or NaN among v[0 .. n-1]. */
CPU_KERNEL static bool all_finite(const float* v, int64_t n) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, v + i, 4);
    bad |= (u & 0x7f800000u) == 0x7f800000u;
  }
  return !bad;
}

typedef struct stream_ctx {
  const qmm_job* job;
  const qmm_stream_kernel* k;
  const void* xk;      /* kernel layout */
  int64_t ldx;
  const float* xsum;
  _Atomic bool failed;
} stream_ctx;

#define STREAM_BLOCK 16

static void stream_task(void* p, size_t begin, size_t end) {
  stream_ctx* c = p;
  const qmm_job* job = c->job;
  const qmm_matrix* w = job->w;
  int64_t G = job->K / w->group_size;
  bool affine = w->mode == QUANT_AFFINE;
  size_t esize = dtype_size(job->out_dtype);
  float* s = malloc(sizeof(float) * (size_t)(STREAM_BLOCK * G * (affine ? 2 : 1)));
  float y[QMM_STREAM_MAX_ROWS * STREAM_BLOCK];
  if (!s) {
    c->failed = true;
    return;
  }
  float* b = affine ? s + STREAM_BLOCK * G : NULL;
  for (size_t n0 = begin; n0 < end; n0 += STREAM_BLOCK) {
    int nb = (int)(end - n0 < STREAM_BLOCK ? end - n0 : STREAM_BLOCK);
    if (w->s_ld == G) /* rows of scales back to back: one conversion */
      qmm_load_scales(w, (int64_t)n0, 0, nb * G, s, b);
    else
      for (int j = 0; j < nb; j++)
        qmm_load_scales(w, (int64_t)n0 + j, 0, G, s + j * G, b ? b + j * G : NULL);
    qmm_stream_args a = {w,  job->rows, c->xk, c->ldx, c->xsum, s, b, (int)n0, nb,
                         y,  STREAM_BLOCK};
    c->k->run(&a);
    for (int r = 0; r < job->rows; r++)
      store_row(job->out_rows[r] + n0 * esize, y + r * STREAM_BLOCK, job->out_dtype, nb,
                job->out_mul);
  }
  free(s);
}

/* Chunks of output columns per thread (see run_stream). */
#define STREAM_CHUNKS 16

typedef struct stream_split {
  stream_ctx* c;
  size_t n, chunk;
} stream_split;

static void stream_chunk_task(void* p, size_t t) {
  const stream_split* sp = p;
  size_t b = t * sp->chunk, e = b + sp->chunk < sp->n ? b + sp->chunk : sp->n;
  stream_task(sp->c, b, e);
}

static int run_stream(const qmm_job* job) {
  const qmm_matrix* w = job->w;
  int64_t ldf = round_up(job->K, 128); /* the VNNI kernels' x comes in chunks of 128 */
  int64_t G = job->K / w->group_size;
  float* xf = prepare_x(job, ldf);
  float* xsum = calloc((size_t)(job->rows * G + 1), sizeof(float));
  void* xk = NULL;
  int rc = 1;
  if (!xf || !xsum) goto done;
  /* only half-precision x can take the VNNI kernels, which need finite x */
  bool half = !job->xform && (job->x_dtype == MLX_BFLOAT16 || job->x_dtype == MLX_FLOAT16);
  bool finite = true;
  for (int r = 0; half && r < job->rows; r++) finite = finite && all_finite(xf + r * ldf, job->K);
  const qmm_stream_kernel* k =
      qmm_select_stream_kernel(w, job->xform ? MLX_FLOAT32 : job->x_dtype, job->rows, finite);
  for (int r = 0; r < job->rows; r++)
    for (int64_t g = 0; g < G; g++) {
      float t = 0;
      for (int j = 0; j < w->group_size; j++) t += xf[r * ldf + g * w->group_size + j];
      xsum[r * G + g] = t;
    }
  if (k->xprep) {
    xk = aligned_alloc(64, (size_t)(job->rows * ldf * k->x_elem_size + 64) / 64 * 64);
    if (!xk) goto done;
    for (int r = 0; r < job->rows; r++)
      k->xprep((char*)xk + r * ldf * k->x_elem_size, xf + r * ldf, (int)job->K, w->group_size);
  }
  stream_ctx c = {job, k, xk ? xk : xf, ldf, xsum, false};
  /* Many chunks, claimed in turn: a worker that wakes late takes fewer. */
  size_t min_chunk = (size_t)(65536 / (job->K > 0 ? job->K : 1));
  size_t threads = (size_t)pool_size(), n = (size_t)job->N;
  size_t chunk = (n + threads * STREAM_CHUNKS - 1) / (threads * STREAM_CHUNKS);
  if (chunk < min_chunk) chunk = min_chunk;
  chunk = (chunk + STREAM_BLOCK - 1) / STREAM_BLOCK * STREAM_BLOCK;
  stream_split sp = {&c, n, chunk};
  if (threads <= 1 || chunk >= n) stream_task(&c, 0, n);
  else pool_run((n + chunk - 1) / chunk, stream_chunk_task, &sp);
  rc = c.failed ? 1 : 0;
done:
  free(xf);
  free(xsum);
  free(xk);
  return rc ? error_set("[quantized_matmul] Out of memory.") : 0;
}

/* ---- columns path (transpose = false, few rows) ---- */

typedef struct columns_ctx {
  const qmm_job* job;
  const float* xf;
  int64_t ldf;
  _Atomic bool failed;
} columns_ctx;

#define COLUMN_BLOCK 1024

static void columns_task(void* p, size_t begin, size_t end) {
  columns_ctx* c = p;
  const qmm_job* job = c->job;
  int gs = job->w->group_size;
  int64_t cb = COLUMN_BLOCK / gs * gs;
  size_t esize = dtype_size(job->out_dtype);
  float* y = malloc(sizeof(float) * (size_t)(job->rows * cb));
  if (!y) {
    c->failed = true;
    return;
  }
  int64_t c_end = (int64_t)end * gs;
  for (int64_t c0 = (int64_t)begin * gs; c0 < c_end; c0 += cb) {
    int64_t nc = c_end - c0 < cb ? c_end - c0 : cb;
    qmm_generic_columns(job->w, job->rows, c->xf, c->ldf, c0, nc, y, cb);
    for (int r = 0; r < job->rows; r++)
      store_row(job->out_rows[r] + c0 * (int64_t)esize, y + r * cb, job->out_dtype, nc,
                job->out_mul);
  }
  free(y);
}

static int run_columns(const qmm_job* job) {
  int64_t ldf = round_up(job->K, 16);
  float* xf = prepare_x(job, ldf);
  if (!xf) return error_set("[quantized_matmul] Out of memory.");
  columns_ctx c = {job, xf, ldf, false};
  int64_t groups = job->N / job->w->group_size;
  size_t min_chunk = (size_t)(65536 / (job->K * job->w->group_size));
  pool_for((size_t)groups, min_chunk ? min_chunk : 1, columns_task, &c);
  free(xf);
  return c.failed ? error_set("[quantized_matmul] Out of memory.") : 0;
}

/* ---- GEMM path (many rows): dequantized tiles times sgemm ---- */

typedef struct tile_ctx {
  const qmm_job* job;
  float* tile;
  int64_t n0, nb;  /* output columns of the tile */
} tile_ctx;

/* transpose: tile = weight rows n0..n0+nb-1, nb x K. */
static void tile_rows_task(void* p, size_t begin, size_t end) {
  const tile_ctx* c = p;
  for (size_t j = begin; j < end; j++)
    qmm_dequantize_row(c->job->w, c->n0 + (int64_t)j, 0, c->job->K, c->tile + j * c->job->K);
}

/* not transpose: tile = columns n0..n0+nb-1 of every weight row, K x nb. */
static void tile_cols_task(void* p, size_t begin, size_t end) {
  const tile_ctx* c = p;
  for (size_t k = begin; k < end; k++)
    qmm_dequantize_row(c->job->w, (int64_t)k, c->n0, c->nb, c->tile + k * c->nb);
}

typedef struct gemm_store_ctx {
  const qmm_job* job;
  const float* y;
  int64_t r0, n0, nb;
} gemm_store_ctx;

static void gemm_store_task(void* p, size_t begin, size_t end) {
  const gemm_store_ctx* c = p;
  size_t esize = dtype_size(c->job->out_dtype);
  for (size_t r = begin; r < end; r++)
    store_row(c->job->out_rows[c->r0 + (int64_t)r] + c->n0 * (int64_t)esize, c->y + r * c->nb,
              c->job->out_dtype, c->nb, c->job->out_mul);
}

#define GEMM_TILE_BYTES (8 << 20)
#define GEMM_ROW_BLOCK 1024

/* ---- GEMM path with a kernel (qmm_gemm.h): the job's rows of x are
 * converted and packed once per block of GEMM_ROW_BLOCK rows (straight
 * from the job's rows, no float32 copy, unless qqmm's transform needs
 * whole rows); each thread then claims groups of panels of nr weight rows
 * from a shared counter (a late or descheduled thread leaves its share to
 * the others; groups shrink towards the end so the threads finish
 * together), decodes them a K-chunk at a time, runs the microkernel over
 * every packed row and stores its columns. ---- */

int qgemm_profile = 0;
int qgemm_c_kib = 0;
int qgemm_byte_decode = 1;

typedef struct kgemm_ctx {
  const qmm_job* job;
  const qgemm_kernel* k;
  qgemm_job gj;
  const float* xf;  /* the block's rows as float32 (row stride K), or NULL */
  void* xp;         /* packed */
  float* xsum;
  int64_t r0;       /* the block's first row of the job */
  int rows;         /* valid rows of the block */
  int np;           /* panels per group (at most) */
  int threads;
  int64_t panels;
  int64_t next;     /* the first panel not yet claimed (__atomic) */
  _Atomic bool failed;
} kgemm_ctx;

#define KGEMM_MAX_MR 16
#define KGEMM_MAX_KC 256

/* Item i: block i % blocks of chunk i / blocks (and its group sums). */
static void kgemm_pack_task(void* p, size_t i) {
  kgemm_ctx* c = p;
  const qgemm_kernel* k = c->k;
  const qmm_job* job = c->job;
  int64_t K = job->K, blocks = c->gj.rows / k->mr;
  int64_t k0 = (int64_t)i / blocks * k->kc, b = (int64_t)i % blocks;
  int kcc = (int)(K - k0 < k->kc ? K - k0 : k->kc);
  int valid = (int)(c->rows - b * k->mr < k->mr ? c->rows - b * k->mr : k->mr);
  char* dst = (char*)c->xp + (c->gj.rows * k0 + b * k->mr * kcc) * k->x_elem_size;
  float buf[KGEMM_MAX_MR * KGEMM_MAX_KC];
  const float* src;
  int64_t ld;
  if (c->xf) {
    src = c->xf + b * k->mr * K + k0;
    ld = K;
  } else {
    size_t es = dtype_size(job->x_dtype);
    for (int m = 0; m < valid; m++)
      load_row(buf + m * kcc, job->x_rows[c->r0 + b * k->mr + m] + k0 * job->x_cs * (int64_t)es,
               job->x_dtype, kcc, job->x_cs);
    src = buf;
    ld = kcc;
  }
  k->pack_x(dst, src, ld, valid, kcc);
  if (!c->xsum) return;
  int gs = job->w->group_size;
  int64_t G = K / gs;
  for (int64_t g = k0 / gs; g < (k0 + kcc) / gs; g++)
    for (int m = 0; m < k->mr; m++) {
      float t[4] = {0, 0, 0, 0};
      if (m < valid) {
        const float* xr = src + m * ld + (g * gs - k0);
        for (int j = 0; j < gs; j += 4)
          for (int u = 0; u < 4; u++) t[u] += xr[j + u];
      }
      c->xsum[b * G * k->mr + g * k->mr + m] = (t[0] + t[1]) + (t[2] + t[3]);
    }
}

/* Claims the next group: its first panel (n set to its panel count), or
 * -1 when none is left. Groups hold np panels while plenty are left, then
 * about a (2 * threads)-th of what is left. */
static int64_t kgemm_claim(kgemm_ctx* c, int* n) {
  int64_t cur = __atomic_load_n(&c->next, __ATOMIC_RELAXED);
  for (;;) {
    int64_t left = c->panels - cur;
    if (left <= 0) return -1;
    int64_t take = left / (2 * c->threads);
    take = take < 1 ? 1 : take > c->np ? c->np : take;
    if (__atomic_compare_exchange_n(&c->next, &cur, cur + take, true, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
      *n = (int)take;
      return cur;
    }
  }
}

/* One per thread: claims groups until none is left. */
static void kgemm_task(void* p, size_t t) {
  (void)t;
  kgemm_ctx* c = p;
  const qmm_job* job = c->job;
  const qgemm_kernel* k = c->k;
  int64_t N = job->N, nr = k->nr, rp = c->gj.rows;
  size_t os = dtype_size(job->out_dtype);
  size_t sb = (k->scratch_bytes(job->K, job->w->group_size) + 63) / 64 * 64;
  size_t cb = (size_t)(c->np * rp * nr) * sizeof(float);
  void* scratch = aligned_alloc(64, sb);
  float* cbuf = aligned_alloc(64, (cb + 63) / 64 * 64);
  if (!scratch || !cbuf) {
    c->failed = true;
    goto done;
  }
  int np;
  for (int64_t p0; (p0 = kgemm_claim(c, &np)) >= 0;) {
    k->panels(&c->gj, p0 * nr, np, cbuf, scratch);
    for (int q = 0; q < np; q++) {
      int64_t n0 = (p0 + q) * nr;
      int cols = (int)(N - n0 < nr ? N - n0 : nr);
      for (int r = 0; r < c->rows; r++)
        store_row(job->out_rows[c->r0 + r] + n0 * (int64_t)os, cbuf + (q * rp + r) * nr,
                  job->out_dtype, cols, job->out_mul);
    }
  }
done:
  free(scratch);
  free(cbuf);
}

/* Panels per group: their float32 sums for the packed rows stay within
 * GEMM_C_BYTES (L2), and there are groups for several threads. */
#define GEMM_C_BYTES (384 << 10)

static int run_gemm_kernel(const qmm_job* job, const qgemm_kernel* k) {
  int64_t K = job->K, gs = job->w->group_size, G = K / gs;
  int64_t rb = job->rows < GEMM_ROW_BLOCK ? job->rows : GEMM_ROW_BLOCK;
  int64_t rbp = round_up(rb, k->mr);
  bool sums = k->group_sums && job->w->mode == QUANT_AFFINE;
  float* xf = NULL;
  void* xp = aligned_alloc(64, (size_t)((rbp * K * k->x_elem_size + 63) / 64 * 64));
  float* xsum = sums ? malloc(sizeof(float) * (size_t)(rbp * G)) : NULL;
  int threads = pool_size();
  int64_t cbytes = qgemm_c_kib > 0 ? (int64_t)qgemm_c_kib << 10 : GEMM_C_BYTES;
  int rc = 1;
  /* x packed straight from the job's rows, through a block-sized buffer */
  bool direct = !job->xform && k->mr <= KGEMM_MAX_MR && k->kc <= KGEMM_MAX_KC;
  if (!xp || (sums && !xsum)) goto done;
  for (int64_t r0 = 0; r0 < job->rows; r0 += rb) {
    int64_t rows = job->rows - r0 < rb ? job->rows - r0 : rb;
    if (!direct) {
      qmm_job part = *job;
      part.rows = (int)rows;
      part.x_rows = job->x_rows + r0;
      free(xf);
      xf = prepare_x(&part, K);
      if (!xf) goto done;
    }
    int64_t rp = round_up(rows, k->mr);
    int64_t panels = (job->N + k->nr - 1) / k->nr;
    int64_t np = cbytes / (rp * k->nr * (int64_t)sizeof(float));
    if (np > panels / 8) np = panels / 8;
    np = np < 1 ? 1 : np > QGEMM_MAX_PANELS ? QGEMM_MAX_PANELS : np;
    kgemm_ctx c = {job,      k,    {job->w, K, (int)rp, xp, xsum}, xf, xp, xsum, r0, (int)rows,
                   (int)np,  threads, panels, 0, false};
    pool_run((size_t)((K + k->kc - 1) / k->kc * (rp / k->mr)), kgemm_pack_task, &c);
    pool_run((size_t)threads, kgemm_task, &c);
    if (c.failed) goto done;
  }
  rc = 0;
done:
  free(xf);
  free(xp);
  free(xsum);
  return rc ? error_set("[quantized_matmul] Out of memory.") : 0;
}

static int run_gemm(const qmm_job* job) {
  const qgemm_kernel* gk =
      select_gemm_kernel(job->w, job->transpose, job->xform ? MLX_FLOAT32 : job->x_dtype);
  if (gk) return run_gemm_kernel(job, gk);
  int64_t K = job->K, N = job->N;
  int gs = job->w->group_size;
  int64_t nb = GEMM_TILE_BYTES / 4 / (K > 0 ? K : 1);
  nb = nb < 64 ? 64 : nb / 64 * 64;
  if (!job->transpose) nb = round_up(nb, gs);
  if (nb > N) nb = N;
  int64_t rb = job->rows < GEMM_ROW_BLOCK ? job->rows : GEMM_ROW_BLOCK;
  float* xf = NULL;
  float* tile = malloc(sizeof(float) * (size_t)(nb * K));
  float* y = malloc(sizeof(float) * (size_t)(rb * nb));
  int rc = 1;
  if (!tile || !y) goto done;
  for (int64_t r0 = 0; r0 < job->rows; r0 += rb) {
    int64_t rows = job->rows - r0 < rb ? job->rows - r0 : rb;
    qmm_job part = *job;
    part.rows = (int)rows;
    part.x_rows = job->x_rows + r0;
    free(xf);
    xf = prepare_x(&part, K);
    if (!xf) goto done;
    for (int64_t n0 = 0; n0 < N; n0 += nb) {
      int64_t cols = N - n0 < nb ? N - n0 : nb;
      tile_ctx tc = {job, tile, n0, cols};
      if (job->transpose) {
        pool_for((size_t)cols, 16, tile_rows_task, &tc);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)cols, (int)K, 1.0f,
                    xf, (int)K, tile, (int)K, 0.0f, y, (int)cols);
      } else {
        pool_for((size_t)K, 64, tile_cols_task, &tc);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, (int)K,
                    1.0f, xf, (int)K, tile, (int)cols, 0.0f, y, (int)cols);
      }
      gemm_store_ctx sc = {job, y, r0, n0, cols};
      pool_for((size_t)rows, 64, gemm_store_task, &sc);
    }
  }
  rc = 0;
done:
  free(xf);
  free(tile);
  free(y);
  return rc ? error_set("[quantized_matmul] Out of memory.") : 0;
}

static int run_job(const qmm_job* job) {
  if (job->rows == 0 || job->N == 0) return 0;
  if (job->K == 0) {
    size_t esize = dtype_size(job->out_dtype);
    for (int r = 0; r < job->rows; r++) memset(job->out_rows[r], 0, esize * (size_t)job->N);
    return 0;
  }
  if (job->rows > QMM_STREAM_MAX_ROWS) return run_gemm(job);
  return job->transpose ? run_stream(job) : run_columns(job);
}

int cpu_qmm_run(const qmm_matrix* w, bool transpose, const void* x, mlx_dtype x_dtype,
                int64_t ldx, int m, void* out, mlx_dtype out_dtype, int64_t ldo) {
  const char** xr = malloc(sizeof(char*) * (size_t)(m > 0 ? m : 1));
  char** orows = malloc(sizeof(char*) * (size_t)(m > 0 ? m : 1));
  int rc = 1;
  if (xr && orows) {
    for (int r = 0; r < m; r++) {
      xr[r] = (const char*)x + (int64_t)r * ldx * (int64_t)dtype_size(x_dtype);
      orows[r] = (char*)out + (int64_t)r * ldo * (int64_t)dtype_size(out_dtype);
    }
    qmm_job job = {w,        transpose, transpose ? w->cols : w->rows,
                   transpose ? w->rows : w->cols, m, xr, 1, x_dtype, orows, out_dtype, NULL,
                   1.0f};
    rc = run_job(&job);
  } else {
    error_set("[quantized_matmul] Out of memory.");
  }
  free(xr);
  free(orows);
  return rc;
}

/* ------------------------------------------------------------------------
 * The node
 * ---------------------------------------------------------------------- */

static bool kernel_dtype(mlx_dtype t) {
  return t == MLX_FLOAT32 || t == MLX_FLOAT16 || t == MLX_BFLOAT16;
}

/* Offset (elements) of flat index idx over the first nd axes of a. */
static int64_t unravel(int64_t idx, const array* a, int nd) {
  int64_t off = 0;
  for (int d = nd - 1; d >= 0; d--) {
    int64_t sz = a->shape[d];
    if (sz == 0) return 0;
    off += (idx % sz) * a->strides[d];
    idx /= sz;
  }
  return off;
}

static int64_t batch_count(const array* a) {
  int64_t n = 1;
  for (int d = 0; d < a->ndim - 2; d++) n *= a->shape[d];
  return n;
}

/* Makes the last two axes of *a row-major (rows may be padded): kernels
 * read rows of packed words. A copy replaces *a when needed (*tmp owns it). */
static int rows_contiguous(array** a, array** tmp) {
  const array* v = *a;
  int nd = v->ndim;
  bool ok = v->shape[nd - 1] <= 1 || v->strides[nd - 1] == 1;
  ok = ok && (v->shape[nd - 2] <= 1 || v->strides[nd - 2] >= v->shape[nd - 1]);
  if (ok) return 0;
  *tmp = array_copy_contiguous(v, v->dtype);
  if (!*tmp) return 1;
  *a = *tmp;
  return 0;
}

static int64_t row_stride(const array* a) {
  return a->shape[a->ndim - 2] <= 1 ? a->shape[a->ndim - 1] : a->strides[a->ndim - 2];
}

typedef struct out_row {
  int64_t key;    /* rows with one key meet one weight matrix */
  int64_t o;      /* output row */
  int64_t x_off;  /* first element of the x row */
  int64_t wb;     /* flat batch index of the matrix, -1: none (zeros) */
} out_row;

static int out_row_cmp(const void* pa, const void* pb) {
  const out_row *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return a->o < b->o ? -1 : a->o > b->o;
}

static uint32_t index_at(const array* idx, int64_t i) {
  return ((const uint32_t*)array_data(idx))[unravel(i, idx, idx->ndim)];
}

/* Fills rows[o] for every output row. */
static void plan_rows(const qmm_params* p, array* const* in, const array* out, int64_t M,
                      out_row* rows, int64_t n_rows) {
  const array *x = in[0], *w = in[1];
  int64_t wbatches = batch_count(w);
  if (p->gather) {
    const array* lhs = in[p->mode == QUANT_AFFINE ? 4 : 3];
    const array* rhs = in[p->mode == QUANT_AFFINE ? 5 : 4];
    int64_t xbatches = batch_count(x);
    for (int64_t o = 0; o < n_rows; o++) {
      int64_t item = o / M, m = o % M;
      int64_t li = index_at(lhs, item), ri = index_at(rhs, item);
      bool none = xbatches == 0 || wbatches == 0;
      li = li < xbatches ? li : xbatches - 1;
      ri = ri < wbatches ? ri : wbatches - 1;
      rows[o].o = o;
      rows[o].key = none ? -1 : ri;
      rows[o].wb = none ? -1 : ri;
      rows[o].x_off = none ? 0 : unravel(li, x, x->ndim - 2) + m * x->strides[x->ndim - 2];
    }
  } else if (p->batched) {
    int nb = out->ndim - 2;
    for (int64_t o = 0; o < n_rows; o++) {
      int64_t b = o / M, m = o % M;
      rows[o].o = o;
      rows[o].wb = b;
      rows[o].key = unravel(b, w, nb);
      rows[o].x_off = unravel(b, x, nb) + m * x->strides[x->ndim - 2];
    }
  } else {
    for (int64_t o = 0; o < n_rows; o++) {
      rows[o].o = o;
      rows[o].wb = wbatches > 0 ? 0 : -1;
      rows[o].key = 0;
      rows[o].x_off = unravel(o, x, x->ndim - 1);
    }
  }
}

/* The eval-time checks of MLX's kernels, with their messages. */
static int check_kernel_args(const node* n, const qmm_params* p) {
  const array* x = n->inputs[0];
  const array* out = n->outputs[0];
  if (p->quantize_x) {
    if (n->inputs[1]->dtype != MLX_UINT32 || x->ndim < 2 || x->shape[x->ndim - 2] != 1)
      return error_set("[QQMatmul] NYI for the general case");
  }
  if (!kernel_dtype(out->dtype) || !kernel_dtype(x->dtype) ||
      (p->mode == QUANT_AFFINE && !kernel_dtype(n->inputs[2]->dtype)))
    return error_set("[quantized_matmul] only floating types are supported");
  if (p->mode == QUANT_AFFINE) {
    if (!quant_affine_bits_ok(p->bits))
      return error_set("Quantization bits must be 2, 3, 4, 6 or 8.");
    if (!quant_affine_group_ok(p->group_size))
      return error_set("Quantization group size must be 32, 64 or 128.");
  }
  return 0;
}

static float scalar_f32(const array* a) {
  return *(const float*)array_data(a);
}

int cpu_qmm_eval(node* n) {
  const qmm_params* p = n->params;
  array* out = n->outputs[0];
  if (check_kernel_args(n, p)) return 1;
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;

  bool affine = p->mode == QUANT_AFFINE;
  array* in[6];
  for (int i = 0; i < n->n_inputs && i < 6; i++) in[i] = n->inputs[i];
  array *x = in[0], *w = in[1], *scales = in[2], *biases = affine ? in[3] : NULL;
  array *w_tmp = NULL, *s_tmp = NULL, *b_tmp = NULL;
  out_row* rows = NULL;
  const char** x_rows = NULL;
  char** o_rows = NULL;
  int rc = 1;
  if (rows_contiguous(&w, &w_tmp) || rows_contiguous(&scales, &s_tmp) ||
      (biases && rows_contiguous(&biases, &b_tmp)))
    goto done;
  if (biases && row_stride(biases) != row_stride(scales)) {
    array* c = array_copy_contiguous(biases, biases->dtype);
    if (!c) goto done;
    array_release(b_tmp);
    b_tmp = biases = c;
    if (row_stride(scales) != scales->shape[scales->ndim - 1]) {
      c = array_copy_contiguous(scales, scales->dtype);
      if (!c) goto done;
      array_release(s_tmp);
      s_tmp = scales = c;
    }
  }

  int64_t N = out->shape[out->ndim - 1];
  int64_t K = x->shape[x->ndim - 1];
  int64_t M = x->ndim >= 2 ? x->shape[x->ndim - 2] : 1;
  int64_t n_rows = (int64_t)(out->size / (size_t)N);
  rows = malloc(sizeof *rows * (size_t)n_rows);
  x_rows = malloc(sizeof *x_rows * (size_t)n_rows);
  o_rows = malloc(sizeof *o_rows * (size_t)n_rows);
  if (!rows || !x_rows || !o_rows) {
    error_set("[quantized_matmul] Out of memory.");
    goto done;
  }
  plan_rows(p, in, out, M, rows, n_rows);
  if (p->gather || p->batched) qsort(rows, (size_t)n_rows, sizeof *rows, out_row_cmp);

  qmm_xform xform = {p->mode, p->group_size, p->bits, x->dtype, false, 1.0f};
  float out_mul = 1.0f;
  if (p->quantize_x && p->global_scales) {
    xform.global = true;
    xform.global_scale = scalar_f32(in[3]);
    out_mul = scalar_f32(in[4]) / QUANT_NVFP4_GLOBAL_ENC;
  }
  size_t xs = dtype_size(x->dtype), os = dtype_size(out->dtype);
  int wnd = w->ndim - 2;
  rc = 0;
  for (int64_t start = 0; start < n_rows && !rc;) {
    int64_t end = start + 1;
    while (end < n_rows && rows[end].key == rows[start].key) end++;
    for (int64_t i = start; i < end; i++) {
      x_rows[i] = (const char*)array_data(x) + rows[i].x_off * (int64_t)xs;
      o_rows[i] = (char*)array_data(out) + rows[i].o * N * (int64_t)os;
    }
    int64_t wb = rows[start].wb;
    if (wb < 0) {
      for (int64_t i = start; i < end; i++) memset(o_rows[i], 0, os * (size_t)N);
    } else {
      qmm_matrix mat = {
          .mode = p->mode,
          .bits = p->bits,
          .group_size = p->group_size,
          .rows = w->shape[w->ndim - 2],
          .cols = (int)((int64_t)w->shape[w->ndim - 1] * 32 / p->bits),
          .w = (const uint32_t*)array_data(w) + unravel(wb, w, wnd),
          .w_ld = row_stride(w),
          .scales = (const char*)array_data(scales) +
                    unravel(wb, scales, wnd) * (int64_t)dtype_size(scales->dtype),
          .biases = biases ? (const char*)array_data(biases) +
                                 unravel(wb, biases, wnd) * (int64_t)dtype_size(biases->dtype)
                           : NULL,
          .scale_dtype = scales->dtype,
          .s_ld = row_stride(scales),
      };
      qmm_job job = {&mat,  p->transpose,  K,       N,
                     (int)(end - start), x_rows + start, x->strides[x->ndim - 1], x->dtype,
                     o_rows + start, out->dtype, p->quantize_x ? &xform : NULL, out_mul};
      rc = run_job(&job);
    }
    start = end;
  }
done:
  free(rows);
  free(x_rows);
  free(o_rows);
  array_release(w_tmp);
  array_release(s_tmp);
  array_release(b_tmp);
  return rc;
}
