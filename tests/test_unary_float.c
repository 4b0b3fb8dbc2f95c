/* test_unary_float.c - the real-valued float ops of the unary family
 * (exp, log, sin, sqrt, sigmoid, erf, erfinv...) through the mlx-c API.
 *
 * What it proves:
 * - every op gives MLX's output dtype for every input dtype family, and the
 *   values of a double (or long double) reference: exactly for the ops
 *   MLX computes exactly (sqrt, degrees...), within 2 float32 ulp of the
 *   correctly rounded result for the transcendentals (1 ulp of
 *   float16/bfloat16, 4 ulp of float64), 3 ulp for erfinv (MLX's formula);
 * - their complex64 results against double complex references;
 * - transposed, sliced (also reversed) and broadcast inputs give the same
 *   bytes as contiguous ones; 0-d and empty arrays work;
 * - special values (nan, +-inf, -0) and signed zeros in float32, and
 *   erfinv of float64.
 * The dtype-keeping ops, predicates and errors are in test_unary.c. */
#include "unary_util.h"

/* ---- the real-valued float ops ---- */

typedef enum tolerance {
  EXACT,  /* the correctly rounded value of the reference */
  ULP,    /* 2 ulp float32, 1 ulp float16/bfloat16, 4 ulp float64 */
  ERFINV, /* 3 ulp float32 (MLX's formula); float64 goes through float32 */
} tolerance;

typedef double complex (*complex_ref)(double complex);

typedef struct float_case {
  const char* name;
  unary_api fn;
  double (*ref)(double);             /* reference for float16/32 outputs */
  long double (*ref64)(long double); /* for float64 (NULL: ref) */
  double scale;                      /* != 0: x * scale in the dtype */
  double lo, hi;                     /* random input range */
  tolerance tol;
  complex_ref cref; /* NULL: complex64 is an error */
} float_case;

static double ref_rsqrt(double x) { return 1.0 / sqrt(x); }
static long double ref_rsqrtl(long double x) { return 1.0L / sqrtl(x); }
static double ref_reciprocal(double x) { return 1.0 / x; }
static double ref_sigmoid(double x) { return (double)(1.0L / (1.0L + expl(-(long double)x))); }
static long double ref_sigmoidl(long double x) { return 1.0L / (1.0L + expl(-x)); }

/* The inverse of erf by Newton's method in long double. */
static long double ref_erfinvl(long double x) {
  if (isnan(x) || fabsl(x) > 1) return NAN;
  if (x == 1) return INFINITY;
  if (x == -1) return -INFINITY;
  if (x == 0) return x;
  long double a = fabsl(x), y = 0;
  /* a starting point from erf's tail and body */
  y = a < 0.9L ? a * 0.886226925L : sqrtl(-logl(1 - a));
  for (int it = 0; it < 60; it++) {
    long double err = y > 0.5L ? (1 - a) - erfcl(y) : erfl(y) - a;
    long double step = err / (1.1283791670955125739L * expl(-y * y));
    y -= step;
    if (fabsl(step) <= fabsl(y) * 1e-19L) break;
  }
  return x < 0 ? -y : y;
}
static double ref_erfinv(double x) { return (double)ref_erfinvl(x); }

static double complex c_log1p(double complex z) { return clog(1 + z); }
static double complex c_log2(double complex z) { return clog(z) / M_LN2; }
static double complex c_log10(double complex z) { return clog(z) / M_LN10; }
static double complex c_rsqrt(double complex z) { return 1 / csqrt(z); }
static double complex c_reciprocal(double complex z) { return 1 / z; }

