/* cpu.h - the CPU backend's kernel entry points, one per primitive.
 * Each takes the node being evaluated: inputs are evaluated, outputs are
 * headers waiting for a buffer. They return 0, or 1 with error_set(). */
#ifndef CMLX_CPU_CPU_H
#define CMLX_CPU_CPU_H

#include "core/array.h"

/* copy.c */
int cpu_copy_eval(node* n);
int cpu_copy_into(array* out, array* in);

/* views.c: outputs that share their input's buffer */
int cpu_view_eval(node* n);

#endif
