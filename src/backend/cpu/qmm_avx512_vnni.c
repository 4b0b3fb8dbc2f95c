/* qmm_avx512_vnni.c - AVX512_VNNI streaming kernels of the quantized
 * matmul (contract in qmm_kernels.h; shared AVX-512 pieces in
 * qmm_avx512.h). */
#include <stdint.h>
#include <string.h>

#include "backend/cpu/qmm_avx512.h"
#include "backend/cpu/qmm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)

/* ------------------------------------------------------------------------
 * One row of half-precision x (bfloat16, float16) against 4-bit codes
 * (affine, E2M1), K a multiple of 64 (a last line of 64 codes is loaded
 * half, its x padded with zeros): x in 24-bit fixed point and integer
 * dot products with vpdpbusd (AVX512_VNNI), which multiplies 64 unsigned
 * bytes by 64 signed ones and adds them in fours to 16 int32 lanes. The
 * float32 kernels (qmm_avx512.c) spend 22 vector operations per 128 codes and row;
 * these spend 1 (affine) or 3 (E2M1) to decode the line, then per row 6
 * vpdpbusd and 6 to turn the sums into float32 and apply the scales:
 * 1.35-1.55x (affine) and 1.15x (E2M1) the codes per second of the
 * float32 kernels at one row on the device tool's Xeon, ahead at two
 * (1.1x), even or behind from four (qmm_stream_vnni_rows).
 *
 * Lanes: int32 lane l of a 64-byte line sums its bytes 4l .. 4l+3, codes
 * 8l .. 8l+7, so as in the wide kernels a group is a run of lanes.
 * x: for every lane, its 8 values v (below) are scaled by 2^F, F chosen
 * so that the largest magnitude m stays below 2^22, and rounded to
 * integers X = d2 * 65536 + d1 * 256 + d0, three signed digits in [-128,
 * 127] (the three digit planes are the signed operands). A value is exact
 * when it lies within 2^15 of m for bfloat16 (2^12 for float16; 2^11 and
 * 2^8 for affine's combined values); otherwise it is rounded to within
 * 2^-22 m, the size of float32's own rounding of a sum of such terms. The
 * lane's factor 2^-F is applied with the scales. (F is capped at 126:
 * lanes whose m is below 2^-104 keep fewer bits.) Non-finite x never gets
 * here: the driver takes the float32 kernels for it.
 * - affine: byte c of codes 2j (low nibble lo) and 2j+1 (high nibble hi)
 *   has x[2j] lo + x[2j+1] hi = P c + Q lo with P = x[2j+1] / 16 and
 *   Q = x[2j] - P: the line itself and its low nibbles (one vpandd) are
 *   the unsigned operands, P and Q the lane values. P's rounding meets
 *   bytes up to 255 where x[2j+1] would meet codes up to 15, so this form
 *   keeps 4 bits fewer than the nibble form (qmm_stream_variant bit 8:
 *   both nibbles as operands, x[2j] and x[2j+1] the values, 2 more
 *   operations per line, 1.2-1.4x slower).
 * - E2M1: vpermb maps each nibble to 2e + 12 (0 .. 24, unsigned; the
 *   index reads 6 bits, the table repeats every 16), low nibbles as they
 *   are, high nibbles after one vpsrlw; x[2j] and x[2j+1] the lane values.
 *   The accumulators start at -12 times the sum of the lane's digits (the
 *   offset, exactly), and the lane factor carries the 1/2.
 * Per lane the sums stay below 2^18, so d1's sum shifted by 8 plus d0's
 * fits int32: two conversions and one FMA give the lane's value.
 * ---------------------------------------------------------------------- */

#define VNNI_TARGET AVX512_TARGET ",avx512vnni,avx512vbmi"
#define VNNI_FN __attribute__((target(VNNI_TARGET)))
#define VNNI_INLINE static inline __attribute__((always_inline, target(VNNI_TARGET)))

/* The prepared x of 128 codes (one 64-byte line of a weight row). */
typedef struct vnni_chunk {
  int8_t dig[3][2][64]; /* digit plane t (weight 256^t), operand set */
  float xf[16];         /* lane factor 2^-F (E2M1: 2^-F / 2) */
  int32_t init[3][16];  /* E2M1: -12 x the lane's digits of plane t */
} vnni_chunk;

