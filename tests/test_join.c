/* test_join.c - concatenate, stack, split, tile and repeat (pad, roll,
 * diag, diagonal, trace, meshgrid and kron are in test_join_pad.c).
 *
 * What it proves:
 * - every op moves exactly the right bytes, for every dtype: outputs are
 *   compared byte for byte with a reference gathered here from the input's
 *   row-major bytes through an index map written independently of the
 *   kernels;
 * - random shapes with size-0 and size-1 axes, negative axes, 0-d arrays,
 *   and inputs that are transposed, sliced (a reversed axis) or broadcast
 *   views; larger arrays take the threaded paths;
 * - concatenate and stack promote mixed dtypes as MLX does;
 * - every error path with MLX's exact text (and ours where MLX has none). */
#include "join_util.h"

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
  test_large();
  return test_finish("test_join");
}
