/* qmm_avx512.h - what the AVX-512 streaming kernels share (qmm_avx512.c:
 * float32 and bfloat16 x; qmm_avx512_vnni.c: fixed-point x): target
 * attributes, and the geometry of 128-code chunks, where float32 lane l
 * of a 64-byte line sums codes 8l .. 8l+7, so a group is a run of lanes
 * and a chunk's scales are one vector. */
#ifndef CMLX_CPU_QMM_AVX512_H
#define CMLX_CPU_QMM_AVX512_H

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#include "backend/cpu/qmm_kernels.h"

/* Loops over rows and accumulators must be unrolled before GCC's scalar
 * replacement, or the accumulator arrays live in memory. */
#define UNROLL _Pragma("GCC unroll 16")

#define AVX512_TARGET "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c"
#define AVX512_FN __attribute__((target(AVX512_TARGET)))
#define AVX512_INLINE static inline __attribute__((always_inline, target(AVX512_TARGET)))

/* sum_g b[g] * xs[g] over n groups, into the lanes of acc. */
AVX512_INLINE __m512 bias_dot(const float* b, const float* xs, int64_t n, __m512 acc) {
  int64_t g = 0;
  for (; g + 16 <= n; g += 16)
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(b + g), _mm512_loadu_ps(xs + g), acc);
  if (g < n) {
    __mmask16 m = (__mmask16)((1u << (n - g)) - 1u);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, b + g), _mm512_maskz_loadu_ps(m, xs + g), acc);
  }
  return acc;
}

/* Scale vector geometry of a group size for 128-code chunks. */
typedef struct wide_geom {
  int step;       /* chunks per scale vector */
  int gpc;        /* groups per scale vector */
  __mmask16 smask;
} wide_geom;

static inline wide_geom wide_geometry(int gs) {
  wide_geom g;
  g.step = gs >= 128 ? gs / 128 : 1;
  g.gpc = gs >= 128 ? 1 : 128 / gs;
  g.smask = (__mmask16)((1u << g.gpc) - 1u);
  return g;
}

/* lane l -> index of its group among the chunk's groups. */
AVX512_INLINE __m512i wide_group_index(int gs) {
  __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  if (gs >= 128) return _mm512_setzero_si512();
  int shift = gs == 16 ? 1 : gs == 32 ? 2 : gs == 64 ? 3 : 4;
  return _mm512_srlv_epi32(lane, _mm512_set1_epi32(shift));
}

#define WIDE_JB 16 /* weight rows per block of a call */

/* The affine bias terms, the horizontal sums and the stores of rows j0 ..
 * j1-1. */
AVX512_INLINE void wide_finish(const qmm_stream_args* a, int r0, const int RB, bool affine,
                               int j0, int j1, const __m512* tots) {
  const int64_t G = a->w->cols / a->w->group_size;
  for (int j = j0; j < j1; j++)
    UNROLL
    for (int r = 0; r < RB; r++) {
      __m512 t = tots[(j - j0) * RB + r];
      if (affine) t = bias_dot(a->b + j * G, a->xsum + (r0 + r) * G, G, t);
      a->y[(r0 + r) * a->ldy + j] = _mm512_reduce_add_ps(t);
    }
}

#endif
#endif
