/* vector.c - the mlx_vector_* handles: growable vectors of arrays, of vectors
 * of arrays, of ints and of strings, plus the internal access to vectors of
 * arrays that other API files use (api.h).
 *
 * All four share one container, `vec`, driven by a small table of element
 * facts (`vec_kind`). A vector stores each element in the same form the user
 * hands it in (mlx_array, mlx_vector_array, int, char*), so one copy function
 * per kind serves both "copy in from the user" and "copy a vector":
 *   - arrays are held by reference (the vector owns one reference each);
 *   - vectors of arrays are deep copies (their arrays again by reference);
 *   - strings are heap copies owned by the vector.
 * Setting a handle replaces the contents of its existing vec in place, so
 * copies of the handle struct see the change (as in mlx-c). Every operation
 * builds its new elements first and commits only when all succeeded: a
 * failed call leaves the vector as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "mlx/c/vector.h"

typedef struct vec_kind {
  size_t item_size;
  /* Copies the element at `in` into `slot`. pos is its position in the
   * caller's input, for messages. Fails for empty handles/NULL strings and
   * when out of memory. */
  int (*copy)(void* slot, const void* in, size_t pos, const char* op);
  void (*drop)(void* slot); /* NULL: nothing to free */
} vec_kind;

/* Invariant: items[0, size) are initialised, owned elements; cap >= size. */
typedef struct vec {
  const vec_kind* kind;
  size_t size;
  size_t cap;
  unsigned char* items;
} vec;

static void* vec_slot(const vec* v, size_t i) {
  return v->items + i * v->kind->item_size;
}

static vec* vec_new(const vec_kind* kind, const char* op) {
  vec* v = calloc(1, sizeof *v);
  if (!v) {
    error_set("[%s] Out of memory.", op);
    return NULL;
  }
  v->kind = kind;
  return v;
}

static void vec_drop_range(vec* v, size_t from, size_t to) {
  if (!v->kind->drop) return;
  for (size_t i = from; i < to; i++) v->kind->drop(vec_slot(v, i));
}

static void vec_free(vec* v) {
  if (!v) return;
  vec_drop_range(v, 0, v->size);
  free(v->items);
  free(v);
}

static int vec_reserve(vec* v, size_t n, const char* op) {
  if (n <= v->cap) return 0;
  size_t cap = v->cap ? v->cap : 4;
  while (cap < n) cap = cap > SIZE_MAX / 2 ? n : cap * 2;
  if (cap > SIZE_MAX / v->kind->item_size)
    return error_set("[%s] Out of memory.", op);
  unsigned char* items = realloc(v->items, cap * v->kind->item_size);
  if (!items) return error_set("[%s] Out of memory.", op);
  v->items = items;
  v->cap = cap;
  return 0;
}

/* Appends copies of the n elements at in (all or nothing). */
static int vec_append(vec* v, const void* in, size_t n, const char* op) {
  if (n == 0) return 0;
  if (!in) return error_set("[%s] The data pointer is NULL.", op);
  if (n > SIZE_MAX - v->size) return error_set("[%s] Out of memory.", op);
  if (vec_reserve(v, v->size + n, op)) return 1;
  const unsigned char* src = in;
  for (size_t i = 0; i < n; i++) {
    if (v->kind->copy(vec_slot(v, v->size + i), src + i * v->kind->item_size,
                      i, op)) {
      vec_drop_range(v, v->size, v->size + i);
      return 1;
    }
  }
  v->size += n;
  return 0;
}

/* A new vector holding copies of the n elements at in, or NULL. */
static vec* vec_from(const vec_kind* kind, const void* in, size_t n,
                     const char* op) {
  vec* v = vec_new(kind, op);
  if (v && vec_append(v, in, n, op)) {
    vec_free(v);
    return NULL;
  }
  return v;
}

/* Makes *ctx hold fresh's contents: adopts fresh when *ctx is NULL, else
 * moves the contents into the existing vec (keeping its address) and frees
 * the old ones. Consumes fresh. */
static void vec_store(void** ctx, vec* fresh) {
  vec* dst = *ctx;
  if (!dst) {
    *ctx = fresh;
    return;
  }
  vec old = *dst;
  dst->size = fresh->size;
  dst->cap = fresh->cap;
  dst->items = fresh->items;
  fresh->size = old.size;
  fresh->cap = old.cap;
  fresh->items = old.items;
  vec_free(fresh);
}

/* The vec behind a handle that must not be empty. */
static vec* vec_of(void* ctx, const char* op) {
  if (!ctx) error_set("[%s] The vector handle is empty.", op);
  return ctx;
}

