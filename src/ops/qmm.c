/* qmm.c - front-ends of quantized_matmul, gather_qmm, qqmm and gather_mm.
 *
 * Each follows MLX 0.32.2's ops.cpp step by step (validate_mode_with_type,
 * quantization_params_from_mode, validate_quantized_input,
 * extract_quantized_matmul_dims, indices_or_default, validate_qqmm_inputs)
 * with MLX's messages in MLX's order, then makes one node: QuantizedMatmul,
 * GatherQMM and QQMatmul run in backend/cpu/qmm.c, GatherMM in
 * backend/cpu/gather_mm.c.
 *
 * Output dtypes are MLX's: affine promotes x with the scales' and biases'
 * type; the fp modes keep x's dtype. MLX casts x, scales and biases to that
 * dtype; we leave out the casts that only widen float16/bfloat16 to
 * float32 (exact: the kernel widens as it reads), so no widened copy of the
 * scales is ever made.
 *
 * Where MLX reads out of range or divides by zero instead of reporting
 * (docs/semantics.md lists these), we report instead, after MLX's own
 * checks have had their turn: bits or group_size <= 0 ("Invalid value for
 * bits: 0", dequantize's text), x with no axes, w with fewer than two,
 * scales whose rank or row count differs from w's, fp modes with a group
 * size or bit width other than the mode's (MLX's CPU would silently read
 * them as another format), qqmm in affine mode or with scales that are not
 * uint8. Unsupported affine group sizes and bit widths fail at eval with
 * MLX's kernel messages, as in MLX. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/qmm.h"
#include "core/error.h"
#include "ops/linalg.h"
#include "ops/ops.h"
#include "ops/qmm.h"
#include "ops/quantized.h"

static const primitive prim_qmm = {"QuantizedMatmul", cpu_qmm_eval, NULL, NULL};
static const primitive prim_gather_qmm = {"GatherQMM", cpu_qmm_eval, NULL, NULL};
static const primitive prim_qqmm = {"QQMatmul", cpu_qmm_eval, NULL, NULL};
static const primitive prim_gather_mm = {"GatherMM", cpu_gather_mm_eval, NULL, NULL};

#define SHAPE_TEXT 1024

/* ---- small helpers ---- */

static array* keep(array* a) {
  if (a) array_retain(a);
  return a;
}

/* Releases every non-NULL array of list. */
static void release_all(array** list, int n) {
  for (int i = 0; i < n; i++) array_release(list[i]);
}

static bool same_shape(const array* a, const array* b) {
  return a->ndim == b->ndim && memcmp(a->shape, b->shape, sizeof(int) * (size_t)a->ndim) == 0;
}

static const char* fmt_shape(char* buf, const array* a) {
  return error_format_shape(buf, SHAPE_TEXT, a->shape, a->ndim);
}

/* a cast to t as MLX's astype(a, t), except that float16/bfloat16 ->
 * float32 is left to the kernel (exact either way). */
static array* cast_for_kernel(array* a, mlx_dtype t, stream s) {
  if (!a) return NULL;
  if (a->dtype == t || (t == MLX_FLOAT32 && dtype_is_half(a->dtype))) return keep(a);
  return op_astype(a, t, s);
}

static qmm_params* params_new(const char* tag, quant_mode mode, int group_size, int bits,
                              bool transpose) {
  qmm_params* p = calloc(1, sizeof *p);
  if (!p) {
    error_set("[%s] Out of memory.", tag);
    return NULL;
  }
  p->mode = mode;
  p->group_size = group_size;
  p->bits = bits;
  p->transpose = transpose;
  return p;
}

/* A node of shape head + tail (tail: the matrix axes). Owns params. */
static array* new_node(mlx_dtype t, const int* head, int nh, const int* tail, int nt,
                       const primitive* prim, void* params, array* const* in, int n_in,
                       stream s) {
  int shape[nh + nt + 1];
  memcpy(shape, head, sizeof(int) * (size_t)nh);
  memcpy(shape + nh, tail, sizeof(int) * (size_t)nt);
  return array_new_op(t, nh + nt, shape, prim, params, in, n_in, s);
}

