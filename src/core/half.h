/* half.h - float16 and bfloat16 conversions (bit patterns in uint16_t).
 *
 * Rounding is to nearest, ties to even, as MLX's own half types do; NaN stays
 * NaN (quiet), overflow goes to infinity. */
#ifndef CMLX_CORE_HALF_H
#define CMLX_CORE_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t half_f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static inline float half_bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static inline float bf16_to_f32(uint16_t h) {
  return half_bits_f32((uint32_t)h << 16);
}

static inline uint16_t f32_to_bf16(float f) {
  uint32_t u = half_f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

#if defined(__FLT16_MAX__) && defined(__x86_64__) && !defined(__clang__)
/* GCC's _Float16 conversions are IEEE (round to nearest even) and use F16C
 * when the function is built for it: several times faster than bit code. */
#define CMLX_HAVE_FLOAT16 1
static inline float f16_to_f32(uint16_t h) {
  _Float16 v;
  memcpy(&v, &h, 2);
  return (float)v;
}
static inline uint16_t f32_to_f16(float f) {
  _Float16 v = (_Float16)f;
  uint16_t h;
  memcpy(&h, &v, 2);
  return h;
}
#else
static inline float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1f) return half_bits_f32(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    /* zero or subnormal: man * 2^-24 is exact in float */
    float v = (float)man * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return half_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

static inline uint16_t f32_to_f16(float f) {
  uint32_t u = half_f32_bits(f);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u | (uint16_t)((a >> 13) & 0x3ffu);
  if (a >= 0x477ff000u) return sign | 0x7c00u; /* rounds to >= 65520: inf */
  if (a < 0x38800000u) {
    /* result is subnormal or zero: scale so the integer part is the mantissa,
     * and let the FPU round to nearest even. */
    float v = half_bits_f32(a) * 16777216.0f; /* 2^24 */
    uint32_t m = (uint32_t)__builtin_rintf(v);
    return sign | (uint16_t)m;
  }
  uint32_t rounded = a + 0xfffu + ((a >> 13) & 1u);
  return sign | (uint16_t)((rounded - (112u << 23)) >> 13);
}
#endif

#endif
