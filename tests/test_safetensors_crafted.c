/* test_safetensors_crafted.c - safetensors files crafted byte by byte
 * (mlx/c/io.h): malformed files, accepted variants, file mappings and
 * saving errors (round trips and MLX-written files are in
 * test_safetensors.c).
 *
 * Proves: a table of malformed files each fails with its message, through
 * files and readers, and failing readers report theirs; variants MLX
 * accepts load; loaded tensors borrow the file's mapping, which goes away
 * with the last array, while misaligned ones are copied; saving goes
 * through a temporary file and never leaves one behind, also when it
 * fails; a file saved over while its tensors are in use leaves them the
 * old contents. */
#include "safetensors_util.h"

/* ---- crafted files ---- */

/* A file: 8-byte little-endian length of header, header, then data_len
 * bytes 0, 1, 2, ... */
static unsigned char* craft(const char* header, size_t data_len, size_t* n) {
  size_t hl = strlen(header);
  *n = 8 + hl + data_len;
  unsigned char* f = malloc(*n);
  for (int i = 0; i < 8; i++) f[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(f + 8, header, hl);
  for (size_t i = 0; i < data_len; i++) f[8 + hl + i] = (unsigned char)i;
  return f;
}

/* Loads bytes from a file and from a reader; both must fail with msg, where
 * "%s" stands for the source's label. */
static void expect_load_error(const char* case_name, const unsigned char* bytes,
                              size_t n, const char* msg) {
  char path[256], want[1024];
  snprintf(path, sizeof path, "%s/bad-%s.safetensors", tmp_dir, case_name);
  test_write_bytes(path, bytes, n);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  char label[300];
  snprintf(label, sizeof label, "file %s", path);
  snprintf(want, sizeof want, msg, label);
  test_error_count = 0;
  int rc = mlx_load_safetensors(&m, &md, path, test_stream);
  CHECK_MSG(rc == 1 && test_error_count == 1 && !strcmp(test_last_error, want),
            "case %s (file): rc %d, \"%s\", expected \"%s\"", case_name, rc,
            test_last_error, want);
  CHECK(map_count(m) == 0);
  unlink(path);

  membuf mb = mem_over(bytes, n);
  mlx_io_reader rd = mlx_io_reader_new(&mb, mem_vtable);
  snprintf(want, sizeof want, msg, "memory");
  test_error_count = 0;
  rc = mlx_load_safetensors_reader(&m, &md, rd, test_stream);
  CHECK_MSG(rc == 1 && test_error_count == 1 && !strcmp(test_last_error, want),
            "case %s (reader): rc %d, \"%s\", expected \"%s\"", case_name, rc,
            test_last_error, want);
  mlx_io_reader_free(rd);
  free(mb.data);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

typedef struct bad_case {
  const char* name;
  const char* header;
  size_t data_len;
  const char* msg; /* "%s": the label */
} bad_case;

#define T(name, dtype, shape, b, e) \
  "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static const bad_case bad_cases[] = {
    {"invalid-json", "{\"a\":", 0,
     "[load_safetensors] Invalid JSON header in %s: unexpected end of input at byte 5."},
    {"trailing-data", "{} x", 0,
     "[load_safetensors] Invalid JSON header in %s: unexpected data after the JSON value at byte 3."},
    {"single-quotes", "{'a':1}", 0,
     "[load_safetensors] Invalid JSON header in %s: expected a string key in object at byte 1."},
    {"trailing-comma", "{\"a\":{},}", 0,
     "[load_safetensors] Invalid JSON header in %s: expected a string key in object at byte 8."},
    {"bad-escape", "{\"a\\x\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: invalid escape in string at byte 4."},
    {"lone-surrogate", "{\"\\ud800\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: unpaired surrogate in \\u escape at byte 8."},
    {"control-char", "{\"a\nb\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: control character in string at byte 3."},
    {"invalid-utf8", "{\"\xc3\x28\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: invalid UTF-8 in string at byte 2."},
    {"overlong-utf8", "{\"\xc0\xaf\":{}}", 0,
     "[load_safetensors] Invalid JSON header in %s: invalid UTF-8 in string at byte 2."},
    {"bad-number", "{\"a\":{\"shape\":[01]}}", 0,
     "[load_safetensors] Invalid JSON header in %s: leading zero in number at byte 16."},
    {"deep-nesting",
     "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
     "[load_safetensors] Invalid JSON header in %s: nesting too deep at byte 68."},
    {"not-an-object", "[1, 2]", 0, "[load_safetensors] Invalid json metadata %s"},
    {"string-header", "\"tensor\"", 0, "[load_safetensors] Invalid json metadata %s"},
    {"entry-not-object", "{\"w\":[1]}", 0,
     "[load_safetensors] Tensor 'w' must be described by a JSON object."},
    {"unknown-dtype", "{" T("w", "F8_E5M2", "[2]", 0, 2) "}", 2,
     "[safetensor] unsupported dtype F8_E5M2"},
    {"lowercase-dtype", "{" T("w", "f32", "[1]", 0, 4) "}", 4,
     "[safetensor] unsupported dtype f32"},
    {"nul-in-dtype", "{" T("w", "F32\\u0000", "[1]", 0, 4) "}", 4,
     "[safetensor] unsupported dtype F32"},
    {"dtype-not-string", "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "[load_safetensors] Tensor 'w' \"dtype\" must be a string."},
    {"missing-shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
     "[load_safetensors] Tensor 'w' has no \"shape\" entry."},
    {"missing-offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
     "[load_safetensors] Tensor 'w' has no \"data_offsets\" entry."},
    {"repeated-field",
     "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "[load_safetensors] Tensor 'w' has more than one \"dtype\" entry."},
    {"negative-dim", "{" T("w", "F32", "[-1]", 0, 4) "}", 4,
     "[load_safetensors] Tensor 'w' shape entry 0 is not an integer in [0, 2147483647]."},
    {"float-dim", "{" T("w", "F32", "[1,2.0]", 0, 8) "}", 8,
     "[load_safetensors] Tensor 'w' shape entry 1 is not an integer in [0, 2147483647]."},
    {"huge-dim", "{" T("w", "U8", "[2147483648]", 0, 4) "}", 4,
     "[load_safetensors] Tensor 'w' shape entry 0 is not an integer in [0, 2147483647]."},
    {"overflowing-shape",
     "{" T("w", "F32", "[2147483647,2147483647,2147483647,8]", 0, 4) "}", 4,
     "[load_safetensors] Tensor 'w' shape (2147483647,2147483647,2147483647,8) is too large."},
    {"three-offsets",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
     "[load_safetensors] Tensor 'w' data_offsets must have exactly 2 entries but has 3"},
    {"negative-offset", "{" T("w", "U8", "[1]", -1, 0) "}", 4,
     "[load_safetensors] Tensor 'w' data_offsets must be non-negative integers below 2^64."},
    {"offset-past-2^64", "{" T("w", "U8", "[0]", 18446744073709551616, 18446744073709551616) "}", 4,
     "[load_safetensors] Tensor 'w' data_offsets must be non-negative integers below 2^64."},
    {"reversed-offsets", "{" T("w", "U8", "[4]", 8, 4) "}", 8,
     "[load_safetensors] Tensor 'w' invalid data offsets (8, 4). Expecting 4 bytes."},
    {"size-mismatch", "{" T("w", "F32", "[2,2]", 0, 12) "}", 16,
     "[load_safetensors] Tensor 'w' invalid data offsets (0, 12). Expecting 16 bytes."},
    {"past-the-data", "{" T("w", "F32", "[2]", 4, 12) "}", 8,
     "[load_safetensors] Tensor 'w' invalid data offsets (4, 12) exceeding the size of "
     "the file. Perhaps an incomplete download or corrupt file?"},
    {"wrapping-offsets",
     "{" T("w", "U8", "[4]", 18446744073709551614, 18446744073709551618) "}", 8,
     "[load_safetensors] Tensor 'w' data_offsets must be non-negative integers below 2^64."},
    {"far-offsets", "{" T("w", "U8", "[4]", 18446744073709551610, 18446744073709551614) "}", 8,
     "[load_safetensors] Tensor 'w' invalid data offsets (18446744073709551610, "
     "18446744073709551614) exceeding the size of the file. Perhaps an incomplete "
     "download or corrupt file?"},
    {"overlap", "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 4, 12) "}", 12,
     "[load_safetensors] Tensors 'a' (bytes 0 to 8) and 'b' (bytes 4 to 12) overlap."},
    {"nested-overlap",
     "{" T("big", "U8", "[16]", 0, 16) "," T("c", "U8", "[2]", 12, 14) "," T("b", "U8", "[2]", 4, 6) "}",
     16, "[load_safetensors] Tensors 'big' (bytes 0 to 16) and 'b' (bytes 4 to 6) overlap."},
    {"duplicate-name", "{" T("w", "U8", "[2]", 0, 2) "," T("w", "U8", "[2]", 2, 4) "}", 4,
     "[load_safetensors] Duplicate tensor name 'w'."},
    {"nul-in-name", "{" T("a\\u0000b", "U8", "[2]", 0, 2) "}", 2,
     "[load_safetensors] A tensor name contains a NUL character."},
    {"metadata-not-object", "{\"__metadata__\":[\"x\"]}", 0,
     "[load_safetensors] \"__metadata__\" must be an object of strings."},
    {"metadata-number", "{\"__metadata__\":{\"epoch\":3}}", 0,
     "[load_safetensors] Metadata entry 'epoch' is not a string."},
    {"metadata-duplicate-key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
     "[load_safetensors] Duplicate metadata key 'k'."},
    {"metadata-twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
     "[load_safetensors] Duplicate \"__metadata__\" entry."},
    {"metadata-nul", "{\"__metadata__\":{\"k\":\"a\\u0000\"}}", 0,
     "[load_safetensors] Metadata entry 'k' contains a NUL character."},
};

