/* test_indexing_update.c - scatter (+ reducing and _single forms),
 * slice_update (+ reducing and dynamic forms), slice_dynamic and
 * masked_scatter (their errors are in test_indexing.c).
 *
 * Every op is run on random shapes and every dtype family, with inputs
 * that are contiguous, transposed, sliced with a negative step or
 * broadcast, and indices of every integer type, negative ones included.
 * Results are compared exactly with references computed here from the
 * row-major values (reductions use small integers, rounded to the dtype
 * after every step as the kernels do); duplicate indices, NaN in
 * maximum/minimum and donation of the updated array are checked too.
 * Indices known only at run time that fall outside their axis must be
 * clamped (never read or written out of bounds: this file also runs under
 * ASan). */
#include "indexing_util.h"

/* ---- scatter ---- */

typedef int (*scatter_fn)(mlx_array*, const mlx_array, const mlx_vector_array,
                          const mlx_array, const int*, size_t, const mlx_stream);
typedef int (*scatter_single_fn)(mlx_array*, const mlx_array, const mlx_array,
                                 const mlx_array, int, const mlx_stream);
static const scatter_fn SCATTERS[5] = {mlx_scatter, mlx_scatter_add, mlx_scatter_prod,
                                       mlx_scatter_max, mlx_scatter_min};
static const scatter_single_fn SCATTERS_SINGLE[5] = {
    mlx_scatter_single, mlx_scatter_add_single, mlx_scatter_prod_single,
    mlx_scatter_max_single, mlx_scatter_min_single};

static void test_scatter_random(void) {
  for (int trial = 0; trial < 250; trial++) {
    mlx_dtype t = ALL_TYPES[trial % N_TYPES];
    int mode = (trial / N_TYPES) % 5;
    /* complex values here are v - vi: products mix the parts, and the
     * ordering is checked elsewhere */
    if (t == MLX_COMPLEX64 && mode != MODE_NONE) mode = MODE_SUM;
    int nd = rand_int(1, 3), shape[MAXD];
    for (int d = 0; d < nd; d++) shape[d] = rand_int(1, 4);
    int k = rand_int(0, nd), axes[MAXD], is_axis[MAXD];
    random_axes(axes, k, nd);
    for (int d = 0; d < nd; d++) is_axis[d] = -1;
    for (int i = 0; i < k; i++) is_axis[axes[i]] = i;
    int bnd = k ? rand_int(0, 2) : 0, bshape[MAXD];
    for (int d = 0; d < bnd; d++) bshape[d] = rand_int(1, 4);
    int ushape[MAXD];
    for (int d = 0; d < nd; d++) {
      ushape[d] = rand_int(0, shape[d]);
      if (trial % 5) ushape[d] = is_axis[d] >= 0 ? 1 : shape[d];
    }
    bool clamp = trial % 3 == 0;
    tarr a = make_arr(t, shape, nd, -3, 3, trial % LAYOUT_COUNT);
    tarr idx[MAXD];
    mlx_vector_array vec = mlx_vector_array_new();
    for (int i = 0; i < k; i++) {
      int ishape[MAXD];
      for (int d = 0; d < bnd; d++) ishape[d] = rand_int(0, 1) ? bshape[d] : 1;
      if (i == 0) memcpy(ishape, bshape, sizeof(int) * (size_t)bnd);
      int64_t dim = shape[axes[i]];
      idx[i] = make_arr(INDEX_TYPES[trial % N_INDEX_TYPES], ishape, bnd,
                        clamp ? -dim - 3 : -dim, clamp ? dim + 3 : dim - ushape[axes[i]],
                        (trial + i) % 2 ? LAYOUT_TRANSPOSED : LAYOUT_CONTIGUOUS);
      mlx_vector_array_append_value(vec, idx[i].h);
    }
    int und = bnd + nd, upshape[MAXD * 2];
    memcpy(upshape, bshape, sizeof(int) * (size_t)bnd);
    memcpy(upshape + bnd, ushape, sizeof(int) * (size_t)nd);
    tarr u = make_arr(t, upshape, und, mode == MODE_PROD ? -2 : -3, mode == MODE_PROD ? 2 : 3,
                      (trial / 3) % LAYOUT_COUNT);
    mlx_array r = mlx_array_new();
    CHECK_OK(SCATTERS[mode](&r, a.h, vec, u.h, axes, k, test_stream));
    int64_t n = shape_size(shape, nd);
    double* want = malloc(sizeof(double) * (size_t)(n ? n : 1));
    memcpy(want, a.v, sizeof(double) * (size_t)n);
    int64_t nb = shape_size(bshape, bnd), nu = shape_size(ushape, nd);
    for (int64_t i = 0; i < nb; i++) {
      int bpos[MAXD];
      unravel(i, bshape, bnd, bpos);
      for (int64_t e = 0; e < nu; e++) {
        int upos[MAXD], dst[MAXD];
        unravel(e, ushape, nd, upos);
        for (int d = 0; d < nd; d++) {
          int64_t base = 0;
          if (is_axis[d] >= 0) {
            const tarr* ix = &idx[is_axis[d]];
            base = ref_index(ix->v[bcast_at(ix->shape, ix->nd, bpos, bnd)], shape[d],
                             shape[d] - ushape[d]);
          }
          dst[d] = (int)base + upos[d];
        }
        double* y = &want[ravel(dst, shape, nd)];
        *y = round_to(t, combine(mode, *y, u.v[i * nu + e]));
      }
    }
    CHECK_MSG(values_are(r, shape, nd, want, "scatter"), "trial %d mode %d dtype %d", trial,
              mode, t);
    /* the source the caller still holds is untouched */
    CHECK(values_are(a.h, shape, nd, a.v, "scatter source"));
    free(want);
    mlx_array_free(r);
    mlx_vector_array_free(vec);
    for (int i = 0; i < k; i++) tarr_free(&idx[i]);
    tarr_free(&a);
    tarr_free(&u);
  }
}

