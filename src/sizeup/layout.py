"""The GGUF tensor inventory a model of a given :class:`~sizeup.model.Architecture` has.

Why predict tensors instead of multiplying parameter counts by bits per weight? Because
llama.cpp does not quantize a model uniformly: every tensor gets its own type by name, shape and
layer (see :mod:`sizeup.estimate.quant_mix`), and some never get quantized at all. An exact
size for a Q4_K_M file we have never seen needs the exact tensor list first.

Names and shapes follow what ``convert_hf_to_gguf.py`` writes and what llama.cpp's loader
(``src/models/<arch>.cpp``, ``load_arch_tensors``) expects: shapes in ggml order, ``ne0`` first,
so a PyTorch ``Linear(in, out)`` weight of shape ``(out, in)`` is ``(in, out)`` here, and a
stack of experts is ``(in, out, n_expert)``.

Architecture has no field for every small structural difference between families (biases,
extra norms, fused projections). Those live in :data:`ARCH_TRAITS`, one row per llama.cpp
architecture, and any trait can be overridden per model through ``Architecture.extra``
with the same key. The traits:

``bias_qkv``      q/k/v projections have biases (Qwen2, GLM-4, gpt-oss, StarCoder2)
``bias_o``        attn_output has a bias (StarCoder2, gpt-oss)
``bias_ffn``      ffn_up/ffn_down (and ffn_gate) have biases (StarCoder2)
``norm_bias``     LayerNorm with bias on attn_norm/ffn_norm/output_norm (StarCoder2)
``qk_norm``       "" | "head" (per-head RMSNorm: Qwen3, Gemma 3) | "full" (OLMo 2: over all heads)
``pre_norm``      attn_norm before attention (False for OLMo 2, which only has post-norms)
``ffn_norm``      a separate norm before the FFN (False for Cohere's parallel blocks; gpt-oss
                  names it post_attention_norm instead)
``post_norms``    attn_post_norm + ffn_post_norm after each sublayer (Gemma 2/3, GLM-4, OLMo 2)
``ffn_kind``      "gated" (gate/up/down), "plain" (up/down: StarCoder2), "fused_up" (one
                  ffn_up of width 2*n_ff holding gate and up: Phi-3, GLM-4)
``fused_qkv``     one attn_qkv instead of attn_q/k/v (Phi-3)
``attn_sinks``    per-head attention sink logits (gpt-oss)
``moe_bias``      router and expert biases (gpt-oss)
``exp_probs_b``   per-expert selection bias (DeepSeek V3, GLM-4.5)
``always_tied``   the architecture has no output.weight at all (Gemma 2, Cohere 2)
``rope_freqs``    a global rope_freqs.weight of n_rot/2 floats (Llama 3.1+ style rope scaling)
``rope_factors``  rope_factors_long/short.weight (Phi-3 LongRoPE)
``mla_kv_b``      legacy MLA files with one attn_kv_b instead of attn_k_b + attn_v_b
``n_nextn_layers`` trailing multi-token-prediction blocks counted in n_layer (GLM-4.5,
                  DeepSeek V3 when converted with MTP); they carry nextn.* tensors
``nextn_full``    the MTP blocks also carry their own embed_tokens / shared_head_head
``attn_q_gate``   attn_q is twice as wide: query and output gate in one projection (Qwen3-Next,
                  Qwen3.5)
``shexp_gate``    a scalar gate for the shared expert, ffn_gate_inp_shexp (Qwen3-Next)
``mla_indexer``   DeepSeek sparse attention's lightning indexer beside MLA in every block
                  (DeepSeek-V3.2): ``indexer.*`` tensors sized by ``extra["indexer_n_head"]`` and
                  ``extra["indexer_head_dim"]``
``token_embd_norm`` a LayerNorm with bias right after the token embeddings (RWKV-7)
``altup``         Gemma 3n's AltUp, LAuReL and per-layer-embedding tensors (src/models/gemma3n.cpp),
                  sized by llama.cpp's fixed values (:mod:`sizeup.data.fixed_hparams`)

Unknown architecture names get the llama-like defaults, which are right for the many
llama-derived families (mistral, granite, smollm3, ...).
"""

from __future__ import annotations

from typing import Any

from .data.fixed_hparams import GEMMA3N
from .errors import SizeupError
from .limits import MAX_DIM_SIZE, MAX_LAYERS
from .model import LAYER_RECURRENT, Architecture

Shape = tuple[int, ...]
TensorSpec = tuple[str, Shape]

