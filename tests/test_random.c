/* test_random.c - random numbers (mlx/c/random.h).
 *
 * Proves:
 * - Threefry-2x32 gives the Random123 known-answer values, and bits lays
 *   the words out as MLX does for every byte count 0..70 and widths 1, 2,
 *   4, against a plain reference written here (also for a large draw that
 *   runs on the thread pool, and for keys that are strided views);
 * - every tensor of the MLX oracle (tests/data/random.safetensors: keys,
 *   splits, bits, uniform in three dtypes, normal in three dtypes with and
 *   without loc/scale) is reproduced byte for byte; for normal the largest
 *   float32 ulp distance is measured and printed (and must be 0, at most 1);
 * - uniform equals its float32 recipe (bits / 2^32, min, cast, multiply,
 *   add) bit for bit for broadcast bounds and half types; normal is within
 *   4 ulp of sqrt(2) * erfinv(u) computed in double; randint, bernoulli,
 *   truncated_normal, laplace, gumbel, categorical (both samplers) and
 *   permutation follow their definitions on the same bits;
 * - large samples have the right mean and variance (frequencies for
 *   bernoulli and categorical);
 * - the same key gives the same numbers; the global sequence equals the
 *   explicit split chain after seed, advances only where MLX advances it,
 *   and is per thread, all threads starting from one process seed;
 * - 0-d and empty shapes, every dtype family the ops accept, and every
 *   error path with MLX's text. */
#define _GNU_SOURCE
#include <float.h>
#include <pthread.h>
#include <stdlib.h>

#include "backend/cpu/random.h"
#include "core/array.h"
#include "core/half.h"
#include "core/stream.h"
#include "harness.h"
#include "ops/random.h"

static const mlx_array NONE = {0};

static void free_all(const mlx_array* a, size_t n) {
  for (size_t i = 0; i < n; i++) mlx_array_free(a[i]);
}
#define FREE_ALL(...) \
  free_all((const mlx_array[]){__VA_ARGS__}, sizeof((mlx_array[]){__VA_ARGS__}) / sizeof(mlx_array))

/* ---- helpers ---- */

/* The row-major bytes of a (malloc'd; NULL after an error), count in *n. */
static unsigned char* bytes_of(mlx_array h, size_t* n) {
  *n = 0;
  array* a = h.ctx;
  if (!a || array_eval(a)) return NULL;
  array* c = array_copy_contiguous(a, a->dtype);
  if (!c) return NULL;
  *n = array_nbytes(c);
  unsigned char* out = malloc(*n ? *n : 1);
  if (*n) memcpy(out, array_data(c), *n);
  array_release(c);
  return out;
}

static uint32_t* u32_of(mlx_array h, size_t* n) {
  unsigned char* b = bytes_of(h, n);
  *n /= 4;
  return (uint32_t*)b;
}

static float* f32_of(mlx_array h, size_t* n) {
  unsigned char* b = bytes_of(h, n);
  *n /= 4;
  return (float*)b;
}

static mlx_array key_of(uint64_t seed) {
  mlx_array k = mlx_array_new();
  CHECK_OK(mlx_random_key(&k, seed));
  return k;
}

static mlx_array scalar_f32(float v) {
  return mlx_array_new_float32(v);
}

static bool equal_bytes(mlx_array a, mlx_array b) {
  size_t na, nb;
  unsigned char* pa = bytes_of(a, &na);
  unsigned char* pb = bytes_of(b, &nb);
  bool eq = pa && pb && na == nb && memcmp(pa, pb, na) == 0 &&
            mlx_array_dtype(a) == mlx_array_dtype(b) &&
            test_shape_is(a, mlx_array_shape(b), (int)mlx_array_ndim(b));
  free(pa);
  free(pb);
  return eq;
}

/* The reference layout: words i and h + odd + i from counter (i, h+odd+i),
 * the odd middle word from (h, 0), bytes cut from the little-endian words. */
static void ref_bits(uint32_t k0, uint32_t k1, unsigned char* out, size_t bytes) {
  size_t words = (bytes + 3) / 4, h = words / 2, odd = words % 2;
  uint32_t* w = calloc(words ? words : 1, 4);
  for (size_t i = 0; i < h; i++) {
    uint32_t x[2] = {(uint32_t)i, (uint32_t)(h + odd + i)};
    random_threefry2x32(k0, k1, x);
    w[i] = x[0];
    w[h + odd + i] = x[1];
  }
  if (odd) {
    uint32_t x[2] = {(uint32_t)h, 0};
    random_threefry2x32(k0, k1, x);
    w[h] = x[0];
  }
  memcpy(out, w, bytes);
  free(w);
}

/* The key's two words. */
static void key_words(mlx_array key, uint32_t k[2]) {
  size_t n;
  uint32_t* p = u32_of(key, &n);
  k[0] = p && n == 2 ? p[0] : 0;
  k[1] = p && n == 2 ? p[1] : 0;
  free(p);
}

