"""Property tests of the safetensors header parser: any input either parses into a header whose
invariants hold or raises BadModelFile - never another exception, hang or huge allocation."""

from __future__ import annotations

import json
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizeup.errors import BadModelFile
from sizeup.formats.safetensors import DTYPE_BITS, parse_header

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(blob: bytes, file_size: int) -> None:
    try:
        h = parse_header(blob, file_size)
    except BadModelFile as e:
        assert "\n" not in str(e)
        return
    data_start = h.data_start
    spans = []
    for t in h.tensors:
        assert t.dtype in DTYPE_BITS
        assert data_start <= t.offset and t.offset + t.n_bytes <= file_size
        assert all(d >= 0 for d in t.shape)
        assert t.n_elements * DTYPE_BITS[t.dtype] == 8 * t.n_bytes
        spans.append((t.offset, t.offset + t.n_bytes))
    spans = sorted(s for s in spans if s[0] != s[1])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


@FAST
@given(st.binary(max_size=300), st.integers(0, 2**20))
def test_random_bytes(data: bytes, extra: int):
    check(data, len(data) + extra)


@FAST
@given(st.binary(max_size=200), st.integers(0, 2**64 - 1), st.integers(0, 2**20))
def test_random_length_prefix(body: bytes, length: int, extra: int):
    blob = struct.pack("<Q", length) + body
    check(blob, len(blob) + extra)


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=8))
dims = st.lists(st.one_of(st.integers(-3, 40), st.integers(0, 2**50), json_scalar), max_size=5)
entry = st.fixed_dictionaries(
    {},
    optional={
        "dtype": st.one_of(st.sampled_from(sorted(DTYPE_BITS)), st.text(max_size=6), json_scalar),
        "shape": st.one_of(dims, json_scalar),
        "data_offsets": st.one_of(st.lists(st.one_of(st.integers(-5, 600), json_scalar), max_size=3), json_scalar),
    },
)
headers = st.dictionaries(
    st.one_of(st.text(max_size=10), st.just("__metadata__")),
    st.one_of(entry, json_scalar, st.dictionaries(st.text(max_size=4), st.one_of(st.text(max_size=4), json_scalar), max_size=3)),
    max_size=6,
)


@FAST
@given(headers, st.integers(0, 600))
def test_structured_headers(header: dict, data_size: int):
    raw = json.dumps(header).encode()
    blob = struct.pack("<Q", len(raw)) + raw
    check(blob, len(blob) + data_size)


@FAST
@given(st.lists(st.tuples(st.sampled_from(["F32", "F16", "U8", "F4", "F6_E2M3"]), st.lists(st.integers(0, 9), max_size=3)), max_size=6),
       st.integers(-3, 3))
def test_valid_layouts_parse(specs, skew: int):
    """Well-formed contiguous layouts parse exactly; a skewed final size is rejected cleanly."""
    header, offset = {}, 0
    for i, (dtype, shape) in enumerate(specs):
        n = 1
        for d in shape:
            n *= d
        nbits = n * DTYPE_BITS[dtype]
        if nbits % 8:
            continue
        header[f"t{i}"] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbits // 8]}
        offset += nbits // 8
    raw = json.dumps(header).encode()
    blob = struct.pack("<Q", len(raw)) + raw
    if skew >= 0:
        h = parse_header(blob, len(blob) + offset + skew)
        assert len(h.tensors) == len(header)
    else:
        check(blob, len(blob) + offset + skew)
