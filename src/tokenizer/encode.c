/* encode.c - text to ids.
 *
 * 1. Added tokens are found in the raw text first (leftmost match, the
 *    longest at that place; lstrip / rstrip take the whitespace on that side
 *    with them, single_word refuses a match touching a letter, digit or
 *    '_'). The text between them goes through steps 2 and 3.
 * 2. The pre-tokenizer steps cut it into pieces. Pieces are byte ranges of
 *    a work buffer; PCRE2 matches with PCRE2_MATCH_INVALID_UTF, so invalid
 *    UTF-8 never matches anything and ends up in pieces of its own (the
 *    gaps between matches).
 * 3. Each piece is a word for byte-level BPE: one symbol per byte (its
 *    byte-alphabet token), then the adjacent pair with the lowest merge rank
 *    is merged, leftmost first among equals, until no pair has a merge.
 *    A doubly linked list of symbols and a binary heap of candidate pairs
 *    make that O(n log n); heap entries made stale by a neighbouring merge
 *    are recognised when popped (the pair there no longer has that rank).
 *    With ignore_merges, a word that is itself in the vocabulary is taken
 *    whole. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/tokenizer.h"
#include "core/error.h"
#include "tokenizer/tok.h"

#define OP "[tokenizer] "

typedef struct ids {
  int32_t* v;
  size_t n, cap;
} ids;

static int ids_push(ids* a, int32_t id) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 64;
    int32_t* p = realloc(a->v, cap * sizeof *p);
    if (!p) return error_set(OP "Out of memory.");
    a->v = p, a->cap = cap;
  }
  a->v[a->n++] = id;
  return 0;
}

/* ---- pieces ---- */

typedef struct piece {
  size_t off, len;
} piece;

typedef struct sym {
  int32_t id; /* -1 once merged into its left neighbour */
  int32_t prev, next;
} sym;

typedef struct range {
  size_t start, end; /* within the piece */
  bool delim;
} range;

typedef struct work {
  char* buf; /* text of all pieces (pieces point into it by offset) */
  size_t len, cap;
  piece* p; /* current pieces */
  size_t n, pcap;
  piece* q; /* pieces being made */
  size_t qn, qcap;
  range* r; /* the ranges of one split */
  size_t rn, rcap;
  pcre2_match_data* md;
  /* BPE scratch */
  sym* sy;
  uint64_t* heap;
  size_t scap, hn, hcap;
  char* word; /* byte-alphabet form of a word (ignore_merges) */
  size_t wcap;
} work;

static int oom(void) {
  return error_set(OP "Out of memory.");
}

static int grow(void** p, size_t* cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void* n = realloc(*p, c * elem);
  if (!n) return oom();
  *p = n;
  *cap = c;
  return 0;
}

static int buf_append(work* w, const char* s, size_t n, size_t* off) {
  if (grow((void**)&w->buf, &w->cap, w->len + n + 1, 1)) return 1;
  memcpy(w->buf + w->len, s, n);
  *off = w->len;
  w->len += n;
  return 0;
}

static int q_push(work* w, size_t off, size_t len) {
  if (len == 0) return 0;
  if (grow((void**)&w->q, &w->qcap, w->qn + 1, sizeof *w->q)) return 1;
  w->q[w->qn++] = (piece){off, len};
  return 0;
}

static int range_push(work* w, size_t start, size_t end, bool delim) {
  if (grow((void**)&w->r, &w->rcap, w->rn + 1, sizeof *w->r)) return 1;
  w->r[w->rn++] = (range){start, end, delim};
  return 0;
}

static size_t char_len(const unsigned char* s, size_t n) {
  uint32_t cp;
  size_t k = tok_utf8_next(s, n, &cp);
  return k ? k : 1;
}

