// Package data turns raw text into the token ids that the models in package nn
// consume: it holds the tokenizers and the dataset readers built on them.
//
// # Tokenizers
//
// LoadTokenizer reads a Hugging Face model directory and returns a Tokenizer
// whose Encode gives the same ids as the Hugging Face tokenizers library
// (tokenizer.encode(text, add_special_tokens=False)) for the families we
// fine-tune: GPT-2 byte-level BPE, BERT WordPiece, LLaMA/Mistral
// SentencePiece BPE with byte fallback, LLaMA-3/3.1 byte-level BPE and
// Qwen2/2.5/3 byte-level BPE (NFC, its own split regex). Parity is checked
// against llama.cpp's tokenizer test vectors (ggml-vocab-*.gguf.inp and .out,
// which Hugging Face tokenizers produced) in tokenizer_golden_test.go: 46/46
// cases for each of gpt-2, bert-bge, llama-spm and llama-bpe; and against
// Hugging Face's ids for the real tokenizer.json of Llama 3.1, Qwen3,
// Qwen2.5 and Mistral 7B in tokenizer_hf_golden_test.go: Encode,
// EncodeForModel and Decode 421/421 for each, and 29/29 for Qwen3 and
// Mistral variants whose added tokens set lstrip, rstrip and normalized
// (testdata/tokenizer/README.md says how the sets are made). EncodeForModel adds the special tokens a
// family expects around one sequence (BERT: [CLS] x [SEP]; LLaMA 2 and
// Mistral: <s> x; LLaMA 3: <|begin_of_text|> x; GPT-2 and Qwen: none);
// EncodeBatch encodes many texts in parallel. Decode gives the text Hugging
// Face's decode gives (special tokens kept, no clean-up of spaces).
//
// Encoding runs Hugging Face's pipeline: added tokens (special tokens such as
// <s> or <|im_start|>) are split out of the text, each remaining piece is
// normalised, added tokens marked normalized are split out of it, and the
// rest is pre-tokenised into words, each encoded by the model (BPE or
// WordPiece). The added tokens' lstrip, rstrip and single_word flags act as
// in Hugging Face.
//
// # What github.com/sugarme/tokenizer does, and what we replaced
//
// The layer is built on github.com/sugarme/tokenizer v0.3.0, which here
// parses tokenizer.json's model section into a vocabulary and merge table
// (pretrained.FromReader), builds GPT-2's merge table (bpe.CreateMerges),
// runs WordPiece's greedy longest-match-first (wordpiece.WordPiece) and
// supplies GPT-2's byte-level alphabet and BERT's punctuation class. Parts of
// v0.3.0 give ids that differ from Hugging Face's, or stop the process, so
// this package replaces them:
//
//   - BPE merging (bpe.Word.MergeAll) breaks ties between equal ranks by an
//     unset timestamp rather than by position, so a word holding one pair
//     several times ("!!!!!!") merges in the wrong order. tokenizer_bpe.go
//     merges as Hugging Face does: lowest rank first, then leftmost.
//   - BPE has no byte fallback: SentencePiece BPE vocabularies (LLaMA,
//     Mistral) spell characters they lack as <0xNN> byte tokens, which v0.3.0
//     turns into <unk>. tokenizer_bpe.go implements byte_fallback (and
//     LLaMA-3's ignore_merges).
//   - The BERT normaliser strips accents without decomposing first (so "é"
//     keeps its accent), treats only ASCII as whitespace, keeps private-use
//     characters and has a CJK range Hugging Face lacks. tokenizer_bert.go
//     normalises as Hugging Face does.
//   - The byte-level pre-tokeniser drops GPT-2's \s+(?!\S) alternative (Go's
//     regexp has no look-ahead), which changes how runs of spaces split, and
//     Split pre-tokenisers with look-ahead regexes panic at load.
//     tokenizer_pretok.go scans the GPT-2, LLaMA-3 and Qwen2 patterns by hand;
//     tokenizer.json's normaliser, pre-tokeniser, post-processor and decoder
//     are interpreted here (tokenizer_components.go), so any other regex Go
//     cannot compile is an error naming the file, never a panic.
//   - Loaders panic or call log.Fatal on malformed input (a type assertion
//     on an id that is not a number; WordPiece.ReadFiles on a missing file),
//     BPE.MergeWord panics when the unk token is missing, BPE.ReadFiles
//     compiles a regexp per line of merges.txt, the ByteFallback decoder
//     panics on a token such as <0xZZ>, and Tokenizer.EncodeBatch calls
//     os.Exit when a text fails. LoadTokenizer runs the library under recover
//     and returns errors; EncodeBatch in this package returns the error.
//
// # Datasets
//
// ReadRecords reads JSONL, CSV/TSV, plain text and Parquet files into
// records (text, label, id), with errors that name the file and line. Load
// turns a Spec into a Dataset: a causal-LM dataset packs documents, each
// followed by EOS, into blocks of exactly SeqLen tokens (Hugging Face's
// run_clm group_texts); a classification dataset encodes each record with
// the family's special tokens, truncates to SeqLen keeping the final
// special token, and maps labels through a label map saved with the model.
// Validation data comes from its own file or is carved out of the training
// file by document. Tokenized datasets are cached on disk under a key that
// hashes the tokenizer files, the spec and the data files' contents, so
// re-runs and sweeps never re-tokenize; a corrupt cache file is rebuilt.
// Shuffle gives the deterministic example order of each epoch; TrainBPE
// learns a byte-level BPE vocabulary (the embedded base model's tokenizer).
package data
