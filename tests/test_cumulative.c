/* test_cumulative.c - cumsum, cumprod, cummax, cummin and logcumsumexp
 * through the mlx-c API.
 *
 * What it proves:
 * - on random shapes (0-d excluded, size-1 and size-0 axes), random axes
 *   (negative too), forward and reversed, inclusive and exclusive, every
 *   dtype, and contiguous, transposed, sliced (reversed axis) and broadcast
 *   inputs, each op gives MLX's shape and dtype and the value of a
 *   double-precision reference: exactly for integers (wrapping in the
 *   input's width), bool, max and min; within rounding bounds for float
 *   sums, products and logcumsumexp;
 * - MLX's rules: cumsum of bool is int32, cumprod of bool is a logical
 *   and, exclusive scans start from the identity (0, 1, -inf or the
 *   type's lowest, +inf or its highest), float cummax/cummin turn NaN
 *   sticky, logcumsumexp of integers is their running max, complex
 *   max/min order lexicographically, an inclusive scan keeps -0.0 first;
 * - large inputs along either axis (the threaded row and column loops)
 *   match the reference;
 * - every axis error reports MLX's message. */
#include <complex.h>
#include <stdlib.h>

#include "ops/reduce.h"
#include "reduce_util.h"

typedef int (*scan_api)(mlx_array*, const mlx_array, int, bool, bool, const mlx_stream);

static const struct {
  const char* name;
  scan_api fn;
} scans[SCAN_KIND_COUNT] = {
    [SCAN_SUM] = {"cumsum", mlx_cumsum},       [SCAN_PROD] = {"cumprod", mlx_cumprod},
    [SCAN_MAX] = {"cummax", mlx_cummax},       [SCAN_MIN] = {"cummin", mlx_cummin},
    [SCAN_LOGADDEXP] = {"logcumsumexp", mlx_logcumsumexp},
};

/* ---- the reference ---- */

typedef struct acc {
  double re, im;
  uint64_t bits; /* integers and bool: the exact value, wrapping mod 2^64 */
  double mag;    /* sum (or product) of |x|: the rounding scale */
} acc;

/* The lowest (or highest) value of an integer or bool dtype, as bits. */
static uint64_t int_limit(mlx_dtype t, bool highest) {
  if (t == MLX_BOOL) return highest;
  int bits = 8 * (int)mlx_dtype_size(t);
  if (is_signed(t)) {
    uint64_t lo = (uint64_t)1 << (bits - 1);
    return highest ? lo - 1 : wrap_bits(t, lo);
  }
  return highest ? wrap_bits(MLX_UINT64, bits == 64 ? ~0ull : (1ull << bits) - 1) : 0;
}

static double bits_value(mlx_dtype t, uint64_t b) {
  return is_signed(t) ? (double)(int64_t)b : (double)b;
}

static acc identity(scan_kind k, mlx_dtype t) {
  acc a = {0, 0, 0, 0};
  bool integral = is_int(t) || t == MLX_BOOL;
  switch (k) {
    case SCAN_PROD: a.re = 1, a.bits = 1, a.mag = 1; break;
    case SCAN_MAX:
    case SCAN_LOGADDEXP:
    case SCAN_MIN: {
      bool hi = k == SCAN_MIN;
      if (integral) a.bits = int_limit(t, hi), a.re = bits_value(t, a.bits);
      else if (t != MLX_COMPLEX64) a.re = hi ? INFINITY : -INFINITY;
      break;
    }
    default: break;
  }
  return a;
}

static bool lex_lt(double ar, double ai, double br, double bi) {
  return ar < br || (ar == br && ai < bi);
}

