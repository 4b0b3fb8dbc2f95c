/* test_tool.c - the `cmlx` program (tools/), run as a user would run it.
 *
 * - `cmlx convert` of the tiny Llama fixture, in float, affine 4-bit,
 *   mxfp4 and with --dtype bfloat16, into a temporary directory. Each
 *   written directory round-trips: its tensors equal, bit for bit, those of
 *   the fixture loaded and quantized in memory then saved; loading it and
 *   saving it again gives the same tensors; the loaded model's logits equal
 *   the in-memory model's exactly. The float one's tensors equal the
 *   fixture's own (the same names for Llama).
 * - `cmlx info` on a converted directory.
 * - `cmlx generate --prompt-ids ... --max-tokens 8 --temp 0` reproduces the
 *   fixture's greedy continuation (transformers' generate).
 * - With a tokenizer (tests/data/tokenizers/gpt2 plus added tokens for
 *   ids 397-511, so that every id the model can produce decodes): convert
 *   copies the tokenizer's files, and `generate --prompt` streams the text
 *   that decoding its token ids (--print-ids) gives.
 * - Bad arguments and directories: exit status 1 and one message.
 * The path of the program comes from CMake (CMLX_TOOL_PATH). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmlx/io.h"
#include "cmlx/model.h"
#include "cmlx/tokenizer.h"
#include "harness.h"

#ifndef CMLX_TOOL_PATH
#error "CMLX_TOOL_PATH (the cmlx program) is set by tests/CMakeLists.txt"
#endif

#define FIXTURE CMLX_TEST_DATA "/fixtures/tiny-llama"

static char tmp[256];
static char out_text[1 << 16], err_text[1 << 16];

static void read_all(const char* path, char* buf, size_t cap) {
  buf[0] = 0;
  FILE* f = fopen(path, "rb");
  if (!f) return;
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
}

/* Runs the tool with args (NULL-terminated); returns its exit status (-1 if
 * it did not exit normally); stdout / stderr land in out_text / err_text. */
