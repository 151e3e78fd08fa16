#!/usr/bin/python3
"""PyTorch reference fixtures for the Go model families.

Writes testdata/fixtures/<name>/{config.json, model.safetensors, reference.safetensors} for
gpt2, gpt2_gated, bert, roberta, llama and llama_gated, and (torch_reference_hub.py) for the
checkpoint layouts and families of the Hub: gpt2_hub, llama3_scaled, llama_linear, mistral,
qwen2, qwen3, llama_cls and gpt2_cls. The models are re-implemented here in
plain torch, one function per family, following the Hugging Face `transformers` modelling code
(modeling_gpt2.py, modeling_bert.py, modeling_roberta.py, modeling_llama.py, eager attention)
operation for operation, because `transformers` is not installed. scripts/README.md states every
convention the Go side must reproduce.

Run from the repository root:  python3 scripts/torch_reference.py [--out testdata/fixtures]
The output is byte-for-byte reproducible (fixed seeds, float32, one thread).

This file is longer than the house 400-line guide: it holds four model families, the optimiser
reference and the file writer, and splitting it would make the fixtures harder to regenerate.
"""

import os
import sys

try:
    import torch
except ImportError:  # pragma: no cover - environment fallback
    # Debian's python3-torch lives only in the system interpreter; a pyenv `python3` on PATH
    # does not see it. Re-run under /usr/bin/python3 rather than fail.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import argparse
import array
import json
import math

import torch.nn.functional as F

NEG = torch.finfo(torch.float32).min  # HF's mask value: finfo(dtype).min, not -inf
B, T = 2, 10  # batch and time of every fixture
TRANSFORMERS_LAYOUT = "4.40.0"  # the transformers release whose config.json layout we copy

# ----------------------------------------------------------------------------- safetensors


def write_safetensors(path, tensors):
    """Write {name: tensor} as safetensors: u64 LE header length, JSON header padded with
    spaces to a multiple of 8, then the raw little-endian tensors in header order."""
    assert sys.byteorder == "little"
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype == torch.float32:
            dtype, blob = "F32", array.array("f", t.reshape(-1).tolist()).tobytes()
        elif t.dtype == torch.int64:
            dtype, blob = "I64", array.array("q", t.reshape(-1).tolist()).tobytes()
        else:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {t.dtype}")
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for blob in blobs:
            f.write(blob)


def write_config(path, cfg):
    # PretrainedConfig.to_json_string: indent 2, sorted keys, trailing newline.
    with open(path, "w") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------- init


def normal(shape, std):
    return torch.randn(*shape) * std


def ln_pair(d):
    """LayerNorm weight around 1 and a nonzero bias, so gradient checks see both."""
    return 1.0 + normal((d,), 0.1), normal((d,), 0.05)


def add_ln(p, name, d):
    p[name + ".weight"], p[name + ".bias"] = ln_pair(d)


def add_dense(p, name, w_shape, n_out, std):
    """Weight of w_shape (nn.Linear (out,in); GPT-2 Conv1D (in,out)) and an n_out bias."""
    p[name + ".weight"], p[name + ".bias"] = normal(w_shape, std), normal((n_out,), 0.05)


# ----------------------------------------------------------------------------- shared ops


def gelu_new(x):
    # GPT-2's tanh approximation (Hendrycks & Gimpel 2016, eq. in sec. 2), HF NewGELUActivation.
    # One expression, as HF writes it: splitting it reorders autograd's gradient sums (last bit).
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi)
                                       * (x + 0.044715 * torch.pow(x, 3.0))))


def conv1d(p, name, x):
    """HF Conv1D by checkpoint name: weight (in, out); torch.addmm(bias, x.view(-1, in), weight)."""
    w = p[name + ".weight"]
    out = torch.addmm(p[name + ".bias"], x.reshape(-1, x.shape[-1]), w)
    return out.view(*x.shape[:-1], w.shape[1])


def dense(p, name, x):
    """nn.Linear by checkpoint name: x·Wᵀ + b, W (out, in); no bias if none is stored."""
    return F.linear(x, p[name + ".weight"], p.get(name + ".bias"))


def layer_norm(p, name, x, eps):
    return F.layer_norm(x, x.shape[-1:], p[name + ".weight"], p[name + ".bias"], eps)