/* Splits piece `pc` by re with the Hugging Face delimiter behaviours. The
 * piece is first cut into ranges: the matches (the delimiters; with invert,
 * the gaps are) and the gaps between them. Then:
 *   Removed             delimiters are dropped;
 *   Isolated            every range is a piece;
 *   MergedWithPrevious  a delimiter joins the range before it, unless that
 *                       one is a delimiter too;
 *   MergedWithNext      a delimiter joins the range after it, unless that
 *                       one is a delimiter too (the mirror image);
 *   Contiguous          runs of delimiters become one piece. */
static int split_piece(work* w, const tok_pre* st, piece pc) {
  const unsigned char* subj = (const unsigned char*)w->buf + pc.off;
  size_t len = pc.len, at = 0, prev_end = 0;
  w->rn = 0;
  while (at <= len) {
    int rc = pcre2_match(st->re, subj, len, at, 0, w->md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(st->re, subj, len, at, PCRE2_NO_JIT, w->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[200];
      if (pcre2_get_error_message(rc, msg, sizeof msg) < 0) strcpy((char*)msg, "unknown");
      return error_set(OP "The pre-tokenizer regex failed on a %zu-byte piece: %s.", len,
                       (char*)msg);
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(w->md);
    size_t s = ov[0], e = ov[1];
    if (e <= s) { /* empty match: no range; move on one character */
      if (s >= len) break;
      at = s + char_len(subj + s, len - s);
      continue;
    }
    if ((s > prev_end && range_push(w, prev_end, s, st->invert)) ||
        range_push(w, s, e, !st->invert))
      return 1;
    prev_end = at = e;
  }
  if (prev_end < len && range_push(w, prev_end, len, st->invert)) return 1;

  const range* r = w->r;
  size_t n = w->rn;
  for (size_t i = 0; i < n; i++) {
    size_t s = pc.off + r[i].start, e = pc.off + r[i].end;
    bool delim = r[i].delim;
    switch (st->behavior) {
      case TOK_REMOVED:
        if (delim) continue;
        break;
      case TOK_ISOLATED:
        break;
      case TOK_MERGED_WITH_PREVIOUS:
        if (delim && i > 0 && !r[i - 1].delim) { /* the previous range was pushed last */
          w->q[w->qn - 1].len += e - s;
          continue;
        }
        break;
      case TOK_MERGED_WITH_NEXT:
        if (delim && i + 1 < n && !r[i + 1].delim) e = pc.off + r[++i].end;
        break;
      case TOK_CONTIGUOUS:
        while (delim && i + 1 < n && r[i + 1].delim) e = pc.off + r[++i].end;
        break;
    }
    if (q_push(w, s, e - s)) return 1;
  }
  return 0;
}

static int run_step(work* w, const tok_pre* st) {
  w->qn = 0;
  for (size_t i = 0; i < w->n; i++) {
    piece pc = w->p[i];
    if (st->kind == TOK_PRE_BYTELEVEL && st->add_prefix_space && w->buf[pc.off] != ' ') {
      /* the piece gets a space in front: copy it after one */
      size_t off;
      if (grow((void**)&w->buf, &w->cap, w->len + pc.len + 2, 1)) return 1;
      w->buf[w->len] = ' ';
      memcpy(w->buf + w->len + 1, w->buf + pc.off, pc.len);
      off = w->len;
      w->len += pc.len + 1;
      pc = (piece){off, pc.len + 1};
    }
    if (!st->re) {
      if (q_push(w, pc.off, pc.len)) return 1;
      continue;
    }
    if (split_piece(w, st, pc)) return 1;
  }
  piece* t = w->p;
  size_t tc = w->pcap;
  w->p = w->q, w->pcap = w->qcap, w->n = w->qn;
  w->q = t, w->qcap = tc, w->qn = 0;
  return 0;
}

/* ---- BPE ---- */

static void heap_push(work* w, uint64_t key) {
  size_t i = w->hn++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (w->heap[parent] <= key) break;
    w->heap[i] = w->heap[parent];
    i = parent;
  }
  w->heap[i] = key;
}

static uint64_t heap_pop(work* w) {
  uint64_t top = w->heap[0], last = w->heap[--w->hn];
  size_t i = 0, n = w->hn;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && w->heap[c + 1] < w->heap[c]) c++;
    if (w->heap[c] >= last) break;
    w->heap[i] = w->heap[c];
    i = c;
  }
  if (n) w->heap[i] = last;
  return top;
}

