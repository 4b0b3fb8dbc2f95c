/* rope.c - the CPU kernel of RoPE (node layout in rope.h).
 *
 * x is taken as [B, N, T, D] (N the product of the axes between the first
 * and the last two). Work is split over (batch, position) pairs: each task
 * computes the angles of its position once, in float32 exactly as MLX's
 * composition does, and rotates the rows of all N heads with them. cos and
 * sin are rounded to x's dtype and every product and sum of the rotation
 * is rounded to it too (float16/bfloat16 compute in float and round after
 * each step), which is what MLX's plain ops give. Features from dims on are
 * copied through. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/rope.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"
#include "core/half.h"

/* Positions below this many elements in all stay on the calling thread. */
#define ROPE_SERIAL_ELEMS ((size_t)1 << 14)

/* e^x the way MLX's CPU exp computes it, in float32: x log2(e) is split
 * into n = floor(y + 1/2) and f = y - n, 2^f comes from the degree-6
 * polynomial of the Cephes library, and n goes into the exponent. It is
 * within a few ulp of e^x, not correctly rounded; rope uses it for its
 * frequencies because the angles (offset + t) * inv_freq magnify any
 * difference in them: at position 1000 one ulp of a frequency moves the
 * output by ~1e-4, so only MLX's own values reproduce MLX's results. */
static float exp_as_mlx(float x) {
  float y = x * 1.442695f;
  float n = floorf(y + 0.5f);
  float f = y - n;
  float p = 1.535336188319500e-4f;
  p = fmaf(p, f, 1.339887440266574e-3f);
  p = fmaf(p, f, 9.618437357674640e-3f);
  p = fmaf(p, f, 5.550332471162809e-2f);
  p = fmaf(p, f, 2.402264791363012e-1f);
  p = fmaf(p, f, 6.931472028550421e-1f);
  p = fmaf(p, f, 1.0f);
  return ldexpf(p, (int)n);
}

static void rope_inv_freqs(float* out, int dims, float base) {
  int half = dims / 2;
  /* MLX: exp(arange(0, -half, -1) * (log(base) / half)), all float32 */
  float step = logf(base) / (float)half;
  for (int i = 0; i < half; i++) out[i] = exp_as_mlx((float)(-i) * step);
}

/* One rotation per dtype: x1' = x1 c - x2 s, x2' = x1 s + x2 c with the
 * dtype's rounding after every operation. pairs: element i of the first
 * half sits at x[i * stride1], its partner `partner` elements later. */
#define ROPE_ROTATE(NAME, CT, ST, LOAD, STORE)                                               \
  CPU_KERNEL static void NAME(ST* o, const ST* x, const float* cs, const float* sn, int half, \
                              int stride1, int partner) {                                     \
    for (int i = 0; i < half; i++) {                                                          \
      CT c = (CT)LOAD(STORE(cs[i])), s = (CT)LOAD(STORE(sn[i]));                              \
      CT x1 = (CT)LOAD(x[i * stride1]), x2 = (CT)LOAD(x[i * stride1 + partner]);              \
      CT a = (CT)LOAD(STORE(x1 * c)), b = (CT)LOAD(STORE(x2 * s));                            \
      CT e = (CT)LOAD(STORE(x1 * s)), f = (CT)LOAD(STORE(x2 * c));                            \
      o[i * stride1] = STORE(a - b);                                                          \
      o[i * stride1 + partner] = STORE(e + f);                                                \
    }                                                                                         \
  }
#define SAME(v) (v)
#define TO_F64(v) ((double)(v))
ROPE_ROTATE(rotate_f32, float, float, SAME, SAME)
ROPE_ROTATE(rotate_f64, double, double, SAME, TO_F64)
ROPE_ROTATE(rotate_f16, float, uint16_t, f16_to_f32, f32_to_f16)
ROPE_ROTATE(rotate_bf16, float, uint16_t, bf16_to_f32, f32_to_bf16)
#undef SAME
#undef TO_F64

typedef struct rope_job {
  const char* x;
  char* out;
  size_t esize;
  int N, T, D, dims;
  bool traditional;
  const float* inv_freq; /* [dims/2] */
  const char* offset;    /* int32 or uint32 */
  int64_t offset_stride; /* elements; 0 when one offset serves every batch */
  bool offset_unsigned;
  float scale;
  mlx_dtype t;
  atomic_int failed;
} rope_job;

