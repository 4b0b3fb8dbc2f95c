/* test_matmul.c - matmul, addmm and the whole-array comparisons isclose,
 * allclose, array_equal (inner, outer, tensordot and einsum are in
 * test_matmul_einsum.c).
 *
 * What it proves:
 * - matmul values against a double-precision triple loop computed here,
 *   on random shapes (M, N, K in {0, 1, odd, 17, 33, 64}), for float32,
 *   float64, float16, bfloat16 and complex64, with the relative error
 *   (max |out - ref| / max |ref|) under 1e-5 (float32, complex64),
 *   1e-12 (float64), 2e-3 (float16), 1.6e-2 (bfloat16);
 * - every operand layout the kernel distinguishes: contiguous, transposed
 *   (CblasTrans), row-padded (leading dimension > columns), strided
 *   columns, broadcast rows and reversed rows (both copied), strided 1-D
 *   vectors; batch axes broadcast both ways, stacked batches against one
 *   matrix (one tall GEMM), 1-D operands on either side, size-0 axes
 *   (K = 0 gives zeros);
 * - MLX's dtype rules (promotion, integer inputs rejected) and every
 *   validation message of matmul and addmm;
 * - addmm = alpha a@b + beta c with c broadcast, 1-D operands, K = 0;
 * - isclose against MLX's formula evaluated here with its roundings
 *   (float32 tolerances, float16 differences), infinities, NaNs with and
 *   without equal_nan, broadcasting; allclose / array_equal results. */
#include "matmul_util.h"

/* ---- references ---- */

/* a [..., M, K] @ b [..., K, N] (both at least 2-D, row-major values),
 * batch axes broadcast. Writes out's shape; returns its values. */
static double* ref_matmul(const double* a, const int* as, int an, const double* b, const int* bs,
                          int bn, int* os, int* on) {
  int nb = (an > bn ? an : bn) - 2;
  int M = as[an - 2], K = as[an - 1], N = bs[bn - 1];
  for (int d = 0; d < nb; d++) {
    int da = d - (nb - (an - 2)) >= 0 ? as[d - (nb - (an - 2))] : 1;
    int db = d - (nb - (bn - 2)) >= 0 ? bs[d - (nb - (bn - 2))] : 1;
    os[d] = da == 1 ? db : da;
  }
  os[nb] = M;
  os[nb + 1] = N;
  *on = nb + 2;
  size_t batches = shape_size(os, nb);
  double* out = calloc(batches * (size_t)M * N + 1, sizeof *out);
  for (size_t bi = 0; bi < batches; bi++) {
    size_t rem = bi, oa = 0, ob = 0, sa = 1, sb = 1;
    for (int d = nb - 1; d >= 0; d--) {
      int idx = (int)(rem % (size_t)os[d]);
      rem /= (size_t)os[d];
      int ka = d - (nb - (an - 2)), kb = d - (nb - (bn - 2));
      if (ka >= 0) {
        if (as[ka] != 1) oa += (size_t)idx * sa;
        sa *= (size_t)as[ka];
      }
      if (kb >= 0) {
        if (bs[kb] != 1) ob += (size_t)idx * sb;
        sb *= (size_t)bs[kb];
      }
    }
    const double* pa = a + oa * (size_t)M * K;
    const double* pb = b + ob * (size_t)K * N;
    double* pc = out + bi * (size_t)M * N;
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += pa[(size_t)i * K + k] * pb[(size_t)k * N + j];
        pc[(size_t)i * N + j] = s;
      }
  }
  return out;
}

/* ---- matmul ---- */

static const mlx_dtype float_types[4] = {MLX_FLOAT32, MLX_FLOAT64, MLX_FLOAT16, MLX_BFLOAT16};

/* matmul(a, b) on arrays of the given shapes and layouts, against the
 * triple loop. 1-D operands are handled as MLX does. */
