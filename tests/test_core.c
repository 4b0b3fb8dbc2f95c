/* test_core.c - the array object through the public API: construction,
 * metadata, evaluation, item/data access, managed memory, lazy graphs,
 * freeing, errors and streams/devices. */
#include <stdlib.h>

#include "core/alloc.h"
#include "core/array.h"
#include "harness.h"

static int dtor_calls = 0;
static void count_dtor(void* p) {
  (void)p;
  dtor_calls++;
}

static void test_scalars(void) {
  mlx_array a = mlx_array_new_int(7);
  CHECK(mlx_array_ndim(a) == 0);
  CHECK(mlx_array_size(a) == 1);
  CHECK(mlx_array_dtype(a) == MLX_INT32);
  int32_t v = 0;
  CHECK_OK(mlx_array_item_int32(&v, a));
  CHECK(v == 7);
  double d = 0;
  CHECK_OK(mlx_array_item_float64(&d, a));
  CHECK(d == 7.0);
  CHECK_OK(mlx_array_set_float(&a, 2.5f));
  CHECK(mlx_array_dtype(a) == MLX_FLOAT32);
  float f = 0;
  CHECK_OK(mlx_array_item_float32(&f, a));
  CHECK(f == 2.5f);
  CHECK_OK(mlx_array_set_bool(&a, true));
  bool b = false;
  CHECK_OK(mlx_array_item_bool(&b, a));
  CHECK(b && mlx_array_dtype(a) == MLX_BOOL);
  CHECK_OK(mlx_array_set_double(&a, -1.25));
  CHECK(mlx_array_dtype(a) == MLX_FLOAT64 && mlx_array_itemsize(a) == 8);
  CHECK_OK(mlx_array_set_complex(&a, 1.0f, -2.0f));
  mlx_complex64_t c = 0;
  CHECK_OK(mlx_array_item_complex64(&c, a));
  CHECK(crealf(c) == 1.0f && cimagf(c) == -2.0f);
  CHECK(mlx_array_dtype(a) == MLX_COMPLEX64);
  CHECK_OK(mlx_array_set_int(&a, -3));
  int64_t i64 = 0;
  CHECK_OK(mlx_array_item_int64(&i64, a));
  CHECK(i64 == -3);
  mlx_array_free(a);
  a = mlx_array_new_float64(0.5);
  CHECK(mlx_array_dtype(a) == MLX_FLOAT64);
  mlx_array_free(a);
}

static void test_data_roundtrip(void) {
  for (int t = 0; t <= MLX_COMPLEX64; t++) {
    size_t isz = mlx_dtype_size((mlx_dtype)t);
    unsigned char bytes[6 * 8];
    for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)(i * 37 + 11);
    if (t == MLX_BOOL)
      for (int i = 0; i < 6; i++) bytes[i] = (unsigned char)(i & 1);
    int shape[2] = {2, 3};
    mlx_array a = mlx_array_new_data(bytes, shape, 2, (mlx_dtype)t);
    CHECK(mlx_array_itemsize(a) == isz);
    CHECK(mlx_array_nbytes(a) == 6 * isz);
    CHECK(mlx_array_dim(a, 1) == 3 && mlx_array_dim(a, -2) == 2);
    const uint8_t* p = mlx_array_data_uint8(a);
    CHECK(p && memcmp(p, bytes, 6 * isz) == 0);
    const size_t* st = mlx_array_strides(a);
    CHECK(st && st[0] == 3 && st[1] == 1);
    bool rc = false;
    CHECK_OK(_mlx_array_is_row_contiguous(&rc, a));
    CHECK(rc);
    mlx_array_free(a);
  }
  CHECK(mlx_dtype_size(MLX_FLOAT16) == 2 && mlx_dtype_size(MLX_COMPLEX64) == 8);
  CHECK(mlx_dtype_size((mlx_dtype)99) == 0);
}

