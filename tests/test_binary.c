/* test_binary.c - the binary elementwise family: dtypes, values on every
 * dtype against a reference, and errors (known answers, corner cases,
 * views, donation, divmod, where and clip are in test_binary_cases.c).
 *
 * What it proves:
 * - result dtypes: the full 14x14 promotion table (through add) and the
 *   rule of every other member (divide -> float, comparisons -> bool, ...);
 * - values of every op on every dtype it takes, against a reference
 *   computed here in double / 64-bit integers: exact where MLX is exact,
 *   within 2 float32 ulp (1 half ulp) for pow / atan2 / logaddexp;
 * - shapes: broadcasting both ways, 0-d with n-d, empty arrays;
 * - large arrays (the threaded path);
 * - every error path with MLX's exact text, and Python scalars. */
#include "binary_util.h"

/* Checks op(a, b) for a and b of dtype t on one shape pair, against the
 * reference; a_view/b_view, when given, replace a and b (views with the
 * same shapes and values). */
static void check_values(int op, mlx_dtype t, const shape_pair* sp) {
  size_t na = shape_size(sp->a, sp->na), nb = shape_size(sp->b, sp->nb);
  size_t no = shape_size(sp->out, sp->no);
  size_t es = dtype_size(t);
  void* da = malloc(na * es + 1);
  void* db = malloc(nb * es + 1);
  fill_random(da, t, na, op, 0);
  fill_random(db, t, nb, op, 1);
  mlx_array a = make(da, sp->a, sp->na, t), b = make(db, sp->b, sp->nb, t);
  mlx_array r = mlx_array_new();
  CHECK_OK(ops[op].fn(&r, a, b, test_stream));
  CHECK_MSG(test_shape_is(r, sp->out, sp->no), "%s %s: shape", ops[op].name, dname(t));
  mlx_dtype rt = mlx_array_dtype(r);
  void* got = read_raw(r);
  int bad = 0;
  for (size_t i = 0; got && i < no && bad < 5; i++) {
    size_t ia = bcast_index(i, sp->out, sp->no, sp->a, sp->na);
    size_t ib = bcast_index(i, sp->out, sp->no, sp->b, sp->nb);
    if (is_float(t)) {
      int64_t tol;
      double want = ref_float(op, t, elem_f(da, t, ia), elem_f(db, t, ib), &tol);
      double g = op_is_compare(op) ? (double)((const bool*)got)[i] : elem_f(got, rt, i);
      bool ok = ulps(t, g, want) <= tol && (g != 0 || signbit(g) == signbit(want));
      if (!ok) {
        bad++;
        CHECK_MSG(ok, "%s %s: [%zu] %.17g op %.17g = %.17g, want %.17g", ops[op].name,
                  dname(t), i, elem_f(da, t, ia), elem_f(db, t, ib), g, want);
      }
    } else {
      uint64_t x = elem_i(da, t, ia), y = elem_i(db, t, ib);
      uint64_t want = t == MLX_BOOL ? ref_bool(op, x, y) : ref_int(op, t, x, y);
      uint64_t g = elem_i(got, rt, i);
      bool ok = (g & mask_of(rt)) == (want & mask_of(rt));
      if (!ok) {
        bad++;
        CHECK_MSG(ok, "%s %s: [%zu] %lld op %lld = %lld, want %lld", ops[op].name, dname(t), i,
                  (long long)x, (long long)y, (long long)g, (long long)(want & mask_of(rt)));
      }
    }
  }
  CHECK(got != NULL);
  free(got);
  free(da);
  free(db);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(r);
}

/* Which real dtypes each op takes without casting them away. */
static bool op_takes(int op, mlx_dtype t) {
  switch (op) {
    case BINARY_DIVIDE:
    case BINARY_LOGADDEXP:
    case BINARY_ARCTAN2: return is_float(t);
    case BINARY_LOGICAL_AND:
    case BINARY_LOGICAL_OR: return t == MLX_BOOL;
    case BINARY_BITWISE_AND:
    case BINARY_BITWISE_OR:
    case BINARY_BITWISE_XOR: return !is_float(t) && t != MLX_COMPLEX64;
    case BINARY_LEFT_SHIFT:
    case BINARY_RIGHT_SHIFT: return !is_float(t) && t != MLX_COMPLEX64 && t != MLX_BOOL;
    default: return t != MLX_COMPLEX64;
  }
}

static void test_every_op_every_dtype(void) {
  for (int op = 0; op < BINARY_OP_COUNT; op++)
    for (int k = 0; k < N_DTYPES; k++) {
      if (!op_takes(op, all_dtypes[k])) continue;
      for (size_t s = 0; s < sizeof shape_pairs / sizeof *shape_pairs; s++)
        check_values(op, all_dtypes[k], &shape_pairs[s]);
    }
}

