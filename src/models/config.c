/* config.c - reading config.json values for the architectures. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/model_internal.h"

bool json_number_value(const json_value* v, double* out) {
  if (!v || v->type != JSON_NUMBER) return false;
  if (v->as.number.integer && !v->as.number.overflow) {
    double d = (double)v->as.number.value;
    *out = v->as.number.negative ? -d : d;
    return true;
  }
  if (!v->as.number.text) return false;
  char* end = NULL;
  double d = strtod(v->as.number.text, &end);
  if (end == v->as.number.text) return false;
  *out = d;
  return true;
}

static const char* where(const cmlx_model* m) {
  return m && m->config_path ? m->config_path : "config.json";
}

/* The value under key, or NULL (absent or JSON null). */
static const json_value* get(const json_value* cfg, const char* key) {
  if (!cfg || cfg->type != JSON_OBJECT) return NULL;
  const json_value* v = json_object_get(cfg, key, NULL);
  return v && v->type != JSON_NULL ? v : NULL;
}

int cfg_int(const cmlx_model* m, const json_value* cfg, const char* key,
            bool required, int dflt, int* out) {
  const json_value* v = get(cfg, key);
  if (!v) {
    if (required)
      return MODEL_FAIL("[load] %s: missing \"%s\".", where(m), key);
    *out = dflt;
    return 0;
  }
  double d;
  if (!json_number_value(v, &d) || d != (double)(int)d)
    return MODEL_FAIL("[load] %s: \"%s\" must be an integer.", where(m), key);
  *out = (int)d;
  return 0;
}

int cfg_float(const cmlx_model* m, const json_value* cfg, const char* key,
              bool required, float dflt, float* out) {
  const json_value* v = get(cfg, key);
  if (!v) {
    if (required)
      return MODEL_FAIL("[load] %s: missing \"%s\".", where(m), key);
    *out = dflt;
    return 0;
  }
  double d;
  if (!json_number_value(v, &d))
    return MODEL_FAIL("[load] %s: \"%s\" must be a number.", where(m), key);
  *out = (float)d;
  return 0;
}

int cfg_bool(const cmlx_model* m, const json_value* cfg, const char* key,
             bool required, bool dflt, bool* out) {
  const json_value* v = get(cfg, key);
  if (!v) {
    if (required)
      return MODEL_FAIL("[load] %s: missing \"%s\".", where(m), key);
    *out = dflt;
    return 0;
  }
  if (v->type != JSON_TRUE && v->type != JSON_FALSE)
    return MODEL_FAIL("[load] %s: \"%s\" must be true or false.", where(m), key);
  *out = v->type == JSON_TRUE;
  return 0;
}

bool quant_mode_valid(const char* mode) {
  static const char* const modes[] = {"affine", "mxfp4", "mxfp8", "nvfp4"};
  if (!mode || !*mode) return true;
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (strcmp(mode, modes[i]) == 0) return true;
  return false;
}