static void test_managed(void) {
  float* buf = malloc(4 * sizeof *buf);
  for (int i = 0; i < 4; i++) buf[i] = (float)i;
  int shape[1] = {4};
  dtor_calls = 0;
  mlx_array a = mlx_array_new_data_managed(buf, shape, 1, MLX_FLOAT32, count_dtor);
  /* no copy: the data pointer is the user's */
  CHECK(mlx_array_data_float32(a) == buf);
  mlx_array b = mlx_array_new();
  CHECK_OK(mlx_array_set(&b, a));
  mlx_array_free(a);
  CHECK(dtor_calls == 0); /* b still refers to it */
  mlx_array_free(b);
  CHECK(dtor_calls == 1);
  free(buf);

  /* the payload form passes the payload to the destructor */
  static int payload_seen;
  payload_seen = 0;
  float local[2] = {1, 2};
  int two = 2;
  mlx_array c = mlx_array_new_data_managed_payload(local, &two, 1, MLX_FLOAT32,
                                                   &payload_seen, count_dtor);
  dtor_calls = 0;
  mlx_array_free(c);
  CHECK(dtor_calls == 1);
}

static void test_errors(void) {
  mlx_array empty = mlx_array_new();
  int32_t v;
  EXPECT_ERROR(mlx_array_item_int32(&v, empty),
               "[item] The array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_array_eval(empty),
               "[array_eval] The array is empty (an mlx_array_new() handle).");
  float data[6] = {0};
  int shape[2] = {2, 3};
  mlx_array a = mlx_array_new_data(data, shape, 2, MLX_FLOAT32);
  EXPECT_ERROR(mlx_array_item_int32(&v, a), "item can only be called on arrays of size 1.");
  test_error_count = 0;
  CHECK(mlx_array_dim(a, 2) == 0 && test_error_count == 1);
  CHECK(strcmp(test_last_error, "[array_dim] Axis 2 is out of bounds for array with 2 dimensions.") == 0);
  int neg[2] = {2, -1};
  test_error_count = 0;
  mlx_array bad = mlx_array_new_data(data, neg, 2, MLX_FLOAT32);
  CHECK(bad.ctx == NULL && test_error_count == 1);
  CHECK(strcmp(test_last_error, "[array] Negative dimensions not allowed.") == 0);
  test_error_count = 0;
  bad = mlx_array_new_data(NULL, shape, 2, MLX_FLOAT32);
  CHECK(bad.ctx == NULL && test_error_count == 1);
  bad = mlx_array_new_data(data, shape, 2, (mlx_dtype)42);
  CHECK(bad.ctx == NULL);
  CHECK(strcmp(test_last_error, "[array] Invalid dtype 42.") == 0);
  mlx_array r = mlx_array_new();
  int to[2] = {4, 2};
  EXPECT_ERROR(mlx_reshape(&r, a, to, 2, test_stream),
               "[reshape] Cannot reshape array of size 6 into shape (4,2).");
  int two_infer[2] = {-1, -1};
  EXPECT_ERROR(mlx_reshape(&r, a, two_infer, 2, test_stream),
               "[reshape] Reshape can only infer one dimension.");
  EXPECT_ERROR(mlx_reshape(&r, empty, to, 2, test_stream),
               "[reshape] The input array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_reshape(NULL, a, to, 2, test_stream),
               "[reshape] The result pointer is NULL.");
  mlx_stream nostream = mlx_stream_new();
  EXPECT_ERROR(mlx_reshape(&r, a, to, 2, nostream), "[reshape] The stream handle is empty.");
  int bsh[2] = {3, 3};
  EXPECT_ERROR(mlx_broadcast_to(&r, a, bsh, 2, test_stream),
               "[broadcast_shapes] Shapes (2,3) and (3,3) cannot be broadcast.");
  EXPECT_ERROR(mlx_view(&r, a, MLX_INT64, test_stream),
               "[view] When viewing as a larger dtype, the size in bytes of the last axis must be a multiple of the requested type size.");
  CHECK(r.ctx == NULL); /* failures leave the result untouched */
  mlx_array_free(a);
}

