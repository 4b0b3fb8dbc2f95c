/* error.h - how failures travel inside cmlx.
 *
 * Internal functions return a status (0 ok, 1 failed) or NULL, after calling
 * error_set() with the message. The message lives in thread-local storage
 * until the API layer hands it to the user's handler (api_fail). */
#ifndef CMLX_CORE_ERROR_H
#define CMLX_CORE_ERROR_H

#if defined(__GNUC__)
#define CMLX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CMLX_PRINTF(f, a)
#endif

/* Records the message; always returns 1 so callers can `return error_set(..)`. */
int error_set(const char* fmt, ...) CMLX_PRINTF(1, 2);
/* The pending message ("" if none). */
const char* error_message(void);
void error_clear(void);

/* Sends the pending message to the error handler and returns 1. */
int api_fail(void);

/* Formats a shape as MLX does: "(2,3)", "(5)", "()". buf gets at most n bytes. */
char* error_format_shape(char* buf, size_t n, const int* shape, int ndim);

#endif
