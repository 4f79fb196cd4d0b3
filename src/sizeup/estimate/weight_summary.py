"""A model's weights at one quantization, summed the way placement and speed need them.

Ranking a catalog asks the same questions of every (model, quant, placement): how many bytes sit
in each repeating layer, how many of those are routed experts (which ``--n-cpu-moe`` moves to
RAM), what the input and output layers weigh. Predicting the per-tensor quant mix
(:func:`~sizeup.estimate.weights_predict.predict_tensors`) is by far the slowest step, and it
depends only on the architecture's shape and the quant type: fine-tunes share their base model's
shape. So summaries are cached per (architecture shape, quant) and everything downstream is
arithmetic on a few per-layer arrays.

A summary is not built tensor by tensor either (:func:`_predicted_rows` does that, as the
reference the tests hold the fast path to): tensors whose type llama.cpp picks without its running
counters are folded into kinds and identical layers into classes (:class:`_Grouped`), so a quant
costs one decision per kind plus the counter-dependent tensors (attn_v, ffn_down...), whose types
are shared between shapes that differ only elsewhere (a resized vocabulary).

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
from ..layout import is_routed_expert

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
    # token_embd's bytes when tied: what the head's copy on an offloaded output layer weighs, and
    # what a token's head reads. Not ``embd``, which also holds the other input tables (Gemma 3n's
    # per-layer embeddings are gathered a row per token, never copied or multiplied).
    tied_bytes: int = 0

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

    @functools.cached_property
    def el_prefix(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Running sums of ``dense_el`` and ``exps_el``, as :attr:`prefix` (the speed model's splits)."""
        return (tuple(itertools.accumulate(self.dense_el, initial=0)),
                tuple(itertools.accumulate(self.exps_el, initial=0)))

    def output_bytes(self) -> int:
        """Bytes placed on the output layer's device, the tied head's duplicate included."""
        return self.out + (self.tied_bytes if self.tied else 0)


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
                         out_el, tied, sum(t.n_bytes for t in tensors), embd_bytes if tied else 0)


def shape_key(arch: Architecture) -> tuple:
    """What decides the tensor inventory: the architecture's fields and its trait overrides.

    Kept on the (frozen) architecture itself: a ranking asks for it several times per model."""
    key = arch.__dict__.get("_sizeup_shape_key")
    if key is None:
        extra = tuple(sorted((k, repr(v)[:200]) for k, v in arch.extra.items() if not k.startswith("hf_")))[:64]
        key = (arch, extra)
        object.__setattr__(arch, "_sizeup_shape_key", key)
    return key


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
    # as qm.MixState.for_names, from the categories already worked out per role
    n_attention_wv = sum(1 for r in rows if r[4] in qm._ATTN_V_LIKE)
    return _Prepared(tuple(rows), n_attention_wv, "output.weight" not in shapes)


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
_STATELESS_GATE_UP = _STATELESS | {"ffn_gate", "ffn_up"}  # all but IQ3_XS


@dataclass(frozen=True)
class _Grouped:
    """A shape's rows for one set of stateless categories, folded so that a quant costs a few
    operations per distinct tensor kind and per layer, not per tensor.

    Tensors whose type does not depend on llama-quantize's running counters (copied unchanged, or
    of a category chosen by name and shape alone) are reduced to *kinds* (one type decision each)
    and each layer to a *class* (the kinds it holds, with counts: most layers of a model look
    alike). The tensors whose type does depend on the counters are kept, in llama.cpp's order."""

    kinds: tuple  # (allows, first name, shape, source type, category, n_elements)
    classes: tuple  # per layer class: ((kind, expert?, count), ...)
    class_el: tuple  # per layer class: (dense elements, expert elements)
    layer_class: tuple  # class index of each repeating layer
    loose: tuple  # non-layer grouped rows: (kind, input?, token_embd?, output.weight?)
    stateful: tuple  # (name, shape, category, n_elements, layer, input?, expert?) in order
    stateful_sig: tuple  # what the choice of those tensors' types reads besides the counters
    n_attention_wv: int  # attn_v-like tensors in the model (MixState.for_names)
    tied: bool  # no output.weight