/* Repeated indices: plain scatter keeps the last update, the reducing
 * forms combine them all, in order. */
static void test_scatter_duplicates(void) {
  float a_data[3] = {5, 5, 5}, u_data[4] = {1, 2, 3, 4};
  int32_t i_data[4] = {1, 1, -2, 1};
  int ashape[1] = {3}, ishape[1] = {4}, ushape[2] = {4, 1};
  mlx_array a = new_f32(a_data, ashape, 1), idx = new_i32(i_data, ishape, 1);
  mlx_array u = new_f32(u_data, ushape, 2);
  const double want[5][3] = {{5, 4, 5}, {5, 15, 5}, {5, 120, 5}, {5, 5, 5}, {5, 1, 5}};
  for (int m = 0; m < 5; m++) {
    mlx_array r = mlx_array_new();
    CHECK_OK(SCATTERS_SINGLE[m](&r, a, idx, u, 0, test_stream));
    CHECK_MSG(values_are(r, ashape, 1, want[m], "duplicates"), "mode %d", m);
    mlx_array_free(r);
  }
  mlx_array_free(a);
  mlx_array_free(idx);
  mlx_array_free(u);
}

/* scatter_max/min follow MLX's CPU loop (dst > upd ? dst : upd): a NaN
 * update wins, a NaN destination is replaced. slice_update_max/min follow
 * MLX's maximum/minimum: NaN on either side wins. */
