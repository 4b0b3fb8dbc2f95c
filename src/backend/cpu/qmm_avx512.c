/* qmm_avx512.c - AVX-512 kernels of the quantized matmul.
 *
 * Streaming kernels (few rows of x, transpose = true; contract in
 * qmm_kernels.h):
 * - float32 activations (AVX-512 F/BW): 32 packed weights become two
 *   vectors of 16 floats. 4-bit codes are widened to 16 lanes (one byte
 *   each) and looked up with vpermps in a 16-entry float table, low
 *   nibbles and high nibbles separately: the table holds 0..15 for affine
 *   and the E2M1 values for mxfp4, so both formats cost a shift and two
 *   permutes per 32 weights, exactly. 8-bit affine codes are converted;
 *   E4M3 codes are read as float16 bits ((c & 0x7F) << 7, sign to bit 15 =
 *   value / 256, exact) and widened with vcvtph2ps. x is prepared per 32
 *   elements as evens, then odds, for the 4-bit formats.
 * - bfloat16 activations (AVX512_BF16): 64 codes of 4 bits become two
 *   vectors of 32 bfloat16 (vpermw in a 32-entry table of the element
 *   values, which bfloat16 holds exactly), multiplied with the bfloat16 x
 *   by vdpbf16ps: exact products, float32 sums. A 64-code chunk may span
 *   several groups (16 or 32 codes): its sums land in separate float32
 *   lanes (a group's codes are contiguous lanes), so the group scales are
 *   applied as one vector per chunk. x is prepared per 64 elements as
 *   evens, then odds.
 * Affine biases: b * sum(x over the group), vectorised over the groups.
 *
 * GEMM microkernels (many rows, transpose = true; blocking and threads in
 * qmm.c): panels of 32 dequantized weight rows are transposed in 16 x 16
 * blocks of 32-bit elements to [k][32]; a 14 x 32 microkernel (28
 * accumulators) broadcasts x[m][k]. For bfloat16 x the weights are rounded
 * to bfloat16 (MLX's own bfloat16 dequantize; exact for the fp modes) and
 * packed as pairs of k, [k/2][32][2], for vdpbf16ps with the pair
 * (x[m][k], x[m][k+1]) broadcast. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/qmm_kernels.h"
#include "core/error.h"
#include "core/half.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

/* Loops over rows and accumulators must be unrolled before GCC's scalar
 * replacement, or the accumulator arrays live in memory. */
#define UNROLL _Pragma("GCC unroll 16")

/* Weight rows are prefetched this many rows ahead: the hardware
 * prefetchers alone leave a single streaming thread well below the
 * memory bandwidth. */
#define PREFETCH_ROWS 2

/* Prefetches weight row n (if it exists) into the caches. */
static inline void prefetch_row(const qmm_matrix* w, int64_t n) {
  if (n >= w->rows) return;
  const char* p = (const char*)(w->w + n * w->w_ld);
  int64_t bytes = (int64_t)w->cols * w->bits / 8;
  for (int64_t off = 0; off < bytes; off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
}

#define AVX512_TARGET "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c"
#define AVX512_FN __attribute__((target(AVX512_TARGET)))
#define AVX512_INLINE static inline __attribute__((always_inline, target(AVX512_TARGET)))
#define BF16_TARGET AVX512_TARGET ",avx512bf16"
#define BF16_FN __attribute__((target(BF16_TARGET)))
#define BF16_INLINE static inline __attribute__((always_inline, target(BF16_TARGET)))

typedef enum dec_kind { DEC_A4, DEC_A8, DEC_E2M1, DEC_E4M3 } dec_kind;

typedef struct zpair {
  __m512 lo, hi;
} zpair;

/* ------------------------------------------------------------------------
 * float32 activations
 * ---------------------------------------------------------------------- */

/* 32 weights at p (16 bytes of 4-bit codes, 32 bytes of 8-bit ones). */
AVX512_INLINE zpair decode32(const uint8_t* p, dec_kind kind, __m512 table) {
  zpair d;
  if (kind == DEC_A4 || kind == DEC_E2M1) {
    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)p));
    d.lo = _mm512_permutexvar_ps(v, table);
    d.hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
  } else if (kind == DEC_A8) {
    d.lo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)p)));
    d.hi = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(p + 16))));
  } else {
    __m256i sign = _mm256_set1_epi16(0x80);
    __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i*)p));
    __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i*)(p + 16)));
    a = _mm256_slli_epi16(_mm256_add_epi16(a, _mm256_and_si256(a, sign)), 7);
    b = _mm256_slli_epi16(_mm256_add_epi16(b, _mm256_and_si256(b, sign)), 7);
    d.lo = _mm512_cvtph_ps(a);
    d.hi = _mm512_cvtph_ps(b);
  }
  return d;
}

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

