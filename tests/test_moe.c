/* test_moe.c - GPT-OSS's mixture-of-experts block (src/models/moe.c)
 * against a plain reference written here in double precision (a dense loop
 * over tokens and their chosen experts), for float and quantized expert
 * banks, with and without sorting the (token, expert) pairs by expert. */
#include <stdlib.h>

#include "cmlx/nn.h"
#include "harness.h"
#include "models/moe.h"

enum { E = 4, H = 64, NI = 32, K = 2 };

typedef struct ref_weights {
  double router_w[E * H], router_b[E];
  double gate_w[E * NI * H], gate_b[E * NI];
  double up_w[E * NI * H], up_b[E * NI];
  double down_w[E * H * NI], down_b[E * H];
} ref_weights;

static float* rand_floats(int n, double scale) {
  float* v = malloc(sizeof(float) * (size_t)n);
  for (int i = 0; v && i < n; i++) v[i] = (float)test_rand(-scale, scale);
  return v;
}

static void linear_from(cmlx_linear* l, const float* w, const int* wshape,
                        int wnd, const float* b, const int* bshape, int bnd) {
  mlx_array wa = test_array_f32(w, wshape, wnd);
  mlx_array ba = test_array_f32(b, bshape, bnd);
  *l = cmlx_linear_empty();
  CHECK_OK(cmlx_linear_init(l, wa, ba));
  mlx_array_free(wa);
  mlx_array_free(ba);
}

/* The layer's weight as the product sees it (dequantized when quantized). */
static void weight_f64(const cmlx_linear* l, double* out, size_t n) {
  mlx_array w = mlx_array_new();
  if (l->quantized) {
    mlx_optional_int gs = {l->quant.group_size, true};
    mlx_optional_int bits = {l->quant.bits, true};
    mlx_optional_dtype dt = {MLX_FLOAT32, true};
    mlx_array none = mlx_array_new();
    CHECK_OK(mlx_dequantize(&w, l->weight, l->scales, l->biases, gs, bits,
                            l->quant.mode, none, dt, test_stream));
  } else {
    CHECK_OK(mlx_array_set(&w, l->weight));
  }
  double* v = test_to_f64(w);
  CHECK(v && mlx_array_size(w) == n);
  for (size_t i = 0; v && i < n; i++) out[i] = v[i];
  free(v);
  mlx_array_free(w);
}

static void bias_f64(const cmlx_linear* l, double* out, size_t n) {
  double* v = test_to_f64(l->bias);
  CHECK(v && mlx_array_size(l->bias) == n);
  for (size_t i = 0; v && i < n; i++) out[i] = v[i];
  free(v);
}

