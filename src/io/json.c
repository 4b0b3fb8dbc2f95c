/* json.c - the strict JSON parser behind json.h.
 *
 * A recursive-descent parser over a byte range. Children of the array or
 * object being read are collected on two scratch stacks (values, members)
 * and copied into the document's arena when the container closes, so every
 * node is allocated once and the whole tree is freed in one sweep. The
 * parser never reads outside [text, text + len): every look-ahead checks the
 * end first. Recursion is bounded by JSON_MAX_DEPTH. */
#include "io/json.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_block {
  json_block* next;
  size_t used, cap;
  alignas(max_align_t) unsigned char data[];
};

enum { ARENA_BLOCK = 64 * 1024 };

typedef struct parser {
  const unsigned char* start;
  const unsigned char* p;
  const unsigned char* end;
  json_doc* doc;
  json_error* err;
  int depth;
  /* scratch: children of the open containers, innermost on top */
  json_value** vals;
  size_t n_vals, cap_vals;
  json_member* members;
  size_t n_members, cap_members;
  /* scratch: the string being decoded */
  char* str;
  size_t n_str, cap_str;
} parser;

static int fail(parser* ps, const char* what) {
  if (!ps->err->what) {
    ps->err->what = what;
    ps->err->pos = (size_t)(ps->p - ps->start);
  }
  return 1;
}

static void* arena_alloc(parser* ps, size_t n) {
  n = (n + 15) & ~(size_t)15;
  json_block* b = ps->doc->blocks;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    b = malloc(sizeof *b + cap);
    if (!b) {
      fail(ps, "out of memory");
      return NULL;
    }
    b->used = 0;
    b->cap = cap;
    b->next = ps->doc->blocks;
    ps->doc->blocks = b;
  }
  void* out = b->data + b->used;
  b->used += n;
  return out;
}

/* Grows a scratch stack so that one more element fits. */
static int grow(parser* ps, void** items, size_t* cap, size_t count,
                size_t elem) {
  if (count < *cap) return 0;
  size_t n = *cap ? *cap * 2 : 64;
  void* p = n > SIZE_MAX / elem ? NULL : realloc(*items, n * elem);
  if (!p) return fail(ps, "out of memory");
  *items = p;
  *cap = n;
  return 0;
}

static int push_char(parser* ps, unsigned char c) {
  if (grow(ps, (void**)&ps->str, &ps->cap_str, ps->n_str, 1)) return 1;
  ps->str[ps->n_str++] = (char)c;
  return 0;
}