/* Candidate: the pair starting at symbol i, keyed (rank, i). */
static void consider(const tok* t, work* w, int32_t i) {
  int32_t j = w->sy[i].next;
  if (j < 0) return;
  const tok_merge_slot* m = tok_merges_get(&t->merges, w->sy[i].id, w->sy[j].id);
  if (m) heap_push(w, ((uint64_t)(uint32_t)m->rank << 32) | (uint32_t)i);
}

static int bpe_word(const tok* t, work* w, const unsigned char* s, size_t n, ids* out) {
  if (t->ignore_merges) {
    if (grow((void**)&w->word, &w->wcap, 2 * n, 1)) return 1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += tok_utf8_put(tok_byte_to_cp(s[i]), w->word + k);
    int32_t id = tok_map_get(&t->vocab, w->word, k);
    if (id >= 0) return ids_push(out, id);
  }
  if (n >= INT32_MAX) return error_set(OP "A pre-tokenized word of %zu bytes is too long.", n);
  if (grow((void**)&w->sy, &w->scap, n, sizeof *w->sy)) return 1;
  /* the heap holds at most n - 1 + 2 per merge <= 3n entries */
  if (grow((void**)&w->heap, &w->hcap, 3 * n + 1, sizeof(uint64_t))) return 1;
  sym* sy = w->sy;
  for (size_t i = 0; i < n; i++) {
    int32_t id = t->byte_id[s[i]];
    if (id < 0) id = t->unk_id;
    if (id < 0)
      return error_set(OP "%s: byte 0x%02X has no token in the vocabulary and there is no "
                       "unk_token.", t->path, s[i]);
    sy[i] = (sym){id, (int32_t)i - 1, (int32_t)i + 1};
  }
  sy[n - 1].next = -1;
  w->hn = 0;
  for (size_t i = 0; i + 1 < n; i++) consider(t, w, (int32_t)i);
  while (w->hn) {
    uint64_t key = heap_pop(w);
    int32_t i = (int32_t)(uint32_t)key, rank = (int32_t)(key >> 32);
    if (sy[i].id < 0) continue; /* merged into its left neighbour */
    int32_t j = sy[i].next;
    if (j < 0) continue;
    const tok_merge_slot* mg = tok_merges_get(&t->merges, sy[i].id, sy[j].id);
    if (!mg || mg->rank != rank) continue; /* stale */
    sy[i].id = mg->id;
    sy[j].id = -1;
    sy[i].next = sy[j].next;
    if (sy[j].next >= 0) sy[sy[j].next].prev = i;
    if (sy[i].prev >= 0) consider(t, w, sy[i].prev);
    consider(t, w, i);
  }
  for (int32_t i = 0; i >= 0; i = sy[i].next)
    if (ids_push(out, sy[i].id)) return 1;
  return 0;
}

/* Pre-tokenizes text[0, n) and BPE-encodes each piece. */
static int encode_segment(const tok* t, work* w, const char* text, size_t n, ids* out) {
  if (n == 0) return 0;
  w->len = 0;
  size_t off;
  if (buf_append(w, text, n, &off)) return 1;
  w->n = 0;
  if (grow((void**)&w->p, &w->pcap, 1, sizeof *w->p)) return 1;
  w->p[w->n++] = (piece){off, n};
  for (size_t k = 0; k < t->n_pre; k++)
    if (run_step(w, &t->pre[k])) return 1;
  for (size_t i = 0; i < w->n; i++)
    if (bpe_word(t, w, (const unsigned char*)w->buf + w->p[i].off, w->p[i].len, out)) return 1;
  return 0;
}

