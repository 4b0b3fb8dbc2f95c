/* qmm_gemm_avx2.c - the AVX2 GEMM kernel of the quantized matmul (many
 * rows of x, transpose = true; contract and packed layouts in qmm_gemm.h).
 *
 * Every x dtype runs in float32: each panel of 16 weight rows is
 * dequantized to float32 (MLX's values) 256 codes at a time and
 * transposed to [k][16]; a 6 x 16 FMA microkernel (12 accumulators)
 * broadcasts x[m][k] from the packed block. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/qmm_gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define UNROLL _Pragma("GCC unroll 16")
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))
#define AVX2_FN __attribute__((target("avx2,fma")))

#define NR 16
#define MR 6
#define KC 256

static size_t scratch_f32(int64_t K, int group_size) {
  (void)K, (void)group_size;
  return sizeof(float) * (size_t)((QGEMM_MAX_PANELS + 1) * KC * NR);
}

static void pack_x_f32(void* dst, const float* x, int64_t ldx, int valid, int kcc) {
  float* d = dst;
  for (int k = 0; k < kcc; k++)
    for (int m = 0; m < MR; m++) d[k * MR + m] = m < valid ? x[m * ldx + k] : 0.0f;
}

/* c = (first ? 0 : c) + the block's products over the chunk. */
AVX2_INLINE void micro(const float* xp, const float* pan, int kcc, bool first, float* c) {
  __m256 acc[MR][2];
  UNROLL
  for (int m = 0; m < MR; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int k = 0; k < kcc; k++) {
    __m256 b0 = _mm256_load_ps(pan + k * NR);
    __m256 b1 = _mm256_load_ps(pan + k * NR + 8);
    UNROLL
    for (int m = 0; m < MR; m++) {
      __m256 a = _mm256_broadcast_ss(xp + k * MR + m);
      acc[m][0] = _mm256_fmadd_ps(a, b0, acc[m][0]);
      acc[m][1] = _mm256_fmadd_ps(a, b1, acc[m][1]);
    }
  }
  if (!first) {
    UNROLL
    for (int m = 0; m < MR; m++) {
      acc[m][0] = _mm256_add_ps(acc[m][0], _mm256_loadu_ps(c + m * NR));
      acc[m][1] = _mm256_add_ps(acc[m][1], _mm256_loadu_ps(c + m * NR + 8));
    }
  }
  UNROLL
  for (int m = 0; m < MR; m++) {
    _mm256_storeu_ps(c + m * NR, acc[m][0]);
    _mm256_storeu_ps(c + m * NR + 8, acc[m][1]);
  }
}

/* pan[k][j] = rows[j * KC + k], 8 x 8 blocks through unpacks. */
AVX2_INLINE void transpose_panel(float* pan, const float* rows, int kcc) {
  for (int k = 0; k < kcc; k += 8)
    for (int h = 0; h < NR; h += 8) {
      __m256 r[8], t[8];
      for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(rows + (h + j) * KC + k);
      for (int j = 0; j < 8; j += 2) {
        t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
      }
      for (int j = 0; j < 8; j += 4) {
        r[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
        r[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xEE);
        r[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
        r[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
      }
      /* r[0..3]: columns 0,1,2,3 (lanes 0-3 from rows 0-3, 4-7 their
       * upper halves); r[4..7] the same for rows 4-7 */
      for (int j = 0; j < 4; j++) {
        _mm256_store_ps(pan + (k + j) * NR + h, _mm256_permute2f128_ps(r[j], r[j + 4], 0x20));
        _mm256_store_ps(pan + (k + j + 4) * NR + h, _mm256_permute2f128_ps(r[j], r[j + 4], 0x31));
      }
    }
}

AVX2_FN static void panels_f32(const qgemm_job* j, int64_t n0, int np, float* c, void* scratch) {
  const qmm_matrix* w = j->w;
  int64_t K = j->K, cst = (int64_t)j->rows * NR;
  float* pans = scratch;
  float* rows = pans + QGEMM_MAX_PANELS * KC * NR;
  const int prof = qgemm_profile;
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    int kcc = (int)(K - k0 < KC ? K - k0 : KC);
    for (int p = 0; p < np && (k0 == 0 || !(prof & 1)); p++) {
      int64_t left = w->rows - (n0 + p * NR);
      int cols = (int)(left < 0 ? 0 : left < NR ? left : NR);
      for (int r = 0; r < NR; r++) {
        if (r < cols) qmm_dequantize_row(w, n0 + p * NR + r, k0, kcc, rows + r * KC);
        else memset(rows + r * KC, 0, sizeof(float) * (size_t)kcc);
      }
      transpose_panel(pans + p * KC * NR, rows, kcc);
    }
    const float* xb = (const float*)j->xp + (int64_t)j->rows * k0;
    for (int p = 0; p < np && !(prof & 2); p++)
      for (int m0 = 0; m0 < j->rows; m0 += MR)
        micro(xb + (int64_t)m0 * kcc, pans + p * KC * NR, kcc, k0 == 0,
              c + p * cst + (int64_t)m0 * NR);
  }
}

static const qgemm_kernel k_f32 = {"avx2-gemm-f32", NR,         MR,       KC, 4, false,
                                   scratch_f32,     pack_x_f32, panels_f32};

const qgemm_kernel* qgemm_avx2_kernel(const qmm_matrix* w, mlx_dtype x_dtype) {
  (void)w, (void)x_dtype;
  return &k_f32;
}

#else

const qgemm_kernel* qgemm_avx2_kernel(const qmm_matrix* w, mlx_dtype x_dtype) {
  (void)w, (void)x_dtype;
  return NULL;
}

#endif
