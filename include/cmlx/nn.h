/* cmlx/nn.h - neural-network layers on top of the mlx-c API.
 *
 * Layers are plain structs of mlx_array handles that the layer owns (a
 * handle whose ctx is NULL is "absent"). Start from an empty layer
 * (cmlx_linear_empty(), cmlx_embedding_empty(), a zeroed cmlx_rms_norm):
 * the init functions release what the layer held before. Apply functions build lazy graphs
 * and return a new array the caller frees; nothing is evaluated except
 * where a comment says so.
 *
 * Quantization follows MLX: a quantized weight is the packed uint32 matrix
 * that mlx_quantize returns, with its scales, and biases for the "affine"
 * mode only ("mxfp4", "mxfp8" and "nvfp4" have none). An "nvfp4" layer may
 * carry a float32 scalar global scale; MLX's quantized_matmul takes none, so
 * the layer multiplies the product by global_scale / (448 * 6), as MLX's
 * layers do.
 *
 * A group size or bit width of 0 means the mode's default (affine 64/4,
 * mxfp4 32/4, mxfp8 32/8, nvfp4 16/4). Names begin with cmlx_. */
#ifndef CMLX_NN_H
#define CMLX_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlx/c/array.h"
#include "mlx/c/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a weight is (to be) quantized. mode is one of "affine", "mxfp4",
 * "mxfp8", "nvfp4"; functions that store a spec keep their own copy of the
 * mode (one of the static strings those functions return). */
typedef struct cmlx_quant_spec {
  int group_size;
  int bits;
  const char* mode;
} cmlx_quant_spec;

/* Fills in a spec's defaults: validates mode (MLX's message for an unknown
 * one: "[quantize] Invalid quantization mode '<m>'."), replaces 0 sizes by
 * the mode's defaults and mode by its static string. A NULL or "" mode means
 * "affine". */
int cmlx_quant_spec_resolve(cmlx_quant_spec* spec);

/* Linear layer: y = x W^T (+ bias). weight is [out, in], or [E, out, in]
 * for a bank of E experts (see cmlx_linear_gather_apply). When quantized,
 * weight is MLX's packed uint32 [.., out, in * bits / 32]. */
typedef struct cmlx_linear {
  mlx_array weight;
  mlx_array scales;       /* quantized only */
  mlx_array biases;       /* quantized "affine" only */
  mlx_array global_scale; /* quantized "nvfp4" only, optional */
  mlx_array bias;         /* optional, [.., out] */
  int in_features;        /* logical sizes (before packing) */
  int out_features;
  bool quantized;
  cmlx_quant_spec quant;  /* meaningful when quantized */
} cmlx_linear;

/* An all-absent layer (every handle ctx NULL). */
cmlx_linear cmlx_linear_empty(void);
/* Makes a float layer from weight [.., out, in] and an optional bias
 * (bias.ctx NULL for none); the layer takes its own references. */
int cmlx_linear_init(cmlx_linear* l, const mlx_array weight,
                     const mlx_array bias);
/* Makes a quantized layer from its parts (biases / global_scale / bias may
 * be absent); checks that the shapes agree with spec and with in/out. */
int cmlx_linear_init_quantized(cmlx_linear* l, const mlx_array weight,
                               const mlx_array scales, const mlx_array biases,
                               const mlx_array global_scale,
                               const mlx_array bias, int in_features,
                               cmlx_quant_spec spec);
/* Releases every handle and leaves the layer empty. */
void cmlx_linear_free(cmlx_linear* l);
/* y = x W^T (+ bias), x [..., in] -> [..., out]. Float layers use matmul,
 * quantized ones quantized_matmul (x's dtype is kept). */
int cmlx_linear_apply(mlx_array* res, const cmlx_linear* l, const mlx_array x,
                      const mlx_stream s);
/* Expert bank (weight [E, out, in]): x [..., 1, in] (or [..., in] viewed so)
 * multiplied by the experts chosen by indices (int, shape broadcasting with
 * x's batch), through gather_qmm / gather_mm; sorted_indices as in MLX.
 * The bias, if any, is gathered the same way. */
int cmlx_linear_gather_apply(mlx_array* res, const cmlx_linear* l,
                             const mlx_array x, const mlx_array indices,
                             bool sorted_indices, const mlx_stream s);
/* MLX's to_quantized: replaces a float layer's weight by its quantized
 * form (spec resolved as cmlx_quant_spec_resolve does; in_features must be
 * divisible by the group size). The new weight, scales and biases are
 * evaluated and the float weight is released, so converting a model layer
 * by layer never holds two float copies. The bias stays float. Fails, with
 * the layer unchanged, on an already quantized layer. */
int cmlx_linear_to_quantized(cmlx_linear* l, cmlx_quant_spec spec,
                             const mlx_stream s);
/* Bytes held by the layer's arrays. */
uint64_t cmlx_linear_nbytes(const cmlx_linear* l);

/* Embedding table [num, dims] (quantized like a linear layer's weight). */
typedef struct cmlx_embedding {
  mlx_array weight;
  mlx_array scales;
  mlx_array biases;
  mlx_array global_scale;
  int num_embeddings;
  int dims;
  mlx_dtype dtype; /* dtype of the rows cmlx_embedding_apply returns */
  bool quantized;
  cmlx_quant_spec quant;
} cmlx_embedding;

cmlx_embedding cmlx_embedding_empty(void);
int cmlx_embedding_init(cmlx_embedding* e, const mlx_array weight);
int cmlx_embedding_init_quantized(cmlx_embedding* e, const mlx_array weight,
                                  const mlx_array scales,
                                  const mlx_array biases,
                                  const mlx_array global_scale, int dims,
                                  cmlx_quant_spec spec);
void cmlx_embedding_free(cmlx_embedding* e);
/* Rows of the table for integer ids [...] -> [..., dims] (quantized rows are
 * gathered packed, then dequantized to the scales' dtype). */
int cmlx_embedding_apply(mlx_array* res, const cmlx_embedding* e,
                         const mlx_array ids, const mlx_stream s);
/* The table used as an output head: x [..., dims] -> x W^T [..., num]
 * (tied embeddings; quantized_matmul when quantized). */
int cmlx_embedding_as_linear(mlx_array* res, const cmlx_embedding* e,
                             const mlx_array x, const mlx_stream s);
int cmlx_embedding_to_quantized(cmlx_embedding* e, cmlx_quant_spec spec,
                                const mlx_stream s);
uint64_t cmlx_embedding_nbytes(const cmlx_embedding* e);

/* RMSNorm: x / sqrt(mean(x^2) + eps) * weight (fast.rms_norm). */
typedef struct cmlx_rms_norm {
  mlx_array weight; /* [dims], may be absent (no scaling) */
  float eps;
} cmlx_rms_norm;

int cmlx_rms_norm_init(cmlx_rms_norm* n, const mlx_array weight, float eps);
void cmlx_rms_norm_free(cmlx_rms_norm* n);
int cmlx_rms_norm_apply(mlx_array* res, const cmlx_rms_norm* n,
                        const mlx_array x, const mlx_stream s);

#ifdef __cplusplus
}
#endif

#endif
