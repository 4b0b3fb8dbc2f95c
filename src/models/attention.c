/* attention.c - KV caches (plain and rotating), masked attention over them,
 * and the standard q/k/v/o attention block. */
#include <math.h>
#include <string.h>

#include "mlx/c/fast.h"
#include "mlx/c/ops.h"
#include "models/model_internal.h"

#define KV_STEP 256

static void drop(mlx_array* a) {
  if (a->ctx) mlx_array_free(*a);
  a->ctx = NULL;
}

/* a[:, :, start:stop, :] */
static int slice_t(mlx_array* res, const mlx_array a, int start, int stop,
                   const mlx_stream s) {
  const int* sh = mlx_array_shape(a);
  int st[4] = {0, 0, start, 0};
  int en[4] = {sh[0], sh[1], stop, sh[3]};
  int one[4] = {1, 1, 1, 1};
  return mlx_slice(res, a, st, 4, en, 4, one, 4, s);
}

/* Makes room for n more positions at [used, used + n) in a buffer that
 * grows in steps of KV_STEP (at most cap_limit when > 0). */
static int grow(mlx_array* buf, int used, int n, const mlx_array like,
                int cap_limit, const mlx_stream s) {
  int have = buf->ctx ? mlx_array_dim(*buf, 2) : 0;
  if (buf->ctx && used + n <= have) return 0;
  const int* sh = mlx_array_shape(like);
  int want = ((used + n + KV_STEP - 1) / KV_STEP) * KV_STEP;
  if (cap_limit > 0 && want > cap_limit) want = cap_limit;
  if (want < used + n) want = used + n;
  int shape[4] = {sh[0], sh[1], want - have, sh[3]};
  mlx_array z = mlx_array_new();
  int rc = mlx_zeros(&z, shape, 4, mlx_array_dtype(like), s);
  if (!rc) {
    if (buf->ctx) {
      mlx_vector_array v = mlx_vector_array_new();
      mlx_vector_array_append_value(v, *buf);
      mlx_vector_array_append_value(v, z);
      rc = mlx_concatenate_axis(buf, v, 2, s);
      mlx_vector_array_free(v);
    } else {
      rc = mlx_array_set(buf, z);
    }
  }
  mlx_array_free(z);
  return rc;
}

/* buf[:, :, at:at+L, :] = x */
static int write_at(mlx_array* buf, const mlx_array x, int at,
                    const mlx_stream s) {
  const int* b = mlx_array_shape(*buf);
  const int* xs = mlx_array_shape(x);
  int st[4] = {0, 0, at, 0};
  int en[4] = {b[0], b[1], at + xs[2], b[3]};
  int one[4] = {1, 1, 1, 1};
  return mlx_slice_update(buf, *buf, x, st, 4, en, 4, one, 4, s);
}

static int concat2(mlx_array* res, const mlx_array a, const mlx_array b,
                   const mlx_stream s) {
  mlx_vector_array v = mlx_vector_array_new();
  mlx_vector_array_append_value(v, a);
  mlx_vector_array_append_value(v, b);
  int rc = mlx_concatenate_axis(res, v, 2, s);
  mlx_vector_array_free(v);
  return rc;
}

/* Boolean mask [L, T]: query i (position q0 + i) sees key j (position
 * k0 + j) when k <= q and (window <= 0 or k > q - window). */
static int window_mask(mlx_array* mask, int L, int q0, int T, int k0,
                       int window, const mlx_stream s) {
  mlx_array q = mlx_array_new(), k = mlx_array_new(), lo = mlx_array_new();
  mlx_array w = mlx_array_new_int(window);
  int rc = mlx_arange(&q, q0, q0 + L, 1, MLX_INT32, s) ||
           mlx_arange(&k, k0, k0 + T, 1, MLX_INT32, s) ||
           mlx_expand_dims(&q, q, 1, s) ||
           mlx_less_equal(mask, k, q, s);
  if (!rc && window > 0) {
    rc = mlx_subtract(&lo, q, w, s) || mlx_greater(&lo, k, lo, s) ||
         mlx_logical_and(mask, *mask, lo, s);
  }
  mlx_array_free(q);
  mlx_array_free(k);
  mlx_array_free(lo);
  mlx_array_free(w);
  return rc;
}

