/* cmlx: owned, immutable C strings (mlx_string). */
#ifndef MLX_STRING_H
#define MLX_STRING_H

#ifdef __cplusplus
extern "C" {
#endif

/* A handle to a heap string. ctx == NULL is the empty handle. */
typedef struct mlx_string_ {
  void* ctx;
} mlx_string;

mlx_string mlx_string_new(void);
/* Copies str. */
mlx_string mlx_string_new_data(const char* str);
/* Makes *str hold a copy of src's text. */
int mlx_string_set(mlx_string* str, const mlx_string src);
/* The text, valid until the handle is freed or set; "" for an empty handle. */
const char* mlx_string_data(mlx_string str);
int mlx_string_free(mlx_string str);

#ifdef __cplusplus
}
#endif

#endif
