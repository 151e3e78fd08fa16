// check.mjs runs a GGUF file that `sparsetune export --format gguf` wrote in
// llama.cpp (npm node-llama-cpp's prebuilt CPU build) and compares it with
// sparsetune's own results. Modes:
//
//   node check.mjs logprobs --gguf F --data IDS.jsonl --ours OURS.jsonl [--tol 1e-3] [--kv F32] [--flash-attn off]
//       next-token log-probabilities of every {"ids": [...]} line of IDS.jsonl,
//       from llama.cpp's logits (log-softmax in float64), against the
//       "token_logprobs" of `sparsetune score --per-token` (OURS.jsonl);
//       prints the largest and mean |difference|; exit 1 above --tol. Runs
//       with an F32 key/value cache and without flash attention (see load).
//   node check.mjs decode --gguf F [--prompt 16] [--gen 112] [--threads 2] [--kv F16] [--flash-attn auto]
//       batch-1 greedy decoding of --gen tokens after a --prompt token prompt;
//       prints generated tokens per second (the prompt's evaluation excluded).
//   node check.mjs tokenize --gguf F --inputs inputs.json --golden FAMILY.jsonl
//       llama.cpp's tokenization of every input (special tokens parsed, none
//       added) against the golden ids sparsetune's tokenizer is tested on;
//       prints matches, the differences llama.cpp makes for any GGUF (input
//       not in NFC, literal "</s>") and the first --show (5) others; exit 1
//       if there are others.
//
// Every mode prints one JSON line. Nothing is downloaded: getLlama is told
// to use the prebuilt binaries and never build.
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

function parseArgs(argv) {
    const out = {mode: argv[0]};
    for (let i = 1; i < argv.length; i += 2) {
        if (!argv[i].startsWith("--") || i + 1 >= argv.length)
            throw new Error(`bad argument ${argv[i]} (want --name value pairs)`);
        out[argv[i].slice(2)] = argv[i + 1];
    }
    return out;
}

function need(args, name) {
    if (args[name] === undefined)
        throw new Error(`${args.mode} needs --${name}`);
    return args[name];
}

function jsonLines(path) {
    return fs.readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

// load opens --gguf with a context of contextSize tokens (none for 0).
// Where numbers are compared (exact) the key/value cache is F32 and flash
// attention off: llama.cpp's CPU flash attention rounds queries and keys
// to F16, which moves log-probabilities by up to ~5e-3 on small models.
// Elsewhere llama.cpp's defaults stand (F16 cache, flash attention "auto").
// --kv F32|F16 and --flash-attn on|off override either.
async function load(args, contextSize, exact = false) {
    const threads = Number(args.threads ?? 2);
    const kv = args.kv ?? (exact ? "F32" : "F16");
    const flash = args["flash-attn"] === undefined ? (exact ? false : "auto") : args["flash-attn"] === "on";
    const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, progressLogs: false,
        logLevel: LlamaLogLevel.error, maxThreads: threads});
    const model = await llama.loadModel({modelPath: need(args, "gguf"), gpuLayers: 0});
    const context = contextSize > 0 ? await model.createContext({contextSize, batchSize: contextSize, threads,
        flashAttention: flash,
        experimentalKvCacheKeyType: kv, experimentalKvCacheValueType: kv}) : null;
    return {llama, model, context, threads, kv, flash};
}

// logSoftmax returns log p(token) from a Map of token → logit, in float64.
function logProb(logits, token) {
    let max = -Infinity;
    for (const v of logits.values()) max = Math.max(max, v);
    let sum = 0;
    for (const v of logits.values()) sum += Math.exp(v - max);
    return logits.get(token) - max - Math.log(sum);
}

