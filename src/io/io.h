/* io.h - loading and saving arrays: the internal side of mlx/c/io.h.
 *
 * Files are read through a mapping (safetensors) or plain reads (npy);
 * user streams through an io_stream, the object behind mlx_io_reader and
 * mlx_io_writer handles. Errors are reported with error_set in MLX's words
 * ("[load_safetensors] ...") and every function cleans up after itself. */
#ifndef CMLX_IO_IO_H
#define CMLX_IO_IO_H

#include <stddef.h>

#include "core/array.h"
#include "mlx/c/io_types.h"

/* What an mlx_io_reader / mlx_io_writer handle points to. */
typedef struct io_stream {
  void* desc;
  mlx_io_vtable vt;
} io_stream;

/* The name a stream goes by in messages (its label, or "stream"). */
const char* io_stream_label(const io_stream* s);

/* Named arrays and string pairs, as loaded. Everything here is owned:
 * io_contents_free releases the names, the strings and one reference per
 * array. */
typedef struct io_contents {
  size_t n_arrays;
  char** names;
  array** arrays;
  size_t n_meta;
  char** meta_keys;
  char** meta_values;
} io_contents;

void io_contents_free(io_contents* c);

/* ---- safetensors (safetensors.c) ---- */

/* Loads a file: tensors borrow a private read-only mapping of it. */
int safetensors_load_file(const char* path, io_contents* out);
/* Loads from a reader, reading each tensor into its own buffer. */
int safetensors_load_stream(const io_stream* in, io_contents* out);

/* What to save: borrowed names and arrays (evaluated here), and metadata
 * pairs (n_meta may be 0). */
typedef struct io_save_list {
  size_t n_arrays;
  const char* const* names;
  array* const* arrays;
  size_t n_meta;
  const char* const* meta_keys;
  const char* const* meta_values;
} io_save_list;

/* Saves to path (".safetensors" appended when missing) through a temporary
 * file renamed into place. */
int safetensors_save_file(const char* path, const io_save_list* list);
int safetensors_save_stream(const io_stream* out, const io_save_list* list);

/* ---- .npy (npy.c) ---- */

array* npy_load_file(const char* path);
array* npy_load_stream(const io_stream* in);
int npy_save_file(const char* path, array* a);
int npy_save_stream(const io_stream* out, array* a);

/* ---- shared by the formats (file.c) ---- */

/* A sink for saving: a file descriptor or a user stream. The first failure
 * is reported and sticks; later writes do nothing. */
typedef struct io_sink {
  int fd;                  /* -1 for a stream */
  const io_stream* stream;
  const char* op;          /* "save_safetensors" */
  const char* label;       /* for messages */
  int failed;
} io_sink;

int io_sink_write(io_sink* s, const void* data, size_t n);

/* Opens a temporary file next to `path` for writing; *tmp_path receives
 * its malloc'd name. Returns the descriptor or -1 after error_set. */
int io_temp_open(const char* path, const char* op, char** tmp_path);
/* Flushes and closes fd, then renames tmp_path to path; on failure (or
 * when `failed` is set) removes the temporary file. Frees tmp_path. */
int io_temp_commit(int fd, char* tmp_path, const char* path, const char* op,
                   int failed);

/* path with suffix appended unless it already ends with it (malloc'd). */
char* io_with_suffix(const char* path, const char* suffix, const char* op);

/* Reads exactly n bytes at offset off from a user stream. */
int io_stream_read_at(const io_stream* s, void* data, size_t n, size_t off,
                      const char* op);
/* The size of a user stream (seeks to its end and back to `restore`). */
int io_stream_size(const io_stream* s, size_t restore, size_t* size,
                   const char* op);
/* Checks that a reader can be used (callbacks present, open and good). */
int io_stream_check_reader(const io_stream* s, const char* op);
int io_stream_check_writer(const io_stream* s, const char* op);

/* Evaluates the arrays together and returns row-contiguous versions of them
 * (new references in out[i]). */
int io_prepare_arrays(array* const* in, size_t n, array** out, const char* op);

#endif
