"""GGUF metadata -> :class:`sizeup.model.ModelDescription`, for every architecture llama.cpp runs.

The estimator sizes the KV cache, recurrent state and weights from an :class:`Architecture`, so
this module has to read a GGUF file *the way llama.cpp reads it*, not the way the original
Hugging Face config describes the model. Where the two differ, llama.cpp wins, because that is
the memory the user will actually see:

* Sliding-window attention is applied only for architectures whose llama.cpp loader sets it up,
  with that loader's default layer pattern (Mistral-7B-v0.1 and Qwen2 declare a window that
  llama.cpp ignores; Phi-3's window is disabled; Llama 4 uses a fixed 8192-token chunk).
* Which layers are recurrent follows each hybrid loader's rule (``head_count_kv == 0`` for Jamba
  and Granite 4, ``head_count_kv == 0 and feed_forward_length == 0`` for Nemotron-H, the
  ``full_attention_interval`` for Qwen3-Next...).
* MLA files converted after llama.cpp's MLA rework store ``key_length = kv_lora_rank + rope``;
  the per-head dims live in ``key_length_mla``/``value_length_mla``.

Sources: llama.cpp ``src/llama-model.cpp`` (``load_hparams``, ``load_swa_pattern``),
``src/llama-hparams.cpp`` (``set_swa_pattern``), ``src/models/<arch>.cpp`` (each architecture's
``load_arch_hparams``/``load_arch_tensors``), ``src/llama-arch.cpp`` (key names,
``llm_arch_is_recurrent``/``llm_arch_is_hybrid``), ``src/llama-quant.cpp``
(``tensor_type_fallback``), as of late 2025 (llama-cpp-python 0.3.x vendored tree).

Everything here except :func:`describe_gguf` is a pure function of the metadata dict and the
tensor directory, so it is tested on hand-built dicts as well as on real files. Metadata comes
from strangers: every value is type-checked and bounded, and every inconsistency becomes
:class:`BadModelFile` with one line naming the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..data.ggml_types import FILE_TYPE_BASE, GGML_TYPES_BY_NAME, LLAMA_FILE_TYPE_IDS, LLAMA_FILE_TYPES
from ..errors import BadModelFile
from ..licenses import classify_license
from ..limits import MAX_LAYERS
from ..model import (
    LAYER_ATTENTION,
    LAYER_RECURRENT,
    Architecture,
    ModelDescription,
    Quantization,
    SSMFacts,
    UNKNOWN,
    TensorInfo,
    Tokenizer,
    average_bpw,
    classify_tensor,
    count_params,
    type_breakdown,
)
from ..runtimes import LLAMA_CPP_ARCHS, runtimes_for

# Bounds beyond anything real; llama.cpp's own limits are LLAMA_MAX_EXPERTS = 1024 (Kimi K3) and
# 512 layers. Dimensions are bounded so a header claiming 2**60 heads fails cleanly.
MAX_EXPERTS = 1 << 16
MAX_DIM = 1 << 30
LLAMA_FTYPE_GUESSED = 1024  # include/llama.h: bit set when llama.cpp guessed the file type


# --- sliding-window rules, as data ------------------------------------------------------------


@dataclass(frozen=True)
class SwaRule:
    """How one architecture's llama.cpp loader lays out sliding-window layers.

    ``period`` is llama.cpp's ``n_pattern``: every ``period``-th layer is global (the last of each
    group, or the first when ``dense_first``); 0 means every attention layer slides. A file may
    override it with ``{arch}.attention.sliding_window_pattern`` (a period, or one bool per layer).
    """

    period: int
    source: str
    kind: str = "standard"  # standard | chunked (Llama 4) | symmetric (embedding models)
    dense_first: bool = False
    default_window: int = 0  # used when the file has no sliding_window key
    needs_window: bool = True  # SWA only when the file's window is > 0
    fixed_window: int = 0  # the loader ignores the file's value and uses this (Llama 4)
    off_when_zero: bool = False  # an explicit window of 0 turns SWA off (Llama 4)
    only_n_layer: int = 0  # the loader enables SWA only for this depth (EXAONE 4.0 32B)
    pattern_key: bool = True  # the loader reads sliding_window_pattern


SWA_RULES: dict[str, SwaRule] = {
    "gemma2": SwaRule(2, "src/models/gemma2.cpp: n_swa = 4096 default, load_swa_pattern(ml, 2)", default_window=4096, needs_window=False),
    "gemma3": SwaRule(6, "src/models/gemma3.cpp: SWA when sliding_window > 0, load_swa_pattern(ml, 6)"),
    "gemma3n": SwaRule(5, "src/models/gemma3n.cpp: load_swa_pattern(ml, 5)", needs_window=False),
    "gemma-embedding": SwaRule(6, "src/models/gemma-embedding.cpp: symmetric, load_swa_pattern(ml, 6)", kind="symmetric", needs_window=False),
    "cohere2": SwaRule(4, "src/models/cohere2.cpp: load_swa_pattern(ml, 4)", needs_window=False),
    "cohere2moe": SwaRule(4, "src/models/cohere2moe.cpp: load_swa_pattern(ml, 4, dense_first)", dense_first=True, needs_window=False),
    "gpt-oss": SwaRule(2, "src/models/openai-moe.cpp: load_swa_pattern(ml, 2)", needs_window=False),
    "llama4": SwaRule(4, "src/models/llama4.cpp: chunked, n_swa = 8192, load_swa_pattern(ml, 4)", kind="chunked",
                      needs_window=False, fixed_window=8192, off_when_zero=True),
    "olmo2": SwaRule(4, "src/models/olmo2.cpp: SWA when sliding_window > 0, load_swa_pattern(ml, 4)"),
    "afmoe": SwaRule(4, "src/models/afmoe.cpp: SWA when sliding_window > 0, load_swa_pattern(ml, 4)"),
    "exaone4": SwaRule(4, "src/models/exaone4.cpp: 64-layer model only, n_swa = 4096 default, load_swa_pattern(ml, 4)",
                       default_window=4096, needs_window=False, only_n_layer=64),
    "exaone-moe": SwaRule(4, "src/models/exaone-moe.cpp: n_swa = 128 default, load_swa_pattern(ml, 4)", default_window=128, needs_window=False),
    "lfm2": SwaRule(0, "src/models/lfm2.cpp: every attention layer slides when sliding_window > 0", pattern_key=False),
    "lfm2moe": SwaRule(0, "src/models/lfm2moe.cpp: every attention layer slides when sliding_window > 0", pattern_key=False),
}

# Architectures whose file may declare a window that llama.cpp deliberately does not apply.
SWA_DISABLED: dict[str, str] = {
    "phi3": "llama.cpp disables Phi-3 SWA (src/models/phi3.cpp, PR 13676): the KV cache covers the full context",
}


def swa_layer_pattern(n_layer: int, period: int, dense_first: bool = False) -> tuple[bool, ...]:
    """Which layers slide, as llama.cpp's ``llama_hparams::set_swa_pattern`` lays them out.

    ``period == 0``: all layers slide; ``period == 1``: none do. Otherwise the last layer of each
    group of ``period`` is global (Gemma 3: layers 5, 11, 17... with period 6), or the first one
    when ``dense_first``.
    """
    if period == 0:
        return (True,) * n_layer
    if dense_first:
        return tuple(i % period != 0 for i in range(n_layer))
    return tuple(i % period < period - 1 for i in range(n_layer))


# --- recurrent and hybrid rules ---------------------------------------------------------------

# llm_arch_is_recurrent (src/llama-arch.cpp): every layer carries recurrent state, none a KV cache.
RECURRENT_ARCHS: dict[str, str] = {
    "mamba": "mamba", "mamba2": "mamba2", "rwkv6": "rwkv6", "rwkv6qwen2": "rwkv6", "rwkv7": "rwkv7", "arwkv7": "rwkv7",
}

# Hybrids and the state kind of their recurrent layers (llm_arch_is_hybrid). How each marks its
# recurrent layers is in _recurrent_layers().
HYBRID_ARCHS: dict[str, str] = {
    "jamba": "mamba", "granitehybrid": "mamba2", "plamo2": "mamba2", "falcon-h1": "mamba2",
    "nemotron_h": "mamba2", "nemotron_h_moe": "mamba2", "lfm2": "shortconv", "lfm2moe": "shortconv",
    "qwen3next": "gated-delta-net", "qwen35": "gated-delta-net", "qwen35moe": "gated-delta-net",
    "qwen4exp": "gated-delta-net", "kimi-linear": "kda", "bailingmoe3": "linear-attention",
    "kimi-k3": "kda", "glm5-next": "linear-attention", "deepseek4": "compressed", "minimax-01": "linear-attention",
}
# Qwen3-Next style: attention.recurrent_layers (bool per layer) or full_attention_interval (default 4).
_INTERVAL_HYBRIDS = frozenset({"qwen3next", "qwen35", "qwen35moe", "qwen4exp"})
# Falcon-H1 runs attention and Mamba2 side by side in every layer.
_PARALLEL_HYBRIDS = frozenset({"falcon-h1"})
# Nemotron-H: recurrent iff head_count_kv == 0 and feed_forward_length == 0; kv == 0 with ff > 0 is
# an MLP-only layer (no KV cache, no state).
_KV0_FF0_HYBRIDS = frozenset({"nemotron_h", "nemotron_h_moe"})

# Required SSM keys per state kind (llama.cpp loaders read them with required=true).
_SSM_REQUIRED = {
    "mamba": ("ssm.conv_kernel", "ssm.inner_size", "ssm.state_size", "ssm.time_step_rank"),
    "mamba2": ("ssm.conv_kernel", "ssm.inner_size", "ssm.state_size", "ssm.time_step_rank", "ssm.group_count"),
    "gated-delta-net": ("ssm.conv_kernel", "ssm.inner_size", "ssm.state_size", "ssm.time_step_rank", "ssm.group_count"),
    "rwkv6": ("wkv.head_size",),
    "rwkv7": ("wkv.head_size",),
    "shortconv": ("shortconv.l_cache",),
    "kda": ("ssm.conv_kernel", "kda.head_dim"),  # src/models/kimi-linear.cpp, kimi-k3.cpp load_arch_hparams
}

# The tensor directory settles which layers route to experts and which keep a dense FFN; the
# metadata rules (leading_dense_block_count, Llama 4's interleave step) are the fallback.
_EXPERT_TENSOR = re.compile(r"^blk\.(\d+)\.ffn_(?:gate|up|down|gate_up)_exps\.")
_DENSE_FFN_TENSOR = re.compile(r"^blk\.(\d+)\.ffn_down\.weight$")
_SHEXP_DOWN = re.compile(r"^blk\.(\d+)\.ffn_down_shexp\.weight$")


# --- typed access to untrusted metadata -------------------------------------------------------


class _Meta:
    """Typed, bounded reads of ``{arch}.*`` and other keys; errors name the key."""

    def __init__(self, kv: dict[str, Any], path: object) -> None:
        self.kv = kv
        self.path = path
        arch = kv.get("general.architecture")
        if arch is None:
            raise BadModelFile(path, "no general.architecture key: not a model GGUF (or a broken one)")
        if not isinstance(arch, str) or not arch or len(arch) > 128:
            raise BadModelFile(path, "general.architecture is not a short string")
        self.arch = arch

    def bad(self, problem: str) -> BadModelFile:
        return BadModelFile(self.path, problem)

    def key(self, suffix: str) -> str:
        return f"{self.arch}.{suffix}"

    def has(self, suffix: str) -> bool:
        return self.key(suffix) in self.kv

    def _as_int(self, name: str, v: Any, lo: int, hi: int) -> int:
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not isinstance(v, int):
            raise self.bad(f"{name} is {type(v).__name__}, expected an integer")
        if not lo <= v <= hi:
            raise self.bad(f"{name} is {v}, outside [{lo}, {hi}]")
        return v

    def get_int(self, suffix: str, default: int | None = 0, *, lo: int = 0, hi: int = MAX_DIM, required: bool = False) -> int:
        name = self.key(suffix)
        if name not in self.kv:
            if required:
                raise self.bad(f"missing {name}")
            return default  # type: ignore[return-value]
        v = self.kv[name]
        if isinstance(v, (list, tuple)):
            raise self.bad(f"{name} is an array, expected one integer")
        return self._as_int(name, v, lo, hi)

    def get_float(self, suffix: str) -> float | None:
        v = self.kv.get(self.key(suffix))
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        return float(v)

    def get_str(self, name: str, limit: int = 256) -> str | None:
        v = self.kv.get(name)
        if not isinstance(v, str):
            return None
        return v[:limit]

    def per_layer(self, suffix: str, n_layer: int, default: int | tuple[int, ...], *, hi: int = MAX_DIM) -> tuple[int, ...]:
        """A scalar broadcast to every layer, or a per-layer array of exactly n_layer entries."""
        name = self.key(suffix)
        if name not in self.kv:
            return default if isinstance(default, tuple) else (default,) * n_layer
        v = self.kv[name]
        n = _array_len(v)
        if n is not None:
            # A placeholder (array too big to materialize) can never be a valid per-layer array.
            if n != n_layer or not isinstance(v, (list, tuple)):
                raise self.bad(f"{name} has {n} entries for {n_layer} layers")
            return tuple(self._as_int(f"{name}[{i}]", x, 0, hi) for i, x in enumerate(v))
        return (self._as_int(name, v, 0, hi),) * n_layer

    def bool_layers(self, suffix: str, n_layer: int) -> tuple[bool, ...] | None:
        """A per-layer bool array (sliding_window_pattern, recurrent_layers), or None if not an array."""
        name = self.key(suffix)
        v = self.kv.get(name)
        n = _array_len(v)
        if n is None:
            return None
        if n != n_layer or not isinstance(v, (list, tuple)):
            raise self.bad(f"{name} has {n} entries for {n_layer} layers")
        out = []
        for i, x in enumerate(v):
            if not isinstance(x, (bool, int)):
                raise self.bad(f"{name}[{i}] is {type(x).__name__}, expected a bool")
            out.append(bool(x))
        return tuple(out)


def _array_len(v: Any) -> int | None:
    if isinstance(v, (list, tuple)):
        return len(v)
    if v is not None and not isinstance(v, (str, bytes, int, float)) and hasattr(v, "count"):
        try:
            return int(len(v))
        except TypeError:
            return None
    return None


# --- architecture -----------------------------------------------------------------------------


def _tensor_index(tensors: Iterable[Any]) -> dict[str, tuple[int, ...]]:
    return {str(t.name): tuple(int(x) for x in t.shape) for t in tensors}


def _recurrent_layers(m: _Meta, arch: str, n_layer: int, n_head_kv: tuple[int, ...], n_ff: tuple[int, ...],
                      extra: dict[str, Any]) -> tuple[bool, ...]:
    """Which layers carry recurrent state, by the hybrid architecture's own llama.cpp rule."""
    if arch in RECURRENT_ARCHS:
        return (True,) * n_layer
    if arch in _PARALLEL_HYBRIDS:
        # Every layer has both a KV cache and an SSM state; the layer kind stays "attention" so the
        # KV cache is sized for every layer, and the SSM state is flagged separately.
        extra["layer_roles"] = ("attention+recurrent",) * n_layer
        extra["recurrent_state_layers"] = (True,) * n_layer
        return (False,) * n_layer
    if arch in _INTERVAL_HYBRIDS:
        arr = m.bool_layers("attention.recurrent_layers", n_layer)
        if arr is not None:
            return arr
        interval = m.get_int("full_attention_interval", 4, lo=1, hi=MAX_LAYERS)
        return tuple((i + 1) % interval != 0 for i in range(n_layer))
    if arch in _KV0_FF0_HYBRIDS:
        rec = tuple(n_head_kv[i] == 0 and n_ff[i] == 0 for i in range(n_layer))
        roles = tuple("recurrent" if rec[i] else ("ffn" if n_head_kv[i] == 0 else "attention") for i in range(n_layer))
        if "ffn" in roles:
            extra["layer_roles"] = roles
        return rec
    if arch in HYBRID_ARCHS:
        return tuple(k == 0 for k in n_head_kv)
    return (False,) * n_layer


