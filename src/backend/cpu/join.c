/* join.c - CPU kernels that move elements without computing on them:
 * the pieces primitive (inputs copied into regions of a new array:
 * concatenate, diag of a vector), the remap primitive (every output index
 * taken from a per-axis map of the input: pad in all its modes, roll) and
 * the diagonal view.
 *
 * Elements are moved as opaque 1, 2, 4 or 8 byte units, so one loop serves
 * every dtype. Work is split over the thread pool by rows (all axes but
 * the last); a row is copied in runs whose source index moves by -1, 0 or
 * +1 per element (plain copies, mirrored padding, edge padding), so the
 * common cases are memcpy or a simple strided loop. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/join.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"

/* Rows shorter than this many bytes are grouped so a task is worth it. */
#define JOIN_TASK_BYTES (1u << 16)

/* ---- element runs ---- */

#define JOIN_UNIT_TYPES(X) X(1, uint8_t) X(2, uint16_t) X(4, uint32_t) X(8, uint64_t)

/* dst[i * dst_step] = src[i * src_step] for i < n; elements of esize
 * bytes; steps in elements (the source's may be 0 or negative). */
static void run_copy(char* dst, int64_t dst_step, const char* src, int64_t src_step, int64_t n,
                     size_t esize) {
  if (dst_step == 1 && src_step == 1) {
    memcpy(dst, src, (size_t)n * esize);
    return;
  }
  switch (esize) {
#define JOIN_COPY_CASE(size, T)                                          \
  case size: {                                                         \
    T* d = (T*)dst;                                                    \
    const T* s = (const T*)src;                                        \
    for (int64_t i = 0; i < n; i++) d[i * dst_step] = s[i * src_step]; \
    return;                                                            \
  }
    JOIN_UNIT_TYPES(JOIN_COPY_CASE)
#undef JOIN_COPY_CASE
    default:
      for (int64_t i = 0; i < n; i++)
        memcpy(dst + i * dst_step * (int64_t)esize, src + i * src_step * (int64_t)esize, esize);
  }
}

/* n copies of the element at value into dst (contiguous). */
static void run_fill(char* dst, const void* value, int64_t n, size_t esize) {
  switch (esize) {
#define JOIN_FILL_CASE(size, T)                                          \
  case size: {                                                         \
    T v;                                                               \
    memcpy(&v, value, size);                                           \
    T* d = (T*)dst;                                                    \
    for (int64_t i = 0; i < n; i++) d[i] = v;                          \
    return;                                                            \
  }
    JOIN_UNIT_TYPES(JOIN_FILL_CASE)
#undef JOIN_FILL_CASE
    default:
      for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * esize, value, esize);
  }
}

/* Rows to hand each task: enough that a task moves JOIN_TASK_BYTES. */
static size_t rows_per_task(int64_t row_len, size_t esize) {
  size_t bytes = (size_t)(row_len > 0 ? row_len : 1) * esize;
  return bytes >= JOIN_TASK_BYTES ? 1 : JOIN_TASK_BYTES / bytes;
}

/* ---- strided copy (pieces) ---- */

/* A copy of src (shape, src strides) into dst (dst strides), axes with
 * size 1 dropped and axes contiguous in both merged; the last axis is the
 * run. */
typedef struct strided_copy {
  int ndim;
  const int64_t* shape;
  const int64_t* dst_st;
  const int64_t* src_st;
  char* dst;
  const char* src;
  size_t esize;
} strided_copy;

static void strided_copy_rows(void* ctx, size_t begin, size_t end) {
  const strided_copy* c = ctx;
  int outer = c->ndim - 1;
  int64_t idx[outer > 0 ? outer : 1];
  size_t rem = begin;
  for (int d = outer - 1; d >= 0; d--) {
    idx[d] = (int64_t)(rem % (size_t)c->shape[d]);
    rem /= (size_t)c->shape[d];
  }
  int64_t len = c->shape[outer], es = (int64_t)c->esize;
  for (size_t r = begin; r < end; r++) {
    int64_t doff = 0, soff = 0;
    for (int d = 0; d < outer; d++) {
      doff += idx[d] * c->dst_st[d];
      soff += idx[d] * c->src_st[d];
    }
    run_copy(c->dst + doff * es, c->dst_st[outer], c->src + soff * es, c->src_st[outer], len,
             c->esize);
    for (int d = outer - 1; d >= 0; d--) {
      if (++idx[d] < c->shape[d]) break;
      idx[d] = 0;
    }
  }
}

