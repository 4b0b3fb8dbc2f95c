/* test_binary_cases.c - known answers and corner cases of the binary
 * elementwise family, strided inputs and donation, and divmod, where and
 * clip (dtypes, every-dtype values and errors are in test_binary.c).
 *
 * What it proves:
 * - MLX's corner cases (NaN in maximum/minimum, signed zeros, Python's %
 *   sign, truncating integer floor_divide, integer division by zero, shifts
 *   past the width, negative integer powers, complex ordering);
 * - inputs that are transposed, sliced or broadcast views give the values
 *   of contiguous ones;
 * - donation: chains whose intermediates die give the right values,
 *   reusing the buffer;
 * - divmod, where and clip on every dtype, against the reference. */
#include "binary_util.h"

/* ---- small known answers ---- */

/* op(a, b) on int32 vectors of length n equals want. */
static void check_i32(int op, const int32_t* a, const int32_t* b, const int32_t* want, int n) {
  mlx_array x = test_array_i32(a, &n, 1), y = test_array_i32(b, &n, 1), r = mlx_array_new();
  CHECK_OK(ops[op].fn(&r, x, y, test_stream));
  int32_t* got = read_raw(r);
  for (int i = 0; got && i < n; i++)
    CHECK_MSG(got[i] == want[i], "%s(%d, %d) = %d, want %d", ops[op].name, a[i], b[i], got[i],
              want[i]);
  free(got);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
}

/* op(a, b) on float32 vectors equals want (bitwise, NaN == NaN). */
static void check_f32(int op, const float* a, const float* b, const float* want, int n) {
  mlx_array x = test_array_f32(a, &n, 1), y = test_array_f32(b, &n, 1), r = mlx_array_new();
  CHECK_OK(ops[op].fn(&r, x, y, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT32);
  float* got = read_raw(r);
  for (int i = 0; got && i < n; i++) {
    bool ok = (isnan(got[i]) && isnan(want[i])) ||
              (got[i] == want[i] && signbit(got[i]) == signbit(want[i]));
    CHECK_MSG(ok, "%s(%g, %g) = %g, want %g", ops[op].name, a[i], b[i], got[i], want[i]);
  }
  free(got);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
}

static void test_integer_division(void) {
  /* floor_divide on integers is MLX's Divide: it truncates toward zero */
  check_i32(BINARY_FLOOR_DIVIDE, (const int32_t[]){-7, 7, -7, 7, 6, -1},
            (const int32_t[]){2, 2, -2, -2, 3, 3}, (const int32_t[]){-3, 3, 3, -3, 2, 0}, 6);
  /* remainder takes the divisor's sign, as Python's % */
  check_i32(BINARY_REMAINDER, (const int32_t[]){-7, 7, -7, 7, -1, 1, -5, 5, 6, -6},
            (const int32_t[]){2, 2, -2, -2, 3, -3, 3, -3, 3, 3},
            (const int32_t[]){1, 1, -1, -1, 2, -2, 1, -1, 0, 0}, 10);
  /* division by zero: 0 and 0 (MLX's CPU raises SIGFPE); INT_MIN / -1 wraps */
  check_i32(BINARY_FLOOR_DIVIDE, (const int32_t[]){5, -5, 0, INT32_MIN, INT32_MIN},
            (const int32_t[]){0, 0, 0, -1, 1},
            (const int32_t[]){0, 0, 0, INT32_MIN, INT32_MIN}, 5);
  check_i32(BINARY_REMAINDER, (const int32_t[]){5, -5, 0, INT32_MIN},
            (const int32_t[]){0, 0, 0, -1}, (const int32_t[]){0, 0, 0, 0}, 4);
  /* int64 and unsigned too */
  int64_t a64[3] = {INT64_MIN, 9, -9}, b64[3] = {-1, 0, 0};
  mlx_array x = make(a64, (const int[]){3}, 1, MLX_INT64), y = make(b64, (const int[]){3}, 1, MLX_INT64);
  mlx_array q = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_floor_divide(&q, x, y, test_stream));
  CHECK_OK(mlx_remainder(&r, x, y, test_stream));
  int64_t* gq = read_raw(q);
  int64_t* gr = read_raw(r);
  CHECK(gq && gq[0] == INT64_MIN && gq[1] == 0 && gq[2] == 0);
  CHECK(gr && gr[0] == 0 && gr[1] == 0 && gr[2] == 0);
  free(gq);
  free(gr);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(q);
  mlx_array_free(r);
  uint8_t ua[3] = {200, 7, 255}, ub[3] = {0, 2, 16};
  x = make(ua, (const int[]){3}, 1, MLX_UINT8);
  y = make(ub, (const int[]){3}, 1, MLX_UINT8);
  q = mlx_array_new();
  r = mlx_array_new();
  CHECK_OK(mlx_floor_divide(&q, x, y, test_stream));
  CHECK_OK(mlx_remainder(&r, x, y, test_stream));
  uint8_t* uq = read_raw(q);
  uint8_t* ur = read_raw(r);
  CHECK(uq && uq[0] == 0 && uq[1] == 3 && uq[2] == 15);
  CHECK(ur && ur[0] == 0 && ur[1] == 1 && ur[2] == 15);
  free(uq);
  free(ur);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(q);
  mlx_array_free(r);
}