static int run_tool(const char* const* args) {
  char out_path[300], err_path[300];
  snprintf(out_path, sizeof out_path, "%s/stdout", tmp);
  snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
  const char* argv[32];
  int n = 0;
  argv[n++] = CMLX_TOOL_PATH;
  for (; args[n - 1] && n < 31; n++) argv[n] = args[n - 1];
  argv[n] = NULL;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0) _exit(127);
    dup2(o, 1);
    dup2(e, 2);
    execv(CMLX_TOOL_PATH, (char* const*)argv);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
  read_all(out_path, out_text, sizeof out_text);
  read_all(err_path, err_text, sizeof err_text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define TOOL(...) run_tool((const char* const[]){__VA_ARGS__, NULL})

/* Exit status 1 and exactly this text on stderr, nothing on stdout. */
#define EXPECT_TOOL_ERROR(msg, ...)                                         \
  do {                                                                      \
    int rc_ = TOOL(__VA_ARGS__);                                            \
    CHECK_MSG(rc_ == 1, "exit status %d, expected 1 (stderr: %s)", rc_,     \
              err_text);                                                    \
    CHECK_MSG(strcmp(err_text, msg "\n") == 0, "stderr \"%s\", expected "   \
              "\"%s\"", err_text, msg);                                     \
    CHECK_MSG(out_text[0] == 0, "stdout \"%s\"", out_text);                 \
  } while (0)

static char* path_in(const char* name) {
  static char bufs[8][400];
  static int k;
  char* p = bufs[k++ % 8];
  snprintf(p, 400, "%s/%s", tmp, name);
  return p;
}

static bool exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static int rm_entry(const char* path, const struct stat* st, int flag,
                    struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* ---- comparing checkpoints ---- */

/* The bytes of a (16-bit floats through a uint16 view, kept in *keep). */
static const void* bytes_of(mlx_array a, mlx_array* keep) {
  switch (mlx_array_dtype(a)) {
    case MLX_UINT8: return mlx_array_data_uint8(a);
    case MLX_UINT32: return mlx_array_data_uint32(a);
    case MLX_INT32: return mlx_array_data_int32(a);
    case MLX_FLOAT32: return mlx_array_data_float32(a);
    case MLX_FLOAT16:
    case MLX_BFLOAT16:
      if (mlx_view(keep, a, MLX_UINT16, test_stream)) return NULL;
      return mlx_array_data_uint16(*keep);
    default: return NULL;
  }
}

static bool same_array(mlx_array a, mlx_array b) {
  if (mlx_array_dtype(a) != mlx_array_dtype(b) ||
      mlx_array_ndim(a) != mlx_array_ndim(b) ||
      mlx_array_nbytes(a) != mlx_array_nbytes(b))
    return false;
  for (size_t i = 0; i < mlx_array_ndim(a); i++)
    if (mlx_array_dim(a, (int)i) != mlx_array_dim(b, (int)i)) return false;
  mlx_array ka = mlx_array_new(), kb = mlx_array_new();
  const void* x = bytes_of(a, &ka);
  const void* y = bytes_of(b, &kb);
  bool same = x && y && memcmp(x, y, mlx_array_nbytes(a)) == 0;
  mlx_array_free(ka);
  mlx_array_free(kb);
  return same;
}

/* Every tensor of checkpoint a is in b with the same dtype, shape and
 * bytes (and, when both_ways, b has no other). cast: compare with a's
 * tensors cast to that dtype (MLX_BOOL: no cast). Returns the number of
 * tensors compared. */
static int compare_dirs(const char* a_dir, const char* b_dir, bool both_ways,
                        mlx_dtype cast) {
  mlx_map_string_to_array a = mlx_map_string_to_array_new(),
                          b = mlx_map_string_to_array_new();
  mlx_map_string_to_string ma = mlx_map_string_to_string_new(),
                           mb = mlx_map_string_to_string_new();
  CHECK_OK(cmlx_load_safetensors_dir(&a, &ma, a_dir, test_stream));
  CHECK_OK(cmlx_load_safetensors_dir(&b, &mb, b_dir, test_stream));
  int count = 0, na = 0, nb = 0;
  mlx_map_string_to_array_iterator it = mlx_map_string_to_array_iterator_new(a);
  const char* key;
  mlx_array va = mlx_array_new(), vb = mlx_array_new(), c = mlx_array_new();
  while (mlx_map_string_to_array_iterator_next(&key, &va, it) == 0) {
    na++;
    bool found = mlx_map_string_to_array_get(&vb, b, key) == 0;
    CHECK_MSG(found, "%s: %s missing in %s", a_dir, key, b_dir);
    if (!found) continue;
    mlx_array_set(&c, va);
    if (cast != MLX_BOOL && (mlx_array_dtype(va) == MLX_FLOAT32 ||
                             mlx_array_dtype(va) == MLX_FLOAT16 ||
                             mlx_array_dtype(va) == MLX_BFLOAT16))
      CHECK_OK(mlx_astype(&c, va, cast, test_stream));
    CHECK_MSG(same_array(c, vb), "%s differs between %s and %s", key, a_dir,
              b_dir);
    count++;
  }
  mlx_map_string_to_array_iterator_free(it);
  it = mlx_map_string_to_array_iterator_new(b);
  while (mlx_map_string_to_array_iterator_next(&key, &vb, it) == 0) nb++;
  mlx_map_string_to_array_iterator_free(it);
  if (both_ways) CHECK_MSG(na == nb, "%s has %d tensors, %s %d", a_dir, na,
                           b_dir, nb);
  mlx_array_free(va);
  mlx_array_free(vb);
  mlx_array_free(c);
  mlx_map_string_to_array_free(a);
  mlx_map_string_to_array_free(b);
  mlx_map_string_to_string_free(ma);
  mlx_map_string_to_string_free(mb);
  return count;
}

static mlx_array prompt_ids, greedy_ids;

/* logits for the reference prompt, evaluated */
static mlx_array logits_of(cmlx_model* m) {
  mlx_array tokens = mlx_array_new(), logits = mlx_array_new();
  int shape[2] = {1, mlx_array_dim(prompt_ids, 0)};
  CHECK_OK(mlx_reshape(&tokens, prompt_ids, shape, 2, test_stream));
  CHECK_OK(cmlx_model_forward(&logits, m, tokens, NULL, test_stream));
  CHECK_OK(mlx_array_eval(logits));
  mlx_array_free(tokens);
  return logits;
}

typedef struct variant {
  const char* fixture;
  const char* name;
  const char* mode; /* NULL: float */
  int bits, group;
  const char* dtype; /* --dtype, or NULL */
} variant;

static void check_variant(const variant* v) {
  const char* out = path_in(v->name);
  char bits[8], group[8];
  snprintf(bits, sizeof bits, "%d", v->bits);
  snprintf(group, sizeof group, "%d", v->group);
  int rc;
  if (v->mode)
    rc = TOOL("convert", v->fixture, out, "-q", "--q-bits", bits,
              "--q-group-size", group, "--q-mode", v->mode);
  else if (v->dtype)
    rc = TOOL("convert", v->fixture, out, "--dtype", v->dtype);
  else
    rc = TOOL("convert", v->fixture, out);
  CHECK_MSG(rc == 0, "convert %s: status %d: %s", v->name, rc, err_text);
  if (rc != 0) return;
  char cfg[450];
  snprintf(cfg, sizeof cfg, "%s/config.json", out);
  CHECK(exists(cfg));

  /* the same conversion in memory, saved next to it */
  cmlx_model *ref = NULL, *back = NULL;
  CHECK_OK(cmlx_model_load(&ref, v->fixture, test_stream));
  if (!ref) return;
  if (v->mode)
    CHECK_OK(cmlx_model_quantize(ref, v->group, v->bits, v->mode, NULL,
                                 NULL));
  char ref_name[64], again_name[64];
  snprintf(ref_name, sizeof ref_name, "%s-ref", v->name);
  snprintf(again_name, sizeof again_name, "%s-again", v->name);
  const char* ref_dir = path_in(ref_name);
  const char* again_dir = path_in(again_name);
  if (!v->dtype) {
    CHECK_OK(cmlx_model_save(ref, ref_dir));
    CHECK(compare_dirs(out, ref_dir, true, MLX_BOOL) > 0);
  }

  /* load what the tool wrote, save it again: the same tensors */
  CHECK_OK(cmlx_model_load(&back, out, test_stream));
  if (back) {
    CHECK_OK(cmlx_model_save(back, again_dir));
    CHECK(compare_dirs(out, again_dir, true, MLX_BOOL) > 0);
    cmlx_model_info info;
    CHECK_OK(cmlx_model_get_info(&info, back));
    CHECK(info.quantized == (v->mode != NULL));
    if (v->mode) {
      CHECK(info.num_quantized_layers > 0);
      CHECK(info.quant.bits == v->bits);
      CHECK(info.quant.group_size == v->group);
      CHECK(info.quant.mode && strcmp(info.quant.mode, v->mode) == 0);
      CHECK(info.num_float_layers == 0);
    }
    CHECK(info.dtype == (v->dtype ? MLX_BFLOAT16 : MLX_FLOAT32));
    if (!v->dtype) {
      /* the loaded model computes exactly what the in-memory one does */
      mlx_array a = logits_of(ref), b = logits_of(back);
      CHECK_MSG(same_array(a, b), "%s: logits differ", v->name);
      mlx_array_free(a);
      mlx_array_free(b);
    }
    cmlx_model_free(back);
  }
  cmlx_model_free(ref);
  /* float and cast copies hold the fixture's own tensors */
  if (!v->mode && strcmp(v->fixture, FIXTURE) == 0)
    CHECK(compare_dirs(FIXTURE "/model.safetensors", out, false,
                       v->dtype ? MLX_BFLOAT16 : MLX_BOOL) >= 19);
}

static void test_convert(void) {
  const char* gpt_oss = CMLX_TEST_DATA "/fixtures/tiny-gpt-oss";
  const variant vs[] = {{FIXTURE, "f32", NULL, 0, 0, NULL},
                        {FIXTURE, "affine4", "affine", 4, 64, NULL},
                        {FIXTURE, "mxfp4", "mxfp4", 4, 32, NULL},
                        {FIXTURE, "bf16", NULL, 0, 0, "bfloat16"},
                        /* GPT-OSS: its router in affine 8-bit, as with no
                           predicate (mlx-lm's rule) */
                        {gpt_oss, "gpt-oss-mxfp4", "mxfp4", 4, 32, NULL}};
  for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) check_variant(&vs[i]);
  /* an existing output directory is refused */
  int rc = TOOL("convert", FIXTURE, path_in("f32"));
  CHECK(rc == 1 && strstr(err_text, "/f32 already exists: give a new "
                                    "directory\n") != NULL);
}

static void test_info(void) {
  int rc0 = TOOL("info", path_in("gpt-oss-mxfp4"));
  CHECK_MSG(rc0 == 0, "info: status %d: %s", rc0, err_text);
  CHECK(strstr(out_text, "architecture:  gpt_oss\n") != NULL);
  CHECK(strstr(out_text, "experts:       4, 2 per token\n") != NULL);
  CHECK(strstr(out_text, "affine 8-bit g64") != NULL); /* the router */
  CHECK(strstr(out_text, "experts   mxfp4 4-bit g32") != NULL);
  int rc = TOOL("info", path_in("affine4"));
  CHECK_MSG(rc == 0, "info: status %d: %s", rc, err_text);
  CHECK(strstr(out_text, "architecture:  llama\n") != NULL);
  CHECK(strstr(out_text, "quantization:  affine, 4 bits, group 64") != NULL);
  CHECK(strstr(out_text, "model.layers.*.mlp.down_proj") != NULL);
  /* 2 layers of [256 -> 128] in affine 4-bit g64: uint32 [128, 32] and
     float32 scales and biases [128, 4], twice */
  CHECK(strstr(out_text, "affine 4-bit g64     256 -> 128                "
                         "41.0 kB\n") != NULL);
  CHECK(strstr(out_text, "model.safetensors") != NULL);
  rc = TOOL("info", FIXTURE);
  CHECK(rc == 0);
  CHECK(strstr(out_text, "quantization:  none") != NULL);
}

static void test_bench(void) {
  /* the bandwidth given (measuring 1 GiB twice is slow under ASan) */
  int rc = TOOL("bench", path_in("affine4"), "--prompt-tokens", "8",
                "--decode-tokens", "4", "--repeat", "2", "--read-bw", "10");
  CHECK_MSG(rc == 0, "bench: status %d: %s", rc, err_text);
  CHECK(strstr(out_text, "\"case\":\"prefill\"") != NULL);
  const char* d = strstr(out_text, "\"case\":\"decode\"");
  CHECK(d != NULL);
  /* the bytes a decoded token reads: every weight but the input
     embedding's other rows, and the K/V cache of 2 layers x 2 heads x 32
     dims at context 8 + 4 / 2 in float32 */
  if (d) {
    CHECK(strstr(d, "\"q_mode\":\"affine\",\"q_bits\":4") != NULL);
    CHECK(strstr(d, "\"kv_bytes_per_token\":10240,") != NULL);
    CHECK(strstr(d, "\"read_bw_GBps\":10,") != NULL);
    CHECK(strstr(d, "\"fraction_of_roofline\":") != NULL);
    /* weights: all 16 quantized layers but the embedding's other rows;
       roofline = 10 GB/s / (weights + kv) */
    const char* kw = "\"weight_bytes_per_token\":";
    const char* ka = "\"weight_bytes\":";
    const char* kr = "\"roofline_tokens_per_s\":";
    const char* w = strstr(d, kw);
    const char* all = strstr(d, ka);
    const char* roof = strstr(d, kr);
    CHECK(w && all && roof);
    if (w && all && roof) {
      double wb = atof(w + strlen(kw)), ab = atof(all + strlen(ka)),
             rf = atof(roof + strlen(kr));
      /* tiny-llama affine 4-bit g64 embedding [512, 128]: packed uint32
         [512, 16] + float32 scales and biases [512, 2] = 49152 bytes */
      double emb = 512 * 16 * 4 + 2 * 512 * 2 * 4;
      CHECK_MSG(wb == ab - emb + emb / 512, "%g vs %g", wb, ab - emb + emb / 512);
      CHECK_MSG(fabs(rf - 10e9 / (wb + 10240)) <= 1e-3 * rf, "%g", rf);
    }
  }
}

static void test_generate(void) {
  int n = mlx_array_dim(prompt_ids, 0);
  const int32_t* p = mlx_array_data_int32(prompt_ids);
  const int32_t* g = mlx_array_data_int32(greedy_ids);
  if (!p || !g) {
    CHECK(false);
    return;
  }
  static char ids[4096], want[512];
  size_t o = 0, w = 0;
  for (int i = 0; i < n; i++)
    o += (size_t)snprintf(ids + o, sizeof ids - o, i ? ",%d" : "%d", p[i]);
  for (int i = n; i < mlx_array_dim(greedy_ids, 0); i++)
    w += (size_t)snprintf(want + w, sizeof want - w, i > n ? " %d" : "%d",
                          g[i]);
  snprintf(want + w, sizeof want - w, "\n");
  const char* dirs[2] = {FIXTURE, path_in("f32")};
  for (int k = 0; k < 2; k++) {
    int rc = TOOL("generate", "--model", dirs[k], "--prompt-ids", ids,
                  "--max-tokens", "8", "--temp", "0");
    CHECK_MSG(rc == 0, "generate: status %d: %s", rc, err_text);
    CHECK_MSG(strcmp(out_text, want) == 0, "generated \"%s\", expected \"%s\"",
              out_text, want);
    CHECK(strstr(err_text, "Prompt: 40 tokens, ") != NULL);
    CHECK(strstr(err_text, "Generation: 8 tokens, ") != NULL);
    CHECK(strstr(err_text, "Peak memory: ") != NULL);
  }
  /* sampling with a seed is reproducible */
  int rc = TOOL("generate", "--model", FIXTURE, "--prompt-ids", "1,2,3",
                "--max-tokens", "6", "--temp", "0.8", "--top-p", "0.9",
                "--seed", "5");
  CHECK(rc == 0);
  static char first[sizeof out_text];
  memcpy(first, out_text, sizeof first);
  rc = TOOL("generate", "--model", FIXTURE, "--prompt-ids", "1,2,3",
            "--max-tokens", "6", "--temp", "0.8", "--top-p", "0.9", "--seed",
            "5");
  CHECK(rc == 0 && strcmp(first, out_text) == 0 && first[0] != '\n');
}

/* The whole file (malloc'd, NUL-terminated), its size in *n. */
static char* slurp(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) {
    buf[len] = 0;
    *n = (size_t)len;
  }
  return buf;
}