#define VNNI_ELEM_BYTES 5 /* sizeof(vnni_chunk) / 128, the driver's x_elem_size */
_Static_assert(sizeof(vnni_chunk) == 128 * VNNI_ELEM_BYTES, "vnni_chunk layout");

VNNI_INLINE void vnni_store_digits(vnni_chunk* o, int set, int v, __m512i X) {
  __m512i X1 =
      _mm512_srai_epi32(_mm512_sub_epi32(X, _mm512_srai_epi32(_mm512_slli_epi32(X, 24), 24)), 8);
  __m512i X2 =
      _mm512_srai_epi32(_mm512_sub_epi32(X1, _mm512_srai_epi32(_mm512_slli_epi32(X1, 24), 24)), 8);
  _mm_storeu_si128((__m128i*)(o->dig[0][set] + 16 * v), _mm512_cvtepi32_epi8(X));
  _mm_storeu_si128((__m128i*)(o->dig[1][set] + 16 * v), _mm512_cvtepi32_epi8(X1));
  _mm_storeu_si128((__m128i*)(o->dig[2][set] + 16 * v), _mm512_cvtepi32_epi8(X2));
}

/* The three forms: affine through the whole byte (P, Q above), affine
 * through both nibbles (like E2M1: 2 more operations per line, values
 * exact to 2^15 instead of 2^11), E2M1. */
typedef enum vnni_kind { VK_A4_BYTE, VK_A4_NIBBLES, VK_E2M1 } vnni_kind;

VNNI_INLINE void xprep_vnni(void* dst, const float* src, int K, const vnni_kind VK) {
  const bool E2M1 = VK == VK_E2M1, byte = VK == VK_A4_BYTE;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
  float tail[128]; /* a last chunk of 64 codes, padded with zeros */
  for (int c = 0; c < (K + 127) / 128; c++) {
    vnni_chunk* o = (vnni_chunk*)dst + c;
    const float* x = src + 128 * c;
    if (128 * c + 128 > K) {
      memset(tail, 0, sizeof tail);
      memcpy(tail, x, sizeof(float) * (size_t)(K - 128 * c));
      x = tail;
    }
    for (int v = 0; v < 4; v++) { /* bytes j = 16v .. 16v+15: lanes 4v .. 4v+3 */
      __m512 lo = _mm512_loadu_ps(x + 32 * v), hi = _mm512_loadu_ps(x + 32 * v + 16);
      __m512 xe = _mm512_permutex2var_ps(lo, even, hi); /* x[2j] */
      __m512 xo = _mm512_permutex2var_ps(lo, odd, hi);  /* x[2j+1] */
      __m512 A = byte ? _mm512_mul_ps(xo, _mm512_set1_ps(1.0f / 16)) : xe;
      __m512 B = byte ? _mm512_sub_ps(xe, A) : xo;
      /* the lane's largest magnitude (finite floats order as their bits) */
      __m512i m = _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(A), magnitude),
                                   _mm512_and_si512(_mm512_castps_si512(B), magnitude));
      m = _mm512_max_epu32(m, _mm512_shuffle_epi32(m, (_MM_PERM_ENUM)0xB1));
      m = _mm512_max_epu32(m, _mm512_shuffle_epi32(m, (_MM_PERM_ENUM)0x4E));
      /* m < 2^(E - 126) for its biased exponent E: F = 22 - (E - 126) */
      __m512i F =
          _mm512_min_epi32(_mm512_sub_epi32(_mm512_set1_epi32(148), _mm512_srli_epi32(m, 23)),
                           _mm512_set1_epi32(126));
      __m512 up =
          _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(F, _mm512_set1_epi32(127)), 23));
      vnni_store_digits(o, 0, v, _mm512_cvtps_epi32(_mm512_mul_ps(A, up)));
      vnni_store_digits(o, 1, v, _mm512_cvtps_epi32(_mm512_mul_ps(B, up)));
      __m512 down =
          _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(127), F), 23));
      if (E2M1) down = _mm512_mul_ps(down, _mm512_set1_ps(0.5f));
      _mm_storeu_ps(o->xf + 4 * v, _mm512_castps512_ps128(_mm512_maskz_compress_ps(0x1111, down)));
    }
    const __m512i ones = _mm512_set1_epi8(1);
    for (int t = 0; t < 3; t++) {
      __m512i sum = _mm512_setzero_si512();
      if (E2M1) {
        sum = _mm512_dpbusd_epi32(sum, ones, _mm512_loadu_si512(o->dig[t][0]));
        sum = _mm512_dpbusd_epi32(sum, ones, _mm512_loadu_si512(o->dig[t][1]));
        sum = _mm512_mullo_epi32(sum, _mm512_set1_epi32(-12));
      }
      _mm512_storeu_si512(o->init[t], sum);
    }
  }
}

