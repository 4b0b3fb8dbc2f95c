/* random.c - mlx-c entry points for random numbers (mlx/c/random.h).
 *
 * Thin: check the result pointer, the required handles, the shape pair
 * and the stream, then call ops/random.c. Optional handles (key, loc,
 * scale) that are empty become NULL, which the front-ends read as MLX's
 * std::nullopt. */
#include "api/api.h"
#include "mlx/c/random.h"
#include "ops/random.h"

/* An optional array argument: NULL for an empty handle. */
static array* optional_array(mlx_array a) {
  return (array*)a.ctx;
}

/* The checks of a sampler: result, required inputs, shape, stream. */
static int begin_shaped(const void* res, const char* op, mlx_stream s, stream* st,
                        int n_inputs, const mlx_array* inputs, const int* shape,
                        size_t shape_num, int* ndim) {
  if (api_begin(res, op, s, st, n_inputs, inputs)) return 1;
  return api_count_arg(ndim, shape, shape_num, op, "shape");
}

int mlx_random_key(mlx_array* res, uint64_t seed) {
  API_CHECK_RES(res, "key");
  return api_finish(res, op_random_key(seed));
}

int mlx_random_seed(uint64_t seed) {
  random_seed(seed);
  return 0;
}

int mlx_random_split(mlx_array* res_0, mlx_array* res_1, const mlx_array key,
                     const mlx_stream s) {
  stream st;
  API_CHECK_RES(res_1, "split");
  if (api_begin(res_0, "split", s, &st, 1, &key)) return api_fail();
  array *a, *b;
  if (op_random_split(&a, &b, api_array(key), st)) return api_fail();
  api_set_result(res_0, a);
  return api_set_result(res_1, b);
}

int mlx_random_split_num(mlx_array* res, const mlx_array key, int num, const mlx_stream s) {
  stream st;
  if (api_begin(res, "split", s, &st, 1, &key)) return api_fail();
  return api_finish(res, op_random_split_num(api_array(key), num, st));
}

int mlx_random_bits(mlx_array* res, const int* shape, size_t shape_num, int width,
                    const mlx_array key, const mlx_stream s) {
  stream st;
  int ndim;
  if (begin_shaped(res, "bits", s, &st, 0, NULL, shape, shape_num, &ndim)) return api_fail();
  return api_finish(res, op_random_bits(shape, ndim, width, optional_array(key), st));
}

int mlx_random_uniform(mlx_array* res, const mlx_array low, const mlx_array high,
                       const int* shape, size_t shape_num, mlx_dtype dtype, const mlx_array key,
                       const mlx_stream s) {
  stream st;
  int ndim;
  mlx_array in[2] = {low, high};
  if (begin_shaped(res, "uniform", s, &st, 2, in, shape, shape_num, &ndim)) return api_fail();
  return api_finish(res, op_random_uniform(api_array(low), api_array(high), shape, ndim, dtype,
                                           optional_array(key), st));
}

int mlx_random_normal(mlx_array* res, const int* shape, size_t shape_num, mlx_dtype dtype,
                      float loc, float scale, const mlx_array key, const mlx_stream s) {
  stream st;
  int ndim;
  if (begin_shaped(res, "normal", s, &st, 0, NULL, shape, shape_num, &ndim)) return api_fail();
  return api_finish(res, op_random_normal_scalar(shape, ndim, dtype, loc, scale,
                                                 optional_array(key), st));
}

int mlx_random_normal_broadcast(mlx_array* res, const int* shape, size_t shape_num,
                                mlx_dtype dtype, const mlx_array loc, const mlx_array scale,
                                const mlx_array key, const mlx_stream s) {
  stream st;
  int ndim;
  if (begin_shaped(res, "normal", s, &st, 0, NULL, shape, shape_num, &ndim)) return api_fail();
  return api_finish(res, op_random_normal(shape, ndim, dtype, optional_array(loc),
                                          optional_array(scale), optional_array(key), st));
}

