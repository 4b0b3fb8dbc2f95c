/* nn.c - layers (cmlx/nn.h): Linear / QuantizedLinear, Embedding /
 * QuantizedEmbedding, RMSNorm, built from mlx-c ops. */
#include <stdio.h>
#include <string.h>

#include "cmlx/nn.h"
#include "core/error.h"
#include "mlx/c/fast.h"
#include "mlx/c/ops.h"
#include "mlx/c/transforms.h"
#include "mlx/c/vector.h"

/* ---- quantization specs ---- */

static const struct {
  const char* name;
  int group_size, bits;
} modes[] = {
    {"affine", 64, 4},
    {"mxfp4", 32, 4},
    {"mxfp8", 32, 8},
    {"nvfp4", 16, 4},
};

/* Ends a layer call: on success res takes y, and y (a temporary) is
 * released either way; rc is the call's status so far. */
static int hand_back(mlx_array* res, mlx_array y, int rc) {
  int r = rc ? 1 : mlx_array_set(res, y);
  mlx_array_free(y);
  return r;
}

int cmlx_quant_spec_resolve(cmlx_quant_spec* spec) {
  if (!spec) {
    error_set("[quantize] The quantization spec is NULL.");
    return api_fail();
  }
  const char* m = spec->mode && *spec->mode ? spec->mode : "affine";
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
    if (strcmp(m, modes[i].name) == 0) {
      spec->mode = modes[i].name;
      if (spec->group_size <= 0) spec->group_size = modes[i].group_size;
      if (spec->bits <= 0) spec->bits = modes[i].bits;
      return 0;
    }
  }
  error_set("[quantize] Invalid quantization mode '%s'.", m);
  return api_fail();
}

static mlx_optional_int opt(int v) { return (mlx_optional_int){v, true}; }

static void release(mlx_array* a) {
  if (a->ctx) mlx_array_free(*a);
  a->ctx = NULL;
}

static mlx_array retain(const mlx_array a) {
  mlx_array r = mlx_array_new();
  if (a.ctx) mlx_array_set(&r, a);
  return r;
}

static uint64_t nbytes(const mlx_array a) {
  return a.ctx ? (uint64_t)mlx_array_nbytes(a) : 0;
}

static char* shape_str(char* buf, size_t n, const mlx_array a) {
  return error_format_shape(buf, n, mlx_array_shape(a),
                            (int)mlx_array_ndim(a));
}

/* Checks packed weight / scales / biases against the logical [.., out, in]
 * and spec; lead = the leading dims expected before the last two (NULL: any
 * that the three agree on). */
static int check_quantized(const char* op, const mlx_array w,
                           const mlx_array scales, const mlx_array biases,
                           const mlx_array global_scale, int in_features,
                           const cmlx_quant_spec* spec) {
  char b1[64], b2[64];
  if (!w.ctx || !scales.ctx) {
    error_set("[%s] A quantized layer needs a weight and scales.", op);
    return 1;
  }
  bool affine = strcmp(spec->mode, "affine") == 0;
  if (affine && !biases.ctx) {
    error_set("[%s] An affine quantized layer needs biases.", op);
    return 1;
  }
  if (!affine && biases.ctx) {
    error_set("[%s] A '%s' quantized layer has no biases.", op, spec->mode);
    return 1;
  }
  if (global_scale.ctx && strcmp(spec->mode, "nvfp4") != 0) {
    error_set("[%s] Global scale is only supported for 'nvfp4' quantization "
              "mode.", op);
    return 1;
  }
  if (global_scale.ctx && mlx_array_size(global_scale) != 1) {
    error_set("[%s] Global scale must be a scalar but got shape %s.", op,
              shape_str(b1, sizeof b1, global_scale));
    return 1;
  }
  if (mlx_array_dtype(w) != MLX_UINT32) {
    error_set("[%s] A quantized weight must be uint32.", op);
    return 1;
  }
  size_t nd = mlx_array_ndim(w);
  if (nd < 2 || mlx_array_ndim(scales) != nd ||
      (biases.ctx && mlx_array_ndim(biases) != nd)) {
    error_set("[%s] Quantized weight %s and scales %s do not agree.", op,
              shape_str(b1, sizeof b1, w), shape_str(b2, sizeof b2, scales));
    return 1;
  }
  if (in_features <= 0 || in_features % spec->group_size != 0 ||
      ((int64_t)in_features * spec->bits) % 32 != 0) {
    error_set("[%s] Input size %d is not a multiple of the group size %d.", op,
              in_features, spec->group_size);
    return 1;
  }
  const int* ws = mlx_array_shape(w);
  const int* ss = mlx_array_shape(scales);
  bool ok = ws[nd - 1] == (int)((int64_t)in_features * spec->bits / 32) &&
            ss[nd - 1] == in_features / spec->group_size;
  for (size_t i = 0; i + 1 < nd; i++) ok = ok && ws[i] == ss[i];
  if (biases.ctx) {
    const int* bs = mlx_array_shape(biases);
    for (size_t i = 0; i < nd; i++) ok = ok && bs[i] == ss[i];
  }
  if (!ok) {
    error_set("[%s] Quantized weight %s and scales %s do not match input size "
              "%d with group size %d and %d bits.",
              op, shape_str(b1, sizeof b1, w), shape_str(b2, sizeof b2, scales),
              in_features, spec->group_size, spec->bits);
    return 1;
  }
  return 0;
}