static bool spit(const char* path, const char* data, size_t n) {
  FILE* f = fopen(path, "wb");
  if (!f) return false;
  bool ok = fwrite(data, 1, n, f) == n;
  return fclose(f) == 0 && ok;
}

static bool copy_to(const char* from, const char* dir, const char* name) {
  size_t n = 0;
  char* data = slurp(from, &n);
  char to[600];
  snprintf(to, sizeof to, "%s/%s", dir, name);
  bool ok = data && spit(to, data, n);
  free(data);
  return ok;
}

static bool same_file(const char* a, const char* b) {
  size_t na = 0, nb = 0;
  char* x = slurp(a, &na);
  char* y = slurp(b, &nb);
  bool same = x && y && na == nb && memcmp(x, y, na) == 0;
  free(x);
  free(y);
  return same;
}

/* Copies the file from into dir/name with text inserted right after the
 * first occurrence of key. */
static bool copy_inserting(const char* from, const char* key,
                           const char* text, const char* dir,
                           const char* name) {
  size_t n = 0;
  char* src = slurp(from, &n);
  char* at = src ? strstr(src, key) : NULL;
  CHECK_MSG(at != NULL, "%s has no %s", from, key);
  bool ok = false;
  char* out = at ? malloc(n + strlen(text)) : NULL;
  if (out) {
    size_t head = (size_t)(at - src) + strlen(key), t = strlen(text);
    memcpy(out, src, head);
    memcpy(out + head, text, t);
    memcpy(out + head + t, src + head, n - head);
    char to[600];
    snprintf(to, sizeof to, "%s/%s", dir, name);
    ok = spit(to, out, n + t);
  }
  free(out);
  free(src);
  return ok;
}