@dataclass(frozen=True)
class _Layers:
    """A shape's tensor inventory in llama.cpp's order, kept by layer: the non-block tensors, then
    each block as (layer number, its roles sorted by name); a role is (name after ``blk.N.``,
    shape). Blocks repeat a handful of role lists, so work is done per role list, not per tensor."""

    nonblock: tuple  # (name, shape), sorted by name
    blocks: tuple  # (layer, roles) in layer order
    n_attention_wv: int
    tied: bool
    duplicates: bool  # the layout repeated a name (then only the first shape is kept here)


def _static(name: str, shape: tuple) -> tuple:
    """What does not depend on the quant type: (allows, converter type, category, n_elements, expert?)."""
    from ..layout import n_elements
    from . import quant_mix as qm

    return (qm.allows_quantization(name, shape), qm.converter_type(name, shape, "F16"), qm.category(name),
            n_elements(shape), "_exps" in name)


@functools.lru_cache(maxsize=1024)
def _layers(key: tuple) -> _Layers:
    from ..layout import predict_blocks
    from . import quant_mix as qm

    arch = _ARCH_BY_KEY[key]
    head, blocks = predict_blocks(arch)
    distinct = {id(r): r for _, r in blocks}
    if len({n for n, _ in head}) == len(head) and all(len({s for s, _ in r}) == len(r) for r in distinct.values()):
        # the layout by block as predict_blocks shares it: each distinct role list sorted once
        nonblock = sorted((n, tuple(int(d) for d in sh)) for n, sh in head)
        n_wv = sum(1 for name, _ in nonblock if qm.category(name) in qm._ATTN_V_LIKE)
        sorted_roles = {i: tuple(sorted((sfx, tuple(int(d) for d in sh)) for sfx, sh in r)) for i, r in distinct.items()}
        wv = {i: sum(1 for sfx, _ in r if qm.category(sfx) in qm._ATTN_V_LIKE) for i, r in sorted_roles.items()}
        out_blocks = tuple((layer, sorted_roles[id(r)]) for layer, r in blocks)
        n_wv += sum(wv[id(r)] for _, r in blocks)
        return _Layers(tuple(nonblock), out_blocks, n_wv, not any(n == "output.weight" for n, _ in head), False)
    return _layers_from_layout(arch, head + [(f"blk.{i}.{sfx}", sh) for i, r in blocks for sfx, sh in r])


def _layers_from_layout(arch: Architecture, layout: list) -> _Layers:
    """:func:`_layers` from the flat tensor list (a layout that repeats a name keeps its first place
    and last shape, as ``dict`` does)."""
    from . import quant_mix as qm

    shapes = dict(layout)
    nonblock = []
    blocks: dict[int, list] = {}
    norm: dict[tuple, tuple] = {}  # a few distinct shapes, each normalized to ints once
    cur_prefix, cur = "\0", []  # the block the layout is in (it lists blocks one after another)
    for name, shape in shapes.items():
        sh = norm.get(shape) if type(shape) is tuple else None
        if sh is None:
            sh = tuple(int(d) for d in shape)
            if type(shape) is tuple:
                norm[shape] = sh
        if name.startswith(cur_prefix):  # "blk.N." + rest: layer_of is N, split(".", 2)[2] is rest
            cur.append((name[len(cur_prefix):], sh))
            continue
        if name.startswith("blk."):  # the common case of qm.layer_of, without the regex
            head, sep, rest = name[4:].partition(".")
            if sep and len(head) <= 9 and head.isascii() and head.isdigit():
                bl = blocks.get(int(head))
                if bl is None:
                    bl = blocks[int(head)] = []
                bl.append((rest, sh))
                cur_prefix, cur = f"blk.{head}.", bl
                continue
        layer = qm.layer_of(name)  # the key llama_order sorts by
        if layer < 0:
            nonblock.append((name, sh))
        else:
            blocks.setdefault(layer, []).append((name.split(".", 2)[2], sh))
    nonblock.sort()
    roles_memo: dict[tuple, tuple] = {}
    n_wv = sum(1 for name, _ in nonblock if qm.category(name) in qm._ATTN_V_LIKE)
    wv_memo: dict[tuple, int] = {}
    out_blocks = []
    for layer in sorted(blocks):
        roles = tuple(sorted(blocks[layer]))  # within a block, names differ only after "blk.N."
        roles = roles_memo.setdefault(roles, roles)
        w = wv_memo.get(roles)
        if w is None:
            w = wv_memo[roles] = sum(1 for suffix, _ in roles if qm.category(suffix) in qm._ATTN_V_LIKE)
        n_wv += w
        out_blocks.append((layer, roles))
    return _Layers(tuple(nonblock), tuple(out_blocks), n_wv, "output.weight" not in shapes, len(shapes) != len(layout))


