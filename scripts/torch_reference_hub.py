"""PyTorch reference fixtures for checkpoints as the Hugging Face Hub publishes them.

Imported by torch_reference.py, which writes these fixtures with its own (run
`python3 scripts/torch_reference.py --only gpt2_hub ...` from the repository root):

  gpt2_hub        GPT-2 in the bare GPT2Model key layout of openai-community/gpt2 and distilgpt2
                  ("wte.weight", "h.0.attn.c_attn.weight", no "transformer." prefix), with the
                  causal-mask buffers h.N.attn.bias and h.N.attn.masked_bias in the file.
  llama3_scaled   LLaMA with rope_scaling llama3 (all three wavelength bands exercised), an
                  explicit head_dim != hidden/heads, attention_bias, mlp_bias, untied head.
  llama_linear    LLaMA with rope_scaling linear, tied head.
  mistral         Mistral with a sliding_window that covers the sequence (exact causal attention).
  qwen2           Qwen2: q/k/v biases, no o_proj bias, tied head.
  qwen3           Qwen3: per-head q_norm/k_norm RMSNorm over head_dim before RoPE, head_dim != D/H.
  llama_cls       LlamaForSequenceClassification: score.weight on the last non-pad token.
  gpt2_cls        GPT2ForSequenceClassification (score.weight, last non-pad token), in the
                  bare Hub layout with its buffers.

One forward, llama_style_forward, follows modeling_llama.py, modeling_mistral.py,
modeling_qwen2.py and modeling_qwen3.py (eager attention) with the config's switches, and
rope_inv_freq follows modeling_rope_utils.py's _compute_*_parameters.
"""

import math

import torch
import torch.nn.functional as F

from torch_reference import (NEG, B, T, TRANSFORMERS_LAYOUT, attention, causal_lm_loss,
                             classification_loss, conv1d, decoder_batch, dense, expand_groups,
                             gelu_new, gpt2_config, gpt2_forward, gpt2_params, layer_norm,
                             merge_heads, normal, rms_norm, rotate_half, split_heads)

# ----------------------------------------------------------------------------- GPT-2, Hub layout


