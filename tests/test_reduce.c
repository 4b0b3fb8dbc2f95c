/* test_reduce.c - the axis reductions through the mlx-c API: sum, prod,
 * max, min, all, any, mean, var, std, argmax and argmin (median, softmax
 * and logsumexp are in test_softmax.c).
 *
 * What it proves:
 * - on random shapes (0-d, size-1 and size-0 axes), random axis sets
 *   (negative, unordered), keepdims or not, every dtype, and inputs that
 *   are contiguous, transposed, sliced with a reversed axis or broadcast,
 *   every op gives MLX's output shape and dtype and the value of a
 *   double-precision reference: exactly where MLX is exact (integer sums
 *   and products with MLX's wrap-around, max, min, all, any, argmax,
 *   argmin), within rounding bounds elsewhere;
 * - the three API forms (_axes, _axis, whole array) agree;
 * - MLX's dtype rules: sum/prod widen integers (bool -> int32, uint8 ->
 *   uint32, int64 stays), mean/var/std give at_least_float (var of
 *   complex64 is float32), argmax gives uint32, all/any bool;
 * - MLX's special cases: sum/prod/min of no axes return the input
 *   unchanged, sums of empty axes are 0, NaN propagates through max/min
 *   and counts for argmax only as the first element, all/any test -0.0 as
 *   false but complex -0 + 0j as true, integer sums wrap;
 * - large inputs that take the threaded paths (a full reduction split in
 *   pieces, column reductions, many rows, argmax down columns) match the
 *   references;
 * - every validation error reports MLX's message. */
#include <float.h>
#include <stdlib.h>

#include "ops/reduce.h"
#include "reduce_util.h"

/* ---- the API forms ---- */

static const api_forms reduce_api[REDUCE_KIND_COUNT] = {
    [REDUCE_SUM] = {"sum", mlx_sum_axes, mlx_sum_axis, mlx_sum},
    [REDUCE_PROD] = {"prod", mlx_prod_axes, mlx_prod_axis, mlx_prod},
    [REDUCE_MAX] = {"max", mlx_max_axes, mlx_max_axis, mlx_max},
    [REDUCE_MIN] = {"min", mlx_min_axes, mlx_min_axis, mlx_min},
    [REDUCE_AND] = {"all", mlx_all_axes, mlx_all_axis, mlx_all},
    [REDUCE_OR] = {"any", mlx_any_axes, mlx_any_axis, mlx_any},
};
static const api_forms mean_api = {"mean", mlx_mean_axes, mlx_mean_axis, mlx_mean};

/* ---- the reference reductions ---- */

typedef struct ref_acc {
  double re, im;  /* the result */
  uint64_t bits;  /* integer sum/prod, wrapping mod 2^64 */
  double mag;     /* sum of |x| (sum), product of |x| (prod) */
  size_t count;
} ref_acc;

/* MLX's nonzero test of all/any: floats compare with 0; complex64 looks at
 * its bytes, so -0 counts. */
static bool ref_nonzero(mlx_dtype t, double re, double im) {
  if (t == MLX_COMPLEX64) return re != 0 || im != 0 || signbit(re) || signbit(im);
  return re != 0;
}

static void ref_reduce(reduce_kind k, mlx_dtype t, const double* re, const double* im,
                       const int* shape, int nd, const bool* red, ref_acc* out, size_t n_out) {
  for (size_t o = 0; o < n_out; o++) {
    ref_acc z = {0, 0, 0, 0, 0};
    if (k == REDUCE_PROD) z.re = 1, z.bits = 1, z.mag = 1;
    if (k == REDUCE_AND) z.re = 1;
    out[o] = z;
  }
  size_t n = shape_size(shape, nd);
  for (size_t i = 0; i < n; i++) {
    ref_acc* a = &out[out_index(i, shape, nd, red)];
    double xr = re[i], xi = im[i];
    uint64_t xb = (uint64_t)(int64_t)xr;
    switch (k) {
      case REDUCE_SUM:
        a->re += xr, a->im += xi, a->bits += xb, a->mag += hypot(xr, xi);
        break;
      case REDUCE_PROD: {
        double r = a->re * xr - a->im * xi, m = a->re * xi + a->im * xr;
        a->re = r, a->im = m, a->bits *= xb, a->mag *= hypot(xr, xi);
        break;
      }
      case REDUCE_MAX:
      case REDUCE_MIN: {
        bool better = k == REDUCE_MAX ? lex_gt(xr, xi, a->re, a->im) : lex_gt(a->re, a->im, xr, xi);
        if (a->count == 0 || (!isnan(a->re) && (isnan(xr) || isnan(xi) || better)))
          a->re = xr, a->im = xi;
        break;
      }
      case REDUCE_AND: a->re = a->re && ref_nonzero(t, xr, xi); break;
      case REDUCE_OR: a->re = a->re || ref_nonzero(t, xr, xi); break;
      default: break;
    }
    a->count++;
  }
}

