"""Decode and prefill speed of a placement, from a weight summary (the ranking's fast path).

The same roofline as :func:`sizeup.estimate.speed.estimate_speed` (same efficiencies, overheads,
last-level-cache regime and calibration, plain or per regime), computed from per-layer byte sums instead of a tensor list, and aware of
``--n-cpu-moe``: routed experts of the first N layers are read from RAM at the CPU's bandwidth
(``n_expert_used / n_expert`` of them per token), everything on the GPU at the GPU's.
Layers follow llama.cpp's ``-ngl`` rule (:mod:`.placement`): the last ``ngl`` of the
``n_layer + 1`` layers, the output layer first. Decode is quoted at an empty KV cache, as
llama-bench's tg128 and ``sizeup fit`` do.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Architecture
from .speed import (CACHE_BW_SPEEDUP, DECODE_FLOPS_EFFICIENCY_CPU, DEFAULT_UBATCH, PREFILL_FLOPS_EFFICIENCY_GPU,
                    SPLIT_OVERHEAD_S, TOKEN_OVERHEAD_S_CPU, TOKEN_OVERHEAD_S_GPU, DeviceSpec, bw_efficiency,
                    cpu_matmul_efficiency, decode_rate)
from .weight_summary import WeightSummary


@dataclass(frozen=True)
class PlanSpeed:
    decode_tps: float
    prefill_tps: float
    bound: str  # memory | compute
    bytes_per_token: dict[str, float]
    calibrated: bool


def plan_speed(ws: WeightSummary, arch: Architecture, cpu: DeviceSpec, gpu: DeviceSpec | None, ngl: int,
               n_cpu_moe: int = 0, calibration=None, prompt_tokens: int = 512) -> PlanSpeed:
    """tok/s of ``ws`` with ``-ngl ngl --n-cpu-moe n_cpu_moe`` (ngl 0 or no ``gpu`` = CPU only)."""
    n = ws.n_layer
    if gpu is None:
        ngl = 0
    ngl = max(0, min(ngl, n + 1))
    start = n + 1 - ngl  # first layer index on the GPU; the output layer (index n) is on it when ngl >= 1
    share = arch.n_expert_used / arch.n_expert if arch.n_expert and arch.n_expert_used else 1.0
    read = {"cpu": ws.embd_row, "gpu": 0.0}
    full = {"cpu": ws.embd_row, "gpu": 0.0}  # every expert: what a micro-batch of prefill reads
    el = {"cpu": 0.0, "gpu": 0.0}
    out_dev = "gpu" if ngl >= 1 else "cpu"
    out_b = ws.output_bytes()  # a tied head reads token_embd whole
    read[out_dev] += out_b
    full[out_dev] += out_b
    # prefill multiplies the output head for the prompt's last token only (as estimate_speed)
    el[out_dev] += ws.out_el / max(prompt_tokens, 1)
    # layers below ``first`` run on the CPU; routed experts of layers below ``cut`` stay in RAM
    # (--n-cpu-moe, or the layer itself on the CPU): sums over layer ranges from running sums
    first = min(start, n)
    cut = min(max(n_cpu_moe, first), n)
    pd, pe = ws.prefix
    pde, pee = ws.el_prefix
    dense_cpu, dense_gpu = pd[first], pd[n] - pd[first]
    exps_cpu, exps_gpu = pe[cut], pe[n] - pe[cut]
    read["cpu"] += dense_cpu + exps_cpu * share
    read["gpu"] += dense_gpu + exps_gpu * share
    full["cpu"] += dense_cpu + exps_cpu
    full["gpu"] += dense_gpu + exps_gpu
    el["cpu"] += pde[first] + pee[cut] * share
    el["gpu"] += (pde[n] - pde[first]) + (pee[n] - pee[cut]) * share
    devices = {"cpu": cpu, "gpu": gpu}
    w_total = read["cpu"] + read["gpu"]
    p_total = el["cpu"] + el["gpu"] + ws.out_el * (1 - 1 / max(prompt_tokens, 1))  # decode: the whole head
    # as estimate_speed: a CPU share that fits the last-level cache is read from cache
    regime = "vram" if read["cpu"] <= ws.embd_row + 1 and gpu is not None else "dram"
    if regime == "dram" and getattr(cpu, "cache_bytes", 0) and read["cpu"] <= cpu.cache_bytes:
        regime = "cache"
    mem_t = comp_t = 0.0
    for d, spec in devices.items():
        if spec is None or read[d] <= 0:
            continue
        bw = spec.bandwidth * (CACHE_BW_SPEEDUP if d == "cpu" and regime == "cache" else 1.0)
        mem_t += read[d] / (bw * bw_efficiency(spec))
        eff = PREFILL_FLOPS_EFFICIENCY_GPU if d == "gpu" else DECODE_FLOPS_EFFICIENCY_CPU
        comp_t += 2 * p_total * (read[d] / w_total) / (spec.flops * eff)
    split = read["gpu"] > 0 and read["cpu"] - ws.embd_row > 0
    overhead = TOKEN_OVERHEAD_S_GPU if read["gpu"] > 0 else TOKEN_OVERHEAD_S_CPU
    decode, bound = decode_rate(mem_t, comp_t, overhead, SPLIT_OVERHEAD_S if split else 0.0, calibration)
    # prefill: matmul FLOPs where the weights are, capped by one read of every weight per micro-batch
    batch = max(1, min(DEFAULT_UBATCH, prompt_tokens))
    t_c = t_m = 0.0
    for d, spec in devices.items():
        if spec is None or (el[d] <= 0 and full[d] <= 0):
            continue
        eff = PREFILL_FLOPS_EFFICIENCY_GPU if d == "gpu" else cpu_matmul_efficiency(prompt_tokens)
        t_c += 2 * el[d] / (spec.flops * eff)
        t_m += full[d] / (spec.bandwidth * bw_efficiency(spec)) / batch
    # A summary does not say which weights the build repacks: with two fitted prefill scales
    # (repacked, the rest), the ranking uses their geometric mean.
    ps = getattr(calibration, "prefill_scale", None) if calibration is not None else None
    pr = getattr(calibration, "prefill_repacked_scale", None) if calibration is not None else None
    if ps and pr:
        ps = (ps * pr) ** 0.5
    t = max(t_c / (ps or 1.0), t_m)
    prefill = 1.0 / t if t > 0 else float("inf")
    return PlanSpeed(decode, prefill, bound, {k: v for k, v in read.items() if v > 0}, calibration is not None)
