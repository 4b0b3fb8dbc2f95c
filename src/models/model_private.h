/* model_private.h - what model.c and model_io.c share (not for the
 * architectures: they use model_internal.h). */
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

#endif
