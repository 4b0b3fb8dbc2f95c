/* test_matmul_einsum.c - inner, outer, tensordot and einsum (matmul and
 * addmm are in test_matmul.c).
 *
 * What it proves:
 * - tensordot / inner / outer / einsum against a brute-force einsum
 *   reference (every index combination summed in double), including
 *   implicit output, ellipses with broadcasting, diagonals, traces,
 *   single-operand sums, size-1 broadcasting and three-operand paths;
 * - einsum on integer operands;
 * - every validation message of tensordot, inner and einsum. */
#include "matmul_util.h"

/* ---- references ---- */

/* Brute-force einsum: every assignment of the letters, size-1 axes
 * broadcast. subs[i] has one letter per axis of operand i (no ellipsis). */
static double* ref_einsum(int n, const char* const* subs, const int* const* shapes,
                          const double* const* vals, const char* out_sub, int* os) {
  char letters[64];
  int dims[64], nl = 0;
  for (int i = 0; i < n; i++)
    for (int k = 0; subs[i][k]; k++) {
      int at = -1;
      for (int q = 0; q < nl; q++)
        if (letters[q] == subs[i][k]) at = q;
      if (at < 0) {
        letters[nl] = subs[i][k];
        dims[nl++] = shapes[i][k];
      } else if (shapes[i][k] > dims[at]) {
        dims[at] = shapes[i][k];
      }
    }
  int on = (int)strlen(out_sub);
  int opos[64];
  for (int q = 0; q < on; q++)
    for (int l = 0; l < nl; l++)
      if (letters[l] == out_sub[q]) {
        opos[q] = l;
        os[q] = dims[l];
      }
  size_t osize = shape_size(os, on);
  double* out = calloc(osize + 1, sizeof *out);
  int idx[64] = {0};
  size_t total = shape_size(dims, nl);
  for (size_t it = 0; it < total; it++) {
    double p = 1;
    for (int i = 0; i < n; i++) {
      size_t flat = 0;
      int nd = (int)strlen(subs[i]);
      for (int k = 0; k < nd; k++) {
        int l = 0;
        while (letters[l] != subs[i][k]) l++;
        flat = flat * (size_t)shapes[i][k] + (shapes[i][k] == 1 ? 0 : (size_t)idx[l]);
      }
      p *= vals[i][flat];
    }
    size_t of = 0;
    for (int q = 0; q < on; q++) of = of * (size_t)os[q] + (size_t)idx[opos[q]];
    out[of] += p;
    for (int l = nl - 1; l >= 0; l--) { /* odometer */
      if (++idx[l] < dims[l]) break;
      idx[l] = 0;
    }
  }
  return out;
}

/* ---- einsum, tensordot, inner, outer ---- */

/* Runs einsum on random float arrays of the given shapes and compares it
 * with the brute-force reference for ref_subs -> ref_out (the subscripts
 * with any ellipsis written out). */
static void check_einsum_ref(mlx_dtype t, const char* subscripts, int n, const int* const* shapes,
                             const int* nds, const char* const* ref_subs, const char* ref_out) {
  mlx_vector_array v = mlx_vector_array_new();
  mlx_array arrs[8];
  double* vals[8];
  for (int i = 0; i < n; i++) {
    arrs[i] = rand_array(t, shapes[i], nds[i]);
    vals[i] = test_to_f64(arrs[i]);
    mlx_vector_array_append_value(v, arrs[i]);
  }
  int os[64];
  double* ref = ref_einsum(n, ref_subs, shapes, (const double* const*)vals, ref_out, os);
  mlx_array out = mlx_array_new();
  CHECK_OK(mlx_einsum(&out, subscripts, v, S));
  char what[128];
  snprintf(what, sizeof what, "einsum '%s' (%s)", subscripts, tname(t));
  expect_close(out, t, os, (int)strlen(ref_out), ref, what);
  mlx_array_free(out);
  for (int i = 0; i < n; i++) {
    mlx_array_free(arrs[i]);
    free(vals[i]);
  }
  mlx_vector_array_free(v);
  free(ref);
}

