/* test_print.c - mlx_array_tostring prints exactly what MLX 0.32.2 prints.
 *
 * The expected strings of the first group are the oracle's (spec/
 * mlx-core-reference.md, "Printing"); the second group covers rules read off
 * MLX's print code (truncation edges, negative imaginary parts, strided
 * views) that the oracle list does not exercise; the last group checks
 * handle errors. */
#include <stdlib.h>

#include "harness.h"

/* Checks the printed form of a, then frees a. */
static void expect_print_line(mlx_array a, const char* expected,
                              const char* what, int line) {
  char* got = test_tostring(a);
  test_checks++;
  if (strcmp(got, expected) != 0) {
    test_failures++;
    fprintf(stderr, "%s:%d: %s printed\n%s\nexpected\n%s\n", __FILE__, line,
            what, got, expected);
  }
  free(got);
  mlx_array_free(a);
}
#define expect_print(a, expected, what) \
  expect_print_line(a, expected, what, __LINE__)

static mlx_array new_data(const void* data, const int* shape, int ndim,
                          mlx_dtype dtype) {
  return mlx_array_new_data(data, shape, ndim, dtype);
}

/* mlx_arange(start, stop, 1, dtype) reshaped to shape (ndim 0: kept 1-D). */
static mlx_array arange_shaped(int stop, mlx_dtype dtype, const int* shape,
                               int ndim) {
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_arange(&r, 0, stop, 1, dtype, test_stream));
  if (ndim == 0) return r;
  mlx_array s = mlx_array_new();
  CHECK_OK(mlx_reshape(&s, r, shape, (size_t)ndim, test_stream));
  mlx_array_free(r);
  return s;
}

/* float16 / bfloat16 bit patterns of the oracle's inputs, written out by hand
 * so the test does not rely on the library's own conversions. */
static const uint16_t F16_ONE = 0x3c00;      /* 1 */
static const uint16_t F16_THIRD = 0x3554;    /* 0.333008 (float16(0.333)) */
static const uint16_t F16_MIN = 0xfbff;      /* -65504 */
static const uint16_t BF16_ONE = 0x3f80;     /* 1 */
static const uint16_t BF16_THIRD = 0x3eaa;   /* 0.332031 (1/3 truncated) */
static const uint16_t BF16_BIG_NEG = 0xff62; /* -3.00406e+38 */

/* ---- the oracle's cases ---- */

static void test_oracle_float32_2x3(void) {
  float d[] = {1, 2, 3, 4, 5, 6};
  int sh[] = {2, 3};
  expect_print(new_data(d, sh, 2, MLX_FLOAT32),
               "array([[1, 2, 3],\n"
               "       [4, 5, 6]], dtype=float32)",
               "float32 [2,3]");
}

static void test_oracle_float32_fractional(void) {
  float d[] = {1.5f, -2.25f, 3, 0.1f, 1e-5f, 123456};
  int sh[] = {2, 3};
  expect_print(new_data(d, sh, 2, MLX_FLOAT32),
               "array([[1.5, -2.25, 3],\n"
               "       [0.1, 1e-05, 123456]], dtype=float32)",
               "float32 fractional");
}

static void test_oracle_int32_2x3(void) {
  int32_t d[] = {1, -2, 3, 40, 5, 600};
  int sh[] = {2, 3};
  expect_print(new_data(d, sh, 2, MLX_INT32),
               "array([[1, -2, 3],\n"
               "       [40, 5, 600]], dtype=int32)",
               "int32 [2,3]");
}

static void test_oracle_bool(void) {
  bool d[] = {true, false, true, true};
  int sh[] = {4};
  expect_print(new_data(d, sh, 1, MLX_BOOL),
               "array([true, false, true, true], dtype=bool)", "bool [4]");
}

static void test_oracle_scalars(void) {
  expect_print(mlx_array_new_int(7), "array(7, dtype=int32)", "0-d int32");
  expect_print(mlx_array_new_float(2.5f), "array(2.5, dtype=float32)",
               "0-d float32");
}

static void test_oracle_empty(void) {
  int sh0[] = {0};
  expect_print(new_data(NULL, sh0, 1, MLX_FLOAT32),
               "array([], dtype=float32)", "empty [0]");
  int sh20[] = {2, 0};
  expect_print(new_data(NULL, sh20, 2, MLX_FLOAT32),
               "array([[],\n"
               "       []], dtype=float32)",
               "empty [2,0]");
}