_DEFAULT_TRAITS: dict[str, Any] = {
    "bias_qkv": False,
    "bias_o": False,
    "bias_ffn": False,
    "norm_bias": False,
    "qk_norm": "",
    "pre_norm": True,
    "ffn_norm": True,
    "post_norms": False,
    "ffn_kind": "gated",
    "fused_qkv": False,
    "attn_sinks": False,
    "moe_bias": False,
    "exp_probs_b": False,
    "always_tied": False,
    "rope_freqs": False,
    "rope_factors": False,
    "mla_kv_b": False,
    "n_nextn_layers": 0,
    "nextn_full": False,
    "attn_q_gate": False,
    "shexp_gate": False,
    "mla_indexer": False,
    "token_embd_norm": False,
    "altup": False,
}

# Per llama.cpp architecture; source: src/models/<arch>.cpp load_arch_tensors and the HF
# configs of the reference models (attention_bias, use_qk_norm...).
ARCH_TRAITS: dict[str, dict[str, Any]] = {
    "llama": {},
    "mistral3": {},
    "granite": {},
    "smollm3": {},
    "qwen2": {"bias_qkv": True},
    "qwen2moe": {"bias_qkv": True},
    "qwen3": {"qk_norm": "head"},
    "qwen3moe": {"qk_norm": "head"},
    "gemma2": {"post_norms": True, "always_tied": True},
    "gemma3": {"post_norms": True, "qk_norm": "head"},
    # src/models/gemma3n.cpp: Gemma 3's block (every layer keeps attn_k/attn_v, even those that
    # reuse an earlier layer's KV cache) plus AltUp, LAuReL and the per-layer embeddings.
    "gemma3n": {"post_norms": True, "qk_norm": "head", "altup": True},
    "phi3": {"fused_qkv": True, "ffn_kind": "fused_up"},
    "starcoder2": {"bias_qkv": True, "bias_o": True, "bias_ffn": True, "norm_bias": True, "ffn_kind": "plain"},
    "olmo2": {"pre_norm": False, "ffn_norm": False, "post_norms": True, "qk_norm": "full"},
    "cohere2": {"ffn_norm": False, "always_tied": True},
    "command-r": {"ffn_norm": False, "always_tied": True},
    "glm4": {"bias_qkv": True, "post_norms": True, "ffn_kind": "fused_up"},
    "glm4moe": {"bias_qkv": True, "exp_probs_b": True},
    "gpt-oss": {"bias_qkv": True, "bias_o": True, "attn_sinks": True, "moe_bias": True},
    "deepseek2": {},
    # src/models/deepseek32.cpp: deepseek2's MLA blocks (split attn_k_b/attn_v_b only) plus the
    # lightning indexer; DeepSeek-V3.2 routes with noaux_tc, so exp_probs_b is there.
    "deepseek32": {"mla_indexer": True, "exp_probs_b": True},
    "llama4": {},
    "mamba": {},
    "mamba2": {},
    "granitehybrid": {},
    "jamba": {},
    # src/models/qwen3vl*.cpp, minimax-m2.cpp, nemotron-h.cpp, apertus.cpp, lfm2.cpp, qwen3next.cpp,
    # qwen35*.cpp (load_arch_tensors).
    "qwen3vl": {"qk_norm": "head"},
    "qwen3vlmoe": {"qk_norm": "head"},
    "minimax-m2": {"qk_norm": "full", "exp_probs_b": True},
    "nemotron_h": {"ffn_kind": "plain", "exp_probs_b": True},  # ReLU^2 MLP and experts: up/down only
    "apertus": {"qk_norm": "head", "ffn_kind": "plain"},  # xIELU MLP: ffn_up/ffn_down only
    "lfm2": {"qk_norm": "head"},
    "qwen3next": {"qk_norm": "head", "attn_q_gate": True, "shexp_gate": True},
    "qwen35": {"qk_norm": "head", "attn_q_gate": True},
    "qwen35moe": {"qk_norm": "head", "attn_q_gate": True, "shexp_gate": True},
    # src/models/kimi-linear.cpp: MLA layers without q LoRA (attn_q) and KDA layers (_recurrent);
    # the MoE layers always carry exp_probs_b (created as required).
    "kimi-linear": {"exp_probs_b": True},
    # src/models/seed-oss.cpp (q/k/v biases: attention_bias in its config; the pre-FFN norm is
    # named post_attention_norm, as gpt-oss's), hunyuan-vl.cpp (which hunyuan-dense loads with:
    # per-head q/k norms), ernie4-5.cpp (llama's tensors).
    "seed_oss": {"bias_qkv": True},
    "hunyuan-dense": {"qk_norm": "head"},
    "ernie4_5": {},
    # src/models/rwkv7.cpp: a LayerNorm (with bias) on the token embeddings, biased output norm; the
    # blocks are built by _rwkv7_block.
    "rwkv7": {"norm_bias": True, "token_embd_norm": True},
}


