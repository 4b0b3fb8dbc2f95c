/* test_shape.c - the axis ops and views: transpose, swapaxes, moveaxis,
 * squeeze, expand_dims, flatten, unflatten, atleast_Nd, as_strided and the
 * internal slice.
 *
 * Values are checked against references computed here from index
 * arithmetic on row-major data; views are checked to share the input's
 * buffer (same data pointer up to the offset, the strides MLX reports);
 * chains of views end in mlx_contiguous and must give the same numbers.
 * Every validation error is checked with MLX's exact text. */
#include <stdlib.h>

#include "core/array.h"
#include "core/error.h"
#include "harness.h"
#include "ops/ops.h"

#define MAXD 8

/* ---- helpers ---- */

static int64_t shape_size(const int* shape, int nd) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= shape[i];
  return n;
}

/* float32 array holding 0, 1, 2, ... in row-major order. */
static mlx_array iota(const int* shape, int nd) {
  int64_t n = shape_size(shape, nd);
  float* d = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) d[i] = (float)i;
  mlx_array a = mlx_array_new_data(d, shape, nd, MLX_FLOAT32);
  free(d);
  return a;
}

/* a holds want[0..n) in row-major order and has the given shape. */
static bool values_are(mlx_array a, const int* shape, int nd, const double* want) {
  if (!test_shape_is(a, shape, nd)) return false;
  int64_t n = shape_size(shape, nd);
  double* got = test_to_f64(a);
  if (!got) return false;
  bool ok = true;
  for (int64_t i = 0; i < n; i++)
    if (got[i] != want[i]) ok = false;
  free(got);
  return ok;
}

/* The flat row-major index of element `idx` of an array laid out with
 * `strides` (element counts) starting at `offset`. */
static int64_t flat_at(const int64_t* idx, const int64_t* strides, int nd, int64_t offset) {
  int64_t o = offset;
  for (int d = 0; d < nd; d++) o += idx[d] * strides[d];
  return o;
}

/* Reference for any strided view of an iota: element i of the output
 * (shape, row-major) is the iota value at offset + sum idx*strides. */
