"""Measured llama.cpp load times (cold and warm) of the test models vs sizeup's load-time model.

Cold = the file dropped from the page cache first (posix_fadvise DONTNEED); warm = loaded right
after a previous load. Each load runs in a fresh subprocess so nothing stays mapped between runs.

    python benchmarks/load_time.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from sizeup.formats.gguf_model import describe_gguf
from sizeup.hardware.disk import disk_read_speed, load_time_seconds
from sizeup.testmodels import fetch

CHILD = r"""
import json, sys, time, os
from sizeup.llamacpp.quiet import quiet_stderr
import llama_cpp
path = sys.argv[1]
t0 = time.perf_counter()
with quiet_stderr():
    llm = llama_cpp.Llama(model_path=path, n_ctx=512, verbose=False)
print(json.dumps({"load_s": time.perf_counter() - t0}))
"""


def drop(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def load_once(path: str) -> float:
    r = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["load_s"]


def memory_bandwidth_gbs() -> float:
    import numpy as np

    a = np.ones(64 * 1024 * 1024 // 8)
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        a.sum()
        best = max(best, a.nbytes / (time.perf_counter() - t0) / 1e9)
    return best


def main() -> None:
    disk = disk_read_speed()
    mem = memory_bandwidth_gbs()
    print(f"disk read {disk.read_gbs:.2f} GB/s ({'cold' if disk.cold else 'maybe cached'}, {disk.source}); memory read {mem:.1f} GB/s")
    print(f"{'model':<34} {'MB':>6} {'cold s':>7} {'pred':>6} {'warm s':>7} {'pred':>6}")
    for key in ("smollm2", "gemma3"):
        path = str(fetch(key))
        size = os.path.getsize(path)
        n_vocab = describe_gguf(path).tokenizer.n_vocab
        colds, warms = [], []
        for _ in range(3):
            drop(path)
            colds.append(load_once(path))
            warms.append(load_once(path))
        cold, warm = sorted(colds)[1], sorted(warms)[1]
        print(f"{os.path.basename(path):<34} {size / 1e6:>6.0f} {cold:>7.3f} {load_time_seconds(size, n_vocab, disk.read_gbs, mem, True):>6.3f} "
              f"{warm:>7.3f} {load_time_seconds(size, n_vocab, disk.read_gbs, mem, False):>6.3f}")


if __name__ == "__main__":
    main()