def _ssm_facts(m: _Meta, kind: str, n_embd: int, n_head: int) -> SSMFacts:
    for suffix in _SSM_REQUIRED.get(kind, ()):
        if not m.has(suffix):
            raise m.bad(f"missing {m.key(suffix)} ({kind} layers need it)")
    if kind in ("mamba", "mamba2", "gated-delta-net"):
        dt_rank = m.get_int("ssm.time_step_rank")
        return SSMFacts(
            kind=kind,
            d_conv=m.get_int("ssm.conv_kernel"),
            d_inner=m.get_int("ssm.inner_size"),
            d_state=m.get_int("ssm.state_size"),
            n_group=m.get_int("ssm.group_count"),
            n_head=dt_rank if kind != "mamba" else 0,  # Mamba2 / delta-net heads = time_step_rank
            dt_rank=dt_rank,
        )
    if kind in ("rwkv6", "rwkv7"):
        head_size = m.get_int("wkv.head_size", lo=1)
        return SSMFacts(kind=kind, head_size=head_size, n_head=n_embd // head_size,
                        token_shift_count=m.get_int("token_shift_count", 2, hi=16))
    if kind == "shortconv":
        return SSMFacts(kind=kind, d_conv=m.get_int("shortconv.l_cache", lo=1), d_inner=n_embd)
    if kind == "kda":
        head_dim = m.get_int("kda.head_dim", lo=1)
        return SSMFacts(kind=kind, d_conv=m.get_int("ssm.conv_kernel"), head_size=head_dim, n_head=n_head)
    # Other linear-attention hybrids: keep whatever generic SSM keys exist.
    return SSMFacts(kind=kind, d_conv=m.get_int("ssm.conv_kernel"), d_inner=m.get_int("ssm.inner_size"),
                    d_state=m.get_int("ssm.state_size"), n_group=m.get_int("ssm.group_count"), dt_rank=m.get_int("ssm.time_step_rank"))


