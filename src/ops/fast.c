/* fast.c - front-ends of the fused ops: scaled dot-product attention,
 * rms_norm, layer_norm and rope (see fast.h).
 *
 * Validation follows MLX's fast.cpp check by check, in its order and with
 * its texts. Each op then either makes one fused node (kernels in
 * backend/cpu/sdpa.c, norm.c, rope.c) or builds MLX's own composition of
 * plain ops, which is what MLX itself evaluates on the CPU; the composed
 * forms are kept as references for the tests. Both start from the same
 * validated, cast inputs, so they differ only in rounding. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/norm.h"
#include "backend/cpu/rope.h"
#include "backend/cpu/sdpa.h"
#include "core/error.h"
#include "ops/binary_list.h"
#include "ops/compose.h"
#include "ops/fast.h"
#include "ops/join.h"
#include "ops/linalg.h"
#include "ops/ops.h"
#include "ops/reduce.h"
#include "ops/unary_list.h"

static const primitive prim_sdpa = {"ScaledDotProductAttention", cpu_sdpa_eval, NULL, NULL};
static const primitive prim_rms_norm = {"RMSNorm", cpu_norm_eval, NULL, NULL};
static const primitive prim_layer_norm = {"LayerNorm", cpu_norm_eval, NULL, NULL};
static const primitive prim_rope = {"RoPE", cpu_rope_eval, NULL, NULL};

#define SDPA "[scaled_dot_product_attention] "

/* dst = expr, kept; on failure jump to `done`. */
#define TRY(dst, expr)                     \
  do {                                     \
    if (!((dst) = keep(&t, (expr)))) goto done; \
  } while (0)

static array* retained(array* a) {
  array_retain(a);
  return a;
}

/* MLX's finfo(t).min: the lowest finite value of a floating dtype. */
static double lowest_finite(mlx_dtype t) {
  switch (t) {
    case MLX_FLOAT16: return -65504.0;
    case MLX_BFLOAT16: return -3.38953138925153547590470800371487866880e38;
    case MLX_FLOAT64: return -DBL_MAX;
    default: return -FLT_MAX;
  }
}

/* ========================================================================
 * scaled_dot_product_attention
 * ===================================================================== */

/* Validated inputs: q, k, v cast to the result type; the mask cast (unless
 * boolean) and broadcast to [B, N_q, T_q, T_kv]; the sinks cast. */
typedef struct sdpa_inputs {
  array *q, *k, *v, *mask, *sinks; /* owned; mask and sinks may be NULL */
  bool causal;
  mlx_dtype dtype;
} sdpa_inputs;

static void sdpa_inputs_release(sdpa_inputs* in) {
  array_release(in->q);
  array_release(in->k);
  array_release(in->v);
  array_release(in->mask);
  array_release(in->sinks);
}