@functools.lru_cache(maxsize=1024)
def _grouped(key: tuple, stateless: frozenset) -> _Grouped:
    arch = _ARCH_BY_KEY[key]
    lay = _layers(key)
    n = arch.n_layer
    kind_ix: dict[tuple, int] = {}
    kinds: list[tuple] = []
    loose: list[tuple] = []
    stateful: list[tuple] = []
    static: dict[tuple, tuple] = {}  # per role: decided on its first tensor, as _prepared does

    def kind(name, shape, allows, src, cat, n_el) -> int:
        k = (True, cat, shape) if allows else (False, src, shape)
        j = kind_ix.get(k)
        if j is None:
            j = kind_ix[k] = len(kinds)
            kinds.append((allows, name, shape, src, cat, n_el))
        return j

    per_layer: list = [() for _ in range(n)]
    for name, shape in lay.nonblock:
        il = tensor_layer(name)
        il = il if il is not None and il < n else -1
        st = static[(name, shape)] = _static(name, shape)
        allows, src, cat, n_el, is_exp = st
        if allows and cat not in stateless:
            stateful.append((name, shape, cat, n_el, il, is_input_tensor(name), is_exp))
            continue
        j = kind(name, shape, allows, src, cat, n_el)
        if il >= 0:  # not a block name for llama_order, yet one for tensor_layer: not in any layout
            per_layer[il] = per_layer[il] + ((j, is_exp, 1),)
        else:
            loose.append((j, is_input_tensor(name), name == "token_embd.weight", name == "output.weight"))
    templates: dict[tuple, tuple] = {}  # roles -> (counts of stateless kinds, stateful roles)
    for layer, roles in lay.blocks:
        prefix = f"blk.{layer}."
        tpl = templates.get(roles)
        if tpl is None:
            counts: dict[tuple, int] = {}
            st_roles = []
            for suffix, shape in roles:
                st = static.get((suffix, shape))
                if st is None:
                    st = static[(suffix, shape)] = _static(prefix + suffix, shape)
                allows, src, cat, n_el, is_exp = st
                if allows and cat not in stateless:
                    st_roles.append((suffix, shape, cat, n_el, is_exp))
                else:
                    j = kind(prefix + suffix, shape, allows, src, cat, n_el)
                    counts[(j, is_exp)] = counts.get((j, is_exp), 0) + 1
            tpl = templates[roles] = (tuple(sorted((j, e, c) for (j, e), c in counts.items())), tuple(st_roles))
        sig, st_roles = tpl
        if layer < n:
            per_layer[layer] = per_layer[layer] + sig
        else:  # blocks past n_layer (MTP) go with the output layer
            for j, e, c in sig:
                loose.extend([(j, False, False, False)] * c)
        il = layer if layer < n else -1
        for suffix, shape, cat, n_el, is_exp in st_roles:
            stateful.append((prefix + suffix, shape, cat, n_el, il, False, is_exp))
    class_ix: dict[tuple, int] = {}
    classes: list[tuple] = []
    class_el: list[tuple] = []
    layer_class = []
    for sig in per_layer:
        ci = class_ix.get(sig)
        if ci is None:
            ci = class_ix[sig] = len(classes)
            classes.append(sig)
            class_el.append((sum(kinds[j][5] * c for j, e, c in sig if not e),
                             sum(kinds[j][5] * c for j, e, c in sig if e)))
        layer_class.append(ci)
    from .quant_mix import layer_of

    experts = max(1, arch.n_expert) > 1
    ssig = tuple((cat, shape, layer_of(name) if experts else -1) for name, shape, cat, *_ in stateful)
    return _Grouped(tuple(kinds), tuple(classes), tuple(class_el), tuple(layer_class), tuple(loose), tuple(stateful),
                    ssig, lay.n_attention_wv, lay.tied)