int model_attention(mlx_array* out, kv_cache* cache, int window,
                    const mlx_array q, const mlx_array k, const mlx_array v,
                    float scale, const mlx_array sinks, const mlx_stream s) {
  int L = mlx_array_dim(q, 2);
  mlx_array keys = mlx_array_new(), values = mlx_array_new();
  mlx_array mask = mlx_array_new();
  const char* mode = "";
  int rc = 0;
  if (cache && cache->window > 0) window = cache->window;

  if (!cache) {
    rc = mlx_array_set(&keys, k) || mlx_array_set(&values, v);
    if (!rc && L > 1) {
      if (window > 0 && window < L) {
        rc = window_mask(&mask, L, 0, L, 0, window, s);
      } else {
        mode = "causal";
      }
    }
  } else if (cache->window <= 0) {
    /* plain: write into a buffer that grows in steps */
    int used = cache->offset;
    rc = grow(&cache->keys, used, L, k, 0, s) ||
         grow(&cache->values, used, L, v, 0, s) || write_at(&cache->keys, k, used, s) ||
         write_at(&cache->values, v, used, s) ||
         slice_t(&keys, cache->keys, 0, used + L, s) ||
         slice_t(&values, cache->values, 0, used + L, s);
    if (!rc) {
      cache->offset += L;
      cache->idx = cache->offset;
      if (L > 1) mode = "causal";
    }
  } else {
    /* rotating: the buffer holds the last min(offset, window) positions;
     * once full it is a ring whose oldest entry is at idx. */
    int W = cache->window;
    int n = cache->offset < W ? cache->offset : W;
    if (L == 1) {
      if (n < W) {
        rc = grow(&cache->keys, n, 1, k, W, s) ||
             grow(&cache->values, n, 1, v, W, s) ||
             write_at(&cache->keys, k, n, s) ||
             write_at(&cache->values, v, n, s) ||
             slice_t(&keys, cache->keys, 0, n + 1, s) ||
             slice_t(&values, cache->values, 0, n + 1, s);
        if (!rc) cache->idx = (n + 1) % W;
      } else {
        int at = cache->idx % W;
        rc = write_at(&cache->keys, k, at, s) ||
             write_at(&cache->values, v, at, s) ||
             mlx_array_set(&keys, cache->keys) ||
             mlx_array_set(&values, cache->values);
        if (!rc) cache->idx = (at + 1) % W;
      }
    } else {
      /* several tokens: previous entries in order, then the new ones */
      mlx_array pk = mlx_array_new(), pv = mlx_array_new();
      mlx_array a = mlx_array_new(), b = mlx_array_new();
      if (n == 0) {
        rc = mlx_array_set(&keys, k) || mlx_array_set(&values, v);
      } else {
        if (n < W) {
          rc = slice_t(&pk, cache->keys, 0, n, s) ||
               slice_t(&pv, cache->values, 0, n, s);
        } else {
          int i = cache->idx % W;
          rc = slice_t(&a, cache->keys, i, W, s) ||
               slice_t(&b, cache->keys, 0, i, s) || concat2(&pk, a, b, s) ||
               slice_t(&a, cache->values, i, W, s) ||
               slice_t(&b, cache->values, 0, i, s) || concat2(&pv, a, b, s);
        }
        rc = rc || concat2(&keys, pk, k, s) || concat2(&values, pv, v, s);
      }
      int T = n + L;
      if (!rc) rc = window_mask(&mask, L, n, T, 0, W, s);
      /* keep the last min(T, W) positions, in order */
      int keep = T < W ? T : W;
      if (!rc) {
        drop(&cache->keys);
        drop(&cache->values);
        rc = slice_t(&cache->keys, keys, T - keep, T, s) ||
             slice_t(&cache->values, values, T - keep, T, s);
        cache->idx = keep % W;
      }
      drop(&pk);
      drop(&pv);
      drop(&a);
      drop(&b);
    }
    if (!rc) cache->offset += L;
  }

  if (!rc && cache) cache->capacity = mlx_array_dim(cache->keys, 2);
  if (!rc && mask.ctx) mode = "array";
  if (!rc)
    rc = mlx_fast_scaled_dot_product_attention(out, q, keys, values, scale,
                                               mode, mask, sinks, s);
  drop(&keys);
  drop(&values);
  drop(&mask);
  return rc;
}

