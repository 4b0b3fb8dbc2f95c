/* test_fast_sdpa.c - mlx_fast_scaled_dot_product_attention on random
 * inputs against a double-precision reference, and its errors (the MLX
 * oracle cases are in test_fast.c).
 *
 * What it proves:
 * - attention against a double-precision reference written here (MLX's
 *   semantics: lower-right causal alignment, masked scores at the dtype's
 *   lowest finite value so fully masked rows average V, sinks in the
 *   denominator only, query head h on kv head h / (N_q / N_kv)) on random
 *   shapes: decoding (T_q = 1), T_q < T_kv and T_q > T_kv causal, D = 64,
 *   80, 128 with D_v != D, N_q / N_kv = 1, 4, 8, long key ranges split
 *   across threads, sinks with boolean, additive and causal masks,
 *   broadcast masks, integer masks, transposed / sliced / broadcast and
 *   non-unit-stride inputs, mixed input dtypes, float64, empty arrays,
 *   for the fused kernel and the composed fallback;
 * - every sdpa error record of the manifest is reproduced word for word,
 *   and so are the other checks of MLX's fast.cpp. */
#include "fast_util.h"

/* ------------------------------------------------------------------------
 * Double-precision references
 * ---------------------------------------------------------------------- */

typedef enum mask_kind { MASK_NONE, MASK_BOOL, MASK_ADD } mask_kind;

/* An attention problem in doubles; mask (when kind != MASK_NONE) is full
 * [B, nq, tq, tkv]. */
typedef struct attn {
  int B, nq, nkv, tq, tkv, d, dv;
  double scale;
  bool causal;
  mask_kind kind;
  const double *q, *k, *v, *mask, *sinks;
  double lowest;
} attn;

/* MLX's semantics: s = scale q.k; masked (bool false, or past the causal
 * limit j > i + tkv - tq) -> lowest; additive -> s + m; sink z joins the
 * denominator only. out: [B, nq, tq, dv]. */
static void ref_attention(const attn* a, double* out) {
  double* s = malloc(sizeof(double) * (size_t)(a->tkv > 0 ? a->tkv : 1));
  int rep = a->nq / a->nkv;
  for (int b = 0; b < a->B; b++)
    for (int h = 0; h < a->nq; h++)
      for (int i = 0; i < a->tq; i++) {
        int hk = h / rep;
        const double* qr = a->q + (((size_t)b * a->nq + h) * a->tq + i) * a->d;
        double mx = a->sinks ? a->sinks[h] : -INFINITY;
        for (int j = 0; j < a->tkv; j++) {
          const double* kr = a->k + (((size_t)b * a->nkv + hk) * a->tkv + j) * a->d;
          double dot = 0;
          for (int x = 0; x < a->d; x++) dot += qr[x] * kr[x];
          s[j] = a->scale * dot;
          size_t mi = (((size_t)b * a->nq + h) * a->tq + i) * a->tkv + j;
          if (a->causal && j > i + a->tkv - a->tq) s[j] = a->lowest;
          if (a->kind == MASK_BOOL && a->mask[mi] == 0) s[j] = a->lowest;
          if (a->kind == MASK_ADD) s[j] += a->mask[mi];
          if (s[j] > mx) mx = s[j];
        }
        double den = a->sinks ? exp(a->sinks[h] - mx) : 0;
        for (int j = 0; j < a->tkv; j++) den += exp(s[j] - mx);
        double* o = out + (((size_t)b * a->nq + h) * a->tq + i) * a->dv;
        for (int x = 0; x < a->dv; x++) o[x] = 0;
        for (int j = 0; j < a->tkv; j++) {
          double p = exp(s[j] - mx) / den;
          const double* vr = a->v + (((size_t)b * a->nkv + hk) * a->tkv + j) * a->dv;
          for (int x = 0; x < a->dv; x++) o[x] += p * vr[x];
        }
      }
  free(s);
}

/* ------------------------------------------------------------------------
 * Attention on random inputs
 * ---------------------------------------------------------------------- */

/* How a test lays out an input: made directly, as a transposed view of a
 * [B, T, N, D] array, as a slice of a longer [B, N, T + 5, D] cache, as
 * the transpose of [B, N, D, T] (last axis not unit-stride), broadcast
 * over heads from [B, 1, T, D], or read backwards along T and heads from a
 * reversed copy (negative strides). */
