/* elementwise.c - the strided driver behind every elementwise kernel, and
 * dtype conversion (astype, copies). */
#include <math.h>
#include <string.h>

#include "backend/cpu/elementwise.h"
#include "backend/cpu/threadpool.h"

/* Work smaller than this stays on the calling thread. */
#define EW_PARALLEL_MIN (1u << 16)

typedef struct ew_plan {
  int ndim;                       /* after merging axes */
  int64_t shape[32];
  int64_t stride[EW_MAX_INPUTS][32];
  int n_in;
  char* out;
  const char* in[EW_MAX_INPUTS];
  size_t out_size, in_size[EW_MAX_INPUTS];
  ew_inner_fn fn;
  const void* params;
} ew_plan;

/* Merge axes from the right while every input is contiguous across them.
 * Size-1 axes are dropped first. Falls back to a flat copy of strides when
 * more than 32 axes survive (rare; then the plan loops in pieces). */
static int plan_build(ew_plan* p, array* out, array* const* in, int n_in) {
  int nd = 0;
  int64_t shape[64];
  int64_t st[EW_MAX_INPUTS][64];
  for (int d = 0; d < out->ndim; d++) {
    if (out->shape[d] == 1) continue;
    if (nd >= 64) return -1;
    shape[nd] = out->shape[d];
    for (int k = 0; k < n_in; k++) st[k][nd] = in[k]->strides[d];
    nd++;
  }
  /* merge from the back */
  int m = 0;
  for (int d = 0; d < nd; d++) {
    if (m > 0) {
      bool ok = true;
      for (int k = 0; k < n_in; k++)
        if (p->stride[k][m - 1] != st[k][d] * shape[d]) ok = false;
      if (ok) {
        p->shape[m - 1] *= shape[d];
        for (int k = 0; k < n_in; k++) p->stride[k][m - 1] = st[k][d];
        continue;
      }
    }
    if (m >= 32) return -1;
    p->shape[m] = shape[d];
    for (int k = 0; k < n_in; k++) p->stride[k][m] = st[k][d];
    m++;
  }
  if (m == 0) {
    p->shape[0] = 1;
    for (int k = 0; k < n_in; k++) p->stride[k][0] = 0;
    m = 1;
  }
  p->ndim = m;
  return 0;
}

static void plan_range(void* ctx, size_t begin, size_t end) {
  const ew_plan* p = ctx;
  int nd = p->ndim;
  int64_t idx[32];
  size_t rem = begin;
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = (int64_t)(rem % (size_t)p->shape[d]);
    rem /= (size_t)p->shape[d];
  }
  const void* ptr[EW_MAX_INPUTS];
  int64_t inner_stride[EW_MAX_INPUTS];
  for (int k = 0; k < p->n_in; k++) inner_stride[k] = p->stride[k][nd - 1];
  size_t pos = begin;
  while (pos < end) {
    size_t run = (size_t)(p->shape[nd - 1] - idx[nd - 1]);
    if (run > end - pos) run = end - pos;
    for (int k = 0; k < p->n_in; k++) {
      int64_t off = 0;
      for (int d = 0; d < nd; d++) off += idx[d] * p->stride[k][d];
      ptr[k] = p->in[k] + off * (int64_t)p->in_size[k];
    }
    p->fn(p->out + pos * p->out_size, ptr, inner_stride, run, p->params);
    pos += run;
    idx[nd - 1] += (int64_t)run;
    for (int d = nd - 1; d > 0 && idx[d] == p->shape[d]; d--) {
      idx[d] = 0;
      idx[d - 1]++;
    }
  }
}

/* Element-by-element fallback for layouts the plan cannot hold. */
static void run_generic(array* out, array* const* in, int n_in, ew_inner_fn fn,
                        const void* params) {
  int64_t* idx = calloc((size_t)out->ndim + 1, sizeof *idx);
  const void* ptr[EW_MAX_INPUTS];
  int64_t zero[EW_MAX_INPUTS] = {0};
  size_t osz = dtype_size(out->dtype);
  for (size_t i = 0; i < out->size; i++) {
    for (int k = 0; k < n_in; k++) {
      int64_t off = 0;
      for (int d = 0; d < out->ndim; d++) off += idx[d] * in[k]->strides[d];
      ptr[k] = (const char*)array_data(in[k]) + off * (int64_t)dtype_size(in[k]->dtype);
    }
    fn((char*)array_data(out) + i * osz, ptr, zero, 1, params);
    for (int d = out->ndim - 1; d >= 0; d--) {
      if (++idx[d] < out->shape[d]) break;
      idx[d] = 0;
    }
  }
  free(idx);
}