static void test_nan_semantics(void) {
  float a_data[2] = {NAN, 1}, u_data[2] = {2, NAN};
  int32_t i_data[2] = {0, 1};
  int shape[1] = {2}, ushape[2] = {2, 1};
  mlx_array a = new_f32(a_data, shape, 1), idx = new_i32(i_data, shape, 1);
  mlx_array u = new_f32(u_data, ushape, 2), u1 = new_f32(u_data, shape, 1);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_scatter_max_single(&r, a, idx, u, 0, test_stream));
  double want_s[2] = {2, NAN};
  CHECK(values_are(r, shape, 1, want_s, "scatter_max NaN"));
  int start[1] = {0}, stop[1] = {2}, step[1] = {1};
  /* slice over the whole array goes through maximum(); a strided one
   * through the kernel: both must agree */
  CHECK_OK(mlx_slice_update_max(&r, a, u1, start, 1, stop, 1, step, 1, test_stream));
  double want_m[2] = {NAN, NAN};
  CHECK(values_are(r, shape, 1, want_m, "slice_update_max NaN (whole)"));
  int big[1] = {4};
  float a4[4] = {NAN, 1, 7, 3};
  mlx_array a4h = new_f32(a4, big, 1);
  int stop2[1] = {4}, step2[1] = {2};
  float u2[2] = {2, NAN};
  mlx_array u2h = new_f32(u2, shape, 1);
  CHECK_OK(mlx_slice_update_max(&r, a4h, u2h, start, 1, stop2, 1, step2, 1, test_stream));
  double want4[4] = {NAN, 1, NAN, 3};
  CHECK(values_are(r, big, 1, want4, "slice_update_max NaN (strided)"));
  CHECK_OK(mlx_slice_update_min(&r, a4h, u2h, start, 1, stop2, 1, step2, 1, test_stream));
  CHECK(values_are(r, big, 1, want4, "slice_update_min NaN (strided)"));
  mlx_array_free(r);
  mlx_array_free(a);
  mlx_array_free(a4h);
  mlx_array_free(idx);
  mlx_array_free(u);
  mlx_array_free(u1);
  mlx_array_free(u2h);
}

/* A source that dies with the scatter gives its buffer to the output; one
 * the caller still holds is copied first (checked in the random test). */
static void test_scatter_donates(void) {
  int shape[2] = {64, 16}, ishape[1] = {3}, ushape[3] = {3, 1, 16};
  tarr a = make_arr(MLX_FLOAT32, shape, 2, -9, 9, LAYOUT_CONTIGUOUS);
  tarr u = make_arr(MLX_FLOAT32, ushape, 3, -9, 9, LAYOUT_CONTIGUOUS);
  int32_t iv[3] = {5, -1, 0};
  mlx_array idx = new_i32(iv, ishape, 1);
  mlx_array src = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_copy(&src, a.h, test_stream));
  CHECK_OK(mlx_array_eval(src));
  const float* src_data = mlx_array_data_float32(src);
  CHECK_OK(mlx_scatter_add_single(&r, src, idx, u.h, 0, test_stream));
  mlx_array_free(src); /* now only the scatter node holds it */
  CHECK_OK(mlx_array_eval(r));
  CHECK(mlx_array_data_float32(r) == src_data);
  double* want = malloc(sizeof(double) * 64 * 16);
  memcpy(want, a.v, sizeof(double) * 64 * 16);
  int rows[3] = {5, 63, 0};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 16; j++) want[rows[i] * 16 + j] += u.v[i * 16 + j];
  CHECK(values_are(r, shape, 2, want, "donated scatter"));
  free(want);
  /* slice_update the same way */
  src = mlx_array_new();
  CHECK_OK(mlx_copy(&src, a.h, test_stream));
  CHECK_OK(mlx_array_eval(src));
  src_data = mlx_array_data_float32(src);
  int start[2] = {3, 0}, stop[2] = {4, 16}, step[2] = {1, 1};
  mlx_array one = mlx_array_new_float(-7);
  CHECK_OK(mlx_slice_update(&r, src, one, start, 2, stop, 2, step, 2, test_stream));
  mlx_array_free(src);
  CHECK_OK(mlx_array_eval(r));
  CHECK(mlx_array_data_float32(r) == src_data);
  want = malloc(sizeof(double) * 64 * 16);
  memcpy(want, a.v, sizeof(double) * 64 * 16);
  for (int j = 0; j < 16; j++) want[3 * 16 + j] = -7;
  CHECK(values_are(r, shape, 2, want, "donated slice_update"));
  free(want);
  mlx_array_free(one);
  mlx_array_free(r);
  mlx_array_free(idx);
  tarr_free(&a);
  tarr_free(&u);
}

/* ---- slices ---- */

/* The reference normalisation of one slice (numpy's rules). */
static int ref_slice(int n, int start, int stop, int step, int* first) {
  int64_t s = start < 0 ? (int64_t)start + n : start, e = stop < 0 ? (int64_t)stop + n : stop;
  if (step > 0) {
    s = s < 0 ? 0 : s > n ? n : s;
    e = e < 0 ? 0 : e > n ? n : e;
    *first = (int)s;
    return e > s ? (int)((e - s + step - 1) / step) : 0;
  }
  s = s > n - 1 ? n - 1 : s;
  e = e < -1 ? -1 : e;
  *first = (int)s;
  return s > e ? (int)((s - e - step - 1) / -step) : 0;
}

