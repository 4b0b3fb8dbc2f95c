/* qmm_gemm_avx512.c - AVX-512 GEMM kernels of the quantized matmul (many
 * rows of x, transpose = true; contract and packed layouts in qmm_gemm.h).
 *
 * - float32 kernel (float32 and float16 x, and bfloat16 x where vdpbf16ps
 *   is slow): each panel of 32 weight rows is dequantized to float32
 *   (MLX's values: s * q + b, element * scale) 128 codes at a time, 16 rows
 *   x 16 codes per step straight into registers for affine 4/8-bit and
 *   E2M1 (vpermps in a table of 0..15 or the E2M1 values), through
 *   qmm_dequantize_row otherwise, and transposed to [k][32]; a 14 x 32 FMA
 *   microkernel (28 accumulators) broadcasts x[m][k] (bfloat16 x is
 *   widened exactly).
 * - bfloat16 kernel (AVX512_BF16, where vdpbf16ps is about as fast as an
 *   FMA): the panel is decoded to the exact element values as bfloat16
 *   (4-bit codes through a 32-entry vpermw table, 8-bit codes converted,
 *   other formats through qmm_decode_elements), 256 codes at a time, laid
 *   out as pairs of k, [k/2][32]. The 12 x 32 microkernel (24 accumulators)
 *   runs vdpbf16ps over one group at a time, the pair (x[m][k], x[m][k+1])
 *   broadcast: exact products, float32 sums; at the group's end c += s *
 *   acc (+ b * xsum for affine).
 * x is packed per block of rows (qmm_gemm.h), so the microkernel reads it
 * contiguously: rows K elements apart would all fall in one L1 set. A
 * chunk of packed x stays in L2 while the np panels of a call use it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/qmm_gemm.h"
#include "core/half.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define UNROLL _Pragma("GCC unroll 16")

#define AVX512_TARGET "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c"
#define AVX512_FN __attribute__((target(AVX512_TARGET)))
#define AVX512_INLINE static inline __attribute__((always_inline, target(AVX512_TARGET)))
#define BF16_TARGET AVX512_TARGET ",avx512bf16"
#define BF16_FN __attribute__((target(BF16_TARGET)))
#define BF16_INLINE static inline __attribute__((always_inline, target(BF16_TARGET)))

#define NR 32
#define MR_F32 14
#define KC_F32 128
#define MR_BF16 12
#define KC_BF16 256

/* In-register transpose of 16 x 16 32-bit elements: r[i] lane j <- r[j]
 * lane i. */
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

/* ------------------------------------------------------------------------
 * float32 x
 * ---------------------------------------------------------------------- */

/* Scratch: the panels' chunks [KC][32]; the rows [32][KC] of one panel
 * (and its scales) before the transpose; the panels' scales and biases
 * [G][32] (byte decoding) and their rows [32][G] before the transpose. */
static size_t scratch_f32(int64_t K, int group_size) {
  int64_t G = K / group_size;
  return sizeof(float) * (size_t)((QGEMM_MAX_PANELS + 1) * KC_F32 * NR + NR * KC_F32 / 16 +
                                  2 * (QGEMM_MAX_PANELS + 1) * G * NR);
}

static void panel_scales(const qmm_matrix* w, int64_t n0, int cols, int64_t G, float* sp,
                         float* bp, float* srow, float* brow);

/* 16 values of k of the block's rows at a time: rows as vectors (zeros
 * past valid), transposed, each k's MR_F32 values stored under a mask. */
AVX512_FN static void pack_x_f32(void* dst, const float* x, int64_t ldx, int valid, int kcc) {
  float* d = dst;
  for (int k = 0; k < kcc; k += 16) {
    __m512i r[16];
    for (int m = 0; m < 16; m++)
      r[m] = m < valid && m < MR_F32 ? _mm512_loadu_si512(x + m * ldx + k) : _mm512_setzero_si512();
    transpose16(r);
    for (int i = 0; i < 16; i++)
      _mm512_mask_storeu_ps(d + (k + i) * MR_F32, (1u << MR_F32) - 1, _mm512_castsi512_ps(r[i]));
  }
}

