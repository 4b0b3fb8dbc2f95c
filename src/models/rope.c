/* rope.c - rotary position embeddings: the default form and the "linear",
 * "llama3" and "yarn" scalings, with the frequencies computed as Hugging
 * Face transformers and mlx-lm compute them, applied with fast.rope. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlx/c/fast.h"
#include "mlx/c/ops.h"
#include "models/model_internal.h"

static const json_value* get(const json_value* obj, const char* key) {
  if (!obj || obj->type != JSON_OBJECT) return NULL;
  const json_value* v = json_object_get(obj, key, NULL);
  return v && v->type != JSON_NULL ? v : NULL;
}

/* A number under key (in the scaling block, else the config), or dflt;
 * *found tells whether it was there. Non-numbers are errors. */
static int num(const json_value* block, const json_value* cfg, const char* key,
               double dflt, double* out, bool* found, const char* where) {
  const json_value* v = get(block, key);
  if (!v) v = get(cfg, key);
  if (found) *found = v != NULL;
  if (!v) {
    *out = dflt;
    return 0;
  }
  if (!json_number_value(v, out))
    return MODEL_FAIL("[load] %s: rope parameter \"%s\" must be a number.",
                      where, key);
  return 0;
}

static double yarn_mscale(double scale, double m) {
  return scale <= 1.0 ? 1.0 : 0.1 * m * log(scale) + 1.0;
}

static double yarn_correction_dim(double rotations, int dims, double base,
                                  double max_pos) {
  return dims * log(max_pos / (rotations * 2.0 * M_PI)) / (2.0 * log(base));
}

