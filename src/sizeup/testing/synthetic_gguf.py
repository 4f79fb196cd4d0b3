"""Tiny but architecturally complete GGUF models that real llama.cpp loads and runs.

Why: sizeup's memory estimator is validated by loading models in llama.cpp and comparing its
buffers with the prediction. Real checkpoints of every architecture family (MoE, MLA, sliding
window, recurrent, hybrid) are gigabytes; these files are a few MB each yet have every tensor
llama.cpp's loader requires for their architecture, with the right shapes, a working SentencePiece
vocabulary and weights that give finite logits. Per-layer buffers are big enough (n_embd 256, 4-6
layers) that KV-cache and state sizes are not lost in rounding.

Tensor names come from gguf-py's ``MODEL_TENSORS``/``TENSOR_NAMES`` tables (and each tensor is
checked to belong to its architecture there); the set of tensors and their shapes follow each
architecture's ``load_arch_tensors`` in llama.cpp ``src/models/<arch>.cpp``; metadata keys follow
``src/llama-arch.cpp``. Weights are seeded random values, so the same call writes the same bytes.

Usage::

    write_synthetic(tmp / "moe.gguf", "qwen3moe", n_expert=16)
    write_synthetic(tmp / "m.gguf", "llama", split_max_tensors=20)  # -> m-00001-of-0000N.gguf ...
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Defaults shared by every architecture; each builder adds its own (experts, MLA ranks, SSM sizes).
COMMON_DEFAULTS: dict[str, Any] = {
    "n_vocab": 512,
    "n_embd": 256,
    "n_layer": 4,
    "n_head": 8,
    "n_head_kv": 2,
    "n_ff": 512,
    "n_ctx": 4096,
    "rope_freq_base": 10000.0,
    "rms_eps": 1e-5,
    "dtype": "F16",  # matrices: F32 | F16 | BF16 | Q8_0 (norms and biases stay F32, as in real files)
    "tie_embeddings": False,
    "seed": 0,
    "name": None,
    "license": "apache-2.0",
    "split_max_tensors": 0,  # > 0: write a gguf-split style multi-file model
}

ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {"n_ff": 768},
    "qwen3": {"n_ff": 768, "tie_embeddings": True},
    "qwen3moe": {"n_expert": 8, "n_expert_used": 2, "n_ff_exp": 128},
    "deepseek2": {
        "n_head": 8, "q_lora_rank": 96, "kv_lora_rank": 64, "qk_nope": 32, "qk_rope": 16, "v_head": 32,
        "n_expert": 8, "n_expert_used": 2, "n_expert_shared": 1, "n_ff_exp": 128, "n_dense_lead": 1,
    },
    # DeepSeek-V3.2: deepseek2 plus the lightning indexer. Its head size must be a multiple of 64
    # (llama.cpp rotates the indexer keys with a Hadamard matrix of at least 64) and at least qk_rope.
    "deepseek32": {
        "n_head": 8, "q_lora_rank": 96, "kv_lora_rank": 64, "qk_nope": 32, "qk_rope": 16, "v_head": 32,
        "n_expert": 8, "n_expert_used": 2, "n_expert_shared": 1, "n_ff_exp": 128, "n_dense_lead": 1,
        "indexer_n_head": 4, "indexer_head_dim": 64, "indexer_top_k": 16,
    },
    "gemma2": {"n_head": 4, "n_head_kv": 2, "head_dim": 64, "sliding_window": 64, "n_layer": 4, "tie_embeddings": True},
    "gemma3": {"n_head": 4, "n_head_kv": 1, "head_dim": 64, "sliding_window": 64, "n_layer": 8, "tie_embeddings": True},
    # Gemma 3n: 24 layers, so that layers 20-23 reuse the KV cache of layers 18/19 as in the real
    # models (llama.cpp fixes n_layer_kv_from_start at 20); AltUp 4, LAuReL 64 and 256 per-layer
    # embedding values are llama.cpp's fixed sizes (data/fixed_hparams.py). Narrow (n_embd 128) so
    # that 24 layers and the per-layer embedding table stay under 20 MB.
    "gemma3n": {"n_embd": 128, "n_head": 2, "n_head_kv": 1, "head_dim": 64, "n_ff": 256, "n_vocab": 384,
                "sliding_window": 64, "n_layer": 24, "tie_embeddings": True, "swa_period": 5},
    "gpt-oss": {"head_dim": 64, "n_expert": 8, "n_expert_used": 2, "n_ff_exp": 128, "sliding_window": 64},
    "jamba": {"d_inner": 512, "d_state": 16, "dt_rank": 16, "d_conv": 4, "n_expert": 4, "n_expert_used": 2,
              "attn_layers": (2,), "moe_layers": (1, 3)},
    "mamba2": {"d_inner": 512, "d_state": 64, "ssm_head_dim": 64, "n_group": 1, "d_conv": 4, "n_ctx": 1 << 20},
    "granitehybrid": {"d_inner": 512, "d_state": 64, "ssm_head_dim": 64, "n_group": 1, "d_conv": 4,
                      "n_layer": 6, "attn_layers": (2, 5)},
    # Kimi-Linear: KDA layers with MLA at layer 3 (as the real model's 1-based 4, 8, ...), layer 0
    # dense, the rest MoE with a shared expert. KDA and MLA share the head count (n_head).
    "kimi-linear": {"n_head": 4, "kda_head_dim": 64, "d_conv": 4, "kv_lora_rank": 64, "qk_nope": 32, "qk_rope": 16,
                    "v_head": 32, "n_expert": 8, "n_expert_used": 2, "n_expert_shared": 1, "n_ff_exp": 128,
                    "n_dense_lead": 1, "attn_layers": (3,)},
    # RWKV-7: four heads of 64; distinct low-rank sizes so a swapped rank shows up as a shape mismatch.
    "rwkv7": {"head_size": 64, "lora_decay": 32, "lora_iclr": 64, "lora_value_res_mix": 96, "lora_gate": 128,
              "n_ff": 1024, "n_ctx": 1 << 20},
}

SUPPORTED_ARCHS = tuple(ARCH_DEFAULTS)

# Architectures the installed gguf-py has no table for, checked against one with the same tensor
# names: GLM-DSA has deepseek32's MLA, MoE, lightning-indexer and MTP tensors.
_GGUF_PY_TABLE = {"deepseek32": "glm-dsa"}

_FILE_TYPES = {"F32": 0, "F16": 1, "Q8_0": 7, "BF16": 32}  # llama_ftype ids (include/llama.h)


# --- tokenizer --------------------------------------------------------------------------------


def spm_vocab(n_vocab: int) -> tuple[list[str], list[float], list[int]]:
    """A minimal SentencePiece ("llama") vocabulary: <unk> <s> </s>, 256 byte tokens, then pieces.

    Byte-fallback tokens make every string encodable, so llama.cpp can tokenize any prompt.
    Token types follow llama.cpp's enum (1 normal, 2 unknown, 3 control, 6 byte).
    """
    if n_vocab < 300:
        raise ValueError("n_vocab must be at least 300 (3 specials + 256 bytes + some pieces)")
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    types = [2, 3, 3] + [6] * 256
    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = ["\u2581"] + [f"\u2581{c}" for c in letters] + list(letters)
    pieces += [f"\u2581{a}{b}" for a in letters for b in letters] + [a + b for a in letters for b in letters]
    need = n_vocab - len(tokens)
    if need > len(pieces):
        pieces += [f"\u2581tok{i}" for i in range(need - len(pieces))]
    tokens += pieces[:need]
    types += [1] * need
    scores = [0.0] * (n_vocab - need) + [-float(i) for i in range(need)]
    return tokens, scores, types


# --- the builder ------------------------------------------------------------------------------


@dataclass
class _Builder:
    arch: str
    p: dict[str, Any]
    rng: np.random.Generator
    tensors: list[tuple[str, np.ndarray, str]] = field(default_factory=list)  # name, data, storage
    kv: list[tuple[str, Any, str]] = field(default_factory=list)  # key, value, kind

    def __post_init__(self) -> None:
        from gguf.constants import MODEL_ARCH_NAMES, MODEL_TENSORS, TENSOR_NAMES

        by_name = {v: k for k, v in MODEL_ARCH_NAMES.items()}
        self.model_arch = by_name[_GGUF_PY_TABLE.get(self.arch, self.arch)]
        # Compared by name: gguf-py has aliases (FFN_NORM / FFN_PRE_NORM are both "ffn_norm").
        self.allowed = {TENSOR_NAMES[t] for t in MODEL_TENSORS[self.model_arch]}

    # metadata
    def u32(self, suffix: str, value: int) -> None:
        self.kv.append((f"{self.arch}.{suffix}", int(value), "u32"))

    def f32(self, suffix: str, value: float) -> None:
        self.kv.append((f"{self.arch}.{suffix}", float(value), "f32"))

    def arr(self, suffix: str, values: list[Any]) -> None:
        self.kv.append((f"{self.arch}.{suffix}", list(values), "arr"))

    # tensors: shapes in ggml order (ne0 first), as llama.cpp's create_tensor lists them
    def t(self, tensor: Any, shape: tuple[int, ...], bid: int | None = None, suffix: str | None = "weight",
          init: str = "matrix") -> None:
        from gguf.constants import TENSOR_NAMES

        if TENSOR_NAMES[tensor] not in self.allowed:
            raise AssertionError(f"{TENSOR_NAMES[tensor]} is not a {self.arch} tensor in gguf-py's tables")
        name = TENSOR_NAMES[tensor].format(bid=bid) if bid is not None else TENSOR_NAMES[tensor]
        if suffix:
            name = f"{name}.{suffix}"
        np_shape = tuple(reversed(shape))
        if init == "ones":
            data = np.ones(np_shape, dtype=np.float32)
        elif init == "zeros":
            data = np.zeros(np_shape, dtype=np.float32)
        elif init == "ssm_a":  # A = -exp(A_log) < 0 keeps the scan stable
            data = -np.exp(self.rng.uniform(0.0, 1.0, np_shape)).astype(np.float32)
        elif init == "small":
            data = (self.rng.standard_normal(np_shape) * 0.1).astype(np.float32)
        else:
            scale = 1.0 / math.sqrt(shape[0])
            data = (self.rng.standard_normal(np_shape) * scale).astype(np.float32)
        storage = self.p["dtype"] if init == "matrix" and len(shape) >= 2 else "F32"
        if storage == "Q8_0" and shape[0] % 32:
            storage = "F16"  # as llama-quant falls back for rows that do not fill a block
        self.tensors.append((name, data, storage))


def _attention(b: _Builder, i: int, n_head: int, n_head_kv: int, head_dim: int, qk_norm: bool = False) -> None:
    from gguf.constants import MODEL_TENSOR as T

    e = b.p["n_embd"]
    b.t(T.ATTN_Q, (e, n_head * head_dim), i)
    b.t(T.ATTN_K, (e, n_head_kv * head_dim), i)
    b.t(T.ATTN_V, (e, n_head_kv * head_dim), i)
    b.t(T.ATTN_OUT, (n_head * head_dim, e), i)
    if qk_norm:
        b.t(T.ATTN_Q_NORM, (head_dim,), i, init="ones")
        b.t(T.ATTN_K_NORM, (head_dim,), i, init="ones")


def _dense_ffn(b: _Builder, i: int, n_ff: int) -> None:
    from gguf.constants import MODEL_TENSOR as T

    e = b.p["n_embd"]
    b.t(T.FFN_GATE, (e, n_ff), i)
    b.t(T.FFN_UP, (e, n_ff), i)
    b.t(T.FFN_DOWN, (n_ff, e), i)


def _experts(b: _Builder, i: int, n_expert: int, n_ff_exp: int) -> None:
    from gguf.constants import MODEL_TENSOR as T

    e = b.p["n_embd"]
    b.t(T.FFN_GATE_INP, (e, n_expert), i)
    b.t(T.FFN_GATE_EXP, (e, n_ff_exp, n_expert), i)
    b.t(T.FFN_UP_EXP, (e, n_ff_exp, n_expert), i)
    b.t(T.FFN_DOWN_EXP, (n_ff_exp, e, n_expert), i)


def _embeddings(b: _Builder) -> None:
    from gguf.constants import MODEL_TENSOR as T

    b.t(T.TOKEN_EMBD, (b.p["n_embd"], b.p["n_vocab"]))
    b.t(T.OUTPUT_NORM, (b.p["n_embd"],), init="ones")
    if not b.p["tie_embeddings"]:
        b.t(T.OUTPUT, (b.p["n_embd"], b.p["n_vocab"]))


def _common_kv(b: _Builder, *, heads: bool = True) -> None:
    p = b.p
    b.u32("context_length", p["n_ctx"])
    b.u32("embedding_length", p["n_embd"])
    b.u32("block_count", p["n_layer"])
    b.u32("vocab_size", p["n_vocab"])
    b.f32("attention.layer_norm_rms_epsilon", p["rms_eps"])
    b.f32("rope.freq_base", p["rope_freq_base"])
    if heads:
        b.u32("attention.head_count", p["n_head"])
        b.u32("attention.head_count_kv", p["n_head_kv"])


def _head_dim(p: dict[str, Any]) -> int:
    return p.get("head_dim") or p["n_embd"] // p["n_head"]


# --- architectures ----------------------------------------------------------------------------


def _build_llama(b: _Builder) -> None:
    """Dense GQA transformer (src/models/llama.cpp); rope dims must equal the head size."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    hd = _head_dim(p)
    _common_kv(b)
    b.u32("feed_forward_length", p["n_ff"])
    b.u32("rope.dimension_count", hd)
    _embeddings(b)
    for i in range(p["n_layer"]):
        b.t(T.ATTN_NORM, (p["n_embd"],), i, init="ones")
        _attention(b, i, p["n_head"], p["n_head_kv"], hd)
        b.t(T.FFN_NORM, (p["n_embd"],), i, init="ones")
        _dense_ffn(b, i, p["n_ff"])


