"""Resident memory of this process, as a child that runs llama.cpp measures itself.

``rss_peak`` reads VmHWM from /proc on Linux. ``getrusage().ru_maxrss`` survives exec: a child
started by fork + exec reports its *parent's* resident memory at fork time when that was larger
(a ``sizeup bench`` that has just probed memory bandwidth with a 256 MB array, a pytest run, an
IDE), so the first benchmark on a fresh machine would read ~130 MB too high. Elsewhere
``ru_maxrss`` is all there is (bytes on macOS, KiB on Linux).
"""

from __future__ import annotations

import os
import sys


def rss_now() -> int:
    """Resident bytes now (/proc/self/statm), else the peak."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return rss_peak()


def rss_peak() -> int:
    """Peak resident bytes of this process image (VmHWM on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    v = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return v if sys.platform == "darwin" else v * 1024
