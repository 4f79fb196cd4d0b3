"""A model's weights at one quantization, summed the way placement and speed need them.

Ranking a catalog asks the same questions of every (model, quant, placement): how many bytes sit
in each repeating layer, how many of those are routed experts (which ``--n-cpu-moe`` moves to
RAM), what the input and output layers weigh. Predicting the per-tensor quant mix
(:func:`~sizeup.estimate.weights_predict.predict_tensors`) is by far the slowest step, and it
depends only on the architecture's shape and the quant type: fine-tunes share their base model's
shape. So summaries are cached per (architecture shape, quant) and everything downstream is
arithmetic on a few per-layer arrays.

The sums follow :func:`sizeup.estimate.placement.weights_by_device` exactly: ``blk.N.*`` tensors
with ``N < n_layer`` belong to layer ``N``; input tensors (token embeddings) stay on the CPU;
everything else (output head, output norm, extra MTP blocks) goes with the output layer; a tied
head costs the embedding table again where the output layer runs.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Sequence

from ..data.ggml_types import GGML_TYPES_BY_NAME
from ..errors import SizeupError
from ..model import Architecture, TensorInfo
from .placement import is_input_tensor, tensor_layer
from .speed import is_routed_expert

MEMO_SIZE = 8192  # (shape, quant) summaries kept; each is a few small tuples


@dataclass(frozen=True)
class WeightSummary:
    quant: str
    n_layer: int
    dense: tuple[int, ...]  # bytes per repeating layer, routed experts excluded
    exps: tuple[int, ...]  # routed-expert bytes per repeating layer
    dense_el: tuple[int, ...]  # elements multiplied per token in each layer (experts excluded)
    exps_el: tuple[int, ...]  # routed-expert elements per layer (all experts)
    embd: int  # input-layer bytes (always on the CPU)
    embd_row: float  # bytes of one embedding row (what a token reads from the table)
    out: int  # bytes that go with the output layer (head, norm, MTP blocks)
    out_el: int  # elements the output head multiplies per token (the embedding table when tied)
    tied: bool  # no output.weight: the head re-uses token_embd (a copy where the output runs)
    total: int  # bytes of all tensors (the GGUF's tensor data)

    @property
    def dense_total(self) -> int:
        return sum(self.dense)

    @property
    def exps_total(self) -> int:
        return sum(self.exps)

    @functools.cached_property
    def prefix(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Running sums of ``dense`` and ``exps`` (index i = the first i layers), for O(1) splits."""
        return tuple(itertools.accumulate(self.dense, initial=0)), tuple(itertools.accumulate(self.exps, initial=0))

    def output_bytes(self) -> int:
        """Bytes placed on the output layer's device, the tied head's duplicate included."""
        return self.out + (self.embd if self.tied else 0)


def summarize(tensors: Sequence[TensorInfo], arch: Architecture, quant: str = "") -> WeightSummary:
    """Per-layer byte and element sums of a tensor list (predicted or read from a GGUF)."""
    n = arch.n_layer
    dense = [0] * n
    exps = [0] * n
    dense_el = [0] * n
    exps_el = [0] * n
    embd = out = out_el = 0
    embd_bytes = 0
    has_output = False
    for t in tensors:
        il = tensor_layer(t.name)
        if il is not None and il < n:
            if is_routed_expert(t):
                exps[il] += t.n_bytes
                exps_el[il] += t.n_elements
            else:
                dense[il] += t.n_bytes
                dense_el[il] += t.n_elements
        elif is_input_tensor(t.name):
            embd += t.n_bytes
            if t.name == "token_embd.weight":
                embd_bytes = t.n_bytes
                embd_el = t.n_elements
        else:
            out += t.n_bytes
            if t.name == "output.weight":
                has_output = True
                out_el += t.n_elements
    tied = not has_output and embd_bytes > 0
    if tied:
        out_el += embd_el
    row = embd_bytes / max(arch.n_vocab, 1)
    return WeightSummary(quant, n, tuple(dense), tuple(exps), tuple(dense_el), tuple(exps_el), embd, row, out,
                         out_el, tied, sum(t.n_bytes for t in tensors))


def shape_key(arch: Architecture) -> tuple:
    """What decides the tensor inventory: the architecture's fields and its trait overrides."""
    extra = tuple(sorted((k, repr(v)[:200]) for k, v in arch.extra.items() if not k.startswith("hf_")))[:64]
    return (arch, extra)


@dataclass(frozen=True)
class _Prepared:
    """A shape's tensor inventory in llama.cpp's quantization order, with everything about each
    tensor that does not depend on the quant type worked out once."""

    rows: tuple  # (name, shape, allows, source type, category, n_elements, layer, input?, expert?)
    n_attention_wv: int
    tied: bool


@functools.lru_cache(maxsize=1024)
def _prepared(key: tuple) -> _Prepared:
    from ..layout import n_elements
    from ..layout import predict_tensors as predict_layout
    from . import quant_mix as qm

    arch = _ARCH_BY_KEY[key]
    layout = predict_layout(arch)
    shapes = dict(layout)
    names = qm.llama_order(shapes)
    rows = []
    static: dict[tuple, tuple] = {}  # per-layer tensors differ only in "blk.N.": decide once per role
    for name in names:
        shape = tuple(int(d) for d in shapes[name])
        il = tensor_layer(name)
        role = (name.split(".", 2)[2] if il is not None else name, shape)
        st = static.get(role)
        if st is None:
            st = static[role] = (qm.allows_quantization(name, shape), qm.converter_type(name, shape, "F16"),
                                 qm.category(name), n_elements(shape))
        rows.append((name, shape, st[0], st[1], st[2], st[3], il if il is not None and il < arch.n_layer else -1,
                     is_input_tensor(name), "_exps" in name))
    st = qm.MixState.for_names(shapes, arch)
    return _Prepared(tuple(rows), st.n_attention_wv, st.tied_embeddings)


