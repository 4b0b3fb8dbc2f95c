/* qmm.h - front-ends of the quantized matmuls (quantized_matmul,
 * gather_qmm, qqmm) and of gather_mm, the matmul with gathered batches.
 *
 * Same conventions as ops.h: each op_* validates its arguments in MLX
 * 0.32.2's order with MLX's messages, returns a new reference, or NULL
 * after error_set(). Inputs are borrowed; optional arrays and ints are
 * NULL when absent. Kernels: backend/cpu/qmm.c and backend/cpu/gather_mm.c. */
#ifndef CMLX_OPS_QMM_H
#define CMLX_OPS_QMM_H

#include <stdbool.h>

#include "core/array.h"

/* y = x @ dequantize(w)^T (transpose) or x @ dequantize(w). */
array* op_quantized_matmul(array* x, array* w, array* scales, array* biases, bool transpose,
                           const int* group_size, const int* bits, const char* mode, stream s);

/* The same product with the batch of x and of w picked by lhs_indices /
 * rhs_indices (flat indices into the batch axes; NULL = all batches). */
array* op_gather_qmm(array* x, array* w, array* scales, array* biases, array* lhs_indices,
                     array* rhs_indices, bool transpose, const int* group_size, const int* bits,
                     const char* mode, bool sorted_indices, stream s);

/* a @ b with the batches picked by lhs_indices / rhs_indices. */
array* op_gather_mm(array* a, array* b, array* lhs_indices, array* rhs_indices,
                    bool sorted_indices, stream s);

/* x quantized and dequantized in the fp mode, times w (quantized, or
 * float for MLX's general case, which its CPU does not implement). */
array* op_qqmm(array* x, array* w, array* w_scales, const int* group_size, const int* bits,
               const char* mode, array* global_scale_x, array* global_scale_w, stream s);

#endif
