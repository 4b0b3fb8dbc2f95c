/* test_creation.c - the creation ops: zeros, ones, full (and _like),
 * arange, linspace, eye, identity, tri, tril and triu.
 *
 * arange and linspace must equal MLX's own arithmetic bit for bit (the
 * test replays it: arange accumulates in the output type, linspace is a
 * chain of float32 ops) and stay close to the exact double-precision
 * sequence; the rest are checked element by element against references
 * written here, over every dtype, 0-d, empty and non-contiguous inputs.
 * Every error path is checked with MLX's exact text. */
#include <stdlib.h>

#include "core/half.h"
#include "harness.h"

/* ---- helpers ---- */

static int64_t shape_size(const int* shape, int nd) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= shape[i];
  return n;
}

static bool values_are(mlx_array a, const int* shape, int nd, const double* want) {
  if (!test_shape_is(a, shape, nd)) return false;
  int64_t n = shape_size(shape, nd);
  double* got = test_to_f64(a);
  if (!got) return false;
  bool ok = true;
  for (int64_t i = 0; i < n; i++)
    if (!(got[i] == want[i] || (isnan(got[i]) && isnan(want[i])))) {
      if (ok) fprintf(stderr, "  element %lld: got %.17g, want %.17g\n", (long long)i, got[i], want[i]);
      ok = false;
    }
  free(got);
  return ok;
}

/* Row-major bytes of a (evaluated, copied if it is a view). Caller frees. */
static unsigned char* bytes_of(mlx_array a) {
  mlx_array c = mlx_array_new();
  unsigned char* out = NULL;
  if (mlx_contiguous(&c, a, false, test_stream) == 0) {
    size_t n = mlx_array_nbytes(c);
    const unsigned char* p = mlx_array_data_uint8(c);
    out = malloc(n ? n : 1);
    if (p && n) memcpy(out, p, n);
  }
  mlx_array_free(c);
  return out;
}

static mlx_array random_f32(const int* shape, int nd) {
  int64_t n = shape_size(shape, nd);
  float* d = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) d[i] = (float)test_rand(-4, 4);
  mlx_array a = mlx_array_new_data(d, shape, nd, MLX_FLOAT32);
  free(d);
  return a;
}

static const mlx_dtype all_dtypes[] = {
    MLX_BOOL,  MLX_UINT8, MLX_UINT16,  MLX_UINT32,  MLX_UINT64,   MLX_INT8,     MLX_INT16,
    MLX_INT32, MLX_INT64, MLX_FLOAT16, MLX_FLOAT32, MLX_FLOAT64, MLX_BFLOAT16, MLX_COMPLEX64,
};
#define N_DTYPES (sizeof all_dtypes / sizeof all_dtypes[0])

/* ---- zeros, ones, full ---- */

static void test_zeros_ones(void) {
  int shapes[][3] = {{2, 3, 0}, {0, 4, 0}, {300, 300, 0}};
  int nds[] = {2, 2, 2};
  mlx_array r = mlx_array_new();
  for (size_t t = 0; t < N_DTYPES; t++) {
    mlx_dtype dt = all_dtypes[t];
    size_t esz = mlx_dtype_size(dt);
    for (size_t s = 0; s < 4; s++) {
      const int* shape = s < 3 ? shapes[s] : NULL;
      int nd = s < 3 ? nds[s] : 0;
      int64_t n = shape_size(shape, nd);
      for (int v = 0; v < 2; v++) {
        if (v == 0)
          CHECK_OK(mlx_zeros(&r, shape, (size_t)nd, dt, test_stream));
        else
          CHECK_OK(mlx_ones(&r, shape, (size_t)nd, dt, test_stream));
        CHECK(mlx_array_dtype(r) == dt);
        CHECK(test_shape_is(r, shape, nd));
        unsigned char* b = bytes_of(r);
        /* the bytes of one element of the expected value */
        unsigned char one[8] = {0};
        mlx_array ref = mlx_array_new(), src = mlx_array_new_int(v);
        CHECK_OK(mlx_astype(&ref, src, dt, test_stream));
        unsigned char* rb = bytes_of(ref);
        memcpy(one, rb, esz);
        bool ok = b != NULL;
        for (int64_t i = 0; ok && i < n; i++)
          if (memcmp(b + (size_t)i * esz, one, esz) != 0) ok = false;
        CHECK_MSG(ok, "dtype %d shape %zu value %d", (int)dt, s, v);
        free(b);
        free(rb);
        mlx_array_free(ref);
        mlx_array_free(src);
      }
    }
  }
  EXPECT_ERROR(mlx_zeros(&r, (int[]){2, -1}, 2, MLX_FLOAT32, test_stream),
               "[full] Negative dimensions not allowed.");
  EXPECT_ERROR(mlx_ones(&r, (int[]){-3}, 1, MLX_INT32, test_stream),
               "[full] Negative dimensions not allowed.");
  EXPECT_ERROR(mlx_zeros(&r, (int[]){2}, 1, (mlx_dtype)99, test_stream),
               "[full] Invalid dtype 99.");
  EXPECT_ERROR(mlx_zeros(NULL, (int[]){2}, 1, MLX_FLOAT32, test_stream),
               "[zeros] The result pointer is NULL.");
  EXPECT_ERROR(mlx_zeros(&r, (int[]){2}, 1, MLX_FLOAT32, mlx_stream_new()),
               "[zeros] The stream handle is empty.");
  mlx_array_free(r);
}

