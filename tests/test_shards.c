/* test_shards.c - sharded safetensors checkpoints (cmlx/io.h).
 *
 * Proves: a checkpoint written here with mlx_save_safetensors as several
 * shards plus a model.safetensors.index.json loads as one map, through the
 * directory and through the index, with every dtype, 0-d and empty tensors
 * and random shapes, byte for byte, each tensor borrowing its shard's
 * mapping (no copy) and outliving the maps and the files; the shards'
 * metadata is merged; a directory without an index loads its one or several
 * .safetensors files; a plain file loads as mlx_load_safetensors loads it;
 * the index is chosen by name when a directory has several; shard names may
 * name subdirectories. Every error has its exact message: missing shard,
 * listed tensor absent from its shard or in another one, tensor the index
 * does not list, the same tensor in two shards, conflicting metadata,
 * malformed index JSON and each malformed weight map, shard names leaving
 * the directory, empty or ambiguous directories, a malformed shard, bad
 * arguments; after an error the caller's maps are untouched. */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/io.h"
#include "core/array.h"
#include "harness.h"
#include "safetensors_util.h"

/* root/name (static buffers, rotating). */
static const char* path_in(const char* dir, const char* name) {
  static char bufs[8][600];
  static int next;
  char* b = bufs[next++ & 7];
  snprintf(b, 600, "%.300s/%.290s", dir, name);
  return b;
}

/* A fresh directory root/name; returns its path (static buffer, rotating). */
static const char* new_dir(const char* name) {
  static char bufs[4][300];
  static int next;
  char* b = bufs[next++ & 3];
  snprintf(b, 300, "%.63s/%.200s", tmp_dir, name);
  CHECK_MSG(mkdir(b, 0755) == 0, "mkdir %s", b);
  return b;
}