/* ---- shared validation ---- */

/* MLX's validate_quantized_input, plus the rank checks MLX leaves out. */
static int check_quantized_input(const char* tag, const array* w, const array* scales,
                                 const array* biases, int group_size, int bits) {
  char a[SHAPE_TEXT], b[SHAPE_TEXT];
  if (w->dtype != MLX_UINT32)
    return error_set("[%s] The weight matrix should be uint32 but received %s", tag,
                     dtype_name(w->dtype));
  if (w->ndim < 2)
    return error_set("[%s] The quantized weight matrix must have at least 2 dimensions but "
                     "it has only %d.",
                     tag, w->ndim);
  if (biases && !same_shape(scales, biases))
    return error_set("[%s] Scales and biases should have the same shape. Received scales "
                     "with shape %s and biases with %s",
                     tag, fmt_shape(a, scales), fmt_shape(b, biases));
  bool batch_ok = scales->ndim == w->ndim;
  for (int i = 0; batch_ok && i < w->ndim - 2; i++) batch_ok = scales->shape[i] == w->shape[i];
  if (!batch_ok)
    return error_set("[%s] Weight and scales should have the same batch shape. Received "
                     "weight with shape %s, scales with %s.",
                     tag, fmt_shape(a, w), fmt_shape(b, scales));
  int64_t unpacked = (int64_t)w->shape[w->ndim - 1] * 32 / bits;
  if (unpacked != (int64_t)scales->shape[scales->ndim - 1] * group_size ||
      scales->shape[scales->ndim - 2] != w->shape[w->ndim - 2])
    return error_set("[%s] The shapes of the weight and scales are incompatible based on "
                     "bits and group_size. w.shape() == %s and scales.shape() == %s with "
                     "group_size=%d and bits=%d",
                     tag, fmt_shape(a, w), fmt_shape(b, scales), group_size, bits);
  return 0;
}

/* MLX's extract_quantized_matmul_dims: the dequantized w is inner x outer
 * (K x N); x's last axis must be K. */
static int extract_dims(const char* tag, const array* x, const array* w, const array* scales,
                        const array* biases, bool transpose, int group_size, int bits,
                        int* inner, int* outer) {
  if (check_quantized_input(tag, w, scales, biases, group_size, bits)) return 1;
  if (x->ndim == 0)
    return error_set("[%s] The input must have at least 1 dimension but it has 0.", tag);
  int x_inner = x->shape[x->ndim - 1];
  int64_t unpacked = (int64_t)w->shape[w->ndim - 1] * 32 / bits;
  int64_t w_inner = transpose ? unpacked : w->shape[w->ndim - 2];
  int64_t w_outer = transpose ? w->shape[w->ndim - 2] : unpacked;
  if (w_inner != x_inner) {
    char ws[SHAPE_TEXT];
    return error_set("[%s] Last dimension of first input with shape (..., %d) does not match "
                     "the expanded quantized matrix (%lld, %lld) computed from shape %s with "
                     "group_size=%d, bits=%d and transpose=%s",
                     tag, x_inner, (long long)w_inner, (long long)w_outer, fmt_shape(ws, w),
                     group_size, bits, transpose ? "true" : "false");
  }
  if (w_outer > INT32_MAX) return error_set("[%s] The quantized matrix is too large.", tag);
  *inner = (int)w_inner;
  *outer = (int)w_outer;
  return 0;
}

/* bits and group_size divide and multiply shapes: MLX divides by bits
 * without a check. */
static int check_positive(const char* tag, int group_size, int bits) {
  if (bits <= 0) return error_set("[%s] Invalid value for bits: %d", tag, bits);
  if (group_size <= 0) return error_set("[%s] Invalid value for group_size: %d", tag, group_size);
  return 0;
}

