/* safetensors.c - reading and writing safetensors checkpoints.
 *
 * The format: an 8-byte little-endian header length N, N bytes of JSON, then
 * the data section. The JSON object maps each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
 * data section) and may hold "__metadata__", an object of strings.
 *
 * Loading checks the whole header before making any array: every message
 * names the tensor at fault, and nothing is read outside the file (offsets,
 * sizes and shape products are checked with overflow in mind). A file is
 * mapped read-only and its tensors borrow the mapping, which a refcount
 * keeps alive until the last array goes; a tensor whose address is not a
 * multiple of its element size (MLX pads nothing, so this happens) is copied
 * into aligned memory instead. A user reader is read tensor by tensor into
 * fresh buffers.
 *
 * Saving writes MLX's header (compact JSON, keys sorted) padded with spaces
 * so that the data section starts at a multiple of 8, and lays the data out
 * by decreasing element size, so every tensor of a file we write is aligned
 * and loads without a copy. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/io.h"
#include "io/json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; big-endian hosts need byte swaps"
#endif

/* Same limit as the reference Rust implementation and MLX. */
#define MAX_HEADER_LENGTH 100000000ull
#define METADATA_KEY "__metadata__"

/* The dtype names. The first entry for a dtype is the one we write; the
 * 8-bit float formats load as raw uint8 bytes, as MLX does. */
static const struct {
  const char* name;
  mlx_dtype dtype;
} st_dtypes[] = {
    {"BOOL", MLX_BOOL},    {"U8", MLX_UINT8},       {"U16", MLX_UINT16},
    {"U32", MLX_UINT32},   {"U64", MLX_UINT64},     {"I8", MLX_INT8},
    {"I16", MLX_INT16},    {"I32", MLX_INT32},      {"I64", MLX_INT64},
    {"F16", MLX_FLOAT16},  {"BF16", MLX_BFLOAT16},  {"F32", MLX_FLOAT32},
    {"F64", MLX_FLOAT64},  {"C64", MLX_COMPLEX64},  {"F8_E4M3", MLX_UINT8},
    {"F8_E8M0", MLX_UINT8},
};
#define N_ST_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

static int dtype_from_name(const char* name, mlx_dtype* out) {
  for (size_t i = 0; i < N_ST_DTYPES; i++) {
    if (strcmp(st_dtypes[i].name, name) == 0) {
      *out = st_dtypes[i].dtype;
      return 0;
    }
  }
  return 1;
}

static const char* dtype_to_name(mlx_dtype t) {
  for (size_t i = 0; i < N_ST_DTYPES; i++)
    if (st_dtypes[i].dtype == t) return st_dtypes[i].name;
  return NULL;
}

/* ---- the header ---- */

/* One tensor as the header describes it. name and shape point into the
 * parsed document and header.dims. */
typedef struct st_tensor {
  const char* name;
  mlx_dtype dtype;
  int ndim;
  int* shape;
  uint64_t begin, end;
} st_tensor;

typedef struct st_header {
  json_doc doc;
  size_t n_tensors;
  st_tensor* tensors; /* in header order */
  int* dims;          /* all shapes, back to back */
  const json_value* metadata; /* an object, or NULL */
} st_header;

static void header_free(st_header* h) {
  json_doc_free(&h->doc);
  free(h->tensors);
  free(h->dims);
}

/* The single member `key` of a tensor entry, of the given type. */
static const json_value* tensor_field(const json_value* entry, const char* name,
                                      const char* key, json_type type,
                                      const char* type_name) {
  size_t count;
  const json_value* v = json_object_get(entry, key, &count);
  if (!v) {
    error_set("[load_safetensors] Tensor '%s' has no \"%s\" entry.", name, key);
    return NULL;
  }
  if (count > 1) {
    error_set("[load_safetensors] Tensor '%s' has more than one \"%s\" entry.",
              name, key);
    return NULL;
  }
  if (v->type != type) {
    error_set("[load_safetensors] Tensor '%s' \"%s\" must be %s.", name, key,
              type_name);
    return NULL;
  }
  return v;
}