static void check_matmul(mlx_dtype t, const int* as, int an, int la, const int* bs, int bn,
                         int lb) {
  mlx_array a = layout_array(t, as, an, la);
  mlx_array b = layout_array(t, bs, bn, lb);
  double* va = test_to_f64(a);
  double* vb = test_to_f64(b);
  /* 1-D: a -> [1, K], b -> [K, 1] */
  int as2[8], bs2[8], an2 = an, bn2 = bn;
  memcpy(as2, as, sizeof(int) * (size_t)an);
  memcpy(bs2, bs, sizeof(int) * (size_t)bn);
  if (an == 1) {
    as2[0] = 1;
    as2[1] = as[0];
    an2 = 2;
  }
  if (bn == 1) {
    bs2[1] = 1;
    bn2 = 2;
  }
  int os[8], on;
  double* ref = ref_matmul(va, as2, an2, vb, bs2, bn2, os, &on);
  /* drop the unit axes 1-D operands gained */
  if (an == 1 && bn == 1) {
    on -= 2;
  } else if (an == 1) {
    os[on - 2] = os[on - 1];
    on--;
  } else if (bn == 1) {
    on--;
  }
  mlx_array out = mlx_array_new();
  char what[160];
  snprintf(what, sizeof what, "matmul %s a%dd(%s) b%dd(%s) [%d..%d]x[%d..%d]",
           tname(t), an, layout_names[la], bn,
           layout_names[lb], as[0], as[an - 1], bs[0], bs[bn - 1]);
  CHECK_OK(mlx_matmul(&out, a, b, S));
  expect_close(out, t, os, on, ref, what);
  mlx_array_free(out);
  mlx_array_free(a);
  mlx_array_free(b);
  free(va);
  free(vb);
  free(ref);
}

static void test_matmul_2d_random_shapes(void) {
  static const int sizes[] = {1, 2, 3, 7, 17, 33, 64};
  for (int ti = 0; ti < 4; ti++)
    for (int rep = 0; rep < 12; rep++) {
      int M = sizes[(int)test_rand(0, 7)], N = sizes[(int)test_rand(0, 7)];
      int K = sizes[(int)test_rand(0, 7)];
      int as[2] = {M, K}, bs[2] = {K, N};
      check_matmul(float_types[ti], as, 2, LAYOUT_CONTIGUOUS, bs, 2, LAYOUT_CONTIGUOUS);
    }
  /* a large one: OpenBLAS's threaded, blocked path */
  int as[2] = {130, 257}, bs[2] = {257, 129};
  check_matmul(MLX_FLOAT32, as, 2, LAYOUT_CONTIGUOUS, bs, 2, LAYOUT_TRANSPOSED);
  check_matmul(MLX_FLOAT16, as, 2, LAYOUT_TRANSPOSED, bs, 2, LAYOUT_CONTIGUOUS);
}

static void test_matmul_every_layout(void) {
  for (int ti = 0; ti < 4; ti++)
    for (int la = 0; la < LAYOUT_COUNT; la++)
      for (int lb = 0; lb < LAYOUT_COUNT; lb++) {
        int as[3] = {2, 5, 7}, bs[3] = {2, 7, 3};
        check_matmul(float_types[ti], as, 3, la, bs, 3, lb);
        int as2[2] = {4, 3}, bs2[2] = {3, 6};
        check_matmul(float_types[ti], as2, 2, la, bs2, 2, lb);
        /* unit axes: M = 1, N = 1, K = 1 (strides that do not matter) */
        int as3[2] = {1, 5}, bs3[2] = {5, 1};
        check_matmul(float_types[ti], as3, 2, la, bs3, 2, lb);
        int as4[2] = {3, 1}, bs4[2] = {1, 4};
        check_matmul(float_types[ti], as4, 2, la, bs4, 2, lb);
      }
}

static void test_matmul_batch_broadcasting(void) {
  for (int ti = 0; ti < 4; ti++) {
    mlx_dtype t = float_types[ti];
    { /* both batched, broadcasting both ways */
      int as[4] = {4, 1, 3, 5}, bs[3] = {2, 5, 6};
      check_matmul(t, as, 4, LAYOUT_CONTIGUOUS, bs, 3, LAYOUT_TRANSPOSED);
    }
    { /* a stack of matrices times one matrix: one tall product */
      int as[4] = {2, 3, 4, 5}, bs[2] = {5, 6};
      check_matmul(t, as, 4, LAYOUT_CONTIGUOUS, bs, 2, LAYOUT_CONTIGUOUS);
      check_matmul(t, as, 4, LAYOUT_PADDED, bs, 2, LAYOUT_TRANSPOSED);
      check_matmul(t, as, 4, LAYOUT_TRANSPOSED, bs, 2, LAYOUT_STEP2);
    }
    { /* one matrix times a stack */
      int as[2] = {3, 5}, bs[3] = {4, 5, 2};
      check_matmul(t, as, 2, LAYOUT_CONTIGUOUS, bs, 3, LAYOUT_CONTIGUOUS);
      check_matmul(t, as, 2, LAYOUT_TRANSPOSED, bs, 3, LAYOUT_PADDED);
    }
    { /* batch of 1 against batch of 3, M = 1 stacked */
      int as[3] = {3, 1, 8}, bs[3] = {1, 8, 5};
      check_matmul(t, as, 3, LAYOUT_CONTIGUOUS, bs, 3, LAYOUT_CONTIGUOUS);
    }
  }
  /* a broadcast view as the batch operand: stride-0 batch axes */
  int rs[3] = {1, 4, 3}, full[3] = {5, 4, 3}, bsh[3] = {5, 3, 2};
  mlx_array r = rand_array(MLX_FLOAT32, rs, 3);
  mlx_array a = mlx_array_new(), out = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&a, r, full, 3, S));
  mlx_array b = rand_array(MLX_FLOAT32, bsh, 3);
  double* va = test_to_f64(a);
  double* vb = test_to_f64(b);
  int os[8], on;
  double* ref = ref_matmul(va, full, 3, vb, bsh, 3, os, &on);
  CHECK_OK(mlx_matmul(&out, a, b, S));
  expect_close(out, MLX_FLOAT32, os, on, ref, "matmul broadcast batch view");
  free(va);
  free(vb);
  free(ref);
  mlx_array_free(r);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(out);
}