static void test_malformed_files(void) {
  size_t n;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    unsigned char* f = craft(bad_cases[i].header, bad_cases[i].data_len, &n);
    expect_load_error(bad_cases[i].name, f, n, bad_cases[i].msg);
    free(f);
  }

  /* header lengths: zero, at MLX's 1e8 limit, past the end of the file */
  unsigned char raw[32] = {0};
  memcpy(raw + 8, "{}", 2);
  expect_load_error("zero-length", raw, 16, "[load_safetensors] Invalid json header length %s");
  uint64_t lens[2] = {100000000ull, 0xffffffffffffffffull};
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < 8; i++) raw[i] = (unsigned char)(lens[k] >> (8 * i));
    expect_load_error("huge-length", raw, 16, "[load_safetensors] Invalid json header length %s");
  }
  raw[0] = 100;
  for (int i = 1; i < 8; i++) raw[i] = 0;
  expect_load_error("truncated-header", raw, 20,
                    "[load_safetensors] The JSON header is 100 bytes long but the file is "
                    "only 20 bytes. Perhaps an incomplete download or corrupt file?");
  /* a file cut off in the middle of the data */
  unsigned char* f = craft("{" T("w", "F32", "[4]", 0, 16) "}", 16, &n);
  expect_load_error("truncated-data", f, n - 1,
                    "[load_safetensors] Tensor 'w' invalid data offsets (0, 16) exceeding "
                    "the size of the file. Perhaps an incomplete download or corrupt file?");
  free(f);

  /* files too short to hold the length: the messages differ by source */
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  char want[512];
  for (size_t len = 0; len < 8; len += 5) {
    const char* p = tmp_path("short.safetensors");
    test_write_bytes(p, "\x02\0\0\0\0", len);
    snprintf(want, sizeof want, "[load_safetensors] The file is only %zu bytes, too short "
             "for the 8-byte header length: file %s", len, p);
    EXPECT_ERROR(mlx_load_safetensors(&m, &md, p, test_stream), want);
  }
  membuf mb = mem_over("\x02\0\0", 3);
  mlx_io_reader rd = mlx_io_reader_new(&mb, mem_vtable);
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, rd, test_stream),
               "[load_safetensors] Unable to read the header length from memory.");
  mlx_io_reader_free(rd);
  free(mb.data);

  /* missing files and directories */
  const char* missing = tmp_path("missing.safetensors");
  snprintf(want, sizeof want, "[load_safetensors] Failed to open file %s", missing);
  EXPECT_ERROR(mlx_load_safetensors(&m, &md, missing, test_stream), want);
  snprintf(want, sizeof want,
           "[load_safetensors] Failed to open file %s (not a regular file)", tmp_dir);
  EXPECT_ERROR(mlx_load_safetensors(&m, &md, tmp_dir, test_stream), want);
  EXPECT_ERROR(mlx_load_safetensors(&m, &md, NULL, test_stream),
               "[load_safetensors] The file name is NULL.");
  EXPECT_ERROR(mlx_load_safetensors(NULL, &md, missing, test_stream),
               "[load_safetensors] The result pointer is NULL.");
  EXPECT_ERROR(mlx_load_safetensors(&m, &md, missing, (mlx_stream){NULL}),
               "[load_safetensors] The stream handle is empty.");
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, (mlx_io_reader){NULL}, test_stream),
               "[load_safetensors] The reader handle is empty.");
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

