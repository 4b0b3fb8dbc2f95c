/* array.c - the mlx_array_* entry points: construction, assignment,
 * metadata, evaluation, scalar read-out and raw data access. */
#include <string.h>

#include "api/api.h"
#include "backend/cpu/elementwise.h"
#include "core/half.h"

size_t mlx_dtype_size(mlx_dtype dtype) {
  return dtype_valid((int)dtype) ? dtype_size(dtype) : 0;
}

mlx_array mlx_array_new(void) {
  return (mlx_array){NULL};
}

int mlx_array_free(mlx_array arr) {
  array_release(api_array(arr));
  return 0;
}

static mlx_array new_scalar(mlx_dtype t, double re, double im) {
  array* a = array_new_scalar(t, re, im);
  if (!a) api_fail();
  return api_wrap(a);
}

mlx_array mlx_array_new_bool(bool val) { return new_scalar(MLX_BOOL, val, 0); }
mlx_array mlx_array_new_int(int val) { return new_scalar(MLX_INT32, val, 0); }
mlx_array mlx_array_new_float32(float val) { return new_scalar(MLX_FLOAT32, val, 0); }
mlx_array mlx_array_new_float(float val) { return new_scalar(MLX_FLOAT32, val, 0); }
mlx_array mlx_array_new_float64(double val) { return new_scalar(MLX_FLOAT64, val, 0); }
mlx_array mlx_array_new_double(double val) { return new_scalar(MLX_FLOAT64, val, 0); }
mlx_array mlx_array_new_complex(float real_val, float imag_val) {
  return new_scalar(MLX_COMPLEX64, real_val, imag_val);
}

static int check_new(const void* data, const int* shape, int dim,
                     mlx_dtype dtype, const char* op) {
  size_t size;
  if (!dtype_valid((int)dtype)) return error_set("[%s] Invalid dtype %d.", op, (int)dtype);
  if (shape_check(op, shape, dim, &size)) return 1;
  if (!data && size > 0) return error_set("[%s] The data pointer is NULL.", op);
  return 0;
}

mlx_array mlx_array_new_data(const void* data, const int* shape, int dim,
                             mlx_dtype dtype) {
  if (check_new(data, shape, dim, dtype, "array")) {
    api_fail();
    return mlx_array_new();
  }
  array* a = array_new_copy(dtype, dim, shape, data);
  if (!a) api_fail();
  return api_wrap(a);
}

mlx_array mlx_array_new_data_managed_payload(void* data, const int* shape,
                                             int dim, mlx_dtype dtype,
                                             void* payload,
                                             void (*dtor)(void*)) {
  if (check_new(data, shape, dim, dtype, "array")) {
    api_fail();
    return mlx_array_new();
  }
  array* a = array_new_wrap(dtype, dim, shape, data, dtor, payload);
  if (!a) api_fail();
  return api_wrap(a);
}

mlx_array mlx_array_new_data_managed(void* data, const int* shape, int dim,
                                     mlx_dtype dtype, void (*dtor)(void*)) {
  return mlx_array_new_data_managed_payload(data, shape, dim, dtype, data, dtor);
}

int mlx_array_set(mlx_array* arr, const mlx_array src) {
  if (!arr) {
    error_set("[array_set] The destination pointer is NULL.");
    return api_fail();
  }
  array_retain(api_array(src));
  return api_set_result(arr, api_array(src));
}

static int set_new(mlx_array* arr, mlx_array made) {
  if (!made.ctx) return 1; /* already reported */
  if (!arr) {
    array_release(api_array(made));
    error_set("[array_set] The destination pointer is NULL.");
    return api_fail();
  }
  return api_set_result(arr, api_array(made));
}

int mlx_array_set_bool(mlx_array* arr, bool val) { return set_new(arr, mlx_array_new_bool(val)); }
int mlx_array_set_int(mlx_array* arr, int val) { return set_new(arr, mlx_array_new_int(val)); }
int mlx_array_set_float32(mlx_array* arr, float val) { return set_new(arr, mlx_array_new_float32(val)); }
int mlx_array_set_float(mlx_array* arr, float val) { return set_new(arr, mlx_array_new_float(val)); }
int mlx_array_set_float64(mlx_array* arr, double val) { return set_new(arr, mlx_array_new_float64(val)); }
int mlx_array_set_double(mlx_array* arr, double val) { return set_new(arr, mlx_array_new_double(val)); }
int mlx_array_set_complex(mlx_array* arr, float re, float im) {
  return set_new(arr, mlx_array_new_complex(re, im));
}
int mlx_array_set_data(mlx_array* arr, const void* data, const int* shape,
                       int dim, mlx_dtype dtype) {
  return set_new(arr, mlx_array_new_data(data, shape, dim, dtype));
}

/* ---- metadata: an empty handle reads as 0 / NULL, with an error ---- */

static array* meta(mlx_array arr, const char* op) {
  if (!arr.ctx) {
    error_set("[%s] The array is empty (an mlx_array_new() handle).", op);
    api_fail();
  }
  return api_array(arr);
}

