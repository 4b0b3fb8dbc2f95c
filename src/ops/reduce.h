/* reduce.h - front-ends of the reductions (ops/reduce.c) and the
 * cumulative ops (ops/cumulative.c).
 *
 * Like every op_* (see ops.h): they validate with MLX's messages, pick
 * MLX's output dtype, and return a new reference or NULL after
 * error_set(). Inputs are borrowed. `axes == NULL` means every axis (the
 * whole-array form; n_axes is then ignored). */
#ifndef CMLX_OPS_REDUCE_H
#define CMLX_OPS_REDUCE_H

#include <stdbool.h>

#include "backend/cpu/reduce.h"
#include "core/array.h"

/* sum, prod, max, min, all (REDUCE_AND), any (REDUCE_OR). */
array* op_reduce(reduce_kind kind, array* a, const int* axes, int n_axes,
                 bool keepdims, stream s);
array* op_mean(array* a, const int* axes, int n_axes, bool keepdims, stream s);
array* op_var(array* a, const int* axes, int n_axes, bool keepdims, int ddof,
              stream s);
array* op_std(array* a, const int* axes, int n_axes, bool keepdims, int ddof,
              stream s);
/* axis == NULL: over the flattened array. */
array* op_argreduce(arg_kind kind, array* a, const int* axis, bool keepdims,
                    stream s);
array* op_logsumexp(array* a, const int* axes, int n_axes, bool keepdims,
                    stream s);
array* op_softmax(array* a, const int* axes, int n_axes, bool precise,
                  stream s);
array* op_median(array* a, const int* axes, int n_axes, bool keepdims,
                 stream s);

/* The composed forms MLX falls back to (max, subtract, exp, sum...), built
 * from plain ops. Used for complex64 and by the tests as references. */
array* op_softmax_composed(array* a, const int* axes, int n_axes, bool precise,
                           stream s);
array* op_logsumexp_composed(array* a, const int* axes, int n_axes,
                             bool keepdims, stream s);

/* cumsum, cumprod, cummax, cummin, logcumsumexp along axis. */
array* op_scan(scan_kind kind, array* a, int axis, bool reverse,
               bool inclusive, stream s);

#endif