typedef struct einsum_case {
  const char* subscripts;
  int n;
  int shapes[3][5];
  int nds[3];
  const char* ref_subs[3];
  const char* ref_out;
  bool halves; /* also run in float64 / float16 */
} einsum_case;

static const einsum_case einsum_cases[] = {
    {"ij,jk->ik", 2, {{3, 4}, {4, 5}}, {2, 2}, {"ij", "jk"}, "ik", true},
    {"ij,jk", 2, {{3, 4}, {4, 5}}, {2, 2}, {"ij", "jk"}, "ik", false},
    {"ik,jk->ij", 2, {{3, 4}, {5, 4}}, {2, 2}, {"ik", "jk"}, "ij", true},
    {"bij,bjk->bik", 2, {{2, 3, 4}, {2, 4, 5}}, {3, 3}, {"bij", "bjk"}, "bik", true},
    {"ii->i", 1, {{4, 4}}, {2}, {"ii"}, "i", true},
    {"ii", 1, {{4, 4}}, {2}, {"ii"}, "", true},
    {"ij->ji", 1, {{3, 4}}, {2}, {"ij"}, "ji", false},
    {"ij->", 1, {{3, 4}}, {2}, {"ij"}, "", true},
    {"i,i->", 2, {{5}, {5}}, {1, 1}, {"i", "i"}, "", true},
    {"i,j->ij", 2, {{3}, {4}}, {1, 1}, {"i", "j"}, "ij", false},
    {"ij,j->i", 2, {{3, 4}, {4}}, {2, 1}, {"ij", "j"}, "i", false},
    {"...ij,...jk->...ik", 2, {{2, 1, 3, 4}, {5, 4, 2}}, {4, 3}, {"xyij", "yjk"}, "xyik", true},
    {"ij,jk,kl->il", 3, {{3, 4}, {4, 5}, {5, 2}}, {2, 2, 2}, {"ij", "jk", "kl"}, "il", true},
    {"abc,cd,de->abe", 3, {{2, 3, 4}, {4, 3}, {3, 5}}, {3, 2, 2}, {"abc", "cd", "de"}, "abe",
     false},
    {"ijk,jil->kl", 2, {{2, 3, 4}, {3, 2, 5}}, {3, 3}, {"ijk", "jil"}, "kl", false},
    {"ij,jk->ik", 2, {{3, 1}, {4, 5}}, {2, 2}, {"ij", "jk"}, "ik", false},
    {"iij->j", 1, {{3, 3, 4}}, {3}, {"iij"}, "j", false},
    {"ijij->ij", 1, {{2, 3, 2, 3}}, {4}, {"ijij"}, "ij", false},
    {"i,i,i->i", 3, {{4}, {4}, {4}}, {1, 1, 1}, {"i", "i", "i"}, "i", false},
    {"bi,bj->bij", 2, {{2, 3}, {2, 4}}, {2, 2}, {"bi", "bj"}, "bij", false},
    {"Ab,bC", 2, {{2, 3}, {3, 4}}, {2, 2}, {"Ab", "bC"}, "AC", false},
    {"i...->...", 1, {{3, 2, 4}}, {3}, {"iab"}, "ab", false},
    {"ij,ij->ij", 2, {{3, 4}, {3, 4}}, {2, 2}, {"ij", "ij"}, "ij", false},
    {"ij,jk->ik", 2, {{3, 0}, {0, 4}}, {2, 2}, {"ij", "jk"}, "ik", false},
    {"ij,jk->ik", 2, {{0, 4}, {4, 5}}, {2, 2}, {"ij", "jk"}, "ik", false},
    {"a,b,c->abc", 3, {{2}, {3}, {4}}, {1, 1, 1}, {"a", "b", "c"}, "abc", false},
    {"ij,kl->", 2, {{2, 3}, {4, 5}}, {2, 2}, {"ij", "kl"}, "", false},
    {" i j , j k -> i k ", 2, {{2, 3}, {3, 2}}, {2, 2}, {"ij", "jk"}, "ik", false},
};