static bool is_uint(const json_value* v) {
  return v->type == JSON_NUMBER && v->as.number.integer &&
         !v->as.number.overflow &&
         (!v->as.number.negative || v->as.number.value == 0);
}

/* Reads one tensor entry into t (dims receives its shape); data_size is
 * the size of the data section. */
static int read_tensor(const char* name, const json_value* entry,
                       uint64_t data_size, st_tensor* t, int* dims) {
  if (entry->type != JSON_OBJECT)
    return error_set("[load_safetensors] Tensor '%s' must be described by a "
                     "JSON object.", name);
  const json_value* dtype = tensor_field(entry, name, "dtype", JSON_STRING, "a string");
  if (!dtype) return 1;
  const json_value* shape = tensor_field(entry, name, "shape", JSON_ARRAY, "a list");
  if (!shape) return 1;
  const json_value* offsets =
      tensor_field(entry, name, "data_offsets", JSON_ARRAY, "a list");
  if (!offsets) return 1;

  t->name = name;
  if (strlen(dtype->as.string.text) != dtype->as.string.len ||
      dtype_from_name(dtype->as.string.text, &t->dtype))
    return error_set("[safetensor] unsupported dtype %s", dtype->as.string.text);

  t->ndim = (int)shape->as.array.count;
  t->shape = dims;
  unsigned __int128 elems = 1;
  for (int i = 0; i < t->ndim; i++) {
    const json_value* d = shape->as.array.items[i];
    if (!is_uint(d) || d->as.number.value > INT32_MAX)
      return error_set("[load_safetensors] Tensor '%s' shape entry %d is not "
                       "an integer in [0, 2147483647].", name, i);
    dims[i] = (int)d->as.number.value;
    elems *= (uint64_t)dims[i];
    if (elems > INT64_MAX) elems = (unsigned __int128)INT64_MAX + 1; /* saturate */
  }
  unsigned __int128 nbytes = elems * dtype_size(t->dtype);
  if (elems > INT64_MAX / 16 || nbytes > INT64_MAX) {
    char buf[128];
    return error_set("[load_safetensors] Tensor '%s' shape %s is too large.", name,
                     error_format_shape(buf, sizeof buf, t->shape, t->ndim));
  }

  if (offsets->as.array.count != 2)
    return error_set("[load_safetensors] Tensor '%s' data_offsets must have "
                     "exactly 2 entries but has %zu", name, offsets->as.array.count);
  const json_value* b = offsets->as.array.items[0];
  const json_value* e = offsets->as.array.items[1];
  if (!is_uint(b) || !is_uint(e))
    return error_set("[load_safetensors] Tensor '%s' data_offsets must be "
                     "non-negative integers below 2^64.", name);
  t->begin = b->as.number.value;
  t->end = e->as.number.value;
  if (t->end < t->begin || t->end - t->begin != (uint64_t)nbytes)
    return error_set("[load_safetensors] Tensor '%s' invalid data offsets "
                     "(%llu, %llu). Expecting %llu bytes.", name,
                     (unsigned long long)t->begin, (unsigned long long)t->end,
                     (unsigned long long)nbytes);
  if (t->end > data_size)
    return error_set("[load_safetensors] Tensor '%s' invalid data offsets "
                     "(%llu, %llu) exceeding the size of the file. Perhaps an "
                     "incomplete download or corrupt file?", name,
                     (unsigned long long)t->begin, (unsigned long long)t->end);
  return 0;
}

static int check_text(const json_member* m, const char* what) {
  if (strlen(m->key) != m->key_len)
    return error_set("[load_safetensors] %s contains a NUL character.", what);
  return 0;
}