/* uint32 bits for shape under key, through the reference. */
static uint32_t* ref_bits32(mlx_array key, size_t count) {
  uint32_t k[2];
  key_words(key, k);
  uint32_t* out = malloc((count ? count : 1) * 4);
  ref_bits(k[0], k[1], (unsigned char*)out, count * 4);
  return out;
}

/* float32 uniform in [0, 1) from bits, MLX's recipe. */
static float ref_unit(uint32_t b, float upper) {
  float u = (float)b / 4294967296.0f;
  return u < upper ? u : upper;
}

/* erfinv in double by Newton's method on erf. */
static double erfinv_ref(double y) {
  if (y == 0) return 0;
  double x = 0;
  for (int i = 0; i < 100; i++) {
    double step = (erf(x) - y) / (2.0 / sqrt(M_PI) * exp(-x * x));
    x -= step;
    if (fabs(step) < 1e-17 * (1 + fabs(x))) break;
  }
  return x;
}

static void moments(const double* v, size_t n, double* mean, double* var) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) s += v[i];
  *mean = s / (double)n;
  for (size_t i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
  *var = s2 / (double)n;
}

/* ---- threefry and bits ---- */

static void test_threefry_known_answers(void) {
  /* Random123's kat_vectors for threefry2x32, 20 rounds: counter, key,
   * expected */
  static const uint32_t kat[3][6] = {
      {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x6b200159, 0x99ba4efe},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x1cb996fc, 0xbb002be7},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xc4923a9c, 0x483df7a0},
  };
  for (int i = 0; i < 3; i++) {
    uint32_t x[2] = {kat[i][0], kat[i][1]};
    random_threefry2x32(kat[i][2], kat[i][3], x);
    CHECK_MSG(x[0] == kat[i][4] && x[1] == kat[i][5], "kat %d: %08x %08x", i, x[0], x[1]);
  }
}

static void test_key_words(void) {
  mlx_array k = key_of(0x123456789abcdefull);
  uint32_t w[2];
  key_words(k, w);
  CHECK(w[0] == 0x01234567u && w[1] == 0x89abcdefu);
  CHECK(mlx_array_dtype(k) == MLX_UINT32 && test_shape_is(k, (int[]){2}, 1));
  mlx_array_free(k);
}

/* Every byte count 0..70 in each width, against the reference layout. */
static void test_bits_layout_all_sizes(void) {
  mlx_array key = key_of(1234567);
  uint32_t k[2];
  key_words(key, k);
  static const int widths[3] = {1, 2, 4};
  static const mlx_dtype dtypes[3] = {MLX_UINT8, MLX_UINT16, MLX_UINT32};
  for (int wi = 0; wi < 3; wi++) {
    for (int count = 0; count * widths[wi] <= 70; count++) {
      mlx_array r = mlx_array_new();
      CHECK_OK(mlx_random_bits(&r, &count, 1, widths[wi], key, test_stream));
      CHECK(mlx_array_dtype(r) == dtypes[wi]);
      size_t n;
      unsigned char* got = bytes_of(r, &n);
      size_t bytes = (size_t)count * (size_t)widths[wi];
      unsigned char* want = malloc(bytes + 1);
      ref_bits(k[0], k[1], want, bytes);
      CHECK_MSG(got && n == bytes && memcmp(got, want, bytes) == 0, "width %d count %d",
                widths[wi], count);
      free(got);
      free(want);
      mlx_array_free(r);
    }
  }
  /* host fill at odd offsets (no alignment needed) */
  unsigned char buf[64], want[64];
  for (size_t bytes = 0; bytes < 40; bytes++) {
    random_bits_fill(k[0], k[1], buf + 1, bytes);
    ref_bits(k[0], k[1], want, bytes);
    CHECK(memcmp(buf + 1, want, bytes) == 0);
  }
  mlx_array_free(key);
}

/* A draw big enough for the thread pool, 2-D, and a 0-d one. */
static void test_bits_large_and_0d(void) {
  mlx_array key = key_of(99);
  int shape[2] = {300, 1001};
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_random_bits(&r, shape, 2, 4, key, test_stream));
  size_t n;
  uint32_t* got = u32_of(r, &n);
  uint32_t* want = ref_bits32(key, 300 * 1001);
  CHECK(got && n == 300 * 1001 && memcmp(got, want, n * 4) == 0);
  free(got);
  free(want);
  /* 0-d: one word, the first of threefry(key, (0, 0)) */
  CHECK_OK(mlx_random_bits(&r, NULL, 0, 4, key, test_stream));
  uint32_t k[2], v = 0;
  key_words(key, k);
  uint32_t x[2] = {0, 0};
  random_threefry2x32(k[0], k[1], x);
  CHECK(mlx_array_ndim(r) == 0);
  CHECK_OK(mlx_array_item_uint32(&v, r));
  CHECK(v == x[0]);
  /* empty */
  int empty[2] = {3, 0};
  CHECK_OK(mlx_random_bits(&r, empty, 2, 2, key, test_stream));
  CHECK(mlx_array_size(r) == 0 && test_shape_is(r, empty, 2));
  CHECK_OK(mlx_array_eval(r));
  FREE_ALL(r, key);
}

