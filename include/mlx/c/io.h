/* cmlx: loading and saving arrays (safetensors checkpoints, .npy files).
 *
 * Loading a safetensors file maps it into memory: the arrays borrow the
 * mapping (no second copy) and it is unmapped when the last of them is
 * freed. Tensors whose data is not aligned to their element size are copied.
 * Loaded arrays are already evaluated. Saving writes a temporary file next to
 * the target and renames it into place, so the target is never left half
 * written. File names get ".safetensors" / ".npy" appended when missing, as
 * MLX does. Results are stored into *res (an existing map's contents are
 * replaced; an empty handle gets a new map that the caller frees). */
#ifndef MLX_IO_H
#define MLX_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mlx/c/array.h"
#include "mlx/c/io_types.h"
#include "mlx/c/map.h"
#include "mlx/c/stream.h"
#include "mlx/c/string.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One array from a .npy file. */
int mlx_load_reader(mlx_array* res, mlx_io_reader in_stream, const mlx_stream s);
int mlx_load(mlx_array* res, const char* file, const mlx_stream s);

/* Tensors (res_0) and the "__metadata__" strings (res_1) of a safetensors
 * file. */
int mlx_load_safetensors_reader(mlx_map_string_to_array* res_0,
                                mlx_map_string_to_string* res_1,
                                mlx_io_reader in_stream, const mlx_stream s);
int mlx_load_safetensors(mlx_map_string_to_array* res_0,
                         mlx_map_string_to_string* res_1, const char* file,
                         const mlx_stream s);

/* One array as a .npy file. */
int mlx_save_writer(mlx_io_writer out_stream, const mlx_array a);
int mlx_save(const char* file, const mlx_array a);

/* All arrays of param, with metadata (may be an empty handle) as the
 * "__metadata__" strings. */
int mlx_save_safetensors_writer(mlx_io_writer in_stream,
                                const mlx_map_string_to_array param,
                                const mlx_map_string_to_string metadata);
int mlx_save_safetensors(const char* file, const mlx_map_string_to_array param,
                         const mlx_map_string_to_string metadata);

#ifdef __cplusplus
}
#endif

#endif
