/* unary.h - the CPU kernel entry point of the unary elementwise family
 * (every member of UNARY_OP_LIST and UNARY_EXTRA_LIST in ops/unary_list.h)
 * and the parameters its nodes carry.
 *
 * Contract: the node has one evaluated input and one output of the same
 * shape. The front-end has already cast the input to the type the kernel
 * computes in (for example float32 for exp of an int32 array), so each
 * kernel maps an input dtype to the output dtype the front-end chose.
 * The output gets fresh memory or the input's buffer when the input dies
 * with this node. Returns 0, or 1 with error_set(). */
#ifndef CMLX_CPU_UNARY_H
#define CMLX_CPU_UNARY_H

#include "core/array.h"
#include "ops/unary_list.h"

/* A unary node's params (owned by the node; free() frees them).
 * value[] is used by
 *   UNARY_ROUND_DECIMALS: {10^decimals, 1/10^decimals}, both float32 values
 *                         (MLX computes them in float);
 *   UNARY_NAN_TO_NUM:     {nan, posinf, neginf} replacements, float32 values.
 * The kernel rounds them to the computing dtype, as MLX's scalar arrays
 * of that dtype do. */
typedef struct unary_params {
  unary_op op;
  double value[3];
} unary_params;

int cpu_unary_eval(node* n);

#endif