def _build_qwen3(b: _Builder) -> None:
    """Dense GQA with per-head Q/K RMS norms (src/models/qwen3.cpp)."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    hd = _head_dim(p)
    _common_kv(b)
    b.u32("feed_forward_length", p["n_ff"])
    b.u32("attention.key_length", hd)
    b.u32("attention.value_length", hd)
    _embeddings(b)
    for i in range(p["n_layer"]):
        b.t(T.ATTN_NORM, (p["n_embd"],), i, init="ones")
        _attention(b, i, p["n_head"], p["n_head_kv"], hd, qk_norm=True)
        b.t(T.FFN_NORM, (p["n_embd"],), i, init="ones")
        _dense_ffn(b, i, p["n_ff"])


def _build_qwen3moe(b: _Builder) -> None:
    """Every layer routed to experts, no shared expert (src/models/qwen3moe.cpp)."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    hd = _head_dim(p)
    _common_kv(b)
    b.u32("feed_forward_length", p["n_ff"])
    b.u32("expert_count", p["n_expert"])
    b.u32("expert_used_count", p["n_expert_used"])
    b.u32("expert_feed_forward_length", p["n_ff_exp"])
    _embeddings(b)
    for i in range(p["n_layer"]):
        b.t(T.ATTN_NORM, (p["n_embd"],), i, init="ones")
        _attention(b, i, p["n_head"], p["n_head_kv"], hd, qk_norm=True)
        b.t(T.FFN_NORM, (p["n_embd"],), i, init="ones")
        _experts(b, i, p["n_expert"], p["n_ff_exp"])


