// The input texts of the Hugging Face golden sets: llama.cpp's tokenizer test
// inputs, hand-written cases for what each family's pre-tokeniser, normaliser
// and added tokens do differently, and slices of the shared datasets.

import fs from "node:fs";
import path from "node:path";

// Written out so that each family meets every other family's special tokens
// too: "<s>" is an added token for Mistral and plain text for Qwen.
const SPECIAL = [
  "<|begin_of_text|>Hello",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
  "text<|end_of_text|>more text",
  "<|reserved_special_token_0|><|reserved_special_token_250|>",
  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
  "<|endoftext|>",
  "a<|endoftext|>b",
  " <|endoftext|> ",
  "<|im_start|><|im_start|><|im_end|>",
  "<|im_start",
  "<|im_start|im_end|>",
  "<think>\nLet me think.\n</think>\n\nThe answer is 4.",
  "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
  "<|fim_prefix|>def f(x):<|fim_suffix|>\n    return y<|fim_middle|>",
  "<|vision_start|><|image_pad|><|vision_end|>Describe.",
  "<s>",
  "<s>Hello</s>",
  "<s> [INST] Hi [/INST] Hello!</s>",
  "</s><unk><s>",
  "x <s> y",
  "<<s>>",
  "<|begin_of_text|>",
];

const WHITESPACE = [
  " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", " \n", "\n ", " \n \n ",
  "a  b   c    d", "a\tb\t\tc", "trailing   ", "   leading", "\u00a0nbsp\u00a0\u00a0x", "ideographic\u3000space",
  "line1\nline2\r\nline3\rline4", "mixed \t\n \t\n", "x\u2028y\u2029z", "\u0085next line", "word \n\n  word",
  "    indented\n        more\n", "\f\v",
];

const NUMBERS = [
  "1", "12", "123", "1234", "12345", "123456789", "1234567890123", "3.14159", "-42", "+7", "1,000,000",
  "1e10", "0x1F", "2024-05-01", "12:34:56", "$1,234.56", "50%", "(555) 123-4567", "v1.2.3",
  "\uff11\uff12\uff13", "\u0661\u0662\u0663", "\u00b2\u00b3\u00b9", "\u2460\u2461", "\u2153 cup", "Ⅻ", "10x faster", "a1b2c3",
];

const CODE = [
  "def main():\n    print(\"Hello, World!\")\n\nif __name__ == \"__main__\":\n    main()\n",
  "func (p *pipeline) Encode(text string) ([]int, error) {\n\tids := make([]int, 0, len(text)/3+1)\n\treturn ids, nil\n}",
  "{\"name\": \"sparsetune\", \"version\": [1, 2, 3], \"ok\": true, \"x\": null}",
  "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
  "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
  "x = [i**2 for i in range(10) if i % 2 == 0]  # squares",
  "#!/bin/bash\nset -euo pipefail\necho \"$HOME\" | grep -v '^#' >> out.txt",
  "a->b => c := d; e != f && g || !h",
  "// comment\n/* block */\n/// doc",
  "https://example.com/path?query=1&b=2#frag",
  "user@example.com",
  "C:\\Users\\name\\file.txt",
  "```python\nimport numpy as np\n```",
  "$$E = mc^2$$ and \\frac{a}{b}",
  "....", "!!!!!!", "???", "---", "___", "===", "***", "~~~~", "...\n...", "''''", "\"\"\"",
];

const CONTRACTIONS = [
  "I'm", "I'M", "you're", "YOU'RE", "they've", "THEY'VE", "we'll", "WE'LL", "he'd", "HE'D", "it's", "IT'S",
  "don't", "DON'T", "'s", "'t", "'re'", "rock 'n' roll", "O'Neil's", "students' books",
  "it\u2019s typographic", "l'homme", "'ll've", "Hello'S world'T",
];