/* Readers that fail, or lack a callback. */
static void test_reader_failures(void) {
  size_t n;
  unsigned char* f = craft("{" T("w", "F32", "[4]", 0, 16) "}", 16, &n);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  membuf mb = mem_over(f, n);
  mb.fail_after = n - 4; /* the tensor's read fails */
  mlx_io_reader rd = mlx_io_reader_new(&mb, mem_vtable);
  char want[256];
  snprintf(want, sizeof want,
           "[load_safetensors] Unable to read 16 bytes at offset %zu from memory.", n - 16);
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, rd, test_stream), want);
  mlx_io_reader_free(rd);

  mlx_io_vtable partial = mem_vtable;
  partial.read_at_offset = NULL;
  mb.good = true;
  mb.fail_after = 0;
  rd = mlx_io_reader_new(&mb, partial);
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, rd, test_stream),
               "[load_safetensors] The reader has no read_at_offset callback.");
  mlx_io_reader_free(rd);

  mb.good = false; /* "not open" */
  rd = mlx_io_reader_new(&mb, mem_vtable);
  EXPECT_ERROR(mlx_load_safetensors_reader(&m, &md, rd, test_stream),
               "[load_safetensors] Failed to open memory");
  mlx_io_reader_free(rd);
  CHECK(mb.frees == 3);
  free(mb.data);
  free(f);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