def _build_deepseek2(b: _Builder, indexer: bool = False) -> None:
    """MLA (absorbed form, as current converters write it) + MoE with shared expert + leading
    dense layers (src/models/deepseek2.cpp, conversion/deepseek.py). With ``indexer``: deepseek32
    (src/models/deepseek32.cpp), which adds DeepSeek sparse attention's lightning indexer to every
    block, needs the indexer sizes and the gating function in its metadata, and routes with a
    per-expert selection bias (exp_probs_b)."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    if indexer:
        b.u32("attention.indexer.head_count", p["indexer_n_head"])
        b.u32("attention.indexer.key_length", p["indexer_head_dim"])
        b.u32("attention.indexer.top_k", p["indexer_top_k"])
        b.u32("expert_gating_func", 2)  # sigmoid (LLAMA_EXPERT_GATING_FUNC_TYPE_SIGMOID)
    e, h = p["n_embd"], p["n_head"]
    q_lora, kv_lora = p["q_lora_rank"], p["kv_lora_rank"]
    nope, rope, v_head = p["qk_nope"], p["qk_rope"], p["v_head"]
    k_mla = nope + rope
    _common_kv(b, heads=False)
    b.u32("attention.head_count", h)
    b.u32("attention.head_count_kv", 1)  # MLA is stored as MQA over the latent
    b.u32("feed_forward_length", p["n_ff"])
    b.u32("leading_dense_block_count", p["n_dense_lead"])
    if q_lora:
        b.u32("attention.q_lora_rank", q_lora)
    _mla_moe_keys(b, kv_lora, rope, k_mla, v_head)
    _embeddings(b)
    for i in range(p["n_layer"]):
        b.t(T.ATTN_NORM, (e,), i, init="ones")
        if q_lora:
            b.t(T.ATTN_Q_A_NORM, (q_lora,), i, init="ones")
            b.t(T.ATTN_Q_A, (e, q_lora), i)
            b.t(T.ATTN_Q_B, (q_lora, h * k_mla), i)
        else:
            b.t(T.ATTN_Q, (e, h * k_mla), i)
        _mla_kv_tensors(b, i, kv_lora, rope, nope, v_head)
        if indexer:
            ih, idim = p["indexer_n_head"], p["indexer_head_dim"]
            b.t(T.INDEXER_K_NORM, (idim,), i, init="ones")
            b.t(T.INDEXER_K_NORM, (idim,), i, suffix="bias", init="zeros")
            b.t(T.INDEXER_PROJ, (e, ih), i)
            b.t(T.INDEXER_ATTN_K, (e, idim), i)
            b.t(T.INDEXER_ATTN_Q_B, (q_lora, ih * idim), i)
        b.t(T.FFN_NORM, (e,), i, init="ones")
        if i < p["n_dense_lead"]:
            _dense_ffn(b, i, p["n_ff"])
        else:
            _experts(b, i, p["n_expert"], p["n_ff_exp"])
            if indexer:
                b.t(T.FFN_EXP_PROBS_B, (p["n_expert"],), i, suffix="bias", init="zeros")
            sh = p["n_ff_exp"] * p["n_expert_shared"]
            b.t(T.FFN_GATE_SHEXP, (e, sh), i)
            b.t(T.FFN_UP_SHEXP, (e, sh), i)
            b.t(T.FFN_DOWN_SHEXP, (sh, e), i)


def _mla_moe_keys(b: _Builder, kv_lora: int, rope: int, k_mla: int, v_head: int) -> None:
    """The MLA (absorbed: the latent is cached as one MQA head of ``kv_lora + rope``) and routed-
    expert keys DeepSeek-V2/V3-style blocks share (deepseek2, deepseek32, kimi-linear)."""
    p = b.p
    b.u32("attention.kv_lora_rank", kv_lora)
    b.u32("attention.key_length", kv_lora + rope)
    b.u32("attention.value_length", kv_lora)
    b.u32("attention.key_length_mla", k_mla)
    b.u32("attention.value_length_mla", v_head)
    b.u32("rope.dimension_count", rope)
    b.u32("expert_count", p["n_expert"])
    b.u32("expert_used_count", p["n_expert_used"])
    b.u32("expert_shared_count", p["n_expert_shared"])
    b.u32("expert_feed_forward_length", p["n_ff_exp"])
    b.f32("expert_weights_scale", 1.0)


def _mla_kv_tensors(b: _Builder, i: int, kv_lora: int, rope: int, nope: int, v_head: int) -> None:
    """Layer ``i``'s MLA tensors after the query projection: the compressed KV (with its norm),
    the split per-head decompressions attn_k_b/attn_v_b, and the output projection."""
    from gguf.constants import MODEL_TENSOR as T

    e, h = b.p["n_embd"], b.p["n_head"]
    b.t(T.ATTN_KV_A_NORM, (kv_lora,), i, init="ones")
    b.t(T.ATTN_KV_A_MQA, (e, kv_lora + rope), i)
    b.t(T.ATTN_K_B, (nope, kv_lora, h), i)
    b.t(T.ATTN_V_B, (kv_lora, v_head, h), i)
    b.t(T.ATTN_OUT, (h * v_head, e), i)


def _build_kimi_linear(b: _Builder) -> None:
    """Kimi-Linear (src/models/kimi-linear.cpp load_arch_hparams/load_arch_tensors,
    conversion/kimi_linear.py): per-layer head_count_kv marks the MLA layers (1: MLA stored as MQA
    over the latent) and the KDA layers (0); KDA layers have separate q/k/v projections, a short
    convolution over each (stored 4-D, as the converter writes it), the f and g low-rank gates,
    beta, A and dt bias, and an output norm of one head. MLA without q LoRA (attn_q). Layer 0
    dense, the rest MoE with shared experts and a per-expert selection bias (sigmoid gating)."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    e, h, n_layer = p["n_embd"], p["n_head"], p["n_layer"]
    attn = set(p["attn_layers"])
    if not attn or not attn <= set(range(n_layer)):
        raise ValueError("attn_layers must name at least one layer index below n_layer")
    kv_lora, nope, rope, v_head, hd, d_conv = (p["kv_lora_rank"], p["qk_nope"], p["qk_rope"], p["v_head"],
                                                p["kda_head_dim"], p["d_conv"])
    k_mla, d_inner = nope + rope, h * hd
    _common_kv(b, heads=False)
    b.u32("attention.head_count", h)
    b.arr("attention.head_count_kv", [1 if i in attn else 0 for i in range(n_layer)])
    b.u32("feed_forward_length", p["n_ff"])
    b.u32("leading_dense_block_count", p["n_dense_lead"])
    _mla_moe_keys(b, kv_lora, rope, k_mla, v_head)
    b.u32("ssm.conv_kernel", d_conv)
    b.u32("kda.head_dim", hd)
    b.u32("expert_gating_func", 2)  # sigmoid (LLAMA_EXPERT_GATING_FUNC_TYPE_SIGMOID)
    _embeddings(b)
    for i in range(n_layer):
        b.t(T.ATTN_NORM, (e,), i, init="ones")
        if i in attn:
            b.t(T.ATTN_Q, (e, h * k_mla), i)
            _mla_kv_tensors(b, i, kv_lora, rope, nope, v_head)
        else:
            for conv in (T.SSM_CONV1D_Q, T.SSM_CONV1D_K, T.SSM_CONV1D_V):
                b.t(conv, (d_conv, 1, d_inner, 1), i, init="small")
            b.t(T.ATTN_Q, (e, d_inner), i)
            b.t(T.ATTN_K, (e, d_inner), i)
            b.t(T.ATTN_V, (e, d_inner), i)
            b.t(T.SSM_F_A, (e, hd), i)
            b.t(T.SSM_F_B, (hd, d_inner), i)
            b.t(T.SSM_BETA, (e, h), i)
            b.t(T.SSM_A, (1, h, 1, 1), i, suffix=None, init="ssm_a")
            b.t(T.SSM_DT, (d_inner,), i, suffix="bias", init="small")
            b.t(T.SSM_G_A, (e, hd), i)
            b.t(T.SSM_G_B, (hd, d_inner), i)
            b.t(T.SSM_NORM, (hd,), i, init="ones")
            b.t(T.ATTN_OUT, (d_inner, e), i)
        b.t(T.FFN_NORM, (e,), i, init="ones")
        if i < p["n_dense_lead"]:
            _dense_ffn(b, i, p["n_ff"])
        else:
            ne, ff = p["n_expert"], p["n_ff_exp"]
            b.t(T.FFN_GATE_INP, (e, ne), i, init="small")  # F32, as the converter writes routers
            b.t(T.FFN_GATE_EXP, (e, ff, ne), i)
            b.t(T.FFN_UP_EXP, (e, ff, ne), i)
            b.t(T.FFN_DOWN_EXP, (ff, e, ne), i)
            b.t(T.FFN_EXP_PROBS_B, (ne,), i, suffix="bias", init="zeros")
            sh = ff * p["n_expert_shared"]
            b.t(T.FFN_GATE_SHEXP, (e, sh), i)
            b.t(T.FFN_UP_SHEXP, (e, sh), i)
            b.t(T.FFN_DOWN_SHEXP, (sh, e), i)