/* ---- added tokens ---- */

static bool word_char_at(const tok* t, work* w, const char* s, size_t n, size_t at) {
  int rc = pcre2_match(t->word_re, (PCRE2_SPTR)s + at, n - at, 0, 0, w->md, NULL);
  return rc >= 0;
}

/* The start of the character that ends at s[end] (end > 0). */
static size_t char_before(const char* s, size_t end) {
  size_t i = end - 1, k = 0;
  while (i > 0 && k < 3 && ((unsigned char)s[i] & 0xC0) == 0x80) i--, k++;
  uint32_t cp;
  size_t len = tok_utf8_next((const unsigned char*)s + i, end - i, &cp);
  return len == end - i ? i : end - 1;
}

/* Finds the next added token in s[from, n): its index, where it starts and
 * ends (with the stripped whitespace). */
static bool next_added(const tok* t, work* w, const char* s, size_t n, size_t from,
                       size_t* start, size_t* end, size_t* which) {
  for (size_t i = from; i < n; i++) {
    unsigned c = (unsigned char)s[i];
    for (uint32_t k = t->added_first[c]; k < t->added_first[c + 1]; k++) {
      const tok_added* a = &t->added[t->added_order[k]];
      if (a->len > n - i || memcmp(s + i, a->content, a->len) != 0) continue;
      size_t b = i, e = i + a->len;
      if (a->single_word) {
        if (b > 0 && word_char_at(t, w, s, n, char_before(s, b))) continue;
        if (e < n && word_char_at(t, w, s, n, e)) continue;
      }
      if (a->lstrip)
        while (b > from) {
          size_t p = char_before(s, b);
          uint32_t cp;
          if (tok_utf8_next((const unsigned char*)s + p, b - p, &cp) != b - p ||
              !tok_is_space(cp))
            break;
          b = p;
        }
      if (a->rstrip)
        while (e < n) {
          uint32_t cp;
          size_t l = tok_utf8_next((const unsigned char*)s + e, n - e, &cp);
          if (!l || !tok_is_space(cp)) break;
          e += l;
        }
      *start = b, *end = e, *which = t->added_order[k];
      return true;
    }
  }
  return false;
}

static void work_free(work* w) {
  free(w->buf);
  free(w->p);
  free(w->q);
  free(w->r);
  if (w->md) pcre2_match_data_free(w->md);
  free(w->sy);
  free(w->heap);
  free(w->word);
}

int cmlx_tokenizer_encode(cmlx_tokenizer tok_handle, const char* text, size_t len,
                          bool add_special, int32_t** ids_out, size_t* n_out) {
  const tok* t = tok_handle.ctx;
  if (!t) {
    error_set(OP "The tokenizer handle is empty.");
    return api_fail();
  }
  if (!ids_out || !n_out || (!text && len)) {
    error_set(OP "cmlx_tokenizer_encode needs text and output pointers.");
    return api_fail();
  }
  work w = {0};
  ids out = {0};
  int rc = 0;
  w.md = pcre2_match_data_create(1, NULL);
  if (!w.md) rc = oom();
  for (size_t i = 0; add_special && i < t->n_prefix && !rc; i++) rc = ids_push(&out, t->prefix[i]);
  size_t pos = 0;
  while (!rc && pos < len) {
    size_t s, e, which = 0;
    if (!next_added(t, &w, text, len, pos, &s, &e, &which)) s = e = len;
    rc = encode_segment(t, &w, text + pos, s - pos, &out);
    if (!rc && e > s) rc = ids_push(&out, t->added[which].id);
    pos = e;
  }
  for (size_t i = 0; add_special && i < t->n_suffix && !rc; i++) rc = ids_push(&out, t->suffix[i]);
  work_free(&w);
  if (rc) {
    free(out.v);
    return api_fail();
  }
  if (out.n == 0) {
    free(out.v);
    out.v = NULL;
  }
  *ids_out = out.v;
  *n_out = out.n;
  return 0;
}
