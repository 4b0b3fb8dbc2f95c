/* test_random.c - random numbers (mlx/c/random.h): the bits, the MLX
 * oracle, the global sequence and errors (the distributions are in
 * test_random_dist.c).
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
 * - the same key gives the same numbers; the global sequence equals the
 *   explicit split chain after seed, advances only where MLX advances it,
 *   and is per thread, all threads starting from one process seed;
 * - every error path with MLX's text, and searchsorted (internal). */
#include "random_util.h"

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
  test_same_key_same_numbers();
  test_global_sequence();
  test_thread_local_sequences();
  test_errors();
  test_searchsorted();
  return test_finish("test_random");
}
