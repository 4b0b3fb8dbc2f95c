/* test_softmax.c - median, logsumexp and softmax through the mlx-c API.
 *
 * What it proves:
 * - on random shapes (0-d and size-1 axes), random axis sets (negative,
 *   unordered), keepdims or not, the dtype families, and inputs that are
 *   contiguous, transposed, sliced with a reversed axis or broadcast:
 *   median equals the middle of the sorted values (the mean of the two
 *   middle ones, rounded as MLX's graph rounds, for even counts) and gives
 *   NaN for rows holding NaN; logsumexp and softmax match a double
 *   reference within float32 rounding of x - max (and of the half types);
 * - MLX's dtype rules: median and logsumexp give at_least_float; softmax
 *   over the last axes promotes integers, over other axes it computes in
 *   float and casts back to the input dtype; an empty softmax returns its
 *   input;
 * - rows of -inf, +inf and NaN give what MLX's kernels give;
 * - the fused kernels agree with MLX's composed formula (max, exp, sum),
 *   and complex64 (which takes the composed path) matches a double
 *   complex reference;
 * - long rows spread over threads match the reference;
 * - every validation error reports MLX's message. */
#include <complex.h>
#include <stdlib.h>

#include "ops/reduce.h"
#include "reduce_util.h"

static const api_forms lse_api = {"logsumexp", mlx_logsumexp_axes, mlx_logsumexp_axis,
                                  mlx_logsumexp};

/* ---- median ---- */

static int cmp_lex(const void* a, const void* b) {
  const double* x = a;
  const double* y = b;
  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  if (x[1] != y[1]) return x[1] < y[1] ? -1 : 1;
  return 0;
}

static void test_median_random(void) {
  for (int di = 0; di < N_DTYPES; di++) {
    mlx_dtype t = all_dtypes[di];
    for (int trial = 0; trial < 25; trial++) {
      int shape[8], axes[8];
      bool whole, red[8];
      int nd = random_shape(shape, false);
      int n = random_axes(nd, axes, &whole);
      if (n == 0) {
        if (nd > 0) continue;
      }
      bool keepdims = rand_int(0, 1);
      mlx_array a = make_view((layout_kind)rand_int(0, 3), t, shape, nd, -3, 3, -50, 50);
      mark_axes(nd, axes, n, red);
      int oshape[8];
      int ond = out_shape_of(shape, nd, red, keepdims, oshape);
      size_t n_out = shape_size(oshape, ond), size = shape_size(shape, nd);
      size_t count = n_out ? size / n_out : 0;
      mlx_array r = mlx_array_new();
      CHECK_OK(mlx_median(&r, a, axes, (size_t)n, keepdims, test_stream));
      mlx_dtype ft = at_least_float(t);
      CHECK(mlx_array_dtype(r) == ft && test_shape_is(r, oshape, ond));
      double *re, *im, *gr, *gi;
      read_values(a, &re, &im);
      read_values(r, &gr, &gi);
      double* rows = malloc(2 * sizeof(double) * (count ? count : 1));
      for (size_t o = 0; o < n_out; o++) {
        size_t k = 0;
        for (size_t i = 0; i < size; i++)
          if (out_index(i, shape, nd, red) == o) rows[2 * k] = re[i], rows[2 * k + 1] = im[i], k++;
        qsort(rows, k, 2 * sizeof(double), cmp_lex);
        size_t mid = k / 2;
        double wr = round_to(ft, rows[2 * mid]), wi = round_to(ft, rows[2 * mid + 1]);
        if (k % 2 == 0) {
          double lr = round_to(ft, rows[2 * mid - 2]), li = round_to(ft, rows[2 * mid - 1]);
          wr = round_to(ft, round_to(ft, lr + wr) * 0.5);
          wi = round_to(ft, round_to(ft, li + wi) * 0.5);
        }
        CHECK_MSG(gr[o] == wr && gi[o] == wi, "median of %s [%zu] over %zu: %.9g vs %.9g",
                  dtype_name(t), o, k, gr[o], wr);
      }
      free(rows);
      free(re);
      free(im);
      free(gr);
      free(gi);
      mlx_array_free(r);
      mlx_array_free(a);
    }
  }
  /* NaN anywhere in a row gives NaN (MLX checks explicitly) */
  double v[4] = {1, NAN, 3, 2};
  int four = 4, ax = 0;
  mlx_array a = make(MLX_FLOAT32, &four, 1, v, NULL);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_median(&r, a, &ax, 1, false, test_stream));
  CHECK(isnan(scalar_of(r)));
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- softmax, logsumexp ---- */

