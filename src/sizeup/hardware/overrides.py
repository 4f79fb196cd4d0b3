"""What-if: plan for a machine you don't have (``--gpu "RTX 4090" --gpus 2 --ram 64G``).

Overrides replace probed values rather than adding to them: ``--gpu`` swaps every probed GPU for
``n_gpus`` copies of the named card (VRAM, bandwidth and TFLOPS from the spec table), ``--vram``
sets each GPU's memory (useful for 16 GB vs 8 GB versions of one card, or for a card not in the
table), ``--ram`` sets total and available RAM. A what-if machine is marked ``what_if=True`` so
reports never present it as measured. Unified-memory parts (Apple, Strix Halo, GB10) named with
``--gpu`` also set the CPU side: their RAM *is* the GPU pool.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import SizeupError
from ..units import parse_size
from . import specs
from .model import GPUInfo, Hardware, MemoryInfo
from .unified import unified_pool

MAX_WHAT_IF_GPUS = 64
MAX_WHAT_IF_BYTES = 2**50  # 1 PiB: anything above is a typo


def _size(value: int | str | None, what: str) -> int | None:
    if value is None:
        return None
    n = value if isinstance(value, int) else parse_size(value)
    if n <= 0 or n > MAX_WHAT_IF_BYTES:
        raise SizeupError(f"--{what} must be between 1 byte and 1 PiB, got '{value}'")
    return n


def gpu_from_spec(spec: specs.GPUSpec, index: int, vram: int | None) -> GPUInfo:
    total = vram if vram is not None else int(spec.vram_gib * 2**30)
    return GPUInfo(index=index, vendor=spec.vendor, name=spec.name, vram_total=total, vram_free=total,
                   bandwidth_gbs=spec.bandwidth_gbs, fp16_tflops=spec.fp16_tflops, spec_source=spec.source,
                   unified=spec.unified, source="what-if", spec_name=spec.name)


def validate_overrides(gpu: str | None = None, vram: int | str | None = None, ram: int | str | None = None,
                       n_gpus: int | None = None) -> None:
    """Raise SizeupError for bad what-if input before the (slower) probe runs."""
    _size(vram, "vram")
    _size(ram, "ram")
    if n_gpus is not None and not 0 <= n_gpus <= MAX_WHAT_IF_GPUS:
        raise SizeupError(f"--gpus must be between 0 and {MAX_WHAT_IF_GPUS}, got {n_gpus}")
    if gpu is not None:
        specs.find(gpu)


def apply_overrides(hw: Hardware, gpu: str | None = None, vram: int | str | None = None,
                    ram: int | str | None = None, n_gpus: int | None = None) -> Hardware:
    """A copy of ``hw`` with the what-if values in place; unchanged (what_if False) if none given."""
    if gpu is None and vram is None and ram is None and n_gpus is None:
        return hw
    vram_b = _size(vram, "vram")
    ram_b = _size(ram, "ram")
    if n_gpus is not None and not 0 <= n_gpus <= MAX_WHAT_IF_GPUS:
        raise SizeupError(f"--gpus must be between 0 and {MAX_WHAT_IF_GPUS}, got {n_gpus}")
    notes = list(hw.notes)
    memory = hw.memory
    unified = hw.unified_memory
    gpus = list(hw.gpus)
    if gpu is not None:
        spec = specs.find(gpu)
        count = 1 if n_gpus is None else n_gpus
        if spec.unified:
            count = min(count, 1)
            unified = True
            if ram_b is None:
                ram_b = vram_b or int(spec.vram_gib * 2**30)
        else:
            unified = False
        gpus = [gpu_from_spec(spec, i, vram_b) for i in range(count)]
        notes.append(f"what-if: {count} x {spec.name}")
    elif n_gpus is not None:
        if n_gpus and not gpus:
            raise SizeupError("--gpus needs --gpu NAME on a machine without a GPU")
        template = gpus[0] if gpus else None
        gpus = [replace(template, index=i) for i in range(n_gpus)] if template else []
        if n_gpus == 0:
            unified = False
        notes.append(f"what-if: {n_gpus} GPU(s)")
    if vram_b is not None:
        if not gpus:
            raise SizeupError("--vram needs a GPU: add --gpu NAME (or run on a machine with one)")
        gpus = [replace(g, vram_total=vram_b, vram_free=vram_b) for g in gpus]
        notes.append(f"what-if: {vram_b / 2**30:.1f} GiB per GPU")
    if ram_b is not None:
        memory = MemoryInfo(total=ram_b, available=ram_b, swap_total=0, swap_free=0)
        notes.append(f"what-if: {ram_b / 2**30:.1f} GiB RAM")
    if unified:
        # The shared pool follows the RAM; keep GPU and CPU views consistent.
        gpus = [unified_pool(replace(g, vram_total=None, vram_free=None), memory) if g.unified and vram_b is None else g
                for g in gpus]
    if unified and gpus and gpu is not None and gpus[0].bandwidth_gbs:
        cpu_bw, bw_src = gpus[0].bandwidth_gbs, "spec"
    else:
        cpu_bw, bw_src = hw.cpu_bandwidth_gbs, hw.bandwidth_source
    return replace(hw, gpus=tuple(gpus), memory=memory, unified_memory=unified, notes=tuple(notes), what_if=True,
                   cpu_bandwidth_gbs=cpu_bw, bandwidth_source=bw_src)