def _build_gemma(b: _Builder, gemma3: bool) -> None:
    """Gemma 2/3: sliding-window layers, post-norms, tied embeddings (src/models/gemma2.cpp, gemma3.cpp)."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    hd = _head_dim(p)
    _common_kv(b)
    b.u32("feed_forward_length", p["n_ff"])
    b.u32("attention.key_length", hd)
    b.u32("attention.value_length", hd)
    b.u32("attention.sliding_window", p["sliding_window"])
    if not gemma3:
        b.f32("attn_logit_softcapping", 50.0)
        b.f32("final_logit_softcapping", 30.0)
    _embeddings(b)
    for i in range(p["n_layer"]):
        b.t(T.ATTN_NORM, (p["n_embd"],), i, init="ones")
        _attention(b, i, p["n_head"], p["n_head_kv"], hd, qk_norm=gemma3)
        b.t(T.ATTN_POST_NORM, (p["n_embd"],), i, init="ones")
        b.t(T.FFN_NORM, (p["n_embd"],), i, init="ones")
        _dense_ffn(b, i, p["n_ff"])
        b.t(T.FFN_POST_NORM, (p["n_embd"],), i, init="ones")


def _build_gemma3n(b: _Builder) -> None:
    """Gemma 3n (src/models/gemma3n.cpp): Gemma 3's block plus AltUp, LAuReL and per-layer
    embeddings, with the metadata conversion/gemma.py (Gemma3NModel) writes: a per-layer sliding
    pattern, the AltUp and per-layer-input sizes, the KV-sharing count and sparsity scales (the
    loader reads only the pattern and the window; the rest are fixed in llama.cpp)."""
    from gguf.constants import MODEL_TENSOR as T

    from ..data.fixed_hparams import GEMMA3N

    p = b.p
    hd = _head_dim(p)
    e, n_layer = p["n_embd"], p["n_layer"]
    n_altup, rank, ple = GEMMA3N["altup_n"], GEMMA3N["laurel_rank"], GEMMA3N["per_layer_embd"]
    _common_kv(b)
    b.u32("feed_forward_length", p["n_ff"])
    b.u32("attention.key_length", hd)
    b.u32("attention.value_length", hd)
    b.u32("attention.sliding_window", p["sliding_window"])
    b.f32("final_logit_softcapping", 30.0)
    period = p["swa_period"]
    b.arr("attention.sliding_window_pattern", [(i + 1) % period != 0 for i in range(n_layer)])
    b.u32("altup.active_idx", 0)
    b.u32("altup.num_inputs", n_altup)
    b.u32("embedding_length_per_layer_input", ple)
    b.u32("attention.shared_kv_layers", max(0, n_layer - GEMMA3N["n_layer_kv_from_start"]))
    b.arr("activation_sparsity_scale", [1.6448533535003662 if i < 10 else 0.0 for i in range(n_layer)])
    _embeddings(b)
    b.t(T.ALTUP_PROJ, (e, e, n_altup - 1))
    b.t(T.ALTUP_UNEMBD_PROJ, (e, e, n_altup - 1))
    b.t(T.PER_LAYER_TOKEN_EMBD, (ple * n_layer, p["n_vocab"]))
    b.t(T.PER_LAYER_MODEL_PROJ, (e, ple * n_layer))
    b.t(T.PER_LAYER_PROJ_NORM, (ple,), init="ones")
    for i in range(n_layer):
        b.t(T.ATTN_NORM, (e,), i, init="ones")
        _attention(b, i, p["n_head"], p["n_head_kv"], hd, qk_norm=True)
        b.t(T.ATTN_POST_NORM, (e,), i, init="ones")
        b.t(T.FFN_NORM, (e,), i, init="ones")
        _dense_ffn(b, i, p["n_ff"])
        b.t(T.FFN_POST_NORM, (e,), i, init="ones")
        b.t(T.PER_LAYER_INP_GATE, (e, ple), i)
        b.t(T.PER_LAYER_PROJ, (ple, e), i)
        b.t(T.PER_LAYER_POST_NORM, (e,), i, init="ones")
        # The converter keeps the AltUp coefficient matrices in F32 (conversion/base.py).
        b.t(T.ALTUP_CORRECT_COEF, (n_altup, n_altup), i, init="small")
        b.t(T.ALTUP_CORRECT_SCALE, (e,), i, init="ones")
        b.t(T.ALTUP_PREDICT_COEF, (n_altup, n_altup * n_altup), i, init="small")
        b.t(T.ALTUP_ROUTER, (e, n_altup), i)
        b.t(T.ALTUP_ROUTER_NORM, (e,), i, init="ones")
        b.t(T.LAUREL_L, (e, rank), i)
        b.t(T.LAUREL_R, (rank, e), i)
        b.t(T.LAUREL_POST_NORM, (e,), i, init="ones")


def _mamba2_kv(b: _Builder) -> int:
    p = b.p
    n_ssm_head = p["d_inner"] // p["ssm_head_dim"]
    b.u32("ssm.conv_kernel", p["d_conv"])
    b.u32("ssm.inner_size", p["d_inner"])
    b.u32("ssm.state_size", p["d_state"])
    b.u32("ssm.time_step_rank", n_ssm_head)
    b.u32("ssm.group_count", p["n_group"])
    return n_ssm_head


def _mamba2_layer(b: _Builder, i: int, n_ssm_head: int) -> None:
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    d_inner, d_state, g = p["d_inner"], p["d_state"], p["n_group"]
    conv_dim = d_inner + 2 * g * d_state
    b.t(T.SSM_IN, (p["n_embd"], 2 * d_inner + 2 * g * d_state + n_ssm_head), i)
    b.t(T.SSM_CONV1D, (p["d_conv"], conv_dim), i, init="small")
    b.t(T.SSM_CONV1D, (conv_dim,), i, suffix="bias", init="zeros")
    b.t(T.SSM_DT, (n_ssm_head,), i, suffix="bias", init="small")
    b.t(T.SSM_A, (1, n_ssm_head), i, suffix=None, init="ssm_a")
    b.t(T.SSM_D, (1, n_ssm_head), i, suffix=None, init="ones")
    b.t(T.SSM_NORM, (d_inner // g, g), i, init="ones")
    b.t(T.SSM_OUT, (d_inner, p["n_embd"]), i)


def _build_mamba2(b: _Builder) -> None:
    """Pure Mamba2 (src/models/mamba2.cpp): recurrent state only, no KV cache, no FFN."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    _common_kv(b, heads=False)
    b.u32("attention.head_count", 0)
    b.u32("feed_forward_length", 0)
    n_ssm_head = _mamba2_kv(b)
    _embeddings(b)
    for i in range(p["n_layer"]):
        b.t(T.ATTN_NORM, (p["n_embd"],), i, init="ones")
        _mamba2_layer(b, i, n_ssm_head)


