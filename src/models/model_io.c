/* model_io.c - quantizing a model (mlx-lm's quantize_model), casting its
 * float parameters (cmlx_model_set_dtype), saving it in mlx-lm's layout
 * (save_model / save_config) and building models with random weights. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dtype.h"
#include "mlx/c/io.h"
#include "mlx/c/map.h"
#include "mlx/c/ops.h"
#include "mlx/c/random.h"
#include "mlx/c/transforms.h"
#include "models/model_private.h"

/* ---- quantization decisions ---- */

/* The architecture's own rule (CMLX_QUANT_DEFAULT when it has none). */
static cmlx_quant_choice arch_rule(const cmlx_model* m, const char* path,
                                   int in, int out, cmlx_quant_spec* spec) {
  return m->arch->quant_predicate
             ? m->arch->quant_predicate(m, path, in, out, spec)
             : CMLX_QUANT_DEFAULT;
}

int cmlx_model_quant_rule(cmlx_quant_choice* choice, const cmlx_model* m,
                          const char* path, int in_features,
                          int out_features, cmlx_quant_spec* spec) {
  if (!choice || !m || !path || !spec) {
    error_set("[model_quant_rule] The model, the path, the spec and the "
              "output must be given.");
    return api_fail();
  }
  *choice = arch_rule(m, path, in_features, out_features, spec);
  return 0;
}

/* Whether (and how) to quantize p: the user's predicate when given, else
 * the architecture's; then layers whose input size the group size does not
 * divide are skipped. Returns -1 on error, 0 skip, 1 quantize with *spec. */
static int decide(const cmlx_model* m, const model_param* p,
                  const cmlx_quant_spec* dflt, cmlx_quant_predicate pred,
                  void* ctx, cmlx_quant_spec* spec) {
  if (p->kind == PARAM_TENSOR || !p->quantizable ||
      model_param_quantized(p))
    return 0;
  cmlx_quant_spec custom = *dflt;
  cmlx_quant_choice c = pred ? pred(p->path, p->in, p->out, &custom, ctx)
                             : arch_rule(m, p->path, p->in, p->out, &custom);
  if (c == CMLX_QUANT_SKIP) return 0;
  if (c == CMLX_QUANT_CUSTOM) {
    if (!quant_mode_valid(custom.mode)) {
      MODEL_FAIL("[quantize] Invalid quantization mode '%s' chosen for %s.",
                 custom.mode, p->path);
      return -1;
    }
    if (cmlx_quant_spec_resolve(&custom)) return -1;
    *spec = custom;
  } else if (c == CMLX_QUANT_DEFAULT) {
    *spec = *dflt;
  } else {
    MODEL_FAIL("[quantize] The predicate returned %d for %s.", (int)c,
               p->path);
    return -1;
  }
  if (spec->group_size <= 0 || p->in % spec->group_size != 0) return 0;
  return 1;
}

static int quantize_param(model_param* p, const cmlx_quant_spec* spec,
                          const mlx_stream s) {
  return p->kind == PARAM_LINEAR
             ? cmlx_linear_to_quantized(p->linear, *spec, s)
             : cmlx_embedding_to_quantized(p->embedding, *spec, s);
}

int cmlx_model_quantize(cmlx_model* m, int group_size, int bits,
                        const char* mode, cmlx_quant_predicate predicate,
                        void* ctx) {
  if (!m) {
    error_set("[quantize] The model is NULL.");
    return api_fail();
  }
  cmlx_quant_spec dflt = {group_size, bits, mode};
  if (cmlx_quant_spec_resolve(&dflt)) return 1;
  bool any = false;
  for (size_t i = 0; i < m->num_params; i++) {
    model_param* p = &m->params[i];
    cmlx_quant_spec spec;
    int d = decide(m, p, &dflt, predicate, ctx, &spec);
    if (d < 0) return 1;
    if (d == 0) continue;
    if (quantize_param(p, &spec, m->stream)) return 1;
    any = true;
  }
  if (any && !m->quantized) {
    m->quantized = true;
    m->quant = dflt;
  }
  return 0;
}

