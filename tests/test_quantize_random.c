/* test_quantize_random.c - quantize, dequantize, to_fp8 and from_fp8 on
 * random data, against references written here (the MLX oracle and the
 * errors are in test_quantize.c).
 *
 * What it proves:
 * - a reference written here (independent bit packing, exact-distance E2M1
 *   choice, brute-force E4M3 rounding) agrees with the kernels;
 * - strided, transposed and broadcast inputs, batch dimensions, empty
 *   arrays, float64 (eval-time error for affine), the composed affine
 *   dequantize for mixed scale/bias dtypes, and the affine error bound
 *   |w - w'| <= |scale|/2;
 * - fp8 both ways against brute-force rounding. */
#include "quantize_util.h"

/* ------------------------------------------------------------------------
 * 1. References written here
 * ---------------------------------------------------------------------- */

/* Sets bits [pos, pos+bits) of a little-endian word stream, one bit at a
 * time (independent of the kernels' packers). */
static void put_bits(uint32_t* words, size_t pos, int bits, uint32_t v) {
  for (int b = 0; b < bits; b++, pos++)
    if ((v >> b) & 1u) words[pos / 32] |= 1u << (pos % 32);
}

/* MLX's affine rule on float32 rows of K (see quantize.c). */
static void ref_affine(const float* w, int rows, int K, int g, int bits, uint32_t* wq,
                       float* scales, float* biases) {
  int groups = K / g;
  memset(wq, 0, (size_t)rows * (size_t)K * (size_t)bits / 8);
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < groups; k++) {
      const float* x = w + (size_t)r * K + (size_t)k * g;
      float mx = x[0], mn = x[0];
      for (int j = 1; j < g; j++) {
        mx = fmaxf(mx, x[j]);
        mn = fminf(mn, x[j]);
      }
      float n = (float)((1 << bits) - 1);
      float s = fmaxf((mx - mn) / n, 1e-7f);
      float edge = mx;
      if (fabsf(mn) > fabsf(mx)) edge = mn;
      else s = -s;
      float q0 = rintf(edge / s), b = 0;
      if (q0 != 0) {
        s = edge / q0;
        b = edge;
      }
      for (int j = 0; j < g; j++) {
        float q = fminf(fmaxf(rintf((x[j] - b) / s), 0), n);
        put_bits(wq + (size_t)r * K * bits / 32, (size_t)(k * g + j) * bits, bits, (uint32_t)q);
      }
      scales[r * groups + k] = s;
      biases[r * groups + k] = b;
    }
}

/* E2M1 code of x by exact (double) distance, first index on ties. */
static uint32_t ref_e2m1(float x) {
  static const double lut[16] = {0, .5, 1, 1.5, 2, 3, 4, 6, -0.0, -.5, -1, -1.5, -2, -3, -4, -6};
  int best = 0;
  for (int k = 1; k < 16; k++)
    if (fabs((double)x - lut[k]) < fabs((double)x - lut[best])) best = k;
  return (uint32_t)best;
}

/* E4M3 by brute force: the nearest of the codes 0..0x7E (ties to the even
 * code), saturating from 464 up; sign copied; NaN -> 0x7E with its sign. */
static uint8_t ref_e4m3(float x) {
  uint8_t sign = signbit(x) ? 0x80 : 0;
  double a = fabs((double)x);
  if (isnan(x) || a >= 464.0) return (uint8_t)(0x7E | sign);
  int best = 0;
  for (int c = 1; c <= 0x7E; c++) {
    double d = fabs(a - quant_e4m3_values[c]), db = fabs(a - quant_e4m3_values[best]);
    if (d < db || (d == db && (c & 1) == 0)) best = c;
  }
  return (uint8_t)(best | sign);
}

/* mxfp4 / mxfp8 / nvfp4 on float32 rows (no global scale). */
static void ref_fp(const char* mode, const float* w, int rows, int K, uint32_t* wq,
                   uint8_t* scales) {
  bool nv = strcmp(mode, "nvfp4") == 0, fp8 = strcmp(mode, "mxfp8") == 0;
  int g = nv ? 16 : 32, bits = fp8 ? 8 : 4, groups = K / g;
  memset(wq, 0, (size_t)rows * (size_t)K * (size_t)bits / 8);
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < groups; k++) {
      const float* x = w + (size_t)r * K + (size_t)k * g;
      float amax = 0;
      for (int j = 0; j < g; j++) amax = fmaxf(amax, fabsf(x[j]));
      float div;
      uint8_t byte;
      if (nv) {
        byte = ref_e4m3(amax / 6.0f);
        div = quant_e4m3_values[byte];
      } else {
        float s = amax / (fp8 ? 448.0f : 6.0f);
        int e = s == 0 ? 0 : (int)rintf(log2f(s));
        byte = (uint8_t)(e + 127);
        div = ldexpf(1.0f, e);
      }
      scales[r * groups + k] = byte;
      for (int j = 0; j < g; j++) {
        float v = x[j] / div;
        uint32_t code = fp8 ? ref_e4m3(v) : ref_e2m1(v);
        put_bits(wq + (size_t)r * K * bits / 32, (size_t)(k * g + j) * bits, bits, code);
      }
    }
}

static bool equal_u32(const uint32_t* a, const uint32_t* b, size_t n, const char* what) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) {
      fprintf(stderr, "%s: word %zu: 0x%08x vs 0x%08x\n", what, i, a[i], b[i]);
      return false;
    }
  return true;
}

