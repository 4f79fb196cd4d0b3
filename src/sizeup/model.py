"""The one normalized description of a model that every source produces.

GGUF files, safetensors + config.json directories, ONNX graphs and built-in catalog entries all
become a :class:`ModelDescription`. The estimator, the recommender and the reports read only this
type, so they never care where a model came from.

Conventions (chosen to match llama.cpp, since that is the runtime sizeup measures against):

* Architecture names are GGUF/llama.cpp names (``llama``, ``qwen2``, ``gemma3``, ``deepseek2``,
  ``mamba``...). Sources that use other names (Hugging Face ``model_type``) map to these.
* Per-layer facts are tuples with one entry per layer, because real models vary by layer:
  sliding-window vs global attention (Gemma 2/3, Cohere2, gpt-oss), attention vs recurrent
  layers (Jamba, Granite 4 hybrid, Qwen3-Next), dense vs MoE FFN (DeepSeek's leading dense
  layers, Llama 4's interleave), KV-head counts that differ per layer (OpenELM).
* Tensor names are GGUF names (``blk.0.attn_q.weight``) where known; other sources keep their
  own names, and :func:`classify_tensor` maps both to roles.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

LAYER_ATTENTION = "attention"
LAYER_RECURRENT = "recurrent"


@dataclass(frozen=True)
class TensorInfo:
    """One weight tensor as stored: name, logical shape, storage type, and size on disk."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # ggml type name for GGUF ("Q4_K"), safetensors/ONNX dtype otherwise ("BF16")
    n_elements: int  # logical parameter count (unpacked, e.g. 8 per packed int32 in GPTQ)
    n_bytes: int
    offset: int | None = None  # byte offset of the data in its file, when known

    @property
    def bits_per_weight(self) -> float:
        return 8.0 * self.n_bytes / self.n_elements if self.n_elements else 0.0


@dataclass(frozen=True)
class SSMFacts:
    """State sizes of recurrent layers (Mamba/Mamba2, RWKV), needed to size their state cache."""

    kind: str  # "mamba", "mamba2", "rwkv6", "rwkv7", ...
    d_conv: int = 0
    d_inner: int = 0
    d_state: int = 0
    n_group: int = 0
    n_head: int = 0  # mamba2 heads / rwkv heads
    head_size: int = 0  # rwkv wkv head size
    dt_rank: int = 0
    token_shift_count: int = 0  # rwkv