void ew_run(array* out, array* const* in, int n_in, ew_inner_fn fn,
            const void* params) {
  if (out->size == 0) return;
  ew_plan p;
  p.n_in = n_in;
  p.fn = fn;
  p.params = params;
  p.out = array_data(out);
  p.out_size = dtype_size(out->dtype);
  for (int k = 0; k < n_in; k++) {
    p.in[k] = array_data(in[k]);
    p.in_size[k] = dtype_size(in[k]->dtype);
  }
  if (plan_build(&p, out, in, n_in) != 0) {
    run_generic(out, in, n_in, fn, params);
    return;
  }
  pool_for(out->size, EW_PARALLEL_MIN, plan_range, &p);
}

/* ---- conversions ---- */

/* Float to integer the way x86 code compiled from MLX behaves: in-range
 * values truncate; out-of-range and NaN give the "integer indefinite"
 * value of the 32/64-bit conversion, then narrow by truncation. Written
 * without undefined behaviour. */
static inline int64_t f2i64(double x) {
  if (x >= -9223372036854775808.0 && x < 9223372036854775808.0) return (int64_t)x;
  return INT64_MIN;
}
static inline int32_t f2i32(double x) {
  if (x > -2147483649.0 && x < 2147483648.0) return (int32_t)x;
  return INT32_MIN;
}
static inline uint64_t f2u64(double x) {
  if (x >= 0 && x < 18446744073709551616.0) return (uint64_t)x;
  return (uint64_t)f2i64(x);
}

/* Every dtype passes through one of three carriers: int64 (bool and
 * integers; uint64 kept bitwise), double (floats) or complex. */
typedef struct carrier {
  double re, im;
  int64_t i;
  int kind; /* 0 integer, 1 float, 2 complex */
  bool is_u64;
} carrier;

static inline carrier load_elem(const void* p, mlx_dtype t) {
  carrier c = {0, 0, 0, 0, false};
  switch (t) {
    case MLX_BOOL: c.i = *(const bool*)p; break;
    case MLX_UINT8: c.i = *(const uint8_t*)p; break;
    case MLX_UINT16: c.i = *(const uint16_t*)p; break;
    case MLX_UINT32: c.i = *(const uint32_t*)p; break;
    case MLX_UINT64: c.i = (int64_t) * (const uint64_t*)p; c.is_u64 = true; break;
    case MLX_INT8: c.i = *(const int8_t*)p; break;
    case MLX_INT16: c.i = *(const int16_t*)p; break;
    case MLX_INT32: c.i = *(const int32_t*)p; break;
    case MLX_INT64: c.i = *(const int64_t*)p; break;
    case MLX_FLOAT16: c.re = f16_to_f32(*(const uint16_t*)p); c.kind = 1; break;
    case MLX_FLOAT32: c.re = *(const float*)p; c.kind = 1; break;
    case MLX_FLOAT64: c.re = *(const double*)p; c.kind = 1; break;
    case MLX_BFLOAT16: c.re = bf16_to_f32(*(const uint16_t*)p); c.kind = 1; break;
    case MLX_COMPLEX64:
      c.re = ((const complex64*)p)->re;
      c.im = ((const complex64*)p)->im;
      c.kind = 2;
      break;
  }
  return c;
}

static inline double carrier_real(carrier c) {
  if (c.kind) return c.re;
  return c.is_u64 ? (double)(uint64_t)c.i : (double)c.i;
}