static void read_ref(const moe_block* b, ref_weights* r) {
  weight_f64(&b->router, r->router_w, E * H);
  bias_f64(&b->router, r->router_b, E);
  weight_f64(&b->gate, r->gate_w, E * NI * H);
  bias_f64(&b->gate, r->gate_b, E * NI);
  weight_f64(&b->up, r->up_w, E * NI * H);
  bias_f64(&b->up, r->up_b, E * NI);
  weight_f64(&b->down, r->down_w, E * H * NI);
  bias_f64(&b->down, r->down_b, E * H);
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* The block for one token x[H] -> y[H]; chosen[K] gets the experts. */
static void ref_token(const ref_weights* r, const double* x, double* y,
                      int* chosen, double alpha, double limit) {
  double logit[E];
  for (int e = 0; e < E; e++) {
    double acc = r->router_b[e];
    for (int i = 0; i < H; i++) acc += r->router_w[e * H + i] * x[i];
    logit[e] = acc;
  }
  bool used[E] = {false};
  double w[K], mx = -INFINITY, sum = 0;
  for (int j = 0; j < K; j++) {
    int best = -1;
    for (int e = 0; e < E; e++)
      if (!used[e] && (best < 0 || logit[e] > logit[best])) best = e;
    used[best] = true;
    chosen[j] = best;
    if (logit[best] > mx) mx = logit[best];
  }
  for (int j = 0; j < K; j++) sum += w[j] = exp(logit[chosen[j]] - mx);
  for (int i = 0; i < H; i++) y[i] = 0;
  for (int j = 0; j < K; j++) {
    int e = chosen[j];
    double act[NI];
    for (int o = 0; o < NI; o++) {
      double g = r->gate_b[e * NI + o], u = r->up_b[e * NI + o];
      for (int i = 0; i < H; i++) {
        g += r->gate_w[(e * NI + o) * H + i] * x[i];
        u += r->up_w[(e * NI + o) * H + i] * x[i];
      }
      g = g > limit ? limit : g;
      u = u > limit ? limit : u < -limit ? -limit : u;
      act[o] = (u + 1.0) * g * sigmoid(alpha * g);
    }
    for (int o = 0; o < H; o++) {
      double d = r->down_b[e * H + o];
      for (int i = 0; i < NI; i++) d += r->down_w[(e * H + o) * NI + i] * act[i];
      y[o] += w[j] / sum * d;
    }
  }
}

/* max |got - want| / max |want| */
static double rel_err(const double* got, const double* want, size_t n) {
  double md = 0, mw = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(got[i] - want[i]);
    if (isnan(d) || d > md) md = isnan(d) ? INFINITY : d;
    if (fabs(want[i]) > mw) mw = fabs(want[i]);
  }
  return mw > 0 ? md / mw : md;
}

static void make_block(moe_block* b) {
  memset(b, 0, sizeof *b);
  b->num_experts = E;
  b->top_k = K;
  b->alpha = 1.702f;
  b->limit = 7.0f;
  float* rw = rand_floats(E * H, 0.5);
  float* rb = rand_floats(E, 0.5);
  /* gate / up large enough that some values pass the clamps at +-7 */
  float* gw = rand_floats(E * NI * H, 0.6);
  float* gb = rand_floats(E * NI, 1.0);
  float* uw = rand_floats(E * NI * H, 0.6);
  float* ub = rand_floats(E * NI, 1.0);
  float* dw = rand_floats(E * H * NI, 0.2);
  float* db = rand_floats(E * H, 0.2);
  linear_from(&b->router, rw, (int[]){E, H}, 2, rb, (int[]){E}, 1);
  linear_from(&b->gate, gw, (int[]){E, NI, H}, 3, gb, (int[]){E, NI}, 2);
  linear_from(&b->up, uw, (int[]){E, NI, H}, 3, ub, (int[]){E, NI}, 2);
  linear_from(&b->down, dw, (int[]){E, H, NI}, 3, db, (int[]){E, H}, 2);
  free(rw);
  free(rb);
  free(gw);
  free(gb);
  free(uw);
  free(ub);
  free(dw);
  free(db);
}

static void free_block(moe_block* b) {
  cmlx_linear_free(&b->router);
  cmlx_linear_free(&b->gate);
  cmlx_linear_free(&b->up);
  cmlx_linear_free(&b->down);
}

/* moe_apply on x [tokens, H] (viewed as shape) in each sorting mode against
 * the reference; sorted and unsorted agree (exactly when quantized). */
