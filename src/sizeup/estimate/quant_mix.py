"""Which ggml type llama.cpp gives each tensor when it quantizes a model to a file type.

"Q4_K_M" is not "every weight in Q4_K": llama-quantize picks a type per tensor by name, layer
and shape (``llama_tensor_get_type`` in llama.cpp's ``src/llama-quant.cpp``). The output
head gets Q6_K, a third of the attn_v and ffn_down layers get Q6_K ("use_more_bits"), rows
that are not a whole number of 256-blocks fall back to 32-block types (Gemma's 640-wide rows
turn Q4_K into Q5_0), norms and routers stay F32. A file-size estimate that ignores this is
off by 5-15%; one that reproduces it is exact to the byte.

This module re-implements that decision procedure (not the quantization itself) for the
stock file types with default settings: no ``--pure``, no per-tensor overrides, no custom
output/embedding types, ``quantize_output_tensor`` on. It mirrors llama.cpp's state too:
the running counters over attn_v-like tensors and the tensor order of llama.cpp's loader
(non-block tensors first, then blocks in layer order, names sorted within a block), because
Q3_K_M and Q4_K_M decisions depend on the position of a tensor in that order.

Tables (default types, fallbacks, never-quantized names) are in
:mod:`sizeup.data.quant_mix_rules`; checked against real llama.cpp output by
``tests/test_quant_mix.py`` and ``benchmarks/quant_mix_validation.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ..data.ggml_types import GGML_TYPES_BY_NAME
from ..data.quant_mix_rules import (
    CONVERTER_F32_SUBSTRINGS,
    FALLBACK_LAST_RESORT,
    FALLBACK_TYPE,
    FTYPE_DEFAULT_TYPE,
    LLM_TYPE_70B,
    NEVER_QUANTIZE_NAMES,
    NEVER_QUANTIZE_SUBSTRINGS,
    UNQUANTIZED_TYPES,
)
from ..errors import SizeupError
from ..model import LAYER_ATTENTION, Architecture

Shape = tuple[int, ...]

# Tensor categories, as llama-quant.cpp's tensor_get_category (checked in this order).
OUTPUT, TOKEN_EMBD, ATTN_QKV, ATTN_KV_B, ATTN_V, ATTN_K, ATTN_Q, ATTN_OUTPUT, FFN_UP, FFN_GATE, FFN_DOWN, OTHER = (
    "output", "token_embd", "attn_qkv", "attn_kv_b", "attn_v", "attn_k", "attn_q", "attn_output",
    "ffn_up", "ffn_gate", "ffn_down", "other")
_CATEGORY_SUBSTRINGS = (
    ("attn_qkv.weight", ATTN_QKV), ("attn_kv_b.weight", ATTN_KV_B), ("attn_v.weight", ATTN_V),
    ("attn_k.weight", ATTN_K), ("attn_q.weight", ATTN_Q), ("attn_output.weight", ATTN_OUTPUT),
    ("ffn_up", FFN_UP), ("ffn_gate", FFN_GATE), ("ffn_down", FFN_DOWN),
)
_ATTN_V_LIKE = (ATTN_V, ATTN_QKV, ATTN_KV_B)

_IQ2_GROUP = frozenset({"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
_OUTPUT_Q5K_GROUP = frozenset({"IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
_ATTN_OUT_MOE8_Q5K = frozenset({"Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M",
                                "IQ3_S", "IQ3_M", "IQ4_XS"})
_LAYER_RE = re.compile(r"^blk\.(\d{1,9})\.")  # bounded: names come from untrusted files


def category(name: str) -> str:
    """llama.cpp's broad role of a tensor for quantization purposes."""
    if name == "output.weight":
        return OUTPUT
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return TOKEN_EMBD
    for sub, cat in _CATEGORY_SUBSTRINGS:
        if sub in name:
            return cat
    return OTHER


def n_dims(shape: Shape) -> int:
    """ggml_n_dims: trailing dimensions of size 1 do not count (a (1, 32) tensor is 2-D)."""
    for i in range(len(shape) - 1, 0, -1):
        if shape[i] > 1:
            return i + 1
    return 1


def allows_quantization(name: str, shape: Shape) -> bool:
    """Whether llama-quantize may change this tensor's type at all (else it is copied as is)."""
    if n_dims(shape) < 2 or not name.endswith("weight"):
        return False
    if name in NEVER_QUANTIZE_NAMES:
        return False
    return not any(s in name for s in NEVER_QUANTIZE_SUBSTRINGS)