static void test_like(void) {
  mlx_array r = mlx_array_new();
  /* a pending, transposed int16 view: the result keeps shape and dtype */
  int16_t d[6] = {1, 2, 3, 4, 5, 6};
  mlx_array a = mlx_array_new_data(d, (int[]){2, 3}, 2, MLX_INT16), t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, a, test_stream));
  CHECK_OK(mlx_zeros_like(&r, t, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_INT16);
  CHECK(values_are(r, (int[]){3, 2}, 2, (double[]){0, 0, 0, 0, 0, 0}));
  CHECK_OK(mlx_ones_like(&r, t, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_INT16);
  CHECK(values_are(r, (int[]){3, 2}, 2, (double[]){1, 1, 1, 1, 1, 1}));
  mlx_array z = mlx_array_new_complex(1, 2);
  CHECK_OK(mlx_ones_like(&r, z, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_COMPLEX64 && mlx_array_ndim(r) == 0);
  mlx_complex64_t c = 0;
  CHECK_OK(mlx_array_item_complex64(&c, r));
  CHECK(crealf(c) == 1 && cimagf(c) == 0);
  mlx_array e = mlx_array_new_data(d, (int[]){0, 3}, 2, MLX_UINT8);
  CHECK_OK(mlx_zeros_like(&r, e, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_UINT8 && test_shape_is(r, (int[]){0, 3}, 2));

  /* full_like: the dtype given, the shape broadcast from both */
  mlx_array v = mlx_array_new_float(1.5f);
  CHECK_OK(mlx_full_like(&r, t, v, MLX_FLOAT32, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT32);
  CHECK(values_are(r, (int[]){3, 2}, 2, (double[]){1.5, 1.5, 1.5, 1.5, 1.5, 1.5}));
  CHECK_OK(mlx_full_like(&r, t, v, MLX_INT16, test_stream));
  CHECK(values_are(r, (int[]){3, 2}, 2, (double[]){1, 1, 1, 1, 1, 1}));
  float row[2] = {7, 8};
  mlx_array vr = mlx_array_new_data(row, (int[]){2}, 1, MLX_FLOAT32);
  CHECK_OK(mlx_full_like(&r, t, vr, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){3, 2}, 2, (double[]){7, 8, 7, 8, 7, 8}));
  mlx_array vb = mlx_array_new_data(row, (int[]){2, 1, 1}, 3, MLX_FLOAT32);
  CHECK_OK(mlx_full_like(&r, t, vb, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){2, 3, 2}, 3,
                   (double[]){7, 7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8}));
  mlx_array bad = mlx_array_new_data(d, (int[]){4}, 1, MLX_INT16);
  EXPECT_ERROR(mlx_full_like(&r, t, bad, MLX_FLOAT32, test_stream),
               "[broadcast_shapes] Shapes (3,2) and (4) cannot be broadcast.");
  EXPECT_ERROR(mlx_full_like(&r, t, mlx_array_new(), MLX_FLOAT32, test_stream),
               "[full_like] The vals array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_zeros_like(&r, mlx_array_new(), test_stream),
               "[zeros_like] The input array is empty (an mlx_array_new() handle).");
  mlx_array_free(a);
  mlx_array_free(t);
  mlx_array_free(z);
  mlx_array_free(e);
  mlx_array_free(v);
  mlx_array_free(vr);
  mlx_array_free(vb);
  mlx_array_free(bad);
  mlx_array_free(r);
}

static void test_full(void) {
  mlx_array r = mlx_array_new();
  /* a scalar converted like astype (float -> int truncates) */
  mlx_array v = mlx_array_new_float(-2.7f);
  CHECK_OK(mlx_full(&r, (int[]){2, 2}, 2, v, MLX_INT32, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_INT32);
  CHECK(values_are(r, (int[]){2, 2}, 2, (double[]){-2, -2, -2, -2}));
  CHECK_OK(mlx_full(&r, NULL, 0, v, MLX_FLOAT64, test_stream));
  CHECK(values_are(r, NULL, 0, (double[]){(double)-2.7f}));
  CHECK_OK(mlx_full(&r, (int[]){0, 3}, 2, v, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){0, 3}, 2, NULL));
  /* arrays broadcast along leading and size-1 axes */
  float row[3] = {1, 2, 3};
  mlx_array vr = mlx_array_new_data(row, (int[]){3}, 1, MLX_FLOAT32);
  CHECK_OK(mlx_full(&r, (int[]){2, 3}, 2, vr, MLX_FLOAT16, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT16);
  CHECK(values_are(r, (int[]){2, 3}, 2, (double[]){1, 2, 3, 1, 2, 3}));
  mlx_array vc = mlx_array_new_data(row, (int[]){3, 1}, 2, MLX_FLOAT32);
  CHECK_OK(mlx_full(&r, (int[]){3, 2}, 2, vc, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){3, 2}, 2, (double[]){1, 1, 2, 2, 3, 3}));
  /* a transposed vals of the full shape: copied, not aliased */
  float m[6] = {1, 2, 3, 4, 5, 6};
  mlx_array vm = mlx_array_new_data(m, (int[]){2, 3}, 2, MLX_FLOAT32), vt = mlx_array_new();
  CHECK_OK(mlx_transpose(&vt, vm, test_stream));
  CHECK_OK(mlx_full(&r, (int[]){2, 3, 2}, 3, vt, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){2, 3, 2}, 3, (double[]){1, 4, 2, 5, 3, 6, 1, 4, 2, 5, 3, 6}));
  CHECK_OK(mlx_full(&r, (int[]){3, 2}, 2, vt, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){3, 2}, 2, (double[]){1, 4, 2, 5, 3, 6}));
  bool row_contiguous = false;
  CHECK_OK(_mlx_array_is_row_contiguous(&row_contiguous, r));
  CHECK(row_contiguous);
  CHECK(mlx_array_data_float32(r) != mlx_array_data_float32(vm));
  /* a large fill goes through the threaded path */
  mlx_array seven = mlx_array_new_int(7);
  CHECK_OK(mlx_full(&r, (int[]){1000, 300}, 2, seven, MLX_INT64, test_stream));
  const int64_t* p = mlx_array_data_int64(r);
  bool ok = p != NULL;
  for (int i = 0; ok && i < 300000; i++)
    if (p[i] != 7) ok = false;
  CHECK(ok);
  /* errors, in MLX's order */
  EXPECT_ERROR(mlx_full(&r, (int[]){-1, 3}, 2, vr, MLX_FLOAT32, test_stream),
               "[full] Negative dimensions not allowed.");
  EXPECT_ERROR(mlx_full(&r, (int[]){2, 4}, 2, vr, MLX_FLOAT32, test_stream),
               "[broadcast_shapes] Shapes (3) and (2,4) cannot be broadcast.");
  EXPECT_ERROR(mlx_full(&r, (int[]){3}, 1, vm, MLX_FLOAT32, test_stream),
               "Cannot broadcast array of shape (2,3) into shape (3).");
  EXPECT_ERROR(mlx_full(&r, (int[]){3}, 1, mlx_array_new(), MLX_FLOAT32, test_stream),
               "[full] The vals array is empty (an mlx_array_new() handle).");
  mlx_array_free(v);
  mlx_array_free(vr);
  mlx_array_free(vc);
  mlx_array_free(vm);
  mlx_array_free(vt);
  mlx_array_free(seven);
  mlx_array_free(r);
}