static void test_einsum_values(void) {
  size_t nc = sizeof einsum_cases / sizeof einsum_cases[0];
  for (size_t i = 0; i < nc; i++) {
    const einsum_case* c = &einsum_cases[i];
    const int* shapes[3] = {c->shapes[0], c->shapes[1], c->shapes[2]};
    check_einsum_ref(MLX_FLOAT32, c->subscripts, c->n, shapes, c->nds, c->ref_subs, c->ref_out);
    if (c->halves) {
      check_einsum_ref(MLX_FLOAT64, c->subscripts, c->n, shapes, c->nds, c->ref_subs,
                       c->ref_out);
      check_einsum_ref(MLX_FLOAT16, c->subscripts, c->n, shapes, c->nds, c->ref_subs,
                       c->ref_out);
      check_einsum_ref(MLX_BFLOAT16, c->subscripts, c->n, shapes, c->nds, c->ref_subs,
                       c->ref_out);
    }
  }
}

static mlx_array einsum1(const char* subs, mlx_array a, mlx_array b, int* rc) {
  mlx_vector_array v = mlx_vector_array_new();
  mlx_vector_array_append_value(v, a);
  if (b.ctx) mlx_vector_array_append_value(v, b);
  mlx_array out = mlx_array_new();
  *rc = mlx_einsum(&out, subs, v, S);
  mlx_vector_array_free(v);
  return out;
}

static void test_einsum_integers(void) {
  int32_t av[6] = {1, -2, 3, 4, 5, -6}, bv[6] = {2, 2, 2, -1, 0, 7};
  int s6[1] = {6}, s23[2] = {2, 3}, s32[2] = {3, 2};
  mlx_array a = test_array_i32(av, s6, 1), b = test_array_i32(bv, s6, 1);
  int rc;
  mlx_array out = einsum1("i,i->i", a, b, &rc); /* no contraction: multiply */
  CHECK(rc == 0 && mlx_array_dtype(out) == MLX_INT32);
  double* p = test_to_f64(out);
  for (int i = 0; p && i < 6; i++) CHECK(p[i] == (double)av[i] * bv[i]);
  free(p);
  mlx_array_free(out);

  mlx_array a8 = mlx_array_new();
  CHECK_OK(mlx_astype(&a8, a, MLX_INT8, S));
  mlx_array m8 = mlx_array_new();
  CHECK_OK(mlx_reshape(&m8, a8, s23, 2, S));
  out = einsum1("ij->", m8, (mlx_array){0}, &rc); /* sum: int8 -> int32 */
  CHECK(rc == 0 && mlx_array_dtype(out) == MLX_INT32 && mlx_array_ndim(out) == 0);
  p = test_to_f64(out);
  CHECK(p && p[0] == 5);
  free(p);
  mlx_array_free(out);

  bool bits[4] = {true, false, true, true};
  int s4[1] = {4};
  mlx_array bb = mlx_array_new_data(bits, s4, 1, MLX_BOOL);
  out = einsum1("i->", bb, (mlx_array){0}, &rc); /* bool sums count: int32 */
  CHECK(rc == 0 && mlx_array_dtype(out) == MLX_INT32);
  p = test_to_f64(out);
  CHECK(p && p[0] == 3);
  free(p);
  mlx_array_free(out);

  mlx_array m1 = mlx_array_new(), m2 = mlx_array_new();
  CHECK_OK(mlx_reshape(&m1, a, s23, 2, S));
  CHECK_OK(mlx_reshape(&m2, b, s32, 2, S));
  mlx_vector_array v = mlx_vector_array_new();
  mlx_vector_array_append_value(v, m1);
  mlx_vector_array_append_value(v, m2);
  out = mlx_array_new();
  EXPECT_ERROR(mlx_einsum(&out, "ij,jk->ik", v, S),
               "[matmul] Only inexact types are supported but int32 and int32 were provided "
               "which results in int32, which is not a floating point type.");
  mlx_vector_array_free(v);
  mlx_array arrs[] = {a, b, a8, m8, bb, m1, m2, out};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
}