static void test_float_division(void) {
  /* floats: floor_divide floors, remainder takes the divisor's sign */
  check_f32(BINARY_FLOOR_DIVIDE, (const float[]){-7, 7, -7.5f, 7.5f, 1, -1, 0},
            (const float[]){2, -2, 2, -2, 0, 0, 0},
            (const float[]){-4, -4, -4, -4, INFINITY, -INFINITY, NAN}, 7);
  check_f32(BINARY_REMAINDER, (const float[]){-7, 7, -7.5f, 7.5f, 3, 1, INFINITY, -0.0f},
            (const float[]){2, -2, 2, -2, 1.5f, 0, 2, 2},
            (const float[]){1, -1, 0.5f, -0.5f, 0, NAN, NAN, -0.0f}, 8);
  check_f32(BINARY_DIVIDE, (const float[]){1, -1, 0, 1}, (const float[]){0, 0, 0, -0.0f},
            (const float[]){INFINITY, -INFINITY, NAN, -INFINITY}, 4);
  /* float16 floor_divide rounds the quotient to float16 before flooring,
   * as MLX's floor(divide(a, b)) does: 6140/2047 = 2.99951... is 3 in
   * float16 (float32 would floor it to 2) */
  uint16_t h[2] = {f32_to_f16(6140.0f), f32_to_f16(2047.0f)};
  mlx_array x = make(&h[0], NULL, 0, MLX_FLOAT16), y = make(&h[1], NULL, 0, MLX_FLOAT16);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_floor_divide(&r, x, y, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT16);
  double* v = test_to_f64(r);
  CHECK_MSG(v && v[0] == 3, "float16 6140 // 2047 = %g, want 3", v ? v[0] : -1);
  free(v);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
}

static void test_special_values(void) {
  const float nan = NAN, inf = INFINITY;
  /* a NaN operand wins (b's first); ties between zeros give b */
  check_f32(BINARY_MAXIMUM, (const float[]){nan, 1, nan, -0.0f, 0.0f, -inf},
            (const float[]){1, nan, -nan, 0.0f, -0.0f, inf},
            (const float[]){nan, nan, -nan, 0.0f, -0.0f, inf}, 6);
  check_f32(BINARY_MINIMUM, (const float[]){nan, 1, -0.0f, 0.0f, -inf},
            (const float[]){1, nan, 0.0f, -0.0f, inf},
            (const float[]){nan, nan, 0.0f, -0.0f, -inf}, 5);
  check_f32(BINARY_LOGADDEXP, (const float[]){-inf, inf, inf, -inf, nan, 0},
            (const float[]){-inf, inf, -inf, 3, 1, 0},
            (const float[]){-inf, inf, inf, 3, nan, 0.6931471805599453f}, 6);
  check_f32(BINARY_ARCTAN2, (const float[]){0.0f, -0.0f, 0.0f, -0.0f, 1, -1},
            (const float[]){0.0f, 0.0f, -0.0f, -0.0f, 0, 0},
            (const float[]){0.0f, -0.0f, 3.14159265f, -3.14159265f, 1.57079633f, -1.57079633f}, 6);
  check_f32(BINARY_POWER, (const float[]){2, -2, 0, nan, 1, -8},
            (const float[]){10, 3, -1, 0, nan, 1.0f / 3},
            (const float[]){1024, -8, inf, 1, 1, nan}, 6);
  check_f32(BINARY_ADD, (const float[]){inf, -0.0f, nan}, (const float[]){-inf, -0.0f, 1},
            (const float[]){nan, -0.0f, nan}, 3);
  /* comparisons with NaN are false, except not_equal */
  float ca[3] = {nan, 1, nan}, cb[3] = {1, nan, nan};
  int n = 3;
  for (int op = BINARY_EQUAL; op <= BINARY_GREATER_EQUAL; op++) {
    mlx_array x = test_array_f32(ca, &n, 1), y = test_array_f32(cb, &n, 1), r = mlx_array_new();
    CHECK_OK(ops[op].fn(&r, x, y, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_BOOL);
    bool* g = read_raw(r);
    for (int i = 0; g && i < 3; i++)
      CHECK_MSG(g[i] == (op == BINARY_NOT_EQUAL), "%s with NaN", ops[op].name);
    free(g);
    mlx_array_free(x);
    mlx_array_free(y);
    mlx_array_free(r);
  }
  /* integer power: negative exponents give 0 (even for 1 and -1); wraps */
  check_i32(BINARY_POWER, (const int32_t[]){2, -2, 1, -1, 3, 2, 0},
            (const int32_t[]){-1, -3, -9, -1, 0, 31, 0},
            (const int32_t[]){0, 0, 0, 0, 1, INT32_MIN, 1}, 7);
  /* wrapping arithmetic */
  check_i32(BINARY_ADD, (const int32_t[]){INT32_MAX, INT32_MIN}, (const int32_t[]){1, -1},
            (const int32_t[]){INT32_MIN, INT32_MAX}, 2);
  check_i32(BINARY_MULTIPLY, (const int32_t[]){65536, INT32_MIN}, (const int32_t[]){65536, -1},
            (const int32_t[]){0, INT32_MIN}, 2);
  /* shifts past the width */
  check_i32(BINARY_LEFT_SHIFT, (const int32_t[]){1, 1, 1, -1, 3}, (const int32_t[]){31, 32, -1, 4, 100},
            (const int32_t[]){INT32_MIN, 0, 0, -16, 0}, 5);
  check_i32(BINARY_RIGHT_SHIFT, (const int32_t[]){-16, -16, 16, INT32_MIN, 7},
            (const int32_t[]){2, 40, 40, 31, -2}, (const int32_t[]){-4, -1, 0, -1, 0}, 5);
  /* uint8 shifts: 1 << 8 = 0, 200 >> 9 = 0 */
  uint8_t sa[2] = {1, 200}, sb[2] = {8, 9};
  mlx_array x = make(sa, (const int[]){2}, 1, MLX_UINT8), y = make(sb, (const int[]){2}, 1, MLX_UINT8);
  mlx_array l = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_left_shift(&l, x, y, test_stream));
  CHECK_OK(mlx_right_shift(&r, x, y, test_stream));
  uint8_t* gl = read_raw(l);
  uint8_t* gr = read_raw(r);
  CHECK(gl && gl[0] == 0 && gl[1] == 0);
  CHECK(gr && gr[0] == 0 && gr[1] == 0);
  free(gl);
  free(gr);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(l);
  mlx_array_free(r);
  /* shifting bools works in uint8: true << true = 2 */
  mlx_array t = mlx_array_new_bool(true);
  l = mlx_array_new();
  CHECK_OK(mlx_left_shift(&l, t, t, test_stream));
  CHECK(mlx_array_dtype(l) == MLX_UINT8);
  uint8_t v8 = 0;
  CHECK_OK(mlx_array_item_uint8(&v8, l));
  CHECK(v8 == 2);
  mlx_array_free(t);
  mlx_array_free(l);
}

