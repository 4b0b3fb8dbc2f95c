/* test_misc.c - number_of_elements, the windows (hanning, hamming,
 * blackman, bartlett) and hadamard_transform.
 *
 * What it proves:
 * - number_of_elements multiplies the sizes of the axes (MLX wraps every
 *   axis into range, through unsigned arithmetic), inverts on request
 *   and returns a 0-d array of the requested dtype;
 * - the windows match their formulas computed in double (within a few
 *   float32 ulp of 1, the rounding of MLX's float32 composition), NumPy's
 *   well-known values, and MLX's special sizes (M < 1 empty, M = 1 [1]);
 * - hadamard_transform: the matrices of orders 12, 20, 28 are Hadamard
 *   matrices (H H^T = m I, entries +-1) and are Sloane's (first rows
 *   pinned); every supported row length m * 2^k transforms as
 *   scale * (H_m kron H_2^k) against a double reference, for float32,
 *   float16 and bfloat16 (tolerance by the number of rounded stages),
 *   along the last axis of any layout; integers and complex64 become
 *   float32; the default scale is 1/sqrt(n); rows of one element are only
 *   scaled;
 * - errors: MLX's messages when the op is called (empty arrays, bad axes)
 *   and when it is evaluated (unsupported sizes or float64). */
#include <stdlib.h>

#include "reduce_util.h"

/* ---- number_of_elements ---- */

static void test_number_of_elements(void) {
  static const mlx_dtype types[] = {MLX_FLOAT32, MLX_INT32, MLX_FLOAT16, MLX_UINT8, MLX_FLOAT64,
                                    MLX_BFLOAT16, MLX_INT64, MLX_COMPLEX64};
  for (int trial = 0; trial < 100; trial++) {
    int shape[4], nd = rand_int(1, 4);
    for (int d = 0; d < nd; d++) shape[d] = rand_int(0, 6);
    mlx_array a = make_view(LAYOUT_BROADCAST, MLX_FLOAT32, shape, nd, 0, 1, 0, 0);
    int axes[4], na = rand_int(0, 4);
    double numel = 1;
    for (int i = 0; i < na; i++) {
      /* any axis lands in range: MLX computes (axis + ndim) % ndim in
       * unsigned 64-bit arithmetic */
      axes[i] = rand_int(-3 * nd, 3 * nd);
      numel *= shape[((uint64_t)(int64_t)axes[i] + (uint64_t)nd) % (uint64_t)nd];
    }
    bool inverted = rand_int(0, 1);
    mlx_dtype t = types[trial % 8];
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_number_of_elements(&r, a, axes, (size_t)na, inverted, t, test_stream));
    double want = inverted ? 1.0 / numel : numel;
    double *re, *im;
    CHECK(mlx_array_ndim(r) == 0 && mlx_array_dtype(r) == t);
    read_values(r, &re, &im);
    bool ok;
    if (isinf(want))
      ok = is_float(t) || t == MLX_COMPLEX64 ? isinf(re[0]) : true; /* 1/0 into an integer */
    else
      ok = re[0] == round_to(t, want) && im[0] == 0;
    CHECK_MSG(ok, "number_of_elements %g as %s gave %g", want, dtype_name(t), re[0]);
    free(re);
    free(im);
    mlx_array_free(a);
    mlx_array_free(r);
  }
  int s23[2] = {2, 3};
  mlx_array a = mlx_array_new(), z = mlx_array_new_float(1), r = mlx_array_new();
  CHECK_OK(mlx_zeros(&a, s23, 2, MLX_FLOAT32, test_stream));
  /* -3 with 2 dimensions: (2^64 - 3 + 2) % 2 = axis 1; -4: axis 0 */
  int wraps[2] = {-3, -4}, zero = 0;
  CHECK_OK(mlx_number_of_elements(&r, a, wraps, 1, false, MLX_INT32, test_stream));
  CHECK(mlx_array_eval(r) == 0 && *mlx_array_data_int32(r) == 3);
  CHECK_OK(mlx_number_of_elements(&r, a, wraps + 1, 1, false, MLX_INT32, test_stream));
  CHECK(mlx_array_eval(r) == 0 && *mlx_array_data_int32(r) == 2);
  EXPECT_ERROR(mlx_number_of_elements(&r, z, &zero, 1, false, MLX_INT32, test_stream),
               "[number_of_elements] Can't get the shape for axis 0 from an array with 0 "
               "dimensions.");
  EXPECT_ERROR(mlx_number_of_elements(&r, a, NULL, 1, false, MLX_INT32, test_stream),
               "[number_of_elements] The axes pointer is NULL.");
  EXPECT_ERROR(mlx_number_of_elements(&r, a, &zero, 1, false, (mlx_dtype)99, test_stream),
               "[number_of_elements] Invalid dtype 99.");
  /* no axes: 1 */
  CHECK_OK(mlx_number_of_elements(&r, z, NULL, 0, true, MLX_FLOAT32, test_stream));
  CHECK(mlx_array_eval(r) == 0 && *mlx_array_data_float32(r) == 1.0f);
  mlx_array_free(a);
  mlx_array_free(z);
  mlx_array_free(r);
}