/* `convert --dtype` writes the new dtype into config.json's "torch_dtype";
 * without --dtype the config keeps its own. */
static void test_convert_torch_dtype(void) {
  const char* hf = path_in("hf-dtype");
  CHECK(mkdir(hf, 0755) == 0);
  CHECK(copy_to(FIXTURE "/model.safetensors", hf, "model.safetensors"));
  CHECK(copy_inserting(FIXTURE "/config.json",
                       "\"tie_word_embeddings\": false,",
                       "\n  \"torch_dtype\": \"float32\",", hf,
                       "config.json"));
  char path[600];
  size_t n = 0;
  const struct {
    const char* out;
    const char* dtype; /* --dtype, or NULL */
    const char* want;
  } cases[3] = {{"dtype-kept", NULL, "float32"},
                {"dtype-f16", "float16", "float16"},
                {"dtype-bf16", "bfloat16", "bfloat16"}};
  for (int i = 0; i < 3; i++) {
    const char* out = path_in(cases[i].out);
    int rc = cases[i].dtype
                 ? TOOL("convert", hf, out, "--dtype", cases[i].dtype)
                 : TOOL("convert", hf, out);
    CHECK_MSG(rc == 0, "convert %s: %s", cases[i].out, err_text);
    snprintf(path, sizeof path, "%s/config.json", out);
    char* text = slurp(path, &n);
    char want[64];
    snprintf(want, sizeof want, "\n    \"torch_dtype\": \"%s\",\n",
             cases[i].want);
    CHECK_MSG(text && strstr(text, want), "%s: %s", cases[i].out,
              text ? text : "(no config.json)");
    free(text);
  }
}

