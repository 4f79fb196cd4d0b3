"""A local HTTP server that speaks the Hugging Face Hub's public endpoints, plus hostile servers.

Serves real files from disk:

* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` (``?blobs=true`` adds
  sizes): ``id``, ``sha``, ``siblings``, ``tags``, ``pipeline_tag``, ``cardData``, ``gated``;
* ``GET /api/models/{repo}/tree/{rev}``: the file tree;
* ``GET /api/models?search=...&limit=N``: search (substring of the id, case-insensitive);
* ``HEAD|GET /{repo}/resolve/{rev}/{file}`` with ``Range``, ``ETag``, ``X-Repo-Commit``,
  ``X-Linked-Size``; large ("LFS") files redirect to ``/cdn/...`` like the Hub's CDN;
* a fake Ollama registry: ``/v2/{ns}/{model}/manifests/{tag}`` and ``/v2/{ns}/{model}/blobs/{digest}``.

Every body byte sent is counted per path (``bytes_sent``) and every request logged, so tests can
check what a client transferred. Hostile behaviour is chosen per server with ``mode``.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_THRESHOLD = 10 * 1024 * 1024  # files above this redirect to the CDN path, like the Hub


@dataclass
class Repo:
    files: dict[str, Path | bytes]
    sha: str = "a" * 40
    tags: list[str] = field(default_factory=list)
    gated: bool = False  # anonymous requests get 401 GatedRepo
    license: str | None = "apache-2.0"


class HubState:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.ollama: dict[str, tuple[str, Path]] = {}  # "ns/model:tag" -> (digest, file)
        self.bytes_sent: dict[str, int] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, range)
        self.lock = threading.Lock()
        self.mode = "normal"
        self.token: str | None = None  # required for gated repos
        self.auth_seen: list[tuple[str, str]] = []  # (host header, path) of requests that carried Authorization
        self.cdn_host = "localhost"  # LFS files redirect to another host name, like the Hub's CDN

    def count(self, path: str, n: int) -> None:
        with self.lock:
            self.bytes_sent[path] = self.bytes_sent.get(path, 0) + n

    def total_bytes(self, needle: str = "") -> int:
        return sum(v for k, v in self.bytes_sent.items() if needle in k)

    def reset(self) -> None:
        with self.lock:
            self.bytes_sent.clear()
            self.requests.clear()
            self.auth_seen.clear()


def _size(data: Path | bytes) -> int:
    return data.stat().st_size if isinstance(data, Path) else len(data)


def _read(data: Path | bytes, start: int, n: int) -> bytes:
    if isinstance(data, bytes):
        return data[start:start + n]
    with open(data, "rb") as f:
        f.seek(start)
        return f.read(n)


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _sha256(data: Path | bytes) -> str:
    """The content's sha256, as the Hub's ``lfs.sha256`` (the fetcher's .sha256 stamp when present)."""
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    st = data.stat()
    key = (str(data), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        stamp = data.with_name(data.name + ".sha256")
        word = stamp.read_text().split()[0] if stamp.is_file() and stamp.read_text().split() else ""
        if not re.fullmatch(r"[0-9a-f]{64}", word):
            h = hashlib.sha256()
            with open(data, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            word = h.hexdigest()
        _SHA_CACHE[key] = word
    return _SHA_CACHE[key]


def _etag(repo: str, name: str, data: Path | bytes) -> str:
    return hashlib.sha256(f"{repo}/{name}/{_size(data)}".encode()).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    state: HubState
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # noqa: D102
        pass

    # --- helpers ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head:
            # counted before the write: a client may finish reading before write() returns here
            self.state.count(urlsplit(self.path).path, len(body))
            self.wfile.write(body)

    def _json(self, obj, status: int = 200, head: bool = False) -> None:
        self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"}, head)

    def _error(self, status: int, code: str, msg: str = "") -> None:
        self._send(status, json.dumps({"error": msg or code}).encode(),
                   {"X-Error-Code": code, "X-Error-Message": msg or code, "Content-Type": "application/json"})

    def _authorized(self, repo: Repo) -> bool:
        if not repo.gated:
            return True
        return self.headers.get("Authorization") == f"Bearer {self.state.token}"

    # --- dispatch --------------------------------------------------------------------------
    def do_HEAD(self):  # noqa: N802
        self._route(head=True)

    def do_GET(self):  # noqa: N802
        self._route(head=False)

    def _route(self, head: bool) -> None:
        st = self.state
        with st.lock:
            st.requests.append((self.command, self.path, self.headers.get("Range")))
            if self.headers.get("Authorization"):
                st.auth_seen.append((self.headers.get("Host", ""), self.path))
        path = unquote(urlsplit(self.path).path)
        q = parse_qs(urlsplit(self.path).query)
        if st.mode != "normal" and not path.startswith("/api/models"):
            return self._hostile(st.mode, path)
        if st.mode != "normal" and st.mode.startswith("api-"):
            return self._hostile(st.mode[4:], path)
        if path == "/api/models":
            return self._search(q)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m:
            return self._info(m[1], m[2], "blobs" in q)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path)
        if m:
            return self._tree(m[1])
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self._resolve(m[1], m[2], m[3], head)
        m = re.fullmatch(r"/cdn/([^/]+/[^/]+)/(.+)", path)
        if m:
            repo = st.repos.get(m[1])
            if repo and m[2] in repo.files:
                return self._file(repo, m[1], m[2], head, redirect=False)
        m = re.fullmatch(r"/v2/([^/]+)/([^/]+)/manifests/([^/]+)", path)
        if m:
            return self._manifest(f"{m[1]}/{m[2]}:{m[3]}")
        m = re.fullmatch(r"/v2/([^/]+)/([^/]+)/blobs/(sha256:[0-9a-f]{64})", path)
        if m:
            return self._blob(m[3], head)
        m = re.fullmatch(r"/ollama-cdn/(sha256:[0-9a-f]{64})", path)
        if m:
            return self._blob(m[1], head, cdn=True)
        self._error(404, "EntryNotFound", "no such route")

    # --- the Hub -----------------------------------------------------------------------------
    def _model_json(self, rid: str, repo: Repo, blobs: bool) -> dict:
        sib = []
        for name, data in sorted(repo.files.items()):
            s = {"rfilename": name}
            if blobs:
                s["size"] = _size(data)
                s["blobId"] = _etag(rid, name, data)[:40]
                if _size(data) > LFS_THRESHOLD or name.endswith((".gguf", ".safetensors")):
                    s["lfs"] = {"size": _size(data), "sha256": _sha256(data), "pointerSize": 134}
            sib.append(s)
        return {"_id": rid, "id": rid, "modelId": rid, "sha": repo.sha, "siblings": sib, "tags": repo.tags,
                "pipeline_tag": "text-generation", "private": False, "gated": "auto" if repo.gated else False,
                "downloads": 1000 - len(rid), "likes": 3, "lastModified": "2026-01-01T00:00:00.000Z",
                "cardData": {"license": repo.license} if repo.license else {}}

    def _info(self, rid: str, rev: str | None, blobs: bool) -> None:
        repo = self.state.repos.get(rid)
        if repo is None:
            return self._error(401 if not self.headers.get("Authorization") else 404, "RepoNotFound", "Repository not found")
        if not self._authorized(repo):
            return self._error(401, "GatedRepo", "Access to model is restricted. You must have access to it and be authenticated.")
        if rev not in (None, "main", repo.sha):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        self._json(self._model_json(rid, repo, blobs))

    def _tree(self, rid: str) -> None:
        repo = self.state.repos.get(rid)
        if repo is None:
            return self._error(404, "RepoNotFound")
        self._json([{"type": "file", "path": n, "size": _size(d), "oid": _etag(rid, n, d)[:40]} for n, d in sorted(repo.files.items())])

    def _search(self, q: dict) -> None:
        text = (q.get("search") or [""])[0].lower()
        limit = int((q.get("limit") or ["20"])[0])
        hits = [self._model_json(rid, r, False) for rid, r in sorted(self.state.repos.items()) if text in rid.lower()]
        for h in hits:
            h.pop("siblings")
        self._json(hits[:limit])

    def _resolve(self, rid: str, rev: str, name: str, head: bool) -> None:
        repo = self.state.repos.get(rid)
        if repo is None:
            return self._error(401, "RepoNotFound", "Repository not found")
        if not self._authorized(repo):
            return self._error(401, "GatedRepo", "Access restricted")
        if rev not in ("main", repo.sha):
            return self._error(404, "RevisionNotFound")
        if name not in repo.files:
            return self._error(404, "EntryNotFound", f"{name} does not exist")
        self._file(repo, rid, name, head, redirect=_size(repo.files[name]) > LFS_THRESHOLD)

    def _file(self, repo: Repo, rid: str, name: str, head: bool, redirect: bool) -> None:
        data = repo.files[name]
        size = _size(data)
        common = {"ETag": f'"{_etag(rid, name, data)}"', "X-Repo-Commit": repo.sha, "Accept-Ranges": "bytes"}
        if redirect:
            common["X-Linked-Size"] = str(size)
            common["X-Linked-ETag"] = common["ETag"]
            common["Location"] = f"http://{self.state.cdn_host}:{self.server.server_address[1]}/cdn/{rid}/{name}"
            return self._send(302, b"", common, head)
        self._ranged(data, common, head)

    def _ranged(self, data: Path | bytes, headers: dict[str, str], head: bool) -> None:
        size = _size(data)
        rng = self.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
        if not m:
            if head:
                return self._send(200, b"", {**headers, "Content-Length": str(size)}, head=True)
            return self._send(200, _read(data, 0, size), headers)
        start = int(m[1])
        end = min(int(m[2]) if m[2] else size - 1, size - 1)
        if start >= size:
            return self._send(416, b"", {"Content-Range": f"bytes */{size}"})
        body = b"" if head else _read(data, start, end - start + 1)
        self._send(206, body, {**headers, "Content-Range": f"bytes {start}-{end}/{size}",
                               "Content-Length": str(end - start + 1)}, head)

    # --- Ollama registry ---------------------------------------------------------------------
    def _manifest(self, key: str) -> None:
        hit = self.state.ollama.get(key)
        if hit is None:
            return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', {"Content-Type": "application/json"})
        digest, f = hit
        self._json({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:" + "0" * 64, "size": 2},
                    "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": f.stat().st_size},
                               {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "1" * 64, "size": 10}]})

    def _blob(self, digest: str, head: bool, cdn: bool = False) -> None:
        f = next((f for d, f in self.state.ollama.values() if d == digest), None)
        if f is None:
            return self._send(404, b"")
        if not cdn:
            return self._send(307, b"", {"Location": f"/ollama-cdn/{digest}"}, head)
        self._ranged(f, {"ETag": f'"{digest}"'}, head)

    # --- hostile servers ---------------------------------------------------------------------
    def _hostile(self, mode: str, path: str) -> None:
        if mode in ("401", "403", "404", "429", "500"):
            code = {"401": "GatedRepo", "404": "EntryNotFound"}.get(mode, "")
            h = {"X-Error-Code": code} if code else {}
            if mode == "429":
                h["Retry-After"] = "30"
            return self._send(int(mode), b'{"error":"no"}', h)
        if mode == "ignore-range":  # 200 with a huge body, Range ignored
            size = 10 * 1024**3
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            return self._spew(size)
        if mode == "wrong-length":  # 206 but claims more bytes than the range
            self.send_response(206)
            self.send_header("Content-Range", "bytes 0-1048575/9999999999")
            self.send_header("Content-Length", str(50 * 1024**3))
            self.end_headers()
            return self._spew(50 * 1024**3)
        if mode == "short-body":  # claims a length, then closes early
            self.send_response(206)
            self.send_header("Content-Range", "bytes 0-1048575/9999999999")
            self.send_header("Content-Length", "1048576")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"GGUF" + b"\0" * 100)
            self.close_connection = True
            return None
        if mode == "endless":  # no length, a chunked body that never ends (206 to a Range request, else 200)
            self.send_response(206 if self.headers.get("Range") else 200)
            if self.headers.get("Range"):
                self.send_header("Content-Range", "bytes 0-1048575/9999999999")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"GGUF" + b"\x03" * 65532
            try:
                for _ in range(100_000):
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.state.count(path, len(chunk))
            except OSError:
                pass
            self.close_connection = True
            return None
        if mode == "lie-length":  # a whole-file GET answered with a Content-Length the listing contradicts
            self.send_response(200)
            self.send_header("Content-Length", str(3 * 1024**3))
            self.end_headers()
            return self._spew(3 * 1024**3)
        if mode == "stall":  # headers never come
            time.sleep(30)
            self.close_connection = True
            return None
        if mode == "drip":  # a valid start, then one byte every 0.5 s (a whole-file GET: 200, no length)
            self.send_response(206 if self.headers.get("Range") else 200)
            if self.headers.get("Range"):
                self.send_header("Content-Range", "bytes 0-1048575/9999999999")
                self.send_header("Content-Length", "1048576")
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            try:
                for _ in range(120):
                    self.wfile.write(b"G")
                    self.wfile.flush()
                    self.state.count(path, 1)
                    time.sleep(0.5)
            except OSError:
                pass
            self.close_connection = True
            return None
        if mode == "redirect-loop":
            n = int(re.sub(r"\D", "", path[-3:]) or 0)
            return self._send(302, b"", {"Location": f"/loop/{(n + 1) % 2}"})
        if mode == "redirect-many":
            n = int(re.sub(r"\D", "", path[-3:]) or 0)
            return self._send(302, b"", {"Location": f"/hop/{n + 1:03d}"})
        if mode == "not-gguf-html":
            return self._send(206, b"<!DOCTYPE html><html>" + b" " * 100, {"Content-Range": "bytes 0-120/121"})
        raise AssertionError(mode)

    def _spew(self, size: int) -> None:
        chunk = b"GGUF" + b"\x03" * (256 * 1024 - 4)
        sent = 0
        try:
            while sent < size:
                self.wfile.write(chunk)
                sent += len(chunk)
                self.state.count("spew", len(chunk))
        except OSError:
            pass
        self.close_connection = True


class HubServer:
    """Context manager: ``with HubServer() as hub: hub.url, hub.state``."""

    def __init__(self) -> None:
        self.state = HubState()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> HubServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
