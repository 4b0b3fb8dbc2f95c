/* shards.c - checkpoints split over several safetensors files, loaded as
 * one set of tensors (see shards.h for what a path may name).
 *
 * Loading happens in three steps. A plan says which shard files to read
 * and, when there is an index, which shard must hold each tensor; it is
 * built from the index's "weight_map" (other members, such as "metadata"
 * with its total_size, are not used) or from a directory listing. Then
 * every shard is loaded with safetensors_load_file, so each keeps its own
 * mapping and the tensors borrow it: nothing is copied, whatever the total
 * size. Last, the tensors are sorted by name and checked against each other
 * and against the index: a name in two shards, a listed tensor its shard
 * lacks, a tensor in another shard than the index says, and a tensor the
 * index does not list are all errors. The shards' "__metadata__" entries
 * are merged; a key with different values in two shards is an error too.
 *
 * Shards are read in the order of their sorted file names, and checks run
 * in the order of sorted tensor names, so the first error reported does not
 * depend on the order of a directory listing or of the index. Shard names
 * in an index must stay inside the index's directory (no absolute paths,
 * no ".." components). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/json.h"
#include "io/shards.h"

#define OP "[load_safetensors_dir] "
#define INDEX_NAME "model.safetensors.index.json"
#define INDEX_SUFFIX ".safetensors.index.json"
#define SHARD_SUFFIX ".safetensors"
/* An index lists names and file names only: 100 MB is far beyond any. */
#define MAX_INDEX_BYTES 100000000ull

static int out_of_memory(void) {
  return error_set(OP "Out of memory.");
}

static bool ends_with(const char* s, const char* suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* dir + "/" + name (malloc'd), or NULL after error_set. */
static char* join_path(const char* dir, const char* name) {
  size_t a = strlen(dir), b = strlen(name);
  char* p = malloc(a + b + 2);
  if (!p) {
    out_of_memory();
    return NULL;
  }
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

static int cmp_strings(const void* a, const void* b) {
  return strcmp(*(const char* const*)a, *(const char* const*)b);
}

/* ---- the plan ---- */

/* A tensor the index lists: its name (in the index document) and the
 * position of its shard in plan.shards. */
typedef struct listed_tensor {
  const char* name;
  size_t shard;
} listed_tensor;

/* Invariant: shards is sorted and holds no name twice; listed (NULL without
 * an index) is sorted by name, and every shard in it is in shards. */
typedef struct shard_plan {
  char* dir;        /* the directory shard names are relative to */
  char* index;      /* the index file's path, NULL without one */
  json_doc doc;     /* the parsed index; listed[].name points into it */
  size_t n_shards;
  char** shards;
  size_t n_listed;
  listed_tensor* listed;
} shard_plan;

static void plan_free(shard_plan* p) {
  free(p->dir);
  free(p->index);
  if (p->doc.root) json_doc_free(&p->doc);
  for (size_t i = 0; i < p->n_shards; i++) free(p->shards[i]);
  free(p->shards);
  free(p->listed);
  memset(p, 0, sizeof *p);
}

/* The whole index file, NUL-terminated (malloc'd); its length in *len. */
static char* read_index(const char* path, size_t* len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error_set(OP "Failed to open index file %s%s%s.", path,
              fd < 0 ? ": " : " (not a regular file)", fd < 0 ? strerror(errno) : "");
    if (fd >= 0) close(fd);
    return NULL;
  }
  if ((unsigned long long)st.st_size > MAX_INDEX_BYTES) {
    error_set(OP "Index file %s is %llu bytes long, more than the %llu an index "
              "may have.", path, (unsigned long long)st.st_size, MAX_INDEX_BYTES);
    close(fd);
    return NULL;
  }
  size_t n = (size_t)st.st_size, got = 0;
  char* text = malloc(n + 1);
  if (!text) {
    out_of_memory();
    close(fd);
    return NULL;
  }
  while (got < n) {
    ssize_t m = read(fd, text + got, n - got);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) break;
    got += (size_t)m;
  }
  close(fd);
  if (got != n) {
    error_set(OP "Unable to read index file %s.", path);
    free(text);
    return NULL;
  }
  text[n] = 0;
  *len = n;
  return text;
}

/* A shard name must name a file below the index's directory. */
static bool shard_name_ok(const json_value* v) {
  const char* s = v->as.string.text;
  if (v->as.string.len == 0 || strlen(s) != v->as.string.len || s[0] == '/')
    return false;
  for (const char* c = s; *c;) {
    size_t k = strcspn(c, "/");
    if (k == 2 && c[0] == '.' && c[1] == '.') return false;
    c += k + (c[k] == '/');
  }
  return true;
}

static int cmp_listed(const void* a, const void* b) {
  return strcmp(((const listed_tensor*)a)->name, ((const listed_tensor*)b)->name);
}

/* Reads the index's weight map into p->listed and p->shards. */
static int plan_weight_map(shard_plan* p) {
  const char* index = p->index;
  const json_value* root = p->doc.root;
  if (root->type != JSON_OBJECT)
    return error_set(OP "Index file %s must hold a JSON object.", index);
  size_t count;
  const json_value* map = json_object_get(root, "weight_map", &count);
  if (!map) return error_set(OP "Index file %s has no \"weight_map\" entry.", index);
  if (count > 1)
    return error_set(OP "Index file %s has more than one \"weight_map\" entry.", index);
  if (map->type != JSON_OBJECT)
    return error_set(OP "The \"weight_map\" of index file %s must be an object.", index);

  size_t n = map->as.object.count;
  p->listed = malloc((n ? n : 1) * sizeof *p->listed);
  char** names = malloc((n ? n : 1) * sizeof *names); /* borrowed from doc */
  if (!p->listed || !names) {
    free(names);
    return out_of_memory();
  }
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const json_member* m = &map->as.object.members[i];
    if (strlen(m->key) != m->key_len)
      rc = error_set(OP "A tensor name in index file %s contains a NUL character.", index);
    else if (m->value->type != JSON_STRING)
      rc = error_set(OP "The shard of tensor '%s' in index file %s must be a "
                     "string.", m->key, index);
    else if (!shard_name_ok(m->value))
      rc = error_set(OP "The shard of tensor '%s' in index file %s, '%s', must be "
                     "a file name relative to the index's directory.", m->key,
                     index, m->value->as.string.text);
    p->listed[i] = (listed_tensor){m->key, 0};
    names[i] = (char*)(rc ? "" : m->value->as.string.text);
  }
  if (rc) {
    free(names);
    return 1;
  }
  p->n_listed = n;

  /* the shards: the distinct file names, sorted */
  qsort(names, n, sizeof *names, cmp_strings);
  size_t n_shards = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || strcmp(names[i], names[i - 1]) != 0) names[n_shards++] = names[i];
  p->shards = calloc(n_shards ? n_shards : 1, sizeof *p->shards);
  for (size_t i = 0; p->shards && i < n_shards; i++) {
    if (!(p->shards[i] = strdup(names[i]))) break;
    p->n_shards = i + 1;
  }
  free(names);
  if (p->n_shards != n_shards) return out_of_memory();
  for (size_t i = 0; i < n; i++) {
    const char* shard = map->as.object.members[i].value->as.string.text;
    char** at = bsearch(&shard, p->shards, n_shards, sizeof *p->shards, cmp_strings);
    p->listed[i].shard = (size_t)(at - p->shards);
  }

  qsort(p->listed, n, sizeof *p->listed, cmp_listed);
  for (size_t i = 1; i < n; i++)
    if (strcmp(p->listed[i].name, p->listed[i - 1].name) == 0)
      return error_set(OP "Tensor '%s' is listed more than once in index file %s.",
                       p->listed[i].name, index);
  return 0;
}

