/* test_unary.c - the unary elementwise family through the mlx-c API:
 * the ops that keep the dtype, predicates, rounding, nan_to_num and errors
 * (the real-valued float ops are in test_unary_float.c).
 *
 * What it proves:
 * - abs, negative, sign, square and the rounding ops give MLX's dtype and
 *   exact values for every input dtype, complex64 included;
 * - integer ops wrap like MLX's (abs/negative of INT_MIN, square overflow);
 * - MLX's quirks (sign(nan) = 0, isposinf of complex needs a zero
 *   imaginary part, round with decimals uses float32 factors, degrees of
 *   float16 uses a float16 constant);
 * - transposed, sliced (also reversed) and broadcast inputs give the same
 *   bytes as contiguous ones; 0-d and empty arrays work;
 * - arrays large enough for the thread pool give the same bytes as the
 *   same data in small single-threaded pieces;
 * - every error path reports MLX's message. */
#include "unary_util.h"

/* ---- ops that keep the dtype: abs, negative, sign, square, rounding ---- */

static uint64_t rng64(void) {
  uint64_t hi = (uint64_t)test_rand(0, 4294967296.0);
  uint64_t lo = (uint64_t)test_rand(0, 4294967296.0);
  return hi << 32 | lo;
}

/* Integer arrays from bit patterns (little-endian low bytes). */
static mlx_array make_bits(mlx_dtype t, int n, const uint64_t* bits) {
  size_t sz = mlx_dtype_size(t);
  unsigned char* buf = calloc((size_t)(n ? n : 1), sz);
  for (int i = 0; i < n; i++) {
    uint64_t b = t == MLX_BOOL ? (bits[i] & 1) : bits[i];
    memcpy(buf + (size_t)i * sz, &b, sz);
  }
  mlx_array a = mlx_array_new_data(buf, &n, 1, t);
  free(buf);
  return a;
}

/* Random integers of dtype t, with its extremes, 0, +-1 mixed in. */
static void random_bits(uint64_t* bits, int n, mlx_dtype t) {
  uint64_t mask = width_mask(t);
  uint64_t min = is_signed(t) ? (mask >> 1) + 1 : 0;
  uint64_t extremes[] = {0, 1, mask, min, min - 1, 2, mask - 1};
  for (int i = 0; i < n; i++) {
    bits[i] = (rand_int(0, 3) == 0) ? extremes[rand_int(0, 6)] : rng64();
    bits[i] &= mask;
    if (t == MLX_BOOL) bits[i] &= 1;
  }
}

static double mlx_sign_of(double x) { return x < 0 ? -1.0 : (x > 0 ? 1.0 : 0.0); }
static double ref_negative(double x) { return -x; }
static double ref_square(double x) { return x * x; }
static uint64_t iabs(uint64_t v, mlx_dtype t) {
  if (!is_signed(t)) return v;
  return (int64_t)v < 0 ? 0 - v : v;
}
static uint64_t ineg(uint64_t v, mlx_dtype t) { (void)t; return 0 - v; }
static uint64_t isign(uint64_t v, mlx_dtype t) {
  if (!is_signed(t)) return v != 0;
  return (uint64_t)(int64_t)(((int64_t)v > 0) - ((int64_t)v < 0));
}
static uint64_t isquare(uint64_t v, mlx_dtype t) { (void)t; return v * v; }
static uint64_t iidentity(uint64_t v, mlx_dtype t) { (void)t; return v; }
static uint64_t iinvert(uint64_t v, mlx_dtype t) {
  return t == MLX_BOOL ? !v : ~v;
}

static int test_round2_fn(mlx_array* r, const mlx_array a,
                          const mlx_stream s) {
  return mlx_round(r, a, 2, s);
}
static int nan_to_num_fn(mlx_array* r, const mlx_array a, const mlx_stream s) {
  mlx_optional_float none = {0, false};
  return mlx_nan_to_num(r, a, 0, none, none, s);
}

typedef struct same_case {
  const char* name;
  unary_api fn;
  double (*fref)(double);              /* floats: exact reference */
  uint64_t (*iref)(uint64_t, mlx_dtype); /* integers and bool: bits */
  const char* bool_error;                /* bool input fails with this */
} same_case;

