/* test_sort.c - sort, argsort, partition, argpartition and topk.
 *
 * What it proves:
 * - sort and argsort give MLX's stable order for every dtype (NaN after
 *   all numbers, NaNs and equal values such as 0 and -0 in input order,
 *   complex64 by real then imaginary part), compared byte for byte with a
 *   reference sorted here, on random shapes with size-0/size-1 axes,
 *   negative axes and transposed, sliced and broadcast inputs; indices
 *   are uint32;
 * - partition and argpartition put the kth element in place with nothing
 *   greater before it and nothing smaller after it, and keep the row's
 *   elements; and, on fixed cases recorded from libstdc++'s
 *   std::nth_element with MLX's comparators, they reproduce MLX's exact
 *   arrangement (so topk's order is MLX's too);
 * - topk returns the k largest as the last k of partition(-k); k equal to
 *   the axis size returns the input;
 * - the forms without an axis work on the flattened array (0-d included);
 * - every error path with MLX's exact text (partition's missing space
 *   included). */
#include <stdlib.h>

#include "reduce_util.h"

#define MAXD 5

/* ---- MLX's orders on decoded elements ---- */

typedef struct key {
  double re, im;
  bool nan;
} key;

static key key_of(const void* bytes, mlx_dtype t, size_t i) {
  key k;
  decode(bytes, t, i, &k.re, &k.im);
  k.nan = isnan(k.re) || isnan(k.im);
  return k;
}

/* x < y with NaN after every number. */
static bool key_less(key x, key y) {
  if (x.nan) return false;
  if (y.nan) return true;
  return x.re < y.re || (x.re == y.re && x.im < y.im);
}

typedef struct item {
  key k;
  uint32_t index;
} item;