static int read_metadata(const json_value* v, st_header* h) {
  if (v->type == JSON_NULL) return 0; /* MLX writes null for no metadata */
  if (v->type != JSON_OBJECT)
    return error_set("[load_safetensors] \"__metadata__\" must be an object "
                     "of strings.");
  for (size_t i = 0; i < v->as.object.count; i++) {
    const json_member* m = &v->as.object.members[i];
    if (check_text(m, "A metadata key")) return 1;
    if (m->value->type != JSON_STRING)
      return error_set("[load_safetensors] Metadata entry '%s' is not a string.",
                       m->key);
    if (strlen(m->value->as.string.text) != m->value->as.string.len)
      return error_set("[load_safetensors] Metadata entry '%s' contains a NUL "
                       "character.", m->key);
  }
  h->metadata = v;
  return 0;
}

static int cmp_names(const void* a, const void* b) {
  return strcmp((*(const st_tensor* const*)a)->name,
                (*(const st_tensor* const*)b)->name);
}
static int cmp_begin(const void* a, const void* b) {
  const st_tensor* x = *(const st_tensor* const*)a;
  const st_tensor* y = *(const st_tensor* const*)b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}
static int cmp_keys(const void* a, const void* b) {
  return strcmp(((const json_member*)a)->key, ((const json_member*)b)->key);
}

/* Names must be unique (JSON allows repeats; we refuse them) and the
 * tensors' byte ranges must not overlap (empty tensors take no bytes). */
static int check_names_and_ranges(st_header* h) {
  size_t n = h->n_tensors;
  if (h->metadata && h->metadata->as.object.count > 1) {
    size_t m = h->metadata->as.object.count;
    json_member* keys = malloc(m * sizeof *keys);
    if (!keys) return error_set("[load_safetensors] Out of memory.");
    memcpy(keys, h->metadata->as.object.members, m * sizeof *keys);
    qsort(keys, m, sizeof *keys, cmp_keys);
    for (size_t i = 1; i < m; i++) {
      if (strcmp(keys[i - 1].key, keys[i].key) == 0) {
        error_set("[load_safetensors] Duplicate metadata key '%s'.", keys[i].key);
        free(keys);
        return 1;
      }
    }
    free(keys);
  }
  if (n < 2) return 0;
  const st_tensor** order = malloc(n * sizeof *order);
  if (!order) return error_set("[load_safetensors] Out of memory.");
  for (size_t i = 0; i < n; i++) order[i] = &h->tensors[i];
  qsort(order, n, sizeof *order, cmp_names);
  for (size_t i = 1; i < n; i++) {
    if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
      error_set("[load_safetensors] Duplicate tensor name '%s'.", order[i]->name);
      free(order);
      return 1;
    }
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (h->tensors[i].end > h->tensors[i].begin) order[k++] = &h->tensors[i];
  qsort(order, k, sizeof *order, cmp_begin);
  for (size_t i = 1; i < k; i++) {
    const st_tensor* a = order[i - 1];
    const st_tensor* b = order[i];
    if (b->begin < a->end) {
      error_set("[load_safetensors] Tensors '%s' (bytes %llu to %llu) and '%s' "
                "(bytes %llu to %llu) overlap.", a->name,
                (unsigned long long)a->begin, (unsigned long long)a->end, b->name,
                (unsigned long long)b->begin, (unsigned long long)b->end);
      free(order);
      return 1;
    }
    /* keep the furthest end seen so far: a may end after b */
    if (a->end > b->end) order[i] = a;
  }
  free(order);
  return 0;
}

/* Parses and checks the JSON header text[0, len) of a file whose data
 * section has data_size bytes. */
