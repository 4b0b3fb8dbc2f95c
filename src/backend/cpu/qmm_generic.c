/* qmm_generic.c - the portable pieces of the quantized matmul: decoding
 * packed codes and scales, the reference product the tests trust, and the
 * plain-C kernels every format falls back to (3/5/6-bit codes, CPUs
 * without a hand-written kernel, transpose = false).
 *
 * Decoding relies on one fact of MLX's packing: eight consecutive codes of
 * `bits` bits fill exactly `bits` bytes of the little-endian bit stream, so
 * every width 2..8 is read as "load bits bytes, shift out eight codes". The
 * plain kernels are built per ISA by CPU_KERNEL (isa.h); their float sums
 * are spread over eight lanes so the compiler can vectorise them without
 * reassociating anything. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/qmm_kernels.h"
#include "core/half.h"

/* ---- decoding ---- */

/* Eight codes starting at code c (a multiple of 8) of a packed row. */
static inline void codes8(const uint8_t* row_bytes, int bits, int64_t c, uint32_t out[8]) {
  uint64_t v = 0;
  memcpy(&v, row_bytes + c / 8 * bits, (size_t)bits);
  uint32_t mask = (1u << bits) - 1u;
  for (int j = 0; j < 8; j++) out[j] = (uint32_t)(v >> (j * bits)) & mask;
}

/* Codes of any width 2..8 as floats (bits is a constant after inlining). */
static inline void decode_uint_bits(const uint8_t* bytes, int bits, int64_t c0, int64_t n,
                                    float* out) {
  for (int64_t i = 0; i < n; i += 8) {
    uint32_t q[8];
    codes8(bytes, bits, c0 + i, q);
    for (int j = 0; j < 8; j++) out[i + j] = (float)q[j];
  }
}

CPU_KERNEL static void decode_affine(const uint8_t* bytes, int bits, int64_t c0, int64_t n,
                                     float* out) {
  switch (bits) {
    case 2: decode_uint_bits(bytes, 2, c0, n, out); break;
    case 3: decode_uint_bits(bytes, 3, c0, n, out); break;
    case 5: decode_uint_bits(bytes, 5, c0, n, out); break;
    case 6: decode_uint_bits(bytes, 6, c0, n, out); break;
    default: decode_uint_bits(bytes, bits, c0, n, out); break;
  }
}

/* The element values as arithmetic the compiler vectorises (table lookups
 * it will not): equal to quant_e2m1_values / quant_e4m3_values for every
 * code (test_qmm checks the kernels against the tables' reference).
 * E2M1 as float32 bits: exponent e, mantissa m: e ? 2^(e-1) * (1 + m/2)
 * (biased exponent 126 + e, mantissa bit 22), else m / 2; sign bit 3. */
static inline float e2m1_value(int c) {
  uint32_t e = ((uint32_t)c >> 1) & 3u, m = (uint32_t)c & 1u;
  uint32_t norm = ((126u + e) << 23) | (m << 22);
  uint32_t sub = m ? 0x3F000000u : 0u;
  union {
    uint32_t u;
    float f;
  } v = {(e ? norm : sub) | (((uint32_t)c & 8u) << 28)};
  return v.f;
}

/* E4M3: e ? (8 + m) * 2^(e-10) : m * 2^-9 (0x7F is 480, as in MLX). */
static inline float e4m3_value(int c) {
  int e = (c >> 3) & 15, m = c & 7, nz = e != 0;
  int mm = 2 * m + nz * (8 - m);
  return (float)(mm << e) * 0x1p-10f * (float)(1 - ((c >> 6) & 2));
}

/* Element 2i is the low nibble of byte i. */
CPU_KERNEL static void decode_affine4(const uint8_t* restrict p, int64_t n, float* restrict out) {
  for (int64_t i = 0; i < n / 2; i++) {
    int v = p[i];
    out[2 * i] = (float)(v & 15);
    out[2 * i + 1] = (float)(v >> 4);
  }
}