/* Keys that are views: rows of a split (offset), a transposed column. */
static void test_bits_strided_keys(void) {
  mlx_array key = key_of(5);
  mlx_array keys = mlx_array_new(), t = mlx_array_new(), col = mlx_array_new();
  mlx_array k = mlx_array_new(), r = mlx_array_new(), r2 = mlx_array_new();
  CHECK_OK(mlx_random_split_num(&keys, key, 3, test_stream)); /* [3, 2] */
  CHECK_OK(mlx_transpose(&t, keys, test_stream));             /* [2, 3] */
  int start[2] = {0, 2}, stop[2] = {2, 3}, step[2] = {1, 1};
  CHECK_OK(mlx_slice(&col, t, start, 2, stop, 2, step, 2, test_stream)); /* key 2, strided */
  int two = 2;
  CHECK_OK(mlx_reshape(&k, col, &two, 1, test_stream));
  int count = 37;
  CHECK_OK(mlx_random_bits(&r, &count, 1, 4, k, test_stream));
  size_t n;
  uint32_t* all = u32_of(keys, &n);
  uint32_t want[37];
  ref_bits(all[4], all[5], (unsigned char*)want, sizeof want);
  uint32_t* got = u32_of(r, &n);
  CHECK(got && n == 37 && memcmp(got, want, sizeof want) == 0);
  /* the same key as a fresh contiguous array */
  mlx_array fresh = mlx_array_new_data(all + 4, &two, 1, MLX_UINT32);
  CHECK_OK(mlx_random_bits(&r2, &count, 1, 4, fresh, test_stream));
  CHECK(equal_bytes(r, r2));
  free(all);
  free(got);
  FREE_ALL(fresh, key, keys, t, col, k, r, r2);
}

static void test_split(void) {
  mlx_array key = key_of(42);
  mlx_array a = mlx_array_new(), b = mlx_array_new(), all = mlx_array_new();
  CHECK_OK(mlx_random_split(&a, &b, key, test_stream));
  CHECK_OK(mlx_random_split_num(&all, key, 2, test_stream));
  size_t n;
  uint32_t* w = u32_of(all, &n);
  uint32_t wa[2], wb[2];
  key_words(a, wa);
  key_words(b, wb);
  CHECK(n == 4 && wa[0] == w[0] && wa[1] == w[1] && wb[0] == w[2] && wb[1] == w[3]);
  CHECK(test_shape_is(a, (int[]){2}, 1) && test_shape_is(all, (int[]){2, 2}, 2));
  free(w);
  /* split(key, 0) is an empty [0, 2] */
  CHECK_OK(mlx_random_split_num(&all, key, 0, test_stream));
  CHECK(test_shape_is(all, (int[]){0, 2}, 2));
  FREE_ALL(key, a, b, all);
}

/* ---- the MLX oracle ---- */

typedef struct oracle {
  mlx_map_string_to_array map;
} oracle;

/* Compares ours with the oracle's tensor; returns the largest float32 ulp
 * distance for float32 tensors (bytes must match for the others). */
static int64_t check_oracle(oracle* o, const char* name, mlx_array ours, bool exact) {
  mlx_array ref = mlx_array_new();
  int rc = mlx_map_string_to_array_get(&ref, o->map, name);
  CHECK_MSG(rc == 0, "oracle tensor %s missing", name);
  int64_t worst = 0;
  if (rc == 0) {
    CHECK_MSG(mlx_array_dtype(ref) == mlx_array_dtype(ours), "%s: dtype", name);
    size_t nr, no;
    unsigned char* pr = bytes_of(ref, &nr);
    unsigned char* po = bytes_of(ours, &no);
    /* "first16" tensors are a prefix of ours */
    bool sizes = strstr(name, "first16") ? no >= nr : nr == no;
    CHECK_MSG(pr && po && sizes, "%s: size %zu vs %zu", name, no, nr);
    if (pr && po && sizes) {
      if (mlx_array_dtype(ref) == MLX_FLOAT32) {
        for (size_t i = 0; i < nr / 4; i++) {
          int64_t d = test_ulp_f32(((float*)po)[i], ((float*)pr)[i]);
          if (d > worst) worst = d;
        }
      }
      if (exact) CHECK_MSG(memcmp(pr, po, nr) == 0, "%s: bytes differ", name);
      else CHECK_MSG(worst <= 1, "%s: %lld ulp", name, (long long)worst);
    }
    free(pr);
    free(po);
  }
  mlx_array_free(ref);
  return worst;
}