static int parse_header(const char* text, size_t len, uint64_t data_size,
                        const char* label, st_header* h) {
  memset(h, 0, sizeof *h);
  json_error jerr;
  if (json_parse(text, len, &h->doc, &jerr))
    return error_set("[load_safetensors] Invalid JSON header in %s: %s at byte %zu.",
                     label, jerr.what, jerr.pos);
  const json_value* root = h->doc.root;
  if (root->type != JSON_OBJECT) {
    header_free(h);
    return error_set("[load_safetensors] Invalid json metadata %s", label);
  }
  size_t n_members = root->as.object.count, total_dims = 0;
  for (size_t i = 0; i < n_members; i++) {
    const json_value* entry = root->as.object.members[i].value;
    const json_value* shape =
        entry->type == JSON_OBJECT ? json_object_get(entry, "shape", NULL) : NULL;
    if (shape && shape->type == JSON_ARRAY) total_dims += shape->as.array.count;
  }
  h->tensors = malloc((n_members ? n_members : 1) * sizeof *h->tensors);
  h->dims = malloc((total_dims ? total_dims : 1) * sizeof *h->dims);
  if (!h->tensors || !h->dims) {
    header_free(h);
    return error_set("[load_safetensors] Out of memory.");
  }
  size_t dims_used = 0;
  bool seen_metadata = false;
  for (size_t i = 0; i < n_members; i++) {
    const json_member* m = &root->as.object.members[i];
    int rc;
    if (strcmp(m->key, METADATA_KEY) == 0 && m->key_len == strlen(METADATA_KEY)) {
      rc = seen_metadata ? error_set("[load_safetensors] Duplicate \"__metadata__\" entry.")
                         : read_metadata(m->value, h);
      seen_metadata = true;
    } else {
      st_tensor* t = &h->tensors[h->n_tensors];
      rc = check_text(m, "A tensor name") ||
           read_tensor(m->key, m->value, data_size, t, h->dims + dims_used);
      if (!rc) {
        dims_used += (size_t)t->ndim;
        h->n_tensors++;
      }
    }
    if (rc) {
      header_free(h);
      return 1;
    }
  }
  if (check_names_and_ranges(h)) {
    header_free(h);
    return 1;
  }
  return 0;
}

/* Moves the header's names and metadata into out (arrays are filled in by
 * the caller). */
static int contents_init(const st_header* h, io_contents* out) {
  memset(out, 0, sizeof *out);
  size_t n = h->n_tensors, m = h->metadata ? h->metadata->as.object.count : 0;
  out->names = calloc(n ? n : 1, sizeof *out->names);
  out->arrays = calloc(n ? n : 1, sizeof *out->arrays);
  out->meta_keys = calloc(m ? m : 1, sizeof *out->meta_keys);
  out->meta_values = calloc(m ? m : 1, sizeof *out->meta_values);
  if (!out->names || !out->arrays || !out->meta_keys || !out->meta_values)
    goto oom;
  for (size_t i = 0; i < n; i++) {
    if (!(out->names[i] = strdup(h->tensors[i].name))) goto oom;
    out->n_arrays = i + 1;
  }
  for (size_t i = 0; i < m; i++) {
    const json_member* e = &h->metadata->as.object.members[i];
    out->meta_keys[i] = strdup(e->key);
    out->meta_values[i] = strdup(e->value->as.string.text);
    out->n_meta = i + 1;
    if (!out->meta_keys[i] || !out->meta_values[i]) goto oom;
  }
  return 0;
oom:
  io_contents_free(out);
  return error_set("[load_safetensors] Out of memory.");
}

/* ---- loading a mapped file ---- */

typedef struct file_mapping {
  atomic_long refs;
  void* base;
  size_t length;
} file_mapping;

static void mapping_release(void* arg) {
  file_mapping* m = arg;
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
  munmap(m->base, m->length);
  free(m);
}

static uint64_t read_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* The header-length checks shared by files and streams. */
static int check_header_length(uint64_t header_len, uint64_t file_size,
                               const char* label) {
  if (header_len == 0 || header_len >= MAX_HEADER_LENGTH)
    return error_set("[load_safetensors] Invalid json header length %s", label);
  if (file_size - 8 < header_len)
    return error_set("[load_safetensors] The JSON header is %llu bytes long but "
                     "the file is only %llu bytes. Perhaps an incomplete "
                     "download or corrupt file?", (unsigned long long)header_len,
                     (unsigned long long)file_size);
  return 0;
}

