"""How fast does ``sizeup --help`` answer? Target: under 300 ms.

Peer measured in the same run: the bare interpreter (``python -c pass``), so the figure that
matters - what sizeup adds on top of Python's own start-up - is printed separately. Uses the
interpreter running this script; run it with the project's venv python so the installed console
script environment is what's measured:

    .venv/bin/python benchmarks/cli_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15


def timed(cmd: list[str]) -> list[float]:
    out = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    py = sys.executable
    rows = {
        "python -c pass": timed([py, "-c", "pass"]),
        "sizeup --help": timed([py, "-m", "sizeup", "--help"]),
        "sizeup inspect --help": timed([py, "-m", "sizeup", "inspect", "--help"]),
    }
    base = statistics.median(rows["python -c pass"])
    print(f"{'command':<24} {'median ms':>10} {'min ms':>8} {'over bare python ms':>20}")
    for name, ts in rows.items():
        med = statistics.median(ts)
        print(f"{name:<24} {med * 1e3:>10.0f} {min(ts) * 1e3:>8.0f} {(med - base) * 1e3:>20.0f}")
    print(f"target: sizeup --help < 300 ms -> {'met' if statistics.median(rows['sizeup --help']) < 0.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
