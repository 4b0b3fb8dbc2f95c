/* test_indexing.c - take, take_along_axis, put_along_axis,
 * scatter_add_axis and gather, complex values, 0-d and empty arrays, and
 * the errors of every indexing op (scatter, slice_update, slice_dynamic
 * and masked_scatter are in test_indexing_update.c).
 *
 * Every op is run on random shapes and every dtype family (bool, unsigned,
 * signed, float16, bfloat16, float32, float64, complex64), with inputs that
 * are contiguous, transposed, sliced with a negative step or broadcast, and
 * indices of every integer type, negative ones included. Results are
 * compared exactly with references computed here from the row-major values
 * (data movement is exact; reductions use small integers, rounded to the
 * dtype after every step as the kernels do). Indices known only at run time
 * that fall outside their axis must be clamped (never read or written out
 * of bounds: this file also runs under ASan). Every validation error of
 * slice, slice_dynamic, slice_update (+ reducing and dynamic forms), take,
 * take_along_axis, put_along_axis, scatter_add_axis, gather, scatter (+
 * reducing and _single forms) and masked_scatter is checked with MLX's
 * exact text. */
#include "indexing_util.h"

/* ---- take ---- */

static void test_take_random(void) {
  for (int trial = 0; trial < 200; trial++) {
    mlx_dtype t = ALL_TYPES[trial % N_TYPES];
    mlx_dtype it = INDEX_TYPES[(trial / N_TYPES + trial) % N_INDEX_TYPES];
    int nd = rand_int(1, 4), shape[MAXD];
    for (int d = 0; d < nd; d++) shape[d] = rand_int(1, 4);
    int axis = rand_int(-nd, nd - 1), ax = axis < 0 ? axis + nd : axis;
    int ind = rand_int(0, 2), ishape[MAXD];
    for (int d = 0; d < ind; d++) ishape[d] = rand_int(trial % 7 == 0 ? 0 : 1, 3);
    int64_t dim = shape[ax];
    bool clamp = trial % 3 == 0; /* out-of-range run-time indices */
    tarr a = make_arr(t, shape, nd, -3, 3, trial % LAYOUT_COUNT);
    tarr idx = make_arr(it, ishape, ind, clamp ? -dim - 4 : -dim, clamp ? dim + 4 : dim - 1,
                        (trial / LAYOUT_COUNT) % LAYOUT_COUNT);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_take_axis(&r, a.h, idx.h, axis, test_stream));
    int ond = nd - 1 + ind, oshape[MAXD];
    for (int d = 0; d < ax; d++) oshape[d] = shape[d];
    for (int d = 0; d < ind; d++) oshape[ax + d] = ishape[d];
    for (int d = ax + 1; d < nd; d++) oshape[ind + d - 1] = shape[d];
    int64_t n = shape_size(oshape, ond);
    double* want = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) {
      int pos[MAXD], src[MAXD];
      unravel(i, oshape, ond, pos);
      for (int d = 0; d < ax; d++) src[d] = pos[d];
      src[ax] = (int)ref_index(idx.v[ravel(pos + ax, ishape, ind)], dim, dim - 1);
      for (int d = ax + 1; d < nd; d++) src[d] = pos[ind + d - 1];
      want[i] = a.v[ravel(src, shape, nd)];
    }
    CHECK_MSG(values_are(r, oshape, ond, want, "take_axis"), "trial %d dtype %d", trial, t);
    free(want);
    mlx_array_free(r);
    tarr_free(&a);
    tarr_free(&idx);
  }
}

static void test_take_flat(void) {
  for (int trial = 0; trial < 60; trial++) {
    mlx_dtype t = ALL_TYPES[trial % N_TYPES];
    int nd = rand_int(0, 3), shape[MAXD];
    for (int d = 0; d < nd; d++) shape[d] = rand_int(1, 4);
    int64_t size = shape_size(shape, nd);
    int ind = rand_int(0, 2), ishape[MAXD];
    for (int d = 0; d < ind; d++) ishape[d] = rand_int(1, 4);
    tarr a = make_arr(t, shape, nd, -3, 3, trial % LAYOUT_COUNT);
    tarr idx = make_arr(MLX_INT64, ishape, ind, -size - 2, size + 2, LAYOUT_CONTIGUOUS);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_take(&r, a.h, idx.h, test_stream));
    int64_t n = shape_size(ishape, ind);
    double* want = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) want[i] = a.v[ref_index(idx.v[i], size, size - 1)];
    CHECK_MSG(values_are(r, ishape, ind, want, "take"), "trial %d", trial);
    free(want);
    mlx_array_free(r);
    tarr_free(&a);
    tarr_free(&idx);
  }
}

/* Extreme run-time indices of every integer type are clamped. */
static void test_take_clamps_extremes(void) {
  float data[5] = {10, 11, 12, 13, 14};
  int shape[1] = {5}, ishape[1] = {4};
  mlx_array a = new_f32(data, shape, 1);
  int64_t i64[4] = {INT64_MIN, INT64_MAX, -6, 5};
  uint64_t u64[4] = {UINT64_MAX, (uint64_t)INT64_MAX + 1, 5, 4};
  int8_t i8[4] = {-128, 127, -5, -1};
  double want64[4] = {10, 14, 10, 14}, wantu[4] = {14, 14, 14, 14}, want8[4] = {10, 14, 10, 14};
  const void* data_of[3] = {i64, u64, i8};
  const mlx_dtype types[3] = {MLX_INT64, MLX_UINT64, MLX_INT8};
  const double* wants[3] = {want64, wantu, want8};
  for (int k = 0; k < 3; k++) {
    mlx_array idx = mlx_array_new_data(data_of[k], ishape, 1, types[k]);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_take_axis(&r, a, idx, 0, test_stream));
    CHECK(values_are(r, ishape, 1, wants[k], "take extremes"));
    mlx_array_free(idx);
    mlx_array_free(r);
  }
  mlx_array_free(a);
}

