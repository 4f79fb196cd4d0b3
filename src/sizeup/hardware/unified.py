"""Sizing the GPU pool of unified-memory devices from system RAM.

On Apple Silicon, AMD APUs (Strix Halo, Phoenix), NVIDIA GB10 (DGX Spark) and Jetson, the GPU
allocates from the same RAM as the CPU. Drivers report that pool oddly or not at all (NVML says
"Not Supported" on GB10; amdgpu reports a tiny carve-out as VRAM), so sizeup derives it from RAM:
what the GPU may address, capped by what is actually free, so the estimator never counts the
same gigabyte once as RAM and again as VRAM without knowing it is shared
(``Hardware.unified_memory`` tells it so).
"""

from __future__ import annotations

from dataclasses import replace

from .gpu_apple import metal_working_set
from .model import GPUInfo, MemoryInfo


def unified_pool(g: GPUInfo, mem: MemoryInfo, wired_limit_mb: int | None = None) -> GPUInfo:
    if not g.unified:
        return g
    if g.vendor == "apple":
        total = metal_working_set(mem.total, wired_limit_mb)
        return replace(g, vram_total=total, vram_free=min(total, mem.available))
    carve = g.dedicated_vram or 0
    total = g.vram_total or (mem.total + carve)
    free = g.vram_free if g.vram_free is not None else total
    return replace(g, vram_total=total, vram_free=max(0, min(free, total, carve + mem.available)))
