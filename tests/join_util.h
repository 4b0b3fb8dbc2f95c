/* join_util.h - helpers shared by test_join.c and test_join_pad.c (on
 * top of reduce_util.h): row-major index arithmetic, random arrays and
 * dtypes, the byte-for-byte reference gathered from the input through an
 * index map, and the result check against it.
 *
 * Everything here is static: each test program includes it once. */
#ifndef CMLX_TEST_JOIN_UTIL_H
#define CMLX_TEST_JOIN_UTIL_H

#include <stdlib.h>

#include "reduce_util.h"

#define MAXD 6

/* ---- helpers ---- */

static inline void unravel(size_t i, const int* shape, int nd, int* idx) {
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = shape[d] ? (int)(i % (size_t)shape[d]) : 0;
    if (shape[d]) i /= (size_t)shape[d];
  }
}

static inline size_t ravel(const int* idx, const int* shape, int nd) {
  size_t i = 0;
  for (int d = 0; d < nd; d++) i = i * (size_t)shape[d] + (size_t)idx[d];
  return i;
}

/* A random array of dtype t and shape in a random layout. */
static inline mlx_array rand_array(mlx_dtype t, const int* shape, int nd) {
  return make_view((layout_kind)rand_int(0, 3), t, shape, nd, -8, 8, -100, 100);
}

static inline mlx_dtype rand_dtype(void) {
  return all_dtypes[rand_int(0, N_DTYPES - 1)];
}

/* Checks out's shape, dtype and row-major bytes against ref. */
static inline bool check_result(mlx_array out, mlx_dtype t, const int* shape, int nd,
                                const void* ref, const char* what) {
  bool ok = test_shape_is(out, shape, nd) && mlx_array_dtype(out) == t;
  CHECK_MSG(ok, "%s: wrong shape or dtype", what);
  if (!ok) return false;
  void* got = raw_bytes(out);
  size_t nb = shape_size(shape, nd) * mlx_dtype_size(t);
  ok = nb == 0 || memcmp(got, ref, nb) == 0;
  CHECK_MSG(ok, "%s: wrong bytes (dtype %s)", what, dtype_name(t));
  free(got);
  return ok;
}

/* The output bytes of a gather: element i comes from src[map(i)], or is
 * the fill element when map gives -1. */
typedef int64_t (*index_map)(const int* out_idx, const void* ctx);

static inline void* gather_ref(const void* src, size_t esize, const int* shape, int nd,
                               index_map map, const void* ctx, const void* fill) {
  size_t n = shape_size(shape, nd);
  char* out = calloc(n ? n : 1, esize);
  int idx[MAXD + 2];
  for (size_t i = 0; i < n; i++) {
    unravel(i, shape, nd, idx);
    int64_t k = map(idx, ctx);
    memcpy(out + i * esize, k < 0 ? fill : (const char*)src + (size_t)k * esize, esize);
  }
  return out;
}

static inline mlx_vector_array vec_of(const mlx_array* items, int n) {
  return mlx_vector_array_new_data(items, (size_t)n);
}

#endif