typedef struct qmm_setup {
  quant_mode mode;
  int group_size, bits;
  int inner, outer; /* K, N */
  mlx_dtype out;
} qmm_setup;

/* The checks quantized_matmul and gather_qmm share, in MLX's order. */
static int qmm_validate(const char* tag, const array* x, const array* w, const array* scales,
                        const array* biases, bool transpose, const int* group_size,
                        const int* bits, const char* mode, qmm_setup* st) {
  mlx_dtype t;
  if (quant_check_mode_with_type(tag, mode, scales, biases, NULL, &st->mode, &t)) return 1;
  quant_resolve_params(st->mode, group_size, bits, &st->group_size, &st->bits);
  if (check_positive(tag, st->group_size, st->bits)) return 1;
  if (extract_dims(tag, x, w, scales, biases, transpose, st->group_size, st->bits, &st->inner,
                   &st->outer))
    return 1;
  st->out = st->mode == QUANT_AFFINE ? dtype_promote(x->dtype, t) : x->dtype;
  if (!dtype_is_floating(st->out))
    return error_set("[%s] Only real floating types are supported but x.dtype() == %s.", tag,
                     dtype_name(x->dtype));
  if (st->mode != QUANT_AFFINE &&
      quant_check_fp_params(tag, st->mode, st->group_size, st->bits))
    return 1;
  return 0;
}

/* ---- quantized_matmul ---- */

/* MLX's broadcast_arrays(inputs, {-2, -1}): the batch axes of all inputs
 * broadcast together (shapes accumulate left to right, as MLX reports
 * them); each keeps its own last two axes. Replaces in[i] by the views. */
static int broadcast_batches(array** in, int n, stream s) {
  int nd = 0;
  for (int i = 0; i < n; i++)
    if (in[i]->ndim - 2 > nd) nd = in[i]->ndim - 2;
  int batch[nd + 1], tmp[nd + 1], cur = 0;
  for (int i = 0; i < n; i++) {
    if (broadcast_shapes(batch, cur, in[i]->shape, in[i]->ndim - 2, tmp, &cur)) return 1;
    memcpy(batch, tmp, sizeof(int) * (size_t)cur);
  }
  for (int i = 0; i < n; i++) {
    int shape[cur + 2];
    memcpy(shape, batch, sizeof(int) * (size_t)cur);
    shape[cur] = in[i]->shape[in[i]->ndim - 2];
    shape[cur + 1] = in[i]->shape[in[i]->ndim - 1];
    array* v = op_broadcast_to(in[i], shape, cur + 2, s);
    if (!v) return 1;
    array_release(in[i]);
    in[i] = v;
  }
  return 0;
}

array* op_quantized_matmul(array* x, array* w, array* scales, array* biases, bool transpose,
                           const int* group_size, const int* bits, const char* mode, stream s) {
  const char* tag = "quantized_matmul";
  qmm_setup st;
  if (qmm_validate(tag, x, w, scales, biases, transpose, group_size, bits, mode, &st))
    return NULL;
  bool affine = st.mode == QUANT_AFFINE;
  array* in[4] = {cast_for_kernel(x, st.out, s), keep(w),
                  affine ? cast_for_kernel(scales, st.out, s) : keep(scales),
                  affine ? cast_for_kernel(biases, st.out, s) : NULL};
  int n_in = affine ? 4 : 3;
  array* out = NULL;
  for (int i = 0; i < n_in; i++)
    if (!in[i]) goto done;
  bool batched = x->ndim > 2 && w->ndim > 2;
  if (batched && broadcast_batches(in, n_in, s)) goto done;
  qmm_params* p = params_new(tag, st.mode, st.group_size, st.bits, transpose);
  if (!p) goto done;
  p->batched = batched;
  out = new_node(st.out, in[0]->shape, in[0]->ndim - 1, &st.outer, 1, &prim_qmm, p, in, n_in, s);
done:
  release_all(in, 4);
  return out;
}

