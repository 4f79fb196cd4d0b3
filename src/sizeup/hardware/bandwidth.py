"""CPU memory read bandwidth: a one-second numpy measurement, cached per machine.

Why measure: token generation on the CPU streams every active weight once per token, so decode
speed is memory bandwidth / bytes per token. Spec sheets give the channel peak (DDR5-5600 dual
channel = 89.6 GB/s) but real sustained reads land anywhere from 50 to 90 % of it, depending on
DIMM population, NUMA and the memory controller. A short measurement of the same access pattern
(a streaming reduction over an array much larger than the last-level cache, split across cores)
is a far better predictor than the sticker number.

The result is cached by (CPU model, RAM size, hostname hash) in the user cache directory, so
only the first ``sizeup`` run on a machine pays the second; ``--remeasure`` redoes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

CACHE_VERSION = 2  # 2: a max reduction instead of a sum (see measure_read_bandwidth)
DEFAULT_ARRAY_BYTES = 256 * 1024 * 1024  # well past the L3 of desktop chips (<= 128 MB)
MAX_ARRAY_BYTES = 2 * 1024**3  # big-cache servers (Genoa-X: 1.1 GB L3) get 4 x L3, up to this
MIN_ARRAY_BYTES = 64 * 1024 * 1024  # floor when RAM is tiny (Raspberry Pi)
MAX_THREADS = 64


def array_size(ram_bytes: int | None = None, l3_bytes: int | None = None) -> int:
    """Bytes to stream: at least 4 x total L3 so caches cannot serve the reads, at most RAM/8 so
    the probe never pushes a small machine into swap."""
    size = min(max(DEFAULT_ARRAY_BYTES, 4 * (l3_bytes or 0)), MAX_ARRAY_BYTES)
    if ram_bytes:
        size = min(size, max(MIN_ARRAY_BYTES, ram_bytes // 8))
    return size


@dataclass(frozen=True)
class BandwidthResult:
    gbs: float  # best read bandwidth, GB/s (10^9 B/s)
    runs_gbs: tuple[float, ...]  # every timed pass, for the spread
    threads: int
    array_bytes: int
    measured_at: str  # ISO-8601 UTC
    source: str  # "measured" (this run) or "cached"

    def to_dict(self) -> dict:
        return {"gbs": self.gbs, "runs_gbs": list(self.runs_gbs), "threads": self.threads,
                "array_bytes": self.array_bytes, "measured_at": self.measured_at, "source": self.source}


def hostname_hash() -> str:
    """A short hash of the host name: identifies the machine in cache keys without revealing it."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:12]


def cache_key(cpu_model: str, ram_bytes: int, host_hash: str | None = None) -> str:
    ram_gib = round(ram_bytes / 2**30)  # free memory changes; installed RAM does not
    raw = f"v{CACHE_VERSION}|{cpu_model}|{ram_gib}|{host_hash or hostname_hash()}"
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:20]


def default_cache_dir() -> Path:
    env = os.environ.get("SIZEUP_CACHE_DIR")
    if env:
        return Path(env) / "hardware"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sizeup")) / "hardware"


def measure_read_bandwidth(array_bytes: int | None = None, threads: int | None = None,
                           budget_s: float = 1.0, max_passes: int = 5, ram_bytes: int | None = None,
                           l3_bytes: int | None = None) -> BandwidthResult:
    """Best-of-N streaming read bandwidth of RAM with ``threads`` workers scanning disjoint chunks.

    numpy releases the GIL inside reductions, so Python threads run the scans in parallel like an
    inference engine's worker threads. The reduction is a maximum, not a sum: numpy compares with
    SIMD at far more bytes per cycle than its pairwise float64 additions, so the loop is bound by
    the reads. A sum was compute-bound on fast cores: 32-37 GB/s on 2 AVX-512 EPYC cores where a
    maximum read 42-49 GB/s and llama.cpp's decode of an 8B read 45-53 GB/s (Dec 2026). The array
    is written once before timing (page faults excluded from the rate, not from ``budget_s``),
    sized by :func:`array_size`. At least three passes run; more while the budget lasts.
    """
    import numpy as np

    t_start = time.perf_counter()
    if array_bytes is None:
        array_bytes = array_size(ram_bytes, l3_bytes)
    n_threads = max(1, min(threads or os.cpu_count() or 1, MAX_THREADS))
    n = max(array_bytes // 8, n_threads * 1024)
    a = np.ones(n, dtype=np.float64)  # written now: every page is resident before timing
    chunks = np.array_split(a, n_threads)
    for c in chunks:
        c[-1] = 2.0  # each worker finds the maximum only if it reads its chunk to the end
    runs: list[float] = []
    with ThreadPoolExecutor(max_workers=n_threads) as ex:
        while len(runs) < max_passes:
            t0 = time.perf_counter()
            peaks = list(ex.map(np.max, chunks))
            dt = time.perf_counter() - t0
            if any(p != 2.0 for p in peaks):  # guards against a broken numpy build silently skipping work
                raise RuntimeError("bandwidth benchmark produced a wrong maximum")
            runs.append(a.nbytes / dt / 1e9)
            if len(runs) >= 3 and time.perf_counter() - t_start > budget_s:
                break
    del a, chunks
    return BandwidthResult(round(max(runs), 2), tuple(round(r, 2) for r in runs), n_threads, n * 8,
                           datetime.now(timezone.utc).isoformat(timespec="seconds"), "measured")


def load_cached(key: str, cache_dir: Path | None = None) -> BandwidthResult | None:
    """A cached result for ``key``, or None if absent, unreadable or malformed (never raises)."""
    path = (cache_dir or default_cache_dir()) / f"bandwidth-{key}.json"
    try:
        if path.stat().st_size > 64 * 1024:
            return None
        d = json.loads(path.read_text(encoding="utf-8"))
        if d.get("key") != key or not isinstance(d.get("gbs"), (int, float)) or not 0 < d["gbs"] < 100_000:
            return None
        return BandwidthResult(float(d["gbs"]), tuple(float(x) for x in d.get("runs_gbs", ())[:100]),
                               int(d.get("threads", 0)), int(d.get("array_bytes", 0)), str(d.get("measured_at", "")), "cached")
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def save_cached(key: str, result: BandwidthResult, cache_dir: Path | None = None) -> Path | None:
    """Write atomically (temp file + rename) so concurrent sizeup runs never read half a file."""
    d = cache_dir or default_cache_dir()
    path = d / f"bandwidth-{key}.json"
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, **result.to_dict(), "source": "measured"}, indent=1), encoding="utf-8")
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def cpu_bandwidth(cpu_model: str, ram_bytes: int, threads: int | None = None, remeasure: bool = False,
                  cache_dir: Path | None = None, measure: bool = True, l3_bytes: int | None = None) -> BandwidthResult | None:
    """Cached bandwidth for this machine, measuring (and caching) when missing or asked to.

    ``measure=False`` returns only a cached value (for callers that must stay instant).
    """
    key = cache_key(cpu_model, ram_bytes)
    if not remeasure:
        hit = load_cached(key, cache_dir)
        if hit is not None or not measure:
            return hit
    res = measure_read_bandwidth(threads=threads, ram_bytes=ram_bytes, l3_bytes=l3_bytes)
    save_cached(key, res, cache_dir)
    return res
