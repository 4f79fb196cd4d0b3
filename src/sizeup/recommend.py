"""What should I run on this machine? Ranked, explainable recommendations from the catalog.

For every catalog model sizeup tries the recommendable quantization types from best to worst
quality, and for each one asks the memory model where it would run at the target context:

1. entirely on the GPU(s) (``-ngl`` all layers) when it fits in free VRAM;
2. partially offloaded (the most layers that fit in VRAM, the rest in RAM) when VRAM is too small
   but VRAM + RAM is enough;
3. on the CPU alone when it fits in available RAM.

The first (highest-quality) type that fits - and meets ``min_speed`` when given - is the model's
recommendation. Models are then ranked by a score whose components are printed with ``--explain``:

* ``capability``: log2 of the parameter count in billions (for MoE the geometric mean of total and
  active parameters, a common rule for how MoE models compare with dense ones);
* ``quant``: minus the perplexity increase llama.cpp's authors measured for that type on
  Llama-3-8B (:mod:`sizeup.data.quant_quality`): Q4_K_M -0.18, Q3_K_M -0.66, Q2_K -3.52;
* ``speed``: 0 at or above a usable decode speed (``USABLE_TPS``), falling by ``SPEED_WEIGHT`` for
  every halving below it - a brilliant model at 2 tok/s is not what anyone wants for a coding
  assistant, so halving the speed costs as much as halving the parameter count twice;
* ``task``: +1 when the model is tagged for the requested task (coding, reasoning...);
* ``fit``: -0.5 when the fit is tight (over 90% of the memory budget) or needs partial offload;
* ``recency``: +0.25 per year since 2023, so newer models win ties with older ones of a size.

The weights are constants here, not learned: they are a transparent default, and ``--explain``
lets a user see and disagree with every part of a ranking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .data.quant_quality import RECOMMENDABLE, ppl_delta
from .estimate.config import RunConfig
from .estimate.memory import MemoryEstimate, estimate_memory, max_gpu_layers
from .estimate.placement import Device, devices_from_hardware
from .model import ModelDescription

USABLE_TPS = 15.0  # decode tok/s below which interactive use (chat, coding) gets frustrating
SPEED_WEIGHT = 2.0  # score lost per halving of decode speed below USABLE_TPS
TIGHT_FRACTION = 0.90  # share of a memory budget above which the fit is called tight
RAM_RESERVE = 1.0 * 2**30  # leave this much RAM for the OS and the user's other programs

FIT_GPU = "GPU"
FIT_PARTIAL = "GPU+CPU"
FIT_CPU = "CPU"
FIT_NONE = "does not fit"


@dataclass
class Choice:
    """One model at one quantization on this machine."""

    model: ModelDescription
    quant: str
    ctx: int
    where: str  # FIT_GPU | FIT_PARTIAL | FIT_CPU | FIT_NONE
    n_gpu_layers: int
    memory: MemoryEstimate | None
    needed: int  # bytes the run reserves in total (RAM + VRAM)
    available: int  # bytes of the budget it was checked against
    tight: bool
    decode_tps: float | None = None
    prefill_tps: float | None = None
    speed_calibrated: bool = False
    tensors: list | None = None  # the weight tensors at this quant (predicted or the file's own)
    miss_bytes: int = 0  # how much more memory it would need, when it does not fit
    score: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    @property
    def fits(self) -> bool:
        return self.where != FIT_NONE

    @property
    def fit_level(self) -> str:
        if not self.fits:
            return "no"
        if self.where == FIT_PARTIAL:
            return "partial"
        return "tight" if self.tight else "good"

    def to_dict(self) -> dict[str, Any]:
        extra = self.model.extra
        return {
            "id": extra.get("hf_id") or self.model.name,
            "name": self.model.name,
            "params": self.model.params.total if self.model.params else None,
            "active_params": self.model.params.active if self.model.params else None,
            "quant": self.quant,
            "ctx": self.ctx,
            "where": self.where,
            "n_gpu_layers": self.n_gpu_layers,
            "memory_needed": self.needed,
            "memory_available": self.available,
            "fit": self.fit_level,
            "decode_tps": self.decode_tps,
            "prefill_tps": self.prefill_tps,
            "speed_calibrated": self.speed_calibrated,
            "miss_bytes": self.miss_bytes,
            "score": round(self.score, 3),
            "components": {k: round(v, 3) for k, v in self.components.items()},
            "reason": self.reason,
            "license": self.model.license.id,
            "openness": self.model.license.openness,
            "tags": list(extra.get("tags", [])),
            "ollama": extra.get("ollama"),
        }


def _ram_budget(devices: list[Device]) -> int | None:
    free = devices[0].free
    return None if free is None else max(0, free - int(RAM_RESERVE))


def place(model: ModelDescription, quant: str, ctx: int, devices: list[Device], tensors, base: RunConfig) -> Choice:
    """Where ``model`` at ``quant`` and ``ctx`` runs on ``devices`` (CPU first, then GPUs)."""
    cfg = base.with_(n_ctx=ctx)
    ram = _ram_budget(devices)
    gpus = [d for d in devices[1:] if d.kind == "gpu" and (d.free or 0) > 0]
    unified = any(d.unified for d in gpus)
    host = Device("CPU", "cpu", ram, devices[0].total)
    if gpus and not unified:
        full = estimate_memory(model, cfg.with_(n_gpu_layers=-1), [host, *gpus], tensors=tensors)
        if full.fits:
            vram = sum(g.free or 0 for g in gpus)
            used = sum(d.total for d in full.gpus)
            return Choice(model, quant, ctx, FIT_GPU, model.arch.n_layer + 1, full, full.total, vram + (ram or 0),
                          tight=used > TIGHT_FRACTION * vram)
        ngl = max_gpu_layers(model, cfg, [g.free or 0 for g in gpus], host_free=ram, tensors=tensors)
        if ngl > 0:
            part = estimate_memory(model, cfg.with_(n_gpu_layers=ngl), [host, *gpus], tensors=tensors)
            if part.fits:
                return Choice(model, quant, ctx, FIT_PARTIAL, ngl, part, part.total,
                              sum(g.free or 0 for g in gpus) + (ram or 0), tight=True)
    # CPU only, or a unified-memory machine where the GPU draws on the same RAM pool
    ngl = -1 if unified else 0
    devs = [host, *gpus] if unified else [host]
    cpu = estimate_memory(model, cfg.with_(n_gpu_layers=ngl), devs, tensors=tensors)
    total = cpu.total
    where = FIT_GPU if unified else FIT_CPU
    if ram is None or total <= ram:
        return Choice(model, quant, ctx, where, ngl if unified else 0, cpu, total, ram or 0,
                      tight=ram is not None and total > TIGHT_FRACTION * ram)
    budget = ram + sum(g.free or 0 for g in gpus if not unified)
    return Choice(model, quant, ctx, FIT_NONE, 0, cpu, total, budget, tight=False, miss_bytes=total - budget)


def effective_params(model: ModelDescription) -> float:
    p = model.params
    if p is None or p.total <= 0:
        return 0.0
    if p.active and p.active < p.total:
        return math.sqrt(p.total * p.active)
    return float(p.total)


def score(choice: Choice, task: str | None) -> None:
    """Fill ``choice.score`` and its components (see the module docstring)."""
    m = choice.model
    comps: dict[str, float] = {}
    comps["capability"] = math.log2(max(effective_params(m), 1e7) / 1e9)
    comps["quant"] = -(ppl_delta(choice.quant) or 0.0)
    if choice.decode_tps is not None and choice.decode_tps > 0:
        comps["speed"] = SPEED_WEIGHT * min(0.0, math.log2(choice.decode_tps / USABLE_TPS))
    tags = set(m.extra.get("tags", []))
    comps["task"] = 1.0 if task and task in tags else 0.0
    comps["fit"] = -0.5 if choice.fit_level in ("tight", "partial") else 0.0
    year = str(m.extra.get("released", ""))[:4]
    comps["recency"] = 0.25 * (int(year) - 2023) if year.isdigit() else 0.0
    choice.components = comps
    choice.score = sum(comps.values())


def _reason(c: Choice) -> str:
    gib = c.needed / 2**30
    if not c.fits:
        return f"needs {gib:.1f} GiB at {c.quant}, {c.miss_bytes / 2**30:.1f} GiB more than is free"
    where = {FIT_GPU: "fully on the GPU", FIT_CPU: "on the CPU", FIT_PARTIAL: f"{c.n_gpu_layers} layers on the GPU, the rest on the CPU"}[c.where]
    better = RECOMMENDABLE.index(c.quant) if c.quant in RECOMMENDABLE else 0
    q = f"{c.quant} is the best quant that fits" if better else f"fits at {c.quant}"
    return f"{q}; {gib:.1f} GiB {where}"


# Fine-tunes share their base model's architecture (Qwen2.5-32B, its Coder, QwQ and the R1
# distill are one layout), so predicted tensor lists are memoized per (architecture, type).
_TENSOR_MEMO: dict[tuple, list] = {}


def _predicted(arch, quant: str) -> list:
    from .estimate.weights_predict import predict_tensors

    key = (arch, quant)
    if key not in _TENSOR_MEMO:
        _TENSOR_MEMO[key] = predict_tensors(arch, quant)
    return _TENSOR_MEMO[key]


def weights_lower_bound(model: ModelDescription, quant: str) -> int:
    """Bytes the weights need at least: every parameter at the quant's base type.

    llama.cpp's mixes only ever raise some tensors above the base type (Q4_K_M keeps attn_v and
    ffn_down partly at Q6_K, the output at Q6_K...), so this bound lets the recommender skip
    types that cannot fit without predicting their full tensor list.
    """
    from .data.ggml_types import FILE_TYPE_BASE, GGML_TYPES_BY_NAME

    if model.params is None:
        return 0
    base = GGML_TYPES_BY_NAME.get(FILE_TYPE_BASE.get(quant, quant))
    return int(model.params.total * base.bits_per_weight / 8 * 0.98) if base else 0


def best_choice(model: ModelDescription, ctx: int, devices: list[Device], *, quants=RECOMMENDABLE,
                min_speed: float | None = None, speed_fn=None, base: RunConfig | None = None) -> Choice:
    """The highest-quality quant of ``model`` that fits (and is fast enough), else the smallest miss."""
    base = base or RunConfig(n_ctx=ctx)
    budget = None
    if devices[0].free is not None:
        budget = (_ram_budget(devices) or 0) + sum(d.free or 0 for d in devices[1:] if not d.unified)
    last: Choice | None = None
    quants = list(quants)
    for i, q in enumerate(quants):
        if budget is not None and i < len(quants) - 1 and weights_lower_bound(model, q) > budget:
            continue  # cannot fit: not worth predicting (the last type is always evaluated)
        try:
            tensors = _predicted(model.arch, q) if not model.tensors else None
        except Exception:  # a type this architecture cannot take (row sizes): try the next
            continue
        c = place(model, q, ctx, devices, tensors, base)
        c.tensors = tensors if tensors is not None else model.tensors
        if speed_fn is not None and c.fits:
            speed_fn(c)
        last = c
        if c.fits and (min_speed is None or (c.decode_tps or 0) >= min_speed):
            c.reason = _reason(c)
            return c
    assert last is not None
    if last.fits and min_speed is not None:
        last.reason = f"fits at {last.quant} but decodes at ~{last.decode_tps or 0:.1f} tok/s, below --min-speed {min_speed:g}"
        last.where, last.miss_bytes = FIT_NONE, 0
    else:
        last.reason = _reason(last)
    return last


def recommend(models: list[ModelDescription], hardware, *, ctx: int = 8192, task: str | None = None,
              min_speed: float | None = None, speed_fn=None, base: RunConfig | None = None,
              progress=None) -> list[Choice]:
    """Every model's best choice on ``hardware``, fitting ones first, best score first."""
    devices = devices_from_hardware(hardware)
    out = []
    for i, m in enumerate(models):
        c = best_choice(m, ctx, devices, min_speed=min_speed, speed_fn=speed_fn, base=base)
        score(c, task)
        out.append(c)
        if progress:
            progress(i + 1, len(models))
    out.sort(key=lambda c: (not c.fits, -c.score if c.fits else c.miss_bytes))
    return out


def collapse_variants(choices: list[Choice]) -> list[tuple[Choice, list[Choice]]]:
    """Group rows that are the same model for sizing purposes (same parameter counts, quant,
    placement, memory and score - e.g. an instruct, a base and a distill sharing one layout) so a
    ranked list shows distinct options; the first of each group stands for the rest."""
    groups: dict[tuple, tuple[Choice, list[Choice]]] = {}
    order: list[tuple] = []
    for c in choices:
        p = c.model.params
        key = (p.total if p else None, p.active if p else None, c.quant, c.where, c.needed >> 20, round(c.score, 3))
        if key in groups:
            groups[key][1].append(c)
        else:
            groups[key] = (c, [])
            order.append(key)
    return [groups[k] for k in order]
