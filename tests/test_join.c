/* test_join.c - concatenate, stack, split, tile, repeat, pad, roll, diag,
 * diagonal, trace, meshgrid and kron.
 *
 * What it proves:
 * - every op moves exactly the right bytes, for every dtype: outputs are
 *   compared byte for byte with a reference gathered here from the input's
 *   row-major bytes through an index map written independently of the
 *   kernels (pad's reflect/symmetric reference replays MLX's chunked
 *   slice_update loop; roll's replays MLX's split + concatenate);
 * - random shapes with size-0 and size-1 axes, negative axes, 0-d arrays,
 *   and inputs that are transposed, sliced (a reversed axis) or broadcast
 *   views;
 * - concatenate and stack promote mixed dtypes as MLX does;
 * - diagonal is a view (it shares its input's buffer), trace sums it in
 *   the requested dtype, kron matches a double-precision reference;
 * - every error path with MLX's exact text (and ours where MLX has none). */
#include <stdlib.h>

#include "reduce_util.h"

#define MAXD 6

/* ---- helpers ---- */

static void unravel(size_t i, const int* shape, int nd, int* idx) {
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = shape[d] ? (int)(i % (size_t)shape[d]) : 0;
    if (shape[d]) i /= (size_t)shape[d];
  }
}

static size_t ravel(const int* idx, const int* shape, int nd) {
  size_t i = 0;
  for (int d = 0; d < nd; d++) i = i * (size_t)shape[d] + (size_t)idx[d];
  return i;
}

/* A random array of dtype t and shape in a random layout. */
static mlx_array rand_array(mlx_dtype t, const int* shape, int nd) {
  return make_view((layout_kind)rand_int(0, 3), t, shape, nd, -8, 8, -100, 100);
}

static mlx_dtype rand_dtype(void) {
  return all_dtypes[rand_int(0, N_DTYPES - 1)];
}

/* Checks out's shape, dtype and row-major bytes against ref. */
static bool check_result(mlx_array out, mlx_dtype t, const int* shape, int nd, const void* ref,
                         const char* what) {
  bool ok = test_shape_is(out, shape, nd) && mlx_array_dtype(out) == t;
  CHECK_MSG(ok, "%s: wrong shape or dtype", what);
  if (!ok) return false;
  void* got = raw_bytes(out);
  size_t nb = shape_size(shape, nd) * mlx_dtype_size(t);
  ok = nb == 0 || memcmp(got, ref, nb) == 0;
  CHECK_MSG(ok, "%s: wrong bytes (dtype %s)", what, dtype_name(t));
  free(got);
  return ok;
}

/* The output bytes of a gather: element i comes from src[map(i)], or is
 * the fill element when map gives -1. */
typedef int64_t (*index_map)(const int* out_idx, const void* ctx);

static void* gather_ref(const void* src, size_t esize, const int* shape, int nd, index_map map,
                        const void* ctx, const void* fill) {
  size_t n = shape_size(shape, nd);
  char* out = calloc(n ? n : 1, esize);
  int idx[MAXD + 2];
  for (size_t i = 0; i < n; i++) {
    unravel(i, shape, nd, idx);
    int64_t k = map(idx, ctx);
    memcpy(out + i * esize, k < 0 ? fill : (const char*)src + (size_t)k * esize, esize);
  }
  return out;
}

static mlx_vector_array vec_of(const mlx_array* items, int n) {
  return mlx_vector_array_new_data(items, (size_t)n);
}

/* ---- concatenate ---- */

typedef struct concat_ctx {
  int n, ax, nd;
  const int (*shapes)[MAXD];
  const size_t* base; /* element offset of each input in the joined source */
} concat_ctx;

static int64_t concat_map(const int* idx, const void* p) {
  const concat_ctx* c = p;
  int local[MAXD];
  memcpy(local, idx, sizeof(int) * (size_t)c->nd);
  for (int k = 0; k < c->n; k++) {
    if (local[c->ax] < c->shapes[k][c->ax])
      return (int64_t)(c->base[k] + ravel(local, c->shapes[k], c->nd));
    local[c->ax] -= c->shapes[k][c->ax];
  }
  return -1;
}

static void test_concatenate_random(void) {
  for (int trial = 0; trial < 300; trial++) {
    int shape[MAXD], nd = rand_int(1, 4);
    for (int d = 0; d < nd; d++) shape[d] = rand_int(0, 4);
    int n = rand_int(1, 4), ax = rand_int(0, nd - 1);
    int axis = rand_int(0, 1) ? ax - nd : ax;
    bool mixed = trial % 3 == 0;
    mlx_dtype t0 = rand_dtype(), t = t0;
    int shapes[4][MAXD];
    mlx_array in[4];
    for (int k = 0; k < n; k++) {
      memcpy(shapes[k], shape, sizeof shape);
      shapes[k][ax] = rand_int(0, 3);
      mlx_dtype tk = mixed ? rand_dtype() : t0;
      t = k ? dtype_promote(t, tk) : tk;
      in[k] = rand_array(tk, shapes[k], nd);
    }
    mlx_vector_array v = vec_of(in, n);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_concatenate_axis(&r, v, axis, test_stream));
    /* the reference: each input cast to t (through doubles: the values are
     * small integers or exact in every dtype involved) and gathered */
    size_t base[4], total = 0;
    for (int k = 0; k < n; k++) {
      base[k] = total;
      total += shape_size(shapes[k], nd);
    }
    char* src = calloc(total ? total : 1, mlx_dtype_size(t));
    for (int k = 0; k < n; k++) {
      double *re, *im;
      read_values(in[k], &re, &im);
      for (size_t i = 0; i < shape_size(shapes[k], nd); i++)
        encode(src, t, base[k] + i, re[i], t == MLX_COMPLEX64 ? im[i] : 0);
      free(re);
      free(im);
    }
    int out_shape[MAXD];
    memcpy(out_shape, shape, sizeof shape);
    out_shape[ax] = 0;
    for (int k = 0; k < n; k++) out_shape[ax] += shapes[k][ax];
    concat_ctx c = {n, ax, nd, (const int (*)[MAXD])shapes, base};
    void* ref = gather_ref(src, mlx_dtype_size(t), out_shape, nd, concat_map, &c, NULL);
    if (n > 1 || !mixed)
      check_result(r, t, out_shape, nd, ref, "concatenate");
    free(ref);
    free(src);
    for (int k = 0; k < n; k++) mlx_array_free(in[k]);
    mlx_array_free(r);
    mlx_vector_array_free(v);
  }
}