static double* strided_ref(const int* shape, int nd, const int64_t* strides, int64_t offset) {
  int64_t n = shape_size(shape, nd);
  double* r = malloc(sizeof(double) * (size_t)(n ? n : 1));
  int64_t idx[MAXD] = {0};
  for (int64_t i = 0; i < n; i++) {
    r[i] = (double)flat_at(idx, strides, nd, offset);
    for (int d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return r;
}

static void row_strides(const int* shape, int nd, int64_t* st) {
  int64_t s = 1;
  for (int d = nd - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
}

static stream cur_stream(void) {
  return *(const stream*)test_stream.ctx;
}

/* The internal slice as an mlx_array handle (mlx_slice comes later). */
static mlx_array slice_view(mlx_array a, const int* start, const int* stop, const int* step) {
  return (mlx_array){op_slice((array*)a.ctx, start, stop, step, cur_stream())};
}

static bool strides_are(mlx_array a, const int64_t* want) {
  const size_t* st = mlx_array_strides(a);
  if (!st) return false;
  for (size_t d = 0; d < mlx_array_ndim(a); d++)
    if ((int64_t)st[d] != want[d]) return false;
  return true;
}

static const char* data_of(mlx_array a) {
  return (const char*)mlx_array_data_uint8(a);
}

static bool is_row_contiguous(mlx_array a) {
  bool r = false;
  _mlx_array_is_row_contiguous(&r, a);
  return r;
}

/* ---- transpose, swapaxes, moveaxis ---- */

static void test_transpose_random(void) {
  for (int trial = 0; trial < 60; trial++) {
    int nd = (int)test_rand(0, 6);
    int shape[MAXD], perm[MAXD], axes[MAXD];
    for (int d = 0; d < nd; d++) {
      shape[d] = (int)test_rand(0, 4.999);
      if (trial % 5) shape[d] += 1; /* mostly non-empty */
      perm[d] = d;
    }
    for (int d = nd - 1; d > 0; d--) { /* Fisher-Yates */
      int j = (int)test_rand(0, d + 0.999);
      int t = perm[d];
      perm[d] = perm[j];
      perm[j] = t;
    }
    for (int d = 0; d < nd; d++) axes[d] = (trial & 1) ? perm[d] - nd : perm[d];
    mlx_array a = iota(shape, nd), t = mlx_array_new();
    CHECK_OK(mlx_transpose_axes(&t, a, axes, (size_t)nd, test_stream));
    int oshape[MAXD];
    int64_t ast[MAXD], ost[MAXD];
    row_strides(shape, nd, ast);
    for (int d = 0; d < nd; d++) {
      oshape[d] = shape[perm[d]];
      ost[d] = ast[perm[d]];
    }
    double* want = strided_ref(oshape, nd, ost, 0);
    CHECK_MSG(values_are(t, oshape, nd, want), "trial %d nd %d", trial, nd);
    /* a view: same buffer, permuted strides */
    CHECK(data_of(t) == data_of(a));
    CHECK(strides_are(t, ost));
    free(want);
    mlx_array_free(a);
    mlx_array_free(t);
  }
}

static void test_transpose_view_flags(void) {
  int shape[2] = {2, 3};
  mlx_array a = iota(shape, 2), t = mlx_array_new(), c = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, a, test_stream));
  int tshape[2] = {3, 2};
  CHECK(test_shape_is(t, tshape, 2));
  CHECK(!is_row_contiguous(t));
  bool col = false;
  CHECK_OK(_mlx_array_is_col_contiguous(&col, t));
  CHECK(col);
  CHECK(data_of(t) == data_of(a));
  int64_t st[2] = {1, 3};
  CHECK(strides_are(t, st));
  /* a copy makes it row-major with its own buffer */
  CHECK_OK(mlx_contiguous(&c, t, false, test_stream));
  double want[6] = {0, 3, 1, 4, 2, 5};
  CHECK(values_are(c, tshape, 2, want));
  CHECK(is_row_contiguous(c));
  CHECK(data_of(c) != data_of(a));
  /* transposing into the handle that held the input */
  CHECK_OK(mlx_transpose(&t, t, test_stream));
  double back[6] = {0, 1, 2, 3, 4, 5};
  CHECK(values_are(t, shape, 2, back));
  mlx_array_free(a);
  mlx_array_free(t);
  mlx_array_free(c);
}

static void test_transpose_errors_and_edges(void) {
  int shape[2] = {2, 3};
  mlx_array a = iota(shape, 2), r = mlx_array_new();
  int one[1] = {0}, bad[2] = {0, 2}, rep[2] = {0, 0}, neg[2] = {0, -3}, rep2[2] = {1, -1};
  EXPECT_ERROR(mlx_transpose_axes(&r, a, one, 1, test_stream),
               "[transpose] Recived 1 axes for array with 2 dimensions.");
  EXPECT_ERROR(mlx_transpose_axes(&r, a, bad, 2, test_stream),
               "[transpose] Invalid axis (2) for array with 2 dimensions.");
  /* MLX shifts a negative axis once and reports the shifted value */
  EXPECT_ERROR(mlx_transpose_axes(&r, a, neg, 2, test_stream),
               "[transpose] Invalid axis (-1) for array with 2 dimensions.");
  EXPECT_ERROR(mlx_transpose_axes(&r, a, rep, 2, test_stream),
               "[transpose] Repeat axes not allowed.");
  EXPECT_ERROR(mlx_transpose_axes(&r, a, rep2, 2, test_stream),
               "[transpose] Repeat axes not allowed.");
  EXPECT_ERROR(mlx_transpose_axes(&r, a, NULL, 2, test_stream),
               "[transpose_axes] The axes pointer is NULL.");
  /* 0-d: transpose is the identity */
  mlx_array z = mlx_array_new_float(4.5f);
  CHECK_OK(mlx_transpose(&r, z, test_stream));
  double v = 4.5;
  CHECK(values_are(r, NULL, 0, &v));
  CHECK_OK(mlx_transpose_axes(&r, z, NULL, 0, test_stream));
  CHECK(values_are(r, NULL, 0, &v));
  /* empty */
  int eshape[3] = {2, 0, 3}, tshape[3] = {3, 0, 2};
  mlx_array e = iota(eshape, 3);
  CHECK_OK(mlx_transpose(&r, e, test_stream));
  CHECK(values_are(r, tshape, 3, NULL));
  /* handle errors */
  mlx_array empty = mlx_array_new();
  EXPECT_ERROR(mlx_transpose(&r, empty, test_stream),
               "[transpose] The input array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_transpose(NULL, a, test_stream), "[transpose] The result pointer is NULL.");
  mlx_array_free(a);
  mlx_array_free(z);
  mlx_array_free(e);
  mlx_array_free(r);
}

static void test_swapaxes_moveaxis(void) {
  int shape[4] = {2, 3, 4, 5};
  int64_t st[4];
  row_strides(shape, 4, st);
  mlx_array a = iota(shape, 4), r = mlx_array_new();
  for (int i = -4; i < 4; i++)
    for (int j = -4; j < 4; j++) {
      int ii = i < 0 ? i + 4 : i, jj = j < 0 ? j + 4 : j;
      /* swapaxes */
      int perm[4] = {0, 1, 2, 3};
      perm[ii] = jj;
      perm[jj] = ii;
      int os[4];
      int64_t ost[4];
      for (int d = 0; d < 4; d++) {
        os[d] = shape[perm[d]];
        ost[d] = st[perm[d]];
      }
      CHECK_OK(mlx_swapaxes(&r, a, i, j, test_stream));
      double* want = strided_ref(os, 4, ost, 0);
      CHECK_MSG(values_are(r, os, 4, want), "swapaxes %d %d", i, j);
      CHECK(data_of(r) == data_of(a));
      free(want);
      /* moveaxis: the other axes keep their order */
      int k = 0;
      for (int d = 0; d < 4; d++) {
        if (d == jj) {
          perm[d] = ii;
          continue;
        }
        if (k == ii) k++;
        perm[d] = k++;
      }
      for (int d = 0; d < 4; d++) {
        os[d] = shape[perm[d]];
        ost[d] = st[perm[d]];
      }
      CHECK_OK(mlx_moveaxis(&r, a, i, j, test_stream));
      want = strided_ref(os, 4, ost, 0);
      CHECK_MSG(values_are(r, os, 4, want), "moveaxis %d %d", i, j);
      free(want);
    }
  EXPECT_ERROR(mlx_swapaxes(&r, a, 4, 0, test_stream),
               "[swapaxes] Invalid axis 4 for array with 4 dimensions.");
  EXPECT_ERROR(mlx_swapaxes(&r, a, 0, -5, test_stream),
               "[swapaxes] Invalid axis -5 for array with 4 dimensions.");
  EXPECT_ERROR(mlx_moveaxis(&r, a, -5, 0, test_stream),
               "[moveaxis] Invalid axis -5 for array with 4 dimensions.");
  EXPECT_ERROR(mlx_moveaxis(&r, a, 0, 4, test_stream),
               "[moveaxis] Invalid axis 4 for array with 4 dimensions.");
  mlx_array z = mlx_array_new_int(1);
  EXPECT_ERROR(mlx_swapaxes(&r, z, 0, 0, test_stream),
               "[swapaxes] Invalid axis 0 for array with 0 dimensions.");
  mlx_array_free(z);
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- squeeze, expand_dims ---- */

static void test_squeeze(void) {
  int shape[5] = {1, 3, 1, 2, 1};
  mlx_array a = iota(shape, 5), r = mlx_array_new();
  double want[6] = {0, 1, 2, 3, 4, 5};
  int all[2] = {3, 2};
  CHECK_OK(mlx_squeeze(&r, a, test_stream));
  CHECK(values_are(r, all, 2, want));
  CHECK(data_of(r) == data_of(a));
  int64_t st[2] = {2, 1};
  CHECK(strides_are(r, st));
  int s1[4] = {3, 1, 2, 1};
  CHECK_OK(mlx_squeeze_axis(&r, a, 0, test_stream));
  CHECK(values_are(r, s1, 4, want));
  int s2[3] = {1, 3, 2};
  int ax2[2] = {-1, 2};
  CHECK_OK(mlx_squeeze_axes(&r, a, ax2, 2, test_stream));
  CHECK(values_are(r, s2, 3, want));
  CHECK_OK(mlx_squeeze_axes(&r, a, NULL, 0, test_stream));
  CHECK(values_are(r, shape, 5, want));
  /* squeeze of a transposed view keeps its strides */
  mlx_array t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, a, test_stream)); /* (1,2,1,3,1) */
  CHECK_OK(mlx_squeeze(&r, t, test_stream));
  int ts[2] = {2, 3};
  double tw[6] = {0, 2, 4, 1, 3, 5};
  CHECK(values_are(r, ts, 2, tw));
  /* errors */
  int sq_bad[1] = {1};
  EXPECT_ERROR(mlx_squeeze_axis(&r, a, 1, test_stream),
               "[squeeze] Cannot squeeze axis 1 with size 3 which is not equal to 1.");
  EXPECT_ERROR(mlx_squeeze_axes(&r, a, sq_bad, 1, test_stream),
               "[squeeze] Cannot squeeze axis 1 with size 3 which is not equal to 1.");
  EXPECT_ERROR(mlx_squeeze_axis(&r, a, -4, test_stream),
               "[squeeze] Cannot squeeze axis -4 with size 3 which is not equal to 1.");
  EXPECT_ERROR(mlx_squeeze_axis(&r, a, 5, test_stream),
               "[squeeze] Axis 5 is out of bounds for array with 5 dimensions.");
  EXPECT_ERROR(mlx_squeeze_axis(&r, a, -6, test_stream),
               "[squeeze] Axis -6 is out of bounds for array with 5 dimensions.");
  int dup[2] = {0, -5};
  EXPECT_ERROR(mlx_squeeze_axes(&r, a, dup, 2, test_stream), "[squeeze] Received duplicate axes.");
  int shape23[2] = {2, 3};
  mlx_array b = iota(shape23, 2);
  EXPECT_ERROR(mlx_squeeze_axis(&r, b, 0, test_stream),
               "[squeeze] Cannot squeeze axis 0 with size 2 which is not equal to 1.");
  /* 0-d and empty */
  mlx_array z = mlx_array_new_float(2.0f);
  CHECK_OK(mlx_squeeze(&r, z, test_stream));
  double two = 2;
  CHECK(values_are(r, NULL, 0, &two));
  EXPECT_ERROR(mlx_squeeze_axis(&r, z, 0, test_stream),
               "[squeeze] Axis 0 is out of bounds for array with 0 dimensions.");
  int es[3] = {1, 0, 1}, eo[1] = {0};
  mlx_array e = iota(es, 3);
  CHECK_OK(mlx_squeeze(&r, e, test_stream));
  CHECK(values_are(r, eo, 1, NULL));
  mlx_array all1 = iota((int[]){1, 1}, 2);
  CHECK_OK(mlx_squeeze(&r, all1, test_stream));
  double zero = 0;
  CHECK(values_are(r, NULL, 0, &zero));
  mlx_array_free(all1);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(t);
  mlx_array_free(z);
  mlx_array_free(e);
  mlx_array_free(r);
}

static void test_expand_dims(void) {
  int shape[2] = {2, 3};
  mlx_array a = iota(shape, 2), r = mlx_array_new();
  double want[6] = {0, 1, 2, 3, 4, 5};
  struct {
    int axes[3];
    int n;
    int out[5];
    int64_t strides[5];
  } cases[] = {
      {{0}, 1, {1, 2, 3}, {1, 3, 1}},
      {{1}, 1, {2, 1, 3}, {3, 1, 1}},
      {{2}, 1, {2, 3, 1}, {3, 1, 1}},
      {{-1}, 1, {2, 3, 1}, {3, 1, 1}},
      {{-3}, 1, {1, 2, 3}, {1, 3, 1}},
      {{0, 3}, 2, {1, 2, 3, 1}, {1, 3, 1, 1}},
      {{3, 0}, 2, {1, 2, 3, 1}, {1, 3, 1, 1}},
      {{-1, 0, 2}, 3, {1, 2, 1, 3, 1}, {1, 3, 1, 1, 1}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int nd = 2 + cases[c].n;
    if (cases[c].n == 1)
      CHECK_OK(mlx_expand_dims(&r, a, cases[c].axes[0], test_stream));
    else
      CHECK_OK(mlx_expand_dims_axes(&r, a, cases[c].axes, (size_t)cases[c].n, test_stream));
    CHECK_MSG(values_are(r, cases[c].out, nd, want), "case %zu", c);
    /* a view; new axes get stride 1, as MLX reports */
    CHECK(data_of(r) == data_of(a));
    CHECK_MSG(strides_are(r, cases[c].strides), "case %zu", c);
  }
  CHECK_OK(mlx_expand_dims_axes(&r, a, NULL, 0, test_stream));
  CHECK(values_are(r, shape, 2, want));
  EXPECT_ERROR(mlx_expand_dims(&r, a, 3, test_stream),
               "[expand_dims] Axis 3 is out of bounds for array with 3 dimensions.");
  EXPECT_ERROR(mlx_expand_dims(&r, a, -4, test_stream),
               "[expand_dims] Axis -4 is out of bounds for array with 3 dimensions.");
  int big[3] = {5, 0, 1};
  EXPECT_ERROR(mlx_expand_dims_axes(&r, a, big, 3, test_stream),
               "[expand_dims] Axis 5 is out of bounds for array with 5 dimensions.");
  int dup[2] = {0, -4};
  EXPECT_ERROR(mlx_expand_dims_axes(&r, a, dup, 2, test_stream),
               "[expand_dims] Received duplicate axes.");
  int s3[3] = {2, 3, 4};
  mlx_array b = iota(s3, 3);
  EXPECT_ERROR(mlx_expand_dims(&r, b, 5, test_stream),
               "[expand_dims] Axis 5 is out of bounds for array with 4 dimensions.");
  /* 0-d and empty */
  mlx_array z = mlx_array_new_float(3.0f);
  double three = 3;
  int one[1] = {1};
  CHECK_OK(mlx_expand_dims(&r, z, 0, test_stream));
  CHECK(values_are(r, one, 1, &three));
  CHECK_OK(mlx_expand_dims(&r, z, -1, test_stream));
  CHECK(values_are(r, one, 1, &three));
  int e0[1] = {0}, e1[2] = {0, 1};
  mlx_array e = iota(e0, 1);
  CHECK_OK(mlx_expand_dims(&r, e, 1, test_stream));
  CHECK(values_are(r, e1, 2, NULL));
  /* expand of a transposed view */
  mlx_array t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, a, test_stream));
  CHECK_OK(mlx_expand_dims(&r, t, 1, test_stream));
  int ts[3] = {3, 1, 2};
  double tw[6] = {0, 3, 1, 4, 2, 5};
  CHECK(values_are(r, ts, 3, tw));
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(z);
  mlx_array_free(e);
  mlx_array_free(t);
  mlx_array_free(r);
}