/* ---- windows ---- */

typedef int (*window_fn)(mlx_array*, int, const mlx_stream);

static double window_ref(int kind, int n, int M) {
  double x = 2.0 * M_PI * n / (M - 1);
  switch (kind) {
    case 0: return 0.5 - 0.5 * cos(x);
    case 1: return 0.54 - 0.46 * cos(x);
    case 2: return 0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x);
    default: return 1 - fabs(2.0 * n / (M - 1) - 1);
  }
}

static void test_windows(void) {
  static const struct {
    const char* name;
    window_fn fn;
  } windows[4] = {
      {"hanning", mlx_hanning}, {"hamming", mlx_hamming}, {"blackman", mlx_blackman},
      {"bartlett", mlx_bartlett}};
  static const int sizes[] = {-3, 0, 1, 2, 3, 4, 5, 16, 101, 1000};
  /* NumPy's values for M = 5 */
  static const double five[4][5] = {{0, 0.5, 1, 0.5, 0},
                                    {0.08, 0.54, 1, 0.54, 0.08},
                                    {0, 0.34, 1, 0.34, 0},
                                    {0, 0.5, 1, 0.5, 0}};
  for (int w = 0; w < 4; w++)
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      int M = sizes[i];
      mlx_array r = mlx_array_new();
      CHECK_OK(windows[w].fn(&r, M, test_stream));
      int len = M < 1 ? 0 : M;
      CHECK(test_shape_is(r, &len, 1) && mlx_array_dtype(r) == MLX_FLOAT32);
      double* got = test_to_f64(r);
      bool ok = true;
      for (int n = 0; n < len; n++) {
        double want = M == 1 ? 1 : window_ref(w, n, M);
        /* float32 arguments up to 2 pi and float32 arithmetic */
        ok &= fabs(got[n] - want) <= 2e-6;
        if (M == 5) ok &= fabs(got[n] - five[w][n]) <= 2e-6;
      }
      CHECK_MSG(ok, "%s(%d)", windows[w].name, M);
      free(got);
      mlx_array_free(r);
    }
  mlx_array r = mlx_array_new();
  EXPECT_ERROR(mlx_hanning(NULL, 3, test_stream), "[hanning] The result pointer is NULL.");
  mlx_stream none = {0};
  EXPECT_ERROR(mlx_bartlett(&r, 3, none), "[bartlett] The stream handle is empty.");
  mlx_array_free(r);
}

/* ---- hadamard_transform ---- */

/* Sloane's matrices start with these rows. */
static const char* const first_rows[3][2] = {
    {"+-++++++++++", "--+-+-+-+-+-"},
    {"+----+----++--++-++-", "-+----+---+++---+-++"},
    {"+------++----++-+--+-+--++--", "-+-----+++-----+-+--+-+--++-"}};

/* H_m as the op computes it: column k is the transform of e_k with
 * scale 1. Returns the matrix (m*m, row-major). */
static double* hadamard_from_op(int m) {
  double* h = calloc((size_t)(m * m), sizeof(double));
  float* eye = calloc((size_t)(m * m), sizeof(float));
  for (int k = 0; k < m; k++) eye[k * m + k] = 1;
  int shape[2] = {m, m};
  mlx_array a = test_array_f32(eye, shape, 2), r = mlx_array_new();
  mlx_optional_float one = {1.0f, true};
  CHECK_OK(mlx_hadamard_transform(&r, a, one, test_stream));
  double* y = test_to_f64(r); /* row k: H e_k = column k of H */
  for (int k = 0; y && k < m; k++)
    for (int j = 0; j < m; j++) h[j * m + k] = y[k * m + j];
  free(y);
  free(eye);
  mlx_array_free(a);
  mlx_array_free(r);
  return h;
}