VNNI_FN static void xprep_vnni_a4(void* dst, const float* src, int K, int group_size) {
  (void)group_size;
  xprep_vnni(dst, src, K, VK_A4_BYTE);
}
VNNI_FN static void xprep_vnni_a4n(void* dst, const float* src, int K, int group_size) {
  (void)group_size;
  xprep_vnni(dst, src, K, VK_A4_NIBBLES);
}
VNNI_FN static void xprep_vnni_e2m1(void* dst, const float* src, int K, int group_size) {
  (void)group_size;
  xprep_vnni(dst, src, K, VK_E2M1);
}

/* Weight rows j0 .. j1-1, chunks c0 .. c1-1 (128 codes each), rows r0 ..
 * r0+RB-1 of x, into tots[(j - j0) * RB + r] (the wide kernels' scheme). */
VNNI_INLINE void vnni_pass(const qmm_stream_args* a, int r0, const int RB, const vnni_kind VK,
                           int j0, int j1, int64_t c0, int64_t c1, __m512* tots) {
  const bool E2M1 = VK == VK_E2M1;
  const qmm_matrix* w = a->w;
  const int gs = w->group_size;
  const int64_t G = w->cols / gs;
  const int64_t pf = r0 == 0 ? qmm_stream_prefetch_bytes : 0;
  const wide_geom geo = wide_geometry(gs);
  const __m512i group_idx = wide_group_index(gs);
  int8_t tab[64];
  for (int i = 0; i < 64; i++) tab[i] = (int8_t)(2.0f * quant_e2m1_values[i & 15] + 12.0f);
  const __m512i table = _mm512_loadu_si512(tab);
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const __m512 c65536 = _mm512_set1_ps(65536.0f);
  const int64_t row_chunks = a->ldx / 128;
  const int64_t full = w->cols / 128; /* chunk `full`, if any, holds 64 codes */
  const __mmask16 tail_smask = (__mmask16)((1u << (gs < 64 ? 64 / gs : 1)) - 1u);
  const vnni_chunk* x = (const vnni_chunk*)a->x + r0 * row_chunks;
  for (int j = j0; j < j1; j++) {
    const uint8_t* p = (const uint8_t*)(w->w + (int64_t)(a->n0 + j) * w->w_ld) + c0 * 64;
    const float* srow = a->s + j * G;
    __m512 tot[4];
    UNROLL
    for (int r = 0; r < RB; r++) tot[r] = tots[(j - j0) * RB + r];
    for (int64_t c = c0; c < c1; c++, p += 64) {
      _mm_prefetch((const char*)p + pf, _MM_HINT_T0);
      __m512i v = c < full ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(0xffffffffull, p);
      __m512i o0, o1;
      if (VK == VK_E2M1) {
        o0 = _mm512_permutexvar_epi8(v, table);
        o1 = _mm512_permutexvar_epi8(_mm512_srli_epi16(v, 4), table);
      } else if (VK == VK_A4_NIBBLES) {
        o0 = _mm512_and_si512(v, low4);
        o1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      } else {
        o0 = v;
        o1 = _mm512_and_si512(v, low4);
      }
      __m512 sv = geo.gpc == 1
                      ? _mm512_set1_ps(srow[c * 128 / gs])
                      : _mm512_permutexvar_ps(
                            group_idx, _mm512_maskz_loadu_ps(c < full ? geo.smask : tail_smask,
                                                             srow + c * geo.gpc));
      UNROLL
      for (int r = 0; r < RB; r++) {
        const vnni_chunk* xc = x + r * row_chunks + c;
        __m512i s[3];
        UNROLL
        for (int t = 0; t < 3; t++) {
          s[t] = E2M1 ? _mm512_load_si512(xc->init[t]) : _mm512_setzero_si512();
          s[t] = _mm512_dpbusd_epi32(s[t], o0, _mm512_load_si512(xc->dig[t][0]));
          s[t] = _mm512_dpbusd_epi32(s[t], o1, _mm512_load_si512(xc->dig[t][1]));
        }
        __m512i low = _mm512_add_epi32(_mm512_slli_epi32(s[1], 8), s[0]);
        __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[2]), c65536, _mm512_cvtepi32_ps(low));
        tot[r] = _mm512_fmadd_ps(_mm512_mul_ps(sv, _mm512_load_ps(xc->xf)), f, tot[r]);
      }
    }
    UNROLL
    for (int r = 0; r < RB; r++) tots[(j - j0) * RB + r] = tot[r];
  }
}