/* ---- casting ---- */

/* 0 for float32, float16 and bfloat16; else 1 after "[who] The dtype must
 * be ...". */
static int need_float_dtype(const char* who, mlx_dtype t) {
  if (dtype_is_float(t)) return 0;
  return MODEL_FAIL("[%s] The dtype must be float32, float16 or bfloat16.",
                    who);
}

/* Casts *a (when present and floating) to t, evaluated. */
static int cast_array(mlx_array* a, mlx_dtype t, const mlx_stream s) {
  if (!a->ctx || !dtype_is_float(mlx_array_dtype(*a)) ||
      mlx_array_dtype(*a) == t)
    return 0;
  mlx_array r = mlx_array_new();
  if (mlx_astype(&r, *a, t, s) || mlx_array_eval(r)) {
    model_release(&r);
    return 1;
  }
  mlx_array_free(*a);
  *a = r;
  return 0;
}

int cmlx_model_set_dtype(cmlx_model* m, mlx_dtype dtype) {
  if (!m) {
    error_set("[model_set_dtype] The model is NULL.");
    return api_fail();
  }
  if (need_float_dtype("model_set_dtype", dtype)) return 1;
  for (size_t i = 0; i < m->num_params; i++) {
    model_param* p = &m->params[i];
    mlx_array* arrays[5];
    const char* sfx[5];
    int n = model_param_arrays(p, arrays, sfx);
    for (int k = 0; k < n; k++) {
      /* nvfp4's global scale is float32 by definition */
      if (sfx[k] && strcmp(sfx[k], "global_scale") == 0) continue;
      if (cast_array(arrays[k], dtype, m->stream)) return 1;
    }
    /* the rows it returns (dequantized ones too, as loading sets it) */
    if (p->kind == PARAM_EMBEDDING) p->embedding->dtype = dtype;
  }
  m->dtype_changed = true;
  m->dtype = dtype;
  m->info.dtype = dtype;
  return 0;
}

/* ---- JSON output in Python's json.dump(indent=4) style ---- */

static void put(json_builder* b, const char* s) { json_put_raw(b, s, strlen(s)); }

static void indent(json_builder* b, int level) {
  put(b, "\n");
  for (int i = 0; i < level; i++) put(b, "    ");
}

/* A string as Python writes it with ensure_ascii=True. */
static void put_py_string(json_builder* b, const char* s, size_t n) {
  put(b, "\"");
  const unsigned char* p = (const unsigned char*)s;
  char buf[16];
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    if (c == '"') put(b, "\\\"");
    else if (c == '\\') put(b, "\\\\");
    else if (c == '\n') put(b, "\\n");
    else if (c == '\r') put(b, "\\r");
    else if (c == '\t') put(b, "\\t");
    else if (c == '\b') put(b, "\\b");
    else if (c == '\f') put(b, "\\f");
    else if (c < 0x20) {
      snprintf(buf, sizeof buf, "\\u%04x", c);
      put(b, buf);
    } else if (c < 0x80) {
      json_put_raw(b, (const char*)&p[i], 1);
    } else {
      /* decode one UTF-8 sequence (the parser validated it) */
      unsigned cp, len;
      if (c >= 0xF0) { cp = c & 0x07; len = 4; }
      else if (c >= 0xE0) { cp = c & 0x0F; len = 3; }
      else { cp = c & 0x1F; len = 2; }
      for (unsigned k = 1; k < len && i + k < n; k++)
        cp = (cp << 6) | (p[i + k] & 0x3F);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
                 0xDC00 + (cp & 0x3FF));
      } else {
        snprintf(buf, sizeof buf, "\\u%04x", cp);
      }
      put(b, buf);
      i += len;
      continue;
    }
    i++;
  }
  put(b, "\"");
}