/* ---- flatten, unflatten, atleast ---- */

static void test_flatten(void) {
  int shape[3] = {2, 3, 4};
  mlx_array a = iota(shape, 3), r = mlx_array_new();
  double* want = strided_ref((int[]){24}, 1, (int64_t[]){1}, 0);
  struct {
    int start, end, nd;
    int out[3];
  } cases[] = {
      {0, -1, 1, {24}},   {0, 2, 1, {24}},    {0, 1, 2, {6, 4}},  {1, 2, 2, {2, 12}},
      {-2, -1, 2, {2, 12}}, {-10, 10, 1, {24}}, {1, 1, 3, {2, 3, 4}}, {-3, 0, 3, {2, 3, 4}},
      {2, 5, 3, {2, 3, 4}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    CHECK_OK(mlx_flatten(&r, a, cases[c].start, cases[c].end, test_stream));
    CHECK_MSG(values_are(r, cases[c].out, cases[c].nd, want), "case %zu", c);
    CHECK(data_of(r) == data_of(a)); /* row-contiguous: a view */
  }
  /* every other invalid range ends in MLX's first check */
  EXPECT_ERROR(mlx_flatten(&r, a, 2, 1, test_stream),
               "[flatten] start_axis must be less than or equal to end_axis");
  EXPECT_ERROR(mlx_flatten(&r, a, 3, -1, test_stream),
               "[flatten] start_axis must be less than or equal to end_axis");
  EXPECT_ERROR(mlx_flatten(&r, a, 0, -5, test_stream),
               "[flatten] start_axis must be less than or equal to end_axis");
  /* a transposed input cannot be merged in place: copied, same numbers */
  mlx_array t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, a, test_stream)); /* (4,3,2) */
  CHECK_OK(mlx_flatten(&r, t, 0, -1, test_stream));
  int64_t tst[3] = {1, 4, 12};
  double* tw = strided_ref((int[]){4, 3, 2}, 3, tst, 0);
  CHECK(values_are(r, (int[]){24}, 1, tw));
  free(tw);
  /* 0-d becomes (1), whatever the axes */
  mlx_array z = mlx_array_new_float(7.0f);
  double seven = 7;
  CHECK_OK(mlx_flatten(&r, z, 0, -1, test_stream));
  CHECK(values_are(r, (int[]){1}, 1, &seven));
  CHECK_OK(mlx_flatten(&r, z, 5, -9, test_stream));
  CHECK(values_are(r, (int[]){1}, 1, &seven));
  /* empty */
  mlx_array e = iota((int[]){2, 0, 3}, 3);
  CHECK_OK(mlx_flatten(&r, e, 0, -1, test_stream));
  CHECK(values_are(r, (int[]){0}, 1, NULL));
  /* a merged axis over 2^31 elements is refused, as MLX's 32-bit shapes */
  mlx_array big = mlx_array_new(), one = mlx_array_new_float(1.0f);
  CHECK_OK(mlx_broadcast_to(&big, one, (int[]){65536, 65536}, 2, test_stream));
  EXPECT_ERROR(mlx_flatten(&r, big, 0, -1, test_stream),
               "[flatten] Shape dimension 4294967296 is outside the supported range "
               "[-2147483648, 2147483647]. MLX currently uses 32-bit integers for shape "
               "dimensions.");
  free(want);
  mlx_array_free(big);
  mlx_array_free(one);
  mlx_array_free(a);
  mlx_array_free(t);
  mlx_array_free(z);
  mlx_array_free(e);
  mlx_array_free(r);
}