/* A plan from the index file at index_path (consumed). */
static int plan_from_index(char* index_path, shard_plan* p) {
  p->index = index_path;
  const char* slash = strrchr(index_path, '/');
  p->dir = slash ? strndup(index_path, (size_t)(slash - index_path + (slash == index_path)))
                 : strdup(".");
  if (!p->dir) return out_of_memory();
  size_t len;
  char* text = read_index(index_path, &len);
  if (!text) return 1;
  json_error jerr;
  int rc = json_parse(text, len, &p->doc, &jerr);
  free(text);
  if (rc)
    return error_set(OP "Invalid JSON in index file %s: %s at byte %zu.", index_path,
                     jerr.what, jerr.pos);
  return plan_weight_map(p);
}

/* Whether name in the open directory d is a regular file (or a link to
 * one: the Hugging Face cache links its snapshots to blobs). */
static bool is_regular_file(DIR* d, const char* name) {
  struct stat st;
  return fstatat(dirfd(d), name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

/* Appends a copy of name to a growing list. */
static int push_name(char*** list, size_t* n, size_t* cap, const char* name) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 8;
    char** grown = realloc(*list, c * sizeof *grown);
    if (!grown) return out_of_memory();
    *list = grown;
    *cap = c;
  }
  if (!((*list)[*n] = strdup(name))) return out_of_memory();
  (*n)++;
  return 0;
}

static void free_names(char** list, size_t n) {
  for (size_t i = 0; i < n; i++) free(list[i]);
  free(list);
}

