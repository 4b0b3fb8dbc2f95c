/* array.c - array and buffer lifetimes, construction and layout flags. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/array.h"
#include "core/error.h"
#include "core/half.h"

/* ---- buffers ---- */

buffer* buffer_new(size_t nbytes) {
  buffer* b = malloc(sizeof *b);
  if (!b) return NULL;
  b->ptr = alloc_bytes(nbytes, &b->capacity);
  if (!b->ptr) {
    free(b);
    return NULL;
  }
  atomic_init(&b->refs, 1);
  b->nbytes = nbytes;
  b->external = false;
  b->dtor = NULL;
  b->dtor_arg = NULL;
  return b;
}

buffer* buffer_wrap(void* ptr, size_t nbytes, void (*dtor)(void*), void* arg) {
  buffer* b = malloc(sizeof *b);
  if (!b) return NULL;
  atomic_init(&b->refs, 1);
  b->ptr = ptr;
  b->nbytes = nbytes;
  b->capacity = 0;
  b->external = true;
  b->dtor = dtor;
  b->dtor_arg = arg;
  return b;
}

void buffer_retain(buffer* b) {
  if (b) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void buffer_release(buffer* b) {
  if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (b->external) {
    if (b->dtor) b->dtor(b->dtor_arg);
  } else {
    alloc_free(b->ptr, b->capacity);
  }
  free(b);
}

/* ---- array headers ---- */

static array* array_header(mlx_dtype dtype, int ndim, const int* shape) {
  /* one allocation: the struct, then strides, then shape */
  size_t bytes = sizeof(array) + (size_t)ndim * (sizeof(int64_t) + sizeof(int));
  array* a = malloc(bytes);
  if (!a) {
    error_set("[array] Out of memory.");
    return NULL;
  }
  memset(a, 0, sizeof *a);
  atomic_init(&a->refs, 1);
  a->dtype = dtype;
  a->ndim = ndim;
  a->strides = (int64_t*)(a + 1);
  a->shape = (int*)(a->strides + ndim);
  size_t size = 1;
  for (int i = 0; i < ndim; i++) {
    a->shape[i] = shape[i];
    a->strides[i] = 0;
    size *= (size_t)shape[i];
  }
  a->size = size;
  /* arrays made from host data live on the CPU's first stream */
  a->stream = (stream){{MLX_CPU, 0}, 0};
  return a;
}

int shape_check(const char* op, const int* shape, int ndim, size_t* size_out) {
  if (ndim < 0) return error_set("[%s] Negative number of dimensions.", op);
  if (ndim > 0 && !shape) return error_set("[%s] Shape pointer is NULL.", op);
  unsigned __int128 size = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return error_set("[%s] Negative dimensions not allowed.", op);
    size *= (unsigned)shape[i];
    if (size > (unsigned __int128)INT64_MAX / 16)
      return error_set("[%s] Shape is too large: the array would exceed the addressable size.", op);
  }
  if (size_out) *size_out = (size_t)size;
  return 0;
}

void array_row_strides(const int* shape, int ndim, int64_t* strides) {
  /* unsigned: an empty array may have dims whose product overflows (its
   * strides are never used to address memory then) */
  uint64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = (int64_t)s;
    s *= (uint64_t)shape[i];
  }
}

void array_update_flags(array* a) {
  /* row/col contiguity ignores size-1 dims, whose stride is meaningless */
  bool row = true, col = true;
  /* an empty array is contiguous every way; its dims may overflow products */
  int nd = a->size == 0 ? 0 : a->ndim;
  int64_t s = 1;
  for (int i = nd - 1; i >= 0; i--) {
    if (a->shape[i] != 1) {
      if (a->strides[i] != s) row = false;
      s *= a->shape[i];
    }
  }
  s = 1;
  for (int i = 0; i < nd; i++) {
    if (a->shape[i] != 1) {
      if (a->strides[i] != s) col = false;
      s *= a->shape[i];
    }
  }
  if (a->size == 0) row = col = true;
  unsigned f = 0;
  if (row) f |= ARRAY_ROW_CONTIGUOUS;
  if (col) f |= ARRAY_COL_CONTIGUOUS;
  /* "contiguous": no gaps, elements fill data_size exactly, non-negative */
  if (row || col) {
    f |= ARRAY_CONTIGUOUS;
  } else if (a->data_size == a->size) {
    bool neg = false;
    for (int i = 0; i < a->ndim; i++)
      if (a->strides[i] < 0) neg = true;
    if (!neg) f |= ARRAY_CONTIGUOUS;
  }
  a->flags = f;
}

