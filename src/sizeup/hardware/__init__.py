"""Hardware probe: what this machine (or an imagined one) has for running LLMs.

    from sizeup.hardware import probe_hardware
    hw = probe_hardware()                          # this machine
    hw = probe_hardware(gpu="RTX 4090", ram="64G")  # what-if

The probe is a thin shell over pure parsers (``cpu``, ``memory``, ``gpu_*``): every file read
goes through a ``root`` prefix and every external command through a ``runner`` callable, so
tests point it at recorded sysfs trees and tool outputs from real machines. Nothing here raises
for a broken driver or odd output; problems become ``Hardware.notes``. Only invalid what-if
input raises :class:`~sizeup.errors.SizeupError`.
"""

from __future__ import annotations

import platform
from dataclasses import replace
from pathlib import Path

from .model import CPUInfo, GPUInfo, Hardware, MemoryInfo
from .runner import CommandResult, RecordedRunner, Runner, run_command

__all__ = ["probe_hardware", "Hardware", "CPUInfo", "GPUInfo", "MemoryInfo", "CommandResult", "RecordedRunner",
           "with_specs"]

# NVIDIA parts whose memory is system RAM; NVML reports their memory as "Not Supported".
_UNIFIED_NVIDIA_WORDS = ("gb10", "orin", "thor", "xavier", "tegra", "dgx spark")


def with_specs(g: GPUInfo) -> GPUInfo:
    """Fill bandwidth / TFLOPS / unified from the spec table when the name matches a row."""
    from . import specs

    spec = specs.lookup(g.name, g.dedicated_vram if g.unified else g.vram_total, g.gpu_cores)
    unified = g.unified or (spec is not None and spec.unified) or (
        g.vendor == "nvidia" and any(w in g.name.lower() for w in _UNIFIED_NVIDIA_WORDS))
    if spec is None:
        return replace(g, unified=unified)
    return replace(g, bandwidth_gbs=spec.bandwidth_gbs, fp16_tflops=spec.fp16_tflops, spec_source=spec.source,
                   spec_name=spec.name, unified=unified)


def _probe_gpus(system: str, root: Path | str, runner: Runner, use_nvml: bool) -> tuple[list[GPUInfo], list[str], int | None]:
    from .gpu_amd import probe_amd
    from .gpu_apple import probe_apple
    from .gpu_intel import probe_intel
    from .gpu_nvidia import probe_nvidia

    if system == "Darwin":
        return probe_apple(runner)
    gpus: list[GPUInfo] = []
    notes: list[str] = []
    results = [probe_nvidia(runner, use_nvml), probe_amd(root, runner)]
    if system == "Linux":  # Intel dGPUs are found through sysfs only
        results.append(probe_intel(root, runner))
    for g, n in results:
        gpus += g
        notes += n
    return gpus, notes, None


def probe_hardware(gpu: str | None = None, vram: int | str | None = None, ram: int | str | None = None,
                   n_gpus: int | None = None, *, root: Path | str = "/", runner: Runner | None = None,
                   system: str | None = None, machine: str | None = None, use_nvml: bool | None = None,
                   bandwidth: str | None = None, remeasure: bool = False, cache_dir: Path | None = None) -> Hardware:
    """Probe the machine, then apply what-if overrides (``gpu``, ``vram``, ``ram``, ``n_gpus``).

    ``bandwidth``: "auto" (cached value, else measure ~1 s and cache), "cached" (cache only,
    never measure), "off". Default: "auto" on the real machine, "off" for a recorded ``root``.
    ``remeasure`` forces a fresh measurement. ``use_nvml`` defaults to True on the real machine
    only, since NVML cannot be pointed at recorded outputs.
    """
    from . import bandwidth as bw_mod
    from .cpu import probe_cpu
    from .memory import probe_memory
    from .overrides import apply_overrides, validate_overrides
    from .unified import unified_pool

    validate_overrides(gpu, vram, ram, n_gpus)

    real = str(root) == "/"
    runner = runner or run_command
    system = system or platform.system()
    machine = machine or platform.machine()
    use_nvml = real if use_nvml is None else use_nvml
    bandwidth = bandwidth or ("auto" if real else "off")
    if bandwidth not in ("auto", "cached", "off"):
        raise ValueError(f"bandwidth must be auto, cached or off, not {bandwidth!r}")

    cpu, notes, extras = probe_cpu(root, runner, system, machine)
    memory, mem_notes = probe_memory(root, system, extras.get("memsize") if system == "Darwin" else None)
    notes += mem_notes
    gpus, gpu_notes, wired = _probe_gpus(system, root, runner, use_nvml)
    notes += gpu_notes
    gpus = [unified_pool(g, memory, wired) for g in (with_specs(g) for g in gpus)]
    for g in gpus:
        if g.unified and g.vendor == "apple" and not wired:
            notes.append("Metal lets the GPU use about 2/3 (<= 36 GB) or 3/4 of RAM by default; "
                         "raise it with `sudo sysctl iogpu.wired_limit_mb=N`")
        if g.spec_name is None:
            notes.append(f"{g.name}: not in sizeup's GPU table; bandwidth and TFLOPS unknown")
    # Discrete GPUs first: a laptop's RTX card matters more than its Radeon 780M iGPU. The machine
    # counts as unified only when every GPU shares RAM; an iGPU beside a dGPU is listed, not planned on.
    gpus.sort(key=lambda g: g.unified)
    unified = (bool(gpus) and all(g.unified for g in gpus)) or (system == "Darwin" and machine == "arm64")
    if gpus and not unified and any(g.unified for g in gpus):
        notes.append("integrated GPU(s) sharing RAM found beside a discrete GPU: planning uses the discrete GPU(s) and RAM")

    cpu_bw = None
    bw_source = "none"
    measured_at = None
    if bandwidth != "off":
        res = bw_mod.cpu_bandwidth(cpu.model, memory.total, threads=cpu.usable_cores or cpu.physical_cores,
                                   remeasure=remeasure, cache_dir=cache_dir, measure=bandwidth == "auto",
                                   l3_bytes=cpu.l3_kb * 1024 if cpu.l3_kb else None)
        if res is not None:
            cpu_bw, bw_source, measured_at = res.gbs, res.source, res.measured_at
    hw = Hardware(cpu=cpu, memory=memory, gpus=tuple(gpus), unified_memory=unified, cpu_bandwidth_gbs=cpu_bw,
                  bandwidth_source=bw_source, notes=tuple(dict.fromkeys(notes)), what_if=False,
                  os=f"{system} {platform.release()}" if real else system,
                  hostname_hash=bw_mod.hostname_hash() if real else "", bandwidth_measured_at=measured_at)
    return apply_overrides(hw, gpu=gpu, vram=vram, ram=ram, n_gpus=n_gpus)
