/* qmm_avx512.c - AVX-512 kernels of the quantized matmul.
 *
 * Streaming kernels (few rows of x, transpose = true; contract in
 * qmm_kernels.h):
 * - one or two rows of bfloat16 / float16 x against 4-bit codes, K a
 *   multiple of 64, on CPUs with AVX512_VNNI and VBMI: x in fixed point
 *   and integer dot products (vpdpbusd), qmm_avx512_vnni.c; otherwise:
 * - 4-bit codes (affine, E2M1) with K a multiple of 128: the "wide"
 *   kernels below take 128 codes (one 64-byte line) at a time and feed the
 *   packed words straight to vpermps (float32 x, FMA; bfloat16 x widened
 *   by the driver) or vpermw (bfloat16 x, vdpbf16ps: only on request,
 *   qmm_stream_bf16_dot, as it ran 1.2x slower on the device tool's Xeon)
 *   as indices, without widening the codes first; rows of x are taken four
 *   at a time in passes over blocks of K whose x stays in L1, and the
 *   weight stream is prefetched a few KiB ahead. 8-bit affine codes with
 *   groups of 64k: 64 codes (one line) at a time, vpmovzxbd from memory
 *   and FMA, in the same passes. These are 1.6-2x the speed of the
 *   kernels that follow, which remain for other K and group sizes (and for
 *   E4M3):
 * - float32 activations (AVX-512 F/BW): 32 packed weights become two
 *   vectors of 16 floats. 4-bit codes are widened to 16 lanes (one byte
 *   each) and looked up with vpermps in a 16-entry float table, low
 *   nibbles and high nibbles separately: the table holds 0..15 for affine
 *   and the E2M1 values for mxfp4, so both formats cost a shift and two
 *   permutes per 32 weights, exactly. E4M3 codes are read as float16 bits ((c & 0x7F) << 7, sign to bit 15 =
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
 * (The GEMM path for many rows is qmm_gemm_avx512.c.) */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/qmm_avx512.h"
#include "backend/cpu/qmm_kernels.h"
#include "core/error.h"
#include "core/half.h"

#if defined(__x86_64__) && defined(__GNUC__)

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

#define BF16_TARGET AVX512_TARGET ",avx512bf16"
#define BF16_FN __attribute__((target(BF16_TARGET)))
#define BF16_INLINE static inline __attribute__((always_inline, target(BF16_TARGET)))

typedef enum dec_kind { DEC_A4, DEC_E2M1, DEC_E4M3 } dec_kind;

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

/* NU (1 or 2, a constant so the accumulators stay in registers): chunks
 * per step, each with its own accumulators. */
AVX512_INLINE void f32_rows(const qmm_stream_args* a, int r0, const int RB, dec_kind kind,
                            const int NU) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t K = w->cols, G = K / gs;
  const int chunk_bytes = kind == DEC_E4M3 ? 32 : 16;
  const bool affine = kind == DEC_A4;
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

/* ------------------------------------------------------------------------
 * Wide chunks: 128 codes of 4 bits (one 64-byte load) at a time, K a
 * multiple of 128. No widening of the codes: the permutes read their
 * indices straight from the packed words.
 * - bfloat16 x: 16-bit word i holds codes 4i .. 4i+3 in bits 0-3, 4-7,
 *   8-11, 12-15. vpermw reads the low 5 bits of each index word, so with a
 *   32-entry table that repeats the 16 values, (word >> 4t) looks up code
 *   4i+t: three shifts and four vpermw give 4 x 32 bfloat16 weights for
 *   four vdpbf16ps. x per 128 elements: for t = 0..3, x[4i + t], i < 32.
 * - float32 x: 32-bit word i holds codes 8i .. 8i+7; vpermps reads the low
 *   4 bits of each index, so (word >> 4t) looks up code 8i+t in the
 *   16-entry float table. The even codes need no shift: the same line
 *   loaded at byte offsets 1, 2, 3 puts codes 8i+2, 8i+4, 8i+6 in the low
 *   bits of word i, so four loads, four shifts (the odd codes) and eight
 *   vpermps give 8 x 16 weights for eight FMAs, in one accumulator chain
 *   per chunk (the shifts and the vector ports are the limit: 1.1-1.2x
 *   the rate of seven shifts and two chains). x per 128 elements: for
 *   t = 0..7, x[8i + t], i < 16.
 * Either way float32 lane l sums codes 8l .. 8l+7 of the chunk, so a group
 * (16, 32, 64 or 128 codes, or whole chunks) is a run of lanes and the
 * scales of a chunk are one vector: lane l takes group (8l) / gs. The
 * weights are prefetched qmm_stream_prefetch_bytes ahead of the load
 * (rows of MLX's packing are contiguous, so this runs into the next rows;
 * a prefetch never faults, past the matrix included).
 * ---------------------------------------------------------------------- */