/* A plan for a directory: its index if it has one, else all its shards. */
static int plan_from_directory(const char* path, shard_plan* p) {
  DIR* d = opendir(path);
  if (!d)
    return error_set(OP "Failed to open directory %s: %s.", path, strerror(errno));
  char** indexes = NULL;
  size_t n_indexes = 0, cap_indexes = 0, cap_shards = 0;
  int rc = 0;
  for (struct dirent* e; !rc && (e = readdir(d));) {
    bool index = ends_with(e->d_name, INDEX_SUFFIX);
    if (!index && !ends_with(e->d_name, SHARD_SUFFIX)) continue;
    if (!is_regular_file(d, e->d_name)) continue;
    rc = index ? push_name(&indexes, &n_indexes, &cap_indexes, e->d_name)
               : push_name(&p->shards, &p->n_shards, &cap_shards, e->d_name);
  }
  closedir(d);
  if (!rc && n_indexes) {
    qsort(indexes, n_indexes, sizeof *indexes, cmp_strings);
    const char* chosen = n_indexes == 1 ? indexes[0] : NULL;
    for (size_t i = 0; i < n_indexes; i++)
      if (strcmp(indexes[i], INDEX_NAME) == 0) chosen = indexes[i];
    if (!chosen) {
      rc = error_set(OP "Directory %s holds %zu index files (%s, %s, ...) and none "
                     "is named " INDEX_NAME "; pass the one to load.", path,
                     n_indexes, indexes[0], indexes[1]);
    } else {
      free_names(p->shards, p->n_shards);
      p->shards = NULL;
      p->n_shards = 0;
      char* index_path = join_path(path, chosen);
      rc = index_path ? plan_from_index(index_path, p) : 1;
    }
  } else if (!rc) {
    if (!p->n_shards)
      rc = error_set(OP "Directory %s holds no " INDEX_NAME " and no .safetensors file.",
                     path);
    else if (!(p->dir = strdup(path)))
      rc = out_of_memory();
    else
      qsort(p->shards, p->n_shards, sizeof *p->shards, cmp_strings);
  }
  free_names(indexes, n_indexes);
  return rc;
}

/* ---- loading and checking ---- */

/* The first tensor (by name) the index puts in shard s. */
static const char* first_listed_in(const shard_plan* p, size_t s) {
  for (size_t i = 0; i < p->n_listed; i++)
    if (p->listed[i].shard == s) return p->listed[i].name;
  return "";
}

/* Loads every shard of the plan into loaded[] (n_shards entries). */
static int load_shards(const shard_plan* p, io_contents* loaded) {
  for (size_t s = 0; s < p->n_shards; s++) {
    char* path = join_path(p->dir, p->shards[s]);
    if (!path) return 1;
    struct stat st;
    int rc = 0;
    if (p->index && stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
      rc = error_set(OP "Shard %s is missing: index file %s lists tensor '%s' in it.",
                     path, p->index, first_listed_in(p, s));
    else
      rc = safetensors_load_file(path, &loaded[s]);
    free(path);
    if (rc) return 1;
  }
  return 0;
}

/* One loaded tensor: its name and where it is (loaded[shard], slot). */
typedef struct found_tensor {
  const char* name;
  size_t shard, slot;
} found_tensor;

static int cmp_found(const void* a, const void* b) {
  const found_tensor* x = a;
  const found_tensor* y = b;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  return (x->shard > y->shard) - (x->shard < y->shard);
}

/* Checks the sorted tensors against each other and the index. */
static int check_tensors(const shard_plan* p, const found_tensor* f, size_t n) {
  char* const* shards = p->shards;
  for (size_t i = 1; i < n; i++)
    if (strcmp(f[i].name, f[i - 1].name) == 0)
      return error_set(OP "Tensor '%s' is in both shard %s and shard %s.", f[i].name,
                       shards[f[i - 1].shard], shards[f[i].shard]);
  if (!p->index) return 0;
  size_t i = 0, j = 0;
  while (i < p->n_listed || j < n) {
    const listed_tensor* l = i < p->n_listed ? &p->listed[i] : NULL;
    int c = !l ? 1 : j == n ? -1 : strcmp(l->name, f[j].name);
    if (c < 0)
      return error_set(OP "Tensor '%s' is listed in index file %s under shard %s, "
                       "which does not contain it.", l->name, p->index,
                       shards[l->shard]);
    if (c > 0)
      return error_set(OP "Shard %s holds tensor '%s', which index file %s does not "
                       "list.", shards[f[j].shard], f[j].name, p->index);
    if (l->shard != f[j].shard)
      return error_set(OP "Tensor '%s' is listed in index file %s under shard %s "
                       "but is in shard %s.", l->name, p->index, shards[l->shard],
                       shards[f[j].shard]);
    i++;
    j++;
  }
  return 0;
}

/* One metadata entry of a shard. */
typedef struct meta_entry {
  const char* key;
  const char* value;
  size_t shard, slot;
} meta_entry;

static int cmp_meta(const void* a, const void* b) {
  const meta_entry* x = a;
  const meta_entry* y = b;
  int c = strcmp(x->key, y->key);
  if (c) return c;
  if (x->shard != y->shard) return x->shard < y->shard ? -1 : 1;
  return (x->slot > y->slot) - (x->slot < y->slot);
}

/* Sorts the metadata entries by key and keeps the first of each key in
 * m[0, *kept); a key whose values differ is an error. */
static int merge_metadata(const shard_plan* p, meta_entry* m, size_t n, size_t* kept) {
  qsort(m, n, sizeof *m, cmp_meta);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k && strcmp(m[k - 1].key, m[i].key) == 0) {
      if (strcmp(m[k - 1].value, m[i].value) != 0)
        return error_set(OP "Metadata '%s' is '%s' in shard %s but '%s' in shard %s.",
                         m[i].key, m[k - 1].value, p->shards[m[k - 1].shard],
                         m[i].value, p->shards[m[i].shard]);
      continue;
    }
    m[k++] = m[i];
  }
  *kept = k;
  return 0;
}