static void test_tokenizer(void) {
  const char* hf = path_in("hf");
  const char* mlx = path_in("hf-mlx");
  CHECK(mkdir(hf, 0755) == 0);
  CHECK(copy_to(FIXTURE "/config.json", hf, "config.json"));
  CHECK(copy_to(FIXTURE "/model.safetensors", hf, "model.safetensors"));
  /* gpt2's test tokenizer has ids 0-396 and added tokens from 1000 */
  size_t cap = 115 * 160 + 1, o = 0;
  char* added = malloc(cap);
  if (!added) return;
  for (int id = 397; id < 512; id++)
    o += (size_t)snprintf(added + o, cap - o,
                          "{\"id\": %d, \"content\": \"<x%d>\", "
                          "\"single_word\": false, \"lstrip\": false, "
                          "\"rstrip\": false, \"normalized\": false, "
                          "\"special\": false}, ",
                          id, id);
  CHECK(copy_inserting(CMLX_TEST_DATA "/tokenizers/gpt2/tokenizer.json",
                       "\"added_tokens\": [", added, hf, "tokenizer.json"));
  free(added);
  char path[600];
  const char* cfg =
      "{\"add_bos_token\": false, \"add_eos_token\": false, "
      "\"eos_token\": \"</s>\"}\n";
  snprintf(path, sizeof path, "%s/tokenizer_config.json", hf);
  CHECK(spit(path, cfg, strlen(cfg)));

  int rc = TOOL("convert", hf, mlx);
  CHECK_MSG(rc == 0, "convert: %s", err_text);
  CHECK(strstr(err_text, "(2 tokenizer files copied)") != NULL);
  char a[600], b[600];
  const char* names[2] = {"tokenizer.json", "tokenizer_config.json"};
  for (int i = 0; i < 2; i++) {
    snprintf(a, sizeof a, "%s/%s", hf, names[i]);
    snprintf(b, sizeof b, "%s/%s", mlx, names[i]);
    CHECK_MSG(same_file(a, b), "%s not copied", names[i]);
  }

  const char* prompt = "the dog sat on a mat";
  rc = TOOL("generate", "--model", mlx, "--prompt", prompt, "--max-tokens",
            "12", "--print-ids");
  CHECK_MSG(rc == 0, "generate: %s", err_text);
  static char ids_text[4096];
  memcpy(ids_text, out_text, sizeof ids_text - 1);
  rc = TOOL("generate", "--model", mlx, "--prompt", prompt, "--max-tokens",
            "12");
  CHECK_MSG(rc == 0, "generate: %s", err_text);

  cmlx_tokenizer t = {NULL};
  CHECK_OK(cmlx_tokenizer_load(&t, mlx));
  if (!t.ctx) return;
  int32_t ids[64];
  size_t count = 0;
  for (char* p = ids_text; *p && *p != '\n' && count < 64;) {
    ids[count++] = (int32_t)strtol(p, &p, 10);
    while (*p == ' ') p++;
  }
  CHECK(count == 12);
  char* text = NULL;
  size_t len = 0;
  CHECK_OK(cmlx_tokenizer_decode(t, ids, count, true, &text, &len));
  CHECK_MSG(text && strlen(out_text) == len + 1 &&
                memcmp(out_text, text, len) == 0 && out_text[len] == '\n',
            "generated \"%s\", decoding its ids gives \"%s\"", out_text,
            text ? text : "");
  free(text);
  /* the prompt's token count is what the tokenizer makes of it */
  int32_t* pids = NULL;
  size_t np = 0;
  CHECK_OK(cmlx_tokenizer_encode(t, prompt, strlen(prompt), true, &pids, &np));
  char want[64];
  snprintf(want, sizeof want, "Prompt: %zu tokens, ", np);
  CHECK(np > 0 && strstr(err_text, want) != NULL);
  free(pids);
  cmlx_tokenizer_free(t);
}