const MULTILINGUAL = [
  "Der schnelle braune Fuchs springt über den faulen Hund.",
  "Le cœur a ses raisons que la raison ne connaît point.",
  "¿Dónde está la biblioteca? ¡Aquí!",
  "Быстрая коричневая лиса прыгает через ленивую собаку.",
  "Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο.",
  "敏捷的棕色狐狸跳过了懒狗。",
  "我爱北京天安门，天安门上太阳升。",
  "日本語のテキストです。カタカナとひらがな、漢字。",
  "한국어 텍스트입니다. 안녕하세요!",
  "مرحبا بالعالم! كيف حالك؟",
  "שלום עולם",
  "नमस्ते दुनिया, आप कैसे हैं?",
  "สวัสดีชาวโลก",
  "Tiếng Việt có dấu: Trường Đại học",
  "Türkçe: İstanbul ığdır ŞÇÖĞÜ",
  "ქართული ენა",
  "Հայերեն",
  "ᚠᛇᚻ᛫ᛒᛦᚦ",
  "Ελληνικά και English mixed 中文 text",
  // Decomposed (NFD) forms, which NFC recomposes: e + combining acute, etc.
  "cafe\u0301 na\u0308ive re\u0301sume\u0301",
  "\u1100\u1161\u11a8",
  "A\u030a Å \u212b",
  "\ufb01 ligature \ufb02",
  "ﬀ ﬃ ㎏ ㍻",
  "Ｆｕｌｌｗｉｄｔｈ　ＡＢＣ",
  "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333!",
  "\u200bzero\u200dwidth\u200c\ufeffbom",
  "ſ long s, 'ſ, Kelvin \u212a",
  "İ ı ß ẞ ǅ",
];

const EMOJI = [
  "😀", "😀😃😄", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸🇯🇵", "❤️", "☃", "I ❤️ NY 🗽!", "🦙 llama", "🤗 Hugging Face",
  "emoji at end 🎉", "🎉emoji at start", "ab😀cd", " 😀 ", "\u{1F600}\u{1F3FB}", "©®™", "→ ← ↑ ↓", "∑∫√∞≠≤", "♠♣♥♦",
  "\u{10348}\u{1D54F}\u{1F9E0}",
];

const MISC = [
  "", "a", "A", "Hello", " Hello", "  Hello", "Hello world", "hello world", "HELLO WORLD", "Hello, world!",
  "The quick brown fox jumps over the lazy dog.", "supercalifragilisticexpialidocious",
  "pneumonoultramicroscopicsilicovolcanoconiosis", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "ab ab ab ab ab ab", "Mr. Smith went to Washington, D.C., on Jan. 5th.", "e.g. i.e. etc.", "U.S.A.",
  "camelCaseIdentifier snake_case_identifier kebab-case-identifier", "ALLCAPS and MiXeD cAsE",
  "\"quoted\" 'single' «guillemets» „German“ ‘curly’ “double”", "em—dash en–dash a - b",
  "tab\tseparated\tvalues", "a,b,c\n1,2,3\n", "#hashtag @mention", "key: value\nlist:\n  - one\n  - two",
  "   \n\n   hello   \n\n   ", "Hello\n\nWorld", "end.\n",
];

// Pieces for random texts: where the families' regexes, Unicode classes,
// normalisers and added-token matching can disagree with a hand-written
// scanner (Unicode spaces and digits, combining marks, case-folded
// contractions, controls, private use, special tokens and their fragments).
const PIECES = [
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split(""),
  "0123456789".split(""),
  "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~".split(""),
  [" ", " ", "  ", "\t", "\n", "\r", "\r\n", "\n\n", "\u00a0", "\u2000", "\u2009", "\u3000", "\u0085", "\u2028", "\u1680", "\u180e", "\u200b", "\ufeff", "\u000b", "\u000c", "\u001c", "\u001f"],
  ["'", "'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'d", "'D", "'\u017f", "'\u212a", "\u2019s", "'x"],
  "éÉàüöñçßøåæœÀÿİıǅǈ".split(""),
  "αβγδεΩΣπ".split(""), "абвгдЖЩЯ".split(""), "中文字漢語日本".split(""), "ひらがなカタカナ".split(""), "한국어".split(""),
  "مرحبا".split(""), "שלום".split(""), ["न", "म", "स्", "ते", "क्षि"], ["\u0301", "\u0308", "\u0327", "\u20dd", "\u093f", "\u0e31"],
  "٠١٢٣٤٥٦٧٨٩".split(""), "０１２３４５".split(""), "²³¹½¼⅓ⅫⅣ①②⓵".split(""), ["\u{1D7CE}", "\u{1D7CF}"],
  ["😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", "🦙", "\u{1F9E0}", "©", "™", "→", "∑"],
  ["\u0000", "\u0001", "\u007f", "\u0080", "\u009f", "\u00ad", "\ue000", "\uf8ff", "\u{10FFFD}", "\ufffd"],
  ["<s>", "</s>", "<unk>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
    "<think>", "</think>", "<|im_start", "<|", "|>", "<<s>", "<0x41>", "\u2581", "\u2581\u2581", "\u0120", "\u010a"],
  ["Hello", " world", "the", " the", "ing", "tion", "http://", "www.", ".com", "    ", "\t\t", "...", "!!!", "---", "1000", "3.14"],
];