/* logical ops cast their inputs to bool */
static void test_logical_casts(void) {
  float a[4] = {0, 2, NAN, -0.0f};
  int32_t b[4] = {5, 0, 1, 7};
  int n = 4;
  mlx_array x = test_array_f32(a, &n, 1), y = test_array_i32(b, &n, 1);
  mlx_array r = mlx_array_new(), o = mlx_array_new();
  CHECK_OK(mlx_logical_and(&r, x, y, test_stream));
  CHECK_OK(mlx_logical_or(&o, x, y, test_stream));
  bool* gr = read_raw(r);
  bool* go = read_raw(o);
  CHECK(gr && !gr[0] && !gr[1] && gr[2] && !gr[3]);
  CHECK(go && go[0] && go[1] && go[2] && go[3]);
  free(gr);
  free(go);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
  mlx_array_free(o);
}

/* complex64 against C's double complex arithmetic */
static void test_complex(void) {
  enum { N = 6 };
  float av[N][2] = {{1, 2}, {-3, 0.5f}, {0, 0}, {2, -1}, {1, 1}, {-0.5f, 4}};
  float bv[N][2] = {{3, -1}, {-3, 2}, {1, 0}, {2, -3}, {1, 1}, {0.25f, -2}};
  int n = N;
  mlx_array a = make(av, &n, 1, MLX_COMPLEX64), b = make(bv, &n, 1, MLX_COMPLEX64);
  static const int cops[] = {BINARY_ADD, BINARY_SUBTRACT, BINARY_MULTIPLY, BINARY_DIVIDE,
                             BINARY_POWER, BINARY_MAXIMUM, BINARY_MINIMUM, BINARY_LOGADDEXP};
  for (size_t k = 0; k < sizeof cops / sizeof *cops; k++) {
    int op = cops[k];
    mlx_array r = mlx_array_new();
    CHECK_OK(ops[op].fn(&r, a, b, test_stream));
    CHECK(mlx_array_dtype(r) == MLX_COMPLEX64);
    float(*g)[2] = read_raw(r);
    for (int i = 0; g && i < N; i++) {
      double complex x = av[i][0] + I * av[i][1], y = bv[i][0] + I * bv[i][1], w;
      bool xgt = av[i][0] > bv[i][0] || (av[i][0] == bv[i][0] && av[i][1] > bv[i][1]);
      bool ygt = bv[i][0] > av[i][0] || (bv[i][0] == av[i][0] && bv[i][1] > av[i][1]);
      switch (op) {
        case BINARY_ADD: w = x + y; break;
        case BINARY_SUBTRACT: w = x - y; break;
        case BINARY_MULTIPLY: w = x * y; break;
        case BINARY_DIVIDE: w = x / y; break;
        case BINARY_POWER: w = x == 0 ? 0 : cexp(y * clog(x)); break;
        case BINARY_MAXIMUM: w = xgt ? x : y; break;
        case BINARY_MINIMUM: w = ygt ? x : y; break;
        default: w = clog(cexp(x) + cexp(y)); break;
      }
      double err = cabs((g[i][0] + I * g[i][1]) - w);
      CHECK_MSG(err <= 1e-5 * (1 + cabs(w)), "complex %s [%d]: (%g,%g) want (%g,%g)",
                ops[op].name, i, g[i][0], g[i][1], creal(w), cimag(w));
    }
    free(g);
    mlx_array_free(r);
  }
  /* comparisons: equal on both parts; ordering by real, then imaginary */
  for (int op = BINARY_EQUAL; op <= BINARY_GREATER_EQUAL; op++) {
    mlx_array r = mlx_array_new();
    CHECK_OK(ops[op].fn(&r, a, b, test_stream));
    bool* g = read_raw(r);
    for (int i = 0; g && i < N; i++) {
      double ar = av[i][0], ai = av[i][1], br = bv[i][0], bi = bv[i][1];
      bool gt = ar > br || (ar == br && ai > bi), lt = br > ar || (ar == br && bi > ai);
      bool eq = ar == br && ai == bi, w;
      switch (op) {
        case BINARY_EQUAL: w = eq; break;
        case BINARY_NOT_EQUAL: w = !eq; break;
        case BINARY_LESS: w = lt; break;
        case BINARY_LESS_EQUAL: w = lt || eq; break;
        case BINARY_GREATER: w = gt; break;
        default: w = gt || eq; break;
      }
      CHECK_MSG(g[i] == w, "complex %s [%d]", ops[op].name, i);
    }
    free(g);
    mlx_array_free(r);
  }
  /* a real operand is promoted: (1+2i) + 1.5 */
  mlx_array f = mlx_array_new_float32(1.5f), r = mlx_array_new();
  CHECK_OK(mlx_add(&r, a, f, test_stream));
  float(*g)[2] = read_raw(r);
  CHECK(g && g[0][0] == 2.5f && g[0][1] == 2);
  free(g);
  mlx_array_free(f);
  mlx_array_free(r);
  mlx_array_free(a);
  mlx_array_free(b);
}