static void skip_space(parser* ps) {
  while (ps->p < ps->end &&
         (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static json_value* new_value(parser* ps, json_type type) {
  json_value* v = arena_alloc(ps, sizeof *v);
  if (v) {
    memset(v, 0, sizeof *v);
    v->type = type;
  }
  return v;
}

/* ---- strings ---- */

static int hex4(parser* ps, unsigned* out) {
  if (ps->end - ps->p < 4) return fail(ps, "truncated \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = ps->p[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return fail(ps, "invalid \\u escape");
    v = v * 16 + d;
  }
  ps->p += 4;
  *out = v;
  return 0;
}

static int push_utf8(parser* ps, unsigned cp) {
  unsigned char b[4];
  int n;
  if (cp < 0x80) {
    b[0] = (unsigned char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (unsigned char)(0xC0 | (cp >> 6));
    b[1] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (unsigned char)(0xE0 | (cp >> 12));
    b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (unsigned char)(0xF0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  for (int i = 0; i < n; i++)
    if (push_char(ps, b[i])) return 1;
  return 0;
}

/* After a backslash: one escape sequence. */
static int read_escape(parser* ps) {
  if (ps->p >= ps->end) return fail(ps, "unterminated string");
  unsigned char c = *ps->p++;
  switch (c) {
    case '"': return push_char(ps, '"');
    case '\\': return push_char(ps, '\\');
    case '/': return push_char(ps, '/');
    case 'b': return push_char(ps, '\b');
    case 'f': return push_char(ps, '\f');
    case 'n': return push_char(ps, '\n');
    case 'r': return push_char(ps, '\r');
    case 't': return push_char(ps, '\t');
    case 'u': break;
    default: ps->p--; return fail(ps, "invalid escape in string");
  }
  unsigned cp;
  if (hex4(ps, &cp)) return 1;
  if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(ps, "unpaired surrogate in \\u escape");
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    unsigned lo;
    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
      return fail(ps, "unpaired surrogate in \\u escape");
    ps->p += 2;
    if (hex4(ps, &lo)) return 1;
    if (lo < 0xDC00 || lo > 0xDFFF) return fail(ps, "unpaired surrogate in \\u escape");
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
  }
  return push_utf8(ps, cp);
}

/* The length of the UTF-8 sequence at p whose lead byte is >= 0x80, or 0
 * when it is not valid RFC 3629 UTF-8 (overlong forms, surrogates, code
 * points above U+10FFFF, truncated or bad continuation bytes). */
static size_t utf8_sequence(const unsigned char* p, size_t avail) {
  unsigned char c = p[0];
  size_t n;
  unsigned cp, min;
  if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) n = 2, cp = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (avail <= n) return 0;
  for (size_t i = 1; i <= n; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n + 1;
}

static int read_utf8(parser* ps) {
  size_t n = utf8_sequence(ps->p, (size_t)(ps->end - ps->p));
  if (!n) return fail(ps, "invalid UTF-8 in string");
  for (size_t i = 0; i < n; i++)
    if (push_char(ps, ps->p[i])) return 1;
  ps->p += n;
  return 0;
}

/* At the opening quote: decodes the string into the arena. */
static int read_string(parser* ps, const char** text, size_t* len) {
  ps->p++;
  ps->n_str = 0;
  for (;;) {
    if (ps->p >= ps->end) return fail(ps, "unterminated string");
    unsigned char c = *ps->p;
    if (c == '"') break;
    if (c < 0x20) return fail(ps, "control character in string");
    if (c == '\\') {
      ps->p++;
      if (read_escape(ps)) return 1;
    } else if (c >= 0x80) {
      if (read_utf8(ps)) return 1;
    } else {
      if (push_char(ps, c)) return 1;
      ps->p++;
    }
  }
  ps->p++;
  char* out = arena_alloc(ps, ps->n_str + 1);
  if (!out) return 1;
  if (ps->n_str) memcpy(out, ps->str, ps->n_str);
  out[ps->n_str] = 0;
  *text = out;
  *len = ps->n_str;
  return 0;
}

/* ---- numbers and literals ---- */

static bool is_digit(const parser* ps) {
  return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static json_value* read_number(parser* ps) {
  const unsigned char* start = ps->p;
  bool negative = false, integer = true, overflow = false;
  uint64_t value = 0;
  if (*ps->p == '-') {
    negative = true;
    ps->p++;
  }
  if (!is_digit(ps)) {
    fail(ps, "invalid number");
    return NULL;
  }
  if (*ps->p == '0') {
    ps->p++;
    if (is_digit(ps)) {
      fail(ps, "leading zero in number");
      return NULL;
    }
  } else {
    while (is_digit(ps)) {
      unsigned d = *ps->p++ - '0';
      if (value > (UINT64_MAX - d) / 10) overflow = true;
      else value = value * 10 + d;
    }
  }
  if (ps->p < ps->end && *ps->p == '.') {
    integer = false;
    ps->p++;
    if (!is_digit(ps)) {
      fail(ps, "invalid number");
      return NULL;
    }
    while (is_digit(ps)) ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    integer = false;
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
    if (!is_digit(ps)) {
      fail(ps, "invalid number");
      return NULL;
    }
    while (is_digit(ps)) ps->p++;
  }
  json_value* v = new_value(ps, JSON_NUMBER);
  if (v) {
    v->as.number.integer = integer;
    v->as.number.negative = negative;
    v->as.number.overflow = integer && overflow;
    v->as.number.value = integer && !overflow ? value : 0;
    size_t n = (size_t)(ps->p - start);
    char* text = arena_alloc(ps, n + 1);
    if (!text) return NULL;
    memcpy(text, start, n);
    text[n] = 0;
    v->as.number.text = text;
    v->as.number.text_len = n;
  }
  return v;
}

static json_value* read_literal(parser* ps, const char* word, json_type type) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
    fail(ps, "invalid literal");
    return NULL;
  }
  ps->p += n;
  return new_value(ps, type);
}

/* ---- containers ---- */

static json_value* read_value(parser* ps);

static json_value* read_array(parser* ps) {
  size_t base = ps->n_vals;
  ps->p++;
  skip_space(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
  } else {
    for (;;) {
      json_value* item = read_value(ps);
      if (!item) return NULL;
      if (grow(ps, (void**)&ps->vals, &ps->cap_vals, ps->n_vals, sizeof *ps->vals))
        return NULL;
      ps->vals[ps->n_vals++] = item;
      skip_space(ps);
      if (ps->p >= ps->end) {
        fail(ps, "unterminated array");
        return NULL;
      }
      if (*ps->p == ']') {
        ps->p++;
        break;
      }
      if (*ps->p != ',') {
        fail(ps, "expected ',' or ']' in array");
        return NULL;
      }
      ps->p++;
    }
  }
  json_value* v = new_value(ps, JSON_ARRAY);
  size_t count = ps->n_vals - base;
  if (v && count) {
    v->as.array.items = arena_alloc(ps, count * sizeof *v->as.array.items);
    if (!v->as.array.items) return NULL;
    memcpy(v->as.array.items, ps->vals + base, count * sizeof *ps->vals);
    v->as.array.count = count;
  }
  ps->n_vals = base;
  return v;
}

static json_value* read_object(parser* ps) {
  size_t base = ps->n_members;
  ps->p++;
  skip_space(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
  } else {
    for (;;) {
      json_member m;
      skip_space(ps);
      if (ps->p >= ps->end || *ps->p != '"') {
        fail(ps, ps->p >= ps->end ? "unterminated object" : "expected a string key in object");
        return NULL;
      }
      if (read_string(ps, &m.key, &m.key_len)) return NULL;
      skip_space(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        fail(ps, ps->p >= ps->end ? "unterminated object" : "expected ':' after object key");
        return NULL;
      }
      ps->p++;
      m.value = read_value(ps);
      if (!m.value) return NULL;
      if (grow(ps, (void**)&ps->members, &ps->cap_members, ps->n_members,
               sizeof *ps->members))
        return NULL;
      ps->members[ps->n_members++] = m;
      skip_space(ps);
      if (ps->p >= ps->end) {
        fail(ps, "unterminated object");
        return NULL;
      }
      if (*ps->p == '}') {
        ps->p++;
        break;
      }
      if (*ps->p != ',') {
        fail(ps, "expected ',' or '}' in object");
        return NULL;
      }
      ps->p++;
    }
  }
  json_value* v = new_value(ps, JSON_OBJECT);
  size_t count = ps->n_members - base;
  if (v && count) {
    v->as.object.members = arena_alloc(ps, count * sizeof *v->as.object.members);
    if (!v->as.object.members) return NULL;
    memcpy(v->as.object.members, ps->members + base, count * sizeof *ps->members);
    v->as.object.count = count;
  }
  ps->n_members = base;
  return v;
}

static json_value* read_value(parser* ps) {
  skip_space(ps);
  if (ps->p >= ps->end) {
    fail(ps, "unexpected end of input");
    return NULL;
  }
  json_value* v;
  switch (*ps->p) {
    case '{':
    case '[':
      if (++ps->depth > JSON_MAX_DEPTH) {
        fail(ps, "nesting too deep");
        return NULL;
      }
      v = *ps->p == '{' ? read_object(ps) : read_array(ps);
      ps->depth--;
      return v;
    case '"':
      v = new_value(ps, JSON_STRING);
      if (v && read_string(ps, &v->as.string.text, &v->as.string.len)) return NULL;
      return v;
    case 't': return read_literal(ps, "true", JSON_TRUE);
    case 'f': return read_literal(ps, "false", JSON_FALSE);
    case 'n': return read_literal(ps, "null", JSON_NULL);
    default:
      if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return read_number(ps);
      fail(ps, "unexpected character");
      return NULL;
  }
}

void json_doc_free(json_doc* doc) {
  json_block* b = doc->blocks;
  while (b) {
    json_block* next = b->next;
    free(b);
    b = next;
  }
  doc->blocks = NULL;
  doc->root = NULL;
}

int json_parse(const char* text, size_t len, json_doc* doc, json_error* err) {
  parser ps = {0};
  ps.start = ps.p = (const unsigned char*)text;
  ps.end = ps.start + len;
  ps.doc = doc;
  ps.err = err;
  doc->root = NULL;
  doc->blocks = NULL;
  err->what = NULL;
  err->pos = 0;
  json_value* root = read_value(&ps);
  if (root) {
    skip_space(&ps);
    if (ps.p != ps.end) {
      fail(&ps, "unexpected data after the JSON value");
      root = NULL;
    }
  }
  free(ps.vals);
  free(ps.members);
  free(ps.str);
  if (!root) {
    json_doc_free(doc);
    return 1;
  }
  doc->root = root;
  return 0;
}

const json_value* json_object_get(const json_value* obj, const char* key,
                                  size_t* count) {
  const json_value* found = NULL;
  size_t n = 0, key_len = strlen(key);
  for (size_t i = 0; i < obj->as.object.count; i++) {
    const json_member* m = &obj->as.object.members[i];
    if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0) {
      if (!found) found = m->value;
      n++;
    }
  }
  if (count) *count = n;
  return found;
}

bool json_utf8_valid(const char* text, size_t len) {
  const unsigned char* p = (const unsigned char*)text;
  const unsigned char* end = p + len;
  while (p < end) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    size_t n = utf8_sequence(p, (size_t)(end - p));
    if (!n) return false;
    p += n;
  }
  return true;
}

/* ---- writing ---- */

void json_put_raw(json_builder* b, const char* text, size_t len) {
  if (b->failed) return;
  if (b->cap - b->len < len + 1) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < len + 1) {
      if (cap > SIZE_MAX / 2) {
        b->failed = true;
        return;
      }
      cap *= 2;
    }
    char* p = realloc(b->data, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, text, len);
  b->len += len;
  b->data[b->len] = 0;
}

void json_put_string(json_builder* b, const char* text) {
  static const char hex[] = "0123456789abcdef";
  json_put_raw(b, "\"", 1);
  const char* run = text;
  for (const char* p = text;; p++) {
    unsigned char c = (unsigned char)*p;
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    json_put_raw(b, run, (size_t)(p - run));
    run = p + 1;
    if (c == 0) break;
    char esc[6] = {'\\', 0};
    size_t n = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        n = 6;
    }
    json_put_raw(b, esc, n);
  }
  json_put_raw(b, "\"", 1);
}

void json_put_u64(json_builder* b, uint64_t value) {
  char digits[24];
  int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)value);
  json_put_raw(b, digits, (size_t)n);
}