static void test_matmul_vectors(void) {
  for (int ti = 0; ti < 4; ti++) {
    mlx_dtype t = float_types[ti];
    int v[1] = {7}, m[2] = {7, 3}, mt[2] = {3, 7}, bt[3] = {2, 7, 4}, ba[3] = {2, 3, 7};
    check_matmul(t, v, 1, LAYOUT_CONTIGUOUS, m, 2, LAYOUT_CONTIGUOUS);  /* -> (3) */
    check_matmul(t, mt, 2, LAYOUT_TRANSPOSED, v, 1, LAYOUT_STEP2);      /* -> (3) */
    check_matmul(t, v, 1, LAYOUT_STEP2, v, 1, LAYOUT_CONTIGUOUS);       /* -> () */
    check_matmul(t, v, 1, LAYOUT_CONTIGUOUS, bt, 3, LAYOUT_CONTIGUOUS); /* -> (2,4) */
    check_matmul(t, ba, 3, LAYOUT_PADDED, v, 1, LAYOUT_CONTIGUOUS);     /* -> (2,3) */
  }
}

static void test_matmul_empty(void) {
  for (int ti = 0; ti < 4; ti++) {
    mlx_dtype t = float_types[ti];
    int a0[2] = {0, 3}, b0[2] = {3, 4};
    check_matmul(t, a0, 2, LAYOUT_CONTIGUOUS, b0, 2, LAYOUT_CONTIGUOUS); /* M = 0 */
    int a1[2] = {2, 3}, b1[2] = {3, 0};
    check_matmul(t, a1, 2, LAYOUT_CONTIGUOUS, b1, 2, LAYOUT_CONTIGUOUS); /* N = 0 */
    int a2[2] = {2, 0}, b2[2] = {0, 4};
    check_matmul(t, a2, 2, LAYOUT_CONTIGUOUS, b2, 2, LAYOUT_CONTIGUOUS); /* K = 0: zeros */
    int a3[3] = {0, 2, 3}, b3[2] = {3, 4};
    check_matmul(t, a3, 3, LAYOUT_CONTIGUOUS, b3, 2, LAYOUT_CONTIGUOUS); /* no batches */
    int a4[3] = {3, 2, 0}, b4[3] = {3, 0, 5};
    check_matmul(t, a4, 3, LAYOUT_TRANSPOSED, b4, 3, LAYOUT_CONTIGUOUS);
  }
}

static void test_matmul_complex(void) {
  int M = 3, K = 5, N = 4;
  float complex av[15], bv[20];
  for (int i = 0; i < M * K; i++) av[i] = (float)test_rand(-1, 1) + I * (float)test_rand(-1, 1);
  for (int i = 0; i < K * N; i++) bv[i] = (float)test_rand(-1, 1) + I * (float)test_rand(-1, 1);
  int as[2] = {M, K}, bs[2] = {N, K};
  mlx_array a = mlx_array_new_data(av, as, 2, MLX_COMPLEX64);
  /* b given transposed: stored [N, K] */
  mlx_array bt = mlx_array_new_data(bv, bs, 2, MLX_COMPLEX64);
  mlx_array b = mlx_array_new(), out = mlx_array_new(), c = mlx_array_new();
  CHECK_OK(mlx_transpose(&b, bt, S));
  CHECK_OK(mlx_matmul(&out, a, b, S));
  CHECK(mlx_array_dtype(out) == MLX_COMPLEX64);
  CHECK_OK(mlx_contiguous(&c, out, false, S));
  CHECK_OK(mlx_array_eval(c));
  const float complex* p = (const float complex*)mlx_array_data_complex64(c);
  double err = 0, den = 0;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double complex s = 0;
      for (int k = 0; k < K; k++) s += (double complex)av[i * K + k] * bv[j * K + k];
      err = fmax(err, cabs(p[i * N + j] - s));
      den = fmax(den, cabs(s));
    }
  CHECK_MSG(err / den < 1e-5, "complex matmul relative error %g", err / den);
  mlx_array_free(a);
  mlx_array_free(bt);
  mlx_array_free(b);
  mlx_array_free(out);
  mlx_array_free(c);
}

