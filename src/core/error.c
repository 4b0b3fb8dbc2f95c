/* error.c - thread-local error message and the user-visible error handler. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mlx/c/error.h"

#define ERROR_MAX 1024

static _Thread_local char error_buf[ERROR_MAX];

int error_set(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_buf, sizeof error_buf, fmt, ap);
  va_end(ap);
  return 1;
}

const char* error_message(void) {
  return error_buf;
}

void error_clear(void) {
  error_buf[0] = 0;
}

char* error_format_shape(char* buf, size_t n, const int* shape, int ndim) {
  size_t used = 0;
  if (n == 0) return buf;
  buf[0] = 0;
  used += (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < ndim && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, i ? ",%d" : "%d", shape[i]);
  if (used < n) snprintf(buf + used, n - used, ")");
  return buf;
}

/* The handler. The default prints and returns; it never exits the process
 * (a deliberate difference from mlx-c, see DECISIONS.md). */
static void default_handler(const char* msg, void* data) {
  (void)data;
  fprintf(stderr, "MLX error: %s\n", msg);
}

static mlx_error_handler_func handler_fn = default_handler;
static void* handler_data = NULL;
static void (*handler_dtor)(void*) = NULL;

void mlx_set_error_handler(
    mlx_error_handler_func handler,
    void* data,
    void (*dtor)(void*)) {
  if (handler_dtor) handler_dtor(handler_data);
  handler_fn = handler ? handler : default_handler;
  handler_data = data;
  handler_dtor = dtor;
}

int api_fail(void) {
  if (!error_buf[0]) snprintf(error_buf, sizeof error_buf, "unknown error");
  handler_fn(error_buf, handler_data);
  error_buf[0] = 0;
  return 1;
}

void _mlx_error(const char* file, const int line, const char* fmt, ...) {
  char msg[ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (len < 0) len = 0;
  if ((size_t)len < sizeof msg)
    snprintf(msg + len, sizeof msg - (size_t)len, " at %s:%d", file, line);
  handler_fn(msg, handler_data);
}
