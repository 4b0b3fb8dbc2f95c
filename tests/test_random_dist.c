/* test_random_dist.c - the distributions of mlx/c/random.h (uniform,
 * normal, randint, bernoulli, truncated_normal, gumbel, laplace,
 * categorical, permutation) on the bits checked in test_random.c.
 *
 * Proves:
 * - uniform equals its float32 recipe (bits / 2^32, min, cast, multiply,
 *   add) bit for bit for broadcast bounds and half types; normal is within
 *   4 ulp of sqrt(2) * erfinv(u) computed in double; randint, bernoulli,
 *   truncated_normal, laplace, gumbel, categorical (both samplers) and
 *   permutation follow their definitions on the same bits;
 * - large samples have the right mean and variance (frequencies for
 *   bernoulli and categorical);
 * - strided inputs, 0-d and empty shapes, and every dtype family the ops
 *   accept. */
#include "random_util.h"

/* ---- uniform ---- */

/* Broadcast bounds [3, 1] x [1, 5] into [2, 3, 5], float32, against the
 * recipe on the same bits. */
static void test_uniform_recipe_f32(void) {
  float lo_v[3] = {-2.5f, 0.0f, 10.0f}, hi_v[5] = {1.0f, 2.0f, 3.5f, 1e-3f, 1e6f};
  int lo_shape[2] = {3, 1}, hi_shape[2] = {1, 5}, shape[3] = {2, 3, 5};
  mlx_array lo = test_array_f32(lo_v, lo_shape, 2), hi = test_array_f32(hi_v, hi_shape, 2);
  mlx_array key = key_of(77), r = mlx_array_new();
  CHECK_OK(mlx_random_uniform(&r, lo, hi, shape, 3, MLX_FLOAT32, key, test_stream));
  size_t n;
  float* got = f32_of(r, &n);
  uint32_t* bits = ref_bits32(key, 30);
  int bad = 0;
  for (int i = 0; i < 30 && got; i++) {
    int li = (i / 5) % 3, hj = i % 5;
    float range = hi_v[hj] - lo_v[li];
    float want = range * ref_unit(bits[i], nextafterf(1.0f, 0.0f)) + lo_v[li];
    if (memcmp(&want, &got[i], 4) != 0) bad++;
    /* inside [lo, hi), or (hi, lo] when the bounds are reversed */
    if (range > 0 ? !(got[i] >= lo_v[li] && got[i] < hi_v[hj])
                  : !(got[i] <= lo_v[li] && got[i] > hi_v[hj]))
      bad++;
  }
  CHECK(got && n == 30 && bad == 0);
  free(got);
  free(bits);
  FREE_ALL(lo, hi, key, r);
}

/* float16 / bfloat16: every step rounded to the half type. */
static void test_uniform_recipe_half(void) {
  mlx_array key = key_of(3), r = mlx_array_new();
  mlx_array lo = scalar_f32(-3.0f), hi = scalar_f32(5.0f);
  int count = 2000;
  for (int t = 0; t < 2; t++) {
    mlx_dtype dtype = t ? MLX_BFLOAT16 : MLX_FLOAT16;
    CHECK_OK(mlx_random_uniform(&r, lo, hi, &count, 1, dtype, key, test_stream));
    size_t n;
    uint16_t* got = (uint16_t*)bytes_of(r, &n);
    uint32_t* bits = ref_bits32(key, (size_t)count);
    float upper = t ? bf16_to_f32(0x3F7F) : f16_to_f32(0x3BFF);
    int bad = 0;
    for (int i = 0; i < count && got; i++) {
      float u = ref_unit(bits[i], upper);
      uint16_t want;
      if (t) {
        float uh = bf16_to_f32(f32_to_bf16(u));
        float prod = bf16_to_f32(f32_to_bf16(8.0f * uh));
        want = f32_to_bf16(prod + -3.0f);
      } else {
        float uh = f16_to_f32(f32_to_f16(u));
        float prod = f16_to_f32(f32_to_f16(8.0f * uh));
        want = f32_to_f16(prod + -3.0f);
      }
      if (want != got[i]) bad++;
    }
    CHECK_MSG(got && n == (size_t)count * 2 && bad == 0, "dtype %d: %d differ", (int)dtype, bad);
    free(got);
    free(bits);
  }
  FREE_ALL(lo, hi, key, r);
}

