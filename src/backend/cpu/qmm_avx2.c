/* qmm_avx2.c - AVX2 (+FMA, F16C) streaming kernels of the quantized
 * matmul: affine 4-bit and 8-bit, E2M1 (mxfp4, nvfp4) and E4M3 (mxfp8)
 * weights, float32 activations (bfloat16 and float16 ones are widened to
 * float32 by the driver: exact).
 *
 * Each kernel turns 16 packed weights into two vectors of 8 floats and
 * multiplies them with the x rows in float32 FMA, one accumulator per row
 * and group, folded into the row's total times the group's scale. The
 * decoders never reorder bytes; instead x is prepared once per job in the
 * order the decoder produces (qmm_kernels.h allows any permutation within
 * a group):
 * - 4-bit codes: 8 bytes widened to 8 lanes give the low nibbles (elements
 *   0, 2, ..., 14) and the high nibbles (1, 3, ..., 15), so x is stored
 *   per 16 elements as evens, then odds;
 * - E2M1 goes through pshufb with a table of 2 * value as signed bytes
 *   (0, 1, 2, 3, 4, 6, 8, 12 and negatives), halved in the result;
 * - E4M3 is read as float16 bits (c & 0x7F) << 7, with the sign moved to
 *   bit 15, which is the value / 256 (exact, subnormals included); the
 *   result is multiplied by 256.
 * Affine biases: b * sum(x over the group), with the group sums of x from
 * the driver. Rows of x are taken four at a time (8 accumulators), in
 * passes over blocks of groups whose x (16 KiB) stays in L1 while the
 * call's weight rows stream past; the weights are prefetched
 * qmm_stream_prefetch_bytes ahead, one line at a time.
 * (The GEMM path for many rows is qmm_gemm_avx2.c.) */
#include "backend/cpu/qmm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

/* Loops over rows and accumulators must be unrolled before GCC's scalar
 * replacement, or the accumulator arrays live in memory. */
#define UNROLL _Pragma("GCC unroll 16")

#define AVX2_FN __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))

typedef enum dec_kind { DEC_A4, DEC_A8, DEC_E2M1, DEC_E4M3 } dec_kind;

typedef struct vpair {
  __m256 lo, hi;
} vpair;

/* 16 weights starting at p: bytes consumed are 8 (4-bit) or 16 (8-bit). */
AVX2_INLINE vpair decode16(const uint8_t* p, dec_kind kind) {
  vpair d;
  if (kind == DEC_A4) {
    __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)p));
    d.lo = _mm256_cvtepi32_ps(_mm256_and_si256(v, _mm256_set1_epi32(15)));
    d.hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
  } else if (kind == DEC_A8) {
    d.lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)p)));
    d.hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(p + 8))));
  } else if (kind == DEC_E2M1) {
    const __m128i table = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    const __m128i nib = _mm_set1_epi8(15);
    __m128i q = _mm_loadl_epi64((const __m128i*)p);
    __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(q, nib));
    __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(q, 4), nib));
    d.lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
    d.hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
  } else {
    __m128i e = _mm_loadu_si128((const __m128i*)p);
    __m128i sign = _mm_set1_epi16(0x80);
    __m128i a = _mm_cvtepu8_epi16(e), b = _mm_cvtepu8_epi16(_mm_srli_si128(e, 8));
    a = _mm_slli_epi16(_mm_add_epi16(a, _mm_and_si128(a, sign)), 7);
    b = _mm_slli_epi16(_mm_add_epi16(b, _mm_and_si128(b, sign)), 7);
    d.lo = _mm256_cvtph_ps(a);
    d.hi = _mm256_cvtph_ps(b);
  }
  return d;
}

AVX2_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* The x rows of a pass over every weight row of the call take at most
 * this many bytes, so they stay in L1 while the weights stream past. */
#define PASS_X_BYTES 16384
#define PASS_JB 16