/* ---- gather_qmm / gather_mm indices ---- */

/* MLX's indices_or_default: a's batch axes (all but the last two) index
 * by the given integers (cast to uint32), or by arange over them. tag
 * carries the brackets ("[gather_qmm]"). */
static array* indices_or_default(const char* tag, array* indices, array* a, stream s) {
  if (a->ndim < 2) {
    char sh[SHAPE_TEXT];
    error_set("%s Input must have at least two dimensions but got input with shape %s.", tag,
              fmt_shape(sh, a));
    return NULL;
  }
  if (indices) {
    if (!dtype_is_integer(indices->dtype)) {
      error_set("%s Got indices with invalid dtype. Indices must be integral.", tag);
      return NULL;
    }
    return op_astype(indices, MLX_UINT32, s);
  }
  int nb = a->ndim - 2;
  int64_t total = 1;
  for (int i = 0; i < nb; i++) total *= a->shape[i];
  if (total > INT32_MAX) {
    error_set("%s The batch of the input is too large.", tag);
    return NULL;
  }
  array* r = op_arange(0, (double)total, 1, MLX_UINT32, s);
  array* out = r ? op_reshape(r, a->shape, nb, s) : NULL;
  array_release(r);
  return out;
}

/* Both index arrays (given or default), broadcast against each other. */
static int gather_indices(const char* tag, array* lhs, array* rhs, array* a, array* b,
                          array** lhs_out, array** rhs_out, stream s) {
  array* li = indices_or_default(tag, lhs, a, s);
  array* ri = li ? indices_or_default(tag, rhs, b, s) : NULL;
  array* pair[2] = {li, ri};
  array* bc[2] = {NULL, NULL};
  int rc = !ri || op_broadcast_arrays(bc, pair, 2, s);
  array_release(li);
  array_release(ri);
  if (rc) return 1;
  *lhs_out = bc[0];
  *rhs_out = bc[1];
  return 0;
}

/* ---- gather_qmm ---- */

array* op_gather_qmm(array* x, array* w, array* scales, array* biases, array* lhs_indices,
                     array* rhs_indices, bool transpose, const int* group_size, const int* bits,
                     const char* mode, bool sorted_indices, stream s) {
  (void)sorted_indices; /* a scheduling hint; the kernel groups by rhs itself */
  if (!lhs_indices && !rhs_indices)
    return op_quantized_matmul(x, w, scales, biases, transpose, group_size, bits, mode, s);
  const char* tag = "gather_qmm";
  qmm_setup st;
  if (qmm_validate(tag, x, w, scales, biases, transpose, group_size, bits, mode, &st))
    return NULL;
  array *li = NULL, *ri = NULL;
  if (gather_indices("[gather_qmm]", lhs_indices, rhs_indices, x, w, &li, &ri, s)) return NULL;
  bool affine = st.mode == QUANT_AFFINE;
  array* in[6] = {cast_for_kernel(x, st.out, s), keep(w),
                  affine ? cast_for_kernel(scales, st.out, s) : keep(scales),
                  affine ? cast_for_kernel(biases, st.out, s) : NULL, li, ri};
  array* out = NULL;
  if (!in[0] || !in[2] || (affine && !in[3])) goto done;
  qmm_params* p = params_new(tag, st.mode, st.group_size, st.bits, transpose);
  if (!p) goto done;
  p->gather = true;
  int tail[2] = {x->shape[x->ndim - 2], st.outer};
  array* node_in[6];
  int n_in = 0;
  for (int i = 0; i < 6; i++)
    if (in[i]) node_in[n_in++] = in[i];
  out = new_node(st.out, li->shape, li->ndim, tail, 2, &prim_gather_qmm, p, node_in, n_in, s);
done:
  release_all(in, 6);
  return out;
}