CPU_KERNEL static void decode_affine8(const uint8_t* restrict p, int64_t n, float* restrict out) {
  for (int64_t i = 0; i < n; i++) out[i] = (float)p[i];
}

CPU_KERNEL static void decode_e2m1(const uint8_t* restrict p, int64_t n, float* restrict out) {
  for (int64_t i = 0; i < n / 2; i++) {
    int v = p[i];
    out[2 * i] = e2m1_value(v & 15);
    out[2 * i + 1] = e2m1_value(v >> 4);
  }
}

CPU_KERNEL static void decode_e4m3(const uint8_t* restrict p, int64_t n, float* restrict out) {
  for (int64_t i = 0; i < n; i++) out[i] = e4m3_value(p[i]);
}

void qmm_decode_elements(quant_mode mode, int bits, const uint32_t* row, int64_t c0, int64_t n,
                         float* out) {
  const uint8_t* bytes = (const uint8_t*)row;
  switch (quant_modes[mode].elem) {
    case QUANT_ELEM_UINT:
      if (bits == 4) decode_affine4(bytes + c0 / 2, n, out);
      else if (bits == 8) decode_affine8(bytes + c0, n, out);
      else decode_affine(bytes, bits, c0, n, out);
      break;
    case QUANT_ELEM_E2M1:
      decode_e2m1(bytes + c0 / 2, n, out);
      break;
    case QUANT_ELEM_E4M3:
      decode_e4m3(bytes + c0, n, out);
      break;
  }
}

CPU_KERNEL static void widen_f16(float* restrict d, const uint16_t* restrict s, int64_t n) {
  for (int64_t i = 0; i < n; i++) d[i] = qmm_f16_to_f32(s[i]);
}
CPU_KERNEL static void widen_bf16(float* restrict d, const uint16_t* restrict s, int64_t n) {
  for (int64_t i = 0; i < n; i++) d[i] = bf16_to_f32(s[i]);
}
CPU_KERNEL static void decode_e8m0(float* restrict d, const uint8_t* restrict s, int64_t n) {
  for (int64_t i = 0; i < n; i++) d[i] = qmm_e8m0_to_f32(s[i]);
}

/* n affine scales (or biases) of dtype t from element i0 of p. */
static void load_affine(float* d, const void* p, mlx_dtype t, int64_t i0, int64_t n) {
  if (t == MLX_FLOAT16) widen_f16(d, (const uint16_t*)p + i0, n);
  else if (t == MLX_BFLOAT16) widen_bf16(d, (const uint16_t*)p + i0, n);
  else memcpy(d, (const float*)p + i0, sizeof(float) * (size_t)n);
}

void qmm_load_scales(const qmm_matrix* w, int64_t row, int64_t g0, int64_t ng, float* s,
                     float* b) {
  int64_t base = row * w->s_ld + g0;
  const uint8_t* u8 = (const uint8_t*)w->scales + base;
  switch (quant_modes[w->mode].scale) {
    case QUANT_SCALE_AFFINE:
      load_affine(s, w->scales, w->scale_dtype, base, ng);
      if (b) load_affine(b, w->biases, w->scale_dtype, base, ng);
      break;
    case QUANT_SCALE_E8M0:
      decode_e8m0(s, u8, ng);
      break;
    case QUANT_SCALE_E4M3:
      for (int64_t g = 0; g < ng; g++) s[g] = quant_e4m3_values[u8[g]];
      break;
  }
}

/* v[g * gs + j] = s[g] * v[...] + b[g] (b NULL: no bias), product rounded
 * before the sum as MLX's float32 dequantize. */
CPU_KERNEL static void scale_groups(float* v, const float* s, const float* b, int64_t ng, int gs) {
  for (int64_t g = 0; g < ng; g++) {
    float sg = s[g], bg = b ? b[g] : 0.0f;
    float* p = v + g * gs;
    if (b) {
      for (int j = 0; j < gs; j++) {
        float t = sg * p[j];
        p[j] = t + bg;
      }
    } else {
      for (int j = 0; j < gs; j++) p[j] = p[j] * sg;
    }
  }
}