typedef enum layout {
  PLAIN,
  FROM_BTND,
  CACHE_SLICE,
  LAST_STRIDED,
  HEAD_BROADCAST,
  REVERSED,
} layout;

static mlx_array view_of(mlx_array a, layout l) {
  mlx_array r = mlx_array_new();
  const int* sh = mlx_array_shape(a);
  int B = sh[0], N = sh[1], T = sh[2], D = sh[3];
  switch (l) {
    case FROM_BTND: {
      /* the same values laid out [B, T, N, D], viewed back */
      int perm[4] = {0, 2, 1, 3};
      mlx_array t = mlx_array_new(), c = mlx_array_new();
      CHECK_OK(mlx_transpose_axes(&t, a, perm, 4, test_stream));
      CHECK_OK(mlx_contiguous(&c, t, false, test_stream));
      CHECK_OK(mlx_transpose_axes(&r, c, perm, 4, test_stream));
      mlx_array_free(t);
      mlx_array_free(c);
      break;
    }
    case CACHE_SLICE: {
      int shape[4] = {B, N, T + 5, D};
      mlx_array big = rand_array(shape, 4, mlx_array_dtype(a), -1, 1);
      mlx_array u = mlx_array_new();
      int start[4] = {0, 0, 2, 0}, stop[4] = {B, N, T + 2, D}, step[4] = {1, 1, 1, 1};
      CHECK_OK(mlx_slice_update(&u, big, a, start, 4, stop, 4, step, 4, test_stream));
      CHECK_OK(mlx_slice(&r, u, start, 4, stop, 4, step, 4, test_stream));
      CHECK_OK(mlx_array_eval(r));
      mlx_array_free(big);
      mlx_array_free(u);
      break;
    }
    case LAST_STRIDED: {
      mlx_array t = mlx_array_new(), c = mlx_array_new();
      CHECK_OK(mlx_swapaxes(&t, a, 2, 3, test_stream));
      CHECK_OK(mlx_contiguous(&c, t, false, test_stream));
      CHECK_OK(mlx_swapaxes(&r, c, 2, 3, test_stream));
      mlx_array_free(t);
      mlx_array_free(c);
      break;
    }
    case HEAD_BROADCAST: {
      int start[4] = {0, 0, 0, 0}, stop[4] = {B, 1, T, D}, step[4] = {1, 1, 1, 1};
      mlx_array one = mlx_array_new();
      CHECK_OK(mlx_slice(&one, a, start, 4, stop, 4, step, 4, test_stream));
      CHECK_OK(mlx_broadcast_to(&r, one, sh, 4, test_stream));
      mlx_array_free(one);
      break;
    }
    case REVERSED: {
      int start[4] = {0, N - 1, T - 1, 0}, stop[4] = {B, -N - 1, -T - 1, D},
          step[4] = {1, -1, -1, 1};
      mlx_array rev = mlx_array_new(), c = mlx_array_new();
      CHECK_OK(mlx_slice(&rev, a, start, 4, stop, 4, step, 4, test_stream));
      CHECK_OK(mlx_contiguous(&c, rev, false, test_stream));
      CHECK_OK(mlx_slice(&r, c, start, 4, stop, 4, step, 4, test_stream));
      mlx_array_free(rev);
      mlx_array_free(c);
      break;
    }
    default:
      mlx_array_set(&r, a);
      break;
  }
  mlx_array_free(a);
  return r;
}

typedef struct attn_spec {
  int B, nq, nkv, tq, tkv, d, dv;
  const char* mode;
  mask_kind mask;
  int mask_nd;         /* the mask's rank (1-4), broadcast to [B, nq, tq, tkv] */
  bool mask_per_head;  /* rank >= 3: a real head axis (else 1) */
  bool sinks;
  mlx_dtype t;
  layout lq, lk, lv;
} attn_spec;