/* ---- gather_mm ---- */

array* op_gather_mm(array* a_in, array* b_in, array* lhs_indices, array* rhs_indices,
                    bool sorted_indices, stream s) {
  (void)sorted_indices;
  if (!lhs_indices && !rhs_indices) return op_matmul(a_in, b_in, s);
  if (a_in->ndim == 0 || b_in->ndim == 0) {
    error_set("[gather_mm] Got 0 dimension input. Inputs must have at least one dimension.");
    return NULL;
  }
  int zero = 0, one = 1;
  array* a = a_in->ndim == 1 ? op_expand_dims_axes(a_in, &zero, 1, s) : keep(a_in);
  array* b = b_in->ndim == 1 ? op_expand_dims_axes(b_in, &one, 1, s) : keep(b_in);
  array *li = NULL, *ri = NULL, *out = NULL;
  if (!a || !b) goto done;
  if (a->shape[a->ndim - 1] != b->shape[b->ndim - 2]) {
    char sa[SHAPE_TEXT], sb[SHAPE_TEXT];
    error_set("[gather_mm] Last dimension of first input with shape %s must match second to "
              "last dimension of second input with shape %s.",
              fmt_shape(sa, a), fmt_shape(sb, b));
    goto done;
  }
  mlx_dtype t = dtype_promote(a->dtype, b->dtype);
  if (!dtype_is_floating(t)) {
    error_set("[gather_mm] Only real floating point types are supported but %s and %s were "
              "provided which results in %s, which is not a real floating point type.",
              dtype_name(a->dtype), dtype_name(b->dtype), dtype_name(t));
    goto done;
  }
  array* ac = op_astype(a, t, s);
  array_release(a);
  a = ac;
  array* bc = a ? op_astype(b, t, s) : NULL;
  array_release(b);
  b = bc;
  if (!a || !b) goto done;
  if (gather_indices("[gather_mm]", lhs_indices, rhs_indices, a, b, &li, &ri, s)) goto done;
  int nd = li->ndim + 2;
  int tail[2] = {a->shape[a->ndim - 2], b->shape[b->ndim - 1]};
  array* in[4] = {a, b, li, ri};
  out = new_node(t, li->shape, li->ndim, tail, 2, &prim_gather_mm, NULL, in, 4, s);
  if (out && (a_in->ndim == 1 || b_in->ndim == 1)) {
    int axes[2], n = 0;
    if (a_in->ndim == 1) axes[n++] = nd - 2;
    if (b_in->ndim == 1) axes[n++] = nd - 1;
    array* sq = op_squeeze_axes(out, axes, n, s);
    array_release(out);
    out = sq;
  }
done:
  array_release(a);
  array_release(b);
  array_release(li);
  array_release(ri);
  return out;
}

/* ---- qqmm ---- */

/* MLX's validate_qqmm_inputs, then our own checks of what its CPU kernel
 * silently misreads. */
static int qqmm_validate(const array* x, const array* w, const array* scales, quant_mode mode,
                         int group_size, int bits, const array* gsx, const array* gsw) {
  if (x->ndim > 2 || w->ndim > 2)
    return error_set("[qqmm] Only 2D inputs are supported but x.ndim() == %d and w.ndim() "
                     "== %d.",
                     x->ndim, w->ndim);
  if (w->dtype == MLX_UINT32) {
    if (!scales)
      return error_set("[qqmm] Scales must be provided if second argument is quantized.");
    if (check_positive("qqmm", group_size, bits) ||
        check_quantized_input("qqmm", w, scales, NULL, group_size, bits))
      return 1;
  } else if (!dtype_is_floating(w->dtype) || w->dtype == MLX_FLOAT64) {
    return error_set("[qqmm] Only real floating types except float64 are supported but second "
                     "argument dtype == %s.",
                     dtype_name(w->dtype));
  }
  if (!dtype_is_floating(x->dtype) || x->dtype == MLX_FLOAT64)
    return error_set("[qqmm] Only real floating types except float64 are supported but first "
                     "argument dtype == %s.",
                     dtype_name(x->dtype));
  if (quant_check_global_scale("qqmm", mode, gsx) || quant_check_global_scale("qqmm", mode, gsw))
    return 1;
  if (mode == QUANT_NVFP4 && (gsx != NULL) != (gsw != NULL))
    return error_set("[qqmm] For nvfp4 mode, either both global_scale_x and global_scale_w "
                     "must be provided, or neither.");
  return 0;
}

