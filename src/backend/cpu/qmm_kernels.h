/* qmm_kernels.h - the contract between the quantized-matmul driver
 * (backend/cpu/qmm.c) and its microkernels (qmm_generic.c and one file per
 * instruction set: qmm_avx2.c, qmm_avx512.c).
 *
 * The driver does everything that is not arithmetic on packed weights:
 * gathering and converting the rows of x, threading over the output
 * columns, converting scales to float32, rounding and storing outputs. A
 * microkernel only computes float32 dot products of prepared x rows with
 * rows of packed weights. BLIS's split: one portable driver, small
 * per-ISA kernels behind a fixed contract.
 *
 * Streaming kernels (transpose = true, at most max_rows rows of x): for
 * the weight rows n0 .. n0+nb-1 (rows of `cols` = K codes):
 *   y[r * ldy + j] = sum_g s[j][g] * (sum_{k in g} xe[r][k] * e(n0+j, k))
 *                    + b[j][g] * xsum[r][g]                (affine only)
 * where e is the element value (affine: the integer code; E2M1 and E4M3:
 * their values), xe the prepared x row and xsum its group sums. Kernels
 * may prepare x in their own layout (a permutation of each group, or
 * bfloat16) through xprep, and may decode elements scaled by a power of
 * two (say 2 * E2M1 as integers), undoing it in y. */
#ifndef CMLX_CPU_QMM_KERNELS_H
#define CMLX_CPU_QMM_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/qmm.h"
#include "backend/cpu/quant_formats.h"

typedef struct qmm_stream_args {
  const qmm_matrix* w;  /* rows = N, cols = K */
  int rows;             /* rows of x, 1 .. kernel's max_rows */
  const void* x;        /* rows x ldx prepared elements (xprep's layout) */
  int64_t ldx;          /* elements */
  const float* xsum;    /* rows x groups (affine), row stride groups */
  const float* s;       /* nb x groups scales (float32, decoded) */
  const float* b;       /* nb x groups biases (affine) */
  int n0, nb;           /* weight rows of this call */
  float* y;             /* rows x ldy */
  int64_t ldy;
} qmm_stream_args;

typedef void (*qmm_stream_fn)(const qmm_stream_args* a);

/* Writes one prepared row from K float32 values (group sizes divide K). */
typedef void (*qmm_xprep_fn)(void* dst, const float* src, int K, int group_size);

typedef struct qmm_stream_kernel {
  const char* name;
  qmm_stream_fn run;
  qmm_xprep_fn xprep;   /* NULL: float32 as is */
  int x_elem_size;      /* bytes per prepared element: 4, 2 (bfloat16), 5 (VNNI) */
  int max_rows;
} qmm_stream_kernel;

/* ---- conversions the compiler vectorises (core/half.h's go through
 * scalar F16C or branches); equal to core/half.h's for every input ---- */

/* float16 bits -> float32: the bits moved into place and rebiased by a
 * multiply (exact for normals and subnormals), inf/NaN patched. */
static inline float qmm_f16_to_f32(uint16_t hv) {
  uint32_t h = hv, em = (h & 0x7fffu) << 13;
  union {
    uint32_t u;
    float f;
  } v = {em}, r;
  r.f = v.f * 0x1p112f;
  r.u |= em >= (0x7c00u << 13) ? 0x7f800000u : 0u;
  r.u |= em > (0x7c00u << 13) ? 0x00400000u : 0u; /* NaNs come back quiet */
  r.u |= (h & 0x8000u) << 16;
  return r.f;
}

/* E8M0 scale byte -> 2^(s - 127) (0 -> 2^-127, 255 -> inf), as
 * quant_e8m0_value. */
static inline float qmm_e8m0_to_f32(uint8_t s) {
  union {
    uint32_t u;
    float f;
  } v = {s == 0 ? 0x00400000u : (uint32_t)s << 23};
  return v.f;
}

/* ---- helpers shared by the kernels (qmm_generic.c) ---- */

/* Element values of codes c0 .. c0+n-1 of one packed row (c0 and n are
 * multiples of 8): affine the code itself, fp modes the E2M1 / E4M3 value. */
void qmm_decode_elements(quant_mode mode, int bits, const uint32_t* row, int64_t c0, int64_t n,
                         float* out);

/* Scales (and biases) of groups g0 .. g0+ng-1 of weight row `row`, as
 * float32: affine from the scale dtype, E8M0 / E4M3 decoded. */
