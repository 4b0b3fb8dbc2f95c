/* map.c - the mlx_map_string_to_array / mlx_map_string_to_string handles and
 * their iterators.
 *
 * Both maps share one container, `map`: an insertion-ordered array of
 * entries plus an open-addressing hash index over it, so that loading a
 * checkpoint with thousands of tensors stays linear. Keys are heap copies
 * owned by the map; values are held by reference (arrays) or copied
 * (strings), as the `map_kind` table says. Nothing is ever erased, so an
 * entry's position never changes: an iterator is just a position, and
 * inserting while iterating is safe (new keys show up at the end).
 * Setting a map handle replaces the contents of its existing map in place,
 * so copies of the handle struct see the change. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "mlx/c/map.h"

typedef struct map_kind {
  /* A new owned copy of a value (NULL when out of memory). */
  void* (*copy)(const void* value);
  void (*drop)(void* value);
} map_kind;

typedef struct map_entry {
  char* key;
  void* value; /* array* (one reference) or char* (owned) */
} map_entry;

/* Invariants: entries[0, count) are live, in insertion order, with distinct
 * keys. slots has n_slots entries (a power of two, > 2 * count once count >
 * 0); a slot holds 1 + the index of an entry, or 0 when free. */
typedef struct map {
  const map_kind* kind;
  size_t count;
  size_t cap;
  map_entry* entries;
  size_t n_slots;
  size_t* slots;
} map;

/* The position an iterator is at. */
typedef struct map_cursor {
  size_t pos;
} map_cursor;

static void* array_value_copy(const void* value) {
  array_retain((array*)value);
  return (void*)value;
}
static void array_value_drop(void* value) {
  array_release(value);
}
static const map_kind array_map_kind = {array_value_copy, array_value_drop};

static void* string_value_copy(const void* value) {
  size_t n = strlen(value) + 1;
  char* p = malloc(n);
  if (p) memcpy(p, value, n);
  return p;
}
static const map_kind string_map_kind = {string_value_copy, free};

/* FNV-1a. */
static uint64_t key_hash(const char* key) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char* p = (const unsigned char*)key; *p; p++)
    h = (h ^ *p) * 0x100000001b3ull;
  return h;
}

/* The slot where key lives, or the free slot where it would go. */
static size_t map_probe(const map* m, const char* key) {
  size_t mask = m->n_slots - 1;
  size_t i = (size_t)key_hash(key) & mask;
  while (m->slots[i] && strcmp(m->entries[m->slots[i] - 1].key, key) != 0)
    i = (i + 1) & mask;
  return i;
}

static map_entry* map_find(const map* m, const char* key) {
  if (m->count == 0) return NULL;
  size_t slot = m->slots[map_probe(m, key)];
  return slot ? &m->entries[slot - 1] : NULL;
}

static map* map_new(const map_kind* kind, const char* op) {
  map* m = calloc(1, sizeof *m);
  if (!m) {
    error_set("[%s] Out of memory.", op);
    return NULL;
  }
  m->kind = kind;
  return m;
}

static void map_free(map* m) {
  if (!m) return;
  for (size_t i = 0; i < m->count; i++) {
    free(m->entries[i].key);
    m->kind->drop(m->entries[i].value);
  }
  free(m->entries);
  free(m->slots);
  free(m);
}

/* Makes room for one more entry: grows the entry array and, past half
 * full, rebuilds the index at twice the size. */
static int map_reserve_one(map* m, const char* op) {
  if (m->count == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 8;
    map_entry* e = cap > SIZE_MAX / sizeof *e ? NULL
                                              : realloc(m->entries, cap * sizeof *e);
    if (!e) return error_set("[%s] Out of memory.", op);
    m->entries = e;
    m->cap = cap;
  }
  if (2 * (m->count + 1) < m->n_slots) return 0;
  size_t n = m->n_slots ? m->n_slots * 2 : 16;
  size_t* slots = n > SIZE_MAX / sizeof *slots ? NULL : calloc(n, sizeof *slots);
  if (!slots) return error_set("[%s] Out of memory.", op);
  free(m->slots);
  m->slots = slots;
  m->n_slots = n;
  for (size_t i = 0; i < m->count; i++)
    m->slots[map_probe(m, m->entries[i].key)] = i + 1;
  return 0;
}