static mlx_dtype sum_dtype(mlx_dtype t) {
  if (t == MLX_BOOL) return MLX_INT32;
  if (is_int(t)) {
    if (is_signed(t)) return mlx_dtype_size(t) <= 4 ? MLX_INT32 : MLX_INT64;
    return mlx_dtype_size(t) <= 4 ? MLX_UINT32 : MLX_UINT64;
  }
  return t;
}

/* Compares output element o of dtype ot with the reference. */
static bool check_reduced(reduce_kind k, mlx_dtype ot, const void* bytes, size_t o,
                          const ref_acc* r) {
  if (is_int(ot) || ot == MLX_BOOL) {
    uint64_t got = decode_bits(bytes, ot, o);
    if (k == REDUCE_SUM || k == REDUCE_PROD) return got == wrap_bits(ot, r->bits);
    return got == wrap_bits(ot, (uint64_t)(int64_t)r->re);
  }
  double re, im;
  decode(bytes, ot, o, &re, &im);
  if (k == REDUCE_MAX || k == REDUCE_MIN) {
    if (isnan(r->re) || isnan(r->im)) return isnan(re);
    return re == r->re && im == r->im;
  }
  double u_out = unit_roundoff(ot), u_acc = ot == MLX_FLOAT64 ? 0x1p-53 : 0x1p-24;
  double scale = k == REDUCE_SUM ? r->mag : r->mag + hypot(r->re, r->im);
  double tol = 2 * u_out * hypot(r->re, r->im) + (double)(r->count + 2) * u_acc * scale + 1e-300;
  return close_to(re, r->re, tol) && close_to(im, r->im, tol);
}

/* ---- sum, prod, max, min, all, any on random inputs ---- */

static void check_reduce_case(reduce_kind k, mlx_array a, const int* axes, int n, bool whole,
                              bool keepdims) {
  mlx_dtype t = mlx_array_dtype(a);
  int nd = (int)mlx_array_ndim(a);
  const int* shape = mlx_array_shape(a);
  bool red[8];
  mark_axes(nd, axes, n, red);
  const char* name = reduce_api[k].name;
  mlx_array r = mlx_array_new();
  /* max/min of an empty axis is an error */
  int empty_axis = -1;
  for (int d = 0; d < nd; d++)
    if (red[d] && shape[d] == 0 && empty_axis < 0) empty_axis = d;
  if ((k == REDUCE_MAX || k == REDUCE_MIN) && empty_axis >= 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "[%s] Cannot %s reduce over axis %d with size 0.", name, name,
             empty_axis);
    EXPECT_ERROR(call_forms(&reduce_api[k], &r, a, axes, n, whole, keepdims), msg);
    mlx_array_free(r);
    return;
  }
  CHECK_OK(call_forms(&reduce_api[k], &r, a, axes, n, whole, keepdims));
  mlx_dtype want = t;
  if (k == REDUCE_AND || k == REDUCE_OR) want = MLX_BOOL;
  else if ((k == REDUCE_SUM || k == REDUCE_PROD) && n > 0) want = sum_dtype(t);
  int oshape[8];
  int ond = out_shape_of(shape, nd, red, keepdims, oshape);
  CHECK_MSG(mlx_array_dtype(r) == want, "%s of %s gave %s", name, dtype_name(t),
            dtype_name(mlx_array_dtype(r)));
  CHECK_MSG(test_shape_is(r, oshape, ond), "%s of %s: wrong shape (ndim %d)", name,
            dtype_name(t), (int)mlx_array_ndim(r));
  double *re, *im;
  read_values(a, &re, &im);
  size_t n_out = shape_size(oshape, ond);
  ref_acc* ref = calloc(n_out ? n_out : 1, sizeof *ref);
  ref_reduce(k, t, re, im, shape, nd, red, ref, n_out);
  void* bytes = raw_bytes(r);
  int bad = 0;
  for (size_t o = 0; o < n_out && mlx_array_dtype(r) == want; o++) {
    if (!check_reduced(k, want, bytes, o, &ref[o]) && bad++ < 3) {
      double gr, gi;
      decode(bytes, want, o, &gr, &gi);
      CHECK_MSG(0, "%s of %s [%zu]: got %.17g%+.17gi, want %.17g%+.17gi (n=%d axes)", name,
                dtype_name(t), o, gr, gi, ref[o].re, ref[o].im, n);
    }
  }
  CHECK(bad == 0);
  free(bytes);
  free(ref);
  free(re);
  free(im);
  mlx_array_free(r);
}