/* c = (first ? 0 : c) + the block's products over the chunk. */
AVX512_INLINE void micro_f32(const float* xp, const float* pan, int kcc, bool first, float* c) {
  __m512 acc[MR_F32][2];
  UNROLL
  for (int m = 0; m < MR_F32; m++) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  for (int k = 0; k < kcc; k++) {
    __m512 b0 = _mm512_load_ps(pan + k * NR);
    __m512 b1 = _mm512_load_ps(pan + k * NR + 16);
    UNROLL
    for (int m = 0; m < MR_F32; m++) {
      __m512 a = _mm512_set1_ps(xp[k * MR_F32 + m]);
      acc[m][0] = _mm512_fmadd_ps(a, b0, acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(a, b1, acc[m][1]);
    }
  }
  if (!first) {
    UNROLL
    for (int m = 0; m < MR_F32; m++) {
      acc[m][0] = _mm512_add_ps(acc[m][0], _mm512_loadu_ps(c + m * NR));
      acc[m][1] = _mm512_add_ps(acc[m][1], _mm512_loadu_ps(c + m * NR + 16));
    }
  }
  UNROLL
  for (int m = 0; m < MR_F32; m++) {
    _mm512_storeu_ps(c + m * NR, acc[m][0]);
    _mm512_storeu_ps(c + m * NR + 16, acc[m][1]);
  }
}

/* pan[k][h*16 + j] = rows[(h*16 + j) * ld + k] for k < kcc (a multiple of
 * 16). */
AVX512_INLINE void transpose_panel(uint32_t* pan, const uint32_t* rows, int64_t ld, int kcc) {
  for (int k = 0; k < kcc; k += 16)
    for (int h = 0; h < 2; h++) {
      __m512i r[16];
      for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_si512(rows + (h * 16 + j) * ld + k);
      transpose16(r);
      for (int i = 0; i < 16; i++) _mm512_store_si512(pan + (k + i) * NR + h * 16, r[i]);
    }
}

typedef enum deq_kind { DEQ_A4, DEQ_A8, DEQ_E2M1, DEQ_ANY } deq_kind;

/* 16 dequantized weights, codes c .. c+15 of a row (bytes p), one group:
 * scale s, bias b (affine). */
AVX512_INLINE __m512 deq16(deq_kind kind, const uint8_t* p, int64_t c, __m512 s, __m512 b,
                           __m512 table) {
  __m512 v;
  if (kind == DEQ_A8) {
    v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(p + c))));
  } else {
    /* lanes 0-7: bytes; low nibbles are the even codes, high the odd */
    __m512i d = _mm512_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(p + c / 2)));
    __m512 lo = _mm512_permutexvar_ps(d, table);
    __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(d, 4), table);
    const __m512i inter =
        _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    v = _mm512_permutex2var_ps(lo, inter, hi);
  }
  v = _mm512_mul_ps(v, s);
  return kind == DEQ_E2M1 ? v : _mm512_add_ps(v, b);
}

/* Byte j (0..7) of the 8 bytes at p + off[r] of 16 rows r (off0: rows
 * 0-7, off1: 8-15) into tb + (j & 1) * 64 + (j >> 1) * 16, 16 bytes, one
 * per row: two qword gathers; a byte shuffle within lanes pairs the two
 * rows of a lane byte by byte, a word permutation gathers byte j of rows
 * 0-7 into qword j, and 64-bit unpacks join rows 0-7 and 8-15. */
AVX512_INLINE void byte_columns(const uint8_t* p, __m512i off0, __m512i off1, uint8_t* tb) {
  const __m512i pairs = _mm512_set_epi8(
      15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0, 15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10,
      2, 9, 1, 8, 0, 15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0, 15, 7, 14, 6, 13, 5, 12,
      4, 11, 3, 10, 2, 9, 1, 8, 0);
  /* word q <- word (q & 3) * 8 + (q >> 2) */
  const __m512i cols = _mm512_set_epi16(31, 23, 15, 7, 30, 22, 14, 6, 29, 21, 13, 5, 28, 20, 12,
                                        4, 27, 19, 11, 3, 26, 18, 10, 2, 25, 17, 9, 1, 24, 16, 8,
                                        0);
  __m512i g0 = _mm512_i64gather_epi64(off0, (const void*)p, 1);
  __m512i g1 = _mm512_i64gather_epi64(off1, (const void*)p, 1);
  g0 = _mm512_permutexvar_epi16(cols, _mm512_shuffle_epi8(g0, pairs));
  g1 = _mm512_permutexvar_epi16(cols, _mm512_shuffle_epi8(g1, pairs));
  _mm512_store_si512(tb, _mm512_unpacklo_epi64(g0, g1));
  _mm512_store_si512(tb + 64, _mm512_unpackhi_epi64(g0, g1));
}