static void test_hadamard_matrices(double* hm[3]) {
  static const int orders[3] = {12, 20, 28};
  for (int o = 0; o < 3; o++) {
    int m = orders[o];
    double* h = hm[o] = hadamard_from_op(m);
    bool ok = true;
    for (int i = 0; i < m * m; i++) ok &= h[i] == 1 || h[i] == -1;
    for (int i = 0; i < m; i++)
      for (int j = 0; j < m; j++) {
        double dot = 0;
        for (int k = 0; k < m; k++) dot += h[i * m + k] * h[j * m + k];
        ok &= dot == (i == j ? m : 0);
      }
    for (int r = 0; r < 2; r++)
      for (int k = 0; k < m; k++) ok &= (first_rows[o][r][k] == '+') == (h[r * m + k] > 0);
    CHECK_MSG(ok, "the Hadamard matrix of order %d", m);
  }
}

/* y = scale * (H_m kron H_p) x for one row of length m * p. */
static void hadamard_ref(const double* x, double* y, int m, int p, const double* hm,
                         double scale) {
  for (int j = 0; j < m; j++)
    for (int i = 0; i < p; i++) {
      double acc = 0;
      for (int k = 0; k < m; k++)
        for (int l = 0; l < p; l++) {
          double sylvester = __builtin_popcount((unsigned)(i & l)) & 1 ? -1 : 1;
          double s = (m == 1 ? 1 : hm[j * m + k]) * sylvester;
          acc += s * x[k * p + l];
        }
      y[j * p + i] = scale * acc;
    }
}

static void test_hadamard_values(double* hm[3]) {
  static const int ms[4] = {1, 12, 20, 28};
  static const mlx_dtype types[] = {MLX_FLOAT32, MLX_FLOAT16, MLX_BFLOAT16, MLX_INT32,
                                    MLX_COMPLEX64, MLX_BOOL};
  for (int trial = 0; trial < 60; trial++) {
    int mi = trial % 4, m = ms[mi], k = rand_int(0, m == 1 ? 9 : 3), p = 1 << k;
    if (m == 1 && p == 1) p = 2;
    int len = m * p, rows = rand_int(1, 3);
    mlx_dtype t = types[trial % 6];
    int shape[3] = {rows, 2, len};
    mlx_array a = make_view((layout_kind)rand_int(0, 3), t, shape, 3, -2, 2, -3, 3);
    bool custom = trial % 3 == 0;
    float sc = custom ? 0.75f : (float)(1.0 / sqrt((double)len));
    mlx_optional_float scale = {sc, custom};
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_hadamard_transform(&r, a, scale, test_stream));
    mlx_dtype out_t = is_float(t) ? t : MLX_FLOAT32;
    CHECK(test_shape_is(r, shape, 3) && mlx_array_dtype(r) == out_t);
    double *re, *im, *got = test_to_f64(r);
    read_values(a, &re, &im);
    double* want = malloc(sizeof(double) * (size_t)len * (size_t)rows * 2);
    double err = 0, mag = 0;
    for (int row = 0; row < rows * 2; row++) {
      hadamard_ref(re + (size_t)row * (size_t)len, want + (size_t)row * (size_t)len, m, p,
                   mi ? hm[mi - 1] : NULL, sc);
      for (int i = 0; i < len; i++) {
        size_t at = (size_t)row * (size_t)len + (size_t)i;
        err = fmax(err, fabs(got[at] - want[at]));
        mag = fmax(mag, fabs(want[at]));
      }
    }
    /* each butterfly stage and the matrix step round once */
    double tol = (k + 3) * unit_roundoff(out_t) * 4;
    CHECK_MSG(err <= tol * (mag > 0 ? mag : 1), "hadamard %s, n = %d x 2^%d: error %g of %g",
              dtype_name(t), m, k, err, mag);
    free(want);
    free(got);
    free(re);
    free(im);
    mlx_array_free(a);
    mlx_array_free(r);
  }
}