/* Decoding and scaling in one pass for the common formats. */
CPU_KERNEL static void dequant_affine4(const uint8_t* restrict p, const float* restrict s,
                                       const float* restrict b, int64_t ng, int gs,
                                       float* restrict out) {
  for (int64_t g = 0; g < ng; g++) {
    float sg = s[g], bg = b[g];
    const uint8_t* q = p + g * (gs / 2);
    float* o = out + g * gs;
    for (int i = 0; i < gs / 2; i++) {
      int v = q[i];
      float lo = sg * (float)(v & 15), hi = sg * (float)(v >> 4);
      o[2 * i] = lo + bg;
      o[2 * i + 1] = hi + bg;
    }
  }
}

CPU_KERNEL static void dequant_affine8(const uint8_t* restrict p, const float* restrict s,
                                       const float* restrict b, int64_t ng, int gs,
                                       float* restrict out) {
  for (int64_t g = 0; g < ng; g++) {
    float sg = s[g], bg = b[g];
    const uint8_t* q = p + g * gs;
    float* o = out + g * gs;
    for (int i = 0; i < gs; i++) {
      float t = sg * (float)q[i];
      o[i] = t + bg;
    }
  }
}

CPU_KERNEL static void dequant_e2m1(const uint8_t* restrict p, const float* restrict s,
                                    int64_t ng, int gs, float* restrict out) {
  for (int64_t g = 0; g < ng; g++) {
    float sg = s[g];
    const uint8_t* q = p + g * (gs / 2);
    float* o = out + g * gs;
    for (int i = 0; i < gs / 2; i++) {
      int v = q[i];
      o[2 * i] = e2m1_value(v & 15) * sg;
      o[2 * i + 1] = e2m1_value(v >> 4) * sg;
    }
  }
}

CPU_KERNEL static void dequant_e4m3(const uint8_t* restrict p, const float* restrict s,
                                    int64_t ng, int gs, float* restrict out) {
  for (int64_t g = 0; g < ng; g++) {
    float sg = s[g];
    const uint8_t* q = p + g * gs;
    float* o = out + g * gs;
    for (int i = 0; i < gs; i++) o[i] = e4m3_value(q[i]) * sg;
  }
}

#define DEQUANT_GROUPS 64

void qmm_dequantize_row(const qmm_matrix* w, int64_t row, int64_t c0, int64_t n, float* out) {
  int gs = w->group_size, bits = w->bits;
  bool affine = w->mode == QUANT_AFFINE;
  quant_elem elem = quant_modes[w->mode].elem;
  const uint8_t* bytes = (const uint8_t*)(w->w + row * w->w_ld);
  float s[DEQUANT_GROUPS], b[DEQUANT_GROUPS];
  for (int64_t g0 = 0; g0 < n / gs; g0 += DEQUANT_GROUPS) {
    int64_t ng = n / gs - g0 < DEQUANT_GROUPS ? n / gs - g0 : DEQUANT_GROUPS;
    int64_t c = c0 + g0 * gs;
    float* o = out + g0 * gs;
    qmm_load_scales(w, row, c / gs, ng, s, affine ? b : NULL);
    if (elem == QUANT_ELEM_UINT && bits == 4) {
      dequant_affine4(bytes + c / 2, s, b, ng, gs, o);
    } else if (elem == QUANT_ELEM_UINT && bits == 8) {
      dequant_affine8(bytes + c, s, b, ng, gs, o);
    } else if (elem == QUANT_ELEM_E2M1) {
      dequant_e2m1(bytes + c / 2, s, ng, gs, o);
    } else if (elem == QUANT_ELEM_E4M3) {
      dequant_e4m3(bytes + c, s, ng, gs, o);
    } else {
      decode_affine(bytes, bits, c, ng * gs, o);
      scale_groups(o, s, b, ng, gs);
    }
  }
}

/* ---- reference ---- */