static void test_oracle(void) {
  oracle o = {mlx_map_string_to_array_new()};
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  int rc = mlx_load_safetensors(&o.map, &meta, CMLX_TEST_DATA "/random.safetensors", test_stream);
  CHECK_MSG(rc == 0, "loading the oracle: %s", test_last_error);
  if (rc) {
    mlx_map_string_to_array_free(o.map);
    mlx_map_string_to_string_free(meta);
    return;
  }
  mlx_array k0 = key_of(0), k1 = key_of(1), k42 = key_of(42);
  mlx_array k = key_of(0x123456789abcdefull);
  check_oracle(&o, "key0", k0, true);
  check_oracle(&o, "key1", k1, true);
  check_oracle(&o, "key42", k42, true);
  check_oracle(&o, "key_0x123456789abcdef", k, true);

  mlx_array a = mlx_array_new(), b = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_random_split(&a, &b, k0, test_stream));
  check_oracle(&o, "split2_key0/a", a, true);
  check_oracle(&o, "split2_key0/b", b, true);
  CHECK_OK(mlx_random_split_num(&r, k42, 3, test_stream));
  check_oracle(&o, "split3_key42", r, true);
  CHECK_OK(mlx_random_split_num(&r, k0, 4, test_stream));
  check_oracle(&o, "split4_key0", r, true);

  int s8 = 8, s7 = 7, s6 = 6, s3x5[2] = {3, 5}, s4x4[2] = {4, 4}, s64x256[2] = {64, 256};
  CHECK_OK(mlx_random_bits(&r, &s8, 1, 4, k0, test_stream));
  check_oracle(&o, "bits32_key0_8", r, true);
  CHECK_OK(mlx_random_bits(&r, &s7, 1, 4, k0, test_stream));
  check_oracle(&o, "bits32_key0_7", r, true);
  CHECK_OK(mlx_random_bits(&r, s3x5, 2, 4, k0, test_stream));
  check_oracle(&o, "bits32_key0_3x5", r, true);
  CHECK_OK(mlx_random_bits(&r, &s8, 1, 2, k0, test_stream));
  check_oracle(&o, "bits16_key0_8", r, true);
  CHECK_OK(mlx_random_bits(&r, &s8, 1, 1, k0, test_stream));
  check_oracle(&o, "bits8_key0_8", r, true);

  mlx_array zero = scalar_f32(0), one = scalar_f32(1);
  mlx_array lo = mlx_array_new_int(-2), hi = mlx_array_new_int(3);
  CHECK_OK(mlx_random_uniform(&r, zero, one, &s8, 1, MLX_FLOAT32, k0, test_stream));
  check_oracle(&o, "uniform_f32_key0_8", r, true);
  CHECK_OK(mlx_random_uniform(&r, zero, one, &s7, 1, MLX_FLOAT32, k1, test_stream));
  check_oracle(&o, "uniform_f32_key1_7", r, true);
  CHECK_OK(mlx_random_uniform(&r, zero, one, s3x5, 2, MLX_FLOAT32, k0, test_stream));
  check_oracle(&o, "uniform_f32_key0_3x5", r, true);
  CHECK_OK(mlx_random_uniform(&r, zero, one, &s8, 1, MLX_FLOAT16, k0, test_stream));
  check_oracle(&o, "uniform_f16_key0_8", r, true);
  CHECK_OK(mlx_random_uniform(&r, zero, one, &s8, 1, MLX_BFLOAT16, k0, test_stream));
  check_oracle(&o, "uniform_bf16_key0_8", r, true);
  CHECK_OK(mlx_random_uniform(&r, lo, hi, &s6, 1, MLX_FLOAT32, k42, test_stream));
  check_oracle(&o, "uniform_f32_key42_lo-2_hi3_6", r, true);

  /* normal: measure the float32 distance, then require the bytes */
  int64_t worst = 0, d;
  CHECK_OK(mlx_random_normal(&r, &s8, 1, MLX_FLOAT32, 0, 1, k0, test_stream));
  d = check_oracle(&o, "normal_f32_key0_8", r, false);
  worst = d > worst ? d : worst;
  CHECK_OK(mlx_random_normal(&r, s4x4, 2, MLX_FLOAT32, 0, 1, k1, test_stream));
  d = check_oracle(&o, "normal_f32_key1_4x4", r, false);
  worst = d > worst ? d : worst;
  CHECK_OK(mlx_random_normal(&r, &s7, 1, MLX_FLOAT32, 0, 1, k42, test_stream));
  d = check_oracle(&o, "normal_f32_key42_7", r, false);
  worst = d > worst ? d : worst;
  CHECK_OK(mlx_random_normal(&r, &s8, 1, MLX_FLOAT32, 1, 2, k0, test_stream));
  d = check_oracle(&o, "normal_f32_key0_8_loc1_scale2", r, false);
  worst = d > worst ? d : worst;
  CHECK_OK(mlx_random_normal(&r, s64x256, 2, MLX_FLOAT32, 0, 1, k1, test_stream));
  d = check_oracle(&o, "normal_f32_key1_64x256_first16", r, false);
  worst = d > worst ? d : worst;
  printf("normal vs MLX oracle: max float32 distance %lld ulp\n", (long long)worst);
  CHECK(worst == 0);
  CHECK_OK(mlx_random_normal(&r, &s8, 1, MLX_FLOAT16, 0, 1, k0, test_stream));
  check_oracle(&o, "normal_f16_key0_8", r, true);
  CHECK_OK(mlx_random_normal(&r, &s8, 1, MLX_BFLOAT16, 0, 1, k0, test_stream));
  check_oracle(&o, "normal_bf16_key0_8", r, true);
  /* the broadcast form with loc/scale arrays gives the same values */
  mlx_array loc = scalar_f32(1), scale = scalar_f32(2), r2 = mlx_array_new();
  CHECK_OK(mlx_random_normal_broadcast(&r2, &s8, 1, MLX_FLOAT32, loc, scale, k0, test_stream));
  check_oracle(&o, "normal_f32_key0_8_loc1_scale2", r2, true);

  FREE_ALL(k0, k1, k42, k, a, b, r, r2, zero, one, lo, hi, loc, scale);
  mlx_map_string_to_array_free(o.map);
  mlx_map_string_to_string_free(meta);
}

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

