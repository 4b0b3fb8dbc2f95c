/* creation.h - CPU kernels of the primitives that make arrays from
 * parameters (backend/cpu/creation.c), and the parameter blocks that
 * ops/creation.c fills for them. Every output is a fresh row-major array. */
#ifndef CMLX_CPU_CREATION_H
#define CMLX_CPU_CREATION_H

#include "core/array.h"

/* Arange: out[i] follows MLX's loop: v = T(start); step = T(start + step) - v;
 * out[i] = v; v += step (in T's arithmetic, so float rounding accumulates). */
typedef struct arange_params {
  double start, step;
} arange_params;

/* Linspace (num >= 2): t = arange(num) / (num - 1), out = (1 - t) * start +
 * t * stop, computed in float32 (float64 for a float64 output) and then
 * converted, one rounding per operation as MLX's graph of ops does. */
typedef struct linspace_params {
  double start, stop;
} linspace_params;

/* Eye, Tri, Tril, Triu: the diagonal offset k (column - row). */
typedef struct diag_params {
  int64_t k;
} diag_params;

/* Full: in: vals already cast to out's dtype and broadcast to its shape. */
int cpu_full_eval(node* n);
/* Arange / Linspace: no inputs; out: [size]. */
int cpu_arange_eval(node* n);
int cpu_linspace_eval(node* n);
/* Eye: out [n, m] with ones where col - row == k. Tri: ones where
 * col - row <= k. */
int cpu_eye_eval(node* n);
int cpu_tri_eval(node* n);
/* Tril / Triu: in: [..., n, m] any layout; out: in with the elements where
 * col - row > k (tril) or col - row < k (triu) set to zero. */
int cpu_tril_eval(node* n);
int cpu_triu_eval(node* n);

#endif
