/* qmm_gemm_amx.c - the GEMM path of the quantized matmul on AMX tiles
 * (Intel Sapphire Rapids and later; contract in qmm_gemm.h).
 *
 * For bfloat16 x and weights whose MLX dequantization is computed in
 * bfloat16 (affine with bfloat16 scales and biases: T(q) * scale rounded
 * to bfloat16, plus bias rounded again; the fp modes, whose element times
 * scale is exact in bfloat16), the weights are dequantized to exactly
 * MLX's bfloat16 values and multiplied by x on the tile unit: tdpbf16ps
 * multiplies 16 x 32 by 32 x 16 bfloat16 with exact products and float32
 * sums, about 16 times the float32 FMA rate of the same core. Anything
 * else keeps the AVX-512 kernels.
 *
 * Tiles (all 16 rows of 64 bytes): A = 16 weight rows x 32 codes of k
 * (the decoded panel, row-major), B = 16 pairs of k x 16 rows of x (the
 * packed bfloat16 pairs of qmm_gemm.h), so C = W x^T: C[j][m] is weight
 * row j against x row m. Each 16 x 16 block of sums is kept transposed in
 * the driver's buffer while K runs (loaded, accumulated and stored back
 * per K-chunk) and turned around once after the last chunk. Two panels
 * and two blocks of rows at a time: 4 sums tiles, 2 A, 2 B.
 *
 * AMX denormals: the tile unit treats bfloat16 denormals (below 2^-126)
 * as zeros. */
#include <stdint.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/qmm_gemm.h"
#include "backend/cpu/qmm_kernels.h"
#include "core/half.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)

#include <immintrin.h>

#define AMX_TARGET "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c,amx-tile,amx-bf16"
#define AMX_FN __attribute__((target(AMX_TARGET)))
#define AMX_INLINE static inline __attribute__((always_inline, target(AMX_TARGET)))

#define NR 16  /* weight rows per panel */
#define MR 16  /* rows of x per block */
#define KC 256 /* codes of k per chunk */

/* The tile configuration: palette 1, every tile 16 rows of 64 bytes. */
typedef struct amx_config {
  uint8_t palette, start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} amx_config;

/* Scratch: the decoded chunk of every panel ([NR][KC] bfloat16), then one
 * row's element values, scales and biases as float32. */
static size_t scratch_amx(int64_t K, int group_size) {
  int64_t G = K / group_size;
  return QGEMM_MAX_PANELS * NR * KC * sizeof(uint16_t) +
         sizeof(float) * (size_t)(KC + 2 * (G < KC ? KC : G)) + 256;
}

static void pack_x_amx(void* dst, const float* x, int64_t ldx, int valid, int kcc) {
  qgemm_pack_bf16_pairs(dst, x, ldx, valid, kcc, MR);
}

/* 16 float32 values rounded to bfloat16 (to nearest, ties to even; NaNs
 * stay NaN), as float32 bits. */
AMX_INLINE __m512i round_bf16(__m512 v) {
  __m512i u = _mm512_castps_si512(v);
  __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
  r = _mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u));
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, _mm512_set1_epi32(0x00400000)));
}

/* Weight row `row` (or zeros past the matrix), codes k0 .. k0+kcc-1, as
 * MLX's bfloat16 values into dst. */
