/* harness.c - see harness.h. */
#include <stdlib.h>

#include "harness.h"

int test_failures;
int test_checks;
char test_last_error[2048];
int test_error_count;
mlx_stream test_stream;

static void capture(const char* msg, void* data) {
  (void)data;
  snprintf(test_last_error, sizeof test_last_error, "%s", msg);
  test_error_count++;
}

void test_init(void) {
  mlx_set_error_handler(capture, NULL, NULL);
  test_stream = mlx_default_cpu_stream_new();
}

int test_finish(const char* name) {
  mlx_stream_free(test_stream);
  printf("%s: %d checks, %d failures\n", name, test_checks, test_failures);
  return test_failures ? 1 : 0;
}

mlx_array test_array_f32(const float* data, const int* shape, int ndim) {
  return mlx_array_new_data(data, shape, ndim, MLX_FLOAT32);
}

mlx_array test_array_i32(const int32_t* data, const int* shape, int ndim) {
  return mlx_array_new_data(data, shape, ndim, MLX_INT32);
}

double* test_to_f64(mlx_array a) {
  mlx_array c = mlx_array_new();
  mlx_array f = mlx_array_new();
  if (mlx_astype(&f, a, MLX_FLOAT64, test_stream) ||
      mlx_contiguous(&c, f, false, test_stream) || mlx_array_eval(c)) {
    mlx_array_free(f);
    mlx_array_free(c);
    return NULL;
  }
  size_t n = mlx_array_size(c);
  double* out = malloc((n ? n : 1) * sizeof *out);
  const double* p = mlx_array_data_float64(c);
  if (p && n) memcpy(out, p, n * sizeof *out);
  mlx_array_free(f);
  mlx_array_free(c);
  return out;
}

char* test_tostring(mlx_array a) {
  mlx_string s = mlx_string_new();
  if (mlx_array_tostring(&s, a)) {
    mlx_string_free(s);
    return strdup("<tostring failed>");
  }
  char* out = strdup(mlx_string_data(s));
  mlx_string_free(s);
  return out;
}

bool test_shape_is(mlx_array a, const int* shape, int ndim) {
  if ((int)mlx_array_ndim(a) != ndim) return false;
  const int* sh = mlx_array_shape(a);
  for (int i = 0; i < ndim; i++)
    if (sh[i] != shape[i]) return false;
  return true;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

double test_rand(double lo, double hi) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

int64_t test_ulp_f32(float a, float b) {
  if (isnan(a) && isnan(b)) return 0;
  if (a == b) return 0;
  int32_t ia, ib;
  memcpy(&ia, &a, 4);
  memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  int64_t d = (int64_t)ia - (int64_t)ib;
  return d < 0 ? -d : d;
}

void test_write_bytes(const char* path, const void* data, size_t n) {
  FILE* f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  if (n) CHECK(fwrite(data, 1, n, f) == n);
  fclose(f);
}

unsigned char* test_read_bytes(const char* path, size_t* n) {
  *n = 0;
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* p = malloc(len > 0 ? (size_t)len : 1);
  if (!p) {
    fclose(f);
    return NULL;
  }
  *n = fread(p, 1, len > 0 ? (size_t)len : 0, f);
  fclose(f);
  return p;
}
