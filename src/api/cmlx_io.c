/* cmlx_io.c - entry points of cmlx/io.h: loading a (possibly sharded)
 * safetensors checkpoint into mlx-c maps.
 *
 * The work is in io/shards.c; this layer checks the arguments the way
 * mlx_load_safetensors does and builds the two result maps, replacing what
 * *arrays and *metadata held only when everything succeeded. */
#include <stdlib.h>

#include "api/api.h"
#include "cmlx/io.h"
#include "io/shards.h"

/* New maps holding c's tensors and metadata (c is consumed). */
static int contents_to_maps(io_contents* c, mlx_map_string_to_array* arrays,
                            mlx_map_string_to_string* metadata) {
  *arrays = mlx_map_string_to_array_new();
  *metadata = mlx_map_string_to_string_new();
  int failed = !arrays->ctx || !metadata->ctx; /* reported by the map calls */
  for (size_t i = 0; i < c->n_arrays && !failed; i++)
    failed = mlx_map_string_to_array_insert(*arrays, c->names[i], api_wrap(c->arrays[i]));
  for (size_t i = 0; i < c->n_meta && !failed; i++)
    failed = mlx_map_string_to_string_insert(*metadata, c->meta_keys[i], c->meta_values[i]);
  io_contents_free(c);
  if (failed) {
    mlx_map_string_to_array_free(*arrays);
    mlx_map_string_to_string_free(*metadata);
  }
  return failed;
}

int cmlx_load_safetensors_dir(mlx_map_string_to_array* arrays,
                              mlx_map_string_to_string* metadata,
                              const char* path, const mlx_stream s) {
  const char* op = "load_safetensors_dir";
  if (!arrays || !metadata) {
    error_set("[%s] The result pointer is NULL.", op);
    return api_fail();
  }
  if (!s.ctx) {
    error_set("[%s] The stream handle is empty.", op);
    return api_fail();
  }
  if (!path) {
    error_set("[%s] The path is NULL.", op);
    return api_fail();
  }
  io_contents c;
  if (shards_load(path, &c)) return api_fail();
  mlx_map_string_to_array new_arrays;
  mlx_map_string_to_string new_metadata;
  if (contents_to_maps(&c, &new_arrays, &new_metadata)) return 1;
  int rc = mlx_map_string_to_array_set(arrays, new_arrays);
  if (!rc) rc = mlx_map_string_to_string_set(metadata, new_metadata);
  mlx_map_string_to_array_free(new_arrays);
  mlx_map_string_to_string_free(new_metadata);
  return rc;
}