def _build_granitehybrid(b: _Builder) -> None:
    """Granite 4 hybrid (src/models/granite-hybrid.cpp): Mamba2 layers plus a few GQA layers,
    told apart by head_count_kv == 0; d_inner must be 2 * n_embd."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    if p["d_inner"] != 2 * p["n_embd"]:
        raise ValueError("granitehybrid needs d_inner == 2 * n_embd (llama.cpp asserts it)")
    attn = set(p["attn_layers"])
    if not attn or not attn <= set(range(p["n_layer"])):
        raise ValueError("attn_layers must name at least one layer index below n_layer")
    hd = _head_dim(p)
    _common_kv(b, heads=False)
    b.u32("attention.head_count", p["n_head"])
    b.arr("attention.head_count_kv", [p["n_head_kv"] if i in attn else 0 for i in range(p["n_layer"])])
    b.u32("feed_forward_length", p["n_ff"])
    b.f32("embedding_scale", 1.0)
    b.f32("residual_scale", 1.0)
    b.f32("logit_scale", 1.0)
    b.f32("attention.scale", 1.0 / math.sqrt(hd))
    n_ssm_head = _mamba2_kv(b)
    _embeddings(b)
    for i in range(p["n_layer"]):
        b.t(T.ATTN_NORM, (p["n_embd"],), i, init="ones")
        if i in attn:
            _attention(b, i, p["n_head"], p["n_head_kv"], hd)
        else:
            _mamba2_layer(b, i, n_ssm_head)
        b.t(T.FFN_NORM, (p["n_embd"],), i, init="ones")
        _dense_ffn(b, i, p["n_ff"])


def _build_gpt_oss(b: _Builder) -> None:
    """gpt-oss (src/models/openai-moe.cpp): alternating sliding/global attention with per-head
    sinks, biased routed experts on every layer, untied output."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    if p["tie_embeddings"]:
        raise ValueError("gpt-oss needs an output tensor (llama.cpp requires it)")
    e, h, hk, hd, ne, ff = p["n_embd"], p["n_head"], p["n_head_kv"], p["head_dim"], p["n_expert"], p["n_ff_exp"]
    _common_kv(b)
    b.u32("feed_forward_length", ff)
    b.u32("attention.key_length", hd)
    b.u32("attention.value_length", hd)
    b.u32("rope.dimension_count", hd)  # llama.cpp sizes the projections with n_rot
    b.u32("attention.sliding_window", p["sliding_window"])
    b.u32("expert_count", ne)
    b.u32("expert_used_count", p["n_expert_used"])
    b.u32("expert_feed_forward_length", ff)
    _embeddings(b)
    for i in range(p["n_layer"]):
        b.t(T.ATTN_NORM, (e,), i, init="ones")
        b.t(T.ATTN_POST_NORM, (e,), i, init="ones")
        _attention(b, i, h, hk, hd)
        b.t(T.ATTN_SINKS, (h,), i, init="zeros")
        b.t(T.ATTN_OUT, (e,), i, suffix="bias", init="zeros")
        _experts(b, i, ne, ff)
        b.t(T.FFN_GATE_INP, (ne,), i, suffix="bias", init="zeros")
        b.t(T.FFN_GATE_EXP, (ff, ne), i, suffix="bias", init="zeros")
        b.t(T.FFN_DOWN_EXP, (e, ne), i, suffix="bias", init="zeros")
        b.t(T.FFN_UP_EXP, (ff, ne), i, suffix="bias", init="zeros")


