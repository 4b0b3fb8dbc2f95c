/* copy.c - the Copy primitive (astype, copy, contiguous) and
 * array_copy_contiguous, used wherever a kernel or an export needs
 * row-contiguous data. */
#include "backend/cpu/elementwise.h"
#include "core/error.h"
#include "backend/cpu/cpu.h"

typedef struct copy_types {
  mlx_dtype dst, src;
} copy_types;

static void copy_inner(void* out, const void* const* in, const int64_t* st,
                       size_t n, const void* params) {
  const copy_types* t = params;
  ew_convert(out, t->dst, in[0], t->src, n, st[0]);
}

int cpu_copy_into(array* out, array* in) {
  copy_types t = {out->dtype, in->dtype};
  array* ins[1] = {in};
  ew_run(out, ins, 1, copy_inner, &t);
  return 0;
}

int cpu_copy_eval(node* n) {
  array* out = n->outputs[0];
  array* in = n->inputs[0];
  if (array_alloc_or_donate(out, &in, 1)) return 1;
  if (out->buf == in->buf) {
    /* donated: the data is already in place; only the dtype bits change
     * when the sizes agree and the types differ */
    if (out->dtype == in->dtype) return 0;
  }
  return cpu_copy_into(out, in);
}

array* array_copy_contiguous(const array* a, mlx_dtype dtype) {
  array* out = array_new_alloc(dtype, a->ndim, a->shape);
  if (!out) return NULL;
  cpu_copy_into(out, (array*)a);
  return out;
}