/* ---- views, donation ---- */

/* A view node over an internal array (tests may use internal headers). */
static mlx_array transpose2(mlx_array a) {
  array* in = a.ctx;
  view_params* p = view_params_new(VIEW_TRANSPOSE, 2);
  p->axes[0] = 1;
  p->axes[1] = 0;
  int shape[2] = {in->shape[1], in->shape[0]};
  return (mlx_array){op_view_node(in, 2, shape, p, *(stream*)test_stream.ctx)};
}

/* a[start0::step0, start1::step1] with the given output shape. */
static mlx_array slice2(mlx_array a, int s0, int st0, int s1, int st1, int n0, int n1) {
  array* in = a.ctx;
  view_params* p = view_params_new(VIEW_SLICE, 2);
  p->start[0] = s0;
  p->start[1] = s1;
  p->step[0] = st0;
  p->step[1] = st1;
  int shape[2] = {n0, n1};
  return (mlx_array){op_view_node(in, 2, shape, p, *(stream*)test_stream.ctx)};
}

static void test_non_contiguous(void) {
  /* x: [40, 300] row-major; xt = x^T is [300, 40] with strides (1, 300) */
  enum { R = 40, C = 300 };
  float* xd = malloc(sizeof(float) * R * C);
  float* yd = malloc(sizeof(float) * C * R);
  for (int i = 0; i < R * C; i++) xd[i] = (float)test_rand(-5, 5);
  for (int i = 0; i < R * C; i++) yd[i] = (float)test_rand(-5, 5);
  mlx_array x = test_array_f32(xd, (const int[]){R, C}, 2);
  mlx_array y = test_array_f32(yd, (const int[]){C, R}, 2);
  mlx_array xt = transpose2(x);
  mlx_array r = mlx_array_new();
  /* transposed + contiguous */
  CHECK_OK(mlx_subtract(&r, xt, y, test_stream));
  float* g = read_raw(r);
  for (int i = 0; g && i < C; i++)
    for (int j = 0; j < R; j++)
      if (g[i * R + j] != xd[j * C + i] - yd[i * R + j]) {
        CHECK_MSG(0, "transposed subtract [%d,%d]", i, j);
        i = C;
        break;
      }
  free(g);
  /* transposed with transposed (both strided), against a broadcast view */
  mlx_array yt = transpose2(y);
  CHECK_OK(mlx_multiply(&r, yt, x, test_stream)); /* [40,300] * [40,300] */
  g = read_raw(r);
  for (int i = 0; g && i < R; i++)
    for (int j = 0; j < C; j++)
      if (g[i * C + j] != yd[j * R + i] * xd[i * C + j]) {
        CHECK_MSG(0, "transposed multiply [%d,%d]", i, j);
        i = R;
        break;
      }
  free(g);
  /* sliced view: x[1::3, 2::7] is [13, 43]; with a broadcast row */
  mlx_array xs = slice2(x, 1, 3, 2, 7, 13, 43);
  float row[43];
  for (int j = 0; j < 43; j++) row[j] = (float)j - 20;
  mlx_array rv = test_array_f32(row, (const int[]){43}, 1);
  mlx_array rb = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&rb, rv, (const int[]){13, 43}, 2, test_stream));
  CHECK_OK(mlx_maximum(&r, rb, xs, test_stream));
  g = read_raw(r);
  for (int i = 0; g && i < 13; i++)
    for (int j = 0; j < 43; j++) {
      float xv = xd[(1 + 3 * i) * C + 2 + 7 * j];
      float want = xv > row[j] ? xv : row[j];
      if (g[i * 43 + j] != want) {
        CHECK_MSG(0, "sliced maximum [%d,%d]", i, j);
        i = 13;
        break;
      }
    }
  free(g);
  /* where on views: cond transposed, x sliced-shaped broadcast */
  mlx_array zero = mlx_array_new_float32(0), cond = mlx_array_new();
  CHECK_OK(mlx_greater(&cond, xt, zero, test_stream));
  CHECK_OK(mlx_where(&r, cond, xt, y, test_stream));
  g = read_raw(r);
  for (int i = 0; g && i < C; i++)
    for (int j = 0; j < R; j++) {
      float xv = xd[j * C + i];
      if (g[i * R + j] != (xv > 0 ? xv : yd[i * R + j])) {
        CHECK_MSG(0, "where on views [%d,%d]", i, j);
        i = C;
        break;
      }
    }
  free(g);
  mlx_array_free(zero);
  mlx_array_free(cond);
  mlx_array_free(xs);
  mlx_array_free(rv);
  mlx_array_free(rb);
  mlx_array_free(yt);
  mlx_array_free(xt);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
  free(xd);
  free(yd);
}

