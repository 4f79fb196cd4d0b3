"""``sizeup bench --endpoint URL``: benchmark a running model server.

Two wire protocols cover the servers people run locally and in production:

* OpenAI-compatible ``/v1/chat/completions`` and ``/v1/completions`` with ``stream: true``
  (llama-server, vLLM, LM Studio, llama-cpp-python's server, SGLang, TGI's OpenAI route). Token
  counts come from the final ``usage`` chunk when the server honours
  ``stream_options.include_usage``; otherwise content chunks are counted and the count is marked
  approximate (a chunk is one token on llama.cpp-based servers, possibly more elsewhere).
  llama-server also attaches its own ``timings`` to the last chunk; they are kept as server-side
  figures.
* Ollama's native ``/api/generate`` (NDJSON). Its final line carries exact token counts and
  server-side durations in nanoseconds (``eval_count``/``eval_duration`` etc., see Ollama's
  docs/api.md), reported next to the client-side figures: the gap between the two is HTTP,
  queueing and detokenisation overhead.

Client-side figures per request: time to first content token (TTFT), gaps between content
chunks (ITL), end-to-end latency, output tokens and decode tok/s; per concurrency level their
percentiles plus aggregate throughput. Each level is stored in the history database (kind
``endpoint``) as soon as it finishes, so a failure or Ctrl-C in a later level loses nothing.

The I/O lives in :mod:`.http_stream` (bounded streaming HTTP), the load pattern and statistics in
:mod:`.load`; this module holds the protocol adapters and the command's flow.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..errors import SizeupError
from . import http_stream as hs
from .load import MAX_CONCURRENCY, MAX_REQUESTS_PER_LEVEL, RequestResult, run_level, summarize_level

APIS = ("auto", "openai", "ollama")
ROUTES = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
OLLAMA_GENERATE = "/api/generate"
MAX_MODELS_LISTED = 10_000
MAX_MODEL_NAME = 512
MAX_TOKEN_COUNT = 1 << 24  # a token count a server reports; anything larger is nonsense
MAX_PROMPT_TOKENS = 1 << 20
MAX_OUTPUT_TOKENS = 1 << 20
MAX_DURATION_S = 86_400.0
MAX_STORED_SAMPLES = 100_000  # per metric and level (HistoryDB's own bound)

# Defaults: small enough that a CPU-only server finishes a level in about a minute.
DEFAULT_CONCURRENCY = "1,2,4,8"
DEFAULT_REQUESTS = 16
DEFAULT_DURATION_S = 60.0
DEFAULT_PROMPT_TOKENS = 256
DEFAULT_MAX_TOKENS = 128
DEFAULT_READ_TIMEOUT_S = 120.0
DEFAULT_REQUEST_TIMEOUT_S = 600.0  # wall limit of one request when no --duration bounds it
DISCOVERY_S = 30.0  # wall budget of discovery (/v1/models, /api/tags), all probes together
LEVEL_GRACE_S = 10.0  # in-flight requests may finish this long after a level's --duration
# A server-reported output count above max_tokens plus this slack cannot be true (some servers
# count an end-of-generation token): it is flagged and the counted chunks are used instead.
TOKEN_COUNT_SLACK = 16

# Path suffixes users paste with the URL -> (api, route). Longest first.
_KNOWN_PATHS: tuple[tuple[str, str, str | None], ...] = (
    ("/v1/chat/completions", "openai", "chat"),
    ("/v1/completions", "openai", "completions"),
    ("/v1/models", "openai", None),
    ("/v1", "openai", None),
    ("/api/generate", "ollama", None),
    ("/api/tags", "ollama", None),
    ("/api", "ollama", None),
)


# --- targets and discovery -------------------------------------------------------------------

@dataclass
class Target:
    """Everything needed to send benchmark requests to one model on one server."""

    base: hs.BaseURL
    api: str  # "openai" | "ollama"
    route: str  # "chat" | "completions" | "generate"
    model: str
    model_info: dict[str, Any] = field(default_factory=dict)  # size/digest/quant when the server says
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_READ_TIMEOUT_S
    ignore_eos: bool = False
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S  # wall-clock limit of one request

    @property
    def path(self) -> str:
        return OLLAMA_GENERATE if self.api == "ollama" else ROUTES[self.route]

    @property
    def url(self) -> str:
        return f"{self.base}{self.path}"


def split_endpoint(url: str) -> tuple[hs.BaseURL, str | None, str | None]:
    """The server's base URL plus the API and route implied by a pasted path.

    ``http://h:8080/v1/chat/completions`` -> (base ``http://h:8080``, "openai", "chat");
    ``http://h/proxy/llama/v1`` -> (base with prefix ``/proxy/llama``, "openai", None);
    ``http://h:11434`` -> (base, None, None).
    """
    base, path = hs.parse_base_url(url)
    for suffix, api, route in _KNOWN_PATHS:
        if path == suffix or path.endswith(suffix):
            return replace(base, prefix=path[: len(path) - len(suffix)]), api, route
    return replace(base, prefix=path), None, None


def _model_names(api: str, listing: Any) -> list[dict[str, Any]]:
    """Models from a ``/v1/models`` (``{"data": [{"id": ...}]}``) or ``/api/tags``
    (``{"models": [{"name": ..., "size": ..., "digest": ..., "details": {...}}]}``) answer."""
    key, name_key = ("data", "id") if api == "openai" else ("models", "name")
    if not isinstance(listing, dict) or not isinstance(listing.get(key), list):
        raise hs.MalformedStream(f"model list has no '{key}' array")
    out = []
    for m in listing[key][:MAX_MODELS_LISTED]:
        if not isinstance(m, dict):
            continue
        name = m.get(name_key) or m.get("model")
        if not isinstance(name, str) or not name or len(name) > MAX_MODEL_NAME:
            continue
        info: dict[str, Any] = {"name": name}
        if api == "ollama":
            if isinstance(m.get("size"), int) and m["size"] >= 0:
                info["size"] = m["size"]
            if isinstance(m.get("digest"), str):
                info["digest"] = m["digest"][:128]
            det = m.get("details")
            if isinstance(det, dict):
                for k in ("family", "parameter_size", "quantization_level", "format"):
                    if isinstance(det.get(k), str):
                        info[k] = det[k][:64]
        out.append(info)
    return out


def discover(base: hs.BaseURL, api: str, *, timeout: float, headers: dict[str, str],
             deadline: float | None = None) -> tuple[str, list[dict[str, Any]] | None, str | None]:
    """Which API the server speaks and which models it lists.

    ``auto`` probes ``/v1/models`` then ``/api/tags``. Ollama answers both, and its native API
    is preferred because only it reports server-side timings; any other server answering
    ``/v1/models`` is OpenAI-compatible. Returns ``(api, models or None, why the list is
    missing)``. An unreachable server raises at the first probe, with one line.
    """
    probes = {"openai": "/v1/models", "ollama": "/api/tags"}
    order = ["openai", "ollama"] if api == "auto" else [api]
    found: dict[str, list[dict[str, Any]]] = {}
    problems: dict[str, str] = {}
    for a in order:
        try:
            listing = hs.get_json(base, probes[a], timeout=timeout, headers=headers, deadline=deadline)
            found[a] = _model_names(a, listing)
        except hs.ConnectFailed:
            raise
        except hs.EndpointError as e:
            problems[a] = f"{probes[a]}: {e}"
    if api != "auto":
        return api, found.get(api), problems.get(api)
    if "ollama" in found:
        return "ollama", found["ollama"], None
    if "openai" in found:
        return "openai", found["openai"], None
    detail = "; ".join(problems.values())
    raise hs.EndpointError(f"{base} speaks neither the OpenAI API nor Ollama's ({detail}); "
                           "check the URL or pass --api")


def choose_model(models: list[dict[str, Any]] | None, requested: str | None, why_missing: str | None
                 ) -> tuple[str, dict[str, Any], str | None]:
    """``(model name, its listing info, a note for the user or None)``.

    A requested name is used as given (the server is the authority: vLLM serves aliases, Ollama
    adds ``:latest``); without one, the first listed model is taken and the note says so.
    """
    if requested:
        if len(requested) > MAX_MODEL_NAME:
            raise SizeupError(f"--model name is longer than {MAX_MODEL_NAME} characters")
        for m in models or []:
            if m["name"] == requested or m["name"] == f"{requested}:latest":
                return requested, m, None
        note = None
        if models:
            note = f"'{requested}' is not among the {len(models)} models the server lists; sending it anyway"
        return requested, {"name": requested}, note
    if models is None:
        raise SizeupError(f"cannot list the server's models ({why_missing}); pass --model")
    if not models:
        raise SizeupError("the server lists no models; load one or pass --model")
    note = None
    if len(models) > 1:
        others = ", ".join(m["name"] for m in models[1:6]) + (", ..." if len(models) > 6 else "")
        note = f"benchmarking '{models[0]['name']}' (also served: {others}; choose with --model)"
    return models[0]["name"], models[0], note


# --- prompts ---------------------------------------------------------------------------------

# Common English words that are a single token (with their leading space) in GPT-2-style BPE,
# Llama/Qwen BPE and SentencePiece vocabularies alike, so N words make about N prompt tokens.
_WORDS = (
    "the of and to in is was for on that with as by at from his her this had are not but be they "
    "which one you were all we can there their has been if more when will would who so no time "
    "people year new first two may after over most also some these them many state city world "
    "made where used only other then well could back through day both way well life here long "
    "part house water work under school small still high country number great place water old "
    "right point large home name hand light line room open near early river road north south "
    "east west black white green blue red paper music field market story table window garden"
).split()


def build_prompt(n_tokens: int, index: int) -> str:
    """A deterministic prompt of about ``n_tokens`` tokens, unique per request ``index``.

    The request number comes first so that no two requests share a prefix: llama-server, vLLM
    and Ollama all reuse the KV cache of a repeated prefix, which would turn TTFT into a
    measure of cache hits instead of prompt processing. The rest is a fixed pseudo-random word
    sequence (a linear congruential generator with fixed seed), the same on every run and
    machine, so runs compare. Checked with the two test models' real tokenizers (SmolLM2's BPE
    and Gemma 3's SentencePiece): 32, 256, 1024 and 4096 requested give exactly that many tokens.
    """
    if not 1 <= n_tokens <= MAX_PROMPT_TOKENS:
        raise SizeupError(f"--prompt-tokens must be from 1 to {MAX_PROMPT_TOKENS}, not {n_tokens}")
    head = f"Note {index}:"
    n_words = max(0, n_tokens - 4)  # "Note", " 1", "2", ":" is about 4 tokens
    x = 12345
    words = []
    for _ in range(n_words):
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        words.append(_WORDS[(x >> 16) % len(_WORDS)])
    return " ".join([head, *words])


# --- one request -----------------------------------------------------------------------------

def _count(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_TOKEN_COUNT else None


def request_body(t: Target, prompt: str, max_tokens: int) -> dict[str, Any]:
    if t.api == "ollama":
        return {"model": t.model, "prompt": prompt, "stream": True,
                "options": {"num_predict": max_tokens, "temperature": 0}}
    body: dict[str, Any] = {"model": t.model, "max_tokens": max_tokens, "stream": True,
                            "stream_options": {"include_usage": True}, "temperature": 0}
    if t.route == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if t.ignore_eos:
        body["ignore_eos"] = True  # llama-server and vLLM extension: always generate max_tokens
    return body


def _openai_chunk_text(obj: dict[str, Any], route: str, what: str) -> tuple[str, str | None]:
    """(content text, finish_reason) of one OpenAI stream chunk; malformed shapes raise."""
    choices = obj.get("choices")
    if choices is None:
        if "usage" in obj or "timings" in obj:
            return "", None
        raise hs.MalformedStream(f"{what}: a chunk has no 'choices'")
    if not isinstance(choices, list):
        raise hs.MalformedStream(f"{what}: 'choices' is not a list")
    if not choices:
        return "", None  # the usage-only last chunk of the OpenAI spec
    c0 = choices[0]
    if not isinstance(c0, dict):
        raise hs.MalformedStream(f"{what}: a choice is not an object")
    finish = c0.get("finish_reason") if isinstance(c0.get("finish_reason"), str) else None
    if route == "chat":
        delta = c0.get("delta")
        if delta is None:
            if finish:
                return "", finish
            raise hs.MalformedStream(f"{what}: a chat chunk has no 'delta'")
        if not isinstance(delta, dict):
            raise hs.MalformedStream(f"{what}: 'delta' is not an object")
        # reasoning models stream their thinking in a separate field; those are output tokens too
        parts = [delta.get(k) for k in ("content", "reasoning_content", "reasoning")]
        return "".join(p for p in parts if isinstance(p, str)), finish
    text = c0.get("text")
    if text is None and not finish:
        raise hs.MalformedStream(f"{what}: a completion chunk has no 'text'")
    return text if isinstance(text, str) else "", finish


def _llama_server_timings(tm: Any) -> dict[str, float]:
    """llama-server's ``timings`` object (tools/server: prompt_n, prompt_ms, predicted_n,
    predicted_ms, *_per_second) as server-side figures."""
    out: dict[str, float] = {}
    if not isinstance(tm, dict):
        return out
    for src, dst in (("predicted_per_second", "server_decode_tps"), ("prompt_per_second", "server_prompt_tps")):
        v = tm.get(src)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e9:
            out[dst] = float(v)
    v = tm.get("prompt_ms")
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1e9:
        out["server_prompt_s"] = float(v) / 1000.0
    return out


def _max_chunks(max_tokens: int) -> int:
    """Content chunks one response may have: a chunk holds at least one token on every server
    known (llama.cpp may hold back a partial UTF-8 character, which only merges chunks), so a
    stream with far more chunks than tokens asked for is broken, and its timestamps must not
    pile up in memory."""
    return 2 * max_tokens + 64


def _consume_openai(resp: hs.Response, t: Target, r: RequestResult, max_tokens: int) -> None:
    what = f"{t.url}"
    if "event-stream" not in resp.content_type and "json" in resp.content_type:
        raise hs.MalformedStream(f"{what}: the server answered without streaming (Content-Type "
                                 f"{resp.content_type or 'missing'}); it ignores stream: true")
    usage_out = usage_in = None
    finished = False
    empty = 0
    for obj, at in hs.iter_sse(resp.lines(), what):
        if obj is hs.DONE:
            finished = True
            break
        if obj is hs.EMPTY:
            empty += 1
            if empty > _max_chunks(max_tokens):
                raise hs.MalformedStream(f"{what}: {empty} empty events")
            continue
        if not isinstance(obj, dict):
            raise hs.MalformedStream(f"{what}: a chunk is not a JSON object")
        if "error" in obj:
            raise hs.EndpointError(f"{what}: server error in stream: {hs.message_from_json(obj) or 'unknown'}")
        text, finish = _openai_chunk_text(obj, t.route, what)
        if text:
            if r.t_first is None:
                r.t_first = at
            r.token_times.append(at)
        if finish:
            finished = True  # some servers end without [DONE]; a finish_reason is as good
        usage = obj.get("usage")
        if isinstance(usage, dict):
            usage_out = _count(usage.get("completion_tokens"))
            usage_in = _count(usage.get("prompt_tokens"))
        if "timings" in obj:
            r.server.update(_llama_server_timings(obj["timings"]))
        if len(r.token_times) > _max_chunks(max_tokens):
            raise hs.MalformedStream(f"{what}: {len(r.token_times)} content chunks for at most {max_tokens} tokens")
    if not finished:
        raise hs.MalformedStream(f"{what}: stream ended before 'data: [DONE]' (truncated)")
    if empty:
        r.flags.append("empty events in the stream (data with no payload)")
    r.output_tokens, r.output_tokens_exact = _checked_output(r, usage_out, max_tokens)
    r.prompt_tokens = usage_in


def _checked_output(r: RequestResult, reported: int | None, max_tokens: int) -> tuple[int, bool]:
    """(output tokens, exact?): the server's own count when it is believable, else the counted
    chunks, flagged. A count far above what was asked for (16.7M for a 4-token request), or a
    count with no content at all, is the server's bug, never an exact figure."""
    chunks = len(r.token_times)
    if reported is None:
        if chunks == 0:
            r.flags.append("no content in the stream")
        return chunks, False
    if reported > max_tokens + TOKEN_COUNT_SLACK:
        r.flags.append(f"server reported more output tokens than requested (max {max_tokens}); counted chunks used")
        return chunks, False
    if reported > 0 and chunks == 0:
        r.flags.append("server reported output tokens but streamed no content; counted chunks used")
        return chunks, False
    return reported, True