# RWKV-7's low-rank projection sizes (src/models/rwkv7.cpp load_arch_hparams: the first three are
# required, the gate's is optional), as Architecture.extra keys the tensor layout reads.
RWKV7_LORA_KEYS: tuple[tuple[str, str, bool], ...] = (
    ("attention.decay_lora_rank", "rwkv_lora_decay", True),
    ("attention.iclr_lora_rank", "rwkv_lora_iclr", True),
    ("attention.value_residual_mix_lora_rank", "rwkv_lora_value_res_mix", True),
    ("attention.gate_lora_rank", "rwkv_lora_gate", False),
)


def _rwkv7_lora_ranks(m: _Meta) -> dict[str, int]:
    out = {}
    for suffix, name, required in RWKV7_LORA_KEYS:
        if required and not m.has(suffix):
            raise m.bad(f"missing {m.key(suffix)} (rwkv7 layers need it)")
        out[name] = m.get_int(suffix, 0, hi=1 << 20)
    return out


def _swa(m: _Meta, arch: str, n_layer: int, kinds: tuple[str, ...], extra: dict[str, Any]) -> tuple[int, tuple[bool, ...]]:
    declared = m.get_int("attention.sliding_window", None) if m.has("attention.sliding_window") else None
    rule = SWA_RULES.get(arch)
    if rule is None or (rule.only_n_layer and n_layer != rule.only_n_layer):
        if arch in SWA_DISABLED and declared:
            extra["sliding_window_ignored"] = declared
            extra["sliding_window_note"] = SWA_DISABLED[arch]
        elif declared:
            extra["sliding_window_ignored"] = declared
            extra["sliding_window_note"] = f"llama.cpp's {arch} loader does not apply the declared window: full-context KV cache"
        return 0, ()
    if rule.off_when_zero and declared == 0:
        return 0, ()
    window = rule.fixed_window or (declared if declared is not None else rule.default_window)
    if rule.needs_window and not window:
        return 0, ()
    if not window:
        raise m.bad(f"missing {m.key('attention.sliding_window')} ({arch} uses sliding-window attention)")
    if rule.fixed_window and declared and declared != rule.fixed_window:
        extra["sliding_window_declared"] = declared
    layers: tuple[bool, ...] | None = None
    if rule.pattern_key:
        layers = m.bool_layers("attention.sliding_window_pattern", n_layer)
        if layers is None and m.has("attention.sliding_window_pattern"):
            period = m.get_int("attention.sliding_window_pattern", hi=MAX_LAYERS)
            layers = swa_layer_pattern(n_layer, period, rule.dense_first)
    if layers is None:
        layers = swa_layer_pattern(n_layer, rule.period, rule.dense_first)
    # Recurrent layers never slide (LFM2 marks only its attention layers).
    layers = tuple(layers[i] and kinds[i] == LAYER_ATTENTION for i in range(n_layer))
    extra["swa_type"] = rule.kind
    extra["swa_source"] = rule.source
    if not any(layers):
        return 0, ()
    return window, layers