def rms_norm(x, w, eps):
    # LlamaRMSNorm (Zhang & Sennrich 2019, eq. 4): weight * x * rsqrt(mean(x^2) + eps).
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def attention(q, k, v, causal, add_mask, head_gate):
    """Eager scaled dot-product attention (Vaswani et al. 2017, eq. 1).
    q, k, v (B,H,T,S); add_mask broadcastable to (B,H,T,T) or None; head_gate (B,T,H) or None.
    Returns the gated per-head context (B,H,T,S)."""
    S, Tq = q.shape[-1], q.shape[-2]
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(S)  # (B,H,T,T)
    if causal:
        keep = torch.tril(torch.ones(Tq, Tq, dtype=torch.bool))
        scores = torch.where(keep, scores, torch.tensor(NEG))
    if add_mask is not None:
        scores = scores + add_mask
    probs = torch.softmax(scores, dim=-1)
    ctx = torch.matmul(probs, v)  # (B,H,T,S)
    if head_gate is not None:
        ctx = ctx * head_gate.transpose(1, 2).unsqueeze(-1)  # gate (B,H,T,1)
    return ctx


def split_heads(x, h):
    b, t, d = x.shape
    return x.view(b, t, h, d // h).transpose(1, 2)  # (B,H,T,S)


def merge_heads(x):
    b, h, t, s = x.shape
    return x.transpose(1, 2).reshape(b, t, h * s)  # (B,T,D)


def expand_groups(g, f):
    """(B,T,G) group gate -> (B,T,F); neuron j belongs to group j // (F/G)."""
    return g.repeat_interleave(f // g.shape[-1], dim=-1)


def causal_lm_loss(logits, labels):
    # HF *ForCausalLM: logits[:, :-1] predict labels[:, 1:]; mean over labels != -100.
    v = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1),
                           ignore_index=-100)


# ----------------------------------------------------------------------------- GPT-2


def gpt2_config():
    return {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.0, "bos_token_id": 95, "embd_pdrop": 0.0, "eos_token_id": 95,
        "initializer_range": 0.15, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
        "n_embd": 32, "n_head": 4, "n_inner": None, "n_layer": 2, "n_positions": 16,
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.0,
        "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
        "summary_activation": None, "summary_first_dropout": 0.0, "summary_proj_to_labels": True,
        "summary_type": "cls_index", "summary_use_proj": True, "tie_word_embeddings": True,
        "torch_dtype": "float32", "transformers_version": TRANSFORMERS_LAYOUT, "use_cache": True,
        "vocab_size": 96,
    }


def gpt2_params(c):
    d, f, std = c["n_embd"], c["n_inner"] or 4 * c["n_embd"], c["initializer_range"]
    p = {"transformer.wte.weight": normal((c["vocab_size"], d), std),
         "transformer.wpe.weight": normal((c["n_positions"], d), std)}
    for i in range(c["n_layer"]):
        h = f"transformer.h.{i}."
        add_ln(p, h + "ln_1", d)
        add_dense(p, h + "attn.c_attn", (d, 3 * d), 3 * d, std)  # Conv1D: (in, out)
        add_dense(p, h + "attn.c_proj", (d, d), d, std)
        add_ln(p, h + "ln_2", d)
        add_dense(p, h + "mlp.c_fc", (d, f), f, std)
        add_dense(p, h + "mlp.c_proj", (f, d), d, std)
    add_ln(p, "transformer.ln_f", d)
    return p


def gpt2_forward(p, c, batch, gates):
    """GPT2LMHeadModel; returns logits (B,T,V). The LM head is tied: logits = h @ wte^T."""
    ids = batch["input_ids"]
    d, eps, nh = c["n_embd"], c["layer_norm_epsilon"], c["n_head"]
    t = ids.shape[1]
    h = F.embedding(ids, p["transformer.wte.weight"]) + F.embedding(
        torch.arange(t), p["transformer.wpe.weight"])  # (B,T,D)
    for i in range(c["n_layer"]):
        n = f"transformer.h.{i}."
        x = layer_norm(p, n + "ln_1", h, eps)
        q, k, v = conv1d(p, n + "attn.c_attn", x).split(d, dim=2)  # 3 x (B,T,D)
        ctx = attention(split_heads(q, nh), split_heads(k, nh), split_heads(v, nh), True, None,
                        gates.get(f"head_gate.{i}"))
        h = conv1d(p, n + "attn.c_proj", merge_heads(ctx)) + h
        x = layer_norm(p, n + "ln_2", h, eps)
        m = gelu_new(conv1d(p, n + "mlp.c_fc", x))  # (B,T,F)
        if f"ffn_gate.{i}" in gates:
            m = m * expand_groups(gates[f"ffn_gate.{i}"], m.shape[-1])
        h = h + conv1d(p, n + "mlp.c_proj", m)
    h = layer_norm(p, "transformer.ln_f", h, eps)
    return F.linear(h, p["transformer.wte.weight"])  # (B,T,V)


