/* linalg.h - front-ends of the linear-algebra ops (matmul, addmm, inner,
 * outer, tensordot, einsum) and of the whole-array comparisons
 * (array_equal, allclose, isclose).
 *
 * Same contract as ops/ops.h: each op_* validates with MLX's messages and
 * returns a new reference, or NULL after error_set(); inputs are borrowed.
 * Kernels: backend/cpu/matmul.c. */
#ifndef CMLX_OPS_LINALG_H
#define CMLX_OPS_LINALG_H

#include <stdbool.h>

#include "core/array.h"

/* ---- products (ops/linalg.c) ---- */
array* op_matmul(array* a, array* b, stream s);
/* beta * c + alpha * (a @ b) */
array* op_addmm(array* c, array* a, array* b, float alpha, float beta, stream s);
array* op_inner(array* a, array* b, stream s);
array* op_outer(array* a, array* b, stream s);
array* op_tensordot(array* a, array* b, const int* axes_a, int n_a,
                    const int* axes_b, int n_b, stream s);
array* op_tensordot_axis(array* a, array* b, int axis, stream s);

/* ---- einsum (ops/einsum.c) ---- */
array* op_einsum(const char* subscripts, array* const* operands, int n, stream s);

/* ---- whole-array comparisons (ops/linalg.c) ---- */
array* op_isclose(array* a, array* b, double rtol, double atol, bool equal_nan,
                  stream s);
array* op_allclose(array* a, array* b, double rtol, double atol, bool equal_nan,
                   stream s);
array* op_array_equal(array* a, array* b, bool equal_nan, stream s);

#endif