def architecture_from_gguf(kv: dict[str, Any], tensors: Sequence[Any] = (), *, path: object = "GGUF metadata",
                           warnings: list[str] | None = None) -> Architecture:
    """Every estimator-relevant architecture fact from GGUF metadata and the tensor directory.

    ``tensors`` are objects with ``name`` and ``shape`` (ggml order, ne0 first) - reader entries
    or :class:`TensorInfo`. They settle what metadata leaves open: tied embeddings (no
    ``output.weight``), learned position embeddings, vocab size as a last resort, which layers
    route to experts and the expert widths. ``warnings`` (if given) collects one-line notes on
    things that are odd but not fatal. Raises :class:`BadModelFile` for missing core keys,
    per-layer arrays of the wrong length, zero or inconsistent head counts.
    """
    warn = warnings if warnings is not None else []
    m = _Meta(kv, path)
    arch = m.arch
    tindex = _tensor_index(tensors)
    extra: dict[str, Any] = {}

    n_layer = m.get_int("block_count", lo=1, hi=MAX_LAYERS, required=True)
    n_embd = m.get_int("embedding_length", lo=1, required=True)
    recurrent_arch = arch in RECURRENT_ARCHS

    # Heads. head_count_kv defaults to head_count (llama.cpp load_hparams).
    n_head = m.per_layer("attention.head_count", n_layer, 0, hi=1 << 20)
    n_head_kv = m.per_layer("attention.head_count_kv", n_layer, n_head, hi=1 << 20)
    n_ff = m.per_layer("feed_forward_length", n_layer, 0)

    recr = _recurrent_layers(m, arch, n_layer, n_head_kv, n_ff, extra)
    kinds = tuple(LAYER_RECURRENT if r else LAYER_ATTENTION for r in recr)
    # Heads of the first layer that has any (llama.cpp's n_head() reads layer 0; for hybrids whose
    # head_count is a scalar that is the same number).
    first_heads = next((h for h in n_head if h > 0), 0)
    n_head = tuple(0 if recr[i] else n_head[i] for i in range(n_layer))
    n_head_kv = tuple(0 if recr[i] else n_head_kv[i] for i in range(n_layer))
    roles = extra.get("layer_roles")

    if not recurrent_arch:
        if all(h == 0 for h in n_head) and not any(recr):
            raise m.bad(f"{m.key('attention.head_count')} is 0 (or missing) for every layer of a {arch} model")
        for i in range(n_layer):
            if recr[i] or (roles and roles[i] == "ffn"):
                continue
            h, hk = n_head[i], n_head_kv[i]
            if h == 0 and hk == 0:
                continue  # attention-free layer (DeciLM / Nemotron-NAS)
            if h == 0:
                raise m.bad(f"layer {i} has {hk} KV heads but 0 attention heads")
            if hk == 0:
                if arch in HYBRID_ARCHS:
                    continue
                raise m.bad(f"layer {i} has {h} attention heads but 0 KV heads")
            if hk > h or h % hk:
                raise m.bad(f"layer {i}: {h} attention heads is not a multiple of {hk} KV heads")

    # Head dims: key_length/value_length, default n_embd / n_head (llama.cpp load_hparams).
    default_hd = n_embd // first_heads if first_heads else 0
    head_k = m.get_int("attention.key_length", default_hd)
    head_v = m.get_int("attention.value_length", default_hd)

    # Multi-head latent attention.
    kv_lora = m.get_int("attention.kv_lora_rank")
    q_lora = m.get_int("attention.q_lora_rank")
    rope_dim = m.get_int("rope.dimension_count")
    if kv_lora:
        has_k_mla, has_v_mla = m.has("attention.key_length_mla"), m.has("attention.value_length_mla")
        if has_k_mla != has_v_mla:
            raise m.bad("attention.key_length_mla and value_length_mla must come together")
        if has_k_mla:
            # Absorbed MLA (llama.cpp >= mid-2025 converters): the cache holds one latent "head" of
            # kv_lora_rank + rope dims; key_length/value_length describe that cache row.
            extra["mla_absorbed"] = True
            extra["kv_cache_head_dim_k"] = head_k
            extra["kv_cache_head_dim_v"] = head_v
            head_k = m.get_int("attention.key_length_mla", lo=1)
            head_v = m.get_int("attention.value_length_mla", lo=1)
        else:
            extra["mla_absorbed"] = False
        if rope_dim and head_k <= rope_dim:
            raise m.bad(f"MLA key length {head_k} leaves no non-rope part beside rope.dimension_count {rope_dim}")
        if m.has("attention.indexer.head_count"):
            # DeepSeek sparse attention (deepseek32): the lightning indexer's sizes (src/llama-arch.cpp keys).
            extra["indexer_n_head"] = m.get_int("attention.indexer.head_count", lo=1)
            extra["indexer_head_dim"] = m.get_int("attention.indexer.key_length", required=True, lo=1)
            extra["indexer_top_k"] = m.get_int("attention.indexer.top_k", 0, hi=1 << 31)
    elif not recurrent_arch and first_heads and (head_k == 0 or head_v == 0):
        raise m.bad(f"attention head size is 0 ({m.key('attention.key_length')}/value_length)")

    # Vocabulary: {arch}.vocab_size, else the token list, else token_embd's second dim.
    n_vocab = m.get_int("vocab_size", 0, hi=1 << 31)
    tokens_len = _array_len(kv.get("tokenizer.ggml.tokens"))
    emb = tindex.get("token_embd.weight")
    if not n_vocab:
        n_vocab = tokens_len or (emb[1] if emb and len(emb) >= 2 else 0)
    if not n_vocab:
        warn.append("vocabulary size unknown: no vocab_size, token list or token_embd tensor")
    if emb and len(emb) >= 2 and n_vocab and emb[1] != n_vocab:
        warn.append(f"token_embd has {emb[1]} rows but the vocabulary has {n_vocab} tokens")

    n_ctx = m.get_int("context_length", 0, hi=1 << 31)
    if not n_ctx:
        warn.append(f"no {m.key('context_length')}: training context unknown")

    # Mixture of experts.
    n_expert = m.get_int("expert_count", 0, hi=MAX_EXPERTS)
    used = m.per_layer("expert_used_count", n_layer, 0, hi=MAX_EXPERTS)
    n_expert_used = max(used, default=0)
    if len(set(used)) > 1:
        extra["n_expert_used_per_layer"] = used
    if n_expert_used > n_expert:
        raise m.bad(f"expert_used_count {n_expert_used} exceeds expert_count {n_expert}")
    if n_expert and not n_expert_used:
        raise m.bad(f"{m.key('expert_count')} is {n_expert} but expert_used_count is 0")
    moe_layers: tuple[bool, ...] = ()
    n_ff_exp = n_ff_shexp = n_expert_shared = 0
    if n_expert:
        from_tensors = {int(mt.group(1)) for name in tindex if (mt := _EXPERT_TENSOR.match(name))}
        if from_tensors:
            moe_layers = tuple(i in from_tensors for i in range(n_layer))
        elif arch == "llama4":
            step = m.get_int("interleave_moe_layer_step", 1, hi=MAX_LAYERS)
            moe_layers = tuple(step > 0 and (i + 1) % step == 0 for i in range(n_layer))
        else:
            lead = m.get_int("leading_dense_block_count", 0, hi=MAX_LAYERS)
            moe_layers = tuple(i >= lead for i in range(n_layer))
        # Expert width: the key, else the stored expert tensors, else llama.cpp's fallbacks
        # (qwen*moe: n_ff / n_expert_used; llama/Mixtral, granitemoe, jamba: n_ff itself).
        exp_ff = m.per_layer("expert_feed_forward_length", n_layer, 0)
        n_ff_exp = max(exp_ff, default=0)
        if len(set(x for x in exp_ff)) > 1:
            extra["n_ff_exp_per_layer"] = exp_ff
        down = next((shape for name, shape in tindex.items() if name.endswith("ffn_down_exps.weight") and len(shape) >= 3), None)
        if down and n_ff_exp and down[0] != n_ff_exp and "n_ff_exp_per_layer" not in extra:
            warn.append(f"expert_feed_forward_length is {n_ff_exp} but expert tensors are {down[0]} wide")
        if not n_ff_exp:
            if down:
                n_ff_exp = down[0]
            elif arch in ("qwen2moe", "qwen3moe", "qwen3vlmoe"):
                n_ff_exp = max(n_ff) // n_expert_used
            else:
                n_ff_exp = max(n_ff, default=0)
        n_expert_shared = m.get_int("expert_shared_count", 0, hi=MAX_EXPERTS)
        shexp = next((shape for name, shape in tindex.items() if _SHEXP_DOWN.match(name)), None)
        n_ff_shexp = m.get_int("expert_shared_feed_forward_length", 0)
        if not n_ff_shexp:
            if shexp:
                n_ff_shexp = shexp[0]
            elif n_expert_shared:
                n_ff_shexp = n_ff_exp * n_expert_shared  # deepseek2: shared experts as one wide FFN
            elif arch == "llama4":
                n_ff_shexp = n_ff_exp
        if n_ff_shexp and not n_expert_shared:
            n_expert_shared = 1
        # A MoE layer has no dense FFN unless the file stores one (Arctic's residual MLP).
        dense = {int(mt.group(1)) for name in tindex if (mt := _DENSE_FFN_TENSOR.match(name))}
        n_ff = tuple(0 if moe_layers[i] and (not tindex or i not in dense) else n_ff[i] for i in range(n_layer))
        groups = m.get_int("expert_group_count", 0, hi=MAX_EXPERTS)
        if groups:
            extra["expert_group_count"] = groups
            extra["expert_group_used_count"] = m.get_int("expert_group_used_count", 0, hi=MAX_EXPERTS)

    # Recurrent state.
    ssm: SSMFacts | None = None
    state_kind = RECURRENT_ARCHS.get(arch) or HYBRID_ARCHS.get(arch)
    if state_kind and (any(recr) or extra.get("recurrent_state_layers")):
        ssm = _ssm_facts(m, state_kind, n_embd, first_heads)
        if arch == "rwkv7":
            extra.update(_rwkv7_lora_ranks(m))
    elif state_kind is None and (m.has("ssm.state_size") or m.has("wkv.head_size")):
        warn.append(f"{arch} has recurrent-state keys but sizeup does not know which layers use them")

    swa_window, swa_layers = _swa(m, arch, n_layer, kinds, extra)

    # Llama 4: every 4th layer skips RoPE (n_no_rope_layer_step = 4 unless SWA is off).
    if arch == "llama4" and swa_window:
        extra["no_rope_layers"] = tuple((i + 1) % 4 == 0 for i in range(n_layer))

    nextn = m.get_int("nextn_predict_layers", 0, hi=MAX_LAYERS)
    if nextn:
        extra["nextn_predict_layers"] = nextn

    # RoPE facts the estimator may use for context extension.
    for suffix, name in (("rope.freq_base", "rope_freq_base"), ("rope.scaling.factor", "rope_scaling_factor")):
        if (f := m.get_float(suffix)) is not None:
            extra[name] = f
    if (t := m.get_str(m.key("rope.scaling.type"), 32)) is not None:
        extra["rope_scaling_type"] = t
    if m.has("rope.scaling.original_context_length"):
        extra["rope_original_context"] = m.get_int("rope.scaling.original_context_length", 0, hi=1 << 31)

    tie = bool(tindex) and "output.weight" not in tindex
    pos = tindex.get("position_embd.weight")
    n_pos = pos[1] if pos and len(pos) >= 2 else 0

    if arch not in LLAMA_CPP_ARCHS and arch not in SWA_RULES and arch not in HYBRID_ARCHS:
        warn.append(f"architecture '{arch}' is not one sizeup knows: generic keys only, estimates may be off")

    out = Architecture(
        name=arch, n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_head_kv=n_head_kv,
        head_dim_k=head_k if first_heads or kv_lora else 0, head_dim_v=head_v if first_heads or kv_lora else 0,
        n_ff=n_ff, n_vocab=n_vocab, n_ctx_train=n_ctx,
        swa_window=swa_window, swa_layers=swa_layers,
        n_expert=n_expert, n_expert_used=n_expert_used, n_expert_shared=n_expert_shared,
        n_ff_exp=n_ff_exp, n_ff_shexp=n_ff_shexp, moe_layers=moe_layers,
        kv_lora_rank=kv_lora, q_lora_rank=q_lora, rope_dim=rope_dim,
        layer_kinds=kinds if any(recr) else (), ssm=ssm,
        tie_embeddings=tie, n_pos_embd=n_pos, extra=extra,
    )
    try:
        out.validate()
    except ValueError as e:  # cannot happen with the broadcasting above; keep the contract anyway
        raise m.bad(str(e)) from None
    return out


