/* load.c - reading tokenizer.json, tokenizer_config.json,
 * generation_config.json and config.json into a tok.
 *
 * What is understood (anything else is refused with a message naming the
 * file and the part):
 *   model          BPE: vocab, merges ("a b" strings or ["a", "b"] pairs,
 *                  rank = position; a pair listed twice keeps its last
 *                  rank), ignore_merges, unk_token. dropout is ignored
 *                  (it only matters for training); byte_fallback,
 *                  continuing_subword_prefix and end_of_word_suffix must be
 *                  off.
 *   added_tokens   id, content, special, lstrip, rstrip, single_word,
 *                  normalized (which changes nothing: no text is
 *                  normalized).
 *   normalizer     null or NFC (accepted, not applied: see the header).
 *   pre_tokenizer  Sequence, Split (Regex or String pattern, the five
 *                  behaviours, invert), ByteLevel (add_prefix_space,
 *                  use_regex), Digits. A ByteLevel step is required.
 *   decoder        null or ByteLevel (or a Sequence of ByteLevel).
 *   post_processor null, ByteLevel, TemplateProcessing (its "single"
 *                  template), Sequence of those.
 * truncation and padding are ignored (encode never truncates or pads), as
 * is tokenizer_config.json's added_tokens_decoder (tokenizer.json's
 * added_tokens are the ones that count). load.c reads the model and the
 * neighbouring files; pipeline.c the parts around the model. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmlx/tokenizer.h"
#include "core/error.h"
#include "io/json.h"
#include "tokenizer/loader.h"
#include "tokenizer/tok.h"

#define OP "[tokenizer] "
#define MAX_FILE_BYTES ((size_t)1 << 30)

int loader_fail(const char* path, const char* fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return error_set(OP "%s: %s", path, what);
}

int loader_oom(void) {
  return error_set(OP "Out of memory.");
}

/* ---- files ---- */

/* Reads the whole file. missing_ok: a file that does not exist sets *data
 * to NULL and succeeds. */
static int read_file(const char* path, bool missing_ok, char** data, size_t* len) {
  *data = NULL;
  *len = 0;
  FILE* f = fopen(path, "rb");
  if (!f) {
    if (missing_ok && errno == ENOENT) return 0;
    return error_set(OP "Failed to open %s: %s.", path, strerror(errno));
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return error_set(OP "%s is not a regular file.", path);
  }
  if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
    fclose(f);
    return error_set(OP "%s is %lld bytes long, more than the %zu a tokenizer file may be.",
                     path, (long long)st.st_size, MAX_FILE_BYTES);
  }
  size_t n = (size_t)st.st_size;
  char* buf = malloc(n ? n : 1);
  if (!buf) {
    fclose(f);
    return loader_oom();
  }
  size_t got = fread(buf, 1, n, f);
  fclose(f);
  if (got != n) {
    free(buf);
    return error_set(OP "Unable to read %s.", path);
  }
  *data = buf;
  *len = n;
  return 0;
}