typedef int (*slice_update_fn)(mlx_array*, const mlx_array, const mlx_array, const int*, size_t,
                               const int*, size_t, const int*, size_t, const mlx_stream);
static const slice_update_fn SLICE_UPDATES[5] = {mlx_slice_update, mlx_slice_update_add,
                                                 mlx_slice_update_prod, mlx_slice_update_max,
                                                 mlx_slice_update_min};

static void test_slice_update_random(void) {
  for (int trial = 0; trial < 250; trial++) {
    mlx_dtype t = ALL_TYPES[trial % N_TYPES];
    int mode = (trial / N_TYPES) % 5;
    if (t == MLX_COMPLEX64 && mode != MODE_SUM) mode = MODE_NONE;
    int nd = rand_int(0, 3), shape[MAXD], start[MAXD], stop[MAXD], step[MAXD], first[MAXD],
        sshape[MAXD];
    for (int d = 0; d < nd; d++) {
      shape[d] = rand_int(1, 5);
      do step[d] = rand_int(-3, 3);
      while (step[d] == 0);
      if (trial % 4 == 0) step[d] = 1;
      start[d] = rand_int(-shape[d] - 2, shape[d] + 2);
      stop[d] = rand_int(-shape[d] - 2, shape[d] + 2);
      if (trial % 4 == 0) {
        start[d] = 0;
        stop[d] = shape[d];
      }
      sshape[d] = ref_slice(shape[d], start[d], stop[d], step[d], &first[d]);
    }
    tarr src = make_arr(t, shape, nd, -3, 3, trial % LAYOUT_COUNT);
    /* the update: maybe another dtype, maybe missing leading axes or with
     * size-1 axes that broadcast */
    mlx_dtype ut = trial % 2 ? t : MLX_INT32;
    int und = nd - rand_int(0, nd > 0 ? 1 : 0), ushape[MAXD];
    for (int d = 0; d < und; d++) {
      int sd = sshape[d + nd - und];
      ushape[d] = rand_int(0, 2) == 0 ? 1 : sd;
    }
    double lo = mode == MODE_PROD ? -2 : -3, hi = mode == MODE_PROD ? 2 : 3;
    if (is_unsigned(t)) lo = 0;
    tarr u = make_arr(ut, ushape, und, lo, hi, (trial / 7) % LAYOUT_COUNT);
    mlx_array r = mlx_array_new(), sl = mlx_array_new();
    CHECK_OK(SLICE_UPDATES[mode](&r, src.h, u.h, start, nd, stop, nd, step, nd, test_stream));
    /* the slice op agrees on the slice's shape */
    CHECK_OK(mlx_slice(&sl, src.h, start, nd, stop, nd, step, nd, test_stream));
    CHECK(test_shape_is(sl, sshape, nd));
    int64_t n = shape_size(shape, nd), ns = shape_size(sshape, nd);
    double* want = malloc(sizeof(double) * (size_t)(n ? n : 1));
    memcpy(want, src.v, sizeof(double) * (size_t)n);
    for (int64_t e = 0; e < ns; e++) {
      int pos[MAXD], dst[MAXD];
      unravel(e, sshape, nd, pos);
      for (int d = 0; d < nd; d++) dst[d] = first[d] + pos[d] * step[d];
      double uv = round_to(t, u.v[bcast_at(ushape, und, pos, nd)]);
      double* y = &want[ravel(dst, shape, nd)];
      *y = round_to(t, combine(mode, *y, uv));
    }
    CHECK_MSG(values_are(r, shape, nd, want, "slice_update"), "trial %d mode %d dtype %d", trial,
              mode, t);
    CHECK(values_are(src.h, shape, nd, src.v, "slice_update source"));
    free(want);
    mlx_array_free(r);
    mlx_array_free(sl);
    tarr_free(&src);
    tarr_free(&u);
  }
}