/* ---- arange ---- */

/* MLX's float32 loop, replayed. */
static void arange_f32_ref(double start, double step, int n, double* out) {
  float v = (float)start, s = (float)(start + step) - v;
  for (int i = 0; i < n; i++, v += s) out[i] = v;
}

static void test_arange_float(void) {
  mlx_array r = mlx_array_new();
  struct {
    double start, stop, step;
    int size;
  } cases[] = {
      {0, 10, 1, 10},     {0, 10, 3, 4},        {10, 0, -3, 4},       {0, -1, 1, 0},
      {0, 0, 1, 0},       {0.5, 2, 0.5, 3},     {0, 1, 0.1, 10},      {0, 0.3, 0.1, 3},
      {1, 1.3, 0.1, 4}, /* ceil(3.0000000000000004) */
      {-5, 5, 0.25, 40},  {3, -2.5, -0.7, 8},   {0, 100, 0.01, 10000}, {1e8, 1e8 + 10, 1, 10},
      {16777216, 16777226, 1, 10}, /* float32 step 0: all the same */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int n = cases[c].size;
    CHECK_OK(mlx_arange(&r, cases[c].start, cases[c].stop, cases[c].step, MLX_FLOAT32,
                        test_stream));
    CHECK_MSG((int)mlx_array_size(r) == n, "case %zu: size %zu", c, mlx_array_size(r));
    double* want = malloc(sizeof(double) * (size_t)(n ? n : 1));
    arange_f32_ref(cases[c].start, cases[c].step, n, want);
    CHECK_MSG(values_are(r, (int[]){n}, 1, want), "case %zu", c);
    /* and the accumulated drift stays small against the exact sequence */
    for (int i = 0; i < n; i++) {
      double exact = cases[c].start + i * cases[c].step;
      double tol = 1e-6 * (fabs(cases[c].start) + n * fabs(cases[c].step)) + 1e-6 * i;
      if (c == 12 || c == 13) tol = 16; /* beyond 2^24 float32 holds even numbers only */
      CHECK_MSG(fabs(want[i] - exact) <= tol, "case %zu i %d: %g vs %g", c, i, want[i], exact);
    }
    free(want);
    /* float64 accumulates in double */
    CHECK_OK(mlx_arange(&r, cases[c].start, cases[c].stop, cases[c].step, MLX_FLOAT64,
                        test_stream));
    want = malloc(sizeof(double) * (size_t)(n ? n : 1));
    double v = cases[c].start, s = (cases[c].start + cases[c].step) - v;
    for (int i = 0; i < n; i++, v += s) want[i] = v;
    CHECK_MSG(values_are(r, (int[]){n}, 1, want), "case %zu float64", c);
    free(want);
  }
  /* the float32 quirk past 2^24, spelled out */
  CHECK_OK(mlx_arange(&r, 16777216, 16777226, 1, MLX_FLOAT32, test_stream));
  const float* f = mlx_array_data_float32(r);
  CHECK(f && f[0] == 16777216.0f && f[9] == 16777216.0f);

  /* half types accumulate with a rounding after every step */
  for (int h = 0; h < 2; h++) {
    mlx_dtype dt = h ? MLX_BFLOAT16 : MLX_FLOAT16;
    CHECK_OK(mlx_arange(&r, 0, 3, 0.1, dt, test_stream));
    CHECK(mlx_array_dtype(r) == dt && mlx_array_size(r) == 30);
    double want[30];
    uint16_t bits = h ? f32_to_bf16(0.0f) : f32_to_f16(0.0f);
#define LOAD(b) (h ? bf16_to_f32(b) : f16_to_f32(b))
#define STORE(x) (h ? f32_to_bf16(x) : f32_to_f16(x))
    float step = LOAD(STORE(LOAD(STORE(0.1f)) - LOAD(bits)));
    for (int i = 0; i < 30; i++, bits = STORE(LOAD(bits) + step)) {
      want[i] = LOAD(bits);
      CHECK(fabs(want[i] - 0.1 * i) <= (h ? 0.08 : 0.01));
    }
#undef LOAD
#undef STORE
    CHECK_MSG(values_are(r, (int[]){30}, 1, want), "half %d", h);
  }
  /* complex64: real part only */
  CHECK_OK(mlx_arange(&r, 1, 4, 1, MLX_COMPLEX64, test_stream));
  const mlx_complex64_t* z = mlx_array_data_complex64(r);
  CHECK(z && crealf(z[0]) == 1 && crealf(z[2]) == 3 && cimagf(z[0]) == 0 && cimagf(z[2]) == 0);
  /* an infinite step in the right direction gives just start */
  CHECK_OK(mlx_arange(&r, 2, 5, INFINITY, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){1}, 1, (double[]){2}));
  CHECK_OK(mlx_arange(&r, 5, 2, -INFINITY, MLX_INT32, test_stream));
  CHECK(values_are(r, (int[]){1}, 1, (double[]){5}));
  CHECK_OK(mlx_arange(&r, 5, 2, INFINITY, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){0}, 1, NULL));
  /* a range running to -inf is just empty */
  CHECK_OK(mlx_arange(&r, 1e308, -1e308, 1, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){0}, 1, NULL));
  mlx_array_free(r);
}

