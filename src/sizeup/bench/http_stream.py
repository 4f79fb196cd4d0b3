"""A small, bounded streaming HTTP client for benchmarking model servers (stdlib only).

Why not httpx or requests: sizeup must time the arrival of every streamed token, and it talks to
servers it does not control (a misconfigured proxy, a half-broken build, a stranger's endpoint).
``http.client`` gives direct control over the three things that matter here, with no dependency:

* a timeout on *every* socket operation (connect and each read), so a server that stops sending
  cannot hang a benchmark;
* a wall-clock *deadline* per request: a server that drips one byte every second, or sends
  keep-alive comments forever, passes every per-read timeout, so a watchdog timer shuts the
  socket down when the deadline passes and the request fails with :class:`DeadlineExceeded`;
* bounded reads: a line longer than :data:`MAX_LINE_BYTES` or a response larger than
  :data:`MAX_RESPONSE_BYTES` is an error, not a memory blow-up;
* the exact moment each line arrives (``time.perf_counter`` right after ``readline``).

Two stream formats are parsed, both line-based:

* Server-Sent Events (OpenAI-compatible ``stream: true``): ``data: {...}`` lines, events
  separated by blank lines, ``data: [DONE]`` at the end (WHATWG HTML "server-sent events":
  a field line is ``name: value``, one optional space after the colon, ``:`` starts a comment,
  several ``data`` lines of one event join with ``\\n``);
* newline-delimited JSON (Ollama's native ``/api/generate``): one JSON object per line.

Every failure is an :class:`EndpointError` (a :class:`~sizeup.errors.SizeupError`) with one line
of text, so the CLI can print it as is and a load runner can count it as a failed request.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlsplit

from ..errors import SizeupError

MAX_LINE_BYTES = 1 << 20  # one SSE/NDJSON line; real token chunks are < 2 kB
MAX_RESPONSE_BYTES = 64 << 20  # one streamed response (a 32k-token answer is ~3 MB of chunks)
MAX_JSON_BYTES = 8 << 20  # a plain JSON answer (/v1/models, /api/tags): hundreds of models fit
MAX_ERROR_BYTES = 64 << 10  # body of an HTTP error we only want the first line of
MAX_URL_CHARS = 2048
MAX_MESSAGE_CHARS = 300  # a server's error message as shown to the user


def _HEADER_OK(v: str) -> bool:  # noqa: N802 - used like a constant predicate
    """Printable ASCII only (plus space): no CR/LF header injection, nothing http.client rejects."""
    return isinstance(v, str) and len(v) <= 8192 and all(32 <= ord(c) < 127 for c in v)


class EndpointError(SizeupError):
    """The endpoint could not be reached, refused the request or sent something unusable."""


class ConnectFailed(EndpointError):
    """Connection refused, DNS failure, connect or read timeout."""


class HTTPStatusError(EndpointError):
    """An HTTP status >= 400, with the server's own message (first line) when it sent one."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        text = f"HTTP {status} {reason}".rstrip()
        super().__init__(f"{text}: {message}" if message else text)
        self.status = status
        self.server_message = message


class DeadlineExceeded(ConnectFailed):
    """The request's wall-clock deadline passed (dripping or endless responses)."""


class MalformedStream(EndpointError):
    """A stream that breaks its protocol: non-JSON data, missing fields, truncation, oversize."""


@dataclass(frozen=True)
class BaseURL:
    """Where a server lives: ``scheme://host:port`` plus a path prefix (``/v1`` stripped off
    elsewhere). Parsed once so every request reuses the checked parts."""

    scheme: str
    host: str
    port: int
    prefix: str  # "" or "/something" without trailing slash

    def __str__(self) -> str:
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}{self.prefix}"

    def path(self, route: str) -> str:
        return self.prefix + route


def parse_base_url(text: str) -> tuple[BaseURL, str]:
    """``"http://127.0.0.1:8080/v1/chat/completions"`` -> (BaseURL(..., prefix=""), "/v1/chat/completions").

    Returns the base and the path the user typed (without query); the caller decides what a
    path such as ``/v1`` or ``/api/generate`` means. A bare ``host:port`` gets ``http://``.
    """
    raw = (text or "").strip()
    if not raw:
        raise EndpointError("--endpoint is empty (use e.g. http://127.0.0.1:8080)")
    if len(raw) > MAX_URL_CHARS:
        raise EndpointError(f"--endpoint is {len(raw)} characters long; at most {MAX_URL_CHARS}")
    if "://" not in raw:
        raw = "http://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as e:
        raise EndpointError(f"not a valid URL: '{text}' ({e})") from None
    if parts.scheme not in ("http", "https"):
        raise EndpointError(f"unsupported URL scheme '{parts.scheme}' in '{text}' (use http:// or https://)")
    if not parts.hostname:
        raise EndpointError(f"no host in URL '{text}'")
    if parts.username or parts.password:
        raise EndpointError("credentials in the URL are not supported; use --api-key")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    path = parts.path.rstrip("/")
    return BaseURL(parts.scheme, parts.hostname, port, ""), path


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:MAX_MESSAGE_CHARS] + ("..." if len(line) > MAX_MESSAGE_CHARS else "")
    return ""


