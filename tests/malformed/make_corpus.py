"""Generate the malformed-GGUF corpus in this folder: ``python3 tests/malformed/make_corpus.py``.

Every file is a small, valid GGUF (``valid_minimal.gguf``) with exactly one thing broken, written
byte by byte here rather than with gguf-py's writer, which refuses to write most of these. Each
case also names a fragment of the one-line error sizeup must give, so the tests check that the
reader rejects the file *for the right reason*. ``tests/test_gguf_reader.py`` regenerates every
case and compares it to the committed file, so the files and this script cannot drift apart.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent

# GGUF value types and a few ggml tensor types (ggml/include/gguf.h, ggml.h).
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
GGML_F32, GGML_Q4_0 = 0, 2


class G:
    """Byte-level GGUF builder; ``o`` is the struct byte-order prefix ("<" or ">")."""

    def __init__(self, o: str = "<") -> None:
        self.o = o

    def u32(self, x: int) -> bytes:
        return struct.pack(self.o + "I", x)

    def u64(self, x: int) -> bytes:
        return struct.pack(self.o + "Q", x)

    def s(self, x: str | bytes, n: int | None = None) -> bytes:
        b = x.encode() if isinstance(x, str) else x
        return self.u64(len(b) if n is None else n) + b

    def kv(self, key: str, vtype: int, payload: bytes) -> bytes:
        return self.s(key) + self.u32(vtype) + payload

    def kv_str(self, key: str, value: str) -> bytes:
        return self.kv(key, STR, self.s(value))

    def kv_u32(self, key: str, value: int) -> bytes:
        return self.kv(key, U32, self.u32(value))

    def tinfo(self, name: str | bytes, dims: list[int], type_id: int, offset: int, n_dims: int | None = None, name_len: int | None = None) -> bytes:
        out = self.s(name, name_len) + self.u32(len(dims) if n_dims is None else n_dims)
        out += b"".join(self.u64(d) for d in dims)
        return out + self.u32(type_id) + self.u64(offset)

    def file(
        self, kvs: list[bytes], tinfos: list[bytes], data_size: int, *, version: int = 3,
        n_tensors: int | None = None, n_kv: int | None = None, alignment: int = 32,
    ) -> bytes:
        head = b"GGUF" + self.u32(version) + self.u64(len(tinfos) if n_tensors is None else n_tensors)
        head += self.u64(len(kvs) if n_kv is None else n_kv) + b"".join(kvs) + b"".join(tinfos)
        head += b"\0" * (-len(head) % alignment)
        return head + b"\x01" * data_size


ARCH = "general.architecture"


def valid(o: str = "<", **kw) -> bytes:
    """The control: one key, one 32-element F32 tensor (128 bytes of data)."""
    g = G(o)
    return g.file([g.kv_str(ARCH, "llama")], [g.tinfo("token_embd.weight", [32], GGML_F32, 0)], 128, **kw)


def _one_tensor(dims: list[int], type_id: int, offset: int = 0, data: int = 128, **kw) -> bytes:
    g = G()
    return g.file([g.kv_str(ARCH, "llama")], [g.tinfo("t", dims, type_id, offset, **kw)], data)


def _with_kv(*kvs: bytes, data: int = 128) -> bytes:
    g = G()
    return g.file([g.kv_str(ARCH, "llama"), *kvs], [g.tinfo("t", [32], GGML_F32, 0)], data)


g = G()
gb = G(">")

# name -> (bytes, fragment of the expected error message)
CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty.gguf": (lambda: b"", "empty file"),
    "short.gguf": (lambda: b"GG", "only 2 bytes"),
    "wrong_magic.gguf": (lambda: b"GGML" + valid()[4:], "not a GGUF file"),
    "lfs_pointer.gguf": (lambda: b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n", "Git LFS pointer"),
    "html_page.gguf": (lambda: b"<!DOCTYPE html><html><body>404</body></html>", "HTML page"),
    "legacy_ggjt.gguf": (lambda: b"tjgg" + b"\0" * 60, "legacy GGJT"),
    "magic_only.gguf": (lambda: b"GGUF", "truncated"),
    "counts_truncated.gguf": (lambda: valid()[:14], "truncated"),
    "version1.gguf": (lambda: valid(version=1), "GGUF v1"),
    "version4.gguf": (lambda: valid(version=4), "unsupported GGUF version 4"),
    "version_zero.gguf": (lambda: valid(version=0), "unsupported GGUF version"),
    "tensor_count_huge.gguf": (lambda: valid(n_tensors=2**60), "tensors (limit"),
    "kv_count_huge.gguf": (lambda: valid(n_kv=2**63), "metadata entries (limit"),
    "counts_exceed_file.gguf": (lambda: valid(n_kv=5000), "but the file has only"),
    "key_length_huge.gguf": (lambda: g.file([g.s(ARCH, 2**62) + g.u32(STR)], [], 0), "limit"),
    "key_past_eof.gguf": (lambda: g.file([g.s(ARCH, 4000)], [], 0), "truncated"),
    "string_value_past_eof.gguf": (lambda: _with_kv(g.kv("general.name", STR, g.s("x", 10_000)), data=0), "truncated"),
    "string_value_huge.gguf": (lambda: _with_kv(g.kv("general.name", STR, g.s("x", 2**63))), "limit"),
    "unknown_value_type.gguf": (lambda: _with_kv(g.kv("general.odd", 13, g.u32(0))), "unknown value type 13"),
    "value_type_huge.gguf": (lambda: _with_kv(g.kv("general.odd", 0xFFFFFFFF, b"")), "unknown value type"),
    "array_of_arrays.gguf": (lambda: _with_kv(g.kv("x.nested", ARR, g.u32(ARR) + g.u64(1) + g.u32(U8) + g.u64(1) + b"\1")), "array of arrays"),
    "array_unknown_item_type.gguf": (lambda: _with_kv(g.kv("x.arr", ARR, g.u32(77) + g.u64(1) + b"\0" * 8)), "unknown item type 77"),
    "array_count_huge.gguf": (lambda: _with_kv(g.kv("x.arr", ARR, g.u32(U32) + g.u64(2**40))), "items (limit"),
    "array_count_past_eof.gguf": (lambda: _with_kv(g.kv("x.arr", ARR, g.u32(U32) + g.u64(1_000_000))), "only"),
    "string_array_count_past_eof.gguf": (lambda: _with_kv(g.kv("x.arr", ARR, g.u32(STR) + g.u64(100_000))), "only"),
    "string_array_item_past_eof.gguf": (
        lambda: _with_kv(g.kv("x.arr", ARR, g.u32(STR) + g.u64(3) + g.s("a") + g.s("b", 1 << 40) + g.s("c")), data=0), "limit"),
    "duplicate_key.gguf": (lambda: _with_kv(g.kv_str(ARCH, "qwen2")), "duplicate metadata key 'general.architecture'"),
    "alignment_not_power_of_two.gguf": (lambda: _with_kv(g.kv_u32("general.alignment", 48)), "not a power of two"),
    "alignment_zero.gguf": (lambda: _with_kv(g.kv_u32("general.alignment", 0)), "not a power of two"),
    "alignment_wrong_type.gguf": (lambda: _with_kv(g.kv("general.alignment", U64, g.u64(32))), "must be a u32"),
    "n_dims_huge.gguf": (lambda: _one_tensor([32], GGML_F32, n_dims=99), "99 dimensions"),
    "n_dims_max_u32.gguf": (lambda: _one_tensor([32], GGML_F32, n_dims=0xFFFFFFFF), "dimensions (limit"),
    "dim_huge.gguf": (lambda: _one_tensor([32, 2**50], GGML_F32), "a dimension of"),
    "dims_product_overflow.gguf": (lambda: _one_tensor([2**40, 2**40, 2**40], GGML_F32), "more than 2^63 elements"),
    "ggml_type_removed.gguf": (lambda: _one_tensor([32], 4), "unknown ggml type id 4"),
    "ggml_type_huge.gguf": (lambda: _one_tensor([32], 0xFFFFFFFF), "unknown ggml type id"),
    "row_not_block_multiple.gguf": (lambda: _one_tensor([33, 2], GGML_Q4_0), "not a multiple of its block size 32"),
    "misaligned_offset.gguf": (lambda: _one_tensor([4], GGML_F32, offset=16), "not a multiple of the alignment 32"),
    "tensor_offset_huge.gguf": (lambda: _one_tensor([32], GGML_F32, offset=2**63), "truncated"),
    "tensor_data_past_eof.gguf": (lambda: _one_tensor([32], GGML_F32, data=100), "truncated: tensor 't'"),
    "tensor_name_too_long.gguf": (lambda: g.file([], [g.tinfo("n" * 5000, [32], GGML_F32, 0)], 128), "limit 4096"),
    "tensor_name_length_huge.gguf": (lambda: g.file([], [g.tinfo("t", [32], GGML_F32, 0, name_len=2**63)], 128), "limit"),
    "tensor_info_truncated.gguf": (lambda: g.file([g.kv_str(ARCH, "llama")], [g.tinfo("t", [32], GGML_F32, 0)[:-5]], 0, alignment=1), "truncated"),
    "duplicate_tensor_name.gguf": (
        lambda: g.file([], [g.tinfo("t", [32], GGML_F32, 0), g.tinfo("t", [32], GGML_F32, 128)], 256), "duplicate tensor name 't'"),
    "overlapping_tensors.gguf": (
        lambda: g.file([], [g.tinfo("a", [64], GGML_F32, 0), g.tinfo("b", [32], GGML_F32, 128)], 384), "overlap"),
    "big_endian_tensor_past_eof.gguf": (
        lambda: gb.file([gb.kv_str(ARCH, "llama")], [gb.tinfo("t", [32], GGML_F32, 0)], 64), "truncated: tensor 't'"),
    "big_endian_duplicate_key.gguf": (
        lambda: gb.file([gb.kv_str(ARCH, "a"), gb.kv_str(ARCH, "b")], [], 0), "duplicate metadata key"),
}

CONTROLS: dict[str, Callable[[], bytes]] = {
    "valid_minimal.gguf": valid,
    "valid_minimal_big_endian.gguf": lambda: valid(">"),
}


def _hostile() -> dict[str, Callable[[], bytes]]:
    """Round two (issue 12): files that parse, or fail, in ways aimed at what comes *after* the
    reader - the renderer, the JSON writer, the estimator, the pickle and zip scanners. Built by
    :mod:`sizeup.testing.hostile`; ``tests/test_hostile_inputs.py`` checks these bytes against it
    and runs every command on every file in this folder. Shapes that need megabytes (a value
    budget, a memo flood, a million tensors) are built at test time instead of committed."""
    from sizeup.testing import hostile as h

    st_names = {"[/]\x1b]0;pwn\x07": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                "__metadata__": {"format": "pt", "note": h.HOSTILE_NAME}}
    return {
        "hostile_strings.gguf": h.gguf_hostile_strings,
        "nan_floats.gguf": h.gguf_nan_floats,
        "vocab_only.gguf": h.gguf_vocab_only,
        "lfm2_negative_ffn_multiplier.gguf": h.gguf_negative_ffn_multiplier,
        "many_empty_tensors.gguf": lambda: h.gguf(h.llama_kvs(), [h.tensor_info("token_embd.weight", [64, 8])] + [
            h.tensor_info(f"blk.{i}.z", [0, 8]) for i in range(2000)], b"\0" * 2048),
        "protocol0_os_system.pkl": h.pickle_protocol0_os_system,
        "zip_claiming_2m_members.pt": lambda: h.zip_claiming_members(2_000_000),
        "zip_claiming_300k_members.bin": lambda: h.zip_claiming_members(300_000),
        "hostile_names.safetensors": lambda: h.safetensors_bytes(st_names, b"\0" * 4),
        "header_is_a_list.safetensors": lambda: h.safetensors_bytes("[" + ",".join(["{}"] * 1000) + "]"),
        "header_nested_deep.safetensors": lambda: h.safetensors_bytes("[" * 5000 + "]" * 5000),
    }


HOSTILE: dict[str, Callable[[], bytes]] = _hostile()


def main() -> int:
    for name, build in [*((n, b) for n, (b, _) in CASES.items()), *CONTROLS.items(), *HOSTILE.items()]:
        (HERE / name).write_bytes(build())
    print(f"wrote {len(CASES)} malformed files, {len(HOSTILE)} hostile files and {len(CONTROLS)} controls to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