AMX_INLINE void decode_row(const qmm_matrix* w, int64_t row, int64_t k0, int kcc, uint16_t* dst,
                           float* e, float* s, float* b) {
  if (row >= w->rows) {
    memset(dst, 0, sizeof(uint16_t) * (size_t)kcc);
    return;
  }
  const int gs = w->group_size;
  const bool affine = w->mode == QUANT_AFFINE;
  const quant_elem el = quant_modes[w->mode].elem;
  const bool nibbles = (el == QUANT_ELEM_UINT && w->bits == 4) || el == QUANT_ELEM_E2M1;
  const bool bytes = el == QUANT_ELEM_UINT && w->bits == 8;
  const uint8_t* packed = (const uint8_t*)(w->w + row * w->w_ld);
  if (!nibbles && !bytes) qmm_decode_elements(w->mode, w->bits, w->w + row * w->w_ld, k0, kcc, e);
  qmm_load_scales(w, row, k0 / gs, kcc / gs, s, affine ? b : NULL);
  const __m512 e2m1 = _mm512_loadu_ps(quant_e2m1_values);
  const __m128i low4 = _mm_set1_epi8(0x0f);
  for (int k = 0; k < kcc; k += 16) {
    __m512 q;
    if (nibbles) { /* 8 bytes: codes 2i in the low nibbles, 2i+1 in the high ones */
      __m128i b8 = _mm_loadl_epi64((const __m128i*)(packed + (k0 + k) / 2));
      __m128i codes = _mm_unpacklo_epi8(_mm_and_si128(b8, low4),
                                        _mm_and_si128(_mm_srli_epi16(b8, 4), low4));
      __m512i ci = _mm512_cvtepu8_epi32(codes);
      q = el == QUANT_ELEM_E2M1 ? _mm512_permutexvar_ps(ci, e2m1) : _mm512_cvtepi32_ps(ci);
    } else if (bytes) {
      q = _mm512_cvtepi32_ps(
          _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(packed + k0 + k))));
    } else {
      q = _mm512_loadu_ps(e + k);
    }
    __m512 sv = _mm512_set1_ps(s[k / gs]);
    __m512 v = _mm512_mul_ps(q, sv);
    __m512i r;
    if (affine) {
      /* T(q) * scale rounded to bfloat16, plus the bias, rounded again */
      v = _mm512_castsi512_ps(round_bf16(v));
      r = round_bf16(_mm512_add_ps(v, _mm512_set1_ps(b[k / gs])));
    } else {
      r = _mm512_castps_si512(v); /* exact in bfloat16 */
    }
    _mm256_storeu_si256((__m256i*)(dst + k), _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
  }
}

/* Sums of panels p, p+1 (PN of them) and blocks rb, rb+1 (BN) of rows of x
 * over one chunk: tiles 0-3 hold the sums ((p, rb), (p+1, rb), (p, rb+1),
 * (p+1, rb+1)), 4-5 the panels' codes, 6-7 the blocks of x. */
AMX_INLINE void tile_step(const uint16_t* wp, const uint8_t* xb, int64_t xblock_bytes, float* c0,
                          int64_t cpanel, int64_t cblock, int kcc, bool first, const int PN,
                          const int BN) {
  float* c1 = c0 + cpanel;
  float* c2 = c0 + cblock;
  float* c3 = c0 + cpanel + cblock;
  if (first) {
    _tile_zero(0);
    if (PN == 2) _tile_zero(1);
    if (BN == 2) _tile_zero(2);
    if (PN == 2 && BN == 2) _tile_zero(3);
  } else {
    _tile_loadd(0, c0, 64);
    if (PN == 2) _tile_loadd(1, c1, 64);
    if (BN == 2) _tile_loadd(2, c2, 64);
    if (PN == 2 && BN == 2) _tile_loadd(3, c3, 64);
  }
  for (int s = 0; s < kcc / 32; s++) {
    _tile_loadd(4, wp + 32 * s, KC * 2);
    if (PN == 2) _tile_loadd(5, wp + NR * KC + 32 * s, KC * 2);
    _tile_loadd(6, xb + 1024 * s, 64);
    if (BN == 2) _tile_loadd(7, xb + xblock_bytes + 1024 * s, 64);
    _tile_dpbf16ps(0, 4, 6);
    if (PN == 2) _tile_dpbf16ps(1, 5, 6);
    if (BN == 2) _tile_dpbf16ps(2, 4, 7);
    if (PN == 2 && BN == 2) _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c0, 64);
  if (PN == 2) _tile_stored(1, c1, 64);
  if (BN == 2) _tile_stored(2, c2, 64);
  if (PN == 2 && BN == 2) _tile_stored(3, c3, 64);
}

/* A 16 x 16 block of float32 (row stride 16) transposed in place: pairs
 * of rows interleaved, then quads (u[4g + q], 128-bit lane L: column
 * 4L + q of rows 4g .. 4g+3), then the 128-bit lanes of u[q], u[4 + q],
 * u[8 + q], u[12 + q] transposed as a 4 x 4 block. */