/* The double reference over the reduced axes of values re: softmax (into
 * sm, shaped like the input) and logsumexp (into lse, one per output). */
static void ref_softmax_lse(const double* re, const int* shape, int nd, const bool* red,
                            size_t n_out, double* sm, double* lse) {
  size_t size = shape_size(shape, nd);
  double* m = malloc(sizeof(double) * (n_out ? n_out : 1));
  double* s = calloc(n_out ? n_out : 1, sizeof(double));
  for (size_t o = 0; o < n_out; o++) m[o] = -INFINITY;
  for (size_t i = 0; i < size; i++) {
    size_t o = out_index(i, shape, nd, red);
    if (isnan(re[i]) || re[i] > m[o]) m[o] = isnan(m[o]) ? m[o] : re[i];
  }
  for (size_t i = 0; i < size; i++) {
    size_t o = out_index(i, shape, nd, red);
    s[o] += exp(re[i] - m[o]);
  }
  for (size_t i = 0; i < size; i++) {
    size_t o = out_index(i, shape, nd, red);
    sm[i] = exp(re[i] - m[o]) / s[o];
  }
  for (size_t o = 0; o < n_out; o++) lse[o] = isinf(m[o]) ? m[o] : log(s[o]) + m[o];
  free(m);
  free(s);
}

static const mlx_dtype real_dtypes[] = {MLX_BOOL, MLX_UINT8, MLX_INT16, MLX_INT64, MLX_FLOAT16,
                                        MLX_BFLOAT16, MLX_FLOAT32, MLX_FLOAT64};