/* The mask index of full position (b, h, i, j) under broadcasting. */
static size_t mask_index(const int* ms, int nd, int b, int h, int i, int j) {
  int full[4] = {b, h, i, j};
  size_t idx = 0;
  for (int a = 0; a < nd; a++) {
    int fa = 4 - nd + a;
    idx = idx * (size_t)ms[a] + (size_t)(ms[a] == 1 ? 0 : full[fa]);
  }
  return idx;
}

/* Runs one attention problem through the fused op (and, for float32, the
 * composition) and compares both with ref_attention. */
static void check_attention(const char* label, const attn_spec* sp) {
  int qs[4] = {sp->B, sp->nq, sp->tq, sp->d}, ks[4] = {sp->B, sp->nkv, sp->tkv, sp->d},
      vs[4] = {sp->B, sp->nkv, sp->tkv, sp->dv};
  mlx_array q = view_of(rand_array(qs, 4, sp->t, -2, 2), sp->lq);
  mlx_array k = view_of(rand_array(ks, 4, sp->t, -2, 2), sp->lk);
  mlx_array v = view_of(rand_array(vs, 4, sp->t, -1, 1), sp->lv);
  mlx_array mask = mlx_array_new(), sinks = mlx_array_new();
  int ms[4], mnd = sp->mask_nd;
  if (sp->mask != MASK_NONE) {
    int full[4] = {sp->B, sp->nq, sp->tq, sp->tkv};
    for (int a = 0; a < mnd; a++) ms[a] = full[4 - mnd + a];
    if (mnd >= 3 && !sp->mask_per_head) ms[mnd - 3] = 1;
    if (mnd == 4 && sp->B > 1 && !sp->mask_per_head) ms[0] = 1;
    size_t n = shape_size(ms, mnd);
    double* mv = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
      if (sp->mask == MASK_BOOL) mv[i] = test_rand(0, 1) < 0.7;
      else mv[i] = test_rand(0, 1) < 0.15 ? -1e9 : test_rand(-2, 2);
    }
    /* the first row of the mask sees nothing */
    if (sp->mask == MASK_BOOL && mnd >= 2)
      for (int j = 0; j < ms[mnd - 1]; j++) mv[j] = 0;
    mask = sp->mask == MASK_BOOL ? cast(from_f64(mv, ms, mnd, MLX_FLOAT32), MLX_BOOL)
                                 : from_f64(mv, ms, mnd, sp->t);
    free(mv);
  }
  if (sp->sinks) {
    int n = sp->nq;
    sinks = rand_array(&n, 1, sp->t, -1, 2);
  }
  float scale = 1.0f / sqrtf((float)sp->d);

  /* the reference, from the values the op sees */
  double *qd = test_to_f64(q), *kd = test_to_f64(k), *vd = test_to_f64(v);
  double *md = NULL, *sd = sinks.ctx ? test_to_f64(sinks) : NULL;
  size_t nfull = (size_t)sp->B * sp->nq * sp->tq * sp->tkv;
  if (mask.ctx) {
    double* raw = test_to_f64(mask);
    md = malloc(sizeof(double) * (nfull ? nfull : 1));
    for (int b = 0; b < sp->B; b++)
      for (int h = 0; h < sp->nq; h++)
        for (int i = 0; i < sp->tq; i++)
          for (int j = 0; j < sp->tkv; j++)
            md[(((size_t)b * sp->nq + h) * sp->tq + i) * sp->tkv + j] =
                raw[mask_index(ms, mnd, b, h, i, j)];
    free(raw);
  }
  attn a = {sp->B, sp->nq, sp->nkv, sp->tq, sp->tkv, sp->d, sp->dv, scale,
            !strcmp(sp->mode, "causal"), sp->mask, qd, kd, vd, md, sd, lowest_of(sp->t)};
  size_t nout = (size_t)sp->B * sp->nq * sp->tq * sp->dv;
  double* want = malloc(sizeof(double) * (nout ? nout : 1));
  ref_attention(&a, want);

  int oshape[4] = {sp->B, sp->nq, sp->tq, sp->dv};
  for (int f = 0; f < (sp->t == MLX_FLOAT32 ? 2 : 1); f++) {
    mlx_array out = mlx_array_new();
    sdpa_fn fn = f ? sdpa_composed : mlx_fast_scaled_dot_product_attention;
    CHECK_OK(fn(&out, q, k, v, scale, sp->mode, mask, sinks, test_stream));
    CHECK_MSG(test_shape_is(out, oshape, 4) && mlx_array_dtype(out) == sp->t,
              "%s: shape or dtype", label);
    double e = rel_err_ref(out, want, nout);
    CHECK_MSG(e <= tolerance(sp->t), "%s (%s, %s): rel err %g", label,
              f ? "composed" : "fused", dtype_name_of(sp->t), e);
    mlx_array_free(out);
  }
  free(qd), free(kd), free(vd), free(md), free(sd), free(want);
  mlx_array_free(q), mlx_array_free(k), mlx_array_free(v);
  mlx_array_free(mask), mlx_array_free(sinks);
}


