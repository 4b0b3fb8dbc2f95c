/* moe.c - GPT-OSS's mixture-of-experts block (see moe.h): router top-k,
 * softmax over the chosen logits, clamped SwiGLU experts through
 * gather_mm / gather_qmm, optionally on (token, expert) pairs sorted by
 * expert. */
#include "models/moe.h"

#include <stdio.h>

#include "core/error.h"
#include "mlx/c/ops.h"
#include "mlx/c/vector.h"

static int fail(const char* fmt, int a, int b) {
  error_set(fmt, a, b);
  return api_fail();
}

static void drop(mlx_array* a) {
  if (a->ctx) mlx_array_free(*a);
  a->ctx = NULL;
}

/* A scalar of x's dtype (so it does not promote x). */
static int scalar_like(mlx_array* res, float v, const mlx_array x,
                       const mlx_stream s) {
  mlx_array f = mlx_array_new_float32(v);
  int rc = mlx_astype(res, f, mlx_array_dtype(x), s);
  mlx_array_free(f);
  return rc;
}

/* a[..., start:stop] */
static int slice_last(mlx_array* res, const mlx_array a, int start, int stop,
                      const mlx_stream s) {
  int nd = (int)mlx_array_ndim(a);
  int st[8], en[8], one[8];
  if (nd < 1 || nd > 8) {
    error_set("[moe] Arrays of %d dimensions are not supported.", nd);
    return api_fail();
  }
  for (int i = 0; i < nd; i++) {
    st[i] = 0;
    en[i] = mlx_array_dim(a, i);
    one[i] = 1;
  }
  st[nd - 1] = start;
  en[nd - 1] = stop;
  return mlx_slice(res, a, st, (size_t)nd, en, (size_t)nd, one, (size_t)nd, s);
}

static int check_block(const moe_block* b) {
  if (!b || !b->router.weight.ctx || !b->gate.weight.ctx ||
      !b->up.weight.ctx || !b->down.weight.ctx) {
    error_set("[moe] The block's router and expert weights must be set.");
    return api_fail();
  }
  if (b->num_experts <= 0 || b->top_k <= 0 || b->top_k > b->num_experts)
    return fail("[moe] top_k must be in [1, %d], got %d.", b->num_experts,
                b->top_k);
  return 0;
}

static int check_input(const moe_block* b, const mlx_array x) {
  int nd = x.ctx ? (int)mlx_array_ndim(x) : 0;
  if (nd < 1 || nd > 8) {
    error_set("[moe] The input must have 1 to 8 dimensions.");
    return api_fail();
  }
  int H = mlx_array_dim(x, nd - 1);
  if (H != b->router.in_features)
    return fail("[moe] The input has %d features, the block expects %d.", H,
                b->router.in_features);
  return 0;
}

int moe_route(mlx_array* indices, mlx_array* weights, const moe_block* b,
              const mlx_array x, const mlx_stream s) {
  if (check_block(b) || check_input(b, x)) return 1;
  int E = b->num_experts, k = b->top_k;
  mlx_array logits = mlx_array_new(), part = mlx_array_new();
  mlx_array idx = mlx_array_new(), vals = mlx_array_new();
  int rc = cmlx_linear_apply(&logits, &b->router, x, s);
  if (!rc && mlx_array_dim(logits, (int)mlx_array_ndim(logits) - 1) != E)
    rc = fail("[moe] The router gives %d logits, the block has %d experts.",
              mlx_array_dim(logits, (int)mlx_array_ndim(logits) - 1), E);
  /* the k largest logits sit at the end after partitioning at E - k */
  rc = rc || mlx_argpartition_axis(&part, logits, E - k, -1, s) ||
       slice_last(&idx, part, E - k, E, s) ||
       mlx_astype(&idx, idx, MLX_INT32, s) ||
       mlx_take_along_axis(&vals, logits, idx, -1, s) ||
       mlx_softmax_axis(&vals, vals, -1, true, s);
  if (!rc) rc = mlx_array_set(indices, idx) || mlx_array_set(weights, vals);
  drop(&logits);
  drop(&part);
  drop(&idx);
  drop(&vals);
  return rc;
}

int moe_swiglu(mlx_array* res, const mlx_array gate, const mlx_array up,
               float alpha, float limit, const mlx_stream s) {
  mlx_array hi = mlx_array_new(), lo = mlx_array_new(), one = mlx_array_new();
  mlx_array al = mlx_array_new(), none = mlx_array_new();
  mlx_array g = mlx_array_new(), u = mlx_array_new(), t = mlx_array_new();
  int rc = scalar_like(&hi, limit, gate, s) ||
           scalar_like(&lo, -limit, up, s) || scalar_like(&one, 1.0f, up, s) ||
           scalar_like(&al, alpha, gate, s) ||
           mlx_clip(&g, gate, none, hi, s) ||
           mlx_clip(&u, up, lo, hi, s) ||
           mlx_multiply(&t, g, al, s) || mlx_sigmoid(&t, t, s) ||
           mlx_multiply(&t, g, t, s) || mlx_add(&u, u, one, s) ||
           mlx_multiply(res, t, u, s);
  drop(&hi);
  drop(&lo);
  drop(&one);
  drop(&al);
  drop(&g);
  drop(&u);
  drop(&t);
  return rc;
}