size_t mlx_array_itemsize(const mlx_array arr) {
  array* a = meta(arr, "array_itemsize");
  return a ? dtype_size(a->dtype) : 0;
}
size_t mlx_array_size(const mlx_array arr) {
  array* a = meta(arr, "array_size");
  return a ? a->size : 0;
}
size_t mlx_array_nbytes(const mlx_array arr) {
  array* a = meta(arr, "array_nbytes");
  return a ? array_nbytes(a) : 0;
}
size_t mlx_array_ndim(const mlx_array arr) {
  array* a = meta(arr, "array_ndim");
  return a ? (size_t)a->ndim : 0;
}
const int* mlx_array_shape(const mlx_array arr) {
  array* a = meta(arr, "array_shape");
  return a ? a->shape : NULL;
}
int mlx_array_dim(const mlx_array arr, int dim) {
  array* a = meta(arr, "array_dim");
  if (!a) return 0;
  int d = dim < 0 ? dim + a->ndim : dim;
  if (d < 0 || d >= a->ndim) {
    error_set("[array_dim] Axis %d is out of bounds for array with %d dimensions.", dim, a->ndim);
    api_fail();
    return 0;
  }
  return a->shape[d];
}
mlx_dtype mlx_array_dtype(const mlx_array arr) {
  array* a = meta(arr, "array_dtype");
  return a ? a->dtype : MLX_BOOL;
}

const size_t* mlx_array_strides(const mlx_array arr) {
  array* a = meta(arr, "array_strides");
  if (!a) return NULL;
  if (array_eval_for_export(a)) {
    api_fail();
    return NULL;
  }
  /* strides are non-negative here, so int64 and size_t share bits */
  return (const size_t*)a->strides;
}

int mlx_array_eval(mlx_array arr) {
  array* a = meta(arr, "array_eval");
  if (!a) return 1;
  if (array_eval(a)) return api_fail();
  return 0;
}

/* ---- item ---- */

static int item_read(const mlx_array arr, mlx_dtype want, void* res) {
  array* a = meta(arr, "item");
  if (!a) return 1;
  if (!res) {
    error_set("[item] The result pointer is NULL.");
    return api_fail();
  }
  if (a->size != 1) {
    error_set("item can only be called on arrays of size 1.");
    return api_fail();
  }
  if (array_eval(a)) return api_fail();
  ew_convert_one(res, want, array_data(a), a->dtype);
  return 0;
}

#define ITEM_FN(suffix, ctype, dt)                              \
  int mlx_array_item_##suffix(ctype* res, const mlx_array arr) { \
    return item_read(arr, dt, res);                            \
  }
ITEM_FN(bool, bool, MLX_BOOL)
ITEM_FN(uint8, uint8_t, MLX_UINT8)
ITEM_FN(uint16, uint16_t, MLX_UINT16)
ITEM_FN(uint32, uint32_t, MLX_UINT32)
ITEM_FN(uint64, uint64_t, MLX_UINT64)
ITEM_FN(int8, int8_t, MLX_INT8)
ITEM_FN(int16, int16_t, MLX_INT16)
ITEM_FN(int32, int32_t, MLX_INT32)
ITEM_FN(int64, int64_t, MLX_INT64)
ITEM_FN(float32, float, MLX_FLOAT32)
ITEM_FN(float64, double, MLX_FLOAT64)
ITEM_FN(complex64, mlx_complex64_t, MLX_COMPLEX64)

/* ---- data ---- */

static const void* data_ptr(const mlx_array arr) {
  array* a = meta(arr, "array_data");
  if (!a) return NULL;
  if (array_eval_for_export(a)) {
    api_fail();
    return NULL;
  }
  return array_data(a);
}

#define DATA_FN(suffix, ctype)                                        \
  const ctype* mlx_array_data_##suffix(const mlx_array arr) {         \
    return (const ctype*)data_ptr(arr);                               \
  }
DATA_FN(bool, bool)
DATA_FN(uint8, uint8_t)
DATA_FN(uint16, uint16_t)
DATA_FN(uint32, uint32_t)
DATA_FN(uint64, uint64_t)
DATA_FN(int8, int8_t)
DATA_FN(int16, int16_t)
DATA_FN(int32, int32_t)
DATA_FN(int64, int64_t)
DATA_FN(float32, float)
DATA_FN(float64, double)
DATA_FN(complex64, mlx_complex64_t)

/* ---- contiguity ---- */

static int flag_query(bool* res, const mlx_array arr, unsigned flag, const char* op) {
  array* a = meta(arr, op);
  if (!a) return 1;
  if (!res) {
    error_set("[%s] The result pointer is NULL.", op);
    return api_fail();
  }
  if (array_eval(a)) return api_fail();
  *res = (a->flags & flag) != 0;
  return 0;
}

int _mlx_array_is_available(bool* res, const mlx_array arr) {
  array* a = meta(arr, "array_is_available");
  if (!a) return 1;
  if (res) *res = array_is_ready(a);
  return 0;
}
int _mlx_array_wait(const mlx_array arr) {
  return meta(arr, "array_wait") ? 0 : 1;
}
int _mlx_array_is_contiguous(bool* res, const mlx_array arr) {
  return flag_query(res, arr, ARRAY_CONTIGUOUS, "array_is_contiguous");
}
int _mlx_array_is_row_contiguous(bool* res, const mlx_array arr) {
  return flag_query(res, arr, ARRAY_ROW_CONTIGUOUS, "array_is_row_contiguous");
}
int _mlx_array_is_col_contiguous(bool* res, const mlx_array arr) {
  return flag_query(res, arr, ARRAY_COL_CONTIGUOUS, "array_is_col_contiguous");
}