/* The array for tensor t whose bytes start at p in the mapping. */
static array* mapped_tensor(const st_tensor* t, const unsigned char* p,
                            file_mapping* map) {
  size_t esize = dtype_size(t->dtype);
  if (t->end == t->begin || (uintptr_t)p % esize != 0)
    return array_new_copy(t->dtype, t->ndim, t->shape, p);
  atomic_fetch_add_explicit(&map->refs, 1, memory_order_relaxed);
  array* a = array_new_wrap(t->dtype, t->ndim, t->shape, (void*)p,
                            mapping_release, map);
  if (!a) mapping_release(map);
  return a;
}

int safetensors_load_file(const char* path, io_contents* out) {
  memset(out, 0, sizeof *out);
  size_t label_len = strlen(path) + 6;
  char* label = malloc(label_len);
  if (!label) return error_set("[load_safetensors] Out of memory.");
  snprintf(label, label_len, "file %s", path);

  int rc = 1;
  file_mapping* map = NULL;
  st_header h = {0};
  bool have_header = false;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0) {
    error_set("[load_safetensors] Failed to open %s", label);
    goto done;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error_set("[load_safetensors] Failed to open %s (not a regular file)", label);
    goto done;
  }
  uint64_t size = (uint64_t)st.st_size;
  if (size < 8) {
    error_set("[load_safetensors] The file is only %llu bytes, too short for "
              "the 8-byte header length: %s", (unsigned long long)size, label);
    goto done;
  }
  map = malloc(sizeof *map);
  if (!map) {
    error_set("[load_safetensors] Out of memory.");
    goto done;
  }
  map->base = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map->base == MAP_FAILED) {
    free(map);
    map = NULL;
    error_set("[load_safetensors] Unable to map %s: %s.", label, strerror(errno));
    goto done;
  }
  map->length = (size_t)size;
  atomic_init(&map->refs, 1);
  close(fd);
  fd = -1;

  const unsigned char* base = map->base;
  uint64_t header_len = read_le64(base);
  if (check_header_length(header_len, size, label)) goto done;
  if (parse_header((const char*)base + 8, (size_t)header_len,
                   size - 8 - header_len, label, &h))
    goto done;
  have_header = true;
  if (contents_init(&h, out)) goto done;
  const unsigned char* data = base + 8 + header_len;
  for (size_t i = 0; i < h.n_tensors; i++) {
    out->arrays[i] = mapped_tensor(&h.tensors[i], data + h.tensors[i].begin, map);
    if (!out->arrays[i]) {
      io_contents_free(out);
      goto done;
    }
  }
  rc = 0;
done:
  if (have_header) header_free(&h);
  if (map) mapping_release(map);
  if (fd >= 0) close(fd);
  free(label);
  return rc;
}

/* ---- loading from a reader ---- */

int safetensors_load_stream(const io_stream* in, io_contents* out) {
  const char* op = "load_safetensors";
  memset(out, 0, sizeof *out);
  if (io_stream_check_reader(in, op)) return 1;
  const char* label = io_stream_label(in);
  unsigned char len_bytes[8];
  in->vt.read(in->desc, (char*)len_bytes, 8);
  if (!in->vt.good(in->desc))
    return error_set("[load_safetensors] Unable to read the header length from %s.",
                     label);
  uint64_t header_len = read_le64(len_bytes);
  size_t size;
  if (io_stream_size(in, 8, &size, op)) return 1;
  if (size < 8)
    return error_set("[load_safetensors] Unable to find the size of %s.", label);
  if (check_header_length(header_len, size, label)) return 1;
  char* text = malloc((size_t)header_len);
  if (!text) return error_set("[load_safetensors] Out of memory.");
  in->vt.read(in->desc, text, (size_t)header_len);
  if (!in->vt.good(in->desc)) {
    free(text);
    return error_set("[load_safetensors] Unable to read the header from %s.", label);
  }
  st_header h;
  int rc = parse_header(text, (size_t)header_len, size - 8 - header_len, label, &h);
  free(text);
  if (rc) return 1;
  rc = contents_init(&h, out);
  for (size_t i = 0; !rc && i < h.n_tensors; i++) {
    const st_tensor* t = &h.tensors[i];
    array* a = array_new_alloc(t->dtype, t->ndim, t->shape);
    out->arrays[i] = a;
    rc = !a || io_stream_read_at(in, a->buf->ptr, (size_t)(t->end - t->begin),
                                 (size_t)(8 + header_len + t->begin), op);
    if (rc) io_contents_free(out);
  }
  header_free(&h);
  return rc;
}