def converter_type(name: str, shape: Shape, source_dtype: str = "F16") -> str:
    """The type convert_hf_to_gguf.py writes a tensor in, for an F16/BF16/F32 conversion."""
    if n_dims(shape) <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return "F32"
    if any(s in name for s in CONVERTER_F32_SUBSTRINGS):
        return "F32"
    return source_dtype


def layer_of(name: str) -> int:
    m = _LAYER_RE.match(name)
    return int(m.group(1)) if m else -1


def llama_order(names: Iterable[str]) -> list[str]:
    """llama.cpp's loader order: non-block tensors first, then by layer number, then by name."""
    return sorted(names, key=lambda n: (layer_of(n), n))


def default_type(ftype: str) -> str:
    try:
        return FTYPE_DEFAULT_TYPE[ftype.upper()]
    except KeyError:
        raise SizeupError(f"unknown quantization type '{ftype}' (known: {', '.join(FTYPE_DEFAULT_TYPE)})") from None


def _block(t: str) -> int:
    return GGML_TYPES_BY_NAME[t].block_size


def fallback(ne0: int, target: str) -> str:
    """The type llama.cpp uses when rows of ``ne0`` elements do not fit ``target``'s blocks."""
    if ne0 % _block(target) == 0:
        return target
    if target in FALLBACK_TYPE:
        ret = FALLBACK_TYPE[target]
    elif _block(target) <= 32:
        ret = target
    else:
        raise SizeupError(f"llama.cpp has no fallback for {target} on rows of {ne0} elements")
    return ret if ne0 % _block(ret) == 0 else FALLBACK_LAST_RESORT


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """The layers llama.cpp's *_K_M mixes give extra bits: first and last eighth, every third between."""
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or _cmod(i_layer - n_layers // 8, 3) == 2


def _cmod(a: int, b: int) -> int:
    """C's % (truncates toward zero), so negative operands behave as in llama.cpp."""
    r = abs(a) % b
    return -r if a < 0 else r


def is_70b(arch: Architecture) -> bool:
    rule = LLM_TYPE_70B.get(arch.name)
    if not rule or arch.n_layer != rule[0] or arch.n_expert == 8:
        return False
    return not rule[1] or (arch.n_head[0] if arch.n_head else 0) != (arch.n_head_kv[0] if arch.n_head_kv else 0)


def n_gqa(arch: Architecture) -> int:
    """hparams.n_gqa() of layer 0 (llama.cpp asks layer 0 only; 0 when it has no KV heads)."""
    nh = arch.n_head[0] if arch.n_head else 0
    nkv = arch.n_head_kv[0] if arch.n_head_kv else 0
    return nh // nkv if nkv else 0


@dataclass
class MixState:
    """What llama-quantize knows about the whole model while choosing one tensor's type."""

    n_attention_wv: int  # attn_v-like tensors in the model
    n_layer_all: int  # GGUF block count (n_ffn_down etc. in llama.cpp)
    tied_embeddings: bool  # no output.weight in the model
    has_imatrix: bool = False
    i_attention_wv: int = 0
    i_ffn_down: int = 0
    i_ffn_gate: int = 0
    i_ffn_up: int = 0

    @classmethod
    def for_names(cls, names: Iterable[str], arch: Architecture, has_imatrix: bool = False) -> "MixState":
        names = list(names)
        return cls(
            n_attention_wv=sum(1 for n in names if category(n) in _ATTN_V_LIKE),
            n_layer_all=arch.n_layer,
            tied_embeddings="output.weight" not in names,
            has_imatrix=has_imatrix,
        )


def _choose(name: str, shape: Shape, arch: Architecture, ftype: str, new: str, cat: str, qs: MixState) -> str:
    """llama_tensor_get_type_impl: adjust the default type by role, layer and file type."""
    n_expert = max(1, arch.n_expert)
    gqa = n_gqa(arch)

    def layer_info(i_counter: int) -> tuple[int, int]:
        # With experts, llama.cpp reads the layer from the name (expert tensors are not consecutive).
        if n_expert > 1:
            i = layer_of(name)
            if not 0 <= i < qs.n_layer_all:
                raise SizeupError(f"cannot tell the layer of tensor {name[:80]!r} (expected blk.<0..{qs.n_layer_all - 1}>.)")
            return i, qs.n_layer_all
        return i_counter, qs.n_layer_all

    if cat == OUTPUT or (qs.tied_embeddings and cat == TOKEN_EMBD):
        if ftype == "MXFP4_MOE":
            return "Q8_0"
        if arch.name == "falcon" or shape[0] % _block(new) != 0:
            return "Q8_0"
        if ftype in _OUTPUT_Q5K_GROUP:
            return "Q5_K"
        return new if new == "Q8_0" else "Q6_K"
    if ftype == "MXFP4_MOE":
        # Expert stacks (3-D) in MXFP4, everything else Q8_0.
        return "MXFP4" if len(shape) > 2 and shape[2] > 1 else "Q8_0"
    if cat == TOKEN_EMBD:
        if ftype in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
            return "Q2_K"
        if ftype in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
            return "IQ3_S"
        if ftype in ("TQ1_0", "TQ2_0", "Q2_0"):
            return "Q4_K"
        return new
    if ftype in _IQ2_GROUP:
        if cat in _ATTN_V_LIKE:
            if gqa >= 4 or arch.n_expert >= 4:
                new = "Q4_K"
            else:
                new = "IQ3_S" if ftype in ("IQ2_S", "IQ2_M") else "Q2_K"
            qs.i_attention_wv += 1
        elif arch.n_expert == 8 and cat == ATTN_K:
            new = "Q4_K"
        elif cat == FFN_DOWN:
            if qs.i_ffn_down < qs.n_layer_all // 8:
                new = "IQ3_S" if ftype in ("IQ2_S", "IQ2_M") else "Q2_K"
            qs.i_ffn_down += 1
        elif cat == ATTN_OUTPUT:
            if arch.n_expert == 8:
                new = "Q5_K"
            elif ftype in ("IQ1_S", "IQ1_M"):
                new = "IQ2_XXS"
            elif ftype in ("IQ2_S", "IQ2_M"):
                new = "IQ3_S"
        return new
    if cat in _ATTN_V_LIKE:
        if ftype == "Q2_K":
            new = "Q4_K" if gqa >= 4 else "Q3_K"
        elif ftype == "Q2_K_S" and gqa >= 4:
            new = "Q4_K"
        elif ftype == "IQ3_XXS":
            new = "Q4_K" if gqa >= 4 else ("IQ3_S" if not qs.has_imatrix else "IQ3_XXS")
        elif ftype in ("IQ3_XS", "IQ3_S") and gqa >= 4:
            new = "Q4_K"
        elif ftype == "IQ3_M":
            new = "Q4_K"
        elif ftype == "Q3_K_M":
            new = "Q5_K" if qs.i_attention_wv < 2 else "Q4_K"
        elif ftype == "Q3_K_L":
            new = "Q5_K"
        elif ftype in ("IQ4_NL", "IQ4_XS") and gqa >= 4:
            new = "Q5_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and use_more_bits(qs.i_attention_wv, qs.n_attention_wv):
            new = "Q6_K"
        elif ftype == "Q4_K_S" and qs.i_attention_wv < 4:
            new = "Q5_K"
        if is_70b(arch) and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"
        if arch.n_expert == 8:
            new = "Q8_0"
        qs.i_attention_wv += 1
        return new
    if cat == ATTN_K:
        if arch.n_expert == 8:
            return "Q8_0"
        if ftype == "IQ3_XS":
            return "IQ3_XXS"
        if ftype == "IQ3_XXS":
            return "IQ2_S"
        return new
    if cat == ATTN_Q:
        if ftype == "IQ3_XS":
            return "IQ3_XXS"
        if ftype == "IQ3_XXS":
            return "IQ2_S"
        return new
    if cat == FFN_DOWN:
        i, n = layer_info(qs.i_ffn_down)
        falcon = arch.name == "falcon"
        if ftype == "Q2_K":
            new = "Q3_K"
        elif ftype == "Q2_K_S":
            if i < n // 8:
                new = "Q4_K"
        elif ftype == "IQ3_XXS" and not qs.has_imatrix:
            new = "Q4_K" if i < n // 8 else "Q3_K"
        elif ftype == "Q3_K_M":
            # As in llama.cpp: every non-Falcon layer past the first 16th gets Q4_K.
            new = "Q5_K" if i < n // 16 else ("Q4_K" if not falcon or use_more_bits(i, n) else "Q3_K")
        elif ftype == "IQ3_M" and (i < n // 8 or (arch.n_expert == 8 and use_more_bits(i, n))):
            new = "Q4_K"
        elif ftype == "Q3_K_L":
            new = "Q4_K" if falcon else "Q5_K"
        elif ftype == "Q4_K_M":
            if falcon:
                new = "Q6_K" if i < n // 16 else ("Q5_K" if use_more_bits(i, n) else "Q4_K")
            elif use_more_bits(i, n):
                new = "Q6_K"
        elif i < n // 8 and ftype in ("IQ4_NL", "IQ4_XS") and not qs.has_imatrix:
            new = "Q5_K"
        elif ftype == "Q5_K_M" and use_more_bits(i, n):
            new = "Q6_K"
        elif ftype == "Q4_K_S" and not falcon and i < n // 8:
            new = "Q5_K"
        elif ftype in ("Q4_0", "Q5_0") and qs.has_imatrix and i < n // 8:
            new = "Q4_1" if ftype == "Q4_0" else "Q5_1"
        qs.i_ffn_down += 1
        return new
    if cat == ATTN_OUTPUT:
        if arch.name != "falcon":
            if arch.n_expert == 8:
                if ftype in _ATTN_OUT_MOE8_Q5K:
                    new = "Q5_K"
            else:
                new = {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K",
                       "IQ3_M": "Q4_K"}.get(ftype, new)
        elif ftype == "Q3_K_L":
            new = "Q4_K"
        return new
    if cat == ATTN_QKV:
        if ftype in ("Q3_K_M", "Q3_K_L", "IQ3_M"):
            return "Q4_K"
        if ftype == "Q4_K_M":
            return "Q5_K"
        if ftype == "Q5_K_M":
            return "Q6_K"
        return new
    if cat in (FFN_GATE, FFN_UP):
        counter = "i_ffn_gate" if cat == FFN_GATE else "i_ffn_up"
        i, n = layer_info(getattr(qs, counter))
        if ftype == "IQ3_XS" and n // 8 <= i < 7 * n // 8:
            new = "IQ3_XXS"
        setattr(qs, counter, getattr(qs, counter) + 1)
        return new
    return new


def _get_type(name: str, shape: Shape, arch: Architecture, ftype: str, source_type: str, qs: MixState) -> str:
    if not allows_quantization(name, shape):
        return source_type
    new = default_type(ftype)
    if new in UNQUANTIZED_TYPES:
        return new
    new = _choose(name, shape, arch, ftype, new, category(name), qs)
    return fallback(shape[0], new)


def _state_for_single(name: str, arch: Architecture, tied: bool | None, has_imatrix: bool) -> MixState:
    """Counters as they stand when llama.cpp reaches ``name`` in a standard one-attn_v-per-layer model."""
    n_attn = arch.n_attention_layers if not arch.is_mla else 0
    i = layer_of(name)
    before = sum(1 for j in range(max(i, 0)) if arch.layer_kind(j) == LAYER_ATTENTION)
    return MixState(
        n_attention_wv=n_attn,
        n_layer_all=arch.n_layer,
        tied_embeddings=arch.tie_embeddings if tied is None else tied,
        has_imatrix=has_imatrix,
        i_attention_wv=before if not arch.is_mla else 0,
        i_ffn_down=max(i, 0), i_ffn_gate=max(i, 0), i_ffn_up=max(i, 0),
    )


def tensor_type(name: str, shape: Shape, arch: Architecture, ftype: str, *, source_type: str | None = None,
                source_dtype: str = "F16", tied_embeddings: bool | None = None, has_imatrix: bool = False,
                state: MixState | None = None) -> str:
    """The ggml type llama-quantize gives tensor ``name`` of ``shape`` (ggml order) at ``ftype``.

    ``source_type`` is the tensor's type in the input file; tensors llama.cpp never quantizes
    keep it. When unknown, the converter's choice is assumed (F32 for norms, biases, routers...,
    ``source_dtype`` otherwise). Without ``state`` the layer counters are derived from the
    layer number, which is exact for models with one attn_v per attention layer; use
    :func:`predict_type_map` for a whole model.
    """
    qs = state or _state_for_single(name, arch, tied_embeddings, has_imatrix)
    src = source_type or converter_type(name, shape, source_dtype)
    return _get_type(name, shape, arch, ftype.upper(), src, qs)


def predict_type_map(tensors: list[tuple[str, Shape]], arch: Architecture, ftype: str, *,
                     source_types: dict[str, str] | None = None, source_dtype: str = "F16",
                     has_imatrix: bool = False) -> dict[str, str]:
    """Name -> ggml type for a whole model quantized to ``ftype`` by llama-quantize.

    Tensors are visited in llama.cpp's order whatever the order given. ``source_types`` (name ->
    type in the input file) matters only for tensors llama.cpp copies unchanged.
    """
    ftype = ftype.upper()
    default_type(ftype)  # validate early
    shapes = dict(tensors)
    if len(shapes) != len(tensors):
        raise SizeupError("duplicate tensor names in the tensor list")
    qs = MixState.for_names(shapes, arch, has_imatrix)
    out: dict[str, str] = {}
    for name in llama_order(shapes):
        shape = tuple(int(d) for d in shapes[name])
        src = (source_types or {}).get(name) or converter_type(name, shape, source_dtype)
        out[name] = _get_type(name, shape, arch, ftype, src, qs)
    return out