def _consume_ollama(resp: hs.Response, t: Target, r: RequestResult, max_tokens: int) -> None:
    what = f"{t.url}"
    if resp.content_type.startswith("application/json"):
        raise hs.MalformedStream(f"{what}: the server answered without streaming (Content-Type "
                                 f"{resp.content_type}); it ignores stream: true")
    done = False
    for obj, at in hs.iter_ndjson(resp.lines(), what):
        if not isinstance(obj, dict):
            raise hs.MalformedStream(f"{what}: a line is not a JSON object")
        if "error" in obj:
            raise hs.EndpointError(f"{what}: server error in stream: {hs.message_from_json(obj) or 'unknown'}")
        text = obj.get("response")
        thinking = obj.get("thinking")
        if text is None and thinking is None and not obj.get("done"):
            raise hs.MalformedStream(f"{what}: a line has no 'response' and no 'done'")
        if (isinstance(text, str) and text) or (isinstance(thinking, str) and thinking):
            if r.t_first is None:
                r.t_first = at
            r.token_times.append(at)
            if len(r.token_times) > _max_chunks(max_tokens):
                raise hs.MalformedStream(f"{what}: {len(r.token_times)} content chunks for at most {max_tokens} tokens")
        if obj.get("done") is True:
            done = True
            r.server.update(ollama_timings(obj))
            r.output_tokens, r.output_tokens_exact = _checked_output(r, _count(obj.get("eval_count")), max_tokens)
            r.prompt_tokens = _count(obj.get("prompt_eval_count"))
            break
    if not done:
        raise hs.MalformedStream(f"{what}: stream ended before the final 'done: true' line (truncated)")