int moe_experts(mlx_array* res, const moe_block* b, const mlx_array x,
                const mlx_array indices, moe_sort sort, const mlx_stream s) {
  if (check_block(b) || check_input(b, x)) return 1;
  int nd = (int)mlx_array_ndim(x);
  int H = mlx_array_dim(x, nd - 1);
  bool ok = indices.ctx && (int)mlx_array_ndim(indices) == nd;
  for (int i = 0; ok && i < nd - 1; i++)
    ok = mlx_array_dim(indices, i) == mlx_array_dim(x, i);
  if (!ok) {
    char b1[96], b2[96];
    error_set("[moe] Expert indices of shape %s do not match the input of "
              "shape %s (expected the input's leading dimensions and k).",
              indices.ctx ? error_format_shape(b1, sizeof b1,
                                               mlx_array_shape(indices),
                                               (int)mlx_array_ndim(indices))
                          : "(none)",
              error_format_shape(b2, sizeof b2, mlx_array_shape(x), nd));
    return api_fail();
  }
  int k = mlx_array_dim(indices, nd - 1);
  if (k < 1) {
    error_set("[moe] At least one expert per token must be chosen.");
    return api_fail();
  }
  size_t pairs = mlx_array_size(indices);
  bool sorted = sort == MOE_SORT_ALWAYS ||
                (sort == MOE_SORT_AUTO && pairs >= MOE_SORT_MIN_PAIRS);

  mlx_array xs = mlx_array_new(), idx = mlx_array_new();
  mlx_array inv = mlx_array_new(), order = mlx_array_new();
  mlx_array kk = mlx_array_new_int(k);
  mlx_array g = mlx_array_new(), u = mlx_array_new(), y = mlx_array_new();
  int rc = 0;
  if (sorted) {
    /* pair p = token * k + j; sorting by expert keeps each expert's rows
     * together; inv puts the results back */
    int flat[1] = {(int)pairs};
    int rows[3] = {(int)(pairs / (size_t)k), 1, H};
    rc = mlx_reshape(&idx, indices, flat, 1, s) ||
         mlx_argsort(&order, idx, s) ||
         mlx_astype(&order, order, MLX_INT32, s) ||
         mlx_argsort(&inv, order, s) ||
         mlx_take(&idx, idx, order, s) ||
         mlx_floor_divide(&order, order, kk, s) ||
         mlx_reshape(&xs, x, rows, 3, s) ||
         mlx_take_axis(&xs, xs, order, 0, s);
  } else {
    int axes[2] = {-2, -3};
    rc = mlx_expand_dims_axes(&xs, x, axes, 2, s) ||
         mlx_array_set(&idx, indices);
  }
  rc = rc || cmlx_linear_gather_apply(&g, &b->gate, xs, idx, sorted, s) ||
       cmlx_linear_gather_apply(&u, &b->up, xs, idx, sorted, s) ||
       moe_swiglu(&g, g, u, b->alpha, b->limit, s) ||
       cmlx_linear_gather_apply(&y, &b->down, g, idx, sorted, s);
  if (!rc && sorted) {
    /* [pairs, 1, H] -> token order -> [..., k, 1, H] */
    int shape[10];
    for (int i = 0; i < nd; i++) shape[i] = mlx_array_dim(indices, i);
    shape[nd] = 1;
    shape[nd + 1] = H;
    rc = mlx_take_axis(&y, y, inv, 0, s) ||
         mlx_reshape(&y, y, shape, (size_t)nd + 2, s);
  }
  rc = rc || mlx_squeeze_axis(res, y, -2, s);
  drop(&xs);
  drop(&idx);
  drop(&inv);
  drop(&order);
  drop(&kk);
  drop(&g);
  drop(&u);
  drop(&y);
  return rc;
}

int moe_apply(mlx_array* res, const moe_block* b, const mlx_array x,
              moe_sort sort, const mlx_stream s) {
  mlx_array idx = mlx_array_new(), w = mlx_array_new(), y = mlx_array_new();
  int rc = moe_route(&idx, &w, b, x, s) ||
           moe_experts(&y, b, x, idx, sort, s) ||
           mlx_expand_dims(&w, w, -1, s) || mlx_multiply(&y, y, w, s) ||
           mlx_sum_axis(res, y, -2, false, s);
  drop(&idx);
  drop(&w);
  drop(&y);
  return rc;
}
