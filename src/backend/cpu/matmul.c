/* matmul.c - the CPU kernel behind Matmul and AddMM (see matmul.h for the
 * node layout).
 *
 * OpenBLAS does the arithmetic. Each operand's matrices are handed to it in
 * place whenever their last two axes form a BLAS matrix: row-major with a
 * leading dimension (unit column stride, e.g. a row slice) or column-major
 * (unit row stride: a transposed view), passed with CblasTrans. Anything
 * else (broadcast rows, negative or scattered strides) is copied once into
 * a row-contiguous temporary. Batch axes are walked with their own strides,
 * so broadcast batches are never materialised; when b is shared by every
 * batch and a's batches are stacked rows, the whole batch is one GEMM.
 * float16/bfloat16 have no BLAS routine: each batch is widened to float32
 * scratch, multiplied by sgemm and rounded once into the output. */
#include <cblas.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/elementwise.h"
#include "backend/cpu/isa.h"
#include "backend/cpu/matmul.h"
#include "core/error.h"
#include "core/half.h"

/* One operand as BLAS reads it. A matrix element (r, c) sits at
 * r * rs + c * cs from its batch's first element. */
typedef struct gemm_operand {
  const array* arr; /* what is read: the input, or tmp */
  array* tmp;       /* owned row-contiguous copy, or NULL */
  int64_t rs, cs;   /* strides of the two matrix axes */
  bool trans;       /* BLAS layout: column-major (CblasTrans) */
  int ld;           /* BLAS leading dimension */
} gemm_operand;

static int64_t max1(int64_t v) {
  return v > 1 ? v : 1;
}

/* Can a rows x cols matrix with these strides be passed to BLAS as is?
 * Axes of size 1 have no meaningful stride, so they never disqualify. */
static bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                        bool* trans, int* ld) {
  if (cols == 1 || cs == 1) {
    int64_t l = rows == 1 ? max1(cols) : rs;
    if (l >= max1(cols) && l <= INT_MAX) {
      *trans = false;
      *ld = (int)l;
      return true;
    }
  }
  if (rows == 1 || rs == 1) {
    int64_t l = cols == 1 ? max1(rows) : cs;
    if (l >= max1(rows) && l <= INT_MAX) {
      *trans = true;
      *ld = (int)l;
      return true;
    }
  }
  return false;
}

static bool dtype_has_blas(mlx_dtype t) {
  return t == MLX_FLOAT32 || t == MLX_FLOAT64 || t == MLX_COMPLEX64;
}

/* Sets up x (rows x cols matrices) for BLAS, copying it when its layout
 * cannot be passed directly. Half types are read element by element with
 * any strides, so they are never copied here. */
static int operand_init(gemm_operand* op, array* x, int64_t rows, int64_t cols) {
  int nd = x->ndim;
  op->arr = x;
  op->tmp = NULL;
  op->rs = x->strides[nd - 2];
  op->cs = x->strides[nd - 1];
  op->trans = false;
  op->ld = 0;
  if (!dtype_has_blas(x->dtype)) return 0;
  if (blas_layout(rows, cols, op->rs, op->cs, &op->trans, &op->ld)) return 0;
  op->tmp = array_copy_contiguous(x, x->dtype);
  if (!op->tmp) return 1;
  op->arr = op->tmp;
  op->rs = cols;
  op->cs = 1;
  if (!blas_layout(rows, cols, op->rs, op->cs, &op->trans, &op->ld))
    return error_set("[matmul] Matrix dimension %lld is too large for BLAS.",
                     (long long)cols);
  return 0;
}

/* True when every batch axis of x has stride 0 (one matrix for all). */
static bool batch_is_shared(const array* x, const int* shape, int nb) {
  for (int d = 0; d < nb; d++)
    if (shape[d] > 1 && x->strides[d] != 0) return false;
  return true;
}

/* True when x's batches follow each other as rows of one row-major
 * matrix with leading dimension ld: batch i starts at i * rows * ld. */
static bool batch_is_stacked(const array* x, const int* shape, int nb,
                             int64_t rows, int64_t ld) {
  int64_t expect = rows * ld;
  for (int d = nb - 1; d >= 0; d--) {
    if (shape[d] == 1) continue;
    if (x->strides[d] != expect) return false;
    expect *= shape[d];
  }
  return true;
}

/* ---- one GEMM per dtype ---- */