/* Weight rows j0 .. j1-1 of the call, groups g0 .. g1-1, rows r0 ..
 * r0+RB-1 of x: each row keeps separate accumulators for the two halves of
 * a chunk (and, with NU = 2, for even and odd chunks), so the FMA chains
 * overlap; the group sums times the scales go into tots[(j - j0) * RB +
 * r]. NU is a constant so that the accumulators stay in registers. The
 * weights are prefetched qmm_stream_prefetch_bytes ahead, a line at a
 * time. */
AVX2_INLINE void stream_pass(const qmm_stream_args* a, int r0, const int RB, dec_kind kind,
                             const int NU, int j0, int j1, int64_t g0, int64_t g1, __m256* tots) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t G = w->cols / gs;
  const int chunk_bytes = (kind == DEC_A8 || kind == DEC_E4M3) ? 16 : 8;
  const int group_bytes = gs / 16 * chunk_bytes;
  const int64_t pf = r0 == 0 ? qmm_stream_prefetch_bytes : 0;
  const float* x = (const float*)a->x + r0 * a->ldx;
  for (int j = j0; j < j1; j++) {
    const uint8_t* p = (const uint8_t*)(w->w + (int64_t)(a->n0 + j) * w->w_ld) + g0 * group_bytes;
    const float* s = a->s + j * G;
    __m256 tot[4];
    UNROLL
    for (int r = 0; r < RB; r++) tot[r] = tots[(j - j0) * RB + r];
    int64_t k = g0 * gs;
    for (int64_t g = g0; g < g1; g++) {
      if (pf) {
        if (group_bytes >= 64)
          for (int off = 0; off < group_bytes; off += 64) _mm_prefetch((const char*)p + pf + off, _MM_HINT_T0);
        else if (((uintptr_t)p & 63) < (uintptr_t)group_bytes)
          _mm_prefetch((const char*)p + pf, _MM_HINT_T0);
      }
      __m256 acc[4][4];
      UNROLL
      for (int r = 0; r < RB; r++)
        UNROLL
        for (int u = 0; u < 2 * NU; u++) acc[r][u] = _mm256_setzero_ps();
      for (int c = 0; c < gs; c += 16 * NU) {
        UNROLL
        for (int u = 0; u < NU; u++, k += 16, p += chunk_bytes) {
          vpair d = decode16(p, kind);
          UNROLL
          for (int r = 0; r < RB; r++) {
            const float* xr = x + r * a->ldx + k;
            acc[r][2 * u] = _mm256_fmadd_ps(d.lo, _mm256_loadu_ps(xr), acc[r][2 * u]);
            acc[r][2 * u + 1] = _mm256_fmadd_ps(d.hi, _mm256_loadu_ps(xr + 8), acc[r][2 * u + 1]);
          }
        }
      }
      __m256 sv = _mm256_set1_ps(s[g]);
      UNROLL
      for (int r = 0; r < RB; r++) {
        __m256 t = _mm256_add_ps(acc[r][0], acc[r][1]);
        if (NU == 2) t = _mm256_add_ps(t, _mm256_add_ps(acc[r][2], acc[r][3]));
        tot[r] = _mm256_fmadd_ps(sv, t, tot[r]);
      }
    }
    UNROLL
    for (int r = 0; r < RB; r++) tots[(j - j0) * RB + r] = tot[r];
  }
}

/* rows r0 .. r0+RB-1 of x against every weight row of the call, in passes
 * over blocks of groups whose x fits L1. */
