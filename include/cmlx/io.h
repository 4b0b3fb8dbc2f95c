/* cmlx/io.h - cmlx's own loading functions, beyond mlx-c's mlx/c/io.h.
 *
 * Checkpoints on the Hugging Face Hub and those mlx-lm writes are often
 * split into shards ("model-00001-of-00002.safetensors", ...) with an index,
 * "model.safetensors.index.json":
 *   {"metadata": {"total_size": ...},
 *    "weight_map": {"tensor name": "model-00001-of-00002.safetensors", ...}}
 * cmlx_load_safetensors_dir loads such a checkpoint as one map. mlx-c has no
 * such function; names here begin with cmlx_. */
#ifndef CMLX_IO_H
#define CMLX_IO_H

#include "mlx/c/map.h"
#include "mlx/c/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads every tensor of a checkpoint into *arrays and the shards'
 * "__metadata__" strings, merged, into *metadata; the results are stored as
 * mlx_load_safetensors stores them. path is one of:
 *   - a directory: its model.safetensors.index.json (or its only
 *     *.safetensors.index.json) when it has one, else all of its
 *     *.safetensors files;
 *   - an index file (its name ends in ".json"); shard names are relative to
 *     the index's directory and may not leave it;
 *   - a single .safetensors file (as mlx_load_safetensors).
 * Tensors borrow their shard's mapping, as mlx_load_safetensors's do, so a
 * checkpoint of any size loads without a copy. The index's "metadata"
 * object is not returned.
 *
 * Fails (returns 1, the handler gets the message, the results are left as
 * they were) when a shard is missing or malformed, the index is not valid
 * JSON or has no "weight_map" object of strings, a tensor is listed twice,
 * a listed tensor is not in its shard or is in another one, a shard holds a
 * tensor the index does not list, two shards hold the same tensor, or two
 * shards give one metadata key different values. The stream must be a
 * valid handle; loading happens on the CPU as for mlx_load_safetensors. */
int cmlx_load_safetensors_dir(mlx_map_string_to_array* arrays,
                              mlx_map_string_to_string* metadata,
                              const char* path, const mlx_stream s);

#ifdef __cplusplus
}
#endif

#endif