static void array_set_row_layout(array* a) {
  array_row_strides(a->shape, a->ndim, a->strides);
  a->offset = 0;
  a->data_size = a->size;
  array_update_flags(a);
}

int array_alloc(array* out) {
  buffer_release(out->buf);
  out->buf = buffer_new(array_nbytes(out));
  if (!out->buf) return error_set("[malloc] Unable to allocate %zu bytes.", array_nbytes(out));
  array_set_row_layout(out);
  return 0;
}

int array_alloc_or_donate(array* out, array* const* candidates, int n) {
  for (int i = 0; i < n; i++) {
    array* in = candidates[i];
    if (!in || !in->buf || in->buf->external) continue;
    if (atomic_load(&in->refs) != 1 || atomic_load(&in->buf->refs) != 1) continue;
    if (!(in->flags & ARRAY_ROW_CONTIGUOUS) || in->size != out->size) continue;
    if (dtype_size(in->dtype) != dtype_size(out->dtype) || in->offset != 0) continue;
    buffer_release(out->buf);
    out->buf = in->buf;
    buffer_retain(out->buf);
    array_set_row_layout(out);
    return 0;
  }
  return array_alloc(out);
}

void array_set_view(array* out, const array* in, const int64_t* strides,
                    int64_t offset, size_t data_size) {
  buffer_retain(in->buf);
  buffer_release(out->buf);
  out->buf = in->buf;
  for (int i = 0; i < out->ndim; i++) out->strides[i] = strides[i];
  out->offset = offset;
  out->data_size = data_size;
  array_update_flags(out);
}

array* array_new_alloc(mlx_dtype dtype, int ndim, const int* shape) {
  array* a = array_header(dtype, ndim, shape);
  if (!a) return NULL;
  if (array_alloc(a)) {
    free(a);
    return NULL;
  }
  return a;
}

array* array_new_copy(mlx_dtype dtype, int ndim, const int* shape, const void* data) {
  array* a = array_new_alloc(dtype, ndim, shape);
  if (a && array_nbytes(a)) memcpy(a->buf->ptr, data, array_nbytes(a));
  return a;
}

array* array_new_wrap(mlx_dtype dtype, int ndim, const int* shape, void* data,
                      void (*dtor)(void*), void* dtor_arg) {
  array* a = array_header(dtype, ndim, shape);
  if (!a) return NULL;
  a->buf = buffer_wrap(data, array_nbytes(a), dtor, dtor_arg);
  if (!a->buf) {
    free(a);
    error_set("[array] Out of memory.");
    return NULL;
  }
  array_set_row_layout(a);
  return a;
}

array* array_new_scalar(mlx_dtype dtype, double re, double im) {
  array* a = array_new_alloc(dtype, 0, NULL);
  if (!a) return NULL;
  void* p = a->buf->ptr;
  switch (dtype) {
    case MLX_BOOL: *(bool*)p = re != 0 || im != 0; break;
    case MLX_UINT8: *(uint8_t*)p = (uint8_t)(int64_t)re; break;
    case MLX_UINT16: *(uint16_t*)p = (uint16_t)(int64_t)re; break;
    case MLX_UINT32: *(uint32_t*)p = (uint32_t)(int64_t)re; break;
    case MLX_UINT64: *(uint64_t*)p = re >= 0 ? (uint64_t)re : (uint64_t)(int64_t)re; break;
    case MLX_INT8: *(int8_t*)p = (int8_t)(int64_t)re; break;
    case MLX_INT16: *(int16_t*)p = (int16_t)(int64_t)re; break;
    case MLX_INT32: *(int32_t*)p = (int32_t)(int64_t)re; break;
    case MLX_INT64: *(int64_t*)p = (int64_t)re; break;
    case MLX_FLOAT16: *(uint16_t*)p = f32_to_f16((float)re); break;
    case MLX_FLOAT32: *(float*)p = (float)re; break;
    case MLX_FLOAT64: *(double*)p = re; break;
    case MLX_BFLOAT16: *(uint16_t*)p = f32_to_bf16((float)re); break;
    case MLX_COMPLEX64: *(complex64*)p = (complex64){(float)re, (float)im}; break;
  }
  return a;
}

/* ---- pending arrays ---- */