static void test_lazy_and_views(void) {
  float data[6] = {1, 2, 3, 4, 5, 6};
  int shape[2] = {2, 3};
  mlx_array a = mlx_array_new_data(data, shape, 2, MLX_FLOAT32);
  mlx_array r = mlx_array_new();
  int to[2] = {3, 2};
  CHECK_OK(mlx_reshape(&r, a, to, 2, test_stream));
  bool avail = true;
  CHECK_OK(_mlx_array_is_available(&avail, r));
  CHECK(!avail);
  CHECK(test_shape_is(r, to, 2));
  CHECK_OK(mlx_array_eval(r));
  CHECK_OK(_mlx_array_is_available(&avail, r));
  CHECK(avail);
  /* a reshape of contiguous data shares the buffer */
  CHECK(mlx_array_data_float32(r) == mlx_array_data_float32(a));
  /* broadcast: stride 0, no copy */
  int bs[3] = {4, 2, 3};
  mlx_array b = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&b, a, bs, 3, test_stream));
  const size_t* st = mlx_array_strides(b);
  CHECK(st && st[0] == 0 && st[1] == 3 && st[2] == 1);
  CHECK(mlx_array_data_float32(b) == mlx_array_data_float32(a));
  bool rc = true;
  CHECK_OK(_mlx_array_is_row_contiguous(&rc, b));
  CHECK(!rc);
  /* a contiguous copy of the broadcast has the repeated values */
  mlx_array c = mlx_array_new();
  CHECK_OK(mlx_contiguous(&c, b, false, test_stream));
  const float* cp = mlx_array_data_float32(c);
  CHECK(cp && cp[0] == 1 && cp[5] == 6 && cp[6] == 1 && cp[23] == 6);
  /* astype converts */
  mlx_array i = mlx_array_new();
  CHECK_OK(mlx_astype(&i, r, MLX_INT32, test_stream));
  const int32_t* ip = mlx_array_data_int32(i);
  CHECK(ip && ip[0] == 1 && ip[5] == 6 && mlx_array_dtype(i) == MLX_INT32);
  /* view reinterprets bytes */
  mlx_array v = mlx_array_new();
  CHECK_OK(mlx_view(&v, a, MLX_UINT32, test_stream));
  const uint32_t* vp = mlx_array_data_uint32(v);
  CHECK(vp && vp[0] == 0x3f800000u);
  mlx_array v8 = mlx_array_new();
  CHECK_OK(mlx_view(&v8, a, MLX_UINT8, test_stream));
  CHECK(mlx_array_dim(v8, 1) == 12);
  mlx_array_free(v8);
  mlx_array_free(v);
  mlx_array_free(i);
  mlx_array_free(c);
  mlx_array_free(b);
  mlx_array_free(r);
  mlx_array_free(a);
}

/* Freeing a pending chain longer than any C stack must not recurse. */
static void test_long_chain(void) {
  float x = 1;
  mlx_array a = mlx_array_new_data(&x, NULL, 0, MLX_FLOAT32);
  for (int i = 0; i < 200000; i++) {
    mlx_array next = mlx_array_new();
    CHECK_OK(mlx_astype(&next, a, (i & 1) ? MLX_FLOAT32 : MLX_FLOAT64, test_stream));
    mlx_array_free(a);
    a = next;
  }
  mlx_array_free(a); /* never evaluated: the whole chain is released */
  a = mlx_array_new_data(&x, NULL, 0, MLX_FLOAT32);
  for (int i = 0; i < 200000; i++) {
    mlx_array next = mlx_array_new();
    mlx_copy(&next, a, test_stream);
    mlx_array_free(a);
    a = next;
  }
  float out = 0;
  CHECK_OK(mlx_array_item_float32(&out, a)); /* evaluating it does not recurse either */
  CHECK(out == 1);
  mlx_array_free(a);
}

/* mlx_eval over a vector; repeated eval is a no-op. */
static void test_eval_vector(void) {
  float data[3] = {1, 2, 3};
  int n = 3;
  mlx_array a = mlx_array_new_data(data, &n, 1, MLX_FLOAT32);
  mlx_array b = mlx_array_new(), c = mlx_array_new();
  CHECK_OK(mlx_astype(&b, a, MLX_INT64, test_stream));
  CHECK_OK(mlx_copy(&c, b, test_stream));
  mlx_vector_array v = mlx_vector_array_new();
  mlx_vector_array_append_value(v, b);
  mlx_vector_array_append_value(v, c);
  CHECK_OK(mlx_eval(v));
  CHECK_OK(mlx_async_eval(v));
  bool avail = false;
  _mlx_array_is_available(&avail, c);
  CHECK(avail);
  CHECK(mlx_array_data_int64(c)[2] == 3);
  mlx_vector_array_free(v);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
  mlx_vector_array none = {NULL};
  EXPECT_ERROR(mlx_eval(none), "[eval] The vector handle is empty.");
  mlx_vector_array empty_vec = mlx_vector_array_new();
  CHECK_OK(mlx_eval(empty_vec));
  mlx_vector_array_free(empty_vec);
}