/* Stable: equal keys keep their index order. */
static int item_cmp(const void* pa, const void* pb) {
  const item *a = pa, *b = pb;
  if (key_less(a->k, b->k)) return -1;
  if (key_less(b->k, a->k)) return 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

/* ---- rows of a row-major buffer along an axis ---- */

typedef struct rows {
  size_t count, len, stride; /* rows, row length, element stride along the axis */
  size_t inner;
} rows;

static rows rows_of(const int* shape, int nd, int ax) {
  rows r = {1, (size_t)shape[ax], 1, 1};
  for (int d = ax + 1; d < nd; d++) r.inner *= (size_t)shape[d];
  r.stride = r.inner;
  r.count = shape[ax] ? shape_size(shape, nd) / (size_t)shape[ax] : 0;
  return r;
}

/* Flat index of element j of row i. */
static size_t row_at(rows r, size_t i, size_t j) {
  return (i / r.inner) * r.inner * r.len + i % r.inner + j * r.stride;
}

/* Random values with repeats, and NaN, -0 and 0 for floats. */
static mlx_array sort_input(mlx_dtype t, const int* shape, int nd) {
  int base[MAXD];
  memcpy(base, shape, sizeof(int) * (size_t)nd);
  layout_kind kind = (layout_kind)rand_int(0, 3);
  mlx_array a = make_view(kind, t, shape, nd, -3, 3, -4, 4);
  if (!is_float(t) && t != MLX_COMPLEX64) return a;
  /* sprinkle specials through a contiguous copy */
  size_t n = shape_size(shape, nd);
  double *re, *im;
  read_values(a, &re, &im);
  for (size_t i = 0; i < n; i++) {
    int c = rand_int(0, 9);
    if (c == 0) re[i] = NAN;
    if (c == 1) re[i] = -0.0;
    if (c == 2) re[i] = 0.0;
    if (c == 3) re[i] = round_to(t, re[i] > 0 ? 1.5 : -1.5);
    if (t == MLX_COMPLEX64 && rand_int(0, 3) == 0) im[i] = re[i] == re[i] ? 1 : 0;
  }
  mlx_array_free(a);
  a = make(t, base, nd, re, im);
  free(re);
  free(im);
  return a;
}

/* One random case: an input, and the axis the op works along (flat: the
 * form without an axis, along the flattened array whose shape is rshape). */
typedef struct sort_case {
  mlx_dtype t;
  mlx_array a;
  int nd, ax, axis, rnd;
  int rshape[MAXD];
  bool flat;
} sort_case;

static sort_case random_case(int trial, int min_dim) {
  sort_case c;
  int shape[MAXD];
  c.nd = rand_int(0, 4);
  for (int d = 0; d < c.nd; d++) shape[d] = rand_int(min_dim, 6);
  if (min_dim > 0 && trial % 3 == 0 && c.nd) shape[rand_int(0, c.nd - 1)] = rand_int(20, 70);
  c.t = all_dtypes[trial % N_DTYPES];
  c.a = sort_input(c.t, shape, c.nd);
  c.flat = c.nd == 0 || trial % 5 == 0;
  c.ax = c.flat ? 0 : rand_int(0, c.nd - 1);
  c.axis = rand_int(0, 1) ? c.ax - c.nd : c.ax;
  c.rnd = c.flat ? 1 : c.nd;
  memcpy(c.rshape, shape, sizeof(int) * (size_t)c.nd);
  if (c.flat) c.rshape[0] = (int)shape_size(shape, c.nd);
  return c;
}

static void test_sort_argsort(void) {
  for (int trial = 0; trial < 400; trial++) {
    sort_case c = random_case(trial, 0);
    mlx_dtype t = c.t;
    mlx_array a = c.a;
    int nd = c.nd, ax = c.ax, axis = c.axis, rnd = c.rnd, *rshape = c.rshape;
    bool flat = c.flat;
    mlx_array vs = mlx_array_new(), is = mlx_array_new();
    if (flat) {
      CHECK_OK(mlx_sort(&vs, a, test_stream));
      CHECK_OK(mlx_argsort(&is, a, test_stream));
    } else {
      CHECK_OK(mlx_sort_axis(&vs, a, axis, test_stream));
      CHECK_OK(mlx_argsort_axis(&is, a, axis, test_stream));
    }
    bool ok = test_shape_is(vs, rshape, rnd) && test_shape_is(is, rshape, rnd) &&
              mlx_array_dtype(vs) == t && mlx_array_dtype(is) == MLX_UINT32;
    CHECK_MSG(ok, "sort/argsort shape or dtype (%s)", dtype_name(t));
    if (ok) {
      void* src = raw_bytes(a);
      void* got = raw_bytes(vs);
      uint32_t* gi = raw_bytes(is);
      size_t es = mlx_dtype_size(t);
      rows r = rows_of(rshape, rnd, ax);
      item* row = malloc(sizeof(item) * (r.len ? r.len : 1));
      for (size_t i = 0; i < r.count && ok; i++) {
        for (size_t j = 0; j < r.len; j++)
          row[j] = (item){key_of(src, t, row_at(r, i, j)), (uint32_t)j};
        qsort(row, r.len, sizeof(item), item_cmp);
        for (size_t j = 0; j < r.len && ok; j++) {
          size_t at = row_at(r, i, j);
          ok = gi[at] == row[j].index &&
               memcmp((char*)got + at * es, (char*)src + row_at(r, i, row[j].index) * es, es) == 0;
        }
      }
      CHECK_MSG(ok, "sort/argsort of %s (axis %d of %d dims, flat %d)", dtype_name(t), axis, nd,
                flat);
      free(row);
      free(src);
      free(got);
      free(gi);
    }
    mlx_array_free(a);
    mlx_array_free(vs);
    mlx_array_free(is);
  }
}

/* partition's property along every row, and that the row kept its
 * elements; for argpartition the values are read through the indices. */
static void test_partitions(void) {
  for (int trial = 0; trial < 400; trial++) {
    sort_case c = random_case(trial, 1);
    mlx_dtype t = c.t;
    mlx_array a = c.a;
    int nd = c.nd, ax = c.ax, axis = c.axis, rnd = c.rnd, *rshape = c.rshape;
    bool flat = c.flat;
    int len = rshape[ax], kth = rand_int(0, len - 1);
    int kth_arg = rand_int(0, 1) ? kth - len : kth;
    mlx_array vp = mlx_array_new(), ip = mlx_array_new();
    if (flat) {
      CHECK_OK(mlx_partition(&vp, a, kth_arg, test_stream));
      CHECK_OK(mlx_argpartition(&ip, a, kth_arg, test_stream));
    } else {
      CHECK_OK(mlx_partition_axis(&vp, a, kth_arg, axis, test_stream));
      CHECK_OK(mlx_argpartition_axis(&ip, a, kth_arg, axis, test_stream));
    }
    bool ok = test_shape_is(vp, rshape, rnd) && test_shape_is(ip, rshape, rnd) &&
              mlx_array_dtype(vp) == t && mlx_array_dtype(ip) == MLX_UINT32;
    CHECK_MSG(ok, "partition shape or dtype (%s)", dtype_name(t));
    if (ok) {
      void* src = raw_bytes(a);
      void* got = raw_bytes(vp);
      uint32_t* gi = raw_bytes(ip);
      rows r = rows_of(rshape, rnd, ax);
      item* want = malloc(sizeof(item) * (size_t)len);
      item* have = malloc(sizeof(item) * (size_t)len);
      item* through = malloc(sizeof(item) * (size_t)len);
      for (size_t i = 0; i < r.count && ok; i++) {
        for (int j = 0; j < len; j++) {
          want[j] = (item){key_of(src, t, row_at(r, i, (size_t)j)), 0};
          have[j] = (item){key_of(got, t, row_at(r, i, (size_t)j)), 0};
          uint32_t k = gi[row_at(r, i, (size_t)j)];
          ok &= k < (uint32_t)len;
          through[j] = (item){key_of(src, t, row_at(r, i, ok ? k : 0)), k};
        }
        /* nothing after kth is smaller, nothing before it is greater */
        for (int j = 0; j < len && ok; j++) {
          item *lo = j < kth ? have + j : have + kth, *hi = j < kth ? have + kth : have + j;
          item *tlo = j < kth ? through + j : through + kth;
          item *thi = j < kth ? through + kth : through + j;
          if (j != kth) ok = !key_less(hi->k, lo->k) && !key_less(thi->k, tlo->k);
        }
        /* the same elements: sorted, the rows agree; the indices are a
         * permutation */
        qsort(want, (size_t)len, sizeof(item), item_cmp);
        qsort(have, (size_t)len, sizeof(item), item_cmp);
        for (int j = 0; j < len && ok; j++)
          ok = !key_less(want[j].k, have[j].k) && !key_less(have[j].k, want[j].k);
        qsort(through, (size_t)len, sizeof(item), item_cmp);
        uint32_t seen = 0;
        for (int j = 0; j < len; j++) seen += through[j].index;
        ok &= seen == (uint32_t)(len * (len - 1) / 2);
      }
      CHECK_MSG(ok, "partition of %s (kth %d, axis %d of %d dims)", dtype_name(t), kth_arg, axis,
                nd);
      free(want);
      free(have);
      free(through);
      free(src);
      free(got);
      free(gi);
    }
    mlx_array_free(a);
    mlx_array_free(vp);
    mlx_array_free(ip);
  }
}

/* ---- MLX's exact arrangement (std::nth_element, libstdc++) ---- */

static const float golden_in[40] = {
    0, 12, 12, 1, 9, 3, 2, 1, 12, NAN, 12, 12, 8, 1, 5, 11, 7, 10, 7, 3,
    9, 3, 6, 12, 12, 5, 2, 12, 1, 7, 7, NAN, 6, 4, 8, 3, 5, 11, 2, 1};
static const int golden_kth[3] = {3, 20, 35};
static const float golden_part[3][40] = {
    {1, 1, 0, 1, 1, 3, 2, 5, 3, 8, 4, 6, 8, 1, 5, 7, 7, 7, 7, 3,
     2, 3, 6, 9, 2, 5, 12, 12, 12, 10, 11, NAN, 12, 12, NAN, 12, 9, 11, 12, 12},
    {1, 1, 0, 1, 1, 5, 2, 3, 3, 2, 4, 3, 2, 1, 3, 7, 5, 6, 6, 5,
     7, 7, 7, 9, 8, 8, 12, 12, 12, 10, 11, NAN, 12, 12, NAN, 12, 9, 11, 12, 12},
    {9, 1, 2, 1, 5, 3, 2, 1, 3, 8, 4, 6, 8, 1, 5, 7, 7, 7, 7, 3,
     0, 3, 6, 1, 2, 5, 12, 12, 12, 10, 11, 11, 9, 12, 12, 12, 12, NAN, 12, NAN}};
static const uint32_t golden_arg[3][40] = {
    {7, 3, 0, 13, 28, 39, 6, 5, 36, 35, 34, 33, 12, 4, 14, 32, 16, 30, 18, 19,
     38, 21, 22, 29, 20, 25, 26, 27, 24, 23, 17, 31, 15, 11, 10, 9, 8, 37, 2, 1},
    {39, 28, 0, 3, 13, 7, 5, 6, 26, 38, 36, 33, 25, 21, 14, 35, 19, 32, 22, 16,
     18, 4, 30, 29, 20, 12, 34, 27, 24, 23, 17, 31, 15, 11, 10, 9, 8, 37, 2, 1},
    {20, 39, 38, 3, 4, 5, 6, 7, 36, 35, 34, 33, 12, 13, 14, 32, 16, 30, 18, 19,
     0, 21, 22, 29, 28, 25, 26, 11, 1, 2, 17, 37, 15, 8, 10, 23, 24, 27, 31, 9}};

static bool same_floats(const float* a, const float* b, int n) {
  for (int i = 0; i < n; i++)
    if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) return false;
  return true;
}

