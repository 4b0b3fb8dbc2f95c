/* ops_misc.c - mlx-c entry points of number_of_elements, the windows
 * (hanning, hamming, blackman, bartlett) and hadamard_transform. They check
 * their handles, pointers and stream, then call ops/misc.h. */
#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/misc.h"

int mlx_number_of_elements(mlx_array* res, const mlx_array a, const int* axes, size_t axes_num,
                           bool inverted, mlx_dtype dtype, const mlx_stream s) {
  stream st;
  int n = 0;
  const char* op = "number_of_elements";
  if (api_begin(res, op, s, &st, 1, &a) || api_count_arg(&n, axes, axes_num, op, "axes"))
    return api_fail();
  return api_finish(res, op_number_of_elements(api_array(a), axes, n, inverted, dtype, st));
}

#define WINDOW_ENTRY(name, kind)                                  \
  int mlx_##name(mlx_array* res, int M, const mlx_stream s) {     \
    stream st;                                                    \
    if (api_begin(res, #name, s, &st, 0, NULL)) return api_fail(); \
    return api_finish(res, op_window(kind, M, st));               \
  }
WINDOW_ENTRY(hanning, WINDOW_HANNING)
WINDOW_ENTRY(hamming, WINDOW_HAMMING)
WINDOW_ENTRY(blackman, WINDOW_BLACKMAN)
WINDOW_ENTRY(bartlett, WINDOW_BARTLETT)
#undef WINDOW_ENTRY

int mlx_hadamard_transform(mlx_array* res, const mlx_array a, mlx_optional_float scale,
                           const mlx_stream s) {
  stream st;
  if (api_begin(res, "hadamard_transform", s, &st, 1, &a)) return api_fail();
  return api_finish(res, op_hadamard_transform(api_array(a), scale.has_value ? &scale.value : NULL,
                                           st));
}