# --- quantization -----------------------------------------------------------------------------


def _layer_weights(tensors: Sequence[TensorInfo]) -> list[TensorInfo]:
    """Matrices inside the repeating blocks: what a file type's base type is chosen for.

    Token embeddings and the output head get their own types in every llama.cpp quant mix
    (Q8_0/Q6_K), so they are left out; so are 1-D norms and biases, which stay F32.
    """
    return [t for t in tensors if len(t.shape) >= 2 and classify_tensor(t.name) in ("other", "expert")]


def _dominant(tensors: Sequence[TensorInfo]) -> tuple[str, float] | None:
    acc: dict[str, int] = {}
    for t in tensors:
        acc[t.dtype] = acc.get(t.dtype, 0) + t.n_elements
    total = sum(acc.values())
    if not total:
        return None
    dtype = max(acc, key=lambda k: (acc[k], k))
    return dtype, acc[dtype] / total


def _label_from_mix(dominant: str, present: set[str]) -> str:
    """A file-type label for a tensor mix whose file_type is missing (best guess, as llama.cpp mixes go)."""
    if dominant == "Q4_K":
        return "Q4_K_M" if "Q6_K" in present else "Q4_K_S"
    if dominant == "Q5_K":
        return "Q5_K_M" if "Q6_K" in present else "Q5_K_S"
    if dominant == "Q3_K":
        return "Q3_K_L" if "Q5_K" in present else "Q3_K_M" if "Q4_K" in present else "Q3_K_S"
    labels = [lbl for lbl, base in FILE_TYPE_BASE.items() if base == dominant and lbl in LLAMA_FILE_TYPE_IDS]
    if dominant in labels:
        return dominant
    return labels[0] if len(labels) == 1 else dominant


