/* cmlx: graph transforms. For now: evaluation. Closures, gradients and
 * compilation come later. */
#ifndef MLX_TRANSFORMS_H
#define MLX_TRANSFORMS_H

#include "mlx/c/array.h"
#include "mlx/c/vector.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Computes every array in outputs (and what they depend on). On failure the
 * arrays that could not be computed stay unevaluated. */
int mlx_eval(const mlx_vector_array outputs);
/* Same contract as mlx_eval; cmlx's CPU backend finishes before returning. */
int mlx_async_eval(const mlx_vector_array outputs);

#ifdef __cplusplus
}
#endif

#endif
