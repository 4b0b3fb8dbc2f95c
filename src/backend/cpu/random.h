/* random.h - CPU kernels of the random primitives (backend/cpu/random.c):
 * RandomBits, MLX's counter-mode Threefry-2x32 generator, and SearchSorted,
 * the binary search that random.categorical's inverse-CDF sampler uses.
 * Also the plain host functions behind them, which ops/random.c calls for
 * the global key sequence and the tests call as references. */
#ifndef CMLX_CPU_RANDOM_H
#define CMLX_CPU_RANDOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/array.h"

/* Threefry-2x32 with 20 rounds: hashes the counter pair (x[0], x[1]) under
 * the key (k0, k1), in place. */
void random_threefry2x32(uint32_t k0, uint32_t k1, uint32_t x[2]);

/* The `bytes` random bytes one key gives, in MLX's layout: with W =
 * ceil(bytes / 4) words, h = W / 2 and odd = W % 2, the pair of words
 * (i, h + odd + i) is threefry(key, (i, h + odd + i)) for i < h, and when W
 * is odd word h is the first half of threefry(key, (h, 0)). Words are
 * stored little-endian and the last one is cut to what fits. out needs no
 * alignment. Large outputs are spread over the thread pool. */
void random_bits_fill(uint32_t k0, uint32_t k1, void* out, size_t bytes);

/* RandomBits: in: keys uint32 [..., 2], any layout; out: [..., shape] of
 * uint8/uint16/uint32 (the width), row-major. The output's leading axes
 * are the keys' batch axes; each key fills out->size / (keys) elements
 * with random_bits_fill. No params. */
int cpu_random_bits_eval(node* n);

/* SearchSorted: in[0]: a 1-D sorted sequence, in[1]: values, both of one
 * real dtype, any layout; out: uint32, values' shape, row-major: for each
 * value the first index i with value < seq[i] (right) or value <= seq[i]
 * (left), NaN ordered after everything (MLX's nan-aware comparison). */
typedef struct searchsorted_params {
  bool right;
} searchsorted_params;

int cpu_searchsorted_eval(node* n);

#endif
