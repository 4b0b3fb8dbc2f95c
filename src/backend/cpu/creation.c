/* creation.c - CPU kernels that make arrays from parameters: Full (a value
 * or an array broadcast into a fresh buffer), Arange, Linspace, Eye, Tri,
 * and the Tril/Triu masks.
 *
 * Arange and Linspace reproduce MLX's arithmetic step by step (MLX
 * accumulates arange in the output type; linspace is a small graph of
 * float32 ops), so results match bit for bit, rounding drift included.
 * The others are byte fills: zero is all-zero bytes in every dtype. */
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/creation.h"
#include "backend/cpu/elementwise.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"
#include "core/half.h"

/* Element counts below this are filled on the calling thread. */
#define FILL_PARALLEL_MIN (1u << 16)

/* ---- filling with one value ---- */

typedef struct fill_job {
  char* dst;
  size_t elsize;
  uint64_t value; /* the element's bytes, low bytes first */
} fill_job;

static void fill_range(void* ctx, size_t begin, size_t end) {
  const fill_job* j = ctx;
  size_t n = end - begin;
  switch (j->elsize) {
    case 1: memset(j->dst + begin, (int)(uint8_t)j->value, n); break;
#define FILL_CASE(T)                                              \
  case sizeof(T): {                                               \
    T v;                                                          \
    memcpy(&v, &j->value, sizeof v);                              \
    T* p = (T*)j->dst + begin;                                    \
    for (size_t i = 0; i < n; i++) p[i] = v;                      \
    break;                                                        \
  }
      FILL_CASE(uint16_t)
      FILL_CASE(uint32_t)
      FILL_CASE(uint64_t)
#undef FILL_CASE
    default: break;
  }
}

/* dst[0..n) = *value, each element elsize (1, 2, 4 or 8) bytes. */
static void fill_elems(void* dst, size_t elsize, const void* value, size_t n) {
  fill_job j = {dst, elsize, 0};
  memcpy(&j.value, value, elsize);
  if (j.value == 0) { /* zero in every dtype */
    memset(dst, 0, n * elsize);
    return;
  }
  pool_for(n, FILL_PARALLEL_MIN, fill_range, &j);
}

/* The bytes of the value v in dtype t (at most 8). */
static uint64_t value_bytes(mlx_dtype t, double v) {
  uint64_t out = 0;
  ew_convert_one(&out, t, &v, MLX_FLOAT64);
  return out;
}

/* ---- Full ---- */

int cpu_full_eval(node* n) {
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  /* one value broadcast everywhere: a fill instead of a strided copy */
  bool single = true;
  for (int d = 0; d < in->ndim; d++)
    if (in->shape[d] != 1 && in->strides[d] != 0) single = false;
  if (!single) return cpu_copy_eval(n);
  if (array_alloc(out)) return 1;
  if (out->size) fill_elems(array_data(out), dtype_size(out->dtype), array_data(in), out->size);
  return 0;
}

/* ---- Arange ---- */

/* Integers: MLX's T-typed loop, written in the unsigned type of the same
 * width so the wrap-around that x86 gives MLX is defined here. */
#define ARANGE_INT(T, U, DT)                                                     \
  case DT: {                                                                     \
    T first, next;                                                               \
    ew_convert_one(&first, DT, &start, MLX_FLOAT64);                             \
    ew_convert_one(&next, DT, &second, MLX_FLOAT64);                             \
    U v = (U)first, step = (U)((U)next - (U)first);                              \
    T* o = out;                                                                  \
    for (size_t i = 0; i < n; i++, v = (U)(v + step)) o[i] = (T)v;               \
    break;                                                                       \
  }
/* Floats in their own precision (complex64, below, only has a real part). */
#define ARANGE_FLOAT(T, DT)                                                      \
  case DT: {                                                                     \
    T v = (T)start, step = (T)second - v;                                        \
    T* o = out;                                                                  \
    for (size_t i = 0; i < n; i++, v += step) o[i] = v;                          \
    break;                                                                       \
  }
/* Half types: every operation is done in float and rounded back. */
#define ARANGE_HALF(DT, LOAD, STORE)                                             \
  case DT: {                                                                     \
    uint16_t v = STORE((float)start);                                            \
    float step = LOAD(STORE(LOAD(STORE((float)second)) - LOAD(v)));              \
    uint16_t* o = out;                                                           \
    for (size_t i = 0; i < n; i++, v = STORE(LOAD(v) + step)) o[i] = v;          \
    break;                                                                       \
  }

int cpu_arange_eval(node* n_) {
  array* result = n_->outputs[0];
  const arange_params* p = n_->params;
  if (array_alloc(result)) return 1;
  void* out = array_data(result);
  size_t n = result->size;
  double start = p->start, second = p->start + p->step;
  switch (result->dtype) {
    ARANGE_INT(uint8_t, uint8_t, MLX_UINT8)
    ARANGE_INT(uint16_t, uint16_t, MLX_UINT16)
    ARANGE_INT(uint32_t, uint32_t, MLX_UINT32)
    ARANGE_INT(uint64_t, uint64_t, MLX_UINT64)
    ARANGE_INT(int8_t, uint8_t, MLX_INT8)
    ARANGE_INT(int16_t, uint16_t, MLX_INT16)
    ARANGE_INT(int32_t, uint32_t, MLX_INT32)
    ARANGE_INT(int64_t, uint64_t, MLX_INT64)
    ARANGE_FLOAT(float, MLX_FLOAT32)
    ARANGE_FLOAT(double, MLX_FLOAT64)
    ARANGE_HALF(MLX_FLOAT16, f16_to_f32, f32_to_f16)
    ARANGE_HALF(MLX_BFLOAT16, bf16_to_f32, f32_to_bf16)
    case MLX_COMPLEX64: {
      float v = (float)start, step = (float)second - v;
      complex64* o = out;
      for (size_t i = 0; i < n; i++, v += step) o[i] = (complex64){v, 0.0f};
      break;
    }
    case MLX_BOOL:
      return error_set("Bool type unsupported for arange.");
  }
  return 0;
}

