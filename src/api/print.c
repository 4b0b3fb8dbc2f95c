/* print.c - mlx_array_tostring: the text MLX prints for an array.
 *
 * The result is byte for byte what `std::cout << array` gives in MLX 0.32.2
 * (mlx-c returns exactly that stream's text):
 *
 *   array([[1, 2, 3],
 *          [4, 5, 6]], dtype=float32)
 *
 * The rules, as MLX applies them:
 * - Each axis prints "[" items "]". Items of the last axis are separated by
 *   ", "; items of an outer axis by ",\n" and then 7 + axis spaces, which
 *   lines a row up under the "[" of the row above ("array(" is 6 wide, plus
 *   one "[" per enclosing axis).
 * - An axis longer than 2 * EDGE_ITEMS shows its first EDGE_ITEMS and last
 *   EDGE_ITEMS items with "..." in between, printed as one more item: on an
 *   outer axis that is a line "...," of its own.
 * - Numbers are printed as a default C++ ostream prints them: integers in
 *   decimal (int8 and uint8 as numbers, not characters), floats like
 *   printf's %g (6 significant digits: 0.333008, 1e-05, -3.00406e+38, nan,
 *   -inf, -0), with float16 and bfloat16 widened to float first; bool as
 *   true / false; complex as "re+imj", or "re-|im|j" when im < 0. Because the
 *   test is `im >= 0 || isnan(im)`, an imaginary -0 prints as "+-0j".
 * - A 0-d array prints its one value without brackets; an axis of length 0
 *   prints "[]" (so shape [2, 0] gives "[[],\n       []]").
 *
 * Elements are read through the array's strides, so views (transposes,
 * broadcasts, slices) print without a copy. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/half.h"

/* Items shown at each end of an axis that is too long to print in full. */
#define EDGE_ITEMS 3
/* Width of "array(": the indentation of axis 0's rows before their "[". */
#define PREFIX_WIDTH 6

/* A growing NUL-terminated string. failed is set (and text stops growing)
 * once an allocation fails; the caller checks it once at the end. */
typedef struct text {
  char* buf;
  size_t len;
  size_t cap;
  bool failed;
} text;

static void text_append(text* t, const char* s, size_t n) {
  if (t->failed) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (t->len + n + 1 > cap) cap *= 2;
    char* grown = realloc(t->buf, cap);
    if (!grown) {
      t->failed = true;
      return;
    }
    t->buf = grown;
    t->cap = cap;
  }
  memcpy(t->buf + t->len, s, n);
  t->len += n;
  t->buf[t->len] = '\0';
}

static void text_puts(text* t, const char* s) {
  text_append(t, s, strlen(s));
}

static void text_printf(text* t, const char* fmt, ...) CMLX_PRINTF(2, 3);
static void text_printf(text* t, const char* fmt, ...) {
  char tmp[64]; /* enough for any one number printed here */
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp) {
    t->failed = true;
    return;
  }
  text_append(t, tmp, (size_t)n);
}

static void text_spaces(text* t, int n) {
  static const char spaces[] = "                                ";
  while (n > 0) {
    int k = n < (int)sizeof spaces - 1 ? n : (int)sizeof spaces - 1;
    text_append(t, spaces, (size_t)k);
    n -= k;
  }
}

/* ---- one element ---- */

static uint64_t load_uint(const char* p, size_t size) {
  switch (size) {
    case 1: { uint8_t v; memcpy(&v, p, 1); return v; }
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
  }
}

static int64_t load_int(const char* p, size_t size) {
  switch (size) {
    case 1: { int8_t v; memcpy(&v, p, 1); return v; }
    case 2: { int16_t v; memcpy(&v, p, 2); return v; }
    case 4: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return v; }
  }
}

/* The value of a real floating element, widened exactly to double (what
 * ostream does with a float before formatting it). */
