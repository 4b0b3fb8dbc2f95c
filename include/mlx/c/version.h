/* cmlx: library version. */
#ifndef MLX_VERSION_H
#define MLX_VERSION_H

#include "mlx/c/string.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes cmlx's own version ("<major>.<minor>.<patch>") into *str_. */
int mlx_version(mlx_string* str_);

#ifdef __cplusplus
}
#endif

#endif