/* Copies the evaluated array in into dst, whose axes have the given
 * strides (elements). */
static void copy_into(char* dst, const int64_t* dst_strides, const array* in) {
  if (in->size == 0) return;
  int nd = in->ndim;
  int64_t shape[nd + 1], dst_st[nd + 1], src_st[nd + 1];
  int m = 0;
  for (int d = 0; d < nd; d++) {
    if (in->shape[d] == 1) continue;
    if (m > 0 && dst_st[m - 1] == dst_strides[d] * in->shape[d] &&
        src_st[m - 1] == in->strides[d] * in->shape[d]) {
      /* contiguous with the previous kept axis in both: merge */
      shape[m - 1] *= in->shape[d];
      dst_st[m - 1] = dst_strides[d];
      src_st[m - 1] = in->strides[d];
      continue;
    }
    shape[m] = in->shape[d];
    dst_st[m] = dst_strides[d];
    src_st[m] = in->strides[d];
    m++;
  }
  if (m == 0) {
    shape[0] = 1;
    dst_st[0] = src_st[0] = 1;
    m = 1;
  }
  strided_copy c = {m, shape, dst_st, src_st, dst, array_data(in), dtype_size(in->dtype)};
  size_t rows = in->size / (size_t)shape[m - 1];
  pool_for(rows, rows_per_task(shape[m - 1], c.esize), strided_copy_rows, &c);
}

pieces_params* pieces_params_new(int n_pieces, int ndim) {
  size_t per = (size_t)(ndim > 0 ? ndim : 1);
  size_t count = (size_t)(n_pieces > 0 ? n_pieces : 1);
  pieces_params* p = calloc(1, sizeof *p + count * (1 + per) * sizeof(int64_t));
  if (!p) {
    error_set("[concatenate] Out of memory.");
    return NULL;
  }
  p->n_pieces = n_pieces;
  p->ndim = ndim;
  p->offsets = (int64_t*)(p + 1);
  p->strides = p->offsets + count;
  return p;
}

int cpu_pieces_eval(node* n) {
  const pieces_params* p = n->params;
  array* out = n->outputs[0];
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  char* base = array_data(out);
  size_t esize = dtype_size(out->dtype);
  if (p->zero_fill) memset(base, 0, out->size * esize);
  for (int k = 0; k < p->n_pieces; k++)
    copy_into(base + p->offsets[k] * (int64_t)esize, p->strides + (size_t)k * (size_t)p->ndim,
              n->inputs[k]);
  return 0;
}

/* ---- remap (pad, roll) ---- */

/* p mod m in [0, m). */
static int64_t mod_pos(int64_t p, int64_t m) {
  int64_t q = p % m;
  return q < 0 ? q + m : q;
}

int64_t remap_source(const remap_axis* ax, int64_t i) {
  int64_t n = ax->n;
  switch (ax->kind) {
    case REMAP_IDENTITY:
      return i;
    case REMAP_ROLL: {
      int64_t j = i + ax->shift;
      return j >= n ? j - n : j;
    }
    default:
      break;
  }
  int64_t p = i - ax->low;
  if (p >= 0 && p < n) return p;
  if (n == 0) return -1; /* nothing to copy from: only constant padding gets here */
  switch (ax->kind) {
    case REMAP_PAD_EDGE:
      return p < 0 ? 0 : n - 1;
    case REMAP_PAD_SYMMETRIC: {
      /* period 2n: a0 .. a(n-1) a(n-1) .. a0 */
      int64_t q = mod_pos(p, 2 * n);
      return q < n ? q : 2 * n - 1 - q;
    }
    case REMAP_PAD_REFLECT: {
      /* period 2(n-1): a0 .. a(n-1) a(n-2) .. a1; one element repeats */
      if (n == 1) return 0;
      int64_t q = mod_pos(p, 2 * (n - 1));
      return q < n ? q : 2 * (n - 1) - q;
    }
    default:
      return -1;
  }
}

/* A stretch of an output row: len elements from the source index src
 * moving by dir (-1, 0 or +1) per element, or fill values when src < 0. */
typedef struct remap_run {
  int64_t start, len, src, dir;
} remap_run;

typedef struct remap_job {
  const remap_params* p;
  const array* in;
  char* out;
  const void* fill;
  size_t esize;
  int outer;               /* output axes before the last */
  const int* out_shape;
  const remap_run* runs;   /* of the last axis */
  int n_runs;
  int64_t row_len;
} remap_job;