static void test_einsum_errors(void) {
  int s23[2] = {2, 3}, s45[2] = {4, 5}, s4[1] = {4};
  mlx_array a = rand_array(MLX_FLOAT32, s23, 2), b = rand_array(MLX_FLOAT32, s45, 2);
  mlx_array v = rand_array(MLX_FLOAT32, s4, 1);
  mlx_vector_array none = mlx_vector_array_new(), one = mlx_vector_array_new();
  mlx_vector_array two = mlx_vector_array_new(), three = mlx_vector_array_new();
  mlx_vector_array_append_value(one, a);
  mlx_vector_array_append_value(two, a);
  mlx_vector_array_append_value(two, b);
  mlx_vector_array_append_value(three, a);
  mlx_vector_array_append_value(three, a);
  mlx_vector_array_append_value(three, v);
  mlx_array r = mlx_array_new();
  EXPECT_ERROR(mlx_einsum(&r, "ij", none, S), "[einsum] At least one operand is required.");
  EXPECT_ERROR(mlx_einsum(&r, "ij,jk", one, S),
               "[einsum] Number of operands, 1, does not match number of input subscripts, 2");
  EXPECT_ERROR(mlx_einsum(&r, "ij,", two, S),
               "[einsum] Number of operands, 2, does not match number of input subscripts, 1");
  EXPECT_ERROR(mlx_einsum(&r, "i1->i", one, S),
               "[einsum] Subscripts must be letters, but got '1'.");
  EXPECT_ERROR(mlx_einsum(&r, "i.j", one, S),
               "[einsum] Subscripts must be letters, but got '.'.");
  EXPECT_ERROR(mlx_einsum(&r, "ij->i-", one, S),
               "[einsum] Subscripts must be letters, but got '-'.");
  EXPECT_ERROR(mlx_einsum(&r, "...i...->i", one, S),
               "[einsum] Only one ellipsis per subscript is allowed but found more in "
               "'...i...'.");
  EXPECT_ERROR(mlx_einsum(&r, "...ijk", one, S),
               "[einsum] Operand 0 with shape (2,3) has insufficient dimensions for subscript "
               "'...ijk'. The ellipsis requires at least 3 dimensions but the operand has 2 "
               "dimensions.");
  EXPECT_ERROR(mlx_einsum(&r, "ij->ii", one, S),
               "[einsum] Repeat indices not allowed in output.");
  EXPECT_ERROR(mlx_einsum(&r, "ijk", one, S),
               "[einsum] Invalid number of subscripts 3 for input 0 with 2 dimensions.");
  EXPECT_ERROR(mlx_einsum(&r, "ii", one, S),
               "[einsum] Dimensions of repeated subscripts do not have the same size (2 != 3).");
  EXPECT_ERROR(mlx_einsum(&r, "ij,jk", two, S),
               "[einsum] Cannot broadcast dimension 0 of input 1 with shape (4,5) to size 3.");
  EXPECT_ERROR(mlx_einsum(&r, "ij,jk,kl,lm->im", three, S),
               "[einsum] Number of operands, 3, does not match number of input subscripts, 4");
  EXPECT_ERROR(mlx_einsum(&r, "ij,ij,jk->ik", three, S),
               "[einsum] Invalid number of subscripts 2 for input 2 with 1 dimensions.");
  EXPECT_ERROR(mlx_einsum(&r, NULL, one, S), "[einsum] The subscripts string is NULL.");
  mlx_vector_array_free(none);
  mlx_vector_array_free(one);
  mlx_vector_array_free(two);
  mlx_vector_array_free(three);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(v);
  mlx_array_free(r);
}