/* NU (1 or 2, a constant so the accumulators stay in registers): chunks
 * per step, each with its own accumulators. */
AVX512_INLINE void f32_rows(const qmm_stream_args* a, int r0, const int RB, dec_kind kind,
                            const int NU) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t K = w->cols, G = K / gs;
  const int chunk_bytes = (kind == DEC_A8 || kind == DEC_E4M3) ? 32 : 16;
  const bool affine = kind == DEC_A4 || kind == DEC_A8;
  const float out_mul = kind == DEC_E4M3 ? 256.0f : 1.0f;
  const __m512 table = kind == DEC_E2M1 ? _mm512_loadu_ps(quant_e2m1_values)
                                        : _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                         12, 13, 14, 15);
  const float* x = (const float*)a->x + r0 * a->ldx;
  for (int j = 0; j < a->nb; j++) {
    const uint8_t* p = (const uint8_t*)(w->w + (int64_t)(a->n0 + j) * w->w_ld);
    if (r0 == 0) prefetch_row(w, (int64_t)a->n0 + j + PREFETCH_ROWS);
    const float* s = a->s + j * G;
    __m512 tot[8];
    UNROLL
    for (int r = 0; r < RB; r++) tot[r] = _mm512_setzero_ps();
    int64_t k = 0;
    for (int64_t g = 0; g < G; g++) {
      __m512 acc[8][4];
      UNROLL
      for (int r = 0; r < RB; r++)
        UNROLL
        for (int u = 0; u < 2 * NU; u++) acc[r][u] = _mm512_setzero_ps();
      for (int c = 0; c < gs; c += 32 * NU) {
        UNROLL
        for (int u = 0; u < NU; u++, k += 32, p += chunk_bytes) {
          zpair d = decode32(p, kind, table);
          UNROLL
          for (int r = 0; r < RB; r++) {
            const float* xr = x + r * a->ldx + k;
            acc[r][2 * u] = _mm512_fmadd_ps(d.lo, _mm512_loadu_ps(xr), acc[r][2 * u]);
            acc[r][2 * u + 1] = _mm512_fmadd_ps(d.hi, _mm512_loadu_ps(xr + 16), acc[r][2 * u + 1]);
          }
        }
      }
      __m512 sv = _mm512_set1_ps(s[g]);
      UNROLL
      for (int r = 0; r < RB; r++) {
        __m512 t = _mm512_add_ps(acc[r][0], acc[r][1]);
        if (NU == 2) t = _mm512_add_ps(t, _mm512_add_ps(acc[r][2], acc[r][3]));
        tot[r] = _mm512_fmadd_ps(sv, t, tot[r]);
      }
    }
    UNROLL
    for (int r = 0; r < RB; r++) {
      if (affine) {
        /* the E4M3 factor is not applied to the biases: only affine has them */
        tot[r] = bias_dot(a->b + j * G, a->xsum + (r0 + r) * G, G, tot[r]);
      }
      a->y[(r0 + r) * a->ldy + j] = _mm512_reduce_add_ps(tot[r]) * out_mul;
    }
  }
}