@functools.lru_cache(maxsize=MEMO_SIZE)
def _predicted(key: tuple, quant: str) -> WeightSummary:
    """The summary of ``predict_tensors(arch, quant)`` without building its tensor list: the same
    decisions (:mod:`.quant_mix`, in llama.cpp's order, with its counters), summed directly.

    Works on :class:`_Grouped` rows; any error is re-derived tensor by tensor
    (:func:`_predicted_rows`) so that the message names the same tensor as a full prediction."""
    try:
        return _predicted_grouped(key, quant)
    except SizeupError:
        return _predicted_rows(key, quant)


def _predicted_grouped(key: tuple, quant: str) -> WeightSummary:
    from ..data.quant_mix_rules import UNQUANTIZED_TYPES
    from . import quant_mix as qm

    arch = _ARCH_BY_KEY[key]
    ftype = quant.upper()
    default = qm.default_type(ftype)
    unquantized = default in UNQUANTIZED_TYPES
    stateless = _STATELESS if ftype == "IQ3_XS" else _STATELESS_GATE_UP
    g = _grouped(key, stateless)
    qs = qm.MixState(n_attention_wv=g.n_attention_wv, n_layer_all=arch.n_layer, tied_embeddings=g.tied)
    kind_qs = qm.MixState(n_attention_wv=g.n_attention_wv, n_layer_all=arch.n_layer, tied_embeddings=g.tied)
    kind_bytes = [_nbytes(_kind_type(k, arch, ftype, default, unquantized, kind_qs), k[2], k[5]) for k in g.kinds]
    cls_dense = []
    cls_exps = []
    for sig in g.classes:
        dsum = esum = 0
        for j, e, c in sig:
            if e:
                esum += kind_bytes[j] * c
            else:
                dsum += kind_bytes[j] * c
        cls_dense.append(dsum)
        cls_exps.append(esum)
    lc = g.layer_class
    dense = [cls_dense[c] for c in lc]
    exps = [cls_exps[c] for c in lc]
    dense_el = [g.class_el[c][0] for c in lc]
    exps_el = [g.class_el[c][1] for c in lc]
    embd = out = out_el = embd_bytes = embd_el = 0
    has_output = False
    for j, is_input, is_te, is_out in g.loose:
        b = kind_bytes[j]
        if is_input:
            embd += b
            if is_te:
                embd_bytes, embd_el = b, g.kinds[j][5]
        else:
            out += b
            if is_out:
                has_output = True
                out_el += g.kinds[j][5]
    types = _stateful_types(g, arch, ftype, default, unquantized, qs)
    nb: dict[tuple, int] = {}  # (type, shape) -> bytes: the same few pairs recur in every layer
    for (name, shape, cat, n_el, il, is_input, is_exp), t in zip(g.stateful, types):
        b = nb.get((t, shape))
        if b is None:
            b = nb[(t, shape)] = _nbytes(t, shape, n_el)
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
    n = arch.n_layer
    return WeightSummary(quant, n, tuple(dense), tuple(exps), tuple(dense_el), tuple(exps_el), embd,
                         embd_bytes / max(arch.n_vocab, 1), out, out_el, tied,
                         sum(dense) + sum(exps) + embd + out, embd_bytes if tied else 0)