/* The threaded path: > 65536 elements, with broadcasting. */
static void test_large_arrays(void) {
  static const shape_pair big[] = {
      {1, 1, 1, {70001}, {70001}, {70001}},
      {2, 1, 2, {300, 257}, {257}, {300, 257}},
      {2, 2, 2, {300, 1}, {1, 259}, {300, 259}},
      {0, 1, 1, {0}, {70001}, {70001}},
  };
  static const int big_ops[] = {BINARY_ADD, BINARY_MULTIPLY, BINARY_MAXIMUM, BINARY_LESS,
                                BINARY_DIVIDE, BINARY_REMAINDER, BINARY_LOGADDEXP};
  static const mlx_dtype big_types[] = {MLX_FLOAT32, MLX_INT32, MLX_FLOAT16, MLX_UINT8,
                                        MLX_FLOAT64, MLX_BFLOAT16};
  for (size_t s = 0; s < sizeof big / sizeof *big; s++)
    for (size_t o = 0; o < sizeof big_ops / sizeof *big_ops; o++)
      for (size_t k = 0; k < sizeof big_types / sizeof *big_types; k++)
        if (op_takes(big_ops[o], big_types[k])) check_values(big_ops[o], big_types[k], &big[s]);
}

/* ---- dtypes ---- */

/* spec/mlx-core-reference.md, promote_types(row, column), in its order. */
static const char* const promo_names[N_DTYPES] = {
    "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
    "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"};
