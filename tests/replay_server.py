"""A real HTTP server on 127.0.0.1 that replays model-server response streams.

This is a *replay*, not Ollama or vLLM: Ollama cannot be installed in the test environment, so
its native ``/api/generate`` stream is reproduced from the format documented in Ollama's
docs/api.md (one JSON object per line; the last has ``done: true`` with ``eval_count``,
``eval_duration`` and the other durations in nanoseconds; ``/api/tags`` lists models with
``name``, ``size``, ``digest`` and ``details``). The OpenAI-compatible side replays SSE as
llama-server and vLLM send it (``data: {...}`` events, a usage-only last chunk with
``choices: []`` when ``stream_options.include_usage`` is set, ``data: [DONE]``).

The *model name* in a request picks the scenario, so one server covers every case:
``good``, ``no-usage``, ``truncated`` (connection cut mid-chunk), ``no-done`` (body ends cleanly
without the end marker), ``not-json``, ``error500``, ``error404``, ``stream-error`` (an error
object inside the stream), ``missing-fields``, ``long-line``, ``stall`` (stops sending),
``no-stream`` (plain JSON although ``stream: true`` was asked), ``flaky`` (every second
generation request answers HTTP 500), ``dies-after-3`` (HTTP 500 from the fourth request on),
``runaway`` (ignores the token limit and streams 500 tokens).

Hostile scenarios (round two; requested by name, not listed): ``drip`` (after the headers, one
byte every ``drip_s`` forever), ``keepalive`` (SSE comments / blank NDJSON lines forever),
``absurd-usage`` (claims 16,777,000 output tokens for a few), ``empty-events`` (SSE events with
an empty ``data:`` between tokens), ``hostile-error`` (HTTP 500 whose message holds rich markup,
a newline, a forged ``sizeup: error:`` line and terminal escape sequences). ``drip_models=True``
makes ``/v1/models`` and ``/api/tags`` drip their answer one byte at a time.

Streams go out with HTTP/1.1 chunked transfer encoding, one chunk per line, flushed with a
fixed delay: ``first_delay`` before the first token and ``token_delay`` between tokens, so tests
can check the client's TTFT and inter-token figures against known values.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKENS = ["The", " sky", " is", " blue", "."]
OLLAMA_MODELS = ["good:latest", "no-usage", "truncated", "no-done", "not-json", "error500", "error404",
                 "stream-error", "missing-fields", "long-line", "stall", "no-stream", "flaky", "dies-after-3", "runaway"]
# documented eval figures for the "good" scenario (ns): 5 tokens in 0.25 s -> 20 tok/s server-side
EVAL_DURATION_NS = 250_000_000
PROMPT_EVAL_COUNT = 26
PROMPT_EVAL_DURATION_NS = 130_000_000
LOAD_DURATION_NS = 6_338_219
TOTAL_DURATION_NS = 400_000_000
OPENAI_PROMPT_TOKENS = 31
ABSURD_TOKENS = 16_777_000
HOSTILE_MESSAGE = "[bold red]x[/]\n\x1b]0;pwn\x07\x1b[2J sizeup: error: forged [link=https://evil.example]click[/link]"


class ReplayServer:
    """``with ReplayServer(apis=("ollama", "openai")) as srv: srv.url`` - serves until closed."""

    def __init__(self, apis: tuple[str, ...] = ("ollama", "openai"), first_delay: float = 0.05,
                 token_delay: float = 0.02, stall_s: float = 5.0, drip_s: float = 0.5,
                 drip_models: bool = False) -> None:
        self.apis = apis
        self.drip_s = drip_s
        self.drip_models = drip_models
        self.first_delay = first_delay
        self.token_delay = token_delay
        self.stall_s = stall_s
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (path, JSON body) as received
        self.generations = 0  # generation requests so far (drives "flaky" and "dies-after-3")
        self.lock = threading.Lock()
        outer = self

        class Handler(_Handler):
            server_ref = outer

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "ReplayServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-stream (timeouts, Ctrl-C tests) are expected here: no traceback
        on stderr, where the tests check sizeup's own one-line messages."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_ref: ReplayServer

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    # -- helpers --
    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        """Drop the connection in the middle of a chunk: a truncated stream."""
        self.wfile.write(b"40\r\n{\"partial\": ")
        self.wfile.flush()
        self.close_connection = True

    def _drip_forever(self, first: bytes = b"") -> None:
        """One byte every drip_s until the client hangs up (or 10 minutes pass)."""
        srv = self.server_ref
        try:
            if first:
                self.wfile.write(first)
                self.wfile.flush()
            end = time.monotonic() + 600
            while time.monotonic() < end:
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(srv.drip_s)
        except OSError:
            pass
        self.close_connection = True

    # -- routes --
    def do_GET(self) -> None:  # noqa: N802
        srv = self.server_ref
        if srv.drip_models and self.path in ("/api/tags", "/v1/models"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self._drip_forever(b'{"data": [')
            return
        if self.path == "/api/tags" and "ollama" in srv.apis:
            self._json(200, {"models": [
                {"name": n, "model": n, "modified_at": "2025-05-10T08:06:48.639712648-07:00", "size": 4683075271,
                 "digest": "0a8c266910232fd3291e71e5ba1e058cc5af9d411192cf88b6d30e92b6e73163",
                 "details": {"parent_model": "", "format": "gguf", "family": "qwen2", "families": ["qwen2"],
                             "parameter_size": "7.6B", "quantization_level": "Q4_K_M"}} for n in OLLAMA_MODELS]})
        elif self.path == "/v1/models" and "openai" in srv.apis:
            self._json(200, {"object": "list", "data": [
                {"id": n, "object": "model", "created": 1, "owned_by": "replay"} for n in OLLAMA_MODELS]})
        else:
            self._json(404, {"error": {"message": f"File Not Found: {self.path}", "type": "not_found_error", "code": 404}})

    def do_POST(self) -> None:  # noqa: N802
        srv = self.server_ref
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            self._json(400, {"error": "invalid JSON"})
            return
        with srv.lock:
            srv.requests.append((self.path, body))
            srv.generations += 1
            nth = srv.generations
        model = str(body.get("model", "")).removesuffix(":latest")
        if (model == "flaky" and nth % 2 == 0) or (model == "dies-after-3" and nth > 3):
            model = "error500"  # every second request / everything after the third fails
        if self.path == "/api/generate" and "ollama" in srv.apis:
            self._ollama(model, body)
        elif self.path in ("/v1/chat/completions", "/v1/completions") and "openai" in srv.apis:
            self._openai(model, body, chat=self.path.endswith("chat/completions"))
        else:
            self._json(404, {"error": f"404 page not found: {self.path}"})

    def _hostile_stream(self, model: str, ollama: bool) -> bool:
        """drip / keepalive: a 200 stream that never ends; True when it handled the request."""
        srv = self.server_ref
        if model == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson" if ollama else "text/event-stream")
            self.end_headers()
            self._drip_forever(b"data: {" if not ollama else b'{"response": ')
            return True
        if model == "keepalive":
            self._start_stream("application/x-ndjson" if ollama else "text/event-stream")
            try:
                end = time.monotonic() + 600
                while time.monotonic() < end:
                    self._chunk(b"\n" if ollama else b": keep-alive\n\n")
                    time.sleep(min(srv.drip_s, 0.2))
            except OSError:
                pass
            self.close_connection = True
            return True
        return False

    def _errors_before_stream(self, model: str, ollama: bool) -> bool:
        if self._hostile_stream(model, ollama):
            return True
        if model == "hostile-error":
            self._json(500, {"error": HOSTILE_MESSAGE} if ollama else {"error": {"message": HOSTILE_MESSAGE}})
            return True
        if model == "error500":
            msg = "llama runner process has terminated: exit status 2\nstack trace follows"
            self._json(500, {"error": msg} if ollama else {"error": {"message": msg, "type": "server_error"}})
            return True
        if model == "error404":
            msg = f'model "{model}" not found, try pulling it first'
            self._json(404, {"error": msg} if ollama else {"error": {"message": msg, "type": "not_found_error"}})
            return True
        if model == "no-stream":
            self._json(200, {"model": model, "response": "The sky is blue.", "done": True} if ollama else
                       {"id": "x", "object": "text_completion", "choices": [{"text": "The sky is blue.", "index": 0}]})
            return True
        return False

    def _fault_mid_stream(self, model: str, i: int, send_error) -> bool:
        """The faults both protocols inject after token ``i``; True when the stream has ended."""
        if model == "stream-error" and i == 1:
            send_error()
            self._end()
            return True
        if model == "truncated" and i == 2:
            self._cut()
            return True
        if model == "stall" and i == 1:
            time.sleep(self.server_ref.stall_s)
            return True
        return False

    def _ollama(self, model: str, body: dict[str, Any]) -> None:
        srv = self.server_ref
        if self._errors_before_stream(model, ollama=True):
            return
        self._start_stream("application/x-ndjson")
        name = body.get("model")
        n_predict = int((body.get("options") or {}).get("num_predict") or len(TOKENS))
        toks = TOKENS * 100 if model == "runaway" else (TOKENS * 100)[:n_predict]
        time.sleep(srv.first_delay)
        for i, tok in enumerate(toks):
            line = {"model": name, "created_at": "2023-08-04T08:52:19.385406455-07:00", "response": tok, "done": False}
            if model == "missing-fields" and i == 1:
                line = {"model": name, "created_at": "2023-08-04T08:52:19.385406455-07:00"}
            if model == "not-json" and i == 2:
                self._chunk(b"<html>502 Bad Gateway</html>\n")
                continue
            if model == "long-line" and i == 1:
                line["response"] = "x" * (2 << 20)
            self._chunk(json.dumps(line).encode() + b"\n")
            if self._fault_mid_stream(model, i, lambda: self._chunk(
                    b'{"error":"an error was encountered while running the model: CUDA error: out of memory"}\n')):
                return
            time.sleep(srv.token_delay)
        if model == "no-done":
            self._end()
            return
        final = {"model": name, "created_at": "2023-08-04T19:22:45.499127Z", "response": "", "done": True,
                 "done_reason": "length", "context": [1, 2, 3], "total_duration": TOTAL_DURATION_NS,
                 "load_duration": LOAD_DURATION_NS, "prompt_eval_count": PROMPT_EVAL_COUNT,
                 "prompt_eval_duration": PROMPT_EVAL_DURATION_NS,
                 "eval_count": ABSURD_TOKENS if model == "absurd-usage" else len(toks),
                 "eval_duration": EVAL_DURATION_NS}
        if model == "no-usage":  # a server that sends no counts at all: the client counts lines
            final = {"model": name, "response": "", "done": True}
        self._chunk(json.dumps(final).encode() + b"\n")
        self._end()

    def _openai(self, model: str, body: dict[str, Any], chat: bool) -> None:
        srv = self.server_ref
        if self._errors_before_stream(model, ollama=False):
            return
        self._start_stream("text/event-stream; charset=utf-8")
        n_predict = int(body.get("max_tokens") or len(TOKENS))
        toks = TOKENS * 100 if model == "runaway" else (TOKENS * 100)[:n_predict]
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and model != "no-usage"

        def chunk(tok: str | None, finish: str | None = None) -> dict[str, Any]:
            if chat:
                delta = {} if tok is None else {"content": tok}
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
            else:
                choice = {"index": 0, "text": tok or "", "finish_reason": finish}
            return {"id": "cmpl-replay", "object": "chat.completion.chunk" if chat else "text_completion",
                    "created": 1, "model": body.get("model"), "choices": [choice]}

        def send(obj: Any) -> None:
            self._chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")

        if chat:
            send({"id": "cmpl-replay", "object": "chat.completion.chunk", "created": 1, "model": body.get("model"),
                  "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        self._chunk(b": keep-alive comment\n\n")
        time.sleep(srv.first_delay)
        for i, tok in enumerate(toks):
            if model == "not-json" and i == 2:
                self._chunk(b"data: {not json at all\n\n")
                continue
            if model == "missing-fields" and i == 1:
                send({"id": "cmpl-replay", "object": "text_completion", "created": 1})
                continue
            if model == "long-line" and i == 1:
                send(chunk("x" * (2 << 20)))
                continue
            send(chunk(tok))
            if model == "empty-events":
                self._chunk(b"data: \n\n")
            if self._fault_mid_stream(model, i, lambda: send(
                    {"error": {"code": 500, "message": "Context size has been exceeded.",
                               "type": "exceed_context_size_error"}})):
                return
            time.sleep(srv.token_delay)
        if model == "no-done":
            self._end()
            return
        send(chunk(None, "length"))
        if include_usage:
            send({"id": "cmpl-replay", "object": "chat.completion.chunk", "created": 1, "model": body.get("model"),
                  "choices": [], "usage": {"prompt_tokens": OPENAI_PROMPT_TOKENS,
                                           "completion_tokens": ABSURD_TOKENS if model == "absurd-usage" else len(toks),
                                           "total_tokens": OPENAI_PROMPT_TOKENS + len(toks)}})
        self._chunk(b"data: [DONE]\n\n")
        self._end()
