/* pipeline.c - the parts of tokenizer.json around the model: normalizer,
 * pre-tokenizer, decoder and post-processor (see load.c for what each may
 * be). Regexes are compiled here, once, with PCRE2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/loader.h"

static int type_of(loader* L, const json_value* v, const char* where, const char** type) {
  *type = "";
  if (v->type != JSON_OBJECT) return loader_fail(L->path, "%s must be an object or null.", where);
  const json_value* tv;
  if (loader_get_string(L->path, v, "type", where, &tv)) return 1;
  if (!tv) return loader_fail(L->path, "%s has no \"type\".", where);
  *type = tv->as.string.text;
  return 0;
}

/* The normalizer and the decoder: null, the one type we accept, or a
 * Sequence (its list under list_key) of those. */
int loader_parse_plain(loader* L, const json_value* v, const char* part, const char* list_key,
                       const char* accepted, const char* supported, int depth) {
  if (!v) return 0;
  const char* type;
  if (type_of(L, v, part, &type)) return 1;
  if (strcmp(type, accepted) == 0) return 0;
  if (strcmp(type, "Sequence") == 0 && depth < 8) {
    const json_value* list;
    if (loader_get(L->path, v, list_key, part, &list)) return 1;
    if (!list || list->type != JSON_ARRAY)
      return loader_fail(L->path, "the Sequence %s needs a \"%s\" list.", part, list_key);
    for (size_t i = 0; i < list->as.array.count; i++)
      if (loader_parse_plain(L, list->as.array.items[i], part, list_key, accepted, supported,
                      depth + 1))
        return 1;
    return 0;
  }
  return loader_fail(L->path, "%s type '%s' is not supported (%s).", part, type, supported);
}

static int compile(loader* L, const char* pat, size_t len, bool literal, const char* where,
                   pcre2_code** out) {
  int err;
  PCRE2_SIZE off;
  /* PCRE2_LITERAL refuses PCRE2_UCP (a literal has no classes anyway) */
  uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  pcre2_code* re = pcre2_compile((PCRE2_SPTR)pat, len, opts, &err, &off, NULL);
  if (!re) {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(err, msg, sizeof msg) < 0) strcpy((char*)msg, "unknown error");
    return loader_fail(L->path, "the %s regex is invalid: %s at offset %zu.", where, (char*)msg,
                (size_t)off);
  }
  (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter works without it */
  *out = re;
  return 0;
}

/* GPT-2's pre-tokenizer regex (ByteLevel with use_regex). */
static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int add_pre(loader* L, tok_pre p) {
  tok* t = L->t;
  tok_pre* n = realloc(t->pre, (t->n_pre + 1) * sizeof *n);
  if (!n) {
    if (p.re) pcre2_code_free(p.re);
    return loader_oom();
  }
  t->pre = n;
  t->pre[t->n_pre++] = p;
  return 0;
}