/* The x rows of a pass over every weight row of the call take at most
 * this many bytes, so they stay in L1 while the weights stream past. */
#define WIDE_X_BYTES 16384

/* The chunk kinds of wide_pass (the bfloat16 kernels have their own). */
typedef enum wide_kind {
  WK_F32, /* 128 4-bit codes, float32 x, vpermps + FMA */
  WK_W8   /* 64 8-bit codes, float32 x, vpmovzxbd + vcvtdq2ps + FMA */
} wide_kind;

/* One 128-code chunk of one weight row at p into acc0/acc1 of rows r <
 * RB (x at column k of the prepared rows). */
BF16_INLINE void wide_bf16_chunk(const uint8_t* p, const uint16_t* x, int64_t ldx, int64_t k,
                                 const int RB, __m512i table, __m512* acc0, __m512* acc1) {
  __m512i v = _mm512_loadu_si512(p);
  __m512bh w0 = (__m512bh)_mm512_permutexvar_epi16(v, table);
  __m512bh w1 = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(v, 4), table);
  __m512bh w2 = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(v, 8), table);
  __m512bh w3 = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(v, 12), table);
  UNROLL
  for (int r = 0; r < RB; r++) {
    const uint16_t* xr = x + r * ldx + k;
    acc0[r] = _mm512_dpbf16_ps(acc0[r], w0, (__m512bh)_mm512_loadu_si512(xr));
    acc1[r] = _mm512_dpbf16_ps(acc1[r], w2, (__m512bh)_mm512_loadu_si512(xr + 64));
    acc0[r] = _mm512_dpbf16_ps(acc0[r], w1, (__m512bh)_mm512_loadu_si512(xr + 32));
    acc1[r] = _mm512_dpbf16_ps(acc1[r], w3, (__m512bh)_mm512_loadu_si512(xr + 96));
  }
}

/* One 128-code chunk, float32 x. offs: the index vectors of the even
 * codes come from loads at byte offsets 0..3 (dword i of the load at p + s
 * starts with code 8i + 2s), so only the odd codes cost a shift; such
 * loads read up to 3 bytes past the chunk, so the last chunk of a row
 * shifts all seven. TWO: two accumulators per row (else one chain). */
AVX512_INLINE void wide_f32_chunk(const uint8_t* p, const float* x, int64_t ldx, int64_t k,
                                  const int RB, __m512 table, bool offs, const bool TWO,
                                  __m512* acc0, __m512* acc1) {
  __m512 wt[8];
  if (offs) {
    UNROLL
    for (int s = 0; s < 4; s++) {
      __m512i v = _mm512_loadu_si512(p + s);
      wt[2 * s] = _mm512_permutexvar_ps(v, table);
      wt[2 * s + 1] = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
    }
  } else {
    __m512i v = _mm512_loadu_si512(p);
    wt[0] = _mm512_permutexvar_ps(v, table);
    UNROLL
    for (int t = 1; t < 8; t++) wt[t] = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4 * t), table);
  }
  UNROLL
  for (int r = 0; r < RB; r++) {
    const float* xr = x + r * ldx + k;
    if (TWO) {
      UNROLL
      for (int t = 0; t < 8; t += 2) {
        acc0[r] = _mm512_fmadd_ps(wt[t], _mm512_loadu_ps(xr + 16 * t), acc0[r]);
        acc1[r] = _mm512_fmadd_ps(wt[t + 1], _mm512_loadu_ps(xr + 16 * t + 16), acc1[r]);
      }
    } else {
      UNROLL
      for (int t = 0; t < 8; t++)
        acc0[r] = _mm512_fmadd_ps(wt[t], _mm512_loadu_ps(xr + 16 * t), acc0[r]);
    }
  }
}