int rope_init(rope_config* r, const json_value* config, int dims,
              const char* where) {
  memset(r, 0, sizeof *r);
  r->dims = dims;
  r->scale = 1.0f;
  r->mscale = 1.0f;
  strcpy(r->type, "default");
  if (dims <= 0 || dims % 2)
    return MODEL_FAIL("[load] %s: rope dimensions must be even and positive, "
                      "got %d.", where, dims);
  /* transformers 5 keeps everything in "rope_parameters" (rope_theta too);
   * older configs have "rope_theta" at the top and "rope_scaling". */
  const json_value* block = get(config, "rope_parameters");
  if (!block) block = get(config, "rope_scaling");
  if (block && block->type != JSON_OBJECT)
    return MODEL_FAIL("[load] %s: the rope scaling block must be an object.",
                      where);
  double base;
  if (num(block, config, "rope_theta", 10000.0, &base, NULL, where)) return 1;
  r->base = (float)base;
  const json_value* t = get(block, "rope_type");
  if (!t) t = get(block, "type");
  if (t && t->type != JSON_STRING)
    return MODEL_FAIL("[load] %s: \"rope_type\" must be a string.", where);
  const char* type = t ? t->as.string.text : "default";
  bool traditional = false;
  const json_value* tr = get(config, "rope_traditional");
  if (tr && tr->type == JSON_TRUE) traditional = true;
  r->traditional = traditional;

  if (strcmp(type, "default") == 0) return 0;
  int half = dims / 2;
  double factor;
  bool has_factor;
  if (num(block, NULL, "factor", 1.0, &factor, &has_factor, where)) return 1;
  if (strcmp(type, "linear") == 0) {
    if (!has_factor || factor <= 0)
      return MODEL_FAIL("[load] %s: linear rope scaling needs a positive "
                        "\"factor\".", where);
    strcpy(r->type, "linear");
    r->scale = (float)(1.0 / factor);
    return 0;
  }
  double* inv = malloc(sizeof(double) * (size_t)half);
  float* periods = malloc(sizeof(float) * (size_t)half);
  if (!inv || !periods) {
    free(inv);
    free(periods);
    return MODEL_FAIL("[load] Out of memory.");
  }
  for (int i = 0; i < half; i++) inv[i] = 1.0 / pow(base, 2.0 * i / dims);

  int rc = 0;
  if (strcmp(type, "llama3") == 0) {
    double low, high, orig;
    rc = num(block, NULL, "low_freq_factor", 1.0, &low, NULL, where) ||
         num(block, NULL, "high_freq_factor", 4.0, &high, NULL, where) ||
         num(block, NULL, "original_max_position_embeddings", 8192.0, &orig,
             NULL, where);
    if (!rc && (!has_factor || factor <= 0 || high <= low))
      rc = MODEL_FAIL("[load] %s: llama3 rope scaling needs \"factor\" > 0 and "
                      "high_freq_factor > low_freq_factor.", where);
    if (!rc) {
      strcpy(r->type, "llama3");
      double low_wavelen = orig / low, high_wavelen = orig / high;
      for (int i = 0; i < half; i++) {
        double wavelen = 2.0 * M_PI / inv[i];
        double f = inv[i];
        if (wavelen > low_wavelen) {
          f = inv[i] / factor; /* long wavelengths: interpolated */
        } else if (wavelen >= high_wavelen) {
          double smooth = (orig / wavelen - low) / (high - low);
          f = (1.0 - smooth) * inv[i] / factor + smooth * inv[i];
        }
        inv[i] = f;
      }
    }
  } else if (strcmp(type, "yarn") == 0) {
    double orig, max_pos, beta_fast, beta_slow, attn, ms, ms_all;
    bool has_orig, has_attn, has_ms, has_ms_all;
    rc = num(block, NULL, "original_max_position_embeddings", 0, &orig,
             &has_orig, where) ||
         num(NULL, config, "max_position_embeddings", 0, &max_pos, NULL,
             where) ||
         num(block, NULL, "beta_fast", 32.0, &beta_fast, NULL, where) ||
         num(block, NULL, "beta_slow", 1.0, &beta_slow, NULL, where) ||
         num(block, NULL, "attention_factor", 0, &attn, &has_attn, where) ||
         num(block, NULL, "mscale", 0, &ms, &has_ms, where) ||
         num(block, NULL, "mscale_all_dim", 0, &ms_all, &has_ms_all, where);
    if (!rc && !has_orig) orig = max_pos;
    if (!rc && !has_factor && has_orig && orig > 0) factor = max_pos / orig;
    if (!rc && (factor <= 0 || orig <= 0))
      rc = MODEL_FAIL("[load] %s: yarn rope scaling needs \"factor\" and "
                      "\"original_max_position_embeddings\".", where);
    if (!rc) {
      if (beta_fast == 0) beta_fast = 32.0;
      if (beta_slow == 0) beta_slow = 1.0;
      bool truncate = true;
      const json_value* tv = get(block, "truncate");
      if (tv && tv->type == JSON_FALSE) truncate = false;
      if (!has_attn) {
        attn = has_ms && has_ms_all
                   ? yarn_mscale(factor, ms) / yarn_mscale(factor, ms_all)
                   : yarn_mscale(factor, 1.0);
      }
      double lo = yarn_correction_dim(beta_fast, dims, base, orig);
      double hi = yarn_correction_dim(beta_slow, dims, base, orig);
      if (truncate) {
        lo = floor(lo);
        hi = ceil(hi);
      }
      if (lo < 0) lo = 0;
      if (hi > dims - 1) hi = dims - 1;
      if (lo == hi) hi += 0.001;
      for (int i = 0; i < half; i++) {
        double ramp = (i - lo) / (hi - lo);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        double extrap = 1.0 - ramp; /* weight of the unscaled frequency */
        inv[i] = inv[i] / factor * (1.0 - extrap) + inv[i] * extrap;
      }
      strcpy(r->type, "yarn");
      r->mscale = (float)attn;
    }
  } else {
    rc = MODEL_FAIL("[load] %s: unsupported rope type \"%s\".", where, type);
  }
  if (!rc) {
    for (int i = 0; i < half; i++) periods[i] = (float)(1.0 / inv[i]);
    r->freqs = mlx_array_new_data(periods, &half, 1, MLX_FLOAT32);
    if (!r->freqs.ctx) rc = 1;
  }
  free(inv);
  free(periods);
  return rc;
}

void rope_free(rope_config* r) {
  if (r && r->freqs.ctx) mlx_array_free(r->freqs);
  if (r) r->freqs.ctx = NULL;
}

int rope_apply(mlx_array* res, const rope_config* r, const mlx_array x,
               int offset, const mlx_stream s) {
  mlx_array in = mlx_array_new();
  int rc = mlx_array_set(&in, x);
  if (!rc && r->mscale != 1.0f) {
    mlx_array f = mlx_array_new_float32(r->mscale);
    rc = mlx_astype(&f, f, mlx_array_dtype(x), s) ||
         mlx_multiply(&in, in, f, s);
    mlx_array_free(f);
  }
  if (!rc) {
    mlx_optional_float base = {r->base, !r->freqs.ctx};
    rc = mlx_fast_rope(res, in, r->dims, r->traditional, base, r->scale,
                       offset, r->freqs, s);
  }
  mlx_array_free(in);
  return rc;
}
