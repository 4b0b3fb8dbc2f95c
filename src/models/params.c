/* params.c - a model's declared parameters: what an architecture declares
 * in its init (model_add_linear / _embedding / _tensor), and the views of
 * them the public API gives: info (sizes, counts, bytes), the walk over
 * every array by its saved name (cmlx_model_parameters), the walk over the
 * layers (cmlx_model_layers) and the per-layer sliding windows. Loading
 * fills them (model.c), quantizing, casting and saving rewrite them
 * (model_io.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_private.h"

/* ---- declaring parameters ---- */

static model_param* new_param(cmlx_model* m, param_kind kind, const char* fmt,
                              va_list ap) {
  if (m->num_params == m->cap_params) {
    size_t cap = m->cap_params ? m->cap_params * 2 : 64;
    model_param* p = realloc(m->params, cap * sizeof *p);
    if (!p) {
      MODEL_FAIL("[load] Out of memory.");
      return NULL;
    }
    m->params = p;
    m->cap_params = cap;
  }
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  model_param* p = &m->params[m->num_params];
  memset(p, 0, sizeof *p);
  p->path = model_strdup(buf);
  if (!p->path) {
    MODEL_FAIL("[load] Out of memory.");
    return NULL;
  }
  p->kind = kind;
  m->num_params++;
  return p;
}

/* What linears and embeddings share: sizes, quantizable, random init, and
 * the message for sizes that are not valid. */
static int layer_sizes(const cmlx_model* m, model_param* p, int in, int out,
                       bool valid) {
  p->in = in;
  p->out = out;
  p->quantizable = true;
  p->init = INIT_NORMAL;
  if (!valid)
    return MODEL_FAIL("[load] %s: layer %s has invalid sizes.",
                      m->config_path, p->path);
  return 0;
}

int model_add_linear(cmlx_model* m, cmlx_linear* l, int experts, int in,
                     int out, bool bias, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  model_param* p = new_param(m, PARAM_LINEAR, fmt, ap);
  va_end(ap);
  if (!p) return 1;
  *l = cmlx_linear_empty();
  p->linear = l;
  p->experts = experts;
  p->has_bias = bias;
  return layer_sizes(m, p, in, out, in > 0 && out > 0 && experts >= 0);
}

int model_add_embedding(cmlx_model* m, cmlx_embedding* e, int num, int dims,
                        const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  model_param* p = new_param(m, PARAM_EMBEDDING, fmt, ap);
  va_end(ap);
  if (!p) return 1;
  *e = cmlx_embedding_empty();
  p->embedding = e;
  return layer_sizes(m, p, dims, num, num > 0 && dims > 0);
}

int model_add_tensor(cmlx_model* m, mlx_array* a, param_init init, int ndim,
                     const int* shape, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  model_param* p = new_param(m, PARAM_TENSOR, fmt, ap);
  va_end(ap);
  if (!p) return 1;
  a->ctx = NULL;
  p->tensor = a;
  p->init = init;
  if (ndim < 0 || ndim > 4)
    return MODEL_FAIL("[load] %s: tensor %s has too many dimensions.",
                      m->config_path, p->path);
  p->ndim = ndim;
  for (int i = 0; i < ndim; i++) p->shape[i] = shape[i];
  return 0;
}

void model_param_not_quantizable(cmlx_model* m) {
  for (size_t i = m->num_params; i-- > 0;) {
    if (m->params[i].kind != PARAM_TENSOR) {
      m->params[i].quantizable = false;
      return;
    }
  }
}

/* ---- info ---- */

static uint64_t logical_params(const model_param* p) {
  if (p->kind == PARAM_TENSOR) {
    uint64_t n = 1;
    for (int i = 0; i < p->ndim; i++) n *= (uint64_t)p->shape[i];
    return n;
  }
  uint64_t n = (uint64_t)p->in * (uint64_t)p->out;
  if (p->kind == PARAM_LINEAR) {
    uint64_t e = p->experts > 0 ? (uint64_t)p->experts : 1;
    n *= e;
    if (p->has_bias) n += e * (uint64_t)p->out;
  }
  return n;
}

uint64_t model_param_nbytes(const model_param* p) {
  if (p->kind == PARAM_LINEAR) return cmlx_linear_nbytes(p->linear);
  if (p->kind == PARAM_EMBEDDING) return cmlx_embedding_nbytes(p->embedding);
  return p->tensor->ctx ? mlx_array_nbytes(*p->tensor) : 0;
}