def is_routed_expert(t) -> bool:
    """Stacked routed-expert weights (``ffn_*_exps``); shared experts and routers are always read.
    (Here, among the rules weight summaries are cached under, because they split bytes by it.)"""
    return "_exps" in t.name


def traits(arch: Architecture) -> dict[str, Any]:
    """The structural traits of ``arch``: table row for its name, then ``arch.extra`` overrides."""
    t = dict(_DEFAULT_TRAITS)
    t.update(ARCH_TRAITS.get(arch.name, {}))
    for k in _DEFAULT_TRAITS:
        if k in arch.extra:
            t[k] = arch.extra[k]
    return t


def _check(arch: Architecture) -> None:
    """Reject inventories that could not exist or would be absurd to enumerate."""
    try:
        arch.validate()
    except ValueError as e:
        raise SizeupError(f"inconsistent architecture '{arch.name}': {e}") from None
    if not 0 < arch.n_layer <= MAX_LAYERS:
        raise SizeupError(f"architecture '{arch.name}': {arch.n_layer} layers is outside 1..{MAX_LAYERS}")
    for name in ("n_embd", "n_vocab", "head_dim_k", "head_dim_v", "n_expert", "n_ff_exp", "n_ff_shexp",
                 "kv_lora_rank", "q_lora_rank", "rope_dim"):
        v = getattr(arch, name)
        if not 0 <= v <= MAX_DIM_SIZE:
            raise SizeupError(f"architecture '{arch.name}': {name}={v} is out of range")
    if arch.n_embd <= 0 or arch.n_vocab <= 0:
        raise SizeupError(f"architecture '{arch.name}': n_embd and n_vocab must be positive")
    for name in ("n_head", "n_head_kv", "n_ff"):
        if any(not 0 <= v <= MAX_DIM_SIZE for v in getattr(arch, name)):
            raise SizeupError(f"architecture '{arch.name}': a per-layer {name} is out of range")


def _attention(arch: Architecture, t: dict[str, Any], i: int, out: list[TensorSpec]) -> None:
    p = f"blk.{i}."
    E = arch.n_embd
    nh, nkv = arch.n_head[i], arch.n_head_kv[i]
    dk, dv = arch.head_dim_k, arch.head_dim_v
    q, k, v = dk * nh, dk * nkv, dv * nkv
    if t["attn_q_gate"]:  # the query projection also produces the per-head output gate
        q *= 2
    if t["fused_qkv"]:
        out.append((p + "attn_qkv.weight", (E, q + k + v)))
        if t["bias_qkv"]:
            out.append((p + "attn_qkv.bias", (q + k + v,)))
    else:
        out += [(p + "attn_q.weight", (E, q)), (p + "attn_k.weight", (E, k)), (p + "attn_v.weight", (E, v))]
        if t["bias_qkv"]:
            out += [(p + "attn_q.bias", (q,)), (p + "attn_k.bias", (k,)), (p + "attn_v.bias", (v,))]
    out.append((p + "attn_output.weight", (dv * nh, E)))
    if t["bias_o"]:
        out.append((p + "attn_output.bias", (E,)))
    if t["qk_norm"] == "head":
        out += [(p + "attn_q_norm.weight", (dk,)), (p + "attn_k_norm.weight", (dk,))]
    elif t["qk_norm"] == "full":
        out += [(p + "attn_q_norm.weight", (dk * nh,)), (p + "attn_k_norm.weight", (k,))]
    if t["attn_sinks"]:
        out.append((p + "attn_sinks.weight", (nh,)))