static void check_tensordot(const int* as, int an, const int* bs, int bn, const int* axa,
                            const int* axb, int n, const char* sa, const char* sb,
                            const char* so) {
  mlx_array a = rand_array(MLX_FLOAT32, as, an), b = rand_array(MLX_FLOAT32, bs, bn);
  double* va = test_to_f64(a);
  double* vb = test_to_f64(b);
  const char* subs[2] = {sa, sb};
  const int* shapes[2] = {as, bs};
  const double* vals[2] = {va, vb};
  int os[16];
  double* ref = ref_einsum(2, subs, shapes, vals, so, os);
  mlx_array out = mlx_array_new();
  CHECK_OK(mlx_tensordot(&out, a, b, axa, (size_t)n, axb, (size_t)n, S));
  char what[64];
  snprintf(what, sizeof what, "tensordot %s,%s->%s", sa, sb, so);
  expect_close(out, MLX_FLOAT32, os, (int)strlen(so), ref, what);
  mlx_array_free(out);
  mlx_array_free(a);
  mlx_array_free(b);
  free(va);
  free(vb);
  free(ref);
}

static void test_tensordot_inner_outer(void) {
  int a3[3] = {2, 3, 4}, b3[3] = {4, 3, 5};
  check_tensordot(a3, 3, b3, 3, (int[]){1, 2}, (int[]){1, 0}, 2, "pqr", "rqs", "ps");
  int a2[2] = {3, 4}, b2[2] = {4, 5};
  check_tensordot(a2, 2, b2, 2, (int[]){-1}, (int[]){0}, 1, "pq", "qr", "pr");
  check_tensordot(a2, 2, b2, 2, NULL, NULL, 0, "pq", "rs", "pqrs"); /* outer */
  int ze[2] = {3, 0}, zb[2] = {0, 2};
  check_tensordot(ze, 2, zb, 2, (int[]){1}, (int[]){0}, 1, "pq", "qr", "pr");

  /* the axis form: last `axis` axes of a against the first of b */
  int t1[3] = {2, 3, 4}, t2[3] = {3, 4, 5};
  mlx_array a = rand_array(MLX_FLOAT32, t1, 3), b = rand_array(MLX_FLOAT32, t2, 3);
  double* va = test_to_f64(a);
  double* vb = test_to_f64(b);
  const int* shapes[2] = {t1, t2};
  const double* vals[2] = {va, vb};
  static const char* const forms[3][3] = {
      {"pqr", "stu", "pqrstu"}, {"pqr", "rtu", "pqtu"}, {"pqr", "qru", "pu"}};
  for (int axis = 0; axis <= 2; axis++) {
    if (axis == 1) continue; /* shapes do not line up for axis 1 */
    int os[16];
    const char* subs[2] = {forms[axis][0], forms[axis][1]};
    double* ref = ref_einsum(2, subs, shapes, vals, forms[axis][2], os);
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_tensordot_axis(&out, a, b, axis, S));
    expect_close(out, MLX_FLOAT32, os, (int)strlen(forms[axis][2]), ref, "tensordot_axis");
    mlx_array_free(out);
    free(ref);
  }
  /* inner: the last axes */
  int i1[2] = {5, 4};
  mlx_array c = rand_array(MLX_FLOAT32, i1, 2);
  double* vc = test_to_f64(c);
  {
    int os[16];
    const char* subs[2] = {"pqr", "sr"};
    const int* sh[2] = {t1, i1};
    const double* vv[2] = {va, vc};
    double* ref = ref_einsum(2, subs, sh, vv, "pqs", os);
    mlx_array out = mlx_array_new();
    CHECK_OK(mlx_inner(&out, a, c, S));
    expect_close(out, MLX_FLOAT32, os, 3, ref, "inner");
    mlx_array_free(out);
    free(ref);
  }
  { /* inner with a 0-d operand: a product */
    mlx_array two = mlx_array_new_float(2.0f), out = mlx_array_new();
    CHECK_OK(mlx_inner(&out, two, c, S));
    double* p = test_to_f64(out);
    CHECK(test_shape_is(out, i1, 2));
    for (int i = 0; p && i < 20; i++) CHECK(p[i] == 2 * vc[i]);
    free(p);
    mlx_array_free(two);
    mlx_array_free(out);
  }
  { /* outer flattens both */
    int o1[2] = {2, 3}, o2[2] = {2, 2};
    mlx_array x = rand_array(MLX_FLOAT32, o1, 2);
    mlx_array y32 = rand_array(MLX_INT32, o2, 2), out = mlx_array_new();
    double* vx = test_to_f64(x);
    double* vy = test_to_f64(y32);
    CHECK_OK(mlx_outer(&out, x, y32, S));
    int want[2] = {6, 4};
    CHECK(test_shape_is(out, want, 2) && mlx_array_dtype(out) == MLX_FLOAT32);
    double* p = test_to_f64(out);
    for (int i = 0; p && i < 6; i++)
      for (int j = 0; j < 4; j++) CHECK(p[i * 4 + j] == (double)(float)(vx[i] * vy[j]));
    free(p);
    free(vx);
    free(vy);
    mlx_array_free(x);
    mlx_array_free(y32);
    mlx_array_free(out);
  }
  free(va);
  free(vb);
  free(vc);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
}

