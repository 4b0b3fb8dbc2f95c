/* qmm_avx2.c - AVX2 (+FMA, F16C) streaming kernels of the quantized
 * matmul: affine 4-bit and 8-bit, E2M1 (mxfp4, nvfp4) and E4M3 (mxfp8)
 * weights, float32 activations (bfloat16 and float16 ones are widened to
 * float32 by the driver: exact).
 *
 * Two families of kernels. Group sizes multiple of 32 (every MLX
 * checkpoint: affine g32/g64/g128, mxfp4) take the 32-code kernels below
 * ("---- 32-code chunks"); others (nvfp4's g16) and E4M3 the 16-code ones:
 * 16 packed weights into two vectors of 8 floats, multiplied with the x
 * rows in float32 FMA, one accumulator per row and group, folded into the
 * row's total times the group's scale. The decoders never reorder bytes;
 * instead x is prepared once per job in the order the decoder produces
 * (qmm_kernels.h allows any permutation within a group):
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

/* In decode32, DEC_A4 is affine 4-bit through the bfloat16 tables and
 * DEC_A4C through vcvtdq2ps (decode16's order, twice; the default). */
typedef enum dec_kind { DEC_A4, DEC_A8, DEC_E2M1, DEC_E4M3, DEC_A4C } dec_kind;

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

/* ---- 32-code chunks (group sizes multiple of 32) ----
 * A chunk decodes to four vectors of 8 floats; per chunk and row of x,
 * four FMAs (the group's first chunk: multiplies) into NP partial sums,
 * and one FMA per group with the scale into two running totals (even and
 * odd groups) so consecutive groups do not wait on each other. With one
 * row of x, two weight rows go together (stream_pass32_j2): each x vector
 * loaded once feeds both, and their chains overlap. Three or four rows of
 * x use the 16-code stream_pass where its decoder reads the same x layout
 * (affine), which measured faster there.
 * Decoders:
 * - E2M1 (and the DEC_A4 variant): every E2M1 value and every 4-bit code
 *   is a bfloat16, so two pshufb tables give the high and low bytes of its
 *   bfloat16 pattern, unpacked into words and then into the top halves of
 *   32-bit lanes (a shift for even words, a mask for odd ones): no int ->
 *   float conversion. The 16 packed bytes go to both 128-bit lanes, the
 *   high lane shifted by 4, so lane 0 holds the low nibbles (even codes),
 *   lane 1 the high ones. Per 32 codes c the vectors hold
 *   (xprep_chunk32's order):
 *     v0: c0 c4 c8 c12 | c1 c5 c9 c13     v1: c2 c6 c10 c14 | c3 c7 c11 c15
 *     v2: c16 ... c28  | c17 ... c29      v3: c18 ... c30   | c19 ... c31
 * - DEC_A4C: decode16 twice (xprep_nibbles' order); on AMD Zen 4 it ran
 *   faster than the tables for affine codes.
 * - 8-bit codes (32 bytes) widen in order with vpmovzxbd and vcvtdq2ps.
 * AMD EPYC (Zen 4, AVX2 only), one thread, 16 rows of K = 2048 in cache,
 * G codes/s at M = 1: affine 4-bit 15.2 -> 18.3, mxfp4 9.3 -> 16.8,
 * affine 8-bit 14.0 -> 16.2. */
typedef struct vquad {
  __m256 v[4];
} vquad;

