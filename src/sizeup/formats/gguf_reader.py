"""A fast, bounded reader for GGUF headers (metadata and tensor directory, never tensor data).

Why not ``gguf.GGUFReader``: it memory-maps the file and builds numpy views for every metadata
item (one per token of a 262k vocabulary) and for every tensor's data, which takes seconds and
trusts every count in the file. ``sizeup inspect`` only needs the header, so this reader:

* reads the header through one growing buffer (1 MiB first, then by half) and never touches the
  tensor data region (at most a little past the header's end), so a sparse 100 GB file parses as
  fast as a 100 MB one;
* materializes small arrays (per-layer head counts, vocabularies of toy models) and replaces
  large ones (tokens, scores, merges) with a :class:`GGUFArray` placeholder. Fixed-size items are
  skipped by arithmetic; string arrays by walking their lengths without creating any string:
  vectorized with numpy for big arrays (imported only then), an exact scalar loop otherwise;
* checks every count and length against :mod:`sizeup.limits` *and* against the bytes left in
  the file before allocating, and turns every inconsistency into :class:`BadModelFile` with one
  clear line, because model files come from strangers.

Layout (ggml ``docs/gguf.md``, ``ggml/src/gguf.cpp``): magic ``GGUF``, u32 version, u64 tensor
count, u64 kv count, the kv pairs (string key, u32 value type, value), the tensor infos (string
name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset relative to the data section),
padding to ``general.alignment`` (default 32), then the data section. v1 used u32 counts and is
rejected like llama.cpp does. Byte order is detected from the version field as gguf-py and
llama.cpp do: a version whose low 16 bits are zero was written in the other byte order.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..data.ggml_types import GGML_TYPES
from ..errors import BadModelFile, NotFound, SizeupError
from ..safe_open import open_regular
from ..limits import (
    MAX_ARRAY_ITEMS,
    MAX_DIM_SIZE,
    MAX_DIMS,
    MAX_GGUF_HEADER_BYTES,
    MAX_KV_PAIRS,
    MAX_SPLIT_PARTS,
    MAX_STRING_BYTES,
    MAX_TENSOR_NAME,
    MAX_TENSORS,
)

if TYPE_CHECKING:
    from ..model import TensorInfo

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32  # GGUF_DEFAULT_ALIGNMENT in ggml/include/gguf.h
MAX_ALIGNMENT = 1 << 30  # a power of two above any real value (32 is the norm)
_INT64_MAX = (1 << 63) - 1

# GGUF value types (enum gguf_type in ggml/include/gguf.h).
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL = range(8)
T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = 8, 9, 10, 11, 12

# Fixed-size value types: struct format character and size in bytes.
_FIXED: dict[int, tuple[str, int]] = {
    T_UINT8: ("B", 1), T_INT8: ("b", 1), T_UINT16: ("H", 2), T_INT16: ("h", 2),
    T_UINT32: ("I", 4), T_INT32: ("i", 4), T_FLOAT32: ("f", 4), T_BOOL: ("?", 1),
    T_UINT64: ("Q", 8), T_INT64: ("q", 8), T_FLOAT64: ("d", 8),
}
VALUE_TYPE_NAMES: dict[int, str] = {
    T_UINT8: "u8", T_INT8: "i8", T_UINT16: "u16", T_INT16: "i16", T_UINT32: "u32", T_INT32: "i32",
    T_FLOAT32: "f32", T_BOOL: "bool", T_STRING: "str", T_ARRAY: "arr", T_UINT64: "u64",
    T_INT64: "i64", T_FLOAT64: "f64",
}

_FIRST_READ = 1 << 20  # most headers without a big vocabulary fit in the first read
# Vectorized string-array walk (see _Header._walk_window): used for arrays of at least
# _VECTOR_MIN_ITEMS strings, over windows of _WALK_WINDOW bytes, giving up (scalar loop for the
# rest) after _MAX_WALK_BREAKS breaks in the proven chain per array.
_VECTOR_MIN_ITEMS = 16384
_VECTOR_TAIL_ITEMS = 256  # below this many items left, the scalar loop is cheaper than a window
_WALK_WINDOW = 2 << 20
_MIN_WALK_WINDOW = 16 << 10
_MAX_WALK_BREAKS = 4096

# What a file that is not GGUF usually is, by its first bytes: a better message than "bad magic".
_OTHER_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"version https://git-lfs", "a Git LFS pointer, not the model itself (run `git lfs pull`)"),
    (b"PK\x03\x04", "a zip archive (PyTorch .bin/.pt checkpoints are zips), not GGUF"),
    (b"lmgg", "a legacy GGML file (pre-GGUF); convert it with llama.cpp's convert_llama_ggml_to_gguf.py"),
    (b"fmgg", "a legacy GGMF file (pre-GGUF); convert it with llama.cpp's convert_llama_ggml_to_gguf.py"),
    (b"tjgg", "a legacy GGJT file (pre-GGUF); convert it with llama.cpp's convert_llama_ggml_to_gguf.py"),
    (b"<!DOCTYPE", "an HTML page (a failed download?), not GGUF"),
    (b"<html", "an HTML page (a failed download?), not GGUF"),
    (b"{", "a JSON file, not GGUF"),
)

# llama.cpp's split naming (llama_split_path: "%s-%05d-of-%05d.gguf", parts counted from 1).
_SPLIT_NAME = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5,})-of-(?P<count>\d{5,})(?P<ext>\.gguf)$", re.IGNORECASE)


@dataclass(frozen=True)
class GGUFArray:
    """Placeholder for a large array whose items were not materialized (tokens, scores, merges)."""

    item_type: int  # GGUF value type id of the items
    count: int

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True)
class GGUFTensorEntry:
    name: str
    shape: tuple[int, ...]  # ggml order: ne[0] (the contiguous dim) first, as GGUF stores it
    type_id: int
    type_name: str
    offset: int  # relative to the data section start
    n_elements: int
    n_bytes: int


@dataclass
class GGUFFile:
    path: str
    version: int
    byte_order: str  # "little" | "big"
    alignment: int
    data_offset: int
    file_size: int
    kv: dict[str, Any]
    tensors: list[GGUFTensorEntry]
    # Value type of every key: (type,) for scalars, (T_ARRAY, item type) for arrays. Lets a dump
    # show "u32" vs "i32" and lets callers tell a 1-item array from a scalar.
    kv_types: dict[str, tuple[int, ...]] = field(default_factory=dict)
    header_size: int = 0  # bytes of magic + counts + kv + tensor infos (before padding)

    def get(self, key: str, default: Any = None) -> Any:
        return self.kv.get(key, default)

    def tensor_infos(self) -> list[TensorInfo]:
        """Tensors as :class:`sizeup.model.TensorInfo`, offsets absolute in the file."""
        from ..model import TensorInfo  # lazily: the reader itself needs nothing from model.py

        base = self.data_offset
        return [TensorInfo(t.name, t.shape, t.type_name, t.n_elements, t.n_bytes, base + t.offset) for t in self.tensors]


# --- the reader -------------------------------------------------------------------------------


class _Header:
    """Parser state: a buffer holding the file's first bytes, grown on demand, and a cursor.

    Every read goes through :meth:`need`, which refuses to look past the end of the file or past
    ``MAX_GGUF_HEADER_BYTES``, so no count or length in the file can make the reader allocate
    more than the header limit.
    """

    __slots__ = ("f", "path", "file_size", "buf", "pos", "order", "u32", "u64", "max_items")

    def __init__(self, f: BinaryIO, path: str, file_size: int, max_items: int) -> None:
        self.f = f
        self.path = path
        self.file_size = file_size
        self.buf = bytearray()
        self.pos = 0
        self.order = "<"
        self.u32 = struct.Struct("<I")
        self.u64 = struct.Struct("<Q")
        self.max_items = max_items

    def bad(self, problem: str) -> BadModelFile:
        return BadModelFile(self.path, problem)

    def need(self, end: int, what: str = "metadata") -> None:
        """Make the buffer cover bytes [0, end) of the file."""
        have = len(self.buf)
        if end <= have:
            return
        if end > self.file_size:
            raise self.bad(f"truncated: {what} at byte {self.pos} runs past the end of the file ({self.file_size} bytes)")
        if end > MAX_GGUF_HEADER_BYTES:
            raise self.bad(f"{what} at byte {self.pos} would make the header larger than the {MAX_GGUF_HEADER_BYTES >> 20} MiB limit")
        # Grow by half: amortized O(n) copying, and at most ~50% read past the header's end.
        target = min(self.file_size, MAX_GGUF_HEADER_BYTES, max(end, have + have // 2, _FIRST_READ))
        try:
            self.f.seek(have)
            more = self.f.read(target - have)
        except OSError as e:
            raise self.bad(f"read error at byte {have}: {e.strerror or e}") from None
        if len(more) < end - have:
            raise self.bad(f"truncated: file ended at byte {have + len(more)} while reading {what}")
        self.buf += more

    def set_order(self, order: str) -> None:
        self.order = order
        self.u32 = struct.Struct(order + "I")
        self.u64 = struct.Struct(order + "Q")

    def read_u32(self, what: str) -> int:
        p = self.pos
        self.need(p + 4, what)
        self.pos = p + 4
        return self.u32.unpack_from(self.buf, p)[0]

    def read_u64(self, what: str) -> int:
        p = self.pos
        self.need(p + 8, what)
        self.pos = p + 8
        return self.u64.unpack_from(self.buf, p)[0]

    def read_str(self, what: str, limit: int = MAX_STRING_BYTES) -> str:
        n = self.read_u64(what)
        if n > limit:
            raise self.bad(f"{what} at byte {self.pos - 8} claims {n} bytes (limit {limit})")
        p = self.pos
        self.need(p + n, what)
        self.pos = p + n
        return self.buf[p : p + n].decode("utf-8", errors="replace")

    def remaining(self) -> int:
        return self.file_size - self.pos

    # --- values --------------------------------------------------------------------------
    def read_value(self, vtype: int, key: str) -> tuple[Any, tuple[int, ...]]:
        fixed = _FIXED.get(vtype)
        if fixed is not None:
            fmt, size = fixed
            p = self.pos
            self.need(p + size, f"value of '{key}'")
            self.pos = p + size
            return struct.unpack_from(self.order + fmt, self.buf, p)[0], (vtype,)
        if vtype == T_STRING:
            return self.read_str(f"string value of '{key}'"), (vtype,)
        if vtype == T_ARRAY:
            return self.read_array(key)
        raise self.bad(f"key '{key}' has unknown value type {vtype}")

    def read_array(self, key: str) -> tuple[Any, tuple[int, ...]]:
        item_type = self.read_u32(f"array type of '{key}'")
        count = self.read_u64(f"array length of '{key}'")
        if item_type == T_ARRAY:
            # llama.cpp (gguf.cpp) rejects arrays of arrays too; no real model has one.
            raise self.bad(f"key '{key}' is an array of arrays, which GGUF readers (llama.cpp) do not support")
        fixed = _FIXED.get(item_type)
        if fixed is None and item_type != T_STRING:
            raise self.bad(f"array '{key}' has unknown item type {item_type}")
        min_item = fixed[1] if fixed else 8  # a string is at least its u64 length
        if count > MAX_ARRAY_ITEMS:
            raise self.bad(f"array '{key}' claims {count} items (limit {MAX_ARRAY_ITEMS})")
        if count * min_item > self.remaining():
            raise self.bad(f"truncated: array '{key}' claims {count} items but only {self.remaining()} bytes are left")
        types = (T_ARRAY, item_type)
        p = self.pos
        if fixed is not None:
            fmt, size = fixed
            end = p + count * size
            self.need(end, f"array '{key}'")
            self.pos = end
            if count > self.max_items:
                return GGUFArray(item_type, count), types
            return list(struct.unpack_from(f"{self.order}{count}{fmt}", self.buf, p)), types
        if count > self.max_items:
            self._skip_strings(count, key)
            return GGUFArray(item_type, count), types
        what = f"string in array '{key}'"
        return [self.read_str(what) for _ in range(count)], types

    def _skip_strings(self, count: int, key: str) -> None:
        """Move past ``count`` length-prefixed strings without creating them.

        Walking the lengths is inherently sequential, and one Python iteration per string costs
        about 40 ms for a 262k vocabulary (more on a busy machine), so big arrays are first walked
        window by window with numpy (:meth:`_walk_window`); whatever that cannot settle (long
        strings, odd bytes, the last few items) is walked by the exact scalar loop below.
        """
        p = self.pos
        left = count
        if count >= _VECTOR_MIN_ITEMS:
            breaks = 0
            limit = min(self.file_size, MAX_GGUF_HEADER_BYTES)
            per_item = 16.0  # bytes per string, re-estimated after every window
            while left >= _VECTOR_TAIL_ITEMS and breaks < _MAX_WALK_BREAKS:
                # Size the window to what the remaining strings probably span (+5%): scanning far
                # past the array's end (into zero-filled scores or padding) is wasted work.
                span = min(_WALK_WINDOW, max(_MIN_WALK_WINDOW, int(left * per_item * 1.05) + 256))
                end = min(p + span, limit)
                if end - p < _MIN_WALK_WINDOW // 4:
                    break
                self.pos = p
                self.need(end, f"array '{key}'")
                start = p
                p, done, nb = self._walk_window(p, end, left)
                if done == 0:
                    break
                left -= done
                breaks += nb
                per_item = (p - start) / done
        self._skip_strings_scalar(p, left, key)

    def _skip_strings_scalar(self, p: int, count: int, key: str) -> None:
        """The exact walk: one ``unpack_from`` and one addition per string.

        Running off the end of the buffer raises ``struct.error`` (``OverflowError`` once a
        corrupt length pushed the offset past 2^63); then the buffer grows (or the
        file is found truncated) and the walk resumes at the item that failed. Lengths are not
        checked one by one: whatever they claim, :meth:`need` keeps the walk inside the file and
        under the header limit, and skipped strings are never allocated.
        """
        unpack = self.u64.unpack_from
        i = 0
        while count:
            buf = self.buf
            try:
                for i in range(i, count):  # noqa: B007 - i is the resume point on struct.error
                    p += 8 + unpack(buf, p)[0]
                break
            except (struct.error, OverflowError):  # past the buffer, or past any sane offset
                self.pos = p
                self.need(p + 8, f"string {i} of array '{key}'")
        self.pos = p
        self.need(p, f"last string of array '{key}'")

    def _walk_window(self, p: int, end: int, left: int) -> tuple[int, int, int]:
        """Walk up to ``left`` strings starting at ``p`` using the buffered bytes [p, end).

        Trick: a string shorter than 256 bytes has a u64 length whose upper seven bytes are zero.
        :func:`_short_length_fields` finds every such offset in the window, which includes every
        such length field plus rare false hits inside string bytes. From each hit the next field would start at ``hit + 8 + value``; wherever
        that equals the next hit, the chain is proven and consumed in bulk. Where it is not
        (a long string, a false hit), one exact scalar step is taken and the walk resumes at the
        next hit it lands on. Returns (new position, strings walked, breaks in the chain).
        """
        import numpy as np

        unpack = self.u64.unpack_from
        buf = self.buf
        span = end - p
        a = np.frombuffer(buf, np.uint8, count=span, offset=p)
        found = _short_length_fields(np, a, self.order == ">")
        del a  # release the buffer export so the bytearray can grow later
        if found is None:
            return p, 0, 0
        c, nxt = found
        brk = np.flatnonzero(nxt[:-1] != c[1:])
        n = len(c)
        last = n - 1
        q = done = steps = 0
        i = int(np.searchsorted(c, 0))
        while done < left:
            if i >= n or c[i] != q:
                # Not a hit: a long string, or the chain left the proven part. One exact step.
                if q + 8 > span or steps >= _MAX_WALK_BREAKS:
                    break
                q += 8 + unpack(buf, p + q)[0]
                done += 1
                steps += 1
                if q >= span:
                    break
                i = int(np.searchsorted(c, q))
                continue
            b = int(np.searchsorted(brk, i))
            j = int(brk[b]) if b < len(brk) else last
            run = j - i + 1
            if run >= left - done:
                q = int(nxt[i + left - done - 1])
                done = left
                break
            done += run
            q = int(nxt[j])
            if j == last:
                break
            # The chain left the proven run (false hit ahead, or a long string): resume at q.
            # Counted, so that content built to break the chain everywhere falls back to the
            # scalar loop instead of paying numpy call overhead per item.
            steps += 1
            if steps >= _MAX_WALK_BREAKS:
                break
            i = int(np.searchsorted(c, q))
        return p + q, done, steps

    # --- the whole header ----------------------------------------------------------------
    def parse(self) -> GGUFFile:
        self.need(8, "the GGUF header")
        raw = self.u32.unpack_from(self.buf, 4)[0]
        byte_order = "little"
        if raw & 0xFFFF == 0:  # written in the other byte order (as gguf-py and llama.cpp detect it)
            self.set_order(">")
            byte_order = "big"
            raw = self.u32.unpack_from(self.buf, 4)[0]
        version = raw
        if version == 1:
            raise self.bad("GGUF v1 (a 2023 pre-release format) is not supported; re-convert the model with a current llama.cpp")
        if version not in SUPPORTED_VERSIONS:
            raise self.bad(f"unsupported GGUF version {version} (sizeup reads versions 2 and 3)")
        self.pos = 8
        n_tensors = self.read_u64("tensor count")
        n_kv = self.read_u64("metadata count")
        if n_tensors > MAX_TENSORS:
            raise self.bad(f"header claims {n_tensors} tensors (limit {MAX_TENSORS})")
        if n_kv > MAX_KV_PAIRS:
            raise self.bad(f"header claims {n_kv} metadata entries (limit {MAX_KV_PAIRS})")
        # Smallest possible encodings: kv = key length + type + 1-byte value; tensor info =
        # name length + n_dims + type + offset.
        if n_kv * 13 + n_tensors * 24 > self.remaining():
            raise self.bad(f"truncated: header claims {n_kv} metadata entries and {n_tensors} tensors but the file has only {self.file_size} bytes")

        kv: dict[str, Any] = {}
        kv_types: dict[str, tuple[int, ...]] = {}
        for i in range(n_kv):
            key = self.read_str(f"key of metadata entry {i}", MAX_STRING_BYTES)
            if key in kv:
                raise self.bad(f"duplicate metadata key '{key}'")
            vtype = self.read_u32(f"value type of '{key}'")
            kv[key], kv_types[key] = self.read_value(vtype, key)

        alignment = DEFAULT_ALIGNMENT
        if "general.alignment" in kv:
            if kv_types["general.alignment"] != (T_UINT32,):
                raise self.bad("general.alignment must be a u32")
            alignment = kv["general.alignment"]
            if alignment == 0 or alignment & (alignment - 1) or alignment > MAX_ALIGNMENT:
                raise self.bad(f"general.alignment is {alignment}, not a power of two up to {MAX_ALIGNMENT}")

        raw_tensors = self._read_tensor_infos(n_tensors)
        header_size = self.pos
        data_offset = -(-header_size // alignment) * alignment
        tensors = self._check_tensors(raw_tensors, alignment, data_offset)
        return GGUFFile(
            path=self.path, version=version, byte_order=byte_order, alignment=alignment,
            data_offset=data_offset, file_size=self.file_size, kv=kv, tensors=tensors,
            kv_types=kv_types, header_size=header_size,
        )

    def _read_tensor_infos(self, n_tensors: int) -> list[tuple[str, tuple[int, ...], int, int]]:
        out = []
        names: set[str] = set()
        for i in range(n_tensors):
            name = self.read_str(f"name of tensor {i}", MAX_TENSOR_NAME)
            if name in names:
                raise self.bad(f"duplicate tensor name '{name}'")
            names.add(name)
            n_dims = self.read_u32(f"dimension count of '{name}'")
            if n_dims > MAX_DIMS:
                raise self.bad(f"tensor '{name}' claims {n_dims} dimensions (limit {MAX_DIMS})")
            p = self.pos
            self.need(p + 8 * n_dims + 12, f"tensor info of '{name}'")
            shape = struct.unpack_from(f"{self.order}{n_dims}Q", self.buf, p)
            type_id, offset = struct.unpack_from(f"{self.order}IQ", self.buf, p + 8 * n_dims)
            self.pos = p + 8 * n_dims + 12
            out.append((name, shape, type_id, offset))
        return out

    def _check_tensors(self, raw: list, alignment: int, data_offset: int) -> list[GGUFTensorEntry]:
        tensors = []
        data_size = self.file_size - data_offset
        for name, shape, type_id, offset in raw:
            t = GGML_TYPES.get(type_id)
            if t is None:
                raise self.bad(f"tensor '{name}' has unknown ggml type id {type_id}")
            n = 1
            for d in shape:
                if d > MAX_DIM_SIZE:
                    raise self.bad(f"tensor '{name}' has a dimension of {d} (limit {MAX_DIM_SIZE})")
                n *= d
            if n > _INT64_MAX:
                raise self.bad(f"tensor '{name}' with shape {list(shape)} has more than 2^63 elements")
            row = shape[0] if shape else 1
            if row % t.block_size:
                raise self.bad(f"tensor '{name}' of type {t.name} has rows of {row} elements, not a multiple of its block size {t.block_size}")
            if offset % alignment:
                raise self.bad(f"tensor '{name}' data offset {offset} is not a multiple of the alignment {alignment}")
            n_bytes = n // t.block_size * t.type_size
            if offset + n_bytes > data_size:
                raise self.bad(
                    f"truncated: tensor '{name}' data ends at byte {data_offset + offset + n_bytes} "
                    f"but the file has only {self.file_size} bytes"
                )
            tensors.append(GGUFTensorEntry(name, tuple(shape), type_id, t.name, offset, n, n_bytes))
        by_offset = sorted(tensors, key=lambda e: (e.offset, e.n_bytes))
        for a, b in zip(by_offset, by_offset[1:]):
            if b.offset < a.offset + a.n_bytes:
                raise self.bad(f"tensors '{a.name}' and '{b.name}' overlap in the data section")
        return tensors


def _short_length_fields(np: Any, a: Any, big_endian: bool) -> tuple[Any, Any] | None:
    """Offsets in ``a`` (uint8) where a u64 value < 256 starts, and ``offset + 8 + value``.

    None when the bytes do not look like a string array (hits crowd together, as in runs of
    zeros): the caller then walks them with the scalar loop, which is faster for such content.

    Vectorized and branch-free on purpose: ``np.flatnonzero`` over a window's ~2M irregular
    booleans costs ~10 ms in branch mispredictions, so hits are located per 8-byte word instead
    (8x fewer, and true length fields are >= 8 bytes apart, so nearly every non-zero word holds
    exactly one hit). For a word with a single hit byte ``w = 256**k``, ``k`` is read off
    ``(w * 0x0001020304050607) >> 56`` (the multiply shifts byte ``7 - k`` of the constant, which
    is ``k``, into the top byte). Words with several hits (only false hits cause them) take the
    slow path; when they are common (not a vocabulary) the function gives up, which also keeps
    its memory to a few bytes per window byte.
    """
    n = len(a) - 7
    zero = a == 0
    z0, low = (0, 7) if big_endian else (1, 0)  # where the 7 zero bytes start; the value byte
    m = np.empty(n + (-n % 8), dtype=bool)
    m[n:] = False
    hit = m[:n]
    np.logical_and(zero[z0 : z0 + n], zero[z0 + 1 : z0 + 1 + n], out=hit)
    for k in range(z0 + 2, z0 + 7):
        hit &= zero[k : k + n]
    words = m.view("<u8")
    nz = np.flatnonzero(words)
    w = words[nz]
    single = (w & (w - np.uint64(1))) == 0
    n_multi = len(single) - int(np.count_nonzero(single))
    if n_multi > len(single) // 4 + 64:
        return None
    byte_index = ((w * np.uint64(0x0001020304050607)) >> np.uint64(56)).astype(np.int64)
    if single.all():
        c = nz * 8 + byte_index
    else:
        rows = nz[~single]
        r, col = np.nonzero(m.reshape(-1, 8)[rows])
        c = np.sort(np.concatenate([nz[single] * 8 + byte_index[single], rows[r] * 8 + col]))
    return c, c + 8 + a[c + low].astype(np.int64)


# --- public API -------------------------------------------------------------------------------


def _open_regular(path: str | os.PathLike[str]) -> tuple[BinaryIO, int]:
    """Open ``path`` for reading after making sure it is a regular file (a FIFO would block)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except OSError as e:
        raise SizeupError(f"{path}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise BadModelFile(path, "is a directory, not a GGUF file")
    if not stat.S_ISREG(st.st_mode):
        raise BadModelFile(path, "is not a regular file")
    try:
        f = open_regular(path)  # closed by the caller; O_NONBLOCK + fstat: never blocks on a swapped-in FIFO
    except OSError as e:
        raise SizeupError(f"{path}: cannot read: {e.strerror or e}") from None
    return f, os.fstat(f.fileno()).st_size


def _not_gguf(path: object, head: bytes, size: int) -> BadModelFile:
    if size == 0:
        return BadModelFile(path, "empty file (0 bytes), not a GGUF file")
    stripped = head.lstrip()
    for prefix, what in _OTHER_FORMATS:
        if stripped.startswith(prefix):
            return BadModelFile(path, f"is {what}")
    if size >= 9 and head[8:9] == b"{":
        return BadModelFile(path, "is a safetensors file, not GGUF")
    shown = "".join(chr(c) if 32 <= c < 127 else "?" for c in head[:4])
    if size < 4:
        return BadModelFile(path, f"only {size} bytes long, not a GGUF file")
    return BadModelFile(path, f"not a GGUF file (starts with '{shown}', expected 'GGUF')")


def read_gguf(path: str | os.PathLike[str], *, max_array_items: int = 4096) -> GGUFFile:
    """Parse the header of one GGUF file: metadata, tensor directory, data offset.

    Scalars become Python int/float/bool/str; arrays with at most ``max_array_items`` items
    become lists; larger ones become :class:`GGUFArray` (type and count only). Strings are
    decoded as UTF-8 with errors replaced. Raises :class:`BadModelFile` for any malformed,
    truncated or out-of-bounds file, :class:`NotFound` for a missing path.
    """
    f, size = _open_regular(path)
    with f:
        try:
            head = f.read(32)
        except OSError as e:
            raise BadModelFile(path, f"read error: {e.strerror or e}") from None
        if size < 4 or head[:4] != GGUF_MAGIC:
            raise _not_gguf(path, head, size)
        h = _Header(f, str(path), size, max(0, max_array_items))
        return h.parse()


def is_gguf(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a regular file starting with the GGUF magic (nothing else checked)."""
    try:
        with open_regular(path) as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def split_part_paths(path: str | os.PathLike[str], count: int) -> list[Path] | None:
    """All part paths of the split model ``path`` belongs to, or None if its name is not a part name."""
    p = Path(path)
    m = _SPLIT_NAME.match(p.name)
    if not m:
        return None
    width = len(m["no"])
    cwidth = len(m["count"])
    return [p.with_name(f"{m['prefix']}-{i:0{width}d}-of-{count:0{cwidth}d}{m['ext']}") for i in range(1, count + 1)]


def _split_int(gf: GGUFFile, key: str) -> int | None:
    v = gf.kv.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadModelFile(gf.path, f"{key} is not an integer")
    return v


def read_gguf_model(path: str | os.PathLike[str], *, max_array_items: int = 4096) -> list[GGUFFile]:
    """Every file of the model ``path`` belongs to, in part order: ``[file]`` when not split.

    A split model (llama.cpp ``gguf-split``: ``name-00001-of-00003.gguf``..., each part carrying
    ``split.no`` (from 0), ``split.count`` and ``split.tensors.count``) can be named by any of its
    parts. All parts must be present and agree with each other, else :class:`BadModelFile` names
    the problem (e.g. which parts are missing).
    """
    first = read_gguf(path, max_array_items=max_array_items)
    count = _split_int(first, "split.count")
    if count is None or count <= 1:
        return [first]
    if count > MAX_SPLIT_PARTS:
        raise BadModelFile(path, f"split.count is {count} (limit {MAX_SPLIT_PARTS})")
    name = Path(path).name
    m = _SPLIT_NAME.match(name)
    if not m:
        raise BadModelFile(
            path, f"split.count is {count} but the file name does not follow NAME-00001-of-{count:05d}.gguf, so the other parts cannot be found"
        )
    if int(m["count"]) != count:
        raise BadModelFile(path, f"file name says {int(m['count'])} parts but split.count is {count}")
    no = _split_int(first, "split.no")
    if no is not None and no != int(m["no"]) - 1:
        raise BadModelFile(path, f"file name says part {int(m['no'])} but split.no is {no} (part {no + 1})")
    parts = split_part_paths(path, count) or []
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise BadModelFile(path, f"split model is missing {len(missing)} of {count} parts: {shown}")
    files: list[GGUFFile] = []
    own = int(m["no"]) - 1
    for i, p in enumerate(parts):
        gf = first if i == own else read_gguf(p, max_array_items=max_array_items)
        if _split_int(gf, "split.count") != count:
            raise BadModelFile(p, f"split.count is {gf.kv.get('split.count')}, expected {count} like {name}")
        if _split_int(gf, "split.no") not in (None, i):
            raise BadModelFile(p, f"split.no is {gf.kv.get('split.no')}, expected {i} for part {i + 1}")
        files.append(gf)
    declared = {_split_int(gf, "split.tensors.count") for gf in files} - {None}
    if len(declared) > 1:
        raise BadModelFile(path, f"parts disagree on split.tensors.count: {sorted(declared)}")
    total = sum(len(gf.tensors) for gf in files)
    if declared and total != next(iter(declared)):
        raise BadModelFile(path, f"split.tensors.count is {next(iter(declared))} but the {count} parts hold {total} tensors")
    seen: dict[str, str] = {}
    for gf in files:
        for t in gf.tensors:
            if t.name in seen:
                raise BadModelFile(gf.path, f"tensor '{t.name}' also appears in {Path(seen[t.name]).name}")
            seen[t.name] = gf.path
    return files
