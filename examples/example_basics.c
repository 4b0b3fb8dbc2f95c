/* example_basics.c - a tour of cmlx through the mlx-c API only:
 * lazy evaluation, MLX's printing, and errors that never end the program.
 * Built and run by ./run.sh. */
#include <stdio.h>

#include <mlx/c/mlx.h>

static void print(const char* label, mlx_array a) {
  mlx_string s = mlx_string_new();
  if (mlx_array_tostring(&s, a) == 0) printf("%s\n%s\n\n", label, mlx_string_data(s));
  mlx_string_free(s);
}

static int errors_seen = 0;
static void on_error(const char* msg, void* data) {
  (void)data;
  errors_seen++;
  printf("  (error handler) %s\n", msg);
}

int main(void) {
  mlx_string version = mlx_string_new();
  mlx_version(&version);
  printf("cmlx %s\n\n", mlx_string_data(version));
  mlx_string_free(version);

  mlx_stream s = mlx_default_cpu_stream_new();
  float data[6] = {1, 2, 3, 4, 5, 6};
  int shape[2] = {2, 3};
  mlx_array a = mlx_array_new_data(data, shape, 2, MLX_FLOAT32);
  mlx_array b = mlx_array_new_float(10.0f);

  /* 1. Ops only record work. */
  mlx_array sum = mlx_array_new();
  mlx_array t = mlx_array_new();
  mlx_array y = mlx_array_new();
  mlx_add(&sum, a, b, s);  /* a + 10, broadcast */
  mlx_transpose(&t, sum, s); /* a view */
  mlx_exp(&y, t, s);
  bool ready = true;
  _mlx_array_is_available(&ready, y);
  printf("1. after building exp(transpose(a + 10)): evaluated? %s\n", ready ? "yes" : "no");
  mlx_array_eval(y);
  _mlx_array_is_available(&ready, y);
  printf("   after mlx_array_eval: evaluated? %s\n\n", ready ? "yes" : "no");

  /* 2. Printing is MLX's. */
  print("2. a =", a);
  print("   transpose(a + 10) =", t);
  mlx_array r = mlx_array_new();
  mlx_arange(&r, 0, 100, 1, MLX_INT32, s);
  int sq[2] = {10, 10};
  mlx_reshape(&r, r, sq, 2, s);
  print("   arange(100).reshape(10, 10) =", r);

  /* 3. Bad input is reported, the program goes on. */
  printf("3. errors go to the handler (the default prints \"MLX error: ...\"):\n");
  mlx_set_error_handler(on_error, NULL, NULL);
  int bad[2] = {4, 2};
  mlx_array z = mlx_array_new();
  int rc = mlx_reshape(&z, a, bad, 2, s);
  printf("  mlx_reshape returned %d\n", rc);
  float v[4] = {1, 2, 3, 4};
  int four = 4;
  mlx_array c = mlx_array_new_data(v, &four, 1, MLX_FLOAT32);
  rc = mlx_add(&z, a, c, s);
  printf("  mlx_add returned %d\n", rc);
  mlx_set_error_handler(NULL, NULL, NULL);
  printf("  default handler:\n");
  fflush(stdout);
  rc = mlx_left_shift(&z, a, c, s);
  fflush(stderr);
  printf("  mlx_left_shift returned %d; the program is still running.\n", rc);

  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
  mlx_array_free(sum);
  mlx_array_free(t);
  mlx_array_free(y);
  mlx_array_free(r);
  mlx_array_free(z);
  mlx_stream_free(s);
  return 0;
}
