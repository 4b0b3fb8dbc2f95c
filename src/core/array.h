/* array.h - the array object, its buffer and the graph node that makes it.
 *
 * An array is a refcounted header: dtype, shape, (once evaluated) strides,
 * offset and a refcounted buffer. Until it is evaluated it points to the
 * node that will compute it; a node holds references to its inputs and weak
 * pointers to its outputs (several for multi-output primitives).
 *
 * Invariants:
 * - node != NULL  <=>  the array is pending; buf == NULL while pending.
 * - After evaluation node == NULL and buf/strides/offset/flags are set.
 * - node->refs counts the live (non-orphan) outputs. An output whose last
 *   reference dies while its node is still pending and shared with siblings
 *   becomes an orphan: the node frees it when the node itself goes away.
 * - Buffers with `external` set (user memory, mapped files) are never
 *   written to and never donated.
 * Ownership: every function that returns an array* returns a new reference
 * that the caller releases with array_release(). Inputs are borrowed. */
#ifndef CMLX_CORE_ARRAY_H
#define CMLX_CORE_ARRAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/stream.h"

typedef struct buffer {
  atomic_long refs;
  void* ptr;
  size_t nbytes;
  size_t capacity;        /* bytes obtained from the allocator */
  bool external;          /* not ours: never donated or written */
  void (*dtor)(void*);    /* external memory: called with dtor_arg */
  void* dtor_arg;
} buffer;

buffer* buffer_new(size_t nbytes); /* 64-byte aligned, uninitialised */
buffer* buffer_wrap(void* ptr, size_t nbytes, void (*dtor)(void*), void* arg);
void buffer_retain(buffer* b);
void buffer_release(buffer* b);

enum {
  ARRAY_CONTIGUOUS = 1,     /* no gaps: the elements fill data_size exactly */
  ARRAY_ROW_CONTIGUOUS = 2, /* row-major strides */
  ARRAY_COL_CONTIGUOUS = 4, /* column-major strides */
};

typedef struct node node;
typedef struct array array;

struct array {
  atomic_long refs;
  mlx_dtype dtype;
  int ndim;
  int* shape;        /* ndim entries, in this allocation */
  int64_t* strides;  /* ndim entries, element units; set at evaluation */
  size_t size;       /* product of shape */
  int64_t offset;    /* element offset of element 0 into buf */
  size_t data_size;  /* elements the strided layout spans in buf */
  unsigned flags;
  buffer* buf;
  node* node;
  int out_index;     /* which output of node */
  bool orphan;
  stream stream;
};

/* A primitive: how to compute one kind of node. */
typedef struct primitive {
  const char* name;
  int (*eval_cpu)(node* n);
  int (*eval_gpu)(node* n);      /* NULL: not on the GPU yet */
  void (*free_params)(void* p);  /* NULL: free() */
} primitive;

struct node {
  atomic_long refs;
  const primitive* prim;
  void* params;
  int n_inputs;
  array** inputs;   /* strong references */
  int n_outputs;
  array** outputs;  /* weak */
  stream stream;
  uint64_t mark;    /* graph traversal epoch */
};

/* ---- creating arrays ---- */

/* A pending array computed by prim from inputs. params (may be NULL) is
 * owned by the node from now on, also on failure. */
array* array_new_op(mlx_dtype dtype, int ndim, const int* shape,
                    const primitive* prim, void* params,
                    array* const* inputs, int n_inputs, stream s);
/* n_outputs pending arrays from one node; outs receives new references. */
int array_new_op_multi(array** outs, int n_outputs, const mlx_dtype* dtypes,
                       const int* ndims, const int* const* shapes,
                       const primitive* prim, void* params,
                       array* const* inputs, int n_inputs, stream s);
/* An evaluated, row-contiguous array with fresh (uninitialised) memory. */
array* array_new_alloc(mlx_dtype dtype, int ndim, const int* shape);
/* Copies data (row-major). */
array* array_new_copy(mlx_dtype dtype, int ndim, const int* shape,
                      const void* data);
/* Wraps user memory without copying. */
array* array_new_wrap(mlx_dtype dtype, int ndim, const int* shape, void* data,
                      void (*dtor)(void*), void* dtor_arg);
/* A 0-d array holding one value given as double (complex: re, im). */
array* array_new_scalar(mlx_dtype dtype, double re, double im);

void array_retain(array* a);
void array_release(array* a);

/* Checks a shape from the user: non-negative dims, size fits in int64. */
int shape_check(const char* op, const int* shape, int ndim, size_t* size_out);

/* ---- state ---- */

static inline bool array_is_ready(const array* a) {
  return a->node == NULL;
}
static inline size_t array_nbytes(const array* a) {
  return a->size * dtype_size(a->dtype);
}
/* Pointer to element 0 (offset applied). Only for evaluated arrays. */
static inline void* array_data(const array* a) {
  return (char*)a->buf->ptr + a->offset * (int64_t)dtype_size(a->dtype);
}

/* ---- used by kernels while evaluating a node ---- */

/* Gives out a fresh row-contiguous buffer. */
int array_alloc(array* out);
/* Lets out take in's buffer when in dies after this node and the layouts
 * agree (row-contiguous, same element size and count); else allocates. */
int array_alloc_or_donate(array* out, array* const* candidates, int n);
/* Makes out a view of in's buffer with the given strides and offset. */
void array_set_view(array* out, const array* in, const int64_t* strides,
                    int64_t offset, size_t data_size);
/* Recomputes the contiguity flags (and data_size if asked) from strides. */
void array_update_flags(array* a);
void array_row_strides(const int* shape, int ndim, int64_t* strides);

/* Internal to core: frees a node (queues its inputs for release; call
 * release_drain() afterwards when not inside a release). */
void node_free(node* n);
void release_drain(void);

/* ---- evaluation (graph.c) ---- */

int graph_eval(array* const* roots, int n);
static inline int array_eval(array* a) {
  return a->node ? graph_eval(&a, 1) : 0;
}
/* Evaluates a, then makes sure its layout has no negative strides (copying
 * into a fresh buffer if needed). */
int array_eval_for_export(array* a);

/* Copies an evaluated array into a new row-contiguous array of dtype. */
array* array_copy_contiguous(const array* a, mlx_dtype dtype);

#endif
