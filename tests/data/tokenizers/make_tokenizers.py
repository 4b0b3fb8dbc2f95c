#!/usr/bin/env python3
"""Writes the small tokenizer.json fixtures of tests/test_tokenizer.c.

Run from anywhere: python3 tests/data/tokenizers/make_tokenizers.py
The outputs are checked in; this script documents how they were made.

Every fixture shares one vocabulary layout:
  ids 0..255     the byte-level token of byte b has id b (GPT-2 byte alphabet:
                 ' ' is 'Ġ' U+0120, '\\n' is 'Ċ' U+010A, ...)
  ids 256..      one token per merge, in merge order: merge r makes id 256 + r
  ids 1000..     added tokens (special ones and a few plain ones)
The merges are listed below in rank order; test_tokenizer.c works its
expected encodings out from this list.
"""
import json, os

def byte_char(b):
    if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
        return chr(b)
    if b <= 32:
        return chr(256 + b)
    if 127 <= b <= 160:
        return chr(289 + b - 127)
    return chr(323)  # 0xAD

def bl(s):
    """byte-level form of a text"""
    return "".join(byte_char(b) for b in s.encode("utf-8"))

# (left, right) in plain text; both sides and the result become tokens.
MERGES = [
    (" ", "t"),        # 0  -> 256 "Ġt"
    ("h", "e"),        # 1  -> 257 "he"
    (" t", "he"),      # 2  -> 258 "Ġthe"
    ("l", "l"),        # 3  -> 259 "ll"
    ("e", "ll"),       # 4  -> 260 "ell"
    ("h", "ell"),      # 5  -> 261 "hell"
    ("hell", "o"),     # 6  -> 262 "hello"
    ("o", "r"),        # 7  -> 263 "or"
    (" ", "w"),        # 8  -> 264 "Ġw"
    (" w", "or"),      # 9  -> 265 "Ġwor"
    ("l", "d"),        # 10 -> 266 "ld"
    (" wor", "ld"),    # 11 -> 267 "Ġworld"
    ("'", "s"),        # 12 -> 268 "'s"
    ("'", "t"),        # 13 -> 269 "'t"
    (" ", "d"),        # 14 -> 270 "Ġd"
    ("o", "n"),        # 15 -> 271 "on"
    (" d", "on"),      # 16 -> 272 "Ġdon"
    ("\n", "\n"),      # 17 -> 273 "ĊĊ"
    (" ", " "),        # 18 -> 274 "ĠĠ"
    ("  ", "  "),      # 19 -> 275 "ĠĠĠĠ"
    ("b", "c"),        # 20 -> 276 "bc"
    ("a", "b"),        # 21 -> 277 "ab"
    ("a", "bc"),       # 22 -> 278 "abc"
    ("a", "a"),        # 23 -> 279 "aa"
    ("ab", "ab"),      # 24 -> 280 "abab"
    # 中 = e4 b8 ad, 文 = e6 96 87
    ("\xe4", "\xb8"),  # 25 (raw bytes, written as latin-1 characters)
    ("\xe4\xb8", "\xad"),  # 26
    ("\xe6", "\x96"),  # 27
    ("\xe6\x96", "\x87"),  # 28
    # 😀 = f0 9f 98 80
    ("\xf0", "\x9f"),  # 29
    ("\xf0\x9f", "\x98"),  # 30
    ("\xf0\x9f\x98", "\x80"),  # 31
    (" ", "a"),        # 32 -> 288 "Ġa"
    ("r", "e"),        # 33 -> 289 "re"
    ("'", "re"),       # 34 -> 290 "'re"
    ("i", "s"),        # 35 -> 291 "is"
    (" ", "is"),       # 36 -> 292 "Ġis"
]
# every merge's parts exist (as bytes or earlier merges) when it is made
# Digit pairs, then a few triples: ranks 37.. (ids 293..)
for a in "0123456789":
    for b in "0123456789":
        MERGES.append((a, b))
for t in ["123", "456", "789", "100"]:
    MERGES.append((t[:2], t[2]))

def merge_pieces():
    out = []
    for a, b in MERGES:
        # entries 25..31 are raw bytes written as latin-1 characters
        if any(ord(c) > 127 for c in a + b) and all(ord(c) < 256 for c in a + b):
            ab, bb = a.encode("latin-1"), b.encode("latin-1")
            out.append(("".join(byte_char(x) for x in ab), "".join(byte_char(x) for x in bb)))
        else:
            out.append((bl(a), bl(b)))
    return out

def vocab():
    v = {byte_char(b): b for b in range(256)}
    for r, (a, b) in enumerate(merge_pieces()):
        assert a in v and b in v, (r, a, b)
        assert a + b not in v, (r, a + b)
        v[a + b] = 256 + r
    return v