/* One 64-code chunk of 8-bit codes, float32 x in its plain order. */
AVX512_INLINE void wide_w8_chunk(const uint8_t* p, const float* x, int64_t ldx, int64_t k,
                                 const int RB, const bool TWO, __m512* acc0, __m512* acc1) {
  __m512 wt[4];
  UNROLL
  for (int t = 0; t < 4; t++)
    wt[t] = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(p + 16 * t))));
  UNROLL
  for (int r = 0; r < RB; r++) {
    const float* xr = x + r * ldx + k;
    if (TWO) {
      acc0[r] = _mm512_fmadd_ps(wt[0], _mm512_loadu_ps(xr), acc0[r]);
      acc1[r] = _mm512_fmadd_ps(wt[1], _mm512_loadu_ps(xr + 16), acc1[r]);
      acc0[r] = _mm512_fmadd_ps(wt[2], _mm512_loadu_ps(xr + 32), acc0[r]);
      acc1[r] = _mm512_fmadd_ps(wt[3], _mm512_loadu_ps(xr + 48), acc1[r]);
    } else {
      UNROLL
      for (int t = 0; t < 4; t++)
        acc0[r] = _mm512_fmadd_ps(wt[t], _mm512_loadu_ps(xr + 16 * t), acc0[r]);
    }
  }
}

/* Weight rows j0 .. j1-1 of the call, codes k0 .. k1-1, rows r0 .. r0+RB-1
 * of x: the chunk sums times the scales go into tots[(j - j0) * RB + r].
 * Only the first row block prefetches (the others find the weights in
 * cache); pf = 0 prefetches the line being loaded, which costs nothing. */
BF16_INLINE void wide_bf16_pass(const qmm_stream_args* a, int r0, const int RB, bool affine,
                                int j0, int j1, int64_t k0, int64_t k1, __m512* tots) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t G = w->cols / gs;
  const wide_geom geo = wide_geometry(gs);
  const int64_t pf = r0 == 0 ? qmm_stream_prefetch_bytes : 0;
  uint16_t tab[32];
  bf16_table(tab, !affine);
  const __m512i table = _mm512_loadu_si512(tab);
  const __m512i group_idx = wide_group_index(gs);
  const uint16_t* x = (const uint16_t*)a->x + r0 * a->ldx;
  const int64_t ldx = a->ldx;
  for (int j = j0; j < j1; j++) {
    const uint8_t* p = (const uint8_t*)(w->w + (int64_t)(a->n0 + j) * w->w_ld) + k0 / 2;
    const float* sg = a->s + j * G + k0 / gs;
    __m512 tot[4];
    UNROLL
    for (int r = 0; r < RB; r++) tot[r] = tots[(j - j0) * RB + r];
    for (int64_t k = k0; k < k1; sg += geo.gpc) {
      __m512 acc0[4], acc1[4];
      UNROLL
      for (int r = 0; r < RB; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
      for (int u = 0; u < geo.step; u++, p += 64, k += 128) {
        _mm_prefetch((const char*)p + pf, _MM_HINT_T0);
        wide_bf16_chunk(p, x, ldx, k, RB, table, acc0, acc1);
      }
      __m512 sv = _mm512_permutexvar_ps(group_idx, _mm512_maskz_loadu_ps(geo.smask, sg));
      UNROLL
      for (int r = 0; r < RB; r++)
        tot[r] = _mm512_fmadd_ps(sv, _mm512_add_ps(acc0[r], acc1[r]), tot[r]);
    }
    UNROLL
    for (int r = 0; r < RB; r++) tots[(j - j0) * RB + r] = tot[r];
  }
}

