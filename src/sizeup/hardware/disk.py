"""Sequential read throughput of the disk that holds the models, for load-time estimates.

A model's cold load time is dominated by reading the file (llama.cpp mmaps it and touches every
page); a warm load reads from the page cache at memory speed. The seed guide's "Loading Time"
column (5-10 s for 1B ... 1-3 minutes for 30B) is really a statement about disks, so sizeup
measures the user's disk instead of repeating it.

The measurement writes a scratch file (256 MiB by default) in the target directory, flushes it,
asks the kernel to drop it from the page cache (``posix_fadvise(DONTNEED)``, which works without
root on Linux), and times reading it back. Where the cache cannot be dropped (macOS, some
filesystems) the figure is flagged as possibly cached. Results are cached per filesystem device.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_BYTES = 256 * 1024 * 1024
BLOCK = 4 * 1024 * 1024


@dataclass(frozen=True)
class DiskSpeed:
    read_gbs: float  # GB/s (10^9 bytes per second)
    cold: bool  # True when the page cache was dropped before reading
    bytes_read: int
    directory: str
    measured_at: str
    source: str  # "measured" | "cached"


def _cache_file() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sizeup")) / "disk_speed.json"


def _drop_cache(fd: int) -> bool:
    if not hasattr(os, "posix_fadvise"):
        return False
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return True
    except OSError:
        return False


def measure_read_speed(directory: str | Path, n_bytes: int = DEFAULT_BYTES) -> DiskSpeed:
    """Write, drop from cache, and time reading back ``n_bytes`` in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    block = os.urandom(BLOCK)  # incompressible, so compressing filesystems can't cheat
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".sizeup-disk-", delete=True) as f:
        written = 0
        while written < n_bytes:
            f.write(block)
            written += len(block)
        f.flush()
        cold = _drop_cache(f.fileno())
        with open(f.name, "rb", buffering=0) as r:
            t0 = time.perf_counter()
            got = 0
            while chunk := r.read(BLOCK):
                got += len(chunk)
            dt = time.perf_counter() - t0
    return DiskSpeed(
        read_gbs=got / dt / 1e9 if dt > 0 else 0.0,
        cold=cold,
        bytes_read=got,
        directory=str(directory),
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        source="measured",
    )


def disk_read_speed(directory: str | Path | None = None, remeasure: bool = False) -> DiskSpeed:
    """Cached per filesystem device; measured once (about a second on an SSD) when missing."""
    from platformdirs import user_cache_dir

    directory = Path(directory or user_cache_dir("sizeup"))
    directory.mkdir(parents=True, exist_ok=True)
    key = str(os.stat(directory).st_dev)
    cache = _cache_file()
    data: dict = {}
    try:
        data = json.loads(cache.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    if not remeasure and isinstance(data.get(key), dict):
        try:
            return DiskSpeed(**{**data[key], "source": "cached"})
        except TypeError:
            pass
    result = measure_read_speed(directory)
    data[key] = asdict(result)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, cache)
    except OSError:
        pass
    return result


# Seconds per vocabulary entry that llama.cpp spends building its token tables at load time.
# Fitted with benchmarks/load_time.py on this project's 2-core CI machine: SmolLM2 (49k tokens)
# loads warm in ~0.15 s, gemma-3-270m (262k tokens) in ~0.8-1.0 s, while their files read in
# < 0.1 s - vocabulary setup, not bytes, dominates small models' load time.
VOCAB_LOAD_S_PER_TOKEN = 3.0e-6


def load_time_seconds(file_bytes: int, n_vocab: int, disk_gbs: float, memory_gbs: float | None, cold: bool) -> float:
    """Estimated llama.cpp load time: vocabulary setup plus reading the weights.

    Cold loads read the file from disk; warm loads read it from the page cache, bounded by
    memory bandwidth (``memory_gbs``; 5 GB/s assumed when unknown).
    """
    vocab = n_vocab * VOCAB_LOAD_S_PER_TOKEN
    if cold:
        return vocab + (file_bytes / (disk_gbs * 1e9) if disk_gbs > 0 else float("inf"))
    return vocab + file_bytes / ((memory_gbs or 5.0) * 1e9)