def error_message(body: bytes) -> str:
    """The first line of a server's error message from an error body.

    Servers disagree on the shape: OpenAI and llama-server send ``{"error": {"message": ...}}``,
    Ollama ``{"error": "..."}``, FastAPI ``{"detail": ...}``, vLLM ``{"message": ...}`` in some
    versions; anything else is shown as (the first line of) plain text.
    """
    text = body[:MAX_ERROR_BYTES].decode("utf-8", "replace")
    try:
        obj = json.loads(text)
    except ValueError:
        return _first_line(text)
    return _first_line(message_from_json(obj) or text)


def message_from_json(obj: Any) -> str | None:
    """The human message inside a JSON error object, or None when there is none."""
    if isinstance(obj, dict):
        for key in ("error", "detail", "message", "msg"):
            if key in obj:
                v = obj[key]
                if isinstance(v, str):
                    return v
                inner = message_from_json(v)
                if inner:
                    return inner
                return json.dumps(v)[:MAX_MESSAGE_CHARS]
    if isinstance(obj, list) and obj:
        return message_from_json(obj[0])
    return None


class _Watchdog:
    """Shuts a connection's socket down at a wall-clock deadline, unblocking any read in progress."""

    def __init__(self, conn: http.client.HTTPConnection, deadline: float, what: str) -> None:
        self.sock = conn.sock  # kept: http.client drops conn.sock when the response takes it over
        self.fired = False
        self.budget = max(0.0, deadline - time.perf_counter())
        self.what = what
        self._timer = threading.Timer(self.budget, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()

    def error(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"{self.what}: no complete answer within its {self.budget:.3g} s deadline "
                                "(the server sends too slowly or never ends)")


class Response:
    """An open HTTP response whose body is read line by line, within bounds and timeouts."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, what: str,
                 watchdog: _Watchdog | None = None) -> None:
        self._conn = conn
        self._resp = resp
        self._watchdog = watchdog
        self.what = what
        self.status = resp.status
        self.content_type = (resp.getheader("Content-Type") or "").lower()
        self.bytes_read = 0

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        try:
            self._resp.close()
        finally:
            self._conn.close()

    def _check_deadline(self) -> None:
        if self._watchdog is not None and self._watchdog.fired:
            raise self._watchdog.error()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lines(self, max_line: int = MAX_LINE_BYTES, max_total: int = MAX_RESPONSE_BYTES) -> Iterator[tuple[bytes, float]]:
        """Yield ``(line without end-of-line, perf_counter at arrival)`` until the body ends.

        ``readline`` on an ``HTTPResponse`` decodes chunked transfer encoding and honours the
        socket timeout set at connect time, so a stalled server raises ``ConnectFailed`` after
        the timeout instead of blocking.
        """
        while True:
            self._check_deadline()
            try:
                raw = self._resp.readline(max_line + 1)
            except (socket.timeout, TimeoutError):
                self._check_deadline()
                raise ConnectFailed(f"{self.what}: timed out waiting for the server to send more") from None
            except (http.client.IncompleteRead, http.client.HTTPException, ConnectionError, OSError, ValueError) as e:
                self._check_deadline()
                raise MalformedStream(f"{self.what}: stream broken off ({type(e).__name__})") from None
            now = time.perf_counter()
            if not raw or not raw.endswith(b"\n"):
                self._check_deadline()  # a read cut short by the watchdog is a deadline, not an end
            if not raw:
                return
            self.bytes_read += len(raw)
            if self.bytes_read > max_total:
                raise MalformedStream(f"{self.what}: response larger than {max_total >> 20} MiB")
            if len(raw) > max_line and not raw.endswith(b"\n"):
                raise MalformedStream(f"{self.what}: a line longer than {max_line >> 10} KiB")
            yield raw.rstrip(b"\r\n"), now

    def read_all(self, max_bytes: int = MAX_JSON_BYTES) -> bytes:
        try:
            data = self._resp.read(max_bytes + 1)
        except (socket.timeout, TimeoutError):
            self._check_deadline()
            raise ConnectFailed(f"{self.what}: timed out reading the response") from None
        except (http.client.HTTPException, ConnectionError, OSError, ValueError) as e:
            self._check_deadline()
            raise MalformedStream(f"{self.what}: response broken off ({type(e).__name__})") from None
        self._check_deadline()
        if len(data) > max_bytes:
            raise MalformedStream(f"{self.what}: response larger than {max_bytes >> 20} MiB")
        return data


def request(base: BaseURL, method: str, route: str, body: Any = None, *, timeout: float,
            headers: dict[str, str] | None = None, deadline: float | None = None) -> Response:
    """Send one request and return the open response; HTTP errors raise :class:`HTTPStatusError`.

    ``timeout`` applies to the connect and to every later socket read. ``deadline`` (a
    ``time.perf_counter`` instant) bounds the whole exchange, headers and body: past it the
    socket is shut down and reads raise :class:`DeadlineExceeded`.
    """
    what = f"{method} {base}{base.path(route)}"
    if deadline is not None:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise DeadlineExceeded(f"{what}: its deadline passed before it was sent")
        timeout = min(timeout, remaining)
    for k, v in (headers or {}).items():  # http.client raises ValueError/UnicodeError deep inside
        if not _HEADER_OK(k) or not _HEADER_OK(v):
            raise EndpointError(f"header {k[:40]!r} has characters HTTP headers cannot carry "
                                "(line breaks, control or non-ASCII characters)")
    if base.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            base.host, base.port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(base.host, base.port, timeout=timeout)
    hdrs = {"Accept": "application/json, text/event-stream, application/x-ndjson", "User-Agent": "sizeup-bench"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    watchdog = None
    try:
        conn.connect()
        if deadline is not None:
            watchdog = _Watchdog(conn, deadline, what)
        conn.request(method, base.path(route), body=payload, headers=hdrs)
        resp = conn.getresponse()
    except ConnectionRefusedError:
        conn.close()
        raise ConnectFailed(f"cannot connect to {base}: connection refused (is the server running?)") from None
    except (socket.timeout, TimeoutError):
        conn.close()
        raise ConnectFailed(f"{what}: no answer within {timeout:g} s") from None
    except socket.gaierror as e:
        conn.close()
        raise ConnectFailed(f"cannot resolve host '{base.host}': {e.strerror or e}") from None
    except ssl.SSLError as e:
        conn.close()
        raise ConnectFailed(f"{what}: TLS error: {e.reason or e}") from None
    except (http.client.HTTPException, OSError, ValueError) as e:
        conn.close()
        if watchdog is not None:
            watchdog.cancel()
            if watchdog.fired:
                raise watchdog.error() from None
        raise ConnectFailed(f"{what}: {type(e).__name__}: {e}" if str(e) else f"{what}: {type(e).__name__}") from None
    except BaseException:
        conn.close()
        if watchdog is not None:
            watchdog.cancel()
        raise
    if watchdog is not None and watchdog.fired:
        conn.close()
        raise watchdog.error()
    r = Response(conn, resp, what, watchdog)
    if resp.status >= 400:
        try:
            msg = error_message(r.read_all(MAX_ERROR_BYTES))
        except EndpointError:
            msg = ""
        finally:
            r.close()
        raise HTTPStatusError(resp.status, resp.reason or "", msg)
    return r


def get_json(base: BaseURL, route: str, *, timeout: float, headers: dict[str, str] | None = None,
             max_bytes: int = MAX_JSON_BYTES, deadline: float | None = None) -> Any:
    """GET ``route`` and parse the JSON body (bounded in bytes, values and time)."""
    from ..bounded_json import bounded_json_loads

    with request(base, "GET", route, timeout=timeout, headers=headers, deadline=deadline) as r:
        data = r.read_all(max_bytes)
        try:
            return bounded_json_loads(data)
        except (ValueError, UnicodeDecodeError):
            raise MalformedStream(f"{r.what}: the answer is not JSON") from None


# --- stream formats ---------------------------------------------------------------------------

DONE = object()  # sentinel yielded by iter_sse for ``data: [DONE]``
EMPTY = object()  # sentinel yielded by iter_sse for an event whose data is empty (flagged by callers)


def iter_sse(lines: Iterator[tuple[bytes, float]], what: str = "stream") -> Iterator[tuple[Any, float]]:
    """Parse SSE lines into ``(decoded JSON of the event's data, arrival time)``.

    Yields :data:`DONE` (instead of JSON) for ``data: [DONE]`` and stops. An event's arrival time
    is that of its last line. Events without a ``data`` field (comments, keep-alive pings,
    ``retry:``) are skipped. A data payload that is not JSON raises :class:`MalformedStream`.
    """
    data: list[str] = []
    t_last = 0.0

    def flush() -> Any:
        payload = "\n".join(data)
        data.clear()
        if payload.strip() == "[DONE]":
            return DONE
        if not payload.strip():
            return EMPTY
        try:
            return json.loads(payload)
        except ValueError:
            shown = payload[:60] + ("..." if len(payload) > 60 else "")
            raise MalformedStream(f"{what}: an event's data is not JSON: {shown!r}") from None

    for raw, t in lines:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedStream(f"{what}: a line is not valid UTF-8") from None
        if not line:
            if data:
                ev = flush()
                yield ev, t_last
                if ev is DONE:
                    return
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
            t_last = t
        # "event", "id", "retry" and unknown fields carry nothing sizeup measures
    if data:  # a final event without the blank line after it still counts
        ev = flush()
        yield ev, t_last


def iter_ndjson(lines: Iterator[tuple[bytes, float]], what: str = "stream") -> Iterator[tuple[Any, float]]:
    """Parse newline-delimited JSON into ``(object, arrival time)``; blank lines are skipped."""
    for raw, t in lines:
        if not raw.strip():
            continue
        try:
            yield json.loads(raw), t
        except ValueError:
            shown = raw[:60].decode("utf-8", "replace")
            raise MalformedStream(f"{what}: a line is not JSON: {shown!r}") from None
