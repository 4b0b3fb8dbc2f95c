/* json.h - a small strict JSON parser for file headers (safetensors).
 *
 * json_parse reads RFC 8259 JSON (UTF-8 checked, no extensions, nesting at
 * most JSON_MAX_DEPTH deep) into a tree that lives in the document's arena;
 * json_doc_free releases all of it at once. Strings are decoded (escapes,
 * \u surrogate pairs) into NUL-terminated UTF-8; `len` tells whether they
 * hold a NUL of their own. Numbers keep what a header needs: whether they
 * are plain integers and, if so, their value. Duplicate object keys are kept
 * as written (the caller decides what they mean). */
#ifndef CMLX_IO_JSON_H
#define CMLX_IO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

typedef enum json_type {
  JSON_NULL,
  JSON_FALSE,
  JSON_TRUE,
  JSON_NUMBER,
  JSON_STRING,
  JSON_ARRAY,
  JSON_OBJECT,
} json_type;

typedef struct json_value json_value;

typedef struct json_member {
  const char* key; /* decoded, NUL-terminated */
  size_t key_len;  /* bytes before the terminator (key may hold NULs) */
  json_value* value;
} json_member;

struct json_value {
  json_type type;
  union {
    struct {
      const char* text;
      size_t len;
    } string;
    /* An integer is a number without fraction or exponent. value is its
     * magnitude when it fits in uint64 (overflow set otherwise). */
    struct {
      bool integer;
      bool negative;
      bool overflow;
      uint64_t value;
      const char* text; /* the number as written (NUL-terminated) */
      size_t text_len;
    } number;
    struct {
      json_value** items;
      size_t count;
    } array;
    struct {
      json_member* members;
      size_t count;
    } object;
  } as;
};

typedef struct json_block json_block;

typedef struct json_doc {
  json_value* root;
  json_block* blocks; /* the arena */
} json_doc;

/* Why parsing stopped: a static description and the byte offset. */
typedef struct json_error {
  const char* what;
  size_t pos;
} json_error;

/* Parses text[0, len) (which need not be NUL-terminated). Returns 0 with
 * doc filled in, or 1 with err filled in and nothing left to free. */
int json_parse(const char* text, size_t len, json_doc* doc, json_error* err);
void json_doc_free(json_doc* doc);

/* The value stored under key in an object (NULL if absent); *count gets the
 * number of members with that key. */
const json_value* json_object_get(const json_value* obj, const char* key,
                                  size_t* count);

/* True when text[0, len) is valid UTF-8. */
bool json_utf8_valid(const char* text, size_t len);

/* ---- writing ---- */

/* A growing NUL-terminated buffer; after an allocation failure `failed` is
 * set and further puts do nothing. The caller frees data. */
typedef struct json_builder {
  char* data;
  size_t len, cap;
  bool failed;
} json_builder;

void json_put_raw(json_builder* b, const char* text, size_t len);
/* text (NUL-terminated UTF-8) as a quoted JSON string. */
void json_put_string(json_builder* b, const char* text);
void json_put_u64(json_builder* b, uint64_t value);

#endif