/* ---- Linear ---- */

cmlx_linear cmlx_linear_empty(void) {
  cmlx_linear l;
  memset(&l, 0, sizeof l);
  return l;
}

void cmlx_linear_free(cmlx_linear* l) {
  if (!l) return;
  release(&l->weight);
  release(&l->scales);
  release(&l->biases);
  release(&l->global_scale);
  release(&l->bias);
  *l = cmlx_linear_empty();
}

static int check_bias(const char* op, const mlx_array bias, const int* wshape,
                      size_t wnd, int out) {
  if (!bias.ctx) return 0;
  size_t nd = mlx_array_ndim(bias);
  const int* bs = mlx_array_shape(bias);
  bool ok = nd == wnd - 1 && bs[nd - 1] == out;
  for (size_t i = 0; ok && i + 1 < nd; i++) ok = bs[i] == wshape[i];
  if (!ok) {
    char b1[64];
    error_set("[%s] Bias of shape %s does not match %d outputs.", op,
              shape_str(b1, sizeof b1, bias), out);
    return 1;
  }
  return 0;
}

int cmlx_linear_init(cmlx_linear* l, const mlx_array weight,
                     const mlx_array bias) {
  if (!l || !weight.ctx || mlx_array_ndim(weight) < 2) {
    error_set("[Linear] The weight must be an array of at least 2 dimensions.");
    return api_fail();
  }
  const int* ws = mlx_array_shape(weight);
  size_t nd = mlx_array_ndim(weight);
  if (check_bias("Linear", bias, ws, nd, ws[nd - 2])) return api_fail();
  cmlx_linear_free(l);
  l->weight = retain(weight);
  l->bias = retain(bias);
  l->out_features = ws[nd - 2];
  l->in_features = ws[nd - 1];
  l->quantized = false;
  return 0;
}

int cmlx_linear_init_quantized(cmlx_linear* l, const mlx_array weight,
                               const mlx_array scales, const mlx_array biases,
                               const mlx_array global_scale,
                               const mlx_array bias, int in_features,
                               cmlx_quant_spec spec) {
  if (!l) {
    error_set("[QuantizedLinear] The layer is NULL.");
    return api_fail();
  }
  if (cmlx_quant_spec_resolve(&spec)) return 1;
  if (check_quantized("QuantizedLinear", weight, scales, biases, global_scale,
                      in_features, &spec))
    return api_fail();
  const int* ws = mlx_array_shape(weight);
  size_t nd = mlx_array_ndim(weight);
  if (check_bias("QuantizedLinear", bias, ws, nd, ws[nd - 2]))
    return api_fail();
  cmlx_linear_free(l);
  l->weight = retain(weight);
  l->scales = retain(scales);
  l->biases = retain(biases);
  l->global_scale = retain(global_scale);
  l->bias = retain(bias);
  l->in_features = in_features;
  l->out_features = ws[nd - 2];
  l->quantized = true;
  l->quant = spec;
  return 0;
}