# ----------------------------------------------------------------------------- BERT / RoBERTa


def bert_config():
    return {
        "architectures": ["BertForSequenceClassification"], "attention_probs_dropout_prob": 0.0,
        "classifier_dropout": None, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "hidden_size": 32, "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
        "initializer_range": 0.15, "intermediate_size": 64,
        "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}, "layer_norm_eps": 1e-12,
        "max_position_embeddings": 16, "model_type": "bert", "num_attention_heads": 4,
        "num_hidden_layers": 2, "pad_token_id": 0, "position_embedding_type": "absolute",
        "problem_type": "single_label_classification", "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_LAYOUT, "type_vocab_size": 2, "use_cache": True,
        "vocab_size": 80,
    }


def roberta_config():
    c = bert_config()
    c.update({"architectures": ["RobertaForSequenceClassification"], "model_type": "roberta",
              "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "layer_norm_eps": 1e-05,
              "type_vocab_size": 1, "max_position_embeddings": 16, "intermediate_size": 72})
    return c


def encoder_params(c, root):
    """Embeddings and layers of BertModel / RobertaModel under `root` ("bert." / "roberta.")."""
    d, f, std = c["hidden_size"], c["intermediate_size"], c["initializer_range"]
    e = root + "embeddings."
    p = {e + "word_embeddings.weight": normal((c["vocab_size"], d), std),
         e + "position_embeddings.weight": normal((c["max_position_embeddings"], d), std),
         e + "token_type_embeddings.weight": normal((c["type_vocab_size"], d), std)}
    add_ln(p, e + "LayerNorm", d)
    for i in range(c["num_hidden_layers"]):
        n = f"{root}encoder.layer.{i}."
        for lin in ("query", "key", "value"):
            add_dense(p, n + "attention.self." + lin, (d, d), d, std)  # nn.Linear: (out, in)
        add_dense(p, n + "attention.output.dense", (d, d), d, std)
        add_ln(p, n + "attention.output.LayerNorm", d)
        add_dense(p, n + "intermediate.dense", (f, d), f, std)
        add_dense(p, n + "output.dense", (d, f), d, std)
        add_ln(p, n + "output.LayerNorm", d)
    return p


def bert_params(c):
    p = encoder_params(c, "bert.")
    d, std = c["hidden_size"], c["initializer_range"]
    add_dense(p, "bert.pooler.dense", (d, d), d, std)
    add_dense(p, "classifier", (len(c["id2label"]), d), len(c["id2label"]), std)
    return p


def roberta_params(c):
    p = encoder_params(c, "roberta.")
    d, std, k = c["hidden_size"], c["initializer_range"], len(c["id2label"])
    add_dense(p, "classifier.dense", (d, d), d, std)
    add_dense(p, "classifier.out_proj", (k, d), k, std)
    return p


def encoder_forward(p, c, root, batch, position_ids):
    """BertModel / RobertaModel body; returns the last hidden state (B,T,D)."""
    eps, nh, pad = c["layer_norm_eps"], c["num_attention_heads"], c["pad_token_id"]
    e = root + "embeddings."
    # nn.Embedding(..., padding_idx=pad): the pad row is read as stored but gets zero gradient.
    h = F.embedding(batch["input_ids"], p[e + "word_embeddings.weight"], padding_idx=pad)
    h = h + F.embedding(batch["token_type_ids"], p[e + "token_type_embeddings.weight"])
    pos_pad = pad if root == "roberta." else None  # RobertaEmbeddings also pads positions
    h = h + F.embedding(position_ids, p[e + "position_embeddings.weight"], padding_idx=pos_pad)
    h = layer_norm(p, e + "LayerNorm", h, eps)  # (B,T,D)
    ext = (1.0 - batch["attention_mask"][:, None, None, :].float()) * NEG  # (B,1,1,T)
    for i in range(c["num_hidden_layers"]):
        n = f"{root}encoder.layer.{i}."
        q, k, v = (split_heads(dense(p, n + "attention.self." + s, h), nh)
                   for s in ("query", "key", "value"))  # (B,H,T,S)
        ctx = merge_heads(attention(q, k, v, False, ext, None))  # (B,T,D)
        a = dense(p, n + "attention.output.dense", ctx) + h
        a = layer_norm(p, n + "attention.output.LayerNorm", a, eps)
        m = F.gelu(dense(p, n + "intermediate.dense", a))  # exact erf GELU, (B,T,F)
        h = layer_norm(p, n + "output.LayerNorm", dense(p, n + "output.dense", m) + a, eps)
    return h