AVX2_INLINE vquad decode32(const uint8_t* p, dec_kind kind) {
  vquad d;
  if (kind == DEC_A4C) {
    vpair a = decode16(p, DEC_A4), b = decode16(p + 8, DEC_A4);
    d.v[0] = a.lo, d.v[1] = a.hi, d.v[2] = b.lo, d.v[3] = b.hi;
    return d;
  }
  if (kind == DEC_A8) {
    UNROLL
    for (int i = 0; i < 4; i++) {
      __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(p + 8 * i)));
      d.v[i] = _mm256_cvtepi32_ps(v);
    }
    return d;
  }
  __m256i th, tl;
  if (kind == DEC_A4) {
    th = _mm256_setr_epi8(0x00, 0x3F, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x41, 0x41, 0x41, 0x41,
                          0x41, 0x41, 0x41, 0x41, 0x00, 0x3F, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
                          0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41);
    tl = _mm256_setr_epi8(0x00, (char)0x80, 0x00, 0x40, (char)0x80, (char)0xA0, (char)0xC0,
                          (char)0xE0, 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x00,
                          (char)0x80, 0x00, 0x40, (char)0x80, (char)0xA0, (char)0xC0, (char)0xE0,
                          0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70);
  } else {
    /* E2M1: 0, 0.5, 1, 1.5, 2, 3, 4, 6, then the negatives (bit 3) */
    th = _mm256_setr_epi8(0x00, 0x3F, 0x3F, 0x3F, 0x40, 0x40, 0x40, 0x40, (char)0x80,
                          (char)0xBF, (char)0xBF, (char)0xBF, (char)0xC0, (char)0xC0,
                          (char)0xC0, (char)0xC0, 0x00, 0x3F, 0x3F, 0x3F, 0x40, 0x40, 0x40,
                          0x40, (char)0x80, (char)0xBF, (char)0xBF, (char)0xBF, (char)0xC0,
                          (char)0xC0, (char)0xC0, (char)0xC0);
    tl = _mm256_setr_epi8(0x00, 0x00, (char)0x80, (char)0xC0, 0x00, 0x40, (char)0x80, (char)0xC0,
                          0x00, 0x00, (char)0x80, (char)0xC0, 0x00, 0x40, (char)0x80, (char)0xC0,
                          0x00, 0x00, (char)0x80, (char)0xC0, 0x00, 0x40, (char)0x80, (char)0xC0,
                          0x00, 0x00, (char)0x80, (char)0xC0, 0x00, 0x40, (char)0x80, (char)0xC0);
  }
  __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)p));
  __m256i n = _mm256_and_si256(_mm256_srlv_epi32(q, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                               _mm256_set1_epi8(15));
  __m256i h = _mm256_shuffle_epi8(th, n), l = _mm256_shuffle_epi8(tl, n);
  __m256i w0 = _mm256_unpacklo_epi8(l, h), w1 = _mm256_unpackhi_epi8(l, h);
  const __m256i top = _mm256_set1_epi32((int)0xFFFF0000u);
  d.v[0] = _mm256_castsi256_ps(_mm256_slli_epi32(w0, 16));
  d.v[1] = _mm256_castsi256_ps(_mm256_and_si256(w0, top));
  d.v[2] = _mm256_castsi256_ps(_mm256_slli_epi32(w1, 16));
  d.v[3] = _mm256_castsi256_ps(_mm256_and_si256(w1, top));
  return d;
}

/* One 32-code chunk into the partial sums acc[r][0 .. NP-1]; init: the
 * group's first chunk (products assigned, not added). */
AVX2_INLINE void chunk32(const uint8_t* p, dec_kind kind, const float* xk, int64_t ldx,
                         const int RB, const int NP, __m256 acc[4][4], const bool init) {
  vquad d = decode32(p, kind);
  UNROLL
  for (int r = 0; r < RB; r++) {
    const float* xr = xk + r * ldx;
    UNROLL
    for (int i = 0; i < 4; i++) {
      __m256 xv = _mm256_loadu_ps(xr + 8 * i);
      const int u = i % NP;
      if (init && i < NP) acc[r][u] = _mm256_mul_ps(d.v[i], xv);
      else acc[r][u] = _mm256_fmadd_ps(d.v[i], xv, acc[r][u]);
    }
  }
}

/* stream_pass over 32-code chunks: each row keeps NP partial sums per
 * group (the first product a multiply, not an FMA on zero) and two
 * running totals, for even and odd groups, so that one group's scale
 * multiply does not wait for the previous group's. */