/* The embedding lookup: rows copied whole; large enough to be threaded. */
static void test_take_embedding_rows(void) {
  const int V = 97, D = 64, N = 1500;
  mlx_dtype types[2] = {MLX_FLOAT32, MLX_FLOAT16};
  for (int k = 0; k < 2; k++) {
    int wshape[2] = {V, D}, ishape[1] = {N};
    tarr w = make_arr(types[k], wshape, 2, -100, 100, LAYOUT_CONTIGUOUS);
    tarr ids = make_arr(MLX_INT32, ishape, 1, 0, V - 1, LAYOUT_CONTIGUOUS);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_take_axis(&r, w.h, ids.h, 0, test_stream));
    double* want = malloc(sizeof(double) * (size_t)N * D);
    for (int i = 0; i < N; i++)
      for (int j = 0; j < D; j++) want[(size_t)i * D + j] = w.v[(size_t)ids.v[i] * D + j];
    int oshape[2] = {N, D};
    CHECK(values_are(r, oshape, 2, want, "embedding"));
    /* the same through a transposed weight (strided path) */
    mlx_array wt = mlx_array_new(), wtt = mlx_array_new(), r2 = mlx_array_new();
    CHECK_OK(mlx_transpose(&wt, w.h, test_stream));
    CHECK_OK(mlx_contiguous(&wtt, wt, false, test_stream));
    mlx_array_free(wt);
    wt = mlx_array_new();
    CHECK_OK(mlx_transpose(&wt, wtt, test_stream)); /* [V, D] with column-major strides */
    CHECK_OK(mlx_take_axis(&r2, wt, ids.h, 0, test_stream));
    CHECK(values_are(r2, oshape, 2, want, "embedding strided"));
    /* and along axis 1 of the transposed weight */
    mlx_array r3 = mlx_array_new();
    CHECK_OK(mlx_take_axis(&r3, wtt, ids.h, 1, test_stream));
    int o3[2] = {D, N};
    double* want3 = malloc(sizeof(double) * (size_t)N * D);
    for (int j = 0; j < D; j++)
      for (int i = 0; i < N; i++) want3[(size_t)j * N + i] = want[(size_t)i * D + j];
    CHECK(values_are(r3, o3, 2, want3, "take axis 1"));
    free(want3);
    free(want);
    mlx_array_free(r);
    mlx_array_free(r2);
    mlx_array_free(r3);
    mlx_array_free(wt);
    mlx_array_free(wtt);
    tarr_free(&w);
    tarr_free(&ids);
  }
}

/* ---- gather ---- */


static void test_gather_random(void) {
  for (int trial = 0; trial < 150; trial++) {
    mlx_dtype t = ALL_TYPES[trial % N_TYPES];
    int nd = rand_int(1, 4), shape[MAXD];
    for (int d = 0; d < nd; d++) shape[d] = rand_int(1, 4);
    int k = rand_int(0, nd), axes[MAXD];
    random_axes(axes, k, nd);
    int bnd = rand_int(0, 2), bshape[MAXD];
    for (int d = 0; d < bnd; d++) bshape[d] = rand_int(1, 3);
    int sizes[MAXD], is_axis[MAXD];
    for (int d = 0; d < nd; d++) {
      is_axis[d] = -1;
      sizes[d] = rand_int(0, shape[d]);
      if (trial % 4) sizes[d] = sizes[d] ? sizes[d] : 1;
    }
    for (int i = 0; i < k; i++) {
      is_axis[axes[i]] = i;
      if (trial % 2) sizes[axes[i]] = 1;
    }
    bool clamp = trial % 3 == 0;
    tarr a = make_arr(t, shape, nd, -3, 3, trial % LAYOUT_COUNT);
    tarr idx[MAXD];
    mlx_vector_array vec = mlx_vector_array_new();
    for (int i = 0; i < k; i++) {
      int ishape[MAXD];
      for (int d = 0; d < bnd; d++) ishape[d] = rand_int(0, 1) ? bshape[d] : 1;
      int64_t dim = shape[axes[i]];
      idx[i] = make_arr(INDEX_TYPES[trial % N_INDEX_TYPES], ishape, bnd,
                        clamp ? -dim - 3 : -dim, clamp ? dim + 3 : dim - sizes[axes[i]],
                        (trial + i) % 2 ? LAYOUT_TRANSPOSED : LAYOUT_CONTIGUOUS);
      mlx_vector_array_append_value(vec, idx[i].h);
    }
    int rshape[MAXD];
    int rnd = k ? bnd : 0;
    for (int d = 0; d < bnd && k; d++) {
      rshape[d] = 1;
      for (int i = 0; i < k; i++)
        if (idx[i].shape[d] != 1) rshape[d] = idx[i].shape[d];
    }
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_gather(&r, a.h, vec, axes, k, sizes, nd, test_stream));
    int ond = rnd + nd, oshape[MAXD * 2];
    memcpy(oshape, rshape, sizeof(int) * (size_t)rnd);
    memcpy(oshape + rnd, sizes, sizeof(int) * (size_t)nd);
    int64_t n = shape_size(oshape, ond);
    double* want = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t e = 0; e < n; e++) {
      int pos[MAXD * 2], src[MAXD];
      unravel(e, oshape, ond, pos);
      for (int d = 0; d < nd; d++) {
        int64_t base = 0;
        if (is_axis[d] >= 0) {
          const tarr* ix = &idx[is_axis[d]];
          base = ref_index(ix->v[bcast_at(ix->shape, ix->nd, pos, rnd)], shape[d],
                           shape[d] - sizes[d]);
        }
        src[d] = (int)base + pos[rnd + d];
      }
      want[e] = a.v[ravel(src, shape, nd)];
    }
    CHECK_MSG(values_are(r, oshape, ond, want, "gather"), "trial %d", trial);
    free(want);
    mlx_array_free(r);
    mlx_vector_array_free(vec);
    for (int i = 0; i < k; i++) tarr_free(&idx[i]);
    tarr_free(&a);
  }
}