void cpu_qmm_reference(const qmm_matrix* w, bool transpose, const float* x, int64_t ldx, int m,
                       float* out, int64_t ldo) {
  int64_t K = transpose ? w->cols : w->rows;
  int64_t N = transpose ? w->rows : w->cols;
  float* row = malloc((size_t)(w->cols > 0 ? w->cols : 1) * sizeof *row);
  double* acc = calloc((size_t)(m * N > 0 ? m * N : 1), sizeof *acc);
  if (row && acc) {
    for (int64_t i = 0; i < w->rows; i++) {
      qmm_dequantize_row(w, i, 0, w->cols, row);
      for (int r = 0; r < m; r++) {
        const float* xr = x + r * ldx;
        if (transpose) {
          double d = 0;
          for (int64_t k = 0; k < K; k++) d += (double)xr[k] * row[k];
          acc[r * N + i] = d;
        } else {
          for (int64_t n = 0; n < N; n++) acc[r * N + n] += (double)xr[i] * row[n];
        }
      }
    }
    for (int r = 0; r < m; r++)
      for (int64_t n = 0; n < N; n++) out[r * ldo + n] = (float)acc[r * N + n];
  }
  free(row);
  free(acc);
}

/* ---- the portable streaming kernel ---- */

int qmm_stream_prefetch_bytes = 4096;
bool qmm_stream_narrow_only = false;
bool qmm_stream_bf16_dot = false;
bool qmm_stream_avx2_8bit = false;
bool qmm_stream_vnni = true;
int qmm_stream_vnni_rows = 2;
int qmm_stream_variant = 0;

/* sum_j a[j] * b[j] over n (a multiple of 8) in eight float32 lanes. */
CPU_KERNEL static float dot8(const float* a, const float* b, int n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < n; i += 8)
    for (int j = 0; j < 8; j++) lane[j] += a[i + j] * b[i + j];
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

#define QMM_MAX_GROUP 128

static void generic_stream(const qmm_stream_args* a) {
  const qmm_matrix* w = a->w;
  int gs = w->group_size;
  int64_t K = w->cols, G = K / gs;
  bool affine = w->mode == QUANT_AFFINE;
  const float* x = a->x;
  float e[QMM_MAX_GROUP];
  for (int j = 0; j < a->nb; j++) {
    const uint32_t* row = w->w + (int64_t)(a->n0 + j) * w->w_ld;
    const float* s = a->s + j * G;
    const float* b = affine ? a->b + j * G : NULL;
    float acc[QMM_STREAM_MAX_ROWS] = {0};
    for (int64_t g = 0; g < G; g++) {
      qmm_decode_elements(w->mode, w->bits, row, g * gs, gs, e);
      for (int r = 0; r < a->rows; r++) {
        float d = dot8(x + r * a->ldx + g * gs, e, gs);
        acc[r] += s[g] * d;
        if (affine) acc[r] += b[g] * a->xsum[r * G + g];
      }
    }
    for (int r = 0; r < a->rows; r++) a->y[r * a->ldy + j] = acc[r];
  }
}

const qmm_stream_kernel qmm_generic_stream = {"generic", generic_stream, NULL, 4,
                                              QMM_STREAM_MAX_ROWS};

/* ---- the portable kernel for transpose = false ---- */

CPU_KERNEL static void axpy(float* y, float c, const float* e, int n) {
  for (int i = 0; i < n; i++) y[i] += c * e[i];
}

void qmm_generic_columns(const qmm_matrix* w, int rows, const float* x, int64_t ldx, int64_t c0,
                         int64_t nc, float* y, int64_t ldy) {
  /* each weight row is dequantized as the reference does (scale * q +
   * bias), then added times x: no separate bias sum to cancel against */
  float e[nc];
  for (int r = 0; r < rows; r++) memset(y + r * ldy, 0, sizeof(float) * (size_t)nc);
  for (int64_t k = 0; k < w->rows; k++) {
    qmm_dequantize_row(w, k, c0, nc, e);
    for (int r = 0; r < rows; r++) axpy(y + r * ldy, x[r * ldx + k], e, (int)nc);
  }
}