/* A large strided update (threaded) and the update-of-nothing case. */
static void test_slice_update_large_and_empty(void) {
  int shape[3] = {8, 256, 64}, ushape[3] = {8, 100, 64};
  tarr src = make_arr(MLX_FLOAT32, shape, 3, -50, 50, LAYOUT_CONTIGUOUS);
  tarr u = make_arr(MLX_FLOAT32, ushape, 3, -50, 50, LAYOUT_TRANSPOSED);
  int start[3] = {0, 7, 0}, stop[3] = {8, 107, 64}, step[3] = {1, 1, 1};
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_slice_update_add(&r, src.h, u.h, start, 3, stop, 3, step, 3, test_stream));
  int64_t n = shape_size(shape, 3);
  double* want = malloc(sizeof(double) * (size_t)n);
  memcpy(want, src.v, sizeof(double) * (size_t)n);
  for (int b = 0; b < 8; b++)
    for (int i = 0; i < 100; i++)
      for (int j = 0; j < 64; j++)
        want[((int64_t)b * 256 + 7 + i) * 64 + j] += u.v[((int64_t)b * 100 + i) * 64 + j];
  CHECK(values_are(r, shape, 3, want, "large slice_update_add"));
  free(want);
  /* an empty slice changes nothing */
  int e_start[3] = {0, 5, 0}, e_stop[3] = {8, 5, 64};
  mlx_array o = mlx_array_new_float(1);
  CHECK_OK(mlx_slice_update(&r, src.h, o, e_start, 3, e_stop, 3, step, 3, test_stream));
  CHECK(values_are(r, shape, 3, src.v, "empty slice_update"));
  mlx_array_free(o);
  mlx_array_free(r);
  tarr_free(&src);
  tarr_free(&u);
}

static void test_slice_dynamic_random(void) {
  for (int trial = 0; trial < 120; trial++) {
    mlx_dtype t = ALL_TYPES[trial % N_TYPES];
    int nd = rand_int(1, 3), shape[MAXD], sizes[MAXD], first[MAXD];
    for (int d = 0; d < nd; d++) {
      shape[d] = rand_int(1, 5);
      sizes[d] = rand_int(0, shape[d]);
      first[d] = 0;
    }
    int k = rand_int(0, nd), axes[MAXD];
    random_axes(axes, k, nd);
    int sshape[1] = {k};
    bool zero_d = k == 1 && trial % 2;
    tarr st = make_arr(trial % 3 ? MLX_INT32 : MLX_INT64, sshape, zero_d ? 0 : 1, -8, 8,
                       LAYOUT_CONTIGUOUS);
    int user_axes[MAXD];
    for (int i = 0; i < k; i++) {
      int ax = axes[i];
      user_axes[i] = rand_int(0, 1) ? ax - nd : ax;
      first[ax] = (int)ref_index(st.v[i], shape[ax], shape[ax] - sizes[ax]);
    }
    tarr a = make_arr(t, shape, nd, -3, 3, trial % LAYOUT_COUNT);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_slice_dynamic(&r, a.h, st.h, user_axes, k, sizes, nd, test_stream));
    int64_t n = shape_size(sizes, nd);
    double* want = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t e = 0; e < n; e++) {
      int pos[MAXD];
      unravel(e, sizes, nd, pos);
      for (int d = 0; d < nd; d++) pos[d] += first[d];
      want[e] = a.v[ravel(pos, shape, nd)];
    }
    CHECK_MSG(values_are(r, sizes, nd, want, "slice_dynamic"), "trial %d", trial);
    /* and the dynamic update of that slice */
    int und = nd - rand_int(0, 1), ushape[MAXD], up[MAXD];
    for (int d = 0; d < und; d++) ushape[d] = rand_int(0, 1) ? 1 : sizes[d + nd - und];
    tarr u = make_arr(t, ushape, und, -3, 3, (trial / 4) % LAYOUT_COUNT);
    /* MLX's update shape: leading axes from the source (1 on sliced ones) */
    for (int d = 0; d < nd; d++) up[d] = d < nd - und ? shape[d] : ushape[d - (nd - und)];
    for (int i = 0; i < k; i++) {
      int ax = axes[i];
      if (ax < nd - und) up[ax] = 1;
      first[ax] = (int)ref_index(st.v[i], shape[ax], shape[ax] - up[ax]);
    }
    CHECK_OK(mlx_slice_update_dynamic(&r, a.h, u.h, st.h, user_axes, k, test_stream));
    int64_t na = shape_size(shape, nd), nu = shape_size(up, nd);
    double* want2 = malloc(sizeof(double) * (size_t)(na ? na : 1));
    memcpy(want2, a.v, sizeof(double) * (size_t)na);
    for (int64_t e = 0; e < nu; e++) {
      int pos[MAXD], dst[MAXD];
      unravel(e, up, nd, pos);
      for (int d = 0; d < nd; d++) dst[d] = pos[d] + first[d];
      want2[ravel(dst, shape, nd)] = u.v[bcast_at(ushape, und, pos, nd)];
    }
    CHECK_MSG(values_are(r, shape, nd, want2, "slice_update_dynamic"), "trial %d", trial);
    free(want);
    free(want2);
    mlx_array_free(r);
    tarr_free(&a);
    tarr_free(&st);
    tarr_free(&u);
  }
}