typedef struct gemm_call {
  mlx_dtype dtype;
  int m, n, k;
  float alpha, beta;
  const gemm_operand* a;
  const gemm_operand* b;
  float* scratch; /* half types: m*k + k*n + m*n floats */
} gemm_call;

/* Half <-> float32 loops: every element of a half-type product passes
 * through them once, so they are vectorised per ISA (the unit-stride case
 * separately, so the compiler can use vector loads). */
CPU_KERNEL static void widen_f16(float* dst, const uint16_t* src, size_t n, int64_t st) {
  if (st == 1)
    for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(src[i]);
  else
    for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(src[(int64_t)i * st]);
}

CPU_KERNEL static void widen_bf16(float* dst, const uint16_t* src, size_t n, int64_t st) {
  if (st == 1)
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
  else
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[(int64_t)i * st]);
}

CPU_KERNEL static void narrow_f16(uint16_t* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = f32_to_f16(src[i]);
}

CPU_KERNEL static void narrow_bf16(uint16_t* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

/* Widens a rows x cols strided half matrix into row-major float32. */
static void load_f32(float* dst, const char* src, mlx_dtype t, int64_t rows,
                     int64_t cols, int64_t rs, int64_t cs) {
  const uint16_t* p = (const uint16_t*)src;
  for (int64_t r = 0; r < rows; r++) {
    if (t == MLX_FLOAT16)
      widen_f16(dst + r * cols, p + r * rs, (size_t)cols, cs);
    else
      widen_bf16(dst + r * cols, p + r * rs, (size_t)cols, cs);
  }
}

/* C (m x n, row-major, leading dimension n) = alpha A B + beta C. */
static void gemm_run(const gemm_call* g, const char* pa, const char* pb,
                     char* pc, bool load_a, bool load_b) {
  enum CBLAS_TRANSPOSE ta = g->a->trans ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE tb = g->b->trans ? CblasTrans : CblasNoTrans;
  switch (g->dtype) {
    case MLX_FLOAT32:
      cblas_sgemm(CblasRowMajor, ta, tb, g->m, g->n, g->k, g->alpha,
                  (const float*)pa, g->a->ld, (const float*)pb, g->b->ld,
                  g->beta, (float*)pc, g->n);
      break;
    case MLX_FLOAT64:
      cblas_dgemm(CblasRowMajor, ta, tb, g->m, g->n, g->k, g->alpha,
                  (const double*)pa, g->a->ld, (const double*)pb, g->b->ld,
                  g->beta, (double*)pc, g->n);
      break;
    case MLX_COMPLEX64: {
      float alpha[2] = {g->alpha, 0}, beta[2] = {g->beta, 0};
      cblas_cgemm(CblasRowMajor, ta, tb, g->m, g->n, g->k, alpha, pa,
                  g->a->ld, pb, g->b->ld, beta, pc, g->n);
      break;
    }
    default: { /* float16, bfloat16: float32 scratch, one rounding */
      int64_t m = g->m, n = g->n, k = g->k;
      float* fa = g->scratch;
      float* fb = fa + m * k;
      float* fc = fb + k * n;
      if (load_a) load_f32(fa, pa, g->dtype, m, k, g->a->rs, g->a->cs);
      if (load_b) load_f32(fb, pb, g->dtype, k, n, g->b->rs, g->b->cs);
      if (g->beta != 0) load_f32(fc, pc, g->dtype, m, n, n, 1);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->m, g->n, g->k,
                  g->alpha, fa, g->k, fb, g->n, g->beta, fc, g->n);
      if (g->dtype == MLX_FLOAT16)
        narrow_f16((uint16_t*)pc, fc, (size_t)(m * n));
      else
        narrow_bf16((uint16_t*)pc, fc, (size_t)(m * n));
      break;
    }
  }
}

/* out *= beta, elementwise (AddMM with K == 0: no product to add). */
static void scale_inplace(array* out, float beta) {
  size_t n = out->size;
  void* p = array_data(out);
  switch (out->dtype) {
    case MLX_FLOAT32:
      for (size_t i = 0; i < n; i++) ((float*)p)[i] *= beta;
      break;
    case MLX_FLOAT64:
      for (size_t i = 0; i < n; i++) ((double*)p)[i] *= (double)beta;
      break;
    case MLX_COMPLEX64:
      for (size_t i = 0; i < n; i++) {
        ((complex64*)p)[i].re *= beta;
        ((complex64*)p)[i].im *= beta;
      }
      break;
    case MLX_FLOAT16:
      for (size_t i = 0; i < n; i++)
        ((uint16_t*)p)[i] = f32_to_f16(f16_to_f32(((uint16_t*)p)[i]) * beta);
      break;
    default: /* bfloat16 */
      for (size_t i = 0; i < n; i++)
        ((uint16_t*)p)[i] = f32_to_bf16(bf16_to_f32(((uint16_t*)p)[i]) * beta);
      break;
  }
}

