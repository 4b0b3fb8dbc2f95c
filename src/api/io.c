/* io.c - mlx-c entry points for loading and saving (mlx/c/io.h) and the
 * reader/writer handles (mlx/c/io_types.h).
 *
 * A reader or writer handle's ctx is an io_stream (io/io.h) holding the
 * user's descriptor and callbacks; freeing the handle calls the user's free
 * callback once. Loads and saves finish before returning, so nothing keeps
 * a stream beyond the call. Results go into the caller's maps the way mlx-c
 * does it: an existing map's contents are replaced, an empty handle gets a
 * new map. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "io/io.h"
#include "mlx/c/io.h"
#include "mlx/c/map.h"

/* ---- reader and writer handles ---- */

static void* stream_new(void* desc, mlx_io_vtable vtable, const char* op) {
  io_stream* s = malloc(sizeof *s);
  if (!s) {
    error_set("[%s] Out of memory.", op);
    api_fail();
    return NULL;
  }
  s->desc = desc;
  s->vt = vtable;
  return s;
}

static int stream_free(void* ctx) {
  io_stream* s = ctx;
  if (!s) return 0;
  if (s->vt.free) s->vt.free(s->desc);
  free(s);
  return 0;
}

static const io_stream* stream_of(void* ctx, const char* op, const char* kind) {
  if (!ctx) error_set("[%s] The %s handle is empty.", op, kind);
  return ctx;
}

static int stream_descriptor(void** desc, void* ctx, const char* op,
                             const char* kind) {
  const io_stream* s = stream_of(ctx, op, kind);
  if (!s) return api_fail();
  if (!desc) {
    error_set("[%s] The result pointer is NULL.", op);
    return api_fail();
  }
  *desc = s->desc;
  return 0;
}

static int stream_tostring(mlx_string* str, void* ctx, const char* op,
                           const char* kind) {
  const io_stream* s = stream_of(ctx, op, kind);
  if (!s) return api_fail();
  if (!str) {
    error_set("[%s] The result pointer is NULL.", op);
    return api_fail();
  }
  mlx_string text = mlx_string_new_data(io_stream_label(s));
  if (!text.ctx) return 1; /* reported by mlx_string_new_data */
  int rc = mlx_string_set(str, text);
  mlx_string_free(text);
  return rc;
}

mlx_io_reader mlx_io_reader_new(void* desc, mlx_io_vtable vtable) {
  return (mlx_io_reader){stream_new(desc, vtable, "io_reader_new")};
}
int mlx_io_reader_descriptor(void** desc_, mlx_io_reader io) {
  return stream_descriptor(desc_, io.ctx, "io_reader_descriptor", "reader");
}
int mlx_io_reader_tostring(mlx_string* str_, mlx_io_reader io) {
  return stream_tostring(str_, io.ctx, "io_reader_tostring", "reader");
}
int mlx_io_reader_free(mlx_io_reader io) {
  return stream_free(io.ctx);
}

mlx_io_writer mlx_io_writer_new(void* desc, mlx_io_vtable vtable) {
  return (mlx_io_writer){stream_new(desc, vtable, "io_writer_new")};
}
int mlx_io_writer_descriptor(void** desc_, mlx_io_writer io) {
  return stream_descriptor(desc_, io.ctx, "io_writer_descriptor", "writer");
}
int mlx_io_writer_tostring(mlx_string* str_, mlx_io_writer io) {
  return stream_tostring(str_, io.ctx, "io_writer_tostring", "writer");
}
int mlx_io_writer_free(mlx_io_writer io) {
  return stream_free(io.ctx);
}

/* ---- loading ---- */

/* Checks the result pointers and the stream of a load. Loading happens on
 * the CPU whatever the stream's device (MLX does the same without CUDA). */
static int load_prologue(const void* res0, const void* res1, mlx_stream s,
                         const char* op) {
  if (!res0 || !res1) return error_set("[%s] The result pointer is NULL.", op);
  if (!s.ctx) return error_set("[%s] The stream handle is empty.", op);
  return 0;
}

/* Replaces the contents of *res_0 / *res_1 with c's (consumed). */
static int store_contents(mlx_map_string_to_array* res_0,
                          mlx_map_string_to_string* res_1, io_contents* c) {
  mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  /* the map functions report their own failures */
  int rc = !arrays.ctx || !meta.ctx;
  for (size_t i = 0; !rc && i < c->n_arrays; i++)
    rc = mlx_map_string_to_array_insert(arrays, c->names[i], api_wrap(c->arrays[i]));
  for (size_t i = 0; !rc && i < c->n_meta; i++)
    rc = mlx_map_string_to_string_insert(meta, c->meta_keys[i], c->meta_values[i]);
  io_contents_free(c);
  if (!rc) rc = mlx_map_string_to_array_set(res_0, arrays);
  if (!rc) rc = mlx_map_string_to_string_set(res_1, meta);
  mlx_map_string_to_array_free(arrays);
  mlx_map_string_to_string_free(meta);
  return rc;
}

int mlx_load_safetensors(mlx_map_string_to_array* res_0,
                         mlx_map_string_to_string* res_1, const char* file,
                         const mlx_stream s) {
  const char* op = "load_safetensors";
  if (load_prologue(res_0, res_1, s, op)) return api_fail();
  if (!file) {
    error_set("[%s] The file name is NULL.", op);
    return api_fail();
  }
  io_contents c;
  if (safetensors_load_file(file, &c)) return api_fail();
  return store_contents(res_0, res_1, &c);
}

