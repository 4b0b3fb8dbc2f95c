/* test_tokenizer.c - byte-level BPE tokenizers from tokenizer.json.
 *
 * The fixtures in tests/data/tokenizers/ are written by
 * make_tokenizers.py there. All four share one vocabulary:
 *   id b (0..255)  the byte-level token of byte b ('Ġ' = byte 0x20 = id 32)
 *   id 256 + r     the token merge r makes; the merges, by rank:
 *       0 Ġ t   1 h e   2 Ġt he   3 l l   4 e ll   5 h ell   6 hell o
 *       7 o r   8 Ġ w   9 Ġw or  10 l d  11 Ġwor ld  12 ' s  13 ' t
 *      14 Ġ d  15 o n  16 Ġd on  17 Ċ Ċ  18 Ġ Ġ  19 ĠĠ ĠĠ  20 b c
 *      21 a b  22 a bc 23 a a    24 ab ab
 *      25-28 make 中 (e4 b8 ad -> 282) and 文 (e6 96 87 -> 284)
 *      29-31 make 😀 (f0 9f 98 80 -> 287)
 *      32 Ġ a  33 r e  34 ' re  35 i s  36 Ġ is
 *      37 + 10x + y: the digit pair "xy" (id 293 + 10x + y)
 *     137 12 3 (-> 393 "123")  138 45 6 (394)  139 78 9 (395)  140 10 0 (396)
 *   ids 1000..     added tokens
 * llama3/: Llama 3's pre-tokenizer regex, ignore_merges, <|begin_of_text|>
 *          (1000) added by a TemplateProcessing; <|eot_id|> = 1009.
 * gptoss/: o200k_harmony's regex, merges as ["a", "b"] pairs, harmony
 *          special tokens (<|start|> 1006, <|channel|> 1005, ...).
 * qwen2/:  NFC normalizer, digits one at a time, plain added tokens
 *          <think> 1003 and </think> 1004.
 * gpt2/:   ByteLevel alone (prefix space, GPT-2 regex), added tokens with
 *          lstrip ([L] 1002), rstrip ([R] 1003), both (<both> 1005) and
 *          single_word (cat 1004); add_bos_token / add_eos_token.
 * Every expected encoding below was worked out by hand from that table and
 * agrees with an independent implementation (Hugging Face's tokenizers.js)
 * except where a comment says otherwise. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/tokenizer.h"
#include "harness.h"

#define TOKDIR CMLX_TEST_DATA "/tokenizers/"

static cmlx_tokenizer load(const char* name) {
  cmlx_tokenizer t = {0};
  char path[512];
  snprintf(path, sizeof path, TOKDIR "%s", name);
  CHECK_OK(cmlx_tokenizer_load(&t, path));
  return t;
}

/* Encodes text and compares with the n expected ids. */
static bool enc_is(cmlx_tokenizer t, const char* text, size_t len, bool special,
                   const int32_t* want, size_t n) {
  int32_t* ids = NULL;
  size_t k = 0;
  if (cmlx_tokenizer_encode(t, text, len, special, &ids, &k)) return false;
  bool ok = k == n && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
  if (!ok) {
    fprintf(stderr, "  encode(\"%.*s\") = [", (int)len, text);
    for (size_t i = 0; i < k; i++) fprintf(stderr, i ? ",%d" : "%d", ids[i]);
    fprintf(stderr, "]\n");
  }
  free(ids);
  return ok;
}

