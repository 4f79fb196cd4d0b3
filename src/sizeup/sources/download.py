"""Download the GGUF file(s) a remote reference resolves to, into sizeup's own model cache.

Used by ``sizeup try`` after the user confirmed (or passed ``--yes``). The files go to
``$SIZEUP_MODEL_CACHE`` or ``<user cache dir>/sizeup/models`` (never the Hugging Face cache):

* Hub: ``hf/<org>/<repo>/<commit>/<file>`` (every split part), pinned to the commit the header
  was read from;
* Ollama registry: ``ollama/<registry host>/<namespace>/<model>/<digest>.gguf``;
* other URLs: ``url/<sha256 of the URL>[:16]/<file name>``.

Before any byte is fetched, the free space of the destination's file system
(:func:`shutil.disk_usage`) must cover what is still missing plus a reserve
(``$SIZEUP_MIN_FREE_BYTES``, default :data:`DEFAULT_RESERVE`). Each file streams in bounded chunk
reads (:func:`sizeup.sources.http_range.fetch` with a sink) with the per-request timeout of the
header reads and an overall deadline scaled to the size (``$SIZEUP_DOWNLOAD_DEADLINE`` sets it in
seconds), into a temp file in the same directory, verified (byte count; sha256 when the source
gives one: the Hub's model-info ``lfs.sha256``, the Ollama layer digest) and then moved into place
with :func:`os.replace`. A ``<file>.sizeup.json`` stamp records the verified size and sha256, so a
second call finds the file without a request. Tokens go only to the Hub's endpoint host, as in
:mod:`.hub`. No resume: an interrupted download starts over.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from ..errors import SizeupError
from . import hub
from .http_range import Budget, RemoteError, fetch, short
from .refs import RemoteRef

DEFAULT_RESERVE = 1 << 30  # keep 1 GiB free after the download
MIN_RATE = 256 * 1024  # the deadline allows at least this many bytes per second ...
BASE_DEADLINE_S = 120.0  # ... plus this
STAMP = ".sizeup.json"
MAX_STAMP_BYTES = 64 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SPLIT_RE = re.compile(r"^(?P<prefix>.+)-(?P<idx>\d{5})-of-(?P<n>\d{5})\.gguf$", re.IGNORECASE)
_SAFE = re.compile(r"[^A-Za-z0-9._-]")

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass
class RemoteFile:
    url: str
    dest: Path
    size: int | None  # None: learned from the server (a plain URL of a split part)
    sha256: str | None = None
    auth: bool = False  # send the Hub token (to the Hub's endpoint host only)
    cached: bool = False


@dataclass
class Plan:
    label: str
    dest_dir: Path
    files: list[RemoteFile] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(f.size or 0 for f in self.files)

    @property
    def missing_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files if not f.cached)

    @property
    def cached(self) -> bool:
        return all(f.cached for f in self.files)

    @property
    def path(self) -> Path:
        return self.files[0].dest

    def free_bytes(self) -> int:
        return shutil.disk_usage(_existing_parent(self.dest_dir)).free

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "dest_dir": str(self.dest_dir), "total_bytes": self.total,
                "missing_bytes": self.missing_bytes, "cached": self.cached,
                "files": [{"name": f.dest.name, "url": short(f.url), "size": f.size, "sha256": f.sha256,
                           "cached": f.cached} for f in self.files]}


def cache_root() -> Path:
    env = os.environ.get("SIZEUP_MODEL_CACHE")
    if env:
        return Path(env)
    root = os.environ.get("SIZEUP_CACHE_DIR")
    if root:
        return Path(root) / "models"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sizeup")) / "models"


def reserve_bytes() -> int:
    v = os.environ.get("SIZEUP_MIN_FREE_BYTES", "").strip()
    if v:
        from ..units import parse_size

        return max(0, int(parse_size(v)))
    return DEFAULT_RESERVE


def _existing_parent(p: Path) -> Path:
    p = p.absolute()
    while not p.exists() and p.parent != p:
        p = p.parent
    return p


def _safe(part: str) -> str:
    s = _SAFE.sub("_", part)[:120].lstrip(".")
    return s or "_"


def _rel(path: str) -> Path:
    """A repo file path as a relative path that stays inside the destination."""
    parts = [_safe(p) for p in path.split("/") if p and p not in (".", "..")]
    if not parts:
        raise SizeupError(f"bad file name in the repository: {path[:80]!r}")
    return Path(*parts)


# --- the plan ------------------------------------------------------------------------------------
def _split_names(first: str, n: int) -> list[str]:
    if n <= 1:
        return [first]
    d, _, name = first.rpartition("/")
    m = _SPLIT_RE.match(name)
    if not m:
        raise SizeupError(f"{first}: {n} parts but the name is not NAME-00001-of-0000N.gguf")
    w = len(m["idx"])
    head = d + "/" if d else ""
    return [f"{head}{m['prefix']}-{i:0{w}d}-of-{m['n']}.gguf" for i in range(1, n + 1)]


def plan(ref: RemoteRef, md: Any) -> Plan:
    """What downloading ``md`` (a :func:`~sizeup.sources.resolve.describe_remote` answer for
    ``ref``) means: files, sizes, destination. No request when every file is already cached;
    otherwise at most one small request (the Hub's model info, or a Range probe of a URL part)."""
    if md.source != "gguf":
        raise SizeupError(f"{ref.label}: only GGUF files are downloaded (this is {md.source})")
    ex = md.extra or {}
    root = cache_root()
    n = max(1, len(md.files or []))
    if ref.kind == "hub" or ex.get("hub_repo"):
        repo, rev, first = ex.get("hub_repo"), ex.get("hub_revision"), ex.get("hub_file")
        if not (isinstance(repo, str) and isinstance(rev, str) and isinstance(first, str)):
            raise SizeupError(f"{ref.label}: the remote facts do not name the Hub file; run it again online")
        dest_dir = root / "hf" / _rel(repo) / _safe(rev)
        names = _split_names(first, n)
        files = [RemoteFile(hub.file_url(repo, p, rev), dest_dir / _rel(p), None, auth=True) for p in names]
        p = Plan(f"{repo}/{first}", dest_dir, files)
        if not _mark_cached(p):
            _hub_sizes(p, repo, rev, names)
    elif ex.get("ollama_digest"):
        digest = str(ex["ollama_digest"])
        name = str(ex.get("ollama_name") or ref.text)
        host = urlsplit(str(ex.get("ollama_registry") or "")).netloc or "registry"
        dest_dir = root / "ollama" / _safe(host) / _rel(name.replace(":", "/"))
        hexd = digest.split(":", 1)[-1]
        files = [RemoteFile(md.files[0], dest_dir / f"{_safe(hexd)}.gguf", int(md.file_size),
                            sha256=hexd if _HEX64.match(hexd) else None)]
        p = Plan(name, dest_dir, files)
        _mark_cached(p)
    else:
        url = str(ex.get("url") or ref.url or ref.text)
        dest_dir = root / "url" / hashlib.sha256(url.encode()).hexdigest()[:16]
        urls = list(md.files or [url])
        files = [RemoteFile(u, dest_dir / _safe(u.split("?", 1)[0].rsplit("/", 1)[-1] or "model.gguf"), None)
                 for u in urls]
        if len(files) == 1:
            files[0].size = int(md.file_size)
        p = Plan(url, dest_dir, files)
        if not _mark_cached(p):
            _probe_sizes(p)
    if p.total <= 0 and not p.cached:
        raise SizeupError(f"{ref.label}: the server did not say how large the file is")
    return p


def _read_stamp(dest: Path) -> dict[str, Any] | None:
    sp = dest.with_name(dest.name + STAMP)
    try:
        if sp.stat().st_size > MAX_STAMP_BYTES:
            return None
        d = json.loads(sp.read_text("utf-8"))
        st = dest.stat()
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(d, dict) or d.get("size") != st.st_size or d.get("mtime_ns") != st.st_mtime_ns:
        return None
    return d


def _mark_cached(p: Plan) -> bool:
    """Mark the files whose verified stamp matches; True when all are there (no request needed)."""
    for f in p.files:
        d = _read_stamp(f.dest)
        if d is None or (f.size is not None and d.get("size") != f.size) or \
                (f.sha256 is not None and d.get("sha256") != f.sha256):
            continue
        f.cached = True
        f.size = int(d["size"])
        if f.sha256 is None and isinstance(d.get("sha256"), str):
            f.sha256 = d["sha256"]
    return p.cached


def _hub_sizes(p: Plan, repo: str, rev: str, names: list[str]) -> None:
    """Sizes and sha256 of the parts from the Hub's model info (``lfs.sha256``)."""
    from urllib.parse import quote

    data = hub.get_json(f"{hub.endpoint()}/api/models/{repo}/revision/{quote(rev, safe='')}?blobs=true", Budget())
    sib = data.get("siblings") if isinstance(data, dict) else None
    by_name: dict[str, dict[str, Any]] = {}
    for s in (sib if isinstance(sib, list) else [])[: hub.MAX_SIBLINGS]:
        if isinstance(s, dict) and isinstance(s.get("rfilename"), str):
            by_name[s["rfilename"]] = s
    for f, name in zip(p.files, names):
        s = by_name.get(name)
        if s is None:
            raise RemoteError(f"{repo}@{rev[:12]}: {name} is not in the repository listing")
        lfs = s.get("lfs") if isinstance(s.get("lfs"), dict) else {}
        size = s.get("size") if isinstance(s.get("size"), int) else lfs.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise RemoteError(f"{repo}: the Hub does not give the size of {name}")
        sha = lfs.get("sha256")
        sha = sha.lower() if isinstance(sha, str) and _HEX64.match(sha.lower()) else None
        if f.cached and (f.size != size or (sha and f.sha256 != sha)):
            f.cached = False
        f.size, f.sha256 = size, sha


def _probe_sizes(p: Plan) -> None:
    b = Budget(max_bytes=len(p.files) + 1, max_requests=10 * len(p.files))
    for f in p.files:
        if f.size is None:
            r = fetch(f.url, b, byte_range=(0, 0))
            if r.total_size is None or r.total_size <= 0:
                raise RemoteError(f"{short(f.url)}: the server does not say how large the file is")
            f.size = r.total_size


# --- checks and the download ---------------------------------------------------------------------
def check_free_space(p: Plan) -> None:
    need = p.missing_bytes
    if need <= 0:
        return
    free = p.free_bytes()
    reserve = reserve_bytes()
    if free < need + reserve:
        from ..units import fmt_bytes

        raise SizeupError(f"{p.label}: not enough free disk for the download: needs {fmt_bytes(need, 1)} plus "
                          f"{fmt_bytes(reserve, 1)} kept free, {_existing_parent(p.dest_dir)} has {fmt_bytes(free, 1)} "
                          "free (SIZEUP_MODEL_CACHE puts models elsewhere)")


def deadline_for(size: int) -> float:
    v = os.environ.get("SIZEUP_DOWNLOAD_DEADLINE", "").strip()
    if v:
        try:
            d = float(v)
            if d > 0:
                return d
        except ValueError:
            pass
    return BASE_DEADLINE_S + size / MIN_RATE


def download(p: Plan, progress: Progress | None = None) -> Path:
    """Fetch every missing file of ``p``; returns the first part's path. One-line errors."""
    check_free_space(p)
    total = p.total
    done = sum(f.size or 0 for f in p.files if f.cached)
    if progress:
        progress(done, total)
    budget = Budget(max_bytes=max(1, p.missing_bytes) + 1, deadline_s=deadline_for(p.missing_bytes),
                    max_requests=20 * len(p.files))
    for f in p.files:
        if f.cached:
            continue
        done = _one(f, budget, done, total, progress)
    return p.path


def _one(f: RemoteFile, budget: Budget, done: int, total: int, progress: Progress | None) -> int:
    assert f.size is not None
    f.dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix="." + f.dest.name[:80] + ".", suffix=".part", dir=f.dest.parent)
    got = 0
    last = 0.0
    ok = False
    try:
        with os.fdopen(fd, "wb") as out:
            def sink(chunk: bytes) -> None:
                nonlocal got, last
                out.write(chunk)
                h.update(chunk)
                got += len(chunk)
                now = time.monotonic()
                if progress and (now - last > 0.1 or got == f.size):
                    last = now
                    progress(done + got, total)

            auth = hub.auth_headers() if f.auth else None
            r = fetch(f.url, budget, max_body=f.size, auth=auth, auth_host=hub.endpoint_host() if f.auth else None,
                      sink=sink)
            clen = r.headers.get("content-length")
            if got != f.size:
                raise RemoteError(f"{short(f.url)}: got {got} bytes, expected {f.size}"
                                  + (f" (Content-Length said {clen[:20]})" if clen else ""))
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if f.sha256 and digest != f.sha256:
            raise RemoteError(f"{short(f.url)}: sha256 {digest[:16]}... does not match the expected {f.sha256[:16]}...; "
                              "the download was discarded")
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a model file is as readable as any other
        os.replace(tmp, f.dest)
        ok = True
        st = f.dest.stat()
        stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest, "sha256_checked": bool(f.sha256),
                 "url": short(f.url, 500), "downloaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        sp = f.dest.with_name(f.dest.name + STAMP)
        sp.write_text(json.dumps(stamp), "utf-8")
        f.cached = True
        if progress:
            progress(done + got, total)
    except OSError as e:
        raise SizeupError(f"{f.dest}: cannot write the download: {e.strerror or e}") from None
    finally:
        if not ok:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return done + got
