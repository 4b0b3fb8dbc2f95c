/* qmm_check.h - one raw-buffer kernel check shared by test_qmm_kernels and
 * test_qmm_gemm: cpu_qmm_run on m random rows of x (dtype xt, exactly
 * representable, row padding x_pad / out_pad) against cpu_qmm_reference. */
#ifndef CMLX_TESTS_QMM_CHECK_H
#define CMLX_TESTS_QMM_CHECK_H

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "backend/cpu/qmm.h"
#include "core/half.h"
#include "harness.h"

/* max |got - ref| / max |ref| over the m x N outputs; *pad_ok is false when
 * the kernel wrote into the padding past a row. */
static inline double qmm_check_run(const qmm_matrix* w, bool transpose, mlx_dtype xt, int m,
                                   int x_pad, int out_pad, bool* pad_ok) {
  int K = transpose ? w->cols : w->rows, N = transpose ? w->rows : w->cols;
  int64_t ldx = K + x_pad, ldo = N + out_pad;
  float* xf = malloc(sizeof(float) * (size_t)(m * ldx));
  uint16_t* xh = malloc(sizeof(uint16_t) * (size_t)(m * ldx));
  float* ref = malloc(sizeof(float) * (size_t)(m * ldo));
  float* got = malloc(sizeof(float) * (size_t)(m * ldo));
  double num = 0, den = 0;
  *pad_ok = true;
  if (xf && xh && ref && got) {
    for (int64_t i = 0; i < m * ldx; i++) {
      float v = (float)test_rand(-2, 2);
      if (xt == MLX_BFLOAT16) {
        xh[i] = f32_to_bf16(v);
        v = bf16_to_f32(xh[i]);
      } else if (xt == MLX_FLOAT16) {
        xh[i] = f32_to_f16(v);
        v = f16_to_f32(xh[i]);
      }
      xf[i] = v;
    }
    for (int64_t i = 0; i < m * ldo; i++) got[i] = ref[i] = NAN;
    cpu_qmm_reference(w, transpose, xf, ldx, m, ref, ldo);
    CHECK_OK(cpu_qmm_run(w, transpose, xt == MLX_FLOAT32 ? (const void*)xf : xh, xt, ldx, m,
                         got, MLX_FLOAT32, ldo));
    for (int r = 0; r < m; r++) {
      for (int n = 0; n < N; n++) {
        double d = fabs((double)got[r * ldo + n] - ref[r * ldo + n]);
        if (!(d <= num)) num = d;
        if (fabs(ref[r * ldo + n]) > den) den = fabs(ref[r * ldo + n]);
      }
      for (int64_t n = N; n < ldo; n++) *pad_ok = *pad_ok && isnan(got[r * ldo + n]);
    }
  } else {
    CHECK_MSG(0, "out of memory");
    num = INFINITY;
  }
  free(xf);
  free(xh);
  free(ref);
  free(got);
  return den > 0 ? num / den : num;
}

#endif