static void check_block(const moe_block* b, int tokens, const int* shape,
                        int nd, double tol, const char* what) {
  ref_weights* r = malloc(sizeof *r);
  read_ref(b, r);
  float* xf = rand_floats(tokens * H, 1.5);
  double* want = malloc(sizeof(double) * (size_t)tokens * H);
  int* chosen = malloc(sizeof(int) * (size_t)tokens * K);
  for (int t = 0; t < tokens; t++) {
    double x[H];
    for (int i = 0; i < H; i++) x[i] = xf[t * H + i];
    ref_token(r, x, want + (size_t)t * H, chosen + t * K, 1.702, 7.0);
  }
  mlx_array x = test_array_f32(xf, shape, nd);
  double* outs[3] = {NULL, NULL, NULL};
  moe_sort modes[3] = {MOE_SORT_NEVER, MOE_SORT_ALWAYS, MOE_SORT_AUTO};
  for (int m = 0; m < 3; m++) {
    mlx_array y = mlx_array_new();
    CHECK_OK(moe_apply(&y, b, x, modes[m], test_stream));
    CHECK(test_shape_is(y, shape, nd));
    outs[m] = test_to_f64(y);
    double e = outs[m] ? rel_err(outs[m], want, (size_t)tokens * H) : 1;
    fprintf(stderr, "moe %s, %d tokens, sort mode %d: relative error %.3g\n",
            what, tokens, m, e);
    CHECK_MSG(e < tol, "%s sort mode %d: relative error %g", what, m, e);
    mlx_array_free(y);
  }
  /* quantized experts: the same products in any order, bit for bit; float
   * experts: sorted runs are stacked into one BLAS product (other kernels,
   * other rounding), so the orders agree to float32 rounding */
  bool exact = b->gate.quantized;
  for (int i = 0; exact && outs[0] && outs[1] && outs[2] && i < tokens * H; i++) {
    CHECK_MSG(outs[0][i] == outs[1][i], "%s: sorted differs at %d", what, i);
    CHECK_MSG(outs[0][i] == outs[2][i], "%s: auto differs at %d", what, i);
    if (outs[0][i] != outs[1][i] || outs[0][i] != outs[2][i]) break;
  }
  if (!exact && outs[0] && outs[1] && outs[2]) {
    double e1 = rel_err(outs[1], outs[0], (size_t)tokens * H);
    double e2 = rel_err(outs[2], outs[0], (size_t)tokens * H);
    CHECK_MSG(e1 < 1e-6 && e2 < 1e-6, "%s: sorted/auto differ from unsorted by %g / %g", what,
              e1, e2);
  }
  /* the router picks the reference's experts, weights sum to 1 */
  mlx_array idx = mlx_array_new(), w = mlx_array_new();
  CHECK_OK(moe_route(&idx, &w, b, x, test_stream));
  double* iv = test_to_f64(idx);
  double* wv = test_to_f64(w);
  CHECK(mlx_array_dtype(idx) == MLX_INT32);
  for (int t = 0; iv && wv && t < tokens; t++) {
    double s = 0;
    for (int j = 0; j < K; j++) {
      s += wv[t * K + j];
      bool found = false;
      for (int q = 0; q < K; q++) found |= (int)iv[t * K + j] == chosen[t * K + q];
      CHECK_MSG(found, "token %d: expert %d not among the top %d", t,
                (int)iv[t * K + j], K);
    }
    CHECK(fabs(s - 1.0) < 1e-6);
  }
  free(iv);
  free(wv);
  mlx_array_free(idx);
  mlx_array_free(w);
  for (int m = 0; m < 3; m++) free(outs[m]);
  mlx_array_free(x);
  free(xf);
  free(want);
  free(chosen);
  free(r);
}