static void test_unflatten(void) {
  int shape[2] = {6, 4};
  mlx_array a = iota(shape, 2), r = mlx_array_new();
  double* want = strided_ref((int[]){24}, 1, (int64_t[]){1}, 0);
  struct {
    int axis, n;
    int dims[3];
    int nd;
    int out[4];
  } cases[] = {
      {0, 2, {2, 3}, 3, {2, 3, 4}},     {0, 2, {-1, 3}, 3, {2, 3, 4}},
      {-2, 3, {1, -1, 2}, 4, {1, 3, 2, 4}}, {1, 2, {2, 2}, 3, {6, 2, 2}},
      {-1, 2, {4, -1}, 3, {6, 4, 1}},   {0, 1, {6}, 2, {6, 4}},
      {1, 1, {-1}, 2, {6, 4}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    CHECK_OK(mlx_unflatten(&r, a, cases[c].axis, cases[c].dims, (size_t)cases[c].n, test_stream));
    CHECK_MSG(values_are(r, cases[c].out, cases[c].nd, want), "case %zu", c);
  }
  EXPECT_ERROR(mlx_unflatten(&r, a, 0, NULL, 0, test_stream),
               "[unflatten] Shape to unflatten to cannot be empty.");
  EXPECT_ERROR(mlx_unflatten(&r, a, 2, (int[]){2, 3}, 2, test_stream),
               "[unflatten] Invalid axes 2 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_unflatten(&r, a, -3, (int[]){2, 3}, 2, test_stream),
               "[unflatten] Invalid axes -1 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_unflatten(&r, a, 0, (int[]){-1, -1}, 2, test_stream),
               "[Unflatten] Can only infer one dimension.");
  EXPECT_ERROR(mlx_unflatten(&r, a, 0, (int[]){4, 2}, 2, test_stream),
               "[Unflatten] Cannot unflatten axis 0 with size 6 into shape (4,2).");
  EXPECT_ERROR(mlx_unflatten(&r, a, -2, (int[]){4, -1}, 2, test_stream),
               "[Unflatten] Cannot unflatten axis -2 with size 6 into shape (4,1).");
  EXPECT_ERROR(mlx_unflatten(&r, a, 0, (int[]){-2, -3}, 2, test_stream),
               "[Unflatten] Cannot unflatten axis 0 with size 6 into shape (-2,-3).");
  EXPECT_ERROR(mlx_unflatten(&r, a, 0, NULL, 2, test_stream),
               "[unflatten] The shape pointer is NULL.");
  /* empty axes */
  mlx_array e = iota((int[]){0, 3}, 2);
  CHECK_OK(mlx_unflatten(&r, e, 0, (int[]){2, -1}, 2, test_stream));
  CHECK(values_are(r, (int[]){2, 0, 3}, 3, NULL));
  CHECK_OK(mlx_unflatten(&r, e, 0, (int[]){65536, 65536, 0}, 3, test_stream));
  CHECK(values_are(r, (int[]){65536, 65536, 0, 3}, 4, NULL));
  EXPECT_ERROR(mlx_unflatten(&r, e, 0, (int[]){0, -1}, 2, test_stream),
               "[Unflatten] Cannot unflatten axis 0 with size 0 into shape (0,-1).");
  /* on a transposed view */
  mlx_array t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, a, test_stream)); /* (4,6) */
  CHECK_OK(mlx_unflatten(&r, t, 1, (int[]){3, 2}, 2, test_stream));
  double* tw = strided_ref((int[]){4, 3, 2}, 3, (int64_t[]){1, 8, 4}, 0);
  CHECK(values_are(r, (int[]){4, 3, 2}, 3, tw));
  free(tw);
  free(want);
  mlx_array_free(a);
  mlx_array_free(e);
  mlx_array_free(t);
  mlx_array_free(r);
}