/* Walks the batch axes (out's first nb axes) with each operand's strides;
 * consecutive batches that read the same matrix do not reload it. */
static void run_batches(const gemm_call* g, array* out, int nb, int64_t batches) {
  size_t esz = dtype_size(out->dtype);
  const array* xa = g->a->arr;
  const array* xb = g->b->arr;
  const char* base_a = array_data(xa);
  const char* base_b = array_data(xb);
  char* base_c = array_data(out);
  int64_t mn = (int64_t)g->m * g->n;
  int64_t idx[nb > 0 ? nb : 1];
  memset(idx, 0, sizeof idx);
  int64_t off_a = 0, off_b = 0, last_a = -1, last_b = -1;
  for (int64_t i = 0; i < batches; i++) {
    gemm_run(g, base_a + off_a * (int64_t)esz, base_b + off_b * (int64_t)esz,
             base_c + i * mn * (int64_t)esz, off_a != last_a, off_b != last_b);
    last_a = off_a;
    last_b = off_b;
    for (int d = nb - 1; d >= 0; d--) { /* next batch index, with carry */
      idx[d]++;
      off_a += xa->strides[d];
      off_b += xb->strides[d];
      if (idx[d] < out->shape[d]) break;
      off_a -= xa->strides[d] * out->shape[d];
      off_b -= xb->strides[d] * out->shape[d];
      idx[d] = 0;
    }
  }
}

int cpu_matmul_eval(node* n) {
  array* a = n->inputs[0];
  array* b = n->inputs[1];
  array* c = n->n_inputs > 2 ? n->inputs[2] : NULL;
  array* out = n->outputs[0];
  const matmul_params* p = n->params;
  mlx_dtype t = out->dtype;
  if (!dtype_is_inexact(t))
    return error_set("[Matmul::eval_cpu] Unsupported dtype %s.", dtype_name(t));
  float alpha = p ? p->alpha : 1.0f;
  float beta = c && p ? p->beta : 0.0f;

  /* c (already out's dtype and shape) is the initial value of out */
  if (c ? array_alloc_or_donate(out, &c, 1) : array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  if (c && out->buf != c->buf) cpu_copy_into(out, c);

  int nd = out->ndim, nb = nd - 2;
  int64_t M = out->shape[nd - 2], N = out->shape[nd - 1], K = a->shape[nd - 1];
  if (K == 0) { /* empty sum: the product is zero */
    if (!c)
      memset(array_data(out), 0, array_nbytes(out));
    else if (beta != 1.0f)
      scale_inplace(out, beta);
    return 0;
  }

  gemm_operand A, B;
  B.tmp = NULL;
  float* scratch = NULL;
  int rc = operand_init(&A, a, M, K);
  if (!rc) rc = operand_init(&B, b, K, N);
  if (rc) goto done;

  int64_t batches = (int64_t)(out->size / (size_t)(M * N));
  int64_t rows = M;
  /* b shared by all batches and a's batches stacked rows: one tall GEMM */
  bool blas = dtype_has_blas(t);
  if (batches > 1 && !A.trans && batches * M <= INT_MAX &&
      batch_is_shared(B.arr, out->shape, nb) &&
      batch_is_stacked(A.arr, out->shape, nb, M, blas ? A.ld : A.rs)) {
    rows = batches * M;
    batches = 1;
    nb = 0;
  }

  gemm_call g = {t, (int)rows, (int)N, (int)K, alpha, beta, &A, &B, NULL};
  if (!blas) {
    size_t nf = (size_t)(rows * K + K * N + rows * N);
    scratch = malloc(nf * sizeof(float));
    if (!scratch) {
      rc = error_set("[matmul] Unable to allocate %zu bytes.", nf * sizeof(float));
      goto done;
    }
    g.scratch = scratch;
  }
  run_batches(&g, out, nb, batches);

done:
  free(scratch);
  array_release(A.tmp);
  array_release(B.tmp);
  return rc;
}