int loader_parse_pre(loader* L, const json_value* v, int depth) {
  const char* type;
  if (type_of(L, v, "pre_tokenizer", &type)) return 1;
  if (strcmp(type, "Sequence") == 0) {
    const json_value* list;
    if (loader_get(L->path, v, "pretokenizers", "pre_tokenizer", &list)) return 1;
    if (!list || list->type != JSON_ARRAY)
      return loader_fail(L->path, "the Sequence pre_tokenizer needs a \"pretokenizers\" list.");
    if (depth >= 8) return loader_fail(L->path, "pre_tokenizer Sequences nest too deep.");
    for (size_t i = 0; i < list->as.array.count; i++)
      if (loader_parse_pre(L, list->as.array.items[i], depth + 1)) return 1;
    return 0;
  }
  tok_pre p = {0};
  if (strcmp(type, "ByteLevel") == 0) {
    bool use_regex;
    p.kind = TOK_PRE_BYTELEVEL;
    p.behavior = TOK_ISOLATED;
    if (loader_get_bool(L->path, v, "add_prefix_space", "the ByteLevel pre_tokenizer", true,
                 &p.add_prefix_space) ||
        loader_get_bool(L->path, v, "use_regex", "the ByteLevel pre_tokenizer", true, &use_regex))
      return 1;
    if (use_regex && compile(L, gpt2_regex, sizeof gpt2_regex - 1, false, "ByteLevel", &p.re))
      return 1;
    L->byte_level = true;
    return add_pre(L, p);
  }
  if (strcmp(type, "Digits") == 0) {
    bool individual;
    if (loader_get_bool(L->path, v, "individual_digits", "the Digits pre_tokenizer", false,
                 &individual))
      return 1;
    const char* pat = individual ? "\\p{N}" : "\\p{N}+";
    p.kind = TOK_PRE_SPLIT;
    p.behavior = TOK_ISOLATED;
    if (compile(L, pat, strlen(pat), false, "Digits", &p.re)) return 1;
    return add_pre(L, p);
  }
  if (strcmp(type, "Split") == 0) {
    const char* where = "Split pre_tokenizer";
    const json_value *pattern, *behavior;
    if (loader_get(L->path, v, "pattern", where, &pattern) ||
        loader_get_string(L->path, v, "behavior", where, &behavior) ||
        loader_get_bool(L->path, v, "invert", where, false, &p.invert))
      return 1;
    if (!pattern || pattern->type != JSON_OBJECT)
      return loader_fail(L->path, "the Split pre_tokenizer needs a \"pattern\" object.");
    const json_value *re, *str;
    if (loader_get_string(L->path, pattern, "Regex", where, &re) ||
        loader_get_string(L->path, pattern, "String", where, &str))
      return 1;
    if (!re == !str)
      return loader_fail(L->path, "the Split pattern must have one of \"Regex\" or \"String\".");
    if (!behavior) return loader_fail(L->path, "the Split pre_tokenizer has no \"behavior\".");
    static const struct {
      const char* name;
      tok_split_behavior b;
    } names[] = {{"Removed", TOK_REMOVED},
                 {"Isolated", TOK_ISOLATED},
                 {"MergedWithPrevious", TOK_MERGED_WITH_PREVIOUS},
                 {"MergedWithNext", TOK_MERGED_WITH_NEXT},
                 {"Contiguous", TOK_CONTIGUOUS}};
    size_t k = 0;
    while (k < 5 && strcmp(names[k].name, behavior->as.string.text) != 0) k++;
    if (k == 5)
      return loader_fail(L->path, "unknown Split behavior '%s'.", behavior->as.string.text);
    p.kind = TOK_PRE_SPLIT;
    p.behavior = names[k].b;
    const json_value* s = re ? re : str;
    if (s->as.string.len == 0) return loader_fail(L->path, "the Split pattern is empty.");
    if (compile(L, s->as.string.text, s->as.string.len, !re, "Split", &p.re)) return 1;
    return add_pre(L, p);
  }
  return loader_fail(L->path, "pre_tokenizer type '%s' is not supported.", type);
}

int loader_append_ids(int32_t** arr, size_t* n, const int32_t* ids, size_t k, bool front) {
  int32_t* p = realloc(*arr, (*n + k + 1) * sizeof *p);
  if (!p) return loader_oom();
  if (front) {
    memmove(p + k, p, *n * sizeof *p);
    memcpy(p, ids, k * sizeof *p);
  } else {
    memcpy(p + *n, ids, k * sizeof *p);
  }
  *arr = p;
  *n += k;
  return 0;
}

