"""Bounded HTTP reads: every request has a byte budget, a per-request timeout and a deadline.

Remote servers are untrusted. A server may ignore ``Range`` and start sending a 40 GB file, lie in
``Content-Length``, stall, drip one byte at a time, send an endless body or redirect in a loop.
This module turns each of those into one :class:`RemoteError` line instead of a download or a
hang:

* a :class:`Budget` (one per model) caps the body bytes read and the requests made, and carries
  an overall deadline; each socket operation waits at most ``min(request_timeout, time left)``;
* a Range request must be answered ``206`` with a matching ``Content-Range``; a ``200`` carrying
  more than the asked span is refused before its body is read (only a file no larger than the
  span may come back whole);
* bodies are read in bounded chunks (``read1``: one socket read each, so a drip cannot stretch a
  read past the deadline) and never past the asked length, the budget or ``Content-Length``;
* redirects are followed by hand, at most :data:`MAX_REDIRECTS`, loops detected, only to http(s),
  and credentials are sent only to the host they belong to (never to the CDN a Hub file
  redirects to, never to an arbitrary URL).

Uses urllib (proxies from the environment work) with redirects disabled so each hop is checked.
"""

from __future__ import annotations

import os
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urljoin, urlsplit

from ..errors import SizeupError

MAX_REDIRECTS = 5
CHUNK = 256 * 1024
DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024  # per model; the largest real GGUF headers are ~20 MB
DEFAULT_DEADLINE_S = 60.0  # per model, all requests together
DEFAULT_REQUEST_TIMEOUT_S = 15.0  # per connect / socket read
MAX_ERROR_BODY = 4096
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