static void test_attention_decode_single_query(void) {
  /* T_q = 1 over caches of several lengths; N_q / N_kv = 1, 4, 8 */
  const struct { int nq, nkv, tkv, d; } cases[] = {
      {8, 2, 33, 64}, {4, 1, 200, 128}, {8, 1, 77, 80}, {3, 3, 50, 64}, {32, 8, 130, 64},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int ti = 0; ti < 3; ti++) {
      attn_spec sp = {2, cases[c].nq, cases[c].nkv, 1, cases[c].tkv, cases[c].d, cases[c].d,
                      "", MASK_NONE, 0, false, false, float_types[ti], PLAIN, PLAIN, PLAIN};
      check_attention("decode", &sp);
      sp.mode = "causal";
      check_attention("decode causal", &sp);
    }
}

static void test_attention_causal_lower_right_aligned(void) {
  const struct { int nq, nkv, tq, tkv, d; } cases[] = {
      {8, 2, 5, 13, 64},   /* T_q < T_kv: query i sees keys <= i + 8 */
      {16, 4, 37, 300, 64},
      {4, 4, 130, 130, 80}, /* several query blocks per head */
      {8, 1, 20, 7, 64},    /* T_q > T_kv: the first 13 rows see nothing and average V */
      {4, 1, 9, 9, 128},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int ti = 0; ti < 3; ti++) {
      attn_spec sp = {1, cases[c].nq, cases[c].nkv, cases[c].tq, cases[c].tkv, cases[c].d,
                      cases[c].d, "causal", MASK_NONE, 0, false, false, float_types[ti],
                      PLAIN, PLAIN, PLAIN};
      check_attention("causal", &sp);
    }
}

static void test_attention_long_keys_split_across_threads(void) {
  /* one (batch, kv head, query block): the keys are sliced over the
   * threads and merged */
  for (int ti = 0; ti < 3; ti++) {
    attn_spec sp = {1, 4, 1, 1, 2000, 64, 64, "", MASK_NONE, 0, false, false, float_types[ti],
                    PLAIN, PLAIN, PLAIN};
    check_attention("split", &sp);
    sp.sinks = true;
    check_attention("split sinks", &sp);
    sp.tq = 3;
    sp.mode = "causal";
    check_attention("split causal", &sp);
    sp.mode = "array";
    sp.mask = MASK_BOOL;
    sp.mask_nd = 2;
    check_attention("split bool mask", &sp);
  }
}

static void test_attention_sinks_with_masks(void) {
  for (int ti = 0; ti < 3; ti++) {
    mlx_dtype t = float_types[ti];
    attn_spec sp = {2, 8, 2, 6, 10, 32, 32, "array", MASK_BOOL, 4, true, true, t,
                    PLAIN, PLAIN, PLAIN};
    check_attention("sinks + per-head bool mask", &sp);
    sp.mask = MASK_ADD;
    check_attention("sinks + additive mask", &sp);
    sp.mask = MASK_NONE;
    sp.mode = "causal";
    check_attention("sinks + causal", &sp);
    sp.tq = 1;
    sp.tkv = 70;
    check_attention("sinks + causal decode", &sp);
  }
}

