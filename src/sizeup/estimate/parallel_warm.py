"""A large catalog's first ranking, on two CPUs at once.

The first ranking of a catalog (nothing yet in the on-disk cache of :mod:`.summary_cache`) spends
most of its time, per distinct architecture shape, predicting llama-quantize's type mix for every
quant and running the memory model for the non-weight buffers. Shapes are independent of each
other, so on a machine with more than one CPU a forked child works out half of them while this
process does the other half. The child hands back exactly what the disk cache stores, as JSON
through a pipe (nothing is unpickled), and the ranking then reads it as it would a warm cache.

Whatever goes wrong in the child (a crash, the deadline, output that does not parse) costs only
time: this process then works those shapes out itself, as it would without a child. The child is
only forked on Linux (fork is the cheap way to share the catalog already parsed here), never
runs anything but this module's pure computation and leaves with ``os._exit``.
``SIZEUP_WORKERS=1`` turns it off.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
import warnings
from typing import Any, Callable, Sequence

from . import summary_cache

MIN_ITEMS = 32  # below this a fork costs more than it saves
DEADLINE_S = 120.0  # the child's share must be back by then
MAX_REPLY = 256 << 20  # bytes read from the child at most


def workers() -> int:
    """Processes to use: ``$SIZEUP_WORKERS`` (1 turns the child off), else 2 when this process may
    run on two or more CPUs."""
    env = os.environ.get("SIZEUP_WORKERS", "").strip()
    if env:
        try:
            return max(1, min(2, int(env)))
        except ValueError:
            return 1
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return 2 if n >= 2 else 1


def warm(work: Sequence[tuple], fn: Callable[..., Any], accept: Callable[[tuple, Any], None] | None = None) -> int:
    """Run ``fn(*item)`` for every item of ``work``, half of them in a forked child; returns how many
    :mod:`.summary_cache` entries the child handed back. ``fn`` fills that cache; what it returns
    in the child (JSON-able) is handed back too and given to ``accept(item, value)`` here (a bad
    value is ``accept``'s to refuse). With too little work, one usable CPU or no fork, nothing is
    run here: the ranking works each item out as it reaches it."""
    if len(work) < MIN_ITEMS or workers() < 2 or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 0
    mine, theirs = list(work[0::2]), list(work[1::2])
    before = summary_cache.entry_keys()
    r, w = os.pipe()
    with warnings.catch_warnings():  # 3.12+: fork with other threads (a progress bar) alive
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: compute, reply, leave without running the parent's exit handlers
        code = 1
        try:
            os.close(r)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            results = [fn(*item) for item in theirs]
            data = json.dumps({"entries": summary_cache.new_entries(before), "results": results},
                              separators=(",", ":")).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
            code = 0
        except BaseException:  # noqa: BLE001 - the parent works it out itself
            pass
        finally:
            os._exit(code)
    os.close(w)
    try:
        for item in mine:
            fn(*item)
        data = _read(r, time.monotonic() + DEADLINE_S)
    finally:
        os.close(r)
        _reap(pid)
    if data is None:
        return 0
    try:
        reply = json.loads(data)
    except ValueError:
        return 0
    if not isinstance(reply, dict):
        return 0
    n = summary_cache.merge(reply.get("entries"))
    results = reply.get("results")
    if accept is not None and isinstance(results, list) and len(results) == len(theirs):
        for item, value in zip(theirs, results):
            accept(item, value)
    return n


def _read(fd: int, deadline: float) -> bytes | None:
    """Everything the child writes until it closes the pipe, or None past the deadline or the cap."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        size += len(b)
        if size > MAX_REPLY:
            return None
        chunks.append(b)


def _reap(pid: int) -> None:
    """Wait for the child; kill it if it has not finished (a deadline, an interrupt here)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        pass
