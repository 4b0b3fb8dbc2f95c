/* tok.h - the inside of a cmlx_tokenizer (see include/cmlx/tokenizer.h).
 *
 * load.c reads tokenizer.json (and its neighbours) into a `tok`, encode.c
 * turns text into ids (added tokens, pre-tokenizer, byte-level BPE),
 * decode.c turns ids back into bytes (whole and streaming) and answers the
 * vocabulary questions. A tok never changes after loading, so encoding and
 * decoding may run on several threads at once. */
#ifndef CMLX_TOKENIZER_TOK_H
#define CMLX_TOKENIZER_TOK_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ids are below this (a file claiming more is refused rather than
 * allocating gigabytes for it). */
#define TOK_MAX_ID (1 << 22)

/* A string -> int32 hash map over strings owned elsewhere. */
typedef struct tok_map_slot {
  const char* key;
  uint32_t len;
  int32_t value;
} tok_map_slot;

typedef struct tok_map {
  tok_map_slot* slots; /* key NULL = empty */
  size_t mask;         /* capacity - 1 (a power of two) */
  size_t count;
} tok_map;

/* The merges: (left id, right id) -> (rank, merged id). */
typedef struct tok_merge_slot {
  uint64_t key; /* UINT64_MAX = empty */
  int32_t rank;
  int32_t id;
} tok_merge_slot;

typedef struct tok_merges {
  tok_merge_slot* slots;
  size_t mask;
  size_t count;
} tok_merges;

typedef struct tok_added {
  int32_t id;
  char* content;
  size_t len;
  bool special, lstrip, rstrip, single_word, normalized;
} tok_added;

typedef enum tok_split_behavior {
  TOK_REMOVED,
  TOK_ISOLATED,
  TOK_MERGED_WITH_PREVIOUS,
  TOK_MERGED_WITH_NEXT,
  TOK_CONTIGUOUS,
} tok_split_behavior;

typedef enum tok_pre_kind {
  TOK_PRE_SPLIT,     /* a regex or literal split */
  TOK_PRE_BYTELEVEL, /* optional prefix space, optional GPT-2 regex split */
} tok_pre_kind;

typedef struct tok_pre {
  tok_pre_kind kind;
  pcre2_code* re; /* SPLIT: the pattern; BYTELEVEL with use_regex: GPT-2's */
  tok_split_behavior behavior;
  bool invert;
  bool add_prefix_space;
} tok_pre;

typedef struct tok_entry {
  const char* str;     /* tokenizer.json form (model vocab or added content) */
  uint32_t len;
  const char* bytes;   /* what the token decodes to */
  uint32_t bytes_len;
  bool used;           /* some token has this id */
  bool added;
  bool special;
} tok_entry;

typedef struct tok {
  int refs; /* the handle and each detokenizer hold one (atomic) */
  char* path; /* tokenizer.json's path, for messages */

  tok_entry* entries; /* by id, n_ids of them */
  size_t n_ids;
  char* arena; /* decoded bytes of every id */

  tok_map vocab; /* model vocabulary: string -> id */
  tok_map added_map; /* added token content -> index in added[] */
  tok_merges merges;
  bool ignore_merges;
  int32_t unk_id; /* -1 if none */
  int32_t byte_id[256]; /* id of the one-character token of each byte */

  tok_added* added;
  size_t n_added;
  /* added[] indices ordered by first byte, then longest first */
  uint32_t* added_order;
  uint32_t added_first[257]; /* added_order range for each first byte */
  pcre2_code* word_re; /* \A[\p{L}\p{N}_] for single_word; NULL if unused */

  tok_pre* pre;
  size_t n_pre;

  /* What add_special puts around a sequence. */
  int32_t* prefix;
  size_t n_prefix;
  int32_t* suffix;
  size_t n_suffix;

  int32_t bos_id;
  int32_t* eos;
  size_t n_eos;
  char* chat_template;
} tok;

/* The GPT-2 byte alphabet: byte -> code point, and the inverse (-1 for a
 * code point that stands for no byte). */
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp);

/* UTF-8 helpers. tok_utf8_next decodes the character at s[0, n) (n > 0):
 * returns its length and sets *cp, or returns 0 when the bytes there are
 * not a valid character (then one byte should be taken on its own). */
size_t tok_utf8_next(const unsigned char* s, size_t n, uint32_t* cp);
size_t tok_utf8_put(uint32_t cp, char* out);
bool tok_is_space(uint32_t cp);

/* Maps. */
int tok_map_init(tok_map* m, size_t expected);
void tok_map_free(tok_map* m);
/* Inserts key -> value; returns 0, or 1 if the key is present (its value is
 * left), or -1 when out of memory. */
int tok_map_put(tok_map* m, const char* key, uint32_t len, int32_t value);
/* The value, or -1. */
int32_t tok_map_get(const tok_map* m, const char* key, size_t len);

int tok_merges_init(tok_merges* m, size_t expected);
void tok_merges_free(tok_merges* m);
/* Sets (a, b) -> (rank, id), replacing an earlier entry. */
void tok_merges_put(tok_merges* m, int32_t a, int32_t b, int32_t rank, int32_t id);
/* The slot of (a, b), or NULL. */
const tok_merge_slot* tok_merges_get(const tok_merges* m, int32_t a, int32_t b);

void tok_release(tok* t);

#endif