static void test_donation(void) {
  enum { N = 100000 };
  float* a = malloc(sizeof(float) * N);
  float* b = malloc(sizeof(float) * N);
  float* c = malloc(sizeof(float) * N);
  for (int i = 0; i < N; i++) {
    a[i] = (float)i;
    b[i] = 0.5f;
    c[i] = (float)(N - i);
  }
  int n = N;
  mlx_array x = test_array_f32(a, &n, 1), y = test_array_f32(b, &n, 1), z = test_array_f32(c, &n, 1);
  /* add(add(add(x, y), z), y): intermediates die inside the graph */
  mlx_array t1 = mlx_array_new(), t2 = mlx_array_new(), t3 = mlx_array_new();
  CHECK_OK(mlx_add(&t1, x, y, test_stream));
  CHECK_OK(mlx_add(&t2, t1, z, test_stream));
  CHECK_OK(mlx_subtract(&t3, t2, y, test_stream));
  mlx_array_free(t1);
  mlx_array_free(t2);
  float* g = read_raw(t3);
  for (int i = 0; g && i < N; i++)
    if (g[i] != (float)((a[i] + b[i]) + c[i]) - b[i]) {
      CHECK_MSG(0, "donated chain [%d] = %g", i, g[i]);
      break;
    }
  free(g);
  mlx_array_free(t3);
  /* an evaluated intermediate whose handle is dropped gives its buffer */
  t1 = mlx_array_new();
  CHECK_OK(mlx_multiply(&t1, x, y, test_stream));
  const float* p1 = mlx_array_data_float32(t1);
  t2 = mlx_array_new();
  CHECK_OK(mlx_add(&t2, t1, z, test_stream));
  mlx_array_free(t1);
  CHECK_OK(mlx_array_eval(t2));
  CHECK_MSG(mlx_array_data_float32(t2) == p1, "the dying input's buffer was not reused");
  const float* p2 = mlx_array_data_float32(t2);
  for (int i = 0; p2 && i < N; i++)
    if (p2[i] != a[i] * b[i] + c[i]) {
      CHECK_MSG(0, "donated [%d]", i);
      break;
    }
  /* ... but not while someone still holds the input */
  t3 = mlx_array_new();
  CHECK_OK(mlx_add(&t3, t2, t2, test_stream)); /* the node holds t2 twice */
  CHECK_OK(mlx_array_eval(t3));
  CHECK(mlx_array_data_float32(t3) != mlx_array_data_float32(t2));
  const float* p3 = mlx_array_data_float32(t3);
  CHECK(p3 && p2 && p3[7] == 2 * p2[7]);
  CHECK(p2 && p2[7] == a[7] * b[7] + c[7]); /* unchanged */
  mlx_array_free(t2);
  mlx_array_free(t3);
  /* a comparison can take a 1-byte input's buffer; divmod can take two */
  int32_t qa[4] = {7, -7, 9, 0}, qb[4] = {2, 2, -4, 3};
  mlx_array u = test_array_i32(qa, (const int[]){4}, 1), v = test_array_i32(qb, (const int[]){4}, 1);
  mlx_array ua = mlx_array_new(), vb = mlx_array_new();
  CHECK_OK(mlx_copy(&ua, u, test_stream));
  CHECK_OK(mlx_copy(&vb, v, test_stream));
  mlx_vector_array qr = mlx_vector_array_new();
  CHECK_OK(mlx_divmod(&qr, ua, vb, test_stream));
  mlx_array_free(ua);
  mlx_array_free(vb);
  mlx_array q = mlx_array_new(), rr = mlx_array_new();
  CHECK_OK(mlx_vector_array_get(&q, qr, 0));
  CHECK_OK(mlx_vector_array_get(&rr, qr, 1));
  mlx_vector_array_free(qr);
  int32_t* gq = read_raw(q);
  int32_t* gr = read_raw(rr);
  CHECK(gq && gq[0] == 3 && gq[1] == -4 && gq[2] == -3 && gq[3] == 0);
  CHECK(gr && gr[0] == 1 && gr[1] == 1 && gr[2] == -3 && gr[3] == 0);
  free(gq);
  free(gr);
  mlx_array_free(q);
  mlx_array_free(rr);
  mlx_array_free(u);
  mlx_array_free(v);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(z);
  free(a);
  free(b);
  free(c);
}

