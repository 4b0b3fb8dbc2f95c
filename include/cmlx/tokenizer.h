/* cmlx/tokenizer.h - Hugging Face tokenizer.json byte-level BPE tokenizers.
 *
 * Reads the tokenizers that Llama 3, Qwen2/Qwen3 and GPT-OSS (o200k_harmony)
 * ship: a "model" of type BPE over the GPT-2 byte alphabet, "added_tokens"
 * (special or not) matched in the raw text before anything else, a
 * "pre_tokenizer" made of regex Split steps (run by PCRE2) and ByteLevel, a
 * ByteLevel "decoder" and a TemplateProcessing / ByteLevel "post_processor".
 * Other model types (WordPiece, Unigram, WordLevel) are refused with a
 * clear message.
 *
 * Normalizers: none, or NFC. NFC is accepted but not applied: text is
 * tokenized as given, which is exact for text already in NFC (all ASCII,
 * nearly all text in the wild); decomposed input should be normalized by the
 * caller.
 *
 * Text in and out is bytes. Encoding any byte string works, invalid UTF-8
 * included (its bytes go through the byte alphabet like any other).
 * Decoding returns the exact bytes the tokens stand for, so
 * decode(encode(x)) == x for every x; the result is not UTF-8 checked and
 * no U+FFFD is substituted (a single token may hold part of a character).
 *
 * Errors: functions returning int return 0 on success and 1 on failure,
 * after passing one message (naming the file and what is wrong, for
 * loading) to the error handler (mlx_set_error_handler). Outputs are left
 * untouched on failure.
 *
 * Handles follow mlx-c's style: a struct holding a pointer, {NULL} when
 * empty. A tokenizer is immutable after loading and may be used from
 * several threads at once; a detokenizer belongs to one thread at a time.
 * Names begin with cmlx_ (mlx-c has no tokenizer). */
#ifndef CMLX_TOKENIZER_H
#define CMLX_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cmlx_tokenizer_ {
  void* ctx;
} cmlx_tokenizer;

/* Loads a tokenizer. path_or_dir is a tokenizer.json file or a directory
 * holding one. Next to it, when present, are also read:
 *   - tokenizer_config.json: "add_bos_token" / "add_eos_token", "bos_token",
 *     "eos_token" (a string or {"content": ...}), "chat_template" (a string);
 *   - generation_config.json and config.json: "eos_token_id" (a number or a
 *     list), added to the end-of-sequence ids.
 * *out receives a new handle (free it with cmlx_tokenizer_free). */
int cmlx_tokenizer_load(cmlx_tokenizer* out, const char* path_or_dir);
/* Releases the handle (a detokenizer made from it keeps what it needs);
 * freeing {NULL} does nothing. */
void cmlx_tokenizer_free(cmlx_tokenizer tok);

/* Encodes text[0, len) into *ids (malloc'd, the caller frees it with
 * free(); NULL when *n is 0). Added tokens found in the text are emitted as
 * their ids. With add_special, the tokens the post_processor's template
 * puts around a single sequence are added (Llama 3: <|begin_of_text|> in
 * front); without a template, tokenizer_config.json's add_bos_token /
 * add_eos_token decide. text may be NULL when len is 0. */
int cmlx_tokenizer_encode(cmlx_tokenizer tok, const char* text, size_t len,
                          bool add_special, int32_t** ids, size_t* n);

/* Decodes ids[0, n) into *text (malloc'd and NUL-terminated, the caller
 * frees it with free()), its length in *len (the text may hold NULs). With
 * skip_special, special tokens produce nothing. An id outside the vocabulary
 * is an error. */
int cmlx_tokenizer_decode(cmlx_tokenizer tok, const int32_t* ids, size_t n,
                          bool skip_special, char** text, size_t* len);

/* ---- streaming ---- */

/* Turns ids into text one at a time, holding back the bytes of a UTF-8
 * character until it is complete, so what comes out can be printed as it
 * comes. Bytes that can never form a valid character are released as they
 * are once that is known. The concatenation of everything returned by
 * cmlx_detokenizer_add and cmlx_detokenizer_finish equals
 * cmlx_tokenizer_decode of the same ids. */
typedef struct cmlx_detokenizer_ {
  void* ctx;
} cmlx_detokenizer;

int cmlx_detokenizer_new(cmlx_detokenizer* out, cmlx_tokenizer tok,
                         bool skip_special);
/* Adds one id; *text / *len receive the bytes now ready (possibly none).
 * They stay valid until the next call on this detokenizer. */
int cmlx_detokenizer_add(cmlx_detokenizer d, int32_t id, const char** text,
                         size_t* len);
/* Returns whatever is held back (an incomplete character at the end) and
 * empties the detokenizer for a new sequence. */
int cmlx_detokenizer_finish(cmlx_detokenizer d, const char** text, size_t* len);
void cmlx_detokenizer_free(cmlx_detokenizer d);

/* ---- vocabulary ---- */

/* One more than the largest id (model vocabulary and added tokens). */
size_t cmlx_tokenizer_vocab_size(cmlx_tokenizer tok);
/* The id of a token written as in tokenizer.json (byte-level form, e.g.
 * "\xc4\xa0the" for " the", or an added token's content); -1 if none. */
int32_t cmlx_tokenizer_token_to_id(cmlx_tokenizer tok, const char* token,
                                   size_t len);
/* The token's tokenizer.json form (NUL-terminated, owned by the tokenizer,
 * its length in *len when len is not NULL); NULL for an unknown id. */
const char* cmlx_tokenizer_id_to_token(cmlx_tokenizer tok, int32_t id,
                                       size_t* len);
/* Whether id is an added token marked "special". */
bool cmlx_tokenizer_is_special(cmlx_tokenizer tok, int32_t id);

/* The beginning-of-sequence id, -1 if the tokenizer has none:
 * tokenizer_config.json's bos_token (null there means none), else
 * generation_config.json's or config.json's bos_token_id, else the first
 * token the template adds. It says what the model calls bos; what encode
 * adds is decided by add_special alone. */
int32_t cmlx_tokenizer_bos_id(cmlx_tokenizer tok);
/* The end-of-sequence ids (tokenizer_config.json's eos_token first, then
 * generation_config.json's and config.json's eos_token_id, without
 * repeats); the array is owned by the tokenizer. Returns their count. */
size_t cmlx_tokenizer_eos_ids(cmlx_tokenizer tok, const int32_t** ids);
bool cmlx_tokenizer_is_eos(cmlx_tokenizer tok, int32_t id);

/* tokenizer_config.json's "chat_template" when it is a string, else NULL
 * (owned by the tokenizer). cmlx does not render templates. */
const char* cmlx_tokenizer_chat_template(cmlx_tokenizer tok);

#ifdef __cplusplus
}
#endif

#endif
