/* model_internal.h - the model framework as an architecture sees it.
 *
 * An architecture (src/models/<name>.c) is a model_arch: a table of hooks
 * the framework (src/models/model.c) calls. The framework reads
 * config.json, finds the architecture by "model_type", and calls:
 *
 *   init(m, config)      read the architecture's config keys (cfg_* helpers),
 *                        allocate m->arch_state and DECLARE every parameter
 *                        with model_add_linear / model_add_embedding /
 *                        model_add_tensor, giving where the array(s) live
 *                        (fields of arch_state) and their logical shapes.
 *                        Declared names are mlx-lm's (the layout cmlx saves).
 *   sanitize(m, ws)      (optional) rewrite a checkpoint's tensors into the
 *                        declared names and layouts (Hugging Face -> mlx-lm:
 *                        split fused tensors, rename, drop extras), with
 *                        ws_take / ws_put. Called on every load, so it must
 *                        leave mlx-lm-form names alone.
 *   forward(...)         logits for tokens, with the per-layer caches.
 *   layer_window(m, i)   (optional) > 0: layer i attends to a sliding window
 *                        of that many positions (its cache is rotating).
 *   quant_predicate      (optional) the architecture's own rules, applied
 *                        after the user's predicate (mlx-lm's
 *                        model.quant_predicate).
 *   free_state(m)        free arch_state itself (NOT the declared arrays:
 *                        the framework frees every declared parameter first).
 *
 * The framework then fills every declared parameter, from the checkpoint
 * (checking names, shapes and quantization, detecting quantized layers by
 * their ".scales") or with random values (cmlx_model_random), and does
 * quantize, save and info generically over the declared list.
 *
 * Contract with src/models/gpt_oss.c (written separately): it defines
 *   const model_arch model_arch_gpt_oss = {.model_type = "gpt_oss", ...};
 * The framework's architecture table (model.c) refers to it. Expert banks
 * are linears declared with experts = E (weight [E, out, in]), applied
 * with cmlx_linear_gather_apply. */
#ifndef CMLX_MODELS_MODEL_INTERNAL_H
#define CMLX_MODELS_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmlx/model.h"
#include "cmlx/nn.h"
#include "core/error.h"
#include "io/json.h"
#include "mlx/c/array.h"
#include "mlx/c/stream.h"

/* Errors: every function here that fails has already sent its one message
 * to the error handler (as mlx-c calls do), so callers just return 1.
 * MODEL_FAIL(fmt, ...) records a message and reports it: return it. */
#define MODEL_FAIL(...) (error_set(__VA_ARGS__), api_fail())

/* ---- checkpoint tensors, by name, during loading ---- */

typedef struct weight_entry {
  char* name;
  mlx_array array;
  const char* file; /* the file it came from (owned by the set) */
} weight_entry;

typedef struct weight_set {
  weight_entry* items;
  size_t count, cap;
  char** files; /* interned file paths */
  size_t num_files;
} weight_set;

/* Removes name from the set and returns its array (the caller owns it), or
 * an array with ctx NULL when absent. *file (if file) gets its file. */
mlx_array ws_take(weight_set* ws, const char* name, const char** file);
/* The array under name without removing it (borrowed), or ctx NULL. */
mlx_array ws_peek(const weight_set* ws, const char* name, const char** file);
bool ws_has(const weight_set* ws, const char* name);
/* Adds (or replaces) name; the set takes over the array (the caller must
 * not free it). file may be NULL or a file returned by ws_take/ws_peek. */
int ws_put(weight_set* ws, const char* name, mlx_array a, const char* file);

/* ---- rope ---- */

typedef struct rope_config {
  char type[16];     /* "default", "linear", "llama3", "yarn" */
  int dims;          /* rotated features (head_dim) */
  bool traditional;  /* false for Llama / GPT-OSS */
  float base;        /* rope_theta */
  float scale;       /* position scale (1/factor for "linear") */
  float mscale;      /* yarn: q and k are multiplied by this (1 otherwise) */
  mlx_array freqs;   /* [dims/2] custom frequencies (llama3, yarn), or ctx NULL */
} rope_config;