/* The same for float32 x: WK_F32 (4-bit codes, chunks of 128) or WK_W8
 * (8-bit codes, chunks of 64; groups are whole chunks, so the scale is a
 * broadcast). */
AVX512_INLINE void wide_pass(const qmm_stream_args* a, int r0, const int RB, bool affine,
                             const wide_kind WK, const bool OFFS, const bool TWO, int j0,
                             int j1, int64_t k0, int64_t k1, __m512* tots) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t K = w->cols, G = K / gs;
  const int chunk = WK == WK_W8 ? 64 : 128; /* codes per chunk */
  const wide_geom geo = WK == WK_W8 ? (wide_geom){gs / 64, 1, 1} : wide_geometry(gs);
  const int64_t pf = r0 == 0 ? qmm_stream_prefetch_bytes : 0;
  const __m512 table = affine ? _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                               14, 15)
                              : _mm512_loadu_ps(quant_e2m1_values);
  const __m512i group_idx = wide_group_index(gs);
  const float* x = (const float*)a->x + r0 * a->ldx;
  const int64_t ldx = a->ldx;
  const int64_t k_last = K - chunk; /* the last chunk of a row */
  for (int j = j0; j < j1; j++) {
    const uint8_t* p = (const uint8_t*)(w->w + (int64_t)(a->n0 + j) * w->w_ld) +
                       (WK == WK_W8 ? k0 : k0 / 2);
    const float* sg = a->s + j * G + k0 / gs;
    __m512 tot[4];
    UNROLL
    for (int r = 0; r < RB; r++) tot[r] = tots[(j - j0) * RB + r];
    for (int64_t k = k0; k < k1; sg += geo.gpc) {
      __m512 acc0[4], acc1[4];
      UNROLL
      for (int r = 0; r < RB; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
      for (int u = 0; u < geo.step; u++, p += 64, k += chunk) {
        _mm_prefetch((const char*)p + pf, _MM_HINT_T0);
        if (WK == WK_F32)
          wide_f32_chunk(p, x, ldx, k, RB, table, OFFS && k < k_last, TWO, acc0, acc1);
        else
          wide_w8_chunk(p, x, ldx, k, RB, TWO, acc0, acc1);
      }
      __m512 sv = WK == WK_W8 ? _mm512_set1_ps(*sg)
                              : _mm512_permutexvar_ps(group_idx,
                                                      _mm512_maskz_loadu_ps(geo.smask, sg));
      UNROLL
      for (int r = 0; r < RB; r++)
        tot[r] = _mm512_fmadd_ps(sv, TWO ? _mm512_add_ps(acc0[r], acc1[r]) : acc0[r], tot[r]);
    }
    UNROLL
    for (int r = 0; r < RB; r++) tots[(j - j0) * RB + r] = tot[r];
  }
}

/* Codes per pass: K, or a multiple of `unit` (a multiple of the chunk and
 * of the group size) whose x rows fit WIDE_X_BYTES. */
static int64_t wide_kblock(int64_t K, int64_t unit, int rows, int esize) {
  int64_t kb = WIDE_X_BYTES / (rows * esize) / unit * unit;
  if (kb < unit) kb = unit;
  return kb < K ? kb : K;
}

/* Rows r0 .. r0+RB-1 of x against every weight row of the call: blocks of
 * WIDE_JB weight rows, each in passes over blocks of K whose x fits L1. */
BF16_INLINE void wide_bf16_rows(const qmm_stream_args* a, int r0, const int RB, bool affine) {
  const int64_t K = a->w->cols;
  const int gs = a->w->group_size;
  const int64_t kb = wide_kblock(K, gs > 128 ? gs : 128, RB, 2);
  __m512 tots[WIDE_JB * 4];
  for (int j0 = 0; j0 < a->nb; j0 += WIDE_JB) {
    int j1 = a->nb - j0 < WIDE_JB ? a->nb : j0 + WIDE_JB;
    for (int i = 0; i < (j1 - j0) * RB; i++) tots[i] = _mm512_setzero_ps();
    for (int64_t k0 = 0; k0 < K; k0 += kb)
      wide_bf16_pass(a, r0, RB, affine, j0, j1, k0, K - k0 < kb ? K : k0 + kb, tots);
    wide_finish(a, r0, RB, affine, j0, j1, tots);
  }
}