def ollama_timings(final: dict[str, Any]) -> dict[str, float]:
    """Server-side figures from Ollama's final line (durations are integer nanoseconds).

    ``prompt_eval_count``/``prompt_eval_duration`` are absent when the whole prompt came from
    Ollama's cache, so each figure is computed only from fields that are present and sane.
    """
    def ns(key: str) -> float | None:
        v = final.get(key)
        return v / 1e9 if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**15 else None

    out: dict[str, float] = {}
    ec, ed = _count(final.get("eval_count")), ns("eval_duration")
    if ec and ed:
        out["server_decode_tps"] = ec / ed
    pc, pd = _count(final.get("prompt_eval_count")), ns("prompt_eval_duration")
    if pc and pd:
        out["server_prompt_tps"] = pc / pd
    if pd is not None:
        out["server_prompt_s"] = pd
    for key, name in (("load_duration", "server_load_s"), ("total_duration", "server_total_s")):
        v = ns(key)
        if v is not None:
            out[name] = v
    return out


def send_one(t: Target, prompt: str, max_tokens: int, deadline: float | None = None) -> RequestResult:
    """One streamed request; failures come back as ``ok=False`` with one line of error.

    It ends by ``deadline`` (its phase's) and never runs longer than ``t.request_timeout``."""
    body = request_body(t, prompt, max_tokens)
    t0 = time.perf_counter()
    r = RequestResult(ok=False, t_start=t0, t_end=t0)
    own = t0 + t.request_timeout
    try:
        with hs.request(t.base, "POST", t.path, body, timeout=t.timeout, headers=t.headers,
                        deadline=own if deadline is None else min(own, deadline)) as resp:
            (_consume_ollama if t.api == "ollama" else _consume_openai)(resp, t, r, max_tokens)
        r.ok = True
    except hs.EndpointError as e:
        r.error = str(e)
    r.t_end = time.perf_counter()
    return r