def _build_jamba(b: _Builder) -> None:
    """Jamba (src/models/jamba.cpp): Mamba-1 layers and GQA layers (head_count_kv == 0 marks
    Mamba), MoE on the layers that have a router, dense FFN elsewhere; d_inner must be 2 * n_embd."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    e, d_inner, d_state, dt_rank, ne = p["n_embd"], p["d_inner"], p["d_state"], p["dt_rank"], p["n_expert"]
    if d_inner != 2 * e:
        raise ValueError("jamba needs d_inner == 2 * n_embd (llama.cpp asserts it)")
    attn, moe = set(p["attn_layers"]), set(p["moe_layers"])
    if not attn <= set(range(p["n_layer"])) or not moe <= set(range(p["n_layer"])):
        raise ValueError("attn_layers and moe_layers must be layer indices below n_layer")
    hd = e // p["n_head"]
    _common_kv(b, heads=False)
    b.u32("attention.head_count", p["n_head"])
    b.arr("attention.head_count_kv", [p["n_head_kv"] if i in attn else 0 for i in range(p["n_layer"])])
    b.u32("feed_forward_length", p["n_ff"])
    b.u32("ssm.conv_kernel", p["d_conv"])
    b.u32("ssm.inner_size", d_inner)
    b.u32("ssm.state_size", d_state)
    b.u32("ssm.time_step_rank", dt_rank)
    b.u32("expert_count", ne)
    b.u32("expert_used_count", p["n_expert_used"])
    _embeddings(b)
    for i in range(p["n_layer"]):
        b.t(T.ATTN_NORM, (e,), i, init="ones")
        if i in attn:
            _attention(b, i, p["n_head"], p["n_head_kv"], hd)
        else:
            b.t(T.SSM_IN, (e, 2 * d_inner), i)
            b.t(T.SSM_CONV1D, (p["d_conv"], d_inner), i, init="small")
            b.t(T.SSM_CONV1D, (d_inner,), i, suffix="bias", init="zeros")
            b.t(T.SSM_X, (d_inner, dt_rank + 2 * d_state), i)
            b.t(T.SSM_DT_NORM, (dt_rank,), i, init="ones")
            b.t(T.SSM_DT, (dt_rank, d_inner), i)
            b.t(T.SSM_DT, (d_inner,), i, suffix="bias", init="small")
            b.t(T.SSM_B_NORM, (d_state,), i, init="ones")
            b.t(T.SSM_C_NORM, (d_state,), i, init="ones")
            b.t(T.SSM_A, (d_state, d_inner), i, suffix=None, init="ssm_a")
            b.t(T.SSM_D, (d_inner,), i, suffix=None, init="ones")
            b.t(T.SSM_OUT, (d_inner, e), i)
        b.t(T.FFN_NORM, (e,), i, init="ones")
        if i in moe:
            _experts(b, i, ne, p["n_ff"])
        else:
            _dense_ffn(b, i, p["n_ff"])


def _build_rwkv7(b: _Builder) -> None:
    """RWKV-7 (src/models/rwkv7.cpp): every layer a time mix (WKV-7 state, low-rank decay / ICLR /
    value-mix / gate projections) and a channel mix, LayerNorms with biases, a norm on the token
    embeddings; metadata as conversion/rwkv.py writes it (head_count 0, no token_shift_count: the
    default 2). Layer 0's value-mix projections have the ICLR rank, as the converter makes them."""
    from gguf.constants import MODEL_TENSOR as T

    p = b.p
    e, ff = p["n_embd"], p["n_ff"]
    if e % p["head_size"]:
        raise ValueError("rwkv7 needs n_embd to be a multiple of head_size")
    if p["tie_embeddings"]:
        raise ValueError("rwkv7 needs an output tensor (llama.cpp requires it)")
    _common_kv(b, heads=False)
    b.u32("attention.head_count", 0)
    b.f32("attention.layer_norm_epsilon", 1e-5)
    b.u32("wkv.head_size", p["head_size"])
    b.u32("attention.decay_lora_rank", p["lora_decay"])
    b.u32("attention.iclr_lora_rank", p["lora_iclr"])
    b.u32("attention.value_residual_mix_lora_rank", p["lora_value_res_mix"])
    b.u32("attention.gate_lora_rank", p["lora_gate"])
    b.u32("feed_forward_length", ff)
    b.t(T.TOKEN_EMBD, (e, p["n_vocab"]))
    b.t(T.TOKEN_EMBD_NORM, (e,), init="ones")
    b.t(T.TOKEN_EMBD_NORM, (e,), suffix="bias", init="zeros")
    b.t(T.OUTPUT_NORM, (e,), init="ones")
    b.t(T.OUTPUT_NORM, (e,), suffix="bias", init="zeros")
    b.t(T.OUTPUT, (e, p["n_vocab"]))
    for i in range(p["n_layer"]):
        vr = p["lora_iclr"] if i == 0 else p["lora_value_res_mix"]
        for norm in (T.ATTN_NORM, T.ATTN_NORM_2):
            b.t(norm, (e,), i, init="ones")
            b.t(norm, (e,), i, suffix="bias", init="zeros")
        # decay (w1/w2 are written F32 by the converter: init "small" keeps them F32 here too)
        b.t(T.TIME_MIX_W0, (e,), i, init="small")
        b.t(T.TIME_MIX_W1, (e, p["lora_decay"]), i, init="small")
        b.t(T.TIME_MIX_W2, (p["lora_decay"], e), i, init="small")
        b.t(T.TIME_MIX_A0, (e,), i, init="small")
        b.t(T.TIME_MIX_A1, (e, p["lora_iclr"]), i)
        b.t(T.TIME_MIX_A2, (p["lora_iclr"], e), i)
        b.t(T.TIME_MIX_V0, (e,), i, init="small")
        b.t(T.TIME_MIX_V1, (e, vr), i)
        b.t(T.TIME_MIX_V2, (vr, e), i)
        b.t(T.TIME_MIX_G1, (e, p["lora_gate"]), i)
        b.t(T.TIME_MIX_G2, (p["lora_gate"], e), i)
        b.t(T.TIME_MIX_LERP_FUSED, (e, 1, 1, 6), i, init="small")
        b.t(T.TIME_MIX_K_K, (e,), i, init="ones")
        b.t(T.TIME_MIX_K_A, (e,), i, init="ones")
        b.t(T.TIME_MIX_R_K, (e,), i, init="small")
        b.t(T.TIME_MIX_KEY, (e, e), i)
        b.t(T.TIME_MIX_VALUE, (e, e), i)
        b.t(T.TIME_MIX_RECEPTANCE, (e, e), i)
        b.t(T.TIME_MIX_LN, (e,), i, init="ones")
        b.t(T.TIME_MIX_LN, (e,), i, suffix="bias", init="zeros")
        b.t(T.TIME_MIX_OUTPUT, (e, e), i)
        b.t(T.CHANNEL_MIX_LERP_K, (e,), i, init="small")
        b.t(T.CHANNEL_MIX_KEY, (e, ff), i)
        b.t(T.CHANNEL_MIX_VALUE, (ff, e), i)