static void test_matmul_dtypes(void) {
  static const struct {
    mlx_dtype a, b, out;
  } cases[] = {
      {MLX_FLOAT16, MLX_FLOAT32, MLX_FLOAT32}, {MLX_BFLOAT16, MLX_FLOAT16, MLX_FLOAT32},
      {MLX_INT32, MLX_FLOAT16, MLX_FLOAT16},  {MLX_BOOL, MLX_FLOAT64, MLX_FLOAT64},
      {MLX_UINT8, MLX_BFLOAT16, MLX_BFLOAT16}, {MLX_FLOAT32, MLX_COMPLEX64, MLX_COMPLEX64},
  };
  int as[2] = {2, 3}, bs[2] = {3, 2};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mlx_array a = rand_array(cases[i].a, as, 2), b = rand_array(cases[i].b, bs, 2);
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_matmul(&out, a, b, S));
    CHECK_MSG(mlx_array_dtype(out) == cases[i].out, "matmul dtype case %zu", i);
    CHECK_OK(mlx_array_eval(out));
    mlx_array_free(a);
    mlx_array_free(b);
    mlx_array_free(out);
  }
}

static void test_matmul_errors(void) {
  int s23[2] = {2, 3}, s34[2] = {3, 4}, b243[3] = {2, 4, 3}, b334[3] = {3, 3, 4};
  mlx_array x = rand_array(MLX_FLOAT32, s23, 2), y = rand_array(MLX_FLOAT32, s34, 2);
  mlx_array z = mlx_array_new_float(1.0f);
  mlx_array ia = rand_array(MLX_INT32, s23, 2), ib = rand_array(MLX_INT32, s34, 2);
  mlx_array ba = rand_array(MLX_BOOL, s23, 2), bb = rand_array(MLX_BOOL, s34, 2);
  mlx_array u = rand_array(MLX_UINT8, s34, 2);
  mlx_array p = rand_array(MLX_FLOAT32, b243, 3), q = rand_array(MLX_FLOAT32, b334, 3);
  mlx_array r = mlx_array_new();
  EXPECT_ERROR(mlx_matmul(&r, z, x, S),
               "[matmul] Got 0 dimension input. Inputs must have at least one dimension.");
  EXPECT_ERROR(mlx_matmul(&r, x, z, S),
               "[matmul] Got 0 dimension input. Inputs must have at least one dimension.");
  EXPECT_ERROR(mlx_matmul(&r, x, x, S),
               "[matmul] Last dimension of first input with shape (2,3) must match second to "
               "last dimension of second input with shape (2,3).");
  int v4[1] = {4};
  mlx_array v = rand_array(MLX_FLOAT32, v4, 1);
  EXPECT_ERROR(mlx_matmul(&r, v, x, S),
               "[matmul] Last dimension of first input with shape (1,4) must match second to "
               "last dimension of second input with shape (2,3).");
  EXPECT_ERROR(mlx_matmul(&r, x, v, S),
               "[matmul] Last dimension of first input with shape (2,3) must match second to "
               "last dimension of second input with shape (4,1).");
  EXPECT_ERROR(mlx_matmul(&r, ia, ib, S),
               "[matmul] Only inexact types are supported but int32 and int32 were provided "
               "which results in int32, which is not a floating point type.");
  EXPECT_ERROR(mlx_matmul(&r, ba, bb, S),
               "[matmul] Only inexact types are supported but bool and bool were provided "
               "which results in bool, which is not a floating point type.");
  EXPECT_ERROR(mlx_matmul(&r, ia, u, S),
               "[matmul] Only inexact types are supported but int32 and uint8 were provided "
               "which results in int32, which is not a floating point type.");
  EXPECT_ERROR(mlx_matmul(&r, p, q, S),
               "[broadcast_shapes] Shapes (2) and (3) cannot be broadcast.");
  mlx_array empty = mlx_array_new();
  EXPECT_ERROR(mlx_matmul(&r, empty, x, S),
               "[matmul] The first input array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_matmul(NULL, x, y, S), "[matmul] The result pointer is NULL.");
  CHECK(r.ctx == NULL); /* untouched */
  mlx_array arrs[] = {x, y, z, ia, ib, ba, bb, u, p, q, v, r};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
}

/* ---- addmm ---- */

/* Value of c broadcast to out's shape at out's flat index i. */
static double bcast_at(const double* c, const int* cs, int cn, const int* os, int on, size_t i) {
  size_t off = 0, st = 1;
  for (int d = on - 1; d >= 0; d--) {
    size_t idx = i % (size_t)os[d];
    i /= (size_t)os[d];
    int k = d - (on - cn);
    if (k >= 0) {
      if (cs[k] != 1) off += idx * st;
      st *= (size_t)cs[k];
    }
  }
  return c[off];
}

static void check_addmm(mlx_dtype t, const int* cs, int cn, const int* as, int an, int la,
                        const int* bs, int bn, float alpha, float beta) {
  mlx_array a = layout_array(t, as, an, la);
  mlx_array b = layout_array(t, bs, bn, LAYOUT_CONTIGUOUS);
  mlx_array c = rand_array(t, cs, cn);
  double* va = test_to_f64(a);
  double* vb = test_to_f64(b);
  double* vc = test_to_f64(c);
  int as2[8], bs2[8], an2 = an, bn2 = bn;
  memcpy(as2, as, sizeof(int) * (size_t)an);
  memcpy(bs2, bs, sizeof(int) * (size_t)bn);
  if (an == 1) {
    as2[0] = 1;
    as2[1] = as[0];
    an2 = 2;
  }
  if (bn == 1) {
    bs2[1] = 1;
    bn2 = 2;
  }
  int os[8], on;
  double* ref = ref_matmul(va, as2, an2, vb, bs2, bn2, os, &on);
  if (an == 1 && bn == 1) {
    on -= 2;
  } else if (an == 1) {
    os[on - 2] = os[on - 1];
    on--;
  } else if (bn == 1) {
    on--;
  }
  size_t n = shape_size(os, on);
  for (size_t i = 0; i < n; i++)
    ref[i] = (double)alpha * ref[i] + (double)beta * bcast_at(vc, cs, cn, os, on, i);
  mlx_array out = mlx_array_new();
  CHECK_OK(mlx_addmm(&out, c, a, b, alpha, beta, S));
  char what[96];
  snprintf(what, sizeof what, "addmm c%dd a%dd(%s) b%dd alpha %g beta %g", cn, an,
           layout_names[la], bn, alpha, beta);
  expect_close(out, t, os, on, ref, what);
  mlx_array_free(out);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
  free(va);
  free(vb);
  free(vc);
  free(ref);
}

static void test_addmm(void) {
  for (int ti = 0; ti < 4; ti++) {
    mlx_dtype t = float_types[ti];
    int m35[2] = {3, 5}, m54[2] = {5, 4}, c34[2] = {3, 4}, c4[1] = {4}, c14[2] = {1, 4};
    int c31[2] = {3, 1};
    check_addmm(t, c34, 2, m35, 2, LAYOUT_CONTIGUOUS, m54, 2, 1.0f, 1.0f);
    check_addmm(t, c4, 1, m35, 2, LAYOUT_TRANSPOSED, m54, 2, 0.5f, -2.0f);
    check_addmm(t, c14, 2, m35, 2, LAYOUT_PADDED, m54, 2, 2.0f, 0.0f);
    check_addmm(t, c31, 2, m35, 2, LAYOUT_STEP2, m54, 2, -1.0f, 0.25f);
    check_addmm(t, NULL, 0, m35, 2, LAYOUT_CONTIGUOUS, m54, 2, 1.5f, 3.0f); /* 0-d c */
    /* stacked a, c with at most one axis: the flattened product */
    int a3[3] = {2, 3, 5};
    check_addmm(t, c4, 1, a3, 3, LAYOUT_CONTIGUOUS, m54, 2, 1.0f, 0.5f);
    /* batched: c broadcast over batches */
    int b3[3] = {2, 5, 4}, cb[3] = {1, 3, 4};
    check_addmm(t, cb, 3, a3, 3, LAYOUT_TRANSPOSED, b3, 3, 0.75f, 1.25f);
    check_addmm(t, c34, 2, m35, 2, LAYOUT_CONTIGUOUS, b3, 3, 1.0f, -1.0f);
    /* 1-D operands */
    int v5[1] = {5}, c3[1] = {3};
    check_addmm(t, c4, 1, v5, 1, LAYOUT_CONTIGUOUS, m54, 2, 2.0f, 1.0f);
    check_addmm(t, c3, 1, m35, 2, LAYOUT_CONTIGUOUS, v5, 1, 1.0f, 2.0f);
    check_addmm(t, NULL, 0, v5, 1, LAYOUT_STEP2, v5, 1, 1.0f, 1.0f);
    /* K = 0: beta * c */
    int k0a[2] = {3, 0}, k0b[2] = {0, 4};
    check_addmm(t, c34, 2, k0a, 2, LAYOUT_CONTIGUOUS, k0b, 2, 1.0f, 1.0f);
    check_addmm(t, c4, 1, k0a, 2, LAYOUT_CONTIGUOUS, k0b, 2, 1.0f, -3.0f);
    /* M = 0 */
    int m0[2] = {0, 5}, c04[2] = {0, 4};
    check_addmm(t, c04, 2, m0, 2, LAYOUT_CONTIGUOUS, m54, 2, 1.0f, 1.0f);
  }
  /* complex64: composed from matmul, multiply and add */
  int s22[2] = {2, 2};
  float complex av[4] = {1 + 2 * I, 3, -1 * I, 2 - I}, bv[4] = {1, I, 2, -1 + I};
  float complex cv[4] = {0.5f, -1 * I, 2 + I, 1};
  mlx_array a = mlx_array_new_data(av, s22, 2, MLX_COMPLEX64);
  mlx_array b = mlx_array_new_data(bv, s22, 2, MLX_COMPLEX64);
  mlx_array c = mlx_array_new_data(cv, s22, 2, MLX_COMPLEX64);
  mlx_array out = mlx_array_new();
  CHECK_OK(mlx_addmm(&out, c, a, b, 2.0f, -0.5f, S));
  CHECK(mlx_array_dtype(out) == MLX_COMPLEX64);
  CHECK_OK(mlx_array_eval(out));
  const float complex* p = (const float complex*)mlx_array_data_complex64(out);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) {
      float complex s = 0;
      for (int k = 0; k < 2; k++) s += av[i * 2 + k] * bv[k * 2 + j];
      float complex want = 2.0f * s - 0.5f * cv[i * 2 + j];
      CHECK_MSG(cabsf(p[i * 2 + j] - want) < 1e-5f, "complex addmm [%d,%d]", i, j);
    }
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
  mlx_array_free(out);
}

