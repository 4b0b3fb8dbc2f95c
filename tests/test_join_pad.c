/* test_join_pad.c - pad, roll, diag, diagonal, trace, meshgrid and kron
 * (concatenate, stack, split, tile and repeat are in test_join.c).
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
 * - diagonal is a view (it shares its input's buffer), trace sums it in
 *   the requested dtype, kron matches a double-precision reference;
 * - every error path with MLX's exact text (and ours where MLX has none). */
#include "join_util.h"

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

int main(void) {
  test_init();
  test_pad_random();
  test_pad_cases();
  test_roll();
  test_diagonals();
  test_meshgrid();
  test_kron();
  return test_finish("test_join_pad");
}