static void test_affine_reference(void) {
  static const int bits_list[] = {2, 3, 4, 5, 6, 8};
  static const int groups[] = {32, 64, 128};
  for (int bi = 0; bi < 6; bi++)
    for (int gi = 0; gi < 3; gi++) {
      int bits = bits_list[bi], g = groups[gi];
      int rows = 1 + (int)test_rand(0, 40), K = g * (1 + (int)test_rand(0, 4));
      int shape[2] = {rows, K};
      mlx_array w = random_f32(shape, 2, -3, 2);
      mlx_vector_array q = mlx_vector_array_new();
      CHECK_OK(mlx_quantize(&q, w, opt_int(g), opt_int(bits), "affine", mlx_array_new(),
                            test_stream));
      mlx_array wq = vec_at(q, 0), s = vec_at(q, 1), b = vec_at(q, 2);
      size_t n_words = (size_t)rows * K * bits / 32, n_groups = (size_t)rows * K / g;
      uint32_t* rq = malloc(n_words * 4);
      float* rs = malloc(n_groups * 4);
      float* rb = malloc(n_groups * 4);
      ref_affine(mlx_array_data_float32(w), rows, K, g, bits, rq, rs, rb);
      char what[64];
      snprintf(what, sizeof what, "affine b%d g%d", bits, g);
      CHECK_MSG(equal_u32(mlx_array_data_uint32(wq), rq, n_words, what), "%s codes", what);
      CHECK(memcmp(mlx_array_data_float32(s), rs, n_groups * 4) == 0);
      CHECK(memcmp(mlx_array_data_float32(b), rb, n_groups * 4) == 0);
      /* the round trip is within half a step of the scale */
      mlx_array d = mlx_array_new();
      CHECK_OK(mlx_dequantize(&d, wq, s, b, opt_int(g), opt_int(bits), "affine",
                              mlx_array_new(), no_dtype, test_stream));
      const float* dv = mlx_array_data_float32(d);
      const float* wv = mlx_array_data_float32(w);
      /* (the edge rule can shrink the scale, so the far end of the range
       * may be clamped to code 0 or 2^bits - 1) */
      bool within = dv != NULL;
      for (size_t i = 0; within && i < (size_t)rows * K; i++) {
        uint32_t code = quant_code_at(rq + (i / K) * ((size_t)K * bits / 32), i % K, bits);
        bool clamped = code == 0 || code == (1u << bits) - 1;
        within = clamped ||
                 fabsf(dv[i] - wv[i]) <= fabsf(rs[i / g]) * 0.5f * (1 + 1e-5f) + 1e-6f;
      }
      CHECK_MSG(within, "%s round trip", what);
      free(rq);
      free(rs);
      free(rb);
      mlx_array arrs[] = {w, wq, s, b, d};
      for (size_t i = 0; i < 5; i++) mlx_array_free(arrs[i]);
      mlx_vector_array_free(q);
    }
}

static void test_fp_reference(void) {
  static const char* modes[] = {"mxfp4", "mxfp8", "nvfp4"};
  for (int mi = 0; mi < 3; mi++) {
    const char* mode = modes[mi];
    bool nv = mi == 2, fp8 = mi == 1;
    int g = nv ? 16 : 32, bits = fp8 ? 8 : 4;
    int rows = 3 + (int)test_rand(0, 60), K = 32 * (1 + (int)test_rand(0, 6));
    int shape[2] = {rows, K};
    /* magnitudes spread over many binades, group by group */
    float* wv = malloc((size_t)rows * K * sizeof *wv);
    for (int i = 0; i < rows * K; i++) wv[i] = ldexpf((float)test_rand(-5, 5), (i / g) % 40 - 20);
    mlx_array w = new_f32(wv, shape, 2);
    mlx_vector_array q = mlx_vector_array_new();
    CHECK_OK(mlx_quantize(&q, w, no_int, no_int, mode, mlx_array_new(), test_stream));
    CHECK(mlx_vector_array_size(q) == 2);
    mlx_array wq = vec_at(q, 0), s = vec_at(q, 1);
    size_t n_words = (size_t)rows * K * bits / 32, n_groups = (size_t)rows * K / g;
    uint32_t* rq = malloc(n_words * 4);
    uint8_t* rs = malloc(n_groups);
    ref_fp(mode, wv, rows, K, rq, rs);
    CHECK_MSG(equal_u32(mlx_array_data_uint32(wq), rq, n_words, mode), "%s codes", mode);
    CHECK_MSG(memcmp(mlx_array_data_uint8(s), rs, n_groups) == 0, "%s scales", mode);
    /* dequantize = element value times scale, exactly */
    mlx_array d = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d, wq, s, mlx_array_new(), no_int, no_int, mode, mlx_array_new(),
                            opt_dtype(MLX_FLOAT32), test_stream));
    const float* dv = mlx_array_data_float32(d);
    bool exact = dv != NULL;
    for (size_t i = 0; exact && i < (size_t)rows * K; i++) {
      uint32_t code = quant_code_at(rq + (i / K) * ((size_t)K * bits / 32), i % K, bits);
      float elem = fp8 ? quant_e4m3_values[code] : quant_e2m1_values[code];
      uint8_t sb = rs[i / g];
      float scale = nv ? quant_e4m3_values[sb] : ldexpf(1.0f, sb - 127);
      exact = dv[i] == elem * scale;
    }
    CHECK_MSG(exact, "%s dequantize", mode);
    free(rq);
    free(rs);
    free(wv);
    mlx_array arrs[] = {w, wq, s, d};
    for (size_t i = 0; i < 4; i++) mlx_array_free(arrs[i]);
    mlx_vector_array_free(q);
  }
}

