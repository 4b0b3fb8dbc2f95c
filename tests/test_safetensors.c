/* test_safetensors.c - safetensors loading and saving (mlx/c/io.h): round
 * trips and files MLX wrote (the crafted and malformed files, mappings and
 * save errors are in test_safetensors_crafted.c).
 *
 * Proves: every dtype and the metadata survive a save/load round trip byte
 * for byte (files and user writers/readers, lazy and non-contiguous inputs,
 * 0-d and empty arrays); the header we write is MLX's (sorted compact JSON)
 * padded to 8 bytes with aligned data; MLX-written files (the random
 * oracle, the tiny-llama checkpoint) load with the shapes, dtypes and bytes
 * that Python's struct module read from them when this test was written
 * (FNV-1a hashes and sums below). */
#include "safetensors_util.h"

/* ---- round trips ---- */

static void test_round_trip_every_dtype(void) {
  mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  unsigned char* data[N_DTYPES];
  unsigned char* scalars[N_DTYPES];
  int shape[2] = {3, 5};
  for (size_t i = 0; i < N_DTYPES; i++) {
    mlx_dtype t = all_dtypes[i];
    char name[64];
    data[i] = pattern(t, 15, (unsigned)i);
    scalars[i] = pattern(t, 1, 100 + (unsigned)i);
    mlx_array a = mlx_array_new_data(data[i], shape, 2, t);
    mlx_array s = mlx_array_new_data(scalars[i], NULL, 0, t);
    snprintf(name, sizeof name, "layer.%zu/w", i);
    CHECK_OK(mlx_map_string_to_array_insert(arrays, name, a));
    snprintf(name, sizeof name, "scalar.%zu", i);
    CHECK_OK(mlx_map_string_to_array_insert(arrays, name, s));
    mlx_array_free(a);
    mlx_array_free(s);
  }
  int empty_shape[3] = {2, 0, 3};
  mlx_array empty = mlx_array_new_data(NULL, empty_shape, 3, MLX_FLOAT32);
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "empty", empty));
  /* a broadcast (stride 0) input and a pending one */
  float row[3] = {1.5f, -2.0f, 3.25f};
  int row_shape[1] = {3}, wide[2] = {4, 3};
  mlx_array r = test_array_f32(row, row_shape, 1);
  mlx_array bc = mlx_array_new(), lazy = mlx_array_new();
  CHECK_OK(mlx_broadcast_to(&bc, r, wide, 2, test_stream));
  CHECK_OK(mlx_astype(&lazy, r, MLX_FLOAT64, test_stream));
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "broadcast", bc));
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "lazy", lazy));
  CHECK_OK(mlx_map_string_to_string_insert(meta, "format", "mlx"));
  CHECK_OK(mlx_map_string_to_string_insert(meta, "note", "tab\t \"quoted\" \\ ✓ \x01 end"));
  CHECK_OK(mlx_map_string_to_string_insert(meta, "", "empty key"));

  const char* path = tmp_path("all.safetensors");
  CHECK_OK(mlx_save_safetensors(path, arrays, meta));

  /* loading into maps that already hold something replaces their contents */
  mlx_map_string_to_array got = mlx_map_string_to_array_new();
  mlx_map_string_to_string got_meta = mlx_map_string_to_string_new();
  CHECK_OK(mlx_map_string_to_array_insert(got, "stale", r));
  CHECK_OK(mlx_map_string_to_string_insert(got_meta, "stale", "x"));
  CHECK_OK(mlx_load_safetensors(&got, &got_meta, path, test_stream));
  CHECK(map_count(got) == 2 * N_DTYPES + 3);
  mlx_array stale = get(got, "stale");
  CHECK(stale.ctx == NULL);
  const char* v = NULL;
  CHECK(mlx_map_string_to_string_get(&v, got_meta, "stale") == 2);
  CHECK(mlx_map_string_to_string_get(&v, got_meta, "format") == 0 && v && !strcmp(v, "mlx"));
  CHECK(mlx_map_string_to_string_get(&v, got_meta, "note") == 0 && v &&
        !strcmp(v, "tab\t \"quoted\" \\ ✓ \x01 end"));
  CHECK(mlx_map_string_to_string_get(&v, got_meta, "") == 0 && v && !strcmp(v, "empty key"));

  for (size_t i = 0; i < N_DTYPES; i++) {
    char name[64];
    snprintf(name, sizeof name, "layer.%zu/w", i);
    mlx_array a = get(got, name);
    expect_same(a, all_dtypes[i], shape, 2, data[i], name);
    /* everything we write is aligned, so nothing was copied */
    CHECK_MSG(a.ctx && borrows_file(a), "%s copied", name);
    mlx_array_free(a);
    snprintf(name, sizeof name, "scalar.%zu", i);
    a = get(got, name);
    expect_same(a, all_dtypes[i], NULL, 0, scalars[i], name);
    mlx_array_free(a);
  }
  mlx_array e = get(got, "empty");
  expect_same(e, MLX_FLOAT32, empty_shape, 3, NULL, "empty");
  mlx_array_free(e);
  float bc_want[12] = {1.5f, -2.0f, 3.25f, 1.5f, -2.0f, 3.25f,
                       1.5f, -2.0f, 3.25f, 1.5f, -2.0f, 3.25f};
  mlx_array b2 = get(got, "broadcast");
  expect_same(b2, MLX_FLOAT32, wide, 2, bc_want, "broadcast");
  mlx_array_free(b2);
  double lazy_want[3] = {1.5, -2.0, 3.25};
  mlx_array l2 = get(got, "lazy");
  expect_same(l2, MLX_FLOAT64, row_shape, 1, lazy_want, "lazy");
  mlx_array_free(l2);

  /* the same maps through a user writer give the same bytes, and a user
   * reader loads them back */
  membuf out = {0};
  out.good = true;
  mlx_io_writer w = mlx_io_writer_new(&out, mem_vtable);
  CHECK_OK(mlx_save_safetensors_writer(w, arrays, meta));
  mlx_string label = mlx_string_new();
  CHECK_OK(mlx_io_writer_tostring(&label, w));
  CHECK(!strcmp(mlx_string_data(label), "memory"));
  void* desc = NULL;
  CHECK_OK(mlx_io_writer_descriptor(&desc, w));
  CHECK(desc == &out);
  mlx_string_free(label);
  mlx_io_writer_free(w);
  CHECK(out.frees == 1);
  size_t file_len;
  unsigned char* file = test_read_bytes(path, &file_len);
  CHECK(file && file_len == out.len && memcmp(file, out.data, file_len) == 0);
  free(file);

  out.pos = 0;
  mlx_io_reader rd = mlx_io_reader_new(&out, mem_vtable);
  mlx_map_string_to_array got2 = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta2 = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors_reader(&got2, &meta2, rd, test_stream));
  mlx_io_reader_free(rd);
  CHECK(out.frees == 2);
  CHECK(map_count(got2) == 2 * N_DTYPES + 3);
  for (size_t i = 0; i < N_DTYPES; i++) {
    char name[64];
    snprintf(name, sizeof name, "layer.%zu/w", i);
    mlx_array a = get(got2, name);
    expect_same(a, all_dtypes[i], shape, 2, data[i], name);
    CHECK(a.ctx && !borrows_file(a));
    mlx_array_free(a);
  }
  CHECK(mlx_map_string_to_string_get(&v, meta2, "format") == 0 && v && !strcmp(v, "mlx"));
  free(out.data);

  for (size_t i = 0; i < N_DTYPES; i++) {
    free(data[i]);
    free(scalars[i]);
  }
  mlx_array_free(r);
  mlx_array_free(bc);
  mlx_array_free(lazy);
  mlx_array_free(empty);
  mlx_map_string_to_array_free(arrays);
  mlx_map_string_to_string_free(meta);
  mlx_map_string_to_array_free(got);
  mlx_map_string_to_string_free(got_meta);
  mlx_map_string_to_array_free(got2);
  mlx_map_string_to_string_free(meta2);
}

