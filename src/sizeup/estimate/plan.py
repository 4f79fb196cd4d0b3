"""Memory per device of a placement, from a weight summary and llama.cpp's non-weight buffers.

A placement is llama.cpp's pair ``-ngl N`` (the last N of the ``n_layer + 1`` layers on the GPUs,
see :mod:`.placement`) and ``--n-cpu-moe M`` (the routed experts of the first M layers stay in
RAM, see :mod:`.expert_offload`). What a run holds on each device is its weights there plus
buffers that do not depend on the weights' type: KV cache and recurrent state (with their layer),
compute buffers, output buffer and overhead. Those come from
:func:`sizeup.estimate.memory.estimate_memory` run without tensors, twice per model and
context (all layers on the GPUs; CPU only), so a ranking can try every quant type and placement
with sums instead of re-running the memory model:

* all layers on the GPUs, or CPU only: exact (the memory model's figures plus exact weights);
* partial offload: each GPU keeps its fixed buffers (compute, driver context) plus the KV of the
  layers it holds; the host gets the KV of the layers it holds and a CPU compute buffer as large
  as the CPU-only run's. The ranking re-checks its pick with the full memory model.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from ..model import ModelDescription
from .config import RunConfig
from .placement import CPU, Device, place_layers
from .weight_summary import WeightSummary


@dataclass(frozen=True)
class NonWeight:
    """Memory other than weights for one run configuration, per device (host first)."""

    totals: tuple[int, ...]  # host, then each GPU: kv + recurrent + compute + output + overhead
    compute: tuple[int, ...]
    kv_layer: tuple[int, ...]  # per repeating layer: KV + recurrent state bytes
    layer_device: tuple[int, ...]
    output_device: int

    @functools.cached_property
    def kv_prefix(self) -> tuple[int, ...]:
        return tuple(itertools.accumulate(self.kv_layer, initial=0))


def non_weight(model: ModelDescription, cfg: RunConfig, devices: list[Device]) -> NonWeight:
    from .memory import estimate_memory

    est = estimate_memory(model, cfg, devices, tensors=[], buffers_only=True)
    kv = [0] * model.arch.n_layer
    for lc in est.cache.layers:
        kv[lc.il] += lc.k_bytes + lc.v_bytes + lc.r_bytes + lc.s_bytes
    return NonWeight(tuple(d.total for d in est.devices), tuple(d.compute for d in est.devices), tuple(kv),
                     est.placement.layer_device, est.placement.output_device)


@dataclass(frozen=True)
class Bases:
    """The two memory-model runs every placement of one model at one context is derived from."""

    gpu: NonWeight | None  # all layers on the GPUs (None without a discrete GPU)
    cpu: NonWeight  # CPU only (or the unified pool, where the GPU draws on RAM)
    gpu_free: tuple[int, ...]


def bases(model: ModelDescription, cfg: RunConfig, host: Device, gpus: list[Device], unified: bool) -> Bases:
    if unified:
        return Bases(None, non_weight(model, cfg.with_(n_gpu_layers=-1), [host, *gpus]),
                     tuple(g.free or 0 for g in gpus))
    gpu = non_weight(model, cfg.with_(n_gpu_layers=-1), [host, *gpus]) if gpus else None
    return Bases(gpu, non_weight(model, cfg.with_(n_gpu_layers=0), [host]), tuple(g.free or 0 for g in gpus))


def moe_host_compute(model: ModelDescription, cfg: RunConfig) -> int:
    """CPU compute scratch of expert matmuls run on the CPU: per micro-batch token the routed
    experts' gate/up activations and the down output, F32 (a small buffer next to the weights)."""
    a = model.arch
    n_ff = a.extra.get("n_ff_exp") or (a.n_ff[0] if a.n_ff else 0)
    ub = min(cfg.n_ubatch, cfg.n_batch, cfg.n_ctx)
    return int(ub * (a.n_embd + 2 * int(n_ff) * max(a.n_expert_used, 1)) * 4)


def cpu_totals(ws: WeightSummary, b: Bases) -> tuple[int, ...]:
    """CPU only: every weight in RAM (or the unified pool, weights counted once)."""
    t = list(b.cpu.totals)
    t[0] += ws.total
    if len(t) > 1:  # unified: the memory model put the layers on the GPU device of the same pool
        w = _weights(ws, b.cpu.layer_device, b.cpu.output_device, len(t) - 1, 0)
        t = [x + w[i] for i, x in enumerate(b.cpu.totals)]
    return tuple(t)