static const float_case float_cases[] = {
    {"exp", mlx_exp, exp, expl, 0, -20, 20, ULP, cexp},
    {"expm1", mlx_expm1, expm1, expm1l, 0, -5, 5, ULP, NULL},
    {"log", mlx_log, log, logl, 0, -1, 100, ULP, clog},
    {"log1p", mlx_log1p, log1p, log1pl, 0, -1, 10, ULP, c_log1p},
    {"log2", mlx_log2, log2, log2l, 0, -1, 1000, ULP, c_log2},
    {"log10", mlx_log10, log10, log10l, 0, -1, 1000, ULP, c_log10},
    {"sqrt", mlx_sqrt, sqrt, NULL, 0, -1, 1000, EXACT, csqrt},
    {"rsqrt", mlx_rsqrt, ref_rsqrt, ref_rsqrtl, 0, -1, 1000, ULP, c_rsqrt},
    {"reciprocal", mlx_reciprocal, ref_reciprocal, NULL, 0, -10, 10, EXACT,
     c_reciprocal},
    {"sin", mlx_sin, sin, sinl, 0, -10, 10, ULP, csin},
    {"cos", mlx_cos, cos, cosl, 0, -10, 10, ULP, ccos},
    {"tan", mlx_tan, tan, tanl, 0, -10, 10, ULP, ctan},
    {"arcsin", mlx_arcsin, asin, asinl, 0, -1.1, 1.1, ULP, casin},
    {"arccos", mlx_arccos, acos, acosl, 0, -1.1, 1.1, ULP, cacos},
    {"arctan", mlx_arctan, atan, atanl, 0, -50, 50, ULP, catan},
    {"sinh", mlx_sinh, sinh, sinhl, 0, -10, 10, ULP, csinh},
    {"cosh", mlx_cosh, cosh, coshl, 0, -10, 10, ULP, ccosh},
    {"tanh", mlx_tanh, tanh, tanhl, 0, -10, 10, ULP, ctanh},
    {"arcsinh", mlx_arcsinh, asinh, asinhl, 0, -100, 100, ULP, casinh},
    {"arccosh", mlx_arccosh, acosh, acoshl, 0, 0.5, 100, ULP, cacosh},
    {"arctanh", mlx_arctanh, atanh, atanhl, 0, -1.1, 1.1, ULP, catanh},
    {"sigmoid", mlx_sigmoid, ref_sigmoid, ref_sigmoidl, 0, -30, 30, ULP, NULL},
    {"erf", mlx_erf, erf, erfl, 0, -4, 4, ULP, NULL},
    {"erfinv", mlx_erfinv, ref_erfinv, ref_erfinvl, 0, -1, 1, ERFINV, NULL},
    {"degrees", mlx_degrees, NULL, NULL, 180.0 / M_PI, -10, 10, EXACT, NULL},
    {"radians", mlx_radians, NULL, NULL, M_PI / 180.0, -500, 500, EXACT, NULL},
};

/* Expected value of case c at input x (already in the compute dtype d),
 * rounded to d the way the kernels round (through float32 for halves). */
static double float_expected(const float_case* c, mlx_dtype d, double x) {
  if (c->scale != 0) {
    /* the constant is a scalar of dtype d; the product is rounded once */
    double k = d == MLX_FLOAT64 ? c->scale : round_to(d, c->scale);
    return round_to(d, x * k);
  }
  if (d == MLX_FLOAT64) {
    /* MLX's float64 erfinv is its float32 one, widened */
    if (c->tol == ERFINV) return (float)ref_erfinvl((float)x);
    return c->ref64 ? (double)c->ref64(x) : c->ref(x);
  }
  return round_to(d, (float)c->ref(x));
}

static double allowed_ulps(const float_case* c, mlx_dtype d) {
  if (c->tol == EXACT) return 0;
  bool half = d == MLX_FLOAT16 || d == MLX_BFLOAT16;
  if (c->tol == ERFINV) return half ? 1 : 3; /* float64: float32 ulp */
  if (d == MLX_FLOAT64) return 4;
  return half ? 1 : 2;
}

static void check_float_case_dtype(const float_case* c, mlx_dtype t) {
  int shape[4];
  int nd = random_shape(shape);
  size_t n = 1;
  for (int d = 0; d < nd; d++) n *= (size_t)shape[d];
  double* v = malloc(n * sizeof *v);
  double* vi = malloc(n * sizeof *vi);
  random_values(v, n, t, c->lo, c->hi, true);
  for (size_t i = 0; i < n; i++) vi[i] = test_rand(c->lo, c->hi) * 0.3;
  mlx_array a = make(t, shape, nd, v, vi);
  mlx_array r = mlx_array_new();
  if (t == MLX_COMPLEX64 && !c->cref && c->scale == 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "[%s] Not supported for complex64.", c->name);
    EXPECT_ERROR(c->fn(&r, a, test_stream), msg);
    goto done;
  }
  CHECK_OK(c->fn(&r, a, test_stream));
  mlx_dtype d = at_least_float(t);
  CHECK_MSG(mlx_array_dtype(r) == d, "%s of %s gives %s", c->name,
            dtype_name(t), dtype_name(mlx_array_dtype(r)));
  CHECK(test_shape_is(r, shape, nd));
  void* in = raw(a);
  void* out = raw(r);
  int bad = 0;
  for (size_t i = 0; i < n && bad < 3; i++) {
    double x, xi, y, yi;
    decode(in, t, i, &x, &xi);
    decode(out, d, i, &y, &yi);
    if (d == MLX_COMPLEX64) {
      double complex z = CMPLX(x, xi), w;
      if (c->scale != 0) {
        w = z * (double)(float)c->scale;
      } else {
        w = c->cref(z);
      }
      bool ok = complex_close(y, yi, w, 1e-5);
      if (!ok) {
        bad++;
        CHECK_MSG(0, "%s(%g%+gi) = %g%+gi, expected %g%+gi", c->name, x, xi,
                  y, yi, creal(w), cimag(w));
      }
      continue;
    }
    double xd = round_to(d, x);
    double want = float_expected(c, d, xd);
    /* float64 erfinv is float32 precision: measure it in float32 ulp */
    mlx_dtype ud = (c->tol == ERFINV && d == MLX_FLOAT64) ? MLX_FLOAT32 : d;
    double dist = ulp_distance(ud, y, want);
    bool ok = dist <= allowed_ulps(c, d);
    if (c->tol == EXACT) ok = ok && same_bits(y, want);
    if (!ok) {
      bad++;
      CHECK_MSG(0, "%s(%.9g) in %s = %.9g, expected %.9g (%g ulp)", c->name,
                xd, t == d ? "its dtype" : "float32", y, want, dist);
    }
  }
  test_checks++;
  free(in);
  free(out);
  check_views(c->fn, a, c->name);
  check_degenerate(c->fn, t, 0.5, c->name);
