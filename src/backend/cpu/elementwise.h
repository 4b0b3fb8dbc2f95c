/* elementwise.h - running a 1-D inner loop over n-d strided arrays.
 *
 * The output is row-contiguous; each input has the output's shape (the op
 * front-end broadcasts first, so broadcast axes have stride 0). ew_run
 * merges axes that are contiguous in every operand, splits the flattened
 * index range over the thread pool and calls the inner loop on runs of the
 * innermost axis:
 *   inner(out, in, in_stride, n, params)
 *   out:       n elements, contiguous
 *   in[k]:     first element of input k for this run
 *   in_stride: element stride of each input along the run (0 = broadcast)
 * Inner loops are generated per op and dtype (see the X-macros in
 * unary.c / binary.c); they special-case stride 1 and 0 so the compiler
 * vectorises the common cases. */
#ifndef CMLX_CPU_ELEMENTWISE_H
#define CMLX_CPU_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

#include "core/array.h"
#include "core/half.h"

#define EW_MAX_INPUTS 4

typedef void (*ew_inner_fn)(void* out, const void* const* in,
                            const int64_t* in_stride, size_t n,
                            const void* params);

/* out must already have its buffer (array_alloc / array_alloc_or_donate). */
void ew_run(array* out, array* const* in, int n_in, ew_inner_fn fn,
            const void* params);

/* Conversion of one element between any two dtypes, as MLX's casts do
 * (float -> int truncates toward zero; -> bool is != 0; complex -> real
 * types takes the real part). */
void ew_convert(void* dst, mlx_dtype dst_type, const void* src,
                mlx_dtype src_type, size_t n, int64_t src_stride);

static inline void ew_convert_one(void* dst, mlx_dtype dst_type,
                                  const void* src, mlx_dtype src_type) {
  ew_convert(dst, dst_type, src, src_type, 1, 1);
}

/* Load/store helpers for generated loops: the compute type of float16 and
 * bfloat16 is float. */
#define EW_LOAD_bool(v) (v)
#define EW_LOAD_uint8(v) (v)
#define EW_LOAD_uint16(v) (v)
#define EW_LOAD_uint32(v) (v)
#define EW_LOAD_uint64(v) (v)
#define EW_LOAD_int8(v) (v)
#define EW_LOAD_int16(v) (v)
#define EW_LOAD_int32(v) (v)
#define EW_LOAD_int64(v) (v)
#define EW_LOAD_float16(v) f16_to_f32(v)
#define EW_LOAD_float32(v) (v)
#define EW_LOAD_float64(v) (v)
#define EW_LOAD_bfloat16(v) bf16_to_f32(v)
#define EW_STORE_float16(v) f32_to_f16(v)
#define EW_STORE_bfloat16(v) f32_to_bf16(v)

#endif