/* 16 bytes of byte_columns' output: byte j of the 16 rows, as dwords. */
AVX512_INLINE __m512i byte_column(const uint8_t* tb, int j) {
  return _mm512_cvtepu8_epi32(_mm_load_si128((const __m128i*)(tb + (j & 1) * 64 + (j >> 1) * 16)));
}

/* Affine 4/8-bit or E2M1 codes of panel rows n0 .. n0+31, codes k0 ..
 * k0+kcc-1, into pan[k][32], transposed as bytes before decoding (about a
 * third of the shuffles of decoding rows of 16 floats and transposing
 * them): per 16 rows and 16 codes, byte_columns gives byte j of the 16
 * rows as one vector of dwords, which is code j of every row (8-bit), or
 * codes 2j (low nibbles) and 2j+1 (high; vpermps reads the low 4 bits of
 * an index) of every row. Each decoded vector is thus a row of the panel,
 * scaled by vectors of the 16 rows' scales and biases: st, bt [groups of
 * the chunk][32] (zeros from cols). Rows from cols read row n0 (zero
 * weights with those zero scales). */
AVX512_INLINE void dequant_panel_bytes(deq_kind kind, const qmm_matrix* w, int64_t n0, int cols,
                                       int64_t k0, int kcc, float* pan, const float* st,
                                       const float* bt) {
  const bool affine = kind != DEQ_E2M1;
  const int gs = w->group_size;
  float tab[16];
  for (int i = 0; i < 16; i++) tab[i] = affine ? (float)i : quant_e2m1_values[i];
  const __m512 table = _mm512_loadu_ps(tab);
  const uint8_t* base = (const uint8_t*)w->w;
  const int64_t ld = w->w_ld * (int64_t)sizeof(uint32_t);
  _Alignas(64) uint8_t tb[128];
  for (int h = 0; h < 2; h++) {
    int64_t o[16];
    for (int r = 0; r < 16; r++) o[r] = (n0 + (h * 16 + r < cols ? h * 16 + r : 0)) * ld;
    const __m512i off0 = _mm512_loadu_si512(o), off1 = _mm512_loadu_si512(o + 8);
    float* ph = pan + h * 16;
    for (int k = 0; k < kcc; k += 16) {
      const int g = k / gs;
      const __m512 sv = _mm512_loadu_ps(st + g * NR + h * 16);
      const __m512 bv = _mm512_loadu_ps(bt + g * NR + h * 16);
      if (kind == DEQ_A8) {
        for (int q = 0; q < 2; q++) {
          byte_columns(base + k0 + k + 8 * q, off0, off1, tb);
          UNROLL
          for (int j = 0; j < 8; j++) {
            __m512 v = _mm512_cvtepi32_ps(byte_column(tb, j));
            v = _mm512_add_ps(_mm512_mul_ps(v, sv), bv);
            _mm512_store_ps(ph + (k + 8 * q + j) * NR, v);
          }
        }
        continue;
      }
      byte_columns(base + (k0 + k) / 2, off0, off1, tb);
      UNROLL
      for (int j = 0; j < 8; j++) {
        __m512i d = byte_column(tb, j);
        __m512 lo = _mm512_mul_ps(_mm512_permutexvar_ps(d, table), sv);
        __m512 hi = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(d, 4), table), sv);
        if (affine) {
          lo = _mm512_add_ps(lo, bv);
          hi = _mm512_add_ps(hi, bv);
        }
        _mm512_store_ps(ph + (k + 2 * j) * NR, lo);
        _mm512_store_ps(ph + (k + 2 * j + 1) * NR, hi);
      }
    }
  }
}

/* Panel rows n0 .. n0+31 (zeros from cols), codes k0 .. k0+kcc-1,
 * dequantized into pan[k][32]. rows: scratch of 32 x KC_F32 floats (and
 * 32 x KC_F32/16 scales, biases after it). */