async function logprobs(args) {
    const data = jsonLines(need(args, "data"));
    const ours = jsonLines(need(args, "ours"));
    if (data.length !== ours.length)
        throw new Error(`${data.length} inputs but ${ours.length} results of ours`);
    const longest = Math.max(...data.map((d) => d.ids.length));
    const {context, kv, flash} = await load(args, Math.max(32, longest), true);
    const seq = context.getSequence();
    let maxDiff = 0, sumDiff = 0, n = 0;
    for (let s = 0; s < data.length; s++) {
        const ids = data[s].ids;
        const want = ours[s].token_logprobs;
        if (!want || want.length !== ids.length - 1)
            throw new Error(`input ${s}: ${ids.length} ids but ${want?.length} token_logprobs of ours`);
        await seq.clearHistory();
        const res = await seq.controlledEvaluate(ids.map((t, i) => i < ids.length - 1 ? [t, {generateNext: {logits: true}}] : t));
        for (let i = 0; i < ids.length - 1; i++) {
            const d = Math.abs(logProb(res[i].next.logits, ids[i + 1]) - want[i]);
            maxDiff = Math.max(maxDiff, d);
            sumDiff += d;
            n++;
        }
    }
    const tol = Number(args.tol ?? Infinity);
    console.log(JSON.stringify({mode: "logprobs", gguf: args.gguf, kv_cache: kv, flash_attention: flash, tokens: n, max_abs_diff: maxDiff, mean_abs_diff: sumDiff / n, tol: Number.isFinite(tol) ? tol : null}));
    if (maxDiff > tol) process.exitCode = 1;
}

async function decode(args) {
    const promptLen = Number(args.prompt ?? 16), gen = Number(args.gen ?? 112);
    const {model, context, threads, kv, flash} = await load(args, promptLen + gen + 8);
    const vocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
    const prompt = Array.from({length: promptLen}, (_, i) => (7 + 31 * i) % vocab); // fixed ids, as bench infer's
    const seq = context.getSequence();
    const out = [];
    let start = 0;
    for await (const token of seq.evaluate(prompt, {temperature: 0})) {
        if (out.length === 0) start = performance.now(); // the prompt is evaluated: time the steps after it
        out.push(token);
        if (out.length === gen) break;
    }
    const seconds = (performance.now() - start) / 1000;
    console.log(JSON.stringify({mode: "decode", gguf: args.gguf, threads, kv_cache: kv, flash_attention: flash, prompt_tokens: promptLen, gen_tokens: out.length,
        tokens_per_s: (out.length - 1) / seconds, ms_per_token: 1000 * seconds / (out.length - 1)}));
}

async function tokenize(args) {
    const inputs = JSON.parse(fs.readFileSync(need(args, "inputs"), "utf8"));
    const golden = jsonLines(need(args, "golden"));
    const {model} = await load(args, 0);
    // Two llama.cpp behaviours that no GGUF metadata changes, counted
    // apart: it does not apply tokenizer.json's NFC normaliser (Qwen2/3),
    // and its vocabulary loader makes a token whose text is "</s>" an
    // end-of-generation control token, which it then matches in text.
    const known = {not_nfc: 0, eog_text: 0};
    let match = 0;
    const bad = [];
    for (let i = 0; i < inputs.length; i++) {
        const got = Array.from(model.tokenize(inputs[i], true));
        if (JSON.stringify(got) === JSON.stringify(golden[i].ids)) {
            match++;
            continue;
        }
        if (inputs[i].includes("</s>")) known.eog_text++;
        else if (inputs[i].normalize("NFC") !== inputs[i]) known.not_nfc++;
        else if (bad.length < Number(args.show ?? 5)) bad.push({input: inputs[i].slice(0, 60), llamacpp: got.slice(0, 12), ours: golden[i].ids.slice(0, 12)});
    }
    const unexplained = inputs.length - match - known.not_nfc - known.eog_text;
    const meta = model.fileInfo.metadata.tokenizer.ggml;
    console.log(JSON.stringify({mode: "tokenize", gguf: args.gguf, tokenizer: meta.model, pre: meta.pre, inputs: inputs.length, match,
        differ_not_nfc: known.not_nfc, differ_eog_text: known.eog_text, unexplained, mismatches: bad}));
    if (unexplained > 0) process.exitCode = 1;
}

const args = parseArgs(process.argv.slice(2));
const modes = {logprobs, decode, tokenize};
if (!modes[args.mode]) {
    console.error("usage: node check.mjs logprobs|decode|tokenize --gguf FILE ... (see the comment at the top)");
    process.exit(2);
}
await modes[args.mode](args);