/* mxfp4 / nvfp4 of float16 or bfloat16 data as MLX's graph computes it:
 * every op rounded to T (nvfp4's element step in float32), the element code
 * by the literal search over the table with first-index ties. Checks the
 * kernels' threshold shortcut on data full of exact midpoints. */
static float round_t(float v, mlx_dtype t) {
  return t == MLX_FLOAT16 ? f16_to_f32(f32_to_f16(v)) : bf16_to_f32(f32_to_bf16(v));
}

static uint32_t ref_e2m1_search(float x, mlx_dtype t, bool round_distances) {
  int best = 0;
  float bd = 0;
  for (int k = 0; k < 16; k++) {
    float d = fabsf(x - quant_e2m1_values[k]);
    if (round_distances) d = round_t(d, t);
    if (k == 0 || d < bd) {
      best = k;
      bd = d;
    }
  }
  return (uint32_t)best;
}

static void test_fp_half_reference(void) {
  static const mlx_dtype types[] = {MLX_FLOAT16, MLX_BFLOAT16};
  for (int ti = 0; ti < 2; ti++)
    for (int nv = 0; nv < 2; nv++) {
      mlx_dtype t = types[ti];
      int g = nv ? 16 : 32, rows = 64, K = 256;
      int shape[2] = {rows, K};
      float* wv = malloc((size_t)rows * K * sizeof *wv);
      for (int i = 0; i < rows * K; i++) {
        /* multiples of 1/16 (many exact midpoints once scaled), scaled */
        float v = (float)(int)test_rand(-100, 100) / 16.0f;
        int e = ti == 0 ? (i / g) % 17 - 8 : (i / g) % 24 - 12; /* float16 stays finite */
        wv[i] = round_t(ldexpf(v, e), t);
      }
      mlx_array w32 = new_f32(wv, shape, 2);
      mlx_array w = cast(w32, t);
      mlx_vector_array q = mlx_vector_array_new();
      CHECK_OK(mlx_quantize(&q, w, no_int, no_int, nv ? "nvfp4" : "mxfp4", mlx_array_new(),
                            test_stream));
      mlx_array wq = vec_at(q, 0), sc = vec_at(q, 1);
      const uint32_t* got = mlx_array_data_uint32(wq);
      const uint8_t* gs = mlx_array_data_uint8(sc);
      bool ok = got && gs;
      for (int grp = 0; ok && grp < rows * K / g; grp++) {
        const float* x = wv + (size_t)grp * g;
        float amax = 0;
        for (int j = 0; j < g; j++) amax = fmaxf(amax, fabsf(x[j]));
        float s = round_t(amax / 6.0f, t), div;
        uint8_t byte;
        if (nv) {
          byte = ref_e4m3(s);
          div = quant_e4m3_values[byte];
        } else {
          int e = s == 0 ? 0 : (int)rintf(round_t(log2f(s), t));
          byte = (uint8_t)(e + 127);
          div = round_t(ldexpf(1.0f, e), t);
        }
        ok = gs[grp] == byte;
        if (!ok) fprintf(stderr, "group %d: scale byte %u, want %u\n", grp, gs[grp], byte);
        for (int j = 0; ok && j < g; j++) {
          float xv = round_t(x[j] / div, t);
          uint32_t want = ref_e2m1_search(xv, t, !nv);
          size_t e = (size_t)grp * g + (size_t)j;
          ok = quant_code_at(got + (e / K) * (K / 8), e % K, 4) == want;
          if (!ok) fprintf(stderr, "%s %s: x=%g code %u want %u\n", dtype_name(t),
                           nv ? "nvfp4" : "mxfp4", xv,
                           quant_code_at(got + (e / K) * (K / 8), e % K, 4), want);
        }
      }
      CHECK_MSG(ok, "%s %s against the literal search", dtype_name(t), nv ? "nvfp4" : "mxfp4");
      free(wv);
      mlx_array arrs[] = {w32, w, wq, sc};
      for (size_t i = 0; i < 4; i++) mlx_array_free(arrs[i]);
      mlx_vector_array_free(q);
    }
}

/* ------------------------------------------------------------------------
 * 2. Layouts, shapes, dtypes
 * ---------------------------------------------------------------------- */

/* quantize(view) == quantize(contiguous copy of the view), every output. */
static void check_layout_invariant(mlx_array view, const char* mode, const char* what) {
  mlx_array dense = mlx_array_new();
  CHECK_OK(mlx_contiguous(&dense, view, false, test_stream));
  mlx_vector_array a = mlx_vector_array_new(), b = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&a, view, no_int, no_int, mode, mlx_array_new(), test_stream));
  CHECK_OK(mlx_quantize(&b, dense, no_int, no_int, mode, mlx_array_new(), test_stream));
  for (size_t i = 0; i < mlx_vector_array_size(a); i++) {
    mlx_array x = vec_at(a, i), y = vec_at(b, i);
    CHECK_MSG(same_bytes(x, y, what), "%s output %zu", what, i);
    mlx_array_free(x);
    mlx_array_free(y);
  }
  mlx_vector_array_free(a);
  mlx_vector_array_free(b);
  mlx_array_free(dense);
}