int cmlx_model_get_info(cmlx_model_info* info, const cmlx_model* m) {
  if (!info || !m) {
    error_set("[model_info] The model and the output must be given.");
    return api_fail();
  }
  *info = m->info;
  info->model_type = m->model_type;
  info->dtype = m->dtype;
  info->quantized = false;
  info->quant = m->quant;
  info->num_quantized_layers = info->num_float_layers = 0;
  info->num_parameters = info->weight_bytes = 0;
  for (size_t i = 0; i < m->num_params; i++) {
    const model_param* p = &m->params[i];
    info->num_parameters += logical_params(p);
    info->weight_bytes += model_param_nbytes(p);
    if (p->kind == PARAM_TENSOR) continue;
    if (model_param_quantized(p)) info->num_quantized_layers++;
    else info->num_float_layers++;
  }
  info->quantized = info->num_quantized_layers > 0;
  if (!info->quantized) info->quant = (cmlx_quant_spec){0, 0, NULL};
  return 0;
}

/* ---- parameters and layers ---- */

int model_param_arrays(const model_param* p, mlx_array* arrays[5],
                       const char* suffixes[5]) {
  static const char* const names[5] = {"weight", "scales", "biases",
                                       "global_scale", "bias"};
  if (p->kind == PARAM_TENSOR) {
    arrays[0] = p->tensor;
    suffixes[0] = NULL;
    return 1;
  }
  cmlx_linear* l = p->kind == PARAM_LINEAR ? p->linear : NULL;
  cmlx_embedding* e = p->kind == PARAM_EMBEDDING ? p->embedding : NULL;
  arrays[0] = l ? &l->weight : &e->weight;
  arrays[1] = l ? &l->scales : &e->scales;
  arrays[2] = l ? &l->biases : &e->biases;
  arrays[3] = l ? &l->global_scale : &e->global_scale;
  if (l) arrays[4] = &l->bias;
  for (int i = 0; i < 5; i++) suffixes[i] = names[i];
  return l ? 5 : 4;
}

bool model_param_quantized(const model_param* p) {
  return (p->kind == PARAM_LINEAR && p->linear->quantized) ||
         (p->kind == PARAM_EMBEDDING && p->embedding->quantized);
}

int model_walk_arrays(const cmlx_model* m,
                      int (*visit)(void* ctx, const char* name,
                                   const mlx_array a),
                      void* ctx) {
  char name[600];
  for (size_t i = 0; i < m->num_params; i++) {
    const model_param* p = &m->params[i];
    mlx_array* arrays[5];
    const char* sfx[5];
    int n = model_param_arrays(p, arrays, sfx);
    for (int k = 0; k < n; k++) {
      if (!arrays[k]->ctx) continue;
      if (sfx[k]) snprintf(name, sizeof name, "%s.%s", p->path, sfx[k]);
      else snprintf(name, sizeof name, "%s", p->path);
      int rc = visit(ctx, name, *arrays[k]);
      if (rc) return rc;
    }
  }
  return 0;
}

int cmlx_model_parameters(const cmlx_model* m,
                          int (*visit)(void* ctx, const char* name,
                                       const mlx_array a),
                          void* ctx) {
  if (!m || !visit) {
    error_set("[model_parameters] The model and the visitor must be given.");
    return api_fail();
  }
  return model_walk_arrays(m, visit, ctx);
}

int cmlx_model_layers(const cmlx_model* m,
                      int (*visit)(void* ctx, const cmlx_layer_desc* layer),
                      void* ctx) {
  if (!m || !visit) {
    error_set("[model_layers] The model and the visitor must be given.");
    return api_fail();
  }
  for (size_t i = 0; i < m->num_params; i++) {
    const model_param* p = &m->params[i];
    mlx_array* arrays[5];
    const char* sfx[5];
    model_param_arrays(p, arrays, sfx);
    cmlx_layer_desc d = {.path = p->path, .dtype = m->dtype};
    d.kind = p->kind == PARAM_LINEAR      ? CMLX_LAYER_LINEAR
             : p->kind == PARAM_EMBEDDING ? CMLX_LAYER_EMBEDDING
                                          : CMLX_LAYER_TENSOR;
    if (p->kind != PARAM_TENSOR) {
      d.experts = p->kind == PARAM_LINEAR ? p->experts : 0;
      d.in_features = p->in;
      d.out_features = p->out;
    }
    d.quantized = model_param_quantized(p);
    if (d.quantized)
      d.quant = p->kind == PARAM_LINEAR ? p->linear->quant
                                        : p->embedding->quant;
    if (arrays[0]->ctx) d.dtype = mlx_array_dtype(*arrays[0]);
    d.nbytes = model_param_nbytes(p);
    int rc = visit(ctx, &d);
    if (rc) return rc;
  }
  return 0;
}

int cmlx_model_layer_window(int* window, const cmlx_model* m, int layer) {
  if (!window || !m) {
    error_set("[model_layer_window] The model and the output must be "
              "given.");
    return api_fail();
  }
  if (layer < 0 || layer >= m->info.num_layers)
    return MODEL_FAIL("[model_layer_window] Layer %d is out of range for a "
                      "model of %d layers.", layer, m->info.num_layers);
  *window = m->arch->layer_window ? m->arch->layer_window(m, layer) : 0;
  return 0;
}