/* ---- determinism and the global sequence ---- */

static void test_same_key_same_numbers(void) {
  mlx_array k1 = key_of(7), k2 = key_of(7), k3 = key_of(8);
  mlx_array a = mlx_array_new(), b = mlx_array_new(), c = mlx_array_new();
  int shape[2] = {17, 9};
  CHECK_OK(mlx_random_normal(&a, shape, 2, MLX_FLOAT32, 0, 1, k1, test_stream));
  CHECK_OK(mlx_random_normal(&b, shape, 2, MLX_FLOAT32, 0, 1, k2, test_stream));
  CHECK_OK(mlx_random_normal(&c, shape, 2, MLX_FLOAT32, 0, 1, k3, test_stream));
  CHECK(equal_bytes(a, b));
  CHECK(!equal_bytes(a, c));
  FREE_ALL(k1, k2, k3, a, b, c);
}

/* After seed(s), draws without a key use split(key(s)) = (carry, sub):
 * sub for the first draw, then split(carry) for the next, and so on. */
static void test_global_sequence(void) {
  int count = 5;
  mlx_array carry = key_of(1234), sub = mlx_array_new(), next = mlx_array_new();
  mlx_array r = mlx_array_new(), want = mlx_array_new();
  CHECK_OK(mlx_random_seed(1234));
  for (int step = 0; step < 3; step++) {
    CHECK_OK(mlx_random_bits(&r, &count, 1, 4, NONE, test_stream));
    CHECK_OK(mlx_random_split(&next, &sub, carry, test_stream));
    CHECK_OK(mlx_random_bits(&want, &count, 1, 4, sub, test_stream));
    CHECK_MSG(equal_bytes(r, want), "step %d", step);
    mlx_array_set(&carry, next);
  }
  /* a failing call before bits leaves the sequence alone... */
  CHECK_OK(mlx_random_seed(1234));
  mlx_array lo = scalar_f32(0), hi = scalar_f32(1);
  EXPECT_ERROR(mlx_random_uniform(&r, lo, hi, &count, 1, MLX_INT32, NONE, test_stream),
               "[uniform] Can only generate uniform numbers with real floating point type.");
  CHECK_OK(mlx_random_bits(&r, &count, 1, 4, NONE, test_stream));
  mlx_array k = key_of(1234);
  CHECK_OK(mlx_random_split(&next, &sub, k, test_stream));
  CHECK_OK(mlx_random_bits(&want, &count, 1, 4, sub, test_stream));
  CHECK(equal_bytes(r, want));
  /* ...while bernoulli's shape check comes after its bits (as in MLX) */
  CHECK_OK(mlx_random_seed(1234));
  float ps[3] = {0.1f, 0.2f, 0.3f};
  int s3 = 3;
  mlx_array p = test_array_f32(ps, &s3, 1);
  EXPECT_ERROR(mlx_random_bernoulli(&r, p, NULL, 0, NONE, test_stream),
               "[bernoulli] shape of `p` is incompatible with argument `shape`.");
  CHECK_OK(mlx_random_bits(&r, &count, 1, 4, NONE, test_stream));
  mlx_array carry2 = mlx_array_new();
  CHECK_OK(mlx_random_split(&carry2, &sub, k, test_stream));
  CHECK_OK(mlx_random_split(&next, &sub, carry2, test_stream));
  CHECK_OK(mlx_random_bits(&want, &count, 1, 4, sub, test_stream));
  CHECK(equal_bytes(r, want));
  /* samplers draw one key each: uniform() == uniform(key = sub) */
  CHECK_OK(mlx_random_seed(99));
  CHECK_OK(mlx_random_uniform(&r, lo, hi, &count, 1, MLX_FLOAT32, NONE, test_stream));
  mlx_array k99 = key_of(99);
  CHECK_OK(mlx_random_split(&next, &sub, k99, test_stream));
  CHECK_OK(mlx_random_uniform(&want, lo, hi, &count, 1, MLX_FLOAT32, sub, test_stream));
  CHECK(equal_bytes(r, want));
  FREE_ALL(carry, sub, next, r, want, lo, hi, k, p, carry2, k99);
}

typedef struct thread_draw {
  uint64_t seed; /* 0: do not seed */
  uint32_t words[4];
} thread_draw;