static void test_attention_mask_shapes_broadcast(void) {
  for (int nd = 1; nd <= 4; nd++)
    for (int kind = MASK_BOOL; kind <= MASK_ADD; kind++) {
      attn_spec sp = {2, 8, 4, 5, 19, 64, 64, "array", (mask_kind)kind, nd, nd >= 3, false,
                      MLX_FLOAT32, PLAIN, PLAIN, PLAIN};
      check_attention("mask broadcast", &sp);
      sp.mask_per_head = false;
      sp.mode = "";
      check_attention("mask broadcast, mode \"\"", &sp);
    }
  /* a one-query decode with a mask over the cache */
  attn_spec sp = {1, 8, 2, 1, 100, 64, 64, "array", MASK_ADD, 1, false, false, MLX_BFLOAT16,
                  PLAIN, PLAIN, PLAIN};
  check_attention("decode additive mask", &sp);
}

static void test_attention_value_dim_differs(void) {
  const int dims[][2] = {{64, 32}, {80, 48}, {40, 24}, {128, 80}};
  for (int c = 0; c < 4; c++)
    for (int ti = 0; ti < 3; ti++) {
      attn_spec sp = {1, 4, 2, 7, 21, dims[c][0], dims[c][1], "causal", MASK_NONE, 0, false,
                      false, float_types[ti], PLAIN, PLAIN, PLAIN};
      check_attention("d_v != d", &sp);
      sp.tq = 1;
      check_attention("d_v != d decode", &sp);
    }
}

static void test_attention_strided_inputs(void) {
  for (int ti = 0; ti < 3; ti++) {
    attn_spec sp = {2, 8, 2, 9, 40, 64, 64, "causal", MASK_NONE, 0, false, false,
                    float_types[ti], FROM_BTND, CACHE_SLICE, LAST_STRIDED};
    check_attention("q from [B,T,N,D], k cache slice, v last-axis strided", &sp);
    sp.tq = 1;
    check_attention("decode, strided", &sp);
    sp.lk = HEAD_BROADCAST;
    sp.lv = HEAD_BROADCAST;
    sp.lq = LAST_STRIDED;
    check_attention("k and v broadcast over heads", &sp);
    sp.lq = sp.lk = sp.lv = REVERSED;
    check_attention("negative strides, decode", &sp);
    sp.tq = 9;
    sp.mode = "array";
    sp.mask = MASK_BOOL;
    sp.mask_nd = 4;
    sp.mask_per_head = true;
    check_attention("negative strides, masked", &sp);
  }
}

static void test_attention_mixed_and_float64(void) {
  /* q float16, k float32, v bfloat16: everything becomes float32 */
  int qs[4] = {1, 4, 3, 16}, ks[4] = {1, 2, 5, 16};
  mlx_array q = rand_array(qs, 4, MLX_FLOAT16, -1, 1), k = rand_array(ks, 4, MLX_FLOAT32, -1, 1),
            v = rand_array(ks, 4, MLX_BFLOAT16, -1, 1), none = mlx_array_new();
  mlx_array out = mlx_array_new(), ref = mlx_array_new();
  CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, v, 0.25f, "", none, none,
                                                 test_stream));
  CHECK(mlx_array_dtype(out) == MLX_FLOAT32);
  CHECK_OK(sdpa_composed(&ref, q, k, v, 0.25f, "", none, none, test_stream));
  CHECK(rel_err(out, ref) <= 1e-5);
  /* an int32 additive mask promotes into float32 */
  int32_t mi[15];
  for (int i = 0; i < 15; i++) mi[i] = (i % 4) - 2;
  int mshape[2] = {3, 5};
  mlx_array mask = test_array_i32(mi, mshape, 2);
  CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, v, 0.25f, "array", mask, none,
                                                 test_stream));
  CHECK_OK(sdpa_composed(&ref, q, k, v, 0.25f, "array", mask, none, test_stream));
  CHECK(mlx_array_dtype(out) == MLX_FLOAT32 && rel_err(out, ref) <= 1e-5);
  mlx_array_free(q), mlx_array_free(k), mlx_array_free(v), mlx_array_free(mask);
  mlx_array_free(out), mlx_array_free(ref);
  /* float64 takes MLX's composition */
  attn_spec sp = {1, 4, 2, 6, 11, 16, 16, "causal", MASK_NONE, 0, false, true, MLX_FLOAT64,
                  PLAIN, PLAIN, PLAIN};
  check_attention("float64", &sp);
}