AVX512_INLINE void f32_all(const qmm_stream_args* a, dec_kind kind) {
  bool pairs = a->w->group_size % 64 == 0;
  int r = 0;
  for (; r + 4 <= a->rows; r += 4) f32_rows(a, r, 4, kind, 1);
  switch (a->rows - r) {
    case 3: f32_rows(a, r, 3, kind, 1); break;
    case 2: pairs ? f32_rows(a, r, 2, kind, 2) : f32_rows(a, r, 2, kind, 1); break;
    case 1: pairs ? f32_rows(a, r, 1, kind, 2) : f32_rows(a, r, 1, kind, 1); break;
    default: break;
  }
}

AVX512_FN static void run_f32_a4(const qmm_stream_args* a) { f32_all(a, DEC_A4); }
AVX512_FN static void run_f32_a8(const qmm_stream_args* a) { f32_all(a, DEC_A8); }
AVX512_FN static void run_f32_e2m1(const qmm_stream_args* a) { f32_all(a, DEC_E2M1); }
AVX512_FN static void run_f32_e4m3(const qmm_stream_args* a) { f32_all(a, DEC_E4M3); }

/* Per 32 elements: the even ones, then the odd ones. */
static void xprep_f32_nibbles(void* dst, const float* src, int K, int group_size) {
  (void)group_size;
  float* d = dst;
  for (int k = 0; k < K; k += 32)
    for (int i = 0; i < 16; i++) {
      d[k + i] = src[k + 2 * i];
      d[k + 16 + i] = src[k + 2 * i + 1];
    }
}

static const qmm_stream_kernel k_f32_a4 = {"avx512-affine4", run_f32_a4, xprep_f32_nibbles, 4,
                                           QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_f32_a8 = {"avx512-affine8", run_f32_a8, NULL, 4,
                                           QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_f32_e2m1 = {"avx512-e2m1", run_f32_e2m1, xprep_f32_nibbles, 4,
                                             QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_f32_e4m3 = {"avx512-e4m3", run_f32_e4m3, NULL, 4,
                                             QMM_STREAM_MAX_ROWS};

/* ------------------------------------------------------------------------
 * bfloat16 activations: vdpbf16ps
 * ---------------------------------------------------------------------- */

/* The 32-entry vpermw table: entry i = bfloat16 of element (i & 15). */
static void bf16_table(uint16_t t[32], bool e2m1) {
  for (int i = 0; i < 32; i++) t[i] = f32_to_bf16(e2m1 ? quant_e2m1_values[i & 15] : (float)(i & 15));
}

BF16_INLINE void bf16_rows(const qmm_stream_args* a, int r0, const int RB, bool affine) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t K = w->cols, G = K / gs;
  /* chunks of 64 codes per scale step, groups per chunk, lane -> group */
  const int step = gs > 64 ? gs / 64 : 1;
  const int groups_per_chunk = gs >= 64 ? 1 : 64 / gs;
  const int lane_shift = gs == 16 ? 2 : gs == 32 ? 3 : 4; /* lane i -> group i >> shift */
  uint16_t tab[32];
  bf16_table(tab, !affine);
  const __m512i table = _mm512_loadu_si512(tab);
  const __m512i lane_group = _mm512_srli_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), lane_shift);
  const __m512i group_idx = gs >= 64 ? _mm512_setzero_si512() : lane_group;
  const __mmask16 smask = (__mmask16)((1u << groups_per_chunk) - 1u);
  const int groups_per_step = gs >= 64 ? 1 : groups_per_chunk;
  const uint16_t* x = (const uint16_t*)a->x + r0 * a->ldx;
  for (int j = 0; j < a->nb; j++) {
    const uint8_t* p = (const uint8_t*)(w->w + (int64_t)(a->n0 + j) * w->w_ld);
    if (r0 == 0) prefetch_row(w, (int64_t)a->n0 + j + PREFETCH_ROWS);
    const float* s = a->s + j * G;
    __m512 tot_lo[8], tot_hi[8];
    UNROLL
    for (int r = 0; r < RB; r++) tot_lo[r] = tot_hi[r] = _mm512_setzero_ps();
    const float* sg = s; /* the scales of the current step */
    for (int64_t k = 0; k < K; k += 64 * step, sg += groups_per_step) {
      __m512 acc_lo[8], acc_hi[8];
      UNROLL
      for (int r = 0; r < RB; r++) acc_lo[r] = acc_hi[r] = _mm512_setzero_ps();
      for (int u = 0; u < step; u++, p += 32) {
        __m512i v = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i*)p));
        __m512bh wlo = (__m512bh)_mm512_permutexvar_epi16(v, table);
        __m512bh whi = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(v, 4), table);
        UNROLL
        for (int r = 0; r < RB; r++) {
          const uint16_t* xr = x + r * a->ldx + k + 64 * u;
          acc_lo[r] = _mm512_dpbf16_ps(acc_lo[r], wlo, (__m512bh)_mm512_loadu_si512(xr));
          acc_hi[r] = _mm512_dpbf16_ps(acc_hi[r], whi, (__m512bh)_mm512_loadu_si512(xr + 32));
        }
      }
      __m512 sv = _mm512_permutexvar_ps(group_idx, _mm512_maskz_loadu_ps(smask, sg));
      UNROLL
      for (int r = 0; r < RB; r++) {
        tot_lo[r] = _mm512_fmadd_ps(sv, acc_lo[r], tot_lo[r]);
        tot_hi[r] = _mm512_fmadd_ps(sv, acc_hi[r], tot_hi[r]);
      }
    }
    UNROLL
    for (int r = 0; r < RB; r++) {
      __m512 t = _mm512_add_ps(tot_lo[r], tot_hi[r]);
      if (affine) t = bias_dot(a->b + j * G, a->xsum + (r0 + r) * G, G, t);
      a->y[(r0 + r) * a->ldy + j] = _mm512_reduce_add_ps(t);
    }
  }
}