def _kind_type(kind: tuple, arch: Architecture, ftype: str, default: str, unquantized: bool, kind_qs) -> str:
    """The type of a :class:`_Grouped` kind (a stateless category: the counters in ``kind_qs`` are never read)."""
    from . import quant_mix as qm

    allows, name, shape, src, cat, _n_el = kind
    if not allows:
        return src
    if unquantized:
        return default
    return qm.fallback(shape[0], qm._choose(name, shape, arch, ftype, default, cat, kind_qs))


_STATEFUL_MEMO: dict[tuple, tuple[str, ...]] = {}


def _stateful_types(g: _Grouped, arch: Architecture, ftype: str, default: str, unquantized: bool, qs) -> tuple:
    """The types of the counter-dependent tensors, in order. Shared between shapes that differ only
    elsewhere (a fine-tune with a resized vocabulary): the key holds everything ``quant_mix._choose``
    and ``fallback`` read for these tensors: the file type, the architecture facts (name, experts,
    layers, layer-0 heads), the model-wide counts, and each tensor's category, shape and (with
    experts, where llama.cpp reads the layer from the name) layer."""
    from . import quant_mix as qm

    if unquantized:
        return (default,) * len(g.stateful)
    mkey = (ftype, arch.name, arch.n_expert, arch.n_layer, arch.n_head[0] if arch.n_head else 0,
            arch.n_head_kv[0] if arch.n_head_kv else 0, qs.n_attention_wv, qs.tied_embeddings, qs.has_imatrix,
            g.stateful_sig)
    hit = _STATEFUL_MEMO.get(mkey)
    if hit is None:
        hit = tuple(qm.fallback(shape[0], qm._choose(name, shape, arch, ftype, default, cat, qs))
                    for name, shape, cat, _n, _il, _inp, _e in g.stateful)
        if len(_STATEFUL_MEMO) > MEMO_SIZE:
            _STATEFUL_MEMO.clear()
        _STATEFUL_MEMO[mkey] = hit
    return hit


def _predicted_rows(key: tuple, quant: str) -> WeightSummary:
    """The same summary, tensor by tensor (the reference :func:`_predicted_grouped` folds)."""
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
                         embd_bytes / max(arch.n_vocab, 1), out, out_el, tied, total, embd_bytes if tied else 0)


_ARCH_BY_KEY: dict[tuple, Architecture] = {}


def _register(arch: Architecture) -> tuple:
    """``arch``'s shape key, remembered with the architecture the memos below work from."""
    key = shape_key(arch)
    if key not in _ARCH_BY_KEY:
        if len(_ARCH_BY_KEY) > MEMO_SIZE:
            _ARCH_BY_KEY.clear()
            _KEY_REPR.clear()
            _FAILED.clear()
            _predicted.cache_clear()
            _grouped.cache_clear()
            _layers.cache_clear()
            _STATEFUL_MEMO.clear()
            _prepared.cache_clear()
            _FAMILY_OF.clear()
            _FAMILY.clear()
            _FAMILY_MEMBERS.clear()
        _ARCH_BY_KEY[key] = arch
    return key


def layers_of(arch: Architecture) -> _Layers:
    """The predicted layout of ``arch`` by layer (memoized per shape; catalog parameter counts
    share it with the weight summaries). Raises SizeupError as ``layout.predict_tensors`` does."""
    return _layers(_register(arch))