static void test_concatenate_forms(void) {
  /* without an axis: the flattened arrays joined */
  float x[6] = {1, 2, 3, 4, 5, 6}, y[2] = {7, 8};
  int sx[2] = {2, 3}, sy[2] = {1, 2};
  mlx_array in[2] = {test_array_f32(x, sx, 2), test_array_f32(y, sy, 2)};
  mlx_vector_array v = vec_of(in, 2);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_concatenate(&r, v, test_stream));
  float want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int sw = 8;
  check_result(r, MLX_FLOAT32, &sw, 1, want, "concatenate flat");
  /* one array comes back as it is, whatever the axis */
  mlx_vector_array one = vec_of(in, 1);
  CHECK_OK(mlx_concatenate_axis(&r, one, 7, test_stream));
  CHECK(r.ctx == in[0].ctx);
  /* a 0-d array in the flat form becomes one element */
  mlx_array s = mlx_array_new_float(9);
  mlx_array pair[2] = {s, in[1]};
  mlx_vector_array v2 = vec_of(pair, 2);
  CHECK_OK(mlx_concatenate(&r, v2, test_stream));
  float want2[3] = {9, 7, 8};
  sw = 3;
  check_result(r, MLX_FLOAT32, &sw, 1, want2, "concatenate 0-d flat");
  mlx_array_free(s);
  mlx_vector_array_free(v2);
  mlx_vector_array_free(one);
  mlx_vector_array_free(v);
  mlx_array_free(in[0]);
  mlx_array_free(in[1]);
  mlx_array_free(r);
}

static void test_concatenate_errors(void) {
  int s23[2] = {2, 3}, s4[1] = {4}, s45[2] = {4, 5};
  mlx_array a = mlx_array_new();
  mlx_array b = mlx_array_new(), c = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_zeros(&a, s23, 2, MLX_FLOAT32, test_stream));
  CHECK_OK(mlx_zeros(&b, s4, 1, MLX_FLOAT32, test_stream));
  CHECK_OK(mlx_zeros(&c, s45, 2, MLX_INT32, test_stream));
  mlx_vector_array empty = mlx_vector_array_new();
  EXPECT_ERROR(mlx_concatenate_axis(&r, empty, 0, test_stream),
               "[concatenate] No arrays provided for concatenation");
  EXPECT_ERROR(mlx_stack_axis(&r, empty, 0, test_stream),
               "[stack] No arrays provided for stacking");
  mlx_array ab[2] = {a, b};
  mlx_vector_array vab = vec_of(ab, 2);
  EXPECT_ERROR(mlx_concatenate_axis(&r, vab, 0, test_stream),
               "[concatenate] All the input arrays must have the same number of dimensions. "
               "However, got arrays with dimensions 2 and 1.");
  EXPECT_ERROR(mlx_concatenate_axis(&r, vab, 2, test_stream),
               "[concatenate] Axis 2 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_concatenate_axis(&r, vab, -3, test_stream),
               "[concatenate] Axis -3 is out of bounds for array with 2 dimensions.");
  mlx_array ac[3] = {a, c, a};
  mlx_vector_array vac = vec_of(ac, 3);
  EXPECT_ERROR(mlx_concatenate_axis(&r, vac, -1, test_stream),
               "[concatenate] All the input array dimensions must match exactly except for the "
               "concatenation axis. However, the provided shapes are (2,3), (4,5), (2,3), and "
               "the concatenation axis is -1.");
  mlx_array s0 = mlx_array_new_float(1), s1 = mlx_array_new_float(2);
  mlx_array ss[2] = {s0, s1};
  mlx_vector_array vss = vec_of(ss, 2);
  EXPECT_ERROR(mlx_concatenate_axis(&r, vss, 0, test_stream),
               "[concatenate] Axis 0 is out of bounds for array with 0 dimensions.");
  /* stack */
  EXPECT_ERROR(mlx_stack_axis(&r, vab, 0, test_stream),
               "[stack] All arrays must have the same shape");
  mlx_array aa[2] = {a, a};
  mlx_vector_array vaa = vec_of(aa, 2);
  EXPECT_ERROR(mlx_stack_axis(&r, vaa, 3, test_stream),
               "[stack] Axis 3 is out of bounds for array with 3 dimensions.");
  EXPECT_ERROR(mlx_stack_axis(&r, vaa, -4, test_stream),
               "[stack] Axis -4 is out of bounds for array with 3 dimensions.");
  /* handles */
  mlx_vector_array none = {0};
  EXPECT_ERROR(mlx_concatenate(&r, none, test_stream),
               "[concatenate] The input vector is empty (an mlx_vector_array_new() handle).");
  EXPECT_ERROR(mlx_concatenate(NULL, vab, test_stream),
               "[concatenate] The result pointer is NULL.");
  mlx_vector_array_free(empty);
  mlx_vector_array_free(vab);
  mlx_vector_array_free(vac);
  mlx_vector_array_free(vss);
  mlx_vector_array_free(vaa);
  mlx_array_free(s0);
  mlx_array_free(s1);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
  mlx_array_free(r);
}

/* ---- stack ---- */

typedef struct stack_ctx {
  int ax, nd; /* nd: the inputs' */
  const int* shape;
  size_t size;
} stack_ctx;

static int64_t stack_map(const int* idx, const void* p) {
  const stack_ctx* c = p;
  int local[MAXD];
  for (int d = 0, o = 0; d <= c->nd; d++)
    if (d != c->ax) local[o++] = idx[d];
  return (int64_t)(idx[c->ax] * c->size + ravel(local, c->shape, c->nd));
}

static void test_stack_random(void) {
  for (int trial = 0; trial < 150; trial++) {
    int shape[MAXD], nd = rand_int(0, 3);
    for (int d = 0; d < nd; d++) shape[d] = rand_int(0, 3);
    int n = rand_int(1, 4), ax = rand_int(0, nd);
    int axis = rand_int(0, 1) ? ax - nd - 1 : ax;
    mlx_dtype t = rand_dtype();
    mlx_array in[4];
    size_t size = shape_size(shape, nd), es = mlx_dtype_size(t);
    char* src = calloc((size ? size : 1) * (size_t)n, es);
    for (int k = 0; k < n; k++) {
      in[k] = rand_array(t, shape, nd);
      void* b = raw_bytes(in[k]);
      memcpy(src + (size_t)k * size * es, b, size * es);
      free(b);
    }
    mlx_vector_array v = vec_of(in, n);
    mlx_array r = mlx_array_new();
    if (trial % 5 == 0 && ax == 0)
      CHECK_OK(mlx_stack(&r, v, test_stream));
    else
      CHECK_OK(mlx_stack_axis(&r, v, axis, test_stream));
    int out_shape[MAXD];
    for (int d = 0, o = 0; d <= nd; d++) out_shape[d] = d == ax ? n : shape[o++];
    stack_ctx c = {ax, nd, shape, size};
    void* ref = gather_ref(src, es, out_shape, nd + 1, stack_map, &c, NULL);
    check_result(r, t, out_shape, nd + 1, ref, "stack");
    free(ref);
    free(src);
    for (int k = 0; k < n; k++) mlx_array_free(in[k]);
    mlx_array_free(r);
    mlx_vector_array_free(v);
  }
  /* mixed dtypes promote */
  mlx_array a = mlx_array_new_int(3), b = mlx_array_new_float(0.5f);
  mlx_array ab[2] = {a, b};
  mlx_vector_array v = vec_of(ab, 2);
  mlx_array r = mlx_array_new();
  CHECK_OK(mlx_stack(&r, v, test_stream));
  float want[2] = {3, 0.5f};
  int two = 2;
  check_result(r, MLX_FLOAT32, &two, 1, want, "stack int32 + float32");
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(r);
  mlx_vector_array_free(v);
}

