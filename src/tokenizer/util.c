/* util.c - the byte alphabet, UTF-8 helpers and the hash maps of a tok. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok.h"

/* GPT-2's byte-level alphabet gives each byte a printable code point: the
 * bytes that are printable Latin-1 characters ('!'..'~', U+00A1..U+00AC,
 * U+00AE..U+00FF) stand for themselves, the other 68 (controls, space,
 * DEL, the C1 range, NBSP and the soft hyphen) take U+0100, U+0101, ... in
 * byte order. So ' ' (0x20) is U+0120 'Ġ' and '\n' is U+010A 'Ċ'. */
static bool self_mapped(unsigned b) {
  return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

uint32_t tok_byte_to_cp(uint8_t b) {
  if (self_mapped(b)) return b;
  if (b <= 32) return 256u + b;              /* 33 of them: U+0100..U+0120 */
  if (b >= 127 && b <= 160) return 289u + (b - 127u); /* U+0121..U+0142 */
  return 323u;                               /* 0xAD: U+0143 */
}

int tok_cp_to_byte(uint32_t cp) {
  if (cp < 256) return self_mapped(cp) ? (int)cp : -1;
  if (cp <= 288) return (int)(cp - 256);
  if (cp <= 322) return (int)(cp - 289 + 127);
  if (cp == 323) return 173;
  return -1;
}

size_t tok_utf8_next(const unsigned char* s, size_t n, uint32_t* cp) {
  unsigned c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

size_t tok_utf8_put(uint32_t cp, char* out) {
  unsigned char* o = (unsigned char*)out;
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Unicode White_Space (what Rust's char::is_whitespace answers, which the
 * Hugging Face library uses for lstrip/rstrip). */
bool tok_is_space(uint32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return true;
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* ---- string map ---- */

static uint64_t mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  return k ^ (k >> 33);
}

static uint64_t hash_bytes(const char* s, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a, then a full mix */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return mix64(h);
}

static size_t capacity_for(size_t expected) {
  size_t cap = 16;
  while (cap < expected * 2 + 2) cap *= 2;
  return cap;
}

int tok_map_init(tok_map* m, size_t expected) {
  size_t cap = capacity_for(expected);
  m->slots = calloc(cap, sizeof *m->slots);
  m->mask = cap - 1;
  m->count = 0;
  return m->slots ? 0 : 1;
}

void tok_map_free(tok_map* m) {
  free(m->slots);
  m->slots = NULL;
}

static int map_grow(tok_map* m) {
  size_t cap = (m->mask + 1) * 2;
  tok_map_slot* s = calloc(cap, sizeof *s);
  if (!s) return 1;
  for (size_t i = 0; i <= m->mask; i++) {
    if (!m->slots[i].key) continue;
    size_t j = hash_bytes(m->slots[i].key, m->slots[i].len) & (cap - 1);
    while (s[j].key) j = (j + 1) & (cap - 1);
    s[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = s;
  m->mask = cap - 1;
  return 0;
}

int tok_map_put(tok_map* m, const char* key, uint32_t len, int32_t value) {
  if ((m->count + 1) * 2 > m->mask + 1 && map_grow(m)) return -1;
  size_t j = hash_bytes(key, len) & m->mask;
  while (m->slots[j].key) {
    if (m->slots[j].len == len && memcmp(m->slots[j].key, key, len) == 0) return 1;
    j = (j + 1) & m->mask;
  }
  m->slots[j] = (tok_map_slot){key, len, value};
  m->count++;
  return 0;
}

int32_t tok_map_get(const tok_map* m, const char* key, size_t len) {
  if (!m->slots) return -1;
  size_t j = hash_bytes(key, len) & m->mask;
  while (m->slots[j].key) {
    if (m->slots[j].len == len && memcmp(m->slots[j].key, key, len) == 0)
      return m->slots[j].value;
    j = (j + 1) & m->mask;
  }
  return -1;
}

/* ---- merges ---- */

static uint64_t hash_pair(uint64_t k) {
  return mix64(k);
}

int tok_merges_init(tok_merges* m, size_t expected) {
  size_t cap = capacity_for(expected);
  m->slots = malloc(cap * sizeof *m->slots);
  if (!m->slots) return 1;
  for (size_t i = 0; i < cap; i++) m->slots[i].key = UINT64_MAX;
  m->mask = cap - 1;
  m->count = 0;
  return 0;
}

void tok_merges_free(tok_merges* m) {
  free(m->slots);
  m->slots = NULL;
}

void tok_merges_put(tok_merges* m, int32_t a, int32_t b, int32_t rank, int32_t id) {
  /* init sized the table for every merge, so it never fills up */
  uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
  size_t j = hash_pair(key) & m->mask;
  while (m->slots[j].key != UINT64_MAX && m->slots[j].key != key) j = (j + 1) & m->mask;
  if (m->slots[j].key == UINT64_MAX) m->count++;
  m->slots[j] = (tok_merge_slot){key, rank, id};
}

const tok_merge_slot* tok_merges_get(const tok_merges* m, int32_t a, int32_t b) {
  if (!m->slots) return NULL;
  uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
  size_t j = hash_pair(key) & m->mask;
  while (m->slots[j].key != UINT64_MAX) {
    if (m->slots[j].key == key) return &m->slots[j];
    j = (j + 1) & m->mask;
  }
  return NULL;
}