static void test_arange_int(void) {
  mlx_array r = mlx_array_new();
  /* each dtype replays T(start) and T(start + step) - T(start) */
  for (size_t t = 1; t < N_DTYPES; t++) {
    mlx_dtype dt = all_dtypes[t];
    CHECK_OK(mlx_arange(&r, 1, 11, 2, dt, test_stream));
    CHECK(mlx_array_dtype(r) == dt);
    CHECK_MSG(values_are(r, (int[]){5}, 1, (double[]){1, 3, 5, 7, 9}), "dtype %d", (int)dt);
    CHECK_OK(mlx_arange(&r, 9, -1, -2, dt, test_stream));
    bool is_unsigned = dt >= MLX_UINT8 && dt <= MLX_UINT64;
    if (!is_unsigned)
      CHECK_MSG(values_are(r, (int[]){5}, 1, (double[]){9, 7, 5, 3, 1}), "dtype %d", (int)dt);
  }
  /* a float step below 1 truncates to a zero integer step (MLX quirk) */
  CHECK_OK(mlx_arange(&r, 0, 5, 0.5, MLX_INT32, test_stream));
  CHECK(values_are(r, (int[]){10}, 1, (double[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  CHECK_OK(mlx_arange(&r, 0.5, 5.5, 1, MLX_INT32, test_stream));
  CHECK(values_are(r, (int[]){5}, 1, (double[]){0, 1, 2, 3, 4}));
  CHECK_OK(mlx_arange(&r, 0, 7, 2.5, MLX_INT64, test_stream));
  CHECK(values_are(r, (int[]){3}, 1, (double[]){0, 2, 4}));
  /* narrow types wrap the way MLX's x86 build does */
  CHECK_OK(mlx_arange(&r, 100, 300, 50, MLX_INT8, test_stream));
  CHECK(values_are(r, (int[]){4}, 1, (double[]){100, -106, -56, -6}));
  CHECK_OK(mlx_arange(&r, -3, 7, 2, MLX_UINT8, test_stream));
  CHECK(values_are(r, (int[]){5}, 1, (double[]){253, 255, 1, 3, 5}));
  CHECK_OK(mlx_arange(&r, 5, 0, -1, MLX_UINT32, test_stream));
  CHECK(values_are(r, (int[]){5}, 1, (double[]){5, 4, 3, 2, 1}));
  CHECK_OK(mlx_arange(&r, 5, 0, -2, MLX_UINT16, test_stream));
  CHECK(values_are(r, (int[]){3}, 1, (double[]){5, 3, 1}));
  CHECK_OK(mlx_arange(&r, 2147483645, 2147483650.0, 1, MLX_INT64, test_stream));
  CHECK(values_are(r, (int[]){5}, 1,
                   (double[]){2147483645, 2147483646, 2147483647, 2147483648.0, 2147483649.0}));
  mlx_array_free(r);
}

static void test_arange_errors(void) {
  mlx_array r = mlx_array_new();
  EXPECT_ERROR(mlx_arange(&r, 0, 10, 1, MLX_BOOL, test_stream), "bool not supported for arange.");
  EXPECT_ERROR(mlx_arange(&r, NAN, 10, 1, MLX_FLOAT32, test_stream),
               "[arange] Cannot compute length.");
  EXPECT_ERROR(mlx_arange(&r, 0, NAN, 1, MLX_FLOAT32, test_stream),
               "[arange] Cannot compute length.");
  EXPECT_ERROR(mlx_arange(&r, 0, 10, NAN, MLX_FLOAT32, test_stream),
               "[arange] Cannot compute length.");
  EXPECT_ERROR(mlx_arange(&r, -INFINITY, 10, 1, MLX_FLOAT32, test_stream),
               "[arange] Cannot compute length.");
  EXPECT_ERROR(mlx_arange(&r, 0, INFINITY, 1, MLX_FLOAT32, test_stream),
               "[arange] Cannot compute length.");
  EXPECT_ERROR(mlx_arange(&r, 0, 10, 0, MLX_FLOAT32, test_stream),
               "[arange] step must be nonzero.");
  EXPECT_ERROR(mlx_arange(&r, 0, 10, -0.0, MLX_INT32, test_stream),
               "[arange] step must be nonzero.");
  /* sizes past INT_MAX fail at the call, before any allocation */
  EXPECT_ERROR(mlx_arange(&r, 0, 3e9, 1, MLX_FLOAT32, test_stream),
               "[arange] Maximum size exceeded.");
  EXPECT_ERROR(mlx_arange(&r, -1e308, 1e308, 1, MLX_FLOAT32, test_stream),
               "[arange] Maximum size exceeded.");
  EXPECT_ERROR(mlx_arange(&r, 0, 1, 1e-300, MLX_FLOAT64, test_stream),
               "[arange] Maximum size exceeded.");
  EXPECT_ERROR(mlx_arange(&r, 0, 1, 1, (mlx_dtype)-1, test_stream), "[arange] Invalid dtype -1.");
  EXPECT_ERROR(mlx_arange(NULL, 0, 1, 1, MLX_FLOAT32, test_stream),
               "[arange] The result pointer is NULL.");
  mlx_array_free(r);
}

/* ---- linspace ---- */

static void linspace_f32_ref(double start, double stop, int num, double* out) {
  float den = (float)(num - 1), s = (float)start, e = (float)stop, t_acc = 0;
  for (int i = 0; i < num; i++, t_acc += 1.0f) {
    float t = t_acc / den;
    float a = (1.0f - t) * s;
    float b = t * e;
    out[i] = a + b;
  }
}

static void test_linspace(void) {
  mlx_array r = mlx_array_new();
  int nums[] = {0, 2, 3, 5, 7, 50, 1000};
  for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
    for (int trial = 0; trial < 4; trial++) {
      int num = nums[k];
      double start = trial ? test_rand(-100, 100) : 0, stop = trial ? test_rand(-100, 100) : 1;
      double* want = malloc(sizeof(double) * (size_t)(num ? num : 1));
      CHECK_OK(mlx_linspace(&r, start, stop, num, MLX_FLOAT32, test_stream));
      CHECK(mlx_array_dtype(r) == MLX_FLOAT32);
      linspace_f32_ref(start, stop, num, want);
      CHECK_MSG(values_are(r, (int[]){num}, 1, want), "num %d trial %d", num, trial);
      for (int i = 0; i < num; i++) {
        double exact = start + (stop - start) * i / (num - 1);
        CHECK(fabs(want[i] - exact) <= 4e-7 * (fabs(start) + fabs(stop)) + 1e-30);
      }
      /* float64 runs the same formula in double */
      CHECK_OK(mlx_linspace(&r, start, stop, num, MLX_FLOAT64, test_stream));
      for (int i = 0; i < num; i++) {
        double t = (double)i / (double)(num - 1);
        double a = (1.0 - t) * start, b = t * stop;
        want[i] = a + b;
      }
      CHECK_MSG(values_are(r, (int[]){num}, 1, want), "float64 num %d", num);
      free(want);
    }
  }
  /* other dtypes: computed in float32, then converted */
  CHECK_OK(mlx_linspace(&r, 0, 10, 4, MLX_INT32, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_INT32);
  CHECK(values_are(r, (int[]){4}, 1, (double[]){0, 3, 6, 10}));
  CHECK_OK(mlx_linspace(&r, -1, 1, 5, MLX_FLOAT16, test_stream));
  CHECK(values_are(r, (int[]){5}, 1, (double[]){-1, -0.5, 0, 0.5, 1}));
  CHECK_OK(mlx_linspace(&r, 0, 1, 3, MLX_BOOL, test_stream));
  CHECK(values_are(r, (int[]){3}, 1, (double[]){0, 1, 1}));
  double third[3];
  linspace_f32_ref(0, 1, 3, third);
  CHECK_OK(mlx_linspace(&r, 0, 1, 3, MLX_COMPLEX64, test_stream));
  CHECK(values_are(r, (int[]){3}, 1, third));
  /* one sample is start, converted */
  CHECK_OK(mlx_linspace(&r, 2.7, 5, 1, MLX_INT32, test_stream));
  CHECK(values_are(r, (int[]){1}, 1, (double[]){2}));
  CHECK_OK(mlx_linspace(&r, 0.1, 5, 1, MLX_FLOAT64, test_stream));
  CHECK(values_are(r, (int[]){1}, 1, (double[]){0.1}));
  CHECK_OK(mlx_linspace(&r, 0, 5, 0, MLX_FLOAT16, test_stream));
  CHECK(values_are(r, (int[]){0}, 1, NULL) && mlx_array_dtype(r) == MLX_FLOAT16);
  EXPECT_ERROR(mlx_linspace(&r, 0, 1, -1, MLX_FLOAT32, test_stream),
               "[linspace] number of samples, -1, must be non-negative.");
  EXPECT_ERROR(mlx_linspace(&r, 0, 1, 3, (mlx_dtype)14, test_stream),
               "[linspace] Invalid dtype 14.");
  mlx_array_free(r);
}

/* ---- eye, tri ---- */

static void test_eye_tri(void) {
  mlx_array r = mlx_array_new();
  mlx_dtype dts[] = {MLX_FLOAT32, MLX_INT32, MLX_BOOL, MLX_COMPLEX64, MLX_BFLOAT16, MLX_UINT8};
  for (size_t t = 0; t < sizeof dts / sizeof dts[0]; t++)
    for (int n = 0; n <= 4; n++)
      for (int m = 0; m <= 4; m++)
        for (int k = -5; k <= 5; k++) {
          double want_eye[16], want_tri[16];
          for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) {
              want_eye[i * m + j] = j - i == k;
              want_tri[i * m + j] = j - i <= k;
            }
          CHECK_OK(mlx_eye(&r, n, m, k, dts[t], test_stream));
          CHECK(mlx_array_dtype(r) == dts[t]);
          CHECK_MSG(values_are(r, (int[]){n, m}, 2, want_eye), "eye %d %d %d", n, m, k);
          CHECK_OK(mlx_tri(&r, n, m, k, dts[t], test_stream));
          CHECK(mlx_array_dtype(r) == dts[t]);
          CHECK_MSG(values_are(r, (int[]){n, m}, 2, want_tri), "tri %d %d %d", n, m, k);
        }
  CHECK_OK(mlx_identity(&r, 3, MLX_FLOAT64, test_stream));
  CHECK(values_are(r, (int[]){3, 3}, 2, (double[]){1, 0, 0, 0, 1, 0, 0, 0, 1}));
  CHECK_OK(mlx_eye(&r, 2, 3, INT32_MIN, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){2, 3}, 2, (double[]){0, 0, 0, 0, 0, 0}));
  CHECK_OK(mlx_tri(&r, 2, 2, INT32_MAX, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){2, 2}, 2, (double[]){1, 1, 1, 1}));
  /* tri with a negative size is empty, as MLX's empty arange */
  CHECK_OK(mlx_tri(&r, -2, 3, 0, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){0, 3}, 2, NULL));
  CHECK_OK(mlx_tri(&r, 3, -1, 0, MLX_FLOAT32, test_stream));
  CHECK(values_are(r, (int[]){3, 0}, 2, NULL));
  /* a large tri fills rows in bulk */
  CHECK_OK(mlx_tri(&r, 600, 700, -3, MLX_FLOAT32, test_stream));
  const float* p = mlx_array_data_float32(r);
  bool ok = p != NULL;
  for (int i = 0; ok && i < 600; i++)
    for (int j = 0; j < 700; j++)
      if (p[i * 700 + j] != (float)(j - i <= -3)) ok = false;
  CHECK(ok);
  EXPECT_ERROR(mlx_eye(&r, -1, 3, 0, MLX_FLOAT32, test_stream),
               "[eye] N and M must be positive integers.");
  EXPECT_ERROR(mlx_eye(&r, 3, -1, 0, MLX_FLOAT32, test_stream),
               "[eye] N and M must be positive integers.");
  EXPECT_ERROR(mlx_identity(&r, -2, MLX_FLOAT32, test_stream),
               "[eye] N and M must be positive integers.");
  mlx_array_free(r);
}

