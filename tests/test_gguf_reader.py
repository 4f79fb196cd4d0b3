"""sizeup's GGUF header reader against gguf-py's reader, real models, synthetic and broken files."""

from __future__ import annotations

import importlib.util
import os
import random
import struct
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFEndian, GGUFReader, GGUFValueType, GGUFWriter

from sizeup.errors import BadModelFile, NotFound
from sizeup.formats.gguf_reader import (
    GGUFArray,
    GGUFFile,
    is_gguf,
    read_gguf,
    read_gguf_model,
)
from sizeup.model import TensorInfo

MALFORMED = Path(__file__).parent / "malformed"


def _load_corpus():
    spec = importlib.util.spec_from_file_location("make_corpus", MALFORMED / "make_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader
    spec.loader.exec_module(mod)
    return mod


corpus = _load_corpus()


# --- oracle: gguf-py's GGUFReader ----------------------------------------------------------


def assert_matches_oracle(ours: GGUFFile, ref: GGUFReader) -> None:
    """Every key, value (or array length), tensor and offset agrees with gguf-py's reader."""
    keys = [k for k in ref.fields if not k.startswith("GGUF.")]
    assert list(ours.kv) == keys
    for key in keys:
        f = ref.fields[key]
        value = ours.kv[key]
        assert ours.kv_types[key][0] == int(f.types[0]), key
        if isinstance(value, GGUFArray):
            assert value.count == len(f.data), key
            assert value.item_type == int(f.types[-1]), key
        elif f.types[0] == GGUFValueType.ARRAY:
            assert value == f.contents(), key
            assert ours.kv_types[key] == (int(GGUFValueType.ARRAY), int(f.types[-1])), key
        else:
            assert value == f.contents(), key
            assert type(value) is type(f.contents()), key
    assert ours.data_offset == ref.data_offset
    assert ours.alignment == ref.alignment
    assert ours.byte_order == ("little" if ref.endianess == GGUFEndian.LITTLE else "big")
    assert len(ours.tensors) == len(ref.tensors)
    for t, r in zip(ours.tensors, ref.tensors):
        assert t.name == r.name
        assert t.shape == tuple(int(d) for d in r.shape)
        assert t.type_id == int(r.tensor_type)
        assert t.type_name == r.tensor_type.name
        assert ours.data_offset + t.offset == r.data_offset
        assert t.n_elements == r.n_elements
        assert t.n_bytes == r.n_bytes


@pytest.fixture(scope="module")
def smollm2_oracle(smollm2_path):
    return GGUFReader(smollm2_path)


@pytest.fixture(scope="module")
def gemma3_oracle(gemma3_path):
    return GGUFReader(gemma3_path)  # slow (tens of seconds): once per module


def test_smollm2_matches_gguf_py(smollm2_path, smollm2_oracle):
    gf = read_gguf(smollm2_path)
    assert_matches_oracle(gf, smollm2_oracle)
    assert gf.version == 3 and gf.byte_order == "little"
    assert gf.kv["general.architecture"] == "llama"
    assert gf.kv["tokenizer.ggml.tokens"] == GGUFArray(int(GGUFValueType.STRING), 49152)
    assert gf.kv["tokenizer.ggml.merges"].count == len(smollm2_oracle.fields["tokenizer.ggml.merges"].data)
    assert gf.file_size == os.path.getsize(smollm2_path)


def test_gemma3_matches_gguf_py(gemma3_path, gemma3_oracle):
    gf = read_gguf(gemma3_path)
    assert_matches_oracle(gf, gemma3_oracle)
    assert gf.kv["tokenizer.ggml.tokens"].count == 262144
    assert gf.kv["tokenizer.ggml.scores"] == GGUFArray(int(GGUFValueType.FLOAT32), 262144)


def test_materialized_vocabulary_matches_gguf_py(smollm2_path, smollm2_oracle):
    """With a high item limit the whole vocabulary is decoded, identical to gguf-py's."""
    gf = read_gguf(smollm2_path, max_array_items=100_000)
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"):
        assert gf.kv[key] == smollm2_oracle.fields[key].contents(), key


def test_tensor_infos_are_model_tensors(smollm2_path, smollm2_oracle):
    infos = read_gguf(smollm2_path).tensor_infos()
    assert all(isinstance(t, TensorInfo) for t in infos)
    assert [t.offset for t in infos] == [r.data_offset for r in smollm2_oracle.tensors]
    assert sum(t.n_elements for t in infos) == sum(r.n_elements for r in smollm2_oracle.tensors)


# --- synthetic files written with gguf-py -----------------------------------------------------

SCALARS = [
    ("x.u8", GGUFValueType.UINT8, 200), ("x.i8", GGUFValueType.INT8, -100),
    ("x.u16", GGUFValueType.UINT16, 60000), ("x.i16", GGUFValueType.INT16, -30000),
    ("x.u32", GGUFValueType.UINT32, 4_000_000_000), ("x.i32", GGUFValueType.INT32, -2_000_000_000),
    ("x.f32", GGUFValueType.FLOAT32, 0.1), ("x.bool", GGUFValueType.BOOL, True),
    ("x.u64", GGUFValueType.UINT64, 2**64 - 1), ("x.i64", GGUFValueType.INT64, -(2**63)),
    ("x.f64", GGUFValueType.FLOAT64, 0.1), ("x.str", GGUFValueType.STRING, "héllo \u2603"),
]


def write_synthetic(path: Path, endian: GGUFEndian = GGUFEndian.LITTLE, extra=None) -> None:
    w = GGUFWriter(path, "llama", endianess=endian)
    for key, vtype, value in SCALARS:
        w.add_key_value(key, value, vtype)
    w.add_key_value("x.arr_i16", [1, -2, 3], GGUFValueType.ARRAY, sub_type=GGUFValueType.INT16)
    w.add_key_value("x.arr_f32", [0.5, 1.5], GGUFValueType.ARRAY, sub_type=GGUFValueType.FLOAT32)
    w.add_key_value("x.arr_bool", [True, False, True], GGUFValueType.ARRAY, sub_type=GGUFValueType.BOOL)
    w.add_key_value("x.arr_str", ["a", "", "ccc"], GGUFValueType.ARRAY, sub_type=GGUFValueType.STRING)
    w.add_key_value("llama.attention.head_count_kv", [8] * 5 + [2] * 5, GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT32)
    w.add_key_value("x.big_u32", list(range(5000)), GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT32)
    w.add_key_value("x.big_str", [f"tok{i}" for i in range(5000)], GGUFValueType.ARRAY, sub_type=GGUFValueType.STRING)
    if extra:
        extra(w)
    w.add_tensor("token_embd.weight", np.ones((4, 64), np.float32))
    w.add_tensor("blk.0.attn_q.weight", np.ones((8, 32), np.float16))
    # Quantized tensors are given as raw bytes: 4 rows of 2 blocks.
    w.add_tensor("blk.0.ffn_up.weight", np.zeros((4, 2 * 18), np.uint8), raw_dtype=GGMLQuantizationType.Q4_0)
    w.add_tensor("blk.0.ffn_down.weight", np.zeros((3, 144), np.uint8), raw_dtype=GGMLQuantizationType.Q4_K)
    w.add_tensor("output_norm.weight", np.ones((7,), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


EXPECTED_TENSORS = [
    ("token_embd.weight", (64, 4), "F32", 256, 1024),
    ("blk.0.attn_q.weight", (32, 8), "F16", 256, 512),
    ("blk.0.ffn_up.weight", (64, 4), "Q4_0", 256, 144),
    ("blk.0.ffn_down.weight", (256, 3), "Q4_K", 768, 432),
    ("output_norm.weight", (7,), "F32", 7, 28),
]


@pytest.mark.parametrize("endian", [GGUFEndian.LITTLE, GGUFEndian.BIG], ids=["little", "big"])
def test_synthetic_every_value_type(tmp_path, endian):
    path = tmp_path / "synthetic.gguf"
    write_synthetic(path, endian)
    gf = read_gguf(path)
    assert_matches_oracle(gf, GGUFReader(path))
    assert gf.byte_order == ("little" if endian == GGUFEndian.LITTLE else "big")
    for key, vtype, value in SCALARS:
        expected = struct.unpack("<f", struct.pack("<f", value))[0] if vtype == GGUFValueType.FLOAT32 else value
        assert gf.kv[key] == expected, key
        assert gf.kv_types[key] == (int(vtype),)
    assert gf.kv["x.arr_i16"] == [1, -2, 3]
    assert gf.kv["x.arr_f32"] == [0.5, 1.5]
    assert gf.kv["x.arr_bool"] == [True, False, True]
    assert gf.kv["x.arr_str"] == ["a", "", "ccc"]
    assert gf.kv["llama.attention.head_count_kv"] == [8] * 5 + [2] * 5
    assert gf.kv["x.big_u32"] == GGUFArray(int(GGUFValueType.UINT32), 5000)
    assert gf.kv["x.big_str"] == GGUFArray(int(GGUFValueType.STRING), 5000)
    got = [(t.name, t.shape, t.type_name, t.n_elements, t.n_bytes) for t in gf.tensors]
    assert got == EXPECTED_TENSORS
    assert all(t.offset % 32 == 0 for t in gf.tensors)


def test_version_2_reads_like_version_3(tmp_path):
    path = tmp_path / "v3.gguf"
    write_synthetic(path)
    v3 = read_gguf(path)
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", 2)
    v2_path = tmp_path / "v2.gguf"
    v2_path.write_bytes(data)
    v2 = read_gguf(v2_path)
    assert v2.version == 2 and v3.version == 3
    assert v2.kv == v3.kv and v2.tensors == v3.tensors and v2.data_offset == v3.data_offset


def test_big_endian_version_2(tmp_path):
    path = tmp_path / "be.gguf"
    write_synthetic(path, GGUFEndian.BIG)
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack(">I", 2)
    path.write_bytes(data)
    gf = read_gguf(path)
    assert (gf.version, gf.byte_order) == (2, "big")
    assert gf.kv["x.u64"] == 2**64 - 1


def test_max_array_items_boundary(tmp_path):
    path = tmp_path / "synthetic.gguf"
    write_synthetic(path)
    at = read_gguf(path, max_array_items=5000)
    assert at.kv["x.big_u32"] == list(range(5000))
    assert at.kv["x.big_str"] == [f"tok{i}" for i in range(5000)]
    below = read_gguf(path, max_array_items=4999)
    assert below.kv["x.big_u32"] == GGUFArray(int(GGUFValueType.UINT32), 5000)
    none = read_gguf(path, max_array_items=0)
    assert none.kv["x.arr_i16"] == GGUFArray(int(GGUFValueType.INT16), 3)
    assert none.kv["x.u8"] == 200  # scalars are always read


def test_custom_alignment(tmp_path):
    path = tmp_path / "aligned.gguf"
    write_synthetic(path, extra=lambda w: w.add_custom_alignment(64))
    gf = read_gguf(path)
    assert gf.alignment == 64
    assert_matches_oracle(gf, GGUFReader(path))


def test_utf8_errors_replaced(tmp_path):
    path = tmp_path / "bad_utf8.gguf"
    write_synthetic(path, extra=lambda w: w.add_key_value("x.raw", b"ok\xff\xfe", GGUFValueType.STRING))
    assert read_gguf(path).kv["x.raw"] == "ok\ufffd\ufffd"


# --- the vectorized string-array walk ---------------------------------------------------------


def tricky_strings(n: int, seed: int) -> list[bytes]:
    """Strings that stress the walk: empty, 255/256/long lengths, bytes that look like lengths."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.02:
            out.append(b"")
        elif r < 0.03:
            out.append(bytes([rng.randrange(1, 256)]) + b"\0" * 7 + b"x" * rng.randrange(0, 9))  # a fake length field
        elif r < 0.035:
            out.append(b"y" * rng.choice([255, 256, 257, 300, 70_000]))
        elif r < 0.05:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))))
        else:
            out.append(f"tok{i}".encode() * rng.randrange(1, 4))
    return out


@pytest.mark.parametrize("big_endian", [False, True], ids=["little", "big"])
def test_short_length_field_finder_matches_its_definition(big_endian):
    """The branch-free hit finder equals the plain definition, also where hits crowd together."""
    from sizeup.formats.gguf_reader import _short_length_fields

    rng = np.random.default_rng(5)
    # Vocabulary-like bytes with zero runs of random length: hits of every kind, some crowded
    # several to a word (the slow path), but not so many that the finder declines.
    a = rng.integers(1, 256, 60_000).astype(np.uint8)
    for start in range(0, len(a) - 20, 24):  # runs 24 bytes apart never merge
        if rng.random() < 0.6:
            a[start : start + rng.choice([6, 7, 7, 7, 7, 7, 8, 9])] = 0
    v = np.array([int.from_bytes(a[i : i + 8].tobytes(), "big" if big_endian else "little") for i in range(len(a) - 7)])
    want = np.flatnonzero(v < 256)
    found = _short_length_fields(np, a, big_endian)
    assert found is not None
    c, nxt = found
    assert len(c) > 1000
    assert c.tolist() == want.tolist()
    assert nxt.tolist() == (want + 8 + v[want]).tolist()
    # A run of zeros is hits everywhere: not a string array, the finder declines.
    assert _short_length_fields(np, np.zeros(20_000, np.uint8), big_endian) is None


def write_string_array(path: Path, items: list[bytes], endian=GGUFEndian.LITTLE) -> None:
    w = GGUFWriter(path, "llama", endianess=endian)
    w.add_key_value("tokenizer.ggml.tokens", items, GGUFValueType.ARRAY, sub_type=GGUFValueType.STRING)
    w.add_key_value("x.after", 12345, GGUFValueType.UINT32)
    w.add_tensor("t", np.ones((32,), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.parametrize("endian", [GGUFEndian.LITTLE, GGUFEndian.BIG], ids=["little", "big"])
def test_large_string_array_skipped_exactly(tmp_path, endian):
    items = tricky_strings(60_000 if endian == GGUFEndian.LITTLE else 20_000, seed=7)
    path = tmp_path / "vocab.gguf"
    write_string_array(path, items, endian)
    skipped = read_gguf(path)
    assert skipped.kv["tokenizer.ggml.tokens"] == GGUFArray(int(GGUFValueType.STRING), len(items))
    assert skipped.kv["x.after"] == 12345
    assert skipped.tensors[0].name == "t"
    full = read_gguf(path, max_array_items=len(items))
    assert full.kv["tokenizer.ggml.tokens"] == [b.decode("utf-8", errors="replace") for b in items]
    assert full.data_offset == skipped.data_offset


def test_string_array_of_only_fake_length_fields(tmp_path):
    """Adversarial content (every string full of zero bytes) still walks exactly, just slower."""
    items = [b"\x08" + b"\0" * 7 + b"\x01" + b"\0" * 7] * 20_000 + [b"\0" * 8] * 20_000
    path = tmp_path / "zeros.gguf"
    write_string_array(path, items)
    gf = read_gguf(path)
    assert gf.kv["x.after"] == 12345
    assert gf.kv["tokenizer.ggml.tokens"].count == 40_000


def test_truncated_inside_large_string_array(tmp_path):
    items = tricky_strings(40_000, seed=3)
    path = tmp_path / "vocab.gguf"
    write_string_array(path, items)
    data = path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadModelFile, match="truncated"):
        read_gguf(cut)


def test_huge_length_inside_large_string_array(tmp_path):
    items = [b"abc"] * 30_000
    path = tmp_path / "vocab.gguf"
    write_string_array(path, items)
    data = bytearray(path.read_bytes())
    first = data.index(b"\x03\0\0\0\0\0\0\0abc")
    data[first + 11 * 20_000 : first + 11 * 20_000 + 8] = struct.pack("<Q", 2**62)
    path.write_bytes(data)
    with pytest.raises(BadModelFile):
        read_gguf(path)


# --- split models -----------------------------------------------------------------------------


def write_split_with_gguf_py(directory: Path) -> list[Path]:
    w = GGUFWriter(directory / "model.gguf", "llama", split_max_tensors=2)
    w.add_key_value("llama.block_count", 3, GGUFValueType.UINT32)
    for i in range(5):
        w.add_tensor(f"blk.{i}.w", np.full((4, 32), i, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return [directory / f"model-{i:05d}-of-00003.gguf" for i in range(1, 4)]


def test_split_model_from_any_part(tmp_path):
    parts = write_split_with_gguf_py(tmp_path)
    assert all(p.is_file() for p in parts)
    for p in parts:
        files = read_gguf_model(p)
        assert [Path(f.path).name for f in files] == [q.name for q in parts]
        assert [t.name for f in files for t in f.tensors] == [f"blk.{i}.w" for i in range(5)]
        assert [f.kv["split.no"] for f in files] == [0, 1, 2]
    assert files[0].kv["llama.block_count"] == 3


def test_split_model_missing_part(tmp_path):
    parts = write_split_with_gguf_py(tmp_path)
    parts[1].unlink()
    with pytest.raises(BadModelFile, match="missing 1 of 3 parts: model-00002-of-00003.gguf"):
        read_gguf_model(parts[0])
    parts[2].unlink()
    with pytest.raises(BadModelFile, match="missing 2 of 3 parts: model-00002-of-00003.gguf, model-00003-of-00003.gguf"):
        read_gguf_model(parts[0])


def _write_part(path: Path, no: int | None, count: int, tensors_count: int, names: list[str]) -> None:
    w = GGUFWriter(path, "llama")
    if no is not None:
        w.add_key_value("split.no", no, GGUFValueType.UINT16)
    w.add_key_value("split.count", count, GGUFValueType.UINT16)
    w.add_key_value("split.tensors.count", tensors_count, GGUFValueType.INT32)
    for n in names:
        w.add_tensor(n, np.ones((32,), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_hand_written_split_parts(tmp_path):
    names = [["a", "b"], ["c"], ["d", "e"]]
    for i, ns in enumerate(names):
        _write_part(tmp_path / f"m-{i + 1:05d}-of-00003.gguf", i, 3, 5, ns)
    files = read_gguf_model(tmp_path / "m-00003-of-00003.gguf")
    assert [len(f.tensors) for f in files] == [2, 1, 2]


@pytest.mark.parametrize(
    "case, problem",
    [
        ("wrong_no", "split.no is 2, expected 1"),
        ("wrong_total", "split.tensors.count is 6 but the 3 parts hold 5 tensors"),
        ("dup_tensor", "tensor 'a' also appears in"),
        ("bad_name", "file name does not follow"),
        ("count_mismatch", "split.count is 4"),
    ],
)
def test_inconsistent_split_parts(tmp_path, case, problem):
    names = [["a", "b"], ["c"], ["d", "e"]]
    for i, ns in enumerate(names):
        no = 2 if case == "wrong_no" and i == 1 else i
        total = 6 if case == "wrong_total" else 5
        count = 4 if case == "count_mismatch" and i == 2 else 3
        if case == "dup_tensor" and i == 2:
            ns = ["a", "e"]
        _write_part(tmp_path / f"m-{i + 1:05d}-of-00003.gguf", no, count, total, ns)
    first = tmp_path / "m-00001-of-00003.gguf"
    if case == "bad_name":
        first = first.rename(tmp_path / "m.gguf")
    with pytest.raises(BadModelFile, match=problem):
        read_gguf_model(first)


def test_single_file_model(smollm2_path):
    files = read_gguf_model(smollm2_path)
    assert len(files) == 1 and files[0].path == str(smollm2_path)


# --- sparse 100 GB file -----------------------------------------------------------------------


def write_sparse_100gb(path: Path) -> int:
    """Header of a 50 x 2 GiB F16 model, the data region a hole; returns the apparent size."""
    w = GGUFWriter(path, "llama")
    w.add_key_value("llama.block_count", 50, GGUFValueType.UINT32)
    nbytes = 32768 * 32768 * 2
    for i in range(50):
        w.add_tensor_info(f"blk.{i}.ffn_up.weight", (32768, 32768), np.dtype(np.float16), nbytes)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    size = GGUFWriter.ggml_pad(path.stat().st_size, 32) + 50 * nbytes
    os.truncate(path, size)
    return size


def test_sparse_100gb_file(tmp_path):
    path = tmp_path / "huge.gguf"
    size = write_sparse_100gb(path)
    if path.stat().st_blocks * 512 > 1 << 30:  # platform condition: no sparse files here
        path.unlink()
        pytest.skip("filesystem does not support sparse files")
    tracemalloc.start()
    try:
        gf = read_gguf(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert gf.file_size == size > 100 * 10**9
    assert len(gf.tensors) == 50
    assert sum(t.n_bytes for t in gf.tensors) == 50 * 2**31
    assert gf.tensors[-1].shape == (32768, 32768)
    assert peak < 4 << 20  # the data region is never read: memory stays at header size
    os.truncate(path, size - 1)
    with pytest.raises(BadModelFile, match="truncated: tensor 'blk.49.ffn_up.weight'"):
        read_gguf(path)


# --- malformed corpus and odd paths -----------------------------------------------------------


def test_corpus_files_match_generator():
    for name, (build, _) in corpus.CASES.items():
        assert (MALFORMED / name).read_bytes() == build(), f"{name}: rerun tests/malformed/make_corpus.py"
    for name, build in corpus.CONTROLS.items():
        assert (MALFORMED / name).read_bytes() == build(), name


@pytest.mark.parametrize("name", sorted(corpus.CONTROLS))
def test_corpus_controls_are_valid(name):
    gf = read_gguf(MALFORMED / name)
    ref = GGUFReader(MALFORMED / name)
    assert_matches_oracle(gf, ref)


@pytest.mark.parametrize("name", sorted(corpus.CASES))
def test_malformed_file_rejected_with_reason(name):
    fragment = corpus.CASES[name][1]
    start = time.monotonic()
    with pytest.raises(BadModelFile) as exc:
        read_gguf(MALFORMED / name)
    assert time.monotonic() - start < 5  # a hang guard, not a speed target
    message = str(exc.value)
    assert fragment in message
    assert "\n" not in message and message.startswith(str(MALFORMED / name))


def test_interrupted_download_of_real_model(smollm2_path, tmp_path):
    """The header is complete but the data stops short: named as truncated, with the tensor."""
    with open(smollm2_path, "rb") as f:
        head = f.read(3 << 20)
    part = tmp_path / "SmolLM2.gguf.part"
    part.write_bytes(head)
    with pytest.raises(BadModelFile, match=r"truncated: tensor '[^']+' data ends at byte \d+ but the file has only 3145728 bytes"):
        read_gguf(part)


def test_directory_is_rejected(tmp_path):
    with pytest.raises(BadModelFile, match="is a directory"):
        read_gguf(tmp_path)
    assert not is_gguf(tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(NotFound):
        read_gguf(tmp_path / "nope.gguf")
    assert not is_gguf(tmp_path / "nope.gguf")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_rejected_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    with pytest.raises(BadModelFile, match="not a regular file"):
        read_gguf(fifo)
    assert not is_gguf(fifo)


def test_is_gguf(smollm2_path, tmp_path):
    assert is_gguf(smollm2_path)
    assert is_gguf(MALFORMED / "version1.gguf")  # magic only: the rest is read_gguf's job
    assert not is_gguf(MALFORMED / "empty.gguf")
    assert not is_gguf(MALFORMED / "wrong_magic.gguf")


def test_split_part_with_byte_split_name_is_not_treated_as_split(tmp_path):
    """A file named like a part but without split.* keys is just a file."""
    p = tmp_path / "x-00001-of-00002.gguf"
    p.write_bytes(corpus.valid())
    assert len(read_gguf_model(p)) == 1


def test_module_imports_no_numpy_for_small_files():
    """Small headers must not pay numpy's import time (CLI start-up)."""
    import subprocess

    code = (
        "import sys; from sizeup.formats.gguf_reader import read_gguf; "
        f"read_gguf({str(MALFORMED / 'valid_minimal.gguf')!r}); print('numpy' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


def test_error_quoting_a_hostile_key_is_one_line(tmp_path):
    """A key with a newline and ESC in it, then an unknown value type: the error quotes the key,
    and must stay one printable line (found by the header fuzzer)."""
    import struct

    from sizeup.errors import BadModelFile
    from sizeup.formats.gguf_reader import read_gguf

    key = b"general.license\n\x1b]0;pwn\x07"
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<I", 1728053248)
    p = tmp_path / "hostile-key.gguf"
    p.write_bytes(data + b"\0" * 64)
    with pytest.raises(BadModelFile) as e:
        read_gguf(p)
    msg = str(e.value)
    assert "\n" not in msg and "\x1b" not in msg and "\\n" in msg and "unknown value type" in msg