static inline void store_elem(void* p, mlx_dtype t, carrier c) {
  if (t == MLX_BOOL) {
    /* MLX casts complex through its real part: (0+1j) -> false */
    *(bool*)p = c.kind ? c.re != 0 : c.i != 0;
    return;
  }
  if (c.kind == 0) {
    /* integer source: wrap like C integer conversions */
    switch (t) {
      case MLX_UINT8: *(uint8_t*)p = (uint8_t)c.i; return;
      case MLX_UINT16: *(uint16_t*)p = (uint16_t)c.i; return;
      case MLX_UINT32: *(uint32_t*)p = (uint32_t)c.i; return;
      case MLX_UINT64: *(uint64_t*)p = (uint64_t)c.i; return;
      case MLX_INT8: *(int8_t*)p = (int8_t)c.i; return;
      case MLX_INT16: *(int16_t*)p = (int16_t)c.i; return;
      case MLX_INT32: *(int32_t*)p = (int32_t)c.i; return;
      case MLX_INT64: *(int64_t*)p = c.i; return;
      default: break;
    }
  }
  if (c.kind == 0 && (t == MLX_FLOAT32 || t == MLX_FLOAT16 || t == MLX_BFLOAT16)) {
    /* round a 64-bit integer to float once, not via double */
    float f = c.is_u64 ? (float)(uint64_t)c.i : (float)c.i;
    if (t == MLX_FLOAT32) *(float*)p = f;
    else if (t == MLX_FLOAT16) *(uint16_t*)p = f32_to_f16(f);
    else *(uint16_t*)p = f32_to_bf16(f);
    return;
  }
  double x = carrier_real(c);
  switch (t) {
    case MLX_UINT8: *(uint8_t*)p = (uint8_t)f2i32(x); break;
    case MLX_UINT16: *(uint16_t*)p = (uint16_t)f2i32(x); break;
    case MLX_UINT32: *(uint32_t*)p = (uint32_t)f2i64(x); break;
    case MLX_UINT64: *(uint64_t*)p = f2u64(x); break;
    case MLX_INT8: *(int8_t*)p = (int8_t)f2i32(x); break;
    case MLX_INT16: *(int16_t*)p = (int16_t)f2i32(x); break;
    case MLX_INT32: *(int32_t*)p = f2i32(x); break;
    case MLX_INT64: *(int64_t*)p = f2i64(x); break;
    /* float16/bfloat16 from float64 go through float32, as MLX's do */
    case MLX_FLOAT16: *(uint16_t*)p = f32_to_f16((float)x); break;
    case MLX_FLOAT32: *(float*)p = (float)x; break;
    case MLX_FLOAT64: *(double*)p = x; break;
    case MLX_BFLOAT16: *(uint16_t*)p = f32_to_bf16((float)x); break;
    case MLX_COMPLEX64:
      ((complex64*)p)->re = (float)x;
      ((complex64*)p)->im = c.kind == 2 ? (float)c.im : 0.0f;
      break;
    default: break;
  }
}

void ew_convert(void* dst, mlx_dtype dst_type, const void* src,
                mlx_dtype src_type, size_t n, int64_t src_stride) {
  size_t ds = dtype_size(dst_type), ss = dtype_size(src_type);
  if (dst_type == src_type && src_stride == 1) {
    memcpy(dst, src, n * ds);
    return;
  }
  /* common fast paths */
  if (src_stride == 1 && src_type == MLX_FLOAT32 && dst_type == MLX_BFLOAT16) {
    for (size_t i = 0; i < n; i++) ((uint16_t*)dst)[i] = f32_to_bf16(((const float*)src)[i]);
    return;
  }
  if (src_stride == 1 && src_type == MLX_BFLOAT16 && dst_type == MLX_FLOAT32) {
    for (size_t i = 0; i < n; i++) ((float*)dst)[i] = bf16_to_f32(((const uint16_t*)src)[i]);
    return;
  }
  if (dst_type == src_type) {
    for (size_t i = 0; i < n; i++)
      memcpy((char*)dst + i * ds, (const char*)src + (int64_t)i * src_stride * (int64_t)ss, ds);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    carrier c = load_elem((const char*)src + (int64_t)i * src_stride * (int64_t)ss, src_type);
    store_elem((char*)dst + i * ds, dst_type, c);
  }
}
