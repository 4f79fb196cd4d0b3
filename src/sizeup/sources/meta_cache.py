"""Parsed remote metadata, cached under the user cache dir so a second query makes no request.

Two kinds of entries, one small JSON file each (``<cache>/hub-meta/<sha256 of key>.json``):

* **file facts**, keyed by what pins the bytes: ``repo@commit/file`` for the Hub (a commit never
  changes), ``url#etag`` for other URLs, ``registry/blob-digest`` for Ollama. Valid forever.
* **reference answers**, keyed by what the user typed (``org/repo:Q4_K_M``): the whole parsed
  answer, reused for :data:`DEFAULT_TTL_S` (``SIZEUP_REMOTE_TTL``) so a branch that moves is
  re-checked daily; offline (``--offline`` or ``HF_HUB_OFFLINE=1``) any age is used.

The cache root is ``$SIZEUP_CACHE_DIR`` or platformdirs' ``user_cache_dir("sizeup")``. Entries
are JSON (never pickles), read with a size limit; an unreadable entry is a miss, not an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

OFFLINE = False  # set by the CLI's --offline
DEFAULT_TTL_S = 24 * 3600
MAX_ENTRY_BYTES = 64 * 1024 * 1024
VERSION = 1


def set_offline(value: bool) -> None:
    global OFFLINE
    OFFLINE = bool(value)


def cache_dir() -> Path:
    root = os.environ.get("SIZEUP_CACHE_DIR")
    if root:
        return Path(root) / "hub-meta"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sizeup")) / "hub-meta"


def ttl() -> float:
    try:
        return float(os.environ.get("SIZEUP_REMOTE_TTL", "") or DEFAULT_TTL_S)
    except ValueError:
        return DEFAULT_TTL_S


def _path(key: str) -> Path:
    return cache_dir() / (hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json")


def get(key: str, max_age: float | None = None) -> Any | None:
    """The value stored under ``key``, or None (missing, too old, unreadable, other version)."""
    p = _path(key)
    try:
        if p.stat().st_size > MAX_ENTRY_BYTES:
            return None
        doc = json.loads(p.read_bytes().decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key or doc.get("v") != VERSION:
        return None
    t = doc.get("time")
    if max_age is not None and (not isinstance(t, (int, float)) or time.time() - t > max_age):
        return None
    return doc.get("value")


def age(key: str) -> float | None:
    p = _path(key)
    try:
        return max(0.0, time.time() - p.stat().st_mtime)
    except OSError:
        return None


def put(key: str, value: Any) -> None:
    """Store ``value`` (JSON-able); failures to write are ignored (the cache is an optimisation)."""
    d = cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"v": VERSION, "key": key, "time": time.time(), "value": value}).encode("utf-8")
        if len(data) > MAX_ENTRY_BYTES:
            return
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, _path(key))
    except (OSError, TypeError, ValueError):
        try:
            os.unlink(tmp)  # type: ignore[possibly-undefined]
        except (OSError, NameError):
            pass
