/* random.h - front-ends of the random ops (ops/random.c): keys, the global
 * key sequence, raw bits and the samplers built on them (uniform, normal,
 * randint, bernoulli, truncated_normal, gumbel, categorical, laplace,
 * permutation), plus searchsorted, which categorical needs.
 *
 * Like every op_* (ops/ops.h): validation with MLX's messages, in MLX's
 * order; a new reference or NULL after error_set(); inputs borrowed. `key`
 * may be NULL: the op then takes the next key of the calling thread's global
 * sequence (see random_seed). Samplers are composed from the same ops, in
 * the same order and dtypes, as MLX's random.cpp, so they give MLX's values. */
#ifndef CMLX_OPS_RANDOM_H
#define CMLX_OPS_RANDOM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/array.h"

/* key(seed) = uint32 [2] {seed >> 32, seed & 0xffffffff}, evaluated. */
array* op_random_key(uint64_t seed);
/* Reseeds the calling thread's global sequence with key(seed). Before the
 * first seed a thread's sequence starts from key(milliseconds since the
 * epoch), one value taken once per process, as MLX does. */
void random_seed(uint64_t seed);
/* The next key of the calling thread's sequence: (seq, sub) = split(seq);
 * returns sub (evaluated). */
array* random_next_key(void);

/* bits: shape of uint8 / uint16 / uint32 for width 1 / 2 / 4. */
array* op_random_bits(const int* shape, int ndim, int width, array* key, stream s);
/* split(key) -> two keys; split(key, num) -> uint32 [num, 2]. */
int op_random_split(array** first, array** second, array* key, stream s);
array* op_random_split_num(array* key, int num, stream s);

/* Uniform in [low, high) of a real floating dtype (float64: MLX's
 * "Unsupported type"); low - high must broadcast to exactly shape. */
array* op_random_uniform(array* low, array* high, const int* shape, int ndim,
                         mlx_dtype dtype, array* key, stream s);
/* Normal: loc and scale may be NULL (0 and 1). complex64 gives complex
 * samples (real and imaginary parts each N(0, 1/2)). */
array* op_random_normal(const int* shape, int ndim, mlx_dtype dtype, array* loc,
                        array* scale, array* key, stream s);
/* mlx-c's float form: loc 0 and scale 1 are left out, as MLX does. */
array* op_random_normal_scalar(const int* shape, int ndim, mlx_dtype dtype,
                               float loc, float scale, array* key, stream s);
array* op_random_randint(array* low, array* high, const int* shape, int ndim,
                         mlx_dtype dtype, array* key, stream s);
array* op_random_bernoulli(array* p, const int* shape, int ndim, array* key,
                           stream s);
array* op_random_truncated_normal(array* lower, array* upper, const int* shape,
                                  int ndim, mlx_dtype dtype, array* key,
                                  stream s);
array* op_random_gumbel(const int* shape, int ndim, mlx_dtype dtype, array* key,
                        stream s);
array* op_random_laplace(const int* shape, int ndim, mlx_dtype dtype, float loc,
                         float scale, array* key, stream s);

/* categorical: indices (uint32) drawn from softmax(logits) along axis.
 * _shape: the output shape, which must broadcast with logits' shape
 * without axis; _num_samples: that shape with num_samples appended; the
 * plain form: logits' shape without axis. */
array* op_random_categorical_shape(array* logits, int axis, const int* shape,
                                   int ndim, array* key, stream s);
array* op_random_categorical_num_samples(array* logits, int axis,
                                         int num_samples, array* key, stream s);
array* op_random_categorical(array* logits, int axis, array* key, stream s);

/* permutation of x along axis, and of arange(n) (uint32). */
array* op_random_permutation(array* x, int axis, array* key, stream s);
array* op_random_permutation_arange(int n, array* key, stream s);

/* MLX's searchsorted(sorted, values, side): uint32 indices with values'
 * shape; sorted must be 1-D. Not part of mlx-c's API yet. */
array* op_searchsorted(array* sorted, array* values, bool right, stream s);

#endif