_ROW_BYTES: dict[tuple[str, int], int] = {}


def _nbytes(dtype: str, shape: tuple[int, ...], n_el: int) -> int:
    """ggml_nbytes of a contiguous tensor (as weights_predict.tensor_nbytes), row sizes memoized."""
    if not shape:
        return 0
    ne0 = shape[0]
    row = _ROW_BYTES.get((dtype, ne0))
    if row is None:
        t = GGML_TYPES_BY_NAME[dtype]
        if ne0 % t.block_size:
            raise SizeupError(f"rows of {ne0} elements do not fit {t.name} blocks of {t.block_size}")
        row = _ROW_BYTES[(dtype, ne0)] = (ne0 // t.block_size) * t.type_size
    return (n_el // ne0) * row


# Categories whose type llama.cpp picks without looking at the layer or a running counter
# (quant_mix._choose): their choice is the same for every tensor of one shape in a model.
_STATELESS = frozenset({"output", "token_embd", "attn_k", "attn_q", "attn_output", "other"})


@functools.lru_cache(maxsize=MEMO_SIZE)
def _predicted(key: tuple, quant: str) -> WeightSummary:
    """The summary of ``predict_tensors(arch, quant)`` without building its tensor list: the same
    decisions (:mod:`.quant_mix`, in llama.cpp's order, with its counters), summed directly."""
    from ..data.quant_mix_rules import UNQUANTIZED_TYPES
    from . import quant_mix as qm

    arch = _ARCH_BY_KEY[key]
    prep = _prepared(key)
    ftype = quant.upper()
    default = qm.default_type(ftype)
    qs = qm.MixState(n_attention_wv=prep.n_attention_wv, n_layer_all=arch.n_layer, tied_embeddings=prep.tied)
    n = arch.n_layer
    dense = [0] * n
    exps = [0] * n
    dense_el = [0] * n
    exps_el = [0] * n
    embd = out = out_el = embd_bytes = embd_el = total = 0
    has_output = False
    stateless = _STATELESS if ftype == "IQ3_XS" else _STATELESS | {"ffn_gate", "ffn_up"}
    memo: dict[tuple, str] = {}
    for name, shape, allows, src, cat, n_el, il, is_input, is_exp in prep.rows:
        if not allows:
            t = src
        elif default in UNQUANTIZED_TYPES:
            t = default
        elif cat in stateless:
            k = (cat, shape)
            t = memo.get(k)
            if t is None:
                t = memo[k] = qm.fallback(shape[0], qm._choose(name, shape, arch, ftype, default, cat, qs))
        else:
            t = qm.fallback(shape[0], qm._choose(name, shape, arch, ftype, default, cat, qs))
        b = _nbytes(t, shape, n_el)
        total += b
        if il >= 0:
            if is_exp:
                exps[il] += b
                exps_el[il] += n_el
            else:
                dense[il] += b
                dense_el[il] += n_el
        elif is_input:
            embd += b
            if name == "token_embd.weight":
                embd_bytes, embd_el = b, n_el
        else:
            out += b
            if name == "output.weight":
                has_output = True
                out_el += n_el
    tied = not has_output and embd_bytes > 0
    if tied:
        out_el += embd_el
    return WeightSummary(quant, n, tuple(dense), tuple(exps), tuple(dense_el), tuple(exps_el), embd,
                         embd_bytes / max(arch.n_vocab, 1), out, out_el, tied, total)


_ARCH_BY_KEY: dict[tuple, Architecture] = {}


def predicted_summary(arch: Architecture, quant: str) -> WeightSummary:
    """The cached summary of ``arch`` quantized to ``quant`` by llama-quantize (predicted mix).

    Raises SizeupError when the type cannot take this architecture's rows.
    """
    key = shape_key(arch)
    if key not in _ARCH_BY_KEY:
        if len(_ARCH_BY_KEY) > MEMO_SIZE:
            _ARCH_BY_KEY.clear()
            _FAILED.clear()
            _predicted.cache_clear()
            _prepared.cache_clear()
        _ARCH_BY_KEY[key] = arch
    failed = _FAILED.get((key, quant))
    if failed is not None:
        raise SizeupError(failed)
    from . import summary_cache

    dkey = _DISK_KEYS.get((key, quant))
    if dkey is None:
        dkey = _DISK_KEYS[(key, quant)] = summary_cache.key_of(key, quant)
    hit = summary_cache.get(dkey)
    if hit is not None:
        return hit
    try:
        ws = _predicted(key, quant)
    except SizeupError as e:  # remembered: a type this shape cannot take stays impossible
        _FAILED[(key, quant)] = str(e)
        raise
    summary_cache.put(dkey, ws)
    return ws


_DISK_KEYS: dict[tuple, str] = {}


_FAILED: dict[tuple, str] = {}


@functools.lru_cache(maxsize=MEMO_SIZE)
def predicted_tensors(arch_key: tuple, quant: str) -> list[TensorInfo]:
    """The full predicted tensor list (for the rows a report shows in detail)."""
    from .weights_predict import predict_tensors

    return predict_tensors(_ARCH_BY_KEY.get(arch_key, arch_key[0]), quant)