@dataclass(frozen=True)
class Architecture:
    """Every architecture fact the memory and speed estimators need."""

    name: str  # llama.cpp architecture name
    n_layer: int
    n_embd: int
    n_head: tuple[int, ...]  # per layer; 0 for layers without attention
    n_head_kv: tuple[int, ...]  # per layer; 0 for recurrent layers
    head_dim_k: int  # key length per head (full K incl. rope part for MLA: nope + rope)
    head_dim_v: int
    n_ff: tuple[int, ...]  # per layer dense FFN width; 0 where the layer is MoE-only
    n_vocab: int
    n_ctx_train: int
    # Sliding-window attention: window size and which layers use it (empty = none).
    swa_window: int = 0
    swa_layers: tuple[bool, ...] = ()
    # Mixture of experts.
    n_expert: int = 0
    n_expert_used: int = 0
    n_expert_shared: int = 0
    n_ff_exp: int = 0  # width of one routed expert
    n_ff_shexp: int = 0  # width of the shared expert(s) in total
    moe_layers: tuple[bool, ...] = ()  # which layers route to experts (empty = none)
    # Multi-head latent attention (DeepSeek V2/V3, Kimi K2...).
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    rope_dim: int = 0  # qk_rope_head_dim for MLA; rotary dims otherwise (0 = all)
    # Recurrent and hybrid models.
    layer_kinds: tuple[str, ...] = ()  # per layer LAYER_ATTENTION / LAYER_RECURRENT (empty = all attention)
    ssm: SSMFacts | None = None
    tie_embeddings: bool = False
    n_pos_embd: int = 0  # learned absolute position embeddings (GPT-2 style); 0 = none
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    # --- derived facts -------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.n_expert > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def n_head_max(self) -> int:
        return max(self.n_head, default=0)

    @property
    def n_head_kv_max(self) -> int:
        return max(self.n_head_kv, default=0)

    def layer_kind(self, i: int) -> str:
        return self.layer_kinds[i] if self.layer_kinds else LAYER_ATTENTION

    def is_swa(self, i: int) -> bool:
        return bool(self.swa_layers) and self.swa_layers[i]

    def is_moe_layer(self, i: int) -> bool:
        return bool(self.moe_layers) and self.moe_layers[i]

    @property
    def n_attention_layers(self) -> int:
        return sum(1 for i in range(self.n_layer) if self.layer_kind(i) == LAYER_ATTENTION)

    @property
    def n_recurrent_layers(self) -> int:
        return self.n_layer - self.n_attention_layers

    @property
    def swa_pattern(self) -> str:
        """Human summary like "5 local : 1 global" or "" when there is no sliding window."""
        if not self.swa_window or not any(self.swa_layers):
            return ""
        n_swa = sum(self.swa_layers)
        n_full = sum(1 for i in range(self.n_layer) if not self.swa_layers[i] and self.layer_kind(i) == LAYER_ATTENTION)
        if n_full == 0:
            return "all layers sliding"
        # Report the period when the pattern is regular.
        period = 0
        for p in range(1, self.n_layer + 1):
            if all(self.swa_layers[i] == self.swa_layers[i % p] for i in range(self.n_layer)):
                period = p
                break
        if period and period < self.n_layer:
            local = sum(self.swa_layers[:period])
            return f"{local} sliding : {period - local} global (period {period})"
        return f"{n_swa} sliding, {n_full} global"

    def validate(self) -> None:
        """Raise ValueError when per-layer tuples disagree with n_layer (a broken source)."""
        n = self.n_layer
        for name in ("n_head", "n_head_kv", "n_ff"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {n} layers")
        for name in ("swa_layers", "moe_layers", "layer_kinds"):
            v = getattr(self, name)
            if v and len(v) != n:
                raise ValueError(f"{name} has {len(v)} entries for {n} layers")

    @staticmethod
    def per_layer(value: int | list[int] | tuple[int, ...], n_layer: int) -> tuple[int, ...]:
        """Broadcast a scalar (or a per-layer list, as GGUF allows) to one entry per layer."""
        if isinstance(value, (list, tuple)):
            if len(value) != n_layer:
                raise ValueError(f"per-layer value has {len(value)} entries for {n_layer} layers")
            return tuple(int(v) for v in value)
        return (int(value),) * n_layer


@dataclass(frozen=True)
class ParamCounts:
    total: int
    embedding: int  # token (+ learned position) embeddings
    output: int  # untied output head; 0 when tied to the embedding
    expert: int = 0  # routed-expert weights (all experts)
    active: int = 0  # per token: total minus unused routed experts (== total for dense)

    @property
    def non_embedding(self) -> int:
        return self.total - self.embedding


@dataclass(frozen=True)
class TypeShare:
    """How much of a model is stored in one tensor type."""

    dtype: str
    n_tensors: int
    n_elements: int
    n_bytes: int

    @property
    def bits_per_weight(self) -> float:
        return 8.0 * self.n_bytes / self.n_elements if self.n_elements else 0.0


@dataclass(frozen=True)
class Quantization:
    label: str | None  # as users know it: "Q4_K_M", "BF16", "GPTQ 4-bit", "AWQ 4-bit"
    label_source: str  # "general.file_type", "tensor mix", "quantization_config", "dtype"
    bits_per_weight: float  # average over all weight tensors, by bytes
    by_type: tuple[TypeShare, ...] = ()
    check: str = ""  # "" when consistent; otherwise a one-line note on the mismatch
    method: str = ""  # gguf | gptq | awq | bitsandbytes | compressed-tensors | fp8 | none


@dataclass(frozen=True)
class Tokenizer:
    model: str | None  # "gpt2" (BPE), "llama" (SentencePiece), "t5", ...
    n_vocab: int
    pre: str | None = None
    has_chat_template: bool = False


OPEN_SOURCE = "open-source"
OPEN_WEIGHTS = "open-weights"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class License:
    id: str | None  # SPDX-like id or the licence's own name: "apache-2.0", "llama3.1", "gemma"
    openness: str  # OPEN_SOURCE | OPEN_WEIGHTS | UNKNOWN
    reason: str


@dataclass
class ModelDescription:
    """What a model is, normalized. Produced by :mod:`sizeup.inspect` from any source."""

    name: str
    source: str  # gguf | safetensors | onnx | catalog | pytorch-pickle
    path: str | None
    files: list[str]
    file_size: int  # bytes on disk, all files; for catalog entries 0
    arch: Architecture | None
    params: ParamCounts | None
    quant: Quantization | None
    tokenizer: Tokenizer | None
    license: License
    runtimes: list[str]
    tensors: list[TensorInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Source-specific facts (GGUF version and endianness, ONNX opset and I/O, HF repo id...).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def context_length(self) -> int:
        return self.arch.n_ctx_train if self.arch else 0

    def to_dict(self, with_tensors: bool = False) -> dict[str, Any]:
        """JSON-ready dict; derived facts included so scripts need not recompute them."""
        d: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("tensors", "arch", "params", "quant")
        }
        d["license"] = asdict(self.license)
        d["tokenizer"] = asdict(self.tokenizer) if self.tokenizer else None
        if self.arch:
            a = asdict(self.arch)
            a.update(
                is_moe=self.arch.is_moe,
                is_mla=self.arch.is_mla,
                n_attention_layers=self.arch.n_attention_layers,
                n_recurrent_layers=self.arch.n_recurrent_layers,
                swa_pattern=self.arch.swa_pattern,
            )
            d["arch"] = a
        else:
            d["arch"] = None
        if self.params:
            d["params"] = asdict(self.params) | {"non_embedding": self.params.non_embedding}
        else:
            d["params"] = None
        if self.quant:
            q = asdict(self.quant)
            q["by_type"] = [asdict(t) | {"bits_per_weight": t.bits_per_weight} for t in self.quant.by_type]
            d["quant"] = q
        else:
            d["quant"] = None
        d["n_tensors"] = len(self.tensors)
        if with_tensors:
            d["tensors"] = [asdict(t) for t in self.tensors]
        return d


# --- tensor roles ----------------------------------------------------------------------------
# GGUF names first, then Hugging Face names. Roles let parameter counts, MoE active counts and
# the estimator's quant mixes work on any source.
_ROLE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # per_layer_token_embd: Gemma 3n's per-layer embedding table, looked up per token like token_embd.
    ("embedding", re.compile(r"^(token_embd|per_layer_token_embd|model\.embed_tokens|transformer\.wte|embed_tokens|model\.language_model\.embed_tokens|tok_embeddings|word_embeddings|model\.embeddings?\.)")),
    ("position_embedding", re.compile(r"^(position_embd|transformer\.wpe|model\.embed_positions)")),
    ("output", re.compile(r"^(output\.weight|lm_head\.|output\.|model\.lm_head)")),
    ("expert", re.compile(r"(ffn_(gate|up|down|gate_up)_exps|\.experts\.\d+\.|\.experts\.(gate_up_proj|down_proj|gate_proj|up_proj)|block_sparse_moe\.experts\.)")),
]