static acc step(scan_kind k, mlx_dtype t, acc a, double xr, double xi) {
  bool integral = is_int(t) || t == MLX_BOOL;
  uint64_t xb = (uint64_t)(int64_t)xr;
  acc r = a;
  switch (k) {
    case SCAN_SUM:
      r.re += xr, r.im += xi, r.bits += xb, r.mag += hypot(xr, xi);
      break;
    case SCAN_PROD:
      r.re = a.re * xr - a.im * xi, r.im = a.re * xi + a.im * xr;
      r.bits *= xb, r.mag *= hypot(xr, xi);
      if (t == MLX_BOOL) r.bits = a.bits && xb;
      break;
    case SCAN_MAX:
    case SCAN_MIN: {
      if (t != MLX_COMPLEX64 && !integral && (isnan(a.re) || isnan(xr))) {
        r.re = NAN;
        break;
      }
      bool x_less = lex_lt(xr, xi, a.re, a.im);
      bool take = k == SCAN_MAX ? !x_less : x_less;
      if (take) r.re = xr, r.im = xi, r.bits = xb;
      break;
    }
    case SCAN_LOGADDEXP:
      if (integral) return step(SCAN_MAX, t, a, xr, xi);
      if (t == MLX_COMPLEX64) {
        /* MLX's formula: max + log1p(exp(min - max)), lexicographic order */
        bool a_gt = lex_lt(xr, xi, a.re, a.im);
        double mr = a_gt ? a.re : xr, mi = a_gt ? a.im : xi;
        double nr = a_gt ? xr : a.re, ni = a_gt ? xi : a.im;
        if ((nr == -INFINITY && ni == 0) || (mr == INFINITY && mi == 0)) {
          r.re = mr, r.im = mi;
        } else {
          double complex l = clog(1 + cexp((nr - mr) + (ni - mi) * I));
          r.re = mr + creal(l), r.im = mi + cimag(l);
        }
      } else {
        double mx = isnan(a.re) ? a.re : fmax(a.re, xr), mn = isnan(a.re) ? a.re : fmin(a.re, xr);
        if (isnan(xr)) mx = mn = NAN;
        r.re = (mn == -INFINITY || mx == INFINITY) ? mx : mx + log1p(exp(mn - mx));
      }
      r.mag += 1;
      break;
    default: break;
  }
  return r;
}

/* Checks scan k of a (along axis) given the op's output r. */
static void check_scan(scan_kind k, mlx_array a, int axis, bool reverse, bool inclusive,
                       mlx_array r) {
  mlx_dtype t = mlx_array_dtype(a);
  mlx_dtype ot = (k == SCAN_SUM && t == MLX_BOOL) ? MLX_INT32 : t;
  int nd = (int)mlx_array_ndim(a);
  const int* shape = mlx_array_shape(a);
  CHECK_MSG(mlx_array_dtype(r) == ot, "%s of %s gave %s", scans[k].name, dtype_name(t),
            dtype_name(mlx_array_dtype(r)));
  CHECK(test_shape_is(r, shape, nd));
  if (mlx_array_dtype(r) != ot) return;
  double *re, *im;
  read_values(a, &re, &im);
  void* out = raw_bytes(r);
  int ax = axis < 0 ? axis + nd : axis;
  size_t n = (size_t)shape[ax], inner = 1, size = shape_size(shape, nd);
  for (int d = ax + 1; d < nd; d++) inner *= (size_t)shape[d];
  size_t outer = n && inner ? size / (n * inner) : 0;
  double u_out = unit_roundoff(ot), u_acc = ot == MLX_FLOAT64 ? 0x1p-53 : 0x1p-24;
  int bad = 0;
  for (size_t o = 0; o < outer; o++) {
    for (size_t kk = 0; kk < inner; kk++) {
      acc s = identity(k, t);
      for (size_t c = 0; c < n; c++) {
        size_t i = reverse ? n - 1 - c : c;
        size_t idx = (o * n + i) * inner + kk;
        acc want;
        if (inclusive) {
          if (c == 0) {
            s.re = re[idx], s.im = im[idx], s.bits = (uint64_t)(int64_t)re[idx];
            s.mag = k == SCAN_PROD ? hypot(re[idx], im[idx]) : (k == SCAN_SUM ? hypot(re[idx], im[idx]) : 1);
            if (k == SCAN_PROD && t == MLX_BOOL) s.bits = re[idx] != 0;
          } else {
            s = step(k, t, s, re[idx], im[idx]);
          }
          want = s;
        } else {
          want = s;
          s = step(k, t, s, re[idx], im[idx]);
        }
        bool ok;
        if (is_int(ot) || ot == MLX_BOOL) {
          ok = decode_bits(out, ot, idx) == wrap_bits(ot, want.bits);
        } else {
          double gr = 0, gi = 0;
          decode(out, ot, idx, &gr, &gi);
          if (k == SCAN_MAX || k == SCAN_MIN) {
            ok = isnan(want.re) ? isnan(gr) : (gr == want.re && gi == want.im);
          } else {
            double scale = k == SCAN_SUM ? want.mag : hypot(want.re, want.im) + (k == SCAN_PROD ? want.mag : 1);
            double tol = 2 * u_out * hypot(want.re, want.im) + (double)(c + 3) * 4 * u_acc * scale;
            if (ot == MLX_FLOAT16) tol += 0x1p-24;
            ok = close_to(gr, want.re, tol) && close_to(gi, want.im, tol);
            /* inclusive scans copy their first element exactly (-0 stays) */
            if (inclusive && c == 0 && ok) ok = signbit(gr) == signbit(want.re);
          }
          if (!ok && bad < 3)
            fprintf(stderr, "  %s of %s [%zu] (step %zu): got %.17g%+.17gi want %.17g%+.17gi\n",
                    scans[k].name, dtype_name(t), idx, c, gr, gi, want.re, want.im);
        }
        bad += !ok;
      }
    }
  }
  CHECK_MSG(bad == 0, "%s of %s along %d (reverse %d, inclusive %d): %d wrong", scans[k].name,
            dtype_name(t), axis, reverse, inclusive, bad);
  free(out);
  free(re);
  free(im);
}