/* ---- divmod, where, clip ---- */

static void test_divmod(void) {
  /* floors, matching Python: q * b + r == a */
  int32_t av[10] = {-7, 7, -7, 7, -1, 1, -5, 5, 6, -6}, bv[10] = {2, 2, -2, -2, 3, -3, 3, -3, 3, 3};
  int32_t wq[10] = {-4, 3, 3, -4, -1, -1, -2, -2, 2, -2}, wr[10] = {1, 1, -1, -1, 2, -2, 1, -1, 0, 0};
  int n = 10;
  mlx_array a = test_array_i32(av, &n, 1), b = test_array_i32(bv, &n, 1);
  mlx_vector_array res = mlx_vector_array_new();
  CHECK_OK(mlx_divmod(&res, a, b, test_stream));
  CHECK(mlx_vector_array_size(res) == 2);
  mlx_array q = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_vector_array_get(&q, res, 0));
  CHECK_OK(mlx_vector_array_get(&r, res, 1));
  CHECK(mlx_array_dtype(q) == MLX_INT32 && mlx_array_dtype(r) == MLX_INT32);
  int32_t* gq = read_raw(q);
  int32_t* gr = read_raw(r);
  for (int i = 0; gq && gr && i < n; i++)
    CHECK_MSG(gq[i] == wq[i] && gr[i] == wr[i], "divmod(%d, %d) = (%d, %d)", av[i], bv[i],
              gq[i], gr[i]);
  free(gq);
  free(gr);
  mlx_array_free(a);
  mlx_array_free(b);
  /* floats, with broadcasting: [2,1] by [3] */
  float fa[2] = {-7.5f, 7.5f}, fb[3] = {2, -2, 0.5f};
  a = test_array_f32(fa, (const int[]){2, 1}, 2);
  b = test_array_f32(fb, (const int[]){3}, 1);
  CHECK_OK(mlx_divmod(&res, a, b, test_stream));
  CHECK_OK(mlx_vector_array_get(&q, res, 0));
  CHECK_OK(mlx_vector_array_get(&r, res, 1));
  CHECK(test_shape_is(q, (const int[]){2, 3}, 2) && test_shape_is(r, (const int[]){2, 3}, 2));
  float* fq = read_raw(q);
  float* fr = read_raw(r);
  float wfq[6] = {-4, 3, -15, 3, -4, 15}, wfr[6] = {0.5f, -1.5f, 0, 1.5f, -0.5f, 0};
  for (int i = 0; fq && fr && i < 6; i++)
    CHECK_MSG(fq[i] == wfq[i] && fr[i] == wfr[i], "float divmod [%d] = (%g, %g)", i, fq[i], fr[i]);
  free(fq);
  free(fr);
  mlx_array_free(a);
  mlx_array_free(b);
  /* every real dtype, random values, against floor_divide-style reference */
  for (int k = 0; k < N_DTYPES - 1; k++) {
    mlx_dtype t = all_dtypes[k];
    enum { M = 37 };
    uint64_t da[M], db[M];
    fill_random(da, t, M, BINARY_REMAINDER, 0);
    fill_random(db, t, M, BINARY_REMAINDER, 1);
    int m = M;
    a = make(da, &m, 1, t);
    b = make(db, &m, 1, t);
    CHECK_OK(mlx_divmod(&res, a, b, test_stream));
    CHECK_OK(mlx_vector_array_get(&q, res, 0));
    CHECK_OK(mlx_vector_array_get(&r, res, 1));
    CHECK(mlx_array_dtype(q) == t && mlx_array_dtype(r) == t);
    void* gqv = read_raw(q);
    void* grv = read_raw(r);
    for (int i = 0; gqv && grv && i < M; i++) {
      if (is_float(t)) {
        double x = elem_f(da, t, (size_t)i), y = elem_f(db, t, (size_t)i);
        int64_t tol;
        double wrr = ref_float(BINARY_REMAINDER, t, x, y, &tol);
        double wqq = floor(round_to(t, x / y));
        CHECK_MSG(elem_f(gqv, t, (size_t)i) == wqq && elem_f(grv, t, (size_t)i) == wrr,
                  "divmod %s [%d]", dname(t), i);
      } else {
        uint64_t x = elem_i(da, t, (size_t)i), y = elem_i(db, t, (size_t)i);
        uint64_t wrr = t == MLX_BOOL ? ref_bool(BINARY_REMAINDER, x, y)
                                     : ref_int(BINARY_REMAINDER, t, x, y);
        /* floor quotient: (a - r) / b exactly, 0 for b == 0, -a for b == -1 */
        uint64_t wqq;
        if (y == 0) wqq = 0;
        else if (t == MLX_BOOL) wqq = x;
        else if (is_signed_int(t) && (int64_t)y == -1) wqq = 0 - x;
        else if (is_signed_int(t)) wqq = (uint64_t)(sext(t, x - wrr) / (int64_t)y);
        else wqq = x / y;
        uint64_t m = mask_of(t);
        CHECK_MSG((elem_i(gqv, t, (size_t)i) & m) == (wqq & m) &&
                      (elem_i(grv, t, (size_t)i) & m) == (wrr & m),
                  "divmod %s [%d]: %lld, %lld", dname(t), i, (long long)x, (long long)y);
      }
    }
    free(gqv);
    free(grv);
    mlx_array_free(a);
    mlx_array_free(b);
  }
  mlx_array_free(q);
  mlx_array_free(r);
  mlx_vector_array_free(res);
}

