"""CPU memory bandwidth as sizeup measures it, next to simpler peers, with run-to-run spread.

    PYTHONPATH=src python3 benchmarks/cpu_bandwidth.py [--repeats 5] [--mib 512]

Rows:
  sizeup (threaded max)  the probe's method: one numpy max per core over disjoint chunks, best pass
  threaded sum           the same with a float64 sum (sizeup's probe before Dec 2026: its pairwise
                         additions are compute-bound on fast cores, so it reads low there)
  numpy max, 1 thread    the probe's reduction on one core (what a naive probe would report)
  numpy.copyto           read + write of the same array (bytes moved = 2 x size), 1 thread
  bytes copy             a plain Python bytes() copy of the buffer (memcpy), 2 x size

Each row is measured ``--repeats`` times; min / median / max and the spread (max-min)/median
show how much one ~1 s probe can be trusted on this machine (busy machines spread widely).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402

from sizeup.hardware.bandwidth import measure_read_bandwidth  # noqa: E402


def best_gbs(fn, nbytes: int, passes: int = 3) -> float:
    best = 0.0
    for _ in range(passes):
        t0 = time.perf_counter()
        fn()
        best = max(best, nbytes / (time.perf_counter() - t0) / 1e9)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--mib", type=int, default=512, help="array size in MiB (default 512)")
    args = ap.parse_args()
    size = args.mib * 2**20
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    a = np.ones(size // 8)
    b = np.empty_like(a)
    rows: dict[str, list[float]] = {"sizeup (threaded max)": [], "threaded sum": [], "numpy max, 1 thread": [],
                                    "numpy.copyto": [], "bytes copy": []}
    probe_s: list[float] = []
    chunks = np.array_split(a, threads)
    with ThreadPoolExecutor(max_workers=threads) as ex:
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            rows["sizeup (threaded max)"].append(measure_read_bandwidth(array_bytes=size, threads=threads).gbs)
            probe_s.append(time.perf_counter() - t0)
            rows["threaded sum"].append(best_gbs(lambda: list(ex.map(np.sum, chunks)), a.nbytes))
            rows["numpy max, 1 thread"].append(best_gbs(a.max, a.nbytes))
            rows["numpy.copyto"].append(best_gbs(lambda: np.copyto(b, a), 2 * a.nbytes))
            mv = memoryview(a).cast("B")
            rows["bytes copy"].append(best_gbs(lambda: bytes(mv), 2 * a.nbytes))

    print(f"array {args.mib} MiB, {threads} threads for the probe, {args.repeats} repeats")
    print(f"{'method':24} {'min':>8} {'median':>8} {'max':>8} {'spread':>8}  (GB/s)")
    for name, vals in rows.items():
        med = statistics.median(vals)
        print(f"{name:24} {min(vals):8.1f} {med:8.1f} {max(vals):8.1f} {100 * (max(vals) - min(vals)) / med:7.1f}%")
    print(f"probe wall time: median {statistics.median(probe_s):.2f} s (alloc + passes), max {max(probe_s):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