static void test_addmm_errors(void) {
  int s23[2] = {2, 3}, s34[2] = {3, 4}, s24[2] = {2, 4}, s5[1] = {5}, s124[3] = {1, 2, 4};
  int s3[1] = {3};
  mlx_array a = rand_array(MLX_FLOAT32, s23, 2), b = rand_array(MLX_FLOAT32, s34, 2);
  mlx_array c = rand_array(MLX_FLOAT32, s24, 2), z = mlx_array_new_float(1.0f);
  mlx_array c5 = rand_array(MLX_FLOAT32, s5, 1), c124 = rand_array(MLX_FLOAT32, s124, 3);
  mlx_array ia = rand_array(MLX_INT32, s23, 2), ib = rand_array(MLX_INT32, s34, 2);
  mlx_array ic = rand_array(MLX_INT16, s24, 2), v3 = rand_array(MLX_FLOAT32, s3, 1);
  mlx_array r = mlx_array_new();
  EXPECT_ERROR(mlx_addmm(&r, c, z, b, 1, 1, S),
               "[addmm] Got 0 dimension input. Inputs must have at least one dimension.");
  EXPECT_ERROR(mlx_addmm(&r, c, a, a, 1, 1, S),
               "[addmm] Last dimension of first input with shape (2,3) must match second to "
               "last dimension of second input with shape (2,3).");
  EXPECT_ERROR(mlx_addmm(&r, ic, ia, ib, 1, 1, S),
               "[addmm] Only real floating point types are supported but int16, int32 and "
               "int32 were provided which results in int32, which is not a real floating "
               "point type.");
  EXPECT_ERROR(mlx_addmm(&r, c5, a, b, 1, 1, S),
               "[broadcast_shapes] Shapes (5) and (2,4) cannot be broadcast.");
  EXPECT_ERROR(mlx_addmm(&r, c124, a, b, 1, 1, S),
               "[addmm] input c must broadcast to the output shape");
  /* a (1) c against 1-D a and b: MLX gives it back both dropped axes,
   * (1,1,1), which the (1,1) product cannot hold (a 0-d c is fine) */
  mlx_array one = rand_array(MLX_FLOAT32, (int[]){1}, 1);
  EXPECT_ERROR(mlx_addmm(&r, one, v3, v3, 1, 1, S),
               "[addmm] input c must broadcast to the output shape");
  mlx_array arrs[] = {a, b, c, z, c5, c124, ia, ib, ic, v3, one, r};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
}