static void test_softmax_logsumexp_random(void) {
  for (size_t di = 0; di < sizeof real_dtypes / sizeof real_dtypes[0]; di++) {
    mlx_dtype t = real_dtypes[di];
    for (int trial = 0; trial < 30; trial++) {
      int shape[8], axes[8], oshape[8];
      bool whole, red[8];
      int nd = random_shape(shape, false);
      int n = random_axes(nd, axes, &whole);
      /* half the time, MLX's fused case: the last axis */
      if (nd > 0 && rand_int(0, 1)) {
        n = 1;
        axes[0] = rand_int(0, 1) ? -1 : nd - 1;
        whole = nd == 1 && rand_int(0, 1);
      }
      bool keepdims = rand_int(0, 1);
      mlx_array a = make_view((layout_kind)rand_int(0, 3), t, shape, nd, -6, 6, -4, 4);
      mark_axes(nd, axes, n, red);
      int ond = out_shape_of(shape, nd, red, keepdims, oshape);
      size_t n_out = shape_size(oshape, ond), size = shape_size(shape, nd);
      double *re, *im;
      read_values(a, &re, &im);
      double* sm = malloc(sizeof(double) * (size ? size : 1));
      double* lse = malloc(sizeof(double) * (n_out ? n_out : 1));
      ref_softmax_lse(re, shape, nd, red, n_out, sm, lse);
      mlx_dtype ft = at_least_float(t);
      double u = unit_roundoff(ft);
      /* rounding of x - max in float32 shows up as a relative error of
       * about |x - max| * 2^-24 in exp */
      double k_tol = (ft == MLX_FLOAT64 ? 64 : 4) * u + 16 * 0x1p-24 * (ft != MLX_FLOAT64);

      mlx_array r = mlx_array_new();
      CHECK_OK(call_forms(&lse_api, &r, a, axes, n, whole, keepdims));
      CHECK(mlx_array_dtype(r) == ft && test_shape_is(r, oshape, ond));
      double *gr, *gi;
      read_values(r, &gr, &gi);
      for (size_t o = 0; o < n_out; o++)
        CHECK_MSG(close_to(gr[o], lse[o], k_tol * (fabs(lse[o]) + 1)),
                  "logsumexp of %s [%zu]: %.9g vs %.9g", dtype_name(t), o, gr[o], lse[o]);
      free(gr);
      free(gi);

      /* MLX's test for the fused kernel, on the axes the API passes */
      int used[8], nu = n;
      for (int i = 0; i < n; i++) used[i] = axes[i];
      if (whole) {
        nu = nd;
        for (int i = 0; i < nd; i++) used[i] = i;
      }
      bool last = nu > 0 && (used[nu - 1] == nd - 1 || used[nu - 1] == -1);
      for (int i = nu - 2; i >= 0 && last; i--) {
        int ax = used[i] < 0 ? used[i] + nd : used[i];
        last = used[i] + 1 == used[i + 1] && shape[ax] == 1;
      }
      int rc;
      bool precise = rand_int(0, 1);
      if (whole) rc = mlx_softmax(&r, a, precise, test_stream);
      else if (n == 1 && rand_int(0, 1)) rc = mlx_softmax_axis(&r, a, axes[0], precise, test_stream);
      else rc = mlx_softmax_axes(&r, a, axes, (size_t)n, precise, test_stream);
      CHECK_MSG(rc == 0, "softmax: %s", test_last_error);
      /* MLX: the fused (last axes) kernel promotes, the composed path casts
       * back to the input dtype */
      mlx_dtype st = last ? ft : t;
      if (size == 0) st = t;
      CHECK_MSG(mlx_array_dtype(r) == st, "softmax of %s gave %s", dtype_name(t),
                dtype_name(mlx_array_dtype(r)));
      CHECK(test_shape_is(r, shape, nd));
      read_values(r, &gr, &gi);
      for (size_t i = 0; i < size && mlx_array_dtype(r) == ft; i++)
        CHECK_MSG(close_to(gr[i], sm[i], k_tol * sm[i] + (ft == MLX_FLOAT16 ? 0x1p-24 : 1e-30)),
                  "softmax of %s [%zu]: %.9g vs %.9g", dtype_name(t), i, gr[i], sm[i]);
      for (size_t i = 0; i < size && mlx_array_dtype(r) != ft; i++)
        CHECK_MSG(gr[i] == round_to(t, sm[i]) || (sm[i] > 0.999999 && gr[i] == round_to(t, 1)),
                  "softmax of %s [%zu] cast back: %.9g vs %.9g", dtype_name(t), i, gr[i], sm[i]);
      free(gr);
      free(gi);
      mlx_array_free(r);
      free(re);
      free(im);
      free(sm);
      free(lse);
      mlx_array_free(a);
    }
  }
}

/* Rows of -inf, +inf and NaN behave as in MLX's kernels. */
static void test_softmax_special_rows(void) {
  int shape[2] = {4, 3};
  double v[12] = {-INFINITY, -INFINITY, -INFINITY, 1, INFINITY, 2, 1, NAN, 3, 1, 2, -INFINITY};
  mlx_array a = make(MLX_FLOAT32, shape, 2, v, NULL);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_logsumexp_axis(&r, a, -1, false, test_stream));
  double *re, *im;
  read_values(r, &re, &im);
  CHECK(re[0] == -INFINITY && re[1] == INFINITY && isnan(re[2]));
  CHECK(fabs(re[3] - (2 + log1p(exp(-1.0)))) < 1e-6);
  free(re);
  free(im);
  CHECK_OK(mlx_softmax_axis(&r, a, -1, false, test_stream));
  read_values(r, &re, &im);
  for (int i = 0; i < 9; i++) CHECK_MSG(isnan(re[i]), "softmax special [%d] = %g", i, re[i]);
  CHECK(re[11] == 0 && fabs(re[10] - 1 / (1 + exp(-1.0))) < 1e-7);
  free(re);
  free(im);
  mlx_array_free(r);
  mlx_array_free(a);
  /* softmax of an empty array returns it (any dtype) */
  int e[2] = {0, 3};
  mlx_array z = make(MLX_INT32, e, 2, NULL, NULL);
  r = mlx_array_new();
  CHECK_OK(mlx_softmax(&r, z, false, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_INT32 && mlx_array_size(r) == 0);
  mlx_array_free(r);
  mlx_array_free(z);
}