/* y *= global_scale / (448 * 6), in y's dtype. */
static int apply_global_scale(mlx_array* y, const mlx_array gs,
                              const mlx_stream s) {
  if (!gs.ctx) return 0;
  mlx_array f = mlx_array_new(), d = mlx_array_new_float32(448.0f * 6.0f);
  int rc = mlx_divide(&f, gs, d, s) ||
           mlx_astype(&f, f, mlx_array_dtype(*y), s) ||
           mlx_multiply(y, *y, f, s);
  mlx_array_free(f);
  mlx_array_free(d);
  return rc;
}

int cmlx_linear_apply(mlx_array* res, const cmlx_linear* l, const mlx_array x,
                      const mlx_stream s) {
  if (!l || !l->weight.ctx) {
    error_set("[Linear] The layer has no weight.");
    return api_fail();
  }
  mlx_array y = mlx_array_new();
  int rc;
  if (l->quantized) {
    rc = mlx_quantized_matmul(&y, x, l->weight, l->scales, l->biases, true,
                              opt(l->quant.group_size), opt(l->quant.bits),
                              l->quant.mode, s) ||
         apply_global_scale(&y, l->global_scale, s);
  } else {
    mlx_array wt = mlx_array_new();
    int nd = (int)mlx_array_ndim(l->weight);
    rc = mlx_swapaxes(&wt, l->weight, nd - 1, nd - 2, s) ||
         mlx_matmul(&y, x, wt, s);
    mlx_array_free(wt);
  }
  if (!rc && l->bias.ctx) rc = mlx_add(&y, y, l->bias, s);
  return hand_back(res, y, rc);
}

int cmlx_linear_gather_apply(mlx_array* res, const cmlx_linear* l,
                             const mlx_array x, const mlx_array indices,
                             bool sorted_indices, const mlx_stream s) {
  if (!l || !l->weight.ctx || mlx_array_ndim(l->weight) != 3) {
    error_set("[SwitchLinear] The layer needs a weight of shape [E, out, in].");
    return api_fail();
  }
  mlx_array y = mlx_array_new();
  mlx_array none = mlx_array_new();
  int rc;
  if (l->quantized) {
    rc = mlx_gather_qmm(&y, x, l->weight, l->scales, l->biases, none, indices,
                        true, opt(l->quant.group_size), opt(l->quant.bits),
                        l->quant.mode, sorted_indices, s) ||
         apply_global_scale(&y, l->global_scale, s);
  } else {
    mlx_array wt = mlx_array_new();
    rc = mlx_swapaxes(&wt, l->weight, 1, 2, s) ||
         mlx_gather_mm(&y, x, wt, none, indices, sorted_indices, s);
    mlx_array_free(wt);
  }
  if (!rc && l->bias.ctx) {
    /* bias [E, out] -> rows for indices [..] -> [.., 1, out] */
    mlx_array b = mlx_array_new();
    rc = mlx_take_axis(&b, l->bias, indices, 0, s) ||
         mlx_expand_dims(&b, b, -2, s) || mlx_add(&y, y, b, s);
    mlx_array_free(b);
  }
  return hand_back(res, y, rc);
}

/* Quantizes w (evaluated), returning the parts. */
static int quantize_weight(const mlx_array w, const cmlx_quant_spec* spec,
                           mlx_array* wq, mlx_array* scales, mlx_array* biases,
                           const mlx_stream s) {
  mlx_vector_array parts = mlx_vector_array_new();
  mlx_array none = mlx_array_new();
  int rc = mlx_quantize(&parts, w, opt(spec->group_size), opt(spec->bits),
                        spec->mode, none, s);
  size_t n = rc ? 0 : mlx_vector_array_size(parts);
  if (!rc && n >= 2) {
    rc = mlx_vector_array_get(wq, parts, 0) ||
         mlx_vector_array_get(scales, parts, 1);
    if (!rc && n >= 3 && strcmp(spec->mode, "affine") == 0)
      rc = mlx_vector_array_get(biases, parts, 2);
  } else if (!rc) {
    error_set("[quantize] Unexpected number of outputs.");
    rc = api_fail();
  }
  mlx_vector_array_free(parts);
  if (!rc) {
    mlx_vector_array v = mlx_vector_array_new();
    mlx_vector_array_append_value(v, *wq);
    mlx_vector_array_append_value(v, *scales);
    if (biases->ctx) mlx_vector_array_append_value(v, *biases);
    rc = mlx_eval(v);
    mlx_vector_array_free(v);
  }
  return rc;
}

