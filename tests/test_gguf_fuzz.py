"""Fuzzing read_gguf with mutated real headers: it must parse or raise BadModelFile, nothing else.

Mutations hit the real SmolLM2 header (49k-token vocabulary, merges, 272 tensors) and a small
big-endian synthetic file: truncation anywhere, random byte flips, and - most telling - huge or
odd values written over the exact offsets of counts, lengths, types and offsets. Those offsets are
found by a deliberately naive walker written here, independent of the reader under test.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFEndian, GGUFValueType, GGUFWriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizeup.errors import BadModelFile
from sizeup.formats.gguf_reader import GGUFFile, read_gguf

_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
HUGE = [0, 1, 2**7, 2**31, 2**32 - 1, 2**32, 2**40, 2**62, 2**63, 2**64 - 1, 16 * 1024 * 1024 + 1, 4097, 13, 9]


def field_offsets(data: bytes, order: str) -> tuple[list[int], int]:
    """Offsets of every count/length/type/offset field in a GGUF header, and the header size."""
    u32 = struct.Struct(order + "I").unpack_from
    u64 = struct.Struct(order + "Q").unpack_from
    fields = [8, 16]
    n_tensors, n_kv = u64(data, 8)[0], u64(data, 16)[0]
    p = 24

    def string(p: int, record: bool) -> int:
        if record:
            fields.append(p)
        return p + 8 + u64(data, p)[0]

    for _ in range(n_kv):
        p = string(p, True)
        fields.append(p)
        vtype = u32(data, p)[0]
        p += 4
        if vtype == 8:
            p = string(p, True)
        elif vtype == 9:
            fields.extend([p, p + 4])
            itype, count = u32(data, p)[0], u64(data, p + 4)[0]
            p += 12
            if itype == 8:
                for i in range(count):
                    p = string(p, i < 3 or i == count - 1)
            else:
                p += count * _FIXED[itype]
        else:
            p += _FIXED[vtype]
    for _ in range(n_tensors):
        p = string(p, True)
        n_dims = u32(data, p)[0]
        fields.extend(range(p, p + 4 + 8 * n_dims + 12, 4))
        p += 4 + 8 * n_dims + 12
    return fields, p


class Target:
    def __init__(self, path: Path, order: str) -> None:
        data = path.read_bytes() if path.stat().st_size < 1 << 22 else _read_head(path)
        self.size = path.stat().st_size
        self.fields, self.header_size = field_offsets(data, order)
        self.head = data[: self.header_size + 64]
        self.order = order


def _read_head(path: Path, n: int = 4 << 20) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


@pytest.fixture(scope="module")
def targets(smollm2_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    be = d / "be.gguf"
    w = GGUFWriter(be, "llama", endianess=GGUFEndian.BIG)
    w.add_key_value("llama.attention.head_count_kv", [4, 4, 2], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT32)
    w.add_key_value("tokenizer.ggml.tokens", [f"t{i}" for i in range(300)], GGUFValueType.ARRAY, sub_type=GGUFValueType.STRING)
    w.add_key_value("general.name", "fuzz", GGUFValueType.STRING)
    w.add_tensor("a", np.ones((2, 64), np.float32))
    w.add_tensor("b", np.ones((64,), np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return {"smollm2": Target(Path(smollm2_path), "<"), "big_endian": Target(be, ">")}, d


def test_field_walker_sees_real_fields(targets, smollm2_path):
    """Guards the fuzzer itself: its walk must end where the reader's does (same fields seen)."""
    t = targets[0]["smollm2"]
    assert len(t.fields) > 272 * 6
    assert t.header_size == read_gguf(smollm2_path).header_size


mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("field"), st.floats(0, 1), st.sampled_from(HUGE)),
    st.tuples(st.just("field_byte"), st.floats(0, 1), st.integers(0, 7), st.integers(0, 255)),
)


@settings(max_examples=150, deadline=3000, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["smollm2", "smollm2", "big_endian"]),
    mutations=st.lists(mutation, min_size=1, max_size=3),
    max_items=st.sampled_from([0, 4096, 100_000]),
)
def test_mutated_headers_parse_or_raise_bad_model_file(targets, which, mutations, max_items):
    t = targets[0][which]
    head = bytearray(t.head)
    size = t.size
    for m in mutations:
        if m[0] == "truncate":
            size = min(size, int(m[1] * (t.header_size + 64)))
        elif m[0] == "flip":
            head[int(m[1] * (len(head) - 1))] = m[2]
        elif m[0] == "field":
            off = t.fields[int(m[1] * (len(t.fields) - 1))]
            head[off : off + 8] = struct.pack(t.order + "Q", m[2])
        else:
            off = t.fields[int(m[1] * (len(t.fields) - 1))] + m[2]
            head[off] = m[3]
    path = targets[1] / f"mutant-{which}.gguf"
    with open(path, "wb") as f:
        f.write(head[:size])
    os.truncate(path, size)  # the tensor data region becomes a hole, as in the real file
    try:
        gf = read_gguf(path, max_array_items=max_items)
    except BadModelFile as e:
        assert "\n" not in str(e)
        return
    assert isinstance(gf, GGUFFile)
    for tensor in gf.tensors:
        assert gf.data_offset + tensor.offset + tensor.n_bytes <= gf.file_size
    assert gf.header_size <= gf.data_offset <= gf.header_size + gf.alignment


def test_unmutated_targets_parse(targets):
    for name, t in targets[0].items():
        path = targets[1] / f"clean-{name}.gguf"
        with open(path, "wb") as f:
            f.write(t.head[: t.header_size])
        os.truncate(path, t.size)
        gf = read_gguf(path)
        assert gf.header_size == t.header_size
