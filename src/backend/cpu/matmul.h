/* matmul.h - the CPU kernels of the Matmul and AddMM primitives.
 *
 * Node layout (the front-ends in ops/linalg.c guarantee it):
 *   inputs[0] a: [..., M, K]   inputs[1] b: [..., K, N]
 *   inputs[2] c: [..., M, N]   (AddMM only; already broadcast to out's shape)
 *   out:         [..., M, N]   row-contiguous, allocated once by the kernel
 * a, b (and c) have out's dtype and out's batch shape; any strides (batch
 * broadcasting gives stride 0). out = alpha * a @ b + beta * c, with
 * alpha = 1, beta = 0 for Matmul. float32/float64/complex64 go straight
 * to OpenBLAS (sgemm/dgemm/cgemm), passing transposed or row-padded
 * matrices as they are; float16/bfloat16 are widened to float32, multiplied
 * by sgemm (float32 accumulation) and rounded once. */
#ifndef CMLX_CPU_MATMUL_H
#define CMLX_CPU_MATMUL_H

#include "core/array.h"

typedef struct matmul_params {
  float alpha;
  float beta;
} matmul_params;

/* Matmul: params NULL. AddMM: params is a matmul_params. */
int cpu_matmul_eval(node* n);

#endif
