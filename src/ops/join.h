/* join.h - front-ends of the joining and layout ops (ops/join.c):
 * concatenate, stack, split, tile, repeat, pad, roll, diag, diagonal,
 * trace, meshgrid and kron.
 *
 * Like every op_* (see ops.h): they validate with MLX's messages (same
 * order), promote dtypes as MLX does and return a new reference, or NULL
 * after error_set(). Inputs are borrowed. Ops that return several arrays
 * return a malloc'd list of new references (the caller releases each and
 * frees the list) and store its length in *n_out. */
#ifndef CMLX_OPS_JOIN_H
#define CMLX_OPS_JOIN_H

#include <stdbool.h>

#include "core/array.h"

array* op_concatenate(array* const* arrays, int n, int axis, stream s);
/* The flattened arrays joined (mlx_concatenate without an axis). */
array* op_concatenate_flat(array* const* arrays, int n, stream s);
array* op_stack(array* const* arrays, int n, int axis, stream s);

array** op_split(array* a, int num_splits, int axis, int* n_out, stream s);
array** op_split_sections(array* a, const int* indices, int n, int axis, int* n_out,
                          stream s);

array* op_tile(array* a, const int* reps, int n, stream s);
array* op_repeat(array* a, int repeats, int axis, stream s);
/* Repeats each element of the flattened array. */
array* op_repeat_flat(array* a, int repeats, stream s);

/* mode: "constant", "edge", "reflect" or "symmetric"; pad_value is used by
 * "constant" (cast to a's dtype). */
array* op_pad(array* a, const int* axes, int n_axes, const int* low, int n_low,
              const int* high, int n_high, array* pad_value, const char* mode, stream s);
/* Every axis padded by width on both sides. */
array* op_pad_all(array* a, int width, array* pad_value, const char* mode, stream s);

/* shift[i] applies to axes[i]; extra shifts are ignored. */
array* op_roll(array* a, const int* shift, int n_shift, const int* axes, int n_axes,
               stream s);
/* The flattened array rolled by the sum of the shifts, then reshaped back. */
array* op_roll_flat(array* a, const int* shift, int n_shift, stream s);
/* One axis rolled by the sum of the shifts. */
array* op_roll_axis(array* a, const int* shift, int n_shift, int axis, stream s);

array* op_diagonal(array* a, int offset, int axis1, int axis2, stream s);
array* op_diag(array* a, int k, stream s);
array* op_trace(array* a, int offset, int axis1, int axis2, mlx_dtype dtype, stream s);

/* indexing: "xy" or "ij". */
array** op_meshgrid(array* const* arrays, int n, bool sparse, const char* indexing,
                    int* n_out, stream s);
array* op_kron(array* a, array* b, stream s);

#endif