/* ---- split ---- */

/* The part of a (row-major bytes src, shape) between start and stop along
 * ax, as MLX's slice clamps them. */
static void* slice_ref(const void* src, size_t es, const int* shape, int nd, int ax, int start,
                       int stop, int* part_shape) {
  int n = shape[ax];
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  start = start < 0 ? 0 : start > n ? n : start;
  stop = stop < 0 ? 0 : stop > n ? n : stop;
  if (stop < start) stop = start;
  memcpy(part_shape, shape, sizeof(int) * (size_t)nd);
  part_shape[ax] = stop - start;
  size_t m = shape_size(part_shape, nd);
  char* out = calloc(m ? m : 1, es);
  int idx[MAXD];
  for (size_t i = 0; i < m; i++) {
    unravel(i, part_shape, nd, idx);
    idx[ax] += start;
    memcpy(out + i * es, (const char*)src + ravel(idx, shape, nd) * es, es);
  }
  return out;
}

static void check_parts(mlx_vector_array parts, mlx_array a, int ax, const int* cuts, int n_cuts,
                        const char* what) {
  CHECK_MSG(mlx_vector_array_size(parts) == (size_t)n_cuts + 1, "%s: %zu parts", what,
            mlx_vector_array_size(parts));
  if (mlx_vector_array_size(parts) != (size_t)n_cuts + 1) return;
  mlx_dtype t = mlx_array_dtype(a);
  int nd = (int)mlx_array_ndim(a), shape[MAXD];
  memcpy(shape, mlx_array_shape(a), sizeof(int) * (size_t)nd);
  void* src = raw_bytes(a);
  int start = 0;
  for (int i = 0; i <= n_cuts; i++) {
    int stop = i < n_cuts ? cuts[i] : shape[ax], ps[MAXD];
    void* ref = slice_ref(src, mlx_dtype_size(t), shape, nd, ax, start, stop, ps);
    mlx_array p = mlx_array_new();
    mlx_vector_array_get(&p, parts, (size_t)i);
    check_result(p, t, ps, nd, ref, what);
    mlx_array_free(p);
    free(ref);
    start = stop;
  }
  free(src);
}

static void test_split(void) {
  for (int trial = 0; trial < 100; trial++) {
    int shape[MAXD], nd = rand_int(1, 4);
    for (int d = 0; d < nd; d++) shape[d] = rand_int(0, 5);
    int ax = rand_int(0, nd - 1), axis = rand_int(0, 1) ? ax - nd : ax;
    mlx_dtype t = rand_dtype();
    mlx_array a = rand_array(t, shape, nd);
    mlx_vector_array parts = mlx_vector_array_new();
    /* equal parts: any divisor of the axis (0 splits into empty parts) */
    int num = rand_int(1, 4);
    if (shape[ax] && shape[ax] % num) num = 1;
    CHECK_OK(mlx_split(&parts, a, num, axis, test_stream));
    int cuts[8];
    for (int i = 0; i < num - 1; i++) cuts[i] = (i + 1) * (shape[ax] / num);
    check_parts(parts, a, ax, cuts, num - 1, "split");
    /* sections: sorted, unsorted, negative and past the end */
    int n_cuts = rand_int(0, 4);
    for (int i = 0; i < n_cuts; i++) cuts[i] = rand_int(-6, 7);
    if (trial % 2)
      for (int i = 1; i < n_cuts; i++)
        if (cuts[i] < cuts[i - 1]) cuts[i] = cuts[i - 1];
    CHECK_OK(mlx_split_sections(&parts, a, cuts, (size_t)n_cuts, axis, test_stream));
    check_parts(parts, a, ax, cuts, n_cuts, "split_sections");
    mlx_vector_array_free(parts);
    mlx_array_free(a);
  }
  /* errors */
  int s23[2] = {2, 3};
  mlx_array a = mlx_array_new(), z = mlx_array_new_float(1);
  CHECK_OK(mlx_zeros(&a, s23, 2, MLX_FLOAT32, test_stream));
  mlx_vector_array parts = mlx_vector_array_new();
  EXPECT_ERROR(mlx_split(&parts, a, 4, 1, test_stream),
               "Array split does not result in sub arrays with equal size: attempting 4 splits "
               "along axis 1 for shape (2,3).");
  EXPECT_ERROR(mlx_split(&parts, a, 2, -1, test_stream),
               "Array split does not result in sub arrays with equal size: attempting 2 splits "
               "along axis -1 for shape (2,3).");
  EXPECT_ERROR(mlx_split(&parts, a, 0, 1, test_stream),
               "[split] num_splits must be positive and non-zero but got 0.");
  EXPECT_ERROR(mlx_split(&parts, a, -2, 1, test_stream),
               "[split] num_splits must be positive and non-zero but got -2.");
  EXPECT_ERROR(mlx_split(&parts, a, 0, 2, test_stream),
               "[split] Axis 2 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_split(&parts, z, 1, 0, test_stream),
               "[split] Axis 0 is out of bounds for array with 0 dimensions.");
  int cut = 1;
  EXPECT_ERROR(mlx_split_sections(&parts, a, &cut, 1, -3, test_stream),
               "[split] Axis -3 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_split_sections(&parts, a, NULL, 1, 0, test_stream),
               "[split] The indices pointer is NULL.");
  mlx_vector_array_free(parts);
  mlx_array_free(a);
  mlx_array_free(z);
}

/* ---- tile / repeat ---- */

typedef struct tile_ctx {
  int nd, lead; /* out axes; out axes before the input's */
  const int* in_shape;
  int in_nd;
  int repeat_ax; /* repeat: the axis; -1 for tile */
  int repeats;
} tile_ctx;

static int64_t tile_map(const int* idx, const void* p) {
  const tile_ctx* c = p;
  int local[MAXD];
  for (int d = 0; d < c->in_nd; d++) {
    int o = idx[d + c->lead];
    local[d] = c->repeat_ax < 0 ? o % c->in_shape[d] : d == c->repeat_ax ? o / c->repeats : o;
  }
  return (int64_t)ravel(local, c->in_shape, c->in_nd);
}