_BUILDERS: dict[str, Callable[[_Builder], None]] = {
    "rwkv7": _build_rwkv7,
    "gpt-oss": _build_gpt_oss,
    "jamba": _build_jamba,
    "llama": _build_llama,
    "qwen3": _build_qwen3,
    "qwen3moe": _build_qwen3moe,
    "deepseek2": _build_deepseek2,
    "deepseek32": lambda b: _build_deepseek2(b, indexer=True),
    "kimi-linear": _build_kimi_linear,
    "gemma2": lambda b: _build_gemma(b, gemma3=False),
    "gemma3": lambda b: _build_gemma(b, gemma3=True),
    "gemma3n": _build_gemma3n,
    "mamba2": _build_mamba2,
    "granitehybrid": _build_granitehybrid,
}


def synthetic_params(arch: str, **overrides: Any) -> dict[str, Any]:
    """The full parameter set ``write_synthetic`` would use (defaults merged with overrides)."""
    if arch not in ARCH_DEFAULTS:
        raise ValueError(f"no synthetic builder for '{arch}' (have: {', '.join(SUPPORTED_ARCHS)})")
    p = {**COMMON_DEFAULTS, **ARCH_DEFAULTS[arch]}
    unknown = set(overrides) - set(p)
    if unknown:
        raise ValueError(f"unknown parameter(s) for {arch}: {', '.join(sorted(unknown))} (known: {', '.join(sorted(p))})")
    p.update(overrides)
    if p["dtype"] not in _FILE_TYPES:
        raise ValueError(f"dtype must be one of {', '.join(_FILE_TYPES)}")
    if p.get("n_head") and p["n_head_kv"] and p["n_head"] % p["n_head_kv"]:
        raise ValueError("n_head must be a multiple of n_head_kv")
    return p