/* to_quantized of a layer whose weight has `in` inputs per row: replaces
 * *weight by the packed codes and sets *scales, *biases, *quant. */
static int to_quantized(mlx_array* weight, mlx_array* scales, mlx_array* biases, bool* quantized,
                        cmlx_quant_spec* quant, int in, cmlx_quant_spec spec,
                        const mlx_stream s) {
  if (!weight->ctx) {
    error_set("[to_quantized] The layer has no weight.");
    return api_fail();
  }
  if (*quantized) {
    error_set("[to_quantized] The layer is already quantized.");
    return api_fail();
  }
  if (cmlx_quant_spec_resolve(&spec)) return 1;
  if (in % spec.group_size != 0) {
    error_set("[to_quantized] Input size %d is not a multiple of the group "
              "size %d.", in, spec.group_size);
    return api_fail();
  }
  mlx_array wq = mlx_array_new(), sc = mlx_array_new(), bi = mlx_array_new();
  if (quantize_weight(*weight, &spec, &wq, &sc, &bi, s)) {
    release(&wq);
    release(&sc);
    release(&bi);
    return 1;
  }
  release(weight);
  *weight = wq;
  *scales = sc;
  *biases = bi;
  *quantized = true;
  *quant = spec;
  return 0;
}

int cmlx_linear_to_quantized(cmlx_linear* l, cmlx_quant_spec spec,
                             const mlx_stream s) {
  if (!l) {
    error_set("[to_quantized] The layer has no weight.");
    return api_fail();
  }
  return to_quantized(&l->weight, &l->scales, &l->biases, &l->quantized, &l->quant,
                      l->in_features, spec, s);
}

uint64_t cmlx_linear_nbytes(const cmlx_linear* l) {
  if (!l) return 0;
  return nbytes(l->weight) + nbytes(l->scales) + nbytes(l->biases) +
         nbytes(l->global_scale) + nbytes(l->bias);
}

/* ---- Embedding ---- */

cmlx_embedding cmlx_embedding_empty(void) {
  cmlx_embedding e;
  memset(&e, 0, sizeof e);
  e.dtype = MLX_FLOAT32;
  return e;
}

void cmlx_embedding_free(cmlx_embedding* e) {
  if (!e) return;
  release(&e->weight);
  release(&e->scales);
  release(&e->biases);
  release(&e->global_scale);
  *e = cmlx_embedding_empty();
}

int cmlx_embedding_init(cmlx_embedding* e, const mlx_array weight) {
  if (!e || !weight.ctx || mlx_array_ndim(weight) != 2) {
    error_set("[Embedding] The weight must be a 2-D array.");
    return api_fail();
  }
  cmlx_embedding_free(e);
  e->weight = retain(weight);
  e->num_embeddings = mlx_array_dim(weight, 0);
  e->dims = mlx_array_dim(weight, 1);
  e->dtype = mlx_array_dtype(weight);
  e->quantized = false;
  return 0;
}

int cmlx_embedding_init_quantized(cmlx_embedding* e, const mlx_array weight,
                                  const mlx_array scales,
                                  const mlx_array biases,
                                  const mlx_array global_scale, int dims,
                                  cmlx_quant_spec spec) {
  if (!e) {
    error_set("[QuantizedEmbedding] The layer is NULL.");
    return api_fail();
  }
  if (cmlx_quant_spec_resolve(&spec)) return 1;
  if (check_quantized("QuantizedEmbedding", weight, scales, biases,
                      global_scale, dims, &spec))
    return api_fail();
  if (mlx_array_ndim(weight) != 2) {
    error_set("[QuantizedEmbedding] The weight must be a 2-D array.");
    return api_fail();
  }
  cmlx_embedding_free(e);
  e->weight = retain(weight);
  e->scales = retain(scales);
  e->biases = retain(biases);
  e->global_scale = retain(global_scale);
  e->num_embeddings = mlx_array_dim(weight, 0);
  e->dims = dims;
  mlx_dtype sd = mlx_array_dtype(scales);
  e->dtype = sd == MLX_FLOAT16 || sd == MLX_BFLOAT16 || sd == MLX_FLOAT32
                 ? sd
                 : MLX_FLOAT32;
  e->quantized = true;
  e->quant = spec;
  return 0;
}