/* The exact bytes of a small file: MLX's compact JSON with sorted keys,
 * "__metadata__" first, spaces up to a multiple of 8, and the data laid out
 * by decreasing element size (F32 before U8) so each tensor is aligned. */
static void test_header_format(void) {
  mlx_map_string_to_array arrays = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  uint8_t bytes[3] = {7, 8, 9};
  float floats[2] = {1.0f, 2.0f};
  int s3[1] = {3}, s2[1] = {2};
  mlx_array a = mlx_array_new_data(bytes, s3, 1, MLX_UINT8);
  mlx_array b = test_array_f32(floats, s2, 1);
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "a", a));
  CHECK_OK(mlx_map_string_to_array_insert(arrays, "b", b));
  CHECK_OK(mlx_map_string_to_string_insert(meta, "format", "mlx"));
  /* no suffix: ".safetensors" is appended, as MLX does */
  CHECK_OK(mlx_save_safetensors(tmp_path("fmt"), arrays, meta));
  size_t n;
  unsigned char* f = test_read_bytes(tmp_path("fmt.safetensors"), &n);
  const char* header =
      "{\"__metadata__\":{\"format\":\"mlx\"},"
      "\"a\":{\"data_offsets\":[8,11],\"dtype\":\"U8\",\"shape\":[3]},"
      "\"b\":{\"data_offsets\":[0,8],\"dtype\":\"F32\",\"shape\":[2]}}";
  size_t hl = strlen(header), padded = (hl + 7) / 8 * 8;
  CHECK(f && n == 8 + padded + 11);
  if (f && n == 8 + padded + 11) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | f[i];
    CHECK(len == padded);
    CHECK(memcmp(f + 8, header, hl) == 0);
    for (size_t i = hl; i < padded; i++) CHECK(f[8 + i] == ' ');
    CHECK(memcmp(f + 8 + padded, floats, 8) == 0);
    CHECK(memcmp(f + 8 + padded + 8, bytes, 3) == 0);
  }
  free(f);
  /* no metadata: no "__metadata__" entry; an empty map saves as "{}" */
  mlx_map_string_to_array none = mlx_map_string_to_array_new();
  CHECK_OK(mlx_save_safetensors(tmp_path("none.safetensors"), none, meta));
  CHECK_OK(mlx_save_safetensors(tmp_path("none2.safetensors"), none,
                                (mlx_map_string_to_string){NULL}));
  f = test_read_bytes(tmp_path("none2.safetensors"), &n);
  CHECK(f && n == 16 && memcmp(f, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
  free(f);
  mlx_map_string_to_array got = mlx_map_string_to_array_new();
  mlx_map_string_to_string gm = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&got, &gm, tmp_path("none2.safetensors"), test_stream));
  CHECK(map_count(got) == 0);
  /* empty handles get new maps */
  mlx_map_string_to_array fresh = {NULL};
  mlx_map_string_to_string fresh_meta = {NULL};
  CHECK_OK(mlx_load_safetensors(&fresh, &fresh_meta, tmp_path("fmt.safetensors"), test_stream));
  CHECK(fresh.ctx && fresh_meta.ctx && map_count(fresh) == 2);
  const char* v = NULL;
  CHECK(mlx_map_string_to_string_get(&v, fresh_meta, "format") == 0 && v && !strcmp(v, "mlx"));
  mlx_map_string_to_array_free(fresh);
  mlx_map_string_to_string_free(fresh_meta);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_map_string_to_array_free(arrays);
  mlx_map_string_to_array_free(none);
  mlx_map_string_to_string_free(meta);
  mlx_map_string_to_array_free(got);
  mlx_map_string_to_string_free(gm);
}

