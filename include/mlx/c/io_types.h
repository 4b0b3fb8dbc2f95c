/* cmlx: user-supplied byte sources and sinks for the io functions.
 *
 * A reader or writer wraps a caller's descriptor `desc` and a table of
 * callbacks that act on it. The library never looks inside `desc`; it calls
 * the callbacks, and calls `free(desc)` once when the handle is freed.
 * Readers need is_open, good, tell, seek, read and read_at_offset; writers
 * need is_open, good and write. `label` (may be NULL) names the source in
 * error messages. A failing read or write must make `good` return false. */
#ifndef MLX_IO_TYPES_H
#define MLX_IO_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlx/c/string.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ctx == NULL is the empty handle. */
typedef struct mlx_io_reader_ {
  void* ctx;
} mlx_io_reader;

typedef struct mlx_io_writer_ {
  void* ctx;
} mlx_io_writer;

/* Callbacks on a user descriptor. `whence` is SEEK_SET, SEEK_CUR or
 * SEEK_END from <stdio.h>. read_at_offset reads n bytes at absolute offset
 * off (the current position is not used). */
typedef struct mlx_io_vtable_ {
  bool (*is_open)(void*);
  bool (*good)(void*);
  size_t (*tell)(void*);
  void (*seek)(void*, int64_t off, int whence);
  void (*read)(void*, char* data, size_t n);
  void (*read_at_offset)(void*, char* data, size_t n, size_t off);
  void (*write)(void*, const char* data, size_t n);
  const char* (*label)(void*);
  void (*free)(void*);
} mlx_io_vtable;

/* A new reader over desc (an empty handle, with the error reported, when
 * out of memory). */
mlx_io_reader mlx_io_reader_new(void* desc, mlx_io_vtable vtable);
/* Stores the reader's desc in *desc_. */
int mlx_io_reader_descriptor(void** desc_, mlx_io_reader io);
/* Makes *str_ hold the reader's label. */
int mlx_io_reader_tostring(mlx_string* str_, mlx_io_reader io);
/* Calls the vtable's free(desc) and releases the handle. */
int mlx_io_reader_free(mlx_io_reader io);

mlx_io_writer mlx_io_writer_new(void* desc, mlx_io_vtable vtable);
int mlx_io_writer_descriptor(void** desc_, mlx_io_writer io);
int mlx_io_writer_tostring(mlx_string* str_, mlx_io_writer io);
int mlx_io_writer_free(mlx_io_writer io);

#ifdef __cplusplus
}
#endif

#endif