static void put_value(json_builder* b, const json_value* v, int level) {
  switch (v->type) {
    case JSON_NULL: put(b, "null"); break;
    case JSON_TRUE: put(b, "true"); break;
    case JSON_FALSE: put(b, "false"); break;
    case JSON_NUMBER:
      json_put_raw(b, v->as.number.text, v->as.number.text_len);
      break;
    case JSON_STRING:
      put_py_string(b, v->as.string.text, v->as.string.len);
      break;
    case JSON_ARRAY:
      if (!v->as.array.count) {
        put(b, "[]");
        break;
      }
      put(b, "[");
      for (size_t i = 0; i < v->as.array.count; i++) {
        if (i) put(b, ",");
        indent(b, level + 1);
        put_value(b, v->as.array.items[i], level + 1);
      }
      indent(b, level);
      put(b, "]");
      break;
    case JSON_OBJECT:
      if (!v->as.object.count) {
        put(b, "{}");
        break;
      }
      put(b, "{");
      for (size_t i = 0; i < v->as.object.count; i++) {
        const json_member* mem = &v->as.object.members[i];
        if (i) put(b, ",");
        indent(b, level + 1);
        put_py_string(b, mem->key, mem->key_len);
        put(b, ": ");
        put_value(b, mem->value, level + 1);
      }
      indent(b, level);
      put(b, "}");
      break;
  }
}

static void put_spec_members(json_builder* b, const cmlx_quant_spec* s,
                             int level) {
  char num[32];
  indent(b, level);
  snprintf(num, sizeof num, "%d", s->group_size);
  put(b, "\"group_size\": ");
  put(b, num);
  put(b, ",");
  indent(b, level);
  snprintf(num, sizeof num, "%d", s->bits);
  put(b, "\"bits\": ");
  put(b, num);
  put(b, ",");
  indent(b, level);
  put(b, "\"mode\": ");
  put_py_string(b, s->mode, strlen(s->mode));
}

static bool same_spec(const cmlx_quant_spec* a, const cmlx_quant_spec* b) {
  return a->group_size == b->group_size && a->bits == b->bits &&
         strcmp(a->mode, b->mode) == 0;
}

/* The "quantization" block: the default, then one entry per quantized
 * layer whose spec differs (as mlx-lm records predicate overrides). */
static void put_quantization(json_builder* b, const cmlx_model* m,
                             int level) {
  put(b, "{");
  put_spec_members(b, &m->quant, level + 1);
  for (size_t i = 0; i < m->num_params; i++) {
    const model_param* p = &m->params[i];
    if (!model_param_quantized(p)) continue;
    const cmlx_quant_spec* s =
        p->kind == PARAM_LINEAR ? &p->linear->quant : &p->embedding->quant;
    if (same_spec(s, &m->quant)) continue;
    put(b, ",");
    indent(b, level + 1);
    put_py_string(b, p->path, strlen(p->path));
    put(b, ": {");
    put_spec_members(b, s, level + 2);
    indent(b, level + 1);
    put(b, "}");
  }
  indent(b, level);
  put(b, "}");
}