int mlx_random_randint(mlx_array* res, const mlx_array low, const mlx_array high,
                       const int* shape, size_t shape_num, mlx_dtype dtype, const mlx_array key,
                       const mlx_stream s) {
  stream st;
  int ndim;
  mlx_array in[2] = {low, high};
  if (begin_shaped(res, "randint", s, &st, 2, in, shape, shape_num, &ndim)) return api_fail();
  return api_finish(res, op_random_randint(api_array(low), api_array(high), shape, ndim, dtype,
                                           optional_array(key), st));
}

int mlx_random_bernoulli(mlx_array* res, const mlx_array p, const int* shape, size_t shape_num,
                         const mlx_array key, const mlx_stream s) {
  stream st;
  int ndim;
  if (begin_shaped(res, "bernoulli", s, &st, 1, &p, shape, shape_num, &ndim)) return api_fail();
  return api_finish(res,
                    op_random_bernoulli(api_array(p), shape, ndim, optional_array(key), st));
}

int mlx_random_truncated_normal(mlx_array* res, const mlx_array lower, const mlx_array upper,
                                const int* shape, size_t shape_num, mlx_dtype dtype,
                                const mlx_array key, const mlx_stream s) {
  stream st;
  int ndim;
  mlx_array in[2] = {lower, upper};
  if (begin_shaped(res, "truncated_normal", s, &st, 2, in, shape, shape_num, &ndim))
    return api_fail();
  return api_finish(res, op_random_truncated_normal(api_array(lower), api_array(upper), shape,
                                                    ndim, dtype, optional_array(key), st));
}

int mlx_random_gumbel(mlx_array* res, const int* shape, size_t shape_num, mlx_dtype dtype,
                      const mlx_array key, const mlx_stream s) {
  stream st;
  int ndim;
  if (begin_shaped(res, "gumbel", s, &st, 0, NULL, shape, shape_num, &ndim)) return api_fail();
  return api_finish(res, op_random_gumbel(shape, ndim, dtype, optional_array(key), st));
}

int mlx_random_laplace(mlx_array* res, const int* shape, size_t shape_num, mlx_dtype dtype,
                       float loc, float scale, const mlx_array key, const mlx_stream s) {
  stream st;
  int ndim;
  if (begin_shaped(res, "laplace", s, &st, 0, NULL, shape, shape_num, &ndim)) return api_fail();
  return api_finish(res,
                    op_random_laplace(shape, ndim, dtype, loc, scale, optional_array(key), st));
}

int mlx_random_categorical_shape(mlx_array* res, const mlx_array logits, int axis,
                                 const int* shape, size_t shape_num, const mlx_array key,
                                 const mlx_stream s) {
  stream st;
  int ndim;
  if (begin_shaped(res, "categorical", s, &st, 1, &logits, shape, shape_num, &ndim))
    return api_fail();
  return api_finish(res, op_random_categorical_shape(api_array(logits), axis, shape, ndim,
                                                     optional_array(key), st));
}

int mlx_random_categorical_num_samples(mlx_array* res, const mlx_array logits_, int axis,
                                       int num_samples, const mlx_array key,
                                       const mlx_stream s) {
  stream st;
  if (api_begin(res, "categorical", s, &st, 1, &logits_)) return api_fail();
  return api_finish(res, op_random_categorical_num_samples(api_array(logits_), axis, num_samples,
                                                           optional_array(key), st));
}

int mlx_random_categorical(mlx_array* res, const mlx_array logits, int axis,
                           const mlx_array key, const mlx_stream s) {
  stream st;
  if (api_begin(res, "categorical", s, &st, 1, &logits)) return api_fail();
  return api_finish(res,
                    op_random_categorical(api_array(logits), axis, optional_array(key), st));
}

int mlx_random_permutation(mlx_array* res, const mlx_array x, int axis, const mlx_array key,
                           const mlx_stream s) {
  stream st;
  if (api_begin(res, "permutation", s, &st, 1, &x)) return api_fail();
  return api_finish(res, op_random_permutation(api_array(x), axis, optional_array(key), st));
}

int mlx_random_permutation_arange(mlx_array* res, int x, const mlx_array key,
                                  const mlx_stream s) {
  stream st;
  if (api_begin(res, "permutation", s, &st, 0, NULL)) return api_fail();
  return api_finish(res, op_random_permutation_arange(x, optional_array(key), st));
}
