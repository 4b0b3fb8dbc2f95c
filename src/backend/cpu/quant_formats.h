/* quant_formats.h - the facts about MLX's quantization modes, in one place.
 *
 * Every quantized kernel (quantize, dequantize, quantized_matmul, gather_qmm)
 * asks this header instead of keeping its own case ladder:
 * - QUANT_MODE_LIST: each mode's name, default (for the fp modes: only)
 *   group size and bits, element format and scale format;
 * - the element decode tables: E2M1 (mxfp4/nvfp4 elements, 16 codes) and
 *   E4M3 (mxfp8 elements and nvfp4 scales, 256 codes), and the E8M0 scale
 *   decode (mxfp4/mxfp8 scales);
 * - the E4M3 encoder MLX's CPU uses (to_fp8);
 * - the packing rule shared by all modes: element i of a row occupies bits
 *   [i*bits, (i+1)*bits) of a little-endian bit stream viewed as uint32
 *   words (3/5/6-bit codes cross word boundaries).
 * The values here are MLX 0.32.2's (mlx/backend/cpu/quantized.cpp,
 * unary_ops.h, ops.cpp); see backend/cpu/quantize.c for how the CPU
 * rounds when it encodes. Header-only: no state, nothing to free. */
#ifndef CMLX_CPU_QUANT_FORMATS_H
#define CMLX_CPU_QUANT_FORMATS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/half.h" /* float <-> bits */

/* ---- modes ---- */

typedef enum quant_elem {
  QUANT_ELEM_UINT, /* affine: unsigned integer code q, value q*scale + bias */
  QUANT_ELEM_E2M1, /* 4-bit float: sign, 2 exponent bits, 1 mantissa bit */
  QUANT_ELEM_E4M3, /* 8-bit float (OCP "E4M3FN" as MLX decodes it) */
} quant_elem;

typedef enum quant_scale {
  QUANT_SCALE_AFFINE, /* scale and bias per group, in w's dtype */
  QUANT_SCALE_E8M0,   /* uint8 power of two 2^(s-127) */
  QUANT_SCALE_E4M3,   /* uint8 E4M3 value (times global_scale/2688) */
} quant_scale;

/* X(ID, name, group size, bits, element, scale, largest element)
 * The group size and bits are the defaults MLX picks when the caller gives
 * none; the fp modes allow nothing else. "largest element" is the divisor
 * MLX uses to choose an fp scale (amax / largest), 0 for affine. */
#define QUANT_MODE_LIST(X)                                                   \
  X(AFFINE, "affine", 64, 4, QUANT_ELEM_UINT, QUANT_SCALE_AFFINE, 0.0f)      \
  X(MXFP4, "mxfp4", 32, 4, QUANT_ELEM_E2M1, QUANT_SCALE_E8M0, 6.0f)         \
  X(MXFP8, "mxfp8", 32, 8, QUANT_ELEM_E4M3, QUANT_SCALE_E8M0, 448.0f)       \
  X(NVFP4, "nvfp4", 16, 4, QUANT_ELEM_E2M1, QUANT_SCALE_E4M3, 6.0f)

typedef enum quant_mode {
#define QUANT_MODE_ENUM(ID, name, gs, bits, elem, scale, emax) QUANT_##ID,
  QUANT_MODE_LIST(QUANT_MODE_ENUM)
#undef QUANT_MODE_ENUM
  QUANT_MODE_COUNT
} quant_mode;

typedef struct quant_mode_info {
  const char* name;  /* MLX's mode string */
  int group_size;    /* default; the only one allowed unless affine */
  int bits;          /* default; the only one allowed unless affine */
  quant_elem elem;
  quant_scale scale;
  float elem_max;    /* largest element magnitude (fp modes) */
} quant_mode_info;