static void test_layouts(void) {
  static const char* modes[] = {"affine", "mxfp4", "mxfp8", "nvfp4"};
  int shape[2] = {128, 24};
  mlx_array base = random_f32(shape, 2, -2, 2);
  mlx_array t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, base, test_stream)); /* [24, 128], strided */
  int row_shape[2] = {1, 128}, bshape[2] = {5, 128};
  mlx_array row = random_f32(row_shape, 2, -1, 1);
  mlx_array bc = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&bc, row, bshape, 2, test_stream)); /* stride 0 */
  int start[2] = {1, 0}, stop[2] = {24, 128}, step[2] = {2, 1};
  mlx_array sl = mlx_array_new();
  CHECK_OK(mlx_slice(&sl, t, start, 2, stop, 2, step, 2, test_stream));
  for (int m = 0; m < 4; m++) {
    check_layout_invariant(t, modes[m], "transposed");
    check_layout_invariant(bc, modes[m], "broadcast");
    check_layout_invariant(sl, modes[m], "sliced");
  }

  /* batch dimensions: [2,3,64] quantizes like its [6,64] reshape */
  int s3[3] = {2, 3, 64}, s2[2] = {6, 64};
  mlx_array w3 = random_f32(s3, 3, -1, 1);
  mlx_array w2 = mlx_array_new();
  CHECK_OK(mlx_reshape(&w2, w3, s2, 2, test_stream));
  for (int m = 0; m < 4; m++) {
    mlx_vector_array a = mlx_vector_array_new(), b = mlx_vector_array_new();
    CHECK_OK(mlx_quantize(&a, w3, no_int, no_int, modes[m], mlx_array_new(), test_stream));
    CHECK_OK(mlx_quantize(&b, w2, no_int, no_int, modes[m], mlx_array_new(), test_stream));
    for (size_t i = 0; i < mlx_vector_array_size(a); i++) {
      mlx_array x = vec_at(a, i), y = vec_at(b, i);
      CHECK(mlx_array_ndim(x) == 3 && mlx_array_shape(x)[0] == 2 && mlx_array_shape(x)[1] == 3);
      const int gs = quant_modes[m].group_size, bits = quant_modes[m].bits;
      CHECK(mlx_array_shape(x)[2] == (i == 0 ? 64 * bits / 32 : 64 / gs));
      mlx_array x2 = mlx_array_new();
      int flat[2] = {6, mlx_array_shape(x)[2]};
      CHECK_OK(mlx_reshape(&x2, x, flat, 2, test_stream));
      CHECK(same_bytes(x2, y, "batch dims"));
      mlx_array_free(x);
      mlx_array_free(x2);
      mlx_array_free(y);
    }
    /* and dequantizes back to [2,3,64] */
    mlx_array q0 = vec_at(a, 0), q1 = vec_at(a, 1);
    mlx_array q2 = m == 0 ? vec_at(a, 2) : mlx_array_new();
    mlx_array d = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d, q0, q1, q2, no_int, no_int, modes[m], mlx_array_new(),
                            no_dtype, test_stream));
    CHECK(mlx_array_ndim(d) == 3 && mlx_array_shape(d)[2] == 64);
    CHECK(mlx_array_dtype(d) == (m == 0 ? MLX_FLOAT32 : MLX_BFLOAT16));
    CHECK_OK(mlx_array_eval(d));
    mlx_array_free(q0);
    mlx_array_free(q1);
    mlx_array_free(q2);
    mlx_array_free(d);
    mlx_vector_array_free(a);
    mlx_vector_array_free(b);
  }

  /* a strided wq/scales/biases dequantizes like its contiguous copy */
  {
    int ws[2] = {32, 256};
    mlx_array w = random_f32(ws, 2, -1, 1);
    mlx_vector_array q = mlx_vector_array_new();
    CHECK_OK(mlx_quantize(&q, w, opt_int(32), opt_int(3), "affine", mlx_array_new(),
                          test_stream));
    mlx_array parts[3], views[3], dense[3];
    for (int i = 0; i < 3; i++) {
      parts[i] = vec_at(q, (size_t)i);
      int st[2] = {1, 0}, sp[2] = {32, mlx_array_shape(parts[i])[1]}, stp[2] = {3, 1};
      views[i] = mlx_array_new();
      dense[i] = mlx_array_new();
      CHECK_OK(mlx_slice(&views[i], parts[i], st, 2, sp, 2, stp, 2, test_stream));
      CHECK_OK(mlx_contiguous(&dense[i], views[i], false, test_stream));
    }
    mlx_array d1 = mlx_array_new(), d2 = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d1, views[0], views[1], views[2], opt_int(32), opt_int(3),
                            "affine", mlx_array_new(), no_dtype, test_stream));
    CHECK_OK(mlx_dequantize(&d2, dense[0], dense[1], dense[2], opt_int(32), opt_int(3),
                            "affine", mlx_array_new(), no_dtype, test_stream));
    CHECK(same_bytes(d1, d2, "strided dequantize"));
    for (int i = 0; i < 3; i++) {
      mlx_array_free(parts[i]);
      mlx_array_free(views[i]);
      mlx_array_free(dense[i]);
    }
    mlx_array_free(d1);
    mlx_array_free(d2);
    mlx_array_free(w);
    mlx_vector_array_free(q);
  }
  mlx_array arrs[] = {base, t, row, bc, sl, w3, w2};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
}

