/* model_private.h - what model.c, params.c and model_io.c share (not for
 * the architectures: they use model_internal.h). */
#ifndef CMLX_MODELS_MODEL_PRIVATE_H
#define CMLX_MODELS_MODEL_PRIVATE_H

#include "models/model_internal.h"

char* model_strdup(const char* s);
char* model_path_join(const char* dir, const char* name);
void model_release(mlx_array* a);
bool dtype_is_float(mlx_dtype t);
void ws_free(weight_set* ws);

cmlx_model* model_alloc(const mlx_stream s);
/* Parses the config text, finds the architecture, reads the quantization
 * block and runs the architecture's init (declaring the parameters). */
int model_setup(cmlx_model* m, const char* config_text, size_t len,
                const char* config_path);
/* sanitize + fill every declared parameter from ws (emptied). */
int model_fill_from(cmlx_model* m, weight_set* ws);
const quant_override* model_find_override(const cmlx_model* m,
                                          const char* path);
uint64_t model_param_nbytes(const model_param* p);
bool model_param_quantized(const model_param* p);
/* Where p's arrays live and their name suffixes ("weight", "scales",
 * "biases", "global_scale", "bias"; NULL for a lone tensor, named by its
 * path): returns how many (1, 4 or 5). Absent arrays have ctx NULL. */
int model_param_arrays(const model_param* p, mlx_array* arrays[5],
                       const char* suffixes[5]);
/* cmlx_model_parameters without the argument checks. */
int model_walk_arrays(const cmlx_model* m,
                      int (*visit)(void* ctx, const char* name,
                                   const mlx_array a),
                      void* ctx);

#endif
