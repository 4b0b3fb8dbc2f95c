/* norm.c - the CPU kernel of RMSNorm and LayerNorm (node layout in
 * norm.h).
 *
 * Rows of the last axis are spread over the thread pool. Each row is
 * widened into float32 scratch, its statistics are summed in float32 over
 * 16 lanes, and it is normalised:
 *   rms:   y = x * rsqrt(sum(x^2) / D + eps)
 *   layer: y = (x - mu) * rsqrt(sum((x - mu)^2) / D + eps), mu = sum(x) / D
 * (sum / D as sum * (1/D), MLX's mean). y is rounded to the output dtype T,
 * then multiplied by the weight and added to the bias with T's rounding
 * after each step, as MLX's composition of plain ops does. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/norm.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"
#include "core/half.h"

#define NORM_LANES 16
/* Rows below this many elements in all stay on the calling thread. */
#define NORM_SERIAL_ELEMS ((size_t)1 << 14)

CPU_KERNEL static void widen_row(float* dst, const void* src, mlx_dtype t, size_t n) {
  if (t == MLX_FLOAT16) {
    const uint16_t* s = src;
    for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(s[i]);
  } else if (t == MLX_BFLOAT16) {
    const uint16_t* s = src;
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(s[i]);
  } else {
    memcpy(dst, src, n * sizeof(float));
  }
}

/* sum of x[i] (or of (x[i] - shift)^2 when squared) in NORM_LANES lanes. */
CPU_KERNEL static float lane_sum(const float* x, size_t n, bool squared, float shift) {
  float acc[NORM_LANES] = {0};
  size_t i = 0;
  for (; i + NORM_LANES <= n; i += NORM_LANES)
    for (int w = 0; w < NORM_LANES; w++) {
      float v = x[i + w] - shift;
      acc[w] += squared ? v * v : v;
    }
  float s = 0;
  for (int w = 0; w < NORM_LANES; w++) s += acc[w];
  for (; i < n; i++) {
    float v = x[i] - shift;
    s += squared ? v * v : v;
  }
  return s;
}

/* y = (x - shift) * inv in place. */
CPU_KERNEL static void normalise(float* x, size_t n, float shift, float inv) {
  for (size_t i = 0; i < n; i++) x[i] = (x[i] - shift) * inv;
}

/* The output stage per dtype: round y to T, then * w and + b in T. */
#define NORM_OUTPUT(NAME, CT, ST, LOAD, STORE)                                        \
  CPU_KERNEL static void NAME(void* out, const float* y, const void* w, const void* b, \
                              size_t n) {                                               \
    ST* o = out;                                                                        \
    const ST* wv = w;                                                                   \
    const ST* bv = b;                                                                   \
    for (size_t i = 0; i < n; i++) {                                                    \
      CT v = (CT)LOAD(STORE(y[i]));                                                     \
      if (wv) v = (CT)LOAD(STORE(v * (CT)LOAD(wv[i])));                                 \
      if (bv) v = (CT)LOAD(STORE(v + (CT)LOAD(bv[i])));                                 \
      o[i] = STORE(v);                                                                  \
    }                                                                                   \
  }
#define SAME(v) (v)
NORM_OUTPUT(output_f32, float, float, SAME, SAME)
NORM_OUTPUT(output_f64, double, double, SAME, SAME)
NORM_OUTPUT(output_f16, float, uint16_t, f16_to_f32, f32_to_f16)
NORM_OUTPUT(output_bf16, float, uint16_t, bf16_to_f32, f32_to_bf16)
#undef SAME

typedef void (*output_fn)(void* out, const float* y, const void* w, const void* b, size_t n);

typedef struct norm_job {
  const char* x;
  mlx_dtype xt;
  char* out;
  size_t out_row_bytes;
  output_fn output;
  const void *w, *b;
  size_t d;
  float eps;
  bool layer;
  atomic_int failed;
} norm_job;

static void norm_rows(void* ctx, size_t begin, size_t end) {
  norm_job* j = ctx;
  float* y = malloc(sizeof(float) * (j->d ? j->d : 1));
  if (!y) {
    atomic_store(&j->failed, 1);
    return;
  }
  size_t in_row = j->d * dtype_size(j->xt);
  float inv_d = 1.0f / (float)j->d;
  for (size_t r = begin; r < end; r++) {
    widen_row(y, j->x + r * in_row, j->xt, j->d);
    float mu = j->layer ? lane_sum(y, j->d, false, 0) * inv_d : 0;
    float ms = lane_sum(y, j->d, true, mu) * inv_d;
    float inv = 1.0f / sqrtf(ms + j->eps);
    normalise(y, j->d, mu, inv);
    j->output(j->out + r * j->out_row_bytes, y, j->w, j->b, j->d);
  }
  free(y);
}

/* a itself when row-contiguous, else a contiguous copy (*tmp owns it). */
static array* contiguous(array* a, array** tmp) {
  if (a->flags & ARRAY_ROW_CONTIGUOUS) return a;
  return *tmp = array_copy_contiguous(a, a->dtype);
}

int cpu_norm_eval(node* n) {
  const norm_params* p = n->params;
  array* out = n->outputs[0];
  array* tmp[3] = {NULL, NULL, NULL};
  array* in[3] = {n->inputs[0], NULL, NULL};
  int k = 1;
  if (p->has_weight) in[1] = n->inputs[k++];
  if (p->has_bias) in[2] = n->inputs[k++];
  int rc = 1;
  for (int i = 0; i < 3; i++)
    if (in[i] && !(in[i] = contiguous(in[i], &tmp[i]))) goto done;
  if (in[0]->dtype == out->dtype ? array_alloc_or_donate(out, &in[0], 1) : array_alloc(out))
    goto done;
  norm_job j = {
      .x = array_data(in[0]),
      .xt = in[0]->dtype,
      .out = array_data(out),
      .w = in[1] ? array_data(in[1]) : NULL,
      .b = in[2] ? array_data(in[2]) : NULL,
      .d = (size_t)out->shape[out->ndim - 1],
      .eps = p->eps,
      .layer = p->layer,
  };
  atomic_init(&j.failed, 0);
  j.out_row_bytes = j.d * dtype_size(out->dtype);
  switch (out->dtype) {
    case MLX_FLOAT16: j.output = output_f16; break;
    case MLX_BFLOAT16: j.output = output_bf16; break;
    case MLX_FLOAT64: j.output = output_f64; break;
    default: j.output = output_f32; break;
  }
  size_t rows = j.d ? out->size / j.d : 0;
  size_t min_rows = j.d ? NORM_SERIAL_ELEMS / j.d + 1 : 1;
  pool_for(rows, min_rows, norm_rows, &j);
  if (atomic_load(&j.failed)) {
    error_set("[%s] Out of memory.", p->layer ? "layer_norm" : "rms_norm");
    goto done;
  }
  rc = 0;
done:
  for (int i = 0; i < 3; i++) array_release(tmp[i]);
  return rc;
}