static node* node_new(const primitive* prim, void* params, array* const* inputs,
                      int n_inputs, int n_outputs, stream s) {
  node* n = malloc(sizeof *n + sizeof(array*) * (size_t)(n_inputs + n_outputs));
  if (!n) return NULL;
  atomic_init(&n->refs, n_outputs);
  n->prim = prim;
  n->params = params;
  n->n_inputs = n_inputs;
  n->inputs = (array**)(n + 1);
  n->n_outputs = n_outputs;
  n->outputs = n->inputs + n_inputs;
  n->stream = s;
  n->mark = 0;
  for (int i = 0; i < n_inputs; i++) {
    n->inputs[i] = inputs[i];
    array_retain(inputs[i]);
  }
  return n;
}

static void params_free(const primitive* prim, void* params) {
  if (!params) return;
  if (prim && prim->free_params)
    prim->free_params(params);
  else
    free(params);
}

array* array_new_op(mlx_dtype dtype, int ndim, const int* shape,
                    const primitive* prim, void* params,
                    array* const* inputs, int n_inputs, stream s) {
  array* out;
  if (array_new_op_multi(&out, 1, &dtype, &ndim, &shape, prim, params, inputs,
                         n_inputs, s))
    return NULL;
  return out;
}

int array_new_op_multi(array** outs, int n_outputs, const mlx_dtype* dtypes,
                       const int* ndims, const int* const* shapes,
                       const primitive* prim, void* params,
                       array* const* inputs, int n_inputs, stream s) {
  array* made[n_outputs > 0 ? n_outputs : 1];
  for (int i = 0; i < n_outputs; i++) {
    made[i] = array_header(dtypes[i], ndims[i], shapes[i]);
    if (!made[i]) {
      for (int j = 0; j < i; j++) free(made[j]);
      params_free(prim, params);
      return 1;
    }
  }
  node* n = node_new(prim, params, inputs, n_inputs, n_outputs, s);
  if (!n) {
    for (int i = 0; i < n_outputs; i++) free(made[i]);
    params_free(prim, params);
    return error_set("[array] Out of memory.");
  }
  for (int i = 0; i < n_outputs; i++) {
    made[i]->node = n;
    made[i]->out_index = i;
    made[i]->stream = s;
    n->outputs[i] = made[i];
    outs[i] = made[i];
  }
  return 0;
}

void array_retain(array* a) {
  if (a) atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
}

/* Releasing can cascade through a long pending chain (each node holds its
 * inputs). To keep the C stack flat, releases found while one is already
 * running are queued and handled by the outermost call. */
/* The queue starts in thread-local storage and moves to the heap only when
 * it outgrows it; the heap copy is freed once drained, so a thread that
 * exits leaves nothing allocated behind. */
#define RELEASE_INLINE 64
static _Thread_local array* release_inline[RELEASE_INLINE];
static _Thread_local array** release_queue;
static _Thread_local size_t release_len, release_cap;
static _Thread_local bool releasing;

static void release_push(array* a) {
  if (!release_queue) {
    release_queue = release_inline;
    release_cap = RELEASE_INLINE;
  }
  if (release_len == release_cap) {
    size_t cap = release_cap * 2;
    bool on_heap = release_queue != release_inline;
    array** q = realloc(on_heap ? release_queue : NULL, cap * sizeof *q);
    if (!q) abort(); /* cannot continue safely without memory for bookkeeping */
    if (!on_heap) memcpy(q, release_inline, sizeof release_inline);
    release_queue = q;
    release_cap = cap;
  }
  release_queue[release_len++] = a;
}

static void array_destroy(array* a) {
  buffer_release(a->buf);
  free(a);
}

/* Frees a node that will never be evaluated (or has been): releases its
 * inputs and frees outputs that had become orphans. */
void node_free(node* n) {
  for (int i = 0; i < n->n_outputs; i++) {
    array* o = n->outputs[i];
    if (!o) continue;
    o->node = NULL;
    if (o->orphan) array_destroy(o);
  }
  for (int i = 0; i < n->n_inputs; i++) release_push(n->inputs[i]);
  params_free(n->prim, n->params);
  free(n);
}

static void release_one(array* a) {
  if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1) return;
  node* n = a->node;
  if (!n) {
    array_destroy(a);
    return;
  }
  if (n->n_outputs > 1) {
    a->orphan = true;
    if (atomic_fetch_sub(&n->refs, 1) == 1) node_free(n);
    return;
  }
  a->node = NULL;
  n->outputs[0] = NULL;
  node_free(n);
  array_destroy(a);
}

void array_release(array* a) {
  if (!a) return;
  release_push(a);
  release_drain();
}

void release_drain(void) {
  if (releasing) return;
  releasing = true;
  while (release_len) release_one(release_queue[--release_len]);
  releasing = false;
  if (release_queue != release_inline) {
    free(release_queue);
    release_queue = NULL;
    release_cap = 0;
  }
}