/* Inserts a copy of value under key, replacing an existing value. */
static int map_insert(map* m, const char* key, const void* value,
                      const char* op) {
  map_entry* e = map_find(m, key);
  if (e) {
    /* Copy before dropping: value may be the one being replaced. */
    void* v = m->kind->copy(value);
    if (!v) return error_set("[%s] Out of memory.", op);
    m->kind->drop(e->value);
    e->value = v;
    return 0;
  }
  if (map_reserve_one(m, op)) return 1;
  size_t n = strlen(key) + 1;
  char* k = malloc(n);
  void* v = k ? m->kind->copy(value) : NULL;
  if (!v) {
    free(k);
    return error_set("[%s] Out of memory.", op);
  }
  memcpy(k, key, n);
  m->entries[m->count] = (map_entry){k, v};
  m->slots[map_probe(m, k)] = ++m->count;
  return 0;
}

/* A new map with copies of src's entries, or NULL. */
static map* map_copy(const map* src, const char* op) {
  map* m = map_new(src->kind, op);
  for (size_t i = 0; m && i < src->count; i++) {
    if (map_insert(m, src->entries[i].key, src->entries[i].value, op)) {
      map_free(m);
      m = NULL;
    }
  }
  return m;
}

/* Makes *ctx hold src's contents (a copy), keeping the address of an
 * existing map so that copies of the handle see the change. */
static int map_assign(void** ctx, const map* src, const char* op) {
  map* fresh = map_copy(src, op);
  if (!fresh) return 1;
  map* dst = *ctx;
  if (!dst) {
    *ctx = fresh;
    return 0;
  }
  map old = *dst;
  *dst = *fresh;
  *fresh = old;
  map_free(fresh);
  return 0;
}

static map* map_of(void* ctx, const char* op) {
  if (!ctx) error_set("[%s] The map handle is empty.", op);
  return ctx;
}

static int check_key(const char* key, const char* op) {
  return key ? 0 : error_set("[%s] The key is NULL.", op);
}

/* Advances an iterator: the entry at its position, or NULL at the end. */
static const map_entry* cursor_next(void* ctx, void* map_ctx, const char* op,
                                    int* failed) {
  const map* m = map_ctx;
  map_cursor* c = ctx;
  *failed = 0;
  if (!c || !m) {
    error_set("[%s] The iterator handle is empty.", op);
    *failed = 1;
    return NULL;
  }
  if (c->pos >= m->count) return NULL;
  return &m->entries[c->pos++];
}

static void* cursor_new(void* map_ctx, const char* op) {
  if (!map_of(map_ctx, op)) return NULL;
  map_cursor* c = calloc(1, sizeof *c);
  if (!c) error_set("[%s] Out of memory.", op);
  return c;
}

/* ---- string -> array ---- */

mlx_map_string_to_array mlx_map_string_to_array_new(void) {
  mlx_map_string_to_array h = {map_new(&array_map_kind, "map_string_to_array_new")};
  if (!h.ctx) api_fail();
  return h;
}

int mlx_map_string_to_array_set(mlx_map_string_to_array* map,
                                const mlx_map_string_to_array src) {
  const char* op = "map_string_to_array_set";
  if (!map) {
    error_set("[%s] The destination pointer is NULL.", op);
    return api_fail();
  }
  const struct map* s = map_of(src.ctx, op);
  if (!s || map_assign(&map->ctx, s, op)) return api_fail();
  return 0;
}

int mlx_map_string_to_array_free(mlx_map_string_to_array map) {
  map_free(map.ctx);
  return 0;
}

int mlx_map_string_to_array_insert(mlx_map_string_to_array map,
                                   const char* key, const mlx_array value) {
  const char* op = "map_string_to_array_insert";
  struct map* m = map_of(map.ctx, op);
  if (!m || check_key(key, op) || api_check_array(value, op, "value") ||
      map_insert(m, key, value.ctx, op))
    return api_fail();
  return 0;
}