static void remap_rows(void* ctx, size_t begin, size_t end) {
  const remap_job* j = ctx;
  int outer = j->outer;
  int64_t idx[outer > 0 ? outer : 1];
  size_t rem = begin;
  for (int d = outer - 1; d >= 0; d--) {
    idx[d] = (int64_t)(rem % (size_t)j->out_shape[d]);
    rem /= (size_t)j->out_shape[d];
  }
  const char* in_base = array_data(j->in);
  int64_t inner_stride = j->in->strides[outer];
  int64_t es = (int64_t)j->esize;
  for (size_t r = begin; r < end; r++) {
    char* dst = j->out + (int64_t)r * j->row_len * es;
    int64_t off = 0;
    bool fill_row = false;
    for (int d = 0; d < outer; d++) {
      int64_t s = remap_source(&j->p->axes[d], idx[d]);
      if (s < 0) {
        fill_row = true;
        break;
      }
      off += s * j->in->strides[d];
    }
    if (fill_row) {
      run_fill(dst, j->fill, j->row_len, j->esize);
    } else {
      const char* src = in_base + off * es;
      for (int k = 0; k < j->n_runs; k++) {
        const remap_run* run = &j->runs[k];
        if (run->src < 0)
          run_fill(dst + run->start * es, j->fill, run->len, j->esize);
        else
          run_copy(dst + run->start * es, 1, src + run->src * inner_stride * es,
                   run->dir * inner_stride, run->len, j->esize);
      }
    }
    for (int d = outer - 1; d >= 0; d--) {
      if (++idx[d] < j->out_shape[d]) break;
      idx[d] = 0;
    }
  }
}

/* Splits the last axis's map into runs; returns how many (runs has room
 * for len). */
static int remap_build_runs(const remap_axis* ax, int64_t len, remap_run* runs) {
  int n = 0;
  int64_t i = 0;
  while (i < len) {
    int64_t s = remap_source(ax, i), k = i + 1, dir = 0;
    if (k < len && s >= 0) {
      int64_t next = remap_source(ax, k);
      if (next >= 0 && next - s >= -1 && next - s <= 1) dir = next - s;
    }
    /* extend while the source keeps moving by dir (or stays a fill) */
    while (k < len) {
      int64_t t = remap_source(ax, k);
      if (s < 0 ? t >= 0 : t != s + (k - i) * dir) break;
      k++;
    }
    runs[n++] = (remap_run){i, k - i, s, dir};
    i = k;
  }
  return n;
}

int cpu_remap_eval(node* n) {
  const remap_params* p = n->params;
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  size_t esize = dtype_size(out->dtype);
  const void* fill = n->n_inputs > 1 ? array_data(n->inputs[1]) : NULL;
  if (out->ndim == 0) {
    memcpy(array_data(out), array_data(in), esize);
    return 0;
  }
  int nd = out->ndim;
  int64_t len = out->shape[nd - 1];
  remap_run* runs = malloc(sizeof *runs * (size_t)len);
  if (!runs) return error_set("[%s] Out of memory.", n->prim->name);
  remap_job j = {p, in, array_data(out), fill, esize, nd - 1, out->shape, runs, 0, len};
  j.n_runs = remap_build_runs(&p->axes[nd - 1], len, runs);
  pool_for(out->size / (size_t)len, rows_per_task(len, esize), remap_rows, &j);
  free(runs);
  return 0;
}

/* ---- diagonal view ---- */

int cpu_diagonal_eval(node* n) {
  const diagonal_params* p = n->params;
  array* in = n->inputs[0];
  array* out = n->outputs[0];
  int nd = out->ndim;
  int64_t st[nd];
  for (int d = 0, o = 0; d < in->ndim; d++)
    if (d != p->ax1 && d != p->ax2) st[o++] = in->strides[d];
  st[nd - 1] = in->strides[p->ax1] + in->strides[p->ax2];
  if (out->size == 0) {
    array_set_view(out, in, st, in->offset, 0);
    return 0;
  }
  int64_t offset = in->offset + p->off1 * in->strides[p->ax1] + p->off2 * in->strides[p->ax2];
  /* the span of elements the view reaches, for data_size */
  int64_t lo = 0, hi = 0;
  for (int d = 0; d < nd; d++) {
    int64_t delta = st[d] * (out->shape[d] - 1);
    if (delta < 0)
      lo += delta;
    else
      hi += delta;
  }
  array_set_view(out, in, st, offset, (size_t)(hi - lo) + 1);
  return 0;
}