/* Lenient where MLX is: gaps and unsorted offsets, null metadata, unknown
 * fields, the 8-bit float formats as raw uint8, trailing bytes. */
static void test_accepted_variants(void) {
  size_t n;
  unsigned char* f = craft(
      "{\"__metadata__\":null,"
      "\"late\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12],\"extra\":[1]},"
      "\"early\":{\"shape\":[2],\"data_offsets\":[0,2],\"dtype\":\"F8_E4M3\"},"
      "\"none\":{\"dtype\":\"F64\",\"shape\":[0,3],\"data_offsets\":[12,12]}}   \n\t",
      16, &n);
  const char* p = tmp_path("lenient.safetensors");
  test_write_bytes(p, f, n);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m, &md, p, test_stream));
  CHECK(map_count(m) == 3);
  int s2[1] = {2}, s03[2] = {0, 3};
  mlx_array a = get(m, "late"), b = get(m, "early"), c = get(m, "none");
  expect_same(a, MLX_UINT8, s2, 1, "\x0a\x0b", "late");
  expect_same(b, MLX_UINT8, s2, 1, "\x00\x01", "early");
  expect_same(c, MLX_FLOAT64, s03, 2, NULL, "none");
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
  free(f);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

/* Misaligned tensors are copied; aligned ones borrow the mapping, which
 * outlives the maps and goes away with the last array. */