AVX512_INLINE void wide_rows(const qmm_stream_args* a, int r0, const int RB, bool affine,
                             const wide_kind WK, const bool OFFS, const bool TWO) {
  const int64_t K = a->w->cols;
  const int gs = a->w->group_size;
  const int64_t kb = wide_kblock(K, WK == WK_W8 ? gs : gs > 128 ? gs : 128, RB, 4);
  __m512 tots[WIDE_JB * 4];
  for (int j0 = 0; j0 < a->nb; j0 += WIDE_JB) {
    int j1 = a->nb - j0 < WIDE_JB ? a->nb : j0 + WIDE_JB;
    for (int i = 0; i < (j1 - j0) * RB; i++) tots[i] = _mm512_setzero_ps();
    for (int64_t k0 = 0; k0 < K; k0 += kb)
      wide_pass(a, r0, RB, affine, WK, OFFS, TWO, j0, j1, k0, K - k0 < kb ? K : k0 + kb, tots);
    wide_finish(a, r0, RB, affine, j0, j1, tots);
  }
}

BF16_INLINE void wide_bf16_all(const qmm_stream_args* a, bool affine) {
  int r = 0;
  for (; r + 4 <= a->rows; r += 4) wide_bf16_rows(a, r, 4, affine);
  switch (a->rows - r) {
    case 3: wide_bf16_rows(a, r, 3, affine); break;
    case 2: wide_bf16_rows(a, r, 2, affine); break;
    case 1: wide_bf16_rows(a, r, 1, affine); break;
    default: break;
  }
}

AVX512_INLINE void wide_all(const qmm_stream_args* a, bool affine, const wide_kind WK,
                            const bool OFFS, const bool TWO) {
  int r = 0;
  for (; r + 4 <= a->rows; r += 4) wide_rows(a, r, 4, affine, WK, OFFS, TWO);
  switch (a->rows - r) {
    case 3: wide_rows(a, r, 3, affine, WK, OFFS, TWO); break;
    case 2: wide_rows(a, r, 2, affine, WK, OFFS, TWO); break;
    case 1: wide_rows(a, r, 1, affine, WK, OFFS, TWO); break;
    default: break;
  }
}

BF16_FN static void run_wide_bf16_a4(const qmm_stream_args* a) { wide_bf16_all(a, true); }
BF16_FN static void run_wide_bf16_e2m1(const qmm_stream_args* a) { wide_bf16_all(a, false); }

/* float32 4-bit kernels: qmm_stream_variant 2 turns the offset loads off,
 * 4 gives two accumulators per row (the previous form, for
 * comparisons in bench_qmm; the default measured 1.1-1.2x as fast). A
 * third form, the odd codes shifted once, stored and read back at the
 * offsets too, ran 3.5x slower (the misaligned reloads wait for the store
 * to reach L1). */
AVX512_INLINE void wide_f32_dispatch(const qmm_stream_args* a, bool affine) {
  switch (qmm_stream_variant & 6) {
    case 2: wide_all(a, affine, WK_F32, false, false); break;
    case 4: wide_all(a, affine, WK_F32, true, true); break;
    case 6: wide_all(a, affine, WK_F32, false, true); break;
    default: wide_all(a, affine, WK_F32, true, false); break;
  }
}
AVX512_FN static void run_wide_f32_a4(const qmm_stream_args* a) { wide_f32_dispatch(a, true); }
AVX512_FN static void run_wide_f32_e2m1(const qmm_stream_args* a) {
  wide_f32_dispatch(a, false);
}
AVX512_FN static void run_wide_w8(const qmm_stream_args* a) {
  if (qmm_stream_variant & 4) wide_all(a, true, WK_W8, false, true);
  else wide_all(a, true, WK_W8, false, false);
}

