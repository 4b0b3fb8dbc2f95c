/* cmlx/model.h - causal language models: load, quantize, save, run.
 *
 * A model directory is what users download: config.json plus safetensors
 * weights, either one "model.safetensors", several "model*.safetensors"
 * files, or shards listed by "model.safetensors.index.json". Two layouts are
 * read:
 *   - Hugging Face originals (float weights, transformers' names);
 *   - mlx-lm's (config "quantization": {"group_size", "bits", "mode",
 *     "<layer path>": {overrides} | false}, and per quantized layer the keys
 *     "<path>.weight" (packed uint32), "<path>.scales", "<path>.biases"
 *     (affine only)).
 * Weights borrow the files' mappings (no copy); the model computes in the
 * checkpoint's float dtype (float32, float16 or bfloat16).
 *
 * cmlx_model_save writes mlx-lm's layout, which mlx-lm and MLX load as is.
 *
 * Every function returns 0 on success, or 1 after sending one message to
 * the mlx error handler (e.g. "[load] model.layers.0.mlp.down_proj.weight
 * in /dir/model.safetensors has shape (128,256), expected (256,128)"). */
#ifndef CMLX_MODEL_H
#define CMLX_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmlx/nn.h"
#include "mlx/c/array.h"
#include "mlx/c/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cmlx_model cmlx_model;
typedef struct cmlx_cache cmlx_cache;

/* Loads the model in directory dir. The stream is kept as the model's
 * default stream (weights are loaded on the CPU as mlx_load_safetensors
 * does). */
int cmlx_model_load(cmlx_model** out, const char* dir, const mlx_stream s);

/* Builds a model of the architecture and sizes config_json (the text of a
 * config.json) with random weights drawn from seed (uniform with standard
 * deviation 0.02; norm weights 1): each weight is made in dtype, quantized at once when quant is
 * given (as cmlx_model_quantize with no predicate would, so with the
 * architecture's own rules) and the float copy released before the next,
 * so a model far larger than memory in float fits in its quantized size. */
int cmlx_model_random(cmlx_model** out, const char* config_json,
                      const cmlx_quant_spec* quant /* may be NULL */,
                      mlx_dtype dtype, uint64_t seed, const mlx_stream s);

void cmlx_model_free(cmlx_model* m);

typedef struct cmlx_model_info {
  const char* model_type; /* config "model_type", e.g. "llama", "gpt_oss" */
  int num_layers;
  int hidden_size;
  int intermediate_size;
  int num_heads;
  int num_kv_heads;
  int head_dim;
  int vocab_size;
  int num_experts;        /* 0 for dense models */
  int num_experts_per_tok;
  mlx_dtype dtype;        /* compute dtype */
  bool quantized;         /* at least one quantized layer */
  cmlx_quant_spec quant;  /* the model-wide default when quantized */
  int num_quantized_layers;
  int num_float_layers;   /* linear/embedding layers left in float */
  uint64_t num_parameters; /* logical parameters (unpacked) */
  uint64_t weight_bytes;   /* bytes of all weights as held */
} cmlx_model_info;

/* Pointers in info (model_type, quant.mode) live as long as the model. */
int cmlx_model_get_info(cmlx_model_info* info, const cmlx_model* m);

/* ---- parameters and layers ---- */

/* Calls visit once per array the model holds, in declaration order, with
 * the name cmlx_model_save gives it (mlx-lm's: "<layer path>.weight",
 * ".scales", ".biases", ".global_scale", ".bias", or a lone tensor's full
 * name such as "model.norm.weight"). The array is borrowed: valid while the
 * model is and unchanged (mlx_array_set takes a reference). A visit that
 * returns nonzero stops the walk, and the call returns that value without
 * a message of its own. */
int cmlx_model_parameters(const cmlx_model* m,
                          int (*visit)(void* ctx, const char* name,
                                       const mlx_array a),
                          void* ctx);

typedef enum cmlx_layer_kind {
  CMLX_LAYER_LINEAR = 0,    /* a linear layer or a bank of experts */
  CMLX_LAYER_EMBEDDING = 1, /* an embedding table */
  CMLX_LAYER_TENSOR = 2,    /* a lone tensor: norm weights, sinks, ... */
} cmlx_layer_kind;

typedef struct cmlx_layer_desc {
  const char* path;      /* as cmlx_quant_predicate sees it; a tensor's full
                            name */
  cmlx_layer_kind kind;
  int experts;           /* a bank of experts [E, out, in]: E; else 0 */
  int in_features;       /* linear: input size; embedding: dims; tensor: 0 */
  int out_features;      /* linear: output size; embedding: rows; tensor: 0 */
  bool quantized;
  cmlx_quant_spec quant; /* when quantized */
  mlx_dtype dtype;       /* the weight's dtype as held (uint32 when
                            quantized) */
  uint64_t nbytes;       /* bytes of all the layer's arrays */
} cmlx_layer_desc;

/* Calls visit once per declared layer or lone tensor, in declaration
 * order (pointers in the description live as long as the model); stops as
 * cmlx_model_parameters does. */
int cmlx_model_layers(const cmlx_model* m,
                      int (*visit)(void* ctx, const cmlx_layer_desc* layer),
                      void* ctx);