static void test_swiglu(void) {
  float g[6] = {-8.0f, -1.0f, 0.0f, 0.5f, 7.0f, 10.0f};
  float u[6] = {-9.0f, 0.25f, 3.0f, -0.5f, 8.0f, -7.5f};
  mlx_array ga = test_array_f32(g, (int[]){6}, 1);
  mlx_array ua = test_array_f32(u, (int[]){6}, 1);
  mlx_array r = mlx_array_new();
  CHECK_OK(moe_swiglu(&r, ga, ua, 1.702f, 7.0f, test_stream));
  double* v = test_to_f64(r);
  for (int i = 0; v && i < 6; i++) {
    double gg = g[i] > 7 ? 7 : g[i];
    double uu = u[i] > 7 ? 7 : u[i] < -7 ? -7 : u[i];
    double want = (uu + 1) * gg * sigmoid(1.702 * gg);
    CHECK_MSG(fabs(v[i] - want) <= 1e-6 * (1 + fabs(want)), "%d: %g vs %g", i,
              v[i], want);
  }
  /* the gate is clamped from above only, up on both sides */
  CHECK(v && fabs(v[0] - (-6.0) * -8.0 * sigmoid(1.702 * -8.0)) < 1e-6);
  CHECK(v && fabs(v[5] - (-6.0) * 7.0 * sigmoid(1.702 * 7.0)) < 1e-5);
  free(v);
  /* float16 stays float16 */
  mlx_array gh = mlx_array_new(), uh = mlx_array_new();
  CHECK_OK(mlx_astype(&gh, ga, MLX_FLOAT16, test_stream));
  CHECK_OK(mlx_astype(&uh, ua, MLX_FLOAT16, test_stream));
  CHECK_OK(moe_swiglu(&r, gh, uh, 1.702f, 7.0f, test_stream));
  CHECK(mlx_array_dtype(r) == MLX_FLOAT16);
  mlx_array_free(gh);
  mlx_array_free(uh);
  mlx_array_free(ga);
  mlx_array_free(ua);
  mlx_array_free(r);
}

static void test_float_block(void) {
  moe_block b;
  make_block(&b);
  check_block(&b, 6, (int[]){2, 3, H}, 3, 1e-5, "float");
  /* 40 tokens x 2 experts = 80 pairs: AUTO sorts */
  check_block(&b, 40, (int[]){1, 40, H}, 3, 1e-5, "float");
  check_block(&b, 1, (int[]){1, 1, H}, 3, 1e-5, "float");

  /* bad input */
  mlx_array x = mlx_array_new(), y = mlx_array_new();
  float z[2 * 32] = {0};
  x = test_array_f32(z, (int[]){2, 32}, 2);
  EXPECT_ERROR(moe_apply(&y, &b, x, MOE_SORT_AUTO, test_stream),
               "[moe] The input has 32 features, the block expects 64.");
  mlx_array_free(x);
  float z2[3 * H] = {0};
  x = test_array_f32(z2, (int[]){3, H}, 2);
  int32_t bad_idx[4] = {0, 1, 2, 3};
  mlx_array idx = test_array_i32(bad_idx, (int[]){2, 2}, 2);
  EXPECT_ERROR(moe_experts(&y, &b, x, idx, MOE_SORT_NEVER, test_stream),
               "[moe] Expert indices of shape (2,2) do not match the input of "
               "shape (3,64) (expected the input's leading dimensions and k).");
  b.top_k = 5;
  EXPECT_ERROR(moe_apply(&y, &b, x, MOE_SORT_AUTO, test_stream),
               "[moe] top_k must be in [1, 4], got 5.");
  b.top_k = K;
  mlx_array_free(idx);
  mlx_array_free(x);
  mlx_array_free(y);
  free_block(&b);
}

static void test_quantized_block(const char* mode, int group, int bits,
                                 double tol) {
  moe_block b;
  make_block(&b);
  cmlx_quant_spec spec = {group, bits, mode};
  CHECK_OK(cmlx_linear_to_quantized(&b.gate, spec, test_stream));
  CHECK_OK(cmlx_linear_to_quantized(&b.up, spec, test_stream));
  CHECK_OK(cmlx_linear_to_quantized(&b.down, spec, test_stream));
  CHECK(b.gate.quantized && b.down.quantized);
  char what[64];
  snprintf(what, sizeof what, "%s %d-bit", mode, bits);
  /* the reference uses the dequantized weights, so only rounding differs */
  check_block(&b, 6, (int[]){6, H}, 2, tol, what);
  check_block(&b, 48, (int[]){2, 24, H}, 3, tol, what);
  free_block(&b);
}

int main(void) {
  test_init();
  test_swiglu();
  test_float_block();
  test_quantized_block("mxfp4", 32, 4, 1e-5);
  test_quantized_block("affine", 32, 4, 1e-5);
  test_quantized_block("affine", 32, 8, 1e-5);
  return test_finish("test_moe");
}
