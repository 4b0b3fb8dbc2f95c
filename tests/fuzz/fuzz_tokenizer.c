/* fuzz_tokenizer.c - libFuzzer target for the tokenizer.
 *
 * The first byte of an input picks what the rest is:
 *   0     a tokenizer.json: it is written to a private file and loaded;
 *         when it loads, a fixed text with added-token look-alikes, invalid
 *         UTF-8 and long runs is encoded, decoded and streamed (nothing is
 *         required of the result but a clean return);
 *   1, 2  text for the llama3 / gptoss fixtures (tests/data/tokenizers):
 *         decode(encode(text)) must give the text back byte for byte, and
 *         feeding the ids one at a time to a detokenizer must give the same
 *         bytes. A mismatch aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmlx/tokenizer.h"
#include "core/error.h"
#include "mlx/c/error.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static void quiet(const char* msg, void* d) {
  (void)msg;
  (void)d;
}

static char json_dir[64], json_path[96];
static cmlx_tokenizer fixtures[2];

static void cleanup(void) {
  unlink(json_path);
  rmdir(json_dir);
}

static void setup(void) {
  mlx_set_error_handler(quiet, NULL, NULL);
  snprintf(json_dir, sizeof json_dir, "/tmp/fuzz_tokenizer_XXXXXX");
  if (!mkdtemp(json_dir)) abort();
  snprintf(json_path, sizeof json_path, "%s/tokenizer.json", json_dir);
  atexit(cleanup);
  /* tests/fuzz/fuzz_tokenizer.c -> tests/data/tokenizers/<name> */
  static const char* names[2] = {"llama3", "gptoss"};
  for (int i = 0; i < 2; i++) {
    char path[4096];
    const char* slash = strrchr(__FILE__, '/');
    int n = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof path, "%.*s/../data/tokenizers/%s", n, slash ? __FILE__ : ".",
             names[i]);
    if (cmlx_tokenizer_load(&fixtures[i], path)) {
      fprintf(stderr, "fuzz_tokenizer: cannot load %s\n", path);
      abort();
    }
  }
}

/* Streams ids through a detokenizer; returns the concatenation (malloc'd). */
static char* stream(cmlx_tokenizer t, const int32_t* ids, size_t n, size_t* len) {
  cmlx_detokenizer d = {0};
  if (cmlx_detokenizer_new(&d, t, false)) abort();
  size_t cap = 64, used = 0;
  char* all = malloc(cap);
  for (size_t i = 0; i <= n; i++) {
    const char* s;
    size_t k;
    if (i < n ? cmlx_detokenizer_add(d, ids[i], &s, &k) : cmlx_detokenizer_finish(d, &s, &k))
      abort();
    while (used + k > cap) all = realloc(all, cap *= 2);
    memcpy(all + used, s, k);
    used += k;
  }
  cmlx_detokenizer_free(d);
  *len = used;
  return all;
}

static void exercise(cmlx_tokenizer t, const char* text, size_t len, bool must_round_trip) {
  int32_t* ids = NULL;
  size_t n = 0;
  if (cmlx_tokenizer_encode(t, text, len, true, &ids, &n)) {
    if (must_round_trip) abort();
    return;
  }
  char* out = NULL;
  size_t out_len = 0;
  if (cmlx_tokenizer_decode(t, ids, n, false, &out, &out_len)) abort();
  size_t s_len;
  char* s = stream(t, ids, n, &s_len);
  if (s_len != out_len || memcmp(s, out, out_len) != 0) abort();
  free(s);
  free(out);
  free(ids);
  if (must_round_trip) {
    if (cmlx_tokenizer_encode(t, text, len, false, &ids, &n)) abort();
    if (cmlx_tokenizer_decode(t, ids, n, false, &out, &out_len)) abort();
    if (out_len != len || memcmp(out, text, len) != 0) abort();
    free(out);
    free(ids);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool ready = false;
  if (!ready) {
    setup();
    ready = true;
  }
  if (size < 1) return 0;
  const char* rest = (const char*)data + 1;
  size_t n = size - 1;
  if (data[0] == 1 || data[0] == 2) {
    exercise(fixtures[data[0] - 1], rest, n, true);
    return 0;
  }
  if (data[0] != 0) return 0;
  FILE* f = fopen(json_path, "wb");
  if (!f || fwrite(rest, 1, n, f) != n || fclose(f) != 0) abort();
  cmlx_tokenizer t = {0};
  if (cmlx_tokenizer_load(&t, json_path)) {
    error_clear();
    return 0;
  }
  static const char text[] =
      "Hello world! it's 12345 <|eot_id|><|start|> <s></s>[L] cat  \n\n\t "
      "\xe4\xb8\xad\xf0\x9f\x98\x80\xff\xfe\xc0\x80 aaaa abab";
  exercise(t, text, sizeof text - 1, false);
  int32_t id = (int32_t)(cmlx_tokenizer_vocab_size(t) / 2);
  size_t len;
  const char* tokstr = cmlx_tokenizer_id_to_token(t, id, &len);
  if (tokstr && cmlx_tokenizer_token_to_id(t, tokstr, len) < 0) abort();
  cmlx_tokenizer_free(t);
  return 0;
}