# --- the command -----------------------------------------------------------------------------

def _safe_add(parser: argparse.ArgumentParser, *flags: str, **kw: Any) -> None:
    """Add an option unless the bench command already defines one of these flags (its common
    options, e.g. ``--json``, ``--model`` or ``--db``, are shared with local benchmarks)."""
    try:
        parser.add_argument(*flags, **kw)
    except argparse.ArgumentError:
        pass


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``sizeup bench --endpoint``; the bench command calls this on its parser."""
    g = parser.add_argument_group("server benchmark (--endpoint)")
    add = lambda *f, **kw: _safe_add(g, *f, **kw)  # noqa: E731
    add("--endpoint", metavar="URL", help="benchmark a running server instead of a model file "
        "(OpenAI-compatible or Ollama), e.g. http://127.0.0.1:8080 or http://127.0.0.1:11434")
    add("--api", choices=APIS, default="auto", help="server API; auto probes /v1/models then /api/tags (default auto)")
    add("--route", choices=tuple(ROUTES), default="chat",
        help="OpenAI route: chat (/v1/chat/completions, default) or completions (/v1/completions)")
    add("--model", dest="server_model", metavar="NAME",
        help="model name on the server (default: the first one it lists)")
    add("--concurrency", metavar="LIST", default=DEFAULT_CONCURRENCY,
        help=f"parallel clients per level, comma list (default {DEFAULT_CONCURRENCY})")
    add("--requests", metavar="N", type=int, default=DEFAULT_REQUESTS,
        help=f"requests per level (default {DEFAULT_REQUESTS})")
    add("--duration", metavar="S", type=float, default=DEFAULT_DURATION_S,
        help=f"start no new request after S seconds in a level; 0 = no time bound (default {DEFAULT_DURATION_S:g})")
    add("--prompt-tokens", metavar="N", type=int,
        help=f"prompt length in tokens, approximately (default: -p, else {DEFAULT_PROMPT_TOKENS})")
    add("--max-tokens", metavar="N", type=int,
        help=f"tokens to generate per request (default: -n, else {DEFAULT_MAX_TOKENS})")
    add("--warmup", metavar="N", type=int, default=1,
        help="untimed requests before the first level (loads the model; default 1)")
    add("--read-timeout", metavar="S", type=float, default=DEFAULT_READ_TIMEOUT_S,
        help=f"seconds to wait for the connection and for each piece of the stream (default {DEFAULT_READ_TIMEOUT_S:g})")
    add("--request-timeout", metavar="S", type=float, default=DEFAULT_REQUEST_TIMEOUT_S,
        help="wall-clock limit of one request, whatever the server sends (default "
             f"{DEFAULT_REQUEST_TIMEOUT_S:g}); with --duration, in-flight requests also end "
             f"{LEVEL_GRACE_S:g} s after the level's duration at the latest")
    add("--ignore-eos", action="store_true",
        help="ask the server to always generate --max-tokens (llama-server and vLLM extension)")
    add("--api-key", metavar="KEY", help="bearer token for servers that require one")
    add("--json", action="store_true", help="print machine-readable JSON on stdout")
    add("--db", metavar="PATH", help="history database (default: $SIZEUP_HISTORY_DB or the user data dir)")
    add("--no-save", action="store_true", help="do not record the results in the history")


@dataclass
class EndpointSettings:
    endpoint: str
    api: str
    route: str | None
    model: str | None
    concurrency: list[int]
    requests: int
    duration: float | None
    prompt_tokens: int
    max_tokens: int
    warmup: int
    timeout: float
    ignore_eos: bool
    api_key: str | None
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S


def _single(v: Any, flag: str, default: int) -> int:
    """One count from the local benchmark's list options (-p/-n), which the endpoint run honours
    when --prompt-tokens/--max-tokens are not given."""
    if v is None:
        return default
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    from .config import parse_list, to_int

    vals = parse_list(str(v), to_int, flag)
    if len(vals) != 1:
        raise SizeupError(f"{flag} takes one value with --endpoint, not '{v}'")
    return int(vals[0])


def settings_from_args(args: argparse.Namespace) -> EndpointSettings:
    """Checked settings; each bad value is one SizeupError line."""
    from .config import parse_list

    def num(name: str, flag: str, lo: float, hi: float, default: Any, kind: type = int) -> Any:
        v = getattr(args, name, None) if name else None
        v = default if v is None else v
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= v <= hi or (kind is int and v != int(v)):
            raise SizeupError(f"{flag} must be {'a whole number' if kind is int else 'a number'} from {lo:g} to {hi:g}, not {v!r}")
        return kind(v)

    def conc(s: str) -> int:
        v = int(s)
        if not 1 <= v <= MAX_CONCURRENCY:
            raise SizeupError(f"--concurrency values must be from 1 to {MAX_CONCURRENCY}, not {v}")
        return v

    conc_text = getattr(args, "concurrency", None) or DEFAULT_CONCURRENCY
    levels = parse_list(str(conc_text), conc, "--concurrency")
    duration = num("duration", "--duration", 0, MAX_DURATION_S, DEFAULT_DURATION_S, float)
    api = getattr(args, "api", None) or "auto"
    if api not in APIS:
        raise SizeupError(f"--api must be one of {', '.join(APIS)}, not '{api}'")
    route = getattr(args, "route", None)
    if route is not None and route not in ROUTES:
        raise SizeupError(f"--route must be one of {', '.join(ROUTES)}, not '{route}'")
    # `--model NAME`, or the bench command's positional MODEL (a file name there, a served
    # model's name with --endpoint: `sizeup bench --endpoint URL llama3.2`)
    model = getattr(args, "server_model", None) or getattr(args, "model", None)
    prompt_tokens = getattr(args, "prompt_tokens", None)
    if prompt_tokens is None:
        prompt_tokens = _single(getattr(args, "n_prompt", None), "-p", DEFAULT_PROMPT_TOKENS)
    max_tokens = getattr(args, "max_tokens", None)
    if max_tokens is None:
        max_tokens = _single(getattr(args, "n_gen", None), "-n", DEFAULT_MAX_TOKENS)
    return EndpointSettings(
        endpoint=str(getattr(args, "endpoint", "") or ""),
        api=api, route=route, model=str(model) if model else None, concurrency=levels,
        requests=num("requests", "--requests", 1, MAX_REQUESTS_PER_LEVEL, DEFAULT_REQUESTS),
        duration=duration or None,
        prompt_tokens=num("", "--prompt-tokens", 1, MAX_PROMPT_TOKENS, prompt_tokens),
        max_tokens=num("", "--max-tokens", 1, MAX_OUTPUT_TOKENS, max_tokens),
        warmup=0 if getattr(args, "no_warmup", False) else num("warmup", "--warmup", 0, 100, 1),
        timeout=num("read_timeout", "--read-timeout", 0.1, 3600, DEFAULT_READ_TIMEOUT_S, float),
        ignore_eos=bool(getattr(args, "ignore_eos", False)),
        api_key=_api_key(getattr(args, "api_key", None)),
        request_timeout=num("request_timeout", "--request-timeout", 0.1, MAX_DURATION_S, DEFAULT_REQUEST_TIMEOUT_S, float),
    )


def _api_key(key: Any) -> str | None:
    """A bearer token that can travel in an HTTP header: printable ASCII, no spaces or line breaks."""
    if key is None:
        return None
    k = str(key)
    if not k or len(k) > 4096 or not all(33 <= ord(c) < 127 for c in k):
        raise SizeupError("--api-key must be printable ASCII without spaces, line breaks or control characters")
    return k


def resolve_target(s: EndpointSettings, note: Callable[[str], None] = lambda m: None) -> Target:
    """Parse the URL, detect the API, pick the model: everything before the first request."""
    base, api_hint, route_hint = split_endpoint(s.endpoint)
    api = s.api
    if api == "auto" and api_hint:
        api = api_hint
    elif api != "auto" and api_hint and api_hint != api:
        raise SizeupError(f"the URL path is {api_hint}'s API but --api is {api}")
    headers = {"Authorization": f"Bearer {s.api_key}"} if s.api_key else {}
    api, models, why = discover(base, api, timeout=min(s.timeout, DISCOVERY_S), headers=headers,
                                deadline=time.perf_counter() + min(s.timeout, DISCOVERY_S))
    model, info, msg = choose_model(models, s.model, why)
    if msg:
        note(msg)
    route = "generate" if api == "ollama" else (route_hint or s.route or "chat")
    return Target(base=base, api=api, route=route, model=model, model_info=info, headers=headers,
                  timeout=s.timeout, ignore_eos=s.ignore_eos, request_timeout=s.request_timeout)


def _store_level(db: Any, t: Target, s: EndpointSettings, level: Any, summary: dict[str, Any]) -> int:
    """One history row per level: per-request samples for every metric, the level summary in
    ``extra`` (percentiles, errors), status ok / failed / interrupted."""
    ok = [r for r in level.results if r.ok]
    cap = MAX_STORED_SAMPLES

    def vals(xs: list[float | None]) -> list[float]:
        return [float(x) for x in xs if x is not None][:cap]

    itl: list[float] = []
    for r in ok:
        itl.extend(r.itls()[: cap - len(itl)])
    metrics: dict[str, Any] = {
        "ttft_s": {"values": vals([r.ttft_s for r in ok]), "unit": "s"},
        "itl_s": {"values": itl, "unit": "s"},
        "e2e_s": {"values": vals([r.e2e_s for r in ok]), "unit": "s"},
        "decode_tps": {"values": vals([r.decode_tps for r in ok]), "unit": "tok/s"},
        "output_tokens": {"values": vals([r.output_tokens for r in ok]), "unit": "tok"},
        "prompt_tokens": {"values": vals([r.prompt_tokens for r in ok]), "unit": "tok"},
    }
    if summary["throughput_tps"] is not None:
        metrics["throughput_tps"] = {"values": [summary["throughput_tps"]], "unit": "tok/s"}
    for k in sorted({k for r in ok for k in r.server}):
        metrics[k] = {"values": vals([r.server.get(k) for r in ok]), "unit": "tok/s" if k.endswith("tps") else "s"}
    metrics = {k: v for k, v in metrics.items() if v["values"]}
    identity = {"name": t.model, "path": None, "size": t.model_info.get("size"),
                "hash": (t.model_info.get("digest") or "")[:32] or None, "quant": t.model_info.get("quantization_level")}
    config = {"endpoint": str(t.base), "api": t.api, "route": t.route, "path": t.path, "concurrency": level.concurrency,
              "requests": s.requests, "duration_s": s.duration, "prompt_tokens": s.prompt_tokens,
              "max_tokens": s.max_tokens, "ignore_eos": s.ignore_eos}
    status = "interrupted" if level.interrupted else ("ok" if summary["ok"] else "failed")
    error = summary["errors"][0]["message"] if summary["errors"] else None
    return db.record_result("endpoint", identity, config, metrics, {"summary": summary, "model_info": t.model_info},
                            hardware={"endpoint": str(t.base)}, status=status, error=error)


def run_endpoint_bench(args: argparse.Namespace) -> int:
    """The ``--endpoint`` branch of ``sizeup bench``. Exit codes: 0 all requests succeeded,
    1 measured but some requests failed, 2 nothing measured (one error line), 130 Ctrl-C after
    printing and storing what was measured."""
    from ..cli.output import print_json, warn

    s = settings_from_args(args)
    as_json = bool(getattr(args, "json", False))
    from ..render.safe import one_line

    progress = (lambda m: print(f"sizeup: {one_line(m)}", file=sys.stderr))
    t = resolve_target(s, note=progress)

    # Warm-up loads the model (slow on a cold server): all of it within one --read-timeout.
    warm_deadline = time.perf_counter() + s.timeout
    for i in range(s.warmup):
        r = send_one(t, build_prompt(s.prompt_tokens, -1 - i), s.max_tokens, deadline=warm_deadline)
        if not r.ok:
            raise SizeupError(r.error or "warm-up request failed")

    db = None
    if not (getattr(args, "no_save", False) or getattr(args, "no_history", False)):
        from ..history import HistoryDB

        db = HistoryDB(getattr(args, "db", None))
    levels: list[dict[str, Any]] = []
    run_ids: list[int] = []
    interrupted = False
    stop = threading.Event()
    counter = 0
    try:
        for c in s.concurrency:
            first = counter
            # no new request after --duration; in-flight ones are cut LEVEL_GRACE_S later
            hard = time.perf_counter() + s.duration + min(s.timeout, LEVEL_GRACE_S) if s.duration else None

            def send(i: int, hard: float | None = hard) -> RequestResult:
                return send_one(t, build_prompt(s.prompt_tokens, i), s.max_tokens, deadline=hard)

            try:
                level = run_level(send, c, s.requests, s.duration, first_index=first, stop=stop)
            except KeyboardInterrupt as e:
                interrupted = True
                level = getattr(e, "partial", None)
                if level is None or not level.results:
                    break
            counter += len(level.results)
            summary = summarize_level(level.results, c, interrupted=level.interrupted)
            levels.append(summary)
            if db is not None:
                try:
                    run_ids.append(_store_level(db, t, s, level, summary))
                except (SizeupError, sqlite3.Error) as e:  # a locked or full disk must not cost the numbers
                    warn(f"could not store level {c} in the history: {e}")
            progress(f"concurrency {c}: {summary['ok']}/{summary['requests']} ok in {summary['wall_s']:.1f} s"
                     + (f", first error: {summary['errors'][0]['message']}" if summary["errors"] else "")
                     + (f", flagged: {summary['flags'][0]['message']}" if summary["flags"] else ""))
            if interrupted or summary["ok"] == 0:
                break  # a level where nothing worked will not work with more clients
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if db is not None:
            db.close()

    measured = any(lv["ok"] for lv in levels)
    if not measured and not interrupted:
        errs = [e["message"] for lv in levels for e in lv["errors"]]
        raise SizeupError(errs[0] if errs else "no request was measured")
    report = {
        "endpoint": str(t.base), "api": t.api, "route": t.route, "url": t.url, "model": t.model,
        "model_info": t.model_info, "prompt_tokens_requested": s.prompt_tokens, "max_tokens": s.max_tokens,
        "requests_per_level": s.requests, "duration_s": s.duration, "levels": levels, "run_ids": run_ids,
        "interrupted": interrupted,
    }
    if as_json:
        print_json(report)
    else:
        render_report(report)
    if interrupted:
        print("sizeup: interrupted; finished levels were kept", file=sys.stderr)
        return 130
    if not measured:
        return 2
    return 0 if all(lv["failed"] == 0 for lv in levels) else 1


# --- output ----------------------------------------------------------------------------------

def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def _pct(d: dict[str, float] | None, key: str, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if not d else _fmt(d[key] * scale, digits)


def report_rows(rep: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(metric label, one cell per level): the table as data, so its content is testable
    without a terminal. Levels are columns: the eye compares a metric across concurrency, and
    a dozen metric rows fit a terminal where a dozen columns would not."""
    levels = rep["levels"]
    rows: list[tuple[str, list[str]]] = [
        ("requests ok / failed", [f"{lv['ok']} / {lv['failed']}" + (" (stopped)" if lv["interrupted"] else "")
                                  for lv in levels]),
        ("throughput, output tok/s", [_fmt(lv["throughput_tps"]) for lv in levels]),
        ("requests/s", [_fmt(lv["requests_per_s"], 2) for lv in levels]),
    ]
    for key, label, scale, digits in (("decode_tps", "decode tok/s per request", 1.0, 1),
                                      ("ttft_s", "TTFT ms", 1000.0, 0),
                                      ("itl_s", "inter-token ms", 1000.0, 1),
                                      ("e2e_s", "end-to-end s", 1.0, 2)):
        for p in ("p50", "p90", "p99"):
            rows.append((f"{label} {p}", [_pct(lv[key], p, scale, digits) for lv in levels]))
    for key, label, scale, digits in (("server_decode_tps", "server decode tok/s", 1.0, 1),
                                      ("server_prompt_tps", "server prompt tok/s", 1.0, 1)):
        if any(key in lv["server"] for lv in levels):
            rows.append((f"{label} p50", [_pct(lv["server"].get(key), "p50", scale, digits) for lv in levels]))
    return rows