void qmm_load_scales(const qmm_matrix* w, int64_t row, int64_t g0, int64_t ng, float* s,
                     float* b);

/* Full dequantized values (scale * q + bias, element * scale) of codes
 * c0 .. c0+n-1 of row `row`, float32 as MLX computes them; c0, n multiples
 * of the group size. */
void qmm_dequantize_row(const qmm_matrix* w, int64_t row, int64_t c0, int64_t n, float* out);

/* The portable streaming kernel (any mode, bits, group size). */
extern const qmm_stream_kernel qmm_generic_stream;

/* The portable kernel for transpose = false: y[r][c] for the columns
 * c0 .. c0+nc-1 (multiples of the group size), all K rows of weights.
 * x: rows x ldx float32 (plain layout). */
void qmm_generic_columns(const qmm_matrix* w, int rows, const float* x, int64_t ldx, int64_t c0,
                         int64_t nc, float* y, int64_t ldy);

/* ---- tuning knobs of the streaming kernels (bench_qmm sweeps them; not
 * API, defaults in qmm_generic.c) ---- */

/* Bytes ahead of the weight stream the AVX2 and AVX-512 128-code streaming
 * kernels prefetch (0: leave it to the hardware prefetchers; 4096 measured
 * best on the device tool's Xeon against 0, 2048 and 8192). */
extern int qmm_stream_prefetch_bytes;
/* true: the AVX-512 streaming kernels of 32/64-code chunks (kept for
 * K % 128 != 0) for every K, so benchmarks compare both in one run. */
extern bool qmm_stream_narrow_only;
/* true: bfloat16 x takes the AVX-512 vdpbf16ps 128-code kernels (4-bit
 * codes) where the CPU has AVX512_BF16; false (default): the float32
 * vpermps + FMA ones on x widened by the driver, which ran 1.2x faster on
 * the device tool's Xeon (vdpbf16ps retires once per 2 cycles there). */
extern bool qmm_stream_bf16_dot;
/* true: 8-bit affine codes take the AVX2 kernel on AVX-512 machines too
 * (default: the AVX-512 64-code kernel, for group sizes multiple of 64). */
extern bool qmm_stream_avx2_8bit;
/* true (default): one or two rows of bfloat16 / float16 x against 4-bit
 * codes take the AVX512_VNNI fixed-point kernels where the CPU has VNNI
 * and VBMI; qmm_stream_vnni_rows is the most rows they take (default 2:
 * they cost less than the float32 kernels per weight line, more per row
 * of x, and from 3 rows on the float32 kernels share their decoding
 * better). */
extern bool qmm_stream_vnni;
extern int qmm_stream_vnni_rows;
/* Experiments on the AVX-512 kernels (bench_qmm sweeps them): bit 2
 * turns the float32 kernels' offset loads off, bit 4 gives them two
 * accumulators per row (the previous forms), bit 8 gives affine 4-bit
 * codes the VNNI kernel through both nibbles instead of the whole byte. */
extern int qmm_stream_variant;

/* The streaming kernel the driver takes for these weights, rows of x of
 * dtype x_dtype (after any transform) and whether every x is finite (the
 * VNNI kernels need it), under the ISA cap (cpu_qmm_set_isa_cap). */
const qmm_stream_kernel* qmm_select_stream_kernel(const qmm_matrix* w, mlx_dtype x_dtype,
                                                  int rows, bool x_finite);

/* ---- per-ISA kernels (NULL where the build has none) ---- */

/* The fastest streaming kernel of this file's ISA for the format, K and x
 * dtype, or NULL. bf16: the CPU has AVX512_BF16 (and it may be used). */
const qmm_stream_kernel* qmm_avx2_stream_kernel(quant_mode mode, int bits, int group_size,
                                                int64_t K, mlx_dtype x_dtype);
const qmm_stream_kernel* qmm_avx512_stream_kernel(quant_mode mode, int bits, int group_size,
                                                  int64_t K, mlx_dtype x_dtype, bool bf16);
/* The VNNI kernels (4-bit affine and E2M1 codes, bfloat16 / float16 x,
 * K a multiple of 64: gpt-oss's 2880 included), or NULL; the CPU must
 * have cpu_has_avx512_vnni(). Their prepared rows take ldx = K rounded up
 * to 128. */
const qmm_stream_kernel* qmm_avx512_vnni_stream_kernel(quant_mode mode, int bits, int group_size,
                                                       int64_t K, mlx_dtype x_dtype);
#endif