static const quant_mode_info quant_modes[QUANT_MODE_COUNT] = {
#define QUANT_MODE_ENTRY(ID, name, gs, bits, elem, scale, emax) \
  [QUANT_##ID] = {name, gs, bits, elem, scale, emax},
    QUANT_MODE_LIST(QUANT_MODE_ENTRY)
#undef QUANT_MODE_ENTRY
};

/* Every mode's group fills whole uint32 words, so groups (and rows) never
 * share a word; the element formats have the mode's bit width. */
#define QUANT_MODE_CHECK(ID, name, gs, bits, elem, scale, emax)                \
  _Static_assert((gs) * (bits) % 32 == 0, name ": a group fills whole words"); \
  _Static_assert((elem) != QUANT_ELEM_E2M1 || (bits) == 4, name ": E2M1 is 4 bits"); \
  _Static_assert((elem) != QUANT_ELEM_E4M3 || (bits) == 8, name ": E4M3 is 8 bits");
QUANT_MODE_LIST(QUANT_MODE_CHECK)
#undef QUANT_MODE_CHECK

static inline bool quant_mode_has_biases(quant_mode m) {
  return quant_modes[m].scale == QUANT_SCALE_AFFINE;
}
/* The fp modes take exactly their table's group size and bits. */
static inline bool quant_mode_is_fixed(quant_mode m) {
  return m != QUANT_AFFINE;
}

/* ---- affine ---- */

/* The group sizes and bit widths MLX's affine quantize accepts. */
static inline bool quant_affine_group_ok(int group_size) {
  return group_size == 32 || group_size == 64 || group_size == 128;
}
static inline bool quant_affine_bits_ok(int bits) {
  return bits >= 2 && bits <= 8 && bits != 7;
}
/* The smallest |scale| MLX lets a group have. */
#define QUANT_AFFINE_EPS 1e-7f
_Static_assert(32 * 2 % 32 == 0 && 32 * 3 % 32 == 0 && 32 * 5 % 32 == 0,
               "the smallest affine group fills whole words at every width");

/* ---- nvfp4 global scale ---- */

/* nvfp4 scales are encoded as e4m3(amax/6 * 2688/global_scale) and decoded
 * times global_scale/2688: 2688 = 448 * 6, the largest E4M3 scale times
 * the largest E2M1 element. */
#define QUANT_NVFP4_GLOBAL_ENC 2688.0f

/* ---- element decode tables ---- */

/* E2M1 by code: bit 3 sign, bits 2-1 exponent, bit 0 mantissa. */
static const float quant_e2m1_values[16] = {
    +0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
    -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f,
};
_Static_assert(sizeof quant_e2m1_values / sizeof quant_e2m1_values[0] == 16,
               "one E2M1 value per 4-bit code");

/* E4M3 by code: bit 7 sign, bits 6-3 exponent (bias 7), bits 2-0 mantissa;
 * exponent 0 is subnormal (m * 2^-9). As in MLX, there is no NaN: 0x7F
 * decodes to 480 and 0xFF to -480. Generated from the definition. */
#define QUANT_E4M3_EXP(c) (((c) >> 3) & 15)
/* |value| * 2^9, an integer: m for subnormals, (8 + m) * 2^(e-1) else */
#define QUANT_E4M3_UNITS(c) \
  (QUANT_E4M3_EXP(c) == 0 ? ((c) & 7) : ((8 + ((c) & 7)) << QUANT_E4M3_EXP(c)) >> 1)
#define QUANT_E4M3_MAG(c) ((float)QUANT_E4M3_UNITS(c) * 0x1p-9f)
#define QUANT_E4M3_VALUE(c) (((c) & 0x80) ? -QUANT_E4M3_MAG(c) : QUANT_E4M3_MAG(c))
#define QUANT_E4M3_4(c)                                                 \
  QUANT_E4M3_VALUE(c), QUANT_E4M3_VALUE((c) + 1), QUANT_E4M3_VALUE((c) + 2), \
      QUANT_E4M3_VALUE((c) + 3)
#define QUANT_E4M3_16(c) \
  QUANT_E4M3_4(c), QUANT_E4M3_4((c) + 4), QUANT_E4M3_4((c) + 8), QUANT_E4M3_4((c) + 12)
static const float quant_e4m3_values[256] = {
    QUANT_E4M3_16(0),   QUANT_E4M3_16(16),  QUANT_E4M3_16(32),  QUANT_E4M3_16(48),
    QUANT_E4M3_16(64),  QUANT_E4M3_16(80),  QUANT_E4M3_16(96),  QUANT_E4M3_16(112),
    QUANT_E4M3_16(128), QUANT_E4M3_16(144), QUANT_E4M3_16(160), QUANT_E4M3_16(176),
    QUANT_E4M3_16(192), QUANT_E4M3_16(208), QUANT_E4M3_16(224), QUANT_E4M3_16(240),
};
#undef QUANT_E4M3_16
#undef QUANT_E4M3_4
_Static_assert(sizeof quant_e4m3_values / sizeof quant_e4m3_values[0] == 256,
               "one E4M3 value per byte");
_Static_assert(QUANT_E4M3_UNITS(0x7E) == 448 * 512 && QUANT_E4M3_UNITS(0x7F) == 480 * 512,
               "0x7E is the largest value MLX encodes, 0x7F decodes to 480");
_Static_assert(QUANT_E4M3_UNITS(0x01) == 1 && QUANT_E4M3_UNITS(0x08) == 8 &&
                   QUANT_E4M3_UNITS(0x38) == 512,
               "smallest subnormal 2^-9, 0x08 = 2^-6 continues it, 0x38 = 1.0");

/* E8M0: 2^(s-127), with s == 0 giving 2^-127 and s == 255 giving +inf
 * (MLX's CPU reads the byte as a float exponent; no NaN code). Exact. */
static inline float quant_e8m0_value(uint8_t s) {
  return half_bits_f32(s == 0 ? 0x00400000u : (uint32_t)s << 23);
}

/* float -> E4M3, MLX's ToFP8: round to nearest even, subnormals below
 * 2^-6, saturating to 0x7E (448) from 464 up, and NaN also becoming 0x7E
 * (with its sign). */
static inline uint8_t quant_e4m3_encode(float x) {
  uint32_t f = half_f32_bits(x);
  uint32_t sign = f & 0x80000000u;
  f ^= sign;
  uint8_t r;
  if (f >= (543u << 21)) {
    r = 0x7E;
  } else if (f < (121u << 23)) {
    /* subnormal (or zero): adding 2^14 leaves the E4M3 mantissa, rounded
     * to nearest even by the FPU, in the low bits */
    const uint32_t magic = 141u << 23;
    r = (uint8_t)(half_f32_bits(half_bits_f32(f) + half_bits_f32(magic)) - magic);
  } else {
    /* rebias the exponent (127 -> 7) and round the mantissa to 3 bits */
    uint32_t odd = (f >> 20) & 1u;
    r = (uint8_t)((f + ((uint32_t)(7 - 127) << 23) + 0x7FFFFu + odd) >> 20);
  }
  return (uint8_t)(r | (sign >> 24));
}

/* ---- packing ---- */

/* Code i of a packed row (bits 1..32): bits [i*bits, (i+1)*bits) of the
 * little-endian stream of row's words. */
static inline uint32_t quant_code_at(const uint32_t* row, size_t i, int bits) {
  size_t bit = i * (size_t)bits;
  size_t word = bit >> 5;
  unsigned shift = (unsigned)(bit & 31);
  uint64_t v = row[word] >> shift;
  if (shift + (unsigned)bits > 32) v |= (uint64_t)row[word + 1] << (32 - shift);
  return (uint32_t)(v & ((bits >= 32) ? 0xffffffffull : ((1ull << bits) - 1)));
}

/* Words one group of group_size codes fills (modes guarantee whole words). */
static inline int quant_words_per_group(int group_size, int bits) {
  return group_size * bits / 32;
}

#endif