#undef ARANGE_INT
#undef ARANGE_FLOAT
#undef ARANGE_HALF

/* ---- Linspace ---- */

/* Each product and sum must be rounded on its own, as MLX's separate
 * multiply and add ops are: no contraction into fused multiply-adds. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#define NO_FMA
#elif defined(__GNUC__)
#define NO_FMA __attribute__((optimize("fp-contract=off")))
#else
#define NO_FMA
#endif

NO_FMA int cpu_linspace_eval(node* n) {
  array* out = n->outputs[0];
  const linspace_params* p = n->params;
  if (array_alloc(out)) return 1;
  size_t num = out->size;
  char* o = array_data(out);
  size_t osz = dtype_size(out->dtype);
  if (out->dtype == MLX_FLOAT64) {
    double den = (double)num - 1, t_acc = 0;
    for (size_t i = 0; i < num; i++, t_acc += 1.0) {
      double t = t_acc / den;
      double a = (1.0 - t) * p->start;
      double b = t * p->stop;
      ((double*)o)[i] = a + b;
    }
    return 0;
  }
  /* float32, then converted like astype; t comes from a float32 arange */
  float den = (float)((int)num - 1), start = (float)p->start, stop = (float)p->stop;
  float t_acc = 0;
  for (size_t i = 0; i < num; i++, t_acc += 1.0f) {
    float t = t_acc / den;
    float a = (1.0f - t) * start;
    float b = t * stop;
    float v = a + b;
    if (out->dtype == MLX_FLOAT32)
      ((float*)o)[i] = v;
    else
      ew_convert_one(o + i * osz, out->dtype, &v, MLX_FLOAT32);
  }
  return 0;
}

/* ---- Eye / Tri ---- */

int cpu_eye_eval(node* n) {
  array* out = n->outputs[0];
  int64_t k = ((const diag_params*)n->params)->k;
  if (array_alloc(out)) return 1;
  int64_t rows = out->shape[0], cols = out->shape[1];
  size_t esz = dtype_size(out->dtype);
  char* o = array_data(out);
  memset(o, 0, out->size * esz);
  uint64_t one = value_bytes(out->dtype, 1.0);
  for (int64_t r = k < 0 ? -k : 0; r < rows && r + k < cols; r++)
    memcpy(o + (size_t)(r * cols + r + k) * esz, &one, esz);
  return 0;
}

/* The columns [0, keep) of row r that lie on or below diagonal k. */
static int64_t cols_through_diagonal(int64_t r, int64_t k, int64_t cols) {
  int64_t keep = r + k + 1;
  return keep < 0 ? 0 : (keep > cols ? cols : keep);
}

int cpu_tri_eval(node* n) {
  array* out = n->outputs[0];
  int64_t k = ((const diag_params*)n->params)->k;
  if (array_alloc(out)) return 1;
  int64_t rows = out->shape[0], cols = out->shape[1];
  size_t esz = dtype_size(out->dtype);
  char* o = array_data(out);
  uint64_t one = value_bytes(out->dtype, 1.0);
  for (int64_t r = 0; r < rows; r++) {
    char* row = o + (size_t)(r * cols) * esz;
    int64_t keep = cols_through_diagonal(r, k, cols);
    fill_elems(row, esz, &one, (size_t)keep);
    memset(row + (size_t)keep * esz, 0, (size_t)(cols - keep) * esz);
  }
  return 0;
}

/* ---- Tril / Triu ---- */

typedef struct mask_job {
  char* data;
  int64_t rows, cols, k;
  size_t esz;
  bool upper;
} mask_job;

/* Rows [begin, end) of all the matrices, counted across the batch. */
static void mask_rows(void* ctx, size_t begin, size_t end) {
  const mask_job* j = ctx;
  for (size_t g = begin; g < end; g++) {
    int64_t r = (int64_t)(g % (size_t)j->rows);
    char* row = j->data + g * (size_t)j->cols * j->esz;
    if (j->upper) { /* keep col - row >= k: zero what tri(k - 1) covers */
      int64_t z = cols_through_diagonal(r, j->k - 1, j->cols);
      memset(row, 0, (size_t)z * j->esz);
    } else { /* keep col - row <= k */
      int64_t keep = cols_through_diagonal(r, j->k, j->cols);
      memset(row + (size_t)keep * j->esz, 0, (size_t)(j->cols - keep) * j->esz);
    }
  }
}

static int tri_mask_eval(node* n, bool upper) {
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  if (array_alloc_or_donate(out, &in, 1)) return 1;
  if (out->buf != in->buf) cpu_copy_into(out, in); /* donated: already in place */
  if (out->size == 0) return 0;
  mask_job j = {array_data(out), out->shape[out->ndim - 2], out->shape[out->ndim - 1],
                ((const diag_params*)n->params)->k, dtype_size(out->dtype), upper};
  size_t total_rows = out->size / (size_t)j.cols;
  size_t min_rows = FILL_PARALLEL_MIN / (size_t)j.cols + 1;
  pool_for(total_rows, min_rows, mask_rows, &j);
  return 0;
}

int cpu_tril_eval(node* n) {
  return tri_mask_eval(n, false);
}

int cpu_triu_eval(node* n) {
  return tri_mask_eval(n, true);
}