/* ---- saving ---- */

/* One tensor to write: its name, its row-contiguous array and where its
 * bytes go in the data section. */
typedef struct save_item {
  const char* name;
  const array* arr;
  uint64_t offset;
} save_item;

typedef struct meta_item {
  const char* key;
  const char* value;
} meta_item;

static int cmp_item_name(const void* a, const void* b) {
  return strcmp(((const save_item*)a)->name, ((const save_item*)b)->name);
}
/* Data layout: larger elements first (keeps every tensor aligned), then
 * by name. */
static int cmp_item_layout(const void* a, const void* b) {
  const save_item* x = *(const save_item* const*)a;
  const save_item* y = *(const save_item* const*)b;
  size_t sx = dtype_size(x->arr->dtype), sy = dtype_size(y->arr->dtype);
  if (sx != sy) return sx > sy ? -1 : 1;
  return strcmp(x->name, y->name);
}
static int cmp_meta_key(const void* a, const void* b) {
  return strcmp(((const meta_item*)a)->key, ((const meta_item*)b)->key);
}

/* Checks what the header will hold: UTF-8 text, no reserved name, dtypes
 * the format has. */
static int check_save_list(const io_save_list* l) {
  for (size_t i = 0; i < l->n_arrays; i++) {
    const char* name = l->names[i];
    if (!json_utf8_valid(name, strlen(name)))
      return error_set("[save_safetensors] Tensor name '%s' is not valid UTF-8.", name);
    if (strcmp(name, METADATA_KEY) == 0)
      return error_set("[save_safetensors] The name \"__metadata__\" is reserved "
                       "for the metadata and cannot name a tensor.");
    if (!dtype_to_name(l->arrays[i]->dtype))
      return error_set("[save_safetensors] received invalid dtype.");
  }
  for (size_t i = 0; i < l->n_meta; i++) {
    if (!json_utf8_valid(l->meta_keys[i], strlen(l->meta_keys[i])) ||
        !json_utf8_valid(l->meta_values[i], strlen(l->meta_values[i])))
      return error_set("[save_safetensors] Metadata entry '%s' is not valid UTF-8.",
                       l->meta_keys[i]);
  }
  return 0;
}

/* The header: compact JSON with sorted keys (items and meta are sorted),
 * padded with spaces to a multiple of 8 bytes. */
static int build_header(const save_item* items, size_t n, const meta_item* meta,
                        size_t n_meta, json_builder* b) {
  json_put_raw(b, "{", 1);
  if (n_meta) {
    json_put_raw(b, "\"" METADATA_KEY "\":{", sizeof METADATA_KEY + 3);
    for (size_t k = 0; k < n_meta; k++) {
      if (k) json_put_raw(b, ",", 1);
      json_put_string(b, meta[k].key);
      json_put_raw(b, ":", 1);
      json_put_string(b, meta[k].value);
    }
    json_put_raw(b, "}", 1);
  }
  for (size_t k = 0; k < n; k++) {
    const array* a = items[k].arr;
    if (k || n_meta) json_put_raw(b, ",", 1);
    json_put_string(b, items[k].name);
    json_put_raw(b, ":{\"data_offsets\":[", 18);
    json_put_u64(b, items[k].offset);
    json_put_raw(b, ",", 1);
    json_put_u64(b, items[k].offset + array_nbytes(a));
    json_put_raw(b, "],\"dtype\":", 10);
    json_put_string(b, dtype_to_name(a->dtype));
    json_put_raw(b, ",\"shape\":[", 10);
    for (int d = 0; d < a->ndim; d++) {
      if (d) json_put_raw(b, ",", 1);
      json_put_u64(b, (uint64_t)a->shape[d]);
    }
    json_put_raw(b, "]}", 2);
  }
  json_put_raw(b, "}", 1);
  while (!b->failed && (8 + b->len) % 8) json_put_raw(b, " ", 1);
  return b->failed ? error_set("[save_safetensors] Out of memory.") : 0;
}