static void test_tile_repeat(void) {
  for (int trial = 0; trial < 120; trial++) {
    int shape[MAXD], nd = rand_int(0, 3), reps[MAXD], nr = rand_int(0, 4);
    for (int d = 0; d < nd; d++) shape[d] = rand_int(0, 3);
    for (int d = 0; d < nr; d++) reps[d] = rand_int(0, 3);
    mlx_dtype t = rand_dtype();
    mlx_array a = rand_array(t, shape, nd);
    void* src = raw_bytes(a);
    size_t es = mlx_dtype_size(t);
    /* tile: shape and reps right-aligned */
    int total = nr > nd ? nr : nd, out_shape[MAXD], padded[MAXD];
    for (int d = 0; d < total; d++) {
      int s = d < total - nd ? 1 : shape[d - (total - nd)];
      int r = d < total - nr ? 1 : reps[d - (total - nr)];
      padded[d] = s;
      out_shape[d] = s * r;
    }
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_tile(&r, a, reps, (size_t)nr, test_stream));
    tile_ctx c = {total, 0, padded, total, -1, 0};
    void* ref = gather_ref(src, es, out_shape, total, tile_map, &c, NULL);
    check_result(r, t, out_shape, total, ref, "tile");
    free(ref);
    /* repeat along an axis */
    if (nd > 0) {
      int ax = rand_int(0, nd - 1), rep = rand_int(0, 3);
      CHECK_OK(mlx_repeat_axis(&r, a, rep, rand_int(0, 1) ? ax - nd : ax, test_stream));
      memcpy(out_shape, shape, sizeof(int) * (size_t)nd);
      out_shape[ax] *= rep;
      tile_ctx rc = {nd, 0, shape, nd, ax, rep};
      ref = gather_ref(src, es, out_shape, nd, tile_map, &rc, NULL);
      check_result(r, t, out_shape, nd, ref, "repeat_axis");
      free(ref);
    }
    /* repeat of the flattened array */
    int flat = (int)shape_size(shape, nd), rep = rand_int(0, 3), flat_out = flat * rep;
    CHECK_OK(mlx_repeat(&r, a, rep, test_stream));
    tile_ctx fc = {1, 0, &flat, 1, 0, rep};
    ref = gather_ref(src, es, &flat_out, 1, tile_map, &fc, NULL);
    check_result(r, t, &flat_out, 1, ref, "repeat");
    free(ref);
    free(src);
    mlx_array_free(a);
    mlx_array_free(r);
  }
  int s23[2] = {2, 3};
  mlx_array a = mlx_array_new(), r = mlx_array_new(), z = mlx_array_new_float(1);
  CHECK_OK(mlx_zeros(&a, s23, 2, MLX_FLOAT32, test_stream));
  int bad[2] = {2, -1};
  EXPECT_ERROR(mlx_tile(&r, a, bad, 2, test_stream),
               "[broadcast_to] Negative dimensions not allowed.");
  int huge[2] = {1 << 30, 1};
  EXPECT_ERROR(mlx_tile(&r, a, huge, 2, test_stream),
               "[tile] Shape dimension 2147483648 is outside the supported range "
               "[-2147483648, 2147483647]. MLX currently uses 32-bit integers for shape "
               "dimensions.");
  EXPECT_ERROR(mlx_tile(&r, a, NULL, 2, test_stream), "[tile] The reps pointer is NULL.");
  EXPECT_ERROR(mlx_repeat_axis(&r, a, 2, 2, test_stream),
               "[repeat] Axis 2 is out of bounds for array with 2 dimensions.");
  EXPECT_ERROR(mlx_repeat_axis(&r, z, 2, 0, test_stream),
               "[repeat] Axis 0 is out of bounds for array with 0 dimensions.");
  EXPECT_ERROR(mlx_repeat_axis(&r, a, -1, 0, test_stream),
               "[repeat] Number of repeats cannot be negative");
  EXPECT_ERROR(mlx_repeat(&r, a, -1, test_stream),
               "[repeat] Number of repeats cannot be negative");
  EXPECT_ERROR(mlx_repeat_axis(&r, a, 1 << 30, 1, test_stream),
               "[repeat] Shape dimension 3221225472 is outside the supported range "
               "[-2147483648, 2147483647]. MLX currently uses 32-bit integers for shape "
               "dimensions.");
  /* repeats of 1 give the input back */
  CHECK_OK(mlx_repeat_axis(&r, a, 1, 0, test_stream));
  CHECK(r.ctx == a.ctx);
  mlx_array_free(a);
  mlx_array_free(r);
  mlx_array_free(z);
}

/* ---- pad ---- */

/* The source index along one axis of size n padded by (low, high), per
 * MLX's algorithm: edge copies the nearest element; reflect and symmetric
 * replay reflect_pad's loop, which copies mirrored chunks outward from the
 * filled region (here on an array of source indices). */
static void pad_axis_map(const char* mode, int n, int low, int high, int* map) {
  int len = low + n + high;
  for (int i = 0; i < len; i++) map[i] = i >= low && i < low + n ? i - low : -1;
  if (!strcmp(mode, "constant") || n == 0) return;
  if (!strcmp(mode, "edge")) {
    for (int i = 0; i < low; i++) map[i] = 0;
    for (int i = low + n; i < len; i++) map[i] = n - 1;
    return;
  }
  int offset = (!strcmp(mode, "reflect") && n > 1) ? 1 : 0, tile = n - offset;
  for (int filled = low, rem = low; rem > 0;) {
    int chunk = rem < tile ? rem : tile;
    for (int j = 0; j < chunk; j++) map[filled - 1 - j] = map[filled + offset + j];
    filled -= chunk;
    rem -= chunk;
  }
  for (int end = low + n, rem = high; rem > 0;) {
    int chunk = rem < tile ? rem : tile;
    for (int j = 0; j < chunk; j++) map[end + j] = map[end - offset - 1 - j];
    end += chunk;
    rem -= chunk;
  }
}

typedef struct pad_ctx {
  int nd;
  const int* in_shape;
  int* maps[MAXD];
} pad_ctx;

static int64_t pad_map(const int* idx, const void* p) {
  const pad_ctx* c = p;
  int local[MAXD];
  for (int d = 0; d < c->nd; d++) {
    local[d] = c->maps[d][idx[d]];
    if (local[d] < 0) return -1;
  }
  return (int64_t)ravel(local, c->in_shape, c->nd);
}