static int sdpa_prepare(sdpa_inputs* in, array* q, array* k, array* v, const char* mode,
                        array* mask, array* sinks, stream s) {
  char sa[256], sb[256];
  memset(in, 0, sizeof *in);
  array* qkv[3] = {q, k, v};
  for (int i = 0; i < 3; i++)
    if (qkv[i]->ndim != 4)
      return error_set(SDPA "input with shape %s expected to be rank 4",
                       error_format_shape(sa, sizeof sa, qkv[i]->shape, qkv[i]->ndim));
  if (!mode) mode = "";
  if (strcmp(mode, "") && strcmp(mode, "causal") && strcmp(mode, "array"))
    return error_set(SDPA "Invalid mask_mode %s. mask_mode must be 'causal', 'array' or ''.",
                     mode);
  bool causal = strcmp(mode, "causal") == 0;
  if (causal && mask)
    return error_set(SDPA "Invalid mask_arr for mask_mode 'casusal'. No array mask should "
                          "be passed.");
  if (causal) mask = NULL;
  if (mask && mask->ndim > 4)
    return error_set(SDPA "the mask with shape %s expected to have at most rank 4.",
                     error_format_shape(sa, sizeof sa, mask->shape, mask->ndim));
  for (int i = 1; i < 3; i++)
    if (qkv[i]->shape[0] != q->shape[0])
      return error_set(SDPA "mismatching batch dimension for input with shape %s.",
                       error_format_shape(sa, sizeof sa, qkv[i]->shape, 4));
  if (q->shape[3] != k->shape[3])
    return error_set(SDPA "query, keys expected to have matching last dimension; found query "
                          "shape %s for keys shape %s.",
                     error_format_shape(sa, sizeof sa, q->shape, 4),
                     error_format_shape(sb, sizeof sb, k->shape, 4));
  if (k->shape[1] != v->shape[1])
    return error_set(SDPA "keys, values expected to have matching n_kv_heads; found keys with "
                          "n_heads %d for values with n_heads %d.",
                     k->shape[1], v->shape[1]);
  int nq = q->shape[1], nkv = k->shape[1];
  /* MLX divides by n_kv_heads here; zero kv heads only work with zero
   * query heads */
  if (nkv == 0 ? nq != 0 : nq % nkv != 0)
    return error_set(SDPA "n_heads must be a multiple of n_kv_heads, found n_heads %d for "
                          "n_kv_heads %d.",
                     nq, nkv);
  mlx_dtype t = dtype_promote(dtype_promote(q->dtype, k->dtype), v->dtype);
  if (!dtype_is_floating(t))
    return error_set(SDPA "Received unsupported type %s.", dtype_name(t));
  in->dtype = t;
  in->causal = causal;
  if (!(in->q = op_astype(q, t, s)) || !(in->k = op_astype(k, t, s)) ||
      !(in->v = op_astype(v, t, s)))
    return 1;
  if (mask) {
    if (dtype_promote(mask->dtype, t) != t)
      return error_set(SDPA "Mask type must promote to output type %s.", dtype_name(t));
    array* m = mask->dtype == MLX_BOOL ? retained(mask) : op_astype(mask, t, s);
    if (!m) return 1;
    int shape[4] = {q->shape[0], nq, q->shape[2], k->shape[2]};
    in->mask = op_broadcast_to(m, shape, 4, s);
    array_release(m);
    if (!in->mask) return 1;
  }
  if (sinks) {
    if (dtype_promote(sinks->dtype, t) != t)
      return error_set(SDPA "Type of sinks must promote to output type %s.", dtype_name(t));
    if (sinks->ndim != 1 || sinks->shape[0] != nq)
      return error_set(SDPA "Received invalid shape for sinks %s.",
                       error_format_shape(sa, sizeof sa, sinks->shape, sinks->ndim));
    if (!(in->sinks = op_astype(sinks, t, s))) return 1;
  }
  return 0;
}

/* MLX's fallback: q is scaled in its own dtype, the scores are a matmul,
 * masks apply as where(mask, scores, finfo.min) or scores + mask, sinks are
 * an extra first column of the scores, softmax is precise, and the sink
 * column is dropped before the product with v. Query heads are grouped
 * [B, N_kv, R, T_q, D] against k and v expanded to [B, N_kv, 1, T, D]. */