def quantization_from_gguf(kv: dict[str, Any], tensors: Sequence[TensorInfo], *, path: object = "GGUF metadata") -> Quantization:
    """The file's quant label (from general.file_type, checked against the tensors), average bpw, mix.

    The check looks at layer matrices whose row length fits the label's base type: llama.cpp
    falls back to another type for rows that do not divide into its blocks (Q4_K -> Q5_0 on
    Gemma 3 270M's 640-wide rows; ``tensor_type_fallback`` in src/llama-quant.cpp), and such
    rows say nothing about the label. Among the rest the base type must hold the most elements.
    """
    by_type = type_breakdown(list(tensors))
    bpw = average_bpw(list(tensors))
    layer = _layer_weights(tensors)
    raw = kv.get("general.file_type")
    label: str | None = None
    source = "general.file_type"
    check = ""
    if raw is not None:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise BadModelFile(path, f"general.file_type is {raw!r}, expected a non-negative integer")
        ftype = raw & ~LLAMA_FTYPE_GUESSED
        label = LLAMA_FILE_TYPES.get(ftype)
        if label is None:
            check = f"general.file_type {raw} is not a llama.cpp file type sizeup knows"
        base = FILE_TYPE_BASE.get(label or "")
        if base and layer:
            block = GGML_TYPES_BY_NAME[base].block_size
            fitting = [t for t in layer if t.shape and t.shape[0] % block == 0]
            dom = _dominant(fitting or layer)
            if dom and dom[0] != base:
                check = (f"general.file_type says {label} but {dom[1]:.0%} of the layer weights are {dom[0]}"
                         f" (expected mostly {base})")
    if label is None and raw is None:
        source = "tensor mix"
        dom = _dominant(layer)
        if dom:
            label = _label_from_mix(dom[0], {t.dtype for t in layer})
    return Quantization(label=label, label_source=source, bits_per_weight=bpw, by_type=by_type, check=check, method="gguf")