static void test_pad_random(void) {
  static const char* const modes[] = {"constant", "edge", "reflect", "symmetric"};
  for (int trial = 0; trial < 240; trial++) {
    int shape[MAXD], nd = rand_int(0, 3);
    for (int d = 0; d < nd; d++) shape[d] = rand_int(1, 4);
    const char* mode = modes[trial % 4];
    mlx_dtype t = rand_dtype();
    mlx_array a = rand_array(t, shape, nd);
    /* pads up to 3 periods wide; some axes listed negatively, some not */
    int axes[MAXD], low[MAXD], high[MAXD], lo[MAXD] = {0}, hi[MAXD] = {0}, na = 0;
    bool symmetric_form = trial % 7 == 0;
    int width = rand_int(0, 7);
    for (int d = 0; d < nd; d++) {
      if (!symmetric_form && rand_int(0, 3) == 0) continue;
      axes[na] = rand_int(0, 1) ? d - nd : d;
      low[na] = lo[d] = symmetric_form ? width : rand_int(0, 8);
      high[na] = hi[d] = symmetric_form ? width : rand_int(0, 8);
      na++;
    }
    double fill_v = t == MLX_BOOL ? 1 : 5;
    mlx_array value = make(t, NULL, 0, &fill_v, NULL);
    mlx_array r = mlx_array_new();
    if (symmetric_form)
      CHECK_OK(mlx_pad_symmetric(&r, a, width, value, mode, test_stream));
    else
      CHECK_OK(mlx_pad(&r, a, axes, (size_t)na, low, (size_t)na, high, (size_t)na, value, mode,
                       test_stream));
    int out_shape[MAXD];
    pad_ctx c = {nd, shape, {NULL}};
    for (int d = 0; d < nd; d++) {
      out_shape[d] = lo[d] + shape[d] + hi[d];
      c.maps[d] = malloc(sizeof(int) * (size_t)out_shape[d]);
      pad_axis_map(mode, shape[d], lo[d], hi[d], c.maps[d]);
    }
    void* src = raw_bytes(a);
    void* fill = raw_bytes(value);
    void* ref = gather_ref(src, mlx_dtype_size(t), out_shape, nd, pad_map, &c, fill);
    char what[64];
    snprintf(what, sizeof what, "pad %s", mode);
    check_result(r, t, out_shape, nd, ref, what);
    for (int d = 0; d < nd; d++) free(c.maps[d]);
    free(ref);
    free(src);
    free(fill);
    mlx_array_free(value);
    mlx_array_free(a);
    mlx_array_free(r);
  }
}

static void test_pad_cases(void) {
  /* the padding value is cast to the array's dtype; a listed axis twice
   * gets both paddings */
  int32_t x[3] = {1, 2, 3};
  int s3 = 3;
  mlx_array a = test_array_i32(x, &s3, 1), v = mlx_array_new_float(7.9f), r = mlx_array_new();
  int axes[2] = {0, -1}, low[2] = {1, 0}, high[2] = {0, 2};
  CHECK_OK(mlx_pad(&r, a, axes, 2, low, 2, high, 2, v, "constant", test_stream));
  int32_t want[6] = {7, 1, 2, 3, 7, 7};
  int s6 = 6;
  check_result(r, MLX_INT32, &s6, 1, want, "pad twice");
  /* reflect of a single element repeats it (MLX: no edge to skip) */
  int one = 1, w = 2;
  mlx_array b = test_array_i32(x, &one, 1);
  CHECK_OK(mlx_pad_symmetric(&r, b, w, v, "reflect", test_stream));
  int32_t ones[5] = {1, 1, 1, 1, 1};
  int s5 = 5;
  check_result(r, MLX_INT32, &s5, 1, ones, "reflect of one element");
  /* no padding gives the input back; a 0-d array has nothing to pad */
  int zero = 0;
  CHECK_OK(mlx_pad(&r, a, &zero, 1, &zero, 1, &zero, 1, v, "reflect", test_stream));
  CHECK(r.ctx == a.ctx);
  mlx_array s = mlx_array_new_float(2);
  CHECK_OK(mlx_pad_symmetric(&r, s, 3, v, "constant", test_stream));
  CHECK(r.ctx == s.ctx);
  /* empty arrays: constant fills; edge with padding on both sides of the
   * empty axis and reflect along a non-empty one give zeros */
  int s02[2] = {0, 2};
  mlx_array e = mlx_array_new();
  CHECK_OK(mlx_zeros(&e, s02, 2, MLX_INT32, test_stream));
  CHECK_OK(mlx_pad_symmetric(&r, e, 1, v, "constant", test_stream));
  int s24[2] = {2, 4};
  int32_t sevens[8] = {7, 7, 7, 7, 7, 7, 7, 7}, zeros[8] = {0};
  check_result(r, MLX_INT32, s24, 2, sevens, "constant pad of empty");
  CHECK_OK(mlx_pad_symmetric(&r, e, 1, v, "edge", test_stream));
  check_result(r, MLX_INT32, s24, 2, zeros, "edge pad of empty");
  int ax1 = 1, l1 = 1;
  CHECK_OK(mlx_pad(&r, e, &ax1, 1, &l1, 1, &l1, 1, v, "symmetric", test_stream));
  int s04[2] = {0, 4};
  check_result(r, MLX_INT32, s04, 2, zeros, "symmetric pad of empty along a full axis");
  /* errors, in MLX's order */
  int two_axes[2] = {0, 1}, neg = -1;
  EXPECT_ERROR(mlx_pad(&r, a, two_axes, 2, low, 1, high, 2, v, "constant", test_stream),
               "Invalid number of padding sizes passed to pad with axes of size 2");
  EXPECT_ERROR(mlx_pad(&r, a, &zero, 1, &neg, 1, &zero, 1, v, "constant", test_stream),
               "Invalid low padding size (-1) passed to pad for axis 0. Padding sizes must be "
               "non-negative");
  EXPECT_ERROR(mlx_pad(&r, a, &zero, 1, &zero, 1, &neg, 1, v, "constant", test_stream),
               "Invalid high padding size (-1) passed to pad for axis 0. Padding sizes must be "
               "non-negative");
  EXPECT_ERROR(mlx_pad(&r, a, &ax1, 1, &zero, 1, &zero, 1, v, "constant", test_stream),
               "[pad] Axis 1 is out of bounds for array with 1 dimensions.");
  int big = 2147483646;
  EXPECT_ERROR(mlx_pad(&r, a, &zero, 1, &big, 1, &zero, 1, v, "constant", test_stream),
               "[pad] Shape dimension 2147483649 is outside the supported range [-2147483648, "
               "2147483647]. MLX currently uses 32-bit integers for shape dimensions.");
  EXPECT_ERROR(mlx_pad_symmetric(&r, a, 1, v, "wrap", test_stream),
               "Invalid padding mode (wrap) passed to pad");
  EXPECT_ERROR(mlx_pad_symmetric(&r, a, 1, v, NULL, test_stream),
               "[pad] The mode pointer is NULL.");
  EXPECT_ERROR(mlx_pad_symmetric(&r, e, 1, v, "symmetric", test_stream),
               "[pad] Cannot pad empty axis 0 using mode 'symmetric'.");
  int m2 = -2;
  EXPECT_ERROR(mlx_pad(&r, e, &m2, 1, &l1, 1, &zero, 1, v, "reflect", test_stream),
               "[pad] Cannot pad empty axis -2 using mode 'reflect'.");
  EXPECT_ERROR(mlx_pad(&r, e, &zero, 1, &w, 1, &zero, 1, v, "edge", test_stream),
               "[broadcast_shapes] Shapes (0,2) and (2,2) cannot be broadcast.");
  EXPECT_ERROR(mlx_pad(&r, e, &zero, 1, &zero, 1, &l1, 1, v, "edge", test_stream),
               "Cannot broadcast array of shape (0,2) into shape (1,2).");
  int s2 = 2;
  mlx_array vv = test_array_i32(x, &s2, 1);
  EXPECT_ERROR(mlx_pad_symmetric(&r, a, 1, vv, "constant", test_stream),
               "[pad] The padding value must have one element, but got an array of shape (2).");
  mlx_array empty = mlx_array_new();
  EXPECT_ERROR(mlx_pad_symmetric(&r, a, 1, empty, "constant", test_stream),
               "[pad] The second array is empty (an mlx_array_new() handle).");
  /* the padding value is not used (nor checked) by the other modes */
  CHECK_OK(mlx_pad_symmetric(&r, a, 1, vv, "edge", test_stream));
  mlx_array_free(vv);
  mlx_array_free(e);
  mlx_array_free(s);
  mlx_array_free(b);
  mlx_array_free(a);
  mlx_array_free(v);
  mlx_array_free(r);
}