/* Moves the tensors and metadata of loaded[] into out. */
static int merge(const shard_plan* p, io_contents* loaded, io_contents* out) {
  size_t n = 0, n_meta = 0;
  for (size_t s = 0; s < p->n_shards; s++) {
    n += loaded[s].n_arrays;
    n_meta += loaded[s].n_meta;
  }
  found_tensor* f = malloc((n ? n : 1) * sizeof *f);
  meta_entry* m = malloc((n_meta ? n_meta : 1) * sizeof *m);
  out->names = malloc((n ? n : 1) * sizeof *out->names);
  out->arrays = malloc((n ? n : 1) * sizeof *out->arrays);
  out->meta_keys = malloc((n_meta ? n_meta : 1) * sizeof *out->meta_keys);
  out->meta_values = malloc((n_meta ? n_meta : 1) * sizeof *out->meta_values);
  int rc = 1;
  size_t kept = 0;
  if (!f || !m || !out->names || !out->arrays || !out->meta_keys || !out->meta_values) {
    out_of_memory();
    goto done;
  }
  size_t k = 0, km = 0;
  for (size_t s = 0; s < p->n_shards; s++) {
    for (size_t i = 0; i < loaded[s].n_arrays; i++)
      f[k++] = (found_tensor){loaded[s].names[i], s, i};
    for (size_t i = 0; i < loaded[s].n_meta; i++)
      m[km++] = (meta_entry){loaded[s].meta_keys[i], loaded[s].meta_values[i], s, i};
  }
  qsort(f, n, sizeof *f, cmp_found);
  if (check_tensors(p, f, n) || merge_metadata(p, m, n_meta, &kept)) goto done;
  /* move: what stays behind in loaded[] is NULL and frees as nothing */
  for (size_t i = 0; i < n; i++) {
    io_contents* c = &loaded[f[i].shard];
    out->names[i] = c->names[f[i].slot];
    out->arrays[i] = c->arrays[f[i].slot];
    c->names[f[i].slot] = NULL;
    c->arrays[f[i].slot] = NULL;
  }
  out->n_arrays = n;
  for (size_t i = 0; i < kept; i++) {
    io_contents* c = &loaded[m[i].shard];
    out->meta_keys[i] = c->meta_keys[m[i].slot];
    out->meta_values[i] = c->meta_values[m[i].slot];
    c->meta_keys[m[i].slot] = NULL;
    c->meta_values[m[i].slot] = NULL;
  }
  out->n_meta = kept;
  rc = 0;
done:
  free(f);
  free(m);
  if (rc) io_contents_free(out);
  return rc;
}

int shards_load(const char* path, io_contents* out) {
  memset(out, 0, sizeof *out);
  struct stat st;
  if (stat(path, &st) != 0)
    return error_set(OP "Failed to open %s: %s.", path, strerror(errno));
  shard_plan p;
  memset(&p, 0, sizeof p);
  int rc;
  if (S_ISDIR(st.st_mode)) {
    rc = plan_from_directory(path, &p);
  } else if (ends_with(path, ".json")) {
    char* index = strdup(path);
    rc = index ? plan_from_index(index, &p) : out_of_memory();
  } else {
    return safetensors_load_file(path, out);
  }
  io_contents* loaded = NULL;
  if (!rc) {
    loaded = calloc(p.n_shards ? p.n_shards : 1, sizeof *loaded);
    rc = loaded ? load_shards(&p, loaded) : out_of_memory();
  }
  if (!rc) rc = merge(&p, loaded, out);
  for (size_t s = 0; loaded && s < p.n_shards; s++) io_contents_free(&loaded[s]);
  free(loaded);
  plan_free(&p);
  return rc;
}