/* ---- tril, triu ---- */

static void check_mask(mlx_array x, mlx_array r, bool upper, int k, const char* what) {
  size_t nd = mlx_array_ndim(x);
  CHECK(mlx_array_ndim(r) == nd && mlx_array_dtype(r) == mlx_array_dtype(x));
  int rows = mlx_array_dim(x, -2), cols = mlx_array_dim(x, -1);
  size_t esz = mlx_array_itemsize(x), n = mlx_array_size(x);
  unsigned char* xb = bytes_of(x);
  unsigned char* rb = bytes_of(r);
  static const unsigned char zero[8] = {0};
  bool ok = xb && rb;
  for (size_t e = 0; ok && e < n; e++) {
    int i = (int)(e / (size_t)cols % (size_t)rows), j = (int)(e % (size_t)cols);
    bool keep = upper ? j - i >= k : j - i <= k;
    if (memcmp(rb + e * esz, keep ? xb + e * esz : zero, esz) != 0) ok = false;
  }
  CHECK_MSG(ok, "%s k %d", what, k);
  free(xb);
  free(rb);
}

static void test_tril_triu(void) {
  mlx_array r = mlx_array_new();
  int shape[4] = {2, 3, 4, 5};
  mlx_array a = random_f32(shape, 4), t = mlx_array_new();
  CHECK_OK(mlx_swapaxes(&t, a, -1, -2, test_stream)); /* non-contiguous (2,3,5,4) */
  for (int k = -6; k <= 6; k++) {
    CHECK_OK(mlx_tril(&r, a, k, test_stream));
    check_mask(a, r, false, k, "tril");
    CHECK_OK(mlx_triu(&r, a, k, test_stream));
    check_mask(a, r, true, k, "triu");
    CHECK_OK(mlx_tril(&r, t, k, test_stream));
    check_mask(t, r, false, k, "tril of a view");
    CHECK_OK(mlx_triu(&r, t, k, test_stream));
    check_mask(t, r, true, k, "triu of a view");
  }
  /* every dtype, byte for byte: kept elements (-0.0, NaN...) are untouched */
  for (size_t d = 0; d < N_DTYPES; d++) {
    unsigned char src[4 * 3 * 8];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (unsigned char)(i * 53 + 7);
    if (all_dtypes[d] == MLX_BOOL)
      for (size_t i = 0; i < 12; i++) src[i] = (unsigned char)(i % 2);
    mlx_array x = mlx_array_new_data(src, (int[]){4, 3}, 2, all_dtypes[d]);
    CHECK_OK(mlx_tril(&r, x, 0, test_stream));
    check_mask(x, r, false, 0, "tril dtype");
    CHECK_OK(mlx_triu(&r, x, 1, test_stream));
    check_mask(x, r, true, 1, "triu dtype");
    mlx_array_free(x);
  }
  /* an input that dies with the node is masked in place (donated) */
  mlx_array c = mlx_array_new(), keep = mlx_array_new();
  CHECK_OK(mlx_contiguous(&c, t, false, test_stream));
  CHECK_OK(mlx_copy(&keep, c, test_stream));
  CHECK_OK(mlx_array_eval(keep));
  CHECK_OK(mlx_tril(&r, c, -1, test_stream));
  mlx_array_free(c);
  check_mask(keep, r, false, -1, "tril donated");
  /* empty and large */
  mlx_array e = random_f32((int[]){2, 0, 3}, 3);
  CHECK_OK(mlx_triu(&r, e, 0, test_stream));
  CHECK(test_shape_is(r, (int[]){2, 0, 3}, 3));
  CHECK_OK(mlx_array_eval(r));
  mlx_array big = random_f32((int[]){3, 300, 301}, 3);
  CHECK_OK(mlx_tril(&r, big, 5, test_stream));
  check_mask(big, r, false, 5, "tril large");
  CHECK_OK(mlx_triu(&r, big, -7, test_stream));
  check_mask(big, r, true, -7, "triu large");
  /* errors */
  mlx_array v = random_f32((int[]){3}, 1), z = mlx_array_new_float(1);
  EXPECT_ERROR(mlx_tril(&r, v, 0, test_stream), "[tril] array must be at least 2-D");
  EXPECT_ERROR(mlx_triu(&r, z, 0, test_stream), "[triu] array must be at least 2-D");
  EXPECT_ERROR(mlx_tril(&r, mlx_array_new(), 0, test_stream),
               "[tril] The input array is empty (an mlx_array_new() handle).");
  mlx_array_free(a);
  mlx_array_free(t);
  mlx_array_free(keep);
  mlx_array_free(e);
  mlx_array_free(big);
  mlx_array_free(v);
  mlx_array_free(z);
  mlx_array_free(r);
}

int main(void) {
  test_init();
  test_zeros_ones();
  test_like();
  test_full();
  test_arange_float();
  test_arange_int();
  test_arange_errors();
  test_linspace();
  test_eye_tri();
  test_tril_triu();
  return test_finish("test_creation");
}