static void test_where(void) {
  /* cond [3,1] (float, cast to bool) with x int32 [4] and y float16 0-d */
  float cd[3] = {1, 0, NAN};
  int32_t xd[4] = {1, 2, 3, 4};
  uint16_t yd = f32_to_f16(-0.5f);
  mlx_array c = test_array_f32(cd, (const int[]){3, 1}, 2);
  mlx_array x = test_array_i32(xd, (const int[]){4}, 1);
  mlx_array y = make(&yd, NULL, 0, MLX_FLOAT16);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_where(&r, c, x, y, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT16); /* promote(int32, float16) */
  CHECK(test_shape_is(r, (const int[]){3, 4}, 2));
  double* v = test_to_f64(r);
  for (int i = 0; v && i < 3; i++)
    for (int j = 0; j < 4; j++)
      CHECK_MSG(v[i * 4 + j] == (i != 1 ? xd[j] : -0.5), "where [%d,%d] = %g", i, j, v[i * 4 + j]);
  free(v);
  /* every dtype (every element size), threaded size, cond contiguous with
   * x contiguous and y a scalar, and x, y both scalars */
  for (int k = 0; k < N_DTYPES; k++) {
    mlx_dtype t = all_dtypes[k];
    enum { M = 70003 };
    bool* cb = malloc(M);
    float* xf = malloc(sizeof(float) * M);
    for (int i = 0; i < M; i++) {
      cb[i] = (i % 3) == 0;
      xf[i] = (float)(i % 5 + 1);
    }
    mlx_array cc = make(cb, (const int[]){M}, 1, MLX_BOOL);
    mlx_array xsrc = test_array_f32(xf, (const int[]){M}, 1);
    mlx_array seven = mlx_array_new_float32(7), xt = mlx_array_new(), yt = mlx_array_new();
    CHECK_OK(mlx_astype(&xt, xsrc, t, test_stream));
    CHECK_OK(mlx_astype(&yt, seven, t, test_stream));
    mlx_array rr = mlx_array_new();
    CHECK_OK(mlx_where(&rr, cc, xt, yt, test_stream));
    CHECK(mlx_array_dtype(rr) == t);
    double* g = test_to_f64(rr);
    double* xv = test_to_f64(xt);
    double* yv = test_to_f64(yt);
    for (int i = 0; g && xv && yv && i < M; i++)
      if (g[i] != (cb[i] ? xv[i] : yv[0])) {
        CHECK_MSG(0, "where %s [%d]", dname(t), i);
        break;
      }
    free(g);
    /* both scalars */
    CHECK_OK(mlx_where(&rr, cc, yt, seven, test_stream));
    g = test_to_f64(rr);
    for (int i = 0; g && i < M; i++)
      if (g[i] != (cb[i] ? yv[0] : 7)) {
        CHECK_MSG(0, "where scalars %s [%d]", dname(t), i);
        break;
      }
    free(g);
    free(xv);
    free(yv);
    free(cb);
    free(xf);
    mlx_array_free(cc);
    mlx_array_free(xsrc);
    mlx_array_free(seven);
    mlx_array_free(xt);
    mlx_array_free(yt);
    mlx_array_free(rr);
  }
  /* empty and 0-d */
  mlx_array e = make(xd, (const int[]){0, 4}, 2, MLX_INT32);
  EXPECT_ERROR(mlx_where(&r, c, e, y, test_stream),
               "[broadcast_shapes] Shapes (3,1) and (0,4) cannot be broadcast.");
  mlx_array t0 = mlx_array_new_bool(true);
  CHECK_OK(mlx_where(&r, t0, e, y, test_stream));
  CHECK(test_shape_is(r, (const int[]){0, 4}, 2));
  CHECK_OK(mlx_array_eval(r));
  CHECK_OK(mlx_where(&r, t0, y, x, test_stream));
  CHECK(test_shape_is(r, (const int[]){4}, 1));
  v = test_to_f64(r);
  CHECK(v && v[0] == -0.5 && v[3] == -0.5);
  free(v);
  mlx_array_free(t0);
  mlx_array_free(e);
  mlx_array_free(c);
  mlx_array_free(x);
  mlx_array_free(y);
  mlx_array_free(r);
}