#define ENC(t, text, ...)                                                        \
  do {                                                                           \
    static const int32_t want_[] = {__VA_ARGS__};                                \
    CHECK_MSG(enc_is(t, text, sizeof(text) - 1, false, want_,                    \
                     sizeof want_ / sizeof *want_), "%s", #text);               \
  } while (0)

#define ENC_SPECIAL(t, text, ...)                                                \
  do {                                                                           \
    static const int32_t want_[] = {__VA_ARGS__};                                \
    CHECK_MSG(enc_is(t, text, sizeof(text) - 1, true, want_,                     \
                     sizeof want_ / sizeof *want_), "%s", #text);               \
  } while (0)

/* decode(encode(text)) == text, byte for byte. */
static bool round_trip(cmlx_tokenizer t, const char* text, size_t len) {
  int32_t* ids = NULL;
  size_t k = 0;
  char* out = NULL;
  size_t n = 0;
  if (cmlx_tokenizer_encode(t, text, len, false, &ids, &k)) return false;
  bool ok = cmlx_tokenizer_decode(t, ids, k, false, &out, &n) == 0 && n == len &&
            memcmp(out, text, len) == 0 && out[n] == 0;
  free(ids);
  free(out);
  return ok;
}

static void test_llama3(void) {
  cmlx_tokenizer t = load("llama3");
  CHECK(cmlx_tokenizer_vocab_size(t) == 1010);
  CHECK(cmlx_tokenizer_bos_id(t) == 1000);
  const int32_t* eos;
  /* tokenizer_config's eos_token first, then generation_config's list */
  CHECK(cmlx_tokenizer_eos_ids(t, &eos) == 2 && eos[0] == 1009 && eos[1] == 1001);
  CHECK(cmlx_tokenizer_is_eos(t, 1001) && cmlx_tokenizer_is_eos(t, 1009));
  CHECK(!cmlx_tokenizer_is_eos(t, 1000) && !cmlx_tokenizer_is_eos(t, 258));
  CHECK(cmlx_tokenizer_is_special(t, 1009) && !cmlx_tokenizer_is_special(t, 258));
  CHECK(!cmlx_tokenizer_is_special(t, -1) && !cmlx_tokenizer_is_special(t, 5000));
  CHECK(cmlx_tokenizer_token_to_id(t, "\xc4\xa0the", 5) == 258); /* "Ġthe" */
  CHECK(cmlx_tokenizer_token_to_id(t, "<|eot_id|>", 10) == 1009);
  CHECK(cmlx_tokenizer_token_to_id(t, " the", 4) == -1);
  size_t len = 0;
  const char* s = cmlx_tokenizer_id_to_token(t, 258, &len);
  CHECK(s && len == 5 && strcmp(s, "\xc4\xa0the") == 0);
  CHECK(cmlx_tokenizer_id_to_token(t, 999, NULL) == NULL); /* a hole in the ids */
  CHECK(cmlx_tokenizer_id_to_token(t, 1010, NULL) == NULL);
  CHECK(cmlx_tokenizer_chat_template(t) &&
        strncmp(cmlx_tokenizer_chat_template(t), "{{ bos_token }}", 15) == 0);

  /* ignore_merges: "hello" is in the vocabulary (262), so the word is taken
   * whole; " world": Ġwor ld chain 8, 7 -> Ġw or (9) -> Ġwor, 10 l d, 11. */
  ENC(t, "hello world", 262, 267);
  /* "Hello": no merge of H; l l (3) -> ll, e ll (4) -> ell; "hell" would
   * need h: [H, ell, o]. */
  ENC(t, "Hello world", 72, 260, 111, 267);
  /* Ranks decide, not position: "abc" has a b (21) and b c (20); b c goes
   * first, then a bc (22) -> abc. "abab": a b twice (21) -> ab ab (24). */
  ENC(t, "abc", 278);
  ENC(t, "abab", 280);
  /* Equal ranks: the leftmost pair first: "aaa" -> aa a, "aaaa" -> aa aa. */
  ENC(t, "aaa", 279, 97);
  ENC(t, "aaaa", 279, 279);
  /* Contractions are their own pieces: "don't" -> "don" "'t"; "don" is not
   * a token (Ġdon is): d, on(15); then 't (13). */
  ENC(t, "don't", 100, 271, 269);
  ENC(t, "they're", 116, 257, 121, 290);
  /* (?i:'s) makes "'S" a piece of its own: "It'S" -> It, 'S; no merge
   * joins ' and S. */
  ENC(t, "It'S", 73, 116, 39, 83);
  /* Numbers in chunks of at most 3 digits: "12345" -> "123" "45": 1 2
   * (49) -> 12, 12 3 (137) -> 123 = 393; 45 = 293 + 45 = 338. */
  ENC(t, "12345", 393, 338);
  ENC(t, "1234567", 393, 394, 55);
  ENC(t, "x100y", 120, 396, 121);
  /* Multi-byte characters merge back into one token. */
  ENC(t, "\xe4\xb8\xad\xe6\x96\x87", 282, 284);         /* 中文 */
  ENC(t, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 287, 287); /* 😀😀 */
  /* Whitespace: \s+(?!\S) leaves the last space for the next word:
   * "a    b" -> a, "   " (ĠĠ Ġ), " b" (Ġ b: no merge). */
  ENC(t, "a    b", 97, 274, 32, 32, 98);
  ENC(t, "\n\n\n", 273, 10);
  ENC(t, "hello\n\nworld", 262, 273, 119, 263, 266);
  ENC(t, "   ", 274, 32);
  /* Added tokens are cut out before the regex runs. */
  ENC(t, "<|begin_of_text|>hello<|eot_id|>", 1000, 262, 1009);
  ENC(t, "x<|eot_id|>y", 120, 1009, 121);
  /* Harmony tokens mean nothing here: plain text. "<|end|>" -> "<|"
   * (punctuation run), "end", "|>". */
  ENC(t, "<|end|>", 60, 124, 101, 110, 100, 124, 62);
  /* add_special: the template puts <|begin_of_text|> in front. */
  ENC_SPECIAL(t, "hello", 1000, 262);
  ENC_SPECIAL(t, "", 1000);
  int32_t* ids = (int32_t*)1;
  size_t n = 7;
  CHECK_OK(cmlx_tokenizer_encode(t, NULL, 0, false, &ids, &n));
  CHECK(ids == NULL && n == 0);

  /* decode and skip_special */
  static const int32_t seq[] = {1000, 262, 267, 1009};
  char* text = NULL;
  CHECK_OK(cmlx_tokenizer_decode(t, seq, 4, false, &text, &len));
  CHECK(text && len == 38 && strcmp(text, "<|begin_of_text|>hello world<|eot_id|>") == 0);
  free(text);
  CHECK_OK(cmlx_tokenizer_decode(t, seq, 4, true, &text, &len));
  CHECK(text && len == 11 && strcmp(text, "hello world") == 0);
  free(text);
  CHECK_OK(cmlx_tokenizer_decode(t, NULL, 0, false, &text, &len));
  CHECK(text && len == 0 && text[0] == 0);
  free(text);
  cmlx_tokenizer_free(t);
}

static void test_gptoss(void) {
  /* the tokenizer.json path itself, not the directory */
  cmlx_tokenizer t = load("gptoss/tokenizer.json");
  CHECK(cmlx_tokenizer_bos_id(t) == 1000);
  const int32_t* eos;
  CHECK(cmlx_tokenizer_eos_ids(t, &eos) == 1 && eos[0] == 1002); /* config.json repeats it */
  /* No ignore_merges: "hello" is built by merges, h e (1) goes first and
   * then e ll can never happen: he, ll (3), o. */
  ENC(t, "hello world", 257, 259, 111, 267);
  /* o200k splits case runs: "HELLO World" -> "HELLO", " World"; no merges
   * for capitals; " World" -> Ġ W or(7) ld(10). */
  ENC(t, "HELLO World", 72, 69, 76, 76, 79, 32, 87, 263, 266);
  /* Digits, 1-3 at a time: "x100y" -> x, "100", y. Without ignore_merges
   * "100" is built by merges: 1 0 (rank 47) and 0 0 (rank 37) compete, 0 0
   * wins, leaving 1, 00 (293); 10 0 never applies. (llama3 above takes
   * "100" whole: 396.) */
  ENC(t, "x100y", 120, 49, 293, 121);
  ENC(t, "12345", 393, 338);
  /* a contraction stays with its word: "what's" is one piece; w h a t:
   * no merges among them until 's (12). */
  ENC(t, "what's ABC's", 119, 104, 97, 116, 268, 32, 65, 66, 67, 268);
  /* " ?[^\s\p{L}\p{N}]+[\r\n/]*": "a/b//c" -> a, "/", b, "//", c. */
  ENC(t, "a/b//c", 97, 47, 98, 47, 47, 99);
  /* The harmony format. */
  ENC(t, "<|start|>assistant<|channel|>final<|message|>hi<|end|>", 1006, 97, 115, 115, 291,
      116, 97, 110, 116, 1005, 102, 105, 110, 97, 108, 1008, 104, 105, 1007);
  /* No template, no add_bos_token: add_special adds nothing. */
  ENC_SPECIAL(t, "hi", 104, 105);
  cmlx_tokenizer_free(t);
}

static void test_qwen2(void) {
  cmlx_tokenizer t = load("qwen2");
  CHECK(cmlx_tokenizer_bos_id(t) == -1); /* bos_token: null beats config.json */
  const int32_t* eos;
  CHECK(cmlx_tokenizer_eos_ids(t, &eos) == 1 && eos[0] == 1002);
  /* digits one by one */
  ENC(t, "123abc", 49, 50, 51, 278);
  /* plain (not special) added tokens are matched too, and kept by
   * skip_special */
  ENC(t, "<think>x</think>", 1003, 120, 1004);
  CHECK(!cmlx_tokenizer_is_special(t, 1003) && cmlx_tokenizer_is_special(t, 1002));
  static const int32_t seq[] = {1001, 1003, 120, 1004, 1002};
  char* text;
  size_t len;
  CHECK_OK(cmlx_tokenizer_decode(t, seq, 5, true, &text, &len));
  CHECK(strcmp(text, "<think>x</think>") == 0);
  free(text);
  ENC_SPECIAL(t, "x", 120);
  cmlx_tokenizer_free(t);
}

static void test_gpt2_flags(void) {
  cmlx_tokenizer t = load("gpt2");
  /* add_prefix_space: " hello" then GPT-2's regex. */
  ENC(t, "hello world", 32, 257, 259, 111, 267);
  ENC(t, "the hello", 258, 32, 257, 259, 111);
  /* " ?\p{N}+" keeps the whole number: Ġ 1 2 3 4 5: 1 2 (49) -> 12, 3 4
   * (71) -> 34 (the 2 3 pair is gone); 12 3 never forms. */
  ENC(t, "12345", 32, 305, 327, 53);
  /* lstrip takes the spaces before, rstrip those after. */
  ENC(t, "x [L] y", 32, 120, 1002, 32, 121);
  ENC(t, "x [R] y", 32, 120, 32, 1003, 32, 121);
  ENC(t, "x <both>  y", 32, 120, 1005, 32, 121);
  ENC(t, "  [L]", 1002);
  /* single_word: "cat" only on its own. (tokenizers.js does not implement
   * single_word and gives "con" + cat here; the Rust library refuses a
   * match with a word character next to it, as we do.) */
  ENC(t, "cat", 1004);
  ENC(t, "a cat b", 288, 32, 1004, 32, 98);
  ENC(t, "concat cats", 32, 99, 271, 99, 97, 116, 32, 99, 97, 116, 115);
  /* add_bos_token and add_eos_token from tokenizer_config.json */
  ENC_SPECIAL(t, "cat", 1000, 1004, 1001);
  CHECK(cmlx_tokenizer_bos_id(t) == 1000);
  cmlx_tokenizer_free(t);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void test_round_trip(void) {
  static const char* texts[] = {
      "hello world",
      "Hello, World! How's it going? I'd've thought they'll say \"we're fine\".",
      "\xe4\xb8\xad\xe6\x96\x87\xe6\xb5\x8b\xe8\xaf\x95 and \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
      "emoji \xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
      "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",
      "   leading and trailing   ",
      "\t\ttabs\tand\nnewlines\r\n\r\n\n\n  \n",
      "digits 1 12 123 1234 12345 3.14159 1,000,000 \xd9\xa3\xd9\xa4", /* Arabic-Indic */
      "ALL CAPS and MiXeD cAsE and camelCaseWords",
      "x<|eot_id|>y<|begin_of_text|><|start|><|channel|>",
      "\xff\xfe invalid \xc0\x80 overlong \xed\xa0\x80 surrogate \xe4\xb8 cut",
      "\x80\x81\x82 lone continuations \xf5\xf8\xfc\xfe\xff",
      "nul \0 inside",
      "a\xc2\xa0non-breaking\xe2\x80\x83spaces\xe3\x80\x80ideographic",
      "combining e\xcc\x81 and \xc3\xa9 precomposed",
      "",
  };
  static const char* names[] = {"llama3", "gptoss", "qwen2"};
  for (int k = 0; k < 3; k++) {
    cmlx_tokenizer t = load(names[k]);
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
      size_t len = strlen(texts[i]);
      if (i == 11) len = 12; /* "nul \0 inside" */
      CHECK_MSG(round_trip(t, texts[i], len), "%s: text %zu", names[k], i);
    }
    /* random bytes, random ASCII-ish text */
    char buf[300];
    for (int r = 0; r < 300; r++) {
      size_t len = next_rand() % sizeof buf;
      for (size_t i = 0; i < len; i++) {
        uint64_t x = next_rand();
        buf[i] = r % 2 ? (char)x : " aeht\n'0123.<|>\xe4\xb8\xad"[x % 18];
      }
      CHECK_MSG(round_trip(t, buf, len), "%s: random %d", names[k], r);
    }
    /* long runs: one piece of 200k spaces, 200k letters, mixed */
    size_t big = 200000;
    char* s = malloc(big);
    memset(s, ' ', big);
    CHECK(round_trip(t, s, big));
    memset(s, 'a', big);
    CHECK(round_trip(t, s, big));
    for (size_t i = 0; i < big; i++) s[i] = "ab \n\xe4\xb8\xad"[i % 7];
    CHECK(round_trip(t, s, big));
    free(s);
    cmlx_tokenizer_free(t);
  }
  /* "a"*200000 is 100000 "aa" tokens (leftmost pairs first) */
  cmlx_tokenizer t = load("llama3");
  char* s = malloc(200001);
  memset(s, 'a', 200001);
  int32_t* ids;
  size_t n;
  CHECK_OK(cmlx_tokenizer_encode(t, s, 200001, false, &ids, &n));
  CHECK(n == 100001 && ids[0] == 279 && ids[99999] == 279 && ids[100000] == 97);
  free(ids);
  free(s);
  cmlx_tokenizer_free(t);
}

/* Feeds ids one at a time; checks every chunk and that they add up. */
static void stream_check(cmlx_tokenizer t, const int32_t* ids, size_t n, bool whole_chars) {
  cmlx_detokenizer d = {0};
  CHECK_OK(cmlx_detokenizer_new(&d, t, false));
  char all[4096];
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    const char* chunk;
    size_t len;
    CHECK_OK(cmlx_detokenizer_add(d, ids[i], &chunk, &len));
    if (whole_chars) {
      /* each chunk alone is valid UTF-8 */
      size_t j = 0;
      bool ok = true;
      while (j < len && ok) {
        unsigned char c = (unsigned char)chunk[j];
        size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        ok = j + l <= len;
        j += l;
      }
      CHECK_MSG(ok, "chunk %zu splits a character", i);
    }
    if (used + len < sizeof all) memcpy(all + used, chunk, len);
    used += len;
  }
  const char* rest;
  size_t len;
  CHECK_OK(cmlx_detokenizer_finish(d, &rest, &len));
  if (used + len < sizeof all) memcpy(all + used, rest, len);
  used += len;
  char* want;
  size_t wn;
  CHECK_OK(cmlx_tokenizer_decode(t, ids, n, false, &want, &wn));
  CHECK(used == wn && memcmp(all, want, wn) == 0);
  free(want);
  cmlx_detokenizer_free(d);
}

static void test_streaming(void) {
  cmlx_tokenizer t = load("llama3");
  cmlx_detokenizer d = {0};
  CHECK_OK(cmlx_detokenizer_new(&d, t, true));
  cmlx_tokenizer_free(t); /* the detokenizer keeps the tokenizer alive */
  const char* s;
  size_t n;
  /* 中 as three byte tokens: nothing until the third */
  CHECK_OK(cmlx_detokenizer_add(d, 0xe4, &s, &n));
  CHECK(n == 0 && s[0] == 0);
  CHECK_OK(cmlx_detokenizer_add(d, 0xb8, &s, &n));
  CHECK(n == 0);
  CHECK_OK(cmlx_detokenizer_add(d, 0xad, &s, &n));
  CHECK(n == 3 && memcmp(s, "\xe4\xb8\xad", 3) == 0);
  /* "hello" then the first half of 😀 (ðŁ = f0 9f, id 285): only hello */
  CHECK_OK(cmlx_detokenizer_add(d, 262, &s, &n));
  CHECK(n == 5 && memcmp(s, "hello", 5) == 0);
  CHECK_OK(cmlx_detokenizer_add(d, 285, &s, &n));
  CHECK(n == 0);
  CHECK_OK(cmlx_detokenizer_add(d, 0x98, &s, &n));
  CHECK(n == 0);
  /* skip_special: <|eot_id|> adds nothing and changes nothing */
  CHECK_OK(cmlx_detokenizer_add(d, 1009, &s, &n));
  CHECK(n == 0);
  CHECK_OK(cmlx_detokenizer_add(d, 0x80, &s, &n));
  CHECK(n == 4 && memcmp(s, "\xf0\x9f\x98\x80", 4) == 0);
  /* a byte that can never be part of a character comes out at once */
  CHECK_OK(cmlx_detokenizer_add(d, 0xff, &s, &n));
  CHECK(n == 1 && (unsigned char)s[0] == 0xff);
  /* a lead byte followed by something that cannot continue it: both go */
  CHECK_OK(cmlx_detokenizer_add(d, 0xe4, &s, &n));
  CHECK(n == 0);
  CHECK_OK(cmlx_detokenizer_add(d, 'a', &s, &n));
  CHECK(n == 2 && memcmp(s, "\xe4" "a", 2) == 0);
  /* E0 80 is overlong: E0 must be followed by A0..BF */
  CHECK_OK(cmlx_detokenizer_add(d, 0xe0, &s, &n));
  CHECK(n == 0);
  CHECK_OK(cmlx_detokenizer_add(d, 0x80, &s, &n));
  CHECK(n == 2);
  /* finish hands out an unfinished character */
  CHECK_OK(cmlx_detokenizer_add(d, 0xf0, &s, &n));
  CHECK(n == 0);
  CHECK_OK(cmlx_detokenizer_finish(d, &s, &n));
  CHECK(n == 1 && (unsigned char)s[0] == 0xf0);
  CHECK_OK(cmlx_detokenizer_finish(d, &s, &n));
  CHECK(n == 0);
  EXPECT_ERROR(cmlx_detokenizer_add(d, 5000, &s, &n),
               "[tokenizer] Token id 5000 is not in the vocabulary (of 1010 ids).");
  cmlx_detokenizer_free(d);
  cmlx_detokenizer_free((cmlx_detokenizer){0});
  /* finish before any token (nothing pending, no buffer yet): empty text
   * (fuzz_tokenizer found the empty-buffer case under UBSan) */
  t = load("llama3"); /* t was released above: the first detokenizer held it */
  CHECK_OK(cmlx_detokenizer_new(&d, t, false));
  cmlx_tokenizer_free(t);
  s = NULL;
  CHECK_OK(cmlx_detokenizer_finish(d, &s, &n));
  CHECK(n == 0 && s != NULL && s[0] == 0);
  cmlx_detokenizer_free(d);

  /* whole texts: encoded, then replayed as byte tokens one by one */
  t = load("llama3");
  static const char* texts[] = {
      "hello \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 world \xc3\xa9\xc3\xa8",
      "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 \xd0\x9f\xd1\x80\xd0\xb8",
  };
  for (size_t i = 0; i < 2; i++) {
    int32_t* ids;
    size_t k;
    CHECK_OK(cmlx_tokenizer_encode(t, texts[i], strlen(texts[i]), false, &ids, &k));
    stream_check(t, ids, k, true);
    free(ids);
    int32_t bytes[256];
    size_t m = strlen(texts[i]);
    for (size_t j = 0; j < m; j++) bytes[j] = (unsigned char)texts[i][j];
    stream_check(t, bytes, m, true);
  }
  /* random ids, invalid UTF-8 and all: the stream adds up to decode */
  for (int r = 0; r < 100; r++) {
    int32_t ids[64];
    for (int j = 0; j < 64; j++) ids[j] = (int32_t)(next_rand() % 397);
    stream_check(t, ids, 64, false);
  }
  cmlx_tokenizer_free(t);
}

/* ---- threads ---- */

/* One tokenizer, several threads encoding at once: each must get what a
 * single thread gets. */
typedef struct job {
  cmlx_tokenizer t;
  const char* text;
  size_t len;
  const int32_t* want;
  size_t n;
  int bad;
} job;

static void* run_job(void* arg) {
  job* j = arg;
  for (int r = 0; r < 50; r++) {
    int32_t* ids;
    size_t n;
    if (cmlx_tokenizer_encode(j->t, j->text, j->len, true, &ids, &n) || n != j->n ||
        memcmp(ids, j->want, n * sizeof *ids) != 0)
      j->bad++;
    else
      free(ids);
  }
  return NULL;
}

static void test_threads(void) {
  cmlx_tokenizer t = load("gptoss");
  static const char pat[] = "Hello world 123 \xe4\xb8\xad <|end|>";
  char text[4000];
  for (size_t i = 0; i < sizeof text; i++) text[i] = pat[i % (sizeof pat - 1)];
  int32_t* want;
  size_t n;
  CHECK_OK(cmlx_tokenizer_encode(t, text, sizeof text, true, &want, &n));
  job jobs[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (job){t, text, sizeof text, want, n, 0};
    CHECK(pthread_create(&th[i], NULL, run_job, &jobs[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CHECK(jobs[i].bad == 0);
  }
  free(want);
  cmlx_tokenizer_free(t);
}

/* Digits: each digit alone with individual_digits, runs otherwise. */
static void test_digits(void) {
  char dir[] = "/tmp/cmlx_tok_digits_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[128];
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  for (int individual = 0; individual < 2; individual++) {
    char json[512];
    snprintf(json, sizeof json,
             "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"1\":0,\"2\":1,\"x\":2,\"12\":3,"
             "\"x1\":4},\"merges\":[\"x 1\",\"1 2\"]},\"pre_tokenizer\":{\"type\":"
             "\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":%s},"
             "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]}}",
             individual ? "true" : "false");
    test_write_bytes(path, json, strlen(json));
    cmlx_tokenizer t = {0};
    CHECK_OK(cmlx_tokenizer_load(&t, dir));
    /* "x12": the digits are split from x, so x 1 (rank 0) never applies;
     * "12" merges unless the digits stand alone */
    if (individual) {
      ENC(t, "x12", 2, 0, 1);
    } else {
      ENC(t, "x12", 2, 3);
    }
    cmlx_tokenizer_free(t);
  }
  unlink(path);
  rmdir(dir);
}

/* ---- Split behaviours ---- */

/* A tokenizer whose merges show where the pieces are: vocab a b c - and
 * the merges a - (a- 4), b - (b- 5), - b (-b 6), - c (-c 7), - - (-- 8),
 * -- c (--c 9). A merge can only join bytes of one piece. */
static cmlx_tokenizer split_tok(const char* dir, const char* behavior, bool invert) {
  char json[1024], path[256];
  snprintf(json, sizeof json,
           "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"-\":3,"
           "\"a-\":4,\"b-\":5,\"-b\":6,\"-c\":7,\"--\":8,\"--c\":9},"
           "\"merges\":[\"a -\",\"b -\",\"- b\",\"- c\",\"- -\",\"-- c\"]},"
           "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
           "{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"%s\","
           "\"invert\":%s},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
           "\"use_regex\":false}]}}",
           behavior, invert ? "true" : "false");
  snprintf(path, sizeof path, "%s/split.json", dir);
  test_write_bytes(path, json, strlen(json));
  cmlx_tokenizer t = {0};
  CHECK_OK(cmlx_tokenizer_load(&t, path));
  return t;
}

static void test_split_behaviors(void) {
  char dir[] = "/tmp/cmlx_tok_split_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  /* "a-b--c": ranges a | - | b | - | - | c, the "-" are the delimiters */
  cmlx_tokenizer t = split_tok(dir, "Removed", false);
  ENC(t, "a-b--c", 0, 1, 2); /* a b c */
  cmlx_tokenizer_free(t);
  t = split_tok(dir, "Isolated", false);
  ENC(t, "a-b--c", 0, 3, 1, 3, 3, 2); /* a - b - - c */
  cmlx_tokenizer_free(t);
  /* the first of two delimiters joins the range before: a- b- - c */
  t = split_tok(dir, "MergedWithPrevious", false);
  ENC(t, "a-b--c", 4, 5, 3, 2);
  cmlx_tokenizer_free(t);
  /* the last of two delimiters joins the range after: a -b - -c */
  t = split_tok(dir, "MergedWithNext", false);
  ENC(t, "a-b--c", 0, 6, 3, 7);
  cmlx_tokenizer_free(t);
  /* runs of delimiters: a - b -- c */
  t = split_tok(dir, "Contiguous", false);
  ENC(t, "a-b--c", 0, 3, 1, 8, 2);
  cmlx_tokenizer_free(t);
  /* invert: the gaps a, b, c are the delimiters; each match stays a range
   * of its own, so "--" is two: - | - */
  t = split_tok(dir, "Removed", true);
  ENC(t, "a-b--c", 3, 3, 3); /* - - - */
  cmlx_tokenizer_free(t);
  t = split_tok(dir, "MergedWithPrevious", true);
  ENC(t, "a-b--c", 0, 6, 3, 7); /* a -b - -c */
  cmlx_tokenizer_free(t);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

/* ---- errors ---- */

static char tmpdir[64];

static const char* put(const char* name, const char* text) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  test_write_bytes(path, text, strlen(text));
  return path;
}

/* A minimal tokenizer.json around a model and pre_tokenizer. */
static const char* put_tok(const char* body) {
  return put("tokenizer.json", body);
}

#define MINI_PRE "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false}"
#define MINI_MODEL \
  "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}"

static void expect_load_error(const char* json, const char* what) {
  const char* path = put_tok(json);
  char msg[1024];
  snprintf(msg, sizeof msg, "[tokenizer] %s: %s", path, what);
  cmlx_tokenizer t = {(void*)1};
  EXPECT_ERROR(cmlx_tokenizer_load(&t, path), msg);
  CHECK(t.ctx == (void*)1);
}

static void test_errors(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/cmlx_tok_XXXXXX");
  CHECK(mkdtemp(tmpdir) != NULL);
  cmlx_tokenizer t = {0};
  char msg[512];

  /* missing: a directory without tokenizer.json, a missing file */
  snprintf(msg, sizeof msg, "[tokenizer] Failed to open %s/tokenizer.json: No such file or "
           "directory.", tmpdir);
  EXPECT_ERROR(cmlx_tokenizer_load(&t, tmpdir), msg);
  EXPECT_ERROR(cmlx_tokenizer_load(&t, "/nonexistent/tok.json"),
               "[tokenizer] Failed to open /nonexistent/tok.json: No such file or directory.");
  EXPECT_ERROR(cmlx_tokenizer_load(NULL, tmpdir),
               "[tokenizer] cmlx_tokenizer_load needs an output handle and a path.");

  /* bad JSON and wrong shapes */
  expect_load_error("{\"model\": ", "invalid JSON: unexpected end of input at byte 10.");
  expect_load_error("[1, 2]", "the top level must be a JSON object.");
  expect_load_error("{}", "there is no \"model\".");
  expect_load_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}",
                    "model type 'WordPiece' is not supported (only BPE is).");
  expect_load_error("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}",
                    "model type 'Unigram' is not supported (only BPE is).");
  expect_load_error("{\"model\":{\"type\":\"BPE\"}}", "the BPE model needs a \"vocab\" object.");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"byte_fallback\":true}}",
                    "BPE with byte_fallback is not supported (only byte-level BPE is).");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1}}}",
                    "model.vocab entry 0: an id must be a non-negative integer.");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":99999999}}}",
                    "model.vocab entry 0: id too large (ids must be below 4194304).");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0}}}",
                    "id 0 is given to both 'a' and 'b' in the vocabulary.");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"a\":1}}}",
                    "token 'a' appears twice in the vocabulary.");
  /* merges */
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},"
                    "\"merges\":[\"a c\"]}}",
                    "merge 0 ('a' 'c') refers to 'c', which is not in the vocabulary.");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},"
                    "\"merges\":[[\"a\",\"b\"]]}}",
                    "merge 0 ('a' 'b') makes 'ab', which is not in the vocabulary.");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},"
                    "\"merges\":[\"a b\",\"ab\"]}}",
                    "merge 1 ('ab') must be two tokens separated by one space.");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[1]}}",
                    "merge 0 must be a string \"a b\" or a pair [\"a\", \"b\"].");
  /* added tokens */
  expect_load_error("{" MINI_MODEL ",\"added_tokens\":[{\"id\":5}]}",
                    "added_tokens[0] has no \"content\" (or an empty one).");
  expect_load_error("{" MINI_MODEL ",\"added_tokens\":[{\"id\":5,\"content\":\"x\"},"
                    "{\"id\":5,\"content\":\"y\"}]}",
                    "added_tokens[1]: id 5 is already used by added token 'x'.");
  expect_load_error("{" MINI_MODEL ",\"added_tokens\":[{\"id\":5,\"content\":\"x\","
                    "\"special\":1}]}",
                    "added_tokens[0]: \"special\" must be true or false.");
  /* pipeline parts */
  expect_load_error("{" MINI_MODEL "}",
                    "the pre_tokenizer has no ByteLevel step; only byte-level BPE is "
                    "supported.");
  expect_load_error("{" MINI_MODEL ",\"pre_tokenizer\":{\"type\":\"Metaspace\"}}",
                    "pre_tokenizer type 'Metaspace' is not supported.");
  expect_load_error("{" MINI_MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":"
                    "{\"Regex\":\"(?<x\"},\"behavior\":\"Isolated\"}}",
                    "the Split regex is invalid: syntax error in subpattern name (missing "
                    "terminator?) at offset 4.");
  expect_load_error("{" MINI_MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":"
                    "{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}}",
                    "unknown Split behavior 'Sideways'.");
  expect_load_error("{" MINI_MODEL "," MINI_PRE ",\"normalizer\":{\"type\":\"NFKC\"}}",
                    "normalizer type 'NFKC' is not supported (only none or NFC are).");
  expect_load_error("{" MINI_MODEL "," MINI_PRE ",\"decoder\":{\"type\":\"WordPiece\"}}",
                    "decoder type 'WordPiece' is not supported (only ByteLevel is).");
  expect_load_error("{" MINI_MODEL "," MINI_PRE ",\"post_processor\":{\"type\":"
                    "\"BertProcessing\"}}",
                    "post_processor type 'BertProcessing' is not supported.");
  expect_load_error("{" MINI_MODEL "," MINI_PRE ",\"post_processor\":{\"type\":"
                    "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}},"
                    "{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":{}}}",
                    "the TemplateProcessing post_processor: special token '<s>' has no "
                    "\"ids\" list in special_tokens.");
  expect_load_error("{" MINI_MODEL "," MINI_PRE ",\"post_processor\":{\"type\":"
                    "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}},"
                    "{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":{\"<s>\":{\"ids\":[7]}}}}",
                    "the TemplateProcessing post_processor: special token '<s>' has id 7, "
                    "which is not in the vocabulary.");

  /* a good tokenizer.json with bad neighbours */
  put_tok("{" MINI_MODEL "," MINI_PRE "}");
  char cfg[256];
  snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", tmpdir);
  put("tokenizer_config.json", "{\"eos_token\": \"</s>\"}");
  snprintf(msg, sizeof msg, "[tokenizer] %s: eos_token '</s>' is not in the vocabulary.", cfg);
  EXPECT_ERROR(cmlx_tokenizer_load(&t, tmpdir), msg);
  put("tokenizer_config.json", "{\"eos_token\": ");
  snprintf(msg, sizeof msg, "[tokenizer] %s: invalid JSON: unexpected end of input at byte 14.",
           cfg);
  EXPECT_ERROR(cmlx_tokenizer_load(&t, tmpdir), msg);
  put("tokenizer_config.json", "{\"add_bos_token\": true}");
  snprintf(msg, sizeof msg, "[tokenizer] %s: add_bos_token is true but there is no bos_token.",
           cfg);
  EXPECT_ERROR(cmlx_tokenizer_load(&t, tmpdir), msg);
  put("tokenizer_config.json", "{\"eos_token\": {\"content\": \"ab\"}, \"bos_token\": \"a\"}");
  put("generation_config.json", "{\"eos_token_id\": [2, 9]}");
  snprintf(cfg, sizeof cfg, "%s/generation_config.json", tmpdir);
  snprintf(msg, sizeof msg, "[tokenizer] %s: eos_token_id 9 is not in the vocabulary.", cfg);
  EXPECT_ERROR(cmlx_tokenizer_load(&t, tmpdir), msg);
  put("generation_config.json", "{\"eos_token_id\": [2, 1]}");

  /* this one loads; encoding a byte without a token fails */
  CHECK_OK(cmlx_tokenizer_load(&t, tmpdir));
  const int32_t* eos;
  CHECK(cmlx_tokenizer_eos_ids(t, &eos) == 2 && eos[0] == 2 && eos[1] == 1);
  CHECK(cmlx_tokenizer_bos_id(t) == 0);
  ENC(t, "abab", 2, 2);
  int32_t* ids = NULL;
  size_t n = 0;
  snprintf(msg, sizeof msg, "[tokenizer] %s/tokenizer.json: byte 0x63 has no token in the "
           "vocabulary and there is no unk_token.", tmpdir);
  EXPECT_ERROR(cmlx_tokenizer_encode(t, "abc", 3, false, &ids, &n), msg);
  CHECK(ids == NULL && n == 0);
  char* text = NULL;
  size_t len = 0;
  static const int32_t bad[] = {0, 3};
  EXPECT_ERROR(cmlx_tokenizer_decode(t, bad, 2, false, &text, &len),
               "[tokenizer] Token id 3 is not in the vocabulary (of 3 ids).");
  static const int32_t neg[] = {-1};
  EXPECT_ERROR(cmlx_tokenizer_decode(t, neg, 1, false, &text, &len),
               "[tokenizer] Token id -1 is not in the vocabulary (of 3 ids).");
  CHECK(text == NULL);
  cmlx_tokenizer_free(t);
  cmlx_tokenizer_free((cmlx_tokenizer){0});
  EXPECT_ERROR(cmlx_tokenizer_encode((cmlx_tokenizer){0}, "a", 1, false, &ids, &n),
               "[tokenizer] The tokenizer handle is empty.");
  CHECK(cmlx_tokenizer_vocab_size((cmlx_tokenizer){0}) == 0);

  snprintf(msg, sizeof msg, "rm -rf '%s'", tmpdir);
  CHECK(system(msg) == 0);
}

int main(void) {
  test_init();
  test_llama3();
  test_gptoss();
  test_qwen2();
  test_gpt2_flags();
  test_round_trip();
  test_streaming();
  test_split_behaviors();
  test_digits();
  test_threads();
  test_errors();
  return test_finish("test_tokenizer");
}