def _weights(ws: WeightSummary, layer_device: tuple[int, ...], output_device: int, n_gpu: int,
             n_cpu_moe: int) -> list[int]:
    w = [0] * (1 + n_gpu)
    w[0] += ws.embd
    for il, d in enumerate(layer_device):
        slot = 0 if d == CPU else 1 + d
        w[slot] += ws.dense[il]
        w[0 if il < n_cpu_moe else slot] += ws.exps[il]
    # a tied head is a copy of the embedding only where the output layer is offloaded
    w[0 if output_device == CPU else 1 + output_device] += ws.out if output_device == CPU else ws.output_bytes()
    return w


def gpu_totals(ws: WeightSummary, b: Bases, ngl: int, n_cpu_moe: int = 0, moe_compute: int = 0) -> tuple[int, ...]:
    """Per-device totals (host first) with ``-ngl ngl --n-cpu-moe n_cpu_moe`` (ngl >= n_layer + 1 = all)."""
    g = b.gpu
    assert g is not None
    n_layer = ws.n_layer
    n_gpu = len(g.totals) - 1
    if n_gpu == 1:
        return _one_gpu_totals(ws, b, ngl, n_cpu_moe, moe_compute)
    return _general_totals(ws, b, ngl, n_cpu_moe, moe_compute)


def _general_totals(ws: WeightSummary, b: Bases, ngl: int, n_cpu_moe: int = 0, moe_compute: int = 0) -> tuple[int, ...]:
    """:func:`gpu_totals` for any number of GPUs, layer by layer through llama.cpp's split."""
    g = b.gpu
    assert g is not None
    n_layer = ws.n_layer
    n_gpu = len(g.totals) - 1
    if ngl >= n_layer + 1:
        w = _weights(ws, g.layer_device, g.output_device, n_gpu, n_cpu_moe)
        t = [x + w[i] for i, x in enumerate(g.totals)]
        if n_cpu_moe:
            t[0] += moe_compute
        return tuple(t)
    p = place_layers(n_layer, ngl, list(b.gpu_free))
    w = _weights(ws, p.layer_device, p.output_device, n_gpu, n_cpu_moe)
    t = list(g.totals)
    # move each layer's KV to where the layer now runs
    for il in range(n_layer):
        before, now = g.layer_device[il], p.layer_device[il]
        if before != now:
            t[0 if before == CPU else 1 + before] -= g.kv_layer[il]
            t[0 if now == CPU else 1 + now] += g.kv_layer[il]
    if any(d == CPU for d in p.layer_device):
        t[0] += max(0, b.cpu.compute[0] - g.compute[0])
    if n_cpu_moe:
        t[0] += moe_compute
    return tuple(x + w[i] for i, x in enumerate(t))


def _one_gpu_totals(ws: WeightSummary, b: Bases, ngl: int, n_cpu_moe: int, moe_compute: int) -> tuple[int, int]:
    """:func:`gpu_totals` for one GPU with running sums: the last ``ngl`` layers on the GPU
    (the output layer first), the first ``n_cpu_moe`` layers' routed experts in RAM."""
    g = b.gpu
    n = ws.n_layer
    pd, pe = ws.prefix
    start = max(0, n + 1 - ngl) if ngl < n + 1 else 0  # first repeating layer on the GPU
    start = min(start, n)
    cut = min(max(n_cpu_moe, start), n)  # experts on the GPU: layers >= cut
    w_gpu = (pd[n] - pd[start]) + (pe[n] - pe[cut])
    w_host = ws.embd + pd[start] + pe[cut]
    if ngl >= 1:
        w_gpu += ws.output_bytes()
    else:
        w_host += ws.out
    host, gpu = g.totals[0], g.totals[1]
    if start:
        moved = g.kv_prefix[start]
        host += moved + max(0, b.cpu.compute[0] - g.compute[0])
        gpu -= moved
    if n_cpu_moe:
        host += moe_compute
    return (host + w_host, gpu + w_gpu)


def fits(totals: tuple[int, ...], budgets: tuple[int | None, ...], margin: int = 0) -> bool:
    """Every device within its budget (host: RAM budget; GPUs: free VRAM less ``margin``)."""
    for i, (t, b) in enumerate(zip(totals, budgets)):
        if b is None:
            continue
        if t > b - (margin if i else 0):
            return False
    return True


def max_ngl(ws: WeightSummary, b: Bases, budgets: tuple[int | None, ...], n_cpu_moe: int = 0,
            moe_compute: int = 0) -> int:
    """Largest ``-ngl`` below "all" whose GPUs fit (0 when not even the output layer fits)."""
    lo, hi, best = 1, ws.n_layer, 0
    while lo <= hi:  # monotone: more layers, more VRAM
        mid = (lo + hi) // 2
        t = gpu_totals(ws, b, mid, min(n_cpu_moe, ws.n_layer), moe_compute)
        if all(bb is None or tt <= bb for tt, bb in list(zip(t, budgets))[1:]):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best