static void test_atleast(void) {
  mlx_array r = mlx_array_new();
  mlx_array z = mlx_array_new_float(5.0f);
  double five = 5;
  CHECK_OK(mlx_atleast_1d(&r, z, test_stream));
  CHECK(values_are(r, (int[]){1}, 1, &five));
  CHECK_OK(mlx_atleast_2d(&r, z, test_stream));
  CHECK(values_are(r, (int[]){1, 1}, 2, &five));
  CHECK_OK(mlx_atleast_3d(&r, z, test_stream));
  CHECK(values_are(r, (int[]){1, 1, 1}, 3, &five));
  mlx_array v = iota((int[]){4}, 1);
  double* w = strided_ref((int[]){24}, 1, (int64_t[]){1}, 0);
  CHECK_OK(mlx_atleast_1d(&r, v, test_stream));
  CHECK(values_are(r, (int[]){4}, 1, w));
  CHECK_OK(mlx_atleast_2d(&r, v, test_stream));
  CHECK(values_are(r, (int[]){1, 4}, 2, w));
  CHECK_OK(mlx_atleast_3d(&r, v, test_stream));
  CHECK(values_are(r, (int[]){1, 4, 1}, 3, w));
  mlx_array m = iota((int[]){2, 3}, 2);
  CHECK_OK(mlx_atleast_2d(&r, m, test_stream));
  CHECK(values_are(r, (int[]){2, 3}, 2, w));
  CHECK_OK(mlx_atleast_3d(&r, m, test_stream));
  CHECK(values_are(r, (int[]){2, 3, 1}, 3, w));
  mlx_array q = iota((int[]){1, 2, 3, 1}, 4);
  CHECK_OK(mlx_atleast_3d(&r, q, test_stream));
  CHECK(values_are(r, (int[]){1, 2, 3, 1}, 4, w));
  mlx_array e = iota((int[]){0}, 1);
  CHECK_OK(mlx_atleast_3d(&r, e, test_stream));
  CHECK(values_are(r, (int[]){1, 0, 1}, 3, NULL));
  EXPECT_ERROR(mlx_atleast_2d(&r, mlx_array_new(), test_stream),
               "[atleast_2d] The input array is empty (an mlx_array_new() handle).");
  free(w);
  mlx_array_free(z);
  mlx_array_free(v);
  mlx_array_free(m);
  mlx_array_free(q);
  mlx_array_free(e);
  mlx_array_free(r);
}

