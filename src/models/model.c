/* model.c - the model framework: architectures by model_type, loading a
 * directory (Hugging Face or mlx-lm layout) into the declared parameters,
 * caches, forward and sampling. Declaring parameters and the views of them
 * (info, walks) are in params.c; quantizing, casting, saving and random
 * models in model_io.c. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "core/dtype.h"
#include "io/io.h"
#include "io/shards.h"
#include "mlx/c/map.h"
#include "mlx/c/ops.h"
#include "mlx/c/random.h"
#include "models/model_private.h"

/* ---- architectures ---- */

static const struct {
  const char* model_type;
  const model_arch* arch;
} arch_table[] = {
    {"llama", &model_arch_llama},   {"mistral", &model_arch_llama},
    {"qwen2", &model_arch_llama},   {"qwen3", &model_arch_llama},
    {"gpt_oss", &model_arch_gpt_oss},
};

static const model_arch* find_arch(const char* type) {
  for (size_t i = 0; i < sizeof(arch_table) / sizeof(arch_table[0]); i++)
    if (strcmp(arch_table[i].model_type, type) == 0) return arch_table[i].arch;
  return NULL;
}

/* ---- small helpers ---- */

char* model_strdup(const char* s) {
  size_t n = strlen(s) + 1;
  char* d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

char* model_path_join(const char* dir, const char* name) {
  size_t a = strlen(dir), b = strlen(name);
  char* p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t at = a;
  if (a && dir[a - 1] != '/') p[at++] = '/';
  memcpy(p + at, name, b + 1);
  return p;
}

void model_release(mlx_array* a) {
  if (a->ctx) mlx_array_free(*a);
  a->ctx = NULL;
}

bool dtype_is_float(mlx_dtype t) {
  return t == MLX_FLOAT32 || t == MLX_FLOAT16 || t == MLX_BFLOAT16;
}

/* ---- weight sets ---- */

static long ws_find(const weight_set* ws, const char* name) {
  for (size_t i = 0; i < ws->count; i++)
    if (strcmp(ws->items[i].name, name) == 0) return (long)i;
  return -1;
}

mlx_array ws_take(weight_set* ws, const char* name, const char** file) {
  long i = ws_find(ws, name);
  mlx_array a = mlx_array_new();
  if (i < 0) return a;
  a = ws->items[i].array;
  if (file) *file = ws->items[i].file;
  free(ws->items[i].name);
  ws->items[i] = ws->items[ws->count - 1];
  ws->count--;
  return a;
}

mlx_array ws_peek(const weight_set* ws, const char* name, const char** file) {
  long i = ws_find(ws, name);
  if (i < 0) return mlx_array_new();
  if (file) *file = ws->items[i].file;
  return ws->items[i].array;
}

bool ws_has(const weight_set* ws, const char* name) {
  return ws_find(ws, name) >= 0;
}

static const char* ws_intern(weight_set* ws, const char* file) {
  if (!file) return NULL;
  for (size_t i = 0; i < ws->num_files; i++)
    if (strcmp(ws->files[i], file) == 0) return ws->files[i];
  char** f = realloc(ws->files, (ws->num_files + 1) * sizeof *f);
  if (!f) return NULL;
  ws->files = f;
  char* d = model_strdup(file);
  if (!d) return NULL;
  ws->files[ws->num_files++] = d;
  return d;
}

int ws_put(weight_set* ws, const char* name, mlx_array a, const char* file) {
  long i = ws_find(ws, name);
  if (i >= 0) {
    model_release(&ws->items[i].array);
    ws->items[i].array = a;
    if (file) ws->items[i].file = ws_intern(ws, file);
    return 0;
  }
  if (ws->count == ws->cap) {
    size_t cap = ws->cap ? ws->cap * 2 : 64;
    weight_entry* it = realloc(ws->items, cap * sizeof *it);
    if (!it) {
      mlx_array_free(a);
      return MODEL_FAIL("[load] Out of memory.");
    }
    ws->items = it;
    ws->cap = cap;
  }
  char* n = model_strdup(name);
  if (!n) {
    mlx_array_free(a);
    return MODEL_FAIL("[load] Out of memory.");
  }
  ws->items[ws->count].name = n;
  ws->items[ws->count].array = a;
  ws->items[ws->count].file = ws_intern(ws, file);
  ws->count++;
  return 0;
}

void ws_free(weight_set* ws) {
  for (size_t i = 0; i < ws->count; i++) {
    free(ws->items[i].name);
    model_release(&ws->items[i].array);
  }
  for (size_t i = 0; i < ws->num_files; i++) free(ws->files[i]);
  free(ws->items);
  free(ws->files);
  memset(ws, 0, sizeof *ws);
}

/* ---- lifecycle ---- */

cmlx_model* model_alloc(const mlx_stream s) {
  cmlx_model* m = calloc(1, sizeof *m);
  if (!m) {
    MODEL_FAIL("[load] Out of memory.");
    return NULL;
  }
  m->dtype = MLX_FLOAT32;
  m->stream = s;
  return m;
}

void cmlx_model_free(cmlx_model* m) {
  if (!m) return;
  for (size_t i = 0; i < m->num_params; i++) {
    model_param* p = &m->params[i];
    if (p->kind == PARAM_LINEAR && p->linear) cmlx_linear_free(p->linear);
    if (p->kind == PARAM_EMBEDDING && p->embedding)
      cmlx_embedding_free(p->embedding);
    if (p->kind == PARAM_TENSOR && p->tensor) model_release(p->tensor);
    free(p->path);
  }
  free(m->params);
  if (m->arch && m->arch->free_state) m->arch->free_state(m);
  free(m->arch_state);
  json_doc_free(&m->config);
  free(m->config_text);
  free(m->config_path);
  free(m->dir);
  free(m->quant_overrides);
  free(m);
}

/* ---- config ---- */

/* Reads the quantization spec of a JSON object (mlx-lm: group_size, bits,
 * mode; missing mode = affine, missing sizes = the mode's defaults). */
static int parse_spec(const cmlx_model* m, const json_value* obj,
                      const char* what, cmlx_quant_spec* spec) {
  int gs, bits;
  const json_value* mode = json_object_get(obj, "mode", NULL);
  if (cfg_int(m, obj, "group_size", false, 0, &gs) ||
      cfg_int(m, obj, "bits", false, 0, &bits))
    return 1;
  if (mode && mode->type != JSON_STRING && mode->type != JSON_NULL)
    return MODEL_FAIL("[load] %s: \"mode\" of %s must be a string.",
                      m->config_path, what);
  spec->group_size = gs;
  spec->bits = bits;
  spec->mode = mode && mode->type == JSON_STRING ? mode->as.string.text
                                                 : "affine";
  if (!quant_mode_valid(spec->mode))
    return MODEL_FAIL("[load] %s: unknown quantization mode '%s' in %s.",
                      m->config_path, spec->mode, what);
  return cmlx_quant_spec_resolve(spec);
}

/* The mlx-lm "quantization" block, or HF's legacy "quantization_config". */
static int read_quantization(cmlx_model* m, const json_value* cfg) {
  const json_value* q = json_object_get(cfg, "quantization", NULL);
  if (q && q->type == JSON_NULL) q = NULL;
  if (q) {
    if (q->type != JSON_OBJECT)
      return MODEL_FAIL("[load] %s: \"quantization\" must be an object.",
                        m->config_path);
    if (parse_spec(m, q, "\"quantization\"", &m->quant)) return 1;
    m->quantized = true;
    for (size_t i = 0; i < q->as.object.count; i++) {
      const json_member* mem = &q->as.object.members[i];
      if (mem->value->type != JSON_OBJECT && mem->value->type != JSON_FALSE &&
          mem->value->type != JSON_TRUE)
        continue; /* group_size, bits, mode and other scalars */
      quant_override* o = realloc(m->quant_overrides,
                                  (m->num_overrides + 1) * sizeof *o);
      if (!o) return MODEL_FAIL("[load] Out of memory.");
      m->quant_overrides = o;
      o = &o[m->num_overrides];
      o->path = mem->key;
      o->skip = mem->value->type == JSON_FALSE;
      o->spec = m->quant;
      if (mem->value->type == JSON_OBJECT) {
        char what[600];
        snprintf(what, sizeof what, "\"quantization\".\"%s\"", mem->key);
        if (parse_spec(m, mem->value, what, &o->spec)) return 1;
      }
      m->num_overrides++;
    }
    return 0;
  }
  const json_value* qc = json_object_get(cfg, "quantization_config", NULL);
  if (qc && qc->type == JSON_OBJECT) {
    const json_value* method = json_object_get(qc, "quant_method", NULL);
    if (method && method->type == JSON_STRING) {
      if (strcmp(method->as.string.text, "mxfp4") == 0) {
        m->quant = (cmlx_quant_spec){32, 4, "mxfp4"};
        cmlx_quant_spec_resolve(&m->quant);
        m->quantized = true;
        return 0;
      }
      return MODEL_FAIL("[load] %s: quantization method \"%s\" is not "
                        "supported.", m->config_path, method->as.string.text);
    }
    if (json_object_get(qc, "group_size", NULL)) {
      if (parse_spec(m, qc, "\"quantization_config\"", &m->quant)) return 1;
      m->quantized = true;
    }
  }
  return 0;
}

const quant_override* model_find_override(const cmlx_model* m,
                                          const char* path) {
  for (size_t i = 0; i < m->num_overrides; i++)
    if (strcmp(m->quant_overrides[i].path, path) == 0)
      return &m->quant_overrides[i];
  return NULL;
}

int model_setup(cmlx_model* m, const char* config_text, size_t len,
                const char* config_path) {
  m->config_path = model_strdup(config_path);
  m->config_text = malloc(len + 1);
  if (!m->config_path || !m->config_text)
    return MODEL_FAIL("[load] Out of memory.");
  memcpy(m->config_text, config_text, len);
  m->config_text[len] = 0;
  json_error err;
  if (json_parse(m->config_text, len, &m->config, &err))
    return MODEL_FAIL("[load] %s is not valid JSON: %s at byte %zu.",
                      config_path, err.what, err.pos);
  const json_value* cfg = m->config.root;
  if (!cfg || cfg->type != JSON_OBJECT)
    return MODEL_FAIL("[load] %s must hold a JSON object.", config_path);
  const json_value* t = json_object_get(cfg, "model_type", NULL);
  if (!t) return MODEL_FAIL("[load] %s: missing \"model_type\".", config_path);
  if (t->type != JSON_STRING)
    return MODEL_FAIL("[load] %s: \"model_type\" must be a string.",
                      config_path);
  m->arch = find_arch(t->as.string.text);
  if (!m->arch)
    return MODEL_FAIL("[load] %s: model_type \"%s\" is not supported "
                      "(supported: llama, mistral, qwen2, qwen3, gpt_oss).",
                      config_path, t->as.string.text);
  snprintf(m->model_type, sizeof m->model_type, "%s", t->as.string.text);
  m->info.model_type = m->model_type;
  if (read_quantization(m, cfg)) return 1;
  return m->arch->init(m, cfg);
}

/* ---- reading files ---- */

static int read_text(const char* path, char** out, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (!f)
    return MODEL_FAIL("[load] Cannot open %s: %s.", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char* buf = malloc(cap);
  while (buf) {
    if (n == cap) {
      char* b = realloc(buf, cap * 2);
      if (!b) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = b;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  bool bad = ferror(f);
  fclose(f);
  if (!buf) return MODEL_FAIL("[load] Out of memory.");
  if (bad) {
    free(buf);
    return MODEL_FAIL("[load] Cannot read %s.", path);
  }
  *out = buf;
  *len = n;
  return 0;
}

static int cmp_str(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

/* Moves every tensor of c into ws, attributed to file (or, when index_map
 * is set, to the file the index names). c is freed. */
static int add_contents(weight_set* ws, io_contents* c, const char* dir,
                        const json_value* index_map, const char* file) {
  int rc = 0;
  for (size_t i = 0; !rc && i < c->n_arrays; i++) {
    char* owned = NULL;
    const char* f = file;
    if (index_map) {
      const json_value* v = json_object_get(index_map, c->names[i], NULL);
      if (v && v->type == JSON_STRING)
        f = owned = model_path_join(dir, v->as.string.text);
    }
    array_retain(c->arrays[i]);
    rc = ws_put(ws, c->names[i], api_wrap(c->arrays[i]), f);
    free(owned);
  }
  io_contents_free(c);
  return rc;
}

/* The loader's message, prefixed with the file it was reading. */
static int load_failed(const char* path) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", error_message());
  if (strstr(msg, path)) return MODEL_FAIL("%s", msg); /* names it already */
  return MODEL_FAIL("[load] %s: %s", path, msg);
}

static int load_weights(cmlx_model* m, const char* dir, weight_set* ws) {
  char* index = model_path_join(dir, "model.safetensors.index.json");
  if (!index) return MODEL_FAIL("[load] Out of memory.");
  struct stat st;
  int rc = 0;
  io_contents c;
  if (stat(index, &st) == 0) {
    /* the index tells which shard holds each tensor (for messages) */
    char* text = NULL;
    size_t len = 0;
    json_doc doc = {0};
    json_error err;
    rc = read_text(index, &text, &len);
    if (!rc && json_parse(text, len, &doc, &err))
      rc = MODEL_FAIL("[load] %s is not valid JSON: %s at byte %zu.", index,
                      err.what, err.pos);
    const json_value* wm = NULL;
    if (!rc) {
      wm = doc.root && doc.root->type == JSON_OBJECT
               ? json_object_get(doc.root, "weight_map", NULL)
               : NULL;
      if (!wm || wm->type != JSON_OBJECT)
        rc = MODEL_FAIL("[load] %s has no \"weight_map\" object.", index);
    }
    if (!rc)
      rc = shards_load(index, &c) ? load_failed(index)
                                  : add_contents(ws, &c, dir, wm, index);
    json_doc_free(&doc);
    free(text);
  } else {
    DIR* d = opendir(dir);
    if (!d) {
      rc = MODEL_FAIL("[load] Cannot open the directory %s: %s.", dir,
                      strerror(errno));
    } else {
      char** names = NULL;
      size_t n = 0;
      struct dirent* e;
      while (!rc && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "model", 5) != 0 || l < 12 ||
            strcmp(e->d_name + l - 12, ".safetensors") != 0)
          continue;
        char** nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn || !(nn[n] = model_strdup(e->d_name))) {
          if (nn) names = nn;
          rc = MODEL_FAIL("[load] Out of memory.");
          break;
        }
        names = nn;
        n++;
      }
      closedir(d);
      if (!rc && n == 0)
        rc = MODEL_FAIL("[load] %s: no weights (model*.safetensors) found.",
                        dir);
      if (n) qsort(names, n, sizeof *names, cmp_str);
      for (size_t i = 0; !rc && i < n; i++) {
        char* path = model_path_join(dir, names[i]);
        if (!path) {
          rc = MODEL_FAIL("[load] Out of memory.");
          break;
        }
        /* two files holding one tensor: an error, as for shards */
        if (safetensors_load_file(path, &c)) {
          rc = load_failed(path);
        } else {
          for (size_t k = 0; !rc && k < c.n_arrays; k++) {
            const char* other = NULL;
            if (ws_peek(ws, c.names[k], &other).ctx)
              rc = MODEL_FAIL("[load] Tensor %s is in both %s and %s.",
                              c.names[k], other, path);
          }
          if (rc) io_contents_free(&c);
          else rc = add_contents(ws, &c, dir, NULL, path);
        }
        free(path);
      }
      for (size_t i = 0; i < n; i++) free(names[i]);
      free(names);
    }
  }
  free(index);
  return rc;
}

/* ---- filling declared parameters from the checkpoint ---- */

static char* shape_of(char* buf, size_t n, const mlx_array a) {
  return error_format_shape(buf, n, mlx_array_shape(a),
                            (int)mlx_array_ndim(a));
}

static int missing(const cmlx_model* m, const char* name) {
  return MODEL_FAIL("[load] %s: tensor %s is missing from the weights.",
                    m->dir, name);
}

/* One checkpoint tensor of a declared parameter, "<path>.<suffix>" (the
 * path alone for a lone tensor), taken from the weight set with the file
 * it came from; a ctx NULL when absent. */
typedef struct part {
  char name[600];
  const char* file;
  mlx_array a;
} part;

static void part_take(part* t, weight_set* ws, const char* path,
                      const char* suffix) {
  if (suffix) snprintf(t->name, sizeof t->name, "%s.%s", path, suffix);
  else snprintf(t->name, sizeof t->name, "%s", path);
  t->file = NULL;
  t->a = ws_take(ws, t->name, &t->file);
}

enum { ANY_FLOAT = -1 };

/* The one check of a checkpoint tensor: present, of dtype want (ANY_FLOAT:
 * float32, float16 or bfloat16) and of shape [ndim]. */
static int part_check(const cmlx_model* m, const part* t, int want, int ndim,
                      const int* shape) {
  if (!t->a.ctx) return missing(m, t->name);
  const char* file = t->file ? t->file : m->dir;
  mlx_dtype dt = mlx_array_dtype(t->a);
  if (want == ANY_FLOAT ? !dtype_is_float(dt) : (int)dt != want)
    return MODEL_FAIL("[load] %s in %s has dtype %s, expected %s.", t->name,
                      file, dtype_name(dt),
                      want == ANY_FLOAT ? "a float type"
                                        : dtype_name((mlx_dtype)want));
  bool ok = (int)mlx_array_ndim(t->a) == ndim;
  for (int i = 0; ok && i < ndim; i++) ok = mlx_array_dim(t->a, i) == shape[i];
  if (ok) return 0;
  char b1[96], b2[96];
  return MODEL_FAIL("[load] %s in %s has shape %s, expected %s.", t->name,
                    file, shape_of(b1, sizeof b1, t->a),
                    error_format_shape(b2, sizeof b2, shape, ndim));
}

/* Fills a linear layer (a bank of experts when p->experts > 0) or an
 * embedding, float or quantized, from its checkpoint tensors. */
static int fill_layer(cmlx_model* m, model_param* p, weight_set* ws) {
  part w, sc, bi, gs, bias;
  part_take(&w, ws, p->path, "weight");
  part_take(&sc, ws, p->path, "scales");
  part_take(&bi, ws, p->path, "biases");
  part_take(&gs, ws, p->path, "global_scale");
  bias.a = mlx_array_new();
  if (p->kind == PARAM_LINEAR) part_take(&bias, ws, p->path, "bias");
  int rc = 0;
  int lead = p->kind == PARAM_LINEAR && p->experts > 0 ? 1 : 0;
  int shape[4];
  if (lead) shape[0] = p->experts;
  shape[lead] = p->out;
  const quant_override* o = model_find_override(m, p->path);
  bool quantized = o ? !o->skip : sc.a.ctx != NULL;
  cmlx_quant_spec spec = o ? o->spec : m->quant;

  if (!w.a.ctx) {
    rc = missing(m, w.name);
  } else if (quantized) {
    if (!m->quantized && !o) {
      rc = MODEL_FAIL("[load] %s in %s: the layer is quantized but %s has no "
                      "\"quantization\".", sc.name, sc.file, m->config_path);
    } else if (!sc.a.ctx) {
      rc = missing(m, sc.name);
    } else if (p->in % spec.group_size != 0 ||
               ((int64_t)p->in * spec.bits) % 32 != 0) {
      rc = MODEL_FAIL("[load] %s: layer %s has input size %d, not a multiple "
                      "of the group size %d.", m->config_path, p->path, p->in,
                      spec.group_size);
    } else {
      bool affine = strcmp(spec.mode, "affine") == 0;
      shape[lead + 1] = (int)((int64_t)p->in * spec.bits / 32);
      rc = part_check(m, &w, MLX_UINT32, lead + 2, shape);
      shape[lead + 1] = p->in / spec.group_size;
      rc = rc || part_check(m, &sc, affine ? ANY_FLOAT : MLX_UINT8, lead + 2,
                            shape);
      if (!rc && !affine && bi.a.ctx)
        rc = MODEL_FAIL("[load] %s in %s: mode '%s' has no biases (config %s).",
                        bi.name, bi.file, spec.mode, m->config_path);
      else if (!rc && affine)
        rc = part_check(m, &bi, ANY_FLOAT, lead + 2, shape);
      if (!rc && gs.a.ctx &&
          (strcmp(spec.mode, "nvfp4") != 0 || mlx_array_size(gs.a) != 1 ||
           mlx_array_dtype(gs.a) != MLX_FLOAT32))
        rc = MODEL_FAIL("[load] %s in %s: a global scale must be one float32 "
                        "and needs mode 'nvfp4'.", gs.name, gs.file);
    }
  } else {
    shape[lead + 1] = p->in;
    if (sc.a.ctx)
      rc = MODEL_FAIL("[load] %s in %s: %s says layer %s is not quantized.",
                      sc.name, sc.file, m->config_path, p->path);
    else if (bi.a.ctx)
      rc = MODEL_FAIL("[load] %s in %s belongs to a quantized layer but there "
                      "is no %s.scales.", bi.name, bi.file, p->path);
    else
      rc = part_check(m, &w, ANY_FLOAT, lead + 2, shape);
  }
  if (!rc && p->kind == PARAM_LINEAR) {
    if (!p->has_bias && bias.a.ctx)
      rc = MODEL_FAIL("[load] %s in %s: the model has no such parameter.",
                      bias.name, bias.file);
    else if (p->has_bias)
      rc = part_check(m, &bias, ANY_FLOAT, lead + 1, shape);
  }
  if (!rc) {
    if (p->kind == PARAM_LINEAR) {
      rc = quantized ? cmlx_linear_init_quantized(p->linear, w.a, sc.a, bi.a,
                                                  gs.a, bias.a, p->in, spec)
                     : cmlx_linear_init(p->linear, w.a, bias.a);
    } else {
      rc = quantized ? cmlx_embedding_init_quantized(p->embedding, w.a, sc.a,
                                                     bi.a, gs.a, p->in, spec)
                     : cmlx_embedding_init(p->embedding, w.a);
      if (!rc) p->embedding->dtype = m->dtype;
    }
  }
  part* all[] = {&w, &sc, &bi, &gs, &bias};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    model_release(&all[i]->a);
  return rc;
}

static int fill_tensor(cmlx_model* m, model_param* p, weight_set* ws) {
  part t;
  part_take(&t, ws, p->path, NULL);
  int rc = part_check(m, &t, ANY_FLOAT, p->ndim, p->shape);
  if (!rc) {
    *p->tensor = t.a;
    t.a.ctx = NULL;
  }
  model_release(&t.a);
  return rc;
}

/* The checkpoint's float dtype: the first float tensor among the declared
 * parameters (a quantized layer's scales count when affine). */
static mlx_dtype detect_dtype(const cmlx_model* m, const weight_set* ws) {
  char name[600];
  for (size_t i = 0; i < m->num_params; i++) {
    const model_param* p = &m->params[i];
    const char* cands[2] = {"weight", "scales"};
    for (int c = 0; c < (p->kind == PARAM_TENSOR ? 1 : 2); c++) {
      if (p->kind == PARAM_TENSOR) snprintf(name, sizeof name, "%s", p->path);
      else snprintf(name, sizeof name, "%s.%s", p->path, cands[c]);
      mlx_array a = ws_peek(ws, name, NULL);
      if (a.ctx && dtype_is_float(mlx_array_dtype(a)))
        return mlx_array_dtype(a);
    }
  }
  return MLX_FLOAT32;
}

int model_fill_from(cmlx_model* m, weight_set* ws) {
  if (m->arch->sanitize && m->arch->sanitize(m, ws)) return 1;
  m->dtype = detect_dtype(m, ws);
  m->info.dtype = m->dtype;
  for (size_t i = 0; i < m->num_params; i++) {
    model_param* p = &m->params[i];
    int rc = p->kind == PARAM_TENSOR ? fill_tensor(m, p, ws)
                                     : fill_layer(m, p, ws);
    if (rc) return 1;
  }
  if (ws->count) {
    /* report the first leftover in name order, for a stable message */
    size_t best = 0;
    for (size_t i = 1; i < ws->count; i++)
      if (strcmp(ws->items[i].name, ws->items[best].name) < 0) best = i;
    return MODEL_FAIL("[load] %s in %s: the model (%s) has no such "
                      "parameter.", ws->items[best].name,
                      ws->items[best].file ? ws->items[best].file : m->dir,
                      m->model_type);
  }
  for (size_t i = 0; i < m->num_params; i++) {
    const model_param* p = &m->params[i];
    if (model_param_quantized(p) && !m->quantized) {
      m->quantized = true;
      m->quant = p->kind == PARAM_LINEAR ? p->linear->quant
                                         : p->embedding->quant;
    }
  }
  return 0;
}

int cmlx_model_load(cmlx_model** out, const char* dir, const mlx_stream s) {
  if (!out || !dir) {
    error_set("[load] The output pointer and the directory must be given.");
    return api_fail();
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return MODEL_FAIL("[load] %s is not a directory.", dir);
  cmlx_model* m = model_alloc(s);
  if (!m) return 1;
  m->dir = model_strdup(dir);
  char* cpath = model_path_join(dir, "config.json");
  char* text = NULL;
  size_t len = 0;
  weight_set ws = {0};
  int rc = !m->dir || !cpath ? MODEL_FAIL("[load] Out of memory.") : 0;
  rc = rc || read_text(cpath, &text, &len) ||
       model_setup(m, text, len, cpath) || load_weights(m, dir, &ws) ||
       model_fill_from(m, &ws);
  ws_free(&ws);
  free(text);
  free(cpath);
  if (rc) {
    cmlx_model_free(m);
    return 1;
  }
  *out = m;
  return 0;
}

/* ---- caches ---- */

int cmlx_cache_new(cmlx_cache** out, const cmlx_model* m) {
  if (!out || !m) {
    error_set("[cache] The model and the output must be given.");
    return api_fail();
  }
  int n = m->info.num_layers;
  cmlx_cache* c = calloc(1, sizeof *c);
  kv_cache* layers = calloc(n > 0 ? (size_t)n : 1, sizeof *layers);
  if (!c || !layers) {
    free(c);
    free(layers);
    return MODEL_FAIL("[cache] Out of memory.");
  }
  for (int i = 0; i < n; i++) {
    cmlx_model_layer_window(&layers[i].window, m, i);
    layers[i].step = 256;
  }
  c->num_layers = n;
  c->layers = layers;
  *out = c;
  return 0;
}

void cmlx_cache_free(cmlx_cache* c) {
  if (!c) return;
  for (int i = 0; i < c->num_layers; i++) {
    model_release(&c->layers[i].keys);
    model_release(&c->layers[i].values);
  }
  free(c->layers);
  free(c);
}

int cmlx_cache_offset(const cmlx_cache* c) {
  return c && c->num_layers > 0 ? c->layers[0].offset : 0;
}

/* ---- running ---- */

int cmlx_model_forward(mlx_array* logits, cmlx_model* m,
                       const mlx_array tokens, cmlx_cache* cache,
                       const mlx_stream s) {
  if (!logits || !m || !tokens.ctx) {
    error_set("[model_forward] The model, the tokens and the output must be "
              "given.");
    return api_fail();
  }
  mlx_dtype t = mlx_array_dtype(tokens);
  if (mlx_array_ndim(tokens) != 2 ||
      !(t == MLX_INT32 || t == MLX_UINT32 || t == MLX_INT64 ||
        t == MLX_UINT64 || t == MLX_INT16 || t == MLX_UINT16 ||
        t == MLX_INT8 || t == MLX_UINT8) ||
      mlx_array_dim(tokens, 1) < 1) {
    char b[64];
    return MODEL_FAIL("[model_forward] Tokens must be integers of shape "
                      "[batch, length], got %s %s.", dtype_name(t),
                      shape_of(b, sizeof b, tokens));
  }
  if (cache && cache->num_layers != m->info.num_layers)
    return MODEL_FAIL("[model_forward] The cache has %d layers, the model %d.",
                      cache->num_layers, m->info.num_layers);
  return m->arch->forward(logits, m, tokens, cache ? cache->layers : NULL, s);
}

int cmlx_sample(mlx_array* token, const mlx_array logits, float temperature,
                float top_p, mlx_array* key, const mlx_stream s) {
  if (!token || !logits.ctx || mlx_array_ndim(logits) < 1) {
    error_set("[sample] The logits and the output must be given.");
    return api_fail();
  }
  int rc;
  if (!(temperature > 0.0f)) {
    rc = mlx_argmax_axis(token, logits, -1, false, s) ||
         mlx_astype(token, *token, MLX_INT32, s);
    return rc;
  }
  if (!key || !key->ctx) {
    error_set("[sample] Sampling at a temperature above 0 needs a key.");
    return api_fail();
  }
  mlx_array next = mlx_array_new(), sub = mlx_array_new();
  mlx_array lp = mlx_array_new(), inv = mlx_array_new_float32(1.0f / temperature);
  mlx_array idx = mlx_array_new(), sp = mlx_array_new(), cum = mlx_array_new();
  mlx_array keep = mlx_array_new(), thr = mlx_array_new_float32(1.0f - top_p);
  mlx_array ninf = mlx_array_new_float32(-INFINITY), pick = mlx_array_new();
  rc = mlx_random_split(&next, &sub, *key, s) ||
       mlx_astype(&lp, logits, MLX_FLOAT32, s) ||
       mlx_multiply(&lp, lp, inv, s);
  if (!rc && top_p > 0.0f && top_p < 1.0f) {
    /* keep the most likely tokens whose total probability reaches top_p */
    rc = mlx_softmax_axis(&sp, lp, -1, true, s) ||
         mlx_argsort_axis(&idx, sp, -1, s) ||
         mlx_take_along_axis(&sp, sp, idx, -1, s) ||
         mlx_cumsum(&cum, sp, -1, false, true, s) ||
         mlx_greater(&keep, cum, thr, s) ||
         mlx_take_along_axis(&lp, lp, idx, -1, s) ||
         mlx_where(&lp, keep, lp, ninf, s) ||
         mlx_random_categorical(&pick, lp, -1, sub, s) ||
         mlx_expand_dims(&pick, pick, -1, s) ||
         mlx_take_along_axis(token, idx, pick, -1, s) ||
         mlx_squeeze_axis(token, *token, -1, s);
  } else if (!rc) {
    rc = mlx_random_categorical(token, lp, -1, sub, s);
  }
  rc = rc || mlx_astype(token, *token, MLX_INT32, s) ||
       mlx_array_set(key, next);
  mlx_array* all[] = {&next, &sub, &lp, &inv, &idx, &sp, &cum,
                      &keep, &thr, &ninf, &pick};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) model_release(all[i]);
  return rc;
}