def _mla(arch: Architecture, t: dict[str, Any], i: int, out: list[TensorSpec]) -> None:
    """Multi-head latent attention (DeepSeek V2/V3, Kimi K2): low-rank q and compressed kv."""
    p = f"blk.{i}."
    E, nh = arch.n_embd, arch.n_head[i]
    rope = arch.rope_dim
    nope = arch.head_dim_k - rope
    dv, kv_rank, q_rank = arch.head_dim_v, arch.kv_lora_rank, arch.q_lora_rank
    if nope <= 0:
        raise SizeupError(f"architecture '{arch.name}': MLA head_dim_k {arch.head_dim_k} must exceed rope_dim {rope}")
    if q_rank > 0:
        out += [(p + "attn_q_a_norm.weight", (q_rank,)), (p + "attn_q_a.weight", (E, q_rank)),
                (p + "attn_q_b.weight", (q_rank, nh * arch.head_dim_k))]
    else:
        out.append((p + "attn_q.weight", (E, nh * arch.head_dim_k)))
    out += [(p + "attn_kv_a_norm.weight", (kv_rank,)), (p + "attn_kv_a_mqa.weight", (E, kv_rank + rope))]
    if t["mla_kv_b"]:
        out.append((p + "attn_kv_b.weight", (kv_rank, nh * (nope + dv))))
    else:
        out += [(p + "attn_k_b.weight", (nope, kv_rank, nh)), (p + "attn_v_b.weight", (kv_rank, dv, nh))]
    out.append((p + "attn_output.weight", (nh * dv, E)))
    if t["mla_indexer"]:
        _mla_indexer(arch, q_rank, p, out)


def _mla_indexer(arch: Architecture, q_rank: int, p: str, out: list[TensorSpec]) -> None:
    """DeepSeek sparse attention's lightning indexer (src/models/deepseek32.cpp): a LayerNorm
    with bias over its single key head, per-head weights, the key projection, and a query
    projection from the q LoRA latent. Model-wide sizes, so every block has the same ones."""
    ih, idim = arch.extra.get("indexer_n_head", 0), arch.extra.get("indexer_head_dim", 0)
    if not (isinstance(ih, int) and isinstance(idim, int) and 0 < ih <= MAX_DIM_SIZE and 0 < idim <= MAX_DIM_SIZE):
        raise SizeupError(f"architecture '{arch.name}': the lightning indexer's head count and head size are missing")
    if q_rank <= 0:
        raise SizeupError(f"architecture '{arch.name}': the lightning indexer needs a q LoRA rank")
    E = arch.n_embd
    out += [(p + "indexer.k_norm.weight", (idim,)), (p + "indexer.k_norm.bias", (idim,)),
            (p + "indexer.proj.weight", (E, ih)), (p + "indexer.attn_k.weight", (E, idim)),
            (p + "indexer.attn_q_b.weight", (q_rank, ih * idim))]