/* Reads rope_theta and the scaling block ("rope_parameters" as in
 * transformers 5, else "rope_scaling"; "type" or "rope_type"), computes the
 * frequencies as Hugging Face / mlx-lm do. where names the config file for
 * messages. */
int rope_init(rope_config* r, const json_value* config, int dims,
              const char* where);
void rope_free(rope_config* r);
/* x [B, H, L, D] rotated for positions offset .. offset + L - 1. */
int rope_apply(mlx_array* res, const rope_config* r, const mlx_array x,
               int offset, const mlx_stream s);

/* ---- KV cache ---- */

typedef struct kv_cache {
  int window;        /* 0: plain; > 0: rotating, keeps the last window */
  int offset;        /* positions processed so far */
  int step;          /* growth step (256) */
  int capacity;      /* allocated positions in keys/values */
  int idx;           /* rotating: next write slot */
  mlx_array keys;    /* [B, H_kv, capacity, D] or ctx NULL */
  mlx_array values;
} kv_cache;

struct cmlx_cache {
  int num_layers;
  kv_cache* layers;
};

static inline int kv_cache_offset(const kv_cache* c) {
  return c ? c->offset : 0;
}

/* Scaled dot-product attention of q [B, H_q, L, D] over the cache's
 * previous entries plus k, v [B, H_kv, L, D] (already roped), with the
 * causal mask, restricted to the last `window` keys per query when window
 * > 0 (also without a cache), and per-head sinks [H_q] when sinks.ctx is
 * set. Appends k, v to the cache (cache may be NULL: no history) and
 * advances its offset by L. out: [B, H_q, L, D]. */
int model_attention(mlx_array* out, kv_cache* cache, int window,
                    const mlx_array q, const mlx_array k, const mlx_array v,
                    float scale, const mlx_array sinks, const mlx_stream s);

/* ---- a standard attention block (Llama, GPT-OSS) ---- */

typedef struct attn_block {
  cmlx_linear q_proj, k_proj, v_proj, o_proj;
  cmlx_rms_norm q_norm, k_norm; /* weight ctx NULL when unused (Qwen3 uses) */
  mlx_array sinks;              /* [H_q] or ctx NULL */
  int num_heads, num_kv_heads, head_dim;
  float scale;                  /* 1/sqrt(head_dim) */
  int window;                   /* 0 or the sliding window */
} attn_block;

/* Declares prefix.{q,k,v,o}_proj (with biases when bias; o_proj gets one
 * when o_bias) and, when sinks, the tensor prefix.sinks [num_heads]. */
int attn_block_declare(cmlx_model* m, attn_block* a, const char* prefix,
                       int hidden, int num_heads, int num_kv_heads,
                       int head_dim, bool bias, bool o_bias, bool sinks,
                       int window);
/* x [B, L, hidden] -> [B, L, hidden] (q, k, v projections, rope at the
 * cache's offset, model_attention, o_proj). */
int attn_block_apply(mlx_array* res, const attn_block* a,
                     const rope_config* rope, const mlx_array x,
                     kv_cache* cache, const mlx_stream s);

/* ---- the model ---- */

typedef struct model_arch model_arch;

/* Parameters the architecture declared. */
typedef enum param_kind { PARAM_LINEAR, PARAM_EMBEDDING, PARAM_TENSOR } param_kind;
typedef enum param_init { INIT_NORMAL, INIT_ONES, INIT_ZEROS } param_init;