static void test_empty(void) {
  static const char* modes[] = {"affine", "mxfp4", "mxfp8", "nvfp4"};
  int shapes[2][2] = {{0, 64}, {3, 0}};
  for (int m = 0; m < 4; m++)
    for (int k = 0; k < 2; k++) {
      mlx_array w = zeros(shapes[k], 2, MLX_FLOAT32);
      mlx_vector_array q = mlx_vector_array_new();
      CHECK_OK(mlx_quantize(&q, w, no_int, no_int, modes[m], mlx_array_new(), test_stream));
      CHECK_OK(mlx_eval(q));
      mlx_array a = vec_at(q, 0), b = vec_at(q, 1);
      mlx_array c = m == 0 ? vec_at(q, 2) : mlx_array_new();
      CHECK(mlx_array_size(a) == 0 && mlx_array_size(b) == 0);
      mlx_array d = mlx_array_new();
      CHECK_OK(mlx_dequantize(&d, a, b, c, no_int, no_int, modes[m], mlx_array_new(), no_dtype,
                              test_stream));
      CHECK_OK(mlx_array_eval(d));
      CHECK(mlx_array_size(d) == 0 && mlx_array_shape(d)[0] == shapes[k][0] &&
            mlx_array_shape(d)[1] == shapes[k][1]);
      mlx_array arrs[] = {w, a, b, c, d};
      for (size_t i = 0; i < 5; i++) mlx_array_free(arrs[i]);
      mlx_vector_array_free(q);
    }
}

/* float16 / bfloat16 / float64 inputs. */
static void test_dtypes(void) {
  int shape[2] = {16, 128};
  mlx_array w = random_f32(shape, 2, -4, 4);

  /* float64: affine fails at eval with MLX's message, every time */
  mlx_array w64 = cast(w, MLX_FLOAT64);
  mlx_vector_array q = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&q, w64, no_int, no_int, "affine", mlx_array_new(), test_stream));
  EXPECT_ERROR(mlx_eval(q), "[fast::Quantize::eval_cpu] Only supports floating point inputs");
  EXPECT_ERROR(mlx_eval(q), "[fast::Quantize::eval_cpu] Only supports floating point inputs");
  mlx_vector_array_free(q);

  /* float64 fp modes compute in double: the same bytes as float32 here */
  static const char* modes[] = {"mxfp4", "mxfp8", "nvfp4"};
  for (int m = 0; m < 3; m++) {
    mlx_vector_array a = mlx_vector_array_new(), b = mlx_vector_array_new();
    CHECK_OK(mlx_quantize(&a, w64, no_int, no_int, modes[m], mlx_array_new(), test_stream));
    CHECK_OK(mlx_quantize(&b, w, no_int, no_int, modes[m], mlx_array_new(), test_stream));
    for (size_t i = 0; i < 2; i++) {
      mlx_array x = vec_at(a, i), y = vec_at(b, i);
      CHECK_MSG(same_bytes(x, y, "float64 fp quantize"), "%s", modes[m]);
      mlx_array_free(x);
      mlx_array_free(y);
    }
    /* dequantize to float64 gives the float32 values exactly */
    mlx_array q0 = vec_at(b, 0), q1 = vec_at(b, 1);
    mlx_array d64 = mlx_array_new(), d32 = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d64, q0, q1, mlx_array_new(), no_int, no_int, modes[m],
                            mlx_array_new(), opt_dtype(MLX_FLOAT64), test_stream));
    CHECK_OK(mlx_dequantize(&d32, q0, q1, mlx_array_new(), no_int, no_int, modes[m],
                            mlx_array_new(), opt_dtype(MLX_FLOAT32), test_stream));
    mlx_array d32_64 = cast(d32, MLX_FLOAT64);
    CHECK(same_bytes(d64, d32_64, "float64 fp dequantize"));
    mlx_array arrs[] = {q0, q1, d64, d32, d32_64};
    for (size_t i = 0; i < 5; i++) mlx_array_free(arrs[i]);
    mlx_vector_array_free(a);
    mlx_vector_array_free(b);
  }

  /* affine: fused kernel == composed ops, for every scale dtype and a few
   * output dtypes; float64 scales take the composed path */
  static const mlx_dtype types[] = {MLX_FLOAT32, MLX_FLOAT16, MLX_BFLOAT16};
  static const int bits_list[] = {2, 3, 4, 5, 6, 8};
  stream st;
  CHECK_OK(api_stream(&st, test_stream, "test"));
  for (int ti = 0; ti < 3; ti++)
    for (int bi = 0; bi < 6; bi++) {
      mlx_array wt = cast(w, types[ti]);
      mlx_vector_array qa = mlx_vector_array_new();
      CHECK_OK(mlx_quantize(&qa, wt, opt_int(64), opt_int(bits_list[bi]), "affine",
                            mlx_array_new(), test_stream));
      mlx_array q0 = vec_at(qa, 0), q1 = vec_at(qa, 1), q2 = vec_at(qa, 2);
      CHECK(mlx_array_dtype(q1) == types[ti] && mlx_array_dtype(q2) == types[ti]);
      for (int oi = 0; oi < 4; oi++) {
        mlx_dtype out_t = oi < 3 ? types[oi] : MLX_FLOAT64;
        mlx_array fused = mlx_array_new();
        CHECK_OK(mlx_dequantize(&fused, q0, q1, q2, opt_int(64), opt_int(bits_list[bi]),
                                "affine", mlx_array_new(), opt_dtype(out_t), test_stream));
        mlx_array composed = {op_dequantize_affine_composed(q0.ctx, q1.ctx, q2.ctx, 64,
                                                            bits_list[bi], out_t, st)};
        CHECK_MSG(same_bytes(fused, composed, "fused vs composed"), "%s b%d -> %s",
                  dtype_name(types[ti]), bits_list[bi], dtype_name(out_t));
        mlx_array_free(fused);
        mlx_array_free(composed);
      }
      mlx_array arrs[] = {wt, q0, q1, q2};
      for (size_t i = 0; i < 4; i++) mlx_array_free(arrs[i]);
      mlx_vector_array_free(qa);
    }

  /* mixed scale/bias dtypes: the product is rounded to the scales' dtype,
   * the sum computed in their promotion (float16 x bfloat16 -> float32) */
  {
    mlx_vector_array qa = mlx_vector_array_new();
    CHECK_OK(mlx_quantize(&qa, w, opt_int(64), opt_int(4), "affine", mlx_array_new(),
                          test_stream));
    mlx_array q0 = vec_at(qa, 0), q1 = vec_at(qa, 1), q2 = vec_at(qa, 2);
    mlx_array s16 = cast(q1, MLX_FLOAT16), b16 = cast(q2, MLX_BFLOAT16);
    mlx_array d = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d, q0, s16, b16, opt_int(64), opt_int(4), "affine",
                            mlx_array_new(), no_dtype, test_stream));
    CHECK(mlx_array_dtype(d) == MLX_FLOAT32);
    const float* dv = mlx_array_data_float32(d);
    const uint32_t* wq = mlx_array_data_uint32(q0);
    CHECK_OK(mlx_array_eval(s16));
    CHECK_OK(mlx_array_eval(b16));
    const uint16_t* sv = array_data(s16.ctx); /* fresh, row-contiguous */
    const uint16_t* bv = array_data(b16.ctx);
    bool ok = dv && wq && sv && bv;
    for (int i = 0; ok && i < 16 * 128; i++) {
      uint32_t code = quant_code_at(wq + (i / 128) * 16, (size_t)(i % 128), 4);
      float prod = f16_to_f32(f32_to_f16((float)code * f16_to_f32(sv[i / 64])));
      ok = dv[i] == prod + bf16_to_f32(bv[i / 64]);
    }
    CHECK_MSG(ok, "mixed scale/bias dtypes");
    /* float64 scales and biases: computed in double */
    mlx_array s64 = cast(q1, MLX_FLOAT64), b64 = cast(q2, MLX_FLOAT64);
    mlx_array d64 = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d64, q0, s64, b64, opt_int(64), opt_int(4), "affine",
                            mlx_array_new(), no_dtype, test_stream));
    CHECK(mlx_array_dtype(d64) == MLX_FLOAT64);
    const double* dd = mlx_array_data_float64(d64);
    const float* sf = mlx_array_data_float32(q1);
    const float* bf = mlx_array_data_float32(q2);
    ok = dd && sf && bf;
    for (int i = 0; ok && i < 16 * 128; i++) {
      uint32_t code = quant_code_at(wq + (i / 128) * 16, (size_t)(i % 128), 4);
      ok = dd[i] == (double)code * sf[i / 64] + bf[i / 64];
    }
    CHECK_MSG(ok, "float64 scales and biases");
    mlx_array_free(s64);
    mlx_array_free(b64);
    mlx_array_free(d64);
    mlx_array arrs[] = {q0, q1, q2, s16, b16, d};
    for (size_t i = 0; i < 6; i++) mlx_array_free(arrs[i]);
    mlx_vector_array_free(qa);
  }
  mlx_array_free(w);
  mlx_array_free(w64);
}

