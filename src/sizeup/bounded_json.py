"""JSON from untrusted files, parsed only when its size in *values* is known to be sane.

A byte limit alone does not bound memory: 64 MiB of ``[{},{},...]`` is 21 million dicts, about
1.8 GB once materialized by :func:`json.loads`. Before parsing, :func:`bounded_json_loads` counts
an upper bound of the values the document can hold: every value after the first is introduced by
``,`` or by an opening ``[``/``{`` (``:`` only separates a key from its value, and a key+value
pair is counted once, at its ``,``). ``bytes.count`` runs at memory speed and allocates nothing,
so an oversized document is refused before a single object exists. Brackets and commas inside
strings are counted too, which can only over-count (refuse), never under-count.

Nesting depth is capped by the C scanner itself: it recurses once per level under the
interpreter's recursion limit (1,000), so ``[[[[...`` stops there; the RecursionError becomes a
:class:`BoundedJSONError` here instead of surfacing deep inside a reader.
"""

from __future__ import annotations

import json
from typing import Any

# Budgets scale with legitimate files: a safetensors header holds ~8 values per tensor (dtype,
# shape dims, two offsets) and real shards have at most a few thousand tensors; the largest
# index.json weight maps (671B models) have ~90k entries; config.json files have a few hundred.
DEFAULT_MAX_VALUES = 2_000_000
SAFETENSORS_HEADER_MAX_VALUES = 4_000_000  # ~400k tensors in one file; real shards hold < 5k


class BoundedJSONError(ValueError):
    """The document has more values or deeper nesting than the caller's budget."""


def value_bound(raw: bytes | str) -> int:
    """An upper bound of the number of JSON values in ``raw`` (no parsing, no allocation)."""
    if isinstance(raw, str):
        return raw.count(",") + raw.count("[") + raw.count("{") + 1
    return raw.count(b",") + raw.count(b"[") + raw.count(b"{") + 1


def bounded_json_loads(raw: bytes | str, *, max_values: int = DEFAULT_MAX_VALUES) -> Any:
    """``json.loads(raw)`` when ``raw`` holds at most ``max_values`` values.

    Raises :class:`BoundedJSONError` (a ValueError) over budget, and ValueError/UnicodeDecodeError
    for malformed JSON, like :func:`json.loads`.
    """
    n = value_bound(raw)
    if n > max_values:
        raise BoundedJSONError(f"more than {max_values:,} JSON values")
    try:
        return json.loads(raw)
    except RecursionError:
        raise BoundedJSONError("nested too deeply") from None