/* ---- as_strided ---- */

static void test_as_strided(void) {
  mlx_array a = iota((int[]){10}, 1), r = mlx_array_new();
  /* sliding windows: overlapping rows */
  int ws[2] = {4, 3};
  int64_t wst[2] = {2, 1};
  CHECK_OK(mlx_as_strided(&r, a, ws, 2, wst, 2, 1, test_stream));
  double* want = strided_ref(ws, 2, wst, 1);
  CHECK(values_are(r, ws, 2, want));
  free(want);
  CHECK(data_of(r) == data_of(a) + 4);
  bool contiguous = true;
  CHECK_OK(_mlx_array_is_contiguous(&contiguous, r));
  CHECK(!contiguous);
  /* broadcasting with stride 0 */
  int64_t bst[2] = {0, 1};
  CHECK_OK(mlx_as_strided(&r, a, (int[]){3, 5}, 2, bst, 2, 5, test_stream));
  want = strided_ref((int[]){3, 5}, 2, bst, 5);
  CHECK(values_are(r, (int[]){3, 5}, 2, want));
  free(want);
  /* negative strides from a late offset */
  int64_t nst[1] = {-3};
  CHECK_OK(mlx_as_strided(&r, a, (int[]){4}, 1, nst, 1, 9, test_stream));
  double rev[4] = {9, 6, 3, 0};
  CHECK(values_are(r, (int[]){4}, 1, rev));
  /* 0-d result, and 0-d input */
  CHECK_OK(mlx_as_strided(&r, a, NULL, 0, NULL, 0, 7, test_stream));
  double seven = 7;
  CHECK(values_are(r, NULL, 0, &seven));
  mlx_array z = mlx_array_new_float(2.5f);
  CHECK_OK(mlx_as_strided(&r, z, (int[]){3}, 1, (int64_t[]){0}, 1, 0, test_stream));
  double z3[3] = {2.5, 2.5, 2.5};
  CHECK(values_are(r, (int[]){3}, 1, z3));
  /* strides count the row-major elements of the input, whatever its layout */
  mlx_array m = iota((int[]){3, 4}, 2), t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, m, test_stream)); /* (4,3): 0 4 8 1 5 9 ... */
  CHECK_OK(mlx_as_strided(&r, t, (int[]){2, 2}, 2, (int64_t[]){3, 1}, 2, 1, test_stream));
  double tw[4] = {4, 8, 5, 9};
  CHECK(values_are(r, (int[]){2, 2}, 2, tw));
  /* a row-contiguous slice is viewed in place: MLX reads on into the
   * rest of the buffer, and so do we, but never past its end */
  mlx_array s = slice_view(a, (int[]){2}, (int[]){6}, (int[]){1});
  CHECK_OK(mlx_as_strided(&r, s, (int[]){6}, 1, (int64_t[]){1}, 1, 0, test_stream));
  double sw[6] = {2, 3, 4, 5, 6, 7};
  CHECK(values_are(r, (int[]){6}, 1, sw));
  CHECK_OK(mlx_as_strided(&r, s, (int[]){9}, 1, (int64_t[]){1}, 1, 0, test_stream));
  EXPECT_ERROR(mlx_array_eval(r),
               "[as_strided] The requested shape, strides and offset reach outside the "
               "input's memory (10 elements).");
  /* the same error again on a second try; the array stays pending */
  EXPECT_ERROR(mlx_array_eval(r),
               "[as_strided] The requested shape, strides and offset reach outside the "
               "input's memory (10 elements).");
  struct {
    int shape[2];
    int64_t strides[2];
    size_t offset;
  } out_of_bounds[] = {
      {{4, 3}, {3, 1}, 0},          /* reaches 11 */
      {{2, 2}, {1, 1}, 9},          /* reaches 11 */
      {{4, 1}, {-1, 1}, 2},         /* reaches -1 */
      {{1, 1}, {0, 0}, 10},         /* offset alone */
      {{2, 1}, {INT64_MAX, 0}, 0},  /* overflows */
      {{2, 2}, {INT64_MIN, INT64_MIN}, 0},
      {{1, 1}, {0, 0}, SIZE_MAX},   /* a negative offset once in int64 */
  };
  for (size_t c = 0; c < sizeof out_of_bounds / sizeof out_of_bounds[0]; c++) {
    CHECK_OK(mlx_as_strided(&r, a, out_of_bounds[c].shape, 2, out_of_bounds[c].strides, 2,
                            out_of_bounds[c].offset, test_stream));
    EXPECT_ERROR(mlx_array_eval(r),
                 "[as_strided] The requested shape, strides and offset reach outside the "
                 "input's memory (10 elements).");
  }
  /* empty results read nothing, whatever the strides */
  CHECK_OK(mlx_as_strided(&r, a, (int[]){0, 5}, 2, (int64_t[]){100, 100}, 2, 1000, test_stream));
  CHECK(values_are(r, (int[]){0, 5}, 2, NULL));
  /* validation at the call */
  EXPECT_ERROR(mlx_as_strided(&r, a, (int[]){-1}, 1, (int64_t[]){1}, 1, 0, test_stream),
               "[as_strided] Negative dimensions not allowed.");
  EXPECT_ERROR(mlx_as_strided(&r, a, (int[]){2, 2}, 2, (int64_t[]){1}, 1, 0, test_stream),
               "[as_strided] Received 1 strides for a shape with 2 dimensions.");
  EXPECT_ERROR(mlx_as_strided(&r, a, (int[]){2}, 1, NULL, 1, 0, test_stream),
               "[as_strided] The strides pointer is NULL.");
  mlx_array_free(a);
  mlx_array_free(z);
  mlx_array_free(m);
  mlx_array_free(t);
  mlx_array_free(s);
  mlx_array_free(r);
}