static void test_mlx_arrangement(void) {
  int n = 40;
  /* the input as a column of a transposed matrix: the layout must not
   * change the arrangement */
  mlx_array row = test_array_f32(golden_in, &n, 1), r = mlx_array_new();
  int s2[2] = {1, 40}, perm[2] = {1, 0};
  mlx_array m = mlx_array_new(), col = mlx_array_new();
  CHECK_OK(mlx_reshape(&m, row, s2, 2, test_stream));
  CHECK_OK(mlx_transpose_axes(&col, m, perm, 2, test_stream));
  for (int c = 0; c < 3; c++) {
    CHECK_OK(mlx_partition(&r, row, golden_kth[c], test_stream));
    mlx_array_eval(r);
    CHECK_MSG(same_floats(mlx_array_data_float32(r), golden_part[c], n), "partition kth %d",
              golden_kth[c]);
    CHECK_OK(mlx_argpartition_axis(&r, col, golden_kth[c] - n, 0, test_stream));
    mlx_array_eval(r);
    CHECK_MSG(memcmp(mlx_array_data_uint32(r), golden_arg[c], sizeof golden_arg[c]) == 0,
              "argpartition kth %d", golden_kth[c]);
    /* topk(k) is the tail of partition(-k) */
    int k = n - golden_kth[c];
    CHECK_OK(mlx_topk(&r, row, k, test_stream));
    mlx_array_eval(r);
    CHECK_MSG(test_shape_is(r, &k, 1) &&
                  same_floats(mlx_array_data_float32(r), golden_part[c] + golden_kth[c], k),
              "topk %d", k);
  }
  mlx_array_free(m);
  mlx_array_free(col);
  mlx_array_free(row);
  mlx_array_free(r);
}