/* ---- attention block ---- */

int attn_block_declare(cmlx_model* m, attn_block* a, const char* prefix,
                       int hidden, int num_heads, int num_kv_heads,
                       int head_dim, bool bias, bool o_bias, bool sinks,
                       int window) {
  a->num_heads = num_heads;
  a->num_kv_heads = num_kv_heads;
  a->head_dim = head_dim;
  a->scale = 1.0f / sqrtf((float)head_dim);
  a->window = window;
  if (num_heads <= 0 || num_kv_heads <= 0 || num_heads % num_kv_heads)
    return MODEL_FAIL("[load] %s: %d attention heads is not a multiple of %d "
                      "key/value heads.", m->config_path, num_heads,
                      num_kv_heads);
  int sinks_shape[1] = {num_heads};
  return model_add_linear(m, &a->q_proj, 0, hidden, num_heads * head_dim,
                          bias, "%s.q_proj", prefix) ||
         model_add_linear(m, &a->k_proj, 0, hidden, num_kv_heads * head_dim,
                          bias, "%s.k_proj", prefix) ||
         model_add_linear(m, &a->v_proj, 0, hidden, num_kv_heads * head_dim,
                          bias, "%s.v_proj", prefix) ||
         model_add_linear(m, &a->o_proj, 0, num_heads * head_dim, hidden,
                          o_bias, "%s.o_proj", prefix) ||
         (sinks && model_add_tensor(m, &a->sinks, INIT_NORMAL, 1, sinks_shape,
                                    "%s.sinks", prefix));
}

/* x [B, L, H*D] -> [B, H, L, D] */
static int split_heads(mlx_array* res, const mlx_array x, int heads, int dim,
                       const cmlx_rms_norm* norm, const mlx_stream s) {
  int shape[4] = {mlx_array_dim(x, 0), mlx_array_dim(x, 1), heads, dim};
  int perm[4] = {0, 2, 1, 3};
  int rc = mlx_reshape(res, x, shape, 4, s);
  if (!rc && norm && norm->weight.ctx) rc = cmlx_rms_norm_apply(res, norm, *res, s);
  return rc || mlx_transpose_axes(res, *res, perm, 4, s);
}

int attn_block_apply(mlx_array* res, const attn_block* a,
                     const rope_config* rope, const mlx_array x,
                     kv_cache* cache, const mlx_stream s) {
  int B = mlx_array_dim(x, 0), L = mlx_array_dim(x, 1);
  int offset = kv_cache_offset(cache);
  mlx_array q = mlx_array_new(), k = mlx_array_new(), v = mlx_array_new();
  mlx_array o = mlx_array_new();
  int perm[4] = {0, 2, 1, 3};
  int flat[3] = {B, L, a->num_heads * a->head_dim};
  int rc = cmlx_linear_apply(&q, &a->q_proj, x, s) ||
           cmlx_linear_apply(&k, &a->k_proj, x, s) ||
           cmlx_linear_apply(&v, &a->v_proj, x, s) ||
           split_heads(&q, q, a->num_heads, a->head_dim, &a->q_norm, s) ||
           split_heads(&k, k, a->num_kv_heads, a->head_dim, &a->k_norm, s) ||
           split_heads(&v, v, a->num_kv_heads, a->head_dim, NULL, s) ||
           rope_apply(&q, rope, q, offset, s) ||
           rope_apply(&k, rope, k, offset, s) ||
           model_attention(&o, cache, a->window, q, k, v, a->scale, a->sinks,
                           s) ||
           mlx_transpose_axes(&o, o, perm, 4, s) ||
           mlx_reshape(&o, o, flat, 3, s) ||
           cmlx_linear_apply(res, &a->o_proj, o, s);
  drop(&q);
  drop(&k);
  drop(&v);
  drop(&o);
  return rc;
}