/* ---- roll ---- */

typedef struct roll_ctx {
  int nd;
  const int* shape;
  int64_t split[MAXD]; /* per axis: out[i] = in[(i + split) mod n] */
} roll_ctx;

static int64_t roll_map(const int* idx, const void* p) {
  const roll_ctx* c = p;
  int local[MAXD];
  for (int d = 0; d < c->nd; d++)
    local[d] = c->shape[d] ? (int)((idx[d] + c->split[d]) % c->shape[d]) : 0;
  return (int64_t)ravel(local, c->shape, c->nd);
}

/* MLX's split point for a shift along an axis of size n: the parts
 * [split, n) then [0, split). */
static int64_t roll_split(int64_t shift, int64_t n) {
  return shift < 0 ? (-shift) % n : n - shift % n;
}

static void test_roll(void) {
  for (int trial = 0; trial < 150; trial++) {
    int shape[MAXD], nd = rand_int(0, 3);
    for (int d = 0; d < nd; d++) shape[d] = rand_int(0, 5);
    mlx_dtype t = rand_dtype();
    mlx_array a = rand_array(t, shape, nd);
    void* src = raw_bytes(a);
    size_t es = mlx_dtype_size(t);
    mlx_array r = mlx_array_new();
    roll_ctx c = {nd, shape, {0}};
    int shifts[4] = {rand_int(-12, 12), rand_int(-12, 12), rand_int(-12, 12), rand_int(-12, 12)};
    int form = nd ? trial % 3 : 0;
    if (form == 0) {
      /* flat: the sum of the shifts along the flattened array */
      int ns = rand_int(0, 3);
      CHECK_OK(mlx_roll(&r, a, shifts, (size_t)ns, test_stream));
      int64_t total = 0, size = (int64_t)shape_size(shape, nd);
      for (int i = 0; i < ns; i++) total += shifts[i];
      int flat = (int)size;
      roll_ctx fc = {1, &flat, {size ? roll_split(total, size) : 0}};
      void* ref = gather_ref(src, es, &flat, 1, roll_map, &fc, NULL);
      check_result(r, t, shape, nd, ref, "roll");
      free(ref);
    } else {
      int axes[4], na;
      if (form == 1) {
        na = 1;
        axes[0] = rand_int(-nd, nd - 1);
        int ns = rand_int(1, 3), total = 0;
        for (int i = 0; i < ns; i++) total += shifts[i];
        CHECK_OK(mlx_roll_axis(&r, a, shifts, (size_t)ns, axes[0], test_stream));
        shifts[0] = total;
      } else {
        na = rand_int(0, 4); /* axes may repeat */
        for (int i = 0; i < na; i++) axes[i] = rand_int(-nd, nd - 1);
        CHECK_OK(mlx_roll_axes(&r, a, shifts, 4, axes, (size_t)na, test_stream));
      }
      for (int i = 0; i < na; i++) {
        int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
        if (shape[ax]) c.split[ax] = (c.split[ax] + roll_split(shifts[i], shape[ax])) % shape[ax];
      }
      void* ref = gather_ref(src, es, shape, nd, roll_map, &c, NULL);
      check_result(r, t, shape, nd, ref, "roll_axes");
      free(ref);
    }
    free(src);
    mlx_array_free(a);
    mlx_array_free(r);
  }
  int s23[2] = {2, 3}, sh[2] = {1, 2}, axes[2] = {0, 2};
  mlx_array a = mlx_array_new(), r = mlx_array_new();
  CHECK_OK(mlx_zeros(&a, s23, 2, MLX_FLOAT32, test_stream));
  EXPECT_ERROR(mlx_roll_axes(&r, a, sh, 1, axes, 2, test_stream),
               "[roll] At least one shift value per axis is required, 1 provided for 2 axes.");
  EXPECT_ERROR(mlx_roll_axes(&r, a, sh, 2, axes, 2, test_stream),
               "[roll] Invalid axis 2 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_roll_axis(&r, a, sh, 1, -3, test_stream),
               "[roll] Invalid axis -3 for array with 2 dimensions.");
  int big[2] = {2147483647, 1};
  EXPECT_ERROR(mlx_roll(&r, a, big, 2, test_stream),
               "[roll] Shape dimension 2147483648 is outside the supported range [-2147483648, "
               "2147483647]. MLX currently uses 32-bit integers for shape dimensions.");
  /* no axes: the input itself */
  CHECK_OK(mlx_roll_axes(&r, a, sh, 2, NULL, 0, test_stream));
  CHECK(r.ctx == a.ctx);
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- diagonal / diag / trace ---- */

typedef struct diag_ctx {
  int nd, ax1, ax2, off1, off2; /* nd: the input's */
  const int* shape;
} diag_ctx;

static int64_t diagonal_map(const int* idx, const void* p) {
  const diag_ctx* c = p;
  int local[MAXD];
  for (int d = 0, o = 0; d < c->nd; d++)
    if (d != c->ax1 && d != c->ax2) local[d] = idx[o++];
  local[c->ax1] = c->off1 + idx[c->nd - 2];
  local[c->ax2] = c->off2 + idx[c->nd - 2];
  return (int64_t)ravel(local, c->shape, c->nd);
}

static int64_t diag_embed_map(const int* idx, const void* p) {
  const diag_ctx* c = p;
  return idx[0] - c->off1 == idx[1] - c->off2 && idx[0] >= c->off1 ? idx[0] - c->off1 : -1;
}

static void test_diagonals(void) {
  for (int trial = 0; trial < 150; trial++) {
    int shape[MAXD], nd = rand_int(2, 4);
    for (int d = 0; d < nd; d++) shape[d] = rand_int(0, 5);
    int ax1 = rand_int(0, nd - 1), ax2 = rand_int(0, nd - 2);
    if (ax2 >= ax1) ax2++;
    int offset = rand_int(-6, 6);
    mlx_dtype t = rand_dtype();
    mlx_array a = rand_array(t, shape, nd);
    void* src = raw_bytes(a);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_diagonal(&r, a, offset, rand_int(0, 1) ? ax1 - nd : ax1,
                          rand_int(0, 1) ? ax2 - nd : ax2, test_stream));
    int off1 = offset < 0 ? -offset : 0, off2 = offset > 0 ? offset : 0;
    int len = shape[ax1] - off1 < shape[ax2] - off2 ? shape[ax1] - off1 : shape[ax2] - off2;
    int out_shape[MAXD];
    for (int d = 0, o = 0; d < nd; d++)
      if (d != ax1 && d != ax2) out_shape[o++] = shape[d];
    out_shape[nd - 2] = len < 0 ? 0 : len;
    diag_ctx c = {nd, ax1, ax2, off1, off2, shape};
    void* ref = gather_ref(src, mlx_dtype_size(t), out_shape, nd - 1, diagonal_map, &c, NULL);
    check_result(r, t, out_shape, nd - 1, ref, "diagonal");
    /* a view: the result shares the input's buffer */
    if (out_shape[nd - 2] > 0 && shape_size(out_shape, nd - 1) > 0) {
      mlx_array_eval(r);
      CHECK(api_array(r)->buf == api_array(a)->buf);
    }
    free(ref);
    /* trace: the diagonal summed in float64 */
    if (t != MLX_COMPLEX64) {
      CHECK_OK(mlx_trace(&r, a, offset, ax1, ax2, MLX_FLOAT64, test_stream));
      double *re, *im;
      read_values(a, &re, &im);
      size_t m = shape_size(out_shape, nd - 2);
      double* want = calloc(m ? m : 1, sizeof(double));
      for (size_t i = 0; i < shape_size(out_shape, nd - 1); i++) {
        int idx[MAXD];
        unravel(i, out_shape, nd - 1, idx);
        want[i / (size_t)(out_shape[nd - 2] ? out_shape[nd - 2] : 1)] +=
            re[diagonal_map(idx, &c)];
      }
      double* got = test_to_f64(r);
      bool ok = test_shape_is(r, out_shape, nd - 2) && mlx_array_dtype(r) == MLX_FLOAT64;
      for (size_t i = 0; ok && i < m; i++)
        ok = fabs(got[i] - want[i]) <= 1e-9 * (1 + fabs(want[i]));
      CHECK_MSG(ok, "trace of %s", dtype_name(t));
      free(got);
      free(want);
      free(re);
      free(im);
    }
    free(src);
    mlx_array_free(a);
    /* diag of a vector: placed on the k-th diagonal of zeros */
    int n = rand_int(0, 4), k = rand_int(-3, 3);
    mlx_array v = rand_array(t, &n, 1);
    src = raw_bytes(v);
    CHECK_OK(mlx_diag(&r, v, k, test_stream));
    int m = n + abs(k), sq[2] = {m, m};
    diag_ctx dc = {2, 0, 1, k < 0 ? -k : 0, k > 0 ? k : 0, sq};
    char zero[16] = {0};
    ref = gather_ref(src, mlx_dtype_size(t), sq, 2, diag_embed_map, &dc, zero);
    check_result(r, t, sq, 2, ref, "diag of a vector");
    free(ref);
    free(src);
    mlx_array_free(v);
    mlx_array_free(r);
  }
  /* diag of a matrix is its diagonal; trace keeps the dtype by default */
  int32_t x[6] = {1, 2, 3, 4, 5, 6};
  int s23[2] = {2, 3}, s3[3] = {1, 2, 3};
  mlx_array a = test_array_i32(x, s23, 2), r = mlx_array_new();
  CHECK_OK(mlx_diag(&r, a, 1, test_stream));
  int32_t d1[2] = {2, 6};
  int two = 2;
  check_result(r, MLX_INT32, &two, 1, d1, "diag of a matrix");
  CHECK_OK(mlx_trace(&r, a, 0, 0, 1, MLX_INT32, test_stream));
  int32_t tr = 6;
  check_result(r, MLX_INT32, NULL, 0, &tr, "trace");
  /* errors */
  mlx_array v1 = test_array_i32(x, &two, 1), b = test_array_i32(x, s3, 3);
  EXPECT_ERROR(mlx_diagonal(&r, v1, 0, 0, 1, test_stream),
               "[diagonal] Array must have at least two dimensions, but got 1 dimensions.");
  EXPECT_ERROR(mlx_diagonal(&r, a, 0, 2, 1, test_stream),
               "[diagonal] Invalid axis1 2 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_diagonal(&r, a, 0, 0, -3, test_stream),
               "[diagonal] Invalid axis2 -3 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_diagonal(&r, a, 0, 1, -1, test_stream),
               "[diagonal] axis1 and axis2 cannot be the same axis");
  EXPECT_ERROR(mlx_trace(&r, v1, 0, 0, 1, MLX_INT32, test_stream),
               "[trace] Array must have at least two dimensions, but got 1 dimensions.");
  EXPECT_ERROR(mlx_trace(&r, a, 0, -3, 1, MLX_INT32, test_stream),
               "[trace] Invalid axis1 -3 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_trace(&r, a, 0, 0, 2, MLX_INT32, test_stream),
               "[trace] Invalid axis2 2 for array with 2 dimensions.");
  EXPECT_ERROR(mlx_trace(&r, a, 0, 0, 0, MLX_INT32, test_stream),
               "[trace] axis1 and axis2 cannot be the same axis");
  EXPECT_ERROR(mlx_diag(&r, b, 0, test_stream),
               "[diag] array must be 1-D or 2-D, got array with 3 dimensions.");
  mlx_array_free(v1);
  mlx_array_free(b);
  mlx_array_free(a);
  mlx_array_free(r);
}