static array* sdpa_compose(const sdpa_inputs* in, float scale, stream s) {
  temps t = {.n = 0};
  array* out = NULL;
  int nq = in->q->shape[1], nkv = in->k->shape[1];
  int repeats = nkv > 0 ? nq / nkv : 1;
  array *sc, *q, *k = in->k, *v = in->v, *kt, *scores;
  TRY(sc, op_scalar(scale, in->dtype));
  TRY(q, op_binary(BINARY_MULTIPLY, sc, in->q, s));
  if (repeats > 1) {
    int groups[2] = {nkv, repeats}, axis = 2;
    TRY(q, op_unflatten(q, 1, groups, 2, s));
    TRY(k, op_expand_dims_axes(k, &axis, 1, s));
    TRY(v, op_expand_dims_axes(v, &axis, 1, s));
  }
  TRY(kt, op_swapaxes(k, -1, -2, s));
  TRY(scores, op_matmul(q, kt, s));
  if (in->causal || in->mask) {
    array* m = in->mask;
    if (in->causal) {
      int k_len = k->shape[k->ndim - 2], q_len = q->shape[q->ndim - 2];
      int offset = k_len - q_len, ax1 = 1, ax0 = 0;
      array *qi, *ki;
      TRY(qi, op_arange(offset, (double)q_len + offset, 1, MLX_INT32, s));
      TRY(ki, op_arange(0, k_len, 1, MLX_INT32, s));
      TRY(qi, op_expand_dims_axes(qi, &ax1, 1, s));
      TRY(ki, op_expand_dims_axes(ki, &ax0, 1, s));
      TRY(m, op_binary(BINARY_GREATER_EQUAL, qi, ki, s));
    }
    if (repeats > 1 && m->ndim >= 3) {
      int groups[2] = {nkv, repeats}, axis = -3;
      if (m->shape[m->ndim - 3] == 1) TRY(m, op_expand_dims_axes(m, &axis, 1, s));
      else TRY(m, op_unflatten(m, -3, groups, 2, s));
    }
    if (m->dtype == MLX_BOOL) {
      array* lo;
      TRY(lo, op_scalar(lowest_finite(scores->dtype), scores->dtype));
      TRY(scores, op_where(m, scores, lo, s));
    } else {
      TRY(scores, op_binary(BINARY_ADD, scores, m, s));
    }
  }
  if (in->sinks) {
    int axes[3] = {0, 2, 3}, groups[2] = {nkv, repeats};
    array *sk, *parts[2];
    TRY(sk, op_expand_dims_axes(in->sinks, axes, 3, s));
    if (scores->ndim == 5) TRY(sk, op_unflatten(sk, 1, groups, 2, s));
    int shape[5];
    memcpy(shape, scores->shape, sizeof(int) * (size_t)scores->ndim);
    shape[scores->ndim - 1] = 1;
    TRY(parts[0], op_broadcast_to(sk, shape, scores->ndim, s));
    parts[1] = scores;
    TRY(scores, op_concatenate(parts, 2, -1, s));
  }
  int last = -1;
  TRY(scores, op_softmax(scores, &last, 1, true, s));
  if (in->sinks) {
    int nd = scores->ndim, start[5] = {0}, step[5] = {1, 1, 1, 1, 1};
    start[nd - 1] = 1;
    TRY(scores, op_slice(scores, start, scores->shape, step, s));
  }
  TRY(out, op_matmul(scores, v, s));
  if (repeats > 1) TRY(out, op_flatten(out, 1, 2, s));
done:
  return temps_finish(&t, out);
}

array* op_fast_sdpa_composed(array* q, array* k, array* v, float scale, const char* mask_mode,
                             array* mask, array* sinks, stream s) {
  sdpa_inputs in;
  array* out = NULL;
  if (!sdpa_prepare(&in, q, k, v, mask_mode, mask, sinks, s)) out = sdpa_compose(&in, scale, s);
  sdpa_inputs_release(&in);
  return out;
}