/* Per 128 elements: for t = 0..3, elements 4i + t (i < 32), as bfloat16
 * (x came from bfloat16: exact). */
static void xprep_wide_bf16(void* dst, const float* src, int K, int group_size) {
  (void)group_size;
  uint16_t* d = dst;
  for (int k = 0; k < K; k += 128)
    for (int t = 0; t < 4; t++)
      for (int i = 0; i < 32; i++) d[k + 32 * t + i] = f32_to_bf16(src[k + 4 * i + t]);
}

/* Per 128 elements: for t = 0..7, elements 8i + t (i < 16). */
static void xprep_wide_f32(void* dst, const float* src, int K, int group_size) {
  (void)group_size;
  float* d = dst;
  for (int k = 0; k < K; k += 128)
    for (int t = 0; t < 8; t++)
      for (int i = 0; i < 16; i++) d[k + 16 * t + i] = src[k + 8 * i + t];
}

static const qmm_stream_kernel k_wide_bf16_a4 = {"avx512bf16-affine4-w128", run_wide_bf16_a4,
                                                 xprep_wide_bf16, 2, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_wide_bf16_e2m1 = {"avx512bf16-e2m1-w128", run_wide_bf16_e2m1,
                                                   xprep_wide_bf16, 2, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_wide_f32_a4 = {"avx512-affine4-w128", run_wide_f32_a4,
                                                xprep_wide_f32, 4, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_wide_f32_e2m1 = {"avx512-e2m1-w128", run_wide_f32_e2m1,
                                                  xprep_wide_f32, 4, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_wide_w8 = {"avx512-affine8-w64", run_wide_w8, NULL, 4,
                                            QMM_STREAM_MAX_ROWS};

const qmm_stream_kernel* qmm_avx512_stream_kernel(quant_mode mode, int bits, int group_size,
                                                  int64_t K, mlx_dtype x_dtype, bool bf16) {
  quant_elem e = quant_modes[mode].elem;
  bool nibbles = (e == QUANT_ELEM_UINT && bits == 4) || e == QUANT_ELEM_E2M1;
  bool wide_groups = group_size == 16 || group_size == 32 || group_size == 64 ||
                     group_size % 128 == 0;
  if (e == QUANT_ELEM_UINT && bits == 8 && group_size > 0 && group_size % 64 == 0 &&
      !qmm_stream_avx2_8bit)
    return &k_wide_w8;
  if (nibbles && K % 128 == 0 && group_size > 0 && wide_groups && !qmm_stream_narrow_only) {
    if (bf16 && x_dtype == MLX_BFLOAT16 && qmm_stream_bf16_dot)
      return e == QUANT_ELEM_UINT ? &k_wide_bf16_a4 : &k_wide_bf16_e2m1;
    return e == QUANT_ELEM_UINT ? &k_wide_f32_a4 : &k_wide_f32_e2m1;
  }
  if (bf16 && x_dtype == MLX_BFLOAT16 && nibbles && K % 64 == 0 && group_size % 16 == 0 &&
      (group_size <= 64 || group_size % 64 == 0))
    return e == QUANT_ELEM_UINT ? &k_bf16_a4 : &k_bf16_e2m1;
  if (group_size % 32 != 0) return NULL;
  switch (e) {
    /* other 8-bit affine groups: the AVX2 kernel */
    case QUANT_ELEM_UINT: return bits == 4 ? &k_f32_a4 : NULL;
    case QUANT_ELEM_E2M1: return &k_f32_e2m1;
    case QUANT_ELEM_E4M3: return &k_f32_e4m3;
  }
  return NULL;
}

#else

const qmm_stream_kernel* qmm_avx512_stream_kernel(quant_mode mode, int bits, int group_size,
                                                  int64_t K, mlx_dtype x_dtype, bool bf16) {
  (void)mode, (void)bits, (void)group_size, (void)K, (void)x_dtype, (void)bf16;
  return NULL;
}

#endif