static double load_float(mlx_dtype dtype, const char* p) {
  uint16_t h;
  float f;
  double d;
  switch (dtype) {
    case MLX_FLOAT16: memcpy(&h, p, 2); return f16_to_f32(h);
    case MLX_BFLOAT16: memcpy(&h, p, 2); return bf16_to_f32(h);
    case MLX_FLOAT32: memcpy(&f, p, 4); return f;
    default: memcpy(&d, p, 8); return d;
  }
}

/* %g with ostream's default precision (6) is exactly how libstdc++ and libc++
 * format a double for `os << x`. */
static void put_real(text* t, double v) {
  text_printf(t, "%g", v);
}

static void put_element(text* t, mlx_dtype dtype, const char* p) {
  switch (dtype_kind_of(dtype)) {
    case KIND_BOOL:
      text_puts(t, load_uint(p, 1) ? "true" : "false");
      break;
    case KIND_UINT:
      text_printf(t, "%" PRIu64, load_uint(p, dtype_size(dtype)));
      break;
    case KIND_INT:
      text_printf(t, "%" PRId64, load_int(p, dtype_size(dtype)));
      break;
    case KIND_FLOAT:
      put_real(t, load_float(dtype, p));
      break;
    case KIND_COMPLEX: {
      complex64 c;
      memcpy(&c, p, sizeof c);
      put_real(t, c.re);
      if (c.im >= 0 || isnan(c.im)) {
        text_puts(t, "+");
        put_real(t, c.im);
      } else {
        text_puts(t, "-");
        put_real(t, -c.im);
      }
      text_puts(t, "j");
      break;
    }
  }
}

/* ---- the nested brackets ---- */

/* Prints axis `axis` of a, whose first element is `index` elements (in
 * stride units) past element 0. */
static void put_axis(text* t, const array* a, const char* data, int64_t index,
                     int axis) {
  int n = a->shape[axis];
  int64_t stride = a->strides[axis];
  bool innermost = axis == a->ndim - 1;
  size_t elem = dtype_size(a->dtype);
  bool truncate = n > 2 * EDGE_ITEMS;

  text_puts(t, "[");
  for (int i = 0; i < n; i++) {
    if (i > 0 && !innermost) text_spaces(t, PREFIX_WIDTH + 1 + axis);
    if (truncate && i == EDGE_ITEMS) {
      /* Skip to the last EDGE_ITEMS items; "..." stands for the rest. */
      text_puts(t, "...");
      index += (int64_t)(n - 2 * EDGE_ITEMS - 1) * stride;
      i = n - EDGE_ITEMS - 1;
    } else if (innermost) {
      put_element(t, a->dtype, data + index * (int64_t)elem);
    } else {
      put_axis(t, a, data, index, axis + 1);
    }
    if (i < n - 1) text_puts(t, innermost ? ", " : ",\n");
    index += stride;
  }
  text_puts(t, "]");
}

int mlx_array_tostring(mlx_string* str, const mlx_array arr) {
  if (!str) {
    error_set("[array_tostring] The result pointer is NULL.");
    return api_fail();
  }
  if (!arr.ctx) {
    error_set("[array_tostring] The array is empty (an mlx_array_new() handle).");
    return api_fail();
  }
  array* a = api_array(arr);
  if (array_eval(a)) return api_fail();

  text t = {0};
  text_puts(&t, "array(");
  if (a->ndim == 0) {
    put_element(&t, a->dtype, array_data(a));
  } else {
    /* An array with no elements may have no buffer: never ask for it. */
    const char* data = a->size > 0 ? array_data(a) : NULL;
    put_axis(&t, a, data, 0, 0);
  }
  text_puts(&t, ", dtype=");
  text_puts(&t, dtype_name(a->dtype));
  text_puts(&t, ")");
  if (t.failed) {
    free(t.buf);
    error_set("[array_tostring] Out of memory while printing the array.");
    return api_fail();
  }

  if (str->ctx) mlx_string_free(*str);
  *str = mlx_string_new_data(t.buf);
  free(t.buf);
  if (!str->ctx) {
    error_set("[array_tostring] Out of memory while printing the array.");
    return api_fail();
  }
  return 0;
}