def bert_forward(p, c, batch, gates):
    """BertForSequenceClassification; returns logits (B,num_labels)."""
    b, t = batch["input_ids"].shape
    h = encoder_forward(p, c, "bert.", batch, torch.arange(t).expand(b, t))
    pooled = torch.tanh(dense(p, "bert.pooler.dense", h[:, 0]))  # (B,D)
    return dense(p, "classifier", pooled)


def roberta_position_ids(ids, pad):
    # create_position_ids_from_input_ids: pads get `pad`, real tokens pad+1, pad+2, ...
    mask = ids.ne(pad).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + pad


def roberta_forward(p, c, batch, gates):
    """RobertaForSequenceClassification (no pooler); returns logits (B,num_labels)."""
    pos = roberta_position_ids(batch["input_ids"], c["pad_token_id"])
    h = encoder_forward(p, c, "roberta.", batch, pos)
    x = torch.tanh(dense(p, "classifier.dense", h[:, 0]))  # (B,D)
    return dense(p, "classifier.out_proj", x)


# ----------------------------------------------------------------------------- LLaMA


def llama_config():
    return {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 32,
        "initializer_range": 0.15, "intermediate_size": 80, "max_position_embeddings": 32,
        "mlp_bias": False, "model_type": "llama", "num_attention_heads": 4,
        "num_hidden_layers": 2, "num_key_value_heads": 2, "pretraining_tp": 1,
        "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0,
        "tie_word_embeddings": False, "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_LAYOUT, "use_cache": True, "vocab_size": 72,
    }


def llama_params(c):
    d, f, std = c["hidden_size"], c["intermediate_size"], c["initializer_range"]
    kv = d // c["num_attention_heads"] * c["num_key_value_heads"]
    p = {"model.embed_tokens.weight": normal((c["vocab_size"], d), std)}
    for i in range(c["num_hidden_layers"]):
        n = f"model.layers.{i}."
        p[n + "self_attn.q_proj.weight"] = normal((d, d), std)
        p[n + "self_attn.k_proj.weight"] = normal((kv, d), std)
        p[n + "self_attn.v_proj.weight"] = normal((kv, d), std)
        p[n + "self_attn.o_proj.weight"] = normal((d, d), std)
        p[n + "mlp.gate_proj.weight"] = normal((f, d), std)
        p[n + "mlp.up_proj.weight"] = normal((f, d), std)
        p[n + "mlp.down_proj.weight"] = normal((d, f), std)
        p[n + "input_layernorm.weight"] = 1.0 + normal((d,), 0.1)
        p[n + "post_attention_layernorm.weight"] = 1.0 + normal((d,), 0.1)
    p["model.norm.weight"] = 1.0 + normal((d,), 0.1)
    p["lm_head.weight"] = normal((c["vocab_size"], d), std)
    return p


