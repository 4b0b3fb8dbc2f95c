/* string.c - mlx_string, the library's owned C string handle.
 *
 * A handle's ctx is a heap copy of the text (a NUL-terminated char*) that the
 * handle owns; ctx == NULL is the empty handle, which reads as "". Setting a
 * handle replaces its text, so pointers from mlx_string_data stay valid only
 * until the handle is set or freed. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mlx/c/string.h"

/* A heap copy of text, or NULL (with the message set) when out of memory. */
static char* copy_text(const char* text, const char* op) {
  size_t n = strlen(text) + 1;
  char* p = malloc(n);
  if (!p) {
    error_set("[%s] Out of memory.", op);
    return NULL;
  }
  memcpy(p, text, n);
  return p;
}

mlx_string mlx_string_new(void) {
  return (mlx_string){NULL};
}

mlx_string mlx_string_new_data(const char* str) {
  if (!str) {
    error_set("[string] The text pointer is NULL.");
    api_fail();
    return mlx_string_new();
  }
  char* p = copy_text(str, "string");
  if (!p) api_fail();
  return (mlx_string){p};
}

int mlx_string_set(mlx_string* str, const mlx_string src) {
  if (!str) {
    error_set("[string_set] The destination pointer is NULL.");
    return api_fail();
  }
  if (!src.ctx) {
    error_set("[string_set] The source string handle is empty.");
    return api_fail();
  }
  if (str->ctx == src.ctx) return 0;
  /* Copy before freeing: src's text may be what *str held. */
  char* p = copy_text(src.ctx, "string_set");
  if (!p) return api_fail();
  free(str->ctx);
  str->ctx = p;
  return 0;
}

const char* mlx_string_data(mlx_string str) {
  return str.ctx ? (const char*)str.ctx : "";
}

int mlx_string_free(mlx_string str) {
  free(str.ctx);
  return 0;
}
