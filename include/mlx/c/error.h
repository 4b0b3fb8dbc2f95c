/* cmlx: error reporting.
 *
 * Every API function returns 0 on success and 1 on failure; on failure the
 * message ("[op] what went wrong", MLX's text where MLX has one) is passed to
 * the current error handler. The default handler prints "MLX error: <msg>"
 * to stderr and returns: cmlx never ends the host process. */
#ifndef MLX_ERROR_H
#define MLX_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mlx_error_handler_func)(const char* msg, void* data);

/* Installs handler (NULL restores the default). data is passed to every call;
 * dtor, when given, is called on data when the handler is replaced. */
void mlx_set_error_handler(
    mlx_error_handler_func handler,
    void* data,
    void (*dtor)(void*));

/* Formats a message, appends " at file:line" and sends it to the handler. */
void _mlx_error(const char* file, const int line, const char* fmt, ...);
#define mlx_error(...) _mlx_error(__FILE__, __LINE__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