static void test_scans_random(void) {
  for (int di = 0; di < N_DTYPES; di++) {
    mlx_dtype t = all_dtypes[di];
    for (int trial = 0; trial < 30; trial++) {
      int shape[8];
      int nd = random_shape(shape, true);
      if (nd == 0) continue;
      int axis = rand_int(0, nd - 1);
      if (rand_int(0, 1)) axis -= nd;
      layout_kind lk = (layout_kind)rand_int(0, 3);
      for (int k = 0; k < SCAN_KIND_COUNT; k++) {
        bool prod = k == SCAN_PROD;
        mlx_array a = make_view(lk, t, shape, nd, prod ? 0.5 : -4, prod ? 1.5 : 4,
                                prod ? -3 : -60, prod ? 3 : 60);
        bool reverse = rand_int(0, 1), inclusive = rand_int(0, 1);
        mlx_array r = mlx_array_new();
        CHECK_OK(scans[k].fn(&r, a, axis, reverse, inclusive, test_stream));
        check_scan((scan_kind)k, a, axis, reverse, inclusive, r);
        mlx_array_free(r);
        mlx_array_free(a);
      }
    }
  }
}

/* ---- special values ---- */

static void test_scan_special_values(void) {
  int four = 4;
  mlx_array r = mlx_array_new();
  /* NaN stays once seen in float cummax/cummin, in every float dtype */
  double v[4] = {1, NAN, 3, -1};
  mlx_dtype fts[] = {MLX_FLOAT16, MLX_BFLOAT16, MLX_FLOAT32, MLX_FLOAT64};
  for (int i = 0; i < 4; i++) {
    mlx_array a = make(fts[i], &four, 1, v, NULL);
    for (int k = SCAN_MAX; k <= SCAN_MIN; k++) {
      CHECK_OK(scans[k].fn(&r, a, 0, false, true, test_stream));
      double *re, *im;
      read_values(r, &re, &im);
      CHECK_MSG(re[0] == 1 && isnan(re[1]) && isnan(re[2]) && isnan(re[3]), "%s of %s",
                scans[k].name, dtype_name(fts[i]));
      free(re);
      free(im);
    }
    mlx_array_free(a);
  }
  /* integers wrap in their own width; exclusive max starts at the lowest */
  double i8[4] = {100, 100, -100, 27};
  mlx_array a = make(MLX_INT8, &four, 1, i8, NULL);
  CHECK_OK(mlx_cumsum(&r, a, 0, false, true, test_stream));
  double *re, *im;
  read_values(r, &re, &im);
  CHECK(mlx_array_dtype(r) == MLX_INT8 && re[1] == -56 && re[2] == 100 && re[3] == 127);
  free(re);
  free(im);
  CHECK_OK(mlx_cummax(&r, a, 0, true, false, test_stream));
  read_values(r, &re, &im);
  CHECK(re[3] == -128 && re[2] == 27 && re[1] == 27 && re[0] == 100);
  free(re);
  free(im);
  /* logcumsumexp of integers is a running max (MLX's integer logaddexp) */
  CHECK_OK(mlx_logcumsumexp(&r, a, 0, false, true, test_stream));
  read_values(r, &re, &im);
  CHECK(mlx_array_dtype(r) == MLX_INT8 && re[0] == 100 && re[2] == 100 && re[3] == 100);
  free(re);
  free(im);
  mlx_array_free(a);
  /* bool: cumsum counts (int32), cumprod is a running and */
  double b[4] = {1, 1, 0, 1};
  a = make(MLX_BOOL, &four, 1, b, NULL);
  CHECK_OK(mlx_cumsum(&r, a, 0, false, true, test_stream));
  read_values(r, &re, &im);
  CHECK(mlx_array_dtype(r) == MLX_INT32 && re[3] == 3);
  free(re);
  free(im);
  CHECK_OK(mlx_cumprod(&r, a, 0, false, true, test_stream));
  read_values(r, &re, &im);
  CHECK(mlx_array_dtype(r) == MLX_BOOL && re[1] == 1 && re[2] == 0 && re[3] == 0);
  free(re);
  free(im);
  mlx_array_free(a);
  /* logcumsumexp of floats: -inf is the identity, +inf absorbs */
  double l[4] = {-INFINITY, 0, INFINITY, 1};
  a = make(MLX_FLOAT32, &four, 1, l, NULL);
  CHECK_OK(mlx_logcumsumexp(&r, a, 0, false, true, test_stream));
  read_values(r, &re, &im);
  CHECK(re[0] == -INFINITY && re[1] == 0 && re[2] == INFINITY && re[3] == INFINITY);
  free(re);
  free(im);
  CHECK_OK(mlx_logcumsumexp(&r, a, 0, false, false, test_stream));
  read_values(r, &re, &im);
  CHECK(re[0] == -INFINITY && re[1] == -INFINITY && re[2] == 0);
  free(re);
  free(im);
  mlx_array_free(a);
  /* a 0-size axis and a 0-size other axis give empty results */
  int e[2] = {0, 3};
  a = make(MLX_FLOAT32, e, 2, NULL, NULL);
  CHECK_OK(mlx_cumsum(&r, a, 1, false, true, test_stream));
  CHECK(mlx_array_size(r) == 0 && test_shape_is(r, e, 2));
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- large inputs: rows and columns over threads ---- */

static void test_scan_large(void) {
  int shape[2] = {700, 3001};
  for (int axis = 0; axis < 2; axis++) {
    mlx_array a = make_view(LAYOUT_CONTIGUOUS, MLX_FLOAT32, shape, 2, -1, 1, 0, 0);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_cumsum(&r, a, axis, axis == 1, true, test_stream));
    check_scan(SCAN_SUM, a, axis, axis == 1, true, r);
    CHECK_OK(mlx_cummax(&r, a, axis, false, false, test_stream));
    check_scan(SCAN_MAX, a, axis, false, false, r);
    mlx_array_free(r);
    mlx_array_free(a);
    a = make_view(LAYOUT_TRANSPOSED, MLX_INT32, shape, 2, 0, 0, -1000, 1000);
    r = mlx_array_new();
    CHECK_OK(mlx_cumsum(&r, a, axis, false, axis == 0, test_stream));
    check_scan(SCAN_SUM, a, axis, false, axis == 0, r);
    mlx_array_free(r);
    mlx_array_free(a);
  }
}

