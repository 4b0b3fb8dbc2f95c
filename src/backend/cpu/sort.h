/* sort.h - the CPU kernel of sort, argsort, partition and argpartition
 * (front-ends in ops/sort.c).
 *
 * Contract: one evaluated input of any dtype and layout; one output of the
 * input's shape, with the input's dtype (values) or uint32 (indices). Each
 * row along params.axis is handled on its own:
 * - SORT_VALUES / SORT_INDICES: a stable sort, NaN after every number, so
 *   the result is the one std::stable_sort gives MLX;
 * - PARTITION_VALUES / PARTITION_INDICES: the element that belongs at kth
 *   lands there, smaller ones before it, larger after. The arrangement of
 *   the two sides is the one libstdc++'s std::nth_element (introselect)
 *   produces, which is what MLX's CPU backend returns on Linux.
 * Indices compare by value, then by index. Returns 0, or 1 with
 * error_set(). */
#ifndef CMLX_CPU_SORT_H
#define CMLX_CPU_SORT_H

#include "core/array.h"

typedef enum sort_kind {
  SORT_VALUES,
  SORT_INDICES,
  PARTITION_VALUES,
  PARTITION_INDICES,
} sort_kind;

typedef struct sort_params {
  sort_kind kind;
  int axis; /* in [0, ndim) */
  int kth;  /* partitions: in [0, shape[axis]) */
} sort_params;

int cpu_sort_eval(node* n);

#endif