static void test_errors(void) {
  int rc = run_tool((const char* const[]){NULL});
  CHECK(rc == 1 && strncmp(err_text, "usage: cmlx <command>", 21) == 0);
  EXPECT_TOOL_ERROR("cmlx: unknown command 'frob' (try 'cmlx help')", "frob");
  EXPECT_TOOL_ERROR("cmlx generate: --model DIR is required", "generate",
                    "--prompt-ids", "1");
  EXPECT_TOOL_ERROR("cmlx generate: give exactly one of --prompt TEXT and "
                    "--prompt-ids 1,2,3",
                    "generate", "--model", FIXTURE);
  EXPECT_TOOL_ERROR("cmlx generate: --max-tokens needs an integer in [1, "
                    "16777216], got 'abc'",
                    "generate", "--model", FIXTURE, "--prompt-ids", "1",
                    "--max-tokens", "abc");
  EXPECT_TOOL_ERROR("cmlx generate: --temp needs a number in [0, 1e+06], got "
                    "'-1'",
                    "generate", "--model", FIXTURE, "--prompt-ids", "1",
                    "--temp", "-1");
  EXPECT_TOOL_ERROR("cmlx generate: --max-tokens needs a value", "generate",
                    "--model", FIXTURE, "--prompt-ids", "1", "--max-tokens");
  EXPECT_TOOL_ERROR("cmlx generate: --prompt-ids needs comma-separated token "
                    "ids (integers >= 0), got '1,x'",
                    "generate", "--model", FIXTURE, "--prompt-ids", "1,x");
  EXPECT_TOOL_ERROR("cmlx generate: unknown argument '--bogus'", "generate",
                    "--model", FIXTURE, "--prompt-ids", "1", "--bogus");
  EXPECT_TOOL_ERROR("cmlx generate: " FIXTURE
                    " has no tokenizer.json: use --prompt-ids",
                    "generate", "--model", FIXTURE, "--prompt", "hi");
  EXPECT_TOOL_ERROR("cmlx generate: prompt token 600 is outside the "
                    "vocabulary (size 512)",
                    "generate", "--model", FIXTURE, "--prompt-ids", "1,600");
  EXPECT_TOOL_ERROR("cmlx generate: --device must be cpu or gpu, got 'tpu'",
                    "generate", "--model", FIXTURE, "--prompt-ids", "1",
                    "--device", "tpu");
  EXPECT_TOOL_ERROR("cmlx generate: [default_gpu_stream] The GPU is not "
                    "available: this build of cmlx has no CUDA backend.",
                    "generate", "--model", FIXTURE, "--prompt-ids", "1",
                    "--device", "gpu");
  EXPECT_TOOL_ERROR("cmlx generate: [load] /nonexistent/model is not a "
                    "directory.",
                    "generate", "--model", "/nonexistent/model",
                    "--prompt-ids", "1");
  EXPECT_TOOL_ERROR("cmlx info: /nonexistent/model is not a directory",
                    "info", "/nonexistent/model");
  EXPECT_TOOL_ERROR("cmlx info: usage: cmlx info DIR", "info");
  /* a directory without a model: the library names the missing file */
  const char* empty = path_in("empty");
  CHECK(mkdir(empty, 0755) == 0);
  rc = TOOL("info", empty);
  CHECK(rc == 1 && strncmp(err_text, "cmlx info: [load] ", 18) == 0 &&
        strstr(err_text, "/empty/config.json") != NULL &&
        strchr(err_text, '\n') == err_text + strlen(err_text) - 1);
  EXPECT_TOOL_ERROR("cmlx convert: usage: cmlx convert HF_DIR OUT_DIR [-q "
                    "...] [--dtype D]",
                    "convert", FIXTURE);
  const char* never = path_in("never");
  EXPECT_TOOL_ERROR("cmlx convert: [quantize] Invalid quantization mode "
                    "'foo'.",
                    "convert", FIXTURE, never, "-q", "--q-mode", "foo");
  EXPECT_TOOL_ERROR("cmlx convert: --q-bits, --q-group-size and --q-mode "
                    "need -q",
                    "convert", FIXTURE, never, "--q-bits", "4");
  EXPECT_TOOL_ERROR("cmlx convert: --q-bits needs an integer in [1, 8], got "
                    "'9'",
                    "convert", FIXTURE, never, "-q", "--q-bits", "9");
  EXPECT_TOOL_ERROR("cmlx convert: --dtype must be float16, bfloat16 or "
                    "float32, got 'int8'",
                    "convert", FIXTURE, never, "--dtype", "int8");
  CHECK(!exists(never));
  EXPECT_TOOL_ERROR("cmlx bench: give a model directory or --random "
                    "CONFIG.json",
                    "bench");
  EXPECT_TOOL_ERROR("cmlx demo: unknown argument 'x'", "demo", "x");
}

int main(void) {
  test_init();
  snprintf(tmp, sizeof tmp, "/tmp/cmlx_test_tool_XXXXXX");
  if (!mkdtemp(tmp)) {
    fprintf(stderr, "cannot make a temporary directory\n");
    return 1;
  }
  mlx_map_string_to_array ref = mlx_map_string_to_array_new();
  mlx_map_string_to_string meta = mlx_map_string_to_string_new();
  prompt_ids = mlx_array_new();
  greedy_ids = mlx_array_new();
  CHECK_OK(mlx_load_safetensors(&ref, &meta,
                                FIXTURE "/reference.safetensors",
                                test_stream));
  CHECK_OK(mlx_map_string_to_array_get(&prompt_ids, ref, "input_ids"));
  CHECK_OK(mlx_map_string_to_array_get(&greedy_ids, ref, "greedy_ids"));
  test_errors();
  test_convert();
  test_convert_torch_dtype();
  test_info();
  test_bench();
  test_generate();
  test_tokenizer();
  mlx_array_free(prompt_ids);
  mlx_array_free(greedy_ids);
  mlx_map_string_to_array_free(ref);
  mlx_map_string_to_string_free(meta);
  nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return test_finish("test_tool");
}