/* ---- masked_scatter ---- */

static void test_masked_scatter_random(void) {
  for (int trial = 0; trial < 120; trial++) {
    mlx_dtype t = ALL_TYPES[trial % N_TYPES];
    int nd = rand_int(1, 3), shape[MAXD];
    for (int d = 0; d < nd; d++) shape[d] = rand_int(1, 4);
    int md = rand_int(0, nd), un = nd - md;
    tarr a = make_arr(t, shape, nd, -3, 3, trial % LAYOUT_COUNT);
    tarr m = make_arr(MLX_BOOL, shape, md, 0, 1, (trial / 4) % LAYOUT_COUNT);
    int64_t msize = shape_size(shape, md), inner = shape_size(shape + md, un);
    int variant = trial % 3, vnd, vshape[MAXD];
    if (variant == 0) { /* [N, trailing], N = mask size */
      vnd = un + 1;
      vshape[0] = (int)msize;
      for (int d = 0; d < un; d++) vshape[d + 1] = shape[md + d];
    } else if (variant == 1) { /* [N, trailing with ones] */
      vnd = un + 1;
      vshape[0] = (int)msize + rand_int(0, 2);
      for (int d = 0; d < un; d++) vshape[d + 1] = rand_int(0, 1) ? 1 : shape[md + d];
    } else { /* fewer dims: broadcast over the masked elements */
      vnd = rand_int(0, un);
      for (int d = 0; d < vnd; d++) vshape[d] = rand_int(0, 1) ? 1 : shape[nd - vnd + d];
    }
    tarr v = make_arr(t, vshape, vnd, -3, 3, (trial / 3) % LAYOUT_COUNT);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_masked_scatter(&r, a.h, m.h, v.h, test_stream));
    /* the values broadcast to [N, trailing] and read in row-major order */
    int full[MAXD];
    full[0] = vnd == un + 1 ? vshape[0] : (int)msize;
    for (int d = 0; d < un; d++) full[d + 1] = shape[md + d];
    int64_t n = shape_size(shape, nd);
    double* want = malloc(sizeof(double) * (size_t)(n ? n : 1));
    memcpy(want, a.v, sizeof(double) * (size_t)n);
    int64_t taken = 0;
    for (int64_t i = 0; i < msize; i++) {
      if (!m.v[i]) continue;
      for (int64_t j = 0; j < inner; j++) {
        int pos[MAXD];
        unravel(taken * inner + j, full, un + 1, pos);
        want[i * inner + j] = v.v[bcast_at(vshape, vnd, pos, un + 1)];
      }
      taken++;
    }
    CHECK_MSG(values_are(r, shape, nd, want, "masked_scatter"), "trial %d", trial);
    free(want);
    mlx_array_free(r);
    tarr_free(&a);
    tarr_free(&m);
    tarr_free(&v);
  }
}

int main(void) {
  test_init();
  test_scatter_random();
  test_scatter_duplicates();
  test_nan_semantics();
  test_scatter_donates();
  test_slice_update_random();
  test_slice_update_large_and_empty();
  test_slice_dynamic_random();
  test_masked_scatter_random();
  return test_finish("test_indexing_update");
}