/** n texts of 1–25 random pieces, from a fixed-seed generator. */
export function randomTexts(n, seed) {
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const out = [];
  for (let k = 0; k < n; k++) {
    let s = "";
    for (let j = 1 + Math.floor(rnd() * 25); j > 0; j--) s += pick(pick(PIECES));
    out.push(s);
  }
  return out;
}

// Inputs of the added-token flag variants (gen.mjs VARIANTS): whitespace
// around tokens with lstrip and rstrip, tokens with normalized: true in text
// that normalisation changes. U+0085 and U+FEFF stay out: JavaScript's trim
// and Rust's \s disagree on them. So does "<mask><mask>" on Mistral: after
// normalisation ("▁<mask><mask>") the port takes a leftover piece that
// equals a token's raw content as that token, where Rust's find_matches
// leaves it to the model (tokenizer_added_test.go checks Rust's way).
export const FLAG_INPUTS = [
  "<|im_start|>user\nHi<|im_end|>\n  <|im_start|>assistant\n", "a   <|im_start|>b", "a\u00a0\u3000<|im_start|>b",
  "x<|im_end|>   \n\n y", "<|im_end|>\t\t", "<|im_start|><|im_start|>  <|im_end|>  <|im_end|>", "  <think>  hm  </think>  ok",
  "<think></think>", "a</think>b", "a </think> b", "café cafe\u0301 CAFÉ", "un cafe\u0301!", "cafe\u0301cafe\u0301",
  "<tool>  x  <tool>", "  <tool>", "<mask>", " <mask> ", "a<mask>b", "a <mask> b", "  <mask>", "x\n<mask>",
  "[INST] hi [/INST]", "x  [INST]  y", "[INST][INST]", "</s>  </s>", "a </s>", "<s> <mask> </s>", "   ", "",
];

/** Splits a llama.cpp .inp file as test-tokenizer-0 does. */
function ggmlInputs(file) {
  const raw = fs.readFileSync(file, "utf8");
  const sep = "\n__ggml_vocab_test__\n";
  const out = [];
  for (let r = raw; r.length > 0; ) {
    const i = r.indexOf(sep);
    if (i < 0) {
      out.push(r);
      break;
    }
    out.push(r.slice(0, i));
    r = r.slice(i + sep.length);
  }
  return out;
}

/** Cuts text to at most n code points, never inside a surrogate pair. */
function cut(text, start, n) {
  return Array.from(text).slice(start, start + n).join("");
}

/**
 * Slices of the shared datasets: every kth record, a window of up to n code
 * points from a fixed offset, so that the set is deterministic.
 */
function datasetSlices(shared) {
  const read = (rel) =>
    fs.readFileSync(path.join(shared, "datasets", rel), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l).text);
  const out = [];
  const moby = read("moby-dick/chapters.jsonl");
  for (let i = 0; i < moby.length; i += 9) out.push(cut(moby[i], 200, 160));
  const sotu = read("sotu/train.jsonl");
  for (let i = 0; i < sotu.length; i += 13) out.push(cut(sotu[i], 1000, 160));
  const spam = read("spamassassin/train.jsonl");
  for (let i = 0; i < spam.length; i += 170) out.push(cut(spam[i], 0, 160));
  return out;
}

/** All inputs, deduplicated, in a fixed order. */
export function allInputs(shared) {
  const golden = path.join(shared, "tokenizers", "golden");
  const ggml = ["llama-bpe", "llama-spm", "gpt-2", "bert-bge"].flatMap((n) => ggmlInputs(path.join(golden, `ggml-vocab-${n}.gguf.inp`)));
  const all = [...ggml, ...SPECIAL, ...WHITESPACE, ...NUMBERS, ...CODE, ...CONTRACTIONS, ...MULTILINGUAL, ...EMOJI, ...MISC, ...datasetSlices(shared), ...randomTexts(100, 7), ...FLAG_INPUTS];
  return [...new Set(all)];
}
