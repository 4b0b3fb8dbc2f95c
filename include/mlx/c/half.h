/* cmlx: half-precision element types as seen through the public C API.
 *
 * On x86-64 there is no portable scalar half type in C11, so float16 and
 * bfloat16 data is exchanged as raw 16-bit patterns (read it through
 * mlx_array_data_uint16 or convert with an astype). The HAS_FLOAT16 /
 * HAS_BFLOAT16 macros are defined only where the compiler offers native
 * types, mirroring mlx-c. */
#ifndef MLX_HALF_H
#define MLX_HALF_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__ARM_FEATURE_FP16_SCALAR_ARITHMETIC) || defined(__aarch64__)
#define HAS_FLOAT16
#include <arm_fp16.h>
typedef __fp16 float16_t;
#endif

#if defined(__ARM_FEATURE_BF16) || defined(__aarch64__)
#define HAS_BFLOAT16
#include <arm_bf16.h>
typedef __bf16 bfloat16_t;
#endif

#ifdef __cplusplus
}
#endif

#endif