/* Positions [begin, end) of the flattened (batch, t) pairs. */
static void rope_positions(void* ctx, size_t begin, size_t end) {
  rope_job* j = ctx;
  int half = j->dims / 2;
  float* cs = malloc(sizeof(float) * 2 * (size_t)half);
  if (!cs) {
    atomic_store(&j->failed, 1);
    return;
  }
  float* sn = cs + half;
  size_t row_bytes = (size_t)j->D * j->esize;
  for (size_t pos = begin; pos < end; pos++) {
    size_t b = pos / (size_t)j->T;
    int t = (int)(pos % (size_t)j->T);
    const char* op = j->offset + (size_t)((int64_t)b * j->offset_stride) * 4;
    float off = j->offset_unsigned ? (float)*(const uint32_t*)op : (float)*(const int32_t*)op;
    float p = ((float)t + off) * j->scale;
    for (int i = 0; i < half; i++) {
      float theta = p * j->inv_freq[i];
      cs[i] = cosf(theta);
      sn[i] = sinf(theta);
    }
    for (int h = 0; h < j->N; h++) {
      size_t row = (b * (size_t)j->N + (size_t)h) * (size_t)j->T + (size_t)t;
      const char* x = j->x + row * row_bytes;
      char* o = j->out + row * row_bytes;
      int stride1 = j->traditional ? 2 : 1, partner = j->traditional ? 1 : half;
      switch (j->t) {
        case MLX_FLOAT16:
          rotate_f16((uint16_t*)o, (const uint16_t*)x, cs, sn, half, stride1, partner);
          break;
        case MLX_BFLOAT16:
          rotate_bf16((uint16_t*)o, (const uint16_t*)x, cs, sn, half, stride1, partner);
          break;
        case MLX_FLOAT64:
          rotate_f64((double*)o, (const double*)x, cs, sn, half, stride1, partner);
          break;
        default:
          rotate_f32((float*)o, (const float*)x, cs, sn, half, stride1, partner);
          break;
      }
      if (j->dims < j->D && o != x)
        memcpy(o + (size_t)j->dims * j->esize, x + (size_t)j->dims * j->esize,
               (size_t)(j->D - j->dims) * j->esize);
    }
  }
  free(cs);
}

int cpu_rope_eval(node* n) {
  const rope_params* p = n->params;
  array* x = n->inputs[0];
  array* offset = n->inputs[1];
  array* out = n->outputs[0];
  array* tmp = NULL;
  float* inv_freq = NULL;
  int rc = 1;
  if (!(x->flags & ARRAY_ROW_CONTIGUOUS)) {
    if (!(tmp = array_copy_contiguous(x, x->dtype))) return 1;
    x = tmp;
  }
  if (array_alloc_or_donate(out, &x, 1)) goto done;
  if (out->size == 0) {
    rc = 0;
    goto done;
  }
  int half = p->dims / 2;
  inv_freq = malloc(sizeof(float) * (size_t)(half > 0 ? half : 1));
  if (!inv_freq) {
    error_set("[rope] Out of memory.");
    goto done;
  }
  if (p->has_freqs) {
    array* f = n->inputs[2];
    const float* fd = array_data(f);
    for (int i = 0; i < half; i++) inv_freq[i] = 1.0f / fd[(int64_t)i * f->strides[0]];
  } else {
    rope_inv_freqs(inv_freq, p->dims, p->base);
  }
  int nd = x->ndim;
  rope_job j = {
      .x = array_data(x),
      .out = array_data(out),
      .esize = dtype_size(x->dtype),
      .T = x->shape[nd - 2],
      .D = x->shape[nd - 1],
      .dims = p->dims,
      .traditional = p->traditional,
      .inv_freq = inv_freq,
      .offset = array_data(offset),
      .offset_stride = offset->size > 1 ? offset->strides[0] : 0,
      .offset_unsigned = offset->dtype == MLX_UINT32,
      .scale = p->scale,
      .t = x->dtype,
  };
  atomic_init(&j.failed, 0);
  j.N = 1;
  for (int d = 1; d < nd - 2; d++) j.N *= x->shape[d];
  size_t positions = (size_t)x->shape[0] * (size_t)j.T;
  size_t per_position = (size_t)j.N * (size_t)j.D;
  pool_for(positions, ROPE_SERIAL_ELEMS / (per_position ? per_position : 1) + 1, rope_positions,
           &j);
  if (atomic_load(&j.failed)) {
    error_set("[rope] Out of memory.");
    goto done;
  }
  rc = 0;
done:
  free(inv_freq);
  array_release(tmp);
  return rc;
}
