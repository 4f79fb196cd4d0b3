"""Intel discrete GPUs (Arc A/B series), best effort.

Neither i915 nor xe exposes VRAM size in one stable sysfs file across kernel versions, so the
probe tries the known spellings (``lmem_total_bytes``, ``mem_info_vram_total``, xe's
``tile0/vram0/size``), then ``xpu-smi discovery -j`` when installed, then the spec table via the
PCI id. Integrated Intel graphics (no local memory, id not in the table) are not reported:
llama.cpp gains little from them and they share RAM the CPU already counts.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import specs
from .drm import list_cards
from .model import GPUInfo
from .runner import Runner, read_int

INTEL = 0x8086
XPU_SMI = ["xpu-smi", "discovery", "-j"]
_VRAM_FILES = ("lmem_total_bytes", "mem_info_vram_total", "tile0/vram0/size", "lmem_total")
_USED_FILES = ("mem_info_vram_used",)


def probe_intel_sysfs(root: Path | str = "/") -> tuple[list[GPUInfo], list[str]]:
    gpus: list[GPUInfo] = []
    notes: list[str] = []
    for c in list_cards(root):
        if c.vendor_id != INTEL:
            continue
        total = next((v for f in _VRAM_FILES if (v := read_int(c.path / f)) is not None), None)
        if total is None:
            total = next((v for f in _VRAM_FILES if (v := read_int(c.path.parent / f)) is not None), None)
        used = next((v for f in _USED_FILES if (v := read_int(c.path / f)) is not None), None)
        spec = specs.pick(specs.candidates_for_pci(c.vendor_id, c.device_id), total)
        if total is None and spec is None:
            continue  # integrated graphics
        source = "sysfs"
        if total is None and spec is not None:
            total = int(spec.vram_gib * 2**30)
            source = "sysfs+spec"
            notes.append(f"{c.card}: Intel {spec.name}: VRAM size taken from the spec table (driver does not report it)")
        gpus.append(GPUInfo(index=len(gpus), vendor="intel", name=f"Intel {spec.name}" if spec else f"Intel GPU [8086:{c.device_id:04x}]",
                            vram_total=total, vram_free=total - used if used is not None else None,
                            driver=c.driver or None, source=source))
    return gpus, notes


def parse_xpu_smi_json(text: str) -> tuple[list[GPUInfo], list[str]]:
    try:
        data = json.loads(text[:4 * 1024 * 1024])
        devices = data.get("device_list") if isinstance(data, dict) else None
        if not isinstance(devices, list):
            raise ValueError
    except (ValueError, AttributeError):
        return [], ["xpu-smi: unexpected output"]
    gpus = []
    for d in devices[:64]:
        if not isinstance(d, dict):
            continue
        try:
            total = int(str(d.get("memory_physical_size_byte", "")).strip())
        except ValueError:
            total = None
        gpus.append(GPUInfo(index=len(gpus), vendor="intel", name=str(d.get("device_name") or "Intel GPU")[:200],
                            vram_total=total, vram_free=None, source="xpu-smi"))
    return gpus, []


def probe_intel(root: Path | str, runner: Runner) -> tuple[list[GPUInfo], list[str]]:
    gpus, notes = probe_intel_sysfs(root)
    if gpus:
        return gpus, notes
    res = runner(XPU_SMI)
    if res.ok:
        return parse_xpu_smi_json(res.stdout)
    if res.reason != "not installed":
        notes.append(f"xpu-smi: {res.reason}")
    return [], notes
