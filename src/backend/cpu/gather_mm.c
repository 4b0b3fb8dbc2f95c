/* gather_mm.c - the CPU kernel of GatherMM (node contract in qmm.h): one
 * matrix product per index pair, a[lhs[i]] @ b[rhs[i]].
 *
 * MLX's CPU runs only float32 (other dtypes fail at eval); we run every
 * real float dtype: float32 and float64 go to BLAS with each operand's
 * matrices passed in place when their last two axes are row- or
 * column-major (a transposed view), else from one contiguous copy;
 * float16 and bfloat16 are widened to float32, multiplied by sgemm and
 * rounded once. Consecutive items on the same matrix of b (MoE tokens
 * sorted by expert) are stacked into one product. Indices past the end are clamped (MLX reads out
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

static int64_t clamp_index(int64_t i, int64_t batches) {
  return i < batches ? i : batches - 1;
}

/* Rows of a stacked product at the most (bounds the scratch). */
#define RUN_ROWS 512

typedef struct stack_buf {
  void* p;
  size_t bytes;
} stack_buf;

static void* stack_get(stack_buf* s, size_t bytes) {
  if (bytes <= s->bytes) return s->p;
  void* p = realloc(s->p, bytes);
  if (!p) {
    error_set("[gather_mm] Out of memory.");
    return NULL;
  }
  s->p = p;
  s->bytes = bytes;
  return p;
}

/* Copies a rows x cols matrix of op (float32 or float64, or widened from a
 * half type to float32) to row-major dst of element size es. */
static void gather_rows(void* dst, size_t es, const mm_operand* op, int64_t base, int64_t rows,
                        int64_t cols) {
  if (dtype_is_half(op->a->dtype)) {
    widen(dst, op, base, rows, cols);
    return;
  }
  const char* src = array_data(op->a);
  size_t oes = dtype_size(op->a->dtype);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++)
      memcpy((char*)dst + (r * cols + c) * (int64_t)es, src + elem(op, base, r, c) * (int64_t)oes,
             es);
}

/* Items i .. i+run-1, all on matrix bb of b: their a matrices stacked into
 * one (run*M) x K product whose rows are the outputs' (the output is
 * contiguous), in float32 (half types widened, rounded once) or float64. */
static int stacked_product(const mm_operand* a, const mm_operand* b, const array* lhs,
                           int64_t i, int64_t run, int64_t M, int64_t N, int64_t K, int64_t bb,
                           mlx_dtype t, char* o, stack_buf* stack) {
  bool dbl = t == MLX_FLOAT64, half = dtype_is_half(t);
  size_t es = dbl ? sizeof(double) : sizeof(float);
  int64_t rows = run * M;
  size_t need = es * (size_t)(rows * K + (half ? K * N + rows * N : 0));
  char* buf = stack_get(stack, need);
  if (!buf) return 1;
  for (int64_t j = 0; j < run; j++) {
    int64_t li = clamp_index(index_at(lhs, i + j), a->batches);
    gather_rows(buf + (size_t)(j * M * K) * es, es, a, unravel(li, a->a, a->a->ndim - 2), M, K);
  }
  if (dbl) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, b->trans ? CblasTrans : CblasNoTrans, (int)rows,
                (int)N, (int)K, 1.0, (const double*)buf, (int)K,
                (const double*)array_data(b->a) + bb, b->ld, 0.0, (double*)o, (int)N);
  } else if (!half) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, b->trans ? CblasTrans : CblasNoTrans, (int)rows,
                (int)N, (int)K, 1.0f, (const float*)buf, (int)K,
                (const float*)array_data(b->a) + bb, b->ld, 0.0f, (float*)o, (int)N);
  } else {
    float* fb = (float*)buf + rows * K;
    float* fo = fb + K * N;
    widen(fb, b, bb, K, N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)N, (int)K, 1.0f,
                (const float*)buf, (int)K, fb, (int)N, 0.0f, fo, (int)N);
    uint16_t* oh = (uint16_t*)o;
    for (int64_t j = 0; j < rows * N; j++)
      oh[j] = t == MLX_BFLOAT16 ? f32_to_bf16(fo[j]) : f32_to_f16(fo[j]);
  }
  return 0;
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
  stack_buf stack = {0};
  int rc = 1;
  if (operand_init(&a, n->inputs[0]) || operand_init(&b, n->inputs[1])) goto done;
  bool half = dtype_is_half(t);
  if (!half && t != MLX_FLOAT32 && t != MLX_FLOAT64) {
    error_set("[GatherMM::eval] Currently only supports float32.");
    goto done;
  }
  for (int64_t i = 0; i < items;) {
    char* o = (char*)array_data(out) + i * M * N * (int64_t)es;
    int64_t li = index_at(lhs, i), ri = index_at(rhs, i);
    if (a.batches == 0 || b.batches == 0 || K == 0) {
      memset(o, 0, es * (size_t)(M * N));
      i++;
      continue;
    }
    ri = ri < b.batches ? ri : b.batches - 1;
    int64_t bb = unravel(ri, b.a, b.a->ndim - 2);
    /* A run of items on the same matrix of b (MoE tokens sorted by expert)
     * is one product: their a matrices stacked, rows * M x K. */
    int64_t run = 1;
    while (i + run < items && run * M < RUN_ROWS && clamp_index(index_at(rhs, i + run),
                                                               b.batches) == ri)
      run++;
    if (run > 1 || half) {
      if (stacked_product(&a, &b, lhs, i, run, M, N, K, bb, t, o, &stack)) goto done;
      i += run;
      continue;
    }
    li = li < a.batches ? li : a.batches - 1;
    int64_t ab = unravel(li, a.a, a.a->ndim - 2);
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
    } else {
      error_set("[GatherMM::eval] Currently only supports float32.");
      goto done;
    }
    i++;
  }
  rc = 0;
done:
  free(stack.p);
  array_release(a.tmp);
  array_release(b.tmp);
  return rc;
}