static void write_text(const char* path, const char* text) {
  FILE* f = fopen(path, "wb");
  CHECK_MSG(f != NULL, "fopen %s", path);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static int remove_entry(const char* path, const struct stat* st, int flag,
                        struct FTW* ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void remove_tree(const char* path) {
  nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static size_t meta_count(mlx_map_string_to_string m) {
  mlx_map_string_to_string_iterator it = mlx_map_string_to_string_iterator_new(m);
  const char *k, *v;
  size_t n = 0;
  while (mlx_map_string_to_string_iterator_next(&k, &v, it) == 0) n++;
  mlx_map_string_to_string_iterator_free(it);
  return n;
}

static bool meta_is(mlx_map_string_to_string m, const char* key, const char* want) {
  const char* v = NULL;
  return mlx_map_string_to_string_get(&v, m, key) == 0 && v && strcmp(v, want) == 0;
}

/* ---- a checkpoint made up here ---- */

#define MAX_TENSORS 40

typedef struct tensor {
  char name[64];
  mlx_dtype dtype;
  int ndim;
  int shape[4];
  unsigned char* bytes;
  size_t nbytes;
  int shard;
} tensor;

typedef struct checkpoint {
  int n, n_shards;
  tensor t[MAX_TENSORS];
} checkpoint;

/* n tensors over n_shards shards: every dtype, a 0-d and an empty tensor,
 * the rest random shapes; random bytes (bools 0/1). */
static void ckpt_make(checkpoint* c, int n, int n_shards) {
  c->n = n;
  c->n_shards = n_shards;
  for (int i = 0; i < n; i++) {
    tensor* t = &c->t[i];
    snprintf(t->name, sizeof t->name, "model.layers.%d.w%d", i / 3, i % 3);
    t->dtype = all_dtypes[i % N_DTYPES];
    t->ndim = i == 1 ? 0 : 1 + (int)test_rand(0, 4);
    size_t count = 1;
    for (int d = 0; d < t->ndim; d++) {
      t->shape[d] = i == 2 && d == 0 ? 0 : 1 + (int)test_rand(0, 7);
      count *= (size_t)t->shape[d];
    }
    t->nbytes = count * mlx_dtype_size(t->dtype);
    t->bytes = malloc(t->nbytes ? t->nbytes : 1);
    for (size_t b = 0; b < t->nbytes; b++)
      t->bytes[b] = t->dtype == MLX_BOOL ? (unsigned char)(test_rand(0, 2) >= 1)
                                         : (unsigned char)test_rand(0, 256);
    t->shard = (int)test_rand(0, n_shards);
  }
  for (int s = 0; s < n_shards && s < n; s++) c->t[s].shard = s; /* none empty */
}

static void ckpt_free(checkpoint* c) {
  for (int i = 0; i < c->n; i++) free(c->t[i].bytes);
}

static void shard_name(char* out, size_t size, int s, int n_shards) {
  snprintf(out, size, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
}

/* Saves shard s of c into dir under file (metadata: format=mlx and
 * shard=<s>, unless plain). */
static void ckpt_save_shard(const checkpoint* c, int s, const char* dir,
                            const char* file, bool plain) {
  mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  for (int i = 0; i < c->n; i++) {
    const tensor* t = &c->t[i];
    if (t->shard != s) continue;
    mlx_array a = mlx_array_new_data(t->bytes, t->shape, t->ndim, t->dtype);
    CHECK_OK(mlx_map_string_to_array_insert(arrays, t->name, a));
    mlx_array_free(a);
  }
  if (!plain) {
    char value[16];
    snprintf(value, sizeof value, "%d", s);
    CHECK_OK(mlx_map_string_to_string_insert(meta, "format", "mlx"));
    CHECK_OK(mlx_map_string_to_string_insert(meta, "shard", value));
  }
  CHECK_OK(mlx_save_safetensors(path_in(dir, file), arrays, meta));
  mlx_map_string_to_array_free(arrays);
  mlx_map_string_to_string_free(meta);
}

/* Writes all shards, and the index (as MLX-LM writes it) when index_name is
 * not NULL. Shard metadata differs per shard unless plain. */
static void ckpt_write(const checkpoint* c, const char* dir, const char* index_name,
                       bool plain) {
  char file[64];
  for (int s = 0; s < c->n_shards; s++) {
    shard_name(file, sizeof file, s, c->n_shards);
    ckpt_save_shard(c, s, dir, file, plain);
  }
  if (!index_name) return;
  size_t total = 0;
  char* text = malloc(64 + (size_t)c->n * 160);
  int len = sprintf(text, "{\n  \"metadata\": {\"total_size\": ");
  for (int i = 0; i < c->n; i++) total += c->t[i].nbytes;
  len += sprintf(text + len, "%zu},\n  \"weight_map\": {", total);
  for (int i = c->n - 1; i >= 0; i--) { /* any order will do */
    shard_name(file, sizeof file, c->t[i].shard, c->n_shards);
    len += sprintf(text + len, "\n    \"%s\": \"%s\"%s", c->t[i].name, file,
                   i ? "," : "");
  }
  sprintf(text + len, "\n  }\n}\n");
  write_text(path_in(dir, index_name), text);
  free(text);
}

/* Whether m holds exactly c's tensors, byte for byte, each borrowing its
 * file's mapping. */
static void ckpt_check(const checkpoint* c, mlx_map_string_to_array m, const char* what) {
  CHECK_MSG(map_count(m) == (size_t)c->n, "%s: %zu tensors, expected %d", what,
            map_count(m), c->n);
  for (int i = 0; i < c->n; i++) {
    const tensor* t = &c->t[i];
    mlx_array a = get(m, t->name);
    CHECK_MSG(a.ctx != NULL, "%s: %s missing", what, t->name);
    if (!a.ctx) continue;
    CHECK_MSG(mlx_array_dtype(a) == t->dtype, "%s: %s dtype", what, t->name);
    CHECK_MSG(test_shape_is(a, t->shape, t->ndim), "%s: %s shape", what, t->name);
    CHECK(mlx_array_nbytes(a) == t->nbytes);
    const array* in = a.ctx;
    CHECK_MSG(t->nbytes == 0 || (in->buf->external &&
                                 memcmp(array_data(in), t->bytes, t->nbytes) == 0),
              "%s: %s bytes differ or were copied", what, t->name);
    mlx_array_free(a);
  }
}

/* Loads path into fresh maps (which the caller frees); rc in *rc. */
static int load(const char* path, mlx_map_string_to_array* m, mlx_map_string_to_string* meta) {
  *m = mlx_map_string_to_array_new();
  *meta = mlx_map_string_to_string_new();
  return cmlx_load_safetensors_dir(m, meta, path, test_stream);
}

static void free_maps(mlx_map_string_to_array m, mlx_map_string_to_string meta) {
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(meta);
}

/* ---- loading ---- */

static void test_sharded_checkpoint_loads_as_one_map(void) {
  checkpoint c;
  ckpt_make(&c, 37, 3);
  const char* dir = new_dir("sharded");
  ckpt_write(&c, dir, "model.safetensors.index.json", true);
  mlx_map_string_to_array m;
  mlx_map_string_to_string meta;

  CHECK_OK(load(dir, &m, &meta));
  ckpt_check(&c, m, "directory");
  CHECK(meta_count(meta) == 0);
  free_maps(m, meta);

  CHECK_OK(load(path_in(dir, "model.safetensors.index.json"), &m, &meta));
  ckpt_check(&c, m, "index");
  free_maps(m, meta);

  /* a trailing slash names the same directory */
  char slashed[400];
  snprintf(slashed, sizeof slashed, "%s/", dir);
  CHECK_OK(load(slashed, &m, &meta));
  ckpt_check(&c, m, "directory/");

  /* tensors keep their shard's mapping alive after the maps and the files
   * are gone */
  mlx_array kept = get(m, c.t[0].name);
  free_maps(m, meta);
  remove_tree(dir);
  CHECK(kept.ctx && memcmp(array_data(kept.ctx), c.t[0].bytes, c.t[0].nbytes) == 0);
  mlx_array sum = mlx_array_new();
  CHECK_OK(mlx_sum(&sum, kept, false, test_stream));
  CHECK_OK(mlx_array_eval(sum));
  mlx_array_free(sum);
  mlx_array_free(kept);
  ckpt_free(&c);
}

static void test_metadata_merges(void) {
  checkpoint c;
  ckpt_make(&c, 6, 2);
  const char* dir = new_dir("meta");
  /* shard 0: format=mlx, shard=0, common=yes; shard 1: format=mlx, common=yes */
  ckpt_write(&c, dir, "model.safetensors.index.json", true);
  for (int s = 0; s < 2; s++) {
    char file[64];
    shard_name(file, sizeof file, s, 2);
    mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
    mlx_map_string_to_string meta = mlx_map_string_to_string_new();
    CHECK_OK(mlx_load_safetensors(&arrays, &meta, path_in(dir, file), test_stream));
    CHECK_OK(mlx_map_string_to_string_insert(meta, "format", "mlx"));
    CHECK_OK(mlx_map_string_to_string_insert(meta, "common", "yes"));
    if (s == 0) CHECK_OK(mlx_map_string_to_string_insert(meta, "only0", "zero"));
    CHECK_OK(mlx_save_safetensors(path_in(dir, file), arrays, meta));
    free_maps(arrays, meta);
  }
  mlx_map_string_to_array m;
  mlx_map_string_to_string meta;
  CHECK_OK(load(dir, &m, &meta));
  ckpt_check(&c, m, "metadata");
  CHECK(meta_count(meta) == 3);
  CHECK(meta_is(meta, "format", "mlx"));
  CHECK(meta_is(meta, "common", "yes"));
  CHECK(meta_is(meta, "only0", "zero"));
  free_maps(m, meta);

  /* one key, two values */
  ckpt_save_shard(&c, 0, dir, "model-00001-of-00002.safetensors", false);
  ckpt_save_shard(&c, 1, dir, "model-00002-of-00002.safetensors", false);
  char want[256];
  snprintf(want, sizeof want, "[load_safetensors_dir] Metadata 'shard' is '0' in "
           "shard model-00001-of-00002.safetensors but '1' in shard "
           "model-00002-of-00002.safetensors.");
  mlx_map_string_to_array m2 = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta2 = mlx_map_string_to_string_new();
  EXPECT_ERROR(cmlx_load_safetensors_dir(&m2, &meta2, dir, test_stream), want);
  free_maps(m2, meta2);
  ckpt_free(&c);
}

static void test_directory_without_index(void) {
  checkpoint c;
  ckpt_make(&c, 9, 1);
  const char* dir = new_dir("single");
  ckpt_save_shard(&c, 0, dir, "model.safetensors", false);
  write_text(path_in(dir, "config.json"), "{\"not\": \"an index\"}");
  write_text(path_in(dir, "README.md"), "hello");
  CHECK(mkdir(path_in(dir, "sub.safetensors"), 0755) == 0); /* not a file: skipped */
  mlx_map_string_to_array m;
  mlx_map_string_to_string meta;
  CHECK_OK(load(dir, &m, &meta));
  ckpt_check(&c, m, "model.safetensors");
  CHECK(meta_count(meta) == 2 && meta_is(meta, "format", "mlx") && meta_is(meta, "shard", "0"));
  free_maps(m, meta);

  /* a single file loads as mlx_load_safetensors loads it */
  CHECK_OK(load(path_in(dir, "model.safetensors"), &m, &meta));
  ckpt_check(&c, m, "file");
  CHECK(meta_count(meta) == 2);
  free_maps(m, meta);
  ckpt_free(&c);

  /* several files, no index: all of them */
  checkpoint d;
  ckpt_make(&d, 12, 3);
  const char* many = new_dir("many");
  ckpt_write(&d, many, NULL, true);
  CHECK_OK(load(many, &m, &meta));
  ckpt_check(&d, m, "no index");
  free_maps(m, meta);

  /* ... and the same name in two of them is an error */
  ckpt_save_shard(&d, 1, many, "extra.safetensors", true);
  mlx_map_string_to_array m2 = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta2 = mlx_map_string_to_string_new();
  char want[256];
  snprintf(want, sizeof want, "[load_safetensors_dir] Tensor '%s' is in both shard "
           "extra.safetensors and shard model-00002-of-00003.safetensors.", d.t[1].name);
  EXPECT_ERROR(cmlx_load_safetensors_dir(&m2, &meta2, many, test_stream), want);
  free_maps(m2, meta2);
  ckpt_free(&d);
}

static void test_index_choice_and_subdirectories(void) {
  checkpoint c;
  ckpt_make(&c, 5, 2);
  const char* dir = new_dir("choice");
  ckpt_write(&c, dir, "model.safetensors.index.json", true);
  /* another index naming a shard that does not exist: not chosen */
  write_text(path_in(dir, "other.safetensors.index.json"),
             "{\"weight_map\": {\"x\": \"nowhere.safetensors\"}}");
  mlx_map_string_to_array m;
  mlx_map_string_to_string meta;
  CHECK_OK(load(dir, &m, &meta));
  ckpt_check(&c, m, "chosen index");
  free_maps(m, meta);

  /* without model.safetensors.index.json, two indexes are ambiguous */
  CHECK(rename(path_in(dir, "model.safetensors.index.json"),
               path_in(dir, "big.safetensors.index.json")) == 0);
  char want[512];
  snprintf(want, sizeof want, "[load_safetensors_dir] Directory %s holds 2 index "
           "files (big.safetensors.index.json, other.safetensors.index.json, ...) "
           "and none is named model.safetensors.index.json; pass the one to load.", dir);
  mlx_map_string_to_array m2 = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta2 = mlx_map_string_to_string_new();
  EXPECT_ERROR(cmlx_load_safetensors_dir(&m2, &meta2, dir, test_stream), want);
  /* one other index is taken */
  CHECK(unlink(path_in(dir, "other.safetensors.index.json")) == 0);
  CHECK_OK(cmlx_load_safetensors_dir(&m2, &meta2, dir, test_stream));
  ckpt_check(&c, m2, "only index");
  free_maps(m2, meta2);

  /* shard names may name files in subdirectories */
  const char* nest = new_dir("nested");
  CHECK(mkdir(path_in(nest, "weights"), 0755) == 0);
  ckpt_save_shard(&c, 0, path_in(nest, "weights"), "a.safetensors", true);
  ckpt_save_shard(&c, 1, nest, "b.safetensors", true);
  char text[1024];
  int len = sprintf(text, "{\"weight_map\": {");
  for (int i = 0; i < c.n; i++)
    len += sprintf(text + len, "%s\"%s\": \"%s\"", i ? ", " : "", c.t[i].name,
                   c.t[i].shard ? "./b.safetensors" : "weights/a.safetensors");
  sprintf(text + len, "}, \"metadata\": null}");
  write_text(path_in(nest, "index.json"), text);
  CHECK_OK(load(path_in(nest, "index.json"), &m, &meta));
  ckpt_check(&c, m, "nested");
  free_maps(m, meta);

  /* an index given by a relative path finds its shards next to it */
  char cwd[512];
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  CHECK(chdir(nest) == 0);
  CHECK_OK(load("index.json", &m, &meta));
  ckpt_check(&c, m, "relative");
  free_maps(m, meta);
  CHECK(chdir(cwd) == 0);

  /* an empty weight map is an empty checkpoint */
  write_text(path_in(nest, "empty.json"), "{\"weight_map\": {}}");
  CHECK_OK(load(path_in(nest, "empty.json"), &m, &meta));
  CHECK(map_count(m) == 0 && meta_count(meta) == 0);
  free_maps(m, meta);
  ckpt_free(&c);
}

/* ---- errors ---- */

/* Expects loading path to fail with message want, leaving maps that held
 * something untouched. */
static void expect_load_error(const char* path, const char* want) {
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  int one[1] = {1};
  float x = 7;
  mlx_array a = mlx_array_new_data(&x, one, 1, MLX_FLOAT32);
  CHECK_OK(mlx_map_string_to_array_insert(m, "before", a));
  CHECK_OK(mlx_map_string_to_string_insert(meta, "before", "yes"));
  mlx_array_free(a);
  EXPECT_ERROR(cmlx_load_safetensors_dir(&m, &meta, path, test_stream), want);
  mlx_array b = get(m, "before");
  CHECK(map_count(m) == 1 && b.ctx != NULL);
  CHECK(meta_count(meta) == 1 && meta_is(meta, "before", "yes"));
  mlx_array_free(b);
  free_maps(m, meta);
}

/* Writes text as dir/name and expects loading it to fail with
 * "[load_safetensors_dir] " + printf(fmt, <path of the index>). */
static void expect_index_error(const char* dir, const char* name, const char* text,
                               const char* fmt) {
  const char* path = path_in(dir, name);
  write_text(path, text);
  char want[1024] = "[load_safetensors_dir] ";
  size_t n = strlen(want);
  snprintf(want + n, sizeof want - n, fmt, path);
  expect_load_error(path, want);
}

static void test_index_disagreeing_with_shards(void) {
  checkpoint c;
  ckpt_make(&c, 8, 2);
  const char* dir = new_dir("disagree");
  ckpt_write(&c, dir, NULL, true);
  const char* a = "model-00001-of-00002.safetensors";
  const char* b = "model-00002-of-00002.safetensors";
  char text[2048], want[4096], index[700];
  snprintf(index, sizeof index, "%s", path_in(dir, "i.json"));

  /* builds an index of c with tensor `which` moved to shard `to` (or left
   * out when to < 0), plus an extra entry when extra is not NULL */
#define INDEX_WITH(which, to, extra)                                          \
  do {                                                                       \
    int len_ = sprintf(text, "{\"weight_map\": {");                          \
    for (int i_ = 0; i_ < c.n; i_++) {                                       \
      int s_ = i_ == (which) ? (to) : c.t[i_].shard;                         \
      if (s_ < 0) continue;                                                  \
      len_ += sprintf(text + len_, "\"%s\": \"%s\", ", c.t[i_].name,         \
                      s_ ? b : a);                                           \
    }                                                                        \
    len_ += sprintf(text + len_, "%s", (extra) ? (extra) : "");              \
    if (text[len_ - 2] == ',') len_ -= 2;                                    \
    sprintf(text + len_, "}}");                                              \
    write_text(index, text);                                                 \
  } while (0)

  /* tensor 3 listed under the other shard: it is not there but elsewhere */
  int moved = 3, from = c.t[moved].shard;
  INDEX_WITH(moved, 1 - from, NULL);
  snprintf(want, sizeof want, "[load_safetensors_dir] Tensor '%.63s' is listed in "
           "index file %s under shard %s but is in shard %s.", c.t[moved].name,
           index, from ? a : b, from ? b : a);
  expect_load_error(index, want);

  /* a tensor the shards hold but the index leaves out */
  INDEX_WITH(moved, -1, NULL);
  snprintf(want, sizeof want, "[load_safetensors_dir] Shard %s holds tensor '%.63s', "
           "which index file %s does not list.", from ? b : a, c.t[moved].name, index);
  expect_load_error(index, want);

  /* a listed tensor no shard holds */
  INDEX_WITH(-1, 0, "\"model.zzz\": \"model-00002-of-00002.safetensors\"");
  snprintf(want, sizeof want, "[load_safetensors_dir] Tensor 'model.zzz' is listed in "
           "index file %s under shard %s, which does not contain it.", index, b);
  expect_load_error(index, want);

  /* a listed shard that is not there */
  INDEX_WITH(-1, 0, "\"model.zzz\": \"model-00003-of-00003.safetensors\"");
  snprintf(want, sizeof want, "[load_safetensors_dir] Shard %s is missing: index "
           "file %s lists tensor 'model.zzz' in it.",
           path_in(dir, "model-00003-of-00003.safetensors"), index);
  expect_load_error(index, want);

  /* the same tensor in two shards: a third shard repeats tensor 0 */
  ckpt_save_shard(&c, c.t[0].shard, dir, "model-00000-extra.safetensors", true);
  INDEX_WITH(-1, 0, "\"unused\": \"model-00000-extra.safetensors\"");
  snprintf(want, sizeof want, "[load_safetensors_dir] Tensor '%s' is in both shard "
           "model-00000-extra.safetensors and shard %s.", c.t[0].name,
           c.t[0].shard ? b : a);
  expect_load_error(index, want);
  CHECK(unlink(path_in(dir, "model-00000-extra.safetensors")) == 0);

  /* a malformed shard reports the shard's own error */
  INDEX_WITH(-1, 0, NULL);
  test_write_bytes(path_in(dir, b), "\x07\0\0\0\0\0\0\0{\"a\":1}", 15);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  EXPECT_ERROR_PREFIX(cmlx_load_safetensors_dir(&m, &meta, index, test_stream),
                      "[load_safetensors] Tensor 'a' must be described by ");
  free_maps(m, meta);
#undef INDEX_WITH
  ckpt_free(&c);
}

/* Malformed index files and the message each gets after
 * "[load_safetensors_dir] " (%s: the index's path). */
static const struct {
  const char* name;
  const char* text;
  const char* message;
} bad_indexes[] = {
    {"trunc.json", "{\"weight_map\": {\"a\": \"x.safetensors\"",
     "Invalid JSON in index file %s: unterminated object at byte 36."},
    {"comma.json", "{\"weight_map\": {},}",
     "Invalid JSON in index file %s: expected a string key in object at byte 18."},
    {"empty.json", "", "Invalid JSON in index file %s: unexpected end of input at byte 0."},
    {"bom.json", "\xef\xbb\xbf{\"weight_map\": {}}",
     "Invalid JSON in index file %s: unexpected character at byte 0."},
    {"array.json", "[\"weight_map\"]", "Index file %s must hold a JSON object."},
    {"none.json", "{\"metadata\": {\"total_size\": 0}}",
     "Index file %s has no \"weight_map\" entry."},
    {"two.json", "{\"weight_map\": {}, \"weight_map\": {}}",
     "Index file %s has more than one \"weight_map\" entry."},
    {"list.json", "{\"weight_map\": [\"a.safetensors\"]}",
     "The \"weight_map\" of index file %s must be an object."},
    {"num.json", "{\"weight_map\": {\"w\": 1}}",
     "The shard of tensor 'w' in index file %s must be a string."},
    {"abs.json", "{\"weight_map\": {\"w\": \"/etc/passwd\"}}",
     "The shard of tensor 'w' in index file %s, '/etc/passwd', must be a file name "
     "relative to the index's directory."},
    {"up.json", "{\"weight_map\": {\"w\": \"a/../../x.safetensors\"}}",
     "The shard of tensor 'w' in index file %s, 'a/../../x.safetensors', must be a "
     "file name relative to the index's directory."},
    {"blank.json", "{\"weight_map\": {\"w\": \"\"}}",
     "The shard of tensor 'w' in index file %s, '', must be a file name relative to "
     "the index's directory."},
    {"nulshard.json", "{\"weight_map\": {\"w\": \"a\\u0000b\"}}",
     "The shard of tensor 'w' in index file %s, 'a', must be a file name relative to "
     "the index's directory."},
    {"nulname.json", "{\"weight_map\": {\"a\\u0000b\": \"x\"}}",
     "A tensor name in index file %s contains a NUL character."},
    {"dup.json",
     "{\"weight_map\": {\"w\": \"a.safetensors\", \"v\": \"a.safetensors\", "
     "\"w\": \"b.safetensors\"}}",
     "Tensor 'w' is listed more than once in index file %s."},
};

static void test_malformed_index(void) {
  const char* dir = new_dir("badindex");
  for (size_t i = 0; i < sizeof bad_indexes / sizeof bad_indexes[0]; i++)
    expect_index_error(dir, bad_indexes[i].name, bad_indexes[i].text,
                       bad_indexes[i].message);

  /* a name ending in .json that leads nowhere */
  char want[1024];
  CHECK(symlink("nowhere", path_in(dir, "dangling.json")) == 0);
  snprintf(want, sizeof want, "[load_safetensors_dir] Failed to open %s: No such file "
           "or directory.", path_in(dir, "dangling.json"));
  expect_load_error(path_in(dir, "dangling.json"), want);
}

static void test_bad_paths_and_arguments(void) {
  char want[512];
  const char* missing = path_in(tmp_dir, "does-not-exist");
  snprintf(want, sizeof want, "[load_safetensors_dir] Failed to open %s: No such "
           "file or directory.", missing);
  expect_load_error(missing, want);

  const char* empty = new_dir("empty");
  write_text(path_in(empty, "notes.txt"), "tiny!");
  snprintf(want, sizeof want, "[load_safetensors_dir] Directory %s holds no "
           "model.safetensors.index.json and no .safetensors file.", empty);
  expect_load_error(empty, want);

  /* a plain file that is not safetensors: the file loader's message */
  snprintf(want, sizeof want, "[load_safetensors] The file is only 5 bytes, too "
           "short for the 8-byte header length: file %s", path_in(empty, "notes.txt"));
  expect_load_error(path_in(empty, "notes.txt"), want);

  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  EXPECT_ERROR(cmlx_load_safetensors_dir(NULL, &meta, empty, test_stream),
               "[load_safetensors_dir] The result pointer is NULL.");
  EXPECT_ERROR(cmlx_load_safetensors_dir(&m, NULL, empty, test_stream),
               "[load_safetensors_dir] The result pointer is NULL.");
  EXPECT_ERROR(cmlx_load_safetensors_dir(&m, &meta, NULL, test_stream),
               "[load_safetensors_dir] The path is NULL.");
  EXPECT_ERROR(cmlx_load_safetensors_dir(&m, &meta, empty, (mlx_stream){0}),
               "[load_safetensors_dir] The stream handle is empty.");
  /* empty result handles get new maps */
  checkpoint c;
  ckpt_make(&c, 3, 1);
  const char* one = new_dir("handles");
  ckpt_save_shard(&c, 0, one, "model.safetensors", true);
  mlx_map_string_to_array fresh = {0};
  mlx_map_string_to_string fresh_meta = {0};
  CHECK_OK(cmlx_load_safetensors_dir(&fresh, &fresh_meta, one, test_stream));
  ckpt_check(&c, fresh, "empty handles");
  free_maps(fresh, fresh_meta);
  free_maps(m, meta);
  ckpt_free(&c);
}

int main(void) {
  test_init();
  if (!tmp_dir_make("/tmp/cmlx-shards-XXXXXX")) return 1;
  test_sharded_checkpoint_loads_as_one_map();
  test_metadata_merges();
  test_directory_without_index();
  test_index_choice_and_subdirectories();
  test_index_disagreeing_with_shards();
  test_malformed_index();
  test_bad_paths_and_arguments();
  remove_tree(tmp_dir);
  return test_finish("shards");
}