static void test_uniform_statistics(void) {
  mlx_array key = key_of(2024), r = mlx_array_new();
  mlx_array lo = scalar_f32(0), hi = scalar_f32(1);
  int count = 1 << 20;
  CHECK_OK(mlx_random_uniform(&r, lo, hi, &count, 1, MLX_FLOAT32, key, test_stream));
  double* v = test_to_f64(r);
  double mean, var, mn = 1, mx = 0;
  moments(v, (size_t)count, &mean, &var);
  for (int i = 0; i < count; i++) {
    mn = v[i] < mn ? v[i] : mn;
    mx = v[i] > mx ? v[i] : mx;
  }
  CHECK_MSG(fabs(mean - 0.5) < 2e-3 && fabs(var - 1.0 / 12) < 1e-3, "mean %g var %g", mean, var);
  CHECK(mn >= 0 && mx < 1);
  free(v);
  FREE_ALL(lo, hi, key, r);
}

/* ---- normal ---- */

/* normal = sqrt2 * erfinv(u) with u = uniform(nextafter(-1, 0), 1): within
 * 4 ulp of the double-precision value (MLX's erfinv is within 2.4 ulp). */
static void test_normal_against_erfinv(void) {
  mlx_array key = key_of(11), r = mlx_array_new(), u = mlx_array_new();
  mlx_array lo = scalar_f32(nextafterf(-1.0f, 0.0f)), hi = scalar_f32(1.0f);
  int count = 100000;
  CHECK_OK(mlx_random_normal(&r, &count, 1, MLX_FLOAT32, 0, 1, key, test_stream));
  CHECK_OK(mlx_random_uniform(&u, lo, hi, &count, 1, MLX_FLOAT32, key, test_stream));
  size_t n, nu;
  float* z = f32_of(r, &n);
  float* uv = f32_of(u, &nu);
  int64_t worst = 0;
  for (int i = 0; z && uv && i < count; i++) {
    float want = (float)(sqrt(2.0) * erfinv_ref(uv[i]));
    int64_t d = test_ulp_f32(z[i], want);
    worst = d > worst ? d : worst;
  }
  CHECK_MSG(worst <= 4, "normal vs double erfinv: %lld ulp", (long long)worst);
  double* v = test_to_f64(r);
  double mean, var;
  moments(v, (size_t)count, &mean, &var);
  CHECK_MSG(fabs(mean) < 0.02 && fabs(var - 1) < 0.02, "mean %g var %g", mean, var);
  free(v);
  free(z);
  free(uv);
  /* loc/scale as broadcast arrays: [3] loc with a [2, 3] shape */
  float locs[3] = {-5, 0, 5}, scales[1] = {0.5f};
  int s3 = 3, s1 = 1, shape[2] = {20000, 3};
  mlx_array loc = test_array_f32(locs, &s3, 1), scale = test_array_f32(scales, &s1, 1);
  CHECK_OK(mlx_random_normal_broadcast(&r, shape, 2, MLX_FLOAT32, loc, scale, key, test_stream));
  v = test_to_f64(r);
  for (int c = 0; c < 3 && v; c++) {
    double s = 0, s2 = 0;
    for (int i = 0; i < 20000; i++) s += v[i * 3 + c];
    double m = s / 20000;
    for (int i = 0; i < 20000; i++) s2 += (v[i * 3 + c] - m) * (v[i * 3 + c] - m);
    CHECK_MSG(fabs(m - locs[c]) < 0.02 && fabs(s2 / 20000 - 0.25) < 0.01, "col %d: %g %g", c,
              m, s2 / 20000);
  }
  free(v);
  /* float64 and complex64 */
  CHECK_OK(mlx_random_normal(&r, &count, 1, MLX_FLOAT64, 0, 1, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT64);
  mlx_array f = mlx_array_new();
  CHECK_OK(mlx_random_normal(&f, &count, 1, MLX_FLOAT32, 0, 1, key, test_stream));
  v = test_to_f64(r);
  double* vf = test_to_f64(f);
  bool same = v && vf;
  for (int i = 0; same && i < count; i++) same = fabs(v[i] - vf[i]) <= 1e-6 * fabs(vf[i]);
  CHECK(same);
  free(v);
  free(vf);
  int s2 = 50000;
  CHECK_OK(mlx_random_normal(&r, &s2, 1, MLX_COMPLEX64, 0, 1, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_COMPLEX64 && test_shape_is(r, &s2, 1));
  size_t nb;
  float* c = (float*)bytes_of(r, &nb);
  double re[2] = {0, 0}, sq[2] = {0, 0};
  for (int i = 0; c && i < s2; i++)
    for (int p = 0; p < 2; p++) {
      re[p] += c[2 * i + p];
      sq[p] += (double)c[2 * i + p] * c[2 * i + p];
    }
  for (int p = 0; p < 2; p++)
    CHECK_MSG(fabs(re[p] / s2) < 0.02 && fabs(sq[p] / s2 - 0.5) < 0.02, "part %d", p);
  free(c);
  FREE_ALL(f, loc, scale, lo, hi, key, r, u);
}

/* ---- randint, bernoulli ---- */

static void test_randint(void) {
  mlx_array key = key_of(8), r = mlx_array_new();
  mlx_array lo = mlx_array_new_int(-3), hi = mlx_array_new_int(7);
  int count = 100000;
  CHECK_OK(mlx_random_randint(&r, lo, hi, &count, 1, MLX_INT32, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_INT32);
  size_t n;
  int32_t* got = (int32_t*)bytes_of(r, &n);
  uint32_t* bits = ref_bits32(key, (size_t)count);
  int bad = 0, hist[10] = {0};
  for (int i = 0; got && i < count; i++) {
    float u = 10.0f * ref_unit(bits[i], nextafterf(1.0f, 0.0f)) + -3.0f;
    int want = (int)floorf(u);
    want = want > 6 ? 6 : want < -3 ? -3 : want;
    if (got[i] != want) bad++;
    if (got[i] >= -3 && got[i] < 7) hist[got[i] + 3]++;
  }
  CHECK_MSG(bad == 0, "%d differ", bad);
  for (int b = 0; b < 10; b++) CHECK(fabs(hist[b] / (double)count - 0.1) < 0.01);
  free(got);
  free(bits);
  /* other integer dtypes, broadcast bounds */
  int32_t lows[2] = {0, 100}, s2 = 2, shape[2] = {1000, 2};
  mlx_array lows_a = test_array_i32(lows, &s2, 1), hi2 = mlx_array_new_int(103);
  static const mlx_dtype types[] = {MLX_UINT8, MLX_INT8, MLX_INT16, MLX_UINT32, MLX_INT64,
                                    MLX_UINT64};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
    CHECK_OK(mlx_random_randint(&r, lows_a, hi2, shape, 2, types[t], key, test_stream));
    CHECK(mlx_array_dtype(r) == types[t]);
    double* v = test_to_f64(r);
    bool ok = v != NULL;
    for (int i = 0; ok && i < 2000; i++) ok = v[i] >= lows[i % 2] && v[i] <= 102 && v[i] == floor(v[i]);
    CHECK_MSG(ok, "dtype %d", (int)types[t]);
    free(v);
  }
  /* bool: [0, 2) */
  mlx_array z = mlx_array_new_int(0), two = mlx_array_new_int(2);
  CHECK_OK(mlx_random_randint(&r, z, two, &count, 1, MLX_BOOL, key, test_stream));
  double* v = test_to_f64(r);
  double mean, var;
  moments(v, (size_t)count, &mean, &var);
  CHECK(mlx_array_dtype(r) == MLX_BOOL && fabs(mean - 0.5) < 0.01);
  free(v);
  FREE_ALL(key, r, lo, hi, lows_a, hi2, z, two);
}

static void test_bernoulli(void) {
  mlx_array key = key_of(13), r = mlx_array_new();
  float ps[4] = {0.0f, 0.3f, 1.0f, 0.9f};
  int s4 = 4, shape[2] = {50000, 4};
  mlx_array p = test_array_f32(ps, &s4, 1);
  CHECK_OK(mlx_random_bernoulli(&r, p, shape, 2, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_BOOL && test_shape_is(r, shape, 2));
  size_t n;
  unsigned char* got = bytes_of(r, &n);
  uint32_t* bits = ref_bits32(key, 200000);
  float upper = nextafterf(4294967296.0f, FLT_MAX);
  int bad = 0, ones[4] = {0};
  for (int i = 0; got && i < 200000; i++) {
    bool want = (float)bits[i] < ps[i % 4] * upper;
    if (got[i] != want) bad++;
    ones[i % 4] += got[i];
  }
  CHECK_MSG(bad == 0, "%d differ", bad);
  CHECK(ones[0] == 0 && ones[2] == 50000);
  CHECK(fabs(ones[1] / 50000.0 - 0.3) < 0.01 && fabs(ones[3] / 50000.0 - 0.9) < 0.01);
  free(got);
  free(bits);
  /* float16 p, 0-d */
  mlx_array ph = mlx_array_new(), half = scalar_f32(0.5f);
  CHECK_OK(mlx_astype(&ph, half, MLX_FLOAT16, test_stream));
  CHECK_OK(mlx_random_bernoulli(&r, ph, NULL, 0, key, test_stream));
  CHECK(mlx_array_ndim(r) == 0 && mlx_array_dtype(r) == MLX_BOOL);
  CHECK_OK(mlx_array_eval(r));
  FREE_ALL(ph, half, p, key, r);
}

/* ---- truncated_normal, gumbel, laplace ---- */

static void test_truncated_normal(void) {
  mlx_array key = key_of(21), r = mlx_array_new();
  mlx_array lo = scalar_f32(-1.0f), hi = scalar_f32(2.0f);
  int count = 100000;
  CHECK_OK(mlx_random_truncated_normal(&r, lo, hi, &count, 1, MLX_FLOAT32, key, test_stream));
  double* v = test_to_f64(r);
  bool inside = v != NULL;
  for (int i = 0; inside && i < count; i++) inside = v[i] >= -1 && v[i] <= 2;
  CHECK(inside);
  /* mean of N(0,1) truncated to [a, b]: (phi(a) - phi(b)) / (Phi(b) - Phi(a)) */
  double pa = exp(-0.5) / sqrt(2 * M_PI), pb = exp(-2.0) / sqrt(2 * M_PI);
  double Z = 0.5 * (erf(2 / sqrt(2.0)) - erf(-1 / sqrt(2.0)));
  double mean, var;
  moments(v, (size_t)count, &mean, &var);
  CHECK_MSG(fabs(mean - (pa - pb) / Z) < 0.01, "mean %g vs %g", mean, (pa - pb) / Z);
  free(v);
  /* half precision stays in bounds too */
  CHECK_OK(mlx_random_truncated_normal(&r, lo, hi, &count, 1, MLX_BFLOAT16, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_BFLOAT16);
  v = test_to_f64(r);
  inside = v != NULL;
  for (int i = 0; inside && i < count; i++) inside = v[i] >= -1 && v[i] <= 2;
  CHECK(inside);
  free(v);
  FREE_ALL(lo, hi, key, r);
}

static void test_gumbel_laplace(void) {
  mlx_array key = key_of(34), r = mlx_array_new(), u = mlx_array_new();
  mlx_array zero = scalar_f32(0), one = scalar_f32(1);
  int count = 200000;
  CHECK_OK(mlx_random_gumbel(&r, &count, 1, MLX_FLOAT32, key, test_stream));
  CHECK_OK(mlx_random_uniform(&u, zero, one, &count, 1, MLX_FLOAT32, key, test_stream));
  size_t n, nu;
  float* g = f32_of(r, &n);
  float* uv = f32_of(u, &nu);
  /* two float32 logs in a row: the inner log's rounding (relative 2^-22)
   * becomes an absolute error of the outer one */
  double worst_abs = 0;
  for (int i = 0; g && uv && i < count; i++) {
    if (uv[i] == 0) continue; /* -log(-log(0)) = -inf on both sides */
    double want = -log(-log((double)uv[i]));
    double d = fabs(g[i] - want) / (1 + fabs(want));
    worst_abs = d > worst_abs ? d : worst_abs;
  }
  CHECK_MSG(worst_abs <= 1e-6, "gumbel: relative error %g", worst_abs);
  int64_t worst;
  double* v = test_to_f64(r);
  double mean, var;
  moments(v, (size_t)count, &mean, &var);
  CHECK_MSG(fabs(mean - 0.5772156649) < 0.01 && fabs(var - M_PI * M_PI / 6) < 0.03, "gumbel %g %g",
            mean, var);
  free(v);
  free(g);
  free(uv);

  CHECK_OK(mlx_random_laplace(&r, &count, 1, MLX_FLOAT32, 1.5f, 2.0f, key, test_stream));
  v = test_to_f64(r);
  moments(v, (size_t)count, &mean, &var);
  CHECK_MSG(fabs(mean - 1.5) < 0.03 && fabs(var - 8.0) < 0.15, "laplace %g %g", mean, var);
  free(v);
  /* laplace(0, 1) = sign(u) * log1p(-|u|) on u = uniform(nextafter(-1, 0), 1) */
  mlx_array lo = scalar_f32(nextafterf(-1.0f, 0.0f));
  CHECK_OK(mlx_random_laplace(&r, &count, 1, MLX_FLOAT32, 0, 1, key, test_stream));
  CHECK_OK(mlx_random_uniform(&u, lo, one, &count, 1, MLX_FLOAT32, key, test_stream));
  g = f32_of(r, &n);
  uv = f32_of(u, &nu);
  worst = 0;
  for (int i = 0; g && uv && i < count; i++) {
    float a = fabsf(uv[i]);
    float want = (float)((uv[i] > 0 ? 1 : uv[i] < 0 ? -1 : 0) * log1p(-(double)a));
    int64_t d = test_ulp_f32(g[i], want);
    worst = d > worst ? d : worst;
  }
  CHECK_MSG(worst <= 2, "laplace: %lld ulp", (long long)worst);
  free(g);
  free(uv);
  CHECK_OK(mlx_random_laplace(&r, &count, 1, MLX_FLOAT16, 0, 1, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT16);
  CHECK_OK(mlx_random_gumbel(&r, &count, 1, MLX_BFLOAT16, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_BFLOAT16);
  CHECK_OK(mlx_array_eval(r));
  FREE_ALL(key, r, u, zero, one, lo);
}

/* ---- categorical ---- */

static void softmax_ref(const float* logits, int n, double* p) {
  double m = -INFINITY, s = 0;
  for (int i = 0; i < n; i++) m = logits[i] > m ? logits[i] : m;
  for (int i = 0; i < n; i++) s += p[i] = exp(logits[i] - m);
  for (int i = 0; i < n; i++) p[i] /= s;
}

static void test_categorical(void) {
  mlx_array key = key_of(55), r = mlx_array_new();
  /* Gumbel path: [2, 4] logits, 40000 samples per row */
  float lg[8] = {0, 1, 2, 3, 1, 1, -1, -INFINITY};
  int s24[2] = {2, 4};
  mlx_array logits = test_array_f32(lg, s24, 2);
  int ns = 40000;
  CHECK_OK(mlx_random_categorical_num_samples(&r, logits, -1, ns, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_UINT32 && test_shape_is(r, (int[]){2, 40000}, 2));
  size_t n;
  uint32_t* got = u32_of(r, &n);
  for (int row = 0; got && row < 2; row++) {
    double p[4];
    softmax_ref(lg + 4 * row, 4, p);
    int hist[4] = {0};
    for (int i = 0; i < ns; i++)
      if (got[row * ns + i] < 4) hist[got[row * ns + i]]++;
    for (int c = 0; c < 4; c++)
      CHECK_MSG(fabs(hist[c] / (double)ns - p[c]) < 0.01, "row %d class %d: %g vs %g", row, c,
                hist[c] / (double)ns, p[c]);
  }
  CHECK(got && got[ns + 7] != 3); /* -inf is never drawn */
  free(got);
  /* it is argmax(gumbel + logits) on the same key */
  {
    mlx_array g = mlx_array_new(), sum = mlx_array_new();
    mlx_array e = mlx_array_new(), ref = mlx_array_new();
    int gshape[3] = {2, 4, 5};
    CHECK_OK(mlx_random_categorical_num_samples(&r, logits, 1, 5, key, test_stream));
    CHECK_OK(mlx_random_gumbel(&g, gshape, 3, MLX_FLOAT32, key, test_stream));
    int last = -1;
    CHECK_OK(mlx_expand_dims(&e, logits, last, test_stream));
    CHECK_OK(mlx_add(&sum, g, e, test_stream));
    CHECK_OK(mlx_argmax_axis(&ref, sum, 1, false, test_stream));
    CHECK(equal_bytes(r, ref));
    FREE_ALL(g, sum, e, ref);
  }
  /* plain form and axis 0: one sample per distribution */
  CHECK_OK(mlx_random_categorical(&r, logits, -1, key, test_stream));
  CHECK(test_shape_is(r, (int[]){2}, 1));
  CHECK_OK(mlx_random_categorical(&r, logits, 0, key, test_stream));
  CHECK(test_shape_is(r, (int[]){4}, 1));
  CHECK_OK(mlx_array_eval(r));
  /* shape form broadcasting the reduced shape (2) into (3, 2) */
  int s32[2] = {3, 2};
  CHECK_OK(mlx_random_categorical_shape(&r, logits, 1, s32, 2, key, test_stream));
  CHECK(test_shape_is(r, s32, 2));
  got = u32_of(r, &n);
  bool ok = got != NULL;
  for (int i = 0; ok && i < 6; i++) ok = got[i] < 4 && !(i % 2 == 1 && got[i] == 3);
  CHECK(ok);
  free(got);

  /* inverse-CDF path: 1-D logits with a sample shape */
  float l5[5] = {0.5f, -1, 2, 0, 1};
  int s5 = 5, shape[2] = {100, 500};
  mlx_array logits5 = test_array_f32(l5, &s5, 1);
  CHECK_OK(mlx_random_categorical_shape(&r, logits5, 0, shape, 2, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_UINT32 && test_shape_is(r, shape, 2));
  got = u32_of(r, &n);
  {
    double p[5];
    softmax_ref(l5, 5, p);
    int hist[5] = {0};
    for (int i = 0; got && i < 50000; i++)
      if (got[i] < 5) hist[got[i]]++;
    for (int c = 0; c < 5; c++) CHECK(fabs(hist[c] / 50000.0 - p[c]) < 0.01);
    /* the same draw from the recipe: u * sum(w) searched in the exclusive
     * float32 cumsum of w = exp(x - max) */
    mlx_array zero = scalar_f32(0), one = scalar_f32(1), u = mlx_array_new();
    CHECK_OK(mlx_random_uniform(&u, zero, one, shape, 2, MLX_FLOAT32, key, test_stream));
    float* uv = f32_of(u, &n);
    float w[5], cdf[5], total = 0;
    for (int i = 0; i < 5; i++) w[i] = expf(l5[i] - 2.0f);
    for (int i = 0; i < 5; i++) {
      cdf[i] = total;
      total += w[i];
    }
    int bad = 0;
    for (int i = 0; uv && got && i < 50000; i++) {
      float x = uv[i] * total;
      uint32_t idx = 0;
      while (idx < 5 && !(x < cdf[idx])) idx++;
      if (got[i] != idx - 1) bad++;
    }
    CHECK_MSG(bad == 0, "inverse cdf: %d differ", bad);
    free(uv);
    FREE_ALL(zero, one, u);
  }
  free(got);
  /* num_samples on 1-D logits also takes the inverse-CDF path */
  CHECK_OK(mlx_random_categorical_num_samples(&r, logits5, 0, 7, key, test_stream));
  CHECK(test_shape_is(r, (int[]){7}, 1));
  /* +inf logits: uniform over the infinite entries */
  float linf[4] = {INFINITY, 0, INFINITY, 5};
  int s4 = 4, s2000 = 2000;
  mlx_array logits_inf = test_array_f32(linf, &s4, 1);
  CHECK_OK(mlx_random_categorical_shape(&r, logits_inf, 0, &s2000, 1, key, test_stream));
  got = u32_of(r, &n);
  int c0 = 0, c2 = 0, other = 0;
  for (int i = 0; got && i < 2000; i++) got[i] == 0 ? c0++ : got[i] == 2 ? c2++ : other++;
  CHECK(other == 0 && c0 > 900 && c2 > 900);
  free(got);
  /* the same key gives the same draw */
  mlx_array again = mlx_array_new();
  CHECK_OK(mlx_random_categorical_shape(&r, logits5, 0, shape, 2, key, test_stream));
  CHECK_OK(mlx_random_categorical_shape(&again, logits5, 0, shape, 2, key, test_stream));
  CHECK(equal_bytes(r, again));
  FREE_ALL(key, r, logits, logits5, logits_inf, again);
}

/* ---- permutation ---- */

static const uint32_t* sort_keys;
static int by_key_then_index(const void* a, const void* b) {
  uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
  if (sort_keys[x] != sort_keys[y]) return sort_keys[x] < sort_keys[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}

static void test_permutation(void) {
  mlx_array key = key_of(89), r = mlx_array_new();
  int count = 1000;
  CHECK_OK(mlx_random_permutation_arange(&r, count, key, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_UINT32 && test_shape_is(r, &count, 1));
  size_t n;
  uint32_t* got = u32_of(r, &n);
  uint32_t* bits = ref_bits32(key, (size_t)count);
  uint32_t want[1000];
  for (uint32_t i = 0; i < 1000; i++) want[i] = i;
  sort_keys = bits;
  qsort(want, 1000, sizeof want[0], by_key_then_index);
  CHECK(got && n == 1000 && memcmp(got, want, sizeof want) == 0);
  free(got);
  free(bits);
  /* rows of a [4, 3] matrix, then its columns */
  float m[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  int s43[2] = {4, 3};
  mlx_array x = test_array_f32(m, s43, 2), perm = mlx_array_new();
  for (int axis = 0; axis < 2; axis++) {
    int len = s43[axis];
    CHECK_OK(mlx_random_permutation(&r, x, axis - 2 * (axis == 1), key, test_stream));
    CHECK_OK(mlx_random_permutation_arange(&perm, len, key, test_stream));
    CHECK(test_shape_is(r, s43, 2));
    float* v = f32_of(r, &n);
    uint32_t* pv = u32_of(perm, &n);
    bool ok = v && pv;
    for (int i = 0; ok && i < 4; i++)
      for (int j = 0; ok && j < 3; j++) {
        int si = axis == 0 ? (int)pv[i] : i, sj = axis == 1 ? (int)pv[j] : j;
        ok = v[i * 3 + j] == m[si * 3 + sj];
      }
    CHECK_MSG(ok, "axis %d", axis);
    free(v);
    free(pv);
  }
  CHECK_OK(mlx_random_permutation_arange(&r, 0, key, test_stream));
  CHECK(mlx_array_size(r) == 0);
  FREE_ALL(perm, x, key, r);
}

/* Transposed and broadcast inputs draw what their contiguous copies draw. */
static void test_strided_inputs(void) {
  mlx_array key = key_of(41), a = mlx_array_new(), b = mlx_array_new();
  float v[6] = {0.1f, 0.9f, 0.5f, -2.0f, 3.0f, 0.25f};
  int s23[2] = {2, 3}, s32[2] = {3, 2};
  mlx_array m = test_array_f32(v, s23, 2), t = mlx_array_new(), tc = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, m, test_stream)); /* [3, 2], strided */
  CHECK_OK(mlx_contiguous(&tc, t, false, test_stream));
  CHECK_OK(mlx_random_categorical(&a, t, 0, key, test_stream));
  CHECK_OK(mlx_random_categorical(&b, tc, 0, key, test_stream));
  CHECK(equal_bytes(a, b));
  CHECK_OK(mlx_random_bernoulli(&a, t, s32, 2, key, test_stream));
  CHECK_OK(mlx_random_bernoulli(&b, tc, s32, 2, key, test_stream));
  CHECK(equal_bytes(a, b));
  mlx_array hi = scalar_f32(4.0f);
  CHECK_OK(mlx_random_uniform(&a, t, hi, s32, 2, MLX_FLOAT32, key, test_stream));
  CHECK_OK(mlx_random_uniform(&b, tc, hi, s32, 2, MLX_FLOAT32, key, test_stream));
  CHECK(equal_bytes(a, b));
  CHECK_OK(mlx_random_normal_broadcast(&a, s32, 2, MLX_FLOAT32, t, t, key, test_stream));
  CHECK_OK(mlx_random_normal_broadcast(&b, s32, 2, MLX_FLOAT32, tc, tc, key, test_stream));
  CHECK(equal_bytes(a, b));
  FREE_ALL(key, a, b, m, t, tc, hi);
}

/* 0-d and empty shapes through the samplers. */
static void test_0d_and_empty(void) {
  mlx_array key = key_of(31), r = mlx_array_new(), want = mlx_array_new();
  mlx_array zero = scalar_f32(0), one = scalar_f32(1);
  /* 0-d uniform: the one word of bits(()) */
  CHECK_OK(mlx_random_uniform(&r, zero, one, NULL, 0, MLX_FLOAT32, key, test_stream));
  CHECK_OK(mlx_random_bits(&want, NULL, 0, 4, key, test_stream));
  float u = -1;
  uint32_t b = 0;
  CHECK_OK(mlx_array_item_float32(&u, r));
  CHECK_OK(mlx_array_item_uint32(&b, want));
  CHECK(mlx_array_ndim(r) == 0 && u == ref_unit(b, nextafterf(1.0f, 0.0f)));
  CHECK_OK(mlx_random_normal(&r, NULL, 0, MLX_FLOAT16, 0, 1, key, test_stream));
  CHECK(mlx_array_ndim(r) == 0);
  CHECK_OK(mlx_array_eval(r));
  /* empty shapes */
  int e03[2] = {0, 3};
  CHECK_OK(mlx_random_normal(&r, e03, 2, MLX_FLOAT32, 2, 3, key, test_stream));
  CHECK(test_shape_is(r, e03, 2) && mlx_array_size(r) == 0);
  CHECK_OK(mlx_array_eval(r));
  CHECK_OK(mlx_random_randint(&r, zero, one, e03, 2, MLX_INT16, key, test_stream));
  CHECK(test_shape_is(r, e03, 2));
  CHECK_OK(mlx_array_eval(r));
  CHECK_OK(mlx_random_gumbel(&r, e03, 2, MLX_FLOAT32, key, test_stream));
  CHECK_OK(mlx_array_eval(r));
  float l3[3] = {0, 1, 2};
  int s3 = 3;
  mlx_array logits = test_array_f32(l3, &s3, 1);
  CHECK_OK(mlx_random_categorical_num_samples(&r, logits, 0, 0, key, test_stream));
  CHECK(test_shape_is(r, (int[]){0}, 1));
  CHECK_OK(mlx_array_eval(r));
  int s2x0[2] = {2, 0};
  mlx_array empty_logits = mlx_array_new();
  CHECK_OK(mlx_zeros(&empty_logits, s2x0, 2, MLX_FLOAT32, test_stream));
  EXPECT_ERROR(mlx_random_categorical(&r, empty_logits, 1, key, test_stream),
               "[argmax] Cannot argmax reduce zero size array.");
  FREE_ALL(key, r, want, zero, one, logits, empty_logits);
}

int main(void) {
  test_init();
  test_uniform_recipe_f32();
  test_uniform_recipe_half();
  test_uniform_statistics();
  test_normal_against_erfinv();
  test_randint();
  test_bernoulli();
  test_truncated_normal();
  test_gumbel_laplace();
  test_categorical();
  test_permutation();
  test_strided_inputs();
  test_0d_and_empty();
  return test_finish("test_random_dist");
}