array* op_fast_sdpa(array* q, array* k, array* v, float scale, const char* mask_mode,
                    array* mask, array* sinks, stream s) {
  sdpa_inputs in;
  array* out = NULL;
  if (sdpa_prepare(&in, q, k, v, mask_mode, mask, sinks, s)) goto done;
  /* the kernel covers float32/float16/bfloat16 with matching key and value
   * lengths; MLX's composition handles the rest (and reports matmul's
   * error for the mismatch, as MLX does) */
  if (in.dtype == MLX_FLOAT64 || in.k->shape[2] != in.v->shape[2]) {
    out = sdpa_compose(&in, scale, s);
    goto done;
  }
  sdpa_params* p = malloc(sizeof *p);
  if (!p) {
    error_set("[scaled_dot_product_attention] Out of memory.");
    goto done;
  }
  *p = (sdpa_params){scale, in.causal, in.mask != NULL, in.sinks != NULL};
  array* inputs[5] = {in.q, in.k, in.v};
  int n = 3;
  if (in.mask) inputs[n++] = in.mask;
  if (in.sinks) inputs[n++] = in.sinks;
  int shape[4] = {in.q->shape[0], in.q->shape[1], in.q->shape[2], in.v->shape[3]};
  out = array_new_op(in.dtype, 4, shape, &prim_sdpa, p, inputs, n, s);
done:
  sdpa_inputs_release(&in);
  return out;
}

/* ========================================================================
 * rms_norm and layer_norm
 * ===================================================================== */

/* Checks one 1-D parameter (weight or bias) against x. `what` is MLX's
 * name for it in the message ("(*weight)" in rms_norm). */
static int norm_check_param(const char* op, const char* what, const array* p, const array* x) {
  if (p->ndim != 1)
    return error_set("[%s] %s must have 1 dimension but has %d dimensions.", op, what, p->ndim);
  if (p->size != (size_t)x->shape[x->ndim - 1])
    return error_set("[%s] %s must have the same size as the last dimension of x but has %zu "
                     "elements.",
                     op, what, p->size);
  return 0;
}

/* Validated norm inputs: the output dtype and weight/bias cast to it. */
typedef struct norm_inputs {
  array *x, *weight, *bias; /* x borrowed; weight and bias owned or NULL */
  mlx_dtype dtype;
} norm_inputs;

static void norm_inputs_release(norm_inputs* in) {
  array_release(in->weight);
  array_release(in->bias);
}

static int norm_prepare(norm_inputs* in, const char* op, array* x, array* weight, array* bias,
                        stream s) {
  memset(in, 0, sizeof *in);
  in->x = x;
  if (x->ndim == 0)
    return error_set("[%s] Input must have at least 1 dimension but got input with 0 "
                     "dimensions.",
                     op);
  const char* wname = strcmp(op, "rms_norm") == 0 ? "(*weight)" : "weight";
  if (weight && norm_check_param(op, wname, weight, x)) return 1;
  if (bias && norm_check_param(op, "bias", bias, x)) return 1;
  /* MLX: result_type(x, weight[, bias]); without a weight, x's dtype (a
   * bias alone does not take part) */
  mlx_dtype t = x->dtype;
  if (weight) {
    t = dtype_promote(t, weight->dtype);
    if (bias) t = dtype_promote(t, bias->dtype);
  }
  if (!dtype_is_floating(t))
    return error_set("[%s] Received unsupported type %s.", op, dtype_name(t));
  in->dtype = t;
  if (weight && !(in->weight = op_astype(weight, t, s))) return 1;
  if (bias && !(in->bias = op_astype(bias, t, s))) return 1;
  return 0;
}

/* MLX's fallback: statistics of float32 x, normalised in float32, cast to
 * the output dtype, then * weight and + bias in that dtype. */
static array* norm_compose(const norm_inputs* in, bool layer, float eps, stream s) {
  temps t = {.n = 0};
  array* out = NULL;
  int last = -1;
  array *x, *e, *sq, *ms, *r, *y;
  TRY(x, op_astype(in->x, MLX_FLOAT32, s));
  if (layer) {
    array* mu;
    TRY(mu, op_mean(x, &last, 1, true, s));
    TRY(x, op_binary(BINARY_SUBTRACT, x, mu, s));
  }
  TRY(sq, op_unary(UNARY_SQUARE, x, s));
  TRY(ms, op_mean(sq, &last, 1, true, s));
  TRY(e, op_scalar(eps, MLX_FLOAT32));
  TRY(ms, op_binary(BINARY_ADD, ms, e, s));
  TRY(r, op_unary(UNARY_RSQRT, ms, s));
  TRY(y, op_binary(BINARY_MULTIPLY, x, r, s));
  TRY(y, op_astype(y, in->dtype, s));
  if (in->weight) TRY(y, op_binary(BINARY_MULTIPLY, y, in->weight, s));
  if (in->bias) TRY(y, op_binary(BINARY_ADD, y, in->bias, s));
  out = y;
done:
  return temps_finish(&t, out);
}

