/* decode.c - ids to bytes (whole and streaming) and the vocabulary
 * questions.
 *
 * Each id's bytes are worked out once at load (tok_entry.bytes): a model
 * token through the byte alphabet, an added token as its content. Decoding
 * concatenates them. The streaming detokenizer holds back the bytes of a
 * UTF-8 character until the character is complete; a byte that cannot
 * start or continue a valid character is let through as soon as that is
 * certain, so the stream always adds up to the whole decode. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/tokenizer.h"
#include "core/error.h"
#include "tokenizer/tok.h"

#define OP "[tokenizer] "

static int check_id(const tok* t, int32_t id) {
  if (id < 0 || (size_t)id >= t->n_ids || !t->entries[id].used)
    return error_set(OP "Token id %d is not in the vocabulary (of %zu ids).", id, t->n_ids);
  return 0;
}

int cmlx_tokenizer_decode(cmlx_tokenizer tok_handle, const int32_t* ids, size_t n,
                          bool skip_special, char** text, size_t* len) {
  const tok* t = tok_handle.ctx;
  if (!t) {
    error_set(OP "The tokenizer handle is empty.");
    return api_fail();
  }
  if (!text || !len || (!ids && n)) {
    error_set(OP "cmlx_tokenizer_decode needs ids and output pointers.");
    return api_fail();
  }
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (check_id(t, ids[i])) return api_fail();
    const tok_entry* e = &t->entries[ids[i]];
    if (!(skip_special && e->special)) total += e->bytes_len;
  }
  char* out = malloc(total + 1);
  if (!out) {
    error_set(OP "Out of memory.");
    return api_fail();
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const tok_entry* e = &t->entries[ids[i]];
    if (skip_special && e->special) continue;
    memcpy(out + k, e->bytes, e->bytes_len);
    k += e->bytes_len;
  }
  out[k] = 0;
  *text = out;
  *len = k;
  return 0;
}

/* ---- streaming ---- */

typedef struct detok {
  tok* t;
  bool skip_special;
  char* pend; /* bytes not yet returned */
  size_t n, cap;
  char* out; /* what the last call returned */
  size_t out_cap;
} detok;

int cmlx_detokenizer_new(cmlx_detokenizer* out, cmlx_tokenizer tok_handle, bool skip_special) {
  tok* t = tok_handle.ctx;
  if (!out || !t) {
    error_set(OP "cmlx_detokenizer_new needs an output handle and a tokenizer.");
    return api_fail();
  }
  detok* d = calloc(1, sizeof *d);
  if (!d) {
    error_set(OP "Out of memory.");
    return api_fail();
  }
  __atomic_add_fetch(&t->refs, 1, __ATOMIC_ACQ_REL);
  d->t = t;
  d->skip_special = skip_special;
  out->ctx = d;
  return 0;
}

void cmlx_detokenizer_free(cmlx_detokenizer h) {
  detok* d = h.ctx;
  if (!d) return;
  tok_release(d->t);
  free(d->pend);
  free(d->out);
  free(d);
}

/* How many leading bytes of s[0, n) are whole characters, or bytes that can
 * never be part of one. */
static size_t ready_bytes(const unsigned char* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 3;
      if (c == 0xE0) lo = 0xA0;      /* no overlong forms */
      else if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 4;
      if (c == 0xF0) lo = 0x90;
      else if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
      i++; /* a continuation byte or a byte UTF-8 never uses: let it go */
      continue;
    }
    size_t k = 1;
    bool bad = false;
    while (k < need && i + k < n) {
      unsigned b = s[i + k];
      if (k == 1 ? (b < lo || b > hi) : ((b & 0xC0) != 0x80)) {
        bad = true;
        break;
      }
      k++;
    }
    if (bad) {
      i++; /* the lead byte can never complete; what follows is looked at anew */
      continue;
    }
    if (k < need) break; /* incomplete so far: wait for more */
    i += need;
  }
  return i;
}