static void test_streams(void) {
  int count = -1;
  CHECK_OK(mlx_device_count(&count, MLX_GPU));
  CHECK(count == 0);
  CHECK_OK(mlx_device_count(&count, MLX_CPU));
  CHECK(count == 1);
  test_error_count = 0;
  mlx_stream g = mlx_default_gpu_stream_new();
  CHECK(g.ctx == NULL && test_error_count == 1);
  CHECK(strcmp(test_last_error,
               "[default_gpu_stream] The GPU is not available: this build of cmlx has no CUDA backend.") == 0);
  mlx_device gd = mlx_device_new_type(MLX_GPU, 0);
  bool avail = true;
  CHECK_OK(mlx_device_is_available(&avail, gd));
  CHECK(!avail);
  EXPECT_ERROR(mlx_set_default_device(gd), "[set_default_device] Device gpu 0 is not available.");
  test_error_count = 0;
  mlx_stream gs = mlx_stream_new_device(gd);
  CHECK(gs.ctx == NULL && test_error_count == 1);
  mlx_device_free(gd);

  mlx_device d = mlx_device_new();
  mlx_string str = mlx_string_new();
  CHECK_OK(mlx_device_tostring(&str, d));
  CHECK(strcmp(mlx_string_data(str), "Device(cpu, 0)") == 0);
  mlx_stream s = mlx_stream_new_device(d);
  CHECK(s.ctx != NULL);
  CHECK(!mlx_stream_equal(s, test_stream));
  mlx_stream def = mlx_stream_new();
  CHECK_OK(mlx_get_default_stream(&def, d));
  CHECK(mlx_stream_equal(def, test_stream));
  CHECK_OK(mlx_stream_tostring(&str, def));
  CHECK(strcmp(mlx_string_data(str), "Stream(Device(cpu, 0), 0)") == 0);
  mlx_device back = mlx_device_new();
  CHECK_OK(mlx_stream_get_device(&back, s));
  CHECK(mlx_device_equal(back, d));
  mlx_device_type type = MLX_GPU;
  CHECK_OK(mlx_device_get_type(&type, back));
  CHECK(type == MLX_CPU);
  CHECK_OK(mlx_synchronize(s));
  mlx_string_free(str);
  mlx_device_free(back);
  mlx_device_free(d);
  mlx_stream_free(s);
  mlx_stream_free(def);
  mlx_string v = mlx_string_new();
  CHECK_OK(mlx_version(&v));
  CHECK(strlen(mlx_string_data(v)) >= 5);
  mlx_string_free(v);
}

/* Build, evaluate and free a small op many times: memory stays flat once
 * the allocator cache has warmed up. */
static void test_memory_flat(void) {
  float data[256];
  for (int i = 0; i < 256; i++) data[i] = (float)i;
  int n = 256;
  size_t cache_after_warmup = 0;
  for (int i = 0; i < 100000; i++) {
    mlx_array a = mlx_array_new_data(data, &n, 1, MLX_FLOAT32);
    mlx_array b = mlx_array_new();
    mlx_astype(&b, a, MLX_FLOAT64, test_stream);
    mlx_array_eval(b);
    mlx_array_free(a);
    mlx_array_free(b);
    if (i == 1000) cache_after_warmup = alloc_cache_bytes();
  }
  CHECK(alloc_cache_bytes() == cache_after_warmup);
}

/* Found by the npy fuzzer: an empty array whose other dims multiply past
 * int64 must not overflow while its strides and flags are computed. */
static void test_empty_with_huge_dims(void) {
  int shape[5] = {0, 2147483647, 483, 2147483647, 483};
  mlx_array a = mlx_array_new_data(NULL, shape, 5, MLX_INT8);
  CHECK(a.ctx != NULL && mlx_array_size(a) == 0);
  CHECK(mlx_array_strides(a) != NULL);
  bool rc = false;
  CHECK_OK(_mlx_array_is_row_contiguous(&rc, a));
  CHECK(rc);
  mlx_array t = mlx_array_new();
  CHECK_OK(mlx_transpose(&t, a, test_stream));
  CHECK_OK(mlx_array_eval(t));
  mlx_array_free(t);
  mlx_array_free(a);
}

int main(void) {
  test_init();
  test_scalars();
  test_data_roundtrip();
  test_managed();
  test_errors();
  test_lazy_and_views();
  test_long_chain();
  test_eval_vector();
  test_streams();
  test_memory_flat();
  test_empty_with_huge_dims();
  return test_finish("core");
}