def predicted_summary(arch: Architecture, quant: str) -> WeightSummary:
    """The cached summary of ``arch`` quantized to ``quant`` by llama-quantize (predicted mix).

    Raises SizeupError when the type cannot take this architecture's rows.
    """
    key = _register(arch)
    failed = _FAILED.get((key, quant))
    if failed is not None:
        raise SizeupError(failed)
    from . import summary_cache

    hit = summary_cache.get(_disk_key(key, quant))
    if hit is not None:
        return hit
    fam = vocab_family(arch)
    ws = _from_family(fam, quant, arch.n_vocab) if fam is not None else None
    if ws is None and fam is not None and _join_stored_member(fam, key, quant):
        ws = _from_family(fam, quant, arch.n_vocab)
    if ws is None:
        try:
            ws = _predicted(key, quant)
        except SizeupError as e:  # remembered: a type this shape cannot take stays impossible
            _FAILED[(key, quant)] = str(e)
            raise
        if fam is not None:
            _join_family(fam, key, quant, ws)
    summary_cache.put(_disk_key(key, quant), ws)
    return ws


def _disk_key(key: tuple, quant: str) -> str:
    from . import summary_cache

    dkey = _DISK_KEYS.get((key, quant))
    if dkey is None:
        dkey = _DISK_KEYS[(key, quant)] = summary_cache.key_of(key, quant, shape_repr(key))
    return dkey


def shape_repr(key: tuple) -> str:
    """``repr`` of a shape key, the text the disk cache's keys are made from. An Architecture's
    repr is long: made once per shape, not once per quant (or per plan search)."""
    r = _KEY_REPR.get(key)
    if r is None:
        if len(_KEY_REPR) > MEMO_SIZE:
            _KEY_REPR.clear()
        r = _KEY_REPR[key] = repr(key)
    return r


def _join_stored_member(fam: tuple, key: tuple, quant: str) -> bool:
    """Make a family record for (fam, quant) from a member whose summary the disk cache already
    holds (a summary read from the cache never went through :func:`_join_family`): a fine-tune
    with a resized vocabulary then costs a few sums, not a prediction, even when its base model
    was predicted in an earlier run (or ships in the package's seed)."""
    from . import summary_cache

    for member in _FAMILY_MEMBERS.get(fam, ())[:8]:
        if member == key:
            continue
        ws = summary_cache.get(_disk_key(member, quant))
        if ws is not None:
            _join_family(fam, member, quant, ws)
            return (fam, quant) in _FAMILY
    return False


# Vocabulary families. Fine-tunes often resize the vocabulary (added chat or tool tokens) and
# change nothing else. Only token_embd and output are (n_embd, n_vocab) (with the MTP blocks'
# own copies where ``nextn_full``, which are left out of this), and llama-quantize picks their
# types from the file type and n_embd alone (``quant_mix._choose`` and ``fallback`` read
# shape[0]), so every byte and element count of a summary is affine in n_vocab: n_vocab times a
# row cost. A shape whose only difference from one already predicted is n_vocab gets its summary
# from that one's row costs instead of a new prediction (the tests hold it to the tensor-by-tensor
# derivation).
_FAMILY_OF: dict[tuple, tuple | None] = {}
_FAMILY: dict[tuple, tuple] = {}  # (family, quant) -> (n_vocab, summary, token_embd row bytes, output row bytes)
_FAMILY_MEMBERS: dict[tuple, list[tuple]] = {}  # family -> the shape keys of it seen in this process


def vocab_family(arch: Architecture) -> tuple | None:
    """The shape key of ``arch`` with n_vocab left out, or None when more than token_embd and
    output depend on it (MTP blocks with their own embeddings, Gemma 3n's per-layer embedding
    table) or the vocabulary is degenerate."""
    key = _register(arch)
    if key in _FAMILY_OF:
        return _FAMILY_OF[key]
    from dataclasses import replace

    from ..layout import traits

    fam = None
    t = traits(arch)
    if arch.n_vocab >= 2 and not t["nextn_full"] and not t["altup"]:
        fam = (replace(arch, n_vocab=1), key[1])
        _FAMILY_MEMBERS.setdefault(fam, []).append(key)
    _FAMILY_OF[key] = fam
    return fam