BF16_INLINE void bf16_all(const qmm_stream_args* a, bool affine) {
  int r = 0;
  for (; r + 4 <= a->rows; r += 4) bf16_rows(a, r, 4, affine);
  switch (a->rows - r) {
    case 3: bf16_rows(a, r, 3, affine); break;
    case 2: bf16_rows(a, r, 2, affine); break;
    case 1: bf16_rows(a, r, 1, affine); break;
    default: break;
  }
}

BF16_FN static void run_bf16_a4(const qmm_stream_args* a) { bf16_all(a, true); }
BF16_FN static void run_bf16_e2m1(const qmm_stream_args* a) { bf16_all(a, false); }

/* Per 64 elements: the even ones, then the odd ones, as bfloat16 (x came
 * from bfloat16: exact). */
static void xprep_bf16_nibbles(void* dst, const float* src, int K, int group_size) {
  (void)group_size;
  uint16_t* d = dst;
  for (int k = 0; k < K; k += 64)
    for (int i = 0; i < 32; i++) {
      d[k + i] = f32_to_bf16(src[k + 2 * i]);
      d[k + 32 + i] = f32_to_bf16(src[k + 2 * i + 1]);
    }
}

static const qmm_stream_kernel k_bf16_a4 = {"avx512bf16-affine4", run_bf16_a4, xprep_bf16_nibbles,
                                            2, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_bf16_e2m1 = {"avx512bf16-e2m1", run_bf16_e2m1,
                                              xprep_bf16_nibbles, 2, QMM_STREAM_MAX_ROWS};

const qmm_stream_kernel* qmm_avx512_stream_kernel(quant_mode mode, int bits, int group_size,
                                                  int64_t K, mlx_dtype x_dtype, bool bf16) {
  quant_elem e = quant_modes[mode].elem;
  bool nibbles = (e == QUANT_ELEM_UINT && bits == 4) || e == QUANT_ELEM_E2M1;
  if (bf16 && x_dtype == MLX_BFLOAT16 && nibbles && K % 64 == 0 && group_size % 16 == 0 &&
      (group_size <= 64 || group_size % 64 == 0))
    return e == QUANT_ELEM_UINT ? &k_bf16_a4 : &k_bf16_e2m1;
  if (group_size % 32 != 0) return NULL;
  switch (e) {
    case QUANT_ELEM_UINT: return bits == 4 ? &k_f32_a4 : bits == 8 ? &k_f32_a8 : NULL;
    case QUANT_ELEM_E2M1: return &k_f32_e2m1;
    case QUANT_ELEM_E4M3: return &k_f32_e4m3;
  }
  return NULL;
}

/* ------------------------------------------------------------------------
 * GEMM microkernels: 14 rows x 32 columns (28 accumulators)
 * ---------------------------------------------------------------------- */

#define GEMM_NR 32
#define GEMM_MR 14

/* r[c] <- column c of the 16 x 16 block of 32-bit elements in r. */
AVX512_INLINE void transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; i++) {
      t[h + i] = _mm512_shuffle_i32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_i32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
  }
}

