"""Apple GPUs on macOS: ``system_profiler SPDisplaysDataType -json`` plus sysctl.

Apple Silicon GPUs share the machine's RAM, but Metal lets one process wire only part of it:
``recommendedMaxWorkingSetSize``, which llama.cpp logs at startup, is about 2/3 of RAM on
machines up to 36 GB and about 3/4 above (a 32 GB Mac logs about 22,900 MB).
``sysctl iogpu.wired_limit_mb`` overrides it. That limit, not total RAM,
is the GPU pool the estimator must fit a model into.
"""

from __future__ import annotations

import json
import re

from .model import GPUInfo
from .runner import Runner

SYSTEM_PROFILER = ["system_profiler", "SPDisplaysDataType", "-json"]
WIRED_LIMIT = ["sysctl", "-n", "iogpu.wired_limit_mb"]
SMALL_MACHINE = 36 * 2**30  # at or below: 2/3 of RAM; above: 3/4 (see module docstring)


def metal_working_set(ram_bytes: int, wired_limit_mb: int | None = None) -> int:
    """Bytes the GPU may use: the sysctl override when set, else Metal's default fraction of RAM."""
    if wired_limit_mb and wired_limit_mb > 0:
        return min(wired_limit_mb * 2**20, ram_bytes)
    return ram_bytes * 2 // 3 if ram_bytes <= SMALL_MACHINE else ram_bytes * 3 // 4


def _size(text: str) -> int | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(MB|GB)\s*", str(text))
    if not m:
        return None
    return int(float(m.group(1)) * (2**30 if m.group(2) == "GB" else 2**20))


def parse_system_profiler(text: str) -> tuple[list[GPUInfo], list[str]]:
    """GPUs from ``system_profiler SPDisplaysDataType -json``. Apple GPUs come back unified with
    no sizes (filled in from RAM by the caller); Intel-Mac discrete GPUs with their VRAM."""
    try:
        data = json.loads(text[:4 * 1024 * 1024])
        items = data.get("SPDisplaysDataType") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ValueError
    except (ValueError, AttributeError):
        return [], ["system_profiler: unexpected output"]
    gpus: list[GPUInfo] = []
    for it in items[:16]:
        if not isinstance(it, dict):
            continue
        name = str(it.get("sppci_model") or it.get("_name") or "GPU")[:200]
        vendor_raw = str(it.get("spdisplays_vendor", "")).lower()
        apple = "apple" in vendor_raw or name.startswith("Apple")
        cores = None
        try:
            cores = int(str(it.get("sppci_cores", "")).strip())
        except ValueError:
            pass
        if apple:
            gpus.append(GPUInfo(index=len(gpus), vendor="apple", name=name, vram_total=None, vram_free=None,
                                unified=True, source="system_profiler", gpu_cores=cores,
                                driver=str(it.get("spdisplays_mtlgpufamilysupport", "")).replace("spdisplays_", "") or None))
            continue
        vram = _size(it.get("spdisplays_vram", "")) or _size(it.get("_spdisplays_vram", ""))
        if vram is None:  # Intel iGPU ("spdisplays_vram_shared"): not worth offloading to
            continue
        vendor = "amd" if "amd" in vendor_raw or "ati" in vendor_raw else "nvidia" if "nvidia" in vendor_raw else "intel"
        gpus.append(GPUInfo(index=len(gpus), vendor=vendor, name=name, vram_total=vram, vram_free=None,
                            source="system_profiler"))
    return gpus, []


def probe_apple(runner: Runner) -> tuple[list[GPUInfo], list[str], int | None]:
    """(gpus, notes, iogpu.wired_limit_mb or None)."""
    res = runner(SYSTEM_PROFILER)
    if not res.ok:
        return [], [f"system_profiler: {res.reason}"], None
    gpus, notes = parse_system_profiler(res.stdout)
    limit = None
    if any(g.unified for g in gpus):
        r = runner(WIRED_LIMIT)
        if r.ok and r.stdout.strip().isdigit():
            limit = int(r.stdout.strip())
    return gpus, notes, limit