array* op_qqmm(array* x_in, array* w, array* w_scales, const int* group_size_opt,
               const int* bits_opt, const char* mode_str, array* gsx, array* gsw, stream s) {
  quant_mode mode;
  int group_size, bits;
  if (quant_parse_mode(mode_str, "qqmm", &mode)) return NULL;
  quant_resolve_params(mode, group_size_opt, bits_opt, &group_size, &bits);
  int zero = 0;
  array* x = x_in->ndim == 1                    ? op_expand_dims_axes(x_in, &zero, 1, s)
             : (w->ndim == 2 && x_in->ndim > 2) ? op_flatten(x_in, 0, x_in->ndim - 2, s)
                                                : keep(x_in);
  array* out = NULL;
  if (!x || qqmm_validate(x, w, w_scales, mode, group_size, bits, gsx, gsw)) goto done;
  int inner, outer;
  if (w->dtype != MLX_UINT32) {
    if (x->ndim == 0 || w->ndim < 2) {
      error_set("[qqmm] Only 2D inputs are supported but x.ndim() == %d and w.ndim() == %d.",
                x->ndim, w->ndim);
      goto done;
    }
    if (x->shape[x->ndim - 1] != w->shape[w->ndim - 1]) {
      char sa[SHAPE_TEXT], sb[SHAPE_TEXT];
      error_set("[qqmm] Last dimension of first input with shape %s must match last dimension "
                "of second input with shape %s.",
                fmt_shape(sa, x), fmt_shape(sb, w));
      goto done;
    }
    outer = w->shape[w->ndim - 2];
  } else {
    if (extract_dims("qqmm", x, w, w_scales, NULL, true, group_size, bits, &inner, &outer))
      goto done;
    if (mode == QUANT_AFFINE) {
      error_set("[qqmm] Only the 'nvfp4', 'mxfp8' and 'mxfp4' modes can quantize the input "
                "but got 'affine'.");
      goto done;
    }
    if (w_scales->dtype != MLX_UINT8) {
      error_set("[qqmm] Scale type must be uint8 but received type %s.",
                dtype_name(w_scales->dtype));
      goto done;
    }
    if (quant_check_fp_params("qqmm", mode, group_size, bits)) goto done;
  }
  qmm_params* p = params_new("qqmm", mode, group_size, bits, true);
  if (!p) goto done;
  p->quantize_x = true;
  p->global_scales = gsx && gsw;
  array* in[5];
  int n_in = 0;
  in[n_in++] = x;
  in[n_in++] = w;
  if (w_scales) in[n_in++] = w_scales;
  if (gsx && gsw) {
    in[n_in++] = gsx;
    in[n_in++] = gsw;
  }
  out = new_node(x->dtype, x->shape, x->ndim - 1, &outer, 1, &prim_qqmm, p, in, n_in, s);
  if (out && x_in->ndim > 2 && x != x_in) {
    array* u = op_unflatten(out, 0, x_in->shape, x_in->ndim - 1, s);
    array_release(out);
    out = u;
  } else if (out && x_in->ndim == 1) {
    array* q = op_squeeze_axes(out, &zero, 1, s);
    array_release(out);
    out = q;
  }
done:
  array_release(x);
  return out;
}