static void test_attention_empty_and_degenerate(void) {
  mlx_array none = mlx_array_new();
  /* T_q = 0, B = 0: empty results of the right shape */
  int shapes[2][3][4] = {{{1, 4, 0, 8}, {1, 2, 5, 8}, {1, 4, 0, 8}},
                         {{0, 4, 3, 8}, {0, 2, 5, 8}, {0, 4, 3, 8}}};
  for (int c = 0; c < 2; c++) {
    mlx_array q = rand_array(shapes[c][0], 4, MLX_FLOAT32, -1, 1);
    mlx_array k = rand_array(shapes[c][1], 4, MLX_FLOAT32, -1, 1);
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, k, 1.0f, "causal", none, none,
                                                   test_stream));
    CHECK_OK(mlx_array_eval(out));
    CHECK(test_shape_is(out, shapes[c][2], 4));
    mlx_array_free(q), mlx_array_free(k), mlx_array_free(out);
  }
  /* T_kv = 0: a softmax over nothing, times nothing: zeros (with or
   * without sinks) */
  int qs[4] = {1, 2, 3, 8}, ks[4] = {1, 2, 0, 8}, two = 2;
  mlx_array q = rand_array(qs, 4, MLX_FLOAT32, -1, 1), k = rand_array(ks, 4, MLX_FLOAT32, 0, 1);
  mlx_array sinks = rand_array(&two, 1, MLX_FLOAT32, 0, 1);
  for (int sk = 0; sk < 2; sk++) {
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, k, 1.0f, "", none,
                                                   sk ? sinks : none, test_stream));
    double* o = test_to_f64(out);
    bool zeros = o != NULL;
    for (size_t i = 0; o && i < mlx_array_size(out); i++) zeros &= o[i] == 0;
    CHECK_MSG(zeros && mlx_array_size(out) == 48, "T_kv = 0 gives zeros (sinks %d)", sk);
    free(o);
    mlx_array_free(out);
  }
  mlx_array_free(q), mlx_array_free(k), mlx_array_free(sinks);
}

static void test_attention_all_minus_inf_row_is_nan(void) {
  /* MLX's softmax of a row of -inf is NaN (max - max); so is ours */
  int qs[4] = {1, 1, 2, 16}, ks[4] = {1, 1, 4, 16}, ms[2] = {2, 4};
  double mv[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, 0, -INFINITY, 1, 2};
  mlx_array q = rand_array(qs, 4, MLX_FLOAT32, -1, 1), k = rand_array(ks, 4, MLX_FLOAT32, -1, 1);
  mlx_array mask = from_f64(mv, ms, 2, MLX_FLOAT32), none = mlx_array_new();
  mlx_array out = mlx_array_new(), ref = mlx_array_new();
  CHECK_OK(mlx_fast_scaled_dot_product_attention(&out, q, k, k, 0.25f, "", mask, none,
                                                 test_stream));
  CHECK_OK(sdpa_composed(&ref, q, k, k, 0.25f, "", mask, none, test_stream));
  double *o = test_to_f64(out), *r = test_to_f64(ref);
  bool ok = true;
  for (int i = 0; i < 16; i++) ok &= isnan(o[i]) && isnan(r[i]);
  for (int i = 16; i < 32; i++) ok &= !isnan(o[i]) && fabs(o[i] - r[i]) < 1e-5;
  CHECK_MSG(ok, "a row of -inf gives NaN, the other row is finite");
  free(o), free(r);
  mlx_array_free(q), mlx_array_free(k), mlx_array_free(mask), mlx_array_free(out);
  mlx_array_free(ref);
}

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