int mlx_map_string_to_array_get(mlx_array* value,
                                const mlx_map_string_to_array map,
                                const char* key) {
  const char* op = "map_string_to_array_get";
  API_CHECK_RES(value, op);
  const struct map* m = map_of(map.ctx, op);
  if (!m || check_key(key, op)) return api_fail();
  const map_entry* e = map_find(m, key);
  if (!e) return 2;
  array_retain(e->value);
  return api_set_result(value, e->value);
}

mlx_map_string_to_array_iterator mlx_map_string_to_array_iterator_new(
    mlx_map_string_to_array map) {
  mlx_map_string_to_array_iterator it = {
      cursor_new(map.ctx, "map_string_to_array_iterator_new"), map.ctx};
  if (!it.ctx) {
    api_fail();
    it.map_ctx = NULL;
  }
  return it;
}

int mlx_map_string_to_array_iterator_free(mlx_map_string_to_array_iterator it) {
  free(it.ctx);
  return 0;
}

int mlx_map_string_to_array_iterator_next(const char** key, mlx_array* value,
                                          mlx_map_string_to_array_iterator it) {
  const char* op = "map_string_to_array_iterator_next";
  API_CHECK_RES(key && value, op);
  int failed;
  const map_entry* e = cursor_next(it.ctx, it.map_ctx, op, &failed);
  if (failed) return api_fail();
  if (!e) return 2;
  *key = e->key;
  array_retain(e->value);
  return api_set_result(value, e->value);
}

/* ---- string -> string ---- */

mlx_map_string_to_string mlx_map_string_to_string_new(void) {
  mlx_map_string_to_string h = {
      map_new(&string_map_kind, "map_string_to_string_new")};
  if (!h.ctx) api_fail();
  return h;
}

int mlx_map_string_to_string_set(mlx_map_string_to_string* map,
                                 const mlx_map_string_to_string src) {
  const char* op = "map_string_to_string_set";
  if (!map) {
    error_set("[%s] The destination pointer is NULL.", op);
    return api_fail();
  }
  const struct map* s = map_of(src.ctx, op);
  if (!s || map_assign(&map->ctx, s, op)) return api_fail();
  return 0;
}

int mlx_map_string_to_string_free(mlx_map_string_to_string map) {
  map_free(map.ctx);
  return 0;
}

int mlx_map_string_to_string_insert(mlx_map_string_to_string map,
                                    const char* key, const char* value) {
  const char* op = "map_string_to_string_insert";
  struct map* m = map_of(map.ctx, op);
  if (!m || check_key(key, op)) return api_fail();
  if (!value) {
    error_set("[%s] The value is NULL.", op);
    return api_fail();
  }
  return map_insert(m, key, value, op) ? api_fail() : 0;
}

int mlx_map_string_to_string_get(const char** value,
                                 const mlx_map_string_to_string map,
                                 const char* key) {
  const char* op = "map_string_to_string_get";
  API_CHECK_RES(value, op);
  const struct map* m = map_of(map.ctx, op);
  if (!m || check_key(key, op)) return api_fail();
  const map_entry* e = map_find(m, key);
  if (!e) return 2;
  *value = e->value;
  return 0;
}

mlx_map_string_to_string_iterator mlx_map_string_to_string_iterator_new(
    mlx_map_string_to_string map) {
  mlx_map_string_to_string_iterator it = {
      cursor_new(map.ctx, "map_string_to_string_iterator_new"), map.ctx};
  if (!it.ctx) {
    api_fail();
    it.map_ctx = NULL;
  }
  return it;
}

int mlx_map_string_to_string_iterator_free(
    mlx_map_string_to_string_iterator it) {
  free(it.ctx);
  return 0;
}

int mlx_map_string_to_string_iterator_next(
    const char** key, const char** value,
    mlx_map_string_to_string_iterator it) {
  const char* op = "map_string_to_string_iterator_next";
  API_CHECK_RES(key && value, op);
  int failed;
  const map_entry* e = cursor_next(it.ctx, it.map_ctx, op, &failed);
  if (failed) return api_fail();
  if (!e) return 2;
  *key = e->key;
  *value = e->value;
  return 0;
}