/* panel[k][j] = src[j][k] for 32 rows of n 32-bit elements (row stride
 * ld). */
AVX512_INLINE void pack32(uint32_t* panel, const uint32_t* src, int64_t ld, int n) {
  int k = 0;
  for (; k + 16 <= n; k += 16)
    for (int h = 0; h < 2; h++) {
      __m512i r[16];
      for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_si512(src + (h * 16 + j) * ld + k);
      transpose16(r);
      for (int c = 0; c < 16; c++) _mm512_storeu_si512(panel + (k + c) * GEMM_NR + h * 16, r[c]);
    }
  for (; k < n; k++)
    for (int j = 0; j < GEMM_NR; j++) panel[k * GEMM_NR + j] = src[j * ld + k];
}

AVX512_FN static void pack_f32(void* panel, const float* rows, int64_t ld, int kc) {
  pack32(panel, (const uint32_t*)rows, ld, kc);
}

/* Rows rounded to bfloat16 (pairs of k as one 32-bit element), then the
 * same transpose: panel[k/2][j] = (row j's k, k+1). */
BF16_FN static void pack_bf16(void* panel, const float* rows, int64_t ld, int kc) {
  uint16_t tmp[GEMM_NR * 512];
  for (int k0 = 0; k0 < kc; k0 += 512) {
    int n = kc - k0 < 512 ? kc - k0 : 512;
    for (int j = 0; j < GEMM_NR; j++)
      for (int k = 0; k < n; k += 16) {
        __m512 v = _mm512_loadu_ps(rows + j * ld + k0 + k);
        _mm256_storeu_si256((__m256i*)(tmp + j * 512 + k), (__m256i)_mm512_cvtneps_pbh(v));
      }
    pack32((uint32_t*)panel + k0 / 2 * GEMM_NR, (const uint32_t*)tmp, 256, n / 2);
  }
}

AVX512_INLINE void micro_f32(const int MR, const float* panel, const float* x, int64_t ldx,
                             int kc, float* c, int64_t ldc, bool accumulate) {
  __m512 acc[GEMM_MR][2];
  UNROLL
  for (int m = 0; m < MR; m++) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++) {
    __m512 b0 = _mm512_loadu_ps(panel + k * GEMM_NR);
    __m512 b1 = _mm512_loadu_ps(panel + k * GEMM_NR + 16);
    UNROLL
    for (int m = 0; m < MR; m++) {
      __m512 a = _mm512_set1_ps(x[m * ldx + k]);
      acc[m][0] = _mm512_fmadd_ps(a, b0, acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(a, b1, acc[m][1]);
    }
  }
  UNROLL
  for (int m = 0; m < MR; m++) {
    if (accumulate) {
      acc[m][0] = _mm512_add_ps(acc[m][0], _mm512_loadu_ps(c + m * ldc));
      acc[m][1] = _mm512_add_ps(acc[m][1], _mm512_loadu_ps(c + m * ldc + 16));
    }
    _mm512_storeu_ps(c + m * ldc, acc[m][0]);
    _mm512_storeu_ps(c + m * ldc + 16, acc[m][1]);
  }
}