static void test_tensordot_errors(void) {
  int s34[2] = {3, 4}, s33[2] = {3, 3}, s5[1] = {5};
  mlx_array a = rand_array(MLX_FLOAT32, s34, 2), q = rand_array(MLX_FLOAT32, s33, 2);
  mlx_array v = rand_array(MLX_FLOAT32, s5, 1), ia = rand_array(MLX_INT32, s34, 2);
  mlx_array r = mlx_array_new();
  EXPECT_ERROR(mlx_tensordot(&r, a, a, (int[]){0, 1}, 2, (int[]){0}, 1, S),
               "[tensordot] axes must have the same size.");
  EXPECT_ERROR(mlx_tensordot(&r, a, a, (int[]){0}, 1, (int[]){1}, 1, S),
               "[tensordot] a and b must have the same shape on the contracted axes.");
  EXPECT_ERROR(mlx_tensordot(&r, a, a, (int[]){2}, 1, (int[]){0}, 1, S),
               "SmallVector out of range.");
  EXPECT_ERROR(mlx_tensordot(&r, a, a, (int[]){0}, 1, (int[]){-3}, 1, S),
               "SmallVector out of range.");
  EXPECT_ERROR(mlx_tensordot(&r, q, q, (int[]){0, 0}, 2, (int[]){0, 1}, 2, S),
               "[transpose] Recived 3 axes for array with 2 dimensions.");
  EXPECT_ERROR(mlx_tensordot(&r, ia, ia, (int[]){1}, 1, (int[]){1}, 1, S),
               "[matmul] Only inexact types are supported but int32 and int32 were provided "
               "which results in int32, which is not a floating point type.");
  EXPECT_ERROR(mlx_tensordot_axis(&r, a, a, -1, S),
               "[tensordot] axis must be greater or equal to 0.");
  EXPECT_ERROR(mlx_tensordot_axis(&r, a, v, 2, S),
               "[tensordot] axis must be less than the number of dimensions of a and b.");
  EXPECT_ERROR(mlx_inner(&r, a, v, S), "[inner] a and b must have the same last dimension.");
  mlx_array arrs[] = {a, q, v, ia, r};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mlx_array_free(arrs[i]);
}

int main(void) {
  test_init();
  test_einsum_values();
  test_einsum_integers();
  test_einsum_errors();
  test_tensordot_inner_outer();
  test_tensordot_errors();
  return test_finish("test_matmul_einsum");
}
