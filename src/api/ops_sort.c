/* ops_sort.c - mlx-c entry points of sort, argsort, partition,
 * argpartition and topk, with and without an axis. Each checks its handles
 * and stream (api_begin), then calls the front-end in ops/sort.h (a NULL axis there is
 * the flattened form). */
#include "api/api.h"
#include "mlx/c/ops.h"
#include "ops/sort.h"

/* The entry points without kth or k: name(res, a, s) and
 * name_axis(res, a, axis, s). */
#define SORT_ENTRIES(name)                                                          \
  int mlx_##name(mlx_array* res, const mlx_array a, const mlx_stream s) {           \
    stream st;                                                                      \
    if (api_begin(res, #name, s, &st, 1, &a)) return api_fail();                            \
    return api_finish(res, op_##name(api_array(a), NULL, st));                          \
  }                                                                                 \
  int mlx_##name##_axis(mlx_array* res, const mlx_array a, int axis,                \
                        const mlx_stream s) {                                       \
    stream st;                                                                      \
    if (api_begin(res, #name, s, &st, 1, &a)) return api_fail();                            \
    return api_finish(res, op_##name(api_array(a), &axis, st));                         \
  }
SORT_ENTRIES(sort)
SORT_ENTRIES(argsort)
#undef SORT_ENTRIES

/* The entry points with kth (partitions) or k (topk). */
#define SELECT_ENTRIES(name, arg)                                                   \
  int mlx_##name(mlx_array* res, const mlx_array a, int arg, const mlx_stream s) {  \
    stream st;                                                                      \
    if (api_begin(res, #name, s, &st, 1, &a)) return api_fail();                            \
    return api_finish(res, op_##name(api_array(a), arg, NULL, st));                     \
  }                                                                                 \
  int mlx_##name##_axis(mlx_array* res, const mlx_array a, int arg, int axis,       \
                        const mlx_stream s) {                                       \
    stream st;                                                                      \
    if (api_begin(res, #name, s, &st, 1, &a)) return api_fail();                            \
    return api_finish(res, op_##name(api_array(a), arg, &axis, st));                    \
  }
SELECT_ENTRIES(partition, kth)
SELECT_ENTRIES(argpartition, kth)
SELECT_ENTRIES(topk, k)
#undef SELECT_ENTRIES