/* ---- files MLX and PyTorch wrote ---- */

typedef struct known_tensor {
  const char* name;
  mlx_dtype dtype;
  int ndim;
  int shape[2];
  uint64_t fnv;  /* FNV-1a of the raw bytes */
  double sum;    /* float32 tensors: the sum of the values, in order */
} known_tensor;

/* From oracle/random.safetensors (MLX 0.32.2), read with Python's struct. */
static const known_tensor random_tensors[] = {
    {"bits16_key0_8", MLX_UINT16, 1, {8}, 0x19305a47a63b34a7ull, 0},
    {"bits32_key0_3x5", MLX_UINT32, 2, {3, 5}, 0xe25def299a1d9f67ull, 0},
    {"bits32_key0_7", MLX_UINT32, 1, {7}, 0x9b9afafc97e45c2eull, 0},
    {"bits32_key0_8", MLX_UINT32, 1, {8}, 0x63cbcf1e020191e1ull, 0},
    {"bits8_key0_8", MLX_UINT8, 1, {8}, 0x320c21e572164753ull, 0},
    {"key0", MLX_UINT32, 1, {2}, 0xa8c7f832281a39c5ull, 0},
    {"key1", MLX_UINT32, 1, {2}, 0x08cd4c29d1e47d34ull, 0},
    {"key42", MLX_UINT32, 1, {2}, 0xe93d2f7abf7c054full, 0},
    {"key_0x123456789abcdef", MLX_UINT32, 1, {2}, 0x5850c19868425c15ull, 0},
    {"normal_bf16_key0_8", MLX_BFLOAT16, 1, {8}, 0xbbbf3c1c3dca01baull, 0},
    {"normal_f16_key0_8", MLX_FLOAT16, 1, {8}, 0x938e7b4a0cf6d16dull, 0},
    {"normal_f32_key0_8", MLX_FLOAT32, 1, {8}, 0x362d9d5e73e3325bull, 2.103702947497368},
    {"normal_f32_key0_8_loc1_scale2", MLX_FLOAT32, 1, {8}, 0x8818fd42f31a1710ull, 12.207405686378479},
    {"normal_f32_key1_4x4", MLX_FLOAT32, 2, {4, 4}, 0x64c611d773bef29full, -10.2609468922019},
    {"normal_f32_key1_64x256_first16", MLX_FLOAT32, 1, {16}, 0x58cd8a92c001844dull, 3.380870969966054},
    {"normal_f32_key42_7", MLX_FLOAT32, 1, {7}, 0xc407543852d8757full, -1.7601006627082825},
    {"split2_key0/a", MLX_UINT32, 1, {2}, 0x0dda911958c94535ull, 0},
    {"split2_key0/b", MLX_UINT32, 1, {2}, 0xc38984d9c9774ff7ull, 0},
    {"split3_key42", MLX_UINT32, 2, {3, 2}, 0x2344dde4b80fe719ull, 0},
    {"split4_key0", MLX_UINT32, 2, {4, 2}, 0x63cbcf1e020191e1ull, 0},
    {"uniform_bf16_key0_8", MLX_BFLOAT16, 1, {8}, 0x7d0f86d24b9420f6ull, 0},
    {"uniform_f16_key0_8", MLX_FLOAT16, 1, {8}, 0xded6bd01ad9ccb61ull, 0},
    {"uniform_f32_key0_3x5", MLX_FLOAT32, 2, {3, 5}, 0x04262e1d33b2bbe0ull, 7.338458437472582},
    {"uniform_f32_key0_8", MLX_FLOAT32, 1, {8}, 0x62ce29782c42ba29ull, 4.338156089186668},
    {"uniform_f32_key1_7", MLX_FLOAT32, 1, {7}, 0xb664194feecb24b5ull, 3.1300173476338387},
    {"uniform_f32_key42_lo-2_hi3_6", MLX_FLOAT32, 1, {6}, 0x3b835908ed85226bull, 5.081743240356445},
};

