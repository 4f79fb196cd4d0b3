"""System RAM, swap and container memory limits.

``available`` (not ``free``) is what matters: the kernel will drop page cache to make room, so
a machine with 2 GiB "free" and 40 GiB of cache can still load a 30 GiB model. Inside a
container the cgroup limit caps everything regardless of what the host has, and exceeding it
gets the process OOM-killed rather than swapped, so the limit is applied to ``available`` too.
"""

from __future__ import annotations

from pathlib import Path

from .model import MemoryInfo
from .runner import read_text, under

_UNLIMITED = 2**60  # cgroup v1 reports "no limit" as a huge page-aligned number


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo ("MemTotal:  16384 kB") as bytes per key."""
    out: dict[str, int] = {}
    for line in text.splitlines()[:1000]:
        k, sep, v = line.partition(":")
        parts = v.split()
        if sep and parts and parts[0].isdigit():
            out[k.strip()] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def cgroup_limit(root: Path | str = "/") -> tuple[int | None, int | None]:
    """(limit, current usage) of this process's memory cgroup in bytes, or (None, None).

    Reads cgroup v2 ``memory.max``/``memory.current`` at the mount root (what a container sees)
    and falls back to v1 ``memory.limit_in_bytes``/``memory.usage_in_bytes``.
    """
    for lim_p, cur_p in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        lim = read_text(under(root, lim_p), 64)
        if lim is None:
            continue
        lim = lim.strip()
        if lim == "max" or not lim.isdigit() or int(lim) >= _UNLIMITED:
            return None, None
        cur = (read_text(under(root, cur_p), 64) or "").strip()
        return int(lim), (int(cur) if cur.isdigit() else None)
    return None, None


def memory_from_values(total: int, available: int, swap_total: int, swap_free: int,
                       cg_limit: int | None, cg_current: int | None) -> tuple[MemoryInfo, list[str]]:
    """Combine kernel totals with a cgroup limit (pure, so tests can feed numbers)."""
    notes: list[str] = []
    limit = None
    if cg_limit is not None and cg_limit < total:
        limit = cg_limit
        room = max(cg_limit - (cg_current or 0), 0)
        if room < available:
            available = room
        notes.append(f"container memory limit {cg_limit / 2**30:.1f} GiB applies (host has {total / 2**30:.1f} GiB)")
    return MemoryInfo(total=total, available=available, swap_total=swap_total, swap_free=swap_free, limit=limit), notes


def probe_memory(root: Path | str = "/", system: str = "Linux", memsize: int | None = None) -> tuple[MemoryInfo, list[str]]:
    """RAM and swap: psutil on the real machine, /proc/meminfo of a recorded ``root`` otherwise."""
    if str(root) == "/":
        import psutil

        vm = psutil.virtual_memory()
        try:
            sw = psutil.swap_memory()
            swap_total, swap_free = int(sw.total), int(sw.free)
        except (OSError, RuntimeError):  # psutil raises on some locked-down systems
            swap_total = swap_free = 0
        total = int(memsize or vm.total)
        lim, cur = cgroup_limit(root) if system == "Linux" else (None, None)
        return memory_from_values(total, int(vm.available), swap_total, swap_free, lim, cur)
    info = parse_meminfo(read_text(under(root, "/proc/meminfo")) or "")
    total = memsize or info.get("MemTotal", 0)
    if not total:
        return MemoryInfo(0, 0), ["could not read memory size"]
    lim, cur = cgroup_limit(root)
    return memory_from_values(total, info.get("MemAvailable", info.get("MemFree", total)),
                              info.get("SwapTotal", 0), info.get("SwapFree", 0), lim, cur)