/* ---- slice (internal) ---- */

/* numpy's rule for one axis, written independently of MLX's clamps. */
static int ref_slice_axis(int n, int start, int stop, int step, int* first) {
  int64_t s = start, e = stop;
  if (step > 0) {
    if (s < 0) s += n;
    if (s < 0) s = 0;
    if (s > n) s = n;
    if (e < 0) e += n;
    if (e < 0) e = 0;
    if (e > n) e = n;
  } else {
    if (s < 0) s += n;
    if (s < 0) s = -1;
    if (s >= n) s = n - 1;
    if (e < 0) e += n;
    if (e < 0) e = -1;
    if (e >= n) e = n - 1;
  }
  int count = 0;
  for (int64_t i = s; step > 0 ? i < e : i > e; i += step) count++;
  *first = (int)s;
  return count;
}

static void test_slice(void) {
  mlx_array r = mlx_array_new();
  for (int trial = 0; trial < 200; trial++) {
    int nd = 1 + (int)test_rand(0, 3.999);
    int shape[MAXD], start[MAXD], stop[MAXD], step[MAXD], out[MAXD];
    int64_t st[MAXD], ost[MAXD];
    for (int d = 0; d < nd; d++) shape[d] = (int)test_rand(0, 6.999);
    row_strides(shape, nd, st);
    int64_t offset = 0;
    for (int d = 0; d < nd; d++) {
      start[d] = (int)test_rand(-9, 9.999);
      stop[d] = (int)test_rand(-9, 9.999);
      step[d] = (int)test_rand(1, 3.999) * (test_rand(0, 1) < 0.4 ? -1 : 1);
      int first;
      out[d] = ref_slice_axis(shape[d], start[d], stop[d], step[d], &first);
      ost[d] = st[d] * step[d];
      offset += out[d] ? (int64_t)first * st[d] : 0;
    }
    if (shape_size(out, nd) == 0) offset = 0;
    mlx_array a = iota(shape, nd);
    mlx_array s = slice_view(a, start, stop, step);
    CHECK(s.ctx != NULL);
    double* want = strided_ref(out, nd, ost, offset);
    CHECK_MSG(values_are(s, out, nd, want), "trial %d", trial);
    free(want);
    mlx_array_free(s);
    mlx_array_free(a);
  }
  /* a view: the data pointer moves by the offset */
  mlx_array a = iota((int[]){4, 5}, 2);
  mlx_array s = slice_view(a, (int[]){1, 2}, (int[]){3, 5}, (int[]){1, 1});
  CHECK(data_of(s) == data_of(a) + (1 * 5 + 2) * 4);
  CHECK(strides_are(s, (int64_t[]){5, 1}));
  mlx_array_free(s);
  /* a kept single element gets step 1, as MLX simplifies it */
  s = slice_view(a, (int[]){0, 1}, (int[]){4, 2}, (int[]){1, 3});
  CHECK(strides_are(s, (int64_t[]){5, 1}));
  mlx_array_free(s);
  /* the whole array with positive steps is the array itself */
  s = slice_view(a, (int[]){0, -100}, (int[]){100, 5}, (int[]){1, 1});
  CHECK(s.ctx == a.ctx);
  mlx_array_free(s);
  /* a zero step is refused */
  s = slice_view(a, (int[]){0, 0}, (int[]){1, 1}, (int[]){1, 0});
  CHECK(s.ctx == NULL);
  CHECK(strcmp(error_message(), "[slice] Slice step cannot be zero.") == 0);
  error_clear();
  /* extreme values do not overflow */
  s = slice_view(a, (int[]){INT32_MIN, INT32_MAX}, (int[]){INT32_MAX, INT32_MIN},
                 (int[]){INT32_MAX, INT32_MIN});
  CHECK(s.ctx != NULL);
  CHECK(values_are(s, (int[]){1, 1}, 2, (double[]){4}));
  mlx_array_free(s);
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- views of views ---- */

static void test_view_chains(void) {
  mlx_array a = iota((int[]){4, 5, 6}, 3);
  mlx_array t = mlx_array_new(), e = mlx_array_new(), m = mlx_array_new();
  mlx_array q = mlx_array_new(), c = mlx_array_new();
  /* t[i][j][k] = a[j][k][i]; s = t[5::-2, :, 1:5:2] */
  CHECK_OK(mlx_transpose_axes(&t, a, (int[]){2, 0, 1}, 3, test_stream));
  mlx_array s = slice_view(t, (int[]){5, 0, 1}, (int[]){-7, 4, 5}, (int[]){-2, 1, 2});
  CHECK(test_shape_is(s, (int[]){3, 4, 2}, 3));
  CHECK_OK(mlx_expand_dims(&e, s, 1, test_stream));      /* (3,1,4,2) */
  CHECK_OK(mlx_moveaxis(&m, e, 3, 0, test_stream));      /* (2,3,1,4) */
  CHECK_OK(mlx_squeeze(&q, m, test_stream));             /* (2,3,4) */
  CHECK_OK(mlx_contiguous(&c, q, false, test_stream));
  double want[24];
  for (int p = 0; p < 2; p++)
    for (int u = 0; u < 3; u++)
      for (int r = 0; r < 4; r++) want[(p * 3 + u) * 4 + r] = r * 30 + (1 + 2 * p) * 6 + (5 - 2 * u);
  CHECK(values_are(c, (int[]){2, 3, 4}, 3, want));
  CHECK(is_row_contiguous(c));
  /* the same chain with positive steps: every step is a view of a's buffer */
  mlx_array s2 = slice_view(t, (int[]){1, 0, 1}, (int[]){6, 4, 5}, (int[]){2, 1, 2});
  CHECK_OK(mlx_expand_dims(&e, s2, 1, test_stream));
  CHECK_OK(mlx_moveaxis(&m, e, 3, 0, test_stream));
  CHECK_OK(mlx_squeeze(&q, m, test_stream));
  CHECK_OK(mlx_swapaxes(&q, q, 0, 2, test_stream)); /* (4,3,2) */
  CHECK(data_of(q) == data_of(a) + (1 + 6) * 4);
  CHECK(strides_are(q, (int64_t[]){30, 2, 12}));
  CHECK_OK(mlx_flatten(&c, q, 0, -1, test_stream));
  for (int r = 0; r < 4; r++)
    for (int u = 0; u < 3; u++)
      for (int p = 0; p < 2; p++) want[(r * 3 + u) * 2 + p] = r * 30 + (1 + 2 * p) * 6 + (1 + 2 * u);
  CHECK(values_are(c, (int[]){24}, 1, want));
  mlx_array_free(s2);
  mlx_array_free(s);
  mlx_array_free(a);
  mlx_array_free(t);
  mlx_array_free(e);
  mlx_array_free(m);
  mlx_array_free(q);
  mlx_array_free(c);
}

/* Every dtype moves as raw bytes through a transpose and a copy. */
static void test_all_dtypes(void) {
  for (int t = 0; t <= MLX_COMPLEX64; t++) {
    size_t esz = mlx_dtype_size((mlx_dtype)t);
    unsigned char src[24 * 8];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (unsigned char)(i * 29 + 3);
    if (t == MLX_BOOL)
      for (size_t i = 0; i < 24; i++) src[i] = (unsigned char)(i % 3 == 0);
    mlx_array a = mlx_array_new_data(src, (int[]){2, 3, 4}, 3, (mlx_dtype)t);
    mlx_array v = mlx_array_new(), c = mlx_array_new();
    CHECK_OK(mlx_transpose_axes(&v, a, (int[]){1, 2, 0}, 3, test_stream)); /* (3,4,2) */
    CHECK_OK(mlx_expand_dims(&v, v, 0, test_stream));
    CHECK_OK(mlx_squeeze(&v, v, test_stream));
    CHECK_OK(mlx_contiguous(&c, v, false, test_stream));
    CHECK(mlx_array_dtype(c) == (mlx_dtype)t);
    const unsigned char* got = mlx_array_data_uint8(c);
    bool ok = got != NULL;
    for (int i = 0; ok && i < 3; i++)
      for (int j = 0; j < 4; j++)
        for (int k = 0; k < 2; k++)
          if (memcmp(got + ((size_t)(i * 4 + j) * 2 + k) * esz,
                     src + (size_t)(k * 12 + i * 4 + j) * esz, esz) != 0)
            ok = false;
    CHECK_MSG(ok, "dtype %d", t);
    mlx_array_free(a);
    mlx_array_free(v);
    mlx_array_free(c);
  }
}

/* Handle, pointer and count checks of the entry points. */
static void test_api_arguments(void) {
  mlx_array a = iota((int[]){1, 2}, 2), r = mlx_array_new();
  EXPECT_ERROR(mlx_squeeze_axes(&r, a, NULL, 1, test_stream),
               "[squeeze_axes] The axes pointer is NULL.");
  EXPECT_ERROR(mlx_expand_dims_axes(&r, a, NULL, 2, test_stream),
               "[expand_dims_axes] The axes pointer is NULL.");
  EXPECT_ERROR(mlx_transpose_axes(&r, a, (int[]){0, 1}, (size_t)INT32_MAX + 1, test_stream),
               "[transpose_axes] Too many axes (2147483648).");
  EXPECT_ERROR(mlx_as_strided(&r, a, NULL, 1, (int64_t[]){1}, 1, 0, test_stream),
               "[as_strided] The shape pointer is NULL.");
  EXPECT_ERROR(mlx_flatten(&r, mlx_array_new(), 0, -1, test_stream),
               "[flatten] The input array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_squeeze_axis(NULL, a, 0, test_stream), "[squeeze] The result pointer is NULL.");
  EXPECT_ERROR(mlx_moveaxis(&r, a, 0, 1, mlx_stream_new()), "[moveaxis] The stream handle is empty.");
  /* a failed call leaves the result handle as it was */
  CHECK_OK(mlx_squeeze(&r, a, test_stream));
  EXPECT_ERROR(mlx_swapaxes(&r, a, 0, 9, test_stream),
               "[swapaxes] Invalid axis 9 for array with 2 dimensions.");
  CHECK(values_are(r, (int[]){2}, 1, (double[]){0, 1}));
  mlx_array_free(a);
  mlx_array_free(r);
}

int main(void) {
  test_init();
  test_transpose_random();
  test_transpose_view_flags();
  test_transpose_errors_and_edges();
  test_swapaxes_moveaxis();
  test_squeeze();
  test_expand_dims();
  test_flatten();
  test_unflatten();
  test_atleast();
  test_as_strided();
  test_slice();
  test_view_chains();
  test_all_dtypes();
  test_api_arguments();
  return test_finish("test_shape");
}
