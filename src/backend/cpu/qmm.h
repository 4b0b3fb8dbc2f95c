/* qmm.h - CPU kernels of the quantized matmuls, and the raw-buffer kernel
 * interface the tests and benchmarks use.
 *
 * Node contracts (ops/qmm.c validates everything MLX validates first):
 * - QuantizedMatmul (params qmm_params, gather = false)
 *     inputs  x [..., M, K] (any strides), w, scales, [biases]
 *     transpose: w [..., N, K*bits/32] uint32, scales/biases [..., N, K/g]
 *     otherwise: w [..., K, N*bits/32] uint32, scales/biases [..., K, N/g]
 *     When x and w both have batch axes, all inputs have the output's
 *     batch shape (broadcast views); otherwise every row of x meets the
 *     first matrix of w.
 * - GatherQMM (params qmm_params, gather = true): the same inputs, then
 *     lhs, rhs uint32 indices of one shape I (broadcast views); output
 *     I + [M, N]; item i multiplies batch lhs[i] of x by batch rhs[i] of w
 *     (flat indices over the batch axes, clamped into range; a batch that
 *     does not exist gives zeros).
 * - QQMatmul (params qmm_params, quantize_x = true): x [M, K] with M = 1,
 *     w [N, K*bits/32], scales; x is quantized and dequantized in the fp
 *     mode first (in x's dtype), then multiplied. [global_scale_x,
 *     global_scale_w] (float32, one element) may follow.
 * x, scales and biases are float32, float16 or bfloat16 (affine scales and
 * biases may differ from x), fp scales uint8; the output is float32,
 * float16 or bfloat16 (anything else fails at eval with MLX's message).
 * Products are summed in float32 and rounded once to the output dtype.
 *
 * Who frees what: kernels allocate only scratch they free themselves; the
 * node owns qmm_params (free()). */
#ifndef CMLX_CPU_QMM_H
#define CMLX_CPU_QMM_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/quant_formats.h"
#include "core/array.h"

typedef struct qmm_params {
  quant_mode mode;
  int group_size;
  int bits;
  bool transpose;
  bool gather;          /* GatherQMM: lhs, rhs indices are the last inputs */
  bool batched;         /* QuantizedMatmul: x and w share the batch axes */
  bool quantize_x;      /* QQMatmul */
  bool global_scales;   /* QQMatmul: global_scale_x, global_scale_w given */
} qmm_params;

int cpu_qmm_eval(node* n);

/* GatherMM (backend/cpu/gather_mm.c; no params): inputs a [..., M, K],
 * b [..., K, N] of the output's dtype (any real float), lhs, rhs uint32
 * indices of one shape I; output I + [M, N], item i = batch lhs[i] of a
 * times batch rhs[i] of b (clamped into range; missing batches give
 * zeros). float32/float64 through BLAS, half types widened to float32. */
int cpu_gather_mm_eval(node* n);

/* ---- raw-buffer interface (tests, benchmarks) ---- */

/* One quantized matrix as MLX stores it: `rows` rows of `cols` codes,
 * groups of group_size codes along each row. transpose = true: rows = N,
 * cols = K; false: rows = K, cols = N. Each row: cols*bits/32 words of w
 * (row stride w_ld words), cols/group_size scales (and biases) with row
 * stride s_ld elements. scale_dtype: affine float32/float16/bfloat16 (the
 * biases have it too), fp modes uint8. */
typedef struct qmm_matrix {
  quant_mode mode;
  int bits, group_size;
  int rows, cols;
  const uint32_t* w;
  int64_t w_ld;
  const void* scales;
  const void* biases;
  mlx_dtype scale_dtype;
  int64_t s_ld;
} qmm_matrix;

/* The reference: out[r, n] = sum_k x[r, k] * W(k, n) for r < m, with
 * W(k, n) = element n, k of the matrix (transpose) or k, n (not), each
 * dequantized in float32 as MLX does (scale * q + bias; element * scale),
 * summed in double. x: m x K float32 (row stride ldx); out: m x N float32
 * (row stride ldo). Slow and plain: what the fast kernels are checked
 * against. */
void cpu_qmm_reference(const qmm_matrix* w, bool transpose, const float* x, int64_t ldx, int m,
                       float* out, int64_t ldo);

/* The fast kernels on raw buffers: the same product with x of dtype
 * x_dtype (float32, float16, bfloat16) and out of out_dtype (same set),
 * rows m, threaded. Returns 0, or 1 with error_set() (out of memory). */
int cpu_qmm_run(const qmm_matrix* w, bool transpose, const void* x, mlx_dtype x_dtype,
                int64_t ldx, int m, void* out, mlx_dtype out_dtype, int64_t ldo);

/* Test hook: caps the instruction set the quantized kernels use (the
 * level actually used is min(cpu_isa(), cap)); returns the level in use. */
cpu_isa_level cpu_qmm_set_isa_cap(cpu_isa_level cap);

/* How many rows of x the streaming (matrix-vector) kernels take; above
 * it the weights are dequantized in tiles and multiplied by GEMM. */
#define QMM_STREAM_MAX_ROWS 8

#endif
