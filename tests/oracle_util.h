/* oracle_util.h - reading the MLX oracle's manifest
 * (tests/data/oracle/manifest.json), shared by test_quantize.c and
 * test_qmm.c: parsing it, and the string, integer and boolean fields of
 * its records.
 *
 * Everything here is static: each test program includes it once. */
#ifndef CMLX_TEST_ORACLE_UTIL_H
#define CMLX_TEST_ORACLE_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/json.h"

#define ORACLE_DIR CMLX_TEST_DATA "/oracle"

/* Parses the manifest into *doc (the caller frees it with json_doc_free);
 * false if the file is missing or malformed. */
static inline bool oracle_manifest_load(json_doc* doc) {
  size_t len;
  char* text = (char*)test_read_bytes(ORACLE_DIR "/manifest.json", &len);
  if (!text) return false;
  json_error err;
  bool ok = json_parse(text, len, doc, &err) == 0;
  free(text);
  return ok;
}

static inline const char* jstr(const json_value* obj, const char* key) {
  const json_value* v = json_object_get(obj, key, NULL);
  return v && v->type == JSON_STRING ? v->as.string.text : NULL;
}
static inline int jint(const json_value* obj, const char* key) {
  const json_value* v = json_object_get(obj, key, NULL);
  return v && v->type == JSON_NUMBER ? (int)v->as.number.value : -1;
}
static inline bool jbool(const json_value* obj, const char* key) {
  const json_value* v = json_object_get(obj, key, NULL);
  return v && v->type == JSON_TRUE;
}

static inline bool ends_with(const char* s, const char* suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

#endif
