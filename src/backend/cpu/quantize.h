/* quantize.h - CPU kernels of quantize, dequantize and the fp8 conversions.
 *
 * Node contracts (the front-ends in ops/quantized.c validate everything
 * MLX validates before the node exists; the kernels accept any layout and
 * make row-contiguous copies where they need them):
 * - Quantize   (params quant_params)
 *     inputs  w [..., K] float, [global_scale float32 of size 1 (nvfp4)]
 *     outputs wq [..., K*bits/32] uint32, scales [..., K/group] (w's dtype
 *             for affine, uint8 for the fp modes), [biases like scales]
 *   float64 w fails for affine with MLX's eval-time message.
 * - Dequantize (params quant_params)
 *     inputs  wq [..., W] uint32, scales [..., S], [biases [..., S]],
 *             [global_scale], with W*32/bits == S*group
 *     output  [..., S*group] of the node's dtype
 *   affine: scales and biases have one dtype, float32/float16/bfloat16
 *   (other combinations are composed from plain ops by the front-end).
 * - QuantUnpack (params quant_params; only bits is used)
 *     input wq [..., W] uint32; output the codes [..., W*32/bits] uint32.
 * - ToFP8: float x -> uint8 E4M3 codes; FromFP8: uint8 -> float dtype.
 * Each returns 0, or 1 with error_set(). */
#ifndef CMLX_CPU_QUANTIZE_H
#define CMLX_CPU_QUANTIZE_H

#include "backend/cpu/quant_formats.h"
#include "core/array.h"

typedef struct quant_params {
  quant_mode mode;
  int group_size;
  int bits;
  bool has_global_scale;
} quant_params;

int cpu_quantize_eval(node* n);
int cpu_dequantize_eval(node* n);
int cpu_quant_unpack_eval(node* n);
int cpu_to_fp8_eval(node* n);
int cpu_from_fp8_eval(node* n);

#endif