AVX2_INLINE void stream_pass32(const qmm_stream_args* a, int r0, const int RB, dec_kind kind,
                               const int NP, int j0, int j1, int64_t g0, int64_t g1,
                               __m256* tots) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t G = w->cols / gs;
  const int chunk_bytes = kind == DEC_A8 ? 32 : 16;
  const int group_bytes = gs / 32 * chunk_bytes;
  const int64_t pf = r0 == 0 ? qmm_stream_prefetch_bytes : 0;
  const float* x = (const float*)a->x + r0 * a->ldx;
  for (int j = j0; j < j1; j++) {
    const uint8_t* p = (const uint8_t*)(w->w + (int64_t)(a->n0 + j) * w->w_ld) + g0 * group_bytes;
    const float* s = a->s + j * G;
    __m256 tot[4][2];
    const int NT = RB <= 2 ? 2 : 1;
    UNROLL
    for (int r = 0; r < RB; r++) {
      tot[r][0] = tots[(j - j0) * RB + r];
      tot[r][1] = _mm256_setzero_ps();
    }
    const float* xk = x + g0 * gs;
    for (int64_t g = g0; g < g1; g++) {
      if (pf) {
        if (group_bytes >= 64)
          for (int off = 0; off < group_bytes; off += 64)
            _mm_prefetch((const char*)p + pf + off, _MM_HINT_T0);
        else if (((uintptr_t)p & 63) < (uintptr_t)group_bytes)
          _mm_prefetch((const char*)p + pf, _MM_HINT_T0);
      }
      __m256 acc[4][4];
      chunk32(p, kind, xk, a->ldx, RB, NP, acc, true);
      p += chunk_bytes, xk += 32;
      for (int c = 32; c < gs; c += 32, p += chunk_bytes, xk += 32)
        chunk32(p, kind, xk, a->ldx, RB, NP, acc, false);
      __m256 sv = _mm256_broadcast_ss(s + g);
      const int e = NT == 2 ? (int)(g & 1) : 0;
      UNROLL
      for (int r = 0; r < RB; r++) {
        __m256 t = acc[r][0];
        if (NP == 4)
          t = _mm256_add_ps(_mm256_add_ps(t, acc[r][1]), _mm256_add_ps(acc[r][2], acc[r][3]));
        else if (NP == 2) t = _mm256_add_ps(t, acc[r][1]);
        if (e) tot[r][1] = _mm256_fmadd_ps(sv, t, tot[r][1]);
        else tot[r][0] = _mm256_fmadd_ps(sv, t, tot[r][0]);
      }
    }
    UNROLL
    for (int r = 0; r < RB; r++)
      tots[(j - j0) * RB + r] = NT == 2 ? _mm256_add_ps(tot[r][0], tot[r][1]) : tot[r][0];
  }
}

AVX2_INLINE void chunk32_j2(const uint8_t* p0, const uint8_t* p1, dec_kind kind,
                            const float* xk, const int NP, __m256 acc0[4], __m256 acc1[4],
                            const bool init) {
  vquad d0 = decode32(p0, kind), d1 = decode32(p1, kind);
  UNROLL
  for (int i = 0; i < 4; i++) {
    __m256 xv = _mm256_loadu_ps(xk + 8 * i);
    const int u = i % NP;
    if (init && i < NP) {
      acc0[u] = _mm256_mul_ps(d0.v[i], xv);
      acc1[u] = _mm256_mul_ps(d1.v[i], xv);
    } else {
      acc0[u] = _mm256_fmadd_ps(d0.v[i], xv, acc0[u]);
      acc1[u] = _mm256_fmadd_ps(d1.v[i], xv, acc1[u]);
    }
  }
}

/* One row of x against weight rows j and j+1 together (stream_pass32's
 * work for RB = 1, two rows): each x vector loaded once feeds both rows,
 * and the two rows' chains overlap. */