static void test_topk(void) {
  for (int trial = 0; trial < 200; trial++) {
    int shape[MAXD], nd = rand_int(1, 3);
    for (int d = 0; d < nd; d++) shape[d] = rand_int(0, 8);
    mlx_dtype t = all_dtypes[trial % N_DTYPES];
    mlx_array a = sort_input(t, shape, nd);
    int ax = rand_int(0, nd - 1), axis = rand_int(0, 1) ? ax - nd : ax;
    int k = rand_int(0, shape[ax]);
    mlx_array r = mlx_array_new(), p = mlx_array_new();
    CHECK_OK(mlx_topk_axis(&r, a, k, axis, test_stream));
    int out[MAXD];
    memcpy(out, shape, sizeof(int) * (size_t)nd);
    out[ax] = k;
    CHECK(test_shape_is(r, out, nd) && mlx_array_dtype(r) == t);
    if (k == shape[ax]) {
      CHECK(r.ctx == a.ctx);
    } else {
      /* the last k of partition(-k), byte for byte */
      CHECK_OK(mlx_partition_axis(&p, a, -k, axis, test_stream));
      void* got = raw_bytes(r);
      void* part = raw_bytes(p);
      rows rp = rows_of(shape, nd, ax), rr = rows_of(out, nd, ax);
      size_t es = mlx_dtype_size(t);
      bool ok = true;
      for (size_t i = 0; i < rr.count; i++)
        for (size_t j = 0; j < (size_t)k; j++)
          ok &= memcmp((char*)got + row_at(rr, i, j) * es,
                       (char*)part + row_at(rp, i, j + (size_t)(shape[ax] - k)) * es, es) == 0;
      CHECK_MSG(ok, "topk of %s", dtype_name(t));
      free(got);
      free(part);
    }
    mlx_array_free(a);
    mlx_array_free(r);
    mlx_array_free(p);
  }
  /* the flattened form, and a 0-d array */
  float x[6] = {5, -1, 7, 3, 9, 0};
  int s23[2] = {2, 3};
  mlx_array a = test_array_f32(x, s23, 2), r = mlx_array_new();
  CHECK_OK(mlx_topk(&r, a, 2, test_stream));
  double* v = test_to_f64(r);
  int two = 2;
  CHECK(test_shape_is(r, &two, 1) && fmin(v[0], v[1]) == 7 && fmax(v[0], v[1]) == 9);
  free(v);
  mlx_array z = mlx_array_new_float(4);
  CHECK_OK(mlx_sort(&r, z, test_stream));
  int one = 1;
  CHECK(test_shape_is(r, &one, 1));
  mlx_array_free(z);
  mlx_array_free(a);
  mlx_array_free(r);
}