static int hand_out(detok* d, size_t k, const char** text, size_t* len) {
  if (k + 1 > d->out_cap) {
    size_t cap = d->out_cap ? d->out_cap : 64;
    while (cap < k + 1) cap *= 2;
    char* p = realloc(d->out, cap);
    if (!p) return error_set(OP "Out of memory.");
    d->out = p, d->out_cap = cap;
  }
  if (k) memcpy(d->out, d->pend, k);
  d->out[k] = 0;
  if (d->n > k) memmove(d->pend, d->pend + k, d->n - k); /* pend is NULL before any token */
  d->n -= k;
  *text = d->out;
  *len = k;
  return 0;
}

int cmlx_detokenizer_add(cmlx_detokenizer h, int32_t id, const char** text, size_t* len) {
  detok* d = h.ctx;
  if (!d || !text || !len) {
    error_set(OP "cmlx_detokenizer_add needs a detokenizer and output pointers.");
    return api_fail();
  }
  const tok* t = d->t;
  if (check_id(t, id)) return api_fail();
  const tok_entry* e = &t->entries[id];
  size_t add = (d->skip_special && e->special) ? 0 : e->bytes_len;
  if (d->n + add + 1 > d->cap) {
    size_t cap = d->cap ? d->cap : 64;
    while (cap < d->n + add + 1) cap *= 2;
    char* p = realloc(d->pend, cap);
    if (!p) {
      error_set(OP "Out of memory.");
      return api_fail();
    }
    d->pend = p, d->cap = cap;
  }
  if (add) memcpy(d->pend + d->n, e->bytes, add);
  d->n += add;
  size_t k = ready_bytes((const unsigned char*)d->pend, d->n);
  if (hand_out(d, k, text, len)) return api_fail();
  return 0;
}

int cmlx_detokenizer_finish(cmlx_detokenizer h, const char** text, size_t* len) {
  detok* d = h.ctx;
  if (!d || !text || !len) {
    error_set(OP "cmlx_detokenizer_finish needs a detokenizer and output pointers.");
    return api_fail();
  }
  if (hand_out(d, d->n, text, len)) return api_fail();
  return 0;
}

/* ---- vocabulary ---- */

size_t cmlx_tokenizer_vocab_size(cmlx_tokenizer h) {
  const tok* t = h.ctx;
  return t ? t->n_ids : 0;
}

int32_t cmlx_tokenizer_token_to_id(cmlx_tokenizer h, const char* token, size_t len) {
  const tok* t = h.ctx;
  if (!t || (!token && len)) return -1;
  int32_t a = tok_map_get(&t->added_map, token, len);
  if (a >= 0) return t->added[a].id;
  return tok_map_get(&t->vocab, token, len);
}

const char* cmlx_tokenizer_id_to_token(cmlx_tokenizer h, int32_t id, size_t* len) {
  const tok* t = h.ctx;
  if (!t || id < 0 || (size_t)id >= t->n_ids || !t->entries[id].used) return NULL;
  if (len) *len = t->entries[id].len;
  return t->entries[id].str;
}

bool cmlx_tokenizer_is_special(cmlx_tokenizer h, int32_t id) {
  const tok* t = h.ctx;
  return t && id >= 0 && (size_t)id < t->n_ids && t->entries[id].special;
}

int32_t cmlx_tokenizer_bos_id(cmlx_tokenizer h) {
  const tok* t = h.ctx;
  return t ? t->bos_id : -1;
}

size_t cmlx_tokenizer_eos_ids(cmlx_tokenizer h, const int32_t** ids) {
  const tok* t = h.ctx;
  if (ids) *ids = t ? t->eos : NULL;
  return t ? t->n_eos : 0;
}

bool cmlx_tokenizer_is_eos(cmlx_tokenizer h, int32_t id) {
  const tok* t = h.ctx;
  for (size_t i = 0; t && i < t->n_eos; i++)
    if (t->eos[i] == id) return true;
  return false;
}

const char* cmlx_tokenizer_chat_template(cmlx_tokenizer h) {
  const tok* t = h.ctx;
  return t ? t->chat_template : NULL;
}