def _store(data: np.ndarray, storage: str) -> tuple[np.ndarray, Any]:
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import quantize

    if storage == "F32":
        return data.astype(np.float32), None
    if storage == "F16":
        return data.astype(np.float16), None
    if storage == "BF16":
        return quantize(data, Q.BF16), Q.BF16
    if storage == "Q8_0":
        return quantize(data, Q.Q8_0), Q.Q8_0
    raise ValueError(storage)


def write_synthetic(path: str | Path, arch: str, **overrides: Any) -> Path:
    """Write a tiny, loadable ``arch`` model to ``path``; return the path of its (first) file.

    ``overrides`` change any of :func:`synthetic_params`' keys (n_layer, n_embd, n_expert, dtype,
    sliding_window, attn_layers, ...). With ``split_max_tensors=N`` the model is written as a
    gguf-split set ``<stem>-00001-of-0000K.gguf``... and the first part's path is returned.
    """
    import gguf

    p = synthetic_params(arch, **overrides)
    path = Path(path)
    b = _Builder(arch, p, np.random.default_rng(p["seed"]))
    _BUILDERS[arch](b)

    w = gguf.GGUFWriter(path, arch, split_max_tensors=int(p["split_max_tensors"]))
    w.add_string("general.name", p["name"] or f"synthetic-{arch}")
    w.add_string("general.type", "model")
    w.add_string("general.size_label", "tiny")
    if p["license"]:
        w.add_string("general.license", p["license"])
    w.add_file_type(_FILE_TYPES[p["dtype"]])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for key, value, kind in b.kv:
        if kind == "u32":
            w.add_uint32(key, value)
        elif kind == "f32":
            w.add_float32(key, value)
        else:
            w.add_array(key, value)
    tokens, scores, types = spm_vocab(p["n_vocab"])
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_string("tokenizer.ggml.pre", "default")
    w.add_array("tokenizer.ggml.tokens", tokens)
    w.add_array("tokenizer.ggml.scores", scores)
    w.add_array("tokenizer.ggml.token_type", types)
    w.add_uint32("tokenizer.ggml.unknown_token_id", 0)
    w.add_uint32("tokenizer.ggml.bos_token_id", 1)
    w.add_uint32("tokenizer.ggml.eos_token_id", 2)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    for name, data, storage in b.tensors:
        arr, raw = _store(data, storage)
        w.add_tensor(name, arr, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    first = w.format_shard_names(path)[0]  # the plain path unless the model was split
    w.close()
    return first
