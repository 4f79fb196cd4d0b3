"""safetensors headers over HTTP: the 8-byte length, then the JSON header, never the weights.

The first request asks for :data:`FIRST_READ` bytes, which holds the whole header of most shards
(one round trip); a larger header costs exactly one more request for the rest. The header is
validated by the same :func:`sizeup.formats.safetensors.parse_header` as a local file.
"""

from __future__ import annotations

import struct
from typing import Any

from ..errors import BadModelFile
from ..formats.safetensors import SafetensorsHeader, parse_header
from ..limits import MAX_JSON_HEADER_BYTES
from ..model import TensorInfo
from .http_range import Budget, RangeFile

FIRST_READ = 64 << 10  # a 7B model's header is ~30 kB; a bigger one costs exactly one more request


def read_remote_header(url: str, budget: Budget, *, size: int | None = None, auth: dict[str, str] | None = None,
                       auth_host: str | None = None) -> SafetensorsHeader:
    f = RangeFile(url, budget, size=size, first=FIRST_READ, auth=auth, auth_host=auth_host)
    total = f.open()
    if total < 8 or len(f.buf) < 8:
        raise BadModelFile(url, "too small to be a safetensors file (no 8-byte header length)")
    (n,) = struct.unpack("<Q", bytes(f.buf[:8]))
    if n > MAX_JSON_HEADER_BYTES or 8 + n > total:
        return parse_header(bytes(f.buf[:8]), total, url)  # raises with the precise reason
    f.seek(0)
    return parse_header(f.read(8 + n), total, url)


def to_json(h: SafetensorsHeader) -> dict[str, Any]:
    return {"tensors": [[t.name, list(t.shape), t.dtype, t.n_elements, t.n_bytes, t.offset] for t in h.tensors],
            "metadata": h.metadata, "header_len": h.header_len, "file_size": h.file_size}


def from_json(d: dict[str, Any]) -> SafetensorsHeader:
    tensors = [TensorInfo(name=str(n), shape=tuple(int(x) for x in s), dtype=str(dt), n_elements=int(ne), n_bytes=int(nb), offset=int(o))
               for n, s, dt, ne, nb, o in d["tensors"]]
    md = d.get("metadata") or {}
    return SafetensorsHeader(tensors=tensors, metadata={str(k): str(v) for k, v in md.items()},
                             header_len=int(d["header_len"]), file_size=int(d["file_size"]))