static int cmp_member(const void* a, const void* b) {
  const json_member* x = *(const json_member* const*)a;
  const json_member* y = *(const json_member* const*)b;
  size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
  int c = memcmp(x->key, y->key, n);
  if (c) return c;
  return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

static bool is_key(const json_member* mem, const char* k) {
  return strlen(k) == mem->key_len && memcmp(mem->key, k, mem->key_len) == 0;
}

/* config.json as mlx-lm's save_config writes it: top-level keys sorted,
 * "_name_or_path" and "vision_config" dropped, "quantization" and
 * "quantization_config" (the same block) when quantized. */
static int config_text(const cmlx_model* m, json_builder* b) {
  const json_value* root = m->config.root;
  size_t n = root->as.object.count;
  const json_member** mems = calloc(n + 2, sizeof *mems);
  json_member qm[2];
  if (!mems) return MODEL_FAIL("[save] Out of memory.");
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const json_member* mem = &root->as.object.members[i];
    if (is_key(mem, "_name_or_path") || is_key(mem, "vision_config") ||
        is_key(mem, "quantization") || is_key(mem, "quantization_config"))
      continue;
    /* a repeated key: Python keeps the last value */
    size_t j;
    for (j = 0; j < k; j++)
      if (mems[j]->key_len == mem->key_len &&
          memcmp(mems[j]->key, mem->key, mem->key_len) == 0)
        break;
    if (j < k) mems[j] = mem;
    else mems[k++] = mem;
  }
  bool quantized = false;
  for (size_t i = 0; i < m->num_params; i++)
    quantized = quantized || model_param_quantized(&m->params[i]);
  if (quantized) {
    qm[0] = (json_member){"quantization", 12, NULL};
    qm[1] = (json_member){"quantization_config", 19, NULL};
    mems[k++] = &qm[0];
    mems[k++] = &qm[1];
  }
  qsort(mems, k, sizeof *mems, cmp_member);
  put(b, "{");
  for (size_t i = 0; i < k; i++) {
    if (i) put(b, ",");
    indent(b, 1);
    put_py_string(b, mems[i]->key, mems[i]->key_len);
    put(b, ": ");
    if (!mems[i]->value) {
      put_quantization(b, m, 1);
    } else if (m->dtype_changed && mems[i]->value->type == JSON_STRING &&
               (is_key(mems[i], "torch_dtype") || is_key(mems[i], "dtype"))) {
      const char* t = dtype_name(m->dtype); /* "float16", "bfloat16", ... */
      put_py_string(b, t, strlen(t));
    } else {
      put_value(b, mems[i]->value, 1);
    }
  }
  indent(b, 0);
  put(b, "}");
  free((void*)mems);
  return b->failed ? MODEL_FAIL("[save] Out of memory.") : 0;
}

/* ---- saving ---- */

typedef struct saved {
  char* name;
  mlx_array array; /* borrowed */
  int shard;
} saved;

typedef struct saved_list {
  saved* items;
  size_t n, cap;
} saved_list;

static int add_saved(void* ctx, const char* name, const mlx_array a) {
  saved_list* l = ctx;
  if (l->n == l->cap) {
    size_t c = l->cap ? l->cap * 2 : 64;
    saved* items = realloc(l->items, c * sizeof *items);
    if (!items) return MODEL_FAIL("[save] Out of memory.");
    l->items = items;
    l->cap = c;
  }
  l->items[l->n].name = model_strdup(name);
  l->items[l->n].array = a;
  l->items[l->n].shard = 0;
  if (!l->items[l->n].name) return MODEL_FAIL("[save] Out of memory.");
  l->n++;
  return 0;
}

static int cmp_saved(const void* a, const void* b) {
  return strcmp(((const saved*)a)->name, ((const saved*)b)->name);
}

static int write_file(const char* path, const char* data, size_t len) {
  FILE* f = fopen(path, "wb");
  if (!f)
    return MODEL_FAIL("[save] Cannot create %s: %s.", path, strerror(errno));
  size_t w = fwrite(data, 1, len, f);
  int bad = w != len;
  bad |= fclose(f) != 0;
  if (bad) return MODEL_FAIL("[save] Cannot write %s.", path);
  return 0;
}

static uint64_t total_parameters(const cmlx_model* m) {
  /* mlx-lm's get_total_parameters: quantized layers count their unpacked
   * weight (and bias), others every parameter */
  uint64_t n = 0;
  for (size_t i = 0; i < m->num_params; i++) {
    const model_param* p = &m->params[i];
    if (p->kind == PARAM_TENSOR) {
      if (p->tensor->ctx) n += mlx_array_size(*p->tensor);
      continue;
    }
    if (p->kind == PARAM_LINEAR) {
      const cmlx_linear* l = p->linear;
      if (l->quantized) {
        n += (uint64_t)mlx_array_size(l->weight) * 32 / (uint64_t)l->quant.bits;
        if (l->bias.ctx) n += mlx_array_size(l->bias);
      } else {
        n += mlx_array_size(l->weight);
        if (l->bias.ctx) n += mlx_array_size(l->bias);
      }
    } else {
      const cmlx_embedding* e = p->embedding;
      n += e->quantized ? (uint64_t)mlx_array_size(e->weight) * 32 /
                              (uint64_t)e->quant.bits
                        : mlx_array_size(e->weight);
    }
  }
  return n;
}