static int mappings_of(const char* path) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    size_t k = strlen(line);
    if (k && line[k - 1] == '\n') line[--k] = 0;
    size_t pl = strlen(path);
    if (k >= pl && strcmp(line + k - pl, path) == 0) n++;
  }
  fclose(f);
  return n;
}

static void test_mapping_and_alignment(void) {
  /* the data section starts at a multiple of 8: h at 0 is aligned, f at 2
   * and d at 10 are not */
  size_t n;
  char header[256];
  snprintf(header, sizeof header, "{" T("h", "U16", "[1]", 0, 2) "," T("f", "F32", "[1]", 2, 6)
           "," T("d", "F64", "[1]", 10, 18) "}");
  while ((8 + strlen(header)) % 8 != 0) strcat(header, " ");
  unsigned char* f = craft(header, 18, &n);
  const char* p = tmp_path("align.safetensors");
  test_write_bytes(p, f, n);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m, &md, p, test_stream));
  mlx_array h = get(m, "h"), fl = get(m, "f"), d = get(m, "d");
  CHECK(h.ctx && borrows_file(h));
  CHECK(fl.ctx && !borrows_file(fl));
  CHECK(d.ctx && !borrows_file(d));
  CHECK(fl.ctx && (uintptr_t)mlx_array_data_float32(fl) % 4 == 0);
  CHECK(d.ctx && (uintptr_t)mlx_array_data_float64(d) % 8 == 0);
  const unsigned char* data = f + n - 18;
  expect_same(h, MLX_UINT16, (int[]){1}, 1, data, "h");
  expect_same(fl, MLX_FLOAT32, (int[]){1}, 1, data + 2, "f");
  expect_same(d, MLX_FLOAT64, (int[]){1}, 1, data + 10, "d");
  free(f);
  mlx_array_free(fl);
  mlx_array_free(d);
  CHECK(mappings_of(p) == 1);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
  CHECK(mappings_of(p) == 1); /* h still borrows it */
  const uint16_t* hv = mlx_array_data_uint16(h);
  CHECK(hv && *hv == 0x0100);
  mlx_array_free(h);
  CHECK(mappings_of(p) == 0);
}

/* Saving over a file whose tensors are still in use: the old arrays keep
 * the old contents (the rename leaves their mapping alone). */
static void test_resave_in_place(void) {
  const char* p = tmp_path("inplace.safetensors");
  float one[4] = {1, 2, 3, 4}, two[4] = {5, 6, 7, 8};
  int s[1] = {4};
  mlx_array a = test_array_f32(one, s, 1), b = test_array_f32(two, s, 1);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_map_string_to_array_insert(m, "w", a));
  CHECK_OK(mlx_save_safetensors(p, m, md));
  mlx_map_string_to_array loaded = mlx_map_string_to_array_new();
  CHECK_OK(mlx_load_safetensors(&loaded, &md, p, test_stream));
  mlx_array old = get(loaded, "w");
  CHECK(old.ctx && borrows_file(old));
  CHECK_OK(mlx_map_string_to_array_insert(m, "w", b));
  CHECK_OK(mlx_save_safetensors(p, m, md));
  expect_same(old, MLX_FLOAT32, s, 1, one, "old");
  mlx_map_string_to_array again = mlx_map_string_to_array_new();
  CHECK_OK(mlx_load_safetensors(&again, &md, p, test_stream));
  mlx_array fresh = get(again, "w");
  expect_same(fresh, MLX_FLOAT32, s, 1, two, "new");
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(old);
  mlx_array_free(fresh);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_array_free(loaded);
  mlx_map_string_to_array_free(again);
  mlx_map_string_to_string_free(md);
}

/* Saving replaces the target through a temporary file and leaves nothing
 * behind when it fails. */