/* The sliding window of transformer layer `layer` (0 .. num_layers - 1):
 * > 0 when it attends to that many positions only (its cache rotates),
 * 0 when it sees the whole context. */
int cmlx_model_layer_window(int* window, const cmlx_model* m, int layer);

/* ---- casting ---- */

/* Casts the model's float parameters to dtype (float32, float16 or
 * bfloat16), which becomes the compute dtype: float weights, biases and
 * tensors (norms, sinks), and the float scales and biases of affine
 * quantized layers; packed weights, the uint8 scales of the mx modes and
 * nvfp4's float32 global scales stay as they are. Each array is evaluated
 * in turn. cmlx_model_save then writes the new dtype into config.json's
 * "torch_dtype" (and transformers 5's "dtype") where present. On failure
 * the model may be partly cast. */
int cmlx_model_set_dtype(cmlx_model* m, mlx_dtype dtype);

/* ---- quantization ---- */

typedef enum cmlx_quant_choice {
  CMLX_QUANT_SKIP = 0,    /* leave the layer as it is */
  CMLX_QUANT_DEFAULT = 1, /* use the call's group_size / bits / mode */
  CMLX_QUANT_CUSTOM = 2,  /* use *custom (filled by the predicate) */
} cmlx_quant_choice;

/* Sees each quantizable layer: path as in the weight names without the
 * ".weight" suffix ("model.layers.0.mlp.down_proj", "model.embed_tokens",
 * "lm_head"), its input and output sizes (for an embedding: dims and the
 * number of rows), and chooses. custom starts as the call's spec. */
typedef cmlx_quant_choice (*cmlx_quant_predicate)(const char* path,
                                                  int in_features,
                                                  int out_features,
                                                  cmlx_quant_spec* custom,
                                                  void* ctx);

/* Quantizes the model's float linear and embedding layers in place (as
 * mlx-lm's quantize_model): group_size / bits of 0 take the mode's
 * defaults; the predicate chooses per layer, or, when NULL, the
 * architecture's own rules do (mlx-lm's model.quant_predicate, e.g.
 * GPT-OSS's router; without rules every layer takes the default). Layers
 * whose input size is not a multiple of the chosen group size are skipped,
 * layers already quantized are left alone. Each layer is converted and
 * evaluated in turn (its float weight released). Layers whose spec differs
 * from the model's default are saved as per-layer entries of config
 * "quantization", as mlx-lm records predicate overrides. */
int cmlx_model_quantize(cmlx_model* m, int group_size, int bits,
                        const char* mode, cmlx_quant_predicate predicate,
                        void* ctx);

/* The architecture's own rule for one layer, as cmlx_model_quantize
 * applies it when given no predicate: *choice (and *spec when
 * CMLX_QUANT_CUSTOM; spec starts as the caller's default) for the layer at
 * path with those sizes. Architectures without rules choose
 * CMLX_QUANT_DEFAULT. A predicate that counts or logs layers calls this to
 * keep the architecture's rules. */
int cmlx_model_quant_rule(cmlx_quant_choice* choice, const cmlx_model* m,
                          const char* path, int in_features,
                          int out_features, cmlx_quant_spec* spec);

/* ---- saving ---- */

/* Writes the model to dir (created if missing) in mlx-lm's layout:
 * config.json (the loaded config with "quantization" and
 * "quantization_config" blocks when quantized), safetensors shards of at
 * most max_shard_bytes (0: 5 GiB, mlx-lm's limit) with metadata
 * {"format": "mlx"}, named model.safetensors when one shard, else
 * model-0000K-of-0000N.safetensors, and model.safetensors.index.json. */
int cmlx_model_save(const cmlx_model* m, const char* dir);
int cmlx_model_save_sharded(const cmlx_model* m, const char* dir,
                            uint64_t max_shard_bytes);

/* ---- running ---- */

/* A KV cache for every layer of m: plain (grows in steps of 256 positions)
 * or rotating (keeps the last `window` positions) as the architecture's
 * layers need. */
int cmlx_cache_new(cmlx_cache** out, const cmlx_model* m);
void cmlx_cache_free(cmlx_cache* c);
/* Number of positions processed so far. */
int cmlx_cache_offset(const cmlx_cache* c);

/* logits [B, L, vocab] (model dtype) for tokens int32 [B, L]; with a cache
 * the tokens continue what the cache holds (positions start at its offset)
 * and the cache is extended. The result is lazy: evaluate it (that also
 * evaluates the cache's new entries). */
int cmlx_model_forward(mlx_array* logits, cmlx_model* m,
                       const mlx_array tokens, cmlx_cache* cache,
                       const mlx_stream s);

/* Picks one token per row of logits [..., vocab] -> int32 [...]:
 * temperature 0: argmax; else a draw from softmax(logits / temperature),
 * restricted to the smallest set of most likely tokens whose probability
 * reaches top_p when 0 < top_p < 1. The draw uses *key (a threefry key
 * from mlx_random_key), which is then replaced by a fresh one, so a seeded
 * key gives a reproducible sequence. key is not used at temperature 0. */
int cmlx_sample(mlx_array* token, const mlx_array logits, float temperature,
                float top_p, mlx_array* key, const mlx_stream s);

#ifdef __cplusplus
}
#endif

#endif