static array* norm_fused(const norm_inputs* in, const primitive* prim, bool layer, float eps,
                         stream s) {
  /* the kernel reads float32/float16/bfloat16 rows; MLX's fallback starts
   * with astype(x, float32), which the others get here */
  mlx_dtype xt = in->x->dtype;
  bool direct = xt == MLX_FLOAT32 || xt == MLX_FLOAT16 || xt == MLX_BFLOAT16;
  array* x = direct ? retained(in->x) : op_astype(in->x, MLX_FLOAT32, s);
  if (!x) return NULL;
  norm_params* p = malloc(sizeof *p);
  array* out = NULL;
  if (!p) {
    error_set("[%s] Out of memory.", layer ? "layer_norm" : "rms_norm");
  } else {
    *p = (norm_params){eps, layer, in->weight != NULL, in->bias != NULL};
    array* inputs[3] = {x};
    int n = 1;
    if (in->weight) inputs[n++] = in->weight;
    if (in->bias) inputs[n++] = in->bias;
    out = array_new_op(in->dtype, x->ndim, x->shape, prim, p, inputs, n, s);
  }
  array_release(x);
  return out;
}

array* op_fast_rms_norm(array* x, array* weight, float eps, stream s) {
  norm_inputs in;
  array* out = NULL;
  if (!norm_prepare(&in, "rms_norm", x, weight, NULL, s))
    out = norm_fused(&in, &prim_rms_norm, false, eps, s);
  norm_inputs_release(&in);
  return out;
}

array* op_fast_rms_norm_composed(array* x, array* weight, float eps, stream s) {
  norm_inputs in;
  array* out = NULL;
  if (!norm_prepare(&in, "rms_norm", x, weight, NULL, s)) out = norm_compose(&in, false, eps, s);
  norm_inputs_release(&in);
  return out;
}

array* op_fast_layer_norm(array* x, array* weight, array* bias, float eps, stream s) {
  norm_inputs in;
  array* out = NULL;
  if (!norm_prepare(&in, "layer_norm", x, weight, bias, s))
    out = norm_fused(&in, &prim_layer_norm, true, eps, s);
  norm_inputs_release(&in);
  return out;
}

array* op_fast_layer_norm_composed(array* x, array* weight, array* bias, float eps, stream s) {
  norm_inputs in;
  array* out = NULL;
  if (!norm_prepare(&in, "layer_norm", x, weight, bias, s)) out = norm_compose(&in, true, eps, s);
  norm_inputs_release(&in);
  return out;
}

/* ========================================================================
 * rope
 * ===================================================================== */

typedef struct rope_inputs {
  array *offset, *freqs; /* owned (freqs may be NULL) */
} rope_inputs;