static void test_oracle_half_types(void) {
  int sh[] = {3};
  uint16_t h[] = {F16_ONE, F16_THIRD, F16_MIN};
  expect_print(new_data(h, sh, 1, MLX_FLOAT16),
               "array([1, 0.333008, -65504], dtype=float16)", "float16 [3]");
  uint16_t b[] = {BF16_ONE, BF16_THIRD, BF16_BIG_NEG};
  expect_print(new_data(b, sh, 1, MLX_BFLOAT16),
               "array([1, 0.332031, -3.00406e+38], dtype=bfloat16)",
               "bfloat16 [3]");
}

static void test_oracle_integer_types(void) {
  int sh3[] = {3}, sh2[] = {2};
  uint8_t u8[] = {1, 2, 255};
  expect_print(new_data(u8, sh3, 1, MLX_UINT8),
               "array([1, 2, 255], dtype=uint8)", "uint8 [3]");
  int64_t i64[] = {1, -2};
  expect_print(new_data(i64, sh2, 1, MLX_INT64),
               "array([1, -2], dtype=int64)", "int64 [2]");
  uint32_t u32[] = {7, 4000000000u};
  expect_print(new_data(u32, sh2, 1, MLX_UINT32),
               "array([7, 4000000000], dtype=uint32)", "uint32 [2]");
}

static void test_oracle_float32_special(void) {
  float d[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f};
  int sh[] = {5};
  expect_print(new_data(d, sh, 1, MLX_FLOAT32),
               "array([nan, inf, -inf, 0, -0], dtype=float32)",
               "float32 special");
  float e[] = {1e10f, 1e-10f, 3};
  int sh3[] = {3};
  expect_print(new_data(e, sh3, 1, MLX_FLOAT32),
               "array([1e+10, 1e-10, 3], dtype=float32)",
               "float32 large/small");
}

static void test_oracle_arange_10_truncates(void) {
  expect_print(arange_shaped(10, MLX_INT32, NULL, 0),
               "array([0, 1, 2, ..., 7, 8, 9], dtype=int32)", "arange(10)");
}

static void test_oracle_arange_20_as_4x5(void) {
  int sh[] = {4, 5};
  expect_print(arange_shaped(20, MLX_FLOAT32, sh, 2),
               "array([[0, 1, 2, 3, 4],\n"
               "       [5, 6, 7, 8, 9],\n"
               "       [10, 11, 12, 13, 14],\n"
               "       [15, 16, 17, 18, 19]], dtype=float32)",
               "arange(20) [4,5]");
}

static void test_oracle_arange_100_as_10x10_truncates_rows(void) {
  int sh[] = {10, 10};
  expect_print(arange_shaped(100, MLX_INT32, sh, 2),
               "array([[0, 1, 2, ..., 7, 8, 9],\n"
               "       [10, 11, 12, ..., 17, 18, 19],\n"
               "       [20, 21, 22, ..., 27, 28, 29],\n"
               "       ...,\n"
               "       [70, 71, 72, ..., 77, 78, 79],\n"
               "       [80, 81, 82, ..., 87, 88, 89],\n"
               "       [90, 91, 92, ..., 97, 98, 99]], dtype=int32)",
               "arange(100) [10,10]");
}

static void test_oracle_arange_24_as_2x3x4(void) {
  int sh[] = {2, 3, 4};
  expect_print(arange_shaped(24, MLX_INT32, sh, 3),
               "array([[[0, 1, 2, 3],\n"
               "        [4, 5, 6, 7],\n"
               "        [8, 9, 10, 11]],\n"
               "       [[12, 13, 14, 15],\n"
               "        [16, 17, 18, 19],\n"
               "        [20, 21, 22, 23]]], dtype=int32)",
               "arange(24) [2,3,4]");
}

static void test_oracle_arange_1000_float32(void) {
  expect_print(arange_shaped(1000, MLX_FLOAT32, NULL, 0),
               "array([0, 1, 2, ..., 997, 998, 999], dtype=float32)",
               "arange(1000) float32");
}

static void test_oracle_complex_and_float64(void) {
  float c[] = {1, 2, -0.5f, 0};
  int sh[] = {2};
  expect_print(new_data(c, sh, 1, MLX_COMPLEX64),
               "array([1+2j, -0.5+0j], dtype=complex64)", "complex64 [2]");
  double d[] = {1, 2.5};
  expect_print(new_data(d, sh, 1, MLX_FLOAT64),
               "array([1, 2.5], dtype=float64)", "float64 [2]");
}