AVX2_INLINE void stream_pass32_j2(const qmm_stream_args* a, int r0, dec_kind kind, const int NP,
                                  int j, int j0, int64_t g0, int64_t g1, __m256* tots) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t G = w->cols / gs;
  const int chunk_bytes = kind == DEC_A8 ? 32 : 16;
  const int group_bytes = gs / 32 * chunk_bytes;
  const int64_t pf = r0 == 0 ? qmm_stream_prefetch_bytes : 0;
  const uint8_t* p0 = (const uint8_t*)(w->w + (int64_t)(a->n0 + j) * w->w_ld) + g0 * group_bytes;
  const uint8_t* p1 = p0 + w->w_ld * 4;
  const float* s0 = a->s + j * G;
  const float* s1 = s0 + G;
  __m256 tot0 = tots[j - j0], tot1 = tots[j + 1 - j0];
  const float* xk = (const float*)a->x + r0 * a->ldx + g0 * gs;
  for (int64_t g = g0; g < g1; g++) {
    if (pf) {
      /* both rows' streams pf ahead of row j+1 where rows are at least pf
       * long (pf ahead of row j would be row j+1, read now) or the codes are
       * 8-bit (twice the bytes per second of 4-bit ones, so a longer lead:
       * measured faster); else pf ahead of row j (4-bit: measured faster) */
      const char* q0 = (const char*)(w->w_ld * 4 >= pf || kind == DEC_A8 ? p1 : p0) + pf;
      const char* q1 = q0 + w->w_ld * 4;
      if (group_bytes >= 64)
        for (int off = 0; off < group_bytes; off += 64) {
          _mm_prefetch(q0 + off, _MM_HINT_T0);
          _mm_prefetch(q1 + off, _MM_HINT_T0);
        }
      else if (((uintptr_t)p0 & 63) < (uintptr_t)group_bytes) {
        _mm_prefetch(q0, _MM_HINT_T0);
        _mm_prefetch(q1, _MM_HINT_T0);
      }
    }
    __m256 acc0[4], acc1[4];
    chunk32_j2(p0, p1, kind, xk, NP, acc0, acc1, true);
    p0 += chunk_bytes, p1 += chunk_bytes, xk += 32;
    for (int c = 32; c < gs; c += 32, p0 += chunk_bytes, p1 += chunk_bytes, xk += 32)
      chunk32_j2(p0, p1, kind, xk, NP, acc0, acc1, false);
    __m256 t0 = acc0[0], t1 = acc1[0];
    if (NP == 2) t0 = _mm256_add_ps(t0, acc0[1]), t1 = _mm256_add_ps(t1, acc1[1]);
    tot0 = _mm256_fmadd_ps(_mm256_broadcast_ss(s0 + g), t0, tot0);
    tot1 = _mm256_fmadd_ps(_mm256_broadcast_ss(s1 + g), t1, tot1);
  }
  tots[j - j0] = tot0;
  tots[j + 1 - j0] = tot1;
}

/* rows r0 .. r0+RB-1 of x against every weight row of the call, in passes
 * over blocks of groups whose x fits L1. */