static const same_case same_cases[] = {
    {"abs", mlx_abs, fabs, iabs, NULL},
    {"negative", mlx_negative, ref_negative, ineg,
     "[negative] Not supported for bool, use logical_not instead."},
    {"sign", mlx_sign, mlx_sign_of, isign, NULL},
    {"square", mlx_square, ref_square, isquare, NULL},
    {"floor", mlx_floor, floor, iidentity, NULL},
    {"ceil", mlx_ceil, ceil, iidentity, NULL},
    {"round", round0, rint, iidentity, NULL},
};

static void check_same_int(const same_case* c, mlx_dtype t) {
  int n = rand_int(1, 300);
  uint64_t* bits = calloc((size_t)n, sizeof *bits);
  random_bits(bits, n, t);
  mlx_array a = make_bits(t, n, bits);
  mlx_array r = mlx_array_new();
  if (t == MLX_BOOL && c->bool_error) {
    EXPECT_ERROR(c->fn(&r, a, test_stream), c->bool_error);
  } else {
    CHECK_OK(c->fn(&r, a, test_stream));
    CHECK_MSG(mlx_array_dtype(r) == t, "%s keeps %s", c->name, dtype_name(t));
    void* out = raw(r);
    uint64_t mask = width_mask(t);
    int bad = 0;
    for (int i = 0; i < n && bad < 3; i++) {
      uint64_t x = decode_bits(&bits[i], t, 0); /* sign-extended */
      uint64_t want = c->iref(x, t) & mask;
      if (t == MLX_BOOL) want &= 1;
      uint64_t got = decode_bits(out, t, (size_t)i) & mask;
      if (got != want) {
        bad++;
        CHECK_MSG(0, "%s(%s %llx) = %llx, expected %llx", c->name,
                  dtype_name(t), (unsigned long long)bits[i],
                  (unsigned long long)got, (unsigned long long)want);
      }
    }
    test_checks++;
    free(out);
    int sh[2] = {1, n};
    mlx_array a2 = mlx_array_new();
    CHECK_OK(mlx_reshape(&a2, a, sh, 2, test_stream));
    check_views(c->fn, a2, c->name);
    mlx_array_free(a2);
    check_degenerate(c->fn, t, 1, c->name);
  }
  mlx_array_free(a);
  mlx_array_free(r);
  free(bits);
}

static void check_same_float(const same_case* c, mlx_dtype t) {
  int shape[4];
  int nd = random_shape(shape);
  size_t n = 1;
  for (int d = 0; d < nd; d++) n *= (size_t)shape[d];
  double* v = malloc(n * sizeof *v);
  random_values(v, n, t, -300, 300, true);
  mlx_array a = make(t, shape, nd, v, NULL);
  mlx_array r = mlx_array_new();
  CHECK_OK(c->fn(&r, a, test_stream));
  CHECK_MSG(mlx_array_dtype(r) == t, "%s keeps %s", c->name, dtype_name(t));
  void* in = raw(a);
  void* out = raw(r);
  int bad = 0;
  for (size_t i = 0; i < n && bad < 3; i++) {
    double x, y, im;
    decode(in, t, i, &x, &im);
    decode(out, t, i, &y, &im);
    double want = round_to(t, c->fref(x));
    if (!same_bits(y, want)) {
      bad++;
      CHECK_MSG(0, "%s(%s %.9g) = %.9g, expected %.9g", c->name,
                dtype_name(t), x, y, want);
    }
  }
  test_checks++;
  check_views(c->fn, a, c->name);
  check_degenerate(c->fn, t, -2.5, c->name);
  free(in);
  free(out);
  free(v);
  mlx_array_free(a);
  mlx_array_free(r);
}

static void test_same_dtype_ops(void) {
  for (size_t k = 0; k < sizeof same_cases / sizeof same_cases[0]; k++)
    for (size_t j = 0; j < N_DTYPES; j++) {
      mlx_dtype t = all_dtypes[j];
      if (is_float(t)) check_same_float(&same_cases[k], t);
      else if (t != MLX_COMPLEX64) check_same_int(&same_cases[k], t);
    }
}