done:
  mlx_array_free(a);
  mlx_array_free(r);
  free(v);
  free(vi);
}

static void test_float_ops(void) {
  for (size_t k = 0; k < sizeof float_cases / sizeof float_cases[0]; k++) {
    for (size_t j = 0; j < N_DTYPES; j++) {
      /* float32 and float16 twice: more random values where it matters */
      check_float_case_dtype(&float_cases[k], all_dtypes[j]);
      if (all_dtypes[j] == MLX_FLOAT32 || all_dtypes[j] == MLX_FLOAT16)
        check_float_case_dtype(&float_cases[k], all_dtypes[j]);
    }
  }
}

/* Dense sweep of float32 over many magnitudes for the transcendentals. */
static void test_float32_accuracy_sweep(void) {
  enum { N = 20000 };
  double* v = malloc(N * sizeof *v);
  for (size_t k = 0; k < sizeof float_cases / sizeof float_cases[0]; k++) {
    const float_case* c = &float_cases[k];
    for (int i = 0; i < N; i++) {
      /* log-uniform magnitudes inside the op's range, both signs */
      double m = fmax(fabs(c->lo), fabs(c->hi));
      double x = m * pow(2.0, -test_rand(0, 40));
      if (rand_int(0, 1)) x = -x;
      if (x < c->lo || x > c->hi) x = test_rand(c->lo, c->hi);
      v[i] = (float)x;
    }
    int n = N;
    mlx_array a = make(MLX_FLOAT32, &n, 1, v, NULL);
    mlx_array r = mlx_array_new();
    CHECK_OK(c->fn(&r, a, test_stream));
    const float* out = raw(r);
    double worst = 0;
    double worst_x = 0;
    for (int i = 0; i < N; i++) {
      double want = float_expected(c, MLX_FLOAT32, v[i]);
      double dist = ulp_distance(MLX_FLOAT32, out[i], want);
      if (dist > worst) {
        worst = dist;
        worst_x = v[i];
      }
    }
    CHECK_MSG(worst <= allowed_ulps(c, MLX_FLOAT32),
              "%s: %g ulp at x = %.9g", c->name, worst, worst_x);
    free((void*)out);
    mlx_array_free(a);
    mlx_array_free(r);
  }
  free(v);
}

/* ---- special values and signed zeros (float32) ---- */

