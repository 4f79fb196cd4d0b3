"""The seed guide's "Memory Requirements in Practice" table, computed instead of remembered.

The guide ("Parameter Size", in the project's seed documents) gives rules of thumb per size class:
1B needs 2-4 GB RAM, 2 GB VRAM at FP16, 1 GB at INT4, loads in 5-10 s; 7B needs 14-16 GB RAM ...
sizeup picks a real, current model of each size class from its catalog and computes the same
columns from the architecture: FP16 and 4-bit (Q4_K_M, what "INT4" means in llama.cpp practice,
and Q4_0, the plain 4-bit type) memory at a stated context, RAM for a CPU run, and load time on this
machine's measured disk. The rule of thumb stays beside each row so a reader sees where it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Source: shared/seeds/004 ("Parameter Size" guide), table "Memory Requirements in Practice".
SEED_TABLE: list[dict[str, Any]] = [
    {"size": "1B", "params": 1e9, "ram": "2-4 GB", "fp16": "2 GB", "int4": "1 GB", "load": "5-10 seconds"},
    {"size": "3B", "params": 3e9, "ram": "6-8 GB", "fp16": "6 GB", "int4": "2 GB", "load": "10-15 seconds"},
    {"size": "7B", "params": 7e9, "ram": "14-16 GB", "fp16": "14 GB", "int4": "4 GB", "load": "15-30 seconds"},
    {"size": "13B", "params": 13e9, "ram": "26-30 GB", "fp16": "26 GB", "int4": "8 GB", "load": "30-60 seconds"},
    {"size": "30B", "params": 30e9, "ram": "60+ GB", "fp16": "60 GB", "int4": "16 GB", "load": "1-3 minutes"},
]

# Default representative per size class: current dense models people run at that size.
DEFAULT_MODELS: dict[str, str] = {
    "1B": "meta-llama/Llama-3.2-1B-Instruct",
    "3B": "meta-llama/Llama-3.2-3B-Instruct",
    "7B": "Qwen/Qwen2.5-7B-Instruct",
    "13B": "Qwen/Qwen2.5-14B-Instruct",
    "30B": "Qwen/Qwen2.5-32B-Instruct",
}


@dataclass
class PracticeRow:
    size: str
    model_id: str
    params: int
    fp16_weights: int
    q4km_weights: int
    q40_weights: int
    fp16_total: int  # VRAM: weights + KV + compute + overhead on the GPU at ctx, full offload
    q4km_total: int
    cpu_ram_q4km: int  # expected resident RAM of a CPU run at Q4_K_M
    cpu_ram_fp16: int
    load_cold_s: float  # Q4_K_M file from disk
    load_warm_s: float  # Q4_K_M file from page cache
    seed: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def compute_rows(ctx: int, models: dict[str, str] | None = None, disk_gbs: float | None = None,
                 memory_gbs: float | None = None) -> list[PracticeRow]:
    """One row per seed size class, computed for a real catalog model of that size."""
    from .catalog import describe_entry, get_entry
    from .estimate.config import RunConfig
    from .estimate.memory import estimate_memory
    from .estimate.placement import Device
    from .estimate.weights_predict import estimate_metadata_bytes, gguf_file_size, predict_tensors
    from .hardware.disk import load_time_seconds

    models = {**DEFAULT_MODELS, **(models or {})}
    rows = []
    for seed in SEED_TABLE:
        entry = get_entry(models[seed["size"]])
        m = describe_entry(entry)
        arch = m.arch
        n_ctx = min(ctx, arch.n_ctx_train or ctx)
        cfg = RunConfig(n_ctx=n_ctx)
        gpu = [Device("CPU", "cpu"), Device("GPU0", "gpu")]
        cpu = [Device("CPU", "cpu")]
        t = {q: predict_tensors(arch, q) for q in ("F16", "Q4_K_M", "Q4_0")}
        w = {q: sum(x.n_bytes for x in ts) for q, ts in t.items()}
        full = {q: estimate_memory(m, cfg.with_(n_gpu_layers=-1), gpu, tensors=t[q]) for q in ("F16", "Q4_K_M")}
        on_cpu = {q: estimate_memory(m, cfg.with_(n_gpu_layers=0), cpu, tensors=t[q]) for q in ("F16", "Q4_K_M")}
        file_bytes = gguf_file_size(t["Q4_K_M"], estimate_metadata_bytes(arch.n_vocab))
        rows.append(PracticeRow(
            size=seed["size"], model_id=entry.id, params=m.params.total if m.params else 0,
            fp16_weights=w["F16"], q4km_weights=w["Q4_K_M"], q40_weights=w["Q4_0"],
            fp16_total=sum(d.total for d in full["F16"].gpus), q4km_total=sum(d.total for d in full["Q4_K_M"].gpus),
            cpu_ram_q4km=on_cpu["Q4_K_M"].rss, cpu_ram_fp16=on_cpu["F16"].rss,
            load_cold_s=load_time_seconds(file_bytes, arch.n_vocab, disk_gbs or 0.0, memory_gbs, cold=True) if disk_gbs else float("nan"),
            load_warm_s=load_time_seconds(file_bytes, arch.n_vocab, disk_gbs or 0.0, memory_gbs, cold=False),
            seed=seed,
        ))
    return rows
