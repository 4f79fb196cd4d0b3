"""What sizeup knows about a machine: CPU, memory, GPUs, memory bandwidth.

These dataclasses are the contract between the probe and the estimator. The estimator reads
``memory.available``, ``gpus[i].vram_free / vram_total / bandwidth_gbs / fp16_tflops``,
``cpu_bandwidth_gbs``, ``cpu.physical_cores``, ``cpu.features`` and ``unified_memory``; those
names are stable. Sizes are bytes, bandwidth GB/s (10^9 bytes per second), compute TFLOPS.
Everything is frozen (sequences are tuples, so a Hardware can key a cache) and turns into plain
JSON with :meth:`to_dict`; :meth:`Hardware.from_dict` reads it back, so saved profiles round-trip.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CPUInfo:
    """The host CPU as an inference engine sees it."""

    model: str
    vendor: str  # "intel", "amd", "arm", "apple", ... lower case; "" when unknown
    arch: str  # "x86_64", "aarch64", "armv7l", "arm64" (macOS spelling kept)
    physical_cores: int
    logical_cores: int
    features: tuple[str, ...] = ()  # canonical names, see cpu.FEATURE_ORDER
    l2_kb: int | None = None  # per core (of cpu0)
    l3_kb: int | None = None  # all L3 instances together
    usable_cores: int | None = None  # CPUs this process may run on (affinity / containers)
    performance_cores: int | None = None  # P-cores on hybrid chips (Apple perflevel0) when known

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["features"] = list(self.features)
        return d


@dataclass(frozen=True)
class MemoryInfo:
    """System RAM and swap in bytes. ``available`` is what a new process can take without swapping."""

    total: int
    available: int
    swap_total: int = 0
    swap_free: int = 0
    limit: int | None = None  # container (cgroup) limit when lower than ``total``

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GPUInfo:
    """One accelerator. For unified-memory devices ``vram_*`` describe the shared pool."""

    index: int  # the vendor runtime's device number (CUDA / HIP / SYCL), so it can repeat across vendors
    vendor: str  # "nvidia", "amd", "intel", "apple"
    name: str
    vram_total: int | None  # bytes; None when the driver does not say
    vram_free: int | None
    driver: str | None = None
    compute_capability: str | None = None  # "8.9" for NVIDIA, "gfx1100" for AMD when known
    bandwidth_gbs: float | None = None  # from the spec table
    fp16_tflops: float | None = None  # dense FP16 tensor/matrix rate, from the spec table
    spec_source: str | None = None  # where bandwidth/TFLOPS came from (URL or datasheet)
    unified: bool = False  # shares system RAM (Apple, AMD APU, GB10, Jetson)
    source: str = ""  # which probe found it: "nvml", "nvidia-smi", "sysfs", "rocm-smi", ...
    spec_name: str | None = None  # the spec-table row matched, e.g. "RTX 4090"
    dedicated_vram: int | None = None  # carve-out of a unified device, bytes, when known
    gpu_cores: int | None = None  # Apple GPU core count

    @property
    def usable_vram(self) -> int | None:
        """Free VRAM when the driver says, else the total (some drivers report only one)."""
        return self.vram_free if self.vram_free is not None else self.vram_total

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hardware:
    """Everything the estimator needs about one machine (probed or imagined with what-if flags)."""

    cpu: CPUInfo
    memory: MemoryInfo
    gpus: tuple[GPUInfo, ...] = ()
    unified_memory: bool = False
    cpu_bandwidth_gbs: float | None = None
    bandwidth_source: str = "none"  # "measured", "cached", "spec", "override", "none"
    notes: tuple[str, ...] = ()
    what_if: bool = False
    os: str = ""
    hostname_hash: str = ""  # never the host name itself; JSON output gets shared in bug reports
    bandwidth_measured_at: str | None = None  # ISO timestamp of the measurement used

    @property
    def total_vram(self) -> int:
        return sum(g.vram_total or 0 for g in self.gpus)

    @property
    def free_vram(self) -> int:
        return sum(g.vram_free or 0 for g in self.gpus)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu.to_dict(),
            "memory": self.memory.to_dict(),
            "gpus": [g.to_dict() for g in self.gpus],
            "unified_memory": self.unified_memory,
            "cpu_bandwidth_gbs": self.cpu_bandwidth_gbs,
            "bandwidth_source": self.bandwidth_source,
            "bandwidth_measured_at": self.bandwidth_measured_at,
            "notes": list(self.notes),
            "what_if": self.what_if,
            "os": self.os,
            "hostname_hash": self.hostname_hash,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Hardware":
        """Inverse of :meth:`to_dict` (for saved hardware profiles and tests)."""
        cpu = dict(d["cpu"])
        cpu["features"] = tuple(cpu.get("features") or ())
        return cls(
            cpu=CPUInfo(**cpu),
            memory=MemoryInfo(**d["memory"]),
            gpus=tuple(GPUInfo(**g) for g in d.get("gpus") or ()),
            unified_memory=bool(d.get("unified_memory")),
            cpu_bandwidth_gbs=d.get("cpu_bandwidth_gbs"),
            bandwidth_source=d.get("bandwidth_source", "none"),
            bandwidth_measured_at=d.get("bandwidth_measured_at"),
            notes=tuple(d.get("notes") or ()),
            what_if=bool(d.get("what_if")),
            os=d.get("os", ""),
            hostname_hash=d.get("hostname_hash", ""),
        )


__all__ = ["CPUInfo", "MemoryInfo", "GPUInfo", "Hardware"]