static void* draw_in_thread(void* arg) {
  thread_draw* d = arg;
  if (d->seed) mlx_random_seed(d->seed);
  mlx_stream s = mlx_default_cpu_stream_new();
  mlx_array r = mlx_array_new();
  int count = 4;
  if (mlx_random_bits(&r, &count, 1, 4, NONE, s) == 0) {
    size_t n;
    uint32_t* w = u32_of(r, &n);
    if (w && n == 4) memcpy(d->words, w, sizeof d->words);
    free(w);
  }
  mlx_array_free(r);
  mlx_stream_free(s);
  return NULL;
}

/* Each thread has its own sequence; unseeded threads all start from the
 * one process seed; seeding one thread does not move another. */
static void test_thread_local_sequences(void) {
  thread_draw d[3] = {{0, {0}}, {0, {0}}, {4321, {0}}};
  for (int i = 0; i < 3; i++) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, draw_in_thread, &d[i]) == 0);
    pthread_join(t, NULL);
  }
  CHECK(memcmp(d[0].words, d[1].words, sizeof d[0].words) == 0);
  /* the seeded thread drew split(key(4321))[1]'s bits */
  mlx_array k = key_of(4321), a = mlx_array_new(), b = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_random_split(&a, &b, k, test_stream));
  int count = 4;
  CHECK_OK(mlx_random_bits(&r, &count, 1, 4, b, test_stream));
  size_t n;
  uint32_t* w = u32_of(r, &n);
  CHECK(w && memcmp(w, d[2].words, sizeof d[2].words) == 0);
  free(w);
  /* this thread's sequence was not moved by the others */
  CHECK_OK(mlx_random_seed(4321));
  thread_draw other = {0, {0}};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, draw_in_thread, &other) == 0);
  pthread_join(t, NULL);
  CHECK_OK(mlx_random_bits(&r, &count, 1, 4, NONE, test_stream));
  w = u32_of(r, &n);
  CHECK(w && memcmp(w, d[2].words, sizeof d[2].words) == 0);
  free(w);
  FREE_ALL(k, a, b, r);
}

/* ---- errors ---- */

