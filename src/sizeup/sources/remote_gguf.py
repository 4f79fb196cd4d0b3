"""GGUF headers over HTTP: the local header parser fed by growing Range reads.

:class:`sizeup.formats.gguf_reader._Header` asks for bytes ``[0, end)`` as it parses; a
:class:`~sizeup.sources.http_range.RangeFile` answers from what it holds or fetches at least
twice as much, so the metadata and tensor infos arrive in a few round trips and the tensor data
is never requested. Split models (``-00001-of-0000N.gguf``) are read part by part (later parts
carry only a few kB of header) and checked against each other like local splits.

Parsed headers are (de)serialized to JSON for :mod:`.meta_cache`.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadModelFile
from ..formats.gguf_reader import GGUF_MAGIC, GGUFArray, GGUFFile, GGUFTensorEntry, _Header, _not_gguf
from ..limits import MAX_GGUF_HEADER_BYTES, MAX_SPLIT_PARTS
from .http_range import Budget, RangeFile

FIRST_READ = 1 << 20  # first part: most headers without a big vocabulary fit
FIRST_READ_LATER_PARTS = 64 << 10  # later split parts: tensor infos only


class _RemoteHeader(_Header):
    """The local header parser, its buffer shared with a :class:`RangeFile` that grows on demand.

    The local reader asks for at least 1 MiB at a time (cheap on disk); remotely each step is a
    round trip, so the RangeFile decides how much to fetch (its first read, then +50% steps).
    """

    __slots__ = ()

    def need(self, end: int, what: str = "metadata") -> None:
        if end <= len(self.buf):
            return
        if end > self.file_size:
            raise self.bad(f"truncated: {what} at byte {self.pos} runs past the end of the file ({self.file_size} bytes)")
        if end > MAX_GGUF_HEADER_BYTES:
            raise self.bad(f"{what} at byte {self.pos} would make the header larger than the {MAX_GGUF_HEADER_BYTES >> 20} MiB limit")
        self.f.ensure(end)


def read_remote_gguf(url: str, budget: Budget, *, size: int | None = None, first: int = FIRST_READ,
                     auth: dict[str, str] | None = None, auth_host: str | None = None,
                     max_array_items: int = 4096) -> GGUFFile:
    f = RangeFile(url, budget, size=size, first=first, auth=auth, auth_host=auth_host)
    total = f.open()
    head = bytes(f.buf[:32])
    if total < 4 or head[:4] != GGUF_MAGIC:
        raise _not_gguf(url, head, total)
    h = _RemoteHeader(f, url, total, max(0, max_array_items))
    h.buf = f.buf  # the same bytearray: what the RangeFile fetches, the parser sees
    return h.parse()


def check_parts(files: list[GGUFFile], label: str) -> None:
    """The parts of a split model agree (count, order, tensor count, no tensor twice)."""
    count = len(files)
    if count > MAX_SPLIT_PARTS:
        raise BadModelFile(label, f"{count} parts (limit {MAX_SPLIT_PARTS})")
    for i, gf in enumerate(files):
        c, no = gf.kv.get("split.count"), gf.kv.get("split.no")
        if count > 1 and c != count:
            raise BadModelFile(gf.path, f"split.count is {c!r}, expected {count}")
        if count > 1 and no not in (None, i):
            raise BadModelFile(gf.path, f"split.no is {no!r}, expected {i} for part {i + 1}")
    declared = {gf.kv.get("split.tensors.count") for gf in files} - {None}
    total = sum(len(gf.tensors) for gf in files)
    if count > 1 and declared and total != next(iter(declared)):
        raise BadModelFile(label, f"split.tensors.count is {next(iter(declared))} but the {count} parts hold {total} tensors")
    seen: set[str] = set()
    for gf in files:
        for t in gf.tensors:
            if t.name in seen:
                raise BadModelFile(gf.path, f"tensor '{t.name}' appears in two parts")
            seen.add(t.name)


# --- JSON round trip for the metadata cache ----------------------------------------------------
def _enc(v: Any) -> Any:
    if isinstance(v, GGUFArray):
        return {"__gguf_array__": [v.item_type, v.count]}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    return v


def _dec(v: Any) -> Any:
    if isinstance(v, dict) and "__gguf_array__" in v:
        a = v["__gguf_array__"]
        return GGUFArray(int(a[0]), int(a[1]))
    if isinstance(v, list):
        return [_dec(x) for x in v]
    return v


def to_json(gf: GGUFFile) -> dict[str, Any]:
    return {
        "path": gf.path, "version": gf.version, "byte_order": gf.byte_order, "alignment": gf.alignment,
        "data_offset": gf.data_offset, "file_size": gf.file_size, "header_size": gf.header_size,
        "kv": {k: _enc(v) for k, v in gf.kv.items()}, "kv_types": {k: list(v) for k, v in gf.kv_types.items()},
        "tensors": [[t.name, list(t.shape), t.type_id, t.type_name, t.offset, t.n_elements, t.n_bytes] for t in gf.tensors],
    }


def from_json(d: dict[str, Any]) -> GGUFFile:
    """Rebuild a parsed header from the cache; KeyError/TypeError/ValueError on a damaged entry."""
    tensors = [GGUFTensorEntry(str(n), tuple(int(x) for x in s), int(tid), str(tn), int(o), int(ne), int(nb))
               for n, s, tid, tn, o, ne, nb in d["tensors"]]
    return GGUFFile(path=str(d["path"]), version=int(d["version"]), byte_order=str(d["byte_order"]),
                    alignment=int(d["alignment"]), data_offset=int(d["data_offset"]), file_size=int(d["file_size"]),
                    kv={str(k): _dec(v) for k, v in d["kv"].items()},
                    kv_types={str(k): tuple(int(x) for x in v) for k, v in d["kv_types"].items()},
                    tensors=tensors, header_size=int(d.get("header_size", 0)))