def render_report(rep: dict[str, Any]) -> None:
    """A rich table: one column per concurrency level, one row per metric."""
    from ..cli.output import console
    from ..render.safe import TextTable, plain, safe_text

    levels = rep["levels"]
    exact = all(lv["output_tokens_exact"] for lv in levels if lv["ok"])
    ptoks = [lv["prompt_tokens_mean"] for lv in levels if lv["prompt_tokens_mean"] is not None]
    model = rep["model"].replace("\\", "/").rsplit("/", 1)[-1] or rep["model"]  # a served file path: its name
    prompt = f"~{rep['prompt_tokens_requested']}" + (f" (server counted {ptoks[0]:.0f})" if ptoks else "")
    tab = TextTable(title=f"{safe_text(model)} @ {safe_text(rep['url'])}", title_justify="left",
                caption=f"prompt {prompt} tokens, up to {rep['max_tokens']} generated per request",
                caption_justify="left")
    tab.add_column("concurrency")
    for lv in levels:
        tab.add_column(str(lv["concurrency"]), justify="right")
    for label, cells in report_rows(rep):
        if not exact and ("tok/s" in label and not label.startswith("server")):
            label += " ≈"
        tab.add_row(label, *cells)
    con = console()
    con.print(tab)
    if not levels:
        con.print("no level finished")
    if not exact:
        con.print("≈ the server sent no token counts (no usage in its stream): output tokens are counted "
                  "stream chunks, approximate")
    for lv in levels:
        for e in lv["errors"][:3]:
            con.print(plain(f"concurrency {lv['concurrency']}: {e['count']} failed: {e['message']}"))
        for f in lv.get("flags", [])[:3]:
            con.print(plain(f"concurrency {lv['concurrency']}: {f['count']} flagged: {f['message']}"))