/* Defaults per mode, nvfp4's global scale of any shape of size 1, and
 * affine dequantize at widths quantize does not produce. */
static void test_params(void) {
  int shape[2] = {4, 256};
  mlx_array w = random_f32(shape, 2, -1, 1);
  static const int expect[4][3] = {{64, 4, 3}, {32, 4, 2}, {32, 8, 2}, {16, 4, 2}};
  for (int m = 0; m < 4; m++) {
    mlx_vector_array q = mlx_vector_array_new();
    CHECK_OK(mlx_quantize(&q, w, no_int, no_int, quant_modes[m].name, mlx_array_new(),
                          test_stream));
    CHECK((int)mlx_vector_array_size(q) == expect[m][2]);
    mlx_array a = vec_at(q, 0), b = vec_at(q, 1);
    CHECK(mlx_array_shape(a)[1] == 256 * expect[m][1] / 32);
    CHECK(mlx_array_shape(b)[1] == 256 / expect[m][0]);
    CHECK(mlx_array_dtype(a) == MLX_UINT32);
    CHECK(mlx_array_dtype(b) == (m == 0 ? MLX_FLOAT32 : MLX_UINT8));
    mlx_array_free(a);
    mlx_array_free(b);
    mlx_vector_array_free(q);
  }

  /* global scale [1,1] works like a scalar */
  int one[2] = {1, 1};
  float g = 3.5f;
  mlx_array g0 = mlx_array_new_float32(g), g2 = new_f32(&g, one, 2);
  mlx_vector_array a = mlx_vector_array_new(), b = mlx_vector_array_new();
  CHECK_OK(mlx_quantize(&a, w, no_int, no_int, "nvfp4", g0, test_stream));
  CHECK_OK(mlx_quantize(&b, w, no_int, no_int, "nvfp4", g2, test_stream));
  for (size_t i = 0; i < 2; i++) {
    mlx_array x = vec_at(a, i), y = vec_at(b, i);
    CHECK(same_bytes(x, y, "global scale shape"));
    mlx_array_free(x);
    mlx_array_free(y);
  }
  /* with a global scale, a half-precision output is the float32 result
   * rounded (MLX's CPU would return float32 itself) */
  {
    mlx_array q0 = vec_at(a, 0), q1 = vec_at(a, 1);
    mlx_array d32 = mlx_array_new(), d16 = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d32, q0, q1, mlx_array_new(), no_int, no_int, "nvfp4", g0,
                            opt_dtype(MLX_FLOAT32), test_stream));
    CHECK_OK(mlx_dequantize(&d16, q0, q1, mlx_array_new(), no_int, no_int, "nvfp4", g0,
                            no_dtype, test_stream));
    CHECK(mlx_array_dtype(d16) == MLX_BFLOAT16);
    mlx_array want = cast(d32, MLX_BFLOAT16);
    CHECK(same_bytes(d16, want, "nvfp4 global scale, bfloat16 output"));
    /* and float32 = e2m1 * (e4m3 * (g / 2688)) */
    const float* dv = mlx_array_data_float32(d32);
    const uint32_t* wq = mlx_array_data_uint32(q0);
    const uint8_t* sb = mlx_array_data_uint8(q1);
    bool ok = dv && wq && sb;
    for (int i = 0; ok && i < 4 * 256; i++) {
      uint32_t code = quant_code_at(wq + (i / 256) * 32, (size_t)(i % 256), 4);
      float sc = quant_e4m3_values[sb[i / 16]] * (g / 2688.0f);
      ok = dv[i] == quant_e2m1_values[code] * sc;
    }
    CHECK_MSG(ok, "nvfp4 global scale dequantize");
    mlx_array arrs[] = {q0, q1, d32, d16, want};
    for (size_t i = 0; i < 5; i++) mlx_array_free(arrs[i]);
  }
  mlx_vector_array_free(a);
  mlx_vector_array_free(b);
  mlx_array_free(g0);
  mlx_array_free(g2);

  /* widths 1 and 16 (power of two), 7 where 32*W tiles: unpacked from the
   * bit stream, q*scale + bias */
  static const int widths[] = {1, 7, 16};
  for (int k = 0; k < 3; k++) {
    int bits = widths[k];
    int ws[2] = {2, 14}, ss[2] = {2, 2};
    uint32_t words[28];
    for (int i = 0; i < 28; i++) words[i] = (uint32_t)(test_rand(0, 1) * 4294967295.0);
    int codes = 14 * 32 / bits; /* 448 bits per row tile for 1, 7 and 16 */
    int gsz = codes / 2;
    float sc[4], bi[4];
    for (int i = 0; i < 2 * ss[1]; i++) {
      sc[i] = (float)test_rand(-1, 1);
      bi[i] = (float)test_rand(-1, 1);
    }
    mlx_array wq = mlx_array_new_data(words, ws, 2, MLX_UINT32);
    mlx_array s = new_f32(sc, ss, 2), bb = new_f32(bi, ss, 2);
    mlx_array d = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d, wq, s, bb, opt_int(gsz), opt_int(bits), "affine",
                            mlx_array_new(), no_dtype, test_stream));
    const float* dv = mlx_array_data_float32(d);
    bool ok = dv != NULL && mlx_array_shape(d)[1] == codes;
    for (int i = 0; ok && i < 2 * codes; i++) {
      int r = i / codes, e = i % codes;
      uint32_t code = 0;
      for (int bit = 0; bit < bits; bit++) {
        size_t p = (size_t)e * bits + bit;
        code |= ((words[r * 14 + p / 32] >> (p % 32)) & 1u) << bit;
      }
      float gsc = sc[r * ss[1] + e / gsz], gbi = bi[r * ss[1] + e / gsz];
      ok = dv[i] == (float)code * gsc + gbi;
    }
    CHECK_MSG(ok, "affine dequantize bits %d", bits);
    mlx_array arrs[] = {wq, s, bb, d};
    for (size_t i = 0; i < 4; i++) mlx_array_free(arrs[i]);
  }

  /* biases of last dimension 1 broadcast over the groups (MLX's graph
   * does so); one scale per row with two biases gives two copies */
  {
    int ws[2] = {2, 8}, s2[2] = {2, 2}, s1[2] = {2, 1};
    uint32_t words[16];
    for (int i = 0; i < 16; i++) words[i] = 0x76543210u + (uint32_t)i;
    float sc[4] = {1, 2, 3, 4}, bi[4] = {10, 20, 30, 40};
    mlx_array wq = mlx_array_new_data(words, ws, 2, MLX_UINT32);
    mlx_array sc2 = new_f32(sc, s2, 2), sc1 = new_f32(sc, s1, 2);
    mlx_array bi2 = new_f32(bi, s2, 2), bi1 = new_f32(bi, s1, 2);
    mlx_array d = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d, wq, sc2, bi1, opt_int(32), opt_int(4), "affine",
                            mlx_array_new(), no_dtype, test_stream));
    const float* dv = mlx_array_data_float32(d);
    bool ok = dv && mlx_array_shape(d)[1] == 64;
    for (int i = 0; ok && i < 128; i++) {
      uint32_t code = quant_code_at(words + (i / 64) * 8, (size_t)(i % 64), 4);
      ok = dv[i] == (float)code * sc[(i / 64) * 2 + (i % 64) / 32] + bi[i / 64];
    }
    CHECK_MSG(ok, "biases broadcast over groups");
    mlx_array d2 = mlx_array_new();
    CHECK_OK(mlx_dequantize(&d2, wq, sc1, bi2, opt_int(64), opt_int(4), "affine",
                            mlx_array_new(), no_dtype, test_stream));
    CHECK_OK(mlx_array_eval(d2));
    CHECK(mlx_array_ndim(d2) == 2 && mlx_array_shape(d2)[1] == 128);
    mlx_array arrs[] = {wq, sc2, sc1, bi2, bi1, d, d2};
    for (size_t i = 0; i < 7; i++) mlx_array_free(arrs[i]);
  }
  mlx_array_free(w);
}

