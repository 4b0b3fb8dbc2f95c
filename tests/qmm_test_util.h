/* qmm_test_util.h - helpers shared by test_qmm.c, test_qmm_kernels.c and
 * test_qmm_gather.c: random arrays, quantized matrices made with
 * mlx_quantize (qmat), the independent double-precision reference (its
 * own decoding of MLX's formats and a plain matmul), the relative error
 * against it and the tolerance per dtype, and the format triples the
 * tests loop over. (qmm_check.h holds the raw-buffer kernel check that
 * test_qmm_kernels.c shares with test_qmm_gemm.c.)
 *
 * Everything here is static: each test program includes it once. */
#ifndef CMLX_TEST_QMM_TEST_UTIL_H
#define CMLX_TEST_QMM_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/qmm.h"
#include "backend/cpu/qmm_kernels.h"
#include "core/half.h"
#include "harness.h"

static const mlx_optional_int no_int = {0, false};
static inline mlx_optional_int opt_int(int v) { return (mlx_optional_int){v, true}; }

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static inline size_t shape_size(const int* shape, int nd) {
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
  return n;
}

static inline mlx_array random_array(const int* shape, int nd, mlx_dtype t, double lo, double hi) {
  size_t n = shape_size(shape, nd);
  float* v = malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = (float)test_rand(lo, hi);
  mlx_array a = mlx_array_new_data(v, shape, nd, MLX_FLOAT32);
  free(v);
  if (t != MLX_FLOAT32) {
    mlx_array c = mlx_array_new();
    CHECK_OK(mlx_astype(&c, a, t, test_stream));
    mlx_array_free(a);
    a = c;
  }
  return a;
}

static inline mlx_array index_array(const int32_t* v, const int* shape, int nd) {
  return mlx_array_new_data(v, shape, nd, MLX_INT32);
}

static inline mlx_array vec_at(mlx_vector_array v, size_t i) {
  mlx_array a = mlx_array_new();
  mlx_vector_array_get(&a, v, i);
  return a;
}

/* A quantized matrix (or stack) and what made it. */
typedef struct qmat {
  mlx_array wq, scales, biases; /* biases empty for fp modes */
  const char* mode;
  int bits, group_size;
} qmat;

static inline qmat quantize(mlx_array w, const char* mode, int gs, int bits) {
  qmat q = {mlx_array_new(), mlx_array_new(), mlx_array_new(), mode, bits, gs};
  mlx_vector_array r = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&r, w, opt_int(gs), opt_int(bits), mode, mlx_array_new(), test_stream));
  if (mlx_vector_array_size(r) >= 2) {
    mlx_array_free(q.wq);
    mlx_array_free(q.scales);
    q.wq = vec_at(r, 0);
    q.scales = vec_at(r, 1);
    if (mlx_vector_array_size(r) == 3) {
      mlx_array_free(q.biases);
      q.biases = vec_at(r, 2);
    }
  }
  mlx_vector_array_free(r);
  return q;
}

static inline qmat quantize_random(const int* shape, int nd, mlx_dtype t, const char* mode, int gs,
                                   int bits) {
  mlx_array w = random_array(shape, nd, t, -1, 1);
  qmat q = quantize(w, mode, gs, bits);
  mlx_array_free(w);
  return q;
}

static inline void qmat_free(qmat* q) {
  mlx_array_free(q->wq);
  mlx_array_free(q->scales);
  mlx_array_free(q->biases);
}

/* ---- the independent reference: decode MLX's format, multiply in double ---- */

static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};

static inline float e4m3_value(unsigned c) {
  unsigned e = (c >> 3) & 15, m = c & 7;
  float v = e == 0 ? ldexpf((float)m, -9) : ldexpf(1.0f + (float)m / 8.0f, (int)e - 7);
  return (c & 0x80) ? -v : v;
}

static inline float e8m0_value(unsigned s) {
  return s == 0 ? ldexpf(1.0f, -127) : ldexpf(1.0f, (int)s - 127);
}

/* Code i of a row of 32-bit words, read bit by bit. */
static inline unsigned code_at(const double* words, long i, int bits) {
  unsigned v = 0;
  for (int b = 0; b < bits; b++) {
    long bit = i * bits + b;
    uint32_t word = (uint32_t)words[bit / 32];
    v |= ((word >> (bit % 32)) & 1u) << b;
  }
  return v;
}

/* The dequantized values of q as float32 arithmetic gives them (MLX's
 * definition), one row per leading index: size = leading * cols. */
static inline double* dequant_ref(const qmat* q, long* rows_out, long* cols_out) {
  double* w = test_to_f64(q->wq);
  double* s = test_to_f64(q->scales);
  bool affine = strcmp(q->mode, "affine") == 0;
  double* b = affine ? test_to_f64(q->biases) : NULL;
  int nd = (int)mlx_array_ndim(q->wq);
  const int* sh = mlx_array_shape(q->wq);
  long words = sh[nd - 1];
  long rows = (long)(mlx_array_size(q->wq) / (size_t)(words ? words : 1));
  if (words == 0) rows = (long)shape_size(sh, nd - 1);
  long cols = words * 32 / q->bits;
  long groups = cols / q->group_size;
  double* out = malloc(sizeof(double) * (size_t)(rows * cols + 1));
  for (long r = 0; r < rows; r++)
    for (long c = 0; c < cols; c++) {
      unsigned code = code_at(w + r * words, c, q->bits);
      double sv = s[r * groups + c / q->group_size];
      float v;
      if (affine) {
        float p = (float)sv * (float)code;
        v = p + (float)b[r * groups + c / q->group_size];
      } else if (strcmp(q->mode, "nvfp4") == 0) {
        v = e2m1[code] * e4m3_value((unsigned)sv);
      } else if (strcmp(q->mode, "mxfp4") == 0) {
        v = e2m1[code] * e8m0_value((unsigned)sv);
      } else {
        v = e4m3_value(code) * e8m0_value((unsigned)sv);
      }
      out[r * cols + c] = v;
    }
  free(w);
  free(s);
  free(b);
  *rows_out = rows;
  *cols_out = cols;
  return out;
}

/* y[m x N] = x[m x K] @ W^T (W: N x K, transpose) or x @ W (W: K x N). */
static inline void ref_matmul(const double* x, long m, long K, const double* W, bool transpose,
                              long N, double* y) {
  for (long r = 0; r < m; r++)
    for (long n = 0; n < N; n++) {
      double acc = 0;
      for (long k = 0; k < K; k++) acc += x[r * K + k] * (transpose ? W[n * K + k] : W[k * N + n]);
      y[r * N + n] = acc;
    }
}

/* max |out - ref| / max |ref| (0 when both are zero). */
static inline double rel_error(mlx_array out, const double* ref, size_t n) {
  double* o = test_to_f64(out);
  if (!o) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(o[i] - ref[i]);
    if (!(d <= num)) num = d;
    if (fabs(ref[i]) > den) den = fabs(ref[i]);
  }
  free(o);
  return den > 0 ? num / den : num;
}

/* What our float32 sums rounded once allow, relative to max |ref|. */
static inline double tolerance(mlx_dtype t) {
  return t == MLX_FLOAT16 ? 1e-3 : t == MLX_BFLOAT16 ? 8e-3 : 1e-5;
}

typedef struct fmt {
  const char* mode;
  int bits, gs;
} fmt;

#endif