int mlx_load_safetensors_reader(mlx_map_string_to_array* res_0,
                                mlx_map_string_to_string* res_1,
                                mlx_io_reader in_stream, const mlx_stream s) {
  const char* op = "load_safetensors";
  if (load_prologue(res_0, res_1, s, op)) return api_fail();
  const io_stream* in = stream_of(in_stream.ctx, op, "reader");
  io_contents c;
  if (!in || safetensors_load_stream(in, &c)) return api_fail();
  return store_contents(res_0, res_1, &c);
}

int mlx_load(mlx_array* res, const char* file, const mlx_stream s) {
  if (load_prologue(res, res, s, "load")) return api_fail();
  if (!file) {
    error_set("[load] The file name is NULL.");
    return api_fail();
  }
  array* a = npy_load_file(file);
  return a ? api_set_result(res, a) : api_fail();
}

int mlx_load_reader(mlx_array* res, mlx_io_reader in_stream, const mlx_stream s) {
  if (load_prologue(res, res, s, "load")) return api_fail();
  const io_stream* in = stream_of(in_stream.ctx, "load", "reader");
  array* a = in ? npy_load_stream(in) : NULL;
  return a ? api_set_result(res, a) : api_fail();
}

/* ---- saving ---- */

/* The names, arrays and metadata of two maps, borrowed from them (the
 * arrays are held by the maps while the save runs). */
typedef struct save_args {
  io_save_list list;
  const char** names;
  array** arrays;
  const char** meta_keys;
  const char** meta_values;
} save_args;

static void save_args_free(save_args* a) {
  free(a->names);
  free(a->arrays);
  free(a->meta_keys);
  free(a->meta_values);
}

/* Grows a pair of parallel pointer arrays to hold one more entry. */
static int grow_pair(void** a, void** b, size_t count, size_t* cap) {
  if (count < *cap) return 0;
  size_t n = *cap ? *cap * 2 : 16;
  void* na = realloc(*a, n * sizeof(void*));
  if (na) *a = na;
  void* nb = na ? realloc(*b, n * sizeof(void*)) : NULL;
  if (nb) *b = nb;
  if (!na || !nb) return error_set("[save_safetensors] Out of memory.");
  *cap = n;
  return 0;
}

/* Returns 0, 1 after error_set, or 2 when a map function failed and has
 * already reported its error. */
static int collect(save_args* out, mlx_map_string_to_array param,
                   mlx_map_string_to_string metadata) {
  const char* op = "save_safetensors";
  memset(out, 0, sizeof *out);
  if (!param.ctx) return error_set("[%s] The array map handle is empty.", op);
  size_t cap = 0;
  mlx_map_string_to_array_iterator it = mlx_map_string_to_array_iterator_new(param);
  if (!it.ctx) return 2;
  mlx_array value = mlx_array_new();
  const char* key;
  int rc = 0, step;
  while ((step = mlx_map_string_to_array_iterator_next(&key, &value, it)) == 0) {
    size_t n = out->list.n_arrays;
    if ((rc = grow_pair((void**)&out->names, (void**)&out->arrays, n, &cap))) break;
    out->names[n] = key;               /* owned by the map */
    out->arrays[n] = api_array(value); /* held by the map */
    out->list.n_arrays = n + 1;
  }
  mlx_array_free(value);
  mlx_map_string_to_array_iterator_free(it);
  if (rc) return 1;
  if (step == 1) return 2;
  if (metadata.ctx) {
    cap = 0;
    mlx_map_string_to_string_iterator mit = mlx_map_string_to_string_iterator_new(metadata);
    if (!mit.ctx) return 2;
    const char* v;
    while ((step = mlx_map_string_to_string_iterator_next(&key, &v, mit)) == 0) {
      size_t n = out->list.n_meta;
      if ((rc = grow_pair((void**)&out->meta_keys, (void**)&out->meta_values, n, &cap)))
        break;
      out->meta_keys[n] = key;
      out->meta_values[n] = v;
      out->list.n_meta = n + 1;
    }
    mlx_map_string_to_string_iterator_free(mit);
    if (rc) return 1;
    if (step == 1) return 2;
  }
  out->list.names = out->names;
  out->list.arrays = out->arrays;
  out->list.meta_keys = out->meta_keys;
  out->list.meta_values = out->meta_values;
  return 0;
}

int mlx_save_safetensors(const char* file, const mlx_map_string_to_array param,
                         const mlx_map_string_to_string metadata) {
  if (!file) {
    error_set("[save_safetensors] The file name is NULL.");
    return api_fail();
  }
  save_args args;
  int rc = collect(&args, param, metadata);
  if (!rc) rc = safetensors_save_file(file, &args.list);
  save_args_free(&args);
  return rc == 1 ? api_fail() : rc != 0;
}

int mlx_save_safetensors_writer(mlx_io_writer in_stream,
                                const mlx_map_string_to_array param,
                                const mlx_map_string_to_string metadata) {
  const io_stream* out = stream_of(in_stream.ctx, "save_safetensors", "writer");
  if (!out) return api_fail();
  save_args args;
  int rc = collect(&args, param, metadata);
  if (!rc) rc = safetensors_save_stream(out, &args.list);
  save_args_free(&args);
  return rc == 1 ? api_fail() : rc != 0;
}

int mlx_save(const char* file, const mlx_array a) {
  if (!file) {
    error_set("[save] The file name is NULL.");
    return api_fail();
  }
  if (api_check_array(a, "save", "input") || npy_save_file(file, api_array(a)))
    return api_fail();
  return 0;
}

int mlx_save_writer(mlx_io_writer out_stream, const mlx_array a) {
  const io_stream* out = stream_of(out_stream.ctx, "save", "writer");
  if (!out || api_check_array(a, "save", "input") ||
      npy_save_stream(out, api_array(a)))
    return api_fail();
  return 0;
}