def added(name_ids, special=True, **flags):
    out = []
    for name, i in name_ids:
        d = {"id": i, "content": name, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": not special, "special": special}
        d.update(flags)
        out.append(d)
    return out

def bytelevel_pre(prefix=False, regex=False):
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": True,
            "use_regex": regex}

LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
             r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
            r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
O200K_RE = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+"
            r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}|"
            r" ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

def split(pattern):
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated",
            "invert": False}

def model(pairs=False, ignore_merges=False):
    m = merge_pieces()
    return {"type": "BPE", "dropout": None, "unk_token": None,
            "continuing_subword_prefix": None, "end_of_word_suffix": None,
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
            "vocab": vocab(),
            "merges": [list(x) for x in m] if pairs else [a + " " + b for a, b in m]}

def write(d, name, obj):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")

here = os.path.dirname(os.path.abspath(__file__))

# Llama 3: its regex, merges as "a b" strings, ignore_merges, <|begin_of_text|>
# added by a TemplateProcessing after a ByteLevel post-processor.
LLAMA_SPECIAL = [("<|begin_of_text|>", 1000), ("<|end_of_text|>", 1001),
                 ("<|reserved_special_token_0|>", 1002), ("<|start_header_id|>", 1006),
                 ("<|end_header_id|>", 1007), ("<|eot_id|>", 1009)]
write(os.path.join(here, "llama3"), "tokenizer.json", {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": added(LLAMA_SPECIAL),
    "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split(LLAMA3_RE), bytelevel_pre()]},
    "post_processor": {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                  {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                  {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [1000],
                                                  "tokens": ["<|begin_of_text|>"]}}}]},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                "use_regex": True},
    "model": model(ignore_merges=True)})
write(os.path.join(here, "llama3"), "tokenizer_config.json", {
    "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
    "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}",
    "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast"})
write(os.path.join(here, "llama3"), "generation_config.json", {
    "bos_token_id": 1000, "eos_token_id": [1001, 1009]})

# GPT-OSS (o200k_harmony): its regex, merges as ["a", "b"] pairs, no
# template, the harmony special tokens.
HARMONY = [("<|startoftext|>", 1000), ("<|endoftext|>", 1001), ("<|return|>", 1002),
           ("<|constrain|>", 1003), ("<|channel|>", 1005), ("<|start|>", 1006),
           ("<|end|>", 1007), ("<|message|>", 1008), ("<|call|>", 1012)]
write(os.path.join(here, "gptoss"), "tokenizer.json", {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": added(HARMONY),
    "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split(O200K_RE), bytelevel_pre()]},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                       "use_regex": False},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                "use_regex": True},
    "model": model(pairs=True)})
write(os.path.join(here, "gptoss"), "tokenizer_config.json", {
    "bos_token": "<|startoftext|>", "eos_token": "<|return|>",
    "pad_token": "<|endoftext|>"})
write(os.path.join(here, "gptoss"), "config.json", {
    "eos_token_id": 1002, "model_type": "gpt_oss"})

# Qwen2: NFC normalizer, digits one by one, no bos, plain added tokens.
QWEN = [("<|endoftext|>", 1000, True), ("<|im_start|>", 1001, True),
        ("<|im_end|>", 1002, True), ("<think>", 1003, False), ("</think>", 1004, False)]
qa = []
for name, i, sp in QWEN:
    qa += added([(name, i)], special=sp)
write(os.path.join(here, "qwen2"), "tokenizer.json", {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": qa,
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split(QWEN2_RE), bytelevel_pre()]},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                       "use_regex": False},
    "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                "use_regex": False},
    "model": model()})
write(os.path.join(here, "qwen2"), "tokenizer_config.json", {
    "add_bos_token": False, "add_prefix_space": False, "bos_token": None,
    "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "errors": "replace"})
write(os.path.join(here, "qwen2"), "config.json", {
    "bos_token_id": 1000, "eos_token_id": 1002, "model_type": "qwen2"})

# GPT-2 style: ByteLevel alone (prefix space, its own regex), added tokens
# with lstrip / rstrip / single_word, bos/eos from tokenizer_config flags.
G2 = added([("<s>", 1000), ("</s>", 1001)])
G2 += added([("[L]", 1002)], lstrip=True)
G2 += added([("[R]", 1003)], rstrip=True)
G2 += added([("cat", 1004)], special=False, single_word=True)
G2 += added([("<both>", 1005)], lstrip=True, rstrip=True)
write(os.path.join(here, "gpt2"), "tokenizer.json", {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": G2,
    "normalizer": None,
    "pre_tokenizer": bytelevel_pre(prefix=True, regex=True),
    "post_processor": None,
    "decoder": {"type": "ByteLevel"},
    "model": model()})
write(os.path.join(here, "gpt2"), "tokenizer_config.json", {
    "add_bos_token": True, "add_eos_token": True, "bos_token": {"content": "<s>"},
    "eos_token": {"content": "</s>", "lstrip": False}})