/* ---- meshgrid / kron ---- */

static void test_meshgrid(void) {
  for (int trial = 0; trial < 40; trial++) {
    int n = rand_int(0, 3), len[3];
    bool sparse = rand_int(0, 1), xy = rand_int(0, 1);
    mlx_array in[3];
    double* vals[3];
    for (int i = 0; i < n; i++) {
      /* any shape: meshgrid flattens each input */
      int sh[2] = {rand_int(0, 2), rand_int(1, 3)};
      in[i] = rand_array(MLX_FLOAT32, sh, 2);
      len[i] = sh[0] * sh[1];
      double* im;
      read_values(in[i], &vals[i], &im);
      free(im);
    }
    mlx_vector_array v = vec_of(in, n), outs = mlx_vector_array_new();
    CHECK_OK(mlx_meshgrid(&outs, v, sparse, xy ? "xy" : "ij", test_stream));
    CHECK(mlx_vector_array_size(outs) == (size_t)n);
    /* axis of input i in the grid; "xy" swaps the first two */
    int along[3], full[3];
    for (int i = 0; i < n; i++) along[i] = (xy && n > 1 && i < 2) ? 1 - i : i;
    for (int i = 0; i < n; i++) full[along[i]] = len[i];
    for (int i = 0; i < n && mlx_vector_array_size(outs) == (size_t)n; i++) {
      mlx_array o = mlx_array_new();
      mlx_vector_array_get(&o, outs, (size_t)i);
      int want_shape[3];
      for (int d = 0; d < n; d++) want_shape[d] = sparse ? (d == along[i] ? len[i] : 1) : full[d];
      CHECK(test_shape_is(o, want_shape, n));
      double* got = test_to_f64(o);
      bool ok = true;
      for (size_t k = 0; k < shape_size(want_shape, n); k++) {
        int idx[3];
        unravel(k, want_shape, n, idx);
        ok &= got[k] == vals[i][idx[along[i]]];
      }
      CHECK_MSG(ok, "meshgrid values (n %d, %s, sparse %d)", n, xy ? "xy" : "ij", sparse);
      free(got);
      mlx_array_free(o);
    }
    for (int i = 0; i < n; i++) {
      mlx_array_free(in[i]);
      free(vals[i]);
    }
    mlx_vector_array_free(v);
    mlx_vector_array_free(outs);
  }
  mlx_vector_array v = mlx_vector_array_new(), outs = mlx_vector_array_new();
  EXPECT_ERROR(mlx_meshgrid(&outs, v, false, "yx", test_stream),
               "[meshgrid] Invalid indexing value. Valid values are 'xy' and 'ij'.");
  EXPECT_ERROR(mlx_meshgrid(&outs, v, false, NULL, test_stream),
               "[meshgrid] Invalid indexing value. Valid values are 'xy' and 'ij'.");
  mlx_vector_array_free(v);
  mlx_vector_array_free(outs);
}

