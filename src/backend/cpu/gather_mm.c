/* gather_mm.c - the CPU kernel of GatherMM (node contract in qmm.h): one
 * matrix product per index pair, a[lhs[i]] @ b[rhs[i]].
 *
 * MLX's CPU runs only float32 (other dtypes fail at eval); we run every
 * real float dtype: float32 and float64 go to BLAS with each operand's
 * matrices passed in place when their last two axes are row- or
 * column-major (a transposed view), else from one contiguous copy;
 * float16 and bfloat16 are widened to float32 per item, multiplied by
 * sgemm and rounded once. Indices past the end are clamped (MLX reads out
 * of bounds). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/qmm.h"
#include "core/error.h"
#include "core/half.h"

/* One operand: its (possibly copied) array and how BLAS reads a matrix. */
typedef struct mm_operand {
  const array* a;
  array* tmp;    /* owned copy, or NULL */
  bool trans;    /* column-major matrices */
  int ld;
  int64_t batches;
} mm_operand;

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

static int operand_init(mm_operand* op, const array* a) {
  int nd = a->ndim;
  int64_t rows = a->shape[nd - 2], cols = a->shape[nd - 1];
  int64_t rs = a->strides[nd - 2], cs = a->strides[nd - 1];
  op->a = a;
  op->tmp = NULL;
  op->batches = 1;
  for (int d = 0; d < nd - 2; d++) op->batches *= a->shape[d];
  if ((cols <= 1 || cs == 1) && (rows <= 1 || rs >= cols) && rs <= INT32_MAX) {
    op->trans = false;
    op->ld = (int)(rows <= 1 || rs < 1 ? (cols > 1 ? cols : 1) : rs);
    return 0;
  }
  if ((rows <= 1 || rs == 1) && (cols <= 1 || cs >= rows) && cs <= INT32_MAX) {
    op->trans = true;
    op->ld = (int)(cols <= 1 || cs < 1 ? (rows > 1 ? rows : 1) : cs);
    return 0;
  }
  op->tmp = array_copy_contiguous(a, a->dtype);
  if (!op->tmp) return 1;
  op->a = op->tmp;
  op->trans = false;
  op->ld = (int)(cols > 1 ? cols : 1);
  return 0;
}

/* Element (r, c) of a matrix that starts at element base of op. */
static int64_t elem(const mm_operand* op, int64_t base, int64_t r, int64_t c) {
  return op->trans ? base + c * op->ld + r : base + r * op->ld + c;
}

/* Widens a rows x cols half matrix to row-major float32. */
static void widen(float* dst, const mm_operand* op, int64_t base, int64_t rows, int64_t cols) {
  const uint16_t* src = array_data(op->a);
  bool bf = op->a->dtype == MLX_BFLOAT16;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      uint16_t h = src[elem(op, base, r, c)];
      dst[r * cols + c] = bf ? bf16_to_f32(h) : f16_to_f32(h);
    }
}

static uint32_t index_at(const array* idx, int64_t i) {
  return ((const uint32_t*)array_data(idx))[unravel(i, idx, idx->ndim)];
}

int cpu_gather_mm_eval(node* n) {
  array* out = n->outputs[0];
  const array *lhs = n->inputs[2], *rhs = n->inputs[3];
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  int nd = out->ndim;
  int64_t M = out->shape[nd - 2], N = out->shape[nd - 1];
  int64_t K = n->inputs[0]->shape[n->inputs[0]->ndim - 1];
  int64_t items = (int64_t)(out->size / (size_t)(M * N));
  mlx_dtype t = out->dtype;
  size_t es = dtype_size(t);
  mm_operand a = {0}, b = {0};
  float* scratch = NULL;
  int rc = 1;
  if (operand_init(&a, n->inputs[0]) || operand_init(&b, n->inputs[1])) goto done;
  bool half = dtype_is_half(t);
  if (half) {
    scratch = malloc(sizeof(float) * (size_t)(M * K + K * N + M * N));
    if (!scratch) {
      error_set("[gather_mm] Out of memory.");
      goto done;
    }
  }
  for (int64_t i = 0; i < items; i++) {
    char* o = (char*)array_data(out) + i * M * N * (int64_t)es;
    int64_t li = index_at(lhs, i), ri = index_at(rhs, i);
    if (a.batches == 0 || b.batches == 0 || K == 0) {
      memset(o, 0, es * (size_t)(M * N));
      continue;
    }
    li = li < a.batches ? li : a.batches - 1;
    ri = ri < b.batches ? ri : b.batches - 1;
    int64_t ab = unravel(li, a.a, a.a->ndim - 2), bb = unravel(ri, b.a, b.a->ndim - 2);
    if (t == MLX_FLOAT32) {
      cblas_sgemm(CblasRowMajor, a.trans ? CblasTrans : CblasNoTrans,
                  b.trans ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                  (const float*)array_data(a.a) + ab, a.ld, (const float*)array_data(b.a) + bb,
                  b.ld, 0.0f, (float*)o, (int)N);
    } else if (t == MLX_FLOAT64) {
      cblas_dgemm(CblasRowMajor, a.trans ? CblasTrans : CblasNoTrans,
                  b.trans ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0,
                  (const double*)array_data(a.a) + ab, a.ld,
                  (const double*)array_data(b.a) + bb, b.ld, 0.0, (double*)o, (int)N);
    } else if (half) {
      float *fa = scratch, *fb = fa + M * K, *fo = fb + K * N;
      widen(fa, &a, ab, M, K);
      widen(fb, &b, bb, K, N);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, fa,
                  (int)K, fb, (int)N, 0.0f, fo, (int)N);
      uint16_t* oh = (uint16_t*)o;
      for (int64_t j = 0; j < M * N; j++)
        oh[j] = t == MLX_BFLOAT16 ? f32_to_bf16(fo[j]) : f32_to_f16(fo[j]);
    } else {
      error_set("[GatherMM::eval] Currently only supports float32.");
      goto done;
    }
  }
  rc = 0;
done:
  free(scratch);
  array_release(a.tmp);
  array_release(b.tmp);
  return rc;
}
