"""The ranking's folded weight summaries against the tensor-by-tensor derivation they replace.

``weight_summary._predicted_grouped`` folds tensors whose type does not depend on llama-quantize's
counters into kinds and layers into classes, and shares the counter-dependent types between shapes
that differ elsewhere; ``catalog._count_layers`` counts parameters per block role list. Both must
give exactly what the per-tensor paths give, for every architecture in the built-in catalog (and
for the resized-vocabulary variants a large catalog holds), errors included.
"""

from __future__ import annotations

import dataclasses

import pytest

from sizeup.catalog import _count_layers, _count_layout, describe_entry, load_catalog
from sizeup.errors import SizeupError
from sizeup.estimate import weight_summary as W
from sizeup.layout import predict_tensors

# counter-dependent mixes (attn_v / ffn_down by position, IQ3_XS's gate/up), an unquantized type,
# MXFP4 (by shape) and a 32-block type (fallbacks)
QUANTS = ("Q4_K_M", "Q3_K_M", "IQ3_XS", "IQ2_XXS", "Q2_K", "F16", "MXFP4_MOE", "Q4_0")


def _outcome(fn, key, quant):
    try:
        return fn(key, quant)
    except SizeupError as e:
        return ("error", str(e))


@pytest.fixture(scope="module")
def shapes():
    archs = {}
    for e in load_catalog():
        a = describe_entry(e).arch
        archs.setdefault(W.shape_key(a), a)
        if len(archs) % 7 == 0:  # a fine-tune with a resized vocabulary: a new shape, same blocks
            b = dataclasses.replace(a, n_vocab=a.n_vocab + 256)
            archs.setdefault(W.shape_key(b), b)
    return archs


def test_folded_summary_equals_the_tensor_by_tensor_one(shapes):
    W._STATEFUL_MEMO.clear()
    checked = errors = 0
    for key, arch in shapes.items():
        W._ARCH_BY_KEY[key] = arch
        for q in QUANTS:
            ref = _outcome(W._predicted_rows, key, q)
            assert _outcome(W._predicted, key, q) == ref, (arch.name, arch.n_layer, q)
            fast = _outcome(W._predicted_grouped, key, q)
            if isinstance(ref, tuple):  # the fast path may fail on another tensor; _predicted re-derives
                errors += 1
                assert isinstance(fast, tuple)
            else:
                assert fast == ref, (arch.name, arch.n_layer, q)
            checked += 1
    assert len(shapes) > 100 and checked == len(shapes) * len(QUANTS)
    assert errors < checked


def test_parameter_counts_by_block_equal_the_per_tensor_count(shapes):
    for key, arch in shapes.items():
        lay = W.layers_of(arch)
        assert not lay.duplicates
        assert _count_layers(lay, arch) == _count_layout(predict_tensors(arch), arch), arch.name


def test_layers_keep_llama_order_and_counts(shapes):
    from sizeup.estimate import quant_mix as qm

    for key, arch in list(shapes.items())[::9]:
        lay = W.layers_of(arch)
        names = [n for n, _ in lay.nonblock] + [f"blk.{il}.{s}" for il, roles in lay.blocks for s, _ in roles]
        layout = dict(predict_tensors(arch))
        assert names == qm.llama_order(layout)
        st = qm.MixState.for_names(layout, arch)
        assert (lay.n_attention_wv, lay.tied) == (st.n_attention_wv, st.tied_embeddings)


def test_vocabulary_variants_derived_from_their_family_equal_a_full_prediction(shapes, monkeypatch):
    """A shape that differs from one already predicted only in n_vocab takes that one's summary
    shifted by the token_embd/output row costs (weight_summary.vocab_family): it must be exactly the
    tensor-by-tensor summary, for growing and shrinking vocabularies, tied and untied heads, MoE,
    hybrid and MTP models (those with their own MTP embeddings are left out of families)."""
    from sizeup.catalog import _PARAMS_FAMILY, _PARAMS_MEMO, _params_of
    from sizeup.estimate import summary_cache

    monkeypatch.setattr(summary_cache, "get", lambda key: None)
    monkeypatch.setattr(summary_cache, "put", lambda key, ws: None)
    W._FAMILY.clear()
    W._FAMILY_OF.clear()
    _PARAMS_MEMO.clear()
    _PARAMS_FAMILY.clear()
    derived = params_derived = 0
    for arch in list(shapes.values()):
        fam = W.vocab_family(arch)
        for dv in (0, 256, -128, 1000):  # the first member is predicted, the others derived from it
            b = dataclasses.replace(arch, n_vocab=max(2, arch.n_vocab + dv))
            key = W._register(b)
            had_params = fam is not None and fam in _PARAMS_FAMILY
            assert _params_of(b) == _count_layout(predict_tensors(b), b), (b.name, b.n_vocab)
            params_derived += had_params
            for q in QUANTS:
                had = fam is not None and (fam, q) in W._FAMILY
                got = _outcome(W.predicted_summary, b, q)
                ref = _outcome(W._predicted_rows, key, q)
                if isinstance(ref, tuple):
                    assert isinstance(got, tuple), (b.name, b.n_vocab, q)
                else:
                    assert got == ref, (b.name, b.n_vocab, q)
                    derived += had
    assert derived > 1000 and params_derived > 200