static void test_special_values(void) {
  struct {
    unary_api fn;
    float x, want;
    const char* what;
  } cases[] = {
      {mlx_sign, NAN, 0.0f, "sign(nan) = 0 (MLX compares < and >)"},
      {mlx_sign, -0.0f, 0.0f, "sign(-0) = +0"},
      {mlx_sign, -INFINITY, -1.0f, "sign(-inf)"},
      {mlx_abs, -0.0f, 0.0f, "abs(-0)"},
      {mlx_negative, 0.0f, -0.0f, "negative(0)"},
      {mlx_sqrt, -0.0f, -0.0f, "sqrt(-0)"},
      {mlx_sqrt, -1.0f, NAN, "sqrt(-1)"},
      {mlx_rsqrt, 0.0f, INFINITY, "rsqrt(0)"},
      {mlx_reciprocal, -0.0f, -INFINITY, "reciprocal(-0)"},
      {mlx_log, 0.0f, -INFINITY, "log(0)"},
      {mlx_log, -1.0f, NAN, "log(-1)"},
      {mlx_log1p, -1.0f, -INFINITY, "log1p(-1)"},
      {mlx_exp, -INFINITY, 0.0f, "exp(-inf)"},
      {mlx_exp, 89.0f, INFINITY, "exp(89) overflows"},
      {mlx_expm1, -0.0f, -0.0f, "expm1(-0)"},
      {mlx_sin, -0.0f, -0.0f, "sin(-0)"},
      {mlx_tan, -0.0f, -0.0f, "tan(-0)"},
      {mlx_sin, INFINITY, NAN, "sin(inf)"},
      {mlx_tanh, INFINITY, 1.0f, "tanh(inf)"},
      {mlx_tanh, -0.0f, -0.0f, "tanh(-0)"},
      {mlx_arcsinh, -0.0f, -0.0f, "arcsinh(-0)"},
      {mlx_arctanh, 1.0f, INFINITY, "arctanh(1)"},
      {mlx_arccosh, 1.0f, 0.0f, "arccosh(1)"},
      {mlx_sigmoid, -INFINITY, 0.0f, "sigmoid(-inf)"},
      {mlx_sigmoid, INFINITY, 1.0f, "sigmoid(inf)"},
      {mlx_sigmoid, NAN, NAN, "sigmoid(nan)"},
      {mlx_sigmoid, 0.0f, 0.5f, "sigmoid(0)"},
      {mlx_sigmoid, -100.0f, 3.72007598e-44f, "sigmoid(-100) is subnormal"},
      {mlx_erf, -INFINITY, -1.0f, "erf(-inf)"},
      {mlx_erfinv, 1.0f, INFINITY, "erfinv(1)"},
      {mlx_erfinv, -1.0f, -INFINITY, "erfinv(-1)"},
      {mlx_erfinv, 1.5f, NAN, "erfinv(1.5)"},
      {mlx_erfinv, -0.0f, -0.0f, "erfinv(-0)"},
      {mlx_floor, -0.5f, -1.0f, "floor(-0.5)"},
      {mlx_ceil, -0.5f, -0.0f, "ceil(-0.5) = -0"},
      {round0, 2.5f, 2.0f, "round(2.5) ties to even"},
      {round0, -0.5f, -0.0f, "round(-0.5) = -0"},
      {round0, 1.5f, 2.0f, "round(1.5)"},
      {mlx_square, -INFINITY, INFINITY, "square(-inf)"},
      {mlx_degrees, INFINITY, INFINITY, "degrees(inf)"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    float y = apply_f32(cases[k].fn, cases[k].x);
    CHECK_MSG(bits_eq(y, cases[k].want), "%s: got %.9g", cases[k].what, y);
  }
}

/* erfinv: float64 is MLX's float32 formula widened; a few fixed points. */
static void test_erfinv_float64(void) {
  enum { N = 257 };
  double v[N];
  for (int i = 0; i < N; i++) v[i] = (float)(-1.0 + 2.0 * i / (N - 1));
  int n = N;
  mlx_array a64 = make(MLX_FLOAT64, &n, 1, v, NULL);
  mlx_array a32 = make(MLX_FLOAT32, &n, 1, v, NULL);
  mlx_array r64 = mlx_array_new(), r32 = mlx_array_new(), w = mlx_array_new();
  CHECK_OK(mlx_erfinv(&r64, a64, test_stream));
  CHECK_OK(mlx_erfinv(&r32, a32, test_stream));
  CHECK_OK(mlx_astype(&w, r32, MLX_FLOAT64, test_stream));
  CHECK(mlx_array_dtype(r64) == MLX_FLOAT64);
  CHECK(same_bytes(w, r64));
  mlx_array_free(a64);
  mlx_array_free(a32);
  mlx_array_free(r64);
  mlx_array_free(r32);
  mlx_array_free(w);
  /* erfinv(erf(y)) ~ y in the middle of the range */
  float y = apply_f32(mlx_erfinv, (float)erf(0.5));
  CHECK(fabs(y - 0.5) < 2e-7);
}

int main(void) {
  /* more workers than cores is fine: it makes sure the pool splits work */
  setenv("CMLX_NUM_THREADS", "4", 0);
  test_init();
  test_float_ops();
  test_float32_accuracy_sweep();
  test_special_values();
  test_erfinv_float64();
  return test_finish("test_unary_float");
}