# --- tokenizer, licence, name -----------------------------------------------------------------


def tokenizer_from_gguf(kv: dict[str, Any], n_vocab: int) -> Tokenizer | None:
    model = kv.get("tokenizer.ggml.model")
    if not isinstance(model, str):
        return None
    pre = kv.get("tokenizer.ggml.pre")
    count = _array_len(kv.get("tokenizer.ggml.tokens")) or n_vocab
    return Tokenizer(model=model[:64], n_vocab=count, pre=pre[:64] if isinstance(pre, str) else None,
                     has_chat_template="tokenizer.chat_template" in kv)


def license_from_gguf(kv: dict[str, Any]):
    """Licence from general.license, general.license.name, or a base model's licence (in that order)."""
    def s(key: str) -> str | None:
        v = kv.get(key)
        return v[:200] if isinstance(v, str) and v.strip() else None

    main, name = s("general.license"), s("general.license.name")
    for raw in (main, name):
        if raw:
            lic = classify_license(raw)
            if lic.openness != UNKNOWN:
                return lic
    try:
        n_base = int(kv.get("general.base_model.count", 0))
    except (TypeError, ValueError):
        n_base = 0
    for i in range(min(max(n_base, 0), 16)):
        raw = s(f"general.base_model.{i}.license")
        if raw:
            lic = classify_license(raw)
            if lic.openness != UNKNOWN:
                return replace(lic, reason=f"from base model {s(f'general.base_model.{i}.name') or i}: {lic.reason}")
    return classify_license(main or name)