AVX2_INLINE void stream_rows(const qmm_stream_args* a, int r0, const int RB, dec_kind kind,
                             float out_mul, const int NU, const bool wide) {
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t G = w->cols / gs;
  const bool affine = kind == DEC_A4 || kind == DEC_A8 || kind == DEC_A4C;
  int64_t gb = PASS_X_BYTES / (RB * 4 * gs);
  if (gb < 1) gb = 1;
  __m256 tots[PASS_JB * 4];
  for (int j0 = 0; j0 < a->nb; j0 += PASS_JB) {
    int j1 = a->nb - j0 < PASS_JB ? a->nb : j0 + PASS_JB;
    for (int i = 0; i < (j1 - j0) * RB; i++) tots[i] = _mm256_setzero_ps();
    for (int64_t g0 = 0; g0 < G; g0 += gb)
      if (wide && RB == 1) {
        int j = j0;
        for (; j + 2 <= j1; j += 2)
          stream_pass32_j2(a, r0, kind, kind == DEC_E2M1 ? 1 : 2, j, j0, g0,
                           G - g0 < gb ? G : g0 + gb, tots);
        if (j < j1)
          stream_pass32(a, r0, RB, kind, NU, j, j1, g0, G - g0 < gb ? G : g0 + gb,
                        tots + (j - j0));
      } else if (wide)
        stream_pass32(a, r0, RB, kind, NU, j0, j1, g0, G - g0 < gb ? G : g0 + gb, tots);
      else
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
  for (; r + 4 <= a->rows; r += 4) stream_rows(a, r, 4, kind, out_mul, 1, false);
  switch (a->rows - r) {
    case 3: stream_rows(a, r, 3, kind, out_mul, 1, false); break;
    case 2:
      pairs ? stream_rows(a, r, 2, kind, out_mul, 2, false)
            : stream_rows(a, r, 2, kind, out_mul, 1, false);
      break;
    case 1:
      pairs ? stream_rows(a, r, 1, kind, out_mul, 2, false)
            : stream_rows(a, r, 1, kind, out_mul, 1, false);
      break;
    default: break;
  }
}

/* The 32-code kernels (group size multiple of 32) for one or two rows of
 * x; more rows at a time go through stream_pass (kind16: its decoder of
 * the same x layout, faster there on AMD Zen 4) where there is one, else
 * stream_pass32 with one partial sum per row. */
AVX2_INLINE void stream_all32(const qmm_stream_args* a, dec_kind kind, int kind16) {
  int r = 0;
  for (; r + 4 <= a->rows; r += 4)
    kind16 >= 0 ? stream_rows(a, r, 4, (dec_kind)kind16, 1.0f, 1, false)
                : stream_rows(a, r, 4, kind, 1.0f, 1, true);
  switch (a->rows - r) {
    case 3:
      kind16 >= 0 ? stream_rows(a, r, 3, (dec_kind)kind16, 1.0f, 1, false)
                  : stream_rows(a, r, 3, kind, 1.0f, 1, true);
      break;
    case 2: stream_rows(a, r, 2, kind, 1.0f, 2, true); break;
    case 1:
      /* pairs of weight rows take stream_pass32_j2 (one partial sum for
       * E2M1, two for affine); an odd last one, NP = 4 for E2M1 (32-code
       * groups: four multiplies, measured best) or 2 */
      kind == DEC_E2M1 ? stream_rows(a, r, 1, kind, 1.0f, 4, true)
                       : stream_rows(a, r, 1, kind, 1.0f, 2, true);
      break;
    default: break;
  }
}

AVX2_FN static void run_a4(const qmm_stream_args* a) { stream_all(a, DEC_A4, 1.0f); }
AVX2_FN static void run_a8(const qmm_stream_args* a) { stream_all(a, DEC_A8, 1.0f); }
AVX2_FN static void run_e2m1(const qmm_stream_args* a) { stream_all(a, DEC_E2M1, 0.5f); }
AVX2_FN static void run_e4m3(const qmm_stream_args* a) { stream_all(a, DEC_E4M3, 256.0f); }
AVX2_FN static void run32_a4(const qmm_stream_args* a) { stream_all32(a, DEC_A4, -1); }
AVX2_FN static void run32_a4c(const qmm_stream_args* a) { stream_all32(a, DEC_A4C, DEC_A4); }
AVX2_FN static void run32_a8(const qmm_stream_args* a) { stream_all32(a, DEC_A8, DEC_A8); }
AVX2_FN static void run32_e2m1(const qmm_stream_args* a) { stream_all32(a, DEC_E2M1, -1); }

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

/* Per 32 elements, decode32's order. */
static void xprep_chunk32(void* dst, const float* src, int K, int group_size) {
  (void)group_size;
  float* d = dst;
  for (int k = 0; k < K; k += 32)
    for (int v = 0; v < 4; v++)
      for (int lane = 0; lane < 2; lane++)
        for (int i = 0; i < 4; i++)
          d[k + 8 * v + 4 * lane + i] = src[k + 16 * (v >> 1) + 2 * (v & 1) + lane + 4 * i];
}

static const qmm_stream_kernel k_a4 = {"avx2-affine4", run_a4, xprep_nibbles, 4,
                                       QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_a8 = {"avx2-affine8", run_a8, NULL, 4, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_e2m1 = {"avx2-e2m1", run_e2m1, xprep_nibbles, 4,
                                         QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_e4m3 = {"avx2-e4m3", run_e4m3, NULL, 4, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k32_a4 = {"avx2-affine4-32", run32_a4, xprep_chunk32, 4,
                                         QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k32_a4c = {"avx2-affine4-32c", run32_a4c, xprep_nibbles, 4,
                                          QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k32_a8 = {"avx2-affine8-32", run32_a8, NULL, 4,
                                         QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k32_e2m1 = {"avx2-e2m1-32", run32_e2m1, xprep_chunk32, 4,
                                           QMM_STREAM_MAX_ROWS};

const qmm_stream_kernel* qmm_avx2_stream_kernel(quant_mode mode, int bits, int group_size,
                                                int64_t K, mlx_dtype x_dtype) {
  (void)x_dtype, (void)K;
  if (group_size % 16 != 0) return NULL;
  /* qmm_stream_variant (bench_qmm's QMM_SWEEP / QMM_PROBE_VARIANTS): bit 2
   * ("shifts") the 16-code kernels for every group size, bit 4 ("two") the
   * bfloat16-table decoder for affine 4-bit, to compare. */
  if (group_size % 32 == 0 && !(qmm_stream_variant & 2)) switch (quant_modes[mode].elem) {
      case QUANT_ELEM_UINT:
        if (bits == 4) return (qmm_stream_variant & 4) ? &k32_a4 : &k32_a4c;
        return bits == 8 ? &k32_a8 : NULL;
      case QUANT_ELEM_E2M1: return &k32_e2m1;
      case QUANT_ELEM_E4M3: return &k_e4m3;
    }
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