/* Writes the whole file to sink. */
static int write_safetensors(io_sink* sink, const io_save_list* l) {
  const char* op = "save_safetensors";
  if (check_save_list(l)) return 1;
  size_t n = l->n_arrays, n_meta = l->n_meta;
  array** arrays = calloc(n ? n : 1, sizeof *arrays);
  save_item* items = malloc((n ? n : 1) * sizeof *items);
  save_item** layout = malloc((n ? n : 1) * sizeof *layout);
  meta_item* meta = malloc((n_meta ? n_meta : 1) * sizeof *meta);
  json_builder b = {0};
  int rc = 1;
  if (!arrays || !items || !layout || !meta) {
    error_set("[save_safetensors] Out of memory.");
    goto done;
  }
  if (io_prepare_arrays(l->arrays, n, arrays, op)) goto done;
  for (size_t i = 0; i < n; i++) items[i] = (save_item){l->names[i], arrays[i], 0};
  for (size_t i = 0; i < n_meta; i++)
    meta[i] = (meta_item){l->meta_keys[i], l->meta_values[i]};
  qsort(items, n, sizeof *items, cmp_item_name);
  qsort(meta, n_meta, sizeof *meta, cmp_meta_key);
  for (size_t k = 1; k < n; k++) {
    if (strcmp(items[k - 1].name, items[k].name) == 0) {
      error_set("[save_safetensors] Duplicate tensor name '%s'.", items[k].name);
      goto done;
    }
  }
  for (size_t k = 0; k < n; k++) layout[k] = &items[k];
  qsort(layout, n, sizeof *layout, cmp_item_layout);
  uint64_t pos = 0;
  for (size_t k = 0; k < n; k++) {
    layout[k]->offset = pos;
    pos += array_nbytes(layout[k]->arr);
  }
  if (build_header(items, n, meta, n_meta, &b)) goto done;
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; i++) len_bytes[i] = (unsigned char)((uint64_t)b.len >> (8 * i));
  if (io_sink_write(sink, len_bytes, 8) || io_sink_write(sink, b.data, b.len))
    goto done;
  for (size_t k = 0; k < n; k++) {
    const array* a = layout[k]->arr;
    if (array_nbytes(a) && io_sink_write(sink, array_data(a), array_nbytes(a)))
      goto done;
  }
  rc = 0;
done:
  if (arrays)
    for (size_t i = 0; i < n; i++) array_release(arrays[i]);
  free(arrays);
  free(items);
  free(layout);
  free(meta);
  free(b.data);
  return rc;
}

int safetensors_save_file(const char* path, const io_save_list* list) {
  const char* op = "save_safetensors";
  char* file = io_with_suffix(path, ".safetensors", op);
  if (!file) return 1;
  char* tmp = NULL;
  int fd = io_temp_open(file, op, &tmp);
  if (fd < 0) {
    free(file);
    return 1;
  }
  io_sink sink = {fd, NULL, op, file, 0};
  int failed = write_safetensors(&sink, list);
  int rc = io_temp_commit(fd, tmp, file, op, failed);
  free(file);
  return rc;
}

int safetensors_save_stream(const io_stream* out, const io_save_list* list) {
  const char* op = "save_safetensors";
  if (io_stream_check_writer(out, op)) return 1;
  io_sink sink = {-1, out, op, io_stream_label(out), 0};
  return write_safetensors(&sink, list);
}