def _vocab_rows(key: tuple, quant: str) -> tuple[int, int] | None:
    """Bytes per vocabulary row of token_embd.weight and of output.weight (0 when absent) at
    ``quant``, or None when the shape does not have the plain (n_embd, n_vocab) pair."""
    from . import quant_mix as qm
    from ..data.quant_mix_rules import UNQUANTIZED_TYPES

    arch = _ARCH_BY_KEY[key]
    ftype = quant.upper()
    default = qm.default_type(ftype)
    g = _grouped(key, _STATELESS if ftype == "IQ3_XS" else _STATELESS_GATE_UP)
    if any(r[0] in ("token_embd.weight", "output.weight") for r in g.stateful):
        return None
    kind_qs = qm.MixState(n_attention_wv=g.n_attention_wv, n_layer_all=arch.n_layer, tied_embeddings=g.tied)
    rows = [0, 0]
    for j, _inp, is_te, is_out in g.loose:
        if not (is_te or is_out):
            continue
        k = g.kinds[j]
        if k[2] != (arch.n_embd, arch.n_vocab):
            return None
        b = _nbytes(_kind_type(k, arch, ftype, default, default in UNQUANTIZED_TYPES, kind_qs), k[2], k[5])
        if b % arch.n_vocab:
            return None
        rows[0 if is_te else 1] += b // arch.n_vocab
    return rows[0], rows[1]


def stored_vocab_rows(key: tuple, quant: str) -> tuple[int, int] | None:
    """:func:`_vocab_rows`, kept in the summary cache beside the summary (the seed ships them for
    the built-in shapes): deriving a resized vocabulary's summary from a stored one then needs no
    grouping of the stored shape's tensors. Raises SizeupError as :func:`_vocab_rows` does."""
    from . import summary_cache

    dkey = _disk_key(key, quant)
    rows = summary_cache.get_rows(dkey)
    if rows is False:
        rows = _vocab_rows(key, quant)
        summary_cache.put_rows(dkey, rows)
    return rows


def _join_family(fam: tuple, key: tuple, quant: str, ws: WeightSummary) -> None:
    if (fam, quant) in _FAMILY:
        return
    try:
        rows = stored_vocab_rows(key, quant)
    except SizeupError:
        return
    if rows is not None and rows[0] == ws.embd_row:
        if len(_FAMILY) > MEMO_SIZE:
            _FAMILY.clear()
        _FAMILY[(fam, quant)] = (_ARCH_BY_KEY[key].n_vocab, ws, *rows)


def _from_family(fam: tuple, quant: str, n_vocab: int) -> WeightSummary | None:
    """The summary at ``n_vocab`` from a member of its vocabulary family, or None."""
    rec = _FAMILY.get((fam, quant))
    if rec is None:
        return None
    v0, ws, te_row, out_row = rec
    dv = n_vocab - v0
    n_embd = fam[0].n_embd
    el = n_embd * ((1 if out_row else 0) + (1 if ws.tied else 0))  # output.weight, or the tied table
    return WeightSummary(ws.quant, ws.n_layer, ws.dense, ws.exps, ws.dense_el, ws.exps_el, ws.embd + dv * te_row,
                         ws.embd_row, ws.out + dv * out_row, ws.out_el + dv * el, ws.tied,
                         ws.total + dv * (te_row + out_row), ws.tied_bytes + dv * te_row if ws.tied else 0)


_DISK_KEYS: dict[tuple, str] = {}
_KEY_REPR: dict[tuple, str] = {}


_FAILED: dict[tuple, str] = {}


@functools.lru_cache(maxsize=MEMO_SIZE)
def predicted_tensors(arch_key: tuple, quant: str) -> list[TensorInfo]:
    """The full predicted tensor list (for the rows a report shows in detail)."""
    from .weights_predict import predict_tensors

    return predict_tensors(_ARCH_BY_KEY.get(arch_key, arch_key[0]), quant)