static const char* const promo_table[N_DTYPES][N_DTYPES] = {
    {"bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"uint8", "uint8", "uint16", "uint32", "uint64", "int16", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"uint16", "uint16", "uint16", "uint32", "uint64", "int32", "int32", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"uint32", "uint32", "uint32", "uint32", "uint64", "int64", "int64", "int64", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"uint64", "uint64", "uint64", "uint64", "uint64", "float32", "float32", "float32", "float32", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"int8", "int16", "int32", "int64", "float32", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"int16", "int16", "int32", "int64", "float32", "int16", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"int32", "int32", "int32", "int64", "float32", "int32", "int32", "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"int64", "int64", "int64", "int64", "float32", "int64", "int64", "int64", "int64", "float16", "bfloat16", "float32", "float64", "complex64"},
    {"float16", "float16", "float16", "float16", "float16", "float16", "float16", "float16", "float16", "float16", "float32", "float32", "float64", "complex64"},
    {"bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "float32", "bfloat16", "float32", "float64", "complex64"},
    {"float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float64", "complex64"},
    {"float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "complex64"},
    {"complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64"},
};

static mlx_dtype dtype_named(const char* name) {
  for (int k = 0; k < N_DTYPES; k++)
    if (!strcmp(dtype_name(all_dtypes[k]), name)) return all_dtypes[k];
  abort();
}

/* A [2] array of dtype t holding 1 and 2 (true, true for bool). */
static mlx_array one_two(mlx_dtype t) {
  mlx_array f = mlx_array_new_data((const float[]){1, 2}, (const int[]){2}, 1, MLX_FLOAT32);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_astype(&r, f, t, test_stream));
  mlx_array_free(f);
  return r;
}

static void test_promotion_table(void) {
  for (int i = 0; i < N_DTYPES; i++)
    for (int j = 0; j < N_DTYPES; j++) {
      mlx_dtype ta = dtype_named(promo_names[i]), tb = dtype_named(promo_names[j]);
      mlx_array a = one_two(ta), b = one_two(tb), r = mlx_array_new();
      CHECK_OK(mlx_add(&r, a, b, test_stream));
      mlx_dtype want = dtype_named(promo_table[i][j]);
      CHECK_MSG(mlx_array_dtype(r) == want, "add(%s, %s) gave %s, want %s", promo_names[i],
                promo_names[j], dname(mlx_array_dtype(r)), promo_table[i][j]);
      /* and the values: [1,2] + [1,2], where bool holds [true, true] */
      double* v = test_to_f64(r);
      double a1 = ta == MLX_BOOL ? 1 : 2, b1 = tb == MLX_BOOL ? 1 : 2;
      bool boolish = want == MLX_BOOL;
      CHECK_MSG(v && v[0] == (boolish ? 1 : 2) && v[1] == (boolish ? 1 : a1 + b1),
                "add(%s, %s) values", promo_names[i], promo_names[j]);
      free(v);
      mlx_array_free(a);
      mlx_array_free(b);
      mlx_array_free(r);
    }
}

/* The dtype rule of every other member. */
static void test_result_dtypes(void) {
  for (int i = 0; i < N_DTYPES; i++)
    for (int j = 0; j < N_DTYPES; j++) {
      mlx_dtype ta = all_dtypes[i], tb = all_dtypes[j];
      mlx_dtype p = dtype_promote(ta, tb);
      mlx_array a = one_two(ta), b = one_two(tb);
      for (int op = 0; op < BINARY_OP_COUNT; op++) {
        mlx_dtype want = p;
        bool fails = false;
        switch (op) {
          case BINARY_DIVIDE:
          case BINARY_LOGADDEXP:
          case BINARY_ARCTAN2:
            want = is_float(p) || p == MLX_COMPLEX64 ? p : MLX_FLOAT32;
            fails = op == BINARY_ARCTAN2 && p == MLX_COMPLEX64;
            break;
          case BINARY_FLOOR_DIVIDE:
          case BINARY_REMAINDER: fails = p == MLX_COMPLEX64; break;
          case BINARY_LOGICAL_AND:
          case BINARY_LOGICAL_OR: want = MLX_BOOL; break;
          case BINARY_BITWISE_AND:
          case BINARY_BITWISE_OR:
          case BINARY_BITWISE_XOR: fails = is_float(p) || p == MLX_COMPLEX64; break;
          case BINARY_LEFT_SHIFT:
          case BINARY_RIGHT_SHIFT:
            if (p == MLX_BOOL) want = MLX_UINT8;
            fails = is_float(p) || p == MLX_COMPLEX64;
            break;
          default:
            if (op_is_compare(op)) want = MLX_BOOL;
            break;
        }
        mlx_array r = mlx_array_new();
        test_error_count = 0;
        int rc = ops[op].fn(&r, a, b, test_stream);
        CHECK_MSG(rc == (fails ? 1 : 0), "%s(%s, %s) returned %d", ops[op].name, dname(ta),
                  dname(tb), rc);
        if (!rc) {
          CHECK_MSG(mlx_array_dtype(r) == want, "%s(%s, %s) gave %s, want %s", ops[op].name,
                    dname(ta), dname(tb), dname(mlx_array_dtype(r)), dname(want));
          CHECK_MSG(mlx_array_eval(r) == 0, "%s(%s, %s) eval: %s", ops[op].name, dname(ta),
                    dname(tb), test_last_error);
        }
        mlx_array_free(r);
      }
      mlx_array_free(a);
      mlx_array_free(b);
    }
}

static void test_errors(void) {
  mlx_array a = mlx_array_new_data((const float[]){1, 2, 3, 4, 5, 6}, (const int[]){2, 3}, 2, MLX_FLOAT32);
  mlx_array b = mlx_array_new_data((const float[]){1, 2, 3, 4}, (const int[]){4}, 1, MLX_FLOAT32);
  mlx_array i = test_array_i32((const int32_t[]){1, 2, 3, 4}, (const int[]){4}, 1);
  mlx_array c = mlx_array_new_complex(1, 2);
  mlx_array none = mlx_array_new(), r = mlx_array_new();
  /* broadcasting, for every member (int32 operands for the bitwise ones,
   * whose dtype check would come first) */
  mlx_array ia = mlx_array_new();
  CHECK_OK(mlx_astype(&ia, a, MLX_INT32, test_stream));
  for (int op = 0; op < BINARY_OP_COUNT; op++) {
    bool integer_only = op >= BINARY_BITWISE_AND;
    EXPECT_ERROR(ops[op].fn(&r, integer_only ? ia : a, integer_only ? i : b, test_stream),
                 "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  }
  mlx_vector_array vr = mlx_vector_array_new();
  EXPECT_ERROR(mlx_divmod(&vr, a, b, test_stream),
               "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  mlx_array t = mlx_array_new_bool(true);
  EXPECT_ERROR(mlx_where(&r, a, b, t, test_stream),
               "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  EXPECT_ERROR(mlx_where(&r, b, t, a, test_stream),
               "[broadcast_shapes] Shapes (4) and (2,3) cannot be broadcast.");
  EXPECT_ERROR(mlx_clip(&r, a, b, none, test_stream),
               "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  mlx_array e = mlx_array_new_data((const float[]){0}, (const int[]){0}, 1, MLX_FLOAT32);
  EXPECT_ERROR(mlx_add(&r, e, b, test_stream),
               "[broadcast_shapes] Shapes (0) and (4) cannot be broadcast.");
  /* dtypes */
  EXPECT_ERROR(mlx_left_shift(&r, b, i, test_stream),
               "[left_shift] Only allowed on integer or boolean types but got types float32 and int32.");
  EXPECT_ERROR(mlx_right_shift(&r, b, i, test_stream),
               "[right_shift] Only allowed on integer or boolean types but got types float32 and float32.");
  EXPECT_ERROR(mlx_bitwise_and(&r, b, b, test_stream),
               "[bitwise_and] Only allowed on integer or boolean types but got types float32 and float32.");
  EXPECT_ERROR(mlx_bitwise_or(&r, i, b, test_stream),
               "[bitwise_or] Only allowed on integer or boolean types but got types int32 and float32.");
  EXPECT_ERROR(mlx_bitwise_xor(&r, c, t, test_stream),
               "[bitwise_xor] Only allowed on integer or boolean types but got types complex64 and bool.");
  /* the dtype check comes before the shape check */
  EXPECT_ERROR(mlx_bitwise_and(&r, a, i, test_stream),
               "[bitwise_and] Only allowed on integer or boolean types but got types float32 and int32.");
  EXPECT_ERROR(mlx_remainder(&r, c, b, test_stream), "[remainder] Complex type not supported.");
  EXPECT_ERROR(mlx_remainder(&r, a, c, test_stream), "[remainder] Complex type not supported.");
  EXPECT_ERROR(mlx_divmod(&vr, c, i, test_stream), "[divmod] Complex type not supported.");
  EXPECT_ERROR(mlx_arctan2(&r, b, c, test_stream), "[arctan2] Not supported for complex64.");
  EXPECT_ERROR(mlx_floor_divide(&r, c, b, test_stream), "[floor] Not supported for complex64.");
  /* floor_divide is floor(divide(a, b)): divide's shape check first */
  mlx_array cv = mlx_array_new();
  CHECK_OK(mlx_astype(&cv, a, MLX_COMPLEX64, test_stream));
  EXPECT_ERROR(mlx_floor_divide(&r, cv, b, test_stream),
               "[broadcast_shapes] Shapes (2,3) and (4) cannot be broadcast.");
  /* empty handles and NULL results */
  EXPECT_ERROR(mlx_add(&r, none, b, test_stream),
               "[add] The first array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_greater(&r, b, none, test_stream),
               "[greater] The second array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_add(NULL, b, b, test_stream), "[add] The result pointer is NULL.");
  EXPECT_ERROR(mlx_divmod(NULL, b, b, test_stream), "[divmod] The result pointer is NULL.");
  EXPECT_ERROR(mlx_where(&r, none, b, b, test_stream),
               "[where] The condition array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_where(NULL, t, b, b, test_stream), "[where] The result pointer is NULL.");
  EXPECT_ERROR(mlx_clip(&r, none, b, b, test_stream),
               "[clip] The input array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_clip(NULL, b, b, b, test_stream), "[clip] The result pointer is NULL.");
  mlx_stream bad = {NULL};
  EXPECT_ERROR(mlx_multiply(&r, b, b, bad), "[multiply] The stream handle is empty.");
  /* the failed calls left r as it was: still usable */
  CHECK(r.ctx == NULL);
  mlx_vector_array_free(vr);
  mlx_array_free(cv);
  mlx_array_free(e);
  mlx_array_free(t);
  mlx_array_free(ia);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(i);
  mlx_array_free(c);
  mlx_array_free(r);
}

/* A scalar (0-d) with an n-d array both ways, and 0-d with 0-d. */
static void test_scalars(void) {
  mlx_array s = mlx_array_new_int(3);
  float d[4] = {1, 2, 3, 4};
  mlx_array v = test_array_f32(d, (const int[]){2, 2}, 2), r = mlx_array_new();
  CHECK_OK(mlx_subtract(&r, s, v, test_stream));
  CHECK(test_shape_is(r, (const int[]){2, 2}, 2) && mlx_array_dtype(r) == MLX_FLOAT32);
  double* g = test_to_f64(r);
  CHECK(g && g[0] == 2 && g[3] == -1);
  free(g);
  CHECK_OK(mlx_power(&r, v, s, test_stream));
  g = test_to_f64(r);
  CHECK(g && g[1] == 8 && g[3] == 64);
  free(g);
  CHECK_OK(mlx_divide(&r, s, s, test_stream));
  CHECK(mlx_array_ndim(r) == 0 && mlx_array_dtype(r) == MLX_FLOAT32);
  float f = 0;
  CHECK_OK(mlx_array_item_float32(&f, r));
  CHECK(f == 1);
  mlx_array_free(s);
  mlx_array_free(v);
  mlx_array_free(r);
}

int main(void) {
  test_init();
  test_promotion_table();
  test_result_dtypes();
  test_every_op_every_dtype();
  test_large_arrays();
  test_errors();
  test_scalars();
  return test_finish("test_binary");
}