int cmlx_embedding_apply(mlx_array* res, const cmlx_embedding* e,
                         const mlx_array ids, const mlx_stream s) {
  if (!e || !e->weight.ctx) {
    error_set("[Embedding] The layer has no weight.");
    return api_fail();
  }
  mlx_array y = mlx_array_new();
  int rc;
  if (!e->quantized) {
    rc = mlx_take_axis(&y, e->weight, ids, 0, s);
  } else {
    mlx_array w = mlx_array_new(), sc = mlx_array_new(), bi = mlx_array_new();
    rc = mlx_take_axis(&w, e->weight, ids, 0, s) ||
         mlx_take_axis(&sc, e->scales, ids, 0, s) ||
         (e->biases.ctx && mlx_take_axis(&bi, e->biases, ids, 0, s)) ||
         mlx_dequantize(&y, w, sc, bi, opt(e->quant.group_size),
                        opt(e->quant.bits), e->quant.mode, e->global_scale,
                        (mlx_optional_dtype){e->dtype, true}, s);
    release(&w);
    release(&sc);
    release(&bi);
  }
  return hand_back(res, y, rc);
}

int cmlx_embedding_as_linear(mlx_array* res, const cmlx_embedding* e,
                             const mlx_array x, const mlx_stream s) {
  if (!e || !e->weight.ctx) {
    error_set("[Embedding] The layer has no weight.");
    return api_fail();
  }
  cmlx_linear l = cmlx_linear_empty();
  l.weight = e->weight;
  l.scales = e->scales;
  l.biases = e->biases;
  l.global_scale = e->global_scale;
  l.in_features = e->dims;
  l.out_features = e->num_embeddings;
  l.quantized = e->quantized;
  l.quant = e->quant;
  return cmlx_linear_apply(res, &l, x, s); /* borrows, frees nothing */
}

int cmlx_embedding_to_quantized(cmlx_embedding* e, cmlx_quant_spec spec,
                                const mlx_stream s) {
  if (!e) {
    error_set("[to_quantized] The layer has no weight.");
    return api_fail();
  }
  mlx_dtype dtype = e->weight.ctx ? mlx_array_dtype(e->weight) : e->dtype;
  if (to_quantized(&e->weight, &e->scales, &e->biases, &e->quantized, &e->quant, e->dims, spec,
                   s))
    return 1;
  e->dtype = dtype;
  return 0;
}

uint64_t cmlx_embedding_nbytes(const cmlx_embedding* e) {
  if (!e) return 0;
  return nbytes(e->weight) + nbytes(e->scales) + nbytes(e->biases) +
         nbytes(e->global_scale);
}

/* ---- RMSNorm ---- */

int cmlx_rms_norm_init(cmlx_rms_norm* n, const mlx_array weight, float eps) {
  if (!n) {
    error_set("[RMSNorm] The layer is NULL.");
    return api_fail();
  }
  if (weight.ctx && mlx_array_ndim(weight) != 1) {
    error_set("[RMSNorm] The weight must be a 1-D array.");
    return api_fail();
  }
  cmlx_rms_norm_free(n);
  n->weight = retain(weight);
  n->eps = eps;
  return 0;
}

void cmlx_rms_norm_free(cmlx_rms_norm* n) {
  if (!n) return;
  release(&n->weight);
}

int cmlx_rms_norm_apply(mlx_array* res, const cmlx_rms_norm* n,
                        const mlx_array x, const mlx_stream s) {
  if (!n) {
    error_set("[RMSNorm] The layer is NULL.");
    return api_fail();
  }
  return mlx_fast_rms_norm(res, x, n->weight, n->eps, s);
}