static void test_gather_single_and_threaded(void) {
  /* a [300, 7, 5], indices [40, 3] along axis 0, slices [1, 7, 5] */
  int shape[3] = {300, 7, 5}, ishape[2] = {40, 3}, sizes[3] = {1, 7, 5};
  tarr a = make_arr(MLX_INT32, shape, 3, -1000, 1000, LAYOUT_TRANSPOSED);
  tarr idx = make_arr(MLX_INT16, ishape, 2, -300, 299, LAYOUT_CONTIGUOUS);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_gather_single(&r, a.h, idx.h, 0, sizes, 3, test_stream));
  int oshape[5] = {40, 3, 1, 7, 5};
  double* want = malloc(sizeof(double) * 40 * 3 * 35);
  for (int i = 0; i < 120; i++)
    for (int j = 0; j < 35; j++)
      want[i * 35 + j] = a.v[ref_index(idx.v[i], 300, 299) * 35 + j];
  CHECK(values_are(r, oshape, 5, want, "gather_single"));
  free(want);
  mlx_array_free(r);
  tarr_free(&a);
  tarr_free(&idx);
}

/* ---- take_along_axis, put_along_axis, scatter_add_axis ---- */

static void test_along_axis_random(void) {
  for (int trial = 0; trial < 210; trial++) {
    mlx_dtype t = ALL_TYPES[trial % N_TYPES];
    int op = (trial / N_TYPES) % 3; /* take, put, add */
    int nd = rand_int(1, 3), ax, axis, full[MAXD], ashape[MAXD], ishape[MAXD];
    ax = rand_int(0, nd - 1);
    axis = rand_int(0, 1) ? ax - nd : ax;
    for (int d = 0; d < nd; d++) {
      full[d] = rand_int(1, 3);
      int which = rand_int(0, 2); /* both full, a broadcast, indices broadcast */
      ashape[d] = which == 1 ? 1 : full[d];
      ishape[d] = which == 2 ? 1 : full[d];
    }
    ashape[ax] = rand_int(1, 4);
    ishape[ax] = rand_int(op == 0 ? 0 : 1, 4);
    int64_t dim = ashape[ax];
    bool clamp = trial % 3 == 0;
    tarr a = make_arr(t, ashape, nd, -3, 3, trial % LAYOUT_COUNT);
    tarr idx = make_arr(INDEX_TYPES[trial % N_INDEX_TYPES], ishape, nd,
                        clamp ? -dim - 2 : -dim, clamp ? dim + 2 : dim - 1,
                        (trial / 2) % LAYOUT_COUNT);
    /* the broadcast shape (indices' own size along the axis) */
    int bshape[MAXD], oshape[MAXD];
    for (int d = 0; d < nd; d++) {
      bshape[d] = ashape[d] > ishape[d] ? ashape[d] : ishape[d];
      oshape[d] = bshape[d];
    }
    bshape[ax] = ishape[ax];
    oshape[ax] = ashape[ax];
    mlx_array r = mlx_array_new();
    double* want;
    if (op == 0) {
      CHECK_OK(mlx_take_along_axis(&r, a.h, idx.h, axis, test_stream));
      int64_t n = shape_size(bshape, nd);
      want = malloc(sizeof(double) * (size_t)(n ? n : 1));
      for (int64_t e = 0; e < n; e++) {
        int pos[MAXD];
        unravel(e, bshape, nd, pos);
        double v = idx.v[bcast_at(ishape, nd, pos, nd)];
        pos[ax] = (int)ref_index(v, dim, dim - 1);
        want[e] = a.v[bcast_at(ashape, nd, pos, nd)];
      }
      CHECK_MSG(values_are(r, bshape, nd, want, "take_along_axis"), "trial %d", trial);
    } else {
      /* values: each dim 1 or the indices' */
      int vshape[MAXD];
      for (int d = 0; d < nd; d++) vshape[d] = rand_int(0, 1) ? ishape[d] : 1;
      tarr v = make_arr(t, vshape, nd, -3, 3, (trial / 5) % LAYOUT_COUNT);
      if (op == 1)
        CHECK_OK(mlx_put_along_axis(&r, a.h, idx.h, v.h, axis, test_stream));
      else
        CHECK_OK(mlx_scatter_add_axis(&r, a.h, idx.h, v.h, axis, test_stream));
      int64_t n = shape_size(oshape, nd), ni = shape_size(bshape, nd);
      want = malloc(sizeof(double) * (size_t)(n ? n : 1));
      for (int64_t e = 0; e < n; e++) {
        int pos[MAXD];
        unravel(e, oshape, nd, pos);
        want[e] = a.v[bcast_at(ashape, nd, pos, nd)];
      }
      /* indices and values broadcast together (also along the axis) */
      int ivshape[MAXD];
      for (int d = 0; d < nd; d++) ivshape[d] = d == ax ? ishape[d] : bshape[d];
      for (int64_t e = 0; e < ni; e++) {
        int pos[MAXD];
        unravel(e, ivshape, nd, pos);
        double iv = idx.v[bcast_at(ishape, nd, pos, nd)];
        double uv = v.v[bcast_at(vshape, nd, pos, nd)];
        pos[ax] = (int)ref_index(iv, dim, dim - 1);
        double* y = &want[ravel(pos, oshape, nd)];
        *y = round_to(t, combine(op == 1 ? MODE_NONE : MODE_SUM, *y, uv));
      }
      CHECK_MSG(values_are(r, oshape, nd, want, op == 1 ? "put_along_axis" : "scatter_add_axis"),
                "trial %d", trial);
      tarr_free(&v);
    }
    free(want);
    mlx_array_free(r);
    tarr_free(&a);
    tarr_free(&idx);
  }
}