def gpt2_hub_file(p, c):
    """The checkpoint as the Hub ships GPT-2: GPT2Model keys without "transformer.", and the
    registered buffers attn.bias (1,1,n_positions,n_positions lower-triangular) and
    attn.masked_bias (scalar -1e4) of older exports. The head is tied, so no lm_head."""
    out = {n[len("transformer."):]: t for n, t in p.items()}
    n = c["n_positions"]
    for i in range(c["n_layer"]):
        out[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n, n)).view(1, 1, n, n)
        out[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    return out


def gpt2_cls_config():
    c = gpt2_config()
    c.update({"architectures": ["GPT2ForSequenceClassification"], "pad_token_id": 0,
              "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
              "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
              "problem_type": "single_label_classification"})
    return c


def gpt2_cls_params(c):
    p = gpt2_params(c)
    p["score.weight"] = normal((len(c["id2label"]), c["n_embd"]), c["initializer_range"])
    return p


def gpt2_cls_forward(p, c, batch, gates):
    """GPT2ForSequenceClassification: GPT2Model (the padding mask added to the causal scores),
    then score.weight (no bias) on the last token that is not padding; logits (B,C)."""
    ids = batch["input_ids"]
    d, eps, nh = c["n_embd"], c["layer_norm_epsilon"], c["n_head"]
    b, t = ids.shape
    pad = (1.0 - batch["attention_mask"][:, None, None, :].float()) * NEG  # (B,1,1,T)
    h = F.embedding(ids, p["transformer.wte.weight"]) + F.embedding(
        torch.arange(t), p["transformer.wpe.weight"])  # (B,T,D)
    for i in range(c["n_layer"]):
        n = f"transformer.h.{i}."
        x = layer_norm(p, n + "ln_1", h, eps)
        q, k, v = conv1d(p, n + "attn.c_attn", x).split(d, dim=2)
        ctx = attention(split_heads(q, nh), split_heads(k, nh), split_heads(v, nh), True, pad, None)
        h = conv1d(p, n + "attn.c_proj", merge_heads(ctx)) + h
        m = gelu_new(conv1d(p, n + "mlp.c_fc", layer_norm(p, n + "ln_2", h, eps)))  # (B,T,F)
        h = h + conv1d(p, n + "mlp.c_proj", m)
    h = layer_norm(p, "transformer.ln_f", h, eps)
    logits = F.linear(h, p["score.weight"])  # (B,T,C)
    last = (torch.arange(t) * (ids != c["pad_token_id"]).int()).argmax(-1)
    return logits[torch.arange(b), last]


def gpt2_cls_file(p, c):
    out = gpt2_hub_file({n: t for n, t in p.items() if n.startswith("transformer.")}, c)
    out["score.weight"] = p["score.weight"]
    return out


# ----------------------------------------------------------------------------- LLaMA-style


def llama_style_config(model_type, **over):
    c = {
        "architectures": [{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                           "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[model_type]],
        "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
        "hidden_size": 32, "initializer_range": 0.15, "intermediate_size": 80,
        "max_position_embeddings": 32, "model_type": model_type, "num_attention_heads": 4,
        "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-05,
        "rope_scaling": None, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "torch_dtype": "float32", "transformers_version": TRANSFORMERS_LAYOUT, "use_cache": True,
        "vocab_size": 72,
    }
    c.update(over)
    return c


def head_dim(c):
    if c["model_type"] == "qwen3":
        return c.get("head_dim", 128)  # Qwen3Config's default
    return c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]


def biases(c):
    """(q/k/v bias, o bias, mlp bias) as each family's modelling code builds its Linears."""
    mt = c["model_type"]
    if mt == "qwen2":
        return True, False, False
    if mt in ("llama", "qwen3"):
        ab = c.get("attention_bias", False)
        return ab, ab, mt == "llama" and c.get("mlp_bias", False)
    return False, False, False  # mistral


def add_linear(p, name, out, inp, std, bias):
    p[name + ".weight"] = normal((out, inp), std)
    if bias:
        p[name + ".bias"] = normal((out,), 0.05)


def llama_style_params(c):
    d, f, std = c["hidden_size"], c["intermediate_size"], c["initializer_range"]
    s, nh, nkv = head_dim(c), c["num_attention_heads"], c["num_key_value_heads"]
    qkv_b, o_b, mlp_b = biases(c)
    p = {"model.embed_tokens.weight": normal((c["vocab_size"], d), std)}
    for i in range(c["num_hidden_layers"]):
        n = f"model.layers.{i}."
        add_linear(p, n + "self_attn.q_proj", nh * s, d, std, qkv_b)
        add_linear(p, n + "self_attn.k_proj", nkv * s, d, std, qkv_b)
        add_linear(p, n + "self_attn.v_proj", nkv * s, d, std, qkv_b)
        add_linear(p, n + "self_attn.o_proj", d, nh * s, std, o_b)
        if c["model_type"] == "qwen3":
            p[n + "self_attn.q_norm.weight"] = 1.0 + normal((s,), 0.1)
            p[n + "self_attn.k_norm.weight"] = 1.0 + normal((s,), 0.1)
        add_linear(p, n + "mlp.gate_proj", f, d, std, mlp_b)
        add_linear(p, n + "mlp.up_proj", f, d, std, mlp_b)
        add_linear(p, n + "mlp.down_proj", d, f, std, mlp_b)
        p[n + "input_layernorm.weight"] = 1.0 + normal((d,), 0.1)
        p[n + "post_attention_layernorm.weight"] = 1.0 + normal((d,), 0.1)
    p["model.norm.weight"] = 1.0 + normal((d,), 0.1)
    if "ForSequenceClassification" in c["architectures"][0]:
        p["score.weight"] = normal((len(c["id2label"]), d), std)
    elif not c["tie_word_embeddings"]:
        p["lm_head.weight"] = normal((c["vocab_size"], d), std)
    return p


def rope_inv_freq(c, s):
    """modeling_rope_utils: _compute_default_rope_parameters, then the rope_scaling rule."""
    base = c["rope_theta"]
    inv_freq = 1.0 / (base ** (torch.arange(0, s, 2, dtype=torch.int64).float() / s))  # (S/2)
    rs = c.get("rope_scaling")
    kind = rs and (rs.get("rope_type") or rs.get("type"))
    if kind == "linear":  # _compute_linear_scaling_rope_parameters
        inv_freq = inv_freq / rs["factor"]
    elif kind == "llama3":  # _compute_llama3_parameters
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
        is_medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        inv_freq = torch.where(is_medium, smoothed, inv_freq_llama)
    else:
        assert kind in (None, "default"), kind
    return inv_freq


def rope_cos_sin(c, t, s):
    """LlamaRotaryEmbedding.forward: float32 inv_freq @ positions; cos/sin of cat(freqs, freqs)."""
    freqs = torch.outer(torch.arange(t).float(), rope_inv_freq(c, s))  # (T,S/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (T,S)
    return emb.cos(), emb.sin()


def heads(x, h, s):
    b, t, _ = x.shape
    return x.view(b, t, h, s)  # (B,T,H,S), before the transpose


def llama_style_forward(p, c, batch, gates):
    """*ForCausalLM (logits (B,T,V)) or *ForSequenceClassification (logits (B,C))."""
    ids, eps = batch["input_ids"], c["rms_norm_eps"]
    nh, nkv, s = c["num_attention_heads"], c["num_key_value_heads"], head_dim(c)
    b, t = ids.shape
    cos, sin = rope_cos_sin(c, t, s)
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    visible = j <= i
    if c["model_type"] == "mistral" and c.get("sliding_window"):
        visible = visible & (i - j < c["sliding_window"])  # unused while T <= sliding_window
    mask = torch.where(visible, torch.tensor(0.0), torch.tensor(NEG))[None, None]  # (1,1,T,T)
    pad = (1.0 - batch["attention_mask"][:, None, None, :].float()) * NEG  # (B,1,1,T)
    mask = torch.clamp(mask + pad, min=NEG)
    h = F.embedding(ids, p["model.embed_tokens.weight"])  # (B,T,D)
    for layer in range(c["num_hidden_layers"]):
        n = f"model.layers.{layer}."
        x = rms_norm(h, p[n + "input_layernorm.weight"], eps)
        q = heads(dense(p, n + "self_attn.q_proj", x), nh, s)  # (B,T,H,S)
        k = heads(dense(p, n + "self_attn.k_proj", x), nkv, s)
        v = heads(dense(p, n + "self_attn.v_proj", x), nkv, s).transpose(1, 2)
        if c["model_type"] == "qwen3":  # Qwen3Attention: q_norm/k_norm on (..., head_dim)
            q = rms_norm(q, p[n + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, p[n + "self_attn.k_norm.weight"], eps)
        q, k = q.transpose(1, 2), k.transpose(1, 2)  # (B,H,T,S)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)
        ctx = attention(q, k, v, False, mask, gates.get(f"head_gate.{layer}"))
        h = h + dense(p, n + "self_attn.o_proj", merge_heads(ctx))
        x = rms_norm(h, p[n + "post_attention_layernorm.weight"], eps)
        m = F.silu(dense(p, n + "mlp.gate_proj", x)) * dense(p, n + "mlp.up_proj", x)  # (B,T,F)
        if f"ffn_gate.{layer}" in gates:
            m = m * expand_groups(gates[f"ffn_gate.{layer}"], m.shape[-1])
        h = h + dense(p, n + "mlp.down_proj", m)
    h = rms_norm(h, p["model.norm.weight"], eps)
    if "score.weight" in p:
        # LlamaForSequenceClassification: the score of the last token that is not padding.
        logits = dense(p, "score", h)  # (B,T,C)
        non_pad = (ids != c["pad_token_id"]).int()
        last = (torch.arange(t) * non_pad).argmax(-1)  # (B)
        return logits[torch.arange(b), last]
    if c["tie_word_embeddings"]:
        return F.linear(h, p["model.embed_tokens.weight"])
    return dense(p, "lm_head", h)  # (B,T,V)


def classifier_batch(c):
    """Row 0 full length; row 1 right-padded with 3 pad tokens (attention_mask 0 there)."""
    pad, n_pad = c["pad_token_id"], 3
    ids = torch.randint(3, c["vocab_size"], (B, T))
    ids[1, T - n_pad:] = pad
    mask = torch.ones(B, T, dtype=torch.int64)
    mask[1, T - n_pad:] = 0
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([2, 0])}


LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          # head_dim 12, theta 1e4: wavelengths 6.3 (kept), 29 (smoothed), 135.. (divided)
          "original_max_position_embeddings": 64}

CONFIGS = {
    "llama3_scaled": lambda: llama_style_config(
        "llama", head_dim=12, attention_bias=True, mlp_bias=True, rope_scaling=LLAMA3,
        max_position_embeddings=256, pretraining_tp=1),
    "llama_linear": lambda: llama_style_config(
        "llama", attention_bias=False, mlp_bias=False, tie_word_embeddings=True,
        rope_scaling={"type": "linear", "factor": 4.0}, pretraining_tp=1),
    "mistral": lambda: llama_style_config("mistral", sliding_window=16, head_dim=None),
    "qwen2": lambda: llama_style_config(
        "qwen2", tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-06,
        use_sliding_window=False, sliding_window=32, max_window_layers=2),
    "qwen3": lambda: llama_style_config(
        "qwen3", head_dim=16, attention_bias=False, rope_theta=1000000.0, rms_norm_eps=1e-06,
        use_sliding_window=False, sliding_window=None, max_window_layers=2),
    "llama_cls": lambda: llama_style_config(
        "llama", architectures=["LlamaForSequenceClassification"], pad_token_id=0,
        id2label={"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
        label2id={"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
        problem_type="single_label_classification", attention_bias=False, mlp_bias=False),
}


def _decoder(c):
    return decoder_batch(c["vocab_size"])


# name: (seed, config, params, forward, loss, batch(config), gates(config) or None[, file])
# The optional last entry maps the parameters to the tensors of model.safetensors.
FIXTURES = {
    "gpt2_hub": (11, gpt2_config, gpt2_params, gpt2_forward, causal_lm_loss, _decoder, None,
                 gpt2_hub_file),
    "gpt2_cls": (18, gpt2_cls_config, gpt2_cls_params, gpt2_cls_forward, classification_loss,
                 lambda c: classifier_batch(c), None, gpt2_cls_file),
    "llama_cls": (17, CONFIGS["llama_cls"], llama_style_params, llama_style_forward,
                  classification_loss, classifier_batch, None),
}
for _seed, _name in enumerate(["llama3_scaled", "llama_linear", "mistral", "qwen2", "qwen3"], 12):
    FIXTURES[_name] = (_seed, CONFIGS[_name], llama_style_params, llama_style_forward,
                       causal_lm_loss, _decoder, None)