static void test_oracle_transpose_view(void) {
  float d[] = {1, 2, 3, 4, 5, 6};
  int sh[] = {2, 3};
  mlx_array a = new_data(d, sh, 2, MLX_FLOAT32);
  mlx_array t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, a, test_stream));
  mlx_array_free(a);
  expect_print(t,
               "array([[1, 4],\n"
               "       [2, 5],\n"
               "       [3, 6]], dtype=float32)",
               "transpose of [2,3]");
}

/* ---- rules read from MLX's print code ---- */

/* Truncation starts above 2 * 3 items: 6 print in full, 7 hide one. */
static void test_axis_of_six_prints_in_full_and_seven_truncates(void) {
  int32_t d[] = {0, 1, 2, 3, 4, 5, 6};
  int sh6[] = {6}, sh7[] = {7};
  expect_print(new_data(d, sh6, 1, MLX_INT32),
               "array([0, 1, 2, 3, 4, 5], dtype=int32)", "int32 [6]");
  expect_print(new_data(d, sh7, 1, MLX_INT32),
               "array([0, 1, 2, ..., 4, 5, 6], dtype=int32)", "int32 [7]");
}

/* Rows are indented by 7 + axis spaces; the "...," line of an inner axis
 * gets its axis's indentation too. */
static void test_truncated_middle_axis_of_3d(void) {
  int32_t d[2 * 8 * 2];
  for (int i = 0; i < 32; i++) d[i] = i;
  int sh[] = {2, 8, 2};
  expect_print(new_data(d, sh, 3, MLX_INT32),
               "array([[[0, 1],\n"
               "        [2, 3],\n"
               "        [4, 5],\n"
               "        ...,\n"
               "        [10, 11],\n"
               "        [12, 13],\n"
               "        [14, 15]],\n"
               "       [[16, 17],\n"
               "        [18, 19],\n"
               "        [20, 21],\n"
               "        ...,\n"
               "        [26, 27],\n"
               "        [28, 29],\n"
               "        [30, 31]]], dtype=int32)",
               "int32 [2,8,2]");
}

static void test_small_and_wide_integer_types(void) {
  int sh[] = {3};
  int8_t i8[] = {-128, 0, 127};
  expect_print(new_data(i8, sh, 1, MLX_INT8),
               "array([-128, 0, 127], dtype=int8)", "int8");
  int16_t i16[] = {-32768, 1, 32767};
  expect_print(new_data(i16, sh, 1, MLX_INT16),
               "array([-32768, 1, 32767], dtype=int16)", "int16");
  uint16_t u16[] = {0, 1, 65535};
  expect_print(new_data(u16, sh, 1, MLX_UINT16),
               "array([0, 1, 65535], dtype=uint16)", "uint16");
  uint64_t u64[] = {0, 1, UINT64_MAX};
  expect_print(new_data(u64, sh, 1, MLX_UINT64),
               "array([0, 1, 18446744073709551615], dtype=uint64)", "uint64");
  int64_t i64[] = {INT64_MIN, 0, INT64_MAX};
  expect_print(new_data(i64, sh, 1, MLX_INT64),
               "array([-9223372036854775808, 0, 9223372036854775807], "
               "dtype=int64)",
               "int64 extremes");
}

/* MLX prints "re-|im|j" for im < 0 and "re+imj" otherwise, so -0 gives
 * "+-0j" and NaN keeps its "+". */
static void test_complex_signs(void) {
  float c[] = {1, -2, 0, -0.0f, -1.5f, NAN, 3, 1e-7f};
  int sh[] = {4};
  expect_print(new_data(c, sh, 1, MLX_COMPLEX64),
               "array([1-2j, 0+-0j, -1.5+nanj, 3+1e-07j], dtype=complex64)",
               "complex signs");
  expect_print(mlx_array_new_complex(0.25f, -4),
               "array(0.25-4j, dtype=complex64)", "0-d complex");
}

static void test_float_rounding_to_six_digits(void) {
  double d[] = {1234567, 0.0001, 0.00001234567, 3.14159265358979, 100000,
                1e300};
  int sh[] = {6};
  expect_print(new_data(d, sh, 1, MLX_FLOAT64),
               "array([1.23457e+06, 0.0001, 1.23457e-05, 3.14159, 100000, "
               "1e+300], dtype=float64)",
               "float64 %g rounding");
}

