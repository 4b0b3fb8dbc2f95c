/* qmm_gemm.h - the contract between the quantized-matmul GEMM driver
 * (run_gemm_kernel in backend/cpu/qmm.c: many rows of x, transpose = true)
 * and its per-ISA kernels (qmm_gemm_avx512.c, qmm_gemm_avx2.c).
 *
 * BLIS's split, with the weights decoded once per panel and shared by all
 * rows of x:
 * - the driver converts the job's rows of x to float32, then has the
 *   kernel pack them (pack_x) chunk-major: for each chunk of kc values of
 *   k (the last may be shorter, a multiple of the group size), for each
 *   block of mr rows, the kc x mr block interleaved as the microkernel
 *   broadcasts it (rows past the job are zeros). Packed element (row r,
 *   k) of chunk c = k0 / kc lives at
 *     rows * k0 + (r / mr) * mr * kcc + (k - k0) * mr + r % mr     (float32)
 *   with kcc the chunk's length; bfloat16 kernels store pairs of k
 *   instead: the dword ((k - k0) / 2) * mr + r % mr of the block holds
 *   (x[r][k], x[r][k+1]).
 * - Affine kernels that apply the group scales themselves (group_sums)
 *   also get xsum[(r / mr) * G * mr + g * mr + r % mr] = the sum of row
 *   r's (packed, rounded) x over group g.
 * - panels() computes np <= QGEMM_MAX_PANELS panels of nr weight rows
 *   from n0 (rows past N count as zeros): for panel p, c[p * rows * nr +
 *   r * nr + j] = sum_k x[r][k] * W(n0 + p * nr + j, k) for every packed
 *   row r (c need not be zeroed: the first K-chunk overwrites it), W the
 *   matrix's dequantized weights. Kernels walk K a chunk at a time,
 *   decode the chunk of the np panels, then run the microkernel over
 *   every block of rows, so a chunk of packed x (rows x kc) is read from
 *   L2 np times. Threads run groups
 *   of panels in parallel, each with its own scratch of
 *   scratch_bytes(K, group_size) bytes (64-byte aligned).
 * float32 kernels multiply by the weights dequantized to float32 (MLX's
 * values); bfloat16 kernels multiply the bfloat16 x by the exact element
 * values (affine codes, E2M1 / E4M3 values: all exact in bfloat16) with
 * float32 sums per group, then add s * sum + b * xsum per group. */
#ifndef CMLX_CPU_QMM_GEMM_H
#define CMLX_CPU_QMM_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/cpu/qmm_kernels.h"

typedef struct qgemm_job {
  const qmm_matrix* w; /* rows = N, cols = K */
  int64_t K;
  int rows;            /* packed rows (a multiple of mr) */
  const void* xp;      /* packed x (see above) */
  const float* xsum;   /* group sums (group_sums kernels, affine), else NULL */
} qgemm_job;

typedef struct qgemm_kernel {
  const char* name;
  int nr, mr, kc;     /* kc: a multiple of 128 (every group size divides it) */
  int x_elem_size;    /* 4: float32, 2: bfloat16 (pairs of k) */
  bool group_sums;    /* affine jobs need xsum */
  size_t (*scratch_bytes)(int64_t K, int group_size);
  /* One block: rows r < valid of x (row stride ldx floats, starting at the
   * chunk's first k) into dst (mr x kcc, the layout above), zeros past
   * valid. kcc is a multiple of 16. */
  void (*pack_x)(void* dst, const float* x, int64_t ldx, int valid, int kcc);
  void (*panels)(const qgemm_job* j, int64_t n0, int np, float* c, void* scratch);
} qgemm_kernel;

#define QGEMM_MAX_PANELS 8

/* pack_x for the bfloat16 kernels (mr rows per block): x holds bfloat16
 * values (those kernels are chosen for bfloat16 x only), so the upper
 * halves of the float32 bits are exact; dword (k / 2) * mr + m of the
 * block holds (x[m][k], x[m][k+1]), zeros past valid. */
static inline void qgemm_pack_bf16_pairs(void* dst, const float* x, int64_t ldx, int valid,
                                         int kcc, int mr) {
  uint32_t* d = dst;
  for (int m = 0; m < mr; m++) {
    const uint32_t* xr = (const uint32_t*)(x + m * ldx);
    if (m < valid)
      for (int kp = 0; kp < kcc / 2; kp++)
        d[kp * mr + m] = (xr[2 * kp] >> 16) | (xr[2 * kp + 1] & 0xFFFF0000u);
    else
      for (int kp = 0; kp < kcc / 2; kp++) d[kp * mr + m] = 0;
  }
}

/* The kernel of this file's ISA for the matrix and x dtype, or NULL.
 * bf16: the CPU has AVX512_BF16 and it may be used; the vdpbf16ps kernels
 * are then chosen where the CPU runs vdpbf16ps about as often as FMAs (a
 * short timing on first use: Intel's cores so far retire one vdpbf16ps
 * per two cycles, so 2 FMAs per cycle on float32 are faster). */
const qgemm_kernel* qgemm_avx512_kernel(const qmm_matrix* w, mlx_dtype x_dtype, bool bf16);
const qgemm_kernel* qgemm_avx2_kernel(const qmm_matrix* w, mlx_dtype x_dtype);
/* The AMX kernel (qmm_gemm_amx.c) where it gives MLX's values: bfloat16
 * x, K a multiple of 32, affine weights with bfloat16 scales or the fp
 * modes; else NULL. The CPU must have cpu_has_amx_bf16(). */
const qgemm_kernel* qgemm_amx_kernel(const qmm_matrix* w, mlx_dtype x_dtype);

/* Bench hooks (the library never sets them; bench_qmm_prefill does):
 * qgemm_profile 0: normal; bit 0: decode each group's panels at the first
 * K-chunk only and reuse them (times the microkernel and the driver),
 * bit 1: skip the microkernel (times decoding and the driver); the
 * products are wrong while it is set; bit 2: the AMX kernel loops over
 * panels outside and blocks of x inside (the other order).
 * qgemm_c_kib: the L2 budget in KiB for a group's float32 sums (sets the
 * panels per group; 0: the default).
 * qgemm_byte_decode (default 1): the AVX-512 float32 kernels decode
 * affine 4/8-bit and E2M1 codes transposed as bytes; 0: the earlier
 * decoding (rows of 16 floats, transposed), kept for comparison and
 * checked by the tests. */
extern int qgemm_profile;
extern int qgemm_c_kib;
extern int qgemm_byte_decode;

/* Test hook: -1 (default) lets the timing decide whether bfloat16 x uses
 * the vdpbf16ps kernels, 0 never, 1 always (where the CPU has them). */
void qgemm_set_bf16_policy(int policy);
/* Test hook: true (default) lets bfloat16 x take the AMX kernel where the
 * CPU has AMX and the weights allow it (also off with CMLX_QMM_AMX=0 in
 * the environment). */
extern bool qgemm_amx;

#endif