int cmlx_model_save_sharded(const cmlx_model* m, const char* dir,
                            uint64_t max_shard_bytes) {
  if (!m || !dir) {
    error_set("[save] The model and the directory must be given.");
    return api_fail();
  }
  if (max_shard_bytes == 0) max_shard_bytes = (uint64_t)5 << 30;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return MODEL_FAIL("[save] Cannot create the directory %s: %s.", dir,
                      strerror(errno));
  saved_list sl = {0};
  int rc = model_walk_arrays(m, add_saved, &sl);
  saved* list = sl.items;
  size_t n = sl.n;
  /* shards in declaration order, as mlx-lm's make_shards */
  int shards = 1;
  uint64_t size = 0, total = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    uint64_t nb = mlx_array_nbytes(list[i].array);
    if (size > 0 && size + nb > max_shard_bytes) {
      shards++;
      size = 0;
    }
    list[i].shard = shards - 1;
    size += nb;
    total += nb;
  }
  char fname[64];
  for (int sh = 0; !rc && sh < shards; sh++) {
    if (shards == 1) snprintf(fname, sizeof fname, "model.safetensors");
    else snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors",
                  sh + 1, shards);
    mlx_map_string_to_array map = mlx_map_string_to_array_new();
    mlx_map_string_to_string meta = mlx_map_string_to_string_new();
    rc = mlx_map_string_to_string_insert(meta, "format", "mlx");
    for (size_t i = 0; !rc && i < n; i++)
      if (list[i].shard == sh)
        rc = mlx_map_string_to_array_insert(map, list[i].name, list[i].array);
    char* path = rc ? NULL : model_path_join(dir, fname);
    if (!rc && !path) rc = MODEL_FAIL("[save] Out of memory.");
    rc = rc || mlx_save_safetensors(path, map, meta);
    free(path);
    mlx_map_string_to_array_free(map);
    mlx_map_string_to_string_free(meta);
  }
  /* model.safetensors.index.json, weight_map sorted */
  json_builder b = {0};
  if (!rc) {
    char num[32];
    qsort(list, n, sizeof *list, cmp_saved);
    put(&b, "{\n    \"metadata\": {\n        \"total_size\": ");
    snprintf(num, sizeof num, "%llu", (unsigned long long)total);
    put(&b, num);
    put(&b, ",\n        \"total_parameters\": ");
    snprintf(num, sizeof num, "%llu", (unsigned long long)total_parameters(m));
    put(&b, num);
    put(&b, "\n    },\n    \"weight_map\": {");
    for (size_t i = 0; i < n; i++) {
      if (i) put(&b, ",");
      indent(&b, 2);
      put_py_string(&b, list[i].name, strlen(list[i].name));
      put(&b, ": ");
      if (shards == 1) snprintf(fname, sizeof fname, "model.safetensors");
      else snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors",
                    list[i].shard + 1, shards);
      put_py_string(&b, fname, strlen(fname));
    }
    indent(&b, 1);
    put(&b, "}\n}");
    char* path = model_path_join(dir, "model.safetensors.index.json");
    rc = b.failed || !path ? MODEL_FAIL("[save] Out of memory.")
                           : write_file(path, b.data, b.len);
    free(path);
  }
  free(b.data);
  if (!rc) {
    json_builder c = {0};
    char* path = model_path_join(dir, "config.json");
    rc = !path ? MODEL_FAIL("[save] Out of memory.")
               : config_text(m, &c) || write_file(path, c.data, c.len);
    free(path);
    free(c.data);
  }
  for (size_t i = 0; i < n; i++) free(list[i].name);
  free(list);
  return rc;
}