static void test_kron(void) {
  for (int trial = 0; trial < 80; trial++) {
    int sa[3], sb[3], na = rand_int(0, 3), nb = rand_int(0, 3);
    for (int d = 0; d < na; d++) sa[d] = rand_int(1, 3);
    for (int d = 0; d < nb; d++) sb[d] = rand_int(1, 3);
    mlx_dtype ta = rand_dtype(), tb = rand_dtype();
    if (ta == MLX_COMPLEX64 || tb == MLX_COMPLEX64) ta = tb = MLX_FLOAT32;
    mlx_array a = make_view((layout_kind)rand_int(0, 3), ta, sa, na, -3, 3, -3, 3);
    mlx_array b = make_view((layout_kind)rand_int(0, 3), tb, sb, nb, -3, 3, -3, 3);
    mlx_array r = mlx_array_new();
    CHECK_OK(mlx_kron(&r, a, b, test_stream));
    int nd = na > nb ? na : nb, out[3], pa[3], pb[3];
    for (int d = 0; d < nd; d++) {
      pa[d] = d < nd - na ? 1 : sa[d - (nd - na)];
      pb[d] = d < nd - nb ? 1 : sb[d - (nd - nb)];
      out[d] = pa[d] * pb[d];
    }
    CHECK(test_shape_is(r, out, nd) && mlx_array_dtype(r) == dtype_promote(ta, tb));
    double *va, *vb, *im, *got = test_to_f64(r);
    read_values(a, &va, &im);
    free(im);
    read_values(b, &vb, &im);
    free(im);
    bool ok = true;
    mlx_dtype t = dtype_promote(ta, tb);
    for (size_t i = 0; i < shape_size(out, nd); i++) {
      int idx[3], ia[3], ib[3];
      unravel(i, out, nd, idx);
      for (int d = 0; d < nd; d++) {
        ia[d] = idx[d] / pb[d];
        ib[d] = idx[d] % pb[d];
      }
      double want = va[ravel(ia, pa, nd)] * vb[ravel(ib, pb, nd)];
      if (t == MLX_BOOL) want = want != 0;
      ok &= got[i] == round_to(t, want);
    }
    CHECK_MSG(ok, "kron %s x %s", dtype_name(ta), dtype_name(tb));
    free(va);
    free(vb);
    free(got);
    mlx_array_free(a);
    mlx_array_free(b);
    mlx_array_free(r);
  }
  int s0 = 0;
  mlx_array e = mlx_array_new(), a = mlx_array_new_float(1), r = mlx_array_new();
  CHECK_OK(mlx_zeros(&e, &s0, 1, MLX_FLOAT32, test_stream));
  EXPECT_ERROR(mlx_kron(&r, e, a, test_stream), "[kron] Input arrays cannot be empty.");
  EXPECT_ERROR(mlx_kron(&r, a, e, test_stream), "[kron] Input arrays cannot be empty.");
  mlx_array_free(e);
  mlx_array_free(a);
  mlx_array_free(r);
}

/* Larger arrays take the threaded paths of the kernels. */
static void test_large(void) {
  int shape[2] = {300, 257};
  mlx_array a = make_view(LAYOUT_TRANSPOSED, MLX_FLOAT32, shape, 2, -1, 1, 0, 0);
  mlx_array b = make_view(LAYOUT_CONTIGUOUS, MLX_FLOAT32, shape, 2, -1, 1, 0, 0);
  mlx_array in[2] = {a, b}, r = mlx_array_new(), back = mlx_array_new();
  mlx_vector_array v = vec_of(in, 2), parts = mlx_vector_array_new();
  /* concatenate then split gives the inputs back */
  CHECK_OK(mlx_concatenate_axis(&r, v, 1, test_stream));
  CHECK_OK(mlx_split(&parts, r, 2, 1, test_stream));
  for (int k = 0; k < 2; k++) {
    CHECK_OK(mlx_vector_array_get(&back, parts, (size_t)k));
    void* want = raw_bytes(in[k]);
    check_result(back, MLX_FLOAT32, shape, 2, want, "concatenate + split");
    free(want);
  }
  /* roll forth and back */
  int sh[2] = {17, -100}, axes[2] = {0, 1}, unsh[2] = {-17, 100};
  mlx_array rolled = mlx_array_new();
  CHECK_OK(mlx_roll_axes(&rolled, a, sh, 2, axes, 2, test_stream));
  CHECK_OK(mlx_roll_axes(&r, rolled, unsh, 2, axes, 2, test_stream));
  void* want = raw_bytes(a);
  check_result(r, MLX_FLOAT32, shape, 2, want, "roll and unroll");
  free(want);
  mlx_array_free(rolled);
  mlx_array_free(back);
  mlx_vector_array_free(parts);
  mlx_vector_array_free(v);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(r);
}

int main(void) {
  test_init();
  test_concatenate_random();
  test_concatenate_forms();
  test_concatenate_errors();
  test_stack_random();
  test_split();
  test_tile_repeat();
  test_pad_random();
  test_pad_cases();
  test_roll();
  test_diagonals();
  test_meshgrid();
  test_kron();
  test_large();
  return test_finish("test_join");
}