AVX512_INLINE void dequant_panel(deq_kind kind, const qmm_matrix* w, int64_t n0, int cols,
                                 int64_t k0, int kcc, float* pan, float* rows) {
  if (kind == DEQ_ANY) {
    for (int r = 0; r < NR; r++) {
      if (r < cols) qmm_dequantize_row(w, n0 + r, k0, kcc, rows + r * KC_F32);
      else memset(rows + r * KC_F32, 0, sizeof(float) * (size_t)kcc);
    }
    transpose_panel((uint32_t*)pan, (const uint32_t*)rows, KC_F32, kcc);
    return;
  }
  const int gs = w->group_size, ng = kcc / gs;
  float* s = rows;          /* [32][KC_F32 / 16] */
  float* b = s + NR * (KC_F32 / 16);
  for (int r = 0; r < cols; r++)
    qmm_load_scales(w, n0 + r, k0 / gs, ng, s + r * (KC_F32 / 16),
                    kind == DEQ_E2M1 ? NULL : b + r * (KC_F32 / 16));
  float tab[16];
  for (int i = 0; i < 16; i++) tab[i] = kind == DEQ_E2M1 ? quant_e2m1_values[i] : (float)i;
  const __m512 table = _mm512_loadu_ps(tab);
  for (int h = 0; h < 2; h++)
    for (int k = 0; k < kcc; k += 16) {
      __m512i v[16];
      int g = k / gs;
      for (int r = 0; r < 16; r++) {
        int row = h * 16 + r;
        if (row < cols) {
          const uint8_t* p = (const uint8_t*)(w->w + (n0 + row) * w->w_ld);
          __m512 sv = _mm512_set1_ps(s[row * (KC_F32 / 16) + g]);
          __m512 bv = kind == DEQ_E2M1 ? sv : _mm512_set1_ps(b[row * (KC_F32 / 16) + g]);
          v[r] = _mm512_castps_si512(deq16(kind, p, k0 + k, sv, bv, table));
        } else {
          v[r] = _mm512_setzero_si512();
        }
      }
      transpose16(v);
      for (int i = 0; i < 16; i++) _mm512_store_si512(pan + (k + i) * NR + h * 16, v[i]);
    }
}

AVX512_INLINE void panels_f32(deq_kind kind, const qgemm_job* j, int64_t n0, int np, float* c,
                              void* scratch) {
  const qmm_matrix* w = j->w;
  int64_t K = j->K, cst = (int64_t)j->rows * NR;
  const int gs = w->group_size;
  const int64_t G = K / gs;
  float* pans = scratch;
  float* rows = pans + QGEMM_MAX_PANELS * KC_F32 * NR;
  float* sps = rows + KC_F32 * NR + NR * KC_F32 / 16; /* [np][G][32] */
  float* bps = sps + QGEMM_MAX_PANELS * G * NR;
  float* srow = bps + QGEMM_MAX_PANELS * G * NR;      /* [32][G] */
  float* brow = srow + G * NR;
  const bool bytes = kind != DEQ_ANY && qgemm_byte_decode;
  const int prof = qgemm_profile;
  int cols[QGEMM_MAX_PANELS];
  for (int p = 0; p < np; p++) {
    int64_t left = w->rows - (n0 + p * NR);
    cols[p] = (int)(left < 0 ? 0 : left < NR ? left : NR);
    if (bytes)
      panel_scales(w, n0 + p * NR, cols[p], G, sps + p * G * NR, bps + p * G * NR, srow, brow);
  }
  for (int64_t k0 = 0; k0 < K; k0 += KC_F32) {
    int kcc = (int)(K - k0 < KC_F32 ? K - k0 : KC_F32);
    for (int p = 0; p < np && (k0 == 0 || !(prof & 1)); p++) {
      float* pan = pans + p * KC_F32 * NR;
      if (bytes && cols[p] > 0)
        dequant_panel_bytes(kind, w, n0 + p * NR, cols[p], k0, kcc, pan,
                            sps + (p * G + k0 / gs) * NR, bps + (p * G + k0 / gs) * NR);
      else
        dequant_panel(kind, w, n0 + p * NR, cols[p], k0, kcc, pan, rows);
    }
    const float* xb = (const float*)j->xp + (int64_t)j->rows * k0;
    for (int p = 0; p < np && !(prof & 2); p++)
      for (int m0 = 0; m0 < j->rows; m0 += MR_F32)
        micro_f32(xb + (int64_t)m0 * kcc, pans + p * KC_F32 * NR, kcc, k0 == 0,
                  c + p * cst + m0 * NR);
  }
}

