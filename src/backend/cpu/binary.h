/* binary.h - CPU kernel entry points of the binary elementwise family
 * (one per member of BINARY_OP_LIST), DivMod and Select (where).
 *
 * Contract shared by all of them: the node's inputs are evaluated and have
 * the output's shape (the front-end broadcast them) and, except for
 * Select's condition, the same dtype (the front-end cast them). Outputs get
 * fresh memory or a dying input's buffer. They return 0, or 1 with
 * error_set(). */
#ifndef CMLX_CPU_BINARY_H
#define CMLX_CPU_BINARY_H

#include "core/array.h"
#include "ops/binary_list.h"

#define CPU_BINARY_DECLARE(ID, name, prim, rule, cerr) \
  int cpu_##name##_eval(node* n);
BINARY_OP_LIST(CPU_BINARY_DECLARE)
#undef CPU_BINARY_DECLARE

/* inputs: a, b; outputs: quotient, remainder (MLX's DivMod). */
int cpu_divmod_eval(node* n);
/* inputs: condition (bool), x, y; output: condition ? x : y. */
int cpu_select_eval(node* n);

#endif