/* ---- isclose, allclose, array_equal ---- */

/* MLX's isclose on one pair, with its roundings: the difference in the
 * promoted type T, the tolerances as float32, the comparison in float32
 * (float64 when T is). */
static bool ref_isclose(double a, double b, mlx_dtype t, double rtol, double atol,
                        bool equal_nan) {
  bool close;
  if (t == MLX_FLOAT64) {
    close = fabs(a - b) <= (double)(float)atol + (double)(float)rtol * fabs(b);
  } else {
    float d;
    if (t == MLX_FLOAT16) d = f16_to_f32(f32_to_f16((float)a - (float)b));
    else if (t == MLX_INT32) d = (float)(a - b);
    else d = (float)a - (float)b;
    float rhs = (float)atol + (float)rtol * fabsf((float)b);
    close = fabsf(d) <= rhs;
  }
  if (isinf(a) || isinf(b)) close = a == b;
  if (equal_nan && isnan(a) && isnan(b)) close = true;
  return close;
}

static void check_isclose(mlx_dtype t, double rtol, double atol, bool equal_nan) {
  enum { N = 96 };
  double av[N], bv[N];
  for (int i = 0; i < N; i++) {
    double x = t == MLX_INT32 ? (double)(int)test_rand(-50, 50) : test_rand(-4, 4);
    av[i] = x;
    switch (i % 8) {
      case 0: bv[i] = x; break;
      case 1: bv[i] = x * (1 + test_rand(-2, 2) * rtol); break;
      case 2: bv[i] = x + test_rand(-2, 2) * atol; break;
      case 3: bv[i] = test_rand(-4, 4); break;
      case 4: av[i] = (i & 16) ? INFINITY : -INFINITY; bv[i] = (i & 32) ? INFINITY : x; break;
      case 5: av[i] = NAN; bv[i] = (i & 16) ? NAN : x; break;
      case 6: av[i] = 0; bv[i] = test_rand(-2, 2) * atol; break;
      default: bv[i] = x + (t == MLX_INT32 ? (double)(int)test_rand(-2, 3) : 1e-3); break;
    }
    if (t == MLX_INT32 && !isfinite(av[i])) av[i] = 7;
    if (t == MLX_INT32) bv[i] = isfinite(bv[i]) ? (double)(int)bv[i] : 7;
  }
  int sh[2] = {8, 12};
  mlx_array fa = mlx_array_new_data(av, sh, 2, MLX_FLOAT64);
  mlx_array fb = mlx_array_new_data(bv, sh, 2, MLX_FLOAT64);
  mlx_array a = mlx_array_new(), b = mlx_array_new(), out = mlx_array_new();
  CHECK_OK(mlx_astype(&a, fa, t, S));
  CHECK_OK(mlx_astype(&b, fb, t, S));
  double* ra = test_to_f64(a);
  double* rb = test_to_f64(b);
  CHECK_OK(mlx_isclose(&out, a, b, rtol, atol, equal_nan, S));
  CHECK(mlx_array_dtype(out) == MLX_BOOL && test_shape_is(out, sh, 2));
  double* got = test_to_f64(out);
  int bad = 0;
  for (int i = 0; got && i < N; i++) {
    bool want = ref_isclose(ra[i], rb[i], t, rtol, atol, equal_nan);
    if ((got[i] != 0) != want) {
      if (bad++ < 5)
        fprintf(stderr, "isclose %s(%.17g, %.17g) = %g, want %d\n", tname(t), ra[i], rb[i],
                got[i], want);
    }
  }
  CHECK_MSG(bad == 0, "isclose %s: %d mismatches", tname(t), bad);
  free(got);
  free(ra);
  free(rb);
  mlx_array arrs[] = {fa, fb, a, b, out};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
}