static int parse_template(loader* L, const json_value* v) {
  tok* t = L->t;
  const char* where = "the TemplateProcessing post_processor";
  const json_value *single, *specials;
  if (loader_get(L->path, v, "single", where, &single) ||
      loader_get(L->path, v, "special_tokens", where, &specials))
    return 1;
  if (!single || single->type != JSON_ARRAY)
    return loader_fail(L->path, "%s needs a \"single\" list.", where);
  if (specials && specials->type != JSON_OBJECT)
    return loader_fail(L->path, "%s: \"special_tokens\" must be an object.", where);
  int32_t* pre = NULL;
  int32_t* post = NULL;
  size_t npre = 0, npost = 0;
  bool seen_seq = false;
  int rc = 0;
  for (size_t i = 0; i < single->as.array.count && !rc; i++) {
    const json_value* item = single->as.array.items[i];
    const json_value *sp = NULL, *seq = NULL;
    if (item->type == JSON_OBJECT) {
      if ((rc = loader_get(L->path, item, "SpecialToken", where, &sp)) ||
          (rc = loader_get(L->path, item, "Sequence", where, &seq)))
        break;
    }
    if (seq && !sp) {
      if (seen_seq) {
        rc = loader_fail(L->path, "%s: the single template names the sequence twice.", where);
        break;
      }
      seen_seq = true;
      continue;
    }
    const json_value* name = NULL;
    if (sp && !seq && sp->type == JSON_OBJECT) rc = loader_get_string(L->path, sp, "id", where, &name);
    if (rc) break;
    if (!name) {
      rc = loader_fail(L->path, "%s: item %zu of the single template is neither a SpecialToken nor "
                "a Sequence.", where, i);
      break;
    }
    const json_value *entry = NULL, *ids = NULL;
    if (specials) {
      size_t count;
      entry = json_object_get(specials, name->as.string.text, &count);
    }
    if (!entry || entry->type != JSON_OBJECT ||
        (rc = loader_get(L->path, entry, "ids", where, &ids)) || !ids || ids->type != JSON_ARRAY) {
      if (!rc)
        rc = loader_fail(L->path, "%s: special token '%s' has no \"ids\" list in special_tokens.",
                  where, name->as.string.text);
      break;
    }
    for (size_t k = 0; k < ids->as.array.count && !rc; k++) {
      int32_t id;
      if ((rc = loader_as_id(L->path, ids->as.array.items[k], where, &id))) break;
      if ((size_t)id >= t->n_ids || !t->entries[id].used) {
        rc = loader_fail(L->path, "%s: special token '%s' has id %d, which is not in the "
                  "vocabulary.", where, name->as.string.text, id);
        break;
      }
      rc = seen_seq ? loader_append_ids(&post, &npost, &id, 1, false)
                    : loader_append_ids(&pre, &npre, &id, 1, false);
    }
  }
  if (!rc && !seen_seq) rc = loader_fail(L->path, "%s: the single template has no Sequence.", where);
  /* A later processor wraps what earlier ones made. */
  if (!rc && npre) rc = loader_append_ids(&t->prefix, &t->n_prefix, pre, npre, true);
  if (!rc && npost) rc = loader_append_ids(&t->suffix, &t->n_suffix, post, npost, false);
  free(pre);
  free(post);
  return rc;
}

int loader_parse_post(loader* L, const json_value* v, int depth, bool* has_template) {
  if (!v) return 0;
  const char* type;
  if (type_of(L, v, "post_processor", &type)) return 1;
  if (strcmp(type, "ByteLevel") == 0) return 0;
  if (strcmp(type, "TemplateProcessing") == 0) {
    *has_template = true;
    return parse_template(L, v);
  }
  if (strcmp(type, "Sequence") == 0 && depth < 8) {
    const json_value* list;
    if (loader_get(L->path, v, "processors", "post_processor", &list)) return 1;
    if (!list || list->type != JSON_ARRAY)
      return loader_fail(L->path, "the Sequence post_processor needs a \"processors\" list.");
    for (size_t i = 0; i < list->as.array.count; i++)
      if (loader_parse_post(L, list->as.array.items[i], depth + 1, has_template)) return 1;
    return 0;
  }
  return loader_fail(L->path, "post_processor type '%s' is not supported.", type);
}

