/* shards.h - loading a checkpoint that may be split over several
 * safetensors files: the internal side of cmlx/io.h.
 *
 * path names one of:
 *   - a directory: its "model.safetensors.index.json" (or its only
 *     "*.safetensors.index.json") when it has one, else every "*.safetensors"
 *     file in it;
 *   - an index file (a name ending in ".json"): {"metadata": {...},
 *     "weight_map": {"tensor": "shard file", ...}}, shard files relative to
 *     the index's directory;
 *   - anything else: one safetensors file, as safetensors_load_file loads it.
 * The result is one set of tensors (each borrowing its shard's mapping) and
 * the shards' "__metadata__" strings merged. The index and the shards must
 * agree exactly; every disagreement is an error naming the tensor and the
 * files. Errors are "[load_safetensors_dir] ..." (or the shard's own
 * "[load_safetensors] ..." when a shard is malformed). */
#ifndef CMLX_IO_SHARDS_H
#define CMLX_IO_SHARDS_H

#include "io/io.h"

/* Fills *out (owned by the caller, freed with io_contents_free) or returns
 * 1 after error_set with nothing to free. */
int shards_load(const char* path, io_contents* out);

#endif
