"""The weight summaries of the built-in catalog's shapes, shipped with the package.

Why: a first ranking (an empty :mod:`.summary_cache`) spends most of its time predicting
llama-quantize's type mix for every (shape, quant) of the catalog. Those predictions depend only
on the shape, the quant and the rule modules, so ``scripts/build_summary_seed.py`` works them out
for every shape and quant type the ranking tries on the built-in catalog and writes them, under
the summary cache's own version, to ``data/summary_seed.json``. A run without a usable cache starts
from that file; after a rule edit its version no longer matches and it is ignored (the test suite
fails until it is rebuilt). Only summaries (with the vocabulary row costs a resized vocabulary's
summary is derived from, ``weight_summary.stored_vocab_rows``) are shipped: the memory model's buffers depend on the
run's context and devices.
"""

from __future__ import annotations

import json

from . import summary_cache


def _catalog_shapes():
    """(architecture, quant types the ranking tries) of every built-in catalog entry."""
    from ..catalog import CATALOG_PATH, describe_entry, load_catalog
    from ..recommend import _model_types

    for e in load_catalog(str(CATALOG_PATH)):
        m = describe_entry(e)
        if m.arch is not None:
            yield m.arch, _model_types(m)[0]


def wanted_keys() -> set[str]:
    """The cache keys the seed may hold: every (shape, quant) summary, and the vocabulary row
    costs of those with a vocabulary family."""
    from .weight_summary import _disk_key, _register, vocab_family

    keys = set()
    for arch, types in _catalog_shapes():
        for q in types:
            k = _disk_key(_register(arch), q)
            keys.add(k)
            if vocab_family(arch) is not None:
                keys.add("r:" + k)
    return keys


def build() -> dict:
    """The seed document: every built-in (shape, quant) summary that can be made, encoded as the
    cache stores it (worked out afresh: the caller points SIZEUP_SUMMARY_CACHE at an empty file)."""
    from ..errors import SizeupError
    from .weight_summary import _disk_key, _register, predicted_summary, stored_vocab_rows, vocab_family

    keys = set()
    for arch, types in _catalog_shapes():
        for q in types:
            try:
                predicted_summary(arch, q)
            except SizeupError:
                continue  # a type this shape cannot take: the ranking skips it too
            key = _register(arch)
            keys.add(_disk_key(key, q))
            if vocab_family(arch) is not None:  # what a resized vocabulary of this shape derives from
                try:
                    stored_vocab_rows(key, q)
                    keys.add("r:" + _disk_key(key, q))
                except SizeupError:
                    pass
    entries = summary_cache.new_entries(set())
    return {"version": summary_cache._version(), "entries": {k: entries[k] for k in sorted(keys)}}


def write(path=None) -> int:
    """Build the seed and write it (compact, keys sorted: a rebuild with unchanged rules gives the
    same file). Returns the number of entries."""
    doc = build()
    (path or summary_cache.SEED_PATH).write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n")
    return len(doc["entries"])
