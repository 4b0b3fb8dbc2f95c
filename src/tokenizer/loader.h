/* loader.h - what load.c and pipeline.c share while reading tokenizer.json.
 *
 * Every function returns 0, or 1 after error_set() with a message that
 * names the file: "[tokenizer] <path>: <what>". */
#ifndef CMLX_TOKENIZER_LOADER_H
#define CMLX_TOKENIZER_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/json.h"
#include "tokenizer/tok.h"

typedef struct loader {
  tok* t;
  const char* path; /* tokenizer.json */
  char* strings;    /* the arena being filled */
  size_t used;
  bool byte_level; /* a ByteLevel pre-tokenizer step was seen */
} loader;

/* At most 64 bytes of a token for messages. */
#define SHOWN(len) ((int)((len) < 64 ? (len) : 64))

int loader_fail(const char* path, const char* fmt, ...) CMLX_PRINTF(2, 3);
int loader_oom(void);

/* obj[key] into *out; NULL when absent or null. A key given twice is an
 * error (`where` names the object in the message). */
int loader_get(const char* path, const json_value* obj, const char* key, const char* where,
               const json_value** out);
/* A boolean member (dflt when absent or null). */
int loader_get_bool(const char* path, const json_value* obj, const char* key,
                    const char* where, bool dflt, bool* out);
/* A string member (NULL when absent or null). */
int loader_get_string(const char* path, const json_value* obj, const char* key,
                      const char* where, const json_value** out);
/* An id: a non-negative integer below TOK_MAX_ID. */
int loader_as_id(const char* path, const json_value* v, const char* where, int32_t* id);
/* Adds k ids at the end (or the front) of the malloc'd *arr of *n. */
int loader_append_ids(int32_t** arr, size_t* n, const int32_t* ids, size_t k, bool front);

/* pipeline.c: the normalizer and the decoder (null, `accepted`, or a
 * Sequence of those), the pre-tokenizer steps (into t->pre; sets
 * byte_level when a ByteLevel step is seen) and the post-processor (into
 * t->prefix / t->suffix; *has_template when a TemplateProcessing is
 * seen). */
int loader_parse_plain(loader* L, const json_value* v, const char* part, const char* list_key,
                       const char* accepted, const char* supported, int depth);
int loader_parse_pre(loader* L, const json_value* v, int depth);
int loader_parse_post(loader* L, const json_value* v, int depth, bool* has_template);

#endif