AVX512_FN static void panels_f32_a4(const qgemm_job* j, int64_t n0, int np, float* c, void* s) {
  panels_f32(DEQ_A4, j, n0, np, c, s);
}
AVX512_FN static void panels_f32_a8(const qgemm_job* j, int64_t n0, int np, float* c, void* s) {
  panels_f32(DEQ_A8, j, n0, np, c, s);
}
AVX512_FN static void panels_f32_e2m1(const qgemm_job* j, int64_t n0, int np, float* c, void* s) {
  panels_f32(DEQ_E2M1, j, n0, np, c, s);
}
AVX512_FN static void panels_f32_any(const qgemm_job* j, int64_t n0, int np, float* c, void* s) {
  panels_f32(DEQ_ANY, j, n0, np, c, s);
}

static const qgemm_kernel k_f32_a4 = {"avx512-gemm-f32-affine4", NR, MR_F32, KC_F32, 4, false,
                                      scratch_f32, pack_x_f32, panels_f32_a4};
static const qgemm_kernel k_f32_a8 = {"avx512-gemm-f32-affine8", NR, MR_F32, KC_F32, 4, false,
                                      scratch_f32, pack_x_f32, panels_f32_a8};
static const qgemm_kernel k_f32_e2m1 = {"avx512-gemm-f32-e2m1", NR, MR_F32, KC_F32, 4, false,
                                        scratch_f32, pack_x_f32, panels_f32_e2m1};
static const qgemm_kernel k_f32 = {"avx512-gemm-f32", NR, MR_F32, KC_F32, 4, false,
                                   scratch_f32, pack_x_f32, panels_f32_any};


/* ------------------------------------------------------------------------
 * bfloat16 x: element values as bfloat16, vdpbf16ps, scales per group
 * ---------------------------------------------------------------------- */

typedef enum dec_kind { DEC_NIBBLE, DEC_BYTE, DEC_ANY } dec_kind;

/* Scratch: per panel its chunk [KC/2][32] of pairs and its scales and
 * biases [G][32]; then the rows [32][G] of one panel's scales and biases
 * before the transpose, and 16 rows of KC decoded floats (DEC_ANY). */
static size_t scratch_bf16(int64_t K, int group_size) {
  int64_t G = K / group_size;
  return QGEMM_MAX_PANELS * (sizeof(uint32_t) * (KC_BF16 / 2 * NR) +
                             sizeof(float) * (size_t)(2 * G * NR)) +
         sizeof(float) * (size_t)(2 * G * NR + 16 * KC_BF16) + 256;
}

static void pack_x_bf16(void* dst, const float* x, int64_t ldx, int valid, int kcc) {
  qgemm_pack_bf16_pairs(dst, x, ldx, valid, kcc, MR_BF16);
}

/* 32 codes (c0 .. c0+31 of row p) as 16 pairs of bfloat16 element values. */
BF16_INLINE __m512i decode32(dec_kind kind, const uint8_t* p, int64_t c0, __m512i table,
                             const float* any) {
  if (kind == DEC_NIBBLE) {
    /* dword i = byte i; word 2i = byte i (vpermw reads 5 bits: the table
     * repeats every 16), word 2i+1 = byte i >> 4 */
    __m512i d = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(p + c0 / 2)));
    __m512i idx = _mm512_or_si512(d, _mm512_slli_epi32(d, 12));
    return _mm512_permutexvar_epi16(idx, table);
  }
  __m512 lo, hi;
  if (kind == DEC_BYTE) {
    lo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(p + c0))));
    hi = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(p + c0 + 16))));
  } else {
    lo = _mm512_loadu_ps(any);
    hi = _mm512_loadu_ps(any + 16);
  }
  __m256i l = (__m256i)_mm512_cvtneps_pbh(lo), h = (__m256i)_mm512_cvtneps_pbh(hi);
  return _mm512_inserti64x4(_mm512_castsi256_si512(l), h, 1);
}

