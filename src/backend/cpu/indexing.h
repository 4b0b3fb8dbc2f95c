/* indexing.h - CPU kernel entry points of the indexing primitives (their
 * front-ends are in ops/indexing.c; parameters in ops/indexing.h).
 *
 * Contract: inputs are evaluated; index arrays are of an integer type and,
 * where there are several, share one shape (the front-end broadcast them);
 * value/update inputs have the output's dtype. Outputs of the scatter-like
 * primitives start as a copy of their first input (taking its buffer when
 * it dies with this node). They return 0, or 1 with error_set(). */
#ifndef CMLX_CPU_INDEXING_H
#define CMLX_CPU_INDEXING_H

#include "core/array.h"

/* inputs: src, idx_1..idx_k; out: idx_shape + slice_sizes (row-major). */
int cpu_gather_eval(node* n);
/* inputs: src, idx (src's shape but along axis); out: idx's shape. */
int cpu_gather_axis_eval(node* n);
/* inputs: a, idx_1..idx_k, updates [idx_shape + update_shape]; out: a. */
int cpu_scatter_eval(node* n);
/* inputs: a, idx, updates (idx's shape); out: a's shape. */
int cpu_scatter_axis_eval(node* n);
/* inputs: src, update (the slice's shape); out: src's shape. */
int cpu_slice_update_eval(node* n);
/* inputs: a, start (0-d or 1-d); out: a view of a of the slice's shape. */
int cpu_dynamic_slice_eval(node* n);
/* inputs: src, update, start; out: src's shape. */
int cpu_dynamic_slice_update_eval(node* n);
/* inputs: a, mask (a.shape[:mask.ndim], bool), values [N, a.shape[mask.ndim:]];
 * out: a with masked positions filled from values in row-major order. */
int cpu_masked_scatter_eval(node* n);

#endif