/* From fixtures/tiny-llama/model.safetensors (written by PyTorch). */
static const known_tensor llama_tensors[] = {
    {"lm_head.weight", MLX_FLOAT32, 2, {512, 128}, 0xf2b971782288bc7bull, -11.724611448264156},
    {"model.embed_tokens.weight", MLX_FLOAT32, 2, {512, 128}, 0x5fd243913483e54cull, 0.24393666615537768},
    {"model.layers.0.input_layernorm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
    {"model.layers.0.mlp.down_proj.weight", MLX_FLOAT32, 2, {128, 256}, 0xb326c3f3f2405fc5ull, -0.5954847421809291},
    {"model.layers.0.mlp.gate_proj.weight", MLX_FLOAT32, 2, {256, 128}, 0xbf1f3ef1d4b3df24ull, 4.2192814265839615},
    {"model.layers.0.mlp.up_proj.weight", MLX_FLOAT32, 2, {256, 128}, 0x6100ed9f2325daeaull, -3.7684398842173064},
    {"model.layers.0.post_attention_layernorm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
    {"model.layers.0.self_attn.k_proj.weight", MLX_FLOAT32, 2, {64, 128}, 0xd467ea8372f3d356ull, 1.3437132184005804},
    {"model.layers.0.self_attn.o_proj.weight", MLX_FLOAT32, 2, {128, 128}, 0xbf822054fcbeadb8ull, 2.753677866020098},
    {"model.layers.0.self_attn.q_proj.weight", MLX_FLOAT32, 2, {128, 128}, 0xc83fa957a73eda42ull, 1.29916011000023},
    {"model.layers.0.self_attn.v_proj.weight", MLX_FLOAT32, 2, {64, 128}, 0x4bf86e57a38a34ddull, -0.46308253487771367},
    {"model.layers.1.input_layernorm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
    {"model.layers.1.mlp.down_proj.weight", MLX_FLOAT32, 2, {128, 256}, 0x39d36a5eb9b7ee6full, 3.0375464904942646},
    {"model.layers.1.mlp.gate_proj.weight", MLX_FLOAT32, 2, {256, 128}, 0x0b363d3a82d4651dull, 0.6149984616482698},
    {"model.layers.1.mlp.up_proj.weight", MLX_FLOAT32, 2, {256, 128}, 0x0e8581c401e5c5abull, -1.2672639916252706},
    {"model.layers.1.post_attention_layernorm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
    {"model.layers.1.self_attn.k_proj.weight", MLX_FLOAT32, 2, {64, 128}, 0x2e0089fa53aa37f8ull, -4.379837380370645},
    {"model.layers.1.self_attn.o_proj.weight", MLX_FLOAT32, 2, {128, 128}, 0xa7961b0bbdd4ccaaull, 3.4846243416184848},
    {"model.layers.1.self_attn.q_proj.weight", MLX_FLOAT32, 2, {128, 128}, 0x0e6b2dac8f9dceacull, -1.0319266671255605},
    {"model.layers.1.self_attn.v_proj.weight", MLX_FLOAT32, 2, {64, 128}, 0x3bbce7c2e3e61d46ull, 0.21464134280836333},
    {"model.norm.weight", MLX_FLOAT32, 1, {128}, 0x889c90709a74b725ull, 128.0},
};

static void check_known(mlx_map_string_to_array m, const known_tensor* t, size_t n,
                        bool expect_borrowed) {
  CHECK(map_count(m) == n);
  for (size_t i = 0; i < n; i++) {
    mlx_array a = get(m, t[i].name);
    CHECK_MSG(a.ctx != NULL, "%s missing", t[i].name);
    if (!a.ctx) continue;
    CHECK_MSG(mlx_array_dtype(a) == t[i].dtype, "%s dtype", t[i].name);
    CHECK_MSG(test_shape_is(a, t[i].shape, t[i].ndim), "%s shape", t[i].name);
    const void* p = bytes_of(a);
    CHECK_MSG(p && fnv1a(p, mlx_array_nbytes(a)) == t[i].fnv, "%s bytes", t[i].name);
    /* single bytes are always aligned */
    bool borrowed = expect_borrowed || mlx_dtype_size(t[i].dtype) == 1;
    CHECK_MSG(borrows_file(a) == borrowed, "%s borrowed", t[i].name);
    if (t[i].dtype == MLX_FLOAT32 && p) {
      double s = 0;
      for (size_t k = 0; k < mlx_array_size(a); k++) s += ((const float*)p)[k];
      CHECK_MSG(s == t[i].sum, "%s sum %.17g", t[i].name, s);
    }
    mlx_array_free(a);
  }
}

/* Saving what we loaded and loading it again gives the same tensors. */
static void check_resave(mlx_map_string_to_array m, mlx_map_string_to_string md,
                         const known_tensor* t, size_t n) {
  const char* p = tmp_path("resaved.safetensors");
  CHECK_OK(mlx_save_safetensors(p, m, md));
  mlx_map_string_to_array m2 = mlx_map_string_to_array_new();
  mlx_map_string_to_string md2 = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m2, &md2, p, test_stream));
  check_known(m2, t, n, true);
  mlx_map_string_to_array_free(m2);
  mlx_map_string_to_string_free(md2);
  unlink(p);
}

static void test_random_oracle(void) {
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m, &md, CMLX_TEST_DATA "/random.safetensors", test_stream));
  const char* v = NULL;
  CHECK(mlx_map_string_to_string_get(&v, md, "generator") == 0 && v &&
        !strcmp(v, "oracle/gen.cpp"));
  /* MLX's header is 1927 bytes and its offsets even: nothing wider than a
   * byte is aligned, so those tensors are copied */
  check_known(m, random_tensors, sizeof random_tensors / sizeof random_tensors[0], false);
  /* keys are (seed >> 32, seed & 0xffffffff) */
  struct {
    const char* name;
    uint32_t hi, lo;
  } keys[] = {{"key0", 0, 0}, {"key1", 0, 1}, {"key42", 0, 42},
              {"key_0x123456789abcdef", 0x01234567u, 0x89abcdefu}};
  for (int i = 0; i < 4; i++) {
    mlx_array k = get(m, keys[i].name);
    const uint32_t* p = k.ctx ? mlx_array_data_uint32(k) : NULL;
    CHECK_MSG(p && p[0] == keys[i].hi && p[1] == keys[i].lo, "%s", keys[i].name);
    mlx_array_free(k);
  }
  check_resave(m, md, random_tensors, sizeof random_tensors / sizeof random_tensors[0]);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

static void test_tiny_llama(void) {
  const char* path = CMLX_TEST_DATA "/fixtures/tiny-llama/model.safetensors";
  if (access(path, R_OK) != 0) {
    CHECK_MSG(0, "%s is not present", path);
    return;
  }
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_map_string_to_string md = mlx_map_string_to_string_new();
  CHECK_OK(mlx_load_safetensors(&m, &md, path, test_stream));
  const char* v = NULL;
  CHECK(mlx_map_string_to_string_get(&v, md, "format") == 0 && v && !strcmp(v, "pt"));
  /* PyTorch pads its header to 8 bytes: every tensor borrows the mapping */
  check_known(m, llama_tensors, sizeof llama_tensors / sizeof llama_tensors[0], true);
  check_resave(m, md, llama_tensors, sizeof llama_tensors / sizeof llama_tensors[0]);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_string_free(md);
}

int main(void) {
  test_init();
  if (!tmp_dir_make("/tmp/cmlx-safetensors-XXXXXX")) return 1;
  test_round_trip_every_dtype();
  test_header_format();
  test_random_oracle();
  test_tiny_llama();
  remove_tmp_dir();
  return test_finish("test_safetensors");
}
