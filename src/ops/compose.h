/* compose.h - bookkeeping for ops built from other ops.
 *
 * A composed op makes a chain of intermediate arrays; each must be released
 * whether the chain succeeds or an op in it fails (and has set the error).
 * Two styles, both leak-free on every path:
 *
 * - temps: keep() each intermediate in a temps list, build the result, then
 *   temps_finish(&t, out) releases them all and returns a new reference to
 *   out (NULL passes through). A NULL kept marks the list failed, so later
 *   steps can test t.failed instead of each input.
 * - consuming helpers (take_*): the op takes over its array arguments and
 *   releases them; a NULL argument (an earlier failure, already reported)
 *   makes the result NULL without calling the op. Suits expressions such
 *   as take_binary(ADD, take_unary(EXP, x), y).
 */
#ifndef CMLX_OPS_COMPOSE_H
#define CMLX_OPS_COMPOSE_H

#include <stdbool.h>

#include "core/error.h"
#include "ops/ops.h"

#define TEMPS_MAX 48

typedef struct temps {
  array* items[TEMPS_MAX];
  int n;
  bool failed;
} temps;

#define TEMPS_INIT {.n = 0, .failed = false}

/* Keeps a; NULL (a failed op) passes through and marks t failed. */
static inline array* keep(temps* t, array* a) {
  if (!a) {
    t->failed = true;
    return NULL;
  }
  if (t->n == TEMPS_MAX) {
    array_release(a);
    t->failed = true;
    error_set("[compose] Too many temporaries.");
    return NULL;
  }
  t->items[t->n++] = a;
  return a;
}

/* Releases every kept array (t can be reused afterwards). */
static inline void temps_release(temps* t) {
  for (int i = 0; i < t->n; i++) array_release(t->items[i]);
  t->n = 0;
  t->failed = false;
}

/* Releases the temporaries and returns a new reference to out (or NULL). */
static inline array* temps_finish(temps* t, array* out) {
  if (out) array_retain(out);
  temps_release(t);
  return out;
}

/* ---- consuming forms ---- */

static inline array* take_ref(array* a) {
  if (a) array_retain(a);
  return a;
}

static inline array* take_binary(int op, array* a, array* b, stream s) {
  array* out = a && b ? op_binary(op, a, b, s) : NULL;
  array_release(a);
  array_release(b);
  return out;
}

static inline array* take_unary(int op, array* a, stream s) {
  array* out = a ? op_unary(op, a, s) : NULL;
  array_release(a);
  return out;
}

static inline array* take_astype(array* a, mlx_dtype dtype, stream s) {
  array* out = a ? op_astype(a, dtype, s) : NULL;
  array_release(a);
  return out;
}

#endif