_SPLIT_SUFFIX = re.compile(r"-\d{5,}-of-\d{5,}$")


def model_name(kv: dict[str, Any], path: str | os.PathLike[str]) -> str:
    name = kv.get("general.name")
    if isinstance(name, str) and name.strip():
        return name.strip()[:200]
    parts = [kv.get(k) for k in ("general.basename", "general.size_label", "general.finetune")]
    parts = [p.strip() for p in parts if isinstance(p, str) and p.strip()]
    if parts:
        return "-".join(parts)[:200]
    return _SPLIT_SUFFIX.sub("", Path(path).stem)


_GENERAL_FACTS = ("general.size_label", "general.finetune", "general.basename", "general.quantized_by",
                  "general.organization", "general.type", "general.version", "general.author", "general.url",
                  "general.quantization_version", "general.source.huggingface.repository", "general.repo_url")


# --- the whole description --------------------------------------------------------------------


def describe_gguf(path: str | os.PathLike[str]) -> ModelDescription:
    """Read a GGUF model (any part of a split one) into a :class:`ModelDescription`.

    Only headers are read (no tensor data). Split models are described as one model: metadata
    from the first part, tensors and file sizes from all parts.
    """
    from .gguf_reader import read_gguf_model

    return describe_gguf_files(read_gguf_model(path), path)


def describe_gguf_files(files: Sequence[Any], path: str | os.PathLike[str]) -> ModelDescription:
    """A :class:`ModelDescription` from already-parsed headers (``GGUFFile`` per part, in order).

    Shared by local files and remote ones (:mod:`sizeup.sources.remote_gguf`), whose headers
    come from HTTP Range reads; ``path`` names the model in messages (a path or a URL).
    """
    first = files[0]
    kv = first.kv
    tensors: list[TensorInfo] = [t for gf in files for t in gf.tensor_infos()]
    warnings: list[str] = []
    if "general.architecture" not in kv:
        raise BadModelFile(path, "no general.architecture key: not a model GGUF (LoRA adapter, vocab-only or broken file?)")
    arch_name = kv.get("general.architecture")
    arch: Architecture | None
    if isinstance(arch_name, str) and arch_name not in LLAMA_CPP_ARCHS and f"{arch_name}.block_count" not in kv:
        # Projectors (clip), audio codecs and other non-LLM GGUFs: describe the file, not a transformer.
        arch = None
        warnings.append(f"'{arch_name}' GGUF has no {arch_name}.block_count: not a language model sizeup can estimate")
    elif isinstance(arch_name, str) and arch_name not in LLAMA_CPP_ARCHS:
        # An architecture newer than sizeup: take what the generic keys give, never fail on them.
        try:
            arch = architecture_from_gguf(kv, tensors, path=path, warnings=warnings)
        except BadModelFile as e:
            arch = None
            warnings.append(f"architecture '{arch_name}' is unknown and its generic keys are incomplete: {e.problem}")
    else:
        arch = architecture_from_gguf(kv, tensors, path=path, warnings=warnings)
    quant = quantization_from_gguf(kv, tensors, path=path)
    if quant.check:
        warnings.append(quant.check)
    tokenizer = tokenizer_from_gguf(kv, arch.n_vocab if arch else 0)
    extra: dict[str, Any] = {
        "gguf_version": first.version,
        "byte_order": first.byte_order,
        "alignment": first.alignment,
        "split_count": len(files),
    }
    if isinstance(kv.get("general.file_type"), int):
        extra["file_type_id"] = kv["general.file_type"]
    for key in _GENERAL_FACTS:
        v = kv.get(key)
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            extra[key.removeprefix("general.")] = v[:500] if isinstance(v, str) else v
    bases = []
    try:
        n_base = int(kv.get("general.base_model.count", 0))
    except (TypeError, ValueError):
        n_base = 0
    for i in range(min(max(n_base, 0), 16)):
        b = {k: kv.get(f"general.base_model.{i}.{k}") for k in ("name", "organization", "repo_url")}
        b = {k: v[:300] for k, v in b.items() if isinstance(v, str)}
        if b:
            bases.append(b)
    if bases:
        extra["base_models"] = bases
    return ModelDescription(
        name=model_name(kv, path),
        source="gguf",
        path=str(path),
        files=[gf.path for gf in files],
        file_size=sum(gf.file_size for gf in files),
        arch=arch,
        params=count_params(tensors, arch),
        quant=quant,
        tokenizer=tokenizer,
        license=license_from_gguf(kv),
        runtimes=runtimes_for("gguf", arch_name if isinstance(arch_name, str) else None),
        tensors=tensors,
        warnings=warnings,
        extra=extra,
    )