static int rope_prepare(rope_inputs* in, array* x, int dims, const float* base, array* offset,
                        array* freqs, stream s) {
  char sa[256];
  memset(in, 0, sizeof *in);
  if (freqs) {
    if (!(in->freqs = op_astype(freqs, MLX_FLOAT32, s))) return 1;
    if (base) return error_set("[rope] Only one of base or freqs can have a value.");
  } else if (!base) {
    return error_set("[rope] Neither base nor freqs has a value.");
  }
  if (x->ndim < 3)
    return error_set("[rope] Input must have at least 3 dimensions but got input with %d "
                     "dimensions.",
                     x->ndim);
  if (!dtype_is_floating(x->dtype))
    return error_set("[rope] Input must be a floating type but got %s.", dtype_name(x->dtype));
  if (offset->ndim > 1)
    return error_set("[rope] offset must have at most one dimension but has shape %s.",
                     error_format_shape(sa, sizeof sa, offset->shape, offset->ndim));
  if (offset->size != 1 && offset->size != (size_t)x->shape[0])
    return error_set("[rope] offset must be a scalar or vector with %d elements but has shape "
                     "%s.",
                     x->shape[0], error_format_shape(sa, sizeof sa, offset->shape, offset->ndim));
  if (!dtype_is_integer(offset->dtype))
    return error_set("[rope] offset must be an integer but got type %s.",
                     dtype_name(offset->dtype));
  /* 4-byte integers (int32, uint32) stay as they are; others become int32 */
  in->offset = dtype_size(offset->dtype) == 4 ? retained(offset) : op_astype(offset, MLX_INT32, s);
  if (!in->offset) return 1;
  if (dims <= 0) return error_set("[rope] dims must be positive but got %d.", dims);
  if (dims % 2 != 0) return error_set("[rope] dims must be even but got %d.", dims);
  int d = x->shape[x->ndim - 1];
  if (dims > d)
    return error_set("[rope] dims must not exceed the input's last dimension (%d) but got %d.",
                     d, dims);
  if (in->freqs && (in->freqs->ndim != 1 || in->freqs->shape[0] != dims / 2))
    return error_set("[rope] freqs must be one dimensional with size %d but got shape %s.",
                     dims / 2,
                     error_format_shape(sa, sizeof sa, in->freqs->shape, in->freqs->ndim));
  return 0;
}

static void rope_inputs_release(rope_inputs* in) {
  array_release(in->offset);
  array_release(in->freqs);
}

/* out1 = x1 cos - x2 sin, out2 = x1 sin + x2 cos, in x's dtype; the
 * results and intermediates go to the caller's temporaries. */
static int rope_rotate(temps* t, array* x1, array* x2, array* c, array* sn, array** o1,
                       array** o2, stream s) {
  array *a, *b, *d, *e;
  return !(a = keep(t, op_binary(BINARY_MULTIPLY, x1, c, s))) ||
         !(b = keep(t, op_binary(BINARY_MULTIPLY, x2, sn, s))) ||
         !(*o1 = keep(t, op_binary(BINARY_SUBTRACT, a, b, s))) ||
         !(d = keep(t, op_binary(BINARY_MULTIPLY, x1, sn, s))) ||
         !(e = keep(t, op_binary(BINARY_MULTIPLY, x2, c, s))) ||
         !(*o2 = keep(t, op_binary(BINARY_ADD, d, e, s)));
}