def _recurrent(arch: Architecture, t: dict[str, Any], i: int, out: list[TensorSpec]) -> None:
    p = f"blk.{i}."
    E, s = arch.n_embd, arch.ssm
    if s is None:
        raise SizeupError(f"architecture '{arch.name}': layer {i} is recurrent but the SSM facts are missing")
    if s.kind == "mamba2":
        # Mamba-2 (and the Mamba-2 layers of Granite 4 / Nemotron-H): one in_proj produces z, x, B, C, dt.
        n_heads = s.n_head or s.dt_rank
        groups = max(s.n_group, 1)
        conv_dim = s.d_inner + 2 * groups * s.d_state
        out += [
            (p + "ssm_in.weight", (E, s.d_inner + conv_dim + n_heads)),
            (p + "ssm_conv1d.weight", (s.d_conv, conv_dim)),
            (p + "ssm_conv1d.bias", (conv_dim,)),
            (p + "ssm_dt.bias", (n_heads,)),
            (p + "ssm_a", (1, n_heads)),
            (p + "ssm_d", (1, n_heads)),
            (p + "ssm_norm.weight", (s.d_inner // groups, groups)),
            (p + "ssm_out.weight", (s.d_inner, E)),
        ]
    elif s.kind == "mamba":
        out += [
            (p + "ssm_in.weight", (E, 2 * s.d_inner)),
            (p + "ssm_conv1d.weight", (s.d_conv, s.d_inner)),
            (p + "ssm_conv1d.bias", (s.d_inner,)),
            (p + "ssm_x.weight", (s.d_inner, s.dt_rank + 2 * s.d_state)),
            (p + "ssm_dt.weight", (s.dt_rank, s.d_inner)),
            (p + "ssm_dt.bias", (s.d_inner,)),
            (p + "ssm_a", (s.d_state, s.d_inner)),
            (p + "ssm_d", (s.d_inner,)),
            (p + "ssm_out.weight", (s.d_inner, E)),
        ]
        if arch.name == "jamba":
            out += [(p + "ssm_dt_norm.weight", (s.dt_rank,)), (p + "ssm_b_norm.weight", (s.d_state,)),
                    (p + "ssm_c_norm.weight", (s.d_state,))]
    elif s.kind == "gated_deltanet":
        # Qwen3-Next / Qwen3.5 linear attention: d_state = key head size, n_group = key heads,
        # n_head = value heads, head_size = value head size.
        key_dim, value_dim = s.d_state * s.n_group, s.head_size * s.n_head
        conv_dim = 2 * key_dim + value_dim
        out += [
            (p + "attn_qkv.weight", (E, conv_dim)),
            (p + "attn_gate.weight", (E, value_dim)),
            (p + "ssm_conv1d.weight", (s.d_conv, conv_dim)),
            (p + "ssm_dt.bias", (s.n_head,)),
            (p + "ssm_a", (s.n_head,)),
            (p + "ssm_beta_alpha.weight", (E, 2 * s.n_head)),
            (p + "ssm_norm.weight", (s.head_size,)),
            (p + "ssm_out.weight", (value_dim, E)),
        ]
    elif s.kind == "kda":
        # Kimi Delta Attention (src/models/kimi-linear.cpp load_arch_tensors): n_head heads of
        # head_size for q, k and v alike, a short convolution over each (4-D as
        # conversion/kimi_linear.py writes it; ggml drops the trailing 1 when the file is rewritten),
        # low-rank f (decay) and g (output gate) projections of rank head_size, beta per head.
        d, n, hd = s.d_conv, s.n_head, s.head_size
        di = n * hd
        out += [(p + f"ssm_conv1d_{x}.weight", (d, 1, di, 1)) for x in "qkv"]
        out += [
            (p + "attn_q.weight", (E, di)), (p + "attn_k.weight", (E, di)), (p + "attn_v.weight", (E, di)),
            (p + "ssm_f_a.weight", (E, hd)), (p + "ssm_f_b.weight", (hd, di)),
            (p + "ssm_beta.weight", (E, n)),
            (p + "ssm_a", (1, n, 1, 1)),
            (p + "ssm_dt.bias", (di,)),
            (p + "ssm_g_a.weight", (E, hd)), (p + "ssm_g_b.weight", (hd, di)),
            (p + "ssm_norm.weight", (hd,)),
            (p + "attn_output.weight", (di, E)),
        ]
    elif s.kind == "lfm2_conv":
        # LFM2 short gated convolution: in_proj gives B, C, x; the conv kernel spans L_cache steps.
        out += [
            (p + "shortconv.conv.weight", (s.d_conv, E)),
            (p + "shortconv.in_proj.weight", (E, 3 * E)),
            (p + "shortconv.out_proj.weight", (E, E)),
        ]
    else:
        raise SizeupError(f"architecture '{arch.name}': recurrent layer kind '{s.kind}' has no known tensor layout")


def is_rwkv7(arch: Architecture) -> bool:
    return arch.ssm is not None and arch.ssm.kind == "rwkv7"


def rwkv7_lora_ranks(arch: Architecture) -> tuple[int, int, int, int]:
    """(decay, in-context learning rate, value residual mix, gate) low-rank sizes of an RWKV-7
    model, from ``arch.extra`` (the GGUF keys ``rwkv7.attention.*_lora_rank``)."""
    ranks = []
    for key in ("rwkv_lora_decay", "rwkv_lora_iclr", "rwkv_lora_value_res_mix", "rwkv_lora_gate"):
        v = arch.extra.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_DIM_SIZE:
            raise SizeupError(f"architecture '{arch.name}': the RWKV-7 low-rank size {key} is missing or out of range")
        ranks.append(v)
    if not all(ranks):  # rwkv7.cpp creates every one of these projections (flag 0: required)
        raise SizeupError(f"architecture '{arch.name}': every RWKV-7 low-rank size must be positive")
    return ranks[0], ranks[1], ranks[2], ranks[3]


def _rwkv7_block(arch: Architecture, i: int, out: list[TensorSpec]) -> None:
    """One RWKV-7 block (src/models/rwkv7.cpp load_arch_tensors, shapes as conversion/rwkv.py
    writes them): LayerNorms with biases before the time mix and the channel mix, the time mix's
    low-rank projections (decay w, in-context learning rate a, value residual v, gate g) and its
    r/k/v/output matrices, the channel mix (a squared-ReLU MLP of width n_ff without a gate).
    Layer 0's value-residual projections are dummies with the ICLR rank (the converter copies
    a1/a2 into v1/v2 there). The six token-shift mixes are stored fused as (n_embd, 1, 1, 6); the
    per-channel vectors are 1-D (the converter squeezes them)."""
    p = f"blk.{i}."
    E, ff = arch.n_embd, arch.n_ff[i]
    if ff <= 0:
        raise SizeupError(f"architecture '{arch.name}': layer {i} has no channel-mix width (n_ff)")
    decay, iclr, vmix, gate = rwkv7_lora_ranks(arch)
    vr = iclr if i == 0 else vmix
    out += [(p + "attn_norm.weight", (E,)), (p + "attn_norm.bias", (E,)),
            (p + "attn_norm_2.weight", (E,)), (p + "attn_norm_2.bias", (E,)),
            (p + "time_mix_w0.weight", (E,)), (p + "time_mix_w1.weight", (E, decay)), (p + "time_mix_w2.weight", (decay, E)),
            (p + "time_mix_a0.weight", (E,)), (p + "time_mix_a1.weight", (E, iclr)), (p + "time_mix_a2.weight", (iclr, E)),
            (p + "time_mix_v0.weight", (E,)), (p + "time_mix_v1.weight", (E, vr)), (p + "time_mix_v2.weight", (vr, E))]
    out += [(p + "time_mix_g1.weight", (E, gate)), (p + "time_mix_g2.weight", (gate, E)),
            (p + "time_mix_lerp_fused.weight", (E, 1, 1, 6)),
            (p + "time_mix_k_k.weight", (E,)), (p + "time_mix_k_a.weight", (E,)), (p + "time_mix_r_k.weight", (E,)),
            (p + "time_mix_key.weight", (E, E)), (p + "time_mix_value.weight", (E, E)),
            (p + "time_mix_receptance.weight", (E, E)),
            (p + "time_mix_ln.weight", (E,)), (p + "time_mix_ln.bias", (E,)), (p + "time_mix_output.weight", (E, E)),
            (p + "channel_mix_lerp_k.weight", (E,)),
            (p + "channel_mix_key.weight", (E, ff)), (p + "channel_mix_value.weight", (ff, E))]


def altup_dims(arch: Architecture) -> tuple[int, int, int]:
    """(AltUp streams, LAuReL rank, per-layer embedding width) of a Gemma 3n model: ``arch.extra``
    (``altup_n``, ``laurel_rank``, ``per_layer_embd``), else llama.cpp's fixed values."""
    dims = []
    for key in ("altup_n", "laurel_rank", "per_layer_embd"):
        v = arch.extra.get(key, GEMMA3N[key])
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_DIM_SIZE:
            raise SizeupError(f"architecture '{arch.name}': {key}={v!r} is out of range")
        dims.append(v)
    if dims[0] < 2:
        raise SizeupError(f"architecture '{arch.name}': AltUp needs at least 2 streams, got {dims[0]}")
    return dims[0], dims[1], dims[2]


def _altup_head(arch: Architecture) -> list[TensorSpec]:
    """Gemma 3n's model-wide tensors besides the embeddings (src/models/gemma3n.cpp
    load_arch_tensors): the AltUp projections into and out of the extra streams (stacked, one
    E x E matrix per extra stream) and the per-layer embeddings: a second token table with
    ``per_layer_embd`` values per layer and token, and its projection from the residual stream."""
    n_altup, _, ple = altup_dims(arch)
    E, V, L = arch.n_embd, arch.n_vocab, arch.n_layer
    return [("altup_proj.weight", (E, E, n_altup - 1)), ("altup_unembd_proj.weight", (E, E, n_altup - 1)),
            ("per_layer_token_embd.weight", (ple * L, V)), ("per_layer_model_proj.weight", (E, ple * L)),
            ("per_layer_proj_norm.weight", (ple,))]


def _altup_block(arch: Architecture, p: str, out: list[TensorSpec]) -> None:
    """One Gemma 3n block's per-layer-input gate and projection, AltUp coefficients and router, and
    LAuReL's low-rank residual (src/models/gemma3n.cpp load_arch_tensors)."""
    n_altup, rank, ple = altup_dims(arch)
    E = arch.n_embd
    out += [(p + "inp_gate.weight", (E, ple)), (p + "proj.weight", (ple, E)), (p + "post_norm.weight", (E,)),
            (p + "altup_correct_coef.weight", (n_altup, n_altup)), (p + "altup_correct_scale.weight", (E,)),
            (p + "altup_predict_coef.weight", (n_altup, n_altup * n_altup)),
            (p + "altup_router.weight", (E, n_altup)), (p + "altup_router_norm.weight", (E,)),
            (p + "laurel_l.weight", (E, rank)), (p + "laurel_r.weight", (rank, E)), (p + "laurel_post_norm.weight", (E,))]


def _is_moe_layer(arch: Architecture, i: int) -> bool:
    if not arch.n_expert:
        return False
    return arch.is_moe_layer(i) if arch.moe_layers else True


def _ffn(arch: Architecture, t: dict[str, Any], i: int, out: list[TensorSpec]) -> None:
    p = f"blk.{i}."
    E = arch.n_embd
    if _is_moe_layer(arch, i):
        X = arch.n_expert
        ff = arch.n_ff_exp or arch.n_ff[i]
        if ff <= 0:
            raise SizeupError(f"architecture '{arch.name}': MoE layer {i} has no expert width (n_ff_exp)")
        out.append((p + "ffn_gate_inp.weight", (E, X)))
        if t["exp_probs_b"]:
            out.append((p + "exp_probs_b.bias", (X,)))
        plain = t["ffn_kind"] == "plain"  # experts without a gate projection (Nemotron 3)
        if not plain:
            out.append((p + "ffn_gate_exps.weight", (E, ff, X)))
        out += [(p + "ffn_up_exps.weight", (E, ff, X)), (p + "ffn_down_exps.weight", (ff, E, X))]
        if t["moe_bias"]:
            out += [(p + "ffn_gate_inp.bias", (X,)), (p + "ffn_gate_exps.bias", (ff, X)),
                    (p + "ffn_up_exps.bias", (ff, X)), (p + "ffn_down_exps.bias", (E, X))]
        sh = arch.n_ff_shexp
        if sh > 0:
            if t["shexp_gate"]:
                out.append((p + "ffn_gate_inp_shexp.weight", (E,)))
            if not plain:
                out.append((p + "ffn_gate_shexp.weight", (E, sh)))
            out += [(p + "ffn_up_shexp.weight", (E, sh)), (p + "ffn_down_shexp.weight", (sh, E))]
        return
    ff = arch.n_ff[i]
    if ff <= 0:
        return
    kind = t["ffn_kind"]
    if kind == "fused_up":
        out += [(p + "ffn_up.weight", (E, 2 * ff)), (p + "ffn_down.weight", (ff, E))]
    elif kind == "plain":
        out += [(p + "ffn_up.weight", (E, ff)), (p + "ffn_down.weight", (ff, E))]
    else:
        out += [(p + "ffn_gate.weight", (E, ff)), (p + "ffn_up.weight", (E, ff)), (p + "ffn_down.weight", (ff, E))]
    if t["bias_ffn"]:
        if kind == "gated":
            out.append((p + "ffn_gate.bias", (ff,)))
        out += [(p + "ffn_up.bias", (2 * ff if kind == "fused_up" else ff,)), (p + "ffn_down.bias", (E,))]


def _has_ffn(arch: Architecture, i: int) -> bool:
    return _is_moe_layer(arch, i) or arch.n_ff[i] > 0


def predict_tensors(arch: Architecture) -> list[TensorSpec]:
    """GGUF tensor names and ggml-order shapes of a model with this architecture.

    Raises :class:`SizeupError` for architectures whose facts are inconsistent (per-layer
    tuples of the wrong length, absurd sizes, recurrent layers without SSM facts).
    """
    head, blocks = predict_blocks(arch)
    out = list(head)
    for i, roles in blocks:
        p = f"blk.{i}."
        out += [(p + suffix, shape) for suffix, shape in roles]
    return out


def predict_blocks(arch: Architecture) -> tuple[list[TensorSpec], list[tuple[int, tuple[TensorSpec, ...]]]]:
    """:func:`predict_tensors` kept by block: the non-block tensors, then each layer as (i, its
    tensors with the ``blk.i.`` prefix left out). Layers with the same per-layer facts (kind,
    heads, FFN width, MoE or not, MTP or not) share one tuple, built once: a model's blocks repeat
    a handful of layouts, and ranking a catalog asks for thousands of models' layouts."""
    _check(arch)
    t = traits(arch)
    E, V = arch.n_embd, arch.n_vocab
    out: list[TensorSpec] = [("token_embd.weight", (E, V))]
    if t["token_embd_norm"]:
        out += [("token_embd_norm.weight", (E,)), ("token_embd_norm.bias", (E,))]
    if t["altup"]:
        out += _altup_head(arch)
    if arch.n_pos_embd:
        out.append(("position_embd.weight", (E, arch.n_pos_embd)))
    out.append(("output_norm.weight", (E,)))
    if t["norm_bias"]:
        out.append(("output_norm.bias", (E,)))
    if not arch.tie_embeddings and not t["always_tied"]:
        out.append(("output.weight", (E, V)))
    n_rot = arch.rope_dim or arch.head_dim_k
    if t["rope_freqs"]:
        out.append(("rope_freqs.weight", (n_rot // 2,)))
    if t["rope_factors"]:
        out += [("rope_factors_long.weight", (n_rot // 2,)), ("rope_factors_short.weight", (n_rot // 2,))]

    first_nextn = arch.n_layer - int(t["n_nextn_layers"] or 0)
    memo: dict[tuple, tuple[TensorSpec, ...]] = {}
    blocks = []
    for i in range(arch.n_layer):
        sig = _layer_facts(arch, i, first_nextn)
        roles = memo.get(sig)
        if roles is None:
            p = f"blk.{i}."
            roles = memo[sig] = tuple((name[len(p):], shape) for name, shape in _block(arch, t, i, first_nextn))
        blocks.append((i, roles))
    return out, blocks


def _layer_facts(arch: Architecture, i: int, first_nextn: int) -> tuple:
    """Everything :func:`_block` reads that differs between layers (the rest is model-wide)."""
    return (arch.layer_kind(i), arch.n_head[i], arch.n_head_kv[i], arch.n_ff[i], _is_moe_layer(arch, i),
            i >= first_nextn, i == 0 and is_rwkv7(arch))  # RWKV-7's layer 0 has dummy value-mix shapes


def _block(arch: Architecture, t: dict[str, Any], i: int, first_nextn: int) -> list[TensorSpec]:
    """The tensors of block ``i``, named ``blk.i.*``."""
    E, V = arch.n_embd, arch.n_vocab
    out: list[TensorSpec] = []
    p = f"blk.{i}."
    recurrent = arch.layer_kind(i) == LAYER_RECURRENT
    if recurrent and is_rwkv7(arch):
        _rwkv7_block(arch, i, out)  # its own norms (with biases) and channel mix: nothing generic applies
        return out
    if t["pre_norm"]:
        out.append((p + "attn_norm.weight", (E,)))
        if t["norm_bias"]:
            out.append((p + "attn_norm.bias", (E,)))
    if recurrent:
        _recurrent(arch, t, i, out)
    elif arch.extra.get("parallel_ssm") and arch.ssm is not None:
        # Falcon-H1: a Mamba-2 mixer beside the attention in every layer (src/models/falcon-h1.cpp).
        _recurrent(arch, t, i, out)
        _attention(arch, t, i, out)
    elif arch.is_mla:
        _mla(arch, t, i, out)
    elif arch.n_head[i] > 0:
        _attention(arch, t, i, out)
    if t["post_norms"] and not recurrent:
        out.append((p + "post_attention_norm.weight", (E,)))
    if _has_ffn(arch, i):
        if arch.name in ("gpt-oss", "seed_oss"):
            # gpt-oss and Seed-OSS call their pre-FFN norm post_attention_norm (HF: post_attention_layernorm).
            out.append((p + "post_attention_norm.weight", (E,)))
        elif t["ffn_norm"]:
            out.append((p + "ffn_norm.weight", (E,)))
            if t["norm_bias"]:
                out.append((p + "ffn_norm.bias", (E,)))
        _ffn(arch, t, i, out)
        if t["post_norms"]:
            out.append((p + "post_ffw_norm.weight", (E,)))
    if t["altup"]:
        _altup_block(arch, p, out)
    if i >= first_nextn:
        out += [(p + "nextn.eh_proj.weight", (2 * E, E)), (p + "nextn.enorm.weight", (E,)),
                (p + "nextn.hnorm.weight", (E,)), (p + "nextn.shared_head_norm.weight", (E,))]
        if t["nextn_full"]:
            out += [(p + "nextn.embed_tokens.weight", (E, V)), (p + "nextn.shared_head_head.weight", (E, V))]
    return out


def n_elements(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def count_params(arch: Architecture) -> int:
    """Total parameters of a model with this architecture: the sum over :func:`predict_tensors`."""
    return sum(n_elements(s) for _, s in predict_tensors(arch))
