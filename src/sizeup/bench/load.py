"""Concurrency runner and latency statistics for endpoint benchmarks.

The statistics are pure functions over :class:`RequestResult` lists, so they are tested on
hand-made numbers. The runner is deliberately simple: ``concurrency`` threads, each sending one
request at a time (a closed loop, like ``vllm bench serve --max-concurrency`` and llama.cpp's
``server-bench``), drawing request numbers from a shared counter until the request budget or the
time budget of the level is spent. Threads rather than asyncio because the work is blocking
socket reads with ``http.client``, concurrency is small (a local server saturates long before
64 clients), and a thread per client keeps each request's timing free of event-loop scheduling
delays caused by other clients' parsing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

MAX_CONCURRENCY = 256
MAX_REQUESTS_PER_LEVEL = 100_000
MAX_ITL_SAMPLES = 1_000_000  # inter-token gaps kept per level (memory bound)
PERCENTILES = (50, 90, 99)


@dataclass
class RequestResult:
    """What one request measured. Times are ``time.perf_counter`` seconds."""

    ok: bool
    t_start: float
    t_end: float
    error: str | None = None
    t_first: float | None = None  # first content token arrived
    token_times: list[float] = field(default_factory=list)  # arrival of each content chunk
    output_tokens: int | None = None
    output_tokens_exact: bool = False  # from the server's usage/eval_count, not counted chunks
    prompt_tokens: int | None = None
    server: dict[str, float] = field(default_factory=dict)  # server-side timings, when sent
    flags: list[str] = field(default_factory=list)  # oddities of the server's answer (empty events, absurd counts)

    @property
    def e2e_s(self) -> float:
        return self.t_end - self.t_start

    @property
    def ttft_s(self) -> float | None:
        return None if self.t_first is None else self.t_first - self.t_start

    def itls(self) -> list[float]:
        """Gaps between consecutive content chunks (a chunk may hold several tokens on servers
        that batch their stream; the gap is still what a reader of the stream experiences)."""
        ts = self.token_times
        return [b - a for a, b in zip(ts, ts[1:])]

    @property
    def decode_tps(self) -> float | None:
        """Decode rate as a client sees it: tokens after the first over the time after the first
        (the first token's wait is prompt processing, reported as TTFT)."""
        if not self.output_tokens or self.output_tokens < 2 or len(self.token_times) < 2:
            return None
        span = self.token_times[-1] - self.token_times[0]
        if span <= 0:
            return None
        return (self.output_tokens - 1) / span


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks.

    Same definition as numpy's default (``method="linear"``) and Python's
    ``statistics.quantiles(method="inclusive")``: p50 of [1, 2, 3, 4] is 2.5, p0 the minimum,
    p100 the maximum. Raises ValueError on empty input or q outside [0, 100].
    """
    xs = sorted(float(v) for v in values)
    if not xs:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0 or math.isnan(q):
        raise ValueError(f"percentile {q} outside 0..100")
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    frac = pos - lo
    return xs[lo] + (xs[hi] - xs[lo]) * frac


def dist(values: Iterable[float]) -> dict[str, float] | None:
    """``{"mean", "p50", "p90", "p99", "max", "n"}`` of ``values``; None when there are none."""
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not xs:
        return None
    out: dict[str, float] = {"mean": math.fsum(xs) / len(xs)}
    for p in PERCENTILES:
        out[f"p{p}"] = percentile(xs, p)
    out["max"] = max(xs)
    out["n"] = len(xs)
    return out


def summarize_level(results: list[RequestResult], concurrency: int, *, interrupted: bool = False) -> dict[str, Any]:
    """Per-level figures from the requests of one concurrency level (pure).

    Aggregate throughput is all output tokens of successful requests over the level's wall time
    (first request sent to last response finished), the figure that tells how much a server
    serves; per-request decode tok/s tells how fast each user sees text appear. Both drop as
    well as rise with concurrency, which is the point of measuring several levels.
    """
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    wall = (max(r.t_end for r in results) - min(r.t_start for r in results)) if results else 0.0
    out_tokens = sum(r.output_tokens or 0 for r in ok)
    prompt_known = [r.prompt_tokens for r in ok if r.prompt_tokens is not None]
    itl: list[float] = []
    for r in ok:
        if len(itl) < MAX_ITL_SAMPLES:
            itl.extend(r.itls()[: MAX_ITL_SAMPLES - len(itl)])
    errors = Counter(r.error or "unknown error" for r in failed)
    flags = Counter(f for r in results for f in r.flags)
    server_keys = sorted({k for r in ok for k in r.server})
    server = {k: dist(r.server[k] for r in ok if k in r.server) for k in server_keys}
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "ok": len(ok),
        "failed": len(failed),
        "interrupted": interrupted,
        "wall_s": wall,
        "output_tokens": out_tokens,
        "output_tokens_exact": bool(ok) and all(r.output_tokens_exact for r in ok),
        "prompt_tokens_mean": (sum(prompt_known) / len(prompt_known)) if prompt_known else None,
        "throughput_tps": (out_tokens / wall) if ok and wall > 0 else None,
        "requests_per_s": (len(ok) / wall) if ok and wall > 0 else None,
        "decode_tps": dist(r.decode_tps for r in ok if r.decode_tps is not None),
        "ttft_s": dist(r.ttft_s for r in ok if r.ttft_s is not None),
        "itl_s": dist(itl),
        "e2e_s": dist(r.e2e_s for r in ok),
        "server": {k: v for k, v in server.items() if v is not None},
        "errors": [{"message": m, "count": c} for m, c in errors.most_common(10)],
        "flags": [{"message": m, "count": c} for m, c in flags.most_common(10)],
    }


@dataclass
class LevelRun:
    concurrency: int
    results: list[RequestResult]
    interrupted: bool = False


def run_level(send: Callable[[int], RequestResult], concurrency: int, max_requests: int,
              duration_s: float | None, *, first_index: int = 0,
              stop: threading.Event | None = None) -> LevelRun:
    """Run one closed-loop level: ``concurrency`` clients, at most ``max_requests`` requests, no
    new request started after ``duration_s`` seconds.

    ``send(i)`` performs request number ``i`` and must return a :class:`RequestResult` (it
    reports its own failures; an exception escaping it is recorded as a failed request, never
    lost). Worker threads are daemons and the main thread waits in short slices, so Ctrl-C
    reaches the caller at once: the caller gets ``KeyboardInterrupt`` after the results
    gathered so far were attached to the exception as ``partial`` (a :class:`LevelRun`).
    """
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency {concurrency} outside 1..{MAX_CONCURRENCY}")
    if not 1 <= max_requests <= MAX_REQUESTS_PER_LEVEL:
        raise ValueError(f"request count {max_requests} outside 1..{MAX_REQUESTS_PER_LEVEL}")
    stop = stop or threading.Event()
    lock = threading.Lock()
    results: list[RequestResult] = []
    issued = 0
    deadline = time.perf_counter() + duration_s if duration_s else None

    def worker() -> None:
        nonlocal issued
        while not stop.is_set():
            with lock:
                if issued >= max_requests or (deadline is not None and time.perf_counter() >= deadline):
                    return
                i = first_index + issued
                issued += 1
            t0 = time.perf_counter()
            try:
                r = send(i)
            except Exception as e:  # a bug or an unexpected library error still counts as a failure
                r = RequestResult(ok=False, t_start=t0, t_end=time.perf_counter(),
                                  error=f"{type(e).__name__}: {e}")
            with lock:
                results.append(r)

    threads = [threading.Thread(target=worker, daemon=True, name=f"sizeup-client-{k}")
               for k in range(min(concurrency, max_requests))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.1)
    except KeyboardInterrupt as e:
        stop.set()
        with lock:
            e.partial = LevelRun(concurrency, list(results), interrupted=True)  # type: ignore[attr-defined]
        raise
    return LevelRun(concurrency, results)