/* MLX's fallback, with x viewed as [B, N, T, D]. */
static array* rope_compose(array* x0, int dims, bool traditional, float base, float scale,
                           const rope_inputs* in, stream s) {
  temps t = {.n = 0};
  array* out = NULL;
  array* x = x0;
  int nd = x0->ndim, one = 1, minus1 = -1;
  if (nd == 3) TRY(x, op_expand_dims_axes(x, &one, 1, s));
  else if (nd > 4) TRY(x, op_flatten(x, 1, nd - 3, s));
  int B = x->shape[0], N = x->shape[1], T = x->shape[2], D = x->shape[3], half = dims / 2;
  array *pos, *sc, *off = in->offset, *inv, *theta, *c, *sn;
  if (off->size > 1) {
    int axes[2] = {-1, -2};
    TRY(off, op_expand_dims_axes(off, axes, 2, s));
  }
  TRY(pos, op_arange(0, T, 1, MLX_FLOAT32, s));
  TRY(pos, op_binary(BINARY_ADD, pos, off, s));
  TRY(sc, op_scalar(scale, MLX_FLOAT32));
  TRY(pos, op_binary(BINARY_MULTIPLY, pos, sc, s));
  if (in->freqs) {
    TRY(inv, op_unary(UNARY_RECIPROCAL, in->freqs, s));
  } else {
    array* step;
    TRY(inv, op_arange(0, -half, -1, MLX_FLOAT32, s));
    TRY(step, op_scalar(logf(base) / (float)half, MLX_FLOAT32));
    TRY(inv, op_binary(BINARY_MULTIPLY, inv, step, s));
    TRY(inv, op_unary(UNARY_EXP, inv, s));
  }
  TRY(theta, op_expand_dims_axes(pos, &minus1, 1, s));
  TRY(theta, op_binary(BINARY_MULTIPLY, theta, inv, s));
  TRY(c, op_unary(UNARY_COS, theta, s));
  TRY(c, op_astype(c, x->dtype, s));
  TRY(sn, op_unary(UNARY_SIN, theta, s));
  TRY(sn, op_astype(sn, x->dtype, s));
  array *x1, *x2, *o[3], *y;
  int start[4] = {0, 0, 0, 0}, stop[4] = {B, N, T, dims}, step[4] = {1, 1, 1, 1};
  int n_parts = 2;
  if (traditional) {
    int step2[4] = {1, 1, 1, 2}, start1[4] = {0, 0, 0, 1}, shape[4] = {B, N, T, dims};
    TRY(x1, op_slice(x, start, stop, step2, s));
    TRY(x2, op_slice(x, start1, stop, step2, s));
    if (rope_rotate(&t, x1, x2, c, sn, &o[0], &o[1], s)) goto done;
    TRY(o[0], op_expand_dims_axes(o[0], &minus1, 1, s));
    TRY(o[1], op_expand_dims_axes(o[1], &minus1, 1, s));
    TRY(y, op_concatenate(o, 2, -1, s));
    TRY(y, op_reshape(y, shape, 4, s));
    if (dims < D) {
      int start_rest[4] = {0, 0, 0, dims};
      o[0] = y;
      TRY(o[1], op_slice(x, start_rest, x->shape, step, s));
      TRY(y, op_concatenate(o, 2, -1, s));
    }
  } else {
    int stop1[4] = {B, N, T, half}, start2[4] = {0, 0, 0, half};
    TRY(x1, op_slice(x, start, stop1, step, s));
    TRY(x2, op_slice(x, start2, stop, step, s));
    if (rope_rotate(&t, x1, x2, c, sn, &o[0], &o[1], s)) goto done;
    if (dims < D) {
      int start_rest[4] = {0, 0, 0, dims};
      TRY(o[2], op_slice(x, start_rest, x->shape, step, s));
      n_parts = 3;
    }
    TRY(y, op_concatenate(o, n_parts, -1, s));
  }
  TRY(out, op_reshape(y, x0->shape, nd, s));
done:
  return temps_finish(&t, out);
}

array* op_fast_rope_composed(array* x, int dims, bool traditional, const float* base,
                             float scale, array* offset, array* freqs, stream s) {
  rope_inputs in;
  array* out = NULL;
  if (!rope_prepare(&in, x, dims, base, offset, freqs, s))
    out = rope_compose(x, dims, traditional, base ? *base : 1.0f, scale, &in, s);
  rope_inputs_release(&in);
  return out;
}

array* op_fast_rope(array* x, int dims, bool traditional, const float* base, float scale,
                    array* offset, array* freqs, stream s) {
  rope_inputs in;
  array* out = NULL;
  if (rope_prepare(&in, x, dims, base, offset, freqs, s)) goto done;
  rope_params* p = malloc(sizeof *p);
  if (!p) {
    error_set("[rope] Out of memory.");
    goto done;
  }
  *p = (rope_params){dims, traditional, base ? *base : 1.0f, scale, in.freqs != NULL};
  array* inputs[3] = {x, in.offset, in.freqs};
  out = array_new_op(x->dtype, x->ndim, x->shape, &prim_rope, p, inputs, in.freqs ? 3 : 2, s);
done:
  rope_inputs_release(&in);
  return out;
}