/* Rows n0 .. n0+31 (zeros from `cols`), codes k0 .. k0+kcc-1, into the
 * panel [kcc/2][32] of pairs. */
BF16_INLINE void decode_panel(dec_kind kind, const qmm_matrix* w, int64_t n0, int cols, int64_t k0,
                              int kcc, uint32_t* pan, float* any, __m512i table) {
  for (int h = 0; h < 2; h++) {
    if (kind == DEC_ANY)
      for (int r = 0; r < 16 && h * 16 + r < cols; r++)
        qmm_decode_elements(w->mode, w->bits, w->w + (n0 + h * 16 + r) * w->w_ld, k0, kcc,
                            any + r * KC_BF16);
    for (int k = 0; k < kcc; k += 32) {
      __m512i v[16];
      for (int r = 0; r < 16; r++) {
        int row = h * 16 + r;
        v[r] = row < cols ? decode32(kind, (const uint8_t*)(w->w + (n0 + row) * w->w_ld), k0 + k,
                                     table, any + r * KC_BF16 + k)
                          : _mm512_setzero_si512();
      }
      transpose16(v);
      for (int i = 0; i < 16; i++) _mm512_store_si512(pan + (k / 2 + i) * NR + h * 16, v[i]);
    }
  }
}

/* c[m][*] += sum over the chunk's groups of s_g * (x_g . e_g) (+ b_g *
 * xsum_g). xp: the block's pairs [kcc/2][MR]; sp, bp: [groups][32]; xs:
 * [groups][MR]. */
BF16_INLINE void micro_bf16(const uint32_t* xp, const uint32_t* pan, int kcc, int gs,
                            const float* sp, const float* bp, const float* xs, bool first,
                            float* c) {
  for (int g = 0; g < kcc / gs; g++) {
    const bool zero = first && g == 0; /* c holds nothing yet */
    __m512 acc[MR_BF16][2];
    UNROLL
    for (int m = 0; m < MR_BF16; m++) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
    for (int kp = g * gs / 2; kp < (g + 1) * gs / 2; kp++) {
      __m512bh b0 = (__m512bh)_mm512_load_si512(pan + kp * NR);
      __m512bh b1 = (__m512bh)_mm512_load_si512(pan + kp * NR + 16);
      UNROLL
      for (int m = 0; m < MR_BF16; m++) {
        __m512bh a = (__m512bh)_mm512_set1_epi32((int)xp[kp * MR_BF16 + m]);
        acc[m][0] = _mm512_dpbf16_ps(acc[m][0], a, b0);
        acc[m][1] = _mm512_dpbf16_ps(acc[m][1], a, b1);
      }
    }
    __m512 s0 = _mm512_loadu_ps(sp + g * NR), s1 = _mm512_loadu_ps(sp + g * NR + 16);
    if (bp) {
      __m512 e0 = _mm512_loadu_ps(bp + g * NR), e1 = _mm512_loadu_ps(bp + g * NR + 16);
      UNROLL
      for (int m = 0; m < MR_BF16; m++) {
        __m512 xsm = _mm512_set1_ps(xs[g * MR_BF16 + m]);
        __m512 c0 = _mm512_fmadd_ps(
            acc[m][0], s0, zero ? _mm512_setzero_ps() : _mm512_loadu_ps(c + m * NR));
        __m512 c1 = _mm512_fmadd_ps(
            acc[m][1], s1, zero ? _mm512_setzero_ps() : _mm512_loadu_ps(c + m * NR + 16));
        _mm512_storeu_ps(c + m * NR, _mm512_fmadd_ps(e0, xsm, c0));
        _mm512_storeu_ps(c + m * NR + 16, _mm512_fmadd_ps(e1, xsm, c1));
      }
    } else {
      UNROLL
      for (int m = 0; m < MR_BF16; m++) {
        __m512 c0 = zero ? _mm512_setzero_ps() : _mm512_loadu_ps(c + m * NR);
        __m512 c1 = zero ? _mm512_setzero_ps() : _mm512_loadu_ps(c + m * NR + 16);
        _mm512_storeu_ps(c + m * NR, _mm512_fmadd_ps(acc[m][0], s0, c0));
        _mm512_storeu_ps(c + m * NR + 16, _mm512_fmadd_ps(acc[m][1], s1, c1));
      }
    }
  }
}