/* Values with an axis the indices lack along the axis broadcast it;
 * leading singleton value axes are squeezed. */
static void test_along_axis_shapes(void) {
  float a_data[6] = {0, 0, 0, 0, 0, 0}, v_data[3] = {1, 2, 3};
  int32_t i_data[2] = {2, 0};
  int ashape[2] = {2, 3}, ishape[2] = {2, 1}, vshape[3] = {1, 1, 3};
  mlx_array a = new_f32(a_data, ashape, 2), idx = new_i32(i_data, ishape, 2);
  mlx_array v = new_f32(v_data, vshape, 3), r = mlx_array_new();
  /* indices broadcast to [2,3] along the axis: row 0 writes 1,2,3 at
   * column 2 (last wins: 3), row 1 at column 0 (3) */
  CHECK_OK(mlx_put_along_axis(&r, a, idx, v, 1, test_stream));
  double want[6] = {0, 0, 3, 3, 0, 0};
  CHECK(values_are(r, ashape, 2, want, "put_along_axis broadcast"));
  CHECK_OK(mlx_scatter_add_axis(&r, a, idx, v, -1, test_stream));
  double want_add[6] = {0, 0, 6, 6, 0, 0};
  CHECK(values_are(r, ashape, 2, want_add, "scatter_add_axis broadcast"));
  /* an empty source is returned as it is */
  int eshape[2] = {0, 3};
  mlx_array e = new_f32(a_data, eshape, 2);
  CHECK_OK(mlx_put_along_axis(&r, e, idx, v, 1, test_stream));
  CHECK(r.ctx == e.ctx);
  mlx_array_free(e);
  /* take_along_axis from an empty axis never reads: zeros */
  int zshape[2] = {2, 0}, zi[2] = {2, 2};
  int32_t zidx[4] = {0, 5, -1, 1};
  mlx_array z = new_f32(a_data, zshape, 2), zix = new_i32(zidx, zi, 2);
  CHECK_OK(mlx_take_along_axis(&r, z, zix, 1, test_stream));
  double zeros[4] = {0, 0, 0, 0};
  CHECK(values_are(r, zi, 2, zeros, "take_along_axis empty axis"));
  mlx_array_free(z);
  mlx_array_free(zix);
  mlx_array_free(r);
  mlx_array_free(a);
  mlx_array_free(idx);
  mlx_array_free(v);
}

/* ---- complex values move with both parts ---- */

static void test_complex_parts(void) {
  int shape[1] = {4}, ishape[1] = {3};
  double vals[4] = {1, 2, 3, 4};
  mlx_array a = from_values(MLX_COMPLEX64, shape, 1, vals); /* k - k i */
  int32_t iv[3] = {3, -4, 1};
  mlx_array idx = new_i32(iv, ishape, 1), r = mlx_array_new();
  CHECK_OK(mlx_take(&r, a, idx, test_stream));
  CHECK_OK(mlx_array_eval(r));
  const mlx_complex64_t* p = mlx_array_data_complex64(r);
  CHECK(p && crealf(p[0]) == 4 && cimagf(p[0]) == -4 && crealf(p[1]) == 1 &&
        cimagf(p[1]) == -1 && crealf(p[2]) == 2 && cimagf(p[2]) == -2);
  /* scatter_prod multiplies as complex numbers: (2-2i)(1-1i) = -4i */
  int ushape[2] = {1, 1};
  double one[1] = {1};
  mlx_array u = from_values(MLX_COMPLEX64, ushape, 2, one);
  int32_t i1[1] = {1};
  int s1[1] = {1};
  mlx_array idx1 = new_i32(i1, s1, 1);
  CHECK_OK(mlx_scatter_prod_single(&r, a, idx1, u, 0, test_stream));
  CHECK_OK(mlx_array_eval(r));
  p = mlx_array_data_complex64(r);
  CHECK(p && crealf(p[1]) == 0 && cimagf(p[1]) == -4 && crealf(p[0]) == 1);
  mlx_array_free(u);
  mlx_array_free(idx1);
  mlx_array_free(a);
  mlx_array_free(idx);
  mlx_array_free(r);
}

/* ---- 0-d and empty ---- */