BF16_INLINE void micro_bf16(const int MR, const uint16_t* panel, const uint16_t* x, int64_t ldx,
                            int kc, float* c, int64_t ldc, bool accumulate) {
  __m512 acc[GEMM_MR][2];
  UNROLL
  for (int m = 0; m < MR; m++) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  for (int kp = 0; kp < kc / 2; kp++) {
    __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + kp * 2 * GEMM_NR);
    __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + kp * 2 * GEMM_NR + 32);
    UNROLL
    for (int m = 0; m < MR; m++) {
      int32_t pair;
      memcpy(&pair, x + m * ldx + 2 * kp, 4);
      __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
      acc[m][0] = _mm512_dpbf16_ps(acc[m][0], a, b0);
      acc[m][1] = _mm512_dpbf16_ps(acc[m][1], a, b1);
    }
  }
  UNROLL
  for (int m = 0; m < MR; m++) {
    if (accumulate) {
      acc[m][0] = _mm512_add_ps(acc[m][0], _mm512_loadu_ps(c + m * ldc));
      acc[m][1] = _mm512_add_ps(acc[m][1], _mm512_loadu_ps(c + m * ldc + 16));
    }
    _mm512_storeu_ps(c + m * ldc, acc[m][0]);
    _mm512_storeu_ps(c + m * ldc + 16, acc[m][1]);
  }
}

#define MICRO_CASES(F, ...)                                                              \
  switch (mr) {                                                                          \
    case 1: F(1, __VA_ARGS__); break;   case 2: F(2, __VA_ARGS__); break;                \
    case 3: F(3, __VA_ARGS__); break;   case 4: F(4, __VA_ARGS__); break;                \
    case 5: F(5, __VA_ARGS__); break;   case 6: F(6, __VA_ARGS__); break;                \
    case 7: F(7, __VA_ARGS__); break;   case 8: F(8, __VA_ARGS__); break;                \
    case 9: F(9, __VA_ARGS__); break;   case 10: F(10, __VA_ARGS__); break;              \
    case 11: F(11, __VA_ARGS__); break; case 12: F(12, __VA_ARGS__); break;              \
    case 13: F(13, __VA_ARGS__); break; case 14: F(14, __VA_ARGS__); break;              \
    default: break;                                                                      \
  }

AVX512_FN static void run_micro_f32(int mr, const void* panel, const void* x, int64_t ldx, int kc,
                                    float* c, int64_t ldc, bool accumulate) {
  MICRO_CASES(micro_f32, panel, x, ldx, kc, c, ldc, accumulate)
}

BF16_FN static void run_micro_bf16(int mr, const void* panel, const void* x, int64_t ldx, int kc,
                                   float* c, int64_t ldc, bool accumulate) {
  MICRO_CASES(micro_bf16, panel, x, ldx, kc, c, ldc, accumulate)
}

static const qmm_gemm_kernel g_f32 = {"avx512-f32", GEMM_NR, GEMM_MR, 4, pack_f32,
                                      run_micro_f32};
static const qmm_gemm_kernel g_bf16 = {"avx512bf16", GEMM_NR, GEMM_MR, 2, pack_bf16,
                                       run_micro_bf16};

const qmm_gemm_kernel* qmm_avx512_gemm_kernel(mlx_dtype x_dtype, bool bf16) {
  return bf16 && x_dtype == MLX_BFLOAT16 ? &g_bf16 : &g_f32;
}

#else

const qmm_stream_kernel* qmm_avx512_stream_kernel(quant_mode mode, int bits, int group_size,
                                                  int64_t K, mlx_dtype x_dtype, bool bf16) {
  (void)mode, (void)bits, (void)group_size, (void)K, (void)x_dtype, (void)bf16;
  return NULL;
}

const qmm_gemm_kernel* qmm_avx512_gemm_kernel(mlx_dtype x_dtype, bool bf16) {
  (void)x_dtype, (void)bf16;
  return NULL;
}

#endif