/* The fused kernels against MLX's composed formula, and complex64 (which
 * takes the composed path) against a double complex reference. */
static void test_softmax_composed(void) {
  int shape[3] = {3, 4, 5};
  for (int trial = 0; trial < 6; trial++) {
    int axes[2] = {trial % 3, (trial + 1) % 3};
    int n = 1 + trial % 2;
    mlx_array a = make_view((layout_kind)(trial % 4), MLX_FLOAT32, shape, 3, -5, 5, 0, 0);
    array* f = op_softmax(api_array(a), axes, n, false, test_st());
    array* c = op_softmax_composed(api_array(a), axes, n, false, test_st());
    array* lf = op_logsumexp(api_array(a), axes, n, true, test_st());
    array* lc = op_logsumexp_composed(api_array(a), axes, n, true, test_st());
    CHECK(f && c && lf && lc);
    double *fr, *fi, *cr, *ci;
    read_values(api_wrap(f), &fr, &fi);
    read_values(api_wrap(c), &cr, &ci);
    for (int i = 0; i < 60; i++) CHECK(fabs(fr[i] - cr[i]) <= 1e-6 * cr[i] + 1e-30);
    free(fr);
    free(fi);
    free(cr);
    free(ci);
    read_values(api_wrap(lf), &fr, &fi);
    read_values(api_wrap(lc), &cr, &ci);
    for (size_t i = 0; i < mlx_array_size(api_wrap(lc)); i++)
      CHECK(fabs(fr[i] - cr[i]) <= 1e-6 * (fabs(cr[i]) + 1));
    CHECK(mlx_array_size(api_wrap(lc)) == mlx_array_size(api_wrap(lf)));
    free(fr);
    free(fi);
    free(cr);
    free(ci);
    array_release(f);
    array_release(c);
    array_release(lf);
    array_release(lc);
    mlx_array_free(a);
  }
  /* complex64: softmax_i = e^(z_i - m) / sum_j e^(z_j - m) */
  int three = 3;
  double re[3] = {0.5, -1, 2}, im[3] = {1, 0.25, -0.5};
  mlx_array z = make(MLX_COMPLEX64, &three, 1, re, im);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_softmax(&r, z, false, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_COMPLEX64);
  double *gr, *gi;
  read_values(r, &gr, &gi);
  double sr = 0, si = 0, er[3], ei[3];
  for (int i = 0; i < 3; i++) {
    er[i] = exp(re[i]) * cos(im[i]);
    ei[i] = exp(re[i]) * sin(im[i]);
    sr += er[i];
    si += ei[i];
  }
  for (int i = 0; i < 3; i++) {
    double d = sr * sr + si * si;
    double wr = (er[i] * sr + ei[i] * si) / d, wi = (ei[i] * sr - er[i] * si) / d;
    CHECK_MSG(fabs(gr[i] - wr) < 1e-5 && fabs(gi[i] - wi) < 1e-5, "complex softmax [%d]", i);
  }
  free(gr);
  free(gi);
  CHECK_OK(mlx_logsumexp(&r, z, false, test_stream));
  read_values(r, &gr, &gi);
  double lr = 0.5 * log(sr * sr + si * si), li = atan2(si, sr);
  CHECK_MSG(fabs(gr[0] - lr) < 1e-5 && fabs(remainder(gi[0] - li, 2 * M_PI)) < 1e-5,
            "complex logsumexp %g%+gi vs %g%+gi", gr[0], gi[0], lr, li);
  free(gr);
  free(gi);
  mlx_array_free(r);
  mlx_array_free(z);
}