def classify_tensor(name: str) -> str:
    """Role of a tensor by name: embedding, position_embedding, output, expert or other."""
    for role, pat in _ROLE_PATTERNS:
        if pat.search(name):
            return role
    return "other"


def count_params(tensors: list[TensorInfo], arch: Architecture | None) -> ParamCounts:
    """Parameter counts from a tensor inventory (exact, whatever the source)."""
    total = embedding = output = expert = 0
    for t in tensors:
        role = classify_tensor(t.name)
        total += t.n_elements
        if role in ("embedding", "position_embedding"):
            embedding += t.n_elements
        elif role == "output":
            output += t.n_elements
        elif role == "expert":
            expert += t.n_elements
    active = total
    if arch and arch.n_expert and arch.n_expert_used and expert:
        active = total - expert + expert * arch.n_expert_used // arch.n_expert
    return ParamCounts(total=total, embedding=embedding, output=output, expert=expert, active=active)


def type_breakdown(tensors: list[TensorInfo]) -> tuple[TypeShare, ...]:
    """Per storage type: tensor count, elements and bytes, largest share first."""
    acc: dict[str, list[int]] = {}
    for t in tensors:
        a = acc.setdefault(t.dtype, [0, 0, 0])
        a[0] += 1
        a[1] += t.n_elements
        a[2] += t.n_bytes
    shares = [TypeShare(k, *v) for k, v in acc.items()]
    shares.sort(key=lambda s: -s.n_bytes)
    return tuple(shares)


def average_bpw(tensors: list[TensorInfo]) -> float:
    n = sum(t.n_elements for t in tensors)
    return 8.0 * sum(t.n_bytes for t in tensors) / n if n else 0.0