static char* join_path(const char* dir, const char* name) {
  size_t a = strlen(dir), b = strlen(name);
  char* p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

/* Parses file `path` (optional when missing_ok) into doc; doc->root is NULL
 * when the file is absent. */
static int parse_file(const char* path, bool missing_ok, json_doc* doc) {
  char* text;
  size_t len;
  doc->root = NULL;
  doc->blocks = NULL;
  if (read_file(path, missing_ok, &text, &len)) return 1;
  if (!text) return 0;
  json_error err;
  int rc = json_parse(text, len, doc, &err);
  free(text);
  if (rc) return loader_fail(path, "invalid JSON: %s at byte %zu.", err.what, err.pos);
  if (doc->root->type != JSON_OBJECT) {
    json_doc_free(doc);
    doc->root = NULL;
    return loader_fail(path, "the top level must be a JSON object.");
  }
  return 0;
}

/* ---- small JSON helpers (loader.h) ---- */

int loader_get(const char* path, const json_value* obj, const char* key, const char* where,
               const json_value** out) {
  *out = NULL;
  size_t count;
  const json_value* v = json_object_get(obj, key, &count);
  if (count > 1) return loader_fail(path, "%s has \"%s\" more than once.", where, key);
  *out = (v && v->type != JSON_NULL) ? v : NULL;
  return 0;
}

int loader_get_bool(const char* path, const json_value* obj, const char* key,
                    const char* where, bool dflt, bool* out) {
  const json_value* v;
  *out = dflt;
  if (loader_get(path, obj, key, where, &v)) return 1;
  if (!v) {
    *out = dflt;
    return 0;
  }
  if (v->type != JSON_TRUE && v->type != JSON_FALSE)
    return loader_fail(path, "%s: \"%s\" must be true or false.", where, key);
  *out = v->type == JSON_TRUE;
  return 0;
}

int loader_get_string(const char* path, const json_value* obj, const char* key,
                      const char* where, const json_value** out) {
  if (loader_get(path, obj, key, where, out)) return 1;
  if (*out && (*out)->type != JSON_STRING)
    return loader_fail(path, "%s: \"%s\" must be a string.", where, key);
  return 0;
}

int loader_as_id(const char* path, const json_value* v, const char* where, int32_t* id) {
  *id = 0;
  if (v->type != JSON_NUMBER || !v->as.number.integer || v->as.number.negative ||
      v->as.number.overflow || v->as.number.value >= TOK_MAX_ID) {
    if (v->type == JSON_NUMBER && v->as.number.integer && !v->as.number.negative)
      return loader_fail(path, "%s: id too large (ids must be below %d).", where, TOK_MAX_ID);
    return loader_fail(path, "%s: an id must be a non-negative integer.", where);
  }
  *id = (int32_t)v->as.number.value;
  return 0;
}

/* ---- building ---- */


static const char* keep(loader* L, const char* s, size_t n) {
  /* the arena was sized for everything up front */
  char* p = L->strings + L->used;
  memcpy(p, s, n);
  p[n] = 0;
  L->used += n + 1;
  return p;
}

static int parse_vocab(loader* L, const json_value* vocab) {
  tok* t = L->t;
  for (size_t i = 0; i < vocab->as.object.count; i++) {
    const json_member* m = &vocab->as.object.members[i];
    char where[128];
    snprintf(where, sizeof where, "model.vocab entry %zu", i);
    int32_t id;
    if (loader_as_id(L->path, m->value, where, &id)) return 1;
    if (m->key_len == 0) return loader_fail(L->path, "the vocabulary holds an empty token.");
    if (m->key_len > UINT32_MAX / 2)
      return loader_fail(L->path, "a vocabulary token is too long.");
    tok_entry* e = &t->entries[id];
    if (e->used)
      return loader_fail(L->path, "id %d is given to both '%.*s' and '%.*s' in the vocabulary.", id,
                  SHOWN(e->len), e->str, SHOWN(m->key_len), m->key);
    e->str = keep(L, m->key, m->key_len);
    e->len = (uint32_t)m->key_len;
    e->used = true;
    int r = tok_map_put(&t->vocab, e->str, e->len, id);
    if (r < 0) return loader_oom();
    if (r > 0)
      return loader_fail(L->path, "token '%.*s' appears twice in the vocabulary.", SHOWN(e->len),
                  e->str);
  }
  return 0;
}

/* Splits merge `m` (index i) into its two tokens. */
static int merge_parts(loader* L, const json_value* m, size_t i, const char** a, size_t* an,
                       const char** b, size_t* bn) {
  if (m->type == JSON_STRING) {
    const char* s = m->as.string.text;
    size_t n = m->as.string.len;
    const char* sp = memchr(s, ' ', n);
    if (!sp || sp == s || sp + 1 == s + n || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
      return loader_fail(L->path, "merge %zu ('%.*s') must be two tokens separated by one space.", i,
                  SHOWN(n), s);
    *a = s, *an = (size_t)(sp - s);
    *b = sp + 1, *bn = (size_t)(s + n - sp - 1);
    return 0;
  }
  if (m->type == JSON_ARRAY && m->as.array.count == 2 &&
      m->as.array.items[0]->type == JSON_STRING && m->as.array.items[1]->type == JSON_STRING) {
    *a = m->as.array.items[0]->as.string.text, *an = m->as.array.items[0]->as.string.len;
    *b = m->as.array.items[1]->as.string.text, *bn = m->as.array.items[1]->as.string.len;
    return 0;
  }
  return loader_fail(L->path, "merge %zu must be a string \"a b\" or a pair [\"a\", \"b\"].", i);
}

static int parse_merges(loader* L, const json_value* merges) {
  tok* t = L->t;
  size_t n = merges->as.array.count;
  if (n >= INT32_MAX) return loader_fail(L->path, "too many merges.");
  if (tok_merges_init(&t->merges, n)) return loader_oom();
  char* joined = NULL;
  size_t joined_cap = 0;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const char *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    if ((rc = merge_parts(L, merges->as.array.items[i], i, &a, &an, &b, &bn))) break;
    int32_t ia = tok_map_get(&t->vocab, a, an), ib = tok_map_get(&t->vocab, b, bn);
    if (ia < 0 || ib < 0) {
      const char* bad = ia < 0 ? a : b;
      size_t badn = ia < 0 ? an : bn;
      rc = loader_fail(L->path, "merge %zu ('%.*s' '%.*s') refers to '%.*s', which is not in the "
                "vocabulary.", i, SHOWN(an), a, SHOWN(bn), b, SHOWN(badn), bad);
      break;
    }
    if (an + bn > joined_cap) {
      size_t cap = (an + bn) * 2;
      char* p = realloc(joined, cap);
      if (!p) {
        rc = loader_oom();
        break;
      }
      joined = p, joined_cap = cap;
    }
    memcpy(joined, a, an);
    memcpy(joined + an, b, bn);
    int32_t id = tok_map_get(&t->vocab, joined, an + bn);
    if (id < 0) {
      rc = loader_fail(L->path, "merge %zu ('%.*s' '%.*s') makes '%.*s', which is not in the "
                "vocabulary.", i, SHOWN(an), a, SHOWN(bn), b, SHOWN(an + bn), joined);
      break;
    }
    tok_merges_put(&t->merges, ia, ib, (int32_t)i, id);
  }
  free(joined);
  return rc;
}

static int parse_added(loader* L, const json_value* list) {
  tok* t = L->t;
  size_t n = list->as.array.count;
  t->added = calloc(n ? n : 1, sizeof *t->added);
  if (!t->added) return loader_oom();
  if (tok_map_init(&t->added_map, n)) return loader_oom();
  for (size_t i = 0; i < n; i++) {
    const json_value* a = list->as.array.items[i];
    char where[64];
    snprintf(where, sizeof where, "added_tokens[%zu]", i);
    if (a->type != JSON_OBJECT) return loader_fail(L->path, "%s must be an object.", where);
    const json_value *idv, *content;
    if (loader_get(L->path, a, "id", where, &idv) || loader_get_string(L->path, a, "content", where, &content))
      return 1;
    if (!idv) return loader_fail(L->path, "%s has no \"id\".", where);
    if (!content || content->as.string.len == 0)
      return loader_fail(L->path, "%s has no \"content\" (or an empty one).", where);
    tok_added* x = &t->added[i];
    if (loader_as_id(L->path, idv, where, &x->id)) return 1;
    if (content->as.string.len > UINT32_MAX / 2) return loader_fail(L->path, "%s is too long.", where);
    bool special;
    if (loader_get_bool(L->path, a, "special", where, false, &special) ||
        loader_get_bool(L->path, a, "lstrip", where, false, &x->lstrip) ||
        loader_get_bool(L->path, a, "rstrip", where, false, &x->rstrip) ||
        loader_get_bool(L->path, a, "single_word", where, false, &x->single_word) ||
        loader_get_bool(L->path, a, "normalized", where, !special, &x->normalized))
      return 1;
    x->special = special;
    x->len = content->as.string.len;
    x->content = (char*)keep(L, content->as.string.text, x->len);
    t->n_added = i + 1;
    tok_entry* e = &t->entries[x->id];
    if (e->added)
      return loader_fail(L->path, "%s: id %d is already used by added token '%.*s'.", where, x->id,
                  SHOWN(e->len), e->str);
    /* The added token's content names the id, also when the model's
     * vocabulary has another string there. */
    e->str = x->content;
    e->len = (uint32_t)x->len;
    e->used = e->added = true;
    e->special = special;
    int r = tok_map_put(&t->added_map, x->content, (uint32_t)x->len, (int32_t)i);
    if (r < 0) return loader_oom();
    if (r > 0)
      return loader_fail(L->path, "%s: '%.*s' is listed twice.", where, SHOWN(x->len), x->content);
  }
  return 0;
}

/* added_order: by first byte, longest first (leftmost-longest matching). */
/* added_order: by first byte, longest first (leftmost-longest matching). */
static int cmp_u64(const void* x, const void* y) {
  uint64_t a = *(const uint64_t*)x, b = *(const uint64_t*)y;
  return a < b ? -1 : a > b;
}

static int index_added(loader* L) {
  tok* t = L->t;
  t->added_order = malloc((t->n_added ? t->n_added : 1) * sizeof *t->added_order);
  uint64_t* keys = malloc((t->n_added ? t->n_added : 1) * sizeof *keys);
  if (!t->added_order || !keys) {
    free(keys);
    return loader_oom();
  }
  bool single_word = false;
  /* The key orders by (first byte, longest first, index): n_added < 2^24
   * (no two added tokens share an id) and lengths fit in 32 bits. */
  for (size_t i = 0; i < t->n_added; i++) {
    const tok_added* a = &t->added[i];
    uint64_t len_key = 0xFFFFFFFFu - (uint32_t)a->len;
    keys[i] = ((uint64_t)(unsigned char)a->content[0] << 56) | (len_key << 24) | i;
    single_word |= a->single_word;
  }
  qsort(keys, t->n_added, sizeof *keys, cmp_u64);
  for (size_t i = 0; i < t->n_added; i++) t->added_order[i] = (uint32_t)(keys[i] & 0xFFFFFF);
  free(keys);
  size_t k = 0;
  for (unsigned c = 0; c <= 256; c++) {
    while (k < t->n_added && (unsigned char)t->added[t->added_order[k]].content[0] < c) k++;
    t->added_first[c] = (uint32_t)k;
  }
  if (single_word) {
    int err;
    PCRE2_SIZE off;
    t->word_re = pcre2_compile((PCRE2_SPTR) "^[\\p{L}\\p{N}_]", PCRE2_ZERO_TERMINATED,
                               PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off,
                               NULL);
    if (!t->word_re) return loader_oom();
  }
  return 0;
}

/* ---- the model ---- */

static int parse_model(loader* L, const json_value* model) {
  tok* t = L->t;
  const char* where = "model";
  const json_value *type, *vocab, *merges, *unk, *cont, *suffix;
  if (model->type != JSON_OBJECT) return loader_fail(L->path, "\"model\" must be an object.");
  if (loader_get_string(L->path, model, "type", where, &type) ||
      loader_get(L->path, model, "vocab", where, &vocab) ||
      loader_get(L->path, model, "merges", where, &merges) ||
      loader_get_string(L->path, model, "unk_token", where, &unk) ||
      loader_get_string(L->path, model, "continuing_subword_prefix", where, &cont) ||
      loader_get_string(L->path, model, "end_of_word_suffix", where, &suffix))
    return 1;
  if (type && strcmp(type->as.string.text, "BPE") != 0)
    return loader_fail(L->path, "model type '%s' is not supported (only BPE is).",
                type->as.string.text);
  if (!type && !merges)
    return loader_fail(L->path, "the model has no \"type\" and no \"merges\"; only BPE is supported.");
  if (!vocab || vocab->type != JSON_OBJECT)
    return loader_fail(L->path, "the BPE model needs a \"vocab\" object.");
  if (merges && merges->type != JSON_ARRAY)
    return loader_fail(L->path, "the BPE model's \"merges\" must be a list.");
  bool byte_fallback;
  if (loader_get_bool(L->path, model, "byte_fallback", where, false, &byte_fallback) ||
      loader_get_bool(L->path, model, "ignore_merges", where, false, &t->ignore_merges))
    return 1;
  if (byte_fallback)
    return loader_fail(L->path, "BPE with byte_fallback is not supported (only byte-level BPE is).");
  if ((cont && cont->as.string.len) || (suffix && suffix->as.string.len))
    return loader_fail(L->path, "BPE continuing_subword_prefix / end_of_word_suffix are not "
                "supported.");
  if (parse_vocab(L, vocab)) return 1;
  if (merges && parse_merges(L, merges)) return 1;
  t->unk_id = unk ? tok_map_get(&t->vocab, unk->as.string.text, unk->as.string.len) : -1;
  for (int b = 0; b < 256; b++) {
    char s[4];
    size_t n = tok_utf8_put(tok_byte_to_cp((uint8_t)b), s);
    t->byte_id[b] = tok_map_get(&t->vocab, s, n);
  }
  return 0;
}

/* What each id decodes to: model tokens through the byte alphabet (a
 * character outside it stands for its own UTF-8 bytes), added tokens as
 * their content. */
static void fill_bytes(loader* L) {
  tok* t = L->t;
  for (size_t id = 0; id < t->n_ids; id++) {
    tok_entry* e = &t->entries[id];
    if (!e->used) continue;
    if (e->added) {
      e->bytes = e->str;
      e->bytes_len = e->len;
      continue;
    }
    char* out = L->strings + L->used;
    size_t k = 0, i = 0;
    const unsigned char* s = (const unsigned char*)e->str;
    while (i < e->len) {
      uint32_t cp;
      size_t n = tok_utf8_next(s + i, e->len - i, &cp);
      int b = n ? tok_cp_to_byte(cp) : -1;
      if (b >= 0) {
        out[k++] = (char)b;
      } else {
        if (!n) n = 1;
        memcpy(out + k, s + i, n);
        k += n;
      }
      i += n;
    }
    out[k] = 0;
    e->bytes = out;
    e->bytes_len = (uint32_t)k;
    L->used += k + 1;
  }
}

/* ---- tokenizer_config.json and friends ---- */

/* "bos_token": "<s>" or {"content": "<s>", ...} or null -> id (-1 if null). */
static int config_token(loader* L, const char* path, const json_value* cfg, const char* key,
                        int32_t* id) {
  const json_value* v;
  *id = -1;
  if (loader_get(path, cfg, key, "the top level", &v)) return 1;
  if (!v) return 0;
  if (v->type == JSON_OBJECT && loader_get_string(path, v, "content", key, &v)) return 1;
  if (!v || v->type != JSON_STRING)
    return loader_fail(path, "\"%s\" must be a string or an object with a \"content\" string.", key);
  int32_t found = cmlx_tokenizer_token_to_id((cmlx_tokenizer){L->t}, v->as.string.text,
                                             v->as.string.len);
  if (found < 0)
    return loader_fail(path, "%s '%.*s' is not in the vocabulary.", key, SHOWN(v->as.string.len),
                v->as.string.text);
  *id = found;
  return 0;
}

static int add_eos(tok* t, int32_t id) {
  for (size_t i = 0; i < t->n_eos; i++)
    if (t->eos[i] == id) return 0;
  return loader_append_ids(&t->eos, &t->n_eos, &id, 1, false);
}

/* "eos_token_id" / "bos_token_id" of generation_config.json or config.json:
 * a number or a list of numbers. bos takes the first when *bos is -1. */
static int config_ids(loader* L, const char* dir, const char* name, int32_t* bos) {
  char* path = join_path(dir, name);
  if (!path) return loader_oom();
  json_doc doc;
  int rc = parse_file(path, true, &doc);
  if (rc || !doc.root) {
    free(path);
    return rc;
  }
  static const char* keys[2] = {"eos_token_id", "bos_token_id"};
  for (int k = 0; k < 2 && !rc; k++) {
    const json_value* v;
    if ((rc = loader_get(path, doc.root, keys[k], "the top level", &v)) || !v) continue;
    size_t n = v->type == JSON_ARRAY ? v->as.array.count : 1;
    for (size_t i = 0; i < n && !rc; i++) {
      const json_value* x = v->type == JSON_ARRAY ? v->as.array.items[i] : v;
      int32_t id;
      if ((rc = loader_as_id(path, x, keys[k], &id))) break;
      if ((size_t)id >= L->t->n_ids || !L->t->entries[id].used) {
        rc = loader_fail(path, "%s %d is not in the vocabulary.", keys[k], id);
        break;
      }
      if (k == 0) rc = add_eos(L->t, id);
      else if (*bos < 0) *bos = id;
    }
  }
  json_doc_free(&doc);
  free(path);
  return rc;
}

static int read_configs(loader* L, const char* dir, bool has_template) {
  tok* t = L->t;
  char* path = join_path(dir, "tokenizer_config.json");
  if (!path) return loader_oom();
  json_doc doc;
  int rc = parse_file(path, true, &doc);
  bool add_bos = false, add_eos_flag = false, bos_null = false;
  int32_t bos = -1, eos = -1;
  if (!rc && doc.root) {
    /* "bos_token": null says there is none (Qwen): no falling back below */
    size_t count;
    const json_value* b = json_object_get(doc.root, "bos_token", &count);
    bos_null = b && b->type == JSON_NULL;
    const json_value* tmpl;
    rc = loader_get_bool(path, doc.root, "add_bos_token", "the top level", false, &add_bos) ||
         loader_get_bool(path, doc.root, "add_eos_token", "the top level", false, &add_eos_flag) ||
         config_token(L, path, doc.root, "bos_token", &bos) ||
         config_token(L, path, doc.root, "eos_token", &eos) ||
         loader_get(path, doc.root, "chat_template", "the top level", &tmpl);
    if (!rc && tmpl) {
      /* a string, or a list of {"name", "template"}: the one named default */
      const json_value* s = tmpl->type == JSON_STRING ? tmpl : NULL;
      for (size_t i = 0; tmpl->type == JSON_ARRAY && i < tmpl->as.array.count && !s; i++) {
        const json_value* it = tmpl->as.array.items[i];
        size_t c;
        const json_value* nm = it->type == JSON_OBJECT ? json_object_get(it, "name", &c) : NULL;
        const json_value* tx =
            it->type == JSON_OBJECT ? json_object_get(it, "template", &c) : NULL;
        if (nm && nm->type == JSON_STRING && strcmp(nm->as.string.text, "default") == 0 && tx &&
            tx->type == JSON_STRING)
          s = tx;
      }
      if (s && !(t->chat_template = strdup(s->as.string.text))) rc = loader_oom();
    }
    if (!rc && eos >= 0) rc = add_eos(t, eos);
    if (!rc && !has_template && add_bos && bos < 0)
      rc = loader_fail(path, "add_bos_token is true but there is no bos_token.");
    if (!rc && !has_template && add_eos_flag && eos < 0)
      rc = loader_fail(path, "add_eos_token is true but there is no eos_token.");
    if (!rc && !has_template && add_bos) rc = loader_append_ids(&t->prefix, &t->n_prefix, &bos, 1, false);
    if (!rc && !has_template && add_eos_flag)
      rc = loader_append_ids(&t->suffix, &t->n_suffix, &eos, 1, false);
  }
  if (doc.root) json_doc_free(&doc);
  free(path);
  int32_t bos2 = -1;
  if (!rc) rc = config_ids(L, dir, "generation_config.json", &bos2);
  if (!rc) rc = config_ids(L, dir, "config.json", &bos2);
  if (!rc) {
    t->bos_id = bos >= 0 ? bos : bos_null ? -1 : bos2;
    if (t->bos_id < 0 && !bos_null && t->n_prefix > 0) t->bos_id = t->prefix[0];
  }
  return rc;
}

/* ---- the whole load ---- */

/* Bytes the arena needs: each vocabulary string twice (as written and
 * decoded, never longer), each added token's content once. */
static size_t size_strings(const json_value* root) {
  size_t n = 0;
  const json_value *model, *vocab = NULL, *added;
  size_t c;
  model = json_object_get(root, "model", &c);
  if (model && model->type == JSON_OBJECT) vocab = json_object_get(model, "vocab", &c);
  if (vocab && vocab->type == JSON_OBJECT)
    for (size_t i = 0; i < vocab->as.object.count; i++)
      n += 2 * (vocab->as.object.members[i].key_len + 1);
  added = json_object_get(root, "added_tokens", &c);
  if (added && added->type == JSON_ARRAY)
    for (size_t i = 0; i < added->as.array.count; i++) {
      const json_value* a = added->as.array.items[i];
      const json_value* s = a->type == JSON_OBJECT ? json_object_get(a, "content", &c) : NULL;
      if (s && s->type == JSON_STRING) n += s->as.string.len + 1;
    }
  return n + 1;
}

/* The largest id named in vocab and added_tokens (-1 if none); the values'
 * form is checked later. */
static int64_t max_id(const json_value* root) {
  int64_t m = -1;
  size_t c;
  const json_value* model = json_object_get(root, "model", &c);
  const json_value* vocab = model && model->type == JSON_OBJECT
                                ? json_object_get(model, "vocab", &c) : NULL;
  if (vocab && vocab->type == JSON_OBJECT)
    for (size_t i = 0; i < vocab->as.object.count; i++) {
      const json_value* v = vocab->as.object.members[i].value;
      if (v->type == JSON_NUMBER && v->as.number.integer && !v->as.number.negative &&
          !v->as.number.overflow && v->as.number.value < TOK_MAX_ID &&
          (int64_t)v->as.number.value > m)
        m = (int64_t)v->as.number.value;
    }
  const json_value* added = json_object_get(root, "added_tokens", &c);
  if (added && added->type == JSON_ARRAY)
    for (size_t i = 0; i < added->as.array.count; i++) {
      const json_value* a = added->as.array.items[i];
      const json_value* v = a->type == JSON_OBJECT ? json_object_get(a, "id", &c) : NULL;
      if (v && v->type == JSON_NUMBER && v->as.number.integer && !v->as.number.negative &&
          !v->as.number.overflow && v->as.number.value < TOK_MAX_ID &&
          (int64_t)v->as.number.value > m)
        m = (int64_t)v->as.number.value;
    }
  return m;
}

static int load(tok* t, const char* path, const char* dir) {
  json_doc doc;
  if (parse_file(path, false, &doc)) return 1;
  loader L = {.t = t, .path = path};
  const json_value* root = doc.root;
  int rc = 0;
  size_t total = size_strings(root);
  int64_t top = max_id(root);
  t->n_ids = (size_t)(top + 1);
  t->entries = calloc(t->n_ids ? t->n_ids : 1, sizeof *t->entries);
  L.strings = t->arena = malloc(total);
  const json_value* model;
  size_t vocab_count = 0;
  {
    size_t c;
    const json_value* m = json_object_get(root, "model", &c);
    const json_value* v = m && m->type == JSON_OBJECT ? json_object_get(m, "vocab", &c) : NULL;
    if (v && v->type == JSON_OBJECT) vocab_count = v->as.object.count;
  }
  if (!t->entries || !t->arena || tok_map_init(&t->vocab, vocab_count)) {
    rc = loader_oom();
    goto done;
  }
  const json_value *added, *norm, *pre, *dec, *post;
  if ((rc = loader_get(path, root, "model", "the top level", &model) ||
            loader_get(path, root, "added_tokens", "the top level", &added) ||
            loader_get(path, root, "normalizer", "the top level", &norm) ||
            loader_get(path, root, "pre_tokenizer", "the top level", &pre) ||
            loader_get(path, root, "decoder", "the top level", &dec) ||
            loader_get(path, root, "post_processor", "the top level", &post)))
    goto done;
  if (!model) {
    rc = loader_fail(path, "there is no \"model\".");
    goto done;
  }
  if ((rc = parse_model(&L, model))) goto done;
  if (added && added->type != JSON_ARRAY) {
    rc = loader_fail(path, "\"added_tokens\" must be a list.");
    goto done;
  }
  static const json_value empty_list = {.type = JSON_ARRAY};
  if ((rc = parse_added(&L, added ? added : &empty_list)) || (rc = index_added(&L))) goto done;
  if ((rc = loader_parse_plain(&L, norm, "normalizer", "normalizers", "NFC", "only none or NFC are",
                        0)))
    goto done;
  if (pre && (rc = loader_parse_pre(&L, pre, 0))) goto done;
  if (!L.byte_level) {
    rc = loader_fail(path, "the pre_tokenizer has no ByteLevel step; only byte-level BPE is "
              "supported.");
    goto done;
  }
  if ((rc = loader_parse_plain(&L, dec, "decoder", "decoders", "ByteLevel", "only ByteLevel is", 0)))
    goto done;
  bool has_template = false;
  if ((rc = loader_parse_post(&L, post, 0, &has_template))) goto done;
  fill_bytes(&L);
  rc = read_configs(&L, dir, has_template);
done:
  json_doc_free(&doc);
  return rc;
}

void tok_release(tok* t) {
  if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  free(t->path);
  free(t->entries);
  free(t->arena);
  tok_map_free(&t->vocab);
  tok_map_free(&t->added_map);
  tok_merges_free(&t->merges);
  free(t->added);
  free(t->added_order);
  if (t->word_re) pcre2_code_free(t->word_re);
  for (size_t i = 0; i < t->n_pre; i++)
    if (t->pre[i].re) pcre2_code_free(t->pre[i].re);
  free(t->pre);
  free(t->prefix);
  free(t->suffix);
  free(t->eos);
  free(t->chat_template);
  free(t);
}

int cmlx_tokenizer_load(cmlx_tokenizer* out, const char* path_or_dir) {
  if (!out || !path_or_dir) {
    error_set(OP "cmlx_tokenizer_load needs an output handle and a path.");
    return api_fail();
  }
  struct stat st;
  char* file;
  char* dir;
  if (stat(path_or_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
    file = join_path(path_or_dir, "tokenizer.json");
    dir = strdup(path_or_dir);
  } else {
    file = strdup(path_or_dir);
    dir = strdup(path_or_dir);
    if (dir) {
      char* slash = strrchr(dir, '/');
      if (!slash) strcpy(dir, ".");
      else if (slash == dir) dir[1] = 0;
      else *slash = 0;
    }
  }
  tok* t = calloc(1, sizeof *t);
  if (!file || !dir || !t) {
    free(file);
    free(dir);
    free(t);
    loader_oom();
    return api_fail();
  }
  t->refs = 1;
  t->path = file;
  t->unk_id = -1;
  t->bos_id = -1;
  int rc = load(t, file, dir);
  free(dir);
  if (rc) {
    tok_release(t);
    return api_fail();
  }
  out->ctx = t;
  return 0;
}

void cmlx_tokenizer_free(cmlx_tokenizer tok_handle) {
  tok_release(tok_handle.ctx);
}