def rope_cos_sin(t, s, theta):
    """LlamaRotaryEmbedding (Su et al. 2021, RoFormer eq. 34, HF half-split layout):
    inv_freq_i = 1/theta^(2i/S), angle = pos*inv_freq, cos/sin of cat(angle, angle): (T,S)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, s, 2, dtype=torch.int64).float() / s))  # (S/2)
    freqs = torch.outer(torch.arange(t).float(), inv_freq)  # (T,S/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (T,S)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama_forward(p, c, batch, gates):
    """LlamaForCausalLM; returns logits (B,T,V)."""
    ids, eps = batch["input_ids"], c["rms_norm_eps"]
    nh, nkv, d = c["num_attention_heads"], c["num_key_value_heads"], c["hidden_size"]
    s, (b, t) = d // nh, ids.shape
    cos, sin = rope_cos_sin(t, s, c["rope_theta"])
    causal = torch.triu(torch.full((t, t), NEG), diagonal=1)  # additive (T,T)
    h = F.embedding(ids, p["model.embed_tokens.weight"])  # (B,T,D)
    for i in range(c["num_hidden_layers"]):
        n = f"model.layers.{i}."
        x = rms_norm(h, p[n + "input_layernorm.weight"], eps)
        q = split_heads(dense(p, n + "self_attn.q_proj", x), nh)  # (B,H,T,S)
        k = split_heads(dense(p, n + "self_attn.k_proj", x), nkv)  # (B,Hkv,T,S)
        v = split_heads(dense(p, n + "self_attn.v_proj", x), nkv)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        # repeat_kv: query head j reads kv head j // (H/Hkv).
        k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)
        ctx = attention(q, k, v, False, causal, gates.get(f"head_gate.{i}"))
        h = h + dense(p, n + "self_attn.o_proj", merge_heads(ctx))
        x = rms_norm(h, p[n + "post_attention_layernorm.weight"], eps)
        m = F.silu(dense(p, n + "mlp.gate_proj", x)) * dense(p, n + "mlp.up_proj", x)  # (B,T,F)
        if f"ffn_gate.{i}" in gates:
            m = m * expand_groups(gates[f"ffn_gate.{i}"], m.shape[-1])
        h = h + dense(p, n + "mlp.down_proj", m)
    h = rms_norm(h, p["model.norm.weight"], eps)
    return dense(p, "lm_head", h)  # (B,T,V)


# ----------------------------------------------------------------------------- batches and gates


def decoder_batch(vocab):
    ids = torch.randint(3, vocab, (B, T))  # (B,T)
    labels = ids.clone()
    labels[0, 4] = -100  # ignored targets: the loss averages over the rest
    labels[1, T - 1] = -100
    mask = torch.ones(B, T, dtype=torch.int64)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def encoder_batch(c, cls_id, sep_id):
    """Row 0 full length; row 1 ends in 3 pads (attention_mask 0 there)."""
    pad, n_pad = c["pad_token_id"], 3
    ids = torch.randint(3, c["vocab_size"], (B, T))
    ids[:, 0] = cls_id
    ids[0, T - 1], ids[1, T - 1 - n_pad] = sep_id, sep_id
    ids[1, T - n_pad:] = pad
    mask = torch.ones(B, T, dtype=torch.int64)
    mask[1, T - n_pad:] = 0
    types = torch.zeros(B, T, dtype=torch.int64)
    if c["type_vocab_size"] > 1:  # second segment; pads keep type 0 as tokenizers emit
        types[0, 5:] = 1
        types[1, 4:T - n_pad] = 1
    labels = torch.tensor([2, 0])  # (B,) class ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels}


def make_gates(n_layers, n_heads, n_groups):
    """Gate inputs with exact zeros, exact ones and fractions:
    head_gate.i (B,T,H), ffn_gate.i (B,T,G)."""
    gates = {}
    for i in range(n_layers):
        for name, width in ((f"head_gate.{i}", n_heads), (f"ffn_gate.{i}", n_groups)):
            g, r = torch.rand(B, T, width), torch.rand(B, T, width)
            g[r < 0.2] = 0.0
            g[r > 0.8] = 1.0
            gates[name] = g
    gates["head_gate.0"][0, 2, :] = 0.0  # every head closed for one token
    gates["ffn_gate.1"][1, :, 0] = 0.0  # one neuron group closed for a whole row
    gates["head_gate.1"][1, 3, :] = 1.0  # fully open token
    return gates


# ----------------------------------------------------------------------------- reference run

ADAMW_STEPS = 10


def reference(forward, loss_fn, params, cfg, batch, gates):
    """Logits, loss and gradients of step 0, then ADAMW_STEPS AdamW steps on the same batch.
    AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), weight decay 0.1 on ndim >= 2 only, and
    clip_grad_norm_(1.0) before each step; each loss is taken before its step's update."""
    for p in params.values():
        p.requires_grad_(True)
    for g in gates.values():
        g.requires_grad_(True)
    decay = [p for p in params.values() if p.ndim >= 2]
    no_decay = [p for p in params.values() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    out, losses = {}, []
    for step in range(ADAMW_STEPS):
        opt.zero_grad(set_to_none=True)
        for g in gates.values():
            g.grad = None
        logits = forward(params, cfg, batch, gates)
        loss = loss_fn(logits, batch["labels"])
        loss.backward()
        if step == 0:
            out["logits"], out["loss"] = logits.detach().clone(), loss.detach().clone()
            for n, p in params.items():
                out["grad." + n] = p.grad.clone()
            for n, g in gates.items():
                out["grad." + n] = g.grad.clone()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        if step == 0:
            out["grad_norm"] = norm.detach().clone()
        opt.step()
        losses.append(loss.item())
    out["adamw_losses"] = torch.tensor(losses, dtype=torch.float32)
    return out


def classification_loss(logits, labels):
    return F.cross_entropy(logits, labels)  # problem_type single_label_classification


# name: (seed, config, params, forward, loss, batch(config), gates(config) or None)
FIXTURES = {
    "gpt2": (1, gpt2_config, gpt2_params, gpt2_forward, causal_lm_loss,
             lambda c: decoder_batch(c["vocab_size"]), None),
    "gpt2_gated": (1, gpt2_config, gpt2_params, gpt2_forward, causal_lm_loss,
                   lambda c: decoder_batch(c["vocab_size"]),
                   lambda c: make_gates(c["n_layer"], c["n_head"], 8)),
    "bert": (2, bert_config, bert_params, bert_forward, classification_loss,
             lambda c: encoder_batch(c, 1, 2), None),
    "roberta": (3, roberta_config, roberta_params, roberta_forward, classification_loss,
                lambda c: encoder_batch(c, c["bos_token_id"], c["eos_token_id"]), None),
    "llama": (4, llama_config, llama_params, llama_forward, causal_lm_loss,
              lambda c: decoder_batch(c["vocab_size"]), None),
    "llama_gated": (4, llama_config, llama_params, llama_forward, causal_lm_loss,
                    lambda c: decoder_batch(c["vocab_size"]),
                    lambda c: make_gates(c["num_hidden_layers"], c["num_attention_heads"], 4)),
}


def build(name):
    """Returns (config, initial params, reference tensors, model file tensors) for one fixture."""
    seed, config_fn, params_fn, forward, loss_fn, batch_fn, gates_fn, *file_fn = FIXTURES[name]
    torch.manual_seed(seed)  # gated twins share their base fixture's seed: same weights, same batch
    cfg = config_fn()
    params = params_fn(cfg)
    batch = batch_fn(cfg)
    gates = gates_fn(cfg) if gates_fn else {}
    initial = {n: p.clone() for n, p in params.items()}
    ref = {k: v for k, v in batch.items()}
    ref.update({n: g.clone() for n, g in gates.items()})
    ref.update(reference(forward, loss_fn, params, cfg, batch, gates))
    if gates_fn:  # sanity: all-open gates must reproduce the ungated model exactly
        ones = {n: torch.ones_like(g) for n, g in gates.items()}
        with torch.no_grad():
            same = torch.equal(forward(initial, cfg, batch, ones), forward(initial, cfg, batch, {}))
            assert same, f"{name}: all-ones gates change the logits"
    return cfg, initial, ref, file_fn[0](initial, cfg) if file_fn else initial


def register_hub_fixtures():
    """Adds torch_reference_hub's fixtures; that module imports this one's helpers."""
    sys.modules.setdefault("torch_reference", sys.modules[__name__])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_reference_hub
    FIXTURES.update(torch_reference_hub.FIXTURES)


def main():
    register_hub_fixtures()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="testdata/fixtures",
                    help="output folder (default %(default)s)")
    ap.add_argument("--only", nargs="*", choices=sorted(FIXTURES),
                    help="fixtures to write (default all)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # one thread: reductions in a fixed order, reproducible bytes
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    total = 0
    for name in args.only or FIXTURES:
        cfg, params, ref, tensors = build(name)
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        write_config(os.path.join(d, "config.json"), cfg)
        write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        write_safetensors(os.path.join(d, "reference.safetensors"), ref)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        total += size
        print(f"{name:12s} {size / 1024:7.1f} KiB  loss {ref['loss'].item():.6f}  "
              f"grad_norm {ref['grad_norm'].item():.4f}  "
              f"last AdamW loss {ref['adamw_losses'][-1].item():.6f}")
    print(f"{'total':12s} {total / 1024:7.1f} KiB")


if __name__ == "__main__":
    main()