/* ---- errors ---- */

static void test_scan_errors(void) {
  int shape[2] = {2, 3};
  double v[6] = {1, 2, 3, 4, 5, 6};
  mlx_array a = make(MLX_FLOAT32, shape, 2, v, NULL);
  mlx_array s0 = make(MLX_FLOAT32, NULL, 0, v, NULL);
  mlx_array r = mlx_array_new();
  for (int k = 0; k < SCAN_KIND_COUNT; k++) {
    char msg[128];
    snprintf(msg, sizeof msg, "[%s] Axis 2 is out of bounds for array with 2 dimensions.",
             scans[k].name);
    EXPECT_ERROR(scans[k].fn(&r, a, 2, false, true, test_stream), msg);
    snprintf(msg, sizeof msg, "[%s] Axis -3 is out of bounds for array with 2 dimensions.",
             scans[k].name);
    EXPECT_ERROR(scans[k].fn(&r, a, -3, true, false, test_stream), msg);
    snprintf(msg, sizeof msg, "[%s] Axis 0 is out of bounds for array with 0 dimensions.",
             scans[k].name);
    EXPECT_ERROR(scans[k].fn(&r, s0, 0, false, true, test_stream), msg);
  }
  EXPECT_ERROR(mlx_cumsum(NULL, a, 0, false, true, test_stream),
               "[cumsum] The result pointer is NULL.");
  mlx_array_free(r);
  mlx_array_free(a);
  mlx_array_free(s0);
}

int main(void) {
  test_init();
  test_scans_random();
  test_scan_special_values();
  test_scan_large();
  test_scan_errors();
  return test_finish("test_cumulative");
}