/* MLX returns its input for these; the values and dtype come back. */
static void test_identities(void) {
  int n = 5;
  uint64_t bits[5] = {0, 1, 7, 200, 3};
  struct {
    unary_api fn;
    mlx_dtype t;
  } cases[] = {{mlx_abs, MLX_UINT8},   {mlx_abs, MLX_BOOL},
               {mlx_sign, MLX_BOOL},   {mlx_floor, MLX_INT32},
               {mlx_ceil, MLX_UINT64}, {round0, MLX_INT16},
               {mlx_real, MLX_INT32},  {mlx_conjugate, MLX_UINT8}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    mlx_array a = make_bits(cases[k].t, n, bits);
    mlx_array r = mlx_array_new();
    CHECK_OK(cases[k].fn(&r, a, test_stream));
    CHECK(same_bytes(a, r));
    mlx_array_free(a);
    mlx_array_free(r);
  }
  /* real/conjugate of floats, nan_to_num of integers */
  double v[3] = {1.5, NAN, -INFINITY};
  mlx_array a = make(MLX_FLOAT32, &(int){3}, 1, v, NULL);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_real(&r, a, test_stream));
  CHECK(same_bytes(a, r));
  CHECK_OK(mlx_conjugate(&r, a, test_stream));
  CHECK(same_bytes(a, r));
  mlx_array_free(a);
  a = make_bits(MLX_INT32, n, bits);
  mlx_optional_float none = {0, false};
  CHECK_OK(mlx_nan_to_num(&r, a, 0, none, none, test_stream));
  CHECK(same_bytes(a, r));
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- complex64 for the ops that keep the dtype ---- */

static void test_complex_same(void) {
  enum { N = 64 };
  double re[N], im[N];
  for (int i = 0; i < N; i++) {
    re[i] = test_rand(-5, 5);
    im[i] = test_rand(-5, 5);
  }
  re[0] = 0;
  im[0] = 0; /* sign(0) = 0 */
  re[1] = -0.0;
  im[1] = 0;
  re[2] = 2.5;
  im[2] = -0.5; /* round: ties to even per part */
  int n = N;
  mlx_array a = make(MLX_COMPLEX64, &n, 1, re, im);
  void* in = raw(a);
  struct {
    unary_api fn;
    const char* name;
    mlx_dtype out;
  } cases[] = {{mlx_abs, "abs", MLX_FLOAT32},
               {mlx_negative, "negative", MLX_COMPLEX64},
               {mlx_sign, "sign", MLX_COMPLEX64},
               {mlx_square, "square", MLX_COMPLEX64},
               {round0, "round", MLX_COMPLEX64},
               {mlx_conjugate, "conjugate", MLX_COMPLEX64},
               {mlx_real, "real", MLX_FLOAT32},
               {mlx_imag, "imag", MLX_FLOAT32}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    mlx_array r = mlx_array_new();
    CHECK_OK(cases[k].fn(&r, a, test_stream));
    CHECK_MSG(mlx_array_dtype(r) == cases[k].out, "%s of complex64 gives %s",
              cases[k].name, dtype_name(mlx_array_dtype(r)));
    void* out = raw(r);
    int bad = 0;
    for (int i = 0; i < N && bad < 3; i++) {
      double x, xi, y, yi;
      decode(in, MLX_COMPLEX64, (size_t)i, &x, &xi);
      decode(out, cases[k].out, (size_t)i, &y, &yi);
      double complex z = CMPLX(x, xi), w = 0;
      bool exact = true;
      switch (k) {
        case 0: w = (float)cabs(z); exact = false; break;
        case 1: w = -z; break;
        case 2: w = (x == 0 && xi == 0) ? z : z / cabs(z); exact = false; break;
        case 3: w = z * z; exact = false; break;
        case 4: w = CMPLX(rint(x), rint(xi)); break;
        case 5: w = conj(z); break;
        case 6: w = x; break;
        case 7: w = xi; break;
      }
      bool ok = exact ? (same_bits(y, creal(w)) && same_bits(yi, cimag(w)))
                      : complex_close(y, yi, w, 4e-7);
      if (!ok) {
        bad++;
        CHECK_MSG(0, "%s(%g%+gi) = %g%+gi, expected %g%+gi", cases[k].name, x,
                  xi, y, yi, creal(w), cimag(w));
      }
    }
    test_checks++;
    free(out);
    int sh[2] = {8, 8};
    mlx_array a2 = mlx_array_new();
    CHECK_OK(mlx_reshape(&a2, a, sh, 2, test_stream));
    check_views(cases[k].fn, a2, cases[k].name);
    mlx_array_free(a2);
    mlx_array_free(r);
  }
  free(in);
  mlx_array_free(a);
}