/* Softmax with long rows spread over threads, against the reference. */
static void test_softmax_long_rows(void) {
  int wide[2] = {300, 10001};
  size_t n = 300 * 10001;
  double* v = malloc(sizeof(double) * n);
  for (size_t i = 0; i < n; i++) v[i] = (float)((double)((i * 7919) % 1000003) * 1e-5);
  mlx_array a = make(MLX_FLOAT32, wide, 2, v, NULL);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_softmax_axis(&r, a, 1, false, test_stream));
  double *gr, *gi;
  read_values(r, &gr, &gi);
  int bad = 0;
  for (int i = 0; i < 300; i += 37) {
    const double* x = v + (size_t)i * 10001;
    double m = -INFINITY, s = 0;
    for (int j = 0; j < 10001; j++) m = fmax(m, x[j]);
    for (int j = 0; j < 10001; j++) s += exp(x[j] - m);
    for (int j = 0; j < 10001; j++) {
      double want = exp(x[j] - m) / s;
      bad += fabs(gr[(size_t)i * 10001 + j] - want) > 2e-6 * want;
    }
  }
  CHECK(bad == 0);
  free(gr);
  free(gi);
  mlx_array_free(r);
  mlx_array_free(a);
  free(v);
}

/* ---- errors ---- */

static void test_softmax_errors(void) {
  int shape[2] = {2, 3}, zs[2] = {2, 0};
  double v[6] = {1, 2, 3, 4, 5, 6};
  mlx_array a = make(MLX_FLOAT32, shape, 2, v, NULL);
  mlx_array s0 = make(MLX_FLOAT32, NULL, 0, v, NULL);
  mlx_array e = make(MLX_FLOAT32, zs, 2, NULL, NULL);
  mlx_array r = mlx_array_new();
  int two = 2, one = 1, dup[2] = {0, 0}, dupn[2] = {1, -1};
  /* logsumexp */
  EXPECT_ERROR(mlx_logsumexp(&r, e, false, test_stream), "[logsumexp] Received empty array.");
  EXPECT_ERROR(mlx_logsumexp_axis(&r, s0, 0, false, test_stream),
               "[logsumexp] Received non-empty axes for array with 0 dimensions.");
  EXPECT_ERROR(mlx_logsumexp_axis(&r, a, 2, false, test_stream),
               "Invalid axis 2 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_logsumexp_axes(&r, a, dupn, 2, false, test_stream),
               "Duplicate axes detected in reduction.");
  CHECK_OK(mlx_logsumexp(&r, s0, false, test_stream));
  CHECK(scalar_of(r) == 1);
  /* softmax */
  EXPECT_ERROR(mlx_softmax_axis(&r, s0, 0, false, test_stream),
               "[softmax] Received non-empty axes for array with 0 dimensions.");
  EXPECT_ERROR(mlx_softmax_axis(&r, a, 2, true, test_stream),
               "Invalid axis 2 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_softmax_axes(&r, a, dup, 2, false, test_stream),
               "Duplicate axes detected in reduction.");
  CHECK_OK(mlx_softmax(&r, s0, false, test_stream));
  CHECK(scalar_of(r) == 1);
  /* median */
  EXPECT_ERROR(mlx_median(&r, a, &two, 1, false, test_stream),
               "[median] axis 2 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_median(&r, a, dupn, 2, false, test_stream), "[median] Received duplicate axis.");
  EXPECT_ERROR(mlx_median(&r, e, &one, 1, false, test_stream),
               "[median] Cannot take median along empty axis.");
  EXPECT_ERROR(mlx_median(&r, a, NULL, 0, false, test_stream),
               "[flatten] start_axis must be less than or equal to end_axis");
  CHECK_OK(mlx_median(&r, s0, NULL, 0, false, test_stream));
  CHECK(scalar_of(r) == 1);
  mlx_array_free(r);
  mlx_array_free(a);
  mlx_array_free(s0);
  mlx_array_free(e);
}

int main(void) {
  test_init();
  test_median_random();
  test_softmax_logsumexp_random();
  test_softmax_special_rows();
  test_softmax_composed();
  test_softmax_long_rows();
  test_softmax_errors();
  return test_finish("test_softmax");
}