AMX_INLINE void transpose16(float* blk) {
  __m512 r[16], t[16], u[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(blk + 16 * i);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int q = 0; q < 4; q++) {
    __m512 v0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x44);
    __m512 v1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xEE);
    __m512 v2 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x44);
    __m512 v3 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xEE);
    r[q] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + q] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[8 + q] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + q] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
  for (int i = 0; i < 16; i++) _mm512_storeu_ps(blk + 16 * i, r[i]);
}

AMX_FN static void panels_amx(const qgemm_job* j, int64_t n0, int np, float* c, void* scratch) {
  const qmm_matrix* w = j->w;
  const int64_t K = j->K, rows = j->rows;
  const int64_t G = K / w->group_size;
  uint16_t* wb = scratch;
  float* e = (float*)(wb + QGEMM_MAX_PANELS * NR * KC);
  float* s = e + KC;
  float* b = s + (G < KC ? KC : G);
  amx_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 8; t++) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
  const int64_t cpanel = rows * NR, cblock = MR * NR;
  const int prof = qgemm_profile; /* bench hook: bit 0 decodes once, bit 1 skips the tiles */
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    int kcc = (int)(K - k0 < KC ? K - k0 : KC);
    for (int p = 0; p < np && (k0 == 0 || !(prof & 1)); p++)
      for (int r = 0; r < NR; r++)
        decode_row(w, n0 + p * NR + r, k0, kcc, wb + (p * NR + r) * KC, e, s, b);
    const uint8_t* xc = (const uint8_t*)j->xp + rows * k0 * 2;
    const int64_t xblock = (int64_t)MR * kcc * 2;
    /* pairs of blocks of x outside, pairs of panels inside (bit 2 of the
     * bench hook: the other order, which keeps a pair's codes in L1 while
     * the blocks of x stream past; no faster in one same-call comparison:
     * 847-1342 against 1040-1288 GFLOP/s, a noisy machine) */
    const int64_t nbk = rows / MR;
    const bool p_outer = (prof & 4) != 0;
    const int64_t outer = p_outer ? np : nbk, inner = p_outer ? nbk : np;
    for (int64_t o = 0; o < outer && !(prof & 2); o += 2)
      for (int64_t i = 0; i < inner; i += 2) {
        int64_t rb = p_outer ? i : o;
        int p = (int)(p_outer ? o : i);
        bool two_b = rb + 1 < nbk, two_p = p + 1 < np;
        float* c0 = c + p * cpanel + rb * cblock;
        const uint16_t* wp = wb + p * NR * KC;
        const uint8_t* xb = xc + rb * xblock;
        if (two_p && two_b) tile_step(wp, xb, xblock, c0, cpanel, cblock, kcc, k0 == 0, 2, 2);
        else if (two_p) tile_step(wp, xb, xblock, c0, cpanel, cblock, kcc, k0 == 0, 2, 1);
        else if (two_b) tile_step(wp, xb, xblock, c0, cpanel, cblock, kcc, k0 == 0, 1, 2);
        else tile_step(wp, xb, xblock, c0, cpanel, cblock, kcc, k0 == 0, 1, 1);
      }
  }
  _tile_release();
  for (int p = 0; p < np; p++)
    for (int64_t rb = 0; rb < rows / MR; rb++) transpose16(c + p * cpanel + rb * cblock);
}

static const qgemm_kernel k_amx = {"amx-bf16-gemm", NR, MR, KC, 2, false,
                                   scratch_amx, pack_x_amx, panels_amx};

const qgemm_kernel* qgemm_amx_kernel(const qmm_matrix* w, mlx_dtype x_dtype) {
  if (x_dtype != MLX_BFLOAT16 || w->cols % 32 != 0) return NULL;
  if (w->mode == QUANT_AFFINE && w->scale_dtype != MLX_BFLOAT16) return NULL;
  return &k_amx;
}

#else

const qgemm_kernel* qgemm_amx_kernel(const qmm_matrix* w, mlx_dtype x_dtype) {
  (void)w, (void)x_dtype;
  return NULL;
}

#endif