static bool item_bool(mlx_array a) {
  bool v = false;
  CHECK_OK(mlx_array_item_bool(&v, a));
  return v;
}

static void test_isclose_allclose_array_equal(void) {
  mlx_dtype types[4] = {MLX_FLOAT32, MLX_FLOAT64, MLX_FLOAT16, MLX_INT32};
  for (int i = 0; i < 4; i++) {
    check_isclose(types[i], 1e-5, 1e-8, false);
    check_isclose(types[i], 1e-3, 1e-2, true);
    check_isclose(types[i], 0.1, 0.5, false);
  }
  /* broadcasting: [2,3] against [3] */
  float x[6] = {1, 2, 3, 1, 2.5f, 3}, y[3] = {1, 2, 3.00001f};
  int s23[2] = {2, 3}, s3[1] = {3};
  mlx_array a = test_array_f32(x, s23, 2), b = test_array_f32(y, s3, 1);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_isclose(&r, a, b, 1e-5, 1e-8, false, S));
  CHECK(test_shape_is(r, s23, 2));
  double* p = test_to_f64(r);
  double want[6] = {1, 1, 1, 1, 0, 1};
  for (int i = 0; p && i < 6; i++) CHECK(p[i] == want[i]);
  free(p);
  CHECK_OK(mlx_allclose(&r, a, b, 1e-5, 1e-8, false, S));
  CHECK(mlx_array_ndim(r) == 0 && mlx_array_dtype(r) == MLX_BOOL && !item_bool(r));
  CHECK_OK(mlx_allclose(&r, a, b, 0.5, 0, false, S));
  CHECK(item_bool(r));
  int s24[2] = {2, 4};
  mlx_array c = rand_array(MLX_FLOAT32, s24, 2);
  EXPECT_ERROR(mlx_isclose(&r, a, c, 1e-5, 1e-8, false, S),
               "[broadcast_shapes] Shapes (2,3) and (2,4) cannot be broadcast.");
  EXPECT_ERROR(mlx_allclose(&r, a, c, 1e-5, 1e-8, false, S),
               "[broadcast_shapes] Shapes (2,3) and (2,4) cannot be broadcast.");
  /* empty arrays are all close and equal */
  int s0[2] = {0, 3};
  mlx_array e = rand_array(MLX_FLOAT32, s0, 2);
  CHECK_OK(mlx_allclose(&r, e, b, 1e-5, 1e-8, false, S));
  CHECK(item_bool(r));
  CHECK_OK(mlx_array_equal(&r, e, e, false, S));
  CHECK(item_bool(r));

  /* array_equal: promotion, shapes, NaN */
  int32_t xi[6] = {1, 2, 3, 1, 2, 3};
  float xf[6] = {1, 2, 3, 1, 2, 3};
  mlx_array ai = test_array_i32(xi, s23, 2), af = test_array_f32(xf, s23, 2);
  CHECK_OK(mlx_array_equal(&r, ai, af, false, S));
  CHECK(mlx_array_ndim(r) == 0 && mlx_array_dtype(r) == MLX_BOOL && item_bool(r));
  CHECK_OK(mlx_array_equal(&r, a, af, false, S));
  CHECK(!item_bool(r));
  CHECK_OK(mlx_array_equal(&r, af, b, false, S)); /* (2,3) vs (3): shapes differ */
  CHECK(!item_bool(r));
  int s32[2] = {3, 2};
  mlx_array af2 = mlx_array_new();
  CHECK_OK(mlx_reshape(&af2, af, s32, 2, S));
  CHECK_OK(mlx_array_equal(&r, af, af2, false, S));
  CHECK(!item_bool(r));
  float xn[3] = {1, NAN, 3};
  mlx_array n1 = test_array_f32(xn, s3, 1), n2 = test_array_f32(xn, s3, 1);
  CHECK_OK(mlx_array_equal(&r, n1, n2, false, S));
  CHECK(!item_bool(r));
  CHECK_OK(mlx_array_equal(&r, n1, n2, true, S));
  CHECK(item_bool(r));
  CHECK_OK(mlx_allclose(&r, n1, n2, 1e-5, 1e-8, true, S));
  CHECK(item_bool(r));
  CHECK_OK(mlx_allclose(&r, n1, n2, 1e-5, 1e-8, false, S));
  CHECK(!item_bool(r));
  /* a transposed view compares by value */
  mlx_array t1 = mlx_array_new(), t2 = mlx_array_new();
  CHECK_OK(mlx_transpose(&t1, af, S));
  CHECK_OK(mlx_contiguous(&t2, t1, false, S));
  CHECK_OK(mlx_array_equal(&r, t1, t2, false, S));
  CHECK(item_bool(r));
  mlx_array arrs[] = {a, b, r, c, e, ai, af, af2, n1, n2, t1, t2};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
}

int main(void) {
  test_init();
  test_matmul_2d_random_shapes();
  test_matmul_every_layout();
  test_matmul_batch_broadcasting();
  test_matmul_vectors();
  test_matmul_empty();
  test_matmul_complex();
  test_matmul_dtypes();
  test_matmul_errors();
  test_addmm();
  test_addmm_errors();
  test_isclose_allclose_array_equal();
  return test_finish("test_matmul");
}
