/* reduce_types.h - element helpers shared by the reduction kernels
 * (reduce.c, softmax.c, median.c, scan.c): half loads that the compiler
 * can vectorise, complex64 arithmetic and MLX's complex ordering.
 *
 * MLX orders complex numbers lexicographically (real part, then imaginary
 * part) wherever it compares them: max, min, argmax, sort, cummax. */
#ifndef CMLX_CPU_REDUCE_TYPES_H
#define CMLX_CPU_REDUCE_TYPES_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/dtype.h"
#include "core/half.h"

/* float16 -> float, the same exact conversion as f16_to_f32 but without
 * branches, so loops over float16 data vectorise: the exponent is rebased
 * (and set to all ones for inf/NaN); subnormals are rebuilt as a normal
 * float minus 2^-14, which is exact. */
static inline float reduce_load_f16(uint16_t h) {
  uint32_t o = (uint32_t)(h & 0x7fffu) << 13;
  uint32_t e = o & 0x0f800000u;
  uint32_t inf_nan = e == 0x0f800000u, sub = e == 0;
  o += 0x38000000u;                     /* (127 - 15) << 23 */
  o += (0u - inf_nan) & 0x38000000u;    /* exponent 31 -> 255 */
  o += (0u - sub) & 0x00800000u;        /* 2^-14 * (1 + m / 1024) */
  float f, g;
  memcpy(&f, &o, sizeof f);
  f -= 6.103515625e-05f; /* 2^-14: what is left is m * 2^-24 */
  uint32_t fb;
  memcpy(&fb, &f, sizeof fb);
  uint32_t r = (fb & (0u - sub)) | (o & (sub - 1u));
  r |= (uint32_t)(h & 0x8000u) << 16;
  memcpy(&g, &r, sizeof g);
  return g;
}

/* A pointer into buf (which has 4096 spare bytes) 2 KiB away from `near`
 * modulo 4 KiB. Scratch rows placed so never alias the data they are
 * combined with in the CPU's 4K-aliasing check, which otherwise stalls
 * loops that load one and store the other when both are page aligned. */
static inline void* reduce_skewed(void* buf, const void* near) {
  uintptr_t want = ((uintptr_t)near + 2048) & 4032, p = (uintptr_t)buf; /* 64-aligned */
  return (void*)(p + ((want - (p & 4095)) & 4095));
}

static inline complex64 c64_make(float re, float im) {
  complex64 z = {re, im};
  return z;
}
static inline complex64 c64_add(complex64 a, complex64 b) {
  return c64_make(a.re + b.re, a.im + b.im);
}
static inline complex64 c64_mul(complex64 a, complex64 b) {
  return c64_make(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
static inline bool c64_gt(complex64 a, complex64 b) {
  return a.re > b.re || (a.re == b.re && a.im > b.im);
}
static inline bool c64_lt(complex64 a, complex64 b) {
  return c64_gt(b, a);
}
static inline bool c64_isnan(complex64 a) {
  return isnan(a.re) || isnan(a.im);
}

#endif