typedef struct model_param {
  char* path;          /* layer path (linear, embedding) or the full key */
  param_kind kind;
  cmlx_linear* linear;
  cmlx_embedding* embedding;
  mlx_array* tensor;
  int experts;         /* linear: 0, or E for an expert bank */
  int in, out;         /* linear: in/out features; embedding: dims/num */
  bool has_bias;       /* linear */
  int ndim;            /* tensor */
  int shape[4];
  param_init init;     /* random models: normal(0, 0.02), ones or zeros */
  bool quantizable;    /* linear / embedding: true unless told otherwise */
} model_param;

/* A per-layer entry of config "quantization": a spec, or false (skip). */
typedef struct quant_override {
  const char* path; /* points into the config document */
  bool skip;
  cmlx_quant_spec spec;
} quant_override;

struct cmlx_model {
  const model_arch* arch;
  void* arch_state;
  char model_type[64];
  mlx_dtype dtype;       /* compute dtype */
  bool dtype_changed;    /* cast by cmlx_model_set_dtype: saving writes the
                            new dtype into config "torch_dtype" / "dtype" */
  mlx_stream stream;
  char* dir;             /* source directory, NULL for random models */
  char* config_path;     /* for messages: "<dir>/config.json" or "config" */
  char* config_text;     /* config.json as read (json numbers point into it) */
  json_doc config;
  /* common sizes (the architecture fills what applies in init) */
  cmlx_model_info info;
  /* the model-wide quantization, when quantized (loaded or converted) */
  bool quantized;
  cmlx_quant_spec quant;
  quant_override* quant_overrides; /* as loaded from config.json */
  size_t num_overrides;
  model_param* params;
  size_t num_params, cap_params;
};

struct model_arch {
  const char* model_type;
  int (*init)(cmlx_model* m, const json_value* config);
  int (*sanitize)(cmlx_model* m, weight_set* ws);
  /* logits [B, L, vocab] for tokens [B, L]; caches: NULL or one per layer */
  int (*forward)(mlx_array* logits, cmlx_model* m, const mlx_array tokens,
                 kv_cache* caches, const mlx_stream s);
  int (*layer_window)(const cmlx_model* m, int layer);
  cmlx_quant_choice (*quant_predicate)(const cmlx_model* m, const char* path,
                                       int in_features, int out_features,
                                       cmlx_quant_spec* spec);
  void (*free_state)(cmlx_model* m);
};

/* The architectures (model.c's table lists them). */
extern const model_arch model_arch_llama;
extern const model_arch model_arch_gpt_oss; /* src/models/gpt_oss.c */

/* Declaring parameters (in init). The path is printf-formatted. */
int model_add_linear(cmlx_model* m, cmlx_linear* l, int experts, int in,
                     int out, bool bias, const char* fmt, ...)
    __attribute__((format(printf, 7, 8)));
int model_add_embedding(cmlx_model* m, cmlx_embedding* e, int num, int dims,
                        const char* fmt, ...)
    __attribute__((format(printf, 5, 6)));
int model_add_tensor(cmlx_model* m, mlx_array* a, param_init init, int ndim,
                     const int* shape, const char* fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Marks the most recently declared linear/embedding as never quantized. */
void model_param_not_quantizable(cmlx_model* m);

/* Config values. A missing key gives dflt, or (required) the error
 * "[load] <config path>: missing \"key\""; a value of the wrong type is an
 * error naming the key. */
int cfg_int(const cmlx_model* m, const json_value* cfg, const char* key,
            bool required, int dflt, int* out);
int cfg_float(const cmlx_model* m, const json_value* cfg, const char* key,
              bool required, float dflt, float* out);
int cfg_bool(const cmlx_model* m, const json_value* cfg, const char* key,
             bool required, bool dflt, bool* out);
/* True for "affine", "mxfp4", "mxfp8", "nvfp4" (NULL / "" count as
 * affine); reports nothing. */
bool quant_mode_valid(const char* mode);
/* A number's value as a double (integers and decimals); false if not a
 * number. */
bool json_number_value(const json_value* v, double* out);

#endif