/* x's chunks of a pass stay below this many bytes (L1, with the weights
 * streaming past). */
#define VNNI_X_BYTES 24576

VNNI_INLINE void vnni_rows(const qmm_stream_args* a, int r0, const int RB, const vnni_kind VK) {
  const int64_t chunks = (a->w->cols + 127) / 128;
  int64_t cb = VNNI_X_BYTES / (RB * (int64_t)sizeof(vnni_chunk));
  if (cb < 1) cb = 1;
  __m512 tots[WIDE_JB * 4];
  for (int j0 = 0; j0 < a->nb; j0 += WIDE_JB) {
    int j1 = a->nb - j0 < WIDE_JB ? a->nb : j0 + WIDE_JB;
    for (int i = 0; i < (j1 - j0) * RB; i++) tots[i] = _mm512_setzero_ps();
    for (int64_t c0 = 0; c0 < chunks; c0 += cb)
      vnni_pass(a, r0, RB, VK, j0, j1, c0, chunks - c0 < cb ? chunks : c0 + cb, tots);
    wide_finish(a, r0, RB, VK != VK_E2M1, j0, j1, tots);
  }
}

VNNI_INLINE void vnni_all(const qmm_stream_args* a, const vnni_kind VK) {
  int r = 0;
  for (; r + 4 <= a->rows; r += 4) vnni_rows(a, r, 4, VK);
  switch (a->rows - r) {
    case 3: vnni_rows(a, r, 3, VK); break;
    case 2: vnni_rows(a, r, 2, VK); break;
    case 1: vnni_rows(a, r, 1, VK); break;
    default: break;
  }
}

VNNI_FN static void run_vnni_a4(const qmm_stream_args* a) { vnni_all(a, VK_A4_BYTE); }
VNNI_FN static void run_vnni_a4n(const qmm_stream_args* a) { vnni_all(a, VK_A4_NIBBLES); }
VNNI_FN static void run_vnni_e2m1(const qmm_stream_args* a) { vnni_all(a, VK_E2M1); }

static const qmm_stream_kernel k_vnni_a4 = {"avx512vnni-affine4-w128", run_vnni_a4, xprep_vnni_a4,
                                            VNNI_ELEM_BYTES, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_vnni_a4n = {"avx512vnni-affine4n-w128", run_vnni_a4n,
                                             xprep_vnni_a4n, VNNI_ELEM_BYTES, QMM_STREAM_MAX_ROWS};
static const qmm_stream_kernel k_vnni_e2m1 = {
    "avx512vnni-e2m1-w128", run_vnni_e2m1, xprep_vnni_e2m1, VNNI_ELEM_BYTES, QMM_STREAM_MAX_ROWS};

const qmm_stream_kernel* qmm_avx512_vnni_stream_kernel(quant_mode mode, int bits, int group_size,
                                                       int64_t K, mlx_dtype x_dtype) {
  quant_elem e = quant_modes[mode].elem;
  bool nibbles = (e == QUANT_ELEM_UINT && bits == 4) || e == QUANT_ELEM_E2M1;
  bool groups = group_size == 16 || group_size == 32 || group_size == 64 ||
                (group_size > 0 && group_size % 128 == 0);
  if (!nibbles || !groups || K % 64 != 0 || (x_dtype != MLX_BFLOAT16 && x_dtype != MLX_FLOAT16))
    return NULL;
  if (e == QUANT_ELEM_E2M1) return &k_vnni_e2m1;
  return qmm_stream_variant & 8 ? &k_vnni_a4n : &k_vnni_a4;
}

#else

const qmm_stream_kernel* qmm_avx512_vnni_stream_kernel(quant_mode mode, int bits, int group_size,
                                                       int64_t K, mlx_dtype x_dtype) {
  (void)mode, (void)bits, (void)group_size, (void)K, (void)x_dtype;
  return NULL;
}

#endif