/* The scales (and biases) of panel rows n0 .. n0+31 as [G][32], zeros
 * from cols. */
static void panel_scales(const qmm_matrix* w, int64_t n0, int cols, int64_t G, float* sp,
                         float* bp, float* srow, float* brow) {
  bool affine = w->mode == QUANT_AFFINE;
  for (int r = 0; r < cols; r++)
    qmm_load_scales(w, n0 + r, 0, G, srow + r * G, affine ? brow + r * G : NULL);
  for (int64_t g = 0; g < G; g++)
    for (int r = 0; r < NR; r++) {
      sp[g * NR + r] = r < cols ? srow[r * G + g] : 0.0f;
      bp[g * NR + r] = r < cols && affine ? brow[r * G + g] : 0.0f;
    }
}

BF16_INLINE void panels_bf16(dec_kind kind, const qgemm_job* j, int64_t n0, int np, float* c,
                             void* scratch) {
  const qmm_matrix* w = j->w;
  const int64_t K = j->K, cst = (int64_t)j->rows * NR;
  const int gs = w->group_size;
  const int64_t G = K / gs;
  const bool affine = w->mode == QUANT_AFFINE;
  uint32_t* pans = scratch;
  float* sps = (float*)(pans + QGEMM_MAX_PANELS * (KC_BF16 / 2 * NR));
  float* bps = sps + QGEMM_MAX_PANELS * G * NR;
  float* srow = bps + QGEMM_MAX_PANELS * G * NR;
  float* brow = srow + G * NR;
  float* any = brow + G * NR;
  uint16_t tab[32];
  for (int i = 0; i < 32; i++)
    tab[i] = f32_to_bf16(affine ? (float)(i & 15) : quant_e2m1_values[i & 15]);
  const __m512i table = _mm512_loadu_si512(tab);
  int cols[QGEMM_MAX_PANELS];
  for (int p = 0; p < np; p++) {
    int64_t left = w->rows - (n0 + p * NR);
    cols[p] = (int)(left < 0 ? 0 : left < NR ? left : NR);
    panel_scales(w, n0 + p * NR, cols[p], G, sps + p * G * NR, bps + p * G * NR, srow, brow);
  }
  const int prof = qgemm_profile;
  for (int64_t k0 = 0; k0 < K; k0 += KC_BF16) {
    int kcc = (int)(K - k0 < KC_BF16 ? K - k0 : KC_BF16);
    for (int p = 0; p < np && (k0 == 0 || !(prof & 1)); p++)
      decode_panel(kind, w, n0 + p * NR, cols[p], k0, kcc, pans + p * (KC_BF16 / 2 * NR), any,
                   table);
    const uint32_t* xb = (const uint32_t*)j->xp + (int64_t)j->rows * k0 / 2;
    int64_t g0 = k0 / gs;
    for (int p = 0; p < np && !(prof & 2); p++)
      for (int m0 = 0; m0 < j->rows; m0 += MR_BF16)
        micro_bf16(xb + (int64_t)m0 * kcc / 2, pans + p * (KC_BF16 / 2 * NR), kcc, gs,
                   sps + (p * G + g0) * NR, affine ? bps + (p * G + g0) * NR : NULL,
                   affine ? j->xsum + (int64_t)m0 * G + g0 * MR_BF16 : NULL, k0 == 0,
                   c + p * cst + (int64_t)m0 * NR);
  }
}

BF16_FN static void panels_bf16_nibble(const qgemm_job* j, int64_t n0, int np, float* c,
                                       void* s) {
  panels_bf16(DEC_NIBBLE, j, n0, np, c, s);
}
BF16_FN static void panels_bf16_byte(const qgemm_job* j, int64_t n0, int np, float* c, void* s) {
  panels_bf16(DEC_BYTE, j, n0, np, c, s);
}
BF16_FN static void panels_bf16_any(const qgemm_job* j, int64_t n0, int np, float* c, void* s) {
  panels_bf16(DEC_ANY, j, n0, np, c, s);
}