static void test_attention_errors(void) {
#define SDPA_ERR(q, k, v, mode, mask, sinks, msg)                                          \
  do {                                                                                    \
    mlx_array r_ = mlx_array_new();                                                        \
    EXPECT_ERROR(mlx_fast_scaled_dot_product_attention(&r_, q, k, v, 0.25f, mode, mask,     \
                                                       sinks, test_stream),                \
                 "[scaled_dot_product_attention] " msg);                                   \
    mlx_array_free(r_);                                                                    \
  } while (0)
  int qs[4] = {1, 8, 4, 16}, ks[4] = {1, 2, 6, 16};
  mlx_array q = zeros_of(qs, 4, MLX_FLOAT32), k = zeros_of(ks, 4, MLX_FLOAT32);
  mlx_array none = mlx_array_new();
  int s4 = 4, s2 = 2, s8 = 8, s18[2] = {1, 8};
  mlx_array sk4 = zeros_of(&s4, 1, MLX_FLOAT32), sk2 = zeros_of(&s2, 1, MLX_FLOAT32);
  mlx_array sk18 = zeros_of(s18, 2, MLX_FLOAT32), sk0 = mlx_array_new_float(0.5f);
  /* the oracle's records */
  SDPA_ERR(q, k, k, "", none, sk4, "Received invalid shape for sinks (4).");
  SDPA_ERR(q, k, k, "", none, sk18, "Received invalid shape for sinks (1,8).");
  SDPA_ERR(q, k, k, "", none, sk2, "Received invalid shape for sinks (2).");
  SDPA_ERR(q, k, k, "", none, sk0, "Received invalid shape for sinks ().");
  int q3s[3] = {8, 4, 16}, k3s[3] = {2, 6, 16};
  mlx_array q3 = zeros_of(q3s, 3, MLX_FLOAT32), k3 = zeros_of(k3s, 3, MLX_FLOAT32);
  SDPA_ERR(q3, k3, k3, "", none, none, "input with shape (8,4,16) expected to be rank 4");
  SDPA_ERR(q, k3, k3, "", none, none, "input with shape (2,6,16) expected to be rank 4");
  int k33[4] = {1, 3, 6, 16}, kd32[4] = {1, 2, 6, 32}, v4[4] = {1, 4, 6, 16},
      kb2[4] = {2, 2, 6, 16};
  mlx_array k_3 = zeros_of(k33, 4, MLX_FLOAT32), k_d = zeros_of(kd32, 4, MLX_FLOAT32),
            v_4 = zeros_of(v4, 4, MLX_FLOAT32), k_b = zeros_of(kb2, 4, MLX_FLOAT32);
  SDPA_ERR(q, k_3, k_3, "", none, none,
           "n_heads must be a multiple of n_kv_heads, found n_heads 8 for n_kv_heads 3.");
  SDPA_ERR(q, k_d, k_d, "", none, none,
           "query, keys expected to have matching last dimension; found query shape "
           "(1,8,4,16) for keys shape (1,2,6,32).");
  SDPA_ERR(q, k, v_4, "", none, none,
           "keys, values expected to have matching n_kv_heads; found keys with n_heads 2 for "
           "values with n_heads 4.");
  SDPA_ERR(q, k_b, k_b, "", none, none,
           "mismatching batch dimension for input with shape (2,2,6,16).");
  SDPA_ERR(q, k, k, "upper", none, none,
           "Invalid mask_mode upper. mask_mode must be 'causal', 'array' or ''.");
  int m46[2] = {4, 6}, m5[5] = {1, 1, 1, 4, 6}, m56[2] = {5, 6};
  mlx_array mb = zeros_of(m46, 2, MLX_BOOL), m5d = zeros_of(m5, 5, MLX_FLOAT32),
            mf = zeros_of(m46, 2, MLX_FLOAT32), mbad = zeros_of(m56, 2, MLX_FLOAT32);
  SDPA_ERR(q, k, k, "causal", mb, none,
           "Invalid mask_arr for mask_mode 'casusal'. No array mask should be passed.");
  SDPA_ERR(q, k, k, "array", m5d, none,
           "the mask with shape (1,1,1,4,6) expected to have at most rank 4.");
  mlx_array qh = zeros_of(qs, 4, MLX_FLOAT16), kh = zeros_of(ks, 4, MLX_FLOAT16);
  mlx_array sk8 = zeros_of(&s8, 1, MLX_FLOAT32);
  SDPA_ERR(qh, kh, kh, "array", mf, none, "Mask type must promote to output type float16.");
  SDPA_ERR(qh, kh, kh, "", none, sk8, "Type of sinks must promote to output type float16.");
  {
    mlx_array r = mlx_array_new();
    EXPECT_ERROR(mlx_fast_scaled_dot_product_attention(&r, q, k, k, 0.25f, "array", mbad, none,
                                                       test_stream),
                 "[broadcast_shapes] Shapes (5,6) and (1,8,4,6) cannot be broadcast.");
    mlx_array_free(r);
  }
  mlx_array qi = zeros_of(qs, 4, MLX_INT32), ki = zeros_of(ks, 4, MLX_INT32);
  SDPA_ERR(qi, ki, ki, "", none, none, "Received unsupported type int32.");
  mlx_array qc = zeros_of(qs, 4, MLX_COMPLEX64);
  SDPA_ERR(qc, k, k, "", none, none, "Received unsupported type complex64.");
  /* checks come in MLX's order: rank before mask mode before batch */
  SDPA_ERR(q3, k_b, k_b, "upper", none, none, "input with shape (8,4,16) expected to be rank 4");
  SDPA_ERR(q, k_b, k_b, "upper", none, none,
           "Invalid mask_mode upper. mask_mode must be 'causal', 'array' or ''.");
  /* a mask passed with mode "" is used; "array" without one is no mask */
  {
    mlx_array r1 = mlx_array_new(), r2 = mlx_array_new(), r3 = mlx_array_new();
    int kq[4] = {1, 8, 4, 16};
    mlx_array qr = rand_array(kq, 4, MLX_FLOAT32, -1, 1);
    mlx_array kr = rand_array(ks, 4, MLX_FLOAT32, -1, 1);
    mlx_array mr = rand_array(m46, 2, MLX_FLOAT32, -3, 3);
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&r1, qr, kr, kr, 0.25f, "", mr, none,
                                                   test_stream));
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&r2, qr, kr, kr, 0.25f, "array", mr, none,
                                                   test_stream));
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&r3, qr, kr, kr, 0.25f, "array", none, none,
                                                   test_stream));
    mlx_array r4 = mlx_array_new();
    CHECK_OK(mlx_fast_scaled_dot_product_attention(&r4, qr, kr, kr, 0.25f, "", none, none,
                                                   test_stream));
    CHECK(rel_err(r1, r2) == 0 && rel_err(r3, r4) == 0 && rel_err(r1, r3) > 1e-3);
    mlx_array_free(r1), mlx_array_free(r2), mlx_array_free(r3), mlx_array_free(r4);
    mlx_array_free(qr), mlx_array_free(kr), mlx_array_free(mr);
  }
  /* keys and values of different lengths: MLX's matmul reports it */
  {
    int v7[4] = {1, 2, 7, 16};
    mlx_array v_7 = zeros_of(v7, 4, MLX_FLOAT32), r = mlx_array_new();
    EXPECT_ERROR_PREFIX(mlx_fast_scaled_dot_product_attention(&r, q, k, v_7, 0.25f, "", none,
                                                              none, test_stream),
                        "[matmul]");
    mlx_array_free(v_7), mlx_array_free(r);
  }
  /* API: the result pointer, empty required handles */
  EXPECT_ERROR(mlx_fast_scaled_dot_product_attention(NULL, q, k, k, 0.25f, "", none, none,
                                                     test_stream),
               "[scaled_dot_product_attention] The result pointer is NULL.");
  {
    mlx_array r = mlx_array_new();
    EXPECT_ERROR_PREFIX(mlx_fast_scaled_dot_product_attention(&r, q, none, k, 0.25f, "", none,
                                                              none, test_stream),
                        "[scaled_dot_product_attention]");
    mlx_array_free(r);
  }
  mlx_array all[] = {q, k, sk4, sk2, sk18, sk0, q3, k3, k_3, k_d, v_4, k_b, mb, m5d, mf,
                     mbad, qh, kh, sk8, qi, ki, qc};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mlx_array_free(all[i]);
#undef SDPA_ERR
}

int main(void) {
  test_init();
  test_attention_decode_single_query();
  test_attention_causal_lower_right_aligned();
  test_attention_long_keys_split_across_threads();
  test_attention_sinks_with_masks();
  test_attention_mask_shapes_broadcast();
  test_attention_value_dim_differs();
  test_attention_strided_inputs();
  test_attention_mixed_and_float64();
  test_attention_empty_and_degenerate();
  test_attention_all_minus_inf_row_is_nan();
  test_attention_errors();
  return test_finish("test_fast_sdpa");
}
