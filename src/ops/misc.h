/* misc.h - front-ends of number_of_elements, the windows (hanning,
 * hamming, blackman, bartlett) and hadamard_transform (ops/misc.c).
 *
 * Like every op_* (see ops.h): MLX's checks and messages, a new reference
 * or NULL after error_set(); inputs are borrowed. */
#ifndef CMLX_OPS_MISC_H
#define CMLX_OPS_MISC_H

#include <stdbool.h>

#include "core/array.h"

/* The product of the sizes of the axes (or its inverse) as a 0-d array of
 * dtype, computed now. */
array* op_number_of_elements(array* a, const int* axes, int n, bool inverted, mlx_dtype dtype,
                             stream s);

typedef enum window_kind {
  WINDOW_HANNING,
  WINDOW_HAMMING,
  WINDOW_BLACKMAN,
  WINDOW_BARTLETT
} window_kind;
/* M float32 samples of the window (empty for M < 1). */
array* op_window(window_kind kind, int M, stream s);

/* scale == NULL: 1/sqrt(n) with n the last axis's size. */
array* op_hadamard_transform(array* a, const float* scale, stream s);

#endif