static const qgemm_kernel k_bf16_nibble = {"avx512bf16-gemm-nibble", NR, MR_BF16, KC_BF16, 2,
                                           true, scratch_bf16, pack_x_bf16, panels_bf16_nibble};
static const qgemm_kernel k_bf16_byte = {"avx512bf16-gemm-byte", NR, MR_BF16, KC_BF16, 2,
                                         true, scratch_bf16, pack_x_bf16, panels_bf16_byte};
static const qgemm_kernel k_bf16_any = {"avx512bf16-gemm", NR, MR_BF16, KC_BF16, 2,
                                        true, scratch_bf16, pack_x_bf16, panels_bf16_any};

/* ------------------------------------------------------------------------
 * Choice
 * ---------------------------------------------------------------------- */

#define PROBE_ITERS 2048

static double probe_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The body of a probe: seconds of 16 independent chains (registers, fully
 * unrolled) of PROBE_ITERS `op`s (vdpbf16ps or FMA) on operands of type T
 * made from `one`. */
#define PROBE_BODY(T, one, op)                                   \
  __m512 acc[16];                                                \
  T a = (one), b = a;                                            \
  for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();     \
  double t0 = probe_now();                                       \
  for (int it = 0; it < PROBE_ITERS; it++) {                     \
    UNROLL                                                       \
    for (int i = 0; i < 16; i++) acc[i] = op(acc[i], a, b);      \
    __asm__ volatile("" : "+v"(a));                              \
  }                                                              \
  double t = probe_now() - t0;                                   \
  __m512 s = acc[0];                                             \
  UNROLL                                                         \
  for (int i = 1; i < 16; i++) s = _mm512_add_ps(s, acc[i]);     \
  volatile float sink = _mm512_reduce_add_ps(s);                 \
  (void)sink;                                                    \
  return t;

BF16_FN static double probe_dpbf16(void) {
  PROBE_BODY(__m512bh, (__m512bh)_mm512_set1_epi32(0x3f803f80), _mm512_dpbf16_ps)
}

AVX512_FN static double probe_fma(void) {
  PROBE_BODY(__m512, _mm512_set1_ps(1.0f), _mm512_fmadd_ps)
}

static _Atomic int bf16_policy = -1;
static _Atomic int bf16_fast = -1; /* the probe's verdict, -1: not yet run */

void qgemm_set_bf16_policy(int policy) {
  bf16_policy = policy;
}

/* Whether vdpbf16ps (2 products per lane) beats the float32 kernel: it
 * must retire at least 0.8 as often as an FMA (the best of 5 timings of
 * each, a few microseconds). */
static bool use_dpbf16(void) {
  int p = bf16_policy;
  if (p >= 0) return p != 0;
  int v = bf16_fast;
  if (v < 0) {
    double tb = 1e9, tf = 1e9;
    for (int r = 0; r < 5; r++) {
      double b = probe_dpbf16(), f = probe_fma();
      tb = b < tb ? b : tb;
      tf = f < tf ? f : tf;
    }
    v = tb <= 1.25 * tf;
    bf16_fast = v;
  }
  return v != 0;
}

const qgemm_kernel* qgemm_avx512_kernel(const qmm_matrix* w, mlx_dtype x_dtype, bool bf16) {
  quant_elem e = quant_modes[w->mode].elem;
  bool nibble = w->bits == 4 && (e == QUANT_ELEM_UINT || e == QUANT_ELEM_E2M1);
  bool byte = w->bits == 8 && e == QUANT_ELEM_UINT;
  if (bf16 && x_dtype == MLX_BFLOAT16 && use_dpbf16())
    return nibble ? &k_bf16_nibble : byte ? &k_bf16_byte : &k_bf16_any;
  if (nibble && w->group_size >= 16) return e == QUANT_ELEM_E2M1 ? &k_f32_e2m1 : &k_f32_a4;
  if (byte) return &k_f32_a8;
  return &k_f32;
}

#else

const qgemm_kernel* qgemm_avx512_kernel(const qmm_matrix* w, mlx_dtype x_dtype, bool bf16) {
  (void)w, (void)x_dtype, (void)bf16;
  return NULL;
}

void qgemm_set_bf16_policy(int policy) {
  (void)policy;
}

#endif
