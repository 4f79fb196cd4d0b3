"""AMD GPUs: amdgpu sysfs first, ``rocm-smi --json`` for names and when sysfs is not visible.

sysfs needs no ROCm install and costs no process spawn: amdgpu exposes ``mem_info_vram_total``,
``mem_info_vram_used`` and, for APUs, the GTT (system RAM the GPU may map) as
``mem_info_gtt_total``/``_used``. APUs (Strix Halo / Ryzen AI Max, Phoenix, ...) have only a
small BIOS carve-out as "VRAM" and reach most of their memory through GTT; they are reported as
unified with carve-out + GTT as the pool, since that is what llama.cpp's ROCm/Vulkan backends
can allocate.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from . import specs
from .drm import list_cards
from .model import GPUInfo
from .runner import Runner, read_int, read_text

AMD = 0x1002
APU_VRAM_HINT = 2 * 2**30  # a "VRAM" below this with a large GTT is an APU carve-out, not a card
ROCM_SMI = ["rocm-smi", "--showmeminfo", "vram", "--showproductname", "--json"]


def probe_amd_sysfs(root: Path | str = "/") -> tuple[dict[str, GPUInfo], list[str]]:
    """AMD GPUs keyed by drm card name ("card0")."""
    out: dict[str, GPUInfo] = {}
    notes: list[str] = []
    for c in list_cards(root):
        if c.vendor_id != AMD:
            continue
        vram_total = _int(read_int(c.path / "mem_info_vram_total"))
        vram_used = _int(read_int(c.path / "mem_info_vram_used"))
        gtt_total = _int(read_int(c.path / "mem_info_gtt_total"))
        gtt_used = _int(read_int(c.path / "mem_info_gtt_used"))
        name = (read_text(c.path / "product_name", 256) or "").strip()
        cands = specs.candidates_for_pci(c.vendor_id, c.device_id)
        spec = specs.lookup(name, vram_total) if name else None
        spec = spec or specs.pick(cands, vram_total)
        if not name:
            name = f"AMD {spec.name}" if spec else f"AMD GPU [1002:{c.device_id:04x}]"
        apu = specs.is_amd_apu_pci(c.device_id) or (spec is not None and spec.unified)
        if not apu and vram_total is not None and gtt_total and vram_total < APU_VRAM_HINT and gtt_total > 2 * vram_total:
            apu = True
            notes.append(f"{c.card}: {vram_total / 2**20:.0f} MiB VRAM with {gtt_total / 2**30:.1f} GiB GTT: treated as an APU (unified memory)")
        vram_free = max(vram_total - vram_used, 0) if vram_total is not None and vram_used is not None else None
        if apu:
            pool = (vram_total or 0) + (gtt_total or 0)
            free = (vram_free or 0) + (max(gtt_total - gtt_used, 0) if gtt_total and gtt_used is not None else 0)
            gpu = GPUInfo(index=len(out), vendor="amd", name=name, vram_total=pool or None, vram_free=free or None,
                          driver=c.driver or None, unified=True, source="sysfs", dedicated_vram=vram_total)
        else:
            gpu = GPUInfo(index=len(out), vendor="amd", name=name, vram_total=vram_total, vram_free=vram_free,
                          driver=c.driver or None, source="sysfs")
        out[c.card] = gpu
    return out, notes


def parse_rocm_smi_json(text: str) -> tuple[dict[str, GPUInfo], list[str]]:
    """GPUs from ``rocm-smi --showmeminfo vram --showproductname --json``, keyed by "card0".

    Key spellings changed across ROCm releases ("Card series" / "Card Series"), so keys are
    compared case-insensitively. Anything not shaped like the expected dict is a note, not a crash.
    """
    try:
        data = json.loads(text[:4 * 1024 * 1024])
    except ValueError:
        return {}, ["rocm-smi: output is not JSON"]
    if not isinstance(data, dict):
        return {}, ["rocm-smi: unexpected JSON shape"]
    out: dict[str, GPUInfo] = {}
    for key, val in list(data.items())[:64]:
        if not str(key).startswith("card") or not isinstance(val, dict):
            continue
        low = {str(k).lower(): v for k, v in val.items()}
        total = _int(low.get("vram total memory (b)"))
        used = _int(low.get("vram total used memory (b)"))
        name = str(low.get("card series") or low.get("card model") or "AMD GPU").strip()
        gfx = low.get("gfx version")
        out[str(key)] = GPUInfo(index=len(out), vendor="amd", name=name, vram_total=total,
                                vram_free=max(total - used, 0) if total is not None and used is not None else None,
                                compute_capability=str(gfx) if gfx else None, source="rocm-smi")
    if not out:
        return {}, ["rocm-smi: no GPUs in output"]
    return out, []


def probe_amd(root: Path | str, runner: Runner) -> tuple[list[GPUInfo], list[str]]:
    """sysfs first; rocm-smi only when sysfs shows no AMD GPU (containers without /sys/class/drm)
    or a card it could not name (spawning rocm-smi costs ~0.5 s, so it is skipped when not needed)."""
    cards, notes = probe_amd_sysfs(root)
    unnamed = [c for c, g in cards.items() if specs.lookup(g.name, g.dedicated_vram or g.vram_total) is None]
    if cards and not unnamed:
        return list(cards.values()), notes
    res = runner(ROCM_SMI)
    smi: dict[str, GPUInfo] = {}
    if res.ok:
        smi, n = parse_rocm_smi_json(res.stdout)
        notes += n
    elif res.reason != "not installed":
        notes.append(f"rocm-smi: {res.reason}")
    if not cards:
        return list(smi.values()), notes
    merged = []
    for card, g in cards.items():
        s = smi.get(card)
        if s is not None and card in unnamed:
            g = replace(g, name=s.name if g.name.startswith("AMD GPU [") else g.name,
                        compute_capability=s.compute_capability or g.compute_capability)
        merged.append(g)
    return merged, notes


def _int(v) -> int | None:
    """A byte count from tool output or sysfs; negative or absurd (> 1 PiB) values are garbage."""
    try:
        n = int(str(v).strip())
    except (TypeError, ValueError):
        return None
    return n if 0 <= n <= 2**50 else None