static void test_errors(void) {
  int s34[2] = {3, 4};
  mlx_array a = mlx_array_new(), z = mlx_array_new_float(1), r = mlx_array_new();
  CHECK_OK(mlx_zeros(&a, s34, 2, MLX_FLOAT32, test_stream));
  EXPECT_ERROR(mlx_sort_axis(&r, a, 2, test_stream),
               "[sort] Axis 2 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_sort_axis(&r, z, 0, test_stream),
               "[sort] Axis 0 is out of bounds for array with 0 dimensions.");
  EXPECT_ERROR(mlx_argsort_axis(&r, a, -3, test_stream),
               "[argsort] Axis -3 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_partition_axis(&r, a, 0, 5, test_stream),
               "[partition] Axis 5 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_argpartition_axis(&r, a, 0, -3, test_stream),
               "[argpartition] Axis -3 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_partition_axis(&r, a, 4, 1, test_stream),
               "[partition] Received invalid kth 4along axis 1 for array with shape: (3,4)");
  EXPECT_ERROR(mlx_partition_axis(&r, a, -4, -2, test_stream),
               "[partition] Received invalid kth -4along axis -2 for array with shape: (3,4)");
  EXPECT_ERROR(mlx_argpartition_axis(&r, a, 3, 0, test_stream),
               "[argpartition] Received invalid kth 3 along axis 0 for array with shape: (3,4)");
  EXPECT_ERROR(mlx_partition(&r, a, 12, test_stream),
               "[partition] Received invalid kth 12along axis 0 for array with shape: (12)");
  EXPECT_ERROR(mlx_argpartition(&r, a, -13, test_stream),
               "[argpartition] Received invalid kth -13 along axis 0 for array with shape: (12)");
  EXPECT_ERROR(mlx_topk_axis(&r, a, 5, -1, test_stream),
               "[topk] Received invalid k=5 along axis -1 for array with shape: (3,4)");
  EXPECT_ERROR(mlx_topk_axis(&r, a, -1, 0, test_stream),
               "[topk] Received invalid k=-1 along axis 0 for array with shape: (3,4)");
  EXPECT_ERROR(mlx_topk_axis(&r, a, 1, 2, test_stream),
               "[topk] Axis 2 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_topk(&r, a, 13, test_stream),
               "[topk] Received invalid k=13 along axis 0 for array with shape: (12)");
  int s0 = 0;
  mlx_array e = mlx_array_new();
  CHECK_OK(mlx_zeros(&e, &s0, 1, MLX_INT32, test_stream));
  EXPECT_ERROR(mlx_partition(&r, e, 0, test_stream),
               "[partition] Received invalid kth 0along axis 0 for array with shape: (0)");
  mlx_array none = mlx_array_new();
  EXPECT_ERROR(mlx_sort(&r, none, test_stream),
               "[sort] The input array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_topk(NULL, a, 1, test_stream), "[topk] The result pointer is NULL.");
  /* empty arrays sort to empty arrays */
  CHECK_OK(mlx_sort(&r, e, test_stream));
  CHECK_OK(mlx_argsort_axis(&r, e, 0, test_stream));
  CHECK(mlx_array_eval(r) == 0 && mlx_array_size(r) == 0);
  mlx_array_free(e);
  mlx_array_free(a);
  mlx_array_free(z);
  mlx_array_free(r);
}

/* Many rows and long rows: the threaded driver and the heap-select path
 * of introselect (reached by adversarial inputs; here organ pipes). */
static void test_large(void) {
  int shape[2] = {257, 300};
  mlx_array a = make_view(LAYOUT_TRANSPOSED, MLX_FLOAT32, shape, 2, -100, 100, 0, 0);
  mlx_array r = mlx_array_new(), p = mlx_array_new();
  for (int axis = 0; axis < 2; axis++) {
    CHECK_OK(mlx_sort_axis(&r, a, axis, test_stream));
    CHECK_OK(mlx_partition_axis(&p, a, shape[axis] / 2, axis, test_stream));
    double* s = test_to_f64(r);
    double* q = test_to_f64(p);
    bool ok = true;
    rows rr = rows_of(shape, 2, axis);
    for (size_t i = 0; i < rr.count; i++)
      for (size_t j = 1; j < rr.len; j++) ok &= s[row_at(rr, i, j - 1)] <= s[row_at(rr, i, j)];
    /* the partition's kth element is the sorted one */
    for (size_t i = 0; i < rr.count; i++)
      ok &= q[row_at(rr, i, rr.len / 2)] == s[row_at(rr, i, rr.len / 2)];
    CHECK_MSG(ok, "large sort/partition along axis %d", axis);
    free(s);
    free(q);
  }
  int n = 5000;
  float* pipe = malloc(sizeof(float) * (size_t)n);
  for (int i = 0; i < n; i++) pipe[i] = (float)(i < n / 2 ? i : n - i);
  mlx_array b = test_array_f32(pipe, &n, 1);
  CHECK_OK(mlx_argpartition(&p, b, 1234, test_stream));
  mlx_array_eval(p);
  const uint32_t* idx = mlx_array_data_uint32(p);
  bool ok = true;
  float kv = pipe[idx[1234]];
  for (int i = 0; i < n; i++) ok &= i < 1234 ? pipe[idx[i]] <= kv : pipe[idx[i]] >= kv;
  CHECK_MSG(ok && kv == 617, "argpartition of an organ pipe (kth value %g)", kv);
  free(pipe);
  mlx_array_free(b);
  mlx_array_free(a);
  mlx_array_free(r);
  mlx_array_free(p);
}

int main(void) {
  test_init();
  test_sort_argsort();
  test_partitions();
  test_mlx_arrangement();
  test_topk();
  test_errors();
  test_large();
  return test_finish("test_sort");
}