static void test_hadamard_cases(void) {
  mlx_optional_float no_scale = {0, false}, two = {2.0f, true}, one = {1.0f, true};
  /* rows of one element are only scaled (in the dtype of the result) */
  int32_t x[3] = {1, -2, 3};
  int s31[2] = {3, 1};
  mlx_array a = test_array_i32(x, s31, 2), r = mlx_array_new();
  CHECK_OK(mlx_hadamard_transform(&r, a, two, test_stream));
  double* v = test_to_f64(r);
  CHECK(mlx_array_dtype(r) == MLX_FLOAT32 && v[0] == 2 && v[1] == -4 && v[2] == 6);
  free(v);
  CHECK_OK(mlx_hadamard_transform(&r, a, no_scale, test_stream));
  CHECK(r.ctx == a.ctx); /* scale 1/sqrt(1) == 1: the input itself */
  mlx_array s = mlx_array_new_float(3);
  CHECK_OK(mlx_hadamard_transform(&r, s, one, test_stream));
  CHECK(r.ctx == s.ctx);
  /* [1, 1] -> [sqrt(2), 0] with the default scale */
  float y[2] = {1, 1};
  int s2 = 2;
  mlx_array b = test_array_f32(y, &s2, 1);
  CHECK_OK(mlx_hadamard_transform(&r, b, no_scale, test_stream));
  v = test_to_f64(r);
  CHECK(fabs(v[0] - sqrt(2.0)) < 1e-6 && v[1] == 0);
  free(v);
  /* errors */
  int s0[2] = {2, 0};
  mlx_array e = mlx_array_new();
  CHECK_OK(mlx_zeros(&e, s0, 2, MLX_FLOAT32, test_stream));
  EXPECT_ERROR(mlx_hadamard_transform(&r, e, no_scale, test_stream),
               "[hadamard_transform] Does not support empty arrays.");
  /* found only at evaluation, as in MLX */
  static const int bad_sizes[] = {6, 36, 60, 44};
  for (int i = 0; i < 4; i++) {
    int n = bad_sizes[i];
    mlx_array c = mlx_array_new();
    CHECK_OK(mlx_zeros(&c, &n, 1, MLX_FLOAT32, test_stream));
    CHECK_OK(mlx_hadamard_transform(&r, c, no_scale, test_stream));
    EXPECT_ERROR(mlx_array_eval(r),
                 "[hadamard] Only supports n = m*2^k where m in (1, 12, 20, 28).");
    mlx_array_free(c);
  }
  mlx_array d = mlx_array_new();
  int n4 = 4;
  CHECK_OK(mlx_zeros(&d, &n4, 1, MLX_FLOAT64, test_stream));
  CHECK_OK(mlx_hadamard_transform(&r, d, no_scale, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT64);
  EXPECT_ERROR(mlx_array_eval(r), "[hadamard] Unsupported type.");
  EXPECT_ERROR(mlx_array_eval(r), "[hadamard] Unsupported type."); /* again, the same */
  mlx_array none = mlx_array_new();
  EXPECT_ERROR(mlx_hadamard_transform(&r, none, no_scale, test_stream),
               "[hadamard_transform] The input array is empty (an mlx_array_new() handle).");
  mlx_array_free(d);
  mlx_array_free(e);
  mlx_array_free(s);
  mlx_array_free(b);
  mlx_array_free(a);
  mlx_array_free(r);
}

/* Many rows: the threaded path, checked against single-row transforms. */
static void test_hadamard_large(void) {
  int shape[2] = {2000, 64};
  mlx_array a = make_view(LAYOUT_CONTIGUOUS, MLX_FLOAT32, shape, 2, -1, 1, 0, 0);
  mlx_optional_float no_scale = {0, false};
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_hadamard_transform(&r, a, no_scale, test_stream));
  double *re, *im, *got = test_to_f64(r);
  read_values(a, &re, &im);
  double want[64], err = 0;
  for (int row = 0; row < 2000; row += 97) {
    hadamard_ref(re + row * 64, want, 1, 64, NULL, 1.0 / 8);
    for (int i = 0; i < 64; i++) err = fmax(err, fabs(got[row * 64 + i] - want[i]));
  }
  CHECK_MSG(err < 1e-5, "large hadamard error %g", err);
  free(re);
  free(im);
  free(got);
  mlx_array_free(a);
  mlx_array_free(r);
}

int main(void) {
  test_init();
  test_number_of_elements();
  test_windows();
  double* hm[3] = {NULL, NULL, NULL};
  test_hadamard_matrices(hm);
  test_hadamard_values(hm);
  for (int i = 0; i < 3; i++) free(hm[i]);
  test_hadamard_cases();
  test_hadamard_large();
  return test_finish("test_misc");
}