class RemoteError(SizeupError):
    """A remote read that failed; the message is the one line the user sees."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _env_float(name: str, default: float) -> float:
    try:
        v = float(os.environ.get(name, "") or default)
    except ValueError:
        return default
    return v if v > 0 else default


@dataclass
class Budget:
    """Limits for all the reads about one model, and what they used.

    Defaults come from ``SIZEUP_REMOTE_MAX_BYTES``, ``SIZEUP_REMOTE_DEADLINE`` and
    ``SIZEUP_REMOTE_TIMEOUT`` when set.
    """

    max_bytes: int = 0
    deadline_s: float = 0.0
    request_timeout_s: float = 0.0
    max_requests: int = 200
    used_bytes: int = 0
    requests: int = 0
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not self.max_bytes:
            self.max_bytes = int(_env_float("SIZEUP_REMOTE_MAX_BYTES", DEFAULT_BUDGET_BYTES))
        if not self.deadline_s:
            self.deadline_s = _env_float("SIZEUP_REMOTE_DEADLINE", DEFAULT_DEADLINE_S)
        if not self.request_timeout_s:
            self.request_timeout_s = _env_float("SIZEUP_REMOTE_TIMEOUT", DEFAULT_REQUEST_TIMEOUT_S)

    def time_left(self) -> float:
        return self.deadline_s - (time.monotonic() - self.started)

    def bytes_left(self) -> int:
        return self.max_bytes - self.used_bytes

    def socket_timeout(self, what: str) -> float:
        left = self.time_left()
        if left <= 0:
            raise RemoteError(f"{what}: gave up after the {self.deadline_s:g} s deadline")
        return max(0.05, min(self.request_timeout_s, left))

    def stats(self) -> dict[str, float | int]:
        return {"bytes": self.used_bytes, "requests": self.requests,
                "seconds": round(time.monotonic() - self.started, 3)}


@dataclass
class Response:
    url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    total_size: int | None = None  # the whole file's size, from Content-Range (or Content-Length on a 200)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102, ANN001
        return None  # 3xx surfaces as HTTPError; fetch() follows it after checking


_OPENER = urllib.request.build_opener(_NoRedirect())


def short(url: str, n: int = 120) -> str:
    """A URL for messages: no query string (signed CDN URLs are long and carry secrets)."""
    s = urlsplit(url)
    text = f"{s.scheme}://{s.netloc}{s.path}" if s.scheme else url
    return text if len(text) <= n else text[: n - 3] + "..."


def _status_error(url: str, status: int, headers: dict[str, str], body: bytes) -> RemoteError:
    code = headers.get("x-error-code", "")
    detail = " ".join((headers.get("x-error-message") or body[:300].decode("utf-8", "replace")).split())[:200]
    where = short(url)
    login = "log in with `hf auth login` (huggingface-cli login) or set HF_TOKEN"
    if status == 401 or (status == 403 and code in ("GatedRepo", "")) or code == "GatedRepo":
        if code == "RepoNotFound":
            return RemoteError(f"{where}: repository not found (or private: {login})", status)
        what = "gated" if code == "GatedRepo" or "gated" in detail.lower() else "private or gated"
        return RemoteError(f"{where}: HTTP {status}, the repository is {what}: {login}, and accept its licence on the model page", status)
    if status == 403:
        return RemoteError(f"{where}: HTTP 403 forbidden{': ' + detail if detail else ''}", status)
    if status == 404:
        kind = {"RepoNotFound": "repository not found", "RevisionNotFound": "revision not found",
                "EntryNotFound": "file not found in the repository"}.get(code, "not found")
        return RemoteError(f"{where}: HTTP 404, {kind}", status)
    if status == 429:
        after = headers.get("retry-after", "")
        hint = f"; retry after {after[:20]} s" if after else "; wait a minute, or log in (HF_TOKEN) for a higher limit"
        return RemoteError(f"{where}: HTTP 429, rate limited{hint}", status)
    if status == 416:
        return RemoteError(f"{where}: HTTP 416, the server refused the byte range (file smaller than it claims?)", status)
    if 500 <= status < 600:
        return RemoteError(f"{where}: HTTP {status}, server error{': ' + detail[:120] if detail else ''}; try again later", status)
    return RemoteError(f"{where}: unexpected HTTP {status}{': ' + detail[:120] if detail else ''}", status)


def _set_timeout(resp, t: float) -> None:
    sock = getattr(getattr(getattr(resp, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        try:
            sock.settimeout(t)
        except OSError:
            pass


def _network_error(url: str, e: BaseException, budget: Budget) -> RemoteError:
    reason = getattr(e, "reason", e)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        if budget.time_left() <= 0:
            return RemoteError(f"{short(url)}: gave up after the {budget.deadline_s:g} s deadline")
        return RemoteError(f"{short(url)}: timed out (no answer within {budget.request_timeout_s:g} s)")
    if isinstance(reason, socket.gaierror):
        return RemoteError(f"{short(url)}: cannot resolve host (no network? set HF_HUB_OFFLINE=1 or --offline to use cached facts)")
    if isinstance(reason, ConnectionRefusedError):
        return RemoteError(f"{short(url)}: connection refused (no network or wrong endpoint?)")
    if isinstance(reason, OSError):
        return RemoteError(f"{short(url)}: network error: {reason.strerror or reason} (no network?)")
    return RemoteError(f"{short(url)}: network error: {' '.join(str(reason).split())[:160]}")


def fetch(url: str, budget: Budget, *, byte_range: tuple[int, int] | None = None, max_body: int | None = None,
          method: str = "GET", headers: dict[str, str] | None = None, auth: dict[str, str] | None = None,
          auth_host: str | None = None, sink: Callable[[bytes], None] | None = None) -> Response:
    """One bounded request (following redirects); raises :class:`RemoteError`.

    ``byte_range`` is ``(start, end)`` inclusive. ``max_body`` caps a non-range body. ``auth``
    headers are sent only while the request goes to ``auth_host``. With ``sink``, body chunks go
    to it as they arrive (a download) instead of into ``Response.body``, after the same checks.
    """
    seen: set[str] = set()
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        scheme = urlsplit(current).scheme.lower()
        if scheme not in ("http", "https"):
            raise RemoteError(f"{short(url)}: redirected to a non-HTTP URL ({scheme or 'relative'}); refusing")
        if current in seen:
            raise RemoteError(f"{short(url)}: redirect loop (back to {short(current, 80)})")
        seen.add(current)
        if budget.requests >= budget.max_requests:
            raise RemoteError(f"{short(url)}: more than {budget.max_requests} requests for one model; giving up")
        hdrs = {"Accept-Encoding": "identity", "User-Agent": "sizeup"}
        hdrs.update(headers or {})
        if auth and auth_host and (urlsplit(current).hostname or "").lower() == auth_host.lower():
            hdrs.update(auth)
        if byte_range is not None:
            hdrs["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        req = urllib.request.Request(current, method=method, headers=hdrs)
        budget.requests += 1
        try:
            resp = _OPENER.open(req, timeout=budget.socket_timeout(short(url)))
        except urllib.error.HTTPError as e:
            status = e.code
            rh = {k.lower(): v for k, v in (e.headers or {}).items()}
            if status in (301, 302, 303, 307, 308) and rh.get("location"):
                e.close()
                current = urljoin(current, rh["location"].strip())
                continue
            body = b""
            try:
                _set_timeout(e, min(2.0, budget.socket_timeout(short(url))))
                body = e.read1(MAX_ERROR_BODY) if hasattr(e, "read1") else e.read(MAX_ERROR_BODY)
            except (OSError, ValueError, RemoteError, AttributeError):
                pass
            finally:
                e.close()
            raise _status_error(url, status, rh, body) from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise _network_error(url, e, budget) from None
        with resp:
            return _read(url, resp, budget, byte_range, max_body, method, sink)
    raise RemoteError(f"{short(url)}: more than {MAX_REDIRECTS} redirects; giving up")


def _read(url: str, resp, budget: Budget, byte_range, max_body, method, sink=None) -> Response:
    status = resp.status
    rh = {k.lower(): v for k, v in resp.headers.items()}
    final = resp.geturl()
    clen_text = rh.get("content-length")
    clen: int | None = None
    if clen_text is not None:
        if not clen_text.strip().isdigit() or len(clen_text.strip()) > 19:
            raise RemoteError(f"{short(url)}: bad Content-Length {clen_text[:30]!r}")
        clen = int(clen_text)
    total: int | None = None
    if byte_range is not None:
        start, end = byte_range
        want = end - start + 1
        if status == 206:
            m = _CONTENT_RANGE.match(rh.get("content-range", ""))
            if not m or int(m[1]) != start or int(m[2]) > end or int(m[2]) < start:
                raise RemoteError(f"{short(url)}: answered bytes {rh.get('content-range', '?')[:60]!r} to a request for {start}-{end}")
            want = int(m[2]) - start + 1
            total = None if m[3] == "*" else int(m[3])
            if total is not None and int(m[2]) >= total:
                raise RemoteError(f"{short(url)}: Content-Range {rh['content-range'][:60]!r} ends past the file size")
        elif status == 200:
            # Range ignored: acceptable only when the whole file is no bigger than the asked span.
            if start != 0 or clen is None or clen > want:
                size = f"the whole {clen}-byte file" if clen is not None else "the whole file (size not given)"
                raise RemoteError(f"{short(url)}: server ignores HTTP Range requests (answered 200 with {size}); "
                                  "refusing to download it to read a header")
            want = clen
            total = clen
        else:
            raise RemoteError(f"{short(url)}: unexpected HTTP {status} to a Range request")
        if clen is not None and clen != want:
            raise RemoteError(f"{short(url)}: bad Content-Length {clen} for a {want}-byte range")
        limit = want
    else:
        if status != 200:
            raise RemoteError(f"{short(url)}: unexpected HTTP {status}")
        cap = max_body if max_body is not None else budget.bytes_left()
        limit = min(cap, budget.bytes_left())
        if clen is not None and clen > limit:
            why = f"the {cap}-byte limit for this request" if limit == cap else f"the {budget.max_bytes}-byte budget for one model"
            raise RemoteError(f"{short(url)}: Content-Length {clen} is over {why}")
        total = clen
    if method == "HEAD":
        return Response(final, status, rh, b"", total)
    if limit > budget.bytes_left():
        raise RemoteError(f"{short(url)}: reading {limit} more bytes would pass the {budget.max_bytes}-byte budget for one model "
                          "(SIZEUP_REMOTE_MAX_BYTES raises it)")
    expect = clen if clen is not None else limit
    buf = bytearray()
    got = 0
    while True:
        _set_timeout(resp, budget.socket_timeout(short(url)))
        try:
            chunk = resp.read1(min(CHUNK, limit + 1 - got))
        except (socket.timeout, TimeoutError) as e:
            raise _network_error(url, e, budget) from None
        except Exception as e:  # http.client.IncompleteRead and friends: one line
            raise RemoteError(f"{short(url)}: connection broke while reading ({type(e).__name__})") from None
        if not chunk:
            break
        got += len(chunk)
        budget.used_bytes += len(chunk)
        if got > limit:  # reads ask for limit + 1 bytes, so one byte too many shows an overrun
            raise RemoteError(f"{short(url)}: server sent more than the {limit} bytes asked for (endless body?); stopped")
        if sink is not None:
            sink(chunk)
        else:
            buf += chunk
    if clen is not None and got < clen:
        raise RemoteError(f"{short(url)}: connection closed after {got} of {clen} bytes")
    if byte_range is not None and got < expect:
        raise RemoteError(f"{short(url)}: got {got} of {expect} bytes asked for")
    return Response(final, status, rh, bytes(buf), total)


class RangeFile:
    """A read-only, seekable view of a remote file made of Range requests.

    Bytes are cached contiguously from 0 and each fetch grows what is held by at least half, so a
    parser that grows its buffer step by step (the GGUF header reader) costs O(log n) round trips
    and reads at most ~50% past the header's end. The
    URL a redirect leads to is reused for the following reads (the Hub's CDN), saving a hop each.
    """

    def __init__(self, url: str, budget: Budget, *, size: int | None = None, first: int = 1 << 20,
                 auth: dict[str, str] | None = None, auth_host: str | None = None) -> None:
        self.url = url
        self.budget = budget
        self.size = size
        self.buf = bytearray()
        self.pos = 0
        self.first = first
        self.auth = auth
        self.auth_host = auth_host
        self._direct: str | None = None  # the redirect target, reused

    def _fetch(self, start: int, end: int) -> bytes:
        url = self._direct or self.url
        try:
            r = fetch(url, self.budget, byte_range=(start, end), auth=self.auth, auth_host=self.auth_host)
        except RemoteError as e:
            if self._direct is None or e.status not in (401, 403, 404, 410):
                raise
            self._direct = None  # an expired signed URL: go through the original again
            r = fetch(self.url, self.budget, byte_range=(start, end), auth=self.auth, auth_host=self.auth_host)
        if r.url != self.url:
            self._direct = r.url
        if r.total_size is not None:
            if self.size is not None and self.size != r.total_size:
                raise RemoteError(f"{short(self.url)}: server says the file has {r.total_size} bytes, the listing said {self.size}")
            self.size = r.total_size
        return r.body

    def open(self) -> int:
        """Fetch the first bytes and learn the size; returns the size."""
        if not self.buf:
            want = min(self.first, max(1, self.budget.bytes_left()))
            want = want if self.size is None else min(want, self.size)
            self.buf += self._fetch(0, max(want, 1) - 1)
        if self.size is None:
            raise RemoteError(f"{short(self.url)}: the server does not say how large the file is (no Content-Range total)")
        return self.size

    def ensure(self, end: int) -> None:
        """Hold bytes [0, end)."""
        have = len(self.buf)
        if end <= have:
            return
        size = self.open() if self.size is None else self.size
        target = min(size, max(end, have + have // 2, self.first))
        if target <= have:
            return
        left = self.budget.bytes_left()
        if end - have > left:  # refuse before asking, so not even the server's send buffer fills
            raise RemoteError(f"{short(self.url)}: the header needs more than the {self.budget.max_bytes}-byte budget "
                              "for one model (SIZEUP_REMOTE_MAX_BYTES raises it)")
        self.buf += self._fetch(have, min(target, have + left) - 1)

    # file protocol used by the GGUF header reader
    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos if whence == 0 else (self.pos + pos if whence == 1 else (self.size or 0) + pos)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        size = self.open()
        end = size if n is None or n < 0 else min(size, self.pos + n)
        self.ensure(end)
        out = bytes(self.buf[self.pos:end])
        self.pos += len(out)
        return out
