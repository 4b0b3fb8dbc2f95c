/* harness.h - the small test framework every tests/test_*.c uses.
 *
 * CHECK(cond) records a failure and goes on; the program's exit status is
 * the number of failures (0 = pass). An error handler installed by
 * test_init() captures messages so tests can assert on them:
 *   EXPECT_ERROR(mlx_reshape(&r, a, shape, 2, s), "[reshape] Cannot ...");
 * checks that the call returns 1 and reported exactly that message. */
#ifndef CMLX_TEST_HARNESS_H
#define CMLX_TEST_HARNESS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mlx/c/mlx.h"

extern int test_failures;
extern int test_checks;
extern char test_last_error[2048];
extern int test_error_count;

void test_init(void);
int test_finish(const char* name);
/* A default CPU stream, created by test_init. */
extern mlx_stream test_stream;

#define CHECK(cond)                                                      \
  do {                                                                   \
    test_checks++;                                                       \
    if (!(cond)) {                                                       \
      test_failures++;                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
              #cond);                                                    \
    }                                                                    \
  } while (0)

#define CHECK_MSG(cond, ...)                                             \
  do {                                                                   \
    test_checks++;                                                       \
    if (!(cond)) {                                                       \
      test_failures++;                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__,   \
              #cond);                                                    \
      fprintf(stderr, __VA_ARGS__);                                      \
      fprintf(stderr, "\n");                                             \
    }                                                                    \
  } while (0)

#define CHECK_OK(call)                                                   \
  do {                                                                   \
    test_error_count = 0;                                                \
    int rc_ = (call);                                                    \
    CHECK_MSG(rc_ == 0, "%s returned %d (%s)", #call, rc_,               \
              test_last_error);                                          \
  } while (0)

#define EXPECT_ERROR(call, msg)                                          \
  do {                                                                   \
    test_error_count = 0;                                                \
    test_last_error[0] = 0;                                              \
    int rc_ = (call);                                                    \
    CHECK_MSG(rc_ == 1, "%s returned %d, expected 1", #call, rc_);       \
    CHECK_MSG(test_error_count == 1 && strcmp(test_last_error, msg) == 0, \
              "%s reported \"%s\" (%d reports), expected \"%s\"", #call, \
              test_last_error, test_error_count, msg);                   \
  } while (0)

/* Same, but only requires the message to start with prefix. */
#define EXPECT_ERROR_PREFIX(call, prefix)                                \
  do {                                                                   \
    test_error_count = 0;                                                \
    test_last_error[0] = 0;                                              \
    int rc_ = (call);                                                    \
    CHECK_MSG(rc_ == 1, "%s returned %d, expected 1", #call, rc_);       \
    CHECK_MSG(strncmp(test_last_error, prefix, strlen(prefix)) == 0,     \
              "%s reported \"%s\", expected prefix \"%s\"", #call,       \
              test_last_error, prefix);                                  \
  } while (0)

/* Helpers for building inputs and reading results. */
mlx_array test_array_f32(const float* data, const int* shape, int ndim);
mlx_array test_array_i32(const int32_t* data, const int* shape, int ndim);
/* Evaluates a and returns a malloc'd row-major float64 copy of it. */
double* test_to_f64(mlx_array a);
/* MLX's printed form of a (caller frees). */
char* test_tostring(mlx_array a);
/* Shape equality. */
bool test_shape_is(mlx_array a, const int* shape, int ndim);
/* A deterministic uniform random float in [lo, hi) (xorshift). */
double test_rand(double lo, double hi);
/* Writes n bytes to path (a CHECK fails if it cannot). */
void test_write_bytes(const char* path, const void* data, size_t n);
/* The whole file (malloc'd, caller frees), its size in *n; NULL if absent. */
unsigned char* test_read_bytes(const char* path, size_t* n);
/* float32 ulp distance. */
int64_t test_ulp_f32(float a, float b);

#endif