static void test_reductions_random(void) {
  for (int di = 0; di < N_DTYPES; di++) {
    mlx_dtype t = all_dtypes[di];
    for (int trial = 0; trial < 40; trial++) {
      int shape[8], axes[8];
      bool whole;
      int nd = random_shape(shape, true);
      int n = random_axes(nd, axes, &whole);
      layout_kind vk = (layout_kind)rand_int(0, 3);
      for (int k = 0; k < REDUCE_KIND_COUNT; k++) {
        /* products of floats stay near 1; of integers, anything (wraps) */
        bool prod = k == REDUCE_PROD;
        mlx_array a = make_view(vk, t, shape, nd, prod ? 0.5 : -3, prod ? 1.5 : 3,
                                prod ? -9 : -60, prod ? 9 : 60);
        check_reduce_case((reduce_kind)k, a, axes, n, whole, rand_int(0, 1));
        mlx_array_free(a);
      }
    }
  }
}

/* ---- special cases of the axis reductions ---- */

static void test_reduce_special_values(void) {
  int three = 3, two = 2;
  mlx_array r = mlx_array_new();

  /* NaN propagates through max and min wherever it sits */
  for (int pos = 0; pos < 3; pos++) {
    double v[3] = {1, 5, -2};
    v[pos] = NAN;
    mlx_dtype ts[] = {MLX_FLOAT16, MLX_BFLOAT16, MLX_FLOAT32, MLX_FLOAT64};
    for (int i = 0; i < 4; i++) {
      mlx_array a = make(ts[i], &three, 1, v, NULL);
      CHECK_OK(mlx_max(&r, a, false, test_stream));
      CHECK_MSG(isnan(scalar_of(r)), "max of %s with NaN at %d", dtype_name(ts[i]), pos);
      CHECK_OK(mlx_min(&r, a, false, test_stream));
      CHECK_MSG(isnan(scalar_of(r)), "min of %s with NaN at %d", dtype_name(ts[i]), pos);
      /* argmax: NaN wins only as the first element (MLX compares with >) */
      CHECK_OK(mlx_argmax(&r, a, false, test_stream));
      double want = pos == 0 ? 0 : (pos == 1 ? 0 : 1);
      CHECK_MSG(scalar_of(r) == want, "argmax of %s with NaN at %d: %g", dtype_name(ts[i]),
                pos, scalar_of(r));
      CHECK_OK(mlx_argmin(&r, a, false, test_stream));
      want = pos == 0 ? 0 : 2;
      if (pos == 2) want = 0;
      CHECK_MSG(scalar_of(r) == want, "argmin of %s with NaN at %d: %g", dtype_name(ts[i]),
                pos, scalar_of(r));
      mlx_array_free(a);
    }
  }

  /* all/any: -0.0 is false for floats, true for complex64 (MLX tests its
   * bytes); NaN is true */
  {
    double z[2] = {-0.0, -0.0}, zi[2] = {0, 0};
    mlx_array f = make(MLX_FLOAT32, &two, 1, z, NULL);
    mlx_array h = make(MLX_FLOAT16, &two, 1, z, NULL);
    mlx_array c = make(MLX_COMPLEX64, &two, 1, z, zi);
    CHECK_OK(mlx_any(&r, f, false, test_stream));
    CHECK(scalar_of(r) == 0);
    CHECK_OK(mlx_any(&r, h, false, test_stream));
    CHECK(scalar_of(r) == 0);
    CHECK_OK(mlx_all(&r, c, false, test_stream));
    CHECK(scalar_of(r) == 1);
    double nan2[2] = {NAN, 1};
    mlx_array n = make(MLX_FLOAT32, &two, 1, nan2, NULL);
    CHECK_OK(mlx_all(&r, n, false, test_stream));
    CHECK(scalar_of(r) == 1);
    mlx_array_free(f);
    mlx_array_free(h);
    mlx_array_free(c);
    mlx_array_free(n);
  }

  /* integer sums and products wrap as MLX's 32/64-bit accumulators do */
  {
    double big[2] = {2147483647, 1};
    mlx_array a = make(MLX_INT32, &two, 1, big, NULL);
    CHECK_OK(mlx_sum(&r, a, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT32 && scalar_of(r) == -2147483648.0);
    mlx_array_free(a);
    double u8[3] = {255, 255, 255};
    a = make(MLX_UINT8, &three, 1, u8, NULL);
    CHECK_OK(mlx_sum(&r, a, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_UINT32 && scalar_of(r) == 765);
    CHECK_OK(mlx_prod(&r, a, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_UINT32 && scalar_of(r) == 16581375);
    mlx_array_free(a);
    double i8[3] = {-100, -100, -100};
    a = make(MLX_INT8, &three, 1, i8, NULL);
    CHECK_OK(mlx_sum(&r, a, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT32 && scalar_of(r) == -300);
    CHECK_OK(mlx_prod(&r, a, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT32 && scalar_of(r) == -1000000);
    mlx_array_free(a);
    double u32[2] = {4000000000.0, 4000000000.0};
    a = make(MLX_UINT32, &two, 1, u32, NULL);
    CHECK_OK(mlx_sum(&r, a, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_UINT32 && scalar_of(r) == 8000000000.0 - 4294967296.0);
    mlx_array_free(a);
    double b[3] = {1, 1, 0};
    a = make(MLX_BOOL, &three, 1, b, NULL);
    CHECK_OK(mlx_sum(&r, a, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT32 && scalar_of(r) == 2);
    CHECK_OK(mlx_max(&r, a, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_BOOL && scalar_of(r) == 1);
    CHECK_OK(mlx_min(&r, a, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_BOOL && scalar_of(r) == 0);
    mlx_array_free(a);
  }

  /* no axes: sum, prod and min return the input itself (dtype kept); all
   * and any cast to bool; a 0-d array's whole-array sum is itself */
  {
    double v[3] = {1, 2, 3};
    mlx_array a = make(MLX_INT8, &three, 1, v, NULL);
    CHECK_OK(mlx_sum_axes(&r, a, NULL, 0, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT8 && r.ctx == a.ctx);
    CHECK_OK(mlx_prod_axes(&r, a, NULL, 0, true, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT8);
    CHECK_OK(mlx_min_axes(&r, a, NULL, 0, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT8);
    CHECK_OK(mlx_any_axes(&r, a, NULL, 0, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_BOOL && test_shape_is(r, &three, 1));
    mlx_array s = make(MLX_INT16, NULL, 0, v, NULL);
    CHECK_OK(mlx_sum(&r, s, true, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT16 && mlx_array_ndim(r) == 0);
    /* only size-1 axes: the sum is a cast (widened) */
    int one_shape[2] = {1, 3};
    mlx_array o = make(MLX_INT8, one_shape, 2, v, NULL);
    int ax0 = 0;
    CHECK_OK(mlx_sum_axes(&r, o, &ax0, 1, false, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT32 && test_shape_is(r, &three, 1));
    CHECK_OK(mlx_max_axes(&r, o, &ax0, 1, true, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_INT8 && test_shape_is(r, one_shape, 2));
    mlx_array_free(a);
    mlx_array_free(s);
    mlx_array_free(o);
  }

  /* empty reductions: sum 0, prod 1, all true, any false, mean NaN */
  {
    int shape[2] = {3, 0};
    mlx_array e = make(MLX_FLOAT32, shape, 2, NULL, NULL);
    int ax = 1;
    CHECK_OK(mlx_sum_axes(&r, e, &ax, 1, false, test_stream));
    double *re, *im;
    read_values(r, &re, &im);
    CHECK(test_shape_is(r, &three, 1) && re[0] == 0 && re[2] == 0);
    free(re);
    free(im);
    CHECK_OK(mlx_prod(&r, e, false, test_stream));
    CHECK(scalar_of(r) == 1);
    CHECK_OK(mlx_all(&r, e, false, test_stream));
    CHECK(scalar_of(r) == 1);
    CHECK_OK(mlx_any(&r, e, false, test_stream));
    CHECK(scalar_of(r) == 0);
    CHECK_OK(mlx_mean(&r, e, false, test_stream));
    CHECK(isnan(scalar_of(r)));
    /* reducing the non-empty axis of an empty array is fine for max */
    ax = 0;
    CHECK_OK(mlx_max_axes(&r, e, &ax, 1, false, test_stream));
    CHECK(mlx_array_size(r) == 0 && mlx_array_ndim(r) == 1);
    mlx_array_free(e);
  }

  /* complex max/min order lexicographically */
  {
    double re[3] = {1, 1, 0.5}, im[3] = {-2, 3, 9};
    mlx_array c = make(MLX_COMPLEX64, &three, 1, re, im);
    CHECK_OK(mlx_max(&r, c, false, test_stream));
    double *gr, *gi;
    read_values(r, &gr, &gi);
    CHECK(gr[0] == 1 && gi[0] == 3);
    free(gr);
    free(gi);
    CHECK_OK(mlx_argmin(&r, c, false, test_stream));
    CHECK(scalar_of(r) == 2);
    mlx_array_free(c);
  }
  mlx_array_free(r);
}

/* ---- mean, var, std ---- */

static void test_mean_var_std_random(void) {
  for (int di = 0; di < N_DTYPES; di++) {
    mlx_dtype t = all_dtypes[di];
    for (int trial = 0; trial < 25; trial++) {
      int shape[8], axes[8], oshape[8];
      bool whole, red[8];
      int nd = random_shape(shape, true);
      int n = random_axes(nd, axes, &whole);
      bool keepdims = rand_int(0, 1);
      int ddof = rand_int(0, 2);
      mlx_array a = make_view((layout_kind)rand_int(0, 3), t, shape, nd, -2, 2, -20, 20);
      mark_axes(nd, axes, n, red);
      int ond = out_shape_of(shape, nd, red, keepdims, oshape);
      size_t n_out = shape_size(oshape, ond);
      double *re, *im;
      read_values(a, &re, &im);
      /* reference moments per output */
      double* m_re = calloc(n_out ? n_out : 1, sizeof(double));
      double* m_im = calloc(n_out ? n_out : 1, sizeof(double));
      double* var = calloc(n_out ? n_out : 1, sizeof(double));
      double* scale = calloc(n_out ? n_out : 1, sizeof(double));
      size_t size = shape_size(shape, nd), count = n_out ? size / n_out : 0;
      if (n_out && size == 0) count = 0;
      for (size_t i = 0; i < size; i++) {
        size_t o = out_index(i, shape, nd, red);
        m_re[o] += re[i] / (double)count;
        m_im[o] += im[i] / (double)count;
      }
      for (size_t i = 0; i < size; i++) {
        size_t o = out_index(i, shape, nd, red);
        double dr = re[i] - m_re[o], dm = im[i] - m_im[o];
        var[o] += dr * dr + dm * dm;
        scale[o] += (hypot(re[i], im[i]) + hypot(m_re[o], m_im[o])) *
                    (hypot(re[i], im[i]) + hypot(m_re[o], m_im[o]));
      }
      mlx_dtype ft = at_least_float(t);
      double u = unit_roundoff(ft), ua = ft == MLX_FLOAT64 ? 0x1p-53 : 0x1p-24;

      mlx_array r = mlx_array_new();
      CHECK_OK(call_forms(&mean_api, &r, a, axes, n, whole, keepdims));
      CHECK(mlx_array_dtype(r) == ft && test_shape_is(r, oshape, ond));
      double *gr, *gi;
      read_values(r, &gr, &gi);
      for (size_t o = 0; o < n_out && count > 0; o++) {
        double mag = 0;
        for (size_t i = 0; i < size; i++)
          if (out_index(i, shape, nd, red) == o) mag += hypot(re[i], im[i]);
        double tol = 4 * u * hypot(m_re[o], m_im[o]) + (double)(count + 2) * ua * mag / (double)count +
                     2 * u * mag / (double)count;
        CHECK_MSG(close_to(gr[o], m_re[o], tol) && close_to(gi[o], m_im[o], tol),
                  "mean of %s [%zu]: %.9g vs %.9g", dtype_name(t), o, gr[o], m_re[o]);
      }
      free(gr);
      free(gi);

      /* var and std: complex64 gives float32 */
      mlx_dtype vt = ft == MLX_COMPLEX64 ? MLX_FLOAT32 : ft;
      for (int which = 0; which < 2; which++) {
        int rc;
        if (whole) rc = (which ? mlx_std : mlx_var)(&r, a, keepdims, ddof, test_stream);
        else if (n == 1 && rand_int(0, 1))
          rc = (which ? mlx_std_axis : mlx_var_axis)(&r, a, axes[0], keepdims, ddof, test_stream);
        else
          rc = (which ? mlx_std_axes : mlx_var_axes)(&r, a, axes, (size_t)n, keepdims, ddof,
                                                     test_stream);
        CHECK_MSG(rc == 0, "%s failed: %s", which ? "std" : "var", test_last_error);
        CHECK(mlx_array_dtype(r) == vt && test_shape_is(r, oshape, ond));
        read_values(r, &gr, &gi);
        for (size_t o = 0; o < n_out && count > 0; o++) {
          double denom = (double)count - ddof;
          double want = denom > 0 ? var[o] / denom : (var[o] > 0 ? INFINITY : NAN);
          double s = denom > 0 ? scale[o] / denom : 0;
          double tol = (16 * u + 4.0 * (double)count * ua) * s + 1e-30;
          if (which) {
            /* sqrt halves relative error; near zero, an absolute bound */
            want = sqrt(want);
            tol = sqrt(tol) + 4 * u * want;
          }
          if (denom <= 0 && which == 0 && var[o] == 0) want = NAN;
          if (denom <= 0 && which == 1 && var[o] == 0) want = NAN;
          bool ok = denom > 0 ? close_to(gr[o], want, tol) : (isnan(want) ? isnan(gr[o]) : gr[o] == want);
          CHECK_MSG(ok, "%s of %s (ddof %d, count %zu) [%zu]: %.9g vs %.9g",
                    which ? "std" : "var", dtype_name(t), ddof, count, o, gr[o], want);
        }
        free(gr);
        free(gi);
      }
      mlx_array_free(r);
      free(re);
      free(im);
      free(m_re);
      free(m_im);
      free(var);
      free(scale);
      mlx_array_free(a);
    }
  }
}

/* ---- argmax, argmin ---- */

static void test_argreduce_random(void) {
  for (int di = 0; di < N_DTYPES; di++) {
    mlx_dtype t = all_dtypes[di];
    for (int trial = 0; trial < 25; trial++) {
      int shape[8];
      int nd = random_shape(shape, false);
      if (nd == 0) continue;
      int axis = rand_int(0, nd - 1);
      int pass_axis = rand_int(0, 1) ? axis - nd : axis;
      bool keepdims = rand_int(0, 1);
      /* few distinct values, so ties are common: the first one wins */
      mlx_array a = make_view((layout_kind)rand_int(0, 3), t, shape, nd, -2, 2, -3, 3);
      if (is_float(t) || t == MLX_COMPLEX64) {
        /* round to a coarse grid for ties */
        double *re, *im;
        read_values(a, &re, &im);
        size_t sz = shape_size(shape, nd);
        for (size_t i = 0; i < sz; i++) re[i] = round(re[i] * 2) / 2, im[i] = round(im[i]);
        mlx_array_free(a);
        a = make(t, shape, nd, re, im);
        free(re);
        free(im);
      }
      double *re, *im;
      read_values(a, &re, &im);
      bool red[8];
      mark_axes(nd, &axis, 1, red);
      int oshape[8];
      int ond = out_shape_of(shape, nd, red, keepdims, oshape);
      size_t n_out = shape_size(oshape, ond), size = shape_size(shape, nd);
      for (int kind = 0; kind < 2; kind++) {
        mlx_array r = mlx_array_new();
        CHECK_OK((kind ? mlx_argmin_axis : mlx_argmax_axis)(&r, a, pass_axis, keepdims,
                                                            test_stream));
        CHECK(mlx_array_dtype(r) == MLX_UINT32 && test_shape_is(r, oshape, ond));
        double* best_re = calloc(n_out, sizeof(double));
        double* best_im = calloc(n_out, sizeof(double));
        double* best_i = calloc(n_out, sizeof(double));
        bool* seen = calloc(n_out, sizeof(bool));
        for (size_t i = 0; i < size; i++) {
          size_t o = out_index(i, shape, nd, red);
          size_t pos = 0, rem = i;
          for (int d = nd - 1; d >= 0; d--) {
            if (d == axis) pos = rem % (size_t)shape[d];
            rem /= (size_t)shape[d];
          }
          bool better = kind ? lex_gt(best_re[o], best_im[o], re[i], im[i])
                             : lex_gt(re[i], im[i], best_re[o], best_im[o]);
          /* row-major order visits each output's axis in order */
          if (!seen[o] || better) {
            best_re[o] = re[i], best_im[o] = im[i], best_i[o] = (double)pos;
            seen[o] = true;
          }
        }
        double *gr, *gi;
        read_values(r, &gr, &gi);
        for (size_t o = 0; o < n_out; o++)
          CHECK_MSG(gr[o] == best_i[o], "arg%s of %s [%zu]: %g vs %g", kind ? "min" : "max",
                    dtype_name(t), o, gr[o], best_i[o]);
        /* whole-array form: index into the flattened array */
        CHECK_OK((kind ? mlx_argmin : mlx_argmax)(&r, a, keepdims, test_stream));
        CHECK(mlx_array_ndim(r) == (keepdims ? (size_t)nd : 0) && mlx_array_size(r) == 1);
        size_t want = 0;
        for (size_t i = 1; i < size; i++) {
          bool better = kind ? lex_gt(re[want], im[want], re[i], im[i])
                             : lex_gt(re[i], im[i], re[want], im[want]);
          if (better) want = i;
        }
        CHECK_MSG(scalar_of(r) == (double)want, "whole arg%s of %s", kind ? "min" : "max",
                  dtype_name(t));
        free(gr);
        free(gi);
        free(best_re);
        free(best_im);
        free(best_i);
        free(seen);
        mlx_array_free(r);
      }
      free(re);
      free(im);
      mlx_array_free(a);
    }
  }
}

/* ---- large inputs: the threaded paths ---- */

static void check_large(reduce_kind k, const int* shape, int nd, const int* axes, int n,
                        mlx_dtype t) {
  mlx_array a = make_view(LAYOUT_CONTIGUOUS, t, shape, nd, -1, 1, -100, 100);
  check_reduce_case(k, a, axes, n, false, false);
  mlx_array_free(a);
}

static void test_large_inputs(void) {
  int flat = 3 * 1000 * 1000 + 7;
  int ax0 = 0, ax1 = 1, ax_last = -1;
  /* a full reduction, split into pieces merged in order */
  check_large(REDUCE_SUM, &flat, 1, &ax0, 1, MLX_FLOAT32);
  check_large(REDUCE_MAX, &flat, 1, &ax0, 1, MLX_FLOAT32);
  check_large(REDUCE_SUM, &flat, 1, &ax0, 1, MLX_FLOAT16);
  check_large(REDUCE_SUM, &flat, 1, &ax0, 1, MLX_INT32);
  check_large(REDUCE_OR, &flat, 1, &ax0, 1, MLX_UINT8);
  /* column reductions: few wide columns, many rows (split), and many
   * columns (blocks over threads) */
  int tall[2] = {300000, 5}, wide[2] = {300, 10001};
  check_large(REDUCE_SUM, tall, 2, &ax0, 1, MLX_FLOAT32);
  check_large(REDUCE_MIN, tall, 2, &ax0, 1, MLX_INT16);
  check_large(REDUCE_SUM, wide, 2, &ax0, 1, MLX_FLOAT64);
  check_large(REDUCE_PROD, wide, 2, &ax0, 1, MLX_INT64);
  /* many rows */
  check_large(REDUCE_SUM, wide, 2, &ax1, 1, MLX_BFLOAT16);
  check_large(REDUCE_MAX, wide, 2, &ax_last, 1, MLX_FLOAT32);
  /* argmax down columns and along rows of a large array */
  double* v = malloc(sizeof(double) * 300 * 10001);
  for (int i = 0; i < 300 * 10001; i++) v[i] = (double)(((int64_t)i * 7919) % 1000003);
  mlx_array a = make(MLX_FLOAT32, wide, 2, v, NULL);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_argmax_axis(&r, a, 0, false, test_stream));
  double *gr, *gi;
  read_values(r, &gr, &gi);
  int bad = 0;
  for (int j = 0; j < 10001; j++) {
    int best = 0;
    for (int i = 1; i < 300; i++)
      if ((float)v[i * 10001 + j] > (float)v[best * 10001 + j]) best = i;
    bad += gr[j] != best;
  }
  CHECK(bad == 0);
  free(gr);
  free(gi);
  mlx_array_free(r);
  mlx_array_free(a);
  free(v);
}

/* ---- errors ---- */

static void test_errors(void) {
  int shape[2] = {2, 3};
  double v[6] = {1, 2, 3, 4, 5, 6};
  mlx_array a = make(MLX_FLOAT32, shape, 2, v, NULL);
  mlx_array s0 = make(MLX_FLOAT32, NULL, 0, v, NULL);
  int zs[2] = {2, 0};
  mlx_array e = make(MLX_FLOAT32, zs, 2, NULL, NULL);
  mlx_array r = mlx_array_new();
  int dup[2] = {0, 0}, dupn[2] = {1, -1}, bad_neg = -3;

  for (int k = 0; k < REDUCE_KIND_COUNT; k++) {
    EXPECT_ERROR(reduce_api[k].axis(&r, a, 2, false, test_stream),
                 "Invalid axis 2 for array with 2 dimensions.");
    EXPECT_ERROR(reduce_api[k].axes(&r, a, &bad_neg, 1, false, test_stream),
                 "Invalid axis -3 for array with 2 dimensions.");
    EXPECT_ERROR(reduce_api[k].axes(&r, a, dup, 2, false, test_stream),
                 "Duplicate axes detected in reduction.");
    EXPECT_ERROR(reduce_api[k].axes(&r, a, dupn, 2, true, test_stream),
                 "Duplicate axes detected in reduction.");
    EXPECT_ERROR(reduce_api[k].axis(&r, s0, 0, false, test_stream),
                 "Invalid axis 0 for array with 0 dimensions.");
  }
  EXPECT_ERROR(mlx_max(&r, e, false, test_stream), "[max] Cannot max reduce over axis 1 with size 0.");
  EXPECT_ERROR(mlx_min_axis(&r, e, -1, true, test_stream),
               "[min] Cannot min reduce over axis 1 with size 0.");
  /* mean checks its axes itself first */
  EXPECT_ERROR(mlx_mean_axis(&r, a, 2, false, test_stream),
               "[mean] axis 2 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_mean_axis(&r, a, -3, false, test_stream),
               "[mean] axis -3 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_mean_axes(&r, a, dup, 2, false, test_stream),
               "Duplicate axes detected in reduction.");
  EXPECT_ERROR(mlx_var_axis(&r, a, 5, false, 0, test_stream),
               "[mean] axis 5 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_std_axes(&r, a, dup, 2, false, 1, test_stream),
               "Duplicate axes detected in reduction.");
  /* argmax/argmin */
  EXPECT_ERROR(mlx_argmax_axis(&r, e, 0, false, test_stream),
               "[argmax] Cannot argmax reduce zero size array.");
  EXPECT_ERROR(mlx_argmin(&r, e, false, test_stream),
               "[argmin] Cannot argmin reduce zero size array.");
  EXPECT_ERROR(mlx_argmax_axis(&r, a, 2, false, test_stream),
               "Invalid axis 2 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_argmin_axis(&r, a, -3, true, test_stream),
               "Invalid axis -3 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_argmax(&r, s0, true, test_stream),
               "cannot create std::vector larger than max_size()");
  CHECK_OK(mlx_argmax(&r, s0, false, test_stream));
  CHECK(mlx_array_ndim(r) == 0 && scalar_of(r) == 0);
  /* the API layer's own checks */
  EXPECT_ERROR(mlx_sum_axes(&r, a, NULL, 2, false, test_stream), "[sum] The axes pointer is NULL.");
  EXPECT_ERROR(mlx_sum(NULL, a, false, test_stream), "[sum] The result pointer is NULL.");
  mlx_array empty = mlx_array_new();
  EXPECT_ERROR_PREFIX(mlx_max(&r, empty, false, test_stream), "[max]");
  mlx_array_free(r);
  mlx_array_free(a);
  mlx_array_free(s0);
  mlx_array_free(e);
}

int main(void) {
  test_init();
  test_reductions_random();
  test_reduce_special_values();
  test_mean_var_std_random();
  test_argreduce_random();
  test_large_inputs();
  test_errors();
  return test_finish("test_reduce");
}
