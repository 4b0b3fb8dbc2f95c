/* sort.h - front-ends of sort, argsort, partition, argpartition and topk
 * (ops/sort.c; kernel in backend/cpu/sort.c).
 *
 * Like every op_* (see ops.h): MLX's checks and messages, a new reference
 * or NULL after error_set(); inputs are borrowed. `axis == NULL` is the
 * form without an axis, which works on the flattened array. Index results
 * are uint32. */
#ifndef CMLX_OPS_SORT_H
#define CMLX_OPS_SORT_H

#include "core/array.h"

array* op_sort(array* a, const int* axis, stream s);
array* op_argsort(array* a, const int* axis, stream s);
array* op_partition(array* a, int kth, const int* axis, stream s);
array* op_argpartition(array* a, int kth, const int* axis, stream s);
/* The k largest along the axis, in the order partition leaves them. */
array* op_topk(array* a, int k, const int* axis, stream s);

#endif