AVX2_INLINE void stream_rows(const qmm_stream_args* a, int r0, const int RB, dec_kind kind,
                             float out_mul, const int NU) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t G = w->cols / gs;
  const bool affine = kind == DEC_A4 || kind == DEC_A8;
  int64_t gb = PASS_X_BYTES / (RB * 4 * gs);
  if (gb < 1) gb = 1;
  __m256 tots[PASS_JB * 4];
  for (int j0 = 0; j0 < a->nb; j0 += PASS_JB) {
    int j1 = a->nb - j0 < PASS_JB ? a->nb : j0 + PASS_JB;
    for (int i = 0; i < (j1 - j0) * RB; i++) tots[i] = _mm256_setzero_ps();
    for (int64_t g0 = 0; g0 < G; g0 += gb)
      stream_pass(a, r0, RB, kind, NU, j0, j1, g0, G - g0 < gb ? G : g0 + gb, tots);
    for (int j = j0; j < j1; j++) {
      float extra[4] = {0, 0, 0, 0};
      __m256 tot[4];
      UNROLL
      for (int r = 0; r < RB; r++) tot[r] = tots[(j - j0) * RB + r];
      if (affine) {
        const float* b = a->b + j * G;
        UNROLL
        for (int r = 0; r < RB; r++) {
          const float* xs = a->xsum + (r0 + r) * G;
          int64_t g = 0;
          for (; g + 8 <= G; g += 8)
            tot[r] = _mm256_fmadd_ps(_mm256_loadu_ps(b + g), _mm256_loadu_ps(xs + g), tot[r]);
          for (; g < G; g++) extra[r] += b[g] * xs[g];
        }
      }
      UNROLL
      for (int r = 0; r < RB; r++)
        a->y[(r0 + r) * a->ldy + j] = (hsum(tot[r]) + extra[r]) * out_mul;
    }
  }
}

AVX2_INLINE void stream_all(const qmm_stream_args* a, dec_kind kind, float out_mul) {
  bool pairs = a->w->group_size % 32 == 0;
  int r = 0;
  for (; r + 4 <= a->rows; r += 4) stream_rows(a, r, 4, kind, out_mul, 1);
  switch (a->rows - r) {
    case 3: stream_rows(a, r, 3, kind, out_mul, 1); break;
    case 2:
      pairs ? stream_rows(a, r, 2, kind, out_mul, 2) : stream_rows(a, r, 2, kind, out_mul, 1);
      break;
    case 1:
      pairs ? stream_rows(a, r, 1, kind, out_mul, 2) : stream_rows(a, r, 1, kind, out_mul, 1);
      break;
    default: break;
  }
}

AVX2_FN static void run_a4(const qmm_stream_args* a) { stream_all(a, DEC_A4, 1.0f); }
AVX2_FN static void run_a8(const qmm_stream_args* a) { stream_all(a, DEC_A8, 1.0f); }
AVX2_FN static void run_e2m1(const qmm_stream_args* a) { stream_all(a, DEC_E2M1, 0.5f); }
AVX2_FN static void run_e4m3(const qmm_stream_args* a) { stream_all(a, DEC_E4M3, 256.0f); }

/* Per 16 elements: the even ones, then the odd ones. */
static void xprep_nibbles(void* dst, const float* src, int K, int group_size) {
  (void)group_size;
  float* d = dst;
  for (int k = 0; k < K; k += 16)
    for (int i = 0; i < 8; i++) {
      d[k + i] = src[k + 2 * i];
      d[k + 8 + i] = src[k + 2 * i + 1];
    }
}

static const qmm_stream_kernel k_a4 = {"avx2-affine4", run_a4, xprep_nibbles, 4,
                                       QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_a8 = {"avx2-affine8", run_a8, NULL, 4, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_e2m1 = {"avx2-e2m1", run_e2m1, xprep_nibbles, 4,
                                         QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_e4m3 = {"avx2-e4m3", run_e4m3, NULL, 4, QMM_STREAM_MAX_ROWS};

const qmm_stream_kernel* qmm_avx2_stream_kernel(quant_mode mode, int bits, int group_size,
                                                int64_t K, mlx_dtype x_dtype) {
  (void)x_dtype, (void)K;
  if (group_size % 16 != 0) return NULL;
  switch (quant_modes[mode].elem) {
    case QUANT_ELEM_UINT: return bits == 4 ? &k_a4 : bits == 8 ? &k_a8 : NULL;
    case QUANT_ELEM_E2M1: return &k_e2m1;
    case QUANT_ELEM_E4M3: return &k_e4m3;
  }
  return NULL;
}

#else

const qmm_stream_kernel* qmm_avx2_stream_kernel(quant_mode mode, int bits, int group_size,
                                                int64_t K, mlx_dtype x_dtype) {
  (void)mode, (void)bits, (void)group_size, (void)K, (void)x_dtype;
  return NULL;
}

#endif