/* ------------------------------------------------------------------------
 * 3. fp8
 * ---------------------------------------------------------------------- */

static void test_fp8(void) {
  /* every float16 bit pattern, through float32, float16 and bfloat16 */
  int n = 65536;
  float* v = malloc((size_t)n * sizeof *v);
  for (int i = 0; i < n; i++) v[i] = f16_to_f32((uint16_t)i);
  mlx_array x = new_f32(v, &n, 1);
  mlx_array codes = mlx_array_new();
  CHECK_OK(mlx_to_fp8(&codes, x, test_stream));
  const uint8_t* c = mlx_array_data_uint8(codes);
  bool ok = c != NULL;
  for (int i = 0; ok && i < n; i++) {
    ok = c[i] == ref_e4m3(v[i]);
    if (!ok) fprintf(stderr, "to_fp8(%g) = 0x%02x, want 0x%02x\n", v[i], c[i], ref_e4m3(v[i]));
  }
  CHECK_MSG(ok, "to_fp8 against brute force");
  static const mlx_dtype types[] = {MLX_FLOAT16, MLX_BFLOAT16, MLX_FLOAT64};
  for (int t = 0; t < 3; t++) {
    mlx_array xt = cast(x, types[t]), xt32 = cast(xt, MLX_FLOAT32);
    mlx_array c1 = mlx_array_new(), c2 = mlx_array_new();
    CHECK_OK(mlx_to_fp8(&c1, xt, test_stream));
    CHECK_OK(mlx_to_fp8(&c2, xt32, test_stream));
    CHECK_MSG(same_bytes(c1, c2, "to_fp8 dtype"), "%s", dtype_name(types[t]));
    mlx_array arrs[] = {xt, xt32, c1, c2};
    for (size_t i = 0; i < 4; i++) mlx_array_free(arrs[i]);
  }
  /* strided input */
  int start = 3, stop = n, step = 7;
  mlx_array sl = mlx_array_new(), csl = mlx_array_new();
  CHECK_OK(mlx_slice(&sl, x, &start, 1, &stop, 1, &step, 1, test_stream));
  CHECK_OK(mlx_to_fp8(&csl, sl, test_stream));
  const uint8_t* cs = mlx_array_data_uint8(csl);
  ok = cs != NULL;
  for (int i = 0; ok && 3 + i * 7 < n; i++) ok = cs[i] == c[3 + i * 7];
  CHECK_MSG(ok, "to_fp8 strided");

  /* from_fp8: every code into each float dtype, exact; 0-d and strided */
  uint8_t all[256];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  int n256 = 256;
  mlx_array a = mlx_array_new_data(all, &n256, 1, MLX_UINT8);
  static const mlx_dtype out_types[] = {MLX_FLOAT32, MLX_FLOAT16, MLX_BFLOAT16, MLX_FLOAT64};
  for (int t = 0; t < 4; t++) {
    mlx_array f = mlx_array_new();
    CHECK_OK(mlx_from_fp8(&f, a, out_types[t], test_stream));
    CHECK(mlx_array_dtype(f) == out_types[t]);
    double* d = test_to_f64(f);
    ok = d != NULL;
    for (int i = 0; ok && i < 256; i++)
      ok = memcmp(&(double){quant_e4m3_values[i]}, &d[i], 8) == 0;
    CHECK_MSG(ok, "from_fp8 into %s", dtype_name(out_types[t]));
    free(d);
    mlx_array_free(f);
  }
  mlx_array s0 = mlx_array_new(), f0 = mlx_array_new();
  uint8_t code = 0x38;
  mlx_array_free(s0);
  s0 = mlx_array_new_data(&code, NULL, 0, MLX_UINT8);
  CHECK_OK(mlx_from_fp8(&f0, s0, MLX_FLOAT32, test_stream));
  float one = 0;
  CHECK_OK(mlx_array_item_float32(&one, f0));
  CHECK(one == 1.0f && mlx_array_ndim(f0) == 0);
  mlx_array back = mlx_array_new();
  CHECK_OK(mlx_to_fp8(&back, f0, test_stream));
  uint8_t bcode = 0;
  CHECK_OK(mlx_array_item_uint8(&bcode, back));
  CHECK(bcode == 0x38);

  mlx_array arrs[] = {x, codes, sl, csl, a, s0, f0, back};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
  free(v);
}

int main(void) {
  test_init();
  test_affine_reference();
  test_fp_reference();
  test_fp_half_reference();
  test_layouts();
  test_empty();
  test_dtypes();
  test_params();
  test_fp8();
  return test_finish("test_quantize_random");
}