/* The vec behind v and the address of element idx, checking both. */
static void* vec_at(void* ctx, size_t idx, const char* op) {
  vec* v = vec_of(ctx, op);
  if (!v) return NULL;
  if (idx >= v->size) {
    error_set("[%s] Index %zu is out of range for a vector of size %zu.", op,
              idx, v->size);
    return NULL;
  }
  return vec_slot(v, idx);
}

/* ---- element kinds ---- */

static int array_copy(void* slot, const void* in, size_t pos, const char* op) {
  mlx_array a = *(const mlx_array*)in;
  if (!a.ctx)
    return error_set("[%s] Input element %zu is an empty array handle.", op, pos);
  array_retain(a.ctx);
  *(mlx_array*)slot = a;
  return 0;
}
static void array_drop(void* slot) {
  array_release(((mlx_array*)slot)->ctx);
}
static const vec_kind array_kind = {sizeof(mlx_array), array_copy, array_drop};

static int vector_copy(void* slot, const void* in, size_t pos, const char* op) {
  const vec* src = ((const mlx_vector_array*)in)->ctx;
  if (!src)
    return error_set("[%s] Input element %zu is an empty vector handle.", op, pos);
  vec* v = vec_from(&array_kind, src->items, src->size, op);
  if (!v) return 1;
  *(mlx_vector_array*)slot = (mlx_vector_array){v};
  return 0;
}
static void vector_drop(void* slot) {
  vec_free(((mlx_vector_array*)slot)->ctx);
}
static const vec_kind vector_kind = {sizeof(mlx_vector_array), vector_copy,
                                     vector_drop};

static int int_copy(void* slot, const void* in, size_t pos, const char* op) {
  *(int*)slot = *(const int*)in;
  return 0;
}
static const vec_kind int_kind = {sizeof(int), int_copy, NULL};

static int string_copy(void* slot, const void* in, size_t pos, const char* op) {
  const char* s = *(const char* const*)in;
  if (!s) return error_set("[%s] Input element %zu is a NULL string.", op, pos);
  size_t n = strlen(s) + 1;
  char* p = malloc(n);
  if (!p) return error_set("[%s] Out of memory.", op);
  memcpy(p, s, n);
  *(char**)slot = p;
  return 0;
}
static void string_drop(void* slot) {
  free(*(char**)slot);
}
static const vec_kind string_kind = {sizeof(char*), string_copy, string_drop};

/* ---- the entry points every kind shares ----
 * T: the handle's name without mlx_ (also the prefix of messages); KIND: its
 * vec_kind; DATA_T / VALUE_T: how mlx-c spells the element pointer and value
 * parameters for that kind. */