static void test_clip(void) {
  float d[6] = {-3, -0.5f, 0, 0.5f, 3, NAN};
  int n = 6;
  mlx_array a = test_array_f32(d, &n, 1);
  mlx_array lo = mlx_array_new_float32(-1), hi = mlx_array_new_float32(1);
  mlx_array none = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_clip(&r, a, lo, hi, test_stream));
  float* g = read_raw(r);
  float w[6] = {-1, -0.5f, 0, 0.5f, 1, NAN};
  for (int i = 0; g && i < 6; i++)
    CHECK_MSG(g[i] == w[i] || (isnan(g[i]) && isnan(w[i])), "clip [%d] = %g", i, g[i]);
  free(g);
  CHECK_OK(mlx_clip(&r, a, lo, none, test_stream));
  g = read_raw(r);
  CHECK(g && g[0] == -1 && g[4] == 3);
  free(g);
  CHECK_OK(mlx_clip(&r, a, none, hi, test_stream));
  g = read_raw(r);
  CHECK(g && g[0] == -3 && g[4] == 1);
  free(g);
  /* dtypes promote: int32 clipped by float bounds is float32 */
  int32_t id[3] = {-5, 0, 5};
  mlx_array ia = test_array_i32(id, (const int[]){3}, 1);
  CHECK_OK(mlx_clip(&r, ia, lo, none, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT32);
  /* per-element bounds broadcast: [3] clipped by [2,1] */
  float lod[2] = {-2, 1}, hid[1] = {4};
  mlx_array l2 = test_array_f32(lod, (const int[]){2, 1}, 2), h1 = test_array_f32(hid, (const int[]){1}, 1);
  CHECK_OK(mlx_clip(&r, ia, l2, h1, test_stream));
  CHECK(test_shape_is(r, (const int[]){2, 3}, 2));
  double* v = test_to_f64(r);
  CHECK(v && v[0] == -2 && v[1] == 0 && v[2] == 4 && v[3] == 1 && v[4] == 1 && v[5] == 4);
  free(v);
  EXPECT_ERROR(mlx_clip(&r, a, none, none, test_stream),
               "At most one of a_min and a_max may be None");
  mlx_array_free(l2);
  mlx_array_free(h1);
  mlx_array_free(ia);
  mlx_array_free(a);
  mlx_array_free(lo);
  mlx_array_free(hi);
  mlx_array_free(r);
}

int main(void) {
  test_init();
  test_integer_division();
  test_float_division();
  test_special_values();
  test_logical_casts();
  test_complex();
  test_non_contiguous();
  test_donation();
  test_divmod();
  test_where();
  test_clip();
  return test_finish("test_binary_cases");
}
