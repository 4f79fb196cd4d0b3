"""NVIDIA GPUs: NVML first (fast, exact), ``nvidia-smi`` CSV as the fallback.

NVML (``pynvml`` from the nvidia-ml-py package) answers in milliseconds and needs no process
spawn, but it is missing on many installs and raises on broken drivers; nvidia-smi ships with
every driver. Both report "Not Supported" for memory on unified-memory parts (GB10 / DGX Spark,
Jetson); those come back with ``vram_total=None`` and the hardware probe treats system RAM as
their pool.
"""

from __future__ import annotations

from typing import Any

from .model import GPUInfo
from .runner import Runner

MAX_GPUS = 64
MIB = 1024 * 1024
SMI_QUERY = ["nvidia-smi", "--query-gpu=index,name,memory.total,memory.free,driver_version,compute_cap",
             "--format=csv,noheader,nounits"]


def _num(field: str) -> float | None:
    f = field.strip()
    if not f or f.startswith("[") or f.lower() in ("n/a", "not supported"):
        return None
    try:
        v = float(f)
    except ValueError:
        return None
    return v if 0 <= v < 2**30 else None  # MiB: negative or > 1 EiB is garbage, not a GPU


def parse_nvidia_smi_csv(text: str) -> tuple[list[GPUInfo], list[str]]:
    """GPUs from ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits`` output.

    Names may contain commas, so the line is split from both ends: index first, the four numeric
    or version fields last, the name is what remains. Lines that do not fit are skipped with a
    note, so an error message on stdout never becomes a GPU called "NVIDIA-SMI has failed".
    """
    gpus: list[GPUInfo] = []
    notes: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6 or not parts[0].isdigit():
            notes.append(f"nvidia-smi: unexpected output: {line.strip()[:120]}")
            continue
        if len(gpus) >= MAX_GPUS:
            notes.append(f"nvidia-smi: more than {MAX_GPUS} GPUs; the rest ignored")
            break
        idx = int(parts[0])
        total, free = _num(parts[-4]), _num(parts[-3])
        driver = parts[-2] if parts[-2] and not parts[-2].startswith("[") else None
        cc = parts[-1] if _num(parts[-1]) is not None else None
        name = ", ".join(parts[1:-4]).strip() or "NVIDIA GPU"
        gpus.append(GPUInfo(index=idx, vendor="nvidia", name=name,
                            vram_total=int(total * MIB) if total is not None else None,
                            vram_free=int(free * MIB) if free is not None else None,
                            driver=driver, compute_capability=cc, source="nvidia-smi"))
    return gpus, notes


def probe_nvml(nvml: Any = None) -> tuple[list[GPUInfo], list[str]]:
    """GPUs via NVML; ([], [note]) when the library or the driver is unavailable. Never raises."""
    try:
        if nvml is None:
            import pynvml as nvml  # type: ignore[import-not-found,no-redef]
    except Exception:  # ImportError, or a broken install raising anything at import
        return [], ["NVML: pynvml not installed (pip install nvidia-ml-py)"]
    try:
        nvml.nvmlInit()
    except Exception as e:
        return [], [f"NVML: {_short(e)}"]
    gpus: list[GPUInfo] = []
    notes: list[str] = []
    try:
        driver = _s(_try(nvml.nvmlSystemGetDriverVersion))
        count = min(int(nvml.nvmlDeviceGetCount()), MAX_GPUS)
        for i in range(count):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            name = _s(_try(nvml.nvmlDeviceGetName, h)) or "NVIDIA GPU"
            mem = _try(nvml.nvmlDeviceGetMemoryInfo, h)
            cc = _try(nvml.nvmlDeviceGetCudaComputeCapability, h)
            gpus.append(GPUInfo(index=i, vendor="nvidia", name=name,
                                vram_total=int(mem.total) if mem is not None else None,
                                vram_free=int(mem.free) if mem is not None else None,
                                driver=driver, compute_capability=f"{cc[0]}.{cc[1]}" if cc else None, source="nvml"))
    except Exception as e:
        notes.append(f"NVML: {_short(e)}")
        gpus = []
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass
    return gpus, notes


def probe_nvidia(runner: Runner, use_nvml: bool = True) -> tuple[list[GPUInfo], list[str]]:
    """NVML, then nvidia-smi. Notes explain why a source gave nothing, but a machine with no
    NVIDIA software at all (no NVML library, no nvidia-smi) gets no notes: that is not a problem."""
    notes: list[str] = []
    if use_nvml:
        gpus, notes = probe_nvml()
        if gpus:
            return gpus, notes
    res = runner(SMI_QUERY)
    if not res.ok:
        if res.reason == "not installed":
            return [], [n for n in notes if not _absent(n)]
        return [], notes + [f"nvidia-smi: {res.reason}"]
    gpus, parse_notes = parse_nvidia_smi_csv(res.stdout)
    if not gpus:
        return [], notes + (parse_notes or ["nvidia-smi: no GPUs listed"])
    return gpus, parse_notes


def _absent(note: str) -> bool:
    return "not installed" in note or "Library Not Found" in note or "Driver Not Loaded" in note


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception:
        return None


def _s(v: Any) -> str | None:
    if v is None:
        return None
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _short(e: Exception) -> str:
    return (str(e) or type(e).__name__).splitlines()[0][:200]