#define VECTOR_API(T, KIND, DATA_T, VALUE_T)                                  \
  mlx_##T mlx_##T##_new(void) {                                               \
    mlx_##T h = {vec_new(&KIND, #T "_new")};                                  \
    if (!h.ctx) api_fail();                                                   \
    return h;                                                                 \
  }                                                                           \
                                                                              \
  int mlx_##T##_free(mlx_##T handle) {                                        \
    vec_free(handle.ctx);                                                     \
    return 0;                                                                 \
  }                                                                           \
                                                                              \
  mlx_##T mlx_##T##_new_data(DATA_T data, size_t size) {                      \
    mlx_##T h = {vec_from(&KIND, data, size, #T "_new_data")};                \
    if (!h.ctx) api_fail();                                                   \
    return h;                                                                 \
  }                                                                           \
                                                                              \
  mlx_##T mlx_##T##_new_value(VALUE_T val) {                                  \
    mlx_##T h = {vec_from(&KIND, &val, 1, #T "_new_value")};                  \
    if (!h.ctx) api_fail();                                                   \
    return h;                                                                 \
  }                                                                           \
                                                                              \
  static int T##_replace(mlx_##T* handle, const void* data, size_t size,      \
                         const char* op) {                                    \
    if (!handle) {                                                            \
      error_set("[%s] The destination pointer is NULL.", op);                 \
      return api_fail();                                                      \
    }                                                                         \
    vec* fresh = vec_from(&KIND, data, size, op);                             \
    if (!fresh) return api_fail();                                            \
    vec_store(&handle->ctx, fresh);                                           \
    return 0;                                                                 \
  }                                                                           \
                                                                              \
  int mlx_##T##_set(mlx_##T* handle, const mlx_##T src) {                     \
    const vec* s = vec_of(src.ctx, #T "_set");                                \
    if (!s) return api_fail();                                                \
    return T##_replace(handle, s->items, s->size, #T "_set");                 \
  }                                                                           \
                                                                              \
  int mlx_##T##_set_data(mlx_##T* handle, DATA_T data, size_t size) {         \
    return T##_replace(handle, data, size, #T "_set_data");                   \
  }                                                                           \
                                                                              \
  int mlx_##T##_set_value(mlx_##T* handle, VALUE_T val) {                     \
    return T##_replace(handle, &val, 1, #T "_set_value");                     \
  }                                                                           \
                                                                              \
  int mlx_##T##_append_data(mlx_##T handle, DATA_T data, size_t size) {       \
    vec* v = vec_of(handle.ctx, #T "_append_data");                           \
    if (!v || vec_append(v, data, size, #T "_append_data")) return api_fail(); \
    return 0;                                                                 \
  }                                                                           \
                                                                              \
  int mlx_##T##_append_value(mlx_##T handle, VALUE_T val) {                   \
    vec* v = vec_of(handle.ctx, #T "_append_value");                          \
    if (!v || vec_append(v, &val, 1, #T "_append_value")) return api_fail();  \
    return 0;                                                                 \
  }                                                                           \
                                                                              \
  size_t mlx_##T##_size(mlx_##T handle) {                                     \
    const vec* v = vec_of(handle.ctx, #T "_size");                            \
    if (!v) {                                                                 \
      api_fail();                                                             \
      return 0;                                                               \
    }                                                                         \
    return v->size;                                                           \
  }

VECTOR_API(vector_array, array_kind, const mlx_array*, const mlx_array)
VECTOR_API(vector_vector_array, vector_kind, const mlx_vector_array*,
           const mlx_vector_array)
VECTOR_API(vector_int, int_kind, int*, int)
VECTOR_API(vector_string, string_kind, const char**, const char*)

/* ---- reading elements ---- */

int mlx_vector_array_get(mlx_array* res, const mlx_vector_array handle,
                         size_t idx) {
  API_CHECK_RES(res, "vector_array_get");
  const mlx_array* a = vec_at(handle.ctx, idx, "vector_array_get");
  if (!a) return api_fail();
  array_retain(a->ctx);
  return api_set_result(res, a->ctx);
}

int mlx_vector_vector_array_get(mlx_vector_array* res,
                                const mlx_vector_vector_array handle,
                                size_t idx) {
  const char* op = "vector_vector_array_get";
  API_CHECK_RES(res, op);
  const mlx_vector_array* inner = vec_at(handle.ctx, idx, op);
  if (!inner) return api_fail();
  const vec* src = inner->ctx;
  vec* fresh = vec_from(&array_kind, src->items, src->size, op);
  if (!fresh) return api_fail();
  vec_store(&res->ctx, fresh);
  return 0;
}

int mlx_vector_int_get(int* res, const mlx_vector_int handle, size_t idx) {
  API_CHECK_RES(res, "vector_int_get");
  const int* p = vec_at(handle.ctx, idx, "vector_int_get");
  if (!p) return api_fail();
  *res = *p;
  return 0;
}

int mlx_vector_string_get(char** res, const mlx_vector_string handle,
                          size_t idx) {
  API_CHECK_RES(res, "vector_string_get");
  char* const* p = vec_at(handle.ctx, idx, "vector_string_get");
  if (!p) return api_fail();
  *res = *p;
  return 0;
}

/* ---- internal access (api.h) ---- */

size_t api_vector_array_size(mlx_vector_array v) {
  return v.ctx ? ((const vec*)v.ctx)->size : 0;
}

array* api_vector_array_at(mlx_vector_array v, size_t i) {
  const vec* p = v.ctx;
  if (!p || i >= p->size) return NULL;
  return ((const mlx_array*)vec_slot(p, i))->ctx;
}

int api_set_vector(mlx_vector_array* res, array** items, size_t n) {
  const char* op = "vector_array";
  vec* fresh = NULL;
  if (!res)
    error_set("[%s] The result pointer is NULL.", op);
  else if ((fresh = vec_new(&array_kind, op)) && vec_reserve(fresh, n, op)) {
    vec_free(fresh);
    fresh = NULL;
  }
  if (!fresh) {
    /* Consumed even on failure, so callers never leak. */
    for (size_t i = 0; i < n; i++) array_release(items[i]);
    return 1;
  }
  for (size_t i = 0; i < n; i++)
    ((mlx_array*)vec_slot(fresh, i))->ctx = items[i];
  fresh->size = n;
  vec_store(&res->ctx, fresh);
  return 0;
}