static void test_zero_d_of_every_kind(void) {
  expect_print(mlx_array_new_bool(false), "array(false, dtype=bool)",
               "0-d bool");
  expect_print(mlx_array_new_float64(-0.0), "array(-0, dtype=float64)",
               "0-d float64");
  uint16_t h = F16_THIRD;
  expect_print(new_data(&h, NULL, 0, MLX_FLOAT16),
               "array(0.333008, dtype=float16)", "0-d float16");
}

static void test_empty_outer_and_middle_axes(void) {
  int sh03[] = {0, 3};
  expect_print(new_data(NULL, sh03, 2, MLX_INT32), "array([], dtype=int32)",
               "empty [0,3]");
  int sh203[] = {2, 0, 3};
  expect_print(new_data(NULL, sh203, 3, MLX_INT32),
               "array([[],\n"
               "       []], dtype=int32)",
               "empty [2,0,3]");
}

/* A broadcast view (stride 0) is read through its strides, not copied. */
static void test_broadcast_view(void) {
  float d[] = {1, 2};
  int sh[] = {2}, big[] = {3, 2};
  mlx_array a = new_data(d, sh, 1, MLX_FLOAT32);
  mlx_array b = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&b, a, big, 2, test_stream));
  mlx_array_free(a);
  expect_print(b,
               "array([[1, 2],\n"
               "       [1, 2],\n"
               "       [1, 2]], dtype=float32)",
               "broadcast [2] -> [3,2]");
}

/* Truncation on a transposed (column-major) view must skip by the view's
 * strides: rows of the transpose of arange(80).reshape(8, 10). */
static void test_truncated_transpose_view(void) {
  int sh[] = {8, 10};
  mlx_array a = arange_shaped(80, MLX_INT32, sh, 2);
  mlx_array t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, a, test_stream));
  mlx_array_free(a);
  expect_print(t,
               "array([[0, 10, 20, ..., 50, 60, 70],\n"
               "       [1, 11, 21, ..., 51, 61, 71],\n"
               "       [2, 12, 22, ..., 52, 62, 72],\n"
               "       ...,\n"
               "       [7, 17, 27, ..., 57, 67, 77],\n"
               "       [8, 18, 28, ..., 58, 68, 78],\n"
               "       [9, 19, 29, ..., 59, 69, 79]], dtype=int32)",
               "transpose of [8,10]");
}

/* ---- the result handle and errors ---- */

static void test_replaces_existing_string(void) {
  mlx_string s = mlx_string_new_data("old text");
  mlx_array a = mlx_array_new_int(3);
  CHECK_OK(mlx_array_tostring(&s, a));
  CHECK(strcmp(mlx_string_data(s), "array(3, dtype=int32)") == 0);
  /* and again into the same handle */
  CHECK_OK(mlx_array_tostring(&s, a));
  CHECK(strcmp(mlx_string_data(s), "array(3, dtype=int32)") == 0);
  mlx_string_free(s);
  mlx_array_free(a);
}

static void test_errors(void) {
  mlx_string s = mlx_string_new();
  EXPECT_ERROR(mlx_array_tostring(&s, mlx_array_new()),
               "[array_tostring] The array is empty (an mlx_array_new() "
               "handle).");
  CHECK(s.ctx == NULL);
  mlx_array a = mlx_array_new_int(1);
  EXPECT_ERROR(mlx_array_tostring(NULL, a),
               "[array_tostring] The result pointer is NULL.");
  mlx_array_free(a);
}

int main(void) {
  test_init();
  test_oracle_float32_2x3();
  test_oracle_float32_fractional();
  test_oracle_int32_2x3();
  test_oracle_bool();
  test_oracle_scalars();
  test_oracle_empty();
  test_oracle_half_types();
  test_oracle_integer_types();
  test_oracle_float32_special();
  test_oracle_arange_10_truncates();
  test_oracle_arange_20_as_4x5();
  test_oracle_arange_100_as_10x10_truncates_rows();
  test_oracle_arange_24_as_2x3x4();
  test_oracle_arange_1000_float32();
  test_oracle_complex_and_float64();
  test_oracle_transpose_view();

  test_axis_of_six_prints_in_full_and_seven_truncates();
  test_truncated_middle_axis_of_3d();
  test_small_and_wide_integer_types();
  test_complex_signs();
  test_float_rounding_to_six_digits();
  test_zero_d_of_every_kind();
  test_empty_outer_and_middle_axes();
  test_broadcast_view();
  test_truncated_transpose_view();

  test_replaces_existing_string();
  test_errors();
  return test_finish("print");
}