static void test_errors(void) {
  mlx_array r = mlx_array_new(), r2 = mlx_array_new();
  mlx_array key = key_of(1);
  int count = 4, neg = -1, s3 = 3, s2 = 2;
  float f3[3] = {1, 2, 3};
  mlx_array key3 = test_array_f32(f3, &s3, 1), keyf = mlx_array_new(), key3u = mlx_array_new();
  CHECK_OK(mlx_astype(&keyf, key, MLX_FLOAT32, test_stream));
  CHECK_OK(mlx_astype(&key3u, key3, MLX_UINT32, test_stream));
  mlx_array key22 = mlx_array_new();
  CHECK_OK(mlx_random_split_num(&key22, key, 2, test_stream));
  mlx_array zero = scalar_f32(0), one = scalar_f32(1);

  /* bits */
  EXPECT_ERROR(mlx_random_bits(&r, &neg, 1, 4, key, test_stream),
               "[bits] Negative dimensions not allowed.");
  EXPECT_ERROR(mlx_random_bits(&r, &count, 1, 4, keyf, test_stream),
               "[bits] Expected key type uint32 but received float32.");
  EXPECT_ERROR(mlx_random_bits(&r, &count, 1, 4, key3u, test_stream),
               "[bits] Expected key shape (2) but received (3).");
  EXPECT_ERROR(mlx_random_bits(&r, &count, 1, 4, key22, test_stream),
               "[bits] Expected key shape (2) but received (2,2).");
  EXPECT_ERROR(mlx_random_bits(&r, &count, 1, 3, key, test_stream),
               "[bits] Bit width must be in {1, 2, 4} but got 3.");
  EXPECT_ERROR(mlx_random_bits(&r, &count, 1, 8, NONE, test_stream),
               "[bits] Bit width must be in {1, 2, 4} but got 8.");
  EXPECT_ERROR(mlx_random_bits(NULL, &count, 1, 4, key, test_stream),
               "[bits] The result pointer is NULL.");
  EXPECT_ERROR(mlx_random_bits(&r, NULL, 1, 4, key, test_stream),
               "[bits] The shape pointer is NULL.");
  /* split */
  EXPECT_ERROR(mlx_random_split(&r, &r2, key3u, test_stream),
               "[bits] Expected key shape (2) but received (3).");
  EXPECT_ERROR(mlx_random_split(&r, &r2, NONE, test_stream),
               "[split] The input array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_random_split(&r, NULL, key, test_stream), "[split] The result pointer is NULL.");
  EXPECT_ERROR(mlx_random_split_num(&r, key, -2, test_stream),
               "[bits] Negative dimensions not allowed.");
  EXPECT_ERROR(mlx_random_split_num(&r, keyf, 2, test_stream),
               "[bits] Expected key type uint32 but received float32.");
  EXPECT_ERROR(mlx_random_key(NULL, 1), "[key] The result pointer is NULL.");

  /* uniform */
  const char* not_real = "[uniform] Can only generate uniform numbers with real floating point type.";
  EXPECT_ERROR(mlx_random_uniform(&r, zero, one, &count, 1, MLX_INT32, key, test_stream), not_real);
  EXPECT_ERROR(mlx_random_uniform(&r, zero, one, &count, 1, MLX_COMPLEX64, key, test_stream),
               not_real);
  EXPECT_ERROR(mlx_random_uniform(&r, zero, one, &count, 1, MLX_FLOAT64, key, test_stream),
               "[uniform] Unsupported type.");
  EXPECT_ERROR(mlx_random_uniform(&r, zero, one, &count, 1, (mlx_dtype)99, key, test_stream),
               "[uniform] Invalid dtype 99.");
  mlx_array b3 = test_array_f32(f3, &s3, 1), b2 = test_array_f32(f3, &s2, 1);
  int s32[2] = {3, 2};
  mlx_array b32 = mlx_array_new();
  CHECK_OK(mlx_zeros(&b32, s32, 2, MLX_FLOAT32, test_stream));
  EXPECT_ERROR(mlx_random_uniform(&r, b2, b3, &s3, 1, MLX_FLOAT32, key, test_stream),
               "[broadcast_shapes] Shapes (3) and (2) cannot be broadcast.");
  EXPECT_ERROR(mlx_random_uniform(&r, zero, b3, &s2, 1, MLX_FLOAT32, key, test_stream),
               "[broadcast_shapes] Shapes (2) and (3) cannot be broadcast.");
  EXPECT_ERROR(mlx_random_uniform(&r, zero, b32, &s2, 1, MLX_FLOAT32, key, test_stream),
               "[uniform] Cannot generate random values of shape (2) from broadcasted shape (3,2).");
  EXPECT_ERROR(mlx_random_uniform(&r, zero, one, &neg, 1, MLX_FLOAT32, key, test_stream),
               "[bits] Negative dimensions not allowed.");
  EXPECT_ERROR(mlx_random_uniform(&r, zero, one, &count, 1, MLX_FLOAT32, key3u, test_stream),
               "[bits] Expected key shape (2) but received (3).");
  EXPECT_ERROR(mlx_random_uniform(&r, NONE, one, &count, 1, MLX_FLOAT32, key, test_stream),
               "[uniform] The first array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_random_uniform(&r, zero, NONE, &count, 1, MLX_FLOAT32, key, test_stream),
               "[uniform] The second array is empty (an mlx_array_new() handle).");

  /* normal */
  EXPECT_ERROR(mlx_random_normal(&r, &count, 1, MLX_INT32, 0, 1, key, test_stream),
               "[normal] Only floating point and complex64 types are supported.");
  EXPECT_ERROR(mlx_random_normal_broadcast(&r, &count, 1, MLX_UINT8, NONE, NONE, key, test_stream),
               "[normal] Only floating point and complex64 types are supported.");
  EXPECT_ERROR(mlx_random_normal(&r, &count, 1, MLX_FLOAT32, 0, 1, keyf, test_stream),
               "[bits] Expected key type uint32 but received float32.");
  EXPECT_ERROR(mlx_random_normal_broadcast(&r, &s2, 1, MLX_FLOAT32, b3, NONE, key, test_stream),
               "[broadcast_shapes] Shapes (3) and (2) cannot be broadcast.");

  /* randint */
  mlx_array i0 = mlx_array_new_int(0), i5 = mlx_array_new_int(5);
  EXPECT_ERROR(mlx_random_randint(&r, i0, i5, &count, 1, MLX_FLOAT32, key, test_stream),
               "[randint] randint only accepts integer dtypes and bool.");
  EXPECT_ERROR(mlx_random_randint(&r, i0, i5, &count, 1, MLX_COMPLEX64, key, test_stream),
               "[randint] randint only accepts integer dtypes and bool.");
  EXPECT_ERROR(mlx_random_randint(&r, i0, i5, &neg, 1, MLX_INT32, key, test_stream),
               "[bits] Negative dimensions not allowed.");

  /* bernoulli */
  mlx_array half = scalar_f32(0.5f);
  EXPECT_ERROR(mlx_random_bernoulli(&r, i0, &count, 1, key, test_stream),
               "[bernoulli] bernoulli probability `p` must be a float type.");
  EXPECT_ERROR(mlx_random_bernoulli(&r, b3, NULL, 0, key, test_stream),
               "[bernoulli] shape of `p` is incompatible with argument `shape`.");
  EXPECT_ERROR(mlx_random_bernoulli(&r, b3, &s2, 1, key, test_stream),
               "[broadcast_shapes] Shapes (2) and (3) cannot be broadcast.");
  EXPECT_ERROR(mlx_random_bernoulli(&r, half, &count, 1, key3u, test_stream),
               "[bits] Expected key shape (2) but received (3).");
  EXPECT_ERROR(mlx_random_bernoulli(&r, NONE, &count, 1, key, test_stream),
               "[bernoulli] The input array is empty (an mlx_array_new() handle).");

  /* truncated_normal, gumbel, laplace */
  EXPECT_ERROR(mlx_random_truncated_normal(&r, zero, one, &count, 1, MLX_INT32, key, test_stream),
               "[trunc_normal] trunc_normal only accepts floating point dtypes.");
  EXPECT_ERROR(mlx_random_truncated_normal(&r, zero, one, &count, 1, MLX_FLOAT64, key, test_stream),
               "[uniform] Unsupported type.");
  EXPECT_ERROR(mlx_random_gumbel(&r, &count, 1, MLX_INT32, key, test_stream), not_real);
  EXPECT_ERROR(mlx_random_gumbel(&r, &count, 1, MLX_FLOAT64, key, test_stream),
               "[uniform] Unsupported type.");
  EXPECT_ERROR(mlx_random_laplace(&r, &count, 1, MLX_INT8, 0, 1, key, test_stream),
               "[laplace] Only real floating point types are supported.");
  EXPECT_ERROR(mlx_random_laplace(&r, &count, 1, MLX_COMPLEX64, 0, 1, key, test_stream),
               "[laplace] Only real floating point types are supported.");

  /* categorical */
  float l6[6] = {0, 1, 2, 3, 4, 5};
  int s23[2] = {2, 3}, s1 = 1;
  mlx_array logits = test_array_f32(l6, s23, 2), scalar = scalar_f32(1);
  EXPECT_ERROR(mlx_random_categorical(&r, logits, 2, key, test_stream),
               "[categorical] Invalid axis 2 for logits with 2 dimensions.");
  EXPECT_ERROR(mlx_random_categorical(&r, logits, -3, key, test_stream),
               "[categorical] Invalid axis -3 for logits with 2 dimensions.");
  EXPECT_ERROR(mlx_random_categorical_num_samples(&r, scalar, 0, 3, key, test_stream),
               "[categorical] Invalid axis 0 for logits with 0 dimensions.");
  EXPECT_ERROR(mlx_random_categorical_shape(&r, logits, 5, &s2, 1, key, test_stream),
               "[categorical] Invalid axis 5 for logits with 2 dimensions.");
  EXPECT_ERROR(mlx_random_categorical_shape(&r, logits, 1, &s3, 1, key, test_stream),
               "[broadcast_shapes] Shapes (3) and (2) cannot be broadcast.");
  EXPECT_ERROR(mlx_random_categorical_shape(&r, logits, 1, &s1, 1, key, test_stream),
               "[categorical] Requested shape (1) is not broadcast compatible with reduced "
               "logits shape(2).");
  EXPECT_ERROR(mlx_random_categorical_shape(&r, logits, 0, NULL, 0, key, test_stream),
               "[categorical] Requested shape () is not broadcast compatible with reduced "
               "logits shape(3).");
  EXPECT_ERROR(mlx_random_categorical_num_samples(&r, logits, 1, -2, key, test_stream),
               "[bits] Negative dimensions not allowed.");
  EXPECT_ERROR(mlx_random_categorical(&r, logits, 1, keyf, test_stream),
               "[bits] Expected key type uint32 but received float32.");

  /* permutation */
  EXPECT_ERROR(mlx_random_permutation_arange(&r, -1, key, test_stream),
               "[bits] Negative dimensions not allowed.");
  EXPECT_ERROR(mlx_random_permutation(&r, logits, 2, key, test_stream),
               "[permutation] Invalid axis 2 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_random_permutation(&r, scalar, 0, key, test_stream),
               "[permutation] Invalid axis 0 for array with 0 dimensions.");
  EXPECT_ERROR(mlx_random_permutation(&r, logits, 0, key3u, test_stream),
               "[bits] Expected key shape (2) but received (3).");

  FREE_ALL(r, r2, key, key3, keyf, key3u, key22, zero, one, b3, b2, b32, i0, i5, half, logits,
           scalar);
}

/* searchsorted (internal): left/right, NaN last, strided values. */
static void test_searchsorted(void) {
  float seq[6] = {0, 1, 1, 2, 5, NAN};
  float vals[6] = {-1, 1, 1.5f, 5, 7, NAN};
  int s6 = 6;
  array* a = ((array*)mlx_array_new_data(seq, &s6, 1, MLX_FLOAT32).ctx);
  array* v = ((array*)mlx_array_new_data(vals, &s6, 1, MLX_FLOAT32).ctx);
  static const uint32_t want_right[6] = {0, 3, 3, 5, 5, 6};
  static const uint32_t want_left[6] = {0, 1, 3, 4, 5, 5};
  for (int side = 0; side < 2; side++) {
    mlx_array r = {op_searchsorted(a, v, side == 1, stream_default(device_default()))};
    size_t n;
    uint32_t* got = u32_of(r, &n);
    CHECK_MSG(got && n == 6 && memcmp(got, side ? want_right : want_left, 24) == 0, "side %d",
              side);
    free(got);
    mlx_array_free(r);
  }
  array_release(a);
  array_release(v);
}

int main(void) {
  test_init();
  test_threefry_known_answers();
  test_key_words();
  test_bits_layout_all_sizes();
  test_bits_large_and_0d();
  test_bits_strided_keys();
  test_split();
  test_oracle();
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
  test_same_key_same_numbers();
  test_global_sequence();
  test_thread_local_sequences();
  test_errors();
  test_searchsorted();
  return test_finish("test_random");
}