static void test_zero_d_and_empty(void) {
  float data[6] = {0, 1, 2, 3, 4, 5};
  int shape[2] = {2, 3};
  mlx_array a = new_f32(data, shape, 2), r = mlx_array_new();
  /* 0-d index: the axis goes away */
  mlx_array i0 = mlx_array_new_int(-1);
  CHECK_OK(mlx_take_axis(&r, a, i0, 1, test_stream));
  int s2[1] = {2};
  double w0[2] = {2, 5};
  CHECK(values_are(r, s2, 1, w0, "0-d index"));
  CHECK_OK(mlx_take(&r, a, i0, test_stream));
  double w1[1] = {5};
  CHECK(values_are(r, NULL, 0, w1, "0-d flat take"));
  /* 0-d source through take */
  mlx_array z = mlx_array_new_float(7);
  CHECK_OK(mlx_take(&r, z, i0, test_stream));
  double w7[1] = {7};
  CHECK(values_are(r, NULL, 0, w7, "take of 0-d"));
  /* empty indices */
  int es[2] = {0, 4};
  mlx_array ei = mlx_array_new_data(data, es, 2, MLX_INT32);
  CHECK_OK(mlx_take_axis(&r, a, ei, 0, test_stream));
  int eo[3] = {0, 4, 3};
  CHECK(values_are(r, eo, 3, NULL, "empty take"));
  /* empty source, empty indices */
  int zs[2] = {0, 3};
  mlx_array ea = new_f32(data, zs, 2);
  CHECK_OK(mlx_take_axis(&r, ea, ei, 0, test_stream));
  CHECK(values_are(r, eo, 3, NULL, "empty from empty"));
  /* gather with slice size 0 from an empty source */
  int sizes[2] = {0, 3}, sz1[1] = {2};
  int32_t two[2] = {0, 5};
  mlx_array i2 = new_i32(two, sz1, 1);
  int axis0 = 0;
  CHECK_OK(mlx_gather_single(&r, ea, i2, axis0, sizes, 2, test_stream));
  int go[3] = {2, 0, 3};
  CHECK(values_are(r, go, 3, NULL, "gather empty slice"));
  /* scatter with empty indices changes nothing */
  int us[3] = {0, 4, 1};
  mlx_array eu = mlx_array_new_data(data, us, 3, MLX_FLOAT32);
  int ush[3] = {0, 1, 3};
  mlx_array eu2 = mlx_array_new_data(data, ush, 3, MLX_FLOAT32);
  int e1[1] = {0};
  mlx_array ei1 = mlx_array_new_data(data, e1, 1, MLX_INT32);
  CHECK_OK(mlx_scatter_add_single(&r, a, ei1, eu2, 0, test_stream));
  double all[6] = {0, 1, 2, 3, 4, 5};
  CHECK(values_are(r, shape, 2, all, "empty scatter"));
  /* scatter with no index arrays writes the update at the origin */
  mlx_vector_array none = mlx_vector_array_new();
  float u1[2] = {9, 8};
  int u1s[2] = {1, 2};
  mlx_array uh = new_f32(u1, u1s, 2);
  CHECK_OK(mlx_scatter(&r, a, none, uh, NULL, 0, test_stream));
  double w9[6] = {9, 8, 2, 3, 4, 5};
  CHECK(values_are(r, shape, 2, w9, "scatter without indices"));
  /* gather with no index arrays takes the leading block */
  int gs[2] = {2, 2};
  CHECK_OK(mlx_gather(&r, a, none, NULL, 0, gs, 2, test_stream));
  double wg[4] = {0, 1, 3, 4};
  CHECK(values_are(r, gs, 2, wg, "gather without indices"));
  /* masked_scatter with an empty mask */
  int ms[2] = {2, 0};
  mlx_array em = mlx_array_new_data(data, ms, 2, MLX_BOOL);
  mlx_array e3 = mlx_array_new_data(data, ms, 2, MLX_FLOAT32);
  CHECK_OK(mlx_masked_scatter(&r, e3, em, z, test_stream));
  CHECK(values_are(r, ms, 2, NULL, "masked_scatter empty"));
  mlx_vector_array_free(none);
  mlx_array_free(uh);
  mlx_array_free(em);
  mlx_array_free(e3);
  mlx_array_free(eu);
  mlx_array_free(eu2);
  mlx_array_free(ei1);
  mlx_array_free(i2);
  mlx_array_free(ea);
  mlx_array_free(ei);
  mlx_array_free(z);
  mlx_array_free(i0);
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- errors ---- */

static void test_errors(void) {
  float data[64] = {0};
  int32_t idata[64] = {0};
  int s23[2] = {2, 3}, s2[1] = {2}, s3[1] = {3}, s22[2] = {2, 2}, s4[1] = {4};
  mlx_array a = new_f32(data, s23, 2), r = mlx_array_new();
  mlx_array i2 = new_i32(idata, s2, 1), i3 = new_i32(idata, s3, 1);
  mlx_array i22 = new_i32(idata, s22, 2), f2 = new_f32(data, s2, 1);
  mlx_array b2 = mlx_array_new_data(data, s2, 1, MLX_BOOL);
  mlx_array i4 = new_i32(idata, s4, 1);
  const mlx_stream s = test_stream;

  /* slice */
  int st2[2] = {0, 0}, sp2[2] = {2, 3}, one2[2] = {1, 1}, zero2[2] = {1, 0};
  EXPECT_ERROR(mlx_slice(&r, a, st2, 1, sp2, 2, one2, 2, s),
               "[slice] Invalid number of indices or strides for array with dimension 2.");
  EXPECT_ERROR(mlx_slice(&r, a, st2, 2, sp2, 2, one2, 1, s),
               "[slice] Invalid number of indices or strides for array with dimension 2.");
  EXPECT_ERROR(mlx_slice(&r, a, st2, 2, sp2, 2, zero2, 2, s),
               "[slice] Slice step cannot be zero.");

  /* slice_dynamic */
  int ax1[1] = {0}, ax2[2] = {0, 1}, ax_bad[1] = {2}, ax_rep[2] = {1, -1}, sz[2] = {1, 1};
  mlx_array st0 = mlx_array_new_int(0);
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, i3, ax1, 1, sz, 2, s),
               "[slice] Invalid number of starting positions for array with dimension 2.");
  mlx_array i11 = new_i32(idata, (int[]){1, 1}, 2);
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, i11, ax1, 1, sz, 2, s),
               "[slice] array of starting indices must be zero or one dimensional but has "
               "dimension 2.");
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, st0, ax2, 2, sz, 2, s),
               "[slice] Number of starting indices 1 does not match number of axes 2.");
  int many[5] = {0, 1, 2, 3, 4};
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, st0, many, 5, sz, 2, s),
               "[slice] Number of starting indices 1 does not match number of axes 5.");
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, f2, ax2, 2, sz, 2, s),
               "[slice] Start indices must be integers, got type float32.");
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, b2, ax2, 2, sz, 2, s),
               "[slice] Start indices must be integers, got type bool.");
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, st0, ax_bad, 1, sz, 2, s),
               "[slice] Invalid axis 2 for array with dimension 2.");
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, i2, ax_rep, 2, sz, 2, s),
               "[slice] Repeat axes not allowed.");
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, st0, ax1, 1, sz, 1, s),
               "[slice] Invalid slice size for array with 2 dimensions.");
  int big[2] = {3, 1}, neg[2] = {1, -1};
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, st0, ax1, 1, big, 2, s),
               "[slice] Invalid slice size (3,1) for array with shape (2,3).");
  EXPECT_ERROR(mlx_slice_dynamic(&r, a, st0, ax1, 1, neg, 2, s),
               "[slice] Invalid slice size (1,-1) for array with shape (2,3).");

  /* slice_update */
  EXPECT_ERROR(mlx_slice_update(&r, a, f2, st2, 2, sp2, 1, one2, 2, s),
               "[slice_update] Invalid number of indices or strides for array with dimension "
               "2.");
  EXPECT_ERROR(mlx_slice_update_add(&r, a, f2, st2, 2, sp2, 2, zero2, 2, s),
               "[slice_update] Slice step cannot be zero.");
  EXPECT_ERROR(mlx_slice_update_max(&r, a, i3, st2, 2, (int[]){2, 2}, 2, one2, 2, s),
               "[broadcast_shapes] Shapes (3) and (2,2) cannot be broadcast.");
  EXPECT_ERROR(mlx_slice_update_min(&r, a, i22, st2, 2, (int[]){1, 2}, 2, one2, 2, s),
               "Cannot broadcast array of shape (2,2) into shape (1,2).");
  /* slice_update_dynamic */
  EXPECT_ERROR(mlx_slice_update_dynamic(&r, a, f2, i3, ax1, 1, s),
               "[slice_update] Invalid number of starting positions for array with dimension "
               "2.");
  EXPECT_ERROR(mlx_slice_update_dynamic(&r, a, f2, i11, ax1, 1, s),
               "[slice_update] array of starting indices must be zero or one dimensional but "
               "has dimension 2.");
  EXPECT_ERROR(mlx_slice_update_dynamic(&r, a, f2, i2, ax1, 1, s),
               "[slice_update] Number of starting indices 2 does not match number of axes 1.");
  EXPECT_ERROR(mlx_slice_update_dynamic(&r, a, f2, f2, ax2, 2, s),
               "[slice_update] Start indices must be integers, got type float32.");
  EXPECT_ERROR(mlx_slice_update_dynamic(&r, a, f2, st0, (int[]){-3}, 1, s),
               "[slice_update] Invalid axis -3 for array with dimension 2.");
  EXPECT_ERROR(mlx_slice_update_dynamic(&r, a, f2, i2, (int[]){0, 0}, 2, s),
               "[slice_update] Repeat axes not allowed.");
  mlx_array u3 = new_f32(data, (int[]){1, 2, 3}, 3);
  EXPECT_ERROR(mlx_slice_update_dynamic(&r, a, u3, st0, ax1, 1, s),
               "Cannot broadcast array of shape (1,2,3) into shape (2,3).");
  EXPECT_ERROR(mlx_slice_update_dynamic(&r, a, i4, st0, ax1, 1, s),
               "[broadcast_shapes] Shapes (4) and (1,3) cannot be broadcast.");

  /* take */
  EXPECT_ERROR(mlx_take_axis(&r, a, i2, 3, s),
               "[take] Received invalid axis 3 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_take_axis(&r, a, i2, -3, s),
               "[take] Received invalid axis -3 for array with 2 dimensions.");
  mlx_array empty = new_f32(data, (int[]){2, 0}, 2);
  EXPECT_ERROR(mlx_take_axis(&r, empty, i2, 1, s),
               "[take] Cannot do a non-empty take from an empty axis.");
  EXPECT_ERROR(mlx_take(&r, empty, i2, s),
               "[take] Cannot do a non-empty take from an empty axis.");
  EXPECT_ERROR(mlx_take_axis(&r, a, b2, 0, s), "[Gather] Boolean indices not supported.");
  EXPECT_ERROR(mlx_take(&r, a, f2, s),
               "[gather] Got indices with invalid dtype. Indices must be integral.");
  mlx_array z = mlx_array_new_float(1);
  EXPECT_ERROR(mlx_take_axis(&r, z, i2, 0, s),
               "[take] Received invalid axis 0 for array with 0 dimensions.");

  /* take_along_axis */
  EXPECT_ERROR(mlx_take_along_axis(&r, a, i22, 2, s),
               "[take_along_axis] Axis 2 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_take_along_axis(&r, a, i2, 0, s),
               "[take_along_axis] Indices of dimension 1 does not match array of dimension 2.");
  mlx_array i24 = new_i32(idata, (int[]){2, 4}, 2);
  EXPECT_ERROR(mlx_take_along_axis(&r, a, i24, 0, s),
               "[broadcast_shapes] Shapes (3) and (4) cannot be broadcast.");
  mlx_array f22 = new_f32(data, s22, 2);
  CHECK_OK(mlx_take_along_axis(&r, a, f22, 1, s));
  EXPECT_ERROR(mlx_array_eval(r), "[GatherAxis::eval_cpu] Cannot gather with indices type.");
  EXPECT_ERROR(mlx_array_eval(r), "[GatherAxis::eval_cpu] Cannot gather with indices type.");

  /* put_along_axis / scatter_add_axis */
  EXPECT_ERROR(mlx_put_along_axis(&r, a, i22, f2, -3, s),
               "[put_along_axis] Axis -3 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_scatter_add_axis(&r, a, i2, f2, 0, s),
               "[scatter_add_axis] Indices of dimension 1 does not match array of dimension 2.");
  mlx_array v223 = new_f32(data, (int[]){2, 2, 3}, 3);
  EXPECT_ERROR(mlx_put_along_axis(&r, a, i22, v223, 1, s),
               "[squeeze] Cannot squeeze axis 0 with size 2 which is not equal to 1.");
  EXPECT_ERROR(mlx_put_along_axis(&r, a, i22, i3, 1, s),
               "[broadcast_shapes] Shapes (2,2) and (3) cannot be broadcast.");
  CHECK_OK(mlx_scatter_add_axis(&r, a, f22, f22, 1, s));
  EXPECT_ERROR(mlx_array_eval(r), "[ScatterAxis::eval_cpu] Cannot scatter with indices type.");

  /* gather */
  mlx_vector_array v1 = mlx_vector_array_new_value(i2);
  mlx_vector_array v3 = mlx_vector_array_new_data((mlx_array[]){i2, i2, i2}, 3);
  mlx_vector_array vb = mlx_vector_array_new_value(b2);
  mlx_vector_array vf = mlx_vector_array_new_value(f2);
  mlx_vector_array v23 = mlx_vector_array_new_data((mlx_array[]){i2, i3}, 2);
  mlx_vector_array vmix = mlx_vector_array_new_data((mlx_array[]){i2, f2}, 2);
  int g_sizes[2] = {1, 3}, g_bad[2] = {1, 4};
  EXPECT_ERROR(mlx_gather(&r, a, v3, many, 3, g_sizes, 2, s),
               "[gather] Too many index arrays. Got 3 index arrays for input with 2 dimensions.");
  EXPECT_ERROR(mlx_gather(&r, a, v1, (int[]){0, 0}, 2, g_sizes, 2, s),
               "[gather] Repeat axes not allowed in gather.");
  EXPECT_ERROR(mlx_gather(&r, a, v1, (int[]){-1}, 1, g_sizes, 2, s),
               "[gather] Axes don't match array dimensions.");
  EXPECT_ERROR(mlx_gather_single(&r, a, i2, 2, g_sizes, 2, s),
               "[gather] Axes don't match array dimensions.");
  EXPECT_ERROR(mlx_gather(&r, a, v1, ax2, 2, g_sizes, 2, s),
               "[gather] Number of index arrays does not match number of axes.");
  EXPECT_ERROR(mlx_gather(&r, a, vb, ax1, 1, g_sizes, 2, s),
               "[Gather] Boolean indices not supported.");
  EXPECT_ERROR(mlx_gather(&r, a, v1, ax1, 1, g_sizes, 1, s),
               "[gather] Got slice_sizes with size 1 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_gather(&r, a, vf, ax1, 1, g_sizes, 2, s),
               "[gather] Got indices with invalid dtype. Indices must be integral.");
  EXPECT_ERROR(mlx_gather(&r, a, vmix, ax2, 2, (int[]){1, 1}, 2, s),
               "[gather] Got indices with invalid dtype. Indices must be integral.");
  EXPECT_ERROR(mlx_gather(&r, a, v23, ax2, 2, (int[]){1, 1}, 2, s),
               "[broadcast_shapes] Shapes (2) and (3) cannot be broadcast.");
  CHECK_OK(mlx_gather(&r, empty, v1, ax1, 1, (int[]){1, 0}, 2, s)); /* total slice 0 */
  EXPECT_ERROR(mlx_gather(&r, empty, v1, ax1, 1, (int[]){1, 1}, 2, s),
               "[gather] If the input is empty, either the indices must be empty or the total "
               "slice size must be 0.");
  EXPECT_ERROR(mlx_gather(&r, a, v1, ax1, 1, g_bad, 2, s),
               "[gather] Slice sizes must be in [0, a.shape(i)]. Got (1,4) for array with shape "
               "(2,3).");
  EXPECT_ERROR(mlx_gather(&r, a, v1, ax1, 1, (int[]){-1, 3}, 2, s),
               "[gather] Slice sizes must be in [0, a.shape(i)]. Got (-1,3) for array with shape "
               "(2,3).");

  /* scatter (the reducing forms share the messages) */
  mlx_array u_ok = new_f32(data, (int[]){2, 1, 3}, 3);
  EXPECT_ERROR(mlx_scatter(&r, a, v3, u_ok, many, 3, s),
               "[scatter] Too many index arrays. Got 3 index arrays for input with 2 dimensions.");
  EXPECT_ERROR(mlx_scatter_add(&r, a, vb, u_ok, ax1, 1, s),
               "[scatter] Boolean indices not supported.");
  EXPECT_ERROR(mlx_scatter_prod(&r, a, v1, u_ok, (int[]){1, 1}, 2, s),
               "[scatter] Repeat axes not allowed in scatter.");
  EXPECT_ERROR(mlx_scatter_max_single(&r, a, i2, u_ok, -1, s),
               "[scatter] Axes don't match array dimensions.");
  EXPECT_ERROR(mlx_scatter_min(&r, a, v1, u_ok, ax2, 2, s),
               "[scatter] Number of index arrays does not match number of axes.");
  EXPECT_ERROR(mlx_scatter(&r, a, v23, u_ok, ax2, 2, s),
               "[broadcast_shapes] Shapes (2) and (3) cannot be broadcast.");
  EXPECT_ERROR(mlx_scatter_single(&r, a, i2, a, 0, s),
               "[scatter] Updates with 2 dimensions does not match the sum of the array (2) and "
               "indices (1) dimensions.");
  mlx_array u_bad1 = new_f32(data, (int[]){3, 1, 3}, 3);
  EXPECT_ERROR(mlx_scatter_single(&r, a, i2, u_bad1, 0, s),
               "[scatter] Update shape (3,1,3) is not valid for broadcasted index shape (2).");
  mlx_array u_bad2 = new_f32(data, (int[]){2, 3, 3}, 3);
  EXPECT_ERROR(mlx_scatter_add_single(&r, a, i2, u_bad2, 0, s),
               "[scatter] Updates with shape (2,3,3) are too large for array with shape (2,3).");
  EXPECT_ERROR(mlx_scatter_single(&r, a, f2, u_ok, 0, s),
               "[scatter] Got indices with invalid dtype. Indices must be integral.");

  /* masked_scatter */
  mlx_array m2 = mlx_array_new_data((bool[]){true, true}, s2, 1, MLX_BOOL);
  mlx_array m3 = mlx_array_new_data((bool[]){true, true, true}, s3, 1, MLX_BOOL);
  mlx_array m222 = mlx_array_new_data(data, (int[]){2, 3, 1}, 3, MLX_BOOL);
  EXPECT_ERROR(mlx_masked_scatter(&r, a, i2, f2, s),
               "[masked_scatter] The mask has to be boolean.");
  EXPECT_ERROR(mlx_masked_scatter(&r, a, m222, f2, s),
               "[masked_scatter] The mask cannot have more dimensions than the target.");
  EXPECT_ERROR(mlx_masked_scatter(&r, a, m2, v223, s),
               "[masked_scatter] Value array shape must be broadcastable with the last 1 "
               "dimensions of the input.");
  EXPECT_ERROR(mlx_masked_scatter(&r, a, m3, f2, s),
               "[masked_scatter] The boolean mask should have the same shape as the beginning "
               "of the indexed array but the mask has shape (3) and the array has shape (2,3)");
  EXPECT_ERROR(mlx_masked_scatter(&r, a, m2, i22, s),
               "[broadcast_shapes] Shapes (2,2) and (2,3) cannot be broadcast.");
  mlx_array few = new_f32(data, (int[]){1, 3}, 2);
  CHECK_OK(mlx_masked_scatter(&r, a, m2, few, s));
  EXPECT_ERROR(mlx_array_eval(r),
               "[MaskedScatter::eval_cpu] Source does not have enough elements for mask.");

  /* the API layer */
  EXPECT_ERROR(mlx_take(NULL, a, i2, s), "[take] The result pointer is NULL.");
  EXPECT_ERROR(mlx_take(&r, a, mlx_array_new(), s),
               "[take] The indices array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_gather(&r, a, (mlx_vector_array){NULL}, ax1, 1, g_sizes, 2, s),
               "[gather] The indices vector is empty.");
  EXPECT_ERROR(mlx_slice(&r, a, NULL, 2, sp2, 2, one2, 2, s),
               "[slice] The start pointer is NULL.");
  EXPECT_ERROR(mlx_scatter_add_single(&r, mlx_array_new(), i2, u_ok, 0, s),
               "[scatter_add] The input array is empty (an mlx_array_new() handle).");

  mlx_array arrs[] = {a, i2, i3, i22, f2, b2, i4, st0, i11, u3, empty, z, i24, f22, v223, u_ok,
                      u_bad1, u_bad2, m2, m3, m222, few, r};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
  mlx_vector_array vecs[] = {v1, v3, vb, vf, v23, vmix};
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) mlx_vector_array_free(vecs[i]);
}

int main(void) {
  test_init();
  test_take_random();
  test_take_flat();
  test_take_clamps_extremes();
  test_take_embedding_rows();
  test_gather_random();
  test_gather_single_and_threaded();
  test_along_axis_random();
  test_along_axis_shapes();
  test_complex_parts();
  test_zero_d_and_empty();
  test_errors();
  return test_finish("test_indexing");
}