static void test_save_errors(void) {
  mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
  float x[2] = {1, 2};
  int s[1] = {2};
  mlx_array a = test_array_f32(x, s, 1);
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "x", a));
  const char* target = tmp_path("target.safetensors");
  test_write_bytes(target, "old contents", 12);
  chmod(target, 0640);
  int before = dir_entries();
  CHECK_OK(mlx_save_safetensors(target, arrays, (mlx_map_string_to_string){NULL}));
  CHECK(dir_entries() == before);
  struct stat st;
  CHECK(stat(target, &st) == 0 && (st.st_mode & 0777) == 0640);
  size_t n;
  unsigned char* f = test_read_bytes(target, &n);
  CHECK(f && n > 12 && memcmp(f, "old contents", 12) != 0);
  free(f);

  /* a failing save leaves the old file as it was, and no temporary file */
  mlx_map_string_to_array bad = mlx_map_string_to_array_new();
  CHECK_OK(mlx_map_string_to_array_insert(bad, "ok", a));
  CHECK_OK(mlx_map_string_to_array_insert(bad, "\xff\xfe", a));
  EXPECT_ERROR(mlx_save_safetensors(target, bad, (mlx_map_string_to_string){NULL}),
               "[save_safetensors] Tensor name '\xff\xfe' is not valid UTF-8.");
  CHECK(dir_entries() == before);
  unsigned char* g = test_read_bytes(target, &n);
  f = g;
  mlx_map_string_to_array_free(bad);
  bad = mlx_map_string_to_array_new();
  CHECK_OK(mlx_map_string_to_array_insert(bad, "__metadata__", a));
  EXPECT_ERROR(mlx_save_safetensors(target, bad, (mlx_map_string_to_string){NULL}),
               "[save_safetensors] The name \"__metadata__\" is reserved for the metadata "
               "and cannot name a tensor.");
  size_t n2;
  g = test_read_bytes(target, &n2);
  CHECK(f && g && n == n2 && memcmp(f, g, n) == 0);
  free(f);
  free(g);
  CHECK(dir_entries() == before);
  mlx_map_string_to_string bad_meta = mlx_map_string_to_string_new();
  CHECK_OK(mlx_map_string_to_string_insert(bad_meta, "k", "\xc3"));
  EXPECT_ERROR(mlx_save_safetensors(target, arrays, bad_meta),
               "[save_safetensors] Metadata entry 'k' is not valid UTF-8.");
  CHECK(dir_entries() == before);

  char want[512];
  const char* nodir = tmp_path("nodir/x.safetensors");
  snprintf(want, sizeof want, "[save_safetensors] Failed to open file %s", nodir);
  EXPECT_ERROR(mlx_save_safetensors(nodir, arrays, (mlx_map_string_to_string){NULL}), want);
  EXPECT_ERROR(mlx_save_safetensors(target, (mlx_map_string_to_array){NULL},
                                    (mlx_map_string_to_string){NULL}),
               "[save_safetensors] The array map handle is empty.");
  EXPECT_ERROR(mlx_save_safetensors(NULL, arrays, (mlx_map_string_to_string){NULL}),
               "[save_safetensors] The file name is NULL.");

  /* a writer that fails part way */
  membuf out = {0};
  out.good = true;
  out.fail_after = 12;
  mlx_io_writer w = mlx_io_writer_new(&out, mem_vtable);
  EXPECT_ERROR_PREFIX(mlx_save_safetensors_writer(w, arrays, (mlx_map_string_to_string){NULL}),
                      "[save_safetensors] Unable to write ");
  mlx_io_writer_free(w);
  CHECK(out.frees == 1);
  free(out.data);
  EXPECT_ERROR(mlx_save_safetensors_writer((mlx_io_writer){NULL}, arrays,
                                           (mlx_map_string_to_string){NULL}),
               "[save_safetensors] The writer handle is empty.");
  mlx_array_free(a);
  mlx_map_string_to_array_free(arrays);
  mlx_map_string_to_array_free(bad);
  mlx_map_string_to_string_free(bad_meta);
}

int main(void) {
  test_init();
  if (!tmp_dir_make("/tmp/cmlx-safetensors-XXXXXX")) return 1;
  test_malformed_files();
  test_reader_failures();
  test_accepted_variants();
  test_mapping_and_alignment();
  test_save_errors();
  test_resave_in_place();
  remove_tmp_dir();
  return test_finish("test_safetensors_crafted");
}