int cmlx_model_save(const cmlx_model* m, const char* dir) {
  return cmlx_model_save_sharded(m, dir, 0);
}

/* ---- random models ---- */

static int eval1(mlx_array a) { return mlx_array_eval(a); }

static int random_array(mlx_array* res, param_init init, const int* shape,
                        int ndim, mlx_dtype dtype, uint64_t seed,
                        const mlx_stream s) {
  if (init == INIT_ONES) return mlx_ones(res, shape, (size_t)ndim, dtype, s);
  if (init == INIT_ZEROS) return mlx_zeros(res, shape, (size_t)ndim, dtype, s);
  /* uniform with standard deviation 0.02: cheaper to draw than a normal
   * (no erfinv), which matters for models of billions of weights */
  mlx_array key = mlx_array_new();
  mlx_array lo = mlx_array_new_float32(-0.02f * 1.7320508f);
  mlx_array hi = mlx_array_new_float32(0.02f * 1.7320508f);
  int rc = mlx_random_key(&key, seed) ||
           mlx_random_uniform(res, lo, hi, shape, (size_t)ndim, dtype, key, s);
  model_release(&key);
  model_release(&lo);
  model_release(&hi);
  return rc;
}

int cmlx_model_random(cmlx_model** out, const char* config_json,
                      const cmlx_quant_spec* quant, mlx_dtype dtype,
                      uint64_t seed, const mlx_stream s) {
  if (!out || !config_json) {
    error_set("[model_random] The output and the config must be given.");
    return api_fail();
  }
  if (need_float_dtype("model_random", dtype)) return 1;
  cmlx_quant_spec dflt = {0, 0, NULL};
  if (quant) {
    dflt = *quant;
    if (cmlx_quant_spec_resolve(&dflt)) return 1;
  }
  cmlx_model* m = model_alloc(s);
  if (!m) return 1;
  m->dtype = dtype;
  int rc = model_setup(m, config_json, strlen(config_json), "config.json");
  m->info.dtype = dtype;
  bool any = false;
  for (size_t i = 0; !rc && i < m->num_params; i++) {
    model_param* p = &m->params[i];
    uint64_t sd = seed * 1000003ull + (uint64_t)i * 7919ull + 1;
    mlx_array w = mlx_array_new(), bias = mlx_array_new();
    if (p->kind == PARAM_TENSOR) {
      rc = random_array(p->tensor, p->init, p->shape, p->ndim, dtype, sd, s) ||
           eval1(*p->tensor);
      continue;
    }
    int shape[3], nd = 0;
    if (p->kind == PARAM_LINEAR && p->experts > 0) shape[nd++] = p->experts;
    shape[nd++] = p->out;
    shape[nd++] = p->in;
    rc = random_array(&w, INIT_NORMAL, shape, nd, dtype, sd, s) || eval1(w);
    if (!rc && p->kind == PARAM_LINEAR && p->has_bias)
      rc = random_array(&bias, INIT_NORMAL, shape, nd - 1, dtype, sd + 1, s) ||
           eval1(bias);
    if (!rc) {
      rc = p->kind == PARAM_LINEAR ? cmlx_linear_init(p->linear, w, bias)
                                   : cmlx_embedding_init(p->embedding, w);
    }
    model_release(&w);
    model_release(&bias);
    if (!rc && quant) {
      cmlx_quant_spec spec;
      int d = decide(m, p, &dflt, NULL, NULL, &spec);
      if (d < 0) rc = 1;
      else if (d > 0) {
        rc = quantize_param(p, &spec, s);
        any = true;
      }
    }
  }
  if (!rc && any) {
    m->quantized = true;
    m->quant = dflt;
  }
  if (rc) {
    cmlx_model_free(m);
    return 1;
  }
  *out = m;
  return 0;
}