/* ---- predicates, logical_not, bitwise_invert, imag of reals ---- */

static bool pred_value(int which, double re, double im, bool complex_in) {
  switch (which) {
    case 0: return isnan(re) || isnan(im);
    case 1: return isinf(re) || isinf(im);
    case 2: return isfinite(re) && isfinite(im);
    case 3: return re == INFINITY && (!complex_in || im == 0);
    default: return re == -INFINITY && (!complex_in || im == 0);
  }
}

static void test_predicates(void) {
  unary_api fns[5] = {mlx_isnan, mlx_isinf, mlx_isfinite, mlx_isposinf,
                      mlx_isneginf};
  const char* names[5] = {"isnan", "isinf", "isfinite", "isposinf",
                          "isneginf"};
  for (size_t j = 0; j < N_DTYPES; j++) {
    mlx_dtype t = all_dtypes[j];
    enum { N = 120 };
    double re[N], im[N];
    random_values(re, N, t, -50, 50, true);
    for (int i = 0; i < N; i++)
      im[i] = rand_int(0, 3) ? 0 : specials[rand_int(0, (int)N_SPECIALS - 1)];
    re[0] = INFINITY;
    im[0] = 1; /* complex: not posinf, but isinf */
    int sh[2] = {10, 12};
    mlx_array a = make(t, sh, 2, re, im);
    void* in = raw(a);
    for (int p = 0; p < 5; p++) {
      mlx_array r = mlx_array_new();
      CHECK_OK(fns[p](&r, a, test_stream));
      CHECK(mlx_array_dtype(r) == MLX_BOOL && test_shape_is(r, sh, 2));
      const bool* out = raw(r);
      int bad = 0;
      for (int i = 0; i < N && bad < 3; i++) {
        double x, xi;
        decode(in, t, (size_t)i, &x, &xi);
        bool want = pred_value(p, x, xi, t == MLX_COMPLEX64);
        if (out[i] != want) {
          bad++;
          CHECK_MSG(0, "%s(%s %g%+gi) = %d", names[p], dtype_name(t), x, xi,
                    out[i]);
        }
      }
      test_checks++;
      free((void*)out);
      check_views(fns[p], a, names[p]);
      check_degenerate(fns[p], t, 1, names[p]);
      mlx_array_free(r);
    }
    /* logical_not: anything -> bool, MLX's not(astype(a, bool)); for real
     * dtypes that is "the value is zero" (NaN is true, so not NaN is false).
     * For complex64 it is whatever astype to bool gives (the cast lives in
     * backend/cpu/elementwise.c; MLX's goes through the real part). */
    mlx_array r = mlx_array_new(), as_bool = mlx_array_new();
    CHECK_OK(mlx_logical_not(&r, a, test_stream));
    CHECK_OK(mlx_astype(&as_bool, a, MLX_BOOL, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_BOOL);
    const bool* out = raw(r);
    const bool* cast = raw(as_bool);
    for (int i = 0; i < N; i++) {
      double x, xi;
      decode(in, t, (size_t)i, &x, &xi);
      bool want = t == MLX_COMPLEX64 ? !cast[i] : x == 0;
      if (out[i] != want) {
        CHECK_MSG(0, "logical_not(%s %g%+gi) = %d", dtype_name(t), x, xi,
                  out[i]);
        break;
      }
    }
    free((void*)out);
    free((void*)cast);
    mlx_array_free(as_bool);
    check_views(mlx_logical_not, a, "logical_not");
    check_degenerate(mlx_logical_not, t, 0, "logical_not");
    /* imag of a real array: zeros of the same dtype */
    if (t != MLX_COMPLEX64) {
      CHECK_OK(mlx_imag(&r, a, test_stream));
      CHECK(mlx_array_dtype(r) == t && test_shape_is(r, sh, 2));
      unsigned char* z = raw(r);
      bool all_zero = true;
      for (size_t b = 0; b < mlx_array_nbytes(r); b++) all_zero &= z[b] == 0;
      CHECK_MSG(all_zero, "imag(%s) is zeros", dtype_name(t));
      free(z);
      check_degenerate(mlx_imag, t, 1, "imag");
    }
    mlx_array_free(r);
    free(in);
    mlx_array_free(a);
  }
}

static void test_bitwise_invert(void) {
  for (size_t j = 0; j < N_DTYPES; j++) {
    mlx_dtype t = all_dtypes[j];
    mlx_array r = mlx_array_new();
    if (!is_int(t) && t != MLX_BOOL) {
      double v[2] = {1, 2};
      mlx_array a = make(t, &(int){2}, 1, v, NULL);
      EXPECT_ERROR(mlx_bitwise_invert(&r, a, test_stream),
                   "[bitwise_invert] Bitwise inverse only allowed on integer types.");
      mlx_array_free(a);
      mlx_array_free(r);
      continue;
    }
    mlx_array_free(r);
    same_case c = {"bitwise_invert", mlx_bitwise_invert, NULL, iinvert, NULL};
    check_same_int(&c, t);
  }
}

/* ---- round with decimals ---- */

static void test_round_decimals(void) {
  /* float32: round(x * 10^d) * (float)(1 / 10^d), both factors float32 */
  enum { N = 500 };
  double v[N];
  for (int i = 0; i < N; i++) v[i] = (float)test_rand(-1000, 1000);
  int n = N;
  mlx_array a = make(MLX_FLOAT32, &n, 1, v, NULL);
  for (int dec = -2; dec <= 3; dec++) {
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_round(&r, a, dec, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_FLOAT32);
    const float* out = raw(r);
    float s = (float)pow(10.0, dec), inv = 1.0f / s;
    int bad = 0;
    for (int i = 0; i < N && bad < 3; i++) {
      float want = rintf((float)v[i] * s) * inv;
      if (!bits_eq(out[i], want)) {
        bad++;
        CHECK_MSG(0, "round(%.9g, %d) = %.9g, expected %.9g", v[i], dec,
                  out[i], want);
      }
    }
    free((void*)out);
    mlx_array_free(r);
  }
  int sh[2] = {20, 25};
  mlx_array a2 = mlx_array_new();
  CHECK_OK(mlx_reshape(&a2, a, sh, 2, test_stream));
  check_views(test_round2_fn, a2, "round(x, 2)");
  mlx_array_free(a2);
  mlx_array_free(a);

  /* integers go through float32 and back (truncating) */
  double iv[6] = {15, 25, -15, 1234, -1250, 7};
  int64_t want_m1[6] = {20, 20, -20, 1230, -1250, 10};
  mlx_array ai = make(MLX_INT32, &(int){6}, 1, iv, NULL);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_round(&r, ai, -1, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_INT32);
  const int32_t* io = raw(r);
  for (int i = 0; i < 6; i++)
    CHECK_MSG(io[i] == want_m1[i], "round(%g, -1) = %d", iv[i], io[i]);
  free((void*)io);
  CHECK_OK(mlx_round(&r, ai, 2, test_stream));
  CHECK(same_bytes(r, ai));

  /* float64: the factors are float32 values, so 0.01 is not exact */
  mlx_array a64 = mlx_array_new_float64(0.125);
  CHECK_OK(mlx_round(&r, a64, 2, test_stream));
  double d = 0;
  CHECK_OK(mlx_array_item_float64(&d, r));
  CHECK_MSG(d == 12.0 * (double)0.01f, "round(0.125, 2) in float64 = %.17g", d);
  mlx_array_free(a64);

  /* float16/bfloat16: x * 100 rounded to the dtype before rint, and 0.01
   * is the dtype's nearest value */
  double hv[4] = {1.2345, -3.14159, 0.015, 2.675};
  for (int h = 0; h < 2; h++) {
    mlx_dtype t = h ? MLX_BFLOAT16 : MLX_FLOAT16;
    mlx_array ah = make(t, &(int){4}, 1, hv, NULL);
    CHECK_OK(mlx_round(&r, ah, 2, test_stream));
    CHECK(mlx_array_dtype(r) == t);
    void* ho = raw(r);
    for (int i = 0; i < 4; i++) {
      double x = round_to(t, hv[i]), y;
      double want = round_to(t, rint(round_to(t, x * 100.0)) * round_to(t, 0.01f));
      double im;
      decode(ho, t, (size_t)i, &y, &im);
      CHECK_MSG(same_bits(y, want), "%s round(%g, 2) = %g, expected %g",
                dtype_name(t), x, y, want);
    }
    free(ho);
    mlx_array_free(ah);
  }

  /* complex64: both parts */
  mlx_array ac = mlx_array_new_complex(1.26f, -2.35f);
  CHECK_OK(mlx_round(&r, ac, 1, test_stream));
  mlx_complex64_t c = 0;
  CHECK_OK(mlx_array_item_complex64(&c, r));
  CHECK(crealf(c) == rintf(1.26f * 10.0f) * 0.1f &&
        cimagf(c) == rintf(-2.35f * 10.0f) * 0.1f);
  mlx_array_free(ac);
  check_degenerate(test_round2_fn, MLX_FLOAT32, 0.125, "round(x, 2)");
  check_degenerate(test_round2_fn, MLX_INT8, 3, "round(x, 2)");
  mlx_array_free(ai);
  mlx_array_free(r);
}

/* degrees/radians multiply by a scalar of the computing dtype: float16
 * uses 180/pi rounded to float16 (57.28125). */
static void test_degrees_constants(void) {
  mlx_array a = make(MLX_FLOAT16, &(int){1}, 1, (double[]){1.0}, NULL);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_degrees(&r, a, test_stream));
  const uint16_t* h = raw(r);
  CHECK_MSG(f16_to_f32(h[0]) == 57.28125f, "degrees(float16 1) = %g",
            f16_to_f32(h[0]));
  free((void*)h);
  mlx_array_free(a);
  a = mlx_array_new_float64(1.0);
  CHECK_OK(mlx_degrees(&r, a, test_stream));
  double d = 0;
  CHECK_OK(mlx_array_item_float64(&d, r));
  CHECK(d == 180.0 / M_PI);
  mlx_array_free(a);
  a = mlx_array_new_int(2);
  CHECK_OK(mlx_radians(&r, a, test_stream));
  float f = 0;
  CHECK(mlx_array_dtype(r) == MLX_FLOAT32);
  CHECK_OK(mlx_array_item_float32(&f, r));
  CHECK(f == 2.0f * (float)(M_PI / 180.0));
  mlx_array_free(a);
  a = mlx_array_new_complex(1.0f, -2.0f);
  CHECK_OK(mlx_degrees(&r, a, test_stream));
  mlx_complex64_t c = 0;
  CHECK_OK(mlx_array_item_complex64(&c, r));
  float k = (float)(180.0 / M_PI);
  CHECK(crealf(c) == k && cimagf(c) == -2.0f * k);
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- nan_to_num ---- */

static void test_nan_to_num(void) {
  double v[6] = {NAN, INFINITY, -INFINITY, 1.5, -0.0, -NAN};
  mlx_optional_float none = {0, false};
  mlx_array r = mlx_array_new();
  /* defaults: the dtype's largest finite value */
  struct {
    mlx_dtype t;
    double max;
  } defaults[] = {{MLX_FLOAT32, FLT_MAX},
                  {MLX_FLOAT16, 65504.0},
                  {MLX_BFLOAT16, 3.3895313892515355e38}};
  for (int k = 0; k < 3; k++) {
    mlx_dtype t = defaults[k].t;
    mlx_array a = make(t, &(int){6}, 1, v, NULL);
    CHECK_OK(mlx_nan_to_num(&r, a, 0.0f, none, none, test_stream));
    CHECK(mlx_array_dtype(r) == t);
    void* out = raw(r);
    double want[6] = {0, defaults[k].max, -defaults[k].max, round_to(t, 1.5),
                      -0.0, 0};
    for (int i = 0; i < 6; i++) {
      double y, im;
      decode(out, t, (size_t)i, &y, &im);
      CHECK_MSG(same_bits(y, want[i]), "nan_to_num(%s %g) = %g",
                dtype_name(t), v[i], y);
    }
    free(out);
    /* given values, rounded to the dtype (1e6 overflows float16) */
    mlx_optional_float hi = {1e6f, true}, lo = {-7.0f, true};
    CHECK_OK(mlx_nan_to_num(&r, a, 2.5f, hi, lo, test_stream));
    out = raw(r);
    double want2[3] = {round_to(t, 2.5), round_to(t, 1e6), -7.0};
    for (int i = 0; i < 3; i++) {
      double y, im;
      decode(out, t, (size_t)i, &y, &im);
      CHECK_MSG(same_bits(y, want2[i]), "nan_to_num(%s %g, given) = %g",
                dtype_name(t), v[i], y);
    }
    free(out);
    int sh[2] = {2, 3};
    mlx_array a2 = mlx_array_new();
    CHECK_OK(mlx_reshape(&a2, a, sh, 2, test_stream));
    check_views(nan_to_num_fn, a2, "nan_to_num");
    check_degenerate(nan_to_num_fn, t, INFINITY, "nan_to_num");
    mlx_array_free(a2);
    mlx_array_free(a);
  }
  /* float64 and complex64 need both replacements given */
  mlx_optional_float hi = {100.0f, true}, lo = {-100.0f, true};
  mlx_array a = make(MLX_FLOAT64, &(int){6}, 1, v, NULL);
  EXPECT_ERROR(mlx_nan_to_num(&r, a, 0, none, none, test_stream),
               "[nan_to_num] Does not yet support given type: float64.");
  EXPECT_ERROR(mlx_nan_to_num(&r, a, 0, hi, none, test_stream),
               "[nan_to_num] Does not yet support given type: float64.");
  CHECK_OK(mlx_nan_to_num(&r, a, 1.0f, hi, lo, test_stream));
  const double* d = raw(r);
  CHECK(d[0] == 1 && d[1] == 100 && d[2] == -100 && d[3] == 1.5 && d[5] == 1);
  free((void*)d);
  mlx_array_free(a);
  double re[4] = {NAN, INFINITY, INFINITY, -INFINITY};
  double im[4] = {1, 0, 1, 0};
  a = make(MLX_COMPLEX64, &(int){4}, 1, re, im);
  EXPECT_ERROR(mlx_nan_to_num(&r, a, 0, none, none, test_stream),
               "[nan_to_num] Does not yet support given type: complex64.");
  CHECK_OK(mlx_nan_to_num(&r, a, 3.0f, hi, lo, test_stream));
  const float* c = raw(r);
  /* nan in either part -> (nan, 0); (inf, 0) -> (posinf, 0); (inf, 1) stays */
  CHECK(c[0] == 3 && c[1] == 0 && c[2] == 100 && c[3] == 0);
  CHECK(c[4] == INFINITY && c[5] == 1 && c[6] == -100 && c[7] == 0);
  free((void*)c);
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- errors ---- */

static void test_errors(void) {
  mlx_array r = mlx_array_new();
  mlx_array c = mlx_array_new_complex(1, 2);
  const char* real_only[] = {"floor", "ceil", "expm1", "sigmoid", "erf",
                             "erfinv"};
  unary_api fns[] = {mlx_floor, mlx_ceil, mlx_expm1, mlx_sigmoid, mlx_erf,
                     mlx_erfinv};
  for (int k = 0; k < 6; k++) {
    char msg[128];
    snprintf(msg, sizeof msg, "[%s] Not supported for complex64.", real_only[k]);
    EXPECT_ERROR(fns[k](&r, c, test_stream), msg);
  }
  mlx_array b = mlx_array_new_bool(true);
  EXPECT_ERROR(mlx_negative(&r, b, test_stream),
               "[negative] Not supported for bool, use logical_not instead.");
  mlx_array f = mlx_array_new_float32(1);
  EXPECT_ERROR(mlx_bitwise_invert(&r, f, test_stream),
               "[bitwise_invert] Bitwise inverse only allowed on integer types.");
  /* handles */
  EXPECT_ERROR(mlx_exp(NULL, f, test_stream),
               "[exp] The result pointer is NULL.");
  mlx_array empty = mlx_array_new();
  EXPECT_ERROR(mlx_abs(&r, empty, test_stream),
               "[abs] The input array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_round(&r, empty, 1, test_stream),
               "[round] The input array is empty (an mlx_array_new() handle).");
  mlx_optional_float none = {0, false};
  EXPECT_ERROR(mlx_nan_to_num(NULL, f, 0, none, none, test_stream),
               "[nan_to_num] The result pointer is NULL.");
  mlx_stream no_stream = {NULL};
  EXPECT_ERROR(mlx_sin(&r, f, no_stream), "[sin] The stream handle is empty.");
  /* a failed call leaves the result handle as it was */
  CHECK(r.ctx == NULL);
  mlx_array_free(c);
  mlx_array_free(b);
  mlx_array_free(f);
  mlx_array_free(r);
}

/* ---- the thread pool: big arrays equal the same data in small pieces ---- */

static void test_threaded_equals_serial(void) {
  enum { N = 300001, PIECE = 40000 };
  double* v = malloc(N * sizeof *v);
  random_values(v, N, MLX_FLOAT32, -3, 3, true);
  int n = N;
  struct {
    unary_api fn;
    mlx_dtype t;
  } cases[] = {{mlx_exp, MLX_FLOAT32},     {mlx_sin, MLX_FLOAT32},
               {mlx_sigmoid, MLX_FLOAT32}, {mlx_erfinv, MLX_FLOAT32},
               {mlx_abs, MLX_FLOAT32},     {mlx_isnan, MLX_FLOAT32},
               {test_round2_fn, MLX_FLOAT16}, {nan_to_num_fn, MLX_BFLOAT16},
               {mlx_tanh, MLX_FLOAT64},    {mlx_negative, MLX_INT32},
               {mlx_exp, MLX_COMPLEX64}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    mlx_array a = make(cases[k].t, &n, 1, v, v);
    mlx_array big = mlx_array_new();
    CHECK_OK(cases[k].fn(&big, a, test_stream));
    unsigned char* whole = raw(big);
    size_t isz = mlx_array_itemsize(big);
    bool same = true;
    for (int start = 0; start < N; start += PIECE) {
      int stop = start + PIECE < N ? start + PIECE : N, step = 1;
      mlx_array piece = api_wrap(op_slice(api_array(a), &start, &stop, &step,
                                          test_st()));
      mlx_array r = mlx_array_new();
      CHECK_OK(cases[k].fn(&r, piece, test_stream));
      unsigned char* part = raw(r);
      same &= memcmp(part, whole + (size_t)start * isz,
                     (size_t)(stop - start) * isz) == 0;
      free(part);
      mlx_array_free(r);
      mlx_array_free(piece);
    }
    CHECK_MSG(same, "threaded case %zu differs from the serial pieces", k);
    free(whole);
    mlx_array_free(big);
    mlx_array_free(a);
  }
  free(v);
}

/* A chain of ops on a dying intermediate reuses its buffer (donation) and
 * still computes the right values. */
static void test_chain(void) {
  enum { N = 1000 };
  double v[N];
  for (int i = 0; i < N; i++) v[i] = test_rand(0.1, 2);
  int n = N;
  mlx_array a = make(MLX_FLOAT32, &n, 1, v, NULL);
  mlx_array x = mlx_array_new(), y = mlx_array_new(), z = mlx_array_new();
  CHECK_OK(mlx_log(&x, a, test_stream));
  CHECK_OK(mlx_exp(&y, x, test_stream));
  mlx_array_free(x);
  CHECK_OK(mlx_sqrt(&z, y, test_stream));
  mlx_array_free(y);
  const float* out = raw(z);
  double worst = 0;
  for (int i = 0; i < N; i++)
    worst = fmax(worst, fabs(out[i] - sqrt((float)v[i])) / sqrt((float)v[i]));
  CHECK_MSG(worst < 1e-6, "sqrt(exp(log(x))) off by %g", worst);
  free((void*)out);
  mlx_array_free(z);
  mlx_array_free(a);
}

int main(void) {
  /* more workers than cores is fine: it makes sure the pool splits work */
  setenv("CMLX_NUM_THREADS", "4", 0);
  test_init();
  test_same_dtype_ops();
  test_identities();
  test_complex_same();
  test_predicates();
  test_bitwise_invert();
  test_round_decimals();
  test_degrees_constants();
  test_nan_to_num();
  test_errors();
  test_threaded_equals_serial();
  test_chain();
  return test_finish("test_unary");
}
